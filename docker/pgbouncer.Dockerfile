# syntax=docker/dockerfile:1
# PgBouncer for the prod overlay (deploy/k8s/overlays/prod): transaction pooling in front of
# a managed PostgreSQL (row-level security settings are per transaction, so that pooling is
# safe). The services prepare their statements once per connection (libpq protocol-level
# prepares), which transaction pooling supports from PgBouncer 1.21 on (max_prepared_statements);
# bookworm has 1.18, so the package comes from the PostgreSQL project's apt repository for
# bookworm, set up by Debian's own postgresql-common. Configuration: a mounted ConfigMap and Secret.
#   docker build -f docker/pgbouncer.Dockerfile -t REGISTRY/metafuse/pgbouncer:VERSION .
ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE}
ARG VERSION=dev
LABEL org.opencontainers.image.title="metafuse-pgbouncer" \
      org.opencontainers.image.description="PgBouncer (Debian bookworm) for MetaFuse Cloud" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.vendor="MetaFuse" \
      org.opencontainers.image.licenses="Proprietary"
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates postgresql-common \
    && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends pgbouncer \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin metafuse
USER 10001:10001
EXPOSE 6432
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/6432"]
ENTRYPOINT ["/usr/sbin/pgbouncer"]
CMD ["/etc/pgbouncer/pgbouncer.ini"]
