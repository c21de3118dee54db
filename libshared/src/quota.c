/*
 * quota.c: see quota.h.
 *
 * Buckets hold milli-tokens so the admission script needs integers only: a
 * bucket of rate R holds at most R*1000, refills R per millisecond (R tokens
 * per second) and a call takes 1000. Its state is one string "<milli-tokens>
 * <ms>" (one GET and one SET per bucket) that expires once the bucket would be
 * full again, so idle tenants cost no memory. Time comes from the Redis server
 * (TIME), so every replica draws on the same clock.
 *
 * The hot path avoids a Redis round trip per call: the script grants a loop
 * thread a lease of up to a twentieth of a second's tokens for one credential
 * (taken from both buckets at once, so leases of all threads and replicas
 * together never exceed the buckets); calls within LEASE_MS spend it locally,
 * and what is left then lapses (limits err strict, never loose). Calls are
 * counted exactly: by the script on its visits, and leased calls in the
 * tenant's slot, sent as one INCRBY per tenant and month (nobody waits for
 * it) every SEND_MS by a timer on the thread's loop (as the usage producer
 * does), before any Redis command a request of the thread sends (the
 * script's too, so a thread never holds more unsent calls than its current
 * leases, and a request reading the counters sees the calls its thread
 * admitted before it), when the slot is evicted and when the thread stops
 * (mf_quota_flush_thread): other threads and replicas see a call within
 * SEND_MS. Near the monthly limit (within COUNT_MARGIN of the last
 * total this thread saw, its unsent calls added) every call goes through the
 * script, which counts and refuses atomically, so the limit is exact; leases
 * shrink to a 64th of the calls left in the month, so the leased calls of up
 * to 64 threads cannot pass it either. Low rates (a lease of one token) take
 * the script on every call.
 *
 * Per loop thread (no locks; a collision just evicts): the tenants' limits,
 * read from Postgres (mf_tenant_limits) for MF_QUOTA_CACHE_TTL seconds with
 * the month's call total last seen and the calls not yet sent, and the
 * credentials' leases (renewed a little before they run out, LEASE_RENEW_MS).
 * A call admitted on a lease allocates nothing and sends nothing.
 */
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <h2o.h>
#include "mf/config.h"
#include "mf/log.h"
#include "mf/metrics.h"
#include "mf/quota.h"
#include "mf/redis.h"
#include "mf/util.h"

/*
 * KEYS: tenant bucket, credential bucket, monthly call counter ("" when calls are not counted).
 * ARGV: tenant rate, credential rate, monthly call limit, counter TTL, tokens wanted (the lease).
 * Reply: {verdict, limit, remaining, reset seconds, retry-after seconds, tokens granted, calls this
 * month (-1 when not counted)}; verdict 1 admitted (one call counted), 0 rate limited (nothing
 * taken), 2 monthly quota used up (tokens taken, call not counted).
 */
static const char admit_script[] =
    "local clock = redis.call('TIME') "
    "local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) "
    "local rates = {tonumber(ARGV[1]), tonumber(ARGV[2])} "
    "local levels = {} "
    "local wait = 0 "
    "for i = 1, 2 do "
    "  local full = rates[i] * 1000 "
    "  local state = redis.call('GET', KEYS[i]) "
    "  levels[i] = full "
    "  if state then "
    "    local m, at = string.match(state, '(%d+) (%d+)') "
    "    levels[i] = math.min(full, tonumber(m) + math.max(0, now - tonumber(at)) * rates[i]) "
    "  end "
    "  if levels[i] < 1000 then wait = math.max(wait, math.ceil((1000 - levels[i]) / rates[i])) end "
    "end "
    "local tight = 1 "
    "if math.floor(levels[2] / 1000) < math.floor(levels[1] / 1000) then tight = 2 end "
    "local function reset() return math.ceil((rates[tight] * 1000 - levels[tight]) / rates[tight] / 1000) end "
    "if wait > 0 then return {0, rates[tight], 0, reset(), math.ceil(wait / 1000), 0, -1} end "
    "local grant = math.min(tonumber(ARGV[5]), math.floor(levels[1] / 1000), math.floor(levels[2] / 1000)) "
    "if KEYS[3] ~= '' then "
    "  local left = tonumber(ARGV[3]) - tonumber(redis.call('GET', KEYS[3]) or '0') "
    "  grant = math.max(1, math.min(grant, math.floor(left / 64))) "
    "end "
    "for i = 1, 2 do "
    "  levels[i] = levels[i] - grant * 1000 "
    "  redis.call('SET', KEYS[i], levels[i] .. ' ' .. now, 'PX', "
    "             math.ceil((rates[i] * 1000 - levels[i]) / rates[i]) + 1000) "
    "end "
    "local reply = {1, rates[tight], math.floor(levels[tight] / 1000), reset(), 0, grant, -1} "
    "if KEYS[3] ~= '' then "
    "  local used = redis.call('INCR', KEYS[3]) "
    "  if used == 1 then redis.call('EXPIRE', KEYS[3], ARGV[4]) end "
    "  if used > tonumber(ARGV[3]) then used = redis.call('DECR', KEYS[3]) reply[1] = 2 end "
    "  reply[7] = used "
    "end "
    "return reply";

#define LIMIT_SLOTS 256
#define LEASE_SLOTS 1024
/* How long a lease lasts, and the share of a second's tokens it holds at most. */
#define LEASE_MS 100
#define LEASE_SHARE 20
#define LEASE_MAX 1000
/*
 * A lease this close to its end, or down to a quarter of its tokens, is
 * renewed by the one call that notices while the others spend what is left:
 * busy credentials do not all miss at once and stampede the script.
 */
#define LEASE_RENEW_MS 20
/* How long a thread collects the calls admitted on leases before one INCRBY per tenant sends them. */
#define SEND_MS 100
/* Calls this close to the monthly limit are counted by the script, one by one. */
#define COUNT_MARGIN 1000

typedef struct {
    long long rps, key_rps, api_calls, emit_events;
} limits_t;

typedef struct {
    char tenant_id[40];
    uint64_t expires_ms;
    limits_t limits;
    char counter[96];   /* the key of this month's API calls that `used` belongs to */
    long long used;     /* the month's calls as last seen (-1: unknown) */
    char unsent_month[16];   /* YYYYMM of unsent_counter */
    char unsent_counter[96]; /* this month's API call counter, where the unsent calls go */
    long long unsent;        /* calls admitted on leases, not yet sent to Redis */
    int queued;              /* in the thread's list of slots to send when the timer fires */
} limit_slot_t;

typedef struct {
    char cred_id[40];
    uint64_t expires_ms;
    long long tokens, granted;    /* left in the lease, and what it started with */
    long long limit, left, reset; /* the headers: left in the bucket after the grant */
    int renewing;                 /* a call of this thread asked the script for the next lease */
} lease_slot_t;

static __thread limit_slot_t limit_cache[LIMIT_SLOTS];
static __thread lease_slot_t lease_cache[LEASE_SLOTS];

/* Per loop thread: the slots holding unsent calls, the timer that sends them, the INCRBYs unanswered. */
typedef struct {
    h2o_evloop_t *loop; /* NULL until the thread's first unsent call */
    h2o_timeout_t timeout;
    h2o_timeout_entry_t send_entry;
    int nqueued, inflight;
    uint16_t queued[LIMIT_SLOTS];
    time_t month_at;   /* the second `month` was computed in */
    char month[16];    /* YYYYMM of month_at (UTC) */
} meter_t;

static __thread meter_t meter;

/* One admission in flight: kept in the request's data until the handler runs. */
typedef struct {
    mf_identity_t *id;
    mf_req_done_fn next;
    limits_t limits;
    char counter[96]; /* this month's API call counter, "" when calls are not counted */
    long long want;   /* tokens asked of the script */
    int sent_full_script;
} admission_t;

static char script_sha[41];
static int count_calls = 1;
static mf_metric_t *limited_total, *exceeded_total, *redis_failures_total;
static mf_pg_stmt_t limits_stmt = {
    "mf_quota_limits",
    "SELECT requests_per_second, key_requests_per_second, api_calls_per_month, emit_events_per_month "
    "FROM mf_tenant_limits($1::uuid)",
    -1};

__attribute__((constructor)) static void quota_init(void)
{
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)admit_script, strlen(admit_script), digest);
    mf_hex_encode(digest, sizeof(digest), script_sha);
    mf_pg_register(&limits_stmt);
}

/* Counters are created on first use: constructors run before main sets up the registry's users. */
static void init_metrics(void)
{
    limited_total = mf_metrics_counter("mf_quota_rate_limited_total", "Calls refused with 429 by a rate limit.");
    exceeded_total =
        mf_metrics_counter("mf_quota_exceeded_total", "Calls refused with 403 by the monthly API call quota.");
    redis_failures_total = mf_metrics_counter(
        "mf_quota_redis_failures_total", "Calls admitted without rate limits or metering because Redis (or, for a tenant whose limits were never read, Postgres) failed.");
}
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

/* The quota names of plans and overrides, and their ranges (datasets and seats fit plans' integer columns). */
static const struct {
    const char *name;
    long long min, max;
} quota_names[] = {
    {"max_datasets", 0, 2147483647LL},       {"max_seats", 0, 2147483647LL},
    {"api_calls_per_month", 0, 1000000000000000LL}, {"emit_events_per_month", 0, 1000000000000000LL},
    {"requests_per_second", 1, 1000000},     {"key_requests_per_second", 1, 1000000},
    {"audit_retention_days", 1, 36500},
};

int mf_quota_check_limits(json_t *obj, const char *path, int allow_null, mf_json_err_t *err)
{
    const char *key;
    json_t *v;
    char where[128];
    json_object_foreach(obj, key, v)
    {
        size_t i = 0;
        while (i < MF_ARRAY_SIZE(quota_names) && strcmp(quota_names[i].name, key) != 0)
            i++;
        mf_json_path_key(where, sizeof(where), path, key);
        if (i == MF_ARRAY_SIZE(quota_names))
            return mf_json_fail(err, "%s is not a known quota (known: max_datasets, max_seats, api_calls_per_month, "
                                     "emit_events_per_month, requests_per_second, key_requests_per_second, "
                                     "audit_retention_days)",
                                where);
        long long n;
        int present;
        if (mf_json_int(obj, path, key, allow_null ? MF_JSON_NULLABLE : 0, quota_names[i].min, quota_names[i].max, &n,
                        &present, err) != 0)
            return MF_EINVALID_REQUEST;
    }
    return 0;
}

void mf_quota_count_calls(int on) { count_calls = on; }

void mf_quota_counter_key(char *out, size_t cap, const char *metric, const char *tenant_id, long long t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    snprintf(out, cap, MF_QUOTA_COUNTER_PREFIX "%s:%s:%04d%02d", metric, tenant_id, tm.tm_year + 1900, tm.tm_mon + 1);
}

static uint32_t hash_of(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static limit_slot_t *limit_slot_of(const char *tenant_id) { return &limit_cache[hash_of(tenant_id) % LIMIT_SLOTS]; }

static lease_slot_t *lease_slot_of(const char *cred_id) { return &lease_cache[hash_of(cred_id) % LEASE_SLOTS]; }

/* Hand the request on: the handler may use the request's data for itself. */
static void pass(mf_req_t *r, mf_identity_t *id, const limits_t *limits, mf_req_done_fn next)
{
    if (limits->rps > 0) /* loaded: the override, if any, wins over the plan's (from the credential lookup) */
        id->emit_quota = limits->emit_events;
    next(r);
}

static void proceed(mf_req_t *r, admission_t *a)
{
    mf_identity_t *id = a->id;
    mf_req_done_fn next = a->next;
    limits_t limits = a->limits;
    mf_req_set_data(r, NULL, NULL);
    free(a);
    pass(r, id, &limits, next);
}

/* Redis or Postgres failed (counted in mf_quota_redis_failures_total: rate limits and metering skipped). */
static void note_redis_failure(const char *why, long long calls)
{
    static __thread uint64_t last_log_ms;
    uint64_t now = mf_now_ms();
    mf_metrics_add(redis_failures_total, calls);
    if (now - last_log_ms >= 10000) {
        last_log_ms = now;
        MF_LOG_WARN_(NULL, "rate limits and metering skipped (fail open): %s", why);
    }
}

/* Redis (or Postgres) failed: admit without limits rather than refuse every call (logged at most every 10 s per thread). */
static void fail_open(mf_req_t *r, admission_t *a, const char *why)
{
    note_redis_failure(why, 1);
    proceed(r, a);
}

static void set_header_ll(mf_req_t *r, const char *name, long long v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%lld", v);
    mf_req_add_header(r, name, buf);
}

static void set_rate_headers(mf_req_t *r, long long limit, long long remaining, long long reset)
{
    set_header_ll(r, "ratelimit-limit", limit);
    set_header_ll(r, "ratelimit-remaining", remaining);
    set_header_ll(r, "ratelimit-reset", reset);
}

/* Remember the month's total as counted in Redis in a thread-local slot. */
static void note_slot_used(limit_slot_t *s, const char *counter, long long used)
{
    if (strcmp(s->counter, counter) != 0 || used > s->used) {
        snprintf(s->counter, sizeof(s->counter), "%s", counter);
        s->used = used;
    }
}

/* The same for the tenant's slot, if this thread still holds one for it. */
static void note_used(const char *tenant_id, const char *counter, long long used)
{
    limit_slot_t *s = limit_slot_of(tenant_id);
    if (strcmp(s->tenant_id, tenant_id) == 0)
        note_slot_used(s, counter, used);
}

/* ---------- unsent calls ---------- */

/* One INCRBY in flight: the slot it came from and its key, to note the total it answers. */
typedef struct {
    uint16_t slot;
    long long calls;
    char counter[96];
} sent_t;

static void on_sent(void *data, redisReply *reply)
{
    sent_t *sent = data;
    meter.inflight--;
    if (reply != NULL && reply->type == REDIS_REPLY_INTEGER) {
        limit_slot_t *s = &limit_cache[sent->slot];
        /* the key names the tenant: a slot taken over by another tenant meanwhile does not match */
        if (strcmp(s->unsent_counter, sent->counter) == 0)
            note_slot_used(s, sent->counter, reply->integer);
    } else {
        const char *why = reply == NULL                     ? "connection lost"
                          : reply->type == REDIS_REPLY_ERROR ? reply->str
                                                             : "bad reply to INCRBY";
        note_redis_failure(why, sent->calls);
    }
    free(sent);
}

/* Send the slot's unsent calls as one INCRBY on the thread's connection; the slot holds none after. */
static void send_unsent(limit_slot_t *s)
{
    if (s->unsent == 0)
        return;
    char n[24];
    snprintf(n, sizeof(n), "%lld", s->unsent);
    const char *argv[] = {"INCRBY", s->unsent_counter, n};
    sent_t *sent = mf_malloc(sizeof(*sent));
    sent->slot = (uint16_t)(s - limit_cache);
    sent->calls = s->unsent;
    memcpy(sent->counter, s->unsent_counter, sizeof(sent->counter));
    mf_redis_t *redis = mf_http_thread_redis();
    if (redis == NULL || mf_redis_command(redis, on_sent, sent, 3, argv, NULL) != 0) {
        note_redis_failure("redis unreachable", s->unsent);
        free(sent);
    } else {
        meter.inflight++;
    }
    s->unsent = 0;
}

static void send_queued(void)
{
    if (h2o_timeout_is_linked(&meter.send_entry))
        h2o_timeout_unlink(&meter.send_entry);
    for (int i = 0; i < meter.nqueued; i++) {
        limit_slot_t *s = &limit_cache[meter.queued[i]];
        s->queued = 0;
        send_unsent(s);
    }
    meter.nqueued = 0;
}

static void on_send_timer(h2o_timeout_entry_t *entry) { send_queued(); }

int mf_quota_flush_thread(void)
{
    if (meter.loop != NULL)
        send_queued();
    return meter.inflight;
}

/* This month's (UTC) YYYYMM, computed at most once a second per thread. */
static const char *this_month(void)
{
    time_t now = time(NULL);
    if (now != meter.month_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(meter.month, sizeof(meter.month), "%Y%m", &tm);
        meter.month_at = now;
    }
    return meter.month;
}

/* Count one leased call of the slot's tenant for later; -1 off a loop thread (no timer to send it). */
static int count_unsent(limit_slot_t *s)
{
    if (meter.loop == NULL) {
        meter.loop = mf_http_thread_loop();
        if (meter.loop == NULL)
            return -1;
        h2o_timeout_init(meter.loop, &meter.timeout, SEND_MS);
        meter.send_entry.cb = on_send_timer;
    }
    s->unsent++;
    if (!s->queued) {
        s->queued = 1;
        meter.queued[meter.nqueued++] = (uint16_t)(s - limit_cache);
        if (!h2o_timeout_is_linked(&meter.send_entry))
            h2o_timeout_link(meter.loop, &meter.timeout, &meter.send_entry);
    }
    return 0;
}

/* ---------- the admission script ---------- */

static void send_script(mf_req_t *r, admission_t *a);

/* The script answered a call of cred_id (or failed): another call may ask for the next lease. */
static void lease_settled(const char *cred_id)
{
    lease_slot_t *l = lease_slot_of(cred_id);
    if (strcmp(l->cred_id, cred_id) == 0)
        l->renewing = 0;
}

static void on_admit_reply(mf_req_t *r, mf_redis_reply_t *reply)
{
    admission_t *a = mf_req_data(r);
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0 &&
        !a->sent_full_script) {
        a->sent_full_script = 1;
        send_script(r, a);
        return;
    }
    lease_settled(a->id->cred_id);
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 7) {
        fail_open(r, a, reply == NULL ? "connection lost" : reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply");
        return;
    }
    long long v[7];
    for (size_t i = 0; i < 7; i++)
        v[i] = reply->element[i]->type == REDIS_REPLY_INTEGER ? reply->element[i]->integer : 0;
    set_rate_headers(r, v[1], v[2], v[3]);
    if (v[6] >= 0)
        note_used(a->id->tenant_id, a->counter, v[6]);
    if (v[0] == 0) {
        mf_metrics_add(limited_total, 1);
        set_header_ll(r, "retry-after", v[4] > 0 ? v[4] : 1);
        mf_respond_error(r, MF_ERATE_LIMITED, "rate limit reached: %lld requests per second; retry after %lld s", v[1],
                         v[4] > 0 ? v[4] : 1);
        return;
    }
    if (v[0] == 2) {
        mf_metrics_add(exceeded_total, 1);
        mf_respond_error(r, MF_EQUOTA_EXCEEDED,
                         "quota exceeded: api_calls_per_month (the limit is %lld API calls this month)",
                         a->limits.api_calls);
        return;
    }
    if (v[5] > 1) {
        lease_slot_t *l = lease_slot_of(a->id->cred_id);
        snprintf(l->cred_id, sizeof(l->cred_id), "%s", a->id->cred_id);
        l->tokens = v[5] - 1;
        l->granted = v[5];
        l->expires_ms = mf_now_ms() + LEASE_MS;
        l->limit = v[1];
        l->left = v[2];
        l->reset = v[3];
    }
    proceed(r, a);
}

static void send_script(mf_req_t *r, admission_t *a)
{
    const mf_identity_t *id = a->id;
    char tenant_bucket[64], cred_bucket[96], rates[2][24], limit[24], ttl[24], want[24];
    snprintf(tenant_bucket, sizeof(tenant_bucket), "mf:rl:t:%s", id->tenant_id);
    snprintf(cred_bucket, sizeof(cred_bucket), "mf:rl:c:%s", id->cred_id);
    snprintf(rates[0], sizeof(rates[0]), "%lld", a->limits.rps);
    snprintf(rates[1], sizeof(rates[1]), "%lld", a->limits.key_rps);
    snprintf(limit, sizeof(limit), "%lld", a->limits.api_calls);
    snprintf(ttl, sizeof(ttl), "%d", MF_QUOTA_COUNTER_TTL);
    snprintf(want, sizeof(want), "%lld", a->want);
    const char *argv[] = {a->sent_full_script ? "EVAL" : "EVALSHA",
                          a->sent_full_script ? admit_script : script_sha,
                          "3",
                          tenant_bucket,
                          cred_bucket,
                          a->counter,
                          rates[0],
                          rates[1],
                          limit,
                          ttl,
                          want};
    if (mf_req_redis(r, (int)MF_ARRAY_SIZE(argv), argv, NULL, on_admit_reply) != 0) {
        lease_settled(id->cred_id);
        fail_open(r, a, "redis unreachable");
    }
}

/*
 * A call within a live lease of a cached slot: take a token locally and count
 * the call among the slot's unsent ones. 0 when admitted so (the rate headers
 * are set); -1 when the script must decide (no lease, or close to the monthly
 * limit).
 */
static int admit_from_lease(mf_req_t *r, const mf_identity_t *id, limit_slot_t *s)
{
    lease_slot_t *l = lease_slot_of(id->cred_id);
    uint64_t now = mf_now_ms();
    if (l->tokens <= 0 || l->expires_ms <= now || strcmp(l->cred_id, id->cred_id) != 0)
        return -1;
    if (!l->renewing && (l->expires_ms - now <= LEASE_RENEW_MS || l->tokens * 4 <= l->granted)) {
        l->renewing = 1;
        return -1;
    }
    if (count_calls) {
        const char *month = this_month();
        if (strcmp(s->unsent_month, month) != 0) {
            send_unsent(s); /* a new month: the calls of the last go to its counter */
            mf_quota_counter_key(s->unsent_counter, sizeof(s->unsent_counter), "api", id->tenant_id,
                                 (long long)meter.month_at);
            memcpy(s->unsent_month, month, sizeof(s->unsent_month));
        }
        if (s->used < 0 || strcmp(s->counter, s->unsent_counter) != 0 ||
            s->limits.api_calls - s->used - s->unsent <= COUNT_MARGIN || count_unsent(s) != 0)
            return -1;
    }
    l->tokens--;
    set_rate_headers(r, l->limit, l->left + l->tokens, l->reset);
    return 0;
}

/* The script decides for a (the thread's unsent calls go first on the same connection: see mf_req_redis). */
static void admit_by_script(mf_req_t *r, admission_t *a)
{
    long long rate = a->limits.rps < a->limits.key_rps ? a->limits.rps : a->limits.key_rps;
    a->want = rate / LEASE_SHARE > LEASE_MAX ? LEASE_MAX : rate / LEASE_SHARE > 1 ? rate / LEASE_SHARE : 1;
    if (count_calls)
        mf_quota_counter_key(a->counter, sizeof(a->counter), "api", a->id->tenant_id, (long long)time(NULL));
    send_script(r, a);
}

static admission_t *admission_new(mf_req_t *r, mf_identity_t *id, mf_req_done_fn next)
{
    admission_t *a = mf_calloc(1, sizeof(*a));
    a->id = id;
    a->next = next;
    mf_req_set_data(r, a, free);
    return a;
}

static void on_limits(mf_req_t *r, PGresult *res)
{
    admission_t *a = mf_req_data(r);
    if (res == NULL) {
        /* Postgres did not answer: the limits this thread saw last (expired), else none, like Redis
         * down; what Postgres itself enforces (datasets, seats) still holds. */
        limit_slot_t *last = limit_slot_of(a->id->tenant_id);
        if (strcmp(last->tenant_id, a->id->tenant_id) != 0 || last->limits.rps <= 0 || last->limits.key_rps <= 0) {
            fail_open(r, a, "the tenant's limits could not be read from the database");
            return;
        }
        a->limits = last->limits;
        admit_by_script(r, a);
        return;
    }
    limit_slot_t fresh = {.used = -1};
    limit_slot_t *s = &fresh;
    if (PQntuples(res) == 1) {
        limits_t l = {strtoll(PQgetvalue(res, 0, 0), NULL, 10), strtoll(PQgetvalue(res, 0, 1), NULL, 10),
                      strtoll(PQgetvalue(res, 0, 2), NULL, 10), strtoll(PQgetvalue(res, 0, 3), NULL, 10)};
        uint64_t ttl = (uint64_t)mf_config_int(MF_CFG_QUOTA_CACHE_TTL) * 1000;
        if (ttl > 0) {
            s = limit_slot_of(a->id->tenant_id);
            if (strcmp(s->tenant_id, a->id->tenant_id) != 0) {
                send_unsent(s); /* the evicted tenant's calls still count */
                int queued = s->queued;
                memset(s, 0, sizeof(*s));
                snprintf(s->tenant_id, sizeof(s->tenant_id), "%s", a->id->tenant_id);
                s->used = -1;
                s->queued = queued;
            }
            s->expires_ms = mf_now_ms() + ttl;
        }
        s->limits = l;
    }
    a->limits = s->limits;
    if (a->limits.rps <= 0 || a->limits.key_rps <= 0)
        proceed(r, a); /* the tenant vanished meanwhile: nothing to limit */
    else
        admit_by_script(r, a);
}

void mf_quota_admit(mf_req_t *r, mf_identity_t *id, mf_req_done_fn next)
{
    if (id->tenant_id[0] == '\0' || !mf_config_int(MF_CFG_QUOTA_ENFORCE)) {
        next(r);
        return;
    }
    pthread_once(&metrics_once, init_metrics);
    limit_slot_t *s = limit_slot_of(id->tenant_id);
    if (s->expires_ms > mf_now_ms() && strcmp(s->tenant_id, id->tenant_id) == 0) {
        if (s->limits.rps <= 0 || s->limits.key_rps <= 0 || admit_from_lease(r, id, s) == 0) {
            pass(r, id, &s->limits, next); /* a vanished tenant has nothing to limit */
            return;
        }
        admission_t *a = admission_new(r, id, next);
        a->limits = s->limits;
        admit_by_script(r, a);
        return;
    }
    admission_new(r, id, next);
    const char *params[] = {id->tenant_id};
    mf_req_query_untenanted(r, &limits_stmt, 1, params, on_limits);
}
