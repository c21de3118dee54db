/*
 * usage.c: see usage.h. Each loop thread owns one producer in thread-local
 * storage: a fixed buffer of event lines (the format of
 * migrations/0010_usage.sql), a flush timer on the thread's h2o loop, and a
 * count of appends awaiting Redis's reply. The first event of a batch arms
 * the timer; when it fires (or the buffer is full) the lines go out as one
 * XADD. At most USAGE_MAX_INFLIGHT appends wait per thread, so a Redis that
 * stops answering costs bounded memory and then only dropped events; the
 * request never waits on any of it.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <h2o.h>
#include "mf/config.h"
#include "mf/log.h"
#include "mf/metrics.h"
#include "mf/redis.h"
#include "mf/usage.h"
#include "mf/util.h"

#define USAGE_FLUSH_MS 10        /* how long a batch collects events */
#define USAGE_BUF_BYTES 32768    /* a batch's lines; a full buffer is sent at once */
#define USAGE_MAX_INFLIGHT 8     /* appends awaiting Redis per thread; beyond, batches are dropped */
#define USAGE_WARN_EVERY_MS 10000 /* one warning per thread this often while events are dropped */

typedef struct {
    h2o_evloop_t *loop; /* NULL until the thread's first event */
    h2o_timeout_t timeout;
    h2o_timeout_entry_t flush_entry;
    int inflight;
    uint64_t warned_ms;
    size_t len, events;
    char buf[USAGE_BUF_BYTES];
} producer_t;

static __thread producer_t producer;
static mf_metric_t *m_appended, *m_dropped;

void mf_usage_init(void)
{
    m_appended = mf_metrics_counter("mf_usage_events_appended_total", "Access events appended to the usage stream.");
    m_dropped = mf_metrics_counter("mf_usage_events_dropped_total",
                                   "Access events dropped because Redis was down, slow or refused them.");
}

static void count(mf_metric_t *m, size_t events)
{
    if (m != NULL)
        mf_metrics_add(m, events);
}

static void drop(producer_t *p, size_t events, const char *why)
{
    count(m_dropped, events);
    uint64_t now = mf_now_ms();
    if (now - p->warned_ms >= USAGE_WARN_EVERY_MS) {
        p->warned_ms = now;
        MF_LOG_WARN_(NULL, "usage events dropped: %s", why);
    }
}

static void on_appended(void *data, redisReply *reply)
{
    size_t events = (size_t)(uintptr_t)data;
    producer.inflight--;
    if (reply != NULL && reply->type != REDIS_REPLY_ERROR)
        count(m_appended, events);
    else
        drop(&producer, events, reply != NULL ? reply->str : "redis connection lost");
}

/* Send the buffered lines as one stream entry (or drop them); the buffer is empty after. */
static void flush(producer_t *p)
{
    if (h2o_timeout_is_linked(&p->flush_entry))
        h2o_timeout_unlink(&p->flush_entry);
    if (p->events == 0)
        return;
    size_t events = p->events;
    const char *stream = mf_config_str(MF_CFG_USAGE_STREAM);
    char maxlen[24];
    snprintf(maxlen, sizeof(maxlen), "%lld", mf_config_int(MF_CFG_USAGE_STREAM_MAXLEN));
    const char *argv[] = {"XADD", stream, "MAXLEN", "~", maxlen, "*", "e", p->buf};
    size_t lens[] = {4, strlen(stream), 6, 1, strlen(maxlen), 1, 1, p->len - 1 /* no final newline */};
    mf_redis_t *redis = mf_http_thread_redis();
    if (p->inflight >= USAGE_MAX_INFLIGHT)
        drop(p, events, "redis is not keeping up");
    else if (redis == NULL || mf_redis_command(redis, on_appended, (void *)(uintptr_t)events,
                                               (int)MF_ARRAY_SIZE(argv), argv, lens) != 0)
        drop(p, events, "redis is not connected");
    else
        p->inflight++; /* the command holds a copy of the lines */
    p->len = p->events = 0;
}

static void on_flush_timer(h2o_timeout_entry_t *entry) { flush(&producer); }

/* The calling loop thread's producer, set up on first use; NULL off loop threads. */
static producer_t *thread_producer(void)
{
    producer_t *p = &producer;
    if (p->loop == NULL) {
        p->loop = mf_http_thread_loop();
        if (p->loop == NULL)
            return NULL;
        h2o_timeout_init(p->loop, &p->timeout, USAGE_FLUSH_MS);
        p->flush_entry.cb = on_flush_timer;
    }
    return p;
}

static void append(producer_t *p, const char *s, size_t n)
{
    memcpy(p->buf + p->len, s, n);
    p->len += n;
}

/* Events of r's caller are recorded: the producer is on, and the caller belongs to a tenant. */
static int recording(mf_req_t *r)
{
    return mf_config_int(MF_CFG_USAGE_EVENTS) && mf_req_identity(r)->tenant_id[0] != '\0';
}

/* Buffer one line "<tenant>\t<kind>\t<caller>\t<a>[\t<b>]\n"; parts hold no tab or newline. */
static void record(mf_req_t *r, char kind, const char *a, const char *b)
{
    const mf_identity_t *id = mf_req_identity(r);
    producer_t *p = recording(r) ? thread_producer() : NULL;
    if (p == NULL)
        return;
    int user = id->user_id[0] != '\0';
    const char *who = user ? id->user_id : id->cred_id;
    size_t la = strlen(a), lb = b ? strlen(b) : 0, lt = strlen(id->tenant_id), lw = strlen(who);
    if (strpbrk(a, "\t\n") != NULL || (b != NULL && strpbrk(b, "\t\n") != NULL))
        return;
    size_t need = lt + 3 + 5 + lw + 1 + la + (b ? 1 + lb : 0) + 1;
    if (need > sizeof(p->buf))
        return;
    if (p->len + need > sizeof(p->buf))
        flush(p);
    append(p, id->tenant_id, lt);
    const char head[3] = {'\t', kind, '\t'};
    append(p, head, 3);
    append(p, user ? "user:" : "key:", user ? 5 : 4);
    append(p, who, lw);
    append(p, "\t", 1);
    append(p, a, la);
    if (b != NULL) {
        append(p, "\t", 1);
        append(p, b, lb);
    }
    append(p, "\n", 1);
    if (p->events++ == 0)
        h2o_timeout_link(p->loop, &p->timeout, &p->flush_entry);
}

void mf_usage_dataset(mf_req_t *r, mf_usage_kind_t kind, const char *ns, const char *name)
{
    record(r, (char)kind, ns, name);
}

void mf_usage_lineage(mf_req_t *r, const char *node) { record(r, 'l', node, NULL); }

/* The dataset a search item stands for: a dataset item itself, a field item's dataset. */
static int item_dataset(json_t *item, const char **ns, const char **name)
{
    const char *kind = json_string_value(json_object_get(item, "kind"));
    *ns = json_string_value(json_object_get(item, "namespace"));
    if (kind != NULL && strcmp(kind, "dataset") == 0)
        *name = json_string_value(json_object_get(item, "name"));
    else if (kind != NULL && strcmp(kind, "field") == 0)
        *name = json_string_value(json_object_get(item, "dataset"));
    else
        *name = NULL;
    return *ns != NULL && *name != NULL;
}

void mf_usage_search_page(mf_req_t *r, const char *items)
{
    if (!recording(r))
        return;
    json_t *arr = json_loads(items, 0, NULL);
    size_t i, j;
    json_t *item, *prev;
    const char *ns, *name, *pns, *pname;
    json_array_foreach(arr, i, item)
    {
        if (!item_dataset(item, &ns, &name))
            continue;
        int seen = 0; /* pages are short (at most 100 items): a linear look back is enough */
        json_array_foreach(arr, j, prev)
        {
            if (j >= i)
                break;
            if (item_dataset(prev, &pns, &pname) && strcmp(ns, pns) == 0 && strcmp(name, pname) == 0) {
                seen = 1;
                break;
            }
        }
        if (!seen)
            record(r, MF_USAGE_SEARCH, ns, name);
    }
    json_decref(arr);
}
