# syntax=docker/dockerfile:1
# mf-api with the built dashboard (webui/dist) and the migrations.
#   docker build -f docker/api.Dockerfile -t REGISTRY/metafuse/api:VERSION .
# Stages: the dashboard (Node), the C build (the Debian packages of scripts/deps.sh),
# and a bookworm-slim runtime with only mf-api, its shared libraries, the dashboard and
# the migrations. `scripts/check-deploy.sh` lints this file and checks it against the
# Makefile and deps.sh.
ARG DEBIAN_IMAGE=debian:bookworm-slim
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS webui
WORKDIR /src/webui
COPY webui/package.json webui/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY webui/ ./
RUN npm run build

FROM ${DEBIAN_IMAGE} AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       build-essential pkg-config libh2o-evloop-dev libjwt-dev libhiredis-dev libjansson-dev \
       libsqlite3-dev libcurl4-openssl-dev libssl-dev libpq-dev libpg-query-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY libshared/ libshared/
COPY services/ services/
RUN make -j"$(nproc)" CI=true BUILD=build build/bin/mf-api

FROM ${DEBIAN_IMAGE}
ARG VERSION=dev
LABEL org.opencontainers.image.title="metafuse-api" \
      org.opencontainers.image.description="MetaFuse Cloud catalog REST API (mf-api) with the web dashboard" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.vendor="MetaFuse" \
      org.opencontainers.image.licenses="Proprietary"
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       ca-certificates libh2o-evloop0.13 libpq5 libjansson4 libssl3 libhiredis0.14 libcurl4 libsqlite3-0 libpg-query1504.0 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin metafuse
COPY --from=build /src/build/bin/mf-api /usr/local/bin/mf-api
COPY --from=webui /src/webui/dist/ /usr/share/metafuse/webui/
COPY migrations/ /usr/share/metafuse/migrations/
ENV MF_HTTP_HOST=0.0.0.0 \
    MF_HTTP_PORT=8080 \
    MF_WEBUI_DIR=/usr/share/metafuse/webui \
    MF_MIGRATIONS_DIR=/usr/share/metafuse/migrations
USER 10001:10001
EXPOSE 8080
# bash's /dev/tcp: the image carries no HTTP client.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${MF_HTTP_PORT} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/mf-api"]
CMD ["serve"]
