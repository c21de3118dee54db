/*
 * events.c: what became of a posted event (queued, applied with what
 * changed, or failed with why) and the tenant's failed events.
 */
#include <stdlib.h>
#include <string.h>
#include "ingest.h"
#include "mf/http.h"
#include "mf/ingest_queue.h"
#include "mf/list.h"
#include "mf/redis.h"
#include "mf/util.h"

static mf_pg_stmt_t stmts[] = {
#define STATUS 0
    {"ingest_status",
     "SELECT jsonb_build_object('event_id', event_id, 'status', 'applied', 'source', source, "
     "       'received_at', mf_ts(received_at), 'applied_at', mf_ts(applied_at), 'changes', summary)::text "
     "FROM ingest_events WHERE tenant_id = mf_current_tenant() AND event_id = $1::uuid "
     "UNION ALL "
     "SELECT jsonb_build_object('event_id', event_id, 'status', 'failed', 'source', source, "
     "       'received_at', mf_ts(received_at), 'failed_at', mf_ts(failed_at), 'attempts', attempts, "
     "       'reason', reason)::text "
     "FROM ingest_failures WHERE tenant_id = mf_current_tenant() AND event_id = $1::uuid",
     -1},
#define FAILURES 1
    {"ingest_failures",
     "SELECT coalesce(jsonb_agg(doc ORDER BY rn) FILTER (WHERE rn <= $1::int), '[]')::text, "
     "       CASE WHEN count(*) > $1::int THEN (array_agg(key ORDER BY rn))[$1::int]::text END "
     "FROM (SELECT jsonb_build_object('event_id', f.event_id, 'source', f.source, 'received_at', mf_ts(f.received_at), "
     "             'failed_at', mf_ts(f.failed_at), 'attempts', f.attempts, 'reason', f.reason, 'event', f.event) doc, "
     "             jsonb_build_array(f.failed_at::text, f.event_id::text) key, "
     "             row_number() OVER (ORDER BY f.failed_at DESC, f.event_id DESC) rn "
     "      FROM ingest_failures f WHERE f.tenant_id = mf_current_tenant() "
     "        AND ($2::jsonb IS NULL OR (f.failed_at, f.event_id) < (($2::jsonb->>0)::timestamptz, ($2::jsonb->>1)::uuid)) "
     "      ORDER BY f.failed_at DESC, f.event_id DESC LIMIT $1::int + 1) s",
     -1},
    {NULL, NULL, -1},
};

static void on_queued(mf_req_t *r, mf_redis_reply_t *reply)
{
    const char *id = mf_req_data(r);
    if (reply == NULL) {
        mf_respond_error(r, MF_EUNAVAILABLE, "the queue is unreachable; retry shortly");
        return;
    }
    if (reply->type == REDIS_REPLY_STRING && strcmp(reply->str, mf_req_identity(r)->tenant_id) == 0) {
        json_t *doc = json_pack("{s:s,s:s}", "event_id", id, "status", "queued");
        mf_respond_jsonv(r, 200, doc);
        json_decref(doc);
        return;
    }
    mf_respond_error(r, MF_ENOT_FOUND, "no such event");
}

static void on_status(mf_req_t *r, PGresult *res)
{
    if (PQntuples(res) >= 1) {
        mf_respond_json(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
        return;
    }
    /* not applied nor failed: still on the stream? */
    char key[160];
    mf_ingest_status_key(key, sizeof(key), mf_req_data(r));
    const char *argv[] = {"GET", key};
    if (mf_req_redis_or_respond(r, 2, argv, NULL, on_queued) != 0)
        return;
}

static void get_event(mf_req_t *r)
{
    const char *id = mf_req_param(r, "event_id");
    /* A scoped key posts no events (they may write anywhere), so none is its own;
     * what an event changed names datasets outside its scope. */
    if (!mf_is_uuid(id, strlen(id)) || mf_req_identity(r)->scope[0] != '\0') {
        mf_respond_error(r, MF_ENOT_FOUND, "no such event");
        return;
    }
    mf_req_set_data(r, mf_strdup(id), free); /* outlives the request pool if the client leaves */
    const char *params[] = {id};
    if (mf_req_query_or_respond(r, &stmts[STATUS], 1, params, on_status) != 0)
        return;
}

static void list_failures(mf_req_t *r)
{
    if (mf_list_query_or_respond(r, &stmts[FAILURES], 0, NULL, 1) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"GET", "/api/v1/ingest/events/{event_id}", MF_ROLE_VIEWER, get_event, 0},
    {"GET", "/api/v1/ingest/failures", MF_ROLE_VIEWER, list_failures, 0},
};

void mf_ingest_register_events(void)
{
    for (mf_pg_stmt_t *s = stmts; s->name != NULL; s++)
        mf_pg_register(s);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
