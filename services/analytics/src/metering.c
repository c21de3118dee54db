/*
 * metering.c: folds the monthly usage counters from Redis into Postgres every
 * MF_METERING_INTERVAL seconds.
 *
 * The services count on the hot path in Redis, one counter per tenant, metric
 * and month (quota.h: mf:quota:api:<tenant>:<YYYYMM> for API calls, counted by
 * every mf-api replica into the same key; mf:quota:emit:... for emit events,
 * by mf-ingest). The counters are month totals that only grow, and they are
 * what the quotas are enforced against, so folding never resets them: one
 * round SCANs the counters, reads them (MGET) and hands each total to
 * mf_meter_fold, which keeps the greatest value it has seen and raises the
 * 80% quota.warning once. Any number of replicas may fold the same counters
 * at any time and the totals stay exact. A finished month's counters live on
 * for MF_QUOTA_COUNTER_TTL, so its last calls are folded after it ends.
 * Then mf_meter_fold_counts records every tenant's peak datasets and seats.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analytics.h"
#include "mf/config.h"
#include "mf/log.h"
#include "mf/quota.h"
#include "mf/util.h"
#include "mf/worker.h"

/* Counters read per MGET. */
#define FOLD_BATCH 200

/* Fold the counter named key (mf:quota:<metric>:<tenant>:<YYYYMM>) with total value; 0 or -1 on error. */
static int fold_counter(PGconn *pg, const char *key, const char *value)
{
    const char *rest = key + strlen(MF_QUOTA_COUNTER_PREFIX);
    const char *metric = strncmp(rest, "api:", 4) == 0 ? "api_calls" : strncmp(rest, "emit:", 5) == 0 ? "emit_events" : NULL;
    const char *tenant = metric == NULL ? NULL : strchr(rest, ':') + 1;
    const char *month = tenant == NULL ? NULL : strchr(tenant, ':');
    long long n;
    if (month == NULL || month - tenant != 36 || !mf_is_uuid(tenant, 36) || strlen(month + 1) != 6 ||
        mf_parse_int(value, strlen(value), 0, INT64_MAX, &n) != 0)
        return 0; /* not a counter of ours */
    char tenant_id[37], first_day[11];
    memcpy(tenant_id, tenant, 36);
    tenant_id[36] = '\0';
    snprintf(first_day, sizeof(first_day), "%.4s-%.2s-01", month + 1, month + 5);
    const char *params[] = {tenant_id, first_day, metric, value};
    PGresult *res = PQexecParams(pg, "SELECT mf_meter_fold($1::uuid, $2::date, $3, $4::bigint)", 4, NULL, params,
                                 NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : -1;
    if (rc != 0)
        MF_LOG_WARN_(NULL, "metering: folding %s failed: %s", key, PQresultErrorMessage(res));
    PQclear(res);
    return rc;
}

/* Read and fold keys[0..n); -1 when Redis or Postgres failed. */
static int fold_batch(PGconn *pg, redisContext *redis, const char **keys, size_t n)
{
    const char *argv[FOLD_BATCH + 1];
    argv[0] = "MGET";
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = keys[i];
    redisReply *rep = redisCommandArgv(redis, (int)n + 1, argv, NULL);
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != n) {
        if (rep != NULL)
            freeReplyObject(rep);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (rep->element[i]->type == REDIS_REPLY_STRING) /* nil: expired between SCAN and MGET */
            rc = fold_counter(pg, keys[i], rep->element[i]->str);
    freeReplyObject(rep);
    return rc;
}

/* One round over every counter; -1 when it stopped early on an error. */
static int fold_round(PGconn *pg, redisContext *redis)
{
    /* never queue behind a table lock (DDL, maintenance): the next round retries */
    PQclear(PQexec(pg, "SET lock_timeout = '200ms'"));
    char cursor[32] = "0";
    do {
        redisReply *rep = redisCommand(redis, "SCAN %s MATCH %s* COUNT 1000", cursor, MF_QUOTA_COUNTER_PREFIX);
        if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            rep->element[0]->type != REDIS_REPLY_STRING) {
            MF_LOG_WARN_(NULL, "metering: SCAN failed: %s", rep == NULL ? redis->errstr : "unexpected reply");
            if (rep != NULL)
                freeReplyObject(rep);
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        redisReply *keys = rep->element[1];
        int rc = 0;
        for (size_t i = 0; i < keys->elements && rc == 0; i += FOLD_BATCH) {
            const char *batch[FOLD_BATCH];
            size_t n = 0;
            for (; n < FOLD_BATCH && i + n < keys->elements; n++)
                batch[n] = keys->element[i + n]->str;
            rc = fold_batch(pg, redis, batch, n);
        }
        freeReplyObject(rep);
        if (rc != 0)
            return -1;
    } while (strcmp(cursor, "0") != 0 && !mf_worker_stopping());
    PGresult *res = PQexec(pg, "SELECT mf_meter_fold_counts()");
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : -1;
    if (rc != 0)
        MF_LOG_WARN_(NULL, "metering: counting datasets and seats failed: %s", PQresultErrorMessage(res));
    PQclear(res);
    return rc;
}

void mf_analytics_metering_loop(void)
{
    PGconn *pg = NULL;
    redisContext *redis = NULL;
    int every_ms = (int)mf_config_int(MF_CFG_METERING_INTERVAL) * 1000;
    while (mf_worker_pg(&pg) != NULL && mf_worker_redis(&redis) != NULL) {
        if (fold_round(pg, redis) == 0)
            MF_LOG_DEBUG_(NULL, "metering: counters folded");
        mf_worker_sleep_ms(every_ms);
    }
    PQfinish(pg);
    if (redis != NULL)
        redisFree(redis);
}
