/*
 * http.h: the HTTP server every MetaFuse service runs on (h2o 2.2.5, evloop).
 *
 * mf_http_run starts MF_HTTP_THREADS loop threads; each has its own h2o
 * context, SO_REUSEPORT listener, database pool and API-key cache. A request
 * is matched against the service's route table (patterns with {param}
 * segments); the table row says which role it needs, so authentication and
 * authorization happen before any handler runs. Handlers answer at once or
 * later from a database callback on the same thread; if the client went away
 * meanwhile the answer is dropped safely (mf_req_t outlives h2o's request).
 *
 * Every service also gets GET /healthz, /readyz and /metrics, request ids
 * (X-Request-ID accepted or generated, echoed, logged), CORS for
 * MF_CORS_ORIGIN, the body-size limit with an enveloped 413, and a graceful
 * SIGTERM: stop accepting, finish in-flight requests, exit.
 */
#ifndef MF_HTTP_H
#define MF_HTTP_H

#include <stddef.h>
#include <jansson.h>
#include "mf/auth.h"
#include "mf/error.h"
#include "mf/pg.h"

typedef struct mf_req mf_req_t;

/* A handler answers now or later (exactly once) through mf_respond_*; returns nothing. */
typedef void (*mf_handler_fn)(mf_req_t *r);

typedef struct {
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/api/v1/datasets/{name}/tags/{tag}" */
    mf_role_t role;      /* minimum role */
    mf_handler_fn handler;
    int takes_body; /* MF_BODY_JSON: an object parsed into mf_req_body(); MF_BODY_RAW: bytes in mf_req_raw_body() */
} mf_route_t;

/* MF_BODY_FILE: a file upload (application/vnd.sqlite3 or application/octet-stream, at most
 * MF_HTTP_MAX_UPLOAD bytes) in mf_req_raw_body(). */
enum { MF_BODY_NONE = 0, MF_BODY_JSON = 1, MF_BODY_RAW = 2, MF_BODY_FILE = 3 };

/* Register routes (before mf_http_run); the array must live for the process. */
void mf_http_add_routes(const mf_route_t *routes, size_t n);
/* Print every registered route as "METHOD /pattern role" lines to f (a FILE *): role is the
 * route's minimum role (public, viewer, editor, admin, platform_admin), the table that
 * tests/integration/test_rbac.py checks every caller against. */
void mf_http_print_routes(void *f);
/* Run the server until SIGTERM/SIGINT; returns 0 after a graceful stop, or an MF_E* on start failure. */
int mf_http_run(const char *service_name) MF_MUST_CHECK;

/* ---- inside a handler ---- */

/* The caller's identity (borrowed). */
const mf_identity_t *mf_req_identity(const mf_req_t *r);
/* The decoded value of path parameter `name` (borrowed, NUL-terminated). */
const char *mf_req_param(const mf_req_t *r, const char *name);
/* The decoded query value of `name`, or NULL when absent. Borrowed. */
const char *mf_req_query(mf_req_t *r, const char *name);
/* The parsed JSON body (borrowed) of an MF_BODY_JSON route. */
json_t *mf_req_body(const mf_req_t *r);
/* The raw body of an MF_BODY_RAW route (borrowed, not NUL-terminated) and the request's
 * Content-Type (lowercase, parameters stripped; "" when absent). */
const char *mf_req_raw_body(const mf_req_t *r, size_t *len, const char **content_type);
/* A request header value as a new NUL-terminated string in the request pool, or NULL. */
const char *mf_req_header(mf_req_t *r, const char *lowercase_name);
/* The request id (borrowed). */
const char *mf_req_id(const mf_req_t *r);
/* Per-request state for async handlers; free_fn (may be NULL) runs when the request is released,
 * whether or not the client stayed. */
void mf_req_set_data(mf_req_t *r, void *data, void (*free_fn)(void *));
void *mf_req_data(const mf_req_t *r);

/* Add a response header (copied) before responding. */
void mf_req_add_header(mf_req_t *r, const char *name, const char *value);

/* Answer with a JSON body (copied). */
void mf_respond_json(mf_req_t *r, int status, const char *body, size_t len);
/* Answer with a jansson value (borrowed; serialised compactly). */
void mf_respond_jsonv(mf_req_t *r, int status, json_t *value);
/* Answer with no body (e.g. 204). */
void mf_respond_empty(mf_req_t *r, int status);
/* Answer with the first `size` bytes of the open file fd (steals fd: closed when the answer ends or
 * the client leaves), read and sent a chunk at a time as the client takes them, with Content-Length;
 * the file is never held in memory. An unlinked temporary file is freed when fd closes. */
void mf_respond_file(mf_req_t *r, int status, const char *content_type, int fd, size_t size);
/* Bytes an error message keeps, with its terminator: a longer one is cut (at a character boundary). */
#define MF_ERROR_MESSAGE_MAX 600
/* Answer with the error envelope; msg (printf) overrides the table's message when non-NULL. */
void mf_respond_error(mf_req_t *r, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Run a statement for this request in the caller's tenant context
 * (mf.tenant_id, actor, request id, client address set per transaction).
 * cb runs later on this thread with the result; it is skipped (and the result
 * dropped) when the client has gone. If the pool refuses, this answers 503
 * itself and returns MF_EUNAVAILABLE: the handler must only return.
 */
typedef void (*mf_req_pg_cb)(mf_req_t *r, PGresult *res);
int mf_req_query_or_respond(mf_req_t *r, const mf_pg_stmt_t *stmt, int nparams, const char *const *params,
                            mf_req_pg_cb cb) MF_MUST_CHECK;
/* Same with no tenant context (RLS hides tenant rows; for security-definer lookups). */
int mf_req_query_untenanted_or_respond(mf_req_t *r, const mf_pg_stmt_t *stmt, int nparams,
                                       const char *const *params, mf_req_pg_cb cb) MF_MUST_CHECK;
/* The same, but nothing is answered on failure: cb gets res NULL when the database is busy,
 * unreachable or the statement failed (possibly before this returns), for work that goes on
 * without the database (quota limits fail open). */
void mf_req_query_untenanted(mf_req_t *r, const mf_pg_stmt_t *stmt, int nparams, const char *const *params,
                             mf_req_pg_cb cb);

/* Answer `status` with column 0 of row 0 as the JSON body, or 404 with not_found_msg when no row. */
void mf_respond_row_or_404(mf_req_t *r, PGresult *res, int status, const char *not_found_msg);
/* After a revocation (key, session, membership, tenant suspension): drop every cached
 * credential in every thread of this process at once, and tell the other replicas over Redis
 * pub/sub when Redis is enabled (else they drop theirs within MF_KEY_CACHE_TTL). id (a key,
 * session, user or tenant id) is only logged and published. */
void mf_http_forget_key(const char *key_id);

/* Give every loop thread an asynchronous Redis connection to MF_REDIS_URL (call before
 * mf_http_run); /readyz then also requires Redis. */
void mf_http_enable_redis(void);
/*
 * Send a Redis command for this request. cb runs later on this thread with the reply (which
 * may be an error reply, or NULL when the connection was lost before the reply: the command
 * may or may not have run) even when the client has gone, so a multi-step change completes;
 * after the handler returned, cb may use only mf_req_data, mf_req_identity, mf_req_id and the
 * mf_respond_* functions (which drop the answer for a departed client). When Redis is
 * unreachable this answers 503 itself and returns MF_EUNAVAILABLE: the handler must only return.
 */
typedef struct redisReply mf_redis_reply_t;
typedef void (*mf_req_redis_cb)(mf_req_t *r, mf_redis_reply_t *reply);
int mf_req_redis_or_respond(mf_req_t *r, int argc, const char **argv, const size_t *lens,
                            mf_req_redis_cb cb) MF_MUST_CHECK;

/* The same without the answer: MF_EUNAVAILABLE when Redis is off or unreachable (cb is not
 * called), for work that goes on without Redis (rate limits fail open). */
int mf_req_redis(mf_req_t *r, int argc, const char **argv, const size_t *lens, mf_req_redis_cb cb) MF_MUST_CHECK;

/* Keep r alive past its handler and its client, for a libshared module that gathers work of
 * many requests and answers each later on this thread (the ingest queue's grouped XADDs);
 * every mf_req_hold needs one mf_req_unhold. mf_req_answered: r has its answer already. */
void mf_req_hold(mf_req_t *r);
void mf_req_unhold(mf_req_t *r);
int mf_req_answered(const mf_req_t *r);

/* The browser session cookie (HttpOnly; SameSite=Lax; Secure when MF_PUBLIC_URL is https). */
#define MF_SESSION_COOKIE "mf_session"

/* The Host (HTTP/1) or :authority (HTTP/2) the client asked for, in the request pool, or NULL. */
const char *mf_req_host(mf_req_t *r);
/* The value of cookie `name` as a NUL-terminated string in the request pool, or NULL. */
const char *mf_req_cookie(mf_req_t *r, const char *name);
/* The client's address as the server saw it (borrowed; "" when unknown). */
const char *mf_req_client(const mf_req_t *r);

/*
 * Append a security event (login, failed login, permission denied, ...) to the
 * audit log of tenant_id ("" or NULL: platform level) with this request's
 * actor, id and client address. Fire and forget: the answer does not wait,
 * and a refused pool is logged. detail_json must be a JSON object.
 */
void mf_req_audit_event(mf_req_t *r, const char *tenant_id, const char *action, const char *target,
                        const char *detail_json);
/* The same, then answer the error err (message printf-style) once the row is written, so a
 * refusal is on record before the client hears of it. The handler must only return. */
void mf_req_audit_and_respond_error(mf_req_t *r, const char *tenant_id, const char *action, const char *target,
                                    const char *detail_json, int err, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/*
 * Run work(arg) on a worker thread (it may block: network calls), then
 * done(r) on this request's loop thread. done is skipped when the client has
 * gone or the request was answered; arg belongs to the caller (keep it in
 * mf_req_set_data so it is freed either way). The handler must only return.
 */
typedef void (*mf_blocking_fn)(void *arg);
typedef void (*mf_req_done_fn)(mf_req_t *r);
void mf_req_run_blocking(mf_req_t *r, mf_blocking_fn work, void *arg, mf_req_done_fn done);

/* Count a failed sign-in or credential against the client address (in Redis, so every
 * replica counts together; nothing without Redis). Does not answer. */
void mf_req_count_auth_failure(mf_req_t *r);
/* When the client address has failed MF_AUTH_FAIL_LIMIT times this minute, answer 429 with
 * Retry-After; otherwise run next(r) (after a Redis round trip when Redis is enabled, at once
 * without it). The handler must only return. */
void mf_req_unless_auth_blocked(mf_req_t *r, mf_req_done_fn next);

/* ---- for libshared modules ---- */
/* The pool of the calling loop thread. */
mf_pg_pool_t *mf_http_thread_pool(void);
/* The Redis connection of the calling loop thread (NULL unless enabled). */
struct mf_redis *mf_http_thread_redis(void);
/* The event loop of the calling loop thread (NULL elsewhere), for timers of libshared modules. */
struct st_h2o_evloop_t *mf_http_thread_loop(void);


#endif
