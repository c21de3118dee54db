/*
 * quota.h: rate limits and monthly quotas on every authenticated call, and
 * the Redis counters that meter tenants' use.
 *
 * Each call of a tenant credential takes a token from two buckets in Redis,
 * the tenant's and the credential's (capacity = the rate per second, refilled
 * continuously), and counts one API call in the tenant's counter for the
 * month, all in one script (busy credentials take short leases of tokens
 * and count their calls in batches, see quota.c): an empty bucket answers 429 rate_limited with
 * Retry-After, a month's calls beyond the limit 403 quota_exceeded. Admitted
 * calls carry RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset. The
 * limits (plan, or the tenant's overrides) are cached per thread for
 * MF_QUOTA_CACHE_TTL seconds. When Redis is unreachable calls are admitted
 * (fail open), logged and counted in mf_quota_redis_failures_total.
 *
 * Datasets and seats are enforced in SQL (migrations/0013_plans_quotas.sql),
 * emit events per month by the ingest enqueue script with the limit set here.
 */
#ifndef MF_QUOTA_H
#define MF_QUOTA_H

#include <stddef.h>
#include "mf/http.h"
#include "mf/json.h"

/* Redis keys of a tenant's monthly counters: <prefix><metric>:<tenant id>:<YYYYMM>, metric "api" or "emit". */
#define MF_QUOTA_COUNTER_PREFIX "mf:quota:"
/* Seconds a monthly counter outlives its last increment (long enough to fold a finished month). */
#define MF_QUOTA_COUNTER_TTL 5356800

/*
 * Run the rate limits and the monthly API call quota for request r of
 * identity id (the server's own copy: its emit_quota becomes the tenant's
 * effective monthly emit limit), then next(r); or answer 429 or 403 and not
 * call next. Platform credentials, and every call when MF_QUOTA_ENFORCE is 0,
 * go straight to next.
 */
void mf_quota_admit(mf_req_t *r, mf_identity_t *id, mf_req_done_fn next);

/*
 * Send the calling loop thread's API calls admitted on leases and not yet
 * counted in Redis (a timer sends them within 100 ms anyway); returns
 * how many of its counter increments still await Redis's reply. mf_req_redis
 * calls it before each command (so a request that reads the counters sees
 * every call admitted before it); a stopping loop thread runs its loop until
 * it returns 0, so no counted call is lost.
 */
int mf_quota_flush_thread(void);

/* Whether this process counts its calls as API calls (default 1; mf-ingest meters emit events instead). */
void mf_quota_count_calls(int on);

/* The counter key of metric ("api", "emit") for tenant_id in the month of unix time t, into out. */
void mf_quota_counter_key(char *out, size_t cap, const char *metric, const char *tenant_id, long long t);

/*
 * Check obj, an object of limits keyed by quota name (max_datasets, max_seats,
 * api_calls_per_month, emit_events_per_month, requests_per_second,
 * key_requests_per_second, audit_retention_days): an unknown key, or a value
 * that is not an integer in the quota's range (null too, unless allow_null),
 * fails naming it.
 */
int mf_quota_check_limits(json_t *obj, const char *path, int allow_null, mf_json_err_t *err) MF_MUST_CHECK;

#endif
