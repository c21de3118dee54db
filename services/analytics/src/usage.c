/*
 * usage.c: the usage stream -> daily usage per dataset and caller.
 *
 * Replicas share the stream through one consumer group, so each entry goes
 * to one of them. Once caught up, a replica folds what arrived about every
 * MF_USAGE_FOLD_INTERVAL_MS (up to USAGE_BATCH entries at a time): it counts the
 * batch's event lines itself (the same line on the same day is one row with
 * a count; malformed lines are dropped here), then one statement, SQL
 * mf_usage_fold_lines (0018_usage_fold.sql), writes the counts in one
 * transaction; only after it committed are the entries acknowledged and
 * deleted (XACK + XDEL in one MULTI), so the stream's length is the backlog.
 * The fold records each entry id with the counts and refuses a batch with an
 * entry it saw before (a replica died between commit and XACK, and another
 * reclaimed it); such a batch is folded entry by entry, so each counts once.
 *
 * Failures: Postgres down, the batch stays pending and is retried after the
 * reconnect; Redis down, reconnect with backoff (pending entries stay
 * pending); a replica gone, its pending entries are reclaimed by any other
 * (XAUTOCLAIM) once idle for MF_USAGE_CLAIM_IDLE_MS. The ids of folded
 * entries are forgotten after USAGE_FORGET_AFTER_DAYS, long after the stream
 * could deliver them again.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "analytics.h"
#include "mf/config.h"
#include "mf/log.h"
#include "mf/redis.h"
#include "mf/util.h"
#include "mf/worker.h"

#define USAGE_GROUP "mf-analytics-usage"
#define USAGE_BATCH 1000       /* entries per read and per transaction */
#define USAGE_FOLD_TRIES 3
#define USAGE_FORGET_AFTER_DAYS "3"
#define USAGE_FORGET_EVERY_MS (3600ULL * 1000)

/*
 * Readers this replica has already recorded (a read line's hash: day, tenant, caller, dataset), so
 * that their later reads are sent as kind 'R' and the database skips looking up a caller row it has.
 * Only filled after a fold committed; emptied when half full. A 64-bit hash collision (about 1e-7
 * over a million readers) or a dataset deleted and created again within the day may miss one
 * reader of that day; the counts of reads are never affected.
 */
typedef struct {
    uint64_t *slots; /* 0: free */
    size_t cap, used;
} known_readers_t;

#define KNOWN_READERS_CAP (1u << 20) /* 8 MiB */

static int known_reader(const known_readers_t *k, uint64_t h)
{
    for (size_t i = h & (k->cap - 1); k->slots != NULL && k->slots[i] != 0; i = (i + 1) & (k->cap - 1))
        if (k->slots[i] == h)
            return 1;
    return 0;
}

static void remember_reader(known_readers_t *k, uint64_t h)
{
    if (k->slots == NULL || 2 * (k->used + 1) > k->cap) {
        free(k->slots);
        *k = (known_readers_t){mf_calloc(KNOWN_READERS_CAP, sizeof(uint64_t)), KNOWN_READERS_CAP, 0};
    }
    size_t i = h & (k->cap - 1);
    while (k->slots[i] != 0 && k->slots[i] != h)
        i = (i + 1) & (k->cap - 1);
    if (k->slots[i] == 0)
        k->used++;
    k->slots[i] = h;
}

typedef struct {
    PGconn *pg;
    redisContext *redis;
    redisContext *grouped; /* the connection on which the group was last ensured */
    const char *stream;
    unsigned long long entries, events;
    known_readers_t readers;
} consumer_t;

/* The Redis connection with the group in place (created with the stream if missing); NULL once stopping. */
static redisContext *group_redis(consumer_t *c)
{
    while (mf_worker_redis(&c->redis) != NULL) {
        if (c->grouped == c->redis)
            return c->redis;
        redisReply *rep = redisCommand(c->redis, "XGROUP CREATE %s %s 0 MKSTREAM", c->stream, USAGE_GROUP);
        if (rep == NULL)
            continue; /* broken: mf_worker_redis reconnects */
        /* BUSYGROUP (the group exists) is the usual answer */
        if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "BUSYGROUP", 9) != 0)
            MF_LOG_ERROR_(NULL, "usage: XGROUP CREATE: %s", rep->str);
        freeReplyObject(rep);
        c->grouped = c->redis;
        return c->redis;
    }
    return NULL;
}

/* Run a Redis command, reconnecting while the connection breaks; NULL only once stopping. */
static redisReply *command(consumer_t *c, const char *fmt, ...)
{
    while (group_redis(c) != NULL) {
        va_list ap;
        va_start(ap, fmt);
        redisReply *rep = redisvCommand(c->redis, fmt, ap);
        va_end(ap);
        if (rep != NULL)
            return rep;
        MF_LOG_WARN_(NULL, "usage: redis command failed: %s", c->redis->errstr);
        c->grouped = NULL;
    }
    return NULL;
}

/* How often each (day, line) occurs in a batch: an open-addressing table over the reply's bytes. */
typedef struct {
    const char *line; /* borrowed from the stream reply; NULL: a free slot */
    size_t len;
    long long day; /* UTC days since 1970 */
    long long n;
} line_count_t;

typedef struct {
    line_count_t *slots;
    size_t cap, used; /* cap a power of two, at most half used */
} line_counts_t;

static uint64_t line_hash(const char *s, size_t len, long long day)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)day; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h | 1; /* never 0, the free slot of known_readers_t */
}

static void line_count_put(line_counts_t *t, const char *line, size_t len, long long day, long long n)
{
    size_t i = (size_t)line_hash(line, len, day) & (t->cap - 1);
    while (t->slots[i].line != NULL) {
        line_count_t *c = &t->slots[i];
        if (c->day == day && c->len == len && memcmp(c->line, line, len) == 0) {
            c->n += n;
            return;
        }
        i = (i + 1) & (t->cap - 1);
    }
    t->slots[i] = (line_count_t){line, len, day, n};
    t->used++;
}

static void line_count_add(line_counts_t *t, const char *line, size_t len, long long day)
{
    if (2 * (t->used + 1) > t->cap) { /* grow: twice the slots, everything placed again */
        size_t cap = t->cap ? 2 * t->cap : 1024;
        line_counts_t bigger = {mf_calloc(cap, sizeof(line_count_t)), cap, 0};
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i].line != NULL)
                line_count_put(&bigger, t->slots[i].line, t->slots[i].len, t->slots[i].day, t->slots[i].n);
        free(t->slots);
        *t = bigger;
    }
    line_count_put(t, line, len, day, 1);
}

/* The events field of a stream entry ([id, [field, value, ...]]), or NULL. */
static redisReply *entry_events(redisReply *e)
{
    redisReply *kv = e->element[1];
    for (size_t k = 0; kv->type == REDIS_REPLY_ARRAY && k + 1 < kv->elements; k += 2)
        if (kv->element[k]->type == REDIS_REPLY_STRING && strcmp(kv->element[k]->str, "e") == 0 &&
            kv->element[k + 1]->type == REDIS_REPLY_STRING)
            return kv->element[k + 1];
    return NULL;
}

/* Whether a stream line has the shape of migrations/0010_usage.sql: a tenant id, a known kind and
 * that kind's fields, each clean UTF-8 (the database then only splits it; 0018_usage_fold.sql). */
static int line_is_well_formed(const char *line, size_t len)
{
    const char *field[6];
    size_t flen[6], n = 0;
    for (const char *p = line, *end = line + len; n < 6;) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        field[n] = p;
        flen[n++] = (size_t)((tab ? tab : end) - p);
        if (tab == NULL)
            break;
        p = tab + 1;
    }
    if (n < 4 || !mf_is_uuid(field[0], flen[0]) || flen[1] != 1)
        return 0;
    char kind = field[1][0];
    size_t want = kind == 'l' ? 4 : kind == 'r' || kind == 's' ? 5 : 0;
    if (n != want || flen[n - 1] == 0 || (want == 5 && flen[3] == 0))
        return 0;
    for (size_t i = 2; i < n; i++)
        if (!mf_text_is_clean(field[i], flen[i], 0))
            return 0;
    return 1;
}

#define LINE_KIND_AT 37 /* after the tenant id and a tab */

/* A batch for mf_usage_fold_lines: its entry ids as an array literal (*ids) and its lines counted here,
 * "<day>\t<n>\t<line>" joined by newlines (returned), so that the database gets each distinct line of
 * the batch once. Malformed lines count nothing; their entries are still listed, and so acknowledged.
 * Reads by known readers go as kind 'R'; the others' hashes are left in *readers (*n_readers of them)
 * to remember once the fold committed. All three new. */
static char *batch_text(redisReply **entries, size_t n, const known_readers_t *known, char **ids,
                        uint64_t **readers, size_t *n_readers)
{
    line_counts_t counts = {NULL, 0, 0};
    size_t id_bytes = 3;
    for (size_t i = 0; i < n; i++)
        id_bytes += entries[i]->element[0]->len + 1;
    char *id_out = mf_malloc(id_bytes), *ip = id_out;
    *ip++ = '{';
    for (size_t i = 0; i < n; i++) {
        redisReply *id = entries[i]->element[0];
        if (i > 0)
            *ip++ = ',';
        memcpy(ip, id->str, id->len); /* digits and a dash: nothing to quote */
        ip += id->len;
        redisReply *ev = entry_events(entries[i]);
        long long day = strtoll(id->str, NULL, 10) / 86400000LL;
        for (const char *p = ev ? ev->str : NULL, *end = p + (ev ? ev->len : 0); p != NULL && p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = (size_t)((nl ? nl : end) - p);
            if (line_is_well_formed(p, len))
                line_count_add(&counts, p, len, day);
            p = nl ? nl + 1 : end;
        }
    }
    memcpy(ip, "}", 2);
    *ids = id_out;

    enum { HEAD_MAX = 48 }; /* "YYYY-MM-DD\t<n>\t" and the newline before it */
    size_t line_bytes = 1;
    for (size_t i = 0; i < counts.cap; i++)
        if (counts.slots[i].line != NULL)
            line_bytes += counts.slots[i].len + HEAD_MAX;
    char *out = mf_malloc(line_bytes), *op = out;
    *readers = mf_malloc((counts.used + 1) * sizeof(uint64_t));
    *n_readers = 0;
    for (size_t i = 0; i < counts.cap; i++) {
        line_count_t *c = &counts.slots[i];
        if (c->line == NULL)
            continue;
        char kind = c->line[LINE_KIND_AT];
        if (kind == 'r') {
            uint64_t h = line_hash(c->line, c->len, c->day);
            if (known_reader(known, h))
                kind = 'R';
            else
                (*readers)[(*n_readers)++] = h;
        }
        time_t t = (time_t)(c->day * 86400);
        struct tm tm;
        gmtime_r(&t, &tm);
        if (op > out)
            *op++ = '\n';
        op += strftime(op, HEAD_MAX, "%Y-%m-%d\t", &tm);
        op += snprintf(op, HEAD_MAX - 12, "%lld\t", c->n);
        memcpy(op, c->line, c->len);
        op[LINE_KIND_AT] = kind;
        op += c->len;
    }
    *op = '\0';
    free(counts.slots);
    return out;
}

enum { FOLDED = 0, FOLDED_BEFORE = 1, NOT_FOLDED = -1 };

/* Fold n entries in one transaction: FOLDED once committed, FOLDED_BEFORE when the database refused
 * them because one was folded already (nothing written), NOT_FOLDED when it kept failing (or stopping). */
static int fold(consumer_t *c, redisReply **entries, size_t n)
{
    char *ids;
    uint64_t *readers;
    size_t n_readers;
    char *lines = batch_text(entries, n, &c->readers, &ids, &readers, &n_readers);
    int rc = NOT_FOLDED;
    for (int tries = 0; tries < USAGE_FOLD_TRIES && rc == NOT_FOLDED && mf_worker_pg(&c->pg) != NULL; tries++) {
        const char *params[] = {ids, lines};
        PGresult *res =
            PQexecParams(c->pg, "SELECT mf_usage_fold_lines($1::text[], $2)", 2, NULL, params, NULL, NULL, 0);
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (PQresultStatus(res) == PGRES_TUPLES_OK) {
            c->events += strtoull(PQgetvalue(res, 0, 0), NULL, 10);
            rc = FOLDED;
        } else if (state != NULL && strcmp(state, "MF409") == 0) {
            rc = FOLDED_BEFORE;
        } else {
            MF_LOG_WARN_(NULL, "usage: folding a batch failed: %s", PQresultErrorMessage(res));
            if (PQstatus(c->pg) == CONNECTION_OK)
                mf_worker_sleep_ms(200); /* a conflict with another replica, say: try again */
            else
                tries--; /* the connection broke: retry the same batch once it is back */
        }
        PQclear(res);
    }
    for (size_t i = 0; rc == FOLDED && i < n_readers; i++)
        remember_reader(&c->readers, readers[i]);
    free(readers);
    free(ids);
    free(lines);
    return rc;
}

/* Acknowledge and delete folded entries in one MULTI/EXEC (never acknowledged but left on the stream). */
static void ack(consumer_t *c, const char **ids, size_t n)
{
    while (n > 0 && group_redis(c) != NULL) {
        if (mf_redis_ack_delete(c->redis, c->stream, USAGE_GROUP, ids, n) == 0)
            break;
        /* the connection broke: acknowledging again is harmless (and a redelivery counts nothing) */
        MF_LOG_WARN_(NULL, "usage: acknowledging %zu entries failed: %s", n, c->redis->errstr);
        c->grouped = NULL;
    }
}

/* Fold and acknowledge the entries of one stream reply; returns how many there were. */
static size_t consume(consumer_t *c, redisReply *reply)
{
    redisReply **entries = mf_malloc((reply->elements + 1) * sizeof(*entries));
    const char **ids = mf_malloc((reply->elements + 1) * sizeof(*ids));
    size_t n = 0, done = 0;
    for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
        redisReply *e = reply->element[i];
        if (e->type == REDIS_REPLY_ARRAY && e->elements == 2 && e->element[0]->type == REDIS_REPLY_STRING)
            entries[n++] = e; /* else an entry trimmed away while pending */
    }
    int rc = n > 0 ? fold(c, entries, n) : NOT_FOLDED;
    if (rc == FOLDED) {
        for (; done < n; done++)
            ids[done] = entries[done]->element[0]->str;
    } else if (rc == FOLDED_BEFORE) {
        /* a redelivery: one at a time, so that the others count and the folded ones are acknowledged */
        for (size_t i = 0; i < n; i++)
            if (fold(c, &entries[i], 1) != NOT_FOLDED)
                ids[done++] = entries[i]->element[0]->str;
    }
    ack(c, ids, done);
    c->entries += done;
    free(ids);
    free(entries);
    return n;
}

/* Take over entries pending longer than the claim time at any replica (a dead one, or our own failed folds). */
static void reclaim(consumer_t *c)
{
    char start[64] = "0-0";
    do {
        redisReply *rep = command(c, "XAUTOCLAIM %s %s %s %lld %s COUNT %d", c->stream, USAGE_GROUP,
                                  mf_worker_consumer(), mf_config_int(MF_CFG_USAGE_CLAIM_IDLE_MS), start, USAGE_BATCH);
        if (rep == NULL)
            return;
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2 || rep->element[0]->type != REDIS_REPLY_STRING) {
            if (rep->type == REDIS_REPLY_ERROR)
                c->grouped = NULL; /* NOGROUP after a Redis restart: recreate */
            freeReplyObject(rep);
            return;
        }
        snprintf(start, sizeof(start), "%s", rep->element[0]->str);
        size_t n = consume(c, rep->element[1]);
        if (n > 0)
            MF_LOG_INFO_(NULL, "usage: reclaimed %zu pending entries", n);
        freeReplyObject(rep);
    } while (strcmp(start, "0-0") != 0 && !mf_worker_stopping());
}

static void forget_old_entries(consumer_t *c)
{
    const char *params[] = {USAGE_FORGET_AFTER_DAYS};
    PGresult *res = PQexecParams(c->pg, "SELECT mf_usage_forget_entries($1::int)", 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        MF_LOG_WARN_(NULL, "usage: forgetting old entry ids failed: %s", PQresultErrorMessage(res));
    PQclear(res);
}

void mf_analytics_usage_loop(void)
{
    consumer_t c = {.stream = mf_config_str(MF_CFG_USAGE_STREAM)};
    uint64_t next_claim = 0, next_forget = 0;
    while (group_redis(&c) != NULL && mf_worker_pg(&c.pg) != NULL) {
        uint64_t now = mf_now_ms();
        if (now >= next_forget) {
            forget_old_entries(&c);
            next_forget = now + USAGE_FORGET_EVERY_MS;
        }
        if (now >= next_claim) {
            reclaim(&c);
            uint64_t idle = (uint64_t)mf_config_int(MF_CFG_USAGE_CLAIM_IDLE_MS);
            next_claim = mf_now_ms() + (idle / 2 < 5000 ? idle / 2 : 5000);
        }
        redisReply *rep = command(&c, "XREADGROUP GROUP %s %s COUNT %d BLOCK 1000 STREAMS %s >", USAGE_GROUP,
                                  mf_worker_consumer(), USAGE_BATCH, c.stream);
        if (rep == NULL)
            break;
        size_t n = 0;
        if (rep->type == REDIS_REPLY_ERROR) {
            MF_LOG_WARN_(NULL, "usage: XREADGROUP: %s", rep->str);
            c.grouped = NULL; /* NOGROUP after a Redis restart: recreate */
            mf_worker_sleep_ms(200);
        } else if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 && rep->element[0]->elements == 2) {
            n = consume(&c, rep->element[0]->element[1]);
        }
        freeReplyObject(rep);
        uint64_t due = now + (uint64_t)mf_config_int(MF_CFG_USAGE_FOLD_INTERVAL_MS), later = mf_now_ms();
        if (n > 0 && n < USAGE_BATCH && later < due) /* caught up: let the next batch collect */
            mf_worker_sleep_ms((int)(due - later));
    }
    MF_LOG_INFO_(NULL, "usage: %llu entries folded, %llu events counted", c.entries, c.events);
    PQfinish(c.pg);
    redisFree(c.redis);
    free(c.readers.slots);
}
