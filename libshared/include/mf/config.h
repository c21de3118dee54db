/*
 * config.h: the configuration table. Every setting of every service is one
 * row here (environment name, type, default, bounds, doc). mf_config_load
 * reads the environment once at start and validates every row; later reads
 * are lock-free lookups. `mf-api config-doc` prints the table as markdown
 * and a test checks docs/configuration.md lists every key.
 */
#ifndef MF_CONFIG_H
#define MF_CONFIG_H

#include <stddef.h>
#include "mf/error.h"

/* X(id, env name, type INT|STR, default, min, max, doc). For STR, min/max bound the length. */
#define MF_CONFIG_TABLE(X)                                                                                     \
    X(HTTP_HOST, "MF_HTTP_HOST", STR, "127.0.0.1", 1, 255, "Address the HTTP server listens on.")             \
    X(HTTP_PORT, "MF_HTTP_PORT", INT, "8080", 1, 65535, "TCP port of the HTTP server.")                        \
    X(HTTP_THREADS, "MF_HTTP_THREADS", INT, "2", 1, 64, "Event-loop threads, each with its own listener and database pool.") \
    X(HTTP_MAX_BODY, "MF_HTTP_MAX_BODY", INT, "1048576", 1024, 67108864, "Largest accepted request body in bytes (413 above).") \
    X(WEBUI_DIR, "MF_WEBUI_DIR", STR, "", 0, 1024, "Folder of the built dashboard (webui/dist) that mf-api serves at / (empty: no dashboard).") \
    X(CORS_ORIGIN, "MF_CORS_ORIGIN", STR, "", 0, 255, "Dashboard origin allowed by CORS (empty: no CORS headers).") \
    X(PUBLIC_URL, "MF_PUBLIC_URL", STR, "", 0, 255, "Public base URL of the service (used in links; empty: derived from the request).") \
    X(PG_URL, "MF_PG_URL", STR, "", 0, 1024, "libpq URL of the service role (mf_app, subject to Row Level Security). Required by serve.") \
    X(PG_ADMIN_URL, "MF_PG_ADMIN_URL", STR, "", 0, 1024, "libpq URL of the owner role (mf_owner), used by migrate and create-platform-key.") \
    X(PG_POOL_SIZE, "MF_PG_POOL_SIZE", INT, "8", 1, 256, "Database connections per event-loop thread.")        \
    X(PG_QUEUE_MAX, "MF_PG_QUEUE_MAX", INT, "256", 0, 100000, "Requests that may wait for a database connection per thread before 503.") \
    X(PG_RECONNECT_MAX_MS, "MF_PG_RECONNECT_MAX_MS", INT, "5000", 10, 600000, "Upper bound of the reconnect backoff in milliseconds.") \
    X(MIGRATIONS_DIR, "MF_MIGRATIONS_DIR", STR, "migrations", 1, 1024, "Folder of NNNN_name.sql migrations.")   \
    X(REDIS_URL, "MF_REDIS_URL", STR, "", 0, 1024, "Redis URL (redis://host:port) for streams and pub/sub.")   \
    X(KEY_ENV, "MF_KEY_ENV", STR, "live", 1, 16, "Environment tag inside new API keys (mf_<env>_...); lowercase letters and digits.") \
    X(KEY_CACHE_TTL, "MF_KEY_CACHE_TTL", INT, "5", 0, 3600, "Seconds a verified API key stays cached in-process.") \
    X(LOG_LEVEL, "MF_LOG_LEVEL", STR, "info", 4, 5, "Lowest log level written: debug, info, warn or error.")    \
    X(INGEST_STREAM, "MF_INGEST_STREAM", STR, "mf:ingest", 1, 128, "Redis stream that carries ingest events (dead letters go to <stream>:dead).") \
    X(INGEST_QUEUE_MAX, "MF_INGEST_QUEUE_MAX", INT, "1000000", 1, 1000000000, "Unapplied events the stream may hold before posts get 503.") \
    X(INGEST_BATCH, "MF_INGEST_BATCH", INT, "256", 1, 10000, "Events a worker applies per transaction.") \
    X(INGEST_MAX_TRIES, "MF_INGEST_MAX_TRIES", INT, "3", 1, 100, "Deliveries of a failing event before it goes to the dead-letter stream.") \
    X(INGEST_CLAIM_IDLE_MS, "MF_INGEST_CLAIM_IDLE_MS", INT, "30000", 10, 86400000, "Idle time after which a pending event (dead worker, or a retry) is reclaimed.") \
    X(WORKER_HTTP_PORT, "MF_WORKER_HTTP_PORT", INT, "0", 0, 65535, "Port of the worker's /healthz, /readyz and /metrics (0: none).") \
    X(INGEST_CONSUMER, "MF_INGEST_CONSUMER", STR, "", 0, 128, "Consumer name of this worker in the group (empty: host-pid).") \
    X(HTTP_MAX_UPLOAD, "MF_HTTP_MAX_UPLOAD", INT, "67108864", 1024, 67108864, "Largest accepted file upload (POST /api/v1/import/sqlite) in bytes (413 above).") \
    X(OIDC_ISSUER, "MF_OIDC_ISSUER", STR, "", 0, 512, "Issuer URL of the platform-wide default OpenID provider (empty: only tenants' own providers).") \
    X(OIDC_CLIENT_ID, "MF_OIDC_CLIENT_ID", STR, "", 0, 255, "Client id of MetaFuse at the default OpenID provider.") \
    X(OIDC_CLIENT_SECRET, "MF_OIDC_CLIENT_SECRET", STR, "", 0, 512, "Client secret at the default OpenID provider.") \
    X(OIDC_HTTP_TIMEOUT_MS, "MF_OIDC_HTTP_TIMEOUT_MS", INT, "5000", 100, 60000, "Timeout of each call to an OpenID provider (discovery, JWKS, token).") \
    X(OIDC_CLOCK_SKEW, "MF_OIDC_CLOCK_SKEW", INT, "60", 0, 600, "Seconds of clock skew allowed on ID token exp, nbf and iat.") \
    X(OIDC_CACHE_TTL, "MF_OIDC_CACHE_TTL", INT, "3600", 10, 86400, "Seconds a provider's discovery document and JWKS stay cached.") \
    X(SESSION_IDLE_TIMEOUT, "MF_SESSION_IDLE_TIMEOUT", INT, "3600", 60, 2592000, "Seconds of inactivity after which a browser session ends.") \
    X(SQL_LINEAGE_MAX_BYTES, "MF_SQL_LINEAGE_MAX_BYTES", INT, "262144", 1024, 5242880, "Longest SQL text parsed for column lineage (POST /api/v1/lineage/parse: 413 above; a longer OpenLineage sql facet is not parsed).") \
    X(SESSION_MAX_AGE, "MF_SESSION_MAX_AGE", INT, "43200", 60, 31536000, "Seconds after sign-in at which a browser session ends regardless of use.") \
    X(AUTH_FAIL_LIMIT, "MF_AUTH_FAIL_LIMIT", INT, "20", 1, 100000, "Failed authentications per client address per minute before 429 (needs Redis).") \
    X(INTEGRATIONS_ROOT, "MF_INTEGRATIONS_ROOT", STR, "", 0, 1024, "Folder whose <tenant id>/ subfolders imports may read tables from ({\"path\": ...}; empty: uploads only).") \
    X(TENANT_DELETE_GRACE_DAYS, "MF_TENANT_DELETE_GRACE_DAYS", INT, "30", 0, 365, "Days a deleted tenant is kept (and can be restored) before its data is purged.") \
    X(QUOTA_ENFORCE, "MF_QUOTA_ENFORCE", INT, "1", 0, 1, "1: rate limits and monthly API call quotas are enforced and metered on every authenticated call (0: neither, for benchmarks).") \
    X(QUOTA_CACHE_TTL, "MF_QUOTA_CACHE_TTL", INT, "5", 0, 3600, "Seconds a tenant's plan limits stay cached in-process (0: read on every call).") \
    X(METERING_INTERVAL, "MF_METERING_INTERVAL", INT, "30", 1, 3600, "Seconds between mf-analytics folds of the Redis usage counters into monthly usage.") \
    X(USAGE_STREAM, "MF_USAGE_STREAM", STR, "mf:usage", 1, 128, "Redis stream of access events (dataset reads, search appearances, lineage queries) that mf-analytics folds into usage.") \
    X(USAGE_STREAM_MAXLEN, "MF_USAGE_STREAM_MAXLEN", INT, "1000000", 1000, 1000000000, "Approximate cap on the usage stream's length (oldest entries are trimmed when mf-analytics falls behind).") \
    X(USAGE_EVENTS, "MF_USAGE_EVENTS", INT, "1", 0, 1, "1: mf-api appends an access event to the usage stream for every dataset read, search appearance and lineage query; 0: none (usage stops counting).") \
    X(USAGE_FOLD_INTERVAL_MS, "MF_USAGE_FOLD_INTERVAL_MS", INT, "5000", 10, 600000, "Once mf-analytics has caught up with the usage stream, how long the next batch collects before it is folded: longer means fewer, larger transactions (a dataset read many times in it is one row to update), counts shown that much later.") \
    X(USAGE_CLAIM_IDLE_MS, "MF_USAGE_CLAIM_IDLE_MS", INT, "30000", 10, 86400000, "Idle time after which usage entries pending at another mf-analytics replica (a dead one) are reclaimed.") \
    X(ANALYTICS_CONSUMER, "MF_ANALYTICS_CONSUMER", STR, "", 0, 128, "Consumer name of this mf-analytics replica in its stream groups (empty: host-pid).") \
    X(FRESHNESS_INTERVAL, "MF_FRESHNESS_INTERVAL", INT, "60", 1, 86400, "Seconds between freshness evaluations in mf-analytics.") \
    X(HEALTH_SNAPSHOT_INTERVAL, "MF_HEALTH_SNAPSHOT_INTERVAL", INT, "3600", 1, 86400, "Seconds between catalog-health snapshots (the daily trend) in mf-analytics.") \
    X(WEBHOOK_ALLOW_LOOPBACK, "MF_WEBHOOK_ALLOW_LOOPBACK", INT, "0", 0, 1, "1: webhook destinations may resolve to loopback addresses (local stack and tests only).") \
    X(WEBHOOK_ALLOW_PRIVATE, "MF_WEBHOOK_ALLOW_PRIVATE", INT, "0", 0, 1, "1: webhook destinations may resolve to private (RFC 1918, ULA) addresses.") \
    X(WEBHOOK_MAX_ATTEMPTS, "MF_WEBHOOK_MAX_ATTEMPTS", INT, "8", 1, 50, "Delivery attempts of one webhook event before it is marked dead.") \
    X(WEBHOOK_BACKOFF_MS, "MF_WEBHOOK_BACKOFF_MS", INT, "1000", 10, 3600000, "Base delay of the exponential webhook retry backoff (doubled each attempt, with jitter).") \
    X(WEBHOOK_CONCURRENCY, "MF_WEBHOOK_CONCURRENCY", INT, "4", 1, 64, "Webhook requests one mf-analytics replica sends at once (each on its own thread and database connection), so a slow receiver holds up only its own deliveries.") \
    X(WEBHOOK_TIMEOUT_MS, "MF_WEBHOOK_TIMEOUT_MS", INT, "5000", 100, 60000, "Timeout of one webhook delivery request.") \
    X(CONTRACT_CACHE_SECS, "MF_CONTRACT_CACHE_SECS", INT, "5", 0, 3600, "Seconds mf-ingest remembers that a tenant has no blocking data contract (intake then skips the contract check; 0: check every post).") \
    /* (new keys: insert above this line) */ \
    X(SHUTDOWN_TIMEOUT, "MF_SHUTDOWN_TIMEOUT", INT, "10", 0, 600, "Seconds SIGTERM waits for in-flight requests before exiting.")

typedef enum {
#define MF__CFG_ENUM(id, env, type, def, min, max, doc) MF_CFG_##id,
    MF_CONFIG_TABLE(MF__CFG_ENUM)
#undef MF__CFG_ENUM
        MF_CFG__COUNT
} mf_config_key_t;

/* Read and validate every key from the environment. On error returns
 * MF_EINVALID_REQUEST and writes a message naming the key into err. */
int mf_config_load(char *err, size_t errlen) MF_MUST_CHECK;
/* Value of an INT key (the default before mf_config_load). */
long long mf_config_int(mf_config_key_t key);
/* Value of a STR key; borrowed, valid for the process lifetime. */
const char *mf_config_str(mf_config_key_t key);
/* Override one key programmatically (tests, CLI flags); validated like the environment. */
int mf_config_set(mf_config_key_t key, const char *value, char *err, size_t errlen) MF_MUST_CHECK;
/* Write the table as a markdown table to f (a FILE *). */
void mf_config_print_doc(void *f);

#endif
