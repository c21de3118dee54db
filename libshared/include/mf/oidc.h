/*
 * oidc.h: the OpenID Connect relying party (authorization code flow with
 * PKCE, client_secret_basic), used by mf-api's /auth/login and
 * /auth/callback.
 *
 * Every function may block on the network (libcurl, bounded by
 * MF_OIDC_HTTP_TIMEOUT_MS): call them from a worker thread, never from an
 * event loop. All of them are thread-safe. Provider metadata and JWKS are
 * cached per issuer for MF_OIDC_CACHE_TTL seconds behind one mutex.
 *
 * ID tokens are parsed and verified here (base64url + jansson + OpenSSL EVP),
 * not by libjwt: only RS256 and ES256 are accepted, the key always comes from
 * the issuer's JWKS by kid (never from the token), and iss, aud, azp, exp,
 * nbf, iat, nonce and sub are all checked.
 *
 * Errors: 0 or a negative MF_E*; a readable reason goes into err (errlen
 * bytes, always NUL-terminated when errlen > 0; it never holds secrets, and
 * text from the provider or the token is truncated and made printable).
 */
#ifndef MF_OIDC_H
#define MF_OIDC_H

#include <stddef.h>
#include <time.h>
#include <jansson.h>
#include "mf/error.h"

/* Length (without NUL) of the base64url text of n bytes, no padding. */
#define MF_OIDC_B64URL_LEN(n) (((n) * 4 + 2) / 3)
/* Largest ID token accepted, in bytes. */
#define MF_OIDC_TOKEN_MAX 16384
/* Largest URL kept in mf_oidc_meta_t, NUL included. */
#define MF_OIDC_URL_MAX 1024

/* ---------- PKCE, state and nonce ---------- */

/* A new PKCE pair (RFC 7636, S256): verifier is 43 base64url chars made from
 * 32 random bytes, challenge = base64url(SHA-256(verifier)); both
 * NUL-terminated. Keep the verifier server-side, send the challenge. */
void mf_oidc_pkce(char verifier[44], char challenge[44]);

/* The S256 challenge of verifier (NUL-terminated, borrowed) into challenge:
 * 43 base64url chars plus NUL. */
void mf_oidc_pkce_challenge(const char *verifier, char challenge[44]);

/* nbytes (1..64) random bytes as base64url without padding into out, which
 * holds MF_OIDC_B64URL_LEN(nbytes) + 1 bytes (for state and nonce: 32 bytes
 * give 43 chars). */
void mf_oidc_random_b64url(size_t nbytes, char *out);

/* ---------- provider metadata ---------- */

/* What the relying party needs from a provider's discovery document. Fixed
 * buffers: a plain value, copy it freely, nothing to free. */
typedef struct {
    char issuer[MF_OIDC_URL_MAX]; /* equal to the configured issuer */
    char authorization_endpoint[MF_OIDC_URL_MAX];
    char token_endpoint[MF_OIDC_URL_MAX];
    char jwks_uri[MF_OIDC_URL_MAX];
    char end_session_endpoint[MF_OIDC_URL_MAX]; /* "" when the provider has none */
} mf_oidc_meta_t;

/* The metadata of issuer (an http or https URL, borrowed) into *out.
 *
 * Served from the cache when fresh; otherwise fetches
 * <issuer>/.well-known/openid-configuration (one trailing slash of issuer
 * dropped before joining), requires its "issuer" to equal issuer exactly and
 * its endpoints to be http(s) URLs, then fetches jwks_uri, and caches both for
 * MF_OIDC_CACHE_TTL seconds. GETs follow at most 3 redirects, http(s) only;
 * replies over 1 MiB are refused.
 *
 * Errors: MF_EINVALID_REQUEST when issuer is not an http(s) URL without
 * query or fragment; MF_EUNAVAILABLE when the provider cannot be reached or
 * answers wrongly ("discovery at <url> failed: HTTP 404",
 * "discovery at <url> names issuer <x>, expected <y>", ...). */
int mf_oidc_provider_get(const char *issuer, mf_oidc_meta_t *out, char *err, size_t errlen) MF_MUST_CHECK;

/* Forget every cached provider, JWKS and key (tests; safe at any time, also
 * while other threads verify). */
void mf_oidc_cache_clear(void);

/* ---------- code exchange ---------- */

/* Exchange an authorization code at m->token_endpoint: POST
 * grant_type=authorization_code, code, redirect_uri and code_verifier as
 * application/x-www-form-urlencoded, authenticated with client_secret_basic
 * (see mf_oidc_basic_auth). Redirects are not followed. All strings borrowed.
 *
 * On success *id_token_out is the id_token of the reply (new, free()); it is
 * NOT verified yet: pass it to mf_oidc_verify_id_token.
 *
 * Errors: MF_EUNAUTHORIZED when code is empty or over 4096 bytes, or the
 * provider answers HTTP 400 invalid_grant (code expired, used, or issued for
 * another client or redirect URI: start the login again); MF_EUNAVAILABLE for
 * every other failure (transport, 5xx, invalid_client and other
 * configuration errors, a reply without id_token). The message includes the
 * provider's error and error_description when it sent JSON. */
int mf_oidc_exchange_code(const mf_oidc_meta_t *m, const char *client_id, const char *client_secret,
                          const char *code, const char *redirect_uri, const char *code_verifier,
                          char **id_token_out, char *err, size_t errlen) MF_MUST_CHECK;

/* s (borrowed) percent-encoded for application/x-www-form-urlencoded: every
 * byte but ALPHA, DIGIT, '-', '.', '_' and '~' becomes %XX (uppercase hex;
 * space too, which every form decoder reads back as a space). New string. */
char *mf_oidc_form_encode(const char *s);

/* The Authorization header value of client_secret_basic (RFC 6749 2.3.1):
 * "Basic " + base64(form_encode(client_id) ":" form_encode(client_secret)).
 * New string (free()); it holds the secret, never log it. */
char *mf_oidc_basic_auth(const char *client_id, const char *client_secret);

/* ---------- ID token verification ---------- */

/* What an ID token must say. All strings borrowed, none NULL. */
typedef struct {
    const char *issuer;    /* iss must equal this exactly; also the cache key */
    const char *client_id; /* aud must be or contain this; azp, if present, must equal it */
    const char *nonce;     /* nonce must equal this (compared in constant time) */
    long long clock_skew;  /* seconds allowed on exp, nbf, iat; < 0: MF_OIDC_CLOCK_SKEW */
} mf_oidc_expect_t;

/* What a verified ID token says about the person. */
typedef struct {
    char sub[256];      /* never empty */
    char email[320];    /* "" when absent */
    int email_verified; /* 1 only when the claim is JSON true */
    char name[256];     /* "" when absent; cut at 255 bytes on a UTF-8 boundary */
    long long exp;      /* expiry, Unix seconds */
    long long iat;      /* issue time, Unix seconds */
} mf_oidc_claims_t;

/* Verify token (NUL-terminated, borrowed) against the keys of jwks (a JWK
 * set object {"keys":[...]}, borrowed) at time now; pure, no network, no
 * cache. *out is written only on success.
 *
 * Refused, each with MF_EUNAUTHORIZED and a reason naming what failed: a
 * token over MF_OIDC_TOKEN_MAX bytes or not three non-empty base64url parts
 * (padding and non-canonical encodings too); a header that is not a JSON
 * object, has crit, has no kid, or an alg other than RS256 or ES256 (none,
 * HS*, PS*, ...); no JWK with that kid, or one whose kty does not fit the alg
 * (RSA with n,e of 2048..8192 bits; EC P-256 with 32-byte x,y on the curve),
 * whose alg differs from the header's or whose use is not sig; a signature
 * that does not verify or has the wrong length (ES256: raw 64-byte r||s);
 * then, only after the signature verified, the claims: iss not equal to
 * expect->issuer; aud neither expect->client_id nor an array holding it; an
 * aud array of several entries without azp; azp not client_id; exp absent or
 * now > exp + skew; nbf present and now < nbf - skew; iat absent or
 * iat > now + skew; nonce absent or different; sub absent, empty, over 255
 * bytes or not clean text; email or name present but not a string. Times may
 * be JSON integers or reals. */
int mf_oidc_verify_id_token_with_jwks(const json_t *jwks, const char *token, const mf_oidc_expect_t *expect,
                                      time_t now, mf_oidc_claims_t *out, char *err,
                                      size_t errlen) MF_MUST_CHECK;

/* Verify token as above against the cached JWKS of expect->issuer (fetched
 * through mf_oidc_provider_get when not cached), at the current time. Built
 * keys are cached, so a verification costs one signature check. When the
 * kid is unknown the JWKS is fetched again (at most once per 10 s per
 * issuer, so forged kids cannot flood the provider) and the check retried.
 *
 * (Refines the brief's signature: the issuer comes from expect->issuer only,
 * so the keys and the iss check can never belong to different providers.)
 *
 * Errors: MF_EUNAUTHORIZED as mf_oidc_verify_id_token_with_jwks;
 * MF_EUNAVAILABLE when the provider or its JWKS cannot be fetched;
 * MF_EINVALID_REQUEST for a malformed issuer. */
int mf_oidc_verify_id_token(const mf_oidc_expect_t *expect, const char *token, mf_oidc_claims_t *out, char *err,
                            size_t errlen) MF_MUST_CHECK;

#endif
