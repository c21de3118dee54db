"""Helpers shared by test_quotas.py and test_billing.py: quota overrides, Redis
counters, folded usage."""

import datetime
import time

from conftest import psql, redis_cli


def this_month():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m")


def set_quotas(admin_api, tenant_id, **quotas):
    """PUT the tenant's quota overrides (None drops one); returns the tenant document."""
    return admin_api.ok("PUT", "/api/v1/admin/tenants/" + tenant_id, 200,
                        json_body={"quotas": quotas}).json()


def counter(infra, metric, tenant_id):
    """This month's Redis counter of metric ("api" or "emit") for the tenant (0 when absent)."""
    key = "mf:quota:%s:%s:%s" % (metric, tenant_id, this_month().replace("-", ""))
    return int(redis_cli(infra["MF_REDIS_URL"], "GET", key) or 0)


def folded(infra, tenant_id, month=None):
    """usage_monthly of the tenant for month (YYYY-MM, default this month) as {metric: quantity}."""
    _, rows, _ = psql(infra["MF_PG_SUPER_URL"],
                      "SELECT metric || '=' || quantity FROM usage_monthly WHERE tenant_id = '%s' "
                      "AND month = '%s-01'" % (tenant_id, month or this_month()))
    return {k: int(v) for k, v in (row.split("=") for row in rows)}


def wait_folded(infra, tenant_id, want, seconds=20):
    """Poll usage_monthly until it holds every metric of want with that quantity."""
    deadline = time.monotonic() + seconds
    while True:
        got = folded(infra, tenant_id)
        if all(got.get(k) == v for k, v in want.items()) or time.monotonic() > deadline:
            return got
        time.sleep(0.2)
