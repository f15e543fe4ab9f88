/** The fan-out (src/fanout.ts): one batch to several consumers, copies for the mutating ones, errors joined. */
import { expect } from 'chai';
import type { Consumer } from '../src/component.js';
import { PermanentError, RefusedError } from '../src/errors.js';
import { fanout } from '../src/fanout.js';
import type { MetricsBatch } from '../src/model/index.js';
import { batch } from './helpers/batches.js';

describe('fan-out', () => {
  it('gives mutating consumers their own copy and never lets them affect others', async () => {
    const seen: MetricsBatch[] = [];
    const mutator: Consumer<MetricsBatch> = {
      mutatesData: true,
      consume: async (b) => {
        (b.resourceMetrics[0]!.resource.attributes as Record<string, unknown>)['service.name'] = 'changed';
        b.resourceMetrics[0]!.scopeMetrics[0]!.metrics.length = 0;
      },
    };
    const reader: Consumer<MetricsBatch> = {
      consume: async (b) => {
        seen.push(b);
      },
    };
    const input = batch();
    await fanout('metrics', [mutator, reader, mutator]).consume(input);
    expect(seen[0]).to.equal(input);
    expect(input.resourceMetrics[0]!.resource.attributes['service.name']).to.equal('s');
    expect(input.resourceMetrics[0]!.scopeMetrics[0]!.metrics).to.have.length(1);
  });

  it('propagates failures, preferring a retryable one', async () => {
    const ok: Consumer<MetricsBatch> = { consume: async () => {} };
    const perm: Consumer<MetricsBatch> = {
      consume: async () => {
        throw new PermanentError('bad');
      },
    };
    const refuse: Consumer<MetricsBatch> = {
      consume: async () => {
        throw new RefusedError('full', { status: 429, retryAfterSeconds: 3 });
      },
    };
    const sync: Consumer<MetricsBatch> = {
      consume: () => {
        throw new Error('sync throw');
      },
    };
    let err: unknown;
    await fanout('metrics', [ok, perm, refuse])
      .consume(batch())
      .catch((e) => {
        err = e;
      });
    expect(err).to.be.instanceOf(RefusedError);
    err = undefined;
    await fanout('metrics', [ok, perm])
      .consume(batch())
      .catch((e) => {
        err = e;
      });
    expect(err).to.be.instanceOf(PermanentError);
    err = undefined;
    await fanout('metrics', [ok, sync])
      .consume(batch())
      .catch((e) => {
        err = e;
      });
    expect((err as Error).message).to.equal('sync throw');
  });
});
