/*
 * fuzz_dbt.c: libFuzzer driver of mf_integration_from_dbt, the decoder behind
 * POST /api/v1/integrations/dbt. The bytes go through the HTTP layer's parser
 * (mf_json_parse_object), then the decoder; each event of the answer is
 * checked like an ingest decoder's (fuzz_check.h: a failure has a UTF-8
 * message, an event has source "dbt", serialises, names datasets validly)
 * and no change set lists itself upstream (the write path refuses that).
 */
#include "fuzz_check.h"
#include "mf/integrations.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    mf_json_err_t err = {{0}};
    json_t *body = mf_json_parse_object((const char *)data, size, &err);
    if (body == NULL)
        return 0;
    json_t *events = mf_integration_from_dbt(body, NULL, &err);
    if (events == NULL)
        fuzz_check_answer(NULL, &err, "dbt");
    fuzz_check_message_utf8(events, &err);
    size_t i, k;
    json_t *ev, *cs, *up;
    json_array_foreach(events, i, ev)
    {
        fuzz_check_answer(ev, &err, "dbt");
        json_array_foreach(json_object_get(ev, "datasets"), k, cs)
        {
            size_t u;
            json_array_foreach(json_object_get(cs, "upstream"), u, up) if (fuzz_same_ref(up, cs))
                fuzz_fail("a change set lists itself upstream");
        }
    }
    json_decref(events);
    json_decref(body);
    return 0;
}
