/*
 * http.c: the server (see http.h).
 *
 * Threads: the main thread starts MF_HTTP_THREADS loop threads and waits for
 * a signal. Each loop thread owns an h2o context, a SO_REUSEPORT listener, a
 * database pool and an API-key cache; threads share only read-only
 * configuration, the route table and atomic metrics.
 *
 * Request life: on_req allocates an mf_req_t (malloc, refcounted) and ties it
 * to h2o's request pool with a shared guard whose dispose callback clears
 * r->req and drops h2o's reference. A database operation holds another
 * reference; when it completes after the client left, r->req is NULL and the
 * answer is dropped. Dispatch: CORS preflight -> route match (404/405) ->
 * authentication (cache, else a security-definer lookup) -> role check ->
 * body checks (415/413/invalid_json) -> handler. With MF_WEBUI_DIR, a GET
 * outside the service paths that matches no route goes to the dashboard.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <h2o.h>
#include "mf/auth.h"
#include "mf/config.h"
#include "mf/http.h"
#include "mf/json.h"
#include "mf/log.h"
#include "mf/metrics.h"
#include "mf/quota.h"
#include "mf/redis.h"
#include "mf/util.h"

#if H2O_USE_LIBUV
#error "build with -DH2O_USE_LIBUV=0 (the evloop flavour of h2o)"
#endif

#define MAX_ROUTES 256
#define MAX_SEGMENTS 12
#define KEY_CACHE_SLOTS 8192
#define MAX_QUERY_PARAMS 32
/* h2o buffers bodies up to this; between MF_HTTP_MAX_BODY and here we answer 413 with the envelope. */
#define H2O_BODY_HARD_CAP (64u * 1024 * 1024)

typedef struct {
    const mf_route_t *def;
    int nseg;
    const char *seg[MAX_SEGMENTS]; /* literal segment, or NULL for a parameter */
    const char *param_name[MAX_SEGMENTS];
    char *storage;
} compiled_route_t;

static compiled_route_t routes[MAX_ROUTES];
static const char *route_labels[MAX_ROUTES];
static const char *route_methods[MAX_ROUTES];
static size_t nroutes;

typedef struct {
    int index;
    pthread_t tid;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    mf_pg_pool_t *pool;
    mf_auth_cache_t *keys; /* the process's verified keys, shared by the loop threads */
    mf_redis_t *redis;
    mf_redis_t *revocations; /* subscribed to MF_REVOCATION_CHANNEL */
    h2o_multithread_receiver_t blocking_done; /* results of mf_req_run_blocking */
    int inflight;
    int started;
} loop_thread_t;

static h2o_globalconf_t globalconf;
static loop_thread_t *threads;
static int nthreads;
static volatile sig_atomic_t stop_requested;
static __thread loop_thread_t *current_thread;
static const char *service;
static int use_redis;

struct mf_req {
    int refs;
    h2o_req_t *req; /* NULL once h2o freed the request */
    loop_thread_t *thread;
    size_t route; /* index into routes, or SIZE_MAX */
    const compiled_route_t *cr;
    const char *params[MAX_SEGMENTS];
    int nquery; /* -1 until parsed */
    const char *query_keys[MAX_QUERY_PARAMS], *query_values[MAX_QUERY_PARAMS];
    json_t *body;
    const char *content_type;
    mf_identity_t id;
    char request_id[72];
    char client[64];
    char key_prefix[MF_KEY_PREFIX_LEN + 1];
    char key_hash[65];
    double started;
    int responded;
    void *data;
    void (*data_free)(void *);
    mf_req_done_fn after_fail_check; /* mf_req_unless_auth_blocked: what comes next */
    int pending_err;     /* mf_req_audit_and_respond_error: the answer once the row is written */
    char *pending_msg;
    mf_log_ctx_t log;
};

/* ---------- routes ---------- */

static void handle_healthz(mf_req_t *r);
static void handle_readyz(mf_req_t *r);
static void handle_metrics(mf_req_t *r);
static const mf_route_t builtin_routes[] = {
    {"GET", "/healthz", MF_ROLE_PUBLIC, handle_healthz, 0},
    {"GET", "/readyz", MF_ROLE_PUBLIC, handle_readyz, 0},
    {"GET", "/metrics", MF_ROLE_PUBLIC, handle_metrics, 0},
};

/* "/a/{b}" -> "/a/:b": braces inside label values trip many Prometheus parsers. */
static const char *metric_label(const char *pattern)
{
    char *out = mf_strdup(pattern), *o = out;
    for (const char *p = pattern; *p; p++) {
        if (*p == '{')
            *o++ = ':';
        else if (*p != '}')
            *o++ = *p;
    }
    *o = '\0';
    return out;
}

void mf_http_add_routes(const mf_route_t *defs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        MF_ASSERT(nroutes < MAX_ROUTES);
        compiled_route_t *cr = &routes[nroutes];
        cr->def = &defs[i];
        cr->storage = mf_strdup(defs[i].pattern);
        MF_ASSERT(cr->storage[0] == '/');
        char *save = NULL;
        for (char *tok = strtok_r(cr->storage + 1, "/", &save); tok != NULL; tok = strtok_r(NULL, "/", &save)) {
            MF_ASSERT(cr->nseg < MAX_SEGMENTS);
            size_t len = strlen(tok);
            if (tok[0] == '{' && tok[len - 1] == '}') {
                tok[len - 1] = '\0';
                cr->seg[cr->nseg] = NULL;
                cr->param_name[cr->nseg] = tok + 1;
            } else {
                cr->seg[cr->nseg] = tok;
            }
            cr->nseg++;
        }
        route_labels[nroutes] = metric_label(defs[i].pattern);
        route_methods[nroutes] = defs[i].method;
        nroutes++;
    }
}

/* "METHOD /pattern role": the route table with each route's minimum role ("public" when none). */
void mf_http_print_routes(void *fp)
{
    for (size_t i = 0; i < MF_ARRAY_SIZE(builtin_routes) + nroutes; i++) {
        const mf_route_t *def = i < MF_ARRAY_SIZE(builtin_routes) ? &builtin_routes[i]
                                                                   : routes[i - MF_ARRAY_SIZE(builtin_routes)].def;
        const char *role = def->role == MF_ROLE_PUBLIC ? "public" : mf_role_name(def->role);
        fprintf(fp, "%s %s %s\n", def->method, def->pattern, role ? role : "unknown");
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode (and '+' as space when form) into the pool; NULL on bad escapes,
 * NUL bytes or invalid UTF-8. */
static char *url_decode(h2o_mem_pool_t *pool, const char *s, size_t len, int form)
{
    char *out = h2o_mem_alloc_pool(pool, len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            if (i + 2 >= len)
                return NULL;
            int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return NULL;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (form && s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    if (!mf_text_is_clean(out, o, 0))
        return NULL;
    return out;
}

typedef enum { MATCH_NONE, MATCH_OK, MATCH_WRONG_METHOD, MATCH_BAD_ENCODING } match_t;

static match_t match_route(mf_req_t *r, h2o_iovec_t method, const char *path, size_t pathlen)
{
    const char *segs[MAX_SEGMENTS + 1];
    size_t seglen[MAX_SEGMENTS + 1];
    int nseg = 0;
    size_t i = 0;
    if (pathlen == 0 || path[0] != '/')
        return MATCH_NONE;
    i = 1;
    while (i <= pathlen) {
        size_t start = i;
        while (i < pathlen && path[i] != '/')
            i++;
        if (nseg > MAX_SEGMENTS)
            return MATCH_NONE;
        segs[nseg] = path + start;
        seglen[nseg] = i - start;
        nseg++;
        i++;
    }
    /* "/a/b/" has an empty last segment: treat trailing slash as no match */
    int path_matched = 0;
    for (size_t ri = 0; ri < nroutes; ri++) {
        const compiled_route_t *cr = &routes[ri];
        if (cr->nseg != nseg)
            continue;
        int ok = 1;
        for (int s = 0; s < nseg && ok; s++) {
            if (cr->seg[s] != NULL)
                ok = strlen(cr->seg[s]) == seglen[s] && memcmp(cr->seg[s], segs[s], seglen[s]) == 0;
            else
                ok = seglen[s] > 0;
        }
        if (!ok)
            continue;
        path_matched = 1;
        if (!h2o_memis(method.base, method.len, cr->def->method, strlen(cr->def->method)))
            continue;
        for (int s = 0; s < nseg; s++) {
            if (cr->seg[s] != NULL)
                continue;
            char *v = url_decode(&r->req->pool, segs[s], seglen[s], 0);
            if (v == NULL)
                return MATCH_BAD_ENCODING;
            r->params[s] = v;
        }
        r->route = ri;
        r->cr = cr;
        r->log.route = cr->def->pattern;
        return MATCH_OK;
    }
    return path_matched ? MATCH_WRONG_METHOD : MATCH_NONE;
}

/* ---------- request accessors ---------- */

const mf_identity_t *mf_req_identity(const mf_req_t *r) { return &r->id; }
const char *mf_req_id(const mf_req_t *r) { return r->request_id; }
const char *mf_req_client(const mf_req_t *r) { return r->client; }

static const char *request_cookie(mf_req_t *r, const char *name, size_t *len);

const char *mf_req_host(mf_req_t *r)
{
    h2o_iovec_t a = r->req->authority;
    if (a.len == 0)
        return NULL;
    char *copy = h2o_mem_alloc_pool(&r->req->pool, a.len + 1);
    memcpy(copy, a.base, a.len);
    copy[a.len] = '\0';
    return copy;
}

const char *mf_req_cookie(mf_req_t *r, const char *name)
{
    size_t len;
    const char *v = request_cookie(r, name, &len);
    if (v == NULL)
        return NULL;
    char *copy = h2o_mem_alloc_pool(&r->req->pool, len + 1);
    memcpy(copy, v, len);
    copy[len] = '\0';
    return copy;
}
json_t *mf_req_body(const mf_req_t *r) { return r->body; }

const char *mf_req_raw_body(const mf_req_t *r, size_t *len, const char **content_type)
{
    MF_ASSERT(r->req != NULL);
    *len = r->req->entity.len;
    *content_type = r->content_type;
    return r->req->entity.base ? r->req->entity.base : "";
}
void mf_req_set_data(mf_req_t *r, void *data, void (*free_fn)(void *))
{
    r->data = data;
    r->data_free = free_fn;
}
void *mf_req_data(const mf_req_t *r) { return r->data; }

const char *mf_req_param(const mf_req_t *r, const char *name)
{
    for (int s = 0; r->cr != NULL && s < r->cr->nseg; s++)
        if (r->cr->seg[s] == NULL && strcmp(r->cr->param_name[s], name) == 0)
            return r->params[s];
    MF_ASSERT(!"unknown path parameter");
    return NULL;
}

static int parse_query(mf_req_t *r)
{
    h2o_req_t *req = r->req;
    r->nquery = 0;
    if (req->query_at == SIZE_MAX)
        return 0;
    const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        if (amp == NULL)
            amp = end;
        if (amp > q) {
            const char *eq = memchr(q, '=', (size_t)(amp - q));
            const char *kend = eq ? eq : amp;
            if (r->nquery >= MAX_QUERY_PARAMS)
                return MF_EINVALID_REQUEST;
            char *k = url_decode(&req->pool, q, (size_t)(kend - q), 1);
            char *v = eq ? url_decode(&req->pool, eq + 1, (size_t)(amp - eq - 1), 1) : (char *)"";
            if (k == NULL || v == NULL)
                return MF_EINVALID_REQUEST;
            r->query_keys[r->nquery] = k;
            r->query_values[r->nquery] = v;
            r->nquery++;
        }
        q = amp + 1;
    }
    return 0;
}

const char *mf_req_query(mf_req_t *r, const char *name)
{
    MF_ASSERT(r->req != NULL && r->nquery >= 0);
    for (int i = 0; i < r->nquery; i++)
        if (strcmp(r->query_keys[i], name) == 0)
            return r->query_values[i];
    return NULL;
}

const char *mf_req_header(mf_req_t *r, const char *name)
{
    if (r->req == NULL)
        return NULL;
    ssize_t i = h2o_find_header_by_str(&r->req->headers, name, strlen(name), -1);
    if (i < 0)
        return NULL;
    h2o_iovec_t v = r->req->headers.entries[i].value;
    return h2o_strdup(&r->req->pool, v.base, v.len).base;
}

void mf_req_add_header(mf_req_t *r, const char *name, const char *value)
{
    if (r->req == NULL)
        return;
    h2o_iovec_t n = h2o_strdup(&r->req->pool, name, strlen(name));
    h2o_iovec_t v = h2o_strdup(&r->req->pool, value, strlen(value));
    h2o_add_header_by_str(&r->req->pool, &r->req->res.headers, n.base, n.len, 1, NULL, v.base, v.len);
}

mf_pg_pool_t *mf_http_thread_pool(void) { return current_thread ? current_thread->pool : NULL; }
struct mf_redis *mf_http_thread_redis(void) { return current_thread ? current_thread->redis : NULL; }
struct st_h2o_evloop_t *mf_http_thread_loop(void) { return current_thread ? current_thread->ctx.loop : NULL; }

/* ---------- lifetime ---------- */

static void req_release(mf_req_t *r)
{
    if (--r->refs > 0)
        return;
    r->thread->inflight--;
    if (r->data_free != NULL)
        r->data_free(r->data);
    json_decref(r->body);
    free(r->pending_msg);
    free(r);
}

void mf_req_hold(mf_req_t *r) { r->refs++; }
void mf_req_unhold(mf_req_t *r) { req_release(r); }
int mf_req_answered(const mf_req_t *r) { return r->responded; }

static void guard_dispose(void *p)
{
    mf_req_t *r = *(mf_req_t **)p;
    r->req = NULL;
    req_release(r);
}

/* ---------- responses ---------- */

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return status >= 500 ? "Internal Server Error" : "OK";
    }
}

static void add_common_headers(mf_req_t *r)
{
    h2o_req_t *req = r->req;
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, r->request_id,
                          strlen(r->request_id));
    const char *origin = mf_config_str(MF_CFG_CORS_ORIGIN);
    if (origin[0] != '\0') {
        ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
        if (i >= 0 && h2o_memis(req->headers.entries[i].value.base, req->headers.entries[i].value.len, origin,
                                strlen(origin))) {
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, origin,
                           strlen(origin));
            h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-expose-headers"), 0,
                                  NULL,
                                  H2O_STRLIT("ETag, X-Request-ID, RateLimit-Limit, RateLimit-Remaining, "
                                             "RateLimit-Reset, Retry-After"));
            h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-credentials"),
                                  0, NULL, H2O_STRLIT("true"));
        }
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Origin"));
    }
}

static void finish_log(mf_req_t *r, int status)
{
    double dur = mf_now_s() - r->started;
    mf_metrics_observe_request(r->route, status, dur);
    mf_log_access(&r->log, r->req ? h2o_strdup(&r->req->pool, r->req->method.base, r->req->method.len).base : "",
                  status, dur * 1000.0, r->client);
}

/* The status and common headers of the one answer; NULL when the client has gone. */
static h2o_req_t *start_answer(mf_req_t *r, int status)
{
    MF_ASSERT(!r->responded);
    r->responded = 1;
    if (r->req == NULL)
        return NULL;
    finish_log(r, status);
    r->req->res.status = status;
    r->req->res.reason = reason_of(status);
    add_common_headers(r);
    return r->req;
}

static void send_body(mf_req_t *r, int status, const char *ctype, const char *body, size_t len)
{
    h2o_req_t *req = start_answer(r, status);
    if (req == NULL)
        return;
    if (ctype != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype, strlen(ctype));
    req->res.content_length = len;
    /* h2o may dispose of the request inside send: keep r alive across the call */
    r->refs++;
    if (len == 0 && status == 204) {
        static h2o_generator_t generator = {NULL, NULL};
        h2o_start_response(req, &generator);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    } else {
        h2o_send_inline(req, body, len);
    }
    req_release(r);
}

void mf_respond_json(mf_req_t *r, int status, const char *body, size_t len)
{
    send_body(r, status, "application/json", body, len);
}

void mf_respond_jsonv(mf_req_t *r, int status, json_t *value)
{
    size_t len;
    char *s = mf_json_dump(value, &len);
    mf_respond_json(r, status, s, len);
    free(s);
}

void mf_respond_empty(mf_req_t *r, int status) { send_body(r, status, NULL, "", 0); }

/* mf_respond_file: one chunk in flight at a time; h2o calls proceed when the client took it. */
#define FILE_CHUNK (256u * 1024)
typedef struct {
    h2o_generator_t super;
    int fd;
    off_t off;
    size_t left;
    char buf[FILE_CHUNK];
} file_generator_t;

static void file_generator_dispose(void *p) { close(((file_generator_t *)p)->fd); }

static void file_generator_proceed(h2o_generator_t *self, h2o_req_t *req)
{
    file_generator_t *g = (file_generator_t *)self;
    size_t want = g->left < FILE_CHUNK ? g->left : FILE_CHUNK;
    ssize_t n = want ? pread(g->fd, g->buf, want, g->off) : 0;
    while (n < 0 && errno == EINTR)
        n = pread(g->fd, g->buf, want, g->off);
    if (n < 0 || (n == 0 && want > 0)) { /* the file broke: the client sees a short body */
        MF_LOG_ERROR_(NULL, "reading a file answer failed: %s", n < 0 ? strerror(errno) : "short file");
        h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    g->off += n;
    g->left -= (size_t)n;
    h2o_iovec_t chunk = h2o_iovec_init(g->buf, (size_t)n);
    h2o_send(req, &chunk, 1, g->left == 0 ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

void mf_respond_file(mf_req_t *r, int status, const char *content_type, int fd, size_t size)
{
    h2o_req_t *req = start_answer(r, status);
    if (req == NULL) {
        close(fd);
        return;
    }
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    req->res.content_length = size;
    file_generator_t *g = h2o_mem_alloc_shared(&req->pool, sizeof(*g), file_generator_dispose);
    g->super.proceed = file_generator_proceed;
    g->super.stop = NULL;
    g->fd = fd;
    g->off = 0;
    g->left = size;
    r->refs++; /* h2o may dispose of the request inside send */
    h2o_start_response(req, &g->super);
    file_generator_proceed(&g->super, req);
    req_release(r);
}

void mf_respond_error(mf_req_t *r, int err, const char *fmt, ...)
{
    char msg[MF_ERROR_MESSAGE_MAX];
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
    } else {
        snprintf(msg, sizeof(msg), "%s", mf_error_message(err));
    }
    mf_text_make_utf8(msg); /* a message cut mid-character, or quoting bad input, stays valid JSON */
    int status = mf_error_status(err);
    if (status >= 500)
        MF_LOG_ERROR_(&r->log, "answering %d: %s", status, msg);
    json_t *env = json_pack("{s:{s:s,s:s,s:s}}", "error", "code", mf_error_code(err), "message", msg, "request_id",
                            r->request_id);
    if (env == NULL) /* msg was not valid UTF-8: fall back to the table's message */
        env = json_pack("{s:{s:s,s:s,s:s}}", "error", "code", mf_error_code(err), "message",
                        mf_error_message(err), "request_id", r->request_id);
    if (r->req != NULL && (err == MF_EUNAVAILABLE || err == MF_ERATE_LIMITED) &&
        h2o_find_header(&r->req->res.headers, H2O_TOKEN_RETRY_AFTER, -1) < 0) /* unless the caller set one */
        h2o_add_header(&r->req->pool, &r->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
    if (r->req != NULL && err == MF_EUNAUTHORIZED)
        h2o_add_header_by_str(&r->req->pool, &r->req->res.headers, H2O_STRLIT("www-authenticate"), 0, NULL,
                              H2O_STRLIT("Bearer"));
    mf_respond_jsonv(r, status, env);
    json_decref(env);
}

void mf_respond_row_or_404(mf_req_t *r, PGresult *res, int status, const char *not_found_msg)
{
    if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0)) {
        mf_respond_error(r, MF_ENOT_FOUND, "%s", not_found_msg);
        return;
    }
    mf_respond_json(r, status, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

/* Revocations are published here; every replica's loop threads subscribe. */
#define MF_REVOCATION_CHANNEL "mf:keys:revoked"

static void ignore_reply(void *data, redisReply *reply) {}

void mf_http_forget_key(const char *key_id)
{
    if (current_thread != NULL)
        mf_auth_cache_forget_key(current_thread->keys, key_id);
    mf_auth_cache_invalidate_all(); /* entries cached before now, whatever they are (sessions too) */
    if (current_thread != NULL && current_thread->redis != NULL) {
        const char *argv[] = {"PUBLISH", MF_REVOCATION_CHANNEL, key_id};
        if (mf_redis_command(current_thread->redis, ignore_reply, NULL, 3, argv, NULL) != 0)
            MF_LOG_WARN_(NULL, "redis unreachable: other replicas drop revoked key %s within MF_KEY_CACHE_TTL",
                         key_id);
    }
}

static void on_revocation(void *data, const char *payload, size_t len) { mf_auth_cache_invalidate_all(); }

/* ---------- database glue ---------- */

typedef struct {
    mf_req_t *r;
    mf_req_pg_cb cb;
    int quiet; /* failures reach cb as NULL instead of an answer */
} pg_call_t;

static void on_pg_done(void *data, PGresult *res, int err, const char *message)
{
    pg_call_t *call = data;
    mf_req_t *r = call->r;
    mf_req_pg_cb cb = call->cb;
    int quiet = call->quiet;
    free(call);
    if (quiet && err != 0) {
        MF_LOG_WARN_(&r->log, "%s", message ? message : mf_error_message(err));
        if (r->req != NULL && !r->responded)
            cb(r, NULL);
    } else if (r->req != NULL && !r->responded) {
        if (err != 0)
            mf_respond_error(r, err, "%s", message ? message : mf_error_message(err));
        else
            cb(r, res);
        /* The database refused a tenant caller (its scope or grants do not reach the data): a denial too. */
        if (err == MF_EFORBIDDEN && r->id.tenant_id[0] != '\0' && r->cr != NULL) {
            char route[160];
            snprintf(route, sizeof(route), "%s %s", r->cr->def->method, r->cr->def->pattern);
            json_t *detail = json_pack("{s:s,s:s}", "route", route, "reason", message ? message : "");
            size_t len;
            char *text = detail != NULL ? mf_json_dump(detail, &len) : NULL;
            if (text != NULL)
                mf_req_audit_event(r, r->id.tenant_id, "permission.denied", r->id.actor, text);
            free(text);
            json_decref(detail);
        }
    }
    req_release(r);
}

static int submit(mf_req_t *r, int tenanted, const mf_pg_stmt_t *stmt, int nparams, const char *const *params,
                  mf_req_pg_cb cb, int quiet)
{
    pg_call_t *call = mf_malloc(sizeof(*call));
    call->r = r;
    call->cb = cb;
    call->quiet = quiet;
    mf_pg_ctx_t ctx = {tenanted ? r->id.tenant_id : NULL,
                       r->id.actor,
                       r->request_id,
                       r->client,
                       r->id.user_id,
                       r->id.write_all ? "on" : "",
                       r->id.scope};
    r->refs++;
    int rc = mf_pg_submit(r->thread->pool, &ctx, stmt, nparams, params, on_pg_done, call);
    if (rc != 0) {
        r->refs--;
        free(call);
        if (quiet)
            cb(r, NULL);
        else
            mf_respond_error(r, MF_EUNAVAILABLE, "the database is busy or unreachable; retry shortly");
    }
    return rc;
}

int mf_req_query_or_respond(mf_req_t *r, const mf_pg_stmt_t *stmt, int nparams, const char *const *params,
                            mf_req_pg_cb cb)
{
    MF_ASSERT(r->id.tenant_id[0] != '\0');
    return submit(r, 1, stmt, nparams, params, cb, 0);
}

int mf_req_query_untenanted_or_respond(mf_req_t *r, const mf_pg_stmt_t *stmt, int nparams,
                                       const char *const *params, mf_req_pg_cb cb)
{
    return submit(r, 0, stmt, nparams, params, cb, 0);
}

void mf_req_query_untenanted(mf_req_t *r, const mf_pg_stmt_t *stmt, int nparams, const char *const *params,
                             mf_req_pg_cb cb)
{
    (void)submit(r, 0, stmt, nparams, params, cb, 1);
}

/* ---------- redis glue ---------- */

void mf_http_enable_redis(void) { use_redis = 1; }

typedef struct {
    mf_req_t *r;
    mf_req_redis_cb cb;
} redis_call_t;

static void on_redis_done(void *data, redisReply *reply)
{
    redis_call_t *call = data;
    mf_req_t *r = call->r;
    mf_req_redis_cb cb = call->cb;
    free(call);
    if (!r->responded)
        cb(r, reply);
    req_release(r);
}

/* Send a command for r; on failure (Redis unreachable) answer nothing and return nonzero. */
static int redis_send(mf_req_t *r, int argc, const char **argv, const size_t *lens, mf_req_redis_cb cb)
{
    MF_ASSERT(r->thread->redis != NULL);
    /* After the API calls this thread counted so far (quota.h): a request reading the counters sees them. */
    (void)mf_quota_flush_thread();
    redis_call_t *call = mf_malloc(sizeof(*call));
    call->r = r;
    call->cb = cb;
    r->refs++;
    int rc = mf_redis_command(r->thread->redis, on_redis_done, call, argc, argv, lens);
    if (rc != 0) {
        r->refs--;
        free(call);
    }
    return rc;
}

int mf_req_redis(mf_req_t *r, int argc, const char **argv, const size_t *lens, mf_req_redis_cb cb)
{
    return r->thread->redis != NULL ? redis_send(r, argc, argv, lens, cb) : MF_EUNAVAILABLE;
}

int mf_req_redis_or_respond(mf_req_t *r, int argc, const char **argv, const size_t *lens, mf_req_redis_cb cb)
{
    int rc = redis_send(r, argc, argv, lens, cb);
    if (rc != 0)
        mf_respond_error(r, MF_EUNAVAILABLE, "the queue is unreachable; retry shortly");
    return rc;
}

/* ---------- blocking work off the loop ---------- */

/*
 * A few worker threads run blocking calls (an OpenID provider's discovery,
 * JWKS and token endpoints through libcurl) so that no loop thread ever
 * waits on the network; the result comes back to the request's own loop
 * thread through h2o's multithread queue.
 */
#define BLOCKING_WORKERS 2

typedef struct blocking_job {
    h2o_multithread_message_t msg; /* first: the loop side gets messages */
    struct blocking_job *next;
    mf_req_t *r;
    mf_blocking_fn work;
    void *arg;
    mf_req_done_fn done;
} blocking_job_t;

static pthread_mutex_t blocking_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t blocking_cond = PTHREAD_COND_INITIALIZER;
static blocking_job_t *blocking_head, *blocking_tail;
static pthread_once_t blocking_once = PTHREAD_ONCE_INIT;

static void *blocking_worker(void *unused)
{
    for (;;) {
        pthread_mutex_lock(&blocking_lock);
        while (blocking_head == NULL)
            pthread_cond_wait(&blocking_cond, &blocking_lock);
        blocking_job_t *job = blocking_head;
        blocking_head = job->next;
        if (blocking_head == NULL)
            blocking_tail = NULL;
        pthread_mutex_unlock(&blocking_lock);
        job->work(job->arg);
        h2o_multithread_send_message(&job->r->thread->blocking_done, &job->msg);
    }
    return NULL;
}

static void start_blocking_workers(void)
{
    for (int i = 0; i < BLOCKING_WORKERS; i++) {
        pthread_t tid;
        if (pthread_create(&tid, NULL, blocking_worker, NULL) != 0)
            mf_panic(__FILE__, __LINE__, "pthread_create failed");
        pthread_detach(tid);
    }
}

static void on_blocking_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        blocking_job_t *job = H2O_STRUCT_FROM_MEMBER(blocking_job_t, msg.link, messages->next);
        h2o_linklist_unlink(&job->msg.link);
        mf_req_t *r = job->r;
        mf_req_done_fn done = job->done;
        free(job);
        if (r->req != NULL && !r->responded)
            done(r);
        req_release(r);
    }
}

void mf_req_run_blocking(mf_req_t *r, mf_blocking_fn work, void *arg, mf_req_done_fn done)
{
    pthread_once(&blocking_once, start_blocking_workers);
    blocking_job_t *job = mf_calloc(1, sizeof(*job));
    job->r = r;
    job->work = work;
    job->arg = arg;
    job->done = done;
    r->refs++;
    pthread_mutex_lock(&blocking_lock);
    if (blocking_tail)
        blocking_tail->next = job;
    else
        blocking_head = job;
    blocking_tail = job;
    pthread_cond_signal(&blocking_cond);
    pthread_mutex_unlock(&blocking_lock);
}

/* ---------- authentication ---------- */

/* Security-definer lookups: the credential only if it matches, is live and its user still a member. */
static mf_pg_stmt_t auth_key_stmt = {
    "mf_auth_lookup",
    "SELECT key_id, coalesce(tenant_id::text, ''), role, emit_quota, status, coalesce(user_id::text, ''), write_all, "
    "scope, display, '' FROM mf_auth_key($1, $2)",
    -1};
static mf_pg_stmt_t auth_session_stmt = {
    "mf_auth_session_lookup",
    "SELECT session_id, tenant_id::text, role, emit_quota, status, user_id::text, write_all, scope, display, "
    "csrf_token FROM mf_auth_session($1, $2::int)",
    -1};
static mf_pg_stmt_t audit_event_stmt = {"mf_audit_event_insert",
                                        "SELECT mf_audit_event(nullif($1, '')::uuid, $2, $3, $4::jsonb)", -1};
static mf_pg_stmt_t ready_stmt = {"mf_ready", "SELECT 1", -1};

/* Failed authentications per client address live in Redis for a minute (all replicas count together). */
#define AUTH_FAIL_KEY "mf:authfail:"
static const char auth_fail_script[] = "local n = redis.call('INCR', KEYS[1]) "
                                       "if n == 1 then redis.call('EXPIRE', KEYS[1], 60) end return n";

static void run_handler(mf_req_t *r);

static void ignore_pg(void *data, PGresult *res, int err, const char *message)
{
    if (err != 0)
        MF_LOG_WARN_(NULL, "audit event not recorded: %s", message ? message : mf_error_message(err));
}

void mf_req_audit_event(mf_req_t *r, const char *tenant_id, const char *action, const char *target,
                        const char *detail_json)
{
    mf_pg_ctx_t ctx = {NULL, r->id.actor, r->request_id, r->client, NULL, NULL, NULL};
    const char *params[] = {tenant_id ? tenant_id : "", action, target ? target : "", detail_json};
    if (r->thread->pool == NULL ||
        mf_pg_submit(r->thread->pool, &ctx, &audit_event_stmt, 4, params, ignore_pg, NULL) != 0)
        MF_LOG_WARN_(&r->log, "audit event %s not recorded: the database is busy or unreachable", action);
}

static void on_audited(void *data, PGresult *res, int err, const char *message)
{
    mf_req_t *r = data;
    if (err != 0)
        MF_LOG_WARN_(&r->log, "audit event not recorded: %s", message ? message : mf_error_message(err));
    if (r->req != NULL && !r->responded)
        mf_respond_error(r, r->pending_err, "%s", r->pending_msg);
    req_release(r);
}

void mf_req_audit_and_respond_error(mf_req_t *r, const char *tenant_id, const char *action, const char *target,
                                    const char *detail_json, int err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mf_pg_ctx_t ctx = {NULL, r->id.actor, r->request_id, r->client, NULL, NULL, NULL};
    const char *params[] = {tenant_id ? tenant_id : "", action, target ? target : "", detail_json};
    free(r->pending_msg);
    r->pending_err = err;
    r->pending_msg = mf_strdup(msg);
    r->refs++;
    if (r->thread->pool == NULL ||
        mf_pg_submit(r->thread->pool, &ctx, &audit_event_stmt, 4, params, on_audited, r) != 0) {
        r->refs--;
        MF_LOG_WARN_(&r->log, "audit event %s not recorded: the database is busy or unreachable", action);
        mf_respond_error(r, err, "%s", msg);
    }
}

static void on_fail_counted(mf_req_t *r, mf_redis_reply_t *reply) {}

void mf_req_count_auth_failure(mf_req_t *r)
{
    if (r->thread->redis == NULL || r->client[0] == '\0')
        return;
    char key[96];
    snprintf(key, sizeof(key), AUTH_FAIL_KEY "%s", r->client);
    const char *argv[] = {"EVAL", auth_fail_script, "1", key};
    if (redis_send(r, 4, argv, NULL, on_fail_counted) != 0)
        MF_LOG_WARN_(&r->log, "redis unreachable: failed authentication not counted");
}

/* Answer a failed authentication: 401, and count it against the client address. */
static void refuse_credentials(mf_req_t *r, const char *msg)
{
    MF_LOG_INFO_(&r->log, "authentication failed: %s", msg);
    mf_req_count_auth_failure(r);
    mf_respond_error(r, MF_EUNAUTHORIZED, "%s", msg);
}

/* quota.c's go-ahead: the route runs unless the client left meanwhile. */
static void admitted(mf_req_t *r)
{
    if (r->req != NULL)
        run_handler(r);
}

/* After the credential resolved (cache or lookup): tenant state, rate limits and quotas, then the route. */
static void authenticated(mf_req_t *r)
{
    if (r->id.suspended) {
        mf_respond_error(r, MF_ETENANT_SUSPENDED, "this tenant is suspended: its keys and sessions are refused");
        return;
    }
    mf_quota_admit(r, &r->id, admitted);
}

static void on_auth_lookup(mf_req_t *r, PGresult *res)
{
    if (PQntuples(res) != 1) {
        refuse_credentials(r, r->id.kind == MF_CRED_SESSION ? "the session is unknown, expired or signed out"
                                                            : "the API key is unknown, expired or revoked");
        return;
    }
    mf_identity_t *id = &r->id;
    snprintf(id->cred_id, sizeof(id->cred_id), "%s", PQgetvalue(res, 0, 0));
    snprintf(id->tenant_id, sizeof(id->tenant_id), "%s", PQgetvalue(res, 0, 1));
    id->role = mf_role_parse(PQgetvalue(res, 0, 2));
    id->emit_quota = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    id->suspended = strcmp(PQgetvalue(res, 0, 4), "active") != 0;
    snprintf(id->user_id, sizeof(id->user_id), "%s", PQgetvalue(res, 0, 5));
    id->write_all = strcmp(PQgetvalue(res, 0, 6), "on") == 0;
    snprintf(id->scope, sizeof(id->scope), "%s", PQgetvalue(res, 0, 7));
    if (id->kind == MF_CRED_SESSION)
        snprintf(id->actor, sizeof(id->actor), "user:%s", PQgetvalue(res, 0, 8));
    else
        snprintf(id->actor, sizeof(id->actor), "key:%s", r->key_prefix);
    snprintf(id->csrf_token, sizeof(id->csrf_token), "%s", PQgetvalue(res, 0, 9));
    uint64_t ttl = (uint64_t)mf_config_int(MF_CFG_KEY_CACHE_TTL) * 1000;
    if (ttl > 0) {
        int via_cookie = id->via_cookie;
        id->via_cookie = 0; /* cached per credential; how it arrived is per request */
        mf_auth_cache_put(r->thread->keys, r->key_hash, id, mf_now_ms() + ttl);
        id->via_cookie = via_cookie;
    }
    authenticated(r);
}

static void lookup_credential(mf_req_t *r)
{
    if (r->id.kind == MF_CRED_SESSION) {
        char idle[24];
        snprintf(idle, sizeof(idle), "%lld", mf_config_int(MF_CFG_SESSION_IDLE_TIMEOUT));
        const char *params[] = {r->key_hash, idle};
        if (mf_req_query_untenanted_or_respond(r, &auth_session_stmt, 2, params, on_auth_lookup) != 0)
            return;
        return;
    }
    const char *params[] = {r->key_prefix, r->key_hash};
    if (mf_req_query_untenanted_or_respond(r, &auth_key_stmt, 2, params, on_auth_lookup) != 0)
        return;
}

static void on_fail_count(mf_req_t *r, mf_redis_reply_t *reply)
{
    if (r->req == NULL)
        return; /* the client left */
    long long n = 0;
    if (reply != NULL && reply->type == REDIS_REPLY_STRING)
        n = strtoll(reply->str, NULL, 10);
    if (n >= mf_config_int(MF_CFG_AUTH_FAIL_LIMIT)) {
        MF_LOG_INFO_(&r->log, "too many failed authentications from %s", r->client);
        mf_req_add_header(r, "retry-after", "60");
        mf_respond_error(r, MF_ERATE_LIMITED, "too many failed sign-in attempts from this address; retry in a minute");
        return;
    }
    r->after_fail_check(r); /* a lost connection (NULL reply): go on without the limit */
}

void mf_req_unless_auth_blocked(mf_req_t *r, mf_req_done_fn next)
{
    if (r->thread->redis != NULL && r->client[0] != '\0') {
        char key[96];
        snprintf(key, sizeof(key), AUTH_FAIL_KEY "%s", r->client);
        const char *argv[] = {"GET", key};
        r->after_fail_check = next;
        if (redis_send(r, 2, argv, NULL, on_fail_count) == 0)
            return;
    }
    next(r); /* no Redis: go on without the limit rather than refuse */
}

/* The value of cookie `name` in the request (not NUL-terminated: *len bytes), or NULL. */
static const char *request_cookie(mf_req_t *r, const char *name, size_t *len)
{
    size_t nlen = strlen(name);
    for (ssize_t i = -1; (i = h2o_find_header(&r->req->headers, H2O_TOKEN_COOKIE, i)) >= 0;) {
        h2o_iovec_t v = r->req->headers.entries[i].value;
        const char *p = v.base, *end = v.base + v.len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == ';'))
                p++;
            const char *semi = memchr(p, ';', (size_t)(end - p));
            const char *stop = semi ? semi : end;
            if ((size_t)(stop - p) > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
                *len = (size_t)(stop - p - (ptrdiff_t)nlen - 1);
                return p + nlen + 1;
            }
            p = stop;
        }
    }
    return NULL;
}

static void authenticate(mf_req_t *r)
{
    const char *cred;
    size_t clen;
    ssize_t i = h2o_find_header(&r->req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i >= 0) {
        h2o_iovec_t v = r->req->headers.entries[i].value;
        if (v.len < 7 || strncasecmp(v.base, "Bearer ", 7) != 0) {
            mf_respond_error(r, MF_EUNAUTHORIZED, "the Authorization header must be \"Bearer <api key or session token>\"");
            return;
        }
        cred = v.base + 7;
        clen = v.len - 7;
        while (clen > 0 && cred[0] == ' ') {
            cred++;
            clen--;
        }
    } else if ((cred = request_cookie(r, MF_SESSION_COOKIE, &clen)) != NULL) {
        r->id.via_cookie = 1;
    } else {
        mf_respond_error(r, MF_EUNAUTHORIZED, "missing Authorization: Bearer <api key>, or a session cookie");
        return;
    }
    if (clen >= 4 && memcmp(cred, MF_SESSION_TOKEN_PREFIX, 4) == 0) {
        r->id.kind = MF_CRED_SESSION;
        if (mf_auth_session_parse(cred, clen, r->key_hash) != 0) {
            refuse_credentials(r, "malformed session token");
            return;
        }
    } else {
        r->id.kind = MF_CRED_KEY;
        if (r->id.via_cookie || mf_auth_key_parse(cred, clen, r->key_prefix, r->key_hash) != 0) {
            refuse_credentials(r, "malformed API key");
            return;
        }
    }
    int via_cookie = r->id.via_cookie;
    if (mf_auth_cache_get(r->thread->keys, r->key_hash, mf_now_ms(), &r->id)) {
        r->id.via_cookie = via_cookie;
        authenticated(r);
        return;
    }
    mf_req_unless_auth_blocked(r, lookup_credential);
}

/* Cookie-authenticated mutations must carry the session's CSRF token (a cross-site form cannot read it). */
static int csrf_ok(mf_req_t *r)
{
    if (r->id.kind != MF_CRED_SESSION || !r->id.via_cookie)
        return 1;
    h2o_iovec_t m = r->req->method;
    if (h2o_memis(m.base, m.len, H2O_STRLIT("GET")) || h2o_memis(m.base, m.len, H2O_STRLIT("HEAD")))
        return 1;
    ssize_t i = h2o_find_header_by_str(&r->req->headers, H2O_STRLIT("x-csrf-token"), -1);
    size_t want = strlen(r->id.csrf_token);
    return i >= 0 && want > 0 && r->req->headers.entries[i].value.len == want &&
           mf_ct_equal(r->req->headers.entries[i].value.base, r->id.csrf_token, want);
}

/* After authentication: role check, body checks, then the handler. */
static void run_handler(mf_req_t *r)
{
    const mf_route_t *def = r->cr->def;
    r->log.tenant = r->id.tenant_id[0] ? r->id.tenant_id : NULL;
    if (def->role != MF_ROLE_PUBLIC) {
        if (!mf_role_allows(r->id.role, def->role)) {
            MF_LOG_INFO_(&r->log, "permission denied: %s needs %s", r->id.actor, mf_role_name(def->role));
            char detail[160];
            snprintf(detail, sizeof(detail), "{\"route\":\"%s %s\",\"needs\":\"%s\"}", def->method, def->pattern,
                     mf_role_name(def->role));
            mf_req_audit_and_respond_error(r, r->id.tenant_id, "permission.denied", r->id.actor, detail, MF_EFORBIDDEN,
                                           "this needs the %s role", mf_role_name(def->role));
            return;
        }
        if (!csrf_ok(r)) {
            mf_req_audit_and_respond_error(r, r->id.tenant_id, "csrf.refused", r->id.actor, "{}", MF_EFORBIDDEN,
                                           "a cookie-authenticated change needs the session's X-CSRF-Token header");
            return;
        }
    }
    if (def->takes_body != MF_BODY_NONE) {
        h2o_req_t *req = r->req;
        ssize_t ct = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
        r->content_type = "";
        if (ct >= 0) {
            h2o_iovec_t v = req->headers.entries[ct].value;
            size_t n = 0;
            while (n < v.len && v.base[n] != ';' && v.base[n] != ' ')
                n++;
            char *lower = h2o_mem_alloc_pool(&req->pool, n + 1);
            for (size_t i = 0; i < n; i++)
                lower[i] = (char)h2o_tolower(v.base[i]);
            lower[n] = '\0';
            r->content_type = lower;
        }
        int file = def->takes_body == MF_BODY_FILE;
        int json = !file && (strcmp(r->content_type, "application/json") == 0 || r->content_type[0] == '\0');
        int raw_ok = def->takes_body == MF_BODY_RAW && (strcmp(r->content_type, "application/x-ndjson") == 0 ||
                                                        strcmp(r->content_type, "application/jsonl") == 0);
        int file_ok = file && (strcmp(r->content_type, "application/vnd.sqlite3") == 0 ||
                               strcmp(r->content_type, "application/octet-stream") == 0);
        if (!json && !raw_ok && !file_ok) {
            mf_respond_error(r, MF_EUNSUPPORTED_MEDIA_TYPE, "Content-Type must be %s",
                             file ? "application/vnd.sqlite3 or application/octet-stream"
                                  : def->takes_body == MF_BODY_RAW ? "application/json or application/x-ndjson"
                                                                   : "application/json");
            return;
        }
        long long max_body = mf_config_int(file ? MF_CFG_HTTP_MAX_UPLOAD : MF_CFG_HTTP_MAX_BODY);
        if (req->entity.len > (size_t)max_body) {
            mf_respond_error(r, MF_EPAYLOAD_TOO_LARGE, "request body is larger than %lld bytes", max_body);
            return;
        }
        if (def->takes_body == MF_BODY_JSON) {
            mf_json_err_t jerr;
            r->body = mf_json_parse_object(req->entity.base, req->entity.len, &jerr);
            if (r->body == NULL) {
                mf_respond_error(r, MF_EINVALID_JSON, "%s", jerr.msg);
                return;
            }
        }
    }
    def->handler(r);
    MF_ASSERT(r->responded || r->refs > 1); /* answered now, or an operation will answer */
}

/* ---------- built-in routes ---------- */

static void on_ready(mf_req_t *r, PGresult *res) { mf_respond_json(r, 200, H2O_STRLIT("{\"status\":\"ok\"}")); }

static void handle_healthz(mf_req_t *r) { mf_respond_json(r, 200, H2O_STRLIT("{\"status\":\"ok\"}")); }

static void handle_readyz(mf_req_t *r)
{
    if (r->thread->redis != NULL && !mf_redis_connected(r->thread->redis)) {
        mf_respond_error(r, MF_EUNAVAILABLE, "redis is not connected");
        return;
    }
    if (mf_req_query_untenanted_or_respond(r, &ready_stmt, 0, NULL, on_ready) != 0)
        return;
}

static void handle_metrics(mf_req_t *r)
{
    size_t len;
    char *text = mf_metrics_render(&len);
    send_body(r, 200, "text/plain; version=0.0.4", text, len);
    free(text);
}

/* Sum of pool figures over threads, for /metrics (reads are racy but word-sized). */
static double pool_stat(int which)
{
    double sum = 0;
    for (int i = 0; i < nthreads; i++) {
        if (threads[i].pool == NULL)
            continue;
        mf_pg_stats_t s;
        mf_pg_pool_stats(threads[i].pool, &s);
        sum += which == 0 ? s.connected : which == 1 ? s.busy : which == 2 ? s.waiting : (double)s.refused;
    }
    return sum;
}
static double pool_connected(void) { return pool_stat(0); }
static double pool_busy(void) { return pool_stat(1); }
static double pool_waiting(void) { return pool_stat(2); }
static double pool_refused(void) { return pool_stat(3); }

/* ---------- dispatch ---------- */

static int valid_request_id(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

static void answer_preflight(mf_req_t *r)
{
    h2o_req_t *req = r->req;
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-methods"), 0, NULL,
                          H2O_STRLIT("GET, POST, PUT, PATCH, DELETE, OPTIONS"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-headers"), 0, NULL,
                          H2O_STRLIT("Authorization, Content-Type, If-Match, X-Request-ID, Idempotency-Key, X-CSRF-Token"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-max-age"), 0, NULL,
                          H2O_STRLIT("600"));
    mf_respond_empty(r, 204);
}

/* ---------- the dashboard (MF_WEBUI_DIR) ---------- */

/*
 * mf-api serves the built dashboard beside the API. Handlers on "/": the API
 * (on_req), which passes unknown GET/HEAD paths on; h2o's file handler over the
 * folder; then index.html for any other path (client-side routes). "/assets/"
 * holds content-hashed files only, so no fallback there. A filter sets the
 * caching and security headers; service paths never reach the dashboard.
 */
#define DASHBOARD_CSP                                                                                              \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "          \
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

typedef struct {
    h2o_filter_t super;
    int immutable; /* content-hashed files: cache for a year */
} dashboard_filter_t;

/* Whether path (no query) is /prefix or under /prefix/. */
static int under_prefix(const char *path, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(path, prefix, n) == 0 && (len == n || path[n] == '/');
}

static int is_service_path(const char *path, size_t len)
{
    static const char *const prefixes[] = {"/api", "/auth", "/healthz", "/readyz", "/metrics"};
    for (size_t i = 0; i < MF_ARRAY_SIZE(prefixes); i++)
        if (under_prefix(path, len, prefixes[i]))
            return 1;
    return 0;
}

/* A request the API has no route for that the dashboard answers instead. */
static int is_dashboard_request(h2o_req_t *req, size_t pathlen)
{
    if (mf_config_str(MF_CFG_WEBUI_DIR)[0] == '\0')
        return 0;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))
        return 0;
    return !is_service_path(req->path.base, pathlen);
}

static void add_header(h2o_req_t *req, const char *name, const char *value)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 0, NULL, value, strlen(value));
}

static void on_dashboard_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    const dashboard_filter_t *f = (const dashboard_filter_t *)self;
    if (!is_service_path(req->path_normalized.base, req->path_normalized.len)) {
        int forever = f->immutable && req->res.status == 200;
        add_header(req, "cache-control", forever ? "public, max-age=31536000, immutable" : "no-cache");
        add_header(req, "content-security-policy", DASHBOARD_CSP);
        add_header(req, "x-content-type-options", "nosniff");
        add_header(req, "referrer-policy", "same-origin");
    }
    h2o_setup_next_ostream(req, slot);
}

static void dashboard_filter_register(h2o_pathconf_t *path, int immutable)
{
    dashboard_filter_t *f = (dashboard_filter_t *)h2o_create_filter(path, sizeof(*f));
    f->super.on_setup_ostream = on_dashboard_ostream;
    f->immutable = immutable;
}

/* Registers "/assets/" (before "/": h2o takes the first matching path). */
static void dashboard_register_assets(h2o_hostconf_t *host, const char *dir)
{
    char assets[PATH_MAX];
    snprintf(assets, sizeof(assets), "%s/assets", dir);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/assets/", 0);
    h2o_file_register(path, assets, NULL, NULL, 0);
    dashboard_filter_register(path, 1);
}

/* After the API handler on "/": the folder's files, then index.html for client-side routes. */
static void dashboard_register_root(h2o_pathconf_t *path, const char *dir)
{
    static const char *index_files[] = {"index.html", NULL};
    char index[PATH_MAX];
    snprintf(index, sizeof(index), "%s/index.html", dir);
    h2o_file_handler_t *files = h2o_file_register(path, dir, index_files, NULL, 0);
    h2o_mimemap_type_t *html =
        h2o_mimemap_get_type_by_extension(h2o_file_get_mimemap(files), h2o_iovec_init(H2O_STRLIT("html")));
    h2o_file_register_file(path, index, html, 0);
    dashboard_filter_register(path, 0);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    loop_thread_t *t = current_thread;
    mf_req_t *r = mf_calloc(1, sizeof(*r));
    r->refs = 1;
    r->req = req;
    r->thread = t;
    r->route = SIZE_MAX;
    r->nquery = -1;
    r->started = mf_now_s();
    t->inflight++;
    mf_req_t **guard = h2o_mem_alloc_shared(&req->pool, sizeof(*guard), guard_dispose);
    *guard = r;

    ssize_t hi = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);
    if (hi >= 0 && valid_request_id(req->headers.entries[hi].value.base, req->headers.entries[hi].value.len))
        snprintf(r->request_id, sizeof(r->request_id), "%.*s", (int)req->headers.entries[hi].value.len,
                 req->headers.entries[hi].value.base);
    else
        mf_random_hex(16, r->request_id);
    r->log.request_id = r->request_id;

    struct sockaddr_storage ss;
    socklen_t sslen = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (sslen == 0 || h2o_socket_getnumerichost((struct sockaddr *)&ss, sslen, r->client) == SIZE_MAX)
        r->client[0] = '\0';

    size_t pathlen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const char *origin = mf_config_str(MF_CFG_CORS_ORIGIN);
    if (origin[0] != '\0' && h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS"))) {
        answer_preflight(r);
        return 0;
    }
    switch (match_route(r, req->method, req->path.base, pathlen)) {
    case MATCH_NONE:
        if (is_dashboard_request(req, pathlen))
            return -1; /* the dashboard's handlers answer */
        mf_respond_error(r, MF_ENOT_FOUND, "no route for %.*s %.*s", (int)req->method.len, req->method.base,
                         (int)(pathlen > 200 ? 200 : pathlen), req->path.base);
        return 0;
    case MATCH_WRONG_METHOD:
        mf_respond_error(r, MF_EMETHOD_NOT_ALLOWED, "method %.*s is not allowed here", (int)req->method.len,
                         req->method.base);
        return 0;
    case MATCH_BAD_ENCODING:
        mf_respond_error(r, MF_EINVALID_REQUEST, "the path has a bad percent-encoding or invalid UTF-8");
        return 0;
    case MATCH_OK:
        break;
    }
    if (parse_query(r) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "the query string has a bad percent-encoding or too many parameters");
        return 0;
    }
    if (r->cr->def->role == MF_ROLE_PUBLIC)
        run_handler(r);
    else
        authenticate(r);
    return 0;
}

/* ---------- threads, listeners, shutdown ---------- */

static int open_listener(int reuseport, char *err, size_t errlen)
{
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)mf_config_int(MF_CFG_HTTP_PORT));
    if (inet_pton(AF_INET, mf_config_str(MF_CFG_HTTP_HOST), &addr.sin_addr) != 1) {
        snprintf(err, errlen, "MF_HTTP_HOST must be an IPv4 address (got \"%s\")", mf_config_str(MF_CFG_HTTP_HOST));
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 4096) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%lld: %s", mf_config_str(MF_CFG_HTTP_HOST),
                 mf_config_int(MF_CFG_HTTP_PORT), strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    loop_thread_t *t = listener->data;
    if (err != NULL)
        return;
    h2o_socket_t *sock;
    while ((sock = h2o_evloop_socket_accept(listener)) != NULL)
        h2o_accept(&t->accept_ctx, sock);
}

static void *thread_main(void *arg)
{
    loop_thread_t *t = arg;
    current_thread = t;
    h2o_context_init(&t->ctx, h2o_evloop_create(), &globalconf);
    t->accept_ctx.ctx = &t->ctx;
    t->accept_ctx.hosts = globalconf.hosts;
    h2o_multithread_register_receiver(t->ctx.queue, &t->blocking_done, on_blocking_done);
    if (mf_config_str(MF_CFG_PG_URL)[0] != '\0')
        t->pool = mf_pg_pool_create(t->ctx.loop, mf_config_str(MF_CFG_PG_URL), (int)mf_config_int(MF_CFG_PG_POOL_SIZE),
                                    (int)mf_config_int(MF_CFG_PG_QUEUE_MAX));
    if (use_redis) {
        t->redis = mf_redis_create(t->ctx.loop, mf_config_str(MF_CFG_REDIS_URL));
        t->revocations = mf_redis_create(t->ctx.loop, mf_config_str(MF_CFG_REDIS_URL));
        mf_redis_subscribe(t->revocations, MF_REVOCATION_CHANNEL, on_revocation, NULL);
    }
    char err[256];
    int fd = open_listener(1, err, sizeof(err));
    if (fd < 0) {
        MF_LOG_ERROR_(NULL, "%s", err);
        stop_requested = 1;
        return NULL;
    }
    t->listener = h2o_evloop_socket_create(t->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    t->listener->data = t;
    h2o_socket_read_start(t->listener, on_accept);
    __atomic_store_n(&t->started, 1, __ATOMIC_RELEASE);

    while (!stop_requested)
        h2o_evloop_run(t->ctx.loop, 100);

    /* Graceful stop: no new connections; finish what is in flight. */
    h2o_socket_read_stop(t->listener);
    h2o_socket_close(t->listener);
    t->listener = NULL;
    uint64_t deadline = mf_now_ms() + (uint64_t)mf_config_int(MF_CFG_SHUTDOWN_TIMEOUT) * 1000;
    while (t->inflight > 0 && mf_now_ms() < deadline)
        h2o_evloop_run(t->ctx.loop, 10);
    if (t->inflight > 0)
        MF_LOG_WARN_(NULL, "shutdown timeout with %d requests in flight", t->inflight);
    /* API calls counted but not yet sent to Redis (quota.h) are not lost. */
    while (mf_quota_flush_thread() > 0 && mf_now_ms() < deadline)
        h2o_evloop_run(t->ctx.loop, 10);
    h2o_context_request_shutdown(&t->ctx);
    return NULL;
}

static void on_signal(int sig) { stop_requested = 1; }

int mf_http_run(const char *service_name)
{
    service = service_name;
    signal(SIGPIPE, SIG_IGN);
    mf_http_add_routes(builtin_routes, MF_ARRAY_SIZE(builtin_routes));
    mf_pg_register(&auth_key_stmt);
    mf_pg_register(&auth_session_stmt);
    mf_pg_register(&audit_event_stmt);
    mf_pg_register(&ready_stmt);
    mf_metrics_init_routes(nroutes, route_labels, route_methods);
    mf_metrics_gauge_fn("mf_pg_pool_connections", "Open database connections.", pool_connected);
    mf_metrics_gauge_fn("mf_pg_pool_busy", "Database connections running a statement.", pool_busy);
    mf_metrics_gauge_fn("mf_pg_pool_waiting", "Requests waiting for a database connection.", pool_waiting);
    mf_metrics_gauge_fn("mf_pg_pool_refused", "Requests refused with 503 because the pool queue was full (cumulative).",
                        pool_refused);

    /* A stale process on the port would silently take half the connections (SO_REUSEPORT): refuse to start. */
    char err[256];
    int probe = open_listener(0, err, sizeof(err));
    if (probe < 0) {
        MF_LOG_ERROR_(NULL, "%s", err);
        return MF_EUNAVAILABLE;
    }
    close(probe);
    const char *webui = mf_config_str(MF_CFG_WEBUI_DIR);
    char index[PATH_MAX];
    snprintf(index, sizeof(index), "%s/index.html", webui);
    if (webui[0] != '\0' && access(index, R_OK) != 0) {
        MF_LOG_ERROR_(NULL, "MF_WEBUI_DIR=%s has no readable index.html (build it: make webui)", webui);
        return MF_EINVALID_REQUEST;
    }

    h2o_config_init(&globalconf);
    globalconf.max_request_entity_size = H2O_BODY_HARD_CAP;
    globalconf.server_name = h2o_iovec_init(H2O_STRLIT("metafuse"));
    h2o_hostconf_t *host = h2o_config_register_host(&globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    if (webui[0] != '\0')
        dashboard_register_assets(host, webui);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof(*handler));
    handler->on_req = on_req;
    if (webui[0] != '\0')
        dashboard_register_root(path, webui);

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    nthreads = (int)mf_config_int(MF_CFG_HTTP_THREADS);
    threads = mf_calloc((size_t)nthreads, sizeof(*threads));
    mf_auth_cache_t *verified_keys = mf_auth_cache_new(KEY_CACHE_SLOTS);
    for (int i = 0; i < nthreads; i++) {
        threads[i].index = i;
        threads[i].keys = verified_keys;
        if (pthread_create(&threads[i].tid, NULL, thread_main, &threads[i]) != 0)
            mf_panic(__FILE__, __LINE__, "pthread_create failed");
    }
    MF_LOG_INFO_(NULL, "%s listening on %s:%lld with %d threads", service, mf_config_str(MF_CFG_HTTP_HOST),
                 mf_config_int(MF_CFG_HTTP_PORT), nthreads);
    for (int i = 0; i < nthreads; i++)
        pthread_join(threads[i].tid, NULL);
    mf_auth_cache_destroy(verified_keys);
    int failed = 0;
    for (int i = 0; i < nthreads; i++)
        failed |= !threads[i].started;
    MF_LOG_INFO_(NULL, "%s stopped", service);
    return failed ? MF_EUNAVAILABLE : 0;
}
