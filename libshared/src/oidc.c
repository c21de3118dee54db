/*
 * oidc.c: see oidc.h. The OpenID Connect relying party in three parts.
 *
 * HTTP: one blocking libcurl easy handle per call (curl_global_init once
 * through pthread_once), http and https only, CURLOPT_NOSIGNAL for threads,
 * the MF_OIDC_HTTP_TIMEOUT_MS budget for connect and total time, and bodies
 * over 1 MiB cut off in the write callback. GETs (discovery, JWKS) follow at
 * most 3 redirects; the token POST follows none.
 *
 * Cache: one array of providers behind one mutex, keyed by issuer, each with
 * its metadata, its JWKS and a lazily built EVP_PKEY per JWK. Network calls
 * never happen under the mutex: a refresh fetches first and swaps the result
 * in. A verification holds a reference to its provider entry and one to its
 * key (EVP_PKEY_up_ref, taken under the mutex) and checks the signature
 * outside the mutex, so a concurrent refresh, eviction or
 * mf_oidc_cache_clear never frees what is in use.
 *
 * ID tokens: parsed here, never by libjwt. The token is split into exactly
 * three canonical base64url parts, the header's alg must be RS256 or ES256,
 * the key is the issuer's JWK with the header's kid (its kty, alg, use and
 * size checked), built with OSSL_PARAM_BLD + EVP_PKEY_fromdata, and the
 * signature checked with EVP_DigestVerify (ES256's raw r||s is turned into
 * DER first). The claims are read only after the signature verified.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include "mf/config.h"
#include "mf/oidc.h"
#include "mf/util.h"

#define OIDC_HTTP_MAX (1024 * 1024)  /* largest reply body accepted */
#define OIDC_JWKS_MAX_KEYS 100       /* more keys than this: not a JWK set we accept */
#define OIDC_PROVIDERS_MAX 256       /* cached issuers; the oldest is dropped beyond */
#define OIDC_REFETCH_MIN_MS 10000    /* at most one JWKS refetch for an unknown kid per issuer per 10 s */
#define OIDC_CODE_MAX 4096           /* longest authorization code sent on */
#define OIDC_AUD_MAX 32              /* most entries in an aud array */
#define OIDC_TIME_MAX 253402300799.0 /* 9999-12-31T23:59:59Z: larger times are nonsense */
#define OIDC_UNKNOWN_KID 1           /* internal result: no JWK has the token's kid */

enum { ALG_RS256 = 1, ALG_ES256 = 2 };

/* ---------- small helpers ---------- */

/* Write a message into err and return code. */
__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Untrusted text s made printable ASCII (others '?') and cut at 80 bytes ("..."), into out. */
static const char *shown(char out[96], const char *s)
{
    size_t o = 0, i = 0;
    if (s == NULL)
        s = "(null)";
    for (; s[i] != '\0' && o < 80; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = (char)(c >= 0x20 && c < 0x7f ? c : '?');
    }
    if (s[i] != '\0') {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Decode canonical base64url: alphabet only, no padding, unused trailing bits
 * zero (so each byte string has one encoding). New buffer and *outlen, or NULL. */
static unsigned char *b64url_decode_strict(const char *s, size_t len, size_t *outlen)
{
    if (len % 4 == 1)
        return NULL;
    for (size_t i = 0; i < len; i++)
        if (b64url_value((unsigned char)s[i]) < 0)
            return NULL;
    if (len > 0) {
        int last = b64url_value((unsigned char)s[len - 1]);
        if ((len % 4 == 2 && (last & 0x0f) != 0) || (len % 4 == 3 && (last & 0x03) != 0))
            return NULL;
    }
    return mf_base64url_decode(s, len, outlen);
}

/* 1 when s is an http(s) URL of at most MF_OIDC_URL_MAX - 1 bytes, without
 * spaces or control characters (and, when strict, without query or fragment). */
static int is_http_url(const char *s, int strict)
{
    size_t n = strnlen(s, MF_OIDC_URL_MAX);
    size_t scheme = strncmp(s, "https://", 8) == 0 ? 8 : strncmp(s, "http://", 7) == 0 ? 7 : 0;
    if (scheme == 0 || n == MF_OIDC_URL_MAX || n == scheme)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || (strict && (c == '?' || c == '#')))
            return 0;
    }
    return 1;
}

/* ---------- PKCE, state and nonce ---------- */

void mf_oidc_pkce_challenge(const char *verifier, char challenge[44])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_Digest(verifier, strlen(verifier), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != sizeof(md))
        mf_panic(__FILE__, __LINE__, "sha256 failed");
    char *b = mf_base64url_encode(md, sizeof(md));
    MF_ASSERT(strlen(b) == 43);
    memcpy(challenge, b, 44);
    free(b);
}

void mf_oidc_random_b64url(size_t nbytes, char *out)
{
    unsigned char buf[64];
    MF_ASSERT(nbytes >= 1 && nbytes <= sizeof(buf));
    mf_random_bytes(buf, nbytes);
    char *b = mf_base64url_encode(buf, nbytes);
    memcpy(out, b, MF_OIDC_B64URL_LEN(nbytes) + 1);
    free(b);
}

void mf_oidc_pkce(char verifier[44], char challenge[44])
{
    mf_oidc_random_b64url(32, verifier);
    mf_oidc_pkce_challenge(verifier, challenge);
}

/* ---------- HTTP ---------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ready;

static void curl_init_once(void) { curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }

typedef struct {
    char *buf; /* NUL-terminated, new */
    size_t len, cap;
    int too_big;
} body_t;

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    body_t *b = ud;
    size_t add = size * n;
    if (add > OIDC_HTTP_MAX - b->len) {
        b->too_big = 1;
        return 0; /* curl aborts with CURLE_WRITE_ERROR */
    }
    if (b->len + add + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + add + 1)
            cap *= 2;
        b->buf = mf_realloc(b->buf, cap);
        b->cap = cap;
    }
    memcpy(b->buf + b->len, data, add);
    b->len += add;
    b->buf[b->len] = '\0';
    return add;
}

/* One request to url: a GET, or a form POST when form is non-NULL (with
 * authz as the Authorization header value when non-NULL). On 0, *status and
 * *body (new buf, free) hold the reply, whatever its status. what names the
 * call in messages ("discovery at <url>"). MF_EUNAVAILABLE on transport errors. */
static int http_call(const char *what, const char *url, const char *form, const char *authz, long *status,
                     body_t *body, char *err, size_t errlen)
{
    char show[96];
    memset(body, 0, sizeof(*body));
    pthread_once(&curl_once, curl_init_once);
    if (!curl_ready)
        return fail(err, errlen, MF_EUNAVAILABLE, "%s failed: libcurl did not initialise", what);
    CURL *c = curl_easy_init();
    if (c == NULL)
        return fail(err, errlen, MF_EUNAVAILABLE, "%s failed: curl_easy_init", what);

    char cerr[CURL_ERROR_SIZE] = "";
    long timeout_ms = (long)mf_config_int(MF_CFG_OIDC_HTTP_TIMEOUT_MS);
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
    char *authz_header = NULL;
    if (authz != NULL) {
        size_t n = strlen("Authorization: ") + strlen(authz) + 1;
        authz_header = mf_malloc(n);
        snprintf(authz_header, n, "Authorization: %s", authz);
        headers = curl_slist_append(headers, authz_header);
    }
    int setup_ok = headers != NULL && curl_easy_setopt(c, CURLOPT_URL, url) == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, form == NULL ? 1L : 0L) == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L) == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)OIDC_HTTP_MAX) == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_WRITEDATA, body) == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr) == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_USERAGENT, "MetaFuse-OIDC/1") == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers) == CURLE_OK;
    if (setup_ok && form != NULL)
        setup_ok = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(form)) == CURLE_OK &&
                   curl_easy_setopt(c, CURLOPT_POSTFIELDS, form) == CURLE_OK;

    int rc = 0;
    if (!setup_ok) {
        rc = fail(err, errlen, MF_EUNAVAILABLE, "%s failed: libcurl refused an option", what);
    } else {
        CURLcode cc = curl_easy_perform(c);
        if (body->too_big || cc == CURLE_FILESIZE_EXCEEDED) {
            rc = fail(err, errlen, MF_EUNAVAILABLE, "%s failed: reply larger than %d bytes", what, OIDC_HTTP_MAX);
        } else if (cc != CURLE_OK) {
            rc = fail(err, errlen, MF_EUNAVAILABLE, "%s failed: %s", what,
                      shown(show, cerr[0] ? cerr : curl_easy_strerror(cc)));
        } else if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status) != CURLE_OK) {
            rc = fail(err, errlen, MF_EUNAVAILABLE, "%s failed: no HTTP status", what);
        }
    }
    curl_slist_free_all(headers);
    if (authz_header != NULL) {
        OPENSSL_cleanse(authz_header, strlen(authz_header));
        free(authz_header);
    }
    curl_easy_cleanup(c);
    if (rc != 0) {
        free(body->buf);
        memset(body, 0, sizeof(*body));
    } else if (body->buf == NULL) {
        body->buf = mf_strdup("");
    }
    return rc;
}

/* GET url and parse its 2xx reply as a JSON object: *out new reference. */
static int get_json(const char *what, const char *url, json_t **out, char *err, size_t errlen)
{
    long status = 0;
    body_t body;
    int rc = http_call(what, url, NULL, NULL, &status, &body, err, errlen);
    if (rc != 0)
        return rc;
    json_error_t je;
    json_t *doc = NULL;
    if (status < 200 || status > 299)
        rc = fail(err, errlen, MF_EUNAVAILABLE, "%s failed: HTTP %ld", what, status);
    else if ((doc = json_loadb(body.buf, body.len, JSON_REJECT_DUPLICATES, &je)) == NULL || !json_is_object(doc))
        rc = fail(err, errlen, MF_EUNAVAILABLE, "%s failed: the reply is not a JSON object", what);
    free(body.buf);
    if (rc != 0) {
        json_decref(doc);
        return rc;
    }
    *out = doc;
    return 0;
}

/* ---------- provider metadata and JWKS ---------- */

/* Copy the string member key of doc, an http(s) URL, into out; "" when absent and optional. */
static int meta_url(json_t *doc, const char *key, int required, char out[MF_OIDC_URL_MAX], const char *what,
                    char *err, size_t errlen)
{
    json_t *v = json_object_get(doc, key);
    out[0] = '\0';
    if (v == NULL && !required)
        return 0;
    if (!json_is_string(v) || !is_http_url(json_string_value(v), 0))
        return fail(err, errlen, MF_EUNAVAILABLE, "%s: %s is %s", what, key,
                    v == NULL ? "missing" : "not an http(s) URL under 1024 bytes");
    memcpy(out, json_string_value(v), strlen(json_string_value(v)) + 1);
    return 0;
}

/* Fetch and check issuer's discovery document into *meta. */
static int fetch_meta(const char *issuer, mf_oidc_meta_t *meta, char *err, size_t errlen)
{
    char url[MF_OIDC_URL_MAX + 64], what[MF_OIDC_URL_MAX + 96], show[96], show2[96];
    size_t n = strlen(issuer);
    if (n > 0 && issuer[n - 1] == '/')
        n--;
    snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration", (int)n, issuer);
    snprintf(what, sizeof(what), "discovery at %s", url);
    json_t *doc = NULL;
    int rc = get_json(what, url, &doc, err, errlen);
    if (rc != 0)
        return rc;
    json_t *iss = json_object_get(doc, "issuer");
    memset(meta, 0, sizeof(*meta));
    if (!json_is_string(iss) || strcmp(json_string_value(iss), issuer) != 0)
        rc = fail(err, errlen, MF_EUNAVAILABLE, "%s names issuer %s, expected %s", what,
                  json_is_string(iss) ? shown(show, json_string_value(iss)) : "(none)", shown(show2, issuer));
    else if ((rc = meta_url(doc, "authorization_endpoint", 1, meta->authorization_endpoint, what, err, errlen)) == 0 &&
             (rc = meta_url(doc, "token_endpoint", 1, meta->token_endpoint, what, err, errlen)) == 0 &&
             (rc = meta_url(doc, "jwks_uri", 1, meta->jwks_uri, what, err, errlen)) == 0 &&
             (rc = meta_url(doc, "end_session_endpoint", 0, meta->end_session_endpoint, what, err, errlen)) == 0)
        memcpy(meta->issuer, issuer, strlen(issuer) + 1);
    json_decref(doc);
    return rc;
}

/* Fetch the JWK set at url: *out new reference, an object whose "keys" is an
 * array of at most OIDC_JWKS_MAX_KEYS objects. */
static int fetch_jwks(const char *url, json_t **out, char *err, size_t errlen)
{
    char what[MF_OIDC_URL_MAX + 32];
    snprintf(what, sizeof(what), "jwks at %s", url);
    json_t *doc = NULL;
    int rc = get_json(what, url, &doc, err, errlen);
    if (rc != 0)
        return rc;
    json_t *keys = json_object_get(doc, "keys");
    size_t i;
    json_t *k;
    int ok = json_is_array(keys) && json_array_size(keys) <= OIDC_JWKS_MAX_KEYS;
    if (ok)
        json_array_foreach(keys, i, k) ok = ok && json_is_object(k);
    if (!ok) {
        json_decref(doc);
        return fail(err, errlen, MF_EUNAVAILABLE, "%s failed: not a JWK set (a \"keys\" array of at most %d objects)",
                    what, OIDC_JWKS_MAX_KEYS);
    }
    *out = doc;
    return 0;
}

/* ---------- keys ---------- */

/* The first JWK of jwks with kid whose kty fits alg: 0 and *index; OIDC_UNKNOWN_KID when no
 * JWK has kid; MF_EUNAUTHORIZED when some have it but none of the right kty. */
static int jwk_find(const json_t *jwks, const char *kid, int alg, size_t *index, char *err, size_t errlen)
{
    char show[96];
    json_t *keys = json_object_get(jwks, "keys");
    const char *kty_want = alg == ALG_RS256 ? "RSA" : "EC";
    int seen = 0;
    for (size_t i = 0; json_is_array(keys) && i < json_array_size(keys); i++) {
        json_t *k = json_array_get(keys, i);
        json_t *id = json_object_get(k, "kid");
        if (!json_is_string(id) || strcmp(json_string_value(id), kid) != 0)
            continue;
        seen = 1;
        json_t *kty = json_object_get(k, "kty");
        if (json_is_string(kty) && strcmp(json_string_value(kty), kty_want) == 0) {
            *index = i;
            return 0;
        }
    }
    if (seen)
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token key %s is not an %s key", shown(show, kid), kty_want);
    return fail(err, errlen, OIDC_UNKNOWN_KID, "id token signed with unknown key %s", shown(show, kid));
}

/* The JWK's own restrictions: alg, if present, equals the token's; use, if present, is sig. */
static int jwk_check(const json_t *jwk, const char *kid, const char *alg, char *err, size_t errlen)
{
    char show[96], show2[96];
    json_t *a = json_object_get(jwk, "alg"), *use = json_object_get(jwk, "use");
    if (a != NULL && (!json_is_string(a) || strcmp(json_string_value(a), alg) != 0))
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token key %s is for algorithm %s, not %s", shown(show, kid),
                    json_is_string(a) ? shown(show2, json_string_value(a)) : "(not a string)", alg);
    if (use != NULL && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0))
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token key %s is not a signing key (use)", shown(show, kid));
    return 0;
}

/* The base64url member key of jwk decoded: new buffer and *len, or NULL. */
static unsigned char *jwk_bytes(const json_t *jwk, const char *key, size_t *len)
{
    json_t *v = json_object_get(jwk, key);
    if (!json_is_string(v))
        return NULL;
    return b64url_decode_strict(json_string_value(v), json_string_length(v), len);
}

/* An EVP_PKEY of type ("RSA", "EC") with the public parameters of bld; NULL on failure. */
static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = params ? EVP_PKEY_CTX_new_from_name(NULL, type, NULL) : NULL;
    EVP_PKEY *pkey = NULL;
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static int jwk_build_rsa(const json_t *jwk, const char *kid, EVP_PKEY **out, char *err, size_t errlen)
{
    char show[96];
    size_t nlen = 0, elen = 0;
    unsigned char *n = jwk_bytes(jwk, "n", &nlen), *e = jwk_bytes(jwk, "e", &elen);
    BIGNUM *bn_n = n ? BN_bin2bn(n, (int)nlen, NULL) : NULL, *bn_e = e ? BN_bin2bn(e, (int)elen, NULL) : NULL;
    OSSL_PARAM_BLD *bld = NULL;
    int rc = 0;
    if (bn_n == NULL || bn_e == NULL || nlen > 1025 || elen > 8) {
        rc = fail(err, errlen, MF_EUNAUTHORIZED, "id token key %s: RSA n or e is missing or malformed",
                  shown(show, kid));
    } else if (BN_num_bits(bn_n) < 2048 || BN_num_bits(bn_n) > 8192) {
        rc = fail(err, errlen, MF_EUNAUTHORIZED, "id token key %s: RSA modulus of %d bits (2048 to 8192 accepted)",
                  shown(show, kid), BN_num_bits(bn_n));
    } else if (!BN_is_odd(bn_e) || BN_num_bits(bn_e) < 2) {
        rc = fail(err, errlen, MF_EUNAUTHORIZED, "id token key %s: RSA exponent is not valid", shown(show, kid));
    } else {
        bld = OSSL_PARAM_BLD_new();
        if (bld == NULL || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1 ||
            (*out = pkey_from_params("RSA", bld)) == NULL)
            rc = fail(err, errlen, MF_EUNAUTHORIZED, "id token key %s: OpenSSL refused the RSA key", shown(show, kid));
    }
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    free(n);
    free(e);
    return rc;
}

static int jwk_build_ec(const json_t *jwk, const char *kid, EVP_PKEY **out, char *err, size_t errlen)
{
    char show[96];
    json_t *crv = json_object_get(jwk, "crv");
    if (!json_is_string(crv) || strcmp(json_string_value(crv), "P-256") != 0)
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token key %s: EC curve is not P-256", shown(show, kid));
    size_t xlen = 0, ylen = 0;
    unsigned char *x = jwk_bytes(jwk, "x", &xlen), *y = jwk_bytes(jwk, "y", &ylen);
    int rc = 0;
    if (x == NULL || y == NULL || xlen != 32 || ylen != 32) {
        rc = fail(err, errlen, MF_EUNAUTHORIZED, "id token key %s: EC x or y is missing or not 32 bytes",
                  shown(show, kid));
    } else {
        unsigned char point[65];
        point[0] = 0x04; /* uncompressed */
        memcpy(point + 1, x, 32);
        memcpy(point + 33, y, 32);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        EVP_PKEY *pkey = NULL;
        if (bld != NULL && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) == 1)
            pkey = pkey_from_params("EC", bld);
        OSSL_PARAM_BLD_free(bld);
        /* the point must be on the curve */
        EVP_PKEY_CTX *check = pkey ? EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL) : NULL;
        if (check == NULL || EVP_PKEY_public_check(check) != 1) {
            EVP_PKEY_free(pkey);
            rc = fail(err, errlen, MF_EUNAUTHORIZED, "id token key %s: not a valid P-256 public key", shown(show, kid));
        } else {
            *out = pkey;
        }
        EVP_PKEY_CTX_free(check);
    }
    free(x);
    free(y);
    return rc;
}

/* A new EVP_PKEY from jwk (whose kty fits alg, see jwk_find). */
static int jwk_build(const json_t *jwk, const char *kid, int alg, EVP_PKEY **out, char *err, size_t errlen)
{
    *out = NULL;
    return alg == ALG_RS256 ? jwk_build_rsa(jwk, kid, out, err, errlen) : jwk_build_ec(jwk, kid, out, err, errlen);
}

/* Where verify_token gets its key: 0 and *out a new reference; OIDC_UNKNOWN_KID; MF_E*. */
typedef int (*key_get_fn)(void *ctx, const char *kid, int alg, const char *alg_name, EVP_PKEY **out, char *err,
                          size_t errlen);

/* key_get_fn over a JWK set (ctx), building the key every time. */
static int jwks_key_get(void *ctx, const char *kid, int alg, const char *alg_name, EVP_PKEY **out, char *err,
                        size_t errlen)
{
    const json_t *jwks = ctx;
    size_t i = 0;
    int rc = jwk_find(jwks, kid, alg, &i, err, errlen);
    if (rc != 0)
        return rc;
    const json_t *jwk = json_array_get(json_object_get(jwks, "keys"), i);
    if ((rc = jwk_check(jwk, kid, alg_name, err, errlen)) != 0)
        return rc;
    return jwk_build(jwk, kid, alg, out, err, errlen);
}

/* ---------- ID token verification ---------- */

/* Check sig over data[0..len) with pkey for alg. */
static int verify_signature(EVP_PKEY *pkey, int alg, const unsigned char *sig, size_t siglen, const char *data,
                            size_t len, char *err, size_t errlen)
{
    unsigned char *der = NULL;
    const unsigned char *s = sig;
    size_t slen = siglen;
    if (alg == ALG_ES256) {
        /* JWS carries r||s, 32 bytes each; OpenSSL wants a DER ECDSA-Sig-Value */
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, 32, NULL), *ss = BN_bin2bn(sig + 32, 32, NULL);
        int n = -1;
        if (es != NULL && r != NULL && ss != NULL && ECDSA_SIG_set0(es, r, ss) == 1) {
            r = ss = NULL; /* owned by es now */
            n = i2d_ECDSA_SIG(es, &der);
        }
        BN_free(r);
        BN_free(ss);
        ECDSA_SIG_free(es);
        if (n <= 0) {
            OPENSSL_free(der);
            return fail(err, errlen, MF_EUNAUTHORIZED, "id token ES256 signature could not be decoded");
        }
        s = der;
        slen = (size_t)n;
    } else if (siglen != (size_t)EVP_PKEY_get_size(pkey)) {
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token RS256 signature is %zu bytes, the key needs %d", siglen,
                    EVP_PKEY_get_size(pkey));
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
             EVP_DigestVerify(md, s, slen, (const unsigned char *)data, len) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    if (!ok)
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token signature is invalid");
    return 0;
}

/* A NumericDate claim: 0 with *out and *present; MF_EUNAUTHORIZED when of the wrong type, out of range, or
 * absent but required. */
static int claim_time(json_t *payload, const char *name, int required, double *out, int *present, char *err,
                      size_t errlen)
{
    json_t *v = json_object_get(payload, name);
    *present = 0;
    if (v == NULL)
        return required ? fail(err, errlen, MF_EUNAUTHORIZED, "id token has no %s", name) : 0;
    if (!json_is_number(v))
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token claim %s must be a number", name);
    double d = json_number_value(v);
    if (!(d >= 0 && d <= OIDC_TIME_MAX))
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token claim %s is out of range", name);
    *out = d;
    *present = 1;
    return 0;
}

/* An optional string claim copied into out (cap bytes): "" when absent or null; longer than cap-1 is an error
 * unless cut (then cut on a UTF-8 boundary). Must be clean text. */
static int claim_string(json_t *payload, const char *name, char *out, size_t cap, int cut, char *err, size_t errlen)
{
    json_t *v = json_object_get(payload, name);
    out[0] = '\0';
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token claim %s must be a string", name);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (!mf_text_is_clean(s, n, 0))
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token claim %s holds control characters", name);
    if (n >= cap) {
        if (!cut)
            return fail(err, errlen, MF_EUNAUTHORIZED, "id token claim %s is longer than %zu bytes", name, cap - 1);
        n = cap - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) /* s[n] continues a character: cut before it */
            n--;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

/* The claims checks of a payload whose signature verified. */
static int check_claims(json_t *payload, const mf_oidc_expect_t *expect, time_t now, mf_oidc_claims_t *c,
                        char *err, size_t errlen)
{
    char show[96], show2[96];
    double skew = (double)(expect->clock_skew >= 0 ? expect->clock_skew : mf_config_int(MF_CFG_OIDC_CLOCK_SKEW));
    double t = (double)now, exp = 0, nbf = 0, iat = 0;
    int has_exp = 0, has_nbf = 0, has_iat = 0, rc;

    json_t *iss = json_object_get(payload, "iss");
    if (!json_is_string(iss))
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token has no iss");
    if (strcmp(json_string_value(iss), expect->issuer) != 0)
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token issuer %s is not %s", shown(show, json_string_value(iss)),
                    shown(show2, expect->issuer));

    json_t *aud = json_object_get(payload, "aud");
    size_t naud = 1;
    if (json_is_string(aud)) {
        if (strcmp(json_string_value(aud), expect->client_id) != 0)
            return fail(err, errlen, MF_EUNAUTHORIZED, "id token audience %s is not this client",
                        shown(show, json_string_value(aud)));
    } else if (json_is_array(aud)) {
        size_t i;
        json_t *a;
        int found = 0;
        naud = json_array_size(aud);
        if (naud == 0 || naud > OIDC_AUD_MAX)
            return fail(err, errlen, MF_EUNAUTHORIZED, "id token aud array has %zu entries (1 to %d accepted)", naud,
                        OIDC_AUD_MAX);
        json_array_foreach(aud, i, a)
        {
            if (!json_is_string(a))
                return fail(err, errlen, MF_EUNAUTHORIZED, "id token aud[%zu] is not a string", i);
            found |= strcmp(json_string_value(a), expect->client_id) == 0;
        }
        if (!found)
            return fail(err, errlen, MF_EUNAUTHORIZED, "id token audience does not include this client");
    } else {
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token has no aud");
    }
    json_t *azp = json_object_get(payload, "azp");
    if (azp == NULL && naud > 1)
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token has several audiences but no azp");
    if (azp != NULL && (!json_is_string(azp) || strcmp(json_string_value(azp), expect->client_id) != 0))
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token azp is not this client");

    if ((rc = claim_time(payload, "exp", 1, &exp, &has_exp, err, errlen)) != 0 ||
        (rc = claim_time(payload, "nbf", 0, &nbf, &has_nbf, err, errlen)) != 0 ||
        (rc = claim_time(payload, "iat", 1, &iat, &has_iat, err, errlen)) != 0)
        return rc;
    if (t > exp + skew)
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token expired");
    if (has_nbf && t < nbf - skew)
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token is not valid yet (nbf)");
    if (iat > t + skew)
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token issued in the future (iat)");

    json_t *nonce = json_object_get(payload, "nonce");
    if (!json_is_string(nonce) || json_string_length(nonce) == 0)
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token has no nonce");
    size_t want = strlen(expect->nonce);
    if (json_string_length(nonce) != want || !mf_ct_equal(json_string_value(nonce), expect->nonce, want))
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token nonce does not match");

    json_t *sub = json_object_get(payload, "sub");
    if (!json_is_string(sub) || json_string_length(sub) == 0)
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token has no sub");
    if ((rc = claim_string(payload, "sub", c->sub, sizeof(c->sub), 0, err, errlen)) != 0 ||
        (rc = claim_string(payload, "email", c->email, sizeof(c->email), 0, err, errlen)) != 0 ||
        (rc = claim_string(payload, "name", c->name, sizeof(c->name), 1, err, errlen)) != 0)
        return rc;
    c->email_verified = json_is_true(json_object_get(payload, "email_verified"));
    c->exp = (long long)exp;
    c->iat = (long long)iat;
    return 0;
}

/* Decode part s[0..len) (canonical base64url) as a JSON object: new reference or NULL. */
static json_t *part_json(const char *s, size_t len)
{
    size_t n = 0;
    unsigned char *raw = b64url_decode_strict(s, len, &n);
    if (raw == NULL)
        return NULL;
    json_error_t je;
    json_t *v = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, &je);
    free(raw);
    if (v != NULL && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

/* The whole check of token at now with keys from get_key(ctx); OIDC_UNKNOWN_KID passes through. */
static int verify_token(const char *token, const mf_oidc_expect_t *expect, time_t now, key_get_fn get_key,
                        void *ctx, mf_oidc_claims_t *out, char *err, size_t errlen)
{
    char show[96];
    MF_ASSERT(expect != NULL && expect->issuer != NULL && expect->client_id != NULL && expect->nonce != NULL);
    if (token == NULL || token[0] == '\0')
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token is missing");
    size_t len = strnlen(token, MF_OIDC_TOKEN_MAX + 1);
    if (len > MF_OIDC_TOKEN_MAX)
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token is larger than %d bytes", MF_OIDC_TOKEN_MAX);
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL)
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token is not three dot-separated parts");
    size_t hlen = (size_t)(d1 - token), plen = (size_t)(d2 - d1 - 1), slen = len - (size_t)(d2 + 1 - token);
    if (hlen == 0 || plen == 0)
        return fail(err, errlen, MF_EUNAUTHORIZED, "id token has an empty header or payload");

    json_t *header = part_json(token, hlen), *payload = NULL;
    unsigned char *sig = NULL;
    EVP_PKEY *pkey = NULL;
    size_t siglen = 0;
    int rc = 0, alg = 0;
    if (header == NULL) {
        rc = fail(err, errlen, MF_EUNAUTHORIZED, "id token header is not a base64url JSON object");
        goto done;
    }
    json_t *a = json_object_get(header, "alg"), *kid = json_object_get(header, "kid");
    const char *alg_name = json_string_value(a);
    if (!json_is_string(a)) {
        rc = fail(err, errlen, MF_EUNAUTHORIZED, "id token header has no alg");
        goto done;
    }
    alg = strcmp(alg_name, "RS256") == 0 ? ALG_RS256 : strcmp(alg_name, "ES256") == 0 ? ALG_ES256 : 0;
    if (alg == 0) {
        rc = fail(err, errlen, MF_EUNAUTHORIZED, "id token algorithm %s is not allowed", shown(show, alg_name));
        goto done;
    }
    if (json_object_get(header, "crit") != NULL) {
        rc = fail(err, errlen, MF_EUNAUTHORIZED, "id token header has crit extensions");
        goto done;
    }
    if (!json_is_string(kid) || json_string_length(kid) == 0 || json_string_length(kid) > 256) {
        rc = fail(err, errlen, MF_EUNAUTHORIZED, "id token header has no kid");
        goto done;
    }
    if (slen == 0) {
        rc = fail(err, errlen, MF_EUNAUTHORIZED, "id token is unsigned");
        goto done;
    }
    if ((sig = b64url_decode_strict(d2 + 1, slen, &siglen)) == NULL) {
        rc = fail(err, errlen, MF_EUNAUTHORIZED, "id token signature is not base64url");
        goto done;
    }
    if (alg == ALG_ES256 && siglen != 64) {
        rc = fail(err, errlen, MF_EUNAUTHORIZED, "id token ES256 signature is %zu bytes, not 64", siglen);
        goto done;
    }
    if ((rc = get_key(ctx, json_string_value(kid), alg, alg_name, &pkey, err, errlen)) != 0)
        goto done;
    if ((rc = verify_signature(pkey, alg, sig, siglen, token, (size_t)(d2 - token), err, errlen)) != 0)
        goto done;

    /* signed by the issuer: now the claims may be looked at */
    if ((payload = part_json(d1 + 1, plen)) == NULL) {
        rc = fail(err, errlen, MF_EUNAUTHORIZED, "id token payload is not a base64url JSON object");
        goto done;
    }
    mf_oidc_claims_t c;
    memset(&c, 0, sizeof(c));
    if ((rc = check_claims(payload, expect, now, &c, err, errlen)) == 0)
        *out = c;

done:
    ERR_clear_error(); /* leave no OpenSSL errors behind for other code on this thread */
    EVP_PKEY_free(pkey);
    free(sig);
    json_decref(header);
    json_decref(payload);
    return rc;
}

int mf_oidc_verify_id_token_with_jwks(const json_t *jwks, const char *token, const mf_oidc_expect_t *expect,
                                      time_t now, mf_oidc_claims_t *out, char *err, size_t errlen)
{
    int rc = verify_token(token, expect, now, jwks_key_get, (void *)(uintptr_t)jwks, out, err, errlen);
    return rc == OIDC_UNKNOWN_KID ? MF_EUNAUTHORIZED : rc;
}

/* ---------- the cache ---------- */

/* One issuer's cached state. The cache array holds one reference, each verification in flight another,
 * so clearing or evicting never frees an entry in use. Every field is read and written under cache_mu. */
typedef struct {
    mf_oidc_meta_t meta; /* meta.issuer is the key */
    json_t *jwks;        /* owned */
    EVP_PKEY **pkeys;    /* owned, one per jwks.keys entry, NULL until first used */
    size_t npkeys;
    uint64_t fetched_ms; /* mf_now_ms() of the last discovery */
    uint64_t refetch_ms; /* mf_now_ms() of the last JWKS refetch for an unknown kid */
    int refetched;       /* refetch_ms is set */
    int refs;
} provider_t;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static provider_t *cache[OIDC_PROVIDERS_MAX];
static size_t ncache;

static void provider_drop_keys(provider_t *p)
{
    for (size_t i = 0; i < p->npkeys; i++)
        EVP_PKEY_free(p->pkeys[i]);
    free(p->pkeys);
    p->pkeys = NULL;
    p->npkeys = 0;
}

/* Drop one reference of p. Under cache_mu. */
static void provider_unref(provider_t *p)
{
    if (p == NULL || --p->refs > 0)
        return;
    provider_drop_keys(p);
    json_decref(p->jwks);
    free(p);
}

static void provider_release(provider_t *p)
{
    pthread_mutex_lock(&cache_mu);
    provider_unref(p);
    pthread_mutex_unlock(&cache_mu);
}

/* Replace p's JWK set with jwks (steals) and forget its built keys. Under cache_mu. */
static void provider_set_jwks(provider_t *p, json_t *jwks)
{
    provider_drop_keys(p);
    json_decref(p->jwks);
    p->jwks = jwks;
    p->npkeys = json_array_size(json_object_get(jwks, "keys"));
    p->pkeys = mf_calloc(p->npkeys ? p->npkeys : 1, sizeof(EVP_PKEY *));
}

/* The cached provider of issuer or NULL. Under cache_mu. */
static provider_t *cache_find(const char *issuer)
{
    for (size_t i = 0; i < ncache; i++)
        if (strcmp(cache[i]->meta.issuer, issuer) == 0)
            return cache[i];
    return NULL;
}

void mf_oidc_cache_clear(void)
{
    pthread_mutex_lock(&cache_mu);
    for (size_t i = 0; i < ncache; i++)
        provider_unref(cache[i]);
    ncache = 0;
    pthread_mutex_unlock(&cache_mu);
}

/* The fresh provider of issuer, fetched when not cached or stale: 0 and *out (a new reference,
 * provider_release) with its metadata in *meta. */
static int provider_acquire(const char *issuer, provider_t **out, mf_oidc_meta_t *meta, char *err, size_t errlen)
{
    char show[96];
    if (issuer == NULL || !is_http_url(issuer, 1))
        return fail(err, errlen, MF_EINVALID_REQUEST, "issuer %s is not an http(s) URL without query or fragment",
                    shown(show, issuer));
    uint64_t ttl_ms = (uint64_t)mf_config_int(MF_CFG_OIDC_CACHE_TTL) * 1000;

    pthread_mutex_lock(&cache_mu);
    provider_t *p = cache_find(issuer);
    if (p != NULL && mf_now_ms() - p->fetched_ms < ttl_ms) {
        p->refs++;
        *meta = p->meta;
        *out = p;
        pthread_mutex_unlock(&cache_mu);
        return 0;
    }
    pthread_mutex_unlock(&cache_mu);

    /* fetch without the lock: concurrent refreshes of one issuer are harmless, the last one wins */
    mf_oidc_meta_t m;
    json_t *jwks = NULL;
    int rc = fetch_meta(issuer, &m, err, errlen);
    if (rc == 0)
        rc = fetch_jwks(m.jwks_uri, &jwks, err, errlen);
    if (rc != 0)
        return rc;

    pthread_mutex_lock(&cache_mu);
    if ((p = cache_find(issuer)) == NULL) {
        if (ncache == OIDC_PROVIDERS_MAX) { /* drop the least recently fetched */
            size_t oldest = 0;
            for (size_t i = 1; i < ncache; i++)
                if (cache[i]->fetched_ms < cache[oldest]->fetched_ms)
                    oldest = i;
            provider_unref(cache[oldest]);
            cache[oldest] = cache[--ncache];
        }
        p = mf_calloc(1, sizeof(*p));
        p->refs = 1; /* the cache's */
        cache[ncache++] = p;
    }
    p->meta = m;
    p->fetched_ms = mf_now_ms();
    provider_set_jwks(p, jwks);
    p->refs++;
    *meta = m;
    *out = p;
    pthread_mutex_unlock(&cache_mu);
    return 0;
}

int mf_oidc_provider_get(const char *issuer, mf_oidc_meta_t *out, char *err, size_t errlen)
{
    provider_t *p = NULL;
    int rc = provider_acquire(issuer, &p, out, err, errlen);
    if (rc == 0)
        provider_release(p);
    return rc;
}

/* key_get_fn over the JWK set of a provider (ctx, referenced), building each key once. */
static int cached_key_get(void *ctx, const char *kid, int alg, const char *alg_name, EVP_PKEY **out, char *err,
                          size_t errlen)
{
    provider_t *p = ctx;
    size_t i = 0;
    pthread_mutex_lock(&cache_mu);
    int rc = jwk_find(p->jwks, kid, alg, &i, err, errlen);
    if (rc == 0) {
        const json_t *jwk = json_array_get(json_object_get(p->jwks, "keys"), i);
        if ((rc = jwk_check(jwk, kid, alg_name, err, errlen)) == 0 && p->pkeys[i] == NULL)
            rc = jwk_build(jwk, kid, alg, &p->pkeys[i], err, errlen);
        if (rc == 0 && EVP_PKEY_up_ref(p->pkeys[i]) == 1)
            *out = p->pkeys[i];
        else if (rc == 0)
            rc = fail(err, errlen, MF_EINTERNAL, "EVP_PKEY_up_ref failed");
    }
    pthread_mutex_unlock(&cache_mu);
    return rc;
}

/* Fetch p's JWKS again after an unknown kid, unless done less than OIDC_REFETCH_MIN_MS ago:
 * 0 when fetched (retry), 1 when skipped, MF_EUNAVAILABLE when the fetch failed. */
static int refetch_jwks(provider_t *p, char *err, size_t errlen)
{
    char url[MF_OIDC_URL_MAX];
    uint64_t now = mf_now_ms();
    pthread_mutex_lock(&cache_mu);
    if (p->refetched && now - p->refetch_ms < OIDC_REFETCH_MIN_MS) {
        pthread_mutex_unlock(&cache_mu);
        return 1;
    }
    p->refetched = 1;
    p->refetch_ms = now; /* claimed before fetching: concurrent unknown kids do not all fetch */
    memcpy(url, p->meta.jwks_uri, sizeof(url));
    pthread_mutex_unlock(&cache_mu);

    json_t *jwks = NULL;
    int rc = fetch_jwks(url, &jwks, err, errlen);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&cache_mu);
    if (strcmp(p->meta.jwks_uri, url) == 0) { /* not rediscovered elsewhere meanwhile */
        provider_set_jwks(p, jwks);
        jwks = NULL;
    }
    pthread_mutex_unlock(&cache_mu);
    json_decref(jwks);
    return 0;
}

int mf_oidc_verify_id_token(const mf_oidc_expect_t *expect, const char *token, mf_oidc_claims_t *out, char *err,
                            size_t errlen)
{
    MF_ASSERT(expect != NULL);
    mf_oidc_meta_t meta;
    provider_t *p = NULL;
    int rc = provider_acquire(expect->issuer, &p, &meta, err, errlen);
    if (rc != 0)
        return rc;
    rc = verify_token(token, expect, time(NULL), cached_key_get, p, out, err, errlen);
    if (rc == OIDC_UNKNOWN_KID) {
        char ferr[MF_OIDC_URL_MAX + 128];
        int fr = refetch_jwks(p, ferr, sizeof(ferr));
        if (fr < 0)
            rc = fail(err, errlen, fr, "%s", ferr);
        else if (fr == 0)
            rc = verify_token(token, expect, time(NULL), cached_key_get, p, out, err, errlen);
    }
    provider_release(p);
    return rc == OIDC_UNKNOWN_KID ? MF_EUNAUTHORIZED : rc;
}

/* ---------- code exchange ---------- */

char *mf_oidc_form_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = mf_malloc(3 * n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

char *mf_oidc_basic_auth(const char *client_id, const char *client_secret)
{
    char *id = mf_oidc_form_encode(client_id), *secret = mf_oidc_form_encode(client_secret);
    size_t idlen = strlen(id), slen = strlen(secret), plain_len = idlen + 1 + slen;
    unsigned char *plain = mf_malloc(plain_len + 1);
    memcpy(plain, id, idlen);
    plain[idlen] = ':';
    memcpy(plain + idlen + 1, secret, slen + 1);
    MF_ASSERT(plain_len < INT32_MAX / 2);
    char *out = mf_malloc(6 + (plain_len + 2) / 3 * 4 + 1);
    memcpy(out, "Basic ", 6);
    EVP_EncodeBlock((unsigned char *)out + 6, plain, (int)plain_len); /* writes the NUL */
    OPENSSL_cleanse(plain, plain_len);
    OPENSSL_cleanse(secret, slen);
    free(plain);
    free(id);
    free(secret);
    return out;
}

/* Append "&"-joined name=form_encode(value) to *s (new, grown). */
static void form_add(char **s, const char *name, const char *value)
{
    char *enc = mf_oidc_form_encode(value);
    size_t old = *s ? strlen(*s) : 0, n = old + 1 + strlen(name) + 1 + strlen(enc) + 1;
    *s = mf_realloc(*s, n);
    snprintf(*s + old, n - old, "%s%s=%s", old ? "&" : "", name, enc);
    free(enc);
}

int mf_oidc_exchange_code(const mf_oidc_meta_t *m, const char *client_id, const char *client_secret,
                          const char *code, const char *redirect_uri, const char *code_verifier,
                          char **id_token_out, char *err, size_t errlen)
{
    char what[MF_OIDC_URL_MAX + 32], show[96], show2[96];
    MF_ASSERT(m != NULL && client_id != NULL && client_secret != NULL && redirect_uri != NULL &&
              code_verifier != NULL && id_token_out != NULL);
    *id_token_out = NULL;
    if (code == NULL || code[0] == '\0' || strnlen(code, OIDC_CODE_MAX + 1) > OIDC_CODE_MAX)
        return fail(err, errlen, MF_EUNAUTHORIZED, "authorization code is missing or longer than %d bytes",
                    OIDC_CODE_MAX);
    snprintf(what, sizeof(what), "token endpoint %s", m->token_endpoint);
    if (!is_http_url(m->token_endpoint, 0))
        return fail(err, errlen, MF_EUNAVAILABLE, "%s is not an http(s) URL", what);

    char *form = NULL;
    form_add(&form, "grant_type", "authorization_code");
    form_add(&form, "code", code);
    form_add(&form, "redirect_uri", redirect_uri);
    form_add(&form, "code_verifier", code_verifier);
    char *authz = mf_oidc_basic_auth(client_id, client_secret);
    long status = 0;
    body_t body;
    int rc = http_call(what, m->token_endpoint, form, authz, &status, &body, err, errlen);
    OPENSSL_cleanse(authz, strlen(authz));
    free(authz);
    OPENSSL_cleanse(form, strlen(form)); /* holds the code and the verifier */
    free(form);
    if (rc != 0)
        return rc;

    json_error_t je;
    json_t *doc = json_loadb(body.buf, body.len, JSON_REJECT_DUPLICATES, &je);
    free(body.buf);
    if (doc != NULL && !json_is_object(doc)) {
        json_decref(doc);
        doc = NULL;
    }
    if (status >= 200 && status <= 299) {
        json_t *tok = json_object_get(doc, "id_token");
        if (!json_is_string(tok) || json_string_length(tok) == 0 || json_string_length(tok) > MF_OIDC_TOKEN_MAX)
            rc = fail(err, errlen, MF_EUNAVAILABLE, "%s returned HTTP %ld without an id_token", what, status);
        else
            *id_token_out = mf_strdup(json_string_value(tok));
    } else {
        const char *e = json_string_value(json_object_get(doc, "error"));
        const char *desc = json_string_value(json_object_get(doc, "error_description"));
        int code_rejected = status == 400 && e != NULL && strcmp(e, "invalid_grant") == 0;
        if (e != NULL)
            rc = fail(err, errlen, code_rejected ? MF_EUNAUTHORIZED : MF_EUNAVAILABLE, "%s refused: HTTP %ld %s%s%s%s",
                      what, status, shown(show, e), desc ? " (" : "", desc ? shown(show2, desc) : "", desc ? ")" : "");
        else
            rc = fail(err, errlen, MF_EUNAVAILABLE, "%s failed: HTTP %ld", what, status);
    }
    json_decref(doc);
    return rc;
}
