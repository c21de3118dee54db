#!/usr/bin/env python3
"""Helpers of the ingest benchmarks of `make bench` (python3 stdlib only).

    ingest_tool.py template   --redis HOST:PORT --stream S --out FILE
        Writes the newest envelope on stream S (as `mf-ingest serve` wrote it)
        to FILE: the template of the persist benchmark's events.
    ingest_tool.py make       --template FILE --count N --name-format F
                              --events OUT --sql OUT --table T
        N envelopes made from the template: a new event_id and dataset name
        each (F % i, i = 0..N-1), everything else as the template. OUT (events)
        gets one JSON per line; OUT (sql) the raw baseline: the same N dataset
        rows as multi-row INSERTs of --batch (256) rows into table T, one
        statement (and so one transaction) per batch, between two SELECTs of
        the server's clock (so the time excludes psql's start and connect).
    ingest_tool.py load       --redis HOST:PORT --stream S --events FILE
        XADD S * e <envelope> for every line of FILE, pipelined.
    ingest_tool.py drain      --redis HOST:PORT --stream S --count N
                              [--timeout SECONDS] [--pid PID]
        Polls XLEN S every 20 ms from now until it is 0 (the worker XDELs an
        entry once it is committed and acknowledged); prints
        {"events", "seconds", "per_second", "drained"}. Stops early when
        process PID is gone.
    ingest_tool.py sample     --redis HOST:PORT --stream S --seconds D
                              [--interval 0.5]
        Samples XLEN S every interval for D seconds; prints
        {"samples": [[t, xlen], ...], ...}.
    ingest_tool.py persist-result --drain F --counts-before F --counts-after F
                              --stats-before F --stats-after F --events N --batch B
                              [--functions-before F --functions-after F]
        The persist figure as JSON: the drain's rate, the events applied and
        failed (ingest_events / ingest_failures counts before and after), the
        rows the worker inserted and updated per table (pg_stat_user_tables
        before and after) and, when given, the time per event spent in each
        SQL function (pg_stat_user_functions before and after).
    ingest_tool.py insert-result --clock F --rows N --inserted N --batch B
        The raw INSERT baseline as JSON, from the start/end clock lines psql
        printed while running the file `make` wrote.
    ingest_tool.py xlen|del   --redis HOST:PORT --stream S

Exit status 1 on a Redis error (or when `drain` timed out), 2 on bad usage.
"""
import argparse
import json
import os
import socket
import sys
import time
import uuid


class Redis:
    """The smallest RESP2 client: commands out, replies in (pipelining allowed)."""

    def __init__(self, addr):
        host, _, port = addr.rpartition(":")
        self.sock = socket.create_connection((host or "127.0.0.1", int(port)), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def send(self, data):
        self.sock.sendall(data)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError("redis: " + rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError("bad RESP reply %r" % line[:40])

    def call(self, *args):
        self.send(self.encode(*args))
        return self.reply()


def cmd_template(a):
    r = Redis(a.redis)
    rep = r.call("XREVRANGE", a.stream, "+", "-", "COUNT", 1)
    if not rep:
        sys.exit("ingest_tool: stream %s is empty: no envelope to copy" % a.stream)
    fields = rep[0][1]
    env = dict(zip(fields[0::2], fields[1::2])).get(b"e")
    if env is None:
        sys.exit("ingest_tool: the newest entry of %s has no field e" % a.stream)
    json.loads(env)  # it must be JSON
    with open(a.out, "wb") as f:
        f.write(env)


def sql_text(s):
    return "'" + s.replace("'", "''") + "'"


def sql_array(items):
    return "ARRAY[" + ",".join(sql_text(x) for x in items) + "]::text[]" if items else "'{}'::text[]"


def cmd_make(a):
    with open(a.template, encoding="utf-8") as f:
        template = json.load(f)
    ds0 = template["datasets"][0]
    old_name = ds0["name"]
    text = json.dumps(template, separators=(",", ":"))
    cols = "tenant_id, namespace, name, path, format, description, tags, doc"
    clock = "SELECT '%s', extract(epoch FROM clock_timestamp());\n"
    with open(a.events, "w", encoding="utf-8") as ev_out, open(a.sql, "w", encoding="utf-8") as sql_out:
        sql_out.write("\\set ON_ERROR_STOP 1\n" + clock % "start")
        rows = []
        for i in range(a.count):
            name = a.name_format % i
            ev = json.loads(text.replace(json.dumps(old_name)[1:-1], json.dumps(name)[1:-1]))
            ev["event_id"] = str(uuid.uuid4())
            ev["request_id"] = uuid.uuid4().hex
            ev_out.write(json.dumps(ev, separators=(",", ":")) + "\n")
            ds = ev["datasets"][0]
            rows.append("(%s::uuid, %s, %s, %s, %s, %s, %s, %s::jsonb)" % (
                sql_text(ev["tenant_id"]), sql_text(ds.get("namespace", "default")), sql_text(ds["name"]),
                sql_text(ds.get("path", "")), sql_text(ds.get("format", "")), sql_text(ds.get("description", "")),
                sql_array(ds.get("tags", [])), sql_text(json.dumps(ds, separators=(",", ":")))))
            if len(rows) == a.batch or i == a.count - 1:
                sql_out.write("INSERT INTO %s (%s) VALUES\n%s;\n" % (a.table, cols, ",\n".join(rows)))
                rows = []
        sql_out.write(clock % "end")


def cmd_load(a):
    r = Redis(a.redis)
    sent = 0
    batch = []
    with open(a.events, "rb") as f:
        lines = [line.rstrip(b"\n") for line in f if line.strip()]
    for i, line in enumerate(lines):
        batch.append(Redis.encode("XADD", a.stream, "*", "e", line))
        if len(batch) == 1000 or i == len(lines) - 1:
            r.send(b"".join(batch))
            for _ in batch:
                r.reply()
            sent += len(batch)
            batch = []
    print(json.dumps({"loaded": sent, "xlen": r.call("XLEN", a.stream)}))


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cmd_drain(a):
    r = Redis(a.redis)
    t0 = time.monotonic()
    left = r.call("XLEN", a.stream)
    while left > 0:
        if time.monotonic() - t0 > a.timeout or (a.pid and not pid_alive(a.pid)):
            break
        time.sleep(0.02)
        left = r.call("XLEN", a.stream)
    seconds = time.monotonic() - t0
    done = a.count - left
    print(json.dumps({"events": done, "left": left, "seconds": round(seconds, 3),
                      "per_second": round(done / seconds, 1) if seconds > 0 else None, "drained": left == 0}))
    return 0 if left == 0 else 1


def cmd_sample(a):
    r = Redis(a.redis)
    t0 = time.monotonic()
    samples = []
    k = 0
    while True:
        t = time.monotonic() - t0
        samples.append([round(t, 2), r.call("XLEN", a.stream)])
        if t >= a.seconds:
            break
        k += 1
        time.sleep(max(0.0, t0 + min(k * a.interval, a.seconds) - time.monotonic()))
    print(json.dumps({"interval_s": a.interval, "samples": samples}))


def read_counts(path):
    with open(path) as f:
        return [int(x) for x in f.read().strip().split("|")]


def cmd_persist_result(a):
    """The persist run's figure: events applied per second, and what the worker wrote per event."""
    with open(a.drain) as f:
        drain = json.load(f)
    before, after = read_counts(a.counts_before), read_counts(a.counts_after)
    with open(a.stats_before) as f:
        sb = json.load(f) or {}
    with open(a.stats_after) as f:
        sa = json.load(f) or {}
    applied = after[0] - before[0]
    failures = after[1] - before[1]
    tables = {}
    for rel, (ins, upd, dele) in sorted(sa.items()):
        b = sb.get(rel, [0, 0, 0])
        d = [ins - b[0], upd - b[1], dele - b[2]]
        if any(d) and not rel.startswith("bench_raw"):
            tables[rel] = {"inserted": d[0], "updated": d[1], "deleted": d[2]}
    n = drain.get("events") or 0
    functions = []
    if a.functions_before and a.functions_after:
        with open(a.functions_before) as f:
            fb = json.load(f) or {}
        with open(a.functions_after) as f:
            fa = json.load(f) or {}
        for fn, (calls, total, self_ms) in fa.items():
            b = fb.get(fn, [0, 0.0, 0.0])
            if calls - b[0] > 0 and applied:
                functions.append({"function": fn, "calls_per_event": round((calls - b[0]) / applied, 2),
                                  "total_ms_per_event": round((total - b[1]) / applied, 4),
                                  "self_ms_per_event": round((self_ms - b[2]) / applied, 4)})
        functions.sort(key=lambda x: -x["total_ms_per_event"])
    out = {
        "events": a.events,
        "events_done": n,
        "applied": applied,
        "failures": failures,
        "seconds": drain.get("seconds"),
        "per_second": drain.get("per_second"),
        "drained": drain.get("drained"),
        "batch": a.batch,
        "rows_written": tables,
        "rows_inserted_per_event": round(sum(t["inserted"] for t in tables.values()) / applied, 2) if applied else None,
        "rows_updated_per_event": round(sum(t["updated"] for t in tables.values()) / applied, 2) if applied else None,
        "functions": functions,
        # every event that left the stream was applied, none failed
        "valid": bool(n) and failures == 0 and applied >= n,
    }
    print(json.dumps(out))


def cmd_insert_result(a):
    """The raw baseline's figure from the clock lines psql printed."""
    clock = {}
    with open(a.clock) as f:
        for line in f:
            k, _, v = line.strip().partition("|")
            if k in ("start", "end"):
                clock[k] = float(v)
    seconds = clock["end"] - clock["start"]
    print(json.dumps({"rows": a.rows, "inserted": a.inserted, "seconds": round(seconds, 3),
                      "per_second": round(a.rows / seconds, 1) if seconds > 0 else None, "batch": a.batch,
                      "valid": a.inserted == a.rows}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("template")
    p.add_argument("--redis", required=True)
    p.add_argument("--stream", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("make")
    p.add_argument("--template", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--name-format", required=True)
    p.add_argument("--events", required=True)
    p.add_argument("--sql", required=True)
    p.add_argument("--table", required=True)
    p.add_argument("--batch", type=int, default=256)
    p = sub.add_parser("load")
    p.add_argument("--redis", required=True)
    p.add_argument("--stream", required=True)
    p.add_argument("--events", required=True)
    p = sub.add_parser("drain")
    p.add_argument("--redis", required=True)
    p.add_argument("--stream", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--pid", type=int, default=0)
    p = sub.add_parser("sample")
    p.add_argument("--redis", required=True)
    p.add_argument("--stream", required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--interval", type=float, default=0.5)
    p = sub.add_parser("persist-result")
    for opt in ("--drain", "--counts-before", "--counts-after", "--stats-before", "--stats-after"):
        p.add_argument(opt, required=True)
    p.add_argument("--functions-before")
    p.add_argument("--functions-after")
    p.add_argument("--events", type=int, required=True)
    p.add_argument("--batch", type=int, required=True)
    p = sub.add_parser("insert-result")
    p.add_argument("--clock", required=True)
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--inserted", type=int, required=True)
    p.add_argument("--batch", type=int, required=True)
    for name in ("xlen", "del"):
        p = sub.add_parser(name)
        p.add_argument("--redis", required=True)
        p.add_argument("--stream", required=True)
    a = ap.parse_args()
    try:
        if a.cmd == "xlen":
            print(Redis(a.redis).call("XLEN", a.stream))
            return 0
        if a.cmd == "del":
            Redis(a.redis).call("DEL", a.stream)
            return 0
        return {"template": cmd_template, "make": cmd_make, "load": cmd_load, "drain": cmd_drain,
                "sample": cmd_sample, "persist-result": cmd_persist_result,
                "insert-result": cmd_insert_result}[a.cmd](a) or 0
    except (OSError, RuntimeError, ConnectionError, ValueError, KeyError) as e:
        print("ingest_tool: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
