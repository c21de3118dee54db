/*
 * online.c: the read commands against the API: list (following next_cursor
 * up to --limit), show, search, lineage (the graph walk) and stats.
 */
#include <stdlib.h>
#include <string.h>
#include "cli.h"

/* path + "?k=v&..." with values escaped; NULL values skipped. New string. */
static char *with_query(const char *path, const char *const *kv)
{
    size_t cap = strlen(path) + 2;
    for (int i = 0; kv[i] != NULL; i += 2)
        cap += strlen(kv[i]) + (kv[i + 1] ? 3 * strlen(kv[i + 1]) : 0) + 2;
    char *out = malloc(cap), sep = '?';
    size_t o = (size_t)snprintf(out, cap, "%s", path);
    for (int i = 0; kv[i] != NULL; i += 2) {
        if (kv[i + 1] == NULL)
            continue;
        char *v = cli_escape(kv[i + 1]);
        o += (size_t)snprintf(out + o, cap - o, "%c%s=%s", sep, kv[i], v);
        free(v);
        sep = '&';
    }
    return out;
}

static int need_args(const cli_t *c, int n, const char *what)
{
    if (c->nargs != n) {
        cli_error(CLI_EUSAGE, "usage: metafuse %s", what);
        return 0;
    }
    return 1;
}

int cli_online_list(cli_t *c)
{
    if (!need_args(c, 0, "list [--namespace NS] [--domain D] [--tag T] [--limit N]"))
        return CLI_EUSAGE;
    const char *kv[] = {"namespace", c->namespace_, "domain", c->domain, "tag", c->tag, NULL};
    char *path = with_query("/api/v1/datasets", kv);
    json_t *items;
    int rc = cli_walk(c, path, c->limit ? c->limit : 1000000, &items);
    free(path);
    if (rc == CLI_OK)
        cli_print_list(c, items, cli_print_dataset_list);
    json_decref(items);
    return rc;
}

int cli_online_show(cli_t *c)
{
    if (!need_args(c, 1, "show NAME [--namespace NS]"))
        return CLI_EUSAGE;
    char *name = cli_escape(c->args[0]);
    char *prefix = malloc(strlen(name) + 32);
    sprintf(prefix, "/api/v1/datasets/%s", name);
    const char *kv[] = {"namespace", c->namespace_, NULL};
    char *path = with_query(prefix, kv);
    json_t *doc = NULL;
    int rc = cli_call(c, "GET", path, NULL, &doc);
    free(path);
    free(prefix);
    free(name);
    if (rc == CLI_OK) {
        cli_print_dataset(c, doc);
        json_decref(doc);
    }
    return rc;
}

int cli_online_search(cli_t *c)
{
    if (!need_args(c, 1, "search QUERY [--limit N]"))
        return CLI_EUSAGE;
    char limit[24];
    snprintf(limit, sizeof(limit), "%ld", c->limit ? (c->limit > 100 ? 100 : c->limit) : 20);
    const char *kv[] = {"q", c->args[0], "limit", limit, NULL};
    char *path = with_query("/api/v1/search", kv);
    json_t *body = NULL;
    int rc = cli_call(c, "GET", path, NULL, &body);
    free(path);
    if (rc != CLI_OK)
        return rc;
    if (c->json) {
        cli_print_json(body);
    } else {
        static const char *const headers[] = {"KIND", "NAMESPACE", "NAME", "DATASET", "MATCH", "SCORE"};
        cli_table_t *t = cli_table_new(6, headers);
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(body, "items"), i, it)
        {
            char score[32];
            const char *row[] = {json_string_value(json_object_get(it, "kind")),
                                 json_string_value(json_object_get(it, "namespace")),
                                 json_string_value(json_object_get(it, "name")),
                                 json_string_value(json_object_get(it, "dataset")),
                                 json_string_value(json_object_get(it, "match")),
                                 cli_cell(json_object_get(it, "score"), score, sizeof(score))};
            cli_table_row(t, row);
        }
        cli_table_print(t);
    }
    json_decref(body);
    return CLI_OK;
}

/* One part of a lineage node id: ':' and '%' percent-encoded (migrations/0009).
 * New string. */
static char *node_part(const char *s)
{
    char *out = malloc(3 * strlen(s) + 1), *o = out;
    for (; *s; s++)
        o += *s == ':' ? sprintf(o, "%%3A") : *s == '%' ? sprintf(o, "%%25") : sprintf(o, "%c", *s);
    *o = '\0';
    return out;
}

int cli_online_lineage(cli_t *c)
{
    if (!need_args(c, 1, "lineage NAME [--namespace NS] [--depth N] [--direction up|down|both]"))
        return CLI_EUSAGE;
    char *ns = node_part(c->namespace_ ? c->namespace_ : "default"), *name = node_part(c->args[0]);
    char *node = malloc(strlen(ns) + strlen(name) + 16), depth[24];
    sprintf(node, "dataset:%s:%s", ns, name);
    snprintf(depth, sizeof(depth), "%ld", c->depth ? c->depth : 3);
    const char *kv[] = {"node", node, "depth", depth, "direction", c->direction ? c->direction : "both", NULL};
    char *path = with_query("/api/v1/lineage/graph", kv);
    json_t *g = NULL;
    int rc = cli_call(c, "GET", path, NULL, &g);
    free(path);
    free(node);
    free(ns);
    free(name);
    if (rc != CLI_OK)
        return rc;
    if (c->json) {
        cli_print_json(g);
    } else {
        static const char *const headers[] = {"FROM", "TO", "TYPE"};
        cli_table_t *t = cli_table_new(3, headers);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(g, "edges"), i, e)
        {
            const char *row[] = {json_string_value(json_object_get(e, "from")),
                                 json_string_value(json_object_get(e, "to")),
                                 json_string_value(json_object_get(e, "type"))};
            cli_table_row(t, row);
        }
        cli_table_print(t);
        if (json_is_true(json_object_get(g, "truncated")))
            fprintf(stderr, "metafuse: the graph was cut at the node limit\n");
    }
    json_decref(g);
    return CLI_OK;
}

int cli_online_stats(cli_t *c)
{
    if (!need_args(c, 0, "stats"))
        return CLI_EUSAGE;
    json_t *s = NULL;
    int rc = cli_call(c, "GET", "/api/v1/stats", NULL, &s);
    if (rc != CLI_OK)
        return rc;
    cli_print_counts(c, s);
    json_decref(s);
    return CLI_OK;
}
