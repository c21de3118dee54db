/*
 * ingest_queue.c: see ingest_queue.h. The posts a loop thread takes in during
 * one turn of its event loop are queued together, by one Redis command sent
 * when the turn ends (or when the group is full):
 *
 *   EVALSHA enqueue script, for each post of the group in order, each in one
 *   atomic step (the whole script is atomic):
 *        an answer stored under the post's Idempotency-Key -> replay it (202);
 *        count its events against the tenant's monthly quota (over: undo -> 403);
 *        check the stream's length against MF_INGEST_QUEUE_MAX (over: undo -> 503);
 *        mark each event queued (its status key), XADD it;
 *        store the answer under the Idempotency-Key;
 *   and returns one outcome per post, which answers it (202, 403, 503).
 *
 * Grouping is what lets the intake keep up with Redis itself: Redis runs one
 * command and one script call for many posts instead of one each. A post waits
 * for nothing but the end of the turn it arrived in.
 *
 * Each post is atomic: a batch is queued whole or not at all, the stored answer
 * exists exactly when its events are on the stream (with AOF, persisted
 * together), and two posts with one key run one after the other, so all but
 * the first replay it (also within one group). If the connection breaks before
 * the reply, or Redis answers an error, the posts may or may not be queued: the
 * answer is 503 outcome_unknown, and a retry with the same key either replays
 * the answer or queues the events for the first time.
 *
 * A post is answered even when its client left mid-way, so what a retried post
 * with the same Idempotency-Key finds is always what was really queued.
 */
#include <h2o.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mf/config.h"
#include "mf/ingest_queue.h"
#include "mf/json.h"
#include "mf/log.h"
#include "mf/metrics.h"
#include "mf/quota.h"
#include "mf/redis.h"
#include "mf/util.h"

/* A group is sent when full: this many posts, or this many bytes of events. */
#define GROUP_MAX_POSTS 256
#define GROUP_MAX_BYTES (8u << 20)

typedef struct {
    json_t *events;
    size_t n;
    char **texts; /* each event's JSON, as queued */
    size_t *text_lens;
    size_t bytes; /* of the texts */
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
    for (size_t i = 0; q->texts != NULL && i < q->n; i++)
        free(q->texts[i]);
    free(q->texts);
    free(q->text_lens);
    free(q->answer);
    free(q);
}

void mf_ingest_status_key(char *out, size_t cap, const char *event_id)
{
    snprintf(out, cap, "%s:ev:%s", mf_config_str(MF_CFG_INGEST_STREAM), event_id);
}

/* KEYS: the stream, then per post its quota counter and its idempotency key (or "").
 * ARGV: queue max, status ttl, idempotency ttl, posts, then per post: n, quota, tenant,
 * answer, then per event its status key and its JSON. One outcome per post. */
static const char enqueue_script[] =
    "local stream = KEYS[1] "
    "local queue_max = tonumber(ARGV[1]) "
    "local len = redis.call('XLEN', stream) "
    "local out = {} "
    "local a = 5 "
    "for p = 1, tonumber(ARGV[4]) do "
    "  local quota_key, idem_key = KEYS[2 * p], KEYS[2 * p + 1] "
    "  local n = tonumber(ARGV[a]) "
    "  local first = a + 4 "
    "  local prev = false "
    "  if idem_key ~= '' then prev = redis.call('GET', idem_key) end "
    "  if prev then out[p] = {'replay', prev} "
    "  else "
    "    local used = redis.call('INCRBY', quota_key, n) "
    "    if used == n then redis.call('EXPIRE', quota_key, 3456000) end "
    "    if used > tonumber(ARGV[a + 1]) then redis.call('DECRBY', quota_key, n) out[p] = {'quota'} "
    "    elseif len + n > queue_max then redis.call('DECRBY', quota_key, n) out[p] = {'full'} "
    "    else "
    "      for i = 0, n - 1 do "
    "        redis.call('SET', ARGV[first + 2 * i], ARGV[a + 2], 'EX', ARGV[2]) "
    "        redis.call('XADD', stream, '*', 'e', ARGV[first + 2 * i + 1]) "
    "      end "
    "      len = len + n "
    "      if idem_key ~= '' then redis.call('SET', idem_key, ARGV[a + 3], 'EX', ARGV[3]) end "
    "      out[p] = {'ok'} "
    "    end "
    "  end "
    "  a = first + 2 * n "
    "end "
    "return out";

static char script_sha[41];
static mf_metric_t *commands_total, *posts_total;

static void init_metrics(void)
{
    commands_total = mf_metrics_counter("mf_ingest_queue_commands_total",
                                        "Redis commands that queued posts (each carries a group of posts).");
    posts_total = mf_metrics_counter("mf_ingest_queue_posts_total", "Posts sent to Redis to be queued.");
}
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

__attribute__((constructor)) static void enqueue_script_init(void)
{
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)enqueue_script, strlen(enqueue_script), digest);
    mf_hex_encode(digest, sizeof(digest), script_sha);
}

/* Posts sent together, and their command's arguments (kept for a NOSCRIPT resend). */
typedef struct {
    mf_req_t *posts[GROUP_MAX_POSTS];
    size_t nposts, bytes;
    int sent_full_script;
} group_t;

/* Per loop thread: the group filling during this turn, and the timer that sends it. */
typedef struct {
    h2o_evloop_t *loop; /* NULL until the thread's first post */
    h2o_timeout_t end_of_turn;
    h2o_timeout_entry_t send_entry;
    group_t *open;
} batcher_t;

static __thread batcher_t batcher;

/* Answer one post from its outcome in the script's reply. */
static void answer_post(mf_req_t *r, const redisReply *outcome_reply)
{
    enqueue_t *q = mf_req_data(r);
    const char *outcome = outcome_reply != NULL && outcome_reply->type == REDIS_REPLY_ARRAY &&
                                  outcome_reply->elements >= 1 &&
                                  outcome_reply->element[0]->type == REDIS_REPLY_STRING
                              ? outcome_reply->element[0]->str
                              : NULL;
    if (outcome != NULL && strcmp(outcome, "ok") == 0) {
        mf_respond_json(r, 202, q->answer, q->answer_len);
    } else if (outcome != NULL && strcmp(outcome, "replay") == 0 && outcome_reply->elements == 2 &&
               outcome_reply->element[1]->type == REDIS_REPLY_STRING) {
        mf_req_add_header(r, "idempotent-replayed", "true");
        mf_respond_json(r, 202, outcome_reply->element[1]->str, outcome_reply->element[1]->len);
    } else if (outcome != NULL && strcmp(outcome, "quota") == 0) {
        mf_respond_error(r, MF_EQUOTA_EXCEEDED, "the plan's %lld emit events this month are used up",
                         mf_req_identity(r)->emit_quota);
    } else if (outcome != NULL && strcmp(outcome, "full") == 0) {
        MF_LOG_WARN_(NULL, "ingest queue full");
        mf_respond_error(r, MF_EUNAVAILABLE, "the ingest queue is full; retry shortly");
    } else {
        mf_respond_error(r, MF_EOUTCOME_UNKNOWN, NULL);
    }
}

static int send_group(group_t *g);

static void group_done(group_t *g, const redisReply *reply)
{
    for (size_t i = 0; i < g->nposts; i++) {
        mf_req_t *r = g->posts[i];
        if (!mf_req_answered(r)) {
            if (reply == NULL)
                mf_respond_error(r, MF_EOUTCOME_UNKNOWN, NULL);
            else
                answer_post(r, reply->type == REDIS_REPLY_ARRAY && i < reply->elements ? reply->element[i] : NULL);
        }
        mf_req_unhold(r);
    }
    free(g);
}

static void on_group_reply(void *data, redisReply *reply)
{
    group_t *g = data;
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0 &&
        !g->sent_full_script) {
        /* Redis restarted (or was flushed) since the script was loaded: it did not run */
        g->sent_full_script = 1;
        if (send_group(g) == 0)
            return;
        reply = NULL;
    }
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != g->nposts)
        MF_LOG_ERROR_(NULL, "redis did not queue a group of %zu posts: %.200s", g->nposts,
                      reply == NULL                      ? "the connection was lost"
                      : reply->type == REDIS_REPLY_ERROR ? reply->str
                                                         : "unexpected reply");
    group_done(g, reply != NULL && reply->type == REDIS_REPLY_ARRAY ? reply : NULL);
}

/* Send the group's command; nonzero (nothing sent) when Redis is unreachable. */
static int send_group(group_t *g)
{
    size_t nevents = 0;
    for (size_t i = 0; i < g->nposts; i++)
        nevents += ((enqueue_t *)mf_req_data(g->posts[i]))->n;
    size_t nkeys = 1 + 2 * g->nposts;
    size_t argc = 3 + nkeys + 4 + 4 * g->nposts + 2 * nevents;
    const char **argv = mf_calloc(argc, sizeof(*argv));
    size_t *lens = mf_calloc(argc, sizeof(*lens));
    char nkeys_text[24], queue_max[24], ttl[16], idem_ttl[16], nposts[24];
    char(*quotas)[24] = mf_calloc(g->nposts, sizeof(*quotas));
    char(*status_keys)[160] = mf_calloc(nevents, sizeof(*status_keys));
    snprintf(nkeys_text, sizeof(nkeys_text), "%zu", nkeys);
    snprintf(queue_max, sizeof(queue_max), "%lld", mf_config_int(MF_CFG_INGEST_QUEUE_MAX));
    snprintf(ttl, sizeof(ttl), "%d", MF_INGEST_STATUS_TTL);
    snprintf(idem_ttl, sizeof(idem_ttl), "%d", MF_INGEST_IDEMPOTENCY_TTL);
    snprintf(nposts, sizeof(nposts), "%zu", g->nposts);
    size_t a = 0;
#define ARG(text, len_)                                                                                                \
    do {                                                                                                               \
        argv[a] = (text);                                                                                              \
        lens[a++] = (len_);                                                                                            \
    } while (0)
#define ARGZ(text)                                                                                                     \
    do {                                                                                                               \
        const char *text_ = (text);                                                                                    \
        ARG(text_, strlen(text_));                                                                                     \
    } while (0)
    ARGZ(g->sent_full_script ? "EVAL" : "EVALSHA");
    ARGZ(g->sent_full_script ? enqueue_script : script_sha);
    ARGZ(nkeys_text);
    ARGZ(mf_config_str(MF_CFG_INGEST_STREAM));
    for (size_t i = 0; i < g->nposts; i++) {
        enqueue_t *q = mf_req_data(g->posts[i]);
        ARGZ(q->quota_key);
        ARGZ(q->idem_key);
    }
    ARGZ(queue_max);
    ARGZ(ttl);
    ARGZ(idem_ttl);
    ARGZ(nposts);
    for (size_t i = 0, e = 0; i < g->nposts; i++) {
        enqueue_t *q = mf_req_data(g->posts[i]);
        snprintf(quotas[i], sizeof(quotas[i]), "%lld", mf_req_identity(g->posts[i])->emit_quota);
        ARGZ(q->count);
        ARGZ(quotas[i]);
        ARGZ(mf_req_identity(g->posts[i])->tenant_id);
        ARG(q->answer, q->answer_len);
        for (size_t k = 0; k < q->n; k++, e++) {
            mf_ingest_status_key(status_keys[e], sizeof(status_keys[e]),
                                 json_string_value(json_object_get(json_array_get(q->events, k), "event_id")));
            ARGZ(status_keys[e]);
            ARG(q->texts[k], q->text_lens[k]);
        }
    }
#undef ARGZ
#undef ARG
    MF_ASSERT(a == argc);
    /* After the API calls this thread counted so far (quota.h), like every command of a request. */
    (void)mf_quota_flush_thread();
    mf_redis_t *redis = mf_http_thread_redis();
    int rc = redis != NULL ? mf_redis_command(redis, on_group_reply, g, (int)argc, argv, lens) : MF_EUNAVAILABLE;
    free(status_keys);
    free(quotas);
    free(argv);
    free(lens);
    return rc;
}

/* Send the open group; answer its posts 503 when Redis is unreachable. */
static void flush_open_group(void)
{
    group_t *g = batcher.open;
    batcher.open = NULL;
    if (h2o_timeout_is_linked(&batcher.send_entry))
        h2o_timeout_unlink(&batcher.send_entry);
    if (g == NULL)
        return;
    size_t nposts = g->nposts;
    if (send_group(g) == 0) {
        pthread_once(&metrics_once, init_metrics);
        mf_metrics_add(commands_total, 1);
        mf_metrics_add(posts_total, nposts);
        return;
    }
    for (size_t i = 0; i < g->nposts; i++) {
        if (!mf_req_answered(g->posts[i]))
            mf_respond_error(g->posts[i], MF_EUNAVAILABLE, "the queue is unreachable; retry shortly");
        mf_req_unhold(g->posts[i]);
    }
    free(g);
}

static void on_end_of_turn(h2o_timeout_entry_t *entry) { flush_open_group(); }

/* Join r's post to this turn's group (sending the group first when r would overflow it). */
static void join_group(mf_req_t *r)
{
    enqueue_t *q = mf_req_data(r);
    if (batcher.loop == NULL) {
        batcher.loop = mf_http_thread_loop();
        h2o_timeout_init(batcher.loop, &batcher.end_of_turn, 0);
        batcher.send_entry.cb = on_end_of_turn;
    }
    if (batcher.open != NULL &&
        (batcher.open->nposts == GROUP_MAX_POSTS || batcher.open->bytes + q->bytes > GROUP_MAX_BYTES))
        flush_open_group();
    if (batcher.open == NULL)
        batcher.open = mf_calloc(1, sizeof(*batcher.open));
    mf_req_hold(r);
    batcher.open->posts[batcher.open->nposts++] = r;
    batcher.open->bytes += q->bytes;
    if (!h2o_timeout_is_linked(&batcher.send_entry))
        h2o_timeout_link(batcher.loop, &batcher.end_of_turn, &batcher.send_entry);
}

void mf_ingest_enqueue(mf_req_t *r, json_t *events, int single)
{
    const mf_identity_t *id = mf_req_identity(r);
    enqueue_t *q = mf_calloc(1, sizeof(*q));
    q->events = events;
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
    /* the 202 body, written directly: event ids are uuids, which need no escaping */
    size_t cap = 64 + 40 * q->n, len = 0;
    q->answer = mf_malloc(cap);
    len += (size_t)snprintf(q->answer, cap, single ? "{\"event_id\":" : "{\"event_ids\":[");
    for (size_t i = 0; i < q->n; i++) {
        char uuid[37];
        json_t *ev = json_array_get(events, i);
        mf_uuid_v4(uuid);
        json_object_set_new(ev, "event_id", json_string(uuid));
        json_object_set_new(ev, "tenant_id", json_string(id->tenant_id));
        json_object_set_new(ev, "actor", json_string(id->actor));
        json_object_set_new(ev, "request_id", json_string(mf_req_id(r)));
        json_object_set_new(ev, "received_at", json_string(received));
        len += (size_t)snprintf(q->answer + len, cap - len, "%s\"%s\"", i > 0 ? "," : "", uuid);
    }
    if (single)
        len += (size_t)snprintf(q->answer + len, cap - len, "}");
    else
        len += (size_t)snprintf(q->answer + len, cap - len, "],\"accepted\":%zu}", q->n);
    MF_ASSERT(len < cap);
    q->answer_len = len;
    q->texts = mf_calloc(q->n, sizeof(*q->texts));
    q->text_lens = mf_calloc(q->n, sizeof(*q->text_lens));
    for (size_t i = 0; i < q->n; i++) {
        q->texts[i] = mf_json_dump(json_array_get(events, i), &q->text_lens[i]);
        q->bytes += q->text_lens[i];
    }

    if (mf_http_thread_redis() == NULL || !mf_redis_connected(mf_http_thread_redis())) {
        mf_respond_error(r, MF_EUNAVAILABLE, "the queue is unreachable; retry shortly");
        return;
    }
    join_group(r);
}
