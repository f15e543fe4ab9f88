/**
 * `metricport schema` as a user runs it: the JSON Schema on stdout (whole,
 * through a pipe), `--path` naming the shipped copy, usage errors.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../harness/peers.js';
import { waitFor } from '../harness/ports.js';
import { BIN, ROOT } from './metricport.js';

const cli = (...args: string[]) => runCommand(process.execPath, [BIN, ...args], { timeoutMs: 20_000 });

describe('e2e: metricport schema', () => {
  it('prints the JSON Schema, byte for byte the shipped docs/metricport.schema.json (more than a pipe buffer: nothing cut off at exit)', async () => {
    const r = await cli('schema');
    expect(r.code, r.stderr).to.equal(0);
    const shipped = readFileSync(join(ROOT, 'docs/metricport.schema.json'), 'utf8');
    expect(shipped.length).to.be.greaterThan(65_536);
    expect(r.stdout.length).to.equal(shipped.length);
    expect(r.stdout).to.equal(shipped);
    expect(JSON.parse(r.stdout).$schema).to.equal('https://json-schema.org/draft/2020-12/schema');
  });

  it('--path names the copy the package ships', async () => {
    const r = await cli('schema', '--path');
    expect(r.code).to.equal(0);
    expect(r.stdout).to.equal(`${join(ROOT, 'docs/metricport.schema.json')}\n`);
  });

  it('an unknown argument is a usage error (exit 2); --help and the main help list the verb', async () => {
    const r = await cli('schema', '--yaml');
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain('unknown argument "--yaml"');
    expect((await cli('schema', '--help')).stdout).to.contain('# yaml-language-server: $schema=');
    const help = (await cli('--help')).stdout;
    expect(help).to.contain('metricport schema');
    expect(help).to.contain('metricport init');
  });

  it('output larger than a pipe buffer arrives whole through a pipe whose reader is slow (components --json, schema)', async function () {
    this.timeout(30_000);
    const dir = mkdtempSync(join(tmpdir(), 'mp-pipe-'));
    try {
      for (const args of [['components', '--json'], ['schema']]) {
        // a real pipe (a FIFO in a temp dir; node's own stdio "pipes" are socket pairs with larger buffers)
        const fifo = join(dir, `out-${args[0]}`);
        expect((await runCommand('mkfifo', [fifo])).code).to.equal(0);
        const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
        const wfd = openSync(fifo, 'w');
        const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', wfd, 'pipe'] });
        closeSync(wfd);
        let exited = false;
        const done = new Promise<number | null>((res) =>
          child.once('exit', (code) => {
            exited = true;
            res(code);
          }),
        );
        // nothing reads until the CLI has exited, or has waited 3 s for a reader: exiting with output still
        // queued (the defect) shows as a text cut off at the pipe's 64 KiB; waiting for the reader is right
        try {
          await waitFor(() => exited, { timeoutMs: 3000, what: 'the CLI to exit without a reader' });
        } catch {
          /* it waits: read now */
        }
        const chunks: Buffer[] = [];
        const buf = Buffer.alloc(65_536);
        await waitFor(
          () => {
            for (;;) {
              let n: number;
              try {
                n = readSync(rfd, buf);
              } catch (e) {
                if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return false;
                throw e;
              }
              if (n === 0) return true; // end: the writer is gone
              chunks.push(Buffer.from(buf.subarray(0, n)));
            }
          },
          { timeoutMs: 15_000, intervalMs: 20, what: `${args.join(' ')} output to end` },
        );
        closeSync(rfd);
        expect(await done, args.join(' ')).to.equal(0);
        const text = Buffer.concat(chunks).toString('utf8');
        expect(text.length, `${args.join(' ')}: bytes received`).to.be.greaterThan(65_536);
        expect(() => JSON.parse(text), args.join(' ')).to.not.throw();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
