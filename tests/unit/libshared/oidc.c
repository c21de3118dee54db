/*
 * Unit tests of libshared/src/oidc.c.
 *
 * ID tokens: the setup makes RSA-2048, RSA-1024 and P-256 keys with OpenSSL
 * and a JWK set from them; each table row builds a token (header and claims
 * as JSON text, signed in the test with EVP, or with HMAC, or not at all,
 * then optionally mangled) and states the result of
 * mf_oidc_verify_id_token_with_jwks: accepted, or MF_EUNAUTHORIZED with a
 * reason. Also PKCE (the RFC 7636 appendix B vector), random strings, form
 * encoding and client_secret_basic.
 *
 * Provider, JWKS, code exchange and cached verification run against a tiny
 * HTTP server on 127.0.0.1 in a thread of this test (no other network):
 * issuer check, trailing slash, 404, oversize and non-JSON replies,
 * timeouts, refused redirects to file://, the token request's form and
 * Basic header, provider errors, caching, and the JWKS refetch on an unknown
 * kid (once per 10 s).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include "../unit.h"
#include "mf/config.h"
#include "mf/oidc.h"
#include "mf/util.h"

#define NOW 1800000000LL
#define ISS "https://idp.example"
#define CLIENT "mf-client"
#define NONCE "n-0S6_WzA2Mj"

static EVP_PKEY *rsa_key, *rsa_other, *rsa_small, *ec_key, *ec_other;
static json_t *jwks;

static const mf_oidc_expect_t expect = {ISS, CLIENT, NONCE, 60};

/* ---------- keys, JWKs and a test-only signer ---------- */

/* The big-endian bytes of BIGNUM parameter name of k, left-padded to pad bytes (0: minimal), base64url. */
static char *param_b64(EVP_PKEY *k, const char *name, int pad)
{
    BIGNUM *bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(k, name, &bn), 1);
    unsigned char buf[1024];
    int n = pad ? pad : BN_num_bytes(bn);
    assert_true(n > 0 && n <= (int)sizeof(buf));
    assert_int_equal(BN_bn2binpad(bn, buf, n), n);
    BN_free(bn);
    return mf_base64url_encode(buf, (size_t)n);
}

/* A JWK of k with kid, and alg / use / crv when non-NULL (crv defaults to P-256 for EC keys). */
static json_t *jwk_of(EVP_PKEY *k, const char *kid, const char *alg, const char *use, const char *crv)
{
    json_t *j = json_object();
    json_object_set_new(j, "kid", json_string(kid));
    if (EVP_PKEY_is_a(k, "RSA")) {
        json_object_set_new(j, "kty", json_string("RSA"));
        char *n = param_b64(k, OSSL_PKEY_PARAM_RSA_N, 0), *e = param_b64(k, OSSL_PKEY_PARAM_RSA_E, 0);
        json_object_set_new(j, "n", json_string(n));
        json_object_set_new(j, "e", json_string(e));
        free(n);
        free(e);
    } else {
        json_object_set_new(j, "kty", json_string("EC"));
        json_object_set_new(j, "crv", json_string(crv ? crv : "P-256"));
        char *x = param_b64(k, OSSL_PKEY_PARAM_EC_PUB_X, 32), *y = param_b64(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
        json_object_set_new(j, "x", json_string(x));
        json_object_set_new(j, "y", json_string(y));
        free(x);
        free(y);
    }
    if (alg)
        json_object_set_new(j, "alg", json_string(alg));
    if (use)
        json_object_set_new(j, "use", json_string(use));
    return j;
}

/* The PEM text of k's public key: new string. */
static char *public_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *out = mf_strndup(data, (size_t)n);
    BIO_free(b);
    return out;
}

typedef enum {
    S_RSA,        /* RS256 with rsa_key */
    S_RSA_OTHER,  /* RS256 with a key not in the JWKS */
    S_RSA_SMALL,  /* RS256 with the 1024-bit key */
    S_EC,         /* ES256 with ec_key */
    S_EC_OTHER,   /* ES256 with a key not in the JWKS */
    S_HS256_PEM,  /* HMAC-SHA256 keyed with the PEM text of rsa_key's public key */
    S_NONE,       /* no signature at all */
} signer_t;

/* The signature of data[0..len) by how into sig (cap bytes): its length. ES256 as raw r||s. */
static size_t sign_bytes(signer_t how, const char *data, size_t len, unsigned char *sig, size_t cap)
{
    if (how == S_NONE)
        return 0;
    if (how == S_HS256_PEM) {
        char *pem = public_pem(rsa_key);
        size_t n = 0;
        assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, pem, strlen(pem), (const unsigned char *)data,
                                  len, sig, cap, &n));
        free(pem);
        return n;
    }
    EVP_PKEY *k = how == S_RSA ? rsa_key : how == S_RSA_OTHER ? rsa_other : how == S_RSA_SMALL ? rsa_small
                  : how == S_EC ? ec_key : ec_other;
    unsigned char der[1024];
    size_t n = sizeof(der);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestSign(md, der, &n, (const unsigned char *)data, len), 1);
    EVP_MD_CTX_free(md);
    if (EVP_PKEY_is_a(k, "RSA")) {
        assert_true(n <= cap);
        memcpy(sig, der, n);
        return n;
    }
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
    assert_non_null(es);
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(es, &r, &s);
    assert_true(cap >= 64);
    assert_int_equal(BN_bn2binpad(r, sig, 32), 32);
    assert_int_equal(BN_bn2binpad(s, sig + 32, 32), 32);
    ECDSA_SIG_free(es);
    return 64;
}

static int setup_keys(void **state)
{
    rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa_other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa_small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ec_other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!rsa_key || !rsa_other || !rsa_small || !ec_key || !ec_other)
        return -1;
    json_t *keys = json_array();
    json_array_append_new(keys, jwk_of(ec_other, "decoy", "ES256", "sig", NULL)); /* an unrelated key first */
    json_array_append_new(keys, jwk_of(rsa_key, "rsa1", "RS256", "sig", NULL));
    json_array_append_new(keys, jwk_of(ec_key, "ec1", NULL, NULL, NULL)); /* alg and use are optional */
    json_array_append_new(keys, jwk_of(rsa_small, "small", "RS256", "sig", NULL));
    json_array_append_new(keys, jwk_of(rsa_key, "rs512", "RS512", "sig", NULL));
    json_array_append_new(keys, jwk_of(rsa_key, "enc", "RS256", "enc", NULL));
    json_array_append_new(keys, jwk_of(ec_key, "p384", "ES256", "sig", "P-384"));
    /* a point off the curve: y of another key */
    json_t *off = jwk_of(ec_key, "offcurve", "ES256", "sig", NULL);
    char *y = param_b64(ec_other, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
    json_object_set_new(off, "y", json_string(y));
    free(y);
    json_array_append_new(keys, off);
    /* n with a bad base64url character */
    json_t *bad = jwk_of(rsa_key, "badn", "RS256", "sig", NULL);
    json_object_set_new(bad, "n", json_string("AQAB+"));
    json_array_append_new(keys, bad);
    /* one kid, two key types: the kty that fits the header's alg is taken */
    json_array_append_new(keys, jwk_of(ec_key, "both", "ES256", "sig", NULL));
    json_array_append_new(keys, jwk_of(rsa_key, "both", "RS256", "sig", NULL));
    jwks = json_object();
    json_object_set_new(jwks, "keys", keys);
    return 0;
}

static int teardown_keys(void **state)
{
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(rsa_other);
    EVP_PKEY_free(rsa_small);
    EVP_PKEY_free(ec_key);
    EVP_PKEY_free(ec_other);
    json_decref(jwks);
    mf_oidc_cache_clear();
    return 0;
}

/* ---------- building tokens ---------- */

typedef enum {
    M_NONE,
    M_TAMPER,         /* payload replaced (sub changed), old signature kept */
    M_SIG_63,         /* signature cut to 63 bytes, re-encoded */
    M_SIG_65,         /* signature grown to 65 bytes, re-encoded */
    M_SIG_CUT,        /* signature cut by 3 bytes, re-encoded */
    M_SIG_PADDED,     /* "==" appended (base64 padding) */
    M_SIG_STD_B64,    /* first signature char replaced by '+' (standard base64) */
    M_SIG_NONCANON,   /* unused low bits of the last signature char set */
    M_HEADER_PADDED,  /* "=" after the header part */
    M_PAYLOAD_PADDED, /* "=" after the payload part, then signed */
    M_TWO_PARTS,      /* the signature part removed with its dot */
    M_FOUR_PARTS,     /* ".e30" appended */
    M_TRAILING_NL,    /* "\n" appended */
    M_BIG,            /* a 13,000-byte "pad" claim: token over 16 KiB */
    M_NEAR_LIMIT,     /* an 11,500-byte "pad" claim: token just under 16 KiB */
} mutation_t;

typedef struct {
    const char *what;
    const char *header;  /* JSON text; NULL: {"alg":"RS256","kid":"rsa1"} */
    signer_t signer;
    const char *payload; /* raw text; NULL: the default claims with set and del applied */
    const char *set;     /* JSON object merged into the default claims */
    const char *del;     /* one claim removed from the default claims */
    mutation_t mut;
    const char *want;    /* NULL: accepted; else MF_EUNAUTHORIZED and this text in err */
} row_t;

static const char DEFAULT_CLAIMS[] =
    "{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\",\"sub\":\"user-1\",\"nonce\":\"" NONCE "\","
    "\"iat\":1800000000,\"exp\":1800000600,\"email\":\"ada@example.com\",\"email_verified\":true,"
    "\"name\":\"Ada Lovelace\"}";

static char *claims_text(const row_t *r)
{
    if (r->payload)
        return mf_strdup(r->payload);
    json_t *c = mf_t_json(DEFAULT_CLAIMS);
    if (r->set) {
        json_t *s = mf_t_json(r->set);
        assert_int_equal(json_object_update(c, s), 0);
        json_decref(s);
    }
    if (r->del)
        json_object_del(c, r->del);
    if (r->mut == M_BIG || r->mut == M_NEAR_LIMIT) {
        char *pad = mf_t_repeat('p', r->mut == M_BIG ? 13000 : 11500);
        json_object_set_new(c, "pad", json_string(pad));
        free(pad);
    }
    char *text = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    return text;
}

static char *join3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = mf_malloc(n);
    snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

/* The token of row r: new string. */
static char *make_token(const row_t *r)
{
    const char *header = r->header ? r->header : "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}";
    char *claims = claims_text(r);
    char *h = mf_base64url_encode(header, strlen(header)), *p = mf_base64url_encode(claims, strlen(claims));
    if (r->mut == M_HEADER_PADDED) {
        char *t = join3(h, "=", "");
        free(h);
        h = t;
    }
    if (r->mut == M_PAYLOAD_PADDED) {
        char *t = join3(p, "=", "");
        free(p);
        p = t;
    }
    char *input = join3(h, ".", p);
    unsigned char sig[1024];
    size_t siglen = sign_bytes(r->signer, input, strlen(input), sig, sizeof(sig));
    if (r->mut == M_SIG_63)
        siglen = 63;
    if (r->mut == M_SIG_65)
        sig[siglen++] = 0;
    if (r->mut == M_SIG_CUT)
        siglen -= 3;
    if (r->mut == M_TAMPER) { /* same header, other claims, the old signature */
        char *forged = mf_base64url_encode("{\"sub\":\"admin\"}", 15);
        char *t = join3(h, ".", forged);
        free(input);
        free(forged);
        input = t;
    }
    char *s = mf_base64url_encode(sig, siglen);
    size_t slen = strlen(s);
    if (r->mut == M_SIG_STD_B64)
        s[0] = '+';
    if (r->mut == M_SIG_NONCANON) {
        assert_int_equal(slen % 4, 2); /* 256 and 64 bytes both leave 4 unused bits */
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        s[slen - 1] = alphabet[(strchr(alphabet, s[slen - 1]) - alphabet) | 1];
    }
    char *token = join3(input, ".", s);
    if (r->mut == M_SIG_PADDED || r->mut == M_FOUR_PARTS || r->mut == M_TRAILING_NL) {
        char *t = join3(token, r->mut == M_SIG_PADDED ? "==" : r->mut == M_FOUR_PARTS ? ".e30" : "\n", "");
        free(token);
        token = t;
    }
    if (r->mut == M_TWO_PARTS)
        *strrchr(token, '.') = '\0';
    free(claims);
    free(h);
    free(p);
    free(input);
    free(s);
    return token;
}

#define RS(kid) "{\"alg\":\"RS256\",\"kid\":\"" kid "\"}"
#define ES(kid) "{\"alg\":\"ES256\",\"kid\":\"" kid "\"}"

static const row_t rows[] = {
    /* accepted */
    {"valid RS256", NULL, S_RSA, NULL, NULL, NULL, M_NONE, NULL},
    {"valid ES256", ES("ec1"), S_EC, NULL, NULL, NULL, M_NONE, NULL},
    {"typ JWT in the header", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"JWT\"}", S_RSA, NULL, NULL, NULL,
     M_NONE, NULL},
    {"kid shared by an EC and an RSA key, RS256", RS("both"), S_RSA, NULL, NULL, NULL, M_NONE, NULL},
    {"kid shared by an EC and an RSA key, ES256", ES("both"), S_EC, NULL, NULL, NULL, M_NONE, NULL},
    {"aud array with the client only", NULL, S_RSA, NULL, "{\"aud\":[\"" CLIENT "\"]}", NULL, M_NONE, NULL},
    {"aud array of two with azp", NULL, S_RSA, NULL, "{\"aud\":[\"other\",\"" CLIENT "\"],\"azp\":\"" CLIENT "\"}",
     NULL, M_NONE, NULL},
    {"exp exactly skew ago", NULL, S_RSA, NULL, "{\"exp\":1799999940}", NULL, M_NONE, NULL},
    {"exp as a real", NULL, S_RSA, NULL, "{\"exp\":1800000600.5}", NULL, M_NONE, NULL},
    {"nbf exactly skew ahead", NULL, S_RSA, NULL, "{\"nbf\":1800000060}", NULL, M_NONE, NULL},
    {"iat exactly skew ahead", NULL, S_RSA, NULL, "{\"iat\":1800000060}", NULL, M_NONE, NULL},
    {"no email, name, email_verified", NULL, S_RSA, NULL, "{\"email\":null}", "name", M_NONE, NULL},
    {"token just under 16 KiB", NULL, S_RSA, NULL, NULL, NULL, M_NEAR_LIMIT, NULL},
    {"unknown claims are ignored", NULL, S_RSA, NULL, "{\"at_hash\":\"x\",\"amr\":[\"pwd\"],\"x\":{}}", NULL, M_NONE,
     NULL},

    /* algorithms */
    {"alg none, unsigned", "{\"alg\":\"none\"}", S_NONE, NULL, NULL, NULL, M_NONE, "algorithm none is not allowed"},
    {"alg none with kid, unsigned", "{\"alg\":\"none\",\"kid\":\"rsa1\"}", S_NONE, NULL, NULL, NULL, M_NONE,
     "algorithm none is not allowed"},
    {"alg None", "{\"alg\":\"None\",\"kid\":\"rsa1\"}", S_NONE, NULL, NULL, NULL, M_NONE, "algorithm None is not allowed"},
    {"RS256 header, no signature", NULL, S_NONE, NULL, NULL, NULL, M_NONE, "unsigned"},
    {"HS256 keyed with the RSA public key PEM", "{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", S_HS256_PEM, NULL, NULL, NULL,
     M_NONE, "algorithm HS256 is not allowed"},
    {"HS256 without kid", "{\"alg\":\"HS256\"}", S_HS256_PEM, NULL, NULL, NULL, M_NONE, "algorithm HS256 is not allowed"},
    {"PS256", "{\"alg\":\"PS256\",\"kid\":\"rsa1\"}", S_RSA, NULL, NULL, NULL, M_NONE, "algorithm PS256 is not allowed"},
    {"RS384", "{\"alg\":\"RS384\",\"kid\":\"rsa1\"}", S_RSA, NULL, NULL, NULL, M_NONE, "algorithm RS384 is not allowed"},
    {"ES384", "{\"alg\":\"ES384\",\"kid\":\"ec1\"}", S_EC, NULL, NULL, NULL, M_NONE, "algorithm ES384 is not allowed"},
    {"EdDSA", "{\"alg\":\"EdDSA\",\"kid\":\"ec1\"}", S_EC, NULL, NULL, NULL, M_NONE, "algorithm EdDSA is not allowed"},
    {"lowercase rs256", "{\"alg\":\"rs256\",\"kid\":\"rsa1\"}", S_RSA, NULL, NULL, NULL, M_NONE,
     "algorithm rs256 is not allowed"},
    {"empty alg", "{\"alg\":\"\",\"kid\":\"rsa1\"}", S_RSA, NULL, NULL, NULL, M_NONE, "algorithm  is not allowed"},
    {"alg not a string", "{\"alg\":256,\"kid\":\"rsa1\"}", S_RSA, NULL, NULL, NULL, M_NONE, "header has no alg"},
    {"no alg", "{\"kid\":\"rsa1\"}", S_RSA, NULL, NULL, NULL, M_NONE, "header has no alg"},
    {"crit header", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":[\"exp\"]}", S_RSA, NULL, NULL, NULL, M_NONE, "crit"},

    /* keys */
    {"no kid", "{\"alg\":\"RS256\"}", S_RSA, NULL, NULL, NULL, M_NONE, "header has no kid"},
    {"empty kid", RS(""), S_RSA, NULL, NULL, NULL, M_NONE, "header has no kid"},
    {"kid not a string", "{\"alg\":\"RS256\",\"kid\":1}", S_RSA, NULL, NULL, NULL, M_NONE, "header has no kid"},
    {"unknown kid", RS("nope"), S_RSA, NULL, NULL, NULL, M_NONE, "id token signed with unknown key nope"},
    {"RSA key not in the JWKS, known kid", NULL, S_RSA_OTHER, NULL, NULL, NULL, M_NONE, "signature is invalid"},
    {"EC key not in the JWKS, known kid", ES("ec1"), S_EC_OTHER, NULL, NULL, NULL, M_NONE, "signature is invalid"},
    {"RS256 naming an EC key", RS("ec1"), S_RSA, NULL, NULL, NULL, M_NONE, "key ec1 is not an RSA key"},
    {"ES256 naming an RSA key", ES("rsa1"), S_EC, NULL, NULL, NULL, M_NONE, "key rsa1 is not an EC key"},
    {"RSA key under 2048 bits", RS("small"), S_RSA_SMALL, NULL, NULL, NULL, M_NONE, "RSA modulus of 1024 bits"},
    {"JWK alg RS512, header RS256", RS("rs512"), S_RSA, NULL, NULL, NULL, M_NONE, "is for algorithm RS512, not RS256"},
    {"JWK use enc", RS("enc"), S_RSA, NULL, NULL, NULL, M_NONE, "not a signing key"},
    {"JWK crv P-384", ES("p384"), S_EC, NULL, NULL, NULL, M_NONE, "curve is not P-256"},
    {"JWK point off the curve", ES("offcurve"), S_EC, NULL, NULL, NULL, M_NONE, "not a valid P-256 public key"},
    {"JWK n not base64url", RS("badn"), S_RSA, NULL, NULL, NULL, M_NONE, "n or e is missing or malformed"},
    {"kid made of control bytes shown safely", "{\"alg\":\"RS256\",\"kid\":\"a\\u0001\\n\"}", S_RSA, NULL, NULL,
     NULL, M_NONE, "unknown key a??"},

    /* signatures and encoding */
    {"tampered payload, old signature", NULL, S_RSA, NULL, NULL, NULL, M_TAMPER, "signature is invalid"},
    {"tampered ES256 payload", ES("ec1"), S_EC, NULL, NULL, NULL, M_TAMPER, "signature is invalid"},
    {"ES256 signature of 63 bytes", ES("ec1"), S_EC, NULL, NULL, NULL, M_SIG_63, "ES256 signature is 63 bytes, not 64"},
    {"ES256 signature of 65 bytes", ES("ec1"), S_EC, NULL, NULL, NULL, M_SIG_65, "ES256 signature is 65 bytes, not 64"},
    {"ES256 signature as DER", ES("ec1"), S_RSA, NULL, NULL, NULL, M_NONE, "ES256 signature is 256 bytes"},
    {"RS256 signature cut short", NULL, S_RSA, NULL, NULL, NULL, M_SIG_CUT, "RS256 signature is 253 bytes"},
    {"signature with padding", NULL, S_RSA, NULL, NULL, NULL, M_SIG_PADDED, "signature is not base64url"},
    {"signature in standard base64", NULL, S_RSA, NULL, NULL, NULL, M_SIG_STD_B64, "signature is not base64url"},
    {"signature not canonical", NULL, S_RSA, NULL, NULL, NULL, M_SIG_NONCANON, "signature is not base64url"},
    {"ES256 signature not canonical", ES("ec1"), S_EC, NULL, NULL, NULL, M_SIG_NONCANON, "signature is not base64url"},
    {"trailing newline", NULL, S_RSA, NULL, NULL, NULL, M_TRAILING_NL, "signature is not base64url"},
    {"header with padding", NULL, S_RSA, NULL, NULL, NULL, M_HEADER_PADDED, "header is not a base64url JSON object"},
    {"payload with padding, signed", NULL, S_RSA, NULL, NULL, NULL, M_PAYLOAD_PADDED,
     "payload is not a base64url JSON object"},
    {"two parts", NULL, S_RSA, NULL, NULL, NULL, M_TWO_PARTS, "not three dot-separated parts"},
    {"four parts", NULL, S_RSA, NULL, NULL, NULL, M_FOUR_PARTS, "not three dot-separated parts"},
    {"header not JSON", "not json", S_RSA, NULL, NULL, NULL, M_NONE, "header is not a base64url JSON object"},
    {"header a JSON array", "[\"RS256\"]", S_RSA, NULL, NULL, NULL, M_NONE, "header is not a base64url JSON object"},
    {"header with a duplicate alg", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"alg\":\"none\"}", S_RSA, NULL, NULL, NULL,
     M_NONE, "header is not a base64url JSON object"},
    {"payload not JSON, signed", NULL, S_RSA, "not json", NULL, NULL, M_NONE, "payload is not a base64url JSON object"},
    {"payload a JSON string, signed", NULL, S_RSA, "\"" CLIENT "\"", NULL, NULL, M_NONE,
     "payload is not a base64url JSON object"},
    {"payload with a duplicate sub, signed", NULL, S_RSA,
     "{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\",\"sub\":\"user-1\",\"sub\":\"admin\",\"nonce\":\"" NONCE "\","
     "\"iat\":1800000000,\"exp\":1800000600}",
     NULL, NULL, M_NONE, "payload is not a base64url JSON object"},
    {"token over 16 KiB", NULL, S_RSA, NULL, NULL, NULL, M_BIG, "larger than 16384 bytes"},

    /* claims */
    {"wrong iss", NULL, S_RSA, NULL, "{\"iss\":\"https://evil.example\"}", NULL, M_NONE,
     "issuer https://evil.example is not " ISS},
    {"iss with a trailing slash", NULL, S_RSA, NULL, "{\"iss\":\"" ISS "/\"}", NULL, M_NONE, "issuer"},
    {"no iss", NULL, S_RSA, NULL, NULL, "iss", M_NONE, "no iss"},
    {"iss not a string", NULL, S_RSA, NULL, "{\"iss\":[\"" ISS "\"]}", NULL, M_NONE, "no iss"},
    {"wrong aud", NULL, S_RSA, NULL, "{\"aud\":\"other\"}", NULL, M_NONE, "audience other is not this client"},
    {"aud array without the client", NULL, S_RSA, NULL, "{\"aud\":[\"a\",\"b\"],\"azp\":\"" CLIENT "\"}", NULL,
     M_NONE, "does not include this client"},
    {"aud array of two without azp", NULL, S_RSA, NULL, "{\"aud\":[\"" CLIENT "\",\"other\"]}", NULL, M_NONE,
     "several audiences but no azp"},
    {"azp of another client", NULL, S_RSA, NULL, "{\"azp\":\"other\"}", NULL, M_NONE, "azp is not this client"},
    {"aud array with a number", NULL, S_RSA, NULL, "{\"aud\":[\"" CLIENT "\",1],\"azp\":\"" CLIENT "\"}", NULL,
     M_NONE, "aud[1] is not a string"},
    {"empty aud array", NULL, S_RSA, NULL, "{\"aud\":[]}", NULL, M_NONE, "aud array has 0 entries"},
    {"aud a number", NULL, S_RSA, NULL, "{\"aud\":1}", NULL, M_NONE, "no aud"},
    {"no aud", NULL, S_RSA, NULL, NULL, "aud", M_NONE, "no aud"},
    {"expired", NULL, S_RSA, NULL, "{\"exp\":1799999939}", NULL, M_NONE, "id token expired"},
    {"no exp", NULL, S_RSA, NULL, NULL, "exp", M_NONE, "no exp"},
    {"exp a string", NULL, S_RSA, NULL, "{\"exp\":\"1800000600\"}", NULL, M_NONE, "exp must be a number"},
    {"exp null", NULL, S_RSA, NULL, "{\"exp\":null}", NULL, M_NONE, "exp must be a number"},
    {"exp negative", NULL, S_RSA, NULL, "{\"exp\":-1}", NULL, M_NONE, "exp is out of range"},
    {"exp huge real", NULL, S_RSA, NULL, "{\"exp\":1e300}", NULL, M_NONE, "exp is out of range"},
    {"exp huge integer", NULL, S_RSA, NULL, "{\"exp\":9223372036854775807}", NULL, M_NONE, "exp is out of range"},
    {"nbf in the future", NULL, S_RSA, NULL, "{\"nbf\":1800000061}", NULL, M_NONE, "not valid yet (nbf)"},
    {"nbf a string", NULL, S_RSA, NULL, "{\"nbf\":\"0\"}", NULL, M_NONE, "nbf must be a number"},
    {"iat in the future", NULL, S_RSA, NULL, "{\"iat\":1800000061}", NULL, M_NONE, "issued in the future (iat)"},
    {"no iat", NULL, S_RSA, NULL, NULL, "iat", M_NONE, "no iat"},
    {"iat a boolean", NULL, S_RSA, NULL, "{\"iat\":true}", NULL, M_NONE, "iat must be a number"},
    {"no nonce", NULL, S_RSA, NULL, NULL, "nonce", M_NONE, "no nonce"},
    {"empty nonce", NULL, S_RSA, NULL, "{\"nonce\":\"\"}", NULL, M_NONE, "no nonce"},
    {"nonce a number", NULL, S_RSA, NULL, "{\"nonce\":1}", NULL, M_NONE, "no nonce"},
    {"wrong nonce", NULL, S_RSA, NULL, "{\"nonce\":\"n-0S6_WzA2Mk\"}", NULL, M_NONE, "nonce does not match"},
    {"nonce a prefix of the expected", NULL, S_RSA, NULL, "{\"nonce\":\"n-0S6\"}", NULL, M_NONE,
     "nonce does not match"},
    {"nonce longer than the expected", NULL, S_RSA, NULL, "{\"nonce\":\"" NONCE "x\"}", NULL, M_NONE,
     "nonce does not match"},
    {"no sub", NULL, S_RSA, NULL, NULL, "sub", M_NONE, "no sub"},
    {"empty sub", NULL, S_RSA, NULL, "{\"sub\":\"\"}", NULL, M_NONE, "no sub"},
    {"sub a number", NULL, S_RSA, NULL, "{\"sub\":42}", NULL, M_NONE, "no sub"},
    {"sub with a newline", NULL, S_RSA, NULL, "{\"sub\":\"a\\nb\"}", NULL, M_NONE, "sub holds control characters"},
    {"email a number", NULL, S_RSA, NULL, "{\"email\":1}", NULL, M_NONE, "email must be a string"},
    {"name an object", NULL, S_RSA, NULL, "{\"name\":{}}", NULL, M_NONE, "name must be a string"},
};

static void test_verify_table(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        const row_t *r = &rows[i];
        char *token = make_token(r);
        char label[200], err[256] = "(untouched)";
        mf_oidc_claims_t c;
        memset(&c, 0x5a, sizeof(c));
        snprintf(label, sizeof(label), "row %zu, %s", i, r->what);
        int rc = mf_oidc_verify_id_token_with_jwks(jwks, token, &expect, (time_t)NOW, &c, err, sizeof(err));
        if (r->want == NULL) {
            if (rc != 0)
                print_error("%s: refused: %s\n", label, err);
            MF_CHECK_INT(label, rc, 0);
            MF_CHECK_STR(label, c.sub, "user-1");
        } else {
            MF_CHECK_INT(label, rc, MF_EUNAUTHORIZED);
            MF_CHECK_CONTAINS(label, err, r->want);
            MF_CHECK_INT(label, (unsigned char)c.sub[0], 0x5a); /* out untouched on refusal */
        }
        free(token);
    }
}

/* ---------- claims out ---------- */

static mf_oidc_claims_t verify_ok(const row_t *r)
{
    char *token = make_token(r);
    char err[256] = "";
    mf_oidc_claims_t c;
    int rc = mf_oidc_verify_id_token_with_jwks(jwks, token, &expect, (time_t)NOW, &c, err, sizeof(err));
    if (rc != 0)
        print_error("%s: refused: %s\n", r->what, err);
    MF_CHECK_INT(r->what, rc, 0);
    free(token);
    return c;
}

static void test_claims_extracted(void **state)
{
    static const row_t both[] = {
        {"RS256", NULL, S_RSA, NULL, NULL, NULL, M_NONE, NULL},
        {"ES256", ES("ec1"), S_EC, NULL, NULL, NULL, M_NONE, NULL},
    };
    for (size_t i = 0; i < MF_T_ROWS(both); i++) {
        mf_oidc_claims_t c = verify_ok(&both[i]);
        MF_CHECK_STR(both[i].what, c.sub, "user-1");
        MF_CHECK_STR(both[i].what, c.email, "ada@example.com");
        MF_CHECK_INT(both[i].what, c.email_verified, 1);
        MF_CHECK_STR(both[i].what, c.name, "Ada Lovelace");
        MF_CHECK_INT(both[i].what, c.exp, 1800000600);
        MF_CHECK_INT(both[i].what, c.iat, 1800000000);
    }

    static const struct {
        row_t row;
        int verified;
    } ev[] = {
        {{"email_verified missing", NULL, S_RSA, NULL, NULL, "email_verified", M_NONE, NULL}, 0},
        {{"email_verified false", NULL, S_RSA, NULL, "{\"email_verified\":false}", NULL, M_NONE, NULL}, 0},
        {{"email_verified \"true\"", NULL, S_RSA, NULL, "{\"email_verified\":\"true\"}", NULL, M_NONE, NULL}, 0},
        {{"email_verified 1", NULL, S_RSA, NULL, "{\"email_verified\":1}", NULL, M_NONE, NULL}, 0},
        {{"email_verified true", NULL, S_RSA, NULL, "{\"email_verified\":true}", NULL, M_NONE, NULL}, 1},
    };
    for (size_t i = 0; i < MF_T_ROWS(ev); i++)
        MF_CHECK_INT(ev[i].row.what, verify_ok(&ev[i].row).email_verified, ev[i].verified);

    row_t absent = {"no email or name", NULL, S_RSA, NULL, NULL, "email", M_NONE, NULL};
    mf_oidc_claims_t c = verify_ok(&absent);
    MF_CHECK_STR("no email", c.email, "");

    /* a long name is cut at 255 bytes, before a split character */
    char name[420] = "ab", set[512];
    for (int k = 0; k < 200; k++)
        strcat(name, "\xc3\xa9");
    snprintf(set, sizeof(set), "{\"name\":\"%s\"}", name);
    row_t longname = {"long name", NULL, S_RSA, NULL, set, NULL, M_NONE, NULL};
    c = verify_ok(&longname);
    MF_CHECK_INT("long name cut on a character boundary", strlen(c.name), 254);
    MF_CHECK_INT("cut name is clean UTF-8", mf_text_is_clean(c.name, strlen(c.name), 0), 1);
    MF_CHECK_MEM("cut name is a prefix", c.name, 254, name, 254);

    /* 255-byte sub is accepted, 256 refused */
    char sub[300];
    memset(sub, 's', 255);
    sub[255] = '\0';
    snprintf(set, sizeof(set), "{\"sub\":\"%s\"}", sub);
    row_t sub255 = {"sub of 255 bytes", NULL, S_RSA, NULL, set, NULL, M_NONE, NULL};
    c = verify_ok(&sub255);
    MF_CHECK_STR("sub of 255 bytes", c.sub, sub);
    snprintf(set, sizeof(set), "{\"sub\":\"%ss\"}", sub);
    row_t sub256 = {"sub of 256 bytes", NULL, S_RSA, NULL, set, NULL, M_NONE, NULL};
    char *token = make_token(&sub256), err[256];
    MF_CHECK_INT("sub of 256 bytes", mf_oidc_verify_id_token_with_jwks(jwks, token, &expect, (time_t)NOW, &c, err,
                                                                       sizeof(err)),
                 MF_EUNAUTHORIZED);
    MF_CHECK_CONTAINS("sub of 256 bytes", err, "sub is longer than 255 bytes");
    free(token);
}

/* clock_skew < 0 takes MF_OIDC_CLOCK_SKEW; 0 allows none. */
static void test_clock_skew(void **state)
{
    static const struct {
        long long skew;
        const char *set;
        int want;
    } cases[] = {
        {-1, "{\"exp\":1799999940}", 0},                /* config default: 60 */
        {-1, "{\"exp\":1799999939}", MF_EUNAUTHORIZED},
        {0, "{\"exp\":1800000000}", 0},
        {0, "{\"exp\":1799999999}", MF_EUNAUTHORIZED},
        {0, "{\"nbf\":1800000001}", MF_EUNAUTHORIZED},
        {0, "{\"iat\":1800000001}", MF_EUNAUTHORIZED},
        {600, "{\"exp\":1799999400}", 0},
        {600, "{\"iat\":1800000600}", 0},
    };
    for (size_t i = 0; i < MF_T_ROWS(cases); i++) {
        row_t r = {"skew", NULL, S_RSA, NULL, cases[i].set, NULL, M_NONE, NULL};
        mf_oidc_expect_t e = expect;
        e.clock_skew = cases[i].skew;
        char *token = make_token(&r), err[256] = "", label[120];
        mf_oidc_claims_t c;
        snprintf(label, sizeof(label), "skew %lld, %s", cases[i].skew, cases[i].set);
        MF_CHECK_INT(label, mf_oidc_verify_id_token_with_jwks(jwks, token, &e, (time_t)NOW, &c, err, sizeof(err)),
                     cases[i].want);
        free(token);
    }
}

/* Hostile shapes never crash and are refused. */
static void test_garbage_tokens(void **state)
{
    static const char *const bad[] = {
        "", ".", "..", "...", "a.b", "a.b.c.d", "e30.e30.", ".e30.AAAA", "e30..AAAA", "e30.e30.AAAA",
        "eyJhbGciOiJSUzI1NiJ9", "\xff\xfe.\x80.\x01", "e30.e30.A", "e30.e30.AA=A", "=.=.=", " e30.e30.AAAA",
    };
    for (size_t i = 0; i < MF_T_ROWS(bad); i++) {
        char err[256] = "", label[80], shown[64];
        mf_oidc_claims_t c;
        snprintf(label, sizeof(label), "\"%s\"", mf_t_show(shown, sizeof(shown), bad[i], strlen(bad[i])));
        MF_CHECK_INT(label, mf_oidc_verify_id_token_with_jwks(jwks, bad[i], &expect, (time_t)NOW, &c, err, sizeof(err)),
                     MF_EUNAUTHORIZED);
        MF_CHECK_INT(label, err[0] != '\0', 1);
    }
    /* a huge token of dots and letters: refused on size before any work */
    char *big = mf_t_repeat('A', 1 << 20);
    big[100] = big[200] = '.';
    char err[256];
    mf_oidc_claims_t c;
    MF_CHECK_INT("1 MiB token", mf_oidc_verify_id_token_with_jwks(jwks, big, &expect, (time_t)NOW, &c, err, sizeof(err)),
                 MF_EUNAUTHORIZED);
    MF_CHECK_CONTAINS("1 MiB token", err, "larger than 16384 bytes");
    free(big);
    /* a JWK set that is not one */
    json_t *weird = mf_t_json("{\"keys\":{\"rsa1\":1}}");
    row_t r = {"valid", NULL, S_RSA, NULL, NULL, NULL, M_NONE, NULL};
    char *token = make_token(&r);
    MF_CHECK_INT("keys not an array", mf_oidc_verify_id_token_with_jwks(weird, token, &expect, (time_t)NOW, &c, err,
                                                                         sizeof(err)),
                 MF_EUNAUTHORIZED);
    MF_CHECK_CONTAINS("keys not an array", err, "unknown key rsa1");
    json_decref(weird);
    free(token);
}

/* ---------- PKCE, random strings, form encoding, Basic ---------- */

static int all_b64url(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_'))
            return 0;
    return 1;
}

static void test_pkce(void **state)
{
    char challenge[44];
    /* RFC 7636 appendix B */
    mf_oidc_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", challenge);
    MF_CHECK_STR("RFC 7636 appendix B", challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");

    char v1[44], c1[44], v2[44], c2[44];
    mf_oidc_pkce(v1, c1);
    mf_oidc_pkce(v2, c2);
    MF_CHECK_INT(v1, strlen(v1), 43);
    MF_CHECK_INT(c1, strlen(c1), 43);
    MF_CHECK_INT(v1, all_b64url(v1) && all_b64url(c1), 1);
    mf_oidc_pkce_challenge(v1, challenge);
    MF_CHECK_STR("challenge of the new verifier", c1, challenge);
    MF_CHECK_INT("two verifiers differ", strcmp(v1, v2) != 0, 1);

    static const size_t sizes[] = {1, 2, 3, 16, 32, 64};
    for (size_t i = 0; i < MF_T_ROWS(sizes); i++) {
        char out[100];
        memset(out, 'x', sizeof(out));
        mf_oidc_random_b64url(sizes[i], out);
        char label[40];
        snprintf(label, sizeof(label), "random_b64url(%zu)", sizes[i]);
        MF_CHECK_INT(label, strlen(out), MF_OIDC_B64URL_LEN(sizes[i]));
        MF_CHECK_INT(label, all_b64url(out), 1);
    }
}

static void test_form_encode(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"abcXYZ019-._~", "abcXYZ019-._~"},
        {"a b", "a%20b"},
        {"a+b", "a%2Bb"},
        {"a:b/c?d=e&f#g%", "a%3Ab%2Fc%3Fd%3De%26f%23g%25"},
        {"caf\xc3\xa9", "caf%C3%A9"},
        {"\x01\x7f\xff", "%01%7F%FF"},
        {"http://127.0.0.1:8080/auth/callback", "http%3A%2F%2F127.0.0.1%3A8080%2Fauth%2Fcallback"},
    };
    for (size_t i = 0; i < MF_T_ROWS(cases); i++) {
        char *got = mf_oidc_form_encode(cases[i].in);
        MF_CHECK_STR(cases[i].out, got, cases[i].out);
        free(got);
    }
}

static void test_basic_auth(void **state)
{
    static const struct {
        const char *id, *secret, *want;
    } cases[] = {
        {"a", "b", "Basic YTpi"},
        /* base64("mf%20client:s%3A%C3%A9%2F%2B"): both halves form-encoded first (RFC 6749 2.3.1) */
        {"mf client", "s:\xc3\xa9/+", "Basic bWYlMjBjbGllbnQ6cyUzQSVDMyVBOSUyRiUyQg=="},
        {"", "", "Basic Og=="},
    };
    for (size_t i = 0; i < MF_T_ROWS(cases); i++) {
        char *got = mf_oidc_basic_auth(cases[i].id, cases[i].secret);
        MF_CHECK_STR(cases[i].id, got, cases[i].want);
        free(got);
    }
}

/* ---------- a loopback HTTP server for the provider tests ---------- */

typedef struct {
    char path[128];
    int status;
    char *body;          /* new */
    char location[128];  /* Location header when non-empty */
    int delay_ms;        /* wait before answering */
    int hits;
} route_t;

static struct {
    int fd, port;
    pthread_t thread;
    pthread_mutex_t mu;
    route_t routes[64];
    size_t nroutes;
    char last[16384]; /* the last request, head and body */
} srv = {.mu = PTHREAD_MUTEX_INITIALIZER};

static char base[64]; /* "http://127.0.0.1:<port>" */

/* Add or replace the route of path; body is copied. */
static void route(const char *path, int status, const char *body, const char *location, int delay_ms)
{
    pthread_mutex_lock(&srv.mu);
    route_t *r = NULL;
    for (size_t i = 0; i < srv.nroutes; i++)
        if (strcmp(srv.routes[i].path, path) == 0)
            r = &srv.routes[i];
    if (r == NULL) {
        assert_true(srv.nroutes < MF_T_ROWS(srv.routes));
        r = &srv.routes[srv.nroutes++];
        memset(r, 0, sizeof(*r));
        snprintf(r->path, sizeof(r->path), "%s", path);
    }
    free(r->body);
    r->status = status;
    r->body = mf_strdup(body);
    snprintf(r->location, sizeof(r->location), "%s", location ? location : "");
    r->delay_ms = delay_ms;
    pthread_mutex_unlock(&srv.mu);
}

static int hits(const char *path)
{
    int n = 0;
    pthread_mutex_lock(&srv.mu);
    for (size_t i = 0; i < srv.nroutes; i++)
        if (strcmp(srv.routes[i].path, path) == 0)
            n = srv.routes[i].hits;
    pthread_mutex_unlock(&srv.mu);
    return n;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void serve_one(int c)
{
    char req[16384];
    size_t n = 0;
    char *end = NULL;
    while (n < sizeof(req) - 1 && end == NULL) {
        ssize_t r = recv(c, req + n, sizeof(req) - 1 - n, 0);
        if (r <= 0)
            return;
        n += (size_t)r;
        req[n] = '\0';
        end = strstr(req, "\r\n\r\n");
    }
    if (end == NULL)
        return;
    size_t want = (size_t)(end + 4 - req);
    for (char *h = strchr(req, '\n'); h && h < end; h = strchr(h + 1, '\n'))
        if (strncasecmp(h + 1, "Content-Length:", 15) == 0)
            want += strtoul(h + 16, NULL, 10);
    while (n < want && n < sizeof(req) - 1) {
        ssize_t r = recv(c, req + n, sizeof(req) - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        req[n] = '\0';
    }
    char path[256] = "";
    sscanf(req, "%*s %255s", path);

    int status = 404, delay = 0;
    char *body = mf_strdup("{\"error\":\"not_found\"}"), location[128] = "";
    pthread_mutex_lock(&srv.mu);
    memcpy(srv.last, req, n + 1);
    for (size_t i = 0; i < srv.nroutes; i++) {
        route_t *r = &srv.routes[i];
        if (strcmp(r->path, path) == 0) {
            r->hits++;
            status = r->status;
            free(body);
            body = mf_strdup(r->body);
            memcpy(location, r->location, sizeof(location));
            delay = r->delay_ms;
        }
    }
    pthread_mutex_unlock(&srv.mu);
    if (delay)
        usleep((useconds_t)delay * 1000);
    char head[512];
    int hn = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s%s%s"
                      "Connection: close\r\n\r\n",
                      status, strlen(body), location[0] ? "Location: " : "", location, location[0] ? "\r\n" : "");
    send_all(c, head, (size_t)hn);
    send_all(c, body, strlen(body));
    free(body);
}

static void *serve(void *arg)
{
    for (;;) {
        int c = accept(srv.fd, NULL, NULL);
        if (c < 0)
            return NULL; /* shut down */
        serve_one(c);
        close(c);
    }
}

/* A port nothing listens on. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Serve the discovery document of issuer base+prefix (naming doc_issuer when non-NULL) at
 * <prefix without one trailing slash>/.well-known/openid-configuration, and keys at <...>/jwks. */
static void provider_routes(const char *prefix, const char *doc_issuer, const json_t *keys)
{
    char path[256], issuer[192], doc[2048], root[128];
    size_t n = strlen(prefix);
    snprintf(issuer, sizeof(issuer), "%s%s", base, prefix);
    snprintf(root, sizeof(root), "%.*s", (int)(n > 0 && prefix[n - 1] == '/' ? n - 1 : n), prefix);
    snprintf(doc, sizeof(doc),
             "{\"issuer\":\"%s\",\"authorization_endpoint\":\"%s%s/auth\",\"token_endpoint\":\"%s%s/token\","
             "\"jwks_uri\":\"%s%s/jwks\",\"end_session_endpoint\":\"%s%s/session/end\","
             "\"response_types_supported\":[\"code\"]}",
             doc_issuer ? doc_issuer : issuer, base, root, base, root, base, root, base, root);
    snprintf(path, sizeof(path), "%s/.well-known/openid-configuration", root);
    route(path, 200, doc, NULL, 0);
    char *k = json_dumps(keys, JSON_COMPACT);
    snprintf(path, sizeof(path), "%s/jwks", root);
    route(path, 200, k, NULL, 0);
    free(k);
}

static int setup_server(void **state)
{
    if (setup_keys(state) != 0)
        return -1;
    srv.fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(srv.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (bind(srv.fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(srv.fd, 64) != 0 ||
        getsockname(srv.fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    srv.port = ntohs(a.sin_port);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", srv.port);
    /* never through a proxy from the environment */
    setenv("no_proxy", "*", 1);
    setenv("NO_PROXY", "*", 1);
    return pthread_create(&srv.thread, NULL, serve, NULL) == 0 ? 0 : -1;
}

static int teardown_server(void **state)
{
    shutdown(srv.fd, SHUT_RDWR); /* wakes accept */
    pthread_join(srv.thread, NULL);
    close(srv.fd);
    for (size_t i = 0; i < srv.nroutes; i++)
        free(srv.routes[i].body);
    return teardown_keys(state);
}

static void test_provider_get(void **state)
{
    mf_oidc_cache_clear();
    provider_routes("/good", NULL, jwks);
    char issuer[128], err[512] = "", want[192];
    snprintf(issuer, sizeof(issuer), "%s/good", base);
    mf_oidc_meta_t m;
    int rc = mf_oidc_provider_get(issuer, &m, err, sizeof(err));
    if (rc != 0)
        print_error("provider_get: %s\n", err);
    MF_CHECK_INT("provider_get", rc, 0);
    MF_CHECK_STR("issuer", m.issuer, issuer);
    snprintf(want, sizeof(want), "%s/auth", issuer);
    MF_CHECK_STR("authorization_endpoint", m.authorization_endpoint, want);
    snprintf(want, sizeof(want), "%s/token", issuer);
    MF_CHECK_STR("token_endpoint", m.token_endpoint, want);
    snprintf(want, sizeof(want), "%s/jwks", issuer);
    MF_CHECK_STR("jwks_uri", m.jwks_uri, want);
    snprintf(want, sizeof(want), "%s/session/end", issuer);
    MF_CHECK_STR("end_session_endpoint", m.end_session_endpoint, want);
    MF_CHECK_INT("discovery fetched once", hits("/good/.well-known/openid-configuration"), 1);
    MF_CHECK_INT("jwks fetched once", hits("/good/jwks"), 1);

    /* cached: no new request */
    mf_oidc_meta_t again;
    MF_CHECK_INT("cached provider_get", mf_oidc_provider_get(issuer, &again, err, sizeof(err)), 0);
    MF_CHECK_STR("cached token_endpoint", again.token_endpoint, m.token_endpoint);
    MF_CHECK_INT("discovery still fetched once", hits("/good/.well-known/openid-configuration"), 1);
    MF_CHECK_INT("jwks still fetched once", hits("/good/jwks"), 1);

    /* cleared: fetched again */
    mf_oidc_cache_clear();
    MF_CHECK_INT("provider_get after clear", mf_oidc_provider_get(issuer, &again, err, sizeof(err)), 0);
    MF_CHECK_INT("discovery fetched again", hits("/good/.well-known/openid-configuration"), 2);

    /* an issuer with a trailing slash: one slash dropped when joining, compared exactly */
    provider_routes("/slash/", NULL, jwks);
    snprintf(issuer, sizeof(issuer), "%s/slash/", base);
    rc = mf_oidc_provider_get(issuer, &m, err, sizeof(err));
    if (rc != 0)
        print_error("provider_get with a slash: %s\n", err);
    MF_CHECK_INT("issuer with a trailing slash", rc, 0);
    MF_CHECK_STR("issuer with a trailing slash kept", m.issuer, issuer);
    MF_CHECK_INT("fetched without the double slash", hits("/slash/.well-known/openid-configuration"), 1);
    snprintf(want, sizeof(want), "%s/slash/jwks", base);
    MF_CHECK_STR("jwks_uri under a slashed issuer", m.jwks_uri, want);

    /* end_session_endpoint is optional */
    char doc[512];
    snprintf(doc, sizeof(doc), "{\"issuer\":\"%s/min\",\"authorization_endpoint\":\"%s/a\","
             "\"token_endpoint\":\"%s/t\",\"jwks_uri\":\"%s/good/jwks\"}", base, base, base, base);
    route("/min/.well-known/openid-configuration", 200, doc, NULL, 0);
    snprintf(issuer, sizeof(issuer), "%s/min", base);
    MF_CHECK_INT("minimal document", mf_oidc_provider_get(issuer, &m, err, sizeof(err)), 0);
    MF_CHECK_STR("no end_session_endpoint", m.end_session_endpoint, "");
}

static void test_provider_errors(void **state)
{
    mf_oidc_cache_clear();
    char other[128], doc[512];
    snprintf(other, sizeof(other), "%s/other", base);
    provider_routes("/mismatch", other, jwks);
    snprintf(doc, sizeof(doc), "{\"issuer\":\"%s/slashdoc/\",\"authorization_endpoint\":\"%s/a\","
             "\"token_endpoint\":\"%s/t\",\"jwks_uri\":\"%s/slashdoc/jwks\"}", base, base, base, base);
    route("/slashdoc/.well-known/openid-configuration", 200, doc, NULL, 0);
    char *big = mf_t_repeat(' ', 2 * 1024 * 1024);
    route("/big/.well-known/openid-configuration", 200, big, NULL, 0);
    free(big);
    route("/notjson/.well-known/openid-configuration", 200, "hello", NULL, 0);
    route("/array/.well-known/openid-configuration", 200, "[]", NULL, 0);
    snprintf(doc, sizeof(doc), "{\"issuer\":\"%s/noep\",\"authorization_endpoint\":\"%s/a\",\"jwks_uri\":\"%s/j\"}",
             base, base, base);
    route("/noep/.well-known/openid-configuration", 200, doc, NULL, 0);
    snprintf(doc, sizeof(doc), "{\"issuer\":\"%s/ftp\",\"authorization_endpoint\":\"%s/a\","
             "\"token_endpoint\":\"ftp://x/t\",\"jwks_uri\":\"%s/j\"}", base, base, base);
    route("/ftp/.well-known/openid-configuration", 200, doc, NULL, 0);
    snprintf(doc, sizeof(doc), "{\"issuer\":\"%s/badjwks\",\"authorization_endpoint\":\"%s/a\","
             "\"token_endpoint\":\"%s/t\",\"jwks_uri\":\"%s/badjwks/jwks\"}", base, base, base, base);
    route("/badjwks/.well-known/openid-configuration", 200, doc, NULL, 0);
    route("/badjwks/jwks", 200, "{\"keys\":{}}", NULL, 0);
    snprintf(doc, sizeof(doc), "{\"issuer\":\"%s/nojwks\",\"authorization_endpoint\":\"%s/a\","
             "\"token_endpoint\":\"%s/t\",\"jwks_uri\":\"%s/nojwks/jwks\"}", base, base, base, base);
    route("/nojwks/.well-known/openid-configuration", 200, doc, NULL, 0);
    route("/redir/.well-known/openid-configuration", 302, "", "file:///etc/passwd", 0);
    route("/slow/.well-known/openid-configuration", 200, "{}", NULL, 700);

    static const struct {
        const char *prefix; /* appended to base; "!" prefixed: used as the whole issuer */
        int want;
        const char *msg;
    } cases[] = {
        {"/missing", MF_EUNAVAILABLE, "/missing/.well-known/openid-configuration failed: HTTP 404"},
        {"/mismatch", MF_EUNAVAILABLE, "/other, expected http://127.0.0.1"},
        {"/slashdoc", MF_EUNAVAILABLE, "names issuer"}, /* the document says .../slashdoc/ */
        {"/big", MF_EUNAVAILABLE, "reply larger than 1048576 bytes"},
        {"/notjson", MF_EUNAVAILABLE, "not a JSON object"},
        {"/array", MF_EUNAVAILABLE, "not a JSON object"},
        {"/noep", MF_EUNAVAILABLE, "token_endpoint is missing"},
        {"/ftp", MF_EUNAVAILABLE, "token_endpoint is not an http(s) URL"},
        {"/badjwks", MF_EUNAVAILABLE, "not a JWK set"},
        {"/nojwks", MF_EUNAVAILABLE, "/nojwks/jwks failed: HTTP 404"},
        {"/redir", MF_EUNAVAILABLE, "failed:"},
        {"/slow", MF_EUNAVAILABLE, "failed:"},
        {"!file:///etc/passwd", MF_EINVALID_REQUEST, "not an http(s) URL"},
        {"!ftp://127.0.0.1/x", MF_EINVALID_REQUEST, "not an http(s) URL"},
        {"!http://", MF_EINVALID_REQUEST, "not an http(s) URL"},
        {"/q?x=1", MF_EINVALID_REQUEST, "without query or fragment"},
        {"/f#x", MF_EINVALID_REQUEST, "without query or fragment"},
        {"/a b", MF_EINVALID_REQUEST, "not an http(s) URL"},
    };
    char cerr[200];
    MF_CHECK_INT("timeout 300 ms", mf_config_set(MF_CFG_OIDC_HTTP_TIMEOUT_MS, "300", cerr, sizeof(cerr)), 0);
    for (size_t i = 0; i < MF_T_ROWS(cases); i++) {
        char issuer[256], err[512] = "", label[300];
        if (cases[i].prefix[0] == '!')
            snprintf(issuer, sizeof(issuer), "%s", cases[i].prefix + 1);
        else
            snprintf(issuer, sizeof(issuer), "%s%s", base, cases[i].prefix);
        mf_oidc_meta_t m;
        uint64_t t0 = mf_now_ms();
        int rc = mf_oidc_provider_get(issuer, &m, err, sizeof(err));
        snprintf(label, sizeof(label), "issuer %s: %s", issuer, err);
        MF_CHECK_INT(label, rc, cases[i].want);
        MF_CHECK_CONTAINS(label, err, cases[i].msg);
        MF_CHECK_INT(label, mf_now_ms() - t0 < 3000, 1);
    }
    MF_CHECK_INT("redirect not followed to file://", hits("/redir/.well-known/openid-configuration"), 1);

    /* nothing listening */
    char issuer[128], err[512] = "";
    snprintf(issuer, sizeof(issuer), "http://127.0.0.1:%d/x", closed_port());
    mf_oidc_meta_t m;
    MF_CHECK_INT("connection refused", mf_oidc_provider_get(issuer, &m, err, sizeof(err)), MF_EUNAVAILABLE);
    MF_CHECK_CONTAINS("connection refused", err, "discovery at http://127.0.0.1:");
    MF_CHECK_INT("timeout back to default", mf_config_set(MF_CFG_OIDC_HTTP_TIMEOUT_MS, "5000", cerr, sizeof(cerr)), 0);
}

static void test_exchange_code(void **state)
{
    mf_oidc_cache_clear();
    provider_routes("/ex", NULL, jwks);
    route("/ex/token", 200, "{\"access_token\":\"at\",\"token_type\":\"Bearer\",\"id_token\":\"h.p.s\"}", NULL, 0);
    char issuer[128], err[512] = "";
    snprintf(issuer, sizeof(issuer), "%s/ex", base);
    mf_oidc_meta_t m;
    MF_CHECK_INT("provider", mf_oidc_provider_get(issuer, &m, err, sizeof(err)), 0);

    char *tok = NULL;
    int rc = mf_oidc_exchange_code(&m, "mf client", "s:\xc3\xa9/+", "c/1 +", "http://app/cb?x=1", "v-1_~", &tok,
                                   err, sizeof(err));
    if (rc != 0)
        print_error("exchange: %s\n", err);
    MF_CHECK_INT("exchange", rc, 0);
    MF_CHECK_STR("id_token", tok, "h.p.s");
    free(tok);
    pthread_mutex_lock(&srv.mu);
    char last[sizeof(srv.last)];
    memcpy(last, srv.last, sizeof(last));
    pthread_mutex_unlock(&srv.mu);
    MF_CHECK_CONTAINS("request line", last, "POST /ex/token HTTP/1.1\r\n");
    MF_CHECK_CONTAINS("basic auth", last, "\r\nAuthorization: Basic bWYlMjBjbGllbnQ6cyUzQSVDMyVBOSUyRiUyQg==\r\n");
    MF_CHECK_CONTAINS("content type", last, "\r\nContent-Type: application/x-www-form-urlencoded\r\n");
    MF_CHECK_CONTAINS("form", last,
                      "\r\n\r\ngrant_type=authorization_code&code=c%2F1%20%2B&redirect_uri=http%3A%2F%2Fapp%2Fcb%3Fx%3D1"
                      "&code_verifier=v-1_~");
    MF_CHECK_INT("no client_secret in the body", strstr(last, "client_secret") == NULL, 1);

    static const struct {
        int status;
        const char *body;
        int want;
        const char *msg;
    } cases[] = {
        {400, "{\"error\":\"invalid_grant\",\"error_description\":\"grant request is invalid\"}", MF_EUNAUTHORIZED,
         "refused: HTTP 400 invalid_grant (grant request is invalid)"},
        {400, "{\"error\":\"invalid_grant\"}", MF_EUNAUTHORIZED, "refused: HTTP 400 invalid_grant"},
        {401, "{\"error\":\"invalid_client\",\"error_description\":\"client authentication failed\"}", MF_EUNAVAILABLE,
         "HTTP 401 invalid_client (client authentication failed)"},
        {400, "{\"error\":\"invalid_request\",\"error_description\":\"bad\\u0001\\nthing\"}", MF_EUNAVAILABLE,
         "invalid_request (bad??thing)"},
        {500, "oops", MF_EUNAVAILABLE, "failed: HTTP 500"},
        {302, "", MF_EUNAVAILABLE, "failed: HTTP 302"},
        {200, "{\"access_token\":\"at\"}", MF_EUNAVAILABLE, "HTTP 200 without an id_token"},
        {200, "{\"id_token\":5}", MF_EUNAVAILABLE, "without an id_token"},
        {200, "not json", MF_EUNAVAILABLE, "without an id_token"},
    };
    for (size_t i = 0; i < MF_T_ROWS(cases); i++) {
        route("/ex/token", cases[i].status, cases[i].body, cases[i].status == 302 ? "http://127.0.0.1:1/" : NULL, 0);
        char label[200];
        tok = NULL;
        rc = mf_oidc_exchange_code(&m, "id", "secret", "code", "http://app/cb", "v", &tok, err, sizeof(err));
        snprintf(label, sizeof(label), "token endpoint HTTP %d %s: %s", cases[i].status, cases[i].body, err);
        MF_CHECK_INT(label, rc, cases[i].want);
        MF_CHECK_CONTAINS(label, err, cases[i].msg);
        MF_CHECK_INT(label, tok == NULL, 1);
        MF_CHECK_INT("the secret never appears in a message", strstr(err, "secret") == NULL, 1);
    }

    /* bad codes are refused before any request */
    int before = hits("/ex/token");
    char *longcode = mf_t_repeat('c', 4097);
    const char *codes[] = {"", longcode};
    for (size_t i = 0; i < MF_T_ROWS(codes); i++) {
        rc = mf_oidc_exchange_code(&m, "id", "secret", codes[i], "http://app/cb", "v", &tok, err, sizeof(err));
        MF_CHECK_INT("bad code", rc, MF_EUNAUTHORIZED);
        MF_CHECK_CONTAINS("bad code", err, "authorization code is missing or longer than 4096 bytes");
    }
    free(longcode);
    MF_CHECK_INT("no request for bad codes", hits("/ex/token"), before);
}

/* A token for issuer signed by signer with kid. */
static char *token_for(const char *issuer, const char *kid, signer_t signer)
{
    char header[128], set[256];
    snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"kid\":\"%s\"}",
             signer == S_EC || signer == S_EC_OTHER ? "ES256" : "RS256", kid);
    long long now = (long long)time(NULL);
    snprintf(set, sizeof(set), "{\"iss\":\"%s\",\"iat\":%lld,\"exp\":%lld}", issuer, now, now + 300);
    row_t r = {"net", header, signer, NULL, set, NULL, M_NONE, NULL};
    return make_token(&r);
}

static void test_verify_networked(void **state)
{
    mf_oidc_cache_clear();
    json_t *only_rsa1 = mf_t_json("{\"keys\":[]}");
    json_array_append_new(json_object_get(only_rsa1, "keys"), jwk_of(rsa_key, "rsa1", "RS256", "sig", NULL));
    provider_routes("/net", NULL, only_rsa1);
    char issuer[128], err[512] = "";
    snprintf(issuer, sizeof(issuer), "%s/net", base);
    mf_oidc_expect_t e = {issuer, CLIENT, NONCE, -1};
    mf_oidc_claims_t c;

    char *t = token_for(issuer, "rsa1", S_RSA);
    int rc = mf_oidc_verify_id_token(&e, t, &c, err, sizeof(err));
    if (rc != 0)
        print_error("verify: %s\n", err);
    MF_CHECK_INT("valid token", rc, 0);
    MF_CHECK_STR("sub", c.sub, "user-1");
    MF_CHECK_INT("second verification uses the cached key", mf_oidc_verify_id_token(&e, t, &c, err, sizeof(err)), 0);
    MF_CHECK_INT("discovery once", hits("/net/.well-known/openid-configuration"), 1);
    MF_CHECK_INT("jwks once", hits("/net/jwks"), 1);
    free(t);

    /* the iss check is against expect->issuer, which is also where the keys came from */
    char other[160];
    snprintf(other, sizeof(other), "%s/elsewhere", base);
    t = token_for(other, "rsa1", S_RSA);
    MF_CHECK_INT("token of another issuer", mf_oidc_verify_id_token(&e, t, &c, err, sizeof(err)), MF_EUNAUTHORIZED);
    MF_CHECK_CONTAINS("token of another issuer", err, "issuer");
    free(t);

    /* rotation: the provider adds rsa2; the first token with it refetches the JWKS and passes */
    json_array_append_new(json_object_get(only_rsa1, "keys"), jwk_of(rsa_other, "rsa2", "RS256", "sig", NULL));
    provider_routes("/net", NULL, only_rsa1);
    t = token_for(issuer, "rsa2", S_RSA_OTHER);
    rc = mf_oidc_verify_id_token(&e, t, &c, err, sizeof(err));
    if (rc != 0)
        print_error("verify after rotation: %s\n", err);
    MF_CHECK_INT("rotated key", rc, 0);
    MF_CHECK_INT("jwks refetched once", hits("/net/jwks"), 2);
    MF_CHECK_INT("discovery not refetched", hits("/net/.well-known/openid-configuration"), 1);
    free(t);

    /* forged kids within 10 s of that refetch: refused without asking the provider */
    for (int i = 0; i < 20; i++) {
        char kid[32];
        snprintf(kid, sizeof(kid), "forged-%d", i);
        t = token_for(issuer, kid, S_RSA);
        MF_CHECK_INT("forged kid", mf_oidc_verify_id_token(&e, t, &c, err, sizeof(err)), MF_EUNAUTHORIZED);
        MF_CHECK_CONTAINS("forged kid", err, "unknown key forged-");
        free(t);
    }
    MF_CHECK_INT("no refetch flood", hits("/net/jwks"), 2);

    /* a fresh cache: one forged kid costs exactly one refetch, the next none */
    mf_oidc_cache_clear();
    for (int i = 0; i < 3; i++) {
        t = token_for(issuer, "forged", S_RSA);
        MF_CHECK_INT("forged kid, fresh cache", mf_oidc_verify_id_token(&e, t, &c, err, sizeof(err)), MF_EUNAUTHORIZED);
        MF_CHECK_CONTAINS("forged kid, fresh cache", err, "unknown key forged");
        free(t);
    }
    MF_CHECK_INT("one fetch and one refetch", hits("/net/jwks"), 4);

    /* provider down and not cached: unavailable, not unauthorized */
    mf_oidc_cache_clear();
    char down[128];
    snprintf(down, sizeof(down), "http://127.0.0.1:%d/down", closed_port());
    mf_oidc_expect_t ed = {down, CLIENT, NONCE, -1};
    t = token_for(down, "rsa1", S_RSA);
    MF_CHECK_INT("provider down", mf_oidc_verify_id_token(&ed, t, &c, err, sizeof(err)), MF_EUNAVAILABLE);
    free(t);
    json_decref(only_rsa1);
}

/* Threads verify while the cache is cleared under them (ASan checks the key lifetimes). */
typedef struct {
    const mf_oidc_expect_t *e;
    const char *token;
    int failures;
} worker_t;

static void *verify_worker(void *arg)
{
    worker_t *w = arg;
    for (int i = 0; i < 200; i++) {
        mf_oidc_claims_t c;
        char err[256];
        if (mf_oidc_verify_id_token(w->e, w->token, &c, err, sizeof(err)) != 0 || strcmp(c.sub, "user-1") != 0)
            w->failures++;
    }
    return NULL;
}

static void test_verify_threads(void **state)
{
    mf_oidc_cache_clear();
    provider_routes("/mt", NULL, jwks);
    char issuer[128];
    snprintf(issuer, sizeof(issuer), "%s/mt", base);
    mf_oidc_expect_t e = {issuer, CLIENT, NONCE, -1};
    char *rs = token_for(issuer, "rsa1", S_RSA), *es = token_for(issuer, "ec1", S_EC);
    pthread_t th[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){&e, i % 2 ? es : rs, 0};
        assert_int_equal(pthread_create(&th[i], NULL, verify_worker, &w[i]), 0);
    }
    for (int i = 0; i < 5; i++) {
        usleep(2000);
        mf_oidc_cache_clear();
    }
    int failures = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        failures += w[i].failures;
    }
    MF_CHECK_INT("every verification passes while the cache is cleared", failures, 0);
    free(rs);
    free(es);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_table),
        cmocka_unit_test(test_claims_extracted),
        cmocka_unit_test(test_clock_skew),
        cmocka_unit_test(test_garbage_tokens),
        cmocka_unit_test(test_pkce),
        cmocka_unit_test(test_form_encode),
        cmocka_unit_test(test_basic_auth),
        cmocka_unit_test(test_provider_get),
        cmocka_unit_test(test_provider_errors),
        cmocka_unit_test(test_exchange_code),
        cmocka_unit_test(test_verify_networked),
        cmocka_unit_test(test_verify_threads),
    };
    return cmocka_run_group_tests(tests, setup_server, teardown_server);
}
