/**
 * The statsd receiver: UDP, TCP (newline-delimited) and Unix datagram
 * listeners feeding one Aggregator; every flush interval (aligned to the
 * epoch) the closed window goes downstream as one MetricsBatch.
 *
 * A window closes exactly at its end: the first packet after the boundary
 * closes it before being counted into the next one, and a timer closes it
 * when no packet comes. StatsD cannot push back, so a batch refused
 * downstream is dropped and counted (reason refused/permanent), never retried.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import { createRequire } from 'node:module';
import type { Consumer, CreateSettings, Host, Receiver, Signal, SignalData } from '../../src/component.js';
import { parseEndpoint } from '../../src/config/schema.js';
import { isRetryable, MetricportError } from '../../src/errors.js';
import { memoryLimiter } from '../../src/memorylimiter.js';
import { countPoints, type MetricsBatch } from '../../src/model/index.js';
import type { ReceiverTelemetry, Telemetry } from '../../src/telemetry.js';
import type { Logger } from '../../src/logger.js';
import type { ClusterHost, FleetChannel, PartialMessage } from '../../src/cluster/api.js';
import { FleetOwner } from '../../src/fleet/owner.js';
import { chunkEntries, encodeEnvelope, messageId } from '../../src/fleet/wire.js';
import { Aggregator, type AggregatorOptions, type DropReason } from './aggregator.js';
import type { StatsdReceiverConfig } from './config.js';
import { BAD_LINE_REASONS, newParsedLine, parsePacket, type BadLineReason, type LineSink, type ParsedLine } from './parser.js';
import { BATCH, firstFallback, nativeUdp, SLOT, udpHandle, type NativeUdp, type UdpHandle } from './udpbatch.js';

interface UnixDgramSocket {
  bind(path: string): void;
  close(): void;
  on(ev: 'error', fn: (err: Error) => void): void;
  on(ev: 'listening', fn: () => void): void;
}
type UnixDgramModule = { createSocket(type: 'unix_dgram', onMessage: (msg: Buffer) => void): UnixDgramSocket };

/** a pause in reading: how long once the socket has been drained */
const COALESCE_MS = 1;
/** native reads: batches drained in one event-loop turn before yielding to other work */
const BATCHES_PER_TURN = 8;
/** datagrams libuv reads per readiness callback: fewer in a loop iteration means the socket was drained */
const READS_PER_ITERATION = 32;
/** coalescing only with a receive buffer at least this large (as granted): a pause must fit in it */
const COALESCE_MIN_RCVBUF = 1 << 20;

export type StatsdDrop = DropReason | 'line_too_long' | 'too_many_connections' | 'refused' | 'permanent' | 'memory_limit';

export class StatsdReceiver implements Receiver {
  private readonly id: string;
  private readonly tel: ReceiverTelemetry;
  private readonly next: Consumer<MetricsBatch> | undefined;
  private readonly agg: Aggregator;
  private readonly aggOptions: AggregatorOptions;
  private readonly logger: Logger;
  private readonly telemetry: Telemetry;
  private readonly interval: number;
  private readonly line: ParsedLine = newParsedLine();
  private readonly sink: LineSink;
  private windowEnd = 0;
  private timer: NodeJS.Timeout | undefined;
  private udp: dgram.Socket | undefined;
  private tcp: net.Server | undefined;
  private readonly conns = new Set<net.Socket>();
  private unix: UnixDgramSocket | undefined;
  private started = false;
  private stopped = false;
  private shutdownP: Promise<void> | undefined;
  private readonly pending = new Set<Promise<void>>();
  // counters (plain numbers on the hot path; read by status() and /metrics)
  packets = 0;
  lines = 0;
  readonly bad: Record<BadLineReason, number> = Object.fromEntries(BAD_LINE_REASONS.map((r) => [r, 0])) as Record<BadLineReason, number>;
  private readonly drops: Record<'line_too_long' | 'too_many_connections' | 'refused' | 'permanent' | 'memory_limit', number> = {
    line_too_long: 0,
    too_many_connections: 0,
    refused: 0,
    permanent: 0,
    memory_limit: 0,
  };
  private reportedBad = 0;
  flushes = 0;
  pointsSent = 0;
  private lastError: string | null = null;

  constructor(
    set: CreateSettings,
    private readonly cfg: StatsdReceiverConfig,
    next: Partial<{ [S in Signal]: Consumer<SignalData[S]> }>,
  ) {
    this.id = set.id;
    this.tel = set.telemetry.receiver(set.id, 'statsd');
    this.next = next.metrics;
    this.interval = cfg.flush_interval;
    this.logger = set.logger;
    this.telemetry = set.telemetry;
    this.aggOptions = {
      flushIntervalMs: cfg.flush_interval,
      naming: cfg.naming,
      percentiles: cfg.percentiles,
      histogramBuckets: cfg.histogram_buckets,
      keepGauges: cfg.keep_gauges,
      idleExpiryMs: cfg.idle_expiry,
      maxSeries: cfg.max_series,
      timerExactSamples: cfg.timer_exact_samples,
      relativeAccuracy: cfg.relative_accuracy,
      etsy: cfg.etsy,
    };
    this.agg = new Aggregator(this.aggOptions);
    const agg = this.agg;
    const bad = this.bad;
    let now = 0;
    this.sink = {
      line: (l) => {
        this.lines++;
        agg.add(l, now);
      },
      bad: (reason) => {
        bad[reason]++;
      },
    };
    this.setNow = (t: number) => {
      now = t;
    };
    // through telemetry.counter: one reader per (name, attributes), replaced by the
    // instance that takes the id over at a reload (a callback added to the meter
    // per instance would pile up, and keep every replaced instance alive)
    const tel = set.telemetry;
    const attrs = { receiver: set.id };
    tel.counter('metricport_statsd_packets', 'Datagrams (or TCP chunks) received by a statsd receiver', attrs, () => this.packets);
    tel.counter('metricport_statsd_lines', 'Well-formed StatsD lines received', attrs, () => this.lines);
    for (const r of BAD_LINE_REASONS)
      tel.counter('metricport_statsd_bad_lines', 'Malformed StatsD lines skipped, by reason', { ...attrs, reason: r }, () => this.bad[r]);
    const dropped =
      "StatsD lines or aggregated points dropped, by reason (series_limit, negative_counter, timestamp_limit, line_too_long, too_many_connections: lines or connections; refused, permanent: points; memory_limit: packets dropped unread above the memory limiter's soft limit)";
    for (const r of Object.keys(this.agg.dropped) as DropReason[])
      tel.counter('metricport_statsd_dropped', dropped, { ...attrs, reason: r }, () => this.agg.dropped[r]);
    for (const r of Object.keys(this.drops) as Array<keyof typeof this.drops>)
      tel.counter('metricport_statsd_dropped', dropped, { ...attrs, reason: r }, () => this.drops[r]);
    set.telemetry.gauge('metricport_statsd_series', 'Series held by a statsd receiver', attrs, () => this.agg.seriesCount);
  }

  private readonly setNow: (t: number) => void;

  private dropCounts(): Record<StatsdDrop, number> {
    return { ...this.agg.dropped, ...this.drops };
  }

  /** Feed one packet (a datagram's bytes, or whole lines from TCP). Public for tests and benchmarks. */
  handlePacket(text: string | Buffer): void {
    const now = Date.now();
    if (now >= this.windowEnd && this.started) this.rollover(now);
    this.packets++;
    // above the memory limiter's soft limit: StatsD cannot be told to retry, so the packet is dropped unparsed and counted
    if (memoryLimiter.refusing()) {
      this.drops.memory_limit++;
      return;
    }
    this.setNow(now);
    parsePacket(text, this.line, this.sink);
  }

  /**
   * Coalesced UDP reads: once a loop iteration drains the socket (fewer
   * datagrams than libuv reads per wake-up), reading pauses COALESCE_MS, so
   * at moderate rates one wake-up reads many datagrams instead of one each
   * (the kernel buffers them meanwhile). Under load the socket is never
   * drained and reading never pauses.
   */
  private coalesce: { handle: UdpHandle; inIteration: number; armed: boolean; timer: NodeJS.Timeout | undefined } | undefined;
  /** times UDP reading paused (tests) */
  readPauses = 0;
  /** how UDP is read: recvmmsg (native), dgram-coalesced, dgram */
  udpReader: 'recvmmsg' | 'dgram-coalesced' | 'dgram' = 'dgram';

  private readonly checkDrained = (): void => {
    const c = this.coalesce;
    if (c === undefined) return;
    if (c.inIteration >= READS_PER_ITERATION) {
      c.inIteration = 0;
      setImmediate(this.checkDrained);
      return;
    }
    c.inIteration = 0;
    c.armed = false;
    c.handle.recvStop();
    this.readPauses++;
    c.timer = setTimeout(this.resumeUdp, COALESCE_MS);
  };

  private readonly resumeUdp = (): void => {
    const c = this.coalesce;
    if (c === undefined) return;
    c.timer = undefined;
    c.handle.recvStart();
  };

  /**
   * Native reads (udpbatch.ts): the first datagram after a quiet spell
   * arrives through node:dgram; reading through libuv then stops and the
   * socket is drained BATCH datagrams per recvmmsg call, up to
   * BATCHES_PER_TURN calls per event-loop turn. Once drained, the next drain
   * is COALESCE_MS later (only with a receive buffer of COALESCE_MIN_RCVBUF,
   * as granted; with a smaller one, at once); a drain that finds nothing
   * hands the socket back to libuv, so an idle receiver costs nothing.
   */
  private native:
    | {
        mod: NativeUdp;
        handle: UdpHandle;
        fd: number;
        buf: Buffer;
        lengths: Int32Array;
        pause: boolean;
        timer: NodeJS.Timeout | undefined;
        immediate: NodeJS.Immediate | undefined;
        reading: boolean;
      }
    | undefined;
  /** native reads: recvmmsg calls made (tests) */
  nativeReads = 0;

  private readonly onUdpNative = (msg: Buffer): void => {
    const b = this.native;
    if (b === undefined) return;
    this.handlePacket(msg);
    if (this.native !== b || !b.reading) return;
    b.handle.recvStop();
    b.reading = false;
    this.drainUdp();
  };

  private readonly drainUdp = (): void => {
    const b = this.native;
    if (b === undefined) return;
    b.timer = undefined;
    b.immediate = undefined;
    let total = 0;
    for (let round = 0; round < BATCHES_PER_TURN; round++) {
      const n = b.mod.recv(b.fd, b.buf, SLOT, b.lengths);
      this.nativeReads++;
      if (n < 0) {
        this.lastError = `udp: recvmmsg failed (errno ${-n})`;
        break;
      }
      if (n > 0) this.handleBatch(b.buf, b.lengths, n);
      if (this.native !== b) return;
      total += n;
      if (n < BATCH) {
        if (total > 0 && b.pause) {
          this.readPauses++;
          b.timer = setTimeout(this.drainUdp, COALESCE_MS);
        } else {
          b.reading = true;
          b.handle.recvStart();
        }
        return;
      }
    }
    if (total === 0) {
      b.reading = true;
      b.handle.recvStart();
      return;
    }
    b.immediate = setImmediate(this.drainUdp);
  };

  /** n datagrams read at once: datagram i is buf[i × SLOT, + lengths[i]); all take the time of the read */
  private handleBatch(buf: Buffer, lengths: Int32Array, n: number): void {
    const now = Date.now();
    if (now >= this.windowEnd && this.started) this.rollover(now);
    this.packets += n;
    if (memoryLimiter.refusing()) {
      this.drops.memory_limit += n;
      return;
    }
    this.setNow(now);
    for (let i = 0; i < n; i++) {
      const at = i * SLOT;
      parsePacket(buf.subarray(at, at + (lengths[i] as number)), this.line, this.sink);
    }
  }

  private readonly onUdp = (msg: Buffer): void => {
    const c = this.coalesce;
    if (c !== undefined) {
      c.inIteration++;
      if (!c.armed) {
        c.armed = true;
        setImmediate(this.checkDrained);
      }
    }
    if (memoryLimiter.refusing()) {
      this.packets++;
      this.drops.memory_limit++;
      return;
    }
    this.handlePacket(msg);
  };

  /** scope cluster with a cluster: the channel its partials go to, and the owner of this node's partitions */
  private fleet: { cluster: ClusterHost; channel: FleetChannel; owner: FleetOwner<Aggregator>; pub: string; from: number } | undefined;
  private publishedWindows = 0;

  async start(host: Host): Promise<void> {
    if (this.started || this.stopped) return;
    this.started = true;
    const now = Date.now();
    this.windowEnd = (Math.floor(now / this.interval) + 1) * this.interval;
    if (this.cfg.scope === 'cluster') {
      if (host.cluster === undefined) {
        this.logger.warn({ receiver: this.id }, 'scope: cluster without service.cluster: this instance flushes what it received (it is the whole fleet)');
      } else {
        const cluster = host.cluster;
        const channel = cluster.fleet(this.id);
        const P = this.interval;
        const next = this.next;
        const owner = new FleetOwner<Aggregator>({
          id: this.id,
          cluster,
          channel,
          logger: this.logger,
          telemetry: this.telemetry,
          adapter: {
            periodMs: P,
            latenessMs: 0,
            waitMs: this.cfg.cluster_wait,
            newWindow: () => new Aggregator(this.aggOptions),
            merge: (a, e) => a.mergePartial(e),
            build: (k, a) => a.flush(k * P, (k + 1) * P),
          },
          deliver: async (b) => {
            const n = countPoints(b);
            if (n === 0 || next === undefined) return;
            await next.consume(b);
            this.pointsSent += n;
            this.tel.accepted(n, 'metrics');
          },
        });
        const from = this.windowEnd / P - 1;
        this.fleet = { cluster, channel, owner, pub: `${cluster.nodeId}.${cluster.instanceId}`, from };
        channel.announce({ from, period: P });
        owner.start();
      }
    }
    this.schedule();
    try {
      if (this.cfg.udp.enabled) await this.startUdp();
      if (this.cfg.tcp.enabled) await this.startTcp();
      if (this.cfg.unixgram.enabled) await this.startUnix();
    } catch (err) {
      await this.closeSockets();
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.stopped = true;
      throw new MetricportError('MP_START_FAILED', `receiver ${this.id}: ${(err as Error).message}`, { cause: err });
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    const wait = Math.max(1, this.windowEnd - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = Date.now();
      if (now >= this.windowEnd) this.rollover(now);
      this.schedule();
    }, wait);
    this.timer.unref();
  }

  /** Scope cluster: close window [start, end) as partials (published in window order from the disk queue); the |T points stay local. */
  private flushWindow(start: number, end: number): void {
    const f = this.fleet;
    if (f === undefined) {
      this.emit(this.agg.flush(start, end));
      return;
    }
    const { entries, local } = this.agg.flushPartials(start, end, f.cluster.partitions);
    this.emit(local);
    const k = Math.floor(start / this.interval);
    const messages: PartialMessage[] = [];
    entries.forEach((list, part) => {
      const chunks = chunkEntries(list);
      chunks.forEach((c, i) => {
        const head = { c: this.id, pub: f.pub, from: f.from, k, P: this.interval, p: part, i, n: chunks.length };
        messages.push({ partition: part, id: messageId(head), data: encodeEnvelope(head, c) });
      });
    });
    const p = f.channel.send(messages).then(
      () => {
        this.publishedWindows++;
      },
      (err: unknown) => {
        this.lastError = `cannot queue a window's partials on disk: ${(err as Error).message}`;
      },
    );
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Close every window that ended by `now`. */
  private rollover(now: number): void {
    while (now >= this.windowEnd) {
      const end = this.windowEnd;
      this.flushWindow(end - this.interval, end);
      this.windowEnd = end + this.interval;
      // after a long pause, skip empty windows in one step
      if (now - this.windowEnd > 2 * this.interval) this.windowEnd = (Math.floor(now / this.interval) + 1) * this.interval;
    }
  }

  private emit(batch: MetricsBatch): void {
    this.flushes++;
    const badNow = BAD_LINE_REASONS.reduce((a, r) => a + this.bad[r], 0);
    if (badNow > this.reportedBad) {
      this.tel.rejected(badNow - this.reportedBad, 'metrics');
      this.reportedBad = badNow;
    }
    const n = countPoints(batch);
    if (n === 0 || this.next === undefined) return;
    const p = this.next.consume(batch).then(
      () => {
        this.pointsSent += n;
        this.tel.accepted(n, 'metrics');
      },
      (err: unknown) => {
        const retry = isRetryable(err);
        this.drops[retry ? 'refused' : 'permanent'] += n;
        this.tel.refused(n, 'metrics');
        this.lastError = `${retry ? 'refused' : 'permanent'}: ${(err as Error)?.message ?? String(err)}`;
      },
    );
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private startUdp(): Promise<void> {
    const ep = parseEndpoint(this.cfg.udp.endpoint)!;
    const host = ep.host === '' ? '0.0.0.0' : ep.host;
    const sock = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
    this.udp = sock;
    const want = this.cfg.udp.receive_buffer_size;
    // the reader is chosen once bound (it needs the socket's fd); until then no datagram can arrive
    sock.on('message', (msg: Buffer) => (this.native !== undefined ? this.onUdpNative(msg) : this.onUdp(msg)));
    return new Promise((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(ep.port, host, () => {
        sock.off('error', reject);
        sock.on('error', (err) => {
          this.lastError = `udp: ${err.message}`;
        });
        if (want > 0) {
          try {
            sock.setRecvBufferSize(want);
          } catch {
            /* capped by the kernel */
          }
        }
        let granted = 0;
        try {
          granted = sock.getRecvBufferSize();
        } catch {
          /* unknown: no coalescing */
        }
        const pause = granted >= COALESCE_MIN_RCVBUF;
        const handle = udpHandle(sock);
        if (this.cfg.udp.reader === 'auto') {
          const n = nativeUdp();
          const fd = handle?.fd;
          if ('mod' in n && handle !== undefined && typeof fd === 'number' && fd >= 0) {
            this.native = {
              mod: n.mod,
              handle,
              fd,
              buf: Buffer.allocUnsafeSlow(SLOT * BATCH),
              lengths: new Int32Array(BATCH),
              pause,
              timer: undefined,
              immediate: undefined,
              reading: true,
            };
            this.udpReader = 'recvmmsg';
          } else if (firstFallback())
            this.logger.info(
              { receiver: this.id },
              `statsd: native UDP reader not used (${'why' in n ? n.why : 'no fd on the internal UDP handle'}); reading through node:dgram`,
            );
        }
        if (this.native === undefined && pause && handle !== undefined) {
          this.coalesce = { handle, inIteration: 0, armed: false, timer: undefined };
          this.udpReader = 'dgram-coalesced';
        }
        resolve();
      });
    });
  }

  private startTcp(): Promise<void> {
    const ep = parseEndpoint(this.cfg.tcp.endpoint)!;
    const maxLine = this.cfg.tcp.max_line_length;
    const srv = net.createServer((c) => {
      if (this.conns.size >= this.cfg.tcp.max_connections || this.stopped) {
        this.drops.too_many_connections++;
        c.destroy();
        return;
      }
      this.conns.add(c);
      c.setEncoding('utf8');
      let rest = '';
      let skipping = false;
      c.on('data', (chunk: string) => {
        let s = rest === '' ? chunk : rest + chunk;
        rest = '';
        let nl = s.lastIndexOf('\n');
        if (skipping) {
          // inside an over-long line: drop through its newline
          const first = s.indexOf('\n');
          if (first < 0) return;
          skipping = false;
          s = s.slice(first + 1);
          nl = s.lastIndexOf('\n');
        }
        if (nl < 0) {
          if (s.length > maxLine) {
            this.drops.line_too_long++;
            skipping = true;
            return;
          }
          rest = s;
          return;
        }
        if (nl + 1 < s.length) {
          rest = s.slice(nl + 1);
          if (rest.length > maxLine) {
            this.drops.line_too_long++;
            skipping = true;
            rest = '';
          }
        }
        this.handleLines(s.slice(0, nl + 1), maxLine);
      });
      c.on('end', () => {
        if (rest !== '' && !skipping) this.handleLines(rest, maxLine);
        rest = '';
        c.end();
      });
      c.on('error', () => {
        /* client went away */
      });
      c.on('close', () => this.conns.delete(c));
    });
    this.tcp = srv;
    return new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ host: ep.host === '' ? undefined : ep.host, port: ep.port }, () => {
        srv.off('error', reject);
        srv.on('error', (err) => {
          this.lastError = `tcp: ${err.message}`;
        });
        resolve();
      });
    });
  }

  /** Whole lines from TCP; a line longer than max_line_length is dropped and counted. */
  private handleLines(s: string, maxLine: number): void {
    if (s.length <= maxLine) {
      this.handlePacket(s);
      return;
    }
    let a = 0;
    let ok = '';
    while (a < s.length) {
      let b = s.indexOf('\n', a);
      if (b < 0) b = s.length;
      if (b - a > maxLine) this.drops.line_too_long++;
      else ok += s.slice(a, b + 1);
      a = b + 1;
    }
    if (ok !== '') this.handlePacket(ok);
  }

  private async startUnix(): Promise<void> {
    let mod: UnixDgramModule;
    try {
      mod = createRequire(import.meta.url)('unix-dgram') as UnixDgramModule;
    } catch {
      throw new Error('unixgram needs the optional package unix-dgram (npm install unix-dgram); it is not installed');
    }
    const path = this.cfg.unixgram.path;
    try {
      if (fs.statSync(path).isSocket()) fs.unlinkSync(path);
    } catch {
      /* not there */
    }
    const sock = mod.createSocket('unix_dgram', (msg) => this.onUdp(msg));
    this.unix = sock;
    await new Promise<void>((resolve, reject) => {
      sock.on('error', (err) => {
        this.lastError = `unixgram: ${err.message}`;
        reject(err);
      });
      sock.on('listening', () => resolve());
      sock.bind(path);
    });
  }

  private async closeSockets(): Promise<void> {
    const udp = this.udp;
    this.udp = undefined;
    if (this.coalesce?.timer !== undefined) clearTimeout(this.coalesce.timer);
    this.coalesce = undefined;
    const b = this.native;
    this.native = undefined;
    if (b?.timer !== undefined) clearTimeout(b.timer);
    if (b?.immediate !== undefined) clearImmediate(b.immediate);
    if (udp !== undefined)
      await new Promise<void>((r) => {
        try {
          udp.close(() => r());
        } catch {
          r();
        }
      });
    const unix = this.unix;
    this.unix = undefined;
    if (unix !== undefined) {
      try {
        unix.close();
      } catch {
        /* closed */
      }
      try {
        fs.unlinkSync(this.cfg.unixgram.path);
      } catch {
        /* gone */
      }
    }
    const tcp = this.tcp;
    this.tcp = undefined;
    if (tcp !== undefined) {
      const closed = new Promise<void>((r) => tcp.close(() => r()));
      // let clients' last lines in, then close what remains
      for (const c of this.conns) c.end();
      const t = setTimeout(() => {
        for (const c of this.conns) c.destroy();
      }, 500);
      t.unref();
      await closed;
      clearTimeout(t);
    }
  }

  shutdown(deadline: AbortSignal): Promise<void> {
    this.shutdownP ??= this.doShutdown(deadline);
    return this.shutdownP;
  }

  private async doShutdown(deadline: AbortSignal): Promise<void> {
    const wasStarted = this.started && !this.stopped;
    this.stopped = true;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    await this.closeSockets();
    if (wasStarted) {
      // the partial window goes out with the time of shutdown
      const now = Date.now();
      if (now >= this.windowEnd) this.rollover(now);
      if (this.fleet !== undefined) {
        // the open window's partials go out (the owners merge them with the others'); this node stops owning
        this.flushWindow(this.windowEnd - this.interval, this.windowEnd);
        this.fleet.owner.stop();
      } else {
        this.emit(this.agg.flush(this.windowEnd - this.interval, Math.max(now, this.windowEnd - this.interval + 1)));
      }
    }
    if (this.pending.size > 0) {
      await Promise.race([
        Promise.allSettled([...this.pending]),
        new Promise<void>((r) => {
          if (deadline.aborted) r();
          else deadline.addEventListener('abort', () => r(), { once: true });
        }),
      ]);
    }
  }

  /** Bound addresses once started (port 0 resolved). */
  addresses(): { udp?: { address: string; port: number }; tcp?: { address: string; port: number } } {
    const out: { udp?: { address: string; port: number }; tcp?: { address: string; port: number } } = {};
    if (this.udp !== undefined) {
      const a = this.udp.address();
      out.udp = { address: a.address, port: a.port };
    }
    const t = this.tcp?.address();
    if (t !== undefined && t !== null && typeof t !== 'string') out.tcp = { address: t.address, port: t.port };
    return out;
  }

  status(): Record<string, unknown> {
    return {
      ...this.addresses(),
      flush_interval_ms: this.interval,
      ...(this.udp !== undefined ? { udp_reader: this.udpReader } : {}),
      naming: this.cfg.naming,
      packets: this.packets,
      lines: this.lines,
      bad_lines: { ...this.bad },
      dropped: this.dropCounts(),
      series: this.agg.seriesCount,
      flushes: this.flushes,
      points_sent: this.pointsSent,
      scope: this.fleet !== undefined ? 'cluster' : 'local',
      ...(this.fleet !== undefined
        ? { fleet: { published_windows: this.publishedWindows, channel: this.fleet.channel.status(), ...this.fleet.owner.status() } }
        : {}),
      tcp_connections: this.conns.size,
      last_error: this.lastError,
      ...this.tel.totals(),
    };
  }
}
