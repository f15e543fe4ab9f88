import type { AttrValue, Attributes } from './metrics.js';

/**
 * Set an attribute safely: a key named `__proto__` becomes an own property
 * instead of replacing the object's prototype.
 */
export function setAttr(attrs: Attributes, key: string, value: AttrValue): void {
  if (key === '__proto__') {
    Object.defineProperty(attrs, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    attrs[key] = value;
  }
}

function cloneValue(v: AttrValue): AttrValue {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(cloneValue);
  if (v instanceof Uint8Array) return new Uint8Array(v);
  return cloneAttributes(v);
}

export function cloneAttributes(a: Attributes): Attributes {
  const out: Attributes = {};
  for (const k in a) {
    const v = a[k] as AttrValue;
    setAttr(out, k, v !== null && typeof v === 'object' ? cloneValue(v) : v);
  }
  return out;
}

/**
 * A canonical, typed string for a value: `"1"` and `1` and `1n` differ
 * (semantics.md §1). Used to build series keys.
 */
export function canonicalValue(v: AttrValue): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return 'd' + String(v);
    case 'bigint':
      return 'i' + v.toString();
    case 'boolean':
      return v ? 'T' : 'F';
    default:
      if (v === null) return 'N';
      if (Array.isArray(v)) return '[' + v.map(canonicalValue).join(',') + ']';
      if (v instanceof Uint8Array) return 'b' + Buffer.from(v).toString('base64');
      return '{' + canonicalAttributes(v) + '}';
  }
}

/** Canonical string for an attribute set: sorted keys, typed values. */
export function canonicalAttributes(a: Attributes): string {
  const keys = Object.keys(a);
  if (keys.length === 0) return '';
  if (keys.length > 1) keys.sort();
  let s = '';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    if (i > 0) s += ',';
    s += JSON.stringify(k) + '=' + canonicalValue(a[k] as AttrValue);
  }
  return s;
}

/** A value as a display string (for labels, tags, logs). */
export function valueToString(v: AttrValue): string {
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(v);
    default:
      if (v === null) return '';
      if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
      return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x instanceof Uint8Array ? Buffer.from(x).toString('base64') : x));
  }
}
