/*
 * log.h: JSON-lines logs on stderr. The level is checked before any argument
 * is evaluated, so a disabled debug line costs one comparison. Every line
 * carries the service name and, when given a context, the request id, tenant
 * and route. Messages are escaped and truncated; never log secrets.
 */
#ifndef MF_LOG_H
#define MF_LOG_H

typedef enum { MF_LOG_DEBUG = 0, MF_LOG_INFO, MF_LOG_WARN, MF_LOG_ERROR } mf_log_level_t;

/* Per-request context of a log line; every member may be NULL. Borrowed. */
typedef struct {
    const char *request_id;
    const char *tenant;
    const char *route;
} mf_log_ctx_t;

extern mf_log_level_t mf_log_min_level;

/* Set the service name (borrowed, static) and the level by name ("info"). */
void mf_log_init(const char *service, const char *level);
/* The service name given to mf_log_init ("metafuse" before). */
const char *mf_log_service(void);
/* Write one line; use the MF_LOG_* macros instead so the level is checked first. */
void mf_log_write(mf_log_level_t level, const mf_log_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Write one access line for a finished request. */
void mf_log_access(const mf_log_ctx_t *ctx, const char *method, int status, double duration_ms, const char *client);

#define MF_LOG(level, ctx, ...)                                                                                \
    do {                                                                                                       \
        if ((level) >= mf_log_min_level)                                                                       \
            mf_log_write((level), (ctx), __VA_ARGS__);                                                         \
    } while (0)
#define MF_LOG_DEBUG_(ctx, ...) MF_LOG(MF_LOG_DEBUG, ctx, __VA_ARGS__)
#define MF_LOG_INFO_(ctx, ...) MF_LOG(MF_LOG_INFO, ctx, __VA_ARGS__)
#define MF_LOG_WARN_(ctx, ...) MF_LOG(MF_LOG_WARN, ctx, __VA_ARGS__)
#define MF_LOG_ERROR_(ctx, ...) MF_LOG(MF_LOG_ERROR, ctx, __VA_ARGS__)

/* Append s (n bytes) JSON-escaped into out (capacity cap, NUL-terminated,
 * truncated at cap). Returns the bytes written. Exposed for tests. */
size_t mf_log_escape(char *out, size_t cap, const char *s, size_t n);

#endif
