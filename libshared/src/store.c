/*
 * store.c: see store.h. Migration files are read whole and sent as one
 * simple query inside BEGIN/COMMIT, so a file is applied entirely or not at
 * all; the checksum is the SHA-256 of the file's bytes. The purge is one
 * call of the SQL function mf_purge, which does the work in the database.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mf/auth.h"
#include "mf/log.h"
#include "mf/pg.h"
#include "mf/store.h"
#include "mf/util.h"

#define MIGRATION_LOCK_ID 7263530 /* arbitrary, constant: "mf" migrations */

static int exec_ok(PGconn *pg, const char *sql, char *err, size_t errlen)
{
    PGresult *res = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(err, errlen, "%s", PQresultErrorMessage(res));
    PQclear(res);
    return ok ? 0 : MF_EINTERNAL;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = mf_malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = '\0';
    *len = got;
    return buf;
}

static int apply_one(PGconn *pg, const char *dir, const char *file, char *err, size_t errlen)
{
    char path[1024], sum[65], version[8];
    size_t len;
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    char *sql = read_file(path, &len);
    if (sql == NULL) {
        snprintf(err, errlen, "cannot read %s", path);
        return MF_EINTERNAL;
    }
    mf_sha256_hex(sql, len, sum);
    snprintf(version, sizeof(version), "%.4s", file);
    const char *p1[] = {version};
    PGresult *res = PQexecParams(pg, "SELECT checksum FROM schema_migrations WHERE version = $1::integer", 1, NULL, p1,
                                 NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "%s", PQresultErrorMessage(res));
        rc = MF_EINTERNAL;
    } else if (PQntuples(res) == 1) {
        if (strcmp(PQgetvalue(res, 0, 0), sum) != 0) {
            snprintf(err, errlen, "migration %s changed after it was applied; migrations are forward-only: add a new one",
                     file);
            rc = MF_EINVALID_REQUEST;
        }
        PQclear(res);
        free(sql);
        return rc;
    }
    PQclear(res);
    if (rc == 0)
        rc = exec_ok(pg, "BEGIN", err, errlen);
    if (rc == 0 && (rc = exec_ok(pg, sql, err, errlen)) != 0) {
        char inner[512];
        snprintf(inner, sizeof(inner), "%s", err);
        snprintf(err, errlen, "migration %s failed: %s", file, inner);
    }
    if (rc == 0) {
        const char *p2[] = {version, file, sum};
        res = PQexecParams(pg, "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1::integer, $2, $3)",
                           3, NULL, p2, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            snprintf(err, errlen, "%s", PQresultErrorMessage(res));
            rc = MF_EINTERNAL;
        }
        PQclear(res);
    }
    char ignored[256];
    if (rc == 0)
        rc = exec_ok(pg, "COMMIT", err, errlen);
    else
        (void)exec_ok(pg, "ROLLBACK", ignored, sizeof(ignored));
    if (rc == 0)
        MF_LOG_INFO_(NULL, "applied migration %s", file);
    free(sql);
    return rc;
}

int mf_store_migrate(const char *url, const char *dir, char *err, size_t errlen)
{
    PGconn *pg = mf_pg_connect_blocking(url, err, errlen);
    if (pg == NULL)
        return MF_EUNAVAILABLE;
    int rc = exec_ok(pg, "SET client_min_messages = warning", err, errlen);
    char lock[96];
    snprintf(lock, sizeof(lock), "SELECT pg_advisory_lock(%d)", MIGRATION_LOCK_ID);
    if (rc == 0)
        rc = exec_ok(pg, lock, err, errlen);
    if (rc == 0)
        rc = exec_ok(pg,
                     "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
                     "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                     err, errlen);
    DIR *d = rc == 0 ? opendir(dir) : NULL;
    if (rc == 0 && d == NULL) {
        snprintf(err, errlen, "cannot open the migrations folder \"%s\" (MF_MIGRATIONS_DIR)", dir);
        rc = MF_EINVALID_REQUEST;
    }
    char **files = NULL;
    size_t n = 0;
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t len = strlen(e->d_name);
            if (len > 9 && strspn(e->d_name, "0123456789") == 4 && e->d_name[4] == '_' &&
                strcmp(e->d_name + len - 4, ".sql") == 0) {
                files = mf_realloc(files, (n + 1) * sizeof(*files));
                files[n++] = mf_strdup(e->d_name);
            }
        }
        closedir(d);
        qsort(files, n, sizeof(*files), by_name);
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = apply_one(pg, dir, files[i], err, errlen);
    for (size_t i = 0; i < n; i++)
        free(files[i]);
    free(files);
    PQfinish(pg); /* ends the session, releasing the advisory lock */
    return rc;
}

int mf_store_create_platform_key(const char *url, const char *env, const char *role, char *key, char *err,
                                 size_t errlen)
{
    char prefix[MF_KEY_PREFIX_LEN + 1], hash[65];
    PGconn *pg = mf_pg_connect_blocking(url, err, errlen);
    if (pg == NULL)
        return MF_EUNAVAILABLE;
    mf_auth_key_new(env, key, prefix, hash);
    const char *params[] = {prefix, hash, role};
    PGresult *res = PQexecParams(pg,
                                 "INSERT INTO api_keys (tenant_id, name, prefix, secret_hash, role, created_by) "
                                 "VALUES (NULL, replace($3, '_', ' '), $1, $2, $3, 'cli')",
                                 3, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "cannot create the key: %s", PQresultErrorMessage(res));
        rc = MF_EINTERNAL;
    }
    PQclear(res);
    PQfinish(pg);
    return rc;
}

int mf_store_purge(const char *url, char **report, char *err, size_t errlen)
{
    *report = NULL;
    PGconn *pg = mf_pg_connect_blocking(url, err, errlen);
    if (pg == NULL)
        return MF_EUNAVAILABLE;
    PGresult *res = PQexec(pg, "SELECT r::text, jsonb_array_length(r->'failed') FROM mf_purge() r");
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        snprintf(err, errlen, "purge failed: %s", PQresultErrorMessage(res));
        rc = MF_EINTERNAL;
    } else {
        *report = mf_strdup(PQgetvalue(res, 0, 0));
        long failed = strtol(PQgetvalue(res, 0, 1), NULL, 10);
        if (failed > 0) {
            snprintf(err, errlen, "%ld tenant(s) could not be purged (see \"failed\" in the report)", failed);
            rc = MF_EINTERNAL;
        }
    }
    PQclear(res);
    PQfinish(pg);
    return rc;
}
