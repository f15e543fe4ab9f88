/**
 * The lazy registry, observed from outside: a loader hook records every
 * module a child process resolves. A component's implementation (what its
 * factory's load() imports, dependencies such as pg and lmdb included) is
 * loaded only by `run` with a config that uses the type; `--help`,
 * `components` and `validate` load none.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort, waitFor } from '../harness/ports.js';
import { registry } from '../../src/registry.js';
import { BIN, ROOT } from './metricport.js';

const CHILD = join(ROOT, 'dist/test/e2e/lazy-child.js');

describe('e2e: the lazy registry (modules a process loads)', function () {
  this.timeout(120_000);
  let dir: string;
  let register: string;
  /** modules only the implementation of each type brings, over the registry itself */
  const impl = new Map<string, Set<string>>();

  /** Run node with the recording hook; resolves with the modules it loaded (file URLs under the package, and package names). */
  const loaded = (args: string[], opts: { env?: Record<string, string>; until?: () => Promise<boolean> } = {}): Promise<Set<string>> => {
    const log = join(dir, `modules-${Math.random().toString(36).slice(2)}.txt`);
    writeFileSync(log, '');
    return new Promise((resolve, reject) => {
      const p = spawn(process.execPath, ['--import', register, ...args], {
        env: { ...process.env, ...opts.env, MP_MODULE_LOG: log },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      p.stderr.on('data', (d) => {
        err += d;
      });
      p.stdout.resume();
      p.once('exit', (code, signal) => {
        if (code !== 0 && signal !== 'SIGTERM') {
          reject(new Error(`${args.join(' ')} exited ${code}: ${err}`));
          return;
        }
        resolve(
          new Set(
            readFileSync(log, 'utf8')
              .split('\n')
              .filter((l) => l !== '')
              .map(name),
          ),
        );
      });
      if (opts.until !== undefined) {
        waitFor(opts.until, { timeoutMs: 30_000, what: 'healthy' }).then(
          () => p.kill('SIGTERM'),
          (e: unknown) => {
            p.kill('SIGKILL');
            reject(e as Error);
          },
        );
      }
    });
  };
  /** `dist/exporters/file/writer.js`, or the package name for node_modules */
  const name = (url: string): string => {
    const nm = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (nm !== null) return `npm:${nm[1]}`;
    return url.startsWith(pathToFileURL(ROOT).href) ? url.slice(pathToFileURL(ROOT).href.length + 1) : url;
  };
  /** modules of a component's implementation a process loaded: in a component folder or a package, and brought by some load() */
  const implementationOnly = (mods: Set<string>): string[] =>
    [...mods].filter((m) => /^(dist\/(receivers|processors|exporters)\/|npm:)/.test(m) && [...impl.values()].some((s) => s.has(m)));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mp-lazy-'));
    const hooks = join(dir, 'hooks.mjs');
    writeFileSync(
      hooks,
      `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) { appendFileSync(process.env.MP_MODULE_LOG, url + '\\n'); return next(url, context); }
`,
    );
    register = join(dir, 'register.mjs');
    writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
    const base = await loaded([CHILD]);
    const all = [...registry.receivers.values(), ...registry.processors.values(), ...registry.exporters.values()];
    for (const f of all) {
      const mods = await loaded([CHILD, f.kind, f.type]);
      impl.set(`${f.kind} ${f.type}`, new Set([...mods].filter((m) => !base.has(m))));
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("every factory's load() brings modules of its own (its implementation is not in the registry's import graph); pg and lmdb not even then", () => {
    for (const [t, mods] of impl)
      expect(
        [...mods].filter((m) => m.startsWith('dist/')),
        t,
      ).to.not.deep.equal([]);
    expect([...impl.get('exporter influxdb')!]).to.include('dist/src/storehelper/store.js');
    // heavy dependencies wait even longer: pg for an importer's first query, lmdb for a disk queue's open
    for (const [t, mods] of impl) for (const dep of ['npm:pg', 'npm:lmdb']) expect(mods.has(dep), `${t}: ${dep}`).to.equal(false);
  });

  it('--help, components and validate (every example config) load no implementation', async () => {
    expect(implementationOnly(await loaded([BIN, '--help']))).to.deep.equal([]);
    expect(implementationOnly(await loaded([BIN, 'components']))).to.deep.equal([]);
    const examples = readdirSync(join(ROOT, 'config/examples')).filter((f) => f.endsWith('.yaml'));
    for (const f of examples) expect(implementationOnly(await loaded([BIN, 'validate', '--config', join(ROOT, 'config/examples', f)])), f).to.deep.equal([]);
  });

  it('run with the default config loads the implementations of otlp, batch, debug and prometheus only', async () => {
    const admin = await freePort();
    const used = ['receiver otlp', 'processor batch', 'exporter debug', 'exporter prometheus'];
    const mods = await loaded([BIN, 'run', '--admin-endpoint', `127.0.0.1:${admin}`, '--state-dir', join(dir, 'state'), '--log-level', 'warn'], {
      env: { METRICPORT_OTLP_ENDPOINT: `127.0.0.1:${await freePort()}`, METRICPORT_PROMETHEUS_ENDPOINT: '127.0.0.1:0' },
      until: async () => (await fetch(`http://127.0.0.1:${admin}/healthz`).catch(() => undefined))?.ok === true,
    });
    const allowed = new Set(used.flatMap((t) => [...impl.get(t)!]));
    expect(implementationOnly(mods).filter((m) => !allowed.has(m))).to.deep.equal([]);
    for (const t of used)
      expect(
        [...impl.get(t)!].filter((m) => !mods.has(m)),
        `${t} not loaded`,
      ).to.deep.equal([]);
    for (const dep of ['npm:pg', 'npm:lmdb', 'npm:express', 'npm:@opentelemetry/sdk-metrics']) expect(mods.has(dep), dep).to.equal(false);
    // the console: only its route list, nothing of its pages or config writer until a request
    expect(mods.has('dist/src/console/extension.js')).to.equal(true);
    for (const m of [
      'dist/src/console/pages.js',
      'dist/src/console/export.js',
      'dist/processors/metricsets/explore.js',
      'dist/processors/metricsets/history.js',
    ])
      expect(mods.has(m), m).to.equal(false);
  });
});
