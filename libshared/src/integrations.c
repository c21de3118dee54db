/*
 * integrations.c: what the four decoders share (integrations.h): building
 * events and change sets, reading a table's files under the operator's root,
 * and the request part of the import routes that mf-api and mf-ingest both
 * serve.
 *
 * A request's body is copied and decoded on a worker thread
 * (mf_req_run_blocking): a large manifest costs tens of milliseconds of
 * parsing, and path mode reads files, neither of which may hold up the event
 * loop. The handler's done callback then runs on the loop thread with the
 * events, or the request is answered with the decoder's message.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "mf/catalog.h"
#include "mf/integrations.h"
#include "mf/util.h"

#define DELTA_MAX_COMMITS 100000

const char *mf_integration_source(mf_integration_kind_t kind)
{
    static const char *const names[] = {"dbt", "great_expectations", "iceberg", "delta"};
    return names[kind];
}

json_t *mf_integration__event(const char *source)
{
    return json_pack("{s:s,s:[],s:[],s:[]}", "source", source, "datasets", "lineage", "quality");
}

const char *mf_integration__ns(const mf_integration_opts_t *opts)
{
    return opts != NULL && opts->ns != NULL ? opts->ns : "default";
}

int mf_integration__add_dataset(json_t *event, json_t *body, json_t *facets, const char *revision, const char *where,
                                mf_json_err_t *err)
{
    json_t *cs = mf_catalog_changeset_from_json(body, NULL, NULL, err);
    if (cs == NULL) {
        char inner[sizeof(err->msg)];
        snprintf(inner, sizeof(inner), "%s", err->msg);
        return mf_json_fail(err, "%s: %s", where, inner);
    }
    if (json_array_size(json_object_get(event, "datasets")) >= MF_INTEGRATION_MAX_DATASETS) {
        json_decref(cs);
        return mf_json_fail(err, "an import writes at most %d datasets", MF_INTEGRATION_MAX_DATASETS);
    }
    if (facets != NULL)
        json_object_set(cs, "facets", facets);
    if (revision != NULL)
        json_object_set_new(cs, "revision", json_string(revision));
    json_array_append_new(json_object_get(event, "datasets"), cs);
    return 0;
}

json_t *mf_integration__tag(const char *text)
{
    char tag[MF_TAG_MAX + 1];
    size_t n = 0;
    for (const char *p = text; *p != '\0' && n < MF_TAG_MAX; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("_.:/-", c);
        tag[n++] = ok ? c : '-';
    }
    tag[n] = '\0';
    return n > 0 ? json_string(tag) : NULL;
}

void mf_integration__uuid(const char *text, char out[37])
{
    char hex[65];
    mf_sha256_hex(text, strlen(text), hex);
    hex[12] = '5'; /* the layout of a name-based UUID: version 5, RFC 4122 variant */
    hex[16] = "89ab"[hex[16] % 4];
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

const char *mf_integration__str(json_t *obj, const char *key, size_t max)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
        !mf_text_is_clean(json_string_value(v), json_string_length(v), 1))
        return NULL;
    return json_string_value(v);
}

void mf_integration__ms_time(long long ms, char out[32])
{
    if (ms < 0 || ms > 253402300799999LL) /* beyond 9999-12-31: not a time */
        ms = 0;
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char day[24];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%.19s.%03dZ", day, (int)(ms % 1000));
}

json_t *mf_integration__ndjson(const char *p, size_t len, const char *where, mf_json_err_t *err)
{
    json_t *arr = json_array();
    const char *end = p + len;
    size_t line = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *stop = nl ? nl : end;
        line++;
        if (stop > p && !(stop - p == 1 && p[0] == '\r')) {
            json_t *v = mf_json_parse_object(p, (size_t)(stop - p), err);
            if (v == NULL) {
                char inner[sizeof(err->msg)];
                snprintf(inner, sizeof(inner), "%s", err->msg);
                mf_json_fail(err, "%s line %zu: %s", where, line, inner);
                json_decref(arr);
                return NULL;
            }
            json_array_append_new(arr, v);
        }
        p = stop + 1;
    }
    return arr;
}

/* ---------- nested types ---------- */

#define TYPE_DEPTH 16

typedef struct {
    char buf[MF_NAME_MAX + 1];
    size_t len;
    int overflow;
} type_buf_t;

static void put(type_buf_t *t, const char *s)
{
    size_t n = strlen(s);
    if (t->len + n > MF_NAME_MAX) {
        t->overflow = 1;
        return;
    }
    memcpy(t->buf + t->len, s, n + 1);
    t->len += n;
}

static int type_into(json_t *type, const mf_integration_types_t *names, type_buf_t *t, int depth, const char *where,
                     mf_json_err_t *err)
{
    if (json_is_string(type)) {
        put(t, json_string_value(type));
        return 0;
    }
    const char *kind = mf_integration__str(type, "type", 16);
    if (depth >= TYPE_DEPTH || kind == NULL)
        return mf_json_fail(err, "%s: a type is a name or a struct, %s or map object (at most %d deep)", where,
                            names->list, TYPE_DEPTH);
    if (strcmp(kind, "struct") == 0) {
        put(t, "struct<");
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(type, "fields"), i, f)
        {
            const char *name = mf_integration__str(f, "name", MF_NAME_MAX);
            if (name == NULL)
                return mf_json_fail(err, "%s: a struct field needs a name", where);
            put(t, i ? ", " : "");
            put(t, name);
            put(t, ": ");
            if (type_into(json_object_get(f, "type"), names, t, depth + 1, where, err) != 0)
                return MF_EINVALID_REQUEST;
        }
        put(t, ">");
        return 0;
    }
    int list = strcmp(kind, names->list) == 0, map = strcmp(kind, "map") == 0;
    if (!list && !map)
        return mf_json_fail(err, "%s: unknown type \"%.40s\"", where, kind);
    put(t, list ? names->list : "map");
    put(t, "<");
    if (type_into(json_object_get(type, list ? names->element : names->key), names, t, depth + 1, where, err) != 0)
        return MF_EINVALID_REQUEST;
    if (map) {
        put(t, ", ");
        if (type_into(json_object_get(type, names->value), names, t, depth + 1, where, err) != 0)
            return MF_EINVALID_REQUEST;
    }
    put(t, ">");
    return 0;
}

json_t *mf_integration__type_text(json_t *type, const mf_integration_types_t *names, const char *where,
                                  mf_json_err_t *err)
{
    type_buf_t t = {"", 0, 0};
    if (type_into(type, names, &t, 0, where, err) != 0)
        return NULL;
    if (t.overflow || t.len == 0) {
        mf_json_fail(err, "%s: the type must be 1-%d characters", where, MF_NAME_MAX);
        return NULL;
    }
    return json_string(t.buf);
}

/* ---------- reading the operator's folder ---------- */

/* a/b into out (PATH_MAX); 0, or -1 when it does not fit (then out is empty and opening it fails). */
static int join(char out[PATH_MAX], const char *a, const char *b)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", a, b);
    if (n < 0 || n >= PATH_MAX) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

/* The file at path (at most *budget bytes, which it lowers) as a new string with *len. */
static char *read_file(const char *path, size_t *budget, size_t *len, mf_json_err_t *err)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        mf_json_fail(err, "%s is not a readable file", strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
        return NULL;
    }
    if ((size_t)st.st_size > *budget) {
        close(fd);
        mf_json_fail(err, "the table's files are larger than %d bytes", MF_INTEGRATION_MAX_READ);
        return NULL;
    }
    char *buf = mf_malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *budget -= got;
    *len = got;
    return buf;
}

static json_t *load_json_file(const char *path, size_t *budget, mf_json_err_t *err)
{
    size_t len;
    char *text = read_file(path, budget, &len, err);
    if (text == NULL)
        return NULL;
    json_t *doc = mf_json_parse_object(text, len, err);
    free(text);
    return doc;
}

/* The leading number of an Iceberg metadata file name ("v12.metadata.json", "00012-<uuid>.metadata.json"). */
static long long metadata_number(const char *name)
{
    const char *p = name[0] == 'v' ? name + 1 : name;
    long long n = 0;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9' && n < 1000000000000LL; p++)
        n = n * 10 + (*p - '0');
    return n;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

/* The newest metadata file of an Iceberg table folder into out. */
static int iceberg_metadata_file(const char *dir, char out[PATH_MAX], size_t *budget, mf_json_err_t *err)
{
    char meta[PATH_MAX], hint[PATH_MAX];
    struct stat st;
    if (join(meta, dir, "metadata") != 0 || stat(meta, &st) != 0 || !S_ISDIR(st.st_mode))
        snprintf(meta, sizeof(meta), "%s", dir);
    if (join(hint, meta, "version-hint.text") == 0 && stat(hint, &st) == 0) {
        size_t len;
        char *text = read_file(hint, budget, &len, err);
        long long v;
        if (text == NULL)
            return MF_EINVALID_REQUEST;
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
            len--;
        int rc = mf_parse_int(text, len, 0, 1000000000000LL, &v);
        free(text);
        if (rc != 0)
            return mf_json_fail(err, "version-hint.text must hold a version number");
        char file[64];
        snprintf(file, sizeof(file), "v%lld.metadata.json", v);
        return join(out, meta, file) == 0 ? 0 : mf_json_fail(err, "the table's path is too long");
    }
    DIR *d = opendir(meta);
    if (d == NULL)
        return mf_json_fail(err, "the path is not an Iceberg table folder");
    long long best = -1;
    char best_name[256] = "";
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long long n = metadata_number(e->d_name);
        if (ends_with(e->d_name, ".metadata.json") && n >= 0 &&
            (n > best || (n == best && strcmp(e->d_name, best_name) > 0))) {
            best = n;
            snprintf(best_name, sizeof(best_name), "%s", e->d_name);
        }
    }
    closedir(d);
    if (best < 0)
        return mf_json_fail(err, "no *.metadata.json in the table's metadata folder");
    return join(out, meta, best_name) == 0 ? 0 : mf_json_fail(err, "the table's path is too long");
}

static int by_version(const void *a, const void *b)
{
    long long x = json_integer_value(json_object_get(*(json_t *const *)a, "version"));
    long long y = json_integer_value(json_object_get(*(json_t *const *)b, "version"));
    return (x > y) - (x < y);
}

/* A Delta table folder's commits (NNNNNNNNNNNNNNNNNNNN.json under _delta_log), in version order. */
static json_t *delta_commits(const char *dir, size_t *budget, mf_json_err_t *err)
{
    char log[PATH_MAX];
    const char *base = strrchr(dir, '/');
    if (base != NULL && strcmp(base + 1, "_delta_log") == 0)
        snprintf(log, sizeof(log), "%s", dir);
    else
        join(log, dir, "_delta_log");
    DIR *d = opendir(log);
    if (d == NULL) {
        mf_json_fail(err, "the path is not a Delta table folder (no _delta_log)");
        return NULL;
    }
    json_t *list = json_array();
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long long v;
        if (strlen(e->d_name) != 25 || !ends_with(e->d_name, ".json") || mf_parse_int(e->d_name, 20, 0, LLONG_MAX, &v) != 0)
            continue;
        if (json_array_size(list) >= DELTA_MAX_COMMITS) {
            mf_json_fail(err, "the log has more than %d commits", DELTA_MAX_COMMITS);
            goto bad;
        }
        json_array_append_new(list, json_pack("{s:I,s:s}", "version", (json_int_t)v, "file", e->d_name));
    }
    closedir(d);
    d = NULL;
    size_t n = json_array_size(list);
    json_t **items = mf_calloc(n ? n : 1, sizeof(*items));
    for (size_t i = 0; i < n; i++)
        items[i] = json_array_get(list, i);
    qsort(items, n, sizeof(*items), by_version);
    json_t *commits = json_array();
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        size_t len;
        join(path, log, json_string_value(json_object_get(items[i], "file")));
        char *text = read_file(path, budget, &len, err);
        if (text == NULL) {
            free(items);
            json_decref(commits);
            goto bad;
        }
        json_array_append_new(commits, json_pack("{s:O,s:s%}", "version", json_object_get(items[i], "version"),
                                                 "content", text, len));
        free(text);
    }
    free(items);
    json_decref(list);
    return commits;
bad:
    if (d != NULL)
        closedir(d);
    json_decref(list);
    return NULL;
}

/* A dbt target folder: {"manifest", "run_results"?, "catalog"?} from its files. */
static json_t *dbt_target(const char *dir, size_t *budget, mf_json_err_t *err)
{
    static const char *const files[][2] = {{"manifest", "manifest.json"}, {"run_results", "run_results.json"},
                                           {"catalog", "catalog.json"}};
    json_t *out = json_object();
    for (size_t i = 0; i < MF_ARRAY_SIZE(files); i++) {
        char path[PATH_MAX];
        struct stat st;
        if (join(path, dir, files[i][1]) != 0 || (i > 0 && stat(path, &st) != 0))
            continue; /* manifest.json is required: its absence is reported below */
        json_t *doc = load_json_file(path, budget, err);
        if (doc == NULL) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, files[i][0], doc);
    }
    return out;
}

/* realpath of root/tenant/rel into out, refusing anything that resolves outside root/tenant. */
static int resolve_under(const char *root, const char *tenant_id, const char *rel, char out[PATH_MAX],
                         mf_json_err_t *err)
{
    char base_in[PATH_MAX], base[PATH_MAX], full[PATH_MAX];
    if (!mf_is_uuid(tenant_id, strlen(tenant_id))) /* the platform key has none: no folder is its own */
        return mf_json_fail(err, "only a tenant's credentials read from the integrations folder");
    if (rel[0] == '/' || !mf_text_is_clean(rel, strlen(rel), 0))
        return mf_json_fail(err, "path must be relative to your tenant's integrations folder");
    if (join(base_in, root, tenant_id) != 0 || realpath(base_in, base) == NULL)
        return mf_json_fail(err, "your tenant has no integrations folder on this server");
    if (join(full, base, rel) != 0 || realpath(full, out) == NULL)
        return mf_json_fail(err, "path \"%.200s\" does not exist", rel);
    size_t n = strlen(base);
    if (strncmp(out, base, n) != 0 || (out[n] != '/' && out[n] != '\0'))
        return mf_json_fail(err, "path \"%.200s\" leads outside your tenant's integrations folder", rel);
    return 0;
}

int mf_integration_read_local(mf_integration_kind_t kind, const char *path, json_t **out, mf_json_err_t *err)
{
    char file[PATH_MAX];
    size_t budget = MF_INTEGRATION_MAX_READ;
    struct stat st;
    *out = NULL;
    int dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    if (kind == MF_INTEGRATION_DELTA) {
        if (!dir)
            return mf_json_fail(err, "path must name a Delta table folder");
        *out = delta_commits(path, &budget, err);
    } else if (kind == MF_INTEGRATION_DBT && dir) {
        *out = dbt_target(path, &budget, err);
    } else if (kind == MF_INTEGRATION_ICEBERG && dir) {
        if (iceberg_metadata_file(path, file, &budget, err) != 0)
            return MF_EINVALID_REQUEST;
        *out = load_json_file(file, &budget, err);
    } else {
        *out = load_json_file(path, &budget, err);
    }
    return *out != NULL ? 0 : MF_EINVALID_REQUEST;
}

int mf_integration_read_path(mf_integration_kind_t kind, const char *root, const char *tenant_id, const char *rel,
                             json_t **out, mf_json_err_t *err)
{
    char real[PATH_MAX];
    *out = NULL;
    if (resolve_under(root, tenant_id, rel, real, err) != 0)
        return MF_ENOT_FOUND;
    return mf_integration_read_local(kind, real, out, err);
}

/* ---------- the request ---------- */

typedef struct {
    mf_integration_kind_t kind;
    mf_integration_done_fn done;
    char *body; /* a copy: the worker thread may outlive the client's request */
    size_t len;
    int ndjson;
    char *root, *ns, *name, tenant_id[40];
    json_t *events;
    int status;
    mf_json_err_t err;
} import_t;

static void import_free(void *p)
{
    import_t *im = p;
    free(im->body);
    free(im->root);
    free(im->ns);
    free(im->name);
    json_decref(im->events);
    free(im);
}

static json_t *decode(mf_integration_kind_t kind, json_t *doc, const mf_integration_opts_t *opts, mf_json_err_t *err)
{
    switch (kind) {
    case MF_INTEGRATION_DBT:
        return mf_integration_from_dbt(doc, opts, err);
    case MF_INTEGRATION_GREAT_EXPECTATIONS:
        return mf_integration_from_ge(doc, opts, err);
    case MF_INTEGRATION_ICEBERG:
        return mf_integration_from_iceberg(doc, opts, err);
    case MF_INTEGRATION_DELTA:
        if (json_is_object(doc)) {
            static const char *const allowed[] = {"commits", NULL};
            json_t *commits;
            if (mf_json_only_fields(doc, "", allowed, err) != 0 ||
                mf_json_array(doc, "", "commits", MF_JSON_REQUIRED, DELTA_MAX_COMMITS, &commits, err) != 0)
                return NULL;
            return mf_integration_from_delta(commits, opts, err);
        }
        return mf_integration_from_delta(doc, opts, err);
    }
    return NULL;
}

/* On a worker thread: the body (or the files it names) into events. */
static void import_work(void *arg)
{
    import_t *im = arg;
    mf_integration_opts_t opts = {im->ns, im->name};
    json_t *doc = NULL;
    im->status = MF_EINVALID_REQUEST;
    if (im->ndjson) {
        doc = mf_integration__ndjson(im->body, im->len, "NDJSON body", &im->err);
    } else {
        json_error_t je;
        doc = json_loadb(im->body, im->len, JSON_REJECT_DUPLICATES, &je);
        if (doc == NULL) {
            mf_json_fail(&im->err, "request body is not valid JSON: %.200s (line %d)", je.text, je.line);
            im->status = MF_EINVALID_JSON;
            return;
        }
    }
    if (doc == NULL)
        return;
    json_t *path = json_object_get(doc, "path");
    if (json_is_object(doc) && path != NULL) {
        json_t *read = NULL;
        if (json_object_size(doc) != 1 || !json_is_string(path))
            mf_json_fail(&im->err, "a path import is {\"path\": \"<relative path>\"} and nothing else");
        else if (im->root[0] == '\0')
            mf_json_fail(&im->err, "this server reads no paths (MF_INTEGRATIONS_ROOT is not set): upload the "
                                   "document instead");
        else
            im->status = mf_integration_read_path(im->kind, im->root, im->tenant_id, json_string_value(path), &read,
                                                  &im->err);
        json_decref(doc);
        if (read == NULL) /* status: read_path's error, or invalid_request */
            return;
        doc = read;
        im->status = MF_EINVALID_REQUEST; /* for the decoder's refusal */
    }
    if (!json_is_object(doc) && !(im->kind == MF_INTEGRATION_DELTA && json_is_array(doc)))
        mf_json_fail(&im->err, "request body must be a JSON object%s",
                     im->kind == MF_INTEGRATION_DELTA ? " or an array of commits" : "");
    else
        im->events = decode(im->kind, doc, &opts, &im->err);
    json_decref(doc);
}

static void import_done(mf_req_t *r)
{
    import_t *im = mf_req_data(r);
    if (im->events == NULL) {
        mf_respond_error(r, im->status, "%s", im->err.msg);
        return;
    }
    json_t *events = im->events;
    mf_integration_kind_t kind = im->kind;
    mf_integration_done_fn done = im->done;
    im->events = NULL;
    /* done may keep data of its own on the request (mf_ingest_enqueue does): ours is finished */
    mf_req_set_data(r, NULL, NULL);
    import_free(im);
    done(r, kind, events);
}

/* An optional name-valued query parameter into *out (new string or NULL); answers 400 itself. */
static int query_name_or_respond(mf_req_t *r, const char *key, char **out)
{
    const char *v = mf_req_query(r, key);
    *out = NULL;
    if (v == NULL || v[0] == '\0')
        return 0;
    if (!mf_catalog_name_ok(v)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s must be a name of 1-512 printable characters", key);
        return MF_EINVALID_REQUEST;
    }
    *out = mf_strdup(v);
    return 0;
}

void mf_integration_decode_request(mf_req_t *r, mf_integration_kind_t kind, const char *root,
                                   mf_integration_done_fn done)
{
    size_t len;
    const char *ctype;
    const char *body = mf_req_raw_body(r, &len, &ctype);
    int ndjson = strcmp(ctype, "application/x-ndjson") == 0 || strcmp(ctype, "application/jsonl") == 0;
    if (len == 0) {
        mf_respond_error(r, MF_EINVALID_JSON, "request body is required");
        return;
    }
    if (ndjson && kind != MF_INTEGRATION_DELTA) {
        mf_respond_error(r, MF_EUNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json (NDJSON is for "
                                                        "Delta commits)");
        return;
    }
    import_t *im = mf_calloc(1, sizeof(*im));
    mf_req_set_data(r, im, import_free);
    if (query_name_or_respond(r, "namespace", &im->ns) != 0 || query_name_or_respond(r, "name", &im->name) != 0)
        return;
    im->kind = kind;
    im->done = done;
    im->body = mf_malloc(len);
    memcpy(im->body, body, len);
    im->len = len;
    im->ndjson = ndjson;
    im->root = mf_strdup(root != NULL ? root : "");
    snprintf(im->tenant_id, sizeof(im->tenant_id), "%s", mf_req_identity(r)->tenant_id);
    mf_req_run_blocking(r, import_work, im, import_done);
}
