/*
 * redis.c: see redis.h. The hiredis event hooks map onto the h2o socket:
 * addRead/delRead start and stop read notifications, addWrite arms a one-shot
 * write notification (h2o asserts if it is armed twice, so a flag guards it),
 * delWrite is a no-op (a spurious write callback finds nothing to write), and
 * cleanup closes the h2o socket. A 200 ms tick reconnects after a loss.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <h2o.h>
#include <hiredis/async.h>
#include "mf/log.h"
#include "mf/redis.h"
#include "mf/util.h"

#define RECONNECT_TICK_MS 200

struct mf_redis {
    h2o_evloop_t *loop;
    char host[256];
    int port;
    redisAsyncContext *ac;
    h2o_socket_t *sock;
    int reading, write_armed, connected, closing;
    uint64_t retry_at_ms;
    int backoff_ms;
    h2o_timeout_t tick;
    h2o_timeout_entry_t tick_entry;
    char *channel; /* subscribed channel, or NULL */
    mf_redis_message_cb on_message;
    void *message_data;
};

static void subscribe_now(mf_redis_t *r);

typedef struct {
    mf_redis_cb cb;
    void *data;
} pending_t;

int mf_redis_parse_url(const char *url, char *host, size_t hostlen, int *port)
{
    const char *p = url;
    if (strncmp(p, "redis://", 8) == 0)
        p += 8;
    const char *at = strchr(p, '@'); /* credentials are not supported by RESP2 AUTH here */
    if (at != NULL)
        p = at + 1;
    const char *colon = strchr(p, ':'), *slash = strchr(p, '/');
    size_t hl = colon ? (size_t)(colon - p) : slash ? (size_t)(slash - p) : strlen(p);
    if (hl == 0 || hl >= hostlen)
        return MF_EINVALID_REQUEST;
    memcpy(host, p, hl);
    host[hl] = '\0';
    *port = 6379;
    if (colon != NULL) {
        long long v;
        size_t pl = slash ? (size_t)(slash - colon - 1) : strlen(colon + 1);
        if (mf_parse_int(colon + 1, pl, 1, 65535, &v) != 0)
            return MF_EINVALID_REQUEST;
        *port = (int)v;
    }
    return 0;
}

static void on_io(h2o_socket_t *sock, const char *err);

static void ev_add_read(void *p)
{
    mf_redis_t *r = p;
    if (r->sock != NULL && !r->reading) {
        r->reading = 1;
        h2o_socket_read_start(r->sock, on_io);
    }
}

static void ev_del_read(void *p)
{
    mf_redis_t *r = p;
    if (r->sock != NULL && r->reading) {
        r->reading = 0;
        h2o_socket_read_stop(r->sock);
    }
}

static void on_writable(h2o_socket_t *sock, const char *err)
{
    mf_redis_t *r = sock->data;
    r->write_armed = 0;
    if (r->ac != NULL)
        redisAsyncHandleWrite(r->ac);
}

static void ev_add_write(void *p)
{
    mf_redis_t *r = p;
    if (r->sock != NULL && !r->write_armed) {
        r->write_armed = 1;
        h2o_socket_notify_write(r->sock, on_writable);
    }
}

static void ev_del_write(void *p) {}

static void ev_cleanup(void *p)
{
    mf_redis_t *r = p;
    if (r->sock != NULL) {
        h2o_socket_t *s = r->sock;
        r->sock = NULL;
        if (r->reading)
            h2o_socket_read_stop(s);
        r->reading = 0;
        r->write_armed = 0;
        h2o_socket_close(s);
    }
}

static void on_io(h2o_socket_t *sock, const char *err)
{
    mf_redis_t *r = sock->data;
    if (r->ac != NULL)
        redisAsyncHandleRead(r->ac);
}

static void schedule_retry(mf_redis_t *r)
{
    r->backoff_ms = r->backoff_ms == 0 ? 100 : r->backoff_ms * 2;
    if (r->backoff_ms > 5000)
        r->backoff_ms = 5000;
    r->retry_at_ms = mf_now_ms() + (uint64_t)r->backoff_ms;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    mf_redis_t *r = ac->data;
    if (status != REDIS_OK) {
        MF_LOG_WARN_(NULL, "redis connect to %s:%d failed: %s", r->host, r->port, ac->errstr);
        r->ac = NULL; /* hiredis frees the context after this callback */
        schedule_retry(r);
        return;
    }
    r->connected = 1;
    r->backoff_ms = 0;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    mf_redis_t *r = ac->data;
    if (!r->closing)
        MF_LOG_WARN_(NULL, "redis connection to %s:%d lost: %s", r->host, r->port, ac->errstr ? ac->errstr : "closed");
    r->ac = NULL;
    r->connected = 0;
    schedule_retry(r);
}

static void start(mf_redis_t *r)
{
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
    if (ac == NULL || ac->err) {
        MF_LOG_WARN_(NULL, "redis connect to %s:%d failed: %s", r->host, r->port, ac ? ac->errstr : "out of memory");
        if (ac != NULL)
            redisAsyncFree(ac);
        schedule_retry(r);
        return;
    }
    ac->data = r;
    ac->ev.data = r;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    int fd = dup(ac->c.fd);
    MF_ASSERT(fd >= 0);
    r->sock = h2o_evloop_socket_create(r->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    r->sock->data = r;
    r->ac = ac;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    ev_add_write(r); /* the connect completes when the socket becomes writable */
    subscribe_now(r); /* queued by hiredis until connected; again after every reconnect */
}

static void on_subscription(redisAsyncContext *ac, void *reply_, void *privdata)
{
    mf_redis_t *r = privdata;
    redisReply *reply = reply_;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING || strcmp(reply->element[0]->str, "message") != 0 ||
        reply->element[2]->type != REDIS_REPLY_STRING)
        return; /* the subscribe confirmation, or a disconnect */
    r->on_message(r->message_data, reply->element[2]->str, reply->element[2]->len);
}

static void subscribe_now(mf_redis_t *r)
{
    if (r->channel != NULL && r->ac != NULL)
        redisAsyncCommand(r->ac, on_subscription, r, "SUBSCRIBE %s", r->channel);
}

void mf_redis_subscribe(mf_redis_t *r, const char *channel, mf_redis_message_cb cb, void *data)
{
    MF_ASSERT(r->channel == NULL);
    r->channel = mf_strdup(channel);
    r->on_message = cb;
    r->message_data = data;
    subscribe_now(r);
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    mf_redis_t *r = H2O_STRUCT_FROM_MEMBER(mf_redis_t, tick_entry, entry);
    if (r->ac == NULL && !r->closing && r->retry_at_ms <= mf_now_ms())
        start(r);
    h2o_timeout_link(r->loop, &r->tick, &r->tick_entry);
}

mf_redis_t *mf_redis_create(mf_redis_loop_t *loop, const char *url)
{
    mf_redis_t *r = mf_calloc(1, sizeof(*r));
    r->loop = loop;
    if (mf_redis_parse_url(url, r->host, sizeof(r->host), &r->port) != 0) {
        MF_LOG_ERROR_(NULL, "MF_REDIS_URL is not redis://host:port");
        snprintf(r->host, sizeof(r->host), "127.0.0.1");
        r->port = 6379;
    }
    start(r);
    h2o_timeout_init(loop, &r->tick, RECONNECT_TICK_MS);
    r->tick_entry.cb = on_tick;
    h2o_timeout_link(loop, &r->tick, &r->tick_entry);
    return r;
}

void mf_redis_destroy(mf_redis_t *r)
{
    if (r == NULL)
        return;
    r->closing = 1;
    h2o_timeout_unlink(&r->tick_entry);
    h2o_timeout_dispose(r->loop, &r->tick);
    if (r->ac != NULL)
        redisAsyncFree(r->ac); /* calls pending callbacks with NULL, then cleanup */
    free(r->channel);
    free(r);
}

int mf_redis_connected(const mf_redis_t *r) { return r->ac != NULL && r->connected; }

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    pending_t *p = privdata;
    p->cb(p->data, reply);
    free(p);
}

int mf_redis_command(mf_redis_t *r, mf_redis_cb cb, void *data, int argc, const char **argv, const size_t *lens)
{
    if (!mf_redis_connected(r))
        return MF_EUNAVAILABLE;
    pending_t *p = mf_malloc(sizeof(*p));
    p->cb = cb;
    p->data = data;
    if (redisAsyncCommandArgv(r->ac, on_reply, p, argc, argv, lens) != REDIS_OK) {
        free(p);
        return MF_EUNAVAILABLE;
    }
    return 0;
}

redisContext *mf_redis_connect_blocking(const char *url, int timeout_ms, char *err, size_t errlen)
{
    char host[256];
    int port;
    if (mf_redis_parse_url(url, host, sizeof(host), &port) != 0) {
        snprintf(err, errlen, "MF_REDIS_URL must be redis://host:port");
        return NULL;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (c == NULL || c->err) {
        snprintf(err, errlen, "cannot connect to redis at %s:%d: %s", host, port, c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

int mf_redis_ack_delete(redisContext *c, const char *stream, const char *group, const char *const *ids, size_t n)
{
    if (n == 0)
        return 0;
    const char **argv = mf_malloc((n + 3) * sizeof(*argv));
    int ok = redisAppendCommand(c, "MULTI") == REDIS_OK;
    argv[0] = "XACK";
    argv[1] = stream;
    argv[2] = group;
    memcpy(argv + 3, ids, n * sizeof(*ids));
    ok = ok && redisAppendCommandArgv(c, (int)(n + 3), argv, NULL) == REDIS_OK;
    argv[0] = "XDEL";
    memmove(argv + 2, argv + 3, n * sizeof(*ids));
    ok = ok && redisAppendCommandArgv(c, (int)(n + 2), argv, NULL) == REDIS_OK;
    ok = ok && redisAppendCommand(c, "EXEC") == REDIS_OK;
    for (int k = 0; ok && k < 4; k++) {
        void *rep = NULL;
        ok = redisGetReply(c, &rep) == REDIS_OK;
        freeReplyObject(rep);
    }
    free(argv);
    return ok ? 0 : -1;
}
