/** circonus mode push: body as data (types, stream tags, rebinned histograms); an HTTPS test double with a private CA (ca_file) checking method, headers, body, {"stats":N} and retries; mode pull: see circonus-pull.test.ts. */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { circonusBin, encodeTrap, formatBin, metricKey, rebin } from '../../../exporters/circonus/encode.js';
import { circonusConfigSchema, circonusExporterFactory, validateCirconus, type CirconusConfig } from '../../../exporters/circonus/factory.js';
import { createCirconusPush } from '../../../exporters/circonus/push.js';
import { validateSchema } from '../../../src/config/schema.js';
import { host, never, settings } from '../../exporterhelper/fakes.js';
import { HttpDouble } from '../../storehelper/double.js';
import { S, batch, gauge, hist, histogram, num, pointsOf, storeCfg, sum } from '../../storehelper/util.js';

const T0 = 1_700_000_000;
const SECRET = 'trapsecret0123';
export function circonusCfg(url: string, over: Partial<CirconusConfig> = {}): CirconusConfig {
  return {
    ...storeCfg(),
    mode: 'push',
    submission_url: url,
    ca_file: '',
    endpoint: '127.0.0.1:0',
    token: '',
    username: '',
    password: '',
    resource_attributes: [],
    checkpoint_interval: 0,
    ...over,
  };
}

describe('circonus push: body (protocols.md §6)', () => {
  it('types: n for gauges, L (string) for counts, h with H[bin]=count; stream tags; _ts in ms', () => {
    const pts = pointsOf(
      batch([
        sum('requests', [num(BigInt(T0) * S, 123853n)]),
        gauge('cpu', [num(BigInt(T0) * S, 0.64, { env: 'prod', app: 'web' })]),
        histogram('latency', [hist(BigInt(T0) * S, [0.2, 20], [3, 7, 0], 80)]),
      ]),
    );
    for (const p of pts) (p.meta as { resource: object }).resource = {};
    const e = encodeTrap(pts);
    expect(JSON.stringify(e.body)).to.equal(
      '{"requests":{"_type":"L","_value":"123853","_ts":1700000010000},"cpu|ST[app:web,env:prod]":{"_type":"n","_value":0.64,"_ts":1700000010000},"latency":{"_type":"h","_value":["H[0.20]=3","H[10]=7"],"_ts":1700000010000}}',
    );
    expect(e.keys).to.equal(3);
  });
  it('Circonus bins: two significant digits, lower edge', () => {
    expect([0.1, 0.64, 11.7, 123, 999, 1000, -3.14, 0].map(circonusBin)).to.deep.equal([0.1, 0.64, 11, 120, 990, 1000, -3.1, 0]);
    expect([0.1, 11, 120, 1000].map(formatBin)).to.deep.equal(['0.10', '11', '1.2e2', '1.0e3']);
    expect(rebin([1, 2], [1, 2, 3], 0.5, 7)).to.deep.equal(['H[1.0]=1', 'H[1.5]=2', 'H[2.0]=3']);
  });
  it('stream tag characters outside the Circonus set become b"<base64>"', () => {
    expect(metricKey('m', {}, { 'error.type': 'Type Error', ok: 'a/b' })).to.equal(
      'm|ST[b"ZXJyb3IudHlwZQ==":b"VHlwZSBFcnJvcg==",ok:a/b]'.replace('b"ZXJyb3IudHlwZQ=="', 'error.type'),
    );
  });
  it('mode pull: valid without a submission URL; a submission URL with mode pull is a config error', () => {
    const v = validateSchema(circonusConfigSchema, { mode: 'pull' }, '');
    expect(v.issues).to.deep.equal([]);
    expect(validateCirconus(v.value as unknown as CirconusConfig)).to.deep.equal([]);
    const w = validateSchema(circonusConfigSchema, { mode: 'pull', submission_url: 'https://b:43191/module/httptrap/u/s' }, '');
    expect(validateCirconus(w.value as unknown as CirconusConfig).map((i) => i.path)).to.deep.equal(['submission_url']);
    expect(circonusExporterFactory.type).to.equal('circonus');
  });
});

describe('circonus push → HTTPS test double with a private CA', function () {
  this.timeout(30_000);
  let d: HttpDouble;
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'circonus-ca-'));
    const o = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    o(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Test Circonus CA']);
    o(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'broker.key', '-out', 'broker.csr', '-subj', '/CN=127.0.0.1']);
    require_ext(dir);
    o(['x509', '-req', '-in', 'broker.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'broker.pem', '-days', '2', '-extfile', 'ext.cnf']);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(async () => {
    d = new HttpDouble({ key: readFileSync(join(dir, 'broker.key')), cert: readFileSync(join(dir, 'broker.pem')) });
    d.fallback = { status: 200, body: '{"stats":2}' };
    await d.start();
  });
  afterEach(async () => {
    await d.stop();
  });

  async function run(script: typeof d.script, caFile: string, deadline: AbortSignal = never()) {
    d.script = script;
    const set = settings('circonus');
    const clock = { ms: (T0 + 5) * 1000 };
    const url = `${d.url}/module/httptrap/0f5f0a4e-1111-2222-3333-444455556666/${SECRET}`;
    const ex = createCirconusPush(
      set,
      circonusCfg(url, {
        ca_file: caFile,
        period: 10_000,
        retry_on_failure: { enabled: true, initial_interval: 10, max_interval: 20, max_elapsed_time: 3000, multiplier: 1, randomization_factor: 0 },
      }),
      { now: () => clock.ms, random: () => 0.5 },
    );
    await ex.start(host(set));
    await ex.consume(batch([sum('requests', [num(BigInt(T0 + 1) * S, 5n)]), gauge('cpu', [num(BigInt(T0 + 1) * S, 0.5, { env: 'prod' })])]));
    clock.ms = (T0 + 12) * 1000;
    await ex.shutdown(deadline);
    return { ex, set };
  }

  it('PUT JSON to the submission URL over TLS verified with ca_file; {"stats":2} matches', async () => {
    const { ex, set } = await run([], join(dir, 'ca.pem'));
    expect(d.requests).to.have.length(1);
    const r = d.requests[0]!;
    expect([r.method, r.url]).to.deep.equal(['PUT', `/module/httptrap/0f5f0a4e-1111-2222-3333-444455556666/${SECRET}`]);
    expect(r.headers['content-type']).to.equal('application/json');
    expect(r.body.toString()).to.equal(
      '{"requests":{"_type":"L","_value":"5","_ts":1700000010000},"cpu|ST[env:prod]":{"_type":"n","_value":0.5,"_ts":1700000010000}}',
    );
    expect(ex.status()).to.deep.include({ points_sent: 2, points_dropped: 0, stats_short: 0 });
    expect(JSON.stringify(ex.status()) + set.logger.text()).not.to.contain(SECRET);
  });
  it('{"stats":1} for 2 metrics counts 1 dropped; 500 and a dropped connection retried; 406 permanent', async () => {
    const a = await run([{ status: 500, body: '{error: "x"}' }, 'drop', { status: 200, body: '{"stats":1}' }], join(dir, 'ca.pem'));
    expect(d.requests).to.have.length(3);
    expect(a.ex.status()).to.deep.include({ points_sent: 1, points_dropped: 1, stats_short: 1 });
    d.requests.length = 0;
    const b = await run([{ status: 406 }], join(dir, 'ca.pem'));
    expect(d.requests).to.have.length(1);
    expect(b.ex.status()).to.deep.include({ points_sent: 0, points_dropped: 2 });
  });
  it('without the CA the broker certificate is refused (retried, then dropped), and the secret stays out of errors', async () => {
    const { ex, set } = await run([], '', AbortSignal.timeout(1500));
    expect(d.requests).to.have.length(0);
    const st = ex.status();
    expect(st.points_sent).to.equal(0);
    expect(String(st.last_error)).to.match(/cannot send to 127\.0\.0\.1:\d+/);
    expect((st.dropped as Record<string, number>).shutdown).to.equal(2);
    expect(JSON.stringify(st) + set.logger.text()).not.to.contain(SECRET);
  });
});

function require_ext(dir: string): void {
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > ext.cnf'], { cwd: dir });
}
