/*
 * ingest_queue.c: see ingest_queue.h. One request runs at most two Redis
 * commands, pipelined on the loop thread's one connection with every other
 * request's:
 *
 *   EVAL enqueue script, in one atomic step:
 *        an answer stored under the Idempotency-Key -> replay it (202);
 *        count the events against the tenant's monthly quota (over: undo -> 403);
 *        check the stream's length against MF_INGEST_QUEUE_MAX (over: undo -> 503);
 *        mark each event queued (its status key), XADD it;
 *        store the answer under the Idempotency-Key.
 *   202
 *
 * One script is one Redis command per post, and atomic: a batch is queued
 * whole or not at all, the stored answer exists exactly when its events are
 * on the stream (with AOF, persisted together), and concurrent retries with
 * one key run one after the other, so all but the first replay it. If the
 * connection breaks before the reply, the events may or may not be queued:
 * the answer is 503 outcome_unknown, and a retry with the same key either
 * replays the answer or queues the events for the first time.
 *
 * The chain goes on when the client leaves mid-way, so what a retried post
 * with the same Idempotency-Key finds is always what was really queued.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mf/config.h"
#include "mf/ingest_queue.h"
#include "mf/json.h"
#include "mf/log.h"
#include "mf/redis.h"
#include "mf/util.h"

typedef struct {
    json_t *events;
    int single;
    size_t n;
    char *answer; /* the 202 body */
    size_t answer_len;
    char idem_key[96];
    char quota_key[128];
    char count[24];
} enqueue_t;

static void enqueue_free(void *p)
{
    enqueue_t *q = p;
    json_decref(q->events);
    free(q->answer);
    free(q);
}

void mf_ingest_status_key(char *out, size_t cap, const char *event_id)
{
    snprintf(out, cap, "%s:ev:%s", mf_config_str(MF_CFG_INGEST_STREAM), event_id);
}

/* KEYS: quota counter, stream, idempotency key (or ""). ARGV: n, quota, queue max, tenant,
 * status ttl, answer, idempotency ttl, then per event: status key, event JSON. */
static const char enqueue_script[] =
    "if KEYS[3] ~= '' then "
    "  local prev = redis.call('GET', KEYS[3]) "
    "  if prev then return {'replay', prev} end "
    "end "
    "local n = tonumber(ARGV[1]) "
    "local used = redis.call('INCRBY', KEYS[1], n) "
    "if used == n then redis.call('EXPIRE', KEYS[1], 3456000) end "
    "if used > tonumber(ARGV[2]) then redis.call('DECRBY', KEYS[1], n) return {'quota'} end "
    "if redis.call('XLEN', KEYS[2]) + n > tonumber(ARGV[3]) then redis.call('DECRBY', KEYS[1], n) return {'full'} end "
    "for i = 0, n - 1 do "
    "  redis.call('SET', ARGV[8 + 2 * i], ARGV[4], 'EX', ARGV[5]) "
    "  redis.call('XADD', KEYS[2], '*', 'e', ARGV[9 + 2 * i]) "
    "end "
    "if KEYS[3] ~= '' then redis.call('SET', KEYS[3], ARGV[6], 'EX', ARGV[7]) end "
    "return {'ok'}";

static void on_enqueued(mf_req_t *r, redisReply *reply)
{
    enqueue_t *q = mf_req_data(r);
    if (reply == NULL) {
        mf_respond_error(r, MF_EOUTCOME_UNKNOWN, NULL);
        return;
    }
    const char *outcome = reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
                                  reply->element[0]->type == REDIS_REPLY_STRING
                              ? reply->element[0]->str
                              : NULL;
    if (outcome != NULL && strcmp(outcome, "ok") == 0) {
        mf_respond_json(r, 202, q->answer, q->answer_len);
    } else if (outcome != NULL && strcmp(outcome, "replay") == 0 && reply->elements == 2 &&
               reply->element[1]->type == REDIS_REPLY_STRING) {
        mf_req_add_header(r, "idempotent-replayed", "true");
        mf_respond_json(r, 202, reply->element[1]->str, reply->element[1]->len);
    } else if (outcome != NULL && strcmp(outcome, "quota") == 0) {
        mf_respond_error(r, MF_EQUOTA_EXCEEDED, "the plan's %lld emit events this month are used up",
                         mf_req_identity(r)->emit_quota);
    } else if (outcome != NULL && strcmp(outcome, "full") == 0) {
        MF_LOG_WARN_(NULL, "ingest queue full");
        mf_respond_error(r, MF_EUNAVAILABLE, "the ingest queue is full; retry shortly");
    } else {
        MF_LOG_ERROR_(NULL, "redis error: %.200s", reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        mf_respond_error(r, MF_EUNAVAILABLE, "the queue refused the event; retry shortly");
    }
}

static void run_enqueue_script(mf_req_t *r)
{
    enqueue_t *q = mf_req_data(r);
    size_t argc = 13 + 2 * q->n;
    const char **argv = mf_calloc(argc, sizeof(*argv));
    size_t *lens = mf_calloc(argc, sizeof(*lens));
    char **owned = mf_calloc(2 * q->n + 1, sizeof(*owned));
    char quota[24], queue_max[24], ttl[16], idem_ttl[16];
    snprintf(quota, sizeof(quota), "%lld", mf_req_identity(r)->emit_quota);
    snprintf(queue_max, sizeof(queue_max), "%lld", mf_config_int(MF_CFG_INGEST_QUEUE_MAX));
    snprintf(ttl, sizeof(ttl), "%d", MF_INGEST_STATUS_TTL);
    snprintf(idem_ttl, sizeof(idem_ttl), "%d", MF_INGEST_IDEMPOTENCY_TTL);
    const char *fixed[] = {"EVAL",    enqueue_script, "3",        q->quota_key, mf_config_str(MF_CFG_INGEST_STREAM),
                           q->idem_key, q->count,     quota,      queue_max,    mf_req_identity(r)->tenant_id,
                           ttl,     q->answer,      idem_ttl};
    size_t a = 0;
    for (; a < MF_ARRAY_SIZE(fixed); a++) {
        argv[a] = fixed[a];
        lens[a] = strlen(fixed[a]);
    }
    for (size_t i = 0; i < q->n; i++) {
        json_t *ev = json_array_get(q->events, i);
        char *key = owned[2 * i] = mf_malloc(160);
        mf_ingest_status_key(key, 160, json_string_value(json_object_get(ev, "event_id")));
        argv[a] = key;
        lens[a++] = strlen(key);
        owned[2 * i + 1] = mf_json_dump(ev, &lens[a]);
        argv[a++] = owned[2 * i + 1];
    }
    lens[11] = q->answer_len;
    if (mf_req_redis_or_respond(r, (int)argc, argv, lens, on_enqueued) != 0) {
        /* answered 503: nothing was sent */
    }
    for (size_t i = 0; i < 2 * q->n; i++)
        free(owned[i]);
    free(owned);
    free(argv);
    free(lens);
}

void mf_ingest_enqueue(mf_req_t *r, json_t *events, int single)
{
    const mf_identity_t *id = mf_req_identity(r);
    enqueue_t *q = mf_calloc(1, sizeof(*q));
    q->events = events;
    q->single = single;
    q->n = json_array_size(events);
    mf_req_set_data(r, q, enqueue_free);

    const char *idem = mf_req_header(r, "idempotency-key");
    if (idem != NULL) {
        size_t n = strlen(idem);
        if (n == 0 || n > 255 || !mf_text_is_clean(idem, n, 0)) {
            mf_respond_error(r, MF_EINVALID_REQUEST, "Idempotency-Key must be 1-255 printable characters");
            return;
        }
        char material[320], hash[65];
        snprintf(material, sizeof(material), "%s:%s", id->tenant_id, idem);
        mf_sha256_hex(material, strlen(material), hash);
        snprintf(q->idem_key, sizeof(q->idem_key), "mf:idem:%s", hash);
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(q->quota_key, sizeof(q->quota_key), "mf:quota:emit:%s:%04d%02d", id->tenant_id, tm.tm_year + 1900,
             tm.tm_mon + 1);
    snprintf(q->count, sizeof(q->count), "%zu", q->n);

    /* the envelope, and the answer */
    char received[32];
    mf_time_rfc3339(received);
    json_t *ids = json_array();
    for (size_t i = 0; i < q->n; i++) {
        char uuid[37];
        json_t *ev = json_array_get(events, i);
        mf_uuid_v4(uuid);
        json_object_set_new(ev, "event_id", json_string(uuid));
        json_object_set_new(ev, "tenant_id", json_string(id->tenant_id));
        json_object_set_new(ev, "actor", json_string(id->actor));
        json_object_set_new(ev, "request_id", json_string(mf_req_id(r)));
        json_object_set_new(ev, "received_at", json_string(received));
        json_array_append_new(ids, json_string(uuid));
    }
    json_t *answer = single ? json_pack("{s:O}", "event_id", json_array_get(ids, 0))
                            : json_pack("{s:O,s:I}", "event_ids", ids, "accepted", (json_int_t)q->n);
    json_decref(ids);
    q->answer = mf_json_dump(answer, &q->answer_len);
    json_decref(answer);

    run_enqueue_script(r);
}
