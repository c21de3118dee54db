/*
 * unit.h: what every unit test under tests/unit/libshared/ includes.
 *
 * cmocka needs <stdarg.h>, <stddef.h>, <stdint.h> and <setjmp.h> before
 * <cmocka.h>; this header includes them in that order. It adds checks for
 * table-driven tests: each takes a label naming the table row and, on a
 * mismatch, prints the row, the expected value and the value got (control
 * bytes and non-ASCII shown as \xNN so both sides are readable), then fails
 * the test the way cmocka's own assertions do.
 */
#ifndef MF_TESTS_UNIT_H
#define MF_TESTS_UNIT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include "mf/json.h"

#define MF_T_ROWS(a) (sizeof(a) / sizeof((a)[0]))

/* s[0..n) made printable into out (cap bytes): \n, \t, \r, \\, \" and \xNN. */
static inline const char *mf_t_show(char *out, size_t cap, const char *s, size_t n)
{
    size_t o = 0, i = 0;
    if (s == NULL) {
        snprintf(out, cap, "(null)");
        return out;
    }
    for (; i < n && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            o += (size_t)snprintf(out + o, cap - o, "\\n");
        else if (c == '\t')
            o += (size_t)snprintf(out + o, cap - o, "\\t");
        else if (c == '\r')
            o += (size_t)snprintf(out + o, cap - o, "\\r");
        else if (c == '\\' || c == '"')
            o += (size_t)snprintf(out + o, cap - o, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    if (i < n)
        o += (size_t)snprintf(out + o, cap - o, "...");
    out[o] = '\0';
    return out;
}

static inline void mf_t_fail_str(const char *label, const char *what, const char *want, size_t wlen,
                                 const char *got, size_t glen, const char *file, int line)
{
    char w[600], g[600];
    print_error("%s: %s\n  expected: \"%s\"\n  got:      \"%s\"\n", label, what, mf_t_show(w, sizeof(w), want, wlen),
                mf_t_show(g, sizeof(g), got, glen));
    _fail(file, line);
}

/* got equals want (both NUL-terminated; NULL equals only NULL). */
#define MF_CHECK_STR(label, got, want) mf_t_check_str((label), (got), (want), __FILE__, __LINE__)
static inline void mf_t_check_str(const char *label, const char *got, const char *want, const char *file, int line)
{
    if (got == NULL && want == NULL)
        return;
    if (got == NULL || want == NULL || strcmp(got, want) != 0)
        mf_t_fail_str(label, "strings differ", want, want ? strlen(want) : 0, got, got ? strlen(got) : 0, file, line);
}

/* got[0..glen) equals want[0..wlen) byte for byte. */
#define MF_CHECK_MEM(label, got, glen, want, wlen)                                                                    \
    mf_t_check_mem((label), (got), (glen), (want), (wlen), __FILE__, __LINE__)
static inline void mf_t_check_mem(const char *label, const void *got, size_t glen, const void *want, size_t wlen,
                                  const char *file, int line)
{
    if (glen != wlen || (wlen > 0 && memcmp(got, want, wlen) != 0)) {
        char what[80];
        snprintf(what, sizeof(what), "bytes differ (expected %zu bytes, got %zu)", wlen, glen);
        mf_t_fail_str(label, what, want, wlen, got, glen, file, line);
    }
}

/* needle occurs in haystack. */
#define MF_CHECK_CONTAINS(label, haystack, needle)                                                                    \
    mf_t_check_contains((label), (haystack), (needle), __FILE__, __LINE__)
static inline void mf_t_check_contains(const char *label, const char *haystack, const char *needle, const char *file,
                                       int line)
{
    if (haystack == NULL || strstr(haystack, needle) == NULL)
        mf_t_fail_str(label, "expected text not found", needle, strlen(needle), haystack,
                      haystack ? strlen(haystack) : 0, file, line);
}

/* got == want, both shown on failure. */
#define MF_CHECK_INT(label, got, want)                                                                                \
    mf_t_check_int((label), (long long)(got), (long long)(want), #got, __FILE__, __LINE__)
static inline void mf_t_check_int(const char *label, long long got, long long want, const char *expr, const char *file,
                                  int line)
{
    if (got != want) {
        print_error("%s: %s\n  expected: %lld\n  got:      %lld\n", label, expr, want, got);
        _fail(file, line);
    }
}

/* got and want are equal JSON values; both printed (compact, sorted keys) on failure. */
#define MF_CHECK_JSON(label, got, want) mf_t_check_json((label), (got), (want), __FILE__, __LINE__)
static inline void mf_t_check_json(const char *label, const json_t *got, const json_t *want, const char *file, int line)
{
    if (got != NULL && want != NULL && json_equal(got, want))
        return;
    char *g = got ? json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    char *w = want ? json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    print_error("%s: JSON differs\n  expected: %s\n  got:      %s\n", label, w ? w : "(null)", g ? g : "(null)");
    free(g);
    free(w);
    _fail(file, line);
}

/* Parse a JSON literal written in a test; a broken literal is a broken test. */
static inline json_t *mf_t_json(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
    if (v == NULL) {
        print_error("test JSON literal does not parse (%s): %s\n", e.text, text);
        fail();
    }
    return v;
}

/* Like mf_t_json, with every ' turned into " so JSON literals read well inside C strings. */
static inline json_t *mf_t_jq(const char *text)
{
    char *s = strdup(text);
    assert_non_null(s);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_t *v = mf_t_json(s);
    free(s);
    return v;
}

/* Run a decoder (mf_ingest_from_emit, mf_ingest_from_openlineage) on body (stolen); checks it
 * left its input unchanged, and frees the body before the event is looked at (the event must
 * not borrow from it). */
static inline json_t *mf_t_decode(json_t *(*decoder)(json_t *, mf_json_err_t *), json_t *body, mf_json_err_t *err)
{
    strcpy(err->msg, "(untouched)");
    json_t *before = json_deep_copy(body);
    json_t *out = decoder(body, err);
    MF_CHECK_JSON("the decoder must not change its input", body, before);
    json_decref(before);
    json_decref(body);
    return out;
}

/* A new string of n copies of c. */
static inline char *mf_t_repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

#endif
