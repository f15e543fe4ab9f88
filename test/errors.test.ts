/**
 * The coded error catalogue (src/errors.ts) and the code that raises errors
 * agree: every `'MP_…'` code written anywhere in the service's source is in
 * the catalogue (the type system also refuses an unknown code to
 * MetricportError), and every catalogue code is raised somewhere, so the
 * generated docs/reference/errors.md never lists a dead code. Before this
 * test, MP_RELOAD_FAILED, MP_LEASE_LOST and MP_FORGE_PULL were raised but not
 * in the catalogue, and MP_CONFIG_READ was listed but never raised.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, ErrorCodes, MetricportError } from '../src/errors.js';
import { loadConfigFile } from '../src/config/service-config.js';
import { registry } from '../src/registry.js';
import { packageRoot } from '../src/paths.js';

const ROOT = packageRoot();

function codesInSource(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const top of ['src', 'receivers', 'processors', 'exporters']) {
    for (const f of readdirSync(join(ROOT, top), { recursive: true }) as string[]) {
      if (!f.endsWith('.ts')) continue;
      const text = readFileSync(join(ROOT, top, f), 'utf8');
      for (const m of text.matchAll(/['"`](MP_[A-Z0-9_]+)['"`]/g)) {
        const where = `${top}/${f}`;
        const list = found.get(m[1]!) ?? [];
        if (!list.includes(where)) list.push(where);
        found.set(m[1]!, list);
      }
    }
  }
  return found;
}

describe('the coded error catalogue (src/errors.ts)', () => {
  it('every code written in the source is in the catalogue, and every catalogue code is raised somewhere', () => {
    const found = codesInSource();
    const catalogue = Object.keys(ErrorCodes);
    const unknown = [...found.keys()].filter((c) => !catalogue.includes(c)).map((c) => `${c} (${found.get(c)!.join(', ')})`);
    expect(unknown, 'raised but not in the catalogue').to.deep.equal([]);
    const dead = catalogue.filter((c) => !found.has(c));
    expect(dead, 'in the catalogue but raised nowhere').to.deep.equal([]);
    expect(catalogue.length).to.be.at.least(11);
  });

  it('every catalogue entry says what it means in a sentence', () => {
    for (const [code, what] of Object.entries(ErrorCodes)) {
      expect(code).to.match(/^MP_[A-Z0-9_]+$/);
      expect(what.length, code).to.be.above(20);
    }
  });

  it('an unreadable config file is MP_CONFIG_READ with the path and what to do; a wrong one MP_CONFIG_INVALID', () => {
    const missing = join(ROOT, 'test/fixtures/no-such-config.yaml');
    let err: unknown;
    try {
      loadConfigFile(missing, registry);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as MetricportError).code).to.equal('MP_CONFIG_READ');
    expect((err as Error).message).to.match(/cannot read the config file \(ENOENT\); pass an existing file with --config/);
    const bad = new ConfigError([{ path: 'receivers.otlp.x', message: 'unknown key', severity: 'error' }]);
    expect(bad.code).to.equal('MP_CONFIG_INVALID');
  });
});
