"""mf-ingest under faults, with real processes: nothing acknowledged is lost,
nothing is applied twice.

The module runs on a Postgres + Redis of its own (``scripts/stack.sh
infra-up`` in the session's temporary folder, migrated, with an mf-api to
create tenants), so that stopping Postgres does not disturb the rest of the
suite. Every test uses a stream of its own and a fresh tenant on the team plan.

What "exactly once" is checked against (counted in Postgres as the superuser):
every event is an emit of a dataset with nothing else (no lineage, no run),
so one application creates the dataset at version 1 or bumps it by one.
Hence, for the test's tenant,

  * every event id answered with 202 is a row of ``ingest_events``;
  * rows that were not answered (the connection died mid-request) number at
    most the events of the unanswered requests;
  * the sum of the tenant's dataset versions equals the number of rows of
    ``ingest_events``: an event applied twice would bump a version twice;
  * ``ingest_failures`` is empty.

Size: ``MF_FAULT_EVENTS`` (default 5000) is the number of events of the
worker-kill test, the heaviest; the issue asks for 50,000 (run
``MF_FAULT_EVENTS=50000 /usr/bin/python3 -m pytest -q tests/integration/test_ingest_faults.py``
by hand). The other tests post a fraction of it (at least a few hundred).
"""

import os
import re
import signal
import subprocess
import threading
import time
import uuid

import pytest
import requests

from conftest import (
    KEY_RE,
    MF_INGEST,
    REPO,
    Api,
    Server,
    Tenant,
    free_port,
    ingest_serve_proc,
    ingest_worker_proc,
    lift_limits,
    parse_env_file,
    psql,
    redis_cli,
    run_mf,
    unique,
)

EVENTS = int(os.environ.get("MF_FAULT_EVENTS", "5000"))
STACK = os.path.join(REPO, "scripts", "stack.sh")
DATASETS = 50  # events spread over this many datasets (versions count applications)


def _pg_bin():
    """PostgreSQL's program folder, as scripts/stack.sh has it."""
    with open(STACK, encoding="utf-8") as fh:
        m = re.search(r"^PGBIN=(\S+)\s*$", fh.read(), re.M)
    assert m, "no PGBIN= line in scripts/stack.sh"
    return m.group(1)


def wait_until(pred, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))
        time.sleep(interval)


# --------------------------------------------------------------------------
# the module's own stack


class FaultStack:
    def __init__(self, root):
        self.root = root
        self.dir = os.path.join(root, "infra")
        self.env = None
        self.api = None
        self.admin = None
        self.procs = []

    def up(self):
        r = subprocess.run(["bash", STACK, "infra-up", self.dir], cwd=REPO, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=180)
        assert r.returncode == 0, "stack.sh infra-up failed:\n" + r.stdout.decode("utf-8", "replace")
        env = parse_env_file(os.path.join(self.dir, "infra.env"))
        env["MF_MIGRATIONS_DIR"] = os.path.join(REPO, "migrations")
        self.env = env
        run_mf(["migrate"], env)
        _, out, _ = run_mf(["create-platform-key"], env)
        key = out.strip().splitlines()[-1]
        assert KEY_RE.match(key), out
        self.api = Server(env, self.root, "faults", {"MF_KEY_CACHE_TTL": "1"})
        self.api.start()
        self.admin = Api(self.api.base, key)

    def down(self):
        for p in self.procs:
            if p.alive():
                p.kill()
        if self.api is not None:
            self.api.stop()
        subprocess.run(["bash", STACK, "infra-down", self.dir], cwd=REPO, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)

    # processes ----------------------------------------------------------
    def serve(self, stream, name=None, extra_env=None, redis_url=None, port=None):
        env = {"MF_INGEST_STREAM": stream}
        if redis_url:
            env["MF_REDIS_URL"] = redis_url
        env.update(extra_env or {})
        srv = ingest_serve_proc(self.env, self.root, name or unique("serve"), env, port=port)
        self.procs.append(srv)
        return srv.start()

    def worker(self, stream, name=None, extra_env=None, redis_url=None, start=True):
        env = {"MF_INGEST_STREAM": stream}
        if redis_url:
            env["MF_REDIS_URL"] = redis_url
        env.update(extra_env or {})
        w = ingest_worker_proc(self.env, self.root, name or unique("work"), env)
        self.procs.append(w)
        return w.start() if start else w

    # tenants and SQL ----------------------------------------------------
    def tenant(self):
        wait_until(lambda: _ready(self.api.base), 60, "mf-api ready")
        r = self.admin.ok("POST", "/api/v1/admin/tenants", 201,
                          json_body={"name": unique("fault"), "plan": "team"})
        lift_limits(self.admin, r.json()["tenant"]["id"])
        return Tenant(self.api.base, r.json()["tenant"], r.json()["api_key"])

    def sql(self, statement):
        return psql(self.env["MF_PG_SUPER_URL"], statement)[1]

    # Postgres stop / start, the way scripts/stack.sh runs pg_ctl -----------
    def _as_pg(self, args):
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        r = subprocess.run(cmd, cwd="/", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=90)
        assert r.returncode == 0, "%s failed:\n%s" % (args, r.stdout.decode("utf-8", "replace"))

    def _data(self):
        return self.env.get("MF_INFRA_DATA") or self.dir

    def pg_stop(self):
        self._as_pg([os.path.join(_pg_bin(), "pg_ctl"), "-D", os.path.join(self._data(), "pg"),
                     "-m", "fast", "-w", "-t", "60", "-s", "stop"])

    def pg_start(self):
        data = self._data()
        self._as_pg([os.path.join(_pg_bin(), "pg_ctl"), "-D", os.path.join(data, "pg"),
                     "-l", os.path.join(data, "pg-run", "postgres.log"), "-w", "-t", "60", "-s",
                     "-o", "-p %s" % self.env["MF_PG_PORT"], "start"])
        # infra-down stops the postmaster named in the pid file: name the new one
        with open(os.path.join(data, "pg", "postmaster.pid")) as fh:
            pid = fh.readline().strip()
        with open(os.path.join(self.dir, "postgres.pid"), "w") as fh:
            fh.write(pid + "\n")


def _ready(base):
    try:
        return requests.get(base + "/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def stack(tmp_root):
    if not os.access(MF_INGEST, os.X_OK):
        pytest.exit("%s not built (run make)" % MF_INGEST, returncode=2)
    s = FaultStack(os.path.join(tmp_root, "faults"))
    try:
        s.up()
        yield s
    finally:
        s.down()


# --------------------------------------------------------------------------
# checks


def applied_ids(stack, tenant):
    return set(stack.sql("SELECT event_id FROM ingest_events WHERE tenant_id = '%s'" % tenant.id))


def stream_len(redis_url, stream):
    return int(redis_cli(redis_url, "XLEN", stream))


def group_info(redis_url, stream):
    """The consumer group's XINFO GROUPS fields (one group per stream here)."""
    lines = redis_cli(redis_url, "XINFO", "GROUPS", stream).splitlines()
    return dict(zip(lines[::2], lines[1::2]))


def group_pending(redis_url, stream):
    """Entries delivered to a consumer and not yet acknowledged."""
    return int(group_info(redis_url, stream).get("pending", "0"))


def last_generated_id(redis_url, stream):
    lines = redis_cli(redis_url, "XINFO", "STREAM", stream).splitlines()
    return dict(zip(lines[::2], lines[1::2])).get("last-generated-id")


def wait_drained(redis_url, stream, timeout, workers=()):
    """Until the group has been handed every entry and has acknowledged all of
    them; then the stream must be empty (the worker deletes what it
    acknowledges in the same MULTI/EXEC: the stream length is the backlog)."""
    def drained():
        for w in workers:
            assert w.alive(), "%s (%s) died:\n%s" % (w.label, w.name, w.log_tail(max_chars=4000))
        g = group_info(redis_url, stream)
        return g.get("pending") == "0" and \
            g.get("last-delivered-id") == last_generated_id(redis_url, stream)
    wait_until(drained, timeout, "every entry of %s delivered and acknowledged" % stream,
               interval=0.25)
    left = stream_len(redis_url, stream)
    if left:
        entries = redis_cli(redis_url, "XRANGE", stream, "-", "+", "COUNT", "3")
        raise AssertionError("%d acknowledged entries are still on the stream (the stream length is "
                             "no longer the backlog), e.g.:\n%s" % (left, entries[:1500]))


def check_exactly_once(stack, tenant, acked, unanswered=0, poster=None):
    applied = applied_ids(stack, tenant)
    missing = set(acked) - applied
    if missing:
        detail = ""
        if poster is not None:
            status = {}
            for m in sorted(missing)[:3]:
                try:
                    r = requests.get(poster.base + "/api/v1/ingest/events/" + m, timeout=5,
                                     headers={"Authorization": "Bearer " + poster.key})
                    status[m] = "%d %s" % (r.status_code, r.text[:200])
                except requests.RequestException as e:
                    status[m] = repr(e)
            detail = "\nhow they were acknowledged: %r\nwhat GET /api/v1/ingest/events/{id} " \
                     "says now: %r\nposter: %r" % (
                         {m: poster.how.get(m) for m in sorted(missing)[:10]}, status,
                         poster.summary())
        raise AssertionError("%d of %d acknowledged events were never applied, e.g. %s%s" % (
            len(missing), len(acked), sorted(missing)[:5], detail))
    extra = applied - set(acked)
    assert len(extra) <= unanswered, \
        "%d applied events nobody was answered for, but only %d events were in unanswered " \
        "requests" % (len(extra), unanswered)
    total, n = stack.sql("SELECT coalesce(sum(version), 0) || ' ' || count(*) FROM datasets "
                         "WHERE tenant_id = '%s'" % tenant.id)[0].split()
    assert int(total) == len(applied), \
        "dataset versions add up to %s for %d applied events: some event was applied twice " \
        "(or not at all)" % (total, len(applied))
    fails = stack.sql("SELECT count(*) FROM ingest_failures WHERE tenant_id = '%s'" % tenant.id)
    assert fails == ["0"], "failed events: %s" % fails
    return applied


def post_all(ing, n, prefix="fx", batch=500):
    """Queue n events (batches of up to 500); returns their ids, all acknowledged."""
    ids = []
    i = 0
    while i < n:
        k = min(batch, n - i)
        ids += ing.emit_batch([{"dataset": {"name": "%s-%d" % (prefix, (i + j) % DATASETS)}}
                               for j in range(k)])
        i += k
    assert len(set(ids)) == n
    return ids


class Poster:
    """Client threads posting events (single emits, and now and then a small
    batch) as fast as they can, recording what was acknowledged.

    Half of the threads behave like a careful pipeline: every post carries an
    Idempotency-Key and is retried with it, after a lost connection or a 503,
    until it gets a 202 (whose event ids, replayed or not, must then be applied).
    The other half post once without a key; a post that gets no answer may or
    may not have been queued (counted in ``unanswered``)."""

    RETRY_FOR = 90.0  # seconds a keyed post is retried before the test gives up on it

    def __init__(self, base, key, threads=4, batch_every=4, batch_size=10):
        self.base = base
        self.key = key
        self.batch_every = batch_every
        self.batch_size = batch_size
        self.lock = threading.Lock()
        self.acked = []
        self.unanswered = 0      # events of posts without a definite answer
        self.statuses = {}       # status code -> count
        self.codes = {}          # error code -> count
        self.errors = 0          # connection errors
        self.replayed = 0        # 202s with Idempotent-Replayed: true
        self.retried = 0         # keyed posts that needed more than one try
        self.how = {}            # event id -> how its 202 came (for failure messages)
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(t, t % 2 == 0), daemon=True)
                        for t in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(self.RETRY_FOR + 30)
            assert not t.is_alive(), "a posting thread did not stop"

    def count(self):
        with self.lock:
            return len(self.acked)

    def seen(self, status):
        with self.lock:
            return self.statuses.get(status, 0)

    def summary(self):
        with self.lock:
            return {"acked": len(self.acked), "unanswered": self.unanswered,
                    "statuses": dict(self.statuses), "codes": dict(self.codes),
                    "connection_errors": self.errors, "replayed": self.replayed,
                    "retried": self.retried}

    def wait_acked(self, n, timeout, what):
        wait_until(lambda: self.count() >= n, timeout, "%d acknowledged events (%s); so far %r" % (
            n, what, self.summary()))

    def _post(self, s, path, body, headers):
        """(status, json body, replayed) or None when no answer came."""
        try:
            r = s.post(self.base + path, json=body, headers=headers, timeout=10)
        except requests.RequestException:
            with self.lock:
                self.errors += 1
            return None
        with self.lock:
            self.statuses[r.status_code] = self.statuses.get(r.status_code, 0) + 1
        try:
            doc = r.json()
        except ValueError:
            doc = {}
        if r.status_code != 202:
            code = (doc.get("error") or {}).get("code", "?")
            with self.lock:
                self.codes[code] = self.codes.get(code, 0) + 1
        return r.status_code, doc, r.headers.get("Idempotent-Replayed") == "true"

    def _run(self, t, keyed):
        s = requests.Session()
        i = 0
        while not self.stop_flag.is_set():
            i += 1
            batch = i % self.batch_every == 0
            if batch:
                body = [{"dataset": {"name": "fx-%d" % ((t * 7 + i + j) % DATASETS)}}
                        for j in range(self.batch_size)]
                path, n = "/api/v1/emit/batch", self.batch_size
            else:
                body = {"dataset": {"name": "fx-%d" % ((t * 7 + i) % DATASETS)}}
                path, n = "/api/v1/emit", 1
            headers = {"Authorization": "Bearer " + self.key}
            if keyed:
                headers["Idempotency-Key"] = "poster-" + uuid.uuid4().hex
            deadline = time.monotonic() + self.RETRY_FOR
            tries = 0
            while True:
                tries += 1
                res = self._post(s, path, body, headers)
                if res is None:
                    s = requests.Session()
                if res is not None and res[0] == 202:
                    ids = res[1]["event_ids"] if batch else [res[1]["event_id"]]
                    with self.lock:
                        self.acked += ids
                        self.replayed += res[2]
                        self.retried += tries > 1
                        for eid in ids:
                            self.how[eid] = "%s, try %d%s" % (
                                "batch" if batch else "single", tries,
                                ", replayed" if res[2] else "")
                    break
                definite = res is not None and res[0] != 503 and res[1].get("error", {}).get(
                    "code") != "outcome_unknown"
                if definite:
                    break  # a refusal: nothing was queued
                if not keyed or time.monotonic() > deadline:
                    if res is None or res[1].get("error", {}).get("code") == "outcome_unknown":
                        with self.lock:
                            self.unanswered += n
                    break
                time.sleep(0.05)  # retry the same post with the same key
            if not batch and i % 50 == 0:
                time.sleep(0)  # let the other threads run


def stopped_counts(worker):
    """(applied, duplicates) from the worker's last words after SIGTERM."""
    m = re.findall(r"stopping: (\d+) applied, (\d+) duplicates", worker.log_text())
    assert m, "%s (%s) logged no summary at exit:\n%s" % (worker.label, worker.name,
                                                          worker.log_tail(max_chars=3000))
    return int(m[-1][0]), int(m[-1][1])


def kill9(proc):
    """SIGKILL, as `kill -9` does; the process gets no chance to clean up."""
    assert proc.alive(), "%s (%s) is not running" % (proc.label, proc.name)
    os.kill(proc.pid, signal.SIGKILL)
    proc.proc.wait(30)
    proc.kill()  # bookkeeping only (it is gone)
    assert proc.proc.returncode == -signal.SIGKILL


# --------------------------------------------------------------------------
# tests


def test_worker_kill9_midstream(stack):
    """kill -9 of the worker in the middle of EVENTS events, three times, then a
    new worker: every acknowledged event applied exactly once.

    The first kills land wherever the worker is (mostly inside a batch's
    transaction: that batch is redelivered). The last one lands in the window
    that exactly-once is about: the batch is committed in Postgres but not yet
    acknowledged in Redis. To be there, Redis write commands are paused
    (CLIENT PAUSE WRITE) until the transaction in flight has committed; the
    worker then waits for its XACK, and is killed; the next worker is handed
    the same entries and must find them already applied (duplicates)."""
    stream = "mf:fault:" + uuid.uuid4().hex
    tenant = stack.tenant()
    srv = stack.serve(stream)
    ing = tenant.ingest(srv)
    acked = post_all(ing, EVENTS)
    redis_url = stack.env["MF_REDIS_URL"]
    assert stream_len(redis_url, stream) == EVENTS

    def count():
        return int(stack.sql("SELECT count(*) FROM ingest_events WHERE tenant_id = '%s'"
                             % tenant.id)[0])

    def state():
        return {"applied": count(), "on_stream": stream_len(redis_url, stream),
                "pending": group_pending(redis_url, stream)}

    kills = []
    for frac in (0.2, 0.4):
        w = stack.worker(stream)
        threshold = int(EVENTS * frac)
        wait_until(lambda: w.alive() and count() >= threshold, 120 + EVENTS / 20,
                   "%d events applied before the kill" % threshold, interval=0.02)
        kill9(w)
        kills.append(dict(state(), how="anywhere"))

    # the last kill: committed, not acknowledged
    w = stack.worker(stream)
    threshold = int(EVENTS * 0.6)
    wait_until(lambda: w.alive() and count() >= threshold, 120 + EVENTS / 20,
               "%d events applied before the kill" % threshold, interval=0.02)
    unacked = 0
    for attempt in range(10):
        before = count()
        redis_cli(redis_url, "CLIENT", "PAUSE", "20000", "WRITE")
        try:
            # the batch in flight commits, then its XACK waits for the pause to end
            try:
                wait_until(lambda: count() > before, 10, "a commit during the pause", interval=0.02)
            except AssertionError:
                continue  # it was between batches: try again
            kill9(w)
        finally:
            redis_cli(redis_url, "CLIENT", "UNPAUSE")
        st = state()
        unacked = st["applied"] - (EVENTS - st["on_stream"])
        kills.append(dict(st, how="committed, not acknowledged", unacked=unacked))
        break
    assert unacked > 0, "could not kill the worker between commit and acknowledgement: %r" % kills
    assert kills[-1]["applied"] < EVENTS, "the worker finished before it was killed: raise " \
                                         "MF_FAULT_EVENTS (at each kill: %r)" % kills
    w = stack.worker(stream)
    wait_drained(redis_url, stream, 120 + EVENTS / 10, [w])
    w.stop_and_check()
    applied = check_exactly_once(stack, tenant, acked)
    assert len(applied) == EVENTS
    # the last worker applied the rest and found the committed, unacknowledged batch applied
    n_applied, n_dup = stopped_counts(w)
    assert n_applied == EVENTS - kills[-1]["applied"], (n_applied, kills)
    assert n_dup == unacked, "redelivered entries found applied: %d, expected %d (%r)" % (
        n_dup, unacked, kills)
    print("worker kill -9: %d events; at each kill %r; last worker applied %d, duplicates %d" % (
        EVENTS, kills, n_applied, n_dup))
    srv.stop_and_check()


def test_serve_kill9_under_load(stack):
    """kill -9 of mf-ingest serve while clients post; restarted on the same
    port: every event answered 202 is applied, once."""
    stream = "mf:fault:" + uuid.uuid4().hex
    tenant = stack.tenant()
    port = free_port()
    srv = stack.serve(stream, port=port)
    w = stack.worker(stream)
    load = max(200, EVENTS // 20)
    poster = Poster(srv.base, tenant.key, threads=6).start()
    try:
        poster.wait_acked(load, 120, "before the first kill")
        for round_ in range(2):
            kill9(srv)
            errors = poster.errors
            wait_until(lambda: poster.errors > errors, 30, "clients to notice the dead serve")
            before = poster.count()
            srv.start()  # same port, same log
            poster.wait_acked(before + load, 120, "after the restart (%d)" % round_)
    finally:
        poster.stop()
    wait_drained(stack.env["MF_REDIS_URL"], stream, 120 + poster.count() / 10, [w])
    check_exactly_once(stack, tenant, poster.acked, poster.unanswered, poster)
    assert set(poster.statuses) <= {202, 503}, poster.statuses
    print("serve kill -9: %r" % poster.summary())
    w.stop_and_check()
    srv.stop_and_check()


def test_several_workers_share_the_work(stack):
    """Three workers on one stream: each applies part of it, every event once,
    also when events hit the same datasets."""
    stream = "mf:fault:" + uuid.uuid4().hex
    tenant = stack.tenant()
    srv = stack.serve(stream)
    ing = tenant.ingest(srv)
    n = max(600, EVENTS // 2)
    # half on distinct datasets, half on DATASETS shared ones
    acked = []
    for i in range(0, n // 2, 500):
        acked += ing.emit_batch([{"dataset": {"name": "own-%d" % j}}
                                 for j in range(i, min(i + 500, n // 2))])
    acked += post_all(ing, n - n // 2)
    workers = [stack.worker(stream, extra_env={"MF_INGEST_BATCH": "50"}, start=False)
               for _ in range(3)]
    for w in workers:
        w.start()
    wait_drained(stack.env["MF_REDIS_URL"], stream, 120 + n / 10, workers)
    counts = []
    for w in workers:
        w.stop_and_check()
        counts.append(stopped_counts(w))
    check_exactly_once(stack, tenant, acked)
    assert sum(a for a, _ in counts) == n, "workers applied %r of %d events" % (counts, n)
    assert all(a > 0 for a, _ in counts), "a worker got no share of the work: %r" % counts
    print("several workers: (applied, duplicates) per worker: %r" % counts)
    srv.stop_and_check()


class OwnRedis:
    """A redis-server of the test's own with AOF and appendfsync always, in the
    foreground (so that kill -9 reaches it), restartable on the same port and dir."""

    def __init__(self, root):
        self.dir = os.path.join(root, "redis-aof-" + uuid.uuid4().hex[:8])
        os.makedirs(self.dir)
        self.port = free_port()
        self.url = "redis://127.0.0.1:%d" % self.port
        self.proc = None
        self.log = os.path.join(self.dir, "redis.log")

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--protected-mode", "yes",
             "--dir", self.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always",
             "--daemonize", "no", "--logfile", self.log],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            assert self.proc.poll() is None, "redis-server exited:\n" + self.log_tail()
            return redis_cli(self.url, "PING", check=False) == "PONG" and \
                "loading" not in redis_cli(self.url, "INFO", "persistence", check=False).replace(
                    "loading:0", "")
        wait_until(up, 30, "redis-server to answer PING")
        assert redis_cli(self.url, "CONFIG", "GET", "appendfsync").splitlines()[-1] == "always"

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as fh:
                return fh.read()[-3000:]
        except OSError:
            return ""


def test_redis_aof_kill9(stack, tmp_root):
    """Redis (AOF, appendfsync always) killed with -9 while clients post and the
    worker applies, restarted on the same port and dir: nothing acknowledged is lost."""
    redis = OwnRedis(os.path.join(tmp_root, "faults"))
    redis.start()
    try:
        stream = "mf:fault:" + uuid.uuid4().hex
        tenant = stack.tenant()
        srv = stack.serve(stream, redis_url=redis.url)
        w = stack.worker(stream, redis_url=redis.url)
        load = max(200, EVENTS // 20)
        poster = Poster(srv.base, tenant.key, threads=6).start()
        try:
            poster.wait_acked(load, 120, "before the first kill")
            for round_ in range(2):
                redis.kill9()
                refused = poster.seen(503)
                wait_until(lambda: poster.seen(503) > refused, 30,
                           "posts to be refused with 503 while Redis is down")
                before = poster.count()
                redis.start()
                poster.wait_acked(before + load, 120, "after Redis came back (%d)" % round_)
        finally:
            poster.stop()
        wait_drained(redis.url, stream, 120 + poster.count() / 10, [w])
        check_exactly_once(stack, tenant, poster.acked, poster.unanswered, poster)
        assert set(poster.statuses) <= {202, 503}, poster.statuses
        print("redis kill -9: %r" % poster.summary())
        w.stop_and_check()
        srv.stop_and_check()
    finally:
        redis.stop()


def test_postgres_restart_midstream(stack):
    """Postgres stopped and started while the worker is applying and clients
    post: the worker waits (it does not exit), then drains; nothing is lost."""
    stream = "mf:fault:" + uuid.uuid4().hex
    tenant = stack.tenant()
    # a long key cache lets the intake keep accepting while Postgres is away
    srv = stack.serve(stream, extra_env={"MF_KEY_CACHE_TTL": "300"})
    ing = tenant.ingest(srv)
    n = max(1000, EVENTS // 2)
    acked = post_all(ing, n)
    w = stack.worker(stream)
    wait_until(lambda: int(stack.sql("SELECT count(*) FROM ingest_events WHERE tenant_id = '%s'"
                                     % tenant.id)[0]) >= n // 10, 120, "the worker to start applying")
    # a second key, verified by one request on one connection (so on one loop thread)
    spare_key = tenant.make_key("editor")["key"]
    spare = requests.post(srv.base + "/api/v1/emit", json={"dataset": {"name": "spare-key"}},
                          headers={"Authorization": "Bearer " + spare_key, "Connection": "close"}, timeout=10)
    assert spare.status_code == 202, spare.text
    acked.append(spare.json()["event_id"])
    poster = Poster(srv.base, tenant.key, threads=2).start()
    try:
        mark = w.log_size()
        stack.pg_stop()
        wait_until(lambda: re.search(r'"level":"(warn|error)"', w.log_text(mark)), 60,
                   "the worker to notice that Postgres is gone")
        # The spare key was verified on one loop thread only, before Postgres went away; the
        # threads share what they verified, so fresh connections (which the kernel spreads over
        # the threads' listeners) are accepted on every thread.
        for i in range(8):
            resp = requests.post(srv.base + "/api/v1/emit", json={"dataset": {"name": "fresh-conn-%d" % i}},
                                 headers={"Authorization": "Bearer " + spare_key, "Connection": "close"},
                                 timeout=10)
            assert resp.status_code == 202, (i, resp.status_code, resp.text)
            acked.append(resp.json()["event_id"])
        before = poster.count()
        poster.wait_acked(before + 50, 60, "while Postgres is down (the intake needs only Redis)")
        assert w.alive(), "the worker exited while Postgres was down:\n" + w.log_tail(mark)
        stack.pg_start()
        poster.wait_acked(poster.count() + 50, 60, "after Postgres came back")
    finally:
        poster.stop()
    wait_drained(stack.env["MF_REDIS_URL"], stream, 120 + (n + poster.count()) / 10, [w])
    check_exactly_once(stack, tenant, acked + poster.acked, poster.unanswered, poster)
    assert set(poster.statuses) <= {202, 503}, poster.statuses
    print("postgres restart: %d queued before; then %r" % (n, poster.summary()))
    w.stop_and_check()
    srv.stop_and_check()
    # mf-api came back too
    wait_until(lambda: _ready(stack.api.base), 60, "mf-api ready after the restart")
