/*
 * Unit tests of libshared/src/redis.c, the part that needs no server:
 * mf_redis_parse_url (redis://host:port, no scheme, the default port, a /db
 * suffix that is ignored, user:pass@ credentials skipped, bad ports, an empty
 * host, a host longer than the buffer). The connection itself is covered by
 * the integration tests, which run a real Redis.
 */
#include "../unit.h"
#include "mf/redis.h"

typedef struct {
    const char *url;
    size_t hostlen; /* 0: the 256 bytes mf_redis_t holds */
    int ok;
    const char *host;
    int port;
} url_row_t;

static const url_row_t url_rows[] = {
    /* accepted */
    {"redis://localhost:6380", 0, 1, "localhost", 6380},
    {"redis://127.0.0.1:6379", 0, 1, "127.0.0.1", 6379},
    {"redis://redis.internal.example:16379", 0, 1, "redis.internal.example", 16379},
    {"localhost:6380", 0, 1, "localhost", 6380},
    {"cache", 0, 1, "cache", 6379},
    {"redis://localhost", 0, 1, "localhost", 6379},
    {"redis://localhost:6380/2", 0, 1, "localhost", 6380},
    {"redis://localhost:6380/", 0, 1, "localhost", 6380},
    {"redis://localhost/2", 0, 1, "localhost", 6379},
    {"localhost/15", 0, 1, "localhost", 6379},
    {"redis://user:secret@cache:6381", 0, 1, "cache", 6381},
    {"redis://user:secret@cache:6381/3", 0, 1, "cache", 6381},
    {"redis://:secret@cache", 0, 1, "cache", 6379},
    {"redis://default@cache/0", 0, 1, "cache", 6379},
    {"user:secret@cache:7000", 0, 1, "cache", 7000},
    {"redis://h:1", 0, 1, "h", 1},         /* lowest port */
    {"redis://h:65535", 0, 1, "h", 65535}, /* highest port */
    {"redis://h:06379", 0, 1, "h", 6379},  /* leading zero */
    /* bad ports */
    {"redis://localhost:0", 0, 0, NULL, 0},
    {"redis://localhost:65536", 0, 0, NULL, 0},
    {"redis://localhost:99999999999999999999", 0, 0, NULL, 0},
    {"redis://localhost:-1", 0, 0, NULL, 0},
    {"redis://localhost:+6379", 0, 0, NULL, 0},
    {"redis://localhost:abc", 0, 0, NULL, 0},
    {"redis://localhost:63a9", 0, 0, NULL, 0},
    {"redis://localhost:6379x/0", 0, 0, NULL, 0},
    {"redis://localhost: 6379", 0, 0, NULL, 0},
    {"redis://localhost:", 0, 0, NULL, 0},
    {"redis://localhost:/0", 0, 0, NULL, 0},
    {"redis://localhost:6379:1", 0, 0, NULL, 0},
    {"localhost:0x18eb", 0, 0, NULL, 0},
    /* empty host */
    {"", 0, 0, NULL, 0},
    {"redis://", 0, 0, NULL, 0},
    {"redis://:6379", 0, 0, NULL, 0},
    {":6379", 0, 0, NULL, 0},
    {"redis:///0", 0, 0, NULL, 0},
    {"redis://user:secret@", 0, 0, NULL, 0},
    {"redis://user:secret@:6379", 0, 0, NULL, 0},
    /* another scheme is not a host */
    {"rediss://cache:6380", 0, 0, NULL, 0},
    {"http://cache:6379", 0, 0, NULL, 0},
    /* host length against the buffer: hostlen - 1 bytes fit (plus the NUL) */
    {"redis://abcdefg:1", 8, 1, "abcdefg", 1},
    {"redis://abcdefgh:1", 8, 0, NULL, 0},
    {"abcdefgh", 8, 0, NULL, 0},
    {"redis://a", 2, 1, "a", 6379},
    {"redis://ab", 2, 0, NULL, 0},
};

static void test_parse_url(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(url_rows); i++) {
        const url_row_t *r = &url_rows[i];
        size_t hostlen = r->hostlen ? r->hostlen : 256;
        char host[256], label[160];
        int port = -7;
        memset(host, 'Z', sizeof(host));
        host[sizeof(host) - 1] = '\0';
        snprintf(label, sizeof(label), "row %zu: mf_redis_parse_url(\"%s\", hostlen %zu)", i, r->url, hostlen);
        int rc = mf_redis_parse_url(r->url, host, hostlen, &port);
        MF_CHECK_INT(label, rc, r->ok ? 0 : MF_EINVALID_REQUEST);
        if (r->ok) {
            MF_CHECK_STR(label, host, r->host);
            MF_CHECK_INT(label, port, r->port);
        }
        /* nothing written past hostlen */
        for (size_t k = hostlen; k < sizeof(host) - 1; k++)
            MF_CHECK_INT(label, host[k], 'Z');
    }
}

/* Hosts of 255 bytes fit the 256 bytes a connection keeps; 256 do not. */
static void test_parse_url_long_host(void **state)
{
    static const struct {
        size_t n;
        const char *prefix, *suffix;
        int ok;
        int port;
    } rows[] = {
        {255, "redis://", ":6380/1", 1, 6380},
        {255, "", "", 1, 6379},
        {255, "redis://u:p@", "", 1, 6379},
        {256, "redis://", ":6380", 0, 0},
        {256, "", "", 0, 0},
        {4096, "redis://", ":6379", 0, 0},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        char *name = mf_t_repeat('h', rows[i].n), host[256], label[96];
        size_t len = strlen(rows[i].prefix) + rows[i].n + strlen(rows[i].suffix) + 1;
        char *url = malloc(len);
        assert_non_null(url);
        snprintf(url, len, "%s%s%s", rows[i].prefix, name, rows[i].suffix);
        snprintf(label, sizeof(label), "row %zu: host of %zu bytes in \"%s...%s\"", i, rows[i].n, rows[i].prefix,
                 rows[i].suffix);
        int port = -7;
        int rc = mf_redis_parse_url(url, host, sizeof(host), &port);
        MF_CHECK_INT(label, rc, rows[i].ok ? 0 : MF_EINVALID_REQUEST);
        if (rows[i].ok) {
            MF_CHECK_STR(label, host, name);
            MF_CHECK_INT(label, port, rows[i].port);
        }
        free(url);
        free(name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_url),
        cmocka_unit_test(test_parse_url_long_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
