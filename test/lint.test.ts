/**
 * The lint gate (`npm run lint`, run first by `npm test` and so by CI):
 * oxlint with type-aware rules (.oxlintrc.json; the type information comes
 * from oxlint-tsgolint, built on the native TypeScript 7 compiler that also
 * builds this project). Checked here on a scratch project with the same
 * config: a floating promise and a promise-returning listener fail it, and
 * the fixed versions pass, so the gate can fail.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/paths.js';

const ROOT = packageRoot();
const OXLINT = join(ROOT, 'node_modules/.bin/oxlint');

function lint(code: string): { status: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mp-lint-'));
  try {
    copyFileSync(join(ROOT, '.oxlintrc.json'), join(dir, '.oxlintrc.json'));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, lib: ['es2022'], types: [] },
        include: ['*.ts'],
      }),
    );
    writeFileSync(join(dir, 'a.ts'), code);
    const r = spawnSync(OXLINT, ['--type-aware', '-c', join(dir, '.oxlintrc.json'), '-f', 'unix', 'a.ts'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? ''}` },
    });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('lint: oxlint with type-aware rules', function () {
  this.timeout(60_000);

  it('a floating promise and an async listener where void is expected fail the gate', () => {
    const r = lint(`async function send(): Promise<void> { throw new Error('x'); }
export function a(): void { send(); }
export function b(on: (f: () => void) => void): void { on(async () => { await send(); }); }
`);
    expect(r.status, r.out).to.equal(1);
    expect(r.out).to.match(/a\.ts:2:\d+: .*typescript\(no-floating-promises\)/);
    expect(r.out).to.match(/a\.ts:3:\d+: .*typescript\(no-misused-promises\)/);
  });

  it('the same code with the rejection handled passes', () => {
    const r = lint(`async function send(): Promise<void> { throw new Error('x'); }
export function a(log: (e: unknown) => void): void { send().catch(log); }
export function b(on: (f: () => void) => void, log: (e: unknown) => void): void { on(() => { send().catch(log); }); }
`);
    expect(r.status, r.out).to.equal(0);
  });
});
