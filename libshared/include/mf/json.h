/*
 * json.h: jansson helpers for decoding untrusted JSON with messages that
 * name the offending field ("fields[2].type must be a string").
 *
 * Every getter takes `path`, the dotted location of obj in the document
 * ("" for the top level), and on failure writes the message into err (an
 * mf_json_err_t) and returns MF_EINVALID_REQUEST.
 */
#ifndef MF_JSON_H
#define MF_JSON_H

#include <stddef.h>
#include <jansson.h>
#include "mf/error.h"

typedef struct {
    char msg[300];
} mf_json_err_t;

/* Parse len bytes as a JSON object (duplicate keys rejected). New reference,
 * or NULL with err set (the caller answers invalid_json). */
json_t *mf_json_parse_object(const char *buf, size_t len, mf_json_err_t *err);

/* Fail on any key of obj not in allowed (NULL-terminated). */
int mf_json_only_fields(json_t *obj, const char *path, const char *const *allowed, mf_json_err_t *err) MF_MUST_CHECK;

/* Flags for the getters. */
enum {
    MF_JSON_REQUIRED = 1,   /* absent is an error */
    MF_JSON_NULLABLE = 2,   /* null is accepted (reported as absent) */
    MF_JSON_MULTILINE = 4,  /* strings may hold newlines and tabs */
};

/* String member key: *out borrowed from obj, NULL when absent/null. Length in
 * bytes within [min,max]; valid UTF-8 without control characters. */
int mf_json_string(json_t *obj, const char *path, const char *key, int flags, size_t min, size_t max,
                   const char **out, mf_json_err_t *err) MF_MUST_CHECK;
/* Boolean member: *out unchanged when absent. */
int mf_json_bool(json_t *obj, const char *path, const char *key, int flags, int *out, mf_json_err_t *err) MF_MUST_CHECK;
/* Integer member within [min,max]: *present set to 1 when given. */
int mf_json_int(json_t *obj, const char *path, const char *key, int flags, long long min, long long max,
                long long *out, int *present, mf_json_err_t *err) MF_MUST_CHECK;
/* Array member (borrowed, NULL when absent) with at most max elements. */
int mf_json_array(json_t *obj, const char *path, const char *key, int flags, size_t max, json_t **out,
                  mf_json_err_t *err) MF_MUST_CHECK;
/* Object member (borrowed, NULL when absent). */
int mf_json_object(json_t *obj, const char *path, const char *key, int flags, json_t **out,
                   mf_json_err_t *err) MF_MUST_CHECK;

/* Check a standalone string value (e.g. an array element) the same way. */
int mf_json_check_text(json_t *v, const char *where, size_t min, size_t max, int flags, mf_json_err_t *err) MF_MUST_CHECK;

/* Write a printf message into err; returns MF_EINVALID_REQUEST (for decoders built on these helpers). */
int mf_json_fail(mf_json_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Build "path.key" or "path[i]" into out. */
void mf_json_path_key(char *out, size_t cap, const char *path, const char *key);
void mf_json_path_index(char *out, size_t cap, const char *path, size_t i);

/* Serialise compactly; new string (free) with *len. */
char *mf_json_dump(const json_t *v, size_t *len);

#endif
