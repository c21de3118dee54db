#!/usr/bin/env python3
"""Turns the outputs of one `make bench` run into a table and results.json.

    report.py --dir WORKDIR/wrk --meta WORKDIR/meta.json --out bench/results.json

WORKDIR/wrk holds one output per measurement and round, named
`<measurement>.<round>.<ext>`: wrk outputs (.txt: raw_hello, raw_select,
raw_select_prepared, mf_healthz, mf_get_dataset_quota_off, mf_get_dataset_usage_off, mf_get_dataset,
mf_get_dataset_session, mf_emit, mf_emit_lag),
redis-benchmark --csv outputs (.txt: redis_xadd), and JSON written by
run.sh / ingest_tool.py (.json: mf_persist, raw_insert, accept_lag, usage_lag). With
several rounds the median of each number is used. meta.json carries what
run.sh knows (configuration, load rate, versions).

Exit status: 0 when every measurement is valid (at most 1% non-2xx answers
or socket errors; every persisted event applied, none failed), 1 otherwise.
Goals met or not do not change it unless --strict is given.
"""
import argparse
import datetime
import json
import os
import re
import statistics
import sys

# name: (what, kind, ingest benchmark?)
MEASUREMENTS = {
    "raw_hello": ("raw h2o: GET /hello (constant JSON)", "wrk", False),
    "raw_select": ("raw h2o + libpq: GET /datasets/{name} (one SELECT, PQsendQueryParams)", "wrk", False),
    "raw_select_prepared": ("raw h2o + libpq: the same SELECT, prepared once per connection", "wrk", False),
    "mf_healthz": ("MetaFuse: GET /healthz", "wrk", False),
    "mf_get_dataset_quota_off": ("MetaFuse: GET /api/v1/datasets/{name}, rate limits and metering off "
                                 "(MF_QUOTA_ENFORCE=0)", "wrk", False),
    "mf_get_dataset_usage_off": ("MetaFuse: GET /api/v1/datasets/{name}, usage events off (MF_USAGE_EVENTS=0)",
                                 "wrk", False),
    "mf_get_dataset": ("MetaFuse: GET /api/v1/datasets/{name} (API key; usage events on)", "wrk", False),
    "usage_lag": ("usage stream length (XLEN) sampled during mf_get_dataset, mf-analytics folding", "usage_lag",
                  False),
    "mf_get_dataset_session": ("MetaFuse: GET /api/v1/datasets/{name} (browser session token)", "wrk", False),
    "mf_emit": ("MetaFuse: POST /api/v1/emit, ~1 KB event (no worker running)", "wrk", True),
    "redis_xadd": ("redis-benchmark: XADD of the same payload size, same clients", "redis", True),
    "mf_persist": ("MetaFuse: events applied by one mf-ingest worker", "json", True),
    "raw_insert": ("psql: the same dataset rows, multi-row INSERT per batch", "json", True),
    "mf_emit_lag": ("MetaFuse: POST /api/v1/emit with one worker running", "wrk", True),
    "accept_lag": ("stream length (XLEN) sampled during mf_emit_lag", "lag", True),
}

# (figure id, what, ours, baseline, unit)
FIGURES = [
    ("http_layer", "HTTP layer: GET /healthz vs raw hello", "mf_healthz", "raw_hello", "req/s"),
    ("get_dataset", "GET /api/v1/datasets/{name} vs raw SELECT", "mf_get_dataset", "raw_select", "req/s"),
    ("get_dataset_vs_prepared", "GET /api/v1/datasets/{name} vs raw prepared SELECT", "mf_get_dataset",
     "raw_select_prepared", "req/s"),
    ("get_dataset_session", "GET /api/v1/datasets/{name} with a session vs raw SELECT", "mf_get_dataset_session",
     "raw_select", "req/s"),
    ("usage_events", "GET /api/v1/datasets/{name}: usage events on vs off", "mf_get_dataset",
     "mf_get_dataset_usage_off", "req/s"),
    ("quota", "GET /api/v1/datasets/{name}: rate limits and metering on vs off", "mf_get_dataset",
     "mf_get_dataset_quota_off", "req/s"),
    ("accept", "Accept: POST /api/v1/emit vs redis-benchmark XADD", "mf_emit", "redis_xadd", "req/s"),
    ("persist", "Persist: events/s of one worker vs raw INSERT rows/s", "mf_persist", "raw_insert", "/s"),
]

# mf-analytics folds the usage stream every MF_USAGE_FOLD_INTERVAL_MS (5 s by
# default) once caught up, so its length is a saw tooth and a slope over a few
# seconds says little: its lag counts as bounded when the stream never held
# more than this many seconds of entries (at the rate they came in: three
# fold intervals, room for a fold that runs long on a loaded machine) and
# emptied once the load stopped.
USAGE_LAG_MAX_S = 15.0

GOALS = [
    # (goal id, text, figure, key, op, target)
    ("get_dataset_ratio", "GET dataset throughput >= 0.7 x raw libpq SELECT", "get_dataset", "ratio", ">=", 0.7),
    ("get_dataset_p99", "GET dataset p99 <= 10 ms", "get_dataset", "p99_ms", "<=", 10.0),
    ("accept_ratio", "Accept (emit) >= 1.0 x redis-benchmark XADD", "accept", "ratio", ">=", 1.0),
    ("persist_ratio", "Persist (one worker) >= 0.5 x raw batched INSERT", "persist", "ratio", ">=", 0.5),
    ("accept_lag_bounded", "Stream lag bounded under the accept load, 1 worker", "lag", "growth_fraction", "<=",
     0.05),
    ("usage_events_cost", "Usage events cost GET dataset <= 5% (on / off)", "usage_events", "ratio", ">=", 0.95),
    ("quota_cost", "Rate limits and metering cost GET dataset <= 5% (on / off)", "quota", "ratio", ">=", 0.95),
    ("usage_lag_bounded", "Usage stream lag under the read load <= 15 s of events", "usage_lag", "max_lag_s", "<=",
     USAGE_LAG_MAX_S),
]

# The lag counts as bounded when, over the second half of the run, the stream
# grew by at most this fraction of the rate the events came in at.
LAG_GROWTH_MAX = 0.05

MAX_ERROR_FRACTION = 0.01

UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def to_ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError("bad wrk duration %r" % text)
    return float(m.group(1)) * UNIT_MS[m.group(2)]


def parse_wrk(text):
    """The numbers `make bench` uses from one `wrk --latency` output."""
    out = {}
    m = re.search(r"^Requests/sec:\s+([0-9.]+)", text, re.M)
    if not m:
        raise ValueError("no Requests/sec line")
    out["rps"] = float(m.group(1))
    for pct in ("50", "75", "90", "99"):
        m = re.search(r"^\s+%s%%\s+(\S+)" % pct, text, re.M)
        if not m:
            raise ValueError("no %s%% latency line (was wrk run with --latency?)" % pct)
        out["p%s_ms" % pct] = round(to_ms(m.group(1)), 3)
    m = re.search(r"^\s+(\d+) requests in ([0-9.]+)(us|ms|s|m)", text, re.M)
    out["requests"] = int(m.group(1)) if m else 0
    out["duration_s"] = round(to_ms(m.group(2) + m.group(3)) / 1000.0, 2) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"non-200 responses:\s+(\d+)", text)
    if m:
        out["non_200"] = int(m.group(1))
    m = re.search(r"non-202 responses:\s+(\d+)", text)
    if m:
        out["non_202"] = int(m.group(1))
    m = re.search(r"^body bytes:\s+(\d+)", text, re.M)
    if m:
        out["body_bytes"] = int(m.group(1))
    m = re.search(r"^queued:\s+(\d+)", text, re.M)
    if m:
        out["queued"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = sum(int(g) for g in m.groups()) if m else 0
    bad = max(out["non_2xx"], out.get("non_202", 0)) + out["socket_errors"]
    out["error_fraction"] = round(bad / out["requests"], 5) if out["requests"] else 1.0
    return out


def parse_redis_benchmark(text):
    """The CSV line of `redis-benchmark --csv` plus the lines run.sh appends."""
    out = None
    for line in text.splitlines():
        cells = [c.strip().strip('"') for c in line.split(",")]
        if len(cells) >= 8 and cells[0] != "test":
            try:
                out = {"rps": float(cells[1]), "p50_ms": float(cells[4]), "p95_ms": float(cells[5]),
                       "p99_ms": float(cells[6]), "max_ms": float(cells[7])}
            except ValueError:
                continue
    if out is None:
        raise ValueError("no redis-benchmark CSV result line")
    m = re.search(r"^requests: (\d+)", text, re.M)
    out["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"^xlen: (\d+)", text, re.M)
    out["stream_length"] = int(m.group(1)) if m else None
    # every XADD answered must be on the stream
    out["error_fraction"] = 0.0
    if out["requests"] and out["stream_length"] is not None:
        out["error_fraction"] = round(max(0, out["requests"] - out["stream_length"]) / out["requests"], 5)
    out["non_2xx"] = 0
    out["socket_errors"] = 0
    return out


def parse_json(text):
    out = json.loads(text)
    if not isinstance(out, dict):
        raise ValueError("not a JSON object")
    if "per_second" in out:
        if out["per_second"] is None:
            raise ValueError("no rate measured")
        out["rps"] = out["per_second"]
    return out


def lag_summary(d, accepted_rps):
    """Is the stream length bounded? Least-squares growth over the second half of the samples."""
    samples = d.get("samples") or []
    out = dict(d)
    if len(samples) < 4:
        out["error"] = "too few stream-length samples"
        return out
    half = [s for s in samples if s[0] >= samples[-1][0] / 2] or samples
    n = len(half)
    mt = sum(s[0] for s in half) / n
    mx = sum(s[1] for s in half) / n
    var = sum((s[0] - mt) ** 2 for s in half)
    slope = sum((s[0] - mt) * (s[1] - mx) for s in half) / var if var else 0.0
    out["growth_per_s_second_half"] = round(slope, 1)
    out["max_length"] = max(s[1] for s in samples)
    out["final_length"] = samples[-1][1]
    out["accepted_rps"] = accepted_rps
    out["growth_fraction"] = round(slope / accepted_rps, 4) if accepted_rps else None
    out["bounded"] = out["growth_fraction"] is not None and out["growth_fraction"] <= LAG_GROWTH_MAX
    return out


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def collect(wrk_dir):
    runs = {}
    for name in sorted(os.listdir(wrk_dir)):
        m = re.fullmatch(r"([a-z_]+)\.(\d+)\.(txt|json)", name)
        if not m or m.group(1) not in MEASUREMENTS:
            continue
        kind = MEASUREMENTS[m.group(1)][1]
        with open(os.path.join(wrk_dir, name), encoding="utf-8", errors="replace") as f:
            text = f.read()
        try:
            if kind == "wrk":
                parsed = parse_wrk(text)
            elif kind == "redis":
                parsed = parse_redis_benchmark(text)
            else:
                parsed = parse_json(text)
        except (ValueError, KeyError) as e:
            parsed = {"error": str(e)}
        parsed["round"] = int(m.group(2))
        runs.setdefault(m.group(1), []).append(parsed)
    result = {}
    for key, rounds in runs.items():
        rounds.sort(key=lambda r: r["round"])
        what, kind, _ = MEASUREMENTS[key]
        entry = {"what": what, "rounds": rounds}
        if kind == "usage_lag":
            # every round's run; the worst round (longest lag) stands for the figure
            sums = [lag_summary(r, r.get("entries_per_s")) for r in rounds]
            for d in sums:
                if d.get("max_length") is not None and d.get("entries_per_s"):
                    d["max_lag_s"] = round(d["max_length"] / d["entries_per_s"], 2)
                    d["bounded"] = bool(d.get("drained")) and d["max_lag_s"] <= USAGE_LAG_MAX_S
            worst = max(sums, key=lambda d: d.get("max_lag_s", -1))
            entry.update({k: v for k, v in worst.items() if k not in ("samples", "round")})
            entry["rounds"] = [{k: v for k, v in d.items() if k != "samples"} for d in sums]
            entry["valid"] = all("error" not in d and d.get("drained") for d in sums)
            result[key] = entry
            continue
        if kind == "lag":
            emit = runs.get("mf_emit_lag", [{}])[0]
            d = lag_summary(rounds[0], emit.get("rps"))
            d.pop("round", None)
            entry.update({k: v for k, v in d.items() if k != "samples"})
            entry["valid"] = "error" not in d and "error" not in emit
            result[key] = entry
            continue
        ok = [r for r in rounds if "error" not in r]
        if ok:
            for field in ("rps", "p50_ms", "p75_ms", "p90_ms", "p99_ms", "error_fraction", "seconds"):
                vals = [r.get(field) for r in ok]
                if any(v is not None for v in vals):
                    entry[field] = round(median(vals), 3)
            if kind in ("wrk", "redis"):
                entry["requests"] = sum(r.get("requests", 0) for r in ok)
                entry["non_2xx"] = sum(r.get("non_2xx", 0) for r in ok)
                entry["socket_errors"] = sum(r.get("socket_errors", 0) for r in ok)
                entry["valid"] = len(ok) == len(rounds) and all(r["error_fraction"] <= MAX_ERROR_FRACTION for r in ok)
            else:
                for field in ("events", "applied", "failures", "rows", "inserted"):
                    if any(field in r for r in ok):
                        entry[field] = sum(r.get(field, 0) for r in ok)
                for field in ("rows_inserted_per_event", "rows_updated_per_event"):
                    if any(field in r for r in ok):
                        entry[field] = median([r.get(field) for r in ok])
                entry["valid"] = len(ok) == len(rounds) and all(r.get("valid") for r in ok)
        else:
            entry["valid"] = False
        result[key] = entry
    return result


# ---- search and lineage at scale (MF_BENCH_SCALE=1: <dir>/scale) ----
# case: (what, p95 goal in ms)
SCALE_CASES = {
    "search_exact": ("GET /api/v1/search?q=<exact name>", 10.0),
    "search_typo": ("GET /api/v1/search?q=<typo>", 20.0),
    "suggest": ("GET /api/v1/search/suggest?q=<prefix>", 5.0),
    "suggest_short": ("GET /api/v1/search/suggest?q=<two letters>", 5.0),
    "impact": ("GET /api/v1/lineage/impact?node=<hub>&depth=5", 50.0),
    "graph": ("GET /api/v1/lineage/graph?node=<hub>&depth=2", 20.0),
}
SCALE_RATIO_GOAL = 1.5


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100.0 * len(values) + 0.5)) - 1))
    return values[k]


def pgbench_latencies(scale_dir, prefix):
    """Per-transaction latencies (ms) from pgbench -l logs whose names start with prefix."""
    lat = []
    for fn in os.listdir(scale_dir):
        if fn.startswith(prefix):
            with open(os.path.join(scale_dir, fn), encoding="utf-8") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 3 and parts[2].isdigit():
                        lat.append(int(parts[2]) / 1000.0)
    return lat


def wrk_figures(path):
    """The scale_* lines of bench/scale_get.lua and the request rate of one wrk output."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    kv = dict(l.split()[:2] for l in text.splitlines() if l.startswith("scale_"))
    m = re.search(r"Requests/sec:\s*([\d.]+)", text)
    return kv, float(m.group(1)) if m else None


def scale_round(scale_dir, prefix):
    """One round of a scale case: wrk and pgbench, loaded (<prefix>.wrk, .pgbench, .pgblog.*) and one client
    (<prefix>.wrk1, .pgbench1, .pgblog1.*)."""
    x = {}
    try:
        kv, rps = wrk_figures(os.path.join(scale_dir, prefix + ".wrk"))
        x.update({"api_rps": rps, "api_p50_ms": int(kv["scale_p50_us"]) / 1000.0,
                  "api_p95_ms": int(kv["scale_p95_us"]) / 1000.0, "api_p99_ms": int(kv["scale_p99_us"]) / 1000.0,
                  "requests": int(kv["scale_requests"]), "non_200": int(kv["scale_non_200"]),
                  "socket_errors": int(kv["scale_socket_errors"])})
    except (OSError, KeyError, ValueError) as e:
        x["error"] = "wrk: %s" % e
    try:
        kv, _ = wrk_figures(os.path.join(scale_dir, prefix + ".wrk1"))
        x.update({"one_client_p50_ms": int(kv["scale_p50_us"]) / 1000.0,
                  "one_client_p95_ms": int(kv["scale_p95_us"]) / 1000.0,
                  "one_client_non_200": int(kv["scale_non_200"])})
    except (OSError, KeyError, ValueError) as e:
        x["error"] = "wrk -c1: %s" % e
    try:
        with open(os.path.join(scale_dir, prefix + ".pgbench"), encoding="utf-8") as f:
            m = re.search(r"tps = ([\d.]+)", f.read())
        x["raw_tps"] = float(m.group(1)) if m else None
    except OSError:
        x["raw_tps"] = None
    lat, lat1 = pgbench_latencies(scale_dir, prefix + ".pgblog."), pgbench_latencies(scale_dir, prefix + ".pgblog1.")
    x["raw_transactions"], x["raw_one_client_transactions"] = len(lat), len(lat1)
    x["raw_p50_ms"], x["raw_p95_ms"], x["raw_p99_ms"] = percentile(lat, 50), percentile(lat, 95), percentile(lat, 99)
    x["raw_one_client_p50_ms"], x["raw_one_client_p95_ms"] = percentile(lat1, 50), percentile(lat1, 95)
    x["valid"] = "error" not in x and x.get("requests", 0) > 0 and len(lat) > 0 and len(lat1) > 0
    return x


def collect_scale(scale_dir):
    """wrk (bench/scale_get.lua lines) and pgbench per-transaction logs of each case."""
    if not os.path.isdir(scale_dir):
        return None
    out = {"cases": {}}
    try:
        with open(os.path.join(scale_dir, "seed.json"), encoding="utf-8") as f:
            seed = json.load(f)
        out["seed"] = {"datasets_per_tenant": seed.get("datasets_per_tenant"), "timings_s": seed.get("timings_s"),
                       "counts_a": seed.get("tenants", {}).get("a", {}).get("counts"), "samples": seed.get("samples")}
    except (OSError, ValueError):
        out["seed"] = None
    for name, (what, goal) in SCALE_CASES.items():
        rounds = []
        r = 1
        while os.path.exists(os.path.join(scale_dir, "%s.%d.wrk" % (name, r))):
            rounds.append(scale_round(scale_dir, "%s.%d" % (name, r)))
            r += 1
        c = {"what": what, "p95_goal_ms": goal, "rounds": rounds}
        if not rounds:
            c["error"] = "no rounds"
        # each figure is the median of the rounds' (the ratios: of the medians, as for the runs above)
        for key in ("api_rps", "api_p50_ms", "api_p95_ms", "api_p99_ms", "one_client_p50_ms", "one_client_p95_ms",
                    "raw_tps", "raw_p50_ms", "raw_p95_ms", "raw_p99_ms", "raw_one_client_p50_ms",
                    "raw_one_client_p95_ms"):
            values = [x[key] for x in rounds if x.get(key) is not None]
            c[key] = statistics.median(values) if values and len(values) == len(rounds) else None
        for key in ("requests", "non_200", "socket_errors", "one_client_non_200", "raw_transactions",
                    "raw_one_client_transactions"):
            c[key] = sum(x.get(key) or 0 for x in rounds)
        c["p95_ratio"] = (round(c["api_p95_ms"] / c["raw_p95_ms"], 3)
                          if c["api_p95_ms"] is not None and c["raw_p95_ms"] else None)
        c["one_client_p95_ratio"] = (round(c["one_client_p95_ms"] / c["raw_one_client_p95_ms"], 3)
                                     if c["one_client_p95_ms"] is not None and c["raw_one_client_p95_ms"] else None)
        c["valid"] = (bool(rounds) and all(x["valid"] for x in rounds)
                      and (c["non_200"] + c["socket_errors"]) <= MAX_ERROR_FRACTION * c["requests"]
                      and c["one_client_non_200"] == 0)
        out["cases"][name] = c
    return out


def fmt_rate(v, unit="req/s"):
    return "-" if v is None else "{:,.0f} {}".format(v, unit)


def fmt_ms(v):
    return "-" if v is None else "{:.2f} ms".format(v)


def print_table(head, rows):
    widths = [max(len(str(x[i])) for x in rows + [head]) for i in range(len(head))]

    def fmt(row):
        return "  ".join(("%-*s" if i == 0 else "%*s") % (widths[i], row[i]) for i in range(len(row)))

    print(fmt(head))
    print("-" * len(fmt(head)))
    for row in rows:
        print(fmt(row))


# the unit of each measurement's rate, as printed
UNITS = {"mf_persist": "events/s", "raw_insert": "rows/s"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--strict", action="store_true", help="exit 1 when a goal is not met")
    args = ap.parse_args()

    with open(args.meta, encoding="utf-8") as f:
        meta = json.load(f)
    ingest = (meta.get("ingest") or {}).get("enabled", False)
    expected = [k for k, (_, _, is_ingest) in MEASUREMENTS.items() if ingest or not is_ingest]
    runs = collect(args.dir)

    figures = []
    for fid, what, ours, base, unit in FIGURES:
        if ours not in expected:
            continue
        o, b = runs.get(ours, {}), runs.get(base, {})
        ratio = None
        if o.get("rps") and b.get("rps"):
            ratio = round(o["rps"] / b["rps"], 3)
        # the runs of one round are back to back: their ratio shows how stable the figure is
        per_round = []
        b_by_round = {r["round"]: r for r in b.get("rounds", []) if "error" not in r}
        for r in o.get("rounds", []):
            br = b_by_round.get(r["round"])
            if "error" not in r and br is not None and br.get("rps"):
                per_round.append(round(r["rps"] / br["rps"], 3))
        figures.append({
            "id": fid,
            "what": what,
            "measurement": ours,
            "baseline_measurement": base,
            "unit": unit,
            "value_rps": o.get("rps"),
            "baseline_rps": b.get("rps"),
            "ratio": ratio,
            "ratio_per_round": per_round,
            "p99_ms": o.get("p99_ms"),
            "baseline_p99_ms": b.get("p99_ms"),
            "p50_ms": o.get("p50_ms"),
            "baseline_p50_ms": b.get("p50_ms"),
            "valid": bool(o.get("valid")) and bool(b.get("valid")),
        })
    by_id = {f["id"]: f for f in figures}
    if "accept_lag" in expected:
        lag = runs.get("accept_lag", {})
        by_id["lag"] = {"growth_fraction": lag.get("growth_fraction"), "valid": bool(lag.get("valid"))}
    ulag = runs.get("usage_lag", {})
    by_id["usage_lag"] = {"max_lag_s": ulag.get("max_lag_s"), "valid": bool(ulag.get("valid"))}

    goals = []
    for gid, text, fid, key, op, target in GOALS:
        if fid not in by_id:
            continue
        value = by_id[fid].get(key)
        met = None
        if value is not None and by_id[fid]["valid"]:
            met = value >= target if op == ">=" else value <= target
        goals.append({"id": gid, "goal": text, "value": value, "target": "%s %s" % (op, target), "met": met})

    scale = collect_scale(os.path.join(args.dir, "scale"))
    loaded = meta.get("config", {}).get("scale_connections", 16)  # the clients of the loaded runs
    if scale:
        for name, c in scale["cases"].items():
            for gid, text, key, target in (
                    ("scale_%s_p95" % name, "%s p95, one client (ms)" % name, "one_client_p95_ms", c["p95_goal_ms"]),
                    ("scale_%s_ratio" % name, "%s p95 API / raw SQL, one client" % name, "one_client_p95_ratio",
                     SCALE_RATIO_GOAL),
                    ("scale_%s_ratio_loaded" % name, "%s p95 API / raw SQL, %s clients" % (name, loaded),
                     "p95_ratio", SCALE_RATIO_GOAL)):
                value = c.get(key)
                goals.append({"id": gid, "goal": text, "value": value, "target": "<= %s" % target,
                              "met": (value <= target) if value is not None and c["valid"] else None})

    results = {
        "timestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nproc": os.cpu_count(),
        **meta,
        "measurements": runs,
        "figures": figures,
        "goals": goals,
    }
    if scale:
        results["scale"] = scale
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, args.out)

    # ---- the table ----
    cfg = meta.get("config", {})
    print()
    print("MetaFuse bench: %s, nproc %s, wrk -t%s -c%s, %s s per run x %s round(s) after %s s warm-up" % (
        results["timestamp"], results["nproc"], cfg.get("wrk_threads"), cfg.get("connections"),
        cfg.get("duration_s"), cfg.get("rounds"), cfg.get("warmup_s")))
    if cfg.get("loadavg_1m_before") is not None:
        print("load average (1 min) before / after measuring: %s / %s on %s cores%s" % (
            cfg["loadavg_1m_before"], cfg.get("loadavg_1m_after"), results["nproc"],
            "  (busy machine: noisy figures)" if cfg["loadavg_1m_before"] > (results["nproc"] or 1) else ""))
    load = meta.get("load")
    if load:
        print("load: %s datasets via POST /api/v1/datasets in %.1f s = %s datasets/s (%s client threads)" % (
            "{:,}".format(load.get("datasets", 0)), load.get("seconds", 0),
            "{:,.0f}".format(load.get("per_second") or 0), load.get("concurrency")))
    ing = meta.get("ingest") or {}
    if ingest:
        print("ingest: emit body %s bytes (queued envelope %s bytes), XADD payload %s bytes; persist: %s events "
              "per round, worker batch %s" % (ing.get("emit_body_bytes"), ing.get("envelope_bytes"),
                                               ing.get("xadd_payload_bytes"), ing.get("persist_events"),
                                               ing.get("worker_batch")))
    print()
    head = ("figure", "value", "baseline", "ratio", "p99 ours", "p99 raw")
    rows = []
    for f in figures:
        vu = UNITS.get(f["measurement"], "req/s")
        bu = UNITS.get(f["baseline_measurement"], "req/s")
        rows.append((f["what"] + ("" if f["valid"] else "  [INVALID]"), fmt_rate(f["value_rps"], vu),
                     fmt_rate(f["baseline_rps"], bu), "-" if f["ratio"] is None else "%.2f" % f["ratio"],
                     fmt_ms(f["p99_ms"]), fmt_ms(f["baseline_p99_ms"])))
    print_table(head, rows)
    print()
    head = ("measurement", "rate", "p50", "p99", "count", "errors")
    rows = []
    for key in expected:
        what, kind, _ = MEASUREMENTS[key]
        r = runs.get(key, {})
        label = key + ": " + what + ("" if r.get("valid") else "  [INVALID]")
        if kind in ("lag", "usage_lag"):
            rows.append((label, "-" if r.get("growth_per_s_second_half") is None
                         else "{:+,.0f} /s".format(r["growth_per_s_second_half"]), "-", "-",
                         "max {:,}".format(r.get("max_length", 0)), "-"))
            continue
        if kind in ("wrk", "redis"):
            count = "{:,}".format(r.get("requests", 0))
            errors = str(r.get("non_2xx", 0) + r.get("socket_errors", 0)) if r else "-"
        elif key == "mf_persist":
            count = "{:,}".format(r.get("applied", 0))
            errors = str(r.get("failures", "-"))
        else:
            count = "{:,}".format(r.get("inserted", 0))
            errors = "-"
        rows.append((label, fmt_rate(r.get("rps"), UNITS.get(key, "req/s")), fmt_ms(r.get("p50_ms")),
                     fmt_ms(r.get("p99_ms")), count, errors))
    print_table(head, rows)
    on, off, ulag = runs.get("mf_get_dataset", {}), runs.get("mf_get_dataset_usage_off", {}), runs.get("usage_lag", {})
    if on.get("rps") and off.get("rps"):
        print()
        print("usage events: GET dataset %s req/s with events on, %s req/s off: %.3f (cost %.1f%%; p99 %s on, %s off)"
              % ("{:,.0f}".format(on["rps"]), "{:,.0f}".format(off["rps"]), on["rps"] / off["rps"],
                 100 * (1 - on["rps"] / off["rps"]), fmt_ms(on.get("p99_ms")), fmt_ms(off.get("p99_ms"))))
    qoff = runs.get("mf_get_dataset_quota_off", {})
    if on.get("rps") and qoff.get("rps"):
        print("rate limits and metering: GET dataset %s req/s enforced, %s req/s with MF_QUOTA_ENFORCE=0: %.3f "
              "(cost %.1f%%; p99 %s on, %s off)"
              % ("{:,.0f}".format(on["rps"]), "{:,.0f}".format(qoff["rps"]), on["rps"] / qoff["rps"],
                 100 * (1 - on["rps"] / qoff["rps"]), fmt_ms(on.get("p99_ms")), fmt_ms(qoff.get("p99_ms"))))
    if ulag.get("max_length") is not None:
        print("usage lag: %s events/s appended as %s stream entries/s; mf-analytics kept the stream at most %s "
              "entries long (%s s of entries), %s left at the end, drained in %s s" % (
                  "{:,.0f}".format(ulag.get("events_per_s") or 0), "{:,.0f}".format(ulag.get("entries_per_s") or 0),
                  "{:,}".format(ulag["max_length"]), ulag.get("max_lag_s"),
                  "{:,}".format(ulag.get("xlen_after", 0)), ulag.get("drain_seconds")))
    if ingest:
        print()
        p = runs.get("mf_persist", {})
        if p.get("rows_inserted_per_event") is not None:
            print("persist: the worker inserted %.1f and updated %.1f rows per event (raw baseline: 1 row per event)"
                  % (p["rows_inserted_per_event"], p.get("rows_updated_per_event") or 0))
            last = next((x for x in reversed(p.get("rounds", [])) if "rows_written" in x), None)
            if last:
                print("         " + ", ".join("%s +%d/~%d" % (t, v["inserted"], v["updated"])
                                              for t, v in sorted(last["rows_written"].items(),
                                                                 key=lambda kv: -kv[1]["inserted"] - kv[1]["updated"])))
        fns = next((x.get("functions") for x in reversed(p.get("rounds", [])) if x.get("functions")), None)
        if fns:
            print("         SQL functions per event (ms, total / self): " + ", ".join(
                "%s %.3f/%.3f" % (x["function"], x["total_ms_per_event"], x["self_ms_per_event"]) for x in fns[:8]))
        a, h, x = runs.get("mf_emit", {}), runs.get("mf_healthz", {}), runs.get("redis_xadd", {})
        if h.get("rps") and x.get("rps"):
            print("accept: the HTTP layer alone (GET /healthz) is %.2f x the XADD baseline, POST /api/v1/emit %.2f x "
                  "GET /healthz" % (h["rps"] / x["rps"], (a.get("rps") or 0) / h["rps"]))
        lag = runs.get("accept_lag", {})
        if lag.get("max_length") is not None:
            print("lag: with one worker, the stream grew %+.0f events/s over the second half of the accept run "
                  "(%s of the %s req/s accepted); max %s, %s left at the end; the worker applied %s" % (
                      lag.get("growth_per_s_second_half") or 0,
                      "-" if lag.get("growth_fraction") is None else "%.0f%%" % (100 * lag["growth_fraction"]),
                      "{:,.0f}".format(lag.get("accepted_rps") or 0), "{:,}".format(lag["max_length"]),
                      "{:,}".format(lag.get("xlen_after", lag.get("final_length", 0))),
                      "{:,}".format(lag.get("applied_by_worker", 0))))
    if scale:
        print()
        sd = scale.get("seed") or {}
        print("search and lineage at scale: %s datasets per tenant (two tenants), seeded in %s s %s" % (
            sd.get("datasets_per_tenant"), (sd.get("timings_s") or {}).get("total"),
            json.dumps(sd.get("timings_s") or {})))
        print("one client (wrk -c1, pgbench -c1; the p95 goals are judged here), then %s clients; each figure the "
              "median of %s rounds:" % (loaded, meta.get("config", {}).get("scale_rounds", "the")))
        head = ("scale case", "goal p95", "API p50 / p95", "raw p95", "ratio",
                "API req/s", "API p95", "raw tps", "raw p95", "ratio")
        rows = []
        for name, c in scale["cases"].items():
            rows.append((name + ": " + c["what"] + ("" if c["valid"] else "  [INVALID]"),
                         "<= %.0f ms" % c["p95_goal_ms"],
                         "-" if c.get("one_client_p95_ms") is None
                         else "%d non-200" % c["one_client_non_200"] if c["one_client_non_200"]
                         else "%s / %s" % (fmt_ms(c["one_client_p50_ms"]), fmt_ms(c["one_client_p95_ms"])),
                         fmt_ms(c.get("raw_one_client_p95_ms")),
                         "-" if c.get("one_client_p95_ratio") is None else "%.2f" % c["one_client_p95_ratio"],
                         fmt_rate(c.get("api_rps")), fmt_ms(c.get("api_p95_ms")),
                         fmt_rate(c.get("raw_tps"), "tx/s"), fmt_ms(c.get("raw_p95_ms")),
                         "-" if c.get("p95_ratio") is None else "%.2f" % c["p95_ratio"]))
        print_table(head, rows)
        print("each round's p95 in ms, API/raw SQL:")

        def num(v):
            return "-" if v is None else "%.1f" % v

        for name, c in scale["cases"].items():
            print("  %-14s one client %s;  %s clients %s" % (
                name, ", ".join("%s/%s" % (num(x.get("one_client_p95_ms")), num(x.get("raw_one_client_p95_ms")))
                                for x in c["rounds"]),
                loaded, ", ".join("%s/%s" % (num(x.get("api_p95_ms")), num(x.get("raw_p95_ms"))) for x in c["rounds"])))
    print()
    print("goals:")
    for g in goals:
        state = "met" if g["met"] else ("not met" if g["met"] is False else "unknown (invalid run)")
        value = "-" if g["value"] is None else ("%.2f" % g["value"])
        print("  %-54s %8s  %-8s %s" % (g["goal"], value, g["target"], state))
    for key, r in runs.items():
        if not r.get("valid") and MEASUREMENTS[key][1] == "usage_lag":
            print("INVALID: %s: %s" % (key, r.get("error", "mf-analytics did not empty the usage stream")),
                  file=sys.stderr)
        elif not r.get("valid") and MEASUREMENTS[key][1] == "lag":
            print("INVALID: %s: %s" % (key, r.get("error", "the run beside it (mf_emit_lag) is invalid")),
                  file=sys.stderr)
        elif not r.get("valid"):
            print("INVALID: %s: %s%s" % (
                key, ("%s non-2xx, %s socket errors in %s requests (max %.0f%%)" % (
                    r.get("non_2xx"), r.get("socket_errors"), r.get("requests"), MAX_ERROR_FRACTION * 100))
                if MEASUREMENTS[key][1] in ("wrk", "redis") else
                "applied %s of %s, %s failed" % (r.get("applied", r.get("inserted")), r.get("events", r.get("rows")),
                                                 r.get("failures", 0)),
                "".join("; round %d: %s" % (x["round"], x["error"]) for x in r.get("rounds", []) if "error" in x)),
                file=sys.stderr)
    missing = [k for k in expected if k not in runs]
    for k in missing:
        print("MISSING: %s" % k, file=sys.stderr)
    print()
    print("results: %s" % args.out)

    if scale:
        for name, c in scale["cases"].items():
            if not c["valid"]:
                print("INVALID: scale %s: %s" % (name, c.get("error") or "%s non-200, %s socket errors in %s requests"
                                                 % (c.get("non_200"), c.get("socket_errors"), c.get("requests"))),
                      file=sys.stderr)
    if missing or any(not r.get("valid") for r in runs.values()):
        return 1
    if scale and any(not c["valid"] for c in scale["cases"].values()):
        return 1
    if args.strict and any(g["met"] is not True for g in goals):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
