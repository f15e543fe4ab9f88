/**
 * The StatsD / DogStatsD line parser: pure, no I/O, no allocation beyond the
 * name, tag and set-member substrings it hands out.
 *
 *   <name>:<value>[:<value>...]|<type>[|@<rate>][|#<tag>[:<v>],...][|T<unix seconds>][|c:...][|e:...][|card:...]
 *
 * Types: c (counter), g (gauge; a leading + or - adjusts the current value),
 * ms (timer), h (histogram), d (distribution), s (set). Several values packed
 * into one line (DogStatsD 1.1) each count as one sample. Unknown `|x:...`
 * fields (container id, external data, cardinality) are ignored, as the
 * Datadog Agent does. DogStatsD events (`_e{`) and service checks (`_sc|`)
 * are not metrics: they are reported as `unsupported` and skipped.
 *
 * `parsePacket` splits on `\n` (a trailing `\r` is dropped) and reports each
 * line to the sink, or the reason it was refused: one bad line never costs the
 * rest of the packet.
 */

export type MetricType = 'c' | 'g' | 'ms' | 'h' | 'd' | 's';

export type BadLineReason =
  | 'no_value'        // no ':' after the name
  | 'empty_name'
  | 'no_type'         // no '|type'
  | 'unknown_type'
  | 'bad_value'       // not a number (c, g, ms, h, d), empty, or a negative timer
  | 'bad_sample_rate' // not @<number> in (0, 1]
  | 'bad_timestamp'   // not T<positive integer>
  | 'bad_tags'        // '#' with an empty tag
  | 'unsupported';    // DogStatsD events and service checks

export const BAD_LINE_REASONS: readonly BadLineReason[] = [
  'no_value', 'empty_name', 'no_type', 'unknown_type', 'bad_value', 'bad_sample_rate', 'bad_timestamp', 'bad_tags', 'unsupported',
];

/** One parsed line; the parser reuses one instance, so a sink copies what it keeps. */
export interface ParsedLine {
  name: string;
  type: MetricType;
  /** numeric values (every type but `s`); the first `count` entries are this line's (the arrays are reused) */
  values: number[];
  /** set members (type `s`), the first `count` */
  members: string[];
  /** for gauges, per value: true when it was written with a leading + or - (an adjustment) */
  deltas: boolean[];
  /** number of packed values (or members) on this line */
  count: number;
  /** 1 when absent */
  sampleRate: number;
  /** the raw tag list after `#` ('' when none) */
  tags: string;
  /** unix seconds from `|T`, 0 when absent */
  timestamp: number;
}

export function newParsedLine(): ParsedLine {
  return { name: '', type: 'c', values: [], members: [], deltas: [], count: 0, sampleRate: 1, tags: '', timestamp: 0 };
}

const C_CR = 13, C_COLON = 58, C_PIPE = 124, C_AT = 64, C_HASH = 35, C_T = 84, C_PLUS = 43, C_MINUS = 45,
  C_DOT = 46, C_0 = 48, C_9 = 57, C_E = 101, C_UE = 69, C_COMMA = 44, C_UNDERSCORE = 95;

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];
const STRICT_NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * A strict decimal number in s[a, b): optional sign, digits, optional
 * fraction, optional exponent. NaN when it is anything else (Number() would
 * take '', ' 1', '0x10', 'Infinity'). Exact for the common case (≤ 15
 * significant digits, no exponent) without allocating.
 */
export function parseNumber(s: string, a: number, b: number): number {
  if (a >= b) return NaN;
  let i = a;
  let neg = false;
  let c = s.charCodeAt(i);
  if (c === C_PLUS || c === C_MINUS) { neg = c === C_MINUS; i++; }
  let mant = 0;
  let digits = 0;
  let frac = 0;
  let seenDot = false;
  for (; i < b; i++) {
    c = s.charCodeAt(i);
    if (c >= C_0 && c <= C_9) {
      mant = mant * 10 + (c - C_0);
      digits++;
      if (seenDot) frac++;
    } else if (c === C_DOT && !seenDot) {
      seenDot = true;
    } else {
      break;
    }
  }
  if (digits === 0) return NaN;
  if (i < b || digits > 15 || frac > 22) {
    if (i < b && c !== C_E && c !== C_UE) return NaN;
    const str = s.slice(a, b);
    return STRICT_NUMBER.test(str) ? Number(str) : NaN;
  }
  const v = frac === 0 ? mant : mant / (POW10[frac] as number);
  return neg ? -v : v;
}

function typeOf(s: string, a: number, b: number): MetricType | undefined {
  const n = b - a;
  const c0 = s.charCodeAt(a);
  if (n === 1) {
    switch (c0) {
      case 99: return 'c';
      case 103: return 'g';
      case 104: return 'h';
      case 100: return 'd';
      case 115: return 's';
    }
    return undefined;
  }
  if (n === 2 && c0 === 109 && s.charCodeAt(a + 1) === 115) return 'ms';
  return undefined;
}

/**
 * Parse one line s[a, b) (without its newline) into `out`. Returns undefined
 * when the line is good, else the reason it is not.
 */
export function parseLine(s: string, a: number, b: number, out: ParsedLine): BadLineReason | undefined {
  if (b > a && s.charCodeAt(b - 1) === C_CR) b--;
  const c0 = s.charCodeAt(a);
  if (c0 === C_UNDERSCORE && b - a >= 3) {
    const c1 = s.charCodeAt(a + 1);
    const c2 = s.charCodeAt(a + 2);
    if ((c1 === C_E && c2 === 123) || (c1 === 115 && c2 === 99 && s.charCodeAt(a + 3) === C_PIPE)) return 'unsupported';
  }
  // name
  let i = a;
  while (i < b && s.charCodeAt(i) !== C_COLON) i++;
  if (i >= b) return 'no_value';
  if (i === a) return 'empty_name';
  const nameEnd = i;
  // value section up to the first '|'
  const vStart = i + 1;
  let j = vStart;
  while (j < b && s.charCodeAt(j) !== C_PIPE) j++;
  if (j >= b) return 'no_type';
  const vEnd = j;
  // type
  let k = j + 1;
  while (k < b && s.charCodeAt(k) !== C_PIPE) k++;
  const type = typeOf(s, j + 1, k);
  if (type === undefined) return j + 1 === k ? 'no_type' : 'unknown_type';
  // optional fields
  let rate = 1;
  let tags = '';
  let ts = 0;
  while (k < b) {
    const f = k + 1;
    let e = f;
    while (e < b && s.charCodeAt(e) !== C_PIPE) e++;
    const fc = s.charCodeAt(f);
    if (fc === C_AT) {
      rate = parseNumber(s, f + 1, e);
      if (!(rate > 0 && rate <= 1)) return 'bad_sample_rate';
    } else if (fc === C_HASH) {
      if (e > f + 1) {
        // an empty tag (",,", leading or trailing ',') is malformed
        let prev = f;
        for (let t = f + 1; t <= e; t++) {
          if (t === e || s.charCodeAt(t) === C_COMMA) {
            if (t === prev + 1) return 'bad_tags';
            prev = t;
          }
        }
        tags = s.slice(f + 1, e);
      }
    } else if (fc === C_T) {
      ts = parseNumber(s, f + 1, e);
      if (!(Number.isInteger(ts) && ts > 0)) return 'bad_timestamp';
    }
    // anything else (c:<container>, e:<external data>, card:<cardinality>, empty) is ignored
    k = e;
  }
  // values (after the fields so a bad rate or tag never leaves half a line behind)
  const values = out.values;
  const members = out.members;
  const deltas = out.deltas;
  let n = 0;
  let p = vStart;
  for (;;) {
    let q = p;
    while (q < vEnd && s.charCodeAt(q) !== C_COLON) q++;
    if (type === 's') {
      if (q === p) return 'bad_value';
      members[n++] = s.slice(p, q);
    } else {
      const v = parseNumber(s, p, q);
      if (!Number.isFinite(v) || (v < 0 && type === 'ms')) return 'bad_value';
      if (type === 'g') {
        const sc = s.charCodeAt(p);
        deltas[n] = sc === C_PLUS || sc === C_MINUS;
      }
      values[n++] = v;
    }
    if (q >= vEnd) break;
    p = q + 1;
  }
  out.count = n;
  out.name = s.slice(a, nameEnd);
  out.type = type;
  out.sampleRate = rate;
  out.tags = tags;
  out.timestamp = ts;
  return undefined;
}

export interface LineSink {
  line(l: ParsedLine): void;
  bad(reason: BadLineReason, s: string, a: number, b: number): void;
}

/** Parse every non-empty line of a packet (or a TCP chunk of whole lines). */
export function parsePacket(s: string, out: ParsedLine, sink: LineSink): void {
  const n = s.length;
  let a = 0;
  while (a < n) {
    let b = s.indexOf('\n', a);
    if (b < 0) b = n;
    if (b > a && !(b === a + 1 && s.charCodeAt(a) === C_CR)) {
      const r = parseLine(s, a, b, out);
      if (r === undefined) sink.line(out);
      else sink.bad(r, s, a, b);
    }
    a = b + 1;
  }
}

/**
 * Tags `k:v,k2` → [key, value] pairs; a tag without ':' gets the value ''.
 * The first ':' splits (`url:http://x` → url = `http://x`).
 */
export function parseTags(tags: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (tags === '') return out;
  let a = 0;
  const n = tags.length;
  while (a <= n) {
    let b = tags.indexOf(',', a);
    if (b < 0) b = n;
    if (b > a) {
      const c = tags.indexOf(':', a);
      if (c >= 0 && c < b) out.push([tags.slice(a, c), tags.slice(c + 1, b)]);
      else out.push([tags.slice(a, b), '']);
    }
    a = b + 1;
  }
  return out;
}

