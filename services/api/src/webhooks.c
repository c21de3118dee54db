/*
 * webhooks.c: a tenant's webhooks and their delivery logs (tenant admins).
 *
 *   POST   /api/v1/webhooks                  {url, events, secret, format?, description?} -> 201
 *   GET    /api/v1/webhooks                  the tenant's webhooks, oldest first
 *   GET    /api/v1/webhooks/{id}
 *   DELETE /api/v1/webhooks/{id}             (its pending deliveries go with it)
 *   GET    /api/v1/webhooks/{id}/deliveries  ?status=pending|delivered|dead, newest first,
 *                                            each with its attempts (outcome, status code,
 *                                            error, duration)
 *
 * A new URL is checked in two steps (libshared webhook.h): its shape here,
 * then its host resolved and every address checked on a worker thread (DNS
 * blocks); a destination that reaches a refused address is a 400 naming the
 * address class. mf-analytics checks again at every delivery. The secret is
 * written once (to a table the service role cannot read) and never
 * returned. Rows live under RLS in the caller's tenant
 * (migrations/0012_webhooks.sql); the audit trigger records creation and
 * deletion.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "mf/json.h"
#include "mf/list.h"
#include "mf/util.h"
#include "mf/webhook.h"

static mf_pg_stmt_t stmts[] = {
#define CREATE 0
    {"webhook_create", "SELECT mf_webhook_create($1, $2::text[], $3, $4, $5)::text", -1},
#define LIST 1
    {"webhook_list", "SELECT items, next_key FROM mf_webhook_list($1::int, $2::jsonb)", -1},
#define GET 2
    {"webhook_get",
     "SELECT mf_webhook_doc(w)::text FROM webhooks w "
     "WHERE w.tenant_id = mf_current_tenant() AND w.id = $1::uuid AND mf_access_unscoped()",
     -1},
#define DELETE 3
    {"webhook_delete",
     "DELETE FROM webhooks WHERE tenant_id = mf_current_tenant() AND id = $1::uuid AND mf_access_unscoped() "
     "RETURNING id::text",
     -1},
#define DELIVERIES 4
    {"webhook_deliveries", "SELECT items, next_key FROM mf_webhook_deliveries($1::int, $2::jsonb, $3::uuid, $4)",
     -1},
    {NULL, NULL, -1},
};

static const char *const event_names[] = {"dataset.stale",  "dataset.fresh_again", "schema.breaking_change",
                                          "schema.changed", "quality.failed",      "quota.warning",
                                          "contract.violation"};

#define SECRET_MIN 16
#define SECRET_MAX 256
#define DESCRIPTION_MAX 500

/* A webhook being created, between the body check and the insert (borrows from the body). */
typedef struct {
    const char *url, *secret, *format, *description;
    char events[160]; /* a text[] literal of known names: {a,b} */
    mf_webhook_dest_t dest;
    mf_webhook_policy_t policy;
    int dest_rc;
    char dest_err[256];
} new_webhook_t;

static int event_known(const char *name)
{
    for (size_t i = 0; i < MF_ARRAY_SIZE(event_names); i++)
        if (strcmp(event_names[i], name) == 0)
            return 1;
    return 0;
}

/* events: a non-empty array of distinct known names, as a text[] literal into out. */
static int parse_events(json_t *b, char *out, size_t cap, mf_json_err_t *err)
{
    json_t *arr, *v;
    size_t i, len = 0;
    if (mf_json_array(b, "", "events", MF_JSON_REQUIRED, MF_ARRAY_SIZE(event_names), &arr, err) != 0)
        return MF_EINVALID_REQUEST;
    if (json_array_size(arr) == 0)
        return mf_json_fail(err, "events must name at least one event");
    out[len++] = '{';
    json_array_foreach(arr, i, v)
    {
        const char *name = json_string_value(v);
        if (name == NULL || !event_known(name))
            return mf_json_fail(err, "events[%zu] must be one of dataset.stale, dataset.fresh_again, "
                                     "schema.breaking_change, schema.changed, quality.failed, quota.warning, "
                                     "contract.violation", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(json_string_value(json_array_get(arr, j)), name) == 0)
                return mf_json_fail(err, "events[%zu] repeats %s", i, name);
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i > 0 ? "," : "", name);
    }
    snprintf(out + len, cap - len, "}");
    return 0;
}

static int parse_body(json_t *b, new_webhook_t *w, mf_json_err_t *err)
{
    static const char *const allowed[] = {"url", "events", "secret", "format", "description", NULL};
    if (mf_json_only_fields(b, "", allowed, err) != 0 ||
        mf_json_string(b, "", "url", MF_JSON_REQUIRED, 1, MF_WEBHOOK_URL_MAX, &w->url, err) != 0 ||
        parse_events(b, w->events, sizeof(w->events), err) != 0 ||
        mf_json_string(b, "", "secret", MF_JSON_REQUIRED, 1, SECRET_MAX, &w->secret, err) != 0 ||
        mf_json_string(b, "", "format", MF_JSON_NULLABLE, 1, 16, &w->format, err) != 0 ||
        mf_json_string(b, "", "description", MF_JSON_NULLABLE, 0, DESCRIPTION_MAX, &w->description, err) != 0)
        return MF_EINVALID_REQUEST;
    if (strlen(w->secret) < SECRET_MIN)
        return mf_json_fail(err, "secret must be at least %d characters", SECRET_MIN);
    if (w->format == NULL)
        w->format = "json";
    else if (strcmp(w->format, "json") != 0 && strcmp(w->format, "slack") != 0)
        return mf_json_fail(err, "format must be json or slack");
    if (w->description == NULL)
        w->description = "";
    return 0;
}

static void on_created(mf_req_t *r, PGresult *res) { mf_respond_row_or_404(r, res, 201, "webhook not found"); }

/* On a worker thread: DNS. */
static void check_destination(void *arg)
{
    new_webhook_t *w = arg;
    w->dest_rc = mf_webhook_dest_check(&w->dest, &w->policy, w->dest_err, sizeof(w->dest_err));
}

static void on_destination_checked(mf_req_t *r)
{
    const new_webhook_t *w = mf_req_data(r);
    if (w->dest_rc != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", w->dest_err);
        return;
    }
    const char *params[] = {w->url, w->events, w->secret, w->format, w->description};
    if (mf_req_query_or_respond(r, &stmts[CREATE], 5, params, on_created) != 0)
        return;
}

static void create_webhook(mf_req_t *r)
{
    new_webhook_t *w = mf_calloc(1, sizeof(*w));
    mf_req_set_data(r, w, free);
    mf_json_err_t err;
    if (parse_body(mf_req_body(r), w, &err) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    w->policy = mf_webhook_policy_from_config();
    if (mf_webhook_url_check(w->url, &w->policy, &w->dest, w->dest_err, sizeof(w->dest_err)) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", w->dest_err);
        return;
    }
    mf_req_run_blocking(r, check_destination, w, on_destination_checked);
}

static void list_webhooks(mf_req_t *r)
{
    if (mf_list_query_or_respond(r, &stmts[LIST], 0, NULL, 1) != 0)
        return;
}

/* The {id} of the path when it is a uuid; else answers 404 and returns NULL. */
static const char *webhook_id_or_respond(mf_req_t *r)
{
    const char *id = mf_req_param(r, "id");
    if (!mf_is_uuid(id, strlen(id))) {
        mf_respond_error(r, MF_ENOT_FOUND, "webhook not found");
        return NULL;
    }
    return id;
}

static void on_found(mf_req_t *r, PGresult *res) { mf_respond_row_or_404(r, res, 200, "webhook not found"); }

static void get_webhook(mf_req_t *r)
{
    const char *id = webhook_id_or_respond(r);
    if (id == NULL || mf_req_query_or_respond(r, &stmts[GET], 1, &id, on_found) != 0)
        return;
}

static void on_deleted(mf_req_t *r, PGresult *res)
{
    if (PQntuples(res) != 1) {
        mf_respond_error(r, MF_ENOT_FOUND, "webhook not found");
        return;
    }
    mf_respond_empty(r, 204);
}

static void delete_webhook(mf_req_t *r)
{
    const char *id = webhook_id_or_respond(r);
    if (id == NULL || mf_req_query_or_respond(r, &stmts[DELETE], 1, &id, on_deleted) != 0)
        return;
}

static void list_deliveries(mf_req_t *r)
{
    const char *id = webhook_id_or_respond(r);
    if (id == NULL)
        return;
    const char *status = mf_req_query(r, "status");
    if (status != NULL && strcmp(status, "pending") != 0 && strcmp(status, "delivered") != 0 &&
        strcmp(status, "dead") != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "status must be pending, delivered or dead");
        return;
    }
    const char *extra[] = {id, status};
    if (mf_list_query_or_respond(r, &stmts[DELIVERIES], 2, extra, 1) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"POST", "/api/v1/webhooks", MF_ROLE_ADMIN, create_webhook, 1},
    {"GET", "/api/v1/webhooks", MF_ROLE_ADMIN, list_webhooks, 0},
    {"GET", "/api/v1/webhooks/{id}", MF_ROLE_ADMIN, get_webhook, 0},
    {"DELETE", "/api/v1/webhooks/{id}", MF_ROLE_ADMIN, delete_webhook, 0},
    {"GET", "/api/v1/webhooks/{id}/deliveries", MF_ROLE_ADMIN, list_deliveries, 0},
};

void mf_api_register_webhooks(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
