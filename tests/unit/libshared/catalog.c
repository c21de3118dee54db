/*
 * Unit tests of libshared/src/catalog.c, the decoding half of the catalog
 * write path (mf_catalog_apply needs a database; the integration tests cover
 * it): mf_catalog_changeset_from_json on a full valid body and on each
 * invalid field with its message, unknown fields, duplicate field names, the
 * URL name/namespace agreeing with the body, upstream references as strings
 * and objects, self references, tags, operational bounds,
 * mf_catalog_ref_from_json, mf_catalog_tag_ok and mf_catalog_name_ok.
 */
#include "../unit.h"
#include "mf/catalog.h"

/* Decode text (a JSON literal) with URL name/ns; returns the change set or NULL with err. */
static json_t *decode(const char *text, const char *name, const char *ns, mf_json_err_t *err)
{
    json_t *body = mf_t_json(text);
    strcpy(err->msg, "(untouched)");
    json_t *cs = mf_catalog_changeset_from_json(body, name, ns, err);
    json_decref(body);
    return cs;
}

/* ---------- valid bodies ---------- */

typedef struct {
    const char *what;
    const char *body;
    const char *name, *ns; /* from the URL, or NULL */
    const char *want;      /* the normalized change set */
} good_row_t;

static const good_row_t good_rows[] = {
    {"full body",
     "{\"name\":\"orders\",\"namespace\":\"sales\",\"path\":\"s3://lake/sales/orders\",\"format\":\"parquet\","
     "\"description\":\"Orders.\\nOne row per order line.\",\"domain\":\"commerce\",\"owner\":\"team-orders\","
     "\"tags\":[\"pii\",\"tier:1\",\"a/b-c.d_e\"],"
     "\"fields\":[{\"name\":\"id\",\"type\":\"bigint\",\"nullable\":false,\"description\":\"key\",\"tags\":[\"pk\"]},"
     "{\"name\":\"amount\",\"type\":\"decimal(10,2)\"},"
     "{\"name\":\"note\",\"type\":\"text\",\"nullable\":true,\"description\":null,\"tags\":null}],"
     "\"upstream\":[\"raw_orders\",{\"namespace\":\"crm\",\"name\":\"customers\"},{\"name\":\"fx_rates\"},"
     "{\"namespace\":\"sales\",\"name\":\"orders_v1\"}],"
     "\"operational\":{\"row_count\":10,\"size_bytes\":2048,\"partition_keys\":[\"dt\",\"region\"]}}",
     NULL, NULL,
     "{\"namespace\":\"sales\",\"name\":\"orders\",\"path\":\"s3://lake/sales/orders\",\"format\":\"parquet\","
     "\"description\":\"Orders.\\nOne row per order line.\",\"domain\":\"commerce\",\"owner\":\"team-orders\","
     "\"tags\":[\"pii\",\"tier:1\",\"a/b-c.d_e\"],"
     "\"fields\":[{\"name\":\"id\",\"type\":\"bigint\",\"nullable\":false,\"description\":\"key\",\"tags\":[\"pk\"]},"
     "{\"name\":\"amount\",\"type\":\"decimal(10,2)\",\"nullable\":true,\"description\":\"\",\"tags\":[]},"
     "{\"name\":\"note\",\"type\":\"text\",\"nullable\":true,\"description\":\"\",\"tags\":[]}],"
     "\"upstream\":[{\"namespace\":\"default\",\"name\":\"raw_orders\"},{\"namespace\":\"crm\",\"name\":\"customers\"},"
     "{\"namespace\":\"default\",\"name\":\"fx_rates\"},{\"namespace\":\"sales\",\"name\":\"orders_v1\"}],"
     "\"operational\":{\"row_count\":10,\"size_bytes\":2048,\"partition_keys\":[\"dt\",\"region\"]}}"},
    {"name only: namespace defaults, nothing else given", "{\"name\":\"a\"}", NULL, NULL,
     "{\"namespace\":\"default\",\"name\":\"a\"}"},
    {"nulls: strings become empty, domain/owner stay null, lists are not given",
     "{\"name\":\"a\",\"path\":null,\"format\":null,\"description\":null,\"domain\":null,\"owner\":null,"
     "\"tags\":null,\"fields\":null,\"upstream\":null,\"operational\":null}",
     NULL, NULL,
     "{\"namespace\":\"default\",\"name\":\"a\",\"path\":\"\",\"format\":\"\",\"description\":\"\",\"domain\":null,"
     "\"owner\":null}"},
    {"empty strings and lists",
     "{\"name\":\"a\",\"path\":\"\",\"format\":\"\",\"description\":\"\",\"tags\":[],\"fields\":[],\"upstream\":[],"
     "\"operational\":{}}",
     NULL, NULL,
     "{\"namespace\":\"default\",\"name\":\"a\",\"path\":\"\",\"format\":\"\",\"description\":\"\",\"tags\":[],"
     "\"fields\":[],\"upstream\":[],\"operational\":{}}"},
    {"operational nulls",
     "{\"name\":\"a\",\"operational\":{\"row_count\":null,\"size_bytes\":null,\"partition_keys\":null}}", NULL, NULL,
     "{\"namespace\":\"default\",\"name\":\"a\",\"operational\":{\"row_count\":null,\"size_bytes\":null,"
     "\"partition_keys\":[]}}"},
    {"operational bounds", "{\"name\":\"a\",\"operational\":{\"row_count\":0,\"size_bytes\":9223372036854775807}}",
     NULL, NULL,
     "{\"namespace\":\"default\",\"name\":\"a\",\"operational\":{\"row_count\":0,\"size_bytes\":9223372036854775807}}"},
    {"name and namespace from the URL, empty body", "{}", "orders", "sales",
     "{\"namespace\":\"sales\",\"name\":\"orders\"}"},
    {"name from the URL, namespace defaults", "{\"path\":\"p\"}", "orders", NULL,
     "{\"namespace\":\"default\",\"name\":\"orders\",\"path\":\"p\"}"},
    {"URL and body agree", "{\"name\":\"orders\",\"namespace\":\"sales\"}", "orders", "sales",
     "{\"namespace\":\"sales\",\"name\":\"orders\"}"},
    {"namespace from the URL, name from the body", "{\"name\":\"orders\"}", NULL, "sales",
     "{\"namespace\":\"sales\",\"name\":\"orders\"}"},
    {"same name in another namespace is not a self reference", "{\"name\":\"orders\",\"namespace\":\"sales\","
                                                               "\"upstream\":[\"orders\"]}",
     NULL, NULL,
     "{\"namespace\":\"sales\",\"name\":\"orders\",\"upstream\":[{\"namespace\":\"default\",\"name\":\"orders\"}]}"},
    {"UTF-8 and punctuation in names",
     "{\"name\":\"caf\\u00e9 orders (v2)/eu\",\"namespace\":\"\\u5e97\",\"fields\":[{\"name\":\"pr\\u00eds\","
     "\"type\":\"struct<a:int>\"}]}",
     NULL, NULL,
     "{\"namespace\":\"\\u5e97\",\"name\":\"caf\\u00e9 orders (v2)/eu\",\"fields\":[{\"name\":\"pr\\u00eds\","
     "\"type\":\"struct<a:int>\",\"nullable\":true,\"description\":\"\",\"tags\":[]}]}"},
    {"multi-line descriptions", "{\"name\":\"a\",\"description\":\"a\\r\\n\\tb\",\"fields\":[{\"name\":\"f\","
                                "\"type\":\"t\",\"description\":\"x\\ny\"}]}",
     NULL, NULL,
     "{\"namespace\":\"default\",\"name\":\"a\",\"description\":\"a\\r\\n\\tb\",\"fields\":[{\"name\":\"f\","
     "\"type\":\"t\",\"nullable\":true,\"description\":\"x\\ny\",\"tags\":[]}]}"},
    {"field names differ only in case", "{\"name\":\"a\",\"fields\":[{\"name\":\"id\",\"type\":\"t\"},"
                                        "{\"name\":\"ID\",\"type\":\"t\"}]}",
     NULL, NULL,
     "{\"namespace\":\"default\",\"name\":\"a\",\"fields\":[{\"name\":\"id\",\"type\":\"t\",\"nullable\":true,"
     "\"description\":\"\",\"tags\":[]},{\"name\":\"ID\",\"type\":\"t\",\"nullable\":true,\"description\":\"\","
     "\"tags\":[]}]}"},
};

static void test_valid_bodies(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(good_rows); i++) {
        const good_row_t *r = &good_rows[i];
        mf_json_err_t err;
        char label[128];
        snprintf(label, sizeof(label), "row %zu, %s", i, r->what);
        json_t *cs = decode(r->body, r->name, r->ns, &err);
        if (cs == NULL)
            MF_CHECK_STR(label, err.msg, "(no error)");
        json_t *want = mf_t_json(r->want);
        MF_CHECK_JSON(label, cs, want);
        json_decref(want);
        json_decref(cs);
    }
}

/* The change set is a new value: it outlives the body it came from. */
static void test_changeset_outlives_body(void **state)
{
    json_t *body = mf_t_json("{\"name\":\"a\",\"tags\":[\"t\"],\"operational\":{\"partition_keys\":[\"dt\"]},"
                             "\"fields\":[{\"name\":\"f\",\"type\":\"int\"}]}");
    mf_json_err_t err;
    json_t *cs = mf_catalog_changeset_from_json(body, NULL, NULL, &err);
    assert_non_null(cs);
    json_decref(body);
    json_t *want = mf_t_json("{\"namespace\":\"default\",\"name\":\"a\",\"tags\":[\"t\"],\"operational\":"
                             "{\"partition_keys\":[\"dt\"]},\"fields\":[{\"name\":\"f\",\"type\":\"int\","
                             "\"nullable\":true,\"description\":\"\",\"tags\":[]}]}");
    MF_CHECK_JSON("after the body is freed", cs, want);
    json_decref(want);
    json_decref(cs);
}

/* ---------- invalid bodies ---------- */

typedef struct {
    const char *body;
    const char *name, *ns;
    const char *message;
} bad_row_t;

#define TAG_MSG(where) where " must be a tag: 1-128 characters of letters, digits and _.:/-"
#define REF_MSG(where) where " must be a dataset name or {\"namespace\",\"name\"}"

static const bad_row_t bad_rows[] = {
    /* name and namespace */
    {"{}", NULL, NULL, "name is required"},
    {"{\"name\":null}", NULL, NULL, "name is required"},
    {"{\"name\":\"\"}", NULL, NULL, "name must not be empty"},
    {"{\"name\":1}", NULL, NULL, "name must be a string"},
    {"{\"name\":[\"a\"]}", NULL, NULL, "name must be a string"},
    {"{\"name\":\"a\\u0001\"}", NULL, NULL, "name contains control characters or invalid UTF-8"},
    {"{\"name\":\"a\\nb\"}", NULL, NULL, "name contains control characters or invalid UTF-8"},
    {"{\"name\":null}", "a", NULL, "name must not be null"},
    {"{\"name\":\"a\",\"namespace\":\"\"}", NULL, NULL, "namespace must not be empty"},
    {"{\"name\":\"a\",\"namespace\":null}", NULL, NULL, "namespace must not be null"},
    {"{\"name\":\"a\",\"namespace\":5}", NULL, NULL, "namespace must be a string"},
    {"{\"name\":\"a\",\"namespace\":\"x\\ty\"}", NULL, NULL, "namespace contains control characters or invalid UTF-8"},
    /* URL agreement */
    {"{\"name\":\"b\"}", "a", NULL, "name \"b\" in the body does not match the URL"},
    {"{\"name\":\"A\"}", "a", NULL, "name \"A\" in the body does not match the URL"},
    {"{\"name\":\"a\",\"namespace\":\"other\"}", "a", "sales",
     "namespace \"other\" in the body does not match the URL"},
    {"{\"namespace\":\"other\"}", NULL, "sales", "name is required"},
    {"{}", "", NULL, "name and namespace must be 1-512 printable characters"},
    {"{}", "a\x01", NULL, "name and namespace must be 1-512 printable characters"},
    {"{}", "a", "", "name and namespace must be 1-512 printable characters"},
    {"{}", "a", "s\xff", "name and namespace must be 1-512 printable characters"},
    /* unknown members */
    {"{\"name\":\"a\",\"colour\":\"red\"}", NULL, NULL, "unknown field \"colour\""},
    {"{\"name\":\"a\",\"Name\":\"b\"}", NULL, NULL, "unknown field \"Name\""},
    {"{\"name\":\"a\",\"id\":\"x\"}", NULL, NULL, "unknown field \"id\""},
    {"{\"name\":\"a\",\"version\":3}", NULL, NULL, "unknown field \"version\""},
    /* simple strings */
    {"{\"name\":\"a\",\"path\":5}", NULL, NULL, "path must be a string"},
    {"{\"name\":\"a\",\"path\":\"s3://a\\u0001b\"}", NULL, NULL, "path contains control characters or invalid UTF-8"},
    {"{\"name\":\"a\",\"format\":true}", NULL, NULL, "format must be a string"},
    {"{\"name\":\"a\",\"format\":\"par\\nquet\"}", NULL, NULL, "format contains control characters or invalid UTF-8"},
    {"{\"name\":\"a\",\"description\":{}}", NULL, NULL, "description must be a string"},
    {"{\"name\":\"a\",\"description\":\"a\\u0007\"}", NULL, NULL,
     "description contains control characters or invalid UTF-8"},
    {"{\"name\":\"a\",\"domain\":\"\"}", NULL, NULL, "domain must not be empty"},
    {"{\"name\":\"a\",\"domain\":7}", NULL, NULL, "domain must be a string"},
    {"{\"name\":\"a\",\"owner\":\"\"}", NULL, NULL, "owner must not be empty"},
    {"{\"name\":\"a\",\"owner\":[]}", NULL, NULL, "owner must be a string"},
    /* tags */
    {"{\"name\":\"a\",\"tags\":\"pii\"}", NULL, NULL, "tags must be an array"},
    {"{\"name\":\"a\",\"tags\":{}}", NULL, NULL, "tags must be an array"},
    {"{\"name\":\"a\",\"tags\":[1]}", NULL, NULL, TAG_MSG("tags[0]")},
    {"{\"name\":\"a\",\"tags\":[null]}", NULL, NULL, TAG_MSG("tags[0]")},
    {"{\"name\":\"a\",\"tags\":[\"\"]}", NULL, NULL, TAG_MSG("tags[0]")},
    {"{\"name\":\"a\",\"tags\":[\"ok\",\"not ok\"]}", NULL, NULL, TAG_MSG("tags[1]")},
    {"{\"name\":\"a\",\"tags\":[\"ok\",\"ok2\",\"caf\\u00e9\"]}", NULL, NULL, TAG_MSG("tags[2]")},
    {"{\"name\":\"a\",\"tags\":[\"a,b\"]}", NULL, NULL, TAG_MSG("tags[0]")},
    {"{\"name\":\"a\",\"tags\":[\"a\\nb\"]}", NULL, NULL, TAG_MSG("tags[0]")},
    {"{\"name\":\"a\",\"tags\":[[\"nested\"]]}", NULL, NULL, TAG_MSG("tags[0]")},
    /* fields */
    {"{\"name\":\"a\",\"fields\":{}}", NULL, NULL, "fields must be an array"},
    {"{\"name\":\"a\",\"fields\":\"id\"}", NULL, NULL, "fields must be an array"},
    {"{\"name\":\"a\",\"fields\":[1]}", NULL, NULL, "fields[0] must be an object"},
    {"{\"name\":\"a\",\"fields\":[{\"name\":\"x\",\"type\":\"t\"},\"y\"]}", NULL, NULL, "fields[1] must be an object"},
    {"{\"name\":\"a\",\"fields\":[{\"type\":\"int\"}]}", NULL, NULL, "fields[0].name is required"},
    {"{\"name\":\"a\",\"fields\":[{\"name\":\"\",\"type\":\"int\"}]}", NULL, NULL, "fields[0].name must not be empty"},
    {"{\"name\":\"a\",\"fields\":[{\"name\":3,\"type\":\"int\"}]}", NULL, NULL, "fields[0].name must be a string"},
    {"{\"name\":\"a\",\"fields\":[{\"name\":\"x\"}]}", NULL, NULL, "fields[0].type is required"},
    {"{\"name\":\"a\",\"fields\":[{\"name\":\"x\",\"type\":null}]}", NULL, NULL, "fields[0].type is required"},
    {"{\"name\":\"a\",\"fields\":[{\"name\":\"x\",\"type\":\"\"}]}", NULL, NULL, "fields[0].type must not be empty"},
    {"{\"name\":\"a\",\"fields\":[{\"name\":\"x\",\"type\":\"t\"},{\"name\":\"y\",\"type\":\"t\"},"
     "{\"name\":\"z\",\"type\":1}]}",
     NULL, NULL, "fields[2].type must be a string"},
    {"{\"name\":\"a\",\"fields\":[{\"name\":\"x\",\"type\":\"t\",\"nullable\":\"yes\"}]}", NULL, NULL,
     "fields[0].nullable must be a boolean"},
    {"{\"name\":\"a\",\"fields\":[{\"name\":\"x\",\"type\":\"t\",\"nullable\":0}]}", NULL, NULL,
     "fields[0].nullable must be a boolean"},
    {"{\"name\":\"a\",\"fields\":[{\"name\":\"x\",\"type\":\"t\",\"nullable\":null}]}", NULL, NULL,
     "fields[0].nullable must not be null"},
    {"{\"name\":\"a\",\"fields\":[{\"name\":\"x\",\"type\":\"t\",\"description\":5}]}", NULL, NULL,
     "fields[0].description must be a string"},
    {"{\"name\":\"a\",\"fields\":[{\"name\":\"x\",\"type\":\"t\",\"tags\":\"pk\"}]}", NULL, NULL,
     "fields[0].tags must be an array"},
    {"{\"name\":\"a\",\"fields\":[{\"name\":\"x\",\"type\":\"t\"},{\"name\":\"y\",\"type\":\"t\",\"tags\":[\"ok\","
     "\"bad tag\"]}]}",
     NULL, NULL, TAG_MSG("fields[1].tags[1]")},
    {"{\"name\":\"a\",\"fields\":[{\"name\":\"x\",\"type\":\"t\",\"extra\":1}]}", NULL, NULL,
     "unknown field \"extra\" in fields[0]"},
    {"{\"name\":\"a\",\"fields\":[{\"name\":\"x\",\"type\":\"t\",\"Type\":\"u\"}]}", NULL, NULL,
     "unknown field \"Type\" in fields[0]"},
    {"{\"name\":\"a\",\"fields\":[{\"name\":\"x\\u0001\",\"type\":\"t\"}]}", NULL, NULL,
     "fields[0].name contains control characters or invalid UTF-8"},
    /* duplicate field names */
    {"{\"name\":\"a\",\"fields\":[{\"name\":\"id\",\"type\":\"t\"},{\"name\":\"id\",\"type\":\"u\"}]}", NULL, NULL,
     "fields[1].name \"id\" is a duplicate"},
    {"{\"name\":\"a\",\"fields\":[{\"name\":\"a\",\"type\":\"t\"},{\"name\":\"b\",\"type\":\"t\"},"
     "{\"name\":\"a\",\"type\":\"u\"}]}",
     NULL, NULL, "fields[2].name \"a\" is a duplicate"},
    /* upstream */
    {"{\"name\":\"a\",\"upstream\":\"b\"}", NULL, NULL, "upstream must be an array"},
    {"{\"name\":\"a\",\"upstream\":[1]}", NULL, NULL, REF_MSG("upstream[0]")},
    {"{\"name\":\"a\",\"upstream\":[\"b\",null]}", NULL, NULL, REF_MSG("upstream[1]")},
    {"{\"name\":\"a\",\"upstream\":[[\"b\"]]}", NULL, NULL, REF_MSG("upstream[0]")},
    {"{\"name\":\"a\",\"upstream\":[\"\"]}", NULL, NULL, "upstream[0] must be a name of 1-512 printable characters"},
    {"{\"name\":\"a\",\"upstream\":[\"b\\u0001\"]}", NULL, NULL,
     "upstream[0] must be a name of 1-512 printable characters"},
    {"{\"name\":\"a\",\"upstream\":[{\"namespace\":\"x\"}]}", NULL, NULL, "upstream[0].name is required"},
    {"{\"name\":\"a\",\"upstream\":[{\"name\":\"\"}]}", NULL, NULL, "upstream[0].name must not be empty"},
    {"{\"name\":\"a\",\"upstream\":[{\"name\":\"b\",\"namespace\":null}]}", NULL, NULL,
     "upstream[0].namespace must not be null"},
    {"{\"name\":\"a\",\"upstream\":[{\"name\":\"b\",\"namespace\":\"\"}]}", NULL, NULL,
     "upstream[0].namespace must not be empty"},
    {"{\"name\":\"a\",\"upstream\":[\"b\",{\"name\":\"c\",\"db\":\"x\"}]}", NULL, NULL,
     "unknown field \"db\" in upstream[1]"},
    /* self references */
    {"{\"name\":\"a\",\"upstream\":[\"a\"]}", NULL, NULL, "upstream[0] must not be the dataset itself"},
    {"{\"name\":\"a\",\"upstream\":[\"b\",{\"name\":\"a\"}]}", NULL, NULL,
     "upstream[1] must not be the dataset itself"},
    {"{\"name\":\"orders\",\"namespace\":\"sales\",\"upstream\":[{\"namespace\":\"sales\",\"name\":\"orders\"}]}", NULL,
     NULL, "upstream[0] must not be the dataset itself"},
    {"{\"upstream\":[{\"namespace\":\"sales\",\"name\":\"orders\"}]}", "orders", "sales",
     "upstream[0] must not be the dataset itself"},
    {"{\"upstream\":[\"orders\"]}", "orders", NULL, "upstream[0] must not be the dataset itself"},
    /* operational */
    {"{\"name\":\"a\",\"operational\":[]}", NULL, NULL, "operational must be an object"},
    {"{\"name\":\"a\",\"operational\":5}", NULL, NULL, "operational must be an object"},
    {"{\"name\":\"a\",\"operational\":{\"rows\":1}}", NULL, NULL, "unknown field \"rows\" in operational"},
    {"{\"name\":\"a\",\"operational\":{\"row_count\":-1}}", NULL, NULL,
     "operational.row_count must be between 0 and 9223372036854775807"},
    {"{\"name\":\"a\",\"operational\":{\"row_count\":1.5}}", NULL, NULL, "operational.row_count must be an integer"},
    {"{\"name\":\"a\",\"operational\":{\"row_count\":\"10\"}}", NULL, NULL,
     "operational.row_count must be an integer"},
    {"{\"name\":\"a\",\"operational\":{\"size_bytes\":-5}}", NULL, NULL,
     "operational.size_bytes must be between 0 and 9223372036854775807"},
    {"{\"name\":\"a\",\"operational\":{\"size_bytes\":true}}", NULL, NULL,
     "operational.size_bytes must be an integer"},
    {"{\"name\":\"a\",\"operational\":{\"partition_keys\":\"dt\"}}", NULL, NULL,
     "operational.partition_keys must be an array"},
    {"{\"name\":\"a\",\"operational\":{\"partition_keys\":[1]}}", NULL, NULL,
     "operational.partition_keys[0] must be a string"},
    {"{\"name\":\"a\",\"operational\":{\"partition_keys\":[\"dt\",\"\"]}}", NULL, NULL,
     "operational.partition_keys[1] must not be empty"},
    {"{\"name\":\"a\",\"operational\":{\"partition_keys\":[\"d\\nt\"]}}", NULL, NULL,
     "operational.partition_keys[0] contains control characters or invalid UTF-8"},
};

static void test_invalid_bodies(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(bad_rows); i++) {
        const bad_row_t *r = &bad_rows[i];
        mf_json_err_t err;
        char label[400], shown[300];
        snprintf(label, sizeof(label), "row %zu: body %s, URL name %s, URL namespace %s", i,
                 mf_t_show(shown, sizeof(shown), r->body, strlen(r->body)), r->name ? r->name : "(none)",
                 r->ns ? r->ns : "(none)");
        json_t *cs = decode(r->body, r->name, r->ns, &err);
        if (cs != NULL) {
            json_decref(cs);
            MF_CHECK_STR(label, "(accepted)", r->message);
        }
        MF_CHECK_STR(label, err.msg, r->message);
    }
}

/* Lengths: the longest accepted value of each bounded member, then one byte more. */
static void test_length_bounds(void **state)
{
    static const struct {
        const char *member; /* "name", "fields[0].type", ... */
        size_t max;
        const char *message; /* for max + 1 */
    } rows[] = {
        {"name", 512, "name is too long (at most 512 characters)"},
        {"namespace", 512, "namespace is too long (at most 512 characters)"},
        {"path", 4096, "path is too long (at most 4096 characters)"},
        {"format", 128, "format is too long (at most 128 characters)"},
        {"description", 65536, "description is too long (at most 65536 characters)"},
        {"domain", 512, "domain is too long (at most 512 characters)"},
        {"owner", 512, "owner is too long (at most 512 characters)"},
        {"tag", 128, TAG_MSG("tags[0]")},
        {"field name", 512, "fields[0].name is too long (at most 512 characters)"},
        {"field type", 512, "fields[0].type is too long (at most 512 characters)"},
        {"field description", 65536, "fields[0].description is too long (at most 65536 characters)"},
        {"field tag", 128, TAG_MSG("fields[0].tags[0]")},
        {"upstream name", 512, "upstream[0] must be a name of 1-512 printable characters"},
        {"upstream object name", 512, "upstream[0].name is too long (at most 512 characters)"},
        {"upstream namespace", 512, "upstream[0].namespace is too long (at most 512 characters)"},
        {"partition key", 512, "operational.partition_keys[0] is too long (at most 512 characters)"},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        for (size_t extra = 0; extra <= 1; extra++) {
            char *v = mf_t_repeat('v', rows[i].max + extra);
            json_t *body = json_pack("{s:s}", "name", "ds");
            const char *m = rows[i].member;
            if (strcmp(m, "tag") == 0)
                json_object_set_new(body, "tags", json_pack("[s]", v));
            else if (strcmp(m, "field name") == 0)
                json_object_set_new(body, "fields", json_pack("[{s:s,s:s}]", "name", v, "type", "t"));
            else if (strcmp(m, "field type") == 0)
                json_object_set_new(body, "fields", json_pack("[{s:s,s:s}]", "name", "f", "type", v));
            else if (strcmp(m, "field description") == 0)
                json_object_set_new(body, "fields",
                                    json_pack("[{s:s,s:s,s:s}]", "name", "f", "type", "t", "description", v));
            else if (strcmp(m, "field tag") == 0)
                json_object_set_new(body, "fields",
                                    json_pack("[{s:s,s:s,s:[s]}]", "name", "f", "type", "t", "tags", v));
            else if (strcmp(m, "upstream name") == 0)
                json_object_set_new(body, "upstream", json_pack("[s]", v));
            else if (strcmp(m, "upstream object name") == 0)
                json_object_set_new(body, "upstream", json_pack("[{s:s}]", "name", v));
            else if (strcmp(m, "upstream namespace") == 0)
                json_object_set_new(body, "upstream", json_pack("[{s:s,s:s}]", "name", "u", "namespace", v));
            else if (strcmp(m, "partition key") == 0)
                json_object_set_new(body, "operational", json_pack("{s:[s]}", "partition_keys", v));
            else
                json_object_set_new(body, m, json_string(v));
            free(v);
            mf_json_err_t err;
            strcpy(err.msg, "(untouched)");
            json_t *cs = mf_catalog_changeset_from_json(body, NULL, NULL, &err);
            json_decref(body);
            char label[96];
            snprintf(label, sizeof(label), "%s of %zu bytes", m, rows[i].max + extra);
            if (extra == 0) {
                if (cs == NULL)
                    MF_CHECK_STR(label, err.msg, "(accepted)");
            } else {
                MF_CHECK_INT(label, cs == NULL, 1);
                MF_CHECK_STR(label, err.msg, rows[i].message);
            }
            json_decref(cs);
        }
    }
}

/* Counts: at the limit and one over. */
static void test_count_bounds(void **state)
{
    static const struct {
        const char *what;
        size_t max;
        const char *message;
    } rows[] = {
        {"tags", 100, "tags has too many elements (at most 100)"},
        {"field tags", 100, "fields[0].tags has too many elements (at most 100)"},
        {"upstream", 1000, "upstream has too many elements (at most 1000)"},
        {"partition_keys", 64, "operational.partition_keys has too many elements (at most 64)"},
        {"fields", 10000, "fields has too many elements (at most 10000)"},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        /* the limit itself is accepted, except fields: see test_many_fields */
        for (size_t extra = strcmp(rows[i].what, "fields") == 0 ? 1 : 0; extra <= 1; extra++) {
            size_t n = rows[i].max + extra;
            json_t *arr = json_array();
            for (size_t k = 0; k < n; k++) {
                char item[32];
                snprintf(item, sizeof(item), "x%zu", k);
                json_array_append_new(arr, strcmp(rows[i].what, "fields") == 0
                                               ? json_pack("{s:s,s:s}", "name", item, "type", "t")
                                               : json_string(item));
            }
            json_t *body = json_pack("{s:s}", "name", "ds");
            if (strcmp(rows[i].what, "field tags") == 0)
                json_object_set_new(body, "fields",
                                    json_pack("[{s:s,s:s,s:o}]", "name", "f", "type", "t", "tags", arr));
            else if (strcmp(rows[i].what, "partition_keys") == 0)
                json_object_set_new(body, "operational", json_pack("{s:o}", "partition_keys", arr));
            else
                json_object_set_new(body, rows[i].what, arr);
            mf_json_err_t err;
            strcpy(err.msg, "(untouched)");
            json_t *cs = mf_catalog_changeset_from_json(body, NULL, NULL, &err);
            json_decref(body);
            char label[96];
            snprintf(label, sizeof(label), "%zu %s", n, rows[i].what);
            if (extra == 0) {
                if (cs == NULL)
                    MF_CHECK_STR(label, err.msg, "(accepted)");
            } else {
                MF_CHECK_INT(label, cs == NULL, 1);
                MF_CHECK_STR(label, err.msg, rows[i].message);
            }
            json_decref(cs);
        }
    }
}

/* Many fields are accepted in order, and a duplicate far down the list is found. */
static void test_many_fields(void **state)
{
    enum { N = 300 };
    json_t *fields = json_array();
    for (int k = 0; k < N; k++) {
        char name[16];
        snprintf(name, sizeof(name), "c%d", k);
        json_array_append_new(fields, json_pack("{s:s,s:s}", "name", name, "type", "int"));
    }
    json_t *body = json_pack("{s:s,s:O}", "name", "wide", "fields", fields);
    mf_json_err_t err;
    json_t *cs = mf_catalog_changeset_from_json(body, NULL, NULL, &err);
    assert_non_null(cs);
    json_t *out = json_object_get(cs, "fields");
    MF_CHECK_INT("fields kept", json_array_size(out), N);
    MF_CHECK_STR("order kept", json_string_value(json_object_get(json_array_get(out, N - 1), "name")), "c299");
    json_decref(cs);
    json_decref(body);

    json_array_append_new(fields, json_pack("{s:s,s:s}", "name", "c7", "type", "int"));
    body = json_pack("{s:s,s:O}", "name", "wide", "fields", fields);
    cs = mf_catalog_changeset_from_json(body, NULL, NULL, &err);
    MF_CHECK_INT("duplicate at the end", cs == NULL, 1);
    MF_CHECK_STR("duplicate at the end", err.msg, "fields[300].name \"c7\" is a duplicate");
    json_decref(body);
    json_decref(fields);
}

/* ---------- mf_catalog_ref_from_json ---------- */

static void test_ref_from_json(void **state)
{
    static const struct {
        const char *value; /* JSON; NULL: a NULL json_t */
        const char *want;  /* NULL: error */
        const char *message;
    } rows[] = {
        {"\"orders\"", "{\"namespace\":\"default\",\"name\":\"orders\"}", NULL},
        {"{\"name\":\"orders\"}", "{\"namespace\":\"default\",\"name\":\"orders\"}", NULL},
        {"{\"namespace\":\"sales\",\"name\":\"orders\"}", "{\"namespace\":\"sales\",\"name\":\"orders\"}", NULL},
        {"\"caf\\u00e9 / v2\"", "{\"namespace\":\"default\",\"name\":\"caf\\u00e9 / v2\"}", NULL},
        {"5", NULL, REF_MSG("src")},
        {"null", NULL, REF_MSG("src")},
        {"true", NULL, REF_MSG("src")},
        {"[\"orders\"]", NULL, REF_MSG("src")},
        {NULL, NULL, REF_MSG("src")},
        {"\"\"", NULL, "src must be a name of 1-512 printable characters"},
        {"\"a\\nb\"", NULL, "src must be a name of 1-512 printable characters"},
        {"\"a\\u007f\"", NULL, "src must be a name of 1-512 printable characters"},
        {"{}", NULL, "src.name is required"},
        {"{\"name\":null}", NULL, "src.name is required"},
        {"{\"name\":1}", NULL, "src.name must be a string"},
        {"{\"name\":\"\"}", NULL, "src.name must not be empty"},
        {"{\"name\":\"a\\u0001\"}", NULL, "src.name contains control characters or invalid UTF-8"},
        {"{\"name\":\"a\",\"namespace\":null}", NULL, "src.namespace must not be null"},
        {"{\"name\":\"a\",\"namespace\":\"\"}", NULL, "src.namespace must not be empty"},
        {"{\"name\":\"a\",\"namespace\":[]}", NULL, "src.namespace must be a string"},
        {"{\"name\":\"a\",\"ns\":\"x\"}", NULL, "unknown field \"ns\" in src"},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        json_t *v = rows[i].value ? mf_t_json(rows[i].value) : NULL;
        mf_json_err_t err;
        strcpy(err.msg, "(untouched)");
        char label[96];
        snprintf(label, sizeof(label), "row %zu: %s", i, rows[i].value ? rows[i].value : "(NULL)");
        json_t *ref = mf_catalog_ref_from_json(v, "src", &err);
        json_decref(v);
        if (rows[i].want != NULL) {
            if (ref == NULL)
                MF_CHECK_STR(label, err.msg, "(accepted)");
            json_t *want = mf_t_json(rows[i].want);
            MF_CHECK_JSON(label, ref, want);
            json_decref(want);
        } else {
            MF_CHECK_INT(label, ref == NULL, 1);
            MF_CHECK_STR(label, err.msg, rows[i].message);
        }
        json_decref(ref);
    }
    /* the name bound */
    for (size_t n = 512; n <= 513; n++) {
        char *name = mf_t_repeat('n', n);
        json_t *v = json_string(name);
        mf_json_err_t err;
        json_t *ref = mf_catalog_ref_from_json(v, "upstream[7]", &err);
        char label[48];
        snprintf(label, sizeof(label), "string ref of %zu bytes", n);
        MF_CHECK_INT(label, ref != NULL, n == 512);
        if (n == 513)
            MF_CHECK_STR(label, err.msg, "upstream[7] must be a name of 1-512 printable characters");
        json_decref(ref);
        json_decref(v);
        free(name);
    }
}

/* ---------- tag_ok / name_ok ---------- */

static void test_tag_ok(void **state)
{
    static const struct {
        const char *tag;
        int ok;
    } rows[] = {
        {"pii", 1},        {"a", 1},          {"Z", 1},        {"0", 1},          {"tier:1", 1},
        {"a/b-c.d_e", 1},  {"team:data/eng", 1}, {"UPPER_case", 1}, {"", 0},       {" ", 0},
        {"two words", 0},  {"a,b", 0},        {"a;b", 0},      {"a#b", 0},        {"a@b", 0},
        {"a+b", 0},        {"a=b", 0},        {"\"q\"", 0},    {"a\\b", 0},       {"a\tb", 0},
        {"a\n", 0},        {"caf\xc3\xa9", 0}, {"\xff", 0},    {"emoji\xf0\x9f\x98\x80", 0},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        char label[64], shown[48];
        snprintf(label, sizeof(label), "tag \"%s\"", mf_t_show(shown, sizeof(shown), rows[i].tag, strlen(rows[i].tag)));
        MF_CHECK_INT(label, mf_catalog_tag_ok(rows[i].tag), rows[i].ok);
    }
    char *t128 = mf_t_repeat('t', 128), *t129 = mf_t_repeat('t', 129);
    MF_CHECK_INT("128-byte tag", mf_catalog_tag_ok(t128), 1);
    MF_CHECK_INT("129-byte tag", mf_catalog_tag_ok(t129), 0);
    free(t128);
    free(t129);
}

static void test_name_ok(void **state)
{
    static const struct {
        const char *name;
        int ok;
    } rows[] = {
        {"orders", 1},         {"a", 1},           {"with space", 1},     {"s3://bucket/path", 1},
        {"caf\xc3\xa9", 1},    {"\xe5\xba\x97", 1}, {"emoji \xf0\x9f\x98\x80", 1}, {"quote\"and\\slash", 1},
        {"", 0},               {"a\x01", 0},       {"line\nbreak", 0},    {"tab\t", 0},
        {"del\x7f", 0},        {"\xff", 0},        {"\xc3", 0},           {"\xed\xa0\x80", 0},
        {"\xc0\xaf", 0},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        char label[64], shown[48];
        snprintf(label, sizeof(label), "name \"%s\"",
                 mf_t_show(shown, sizeof(shown), rows[i].name, strlen(rows[i].name)));
        MF_CHECK_INT(label, mf_catalog_name_ok(rows[i].name), rows[i].ok);
    }
    char *n512 = mf_t_repeat('n', 512), *n513 = mf_t_repeat('n', 513);
    MF_CHECK_INT("512-byte name", mf_catalog_name_ok(n512), 1);
    MF_CHECK_INT("513-byte name", mf_catalog_name_ok(n513), 0);
    free(n512);
    free(n513);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_bodies),
        cmocka_unit_test(test_changeset_outlives_body),
        cmocka_unit_test(test_invalid_bodies),
        cmocka_unit_test(test_length_bounds),
        cmocka_unit_test(test_count_bounds),
        cmocka_unit_test(test_many_fields),
        cmocka_unit_test(test_ref_from_json),
        cmocka_unit_test(test_tag_ok),
        cmocka_unit_test(test_name_ok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
