/*
 * pg.h: non-blocking PostgreSQL inside an h2o event loop.
 *
 * Each loop thread owns one pool of libpq connections whose sockets join its
 * loop. Work is submitted as one "operation": an optional tenant context
 * (SET LOCAL mf.tenant_id and the audit settings) followed by one prepared
 * statement, sent in libpq pipeline mode so both travel in one round trip and
 * run in one implicit transaction. When every connection is busy the
 * operation waits in a bounded queue; a full queue, or no live connection,
 * refuses with MF_EUNAVAILABLE (the caller answers 503). Broken connections
 * reconnect with exponential backoff.
 *
 * Statements are registered once before pools are created and prepared on
 * every connection when it connects.
 */
#ifndef MF_PG_H
#define MF_PG_H

#include <stddef.h>
#include <libpq-fe.h>
#include "mf/error.h"

#if H2O_USE_LIBUV
#error "build with -DH2O_USE_LIBUV=0 (the evloop flavour of h2o)"
#endif

typedef struct st_h2o_evloop_t mf_pg_loop_t;
typedef struct mf_pg_pool mf_pg_pool_t;

/* A statement known to every connection. `name` and `sql` are static strings. */
typedef struct {
    const char *name;
    const char *sql;
    int index; /* set by mf_pg_register */
} mf_pg_stmt_t;

/* The context set per transaction; every member may be NULL (then unset).
 * tenant_id NULL means no tenant: RLS then hides every tenant row. The access
 * members feed the catalog's permission checks in SQL (mf.user_id,
 * mf.write_all, mf.scope; see migrations/0004_identity.sql). Borrowed. */
typedef struct {
    const char *tenant_id;
    const char *actor;
    const char *request_id;
    const char *client_addr;
    const char *user_id;   /* the signed-in user or the personal key's owner */
    const char *write_all; /* "on": may write anywhere in the tenant */
    const char *scope;     /* "" or "domain:<uuid>" / "dataset:<uuid>" */
} mf_pg_ctx_t;
#define MF_PG_CTX_FIELDS 7

/*
 * Called once per operation on the loop thread. On success err is 0 and res
 * is the statement's result (borrowed: freed after the callback returns). On
 * failure res is NULL, err is a negative MF_E* and message says why: a
 * statement error raised with SQLSTATE "MF4xx" maps to the error whose HTTP
 * status is 4xx and carries its message; other database errors are
 * MF_EINTERNAL; a refused or lost connection is MF_EUNAVAILABLE.
 */
typedef void (*mf_pg_cb)(void *data, PGresult *res, int err, const char *message);

/* Register a statement (before any pool is created); the process keeps the pointer. */
void mf_pg_register(mf_pg_stmt_t *stmt);

/* New pool of `size` connections to url on loop, with at most queue_max waiting operations. */
mf_pg_pool_t *mf_pg_pool_create(mf_pg_loop_t *loop, const char *url, int size, int queue_max);
/* Close every connection; waiting operations get MF_EUNAVAILABLE. NULL is a no-op. */
void mf_pg_pool_destroy(mf_pg_pool_t *pool);

/*
 * Run stmt with params (text format; NULL entries are SQL NULL; copied, so
 * the caller may free them at once). Returns 0 when the operation is running
 * or queued (cb will be called exactly once, never from inside this call), or
 * MF_EUNAVAILABLE when the queue is full or no connection is alive (cb is not
 * called).
 */
int mf_pg_submit(mf_pg_pool_t *pool, const mf_pg_ctx_t *ctx, const mf_pg_stmt_t *stmt, int nparams,
                 const char *const *params, mf_pg_cb cb, void *data) MF_MUST_CHECK;

/* Pool figures for /metrics and /readyz. */
typedef struct {
    int size, connected, busy, waiting;
    unsigned long long submitted, refused, failed;
} mf_pg_stats_t;
void mf_pg_pool_stats(const mf_pg_pool_t *pool, mf_pg_stats_t *out);

/* Map a failed PGresult to an MF_E* and a message into msg (capacity cap). */
int mf_pg_result_error(const PGresult *res, char *msg, size_t cap);

/* Blocking helpers for command-line work (migrate, key creation); never on a loop thread. */
PGconn *mf_pg_connect_blocking(const char *url, char *err, size_t errlen);

#endif
