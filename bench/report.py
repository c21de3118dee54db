#!/usr/bin/env python3
"""Turns the wrk outputs of one `make bench` run into a table and results.json.

    report.py --dir WORKDIR/wrk --meta WORKDIR/meta.json --out bench/results.json

WORKDIR/wrk holds one wrk output per measurement and round, named
`<measurement>.<round>.txt` (measurements: raw_hello, raw_select,
raw_select_prepared, mf_healthz, mf_get_dataset). With several rounds the median of each number is used.
meta.json carries what run.sh knows (configuration, load rate, versions).

Exit status: 0 when every measurement is valid (at most 1% non-2xx answers
or socket errors), 1 otherwise. Goals met or not do not change it unless
--strict is given.
"""
import argparse
import datetime
import json
import os
import re
import statistics
import sys

MEASUREMENTS = {
    "raw_hello": "raw h2o: GET /hello (constant JSON)",
    "raw_select": "raw h2o + libpq: GET /datasets/{name} (one SELECT, PQsendQueryParams)",
    "raw_select_prepared": "raw h2o + libpq: the same SELECT, prepared once per connection",
    "mf_healthz": "MetaFuse: GET /healthz",
    "mf_get_dataset": "MetaFuse: GET /api/v1/datasets/{name} (API key)",
}

# (figure id, what, ours, baseline)
FIGURES = [
    ("http_layer", "HTTP layer: GET /healthz vs raw hello", "mf_healthz", "raw_hello"),
    ("get_dataset", "GET /api/v1/datasets/{name} vs raw SELECT", "mf_get_dataset", "raw_select"),
    ("get_dataset_vs_prepared", "GET /api/v1/datasets/{name} vs raw prepared SELECT", "mf_get_dataset",
     "raw_select_prepared"),
]

GOALS = [
    # (goal id, text, figure, key, op, target)
    ("get_dataset_ratio", "GET dataset throughput >= 0.7 x raw libpq SELECT", "get_dataset", "ratio", ">=", 0.7),
    ("get_dataset_p99", "GET dataset p99 <= 10 ms", "get_dataset", "p99_ms", "<=", 10.0),
]

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
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = sum(int(g) for g in m.groups()) if m else 0
    bad = out["non_2xx"] + out["socket_errors"]
    out["error_fraction"] = round(bad / out["requests"], 5) if out["requests"] else 1.0
    return out


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def collect(wrk_dir):
    runs = {}
    for name in sorted(os.listdir(wrk_dir)):
        m = re.fullmatch(r"([a-z_]+)\.(\d+)\.txt", name)
        if not m or m.group(1) not in MEASUREMENTS:
            continue
        with open(os.path.join(wrk_dir, name), encoding="utf-8", errors="replace") as f:
            text = f.read()
        try:
            parsed = parse_wrk(text)
        except ValueError as e:
            parsed = {"error": str(e)}
        parsed["round"] = int(m.group(2))
        runs.setdefault(m.group(1), []).append(parsed)
    result = {}
    for key, rounds in runs.items():
        rounds.sort(key=lambda r: r["round"])
        ok = [r for r in rounds if "error" not in r]
        entry = {"what": MEASUREMENTS[key], "rounds": rounds}
        if ok:
            for field in ("rps", "p50_ms", "p75_ms", "p90_ms", "p99_ms", "error_fraction"):
                entry[field] = round(median([r[field] for r in ok]), 3)
            entry["requests"] = sum(r["requests"] for r in ok)
            entry["non_2xx"] = sum(r["non_2xx"] for r in ok)
            entry["socket_errors"] = sum(r["socket_errors"] for r in ok)
            entry["valid"] = len(ok) == len(rounds) and all(r["error_fraction"] <= MAX_ERROR_FRACTION for r in ok)
        else:
            entry["valid"] = False
        result[key] = entry
    return result


def fmt_rps(v):
    return "-" if v is None else "{:,.0f} req/s".format(v)


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--strict", action="store_true", help="exit 1 when a goal is not met")
    args = ap.parse_args()

    with open(args.meta, encoding="utf-8") as f:
        meta = json.load(f)
    runs = collect(args.dir)

    figures = []
    for fid, what, ours, base in FIGURES:
        o, b = runs.get(ours, {}), runs.get(base, {})
        ratio = None
        if o.get("rps") and b.get("rps"):
            ratio = round(o["rps"] / b["rps"], 3)
        # the runs of one round are back to back: their ratio shows how stable the figure is
        per_round = []
        b_by_round = {r["round"]: r for r in b.get("rounds", []) if "error" not in r}
        for r in o.get("rounds", []):
            br = b_by_round.get(r["round"])
            if "error" not in r and br is not None and br["rps"]:
                per_round.append(round(r["rps"] / br["rps"], 3))
        figures.append({
            "id": fid,
            "what": what,
            "measurement": ours,
            "baseline_measurement": base,
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

    goals = []
    for gid, text, fid, key, op, target in GOALS:
        value = by_id[fid].get(key)
        met = None
        if value is not None and by_id[fid]["valid"]:
            met = value >= target if op == ">=" else value <= target
        goals.append({"id": gid, "goal": text, "value": value, "target": "%s %s" % (op, target), "met": met})

    results = {
        "timestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nproc": os.cpu_count(),
        **meta,
        "measurements": runs,
        "figures": figures,
        "goals": goals,
    }
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
    print()
    head = ("figure", "value", "baseline", "ratio", "p99 ours", "p99 raw")
    rows = []
    for f in figures:
        rows.append((f["what"] + ("" if f["valid"] else "  [INVALID]"), fmt_rps(f["value_rps"]), fmt_rps(f["baseline_rps"]),
                     "-" if f["ratio"] is None else "%.2f" % f["ratio"], fmt_ms(f["p99_ms"]), fmt_ms(f["baseline_p99_ms"])))
    print_table(head, rows)
    print()
    head = ("measurement", "req/s", "p50", "p99", "requests", "non-2xx", "sock err")
    rows = []
    for key in MEASUREMENTS:
        r = runs.get(key, {})
        rows.append((key + ": " + MEASUREMENTS[key] + ("" if r.get("valid") else "  [INVALID]"),
                     "-" if r.get("rps") is None else "{:,.0f}".format(r["rps"]), fmt_ms(r.get("p50_ms")),
                     fmt_ms(r.get("p99_ms")), "{:,}".format(r.get("requests", 0)), str(r.get("non_2xx", "-")),
                     str(r.get("socket_errors", "-"))))
    print_table(head, rows)
    print()
    print("goals:")
    for g in goals:
        state = "met" if g["met"] else ("not met" if g["met"] is False else "unknown (invalid run)")
        value = "-" if g["value"] is None else ("%.2f" % g["value"])
        print("  %-52s %8s  %s" % (g["goal"], value, state))
    for key, r in runs.items():
        if not r.get("valid"):
            print("INVALID: %s: %s non-2xx, %s socket errors in %s requests (max %.0f%%)%s" % (
                key, r.get("non_2xx"), r.get("socket_errors"), r.get("requests"), MAX_ERROR_FRACTION * 100,
                "".join("; round %d: %s" % (x["round"], x["error"]) for x in r["rounds"] if "error" in x)),
                file=sys.stderr)
    missing = [k for k in MEASUREMENTS if k not in runs]
    for k in missing:
        print("MISSING: %s" % k, file=sys.stderr)
    print()
    print("results: %s" % args.out)

    if missing or any(not r.get("valid") for r in runs.values()):
        return 1
    if args.strict and any(g["met"] is not True for g in goals):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
