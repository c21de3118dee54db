/*
 * json.c: see json.h. Type checks come first, then bounds, then text
 * cleanliness, so a message always names the first thing wrong.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "mf/json.h"
#include "mf/util.h"

int mf_json_fail(mf_json_err_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return MF_EINVALID_REQUEST;
}

/* Every member a decoder reads names its path, error or not: plain copies, not snprintf. */
void mf_json_path_key(char *out, size_t cap, const char *path, const char *key)
{
    if (cap == 0)
        return;
    size_t n = 0;
    if (path != NULL && path[0] != '\0') {
        size_t plen = strnlen(path, cap - 1);
        memcpy(out, path, plen);
        n = plen;
        if (n < cap - 1)
            out[n++] = '.';
    }
    size_t klen = strnlen(key, cap - 1 - n);
    memcpy(out + n, key, klen);
    out[n + klen] = '\0';
}

void mf_json_path_index(char *out, size_t cap, const char *path, size_t i)
{
    snprintf(out, cap, "%s[%zu]", path ? path : "", i);
}

json_t *mf_json_parse_object(const char *buf, size_t len, mf_json_err_t *err)
{
    json_error_t e;
    if (buf == NULL || len == 0) {
        mf_json_fail(err, "request body is required");
        return NULL;
    }
    json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);
    if (v == NULL) {
        mf_json_fail(err, "malformed JSON at line %d column %d: %.120s", e.line, e.column, e.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        mf_json_fail(err, "request body must be a JSON object");
        return NULL;
    }
    return v;
}

int mf_json_only_fields(json_t *obj, const char *path, const char *const *allowed, mf_json_err_t *err)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        int ok = 0;
        for (size_t i = 0; allowed[i] != NULL && !ok; i++)
            ok = strcmp(allowed[i], key) == 0;
        if (!ok) {
            char where[200], shown[80];
            mf_json_path_key(where, sizeof(where), path, "");
            size_t n = strlen(key) < 60 ? strlen(key) : 60;
            if (!mf_text_is_clean(key, n, 0))
                snprintf(shown, sizeof(shown), "(unprintable)");
            else
                snprintf(shown, sizeof(shown), "%.*s", (int)n, key);
            if (path && path[0])
                return mf_json_fail(err, "unknown field \"%s\" in %s", shown, path);
            return mf_json_fail(err, "unknown field \"%s\"", shown);
        }
    }
    return 0;
}

/* Common presence handling: 1 = go on with *v, 0 = absent/null accepted, <0 = error. */
static int member(json_t *obj, const char *path, const char *key, int flags, json_t **v, char *where, size_t cap,
                  mf_json_err_t *err)
{
    mf_json_path_key(where, cap, path, key);
    *v = json_object_get(obj, key);
    if (*v == NULL || json_is_null(*v)) {
        if (flags & MF_JSON_REQUIRED)
            return mf_json_fail(err, "%s is required", where);
        if (*v != NULL && !(flags & MF_JSON_NULLABLE))
            return mf_json_fail(err, "%s must not be null", where);
        return 0;
    }
    return 1;
}

int mf_json_check_text(json_t *v, const char *where, size_t min, size_t max, int flags, mf_json_err_t *err)
{
    if (!json_is_string(v))
        return mf_json_fail(err, "%s must be a string", where);
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (len < min)
        return mf_json_fail(err, min == 1 ? "%s must not be empty" : "%s is too short", where);
    if (len > max)
        return mf_json_fail(err, "%s is too long (at most %zu characters)", where, max);
    if (!mf_text_is_clean(s, len, (flags & MF_JSON_MULTILINE) != 0))
        return mf_json_fail(err, "%s contains control characters or invalid UTF-8", where);
    return 0;
}

int mf_json_string(json_t *obj, const char *path, const char *key, int flags, size_t min, size_t max,
                   const char **out, mf_json_err_t *err)
{
    char where[200];
    json_t *v;
    *out = NULL;
    int m = member(obj, path, key, flags, &v, where, sizeof(where), err);
    if (m <= 0)
        return m;
    int rc = mf_json_check_text(v, where, min, max, flags, err);
    if (rc != 0)
        return rc;
    *out = json_string_value(v);
    return 0;
}

int mf_json_bool(json_t *obj, const char *path, const char *key, int flags, int *out, mf_json_err_t *err)
{
    char where[200];
    json_t *v;
    int m = member(obj, path, key, flags, &v, where, sizeof(where), err);
    if (m <= 0)
        return m;
    if (!json_is_boolean(v))
        return mf_json_fail(err, "%s must be a boolean", where);
    *out = json_is_true(v);
    return 0;
}

int mf_json_int(json_t *obj, const char *path, const char *key, int flags, long long min, long long max,
                long long *out, int *present, mf_json_err_t *err)
{
    char where[200];
    json_t *v;
    *present = 0;
    int m = member(obj, path, key, flags, &v, where, sizeof(where), err);
    if (m <= 0)
        return m;
    if (!json_is_integer(v))
        return mf_json_fail(err, "%s must be an integer", where);
    json_int_t i = json_integer_value(v);
    if (i < min || i > max)
        return mf_json_fail(err, "%s must be between %lld and %lld", where, min, max);
    *out = i;
    *present = 1;
    return 0;
}

int mf_json_array(json_t *obj, const char *path, const char *key, int flags, size_t max, json_t **out,
                  mf_json_err_t *err)
{
    char where[200];
    json_t *v;
    *out = NULL;
    int m = member(obj, path, key, flags, &v, where, sizeof(where), err);
    if (m <= 0)
        return m;
    if (!json_is_array(v))
        return mf_json_fail(err, "%s must be an array", where);
    if (json_array_size(v) > max)
        return mf_json_fail(err, "%s has too many elements (at most %zu)", where, max);
    *out = v;
    return 0;
}

int mf_json_object(json_t *obj, const char *path, const char *key, int flags, json_t **out, mf_json_err_t *err)
{
    char where[200];
    json_t *v;
    *out = NULL;
    int m = member(obj, path, key, flags, &v, where, sizeof(where), err);
    if (m <= 0)
        return m;
    if (!json_is_object(v))
        return mf_json_fail(err, "%s must be an object", where);
    *out = v;
    return 0;
}

char *mf_json_dump(const json_t *v, size_t *len)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s == NULL)
        mf_panic(__FILE__, __LINE__, "json_dumps failed");
    *len = strlen(s);
    return s;
}
