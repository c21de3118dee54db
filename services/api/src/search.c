/*
 * search.c: GET /api/v1/search (ranked full-text search over datasets,
 * fields and glossary terms, with filters, facets, total and cursor pages)
 * and GET /api/v1/search/suggest (names for autocomplete).
 *
 * All the work is one SQL function each (migrations/0008_search.sql, as
 * replaced by 0019_search_lineage_speed.sql: mf_search, mf_search_suggest)
 * over the search index the database keeps current on every write. They keep
 * items, totals and facets to what the caller may read (the caller's tenant
 * and scope, written into the query). Facets count the best
 * SEARCH_FACET_CAP matches; "facets_exact" says whether that was every match.
 * This file only checks the query string and shapes the answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "mf/catalog.h"
#include "mf/list.h"
#include "mf/usage.h"
#include "mf/util.h"

#define SEARCH_Q_MAX 256     /* characters */
#define SEARCH_LIMIT_MAX 100 /* items per page */
#define SUGGEST_LIMIT_MAX 20
#define SEARCH_FACET_CAP "1000" /* matches the facets count (docs/api.md "Search") */

static mf_pg_stmt_t stmts[] = {
#define SEARCH 0
    {"search",
     "SELECT items::text, next_key::text, facets::text, total, facets_exact "
     "FROM mf_search($1, $2, $3, $4, $5, $6, $7, $8::int, $9::jsonb, $10::int)",
     -1},
#define SUGGEST 1
    {"search_suggest", "SELECT jsonb_build_object('items', mf_search_suggest($1, $2::int))::text", -1},
    {NULL, NULL, -1},
};

/* The q parameter: required, 1-256 characters of clean UTF-8. Answers 400 itself. */
static int q_or_respond(mf_req_t *r, const char **out)
{
    const char *q = mf_req_query(r, "q");
    *out = NULL;
    if (q == NULL || q[0] == '\0') {
        mf_respond_error(r, MF_EINVALID_REQUEST, "query parameter q is required");
        return MF_EINVALID_REQUEST;
    }
    size_t len = strlen(q), chars = 0;
    if (!mf_text_is_clean(q, len, 0)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "q must be UTF-8 text without control characters");
        return MF_EINVALID_REQUEST;
    }
    for (size_t i = 0; i < len; i++)
        chars += ((unsigned char)q[i] & 0xC0) != 0x80;
    if (chars > SEARCH_Q_MAX) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "q must be at most %d characters", SEARCH_Q_MAX);
        return MF_EINVALID_REQUEST;
    }
    *out = q;
    return 0;
}

/* limit: 1..max, default def, written to buf. Answers 400 itself. */
static int limit_or_respond(mf_req_t *r, long long max, long long def, char *buf, size_t cap)
{
    const char *l = mf_req_query(r, "limit");
    long long v = def;
    if (l != NULL && mf_parse_int(l, strlen(l), 1, max, &v) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "limit must be an integer from 1 to %lld", max);
        return MF_EINVALID_REQUEST;
    }
    snprintf(buf, cap, "%lld", v);
    return 0;
}

static void on_search(mf_req_t *r, PGresult *res)
{
    if (PQntuples(res) != 1) {
        mf_respond_error(r, MF_EINTERNAL, NULL);
        return;
    }
    char *cursor = NULL;
    if (!PQgetisnull(res, 0, 1)) {
        const char *key = PQgetvalue(res, 0, 1);
        cursor = mf_base64url_encode(key, strlen(key));
    }
    const char *items = PQgetvalue(res, 0, 0), *facets = PQgetvalue(res, 0, 2), *total = PQgetvalue(res, 0, 3);
    int facets_exact = PQgetvalue(res, 0, 4)[0] == 't';
    size_t cap = strlen(items) + strlen(facets) + strlen(total) + (cursor ? strlen(cursor) : 0) + 128;
    char *body = mf_malloc(cap);
    int n = snprintf(body, cap, "{\"items\":%s,\"facets\":%s,\"facets_exact\":%s,\"total\":%s,\"next_cursor\":%s%s%s}",
                     items, facets, facets_exact ? "true" : "false", total, cursor ? "\"" : "",
                     cursor ? cursor : "null", cursor ? "\"" : "");
    mf_respond_json(r, 200, body, (size_t)n);
    free(body);
    free(cursor);
    mf_usage_search_page(r, items);
}

static void search(mf_req_t *r)
{
    const char *q, *kind = mf_req_query(r, "kind"), *tag;
    const char *ns, *domain, *owner, *format;
    char limit[16];
    if (q_or_respond(r, &q) != 0 || limit_or_respond(r, SEARCH_LIMIT_MAX, 20, limit, sizeof(limit)) != 0 ||
        mf_api_query_name_or_respond(r, "namespace", 0, &ns) != 0 ||
        mf_api_query_name_or_respond(r, "domain", 0, &domain) != 0 ||
        mf_api_query_name_or_respond(r, "owner", 0, &owner) != 0 ||
        mf_api_query_name_or_respond(r, "format", 0, &format) != 0 ||
        mf_api_query_tag_or_respond(r, "tag", &tag) != 0)
        return;
    if (kind != NULL && kind[0] == '\0')
        kind = NULL;
    if (kind != NULL && strcmp(kind, "dataset") != 0 && strcmp(kind, "field") != 0 && strcmp(kind, "term") != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "kind must be dataset, field or term");
        return;
    }
    /* the cursor, checked as every list's is (limit read above, within 1-100) */
    mf_list_params_t lp;
    if (mf_list_params_or_respond(r, &lp) != 0)
        return;
    const char *params[] = {q, kind, domain, owner, tag, format, ns, limit, lp.after, SEARCH_FACET_CAP};
    int rc = mf_req_query_or_respond(r, &stmts[SEARCH], 10, params, on_search);
    mf_list_params_free(&lp);
    (void)rc; /* answered either way */
}

static void on_suggest(mf_req_t *r, PGresult *res) { mf_respond_row_or_404(r, res, 200, "no suggestions"); }

static void suggest(mf_req_t *r)
{
    const char *q;
    char limit[16];
    if (q_or_respond(r, &q) != 0 || limit_or_respond(r, SUGGEST_LIMIT_MAX, 10, limit, sizeof(limit)) != 0)
        return;
    const char *params[] = {q, limit};
    if (mf_req_query_or_respond(r, &stmts[SUGGEST], 2, params, on_suggest) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"GET", "/api/v1/search", MF_ROLE_VIEWER, search, 0},
    {"GET", "/api/v1/search/suggest", MF_ROLE_VIEWER, suggest, 0},
};

void mf_api_register_search(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
