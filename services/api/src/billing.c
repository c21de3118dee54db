/*
 * billing.c: plans, usage against limits, invoices.
 *
 *   GET /api/v1/billing                          tenant admin: plan, this month's usage against each
 *                                                limit, the invoice so far
 *   GET /api/v1/admin/tenants/{id}/invoice       billing or platform admin: one tenant's invoice (?month=YYYY-MM)
 *   GET /api/v1/admin/invoices                   billing or platform admin: every tenant's invoice for
 *                                                ?month=, a JSON page, or all of them as CSV
 *                                                (Accept: text/csv or ?format=csv)
 *   GET /api/v1/admin/plans, /admin/plans/{name} billing or platform admin
 *   PUT /api/v1/admin/plans/{name}               platform admin: create or change a plan
 *
 * The arithmetic lives once, in SQL (mf_invoice, migrations/0013_plans_quotas.sql):
 * integer minor units of the plan's currency. For the current month the
 * Redis counters (what mf-analytics has not folded yet) are read first and
 * count when higher than the folded totals, so a tenant sees its calls at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "api.h"
#include "mf/json.h"
#include "mf/list.h"
#include "mf/quota.h"
#include "mf/redis.h"
#include "mf/util.h"

static mf_pg_stmt_t stmts[] = {
#define OVERVIEW 0
    {"billing_overview", "SELECT mf_billing_overview($1::uuid, $2::bigint, $3::bigint)::text", -1},
#define INVOICE 1
    {"billing_invoice", "SELECT mf_invoice($1::uuid, $2::date, $3::bigint, $4::bigint)::text", -1},
#define INVOICES 2
    {"billing_invoices", "SELECT items, next_key FROM mf_admin_list_invoices($1::int, $2::jsonb, $3::date)", -1},
#define PLANS 3
    {"billing_plans", "SELECT items, next_key FROM mf_admin_list_plans($1::int, $2::jsonb)", -1},
#define PLAN_GET 4
    {"billing_plan_get", "SELECT mf_admin_get_plan($1)::text", -1},
#define PLAN_PUT 5
    {"billing_plan_put", "SELECT doc, created FROM mf_admin_put_plan($1, $2, $3::jsonb, $4::jsonb, $5::jsonb)", -1},
    {NULL, NULL, -1},
};

/* A billing request between its steps. */
typedef struct {
    char tenant_id[40];
    char month[16];            /* YYYY-MM-01 */
    char live[2][24];          /* this month's Redis totals of API calls and emit events */
    const char *live_param[2]; /* live[i], or NULL when unknown */
} billing_req_t;

/* ---------- month and live counters ---------- */

/* ?month=YYYY-MM (default: this month) into b->month; 400 itself for a bad or future month. */
static int month_or_respond(mf_req_t *r, billing_req_t *b, int *current)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int this_year = tm.tm_year + 1900, this_month = tm.tm_mon + 1, year = this_year, month = this_month;
    const char *m = mf_req_query(r, "month");
    if (m != NULL) {
        long long y, mo;
        if (strlen(m) != 7 || m[4] != '-' || mf_parse_int(m, 4, 2000, 9999, &y) != 0 ||
            mf_parse_int(m + 5, 2, 1, 12, &mo) != 0) {
            mf_respond_error(r, MF_EINVALID_REQUEST, "month must be YYYY-MM (e.g. 2026-01)");
            return MF_EINVALID_REQUEST;
        }
        year = (int)y;
        month = (int)mo;
    }
    if (year * 12 + month > this_year * 12 + this_month) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "month %04d-%02d has not begun", year, month);
        return MF_EINVALID_REQUEST;
    }
    snprintf(b->month, sizeof(b->month), "%04d-%02d-01", year, month);
    *current = year == this_year && month == this_month;
    return 0;
}

static billing_req_t *billing_req_new(mf_req_t *r, const char *tenant_id)
{
    billing_req_t *b = mf_calloc(1, sizeof(*b));
    snprintf(b->tenant_id, sizeof(b->tenant_id), "%s", tenant_id);
    mf_req_set_data(r, b, free);
    return b;
}

static void on_row(mf_req_t *r, PGresult *res) { mf_respond_row_or_404(r, res, 200, "tenant not found"); }

static void query_after_live(mf_req_t *r)
{
    billing_req_t *b = mf_req_data(r);
    if (b->month[0] == '\0') { /* the overview */
        const char *params[] = {b->tenant_id, b->live_param[0], b->live_param[1]};
        if (mf_req_query_or_respond(r, &stmts[OVERVIEW], 3, params, on_row) != 0)
            return;
        return;
    }
    const char *params[] = {b->tenant_id, b->month, b->live_param[0], b->live_param[1]};
    if (mf_req_query_untenanted_or_respond(r, &stmts[INVOICE], 4, params, on_row) != 0)
        return;
}

/* The MGET reply of the two counters: unknown (NULL) when Redis failed, 0 when the counter is absent. */
static void on_live(mf_req_t *r, mf_redis_reply_t *reply)
{
    billing_req_t *b = mf_req_data(r);
    for (size_t i = 0; i < 2; i++) {
        if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)
            break;
        const redisReply *v = reply->element[i];
        long long n = 0;
        if (v->type == REDIS_REPLY_STRING && mf_parse_int(v->str, v->len, 0, INT64_MAX, &n) != 0)
            continue;
        snprintf(b->live[i], sizeof(b->live[i]), "%lld", n);
        b->live_param[i] = b->live[i];
    }
    query_after_live(r);
}

/* Read this month's live counters of b's tenant, then run its query; without Redis, at once. */
static void with_live_counters(mf_req_t *r, billing_req_t *b)
{
    char keys[2][128];
    long long now = (long long)time(NULL);
    mf_quota_counter_key(keys[0], sizeof(keys[0]), "api", b->tenant_id, now);
    mf_quota_counter_key(keys[1], sizeof(keys[1]), "emit", b->tenant_id, now);
    const char *argv[] = {"MGET", keys[0], keys[1]};
    if (mf_req_redis(r, 3, argv, NULL, on_live) != 0)
        query_after_live(r);
}

/* ---------- tenant: GET /api/v1/billing ---------- */

static void billing_overview(mf_req_t *r) { with_live_counters(r, billing_req_new(r, mf_req_identity(r)->tenant_id)); }

/* ---------- platform: invoices ---------- */

static void tenant_invoice(mf_req_t *r)
{
    const char *id = mf_req_param(r, "id");
    if (!mf_is_uuid(id, strlen(id))) {
        mf_respond_error(r, MF_ENOT_FOUND, "tenant not found");
        return;
    }
    billing_req_t *b = billing_req_new(r, id);
    int current;
    if (month_or_respond(r, b, &current) != 0)
        return;
    if (current)
        with_live_counters(r, b);
    else
        query_after_live(r);
}

/* Append s to the CSV buffer as one field: always quoted, quotes doubled, and a leading
 * = + - @ defused with an apostrophe so a spreadsheet never runs a tenant's name as a formula. */
static void csv_field(char **buf, size_t *len, size_t *cap, const char *s, int last)
{
    size_t need = *len + 2 * strlen(s) + 5;
    if (need > *cap) {
        *cap = need * 2;
        *buf = mf_realloc(*buf, *cap);
    }
    char *p = *buf + *len;
    *p++ = '"';
    if (strchr("=+-@", s[0]) != NULL && s[0] != '\0')
        *p++ = '\'';
    for (; *s; s++) {
        if (*s == '"')
            *p++ = '"';
        *p++ = *s;
    }
    *p++ = '"';
    *p++ = last ? '\n' : ',';
    *len = (size_t)(p - *buf);
}

static const char *json_text(json_t *v, char *tmp, size_t cap)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(tmp, cap, "%lld", (long long)json_integer_value(v));
        return tmp;
    }
    return "";
}

/* One CSV row per invoice line and one "total" row per invoice. */
static void csv_invoice(char **buf, size_t *len, size_t *cap, json_t *inv)
{
    static const char *const head[] = {"tenant", "tenant_name", "month", "currency"};
    static const char *const cols[] = {"description", "quantity", "unit_price", "amount"};
    char tmp[4][32];
    json_t *line;
    size_t i;
    json_array_foreach(json_object_get(inv, "lines"), i, line)
    {
        for (size_t c = 0; c < 4; c++)
            csv_field(buf, len, cap, json_text(json_object_get(inv, head[c]), tmp[c], sizeof(tmp[c])), 0);
        for (size_t c = 0; c < 4; c++)
            csv_field(buf, len, cap, json_text(json_object_get(line, cols[c]), tmp[c], sizeof(tmp[c])), c == 3);
    }
    for (size_t c = 0; c < 4; c++)
        csv_field(buf, len, cap, json_text(json_object_get(inv, head[c]), tmp[c], sizeof(tmp[c])), 0);
    csv_field(buf, len, cap, "total", 0);
    csv_field(buf, len, cap, "", 0);
    csv_field(buf, len, cap, "", 0);
    csv_field(buf, len, cap, json_text(json_object_get(inv, "total"), tmp[0], sizeof(tmp[0])), 1);
}

static void on_invoices_csv(mf_req_t *r, PGresult *res)
{
    json_t *items = PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
    int fd = memfd_create("invoices.csv", MFD_CLOEXEC);
    if (!json_is_array(items) || fd < 0) {
        json_decref(items);
        if (fd >= 0)
            close(fd);
        mf_respond_error(r, MF_EINTERNAL, NULL);
        return;
    }
    size_t len = 0, cap = 4096;
    char *buf = mf_malloc(cap);
    static const char header[] = "tenant,tenant_name,month,currency,description,quantity,unit_price,amount\n";
    memcpy(buf, header, sizeof(header) - 1);
    len = sizeof(header) - 1;
    json_t *inv;
    size_t i;
    json_array_foreach(items, i, inv) csv_invoice(&buf, &len, &cap, inv);
    json_decref(items);
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    free(buf);
    if (off < len) {
        close(fd);
        mf_respond_error(r, MF_EINTERNAL, NULL);
        return;
    }
    mf_req_add_header(r, "content-disposition", "attachment; filename=\"invoices.csv\"");
    mf_respond_file(r, 200, "text/csv; charset=utf-8", fd, len);
}

/* Whether the caller asked for CSV (?format=csv, or Accept: text/csv); -1 after answering 400. */
static int wants_csv(mf_req_t *r)
{
    const char *format = mf_req_query(r, "format");
    if (format != NULL) {
        if (strcmp(format, "csv") == 0)
            return 1;
        if (strcmp(format, "json") == 0)
            return 0;
        mf_respond_error(r, MF_EINVALID_REQUEST, "format must be json or csv");
        return -1;
    }
    const char *accept = mf_req_header(r, "accept");
    return accept != NULL && strstr(accept, "text/csv") != NULL;
}

static void list_invoices(mf_req_t *r)
{
    billing_req_t *b = billing_req_new(r, "");
    int current, csv = wants_csv(r);
    if (csv < 0 || month_or_respond(r, b, &current) != 0)
        return;
    if (!csv) {
        const char *extra[] = {b->month};
        if (mf_list_query_or_respond(r, &stmts[INVOICES], 1, extra, 0) != 0)
            return;
        return;
    }
    /* CSV: the whole month in one document (one row per tenant and line) */
    const char *params[] = {"1000000", NULL, b->month};
    if (mf_req_query_untenanted_or_respond(r, &stmts[INVOICES], 3, params, on_invoices_csv) != 0)
        return;
}

/* ---------- platform: plans ---------- */

static void list_plans(mf_req_t *r)
{
    if (mf_list_query_or_respond(r, &stmts[PLANS], 0, NULL, 0) != 0)
        return;
}

/* A plan name: 1-32 of [a-z0-9_-], starting with a letter. */
static int valid_plan_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 32 || s[0] < 'a' || s[0] > 'z')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

static void get_plan(mf_req_t *r)
{
    const char *name = mf_req_param(r, "name");
    if (!valid_plan_name(name)) {
        mf_respond_error(r, MF_ENOT_FOUND, "plan not found");
        return;
    }
    const char *params[] = {name};
    if (mf_req_query_untenanted_or_respond(r, &stmts[PLAN_GET], 1, params, on_row) != 0)
        return;
}

/* Every member of obj (may be NULL) must be one of keys with an integer value in [0, max]. */
static int check_amounts(json_t *obj, const char *path, const char *const *keys, long long max, mf_json_err_t *err)
{
    if (obj == NULL)
        return 0;
    if (mf_json_only_fields(obj, path, keys, err) != 0)
        return MF_EINVALID_REQUEST;
    for (size_t i = 0; keys[i] != NULL; i++) {
        long long v;
        int present;
        if (mf_json_int(obj, path, keys[i], 0, 0, max, &v, &present, err) != 0)
            return MF_EINVALID_REQUEST;
    }
    return 0;
}

static void on_plan_put(mf_req_t *r, PGresult *res)
{
    if (PQntuples(res) != 1) {
        mf_respond_error(r, MF_EINTERNAL, NULL);
        return;
    }
    int created = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    mf_respond_json(r, created ? 201 : 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

static void put_plan(mf_req_t *r)
{
    static const char *const allowed[] = {"currency", "limits", "prices", "included", NULL};
    static const char *const price_keys[] = {"base", "per_dataset", "per_seat", "per_1k_api_calls",
                                             "per_1k_emit_events", NULL};
    static const char *const included_keys[] = {"datasets", "seats", "api_calls", "emit_events", NULL};
    const char *name = mf_req_param(r, "name"), *currency = NULL;
    json_t *b = mf_req_body(r), *limits = NULL, *prices = NULL, *included = NULL;
    mf_json_err_t err;
    if (!valid_plan_name(name)) {
        mf_respond_error(r, MF_EINVALID_REQUEST,
                         "a plan name is 1-32 lowercase letters, digits, _ or -, starting with a letter");
        return;
    }
    if (mf_json_only_fields(b, "", allowed, &err) != 0 ||
        mf_json_string(b, "", "currency", 0, 3, 3, &currency, &err) != 0 ||
        mf_json_object(b, "", "limits", 0, &limits, &err) != 0 ||
        mf_json_object(b, "", "prices", 0, &prices, &err) != 0 ||
        mf_json_object(b, "", "included", 0, &included, &err) != 0 ||
        (limits != NULL && mf_quota_check_limits(limits, "limits", 0, &err) != 0) ||
        check_amounts(prices, "prices", price_keys, 1000000000000LL, &err) != 0 ||
        check_amounts(included, "included", included_keys, 1000000000000000LL, &err) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    if (currency != NULL && !(currency[0] >= 'A' && currency[0] <= 'Z' && currency[1] >= 'A' && currency[1] <= 'Z' &&
                              currency[2] >= 'A' && currency[2] <= 'Z')) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "currency must be an ISO 4217 code such as USD or EUR");
        return;
    }
    size_t n;
    json_t *empty = json_object();
    char *l = mf_json_dump(limits ? limits : empty, &n), *p = mf_json_dump(prices ? prices : empty, &n),
         *i = mf_json_dump(included ? included : empty, &n);
    json_decref(empty);
    const char *params[] = {name, currency, l, p, i};
    if (mf_req_query_untenanted_or_respond(r, &stmts[PLAN_PUT], 5, params, on_plan_put) != 0) {
        /* answered 503 */
    }
    free(l);
    free(p);
    free(i);
}

static const mf_route_t routes[] = {
    {"GET", "/api/v1/billing", MF_ROLE_ADMIN, billing_overview, 0},
    {"GET", "/api/v1/admin/tenants/{id}/invoice", MF_ROLE_BILLING_ADMIN, tenant_invoice, 0},
    {"GET", "/api/v1/admin/invoices", MF_ROLE_BILLING_ADMIN, list_invoices, 0},
    {"GET", "/api/v1/admin/plans", MF_ROLE_BILLING_ADMIN, list_plans, 0},
    {"GET", "/api/v1/admin/plans/{name}", MF_ROLE_BILLING_ADMIN, get_plan, 0},
    {"PUT", "/api/v1/admin/plans/{name}", MF_ROLE_PLATFORM_ADMIN, put_plan, 1},
};

void mf_api_register_billing(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
