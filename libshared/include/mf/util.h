/*
 * util.h: small helpers every module needs: randomness, hashing, hex,
 * base64url, time, memory that aborts on exhaustion, text checks.
 */
#ifndef MF_UTIL_H
#define MF_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "mf/error.h"

#define MF_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Assert that stays on in release builds: a broken invariant is fatal. */
#define MF_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            mf_panic(__FILE__, __LINE__, #cond);                                                   \
    } while (0)
__attribute__((noreturn)) void mf_panic(const char *file, int line, const char *what);

/* malloc/calloc/realloc/strdup that abort on out-of-memory; never return NULL. */
void *mf_malloc(size_t n);
void *mf_calloc(size_t n, size_t size);
void *mf_realloc(void *p, size_t n);
char *mf_strdup(const char *s);
char *mf_strndup(const char *s, size_t n);

/* Fill buf with n cryptographically random bytes (aborts if the CSPRNG fails). */
void mf_random_bytes(void *buf, size_t n);
/* Write 2n lowercase hex chars of bytes plus NUL into out (size >= 2n+1). */
void mf_hex_encode(const void *bytes, size_t n, char *out);
/* n random bytes as hex into out (size >= 2n+1). */
void mf_random_hex(size_t n, char *out);
/* A random UUID v4 in canonical form into out (size >= 37). */
void mf_uuid_v4(char out[37]);
/* 1 when s is a canonical UUID (36 chars, hex and dashes), else 0. */
int mf_is_uuid(const char *s, size_t len);
/* SHA-256 of data as 64 hex chars plus NUL into out. */
void mf_sha256_hex(const void *data, size_t len, char out[65]);
/* Constant-time equality of two buffers of the same length: 1 equal, 0 not. */
int mf_ct_equal(const void *a, const void *b, size_t len);

/* base64url without padding. encode: returns new string. decode: new buffer
 * and *outlen, or NULL on bad input. */
char *mf_base64url_encode(const void *data, size_t len);
unsigned char *mf_base64url_decode(const char *s, size_t len, size_t *outlen);

/* Monotonic milliseconds and wall-clock seconds. */
uint64_t mf_now_ms(void);
double mf_now_s(void);
/* RFC 3339 UTC with milliseconds ("2026-11-27T01:02:03.456Z") into out (>= 25 bytes). */
void mf_time_rfc3339(char out[32]);

/* 1 when s is an RFC 3339 date-time that exists on the calendar
 * ("2026-11-27T01:02:03Z", fractions and +hh:mm offsets up to 15:59, the most
 * PostgreSQL stores, allowed), else 0. */
int mf_time_is_rfc3339(const char *s);

/* 1 when s[0..len) is valid UTF-8 without control characters (tab excluded
 * only when allow_newlines), else 0. */
int mf_text_is_clean(const char *s, size_t len, int allow_newlines);

/* Replace, in place, every byte of s (NUL-terminated) that is not part of valid UTF-8 by '?'. */
void mf_text_make_utf8(char *s);

/* Parse a base-10 integer from s[0..len) within [min,max]. 0 or MF_EINVALID_REQUEST. */
int mf_parse_int(const char *s, size_t len, long long min, long long max, long long *out) MF_MUST_CHECK;

#endif
