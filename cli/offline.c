/*
 * offline.c: list, show, search and stats on a SQLite export (--catalog FILE),
 * with no network. The file is opened and read through libshared's
 * sqlite_catalog (hardened, validated: the same reader the import uses), so
 * exports and files of the original MetaFuse tool both work; search runs on
 * the file's FTS5 index dataset_search.
 */
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "mf/sqlite_catalog.h"

static json_t *ref_list(const json_t *lineage, const json_t *cs, const char *self_end, const char *other_end)
{
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(lineage, i, e)
    {
        json_t *self = json_object_get(e, self_end);
        if (json_equal(json_object_get(self, "namespace"), json_object_get(cs, "namespace")) &&
            json_equal(json_object_get(self, "name"), json_object_get(cs, "name")))
            json_array_append(out, json_object_get(e, other_end));
    }
    return out;
}

static int list(const json_t *plan, const cli_t *c)
{
    json_t *items = json_array();
    size_t i;
    json_t *cs;
    json_array_foreach(json_object_get(plan, "datasets"), i, cs)
    {
        if (c->namespace_ && strcmp(c->namespace_, json_string_value(json_object_get(cs, "namespace"))) != 0)
            continue;
        json_array_append_new(items,
                              json_pack("{s:O,s:O,s:O,s:O,s:O,s:O,s:I}", "namespace", json_object_get(cs, "namespace"),
                                        "name", json_object_get(cs, "name"), "format", json_object_get(cs, "format"),
                                        "domain", json_object_get(cs, "domain"), "owner", json_object_get(cs, "owner"),
                                        "tags", json_object_get(cs, "tags"), "field_count",
                                        (json_int_t)json_array_size(json_object_get(cs, "fields"))));
        if (c->limit && (long)json_array_size(items) >= c->limit)
            break;
    }
    cli_print_list(c, items, cli_print_dataset_list);
    json_decref(items);
    return CLI_OK;
}

static int show(const json_t *plan, const cli_t *c)
{
    if (c->nargs != 1)
        return cli_error(CLI_EUSAGE, "usage: metafuse --catalog FILE show NAME [--namespace NS]");
    const json_t *found = NULL;
    size_t i, matches = 0;
    json_t *cs;
    json_array_foreach(json_object_get(plan, "datasets"), i, cs)
    {
        if (strcmp(json_string_value(json_object_get(cs, "name")), c->args[0]) != 0 ||
            (c->namespace_ && strcmp(json_string_value(json_object_get(cs, "namespace")), c->namespace_) != 0))
            continue;
        found = found ? found : cs;
        matches++;
    }
    if (found == NULL)
        return cli_error(CLI_ENOTFOUND, "dataset %s not found in the file", c->args[0]);
    if (matches > 1)
        return cli_error(CLI_EUSAGE, "%s is in several namespaces: give --namespace", c->args[0]);
    json_t *doc = json_deep_copy(found);
    json_t *lineage = json_object_get(plan, "lineage");
    json_object_set_new(doc, "upstream", ref_list(lineage, found, "target", "source"));
    json_object_set_new(doc, "downstream", ref_list(lineage, found, "source", "target"));
    cli_print_dataset(c, doc);
    json_decref(doc);
    return CLI_OK;
}

/* Each word of q as a quoted FTS5 prefix term ("word"*), so no query syntax
 * reaches FTS5. New string. */
static char *fts_query(const char *q)
{
    char *out = malloc(3 * strlen(q) + 8), *o = out;
    for (const char *p = q; *p;) {
        size_t n = strcspn(p, " \t");
        if (n > 0) {
            *o++ = '"';
            for (size_t i = 0; i < n; i++) {
                if (p[i] == '"')
                    *o++ = '"';
                *o++ = p[i];
            }
            o += sprintf(o, "\"* ");
        }
        p += n;
        p += strspn(p, " \t");
    }
    *o = '\0';
    return out;
}

static int search(sqlite3 *db, const cli_t *c)
{
    if (c->nargs != 1)
        return cli_error(CLI_EUSAGE, "usage: metafuse --catalog FILE search QUERY [--limit N]");
    char *q = fts_query(c->args[0]);
    if (q[0] == '\0') {
        free(q);
        return cli_error(CLI_EUSAGE, "the search query is empty");
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            db,
            "SELECT dataset_name, path, domain, owner, bm25(dataset_search) FROM dataset_search WHERE dataset_search "
            "MATCH ?1 ORDER BY rank LIMIT ?2",
            -1, &st, NULL) != SQLITE_OK) {
        free(q);
        return cli_error(CLI_EFAIL, "the file has no usable search index: %s", sqlite3_errmsg(db));
    }
    sqlite3_bind_text(st, 1, q, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, c->limit ? c->limit : 20);
    free(q);
    json_t *items = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *it = json_object();
        static const char *const keys[] = {"name", "path", "domain", "owner"};
        for (int i = 0; i < 4; i++) {
            const char *v = (const char *)sqlite3_column_text(st, i);
            json_object_set_new(it, keys[i], v && v[0] ? json_string(v) : json_null());
        }
        json_object_set_new(it, "score", json_real(-sqlite3_column_double(st, 4)));
        json_array_append_new(items, it);
    }
    int ok = rc == SQLITE_DONE;
    if (!ok)
        cli_error(CLI_EFAIL, "search failed: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    if (ok && c->json) {
        json_t *out = json_pack("{s:O}", "items", items);
        cli_print_json(out);
        json_decref(out);
    } else if (ok) {
        static const char *const headers[] = {"NAME", "PATH", "DOMAIN", "OWNER", "SCORE"};
        cli_table_t *t = cli_table_new(5, headers);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            char score[32];
            const char *row[] = {
                json_string_value(json_object_get(it, "name")), json_string_value(json_object_get(it, "path")),
                json_string_value(json_object_get(it, "domain")), json_string_value(json_object_get(it, "owner")),
                cli_cell(json_object_get(it, "score"), score, sizeof(score))};
            cli_table_row(t, row);
        }
        cli_table_print(t);
    }
    json_decref(items);
    return ok ? CLI_OK : CLI_EFAIL;
}

static int stats(const json_t *plan, const cli_t *c)
{
    size_t fields = 0, columns = 0, i;
    json_t *v;
    json_array_foreach(json_object_get(plan, "datasets"), i, v) fields += json_array_size(json_object_get(v, "fields"));
    json_array_foreach(json_object_get(plan, "lineage"), i, v) columns +=
        json_array_size(json_object_get(v, "columns"));
    json_t *s =
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "datasets",
                  (json_int_t)json_array_size(json_object_get(plan, "datasets")), "placeholders",
                  (json_int_t)json_array_size(json_object_get(plan, "placeholders")), "dropped",
                  (json_int_t)json_array_size(json_object_get(plan, "dropped")), "fields", (json_int_t)fields,
                  "lineage_edges", (json_int_t)json_array_size(json_object_get(plan, "lineage")), "column_lineage",
                  (json_int_t)columns, "glossary_terms", (json_int_t)json_array_size(json_object_get(plan, "terms")),
                  "glossary_links", (json_int_t)json_array_size(json_object_get(plan, "links")), "domains",
                  (json_int_t)json_array_size(json_object_get(plan, "domains")), "owners",
                  (json_int_t)json_array_size(json_object_get(plan, "owners")));
    cli_print_counts(c, s);
    json_decref(s);
    return CLI_OK;
}

int cli_offline(cli_t *c, const char *command)
{
    int is_list = strcmp(command, "list") == 0, is_show = strcmp(command, "show") == 0;
    int is_search = strcmp(command, "search") == 0, is_stats = strcmp(command, "stats") == 0;
    if (!is_list && !is_show && !is_search && !is_stats)
        return cli_error(CLI_EUSAGE, "with --catalog the commands are list, show, search and stats (not %s)", command);
    if ((is_list || is_stats) && c->nargs != 0)
        return cli_error(CLI_EUSAGE, "usage: metafuse --catalog FILE %s", command);
    sqlite3 *db;
    mf_sqlite_err_t err;
    if (mf_sqlite_catalog_open(c->catalog, &db, &err) != 0)
        return cli_error(CLI_EUSAGE, "%s: %s", c->catalog, err.msg);
    int rc;
    if (is_search) {
        rc = search(db, c);
    } else {
        json_t *plan = mf_sqlite_catalog_read(db, &err);
        if (plan == NULL)
            rc = cli_error(CLI_EUSAGE, "%s: %s", c->catalog, err.msg);
        else
            rc = is_list ? list(plan, c) : is_show ? show(plan, c) : stats(plan, c);
        json_decref(plan);
    }
    sqlite3_close(db);
    return rc;
}
