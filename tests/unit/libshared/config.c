/*
 * Unit tests of libshared/src/config.c: defaults, environment overrides,
 * invalid values rejected with a message naming the key, bounds,
 * MF_LOG_LEVEL and MF_KEY_ENV validation, mf_config_set, and
 * mf_config_print_doc listing every key. (That docs/configuration.md lists
 * every key is checked by tests/integration/test_service.py.)
 *
 * Configuration values are process-global: every test starts from an
 * environment without MF_* keys and every value back at its default
 * (reset_all), so the tests do not depend on their order or on the shell
 * that runs them.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../unit.h"
#include "mf/config.h"

typedef struct {
    mf_config_key_t key;
    const char *env;
    int is_int;
    const char *def;
    long long min, max; /* value bounds for INT, length bounds for STR */
} cfg_row_t;

/* Every key, generated from MF_CONFIG_TABLE: the tests that apply to any key
 * (defaults load, bounds enforced, listed by mf_config_print_doc) walk this,
 * so a key added to the table is covered without editing this file. */
#define IS_INT_INT 1
#define IS_INT_STR 0
static const cfg_row_t table[] = {
#define ROW(id, env, type, def, min, max, doc) {MF_CFG_##id, env, IS_INT_##type, def, min, max},
    MF_CONFIG_TABLE(ROW)
#undef ROW
};

/* The documented contract of the established keys (docs/configuration.md),
 * written out by hand: a changed name, type, default or bound fails
 * test_documented_rows. */
static const cfg_row_t documented[] = {
    {MF_CFG_HTTP_HOST, "MF_HTTP_HOST", 0, "127.0.0.1", 1, 255},
    {MF_CFG_HTTP_PORT, "MF_HTTP_PORT", 1, "8080", 1, 65535},
    {MF_CFG_HTTP_THREADS, "MF_HTTP_THREADS", 1, "2", 1, 64},
    {MF_CFG_HTTP_MAX_BODY, "MF_HTTP_MAX_BODY", 1, "1048576", 1024, 67108864},
    {MF_CFG_CORS_ORIGIN, "MF_CORS_ORIGIN", 0, "", 0, 255},
    {MF_CFG_PUBLIC_URL, "MF_PUBLIC_URL", 0, "", 0, 255},
    {MF_CFG_PG_URL, "MF_PG_URL", 0, "", 0, 1024},
    {MF_CFG_PG_ADMIN_URL, "MF_PG_ADMIN_URL", 0, "", 0, 1024},
    {MF_CFG_PG_POOL_SIZE, "MF_PG_POOL_SIZE", 1, "8", 1, 256},
    {MF_CFG_PG_QUEUE_MAX, "MF_PG_QUEUE_MAX", 1, "256", 0, 100000},
    {MF_CFG_PG_RECONNECT_MAX_MS, "MF_PG_RECONNECT_MAX_MS", 1, "5000", 10, 600000},
    {MF_CFG_MIGRATIONS_DIR, "MF_MIGRATIONS_DIR", 0, "migrations", 1, 1024},
    {MF_CFG_REDIS_URL, "MF_REDIS_URL", 0, "", 0, 1024},
    {MF_CFG_KEY_ENV, "MF_KEY_ENV", 0, "live", 1, 16},
    {MF_CFG_KEY_CACHE_TTL, "MF_KEY_CACHE_TTL", 1, "5", 0, 3600},
    {MF_CFG_LOG_LEVEL, "MF_LOG_LEVEL", 0, "info", 4, 5},
    {MF_CFG_SHUTDOWN_TIMEOUT, "MF_SHUTDOWN_TIMEOUT", 1, "10", 0, 600},
};

static const cfg_row_t *row_of(const char *env)
{
    for (size_t i = 0; i < MF_T_ROWS(table); i++)
        if (strcmp(table[i].env, env) == 0)
            return &table[i];
    print_error("no key %s in MF_CONFIG_TABLE\n", env);
    fail();
    return NULL;
}

/* Every MF_* key unset and every value back at its default. */
static int reset_all(void **state)
{
    char err[256];
    for (size_t i = 0; i < MF_T_ROWS(table); i++) {
        unsetenv(table[i].env);
        if (mf_config_set(table[i].key, table[i].def, err, sizeof(err)) != 0) {
            print_error("resetting %s failed: %s\n", table[i].env, err);
            return -1;
        }
    }
    return 0;
}

static void check_value(const cfg_row_t *r, const char *want)
{
    char label[80];
    snprintf(label, sizeof(label), "%s", r->env);
    if (r->is_int)
        MF_CHECK_INT(label, mf_config_int(r->key), strtoll(want, NULL, 10));
    else
        MF_CHECK_STR(label, mf_config_str(r->key), want);
}

static void test_table_generates_keys_in_order(void **state)
{
    MF_CHECK_INT("rows in MF_CONFIG_TABLE", MF_T_ROWS(table), MF_CFG__COUNT);
    for (size_t i = 0; i < MF_T_ROWS(table); i++) {
        MF_CHECK_INT(table[i].env, table[i].key, (int)i);
        MF_CHECK_INT(table[i].env, strncmp(table[i].env, "MF_", 3), 0);
        MF_CHECK_INT(table[i].env, table[i].min <= table[i].max, 1);
        for (size_t j = 0; j < i; j++)
            MF_CHECK_INT(table[i].env, strcmp(table[i].env, table[j].env) != 0, 1);
    }
}

static void test_documented_rows(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(documented); i++) {
        const cfg_row_t *d = &documented[i];
        MF_CHECK_INT(d->env, d->key < MF_CFG__COUNT, 1);
        const cfg_row_t *t = &table[d->key];
        MF_CHECK_STR("name of the key", t->env, d->env);
        MF_CHECK_INT(d->env, t->is_int, d->is_int);
        MF_CHECK_STR(d->env, t->def, d->def);
        MF_CHECK_INT(d->env, t->min, d->min);
        MF_CHECK_INT(d->env, t->max, d->max);
    }
}

/* Runs before any test calls mf_config_set: what a fresh process sees. */
static void test_defaults_before_load(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(table); i++)
        check_value(&table[i], table[i].def);
}

static void test_defaults_after_load(void **state)
{
    char err[256] = "";
    int rc = mf_config_load(err, sizeof(err));
    MF_CHECK_STR("mf_config_load with an empty environment: message", err, "");
    MF_CHECK_INT("mf_config_load with an empty environment", rc, 0);
    for (size_t i = 0; i < MF_T_ROWS(table); i++)
        check_value(&table[i], table[i].def);
}

static void test_env_overrides(void **state)
{
    static const struct {
        const char *env, *value;
    } set[] = {
        {"MF_HTTP_HOST", "0.0.0.0"},
        {"MF_HTTP_PORT", "9090"},
        {"MF_HTTP_THREADS", "8"},
        {"MF_HTTP_MAX_BODY", "2048"},
        {"MF_CORS_ORIGIN", "https://dashboard.example.com"},
        {"MF_PUBLIC_URL", "https://api.example.com"},
        {"MF_PG_URL", "postgresql://mf_app@db.example/metafuse"},
        {"MF_PG_ADMIN_URL", "postgresql://mf_owner@db.example/metafuse"},
        {"MF_PG_POOL_SIZE", "16"},
        {"MF_PG_QUEUE_MAX", "0"},
        {"MF_PG_RECONNECT_MAX_MS", "250"},
        {"MF_MIGRATIONS_DIR", "db/migrations"},
        {"MF_REDIS_URL", "redis://cache.example:6380"},
        {"MF_KEY_ENV", "test2"},
        {"MF_KEY_CACHE_TTL", "0"},
        {"MF_LOG_LEVEL", "debug"},
        {"MF_SHUTDOWN_TIMEOUT", "30"},
    };
    for (size_t i = 0; i < MF_T_ROWS(set); i++)
        setenv(set[i].env, set[i].value, 1);
    char err[256] = "";
    int rc = mf_config_load(err, sizeof(err));
    MF_CHECK_STR("message", err, "");
    MF_CHECK_INT("mf_config_load", rc, 0);
    for (size_t i = 0; i < MF_T_ROWS(set); i++)
        check_value(row_of(set[i].env), set[i].value);
}

static void test_empty_env_value_for_optional_string(void **state)
{
    char err[256] = "";
    MF_CHECK_INT("set MF_REDIS_URL", mf_config_set(MF_CFG_REDIS_URL, "redis://x", err, sizeof(err)), 0);
    setenv("MF_REDIS_URL", "", 1);
    MF_CHECK_INT("empty MF_REDIS_URL is allowed", mf_config_load(err, sizeof(err)), 0);
    MF_CHECK_STR("MF_REDIS_URL", mf_config_str(MF_CFG_REDIS_URL), "");
}

/* ---------- invalid values ---------- */

typedef struct {
    const char *env, *value;
    const char *message; /* the whole message; NULL: only that it names the key */
} bad_row_t;

#define PORT_MSG(got) "MF_HTTP_PORT must be an integer between 1 and 65535 (got \"" got "\")"
#define LEVEL_MSG(got) "MF_LOG_LEVEL must be debug, info, warn or error (got \"" got "\")"

static const bad_row_t bad_rows[] = {
    {"MF_HTTP_PORT", "0", PORT_MSG("0")},
    {"MF_HTTP_PORT", "65536", PORT_MSG("65536")},
    {"MF_HTTP_PORT", "-1", PORT_MSG("-1")},
    {"MF_HTTP_PORT", "", PORT_MSG("")},
    {"MF_HTTP_PORT", "http", PORT_MSG("http")},
    {"MF_HTTP_PORT", " 80", PORT_MSG(" 80")},
    {"MF_HTTP_PORT", "80 ", PORT_MSG("80 ")},
    {"MF_HTTP_PORT", "+80", PORT_MSG("+80")},
    {"MF_HTTP_PORT", "8080x", PORT_MSG("8080x")},
    {"MF_HTTP_PORT", "80.0", PORT_MSG("80.0")},
    {"MF_HTTP_PORT", "0x50", PORT_MSG("0x50")},
    {"MF_HTTP_PORT", "99999999999999999999999", PORT_MSG("99999999999999999999999")},
    {"MF_HTTP_THREADS", "0", "MF_HTTP_THREADS must be an integer between 1 and 64 (got \"0\")"},
    {"MF_HTTP_THREADS", "65", "MF_HTTP_THREADS must be an integer between 1 and 64 (got \"65\")"},
    {"MF_HTTP_MAX_BODY", "1023", "MF_HTTP_MAX_BODY must be an integer between 1024 and 67108864 (got \"1023\")"},
    {"MF_HTTP_MAX_BODY", "67108865",
     "MF_HTTP_MAX_BODY must be an integer between 1024 and 67108864 (got \"67108865\")"},
    {"MF_HTTP_MAX_BODY", "1M", "MF_HTTP_MAX_BODY must be an integer between 1024 and 67108864 (got \"1M\")"},
    {"MF_PG_POOL_SIZE", "257", "MF_PG_POOL_SIZE must be an integer between 1 and 256 (got \"257\")"},
    {"MF_PG_QUEUE_MAX", "-1", "MF_PG_QUEUE_MAX must be an integer between 0 and 100000 (got \"-1\")"},
    {"MF_PG_QUEUE_MAX", "100001", "MF_PG_QUEUE_MAX must be an integer between 0 and 100000 (got \"100001\")"},
    {"MF_PG_RECONNECT_MAX_MS", "9", "MF_PG_RECONNECT_MAX_MS must be an integer between 10 and 600000 (got \"9\")"},
    {"MF_KEY_CACHE_TTL", "3601", "MF_KEY_CACHE_TTL must be an integer between 0 and 3600 (got \"3601\")"},
    {"MF_SHUTDOWN_TIMEOUT", "601", "MF_SHUTDOWN_TIMEOUT must be an integer between 0 and 600 (got \"601\")"},
    {"MF_SHUTDOWN_TIMEOUT", "ten", "MF_SHUTDOWN_TIMEOUT must be an integer between 0 and 600 (got \"ten\")"},
    /* strings: length and printable text */
    {"MF_HTTP_HOST", "", "MF_HTTP_HOST must be 1 to 255 printable characters"},
    {"MF_HTTP_HOST", "local\thost", "MF_HTTP_HOST must be 1 to 255 printable characters"},
    {"MF_HTTP_HOST", "localhost\n", "MF_HTTP_HOST must be 1 to 255 printable characters"},
    {"MF_HTTP_HOST", "\x1b[2J", "MF_HTTP_HOST must be 1 to 255 printable characters"},
    {"MF_HTTP_HOST", "h\xc3", "MF_HTTP_HOST must be 1 to 255 printable characters"},
    {"MF_MIGRATIONS_DIR", "", "MF_MIGRATIONS_DIR must be 1 to 1024 printable characters"},
    {"MF_PG_URL", "postgresql://a\x7f", "MF_PG_URL must be 0 to 1024 printable characters"},
    /* MF_LOG_LEVEL */
    {"MF_LOG_LEVEL", "INFO", LEVEL_MSG("INFO")},
    {"MF_LOG_LEVEL", "trace", LEVEL_MSG("trace")},
    {"MF_LOG_LEVEL", "Debug", LEVEL_MSG("Debug")},
    {"MF_LOG_LEVEL", "warn ", LEVEL_MSG("warn ")},
    {"MF_LOG_LEVEL", "fata", LEVEL_MSG("fata")},
    /* rejected by the 4..5 length bound before the name check; only the key is asserted */
    {"MF_LOG_LEVEL", "", NULL},
    {"MF_LOG_LEVEL", "warning", NULL},
    /* MF_KEY_ENV */
    {"MF_KEY_ENV", "Live", "MF_KEY_ENV must be lowercase letters and digits"},
    {"MF_KEY_ENV", "li-ve", "MF_KEY_ENV must be lowercase letters and digits"},
    {"MF_KEY_ENV", "live_1", "MF_KEY_ENV must be lowercase letters and digits"},
    {"MF_KEY_ENV", "li ve", "MF_KEY_ENV must be lowercase letters and digits"},
    {"MF_KEY_ENV", "caf\xc3\xa9", "MF_KEY_ENV must be lowercase letters and digits"},
    {"MF_KEY_ENV", "", "MF_KEY_ENV must be 1 to 16 printable characters"},
    {"MF_KEY_ENV", "abcdefghijklmnopq", "MF_KEY_ENV must be 1 to 16 printable characters"},
};

static void check_bad(size_t i, const bad_row_t *b, int via_env)
{
    const cfg_row_t *r = row_of(b->env);
    char err[512] = "", label[160], shown[64];
    snprintf(label, sizeof(label), "row %zu: %s=\"%s\" via %s", i, b->env,
             mf_t_show(shown, sizeof(shown), b->value, strlen(b->value)), via_env ? "environment" : "mf_config_set");
    int rc;
    if (via_env) {
        setenv(b->env, b->value, 1);
        rc = mf_config_load(err, sizeof(err));
        unsetenv(b->env);
    } else {
        rc = mf_config_set(r->key, b->value, err, sizeof(err));
    }
    MF_CHECK_INT(label, rc, MF_EINVALID_REQUEST);
    MF_CHECK_CONTAINS(label, err, b->env); /* the message names the key */
    if (b->message != NULL)
        MF_CHECK_STR(label, err, b->message);
    check_value(r, r->def); /* a rejected value leaves the old one */
}

static void test_invalid_env_values(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(bad_rows); i++) {
        check_bad(i, &bad_rows[i], 1);
        assert_int_equal(reset_all(NULL), 0);
    }
}

static void test_invalid_set_values(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(bad_rows); i++) {
        check_bad(i, &bad_rows[i], 0);
        assert_int_equal(reset_all(NULL), 0);
    }
}

static void test_long_values_in_messages_are_cut(void **state)
{
    char *junk = mf_t_repeat('9', 500), err[256];
    setenv("MF_HTTP_PORT", junk, 1);
    int rc = mf_config_load(err, sizeof(err));
    free(junk);
    MF_CHECK_INT("500-digit port", rc, MF_EINVALID_REQUEST);
    MF_CHECK_STR("500-digit port", err,
                 "MF_HTTP_PORT must be an integer between 1 and 65535 "
                 "(got \"9999999999999999999999999999999999999999\")");
    /* a tiny buffer is filled, not overrun */
    char tiny[8];
    memset(tiny, 'x', sizeof(tiny));
    setenv("MF_HTTP_PORT", "0", 1);
    rc = mf_config_load(tiny, sizeof(tiny));
    MF_CHECK_INT("tiny buffer", rc, MF_EINVALID_REQUEST);
    MF_CHECK_STR("tiny buffer", tiny, "MF_HTTP");
}

static void test_first_bad_key_is_named(void **state)
{
    char err[256] = "";
    setenv("MF_HTTP_PORT", "8081", 1);
    setenv("MF_LOG_LEVEL", "loud", 1);
    int rc = mf_config_load(err, sizeof(err));
    MF_CHECK_INT("one bad key among good ones", rc, MF_EINVALID_REQUEST);
    MF_CHECK_STR("one bad key among good ones", err, LEVEL_MSG("loud"));
    MF_CHECK_STR("MF_LOG_LEVEL unchanged", mf_config_str(MF_CFG_LOG_LEVEL), "info");
}

/* ---------- bounds ---------- */

static void test_bounds_accepted(void **state)
{
    static const struct {
        const char *env, *value;
    } ok[] = {
        {"MF_HTTP_PORT", "1"},           {"MF_HTTP_PORT", "65535"},       {"MF_HTTP_PORT", "08080"},
        {"MF_HTTP_THREADS", "1"},        {"MF_HTTP_THREADS", "64"},       {"MF_HTTP_MAX_BODY", "1024"},
        {"MF_HTTP_MAX_BODY", "67108864"}, {"MF_PG_POOL_SIZE", "1"},       {"MF_PG_POOL_SIZE", "256"},
        {"MF_PG_QUEUE_MAX", "0"},        {"MF_PG_QUEUE_MAX", "100000"},   {"MF_PG_RECONNECT_MAX_MS", "10"},
        {"MF_PG_RECONNECT_MAX_MS", "600000"}, {"MF_KEY_CACHE_TTL", "0"},  {"MF_KEY_CACHE_TTL", "3600"},
        {"MF_SHUTDOWN_TIMEOUT", "0"},    {"MF_SHUTDOWN_TIMEOUT", "600"},  {"MF_LOG_LEVEL", "debug"},
        {"MF_LOG_LEVEL", "info"},        {"MF_LOG_LEVEL", "warn"},        {"MF_LOG_LEVEL", "error"},
        {"MF_KEY_ENV", "a"},             {"MF_KEY_ENV", "0"},             {"MF_KEY_ENV", "abcdefghijklmnop"},
        {"MF_KEY_ENV", "staging2"},      {"MF_HTTP_HOST", "::1"},
        {"MF_CORS_ORIGIN", "https://caf\xc3\xa9.example"},
    };
    for (size_t i = 0; i < MF_T_ROWS(ok); i++) {
        char err[256] = "", label[128];
        snprintf(label, sizeof(label), "%s=\"%s\"", ok[i].env, ok[i].value);
        setenv(ok[i].env, ok[i].value, 1);
        int rc = mf_config_load(err, sizeof(err));
        unsetenv(ok[i].env);
        MF_CHECK_STR(label, err, "");
        MF_CHECK_INT(label, rc, 0);
        check_value(row_of(ok[i].env), ok[i].value);
        assert_int_equal(reset_all(NULL), 0);
    }
}

/* The longest string each STR key takes, and one byte more. */
static void test_string_length_bounds(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(table); i++) {
        const cfg_row_t *r = &table[i];
        if (r->is_int || r->key == MF_CFG_LOG_LEVEL)
            continue;
        char err[256] = "", label[96];
        char *at_max = mf_t_repeat('a', (size_t)r->max), *over = mf_t_repeat('a', (size_t)r->max + 1);
        snprintf(label, sizeof(label), "%s of %lld bytes", r->env, r->max);
        MF_CHECK_INT(label, mf_config_set(r->key, at_max, err, sizeof(err)), 0);
        MF_CHECK_STR(label, mf_config_str(r->key), at_max);
        snprintf(label, sizeof(label), "%s of %lld bytes", r->env, r->max + 1);
        int rc = mf_config_set(r->key, over, err, sizeof(err));
        free(at_max);
        free(over);
        MF_CHECK_INT(label, rc, MF_EINVALID_REQUEST);
        MF_CHECK_CONTAINS(label, err, r->env);
        if (r->min > 0) {
            char *under = mf_t_repeat('a', (size_t)r->min - 1);
            snprintf(label, sizeof(label), "%s of %lld bytes", r->env, r->min - 1);
            rc = mf_config_set(r->key, under, err, sizeof(err));
            free(under);
            MF_CHECK_INT(label, rc, MF_EINVALID_REQUEST);
            MF_CHECK_CONTAINS(label, err, r->env);
        }
        assert_int_equal(reset_all(NULL), 0);
    }
}

/* Every INT key takes its bounds and refuses one past each, with the key and the value in the message. */
static void test_int_bounds_of_every_key(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(table); i++) {
        const cfg_row_t *r = &table[i];
        if (!r->is_int)
            continue;
        const long long ok[] = {r->min, r->max}, bad[] = {r->min - 1, r->max + 1};
        for (int k = 0; k < 2; k++) {
            char value[32], err[256] = "", label[96], want[256];
            snprintf(value, sizeof(value), "%lld", ok[k]);
            snprintf(label, sizeof(label), "%s=%s", r->env, value);
            setenv(r->env, value, 1);
            int rc = mf_config_load(err, sizeof(err));
            MF_CHECK_STR(label, err, "");
            MF_CHECK_INT(label, rc, 0);
            MF_CHECK_INT(label, mf_config_int(r->key), ok[k]);

            snprintf(value, sizeof(value), "%lld", bad[k]);
            snprintf(label, sizeof(label), "%s=%s", r->env, value);
            setenv(r->env, value, 1);
            rc = mf_config_load(err, sizeof(err));
            MF_CHECK_INT(label, rc, MF_EINVALID_REQUEST);
            snprintf(want, sizeof(want), "%s must be an integer between %lld and %lld (got \"%s\")", r->env, r->min,
                     r->max, value);
            MF_CHECK_STR(label, err, want);
            MF_CHECK_INT(label, mf_config_int(r->key), ok[k]); /* unchanged */
            unsetenv(r->env);
        }
        assert_int_equal(reset_all(NULL), 0);
    }
}

static void test_set_overrides_and_is_kept(void **state)
{
    char err[256];
    MF_CHECK_INT("set port", mf_config_set(MF_CFG_HTTP_PORT, "7000", err, sizeof(err)), 0);
    MF_CHECK_INT("port", mf_config_int(MF_CFG_HTTP_PORT), 7000);
    /* a later load without the variable keeps the set value */
    MF_CHECK_INT("load", mf_config_load(err, sizeof(err)), 0);
    MF_CHECK_INT("port after load", mf_config_int(MF_CFG_HTTP_PORT), 7000);
    MF_CHECK_INT("set host", mf_config_set(MF_CFG_HTTP_HOST, "10.0.0.1", err, sizeof(err)), 0);
    MF_CHECK_STR("host", mf_config_str(MF_CFG_HTTP_HOST), "10.0.0.1");
}

/* Reading an INT key as a string (or the reverse) is a broken invariant: the process aborts. */
static void test_wrong_type_read_aborts(void **state)
{
    for (int which = 0; which < 2; which++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(STDERR_FILENO); /* keep the panic line out of the test output */
            if (which == 0)
                (void)mf_config_str(MF_CFG_HTTP_PORT);
            else
                (void)mf_config_int(MF_CFG_HTTP_HOST);
            _exit(0);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        MF_CHECK_INT(which == 0 ? "mf_config_str(INT key) aborts" : "mf_config_int(STR key) aborts",
                     WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, 1);
    }
}

/* ---------- documentation ---------- */

static void test_print_doc_lists_every_key(void **state)
{
    char *doc = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&doc, &len);
    assert_non_null(f);
    mf_config_print_doc(f);
    fclose(f);
    MF_CHECK_CONTAINS("header", doc, "| variable | type | default | allowed | meaning |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < MF_T_ROWS(table); i++) {
        const cfg_row_t *r = &table[i];
        char line[300];
        if (r->is_int)
            snprintf(line, sizeof(line), "| `%s` | integer | `%s` | %lld to %lld | ", r->env, r->def, r->min, r->max);
        else
            snprintf(line, sizeof(line), "| `%s` | string | `%s` | %lld to %lld chars | ", r->env, r->def, r->min,
                     r->max);
        MF_CHECK_CONTAINS(r->env, doc, line);
    }
    /* one row per key, each with a non-empty meaning, nothing else */
    size_t nlines = 0;
    for (char *p = doc, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        nlines++;
        if (nlines <= 2)
            continue;
        *nl = '\0';
        MF_CHECK_INT(p, strncmp(p, "| `MF_", 6), 0);
        MF_CHECK_INT(p, nl - p > 3 && strcmp(nl - 2, " |") == 0 && nl[-3] != '|', 1);
        *nl = '\n';
    }
    MF_CHECK_INT("lines (header, rule, one per key)", nlines, 2 + MF_CFG__COUNT);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_generates_keys_in_order),
        cmocka_unit_test(test_documented_rows),
        cmocka_unit_test(test_defaults_before_load),
        cmocka_unit_test_setup(test_defaults_after_load, reset_all),
        cmocka_unit_test_setup(test_env_overrides, reset_all),
        cmocka_unit_test_setup(test_empty_env_value_for_optional_string, reset_all),
        cmocka_unit_test_setup(test_invalid_env_values, reset_all),
        cmocka_unit_test_setup(test_invalid_set_values, reset_all),
        cmocka_unit_test_setup(test_long_values_in_messages_are_cut, reset_all),
        cmocka_unit_test_setup(test_first_bad_key_is_named, reset_all),
        cmocka_unit_test_setup(test_bounds_accepted, reset_all),
        cmocka_unit_test_setup(test_string_length_bounds, reset_all),
        cmocka_unit_test_setup(test_int_bounds_of_every_key, reset_all),
        cmocka_unit_test_setup(test_set_overrides_and_is_kept, reset_all),
        cmocka_unit_test_setup(test_wrong_type_read_aborts, reset_all),
        cmocka_unit_test(test_print_doc_lists_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
