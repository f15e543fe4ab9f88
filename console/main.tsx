// The metricport console: Overview, Explore, Metric sets, Metric stores, Importers.
// Preact + uPlot, bundled by esbuild at build time (scripts/build-console.ts) and served by the admin server.
import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './app.css';
import { api, ApiError } from './api';
import { TimeChart } from './chart';

// ---------- small helpers ----------
function relative(iso: string | null | undefined, now = Date.now()): string {
  if (iso === null || iso === undefined) return 'never';
  const d = (now - Date.parse(iso)) / 1000;
  if (!Number.isFinite(d)) return iso;
  if (d < 5) return 'just now';
  if (d < 90) return `${Math.round(d)} s ago`;
  if (d < 5400) return `${Math.round(d / 60)} min ago`;
  if (d < 172800) return `${Math.round(d / 3600)} h ago`;
  return `${Math.round(d / 86400)} days ago`;
}
function When({ iso }: { iso: string | null | undefined }) {
  if (iso === null || iso === undefined) return <span class="muted">never</span>;
  return (
    <time dateTime={iso} title={new Date(iso).toLocaleString()}>
      {relative(iso)} <span class="abs">({new Date(iso).toLocaleString()})</span>
    </time>
  );
}
function fmt(v: unknown): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString('en') : v.toLocaleString('en', { maximumFractionDigits: 3 });
  return String(v);
}
function usePoll<T>(load: () => Promise<T>, ms: number, deps: unknown[] = []): { data: T | undefined; error: string | undefined; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [n, setN] = useState(0);
  useEffect(() => {
    let alive = true;
    const tick = () =>
      load().then(
        (d) => {
          if (alive) {
            setData(d);
            setError(undefined);
          }
        },
        (e: Error) => {
          if (alive) setError(e.message);
        },
      );
    void tick(); // its rejection is handled: the error is shown
    const t = ms > 0 ? setInterval(tick, ms) : undefined;
    return () => {
      alive = false;
      if (t !== undefined) clearInterval(t);
    };
  }, [...deps, n]);
  return { data, error, reload: () => setN((x) => x + 1) };
}
function Pager({ page, pages, set }: { page: number; pages: number; set: (p: number) => void }) {
  if (pages <= 1) return null;
  return (
    <nav class="pager" aria-label="pages">
      <button type="button" disabled={page === 0} onClick={() => set(page - 1)}>
        ‹ Previous
      </button>
      <span>
        page {page + 1} of {pages}
      </span>
      <button type="button" disabled={page >= pages - 1} onClick={() => set(page + 1)}>
        Next ›
      </button>
    </nav>
  );
}
function Err({ msg }: { msg: string | undefined }) {
  return msg === undefined ? null : (
    <p class="error" role="alert">
      {msg}
    </p>
  );
}

// ---------- Overview ----------
// what each kind counts: a receiver the items it accepted, a processor what came in, an exporter what it sent
const RATE_KEYS = ['accepted', 'incoming', 'points_sent', 'sent', 'lines', 'accepted_items', 'incoming_items', 'outgoing_items'];
function counterOf(c: any, k: string): number | undefined {
  const v = c?.[k] ?? c?.counters?.[k];
  return typeof v === 'number' ? v : undefined;
}
// a counter appears with the first item it counts: before, it is 0
const KIND_KEY: Record<string, string> = { receivers: 'accepted', processors: 'incoming', exporters: 'sent' };
function rateKey(c: any, kind: string): string {
  return RATE_KEYS.find((k) => counterOf(c, k) !== undefined) ?? KIND_KEY[kind]!;
}
function Overview() {
  const [prev, setPrev] = useState<{ t: number; s: any } | undefined>();
  const [rates, setRates] = useState<Record<string, number>>({});
  const { data: st, error } = usePoll(() => api.get('/api/v1/status'), 2000);
  useEffect(() => {
    if (st === undefined) return;
    const now = Date.now();
    if (prev !== undefined) {
      const r: Record<string, number> = {};
      for (const kind of ['receivers', 'processors', 'exporters']) {
        for (const c of st[kind] ?? []) {
          const k = rateKey(c, kind);
          const old = (prev.s[kind] ?? []).find((o: any) => o.id === c.id && o.pipeline === c.pipeline);
          const a = counterOf(c, k) ?? 0;
          const b = old === undefined ? undefined : (counterOf(old, k) ?? 0);
          if (b !== undefined) r[`${kind}/${c.pipeline ?? ''}/${c.id}`] = Math.max(0, (a - b) / ((now - prev.t) / 1000));
        }
      }
      setRates(r);
    }
    setPrev({ t: now, s: st });
  }, [st]);
  if (st === undefined)
    return (
      <section>
        <h1>Overview</h1>
        <Err msg={error} />
        <p>Loading…</p>
      </section>
    );
  const find = (kind: string, id: string, pipeline: string) =>
    (st[kind] ?? []).find((c: any) => c.id === id && (c.pipeline === undefined || c.pipeline === pipeline)) ?? (st[kind] ?? []).find((c: any) => c.id === id);
  const Node = ({ kind, id, pipeline }: { kind: string; id: string; pipeline: string }) => {
    const c = find(kind, id, pipeline);
    const rate = rates[`${kind}/${c?.pipeline ?? ''}/${id}`];
    const healthy = c?.healthy !== false;
    return (
      <div class={`node ${healthy ? 'ok' : 'bad'}`} tabIndex={0} aria-label={`${kind.slice(0, -1)} ${id}: ${healthy ? 'healthy' : 'unhealthy'}`}>
        <strong>{id}</strong>
        <span class="state">{healthy ? '● healthy' : `● ${c?.state ?? 'unknown'}`}</span>
        <span class="rate">{rate === undefined ? '…' : `${fmt(Math.round(rate * 10) / 10)}/s`}</span>
        {c?.last_error ? (
          <span class="lasterr" title={String(c.last_error)}>
            {String(c.last_error).slice(0, 80)}
          </span>
        ) : null}
      </div>
    );
  };
  return (
    <section>
      <h1>Overview</h1>
      <p class="muted">
        metricport {st.version} · pid {st.pid} · refreshed every 2 s
      </p>
      <Err msg={error} />
      {(st.pipelines ?? []).map((p: any) => (
        <article class="pipeline" key={p.id} aria-label={`pipeline ${p.id}`}>
          <h2>
            {p.id}{' '}
            <span class="muted">
              ({p.signal}
              {p.output_signal && p.output_signal !== p.signal ? ` → ${p.output_signal}` : ''})
            </span>
          </h2>
          <div class="graph">
            <div class="col">
              <h3>Receivers</h3>
              {[...p.receivers, ...(p.inputs ?? [])].map((id: string) => (
                <Node kind="receivers" id={id} pipeline={p.id} />
              ))}
            </div>
            <div class="arrow" aria-hidden="true">
              →
            </div>
            <div class="col">
              <h3>Processors</h3>
              {p.processors.length === 0 ? (
                <span class="muted">none</span>
              ) : (
                p.processors.map((id: string) => <Node kind="processors" id={id} pipeline={p.id} />)
              )}
            </div>
            <div class="arrow" aria-hidden="true">
              →
            </div>
            <div class="col">
              <h3>Exporters</h3>
              {p.exporters.map((id: string) => (
                <Node kind="exporters" id={id} pipeline={p.id} />
              ))}
            </div>
          </div>
        </article>
      ))}
    </section>
  );
}

// ---------- Explore ----------
const OPS = ['equals', 'not_equals', 'in', 'regex', 'contains', 'exists', 'not_exists', 'gte', 'lte'];
const KINDS = ['count', 'unique', 'sum', 'min', 'max', 'mean', 'first', 'last', 'p50', 'p90', 'p95', 'p99'];
interface Cond {
  attr: string;
  op: string;
  value: string;
}
interface Agg {
  kind: string;
  attr: string;
}
function buildFilter(conds: Cond[]): Record<string, unknown> | undefined {
  const f: Record<string, Record<string, unknown>> = {};
  for (const c of conds) {
    if (c.attr === '') continue;
    const v: unknown =
      c.op === 'exists' || c.op === 'not_exists'
        ? true
        : c.op === 'in'
          ? c.value
              .split(',')
              .map((x) => x.trim())
              .filter((x) => x !== '')
          : c.op === 'gte' || c.op === 'lte'
            ? Number(c.value)
            : c.value;
    (f[c.attr] ??= {})[c.op] = v;
  }
  return Object.keys(f).length === 0 ? undefined : f;
}
function aggText(a: Agg): string {
  return a.kind === 'count' ? 'count' : `${a.kind}(${a.attr})`;
}

function Explore({ info }: { info: any }) {
  const { data: attrs, error: attrErr } = usePoll(() => api.get('/api/v1/explore/attributes'), 0);
  const [conds, setConds] = useState<Cond[]>([]);
  const [groupBy, setGroupBy] = useState<string[]>([]);
  const [gbInput, setGbInput] = useState('');
  const [aggs, setAggs] = useState<Agg[]>([{ kind: 'count', attr: '' }]);
  const [from, setFrom] = useState('1h');
  const [page, setPage] = useState(0);
  const [res, setRes] = useState<any>();
  const [err, setErr] = useState<{ msg: string; errors: Array<{ path: string; message: string }> }>();
  const [busy, setBusy] = useState(false);
  const [showExport, setShowExport] = useState(false);
  const names: string[] = (attrs?.attributes ?? []).map((a: any) => a.name);
  const valuesOf = (n: string): string[] => ((attrs?.attributes ?? []).find((a: any) => a.name === n)?.values ?? []).map((v: any) => String(v.value));
  const PAGE = 25;
  const query = () => ({ filter: buildFilter(conds), group_by: groupBy, aggregates: aggs.map(aggText), from });
  const run = async (p = 0) => {
    setBusy(true);
    setErr(undefined);
    try {
      setRes(await api.post('/api/v1/explore', { ...query(), limit: PAGE, offset: p * PAGE }));
      setPage(p);
    } catch (e) {
      const a = e as ApiError;
      setErr({ msg: a.message, errors: a.body?.errors ?? [] });
      setRes(undefined);
    } finally {
      setBusy(false);
    }
  };
  const fieldErr = (prefix: string) =>
    err?.errors
      .filter((e) => e.path === prefix || e.path.startsWith(prefix + '[') || e.path.startsWith(prefix + '.'))
      .map((e) => (
        <span class="field-error" role="alert">
          {e.path}: {e.message}
        </span>
      ));
  const addGb = (v: string) => {
    const t = v.trim();
    if (t !== '' && !groupBy.includes(t)) setGroupBy([...groupBy, t]);
    setGbInput('');
  };
  return (
    <section>
      <h1>Explore</h1>
      <p class="muted">
        The recent events a metricsets processor received
        {attrs?.history ? ` (${fmt(attrs.history.events)} kept, since ${attrs.history.oldest ? new Date(attrs.history.oldest).toLocaleString() : '–'})` : ''}.
        The values are computed by the same code as an exported metric.
      </p>
      <Err msg={attrErr} />
      <datalist id="attr-names">
        {names.map((n) => (
          <option value={n} />
        ))}
      </datalist>
      <form
        class="query"
        onSubmit={(e) => {
          e.preventDefault();
          void run(0);
        }}
      >
        <fieldset>
          <legend>Filters</legend>
          {conds.map((c, i) => (
            <div class="row" key={i}>
              <label>
                Attribute{' '}
                <input
                  list="attr-names"
                  value={c.attr}
                  onInput={(e) => setConds(conds.map((x, j) => (j === i ? { ...x, attr: (e.target as HTMLInputElement).value } : x)))}
                />
              </label>
              <label>
                Operator{' '}
                <select value={c.op} onChange={(e) => setConds(conds.map((x, j) => (j === i ? { ...x, op: (e.target as HTMLSelectElement).value } : x)))}>
                  {OPS.map((o) => (
                    <option value={o}>{o}</option>
                  ))}
                </select>
              </label>
              {c.op === 'exists' || c.op === 'not_exists' ? null : (
                <label>
                  Value{' '}
                  <input
                    list={`vals-${i}`}
                    value={c.value}
                    onInput={(e) => setConds(conds.map((x, j) => (j === i ? { ...x, value: (e.target as HTMLInputElement).value } : x)))}
                  />
                  <datalist id={`vals-${i}`}>
                    {valuesOf(c.attr).map((v) => (
                      <option value={v} />
                    ))}
                  </datalist>
                </label>
              )}
              <button type="button" class="secondary" aria-label={`remove filter ${i + 1}`} onClick={() => setConds(conds.filter((_, j) => j !== i))}>
                Remove
              </button>
            </div>
          ))}
          <button type="button" class="secondary" onClick={() => setConds([...conds, { attr: '', op: 'equals', value: '' }])}>
            Add filter
          </button>
          {fieldErr('filter')}
        </fieldset>
        <fieldset>
          <legend>Group by</legend>
          <div class="chips">
            {groupBy.length === 0 ? (
              <span class="muted">none (one group)</span>
            ) : (
              groupBy.map((g) => (
                <span class="chip">
                  {g}{' '}
                  <button type="button" aria-label={`remove group by ${g}`} onClick={() => setGroupBy(groupBy.filter((x) => x !== g))}>
                    ×
                  </button>
                </span>
              ))
            )}
          </div>
          <div class="row">
            <label>
              Attribute{' '}
              <input
                id="group-by-input"
                list="attr-names"
                value={gbInput}
                onInput={(e) => setGbInput((e.target as HTMLInputElement).value)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter') {
                    e.preventDefault();
                    addGb(gbInput);
                  }
                }}
              />
            </label>
            <button type="button" class="secondary" onClick={() => addGb(gbInput)}>
              Add group by
            </button>
          </div>
          {fieldErr('group_by')}
        </fieldset>
        <fieldset>
          <legend>Aggregates</legend>
          {aggs.map((a, i) => (
            <div class="row" key={i}>
              <label>
                Aggregate{' '}
                <select
                  class="agg-kind"
                  value={a.kind}
                  onChange={(e) => setAggs(aggs.map((x, j) => (j === i ? { ...x, kind: (e.target as HTMLSelectElement).value } : x)))}
                >
                  {KINDS.map((k) => (
                    <option value={k}>{k}</option>
                  ))}
                </select>
              </label>
              {a.kind === 'count' ? null : (
                <label>
                  of attribute{' '}
                  <input
                    class="agg-attr"
                    list="attr-names"
                    value={a.attr}
                    onInput={(e) => setAggs(aggs.map((x, j) => (j === i ? { ...x, attr: (e.target as HTMLInputElement).value } : x)))}
                  />
                </label>
              )}
              <button
                type="button"
                class="secondary"
                aria-label={`remove aggregate ${i + 1}`}
                disabled={aggs.length === 1}
                onClick={() => setAggs(aggs.filter((_, j) => j !== i))}
              >
                Remove
              </button>
            </div>
          ))}
          <button type="button" class="secondary" onClick={() => setAggs([...aggs, { kind: 'unique', attr: '' }])}>
            Add aggregate
          </button>
          {fieldErr('aggregates')}
        </fieldset>
        <div class="row">
          <label>
            Time frame{' '}
            <select value={from} onChange={(e) => setFrom((e.target as HTMLSelectElement).value)}>
              {['5m', '15m', '1h', '6h', '24h'].map((f) => (
                <option value={f}>last {f}</option>
              ))}
            </select>
          </label>
          <button type="submit" disabled={busy}>
            {busy ? 'Running…' : 'Run query'}
          </button>
          <button type="button" class="secondary" disabled={res === undefined} onClick={() => setShowExport(true)}>
            Export as metric
          </button>
        </div>
      </form>
      {err !== undefined ? (
        <p class="error" role="alert">
          {err.msg}
        </p>
      ) : null}
      {res !== undefined ? (
        <div class="results">
          <p class="muted">
            {fmt(res.events_matched)} of {fmt(res.events_scanned)} events matched · {fmt(res.groups_total)} groups · {res.took_ms} ms · buckets of{' '}
            {res.bucket_ms / 1000} s
          </p>
          <div class="table-wrap">
            <table class="explore-table">
              <thead>
                <tr>
                  {res.group_by.map((g: string) => (
                    <th scope="col">{g}</th>
                  ))}
                  {res.aggregates.map((a: string) => (
                    <th scope="col" class="num">
                      {a}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {res.rows.map((r: any) => (
                  <tr>
                    {res.group_by.map((g: string) => (
                      <td>{fmt(r.group[g])}</td>
                    ))}
                    {r.values.map((v: unknown) => (
                      <td class="num">{fmt(v)}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager page={page} pages={Math.ceil(res.groups_total / PAGE)} set={(p) => void run(p)} />
          <div class="charts">
            {res.series.map((s: any) => (
              <TimeChart
                title={s.aggregate}
                times={s.times}
                series={s.groups.map((g: any) => ({ label: res.group_by.map((k: string) => String(g.group[k])).join(' / ') || 'all', values: g.values }))}
              />
            ))}
          </div>
        </div>
      ) : null}
      {showExport ? <ExportDialog info={info} query={query()} onClose={() => setShowExport(false)} /> : null}
    </section>
  );
}

function ExportDialog({ info, query, onClose }: { info: any; query: any; onClose: () => void }) {
  const { data: sets } = usePoll(() => api.get('/api/v1/metricsets'), 0);
  const [name, setName] = useState('');
  const [set, setSet] = useState('');
  const [newSet, setNewSet] = useState('');
  const [preview, setPreview] = useState<any>();
  const [result, setResult] = useState<any>();
  const [err, setErr] = useState<{ msg: string; errors: any[] }>();
  const setNames: string[] = [...new Set<string>((sets?.metricsets ?? []).map((s: any) => s.name))];
  const target = set === '__new__' || setNames.length === 0 ? newSet : set || setNames[0] || '';
  const body = (dry: boolean) => ({
    set: target,
    metric: { name, filter: query.filter, group_by: query.group_by, aggregates: query.aggregates },
    dry_run: dry,
  });
  useEffect(() => {
    if (name === '' || target === '') {
      setPreview(undefined);
      return;
    }
    const t = setTimeout(
      () =>
        api.post('/api/v1/console/export', body(true)).then(
          (p) => {
            setPreview(p);
            setErr(undefined);
          },
          (e: ApiError) => {
            setPreview(undefined);
            setErr({ msg: e.message, errors: e.body?.errors ?? [] });
          },
        ),
      250,
    );
    return () => clearTimeout(t);
  }, [name, target]);
  const save = async () => {
    try {
      setResult(await api.post('/api/v1/console/export', body(false)));
      setErr(undefined);
    } catch (e) {
      const a = e as ApiError;
      setErr({ msg: a.message, errors: a.body?.errors ?? [] });
    }
  };
  const fe = (field: string) =>
    err?.errors
      .filter((e: any) => e.field === field)
      .map((e: any) => (
        <span class="field-error" role="alert">
          {e.message}
        </span>
      ));
  return (
    <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="export-title">
      <div class="dialog-box">
        <h2 id="export-title">Export as metric</h2>
        <p class="muted">
          The time frame is not part of the metric: it is computed every period ({query.group_by.length > 0 ? `per ${query.group_by.join(', ')}` : 'one series'}
          : {query.aggregates.join(', ')}).
        </p>
        <label>
          Metric name <input id="export-name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} placeholder="ErrorsByVersion" />
        </label>
        {fe('name')}
        <label>
          Metric set{' '}
          <select id="export-set" value={set} onChange={(e) => setSet((e.target as HTMLSelectElement).value)}>
            {setNames.map((s) => (
              <option value={s}>{s}</option>
            ))}
            <option value="__new__">New metric set…</option>
          </select>
        </label>
        {set === '__new__' || setNames.length === 0 ? (
          <label>
            New set name <input id="export-new-set" value={newSet} onInput={(e) => setNewSet((e.target as HTMLInputElement).value)} />
          </label>
        ) : null}
        {fe('set')}
        {preview !== undefined ? (
          <>
            <h3>
              YAML it adds to {preview.config_file} ({preview.created_set ? 'a new set' : `set ${preview.set}`})
            </h3>
            <pre class="yaml">{preview.yaml_added}</pre>
          </>
        ) : null}
        {err !== undefined ? (
          <p class="error" role="alert">
            {err.msg}
            {err.errors
              .filter((e: any) => e.field === undefined)
              .map((e: any) => (
                <span class="field-error">
                  {e.path}: {e.message}
                </span>
              ))}
          </p>
        ) : null}
        {result !== undefined ? (
          <p class="ok" role="status">
            Saved into {result.config_file} (previous file kept as {result.backup}); the service reloaded.
          </p>
        ) : null}
        {!info?.writable ? (
          <p class="readonly" role="note">
            {info?.read_only_reason ?? 'read-only'}
          </p>
        ) : null}
        <div class="row">
          <button type="button" disabled={!info?.writable || preview === undefined || result !== undefined} onClick={() => void save()}>
            Save to config
          </button>
          <button type="button" class="secondary" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
    </div>
  );
}

// ---------- Metric sets ----------
function MetricSets() {
  const { data, error } = usePoll(() => api.get('/api/v1/metricsets'), 5000);
  const [page, setPage] = useState(0);
  const sets: any[] = data?.metricsets ?? [];
  const PAGE = 10;
  return (
    <section>
      <h1>Metric sets</h1>
      <Err msg={error} />
      {data !== undefined && sets.length === 0 ? <p>No metric sets: build one in Explore and export it.</p> : null}
      {sets.slice(page * PAGE, (page + 1) * PAGE).map((s) => (
        <MetricSetCard set={s} key={`${s.processor}/${s.name}`} />
      ))}
      <Pager page={page} pages={Math.ceil(sets.length / PAGE)} set={setPage} />
    </section>
  );
}
function MetricSetCard({ set }: { set: any }) {
  const { data: preview } = usePoll(() => api.get(`/api/v1/metricsets/${encodeURIComponent(set.name)}/preview`), 5000, [set.name]);
  const open = preview?.previews?.[0]?.windows?.slice(-1)[0];
  return (
    <article class="card" aria-label={`metric set ${set.name}`}>
      <h2>
        {set.name}{' '}
        <span class="muted">
          ({set.processor}, period {set.period_ms / 1000} s)
        </span>
      </h2>
      {set.metrics.map((m: any) => (
        <div class="metric">
          <h3>{m.name}</h3>
          <dl>
            <dt>Filter</dt>
            <dd>
              <code>{m.filter === null ? 'every event' : JSON.stringify(m.filter)}</code>
            </dd>
            <dt>Group by</dt>
            <dd>{m.group_by.length === 0 ? 'none' : m.group_by.join(', ')}</dd>
            <dt>Aggregates</dt>
            <dd>{m.aggregates.join(', ')}</dd>
            <dt>Series</dt>
            <dd>
              {m.series.map((s: any) => (
                <code class="series">{s.name}</code>
              ))}
            </dd>
          </dl>
          {open !== undefined ? (
            <div class="table-wrap">
              <table>
                <caption>
                  Open window {new Date(open.start).toLocaleTimeString()}–{new Date(open.end).toLocaleTimeString()} (preview, closes{' '}
                  {open.closes_at ? relative(open.closes_at).replace(' ago', '') : '–'})
                </caption>
                <thead>
                  <tr>
                    <th scope="col">series</th>
                    <th scope="col">group</th>
                    <th scope="col" class="num">
                      value
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {open.series
                    .filter((s: any) => s.metric === m.name)
                    .flatMap((s: any) =>
                      s.points.map((p: any) => (
                        <tr>
                          <td>{s.name}</td>
                          <td>{JSON.stringify(p.attributes)}</td>
                          <td class="num">{fmt(p.value)}</td>
                        </tr>
                      )),
                    )}
                </tbody>
              </table>
            </div>
          ) : (
            <p class="muted">No open window yet.</p>
          )}
          <SentChart metric={m} periodMs={set.period_ms} processor={set.processor} />
        </div>
      ))}
    </article>
  );
}
/** The last windows' values as they were sent: the same metric over the history, one bucket per period. */
function SentChart({ metric, periodMs, processor }: { metric: any; periodMs: number; processor: string }) {
  const span = Math.min(3600_000, periodMs * 30);
  const { data } = usePoll(
    () =>
      api
        .post('/api/v1/explore', {
          processor,
          filter: metric.filter ?? undefined,
          group_by: metric.group_by,
          group_by_defaults: metric.group_by_defaults,
          aggregates: metric.aggregates,
          from: `${span / 1000}s`,
          bucket: `${periodMs / 1000}s`,
          series_limit: 5,
        })
        .catch(() => undefined),
    15000,
    [metric.name],
  );
  if (data === undefined) return null;
  const s = data.series[0];
  return (
    <TimeChart
      title={`${metric.name}: ${s.aggregate} per window`}
      times={s.times}
      height={160}
      series={s.groups.map((g: any) => ({ label: data.group_by.map((k: string) => String(g.group[k])).join(' / ') || 'all', values: g.values }))}
    />
  );
}

// ---------- Metric stores ----------

// ---------- Add a metric store ----------
function fieldInput(f: any, value: string, set: (v: string) => void, describedBy: string, prefix: string) {
  const id = `${prefix}-field-${f.key}`;
  const common = { id, 'aria-describedby': describedBy, 'aria-required': f.required ? 'true' : undefined };
  if (f.type === 'boolean')
    return (
      <select {...common} value={value} onChange={(e) => set((e.target as HTMLSelectElement).value)}>
        <option value="">default ({String(f.default)})</option>
        <option value="true">true</option>
        <option value="false">false</option>
      </select>
    );
  if (f.type === 'enum')
    return (
      <select {...common} value={value} onChange={(e) => set((e.target as HTMLSelectElement).value)}>
        <option value="">default ({String(f.default ?? 'none')})</option>
        {(f.values as string[]).map((v) => (
          <option value={v}>{v}</option>
        ))}
      </select>
    );
  return (
    <input
      {...common}
      type={f.secret ? 'password' : f.type === 'int' || f.type === 'number' ? 'number' : f.type === 'url' ? 'url' : 'text'}
      autoComplete={f.secret ? 'new-password' : 'off'}
      value={value}
      placeholder={f.default !== undefined && f.default !== '' ? String(f.default) : ''}
      onInput={(e) => set((e.target as HTMLInputElement).value)}
    />
  );
}

/** A store as the config file defines it (GET /api/v1/console/stores). */
interface StoreEntry {
  id: string;
  type: string;
  options: Record<string, string | number | boolean>;
  secrets: Record<string, boolean>;
  pipelines: string[];
}

/** The store form: adding one (adapter and name chosen here), or editing `edit` (its current options filled in). */
function StoreForm({ edit, onDone, onClose }: { edit?: StoreEntry; onDone: () => void; onClose?: () => void }) {
  const { data, error } = usePoll(() => api.get('/api/v1/console/store-types'), 0);
  const initial = useMemo(() => Object.fromEntries(Object.entries(edit?.options ?? {}).map(([k, v]) => [k, String(v)])), [edit]);
  const [open, setOpen] = useState(edit !== undefined);
  const [type, setType] = useState(edit?.type ?? 'influxdb');
  const [name, setName] = useState('');
  const [vals, setVals] = useState<Record<string, string>>(initial);
  const [pipes, setPipes] = useState<string[]>(edit?.pipelines ?? []);
  const [errs, setErrs] = useState<Record<string, string>>({});
  const [msg, setMsg] = useState<string | undefined>();
  const [yaml, setYaml] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  // an edit form opens below the table: bring it into view, the keyboard focus on its heading
  useEffect(() => {
    if (edit !== undefined) heading.current?.focus();
  }, [data === undefined]);
  if (data === undefined) return <Err msg={error} />;
  if (!data.writable) return <p class="muted">Stores are defined in the config file (exporters); the console is read-only (see docs/console.md).</p>;
  const t = (data.types as any[]).find((x) => x.type === type) ?? data.types[0];
  const title = edit === undefined ? 'Add a metric store' : `Edit ${edit.id}`;
  const titleId = edit === undefined ? 'add-store-title' : 'edit-store-title';
  // the add and the edit form can be open together: their controls' ids differ
  const prefix = edit === undefined ? 'store' : 'edit';
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrs({});
    setMsg(undefined);
    setYaml(undefined);
    const options: Record<string, unknown> = {};
    const secrets: Record<string, string> = {};
    for (const f of t.fields as any[]) {
      const v = vals[f.key] ?? '';
      if (f.secret) {
        if (v !== '') secrets[f.key] = v;
        continue;
      }
      // editing sends what changed ('' = back to the default); adding sends what is filled in
      if (edit !== undefined ? v === (initial[f.key] ?? '') : v === '') continue;
      if (v === '') options[f.key] = '';
      else if (f.type === 'boolean') options[f.key] = v === 'true';
      else if ((f.type === 'int' || f.type === 'number') && /^-?\d+(\.\d+)?$/.test(v)) options[f.key] = Number(v);
      else options[f.key] = v;
    }
    try {
      const r =
        edit === undefined
          ? await api.post('/api/v1/console/stores', { type: t.type, name, pipelines: pipes, options, secrets })
          : await api.put(`/api/v1/console/stores/${encodeURIComponent(edit.id)}`, { pipelines: pipes, options, secrets });
      setYaml(r.yaml_added ?? r.yaml);
      setMsg(
        `${edit === undefined ? 'Added' : 'Saved'} ${r.store} ${edit === undefined ? 'to' : 'in'} ${r.config_file} (previous file kept as ${r.backup}); the service reloaded.`,
      );
      // secrets are write-only: never kept in the form
      setVals((v) => Object.fromEntries(Object.entries(v).filter(([k]) => !(t.fields as any[]).some((f) => f.key === k && f.secret))));
      onDone();
    } catch (err) {
      const b = (err as ApiError).body;
      const by: Record<string, string> = {};
      for (const x of b?.errors ?? []) if (x.field) by[x.field] = x.message;
      setErrs(by);
      // errors no field of the form shows (another part of the file) are listed with their key paths
      const rest = ((b?.errors ?? []) as any[]).filter((x) => !x.field || !(x.field in by) || !(t.fields as any[]).some((f) => f.key === x.field));
      setMsg([(err as Error).message, ...rest.map((x) => `${x.path}: ${x.message}`)].join(' · '));
    } finally {
      setBusy(false);
    }
  };
  if (!open)
    return (
      <button type="button" onClick={() => setOpen(true)}>
        Add a metric store
      </button>
    );
  return (
    <form class={edit === undefined ? 'add-store' : 'add-store edit-store'} onSubmit={(e) => void submit(e)} aria-labelledby={titleId}>
      <h2 id={titleId} ref={heading} tabIndex={-1}>
        {title}
      </h2>
      <p class="muted">
        The form is generated from the adapter's options; empty fields keep their defaults. Secrets are write-only: stored in a 0600 file in the state directory
        and referenced from the config as <code>{'${file:…}'}</code>, never shown again
        {edit !== undefined ? '; leave a secret empty to keep the one that is set' : ''}.
      </p>
      {edit === undefined ? (
        <>
          <label for="store-type">
            Adapter{' '}
            <select
              id="store-type"
              value={t.type}
              onChange={(e) => {
                setType((e.target as HTMLSelectElement).value);
                setVals({});
                setErrs({});
              }}
            >
              {(data.types as any[]).map((x) => (
                <option value={x.type}>{x.type}</option>
              ))}
            </select>
          </label>
          <label for="store-name">
            Name (optional){' '}
            <input
              id="store-name"
              value={name}
              onInput={(e) => setName((e.target as HTMLInputElement).value)}
              aria-describedby="store-name-help store-name-err"
            />
          </label>
          <small id="store-name-help" class="muted">
            the store's id: <code>{name === '' ? t.type : `${t.type}/${name}`}</code>
          </small>
          {errs.name ? (
            <span class="field-error" id="store-name-err" role="alert">
              {errs.name}
            </span>
          ) : null}
        </>
      ) : null}
      <fieldset>
        <legend>Pipelines that send to it</legend>
        {(data.pipelines as string[]).map((p) => (
          <label class="check">
            <input
              type="checkbox"
              checked={pipes.includes(p)}
              onChange={(e) => setPipes((x) => ((e.target as HTMLInputElement).checked ? [...x, p] : x.filter((y) => y !== p)))}
            />{' '}
            {p}
          </label>
        ))}
        {errs.pipelines ? (
          <span class="field-error" role="alert">
            {errs.pipelines}
          </span>
        ) : null}
      </fieldset>
      <div class="fields">
        {(t.fields as any[]).map((f) => (
          <div class="field">
            <label for={`${prefix}-field-${f.key}`}>
              {f.key}
              {f.required ? ' (required)' : ''}
              {f.secret ? (edit?.secrets[f.key] ? ' (secret, set)' : ' (secret)') : ''}
            </label>
            {fieldInput(
              f,
              vals[f.key] ?? '',
              (v) => {
                setVals((x) => ({ ...x, [f.key]: v }));
                setErrs((x) => ({ ...x, [f.key]: '' }));
              },
              `${prefix}-help-${f.key}`,
              prefix,
            )}
            <small id={`${prefix}-help-${f.key}`} class="muted">
              {f.doc}
            </small>
            {errs[f.key] ? (
              <span class="field-error" role="alert">
                {errs[f.key]}
              </span>
            ) : null}
          </div>
        ))}
      </div>
      <button type="submit" disabled={busy}>
        {edit === undefined ? 'Add store' : 'Save store'}
      </button>{' '}
      <button
        type="button"
        class="secondary"
        onClick={() => {
          setOpen(false);
          onClose?.();
        }}
      >
        Close
      </button>
      {msg !== undefined ? (
        <p role="status" class="add-store-result">
          {msg}
        </p>
      ) : null}
      {yaml !== undefined ? <pre class="yaml-added">{yaml}</pre> : null}
    </form>
  );
}

function Stores() {
  const { data, error } = usePoll(() => Promise.all([api.get('/api/v1/stores'), api.get('/api/v1/status')]), 3000);
  const defined = usePoll(() => api.get('/api/v1/console/stores'), 0);
  const [editing, setEditing] = useState<StoreEntry | undefined>();
  const [removing, setRemoving] = useState<string | undefined>();
  const [changed, setChanged] = useState<string | undefined>();
  const entries = new Map<string, StoreEntry>(((defined.data?.stores ?? []) as StoreEntry[]).map((x) => [x.id, x]));
  const writable = defined.data?.writable === true;
  const remove = async (id: string) => {
    setChanged(undefined);
    try {
      const r = await api.del(`/api/v1/console/stores/${encodeURIComponent(id)}`);
      setChanged(
        `Removed ${r.store} from ${r.config_file}${r.removed_from.length > 0 ? ` and from ${r.removed_from.join(', ')}` : ''} (previous file kept as ${r.backup}); the service reloaded.`,
      );
    } catch (err) {
      const b = (err as ApiError).body;
      setChanged([(err as Error).message, ...((b?.errors ?? []) as any[]).map((x) => `${x.path}: ${x.message}`)].join(' · '));
    }
    setRemoving(undefined);
    defined.reload();
  };
  const [hist, setHist] = useState<Array<{ t: number; sent: number; failed: number; queued: number }>>([]);
  const [page, setPage] = useState(0);
  const [copied, setCopied] = useState('');
  useEffect(() => {
    if (data === undefined) return;
    let sent = 0,
      failed = 0,
      queued = 0;
    for (const e of data[1].exporters ?? []) {
      sent += Number(e.points_sent ?? e.sent ?? 0);
      failed += Number(e.failed ?? 0);
      queued += Number(e.points_queued ?? e.queue_size ?? 0);
    }
    setHist((h) => [...h.slice(-59), { t: Date.now(), sent, failed, queued }]);
  }, [data]);
  const stores: any[] = data?.[0]?.stores ?? [];
  const PAGE = 20;
  const copy = (url: string, name: string) => {
    void navigator.clipboard?.writeText(url).then(() => setCopied(name));
  };
  const rate = (k: 'sent' | 'failed') => hist.map((x, i) => (i === 0 ? null : Math.max(0, (x[k] - hist[i - 1]![k]) / ((x.t - hist[i - 1]!.t) / 1000))));
  return (
    <section>
      <h1>Metric stores</h1>
      <Err msg={error} />
      <div class="table-wrap">
        <table class="stores">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Adapter</th>
              <th scope="col">Mode</th>
              <th scope="col">Period</th>
              <th scope="col">Last transmission</th>
              <th scope="col">Last error</th>
              <th scope="col">Target / pull URL</th>
              {writable ? <th scope="col">Change</th> : null}
            </tr>
          </thead>
          <tbody>
            {stores.slice(page * PAGE, (page + 1) * PAGE).map((s) => (
              <tr data-store={s.name}>
                <th scope="row">{s.name}</th>
                <td>{s.adapter}</td>
                <td>{s.mode}</td>
                <td>{s.period === null ? '–' : `${s.period} s`}</td>
                <td>
                  {s.mode === 'pull' ? (
                    <>
                      last scrape: <When iso={s.last_scrape} />
                    </>
                  ) : (
                    <>
                      last transmission: <When iso={s.last_transmission} />
                    </>
                  )}
                </td>
                <td class="lasterror">{s.last_error === null ? <span class="muted">none</span> : s.last_error}</td>
                <td>
                  {s.url ? (
                    <>
                      <code>{s.url}</code>{' '}
                      <button type="button" class="secondary" aria-label={`copy the pull URL of ${s.name}`} onClick={() => copy(s.url, s.name)}>
                        {copied === s.name ? 'Copied' : 'Copy'}
                      </button>
                      {s.basic_auth ? <span class="muted"> (Basic auth: see the state directory)</span> : null}
                    </>
                  ) : (
                    <code>{s.target}</code>
                  )}
                </td>
                {writable ? (
                  <td class="actions">
                    {!entries.has(s.name) ? (
                      <span class="muted">not in the config file</span>
                    ) : removing === s.name ? (
                      <>
                        <button type="button" class="danger" onClick={() => void remove(s.name)}>
                          Remove {s.name} from the config
                        </button>{' '}
                        <button type="button" class="secondary" onClick={() => setRemoving(undefined)}>
                          Keep
                        </button>
                      </>
                    ) : (
                      <>
                        <button type="button" class="secondary" aria-label={`edit ${s.name}`} onClick={() => setEditing(entries.get(s.name))}>
                          Edit
                        </button>{' '}
                        <button type="button" class="secondary" aria-label={`remove ${s.name}`} onClick={() => setRemoving(s.name)}>
                          Remove
                        </button>
                      </>
                    )}
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Pager page={page} pages={Math.ceil(stores.length / PAGE)} set={setPage} />
      {changed !== undefined ? (
        <p role="status" class="store-change-result">
          {changed}
        </p>
      ) : null}
      {editing !== undefined ? <StoreForm key={editing.id} edit={editing} onDone={() => defined.reload()} onClose={() => setEditing(undefined)} /> : null}
      {hist.length > 2 ? (
        <TimeChart
          title="points per second: sent, failed; queued"
          times={hist.map((x) => x.t)}
          series={[
            { label: 'sent/s', values: rate('sent') },
            { label: 'failed/s', values: rate('failed') },
            { label: 'queued', values: hist.map((x) => x.queued) },
          ]}
        />
      ) : null}
      <StoreForm
        onDone={() => {
          setPage(0);
          defined.reload();
        }}
      />
    </section>
  );
}

// ---------- Importers ----------
function Importers() {
  const { data: st, error } = usePoll(() => api.get('/api/v1/status'), 5000);
  const importers: any[] = (st?.receivers ?? []).filter((r: any) => r.type === 'importer');
  return (
    <section>
      <h1>Importers</h1>
      <Err msg={error} />
      {st !== undefined && importers.length === 0 ? <p>No importer receivers in the config.</p> : null}
      {importers.map((r) => (
        <ImporterCard r={r} />
      ))}
    </section>
  );
}
function ImporterCard({ r }: { r: any }) {
  const queries: Array<[string, any]> = Object.entries(r.importers ?? {});
  const [since, setSince] = useState('1h');
  const [out, setOut] = useState<Record<string, any>>({});
  const [err, setErr] = useState<Record<string, string>>({});
  const test = async (name: string) => {
    try {
      setOut({
        ...out,
        [name]: await api.post(`/api/v1/importers/${encodeURIComponent(name)}/test?receiver=${encodeURIComponent(r.id)}&since=${encodeURIComponent(since)}`),
      });
      setErr({ ...err, [name]: '' });
    } catch (e) {
      setErr({ ...err, [name]: (e as Error).message });
    }
  };
  return (
    <article class="card" aria-label={`importer ${r.id}`}>
      <h2>
        {r.id}{' '}
        <span class="muted">
          ({r.source}
          {r.database ? `, database ${r.database}` : ''}
          {r.endpoint ? `, ${r.endpoint}` : ''}) {r.healthy === false ? 'unhealthy' : 'healthy'}
        </span>
      </h2>
      <label>
        Test over the last{' '}
        <select value={since} onChange={(e) => setSince((e.target as HTMLSelectElement).value)}>
          {['15m', '1h', '6h', '24h'].map((s) => (
            <option value={s}>{s}</option>
          ))}
        </select>
      </label>
      {queries.map(([name, q]) => {
        const o = out[name];
        return (
          <div class="metric" data-importer={name}>
            <h3>
              {name} <span class="muted">{q.phase}</span>
            </h3>
            <dl>
              <dt>Watermark</dt>
              <dd>
                <When iso={q.watermark} />
              </dd>
              <dt>Last run</dt>
              <dd>
                <When iso={q.last_success_at} />
              </dd>
              {q.last_error ? (
                <>
                  <dt>Last error</dt>
                  <dd class="error">
                    {q.last_error} (<When iso={q.last_error_at} />)
                  </dd>
                </>
              ) : null}
            </dl>
            <button type="button" onClick={() => void test(name)}>
              Run test query {name}
            </button>
            {err[name] ? (
              <p class="error" role="alert">
                {err[name]}
              </p>
            ) : null}
            {o !== undefined ? (
              <div class="test-result">
                <p class={o.ok ? 'ok' : 'error'} role="status">
                  {o.ok
                    ? `${o.rows} rows (${(o.columns ?? []).join(', ')}) from ${new Date(o.from).toLocaleString()} to ${new Date(o.to).toLocaleString()}: ${o.points} points; nothing sent, no watermark moved`
                    : `failed: ${(o.errors ?? []).join('; ')}`}
                </p>
                {o.ok && (o.preview ?? []).length > 0 ? (
                  <div class="table-wrap">
                    <table class="test-rows">
                      <thead>
                        <tr>
                          <th scope="col">time</th>
                          <th scope="col">metric</th>
                          <th scope="col">attributes</th>
                          <th scope="col" class="num">
                            value
                          </th>
                        </tr>
                      </thead>
                      <tbody>
                        {o.preview.map((p: any) => (
                          <tr>
                            <td>
                              <time dateTime={p.time}>{new Date(p.time).toLocaleString()}</time>
                            </td>
                            <td>{p.metric}</td>
                            <td>
                              {Object.entries(p.attributes ?? {})
                                .map(([k, v]) => `${k}=${String(v)}`)
                                .join(', ')}
                            </td>
                            <td class="num">{fmt(p.value)}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                ) : null}
              </div>
            ) : null}
          </div>
        );
      })}
    </article>
  );
}

// ---------- shell ----------
const PAGES: Array<[string, string]> = [
  ['overview', 'Overview'],
  ['explore', 'Explore'],
  ['sets', 'Metric sets'],
  ['stores', 'Metric stores'],
  ['importers', 'Importers'],
];
function App() {
  const [page, setPage] = useState(() => location.hash.replace(/^#\/?/, '') || 'overview');
  const { data: info } = usePoll(() => api.get('/api/v1/console'), 0);
  useEffect(() => {
    const on = () => setPage(location.hash.replace(/^#\/?/, '') || 'overview');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  const body = useMemo(() => {
    switch (page) {
      case 'explore':
        return <Explore info={info} />;
      case 'sets':
        return <MetricSets />;
      case 'stores':
        return <Stores />;
      case 'importers':
        return <Importers />;
      default:
        return <Overview />;
    }
  }, [page, info]);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <span class="brand">metricport</span>
        <nav aria-label="pages">
          <ul>
            {PAGES.map(([id, label]) => (
              <li>
                <a href={`#/${id}`} aria-current={page === id ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <form method="post" action="/console/logout" class="logout">
          <button type="submit" class="secondary">
            Log out
          </button>
        </form>
      </header>
      {info !== undefined && !info.writable ? (
        <p class="banner" role="note">
          {info.read_only_reason}
        </p>
      ) : null}
      <main id="main" tabIndex={-1}>
        {body}
      </main>
    </>
  );
}

const root = document.getElementById('app')!;
root.textContent = ''; // the server's "Loading…" placeholder
render(<App />, root);
