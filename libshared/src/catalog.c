/*
 * catalog.c: decoding a dataset body into the normalized change set, and
 * handing it to the database (see catalog.h). Validation happens here, once,
 * so every writer rejects the same inputs with the same messages; the SQL
 * function trusts the shape it receives.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mf/catalog.h"
#include "mf/util.h"

mf_pg_stmt_t mf_catalog_apply_stmt = {"mf_catalog_apply",
                                      "SELECT mf_access_dataset_doc(d)::text, d->>'version' "
                                      "FROM mf_apply_dataset($1::jsonb, $2, $3::integer) AS d", -1};

__attribute__((constructor)) static void register_statements(void) { mf_pg_register(&mf_catalog_apply_stmt); }

int mf_catalog_tag_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= MF_TAG_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:/-") == n;
}

int mf_catalog_name_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= MF_NAME_MAX && mf_text_is_clean(s, n, 0);
}


static json_t *tags_from_json(json_t *arr, const char *where, mf_json_err_t *err)
{
    if (json_array_size(arr) > MF_TAGS_MAX) {
        snprintf(err->msg, sizeof(err->msg), "%s has too many tags (at most %d)", where, MF_TAGS_MAX);
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        char w[200];
        mf_json_path_index(w, sizeof(w), where, i);
        if (!json_is_string(v) || !mf_catalog_tag_ok(json_string_value(v))) {
            mf_json_fail(err, "%s must be a tag: 1-128 characters of letters, digits and _.:/-%s", w, "");
            json_decref(out);
            return NULL;
        }
        json_array_append(out, v);
    }
    return out;
}

json_t *mf_catalog_ref_from_json(json_t *v, const char *where, mf_json_err_t *err)
{
    const char *ns = "default", *name = NULL;
    if (json_is_string(v)) {
        name = json_string_value(v);
    } else if (json_is_object(v)) {
        static const char *const allowed[] = {"namespace", "name", NULL};
        if (mf_json_only_fields(v, where, allowed, err) != 0 ||
            mf_json_string(v, where, "name", MF_JSON_REQUIRED, 1, MF_NAME_MAX, &name, err) != 0 ||
            mf_json_string(v, where, "namespace", 0, 1, MF_NAME_MAX, &ns, err) != 0)
            return NULL;
        if (ns == NULL)
            ns = "default";
    } else {
        mf_json_fail(err, "%s must be a dataset name or {\"namespace\",\"name\"}%s", where, "");
        return NULL;
    }
    if (!mf_catalog_name_ok(name)) {
        mf_json_fail(err, "%s must be a name of 1-512 printable characters%s", where, "");
        return NULL;
    }
    return json_pack("{s:s,s:s}", "namespace", ns, "name", name);
}

static json_t *fields_from_json(json_t *arr, mf_json_err_t *err)
{
    static const char *const allowed[] = {"name", "type", "nullable", "description", "tags", NULL};
    json_t *out = json_array(), *seen = json_object(); /* names so far: duplicates in O(n) */
    size_t i;
    json_t *f;
    json_array_foreach(arr, i, f)
    {
        char where[64];
        const char *name, *type, *desc;
        int nullable = 1;
        json_t *tags = NULL, *tags_out;
        mf_json_path_index(where, sizeof(where), "fields", i);
        if (!json_is_object(f)) {
            mf_json_fail(err, "%s must be an object%s", where, "");
            goto bad;
        }
        if (mf_json_only_fields(f, where, allowed, err) != 0 ||
            mf_json_string(f, where, "name", MF_JSON_REQUIRED, 1, MF_NAME_MAX, &name, err) != 0 ||
            mf_json_string(f, where, "type", MF_JSON_REQUIRED, 1, MF_NAME_MAX, &type, err) != 0 ||
            mf_json_bool(f, where, "nullable", 0, &nullable, err) != 0 ||
            mf_json_string(f, where, "description", MF_JSON_NULLABLE | MF_JSON_MULTILINE, 0, MF_TEXT_MAX, &desc,
                           err) != 0 ||
            mf_json_array(f, where, "tags", MF_JSON_NULLABLE, MF_TAGS_MAX, &tags, err) != 0)
            goto bad;
        if (json_object_get(seen, name) != NULL) {
            mf_json_fail(err, "%s.name \"%.100s\" is a duplicate", where, name);
            goto bad;
        }
        json_object_set_new(seen, name, json_true());
        char tw[80];
        snprintf(tw, sizeof(tw), "%s.tags", where);
        tags_out = tags ? tags_from_json(tags, tw, err) : json_array();
        if (tags_out == NULL)
            goto bad;
        json_array_append_new(out, json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", name, "type", type, "nullable",
                                             nullable, "description", desc ? desc : "", "tags", tags_out));
    }
    json_decref(seen);
    return out;
bad:
    json_decref(seen);
    json_decref(out);
    return NULL;
}

json_t *mf_catalog_changeset_from_json(json_t *body, const char *name, const char *ns, mf_json_err_t *err)
{
    static const char *const allowed[] = {"name",   "namespace", "path",     "format",      "description", "domain",
                                          "owner",  "tags",      "fields",   "upstream",    "operational", NULL};
    const char *bname, *bns, *path, *format, *desc, *domain, *owner;
    json_t *tags, *fields, *upstream, *op;
    if (mf_json_only_fields(body, "", allowed, err) != 0 ||
        mf_json_string(body, "", "name", name ? 0 : MF_JSON_REQUIRED, 1, MF_NAME_MAX, &bname, err) != 0 ||
        mf_json_string(body, "", "namespace", 0, 1, MF_NAME_MAX, &bns, err) != 0 ||
        mf_json_string(body, "", "path", MF_JSON_NULLABLE, 0, 4096, &path, err) != 0 ||
        mf_json_string(body, "", "format", MF_JSON_NULLABLE, 0, 128, &format, err) != 0 ||
        mf_json_string(body, "", "description", MF_JSON_NULLABLE | MF_JSON_MULTILINE, 0, MF_TEXT_MAX, &desc, err) !=
            0 ||
        mf_json_string(body, "", "domain", MF_JSON_NULLABLE, 1, MF_NAME_MAX, &domain, err) != 0 ||
        mf_json_string(body, "", "owner", MF_JSON_NULLABLE, 1, MF_NAME_MAX, &owner, err) != 0 ||
        mf_json_array(body, "", "tags", MF_JSON_NULLABLE, MF_TAGS_MAX, &tags, err) != 0 ||
        mf_json_array(body, "", "fields", MF_JSON_NULLABLE, MF_FIELDS_MAX, &fields, err) != 0 ||
        mf_json_array(body, "", "upstream", MF_JSON_NULLABLE, MF_UPSTREAM_MAX, &upstream, err) != 0 ||
        mf_json_object(body, "", "operational", MF_JSON_NULLABLE, &op, err) != 0)
        return NULL;
    if (name != NULL && bname != NULL && strcmp(name, bname) != 0) {
        mf_json_fail(err, "name \"%.100s\" in the body does not match the URL%s", bname, "");
        return NULL;
    }
    if (ns != NULL && bns != NULL && strcmp(ns, bns) != 0) {
        mf_json_fail(err, "namespace \"%.100s\" in the body does not match the URL%s", bns, "");
        return NULL;
    }
    const char *final_name = name ? name : bname, *final_ns = ns ? ns : (bns ? bns : "default");
    if (!mf_catalog_name_ok(final_name) || !mf_catalog_name_ok(final_ns)) {
        mf_json_fail(err, "name and namespace must be 1-512 printable characters%s%s", "", "");
        return NULL;
    }
    json_t *cs = json_pack("{s:s,s:s}", "namespace", final_ns, "name", final_name);
    if (json_object_get(body, "path"))
        json_object_set_new(cs, "path", json_string(path ? path : ""));
    if (json_object_get(body, "format"))
        json_object_set_new(cs, "format", json_string(format ? format : ""));
    if (json_object_get(body, "description"))
        json_object_set_new(cs, "description", json_string(desc ? desc : ""));
    if (json_object_get(body, "domain"))
        json_object_set_new(cs, "domain", domain ? json_string(domain) : json_null());
    if (json_object_get(body, "owner"))
        json_object_set_new(cs, "owner", owner ? json_string(owner) : json_null());
    if (tags != NULL) {
        json_t *t = tags_from_json(tags, "tags", err);
        if (t == NULL)
            goto bad;
        json_object_set_new(cs, "tags", t);
    }
    if (fields != NULL) {
        json_t *f = fields_from_json(fields, err);
        if (f == NULL)
            goto bad;
        json_object_set_new(cs, "fields", f);
    }
    if (upstream != NULL) {
        json_t *ups = json_array();
        json_object_set_new(cs, "upstream", ups);
        size_t i;
        json_t *u;
        json_array_foreach(upstream, i, u)
        {
            char where[64];
            mf_json_path_index(where, sizeof(where), "upstream", i);
            json_t *ref = mf_catalog_ref_from_json(u, where, err);
            if (ref == NULL)
                goto bad;
            if (strcmp(json_string_value(json_object_get(ref, "namespace")), final_ns) == 0 &&
                strcmp(json_string_value(json_object_get(ref, "name")), final_name) == 0) {
                json_decref(ref);
                mf_json_fail(err, "%s must not be the dataset itself%s", where, "");
                goto bad;
            }
            json_array_append_new(ups, ref);
        }
    }
    if (op != NULL) {
        static const char *const op_allowed[] = {"row_count", "size_bytes", "partition_keys", NULL};
        long long v;
        int present;
        json_t *pk, *o = json_object();
        json_object_set_new(cs, "operational", o);
        if (mf_json_only_fields(op, "operational", op_allowed, err) != 0)
            goto bad;
        if (mf_json_int(op, "operational", "row_count", MF_JSON_NULLABLE, 0, INT64_MAX, &v, &present, err) != 0)
            goto bad;
        if (json_object_get(op, "row_count"))
            json_object_set_new(o, "row_count", present ? json_integer(v) : json_null());
        if (mf_json_int(op, "operational", "size_bytes", MF_JSON_NULLABLE, 0, INT64_MAX, &v, &present, err) != 0)
            goto bad;
        if (json_object_get(op, "size_bytes"))
            json_object_set_new(o, "size_bytes", present ? json_integer(v) : json_null());
        if (mf_json_array(op, "operational", "partition_keys", MF_JSON_NULLABLE, 64, &pk, err) != 0)
            goto bad;
        if (pk != NULL) {
            size_t i;
            json_t *k;
            json_array_foreach(pk, i, k)
            {
                char where[64];
                mf_json_path_index(where, sizeof(where), "operational.partition_keys", i);
                if (mf_json_check_text(k, where, 1, MF_NAME_MAX, 0, err) != 0)
                    goto bad;
            }
            json_object_set(o, "partition_keys", pk);
        } else if (json_object_get(op, "partition_keys")) {
            json_object_set_new(o, "partition_keys", json_array());
        }
    }
    return cs;
bad:
    json_decref(cs);
    return NULL;
}

json_t *mf_catalog_column_from_json(json_t *c, const char *where, const char *const *extra_allowed,
                                    mf_json_err_t *err)
{
    const char *allowed[12] = {"source_field", "target_field", "transformation", "expression"};
    size_t n = 4;
    for (size_t i = 0; extra_allowed != NULL && extra_allowed[i] != NULL && n < MF_ARRAY_SIZE(allowed) - 1; i++)
        allowed[n++] = extra_allowed[i];
    allowed[n] = NULL;
    const char *sf, *tf, *tr, *ex;
    if (!json_is_object(c)) {
        mf_json_fail(err, "%s must be an object", where);
        return NULL;
    }
    if (mf_json_only_fields(c, where, allowed, err) != 0 ||
        mf_json_string(c, where, "source_field", MF_JSON_REQUIRED, 1, MF_NAME_MAX, &sf, err) != 0 ||
        mf_json_string(c, where, "target_field", MF_JSON_REQUIRED, 1, MF_NAME_MAX, &tf, err) != 0 ||
        mf_json_string(c, where, "transformation", MF_JSON_NULLABLE, 0, 128, &tr, err) != 0 ||
        mf_json_string(c, where, "expression", MF_JSON_NULLABLE | MF_JSON_MULTILINE, 0, MF_TEXT_MAX, &ex, err) != 0)
        return NULL;
    return json_pack("{s:s,s:s,s:s,s:s}", "source_field", sf, "target_field", tf, "transformation", tr ? tr : "",
                     "expression", ex ? ex : "");
}

int mf_catalog_apply(mf_req_t *r, json_t *cs, mf_apply_mode_t mode, long long if_match, mf_req_pg_cb cb)
{
    static const char *const modes[] = {"create", "replace", "merge"};
    size_t len;
    char *text = mf_json_dump(cs, &len), ifm[24];
    snprintf(ifm, sizeof(ifm), "%lld", if_match);
    const char *params[] = {text, modes[mode], if_match >= 0 ? ifm : NULL};
    int rc = mf_req_query_or_respond(r, &mf_catalog_apply_stmt, 3, params, cb);
    free(text);
    return rc;
}
