/*
 * sqllineage.c: column lineage of SQL text (sqllineage.h).
 *
 * libpg_query turns the text into PostgreSQL's own parse tree as JSON, which
 * jansson reads; nothing here re-implements SQL grammar. The walk is scoped
 * like PostgreSQL's name resolution:
 *
 *  - A query's scope holds its FROM items (relations): a base table (its
 *    columns known from opts->known_columns, or open: any name is accepted)
 *    or a derived relation (CTE, subquery) with output columns already
 *    analyzed. Scopes chain to the enclosing query's (correlated subqueries,
 *    LATERAL) and carry the WITH clause's CTEs.
 *  - Every output column of a query is {"name", "src": {"table\ncolumn": rank}}:
 *    the base-table columns it is computed from, each with the strongest
 *    transformation on the way (rank). A CTE column that aggregates stays an
 *    aggregate wherever it is used.
 *  - An expression's rank is the strongest node between the output and the
 *    column reference: a bare reference is IDENTITY, a cast CAST, a CASE
 *    CASE, a window function WINDOW, an aggregate AGGREGATION, anything else
 *    EXPRESSION. Window partitions and orderings, WHERE, GROUP BY and JOIN
 *    conditions only filter or group rows: they are not column lineage.
 *  - An unqualified column belongs to the one relation that has it; when no
 *    relation is known to have it and exactly one base table's columns are
 *    unknown, to that table; otherwise it is ambiguous (a warning) and left
 *    out. A column of a USING join belongs to both sides.
 *
 * Every parse owns its JSON; nothing is shared between calls, so the module
 * is thread-safe as libpg_query is (its memory contexts are per thread).
 */
#include <pg_query.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mf/catalog.h"
#include "mf/config.h"
#include "mf/sqllineage.h"
#include "mf/util.h"

typedef enum { T_IDENTITY, T_CAST, T_EXPRESSION, T_CASE, T_WINDOW, T_AGGREGATION } rank_t;

static const char *const rank_names[] = {"IDENTITY", "CAST", "EXPRESSION", "CASE", "WINDOW", "AGGREGATION"};

/* Functions that aggregate rows (PostgreSQL's and the usual warehouse ones). */
static const char *const aggregates[] = {
    "count",       "sum",         "avg",          "min",          "max",         "array_agg",    "string_agg",
    "json_agg",    "jsonb_agg",   "json_object_agg", "jsonb_object_agg", "bool_and", "bool_or",    "every",
    "bit_and",     "bit_or",      "bit_xor",      "stddev",       "stddev_pop",  "stddev_samp",  "variance",
    "var_pop",     "var_samp",    "percentile_cont", "percentile_disc", "mode",     "corr",         "covar_pop",
    "covar_samp",  "regr_avgx",   "regr_avgy",    "regr_count",   "regr_intercept", "regr_r2",   "regr_slope",
    "regr_sxx",    "regr_sxy",    "regr_syy",     "xmlagg",       "range_agg",   "range_intersect_agg", "any_value",
    "listagg",     "median",      "approx_count_distinct",
};

/* A query level: its FROM relations, its WITH clause, and the query around it. */
typedef struct scope {
    json_t *rels;  /* [{"alias","table"|null,"known"|null,"cols"|null,"names"|null}] */
    json_t *ctes;  /* {name: [output]} */
    json_t *using; /* {column: [rel index]} from JOIN ... USING / NATURAL */
    const struct scope *parent;
} scope_t;

typedef struct {
    json_t *known;      /* borrowed */
    json_t *warnings;   /* [text] */
    json_t *edges;      /* [edge] */
    json_t *edge_index; /* "src\ncol\ntgt\ncol" -> index in edges */
    json_t *sources;    /* {table: true}, insertion-ordered */
    json_t *targets;
    size_t n_warnings;
    int stmt;  /* 1-based statement number, for warnings */
    int depth; /* current nesting */
} ctx_t;

/* ---------- small helpers ---------- */

static scope_t scope_new(const scope_t *parent) { return (scope_t){json_array(), json_object(), json_object(), parent}; }

static void scope_free(scope_t *s)
{
    json_decref(s->rels);
    json_decref(s->ctes);
    json_decref(s->using);
}

/*
 * Messages quote the SQL (names, the parser's "at or near" token) cut to a
 * byte count, which can split a character: control characters become spaces,
 * and a message that is still not UTF-8 keeps its ASCII and shows every other
 * byte as '?'.
 */
static void clean_message(char *msg)
{
    for (char *p = msg; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    json_t *s = json_string(msg); /* NULL when msg is not UTF-8 */
    if (s != NULL) {
        json_decref(s);
        return;
    }
    for (char *p = msg; *p != '\0'; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
}

static void warn(ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(ctx_t *c, const char *fmt, ...)
{
    if (c->n_warnings++ >= MF_SQLLINEAGE_MAX_WARNINGS)
        return;
    char msg[400];
    int n = snprintf(msg, sizeof(msg), "statement %d: ", c->stmt);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    clean_message(msg);
    json_array_append_new(c->warnings, json_string(msg));
}

static json_t *member(json_t *obj, const char *key) { return json_object_get(obj, key); }
static const char *str_member(json_t *obj, const char *key) { return json_string_value(json_object_get(obj, key)); }

/* The body of node {"Type": body} when it is of that type, else NULL. */
static json_t *node_of(json_t *node, const char *type) { return json_object_get(node, type); }

/* The text of a {"String":{"sval"}} node, or NULL. */
static const char *sval(json_t *node) { return str_member(node_of(node, "String"), "sval"); }

/* A RangeVar's table name as written: catalog.schema.relation. New string. */
static char *rangevar_name(json_t *rv)
{
    const char *parts[] = {str_member(rv, "catalogname"), str_member(rv, "schemaname"), str_member(rv, "relname")};
    size_t cap = 1;
    for (size_t i = 0; i < MF_ARRAY_SIZE(parts); i++)
        cap += parts[i] ? strlen(parts[i]) + 1 : 0;
    char *out = mf_malloc(cap);
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < MF_ARRAY_SIZE(parts); i++)
        if (parts[i] != NULL)
            n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "." : "", parts[i]);
    return out;
}

/* A column name in a list: a JSON string, a String node or a named ResTarget (INSERT's column list). */
static const char *col_name(json_t *v)
{
    if (json_is_string(v))
        return json_string_value(v);
    return sval(v) ? sval(v) : str_member(node_of(v, "ResTarget"), "name");
}

static void src_add(json_t *set, const char *key, rank_t rank)
{
    json_t *have = json_object_get(set, key);
    if (have == NULL || json_integer_value(have) < rank)
        json_object_set_new(set, key, json_integer(rank));
}

static void src_add_table(json_t *set, const char *table, const char *col, rank_t rank)
{
    size_t tl = strlen(table), cl = strlen(col);
    char *key = mf_malloc(tl + cl + 2);
    memcpy(key, table, tl);
    key[tl] = '\n';
    memcpy(key + tl + 1, col, cl + 1);
    src_add(set, key, rank);
    free(key);
}

/* Add every source of from (an output's "src") to set, at least at rank. */
static void src_merge(json_t *set, json_t *from, rank_t rank)
{
    const char *k;
    json_t *v;
    json_object_foreach(from, k, v)
    {
        rank_t r = (rank_t)json_integer_value(v);
        src_add(set, k, r > rank ? r : rank);
    }
}

static json_t *output_new(const char *name, json_t *src) { return json_pack("{s:s,s:o}", "name", name, "src", src); }

json_t *mf_sqllineage_known(json_t *known, const char *table)
{
    json_t *cols = json_object_get(known, table);
    if (cols != NULL || known == NULL)
        return json_array_size(cols) > 0 ? cols : NULL; /* no columns (a placeholder): unknown */
    size_t tl = strlen(table);
    json_t *found = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(known, k, v)
    {
        size_t kl = strlen(k);
        if (kl > tl && k[kl - tl - 1] == '.' && strcmp(k + kl - tl, table) == 0 && json_array_size(v) > 0) {
            if (found != NULL)
                return NULL; /* two candidates: not known */
            found = v;
        }
    }
    return found;
}

/*
 * {column: position} of a relation's columns (the first of a repeated name),
 * so a wide relation is searched in constant time. cols holds names
 * (known columns) or outputs ({"name", "src"}). New object.
 */
static json_t *names_index(json_t *cols)
{
    json_t *index = json_object();
    size_t i;
    json_t *v;
    json_array_foreach(cols, i, v)
    {
        const char *name = json_is_string(v) ? json_string_value(v) : str_member(v, "name");
        if (name != NULL && json_object_get(index, name) == NULL)
            json_object_set_new(index, name, json_integer((json_int_t)i));
    }
    return index;
}

static const char *rel_alias(json_t *rel) { return str_member(rel, "alias"); }
static const char *rel_table(json_t *rel) { return str_member(rel, "table"); }

/* ---------- expressions ---------- */

static json_t *analyze_query(ctx_t *c, json_t *sel, const scope_t *parent);
static void walk(ctx_t *c, json_t *node, const scope_t *s, rank_t rank, json_t *set);

/* A relation named q (an alias, a table name or its schema-qualified form) in s or an enclosing scope. */
static json_t *rel_find(const scope_t *s, const char *q)
{
    for (; s != NULL; s = s->parent) {
        size_t i;
        json_t *rel;
        json_array_foreach(s->rels, i, rel)
        {
            const char *t = rel_table(rel);
            if (strcmp(rel_alias(rel), q) == 0 || (t != NULL && strcmp(t, q) == 0))
                return rel;
        }
    }
    return NULL;
}

/* Column col of relation rel into set; 0 when rel surely does not have it. */
static int rel_column(json_t *rel, const char *col, rank_t rank, json_t *set)
{
    json_t *cols = member(rel, "cols");
    if (cols != NULL) {
        json_t *pos = json_object_get(member(rel, "names"), col);
        if (pos == NULL)
            return 0;
        src_merge(set, member(json_array_get(cols, (size_t)json_integer_value(pos)), "src"), rank);
        return 1;
    }
    if (rel_table(rel) == NULL)
        return 0; /* a function in FROM: not analyzed */
    src_add_table(set, rel_table(rel), col, rank);
    return 1;
}

/* 1 when rel certainly has col (derived with that output, or a table whose known columns hold it). */
static int rel_surely_has(json_t *rel, const char *col) { return json_object_get(member(rel, "names"), col) != NULL; }

/* A base table whose columns are unknown: any column name may be its. */
static int rel_is_open(json_t *rel) { return member(rel, "names") == NULL && rel_table(rel) != NULL; }

/* An unqualified column in one scope level: 1 resolved, 0 not here, -1 ambiguous (warned). */
static int resolve_unqualified(ctx_t *c, const scope_t *s, const char *col, rank_t rank, json_t *set)
{
    json_t *using = json_object_get(s->using, col);
    size_t i, n_sure = 0, n_open = 0;
    json_t *rel, *sure = NULL, *open = NULL;
    json_array_foreach(s->rels, i, rel)
    {
        if (rel_surely_has(rel, col)) {
            n_sure++;
            sure = rel;
        } else if (rel_is_open(rel)) {
            n_open++;
            open = rel;
        }
    }
    if (using != NULL) { /* USING (col): both sides of the join */
        json_t *idx;
        json_array_foreach(using, i, idx)
        {
            json_t *r = json_array_get(s->rels, (size_t)json_integer_value(idx));
            if (rel_surely_has(r, col) || rel_is_open(r))
                rel_column(r, col, rank, set);
        }
        return 1;
    }
    if (n_sure == 1)
        return rel_column(sure, col, rank, set);
    if (n_sure == 0 && n_open == 1)
        return rel_column(open, col, rank, set);
    if (n_sure + n_open == 0)
        return 0;
    char names[200] = "";
    size_t len = 0;
    json_array_foreach(s->rels, i, rel)
    {
        if ((rel_surely_has(rel, col) || (n_sure == 0 && rel_is_open(rel))) && len < sizeof(names) - 1)
            len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", len ? ", " : "", rel_alias(rel));
    }
    warn(c, "column %.100s could be in any of %s: qualify it or give the tables' columns", col, names);
    return -1;
}

/* Every column of rel (for `*`) as outputs appended to out; 0 when its columns are unknown. */
static int rel_expand(json_t *rel, json_t *out)
{
    json_t *cols = member(rel, "cols"), *known = member(rel, "known");
    size_t i;
    json_t *o;
    if (cols != NULL) {
        json_array_foreach(cols, i, o) json_array_append_new(out, output_new(str_member(o, "name"), json_deep_copy(member(o, "src"))));
        return 1;
    }
    if (known == NULL)
        return 0;
    json_array_foreach(known, i, o)
    {
        if (!json_is_string(o))
            continue;
        json_t *src = json_object();
        src_add_table(src, rel_table(rel), json_string_value(o), T_IDENTITY);
        json_array_append_new(out, output_new(json_string_value(o), src));
    }
    return 1;
}

/* `*` or `q.*`: the columns of every relation of s (or of q) appended to out as outputs. */
static void expand_star(ctx_t *c, const scope_t *s, const char *q, json_t *out)
{
    if (q != NULL) {
        json_t *rel = rel_find(s, q);
        if (rel == NULL)
            warn(c, "%.100s.* names no table or alias in scope", q);
        else if (!rel_expand(rel, out))
            warn(c, "%.100s.* cannot be expanded: the columns of %.100s are unknown", q, rel_alias(rel));
        return;
    }
    size_t i;
    json_t *rel;
    json_array_foreach(s->rels, i, rel)
    {
        if (!rel_expand(rel, out))
            warn(c, "* cannot be expanded over %.100s: its columns are unknown", rel_alias(rel));
    }
}

/* The qualifier of a ColumnRef (all fields but the last, dotted) into q; 0 when there is none. */
static int ref_qualifier(json_t *fields, char *q, size_t cap)
{
    size_t n = json_array_size(fields), len = 0;
    q[0] = '\0';
    for (size_t i = 0; i + 1 < n; i++) {
        const char *part = sval(json_array_get(fields, i));
        if (part == NULL)
            return 0;
        len += (size_t)snprintf(q + len, len < cap ? cap - len : 0, "%s%s", i ? "." : "", part);
    }
    return n > 1 && len < cap;
}

static void resolve_ref(ctx_t *c, json_t *ref, const scope_t *s, rank_t rank, json_t *set)
{
    json_t *fields = member(ref, "fields");
    size_t n = json_array_size(fields);
    json_t *last = json_array_get(fields, n - 1);
    char q[4 * 64 + 4];
    int qualified = ref_qualifier(fields, q, sizeof(q));
    if (n == 0 || (n > 1 && !qualified))
        return;
    if (node_of(last, "A_Star") != NULL) { /* count(t.*), row(t.*): every column */
        json_t *cols = json_array();
        expand_star(c, s, qualified ? q : NULL, cols);
        size_t i;
        json_t *o;
        json_array_foreach(cols, i, o) src_merge(set, member(o, "src"), rank > T_EXPRESSION ? rank : T_EXPRESSION);
        json_decref(cols);
        return;
    }
    const char *col = sval(last);
    if (col == NULL)
        return;
    if (qualified) {
        json_t *rel = rel_find(s, q);
        if (rel == NULL)
            warn(c, "%.100s.%.100s: no table or alias %.100s in scope", q, col, q);
        else if (!rel_column(rel, col, rank, set))
            warn(c, "%.100s.%.100s: %.100s has no column %.100s", q, col, q, col);
        return;
    }
    for (const scope_t *level = s; level != NULL; level = level->parent) {
        int rc = resolve_unqualified(c, level, col, rank, set);
        if (rc != 0)
            return;
    }
    warn(c, "column %.100s is in no table of its query", col);
}

static int is_aggregate(json_t *fc)
{
    json_t *names = member(fc, "funcname");
    const char *name = sval(json_array_get(names, json_array_size(names) - 1));
    if (json_is_true(member(fc, "agg_star")) || json_is_true(member(fc, "agg_distinct")) ||
        json_is_true(member(fc, "agg_within_group")))
        return 1;
    for (size_t i = 0; name != NULL && i < MF_ARRAY_SIZE(aggregates); i++)
        if (strcmp(name, aggregates[i]) == 0)
            return 1;
    return 0;
}

static rank_t at_least(rank_t r, rank_t min) { return r > min ? r : min; }

/* One parse-tree node {"Type": body} of an expression. */
static void walk_node(ctx_t *c, const char *type, json_t *body, const scope_t *s, rank_t rank, json_t *set)
{
    if (strcmp(type, "ColumnRef") == 0) {
        resolve_ref(c, body, s, rank, set);
    } else if (strcmp(type, "A_Const") == 0 || strcmp(type, "TypeName") == 0 || strcmp(type, "WindowDef") == 0 ||
               strcmp(type, "ParamRef") == 0 || strcmp(type, "String") == 0) {
        return;
    } else if (strcmp(type, "SubLink") == 0) {
        json_t *outs = analyze_query(c, node_of(member(body, "subselect"), "SelectStmt"), s);
        size_t i;
        json_t *o;
        json_array_foreach(outs, i, o) src_merge(set, member(o, "src"), rank);
        json_decref(outs);
        walk(c, member(body, "testexpr"), s, at_least(rank, T_EXPRESSION), set);
    } else if (strcmp(type, "FuncCall") == 0) {
        rank_t own = member(body, "over") != NULL ? T_WINDOW : is_aggregate(body) ? T_AGGREGATION : T_EXPRESSION;
        walk(c, member(body, "args"), s, at_least(rank, own), set);
    } else if (strcmp(type, "TypeCast") == 0) {
        walk(c, member(body, "arg"), s, at_least(rank, T_CAST), set);
    } else if (strcmp(type, "CaseExpr") == 0) {
        walk(c, body, s, at_least(rank, T_CASE), set);
    } else {
        walk(c, body, s, at_least(rank, T_EXPRESSION), set);
    }
}

/*
 * Any part of an expression: node objects are {"Type": body} with a
 * capitalized type. The recursion follows the parse tree, whose depth the
 * JSON reader bounds (it refuses documents nested deeper than 2048 levels),
 * so a long chain like a || b || ... || z is followed to its end.
 */
static void walk(ctx_t *c, json_t *node, const scope_t *s, rank_t rank, json_t *set)
{
    if (node == NULL)
        return;
    if (json_is_array(node)) {
        size_t i;
        json_t *v;
        json_array_foreach(node, i, v) walk(c, v, s, rank, set);
    } else if (json_is_object(node)) {
        const char *k;
        json_t *v;
        json_object_foreach(node, k, v)
        {
            if (k[0] >= 'A' && k[0] <= 'Z')
                walk_node(c, k, v, s, rank, set);
            else
                walk(c, v, s, rank, set);
        }
    }
}

/* The name PostgreSQL gives an unnamed select item: the column, function or "case"; NULL for "?column?". */
static const char *default_name(json_t *val)
{
    json_t *b;
    if ((b = node_of(val, "ColumnRef")) != NULL) {
        json_t *f = member(b, "fields");
        return sval(json_array_get(f, json_array_size(f) - 1));
    }
    if ((b = node_of(val, "FuncCall")) != NULL) {
        json_t *f = member(b, "funcname");
        return sval(json_array_get(f, json_array_size(f) - 1));
    }
    if ((b = node_of(val, "TypeCast")) != NULL) {
        const char *inner = default_name(member(b, "arg"));
        json_t *names = member(member(b, "typeName"), "names");
        return inner ? inner : sval(json_array_get(names, json_array_size(names) - 1));
    }
    if (node_of(val, "CaseExpr") != NULL)
        return "case";
    return NULL;
}

/* ---------- FROM clauses and queries ---------- */

static void rel_add_table(ctx_t *c, scope_t *s, json_t *rv)
{
    char *table = rangevar_name(rv);
    const char *alias = str_member(member(rv, "alias"), "aliasname");
    const char *relname = str_member(rv, "relname");
    json_t *known = mf_sqllineage_known(c->known, table);
    json_object_set_new(c->sources, table, json_true());
    json_t *rel = json_pack("{s:s,s:s}", "alias", alias ? alias : relname ? relname : table, "table", table);
    if (known != NULL) {
        json_object_set(rel, "known", known);
        json_object_set_new(rel, "names", names_index(known));
    }
    json_array_append_new(s->rels, rel);
    free(table);
}

/* The outputs of a CTE named name in s or an enclosing scope (borrowed), or NULL. */
static json_t *cte_find(const scope_t *s, const char *name)
{
    for (; s != NULL; s = s->parent) {
        json_t *o = json_object_get(s->ctes, name);
        if (o != NULL)
            return o;
    }
    return NULL;
}

/* Rename outputs after an alias's column list (s(a, b), WITH c(a, b)). */
static void rename_outputs(json_t *outs, json_t *colnames)
{
    size_t i;
    json_t *n;
    json_array_foreach(colnames, i, n)
    {
        json_t *o = json_array_get(outs, i);
        if (o != NULL && sval(n) != NULL)
            json_object_set_new(o, "name", json_string(sval(n)));
    }
}

static void rel_add_derived(scope_t *s, const char *alias, json_t *outs)
{
    json_array_append_new(s->rels, json_pack("{s:s,s:n,s:o,s:o}", "alias", alias, "table", "names", names_index(outs),
                                             "cols", outs));
}

static void from_item(ctx_t *c, scope_t *s, json_t *item);

/* JOIN: both sides, then USING/NATURAL columns remembered with the relations of each side. */
static void from_join(ctx_t *c, scope_t *s, json_t *j)
{
    size_t first = json_array_size(s->rels);
    from_item(c, s, member(j, "larg"));
    size_t mid = json_array_size(s->rels);
    from_item(c, s, member(j, "rarg"));
    size_t end = json_array_size(s->rels);
    json_t *cols = json_array();
    size_t i;
    json_t *u;
    json_array_foreach(member(j, "usingClause"), i, u) if (sval(u)) json_array_append_new(cols, json_string(sval(u)));
    if (json_is_true(member(j, "isNatural")))
        warn(c, "NATURAL JOIN: columns shared by both sides are resolved like any unqualified column");
    json_array_foreach(cols, i, u)
    {
        json_t *idx = json_array();
        for (size_t r = first; r < end; r++) {
            json_t *rel = json_array_get(s->rels, r);
            if (rel_surely_has(rel, json_string_value(u)) || (rel_is_open(rel) && (r == first || r == mid)))
                json_array_append_new(idx, json_integer((json_int_t)r));
        }
        json_object_set_new(s->using, json_string_value(u), idx);
    }
    json_decref(cols);
}

static void from_item(ctx_t *c, scope_t *s, json_t *item)
{
    json_t *b;
    if ((b = node_of(item, "RangeVar")) != NULL) {
        const char *relname = str_member(b, "relname");
        json_t *cte = member(b, "schemaname") == NULL && relname ? cte_find(s, relname) : NULL;
        if (cte != NULL) {
            const char *alias = str_member(member(b, "alias"), "aliasname");
            json_t *outs = json_deep_copy(cte);
            rename_outputs(outs, member(member(b, "alias"), "colnames"));
            rel_add_derived(s, alias ? alias : relname, outs);
        } else {
            rel_add_table(c, s, b);
        }
    } else if ((b = node_of(item, "RangeSubselect")) != NULL) {
        json_t *outs = analyze_query(c, node_of(member(b, "subquery"), "SelectStmt"), s);
        const char *alias = str_member(member(b, "alias"), "aliasname");
        rename_outputs(outs, member(member(b, "alias"), "colnames"));
        rel_add_derived(s, alias ? alias : "", outs);
    } else if ((b = node_of(item, "JoinExpr")) != NULL) {
        from_join(c, s, b);
    } else if ((b = node_of(item, "RangeTableSample")) != NULL) {
        from_item(c, s, member(b, "relation"));
    } else if ((b = node_of(item, "RangeFunction")) != NULL) {
        const char *alias = str_member(member(b, "alias"), "aliasname");
        warn(c, "the function in FROM%s%.100s is not analyzed: its columns have no lineage", alias ? " " : "",
             alias ? alias : "");
        json_array_append_new(s->rels, json_pack("{s:s,s:n}", "alias", alias ? alias : "", "table"));
    } else {
        warn(c, "a FROM item is not analyzed");
    }
}

/* WITH: each CTE analyzed in order (later ones see earlier ones); a recursive one first from its base case. */
static void with_clause(ctx_t *c, scope_t *s, json_t *with)
{
    size_t i;
    json_t *item;
    json_array_foreach(member(with, "ctes"), i, item)
    {
        json_t *cte = node_of(item, "CommonTableExpr");
        const char *name = str_member(cte, "ctename");
        json_t *q = node_of(member(cte, "ctequery"), "SelectStmt");
        if (name == NULL)
            continue;
        if (q == NULL) {
            warn(c, "the data-modifying CTE %.100s is not analyzed", name);
            json_object_set_new(s->ctes, name, json_array());
            continue;
        }
        json_t *colnames = member(cte, "aliascolnames");
        const char *op = str_member(q, "op");
        if (json_is_true(member(with, "recursive")) && op != NULL && strcmp(op, "SETOP_NONE") != 0) {
            json_t *base = analyze_query(c, member(q, "larg"), s);
            rename_outputs(base, colnames);
            json_object_set_new(s->ctes, name, base);
        }
        json_t *outs = analyze_query(c, q, s);
        rename_outputs(outs, colnames);
        json_object_set_new(s->ctes, name, outs);
    }
}

/* UNION / INTERSECT / EXCEPT: column i draws from column i of both sides; names from the left. */
static json_t *set_operation(ctx_t *c, json_t *sel, const scope_t *s)
{
    json_t *l = analyze_query(c, member(sel, "larg"), s), *r = analyze_query(c, member(sel, "rarg"), s);
    if (json_array_size(l) != json_array_size(r))
        warn(c, "the sides of a set operation have %zu and %zu columns", json_array_size(l), json_array_size(r));
    size_t i;
    json_t *o;
    json_array_foreach(l, i, o)
    {
        json_t *other = json_array_get(r, i);
        if (other != NULL)
            src_merge(member(o, "src"), member(other, "src"), T_IDENTITY);
    }
    json_decref(r);
    return l;
}

/* The select list of sel in scope s as outputs. */
static json_t *select_list(ctx_t *c, json_t *sel, const scope_t *s)
{
    json_t *outs = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(member(sel, "targetList"), i, item)
    {
        json_t *rt = node_of(item, "ResTarget"), *val = member(rt, "val"), *ref = node_of(val, "ColumnRef");
        json_t *fields = member(ref, "fields");
        if (ref != NULL && node_of(json_array_get(fields, json_array_size(fields) - 1), "A_Star") != NULL) {
            char q[4 * 64 + 4];
            expand_star(c, s, ref_qualifier(fields, q, sizeof(q)) ? q : NULL, outs);
            continue;
        }
        const char *name = str_member(rt, "name");
        if (name == NULL)
            name = default_name(val);
        json_t *src = json_object();
        walk(c, val, s, T_IDENTITY, src);
        json_array_append_new(outs, output_new(name ? name : "?column?", src));
    }
    return outs;
}

/* VALUES (...), (...): columns column1..N without sources. */
static json_t *values_list(json_t *sel)
{
    json_t *outs = json_array(), *first = json_array_get(member(sel, "valuesLists"), 0);
    json_t *items = member(node_of(first, "List"), "items");
    for (size_t i = 0; i < json_array_size(items); i++) {
        char name[32];
        snprintf(name, sizeof(name), "column%zu", i + 1);
        json_array_append_new(outs, output_new(name, json_object()));
    }
    return outs;
}

/* A SelectStmt body into its outputs (new array, never NULL). */
static json_t *analyze_query(ctx_t *c, json_t *sel, const scope_t *parent)
{
    if (sel == NULL)
        return json_array();
    if (c->depth >= MF_SQLLINEAGE_MAX_DEPTH) {
        warn(c, "queries are nested deeper than %d levels: the rest is not followed", MF_SQLLINEAGE_MAX_DEPTH);
        return json_array();
    }
    c->depth++;
    scope_t s = scope_new(parent);
    json_t *outs;
    const char *op = str_member(sel, "op");
    if (member(sel, "withClause") != NULL)
        with_clause(c, &s, member(sel, "withClause"));
    if (op != NULL && strcmp(op, "SETOP_NONE") != 0) {
        outs = set_operation(c, sel, &s);
    } else if (member(sel, "valuesLists") != NULL) {
        outs = values_list(sel);
    } else {
        size_t i;
        json_t *item;
        json_array_foreach(member(sel, "fromClause"), i, item) from_item(c, &s, item);
        outs = select_list(c, sel, &s);
    }
    scope_free(&s);
    c->depth--;
    return outs;
}

/* ---------- statements ---------- */

static void edge_add(ctx_t *c, const char *src_key, rank_t rank, const char *target, const char *tcol)
{
    const char *nl = strchr(src_key, '\n');
    size_t tl = (size_t)(nl - src_key);
    if (strlen(target) == tl && strncmp(src_key, target, tl) == 0)
        return; /* a table from itself (UPDATE t SET a = b) is not an edge */
    char *source = mf_strndup(src_key, tl);
    int names_ok = mf_catalog_name_ok(source) && mf_catalog_name_ok(nl + 1) && mf_catalog_name_ok(target) &&
                   mf_catalog_name_ok(tcol);
    free(source);
    if (!names_ok) {
        warn(c, "a column pair into %.100s.%.100s has a name the catalog cannot hold (control characters)", target,
             tcol);
        return;
    }
    size_t kl = strlen(src_key) + strlen(target) + strlen(tcol) + 3;
    char *key = mf_malloc(kl);
    snprintf(key, kl, "%s\n%s\n%s", src_key, target, tcol);
    json_t *idx = json_object_get(c->edge_index, key);
    if (idx != NULL) {
        json_t *e = json_array_get(c->edges, (size_t)json_integer_value(idx));
        json_t *have = json_object_get(e, "rank");
        if (json_integer_value(have) < rank)
            json_object_set_new(e, "rank", json_integer(rank));
    } else if (json_array_size(c->edges) >= MF_SQLLINEAGE_MAX_EDGES) {
        if (json_array_size(c->edges) == MF_SQLLINEAGE_MAX_EDGES)
            warn(c, "more than %d column pairs: the rest are left out", MF_SQLLINEAGE_MAX_EDGES);
    } else {
        json_t *src = json_stringn(src_key, tl);
        json_object_set_new(c->edge_index, key, json_integer((json_int_t)json_array_size(c->edges)));
        json_array_append_new(c->edges, json_pack("{s:o,s:s,s:s,s:s,s:i}", "source", src, "source_field", nl + 1,
                                                  "target", target, "target_field", tcol, "rank", rank));
    }
    free(key);
}

/*
 * Outputs into target: column i of the query feeds target_cols[i] when the
 * statement names its columns (INSERT (a, b), CREATE TABLE t (a, b) AS), else
 * the target's known columns in order for an INSERT, else the output's own name.
 */
static void write_target(ctx_t *c, const char *target, json_t *outs, json_t *target_cols, int positional)
{
    json_object_set_new(c->targets, target, json_true());
    json_t *known = positional && target_cols == NULL ? mf_sqllineage_known(c->known, target) : NULL;
    json_t *cols = target_cols ? target_cols : known;
    if (cols != NULL && json_array_size(cols) < json_array_size(outs))
        warn(c, "%.100s gets %zu columns but has %zu", target, json_array_size(outs), json_array_size(cols));
    size_t i;
    json_t *o;
    json_array_foreach(outs, i, o)
    {
        const char *tcol = cols ? col_name(json_array_get(cols, i)) : str_member(o, "name");
        if (tcol == NULL)
            continue;
        if (strcmp(tcol, "?column?") == 0) {
            warn(c, "select item %zu has no name: give it an alias", i + 1);
            continue;
        }
        const char *k;
        json_t *v;
        json_object_foreach(member(o, "src"), k, v) edge_add(c, k, (rank_t)json_integer_value(v), target, tcol);
    }
}

/* Analyze q under a WITH clause that belongs to the statement around it (WITH ... INSERT). */
static json_t *analyze_with(ctx_t *c, json_t *with, json_t *q)
{
    scope_t s = scope_new(NULL);
    if (with != NULL)
        with_clause(c, &s, with);
    json_t *outs = analyze_query(c, q, &s);
    scope_free(&s);
    return outs;
}

static void stmt_target(ctx_t *c, json_t *rv, json_t *query, json_t *colnames, json_t *with, int positional)
{
    char *target = rangevar_name(rv);
    json_t *outs = analyze_with(c, with, query);
    write_target(c, target, outs, colnames, positional);
    json_decref(outs);
    free(target);
}

static void stmt_select(ctx_t *c, json_t *sel, const char *default_target)
{
    json_t *into = member(sel, "intoClause");
    if (into != NULL) {
        json_t *copy = json_copy(sel);
        json_object_del(copy, "intoClause");
        stmt_target(c, member(into, "rel"), copy, member(into, "colNames"), NULL, 0);
        json_decref(copy);
        return;
    }
    if (default_target == NULL) {
        warn(c, "a SELECT writes nowhere: give the target it feeds");
        return;
    }
    json_t *outs = analyze_query(c, sel, NULL);
    write_target(c, default_target, outs, NULL, 0);
    json_decref(outs);
}

/* UPDATE t SET a = expr FROM ...: each set column from its expression; t itself is in scope. */
static void stmt_update(ctx_t *c, json_t *up)
{
    scope_t s = scope_new(NULL);
    if (member(up, "withClause") != NULL)
        with_clause(c, &s, member(up, "withClause"));
    json_t *rv = member(up, "relation");
    char *target = rangevar_name(rv);
    rel_add_table(c, &s, rv);
    json_object_del(c->sources, target); /* the table written is not a source of itself */
    size_t i;
    json_t *item;
    json_array_foreach(member(up, "fromClause"), i, item) from_item(c, &s, item);
    json_t *outs = json_array();
    json_array_foreach(member(up, "targetList"), i, item)
    {
        json_t *rt = node_of(item, "ResTarget");
        json_t *src = json_object();
        walk(c, member(rt, "val"), &s, T_IDENTITY, src);
        json_array_append_new(outs, output_new(str_member(rt, "name") ? str_member(rt, "name") : "?column?", src));
    }
    write_target(c, target, outs, NULL, 0);
    json_decref(outs);
    free(target);
    scope_free(&s);
}

static void statement(ctx_t *c, json_t *stmt, const char *default_target)
{
    json_t *b;
    if ((b = node_of(stmt, "SelectStmt")) != NULL) {
        stmt_select(c, b, default_target);
    } else if ((b = node_of(stmt, "InsertStmt")) != NULL) {
        json_t *q = node_of(member(b, "selectStmt"), "SelectStmt");
        if (q != NULL && member(q, "valuesLists") == NULL)
            stmt_target(c, member(b, "relation"), q, member(b, "cols"), member(b, "withClause"), 1);
    } else if ((b = node_of(stmt, "CreateTableAsStmt")) != NULL) {
        json_t *into = member(b, "into");
        stmt_target(c, member(into, "rel"), node_of(member(b, "query"), "SelectStmt"), member(into, "colNames"), NULL,
                    0);
    } else if ((b = node_of(stmt, "ViewStmt")) != NULL) {
        stmt_target(c, member(b, "view"), node_of(member(b, "query"), "SelectStmt"), member(b, "aliases"), NULL, 0);
    } else if ((b = node_of(stmt, "UpdateStmt")) != NULL) {
        stmt_update(c, b);
    } else if (node_of(stmt, "MergeStmt") != NULL) {
        warn(c, "MERGE is not analyzed");
    }
}

/* ---------- entry ---------- */

/* Line and column (1-based) of the 1-based character position pos in sql. */
static void position_of(const char *sql, size_t len, int pos, int *line, int *col)
{
    *line = 1;
    *col = 1;
    int chars = 1;
    for (size_t i = 0; i < len && chars < pos; i++) {
        unsigned char ch = (unsigned char)sql[i];
        if ((ch & 0xc0) == 0x80)
            continue; /* continuation byte: same character */
        chars++;
        if (ch == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static json_t *result_of(ctx_t *c, size_t n_stmts)
{
    json_t *edges = json_array(), *sources = json_array(), *targets = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(c->edges, i, e)
    {
        rank_t r = (rank_t)json_integer_value(member(e, "rank"));
        json_object_del(e, "rank");
        json_object_set_new(e, "transformation", json_string(rank_names[r]));
        json_array_append(edges, e);
    }
    const char *k;
    json_t *v;
    json_object_foreach(c->sources, k, v) json_array_append_new(sources, json_string(k));
    json_object_foreach(c->targets, k, v) json_array_append_new(targets, json_string(k));
    if (c->n_warnings > MF_SQLLINEAGE_MAX_WARNINGS) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%zu more warnings left out", c->n_warnings - MF_SQLLINEAGE_MAX_WARNINGS);
        json_array_append_new(c->warnings, json_string(msg));
    }
    return json_pack("{s:I,s:o,s:o,s:o,s:O}", "statements", (json_int_t)n_stmts, "edges", edges, "sources",
                     sources, "targets", targets, "warnings", c->warnings);
}

/* libpg_query's JSON parse tree of sql (NUL-terminated), or NULL with err. */
static json_t *parse_tree(const char *sql, size_t len, mf_json_err_t *err)
{
    PgQueryParseResult pr = pg_query_parse(sql);
    json_t *tree = NULL;
    if (pr.error != NULL) {
        int line, col;
        position_of(sql, len, pr.error->cursorpos, &line, &col);
        if (pr.error->cursorpos > 0)
            mf_json_fail(err, "the SQL does not parse: %.150s (line %d, column %d)", pr.error->message, line, col);
        else
            mf_json_fail(err, "the SQL does not parse: %.150s", pr.error->message);
        clean_message(err->msg); /* the message quotes the SQL */
    } else {
        json_error_t jerr;
        tree = json_loads(pr.parse_tree, 0, &jerr);
        if (tree == NULL)
            mf_json_fail(err, "the SQL is nested too deeply to analyze");
    }
    pg_query_free_parse_result(pr);
    return tree;
}

json_t *mf_sqllineage_parse(const char *sql, size_t len, const mf_sqllineage_opts_t *opts, mf_json_err_t *err)
{
    mf_sqllineage_opts_t none = {0};
    if (opts == NULL)
        opts = &none;
    size_t max = opts->max_bytes ? opts->max_bytes : (size_t)mf_config_int(MF_CFG_SQL_LINEAGE_MAX_BYTES);
    if (len > max) {
        mf_json_fail(err, "the SQL is %zu bytes, more than the %zu this service parses", len, max);
        return NULL;
    }
    if (memchr(sql, '\0', len) != NULL) {
        mf_json_fail(err, "the SQL must not contain NUL bytes");
        return NULL;
    }
    char *text = mf_strndup(sql, len);
    json_t *tree = parse_tree(text, len, err);
    free(text);
    if (tree == NULL)
        return NULL;
    json_t *stmts = member(tree, "stmts");
    if (json_array_size(stmts) == 0) {
        json_decref(tree);
        mf_json_fail(err, "the SQL holds no statement");
        return NULL;
    }
    ctx_t c = {
        .known = opts->known_columns,
        .warnings = json_array(),
        .edges = json_array(),
        .edge_index = json_object(),
        .sources = json_object(),
        .targets = json_object(),
    };
    size_t i;
    json_t *st;
    json_array_foreach(stmts, i, st)
    {
        c.stmt = (int)i + 1;
        statement(&c, member(st, "stmt"), opts->default_target);
    }
    json_t *out = result_of(&c, json_array_size(stmts));
    json_decref(tree);
    json_decref(c.warnings);
    json_decref(c.edges);
    json_decref(c.edge_index);
    json_decref(c.sources);
    json_decref(c.targets);
    return out;
}
