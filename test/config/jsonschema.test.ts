/**
 * The config JSON Schema (src/config/jsonschema.ts) against a real validator
 * (ajv, draft 2020-12, strict) and against the loader: what the loader
 * accepts the schema accepts; what the loader rejects for a reason a schema
 * can express, the schema rejects at the same key path.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { configJsonSchema, ENV_REFERENCE, fieldJsonSchema, type ComponentInfo, type SchemaRegistry } from '../../src/config/jsonschema.js';
import { validateSchema, type Field } from '../../src/config/schema.js';
import { checkConfig } from '../../src/config/service-config.js';
import { packageRoot } from '../../src/paths.js';
import { registry } from '../../src/registry.js';
import { compileSchema, configValidator, describeErrors, errorPaths, newAjv, validateYamlText } from '../helpers/jsonschema.js';
import { BYTES_CASES, DURATION_CASES, ENDPOINT_CASES } from './value-syntax.js';

const root = packageRoot();
const exampleFiles = () => [
  'config/default.yaml',
  ...readdirSync(join(root, 'config/examples'))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => `config/examples/${f}`),
];

/** the loader and the schema on one option's value */
const loaderTakes = (f: Field, v: unknown) => validateSchema({ v: f }, { v }, '').issues.length === 0;
const compiled = new WeakMap<Field, ReturnType<typeof compileSchema>>();
const schemaTakes = (f: Field, v: unknown) => {
  let c = compiled.get(f);
  if (c === undefined) compiled.set(f, (c = compileSchema({ type: 'object', properties: { v: fieldJsonSchema(f) }, $defs: { envReference: ENV_REFERENCE } })));
  return c({ v }) as boolean;
};

describe('config JSON Schema: a real validator (ajv, draft 2020-12)', () => {
  it('is a valid draft 2020-12 schema under ajv strict mode', () => {
    const schema = configJsonSchema(registry);
    expect(schema.$schema).to.equal('https://json-schema.org/draft/2020-12/schema');
    const ajv = newAjv();
    expect(ajv.validateSchema(schema), JSON.stringify(ajv.errors)).to.equal(true);
    expect(() => configValidator()).to.not.throw();
  });

  for (const file of exampleFiles()) {
    it(`${file} starts with the schema line, validates against the schema and loads`, () => {
      const text = readFileSync(join(root, file), 'utf8');
      const m = /^# yaml-language-server: \$schema=(\S+)\n/.exec(text);
      expect(m, `${file}: first line`).to.not.equal(null);
      // the path is relative to the file and works from a checkout
      expect(resolve(dirname(join(root, file)), m![1]!)).to.equal(join(root, 'docs/metricport.schema.json'));
      const r = validateYamlText(text);
      expect(r.ok, `${file}: ${describeErrors(r.errors)}`).to.equal(true);
      const loaded = checkConfig(text, file, registry, { BACKTRACE_TOKEN: 'x', SENTRY_DSN_KEY: 'x', FORGE_API_TOKEN: 'x' });
      expect(loaded.issues.filter((i) => i.severity === 'error' && !/environment variable/.test(i.message))).to.deep.equal([]);
    });
  }

  it('the committed docs/metricport.schema.json is what the registry gives', () => {
    expect(JSON.parse(readFileSync(join(root, 'docs/metricport.schema.json'), 'utf8'))).to.deep.equal(JSON.parse(JSON.stringify(configJsonSchema(registry))));
  });

  it("reads the registry's schema data only: a registry whose factories throw on anything else works", () => {
    const allowed = new Set(['kind', 'type', 'description', 'signals', 'configSchema']);
    const guard = <T extends object>(f: T): T =>
      new Proxy(f, {
        get(t, k) {
          if (typeof k === 'string' && !allowed.has(k)) throw new Error(`the generator read ${String(k)} of ${(t as { type?: string }).type}`);
          return Reflect.get(t, k);
        },
      });
    const guarded = Object.fromEntries(
      (['receivers', 'processors', 'exporters'] as const).map((s) => [s, new Map([...registry[s]].map(([k, f]) => [k, guard(f as unknown as ComponentInfo)]))]),
    ) as unknown as SchemaRegistry;
    expect(configJsonSchema(guarded)).to.deep.equal(configJsonSchema(registry));
  });

  describe('durations, sizes and endpoints: exactly the strings the loader accepts', () => {
    const cases: Array<[Field, ReadonlyArray<readonly [unknown, unknown]>]> = [
      [{ type: 'duration', doc: 'd' }, DURATION_CASES],
      [{ type: 'bytes', doc: 'b' }, BYTES_CASES],
      [{ type: 'endpoint', doc: 'e' }, ENDPOINT_CASES],
    ];
    for (const [f, table] of cases) {
      it(`${f.type}: the loader's table`, () => {
        for (const [input] of table) expect(schemaTakes(f, input), `${f.type} ${JSON.stringify(input)}`).to.equal(loaderTakes(f, input));
        // and both sides of the table occur
        expect(table.some(([i]) => loaderTakes(f, i))).to.equal(true);
        expect(table.some(([i]) => !loaderTakes(f, i))).to.equal(true);
      });
    }
    const alphabet = (chars: string) => fc.string({ unit: fc.constantFrom(...[...chars]), maxLength: 12 });
    it('duration: random strings and numbers, same verdict (fast-check)', () => {
      const f: Field = { type: 'duration', doc: 'd' };
      fc.assert(
        fc.property(
          fc.oneof(alphabet('0123456789.-+ \tnsuµmhdwe'), fc.double({ noNaN: true, noDefaultInfinity: true })),
          (v) => schemaTakes(f, v) === loaderTakes(f, v),
        ),
        { numRuns: 3000 },
      );
    });
    it('size: random strings and numbers, same verdict (fast-check)', () => {
      const f: Field = { type: 'bytes', doc: 'b' };
      fc.assert(
        fc.property(
          fc.oneof(alphabet('0123456789.- \tbBkKmMgGiItT'), fc.double({ noNaN: true, noDefaultInfinity: true })),
          (v) => schemaTakes(f, v) === loaderTakes(f, v),
        ),
        { numRuns: 3000 },
      );
    });
    it('endpoint: random strings, same verdict (fast-check)', () => {
      const f: Field = { type: 'endpoint', doc: 'e' };
      fc.assert(
        fc.property(alphabet('0123456789:[]. ab\tf'), (v) => schemaTakes(f, v) === loaderTakes(f, v)),
        { numRuns: 3000 },
      );
    });
    it('bounds given as numbers: minimum and maximum in seconds / bytes', () => {
      const d: Field = { type: 'duration', doc: 'd', min: '1s', max: '1h' };
      expect([0.5, 1, 3600, 3601].map((v) => schemaTakes(d, v))).to.deep.equal([false, true, true, false]);
      const b: Field = { type: 'bytes', doc: 'b', min: '1KiB' };
      expect([1023, 1024].map((v) => schemaTakes(b, v))).to.deep.equal([false, true]);
    });
  });

  it("keeps the loader's leniency: env references anywhere, numbers and booleans as strings, empty values for options with defaults", () => {
    const fields: Field[] = [
      { type: 'int', doc: 'i', default: 1, min: 1 },
      { type: 'number', doc: 'n', default: 1 },
      { type: 'boolean', doc: 'b', default: true },
      { type: 'duration', doc: 'd', default: '1s' },
      { type: 'bytes', doc: 'b', default: 1 },
      { type: 'enum', values: ['a', 'b'], doc: 'e', default: 'a' },
      { type: 'endpoint', doc: 'e', default: ':1' },
      { type: 'url', doc: 'u', default: 'http://x' },
      { type: 'string', doc: 's', pattern: /^x+$/, default: 'x' },
    ];
    for (const f of fields) {
      for (const v of ['${env:X}', '${env:X:-y}', null]) {
        expect(schemaTakes(f, v), `${f.type} ${JSON.stringify(v)}`).to.equal(true);
      }
    }
    for (const [f, v] of [
      [fields[0]!, '42'],
      [fields[1]!, ' 1.5e3 '],
      [fields[2]!, 'true'],
      [{ type: 'string', doc: 's' } as Field, 42],
    ] as const) {
      expect(loaderTakes(f, v), `loader ${f.type} ${JSON.stringify(v)}`).to.equal(true);
      expect(schemaTakes(f, v), `schema ${f.type} ${JSON.stringify(v)}`).to.equal(true);
    }
    for (const [f, v] of [
      [fields[0]!, 'four'],
      [fields[0]!, 0],
      [fields[2]!, 'yes'],
      [fields[5]!, 'c'],
      [fields[7]!, 'ftp://x'],
      [fields[8]!, 'y'],
      [fields[0]!, '${VAR}'],
    ] as const) {
      expect(loaderTakes(f, v), `loader ${f.type} ${JSON.stringify(v)}`).to.equal(false);
      expect(schemaTakes(f, v), `schema ${f.type} ${JSON.stringify(v)}`).to.equal(false);
    }
  });

  it('marks secrets writeOnly and carries types, enums, defaults and docs', () => {
    const s = configJsonSchema(registry) as { $defs: Record<string, { properties: Record<string, Record<string, unknown>>; required?: string[] }> };
    const influx = s.$defs['exporter.influxdb']!;
    expect(influx.required).to.deep.equal(['endpoint']);
    expect(influx.properties.password).to.include({ writeOnly: true, default: '' });
    expect(influx.properties.token!.writeOnly).to.equal(true);
    expect(influx.properties.db!.writeOnly).to.equal(undefined);
    expect(influx.properties.precision!.anyOf).to.deep.include({ enum: ['ns', 'us', 'ms', 's'] });
    expect(influx.properties.precision).to.include({ default: 'ns', description: 'timestamp precision of the written lines' });
    expect(influx.properties.period).to.include({ default: '60s', minimum: 1 });
    expect(influx.properties.period!.description).to.match(/A duration: "250ms"/);
    expect((influx as unknown as { additionalProperties: boolean }).additionalProperties).to.equal(false);
    const sentry = s.$defs['receiver.sentry']!;
    const keyItem = (sentry.properties.keys!.items as { properties: Record<string, Record<string, unknown>> }).properties;
    expect(keyItem.key!.writeOnly).to.equal(true);
  });

  it('component ids: "type" and "type/name" under each section; unknown types rejected', () => {
    expect(
      validateYamlText(
        'exporters:\n  debug: {}\n  debug/verbose: { verbosity: detailed }\n  file/a.b-c_1: { path: x }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [debug, debug/verbose, file/a.b-c_1] } } }\nreceivers: { otlp: }\n',
      ).ok,
    ).to.equal(true);
    for (const bad of ['debugg', 'debug/', 'debug/a b', 'Debug']) {
      const r = validateYamlText(`exporters:\n  "${bad}": {}\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [debug] } } }\n`);
      expect(r.ok, bad).to.equal(false);
      expect([...r.paths], bad).to.include(`exporters.${bad}`);
    }
  });

  describe('what `metricport validate` rejects for a reason a schema can express, the schema rejects at the same key path', () => {
    // schemaPath: where the schema reports it when that cannot be the loader's path (an empty value has no key under it)
    const cases: Array<{ what: string; text: string; path: string; schemaPath?: string }> = [
      {
        what: 'unknown top-level key',
        path: 'recievers',
        text: 'recievers: {}\nreceivers: { otlp: }\nexporters: { debug: }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [debug] } } }\n',
      },
      {
        what: 'a section that is not a mapping',
        path: 'exporters',
        text: 'receivers: { otlp: }\nexporters: [debug]\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [debug] } } }\n',
      },
      {
        what: 'unknown component type',
        path: 'exporters.influxd',
        text: 'receivers: { otlp: }\nexporters: { influxd: { endpoint: "http://x" } }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [influxd] } } }\n',
      },
      {
        what: 'invalid component id',
        path: 'exporters.debug/a b',
        text: 'receivers: { otlp: }\nexporters: { "debug/a b": {} }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [debug] } } }\n',
      },
      {
        what: 'unknown option',
        path: 'exporters.influxdb.precison',
        text: 'receivers: { otlp: }\nexporters: { influxdb: { endpoint: "http://x", db: m, precison: s } }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [influxdb] } } }\n',
      },
      {
        what: 'unknown nested option',
        path: 'receivers.otlp.protocols.http.endpont',
        text: 'receivers: { otlp: { protocols: { http: { endpont: ":1" } } } }\nexporters: { debug: }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [debug] } } }\n',
      },
      {
        what: 'unknown option in a list item',
        path: 'receivers.sentry.keys[0].aplication',
        text: 'receivers: { sentry: { keys: [{ key: k, application: a, aplication: b }] } }\nexporters: { debug: }\nservice: { pipelines: { events: { receivers: [sentry], exporters: [debug] } } }\n',
      },
      {
        what: 'enum value',
        path: 'exporters.influxdb.precision',
        text: 'receivers: { otlp: }\nexporters: { influxdb: { endpoint: "http://x", db: m, precision: hours } }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [influxdb] } } }\n',
      },
      {
        what: 'duration syntax',
        path: 'exporters.influxdb.period',
        text: 'receivers: { otlp: }\nexporters: { influxdb: { endpoint: "http://x", db: m, period: 10 minutes } }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [influxdb] } } }\n',
      },
      {
        what: 'duration below its minimum (a number)',
        path: 'exporters.influxdb.period',
        text: 'receivers: { otlp: }\nexporters: { influxdb: { endpoint: "http://x", db: m, period: 0.5 } }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [influxdb] } } }\n',
      },
      {
        what: 'size syntax',
        path: 'receivers.otlp.protocols.http.max_request_body_size',
        text: 'receivers: { otlp: { protocols: { http: { max_request_body_size: 64 megs } } } }\nexporters: { debug: }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [debug] } } }\n',
      },
      {
        what: 'host:port',
        path: 'receivers.otlp.protocols.http.endpoint',
        text: 'receivers: { otlp: { protocols: { http: { endpoint: localhost } } } }\nexporters: { debug: }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [debug] } } }\n',
      },
      {
        what: 'URL scheme',
        path: 'exporters.influxdb.endpoint',
        text: 'receivers: { otlp: }\nexporters: { influxdb: { endpoint: "ftp://x", db: m } }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [influxdb] } } }\n',
      },
      {
        what: 'a required option',
        path: 'exporters.influxdb.endpoint',
        text: 'receivers: { otlp: }\nexporters: { influxdb: { db: m } }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [influxdb] } } }\n',
      },
      {
        what: 'a component with required options left empty',
        path: 'exporters.file.path',
        schemaPath: 'exporters.file',
        text: 'receivers: { otlp: }\nexporters: { file: }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [file] } } }\n',
      },
      {
        what: 'integer below its minimum',
        path: 'exporters.influxdb.max_series',
        text: 'receivers: { otlp: }\nexporters: { influxdb: { endpoint: "http://x", db: m, max_series: 0 } }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [influxdb] } } }\n',
      },
      {
        what: 'not an integer',
        path: 'receivers.statsd.max_series',
        text: 'receivers: { statsd: { max_series: 1.5 } }\nexporters: { debug: }\nservice: { pipelines: { metrics: { receivers: [statsd], exporters: [debug] } } }\n',
      },
      {
        what: 'boolean',
        path: 'receivers.statsd.udp.enabled',
        text: 'receivers: { statsd: { udp: { enabled: maybe } } }\nexporters: { debug: }\nservice: { pipelines: { metrics: { receivers: [statsd], exporters: [debug] } } }\n',
      },
      {
        what: 'a string pattern',
        path: 'exporters.prometheus.token',
        text: 'receivers: { otlp: }\nexporters: { prometheus: { token: short } }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [prometheus] } } }\n',
      },
      {
        what: 'an empty string where one is needed',
        path: 'exporters.datadog.api_key',
        text: 'receivers: { otlp: }\nexporters: { datadog: { api_key: "" } }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [datadog] } } }\n',
      },
      {
        what: 'a list where a mapping goes',
        path: 'receivers.importer.importers[0].attributes',
        text: 'receivers: { importer: { source: postgres, importers: [{ name: a, query: q, metric: { name: m }, attributes: [x] }] } }\nexporters: { debug: }\nservice: { pipelines: { metrics: { receivers: [importer], exporters: [debug] } } }\n',
      },
      { what: 'no service', path: 'service', text: 'receivers: { otlp: }\nexporters: { debug: }\n' },
      { what: 'no pipelines', path: 'service.pipelines', text: 'receivers: { otlp: }\nexporters: { debug: }\nservice: { pipelines: {} }\n' },
      {
        what: 'unknown service key',
        path: 'service.extensions',
        text: 'receivers: { otlp: }\nexporters: { debug: }\nservice: { extensions: [], pipelines: { metrics: { receivers: [otlp], exporters: [debug] } } }\n',
      },
      {
        what: 'unknown pipeline key',
        path: 'service.pipelines.metrics.exporter',
        text: 'receivers: { otlp: }\nexporters: { debug: }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [debug], exporter: [debug] } } }\n',
      },
      {
        what: 'a pipeline without receivers',
        path: 'service.pipelines.metrics',
        text: 'receivers: { otlp: }\nexporters: { debug: }\nservice: { pipelines: { metrics: { exporters: [debug] } } }\n',
      },
      {
        what: 'an empty receiver list',
        path: 'service.pipelines.metrics.receivers',
        text: 'receivers: { otlp: }\nexporters: { debug: }\nservice: { pipelines: { metrics: { receivers: [], exporters: [debug] } } }\n',
      },
      {
        what: 'a component type in a pipeline that does not exist',
        path: 'service.pipelines.metrics.exporters[1]',
        text: 'receivers: { otlp: }\nexporters: { debug: }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [debug, influxd] } } }\n',
      },
      {
        what: 'an id listed twice',
        path: 'service.pipelines.metrics.exporters[1]',
        text: 'receivers: { otlp: }\nexporters: { debug: }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [debug, debug] } } }\n',
      },
      {
        what: 'a signal that does not exist',
        path: 'service.pipelines.p.signal',
        text: 'receivers: { otlp: }\nexporters: { debug: }\nservice: { pipelines: { p: { receivers: [otlp], exporters: [debug], signal: traces } } }\n',
      },
      {
        what: 'memory limiter size',
        path: 'service.memory_limiter.soft_limit',
        text: 'receivers: { otlp: }\nexporters: { debug: }\nservice: { memory_limiter: { soft_limit: lots }, pipelines: { metrics: { receivers: [otlp], exporters: [debug] } } }\n',
      },
    ];
    for (const c of cases) {
      it(c.what, () => {
        const text = c.text;
        const loader = checkConfig(text, 'c.yaml', registry, {}).issues.filter((i) => i.severity === 'error');
        expect(
          loader.map((i) => i.path),
          `the loader rejects ${c.path}: ${JSON.stringify(loader)}`,
        ).to.include(c.path);
        const r = validateYamlText(text);
        expect(r.ok, `the schema rejects it`).to.equal(false);
        expect([...r.paths], describeErrors(r.errors)).to.include(c.schemaPath ?? c.path);
      });
    }
    it('every case is valid once the mistake is mended (the cases differ from a valid config by the mistake alone)', () => {
      const mended =
        'receivers: { otlp: }\nexporters: { influxdb: { endpoint: "http://x", db: m, precision: s, period: 10m } }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [influxdb] } } }\n';
      expect(checkConfig(mended, 'c.yaml', registry, {}).issues.filter((i) => i.severity === 'error')).to.deep.equal([]);
      expect(validateYamlText(mended).ok).to.equal(true);
    });
  });

  it('error paths: an additional property, a missing option, a duplicate', () => {
    expect([...errorPaths([{ keyword: 'required', instancePath: '/a/0', params: { missingProperty: 'b' }, schemaPath: '', message: '' }])]).to.deep.equal([
      'a[0]',
      'a[0].b',
    ]);
  });
});
