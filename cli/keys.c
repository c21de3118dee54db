/*
 * keys.c: `metafuse keys list | create NAME --role ROLE | revoke ID` over
 * /api/v1/api-keys. A new key's secret is printed once, as the API shows it.
 */
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static void keys_table(const json_t *items)
{
    static const char *const headers[] = {"ID", "NAME", "ROLE", "TYPE", "PREFIX", "CREATED", "REVOKED"};
    static const char *const members[] = {"id", "name", "role", "type", "prefix", "created_at", "revoked_at"};
    cli_table_t *t = cli_table_new(7, headers);
    size_t i;
    json_t *k;
    json_array_foreach(items, i, k)
    {
        const char *row[7];
        for (int m = 0; m < 7; m++)
            row[m] = json_string_value(json_object_get(k, members[m]));
        cli_table_row(t, row);
    }
    cli_table_print(t);
}

static int keys_list(cli_t *c)
{
    json_t *items;
    int rc = cli_walk(c, "/api/v1/api-keys", 1000000, &items);
    if (rc == CLI_OK)
        cli_print_list(c, items, keys_table);
    json_decref(items);
    return rc;
}

static int keys_create(cli_t *c)
{
    if (c->nargs != 2 || c->role == NULL)
        return cli_error(CLI_EUSAGE, "usage: metafuse keys create NAME --role viewer|editor|admin");
    json_t *body = json_pack("{s:s,s:s}", "name", c->args[1], "role", c->role), *out = NULL;
    int rc = cli_call(c, "POST", "/api/v1/api-keys", body, &out);
    json_decref(body);
    if (rc != CLI_OK)
        return rc;
    if (c->json)
        cli_print_json(out);
    else
        printf("%s\t%s\n", json_string_value(json_object_get(out, "id")),
               json_string_value(json_object_get(out, "key")));
    json_decref(out);
    return CLI_OK;
}

static int keys_revoke(cli_t *c)
{
    if (c->nargs != 2)
        return cli_error(CLI_EUSAGE, "usage: metafuse keys revoke ID");
    char *id = cli_escape(c->args[1]), path[256];
    snprintf(path, sizeof(path), "/api/v1/api-keys/%s", id);
    free(id);
    json_t *out = NULL;
    int rc = cli_call(c, "DELETE", path, NULL, &out);
    if (rc == CLI_OK && c->json) {
        json_t *done = json_pack("{s:s}", "revoked", c->args[1]);
        cli_print_json(done);
        json_decref(done);
    } else if (rc == CLI_OK) {
        printf("revoked %s\n", c->args[1]);
    }
    json_decref(out);
    return rc;
}

int cli_keys(cli_t *c)
{
    const char *sub = c->nargs > 0 ? c->args[0] : "";
    if (strcmp(sub, "list") == 0 && c->nargs == 1)
        return keys_list(c);
    if (strcmp(sub, "create") == 0)
        return keys_create(c);
    if (strcmp(sub, "revoke") == 0)
        return keys_revoke(c);
    return cli_error(CLI_EUSAGE, "usage: metafuse keys list | keys create NAME --role ROLE | keys revoke ID");
}
