/*
 * metrics.c: fixed arrays sized once at start (routes x status classes,
 * routes x histogram buckets) updated with relaxed atomics, and a short list
 * of named counters and gauge callbacks. Rendering walks them into a buffer.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mf/metrics.h"
#include "mf/util.h"

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define NBUCKETS (MF_ARRAY_SIZE(buckets) + 1) /* + Inf */
/* Statuses counted one by one; anything else lands in "other". */
static const int codes[] = {200, 201, 202, 204, 304, 400, 401, 403, 404, 405, 409, 412, 413, 415, 429, 500, 503};
#define NCODES (MF_ARRAY_SIZE(codes) + 1)

typedef struct {
    unsigned long long by_code[NCODES];
    unsigned long long bucket[NBUCKETS];
    unsigned long long count;
    unsigned long long sum_us;
} route_stats_t;

static size_t nroutes;
static const char *const *route_names;
static const char *const *route_methods;
static route_stats_t *stats; /* nroutes + 1 (unmatched) */

struct mf_metric {
    const char *name, *help;
    unsigned long long value;
    double (*fn)(void);
};
static mf_metric_t metrics[64];
static int nmetrics;

void mf_metrics_init_routes(size_t n, const char *const *names, const char *const *methods)
{
    nroutes = n;
    route_names = names;
    route_methods = methods;
    stats = mf_calloc(n + 1, sizeof(*stats));
}

void mf_metrics_observe_request(size_t route, int status, double seconds)
{
    if (stats == NULL)
        return;
    route_stats_t *s = &stats[route < nroutes ? route : nroutes];
    size_t c = 0;
    while (c < MF_ARRAY_SIZE(codes) && codes[c] != status)
        c++;
    __atomic_fetch_add(&s->by_code[c], 1, __ATOMIC_RELAXED);
    size_t b = 0;
    while (b < MF_ARRAY_SIZE(buckets) && seconds > buckets[b])
        b++;
    __atomic_fetch_add(&s->bucket[b], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&s->count, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&s->sum_us, (unsigned long long)(seconds * 1e6), __ATOMIC_RELAXED);
}

mf_metric_t *mf_metrics_counter(const char *name, const char *help)
{
    MF_ASSERT(nmetrics < (int)MF_ARRAY_SIZE(metrics));
    mf_metric_t *m = &metrics[nmetrics++];
    m->name = name;
    m->help = help;
    return m;
}

void mf_metrics_add(mf_metric_t *m, unsigned long long n) { __atomic_fetch_add(&m->value, n, __ATOMIC_RELAXED); }

void mf_metrics_gauge_fn(const char *name, const char *help, double (*fn)(void))
{
    MF_ASSERT(nmetrics < (int)MF_ARRAY_SIZE(metrics));
    mf_metric_t *m = &metrics[nmetrics++];
    m->name = name;
    m->help = help;
    m->fn = fn;
}

typedef struct {
    char *buf;
    size_t len, cap;
} sbuf_t;

static void put(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)(n > 0 ? n : 0) + 64;
        b->buf = mf_realloc(b->buf, b->cap);
    }
}

char *mf_metrics_render(size_t *len)
{
    sbuf_t b = {mf_malloc(8192), 0, 8192};
    b.buf[0] = '\0';
    put(&b, "# HELP mf_http_requests_total HTTP requests by route and status code.\n"
            "# TYPE mf_http_requests_total counter\n");
    for (size_t r = 0; stats != NULL && r <= nroutes; r++) {
        const char *name = r < nroutes ? route_names[r] : "unmatched";
        const char *method = r < nroutes ? route_methods[r] : "";
        for (size_t c = 0; c < NCODES; c++) {
            unsigned long long v = __atomic_load_n(&stats[r].by_code[c], __ATOMIC_RELAXED);
            char code[8];
            if (c < MF_ARRAY_SIZE(codes))
                snprintf(code, sizeof(code), "%d", codes[c]);
            else
                snprintf(code, sizeof(code), "other");
            if (v)
                put(&b, "mf_http_requests_total{method=\"%s\",route=\"%s\",code=\"%s\"} %llu\n", method, name,
                    code, v);
        }
    }
    put(&b, "# HELP mf_http_request_duration_seconds Request latency by route.\n"
            "# TYPE mf_http_request_duration_seconds histogram\n");
    for (size_t r = 0; stats != NULL && r <= nroutes; r++) {
        unsigned long long count = __atomic_load_n(&stats[r].count, __ATOMIC_RELAXED);
        if (count == 0)
            continue;
        const char *name = r < nroutes ? route_names[r] : "unmatched";
        const char *method = r < nroutes ? route_methods[r] : "";
        unsigned long long cum = 0;
        for (size_t i = 0; i < NBUCKETS; i++) {
            cum += __atomic_load_n(&stats[r].bucket[i], __ATOMIC_RELAXED);
            if (i < MF_ARRAY_SIZE(buckets))
                put(&b, "mf_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"%g\"} %llu\n",
                    method, name, buckets[i], cum);
            else
                put(&b, "mf_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"+Inf\"} %llu\n",
                    method, name, cum);
        }
        put(&b, "mf_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n", method, name,
            (double)__atomic_load_n(&stats[r].sum_us, __ATOMIC_RELAXED) / 1e6);
        put(&b, "mf_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n", method, name, count);
    }
    for (int i = 0; i < nmetrics; i++) {
        mf_metric_t *m = &metrics[i];
        put(&b, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, m->fn ? "gauge" : "counter");
        if (m->fn) {
            double v = m->fn();
            if (v == (double)(long long)v && v > -9007199254740992.0 && v < 9007199254740992.0)
                put(&b, "%s %lld\n", m->name, (long long)v);
            else
                put(&b, "%s %.17g\n", m->name, v);
        }
        else
            put(&b, "%s %llu\n", m->name, __atomic_load_n(&m->value, __ATOMIC_RELAXED));
    }
    *len = b.len;
    return b.buf;
}
