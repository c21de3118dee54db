"""mf-ingest work with MF_WORKER_HTTP_PORT: /healthz, /readyz and /metrics beside
the worker, whose counters and stream-length gauge move as it applies events;
SIGTERM stops both with exit status 0."""

import re
import time

import requests

from conftest import free_port


def metric(text, name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    assert m, "%s missing from /metrics:\n%s" % (name, text[:2000])
    return float(m.group(1))


def test_worker_health_and_metrics(spawn_ingest, ingest, tenant):
    port = free_port()
    w = spawn_ingest("worker-http", "work", {"MF_WORKER_HTTP_PORT": str(port),
                                             "MF_INGEST_STREAM": "mf:ingest"})
    base = "http://127.0.0.1:%d" % port
    deadline = time.time() + 20
    while True:
        try:
            if requests.get(base + "/readyz", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert time.time() < deadline, "worker /readyz never answered 200"
        time.sleep(0.1)
    assert requests.get(base + "/healthz", timeout=2).json() == {"status": "ok"}
    before = metric(requests.get(base + "/metrics", timeout=2).text, "mf_ingest_events_applied_total")

    r = requests.post(ingest.base + "/api/v1/emit", json={"dataset": {"name": "worker_metrics"}},
                      headers={"Authorization": "Bearer " + tenant.key}, timeout=10)
    assert r.status_code == 202, r.text
    # the session worker and this one share the stream; wait until the event is applied
    eid = r.json()["event_id"]
    deadline = time.time() + 30
    while requests.get(ingest.base + "/api/v1/ingest/events/" + eid,
                       headers={"Authorization": "Bearer " + tenant.key}, timeout=5).json().get("status") != "applied":
        assert time.time() < deadline, "event never applied"
        time.sleep(0.1)
    text = requests.get(base + "/metrics", timeout=2).text
    for name in ("mf_ingest_events_duplicate_total", "mf_ingest_events_failed_total",
                 "mf_ingest_batches_total", "mf_ingest_stream_length"):
        metric(text, name)
    assert metric(text, "mf_ingest_events_applied_total") >= before
    w.stop_and_check()
