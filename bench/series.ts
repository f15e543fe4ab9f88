/**
 * Scenario `series` (`npm run bench -- --scenario series [--sizes 100000,1000000,5000000] [--rounds 3] [--no-write]`):
 * memory per active series of the prometheus store and of the push stores'
 * accumulator with a window open, and the scrape of 1M series (issue 19).
 *
 * Every figure comes from a fresh process (bench/series-child.ts, forked with
 * --expose-gc): RSS and V8 heap after GC before and after taking in N series
 * (one delta counter, three attributes: `route` of 50 values, `error.type`
 * of 2, a unique `series`), divided by N. "After" is once V8 has given back
 * the young generation the take-in grew: it grows to 2 × 16 MiB under any
 * allocation burst, whatever the number of series, and V8's memory reducer
 * returns it about 20 s after the burst, as it does in the running service;
 * right after the take-in it is still committed, and that figure is printed
 * too (at 100k series it adds ~320 B/series, at 1M ~30). The anchor, measured
 * in the same run: a plain Map from the same rendered label strings to a
 * number (the least a JS index of the keys costs). Goal: ≤ 300 B per series
 * for both stores at every size.
 *
 * Scrape at 1M series: the exporter's own listener (PullServer) and response
 * path, fetched over loopback (time to the last byte, median of --rounds
 * after a warm-up, the store process' heap settled before each) by two
 * clients: curl, a native client as real scrapers are (Prometheus and the
 * Collector's receiver are Go), writing to a null device the run makes with
 * mknod; and this process' node:http, whose own receive cost (≈ 3× curl's for
 * the same bytes here) the figure includes. The goal is judged on the curl
 * figure; both are printed. Also printed: the store process' CPU time per
 * scrape, and the RSS rise: its peak RSS during the scrape (VmHWM, reset just
 * before) over its RSS before. Anchor, per client: the same number of bytes
 * sent from one 1 MiB buffer over the same kind of response. Goals: ≤ 300 ms,
 * ≤ 10 % RSS rise.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { writeSection } from './docsection.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const optS = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const SIZES = (optS('sizes') ?? '100000,1000000,5000000').split(',').map(Number);
const ROUNDS = Math.max(1, Number(optS('rounds') ?? 3));
const WRITE = !args.includes('--no-write');
const SCRAPE_N = 1_000_000;
const GOAL_BYTES = 300;
const GOAL_SCRAPE_MS = 300;
const GOAL_RSS_RISE = 0.1;

interface Row {
  target: string;
  series: number;
  ingestMs: number;
  rss0: number;
  rss1: number;
  heap0: number;
  heap1: number;
  /** once V8's young generation is back to its idle size (its memory reducer, about 20 s after the burst) */
  rss2: number;
  heap2: number;
  /** young generation MiB right after the take-in, and settled */
  young1: number;
  young2: number;
  settleMs: number;
  port?: number;
}

class Child {
  readonly p: ChildProcess;
  private readonly lines: Interface;
  private readonly queue: string[] = [];
  private waiting: ((l: string) => void) | undefined;
  constructor(target: string, n: number, scrape: boolean) {
    const heapMiB = Math.max(2048, Math.ceil((n * 1500) / 2 ** 20));
    this.p = fork(join(here, 'series-child.js'), [target, String(n), ...(scrape ? ['scrape'] : [])], {
      execArgv: ['--expose-gc', `--max-old-space-size=${heapMiB}`],
      stdio: ['pipe', 'pipe', 'inherit', 'ipc'],
    });
    this.lines = createInterface({ input: this.p.stdout! });
    this.lines.on('line', (l) => {
      if (this.waiting !== undefined) {
        const w = this.waiting;
        this.waiting = undefined;
        w(l);
      } else this.queue.push(l);
    });
  }
  next<T>(): Promise<T> {
    const l = this.queue.shift();
    if (l !== undefined) return Promise.resolve(JSON.parse(l) as T);
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`bench child exited (${code}) before answering`));
      this.p.once('exit', onExit);
      this.waiting = (x) => {
        this.p.off('exit', onExit);
        resolve(JSON.parse(x) as T);
      };
    });
  }
  send(cmd: string): void {
    this.p.stdin!.write(cmd + '\n');
  }
  async done(): Promise<void> {
    if (this.p.exitCode !== null) return;
    await new Promise((r) => this.p.once('exit', r));
  }
}

async function measure(target: string, n: number): Promise<Row> {
  const c = new Child(target, n, false);
  const r = await c.next<Row>();
  await c.done();
  return r;
}

/** GET the whole body: ms to the last byte and the bytes */
function fetchAll(port: number, path: string, headers: Record<string, string> = {}): Promise<{ ms: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => {
        bytes += d.length;
      });
      res.on('end', () => (res.statusCode === 200 ? resolve({ ms: performance.now() - t0, bytes }) : reject(new Error(`scrape answered ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface ScrapeResult {
  ms: number;
  bytes: number;
  rssBefore: number;
  peak: number;
  rise: number;
  /** the serving process' CPU time for the scrape (user + system, all threads), ms */
  cpuMs: number;
}

/**
 * A native client for the same GET: curl, writing the body to a null device
 * this run makes itself (never the system's /dev/null). A scraper is native
 * code (Prometheus, the Collector's receiver: Go), and a Node client pays its
 * own per-chunk costs on the same two cores, which the Node figure includes.
 * undefined when curl or mknod is not there.
 */
class Curl {
  private constructor(
    private readonly dir: string,
    readonly sink: string,
  ) {}
  static make(): Curl | undefined {
    const dir = mkdtempSync(join(tmpdir(), 'metricport-series-'));
    const sink = join(dir, 'null');
    try {
      execFileSync('curl', ['--version'], { stdio: 'ignore' });
      execFileSync('mknod', [sink, 'c', '1', '3'], { stdio: 'ignore' });
      return new Curl(dir, sink);
    } catch {
      rmSync(dir, { recursive: true, force: true });
      return undefined;
    }
  }
  fetch(port: number, path: string): Promise<{ ms: number; bytes: number }> {
    return new Promise((resolve, reject) => {
      const p = spawn('curl', ['-s', '-o', this.sink, '-w', '%{http_code} %{time_total} %{size_download}', `http://127.0.0.1:${port}${path}`], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let o = '';
      p.stdout.on('data', (d: Buffer) => (o += d.toString()));
      p.on('error', reject);
      p.on('exit', (code) => {
        const [status, secs, size] = o.trim().split(' ');
        if (code !== 0 || status !== '200') reject(new Error(`curl exited ${code}, status ${status}`));
        else resolve({ ms: Number(secs) * 1000, bytes: Number(size) });
      });
    });
  }
  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

type Client = (port: number, path: string) => Promise<{ ms: number; bytes: number }>;

async function scrape(target: 'prometheus' | 'anchor-transfer', n: number, path: string, client: Client): Promise<ScrapeResult> {
  const c = new Child(target, n, true);
  const r = await c.next<Row>();
  await client(r.port!, path); // warm-up
  const runs: ScrapeResult[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    c.send('before');
    const b = await c.next<{ rssBefore: number }>();
    const f = await client(r.port!, path);
    c.send('after');
    const a = await c.next<{ peak: number; cpuMs: number }>();
    runs.push({ ms: f.ms, bytes: f.bytes, rssBefore: b.rssBefore, peak: a.peak, rise: (a.peak - b.rssBefore) / b.rssBefore, cpuMs: a.cpuMs });
  }
  c.send('quit');
  await c.done();
  const ms = median(runs.map((x) => x.ms));
  const rise = median(runs.map((x) => x.rise));
  const cpuMs = median(runs.map((x) => x.cpuMs));
  const mid = runs.find((x) => x.ms === ms)!;
  return { ...mid, ms, rise, cpuMs };
}

const MiB = 2 ** 20;
/** bytes per series: RSS and heap settled (the goal's figure), and RSS right after the take-in */
const per = (r: Row, k: 'rss' | 'heap' | 'burst'): number => (k === 'rss' ? r.rss2 - r.rss0 : k === 'heap' ? r.heap2 - r.heap0 : r.rss1 - r.rss0) / r.series;

export async function seriesScenario(): Promise<void> {
  const rows: Row[] = [];
  const lines: string[] = [];
  for (const n of SIZES) {
    for (const target of ['anchor-map', 'prometheus', 'accumulator']) {
      const r = await measure(target, n);
      rows.push(r);
      console.log(
        `${String(n).padStart(8)} series  ${target.padEnd(12)} RSS ${per(r, 'rss').toFixed(0).padStart(5)} B/series  heap ${per(r, 'heap').toFixed(0).padStart(5)} B/series  (RSS ${(r.rss2 / MiB).toFixed(0)} MiB, taking in ${(r.ingestMs / 1000).toFixed(1)} s; right after it ${per(r, 'burst').toFixed(0)} B/series with a ${r.young1.toFixed(0)} MiB young generation, ${r.young2.toFixed(0)} MiB after ${(r.settleMs / 1000).toFixed(0)} s)`,
      );
    }
    const anchor = rows.find((r) => r.series === n && r.target === 'anchor-map')!;
    for (const target of ['prometheus', 'accumulator']) {
      const r = rows.find((x) => x.series === n && x.target === target)!;
      const b = per(r, 'rss');
      lines.push(
        `${n.toLocaleString('en-US')} series, ${target === 'prometheus' ? 'prometheus store' : 'accumulator (window open)'}: ${b.toFixed(0)} B/series RSS, ${per(r, 'heap').toFixed(0)} B/series heap (goal ≤ ${GOAL_BYTES} B: ${b <= GOAL_BYTES ? 'met' : 'NOT met'}; right after the take-in ${per(r, 'burst').toFixed(0)} B/series); ${(b / per(anchor, 'rss')).toFixed(2)}× the anchor Map of the same keys (${per(anchor, 'rss').toFixed(0)} B/series)`,
      );
    }
  }
  const nodeClient: Client = (port, path) => fetchAll(port, path);
  const s = await scrape('prometheus', SCRAPE_N, '/t/metrics', nodeClient);
  const t = await scrape('anchor-transfer', s.bytes, '/', nodeClient);
  const curl = Curl.make();
  let sc: ScrapeResult | undefined;
  let tc: ScrapeResult | undefined;
  if (curl !== undefined) {
    try {
      const client: Client = (port, path) => curl.fetch(port, path);
      sc = await scrape('prometheus', SCRAPE_N, '/t/metrics', client);
      tc = await scrape('anchor-transfer', sc.bytes, '/', client);
    } finally {
      curl.close();
    }
  }
  const verdict = (ms: number): string => `goal ≤ ${GOAL_SCRAPE_MS} ms: ${ms <= GOAL_SCRAPE_MS ? 'met' : 'NOT met'}`;
  const rises = [s, ...(sc === undefined ? [] : [sc])];
  const rise = Math.max(...rises.map((x) => x.rise));
  lines.push(
    `scrape of ${SCRAPE_N.toLocaleString('en-US')} series (${(s.bytes / MiB).toFixed(0)} MiB text 0.0.4, loopback, median of ${ROUNDS}), time to the last byte: ` +
      (sc === undefined || tc === undefined
        ? `Node client ${s.ms.toFixed(0)} ms (${verdict(s.ms)}; curl or mknod missing, no native client)`
        : `curl (a native client, as a scraper is) ${sc.ms.toFixed(0)} ms (${verdict(sc.ms)}), ${(sc.ms / tc.ms).toFixed(2)}× its bare transfer of the same bytes (${tc.ms.toFixed(0)} ms); Node client ${s.ms.toFixed(0)} ms (${verdict(s.ms)})`) +
      `, ${(s.ms / t.ms).toFixed(2)}× its bare transfer (${t.ms.toFixed(0)} ms); the store process' CPU per scrape ${(sc ?? s).cpuMs.toFixed(0)} ms (the bare transfer's ${(tc ?? t).cpuMs.toFixed(0)} ms); RSS rise during the scrape ${(rise * 100).toFixed(1)} % of ${(s.rssBefore / MiB).toFixed(0)} MiB (goal ≤ ${GOAL_RSS_RISE * 100} %: ${rise <= GOAL_RSS_RISE ? 'met' : 'NOT met'}; the transfer anchor: ${(t.rise * 100).toFixed(1)} %)`,
  );
  console.log(lines.join('\n'));
  if (!WRITE) return;
  writeSection(
    'series',
    [
      `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- --scenario series\` on ${cpus().length} × ${cpus()[0]?.model.trim()} with ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}. Each figure from a fresh process: RSS and heap after GC before taking in N series of one delta counter with three attributes, and again once V8 has given back the young generation the take-in grew (its memory reducer does so about 20 s after a burst; the time is the "settle" column), the difference divided by N. "Right after" is the same RSS difference before that: the young generation (up to 32 MiB, whatever the number of series) is still committed then. Anchor: a plain \`Map\` of the same rendered label strings.`,
      '',
      '| series | target | RSS B/series | heap B/series | RSS MiB | right after: RSS B/series | young gen MiB (after → settled) | take-in s | settle s |',
      '|---:|---|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.map(
        (r) =>
          `| ${r.series.toLocaleString('en-US')} | ${r.target} | ${per(r, 'rss').toFixed(0)} | ${per(r, 'heap').toFixed(0)} | ${(r.rss2 / MiB).toFixed(0)} | ${per(r, 'burst').toFixed(0)} | ${r.young1.toFixed(0)} → ${r.young2.toFixed(0)} | ${(r.ingestMs / 1000).toFixed(1)} | ${(r.settleMs / 1000).toFixed(0)} |`,
      ),
      '',
      ...lines.map((l) => `- ${l}`),
    ],
    'Memory per series and the scrape of 1M series',
  );
}
