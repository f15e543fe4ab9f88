/**
 * Metric filters over event attributes, compiled once into predicates.
 *
 * A filter is a mapping; every entry must hold (an implicit `all`):
 *
 * ```yaml
 * filter:
 *   error.type: { exists: true }            # attribute → conditions (all must hold)
 *   app.version: "2.1.0"                    # a scalar is shorthand for { equals: ... }
 *   latency_ms: { gte: 100, lt: 5000 }
 *   any:                                    # at least one sub-filter holds
 *     - { level: { in: [error, fatal] } }
 *     - all: [ { os: { regex: "^win" } }, { crashed: true } ]
 *   not: { guid: { equals: "test-user" } }  # the sub-filter does not hold
 * ```
 *
 * Operators (`op: value`):
 * - `equals` / `not_equals`: compared as strings (`200`, `200.0`→"200", "200"
 *   all equal "200"; booleans as "true"/"false");
 * - `in` / `not_in`: a list, compared as strings;
 * - `regex`: JavaScript regular expression, matched anywhere in the string form
 *   (anchor with `^…$` for a full match);
 * - `contains`: the string form contains the given substring;
 * - `exists: true|false`, `not_exists: true|false`;
 * - `lt`, `lte`, `gt`, `gte` (aliases `<`, `<=`, `>`, `>=`): numeric; the
 *   attribute must be a number, an integer or a numeric string, else false.
 * A missing attribute fails every operator except `not_equals`, `not_in`,
 * `exists: false` and `not_exists: true`, which it satisfies.
 * An attribute literally named `all`, `any` or `not` is written as
 * `{ attribute: all, <op>: ... }` inside an `all` list.
 */
import type { ConfigIssue } from '../../src/errors.js';
import type { AttrValue, Attributes } from '../../src/model/metrics.js';
import { valueToString } from '../../src/model/attributes.js';

export type Predicate = (a: Attributes) => boolean;

const FILTER_OPERATORS = ['equals', 'not_equals', 'in', 'not_in', 'regex', 'contains', 'exists', 'not_exists', 'lt', 'lte', 'gt', 'gte'] as const;
const ALIASES: Record<string, string> = { eq: 'equals', ne: 'not_equals', '<': 'lt', '<=': 'lte', '>': 'gt', '>=': 'gte', '==': 'equals', '!=': 'not_equals' };
const MAX_DEPTH = 32;

/** the filter of a metric without one (the engine skips calling it) */
export const TRUE: Predicate = () => true;

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function asString(v: AttrValue): string {
  return typeof v === 'string' ? v : valueToString(v);
}

/** The numeric value of an attribute: numbers, integers, numeric strings; NaN otherwise. */
export function numericValue(v: AttrValue | undefined): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') {
    if (v.trim() === '') return NaN;
    return Number(v);
  }
  return NaN;
}

function scalarString(x: unknown): string | undefined {
  if (typeof x === 'string') return x;
  if (typeof x === 'number' || typeof x === 'boolean') return String(x);
  return undefined;
}

function and(ps: Predicate[]): Predicate {
  if (ps.length === 0) return TRUE;
  if (ps.length === 1) return ps[0]!;
  if (ps.length === 2) {
    const [a, b] = ps as [Predicate, Predicate];
    return (x) => a(x) && b(x);
  }
  return (x) => {
    for (let i = 0; i < ps.length; i++) if (!ps[i]!(x)) return false;
    return true;
  };
}

function or(ps: Predicate[]): Predicate {
  if (ps.length === 1) return ps[0]!;
  return (x) => {
    for (let i = 0; i < ps.length; i++) if (ps[i]!(x)) return true;
    return false;
  };
}

function condition(key: string, op: string, arg: unknown, path: string, issues: ConfigIssue[]): Predicate | undefined {
  const bad = (msg: string): undefined => {
    issues.push({ path, message: msg, severity: 'error' });
    return undefined;
  };
  switch (op) {
    case 'equals':
    case 'not_equals': {
      const s = scalarString(arg);
      if (s === undefined) return bad(`${op} needs a string, number or boolean, got ${JSON.stringify(arg)}`);
      if (op === 'equals')
        return (a) => {
          const v = a[key];
          return v !== undefined && (v === s || asString(v) === s);
        };
      return (a) => {
        const v = a[key];
        return v === undefined || (v !== s && asString(v) !== s);
      };
    }
    case 'in':
    case 'not_in': {
      if (!Array.isArray(arg) || arg.length === 0) return bad(`${op} needs a non-empty list of values`);
      const set = new Set<string>();
      for (const x of arg) {
        const s = scalarString(x);
        if (s === undefined) return bad(`${op} values must be strings, numbers or booleans, got ${JSON.stringify(x)}`);
        set.add(s);
      }
      if (op === 'in')
        return (a) => {
          const v = a[key];
          return v !== undefined && set.has(asString(v));
        };
      return (a) => {
        const v = a[key];
        return v === undefined || !set.has(asString(v));
      };
    }
    case 'regex': {
      if (typeof arg !== 'string') return bad(`regex needs a regular expression string, got ${JSON.stringify(arg)}`);
      let re: RegExp;
      try {
        re = new RegExp(arg);
      } catch (e) {
        return bad(`invalid regular expression: ${(e as Error).message}`);
      }
      return (a) => {
        const v = a[key];
        return v !== undefined && re.test(asString(v));
      };
    }
    case 'contains': {
      const s = scalarString(arg);
      if (s === undefined) return bad(`contains needs a string, got ${JSON.stringify(arg)}`);
      return (a) => {
        const v = a[key];
        return v !== undefined && asString(v).includes(s);
      };
    }
    case 'exists':
    case 'not_exists': {
      if (typeof arg !== 'boolean') return bad(`${op} needs true or false, got ${JSON.stringify(arg)}`);
      const want = op === 'exists' ? arg : !arg;
      return want ? (a) => a[key] !== undefined : (a) => a[key] === undefined;
    }
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte': {
      const n = typeof arg === 'string' && arg.trim() !== '' ? Number(arg) : arg;
      if (typeof n !== 'number' || !Number.isFinite(n)) return bad(`${op} needs a number, got ${JSON.stringify(arg)}`);
      switch (op) {
        case 'lt':
          return (a) => numericValue(a[key]) < n;
        case 'lte':
          return (a) => numericValue(a[key]) <= n;
        case 'gt':
          return (a) => numericValue(a[key]) > n;
        default:
          return (a) => numericValue(a[key]) >= n;
      }
    }
    default:
      return bad(`unknown operator "${op}" (operators: ${FILTER_OPERATORS.join(', ')}, or <, <=, >, >=)`);
  }
}

function attributeConditions(key: string, spec: unknown, path: string, issues: ConfigIssue[]): Predicate | undefined {
  if (!isMap(spec)) {
    if (scalarString(spec) === undefined) {
      issues.push({ path, message: `expected a value (shorthand for equals) or a mapping of operators, got ${JSON.stringify(spec)}`, severity: 'error' });
      return undefined;
    }
    return condition(key, 'equals', spec, path, issues);
  }
  const ops = Object.keys(spec);
  if (ops.length === 0) {
    issues.push({ path, message: 'needs at least one operator', severity: 'error' });
    return undefined;
  }
  const ps: Predicate[] = [];
  for (const rawOp of ops) {
    const op = ALIASES[rawOp] ?? rawOp;
    const p = condition(key, op, spec[rawOp], `${path}.${rawOp}`, issues);
    if (p !== undefined) ps.push(p);
  }
  return and(ps);
}

function compileNode(spec: unknown, path: string, issues: ConfigIssue[], depth: number): Predicate {
  if (depth > MAX_DEPTH) {
    issues.push({ path, message: `filters nest deeper than ${MAX_DEPTH} levels`, severity: 'error' });
    return TRUE;
  }
  if (!isMap(spec)) {
    issues.push({ path, message: `expected a mapping of attribute conditions, got ${JSON.stringify(spec)}`, severity: 'error' });
    return TRUE;
  }
  const ps: Predicate[] = [];
  // `{ attribute: name, op: value }` form
  if (typeof spec.attribute === 'string') {
    const { attribute, ...ops } = spec;
    const p = attributeConditions(attribute as string, ops, path, issues);
    return p ?? TRUE;
  }
  for (const [k, v] of Object.entries(spec)) {
    const p = `${path}.${k}`;
    if (k === 'all' || k === 'any') {
      if (!Array.isArray(v) || v.length === 0) {
        issues.push({ path: p, message: `${k} needs a non-empty list of filters`, severity: 'error' });
        continue;
      }
      const subs = v.map((s, i) => compileNode(s, `${p}[${i}]`, issues, depth + 1));
      ps.push(k === 'all' ? and(subs) : or(subs));
    } else if (k === 'not') {
      const sub = compileNode(v, p, issues, depth + 1);
      ps.push((a) => !sub(a));
    } else {
      const c = attributeConditions(k, v, p, issues);
      if (c !== undefined) ps.push(c);
    }
  }
  return and(ps);
}

/** Compile a filter (undefined or {} = every event). Issues get paths under `path`. */
export function compileEventFilter(spec: unknown, path: string, issues: ConfigIssue[]): Predicate {
  if (spec === undefined || spec === null) return TRUE;
  return compileNode(spec, path, issues, 0);
}

/**
 * The attribute names a (valid) filter reads, so a caller evaluating it over
 * dictionary-encoded events (the Explore history) can memoise the predicate
 * per combination of those attributes' values. Follows compileNode exactly.
 */
export function filterAttributes(spec: unknown): string[] {
  const out = new Set<string>();
  const walk = (node: unknown, depth: number): void => {
    if (depth > MAX_DEPTH || !isMap(node)) return;
    if (typeof node.attribute === 'string') {
      out.add(node.attribute);
      return;
    }
    for (const [k, v] of Object.entries(node)) {
      if (k === 'all' || k === 'any') {
        if (Array.isArray(v)) for (const s of v) walk(s, depth + 1);
      } else if (k === 'not') walk(v, depth + 1);
      else out.add(k);
    }
  };
  if (spec !== undefined && spec !== null) walk(spec, 0);
  return [...out];
}
