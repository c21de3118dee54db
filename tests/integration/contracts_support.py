"""Bodies and reads for test_contracts.py: contracts, emits and OpenLineage events
that a contract judges, and the violation lists."""

import time
import uuid

# The columns of the orders contract the tests use.
ORDERS_COLUMNS = [{"name": "customer_id", "type": "bigint", "nullable": False}, {"name": "amount", "type": "decimal"}]


def contract_body(name, **over):
    """A block contract on orders_* requiring ORDERS_COLUMNS, with members replaced by `over`."""
    body = {"name": name, "dataset_pattern": "orders_*", "required_columns": ORDERS_COLUMNS,
            "on_violation": "block"}
    body.update(over)
    return body


def create_contract(api, name, **over):
    return api.ok("POST", "/api/v1/contracts", 201, json_body=contract_body(name, **over)).json()


def emit_body(name, fields):
    return {"dataset": {"name": name, "fields": fields}}


def ol_event(name, fields):
    """An OpenLineage COMPLETE RunEvent writing dataset default/<name> with this schema facet."""
    producer = "https://github.com/OpenLineage/OpenLineage/tree/1.9.0/integration/spark"
    return {
        "eventType": "COMPLETE", "eventTime": "2026-11-20T10:00:00Z", "producer": producer,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4()), "facets": {}},
        "job": {"namespace": "spark", "name": "load_" + name, "facets": {}},
        "inputs": [],
        "outputs": [{"namespace": "default", "name": name, "facets": {"schema": {
            "_producer": producer, "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
            "fields": fields}}}],
    }


def violations(api, contract, **params):
    """Every violation of a contract the caller sees, newest first."""
    return api.walk("/api/v1/contracts/%s/violations" % contract, params=params)


def wait_violations(api, contract, n, seconds=20, **params):
    """The violations once there are n of them (the ingest worker and mf-analytics record them later)."""
    deadline = time.monotonic() + seconds
    while True:
        got = violations(api, contract, **params)
        if len(got) >= n or time.monotonic() > deadline:
            assert len(got) == n, "%d violations of %s, expected %d: %s" % (len(got), contract, n, got)
            return got
        time.sleep(0.1)
