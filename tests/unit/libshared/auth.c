/*
 * Unit tests of libshared/src/auth.c: the shape of new keys, mf_auth_key_parse
 * (new keys accepted; wrong prefix, bad hex, uppercase, wrong lengths and too
 * long environments rejected), role names, and the process-wide cache of
 * verified keys (put, get, expiry, forget_key, collisions, and threads sharing
 * it: a key put by one is a hit for another, and a slot is never read half
 * written).
 */
#include <pthread.h>
#include "../unit.h"
#include "mf/auth.h"
#include "mf/util.h"

static const char PREFIX[] = "0123456789ab";
static const char SECRET[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static int all_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* ---------- new keys ---------- */

static void check_new_key(const char *env)
{
    char key[MF_KEY_MAX_LEN], prefix[MF_KEY_PREFIX_LEN + 1], hash[65], want_hash[65];
    memset(key, 'x', sizeof(key));
    mf_auth_key_new(env, key, prefix, hash);
    size_t envlen = strlen(env), len = strlen(key);
    char label[160];
    snprintf(label, sizeof(label), "key for env \"%s\": %s", env, key);
    MF_CHECK_INT(label, len, 3 + envlen + 1 + MF_KEY_PREFIX_LEN + 1 + MF_KEY_SECRET_LEN);
    MF_CHECK_INT(label, strncmp(key, "mf_", 3), 0);
    MF_CHECK_INT(label, strncmp(key + 3, env, envlen), 0);
    const char *p = key + 3 + envlen;
    MF_CHECK_INT(label, p[0], '_');
    MF_CHECK_INT(label, all_lower_hex(p + 1, MF_KEY_PREFIX_LEN), 1);
    MF_CHECK_INT(label, p[1 + MF_KEY_PREFIX_LEN], '_');
    MF_CHECK_INT(label, all_lower_hex(p + 2 + MF_KEY_PREFIX_LEN, MF_KEY_SECRET_LEN), 1);
    MF_CHECK_MEM(label, prefix, strlen(prefix), p + 1, MF_KEY_PREFIX_LEN);
    mf_sha256_hex(key, len, want_hash);
    MF_CHECK_STR("hash is the SHA-256 of the whole key", hash, want_hash);

    /* a new key parses back to the same prefix and hash */
    char prefix2[MF_KEY_PREFIX_LEN + 1], hash2[65];
    MF_CHECK_INT(label, mf_auth_key_parse(key, len, prefix2, hash2), 0);
    MF_CHECK_STR(label, prefix2, prefix);
    MF_CHECK_STR(label, hash2, hash);
}

static void test_key_new_format(void **state)
{
    static const char *const envs[] = {"live", "test", "a", "0", "staging2", "abcdefghijklmnop"};
    for (size_t i = 0; i < MF_T_ROWS(envs); i++)
        check_new_key(envs[i]);
}

static void test_key_new_is_random(void **state)
{
    char a[MF_KEY_MAX_LEN], b[MF_KEY_MAX_LEN], pa[13], pb[13], ha[65], hb[65];
    mf_auth_key_new("live", a, pa, ha);
    mf_auth_key_new("live", b, pb, hb);
    MF_CHECK_INT("two keys differ", strcmp(a, b) != 0, 1);
    MF_CHECK_INT("their secrets differ", strcmp(a + 21, b + 21) != 0, 1);
    MF_CHECK_INT("their hashes differ", strcmp(ha, hb) != 0, 1);
}

/* ---------- parsing ---------- */

/* "mf_" env "_" prefix "_" secret into out. */
static const char *key_of(char *out, size_t cap, const char *env, const char *prefix, const char *secret)
{
    snprintf(out, cap, "mf_%s_%s_%s", env, prefix, secret);
    return out;
}

static void test_key_parse_accepts(void **state)
{
    static const char *const envs[] = {"live", "test", "a", "9", "dev01", "abcdefghijklmnop"};
    for (size_t i = 0; i < MF_T_ROWS(envs); i++) {
        char key[200], prefix[MF_KEY_PREFIX_LEN + 1], hash[65], want[65];
        key_of(key, sizeof(key), envs[i], PREFIX, SECRET);
        memset(prefix, 'x', sizeof(prefix));
        MF_CHECK_INT(key, mf_auth_key_parse(key, strlen(key), prefix, hash), 0);
        MF_CHECK_STR(key, prefix, PREFIX);
        mf_sha256_hex(key, strlen(key), want);
        MF_CHECK_STR(key, hash, want);
    }
    /* only len bytes are read */
    char key[200], prefix[MF_KEY_PREFIX_LEN + 1], hash[65];
    key_of(key, sizeof(key), "live", PREFIX, SECRET);
    size_t len = strlen(key);
    strcat(key, "trailing");
    MF_CHECK_INT("key followed by other bytes", mf_auth_key_parse(key, len, prefix, hash), 0);
}

typedef struct {
    const char *what;
    const char *key; /* NULL: built from env/prefix/secret */
    const char *env, *prefix, *secret;
} bad_key_t;

static const bad_key_t bad_keys[] = {
    {"empty", "", NULL, NULL, NULL},
    {"just the prefix", "mf_", NULL, NULL, NULL},
    {"bearer word", "Bearer mf_live_0123456789ab_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
     NULL, NULL, NULL},
    {"wrong product prefix", "mk_live_0123456789ab_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
     NULL, NULL, NULL},
    {"uppercase product prefix",
     "MF_live_0123456789ab_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", NULL, NULL, NULL},
    {"no product prefix", "live_0123456789ab_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00", NULL,
     NULL, NULL},
    {"dash separators", "mf-live-0123456789ab-00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", NULL,
     NULL, NULL},
    {"leading space", " mf_live_0123456789ab_00112233445566778899aabbccddeeff00112233445566778899aabbccddeef", NULL,
     NULL, NULL},
    {"trailing newline",
     "mf_live_0123456789ab_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", NULL, NULL, NULL},
    /* environment */
    {"empty env", NULL, "", "0123456789ab", SECRET},
    {"env of 17 chars", NULL, "abcdefghijklmnopq", "0123456789ab", SECRET},
    {"env of 40 chars", NULL, "abcdefghijabcdefghijabcdefghijabcdefghij", "0123456789ab", SECRET},
    {"uppercase env", NULL, "Live", "0123456789ab", SECRET},
    {"env with dash", NULL, "li-ve", "0123456789ab", SECRET},
    {"env with underscore", NULL, "li_ve", "0123456789ab", SECRET},
    {"env with space", NULL, "li ve", "0123456789ab", SECRET},
    {"env with UTF-8", NULL, "caf\xc3\xa9", "0123456789ab", SECRET},
    /* prefix */
    {"prefix of 11 hex", NULL, "live", "0123456789a", SECRET},
    {"prefix of 13 hex", NULL, "live", "0123456789abc", SECRET},
    {"empty prefix", NULL, "live", "", SECRET},
    {"uppercase hex in prefix", NULL, "live", "0123456789AB", SECRET},
    {"non-hex in prefix", NULL, "live", "0123456789ag", SECRET},
    {"space in prefix", NULL, "live", "01234567 9ab", SECRET},
    /* secret */
    {"secret of 63 hex", NULL, "live", "0123456789ab",
     "0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"},
    {"secret of 65 hex", NULL, "live", "0123456789ab",
     "000112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"},
    {"empty secret", NULL, "live", "0123456789ab", ""},
    {"uppercase hex in secret", NULL, "live", "0123456789ab",
     "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff"},
    {"one uppercase hex digit at the end", NULL, "live", "0123456789ab",
     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeefF"},
    {"non-hex in secret", NULL, "live", "0123456789ab",
     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg"},
    {"base64 secret", NULL, "live", "0123456789ab",
     "00112233445566778899aabbccddeeff00112233445566778899aabbccddee-_"},
    /* separators */
    {"missing separator before secret",
     "mf_live_0123456789abx00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
     NULL, NULL, NULL},
    {"missing separator after env",
     "mf_livex0123456789ab_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
     NULL, NULL, NULL},
    {"separators swapped into hex",
     "mf_live0_123456789ab_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", NULL, NULL, NULL},
};

static void test_key_parse_rejects(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(bad_keys); i++) {
        const bad_key_t *b = &bad_keys[i];
        char buf[300], prefix[MF_KEY_PREFIX_LEN + 1], hash[65], label[400], shown[300];
        const char *key = b->key ? b->key : key_of(buf, sizeof(buf), b->env, b->prefix, b->secret);
        snprintf(label, sizeof(label), "row %zu, %s: \"%s\"", i, b->what,
                 mf_t_show(shown, sizeof(shown), key, strlen(key)));
        MF_CHECK_INT(label, mf_auth_key_parse(key, strlen(key), prefix, hash), MF_EUNAUTHORIZED);
    }
}

static void test_key_parse_rejects_by_length(void **state)
{
    char key[300], prefix[MF_KEY_PREFIX_LEN + 1], hash[65];
    key_of(key, sizeof(key), "live", PREFIX, SECRET);
    size_t len = strlen(key);
    /* every shorter length of a valid key fails */
    for (size_t n = 0; n < len; n++) {
        char label[64];
        snprintf(label, sizeof(label), "first %zu bytes of a valid key", n);
        MF_CHECK_INT(label, mf_auth_key_parse(key, n, prefix, hash), MF_EUNAUTHORIZED);
    }
    /* NUL bytes inside the length */
    key[10] = '\0';
    MF_CHECK_INT("NUL inside the prefix", mf_auth_key_parse(key, len, prefix, hash), MF_EUNAUTHORIZED);
    key_of(key, sizeof(key), "live", PREFIX, SECRET);
    key[len - 1] = '\0';
    MF_CHECK_INT("NUL inside the secret", mf_auth_key_parse(key, len, prefix, hash), MF_EUNAUTHORIZED);
    /* very long input */
    char *huge = mf_t_repeat('a', 4096);
    memcpy(huge, "mf_", 3);
    MF_CHECK_INT("4096 bytes", mf_auth_key_parse(huge, 4096, prefix, hash), MF_EUNAUTHORIZED);
    MF_CHECK_INT("MF_KEY_MAX_LEN bytes", mf_auth_key_parse(huge, MF_KEY_MAX_LEN, prefix, hash), MF_EUNAUTHORIZED);
    free(huge);
}

/* ---------- roles ---------- */

static void test_role_names(void **state)
{
    static const struct {
        mf_role_t role;
        const char *name;
    } rows[] = {
        {MF_ROLE_VIEWER, "viewer"},
        {MF_ROLE_EDITOR, "editor"},
        {MF_ROLE_ADMIN, "admin"},
        {MF_ROLE_PLATFORM_ADMIN, "platform_admin"},
        {MF_ROLE_BILLING_ADMIN, "billing_admin"},
        {(mf_role_t)4, NULL},
        {(mf_role_t)99, NULL},
        {(mf_role_t)101, NULL},
        {(mf_role_t)-1, NULL},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        char label[48];
        snprintf(label, sizeof(label), "mf_role_name(%d)", (int)rows[i].role);
        MF_CHECK_STR(label, mf_role_name(rows[i].role), rows[i].name);
        if (rows[i].name != NULL)
            MF_CHECK_INT(rows[i].name, mf_role_parse(rows[i].name), rows[i].role);
    }
    MF_CHECK_INT("roles are ordered", MF_ROLE_PUBLIC < MF_ROLE_VIEWER && MF_ROLE_VIEWER < MF_ROLE_EDITOR &&
                                          MF_ROLE_EDITOR < MF_ROLE_ADMIN && MF_ROLE_ADMIN < MF_ROLE_PLATFORM_ADMIN,
                 1);
}

static void test_role_parse_unknown(void **state)
{
    static const char *const unknown[] = {"",       "Viewer",  "ADMIN",          "admin ", " admin",
                                          "owner",  "root",    "platform-admin", "platform", "public",
                                          "viewer\n", "editorx"};
    for (size_t i = 0; i < MF_T_ROWS(unknown); i++)
        MF_CHECK_INT(unknown[i], mf_role_parse(unknown[i]), MF_ROLE_PUBLIC);
    MF_CHECK_INT("NULL", mf_role_parse(NULL), MF_ROLE_PUBLIC);
}

static void test_role_allows(void **state)
{
    /* allowed[have][need] over these roles, in this order */
    static const mf_role_t roles[] = {MF_ROLE_PUBLIC, MF_ROLE_VIEWER,        MF_ROLE_EDITOR,
                                      MF_ROLE_ADMIN,  MF_ROLE_BILLING_ADMIN, MF_ROLE_PLATFORM_ADMIN};
    static const int allowed[6][6] = {
        /* need:      P  V  E  A  B  X */
        /* P */ {1, 0, 0, 0, 0, 0},
        /* V */ {1, 1, 0, 0, 0, 0},
        /* E */ {1, 1, 1, 0, 0, 0},
        /* A */ {1, 1, 1, 1, 0, 0},
        /* B */ {1, 0, 0, 0, 1, 0},
        /* X */ {1, 0, 0, 0, 1, 1},
    };
    for (int h = 0; h < 6; h++)
        for (int n = 0; n < 6; n++) {
            char label[64];
            snprintf(label, sizeof(label), "%s may use a %s route", mf_role_name(roles[h]) ? mf_role_name(roles[h]) : "public",
                     mf_role_name(roles[n]) ? mf_role_name(roles[n]) : "public");
            MF_CHECK_INT(label, mf_role_allows(roles[h], roles[n]), allowed[h][n]);
        }
}

/* ---------- cache ---------- */

/* A 64-hex hash whose first 16 hex digits are the number slot (the cache indexes on them) and the rest tail. */
static void hash_for(char out[65], unsigned long long slot, char tail)
{
    snprintf(out, 65, "%016llx", slot);
    memset(out + 16, tail, 48);
    out[64] = '\0';
}

static mf_identity_t identity(const char *tenant, const char *key_id, mf_role_t role)
{
    mf_identity_t id;
    memset(&id, 0, sizeof(id));
    id.emit_quota = tenant[0] ? 1000000 + (long long)strlen(key_id) : 0;
    snprintf(id.tenant_id, sizeof(id.tenant_id), "%s", tenant);
    snprintf(id.cred_id, sizeof(id.cred_id), "%s", key_id);
    snprintf(id.actor, sizeof(id.actor), "key:%s", key_id);
    id.role = role;
    return id;
}

static void check_hit(const char *label, mf_auth_cache_t *c, const char *hash, uint64_t now, const mf_identity_t *want)
{
    mf_identity_t got;
    memset(&got, 0x5a, sizeof(got));
    int hit = mf_auth_cache_get(c, hash, now, &got);
    MF_CHECK_INT(label, hit, 1);
    MF_CHECK_STR(label, got.tenant_id, want->tenant_id);
    MF_CHECK_STR(label, got.cred_id, want->cred_id);
    MF_CHECK_STR(label, got.actor, want->actor);
    MF_CHECK_INT(label, got.role, want->role);
    MF_CHECK_INT(label, got.emit_quota, want->emit_quota);
}

static void check_miss(const char *label, mf_auth_cache_t *c, const char *hash, uint64_t now)
{
    mf_identity_t got;
    memset(&got, 0x5a, sizeof(got));
    MF_CHECK_INT(label, mf_auth_cache_get(c, hash, now, &got), 0);
    unsigned char untouched[sizeof(got)];
    memset(untouched, 0x5a, sizeof(untouched));
    MF_CHECK_INT(label, memcmp(&got, untouched, sizeof(got)), 0);
}

static void test_cache_put_get_expiry(void **state)
{
    mf_auth_cache_t *c = mf_auth_cache_new(16);
    char h[65];
    mf_sha256_hex("mf_live_key_a", 13, h);
    mf_identity_t a = identity("9f1c2d3e-0000-4000-8000-000000000001", "k-a", MF_ROLE_EDITOR);
    check_miss("empty cache", c, h, 0);
    check_miss("empty cache, later", c, h, 123456);
    mf_auth_cache_put(c, h, &a, 1000);
    check_hit("fresh at 0", c, h, 0, &a);
    check_hit("fresh at 999", c, h, 999, &a);
    check_miss("expired at 1000 (expiry is exclusive)", c, h, 1000);
    check_miss("expired later", c, h, 5000);
    /* put again extends */
    mf_auth_cache_put(c, h, &a, 6000);
    check_hit("after a new put", c, h, 5999, &a);
    /* the identity is copied, not borrowed */
    mf_identity_t b = identity("t2", "k-b", MF_ROLE_VIEWER);
    mf_auth_cache_put(c, h, &b, 7000);
    memset(&b, 0, sizeof(b));
    mf_identity_t b_again = identity("t2", "k-b", MF_ROLE_VIEWER);
    check_hit("identity copied", c, h, 6500, &b_again);
    mf_auth_cache_destroy(c);
}

static void test_cache_platform_identity(void **state)
{
    mf_auth_cache_t *c = mf_auth_cache_new(4);
    char h[65];
    mf_sha256_hex("platform", 8, h);
    mf_identity_t p = identity("", "k-platform", MF_ROLE_PLATFORM_ADMIN);
    mf_auth_cache_put(c, h, &p, 100);
    check_hit("platform key", c, h, 50, &p);
    mf_auth_cache_destroy(c);
}

static void test_cache_collision_overwrites(void **state)
{
    mf_auth_cache_t *c = mf_auth_cache_new(16);
    char h1[65], h2[65], h3[65];
    hash_for(h1, 0x01, 'a');
    hash_for(h2, 0x11, 'b'); /* 0x11 % 16 == 0x01: same slot as h1 */
    hash_for(h3, 0x01, 'c'); /* same slot and same first 16 digits as h1 */
    mf_identity_t a = identity("t", "k-1", MF_ROLE_VIEWER), b = identity("t", "k-2", MF_ROLE_ADMIN);
    mf_auth_cache_put(c, h1, &a, 1000);
    check_hit("h1 cached", c, h1, 1, &a);
    check_miss("a different hash in the same slot is not a hit", c, h2, 1);
    check_miss("a hash sharing the indexed digits is not a hit", c, h3, 1);
    mf_auth_cache_put(c, h2, &b, 1000);
    check_hit("h2 cached", c, h2, 1, &b);
    check_miss("h1 evicted by h2", c, h1, 1);
    mf_auth_cache_destroy(c);

    /* one slot: every key collides */
    c = mf_auth_cache_new(1);
    mf_auth_cache_put(c, h1, &a, 1000);
    mf_auth_cache_put(c, h3, &b, 1000);
    check_hit("last put wins", c, h3, 1, &b);
    check_miss("earlier key evicted", c, h1, 1);
    mf_auth_cache_destroy(c);

    /* zero slots is made one slot */
    c = mf_auth_cache_new(0);
    mf_auth_cache_put(c, h1, &a, 1000);
    check_hit("cache of 0 slots works", c, h1, 1, &a);
    mf_auth_cache_destroy(c);
}

static void test_cache_forget_key(void **state)
{
    mf_auth_cache_t *c = mf_auth_cache_new(64);
    char h1[65], h2[65], h3[65];
    hash_for(h1, 1, 'a');
    hash_for(h2, 2, 'b');
    hash_for(h3, 3, 'c');
    mf_identity_t k1 = identity("t1", "key-1", MF_ROLE_ADMIN), k2 = identity("t1", "key-2", MF_ROLE_VIEWER);
    mf_auth_cache_put(c, h1, &k1, 1000);
    mf_auth_cache_put(c, h2, &k2, 1000);
    mf_auth_cache_put(c, h3, &k1, 1000); /* the same key cached under two hashes */
    mf_auth_cache_forget_key(c, "key-1");
    check_miss("forgotten key, first entry", c, h1, 1);
    check_miss("forgotten key, second entry", c, h3, 1);
    check_hit("other key kept", c, h2, 1, &k2);
    mf_auth_cache_forget_key(c, "key-9"); /* unknown key: nothing happens */
    check_hit("other key still kept", c, h2, 1, &k2);
    mf_auth_cache_forget_key(c, "key-"); /* no prefix matching */
    check_hit("prefix of a key id does not match", c, h2, 1, &k2);
    mf_auth_cache_put(c, h1, &k1, 1000);
    check_hit("a forgotten key can be cached again", c, h1, 1, &k1);
    mf_auth_cache_destroy(c);
    mf_auth_cache_destroy(NULL); /* no-op */
}

static void test_cache_with_real_keys(void **state)
{
    enum { N = 200 };
    mf_auth_cache_t *c = mf_auth_cache_new(1024);
    static char hashes[N][65];
    static mf_identity_t ids[N];
    for (int i = 0; i < N; i++) {
        char key[MF_KEY_MAX_LEN], prefix[13], kid[16];
        mf_auth_key_new("live", key, prefix, hashes[i]);
        snprintf(kid, sizeof(kid), "k%d", i);
        ids[i] = identity("tenant", kid, MF_ROLE_VIEWER);
        mf_auth_cache_put(c, hashes[i], &ids[i], 10000);
    }
    /* every get either hits with the right identity or misses (evicted); never a wrong identity */
    int hits = 0;
    for (int i = 0; i < N; i++) {
        mf_identity_t got;
        if (mf_auth_cache_get(c, hashes[i], 1, &got)) {
            hits++;
            MF_CHECK_STR(hashes[i], got.cred_id, ids[i].cred_id);
        }
    }
    MF_CHECK_INT("most of 200 keys fit in 1024 slots", hits >= N / 2, 1);
    mf_auth_cache_destroy(c);
}

/* ---------- threads sharing one cache ---------- */

enum { SHARED_KEYS = 8, SHARED_ROUNDS = 20000 };

typedef struct {
    mf_auth_cache_t *cache;
    char (*hashes)[65];
    mf_identity_t *ids;
    int offset;
    int torn; /* hits whose identity was not the one put for that hash */
    int hits;
} sharer_t;

/* Every thread puts and gets the same few keys, which share slots (a cache of 2): a
 * hit must carry exactly the identity put for that hash, never a mix of two. */
static void *share(void *arg)
{
    sharer_t *s = arg;
    for (int round = 0; round < SHARED_ROUNDS; round++) {
        int k = (round + s->offset) % SHARED_KEYS;
        if (round % 3 == 0)
            mf_auth_cache_put(s->cache, s->hashes[k], &s->ids[k], 1000);
        mf_identity_t got;
        int g = (round * 7 + s->offset) % SHARED_KEYS;
        if (mf_auth_cache_get(s->cache, s->hashes[g], 1, &got)) {
            s->hits++;
            if (strcmp(got.cred_id, s->ids[g].cred_id) != 0 || strcmp(got.actor, s->ids[g].actor) != 0 ||
                strcmp(got.tenant_id, s->ids[g].tenant_id) != 0 || got.role != s->ids[g].role)
                s->torn++;
        }
    }
    return NULL;
}

static void test_cache_shared_by_threads(void **state)
{
    static char hashes[SHARED_KEYS][65];
    static mf_identity_t ids[SHARED_KEYS];
    for (int i = 0; i < SHARED_KEYS; i++) {
        char key[MF_KEY_MAX_LEN], prefix[13], kid[16], tenant[40];
        mf_auth_key_new("live", key, prefix, hashes[i]);
        snprintf(kid, sizeof(kid), "key-%d", i);
        snprintf(tenant, sizeof(tenant), "tenant-%d-%s", i, i % 2 ? "odd" : "even, and a longer name");
        ids[i] = identity(tenant, kid, i % 2 ? MF_ROLE_VIEWER : MF_ROLE_ADMIN);
    }

    /* a key put by one thread is a hit for another */
    mf_auth_cache_t *c = mf_auth_cache_new(64);
    sharer_t put_only = {c, hashes, ids, 0, 0, 0};
    pthread_t t;
    MF_CHECK_INT("start a thread", pthread_create(&t, NULL, share, &put_only), 0);
    pthread_join(t, NULL);
    mf_identity_t got;
    int seen = 0;
    for (int i = 0; i < SHARED_KEYS; i++)
        if (mf_auth_cache_get(c, hashes[i], 1, &got) && strcmp(got.cred_id, ids[i].cred_id) == 0)
            seen++;
    MF_CHECK_INT("keys put by another thread are hits here", seen > 0, 1);
    mf_auth_cache_destroy(c);

    /* four threads racing over two slots */
    c = mf_auth_cache_new(2);
    sharer_t sharers[4];
    pthread_t tids[4];
    for (int i = 0; i < 4; i++) {
        sharers[i] = (sharer_t){c, hashes, ids, i * 3, 0, 0};
        MF_CHECK_INT("start a thread", pthread_create(&tids[i], NULL, share, &sharers[i]), 0);
    }
    int hits = 0, torn = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(tids[i], NULL);
        hits += sharers[i].hits;
        torn += sharers[i].torn;
    }
    MF_CHECK_INT("racing threads still hit", hits > 0, 1);
    MF_CHECK_INT("no hit carried a half-written identity", torn, 0);
    mf_auth_cache_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_new_format),
        cmocka_unit_test(test_key_new_is_random),
        cmocka_unit_test(test_key_parse_accepts),
        cmocka_unit_test(test_key_parse_rejects),
        cmocka_unit_test(test_key_parse_rejects_by_length),
        cmocka_unit_test(test_role_names),
        cmocka_unit_test(test_role_parse_unknown),
        cmocka_unit_test(test_role_allows),
        cmocka_unit_test(test_cache_put_get_expiry),
        cmocka_unit_test(test_cache_platform_identity),
        cmocka_unit_test(test_cache_collision_overwrites),
        cmocka_unit_test(test_cache_forget_key),
        cmocka_unit_test(test_cache_with_real_keys),
        cmocka_unit_test(test_cache_shared_by_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
