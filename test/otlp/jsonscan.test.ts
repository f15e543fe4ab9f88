/**
 * The OTLP/JSON metrics fast path (src/otlp/jsonscan.ts) against the general
 * path (src/otlp/json.ts `decodeMetricsJson`), differentially: for every
 * body, generated or mutated, either the fast path declines (undefined: the
 * receiver then runs the general path, so its answer is the general path's
 * by construction) or it returns exactly what the general path returns for
 * the body's text: the same model (key order, -0, bigints, `__proto__` keys
 * included), no rejections, no messages; and never throws.
 *
 * Bodies: seeded random requests (every metric type, every AnyValue kind,
 * nested arrays and kvlists, int64 as strings and as literals above 2^53,
 * "NaN" / "Infinity" strings, -0, exponents, nulls, unknown and snake_case
 * keys, duplicate keys, escapes, non-ASCII, whitespace), each one also cut
 * short and with bytes replaced, inserted and deleted, under the default and
 * under small random limits (attributes, depth, string length); and a list
 * of hand-written edge cases. The generated valid bodies in the common shape
 * must take the fast path (the test would otherwise pass with a fast path
 * that always declines).
 */
import { expect } from 'chai';
import { isUtf8 } from 'node:buffer';
import { deepStrictEqual } from 'node:assert';
import { decodeMetricsJson, encodeMetricsJson } from '../../src/otlp/json.js';
import { scanMetricsJson } from '../../src/otlp/jsonscan.js';
import type { DecodeLimits } from '../../src/otlp/types.js';
import { fullBatch } from './helpers.js';
import { benchBatch } from '../../bench/payload.js';
import { prng as rng } from '../helpers/prng.js';

/** a canonical string of a decoded value: own keys in order, prototypes, -0, bigint vs number, bytes */
function canon(v: unknown): string {
  switch (typeof v) {
    case 'bigint':
      return v.toString() + 'n';
    case 'number':
      return Object.is(v, -0) ? '-0' : String(v);
    case 'string':
      return JSON.stringify(v);
    case 'boolean':
    case 'undefined':
      return String(v);
    default: {
      if (v === null) return 'null';
      if (v instanceof Uint8Array) return 'bytes(' + Buffer.from(v).toString('hex') + ')';
      if (Array.isArray(v)) return '[' + v.map(canon).join(',') + ']';
      const proto = Object.getPrototypeOf(v) === Object.prototype ? '' : '!proto';
      const o = v as Record<string, unknown>;
      return proto + '{' + Object.getOwnPropertyNames(o).map((k) => JSON.stringify(k) + ':' + canon(o[k])) + '}';
    }
  }
}

type Outcome = { kind: 'threw'; message: string } | { kind: 'ok'; result: ReturnType<typeof decodeMetricsJson> };

/** what the receiver's general path makes of the body: the UTF-8 check, the BOM dropped, decodeMetricsJson */
function general(body: Buffer, limits?: Partial<DecodeLimits>): Outcome {
  if (!isUtf8(body)) return { kind: 'threw', message: 'invalid UTF-8' };
  let text = body.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return { kind: 'ok', result: decodeMetricsJson(text, limits) };
  } catch (err) {
    return { kind: 'threw', message: String(err) };
  }
}

const stats = { fast: 0, declined: 0 };

/** the differential check of one body; true when the fast path took it */
function check(body: Buffer | string, limits?: Partial<DecodeLimits>): boolean {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const fast = scanMetricsJson(buf, limits); // must not throw
  const want = general(buf, limits);
  if (fast === undefined) {
    stats.declined++;
    return false;
  }
  stats.fast++;
  const show = buf.toString('utf8').slice(0, 400);
  if (want.kind === 'threw') throw new Error(`fast path answered a body the general path refuses (${want.message}): ${show}`);
  if (canon(fast) !== canon(want.result)) {
    throw new Error(`fast path and general path differ for ${show}\nfast:    ${canon(fast).slice(0, 2000)}\ngeneral: ${canon(want.result).slice(0, 2000)}`);
  }
  deepStrictEqual(fast, want.result);
  return true;
}

// ---- a seeded generator of request bodies, as text (numbers written as chosen, keys in any order) ----

/** a JSON text fragment */
class Raw {
  constructor(readonly text: string) {}
}
type J = Raw | Entries | string | number | boolean | null | J[] | { [k: string]: J };
/** an object with its entries in this order (duplicates allowed) */
class Entries {
  constructor(readonly entries: Array<[string, J]>) {}
}

interface Gen {
  r: () => number;
  /** 0..1: how often the generator strays from the common shape */
  odd: number;
  ws: boolean;
}

const pick = <T>(g: Gen, xs: readonly T[]): T => xs[Math.floor(g.r() * xs.length)] as T;
const chance = (g: Gen, p: number): boolean => g.r() < p;
const oddly = (g: Gen, p = 1): boolean => g.r() < g.odd * p;

function write(v: J, g: Gen): string {
  const sp = () => (g.ws && chance(g, 0.3) ? pick(g, [' ', '\n', '\t', '\r\n  ', '  ']) : '');
  if (v instanceof Raw) return v.text;
  if (v instanceof Entries) return '{' + sp() + v.entries.map(([k, x]) => JSON.stringify(k) + sp() + ':' + sp() + write(x, g)).join(',' + sp()) + sp() + '}';
  if (Array.isArray(v)) return '[' + sp() + v.map((x) => write(x as J, g)).join(',' + sp()) + sp() + ']';
  if (v !== null && typeof v === 'object') return write(new Entries(Object.entries(v)), g);
  return JSON.stringify(v);
}

/** entries in a random order, sometimes with an unknown key, a snake_case twin, a duplicate or a null */
function obj(g: Gen, entries: Array<[string, J | undefined]>): Entries {
  const out = entries.filter((e): e is [string, J] => e[1] !== undefined);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(g.r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  if (oddly(g, 0.1))
    out.splice(Math.floor(g.r() * (out.length + 1)), 0, [
      pick(g, ['x', 'extra', 'otherField', '__proto__', 'toString']),
      pick(g, [1, 'x', null, [1, { a: [] }], { b: true }]),
    ]);
  if (out.length > 0 && oddly(g, 0.03)) {
    const [k, v] = pick(g, out);
    out.push([k, chance(g, 0.5) ? v : null]); // a key twice
  }
  if (out.length > 0 && oddly(g, 0.03)) {
    const [k, v] = pick(g, out);
    const snake = k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
    if (snake !== k) out.push([snake, v]);
  }
  if (out.length > 0 && oddly(g, 0.02)) pick(g, out)[1] = null;
  return new Entries(out);
}

const WORDS = [
  'a',
  'host',
  'http.route',
  'service.name',
  'region',
  'eu-west-1',
  '/api/v1/items/7',
  '',
  'GET',
  'x y',
  'DEL\x7f',
  '1',
  '0',
  '__proto__',
  'constructor',
];
const RAW_STRINGS = ['"\\/\\b\\f\\u00e9\\uD83D\\uDE00"', '"\\ud800"', '"x\\u0041y"', '"\\"', '"\\u12"', '"\\x"', '"\\u00zz"', '"a\u0007b"'];
const ODD_STRINGS = [
  '\ud800',
  'a\udc00b',
  '😀',
  '/',
  'ü'.repeat(40),
  'x'.repeat(70) + 'é',
  'héllo',
  'tab\there',
  'quote"d',
  'back\\slash',
  'nl\nx',
  '𝄞',
  '\u0000',
  'ctl\u0001',
  '\u2028',
];

function str(g: Gen): J {
  if (oddly(g, 0.05)) return pick(g, ODD_STRINGS);
  if (oddly(g, 0.02)) return new Raw(pick(g, RAW_STRINGS));
  if (chance(g, 0.2)) return 'v' + Math.floor(g.r() * 1000);
  if (chance(g, 0.05)) return 'long-'.repeat(Math.floor(g.r() * 20));
  return pick(g, WORDS);
}

/** an int64: decimal string or literal, small or beyond 2^53 */
function int64(g: Gen): J {
  const digits = pick(g, [
    '0',
    '7',
    '-5',
    '200',
    '1023',
    '1024',
    '-0',
    '9007199254740991',
    '9007199254740993',
    '1700000000123456789',
    '-1700000000123456789',
    '9223372036854775807',
    '123456789012345',
    '1234567890123456',
  ]);
  if (oddly(g, 0.1))
    return pick(g, [new Raw('1.0'), new Raw('1e3'), new Raw('1.5'), '', ' 5', '+5', '0x10', 'abc', '007', new Raw('-0'), true, [], {}, new Raw('1e400')]);
  return chance(g, 0.5) ? digits : new Raw(digits);
}

function double(g: Gen): J {
  if (oddly(g, 0.1)) return pick(g, ['1.5', '', ' ', 'nan', 'inf', true, [], new Raw('-0.0'), new Raw('1E400'), new Raw('01')]);
  if (chance(g, 0.1)) return pick(g, ['NaN', 'Infinity', '-Infinity']);
  return new Raw(
    pick(g, [
      '0',
      '-0',
      '1',
      '1.25',
      '-3.5',
      '0.1',
      '1e-7',
      '2.5E+10',
      '123456789012345678',
      '3.141592653589793238',
      '0.000001',
      '1e21',
      '-1.7976931348623157e308',
      '4.9e-324',
    ]),
  );
}

function anyValue(g: Gen, level: number): J {
  if (oddly(g, 0.03)) return pick(g, [null, 'str', 5, [], {}]);
  const k = Math.floor(g.r() * (level < 3 ? 8 : 5));
  switch (k) {
    case 0:
    case 1:
      return obj(g, [['stringValue', str(g)]]);
    case 2:
      return obj(g, [['intValue', int64(g)]]);
    case 3:
      return obj(g, [['doubleValue', double(g)]]);
    case 4:
      return oddly(g, 0.2) ? obj(g, [['bytesValue', 'AAEC']]) : obj(g, [['boolValue', oddly(g, 0.1) ? pick(g, ['true', 'false', 1]) : chance(g, 0.5)]]);
    case 5:
      return obj(g, [['arrayValue', obj(g, [['values', Array.from({ length: Math.floor(g.r() * 3) }, () => anyValue(g, level + 1))]])]]);
    case 6:
      return obj(g, [['kvlistValue', obj(g, [['values', Array.from({ length: Math.floor(g.r() * 3) }, () => keyValue(g, level + 1))]])]]);
    default:
      return oddly(g)
        ? obj(g, [
            ['stringValue', str(g)],
            ['intValue', int64(g)],
          ])
        : new Entries([]); // two fields, or {}
  }
}

function keyValue(g: Gen, level: number): J {
  return obj(g, [
    ['key', oddly(g, 0.05) ? pick(g, [null, 5]) : str(g)],
    ['value', anyValue(g, level)],
  ]);
}

function attributes(g: Gen, max = 6): J {
  return Array.from({ length: Math.floor(g.r() * (max + 1)) }, () => keyValue(g, 0));
}

function time(g: Gen): J | undefined {
  if (chance(g, 0.1)) return undefined;
  if (oddly(g, 0.1)) return pick(g, [null, new Raw('1700000000123456789'), new Raw('1.5'), 'x', '']);
  return pick(g, ['1700000000123456789', '1699999940123456789', '0', '5']);
}

function numberPoint(g: Gen): J {
  const v: Array<[string, J | undefined]> = [
    ['attributes', attributes(g)],
    ['startTimeUnixNano', time(g)],
    ['timeUnixNano', time(g)],
  ];
  const which = Math.floor(g.r() * 10);
  if (which < 5) v.push(['asInt', int64(g)]);
  else if (which < 9) v.push(['asDouble', double(g)]);
  else if (oddly(g)) v.push(['asInt', int64(g)], ['asDouble', double(g)]);
  if (chance(g, 0.1) || which === 9) v.push(['flags', pick(g, [0, 1, new Raw('-0'), 2])]);
  if (chance(g, 0.1)) v.push(['exemplars', oddly(g, 0.5) ? [{ asDouble: 1, timeUnixNano: '5', filteredAttributes: [] }] : []]);
  return obj(g, v);
}

/** a uint64 count: decimal string or literal */
function count(g: Gen): J {
  if (oddly(g, 0.1)) return pick(g, ['-1', new Raw('-1'), '1.5', new Raw('1.0'), new Raw('-0'), '', ' 5', null, '0x10', true, new Raw('1e3')]);
  return pick(g, ['0', '3', new Raw('5'), '007', '12345678901234567', new Raw('12345678901234567890'), new Raw('9007199254740993')]);
}

function histogramPoint(g: Gen): J {
  const n = Math.floor(g.r() * 4);
  let bounds: J[] = [];
  let b = -2;
  for (let i = 0; i < n; i++) bounds.push(new Raw(String((b += 0.5 + Math.floor(g.r() * 8) / 4))));
  let buckets: J[] = chance(g, 0.1) ? [] : Array.from({ length: n + 1 }, () => count(g));
  if (oddly(g, 0.2)) buckets = buckets.slice(1); // the wrong length
  if (oddly(g, 0.1)) bounds = [...bounds].reverse();
  if (oddly(g, 0.1)) bounds = pick(g, [['NaN'], [null], ['Infinity', '-Infinity'], [1, 1]]);
  return obj(g, [
    ['attributes', attributes(g)],
    ['startTimeUnixNano', time(g)],
    ['timeUnixNano', time(g)],
    ['count', chance(g, 0.9) ? count(g) : undefined],
    ['sum', chance(g, 0.7) ? (oddly(g, 0.1) ? null : double(g)) : undefined],
    ['min', chance(g, 0.3) ? double(g) : undefined],
    ['max', chance(g, 0.3) ? double(g) : undefined],
    ['bucketCounts', oddly(g, 0.05) ? null : buckets],
    ['explicitBounds', oddly(g, 0.05) ? null : bounds],
    ['flags', chance(g, 0.1) ? pick(g, [0, 1]) : undefined],
  ]);
}

function metric(g: Gen): J {
  const kind = chance(g, 0.9) ? pick(g, ['gauge', 'sum', 'histogram']) : pick(g, ['exponentialHistogram', 'summary']);
  const points = Array.from({ length: Math.floor(g.r() * 4) }, () =>
    kind === 'gauge' || kind === 'sum'
      ? numberPoint(g)
      : kind === 'histogram'
        ? histogramPoint(g)
        : kind === 'summary'
          ? obj(g, [
              ['timeUnixNano', time(g)],
              ['count', 2],
              ['sum', 3],
            ])
          : obj(g, [
              ['timeUnixNano', time(g)],
              ['count', 2],
              ['scale', 1],
            ]),
  ) as J;
  const data: Array<[string, J | undefined]> = [['dataPoints', points]];
  if (kind !== 'gauge' && kind !== 'summary') {
    data.push(['aggregationTemporality', oddly(g, 0.2) ? pick(g, [3, -1, 'AGGREGATION_TEMPORALITY_DELTA', '2', null]) : pick(g, [0, 1, 2])]);
  }
  if (kind === 'sum' && chance(g, 0.7)) data.push(['isMonotonic', oddly(g, 0.2) ? pick(g, ['true', 1, null]) : chance(g, 0.5)]);
  const m: Array<[string, J | undefined]> = [
    ['name', oddly(g, 0.05) ? pick(g, ['', null, 5]) : 'metric.' + Math.floor(g.r() * 20)],
    ['description', chance(g, 0.5) ? str(g) : undefined],
    ['unit', chance(g, 0.5) ? pick(g, ['ms', '1', '{request}', 'By']) : undefined],
    [kind, obj(g, data)],
  ];
  if (oddly(g, 0.05)) m.push(['metadata', attributes(g, 2)]);
  if (oddly(g, 0.03)) m.push([pick(g, ['gauge', 'sum']), obj(g, [['dataPoints', []]])]);
  return obj(g, m);
}

function request(g: Gen): string {
  const rms = Array.from({ length: Math.floor(g.r() * 3) }, () =>
    obj(g, [
      [
        'resource',
        chance(g, 0.9)
          ? obj(g, [
              ['attributes', attributes(g)],
              ['droppedAttributesCount', chance(g, 0.2) ? pick(g, [0, 2]) : undefined],
            ])
          : undefined,
      ],
      [
        'scopeMetrics',
        Array.from({ length: Math.floor(g.r() * 3) }, () =>
          obj(g, [
            [
              'scope',
              chance(g, 0.8)
                ? obj(g, [
                    ['name', str(g)],
                    ['version', chance(g, 0.5) ? '1.0.0' : undefined],
                    ['attributes', chance(g, 0.3) ? attributes(g, 2) : undefined],
                  ])
                : undefined,
            ],
            ['metrics', Array.from({ length: Math.floor(g.r() * 4) }, () => metric(g)) as J],
            ['schemaUrl', chance(g, 0.2) ? 'https://opentelemetry.io/schemas/1.21.0' : undefined],
          ]),
        ) as J,
      ],
      ['schemaUrl', chance(g, 0.2) ? 'https://opentelemetry.io/schemas/1.20.0' : undefined],
    ]),
  );
  return write(obj(g, [['resourceMetrics', rms]]), g);
}

/** a copy of `body` with one random edit: cut, byte replaced, inserted or deleted */
function mutate(body: Buffer, r: () => number): Buffer {
  const at = Math.floor(r() * body.length);
  const bytes = [
    0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x20, 0x30, 0x31, 0x39, 0x2d, 0x2e, 0x65, 0x6e, 0x74, 0x66, 0x61, 0x00, 0x1f, 0x7f, 0xc3, 0xa9, 0xff, 0xef,
  ];
  const b = bytes[Math.floor(r() * bytes.length)]!;
  switch (Math.floor(r() * 4)) {
    case 0:
      return body.subarray(0, at);
    case 1: {
      const c = Buffer.from(body);
      c[at] = b;
      return c;
    }
    case 2:
      return Buffer.concat([body.subarray(0, at), Buffer.from([b]), body.subarray(at)]);
    default:
      return Buffer.concat([body.subarray(0, at), body.subarray(at + 1)]);
  }
}

describe('otlp/jsonscan: the JSON metrics fast path against the general path', () => {
  beforeEach(() => {
    stats.fast = 0;
    stats.declined = 0;
  });

  it('takes the bench payload and the common shape, with the same result', () => {
    const common = {
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
          scopeMetrics: [
            {
              scope: { name: 'lib', version: '1.0.0' },
              metrics: [
                {
                  name: 'http.requests',
                  unit: '1',
                  sum: {
                    aggregationTemporality: 2,
                    isMonotonic: true,
                    dataPoints: [
                      {
                        asInt: '5',
                        startTimeUnixNano: '1700000000000000000',
                        timeUnixNano: '1700000010000000000',
                        attributes: [{ key: 'route', value: { stringValue: '/a' } }],
                      },
                    ],
                  },
                },
                { name: 'temp', gauge: { dataPoints: [{ asDouble: 21.5, timeUnixNano: '1700000010000000000', attributes: [] }] } },
              ],
            },
          ],
        },
      ],
    };
    expect(check(JSON.stringify(common))).to.equal(true);
    expect(check(JSON.stringify(common, null, 2))).to.equal(true);
    expect(check(encodeMetricsJson(benchBatch()))).to.equal(true);
    // the model's gauges and sums as this codebase encodes them (bigints, -0, kvlists, arrays, __proto__)
    const full = fullBatch();
    for (const rm of full.resourceMetrics) {
      for (const sm of rm.scopeMetrics) sm.metrics = sm.metrics.filter((m) => m.kind === 'gauge' || m.kind === 'sum');
      for (const k of ['bytes', 'unicode']) delete rm.resource.attributes[k]; // declined: bytesValue, non-ASCII
      const kv = rm.resource.attributes['kv'] as Record<string, unknown> | undefined;
      if (kv !== undefined) delete kv['b'];
    }
    expect(check(encodeMetricsJson(full))).to.equal(false); // exemplars, metadata: declined
    for (const rm of full.resourceMetrics) {
      for (const sm of rm.scopeMetrics) {
        for (const m of sm.metrics) {
          delete m.metadata;
          for (const p of m.points) delete p.exemplars;
        }
      }
    }
    const text = encodeMetricsJson(full);
    expect(check(text), text.slice(0, 300)).to.equal(true);
    expect(text).to.include('"__proto__"').and.include('-9223372036854775808').and.include('"-Infinity"').and.include('kvlistValue');
  });

  it('hand-written edge cases: the same result, or declined', () => {
    const m = (point: string, extra = '') => `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m"${extra},"gauge":{"dataPoints":[${point}]}}]}]}]}`;
    const h = (fields: string) => `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","histogram":{"dataPoints":[{${fields}}]}}]}]}]}`;
    const a = (value: string) => m(`{"asInt":"1","attributes":[{"key":"k","value":${value}}]}`);
    const taken = [
      m('{"asInt":"-0"}'),
      m('{"asInt":-0}'),
      m('{"asInt":"007"}'),
      m('{"asInt":9007199254740993,"timeUnixNano":1700000000123456789}'),
      m('{"asInt":"-9223372036854775808","startTimeUnixNano":"-5"}'),
      m('{"asInt":1234567890123456}'),
      m('{"asDouble":-0}'),
      m('{"asDouble":"NaN"}'),
      m('{"asDouble":"-Infinity"}'),
      m('{"asDouble":1E400}'),
      m('{"asDouble":123456789012345678901234567890}'),
      m('{"asDouble":0.30000000000000004}'),
      m('{"asDouble":1,"asInt":"2"}'),
      m('{"asInt":"2","asDouble":1}'),
      m('{"flags":1}'),
      m('{"flags":-0,"asInt":"1"}'),
      m('{"asInt":"1","exemplars":[]}'),
      m('{"asInt":"1","exemplars":null,"timeUnixNano":null,"attributes":null}'),
      m('{"asInt":"1","unknown":{"a":[1,2,{"b":null}],"c":"\\u0041"}}'.replace('\\u0041', 'x')),
      m(''),
      a('{}'),
      a('null'),
      a('{"intValue":"18446744073709551616"}'),
      a('{"doubleValue":"Infinity"}'),
      a('{"arrayValue":{}}'),
      a('{"stringValue":"a\\"b"}'),
      a('{"stringValue":"é ✓ 𝄞 \\u00e9 \\ud83d\\ude00 \\udc00 \\/ \\b\\f\\n\\r\\t \\u0000"}'),
      a('{"stringValue":"x","unknown":"\\u0041\\n","more":{"k\\u00e9y":["é"]}}'),
      m('{"asInt":"1","attributes":[{"key":"\\u00e9\\"","value":{"stringValue":"ü"}},{"key":"__prot\\u006f__","value":{"stringValue":"p"}}]}'),
      m('{"asInt":"1"}', ',"description":"caf\\u00e9 ☕","unit":"µs"'),
      m('{"asDouble":"N\\u0061N"}'),
      a('{"stringValue":"\\u00C9\\uD83D\\uDE00\\u00Ff"}'),
      a('{"arrayValue":{"values":null}}'),
      a('{"arrayValue":{"values":[null,{},{"kvlistValue":{"values":[{"key":"z"}]}}]}}'),
      m(
        '{"asInt":"1","attributes":[{"key":"__proto__","value":{"stringValue":"x"}},{"key":"2","value":{"stringValue":"b"}},{"key":"1","value":{"stringValue":"a"}},{"key":"k","value":{"boolValue":true}},{"key":"k","value":{"boolValue":false}}]}',
      ),
      m('{"asInt":"1","attributes":[{"value":{"stringValue":"no key"}},{"key":null}]}'),
      m('{"asInt":"1"}', ',"description":null,"unit":null'),
      '{"resourceMetrics":[]}',
      '{"resourceMetrics":null}',
      '{}',
      ' \n\t{ "resourceMetrics" : [ { } ] } \r\n',
      '{"resourceMetrics":[{"resource":null,"scopeMetrics":null,"schemaUrl":null}]}',
      '{"resourceMetrics":[{"scopeMetrics":[{"scope":{"name":null,"droppedAttributesCount":3},"metrics":[]}]}]}',
      '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"s","sum":{}}]}]}]}',
      '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"s","sum":{"dataPoints":null,"aggregationTemporality":0,"isMonotonic":null}}]}]}]}',
      '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[],"aggregationTemporality":"x","isMonotonic":7}}]}]}]}',
      '{"other":1,"resourceMetrics":[]}',
      '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","histogram":{"dataPoints":[]}}]}]}]}',
      h('"count":"12345678901234567","sum":null,"min":-0,"max":"Infinity","bucketCounts":[null,"007",3],"explicitBounds":[-1.5,"Infinity"]'),
      h('"count":12345678901234567890,"bucketCounts":[],"explicitBounds":[1,2,3],"flags":1,"exemplars":[]'),
      h('"explicitBounds":["-Infinity"],"bucketCounts":[1,2]'),
      h('"count":"1"').replace('"histogram":{', '"histogram":{"isMonotonic":"x","aggregationTemporality":2,'),
    ];
    for (const body of taken) expect(check(body), body).to.equal(true);
    const declined = [
      '',
      'null',
      '[]',
      '"x"',
      '{"resourceMetrics":{}}',
      '{"resourceMetrics":[]} x',
      '{"resourceMetrics":[],}',
      '{"resourceMetrics":[],"resourceMetrics":[]}',
      '{"resource_metrics":[]}',
      '\ufeff{"resourceMetrics":[]}',
      '{"resourceMetrics":[null]}',
      m('{"asInt":""}'),
      m('{"asInt":" 5"}'),
      m('{"asInt":"+5"}'),
      m('{"asInt":"0x10"}'),
      m('{"asInt":1.0}'),
      m('{"asInt":1e3}'),
      m('{"asInt":1.5}'),
      m('{"asInt":01}'),
      m('{"asInt":null,"asDouble":1}'),
      m('{"asDouble":"1.5"}'),
      m('{"asDouble":null}'),
      m('{}'),
      m('{"flags":2}'),
      m('{"flags":"1"}'),
      m('{"flags":01,"asInt":"1"}'),
      m('{"flags":-01,"asInt":"1"}'),
      m('{"asInt":"1"}').replace('"scopeMetrics"', '"resource":{"droppedAttributesCount":00},"scopeMetrics"'),
      m('{"asInt":"1x"}'),
      m('{"asInt":"1 "}'),
      m('{"asInt":"1","timeUnixNano":"17x"}'),
      m('{"asInt":"1","asInt":"2"}'),
      m('{"asInt":"1","as_int":"2"}'),
      m('{"asInt":"1","time_unix_nano":"2"}'),
      m('{"asInt":"1","exemplars":[{}]}'),
      m('{"asInt":"1","timeUnixNano":"1.5"}'),
      m('{"asInt":"1","attributes":[1]}'),
      m('{"asInt":"1","attributes":{}}'),
      m('{"asInt":"1"}', ',"name":"again"'),
      m('{"asInt":"1"}', ',"metadata":[]'),
      m('{"asInt":"1"}', ',"sum":{}'),
      m('{"asInt":"1"}', ',"description":5'),
      a('{"stringValue":"tab\there"}'),
      a('{"stringValue":"bad \\x escape"}'),
      a('{"stringValue":"bad \\u00g0"}'),
      a('{"stringValue":"short \\u00"}'),
      m('{"asInt":"1","n\\u0061me":"x"}'),
      m('{"asInt":"1","timeUnixNano":"\\u0031"}'),
      m('{"asInt":"1","\\u0061sInt":"2"}'),
      a('{"stringValue":null}'),
      a('{"stringValue":5}'),
      a('{"intValue":null}'),
      a('{"intValue":"1","stringValue":"x"}'),
      a('{"boolValue":"true"}'),
      a('{"bytesValue":"AAE="}'),
      a('{"string_value":"x"}'),
      '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"","gauge":{}}]}]}]}',
      '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"s","sum":{"aggregationTemporality":3}}]}]}]}',
      '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"s","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA"}}]}]}]}',
      '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"e","exponentialHistogram":{"dataPoints":[]}}]}]}]}',
      '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"s","summary":{"dataPoints":[]}}]}]}]}',
      h('"bucketCounts":["1"],"explicitBounds":[1]'),
      h('"bucketCounts":["1","1","1"],"explicitBounds":[2,1]'),
      h('"explicitBounds":["NaN"]'),
      h('"explicitBounds":[null]'),
      h('"count":"-1"'),
      h('"count":" 5"'),
      h('"count":1.0'),
      h('"count":"1","count":"2"'),
      h('"bucket_counts":[]'),
      h('"sum":"1"'),
      '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":null}]}]}]}',
    ];
    for (const body of declined) expect(check(body), body).to.equal(false);
    // invalid UTF-8 (the general path answers 400), in a value, a skipped value and a key
    for (const at of ['{"stringValue":"ab', '{"stringValue":"x","skipped":"', '{"stringValue":"x","k']) {
      const [head, tail] = a(at + 'XX"}').split('XX') as [string, string];
      const bad = Buffer.concat([
        Buffer.from(head),
        Buffer.from([0xc3, 0x28]),
        Buffer.from(tail.startsWith('"}') && at.endsWith('k') ? '":1}' + tail.slice(2) : tail),
      ]);
      expect(check(bad), bad.toString()).to.equal(false);
    }
  });

  it('limits: declined when exceeded, the same result at the bound', () => {
    const attrs = (n: number, len: number, depth: number) => {
      let v = `{"stringValue":"${'x'.repeat(len)}"}`;
      for (let i = 0; i < depth; i++) v = `{"arrayValue":{"values":[${v}]}}`;
      return Array.from({ length: n }, (_, i) => `{"key":"k${i}","value":${v}}`).join(',');
    };
    const body = (n: number, len: number, depth: number) =>
      `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[{"asInt":"1","attributes":[${attrs(n, len, depth)}]}]}}]}]}]}`;
    const limits = { maxAttributes: 3, maxDepth: 2, maxValueLength: 5 };
    expect(check(body(3, 5, 2), limits)).to.equal(true);
    expect(check(body(4, 5, 2), limits)).to.equal(false);
    expect(check(body(3, 6, 2), limits)).to.equal(false);
    expect(check(body(3, 5, 3), limits)).to.equal(false);
    // UTF-16 code units, as the general path counts them
    const emoji = (n: number) => `{"resourceMetrics":[{"resource":{"attributes":[{"key":"k","value":{"stringValue":"${'😀'.repeat(n)}"}}]}}]}`;
    expect(check(emoji(2), limits)).to.equal(true);
    expect(check(emoji(3), limits)).to.equal(false);
    // nesting deeper than the stack under a huge maxDepth: declined (the general path answers), not thrown
    expect(check(body(1, 1, 50000), { maxDepth: 1e9 })).to.equal(false);
    const res = (n: number) => `{"resourceMetrics":[{"resource":{"attributes":[${attrs(n, 1, 0)}]}}]}`;
    expect(check(res(3), limits)).to.equal(true);
    expect(check(res(4), limits)).to.equal(false);
  });

  it('random requests and their mutations: the same result, or declined', () => {
    let commonTaken = 0;
    let commonAll = 0;
    for (let seed = 1; seed <= 600; seed++) {
      const r = rng(seed);
      const odd = seed % 3 === 0 ? 0 : seed % 3 === 1 ? 0.3 : 1;
      const g: Gen = { r, odd, ws: seed % 5 === 0 };
      const text = request(g);
      const body = Buffer.from(text, 'utf8');
      const limits = seed % 4 === 0 ? { maxAttributes: Math.floor(r() * 5), maxDepth: Math.floor(r() * 3), maxValueLength: Math.floor(r() * 12) } : undefined;
      const took = check(body, limits);
      // the common shape (no odd choices, only gauges and sums, default limits): must be taken
      if (odd === 0 && limits === undefined && !/"(exponentialHistogram|summary|exemplars)"/.test(text)) {
        commonAll++;
        if (took) commonTaken++;
        else {
          const want = general(body);
          // declined only where the general path rejects something (a random value it refuses)
          expect(want.kind === 'ok' && want.result.rejected > 0, text.slice(0, 500)).to.equal(true);
        }
      }
      for (let k = 0; k < 12; k++) check(mutate(body, r), limits);
    }
    expect(commonAll).to.be.greaterThan(100);
    expect(commonTaken / commonAll).to.be.greaterThan(0.5);
    expect(stats.fast).to.be.greaterThan(1000);
  });

  it('many distinct strings (the string cache: collisions, replacements): the same result', () => {
    const points: string[] = [];
    for (let p = 0; p < 200; p++) {
      const attrs: string[] = [];
      for (let i = 0; i < 100; i++) attrs.push(`{"key":"k${i % 37}.${p % 11}","value":{"stringValue":"v${p * 100 + i}"}}`);
      points.push(`{"asInt":"${p}","attributes":[${attrs.join(',')}]}`);
    }
    expect(check(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[${points.join(',')}]}}]}]}]}`)).to.equal(true);
  });

  it('every single-byte cut of a valid body: the same result, or declined', () => {
    const text =
      '{"resourceMetrics":[{"resource":{"attributes":[{"key":"a","value":{"intValue":"12"}}]},"scopeMetrics":[{"metrics":[{"name":"m","sum":{"aggregationTemporality":1,"isMonotonic":true,"dataPoints":[{"asDouble":-1.5e-3,"timeUnixNano":"17","attributes":[{"key":"b","value":{"arrayValue":{"values":[{"boolValue":false}]}}}]}]}}]}]}]}';
    expect(check(text)).to.equal(true);
    const body = Buffer.from(text);
    for (let i = 0; i < body.length; i++) {
      check(body.subarray(0, i));
      check(Buffer.concat([body.subarray(0, i), body.subarray(i + 1)]));
    }
  });
});
