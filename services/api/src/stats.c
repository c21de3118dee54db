/*
 * stats.c: the tenant's catalog statistics and its audit log.
 *
 * The audit log is read newest first with an id cursor; the filters (action,
 * target, actor, since, until) are plain equality or time bounds applied on
 * every page, so a walk with filters sees each matching row once.
 */
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "mf/catalog.h"
#include "mf/list.h"
#include "mf/util.h"

static mf_pg_stmt_t stmts[] = {
#define STATS 0
    {"stats",
     "SELECT jsonb_build_object("
     "  'datasets', (SELECT count(*) FROM datasets WHERE tenant_id = mf_current_tenant()), "
     "  'placeholders', (SELECT count(*) FROM datasets WHERE tenant_id = mf_current_tenant() AND placeholder), "
     "  'fields', (SELECT count(*) FROM fields WHERE tenant_id = mf_current_tenant()), "
     "  'lineage_edges', (SELECT count(*) FROM lineage_edges WHERE tenant_id = mf_current_tenant()), "
     "  'column_lineage_edges', (SELECT count(*) FROM column_lineage WHERE tenant_id = mf_current_tenant()), "
     "  'tags', (SELECT count(DISTINCT t) FROM (SELECT unnest(tags) t FROM datasets WHERE tenant_id = mf_current_tenant() "
     "            UNION ALL SELECT unnest(tags) FROM fields WHERE tenant_id = mf_current_tenant()) x), "
     "  'domains', (SELECT count(*) FROM domains WHERE tenant_id = mf_current_tenant()), "
     "  'owners', (SELECT count(*) FROM owners WHERE tenant_id = mf_current_tenant()), "
     "  'namespaces', (SELECT count(*) FROM namespaces WHERE tenant_id = mf_current_tenant()), "
     "  'glossary_terms', (SELECT count(*) FROM glossary_terms WHERE tenant_id = mf_current_tenant()), "
     "  'top_formats', (SELECT coalesce(jsonb_agg(jsonb_build_object('format', format, 'datasets', n) ORDER BY n DESC, format), '[]') "
     "                  FROM (SELECT format, count(*) n FROM datasets WHERE tenant_id = mf_current_tenant() AND format <> '' "
     "                        GROUP BY format ORDER BY n DESC, format LIMIT 10) f), "
     "  'top_domains', (SELECT coalesce(jsonb_agg(jsonb_build_object('domain', name, 'datasets', n) ORDER BY n DESC, name), '[]') "
     "                  FROM (SELECT m.name, count(*) n FROM datasets d JOIN domains m ON m.id = d.domain_id "
     "                        WHERE d.tenant_id = mf_current_tenant() GROUP BY m.name ORDER BY n DESC, m.name LIMIT 10) g)"
     ")::text",
     -1},
#define AUDIT 1
    {"audit_list",
     "SELECT coalesce(jsonb_agg(doc ORDER BY rn) FILTER (WHERE rn <= $1::int), '[]')::text, "
     "       CASE WHEN count(*) > $1::int THEN jsonb_build_array((array_agg(id ORDER BY rn))[$1::int])::text END "
     "FROM (SELECT a.id, jsonb_build_object('id', a.id, 'at', mf_ts(a.at), 'actor', a.actor, 'action', a.action, "
     "             'target', a.target, 'request_id', a.request_id, 'client_addr', a.client_addr, "
     "             'before', a.before, 'after', a.after) doc, row_number() OVER (ORDER BY a.id DESC) rn "
     "      FROM audit_log a WHERE a.tenant_id = mf_current_tenant() "
     "        AND ($2::jsonb IS NULL OR a.id < (SELECT mf_cursor_bigint($2::jsonb))) "
     "        AND ($3::text IS NULL OR a.action = $3) AND ($4::text IS NULL OR a.target = $4) "
     "        AND ($5::timestamptz IS NULL OR a.at >= $5::timestamptz) "
     "        AND ($6::timestamptz IS NULL OR a.at < $6::timestamptz) "
     "        AND ($7::text IS NULL OR a.actor = $7) "
     "      ORDER BY a.id DESC LIMIT $1::int + 1) s",
     -1},
    {NULL, NULL, -1},
};

static void on_stats(mf_req_t *r, PGresult *res) { mf_respond_row_or_404(r, res, 200, "no statistics"); }

static void get_stats(mf_req_t *r)
{
    if (mf_req_query_or_respond(r, &stmts[STATS], 0, NULL, on_stats) != 0)
        return;
}

/*
 * An optional RFC 3339 query value (absent or empty: *out NULL). PostgreSQL
 * takes UTC offsets up to 15:59 only, so larger ones (no real zone has them)
 * are refused here rather than failing in the database. Answers 400 itself.
 */
static int MF_MUST_CHECK time_query_or_respond(mf_req_t *r, const char *key, const char **out)
{
    const char *v = mf_req_query(r, key);
    *out = NULL;
    if (v == NULL || v[0] == '\0')
        return 0;
    if (!mf_time_is_rfc3339(v)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s must be an RFC 3339 timestamp (e.g. 2026-11-27T01:02:03Z)", key);
        return MF_EINVALID_REQUEST;
    }
    size_t n = strlen(v);
    if ((v[n - 6] == '+' || v[n - 6] == '-') && atoi(v + n - 5) > 15) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s: the UTC offset must be between -15:59 and +15:59", key);
        return MF_EINVALID_REQUEST;
    }
    *out = v;
    return 0;
}

static void list_audit(mf_req_t *r)
{
    const char *action, *target, *actor, *since, *until;
    if (mf_api_query_name_or_respond(r, "action", 0, &action) != 0 ||
        mf_api_query_name_or_respond(r, "target", 0, &target) != 0 ||
        mf_api_query_name_or_respond(r, "actor", 0, &actor) != 0 || time_query_or_respond(r, "since", &since) != 0 ||
        time_query_or_respond(r, "until", &until) != 0)
        return;
    const char *extra[] = {action, target, since, until, actor};
    if (mf_list_query_or_respond(r, &stmts[AUDIT], 5, extra, 1) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"GET", "/api/v1/stats", MF_ROLE_VIEWER, get_stats, 0},
    {"GET", "/api/v1/audit", MF_ROLE_ADMIN, list_audit, 0},
};

void mf_api_register_stats(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
