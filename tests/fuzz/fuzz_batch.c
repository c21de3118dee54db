/*
 * fuzz_batch.c: libFuzzer driver of a POST /api/v1/emit/batch body: a JSON
 * array of emit events, or NDJSON (one event per line). The service tells
 * them apart by Content-Type; here the first byte that is not white space
 * does: '[' is an array, anything else NDJSON. The split follows the
 * service's rules (services/ingest/src/emit.c): at most
 * MF_INGEST_MAX_BATCH events, NDJSON lines split at '\n', empty lines and
 * lone "\r" skipped, each item an object. Every item is decoded with
 * mf_ingest_from_emit and its answer checked (fuzz_check.h); the first bad
 * item ends the batch, as it does in the service.
 */
#include "fuzz_check.h"

/* Decode one item; 0 to go on, -1 when the batch is refused. */
static int item(json_t *v)
{
    if (!json_is_object(v))
        return -1;
    mf_json_err_t err = {{0}};
    json_t *ev = mf_ingest_from_emit(v, &err);
    fuzz_check_answer(ev, &err, "emit");
    int rc = ev != NULL ? 0 : -1;
    json_decref(ev);
    return rc;
}

static void array_batch(const char *p, size_t size)
{
    json_error_t je;
    json_t *arr = json_loadb(p, size, JSON_REJECT_DUPLICATES, &je);
    if (arr != NULL && json_is_array(arr) && json_array_size(arr) <= MF_INGEST_MAX_BATCH) {
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
        {
            if (item(v) != 0)
                break;
        }
    }
    json_decref(arr);
}

static void ndjson_batch(const char *p, size_t size)
{
    const char *end = p + size;
    size_t n_items = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        size_t n = (size_t)(line_end - p);
        if (n > 0 && !(n == 1 && p[0] == '\r')) {
            json_error_t je;
            if (n_items++ >= MF_INGEST_MAX_BATCH)
                return;
            json_t *v = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
            if (v == NULL)
                return;
            int rc = item(v);
            json_decref(v);
            if (rc != 0)
                return;
        }
        p = line_end + 1;
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const char *p = (const char *)data;
    size_t skip = 0;
    while (skip < size && (p[skip] == ' ' || p[skip] == '\t' || p[skip] == '\r' || p[skip] == '\n'))
        skip++;
    if (size == 0 || size > MF_INGEST_MAX_EVENT)
        return 0;
    if (skip < size && p[skip] == '[')
        array_batch(p, size);
    else
        ndjson_batch(p, size);
    return 0;
}
