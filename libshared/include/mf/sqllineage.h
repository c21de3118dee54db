/*
 * sqllineage.h: column lineage of SQL text, parsed by libpg_query (the
 * PostgreSQL 15 parser as a library).
 *
 * mf_sqllineage_parse reads every statement of the text and follows each
 * output column back through the FROM clause (tables, aliases, joins, CTEs,
 * subqueries, set operations) to the base-table columns it is computed from.
 * It is pure: no database access. What the caller knows about tables (the
 * catalog's fields, an OpenLineage event's schema facets) comes in as a map
 * of known columns, which resolves `*` and unqualified column names.
 *
 * Statements with lineage: SELECT (into opts->default_target), SELECT INTO,
 * INSERT ... SELECT, CREATE TABLE AS, CREATE [MATERIALIZED] VIEW, UPDATE ...
 * SET. Others (DDL, transaction control) add nothing; MERGE adds a warning.
 *
 * Result (new JSON object):
 *   "statements": N
 *   "edges":   [{"source","source_field","target","target_field","transformation"}]
 *              tables as written in the SQL, schema-qualified when it was
 *              ("analytics.orders"); a pair appears once with its strongest
 *              transformation: IDENTITY < CAST < EXPRESSION < CASE < WINDOW < AGGREGATION
 *   "sources": [table]   every base table read, in order of appearance
 *   "targets": [table]   every table written
 *   "warnings": [text]   what could not be resolved ("statement 1: column id
 *                        could be in any of a, b: qualify it")
 */
#ifndef MF_SQLLINEAGE_H
#define MF_SQLLINEAGE_H

#include <stddef.h>
#include <jansson.h>
#include "mf/json.h"

/* Nesting of queries (subqueries, CTEs) followed before giving up (with a warning). */
#define MF_SQLLINEAGE_MAX_DEPTH 200
/* Warnings kept per parse; more are counted in one last warning. */
#define MF_SQLLINEAGE_MAX_WARNINGS 100
/* Column pairs per parse. */
#define MF_SQLLINEAGE_MAX_EDGES 100000

typedef struct {
    /* The table a bare SELECT writes (a dbt model, a job's output); NULL: such a SELECT adds a warning. */
    const char *default_target;
    /*
     * {table: ["column", ...]} (borrowed, may be NULL). A table written `s.t`
     * finds the key "s.t", else the one key ending in ".s.t" (OpenLineage
     * names carry the database: "db.s.t"). An empty list (a placeholder
     * dataset) counts as unknown.
     */
    json_t *known_columns;
    /* Longest SQL text accepted in bytes; 0: MF_SQL_LINEAGE_MAX_BYTES from the configuration. */
    size_t max_bytes;
} mf_sqllineage_opts_t;

/*
 * Parse len bytes of sql (need not be NUL-terminated) and return the result
 * above (new reference), or NULL with err when the text is too long, holds a
 * NUL byte, does not parse ("the SQL does not parse: syntax error at or near
 * \"FORM\" (line 1, column 10)"), is nested too deeply or holds no statement.
 * Thread-safe. opts may be NULL.
 */
json_t *mf_sqllineage_parse(const char *sql, size_t len, const mf_sqllineage_opts_t *opts, mf_json_err_t *err);

/* The columns of table in known ({table: [column]}, may be NULL), by the rule above; borrowed or NULL. */
json_t *mf_sqllineage_known(json_t *known, const char *table);

#endif
