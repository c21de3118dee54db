/*
 * metrics.h: a small Prometheus registry. Request counters and latency
 * histograms per route are built in; services add their own counters and
 * gauges. Updates are relaxed atomic adds, safe from any thread.
 */
#ifndef MF_METRICS_H
#define MF_METRICS_H

#include <stddef.h>

/* Size the per-route tables; names[i] is route i's label (static strings). */
void mf_metrics_init_routes(size_t nroutes, const char *const *names, const char *const *methods);
/* Record one finished request of route (SIZE_MAX-1 = unmatched) with status and duration. */
void mf_metrics_observe_request(size_t route, int status, double seconds);

typedef struct mf_metric mf_metric_t;
/* A process-wide counter (name and help static). Never freed. */
mf_metric_t *mf_metrics_counter(const char *name, const char *help);
void mf_metrics_add(mf_metric_t *m, unsigned long long n);
/* A gauge whose value is computed when /metrics is read. */
void mf_metrics_gauge_fn(const char *name, const char *help, double (*fn)(void));

/* Render everything in Prometheus text format; returns a new string (free) and its length. */
char *mf_metrics_render(size_t *len);

#endif
