/*
 * mf-bench-raw: the raw baseline that `make bench` measures MetaFuse against.
 *
 * It is the least a C server on h2o 2.2.5 and libpq can do for the same
 * requests, so that the benchmark can report ratios instead of absolute
 * numbers on a noisy two-core machine:
 *
 *   GET /hello                     a constant JSON body (the HTTP layer alone)
 *   GET /datasets/{name}           one SELECT on Postgres, a small JSON answer;
 *                                  sent with PQsendQueryParams (the server
 *                                  parses and plans it every time)
 *   GET /prepared/datasets/{name}  the same SELECT as a statement prepared
 *                                  once per connection (PQsendQueryPrepared),
 *                                  as mf-api's pool runs its statements
 *
 * Threading: N loop threads, each with its own h2o evloop, h2o context and
 * SO_REUSEPORT listener (the kernel spreads connections over them), and its
 * own small pool of libpq connections. Nothing is shared between threads
 * except the read-only configuration.
 *
 * Postgres: every connection is non-blocking from the first byte
 * (PQconnectStart/PQconnectPoll, then PQsendQueryParams/PQflush and
 * PQconsumeInput/PQisBusy/PQgetResult). Every connection prepares the query
 * once (PQsendPrepare) right after connecting, for the /prepared route. Its socket joins the evloop as a
 * dup() wrapped by h2o_evloop_socket_create(..., H2O_SOCKET_FLAG_DONT_READ),
 * so h2o only tells us the fd is readable and libpq does the reading; the
 * dup is there because closing the h2o socket closes its fd, and libpq owns
 * the original. A request that finds every connection busy waits in a
 * bounded per-thread FIFO queue (503 when it is full); a connection that
 * finishes a query takes the next waiter. A broken connection answers 503
 * to its request and reconnects after a second.
 *
 * Client going away: the per-request state is allocated with
 * h2o_mem_alloc_shared on req->pool with a dispose callback. When h2o frees
 * the request (client closed the connection while the query was in flight
 * or queued), the callback unlinks it from the queue or detaches it from its
 * connection, whose result is then read and dropped. Nothing touches a
 * freed request.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o.h>
#include <libpq-fe.h>

#if H2O_USE_LIBUV
#error "mf-bench-raw needs the evloop flavour of h2o: build with -DH2O_USE_LIBUV=0"
#endif

#define BENCH_DEFAULT_SQL "SELECT name, description FROM datasets WHERE name = $1 LIMIT 1"
#define BENCH_RECONNECT_MS 1000
#define BENCH_MAX_NAME 512

/* Configuration, read once in main() and never written afterwards. */
static struct {
    const char *host;
    unsigned port;
    size_t threads;
    size_t pool;
    size_t queue_max;
    const char *pg_url;
    const char *sql;
    const char *tenant; /* optional second query parameter ($2) */
} bench_conf;

static h2o_globalconf_t bench_h2o_config;
static volatile sig_atomic_t bench_stop;

typedef struct bench_worker_t bench_worker_t;
typedef struct bench_pgconn_t bench_pgconn_t;
typedef struct bench_query_t bench_query_t;

enum bench_pgconn_state { PGC_DOWN, PGC_CONNECTING, PGC_PREPARING, PGC_IDLE, PGC_BUSY };

#define BENCH_STMT_NAME "mf_bench_q"

/* One request waiting for, or running, its SELECT. Lives in req->pool. */
struct bench_query_t {
    h2o_req_t *req;
    bench_worker_t *worker;
    bench_pgconn_t *conn;   /* set while the query is in flight */
    h2o_linklist_t waiting; /* linked while in the worker's queue */
    char *name;             /* NUL-terminated, in req->pool */
    int prepared;           /* PQsendQueryPrepared instead of PQsendQueryParams */
};

struct bench_pgconn_t {
    bench_worker_t *worker;
    PGconn *pg;
    h2o_socket_t *sock; /* wraps dup(fd) */
    int fd;             /* libpq's own socket that sock duplicates */
    enum bench_pgconn_state state;
    int write_armed;      /* h2o_socket_notify_write asserts if armed twice */
    bench_query_t *query; /* NULL when idle or when the client went away */
    h2o_timeout_entry_t retry;
};

struct bench_worker_t {
    size_t index;
    pthread_t tid;
    h2o_evloop_t *loop;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    bench_pgconn_t *conns;
    h2o_linklist_t queue;
    size_t queued;
    h2o_timeout_t retry_timeout;
};

static void pgconn_start(bench_pgconn_t *c);
static void pgconn_connect_step(bench_pgconn_t *c);
static void pgconn_broken(bench_pgconn_t *c, const char *why);
static void pgconn_send(bench_pgconn_t *c, bench_query_t *q);
static void pgconn_flush(bench_pgconn_t *c);

/* ---- small helpers ------------------------------------------------------ */

static void bench_log(const bench_worker_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bench_log(const bench_worker_t *w, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fprintf(stderr, "mf-bench-raw[%zu]: %s\n", w != NULL ? w->index : (size_t)0, buf);
}

static void respond(h2o_req_t *req, int status, const char *reason, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_send_inline(req, body, len);
}

#define RESPOND_LIT(req, status, reason, lit) respond((req), (status), (reason), (lit), sizeof(lit) - 1)

/* Appends s as a JSON string literal (quotes included) at dst; returns the end. dst needs 6 * strlen(s) + 2 bytes. */
static char *json_put_string(char *dst, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    *dst++ = '"';
    for (; *s != '\0'; ++s) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '"':
            *dst++ = '\\';
            *dst++ = '"';
            break;
        case '\\':
            *dst++ = '\\';
            *dst++ = '\\';
            break;
        case '\n':
            *dst++ = '\\';
            *dst++ = 'n';
            break;
        case '\r':
            *dst++ = '\\';
            *dst++ = 'r';
            break;
        case '\t':
            *dst++ = '\\';
            *dst++ = 't';
            break;
        default:
            if (ch < 0x20) {
                *dst++ = '\\';
                *dst++ = 'u';
                *dst++ = '0';
                *dst++ = '0';
                *dst++ = hex[ch >> 4];
                *dst++ = hex[ch & 15];
            } else {
                *dst++ = (char)ch;
            }
            break;
        }
    }
    *dst++ = '"';
    return dst;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Percent-decodes src into a new NUL-terminated string in pool; NULL on a bad escape, a NUL byte or an empty result. */
static char *decode_segment(h2o_mem_pool_t *pool, const char *src, size_t len)
{
    char *out = h2o_mem_alloc_pool(pool, len + 1), *dst = out;
    for (size_t i = 0; i < len; ++i) {
        int ch = (unsigned char)src[i];
        if (ch == '%') {
            int hi, lo;
            if (i + 2 >= len)
                return NULL;
            if ((hi = hexval(src[i + 1])) < 0 || (lo = hexval(src[i + 2])) < 0)
                return NULL;
            ch = hi * 16 + lo;
            i += 2;
        }
        if (ch == '\0')
            return NULL;
        *dst++ = (char)ch;
    }
    *dst = '\0';
    return dst == out ? NULL : out;
}

/* ---- the wait queue and the client-gone callback ------------------------ */

static void query_on_dispose(void *p)
{
    bench_query_t *q = p;
    if (h2o_linklist_is_linked(&q->waiting)) {
        h2o_linklist_unlink(&q->waiting);
        --q->worker->queued;
    }
    if (q->conn != NULL) {
        /* the connection keeps running the query and drops its result */
        q->conn->query = NULL;
        q->conn = NULL;
    }
}

/* Hands the oldest waiter, if any, to the idle connection c. */
static void pgconn_take_waiter(bench_pgconn_t *c)
{
    bench_worker_t *w = c->worker;
    while (c->state == PGC_IDLE && !h2o_linklist_is_empty(&w->queue)) {
        bench_query_t *q = H2O_STRUCT_FROM_MEMBER(bench_query_t, waiting, w->queue.next);
        h2o_linklist_unlink(&q->waiting);
        --w->queued;
        pgconn_send(c, q);
    }
}

/* ---- one libpq connection ----------------------------------------------- */

static void pgconn_on_write(h2o_socket_t *sock, const char *err);
static void pgconn_on_read(h2o_socket_t *sock, const char *err);

static void pgconn_arm_write(bench_pgconn_t *c)
{
    if (!c->write_armed) {
        c->write_armed = 1;
        h2o_socket_notify_write(c->sock, pgconn_on_write);
    }
}

static void pgconn_detach_socket(bench_pgconn_t *c)
{
    if (c->sock != NULL) {
        h2o_socket_close(c->sock); /* closes the dup, not libpq's fd */
        c->sock = NULL;
    }
    c->fd = -1;
    c->write_armed = 0;
}

static int pgconn_attach_socket(bench_pgconn_t *c)
{
    int fd = PQsocket(c->pg), dupfd;
    if (fd < 0)
        return -1;
    if ((dupfd = dup(fd)) < 0)
        return -1;
    c->sock = h2o_evloop_socket_create(c->worker->loop, dupfd, H2O_SOCKET_FLAG_DONT_READ);
    c->sock->data = c;
    c->fd = fd;
    c->write_armed = 0;
    return 0;
}

static void pgconn_on_retry(h2o_timeout_entry_t *entry)
{
    bench_pgconn_t *c = H2O_STRUCT_FROM_MEMBER(bench_pgconn_t, retry, entry);
    pgconn_start(c);
}

static void pgconn_schedule_retry(bench_pgconn_t *c)
{
    if (!h2o_timeout_is_linked(&c->retry))
        h2o_timeout_link(c->worker->loop, &c->worker->retry_timeout, &c->retry);
}

static void pgconn_broken(bench_pgconn_t *c, const char *why)
{
    bench_query_t *q = c->query;
    bench_log(c->worker, "postgres connection lost (%s): %s", why, c->pg != NULL ? PQerrorMessage(c->pg) : "");
    c->query = NULL;
    if (q != NULL) {
        q->conn = NULL;
        RESPOND_LIT(q->req, 503, "Service Unavailable", "{\"error\":\"unavailable\"}");
    }
    pgconn_detach_socket(c);
    if (c->pg != NULL) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    c->state = PGC_DOWN;
    pgconn_schedule_retry(c);
}

static void pgconn_start(bench_pgconn_t *c)
{
    c->pg = PQconnectStart(bench_conf.pg_url);
    if (c->pg == NULL) {
        bench_log(c->worker, "PQconnectStart: out of memory");
        abort();
    }
    if (PQstatus(c->pg) == CONNECTION_BAD || pgconn_attach_socket(c) != 0) {
        pgconn_broken(c, "connect");
        return;
    }
    PQsetnonblocking(c->pg, 1);
    c->state = PGC_CONNECTING;
    /* libpq: behave as if PQconnectPoll had last answered PGRES_POLLING_WRITING */
    pgconn_arm_write(c);
}

static void pgconn_connect_step(bench_pgconn_t *c)
{
    PostgresPollingStatusType st = PQconnectPoll(c->pg);
    if (st != PGRES_POLLING_FAILED && PQsocket(c->pg) != c->fd) {
        /* libpq moved to another socket (next address): follow it */
        pgconn_detach_socket(c);
        if (pgconn_attach_socket(c) != 0) {
            pgconn_broken(c, "connect");
            return;
        }
    }
    switch (st) {
    case PGRES_POLLING_READING:
        h2o_socket_read_start(c->sock, pgconn_on_read);
        break;
    case PGRES_POLLING_WRITING:
        h2o_socket_read_stop(c->sock);
        pgconn_arm_write(c);
        break;
    case PGRES_POLLING_OK:
        h2o_socket_read_start(c->sock, pgconn_on_read);
        c->state = PGC_PREPARING;
        if (!PQsendPrepare(c->pg, BENCH_STMT_NAME, bench_conf.sql, bench_conf.tenant != NULL ? 2 : 1, NULL)) {
            pgconn_broken(c, "prepare");
            return;
        }
        pgconn_flush(c);
        break;
    default:
        pgconn_broken(c, "connect");
        break;
    }
}

static void pgconn_flush(bench_pgconn_t *c)
{
    switch (PQflush(c->pg)) {
    case 0:
        break;
    case 1:
        pgconn_arm_write(c);
        break;
    default:
        pgconn_broken(c, "send");
        break;
    }
}

static void pgconn_send(bench_pgconn_t *c, bench_query_t *q)
{
    const char *values[2] = {q->name, bench_conf.tenant};
    int nparams = bench_conf.tenant != NULL ? 2 : 1;

    c->state = PGC_BUSY;
    c->query = q;
    q->conn = c;
    if (q->prepared ? !PQsendQueryPrepared(c->pg, BENCH_STMT_NAME, nparams, values, NULL, NULL, 0)
                           : !PQsendQueryParams(c->pg, bench_conf.sql, nparams, NULL, values, NULL, NULL, 0)) {
        pgconn_broken(c, "send");
        return;
    }
    pgconn_flush(c);
}

static void pgconn_on_write(h2o_socket_t *sock, const char *err)
{
    bench_pgconn_t *c = sock->data;
    c->write_armed = 0;
    if (err != NULL) {
        pgconn_broken(c, err);
        return;
    }
    if (c->state == PGC_CONNECTING)
        pgconn_connect_step(c);
    else if (c->state == PGC_BUSY || c->state == PGC_PREPARING)
        pgconn_flush(c);
}

/* Answers the request of c (if its client is still there) from one result. */
static void pgconn_answer(bench_pgconn_t *c, PGresult *res)
{
    bench_query_t *q = c->query;
    h2o_req_t *req;

    if (q == NULL)
        return; /* client gone, or already answered */
    c->query = NULL;
    q->conn = NULL;
    req = q->req;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        bench_log(c->worker, "query failed: %s", PQresultErrorMessage(res));
        RESPOND_LIT(req, 500, "Internal Server Error", "{\"error\":\"internal_error\"}");
        return;
    }
    if (PQntuples(res) == 0) {
        RESPOND_LIT(req, 404, "Not Found", "{\"error\":\"not_found\"}");
        return;
    }

    const char *name = PQgetvalue(res, 0, 0);
    const char *desc = PQnfields(res) > 1 && !PQgetisnull(res, 0, 1) ? PQgetvalue(res, 0, 1) : NULL;
    size_t cap = 64 + 6 * strlen(name) + (desc != NULL ? 6 * strlen(desc) : 0);
    char *body = h2o_mem_alloc_pool(&req->pool, cap), *p = body;

    memcpy(p, "{\"name\":", 8);
    p = json_put_string(p + 8, name);
    memcpy(p, ",\"description\":", 15);
    p += 15;
    if (desc != NULL) {
        p = json_put_string(p, desc);
    } else {
        memcpy(p, "null", 4);
        p += 4;
    }
    *p++ = '}';
    respond(req, 200, "OK", body, (size_t)(p - body));
}

static void pgconn_on_read(h2o_socket_t *sock, const char *err)
{
    bench_pgconn_t *c = sock->data;

    if (err != NULL) {
        pgconn_broken(c, err);
        return;
    }
    if (c->state == PGC_CONNECTING) {
        pgconn_connect_step(c);
        return;
    }
    if (!PQconsumeInput(c->pg)) {
        pgconn_broken(c, "read");
        return;
    }
    PGnotify *n;
    while ((n = PQnotifies(c->pg)) != NULL)
        PQfreemem(n);
    if (c->state == PGC_PREPARING) {
        while (!PQisBusy(c->pg)) {
            PGresult *res = PQgetResult(c->pg);
            if (res == NULL) {
                c->state = PGC_IDLE;
                pgconn_take_waiter(c);
                return;
            }
            if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                bench_log(c->worker, "cannot prepare the query: %s", PQresultErrorMessage(res));
                PQclear(res);
                pgconn_broken(c, "prepare");
                return;
            }
            PQclear(res);
        }
        return;
    }
    if (c->state != PGC_BUSY) {
        if (PQstatus(c->pg) == CONNECTION_BAD)
            pgconn_broken(c, "idle");
        return;
    }
    while (!PQisBusy(c->pg)) {
        PGresult *res = PQgetResult(c->pg);
        if (res == NULL) {
            /* the query is complete: the connection is free again */
            if (c->query != NULL) {
                bench_query_t *q = c->query;
                c->query = NULL;
                q->conn = NULL;
                RESPOND_LIT(q->req, 500, "Internal Server Error", "{\"error\":\"internal_error\"}");
            }
            c->state = PGC_IDLE;
            pgconn_take_waiter(c);
            return;
        }
        pgconn_answer(c, res);
        PQclear(res);
    }
}

/* ---- HTTP --------------------------------------------------------------- */

/* If the raw path (before any '?') is prefix + one segment, sets *name to that segment decoded (in req->pool). */
static int match_name(h2o_req_t *req, const char *prefix, size_t prefix_len, char **name)
{
    size_t end = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const char *seg = req->path.base + prefix_len;

    if (end <= prefix_len || memcmp(req->path.base, prefix, prefix_len) != 0)
        return 0;
    *name = NULL;
    if (memchr(seg, '/', end - prefix_len) == NULL && end - prefix_len <= 3 * BENCH_MAX_NAME)
        *name = decode_segment(&req->pool, seg, end - prefix_len);
    return 1;
}

static void start_query(h2o_req_t *req, char *name, int prepared)
{
    bench_worker_t *w = H2O_STRUCT_FROM_MEMBER(bench_worker_t, ctx, req->conn->ctx);
    bench_query_t *q;
    size_t down = 0;

    if (name == NULL) {
        RESPOND_LIT(req, 404, "Not Found", "{\"error\":\"not_found\"}");
        return;
    }
    if (w->conns == NULL) {
        RESPOND_LIT(req, 503, "Service Unavailable", "{\"error\":\"no database configured\"}");
        return;
    }

    q = h2o_mem_alloc_shared(&req->pool, sizeof(*q), query_on_dispose);
    q->req = req;
    q->worker = w;
    q->conn = NULL;
    q->waiting = (h2o_linklist_t){NULL, NULL}; /* not linked */
    q->name = name;
    q->prepared = prepared;

    for (size_t i = 0; i < bench_conf.pool; ++i) {
        if (w->conns[i].state == PGC_IDLE) {
            pgconn_send(&w->conns[i], q);
            return;
        }
        down += w->conns[i].state == PGC_DOWN;
    }
    if (down == bench_conf.pool || w->queued >= bench_conf.queue_max) {
        /* database unreachable (reconnecting), or too many waiting already */
        RESPOND_LIT(req, 503, "Service Unavailable", "{\"error\":\"unavailable\"}");
        return;
    }
    h2o_linklist_insert(&w->queue, &q->waiting);
    ++w->queued;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    static const char hello[] = "{\"message\":\"hello\",\"service\":\"mf-bench-raw\"}";
    char *name;
    (void)self;

    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"))) {
        RESPOND_LIT(req, 405, "Method Not Allowed", "{\"error\":\"method_not_allowed\"}");
        return 0;
    }
    if (h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/hello"))) {
        RESPOND_LIT(req, 200, "OK", hello);
        return 0;
    }
    if (match_name(req, H2O_STRLIT("/datasets/"), &name)) {
        start_query(req, name, 0);
        return 0;
    }
    if (match_name(req, H2O_STRLIT("/prepared/datasets/"), &name)) {
        start_query(req, name, 1);
        return 0;
    }
    RESPOND_LIT(req, 404, "Not Found", "{\"error\":\"not_found\"}");
    return 0;
}

/* ---- threads and listeners ---------------------------------------------- */

static int open_listener(void)
{
    struct sockaddr_in addr;
    int fd, on = 1;

    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)bench_conf.port);
    if (inet_pton(AF_INET, bench_conf.host, &addr.sin_addr) != 1) {
        fprintf(stderr, "mf-bench-raw: bad --host %s (IPv4 address expected)\n", bench_conf.host);
        return -1;
    }
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, SOMAXCONN) != 0) {
        fprintf(stderr, "mf-bench-raw: cannot listen on %s:%u: %s\n", bench_conf.host, bench_conf.port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    bench_worker_t *w = listener->data;
    h2o_socket_t *sock;

    if (err != NULL)
        return;
    for (int i = 0; i < 64 && (sock = h2o_evloop_socket_accept(listener)) != NULL; ++i)
        h2o_accept(&w->accept_ctx, sock);
}

static void *worker_main(void *arg)
{
    bench_worker_t *w = arg;

    while (!bench_stop)
        h2o_evloop_run(w->loop, 100);
    return NULL;
}

static int worker_init(bench_worker_t *w, size_t index, int listen_fd)
{
    w->index = index;
    w->loop = h2o_evloop_create();
    h2o_context_init(&w->ctx, w->loop, &bench_h2o_config);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = bench_h2o_config.hosts;
    h2o_linklist_init_anchor(&w->queue);
    h2o_timeout_init(w->loop, &w->retry_timeout, BENCH_RECONNECT_MS);

    w->listener = h2o_evloop_socket_create(w->loop, listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    w->listener->data = w;
    h2o_socket_read_start(w->listener, on_accept);

    if (bench_conf.pg_url != NULL && bench_conf.pool != 0) {
        w->conns = calloc(bench_conf.pool, sizeof(*w->conns));
        if (w->conns == NULL)
            abort();
        for (size_t i = 0; i < bench_conf.pool; ++i) {
            bench_pgconn_t *c = &w->conns[i];
            c->worker = w;
            c->fd = -1;
            c->state = PGC_DOWN;
            c->retry.cb = pgconn_on_retry;
            pgconn_start(c);
        }
    }
    return 0;
}

static void on_signal(int sig)
{
    (void)sig;
    bench_stop = 1;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: mf-bench-raw [options]\n"
                 "  -H, --host ADDR     listen address (MF_BENCH_HOST, default 127.0.0.1)\n"
                 "  -p, --port PORT     listen port (MF_BENCH_PORT, default 8090)\n"
                 "  -t, --threads N     loop threads (MF_BENCH_THREADS, default 2)\n"
                 "  -c, --pool N        Postgres connections per thread (MF_BENCH_POOL, default 8)\n"
                 "  -q, --queue N       waiting requests per thread before 503 (MF_BENCH_QUEUE, default 256)\n"
                 "  -d, --pg-url URL    libpq connection string (MF_BENCH_PG_URL); without it /datasets is 503\n"
                 "  -s, --sql SQL       query, $1 = dataset name (MF_BENCH_SQL, default: %s)\n"
                 "  -T, --tenant VALUE  optional $2 of the query (MF_BENCH_TENANT)\n"
                 "  -V, --version       print the h2o and libpq versions\n"
                 "routes: GET /hello, GET /datasets/{name} (PQsendQueryParams),\n"
                 "        GET /prepared/datasets/{name} (prepared once per connection)\n",
            BENCH_DEFAULT_SQL);
}

static int parse_size(const char *s, size_t min, size_t max, size_t *out)
{
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = (size_t)v;
    return 0;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : dflt;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"host", required_argument, NULL, 'H'},    {"port", required_argument, NULL, 'p'},
                                             {"threads", required_argument, NULL, 't'}, {"pool", required_argument, NULL, 'c'},
                                             {"queue", required_argument, NULL, 'q'},   {"pg-url", required_argument, NULL, 'd'},
                                             {"sql", required_argument, NULL, 's'},     {"tenant", required_argument, NULL, 'T'},
                                             {"help", no_argument, NULL, 'h'},          {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    const char *port = env_or("MF_BENCH_PORT", "8090"), *threads = env_or("MF_BENCH_THREADS", "2"),
               *pool = env_or("MF_BENCH_POOL", "8"), *queue = env_or("MF_BENCH_QUEUE", "256");
    size_t v;
    int ch;

    bench_conf.host = env_or("MF_BENCH_HOST", "127.0.0.1");
    bench_conf.pg_url = env_or("MF_BENCH_PG_URL", NULL);
    bench_conf.sql = env_or("MF_BENCH_SQL", BENCH_DEFAULT_SQL);
    bench_conf.tenant = env_or("MF_BENCH_TENANT", NULL);
    while ((ch = getopt_long(argc, argv, "H:p:t:c:q:d:s:T:hV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'H':
            bench_conf.host = optarg;
            break;
        case 'p':
            port = optarg;
            break;
        case 't':
            threads = optarg;
            break;
        case 'c':
            pool = optarg;
            break;
        case 'q':
            queue = optarg;
            break;
        case 'd':
            bench_conf.pg_url = optarg;
            break;
        case 's':
            bench_conf.sql = optarg;
            break;
        case 'T':
            bench_conf.tenant = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("mf-bench-raw h2o %s libpq %d\n", H2O_VERSION, PQlibVersion());
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (parse_size(port, 1, 65535, &v) != 0) {
        fprintf(stderr, "mf-bench-raw: bad port: %s\n", port);
        return 2;
    }
    bench_conf.port = (unsigned)v;
    if (parse_size(threads, 1, 64, &bench_conf.threads) != 0 || parse_size(pool, 0, 256, &bench_conf.pool) != 0 ||
        parse_size(queue, 0, 1000000, &bench_conf.queue_max) != 0) {
        fprintf(stderr, "mf-bench-raw: bad --threads (1-64), --pool (0-256) or --queue (0-1000000)\n");
        return 2;
    }

    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    h2o_config_init(&bench_h2o_config);
    bench_h2o_config.max_request_entity_size = 64 * 1024;
    h2o_hostconf_t *host = h2o_config_register_host(&bench_h2o_config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pathconf = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(pathconf, sizeof(*handler));
    handler->on_req = on_req;

    bench_worker_t *workers = calloc(bench_conf.threads, sizeof(*workers));
    if (workers == NULL)
        abort();
    for (size_t i = 0; i < bench_conf.threads; ++i) {
        int fd = open_listener();
        if (fd < 0)
            return 1;
        if (worker_init(&workers[i], i, fd) != 0)
            return 1;
    }
    fprintf(stderr, "mf-bench-raw: listening on %s:%u, %zu threads, %zu Postgres connections per thread\n", bench_conf.host,
            bench_conf.port, bench_conf.threads, bench_conf.pg_url != NULL ? bench_conf.pool : (size_t)0);

    for (size_t i = 0; i < bench_conf.threads; ++i) {
        if (pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]) != 0) {
            fprintf(stderr, "mf-bench-raw: pthread_create failed\n");
            return 1;
        }
    }
    for (size_t i = 0; i < bench_conf.threads; ++i)
        pthread_join(workers[i].tid, NULL);

    /* the loops have stopped: close the database connections politely */
    for (size_t i = 0; i < bench_conf.threads; ++i) {
        for (size_t j = 0; workers[i].conns != NULL && j < bench_conf.pool; ++j) {
            if (workers[i].conns[j].pg != NULL)
                PQfinish(workers[i].conns[j].pg);
        }
    }
    fprintf(stderr, "mf-bench-raw: stopped\n");
    return 0;
}
