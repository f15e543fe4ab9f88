/**
 * `metricport init` as a user runs it: through a pseudo-terminal (a private
 * tmux server: keys typed, the screen read back) and with flags for scripts.
 * The configs it writes validate (the loader, `metricport validate`, and the
 * JSON Schema with ajv) and run: the service starts, is healthy, and a point
 * posted to the OTLP receiver it configured arrives in a real InfluxDB.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { runCommand, startInfluxDB, usePeer, type InfluxDBPeer } from '../harness/peers.js';
import { freePorts, waitFor } from '../harness/ports.js';
import { describeErrors, validateYamlText } from '../helpers/jsonschema.js';
import { BIN, ROOT, startMetricport, type Started } from './metricport.js';
import { initCommand } from '../../src/commands/init.js';
import { checkConfig } from '../../src/config/service-config.js';
import { registry } from '../../src/registry.js';

const cli = (args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
  runCommand(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, timeoutMs: 20_000 });

/** A private tmux server with one session running `cmd`: type keys, read the screen. */
class Terminal {
  private readonly sock: string;
  private exitFile: string;
  constructor(private dir: string) {
    this.sock = join(dir, 'tmux.sock');
    this.exitFile = join(dir, 'exit-code');
  }
  private tmux(...args: string[]) {
    return runCommand('tmux', ['-S', this.sock, ...args], { timeoutMs: 10_000 });
  }
  async start(cmd: string[], cwd: string): Promise<void> {
    const quoted = cmd.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    // the exit code goes to a file: the session (and its pane) ends with the command
    const r = await this.tmux(
      '-f',
      Terminal.config(this.dir),
      'new-session',
      '-d',
      '-s',
      'init',
      '-x',
      '200',
      '-y',
      '60',
      '-c',
      cwd,
      `${quoted}; echo $? > '${this.exitFile}'`,
    );
    expect(r.code, r.stderr).to.equal(0);
  }
  async screen(): Promise<string> {
    const r = await this.tmux('capture-pane', '-p', '-J', '-t', 'init', '-S', '-500');
    return r.code === 0 ? r.stdout : '';
  }
  /** wait until `re` matches the screen `times` times (a prompt asked again shows twice) */
  async waitFor(re: RegExp, times = 1): Promise<string> {
    let s = '';
    await waitFor(
      async () => {
        s = await this.screen();
        return (s.match(new RegExp(re.source, 'g')) ?? []).length >= times;
      },
      { timeoutMs: 15_000, what: `${re} on the terminal; screen:\n${s}` },
    );
    return s;
  }
  async type(text: string): Promise<void> {
    if (text !== '') expect((await this.tmux('send-keys', '-t', 'init', '-l', text)).code).to.equal(0);
    expect((await this.tmux('send-keys', '-t', 'init', 'Enter')).code).to.equal(0);
  }
  async key(name: string): Promise<void> {
    expect((await this.tmux('send-keys', '-t', 'init', name)).code).to.equal(0);
  }
  async exitCode(): Promise<number> {
    await waitFor(() => existsSync(this.exitFile) && readFileSync(this.exitFile, 'utf8').trim() !== '', { timeoutMs: 15_000, what: 'metricport init to exit' });
    return Number(readFileSync(this.exitFile, 'utf8').trim());
  }
  async stop(): Promise<void> {
    await this.tmux('kill-server'); // our own server on our own socket
  }
  /** a config for our server: keep the pane (and its last screen) when the command ends */
  static config(dir: string): string {
    const f = join(dir, 'tmux.conf');
    writeFileSync(f, 'set -g remain-on-exit on\nset -g history-limit 5000\n');
    return f;
  }
}

const otlpPost = async (url: string, name: string, value: number) => {
  const now = BigInt(Date.now()) * 1_000_000n;
  const body = JSON.stringify({
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'shop' } }] },
        scopeMetrics: [{ metrics: [{ name, gauge: { dataPoints: [{ asDouble: value, timeUnixNano: String(now) }] } }] }],
      },
    ],
  });
  const r = await fetch(`${url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  expect(r.status, await r.text()).to.equal(200);
};

/** The config validates three ways: the loader (`metricport validate`), and the JSON Schema with ajv. */
async function expectValid(file: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const text = readFileSync(file, 'utf8');
  expect(text.split('\n')[0]).to.equal(`# yaml-language-server: $schema=${join(ROOT, 'docs/metricport.schema.json')}`);
  const r = validateYamlText(text);
  expect(r.ok, describeErrors(r.errors)).to.equal(true);
  const v = await cli(['validate', '--config', file], { env });
  expect(v.code, v.stderr).to.equal(0);
  expect(v.stdout).to.equal(`${file}: valid\n`);
  return text;
}

describe('e2e: metricport init', function () {
  this.timeout(120_000);
  let influx: InfluxDBPeer | undefined;
  let dir: string;
  let mp: Started | undefined;
  let term: Terminal | undefined;

  before(async function () {
    await usePeer(this, 'influxdb');
    influx = await startInfluxDB();
    await influx.createDatabase('mp');
  });
  after(async () => {
    await influx?.stop();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mp-init-'));
  });
  afterEach(async () => {
    await mp?.stop();
    mp = undefined;
    await term?.stop();
    term = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('through a terminal: asks what comes in, which stores, their settings (again when a value is wrong), writes a config that validates and runs', async () => {
    const [otlp, statsd] = await freePorts(2);
    term = new Terminal(dir);
    await term.start([process.execPath, BIN, 'init', '--output', 'metricport.yaml'], dir);
    await term.waitFor(/What comes in\?/);
    await term.type('otlp, statsd');
    await term.waitFor(/Which stores go out\?/);
    await term.type('influxd'); // a typo: asked again, with a hint
    await term.waitFor(/unknown exporter "influxd"; did you mean "influxdb"\?/);
    await term.waitFor(/Which stores go out\?/, 2);
    await term.type('influxdb');
    await term.waitFor(/protocols\.http\.endpoint \(listens on\) \[127\.0\.0\.1:4318\]: /);
    await term.type(`127.0.0.1:${otlp}`);
    await term.waitFor(/udp\.endpoint \(listens on\) \[127\.0\.0\.1:8125\]: /);
    await term.type(`127.0.0.1:${statsd}`);
    await term.waitFor(/ endpoint \(base URL of the server/);
    await term.type('ftp://influx:8086'); // wrong scheme: the loader's message, asked again
    await term.waitFor(/expected an http:\/\/ or https:\/\/ URL, got scheme "ftp:"/);
    await term.type(influx!.url);
    // what only the config check knows: influxdb v1 needs db
    await term.waitFor(/exporters\.influxdb\.db: is required with api_version v1/);
    await term.type('mp');
    const screen = await term.waitFor(/metricport run --config metricport\.yaml/);
    expect(screen).to.contain('metricport validate --config metricport.yaml');
    expect(await term.exitCode()).to.equal(0);

    const file = join(dir, 'metricport.yaml');
    const text = await expectValid(file);
    expect(text).to.match(/^\s+# api_version: v1$/m); // options left at their default, commented
    expect(text).to.contain(`endpoint: 127.0.0.1:${otlp}`);
    expect(text).to.contain(`endpoint: ${influx!.url}`);
    expect(text).to.match(/metrics:\n\s+receivers: \[otlp, statsd\]\n\s+processors: \[batch\]\n\s+exporters: \[influxdb\]/);

    // it runs: healthy, and a point sent to the receiver it configured arrives in InfluxDB (a 1 s period for the test, and
    // lateness above the batch processor's 200 ms, or a point near a period's end would arrive after its period closed)
    mp = await startMetricport(text.replace(/^(\s+)db: mp$/m, '$1db: mp\n$1period: 1s\n$1lateness: 2s'));
    expect((await fetch(`${mp.adminUrl}/healthz`)).status).to.equal(200);
    await otlpPost(`http://127.0.0.1:${otlp}`, 'init_tty', 4.5);
    let vals: unknown[] = [];
    await waitFor(
      async () => {
        vals = ((await influx!.query('mp', 'SELECT "value" FROM "init_tty"'))[0]?.series?.[0]?.values ?? []).map((v) => v[1]);
        return vals.length > 0;
      },
      { timeoutMs: 15_000, what: 'init_tty in InfluxDB' },
    );
    expect(vals).to.deep.equal([4.5]);
  });

  it('through a terminal: Ctrl-C stops it (exit 130) and nothing is written', async () => {
    term = new Terminal(dir);
    await term.start([process.execPath, BIN, 'init'], dir);
    await term.waitFor(/What comes in\?/);
    await term.type('otlp');
    await term.waitFor(/Which stores go out\?/);
    await term.key('C-c');
    await term.waitFor(/metricport init: stopped; nothing written/);
    expect(await term.exitCode()).to.equal(130);
    expect(existsSync(join(dir, 'metricport.yaml'))).to.equal(false);
  });

  it('with flags (--non-interactive): the config validates and runs; nothing is asked', async () => {
    const [otlp, statsd, prom] = await freePorts(3);
    const r = await cli(
      [
        'init',
        '--non-interactive',
        '--receivers',
        'otlp,statsd',
        '--exporters',
        'influxdb,prometheus',
        '--set',
        `receivers.otlp.protocols.http.endpoint=127.0.0.1:${otlp}`,
        '--set',
        `receivers.statsd.udp.endpoint=127.0.0.1:${statsd}`,
        '--set',
        `exporters.influxdb.endpoint=${influx!.url}`,
        '--set',
        'exporters.influxdb.db=mp',
        '--set',
        'exporters.influxdb.period=1s',
        '--set',
        'exporters.influxdb.lateness=2s',
        `--set=exporters.prometheus.endpoint=127.0.0.1:${prom}`,
        '-o',
        'out.yaml',
      ],
      { cwd: dir },
    );
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('Wrote out.yaml (otlp, statsd in; influxdb, prometheus out).');
    expect(r.stdout).to.contain('Next:\n  metricport validate --config out.yaml\n  metricport run --config out.yaml\n');
    const text = await expectValid(join(dir, 'out.yaml'));
    expect(text).to.match(/^\s+period: 1s$/m);
    mp = await startMetricport(text);
    await otlpPost(`http://127.0.0.1:${otlp}`, 'init_flags', 7);
    await waitFor(async () => ((await influx!.query('mp', 'SELECT "value" FROM "init_flags"'))[0]?.series?.[0]?.values ?? []).length > 0, {
      timeoutMs: 15_000,
      what: 'init_flags in InfluxDB',
    });
    // and the Prometheus store it configured listens where it was told
    const st = (await (await fetch(`${mp.adminUrl}/api/v1/stores`)).json()) as { stores: Array<{ name: string; target: string }> };
    expect(st.stores.find((s) => s.name === 'prometheus')?.target).to.equal(`127.0.0.1:${prom}`);
  });

  it('error events in: a metric set turns them into counts for the stores; the secret is an env reference, not in the file', async () => {
    const [port, prom] = await freePorts(2);
    const r = await cli(
      [
        'init',
        '--non-interactive',
        '--receivers',
        'sentry',
        '--exporters',
        'prometheus',
        '--set',
        `receivers.sentry.endpoint=127.0.0.1:${port}`,
        '--set',
        'receivers.sentry.keys[0].application=shop',
        '--set',
        `exporters.prometheus.endpoint=127.0.0.1:${prom}`,
        '-o',
        'events.yaml',
      ],
      { cwd: dir },
    );
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('It reads SENTRY_KEY from the environment');
    const file = join(dir, 'events.yaml');
    const key = 'SECRET-sentry-key-8f2a61';
    const text = await expectValid(file, { SENTRY_KEY: key });
    expect(text).to.contain('key: "${env:SENTRY_KEY}"');
    expect(text).to.match(/events:\n\s+receivers: \[sentry\]\n\s+processors: \[metricsets\]\n\s+exporters: \[prometheus\]/);
    mp = await startMetricport(text, { env: { SENTRY_KEY: key } });
    expect((await fetch(`${mp.adminUrl}/healthz`)).status).to.equal(200);
  });

  it('--non-interactive names the --set flags for what is missing, and writes nothing', async () => {
    const r = await cli(['init', '--non-interactive', '--receivers', 'otlp', '--exporters', 'influxdb'], { cwd: dir });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain('exporters.influxdb.endpoint: base URL of the server');
    expect(r.stderr).to.contain('--set exporters.influxdb.endpoint=VALUE');
    // the rule the config check knows (db with api_version v1)
    const r2 = await cli(
      ['init', '--non-interactive', '--receivers', 'otlp', '--exporters', 'influxdb', '--set', 'exporters.influxdb.endpoint=http://127.0.0.1:8086'],
      { cwd: dir },
    );
    expect(r2.code).to.equal(1);
    expect(r2.stderr).to.contain('exporters.influxdb.db: is required with api_version v1');
    expect(r2.stderr).to.contain('add: --set exporters.influxdb.db=VALUE');
    expect(existsSync(join(dir, 'metricport.yaml'))).to.equal(false);
  });

  it("usage errors: unknown types and options with a hint, a bad value with the loader's message, no terminal, an existing file", async () => {
    const base = ['init', '--non-interactive', '--receivers', 'otlp'];
    let r = await cli([...base, '--exporters', 'influx'], { cwd: dir });
    expect([r.code, r.stderr]).to.deep.equal([
      2,
      'metricport init: --exporters: unknown exporter "influx"; did you mean "influxdb"? (choose from: debug, file, otlphttp, nop, graphite, influxdb, datadog, grafana, circonus, dogstatsd, prometheus)\n',
    ]);
    r = await cli([...base, '--exporters', 'debug', '--set', 'exporters.debug.verbosty=basic'], { cwd: dir });
    expect(r.stderr).to.contain('unknown option "verbosty"; did you mean "verbosity"?');
    r = await cli([...base, '--exporters', 'debug', '--set', 'exporters.debug.verbosity=loud'], { cwd: dir });
    expect(r.stderr).to.contain('expected one of "basic", "normal", "detailed", got string "loud"');
    r = await cli(['init'], { cwd: dir });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain('no terminal to ask on: pass --non-interactive with --receivers and --exporters');
    writeFileSync(join(dir, 'metricport.yaml'), 'mine\n');
    r = await cli([...base, '--exporters', 'debug'], { cwd: dir });
    expect([r.code, r.stderr]).to.deep.equal([2, 'metricport init: metricport.yaml exists; pass --force to overwrite it, or --output another file\n']);
    expect(readFileSync(join(dir, 'metricport.yaml'), 'utf8')).to.equal('mine\n');
    r = await cli([...base, '--exporters', 'debug', '-o', join(dir, 'no/such/dir.yaml')], { cwd: dir });
    expect([r.code, r.stderr]).to.deep.equal([1, `metricport init: cannot write ${join(dir, 'no/such/dir.yaml')}: ENOENT\n`]);
    r = await cli([...base, '--exporters', 'debug', '--force'], { cwd: dir });
    expect(r.code, r.stderr).to.equal(0);
    await expectValid(join(dir, 'metricport.yaml'));
  });

  it('every receiver and exporter alone: the config init writes from the required --set values validates', async () => {
    // one required value per type that has one (secrets come from env references); in-process, for speed
    const need: Record<string, string[]> = {
      'receivers.forge': [
        'app_id=ari:cloud:ecosystem::app/12345678-1234-1234-1234-123456789abc',
        'environments=12345678-1234-1234-1234-123456789abc',
        'email=a@example.com',
      ],
      'receivers.sentry': ['keys[0].application=shop'],
      'receivers.importer': [
        'source=postgres',
        'database=metrics',
        'importers[0].name=a',
        'importers[0].query=select 1 where $1 < $2',
        'importers[0].metric.name=m',
      ],
      'exporters.influxdb': ['endpoint=http://127.0.0.1:8086', 'db=m'],
      'exporters.grafana': ['url=https://graphite.example.com/metrics'],
      'exporters.circonus': ['submission_url=https://trap.example.com/module/httptrap/0123/secret'],
      'exporters.file': [`path=${join(dir, 'out.jsonl')}`],
      'exporters.otlphttp': ['endpoint=http://127.0.0.1:4318'],
    };
    let checked = 0;
    for (const section of ['receivers', 'exporters'] as const) {
      for (const type of registry[section].keys()) {
        const other = section === 'receivers' ? ['--exporters', 'debug'] : ['--receivers', 'otlp'];
        const sets = (need[`${section}.${type}`] ?? []).flatMap((s) => ['--set', `${section}.${type}.${s}`]);
        const out = join(dir, `${section}-${type}.yaml`);
        let said = '';
        const sink = new Writable({
          write(chunk, _enc, cb) {
            said += String(chunk);
            cb();
          },
        });
        const code = await initCommand(['--non-interactive', `--${section}`, type, ...other, ...sets, '-o', out], {
          stdout: sink,
          stderr: sink,
          env: process.env,
        });
        expect(code, `${type}: ${said}`).to.equal(0);
        const text = readFileSync(out, 'utf8');
        const r = validateYamlText(text);
        expect(r.ok, `${type}: ${describeErrors(r.errors)}`).to.equal(true);
        // the secrets: exactly the variables init told the user to set (a reference it did not mention fails validation here)
        const named = /It reads (.+?) from the environment/.exec(said)?.[1]?.split(', ') ?? [];
        const env = Object.fromEntries(named.map((n) => [n, 'x']));
        expect(
          checkConfig(text, out, registry, env).issues.filter((i) => i.severity === 'error'),
          `${type}: ${said}`,
        ).to.deep.equal([]);
        checked++;
      }
    }
    expect(checked).to.equal(registry.receivers.size + registry.exporters.size);
  });
});
