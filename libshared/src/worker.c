/*
 * worker.c: the threads of a background worker process. Each loop blocks on
 * its own connections; stopping is one flag set by the signal handler (or by
 * the health server's shutdown), read by every loop between steps.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "mf/config.h"
#include "mf/http.h"
#include "mf/log.h"
#include "mf/pg.h"
#include "mf/redis.h"
#include "mf/util.h"
#include "mf/worker.h"

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { stopping = 1; }

int mf_worker_stopping(void) { return stopping != 0; }

void mf_worker_sleep_ms(int ms)
{
    while (ms > 0 && !stopping) {
        int step = ms < 100 ? ms : 100;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

PGconn *mf_worker_pg(PGconn **pg)
{
    int backoff = 100;
    while (!stopping) {
        if (*pg != NULL && PQstatus(*pg) == CONNECTION_OK)
            return *pg;
        char err[512];
        PQfinish(*pg);
        *pg = mf_pg_connect_blocking(mf_config_str(MF_CFG_PG_URL), err, sizeof(err));
        if (*pg != NULL)
            return *pg;
        MF_LOG_WARN_(NULL, "%s; retrying in %d ms", err, backoff);
        mf_worker_sleep_ms(backoff);
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
    return NULL;
}

redisContext *mf_worker_redis(redisContext **redis)
{
    int backoff = 100;
    while (!stopping) {
        if (*redis != NULL && (*redis)->err == 0)
            return *redis;
        char err[512];
        redisFree(*redis);
        *redis = mf_redis_connect_blocking(mf_config_str(MF_CFG_REDIS_URL), 5000, err, sizeof(err));
        if (*redis != NULL)
            return *redis;
        MF_LOG_WARN_(NULL, "redis: %s; retrying in %d ms", err, backoff);
        mf_worker_sleep_ms(backoff);
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
    return NULL;
}

long long mf_worker_count(PGconn *pg, const char *sql, int nparams, const char *const *params, const char *what)
{
    PGresult *res = PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0);
    long long n = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    else
        MF_LOG_WARN_(NULL, "%s failed: %s", what, PQresultErrorMessage(res));
    PQclear(res);
    return n;
}

void mf_worker_batches_every(const char *sql, long long interval, int batch, const char *what)
{
    PGconn *pg = NULL;
    char every[24], size[16];
    snprintf(every, sizeof(every), "%lld", interval);
    snprintf(size, sizeof(size), "%d", batch);
    const char *params[] = {every, size};
    while (mf_worker_pg(&pg) != NULL) {
        long long n, total = 0;
        while ((n = mf_worker_count(pg, sql, 2, params, what)) > 0 && !mf_worker_stopping()) {
            total += n;
            if (n < batch)
                break;
        }
        if (total > 0)
            MF_LOG_DEBUG_(NULL, "%s: %lld handled", what, total);
        mf_worker_sleep_ms((int)(interval * 1000));
    }
    PQfinish(pg);
}

/* Set once by mf_worker_run before any thread starts; read-only afterwards. */
static char consumer[192];

const char *mf_worker_consumer(void) { return consumer; }

static void name_consumer(void)
{
    if (mf_config_str(MF_CFG_ANALYTICS_CONSUMER)[0] != '\0') {
        snprintf(consumer, sizeof(consumer), "%s", mf_config_str(MF_CFG_ANALYTICS_CONSUMER));
        return;
    }
    char host[64] = "worker";
    gethostname(host, sizeof(host) - 1);
    snprintf(consumer, sizeof(consumer), "%s-%d", host, (int)getpid());
}

static int running; /* worker loops not yet returned */

static void *worker_thread(void *arg)
{
    const mf_worker_t *w = arg;
    MF_LOG_INFO_(NULL, "worker %s started", w->name);
    w->loop();
    MF_LOG_INFO_(NULL, "worker %s stopped", w->name);
    __atomic_sub_fetch(&running, 1, __ATOMIC_RELEASE);
    return NULL;
}

int mf_worker_run(const char *service, const mf_worker_t *workers, size_t n)
{
    name_consumer();
    signal(SIGPIPE, SIG_IGN);
    long long port = mf_config_int(MF_CFG_WORKER_HTTP_PORT);
    if (port == 0) {
        struct sigaction sa = {0};
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
    } else {
        /* The HTTP server (health, readiness, metrics) owns the signals; the workers
         * run beside it and stop when it does. */
        char err[256], text[16];
        snprintf(text, sizeof(text), "%lld", port);
        if (mf_config_set(MF_CFG_HTTP_PORT, text, err, sizeof(err)) != 0 ||
            mf_config_set(MF_CFG_HTTP_THREADS, "1", err, sizeof(err)) != 0 ||
            mf_config_set(MF_CFG_PG_POOL_SIZE, "1", err, sizeof(err)) != 0) {
            MF_LOG_ERROR_(NULL, "%s", err);
            return 2;
        }
    }
    pthread_t *tids = mf_calloc(n, sizeof(*tids));
    size_t started = 0;
    __atomic_store_n(&running, (int)n, __ATOMIC_RELEASE);
    for (; started < n; started++)
        if (pthread_create(&tids[started], NULL, worker_thread, (void *)&workers[started]) != 0) {
            MF_LOG_ERROR_(NULL, "cannot start worker %s", workers[started].name);
            __atomic_sub_fetch(&running, (int)(n - started), __ATOMIC_RELEASE);
            stopping = 1;
            break;
        }
    int rc = started == n ? 0 : 1;
    if (port != 0) {
        mf_http_enable_redis();
        if (mf_http_run(service) != 0)
            rc = 1;
        stopping = 1;
    } else {
        /* until a signal, or every loop has returned by itself */
        while (!stopping && __atomic_load_n(&running, __ATOMIC_ACQUIRE) > 0)
            mf_worker_sleep_ms(200);
        stopping = 1;
    }
    for (size_t i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    free(tids);
    return rc;
}
