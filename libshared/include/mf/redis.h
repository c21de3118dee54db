/*
 * redis.h: Redis for MetaFuse services (hiredis 0.14, RESP2).
 *
 * mf_redis_t is an asynchronous connection joined to an h2o event loop: its
 * socket is a DONT_READ h2o socket on a dup() of hiredis's fd, so h2o only
 * says when it is readable or writable and hiredis does the I/O. Commands
 * issued while a reply is pending are pipelined on the one connection. A lost
 * connection fails its pending commands (callback with NULL) and reconnects
 * with backoff; commands issued while disconnected are refused at once.
 *
 * Workers, which may block, use mf_redis_connect_blocking and plain
 * redisCommand.
 */
#ifndef MF_REDIS_H
#define MF_REDIS_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include "mf/error.h"

typedef struct st_h2o_evloop_t mf_redis_loop_t;
typedef struct mf_redis mf_redis_t;

/* reply is borrowed (freed after the callback) or NULL when the connection failed. */
typedef void (*mf_redis_cb)(void *data, redisReply *reply);

/* Split redis://host:port[/db] into host and port (db is ignored). 0 or MF_EINVALID_REQUEST. */
int mf_redis_parse_url(const char *url, char *host, size_t hostlen, int *port) MF_MUST_CHECK;

/* New connection to url on loop; connects in the background. */
mf_redis_t *mf_redis_create(mf_redis_loop_t *loop, const char *url);
/* Disconnect; pending callbacks get NULL. NULL is a no-op. */
void mf_redis_destroy(mf_redis_t *redis);
/* 1 when connected. */
int mf_redis_connected(const mf_redis_t *redis);
/* Send a command (arguments copied). 0: cb will be called once, later. MF_EUNAVAILABLE when not
 * connected (cb is not called). */
int mf_redis_command(mf_redis_t *redis, mf_redis_cb cb, void *data, int argc, const char **argv,
                     const size_t *lens) MF_MUST_CHECK;

/* Called with each message published on the subscribed channel (payload borrowed). */
typedef void (*mf_redis_message_cb)(void *data, const char *payload, size_t len);
/* Put the connection in subscribe mode on channel (it then serves no other commands), again
 * after every reconnect. One subscription per connection. */
void mf_redis_subscribe(mf_redis_t *redis, const char *channel, mf_redis_message_cb cb, void *data);

/* A blocking connection with a connect/command timeout; NULL with err set. */
redisContext *mf_redis_connect_blocking(const char *url, int timeout_ms, char *err, size_t errlen);

/* On a blocking connection: acknowledge ids in the consumer group and delete them from the
 * stream, in one MULTI/EXEC, so the stream's length is its backlog. 0, or -1 when the
 * connection broke (the entries stay pending; acknowledging again later is harmless). */
int mf_redis_ack_delete(redisContext *c, const char *stream, const char *group, const char *const *ids,
                        size_t n) MF_MUST_CHECK;

#endif
