/*
 * emit.c: POST /api/v1/emit (one MetaFuse emit event) and
 * POST /api/v1/emit/batch (a JSON array, or NDJSON, of them). A batch is
 * validated item by item, judged against block data contracts (contracts.c)
 * and queued whole, or not at all. Only credentials
 * that may write anywhere in the tenant post events (mf_ingest_writer_or_respond,
 * shared with lineage.c).
 */
#include <stdio.h>
#include <string.h>
#include "ingest.h"
#include "mf/http.h"
#include "mf/ingest.h"
#include "mf/ingest_queue.h"
#include "mf/util.h"

int mf_ingest_writer_or_respond(mf_req_t *r, const char *route)
{
    const mf_identity_t *id = mf_req_identity(r);
    if (id->write_all)
        return 0;
    mf_respond_error(r, MF_EFORBIDDEN,
                     "ingest needs an unscoped editor key: events may write anywhere in the tenant, and %s",
                     id->scope[0] != '\0' ? "this key is scoped to a domain or dataset"
                                          : "this credential may write only where its grants allow");
    char detail[160];
    snprintf(detail, sizeof(detail), "{\"route\":\"%s\",\"needs\":\"write access to the whole tenant\"}", route);
    mf_req_audit_event(r, id->tenant_id, "permission.denied", id->actor, detail);
    return MF_EFORBIDDEN;
}

static void emit_one(mf_req_t *r)
{
    if (mf_ingest_writer_or_respond(r, "POST /api/v1/emit") != 0)
        return;
    mf_ingest_judge_decoded(r, mf_ingest_from_emit);
}

/* Decode item i into events, or answer 400 naming it. */
static int add_item(mf_req_t *r, json_t *events, json_t *item, size_t i)
{
    mf_json_err_t err;
    if (!json_is_object(item)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "events[%zu] must be an object", i);
        return MF_EINVALID_REQUEST;
    }
    json_t *event = mf_ingest_from_emit(item, &err);
    if (event == NULL) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "events[%zu]: %s", i, err.msg);
        return MF_EINVALID_REQUEST;
    }
    json_array_append_new(events, event);
    return 0;
}

static void emit_batch(mf_req_t *r)
{
    if (mf_ingest_writer_or_respond(r, "POST /api/v1/emit/batch") != 0)
        return;
    size_t len;
    const char *ctype;
    const char *body = mf_req_raw_body(r, &len, &ctype);
    json_t *events = json_array();
    size_t i = 0;
    if (len == 0) {
        mf_respond_error(r, MF_EINVALID_JSON, "request body is required");
        goto done;
    }
    if (strcmp(ctype, "application/x-ndjson") == 0 || strcmp(ctype, "application/jsonl") == 0) {
        const char *p = body, *end = body + len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *line_end = nl ? nl : end;
            size_t n = (size_t)(line_end - p);
            if (n > 0 && !(n == 1 && p[0] == '\r')) {
                json_error_t je;
                if (i >= MF_INGEST_MAX_BATCH) {
                    mf_respond_error(r, MF_EINVALID_REQUEST, "a batch holds at most %d events", MF_INGEST_MAX_BATCH);
                    goto done;
                }
                json_t *item = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
                if (item == NULL) {
                    mf_respond_error(r, MF_EINVALID_JSON, "line %zu is not valid JSON: %.120s", i + 1, je.text);
                    goto done;
                }
                int rc = add_item(r, events, item, i);
                json_decref(item);
                if (rc != 0)
                    goto done;
                i++;
            }
            p = line_end + 1;
        }
    } else {
        json_error_t je;
        json_t *arr = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
        if (arr == NULL || !json_is_array(arr)) {
            json_decref(arr);
            mf_respond_error(r, MF_EINVALID_JSON, "a batch is a JSON array of events (or NDJSON with "
                                                  "Content-Type: application/x-ndjson)");
            goto done;
        }
        if (json_array_size(arr) > MF_INGEST_MAX_BATCH) {
            json_decref(arr);
            mf_respond_error(r, MF_EINVALID_REQUEST, "a batch holds at most %d events", MF_INGEST_MAX_BATCH);
            goto done;
        }
        json_t *item;
        json_array_foreach(arr, i, item)
        {
            if (add_item(r, events, item, i) != 0) {
                json_decref(arr);
                goto done;
            }
        }
        json_decref(arr);
    }
    if (json_array_size(events) == 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "the batch is empty");
        goto done;
    }
    mf_ingest_judge_and_enqueue(r, events, 0);
    return;
done:
    json_decref(events);
}

static const mf_route_t routes[] = {
    {"POST", "/api/v1/emit", MF_ROLE_EDITOR, emit_one, MF_BODY_JSON},
    {"POST", "/api/v1/emit/batch", MF_ROLE_EDITOR, emit_batch, MF_BODY_RAW},
};

void mf_ingest_register_emit(void) { mf_http_add_routes(routes, MF_ARRAY_SIZE(routes)); }
