/**
 * Property-based fuzzing (fast-check) of every decoder that reads bytes from
 * the outside: OTLP JSON and protobuf (metrics and logs), errors JSON/NDJSON,
 * StatsD lines, Sentry envelopes and events, importer result rows.
 *
 * For every generated input — random bytes, random JSON, and near-valid
 * documents with random values at the known keys (the inputs that reach deep
 * into a decoder), and valid encodings with bytes flipped, cut and inserted —
 * each decoder:
 * - never throws anything but its documented error type (DecodeError,
 *   MappingError) and otherwise returns its documented result shape;
 * - finishes within a per-case time bound (no hang, no pathological regex);
 * - returns output bounded by its input and its limits (no unbounded
 *   allocation: inputs are bounded by the generators);
 * - gives every reject a non-empty reason (a message, a reason code in the
 *   documented set, a rejection naming its index).
 * Seeds are fixed (reproducible); the run takes a few seconds.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { performance } from 'node:perf_hooks';
import { DecodeError } from '../../src/otlp/errors.js';
import { decodeLogsJson, decodeMetricsJson, encodeMetricsJson } from '../../src/otlp/json.js';
import { decodeLogsProto, decodeMetricsProto, encodeMetricsProto } from '../../src/otlp/proto.js';
import type { MetricsBatch } from '../../src/model/index.js';
import { parseErrorsBody, type ParseLimits } from '../../src/eventsjson/parse.js';
import { BAD_LINE_REASONS, newParsedLine, parsePacket, parseTags, type BadLineReason } from '../../receivers/statsd/parser.js';
import { parseEnvelope } from '../../receivers/sentry/envelope.js';
import { mapSentryEvent } from '../../receivers/sentry/map.js';
import { graphiteRows, influxRows, mapRows, MappingError, SourceQueryError, type ResultSet } from '../../receivers/importer/map.js';
import type { ImporterSpec } from '../../receivers/importer/config.js';

/** per-case bound: generous for a loaded 2-core machine, far below a hang */
const CASE_MS = 250;
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const params = (seed: number): fc.Parameters<unknown> => ({ numRuns: RUNS, seed, endOnFailure: true });

/** run `fn` and fail when it takes longer than CASE_MS */
function timed<T>(what: string, fn: () => T): T {
  const t0 = performance.now();
  const r = fn();
  const ms = performance.now() - t0;
  if (ms > CASE_MS) throw new Error(`${what} took ${ms.toFixed(0)} ms (bound ${CASE_MS} ms)`);
  return r;
}

/** only `types` may be thrown, each with a non-empty message */
function expectOnly<T>(what: string, types: Array<new (...a: any[]) => Error>, fn: () => T): T | undefined {
  try {
    return timed(what, fn);
  } catch (e) {
    if (e instanceof Error && /took \d+ ms \(bound/.test(e.message)) throw e;
    if (!types.some((t) => e instanceof t))
      throw new Error(`${what} threw an undocumented ${(e as Error)?.name ?? typeof e}: ${(e as Error)?.message ?? String(e)}`);
    expect((e as Error).message, `${what}: error message`)
      .to.be.a('string')
      .and.not.equal('');
    return undefined;
  }
}

// ---- generators -------------------------------------------------------------

/** JSON values of bounded size */
const json = fc.jsonValue({ maxDepth: 4 });
/** a value that is either plausible (`good`) or anything */
const maybe = <T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 3, arbitrary: good as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: json as fc.Arbitrary<unknown> });
const nanos = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
  fc.constantFrom('0', '1700000000123456789', '-1', '1e9', '', '18446744073709551616'),
);
const anyValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.record({ stringValue: maybe(fc.string({ maxLength: 20 })) }),
    fc.record({ intValue: maybe(fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String), fc.integer())) }),
    fc.record({ doubleValue: maybe(fc.oneof(fc.double(), fc.constantFrom('NaN', 'Infinity', '-Infinity'))) }),
    fc.record({ boolValue: maybe(fc.boolean()) }),
    fc.record({ bytesValue: maybe(fc.base64String({ maxLength: 12 })) }),
    fc.record({ arrayValue: fc.record({ values: fc.array(tie('v'), { maxLength: 3 }) }) }),
    fc.record({ kvlistValue: fc.record({ values: fc.array(fc.record({ key: fc.string({ maxLength: 8 }), value: tie('v') }), { maxLength: 3 }) }) }),
    json,
  ),
})).v;
const attrs = fc.array(fc.record({ key: maybe(fc.string({ maxLength: 10 })), value: maybe(anyValue) }, { requiredKeys: [] }), { maxLength: 4 });
const numberPoint = fc.record(
  {
    attributes: attrs,
    startTimeUnixNano: nanos,
    timeUnixNano: nanos,
    asInt: maybe(fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String)),
    asDouble: maybe(fc.double()),
    flags: maybe(fc.integer()),
  },
  { requiredKeys: [] },
);
const histPoint = fc.record(
  {
    attributes: attrs,
    timeUnixNano: nanos,
    count: maybe(fc.nat().map(String)),
    sum: maybe(fc.double()),
    bucketCounts: maybe(fc.array(fc.nat({ max: 100 }).map(String), { maxLength: 6 })),
    explicitBounds: maybe(fc.array(fc.double(), { maxLength: 6 })),
    min: maybe(fc.double()),
    max: maybe(fc.double()),
  },
  { requiredKeys: [] },
);
const expPoint = fc.record(
  {
    attributes: attrs,
    timeUnixNano: nanos,
    count: maybe(fc.nat().map(String)),
    scale: maybe(fc.integer({ min: -30, max: 30 })),
    zeroCount: maybe(fc.nat().map(String)),
    positive: maybe(
      fc.record(
        { offset: maybe(fc.integer({ min: -1000, max: 1000 })), bucketCounts: maybe(fc.array(fc.nat({ max: 50 }).map(String), { maxLength: 8 })) },
        { requiredKeys: [] },
      ),
    ),
    negative: maybe(fc.record({ offset: maybe(fc.integer()), bucketCounts: maybe(fc.array(fc.nat().map(String), { maxLength: 8 })) }, { requiredKeys: [] })),
  },
  { requiredKeys: [] },
);
const summaryPoint = fc.record(
  {
    attributes: attrs,
    timeUnixNano: nanos,
    count: maybe(fc.nat().map(String)),
    sum: maybe(fc.double()),
    quantileValues: maybe(fc.array(fc.record({ quantile: maybe(fc.double()), value: maybe(fc.double()) }, { requiredKeys: [] }), { maxLength: 4 })),
  },
  { requiredKeys: [] },
);
const temporality = maybe(fc.constantFrom(0, 1, 2, 3, 'AGGREGATION_TEMPORALITY_DELTA', 'AGGREGATION_TEMPORALITY_CUMULATIVE'));
const metric = fc
  .record(
    {
      name: maybe(fc.string({ maxLength: 12 })),
      unit: maybe(fc.string({ maxLength: 4 })),
      description: maybe(fc.string({ maxLength: 8 })),
      data: fc.oneof(
        fc.record({ gauge: fc.record({ dataPoints: maybe(fc.array(numberPoint, { maxLength: 4 })) }) }),
        fc.record({
          sum: fc.record(
            { dataPoints: maybe(fc.array(numberPoint, { maxLength: 4 })), aggregationTemporality: temporality, isMonotonic: maybe(fc.boolean()) },
            { requiredKeys: [] },
          ),
        }),
        fc.record({
          histogram: fc.record({ dataPoints: maybe(fc.array(histPoint, { maxLength: 3 })), aggregationTemporality: temporality }, { requiredKeys: [] }),
        }),
        fc.record({
          exponentialHistogram: fc.record(
            { dataPoints: maybe(fc.array(expPoint, { maxLength: 3 })), aggregationTemporality: temporality },
            { requiredKeys: [] },
          ),
        }),
        fc.record({ summary: fc.record({ dataPoints: maybe(fc.array(summaryPoint, { maxLength: 3 })) }) }),
        fc.record({}),
      ),
    },
    { requiredKeys: ['data'] },
  )
  .map(({ data, ...rest }) => ({ ...rest, ...data }));
const metricsDoc = fc.record(
  {
    resourceMetrics: maybe(
      fc.array(
        fc.record(
          {
            resource: maybe(fc.record({ attributes: attrs }, { requiredKeys: [] })),
            scopeMetrics: maybe(
              fc.array(
                fc.record(
                  {
                    scope: maybe(fc.record({ name: maybe(fc.string({ maxLength: 6 })), attributes: attrs }, { requiredKeys: [] })),
                    metrics: maybe(fc.array(metric, { maxLength: 4 })),
                  },
                  { requiredKeys: [] },
                ),
                { maxLength: 3 },
              ),
            ),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 3 },
      ),
    ),
  },
  { requiredKeys: [] },
);
const logsDoc = fc.record(
  {
    resourceLogs: maybe(
      fc.array(
        fc.record(
          {
            resource: maybe(fc.record({ attributes: attrs }, { requiredKeys: [] })),
            scopeLogs: maybe(
              fc.array(
                fc.record(
                  {
                    logRecords: maybe(
                      fc.array(
                        fc.record(
                          {
                            timeUnixNano: nanos,
                            observedTimeUnixNano: nanos,
                            severityNumber: maybe(fc.integer({ min: -1, max: 30 })),
                            severityText: maybe(fc.string({ maxLength: 6 })),
                            body: maybe(anyValue),
                            attributes: attrs,
                            traceId: maybe(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 34 })),
                            spanId: maybe(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 18 })),
                            eventName: maybe(fc.string({ maxLength: 6 })),
                          },
                          { requiredKeys: [] },
                        ),
                        { maxLength: 4 },
                      ),
                    ),
                  },
                  { requiredKeys: [] },
                ),
                { maxLength: 3 },
              ),
            ),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 3 },
      ),
    ),
  },
  { requiredKeys: [] },
);

/** bytes with random edits: flips, cuts, insertions */
function mutated(base: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      base,
      fc.array(fc.tuple(fc.constantFrom('flip', 'cut', 'insert', 'truncate'), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
    )
    .map(([b, edits]) => {
      let out = Buffer.from(b);
      for (const [op, at, v] of edits) {
        const i = out.length === 0 ? 0 : at % out.length;
        if (op === 'flip' && out.length > 0) out[i] = v;
        else if (op === 'cut') out = Buffer.concat([out.subarray(0, i), out.subarray(i + 1 + (v % 8))]);
        else if (op === 'insert') out = Buffer.concat([out.subarray(0, i), Buffer.from([v, (v * 7) & 255]), out.subarray(i)]);
        else if (op === 'truncate') out = out.subarray(0, i);
      }
      return new Uint8Array(out);
    });
}

function countPoints(b: MetricsBatch): number {
  let n = 0;
  for (const rm of b.resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) n += m.points.length;
  return n;
}

function checkDecodeResult(what: string, r: { rejected: number; errors: string[] }): void {
  expect(r.rejected, `${what}: rejected`).to.be.a('number').and.at.least(0);
  expect(r.errors.length, `${what}: errors kept`).to.be.at.most(10);
  if (r.rejected > 0) expect(r.errors.length, `${what}: a reason for each reject`).to.be.at.least(1);
  for (const e of r.errors) expect(e, `${what}: reason`).to.be.a('string').and.not.equal('');
}

// ---- OTLP --------------------------------------------------------------------

describe('fuzz: OTLP decoders', function () {
  this.timeout(60_000);

  it('JSON metrics: near-valid documents, random JSON, random text → a result or a DecodeError, bounded', () => {
    const input = fc.oneof(
      { weight: 4, arbitrary: metricsDoc.map((d) => JSON.stringify(d)) },
      { weight: 1, arbitrary: json.map((d) => JSON.stringify(d)) },
      { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
      { weight: 1, arbitrary: metricsDoc.map((d) => JSON.stringify(d)).chain((s) => fc.nat({ max: s.length }).map((k) => s.slice(0, k))) },
    );
    fc.assert(
      fc.property(input, (text) => {
        const r = expectOnly('decodeMetricsJson', [DecodeError], () => decodeMetricsJson(text, { maxAttributes: 8, maxDepth: 4, maxValueLength: 64 }));
        if (r === undefined) return;
        checkDecodeResult('metrics json', r);
        // a point takes at least a few bytes on the wire: output bounded by input
        expect(countPoints(r.data)).to.be.at.most(text.length);
        // what was accepted encodes and decodes back to the same points
        const again = decodeMetricsJson(encodeMetricsJson(r.data));
        expect(again.rejected).to.equal(0);
        expect(countPoints(again.data)).to.equal(countPoints(r.data));
      }),
      params(7001),
    );
  });

  it('JSON logs: near-valid documents and random JSON → a result or a DecodeError, bounded', () => {
    const input = fc.oneof(
      { weight: 4, arbitrary: logsDoc.map((d) => JSON.stringify(d)) },
      { weight: 1, arbitrary: json.map((d) => JSON.stringify(d)) },
      { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    );
    fc.assert(
      fc.property(input, (text) => {
        const r = expectOnly('decodeLogsJson', [DecodeError], () => decodeLogsJson(text, { maxAttributes: 8, maxDepth: 4, maxValueLength: 64 }));
        if (r === undefined) return;
        checkDecodeResult('logs json', r);
        expect(r.data.events.length).to.be.at.most(text.length);
        for (const ev of r.data.events) {
          expect(ev.timeUnixNano).to.be.a('bigint');
          for (const v of Object.values(ev.attributes)) if (typeof v === 'string') expect(v.length).to.be.at.most(64 * 20);
        }
      }),
      params(7002),
    );
  });

  it('protobuf metrics: valid encodings with bytes flipped, cut, inserted, and random bytes → a result or a DecodeError, bounded', () => {
    const valid = metricsDoc.map((d) => {
      try {
        return encodeMetricsProto(decodeMetricsJson(JSON.stringify(d)).data);
      } catch {
        return new Uint8Array(0);
      }
    });
    const input = fc.oneof(
      { weight: 1, arbitrary: valid },
      { weight: 4, arbitrary: mutated(valid) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) },
    );
    fc.assert(
      fc.property(input, (buf) => {
        const r = expectOnly('decodeMetricsProto', [DecodeError], () => decodeMetricsProto(buf, { maxAttributes: 8, maxDepth: 4, maxValueLength: 64 }));
        if (r === undefined) return;
        checkDecodeResult('metrics proto', r);
        // every point needs at least its tag and a length/field byte
        expect(countPoints(r.data)).to.be.at.most(buf.length);
        const back = decodeMetricsProto(encodeMetricsProto(r.data));
        expect(countPoints(back.data)).to.equal(countPoints(r.data));
      }),
      params(7003),
    );
  });

  it('protobuf logs: random and mutated bytes → a result or a DecodeError, bounded', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          mutated(fc.constant(new Uint8Array([0x0a, 0x0e, 0x12, 0x0c, 0x12, 0x0a, 0x2a, 0x08, 0x0a, 0x06, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x21]))),
        ),
        (buf) => {
          const r = expectOnly('decodeLogsProto', [DecodeError], () => decodeLogsProto(buf, { maxAttributes: 8, maxDepth: 4, maxValueLength: 64 }));
          if (r === undefined) return;
          checkDecodeResult('logs proto', r);
          expect(r.data.events.length).to.be.at.most(buf.length);
        },
      ),
      params(7004),
    );
  });

  it('deep nesting and huge attribute counts are cut by the limits, not by the stack', () => {
    // 3000 levels of arrayValue, written as text (JSON.stringify would itself recurse)
    const deep = `${'{"arrayValue":{"values":['.repeat(3000)}{"stringValue":"x"}${']}}'.repeat(3000)}`;
    const many = JSON.stringify(Array.from({ length: 5000 }, (_, i) => ({ key: `k${i}`, value: { intValue: String(i) } })));
    const text = `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[{"asInt":"1","timeUnixNano":"1","attributes":[{"key":"k","value":${deep}}]},{"asInt":"2","timeUnixNano":"1","attributes":${many}}]}}]}]}]}`;
    const r = timed('deep JSON', () => decodeMetricsJson(text));
    expect(r.rejected).to.equal(2);
    expect(r.errors.join('\n')).to.match(/depth|nest/i);
    expect(r.errors.join('\n')).to.match(/attributes/i);
  });
});

// ---- errors receiver ---------------------------------------------------------

describe('fuzz: errors JSON/NDJSON parser', function () {
  this.timeout(60_000);
  const lim: ParseLimits = { maxEvents: 20, maxAttributes: 8, maxValueLength: 64, maxKeyLength: 32 };
  const event = fc.record(
    {
      timestamp: maybe(
        fc.oneof(
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          fc.integer(),
          fc.double(),
          fc.string({ maxLength: 30 }),
        ),
      ),
      error_class: maybe(fc.string({ maxLength: 10 })),
      message: maybe(fc.string({ maxLength: 80 })),
      application: maybe(fc.string({ maxLength: 8 })),
      attributes: maybe(fc.dictionary(fc.string({ maxLength: 40 }), json, { maxKeys: 10 })),
    },
    { requiredKeys: [] },
  );
  const body = fc.oneof(
    { weight: 2, arbitrary: event.map((e) => JSON.stringify(e)) },
    { weight: 2, arbitrary: fc.array(maybe(event), { maxLength: 30 }).map((a) => JSON.stringify(a)) },
    { weight: 2, arbitrary: fc.array(maybe(event), { maxLength: 30 }).map((a) => a.map((x) => JSON.stringify(x)).join('\n')) },
    {
      weight: 1,
      arbitrary: fc
        .array(
          fc.oneof(
            event.map((e) => JSON.stringify(e)),
            fc.string({ maxLength: 30 }),
            fc.constant(''),
          ),
          { maxLength: 10 },
        )
        .map((l) => l.join('\n')),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  );

  it('JSON object, array or NDJSON → events within max_events, every reject with its index and reason', () => {
    fc.assert(
      fc.property(body, fc.boolean(), (text, ndjson) => {
        const r = timed('parseErrorsBody', () => parseErrorsBody(text, 1700000000000000000n, lim, ndjson));
        expect(r.events.length).to.be.at.most(lim.maxEvents);
        expect(r.rejected).to.be.at.least(r.rejections.length);
        expect(r.rejections.length).to.be.at.most(100);
        for (const x of r.rejections) {
          expect(x.index).to.be.a('number').and.at.least(0);
          expect(x.reason).to.be.a('string').and.not.equal('');
        }
        if (!r.readable) {
          expect(r.error).to.be.a('string').and.not.equal('');
          expect(r.events).to.have.length(0);
        }
        for (const ev of r.events) {
          expect(ev.timeUnixNano).to.be.a('bigint');
          expect(Object.keys(ev.attributes).length).to.be.at.most(lim.maxAttributes + 8);
          for (const [k, v] of Object.entries(ev.attributes)) {
            expect(k.length).to.be.at.most(lim.maxKeyLength);
            if (typeof v === 'string') expect(v.length).to.be.at.most(lim.maxValueLength + 3);
          }
        }
      }),
      params(7101),
    );
  });
});

// ---- StatsD ------------------------------------------------------------------

describe('fuzz: StatsD line parser', function () {
  this.timeout(60_000);
  const part = fc.oneof(
    fc.string({ maxLength: 10 }),
    fc.constantFrom(':', '|', '@', '#', '|T', '|c', '|g', '|ms', '|h', '|d', '|s', ',', '+', '-', '.', 'e', '1', '0.5', '\r', '\n', '_e{', '_sc'),
  );
  const line = fc.oneof(
    fc
      .tuple(
        fc.string({ maxLength: 12 }),
        fc.array(fc.oneof(fc.double().map(String), fc.integer().map(String), fc.string({ maxLength: 5 })), { minLength: 1, maxLength: 4 }),
        fc.constantFrom('c', 'g', 'ms', 'h', 'd', 's', 'x', ''),
        fc.option(fc.oneof(fc.double().map(String), fc.string({ maxLength: 4 }))),
        fc.option(fc.array(fc.string({ maxLength: 8 }), { maxLength: 4 })),
        fc.option(fc.oneof(fc.nat().map(String), fc.string({ maxLength: 4 }))),
      )
      .map(
        ([n, vs, t, rate, tags, ts]) =>
          `${n}:${vs.join(':')}|${t}${rate !== null ? `|@${rate}` : ''}${tags !== null ? `|#${tags.join(',')}` : ''}${ts !== null ? `|T${ts}` : ''}`,
      ),
    fc.array(part, { maxLength: 20 }).map((p) => p.join('')),
  );
  const packet = fc.array(line, { maxLength: 12 }).map((l) => l.join('\n'));

  it('packets of near-valid and random lines → each line parsed or rejected with a documented reason, bounded', () => {
    fc.assert(
      fc.property(packet, (s) => {
        const out = newParsedLine();
        let good = 0;
        let bad = 0;
        let values = 0;
        const reasons: BadLineReason[] = [];
        timed('parsePacket', () =>
          parsePacket(s, out, {
            line: (l) => {
              good++;
              values += l.count;
              expect(l.name).to.not.equal('');
              expect(l.sampleRate).to.be.greaterThan(0).and.at.most(1);
              for (let i = 0; i < l.count; i++) if (l.type !== 's') expect(Number.isFinite(l.values[i]) || Number.isNaN(l.values[i]!) === false).to.equal(true);
              if (l.tags !== '') expect(parseTags(l.tags).length).to.be.at.most(l.tags.length + 1);
            },
            bad: (r, str, a, b) => {
              bad++;
              reasons.push(r);
              expect(b).to.be.at.least(a);
              expect(b).to.be.at.most(str.length);
            },
          }),
        );
        for (const r of reasons) expect(BAD_LINE_REASONS).to.include(r);
        // no more lines than newlines + 1; no more values than characters
        expect(good + bad).to.be.at.most(s.split('\n').length);
        expect(values).to.be.at.most(s.length);
        expect(out.values.length).to.be.at.most(s.length + 1);
      }),
      params(7201),
    );
  });
});

// ---- Sentry ------------------------------------------------------------------

describe('fuzz: Sentry envelopes and events', function () {
  this.timeout(60_000);
  const itemHeader = fc.record(
    { type: maybe(fc.constantFrom('event', 'attachment', 'session', 'client_report', '')), length: fc.option(maybe(fc.nat({ max: 400 })), { nil: undefined }) },
    { requiredKeys: ['type'] },
  );
  const envelope = fc
    .tuple(
      maybe(
        fc.record(
          {
            event_id: fc.uuid().map((u) => u.replaceAll('-', '')),
            sent_at: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
            dsn: fc.constant('https://k@h/1'),
          },
          { requiredKeys: [] },
        ),
      ),
      fc.array(
        fc.tuple(
          itemHeader,
          json.map((j) => JSON.stringify(j)),
        ),
        { maxLength: 8 },
      ),
      fc.boolean(),
    )
    .map(([h, items, trailing]) =>
      Buffer.from(`${JSON.stringify(h)}\n${items.map(([ih, p]) => `${JSON.stringify(ih)}\n${p}`).join('\n')}${trailing ? '\n' : ''}`),
    );
  const input = fc.oneof(
    envelope,
    mutated(envelope.map((b) => new Uint8Array(b))).map((u) => Buffer.from(u)),
    fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u)),
  );

  it('envelopes → items within max_items and within the buffer, or one clear error', () => {
    fc.assert(
      fc.property(input, fc.integer({ min: 1, max: 6 }), (buf, maxItems) => {
        const r = timed('parseEnvelope', () => parseEnvelope(buf, maxItems));
        if (!r.ok) {
          expect(r.error).to.be.a('string').and.not.equal('');
          return;
        }
        const total = Object.values(r.envelope.items).reduce((a, b) => a + b, 0);
        expect(total).to.be.at.most(maxItems);
        expect(r.envelope.events.length).to.be.at.most(total);
        let bytes = 0;
        for (const e of r.envelope.events) bytes += e.length;
        expect(bytes).to.be.at.most(buf.length);
      }),
      params(7301),
    );
  });

  it('events (random JSON objects with Sentry keys) → attributes within the limits, or one clear error', () => {
    const ev = fc.record(
      {
        event_id: maybe(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 32 })),
        timestamp: maybe(
          fc.oneof(
            fc.double(),
            fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          ),
        ),
        release: maybe(fc.string({ maxLength: 30 })),
        environment: maybe(fc.string({ maxLength: 8 })),
        level: maybe(fc.string({ maxLength: 6 })),
        platform: maybe(fc.string({ maxLength: 6 })),
        message: maybe(fc.oneof(fc.string({ maxLength: 200 }), fc.record({ formatted: fc.string({ maxLength: 20 }) }))),
        exception: maybe(
          fc.record({
            values: maybe(
              fc.array(
                fc.record(
                  {
                    type: maybe(fc.string({ maxLength: 12 })),
                    value: maybe(fc.string({ maxLength: 200 })),
                    stacktrace: maybe(
                      fc.record({
                        frames: maybe(
                          fc.array(
                            fc.record(
                              {
                                filename: maybe(fc.string({ maxLength: 20 })),
                                function: maybe(fc.string({ maxLength: 10 })),
                                in_app: maybe(fc.boolean()),
                                module: maybe(fc.string({ maxLength: 8 })),
                              },
                              { requiredKeys: [] },
                            ),
                            { maxLength: 8 },
                          ),
                        ),
                      }),
                    ),
                  },
                  { requiredKeys: [] },
                ),
                { maxLength: 3 },
              ),
            ),
          }),
        ),
        tags: maybe(
          fc.oneof(
            fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 100 }), { maxKeys: 40 }),
            fc.array(fc.tuple(fc.string({ maxLength: 8 }), json), { maxLength: 40 }),
          ),
        ),
        fingerprint: maybe(fc.array(fc.string({ maxLength: 12 }), { maxLength: 4 })),
        user: maybe(fc.record({ id: maybe(fc.string({ maxLength: 8 })) }, { requiredKeys: [] })),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(ev, (e) => {
        const r = expectOnly('mapSentryEvent', [], () =>
          mapSentryEvent(e as Record<string, unknown>, 1700000000000000000n, undefined, { application: 'app', maxValueLength: 50, maxTags: 10 }),
        );
        if (r === undefined) return;
        if (!r.ok) {
          expect(r.error).to.be.a('string').and.not.equal('');
          return;
        }
        expect(r.timeUnixNano).to.be.a('bigint');
        const keys = Object.keys(r.attributes);
        expect(keys.length).to.be.at.most(10 + 30);
        // user values are clipped to max_value_length; derived ones (the 64-hex fingerprint) are bounded by construction
        for (const v of Object.values(r.attributes)) if (typeof v === 'string') expect(v.length).to.be.at.most(64);
      }),
      params(7302),
    );
  });
});

// ---- importer ----------------------------------------------------------------

describe('fuzz: importer rows', function () {
  this.timeout(60_000);
  const spec: ImporterSpec = {
    name: 'sessions',
    query: 'q',
    value_column: 'v',
    time_column: 't',
    time_unit: 'ms',
    attributes: { ver: 'service.version' },
    metric: { name: 'sessions', unit: '', description: '', kind: 'delta_sum', monotonic: true, attributes: {} },
    metric_group: '',
    history: 0,
    period: 60_000,
    chunk: 3_600_000,
    delay: 0,
    align: 60_000,
  };
  const cell = fc.oneof(
    fc.constant(null),
    fc.integer(),
    fc.double(),
    fc.string({ maxLength: 12 }),
    fc.boolean(),
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
    fc.date({ noInvalidDate: true }),
    fc.integer({ min: 1_699_999_000_000, max: 1_700_001_000_000 }),
  );
  const rs: fc.Arbitrary<ResultSet> = fc
    .tuple(
      fc.oneof(fc.constant(['t', 'v', 'ver']), fc.shuffledSubarray(['t', 'v', 'ver', 'x'])),
      fc.array(fc.array(cell, { minLength: 0, maxLength: 5 }), { maxLength: 30 }),
    )
    .map(([columns, rows]) => ({ columns: [...columns], rows }));

  it('mapRows: random cells and columns → points ≤ rows, skips counted with a reason, or a MappingError', () => {
    fc.assert(
      fc.property(rs, (set) => {
        const r = expectOnly('mapRows', [MappingError], () => mapRows(set, spec, 'ms', 1_699_999_000_000, 1_700_001_000_000, 'importer'));
        if (r === undefined) return;
        expect(r.points + r.skipped).to.equal(set.rows.length);
        expect(countPoints(r.batch)).to.equal(r.points);
        if (r.skipped > 0) expect(r.firstSkip).to.be.a('string').and.not.equal('');
      }),
      params(7401),
    );
  });

  it('graphite and InfluxDB response bodies (random JSON) → a result set or a MappingError', () => {
    const graphite = fc.array(
      fc.record(
        {
          target: maybe(fc.string({ maxLength: 8 })),
          tags: maybe(fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }))),
          datapoints: maybe(fc.array(fc.tuple(maybe(fc.double()), maybe(fc.integer())), { maxLength: 6 })),
        },
        { requiredKeys: [] },
      ),
      { maxLength: 4 },
    );
    const influx = fc.record(
      {
        results: maybe(
          fc.array(
            fc.record(
              {
                series: maybe(
                  fc.array(
                    fc.record(
                      {
                        name: maybe(fc.string({ maxLength: 5 })),
                        columns: maybe(fc.array(fc.string({ maxLength: 4 }), { maxLength: 4 })),
                        values: maybe(fc.array(fc.array(json, { maxLength: 4 }), { maxLength: 6 })),
                        tags: maybe(fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }))),
                      },
                      { requiredKeys: [] },
                    ),
                    { maxLength: 3 },
                  ),
                ),
                error: fc.option(fc.string({ maxLength: 10 }), { nil: undefined }),
              },
              { requiredKeys: [] },
            ),
            { maxLength: 2 },
          ),
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.oneof(graphite, influx, json, fc.array(fc.oneof(fc.constant(null), json, fc.record({ datapoints: json, tags: json })), { maxLength: 4 })),
        (body) => {
          // graphiteRows refuses a non-list with a plain Error naming the problem; InfluxDB's own errors are SourceQueryError
          for (const [what, fn, errs] of [
            ['graphiteRows', graphiteRows, [Error]],
            ['influxRows', influxRows, [SourceQueryError]],
          ] as const) {
            const r = expectOnly(what, [...errs], () => fn(body));
            if (r === undefined) continue;
            expect(r.columns).to.be.an('array');
            for (const row of r.rows) expect(row.length).to.be.at.most(Math.max(r.columns.length, 64));
          }
        },
      ),
      params(7402),
    );
  });
});
