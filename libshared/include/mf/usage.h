/*
 * usage.h: access events, the producer side. mf-api records every dataset
 * read, search appearance and lineage query here; mf-analytics folds the
 * events into daily usage (migrations/0010_usage.sql describes the entry
 * format and the fold).
 *
 * Recording never waits and never fails: each loop thread buffers its
 * events and appends them as one stream entry (XADD MAXLEN ~
 * MF_USAGE_STREAM_MAXLEN) a few milliseconds after the first, on its
 * asynchronous Redis connection. When Redis is down, slow or not
 * configured, events are dropped (and counted in /metrics), never retried
 * on the request path. MF_USAGE_EVENTS=0 records nothing.
 */
#ifndef MF_USAGE_H
#define MF_USAGE_H

#include "mf/http.h"

typedef enum {
    MF_USAGE_READ = 'r',   /* the dataset's document was read */
    MF_USAGE_SEARCH = 's', /* the dataset (or one of its fields) was in a page of search results */
} mf_usage_kind_t;

/* Register the producer's counters; call once at start, before mf_http_run. */
void mf_usage_init(void);
/* The caller of r used dataset namespace/name (borrowed; valid names). Loop threads only. */
void mf_usage_dataset(mf_req_t *r, mf_usage_kind_t kind, const char *ns, const char *name);
/* The datasets of a page of search results appeared to the caller of r, once each: items is
 * the page's JSON array text (borrowed; dataset items and field items count for their
 * dataset, terms for nothing). Loop threads only. */
void mf_usage_search_page(mf_req_t *r, const char *items);
/* The caller of r queried the lineage of node, a lineage node id as the request gave it
 * (dataset:<namespace>:<name>, datasetField:..., job:...). Loop threads only. */
void mf_usage_lineage(mf_req_t *r, const char *node);

#endif
