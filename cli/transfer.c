/*
 * transfer.c: emit (events to mf-ingest), export (the catalog as a SQLite
 * file, streamed to disk) and import (a SQLite file streamed to the API, or
 * its dry run).
 *
 * The export is written to FILE.part and renamed when complete, so a failed
 * or interrupted download never leaves a file that looks whole.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"

#define EMIT_MAX (64 * 1024 * 1024)

/* The whole of path ("-": stdin) as a NUL-terminated string; NULL with the
 * error printed. */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        cli_error(CLI_EUSAGE, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n > EMIT_MAX) {
            cli_error(CLI_EUSAGE, "%s: larger than %d bytes", path, EMIT_MAX);
            n = 0;
            break;
        }
        if (cap - n < 2)
            buf = realloc(buf, cap *= 2);
    }
    if (f != stdin)
        fclose(f);
    if (n == 0) {
        free(buf);
        if (got == 0)
            cli_error(CLI_EUSAGE, "%s is empty", path);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int cli_print_answer(const cli_t *c, cli_response_t *resp, void (*table)(const json_t *answer))
{
    int rc = CLI_OK;
    json_t *answer = NULL;
    if (resp->status < 200 || resp->status >= 300) {
        rc = cli_fail_response(resp);
    } else if (c->json) {
        fputs(resp->body, stdout);
        fputc('\n', stdout);
    } else if ((answer = json_loads(resp->body, 0, NULL)) == NULL) {
        rc = cli_error(CLI_EFAIL, "the API answered something that is not JSON");
    } else {
        table(answer);
    }
    json_decref(answer);
    cli_response_free(resp);
    return rc;
}

static void print_event_ids(const json_t *out)
{
    static const char *const headers[] = {"EVENT_ID"};
    cli_table_t *t = cli_table_new(1, headers);
    if (json_object_get(out, "event_id") != NULL) {
        const char *row[] = {json_string_value(json_object_get(out, "event_id"))};
        cli_table_row(t, row);
    }
    size_t i;
    json_t *id;
    json_array_foreach(json_object_get(out, "event_ids"), i, id)
    {
        const char *row[] = {json_is_string(id) ? json_string_value(id)
                                                : json_string_value(json_object_get(id, "event_id"))};
        cli_table_row(t, row);
    }
    cli_table_print(t);
}

int cli_emit(cli_t *c)
{
    if (c->nargs != 1)
        return cli_error(CLI_EUSAGE, "usage: metafuse emit FILE (- reads stdin)");
    size_t len;
    char *body = read_all(c->args[0], &len);
    if (body == NULL)
        return CLI_EUSAGE;
    /* one object -> /emit; an array or several lines of objects -> /emit/batch */
    const char *p = body + strspn(body, " \t\r\n");
    json_error_t jerr;
    json_t *one = *p == '{' ? json_loads(body, 0, &jerr) : NULL;
    const char *path = one ? "/api/v1/emit" : "/api/v1/emit/batch";
    const char *ctype = one || *p == '[' ? "application/json" : "application/x-ndjson";
    json_decref(one);
    cli_response_t resp;
    const char *base = c->ingest_url && c->ingest_url[0] ? c->ingest_url : c->api_url;
    int rc = cli_request(c, "POST", base, path, ctype, body, len, &resp);
    free(body);
    if (rc != CLI_OK)
        return rc;
    return cli_print_answer(c, &resp, print_event_ids);
}

int cli_export(cli_t *c)
{
    if (c->nargs != 0)
        return cli_error(CLI_EUSAGE, "usage: metafuse export [-o FILE]");
    int to_stdout = c->output && strcmp(c->output, "-") == 0;
    /* the final name may come from the answer: write to a temporary name in the
     * target folder */
    char part[4096];
    snprintf(part, sizeof(part), "%s.part", c->output && !to_stdout ? c->output : "metafuse-export.sqlite");
    FILE *f = to_stdout ? stdout : fopen(part, "wb");
    if (f == NULL)
        return cli_error(CLI_EUSAGE, "%s: %s", part, strerror(errno));
    cli_response_t resp;
    int rc = cli_download(c, "/api/v1/export/sqlite", f, &resp);
    int write_failed = to_stdout ? fflush(f) != 0 : fclose(f) != 0;
    if (rc != CLI_OK) { /* no answer (resp is already freed) */
        if (!to_stdout)
            unlink(part);
        return rc;
    }
    if (resp.status < 200 || resp.status >= 300)
        rc = cli_fail_response(&resp);
    else if (write_failed)
        rc = cli_error(CLI_EFAIL, "writing %s failed: %s", to_stdout ? "stdout" : part, strerror(errno));
    if (rc != CLI_OK || to_stdout) {
        if (!to_stdout)
            unlink(part);
        cli_response_free(&resp);
        return rc;
    }
    const char *final = c->output ? c->output : resp.filename[0] ? resp.filename : "metafuse-export.sqlite";
    struct stat st;
    if (rename(part, final) != 0 || stat(final, &st) != 0) {
        rc = cli_error(CLI_EFAIL, "cannot rename %s to %s: %s", part, final, strerror(errno));
        unlink(part);
    } else if (c->json) {
        json_t *out = json_pack("{s:s,s:I}", "file", final, "bytes", (json_int_t)st.st_size);
        cli_print_json(out);
        json_decref(out);
    } else {
        printf("%s\t%lld bytes\n", final, (long long)st.st_size);
    }
    cli_response_free(&resp);
    return rc;
}

static void print_report(const json_t *rep)
{
    static const char *const headers[] = {"WHAT", "CREATE", "UPDATE", "DELETE/UNCHANGED"};
    static const char *const kinds[] = {
        "datasets",       "fields",         "tags",    "lineage_edges", "column_lineage",
        "glossary_terms", "glossary_links", "domains", "owners",        NULL};
    cli_table_t *t = cli_table_new(4, headers);
    for (const char *const *k = kinds; *k != NULL; k++) {
        json_t *v = json_object_get(rep, *k);
        char a[32], b[32], d[32];
        const json_t *create = json_object_get(v, "create") ? json_object_get(v, "create") : json_object_get(v, "add");
        const json_t *rest =
            json_object_get(v, "delete") ? json_object_get(v, "delete") : json_object_get(v, "unchanged");
        const char *row[] = {*k, cli_cell(create, a, sizeof(a)), cli_cell(json_object_get(v, "update"), b, sizeof(b)),
                             cli_cell(rest, d, sizeof(d))};
        cli_table_row(t, row);
    }
    cli_table_print(t);
    cli_print_changed_datasets(json_object_get(rep, "changed_datasets"), json_object_get(rep, "dry_run"));
}

int cli_import(cli_t *c)
{
    if (c->nargs != 1)
        return cli_error(CLI_EUSAGE, "usage: metafuse import FILE [--dry-run]");
    FILE *f = fopen(c->args[0], "rb");
    struct stat st;
    if (f == NULL || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        if (f != NULL)
            fclose(f);
        return cli_error(CLI_EUSAGE, "%s: %s", c->args[0], f ? "not a regular file" : strerror(errno));
    }
    cli_response_t resp;
    int rc = cli_upload(c, c->dry_run ? "/api/v1/import/sqlite?dry_run=true" : "/api/v1/import/sqlite",
                        "application/vnd.sqlite3", f, (long long)st.st_size, &resp);
    fclose(f);
    if (rc != CLI_OK)
        return rc;
    return cli_print_answer(c, &resp, print_report);
}
