/*
 * sqlite_catalog.c: the MetaFuse local schema (see sqlite_catalog.h).
 *
 * Writing keeps one prepared INSERT per row kind (plus tags, field tags and
 * column lineage, which ride on their parent's row) inside one transaction
 * with journaling off: the file is a fresh temporary one, so a crash only
 * loses a file nobody has seen. Secondary indexes and the FTS index are built
 * once at the end, which is much faster than maintaining them per row.
 *
 * Reading trusts nothing in the file. The connection is read-only, immutable
 * (no locks, no journal recovery), defensive, with triggers and views
 * disabled, an untrusted schema and a cap on value length; the schema is
 * checked object by object before any catalog table is read, and every value
 * is checked for its type and size before it becomes JSON. Each dataset then
 * goes through mf_catalog_changeset_from_json, the validation
 * POST /api/v1/datasets applies, so an import accepts exactly what the API
 * would. Tables of the original tool that MetaFuse Cloud does not use
 * (quality_metrics, audit_log, ...) are ignored, as are columns it does not
 * know. The plan is built in memory, bounded by MAX_ROWS rows in all.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "mf/catalog.h"
#include "mf/json.h"
#include "mf/sqlite_catalog.h"
#include "mf/util.h"

#define MAX_ROWS 1000000
#define SQLITE_MAGIC "SQLite format 3"

static void fail(mf_sqlite_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(mf_sqlite_err_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    mf_text_make_utf8(err->msg);
}

/* ---------------------------------------------------------------- schema */

static const char schema_ddl[] =
    "CREATE TABLE catalog_meta (id INTEGER PRIMARY KEY "
    "CHECK (id = 1), version INTEGER NOT NULL DEFAULT 1, last_modified TEXT NOT NULL, format TEXT NOT "
    "NULL, tenant TEXT, exported_at TEXT);"
    "CREATE TABLE datasets (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, path TEXT NOT NULL, "
    "format TEXT NOT NULL, description TEXT, tenant TEXT, domain TEXT, owner TEXT, created_at TEXT NOT "
    "NULL, last_updated TEXT NOT NULL, row_count INTEGER, size_bytes INTEGER, partition_keys TEXT, namespace "
    "TEXT NOT NULL DEFAULT 'default', placeholder INTEGER NOT NULL DEFAULT 0, lifecycle TEXT NOT NULL "
    "DEFAULT 'active', version INTEGER NOT NULL DEFAULT 1, "
    "UNIQUE (namespace, name));"
    "CREATE TABLE fields (id INTEGER PRIMARY KEY AUTOINCREMENT, dataset_id INTEGER NOT NULL, name TEXT "
    "NOT NULL, data_type TEXT NOT NULL, nullable INTEGER NOT NULL DEFAULT 1, description TEXT, ordinal "
    "INTEGER, FOREIGN KEY (dataset_id) REFERENCES datasets(id) ON DELETE CASCADE);"
    "CREATE UNIQUE INDEX idx_fields_dataset_name ON fields(dataset_id, name);"
    "CREATE TABLE field_tags (id INTEGER PRIMARY KEY AUTOINCREMENT, field_id INTEGER NOT NULL, tag TEXT "
    "NOT NULL, FOREIGN KEY (field_id) REFERENCES fields(id) ON DELETE CASCADE, "
    "UNIQUE(field_id, tag));"
    "CREATE TABLE lineage (id INTEGER PRIMARY KEY AUTOINCREMENT, upstream_dataset_id INTEGER NOT NULL, "
    "downstream_dataset_id INTEGER NOT NULL, created_at TEXT NOT NULL, "
    "FOREIGN KEY (upstream_dataset_id) REFERENCES datasets(id) ON DELETE CASCADE, "
    "FOREIGN KEY (downstream_dataset_id) REFERENCES datasets(id) ON DELETE CASCADE, "
    "UNIQUE(upstream_dataset_id, downstream_dataset_id));"
    "CREATE TABLE column_lineage (id INTEGER PRIMARY KEY AUTOINCREMENT, lineage_id INTEGER NOT NULL, source_field "
    "TEXT NOT NULL, target_field TEXT NOT NULL, transformation TEXT NOT NULL DEFAULT '', expression TEXT "
    "NOT NULL DEFAULT '', FOREIGN KEY (lineage_id) REFERENCES lineage(id) ON DELETE CASCADE);"
    "CREATE TABLE tags (id INTEGER PRIMARY KEY AUTOINCREMENT, dataset_id INTEGER NOT NULL, tag TEXT NOT "
    "NULL, FOREIGN KEY (dataset_id) REFERENCES datasets(id) ON DELETE CASCADE, "
    "UNIQUE(dataset_id, tag));"
    "CREATE TABLE glossary_terms (id INTEGER PRIMARY KEY AUTOINCREMENT, term TEXT UNIQUE NOT NULL, description "
    "TEXT, domain TEXT, owner_id TEXT, status TEXT DEFAULT 'draft', created_at TEXT, updated_at TEXT);"
    "CREATE TABLE term_links (id INTEGER PRIMARY KEY AUTOINCREMENT, term_id INTEGER NOT NULL, dataset_id "
    "INTEGER, field_id INTEGER, "
    "FOREIGN KEY (term_id) REFERENCES glossary_terms(id) ON DELETE CASCADE, "
    "FOREIGN KEY (dataset_id) REFERENCES datasets(id) ON DELETE CASCADE, "
    "FOREIGN KEY (field_id) REFERENCES fields(id) ON DELETE CASCADE, "
    "CHECK ((dataset_id IS NOT NULL AND field_id IS NULL) "
    "OR (dataset_id IS NULL AND field_id IS NOT NULL)));"
    "CREATE TABLE domains (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL, display_name "
    "TEXT NOT NULL, description TEXT, owner_id TEXT, is_active INTEGER NOT NULL DEFAULT 1, created_at "
    "TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);"
    "CREATE TABLE owners (id INTEGER PRIMARY KEY AUTOINCREMENT, owner_id TEXT UNIQUE NOT NULL, name TEXT "
    "NOT NULL, owner_type TEXT NOT NULL DEFAULT 'user', email TEXT, slack_channel TEXT, contact_info TEXT, "
    "created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, "
    "team TEXT);"
    "CREATE VIRTUAL TABLE dataset_search USING fts5(dataset_name, path, domain, owner, description, tags, "
    "field_names);";

/* After the rows: the original tool's indexes, then the search index in one
 * statement. */
static const char finish_sql[] =
    "CREATE INDEX idx_datasets_tenant ON datasets(tenant);"
    "CREATE INDEX idx_datasets_domain ON datasets(domain);"
    "CREATE INDEX idx_datasets_owner ON datasets(owner);"
    "CREATE INDEX idx_datasets_last_updated ON datasets(last_updated);"
    "CREATE INDEX idx_datasets_name ON datasets(name);"
    "CREATE INDEX idx_fields_dataset_id ON fields(dataset_id);"
    "CREATE INDEX idx_fields_name ON fields(name);"
    "CREATE INDEX idx_lineage_upstream ON lineage(upstream_dataset_id);"
    "CREATE INDEX idx_lineage_downstream ON lineage(downstream_dataset_id);"
    "CREATE INDEX idx_column_lineage_lineage ON column_lineage(lineage_id);"
    "CREATE INDEX idx_tags_dataset_id ON tags(dataset_id);"
    "CREATE INDEX idx_tags_tag ON tags(tag);"
    "CREATE INDEX idx_field_tags_tag ON field_tags(tag);"
    "CREATE INDEX idx_term_links_term ON term_links(term_id);"
    "CREATE INDEX idx_term_links_dataset ON term_links(dataset_id);"
    "CREATE INDEX idx_term_links_field ON term_links(field_id);"
    "INSERT INTO dataset_search (rowid, dataset_name, path, domain, owner, description, tags, field_names) "
    "SELECT d.id, d.name, d.path, d.domain, d.owner, d.description, coalesce((SELECT group_concat(tag, "
    "' ') FROM (SELECT tag FROM tags "
    "WHERE dataset_id = d.id ORDER BY tag)), ''), coalesce((SELECT group_concat(name, ' ') "
    "FROM (SELECT name FROM fields "
    "WHERE dataset_id = d.id ORDER BY name)), '') "
    "FROM datasets d;";

/* ---------------------------------------------------------------- writing */

static const struct {
    int ncols;
    const char *sql;
} kinds[MF_SQLITE__KINDS] = {
    [MF_SQLITE_DATASET] =
        {17, "INSERT INTO datasets (id, namespace, name, path, format, description, domain, owner, created_at, "
             "last_updated, row_count, size_bytes, partition_keys, placeholder, lifecycle, version, tenant) VALUES "
             "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?18)"},
    [MF_SQLITE_FIELD] =
        {7, "INSERT INTO fields (dataset_id, ordinal, name, data_type, nullable, description) VALUES (?1, ?2, "
            "?3, ?4, ?5, ?6)"},
    [MF_SQLITE_LINEAGE] =
        {4, "INSERT INTO lineage (id, upstream_dataset_id, downstream_dataset_id, created_at) VALUES (?1, ?2, "
            "?3, ?4)"},
    [MF_SQLITE_COLUMN] =
        {5, "INSERT INTO column_lineage (lineage_id, source_field, target_field, transformation, expression) VALUES "
            "(?1, ?2, ?3, coalesce(?4, ''), coalesce(?5, ''))"},
    [MF_SQLITE_TERM] =
        {6, "INSERT INTO glossary_terms (id, term, description, status, created_at, updated_at) VALUES (?1, ?2, "
            "?3, ?4, ?5, ?6)"},
    /* a link to a field that no longer exists is left out */
    [MF_SQLITE_LINK] = {3, "INSERT INTO term_links (term_id, dataset_id, field_id) SELECT ?1, "
                           "CASE WHEN ?3 = '' THEN ?2 END, f.id "
                           "FROM (SELECT 1) LEFT JOIN fields f ON f.dataset_id = ?2 AND f.name = ?3 "
                           "WHERE ?3 = '' OR f.id IS NOT NULL"},
    [MF_SQLITE_DOMAIN] =
        {3, "INSERT INTO domains (name, display_name, description, created_at, updated_at) VALUES (?1, ?1, ?2, "
            "?3, ?3)"},
    [MF_SQLITE_OWNER] =
        {4, "INSERT INTO owners (owner_id, name, email, team, created_at, updated_at) VALUES (?1, ?1, ?2, ?3, "
            "?4, ?4)"},
};

struct mf_sqlite_writer {
    sqlite3 *db;
    sqlite3_stmt *insert[MF_SQLITE__KINDS];
    sqlite3_stmt *tag, *field_tag;
    char *tenant;
};

int mf_sqlite_kind_columns(mf_sqlite_kind_t kind) { return kinds[kind].ncols; }

static int db_fail(sqlite3 *db, mf_sqlite_err_t *err, const char *doing)
{
    fail(err, "%s: %s", doing, sqlite3_errmsg(db));
    return MF_EINTERNAL;
}

mf_sqlite_writer_t *mf_sqlite_writer_open(const char *path, const char *tenant, mf_sqlite_err_t *err)
{
    mf_sqlite_writer_t *w = mf_calloc(1, sizeof(*w));
    w->tenant = tenant ? mf_strdup(tenant) : NULL;
    if (sqlite3_open_v2(path, &w->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        db_fail(w->db, err, "creating the export file");
        goto bad;
    }
    if (sqlite3_exec(w->db,
                     "PRAGMA journal_mode=OFF;"
                     " PRAGMA synchronous=OFF;"
                     " PRAGMA foreign_keys=OFF;"
                     "PRAGMA cache_size=-65536;"
                     " BEGIN;",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(w->db, schema_ddl, NULL, NULL, NULL) != SQLITE_OK) {
        db_fail(w->db, err, "creating the schema");
        goto bad;
    }
    for (int k = 0; k < MF_SQLITE__KINDS; k++)
        if (sqlite3_prepare_v2(w->db, kinds[k].sql, -1, &w->insert[k], NULL) != SQLITE_OK) {
            db_fail(w->db, err, "preparing an insert");
            goto bad;
        }
    if (sqlite3_prepare_v2(w->db, "INSERT OR IGNORE INTO tags (dataset_id, tag) VALUES (?1, ?2)", -1, &w->tag, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(w->db, "INSERT OR IGNORE INTO field_tags (field_id, tag) VALUES (?1, ?2)", -1, &w->field_tag,
                           NULL) != SQLITE_OK) {
        db_fail(w->db, err, "preparing an insert");
        goto bad;
    }
    return w;
bad:
    mf_sqlite_writer_abort(w);
    return NULL;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v == NULL)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static int step_reset(mf_sqlite_writer_t *w, sqlite3_stmt *st, mf_sqlite_err_t *err)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : db_fail(w->db, err, "writing a row");
}

/* One row of `st` (owner, tag) per space-separated tag in tags. */
static int insert_tags(mf_sqlite_writer_t *w, sqlite3_stmt *st, sqlite3_int64 owner, const char *tags,
                       mf_sqlite_err_t *err)
{
    for (const char *p = tags; p != NULL && *p;) {
        size_t n = strcspn(p, " ");
        if (n > 0) {
            sqlite3_bind_int64(st, 1, owner);
            sqlite3_bind_text(st, 2, p, (int)n, SQLITE_STATIC);
            if (step_reset(w, st, err) != 0)
                return MF_EINTERNAL;
        }
        p += n;
        while (*p == ' ')
            p++;
    }
    return 0;
}

int mf_sqlite_writer_row(mf_sqlite_writer_t *w, mf_sqlite_kind_t kind, const char *const *values, mf_sqlite_err_t *err)
{
    sqlite3_stmt *st = w->insert[kind];
    int n = kinds[kind].ncols;
    /* the tags of datasets and fields (their last column) go to their own tables
     */
    int bound = kind == MF_SQLITE_DATASET || kind == MF_SQLITE_FIELD ? n - 1 : n;
    for (int i = 0; i < bound; i++)
        bind_text(st, i + 1, values[i]);
    if (kind == MF_SQLITE_DATASET)
        bind_text(st, 18, w->tenant);
    if (step_reset(w, st, err) != 0)
        return MF_EINTERNAL;
    sqlite3_int64 id = sqlite3_last_insert_rowid(w->db);
    switch (kind) {
    case MF_SQLITE_DATASET: return insert_tags(w, w->tag, id, values[n - 1], err);
    case MF_SQLITE_FIELD: return insert_tags(w, w->field_tag, id, values[n - 1], err);
    default: return 0;
    }
}

static void finalize_all(mf_sqlite_writer_t *w)
{
    for (int k = 0; k < MF_SQLITE__KINDS; k++)
        sqlite3_finalize(w->insert[k]);
    sqlite3_finalize(w->tag);
    sqlite3_finalize(w->field_tag);
}

int mf_sqlite_writer_finish(mf_sqlite_writer_t *w, mf_sqlite_err_t *err)
{
    char now[32];
    mf_time_rfc3339(now);
    int rc = 0;
    sqlite3_stmt *meta = NULL;
    if (sqlite3_exec(w->db, finish_sql, NULL, NULL, NULL) != SQLITE_OK)
        rc = db_fail(w->db, err, "building the indexes");
    else if (sqlite3_prepare_v2(
                 w->db,
                 "INSERT INTO catalog_meta (id, version, last_modified, format, tenant, exported_at) VALUES (1, 1, "
                 "?1, 'metafuse-cloud/1', ?2, ?1)",
                 -1, &meta, NULL) != SQLITE_OK)
        rc = db_fail(w->db, err, "writing catalog_meta");
    if (rc == 0) {
        bind_text(meta, 1, now);
        bind_text(meta, 2, w->tenant);
        rc = step_reset(w, meta, err);
    }
    sqlite3_finalize(meta);
    finalize_all(w);
    if (rc == 0 && sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = db_fail(w->db, err, "committing the export");
    if (sqlite3_close(w->db) != SQLITE_OK && rc == 0)
        rc = db_fail(w->db, err, "closing the export");
    free(w->tenant);
    free(w);
    return rc;
}

void mf_sqlite_writer_abort(mf_sqlite_writer_t *w)
{
    if (w == NULL)
        return;
    finalize_all(w);
    sqlite3_close(w->db);
    free(w->tenant);
    free(w);
}

/* ---------------------------------------------------------------- opening
 * untrusted files */

/* The original tool's triggers that keep dataset_search current; harmless here
 * (triggers never run). */
static const char *const original_triggers[] = {
    "dataset_search_insert",        "dataset_search_update",
    "dataset_search_delete",        "dataset_search_fields_update",
    "dataset_search_fields_delete", "dataset_search_tags_insert",
    "dataset_search_tags_delete",   NULL,
};

static int in_list(const char *s, const char *const *list)
{
    for (; *list != NULL; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

/* file:<path>?immutable=1 with the path percent-encoded. New string. */
static char *immutable_uri(const char *path)
{
    size_t n = strlen(path);
    char *uri = mf_malloc(3 * n + 32), *o = uri;
    o += sprintf(o, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/-_.~", *p) != NULL)
            *o++ = (char)*p;
        else
            o += sprintf(o, "%%%02X", *p);
    }
    strcpy(o, "?immutable=1");
    return uri;
}

static int check_header(const char *path, mf_sqlite_err_t *err)
{
    char head[16] = {0};
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail(err, "cannot open %s: %s", path, strerror(errno));
        return MF_EINVALID_REQUEST;
    }
    size_t n = fread(head, 1, sizeof(head), f);
    fclose(f);
    if (n != sizeof(head) || memcmp(head, SQLITE_MAGIC, sizeof(head)) != 0) {
        fail(err, "the file is not a SQLite database (no SQLite header)");
        return MF_EINVALID_REQUEST;
    }
    return 0;
}

static void harden(sqlite3 *db)
{
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, (int *)NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, (int *)NULL);
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, MF_SQLITE_MAX_VALUE);
    sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, 100000);
    sqlite3_limit(db, SQLITE_LIMIT_COLUMN, 500);
    sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, 100);
    sqlite3_limit(db, SQLITE_LIMIT_COMPOUND_SELECT, 10);
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
}

/* The first row's first column of sql as an integer (-1 on error), for small
 * probes. */
static long long scalar(sqlite3 *db, const char *sql, const char *arg)
{
    sqlite3_stmt *st;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (arg != NULL)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int quick_check(sqlite3 *db, mf_sqlite_err_t *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL) != SQLITE_OK) {
        fail(err, "the file is not a valid SQLite database: %s", sqlite3_errmsg(db));
        return MF_EINVALID_REQUEST;
    }
    int rc = sqlite3_step(st);
    const char *v = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    int ok = v != NULL && strcmp(v, "ok") == 0;
    if (!ok)
        fail(err, "the file is damaged: %s", v ? v : sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return ok ? 0 : MF_EINVALID_REQUEST;
}

/* Refuse views, foreign virtual tables and triggers; require datasets and
 * fields. */
static int check_schema(sqlite3 *db, mf_sqlite_err_t *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT type, name, coalesce(sql, '') FROM sqlite_schema", -1, &st, NULL) != SQLITE_OK) {
        fail(err, "the file's schema cannot be read: %s", sqlite3_errmsg(db));
        return MF_EINVALID_REQUEST;
    }
    int rc = 0, step;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        const char *sql = (const char *)sqlite3_column_text(st, 2);
        if (type == NULL || name == NULL || sql == NULL)
            continue;
        if (strcmp(type, "view") == 0) {
            fail(err, "the file has a view (%.100s): views are not accepted", name);
            rc = MF_EINVALID_REQUEST;
        } else if (strcmp(type, "trigger") == 0 && !in_list(name, original_triggers)) {
            fail(err, "the file has a trigger (%.100s): triggers are not accepted", name);
            rc = MF_EINVALID_REQUEST;
        } else if (strcmp(type, "table") == 0 && strncasecmp(sql, "CREATE VIRTUAL TABLE", 20) == 0 &&
                   (strcmp(name, "dataset_search") != 0 || strcasestr(sql, "fts5") == NULL)) {
            fail(err, "the file has a virtual table (%.100s): only the FTS5 index dataset_search is accepted", name);
            rc = MF_EINVALID_REQUEST;
        }
    }
    if (rc == 0 && step != SQLITE_DONE) {
        fail(err, "the file's schema cannot be read: %s", sqlite3_errmsg(db));
        rc = MF_EINVALID_REQUEST;
    }
    sqlite3_finalize(st);
    static const char *const required[] = {"datasets", "fields", NULL};
    for (const char *const *t = required; rc == 0 && *t != NULL; t++)
        if (scalar(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1", *t) != 1) {
            fail(err, "the file is not a MetaFuse catalog: it has no %s table", *t);
            rc = MF_EINVALID_REQUEST;
        }
    return rc;
}

int mf_sqlite_catalog_open(const char *path, sqlite3 **out, mf_sqlite_err_t *err)
{
    *out = NULL;
    err->msg[0] = '\0';
    if (check_header(path, err) != 0)
        return MF_EINVALID_REQUEST;
    char *uri = immutable_uri(path);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_PRIVATECACHE, NULL);
    free(uri);
    if (rc != SQLITE_OK) {
        fail(err, "the file cannot be opened as SQLite: %s", db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return MF_EINVALID_REQUEST;
    }
    harden(db);
    if (sqlite3_exec(db,
                     "PRAGMA trusted_schema=OFF;"
                     " PRAGMA query_only=ON;"
                     " PRAGMA cell_size_check=ON;"
                     "PRAGMA mmap_size=0;",
                     NULL, NULL, NULL) != SQLITE_OK ||
        quick_check(db, err) != 0 || check_schema(db, err) != 0) {
        if (err->msg[0] == '\0')
            fail(err, "the file is not a valid SQLite database: %s", sqlite3_errmsg(db));
        sqlite3_close(db);
        return MF_EINVALID_REQUEST;
    }
    *out = db;
    return 0;
}

/* ---------------------------------------------------------------- reading rows
 */

/* One table being read: which of the wanted columns it has, the statement, the
 * row number. */
typedef struct {
    sqlite3 *db;
    const char *table;
    const char *const *cols;
    sqlite3_stmt *st;
    long long row;
    long long *budget; /* rows left for the whole file */
} reader_t;

static int table_exists(sqlite3 *db, const char *table)
{
    return scalar(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1", table) == 1;
}

static int has_column(sqlite3 *db, const char *table, const char *col)
{
    sqlite3_stmt *st;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, col, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

/*
 * Start reading cols of table (0 when the table is absent and optional: r->st
 * stays NULL). nrequired: the first columns the table must have; the others
 * read as NULL when missing. Column and table names come from this file's
 * constants, never from the upload.
 */
static int reader_open(reader_t *r, sqlite3 *db, const char *table, const char *const *cols, int nrequired,
                       const char *order, int table_required, long long *budget, mf_sqlite_err_t *err)
{
    memset(r, 0, sizeof(*r));
    r->db = db;
    r->table = table;
    r->cols = cols;
    r->budget = budget;
    if (!table_exists(db, table)) {
        if (!table_required)
            return 0;
        fail(err, "the file is not a MetaFuse catalog: it has no %s table", table);
        return MF_EINVALID_REQUEST;
    }
    char sql[1024];
    size_t o = (size_t)snprintf(sql, sizeof(sql), "SELECT ");
    for (int i = 0; cols[i] != NULL; i++) {
        int have = has_column(db, table, cols[i]);
        if (!have && i < nrequired) {
            fail(err, "table %s has no column %s", table, cols[i]);
            return MF_EINVALID_REQUEST;
        }
        o += (size_t)snprintf(sql + o, sizeof(sql) - o, "%s%s%s%s", i ? ", " : "", have ? "\"" : "NULL",
                              have ? cols[i] : "", have ? "\"" : "");
    }
    snprintf(sql + o, sizeof(sql) - o, " FROM \"%s\" ORDER BY %s", table, order);
    if (sqlite3_prepare_v2(db, sql, -1, &r->st, NULL) != SQLITE_OK) {
        fail(err, "table %s cannot be read: %s", table, sqlite3_errmsg(db));
        return MF_EINVALID_REQUEST;
    }
    return 0;
}

/* 1: a row is ready; 0: done (or no table); <0: error in err. */
static int reader_next(reader_t *r, mf_sqlite_err_t *err)
{
    if (r->st == NULL)
        return 0;
    int rc = sqlite3_step(r->st);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW) {
        fail(err, "table %s, row %lld: %s", r->table, r->row + 1, sqlite3_errmsg(r->db));
        return MF_EINVALID_REQUEST;
    }
    r->row++;
    if (--*r->budget < 0) {
        fail(err, "the file has more than %d rows", MAX_ROWS);
        return MF_EINVALID_REQUEST;
    }
    return 1;
}

static void reader_close(reader_t *r) { sqlite3_finalize(r->st); }

static int bad_value(reader_t *r, int col, mf_sqlite_err_t *err, const char *what)
{
    fail(err, "table %s, row %lld, column %s: %s", r->table, r->row, r->cols[col], what);
    return MF_EINVALID_REQUEST;
}

enum { V_REQUIRED = 1, V_MULTILINE = 2 };

/* Text value of column col (NULL when SQL NULL and allowed), max bytes, clean
 * UTF-8. */
static int get_text(reader_t *r, int col, int flags, size_t max, const char **out, mf_sqlite_err_t *err)
{
    *out = NULL;
    int type = sqlite3_column_type(r->st, col);
    if (type == SQLITE_NULL)
        return (flags & V_REQUIRED) ? bad_value(r, col, err, "must not be null") : 0;
    if (type != SQLITE_TEXT)
        return bad_value(r, col, err, "must be text");
    const char *s = (const char *)sqlite3_column_text(r->st, col);
    size_t n = (size_t)sqlite3_column_bytes(r->st, col);
    if (s == NULL)
        return bad_value(r, col, err, "cannot be read");
    if (n > max) {
        char what[64];
        snprintf(what, sizeof(what), "is longer than %zu bytes", max);
        return bad_value(r, col, err, what);
    }
    if (!mf_text_is_clean(s, n, (flags & V_MULTILINE) != 0))
        return bad_value(r, col, err, "must be UTF-8 text without control characters");
    *out = s;
    return 0;
}

/* Integer value in [min,max]; *present 0 for NULL when allowed. */
static int get_int(reader_t *r, int col, int flags, long long min, long long max, long long *out, int *present,
                   mf_sqlite_err_t *err)
{
    *present = 0;
    int type = sqlite3_column_type(r->st, col);
    if (type == SQLITE_NULL)
        return (flags & V_REQUIRED) ? bad_value(r, col, err, "must not be null") : 0;
    if (type != SQLITE_INTEGER)
        return bad_value(r, col, err, "must be an integer");
    long long v = sqlite3_column_int64(r->st, col);
    if (v < min || v > max) {
        char what[96];
        snprintf(what, sizeof(what), "must be between %lld and %lld", min, max);
        return bad_value(r, col, err, what);
    }
    *out = v;
    *present = 1;
    return 0;
}

static int get_id(reader_t *r, int col, long long *out, mf_sqlite_err_t *err)
{
    int present;
    return get_int(r, col, V_REQUIRED, INT64_MIN, INT64_MAX, out, &present, err);
}

/* ---------------------------------------------------------------- the plan */

typedef struct {
    sqlite3 *db;
    long long budget;
    json_t *datasets; /* id (decimal) -> {"body":{...}, "row":N, "placeholder":b,
                         "dropped":b} */
    json_t *fields;   /* field id -> [dataset id, field index] */
    json_t *edges;    /* lineage id -> index in plan.lineage */
    json_t *terms;    /* term id -> name */
    json_t *plan;
} read_ctx_t;

static json_t *by_id(json_t *map, long long id)
{
    char key[24];
    snprintf(key, sizeof(key), "%lld", id);
    return json_object_get(map, key);
}

static void set_by_id(json_t *map, long long id, json_t *v)
{
    char key[24];
    snprintf(key, sizeof(key), "%lld", id);
    json_object_set_new(map, key, v);
}

static json_t *dataset_or_fail(reader_t *r, read_ctx_t *c, int col, long long id, mf_sqlite_err_t *err)
{
    json_t *d = by_id(c->datasets, id);
    if (d == NULL) {
        char what[64];
        snprintf(what, sizeof(what), "no dataset has id %lld", id);
        bad_value(r, col, err, what);
    }
    return d;
}

static json_t *ref_of(json_t *d)
{
    json_t *b = json_object_get(d, "body");
    return json_pack("{s:O,s:O}", "namespace", json_object_get(b, "namespace"), "name", json_object_get(b, "name"));
}

/* partition_keys: a JSON array, or (older files) comma-separated names. New
 * array or NULL. */
static json_t *partition_keys(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return json_array();
    if (s[0] == '[') {
        json_t *v = json_loads(s, 0, NULL);
        if (json_is_array(v))
            return v;
        json_decref(v);
        return NULL;
    }
    json_t *arr = json_array();
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, ",");
        const char *b = p, *e = p + n;
        while (b < e && *b == ' ')
            b++;
        while (e > b && e[-1] == ' ')
            e--;
        if (e > b)
            json_array_append_new(arr, json_stringn(b, (size_t)(e - b)));
        p += n;
        if (*p == ',')
            p++;
    }
    return arr;
}

static json_t *text_or_null(const char *s) { return s && s[0] ? json_string(s) : json_null(); }

static int read_datasets(read_ctx_t *c, mf_sqlite_err_t *err)
{
    static const char *const cols[] = {"id",        "name",  "namespace", "path",       "format",         "description",
                                       "domain",    "owner", "row_count", "size_bytes", "partition_keys", "placeholder",
                                       "lifecycle", NULL};
    reader_t r;
    int rc = reader_open(&r, c->db, "datasets", cols, 2, "id", 1, &c->budget, err);
    json_t *seen = json_object();
    while (rc == 0 && (rc = reader_next(&r, err)) == 1) {
        rc = 0;
        long long id, rows = 0, size = 0, placeholder = 0;
        int has_rows, has_size, has_placeholder;
        const char *name, *ns, *path, *format, *desc, *domain, *owner, *pk, *lifecycle;
        if (get_id(&r, 0, &id, err) != 0 || get_text(&r, 1, V_REQUIRED, MF_NAME_MAX, &name, err) != 0 ||
            get_text(&r, 2, 0, MF_NAME_MAX, &ns, err) != 0 || get_text(&r, 3, 0, 4096, &path, err) != 0 ||
            get_text(&r, 4, 0, 128, &format, err) != 0 || get_text(&r, 5, V_MULTILINE, MF_TEXT_MAX, &desc, err) != 0 ||
            get_text(&r, 6, 0, MF_NAME_MAX, &domain, err) != 0 || get_text(&r, 7, 0, MF_NAME_MAX, &owner, err) != 0 ||
            get_int(&r, 8, 0, 0, INT64_MAX, &rows, &has_rows, err) != 0 ||
            get_int(&r, 9, 0, 0, INT64_MAX, &size, &has_size, err) != 0 || get_text(&r, 10, 0, 65536, &pk, err) != 0 ||
            get_int(&r, 11, 0, 0, 1, &placeholder, &has_placeholder, err) != 0 ||
            get_text(&r, 12, 0, 16, &lifecycle, err) != 0) {
            rc = MF_EINVALID_REQUEST;
            break;
        }
        if (ns == NULL || ns[0] == '\0')
            ns = "default";
        if (lifecycle != NULL && strcmp(lifecycle, "active") != 0 && strcmp(lifecycle, "dropped") != 0) {
            rc = bad_value(&r, 12, err, "must be active or dropped");
            break;
        }
        json_t *keys = partition_keys(pk);
        if (keys == NULL) {
            rc = bad_value(&r, 10, err, "must be a JSON array of names");
            break;
        }
        char *qualified = mf_malloc(strlen(ns) + strlen(name) + 2);
        sprintf(qualified, "%s\n%s", ns, name);
        int dup = json_object_get(seen, qualified) != NULL;
        json_object_set_new(seen, qualified, json_true());
        free(qualified);
        if (dup || by_id(c->datasets, id) != NULL) {
            json_decref(keys);
            fail(err, "table datasets, row %lld: dataset %.200s/%.200s (id %lld) appears twice", r.row, ns, name, id);
            rc = MF_EINVALID_REQUEST;
            break;
        }
        json_t *op = json_pack("{s:o,s:o,s:o}", "row_count", has_rows ? json_integer(rows) : json_null(), "size_bytes",
                               has_size ? json_integer(size) : json_null(), "partition_keys", keys);
        json_t *body =
            json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:[],s:[],s:o}", "name", name, "namespace", ns, "path",
                      path ? path : "", "format", format ? format : "", "description", desc ? desc : "", "domain",
                      text_or_null(domain), "owner", text_or_null(owner), "tags", "fields", "operational", op);
        set_by_id(c->datasets, id,
                  json_pack("{s:o,s:I,s:b,s:b}", "body", body, "row", (json_int_t)r.row, "placeholder",
                            (int)placeholder, "dropped", lifecycle != NULL && strcmp(lifecycle, "dropped") == 0));
    }
    json_decref(seen);
    reader_close(&r);
    return rc < 0 ? rc : 0;
}

/* Append tag (validated later with the change set) to arr, at most MF_TAGS_MAX.
 */
static int add_tag(reader_t *r, json_t *arr, const char *tag, mf_sqlite_err_t *err)
{
    if (json_array_size(arr) >= MF_TAGS_MAX) {
        char what[64];
        snprintf(what, sizeof(what), "more than %d tags on one dataset or field", MF_TAGS_MAX);
        return bad_value(r, 1, err, what);
    }
    json_array_append_new(arr, json_string(tag));
    return 0;
}

static int read_tags(read_ctx_t *c, mf_sqlite_err_t *err)
{
    static const char *const cols[] = {"dataset_id", "tag", NULL};
    reader_t r;
    int rc = reader_open(&r, c->db, "tags", cols, 2, "dataset_id, tag", 0, &c->budget, err);
    while (rc == 0 && (rc = reader_next(&r, err)) == 1) {
        long long id;
        const char *tag;
        json_t *d;
        rc = get_id(&r, 0, &id, err) != 0 || get_text(&r, 1, V_REQUIRED, MF_TAG_MAX, &tag, err) != 0 ||
                     (d = dataset_or_fail(&r, c, 0, id, err)) == NULL
                 ? MF_EINVALID_REQUEST
                 : add_tag(&r, json_object_get(json_object_get(d, "body"), "tags"), tag, err);
    }
    reader_close(&r);
    return rc < 0 ? rc : 0;
}

static int read_fields(read_ctx_t *c, mf_sqlite_err_t *err)
{
    static const char *const cols[] = {"id", "dataset_id", "name", "data_type", "nullable", "description", NULL};
    const char *order = has_column(c->db, "fields", "ordinal") ? "dataset_id, ordinal, id" : "dataset_id, id";
    reader_t r;
    int rc = reader_open(&r, c->db, "fields", cols, 4, order, 1, &c->budget, err);
    while (rc == 0 && (rc = reader_next(&r, err)) == 1) {
        rc = 0;
        long long id, ds, nullable = 1;
        int has_nullable;
        const char *name, *type, *desc;
        json_t *d;
        if (get_id(&r, 0, &id, err) != 0 || get_id(&r, 1, &ds, err) != 0 ||
            get_text(&r, 2, V_REQUIRED, MF_NAME_MAX, &name, err) != 0 ||
            get_text(&r, 3, V_REQUIRED, MF_NAME_MAX, &type, err) != 0 ||
            get_int(&r, 4, 0, 0, 1, &nullable, &has_nullable, err) != 0 ||
            get_text(&r, 5, V_MULTILINE, MF_TEXT_MAX, &desc, err) != 0 ||
            (d = dataset_or_fail(&r, c, 1, ds, err)) == NULL) {
            rc = MF_EINVALID_REQUEST;
            break;
        }
        json_t *fields = json_object_get(json_object_get(d, "body"), "fields");
        if (json_array_size(fields) >= MF_FIELDS_MAX) {
            rc = bad_value(&r, 1, err, "the dataset has too many fields");
            break;
        }
        if (by_id(c->fields, id) != NULL) {
            rc = bad_value(&r, 0, err, "is a duplicate id");
            break;
        }
        set_by_id(c->fields, id, json_pack("[I,I]", (json_int_t)ds, (json_int_t)json_array_size(fields)));
        json_array_append_new(fields,
                              json_pack("{s:s,s:s,s:b,s:s,s:[]}", "name", name, "type", type, "nullable",
                                        has_nullable ? (int)nullable : 1, "description", desc ? desc : "", "tags"));
    }
    reader_close(&r);
    return rc < 0 ? rc : 0;
}

/* The field of a field id: its dataset entry and its JSON object, or NULL with
 * err. */
static json_t *field_or_fail(reader_t *r, read_ctx_t *c, int col, long long id, json_t **dataset, mf_sqlite_err_t *err)
{
    json_t *where = by_id(c->fields, id);
    if (where == NULL) {
        char what[64];
        snprintf(what, sizeof(what), "no field has id %lld", id);
        bad_value(r, col, err, what);
        return NULL;
    }
    *dataset = by_id(c->datasets, json_integer_value(json_array_get(where, 0)));
    return json_array_get(json_object_get(json_object_get(*dataset, "body"), "fields"),
                          (size_t)json_integer_value(json_array_get(where, 1)));
}

static int read_field_tags(read_ctx_t *c, mf_sqlite_err_t *err)
{
    static const char *const cols[] = {"field_id", "tag", NULL};
    reader_t r;
    int rc = reader_open(&r, c->db, "field_tags", cols, 2, "field_id, tag", 0, &c->budget, err);
    while (rc == 0 && (rc = reader_next(&r, err)) == 1) {
        long long id;
        const char *tag;
        json_t *d, *f;
        rc = get_id(&r, 0, &id, err) != 0 || get_text(&r, 1, V_REQUIRED, MF_TAG_MAX, &tag, err) != 0 ||
                     (f = field_or_fail(&r, c, 0, id, &d, err)) == NULL
                 ? MF_EINVALID_REQUEST
                 : add_tag(&r, json_object_get(f, "tags"), tag, err);
    }
    reader_close(&r);
    return rc < 0 ? rc : 0;
}

/* Every dataset through the API's validation; placeholders and dropped ones
 * listed apart. */
static int build_changesets(read_ctx_t *c, mf_sqlite_err_t *err)
{
    json_t *out = json_array(), *placeholders = json_array(), *dropped = json_array();
    json_object_set_new(c->plan, "datasets", out);
    json_object_set_new(c->plan, "placeholders", placeholders);
    json_object_set_new(c->plan, "dropped", dropped);
    const char *key;
    json_t *d;
    json_object_foreach(c->datasets, key, d)
    {
        json_t *body = json_object_get(d, "body");
        mf_json_err_t jerr;
        json_t *cs = mf_catalog_changeset_from_json(body, NULL, NULL, &jerr);
        if (cs == NULL) {
            fail(err, "table datasets, row %lld (dataset %.200s/%.200s, with its fields and tags): %s",
                 (long long)json_integer_value(json_object_get(d, "row")),
                 json_string_value(json_object_get(body, "namespace")),
                 json_string_value(json_object_get(body, "name")), jerr.msg);
            return MF_EINVALID_REQUEST;
        }
        if (json_is_true(json_object_get(d, "placeholder")))
            json_array_append_new(placeholders, ref_of(d));
        else
            json_array_append(out, cs);
        if (json_is_true(json_object_get(d, "dropped")))
            json_array_append_new(dropped, ref_of(d));
        json_decref(cs);
    }
    return 0;
}

static int read_lineage(read_ctx_t *c, mf_sqlite_err_t *err)
{
    static const char *const cols[] = {"id", "upstream_dataset_id", "downstream_dataset_id", NULL};
    json_t *edges = json_array(), *upstream_counts = json_object();
    json_object_set_new(c->plan, "lineage", edges);
    reader_t r;
    int rc = reader_open(&r, c->db, "lineage", cols, 3, "id", 0, &c->budget, err);
    while (rc == 0 && (rc = reader_next(&r, err)) == 1) {
        rc = 0;
        long long id, up, down;
        json_t *s, *t;
        if (get_id(&r, 0, &id, err) != 0 || get_id(&r, 1, &up, err) != 0 || get_id(&r, 2, &down, err) != 0 ||
            (s = dataset_or_fail(&r, c, 1, up, err)) == NULL || (t = dataset_or_fail(&r, c, 2, down, err)) == NULL) {
            rc = MF_EINVALID_REQUEST;
            break;
        }
        if (up == down) {
            rc = bad_value(&r, 2, err, "an edge must join two different datasets");
            break;
        }
        json_t *count = by_id(upstream_counts, down);
        long long n = count ? json_integer_value(count) + 1 : 1;
        if (n > MF_UPSTREAM_MAX) {
            rc = bad_value(&r, 2, err, "the dataset has more than 1000 upstream datasets");
            break;
        }
        set_by_id(upstream_counts, down, json_integer(n));
        if (by_id(c->edges, id) != NULL) {
            rc = bad_value(&r, 0, err, "is a duplicate id");
            break;
        }
        set_by_id(c->edges, id, json_integer((json_int_t)json_array_size(edges)));
        json_array_append_new(edges, json_pack("{s:o,s:o,s:[]}", "source", ref_of(s), "target", ref_of(t), "columns"));
    }
    json_decref(upstream_counts);
    reader_close(&r);
    return rc < 0 ? rc : 0;
}

static int read_column_lineage(read_ctx_t *c, mf_sqlite_err_t *err)
{
    static const char *const cols[] = {"lineage_id",     "source_field", "target_field",
                                       "transformation", "expression",   NULL};
    reader_t r;
    int rc = reader_open(&r, c->db, "column_lineage", cols, 3, "lineage_id, id", 0, &c->budget, err);
    while (rc == 0 && (rc = reader_next(&r, err)) == 1) {
        rc = 0;
        long long id;
        const char *v[4];
        if (get_id(&r, 0, &id, err) != 0 || get_text(&r, 1, V_REQUIRED, MF_NAME_MAX, &v[0], err) != 0 ||
            get_text(&r, 2, V_REQUIRED, MF_NAME_MAX, &v[1], err) != 0 || get_text(&r, 3, 0, 128, &v[2], err) != 0 ||
            get_text(&r, 4, V_MULTILINE, MF_TEXT_MAX, &v[3], err) != 0) {
            rc = MF_EINVALID_REQUEST;
            break;
        }
        json_t *at = by_id(c->edges, id);
        if (at == NULL) {
            rc = bad_value(&r, 0, err, "no lineage edge has this id");
            break;
        }
        json_t *cols_out = json_object_get(
            json_array_get(json_object_get(c->plan, "lineage"), (size_t)json_integer_value(at)), "columns");
        if (json_array_size(cols_out) >= MF_FIELDS_MAX) {
            rc = bad_value(&r, 0, err, "the edge has too many column mappings");
            break;
        }
        json_t *in = json_pack("{s:s,s:s,s:s,s:s}", "source_field", v[0], "target_field", v[1], "transformation",
                               v[2] ? v[2] : "", "expression", v[3] ? v[3] : "");
        char where[64];
        snprintf(where, sizeof(where), "column_lineage row %lld", r.row);
        mf_json_err_t jerr;
        json_t *col = mf_catalog_column_from_json(in, where, NULL, &jerr);
        json_decref(in);
        if (col == NULL) {
            fail(err, "table column_lineage, row %lld: %s", r.row, jerr.msg);
            rc = MF_EINVALID_REQUEST;
            break;
        }
        json_array_append_new(cols_out, col);
    }
    reader_close(&r);
    return rc < 0 ? rc : 0;
}

static int status_ok(const char *s)
{
    return strcmp(s, "draft") == 0 || strcmp(s, "approved") == 0 || strcmp(s, "deprecated") == 0;
}

static int read_terms(read_ctx_t *c, mf_sqlite_err_t *err)
{
    static const char *const cols[] = {"id", "term", "description", "status", NULL};
    json_t *terms = json_array(), *seen = json_object();
    json_object_set_new(c->plan, "terms", terms);
    reader_t r;
    int rc = reader_open(&r, c->db, "glossary_terms", cols, 2, "id", 0, &c->budget, err);
    while (rc == 0 && (rc = reader_next(&r, err)) == 1) {
        rc = 0;
        long long id;
        const char *name, *def, *status;
        if (get_id(&r, 0, &id, err) != 0 || get_text(&r, 1, V_REQUIRED, MF_NAME_MAX, &name, err) != 0 ||
            get_text(&r, 2, V_MULTILINE, MF_TEXT_MAX, &def, err) != 0 || get_text(&r, 3, 0, 16, &status, err) != 0) {
            rc = MF_EINVALID_REQUEST;
            break;
        }
        if (!mf_catalog_name_ok(name)) {
            rc = bad_value(&r, 1, err, "must be 1-512 printable characters");
            break;
        }
        if (status != NULL && !status_ok(status)) {
            rc = bad_value(&r, 3, err, "must be draft, approved or deprecated");
            break;
        }
        if (json_object_get(seen, name) != NULL || by_id(c->terms, id) != NULL) {
            rc = bad_value(&r, 1, err, "is a duplicate term");
            break;
        }
        json_object_set_new(seen, name, json_true());
        set_by_id(c->terms, id, json_string(name));
        json_array_append_new(terms, json_pack("{s:s,s:s,s:s}", "name", name, "definition", def ? def : "", "status",
                                               status ? status : "draft"));
    }
    json_decref(seen);
    reader_close(&r);
    return rc < 0 ? rc : 0;
}

static int read_links(read_ctx_t *c, mf_sqlite_err_t *err)
{
    static const char *const cols[] = {"term_id", "dataset_id", "field_id", NULL};
    json_t *links = json_array();
    json_object_set_new(c->plan, "links", links);
    reader_t r;
    int rc = reader_open(&r, c->db, "term_links", cols, 3, "id", 0, &c->budget, err);
    while (rc == 0 && (rc = reader_next(&r, err)) == 1) {
        rc = 0;
        long long term_id, ds = 0, field = 0;
        int has_ds, has_field;
        if (get_id(&r, 0, &term_id, err) != 0 || get_int(&r, 1, 0, INT64_MIN, INT64_MAX, &ds, &has_ds, err) != 0 ||
            get_int(&r, 2, 0, INT64_MIN, INT64_MAX, &field, &has_field, err) != 0) {
            rc = MF_EINVALID_REQUEST;
            break;
        }
        json_t *term = by_id(c->terms, term_id), *d = NULL, *f = NULL;
        if (term == NULL) {
            rc = bad_value(&r, 0, err, "no glossary term has this id");
            break;
        }
        if (has_ds == has_field) {
            rc = bad_value(&r, 2, err, "a link names either a dataset or a field");
            break;
        }
        if (has_field ? (f = field_or_fail(&r, c, 2, field, &d, err)) == NULL
                      : (d = dataset_or_fail(&r, c, 1, ds, err)) == NULL) {
            rc = MF_EINVALID_REQUEST;
            break;
        }
        json_t *ref = ref_of(d);
        json_object_set(ref, "term", term);
        json_object_set_new(ref, "dataset", json_incref(json_object_get(ref, "name")));
        json_object_del(ref, "name");
        if (f != NULL)
            json_object_set(ref, "field", json_object_get(f, "name"));
        json_array_append_new(links, ref);
    }
    reader_close(&r);
    return rc < 0 ? rc : 0;
}

/* domains {name, description} and owners {owner_id (or name), email, team}:
 * optional details. */
static int read_directory(read_ctx_t *c, int owners, mf_sqlite_err_t *err)
{
    static const char *const domain_cols[] = {"name", "description", NULL};
    static const char *const owner_cols[] = {"owner_id", "email", "team", NULL};
    static const char *const owner_cols_by_name[] = {"name", "email", "team", NULL};
    const char *table = owners ? "owners" : "domains";
    const char *const *cols = !owners                                   ? domain_cols
                              : has_column(c->db, "owners", "owner_id") ? owner_cols
                                                                        : owner_cols_by_name;
    json_t *out = json_array();
    json_object_set_new(c->plan, table, out);
    reader_t r;
    int rc = reader_open(&r, c->db, table, cols, 1, "1", 0, &c->budget, err);
    while (rc == 0 && (rc = reader_next(&r, err)) == 1) {
        const char *name, *a, *b = NULL;
        rc = 0;
        if (get_text(&r, 0, V_REQUIRED, MF_NAME_MAX, &name, err) != 0 ||
            get_text(&r, 1, owners ? 0 : V_MULTILINE, owners ? MF_NAME_MAX : MF_TEXT_MAX, &a, err) != 0 ||
            (owners && get_text(&r, 2, 0, MF_NAME_MAX, &b, err) != 0)) {
            rc = MF_EINVALID_REQUEST;
            break;
        }
        if (!mf_catalog_name_ok(name)) {
            rc = bad_value(&r, 0, err, "must be 1-512 printable characters");
            break;
        }
        json_array_append_new(
            out, owners ? json_pack("{s:s,s:o,s:o}", "name", name, "email", text_or_null(a), "team", text_or_null(b))
                        : json_pack("{s:s,s:s}", "name", name, "description", a ? a : ""));
    }
    reader_close(&r);
    return rc < 0 ? rc : 0;
}

static int read_domains(read_ctx_t *c, mf_sqlite_err_t *err) { return read_directory(c, 0, err); }
static int read_owners(read_ctx_t *c, mf_sqlite_err_t *err) { return read_directory(c, 1, err); }

/* In this order: datasets before what points to them, change sets once their fields and tags are in. */
static int (*const read_steps[])(read_ctx_t *, mf_sqlite_err_t *) = {
    read_datasets,       read_tags,  read_fields, read_field_tags, build_changesets, read_lineage,
    read_column_lineage, read_terms, read_links,  read_domains,    read_owners,
};

json_t *mf_sqlite_catalog_read(sqlite3 *db, mf_sqlite_err_t *err)
{
    read_ctx_t c = {db, MAX_ROWS, json_object(), json_object(), json_object(), json_object(), json_object()};
    err->msg[0] = '\0';
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < MF_ARRAY_SIZE(read_steps); i++)
        rc = read_steps[i](&c, err);
    json_decref(c.datasets);
    json_decref(c.fields);
    json_decref(c.edges);
    json_decref(c.terms);
    if (rc != 0) {
        json_decref(c.plan);
        return NULL;
    }
    return c.plan;
}

json_t *mf_sqlite_catalog_from_bytes(const void *buf, size_t len, int *status_err, mf_sqlite_err_t *err)
{
    *status_err = MF_EINVALID_REQUEST;
    err->msg[0] = '\0';
    if (len < 100 || memcmp(buf, SQLITE_MAGIC, 16) != 0) {
        fail(err, "the body is not a SQLite database file");
        return NULL;
    }
    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/mf-import-XXXXXX", dir && dir[0] ? dir : "/tmp");
    int fd = mkstemp(path); /* mode 0600: private to this process's user */
    if (fd < 0) {
        *status_err = MF_EINTERNAL;
        fail(err, "cannot create a temporary file: %s", strerror(errno));
        return NULL;
    }
    const char *p = buf;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *status_err = MF_EINTERNAL;
            fail(err, "cannot write a temporary file: %s", strerror(errno));
            close(fd);
            unlink(path);
            return NULL;
        }
        p += n;
        left -= (size_t)n;
    }
    close(fd);
    sqlite3 *db;
    json_t *plan = NULL;
    if (mf_sqlite_catalog_open(path, &db, err) == 0) {
        plan = mf_sqlite_catalog_read(db, err);
        sqlite3_close(db);
    }
    unlink(path);
    return plan;
}
