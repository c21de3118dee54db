/*
 * fuzz_check.h: what every fuzz driver under tests/fuzz/ checks about a
 * decoder's answer, beyond "no crash, no leak, no undefined behaviour".
 *
 * A decoder answers either an ingest event (ingest.h) or NULL with a
 * message. The checks below abort (which libFuzzer and replay.c report as a
 * crash, with the input saved) when the answer breaks a promise the rest of
 * the system relies on: a failure always has a message; an event has the
 * right "source", serialises, names datasets by valid names, and never
 * holds a lineage edge from a dataset to itself (the database refuses
 * those, so such an event would be accepted with 202 and then fail in the
 * worker instead of being answered 400).
 */
#ifndef MF_FUZZ_CHECK_H
#define MF_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "mf/catalog.h"
#include "mf/ingest.h"
#include "mf/json.h"
#include "mf/util.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static inline void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz check failed: %s\n", what);
    abort();
}

/* A ref {"namespace","name"} with valid names. */
static inline void fuzz_check_ref(json_t *ref, const char *what)
{
    json_t *ns = json_object_get(ref, "namespace"), *name = json_object_get(ref, "name");
    if (!json_is_string(ns) || !json_is_string(name) || !mf_catalog_name_ok(json_string_value(ns)) ||
        !mf_catalog_name_ok(json_string_value(name)))
        fuzz_fail(what);
}

static inline int fuzz_same_ref(json_t *a, json_t *b)
{
    return strcmp(json_string_value(json_object_get(a, "namespace")),
                  json_string_value(json_object_get(b, "namespace"))) == 0 &&
           strcmp(json_string_value(json_object_get(a, "name")), json_string_value(json_object_get(b, "name"))) == 0;
}

/* A failure's message is UTF-8 (the HTTP layer can send nothing else). */
static inline void fuzz_check_message_utf8(json_t *ev, const mf_json_err_t *err)
{
    if (ev == NULL && !mf_text_is_clean(err->msg, strnlen(err->msg, sizeof(err->msg)), 1))
        fuzz_fail("a failure's message is not UTF-8");
}

/* The answer of a decoder: ev (may be NULL) and err. */
static inline void fuzz_check_answer(json_t *ev, const mf_json_err_t *err, const char *source)
{
    if (ev == NULL) {
        if (err->msg[0] == '\0')
            fuzz_fail("a decoder failed without a message");
        return;
    }
    if (!json_is_object(ev) || !json_is_string(json_object_get(ev, "source")) ||
        strcmp(json_string_value(json_object_get(ev, "source")), source) != 0)
        fuzz_fail("the event's source is wrong");
    size_t len;
    char *text = mf_json_dump(ev, &len); /* aborts when it cannot serialise */
    free(text);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(ev, "datasets"), i, v)
        fuzz_check_ref(v, "a change set has no valid namespace and name");
    json_array_foreach(json_object_get(ev, "lineage"), i, v)
    {
        json_t *src = json_object_get(v, "source"), *tgt = json_object_get(v, "target");
        fuzz_check_ref(src, "a lineage source is not a valid ref");
        fuzz_check_ref(tgt, "a lineage target is not a valid ref");
        if (fuzz_same_ref(src, tgt))
            fuzz_fail("a lineage edge goes from a dataset to itself");
        if (!json_is_array(json_object_get(v, "columns")))
            fuzz_fail("a lineage entry has no columns array");
    }
}

#endif
