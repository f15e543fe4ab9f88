import { expect } from 'chai';
import { PermanentError, RefusedError } from '../../src/errors.js';
import { createExporter, type ExporterHelperOptions, type PushResult } from '../../src/exporterhelper/exporter.js';
import { helperSchema, retryOptions, queueOptions } from '../../src/exporterhelper/config.js';
import { PermanentSendError, RetryableSendError } from '../../src/exporterhelper/retry.js';
import { validateSchema } from '../../src/config/schema.js';
import { aborted, deferred, host, never, settings, waitFor } from './fakes.js';

interface Batch {
  id: number;
  n: number;
}

const fastRetry = { initial_interval: 5, max_interval: 20, max_elapsed_time: 2000, randomization_factor: 0 };

function make(o: Partial<ExporterHelperOptions<Batch>> & { push: ExporterHelperOptions<Batch>['push'] }, id = 'x') {
  const set = settings(id);
  const exp = createExporter<Batch>(set, { signal: 'metrics', countItems: (b) => b.n, timeout: 1000, retry: fastRetry, ...o });
  return { set, exp };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('exporterhelper/exporter', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => {
    unhandled.push(e);
  };
  before(() => {
    process.on('unhandledRejection', onUnhandled);
  });
  after(() => {
    process.off('unhandledRejection', onUnhandled);
  });
  afterEach(async () => {
    await new Promise((r) => setImmediate(r));
    expect(unhandled, 'unhandled rejections').to.deep.equal([]);
  });

  describe('with the queue', () => {
    it('resolves consume once queued and sends in the background', async () => {
      const gate = deferred();
      const pushed: number[] = [];
      const { set, exp } = make({
        push: async (b) => {
          await gate.promise;
          pushed.push(b.id);
        },
      });
      await exp.start(host(set));
      await exp.consume({ id: 1, n: 4 });
      expect(pushed).to.deep.equal([]);
      gate.resolve();
      await waitFor(() => exp.status().sent === 4, 'sent');
      expect(pushed).to.deep.equal([1]);
      const st = exp.status();
      expect(st.queue_enabled).to.equal(true);
      expect(st.queue_capacity).to.equal(1000);
      expect(st.last_success).to.be.a('string');
      expect(st.last_error).to.equal(null);
      expect(set.telemetry.exporterTotals.get('x|metrics')).to.deep.equal({ sent: 4 });
      await exp.shutdown(never());
    });

    it('reports queue size and capacity gauges', async () => {
      const gate = deferred();
      const { set, exp } = make({ push: () => gate.promise, queue: { queue_size: 7, num_consumers: 1, sizer: 'items' } });
      const attrs = { exporter: 'x', signal: 'metrics' };
      await exp.start(host(set));
      await exp.consume({ id: 1, n: 2 });
      await waitFor(() => exp.status().queue_size === 0, 'first taken');
      await exp.consume({ id: 2, n: 3 });
      expect(set.telemetry.readGauge('metricport_exporter_queue_size', attrs)).to.equal(3);
      expect(set.telemetry.readGauge('metricport_exporter_queue_capacity', attrs)).to.equal(7);
      expect(exp.status().queue_size).to.equal(3);
      gate.resolve();
      await exp.shutdown(never());
      expect(exp.status().sent).to.equal(5);
    });

    it('rejects with RefusedError when the queue is full', async () => {
      const gate = deferred();
      const { set, exp } = make({ push: () => gate.promise, queue: { queue_size: 1, num_consumers: 1 } });
      await exp.start(host(set));
      await exp.consume({ id: 1, n: 1 });
      await waitFor(() => exp.status().queue_size === 0, 'in flight');
      await exp.consume({ id: 2, n: 1 });
      const err = await rejection(exp.consume({ id: 3, n: 5 }));
      expect(err).to.be.instanceOf(RefusedError);
      expect((err as RefusedError).status).to.equal(503);
      expect(exp.status().refused).to.equal(5);
      gate.resolve();
      await exp.shutdown(never());
      expect(exp.status().sent).to.equal(2);
    });

    it('drop_oldest evicts and counts dropped items (reason queue_full)', async () => {
      const gate = deferred();
      const pushed: number[] = [];
      const { set, exp } = make({
        push: async (b) => {
          await gate.promise;
          pushed.push(b.id);
        },
        queue: { queue_size: 2, num_consumers: 1, drop_policy: 'drop_oldest' },
      });
      await exp.start(host(set));
      await exp.consume({ id: 1, n: 10 });
      await waitFor(() => exp.status().queue_size === 0, 'in flight');
      for (const id of [2, 3, 4, 5]) await exp.consume({ id, n: 10 });
      expect(exp.status().dropped).to.deep.equal({ queue_full: 20 });
      expect(set.telemetry.exporterTotals.get('x|metrics')!['dropped.queue_full']).to.equal(20);
      gate.resolve();
      await exp.shutdown(never());
      expect(pushed).to.deep.equal([1, 4, 5]);
    });

    it('retries a retryable failure (503) and then succeeds', async () => {
      let calls = 0;
      const { set, exp } = make({
        push: async () => {
          if (++calls < 3) throw new RetryableSendError('HTTP 503 Service Unavailable from h:1', { status: 503 });
        },
      });
      await exp.start(host(set));
      await exp.consume({ id: 1, n: 2 });
      await waitFor(() => exp.status().sent === 2, 'sent');
      expect(calls).to.equal(3);
      const st = exp.status();
      expect(st.failed).to.equal(4);
      expect(st.consecutive_failures).to.equal(0);
      expect(set.telemetry.exporterTotals.get('x|metrics')).to.deep.equal({ failed: 4, 'failed.http_503': 4, sent: 2 });
      expect(exp.healthy()).to.equal(true);
      await exp.shutdown(never());
    });

    it('gives up at max_elapsed_time, counts the batch dropped and turns unhealthy until a success', async () => {
      let fail = true;
      let calls = 0;
      const { set, exp } = make({
        push: async () => {
          calls++;
          if (fail) throw new RetryableSendError('HTTP 503 Service Unavailable from h:1', { status: 503 });
        },
        retry: { initial_interval: 10, max_interval: 10, max_elapsed_time: 50, randomization_factor: 0 },
      });
      await exp.start(host(set));
      await exp.consume({ id: 1, n: 3 });
      await waitFor(() => (exp.status().dropped.retries_exhausted ?? 0) === 3, 'dropped');
      expect(calls).to.be.within(2, 7);
      const st = exp.status();
      expect(st.sent).to.equal(0);
      expect(st.consecutive_failures).to.equal(1);
      expect(st.last_error).to.match(/giving up after \d+ attempts: HTTP 503 Service Unavailable from h:1/);
      expect(st.last_error_time).to.be.a('string');
      expect(exp.healthy()).to.equal(false);
      expect(set.logger.lines.some((l) => l.level === 'warn' && /retries_exhausted/.test(l.msg ?? ''))).to.equal(true);
      fail = false;
      await exp.consume({ id: 2, n: 1 });
      await waitFor(() => exp.status().sent === 1, 'sent');
      expect(exp.healthy()).to.equal(true);
      expect(exp.status().consecutive_failures).to.equal(0);
      await exp.shutdown(never());
    });

    it('a store failing: one warning naming the exporter at the first retried failure, then at most one per 10 s with the number not logged; never the secret', async () => {
      let t = 1_000_000;
      let calls = 0;
      const { set, exp } = make(
        {
          push: async () => {
            calls++;
            throw new RetryableSendError('connect ECONNREFUSED 127.0.0.1:9999', { reason: 'econnrefused' });
          },
          retry: { initial_interval: 2, max_interval: 5, max_elapsed_time: 0, randomization_factor: 0 },
          now: () => t,
        },
        'influxdb/prod',
      );
      await exp.start(host(set));
      await exp.consume({ id: 1, n: 3 });
      await waitFor(() => calls >= 6, 'six attempts');
      const warns = () => set.logger.lines.filter((l) => l.level === 'warn');
      expect(warns()).to.have.length(1);
      expect(warns()[0]!.msg).to.equal('send failed; retrying (the data waits in the queue)');
      expect(warns()[0]!.obj).to.include({ exporter: 'influxdb/prod', signal: 'metrics', error: 'connect ECONNREFUSED 127.0.0.1:9999', attempt: 1 });
      const before = calls;
      t += 10_000;
      await waitFor(() => warns().length === 2, 'the next warning after 10 s');
      expect(warns()[1]!.obj['suppressed']).to.be.at.least(before - 1);
      expect(set.logger.text()).to.not.match(/SECRET|api_key|password/i);
      await exp.shutdown(AbortSignal.timeout(200));
    });

    it('does not retry permanent failures and turns unhealthy after 5 in a row', async () => {
      let calls = 0;
      const { set, exp } = make({
        push: async () => {
          calls++;
          throw new PermanentSendError('HTTP 400 Bad Request from h:1', { status: 400 });
        },
      });
      await exp.start(host(set));
      for (let i = 0; i < 4; i++) await exp.consume({ id: i, n: 1 });
      await waitFor(() => (exp.status().dropped.permanent ?? 0) === 4, '4 dropped');
      expect(calls).to.equal(4);
      expect(exp.healthy()).to.equal(true);
      await exp.consume({ id: 5, n: 1 });
      await waitFor(() => (exp.status().dropped.permanent ?? 0) === 5, '5 dropped');
      expect(exp.healthy()).to.equal(false);
      expect(exp.status().consecutive_failures).to.equal(5);
      expect(exp.status().last_error).to.equal('HTTP 400 Bad Request from h:1');
      await exp.shutdown(never());
    });

    it('counts rejected points of a partial success as dropped, without retrying', async () => {
      let calls = 0;
      const { set, exp } = make({
        push: async (): Promise<PushResult> => {
          calls++;
          return { rejected: 2, message: 'bad points' };
        },
      });
      await exp.start(host(set));
      await exp.consume({ id: 1, n: 5 });
      await waitFor(() => exp.status().sent === 3, 'sent');
      expect(calls).to.equal(1);
      expect(exp.status().dropped).to.deep.equal({ partial_success: 2 });
      await exp.shutdown(never());
    });

    it('shutdown drains the queue', async () => {
      const pushed: number[] = [];
      const { set, exp } = make({
        push: async (b) => {
          await new Promise((r) => setImmediate(r));
          pushed.push(b.id);
        },
        queue: { num_consumers: 1 },
      });
      for (let i = 0; i < 5; i++) await exp.consume({ id: i, n: 2 }); // queued before start
      await exp.start(host(set));
      await exp.shutdown(never());
      expect(pushed).to.deep.equal([0, 1, 2, 3, 4]);
      expect(exp.status().sent).to.equal(10);
      expect(exp.status().queue_size).to.equal(0);
    });

    it('at the shutdown deadline counts what is left as dropped (reason shutdown) and returns promptly', async () => {
      const { set, exp } = make({ push: () => new Promise<void>(() => undefined), timeout: 0, queue: { num_consumers: 1 } });
      await exp.start(host(set));
      for (let i = 0; i < 3; i++) await exp.consume({ id: i, n: 2 });
      await waitFor(() => exp.status().queue_size === 2, 'one in flight');
      const deadline = new AbortController();
      setTimeout(() => deadline.abort(), 20);
      const start = Date.now();
      await exp.shutdown(deadline.signal);
      expect(Date.now() - start).to.be.below(1500);
      expect(exp.status().dropped).to.deep.equal({ shutdown: 6 });
      expect(set.telemetry.exporterTotals.get('x|metrics')!['dropped.shutdown']).to.equal(6);
    });

    it('refuses data after shutdown', async () => {
      const { set, exp } = make({ push: async () => undefined });
      await exp.start(host(set));
      await exp.shutdown(never());
      const err = await rejection(exp.consume({ id: 1, n: 1 }));
      expect(err).to.be.instanceOf(RefusedError);
      expect(exp.status().refused).to.equal(1);
    });
  });

  describe('without the queue (synchronous)', () => {
    const sync = { queue: { enabled: false } };

    it('resolves after the send', async () => {
      const pushed: number[] = [];
      const { set, exp } = make({
        ...sync,
        push: async (b) => {
          pushed.push(b.id);
        },
      });
      await exp.start(host(set));
      await exp.consume({ id: 7, n: 1 });
      expect(pushed).to.deep.equal([7]);
      expect(exp.status().sent).to.equal(1);
      expect(exp.status().queue_enabled).to.equal(false);
      await exp.shutdown(never());
    });

    it('rejects with the PermanentError for a permanent failure (400 and 500), one attempt', async () => {
      for (const status of [400, 500]) {
        let calls = 0;
        const { set, exp } = make({
          ...sync,
          push: async () => {
            calls++;
            throw new PermanentSendError(`HTTP ${status}`, { status });
          },
        });
        await exp.start(host(set));
        const err = await rejection(exp.consume({ id: 1, n: 1 }));
        expect(err).to.be.instanceOf(PermanentError);
        expect((err as PermanentSendError).status).to.equal(status);
        expect(calls).to.equal(1);
        expect(exp.status().failed).to.equal(1);
        expect(exp.status().dropped).to.deep.equal({});
        await exp.shutdown(never());
      }
    });

    it('rejects with RefusedError when retries run out, carrying the Retry-After', async () => {
      let calls = 0;
      const { set, exp } = make({
        ...sync,
        push: async () => {
          calls++;
          throw new RetryableSendError('HTTP 429', { status: 429, retryAfterMs: 30_000 });
        },
        retry: { max_elapsed_time: 1000 },
      });
      await exp.start(host(set));
      const err = await rejection(exp.consume({ id: 1, n: 1 }));
      expect(err).to.be.instanceOf(RefusedError);
      expect((err as RefusedError).retryAfterSeconds).to.equal(30);
      expect(calls).to.equal(1);
      expect(exp.healthy()).to.equal(false);
      await exp.shutdown(never());
    });

    it('shutdown waits for a send in flight, then aborts it at the deadline', async () => {
      const { set, exp } = make({ ...sync, timeout: 0, push: () => new Promise<void>(() => undefined) });
      await exp.start(host(set));
      const p = exp.consume({ id: 1, n: 1 });
      const deadline = new AbortController();
      setTimeout(() => deadline.abort(), 20);
      await exp.shutdown(deadline.signal);
      const err = await rejection(p);
      expect(err).to.be.instanceOf(RefusedError);
    });
  });

  describe('lifecycle', () => {
    it('shutdown twice is fine and calls the exporter shutdown once', async () => {
      let shutdowns = 0;
      const { set, exp } = make({
        push: async () => undefined,
        shutdown: async () => {
          shutdowns++;
        },
      });
      await exp.start(host(set));
      await Promise.all([exp.shutdown(never()), exp.shutdown(never())]);
      await exp.shutdown(aborted());
      expect(shutdowns).to.equal(1);
    });

    it('shutdown without start is fine', async () => {
      let starts = 0;
      const { exp } = make({
        push: async () => undefined,
        start: async () => {
          starts++;
        },
      });
      await exp.shutdown(never());
      await exp.shutdown(never());
      expect(starts).to.equal(0);
      expect(exp.status().sent).to.equal(0);
    });

    it('a failing exporter shutdown is logged, not thrown', async () => {
      const { set, exp } = make({
        push: async () => undefined,
        shutdown: async () => {
          throw new Error('close failed');
        },
      });
      await exp.start(host(set));
      await exp.shutdown(never());
      expect(set.logger.lines.some((l) => l.level === 'error')).to.equal(true);
    });

    it('never puts foreign error messages (possible secrets) into status or logs', async () => {
      const secret = 'Bearer sk-live-123456';
      const { set, exp } = make({
        push: async () => {
          throw new Error(`request with Authorization: ${secret} failed`);
        },
        retry: { enabled: false },
      });
      await exp.start(host(set));
      await exp.consume({ id: 1, n: 1 });
      await waitFor(() => (exp.status().dropped.retries_exhausted ?? 0) === 1, 'dropped');
      expect(JSON.stringify(exp.status())).not.to.contain('sk-live');
      expect(set.logger.text()).not.to.contain('sk-live');
      expect(exp.status().last_error).to.equal('giving up after 1 attempt: Error');
      await exp.shutdown(never());
    });
  });

  describe('config fragments', () => {
    it('validate with the Collector defaults', () => {
      const r = validateSchema(helperSchema(), {}, '');
      expect(r.issues).to.deep.equal([]);
      expect(r.value).to.deep.equal({
        timeout: 5000,
        retry_on_failure: { enabled: true, initial_interval: 5000, max_interval: 30000, max_elapsed_time: 300000, multiplier: 1.5, randomization_factor: 0.5 },
        sending_queue: { enabled: true, num_consumers: 2, queue_size: 1000, sizer: 'requests', drop_policy: 'refuse' },
      });
      const v = r.value as { timeout: number; retry_on_failure: never; sending_queue: never };
      expect(retryOptions(v.retry_on_failure, v.timeout)).to.deep.equal({
        enabled: true,
        initialIntervalMs: 5000,
        maxIntervalMs: 30000,
        maxElapsedMs: 300000,
        multiplier: 1.5,
        randomizationFactor: 0.5,
        timeoutMs: 5000,
      });
      expect(queueOptions(v.sending_queue)).to.deep.equal({ enabled: true, numConsumers: 2, capacity: 1000, sizer: 'requests', dropPolicy: 'refuse' });
    });

    it('reject bad values with their paths', () => {
      const r = validateSchema(
        helperSchema(),
        { retry_on_failure: { multiplier: 0.5, initial_interval: 'soon' }, sending_queue: { drop_policy: 'random' } },
        'exporters.x',
      );
      expect(r.issues.map((i) => i.path).sort()).to.deep.equal([
        'exporters.x.retry_on_failure.initial_interval',
        'exporters.x.retry_on_failure.multiplier',
        'exporters.x.sending_queue.drop_policy',
      ]);
    });
  });
});
