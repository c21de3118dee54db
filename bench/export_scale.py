#!/usr/bin/env python3
"""Export and import at scale, against a throwaway stack of its own.

    bench/export_scale.py [--datasets 10000] [--runs 3]

Starts Postgres and Redis (scripts/stack.sh infra-up in a temporary folder),
migrates, starts mf-api from $MF_BIN_DIR (default build/bin), seeds one tenant
with scripts/seed_scale.py (N datasets, about 10 N fields, 3 N lineage edges,
10 N column lineage: 10,000 datasets give the issue's 100,000 fields), then:

  export       GET /api/v1/export/sqlite, best and median of --runs, with the
               file's size and its row counts (read back with sqlite3)
  dry run      POST /api/v1/import/sqlite?dry_run=true of that file into an
               empty tenant (validation and the change report, nothing written)
  import       the same for real: everything through the write path

and prints a JSON line of figures after each step (the goal: export under 2 s).
Stops everything it started (also on Ctrl-C or SIGTERM). Standard library, requests and Debian's psql only.
"""
import argparse
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

import requests

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.join(REPO, os.environ.get("MF_BIN_DIR", "build/bin"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_file(path):
    env = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            env[k.replace("export ", "")] = v.strip("'\"")
    return env


def report(figures):
    print(json.dumps(figures), flush=True)


def timed(fn):
    t = time.monotonic()
    r = fn()
    return r, time.monotonic() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-import", action="store_true", help="time the export only")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the cleanup below
    tmp = tempfile.mkdtemp(prefix="mf-export-bench-", dir="/tmp")
    os.chmod(tmp, 0o755)
    infra = os.path.join(tmp, "infra")
    stack = os.path.join(REPO, "scripts", "stack.sh")
    subprocess.run(["bash", stack, "infra-up", infra], check=True, stdout=subprocess.DEVNULL)
    api = None
    try:
        env = dict(os.environ)
        env.update(env_file(os.path.join(infra, "infra.env")))
        env["MF_MIGRATIONS_DIR"] = os.path.join(REPO, "migrations")
        mf_api = os.path.join(BIN, "mf-api")
        subprocess.run([mf_api, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        platform_key = subprocess.run([mf_api, "create-platform-key"], env=env, check=True,
                                      stdout=subprocess.PIPE).stdout.decode().strip()
        port = free_port()
        env.update({"MF_HTTP_PORT": str(port), "MF_LOG_LEVEL": "warn"})
        api = subprocess.Popen([mf_api, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = "http://127.0.0.1:%d" % port
        for _ in range(200):
            try:
                if requests.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.05)
        seed = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "seed_scale.py"),
                               "--datasets", str(args.datasets), "--api-url", base, "--platform-key", platform_key,
                               "--pg-url", env["MF_PG_SUPER_URL"]],
                              env=env, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        key = json.loads(seed.stdout)["tenants"]["a"]["api_key"]
        auth = {"Authorization": "Bearer " + key}

        times, body = [], None
        for _ in range(args.runs):
            r, t = timed(lambda: requests.get(base + "/api/v1/export/sqlite", headers=auth, timeout=600))
            assert r.status_code == 200, r.text[:300]
            times.append(t)
            body = r.content
        path = os.path.join(tmp, "export.sqlite")
        with open(path, "wb") as f:
            f.write(body)
        conn = sqlite3.connect(path)
        rows = {t: conn.execute("SELECT count(*) FROM %s" % t).fetchone()[0]
                for t in ("datasets", "fields", "lineage", "column_lineage", "tags", "field_tags")}
        conn.close()
        report({"datasets": args.datasets, "rows": rows, "bytes": len(body),
                "export_s": {"best": round(min(times), 3), "median": round(statistics.median(times), 3)}})
        if args.skip_import:
            return

        created = requests.post(base + "/api/v1/admin/tenants", json={"name": "bench-import", "plan": "enterprise"},
                                headers={"Authorization": "Bearer " + platform_key}, timeout=30).json()
        target = {"Authorization": "Bearer " + created["api_key"], "Content-Type": "application/vnd.sqlite3"}
        dry, t_dry = timed(lambda: requests.post(base + "/api/v1/import/sqlite?dry_run=true", data=body,
                                                 headers=target, timeout=3600))
        report({"import_dry_run_s": round(t_dry, 3), "status": dry.status_code})
        real, t_real = timed(lambda: requests.post(base + "/api/v1/import/sqlite", data=body, headers=target,
                                                   timeout=3600))
        report({"import_s": round(t_real, 3), "status": real.status_code,
                "imported": real.json().get("datasets") if real.status_code == 200 else real.text[:300]})
    finally:
        if api is not None:
            api.terminate()
            try:
                api.wait(timeout=30)
            except subprocess.TimeoutExpired:
                api.kill()
        subprocess.run(["bash", stack, "infra-down", infra], stdout=subprocess.DEVNULL)
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
