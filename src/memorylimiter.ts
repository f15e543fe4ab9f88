/**
 * The memory limiter (service.memory_limiter, docs/reliability.md): one
 * process-wide component every receiver consults before it reads or decodes
 * a request. A timer samples the process's memory (RSS: what a cgroup's OOM
 * killer counts) every `check_interval`; receivers only read a boolean.
 *
 * - above `soft_limit`: receivers refuse new data with 429 + Retry-After
 *   (never 500) until memory drops below it again;
 * - above `hard_limit`: in-memory sending queues drop their oldest half
 *   (counted dropped, reason "memory_limit"), releasing the references so the
 *   GC can reclaim them.
 * Defaults derive from the cgroup memory limit (v2 memory.max, v1
 * memory.limit_in_bytes) when there is one, else from the machine's memory.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { totalmem } from 'node:os';
import type { Schema } from './config/schema.js';
import { RefusedError } from './errors.js';

export interface MemoryLimiterConfig {
  enabled: boolean;
  /** bytes; 0 = 80 % of the limit */
  soft_limit: number;
  /** bytes; 0 = 90 % of the limit */
  hard_limit: number;
  /** ms */
  check_interval: number;
  /** ms */
  retry_after: number;
}

export const memoryLimiterSchema: Schema = {
  enabled: { type: 'boolean', default: true, doc: 'refuse data above the soft limit and shed queued data above the hard limit' },
  soft_limit: {
    type: 'bytes',
    default: 0,
    doc: "process memory (RSS) above which receivers answer 429 with Retry-After; 0 = 80 % of the cgroup memory limit (memory.max, or memory.limit_in_bytes), else of the machine's memory",
  },
  hard_limit: {
    type: 'bytes',
    default: 0,
    doc: 'process memory above which in-memory sending queues drop their oldest half (counted dropped, reason "memory_limit"); 0 = 90 % of the same limit',
  },
  check_interval: { type: 'duration', default: '250ms', min: '10ms', doc: 'how often memory is sampled (receivers read the last sample)' },
  retry_after: { type: 'duration', default: '5s', min: '1s', doc: 'Retry-After sent with a refusal' },
};

export const DEFAULT_MEMORY_LIMITER: MemoryLimiterConfig = { enabled: true, soft_limit: 0, hard_limit: 0, check_interval: 250, retry_after: 5_000 };

/** The container's memory limit in bytes, or undefined (no cgroup limit). */
export function cgroupMemoryLimit(read: (p: string) => string = (p) => readFileSync(p, 'utf8')): number | undefined {
  for (const p of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    let text: string;
    try {
      text = read(p).trim();
    } catch {
      continue;
    }
    if (text === 'max') return undefined;
    const n = Number(text);
    // v1 reports "no limit" as a huge number (about 2^63 rounded to pages)
    if (Number.isFinite(n) && n > 0 && n < 2 ** 60) return n;
  }
  return undefined;
}

/** soft/hard limits in bytes from the config (0 = derived). */
export function resolveLimits(cfg: MemoryLimiterConfig, limit: number = cgroupMemoryLimit() ?? totalmem()): { soft: number; hard: number; base: number } {
  const hard = cfg.hard_limit > 0 ? cfg.hard_limit : Math.floor(limit * 0.9);
  const soft = cfg.soft_limit > 0 ? cfg.soft_limit : Math.min(Math.floor(limit * 0.8), hard);
  return { soft, hard, base: limit };
}

/** Frees memory at the hard limit; returns the items it dropped. */
export type Shedder = () => number;

export class MemoryLimiter {
  private soft = Infinity;
  private hard = Infinity;
  private retryAfterSeconds = 5;
  private timer: NodeJS.Timeout | undefined;
  private over = false;
  private readonly shedders = new Set<Shedder>();
  /** for tests: the memory reading */
  sample: () => number = () => process.memoryUsage.rss();
  refusedRequests = 0;
  droppedItems = 0;
  sheds = 0;
  lastSample = 0;

  configure(cfg: MemoryLimiterConfig, limit?: number): void {
    this.stop();
    if (!cfg.enabled) {
      this.soft = Infinity;
      this.hard = Infinity;
      this.over = false;
      return;
    }
    const l = resolveLimits(cfg, limit);
    this.soft = l.soft;
    this.hard = l.hard;
    this.retryAfterSeconds = Math.max(1, Math.ceil(cfg.retry_after / 1000));
    this.timer = setInterval(() => this.check(), Math.max(10, cfg.check_interval));
    this.timer.unref();
    this.check();
  }

  stop(): void {
    if (this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    this.over = false;
  }

  /** one sample: sets the refusal flag, sheds above the hard limit */
  check(): void {
    let m: number;
    try {
      m = this.sample();
    } catch {
      return;
    }
    this.lastSample = m;
    this.over = m >= this.soft;
    if (m >= this.hard) {
      this.sheds++;
      for (const s of this.shedders) {
        try {
          this.droppedItems += s();
        } catch {
          /* a shedder never breaks the check */
        }
      }
    }
  }

  /** Receivers call this before reading a request: a RefusedError (429) while above the soft limit, else undefined. Cheap. */
  refusal(): RefusedError | undefined {
    if (!this.over) return undefined;
    this.refusedRequests++;
    return new RefusedError(`memory limit: metricport is above its soft memory limit (${Math.round(this.soft / 1048576)} MiB); retry later`, {
      status: 429,
      retryAfterSeconds: this.retryAfterSeconds,
    });
  }

  /** Above the soft limit right now (no counting): for receivers that cannot answer, e.g. StatsD over UDP, which drop and count themselves. */
  refusing(): boolean {
    return this.over;
  }

  register(s: Shedder): () => void {
    this.shedders.add(s);
    return () => {
      this.shedders.delete(s);
    };
  }

  limits(): { soft: number; hard: number } {
    return { soft: this.soft, hard: this.hard };
  }
}

/** Bodies up to this size are drained (discarded as they arrive, never buffered) so the connection stays usable; larger or chunked ones close it. */
const DRAIN_CAP = 64 * 1024;

/**
 * For an HTTP receiver refusing a request before reading it (memory limit):
 * discard the body without buffering it, and close the connection after the
 * answer unless the body is small and of known length.
 */
export function discardBody(req: IncomingMessage, res: ServerResponse): void {
  const cl = req.headers['content-length'];
  if (cl === undefined ? req.headers['transfer-encoding'] !== undefined : !(Number(cl) <= DRAIN_CAP)) res.shouldKeepAlive = false;
  req.resume();
}

/** The process-wide limiter (configured by the service from service.memory_limiter). */
export const memoryLimiter = new MemoryLimiter();
