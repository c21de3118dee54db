/*
 * worker.c: mf-ingest work, the stream -> Postgres worker.
 *
 * It reads the stream through a consumer group and applies each batch with
 * one statement (SQL mf_apply_events: one transaction, a subtransaction per
 * event, every event_id recorded so a redelivered event is a no-op), then
 * XACKs and XDELs what was applied, so the stream length is the backlog.
 *
 * Failure handling:
 *  - Postgres down: the batch stays unacknowledged; the worker reconnects
 *    with backoff and retries the same batch; nothing is dropped.
 *  - Redis down: reconnect with backoff; unacknowledged entries stay pending.
 *  - A worker killed mid-batch: its pending entries are reclaimed by any
 *    worker with XAUTOCLAIM once idle for MF_INGEST_CLAIM_IDLE_MS.
 *  - An event that fails to apply stays pending and is retried after the
 *    idle time; after MF_INGEST_MAX_TRIES deliveries it is recorded in
 *    ingest_failures, copied to <stream>:dead and acknowledged.
 *
 * Blocking I/O is fine here: the loop runs on its own thread (mf/worker.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include "ingest.h"
#include "mf/config.h"
#include "mf/http.h"
#include "mf/log.h"
#include "mf/metrics.h"
#include "mf/pg.h"
#include "mf/redis.h"
#include "mf/util.h"
#include "mf/worker.h"

#define GROUP "mf-ingest-workers"

/* Worker figures for /metrics (when MF_WORKER_HTTP_PORT is set). */
static mf_metric_t *m_applied, *m_duplicates, *m_failed, *m_batches;
static long long stream_length = -1; /* sampled by the worker loop */
static double stream_lag(void) { return (double)__atomic_load_n(&stream_length, __ATOMIC_RELAXED); }

typedef struct {
    PGconn *pg;
    redisContext *redis;
    int grouped; /* the consumer group was made sure of on this connection */
    char consumer[160];
    const char *stream;
    char dead_stream[160];
    unsigned long long applied, duplicates, failed;
} worker_t;

typedef struct {
    char *id;
    char *event; /* JSON text, or NULL when the entry is malformed */
} entry_t;

static int ensure_pg(worker_t *w) { return mf_worker_pg(&w->pg) != NULL ? 0 : -1; }

static void drop_redis(worker_t *w)
{
    redisFree(w->redis);
    w->redis = NULL;
    w->grouped = 0;
}

/* A connection on which the consumer group exists (created on first use and again after every
 * reconnect: a Redis restarted without persistence has lost it); -1 only when stopping. */
static int ensure_redis(worker_t *w)
{
    while (!mf_worker_stopping()) {
        if (w->redis != NULL && w->redis->err == 0 && w->grouped)
            return 0;
        if (w->redis != NULL && w->redis->err != 0)
            drop_redis(w);
        if (mf_worker_redis(&w->redis) == NULL)
            return -1;
        redisReply *rep = redisCommand(w->redis, "XGROUP CREATE %s %s 0 MKSTREAM", w->stream, GROUP);
        if (rep == NULL) {
            drop_redis(w);
            mf_worker_sleep_ms(100);
            continue;
        }
        /* BUSYGROUP (the group exists) is the usual answer after the first worker */
        if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "BUSYGROUP", 9) != 0)
            MF_LOG_ERROR_(NULL, "XGROUP CREATE: %s", rep->str);
        freeReplyObject(rep);
        w->grouped = 1;
        return 0;
    }
    return -1;
}

/* Run a Redis command, reconnecting on a broken connection; NULL only when stopping. */
static redisReply *command(worker_t *w, const char *fmt, ...)
{
    for (;;) {
        if (ensure_redis(w) != 0)
            return NULL;
        va_list ap;
        va_start(ap, fmt);
        redisReply *rep = redisvCommand(w->redis, fmt, ap);
        va_end(ap);
        if (rep != NULL)
            return rep;
        MF_LOG_WARN_(NULL, "redis command failed: %s", w->redis->errstr);
        drop_redis(w);
    }
}

/* Collect [id, [field, value, ...]] entries of a stream reply. */
static size_t collect(redisReply *arr, entry_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; arr != NULL && arr->type == REDIS_REPLY_ARRAY && i < arr->elements && n < cap; i++) {
        redisReply *e = arr->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        out[n].id = mf_strdup(e->element[0]->str);
        out[n].event = NULL;
        redisReply *kv = e->element[1];
        for (size_t k = 0; kv->type == REDIS_REPLY_ARRAY && k + 1 < kv->elements; k += 2)
            if (kv->element[k]->type == REDIS_REPLY_STRING && strcmp(kv->element[k]->str, "e") == 0 &&
                kv->element[k + 1]->type == REDIS_REPLY_STRING)
                out[n].event = mf_strndup(kv->element[k + 1]->str, kv->element[k + 1]->len);
        n++;
    }
    return n;
}

/* Acknowledge and delete entries in one MULTI/EXEC, so no entry is ever acknowledged but left
 * on the stream (which would then count as backlog forever). */
static void ack_many(worker_t *w, const char *const *ids, size_t n)
{
    while (n > 0 && ensure_redis(w) == 0) {
        if (mf_redis_ack_delete(w->redis, w->stream, GROUP, ids, n) == 0)
            break;
        /* the connection broke: the entries stay pending and are acknowledged again later
         * (acknowledging is idempotent); reconnect and retry now */
        MF_LOG_WARN_(NULL, "acknowledging %zu events failed: %s", n, w->redis->errstr);
        drop_redis(w);
    }
}

static void ack(worker_t *w, const char *id) { ack_many(w, &id, 1); }

static long long deliveries(worker_t *w, const char *id)
{
    long long n = 0;
    redisReply *rep = command(w, "XPENDING %s %s %s %s 1", w->stream, GROUP, id, id);
    if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
        rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 4)
        n = rep->element[0]->element[3]->integer;
    freeReplyObject(rep);
    return n;
}

/* The event as the dead-letter stream keeps it: without the samples of its column profiles, which
 * are classified and never stored (docs/classification.md). New string; NULL for no event. */
static char *without_samples(const char *event)
{
    json_t *ev = event ? json_loads(event, 0, NULL) : NULL;
    if (ev == NULL)
        return event ? mf_strdup(event) : NULL; /* malformed: kept as it came (no profiles were decoded) */
    size_t i;
    json_t *profile;
    json_array_foreach(json_object_get(ev, "profiles"), i, profile)
    {
        const char *field;
        json_t *column;
        json_object_foreach(json_object_get(profile, "columns"), field, column)
            json_object_del(column, "samples");
    }
    char *out = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    return out;
}

/* Give up on an event: record it for its tenant, keep a copy on the dead-letter stream, acknowledge. */
static void dead_letter(worker_t *w, entry_t *e, long long attempts, const char *reason)
{
    MF_LOG_WARN_(NULL, "event %s failed %lld times: %s", e->id, attempts, reason);
    if (e->event != NULL) {
        char n[24];
        snprintf(n, sizeof(n), "%lld", attempts);
        const char *params[] = {e->event, n, reason};
        while (ensure_pg(w) == 0) {
            PGresult *res = PQexecParams(w->pg, "SELECT mf_record_ingest_failure($1::jsonb, $2::int, $3)", 3, NULL,
                                         params, NULL, NULL, 0);
            int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
            if (!ok)
                MF_LOG_ERROR_(NULL, "recording failure of %s: %s", e->id, PQresultErrorMessage(res));
            PQclear(res);
            if (ok || PQstatus(w->pg) == CONNECTION_OK)
                break;
        }
    }
    char *kept = without_samples(e->event);
    redisReply *rep = command(w, "XADD %s * id %s reason %s e %s", w->dead_stream, e->id, reason, kept ? kept : "");
    freeReplyObject(rep);
    free(kept);
    ack(w, e->id);
    w->failed++;
    mf_metrics_add(m_failed, 1);
}

/* Apply a batch; returns 0 when every entry was handled (acked or left pending on purpose). */
static void apply(worker_t *w, entry_t *entries, size_t n)
{
    /* [event, event, ...] as one JSON array text; malformed entries are dead-lettered */
    size_t cap = 16, len = 1;
    for (size_t i = 0; i < n; i++)
        cap += (entries[i].event ? strlen(entries[i].event) : 0) + 1;
    char *arr = mf_malloc(cap);
    arr[0] = '[';
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (entries[i].event == NULL) {
            dead_letter(w, &entries[i], 1, "malformed stream entry");
            continue;
        }
        if (used++)
            arr[len++] = ',';
        size_t l = strlen(entries[i].event);
        memcpy(arr + len, entries[i].event, l);
        len += l;
    }
    arr[len++] = ']';
    arr[len] = '\0';
    if (used == 0) {
        free(arr);
        return;
    }
    PGresult *res = NULL;
    mf_metrics_add(m_batches, 1);
    while (ensure_pg(w) == 0) {
        const char *params[] = {arr};
        res = PQexecParams(w->pg, "SELECT event_id, status, detail FROM mf_apply_events($1::jsonb)", 1, NULL, params,
                           NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK)
            break;
        MF_LOG_WARN_(NULL, "applying a batch of %zu failed: %s", used, PQresultErrorMessage(res));
        PQclear(res);
        res = NULL;
        if (PQstatus(w->pg) == CONNECTION_OK) {
            /* the statement itself failed (not the connection): a malformed event broke the
             * whole array; fall back to one event at a time so the others go through */
            free(arr);
            for (size_t i = 0; i < n; i++)
                if (entries[i].event != NULL)
                    apply(w, &entries[i], 1);
            return;
        }
        mf_worker_sleep_ms(200);
    }
    free(arr);
    if (res == NULL)
        return; /* stopping: leave the batch pending for the next worker */
    const char **done = mf_calloc((size_t)PQntuples(res) + 1, sizeof(*done));
    size_t ndone = 0;
    for (int row = 0; row < PQntuples(res); row++) {
        const char *event_id = PQgetvalue(res, row, 0), *status = PQgetvalue(res, row, 1),
                   *detail = PQgetvalue(res, row, 2);
        /* rows come back in input order; match them to entries with events */
        entry_t *e = NULL;
        for (size_t i = 0, k = 0; i < n; i++) {
            if (entries[i].event == NULL)
                continue;
            if ((int)k++ == row) {
                e = &entries[i];
                break;
            }
        }
        if (e == NULL)
            break;
        if (strcmp(status, "applied") == 0 || strcmp(status, "duplicate") == 0) {
            done[ndone++] = e->id;
            if (status[0] == 'a') {
                w->applied++;
                mf_metrics_add(m_applied, 1);
            } else {
                w->duplicates++;
                mf_metrics_add(m_duplicates, 1);
            }
            continue;
        }
        long long tries = deliveries(w, e->id);
        if (tries >= mf_config_int(MF_CFG_INGEST_MAX_TRIES))
            dead_letter(w, e, tries, detail);
        else
            MF_LOG_INFO_(NULL, "event %s (try %lld) failed, will retry: %s", event_id, tries, detail);
    }
    ack_many(w, done, ndone);
    free(done);
    PQclear(res);
}

static void free_entries(entry_t *entries, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(entries[i].id);
        free(entries[i].event);
    }
}

/* Take over entries idle longer than the claim time (dead workers' and retries). */
static void reclaim(worker_t *w, entry_t *entries, size_t cap)
{
    char start[64] = "0-0";
    for (int rounds = 0; rounds < 100 && !mf_worker_stopping(); rounds++) {
        redisReply *rep = command(w, "XAUTOCLAIM %s %s %s %lld %s COUNT %d", w->stream, GROUP, w->consumer,
                                  mf_config_int(MF_CFG_INGEST_CLAIM_IDLE_MS), start, (int)cap);
        if (rep == NULL)
            return;
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2) {
            freeReplyObject(rep);
            return;
        }
        size_t n = collect(rep->element[1], entries, cap);
        snprintf(start, sizeof(start), "%s", rep->element[0]->type == REDIS_REPLY_STRING ? rep->element[0]->str : "0-0");
        freeReplyObject(rep);
        if (n > 0) {
            MF_LOG_INFO_(NULL, "reclaimed %zu pending events", n);
            apply(w, entries, n);
            free_entries(entries, n);
        }
        if (strcmp(start, "0-0") == 0)
            return;
    }
}

static int work_loop(void)
{
    worker_t w = {0};
    w.stream = mf_config_str(MF_CFG_INGEST_STREAM);
    snprintf(w.dead_stream, sizeof(w.dead_stream), "%s:dead", w.stream);
    if (mf_config_str(MF_CFG_INGEST_CONSUMER)[0] != '\0') {
        snprintf(w.consumer, sizeof(w.consumer), "%s", mf_config_str(MF_CFG_INGEST_CONSUMER));
    } else {
        char host[64] = "worker";
        gethostname(host, sizeof(host) - 1);
        snprintf(w.consumer, sizeof(w.consumer), "%s-%d", host, (int)getpid());
    }
    size_t cap = (size_t)mf_config_int(MF_CFG_INGEST_BATCH);
    entry_t *entries = mf_calloc(cap, sizeof(*entries));
    if (ensure_redis(&w) != 0 || ensure_pg(&w) != 0)
        return 0;
    MF_LOG_INFO_(NULL, "worker %s reading %s", w.consumer, w.stream);
    uint64_t next_claim = 0;
    while (!mf_worker_stopping()) {
        if (mf_now_ms() >= next_claim) {
            redisReply *len = command(&w, "XLEN %s", w.stream);
            if (len != NULL && len->type == REDIS_REPLY_INTEGER)
                __atomic_store_n(&stream_length, len->integer, __ATOMIC_RELAXED);
            freeReplyObject(len);
            reclaim(&w, entries, cap);
            uint64_t idle = (uint64_t)mf_config_int(MF_CFG_INGEST_CLAIM_IDLE_MS);
            next_claim = mf_now_ms() + (idle / 2 < 5000 ? idle / 2 : 5000);
        }
        redisReply *rep = command(&w, "XREADGROUP GROUP %s %s COUNT %d BLOCK 1000 STREAMS %s >", GROUP, w.consumer,
                                  (int)cap, w.stream);
        if (rep == NULL)
            break;
        if (rep->type == REDIS_REPLY_ERROR) {
            MF_LOG_ERROR_(NULL, "XREADGROUP: %s", rep->str);
            freeReplyObject(rep);
            /* NOGROUP after a Redis restart without persistence: recreate */
            drop_redis(&w);
            mf_worker_sleep_ms(200);
            continue;
        }
        size_t n = 0;
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 && rep->element[0]->elements == 2)
            n = collect(rep->element[0]->element[1], entries, cap);
        freeReplyObject(rep);
        if (n > 0) {
            apply(&w, entries, n);
            free_entries(entries, n);
        }
    }
    MF_LOG_INFO_(NULL, "worker %s stopping: %llu applied, %llu duplicates, %llu failed", w.consumer, w.applied,
                 w.duplicates, w.failed);
    free(entries);
    PQfinish(w.pg);
    redisFree(w.redis);
    return 0;
}

static int work_rc;
static void work(void) { work_rc = work_loop(); }

int mf_ingest_work(void)
{
    m_applied = mf_metrics_counter("mf_ingest_events_applied_total", "Events applied to the catalog.");
    m_duplicates = mf_metrics_counter("mf_ingest_events_duplicate_total", "Redelivered events that were already applied.");
    m_failed = mf_metrics_counter("mf_ingest_events_failed_total", "Events moved to the dead-letter stream.");
    m_batches = mf_metrics_counter("mf_ingest_batches_total", "Batches applied (one transaction each).");
    mf_metrics_gauge_fn("mf_ingest_stream_length", "Events on the stream not yet applied (sampled).", stream_lag);
    static const mf_worker_t workers[] = {{"ingest", work}};
    int rc = mf_worker_run("mf-ingest-work", workers, 1);
    return rc != 0 ? rc : work_rc;
}
