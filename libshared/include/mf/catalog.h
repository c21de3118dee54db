/*
 * catalog.h: the one catalog write path.
 *
 * Every writer (REST datasets, emit events, OpenLineage events, imports)
 * decodes its input into a normalized change set with
 * mf_catalog_changeset_from_json (or builds one of the same shape) and hands
 * it to mf_catalog_apply, which runs the SQL function mf_apply_dataset in one
 * transaction: upsert, schema diff and version, fields, tags, lineage, audit.
 *
 * Change set (JSON object; members absent = "not given"):
 *   namespace, name            strings, always present
 *   path, format, description  strings
 *   domain, owner              string or null
 *   tags                       [string]
 *   fields                     [{name, type, nullable, description, tags}]
 *   upstream                   [{namespace, name}]
 *   operational                {row_count?, size_bytes?, partition_keys?}
 */
#ifndef MF_CATALOG_H
#define MF_CATALOG_H

#include <jansson.h>
#include "mf/http.h"
#include "mf/json.h"

#define MF_NAME_MAX 512
#define MF_TAG_MAX 128
#define MF_TEXT_MAX 65536
#define MF_FIELDS_MAX 10000
#define MF_TAGS_MAX 100
#define MF_UPSTREAM_MAX 1000

typedef enum {
    MF_APPLY_CREATE,  /* 409 when it exists (placeholders are filled in) */
    MF_APPLY_REPLACE, /* 404 when absent; omitted members become empty */
    MF_APPLY_MERGE,   /* create or update; omitted members are kept */
} mf_apply_mode_t;

/*
 * Validate a dataset body and return its change set (new reference), or NULL
 * with err naming the field. name/ns, when non-NULL, come from the URL and
 * win over (and must agree with) the body. Unknown members are rejected.
 */
json_t *mf_catalog_changeset_from_json(json_t *body, const char *name, const char *ns, mf_json_err_t *err);

/* A dataset reference: "name" or {"namespace","name"}; new {"namespace","name"} or NULL with err. */
json_t *mf_catalog_ref_from_json(json_t *v, const char *where, mf_json_err_t *err);

/*
 * One column lineage entry {source_field, target_field, transformation?, expression?} at
 * `where` into a new normalized object (missing optional members as ""), or NULL with err.
 * extra_allowed (NULL-terminated, may be NULL) names members the caller reads itself.
 */
json_t *mf_catalog_column_from_json(json_t *c, const char *where, const char *const *extra_allowed,
                                    mf_json_err_t *err);

/* 1 when s is a valid tag, else 0. */
int mf_catalog_tag_ok(const char *s);
/* 1 when s is a valid name (1..MF_NAME_MAX bytes, clean UTF-8), else 0. */
int mf_catalog_name_ok(const char *s);

/* Apply cs for the request's tenant; if_match < 0 means none. cb gets one row: the dataset
 * document and its version (for the ETag). Answers errors itself (see mf_req_query_or_respond).
 * Borrows cs. */
int mf_catalog_apply(mf_req_t *r, json_t *cs, mf_apply_mode_t mode, long long if_match, mf_req_pg_cb cb) MF_MUST_CHECK;

/* The statement mf_catalog_apply runs, for blocking callers (workers) that prepare it themselves. */
extern mf_pg_stmt_t mf_catalog_apply_stmt;

#endif
