import { expect } from 'chai';
import { PermanentError } from '../../src/errors.js';
import {
  PermanentSendError,
  RetriesExhaustedError,
  RetryableSendError,
  SendAbortedError,
  SendTimeoutError,
  parseRetryAfter,
  safeMessage,
  sendWithRetry,
  type RetryOptions,
} from '../../src/exporterhelper/retry.js';
import { never } from './fakes.js';

function opts(o: Partial<RetryOptions> = {}): RetryOptions {
  return { enabled: true, initialIntervalMs: 10, maxIntervalMs: 100, maxElapsedMs: 5000, multiplier: 1.5, randomizationFactor: 0, timeoutMs: 1000, ...o };
}

/** A push that fails with the given errors in turn, then succeeds; records call times. */
function scripted(errors: unknown[]): { push: (s: AbortSignal) => Promise<void>; times: number[] } {
  const times: number[] = [];
  let i = 0;
  return {
    times,
    push: async () => {
      times.push(Date.now());
      const e = errors[i++];
      if (e !== undefined) throw e;
    },
  };
}

describe('exporterhelper/retry', () => {
  it('returns after one attempt when push succeeds', async () => {
    const s = scripted([]);
    expect(await sendWithRetry(s.push, opts(), never())).to.equal(1);
    expect(s.times).to.have.length(1);
  });

  it('retries retryable errors with growing backoff, then succeeds', async () => {
    const s = scripted([new RetryableSendError('HTTP 503', { status: 503 }), new RetryableSendError('HTTP 503', { status: 503 })]);
    const attempts = await sendWithRetry(s.push, opts({ initialIntervalMs: 20 }), never());
    expect(attempts).to.equal(3);
    expect(s.times).to.have.length(3);
    const gap1 = s.times[1]! - s.times[0]!;
    const gap2 = s.times[2]! - s.times[1]!;
    expect(gap1).to.be.at.least(18); // 20 ms
    expect(gap2).to.be.at.least(28); // 30 ms (× 1.5)
    expect(gap1).to.be.below(1000);
  });

  it('honours Retry-After on a retryable error', async () => {
    const s = scripted([new RetryableSendError('HTTP 429', { status: 429, retryAfterMs: 200 })]);
    const attempts = await sendWithRetry(s.push, opts({ initialIntervalMs: 1 }), never());
    expect(attempts).to.equal(2);
    expect(s.times[1]! - s.times[0]!).to.be.at.least(190);
  });

  it('does not retry permanent errors (400, 500)', async () => {
    for (const status of [400, 500]) {
      const err = new PermanentSendError(`HTTP ${status}`, { status });
      const s = scripted([err, err]);
      let caught: unknown;
      try {
        await sendWithRetry(s.push, opts(), never());
      } catch (e) {
        caught = e;
      }
      expect(caught).to.equal(err);
      expect(caught).to.be.instanceOf(PermanentError);
      expect(s.times).to.have.length(1);
    }
  });

  it('gives up when the next retry would start past max_elapsed_time', async () => {
    // a virtual clock that moves by exactly the planned waits, so a loaded machine's late timers change nothing
    let virtual = 0;
    const times: number[] = [];
    let caught: unknown;
    try {
      await sendWithRetry(
        async () => {
          times.push(virtual);
          throw new RetryableSendError('HTTP 503', { status: 503 });
        },
        opts({
          initialIntervalMs: 20,
          multiplier: 2,
          maxIntervalMs: 1000,
          maxElapsedMs: 200,
          now: () => virtual,
          onAttemptFailed: (_e, info) => {
            if (info.delayMs !== undefined) virtual += info.delayMs;
          },
        }),
        never(),
      );
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(RetriesExhaustedError);
    // waits 20, 40, 80 → attempt 4 at 140 ms; the next wait (160 ms) would end past 200 ms
    expect(times).to.deep.equal([0, 20, 60, 140]);
    expect((caught as RetriesExhaustedError).attempts).to.equal(4);
    expect((caught as Error).cause).to.be.instanceOf(RetryableSendError);
  });

  it('gives up at once when Retry-After exceeds the remaining budget', async () => {
    const s = scripted([new RetryableSendError('HTTP 503', { status: 503, retryAfterMs: 60_000 })]);
    const start = Date.now();
    let caught: unknown;
    try {
      await sendWithRetry(s.push, opts({ maxElapsedMs: 1000 }), never());
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(RetriesExhaustedError);
    expect((caught as RetriesExhaustedError).retryAfterMs).to.equal(60_000);
    expect(s.times).to.have.length(1);
    expect(Date.now() - start).to.be.below(500);
  });

  it('makes one attempt when retries are disabled', async () => {
    const s = scripted([new RetryableSendError('x'), new RetryableSendError('x')]);
    let caught: unknown;
    try {
      await sendWithRetry(s.push, opts({ enabled: false }), never());
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(RetriesExhaustedError);
    expect(s.times).to.have.length(1);
  });

  it('treats plain errors as retryable', async () => {
    const s = scripted([new Error('ECONNRESET'), new TypeError('boom')]);
    expect(await sendWithRetry(s.push, opts({ initialIntervalMs: 1 }), never())).to.equal(3);
  });

  it('stops waiting at once when aborted during backoff', async () => {
    const ctl = new AbortController();
    const start = Date.now();
    let caught: unknown;
    const p = sendWithRetry(
      async () => {
        throw new RetryableSendError('HTTP 503', { status: 503 });
      },
      opts({
        initialIntervalMs: 60_000,
        maxElapsedMs: 0,
        onAttemptFailed: (_e, info) => {
          if (info.willRetry) setTimeout(() => ctl.abort(), 5);
        },
      }),
      ctl.signal,
    );
    try {
      await p;
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(SendAbortedError);
    expect((caught as SendAbortedError).attempts).to.equal(1);
    expect(Date.now() - start).to.be.below(1000);
  });

  it('aborts an attempt in flight when the signal fires, and tells push', async () => {
    const ctl = new AbortController();
    let pushSignal: AbortSignal | undefined;
    let caught: unknown;
    const p = sendWithRetry(
      (s) => {
        pushSignal = s;
        return new Promise<void>(() => undefined);
      },
      opts({ timeoutMs: 0 }),
      ctl.signal,
    );
    setTimeout(() => ctl.abort(), 5);
    try {
      await p;
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(SendAbortedError);
    expect(pushSignal?.aborted).to.equal(true);
  });

  it('rejects without calling push when already aborted', async () => {
    const ctl = new AbortController();
    ctl.abort();
    const s = scripted([]);
    let caught: unknown;
    try {
      await sendWithRetry(s.push, opts(), ctl.signal);
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(SendAbortedError);
    expect(s.times).to.have.length(0);
  });

  it('times out an attempt that hangs (even if push ignores its signal) and retries', async () => {
    let calls = 0;
    const signals: AbortSignal[] = [];
    const attempts = await sendWithRetry(
      (s) => {
        signals.push(s);
        calls++;
        return calls === 1 ? new Promise<void>(() => undefined) : Promise.resolve();
      },
      opts({ timeoutMs: 30, initialIntervalMs: 1 }),
      never(),
    );
    expect(attempts).to.equal(2);
    expect(signals[0]!.aborted).to.equal(true);
    expect(signals[0]!.reason).to.be.instanceOf(SendTimeoutError);
    expect(signals[1]!.aborted).to.equal(false);
  });

  it('draws jittered delays within interval × [1 − f, 1 + f]', async () => {
    const seen: number[] = [];
    for (const r of [0, 0.999999]) {
      const ctl = new AbortController();
      try {
        await sendWithRetry(
          async () => {
            throw new RetryableSendError('x');
          },
          opts({
            initialIntervalMs: 100,
            randomizationFactor: 0.5,
            random: () => r,
            onAttemptFailed: (_e, i) => {
              seen.push(i.delayMs!);
              ctl.abort();
            },
          }),
          ctl.signal,
        );
      } catch {
        /* aborted */
      }
    }
    expect(seen).to.deep.equal([50, 150]);
  });

  it('caps the backoff interval at max_interval', async () => {
    const delays: number[] = [];
    const ctl = new AbortController();
    try {
      await sendWithRetry(
        async () => {
          throw new RetryableSendError('x');
        },
        opts({
          initialIntervalMs: 1,
          multiplier: 4,
          maxIntervalMs: 20,
          maxElapsedMs: 0,
          onAttemptFailed: (_e, i) => {
            delays.push(i.delayMs!);
            if (delays.length === 5) ctl.abort();
          },
        }),
        ctl.signal,
      );
    } catch {
      /* aborted */
    }
    expect(delays).to.deep.equal([1, 4, 16, 20, 20]);
  });

  describe('parseRetryAfter', () => {
    const now = Date.parse('2024-01-01T00:00:00Z');
    it('reads delay-seconds', () => {
      expect(parseRetryAfter('120', now)).to.equal(120_000);
      expect(parseRetryAfter(' 0 ', now)).to.equal(0);
      expect(parseRetryAfter('1.5', now)).to.equal(1500);
    });
    it('reads an HTTP-date', () => {
      expect(parseRetryAfter('Mon, 01 Jan 2024 00:00:30 GMT', now)).to.equal(30_000);
      expect(parseRetryAfter('Sun, 31 Dec 2023 23:59:00 GMT', now)).to.equal(0);
    });
    it('ignores absent and malformed values', () => {
      expect(parseRetryAfter(null, now)).to.equal(undefined);
      expect(parseRetryAfter(undefined, now)).to.equal(undefined);
      expect(parseRetryAfter('', now)).to.equal(undefined);
      expect(parseRetryAfter('-5', now)).to.equal(undefined);
      expect(parseRetryAfter('soon', now)).to.equal(undefined);
    });
  });

  it('safeMessage keeps foreign error messages out (they may quote URLs with credentials)', () => {
    expect(safeMessage(new Error('GET https://user:s3cret@host/x failed'))).to.equal('Error');
    const e = Object.assign(new Error('connect ECONNREFUSED https://k:s3cret@h'), { code: 'ECONNREFUSED' });
    expect(safeMessage(e)).to.equal('Error ECONNREFUSED');
    expect(safeMessage(new RetryableSendError('HTTP 503 from h:1'))).to.equal('HTTP 503 from h:1');
  });
});
