/*
 * helpers.c: request helpers shared by mf-api's resource files (query names,
 * statement registration). Nothing here talks to the database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "mf/catalog.h"
#include "mf/util.h"

const char *mf_api_namespace_or_respond(mf_req_t *r)
{
    const char *ns = mf_req_query(r, "namespace");
    if (ns == NULL || ns[0] == '\0')
        return "default";
    if (!mf_catalog_name_ok(ns)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "namespace must be 1-512 printable characters");
        return NULL;
    }
    return ns;
}

int mf_api_query_name_or_respond(mf_req_t *r, const char *key, int required, const char **out)
{
    const char *v = mf_req_query(r, key);
    *out = NULL;
    if (v == NULL || v[0] == '\0') {
        if (required) {
            mf_respond_error(r, MF_EINVALID_REQUEST, "query parameter %s is required", key);
            return MF_EINVALID_REQUEST;
        }
        return 0;
    }
    if (!mf_catalog_name_ok(v)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "query parameter %s must be 1-512 printable characters", key);
        return MF_EINVALID_REQUEST;
    }
    *out = v;
    return 0;
}

int mf_api_query_tag_or_respond(mf_req_t *r, const char *key, const char **out)
{
    const char *v = mf_req_query(r, key);
    *out = NULL;
    if (v == NULL || v[0] == '\0')
        return 0;
    if (!mf_catalog_tag_ok(v)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s must be 1-128 characters of letters, digits and _.:/-", key);
        return MF_EINVALID_REQUEST;
    }
    *out = v;
    return 0;
}

void mf_api_register_statements(mf_pg_stmt_t *stmts)
{
    for (mf_pg_stmt_t *s = stmts; s->name != NULL; s++)
        mf_pg_register(s);
}

void mf_api_respond_dataset(mf_req_t *r, PGresult *res, int status)
{
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        mf_respond_error(r, MF_ENOT_FOUND, "dataset not found");
        return;
    }
    char etag[32];
    snprintf(etag, sizeof(etag), "\"%s\"", PQgetvalue(res, 0, 1));
    mf_req_add_header(r, "etag", etag);
    mf_respond_json(r, status, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

void mf_api_respond_with_key(mf_req_t *r, PGresult *res, const char *member)
{
    const char *key = mf_req_data(r);
    size_t cap = (size_t)PQgetlength(res, 0, 0) + strlen(key) + strlen(member) + 32;
    char *body = malloc(cap);
    MF_ASSERT(body != NULL);
    int n = snprintf(body, cap, "{\"%s\":%s,\"api_key\":\"%s\"}", member, PQgetvalue(res, 0, 0), key);
    mf_respond_json(r, 201, body, (size_t)n);
    free(body);
}
