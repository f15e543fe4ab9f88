# syntax=docker/dockerfile:1
# metricport as a sidecar container.
#   docker build -t metricport .
#   docker run -p 4318:4318 -p 8888:8888 -p 9464:9464 -v mp-state:/var/lib/metricport metricport
# Mount your pipeline config at /etc/metricport/config.yaml (the image ships the default one).

FROM node:20-bookworm-slim AS build
# a C compiler for the statsd receiver's native UDP reader (receivers/statsd/native/udprecv.c; the image has Node's headers)
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY src ./src
COPY receivers ./receivers
COPY processors ./processors
COPY exporters ./exporters
COPY test ./test
COPY bench ./bench
COPY config ./config
COPY proto ./proto
COPY scripts ./scripts
COPY console ./console
# the native reader must build here (scripts/build-native.mjs fails instead of skipping); it ships in dist/receivers
RUN METRICPORT_REQUIRE_NATIVE=1 npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    METRICPORT_CONFIG=/etc/metricport/config.yaml \
    METRICPORT_STATE_DIR=/var/lib/metricport \
    METRICPORT_ADMIN_ENDPOINT=0.0.0.0:8888 \
    METRICPORT_OTLP_ENDPOINT=0.0.0.0:4318 \
    METRICPORT_PROMETHEUS_ENDPOINT=0.0.0.0:9464
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/receivers ./dist/receivers
COPY --from=build /app/dist/processors ./dist/processors
COPY --from=build /app/dist/exporters ./dist/exporters
# the console's client bundle (built from console/ by npm run build)
COPY --from=build /app/dist/console ./dist/console
COPY config ./config
COPY proto ./proto
COPY docs/metricport.schema.json ./docs/metricport.schema.json
RUN mkdir -p /etc/metricport /var/lib/metricport \
 && cp config/default.yaml /etc/metricport/config.yaml \
 && chown -R node:node /var/lib/metricport
USER node
VOLUME ["/var/lib/metricport"]
EXPOSE 4318 8888 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8888/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/dist/src/bin/metricport.js"]
CMD ["run"]
