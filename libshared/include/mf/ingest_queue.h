/*
 * ingest_queue.h: putting decoded ingest events on the Redis stream for the
 * request that posted them: Idempotency-Key, the tenant's monthly emit quota,
 * the queue bound, XADD, and the 202 answer. Also the keys the worker and the
 * status route share.
 */
#ifndef MF_INGEST_QUEUE_H
#define MF_INGEST_QUEUE_H

#include <jansson.h>
#include "mf/http.h"
#include "mf/json.h"

/* Seconds a queued event's status and an Idempotency-Key are remembered. */
#define MF_INGEST_STATUS_TTL 604800
#define MF_INGEST_IDEMPOTENCY_TTL 86400

/*
 * Enqueue events (steals the array) for request r and answer it: 202
 * {"event_id": ...} when single, else {"event_ids": [...], "accepted": N}.
 * Answers 403 quota_exceeded, 503 (queue full or Redis down, Retry-After)
 * or 400 (bad Idempotency-Key) itself.
 */
void mf_ingest_enqueue(mf_req_t *r, json_t *events, int single);

/* Redis key remembering a queued event's tenant, into out. */
void mf_ingest_status_key(char *out, size_t cap, const char *event_id);

#endif
