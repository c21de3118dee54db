/*
 * Unit tests of libshared/src/json.c: mf_json_parse_object (malformed,
 * truncated, non-object, duplicate keys, empty), mf_json_only_fields, each
 * getter (required, absent, null, NULLABLE, wrong type, bounds, control
 * characters), the path in every message ("fields[2].type must be a
 * string"), mf_json_fail, the path builders and mf_json_dump.
 */
#include "../unit.h"
#include "mf/json.h"

/* ---------- mf_json_parse_object ---------- */

typedef struct {
    const char *what;
    const char *buf;
    long len;            /* -1: strlen */
    const char *message; /* NULL: parses; "*": rejected, any message; else the message starts with this */
} parse_row_t;

static const parse_row_t parse_rows[] = {
    {"empty object", "{}", -1, NULL},
    {"object with members", "{\"a\":1,\"b\":[true,null],\"c\":{\"d\":\"e\"}}", -1, NULL},
    {"surrounding whitespace", " \n\t{\"a\":1}\r\n ", -1, NULL},
    {"only len bytes are read", "{\"a\":1}GARBAGE", 7, NULL},
    {"same key in different objects", "{\"a\":{\"k\":1},\"b\":{\"k\":2}}", -1, NULL},
    {"no body", "", 0, "request body is required"},
    {"NULL body", NULL, 0, "request body is required"},
    {"NULL body with a length", NULL, 5, "request body is required"},
    {"whitespace only", "   ", -1, "malformed JSON at line 1 column "},
    {"truncated object", "{\"a\":1", -1, "malformed JSON at line 1 column "},
    {"truncated string", "{\"a\":\"xy", -1, "malformed JSON at line 1 column "},
    {"truncated by len", "{\"a\":1}", 5, "malformed JSON at line 1 column "},
    {"just an opening brace", "{", -1, "malformed JSON at line 1 column "},
    {"trailing comma", "{\"a\":1,}", -1, "malformed JSON at line 1 column "},
    {"single quotes", "{'a':1}", -1, "malformed JSON at line 1 column "},
    {"bare key", "{a:1}", -1, "malformed JSON at line 1 column "},
    {"trailing garbage", "{\"a\":1} x", -1, "malformed JSON at line 1 column "},
    {"two objects", "{}{}", -1, "malformed JSON at line 1 column "},
    {"comment", "{\"a\":1 /* c */}", -1, "malformed JSON at line 1 column "},
    {"NaN", "{\"a\":NaN}", -1, "malformed JSON at line 1 column "},
    {"escaped NUL", "{\"a\":\"x\\u0000y\"}", -1, "malformed JSON at line 1 column "},
    {"raw NUL byte", "{\"a\":\"x\0y\"}", 11, "malformed JSON at line 1 column "},
    {"invalid UTF-8", "{\"a\":\"\xff\"}", -1, "malformed JSON at line 1 column "},
    {"lone surrogate escape", "{\"a\":\"\\ud800\"}", -1, "malformed JSON at line 1 column "},
    {"raw control character in string", "{\"a\":\"x\ny\"}", -1, "malformed JSON at line 1 column "},
    {"error on line 2", "{\"a\":1,\n\"b\":}", -1, "malformed JSON at line 2 column "},
    {"duplicate key", "{\"a\":1,\"a\":2}", -1, "malformed JSON at line 1 column "},
    {"duplicate key nested", "{\"o\":{\"k\":1,\"k\":2}}", -1, "malformed JSON at line 1 column "},
    {"duplicate key in array element", "{\"l\":[{\"k\":1,\"k\":1}]}", -1, "malformed JSON at line 1 column "},
    {"array", "[1,2]", -1, "request body must be a JSON object"},
    {"empty array", "[]", -1, "request body must be a JSON object"},
    /* jansson refuses a top-level scalar before the object check runs, so these get
     * "malformed JSON ... '[' or '{' expected"; either message is fine, "*" accepts any */
    {"string", "\"{}\"", -1, "*"},
    {"number", "42", -1, "*"},
    {"null", "null", -1, "*"},
    {"true", "true", -1, "*"},
};

static void test_parse_object(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(parse_rows); i++) {
        const parse_row_t *r = &parse_rows[i];
        size_t len = r->len < 0 ? strlen(r->buf) : (size_t)r->len;
        mf_json_err_t err;
        char label[96];
        strcpy(err.msg, "(untouched)");
        snprintf(label, sizeof(label), "row %zu, %s", i, r->what);
        json_t *v = mf_json_parse_object(r->buf, len, &err);
        if (r->message == NULL) {
            if (v == NULL)
                MF_CHECK_STR(label, err.msg, "(parsed)");
            MF_CHECK_INT(label, json_is_object(v), 1);
        } else {
            MF_CHECK_INT(label, v == NULL, 1);
            if (strcmp(r->message, "*") == 0)
                MF_CHECK_INT(label, strcmp(err.msg, "(untouched)") != 0 && err.msg[0] != '\0', 1);
            else if (strncmp(err.msg, r->message, strlen(r->message)) != 0)
                MF_CHECK_STR(label, err.msg, r->message);
        }
        json_decref(v);
    }
}

static void test_parse_object_values(void **state)
{
    mf_json_err_t err;
    const char *text = "{\"s\":\"caf\\u00e9\",\"n\":-12,\"l\":[1,2]}";
    json_t *v = mf_json_parse_object(text, strlen(text), &err);
    assert_non_null(v);
    MF_CHECK_STR("s", json_string_value(json_object_get(v, "s")), "caf\xc3\xa9");
    MF_CHECK_INT("n", json_integer_value(json_object_get(v, "n")), -12);
    MF_CHECK_INT("l", json_array_size(json_object_get(v, "l")), 2);
    MF_CHECK_INT("size", json_object_size(v), 3);
    json_decref(v);

    v = mf_json_parse_object("{}", 2, &err);
    assert_non_null(v);
    MF_CHECK_INT("empty object size", json_object_size(v), 0);
    json_decref(v);
}

static void test_parse_object_message_is_bounded(void **state)
{
    /* a long key that is never closed: the message stays within err.msg and is terminated */
    char *text = mf_t_repeat('a', 5000);
    text[0] = '{';
    text[1] = '"';
    mf_json_err_t err;
    json_t *v = mf_json_parse_object(text, 5000, &err);
    free(text);
    MF_CHECK_INT("unterminated long key", v == NULL, 1);
    MF_CHECK_INT("message terminated within the buffer", memchr(err.msg, '\0', sizeof(err.msg)) != NULL, 1);
    MF_CHECK_CONTAINS("message", err.msg, "malformed JSON at line 1 column ");
}

/* ---------- mf_json_only_fields ---------- */

static void test_only_fields(void **state)
{
    static const char *const allowed[] = {"name", "type", NULL};
    static const char *const none[] = {NULL};
    static const struct {
        const char *doc;
        const char *path;
        const char *const *allowed;
        const char *message; /* NULL: accepted */
    } rows[] = {
        {"{}", "", allowed, NULL},
        {"{\"name\":1}", "", allowed, NULL},
        {"{\"name\":1,\"type\":null}", "fields[0]", allowed, NULL},
        {"{}", "", none, NULL},
        {"{\"x\":1}", "", none, "unknown field \"x\""},
        {"{\"colour\":\"red\"}", "", allowed, "unknown field \"colour\""},
        {"{\"colour\":\"red\"}", NULL, allowed, "unknown field \"colour\""},
        {"{\"name\":1,\"extra\":2}", "fields[0]", allowed, "unknown field \"extra\" in fields[0]"},
        {"{\"Name\":1}", "", allowed, "unknown field \"Name\""},
        {"{\"name \":1}", "", allowed, "unknown field \"name \""},
        {"{\"\":1}", "", allowed, "unknown field \"\""},
        {"{\"a\\u0001b\":1}", "", allowed, "unknown field \"(unprintable)\""},
        {"{\"a\\nb\":1}", "upstream[3]", allowed, "unknown field \"(unprintable)\" in upstream[3]"},
        {"{\"caf\\u00e9\":1}", "", allowed, "unknown field \"caf\xc3\xa9\""},
        {"{\"o\":{\"deep\":1}}", "", allowed, "unknown field \"o\""},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        json_t *doc = mf_t_json(rows[i].doc);
        mf_json_err_t err;
        strcpy(err.msg, "(untouched)");
        char label[96];
        snprintf(label, sizeof(label), "row %zu: %s", i, rows[i].doc);
        int rc = mf_json_only_fields(doc, rows[i].path, rows[i].allowed, &err);
        json_decref(doc);
        MF_CHECK_INT(label, rc, rows[i].message ? MF_EINVALID_REQUEST : 0);
        MF_CHECK_STR(label, err.msg, rows[i].message ? rows[i].message : "(untouched)");
    }
}

static void test_only_fields_long_key_is_cut(void **state)
{
    static const char *const allowed[] = {"name", NULL};
    char *key = mf_t_repeat('k', 200);
    json_t *doc = json_object();
    json_object_set_new(doc, key, json_true());
    mf_json_err_t err;
    int rc = mf_json_only_fields(doc, "", allowed, &err);
    json_decref(doc);
    key[60] = '\0';
    char want[100];
    snprintf(want, sizeof(want), "unknown field \"%s\"", key);
    free(key);
    MF_CHECK_INT("200-byte unknown key", rc, MF_EINVALID_REQUEST);
    MF_CHECK_STR("200-byte unknown key is shown cut to 60 bytes", err.msg, want);
}

/* ---------- getters ---------- */

/* One document for every getter row. */
static const char getter_doc[] = "{"
                                 "\"s\":\"abc\","
                                 "\"empty\":\"\","
                                 "\"nul\":null,"
                                 "\"i\":5,"
                                 "\"neg\":-3,"
                                 "\"big\":9223372036854775807,"
                                 "\"r\":1.5,"
                                 "\"r1\":1.0,"
                                 "\"t\":true,"
                                 "\"f\":false,"
                                 "\"a\":[1,2,3],"
                                 "\"a0\":[],"
                                 "\"o\":{\"k\":1},"
                                 "\"ctl\":\"a\\u0001b\","
                                 "\"del\":\"a\\u007fb\","
                                 "\"esc\":\"\\u001b[2J\","
                                 "\"nl\":\"line one\\nline two\","
                                 "\"tab\":\"a\\tb\","
                                 "\"utf\":\"caf\\u00e9\","
                                 "\"ten\":\"abcdefghij\","
                                 "\"snum\":\"5\","
                                 "\"strue\":\"true\""
                                 "}";

enum { OK_ABSENT = 1 }; /* row flag: success with nothing read */

typedef struct {
    const char *key;
    int flags;
    size_t min, max;
    const char *path;
    const char *want;    /* value on success (NULL: reported absent) */
    const char *message; /* NULL: success */
} str_row_t;

static const str_row_t str_rows[] = {
    {"s", 0, 0, 100, "", "abc", NULL},
    {"s", MF_JSON_REQUIRED, 1, 100, "", "abc", NULL},
    {"s", 0, 3, 3, "", "abc", NULL}, /* bounds inclusive */
    {"empty", 0, 0, 10, "", "", NULL},
    {"missing", 0, 1, 10, "", NULL, NULL},
    {"missing", MF_JSON_NULLABLE, 1, 10, "", NULL, NULL},
    {"missing", MF_JSON_REQUIRED, 1, 10, "", NULL, "missing is required"},
    {"missing", MF_JSON_REQUIRED, 1, 10, "fields[2]", NULL, "fields[2].missing is required"},
    {"nul", MF_JSON_NULLABLE, 1, 10, "", NULL, NULL},
    {"nul", 0, 1, 10, "", NULL, "nul must not be null"},
    {"nul", MF_JSON_REQUIRED, 1, 10, "", NULL, "nul is required"},
    {"nul", MF_JSON_REQUIRED | MF_JSON_NULLABLE, 1, 10, "", NULL, "nul is required"},
    {"i", 0, 0, 10, "", NULL, "i must be a string"},
    {"i", 0, 0, 10, "fields[2]", NULL, "fields[2].i must be a string"},
    {"i", 0, 0, 10, "a.b[0].c", NULL, "a.b[0].c.i must be a string"},
    {"i", 0, 0, 10, NULL, NULL, "i must be a string"},
    {"t", 0, 0, 10, "", NULL, "t must be a string"},
    {"a", 0, 0, 10, "", NULL, "a must be a string"},
    {"o", 0, 0, 10, "", NULL, "o must be a string"},
    {"r", 0, 0, 10, "", NULL, "r must be a string"},
    {"empty", 0, 1, 10, "", NULL, "empty must not be empty"},
    {"empty", 0, 1, 10, "upstream[0]", NULL, "upstream[0].empty must not be empty"},
    {"s", 0, 4, 10, "", NULL, "s is too short"},
    {"empty", 0, 2, 10, "", NULL, "empty is too short"},
    {"ten", 0, 1, 9, "", NULL, "ten is too long (at most 9 characters)"},
    {"ten", 0, 1, 10, "", "abcdefghij", NULL},
    {"utf", 0, 1, 5, "", "caf\xc3\xa9", NULL}, /* 5 bytes */
    {"utf", 0, 1, 4, "", NULL, "utf is too long (at most 4 characters)"}, /* lengths are in bytes */
    {"ctl", 0, 0, 10, "", NULL, "ctl contains control characters or invalid UTF-8"},
    {"ctl", MF_JSON_MULTILINE, 0, 10, "", NULL, "ctl contains control characters or invalid UTF-8"},
    {"del", 0, 0, 10, "fields[1]", NULL, "fields[1].del contains control characters or invalid UTF-8"},
    {"esc", MF_JSON_MULTILINE, 0, 10, "", NULL, "esc contains control characters or invalid UTF-8"},
    {"nl", 0, 0, 100, "", NULL, "nl contains control characters or invalid UTF-8"},
    {"nl", MF_JSON_MULTILINE, 0, 100, "", "line one\nline two", NULL},
    {"tab", 0, 0, 100, "", NULL, "tab contains control characters or invalid UTF-8"},
    {"tab", MF_JSON_MULTILINE, 0, 100, "", "a\tb", NULL},
    /* type is checked before bounds: a wrong type never reports a length */
    {"i", 0, 5, 6, "", NULL, "i must be a string"},
    /* bounds before cleanliness */
    {"ctl", 0, 0, 1, "", NULL, "ctl is too long (at most 1 characters)"},
};

static void test_string(void **state)
{
    json_t *doc = mf_t_json(getter_doc);
    for (size_t i = 0; i < MF_T_ROWS(str_rows); i++) {
        const str_row_t *r = &str_rows[i];
        mf_json_err_t err;
        const char *out = "(untouched)";
        char label[128];
        strcpy(err.msg, "(untouched)");
        snprintf(label, sizeof(label), "row %zu: mf_json_string(path \"%s\", key \"%s\", flags %d, %zu..%zu)", i,
                 r->path ? r->path : "(null)", r->key, r->flags, r->min, r->max);
        int rc = mf_json_string(doc, r->path, r->key, r->flags, r->min, r->max, &out, &err);
        MF_CHECK_INT(label, rc, r->message ? MF_EINVALID_REQUEST : 0);
        MF_CHECK_STR(label, err.msg, r->message ? r->message : "(untouched)");
        MF_CHECK_STR(label, out, r->message ? NULL : r->want); /* NULL on error and when absent */
    }
    json_decref(doc);
}

static void test_bool(void **state)
{
    static const struct {
        const char *key;
        int flags;
        const char *path;
        int want; /* -1: *out untouched */
        const char *message;
    } rows[] = {
        {"t", 0, "", 1, NULL},
        {"f", 0, "", 0, NULL},
        {"t", MF_JSON_REQUIRED, "", 1, NULL},
        {"missing", 0, "", -1, NULL},
        {"nul", MF_JSON_NULLABLE, "", -1, NULL},
        {"nul", 0, "fields[0]", -1, "fields[0].nul must not be null"},
        {"missing", MF_JSON_REQUIRED, "", -1, "missing is required"},
        {"i", 0, "", -1, "i must be a boolean"},
        {"strue", 0, "fields[2]", -1, "fields[2].strue must be a boolean"},
        {"empty", 0, "", -1, "empty must be a boolean"},
        {"a0", 0, "", -1, "a0 must be a boolean"},
        {"o", 0, "", -1, "o must be a boolean"},
    };
    json_t *doc = mf_t_json(getter_doc);
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        mf_json_err_t err;
        int out = -1;
        char label[96];
        strcpy(err.msg, "(untouched)");
        snprintf(label, sizeof(label), "row %zu: mf_json_bool(key \"%s\", flags %d)", i, rows[i].key, rows[i].flags);
        int rc = mf_json_bool(doc, rows[i].path, rows[i].key, rows[i].flags, &out, &err);
        MF_CHECK_INT(label, rc, rows[i].message ? MF_EINVALID_REQUEST : 0);
        MF_CHECK_STR(label, err.msg, rows[i].message ? rows[i].message : "(untouched)");
        MF_CHECK_INT(label, out, rows[i].want);
    }
    json_decref(doc);
}

static void test_int(void **state)
{
    static const struct {
        const char *key;
        int flags;
        long long min, max;
        const char *path;
        int present;
        long long want;
        const char *message;
    } rows[] = {
        {"i", 0, 0, 10, "", 1, 5, NULL},
        {"i", 0, 5, 5, "", 1, 5, NULL},
        {"neg", 0, -3, 0, "", 1, -3, NULL},
        {"big", 0, 0, 9223372036854775807LL, "", 1, 9223372036854775807LL, NULL},
        {"i", MF_JSON_REQUIRED, 0, 10, "", 1, 5, NULL},
        {"missing", 0, 0, 10, "", 0, 0, NULL},
        {"nul", MF_JSON_NULLABLE, 0, 10, "", 0, 0, NULL},
        {"nul", 0, 0, 10, "operational", 0, 0, "operational.nul must not be null"},
        {"missing", MF_JSON_REQUIRED, 0, 10, "operational", 0, 0, "operational.missing is required"},
        {"i", 0, 6, 10, "", 0, 0, "i must be between 6 and 10"},
        {"i", 0, 0, 4, "operational", 0, 0, "operational.i must be between 0 and 4"},
        {"neg", 0, 0, 9223372036854775807LL, "operational", 0, 0,
         "operational.neg must be between 0 and 9223372036854775807"},
        {"r", 0, 0, 10, "", 0, 0, "r must be an integer"},
        {"r1", 0, 0, 10, "", 0, 0, "r1 must be an integer"},
        {"snum", 0, 0, 10, "", 0, 0, "snum must be an integer"},
        {"t", 0, 0, 10, "", 0, 0, "t must be an integer"},
        {"a", 0, 0, 10, "", 0, 0, "a must be an integer"},
    };
    json_t *doc = mf_t_json(getter_doc);
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        mf_json_err_t err;
        long long out = -42;
        int present = -1;
        char label[96];
        strcpy(err.msg, "(untouched)");
        snprintf(label, sizeof(label), "row %zu: mf_json_int(key \"%s\", %lld..%lld)", i, rows[i].key, rows[i].min,
                 rows[i].max);
        int rc = mf_json_int(doc, rows[i].path, rows[i].key, rows[i].flags, rows[i].min, rows[i].max, &out, &present,
                             &err);
        MF_CHECK_INT(label, rc, rows[i].message ? MF_EINVALID_REQUEST : 0);
        MF_CHECK_STR(label, err.msg, rows[i].message ? rows[i].message : "(untouched)");
        MF_CHECK_INT(label, present, rows[i].present);
        MF_CHECK_INT(label, out, rows[i].present ? rows[i].want : -42);
    }
    json_decref(doc);
}

static void test_array_and_object(void **state)
{
    static const struct {
        int is_array;
        const char *key;
        int flags;
        size_t max;
        const char *path;
        const char *want_key; /* the member expected in *out; NULL: *out NULL */
        const char *message;
    } rows[] = {
        {1, "a", 0, 3, "", "a", NULL},
        {1, "a0", 0, 0, "", "a0", NULL},
        {1, "a", MF_JSON_REQUIRED, 100, "", "a", NULL},
        {1, "a", 0, 2, "", NULL, "a has too many elements (at most 2)"},
        {1, "a", 0, 0, "operational", NULL, "operational.a has too many elements (at most 0)"},
        {1, "missing", 0, 3, "", NULL, NULL},
        {1, "nul", MF_JSON_NULLABLE, 3, "", NULL, NULL},
        {1, "nul", 0, 3, "", NULL, "nul must not be null"},
        {1, "missing", MF_JSON_REQUIRED, 3, "fields[4]", NULL, "fields[4].missing is required"},
        {1, "o", 0, 3, "", NULL, "o must be an array"},
        {1, "s", 0, 3, "fields[2]", NULL, "fields[2].s must be an array"},
        {1, "i", 0, 3, "", NULL, "i must be an array"},
        {0, "o", 0, 0, "", "o", NULL},
        {0, "missing", 0, 0, "", NULL, NULL},
        {0, "nul", MF_JSON_NULLABLE, 0, "", NULL, NULL},
        {0, "nul", 0, 0, "x", NULL, "x.nul must not be null"},
        {0, "missing", MF_JSON_REQUIRED, 0, "", NULL, "missing is required"},
        {0, "a", 0, 0, "", NULL, "a must be an object"},
        {0, "s", 0, 0, "fields[2]", NULL, "fields[2].s must be an object"},
        {0, "t", 0, 0, "", NULL, "t must be an object"},
    };
    json_t *doc = mf_t_json(getter_doc);
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        mf_json_err_t err;
        json_t *out = (json_t *)&err; /* any non-NULL marker */
        char label[96];
        strcpy(err.msg, "(untouched)");
        snprintf(label, sizeof(label), "row %zu: mf_json_%s(key \"%s\")", i, rows[i].is_array ? "array" : "object",
                 rows[i].key);
        int rc = rows[i].is_array
                     ? mf_json_array(doc, rows[i].path, rows[i].key, rows[i].flags, rows[i].max, &out, &err)
                     : mf_json_object(doc, rows[i].path, rows[i].key, rows[i].flags, &out, &err);
        MF_CHECK_INT(label, rc, rows[i].message ? MF_EINVALID_REQUEST : 0);
        MF_CHECK_STR(label, err.msg, rows[i].message ? rows[i].message : "(untouched)");
        MF_CHECK_INT(label, out == (rows[i].want_key ? json_object_get(doc, rows[i].want_key) : NULL), 1);
    }
    json_decref(doc);
}

static void test_check_text(void **state)
{
    static const struct {
        const char *value; /* JSON */
        const char *where;
        size_t min, max;
        int flags;
        const char *message;
    } rows[] = {
        {"\"pii\"", "tags[0]", 1, 128, 0, NULL},
        {"\"a\\nb\"", "x", 0, 10, MF_JSON_MULTILINE, NULL},
        {"5", "tags[3]", 1, 128, 0, "tags[3] must be a string"},
        {"null", "tags[3]", 1, 128, 0, "tags[3] must be a string"},
        {"[\"a\"]", "operational.partition_keys[1]", 1, 128, 0, "operational.partition_keys[1] must be a string"},
        {"\"\"", "operational.partition_keys[0]", 1, 128, 0, "operational.partition_keys[0] must not be empty"},
        {"\"ab\"", "k", 3, 128, 0, "k is too short"},
        {"\"abcd\"", "k", 1, 3, 0, "k is too long (at most 3 characters)"},
        {"\"a\\nb\"", "k", 0, 10, 0, "k contains control characters or invalid UTF-8"},
        {"\"a\\u0000b\"", "k", 0, 10, MF_JSON_MULTILINE, "k contains control characters or invalid UTF-8"},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        json_error_t e;
        json_t *v = json_loads(rows[i].value, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        assert_non_null(v);
        mf_json_err_t err;
        strcpy(err.msg, "(untouched)");
        char label[96];
        snprintf(label, sizeof(label), "row %zu: %s", i, rows[i].value);
        int rc = mf_json_check_text(v, rows[i].where, rows[i].min, rows[i].max, rows[i].flags, &err);
        json_decref(v);
        MF_CHECK_INT(label, rc, rows[i].message ? MF_EINVALID_REQUEST : 0);
        MF_CHECK_STR(label, err.msg, rows[i].message ? rows[i].message : "(untouched)");
    }
}

/* Strings built in C (not parsed) can hold invalid UTF-8; the getters still reject them. */
static void test_invalid_utf8_in_built_strings(void **state)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "bad", json_stringn_nocheck("a\xff", 2));
    json_object_set_new(doc, "surrogate", json_stringn_nocheck("\xed\xa0\x80", 3));
    mf_json_err_t err;
    const char *out;
    MF_CHECK_INT("0xFF", mf_json_string(doc, "", "bad", 0, 0, 10, &out, &err), MF_EINVALID_REQUEST);
    MF_CHECK_STR("0xFF", err.msg, "bad contains control characters or invalid UTF-8");
    MF_CHECK_INT("surrogate", mf_json_string(doc, "f", "surrogate", MF_JSON_MULTILINE, 0, 10, &out, &err),
                 MF_EINVALID_REQUEST);
    MF_CHECK_STR("surrogate", err.msg, "f.surrogate contains control characters or invalid UTF-8");
    json_decref(doc);
}

/* ---------- mf_json_fail ---------- */

static void test_fail(void **state)
{
    mf_json_err_t err;
    MF_CHECK_INT("returns MF_EINVALID_REQUEST", mf_json_fail(&err, "%s[%d] is odd", "fields", 3), MF_EINVALID_REQUEST);
    MF_CHECK_STR("formats the message", err.msg, "fields[3] is odd");
    MF_CHECK_INT("plain message", mf_json_fail(&err, "no arguments"), MF_EINVALID_REQUEST);
    MF_CHECK_STR("plain message", err.msg, "no arguments");
    /* a long message is cut to the buffer and terminated */
    char *big = mf_t_repeat('m', 1000);
    MF_CHECK_INT("long message", mf_json_fail(&err, "%s", big), MF_EINVALID_REQUEST);
    MF_CHECK_INT("long message cut", strlen(err.msg), sizeof(err.msg) - 1);
    MF_CHECK_INT("long message content", strspn(err.msg, "m"), sizeof(err.msg) - 1);
    free(big);
}

/* ---------- paths ---------- */

static void test_paths(void **state)
{
    char out[64];
    static const struct {
        const char *path, *key, *want;
    } keys[] = {
        {"", "name", "name"},
        {NULL, "name", "name"},
        {"fields[2]", "type", "fields[2].type"},
        {"operational", "row_count", "operational.row_count"},
        {"a.b", "c", "a.b.c"},
    };
    for (size_t i = 0; i < MF_T_ROWS(keys); i++) {
        mf_json_path_key(out, sizeof(out), keys[i].path, keys[i].key);
        MF_CHECK_STR(keys[i].want, out, keys[i].want);
    }
    static const struct {
        const char *path;
        size_t i;
        const char *want;
    } idx[] = {
        {"fields", 2, "fields[2]"},
        {"fields[2].tags", 0, "fields[2].tags[0]"},
        {"upstream", 999, "upstream[999]"},
        {"", 1, "[1]"},
        {NULL, 1, "[1]"},
    };
    for (size_t i = 0; i < MF_T_ROWS(idx); i++) {
        mf_json_path_index(out, sizeof(out), idx[i].path, idx[i].i);
        MF_CHECK_STR(idx[i].want, out, idx[i].want);
    }
    char small[8];
    mf_json_path_key(small, sizeof(small), "operational", "row_count");
    MF_CHECK_STR("path cut to the buffer", small, "operati");
    mf_json_path_index(small, sizeof(small), "partition_keys", 12);
    MF_CHECK_STR("index cut to the buffer", small, "partiti");
}

/* A long path is cut in the message, never overflowing mf_json_err_t. */
static void test_long_path_in_message(void **state)
{
    char *path = mf_t_repeat('p', 400);
    json_t *doc = mf_t_json("{\"k\":1}");
    mf_json_err_t err;
    const char *out;
    int rc = mf_json_string(doc, path, "k", 0, 0, 10, &out, &err);
    json_decref(doc);
    free(path);
    MF_CHECK_INT("rc", rc, MF_EINVALID_REQUEST);
    MF_CHECK_INT("message terminated", memchr(err.msg, '\0', sizeof(err.msg)) != NULL, 1);
    MF_CHECK_INT("message starts with the path", strncmp(err.msg, "pppppppppp", 10), 0);
}

/* ---------- dump ---------- */

static void test_dump(void **state)
{
    static const struct {
        const char *in, *want;
    } rows[] = {
        {"{}", "{}"},
        {"{\"a\": 1, \"b\": [true, false, null]}", "{\"a\":1,\"b\":[true,false,null]}"},
        {"{\"name\": \"caf\\u00e9 \\u20ac\"}", "{\"name\":\"caf\\u00E9 \\u20AC\"}"},
        {"{\"emoji\": \"\\ud83d\\ude00\"}", "{\"emoji\":\"\\uD83D\\uDE00\"}"},
        {"{\"q\": \"\\\"\\\\\\n\\u0001\"}", "{\"q\":\"\\\"\\\\\\n\\u0001\"}"},
        {"{\"z\": 1, \"a\": 2}", "{\"z\":1,\"a\":2}"},
        {"[1, 2.5]", "[1,2.5]"},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        json_t *v = mf_t_json(rows[i].in);
        size_t len = 0;
        char *s = mf_json_dump(v, &len);
        json_decref(v);
        MF_CHECK_STR(rows[i].in, s, rows[i].want);
        MF_CHECK_INT(rows[i].in, len, strlen(rows[i].want));
        free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_object),
        cmocka_unit_test(test_parse_object_values),
        cmocka_unit_test(test_parse_object_message_is_bounded),
        cmocka_unit_test(test_only_fields),
        cmocka_unit_test(test_only_fields_long_key_is_cut),
        cmocka_unit_test(test_string),
        cmocka_unit_test(test_bool),
        cmocka_unit_test(test_int),
        cmocka_unit_test(test_array_and_object),
        cmocka_unit_test(test_check_text),
        cmocka_unit_test(test_invalid_utf8_in_built_strings),
        cmocka_unit_test(test_fail),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_long_path_in_message),
        cmocka_unit_test(test_dump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
