"""Column profiles and PII / sensitivity classification (docs/classification.md):
name rules on datasets written through the API, value patterns from emit samples
through the real mf-ingest and worker (Luhn-valid and invalid card numbers, phones,
IPv4/IPv6, SSNs inside and outside the issued ranges), OpenLineage dataQualityMetrics
as profiles over time, a dbt import, tenant rule CRUD with validation and re-evaluation,
propagation along a three-hop column lineage chain with a masking edge (and a cycle) and
through a batch the worker applies at once, a person's verification and rejection, a
scoped viewer, a foreign tenant, samples never stored anywhere in the database, and the
SQL validators (Luhn, SSN ranges, IPv6, masking transformations) one value at a time."""

import json
import uuid

import pytest

from classification_support import classes, fields, live, make_dataset, rule_by_name, tables_holding
from conftest import Api, assert_error, assert_ts, psql
from integrations_support import dbt_manifest

RULES = "/api/v1/classification/rules"
FIELDS = "/api/v1/classification/fields"
DECIDE = "/api/v1/datasets/%s/fields/%s/classification"


@pytest.fixture
def tenant(tenant_factory):
    """A tenant whose plan allows these tests' request rate."""
    return tenant_factory("enterprise")


def emit_applied(client, body):
    doc = client.wait_event(client.emit(body))
    assert doc["status"] == "applied", doc
    return doc


def test_name_rules_on_api_datasets(tenant, api):
    make_dataset(api, "cl_customers", ["customer_id", "email", "phone_number", "first_name", "ssn", "card_number",
                                       "ip_address", "order_total", "password_hash"])
    got = live(api, "cl_customers")
    assert got == {"email": {"pii.email"}, "phone_number": {"pii.phone"}, "first_name": {"pii.name"},
                   "ssn": {"pii.national_id"}, "card_number": {"pii.card_number"}, "ip_address": {"pii.ip_address"},
                   "password_hash": {"sensitive.credential"}}, got
    cls, doc = classes(api, "cl_customers")
    assert doc["dataset"] == {"namespace": "default", "name": "cl_customers"}
    assert doc["sensitivity"] == "restricted"
    email = cls["email"]["pii.email"]
    assert (email["source"], email["status"], email["sensitivity"]) == ("rule", "suggested", "confidential")
    assert email["rule"]["name"] == "name-email" and email["may_be_anonymised"] is False
    assert_ts(email["updated_at"])

    # a schema change re-evaluates: the dropped field's suggestion goes, a new one comes
    r = api.put("/api/v1/datasets/cl_customers", {"fields": fields("customer_id", "email", "mobile")})
    assert r.status_code == 200, r.text
    assert live(api, "cl_customers") == {"email": {"pii.email"}, "mobile": {"pii.phone"}}

    items = api.walk(FIELDS, limit=1, params={"class": "pii.phone"})
    assert [(i["dataset"]["name"], i["field"]) for i in items] == [("cl_customers", "mobile")]
    assert api.walk(FIELDS, params={"sensitivity": "restricted"}) == []
    assert_error(api.get(FIELDS, params={"status": "maybe"}), 400, "invalid_request", "status")
    assert_error(api.get(FIELDS, params={"cursor": "bm9wZQ"}), 400, "invalid_request", "cursor")


def profile_emit(name, columns, row_count=None, fields_=None):
    body = {"dataset": {"name": name, "fields": fields(*(fields_ or columns.keys()))}, "profile": {"columns": columns}}
    if row_count is not None:
        body["profile"]["row_count"] = row_count
    return body


def test_value_patterns_from_emit_samples(tenant, api, ingest, ingest_worker, migrated):
    marker = "zq%s" % uuid.uuid4().hex[:10]
    client = tenant.ingest(ingest, "editor")
    cols = {
        "contact": {"null_count": 1, "distinct_count": 4, "min": "a@x.io", "max": "z@y.io",
                    "samples": ["%s@example.com" % marker, "bob@example.org", "carol.d+x@mail.co.uk", " "]},
        "good_cards": {"samples": ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005"]},
        "bad_cards": {"samples": ["4111 1111 1111 1112", "5500-0000-0000-0005", "378282246310006"]},
        "phones": {"samples": ["+44 20 7946 0958", "(212) 555-0147", "+1-202-555-0175"]},
        "v4": {"samples": ["192.168.1.20", "10.0.0.1", "8.8.8.8", "172.16.0.9", "999.1.1.1"]},
        "mixed": {"samples": ["ann@example.com", "bob@example.com", "n/a", "unknown"]},
        "v6": {"samples": ["2001:db8::1", "fe80::1ff:fe23:4567:890a", "::1"]},
        "ssns": {"samples": ["123-45-6789", "501-12-3456", "772-01-0001"]},
        "bad_ssns": {"samples": ["000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567"]},
        "amount": {"min": 0, "max": 99.5, "null_count": 0, "samples": ["12.5", "99.5", "3"]},
    }
    emit_applied(client, profile_emit("cl_samples", cols, row_count=10))
    got = live(api, "cl_samples")
    assert got == {"contact": {"pii.email"}, "good_cards": {"pii.card_number"}, "phones": {"pii.phone"},
                   "v4": {"pii.ip_address"}, "v6": {"pii.ip_address"}, "ssns": {"pii.national_id"}}, got
    cls, _ = classes(api, "cl_samples")
    contact = cls["contact"]["pii.email"]
    assert contact["source"] == "value" and contact["via"] == {"matched": 3, "sampled": 3}, contact
    # 4 of 5 is the default threshold (0.8) exactly; "mixed" (2 of 4) stays below it
    assert cls["v4"]["pii.ip_address"]["via"] == {"matched": 4, "sampled": 5}
    assert "mixed" not in cls

    prof = api.ok("GET", "/api/v1/datasets/cl_samples/profile", 200).json()
    assert prof["row_count"] == 10 and prof["profiles"] == 1
    by = {c["name"]: c for c in prof["columns"]}
    assert (by["contact"]["null_count"], by["contact"]["distinct_count"], by["contact"]["min"]) == (1, 4, "a@x.io")
    assert by["contact"]["sampled"] == 3 and by["amount"]["max"] == 99.5 and by["amount"]["min"] == 0
    assert "samples" not in by["contact"]
    # the samples are nowhere in the database: only what the classifier concluded
    assert tables_holding(migrated, marker) == []
    # nor in the record of an event that kept failing
    failed = {"event_id": str(uuid.uuid4()), "tenant_id": tenant.id, "source": "emit",
              "profiles": [{"dataset": {"namespace": "default", "name": "cl_samples"},
                            "columns": {"contact": {"null_count": 7, "samples": ["%s@fail.example" % marker]}}}]}
    psql(migrated["MF_PG_ADMIN_URL"], "SELECT mf_record_ingest_failure('%s'::jsonb, 5, 'gave up')" % json.dumps(failed))
    assert tables_holding(migrated, marker) == []
    kept = psql(migrated["MF_PG_ADMIN_URL"], "SELECT event->'profiles'->0->'columns'->'contact' FROM ingest_failures "
                                             "WHERE event_id = '%s'" % failed["event_id"])[1]
    assert [json.loads(k) for k in kept] == [{"null_count": 7}]

    # bad profiles are refused at the door and change nothing
    base = {"dataset": {"name": "cl_samples", "fields": fields("contact")}}
    cases = [
        ({"columns": {"contact": {"samples": ["x"] * 101}}}, "samples"),
        ({"columns": {"contact": {"samples": ["x" * 257]}}}, "samples[0]"),
        ({"columns": {"contact": {"samples": [5]}}}, "samples[0]"),
        ({"columns": {"contact": {"nulls": 1}}}, "nulls"),
        ({"columns": {"contact": {"null_count": -1}}}, "null_count"),
        ({"row_count": 3, "columns": {"contact": {"null_count": 4}}}, "row_count"),
        ({"columns": {"other": {"null_count": 1}}}, "not a field"),
        ({"columns": {"contact": {"min": {"a": 1}}}}, "min"),
        ({"columns": []}, "columns"),
        ({"row_count": 1}, "columns"),
        ({"columns": {}, "extra": 1}, "extra"),
    ]
    for profile, needle in cases:
        r = client.post("/api/v1/emit", dict(base, profile=profile))
        assert_error(r, 400, "invalid_request", needle)
    assert api.ok("GET", "/api/v1/datasets/cl_samples/profile", 200).json()["profiles"] == 1


def ol_event(name, row_count, metrics, run_id=None):
    return {
        "eventType": "COMPLETE", "eventTime": "2026-01-01T00:00:00Z",
        "producer": "https://example.com/test", "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json",
        "run": {"runId": run_id or str(uuid.uuid4())},
        "job": {"namespace": "default", "name": "cl_profiler"},
        "inputs": [],
        "outputs": [{"namespace": "default", "name": name, "facets": {
            "schema": {"_producer": "x", "_schemaURL": "x", "fields": [{"name": "id", "type": "int"},
                                                                        {"name": "email", "type": "string"}]},
            "dataQualityMetrics": {"_producer": "x", "_schemaURL": "x", "rowCount": row_count,
                                   "columnMetrics": metrics}}}],
    }


def test_openlineage_quality_metrics_profiles_over_time(tenant, api, ingest, ingest_worker):
    client = tenant.ingest(ingest, "editor")
    for rows, nulls in ((100, 0), (150, 3), (175, 5)):
        ev = client.wait_event(client.lineage(ol_event("cl_ol", rows, {
            "id": {"nullCount": nulls, "distinctCount": rows - nulls, "min": 1, "max": rows},
            "email": {"nullCount": 2}})))
        assert ev["status"] == "applied", ev
    prof = api.ok("GET", "/api/v1/datasets/cl_ol/profile", 200).json()
    by = {c["name"]: c for c in prof["columns"]}
    assert prof["row_count"] == 175 and prof["profiles"] == 3
    assert (by["id"]["null_count"], by["id"]["distinct_count"], by["id"]["min"], by["id"]["max"]) == (5, 170, 1, 175)
    assert by["id"]["source"] == "openlineage" and by["email"]["null_count"] == 2
    # the schema facet's fields were classified by name
    assert live(api, "cl_ol") == {"email": {"pii.email"}}

    hist = api.walk("/api/v1/datasets/cl_ol/profile/history", limit=2, params={"column": "id"})
    assert [(h["row_count"], h["null_count"]) for h in hist] == [(175, 5), (150, 3), (100, 0)]
    whole = api.walk("/api/v1/datasets/cl_ol/profile/history")
    assert [(h["row_count"], h["columns"]) for h in whole] == [(175, 2), (150, 2), (100, 2)]
    assert api.walk("/api/v1/datasets/cl_ol/profile/history", params={"column": "nope"}) == []
    assert_error(api.get("/api/v1/datasets/cl_ol/profile/history", params={"cursor": "!!"}), 400, "invalid_request")
    assert_error(api.get("/api/v1/datasets/cl_nope/profile"), 404, "not_found")

    bad = ol_event("cl_ol", 10, {"id": {"nullCount": "three"}})
    assert_error(client.post("/api/v1/lineage", bad), 400, "invalid_request", "nullCount")
    bad = ol_event("cl_ol", 10, {"id": {"min": "a"}})
    assert_error(client.post("/api/v1/lineage", bad), 400, "invalid_request", "min")


def test_rule_crud_validation_and_reevaluation(tenant, api):
    rules = api.walk(RULES, limit=4)
    names = [r["name"] for r in rules]
    assert names == sorted(names) and "name-email" in names and "value-card-number" in names
    assert all(r["builtin"] for r in rules)
    make_dataset(api, "cl_refs", ["cust_ref", "email"])
    assert live(api, "cl_refs") == {"email": {"pii.email"}}

    created = api.post(RULES, {"name": "cust-ref", "kind": "name", "pattern": "^cust_ref$",
                               "class": "internal.customer_ref", "sensitivity": "internal",
                               "description": "our customer references"})
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["builtin"] is False and rule["enabled"] is True and rule["threshold"] is None
    assert live(api, "cl_refs") == {"email": {"pii.email"}, "cust_ref": {"internal.customer_ref"}}

    bad = [
        ({"pattern": "("}, "pattern is not a valid regular expression"),
        ({"pattern": "(a+)+\\1"}, "back-references"),
        ({"class": "PII Email"}, "class"),
        ({"sensitivity": "secret"}, "sensitivity"),
        ({"kind": "shape"}, "kind"),
        ({"threshold": 0.5}, "value rules only"),
        ({"validator": "luhn"}, "value rules only"),
        ({"kind": "value", "threshold": 1.5}, "threshold"),
        ({"kind": "value", "validator": "crc"}, "validator"),
        ({"surprise": 1}, "surprise"),
        ({"name": "Bad Name"}, "name"),
        ({"pattern": 5}, "pattern"),
        ({"enabled": "yes"}, "enabled"),
    ]
    good = {"name": "probe", "kind": "name", "pattern": "x", "class": "a.b", "sensitivity": "internal"}
    for patch, needle in bad:
        assert_error(api.post(RULES, dict(good, **patch)), 400, "invalid_request", needle)
    assert_error(api.post(RULES, {"name": "probe"}), 400, "invalid_request", "kind")
    assert_error(api.post(RULES, dict(good, name="cust-ref")), 409, None, "cust-ref")
    assert "probe" not in [r["name"] for r in api.walk(RULES)]

    # change: a rule that stops matching takes its suggestions with it
    r = api.put(RULES + "/" + rule["id"], {"pattern": "^customer_ref$"})
    assert r.status_code == 200 and r.json()["pattern"] == "^customer_ref$", r.text
    assert live(api, "cl_refs") == {"email": {"pii.email"}}
    assert_error(api.put(RULES + "/" + rule["id"], {"pattern": "[z-a]"}), 400, "invalid_request", "pattern")

    # a built-in is disabled (or changed), not deleted
    email_rule = rule_by_name(api, "name-email")
    assert api.put(RULES + "/" + email_rule["id"], {"enabled": False}).json()["enabled"] is False
    assert live(api, "cl_refs") == {}
    r = api.put(RULES + "/" + email_rule["id"], {"enabled": True, "sensitivity": "restricted"})
    assert r.status_code == 200, r.text
    cls, doc = classes(api, "cl_refs")
    assert cls["email"]["pii.email"]["sensitivity"] == "restricted" and doc["sensitivity"] == "restricted"
    assert_error(api.delete(RULES + "/" + email_rule["id"]), 409, None, "built-in")
    assert_error(api.put(RULES + "/" + email_rule["id"], {"name": "renamed"}), 400, "invalid_request", "name")

    api.ok("DELETE", RULES + "/" + rule["id"], 204)
    assert_error(api.delete(RULES + "/" + rule["id"]), 404, "not_found")
    assert_error(api.put(RULES + "/not-a-uuid", {"enabled": False}), 404, "not_found")

    audit = [a["action"] for a in api.walk("/api/v1/audit") if a["action"].startswith("classification_rule.")]
    assert audit.count("classification_rule.create") == 1 and audit.count("classification_rule.delete") == 1
    assert audit.count("classification_rule.update") == 3, audit

    viewer = tenant.client("viewer")
    assert viewer.walk(RULES, limit=50)
    assert_error(viewer.post(RULES, good), 403)
    editor = tenant.client("editor")
    assert_error(editor.put(RULES + "/" + email_rule["id"], {"enabled": False}), 403)


def add_edge(api, src, tgt, columns):
    r = api.post("/api/v1/lineage/edges", {"source": {"name": src}, "target": {"name": tgt}, "columns": columns})
    assert r.status_code in (200, 201), r.text


def test_propagation_along_three_hops_with_a_masking_edge(tenant, api):
    make_dataset(api, "cl_raw", ["user_email", "amount"])
    make_dataset(api, "cl_clean", ["contact", "amount"])
    make_dataset(api, "cl_hashed", ["contact_digest"])
    make_dataset(api, "cl_mart", ["who"])
    add_edge(api, "cl_raw", "cl_clean", [{"source_field": "user_email", "target_field": "contact",
                                         "transformation": "DIRECT/IDENTITY"}])
    add_edge(api, "cl_clean", "cl_hashed", [{"source_field": "contact", "target_field": "contact_digest",
                                            "transformation": "DIRECT/HASH"}])
    add_edge(api, "cl_hashed", "cl_mart", [{"source_field": "contact_digest", "target_field": "who",
                                           "transformation": "DIRECT/IDENTITY"}])
    # a cycle back to the source ends at the depth bound and changes nothing there
    add_edge(api, "cl_mart", "cl_raw", [{"source_field": "who", "target_field": "user_email",
                                        "transformation": "DIRECT/IDENTITY"}])

    raw, _ = classes(api, "cl_raw")
    assert raw["user_email"]["pii.email"]["source"] == "rule"
    clean, _ = classes(api, "cl_clean")
    c = clean["contact"]["pii.email"]
    assert (c["source"], c["status"], c["may_be_anonymised"]) == ("inherited", "suggested", False), c
    assert c["via"]["dataset"]["name"] == "cl_raw" and c["via"]["field"] == "user_email"
    assert c["via"]["depth"] == 1 and c["via"]["transformation"] == "DIRECT/IDENTITY"
    hashed, _ = classes(api, "cl_hashed")
    h = hashed["contact_digest"]["pii.email"]
    assert h["may_be_anonymised"] is True and h["via"]["depth"] == 2, h
    mart, doc = classes(api, "cl_mart")
    m = mart["who"]["pii.email"]
    assert m["may_be_anonymised"] is True and m["via"]["depth"] == 3, m
    assert m["via"]["origin"] == {"dataset": {"namespace": "default", "name": "cl_raw"}, "field": "user_email"}
    assert m["sensitivity"] == "confidential" and doc["sensitivity"] == "confidential"
    inherited = api.walk(FIELDS, params={"source": "inherited"})
    assert sorted(i["dataset"]["name"] for i in inherited) == ["cl_clean", "cl_hashed", "cl_mart"]

    # a person rejects the class in the middle: nothing flows through that field any more
    r = api.put(DECIDE % ("cl_clean", "contact"), {"class": "pii.email", "status": "rejected",
                                                   "note": "already tokenised upstream"})
    assert r.status_code == 200 and r.json()["status"] == "rejected", r.text
    assert live(api, "cl_hashed") == {} and live(api, "cl_mart") == {}
    # and when it is verified again, it flows again
    api.ok("PUT", DECIDE % ("cl_clean", "contact"), 200, json_body={"class": "pii.email", "status": "verified"})
    assert live(api, "cl_mart") == {"who": {"pii.email"}}


def test_verification_and_rejection(tenant, api):
    make_dataset(api, "cl_people", ["email", "phone", "order_id"])
    r = api.put(DECIDE % ("cl_people", "email"), {"class": "pii.email", "status": "verified", "note": "checked"})
    assert r.status_code == 200, r.text
    v = r.json()
    assert (v["status"], v["source"], v["note"]) == ("verified", "rule", "checked")
    assert v["decided_by"] and v["decided_at"]
    api.ok("PUT", DECIDE % ("cl_people", "phone"), 200, json_body={"class": "pii.phone", "status": "rejected"})
    # a class no rule suggested, set by a person
    p = api.ok("PUT", DECIDE % ("cl_people", "order_id"), 200,
               json_body={"class": "sensitive.order", "status": "verified", "sensitivity": "internal"}).json()
    assert (p["source"], p["sensitivity"]) == ("person", "internal")

    # rules change and are re-evaluated: the verified class stays, the rejected one is not re-suggested
    for name in ("name-email", "name-phone"):
        rid = rule_by_name(api, name)["id"]
        api.ok("PUT", RULES + "/" + rid, 200, json_body={"enabled": False})
        api.ok("PUT", RULES + "/" + rid, 200, json_body={"enabled": True})
    api.ok("PUT", "/api/v1/datasets/cl_people", 200, json_body={"fields": fields("email", "phone", "order_id")})
    cls, _ = classes(api, "cl_people")
    assert cls["email"]["pii.email"]["status"] == "verified"
    assert cls["phone"]["pii.phone"]["status"] == "rejected"
    assert cls["order_id"]["sensitive.order"]["status"] == "verified"
    assert {i["field"] for i in api.walk(FIELDS, params={"status": "verified"})} == {"email", "order_id"}

    assert_error(api.put(DECIDE % ("cl_people", "nope"), {"class": "pii.email", "status": "verified"}), 404,
                 "not_found", "nope")
    assert_error(api.put(DECIDE % ("cl_people", "email"), {"class": "pii.email", "status": "maybe"}), 400,
                 "invalid_request", "status")
    assert_error(api.put(DECIDE % ("cl_people", "email"), {"class": "Bad Class", "status": "verified"}), 400,
                 "invalid_request", "class")
    assert_error(api.put(DECIDE % ("cl_people", "email"), {"status": "verified"}), 400, "invalid_request", "class")
    assert_error(api.put(DECIDE % ("cl_people", "email"), {"class": "pii.email", "status": "verified", "x": 1}),
                 400, "invalid_request", "x")
    assert_error(tenant.client("viewer").put(DECIDE % ("cl_people", "email"),
                                             {"class": "pii.email", "status": "verified"}), 403)
    actions = [a["action"] for a in api.walk("/api/v1/audit") if a["action"].startswith("classification.")]
    assert sorted(actions) == ["classification.reject", "classification.verify", "classification.verify"], actions
    first = [a for a in api.walk("/api/v1/audit") if a["action"] == "classification.reject"][0]
    assert first["before"]["status"] == "suggested" and first["after"]["status"] == "rejected"


def test_scoped_viewer_and_foreign_tenant(tenant, tenant_factory, api):
    make_dataset(api, "cl_sales", ["email"], domain="sales")
    make_dataset(api, "cl_ops", ["email", "ssn"], domain="ops")
    scoped = Api(api.base, tenant.make_key("viewer", scope={"domain": "sales"})["key"])
    items = scoped.walk(FIELDS)
    assert [(i["dataset"]["name"], i["field"]) for i in items] == [("cl_sales", "email")]
    assert scoped.walk(FIELDS, params={"class": "pii.national_id"}) == []
    assert_error(scoped.get("/api/v1/datasets/cl_ops/classification"), 404, "not_found")
    assert_error(scoped.get("/api/v1/datasets/cl_ops/profile"), 404, "not_found")
    classes(scoped, "cl_sales")
    # a scoped editor decides in its scope only, and cannot change the tenant's rules
    editor = Api(api.base, tenant.make_key("editor", scope={"domain": "sales"})["key"])
    editor.ok("PUT", DECIDE % ("cl_sales", "email"), 200, json_body={"class": "pii.email", "status": "verified"})
    assert_error(editor.put(DECIDE % ("cl_ops", "email"), {"class": "pii.email", "status": "verified"}), 404)
    rid = rule_by_name(api, "name-email")["id"]
    assert_error(editor.put(RULES + "/" + rid, {"enabled": False}), 403)
    assert rule_by_name(api, "name-email")["enabled"] is True

    other = tenant_factory("enterprise").api
    assert_error(other.get("/api/v1/datasets/cl_sales/classification"), 404, "not_found")
    assert_error(other.put(DECIDE % ("cl_sales", "email"), {"class": "pii.email", "status": "rejected"}), 404)
    assert_error(other.put(RULES + "/" + rid, {"enabled": False}), 404, "not_found")
    assert_error(other.delete(RULES + "/" + rid), 404, "not_found")
    assert other.walk(FIELDS) == []
    assert rid not in [r["id"] for r in other.walk(RULES)]
    assert classes(api, "cl_sales")[0]["email"]["pii.email"]["status"] == "verified"


def test_imports_are_classified(tenant, api):
    """A dbt import writes its fields through the same write path: they are classified too."""
    r = api.post("/api/v1/integrations/dbt", dbt_manifest())
    assert r.status_code == 200, r.text
    items = api.walk(FIELDS, params={"class": "pii.email", "source": "rule"})
    assert [i["dataset"]["name"].split(".")[-1] for i in items] == ["stg_customers"], items


def test_propagation_through_the_ingest_worker(tenant, api, ingest, ingest_worker):
    """A batch of emits applied together by the worker: the classes flow once it commits,
    and a field reached by a masking and an unmasked path is not 'may be anonymised'."""
    client = tenant.ingest(ingest, "editor")
    items = [
        {"dataset": {"name": "cl_w_src", "fields": fields("customer_email")}},
        {"dataset": {"name": "cl_w_agg", "fields": fields("contact")},
         "column_lineage": [{"source": "cl_w_src", "source_field": "customer_email", "target_field": "contact",
                             "transformation": "INDIRECT/GROUP_BY"}]},
        {"dataset": {"name": "cl_w_out", "fields": fields("c")},
         "column_lineage": [{"source": "cl_w_agg", "source_field": "contact", "target_field": "c",
                             "transformation": "DIRECT/IDENTITY"},
                            {"source": "cl_w_src", "source_field": "customer_email", "target_field": "c",
                             "transformation": "DIRECT/IDENTITY"}]},
    ]
    for event_id in client.emit_batch(items):
        assert client.wait_event(event_id)["status"] == "applied"
    agg, _ = classes(api, "cl_w_agg")
    assert agg["contact"]["pii.email"]["may_be_anonymised"] is True
    out, _ = classes(api, "cl_w_out")
    o = out["c"]["pii.email"]
    assert o["may_be_anonymised"] is False and o["via"]["depth"] == 1, o


@pytest.mark.parametrize("fn,value,want", [
    ("mf_luhn", "4111 1111 1111 1111", True), ("mf_luhn", "4111-1111-1111-1112", False),
    ("mf_luhn", "79927398713", False),  # Luhn-valid, but 11 digits is no card number
    ("mf_luhn", "6011000990139424", True), ("mf_luhn", "4111 1111 1111 111a", False),
    ("mf_us_ssn_ok", "123-45-6789", True), ("mf_us_ssn_ok", "000-45-6789", False),
    ("mf_us_ssn_ok", "666-45-6789", False), ("mf_us_ssn_ok", "900-45-6789", False),
    ("mf_us_ssn_ok", "899-45-6789", True), ("mf_us_ssn_ok", "123-00-6789", False),
    ("mf_us_ssn_ok", "123-45-0000", False), ("mf_us_ssn_ok", "078-05-1120", False),
    ("mf_ipv6_ok", "2001:db8::1", True), ("mf_ipv6_ok", "::ffff:10.0.0.1", True),
    ("mf_ipv6_ok", "10.0.0.1", False), ("mf_ipv6_ok", "2001:db8::g", False), ("mf_ipv6_ok", "::1/128", False),
    ("mf_classification_masks", "DIRECT/IDENTITY", False), ("mf_classification_masks", "", False),
    ("mf_classification_masks", "DIRECT/AGGREGATION", True), ("mf_classification_masks", "INDIRECT/FILTER", True),
    ("mf_classification_masks", "DIRECT/IDENTITY, DIRECT/HASH", True), ("mf_classification_masks", "masked", True),
    ("mf_classification_masks", "DIRECT/TRANSFORMATION", False),
])
def test_validators(migrated, fn, value, want):
    got = psql(migrated["MF_PG_ADMIN_URL"], "SELECT %s('%s')" % (fn, value))[1]
    assert got == ["t" if want else "f"], (fn, value, got)
