/*
 * webhooks.c: catalog events -> webhook deliveries, with retries.
 *
 * MF_WEBHOOK_CONCURRENCY sender threads, each with its own Postgres
 * connection, repeat one round: fan new catalog_events out into one
 * delivery per subscribed webhook (mf_webhook_fanout; SKIP LOCKED, so
 * senders and replicas share the outbox), then claim one due delivery
 * (mf_webhook_claim: FOR UPDATE SKIP LOCKED plus a lease past the request
 * timeout, so no two senders of any replica send the same attempt) and post
 * it with libcurl (mf_webhook_post: destination checked at connect time,
 * signed body). One sender per request keeps a slow receiver from holding
 * up the other tenants' deliveries. A 2xx answer is delivered; anything
 * else is retried after MF_WEBHOOK_BACKOFF_MS * 2^(attempt-1), the upper
 * half random (jitter, so failing receivers are not hit in lockstep), until
 * attempt MF_WEBHOOK_MAX_ATTEMPTS marks the delivery dead. Every attempt is
 * logged with its status code, error and duration (mf_webhook_record). The
 * SQL is in migrations/0012_webhooks.sql; the service role reaches every
 * tenant's deliveries only through those SECURITY DEFINER functions.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analytics.h"
#include "mf/config.h"
#include "mf/log.h"
#include "mf/util.h"
#include "mf/webhook.h"
#include "mf/worker.h"

#define FANOUT_BATCH "500"
#define IDLE_POLL_MS 200
#define RETRY_MAX_MS 3600000LL

/* Fan out one batch of events; the number of deliveries created (0 on error). */
static int fan_out(PGconn *pg)
{
    const char *params[] = {FANOUT_BATCH};
    long long n = mf_worker_count(pg, "SELECT mf_webhook_fanout($1::int)", 1, params, "webhook fan-out");
    return n > 0 ? (int)n : 0;
}

/* The delay before attempt+1: base * 2^(attempt-1), capped, the upper half random. */
static int retry_delay_ms(int attempt)
{
    long long d = mf_config_int(MF_CFG_WEBHOOK_BACKOFF_MS);
    for (int i = 1; i < attempt && d < RETRY_MAX_MS; i++)
        d *= 2;
    if (d > RETRY_MAX_MS)
        d = RETRY_MAX_MS;
    uint32_t r;
    mf_random_bytes(&r, sizeof(r));
    return (int)(d / 2 + (long long)(r % (uint32_t)(d / 2 + 1)));
}

static const char *outcome_name(mf_webhook_outcome_t o)
{
    return o == MF_WEBHOOK_DELIVERED ? "delivered" : o == MF_WEBHOOK_REFUSED ? "refused" : "failed";
}

static void record(PGconn *pg, const char *delivery_id, int attempt, const mf_webhook_result_t *out)
{
    char attempt_s[16], code[16], duration[24], max[16], retry[16];
    snprintf(attempt_s, sizeof(attempt_s), "%d", attempt);
    snprintf(code, sizeof(code), "%ld", out->status_code);
    snprintf(duration, sizeof(duration), "%ld", out->duration_ms);
    snprintf(max, sizeof(max), "%lld", mf_config_int(MF_CFG_WEBHOOK_MAX_ATTEMPTS));
    snprintf(retry, sizeof(retry), "%d", retry_delay_ms(attempt));
    const char *params[] = {delivery_id, attempt_s,  outcome_name(out->outcome), out->status_code ? code : NULL,
                            out->error[0] ? out->error : NULL, duration, max, retry};
    PGresult *res = PQexecParams(pg,
                                 "SELECT coalesce(mf_webhook_record($1::uuid, $2::int, $3, $4::int, $5, $6::int, "
                                 "$7::int, $8::int), 'stale')",
                                 8, NULL, params, NULL, NULL, 0);
    /* a receiver's failure is its owner's business: info; a delivery is routine: debug */
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        MF_LOG(out->outcome == MF_WEBHOOK_DELIVERED ? MF_LOG_DEBUG : MF_LOG_INFO, NULL,
               "webhook delivery %s attempt %d %s in %ld ms%s%s: now %s", delivery_id, attempt,
               outcome_name(out->outcome), out->duration_ms, out->error[0] ? ": " : "", out->error,
               PQgetvalue(res, 0, 0));
    else
        MF_LOG_WARN_(NULL, "webhook delivery %s attempt %d not recorded (retried after its lease): %s", delivery_id,
                     attempt, PQresultErrorMessage(res));
    PQclear(res);
}

/* The row of mf_webhook_claim: delivery_id, attempt, kind, url, secret, format, body. */
static void deliver(PGconn *pg, PGresult *claimed, const mf_webhook_policy_t *policy)
{
    const char *id = PQgetvalue(claimed, 0, 0), *kind = PQgetvalue(claimed, 0, 2);
    const char *url = PQgetvalue(claimed, 0, 3), *secret = PQgetvalue(claimed, 0, 4);
    const char *body = PQgetvalue(claimed, 0, 6);
    int attempt = atoi(PQgetvalue(claimed, 0, 1));
    char *slack = strcmp(PQgetvalue(claimed, 0, 5), "slack") == 0 ? mf_webhook_slack_body(body) : NULL;
    const char *sent = slack != NULL ? slack : body;
    mf_webhook_result_t out;
    mf_webhook_post(url, policy, secret, kind, id, sent, strlen(sent), (long)mf_config_int(MF_CFG_WEBHOOK_TIMEOUT_MS),
                    &out);
    free(slack);
    record(pg, id, attempt, &out);
}

/* Claim and deliver one due delivery; 1 when there was one. */
static int deliver_due(PGconn *pg, const mf_webhook_policy_t *policy)
{
    char lease[24];
    snprintf(lease, sizeof(lease), "%lld", mf_config_int(MF_CFG_WEBHOOK_TIMEOUT_MS) + 5000);
    const char *params[] = {"1", lease};
    PGresult *res = PQexecParams(pg,
                                 "SELECT delivery_id, attempt, kind, url, secret, format, body "
                                 "FROM mf_webhook_claim($1::int, $2::int)",
                                 2, NULL, params, NULL, NULL, 0);
    int n = 0;
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        n = PQntuples(res);
        if (n == 1)
            deliver(pg, res, policy);
    } else {
        MF_LOG_WARN_(NULL, "claiming webhook deliveries failed: %s", PQresultErrorMessage(res));
    }
    PQclear(res);
    return n;
}

static void *sender(void *arg)
{
    PGconn *pg = NULL;
    mf_webhook_policy_t policy = mf_webhook_policy_from_config();
    while (mf_worker_pg(&pg) != NULL) {
        int busy = fan_out(pg);
        busy += deliver_due(pg, &policy);
        if (busy == 0)
            mf_worker_sleep_ms(IDLE_POLL_MS);
    }
    PQfinish(pg);
    return NULL;
}

void mf_analytics_webhooks_loop(void)
{
    int n = (int)mf_config_int(MF_CFG_WEBHOOK_CONCURRENCY), started = 0;
    pthread_t *more = mf_calloc((size_t)n, sizeof(*more));
    for (int i = 1; i < n; i++)
        if (pthread_create(&more[started], NULL, sender, NULL) == 0)
            started++;
        else
            MF_LOG_WARN_(NULL, "webhook sender %d of %d did not start", i + 1, n);
    sender(NULL);
    for (int i = 0; i < started; i++)
        pthread_join(more[i], NULL);
    free(more);
}
