/*
 * fuzz_openlineage.c: libFuzzer driver of mf_ingest_from_openlineage, the
 * decoder behind POST /api/v1/lineage. The bytes go through the same parser
 * the HTTP layer uses (mf_json_parse_object), then the decoder; the answer
 * is checked (fuzz_check.h), decoded a second time to check it does not
 * depend on anything but its input, and everything is freed.
 */
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    mf_json_err_t err = {{0}};
    json_t *body = mf_json_parse_object((const char *)data, size, &err);
    if (body == NULL)
        return 0;
    json_t *ev = mf_ingest_from_openlineage(body, &err);
    fuzz_check_answer(ev, &err, "openlineage");
    fuzz_check_message_utf8(ev, &err);
    mf_json_err_t err2 = {{0}};
    json_t *again = mf_ingest_from_openlineage(body, &err2);
    if ((ev == NULL) != (again == NULL) || (ev != NULL && !json_equal(ev, again)) ||
        (ev == NULL && strcmp(err.msg, err2.msg) != 0))
        fuzz_fail("decoding the same event twice gave different answers");
    json_decref(again);
    json_decref(ev);
    json_decref(body);
    return 0;
}
