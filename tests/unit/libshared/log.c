/*
 * Unit tests of libshared/src/log.c: mf_log_escape (quotes, backslashes,
 * control bytes, truncation at capacity) and the lines mf_log_write and
 * mf_log_access put on stderr: level filtering, one valid JSON object per
 * line with the expected keys, escaping and truncation of untrusted text.
 *
 * stderr is redirected to an anonymous temporary file (tmpfile + dup2) while
 * a line is written, then restored before anything is asserted, so cmocka's
 * own messages are never captured. Lines are parsed with jansson, which
 * rejects invalid UTF-8 as well as malformed JSON.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../unit.h"
#include "mf/log.h"
#include "mf/util.h"

/* ---------- capturing stderr ---------- */

typedef struct {
    FILE *tmp;
    int saved;
} capture_t;

static void capture_start(capture_t *c)
{
    fflush(stderr);
    c->tmp = tmpfile();
    assert_non_null(c->tmp);
    c->saved = dup(STDERR_FILENO);
    assert_true(c->saved >= 0);
    assert_true(dup2(fileno(c->tmp), STDERR_FILENO) >= 0);
}

/* Restores stderr; returns what was written (new string) and its length. */
static char *capture_end(capture_t *c, size_t *len)
{
    fflush(stderr);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    struct stat st;
    assert_int_equal(fstat(fileno(c->tmp), &st), 0);
    char *buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    ssize_t n = pread(fileno(c->tmp), buf, (size_t)st.st_size, 0);
    assert_int_equal(n, st.st_size);
    buf[n] = '\0';
    fclose(c->tmp);
    *len = (size_t)n;
    return buf;
}

/* The single line in out[0..len): ends with one '\n', contains no other,
 * and parses as a JSON object. New reference; fails the test otherwise. */
static json_t *one_json_line(const char *label, const char *out, size_t len)
{
    char shown[600];
    if (len == 0 || out[len - 1] != '\n' || memchr(out, '\n', len - 1) != NULL) {
        print_error("%s: expected exactly one line, got %zu bytes: \"%s\"\n", label, len,
                    mf_t_show(shown, sizeof(shown), out, len));
        fail();
    }
    json_error_t e;
    json_t *v = json_loadb(out, len - 1, JSON_REJECT_DUPLICATES, &e);
    if (v == NULL || !json_is_object(v)) {
        print_error("%s: the line is not a JSON object (%s at column %d): \"%s\"\n", label, e.text, e.column,
                    mf_t_show(shown, sizeof(shown), out, len));
        json_decref(v);
        fail();
    }
    return v;
}

static const char *str_member(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void check_ts(const char *label, json_t *line)
{
    const char *ts = str_member(line, "ts");
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (ts == NULL || strlen(ts) != strlen(shape)) {
        MF_CHECK_STR(label, ts, "(an RFC 3339 timestamp like 2026-11-27T01:02:03.456Z)");
        return;
    }
    for (size_t i = 0; shape[i]; i++)
        if ((shape[i] == 'd') != (ts[i] >= '0' && ts[i] <= '9') || (shape[i] != 'd' && ts[i] != shape[i]))
            MF_CHECK_STR(label, ts, "(an RFC 3339 timestamp like 2026-11-27T01:02:03.456Z)");
}

/* The keys of line, sorted and comma-separated, into out. */
static const char *keys_of(json_t *line, char *out, size_t cap)
{
    const char *names[32];
    size_t n = 0, o = 0;
    const char *k;
    json_t *v;
    json_object_foreach(line, k, v)
    {
        if (n < 32)
            names[n++] = k;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            const char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, "%s%s", i ? "," : "", names[i]);
    return out;
}

static int setup_info(void **state)
{
    mf_log_init("unit-log", "info");
    return 0;
}

/* ---------- mf_log_escape ---------- */

typedef struct {
    const char *what;
    const char *in;
    size_t n;
    size_t cap;
    const char *want;
} esc_row_t;

#define E(what, lit, cap, want) {what, lit, sizeof(lit) - 1, cap, want}

static const esc_row_t esc_rows[] = {
    E("plain", "hello world", 64, "hello world"),
    E("empty", "", 64, ""),
    E("double quote", "say \"hi\"", 64, "say \\\"hi\\\""),
    E("backslash", "C:\\path\\", 64, "C:\\\\path\\\\"),
    E("newline", "a\nb", 64, "a\\nb"),
    E("carriage return", "a\rb", 64, "a\\u000db"),
    E("tab", "a\tb", 64, "a\\u0009b"),
    E("NUL inside the length", "a\0b", 64, "a\\u0000b"),
    E("SOH", "\x01", 64, "\\u0001"),
    E("US", "\x1f", 64, "\\u001f"),
    E("DEL", "\x7f", 64, "\\u007f"),
    E("ESC sequence", "\x1b[31m", 64, "\\u001b[31m"),
    E("JSON injection", "\",\"level\":\"error", 64, "\\\",\\\"level\\\":\\\"error"),
    E("UTF-8 kept as is", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 64, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
    E("slash kept", "a/b", 64, "a/b"),
    /* truncation: cap counts the NUL; an escape is never cut in half */
    E("fits exactly", "abc", 4, "abc"),
    E("one byte short", "abcd", 4, "abc"),
    E("cap 1 leaves only the NUL", "abc", 1, ""),
    E("quote does not fit", "ab\"", 4, "ab"),
    E("quote just fits", "ab\"", 5, "ab\\\""),
    E("backslash does not fit", "a\\", 3, "a"),
    E("\\n does not fit", "a\n", 3, "a"),
    E("\\u0001 does not fit", "\x01", 6, ""),
    E("\\u0001 just fits", "\x01", 7, "\\u0001"),
    E("stops at the first escape that does not fit", "ab\x01" "cd", 6, "ab"),
};

static void test_escape(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(esc_rows); i++) {
        const esc_row_t *r = &esc_rows[i];
        char out[128], label[128];
        memset(out, '#', sizeof(out));
        snprintf(label, sizeof(label), "row %zu, %s (cap %zu)", i, r->what, r->cap);
        size_t n = mf_log_escape(out, r->cap, r->in, r->n);
        MF_CHECK_STR(label, out, r->want);
        MF_CHECK_INT(label, n, strlen(r->want));
        MF_CHECK_INT(label, out[r->cap], '#'); /* nothing past cap */
    }
}

static void test_escape_zero_cap_and_null(void **state)
{
    char out[4] = "###";
    MF_CHECK_INT("cap 0 returns 0", mf_log_escape(out, 0, "abc", 3), 0);
    MF_CHECK_STR("cap 0 writes nothing", out, "###");
    MF_CHECK_INT("NULL input", mf_log_escape(out, sizeof(out), NULL, 5), 0);
    MF_CHECK_STR("NULL input", out, "");
}

/* Every ASCII byte, escaped and put in quotes, is a JSON string that decodes back to the byte. */
static void test_escape_every_ascii_byte_is_json(void **state)
{
    for (int c = 0; c < 0x80; c++) {
        char in[3] = {'x', (char)c, 'y'}, out[32], doc[40], label[32];
        snprintf(label, sizeof(label), "byte 0x%02x", c);
        size_t n = mf_log_escape(out, sizeof(out), in, 3);
        snprintf(doc, sizeof(doc), "\"%s\"", out);
        json_error_t e;
        json_t *v = json_loads(doc, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        if (v == NULL)
            MF_CHECK_STR(label, doc, "(a JSON string)");
        MF_CHECK_MEM(label, json_string_value(v), json_string_length(v), in, 3);
        MF_CHECK_INT(label, n, strlen(out));
        json_decref(v);
    }
}

/*
 * BUG (libshared/src/log.c, mf_log_escape): truncation counts bytes, not
 * characters, so it can stop inside a multi-byte UTF-8 sequence. The output
 * then ends in a partial sequence, which is invalid UTF-8 and so not valid
 * JSON text; the log line it is put in cannot be parsed.
 */
static void test_escape_truncation_keeps_utf8_whole(void **state)
{
    static const esc_row_t rows[] = {
        E("2-byte char cut after its lead byte", "ab\xc3\xa9", 4, "ab"),
        E("3-byte char cut after 1 byte", "a\xe2\x82\xac", 3, "a"),
        E("3-byte char cut after 2 bytes", "a\xe2\x82\xac", 4, "a"),
        E("4-byte char cut after 3 bytes", "a\xf0\x9f\x98\x80", 5, "a"),
        E("whole char kept", "ab\xc3\xa9", 5, "ab\xc3\xa9"),
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        char out[32], label[96];
        snprintf(label, sizeof(label), "%s (cap %zu)", rows[i].what, rows[i].cap);
        size_t n = mf_log_escape(out, rows[i].cap, rows[i].in, rows[i].n);
        MF_CHECK_STR(label, out, rows[i].want);
        MF_CHECK_INT(label, n, strlen(rows[i].want));
    }
}

/* ---------- lines on stderr ---------- */

static void test_debug_line_not_written_at_info(void **state)
{
    int evaluated = 0;
    capture_t c;
    size_t len;
    capture_start(&c);
    MF_LOG_DEBUG_(NULL, "debug detail %d", ++evaluated);
    char *out = capture_end(&c, &len);
    MF_CHECK_STR("stderr after a debug line at info level", out, "");
    MF_CHECK_INT("arguments of a disabled line are not evaluated", evaluated, 0);
    free(out);
}

static void test_info_line_is_json_with_keys(void **state)
{
    mf_log_ctx_t ctx = {"req-123", "9f1c2d3e-0000-4000-8000-000000000001", "GET /v1/datasets"};
    capture_t c;
    size_t len;
    capture_start(&c);
    MF_LOG_INFO_(&ctx, "created %d datasets in %s", 3, "sales");
    char *out = capture_end(&c, &len);
    json_t *line = one_json_line("info line", out, len);
    char keys[256];
    MF_CHECK_STR("keys", keys_of(line, keys, sizeof(keys)), "level,msg,request_id,route,service,tenant,ts");
    MF_CHECK_STR("level", str_member(line, "level"), "info");
    MF_CHECK_STR("service", str_member(line, "service"), "unit-log");
    MF_CHECK_STR("request_id", str_member(line, "request_id"), "req-123");
    MF_CHECK_STR("tenant", str_member(line, "tenant"), "9f1c2d3e-0000-4000-8000-000000000001");
    MF_CHECK_STR("route", str_member(line, "route"), "GET /v1/datasets");
    MF_CHECK_STR("msg", str_member(line, "msg"), "created 3 datasets in sales");
    check_ts("ts", line);
    json_decref(line);
    free(out);
}

static void test_context_members_are_optional(void **state)
{
    static const struct {
        const char *what;
        mf_log_ctx_t ctx;
        int use_ctx;
        const char *keys;
    } rows[] = {
        {"no context", {NULL, NULL, NULL}, 0, "level,msg,service,ts"},
        {"empty context", {NULL, NULL, NULL}, 1, "level,msg,service,ts"},
        {"request id only", {"r1", NULL, NULL}, 1, "level,msg,request_id,service,ts"},
        {"tenant and route", {NULL, "t", "GET /x"}, 1, "level,msg,route,service,tenant,ts"},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        capture_t c;
        size_t len;
        capture_start(&c);
        MF_LOG_WARN_(rows[i].use_ctx ? &rows[i].ctx : NULL, "x");
        char *out = capture_end(&c, &len);
        json_t *line = one_json_line(rows[i].what, out, len);
        char keys[256];
        MF_CHECK_STR(rows[i].what, keys_of(line, keys, sizeof(keys)), rows[i].keys);
        json_decref(line);
        free(out);
    }
}

static void test_level_filtering(void **state)
{
    static const struct {
        const char *min;
        int written[4]; /* debug, info, warn, error */
    } rows[] = {
        {"debug", {1, 1, 1, 1}},
        {"info", {0, 1, 1, 1}},
        {"warn", {0, 0, 1, 1}},
        {"error", {0, 0, 0, 1}},
    };
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        mf_log_init("unit-log", rows[i].min);
        for (int l = 0; l < 4; l++) {
            char label[80];
            snprintf(label, sizeof(label), "a %s line at level %s", names[l], rows[i].min);
            capture_t c;
            size_t len;
            capture_start(&c);
            MF_LOG((mf_log_level_t)l, NULL, "line %d", l);
            char *out = capture_end(&c, &len);
            if (!rows[i].written[l]) {
                MF_CHECK_STR(label, out, "");
            } else {
                json_t *line = one_json_line(label, out, len);
                MF_CHECK_STR(label, str_member(line, "level"), names[l]);
                json_decref(line);
            }
            free(out);
        }
    }
    mf_log_init("unit-log", "info");
}

/* Untrusted text in the message and the context comes back intact after JSON decoding. */
static void test_untrusted_text_is_escaped(void **state)
{
    static const char nasty[] = "\"},{\"level\":\"error\\\n\r\t\x01\x1b[2J\x7f caf\xc3\xa9";
    mf_log_ctx_t ctx = {"id\"1", "ten\\ant", "GET /a\nb"};
    capture_t c;
    size_t len;
    capture_start(&c);
    MF_LOG_ERROR_(&ctx, "value: %s", nasty);
    char *out = capture_end(&c, &len);
    json_t *line = one_json_line("line with untrusted text", out, len);
    char want[128];
    snprintf(want, sizeof(want), "value: %s", nasty);
    MF_CHECK_STR("msg", str_member(line, "msg"), want);
    MF_CHECK_STR("request_id", str_member(line, "request_id"), "id\"1");
    MF_CHECK_STR("tenant", str_member(line, "tenant"), "ten\\ant");
    MF_CHECK_STR("route", str_member(line, "route"), "GET /a\nb");
    MF_CHECK_STR("level", str_member(line, "level"), "error");
    json_decref(line);
    free(out);
}

/* Long messages and context values are truncated and the line stays one valid JSON object. */
static void test_long_values_are_truncated(void **state)
{
    static const struct {
        const char *what;
        char fill;
        size_t n;
        size_t max_msg; /* longest msg expected after decoding */
    } rows[] = {
        {"5000 plain bytes", 'x', 5000, 2047},
        {"3000 quotes (each escaped to 2 bytes)", '"', 3000, 2047},
        {"3000 control bytes (each escaped to 6 bytes)", '\x01', 3000, 2047},
        {"3000 newlines", '\n', 3000, 2047},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        char *big = mf_t_repeat(rows[i].fill, rows[i].n);
        char *long_id = mf_t_repeat('r', 500), *long_route = mf_t_repeat('/', 500);
        mf_log_ctx_t ctx = {long_id, long_id, long_route};
        capture_t c;
        size_t len;
        capture_start(&c);
        MF_LOG_INFO_(&ctx, "%s", big);
        char *out = capture_end(&c, &len);
        json_t *line = one_json_line(rows[i].what, out, len);
        MF_CHECK_INT(rows[i].what, len <= 4096, 1);
        const char *msg = str_member(line, "msg");
        assert_non_null(msg);
        MF_CHECK_INT(rows[i].what, strlen(msg) > 0 && strlen(msg) <= rows[i].max_msg, 1);
        MF_CHECK_INT(rows[i].what, strspn(msg, (char[]){rows[i].fill, 0}), strlen(msg));
        MF_CHECK_INT("request_id cut to 79 bytes", strlen(str_member(line, "request_id")), 79);
        MF_CHECK_INT("tenant cut to 79 bytes", strlen(str_member(line, "tenant")), 79);
        MF_CHECK_INT("route cut to 199 bytes", strlen(str_member(line, "route")), 199);
        json_decref(line);
        free(out);
        free(big);
        free(long_id);
        free(long_route);
    }
}

/*
 * BUG (libshared/src/log.c, mf_log_write): a message longer than the 2048-byte
 * buffer is cut by vsnprintf at a byte count, which can fall inside a UTF-8
 * sequence; mf_log_escape copies the partial sequence and the line written to
 * stderr is not valid JSON (jansson: "unable to decode byte").
 */
static void test_long_utf8_message_stays_valid_json(void **state)
{
    static const char e_acute[] = "\xc3\xa9";
    char *big = malloc(1500 * 2 + 1);
    assert_non_null(big);
    for (size_t i = 0; i < 1500; i++)
        memcpy(big + 2 * i, e_acute, 2);
    big[3000] = '\0';
    capture_t c;
    size_t len;
    capture_start(&c);
    MF_LOG_INFO_(NULL, "%s", big);
    char *out = capture_end(&c, &len);
    free(big);
    /* the line's msg must be valid UTF-8 whatever else happens */
    const char *m = strstr(out, "\"msg\":\"");
    int clean = m != NULL && mf_text_is_clean(m, strlen(m), 1);
    if (!clean) {
        char shown[200];
        size_t mlen = m ? strlen(m) : 0;
        const char *tail = m && mlen > 24 ? m + mlen - 24 : m;
        print_error("log line with a long UTF-8 message is not valid UTF-8; it ends with \"%s\"\n",
                    mf_t_show(shown, sizeof(shown), tail, tail ? strlen(tail) : 0));
        free(out);
        fail();
    }
    json_t *line = one_json_line("long UTF-8 message", out, len);
    json_decref(line);
    free(out);
}

static void test_access_line(void **state)
{
    mf_log_ctx_t ctx = {"req-9", "tenant-1", "GET /v1/datasets/{name}"};
    capture_t c;
    size_t len;
    capture_start(&c);
    mf_log_access(&ctx, "GET", 200, 12.5, "192.0.2.7");
    char *out = capture_end(&c, &len);
    json_t *line = one_json_line("access line", out, len);
    char keys[256];
    MF_CHECK_STR("keys", keys_of(line, keys, sizeof(keys)),
                 "client,duration_ms,level,method,msg,request_id,route,service,status,tenant,ts");
    MF_CHECK_STR("level", str_member(line, "level"), "info");
    MF_CHECK_STR("msg", str_member(line, "msg"), "request");
    MF_CHECK_STR("method", str_member(line, "method"), "GET");
    MF_CHECK_STR("client", str_member(line, "client"), "192.0.2.7");
    MF_CHECK_STR("route", str_member(line, "route"), "GET /v1/datasets/{name}");
    json_t *status = json_object_get(line, "status"), *dur = json_object_get(line, "duration_ms");
    MF_CHECK_INT("status is an integer", json_is_integer(status), 1);
    MF_CHECK_INT("status", json_integer_value(status), 200);
    MF_CHECK_INT("duration_ms is a number", json_is_number(dur), 1);
    MF_CHECK_INT("duration_ms", (long long)(json_number_value(dur) * 1000), 12500);
    check_ts("ts", line);
    json_decref(line);
    free(out);
}

static void test_access_levels(void **state)
{
    static const struct {
        const char *min;
        int status;
        const char *level; /* NULL: not written */
    } rows[] = {
        {"info", 200, "info"}, {"info", 404, "info"}, {"info", 499, "info"},  {"info", 500, "warn"},
        {"info", 503, "warn"}, {"warn", 200, NULL},   {"warn", 404, NULL},    {"warn", 500, "warn"},
        {"error", 500, NULL},  {"error", 200, NULL},  {"debug", 201, "info"},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        char label[64];
        snprintf(label, sizeof(label), "status %d at level %s", rows[i].status, rows[i].min);
        mf_log_init("unit-log", rows[i].min);
        capture_t c;
        size_t len;
        capture_start(&c);
        mf_log_access(NULL, "POST", rows[i].status, 0.25, "::1");
        char *out = capture_end(&c, &len);
        if (rows[i].level == NULL) {
            MF_CHECK_STR(label, out, "");
        } else {
            json_t *line = one_json_line(label, out, len);
            MF_CHECK_STR(label, str_member(line, "level"), rows[i].level);
            MF_CHECK_INT(label, json_integer_value(json_object_get(line, "status")), rows[i].status);
            json_decref(line);
        }
        free(out);
    }
    mf_log_init("unit-log", "info");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_escape_zero_cap_and_null),
        cmocka_unit_test(test_escape_every_ascii_byte_is_json),
        cmocka_unit_test(test_escape_truncation_keeps_utf8_whole),
        cmocka_unit_test_setup(test_debug_line_not_written_at_info, setup_info),
        cmocka_unit_test_setup(test_info_line_is_json_with_keys, setup_info),
        cmocka_unit_test_setup(test_context_members_are_optional, setup_info),
        cmocka_unit_test_setup(test_level_filtering, setup_info),
        cmocka_unit_test_setup(test_untrusted_text_is_escaped, setup_info),
        cmocka_unit_test_setup(test_long_values_are_truncated, setup_info),
        cmocka_unit_test_setup(test_long_utf8_message_stays_valid_json, setup_info),
        cmocka_unit_test_setup(test_access_line, setup_info),
        cmocka_unit_test_setup(test_access_levels, setup_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
