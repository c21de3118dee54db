/*
 * cli.h: the metafuse command line (docs/cli.md).
 *
 * main.c parses the options and runs one command; client.c talks to the API
 * with libcurl; output.c prints tables and JSON; online.c, offline.c,
 * transfer.c, integrations.c and keys.c are the command groups. Every command returns an
 * exit code (below) after printing its result on stdout and any error on
 * stderr.
 */
#ifndef MF_CLI_H
#define MF_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

/* Exit codes: they mean the same for every command. */
enum {
    CLI_OK = 0,
    CLI_EFAIL = 1,     /* the API refused the request or failed, or the network did */
    CLI_EUSAGE = 2,    /* bad command line (or an unusable local file) */
    CLI_ENOTFOUND = 3, /* the dataset, key or term does not exist (404) */
    CLI_EAUTH = 4,     /* missing, wrong or insufficient credentials (401, 403) */
};

/* The parsed command line. Strings are borrowed from argv or the environment.
 */
typedef struct {
    const char *api_url, *api_key, *ingest_url, *catalog;
    const char *output, *namespace_, *name, *domain, *tag, *role, *direction;
    long limit, depth;
    int json, progress, dry_run;
    int nargs;
    char **args; /* positional arguments after the command */
} cli_t;

/* Print "metafuse: <message>" on stderr and return code. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- client.c ---- */

typedef struct {
    long status;
    char *body; /* NUL-terminated; free with cli_response_free */
    size_t len;
    char request_id[80];
    char filename[256]; /* from Content-Disposition, when given */
} cli_response_t;

void cli_response_free(cli_response_t *r);
/* Percent-encode s for a URL path or query. New string. */
char *cli_escape(const char *s);
/* A request to base + path (path includes any query) with an optional body. On
 * a transport failure prints the error and returns CLI_EFAIL; otherwise CLI_OK
 * with *resp filled. */
int cli_request(const cli_t *c, const char *method, const char *base, const char *path, const char *content_type,
                const char *body, size_t len, cli_response_t *resp);
/* A JSON request to the API (body NULL for none): CLI_OK and *out (new
 * reference) on 2xx, else the error printed and its exit code
 * (cli_status_code). */
int cli_call(const cli_t *c, const char *method, const char *path, json_t *body, json_t **out);
/* Print an error answer (the envelope's message and code) and return its exit
 * code. */
int cli_fail_response(const cli_response_t *r);
/* Stream GET base+path into f (progress on stderr when c->progress); *resp gets
 * the status and, for an error, the body. */
int cli_download(const cli_t *c, const char *path, FILE *f, cli_response_t *resp);
/* Stream the file f of size bytes as the body of a POST (progress on stderr
 * when c->progress). */
int cli_upload(const cli_t *c, const char *path, const char *content_type, FILE *f, long long size,
               cli_response_t *resp);
/* GET a list route (path may carry a query) page by page, following next_cursor, until want
 * items; *items is a new array (also on error). */
int cli_walk(const cli_t *c, const char *path, long want, json_t **items);
/* Whether the API options are present; prints the usage error when not. */
int cli_need_api(const cli_t *c);

/* ---- output.c ---- */

/* A table printed with columns as wide as their widest cell. */
typedef struct cli_table cli_table_t;
cli_table_t *cli_table_new(int ncols, const char *const *headers);
/* Append a row of ncols cells (copied; NULL prints as "-"). */
void cli_table_row(cli_table_t *t, const char *const *cells);
/* Print to stdout and free. */
void cli_table_print(cli_table_t *t);
/* Print v as indented JSON on stdout. */
void cli_print_json(const json_t *v);
/* A JSON scalar as text for a table cell ("" for null/absent); borrowed or
 * static. */
const char *cli_cell(const json_t *v, char *buf, size_t cap);

/* The answer of a POST: its JSON as it came with --json, else table(answer); frees resp and returns the
 * exit code. */
int cli_print_answer(const cli_t *c, cli_response_t *resp, void (*table)(const json_t *answer));
/* Print a list: {"items":[...]} with --json, else table(items). */
void cli_print_list(const cli_t *c, const json_t *items, void (*table)(const json_t *items));
/* An object of counts ({"datasets": 3, ...}): JSON, or a WHAT/COUNT table of its numbers. */
void cli_print_counts(const cli_t *c, const json_t *counts);
/* After an import's counts: each dataset it created or updated ({action, namespace, name}), and a line
 * when it was a dry run. */
void cli_print_changed_datasets(const json_t *datasets, const json_t *dry_run);
/* The datasets table of `list` (items in the API's list shape), online and offline alike. */
void cli_print_dataset_list(const json_t *items);

/* ---- commands ---- */
int cli_online_list(cli_t *c);
int cli_online_show(cli_t *c);
int cli_online_search(cli_t *c);
int cli_online_lineage(cli_t *c);
int cli_online_stats(cli_t *c);
int cli_offline(cli_t *c, const char *command);
int cli_emit(cli_t *c);
int cli_export(cli_t *c);
int cli_import(cli_t *c);
int cli_dbt(cli_t *c);
int cli_great_expectations(cli_t *c);
int cli_iceberg(cli_t *c);
int cli_delta(cli_t *c);
int cli_keys(cli_t *c);

/* Print a dataset document (API shape) as JSON (--json) or as a table; online and offline show alike. */
void cli_print_dataset(const cli_t *c, const json_t *doc);

#endif
