#!/usr/bin/env bash
# Runs what the Dockerfile's runtime stage runs, outside Docker (no engine here):
# a copy with only package*.json, dist/{src,receivers,processors,exporters},
# config/, proto/ and docs/metricport.schema.json, `npm ci --omit=dev`, the container's env vars, then
# /healthz, one OTLP request, the Prometheus scrape endpoint (token URL from
# the state directory) serving the posted metric, and SIGTERM → exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d dist/src ] || npm run build
app=$(mktemp -d); state=$(mktemp -d); pid=
trap 'kill $pid 2>/dev/null || true; rm -rf "$app" "$state"' EXIT
cp package.json package-lock.json "$app/"
mkdir -p "$app/dist"
cp -r dist/src dist/receivers dist/processors dist/exporters "$app/dist/"
cp -r config proto "$app/"
mkdir -p "$app/docs" && cp docs/metricport.schema.json "$app/docs/"
# the statsd receiver's native UDP reader ships in dist/receivers (built by npm run build)
[ -f "$app/dist/receivers/statsd/native/udprecv.node" ] || { echo "container smoke: dist/receivers/statsd/native/udprecv.node missing"; exit 1; }
(cd "$app" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
otlp=$(port); admin=$(port); prom=$(port)
cd "$app"
# the schema for editors ships: `metricport schema --path` names it and it is what `metricport schema` prints
[ "$(node dist/src/bin/metricport.js schema --path)" = "$app/docs/metricport.schema.json" ] || { echo "container smoke: metricport schema --path"; exit 1; }
node dist/src/bin/metricport.js schema | cmp -s - "$app/docs/metricport.schema.json" || { echo "container smoke: the shipped schema differs from metricport schema"; exit 1; }
METRICPORT_CONFIG="$app/config/default.yaml" METRICPORT_STATE_DIR="$state" \
METRICPORT_ADMIN_ENDPOINT="127.0.0.1:$admin" METRICPORT_OTLP_ENDPOINT="127.0.0.1:$otlp" METRICPORT_PROMETHEUS_ENDPOINT="127.0.0.1:$prom" NODE_ENV=production \
  node "$app/dist/src/bin/metricport.js" run > "$state/out.log" 2>&1 &
pid=$!
for i in $(seq 1 100); do
  if node -e "fetch('http://127.0.0.1:$admin/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then break; fi
  [ "$i" = 100 ] && { echo "container smoke: not healthy within 10 s"; cat "$state/out.log"; exit 1; }
  sleep 0.1
done
code=$(node -e "fetch('http://127.0.0.1:$otlp/v1/metrics',{method:'POST',headers:{'content-type':'application/json'},body:JSON.stringify({resourceMetrics:[{scopeMetrics:[{metrics:[{name:'smoke',gauge:{dataPoints:[{asDouble:1,timeUnixNano:'1700000000123456789'}]}}]}]}]})}).then(r=>console.log(r.status))")
[ "$code" = 200 ] || { echo "container smoke: OTLP POST answered $code"; cat "$state/out.log"; exit 1; }
scrape=$(node -e "
const c=require('$state/exporter/prometheus/credentials.json');
const url='http://127.0.0.1:$prom/'+c.token+'/metrics';
const deadline=Date.now()+10000;
(async()=>{for(;;){const r=await fetch(url);const t=await r.text();if(r.status===200&&t.split('\\n').some(l=>l==='smoke 1'||(l.startsWith('smoke{')&&l.endsWith('} 1')))){console.log('ok');return}if(Date.now()>deadline){console.log('status '+r.status+': '+t.slice(0,300));return}await new Promise(f=>setTimeout(f,100))}})().catch(e=>console.log(String(e)))")
[ "$scrape" = ok ] || { echo "container smoke: the Prometheus scrape endpoint did not serve the posted metric: $scrape"; cat "$state/out.log"; exit 1; }
kill -TERM $pid
wait $pid; rc=$?
[ $rc = 0 ] || { echo "container smoke: exit code $rc after SIGTERM"; cat "$state/out.log"; exit 1; }
grep -q '"dataPoints":1\|"data_points":1\|data points' "$state/out.log" || { echo "container smoke: the debug exporter logged nothing"; cat "$state/out.log"; exit 1; }
echo "container smoke: ok (healthy, OTLP 200, Prometheus scrape serves it, clean SIGTERM exit)"
