/*
 * log.c: formats one JSON object per line into a stack buffer and writes it
 * with a single write(2), so lines from different threads never interleave.
 * Untrusted text is escaped (control bytes as \u00XX) and truncated.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "mf/log.h"
#include "mf/util.h"

mf_log_level_t mf_log_min_level = MF_LOG_INFO;
static const char *service_name = "metafuse";
static const char *level_names[] = {"debug", "info", "warn", "error"};

const char *mf_log_service(void) { return service_name; }

void mf_log_init(const char *service, const char *level)
{
    service_name = service;
    for (int i = 0; i < 4; i++)
        if (level != NULL && strcmp(level, level_names[i]) == 0)
            mf_log_min_level = (mf_log_level_t)i;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 when invalid or cut short. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 && p[0] < 0xe0 ? 2 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return mf_text_is_clean((const char *)p, len, 0) ? len : 0;
}

size_t mf_log_escape(char *out, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    if (cap == 0)
        return 0;
    for (size_t i = 0; i < n && s != NULL;) {
        const unsigned char *p = (const unsigned char *)s + i;
        unsigned char c = *p;
        char tmp[8];
        const char *rep = tmp;
        size_t rl, used = 1;
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            rl = 2;
        } else if (c == '\n') {
            rep = "\\n";
            rl = 2;
        } else if (c < 0x20 || c == 0x7f) {
            rl = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x", c);
        } else if (c < 0x80) {
            tmp[0] = (char)c;
            rl = 1;
        } else if ((used = utf8_len(p, n - i)) > 0) {
            rep = (const char *)p; /* a whole character, copied whole or not at all */
            rl = used;
        } else {
            rep = "\\ufffd"; /* invalid or cut-short UTF-8 */
            rl = 6;
            used = 1;
        }
        if (o + rl + 1 > cap)
            break;
        memcpy(out + o, rep, rl);
        o += rl;
        i += used;
    }
    out[o] = '\0';
    return o;
}

/* Appends ,"key":"escaped value" when value is set. */
static size_t put_field(char *buf, size_t cap, size_t o, const char *key, const char *value, size_t maxlen)
{
    if (value == NULL || o + strlen(key) + 8 >= cap)
        return o;
    o += (size_t)snprintf(buf + o, cap - o, ",\"%s\":\"", key);
    size_t n = strlen(value);
    o += mf_log_escape(buf + o, cap - o - 3 < maxlen ? cap - o - 3 : maxlen, value, n);
    buf[o++] = '"';
    buf[o] = '\0';
    return o;
}

static size_t head(char *buf, size_t cap, mf_log_level_t level, const mf_log_ctx_t *ctx)
{
    char ts[32];
    mf_time_rfc3339(ts);
    size_t o = (size_t)snprintf(buf, cap, "{\"ts\":\"%s\",\"level\":\"%s\",\"service\":\"%s\"", ts,
                                level_names[level], service_name);
    if (ctx != NULL) {
        o = put_field(buf, cap, o, "request_id", ctx->request_id, 80);
        o = put_field(buf, cap, o, "tenant", ctx->tenant, 80);
        o = put_field(buf, cap, o, "route", ctx->route, 200);
    }
    return o;
}

static void emit(char *buf, size_t cap, size_t o)
{
    if (o + 3 > cap)
        o = cap - 3;
    buf[o++] = '}';
    buf[o++] = '\n';
    ssize_t w = write(STDERR_FILENO, buf, o);
    (void)w;
}

void mf_log_write(mf_log_level_t level, const mf_log_ctx_t *ctx, const char *fmt, ...)
{
    char msg[2048], buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t o = head(buf, sizeof(buf), level, ctx);
    o = put_field(buf, sizeof(buf), o, "msg", msg, 2048);
    emit(buf, sizeof(buf), o);
}

void mf_log_access(const mf_log_ctx_t *ctx, const char *method, int status, double duration_ms, const char *client)
{
    char buf[1024];
    mf_log_level_t level = status >= 500 ? MF_LOG_WARN : MF_LOG_INFO;
    if (level < mf_log_min_level)
        return;
    size_t o = head(buf, sizeof(buf), level, ctx);
    o = put_field(buf, sizeof(buf), o, "msg", "request", 16);
    o = put_field(buf, sizeof(buf), o, "method", method, 16);
    o = put_field(buf, sizeof(buf), o, "client", client, 64);
    if (o + 64 < sizeof(buf))
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, ",\"status\":%d,\"duration_ms\":%.3f", status, duration_ms);
    emit(buf, sizeof(buf), o);
}
