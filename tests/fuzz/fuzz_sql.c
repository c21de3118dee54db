/*
 * fuzz_sql.c: libFuzzer driver of mf_sqllineage_parse, the SQL column
 * lineage behind POST /api/v1/lineage/parse and the OpenLineage sql job
 * facet. The bytes are the SQL text (any bytes: NULs, broken UTF-8, deep
 * nesting), parsed with a default target and a few known columns so `*` and
 * unqualified names resolve. Checked beyond crashes and leaks: a refusal has
 * a UTF-8 message; an answer serialises, names every table and column by a
 * name the catalog accepts, holds no pair from a table to itself and stays
 * within the edge and warning limits; a second parse gives the same answer.
 */
#include "fuzz_check.h"
#include "mf/sqllineage.h"

static const char *const edge_names[] = {"source", "source_field", "target", "target_field", "transformation"};

static void check_result(json_t *res)
{
    size_t len;
    char *text = mf_json_dump(res, &len); /* aborts when it cannot serialise */
    free(text);
    json_t *edges = json_object_get(res, "edges");
    if (!json_is_array(edges) || json_array_size(edges) > MF_SQLLINEAGE_MAX_EDGES)
        fuzz_fail("edges is not an array within the limit");
    if (json_array_size(json_object_get(res, "warnings")) > MF_SQLLINEAGE_MAX_WARNINGS + 1)
        fuzz_fail("more warnings than the limit");
    size_t i;
    json_t *e;
    json_array_foreach(edges, i, e)
    {
        for (size_t k = 0; k < MF_ARRAY_SIZE(edge_names); k++) {
            const char *v = json_string_value(json_object_get(e, edge_names[k]));
            if (v == NULL || !mf_catalog_name_ok(v))
                fuzz_fail("an edge member is not a valid name");
        }
        if (strcmp(json_string_value(json_object_get(e, "source")), json_string_value(json_object_get(e, "target"))) ==
            0)
            fuzz_fail("an edge goes from a table to itself");
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    json_t *known = json_pack("{s:[s,s],s:[s,s,s]}", "orders", "id", "amount", "db.s.customers", "id", "name", "region");
    mf_sqllineage_opts_t opts = {.default_target = "target", .known_columns = known, .max_bytes = 65536};
    mf_json_err_t err = {{0}}, err2 = {{0}};
    json_t *res = mf_sqllineage_parse((const char *)data, size, &opts, &err);
    if (res == NULL) {
        if (err.msg[0] == '\0' || !mf_text_is_clean(err.msg, strlen(err.msg), 1))
            fuzz_fail("a refusal has no UTF-8 message");
    } else {
        check_result(res);
    }
    json_t *again = mf_sqllineage_parse((const char *)data, size, &opts, &err2);
    if ((res == NULL) != (again == NULL) || (res != NULL && !json_equal(res, again)) ||
        (res == NULL && strcmp(err.msg, err2.msg) != 0))
        fuzz_fail("parsing the same SQL twice gave different answers");
    json_decref(again);
    json_decref(res);
    json_decref(known);
    return 0;
}
