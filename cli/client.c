/*
 * client.c: HTTP for the metafuse CLI (libcurl easy handles, one per call).
 *
 * Small answers are collected in memory; the export is streamed into a file
 * and an import streamed from one, so neither is ever held whole. Progress
 * goes to stderr, at most ten times a second, as "export: 12.0 MiB of 40.0
 * MiB (30%)". An error answer's envelope becomes the message on stderr and
 * its status the exit code.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>
#include "cli.h"

typedef struct {
    char *buf;
    size_t len, cap;
    FILE *sink;   /* when set, 2xx bodies go here instead */
    long *status; /* known once headers arrived */
    cli_response_t *resp;
    const char *label; /* progress label */
    double last_progress;
} transfer_t;

void cli_response_free(cli_response_t *r)
{
    free(r->body);
    r->body = NULL;
}

char *cli_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *copy = strdup(e ? e : "");
    curl_free(e);
    return copy;
}

static void append(transfer_t *t, const char *data, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->buf = realloc(t->buf, t->cap);
        if (t->buf == NULL) {
            fputs("metafuse: out of memory\n", stderr);
            exit(CLI_EFAIL);
        }
    }
    memcpy(t->buf + t->len, data, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    transfer_t *t = arg;
    size_t bytes = size * n;
    if (t->sink != NULL && *t->status >= 200 && *t->status < 300)
        return fwrite(data, 1, bytes, t->sink);
    append(t, data, bytes);
    return bytes;
}

/* X-Request-ID and the file name of Content-Disposition. */
static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    transfer_t *t = arg;
    size_t len = size * n;
    char line[512];
    size_t copy = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
    memcpy(line, data, copy);
    line[copy] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    if (strncasecmp(line, "HTTP/", 5) == 0)
        *t->status = strtol(strchr(line, ' ') ? strchr(line, ' ') + 1 : "0", NULL, 10);
    else if (strncasecmp(line, "x-request-id:", 13) == 0)
        snprintf(t->resp->request_id, sizeof(t->resp->request_id), "%s", line + 13 + strspn(line + 13, " "));
    else if (strncasecmp(line, "content-disposition:", 20) == 0) {
        const char *f = strstr(line, "filename=\"");
        if (f != NULL) {
            f += 10;
            size_t flen = strcspn(f, "\"/\\");
            snprintf(t->resp->filename, sizeof(t->resp->filename), "%.*s", (int)flen, f);
        }
    }
    return len;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    transfer_t *t = arg;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    curl_off_t total = ultotal > 0 ? ultotal : dltotal, done = ultotal > 0 ? ulnow : dlnow;
    if (now - t->last_progress < 0.1 && (total == 0 || done < total))
        return 0;
    t->last_progress = now;
    if (total > 0)
        fprintf(stderr, "\r%s: %.1f MiB of %.1f MiB (%d%%)  ", t->label, (double)done / 1048576.0,
                (double)total / 1048576.0, (int)(100 * done / total));
    else if (done > 0)
        fprintf(stderr, "\r%s: %.1f MiB  ", t->label, (double)done / 1048576.0);
    return 0;
}

/* One request; f_in/size for streamed uploads, sink for streamed downloads. */
static int perform(const cli_t *c, const char *method, const char *url, const char *content_type, const char *body,
                   size_t len, FILE *f_in, long long size, FILE *sink, const char *label, cli_response_t *resp)
{
    memset(resp, 0, sizeof(*resp));
    transfer_t t = {.sink = sink, .status = &resp->status, .resp = resp, .label = label};
    CURL *h = curl_easy_init();
    struct curl_slist *headers = NULL;
    char auth[600];
    if (c->api_key != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->api_key);
        headers = curl_slist_append(headers, auth);
    }
    if (content_type != NULL) {
        char ct[128];
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        headers = curl_slist_append(headers, ct);
    }
    headers = curl_slist_append(headers, "Accept: application/json, application/vnd.sqlite3");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (f_in != NULL) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READDATA, f_in);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
    } else if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (label != NULL && c->progress) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
    }
    CURLcode rc = curl_easy_perform(h);
    if (label != NULL && c->progress && t.last_progress > 0)
        fputc('\n', stderr);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    resp->body = t.buf ? t.buf : strdup("");
    resp->len = t.len;
    if (rc != CURLE_OK) {
        cli_response_free(resp);
        return cli_error(CLI_EFAIL, "%s %s: %s", method, url, curl_easy_strerror(rc));
    }
    return CLI_OK;
}

static char *join_url(const char *base, const char *path)
{
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    char *url = malloc(n + strlen(path) + 1);
    memcpy(url, base, n);
    strcpy(url + n, path);
    return url;
}

int cli_request(const cli_t *c, const char *method, const char *base, const char *path, const char *content_type,
                const char *body, size_t len, cli_response_t *resp)
{
    char *url = join_url(base, path);
    int rc = perform(c, method, url, content_type, body, len, NULL, 0, NULL, NULL, resp);
    free(url);
    return rc;
}

int cli_fail_response(const cli_response_t *r)
{
    json_t *env = json_loads(r->body ? r->body : "", 0, NULL);
    json_t *err = json_object_get(env, "error");
    const char *msg = json_string_value(json_object_get(err, "message"));
    const char *code = json_string_value(json_object_get(err, "code"));
    int exit_code = r->status == 401 || r->status == 403 ? CLI_EAUTH : r->status == 404 ? CLI_ENOTFOUND : CLI_EFAIL;
    cli_error(exit_code, "%s (HTTP %ld %s%s%s)", msg ? msg : "the API answered an error", r->status,
              code ? code : "error", r->request_id[0] ? ", request " : "", r->request_id);
    json_decref(env);
    return exit_code;
}

int cli_call(const cli_t *c, const char *method, const char *path, json_t *body, json_t **out)
{
    cli_response_t resp;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int rc = cli_request(c, method, c->api_url, path, text ? "application/json" : NULL, text, text ? strlen(text) : 0,
                         &resp);
    free(text);
    if (rc != CLI_OK)
        return rc;
    if (resp.status < 200 || resp.status >= 300) {
        rc = cli_fail_response(&resp);
    } else {
        *out = resp.len ? json_loads(resp.body, 0, NULL) : json_null();
        if (*out == NULL)
            rc = cli_error(CLI_EFAIL, "the API answered something that is not JSON");
    }
    cli_response_free(&resp);
    return rc;
}

int cli_walk(const cli_t *c, const char *path, long want, json_t **items)
{
    *items = json_array();
    char *cursor = NULL;
    int rc;
    do {
        long left = want - (long)json_array_size(*items);
        char *esc = cursor ? cli_escape(cursor) : NULL;
        size_t cap = strlen(path) + (esc ? strlen(esc) : 0) + 48;
        char *page = malloc(cap);
        snprintf(page, cap, "%s%climit=%ld%s%s", path, strchr(path, '?') ? '&' : '?', left < 200 ? left : 200,
                 esc ? "&cursor=" : "", esc ? esc : "");
        json_t *body = NULL;
        rc = cli_call(c, "GET", page, NULL, &body);
        free(page);
        free(esc);
        free(cursor);
        cursor = NULL;
        if (rc != CLI_OK)
            break;
        json_array_extend(*items, json_object_get(body, "items"));
        const char *next = json_string_value(json_object_get(body, "next_cursor"));
        cursor = next ? strdup(next) : NULL;
        json_decref(body);
    } while (cursor != NULL && (long)json_array_size(*items) < want);
    free(cursor);
    return rc;
}

int cli_download(const cli_t *c, const char *path, FILE *f, cli_response_t *resp)
{
    char *url = join_url(c->api_url, path);
    int rc = perform(c, "GET", url, NULL, NULL, 0, NULL, 0, f, "export", resp);
    free(url);
    return rc;
}

int cli_upload(const cli_t *c, const char *path, const char *content_type, FILE *f, long long size,
               cli_response_t *resp)
{
    char *url = join_url(c->api_url, path);
    /* CURLOPT_UPLOAD sends PUT unless told otherwise */
    int rc = perform(c, "POST", url, content_type, NULL, 0, f, size, NULL, "import", resp);
    free(url);
    return rc;
}

int cli_need_api(const cli_t *c)
{
    if (c->api_url == NULL || c->api_url[0] == '\0') {
        cli_error(CLI_EUSAGE, "no API: give --api URL (or MF_API_URL), or --catalog FILE for a local export");
        return 0;
    }
    if (c->api_key == NULL || c->api_key[0] == '\0') {
        cli_error(CLI_EUSAGE, "no API key: give --key KEY (or MF_API_KEY)");
        return 0;
    }
    return 1;
}
