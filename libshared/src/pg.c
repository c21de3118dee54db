/*
 * pg.c: the per-loop PostgreSQL pool (see pg.h for the contract).
 *
 * A connection moves DOWN -> CONNECTING -> PREPARING -> IDLE <-> BUSY and
 * back to DOWN on any socket or protocol failure. Its socket joins the h2o
 * loop as a DONT_READ socket on a dup() of libpq's fd, so h2o only tells us
 * when it is readable and libpq does the reading. Every connection runs in
 * pipeline mode: an operation is [set-context statement], the statement,
 * Sync; results are read until PGRES_PIPELINE_SYNC. A 100 ms tick restarts
 * DOWN connections whose backoff has expired.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <h2o.h>
#include "mf/config.h"
#include "mf/log.h"
#include "mf/pg.h"
#include "mf/util.h"

#define MF_PG_MAX_STMTS 256
#define MF_PG_TICK_MS 100

static mf_pg_stmt_t *stmts[MF_PG_MAX_STMTS];
static int nstmts;

/* Sets the per-transaction context read by RLS policies and audit triggers. */
static mf_pg_stmt_t set_ctx_stmt = {
    "mf_set_ctx",
    "SELECT set_config('mf.tenant_id', coalesce($1, ''), true), set_config('mf.actor', coalesce($2, ''), true), "
    "set_config('mf.request_id', coalesce($3, ''), true), set_config('mf.client_addr', coalesce($4, ''), true), "
    "set_config('mf.user_id', coalesce($5, ''), true), set_config('mf.write_all', coalesce($6, ''), true), "
    "set_config('mf.scope', coalesce($7, ''), true)",
    -1};

typedef struct mf_pg_op {
    struct mf_pg_op *next;
    const mf_pg_stmt_t *stmt;
    int nparams;
    char **params;
    int has_ctx;
    char *ctx[MF_PG_CTX_FIELDS];
    mf_pg_cb cb;
    void *data;
} mf_pg_op_t;

typedef enum { CONN_DOWN, CONN_CONNECTING, CONN_PREPARING, CONN_IDLE, CONN_BUSY } conn_state_t;

typedef struct {
    mf_pg_pool_t *pool;
    PGconn *pg;
    h2o_socket_t *sock;
    int sock_fd; /* libpq's fd that sock duplicates */
    conn_state_t state;
    int write_armed;
    mf_pg_op_t *op;
    int query_index, main_index, nulls_in_row;
    PGresult *main_result;
    int err;
    char errmsg[512];
    uint64_t retry_at_ms;
    int backoff_ms;
} mf_pg_conn_t;

struct mf_pg_pool {
    h2o_evloop_t *loop;
    char *url;
    int size, queue_max, closing;
    mf_pg_conn_t *conns;
    mf_pg_op_t *qhead, *qtail;
    int qlen;
    h2o_timeout_t tick;
    h2o_timeout_entry_t tick_entry;
    unsigned long long submitted, refused, failed;
};

void mf_pg_register(mf_pg_stmt_t *stmt)
{
    MF_ASSERT(nstmts < MF_PG_MAX_STMTS);
    for (int i = 0; i < nstmts; i++)
        if (stmts[i] == stmt)
            return;
    stmt->index = nstmts;
    stmts[nstmts++] = stmt;
}

static void conn_start(mf_pg_conn_t *c);
static void conn_on_io(h2o_socket_t *sock, const char *err);
static void pool_dispatch(mf_pg_pool_t *pool);

static void op_free(mf_pg_op_t *op)
{
    for (int i = 0; i < op->nparams; i++)
        free(op->params[i]);
    free(op->params);
    for (int i = 0; i < MF_PG_CTX_FIELDS; i++)
        free(op->ctx[i]);
    free(op);
}

static void op_finish(mf_pg_op_t *op, PGresult *res, int err, const char *msg)
{
    op->cb(op->data, res, err, msg);
    op_free(op);
}

static void conn_close_socket(mf_pg_conn_t *c)
{
    if (c->sock != NULL) {
        h2o_socket_read_stop(c->sock);
        h2o_socket_close(c->sock);
        c->sock = NULL;
    }
    c->write_armed = 0;
}

/* Tear down the connection; fail its operation; schedule a reconnect. */
static void conn_fail(mf_pg_conn_t *c, const char *why)
{
    mf_pg_pool_t *pool = c->pool;
    if (!pool->closing)
        MF_LOG_WARN_(NULL, "database connection lost: %s", why);
    conn_close_socket(c);
    if (c->pg != NULL) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    if (c->main_result != NULL) {
        PQclear(c->main_result);
        c->main_result = NULL;
    }
    c->state = CONN_DOWN;
    c->backoff_ms = c->backoff_ms == 0 ? 50 : c->backoff_ms * 2;
    if (c->backoff_ms > (int)mf_config_int(MF_CFG_PG_RECONNECT_MAX_MS))
        c->backoff_ms = (int)mf_config_int(MF_CFG_PG_RECONNECT_MAX_MS);
    c->retry_at_ms = mf_now_ms() + (uint64_t)c->backoff_ms;
    if (c->op != NULL) {
        mf_pg_op_t *op = c->op;
        c->op = NULL;
        pool->failed++;
        op_finish(op, NULL, MF_EUNAVAILABLE, "database connection lost");
    }
    /* With no live connection left, queued work would wait for nothing: refuse it now. */
    int alive = 0;
    for (int i = 0; i < pool->size; i++)
        alive |= pool->conns[i].state >= CONN_IDLE;
    if (!alive) {
        while (pool->qhead != NULL) {
            mf_pg_op_t *op = pool->qhead;
            pool->qhead = op->next;
            pool->qlen--;
            pool->failed++;
            op_finish(op, NULL, MF_EUNAVAILABLE, "database unavailable");
        }
        pool->qtail = NULL;
    }
}

static void conn_arm_write(mf_pg_conn_t *c)
{
    if (!c->write_armed && c->sock != NULL) {
        c->write_armed = 1;
        h2o_socket_notify_write(c->sock, conn_on_io);
    }
}

/* Flush libpq's output buffer; arm a write notification while it is not empty. */
static int conn_flush(mf_pg_conn_t *c)
{
    int r = PQflush(c->pg);
    if (r < 0) {
        conn_fail(c, PQerrorMessage(c->pg));
        return -1;
    }
    if (r == 1)
        conn_arm_write(c);
    return 0;
}

/* (Re)attach the h2o socket when libpq's fd changed (it may during connect). */
static int conn_attach_socket(mf_pg_conn_t *c)
{
    int fd = PQsocket(c->pg);
    if (fd < 0)
        return -1;
    if (c->sock != NULL && c->sock_fd == fd)
        return 0;
    conn_close_socket(c);
    int dupfd = dup(fd);
    if (dupfd < 0)
        return -1;
    c->sock = h2o_evloop_socket_create(c->pool->loop, dupfd, H2O_SOCKET_FLAG_DONT_READ);
    c->sock->data = c;
    c->sock_fd = fd;
    h2o_socket_read_start(c->sock, conn_on_io);
    return 0;
}

static void conn_send_op(mf_pg_conn_t *c, mf_pg_op_t *op)
{
    c->op = op;
    c->state = CONN_BUSY;
    c->query_index = 0;
    c->nulls_in_row = 0;
    c->err = 0;
    c->errmsg[0] = '\0';
    c->main_index = op->has_ctx ? 1 : 0;
    if (op->has_ctx &&
        !PQsendQueryPrepared(c->pg, set_ctx_stmt.name, MF_PG_CTX_FIELDS, (const char *const *)op->ctx, NULL, NULL, 0)) {
        conn_fail(c, PQerrorMessage(c->pg));
        return;
    }
    if (!PQsendQueryPrepared(c->pg, op->stmt->name, op->nparams, (const char *const *)op->params, NULL, NULL, 0) ||
        !PQpipelineSync(c->pg)) {
        conn_fail(c, PQerrorMessage(c->pg));
        return;
    }
    conn_flush(c);
}

static void conn_became_idle(mf_pg_conn_t *c)
{
    c->state = CONN_IDLE;
    c->backoff_ms = 0;
    pool_dispatch(c->pool);
}

static void conn_prepare_all(mf_pg_conn_t *c)
{
    if (PQsetnonblocking(c->pg, 1) != 0 || !PQenterPipelineMode(c->pg)) {
        conn_fail(c, PQerrorMessage(c->pg));
        return;
    }
    c->state = CONN_PREPARING;
    c->query_index = 0;
    c->nulls_in_row = 0;
    c->err = 0;
    c->main_index = -1;
    if (!PQsendPrepare(c->pg, set_ctx_stmt.name, set_ctx_stmt.sql, 0, NULL)) {
        conn_fail(c, PQerrorMessage(c->pg));
        return;
    }
    for (int i = 0; i < nstmts; i++) {
        if (!PQsendPrepare(c->pg, stmts[i]->name, stmts[i]->sql, 0, NULL)) {
            conn_fail(c, PQerrorMessage(c->pg));
            return;
        }
    }
    if (!PQpipelineSync(c->pg)) {
        conn_fail(c, PQerrorMessage(c->pg));
        return;
    }
    conn_flush(c);
}

int mf_pg_result_error(const PGresult *res, char *msg, size_t cap)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (primary == NULL)
        primary = PQresultErrorMessage(res);
    /* Our functions raise SQLSTATE MFnnn where nnn is the HTTP status. */
    if (state != NULL && state[0] == 'M' && state[1] == 'F') {
        static const struct {
            const char *state;
            int err;
        } map[] = {{"MF400", MF_EINVALID_REQUEST}, {"MF403", MF_EFORBIDDEN},        {"MF404", MF_ENOT_FOUND},
                   {"MF409", MF_ECONFLICT},        {"MF412", MF_EPRECONDITION_FAILED}, {"MF429", MF_ERATE_LIMITED},
                   {"MFQ03", MF_EQUOTA_EXCEEDED}, {"MFC09", MF_ECONTRACT_VIOLATION}};
        for (size_t i = 0; i < MF_ARRAY_SIZE(map); i++) {
            if (strcmp(state, map[i].state) == 0) {
                snprintf(msg, cap, "%s", primary);
                return map[i].err;
            }
        }
    }
    /* Concurrent writers that deadlocked or conflicted: the client may simply retry. */
    if (state != NULL && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0)) {
        snprintf(msg, cap, "a concurrent change to the same datasets conflicted; retry");
        return MF_ECONFLICT;
    }
    /* Constraint violations that reach here are input the API did not catch. */
    if (state != NULL && strcmp(state, "23505") == 0) {
        snprintf(msg, cap, "already exists");
        return MF_ECONFLICT;
    }
    if (state != NULL && (strcmp(state, "22P02") == 0 || strcmp(state, "22007") == 0 || strcmp(state, "22008") == 0 ||
                          strcmp(state, "22001") == 0)) {
        snprintf(msg, cap, "invalid value: %s", primary);
        return MF_EINVALID_REQUEST;
    }
    MF_LOG_ERROR_(NULL, "database error %s: %s", state ? state : "?", primary);
    snprintf(msg, cap, "%s", mf_error_message(MF_EINTERNAL));
    return MF_EINTERNAL;
}

/* Read every available result; finish the operation at the pipeline Sync. */
static void conn_read_results(mf_pg_conn_t *c)
{
    for (;;) {
        if (PQisBusy(c->pg))
            return;
        PGresult *res = PQgetResult(c->pg);
        if (res == NULL) {
            /* end of one query's results */
            if (++c->nulls_in_row > 1)
                return;
            c->query_index++;
            continue;
        }
        c->nulls_in_row = 0;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            if (c->state == CONN_PREPARING) {
                if (c->err != 0) {
                    MF_LOG_ERROR_(NULL, "preparing statements failed: %s", c->errmsg);
                    conn_fail(c, "prepare failed");
                    return;
                }
                conn_became_idle(c);
                return;
            }
            mf_pg_op_t *op = c->op;
            PGresult *main = c->main_result;
            int err = c->err;
            c->op = NULL;
            c->main_result = NULL;
            c->state = CONN_IDLE;
            if (err == 0 && main == NULL) {
                err = MF_EINTERNAL;
                snprintf(c->errmsg, sizeof(c->errmsg), "no result");
            }
            if (err != 0)
                c->pool->failed++;
            c->backoff_ms = 0;
            /* The callback may submit more work, which can take this very connection. */
            op_finish(op, err == 0 ? main : NULL, err, err == 0 ? NULL : c->errmsg);
            if (main != NULL)
                PQclear(main);
            if (c->state == CONN_IDLE)
                pool_dispatch(c->pool);
            return;
        }
        if (st == PGRES_FATAL_ERROR) {
            if (c->err == 0) {
                if (c->state == CONN_PREPARING) {
                    snprintf(c->errmsg, sizeof(c->errmsg), "%s", PQresultErrorMessage(res));
                    c->err = MF_EINTERNAL;
                } else {
                    c->err = mf_pg_result_error(res, c->errmsg, sizeof(c->errmsg));
                }
            }
            PQclear(res);
        } else if (st == PGRES_PIPELINE_ABORTED) {
            PQclear(res);
        } else if (c->state == CONN_BUSY && c->query_index == c->main_index && c->main_result == NULL) {
            c->main_result = res;
        } else {
            PQclear(res);
        }
    }
}

static void conn_on_io(h2o_socket_t *sock, const char *err)
{
    mf_pg_conn_t *c = sock->data;
    /* h2o calls this for both readable and writable; the write arm fires once. */
    c->write_armed = 0;
    if (err != NULL && c->state != CONN_CONNECTING) {
        conn_fail(c, err);
        return;
    }
    switch (c->state) {
    case CONN_CONNECTING:
        switch (PQconnectPoll(c->pg)) {
        case PGRES_POLLING_READING:
            if (conn_attach_socket(c) != 0)
                conn_fail(c, "no socket");
            return;
        case PGRES_POLLING_WRITING:
            if (conn_attach_socket(c) != 0)
                conn_fail(c, "no socket");
            else
                conn_arm_write(c);
            return;
        case PGRES_POLLING_OK:
            conn_prepare_all(c);
            return;
        default:
            conn_fail(c, PQerrorMessage(c->pg));
            return;
        }
    case CONN_PREPARING:
    case CONN_BUSY:
    case CONN_IDLE:
        if (PQconsumeInput(c->pg) == 0) {
            conn_fail(c, PQerrorMessage(c->pg));
            return;
        }
        if (conn_flush(c) != 0)
            return;
        if (c->state == CONN_IDLE) {
            /* nothing expected; a server-side close shows up as a consume error above */
            PGnotify *n;
            while ((n = PQnotifies(c->pg)) != NULL)
                PQfreemem(n);
            return;
        }
        conn_read_results(c);
        return;
    case CONN_DOWN:
        return;
    }
}

/* Connection keywords: the URL, and the service as application_name (unless the URL sets one), so
 * pg_stat_activity tells mf-api's sessions from mf-analytics' and the workers'. */
static const char *const conn_keywords[] = {"dbname", "fallback_application_name", NULL};

static void conn_start(mf_pg_conn_t *c)
{
    const char *values[] = {c->pool->url, mf_log_service(), NULL};
    c->pg = PQconnectStartParams(conn_keywords, values, 1);
    if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD) {
        conn_fail(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
        return;
    }
    c->state = CONN_CONNECTING;
    if (conn_attach_socket(c) != 0) {
        conn_fail(c, "no socket");
        return;
    }
    conn_arm_write(c);
}

static void pool_tick(h2o_timeout_entry_t *entry)
{
    mf_pg_pool_t *pool = H2O_STRUCT_FROM_MEMBER(mf_pg_pool_t, tick_entry, entry);
    uint64_t now = mf_now_ms();
    for (int i = 0; i < pool->size; i++) {
        mf_pg_conn_t *c = &pool->conns[i];
        if (c->state == CONN_DOWN && c->retry_at_ms <= now)
            conn_start(c);
    }
    h2o_timeout_link(pool->loop, &pool->tick, &pool->tick_entry);
}

static void pool_dispatch(mf_pg_pool_t *pool)
{
    for (int i = 0; i < pool->size && pool->qhead != NULL; i++) {
        mf_pg_conn_t *c = &pool->conns[i];
        if (c->state != CONN_IDLE)
            continue;
        mf_pg_op_t *op = pool->qhead;
        pool->qhead = op->next;
        if (pool->qhead == NULL)
            pool->qtail = NULL;
        pool->qlen--;
        op->next = NULL;
        conn_send_op(c, op);
    }
}

mf_pg_pool_t *mf_pg_pool_create(mf_pg_loop_t *loop, const char *url, int size, int queue_max)
{
    mf_pg_pool_t *pool = mf_calloc(1, sizeof(*pool));
    pool->loop = loop;
    pool->url = mf_strdup(url);
    pool->size = size;
    pool->queue_max = queue_max;
    pool->conns = mf_calloc((size_t)size, sizeof(*pool->conns));
    for (int i = 0; i < size; i++) {
        pool->conns[i].pool = pool;
        conn_start(&pool->conns[i]);
    }
    h2o_timeout_init(loop, &pool->tick, MF_PG_TICK_MS);
    pool->tick_entry.cb = pool_tick;
    h2o_timeout_link(loop, &pool->tick, &pool->tick_entry);
    return pool;
}

void mf_pg_pool_destroy(mf_pg_pool_t *pool)
{
    if (pool == NULL)
        return;
    pool->closing = 1;
    h2o_timeout_unlink(&pool->tick_entry);
    h2o_timeout_dispose(pool->loop, &pool->tick);
    for (int i = 0; i < pool->size; i++) {
        mf_pg_conn_t *c = &pool->conns[i];
        if (c->state != CONN_DOWN)
            conn_fail(c, "pool closing");
    }
    while (pool->qhead != NULL) {
        mf_pg_op_t *op = pool->qhead;
        pool->qhead = op->next;
        op_finish(op, NULL, MF_EUNAVAILABLE, "shutting down");
    }
    free(pool->conns);
    free(pool->url);
    free(pool);
}

int mf_pg_submit(mf_pg_pool_t *pool, const mf_pg_ctx_t *ctx, const mf_pg_stmt_t *stmt, int nparams,
                 const char *const *params, mf_pg_cb cb, void *data)
{
    int alive = 0, idle = 0;
    for (int i = 0; i < pool->size; i++) {
        alive |= pool->conns[i].state >= CONN_IDLE;
        idle |= pool->conns[i].state == CONN_IDLE;
    }
    /* Connections still starting up count as alive for a short grace period at boot. */
    if (!alive) {
        for (int i = 0; i < pool->size; i++)
            alive |= pool->conns[i].state == CONN_CONNECTING || pool->conns[i].state == CONN_PREPARING;
    }
    if (!alive || (!idle && pool->qlen >= pool->queue_max)) {
        pool->refused++;
        return MF_EUNAVAILABLE;
    }
    MF_ASSERT(stmt->index >= 0 && stmt->index < nstmts && stmts[stmt->index] == stmt);
    mf_pg_op_t *op = mf_calloc(1, sizeof(*op));
    op->stmt = stmt;
    op->nparams = nparams;
    op->params = mf_calloc((size_t)nparams, sizeof(char *));
    for (int i = 0; i < nparams; i++)
        op->params[i] = params[i] ? mf_strdup(params[i]) : NULL;
    if (ctx != NULL) {
        op->has_ctx = 1;
        const char *v[MF_PG_CTX_FIELDS] = {ctx->tenant_id, ctx->actor,   ctx->request_id, ctx->client_addr,
                                           ctx->user_id,   ctx->write_all, ctx->scope};
        for (int i = 0; i < MF_PG_CTX_FIELDS; i++)
            op->ctx[i] = v[i] ? mf_strdup(v[i]) : NULL;
    }
    op->cb = cb;
    op->data = data;
    pool->submitted++;
    if (pool->qtail)
        pool->qtail->next = op;
    else
        pool->qhead = op;
    pool->qtail = op;
    pool->qlen++;
    pool_dispatch(pool);
    return 0;
}

void mf_pg_pool_stats(const mf_pg_pool_t *pool, mf_pg_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    out->size = pool->size;
    for (int i = 0; i < pool->size; i++) {
        out->connected += pool->conns[i].state >= CONN_IDLE;
        out->busy += pool->conns[i].state == CONN_BUSY;
    }
    out->waiting = pool->qlen;
    out->submitted = pool->submitted;
    out->refused = pool->refused;
    out->failed = pool->failed;
}

PGconn *mf_pg_connect_blocking(const char *url, char *err, size_t errlen)
{
    const char *values[] = {url, mf_log_service(), NULL};
    PGconn *pg = PQconnectdbParams(conn_keywords, values, 1);
    if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect to the database: %s", pg ? PQerrorMessage(pg) : "out of memory");
        PQfinish(pg);
        return NULL;
    }
    return pg;
}
