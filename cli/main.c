/*
 * main.c: metafuse, the MetaFuse command line (docs/cli.md).
 *
 *   metafuse --catalog FILE list|show NAME|search QUERY|stats        offline,
 * on a SQLite export metafuse [--api URL --key KEY]
 * list|show|search|lineage|stats|emit|export|import|dbt|great-expectations|iceberg|delta|keys ...
 *
 * Options may come before or after the command. The API URL and key default
 * to MF_API_URL and MF_API_KEY, the ingest URL (for emit) to MF_INGEST_URL,
 * else the API URL. Results go to stdout (tables, or JSON with --json),
 * errors to stderr, and the exit code says what happened (cli.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include "cli.h"

static const char usage_text[] =
    "usage: metafuse [options] COMMAND [ARGS]\n"
    "\n"
    "Offline, on a SQLite export (--catalog FILE):\n"
    "  list                      datasets\n"
    "  show NAME                 one dataset with its fields and lineage\n"
    "  search QUERY              full-text search (names, paths, domains, owners, descriptions, tags, fields)\n"
    "  stats                     what the file holds\n"
    "\n"
    "Online, against the API (--api URL --key KEY, or MF_API_URL and MF_API_KEY):\n"
    "  list [--namespace NS] [--domain D] [--tag T] [--limit N]\n"
    "  show NAME [--namespace NS]\n"
    "  search QUERY [--limit N]\n"
    "  lineage NAME [--namespace NS] [--depth N] [--direction up|down|both]\n"
    "  stats\n"
    "  emit FILE                 post emit events (an object, an array or NDJSON; - reads stdin)\n"
    "  export [-o FILE]          download the catalog as SQLite (-o - writes stdout)\n"
    "  import FILE [--dry-run]   merge a SQLite catalog into the tenant\n"
    "  dbt PATH | great-expectations FILE | iceberg PATH | delta PATH\n"
    "      [--namespace NS] [--name NAME] [--dry-run]\n"
    "                            import a dbt target folder, a validation result, an Iceberg\n"
    "                            metadata file or table folder, a Delta table folder\n"
    "  keys list | keys create NAME --role ROLE | keys revoke ID\n"
    "\n"
    "Options:\n"
    "  --api URL  --key KEY  --ingest URL  --catalog FILE\n"
    "  --json                    print JSON instead of tables\n"
    "  --progress                show transfer progress even when stderr is not a terminal\n"
    "  -h, --help                this text\n"
    "\n"
    "Exit codes: 0 ok, 1 API or network error, 2 bad usage, 3 not found, 4 not authorized.\n";

int cli_error(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("metafuse: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

/* A positive number option; CLI_EUSAGE when it is not one. */
static int number_option(const char *name, const char *v, long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < 1 || n > 1000000)
        return cli_error(CLI_EUSAGE, "%s must be a number from 1 to 1000000", name);
    *out = n;
    return CLI_OK;
}

/* Options anywhere on the line; the rest are the command and its arguments. */
static int parse(int argc, char **argv, cli_t *c, const char **command)
{
    static const struct {
        const char *flag;
        size_t offset;
    } string_options[] = {
        {"--api", offsetof(cli_t, api_url)},
        {"--key", offsetof(cli_t, api_key)},
        {"--ingest", offsetof(cli_t, ingest_url)},
        {"--catalog", offsetof(cli_t, catalog)},
        {"-o", offsetof(cli_t, output)},
        {"--output", offsetof(cli_t, output)},
        {"--namespace", offsetof(cli_t, namespace_)},
        {"--name", offsetof(cli_t, name)},
        {"--domain", offsetof(cli_t, domain)},
        {"--tag", offsetof(cli_t, tag)},
        {"--role", offsetof(cli_t, role)},
        {"--direction", offsetof(cli_t, direction)},
    };
    *command = NULL;
    c->args = calloc((size_t)argc, sizeof(char *));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int matched = 0;
        for (size_t k = 0; k < sizeof(string_options) / sizeof(string_options[0]); k++) {
            if (strcmp(a, string_options[k].flag) != 0)
                continue;
            if (i + 1 >= argc)
                return cli_error(CLI_EUSAGE, "%s needs a value", a);
            *(const char **)((char *)c + string_options[k].offset) = argv[++i];
            matched = 1;
        }
        if (matched)
            continue;
        if (strcmp(a, "--json") == 0)
            c->json = 1;
        else if (strcmp(a, "--progress") == 0)
            c->progress = 1;
        else if (strcmp(a, "--dry-run") == 0)
            c->dry_run = 1;
        else if (strcmp(a, "--limit") == 0 || strcmp(a, "--depth") == 0) {
            if (i + 1 >= argc)
                return cli_error(CLI_EUSAGE, "%s needs a value", a);
            if (number_option(a, argv[++i], a[2] == 'l' ? &c->limit : &c->depth) != CLI_OK)
                return CLI_EUSAGE;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            exit(CLI_OK);
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_error(CLI_EUSAGE, "unknown option %s (see metafuse --help)", a);
        } else if (*command == NULL) {
            *command = a;
        } else {
            c->args[c->nargs++] = argv[i];
        }
    }
    if (*command == NULL) {
        fputs(usage_text, stderr);
        return CLI_EUSAGE;
    }
    return CLI_OK;
}

static int run(cli_t *c, const char *command)
{
    static const struct {
        const char *name;
        int (*online)(cli_t *);
    } commands[] = {
        {"list", cli_online_list},       {"show", cli_online_show},   {"search", cli_online_search},
        {"lineage", cli_online_lineage}, {"stats", cli_online_stats}, {"emit", cli_emit},
        {"export", cli_export},          {"import", cli_import},      {"keys", cli_keys},
        {"dbt", cli_dbt},                {"great-expectations", cli_great_expectations},
        {"iceberg", cli_iceberg},        {"delta", cli_delta},
    };
    if (c->catalog != NULL)
        return cli_offline(c, command);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(command, commands[i].name) == 0)
            return cli_need_api(c) ? commands[i].online(c) : CLI_EUSAGE;
    return cli_error(CLI_EUSAGE, "unknown command %s (see metafuse --help)", command);
}

int main(int argc, char **argv)
{
    cli_t c = {0};
    c.api_url = getenv("MF_API_URL");
    c.api_key = getenv("MF_API_KEY");
    c.ingest_url = getenv("MF_INGEST_URL");
    c.progress = isatty(STDERR_FILENO);
    const char *command;
    int rc = parse(argc, argv, &c, &command);
    if (rc == CLI_OK) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        rc = run(&c, command);
        curl_global_cleanup();
    }
    free(c.args);
    return rc;
}
