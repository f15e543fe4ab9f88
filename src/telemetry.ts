/**
 * The service's own telemetry: instruments of the OpenTelemetry Meter API
 * (src/selfmeter.ts, no SDK), rendered in the Prometheus text format on the
 * admin server's GET /metrics (no port of its own). Components get small
 * handles with their attributes bound once, and plain in-memory totals for
 * /api/v1/status.
 */
import type { Attributes as OtelAttributes, Counter, Histogram, Meter, ObservableCounter, ObservableGauge } from '@opentelemetry/api';
import { SelfMeter } from './selfmeter.js';

export interface ReceiverTelemetry {
  /** items (data points or events) accepted downstream */
  accepted(n: number, signal: string): void;
  /** items refused downstream (client told to retry) */
  refused(n: number, signal: string): void;
  /** items rejected as invalid (partial success or 400) */
  rejected(n: number, signal: string): void;
  /** one request answered with a status code; reason names bad input ("malformed_json", "too_large", ...) */
  request(status: number, seconds: number, path: string, reason?: string): void;
  totals(): Record<string, number>;
}

export interface ExporterTelemetry {
  sent(n: number): void;
  failed(n: number, reason: string): void;
  dropped(n: number, reason: string): void;
  totals(): Record<string, number>;
}

export interface ProcessorTelemetry {
  incoming(n: number): void;
  outgoing(n: number): void;
  dropped(n: number, reason: string): void;
  totals(): Record<string, number>;
}

export interface Telemetry {
  readonly meter: Meter;
  receiver(id: string, transport: string): ReceiverTelemetry;
  exporter(id: string, signal: string): ExporterTelemetry;
  processor(id: string, pipeline: string): ProcessorTelemetry;
  /** report a gauge through a callback (e.g. queue size), keyed by attributes */
  gauge(name: string, description: string, attrs: OtelAttributes, read: () => number): void;
  /** report a total that only grows through a callback (a Prometheus counter, `_total`), keyed by attributes */
  counter(name: string, description: string, attrs: OtelAttributes, read: () => number): void;
}

function bump(t: Record<string, number>, key: string, n: number): void {
  t[key] = (t[key] ?? 0) + n;
}

/** The `target_info` labels of /metrics (the resource, as the OpenTelemetry SDK named it). */
export interface TelemetryResource {
  service_version?: string;
}

export class ServiceTelemetry implements Telemetry {
  readonly meter: Meter;
  private readonly self: SelfMeter;
  private readonly resource: OtelAttributes;
  private readonly c: Record<string, Counter>;
  private readonly requestDuration: Histogram;
  private readonly observed = new Map<
    string,
    { instrument: ObservableGauge | ObservableCounter; reads: Array<{ attrs: OtelAttributes; read: () => number }> }
  >();

  constructor(resource: TelemetryResource = {}) {
    this.self = new SelfMeter();
    this.meter = this.self;
    this.resource = {
      'service.name': 'metricport',
      'telemetry.sdk.language': 'nodejs',
      'telemetry.sdk.name': 'metricport',
      'telemetry.sdk.version': resource.service_version ?? 'unknown',
    };
    const m = this.meter;
    this.c = {
      recvAccepted: m.createCounter('metricport_receiver_accepted_items', { description: 'Items (data points or events) a receiver got accepted downstream' }),
      recvRefused: m.createCounter('metricport_receiver_refused_items', { description: 'Items refused downstream; the client was told to retry (429/503)' }),
      recvRejected: m.createCounter('metricport_receiver_rejected_items', { description: 'Items rejected as invalid (partial success or 400)' }),
      recvRequests: m.createCounter('metricport_receiver_requests', { description: 'Requests answered, by status code' }),
      recvBad: m.createCounter('metricport_receiver_bad_requests', { description: 'Requests refused for bad input, by reason' }),
      expSent: m.createCounter('metricport_exporter_sent_items', { description: 'Items an exporter delivered' }),
      expFailed: m.createCounter('metricport_exporter_send_failed_items', { description: 'Items whose send attempt failed (they may be retried)' }),
      expDropped: m.createCounter('metricport_exporter_dropped_items', { description: 'Items an exporter gave up on, by reason' }),
      procIn: m.createCounter('metricport_processor_incoming_items', { description: 'Items into a processor' }),
      procOut: m.createCounter('metricport_processor_outgoing_items', { description: 'Items out of a processor' }),
      procDropped: m.createCounter('metricport_processor_dropped_items', { description: 'Items a processor dropped, by reason' }),
    };
    this.requestDuration = m.createHistogram('metricport_receiver_request_duration_seconds', {
      description: 'Time to answer a receiver request',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] },
    });
  }

  receiver(id: string, transport: string): ReceiverTelemetry {
    const c = this.c;
    const dur = this.requestDuration;
    const t: Record<string, number> = {};
    const base = { receiver: id, transport };
    const bySignal = new Map<string, OtelAttributes>();
    const attrsFor = (signal: string): OtelAttributes => {
      let a = bySignal.get(signal);
      if (a === undefined) {
        a = { ...base, signal };
        bySignal.set(signal, a);
      }
      return a;
    };
    const byKey = new Map<string, OtelAttributes>();
    const cached = (key: string, make: () => OtelAttributes): OtelAttributes => {
      let a = byKey.get(key);
      if (a === undefined) {
        a = make();
        byKey.set(key, a);
      }
      return a;
    };
    return {
      accepted(n, signal) {
        c.recvAccepted!.add(n, attrsFor(signal));
        bump(t, 'accepted', n);
      },
      refused(n, signal) {
        c.recvRefused!.add(n, attrsFor(signal));
        bump(t, 'refused', n);
      },
      rejected(n, signal) {
        c.recvRejected!.add(n, attrsFor(signal));
        bump(t, 'rejected', n);
      },
      request(status, seconds, path, reason) {
        c.recvRequests!.add(
          1,
          cached(`${status}|${path}`, () => ({ ...base, path, status_code: status })),
        );
        dur.record(
          seconds,
          cached(`d|${path}`, () => ({ ...base, path })),
        );
        bump(t, 'requests', 1);
        if (reason !== undefined) {
          c.recvBad!.add(
            1,
            cached(`b|${reason}`, () => ({ ...base, reason })),
          );
          bump(t, `bad_requests.${reason}`, 1);
        }
      },
      totals: () => ({ ...t }),
    };
  }

  exporter(id: string, signal: string): ExporterTelemetry {
    const c = this.c;
    const t: Record<string, number> = {};
    const base = { exporter: id, signal };
    const reasons = new Map<string, OtelAttributes>();
    const withReason = (r: string): OtelAttributes => {
      let a = reasons.get(r);
      if (a === undefined) {
        a = { ...base, reason: r };
        reasons.set(r, a);
      }
      return a;
    };
    return {
      sent(n) {
        c.expSent!.add(n, base);
        bump(t, 'sent', n);
      },
      failed(n, reason) {
        c.expFailed!.add(n, withReason(reason));
        bump(t, 'send_failed', n);
      },
      dropped(n, reason) {
        c.expDropped!.add(n, withReason(reason));
        bump(t, 'dropped', n);
        bump(t, `dropped.${reason}`, n);
      },
      totals: () => ({ ...t }),
    };
  }

  processor(id: string, pipeline: string): ProcessorTelemetry {
    const c = this.c;
    const t: Record<string, number> = {};
    const base = { processor: id, pipeline };
    const reasons = new Map<string, OtelAttributes>();
    return {
      incoming(n) {
        c.procIn!.add(n, base);
        bump(t, 'incoming', n);
      },
      outgoing(n) {
        c.procOut!.add(n, base);
        bump(t, 'outgoing', n);
      },
      dropped(n, reason) {
        let a = reasons.get(reason);
        if (a === undefined) {
          a = { ...base, reason };
          reasons.set(reason, a);
        }
        c.procDropped!.add(n, a);
        bump(t, 'dropped', n);
      },
      totals: () => ({ ...t }),
    };
  }

  gauge(name: string, description: string, attrs: OtelAttributes, read: () => number): void {
    this.observe('gauge', name, description, attrs, read);
  }

  counter(name: string, description: string, attrs: OtelAttributes, read: () => number): void {
    this.observe('counter', name, description, attrs, read);
  }

  /** one instrument per name; one reader per attribute set (a later registration replaces an earlier one) */
  private observe(kind: 'gauge' | 'counter', name: string, description: string, attrs: OtelAttributes, read: () => number): void {
    let g = this.observed.get(name);
    if (g === undefined) {
      const instrument = kind === 'gauge' ? this.meter.createObservableGauge(name, { description }) : this.meter.createObservableCounter(name, { description });
      const entry = { instrument, reads: [] as Array<{ attrs: OtelAttributes; read: () => number }> };
      instrument.addCallback((obs) => {
        for (const r of entry.reads) {
          try {
            obs.observe(r.read(), r.attrs);
          } catch {
            /* a failing reader never breaks /metrics */
          }
        }
      });
      this.observed.set(name, entry);
      g = entry;
    }
    const key = JSON.stringify(attrs);
    g.reads = g.reads.filter((r) => JSON.stringify(r.attrs) !== key);
    g.reads.push({ attrs, read });
  }

  /** The GET /metrics body: the Prometheus text format 0.0.4. */
  render(): Promise<string> {
    return this.self.render(this.resource);
  }

  async shutdown(): Promise<void> {}
}
