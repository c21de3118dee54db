/*
 * fuzz_emit.c: libFuzzer driver of mf_ingest_from_emit, the decoder behind
 * POST /api/v1/emit. The bytes go through the HTTP layer's parser
 * (mf_json_parse_object), then the decoder; the answer is checked
 * (fuzz_check.h) and everything is freed. (An emit event without run_id or
 * times gets a random id and the current time, so, unlike the OpenLineage
 * driver, this one does not compare two decodings.)
 */
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    mf_json_err_t err = {{0}};
    json_t *body = mf_json_parse_object((const char *)data, size, &err);
    if (body == NULL)
        return 0;
    json_t *ev = mf_ingest_from_emit(body, &err);
    fuzz_check_answer(ev, &err, "emit");
    json_decref(ev);
    json_decref(body);
    return 0;
}
