/*
 * webhook.c: see webhook.h. Three parts.
 *
 * Addresses: one classification of IPv4 addresses by prefix table; an IPv6
 * address is either one of its own special ranges or, when it embeds an
 * IPv4 address (::ffff:a.b.c.d mapped, ::a.b.c.d compatible, 64:ff9b::/96
 * NAT64), the class of that address, so ::ffff:127.0.0.1 is loopback.
 *
 * URLs: parsed by libcurl's URL API (the parser the request will use, so
 * the host checked is the host contacted), then checked for scheme,
 * credentials and host; resolution is getaddrinfo over every address.
 *
 * Requests: one blocking easy handle per attempt. CURLOPT_OPENSOCKETFUNCTION
 * classifies the address libcurl is about to connect to and refuses it
 * under the policy, so what was checked is what is reached whatever DNS
 * answers in between; no proxy, no redirects, http and https only.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "mf/config.h"
#include "mf/json.h"
#include "mf/util.h"
#include "mf/webhook.h"

/* ---------- addresses ---------- */

static const struct {
    uint32_t prefix;
    int bits;
    mf_addr_class_t c;
} v4_ranges[] = {
    {0x00000000u, 8, MF_ADDR_UNSPECIFIED},  /* 0.0.0.0/8 "this network" */
    {0x7f000000u, 8, MF_ADDR_LOOPBACK},     /* 127.0.0.0/8 */
    {0x0a000000u, 8, MF_ADDR_PRIVATE},      /* 10.0.0.0/8 */
    {0xac100000u, 12, MF_ADDR_PRIVATE},     /* 172.16.0.0/12 */
    {0xc0a80000u, 16, MF_ADDR_PRIVATE},     /* 192.168.0.0/16 */
    {0xa9fe0000u, 16, MF_ADDR_LINK_LOCAL},  /* 169.254.0.0/16, with the metadata address */
    {0x64400000u, 10, MF_ADDR_CGNAT},       /* 100.64.0.0/10 */
    {0xe0000000u, 4, MF_ADDR_MULTICAST},    /* 224.0.0.0/4 */
    {0xffffffffu, 32, MF_ADDR_BROADCAST},   /* 255.255.255.255 */
    {0xf0000000u, 4, MF_ADDR_RESERVED},     /* 240.0.0.0/4 */
    {0xc0000000u, 24, MF_ADDR_RESERVED},    /* 192.0.0.0/24 protocol assignments */
    {0xc6120000u, 15, MF_ADDR_RESERVED},    /* 198.18.0.0/15 benchmarking */
};

static mf_addr_class_t v4_class(uint32_t a)
{
    for (size_t i = 0; i < MF_ARRAY_SIZE(v4_ranges); i++) {
        uint32_t mask = v4_ranges[i].bits == 0 ? 0 : 0xffffffffu << (32 - v4_ranges[i].bits);
        if ((a & mask) == v4_ranges[i].prefix)
            return v4_ranges[i].c;
    }
    return MF_ADDR_PUBLIC;
}

static uint32_t v4_at(const uint8_t *b) { return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]; }

static mf_addr_class_t v6_class(const uint8_t *b)
{
    static const uint8_t zero[12] = {0};
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (memcmp(b, zero, 12) == 0) {
        uint32_t low = v4_at(b + 12);
        if (low == 0)
            return MF_ADDR_UNSPECIFIED;
        if (low == 1)
            return MF_ADDR_LOOPBACK;
        return v4_class(low); /* IPv4-compatible ::a.b.c.d */
    }
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
        return v4_class(v4_at(b + 12));
    if (b[0] == 0xff)
        return MF_ADDR_MULTICAST;
    if ((b[0] & 0xfe) == 0xfc)
        return MF_ADDR_PRIVATE; /* fc00::/7 unique local */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return MF_ADDR_LINK_LOCAL; /* fe80::/10 */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
        return MF_ADDR_PRIVATE; /* fec0::/10, the old site-local */
    return MF_ADDR_PUBLIC;
}

mf_addr_class_t mf_webhook_addr_class(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return v4_class(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        return v6_class(in6->sin6_addr.s6_addr);
    }
    return MF_ADDR_RESERVED;
}

const char *mf_webhook_addr_class_name(mf_addr_class_t c)
{
    static const char *const names[] = {"public",      "loopback",  "private", "link-local", "unspecified",
                                        "multicast",   "broadcast", "CGNAT",   "reserved"};
    return (size_t)c < MF_ARRAY_SIZE(names) ? names[c] : "unknown";
}

int mf_webhook_policy_allows(const mf_webhook_policy_t *policy, mf_addr_class_t c)
{
    return c == MF_ADDR_PUBLIC || (c == MF_ADDR_LOOPBACK && policy->allow_loopback) ||
           (c == MF_ADDR_PRIVATE && policy->allow_private);
}

mf_webhook_policy_t mf_webhook_policy_from_config(void)
{
    mf_webhook_policy_t p = {(int)mf_config_int(MF_CFG_WEBHOOK_ALLOW_LOOPBACK),
                             (int)mf_config_int(MF_CFG_WEBHOOK_ALLOW_PRIVATE)};
    return p;
}

/* ---------- URLs and destinations ---------- */

static int fail(char *err, size_t errlen, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

/* Part `what` of a parsed URL as a new curl string (curl_free), or NULL when absent. */
static char *url_part(CURLU *u, CURLUPart what, unsigned flags)
{
    char *v = NULL;
    return curl_url_get(u, what, &v, flags) == CURLUE_OK ? v : NULL;
}

static int check_parts(CURLU *u, const mf_webhook_policy_t *policy, mf_webhook_dest_t *dest, char *err,
                       size_t errlen)
{
    char *scheme = url_part(u, CURLUPART_SCHEME, 0), *user = url_part(u, CURLUPART_USER, 0);
    char *password = url_part(u, CURLUPART_PASSWORD, 0), *host = url_part(u, CURLUPART_HOST, 0);
    char *port = url_part(u, CURLUPART_PORT, CURLU_DEFAULT_PORT);
    int rc = 0;
    if (scheme == NULL || (strcmp(scheme, "https") != 0 && (strcmp(scheme, "http") != 0 || !policy->allow_loopback)))
        rc = fail(err, errlen, MF_EINVALID_REQUEST, "url must be an https URL");
    else if (user != NULL || password != NULL)
        rc = fail(err, errlen, MF_EINVALID_REQUEST, "url must not carry credentials (user or password)");
    else if (host == NULL || host[0] == '\0' || port == NULL)
        rc = fail(err, errlen, MF_EINVALID_REQUEST, "url must name a host");
    else {
        size_t n = strlen(host);
        const char *h = host;
        if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
            h++;
            n -= 2;
        }
        if (n >= sizeof(dest->host))
            rc = fail(err, errlen, MF_EINVALID_REQUEST, "url host is too long");
        else {
            memcpy(dest->host, h, n);
            dest->host[n] = '\0';
            dest->port = atoi(port);
        }
    }
    curl_free(scheme);
    curl_free(user);
    curl_free(password);
    curl_free(host);
    curl_free(port);
    return rc;
}

int mf_webhook_url_check(const char *url, const mf_webhook_policy_t *policy, mf_webhook_dest_t *dest, char *err,
                         size_t errlen)
{
    if (strlen(url) > MF_WEBHOOK_URL_MAX)
        return fail(err, errlen, MF_EINVALID_REQUEST, "url is longer than %d characters", MF_WEBHOOK_URL_MAX);
    CURLU *u = curl_url();
    if (u == NULL)
        return fail(err, errlen, MF_EINVALID_REQUEST, "url cannot be parsed");
    int rc = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK
                 ? check_parts(u, policy, dest, err, errlen)
                 : fail(err, errlen, MF_EINVALID_REQUEST, "url is not a valid absolute URL");
    curl_url_cleanup(u);
    return rc;
}

int mf_webhook_dest_check(const mf_webhook_dest_t *dest, const mf_webhook_policy_t *policy, char *err,
                          size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char port[8];
    snprintf(port, sizeof(port), "%d", dest->port);
    if (getaddrinfo(dest->host, port, &hints, &res) != 0 || res == NULL)
        return fail(err, errlen, MF_EUNAVAILABLE, "url host %.100s does not resolve", dest->host);
    int rc = 0;
    for (struct addrinfo *ai = res; ai != NULL && rc == 0; ai = ai->ai_next) {
        mf_addr_class_t c = mf_webhook_addr_class(ai->ai_addr);
        if (!mf_webhook_policy_allows(policy, c))
            rc = fail(err, errlen, MF_EFORBIDDEN, "url host %.100s resolves to a %s address, which webhooks may not reach",
                      dest->host, mf_webhook_addr_class_name(c));
    }
    freeaddrinfo(res);
    return rc;
}

/* ---------- signature and bodies ---------- */

void mf_webhook_sign(const char *secret, long long ts, const char *body, size_t len,
                     char out[MF_WEBHOOK_SIGNATURE_MAX])
{
    char stamp[24];
    int n = snprintf(stamp, sizeof(stamp), "%lld.", ts);
    unsigned char *msg = mf_malloc((size_t)n + len);
    memcpy(msg, stamp, (size_t)n);
    memcpy(msg + n, body, len);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, (size_t)n + len, mac, &mac_len);
    free(msg);
    char hex[2 * 32 + 1]; /* SHA-256 */
    mf_hex_encode(mac, mac_len < 32 ? mac_len : 32, hex);
    snprintf(out, MF_WEBHOOK_SIGNATURE_MAX, "t=%lld,v1=%s", ts, hex);
}

/* What the event says in a few words, after its kind and dataset. */
static void slack_summary(const char *kind, json_t *detail, char *out, size_t cap)
{
    out[0] = '\0';
    if (strncmp(kind, "schema.", 7) == 0 && json_integer_value(json_object_get(detail, "to")) > 0)
        snprintf(out, cap, ": schema version %lld -> %lld", json_integer_value(json_object_get(detail, "from")),
                 json_integer_value(json_object_get(detail, "to")));
    else if (strcmp(kind, "quality.failed") == 0)
        snprintf(out, cap, ": %zu of %lld quality assertions failed", json_array_size(json_object_get(detail, "failed")),
                 json_integer_value(json_object_get(detail, "assertions")));
    else if (strcmp(kind, "contract.violation") == 0) {
        const char *contract = json_string_value(json_object_get(detail, "contract"));
        const char *first = json_string_value(json_array_get(json_object_get(detail, "violations"), 0));
        snprintf(out, cap, ": contract %.64s: %.80s", contract ? contract : "?", first ? first : "violated");
    }
}

char *mf_webhook_slack_body(const char *event_json)
{
    json_t *ev = json_loads(event_json, 0, NULL);
    if (!json_is_object(ev)) {
        json_decref(ev);
        return NULL;
    }
    const char *kind = json_string_value(json_object_get(ev, "event"));
    const char *tenant = json_string_value(json_object_get(json_object_get(ev, "tenant"), "name"));
    json_t *ds = json_object_get(ev, "dataset");
    char summary[160], text[1200];
    slack_summary(kind ? kind : "", json_object_get(ev, "detail"), summary, sizeof(summary));
    if (json_is_object(ds))
        snprintf(text, sizeof(text), "[MetaFuse %.128s] %.64s on %.400s/%.400s%s", tenant ? tenant : "",
                 kind ? kind : "event", json_string_value(json_object_get(ds, "namespace")),
                 json_string_value(json_object_get(ds, "name")), summary);
    else
        snprintf(text, sizeof(text), "[MetaFuse %.128s] %.64s%s", tenant ? tenant : "", kind ? kind : "event",
                 summary);
    json_t *body = json_pack("{s:s}", "text", text);
    size_t len;
    char *out = body != NULL ? mf_json_dump(body, &len) : NULL;
    json_decref(body);
    json_decref(ev);
    return out;
}

/* ---------- delivery ---------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ready;

static void curl_init_once(void) { curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }

typedef struct {
    const mf_webhook_policy_t *policy;
    int refused;               /* libcurl wanted an address the policy refuses */
    mf_addr_class_t refused_class;
} connect_guard_t;

/* The last word on where a delivery connects: the address itself, after any DNS answer. */
static curl_socket_t open_checked_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    connect_guard_t *g = clientp;
    mf_addr_class_t c = mf_webhook_addr_class(&addr->addr);
    if (!mf_webhook_policy_allows(g->policy, c)) {
        g->refused = 1;
        g->refused_class = c;
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

static size_t discard_body(char *data, size_t size, size_t n, void *ud) { return size * n; }

static struct curl_slist *request_headers(const char *secret, const char *event, const char *delivery_id,
                                          const char *body, size_t len)
{
    char line[160], sig[MF_WEBHOOK_SIGNATURE_MAX];
    mf_webhook_sign(secret, (long long)time(NULL), body, len, sig);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    snprintf(line, sizeof(line), "X-MetaFuse-Signature: %s", sig);
    h = h ? curl_slist_append(h, line) : NULL;
    snprintf(line, sizeof(line), "X-MetaFuse-Event: %.64s", event);
    h = h ? curl_slist_append(h, line) : NULL;
    snprintf(line, sizeof(line), "X-MetaFuse-Delivery: %.64s", delivery_id);
    return h ? curl_slist_append(h, line) : NULL;
}

static void perform(CURL *c, connect_guard_t *guard, mf_webhook_result_t *out)
{
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    CURLcode cc = curl_easy_perform(c);
    if (guard->refused) {
        out->outcome = MF_WEBHOOK_REFUSED;
        snprintf(out->error, sizeof(out->error), "refused: the destination is a %s address",
                 mf_webhook_addr_class_name(guard->refused_class));
    } else if (cc != CURLE_OK) {
        out->outcome = MF_WEBHOOK_FAILED;
        snprintf(out->error, sizeof(out->error), "%s", cerr[0] ? cerr : curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status_code);
        int ok = out->status_code >= 200 && out->status_code < 300;
        out->outcome = ok ? MF_WEBHOOK_DELIVERED : MF_WEBHOOK_FAILED;
        if (!ok)
            snprintf(out->error, sizeof(out->error), "HTTP status %ld", out->status_code);
    }
}

/* The POST itself, once the destination passed its check. */
static void post_checked(const char *url, const mf_webhook_policy_t *policy, const char *secret, const char *event,
                         const char *delivery_id, const char *body, size_t len, long timeout_ms,
                         mf_webhook_result_t *out)
{
    pthread_once(&curl_once, curl_init_once);
    CURL *c = curl_ready ? curl_easy_init() : NULL;
    struct curl_slist *headers = request_headers(secret, event, delivery_id, body, len);
    connect_guard_t guard = {policy, 0, MF_ADDR_PUBLIC};
    int setup_ok = c != NULL && headers != NULL && curl_easy_setopt(c, CURLOPT_URL, url) == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_NOPROXY, "*") == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_checked_socket) == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &guard) == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body) == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_USERAGENT, "MetaFuse-Webhooks/1") == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers) == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len) == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) == CURLE_OK;
    if (setup_ok) {
        perform(c, &guard, out);
    } else {
        out->outcome = MF_WEBHOOK_FAILED;
        snprintf(out->error, sizeof(out->error), "libcurl could not be set up");
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
}

void mf_webhook_post(const char *url, const mf_webhook_policy_t *policy, const char *secret, const char *event,
                     const char *delivery_id, const char *body, size_t len, long timeout_ms,
                     mf_webhook_result_t *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t start = mf_now_ms();
    mf_webhook_dest_t dest;
    int rc = mf_webhook_url_check(url, policy, &dest, out->error, sizeof(out->error));
    if (rc == 0)
        rc = mf_webhook_dest_check(&dest, policy, out->error, sizeof(out->error));
    if (rc == 0)
        post_checked(url, policy, secret, event, delivery_id, body, len, timeout_ms, out);
    else
        out->outcome = rc == MF_EUNAVAILABLE ? MF_WEBHOOK_FAILED : MF_WEBHOOK_REFUSED;
    out->duration_ms = (long)(mf_now_ms() - start);
}
