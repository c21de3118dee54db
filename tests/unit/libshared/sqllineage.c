/*
 * Unit tests of libshared/src/sqllineage.c, mf_sqllineage_parse: one table
 * of statements (SELECT lists, aliases, joins, CTEs, nested subqueries,
 * UNION, aggregates, CASE, CAST, window functions, INSERT ... SELECT, CREATE
 * TABLE AS, SELECT *, UPDATE, several statements) with the column edges each
 * must give, written "source.column>target.column TRANSFORMATION" and
 * compared as sorted lists, and the warning expected (a substring) or none;
 * then SQL that is refused (does not parse, too long, NUL bytes, nothing in
 * it, nested too deeply) with its message; a wide statement and a long
 * operator chain; and the OpenLineage sql job facet
 * (mf_ingest_from_openlineage): column lineage for outputs without a
 * columnLineage facet, matched to the event's datasets by name suffix,
 * never failing the event.
 */
#include "../unit.h"
#include <pg_query.h>
#include "mf/ingest.h"
#include "mf/log.h"
#include "mf/sqllineage.h"
#include "mf/util.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* "a; b; c" (any order) sorted into one string. New string. */
static char *sorted_list(char **items, size_t n)
{
    qsort(items, n, sizeof(*items), cmp_str);
    size_t cap = 1;
    for (size_t i = 0; i < n; i++)
        cap += strlen(items[i]) + 2;
    char *out = mf_malloc(cap);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strcat(out, "; ");
        strcat(out, items[i]);
    }
    return out;
}

static char *canonical_expected(const char *want)
{
    char *copy = mf_strdup(want), *items[256], *save = NULL;
    size_t n = 0;
    for (char *tok = strtok_r(copy, ";", &save); tok != NULL && n < 256; tok = strtok_r(NULL, ";", &save)) {
        while (*tok == ' ')
            tok++;
        if (*tok != '\0')
            items[n++] = tok;
    }
    char *out = sorted_list(items, n);
    free(copy);
    return out;
}

static char *canonical_edges(json_t *edges)
{
    size_t n = json_array_size(edges);
    char **items = mf_malloc((n + 1) * sizeof(*items));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(edges, i);
        char buf[1200];
        snprintf(buf, sizeof(buf), "%s.%s>%s.%s %s", json_string_value(json_object_get(e, "source")),
                 json_string_value(json_object_get(e, "source_field")), json_string_value(json_object_get(e, "target")),
                 json_string_value(json_object_get(e, "target_field")),
                 json_string_value(json_object_get(e, "transformation")));
        items[i] = mf_strdup(buf);
    }
    char *out = sorted_list(items, n);
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
    return out;
}

/* All warnings joined by " | ". New string. */
static char *joined_warnings(json_t *warnings)
{
    size_t i, cap = 1;
    json_t *w;
    json_array_foreach(warnings, i, w) cap += strlen(json_string_value(w)) + 3;
    char *out = mf_malloc(cap);
    out[0] = '\0';
    json_array_foreach(warnings, i, w)
    {
        if (i > 0)
            strcat(out, " | ");
        strcat(out, json_string_value(w));
    }
    return out;
}

typedef struct {
    const char *what;
    const char *sql;
    const char *target;  /* default target; NULL: none */
    const char *known;   /* known columns as JSON; NULL: none */
    const char *edges;   /* "src.col>tgt.col TRANSFORM; ..." */
    const char *warning; /* a substring of the warnings; NULL: there must be none */
} lineage_case_t;

#define ORDERS_KNOWN "{\"orders\":[\"id\",\"customer_id\",\"amount\",\"status\"],\"customers\":[\"id\",\"name\",\"region\"]}"

static const lineage_case_t cases[] = {
    {"select list with an alias", "SELECT id, amount AS total FROM orders", "t", NULL,
     "orders.id>t.id IDENTITY; orders.amount>t.total IDENTITY", NULL},
    {"table alias and qualified columns", "SELECT o.id, o.amount FROM analytics.orders o", "t", NULL,
     "analytics.orders.id>t.id IDENTITY; analytics.orders.amount>t.amount IDENTITY", NULL},
    {"schema-qualified column without alias", "SELECT analytics.orders.id FROM analytics.orders", "t", NULL,
     "analytics.orders.id>t.id IDENTITY", NULL},
    {"join with qualified columns",
     "SELECT o.id AS order_id, c.name FROM orders o JOIN customers c ON o.customer_id = c.id", "t", NULL,
     "orders.id>t.order_id IDENTITY; customers.name>t.name IDENTITY", NULL},
    {"join: unqualified columns resolved through known columns",
     "SELECT amount, name, region FROM orders o LEFT JOIN customers c ON o.customer_id = c.id", "t", ORDERS_KNOWN,
     "orders.amount>t.amount IDENTITY; customers.name>t.name IDENTITY; customers.region>t.region IDENTITY", NULL},
    {"join: unqualified column without known columns is ambiguous",
     "SELECT amount FROM orders o JOIN customers c ON o.customer_id = c.id", "t", NULL, "",
     "column amount could be in any of o, c"},
    {"join: a column both known tables have is ambiguous",
     "SELECT id FROM orders o JOIN customers c ON o.customer_id = c.id", "t", ORDERS_KNOWN, "",
     "column id could be in any of o, c"},
    {"join USING: the column comes from both sides", "SELECT id, amount FROM orders JOIN refunds USING (id)", "t",
     "{\"orders\":[\"id\",\"amount\"],\"refunds\":[\"id\",\"reason\"]}",
     "orders.id>t.id IDENTITY; refunds.id>t.id IDENTITY; orders.amount>t.amount IDENTITY", NULL},
    {"CTE", "WITH recent AS (SELECT id, amount * 2 AS doubled FROM orders) SELECT id, doubled FROM recent", "t", NULL,
     "orders.id>t.id IDENTITY; orders.amount>t.doubled EXPRESSION", NULL},
    {"CTE chain keeps the strongest transformation",
     "WITH a AS (SELECT customer_id, sum(amount) AS s FROM orders GROUP BY customer_id), "
     "b AS (SELECT customer_id AS cid, s AS total FROM a) SELECT cid, total FROM b",
     "t", NULL, "orders.customer_id>t.cid IDENTITY; orders.amount>t.total AGGREGATION", NULL},
    {"CTE column list", "WITH c(x) AS (SELECT amount FROM orders) SELECT x FROM c", "t", NULL,
     "orders.amount>t.x IDENTITY", NULL},
    {"recursive CTE",
     "WITH RECURSIVE tree(id, parent) AS (SELECT id, parent_id FROM nodes UNION ALL "
     "SELECT n.id, tree.parent FROM nodes n JOIN tree ON n.parent_id = tree.id) SELECT id, parent FROM tree",
     "t", NULL, "nodes.id>t.id IDENTITY; nodes.parent_id>t.parent IDENTITY", NULL},
    {"nested subqueries",
     "SELECT x.total FROM (SELECT y.total FROM (SELECT amount + 1 AS total FROM orders) y) x", "t", NULL,
     "orders.amount>t.total EXPRESSION", NULL},
    {"subquery with column aliases", "SELECT s.a FROM (SELECT amount FROM orders) AS s(a)", "t", NULL,
     "orders.amount>t.a IDENTITY", NULL},
    {"scalar subquery in the select list", "SELECT id, (SELECT max(amount) FROM payments p) AS top FROM orders o",
     "t", "{\"orders\":[\"id\"],\"payments\":[\"amount\"]}",
     "orders.id>t.id IDENTITY; payments.amount>t.top AGGREGATION", NULL},
    {"correlated subquery reaches the outer query",
     "SELECT o.id, (SELECT count(p.id) FROM payments p WHERE p.order_id = o.id) AS n FROM orders o", "t", NULL,
     "orders.id>t.id IDENTITY; payments.id>t.n AGGREGATION", NULL},
    {"UNION merges both sides by position",
     "SELECT id, amount FROM orders UNION ALL SELECT refund_id, -value FROM refunds", "t", NULL,
     "orders.id>t.id IDENTITY; refunds.refund_id>t.id IDENTITY; orders.amount>t.amount IDENTITY; "
     "refunds.value>t.amount EXPRESSION",
     NULL},
    {"aggregates and GROUP BY",
     "SELECT customer_id, sum(amount) AS revenue, count(*) AS n, count(DISTINCT status) AS statuses "
     "FROM orders GROUP BY customer_id",
     "t", NULL,
     "orders.customer_id>t.customer_id IDENTITY; orders.amount>t.revenue AGGREGATION; "
     "orders.status>t.statuses AGGREGATION",
     NULL},
    {"CASE", "SELECT CASE WHEN amount > 100 THEN 'big' ELSE status END AS size FROM orders", "t", NULL,
     "orders.amount>t.size CASE; orders.status>t.size CASE", NULL},
    {"CAST and :: name the column after its argument",
     "SELECT CAST(amount AS numeric(10,2)), id::text FROM orders", "t", NULL,
     "orders.amount>t.amount CAST; orders.id>t.id CAST", NULL},
    {"window function: partition and order are not lineage",
     "SELECT id, row_number() OVER (PARTITION BY customer_id ORDER BY amount) AS rn, "
     "sum(amount) OVER (PARTITION BY customer_id) AS running FROM orders",
     "t", NULL, "orders.id>t.id IDENTITY; orders.amount>t.running WINDOW", NULL},
    {"expressions and functions", "SELECT coalesce(a, b) AS c, upper(name) AS u, x || y AS xy FROM src", "t", NULL,
     "src.a>t.c EXPRESSION; src.b>t.c EXPRESSION; src.name>t.u EXPRESSION; src.x>t.xy EXPRESSION; "
     "src.y>t.xy EXPRESSION",
     NULL},
    {"INSERT ... SELECT with a column list", "INSERT INTO mart.daily (day, total) SELECT d, sum(v) FROM raw GROUP BY d",
     NULL, NULL, "raw.d>mart.daily.day IDENTITY; raw.v>mart.daily.total AGGREGATION", NULL},
    {"INSERT ... SELECT without a column list uses the target's known columns",
     "INSERT INTO daily SELECT d, sum(v) FROM raw GROUP BY d", NULL, "{\"daily\":[\"day\",\"total\"]}",
     "raw.d>daily.day IDENTITY; raw.v>daily.total AGGREGATION", NULL},
    {"INSERT ... SELECT without column list or known columns uses the select's names",
     "INSERT INTO daily SELECT d AS day FROM raw", NULL, NULL, "raw.d>daily.day IDENTITY", NULL},
    {"WITH ... INSERT", "WITH r AS (SELECT id FROM raw) INSERT INTO t (id) SELECT id FROM r", NULL, NULL,
     "raw.id>t.id IDENTITY", NULL},
    {"INSERT ... VALUES has no lineage", "INSERT INTO t (a) VALUES (1)", NULL, NULL, "", NULL},
    {"CREATE TABLE AS", "CREATE TABLE mart.customers AS SELECT c.id, upper(c.name) AS name FROM customers c", NULL,
     NULL, "customers.id>mart.customers.id IDENTITY; customers.name>mart.customers.name EXPRESSION", NULL},
    {"CREATE TABLE AS with a column list", "CREATE TABLE t (a, b) AS SELECT id, amount FROM orders", NULL, NULL,
     "orders.id>t.a IDENTITY; orders.amount>t.b IDENTITY", NULL},
    {"CREATE VIEW and SELECT INTO", "CREATE VIEW v AS SELECT id FROM orders; SELECT amount INTO w FROM orders", NULL,
     NULL, "orders.id>v.id IDENTITY; orders.amount>w.amount IDENTITY", NULL},
    {"SELECT * over known columns", "SELECT * FROM customers", "t", ORDERS_KNOWN,
     "customers.id>t.id IDENTITY; customers.name>t.name IDENTITY; customers.region>t.region IDENTITY", NULL},
    {"t.* over a subquery", "SELECT s.* FROM (SELECT id, amount AS a FROM orders) s", "t", NULL,
     "orders.id>t.id IDENTITY; orders.amount>t.a IDENTITY", NULL},
    {"SELECT * over unknown columns warns", "SELECT * FROM mystery", "t", NULL, "",
     "* cannot be expanded over mystery"},
    {"known columns match a longer catalog name", "SELECT * FROM s.orders", "t",
     "{\"db.s.orders\":[\"id\"],\"db.s.other\":[\"x\"]}", "s.orders.id>t.id IDENTITY", NULL},
    {"UPDATE ... SET ... FROM", "UPDATE orders o SET amount = p.total FROM payments p WHERE p.order_id = o.id", NULL,
     NULL, "payments.total>orders.amount IDENTITY", NULL},
    {"a SELECT without target warns", "SELECT id FROM orders", NULL, NULL, "", "a SELECT writes nowhere"},
    {"an unnamed expression warns", "SELECT a + b FROM src", "t", NULL, "", "select item 1 has no name"},
    {"an unknown qualifier warns", "SELECT z.id FROM orders o", "t", NULL, "", "no table or alias z in scope"},
    {"a function in FROM warns", "SELECT g FROM generate_series(1, 3) AS g", "t", NULL, "",
     "the function in FROM g is not analyzed"},
    {"DDL has no lineage and no warning", "CREATE TABLE t (a int); DROP TABLE u; BEGIN; COMMIT", NULL, NULL, "", NULL},
    {"MERGE warns",
     "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v", NULL, NULL, "", "MERGE is not analyzed"},
    {"several statements number their warnings", "INSERT INTO t SELECT a FROM s; SELECT b FROM s", NULL, NULL,
     "s.a>t.a IDENTITY", "statement 2: a SELECT writes nowhere"},
    {"quoted identifiers keep their case", "SELECT \"Amount\" AS \"Total\" FROM \"Sales\".\"Orders\"", "t", NULL,
     "Sales.Orders.Amount>t.Total IDENTITY", NULL},
};

static void test_lineage_table(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(cases); i++) {
        const lineage_case_t *tc = &cases[i];
        json_t *known = tc->known ? json_loads(tc->known, 0, NULL) : NULL;
        mf_sqllineage_opts_t opts = {.default_target = tc->target, .known_columns = known};
        mf_json_err_t err = {{0}};
        json_t *res = mf_sqllineage_parse(tc->sql, strlen(tc->sql), &opts, &err);
        if (res == NULL) {
            print_error("%s: parse failed: %s\n", tc->what, err.msg);
            fail();
        }
        char *got = canonical_edges(json_object_get(res, "edges")), *want = canonical_expected(tc->edges);
        MF_CHECK_STR(tc->what, got, want);
        char *warnings = joined_warnings(json_object_get(res, "warnings"));
        if (tc->warning == NULL)
            MF_CHECK_STR(tc->what, warnings, "");
        else if (strstr(warnings, tc->warning) == NULL)
            MF_CHECK_STR(tc->what, warnings, tc->warning);
        free(got);
        free(want);
        free(warnings);
        json_decref(res);
        json_decref(known);
    }
}

static void test_sources_and_targets(void **state)
{
    const char *sql = "INSERT INTO mart.t SELECT o.id FROM orders o JOIN s.customers c ON o.cid = c.id; "
                      "CREATE TABLE u AS SELECT 1 AS one";
    mf_json_err_t err;
    json_t *res = mf_sqllineage_parse(sql, strlen(sql), NULL, &err);
    assert_non_null(res);
    size_t len;
    char *s = mf_json_dump(json_object_get(res, "sources"), &len), *t = mf_json_dump(json_object_get(res, "targets"), &len);
    MF_CHECK_STR("sources", s, "[\"orders\",\"s.customers\"]");
    MF_CHECK_STR("targets", t, "[\"mart.t\",\"u\"]");
    assert_int_equal(json_integer_value(json_object_get(res, "statements")), 2);
    free(s);
    free(t);
    json_decref(res);
}

typedef struct {
    const char *what;
    const char *sql;
    size_t len; /* 0: strlen */
    const char *message;
} refusal_t;

static const refusal_t refusals[] = {
    {"syntax error", "SELECT a FORM t", 0, "the SQL does not parse: syntax error at or near \"t\" (line 1, column 15)"},
    {"syntax error on a later line", "SELECT a\nFROM t\nWHERE (", 0,
     "the SQL does not parse: syntax error at end of input (line 3, column 8)"},
    {"unterminated string", "SELECT 'abc", 0, "the SQL does not parse: unterminated quoted string at or near \"'abc\" (line 1, column 8)"},
    {"NUL byte", "SELECT 1\0; DROP TABLE x", 24, "the SQL must not contain NUL bytes"},
    {"no statement", "  -- only a comment\n", 0, "the SQL holds no statement"},
    {"empty", "", 0, "the SQL holds no statement"},
};

static void test_refusals(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(refusals); i++) {
        const refusal_t *tc = &refusals[i];
        mf_json_err_t err = {{0}};
        json_t *res = mf_sqllineage_parse(tc->sql, tc->len ? tc->len : strlen(tc->sql), NULL, &err);
        if (res != NULL) {
            print_error("%s: parsed but should not\n", tc->what);
            fail();
        }
        MF_CHECK_STR(tc->what, err.msg, tc->message);
    }
}

static void test_too_long(void **state)
{
    size_t n = 3000;
    char *sql = mf_malloc(n);
    memset(sql, ' ', n);
    memcpy(sql, "SELECT 1", 8);
    mf_sqllineage_opts_t opts = {.max_bytes = 2048};
    mf_json_err_t err;
    assert_null(mf_sqllineage_parse(sql, n, &opts, &err));
    MF_CHECK_STR("too long", err.msg, "the SQL is 3000 bytes, more than the 2048 this service parses");
    opts.max_bytes = 4096;
    json_t *res = mf_sqllineage_parse(sql, n, &opts, &err);
    assert_non_null(res);
    json_decref(res);
    free(sql);
}

/* Parentheses nested past the parser's stack, and queries nested past the walk's depth: refused or warned, never a crash. */
static void test_deep_nesting(void **state)
{
    size_t depth = 50000, n = 7 + 2 * depth + 1;
    char *sql = mf_malloc(n + 1);
    memcpy(sql, "SELECT ", 7);
    memset(sql + 7, '(', depth);
    sql[7 + depth] = '1';
    memset(sql + 8 + depth, ')', depth);
    sql[n] = '\0';
    mf_json_err_t err;
    mf_sqllineage_opts_t opts = {.default_target = "t", .max_bytes = n};
    assert_null(mf_sqllineage_parse(sql, n, &opts, &err));
    assert_non_null(strstr(err.msg, "the SQL does not parse"));
    free(sql);

    /* 300 nested subqueries: deeper than MF_SQLLINEAGE_MAX_DEPTH, still fine for the parser */
    char *nested = mf_malloc(300 * 40 + 64);
    size_t len = 0;
    for (int i = 0; i < 300; i++)
        len += (size_t)sprintf(nested + len, "SELECT a FROM (");
    len += (size_t)sprintf(nested + len, "SELECT a FROM src");
    for (int i = 0; i < 300; i++)
        len += (size_t)sprintf(nested + len, ") s%d", i);
    opts.max_bytes = len;
    json_t *res = mf_sqllineage_parse(nested, len, &opts, &err);
    if (res == NULL) {
        assert_non_null(strstr(err.msg, "nested too deeply"));
    } else {
        char *w = joined_warnings(json_object_get(res, "warnings"));
        assert_non_null(strstr(w, "nested deeper than"));
        free(w);
        json_decref(res);
    }
    free(nested);
}

/* A chain of 500 operators (a1 || a2 || ...) nests the parse tree 500 deep: followed to its end. */
static void test_long_chain(void **state)
{
    char *sql = mf_malloc(500 * 12 + 64);
    size_t len = (size_t)sprintf(sql, "SELECT ");
    for (int i = 1; i <= 500; i++)
        len += (size_t)sprintf(sql + len, "%sa%d", i > 1 ? " || " : "", i);
    len += (size_t)sprintf(sql + len, " AS x FROM s");
    mf_sqllineage_opts_t opts = {.default_target = "t"};
    mf_json_err_t err;
    json_t *res = mf_sqllineage_parse(sql, len, &opts, &err);
    assert_non_null(res);
    assert_int_equal(json_array_size(json_object_get(res, "edges")), 500);
    json_t *last = json_array_get(json_object_get(res, "edges"), 499);
    MF_CHECK_STR("last pair", json_string_value(json_object_get(last, "source_field")), "a500");
    MF_CHECK_STR("transformation", json_string_value(json_object_get(last, "transformation")), "EXPRESSION");
    assert_int_equal(json_array_size(json_object_get(res, "warnings")), 0);
    json_decref(res);
    free(sql);
}

/* A wide statement (2,000 select items over a 2,000-column known table) at the default limit. */
static void test_large_statement(void **state)
{
    size_t cap = 2000 * 40 + 64, len = 0;
    char *sql = mf_malloc(cap);
    json_t *cols = json_array();
    len += (size_t)sprintf(sql, "INSERT INTO wide SELECT ");
    for (int i = 0; i < 2000; i++) {
        char name[16];
        snprintf(name, sizeof(name), "c%d", i);
        json_array_append_new(cols, json_string(name));
        len += (size_t)sprintf(sql + len, "%sc%d + 1 AS c%d", i ? ", " : "", i, i);
    }
    len += (size_t)sprintf(sql + len, " FROM src");
    json_t *known = json_pack("{s:o}", "src", cols);
    mf_sqllineage_opts_t opts = {.known_columns = known};
    mf_json_err_t err;
    json_t *res = mf_sqllineage_parse(sql, len, &opts, &err);
    assert_non_null(res);
    assert_int_equal(json_array_size(json_object_get(res, "edges")), 2000);
    assert_int_equal(json_array_size(json_object_get(res, "warnings")), 0);
    json_decref(res);
    json_decref(known);
    free(sql);
}

/* An OpenLineage RunEvent (' for ") whose job runs sql, with inputs and outputs given as JSON text. */
static json_t *ol_event(const char *sql, const char *inputs, const char *outputs)
{
    char text[4096];
    snprintf(text, sizeof(text),
             "{'eventType':'COMPLETE','eventTime':'2024-05-01T10:00:00Z','run':{'runId':"
             "'3b452093-782c-4ef2-9c0c-aafe2aa6f34d'},'job':{'namespace':'airflow','name':'load',"
             "'facets':{'sql':{'query':'%s'}}},'inputs':%s,'outputs':%s}",
             sql, inputs, outputs);
    for (char *p = text; *p != '\0'; p++)
        if (*p == '\'')
            *p = '"';
    json_t *ev = json_loads(text, 0, NULL);
    assert_non_null(ev);
    return ev;
}

/* The event's column pairs as "source.field>target.field TRANSFORM", sorted. */
static char *ol_pairs(json_t *ev)
{
    json_t *edges = json_array();
    size_t i, j;
    json_t *l, *c;
    json_array_foreach(json_object_get(ev, "lineage"), i, l)
    {
        json_array_foreach(json_object_get(l, "columns"), j, c)
        {
            json_array_append_new(
                edges, json_pack("{s:O,s:O,s:O,s:O,s:O}", "source", json_object_get(json_object_get(l, "source"), "name"),
                                 "source_field", json_object_get(c, "source_field"), "target",
                                 json_object_get(json_object_get(l, "target"), "name"), "target_field",
                                 json_object_get(c, "target_field"), "transformation",
                                 json_object_get(c, "transformation")));
        }
    }
    char *out = canonical_edges(edges);
    json_decref(edges);
    return out;
}

typedef struct {
    const char *what, *sql, *inputs, *outputs, *pairs;
} ol_case_t;

#define NS "'namespace':'postgres://db'"
static const ol_case_t ol_cases[] = {
    {"INSERT matched by name suffix", "INSERT INTO public.daily (d, t) SELECT day, sum(v) FROM public.raw GROUP BY 1",
     "[{" NS ",'name':'shop.public.raw'}]", "[{" NS ",'name':'shop.public.daily'}]",
     "shop.public.raw.day>shop.public.daily.d IDENTITY; shop.public.raw.v>shop.public.daily.t AGGREGATION"},
    {"a bare SELECT feeds the only output; * from the input's schema facet", "SELECT * FROM raw",
     "[{" NS ",'name':'raw','facets':{'schema':{'fields':[{'name':'a'},{'name':'b'}]}}}]",
     "[{" NS ",'name':'copy'}]", "raw.a>copy.a IDENTITY; raw.b>copy.b IDENTITY"},
    {"a columnLineage facet wins over the SQL", "INSERT INTO o (x) SELECT y FROM i",
     "[{" NS ",'name':'i'}]",
     "[{" NS ",'name':'o','facets':{'columnLineage':{'fields':{'x':{'inputFields':[{" NS
     ",'name':'i','field':'z'}]}}}}}]",
     "i.z>o.x "},
    {"SQL that does not parse adds nothing and fails nothing", "INSERT INTO o SELEC", "[{" NS ",'name':'i'}]",
     "[{" NS ",'name':'o'}]", ""},
    {"a table that is not in the event is left out", "INSERT INTO o (x) SELECT a.y FROM elsewhere a",
     "[{" NS ",'name':'i'}]", "[{" NS ",'name':'o'}]", ""},
};

static void test_openlineage_sql_facet(void **state)
{
    mf_log_min_level = MF_LOG_WARN; /* the decoder logs what the SQL did not give at info */
    for (size_t i = 0; i < MF_T_ROWS(ol_cases); i++) {
        const ol_case_t *tc = &ol_cases[i];
        json_t *body = ol_event(tc->sql, tc->inputs, tc->outputs);
        mf_json_err_t err = {{0}};
        json_t *ev = mf_ingest_from_openlineage(body, &err);
        if (ev == NULL) {
            print_error("%s: the event was refused: %s\n", tc->what, err.msg);
            fail();
        }
        char *got = ol_pairs(ev), *want = canonical_expected(tc->pairs);
        MF_CHECK_STR(tc->what, got, want);
        assert_non_null(json_object_get(ev, "lineage")); /* the dataset-level edge is there either way */
        free(got);
        free(want);
        json_decref(ev);
        json_decref(body);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lineage_table),  cmocka_unit_test(test_sources_and_targets),
        cmocka_unit_test(test_refusals),       cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_deep_nesting),   cmocka_unit_test(test_large_statement),
        cmocka_unit_test(test_long_chain),     cmocka_unit_test(test_openlineage_sql_facet),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    pg_query_exit(); /* frees this thread's parser memory, so the leak check sees none */
    return rc;
}
