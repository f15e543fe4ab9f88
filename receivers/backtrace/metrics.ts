/**
 * Backtrace metrics (release health) → metric events. Pure.
 *
 * The SDKs (`@backtrace/node`, `@backtrace/browser`, … with
 * `metrics.metricsSubmissionUrl` pointed at metricport) send, at start and
 * every `autoSendInterval`:
 *
 *   POST /api/unique-events/submit?universe=<u>&token=<t>
 *     {"application","appversion","unique_events":[{"timestamp","unique":["guid"],"attributes":{…}}],"metadata":{"dropped_events"}}
 *   POST /api/summed-events/submit?universe=<u>&token=<t>
 *     {"application","appversion","summed_events":[{"timestamp","metric_group":"Application Launches","attributes":{…}}],"metadata":{…}}
 *
 * Each event becomes one metric event:
 *
 * | attribute | from |
 * |---|---|
 * | `event.kind` | `unique` or `summed` |
 * | `unique` | the unique event's attribute names, joined by `,` (`guid`) |
 * | `metric.group` | the summed event's `metric_group` (e.g. `Application Launches`) |
 * | `application` | the event's `application` attribute, else the body's `application`, else the token's |
 * | `application.version`, `app.version` | the event's `application.version`, else the body's `appversion` |
 * | every other primitive attribute | as is (`guid`, `hostname`, `uname.sysname`, `application.session`, …), up to `max_attributes` |
 * | time | `timestamp` (seconds), else arrival |
 */
import type { Attributes, Event } from '../../src/model/index.js';
import { clip } from '../../src/errorsdk/text.js';
import { backtraceTime, type BacktraceMapOptions } from './map.js';

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export type MetricsKind = 'unique' | 'summed';

export type MetricsResult = { ok: true; events: Event[]; dropped: number } | { ok: false; error: string };

const FIXED = new Set(['event.kind', 'unique', 'metric.group', 'application', 'application.version', 'app.version']);

/** A metrics submission body → events; `maxEvents` bounds a request. */
export function mapMetricsSubmission(kind: MetricsKind, body: Obj, arrival: bigint, o: BacktraceMapOptions, maxEvents: number): MetricsResult {
  const field = kind === 'unique' ? 'unique_events' : 'summed_events';
  const list = body[field];
  if (!Array.isArray(list)) return { ok: false, error: `the body has no "${field}" list` };
  if (list.length > maxEvents) return { ok: false, error: `${list.length} ${field} in one request; at most ${maxEvents} (metrics.max_events_per_request)` };
  const app = str(body.application) ?? o.application;
  const version = str(body.appversion);
  const events: Event[] = [];
  for (let i = 0; i < list.length; i++) {
    const e = obj(list[i]);
    if (e === undefined) return { ok: false, error: `${field}[${i}] is not an object` };
    const attrs = obj(e.attributes) ?? {};
    const a: Attributes = { 'event.kind': kind };
    if (kind === 'unique') {
      const u = Array.isArray(e.unique) ? e.unique.filter((x): x is string => typeof x === 'string' && x !== '') : [];
      if (u.length === 0) return { ok: false, error: `${field}[${i}] has no "unique" attribute names` };
      a.unique = clip(u.join(','), o.maxValueLength);
    } else {
      const g = str(e.metric_group);
      if (g === undefined) return { ok: false, error: `${field}[${i}] has no "metric_group"` };
      a['metric.group'] = clip(g, o.maxValueLength);
    }
    let n = 0;
    for (const k in attrs) {
      if (n >= o.maxAttributes) break;
      if (FIXED.has(k)) continue;
      const v = attrs[k];
      if (typeof v === 'string') a[k] = clip(v, o.maxValueLength);
      else if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean') a[k] = v;
      else continue;
      n++;
    }
    const eApp = str(attrs.application) ?? app;
    if (eApp !== undefined) a.application = clip(eApp, o.maxValueLength);
    const eVer = str(attrs['application.version']) ?? version;
    if (eVer !== undefined) a['app.version'] = a['application.version'] = clip(eVer, o.maxValueLength);
    events.push({ timeUnixNano: backtraceTime(e.timestamp) ?? arrival, attributes: a });
  }
  const md = obj(body.metadata);
  const dropped = md !== undefined && typeof md.dropped_events === 'number' && md.dropped_events > 0 ? Math.floor(md.dropped_events) : 0;
  return { ok: true, events, dropped };
}
