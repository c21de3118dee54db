"""Plans (GET/PUT /api/v1/admin/plans), invoices (one tenant's, every tenant's
as JSON pages and CSV), the tenant's own GET /api/v1/billing, roles and bad
input. Invoice arithmetic is checked against a table of cases written out by
hand: usage rows of past months go straight into usage_monthly (what
mf-analytics folds), so each case is exact."""

import csv
import io
import uuid

import pytest

from conftest import Api, assert_error, assert_list_page, psql, unique
from quota_support import set_quotas, this_month

PLAN_LIMITS = {"max_datasets": 100000, "max_seats": 1000, "api_calls_per_month": 10 ** 12,
               "emit_events_per_month": 10 ** 12, "requests_per_second": 1000,
               "key_requests_per_second": 1000, "audit_retention_days": 90}
PLAN_PRICES = {"base": 10000, "per_dataset": 7, "per_seat": 500, "per_1k_api_calls": 30,
               "per_1k_emit_events": 11}
PLAN_INCLUDED = {"datasets": 10, "seats": 2, "api_calls": 1000, "emit_events": 500}


@pytest.fixture(scope="module")
def plan(admin_api):
    """A plan with small included amounts and round prices, in EUR."""
    name = "inv-" + uuid.uuid4().hex[:10]
    r = admin_api.put("/api/v1/admin/plans/" + name, {"currency": "EUR", "limits": PLAN_LIMITS,
                                                      "prices": PLAN_PRICES, "included": PLAN_INCLUDED})
    assert r.status_code == 201, r.text
    return name


def on_plan(admin_api, tenant, plan):
    admin_api.ok("PUT", "/api/v1/admin/tenants/" + tenant.id, 200, json_body={"plan": plan})


def put_usage(infra, tenant_id, month, usage):
    stmts = ["INSERT INTO usage_monthly (tenant_id, month, metric, quantity) VALUES ('%s', '%s-01', '%s', %d)"
             % (tenant_id, month, metric, n) for metric, n in usage.items()]
    if stmts:
        psql(infra["MF_PG_SUPER_URL"], *stmts)


def base_line(plan, month):
    return {"description": "%s plan, %s" % (plan, month), "quantity": 1, "unit_price": 10000, "amount": 10000}


# usage of a month -> the lines after the base fee, written out by hand
INVOICE_CASES = [
    ({}, []),
    ({"datasets": 10, "seats": 2, "api_calls": 1000, "emit_events": 500}, []),  # exactly the included amounts
    ({"datasets": 11}, [("datasets above the 10 included", 1, 7, 7)]),
    ({"seats": 5}, [("seats above the 2 included", 3, 500, 1500)]),
    ({"api_calls": 1001}, [("API calls above the 1000 included, per 1000", 1, 30, 30)]),  # a started 1,000
    ({"api_calls": 2000}, [("API calls above the 1000 included, per 1000", 1, 30, 30)]),
    ({"api_calls": 2001}, [("API calls above the 1000 included, per 1000", 2, 30, 60)]),
    ({"emit_events": 2500, "datasets": 40, "seats": 3},
     [("datasets above the 10 included", 30, 7, 210), ("seats above the 2 included", 1, 500, 500),
      ("emit events above the 500 included, per 1000", 2, 11, 22)]),
    ({"api_calls": 10 ** 12}, [("API calls above the 1000 included, per 1000", 999999999, 30, 29999999970)]),
]


def test_invoice_arithmetic(admin_api, billing_key, infra, tenant, plan, base_url):
    on_plan(admin_api, tenant, plan)
    billing = Api(base_url, billing_key)
    for i, (usage, extra) in enumerate(INVOICE_CASES):
        month = "2025-%02d" % (i + 1)
        put_usage(infra, tenant.id, month, usage)
        inv = billing.ok("GET", "/api/v1/admin/tenants/%s/invoice" % tenant.id, 200,
                         params={"month": month}).json()
        want = [base_line(plan, month)] + [
            {"description": d, "quantity": q, "unit_price": u, "amount": a} for d, q, u, a in extra]
        assert inv["lines"] == want, (usage, inv)
        assert inv["total"] == sum(l["amount"] for l in want), inv
        assert (inv["tenant"], inv["month"], inv["currency"], inv["plan"]) == (tenant.id, month, "EUR", plan)
        assert all(isinstance(l[k], int) for l in inv["lines"] for k in ("quantity", "unit_price", "amount"))


def test_invoice_this_month_counts_live_usage(admin_api, tenant, plan):
    on_plan(admin_api, tenant, plan)
    for i in range(12):
        tenant.api.create_dataset("live%d" % i)
    inv = admin_api.ok("GET", "/api/v1/admin/tenants/%s/invoice" % tenant.id, 200).json()
    assert inv["month"] == this_month()
    assert inv["lines"][1] == {"description": "datasets above the 10 included", "quantity": 2,
                               "unit_price": 7, "amount": 14}, inv
    assert inv["total"] == 10014


def test_billing_overview(admin_api, tenant):
    # the plan's limits, but for the rates the harness lifts
    set_quotas(admin_api, tenant.id, max_datasets=None, max_seats=None, api_calls_per_month=None,
               emit_events_per_month=None)
    for _ in range(3):
        tenant.api.ok("GET", "/api/v1/datasets", 200)
    tenant.api.create_dataset("b1")
    doc = tenant.api.ok("GET", "/api/v1/billing", 200).json()
    assert doc["plan"] == "free" and doc["month"] == this_month(), doc
    usage = doc["usage"]
    assert usage["datasets"] == {"used": 1, "limit": 1000}, usage
    assert usage["api_calls"] == {"used": 5, "limit": 100000}, usage  # this call included
    assert usage["emit_events"] == {"used": 0, "limit": 100000}, usage
    assert usage["seats"]["limit"] == 5, usage
    assert doc["limits"]["requests_per_second"] == 100000  # the harness's override shows
    inv = doc["invoice"]
    assert (inv["currency"], inv["total"], len(inv["lines"])) == ("USD", 0, 1), inv


def test_invoices_list_json_and_csv(admin_api, billing_key, base_url, tenant_factory, plan):
    a = tenant_factory()
    on_plan(admin_api, a, plan)
    evil_name = "=HYPERLINK(\"x\")," + unique("b")
    r = admin_api.ok("POST", "/api/v1/admin/tenants", 201, json_body={"name": evil_name})
    b_id = r.json()["tenant"]["id"]
    billing = Api(base_url, billing_key)
    month = this_month()
    items = billing.walk("/api/v1/admin/invoices", limit=7, params={"month": month})
    by_tenant = {i["tenant"]: i for i in items}
    assert len(by_tenant) == len(items)
    assert by_tenant[a.id]["total"] == 10000 and by_tenant[a.id]["currency"] == "EUR"
    assert by_tenant[b_id]["total"] == 0 and by_tenant[b_id]["tenant_name"] == evil_name
    # tenants created after a month have no invoice for it
    old = billing.walk("/api/v1/admin/invoices", limit=500, params={"month": "2020-01"})
    assert a.id not in {i["tenant"] for i in old}
    for how in ({"params": {"month": month, "format": "csv"}},
                {"params": {"month": month}, "headers": {"Accept": "text/csv"}}):
        r = billing.get("/api/v1/admin/invoices", **how)
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert rows and set(rows[0].keys()) == {"tenant", "tenant_name", "month", "currency", "description",
                                                "quantity", "unit_price", "amount"}
        mine = [x for x in rows if x["tenant"] == a.id]
        assert [x["description"] for x in mine] == ["%s plan, %s" % (plan, month), "total"], mine
        assert mine[0]["amount"] == "10000" and mine[1]["amount"] == "10000" and mine[0]["currency"] == "EUR"
        evil = [x for x in rows if x["tenant"] == b_id]
        assert evil and all(x["tenant_name"] == "'" + evil_name for x in evil), evil  # no formula
        assert {x["tenant"] for x in rows} == set(by_tenant), "CSV and JSON list other tenants"


def test_plans(admin_api, billing_key, base_url, infra, plan):
    billing = Api(base_url, billing_key)
    names = [p["name"] for p in billing.walk("/api/v1/admin/plans", limit=2)]
    assert {"free", "team", "enterprise", plan} <= set(names) and names == sorted(names)
    doc = billing.ok("GET", "/api/v1/admin/plans/" + plan, 200).json()
    assert doc["limits"] == PLAN_LIMITS and doc["prices"] == PLAN_PRICES and doc["included"] == PLAN_INCLUDED
    assert doc["currency"] == "EUR"
    team = billing.ok("GET", "/api/v1/admin/plans/team", 200).json()
    assert team["prices"]["base"] == 49900 and team["limits"]["max_seats"] == 50, team
    # a change merges into the plan
    name = "p-" + uuid.uuid4().hex[:8]
    admin_api.ok("PUT", "/api/v1/admin/plans/" + name, 201, json_body={"limits": PLAN_LIMITS})
    doc = admin_api.ok("PUT", "/api/v1/admin/plans/" + name, 200,
                       json_body={"limits": {"max_seats": 9}, "prices": {"base": 123}}).json()
    assert doc["limits"]["max_seats"] == 9 and doc["limits"]["max_datasets"] == 100000, doc
    assert doc["prices"]["base"] == 123 and doc["prices"]["per_seat"] == 0 and doc["currency"] == "USD", doc
    assert doc["included"]["seats"] == 1000, doc  # a new plan includes up to its limits unless told
    _, rows, _ = psql(infra["MF_PG_SUPER_URL"], "SELECT action FROM audit_log WHERE tenant_id IS NULL "
                      "AND target = '%s' ORDER BY at, id" % name)
    assert rows == ["plan.created", "plan.updated"], rows


def test_billing_roles(admin_api, billing_key, base_url, tenant, tenant_factory):
    billing = Api(base_url, billing_key)
    other = tenant_factory()
    invoice = "/api/v1/admin/tenants/%s/invoice" % other.id
    billing.ok("GET", invoice, 200)
    billing.ok("GET", "/api/v1/admin/invoices", 200)
    assert_error(billing.put("/api/v1/admin/plans/free", {"prices": {"base": 1}}), 403, "forbidden")
    assert_error(billing.get("/api/v1/billing"), 403, "forbidden")
    assert_error(admin_api.get("/api/v1/billing"), 403, "forbidden")
    # a tenant admin reads only its own billing, never the platform's invoices
    for path in (invoice, "/api/v1/admin/tenants/%s/invoice" % tenant.id, "/api/v1/admin/invoices",
                 "/api/v1/admin/plans", "/api/v1/admin/plans/free"):
        assert_error(tenant.api.get(path), 403, "forbidden")
    assert_error(tenant.api.put("/api/v1/admin/plans/free", {"prices": {"base": 1}}), 403, "forbidden")
    assert_error(tenant.client("editor").get("/api/v1/billing"), 403, "forbidden")
    assert_error(Api(base_url).get("/api/v1/billing"), 401, "unauthorized")
    assert admin_api.ok("GET", "/api/v1/admin/plans/free", 200).json()["prices"]["base"] == 0


def test_billing_bad_input(admin_api, tenant):
    inv = "/api/v1/admin/tenants/%s/invoice" % tenant.id
    for month in ("2026-13", "2026-00", "2026-1", "26-01", "abcd-ef", "1999-12", "2026/01", "2026-01-01", ""):
        assert_error(admin_api.get(inv, params={"month": month}), 400, "invalid_request", "month")
    assert_error(admin_api.get(inv, params={"month": "2999-01"}), 400, "invalid_request", "not begun")
    assert_error(admin_api.get("/api/v1/admin/invoices", params={"format": "xml"}), 400, "invalid_request", "format")
    assert_error(admin_api.get("/api/v1/admin/invoices", params={"limit": "0"}), 400, "invalid_request", "limit")
    assert_error(admin_api.get("/api/v1/admin/invoices", params={"cursor": "!!"}), 400, "invalid_request", "cursor")
    assert_error(admin_api.get("/api/v1/admin/tenants/not-a-uuid/invoice"), 404, "not_found")
    assert_error(admin_api.get("/api/v1/admin/tenants/%s/invoice" % uuid.uuid4()), 404, "not_found")
    assert_error(admin_api.get("/api/v1/admin/plans/nope"), 404, "not_found")
    assert_error(admin_api.get("/api/v1/admin/plans/BAD%20NAME"), 404, "not_found")
    name = "bad-" + uuid.uuid4().hex[:8]
    path = "/api/v1/admin/plans/" + name
    bad = [
        ({"limits": PLAN_LIMITS, "colour": "red"}, "colour"),
        ({"limits": PLAN_LIMITS, "currency": "usd"}, "currency"),
        ({"limits": PLAN_LIMITS, "currency": "EURO"}, "currency"),
        ({"limits": PLAN_LIMITS, "prices": {"base": -1}}, "prices.base"),
        ({"limits": PLAN_LIMITS, "prices": {"base": "10"}}, "prices.base"),
        ({"limits": PLAN_LIMITS, "prices": {"setup": 10}}, "setup"),
        ({"limits": PLAN_LIMITS, "included": {"api_calls": 1.5}}, "included.api_calls"),
        ({"limits": dict(PLAN_LIMITS, max_tables=1)}, "limits.max_tables"),
        ({"limits": dict(PLAN_LIMITS, requests_per_second=0)}, "limits.requests_per_second"),
        ({"limits": {"max_seats": 3}}, "every limit"),
        ({"limits": "lots"}, "limits"),
    ]
    for body, names in bad:
        assert_error(admin_api.put(path, body), 400, "invalid_request", names)
    assert_error(admin_api.put("/api/v1/admin/plans/Bad", {"limits": PLAN_LIMITS}), 400, "invalid_request", "name")
    r = admin_api.req("PUT", path, data=b"[1]")
    assert_error(r, 400, "invalid_json")
    assert_error(admin_api.get(path), 404, "not_found")  # nothing was created
