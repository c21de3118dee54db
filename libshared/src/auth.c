/*
 * auth.c: key generation, parsing and the process-wide cache of verified
 * keys (see auth.h). The cache is direct-mapped on the first bytes of the key
 * hash; a collision simply evicts, which costs one extra lookup. The loop
 * threads share it, so a key verified on one thread is known to all of them:
 * while Postgres is away, a client that reconnects to another thread keeps
 * working. Slots are guarded by striped mutexes (a slot's copy is a few
 * hundred bytes; two threads rarely want the same stripe).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mf/auth.h"
#include "mf/util.h"

static const char *const role_names[] = {"public", "viewer", "editor", "admin"};

const char *mf_role_name(mf_role_t role)
{
    if (role == MF_ROLE_PLATFORM_ADMIN)
        return "platform_admin";
    if (role == MF_ROLE_BILLING_ADMIN)
        return "billing_admin";
    if (role >= MF_ROLE_VIEWER && role <= MF_ROLE_ADMIN)
        return role_names[role];
    return NULL;
}

mf_role_t mf_role_parse(const char *s)
{
    if (s == NULL)
        return MF_ROLE_PUBLIC;
    for (int i = MF_ROLE_VIEWER; i <= MF_ROLE_ADMIN; i++)
        if (strcmp(s, role_names[i]) == 0)
            return (mf_role_t)i;
    if (strcmp(s, "platform_admin") == 0)
        return MF_ROLE_PLATFORM_ADMIN;
    if (strcmp(s, "billing_admin") == 0)
        return MF_ROLE_BILLING_ADMIN;
    return MF_ROLE_PUBLIC;
}

int mf_role_allows(mf_role_t have, mf_role_t need)
{
    switch (need) {
    case MF_ROLE_PUBLIC:
        return 1;
    case MF_ROLE_PLATFORM_ADMIN:
        return have == MF_ROLE_PLATFORM_ADMIN;
    case MF_ROLE_BILLING_ADMIN:
        return have == MF_ROLE_BILLING_ADMIN || have == MF_ROLE_PLATFORM_ADMIN;
    default:
        return have >= MF_ROLE_VIEWER && have <= MF_ROLE_ADMIN && have >= need;
    }
}

void mf_auth_key_new(const char *env, char *key, char prefix[MF_KEY_PREFIX_LEN + 1], char hash[65])
{
    char secret[MF_KEY_SECRET_LEN + 1];
    mf_random_hex(MF_KEY_PREFIX_LEN / 2, prefix);
    mf_random_hex(MF_KEY_SECRET_LEN / 2, secret);
    snprintf(key, MF_KEY_MAX_LEN, "mf_%s_%s_%s", env, prefix, secret);
    mf_sha256_hex(key, strlen(key), hash);
}

static int all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int mf_auth_key_parse(const char *s, size_t len, char prefix[MF_KEY_PREFIX_LEN + 1], char hash[65])
{
    /* mf_ env _ prefix _ secret */
    size_t tail = 1 + MF_KEY_PREFIX_LEN + 1 + MF_KEY_SECRET_LEN;
    if (len < 3 + 1 + tail || len >= MF_KEY_MAX_LEN || memcmp(s, "mf_", 3) != 0)
        return MF_EUNAUTHORIZED;
    size_t env_len = len - 3 - tail;
    if (env_len < 1 || env_len > 16)
        return MF_EUNAUTHORIZED;
    for (size_t i = 0; i < env_len; i++) {
        char c = s[3 + i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return MF_EUNAUTHORIZED;
    }
    const char *p = s + 3 + env_len;
    if (p[0] != '_' || p[1 + MF_KEY_PREFIX_LEN] != '_' || !all_hex(p + 1, MF_KEY_PREFIX_LEN) ||
        !all_hex(p + 2 + MF_KEY_PREFIX_LEN, MF_KEY_SECRET_LEN))
        return MF_EUNAUTHORIZED;
    memcpy(prefix, p + 1, MF_KEY_PREFIX_LEN);
    prefix[MF_KEY_PREFIX_LEN] = '\0';
    mf_sha256_hex(s, len, hash);
    return 0;
}

void mf_auth_session_new(char *token, char hash[65])
{
    memcpy(token, MF_SESSION_TOKEN_PREFIX, 4);
    mf_random_hex(32, token + 4);
    mf_sha256_hex(token, MF_SESSION_TOKEN_LEN, hash);
}

int mf_auth_session_parse(const char *s, size_t len, char hash[65])
{
    if (len != MF_SESSION_TOKEN_LEN || memcmp(s, MF_SESSION_TOKEN_PREFIX, 4) != 0 || !all_hex(s + 4, 64))
        return MF_EUNAUTHORIZED;
    mf_sha256_hex(s, len, hash);
    return 0;
}

/* Bumped by mf_auth_cache_invalidate_all; entries older than it are ignored. */
static unsigned long long revocation_epoch;

void mf_auth_cache_invalidate_all(void) { __atomic_fetch_add(&revocation_epoch, 1, __ATOMIC_RELEASE); }

typedef struct {
    char hash[65];
    unsigned long long epoch;
    uint64_t expires_ms;
    mf_identity_t id;
} mf_auth_slot_t;

#define AUTH_CACHE_STRIPES 64

struct mf_auth_cache {
    size_t nslots;
    mf_auth_slot_t *slots;
    pthread_mutex_t stripes[AUTH_CACHE_STRIPES]; /* slot i is guarded by stripes[i % AUTH_CACHE_STRIPES] */
};

mf_auth_cache_t *mf_auth_cache_new(size_t slots)
{
    mf_auth_cache_t *c = mf_calloc(1, sizeof(*c));
    c->nslots = slots ? slots : 1;
    c->slots = mf_calloc(c->nslots, sizeof(*c->slots));
    for (int i = 0; i < AUTH_CACHE_STRIPES; i++)
        pthread_mutex_init(&c->stripes[i], NULL);
    return c;
}

void mf_auth_cache_destroy(mf_auth_cache_t *cache)
{
    if (cache == NULL)
        return;
    for (int i = 0; i < AUTH_CACHE_STRIPES; i++)
        pthread_mutex_destroy(&cache->stripes[i]);
    free(cache->slots);
    free(cache);
}

static size_t slot_index(const mf_auth_cache_t *c, const char hash[65])
{
    unsigned long long v = strtoull((char[17]){hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7],
                                               hash[8], hash[9], hash[10], hash[11], hash[12], hash[13], hash[14],
                                               hash[15], 0},
                                    NULL, 16);
    return (size_t)(v % c->nslots);
}

int mf_auth_cache_get(mf_auth_cache_t *cache, const char hash[65], uint64_t now_ms, mf_identity_t *out)
{
    size_t i = slot_index(cache, hash);
    const mf_auth_slot_t *s = &cache->slots[i];
    pthread_mutex_t *lock = &cache->stripes[i % AUTH_CACHE_STRIPES];
    pthread_mutex_lock(lock);
    int hit = s->expires_ms > now_ms && s->epoch == __atomic_load_n(&revocation_epoch, __ATOMIC_ACQUIRE) &&
              mf_ct_equal(s->hash, hash, 64);
    if (hit)
        *out = s->id;
    pthread_mutex_unlock(lock);
    return hit;
}

void mf_auth_cache_put(mf_auth_cache_t *cache, const char hash[65], const mf_identity_t *id, uint64_t expires_ms)
{
    size_t i = slot_index(cache, hash);
    mf_auth_slot_t *s = &cache->slots[i];
    pthread_mutex_t *lock = &cache->stripes[i % AUTH_CACHE_STRIPES];
    pthread_mutex_lock(lock);
    memcpy(s->hash, hash, 65);
    s->epoch = __atomic_load_n(&revocation_epoch, __ATOMIC_ACQUIRE);
    s->id = *id;
    s->expires_ms = expires_ms;
    pthread_mutex_unlock(lock);
}

void mf_auth_cache_forget_key(mf_auth_cache_t *cache, const char *cred_id)
{
    for (size_t i = 0; i < cache->nslots; i++) {
        pthread_mutex_t *lock = &cache->stripes[i % AUTH_CACHE_STRIPES];
        pthread_mutex_lock(lock);
        if (cache->slots[i].expires_ms != 0 && strcmp(cache->slots[i].id.cred_id, cred_id) == 0)
            cache->slots[i].expires_ms = 0;
        pthread_mutex_unlock(lock);
    }
}
