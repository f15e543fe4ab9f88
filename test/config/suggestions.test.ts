/**
 * `metricport validate` names the close match for a mistyped key, component
 * type, or id in a pipeline (and the pipeline of a `pipeline/<id>`), at the
 * key path and line:column of the mistake; no hint when nothing is close.
 */
import { expect } from 'chai';
import { checkConfig } from '../../src/config/service-config.js';
import { formatIssue } from '../../src/errors.js';
import { registry } from '../../src/registry.js';

const errorsOf = (text: string) =>
  checkConfig(text, 'c.yaml', registry, {})
    .issues.filter((i) => i.severity === 'error')
    .map(formatIssue);

describe('config: "did you mean" for types, ids in pipelines and keys', () => {
  it('component types, top-level, service and pipeline keys', () => {
    const text = [
      'recievers:', // 1
      '  otlp:', // 2
      'exporters:', // 3
      '  influxd: { endpoint: "http://x" }', // 4
      '  promethus/a: {}', // 5
      'service:', // 6
      '  pipeline: {}', // 7
      '  pipelines:', // 8
      '    metrics: { receivers: [otlp], exporters: [prometheus/a], exporter: [x] }', // 9
      '',
    ].join('\n');
    const errs = errorsOf(text);
    expect(errs).to.include(
      'c.yaml:1:1: recievers: unknown top-level key "recievers"; did you mean "receivers"? (valid: receivers, processors, exporters, service)',
    );
    expect(errs).to.include(
      `c.yaml:4:3: exporters.influxd: unknown exporter type "influxd"; did you mean "influxdb"? (available: ${[...registry.exporters.keys()].sort().join(', ')}; see \`metricport components\`)`,
    );
    expect(errs.find((e) => e.startsWith('c.yaml:5:3: exporters.promethus/a: unknown exporter type "promethus"; did you mean "prometheus"?'))).to.be.a(
      'string',
    );
    expect(errs).to.include('c.yaml:7:3: service.pipeline: unknown key "pipeline"; did you mean "pipelines"? (valid keys: pipelines, memory_limiter, cluster)');
    expect(errs).to.include(
      'c.yaml:9:62: service.pipelines.metrics.exporter: unknown key "exporter"; did you mean "exporters"? (valid keys: receivers, processors, exporters, signal)',
    );
  });

  it('ids listed in pipelines: the close id defined in the section', () => {
    const text = [
      'receivers:', // 1
      '  otlp/app:', // 2
      '  statsd:', // 3
      'processors:', // 4
      '  batch/fast:', // 5
      'exporters:', // 6
      '  influxdb/main: { endpoint: "http://x", db: m }', // 7
      'service:', // 8
      '  pipelines:', // 9
      '    metrics:', // 10
      '      receivers: [otlp/ap, stastd]', // 11
      '      processors: [batch/fsat]', // 12
      '      exporters: [influxdb/mian, debug]', // 13
      '',
    ].join('\n');
    const errs = errorsOf(text);
    expect(errs).to.include(
      'c.yaml:11:19: service.pipelines.metrics.receivers[0]: receiver "otlp/ap" is not defined under "receivers:"; did you mean "otlp/app"? (or add it there, e.g. `otlp/ap: {}`)',
    );
    expect(errs).to.include(
      'c.yaml:11:28: service.pipelines.metrics.receivers[1]: unknown receiver "stastd"; did you mean "statsd"? (or define it under "receivers:")',
    );
    expect(errs).to.include(
      'c.yaml:12:20: service.pipelines.metrics.processors[0]: processor "batch/fsat" is not defined under "processors:"; did you mean "batch/fast"?',
    );
    expect(errs).to.include(
      'c.yaml:13:19: service.pipelines.metrics.exporters[0]: exporter "influxdb/mian" is not defined under "exporters:"; did you mean "influxdb/main"?',
    );
    // nothing close: no hint
    expect(errs).to.include('c.yaml:13:34: service.pipelines.metrics.exporters[1]: exporter "debug" is not defined under "exporters:"');
  });

  it('pipeline/<id>: the close pipeline id', () => {
    const text = [
      'receivers: { otlp: }',
      'exporters: { debug: }',
      'service:',
      '  pipelines:',
      '    metrics: { receivers: [otlp], exporters: [debug] }',
      '    metrics/b: { receivers: [pipeline/metric], exporters: [debug] }',
      '',
    ].join('\n');
    expect(errorsOf(text)).to.include(
      'c.yaml:6:29: service.pipelines.metrics/b.receivers: pipeline/metric: there is no pipeline "metric"; did you mean "metrics"? (pipelines: metrics, metrics/b)',
    );
  });
});
