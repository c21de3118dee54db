/*
 * worker.h: background worker processes (mf-analytics): loops on their own
 * threads that may block on Postgres, Redis and HTTP, stopped together by
 * SIGTERM/SIGINT, with an optional /healthz, /readyz and /metrics port
 * (MF_WORKER_HTTP_PORT) served beside them.
 */
#ifndef MF_WORKER_H
#define MF_WORKER_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>

/* One worker loop: runs until mf_worker_stopping() says 1, then returns. */
typedef struct {
    const char *name;
    void (*loop)(void);
} mf_worker_t;

/* Run every worker on its own thread until a signal stops them; 0 on a clean stop. */
int mf_worker_run(const char *service, const mf_worker_t *workers, size_t n);
/* 1 once the process is stopping. */
int mf_worker_stopping(void);
/* Sleep up to ms, waking early when the process starts stopping. */
void mf_worker_sleep_ms(int ms);
/* Connect (or reconnect a broken) *pg to MF_PG_URL with backoff. The connection, or NULL once stopping. */
PGconn *mf_worker_pg(PGconn **pg);
/* The same for Redis (MF_REDIS_URL). */
redisContext *mf_worker_redis(redisContext **redis);
/* Run sql, a statement answering one integer (how many items a batched SQL function handled).
 * The integer, or -1 after logging "<what> failed: <reason>". */
long long mf_worker_count(PGconn *pg, const char *sql, int nparams, const char *const *params, const char *what);
/* A periodic batched SQL job, until stopping: every interval seconds, run sql ($1 the interval in
 * seconds, $2 the batch size; it answers how many items it handled) again while batches come back
 * full. `what` names the job in logs. */
void mf_worker_batches_every(const char *sql, long long interval, int batch, const char *what);
/* This replica's consumer name for stream groups: MF_ANALYTICS_CONSUMER or host-pid. */
const char *mf_worker_consumer(void);

#endif
