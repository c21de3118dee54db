/*
 * list.c: see list.h. The cursor is decoded and checked to be a JSON array
 * of scalars before it reaches SQL, so a forged cursor can only select a
 * different page of the caller's own rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mf/json.h"
#include "mf/list.h"
#include "mf/util.h"

int mf_list_params_or_respond(mf_req_t *r, mf_list_params_t *out)
{
    long long limit = 50;
    const char *l = mf_req_query(r, "limit"), *c = mf_req_query(r, "cursor");
    out->after = NULL;
    if (l != NULL && mf_parse_int(l, strlen(l), 1, 500, &limit) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "limit must be an integer from 1 to 500");
        return MF_EINVALID_REQUEST;
    }
    snprintf(out->limit, sizeof(out->limit), "%lld", limit);
    if (c != NULL && c[0] != '\0') {
        size_t n;
        unsigned char *raw = strlen(c) <= 4096 ? mf_base64url_decode(c, strlen(c), &n) : NULL;
        json_t *key = raw ? json_loadb((const char *)raw, n, 0, NULL) : NULL;
        int ok = json_is_array(key) && json_array_size(key) >= 1 && json_array_size(key) <= 4;
        for (size_t i = 0; ok && i < json_array_size(key); i++) {
            json_t *v = json_array_get(key, i);
            ok = json_is_string(v) || json_is_integer(v);
        }
        free(raw);
        if (!ok) {
            json_decref(key);
            mf_respond_error(r, MF_EINVALID_REQUEST, "cursor is not valid; use next_cursor from a previous page");
            return MF_EINVALID_REQUEST;
        }
        size_t len;
        out->after = mf_json_dump(key, &len);
        json_decref(key);
    }
    return 0;
}

void mf_list_params_free(mf_list_params_t *p)
{
    free(p->after);
    p->after = NULL;
}

void mf_list_respond(mf_req_t *r, PGresult *res)
{
    const char *items = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : "[]";
    char *cursor = NULL;
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 1)) {
        const char *key = PQgetvalue(res, 0, 1);
        cursor = mf_base64url_encode(key, strlen(key));
    }
    size_t ilen = strlen(items), cap = ilen + (cursor ? strlen(cursor) : 0) + 64;
    char *body = mf_malloc(cap);
    int n = snprintf(body, cap, "{\"items\":%s,\"next_cursor\":%s%s%s}", items, cursor ? "\"" : "",
                     cursor ? cursor : "null", cursor ? "\"" : "");
    mf_respond_json(r, 200, body, (size_t)n);
    free(body);
    free(cursor);
}

int mf_list_query_or_respond(mf_req_t *r, const mf_pg_stmt_t *stmt, int nextra, const char *const *extra,
                             int tenanted)
{
    mf_list_params_t lp;
    const char *params[16];
    MF_ASSERT(nextra >= 0 && nextra <= 14);
    int rc = mf_list_params_or_respond(r, &lp);
    if (rc != 0)
        return rc;
    params[0] = lp.limit;
    params[1] = lp.after;
    for (int i = 0; i < nextra; i++)
        params[2 + i] = extra[i];
    rc = tenanted ? mf_req_query_or_respond(r, stmt, 2 + nextra, params, mf_list_respond)
                  : mf_req_query_untenanted_or_respond(r, stmt, 2 + nextra, params, mf_list_respond);
    mf_list_params_free(&lp);
    return rc;
}
