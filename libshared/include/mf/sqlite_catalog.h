/*
 * sqlite_catalog.h: the MetaFuse local schema, a catalog in one SQLite file.
 *
 * The schema (docs/sqlite-schema.md) is a compatible superset of the one the
 * original single-user MetaFuse tool keeps: its tables datasets, fields,
 * lineage, tags, glossary_terms, term_links, domains, owners and the FTS5
 * index dataset_search keep their names and columns; MetaFuse Cloud adds
 * columns (datasets.namespace, fields.ordinal, ...) and tables (field_tags,
 * column_lineage). Plain sqlite3 can query an export.
 *
 * Writing (mf-api's export): rows go in one transaction, in the column order
 * documented for each kind below, as text (SQLite's column affinity stores
 * numbers as numbers); mf_sqlite_writer_finish builds the indexes and the
 * FTS index and closes the file.
 *
 * Reading (mf-api's import, the CLI): a file from anywhere is hostile until
 * checked. mf_sqlite_catalog_open opens it read-only with defensive settings
 * (no triggers or views run, untrusted schema, length limits), verifies the
 * header, runs a quick integrity check and refuses views, virtual tables
 * other than dataset_search (fts5) and triggers other than the original
 * tool's own FTS triggers. mf_sqlite_catalog_read then checks every value's
 * type and size, runs each dataset through the API's own change set
 * validation, and returns an import plan; the first problem is reported with
 * its table, row and column.
 */
#ifndef MF_SQLITE_CATALOG_H
#define MF_SQLITE_CATALOG_H

#include <stddef.h>
#include <jansson.h>
#include <sqlite3.h>
#include "mf/error.h"

/* A problem with a file, said for a person ("fields row 12 (id 40) column
 * data_type: must be text"). */
typedef struct {
    char msg[400];
} mf_sqlite_err_t;

/* The longest value (text or blob) read from an uploaded file; longer ones are
 * refused. */
#define MF_SQLITE_MAX_VALUE (1024 * 1024)

/* ---- writing ---- */

typedef struct mf_sqlite_writer mf_sqlite_writer_t;

/*
 * Row kinds and their columns, in order (text; NULL for SQL NULL):
 *   DATASET: id, namespace, name, path, format, description, domain, owner,
 * created_at, last_updated, row_count, size_bytes, partition_keys (JSON array),
 * placeholder (0/1), lifecycle, version, tags (space-separated) FIELD:
 * dataset_id, ordinal, name, data_type, nullable (0/1), description, tags
 * (space-separated) LINEAGE: id, upstream_dataset_id, downstream_dataset_id,
 * created_at COLUMN:  lineage_id, source_field, target_field, transformation,
 * expression TERM:    id, term, description, status, created_at, updated_at
 *   LINK:    term_id, dataset_id, field name ("" links the whole dataset)
 *   DOMAIN:  name, description, created_at
 *   OWNER:   name, email, team, created_at
 * Ids are the file's own integers; fields must follow their dataset's row,
 * links their term's and dataset's (the field is looked up by name).
 */
typedef enum {
    MF_SQLITE_DATASET,
    MF_SQLITE_FIELD,
    MF_SQLITE_LINEAGE,
    MF_SQLITE_COLUMN,
    MF_SQLITE_TERM,
    MF_SQLITE_LINK,
    MF_SQLITE_DOMAIN,
    MF_SQLITE_OWNER,
    MF_SQLITE__KINDS
} mf_sqlite_kind_t;

/* The number of columns of a row kind. */
int mf_sqlite_kind_columns(mf_sqlite_kind_t kind);

/* Create the catalog in path (absent or an empty file) with the schema and
 * start the transaction. New writer, or NULL with err. tenant (borrowed, may be
 * NULL) is recorded in catalog_meta. */
mf_sqlite_writer_t *mf_sqlite_writer_open(const char *path, const char *tenant, mf_sqlite_err_t *err);
/* Append one row of kind (values borrowed; mf_sqlite_kind_columns(kind) of
 * them). 0 or MF_EINTERNAL. */
int mf_sqlite_writer_row(mf_sqlite_writer_t *w, mf_sqlite_kind_t kind, const char *const *values,
                         mf_sqlite_err_t *err) MF_MUST_CHECK;
/* Build the indexes and dataset_search, commit and close. Frees w in every
 * case. 0 or MF_EINTERNAL. */
int mf_sqlite_writer_finish(mf_sqlite_writer_t *w, mf_sqlite_err_t *err) MF_MUST_CHECK;
/* Abandon a writer (the file stays, incomplete: the caller removes it). NULL is
 * a no-op. */
void mf_sqlite_writer_abort(mf_sqlite_writer_t *w);

/* ---- reading ---- */

/* Open path read-only and hardened and check its schema (see above). 0 and *db
 * (close with sqlite3_close) or MF_EINVALID_REQUEST with err. */
int mf_sqlite_catalog_open(const char *path, sqlite3 **db, mf_sqlite_err_t *err) MF_MUST_CHECK;

/*
 * Read and validate a whole catalog into a new import plan, or NULL with err:
 *   {"datasets":[change set],   every non-placeholder dataset (libshared
 * catalog.h), all members given "placeholders":[ref], "dropped":[ref], refs are
 * {namespace,name}
 *    "lineage":[{"source":ref,"target":ref,"columns":[{source_field,target_field,transformation,expression}]}],
 *    "terms":[{name,definition,status}],
 * "links":[{term,namespace,dataset,field?}], "domains":[{name,description}],
 * "owners":[{name,email,team}]}
 */
json_t *mf_sqlite_catalog_read(sqlite3 *db, mf_sqlite_err_t *err);

/* Write len bytes to a private temporary file, open it with
 * mf_sqlite_catalog_open, read it, and remove the file. New plan, or NULL with
 * err (MF_EINVALID_REQUEST: the file's fault; *status_err says which,
 * MF_EINTERNAL when the temporary file could not be written). */
json_t *mf_sqlite_catalog_from_bytes(const void *buf, size_t len, int *status_err, mf_sqlite_err_t *err);

#endif
