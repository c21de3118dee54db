#!/usr/bin/env python3
"""Seeds the local stack with a demo tenant and a small sample warehouse.

Reads MF_API_URL and MF_PLATFORM_ADMIN_KEY from the environment, creates the
tenant `demo` (plan `team`) and prints `<tenant_id> <api_key>` on stdout (one
line; the key is the tenant's first admin key). Then, with that key, it
creates eight datasets (raw -> staging -> marts, with fields, tags, domains,
owners and upstream lineage) and one lineage edge with column lineage.
When MF_DEMO_USER is set (the development OpenID provider's demo person), it
is invited as the demo tenant's admin, so single sign-on works at once.

Standard library only. Any non-2xx answer stops it with a non-zero exit and
the answer's body on stderr. Progress goes to stderr.
"""

import json
import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 30

LAKE = "s3://demo-lake"


def field(name, type_, nullable=True, description="", tags=None):
    """One dataset field in the API's shape."""
    f = {"name": name, "type": type_, "nullable": nullable, "description": description}
    if tags:
        f["tags"] = tags
    return f


# A small e-commerce warehouse: three raw feeds landed from the shop's
# database and the payment provider, their cleaned staging models, and two
# marts built from them. Listed upstream-first so no placeholders appear
# except the external source table.
DATASETS = [
    {
        "name": "raw_orders",
        "path": f"{LAKE}/raw/orders/",
        "format": "json",
        "description": "Orders as exported every hour from the shop database, untyped.",
        "domain": "sales",
        "owner": "data-platform@example.com",
        "tags": ["raw", "hourly"],
        "fields": [
            field("order_id", "string", False, "Shop order number", ["key"]),
            field("customer_id", "string", False, "Shop customer number"),
            field("order_ts", "string", False, "Order time, ISO 8601 text"),
            field("status", "string", True, "placed, paid, shipped, cancelled"),
            field("amount_cents", "bigint", True, "Order total in cents"),
            field("currency", "string", True, "ISO 4217 code"),
        ],
        "upstream": [{"namespace": "shop_db", "name": "public.orders"}],
        "operational": {"row_count": 1284331, "size_bytes": 412_000_000, "partition_keys": ["ingest_hour"]},
    },
    {
        "name": "raw_customers",
        "path": f"{LAKE}/raw/customers/",
        "format": "json",
        "description": "Customer accounts exported daily from the shop database.",
        "domain": "customers",
        "owner": "data-platform@example.com",
        "tags": ["raw", "pii"],
        "fields": [
            field("customer_id", "string", False, "Shop customer number", ["key"]),
            field("email", "string", True, "Login e-mail", ["pii"]),
            field("full_name", "string", True, "Name as entered", ["pii"]),
            field("country", "string", True, "ISO 3166-1 alpha-2"),
            field("created_at", "string", True, "Sign-up time, ISO 8601 text"),
        ],
        "operational": {"row_count": 98412, "size_bytes": 21_500_000},
    },
    {
        "name": "raw_payments",
        "path": f"{LAKE}/raw/payments/",
        "format": "json",
        "description": "Settled payments from the payment provider's daily report.",
        "domain": "finance",
        "owner": "finance-data@example.com",
        "tags": ["raw", "daily"],
        "fields": [
            field("payment_id", "string", False, "Provider payment id", ["key"]),
            field("order_id", "string", False, "Shop order number"),
            field("method", "string", True, "card, paypal, bank_transfer"),
            field("amount_cents", "bigint", False, "Settled amount in cents"),
            field("paid_at", "string", True, "Settlement time, ISO 8601 text"),
        ],
        "operational": {"row_count": 1190022, "size_bytes": 150_000_000},
    },
    {
        "name": "stg_orders",
        "path": f"{LAKE}/staging/orders/",
        "format": "parquet",
        "description": "Typed, deduplicated orders; one row per order.",
        "domain": "sales",
        "owner": "analytics-eng@example.com",
        "tags": ["staging"],
        "fields": [
            field("order_id", "bigint", False, "Order number", ["key"]),
            field("customer_id", "bigint", False, "Customer number"),
            field("ordered_at", "timestamp", False, "Order time, UTC"),
            field("status", "string", False, "placed, paid, shipped, cancelled"),
            field("amount", "decimal(12,2)", False, "Order total in EUR"),
            field("currency", "string", False, "Original currency"),
        ],
        "upstream": ["raw_orders"],
        "operational": {"row_count": 1279874, "size_bytes": 88_000_000, "partition_keys": ["order_date"]},
    },
    {
        "name": "stg_customers",
        "path": f"{LAKE}/staging/customers/",
        "format": "parquet",
        "description": "Typed customers with normalised e-mail and country.",
        "domain": "customers",
        "owner": "analytics-eng@example.com",
        "tags": ["staging", "pii"],
        "fields": [
            field("customer_id", "bigint", False, "Customer number", ["key"]),
            field("email", "string", True, "Lower-cased e-mail", ["pii"]),
            field("full_name", "string", True, "Name as entered", ["pii"]),
            field("country", "string", True, "ISO 3166-1 alpha-2"),
            field("created_at", "timestamp", False, "Sign-up time, UTC"),
        ],
        "upstream": ["raw_customers"],
        "operational": {"row_count": 98390, "size_bytes": 6_200_000},
    },
    {
        "name": "stg_payments",
        "path": f"{LAKE}/staging/payments/",
        "format": "parquet",
        "description": "Typed payments joined to their order number.",
        "domain": "finance",
        "owner": "finance-data@example.com",
        "tags": ["staging"],
        "fields": [
            field("payment_id", "string", False, "Provider payment id", ["key"]),
            field("order_id", "bigint", False, "Order number"),
            field("method", "string", False, "card, paypal, bank_transfer"),
            field("amount", "decimal(12,2)", False, "Settled amount in EUR"),
            field("paid_at", "timestamp", False, "Settlement time, UTC"),
        ],
        "upstream": ["raw_payments"],
        "operational": {"row_count": 1189950, "size_bytes": 52_000_000},
    },
    {
        "name": "orders_daily",
        "path": f"{LAKE}/marts/orders_daily/",
        "format": "parquet",
        "description": "Orders and revenue per day: the sales dashboard's source.",
        "domain": "sales",
        "owner": "analytics-eng@example.com",
        "tags": ["gold", "kpi"],
        "fields": [
            field("order_date", "date", False, "Day of the order, UTC", ["key"]),
            field("orders", "bigint", False, "Orders placed"),
            field("revenue", "decimal(14,2)", False, "Sum of order totals, EUR"),
            field("paid_revenue", "decimal(14,2)", False, "Sum of settled payments, EUR"),
        ],
        "upstream": ["stg_orders", "stg_payments"],
        "operational": {"row_count": 1461, "size_bytes": 96_000, "partition_keys": ["order_date"]},
    },
    {
        "name": "customer_ltv",
        "path": f"{LAKE}/marts/customer_ltv/",
        "format": "parquet",
        "description": "Lifetime value per customer, refreshed nightly.",
        "domain": "customers",
        "owner": "analytics-eng@example.com",
        "tags": ["gold", "pii"],
        "fields": [
            field("customer_id", "bigint", False, "Customer number", ["key"]),
            field("email", "string", True, "Lower-cased e-mail", ["pii"]),
            field("first_order_at", "timestamp", True, "First order time, UTC"),
            field("orders", "bigint", False, "Orders placed"),
            field("lifetime_value", "decimal(14,2)", False, "Sum of order totals, EUR"),
        ],
        "upstream": ["stg_orders", "stg_customers"],
        "operational": {"row_count": 97120, "size_bytes": 4_100_000},
    },
]

# Column lineage of the sales mart (the dataset-level edge already exists
# through `upstream`; posting it again merges the columns).
COLUMN_EDGE = {
    "source": "stg_orders",
    "target": "orders_daily",
    "columns": [
        {"source_field": "ordered_at", "target_field": "order_date",
         "transformation": "cast", "expression": "CAST(ordered_at AS DATE)"},
        {"source_field": "order_id", "target_field": "orders",
         "transformation": "aggregation", "expression": "COUNT(order_id)"},
        {"source_field": "amount", "target_field": "revenue",
         "transformation": "aggregation", "expression": "SUM(amount)"},
    ],
}


class ApiError(Exception):
    pass


def post(base_url, key, path, body):
    """POSTs JSON, returns the decoded answer; raises ApiError on non-2xx."""
    url = base_url.rstrip("/") + path
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as e:
        detail = e.read().decode(errors="replace")
        raise ApiError(f"POST {path} -> HTTP {e.code}\n{detail}") from None
    except (urllib.error.URLError, OSError) as e:
        raise ApiError(f"POST {url} failed: {e}") from None
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        raise ApiError(f"POST {path}: answer is not JSON:\n{raw.decode(errors='replace')}") from None


def main():
    base_url = os.environ.get("MF_API_URL")
    platform_key = os.environ.get("MF_PLATFORM_ADMIN_KEY")
    if not base_url or not platform_key:
        print("seed_demo.py: MF_API_URL and MF_PLATFORM_ADMIN_KEY must be set", file=sys.stderr)
        return 2
    try:
        created = post(base_url, platform_key, "/api/v1/admin/tenants", {"name": "demo", "plan": "team"})
        try:
            tenant_id = created["tenant"]["id"]
            api_key = created["api_key"]
        except (KeyError, TypeError):
            raise ApiError(f"POST /api/v1/admin/tenants: unexpected answer {created!r}") from None
        print(f"{tenant_id} {api_key}", flush=True)
        print(f"seed_demo.py: tenant demo {tenant_id}", file=sys.stderr)

        demo_user = os.environ.get("MF_DEMO_USER")
        if demo_user:
            post(base_url, api_key, "/api/v1/invitations", {"email": demo_user, "role": "admin"})
            print(f"seed_demo.py: invited {demo_user} as admin", file=sys.stderr)

        for ds in DATASETS:
            post(base_url, api_key, "/api/v1/datasets", ds)
            print(f"seed_demo.py: dataset {ds['name']}", file=sys.stderr)
        post(base_url, api_key, "/api/v1/lineage/edges", COLUMN_EDGE)
        print(f"seed_demo.py: column lineage {COLUMN_EDGE['source']} -> {COLUMN_EDGE['target']}",
              file=sys.stderr)
    except ApiError as e:
        print(f"seed_demo.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
