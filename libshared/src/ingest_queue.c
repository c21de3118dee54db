/*
 * ingest_queue.c: see ingest_queue.h. One request runs this chain of Redis
 * commands, each step started from the previous reply (all pipelined on the
 * thread's one connection with every other request's commands):
 *
 *   [SET idem key <answer> NX -> taken: GET it and replay the stored answer]
 *   INCRBY monthly quota counter   (over the plan: DECRBY back, 403)
 *   XLEN stream                    (over MF_INGEST_QUEUE_MAX: DECRBY back, 503)
 *   XADD ... (MULTI/EXEC for a batch, so it is queued whole or not at all)
 *   SET status keys                (not waited for)
 *   202
 *
 * The answer is stored under the Idempotency-Key before anything is queued,
 * so concurrent retries with one key all get the first post's event ids and
 * queue nothing. Every refusal after that point deletes the key again.
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
    size_t replies_left;
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

static void ignore_reply(void *data, redisReply *reply) {}

/* A command whose outcome does not change the answer (best effort). */
static void send_and_forget(int argc, const char **argv)
{
    mf_redis_t *redis = mf_http_thread_redis();
    if (redis != NULL && mf_redis_command(redis, ignore_reply, NULL, argc, argv, NULL) != 0)
        MF_LOG_WARN_(NULL, "redis unreachable for %s", argv[0]);
}

static void undo_idempotency(enqueue_t *q)
{
    if (q->idem_key[0] != '\0') {
        const char *argv[] = {"DEL", q->idem_key};
        send_and_forget(2, argv);
    }
}

/* Undo what the chain did before a refusal: the quota count and the stored answer. */
static void undo_quota(enqueue_t *q)
{
    const char *argv[] = {"DECRBY", q->quota_key, q->count};
    send_and_forget(3, argv);
    undo_idempotency(q);
}

static int is_error(redisReply *reply) { return reply->type == REDIS_REPLY_ERROR; }

/* The connection broke before this step's reply: before any XADD nothing was queued. */
static int lost_before_queueing(mf_req_t *r, redisReply *reply)
{
    if (reply != NULL)
        return 0;
    mf_respond_error(r, MF_EUNAVAILABLE, "the queue is unreachable; retry shortly");
    return 1;
}

static void fail_with_redis_error(mf_req_t *r, redisReply *reply)
{
    MF_LOG_ERROR_(NULL, "redis error: %.200s", reply->str);
    mf_respond_error(r, MF_EUNAVAILABLE, "the queue refused the event; retry shortly");
}

/* The status keys ("queued") go first on the same connection as the XADD, so they exist
 * before the 202 leaves; a refusal deletes them again. */
static void set_status_keys(mf_req_t *r, int set)
{
    enqueue_t *q = mf_req_data(r);
    char ttl[16];
    snprintf(ttl, sizeof(ttl), "%d", MF_INGEST_STATUS_TTL);
    for (size_t i = 0; i < q->n; i++) {
        char key[160];
        json_t *ev = json_array_get(q->events, i);
        mf_ingest_status_key(key, sizeof(key), json_string_value(json_object_get(ev, "event_id")));
        const char *set_argv[] = {"SET", key, mf_req_identity(r)->tenant_id, "EX", ttl};
        const char *del_argv[] = {"DEL", key};
        if (set)
            send_and_forget(5, set_argv);
        else
            send_and_forget(2, del_argv);
    }
}

static void finish(mf_req_t *r)
{
    enqueue_t *q = mf_req_data(r);
    mf_respond_json(r, 202, q->answer, q->answer_len);
}

static void on_xadd(mf_req_t *r, redisReply *reply)
{
    enqueue_t *q = mf_req_data(r);
    if (reply == NULL) {
        /* The XADD may have reached Redis (and its AOF) before the connection broke: the events
         * may be queued. Say so, and keep the Idempotency-Key so a retry with it answers
         * with these event ids instead of queueing them again. */
        if (q->replies_left > 0) {
            q->replies_left = 0;
            mf_respond_error(r, MF_EOUTCOME_UNKNOWN, NULL);
        }
        return;
    }
    if (is_error(reply) || (reply->type == REDIS_REPLY_NIL)) {
        /* a failed MULTI/EXEC queued nothing */
        undo_quota(q);
        set_status_keys(r, 0);
        q->replies_left = 0;
        if (is_error(reply))
            fail_with_redis_error(r, reply);
        else
            mf_respond_error(r, MF_EUNAVAILABLE, "the queue refused the events; retry shortly");
        return;
    }
    if (q->replies_left > 0 && --q->replies_left == 0)
        finish(r);
}

static void send_events(mf_req_t *r)
{
    enqueue_t *q = mf_req_data(r);
    const char *stream = mf_config_str(MF_CFG_INGEST_STREAM);
    int batch = q->n > 1;
    q->replies_left = batch ? q->n + 2 : 1;
    set_status_keys(r, 1);
    if (batch) {
        const char *multi[] = {"MULTI"};
        if (mf_req_redis_or_respond(r, 1, multi, NULL, on_xadd) != 0)
            return;
    }
    for (size_t i = 0; i < q->n; i++) {
        size_t len;
        char *text = mf_json_dump(json_array_get(q->events, i), &len);
        const char *argv[] = {"XADD", stream, "*", "e", text};
        size_t lens[] = {4, strlen(stream), 1, 1, len};
        int rc = mf_req_redis_or_respond(r, 5, argv, lens, on_xadd);
        free(text);
        if (rc != 0)
            return;
    }
    if (batch) {
        const char *exec[] = {"EXEC"};
        if (mf_req_redis_or_respond(r, 1, exec, NULL, on_xadd) != 0)
            return;
    }
}

static void on_xlen(mf_req_t *r, redisReply *reply)
{
    enqueue_t *q = mf_req_data(r);
    if (lost_before_queueing(r, reply))
        return;
    if (is_error(reply)) {
        undo_quota(q);
        fail_with_redis_error(r, reply);
        return;
    }
    if (reply->type == REDIS_REPLY_INTEGER && reply->integer + (long long)q->n > mf_config_int(MF_CFG_INGEST_QUEUE_MAX)) {
        undo_quota(q);
        MF_LOG_WARN_(NULL, "ingest queue full (%lld events)", reply->integer);
        mf_respond_error(r, MF_EUNAVAILABLE, "the ingest queue is full; retry shortly");
        return;
    }
    send_events(r);
}

static void on_quota(mf_req_t *r, redisReply *reply)
{
    enqueue_t *q = mf_req_data(r);
    if (lost_before_queueing(r, reply))
        return;
    if (is_error(reply) || reply->type != REDIS_REPLY_INTEGER) {
        undo_idempotency(q);
        fail_with_redis_error(r, reply);
        return;
    }
    long long quota = mf_req_identity(r)->emit_quota;
    if (reply->integer > quota) {
        undo_quota(q);
        mf_respond_error(r, MF_EQUOTA_EXCEEDED, "the plan's %lld emit events this month are used up", quota);
        return;
    }
    if (reply->integer == (long long)q->n) {
        const char *argv[] = {"EXPIRE", q->quota_key, "3456000"}; /* 40 days: past the month's end */
        send_and_forget(3, argv);
    }
    const char *argv[] = {"XLEN", mf_config_str(MF_CFG_INGEST_STREAM)};
    if (mf_req_redis_or_respond(r, 2, argv, NULL, on_xlen) != 0)
        return;
}

static void count_quota(mf_req_t *r)
{
    enqueue_t *q = mf_req_data(r);
    const char *argv[] = {"INCRBY", q->quota_key, q->count};
    if (mf_req_redis_or_respond(r, 3, argv, NULL, on_quota) != 0)
        return;
}

static void on_stored_answer(mf_req_t *r, redisReply *reply)
{
    if (lost_before_queueing(r, reply))
        return;
    if (reply->type == REDIS_REPLY_STRING) {
        mf_req_add_header(r, "idempotent-replayed", "true");
        mf_respond_json(r, 202, reply->str, reply->len);
        return;
    }
    /* it expired between SET and GET: rare enough to ask for a retry */
    mf_respond_error(r, MF_EUNAVAILABLE, "the Idempotency-Key is being released; retry shortly");
}

static void on_idempotency(mf_req_t *r, redisReply *reply)
{
    enqueue_t *q = mf_req_data(r);
    if (lost_before_queueing(r, reply))
        return;
    if (is_error(reply)) {
        fail_with_redis_error(r, reply);
        return;
    }
    if (reply->type == REDIS_REPLY_NIL) {
        /* another post with this key came first: answer as it did */
        const char *argv[] = {"GET", q->idem_key};
        if (mf_req_redis_or_respond(r, 2, argv, NULL, on_stored_answer) != 0)
            return;
        return;
    }
    count_quota(r);
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

    if (q->idem_key[0] != '\0') {
        char ttl[16];
        snprintf(ttl, sizeof(ttl), "%d", MF_INGEST_IDEMPOTENCY_TTL);
        const char *argv[] = {"SET", q->idem_key, q->answer, "NX", "EX", ttl};
        if (mf_req_redis_or_respond(r, 6, argv, NULL, on_idempotency) != 0)
            return;
        return;
    }
    count_quota(r);
}

void mf_ingest_enqueue_decoded(mf_req_t *r, json_t *(*decode)(json_t *body, mf_json_err_t *err))
{
    mf_json_err_t err;
    json_t *event = decode(mf_req_body(r), &err);
    if (event == NULL) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    json_t *events = json_array();
    json_array_append_new(events, event);
    mf_ingest_enqueue(r, events, 1);
}
