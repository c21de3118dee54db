/*
 * Unit tests of libshared/src/quota.c: mf_quota_check_limits (known names,
 * ranges, types, null only where allowed, messages naming the
 * member) and mf_quota_counter_key (one key per tenant, metric and UTC month).
 */
#include "../unit.h"
#include "mf/quota.h"

static const struct {
    const char *json;
    int allow_null;
    const char *want_error; /* NULL: accepted; else a part of the message */
} limit_cases[] = {
    {"{}", 0, NULL},
    {"{\"max_datasets\": 0, \"max_seats\": 2147483647}", 0, NULL},
    {"{\"requests_per_second\": 1, \"key_requests_per_second\": 1000000}", 0, NULL},
    {"{\"api_calls_per_month\": 1000000000000000, \"emit_events_per_month\": 0}", 0, NULL},
    {"{\"audit_retention_days\": 36500}", 0, NULL},
    {"{\"max_datasets\": null}", 1, NULL},
    {"{\"max_datasets\": null}", 0, "q.max_datasets must not be null"},
    {"{\"max_tables\": 1}", 0, "q.max_tables is not a known quota"},
    {"{\"max_datasets\": -1}", 0, "q.max_datasets must be between 0 and"},
    {"{\"max_datasets\": 2147483648}", 0, "q.max_datasets must be between"},
    {"{\"requests_per_second\": 0}", 0, "q.requests_per_second must be between 1 and 1000000"},
    {"{\"audit_retention_days\": 36501}", 0, "q.audit_retention_days"},
    {"{\"max_seats\": \"3\"}", 1, "q.max_seats must be an integer"},
    {"{\"max_seats\": 2.5}", 0, "q.max_seats must be an integer"},
    {"{\"max_seats\": true}", 0, "q.max_seats must be an integer"},
    {"{\"max_datasets\": 1, \"max_seats\": 1, \"api_calls_per_month\": 1, \"emit_events_per_month\": 1, "
     "\"requests_per_second\": 1, \"key_requests_per_second\": 1, \"audit_retention_days\": 1}",
     0, NULL},
};

static void test_check_limits(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(limit_cases); i++) {
        json_t *obj = json_loads(limit_cases[i].json, 0, NULL);
        assert_non_null(obj);
        mf_json_err_t err = {{0}};
        int rc = mf_quota_check_limits(obj, "q", limit_cases[i].allow_null, &err);
        if (limit_cases[i].want_error == NULL) {
            MF_CHECK_INT(limit_cases[i].json, rc, 0);
        } else {
            MF_CHECK_INT(limit_cases[i].json, rc, MF_EINVALID_REQUEST);
            MF_CHECK_CONTAINS(limit_cases[i].json, err.msg, limit_cases[i].want_error);
        }
        json_decref(obj);
    }
}

static void test_counter_key(void **state)
{
    static const struct {
        const char *metric;
        long long t;
        const char *want;
    } cases[] = {
        {"api", 0, "mf:quota:api:T:197001"},
        {"emit", 1767225599, "mf:quota:emit:T:202512"}, /* 2025-12-31T23:59:59Z */
        {"api", 1767225600, "mf:quota:api:T:202601"},   /* a second later: the next month */
        {"api", 1772323200, "mf:quota:api:T:202603"},   /* 2026-03-01T00:00:00Z */
    };
    for (size_t i = 0; i < MF_T_ROWS(cases); i++) {
        char key[96];
        mf_quota_counter_key(key, sizeof(key), cases[i].metric, "T", cases[i].t);
        MF_CHECK_STR(cases[i].want, key, cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_limits),
        cmocka_unit_test(test_counter_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
