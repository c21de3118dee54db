/*
 * output.c: what metafuse prints: aligned tables (columns as wide as their
 * widest cell, capped so a long description does not push the rest away)
 * and indented JSON.
 */
#include <stdlib.h>
#include <string.h>
#include "cli.h"

#define CELL_MAX 60

struct cli_table {
    int ncols, used, cap; /* used: rows so far, the header row first */
    char **cells;
};

static char *cell_copy(const char *s)
{
    if (s == NULL || s[0] == '\0')
        s = "-";
    size_t n = strcspn(s, "\n\t");
    if (n > CELL_MAX)
        n = CELL_MAX;
    char *out = malloc(n + 4);
    memcpy(out, s, n);
    strcpy(out + n, s[n] ? "..." : "");
    return out;
}

cli_table_t *cli_table_new(int ncols, const char *const *headers)
{
    cli_table_t *t = calloc(1, sizeof(*t));
    t->ncols = ncols;
    cli_table_row(t, headers);
    return t;
}

void cli_table_row(cli_table_t *t, const char *const *cells)
{
    if (t->used == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = realloc(t->cells, (size_t)t->cap * (size_t)t->ncols * sizeof(char *));
    }
    for (int i = 0; i < t->ncols; i++)
        t->cells[t->used * t->ncols + i] = cell_copy(cells[i]);
    t->used++;
}

void cli_table_print(cli_table_t *t)
{
    size_t *width = calloc((size_t)t->ncols, sizeof(size_t));
    for (int r = 0; r < t->used; r++)
        for (int i = 0; i < t->ncols; i++) {
            size_t n = strlen(t->cells[r * t->ncols + i]);
            if (n > width[i])
                width[i] = n;
        }
    for (int r = 0; r < t->used; r++) {
        for (int i = 0; i < t->ncols; i++) {
            const char *cell = t->cells[r * t->ncols + i];
            if (i == t->ncols - 1)
                printf("%s\n", cell);
            else
                printf("%-*s  ", (int)width[i], cell);
            free((char *)cell);
        }
    }
    free(width);
    free(t->cells);
    free(t);
}

void cli_print_json(const json_t *v)
{
    json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
}

const char *cli_cell(const json_t *v, char *buf, size_t cap)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        snprintf(buf, cap, "%.4g", json_real_value(v));
        return buf;
    }
    if (json_is_boolean(v))
        return json_is_true(v) ? "yes" : "no";
    if (json_is_array(v)) {
        size_t o = 0, i;
        json_t *e;
        buf[0] = '\0';
        json_array_foreach(v, i, e)
        {
            const char *s = json_is_string(e) ? json_string_value(e) : "?";
            int n = snprintf(buf + o, cap - o, "%s%s", i ? "," : "", s);
            if (n < 0 || (size_t)n >= cap - o)
                break;
            o += (size_t)n;
        }
        return buf;
    }
    return "";
}

/* "namespace/name" of a {namespace,name} reference. */
static void ref_text(const json_t *ref, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", json_string_value(json_object_get(ref, "namespace")),
             json_string_value(json_object_get(ref, "name")));
}

static void print_refs(const char *label, const json_t *refs)
{
    size_t i;
    json_t *r;
    char buf[1100];
    printf("%-12s", label);
    if (json_array_size(refs) == 0)
        printf("-");
    json_array_foreach(refs, i, r)
    {
        ref_text(r, buf, sizeof(buf));
        printf("%s%s", i ? ", " : "", buf);
    }
    printf("\n");
}

void cli_print_dataset(const cli_t *c, const json_t *doc)
{
    if (c->json) {
        cli_print_json(doc);
        return;
    }
    static const char *const members[] = {"namespace", "name",  "path", "format",    "description",
                                          "domain",    "owner", "tags", "lifecycle", NULL};
    char buf[1100];
    for (const char *const *m = members; *m != NULL; m++) {
        const json_t *v = json_object_get(doc, *m);
        if (v == NULL)
            continue;
        const char *text = cli_cell(v, buf, sizeof(buf));
        printf("%-12s%s\n", *m, text && text[0] ? text : "-");
    }
    const json_t *op = json_object_get(doc, "operational");
    if (op != NULL) {
        char rows[32], size[32];
        printf("%-12s%s rows, %s bytes\n", "operational",
               json_is_null(json_object_get(op, "row_count")) ? "?"
                                                              : cli_cell(json_object_get(op, "row_count"), rows, 32),
               json_is_null(json_object_get(op, "size_bytes")) ? "?"
                                                               : cli_cell(json_object_get(op, "size_bytes"), size, 32));
    }
    print_refs("upstream", json_object_get(doc, "upstream"));
    print_refs("downstream", json_object_get(doc, "downstream"));
    printf("\n");
    static const char *const headers[] = {"FIELD", "TYPE", "NULLABLE", "TAGS", "DESCRIPTION"};
    cli_table_t *t = cli_table_new(5, headers);
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(doc, "fields"), i, f)
    {
        char tags[600];
        const char *row[] = {json_string_value(json_object_get(f, "name")),
                             json_string_value(json_object_get(f, "type")),
                             json_is_false(json_object_get(f, "nullable")) ? "no" : "yes",
                             cli_cell(json_object_get(f, "tags"), tags, sizeof(tags)),
                             json_string_value(json_object_get(f, "description"))};
        cli_table_row(t, row);
    }
    cli_table_print(t);
}

void cli_print_list(const cli_t *c, const json_t *items, void (*table)(const json_t *items))
{
    if (c->json) {
        json_t *out = json_pack("{s:O}", "items", items);
        cli_print_json(out);
        json_decref(out);
    } else {
        table(items);
    }
}

void cli_print_dataset_list(const json_t *items)
{
    static const char *const headers[] = {"NAMESPACE", "NAME", "FORMAT", "DOMAIN", "OWNER", "FIELDS", "TAGS"};
    cli_table_t *t = cli_table_new(7, headers);
    size_t i;
    json_t *d;
    json_array_foreach(items, i, d)
    {
        char n[32], tags[600];
        const char *row[] = {json_string_value(json_object_get(d, "namespace")),
                             json_string_value(json_object_get(d, "name")),
                             json_string_value(json_object_get(d, "format")),
                             json_string_value(json_object_get(d, "domain")),
                             json_string_value(json_object_get(d, "owner")),
                             cli_cell(json_object_get(d, "field_count"), n, sizeof(n)),
                             cli_cell(json_object_get(d, "tags"), tags, sizeof(tags))};
        cli_table_row(t, row);
    }
    cli_table_print(t);
}

void cli_print_counts(const cli_t *c, const json_t *counts)
{
    if (c->json) {
        cli_print_json(counts);
        return;
    }
    static const char *const headers[] = {"WHAT", "COUNT"};
    cli_table_t *t = cli_table_new(2, headers);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)counts, key, v)
    {
        char buf[64];
        if (!json_is_number(v))
            continue;
        const char *row[] = {key, cli_cell(v, buf, sizeof(buf))};
        cli_table_row(t, row);
    }
    cli_table_print(t);
}

/* After an import's counts: each dataset it created or updated ({action, namespace, name}). */
void cli_print_changed_datasets(const json_t *datasets, const json_t *dry_run)
{
    size_t i;
    json_t *d;
    json_array_foreach(datasets, i, d)
    {
        if (i == 0)
            printf("\n");
        printf("%-7s %s/%s\n", json_string_value(json_object_get(d, "action")),
               json_string_value(json_object_get(d, "namespace")), json_string_value(json_object_get(d, "name")));
    }
    if (json_is_true(dry_run))
        printf("\ndry run: nothing was written\n");
}
