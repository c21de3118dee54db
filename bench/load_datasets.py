#!/usr/bin/env python3
"""Loads N datasets into one tenant through the public API, concurrently.

    load_datasets.py --url http://127.0.0.1:8080 --key mf_live_... \
        [--count 10000] [--concurrency 16] [--name-format bench_ds_%05d]

Each worker thread keeps one keep-alive HTTP/1.1 connection and posts
`POST /api/v1/datasets` for its share of the names (a few fields, tags, a
format, a path and a description each). Prints one JSON line on stdout:
{"datasets": N, "seconds": S, "per_second": R, "concurrency": C, "errors": E}
and exits 1 if any request failed. Standard library only.
"""
import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse

FIELD_TYPES = ["bigint", "text", "timestamp", "double", "boolean", "date"]


def dataset_body(i, name):
    nfields = 3 + i % 4
    fields = []
    for f in range(nfields):
        field = {
            "name": "col_%d" % f if f else "id",
            "type": FIELD_TYPES[(i + f) % len(FIELD_TYPES)],
            "nullable": f != 0,
            "description": "column %d of %s" % (f, name),
        }
        if f == 0:
            field["tags"] = ["key"]
        fields.append(field)
    return {
        "name": name,
        "namespace": "default",
        "path": "s3://bench-lake/%s" % name,
        "format": ["parquet", "delta", "iceberg", "csv"][i % 4],
        "description": "Benchmark dataset %d: synthetic rows for the read benchmark." % i,
        "tags": ["bench", "tier%d" % (i % 3)],
        "fields": fields,
    }


class Worker(threading.Thread):
    def __init__(self, url, key, indexes, name_format):
        super().__init__(daemon=True)
        self.url = urllib.parse.urlsplit(url)
        self.key = key
        self.indexes = indexes
        self.name_format = name_format
        self.errors = []
        self.done = 0

    def connect(self):
        return http.client.HTTPConnection(self.url.hostname, self.url.port or 80, timeout=30)

    def run(self):
        conn = self.connect()
        headers = {
            "Authorization": "Bearer " + self.key,
            "Content-Type": "application/json",
        }
        for i in self.indexes:
            name = self.name_format % i
            body = json.dumps(dataset_body(i, name))
            for attempt in range(3):
                try:
                    conn.request("POST", "/api/v1/datasets", body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                except (OSError, http.client.HTTPException) as e:
                    conn.close()
                    conn = self.connect()
                    if attempt == 2:
                        self.errors.append("%s: %s" % (name, e))
                    continue
                if resp.status == 201:
                    self.done += 1
                elif resp.status in (429, 503) and attempt < 2:
                    time.sleep(0.2)
                    continue
                else:
                    self.errors.append("%s: HTTP %d %s" % (name, resp.status, data[:200].decode("utf-8", "replace")))
                break
            if len(self.errors) > 20:
                break
        conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--name-format", default="bench_ds_%05d")
    args = ap.parse_args()

    n = max(1, min(args.concurrency, args.count))
    workers = [Worker(args.url, args.key, range(k, args.count, n), args.name_format) for k in range(n)]
    start = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    seconds = time.monotonic() - start

    errors = [e for w in workers for e in w.errors]
    done = sum(w.done for w in workers)
    for e in errors[:10]:
        print("load_datasets: " + e, file=sys.stderr)
    print(json.dumps({
        "datasets": done,
        "seconds": round(seconds, 3),
        "per_second": round(done / seconds, 1) if seconds > 0 else None,
        "concurrency": n,
        "errors": len(errors),
    }))
    return 1 if errors or done != args.count else 0


if __name__ == "__main__":
    sys.exit(main())
