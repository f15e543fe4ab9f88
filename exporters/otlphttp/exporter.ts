/**
 * The otlphttp exporter (the implementation its factory loads): encodes each
 * batch once and sends it through the exporter helper's queue and retries.
 */
import type { ExporterImpl } from '../../src/component.js';
import { createExporter } from '../../src/exporterhelper/exporter.js';
import { PermanentSendError } from '../../src/exporterhelper/retry.js';
import { countPoints, type MetricsBatch } from '../../src/model/index.js';
import { metricsUrl, type OtlpHttpConfig } from './config.js';
import { buildMetricsRequest, type EncodedRequest } from './request.js';
import { HttpSender } from './service.js';

/** What the factory's load() returns. */
export const otlphttpImpl: ExporterImpl<OtlpHttpConfig> = {
  create(set, cfg, signal) {
    if (signal !== 'metrics') throw new Error(`otlphttp exporter does not support the ${signal} signal`);
    const url = metricsUrl(cfg);
    const encoding = cfg.encoding ?? 'proto';
    const compression = cfg.compression ?? 'gzip';
    const sender = new HttpSender(url, { ...(cfg.headers ?? {}) }, set.logger);
    let requests = 0;
    let bytesSent = 0;
    // encoded once per batch, reused by retries
    const encoded = new WeakMap<MetricsBatch, EncodedRequest>();
    return createExporter<MetricsBatch>(set, {
      signal: 'metrics',
      countItems: countPoints,
      push: async (batch, abort) => {
        let req = encoded.get(batch);
        if (req === undefined) {
          try {
            req = buildMetricsRequest(batch, { encoding, compression });
          } catch (e) {
            throw new PermanentSendError(`cannot encode batch as OTLP ${encoding}: ${(e as Error).name}`, { reason: 'encode', cause: e });
          }
          encoded.set(batch, req);
        }
        const r = await sender.send(req.body, req.headers, abort);
        requests++;
        bytesSent += req.body.length;
        return r;
      },
      start: async () => {
        sender.start();
      },
      shutdown: async () => {
        sender.close();
      },
      timeout: cfg.timeout,
      retry: cfg.retry_on_failure,
      queue: cfg.sending_queue,
      endpoint: sender.host,
      status: () => ({ encoding, compression, requests, bytes_sent: bytesSent }),
    });
  },
};
