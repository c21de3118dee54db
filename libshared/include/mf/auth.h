/*
 * auth.h: API keys and the identities they resolve to.
 *
 * A key is mf_<env>_<prefix>_<secret>: prefix 12 hex chars (public, indexed),
 * secret 64 hex chars (256 random bits). The store keeps the prefix and the
 * SHA-256 of the whole key; a fast hash is right for random secrets and costs
 * every request nothing. Verified keys are cached per loop thread for
 * MF_KEY_CACHE_TTL seconds so most requests need no lookup.
 */
#ifndef MF_AUTH_H
#define MF_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include "mf/error.h"

typedef enum {
    MF_ROLE_PUBLIC = 0, /* no credentials needed */
    MF_ROLE_VIEWER = 1,
    MF_ROLE_EDITOR = 2,
    MF_ROLE_ADMIN = 3,
    MF_ROLE_BILLING_ADMIN = 90,   /* platform-level, no tenant: reads tenants and plans, runs billing */
    MF_ROLE_PLATFORM_ADMIN = 100, /* platform-level, no tenant: every /api/v1/admin route */
} mf_role_t;

/* Name of a role ("viewer", "platform_admin"); NULL for other values. */
const char *mf_role_name(mf_role_t role);
/* Parse a role name (including the platform roles); MF_ROLE_PUBLIC when unknown. */
mf_role_t mf_role_parse(const char *s);
/* Whether a caller holding `have` may use a route that needs `need`: tenant roles are ordered
 * viewer < editor < admin and never reach platform routes; platform roles reach only platform
 * routes (billing_admin those marked billing_admin, platform_admin all of them). */
int mf_role_allows(mf_role_t have, mf_role_t need);

/* How the caller proved who they are. */
typedef enum {
    MF_CRED_NONE = 0,
    MF_CRED_KEY,     /* Authorization: Bearer <api key> */
    MF_CRED_SESSION, /* a browser session: the mf_session cookie, or Bearer <session token> */
} mf_cred_kind_t;

/* Who is calling, filled by authentication (and cached with the credential). */
typedef struct {
    mf_cred_kind_t kind;
    int via_cookie;      /* the session came in a cookie: mutations need the CSRF token */
    int write_all;       /* may write anywhere in the tenant (else only within scope or grants) */
    int suspended;       /* the tenant is suspended or being deleted */
    mf_role_t role;      /* the highest role usable somewhere: what route checks compare */
    char tenant_id[40];  /* "" for the platform key */
    char cred_id[40];    /* the key's or the session's id */
    char user_id[40];    /* the person ("" for service keys and the platform key) */
    char actor[128];     /* "key:<prefix>" or "user:<email>": who the audit log names */
    char scope[48];      /* "" or "domain:<uuid>" / "dataset:<uuid>" (scoped keys) */
    char csrf_token[48]; /* sessions: what X-CSRF-Token must carry */
    long long emit_quota; /* the tenant plan's emit events per month (0 for the platform key) */
} mf_identity_t;

/* Session tokens: mfs_<64 hex>; the store keeps their SHA-256 only. */
#define MF_SESSION_TOKEN_PREFIX "mfs_"
#define MF_SESSION_TOKEN_LEN (4 + 64)
/* Make a new session token (>= MF_SESSION_TOKEN_LEN + 1 bytes) and its SHA-256 hex. */
void mf_auth_session_new(char *token, char hash[65]);
/* Check the shape of a presented session token and hash it. 0 or MF_EUNAUTHORIZED. */
int mf_auth_session_parse(const char *s, size_t len, char hash[65]) MF_MUST_CHECK;

#define MF_KEY_PREFIX_LEN 12
#define MF_KEY_SECRET_LEN 64
#define MF_KEY_MAX_LEN 128

/* Make a new key for env into key (>= MF_KEY_MAX_LEN bytes), its prefix and its SHA-256 hex. */
void mf_auth_key_new(const char *env, char *key, char prefix[MF_KEY_PREFIX_LEN + 1], char hash[65]);
/* Check the shape of a presented key and compute its prefix and hash. 0 or MF_EUNAUTHORIZED. */
int mf_auth_key_parse(const char *s, size_t len, char prefix[MF_KEY_PREFIX_LEN + 1], char hash[65]) MF_MUST_CHECK;

/* A fixed-size cache of verified keys, keyed by key hash. Thread-safe: the loop threads share one. */
typedef struct mf_auth_cache mf_auth_cache_t;
mf_auth_cache_t *mf_auth_cache_new(size_t slots);
void mf_auth_cache_destroy(mf_auth_cache_t *cache);
/* 1 and *out filled when hash is cached and fresh at now_ms, else 0. */
int mf_auth_cache_get(mf_auth_cache_t *cache, const char hash[65], uint64_t now_ms, mf_identity_t *out);
/* Remember id for hash until expires_ms (overwrites the slot). */
void mf_auth_cache_put(mf_auth_cache_t *cache, const char hash[65], const mf_identity_t *id, uint64_t expires_ms);
/* Forget every entry of the credential cred_id (after revocation). */
void mf_auth_cache_forget_key(mf_auth_cache_t *cache, const char *cred_id);
/* Invalidate every cache of the process at once (any thread; after a revocation, also one heard of from
 * another replica). */
void mf_auth_cache_invalidate_all(void);

#endif
