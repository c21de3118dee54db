#!/usr/bin/env python3
"""Seeds two tenants at scale, for search and lineage benchmarks (make seed-scale).

    scripts/seed_scale.py [--datasets 100000] [--api-url URL] [--platform-key KEY]
                          [--pg-url URL] [--prefix NAME] [--out FILE] [--seed N]

Tenant A and tenant B are created through the API (POST /api/v1/admin/tenants
with the platform key, plan enterprise), then each gets, through COPY (psql
reading the data on its standard input):

  N datasets            names like sales.orders_daily_v2 in 4 namespaces,
                        20 domains, 40 owners, 2-3 tags, a path, a format and
                        a description each
  10 N fields           customer_id, order_ts, amount_usd ... (6-14 a dataset)
  3 N lineage edges     N/1000 hubs (at least 2) with 1,000+ downstreams each,
                        the rest from earlier datasets (a DAG)
  10 N column lineage   3-4 column pairs an edge on average

Tenant B has the same shape with its own words (every B dataset carries the
tag `tenant_b_marker`): it must never show up in A's answers.

Triggers. The search index (0008, 0021) is kept by triggers that note every
inserted dataset and field for a rebuild at commit, and the audit triggers
write one audit row per dataset and edge. Under a bulk COPY that is the slow
part, so the COPYs run
with triggers off (session_replication_role = replica as the superuser, which
also skips the foreign-key triggers: the generated rows are consistent by
construction; as the database owner, ALTER TABLE ... DISABLE TRIGGER USER
inside the COPY's own transaction, so a failure never leaves them off).
Afterwards the index rows are built set-based with the migrations' own
function, mf_search_index_datasets(ids) in chunks (0008, made about twice as
fast by 0019; it also fills search_vocab, in one statement per chunk), and the stored documents with mf_refresh_docs(ids) (0002/0007)
under the tenant's mf.tenant_id; the tenants' dataset counters (max_datasets,
0021) are set from a count; then VACUUM (ANALYZE) of what was written, so
autovacuum has nothing left to do while a benchmark runs. No audit rows are
written for the seed.

Connection: --pg-url, else MF_PG_SUPER_URL, else MF_PG_ADMIN_URL; --api-url
(MF_API_URL) and --platform-key (MF_PLATFORM_ADMIN_KEY); when absent they are
read from .run/env (make up). Prints timings per phase on stderr and one JSON
summary on stdout (tenants with ids and admin keys, counts, sample names:
an exact dataset name, a typo of it, a prefix, the hub nodes); --out writes it
to a file too. Standard library and Debian's psql only.
"""
import argparse
import http.client
import json
import os
import random
import shlex
import subprocess
import sys
import threading
import time
import urllib.parse

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

DOMAINS = ["sales", "finance", "marketing", "billing", "logistics", "inventory", "support", "product",
           "growth", "risk", "payments", "hr", "legal", "supply", "crm", "ads", "web", "mobile", "iot", "ops"]
ENTITIES = ["orders", "customers", "invoices", "payments", "shipments", "products", "sessions", "events",
            "refunds", "subscriptions", "accounts", "leads", "campaigns", "clicks", "tickets", "returns",
            "suppliers", "warehouses", "devices", "transactions", "users", "contracts", "claims", "quotes",
            "carts", "reviews", "coupons", "employees", "budgets", "forecasts", "ledgers", "balances",
            "deliveries", "routes", "stores", "regions", "channels", "partners", "prices", "stocks",
            "audits", "alerts", "metrics", "visits", "signups", "churns", "renewals", "trials", "quotas", "plans"]
QUALIFIERS = ["daily", "hourly", "weekly", "monthly", "raw", "clean", "agg", "snapshot", "history", "latest",
              "enriched", "staging", "summary", "facts", "dim", "delta", "archive", "stream", "rollup", "scd"]
B_ENTITIES = ["zebras", "quasars", "nebulas", "glaciers", "volcanos", "meteors", "comets", "galaxies", "tundras",
              "lagoons"]
NAMESPACES = ["warehouse", "lake", "analytics", "postgres://prod-db:5432"]
FORMATS = ["parquet", "delta", "iceberg", "csv", "table", "view"]
TAGS = ["pii", "gold", "silver", "bronze", "certified", "deprecated", "finance_critical", "gdpr", "sla_24h",
        "experimental", "core", "external"]
FIELDS = [("customer_id", "bigint"), ("order_id", "bigint"), ("invoice_id", "string"), ("payment_id", "string"),
          ("product_id", "bigint"), ("account_id", "bigint"), ("user_id", "bigint"), ("session_id", "string"),
          ("created_at", "timestamp"), ("updated_at", "timestamp"), ("order_ts", "timestamp"),
          ("event_date", "date"), ("amount_usd", "decimal(18,2)"), ("amount_eur", "decimal(18,2)"),
          ("quantity", "integer"), ("unit_price", "decimal(18,4)"), ("currency_code", "string"),
          ("country_code", "string"), ("region_name", "string"), ("email_address", "string"),
          ("phone_number", "string"), ("first_name", "string"), ("last_name", "string"), ("status", "string"),
          ("is_active", "boolean"), ("discount_pct", "double"), ("tax_amount", "decimal(18,2)"),
          ("shipping_cost", "decimal(18,2)"), ("warehouse_id", "bigint"), ("store_id", "bigint"),
          ("campaign_id", "bigint"), ("channel_name", "string"), ("device_type", "string"),
          ("ip_address", "string"), ("page_url", "string"), ("referrer_url", "string"), ("click_count", "bigint"),
          ("revenue_usd", "decimal(18,2)"), ("cost_usd", "decimal(18,2)"), ("margin_pct", "double"),
          ("ticket_id", "bigint"), ("priority_level", "integer"), ("contract_id", "string"),
          ("valid_from", "date"), ("valid_to", "date"), ("load_id", "bigint"), ("batch_id", "string"),
          ("source_system", "string"), ("row_hash", "string"), ("ingested_at", "timestamp")]
PII = {"email_address", "phone_number", "first_name", "last_name", "ip_address"}
TRANSFORMS = ["IDENTITY", "CAST", "AGGREGATION", "FILTER", "JOIN", "EXPRESSION"]


def log(msg):
    print("seed-scale: " + msg, file=sys.stderr, flush=True)


def read_env_file(path):
    env = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                parts = shlex.split(line.strip(), comments=True)
                if parts and parts[0] == "export":
                    parts = parts[1:]
                for p in parts:
                    if "=" in p:
                        k, v = p.split("=", 1)
                        env[k] = v
    except OSError:
        pass
    return env


def cp(v):
    """One COPY text-format value."""
    if v is None:
        return "\\N"
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, (list, tuple)):
        v = "{" + ",".join('"%s"' % x.replace("\\", "\\\\").replace('"', '\\"') for x in v) + "}"
    return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def new_uuid(rng):
    h = "%032x" % rng.getrandbits(128)
    return "%s-%s-4%s-a%s-%s" % (h[:8], h[8:12], h[13:16], h[17:20], h[20:32])


class Tenant:
    """The generated rows of one tenant (kept as compact lists)."""

    def __init__(self, tid, flavour, n, seed):
        self.id = tid
        self.flavour = flavour
        self.n = n
        rng = random.Random("%s-%s-%d" % (flavour, tid, seed))  # ids differ per tenant; words per seed
        self.rng = rng
        ents = ENTITIES if flavour == "a" else B_ENTITIES + ENTITIES[:40]
        combos = len(DOMAINS) * len(ents) * len(QUALIFIERS)
        self.domain_ids = [new_uuid(rng) for _ in DOMAINS]
        self.owner_names = ["%s-team-%d" % (DOMAINS[i % len(DOMAINS)], i // len(DOMAINS)) for i in range(40)]
        self.owner_ids = [new_uuid(rng) for _ in self.owner_names]
        self.ids, self.ns, self.names, self.dom = [], [], [], []
        for i in range(n):
            c, v = i % combos, i // combos + 1
            d = c % len(DOMAINS)
            e = (c // len(DOMAINS)) % len(ents)
            q = c // (len(DOMAINS) * len(ents))
            name = "%s.%s_%s_v%d" % (DOMAINS[d], ents[e], QUALIFIERS[q], v)
            self.ids.append(new_uuid(rng))
            self.ns.append(NAMESPACES[(i // 7) % len(NAMESPACES)])
            self.names.append(name)
            self.dom.append(d)
        # fields: 6-14 per dataset, 10 on average, distinct names
        self.fields = []
        for i in range(n):
            k = 6 + rng.randrange(9)
            picks = rng.sample(range(len(FIELDS)), k)
            self.fields.append(picks)
        # edges: hubs first, then earlier-to-later upstreams, 3 N in all (unique pairs)
        self.hubs = list(range(min(max(2, n // 1000), max(1, n // 4))))
        edges = set()
        for h in self.hubs:
            want = min(n - 1, 1000 + (h * 37) % 500)
            cands = range(len(self.hubs), n)
            for t in rng.sample(cands, min(want, len(cands))):
                edges.add((h, t))
        target = 3 * n
        tries = 0
        while len(edges) < target and tries < target * 3:
            tries += 1
            t = rng.randrange(len(self.hubs) + 1, n) if n > len(self.hubs) + 1 else 1
            s = rng.randrange(max(0, t - 5000), t)
            if s != t:
                edges.add((s, t))
        self.edges = sorted(edges)
        self.edge_ids = [new_uuid(rng) for _ in self.edges]

    # ---- COPY streams ----
    def refs(self):
        ns = ["%s\t%s\t%s\n" % (new_uuid(self.rng), self.id, cp(x)) for x in NAMESPACES]
        doms = ["%s\t%s\t%s\t%s\n" % (self.domain_ids[i], self.id, d, cp("Datasets of the %s domain" % d))
                for i, d in enumerate(DOMAINS)]
        owns = ["%s\t%s\t%s\t%s\t%s\n" % (self.owner_ids[i], self.id, o, "%s@example.com" % o, o.split("-")[0])
                for i, o in enumerate(self.owner_names)]
        return ns, doms, owns

    def datasets(self):
        rng = random.Random(self.flavour + "-ds")
        for i in range(self.n):
            name = self.names[i]
            tags = [TAGS[(i + k * 5) % len(TAGS)] for k in range(2 + i % 2)]
            if self.flavour == "b":
                tags.append("tenant_b_marker")
            desc = "%s %s data of the %s domain, %s refresh. Owned by %s." % (
                QUALIFIERS[i % len(QUALIFIERS)].capitalize(), name.split(".", 1)[1].split("_")[0],
                DOMAINS[self.dom[i]], ["daily", "hourly", "weekly"][i % 3], self.owner_names[i % 40])
            yield "\t".join((self.ids[i], self.id, cp(self.ns[i]), cp(name),
                             cp("s3://%s-lake/%s/%s" % (self.flavour, self.ns[i].split(":")[0], name.replace(".", "/"))),
                             FORMATS[i % len(FORMATS)], cp(desc), self.domain_ids[self.dom[i]],
                             self.owner_ids[i % 40], cp(tags), str(rng.randrange(1000, 10 ** 9)),
                             str(rng.randrange(10 ** 4, 10 ** 12)))) + "\n"

    def field_rows(self):
        for i in range(self.n):
            did = self.ids[i]
            for o, f in enumerate(self.fields[i]):
                fname, ftype = FIELDS[f]
                tags = ["pii"] if fname in PII else (["key"] if o == 0 else [])
                yield "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n" % (
                    self.id, did, o, fname, cp(ftype), "f" if o == 0 else "t",
                    cp("%s of %s" % (fname.replace("_", " "), self.names[i])), cp(tags))

    def edge_rows(self):
        for k, (s, t) in enumerate(self.edges):
            yield "%s\t%s\t%s\t%s\n" % (self.edge_ids[k], self.id, self.ids[s], self.ids[t])

    def column_rows(self):
        rng = random.Random(self.flavour + "-cols")
        for k, (s, t) in enumerate(self.edges):
            sf, tf = self.fields[s], self.fields[t]
            m = min(len(sf), len(tf), 3 + (k % 3 == 0))
            seen = set()
            for j in range(m):
                a = FIELDS[sf[j]][0]
                b = FIELDS[tf[j]][0]
                if (a, b) in seen:
                    continue
                seen.add((a, b))
                tr = TRANSFORMS[rng.randrange(len(TRANSFORMS))]
                yield "%s\t%s\t%s\t%s\t%s\n" % (self.id, self.edge_ids[k], a, b, tr)


# ---------------------------------------------------------------------------

class Psql:
    def __init__(self, url, superuser):
        self.url = url
        self.superuser = superuser

    def run(self, sql, timeout=3600):
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.url, "-c", sql],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        if p.returncode != 0:
            raise SystemExit("seed-scale: psql failed: %s\n%s" % (sql[:200], p.stderr.decode("utf-8", "replace")))
        return p.stdout.decode("utf-8").strip()

    def copy(self, table, columns, chunks):
        """COPY rows (an iterable of text lines) into table, triggers off, in one transaction."""
        proc = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url, "-f", "-"],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        w = proc.stdin
        pre = "BEGIN;\nSET LOCAL synchronous_commit = off;\n"
        if self.superuser:
            pre += "SET LOCAL session_replication_role = replica;\n"
        else:
            pre += "ALTER TABLE %s DISABLE TRIGGER USER;\n" % table
        pre += "COPY %s (%s) FROM STDIN;\n" % (table, ", ".join(columns))
        rows = 0
        try:
            w.write(pre.encode())
            buf = []
            for gen in chunks:
                for line in gen:
                    buf.append(line)
                    if len(buf) >= 5000:
                        w.write("".join(buf).encode())
                        rows += len(buf)
                        buf = []
            w.write("".join(buf).encode())
            rows += len(buf)
            post = "\\.\n"
            if not self.superuser:
                post += "ALTER TABLE %s ENABLE TRIGGER USER;\n" % table
            post += "COMMIT;\n"
            w.write(post.encode())
            w.close()
        except BrokenPipeError:
            pass
        err = proc.stderr.read().decode("utf-8", "replace")
        if proc.wait() != 0:
            raise SystemExit("seed-scale: COPY %s failed:\n%s" % (table, err))
        return rows


def api_post(base, key, path, body):
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=60)
    conn.request("POST", path, body=json.dumps(body),
                 headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    if r.status != 201:
        raise SystemExit("seed-scale: POST %s: HTTP %d %s" % (path, r.status, data[:300].decode("utf-8", "replace")))
    return json.loads(data)


def parallel(fns):
    errs = []

    def wrap(f):
        try:
            f()
        except BaseException as e:  # noqa: BLE001 - reported below
            errs.append(e)

    ts = [threading.Thread(target=wrap, args=(f,)) for f in fns]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errs:
        raise errs[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=int, default=int(os.environ.get("MF_SEED_DATASETS", "100000")))
    ap.add_argument("--api-url")
    ap.add_argument("--platform-key")
    ap.add_argument("--pg-url", help="superuser (preferred) or database owner URL")
    ap.add_argument("--prefix", default=None, help="tenant names: PREFIX-a and PREFIX-b (default scale-<random>)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=10000, help="datasets per mf_search_index_datasets call")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.datasets < 10:
        ap.error("--datasets must be at least 10")

    runenv = read_env_file(os.path.join(REPO, ".run", "env"))

    def pick(*names):
        for n in names:
            v = os.environ.get(n) or runenv.get(n)
            if v:
                return v
        return None

    api_url = args.api_url or pick("MF_API_URL")
    pkey = args.platform_key or pick("MF_PLATFORM_ADMIN_KEY")
    pg_url = args.pg_url or pick("MF_PG_SUPER_URL") or pick("MF_PG_ADMIN_URL")
    if not (api_url and pkey and pg_url):
        raise SystemExit("seed-scale: need --api-url/MF_API_URL, --platform-key/MF_PLATFORM_ADMIN_KEY and "
                         "--pg-url/MF_PG_SUPER_URL (or .run/env from `make up`)")
    db = Psql(pg_url, False)
    db.superuser = db.run("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == "t"
    timings = {}
    t_all = time.monotonic()

    def phase(name, fn):
        t0 = time.monotonic()
        r = fn()
        timings[name] = round(time.monotonic() - t0, 2)
        log("%-28s %8.2f s%s" % (name, timings[name], "" if r is None else "  (%s)" % r))
        return r

    prefix = args.prefix or "scale-%06x" % random.getrandbits(24)
    created = {}

    def make_tenants():
        for fl in ("a", "b"):
            d = api_post(api_url, pkey, "/api/v1/admin/tenants", {"name": "%s-%s" % (prefix, fl), "plan": "enterprise"})
            created[fl] = {"id": d["tenant"]["id"], "name": d["tenant"]["name"], "api_key": d["api_key"]}
        return "%s-a, %s-b" % (prefix, prefix)

    phase("create tenants (API)", make_tenants)
    n = args.datasets
    tenants = {}

    def generate():
        for fl in ("a", "b"):
            tenants[fl] = Tenant(created[fl]["id"], fl, n, args.seed)
        return "%d datasets, %d edges per tenant" % (n, len(tenants["a"].edges))

    phase("generate", generate)
    T = [tenants["a"], tenants["b"]]

    def refs():
        parts = [t.refs() for t in T]
        # tenant creation may already have made a namespace: skip existing ones
        existing = set(db.run("SELECT tenant_id || ' ' || name FROM namespaces WHERE tenant_id IN ('%s', '%s')"
                              % (T[0].id, T[1].id)).splitlines())
        ns = [l for p in parts for l in p[0] if " ".join(l.split("\t")[1:3]).rstrip("\n") not in existing]
        db.copy("namespaces", ["id", "tenant_id", "name"], [ns])
        db.copy("domains", ["id", "tenant_id", "name", "description"], [p[1] for p in parts])
        db.copy("owners", ["id", "tenant_id", "name", "email", "team"], [p[2] for p in parts])

    phase("copy namespaces/domains/owners", refs)
    phase("copy datasets", lambda: "%d rows" % db.copy(
        "datasets", ["id", "tenant_id", "namespace", "name", "path", "format", "description", "domain_id",
                     "owner_id", "tags", "row_count", "size_bytes"], [t.datasets() for t in T]))
    phase("copy fields", lambda: "%d rows" % db.copy(
        "fields", ["tenant_id", "dataset_id", "ordinal", "name", "type", "nullable", "description", "tags"],
        [t.field_rows() for t in T]))
    phase("copy lineage_edges", lambda: "%d rows" % db.copy(
        "lineage_edges", ["id", "tenant_id", "source_id", "target_id"], [t.edge_rows() for t in T]))
    phase("copy column_lineage", lambda: "%d rows" % db.copy(
        "column_lineage", ["tenant_id", "edge_id", "source_field", "target_field", "transformation"],
        [t.column_rows() for t in T]))

    def by_chunks(t, sql_fmt):
        def run():
            for i in range(0, n, args.chunk):
                db.run("SELECT set_config('mf.tenant_id', '%s', false); " % t.id +
                       sql_fmt % ("ARRAY(SELECT id FROM datasets WHERE tenant_id = '%s' ORDER BY id "
                                  "OFFSET %d LIMIT %d)" % (t.id, i, args.chunk)))
        return run

    # the triggers that keep max_datasets' counter (0021) were off too: count the tenants' datasets
    phase("dataset counters", lambda: db.run(
        "INSERT INTO tenant_dataset_counts (tenant_id, datasets) "
        "SELECT tenant_id, count(*) FROM datasets WHERE tenant_id IN (%s) GROUP BY tenant_id "
        "ON CONFLICT (tenant_id) DO UPDATE SET datasets = EXCLUDED.datasets" % ", ".join("'%s'" % t.id for t in T)))
    # fresh statistics first: the index build and the documents look fields and edges up per dataset
    phase("analyze (loaded tables)", lambda: db.run("ANALYZE namespaces, domains, owners, datasets, fields, "
                                                    "lineage_edges, column_lineage"))
    # one worker per tenant: two cores
    phase("search index (set-based)", lambda: parallel(
        [by_chunks(t, "SELECT mf_search_index_datasets(%s)") for t in T]))
    phase("stored docs (mf_refresh_docs)", lambda: parallel(
        [by_chunks(t, "SELECT mf_refresh_docs(%s)") for t in T]))
    # VACUUM, not only ANALYZE: the COPYs left millions of rows no vacuum has seen, and the stored
    # documents rewrote every dataset row. Whatever autovacuum has not done yet is done here rather
    # than while a benchmark measures; the pages end all-visible, the dead dataset rows gone.
    phase("vacuum analyze", lambda: db.run("VACUUM (ANALYZE) datasets, fields, lineage_edges, column_lineage, "
                                           "search_index, search_vocab"))

    counts = {}
    for fl, t in tenants.items():
        row = db.run("SELECT (SELECT count(*) FROM datasets WHERE tenant_id = '{0}') || ' ' || "
                     "(SELECT count(*) FROM fields WHERE tenant_id = '{0}') || ' ' || "
                     "(SELECT count(*) FROM lineage_edges WHERE tenant_id = '{0}') || ' ' || "
                     "(SELECT count(*) FROM column_lineage WHERE tenant_id = '{0}') || ' ' || "
                     "(SELECT count(*) FROM search_index WHERE tenant_id = '{0}') || ' ' || "
                     "(SELECT count(*) FROM search_vocab WHERE tenant_id = '{0}')".format(t.id)).split()
        counts[fl] = dict(zip(["datasets", "fields", "lineage_edges", "column_lineage", "search_index",
                               "search_vocab"], map(int, row)))
    timings["total"] = round(time.monotonic() - t_all, 2)
    log("%-28s %8.2f s" % ("total", timings["total"]))

    a = tenants["a"]
    # a sample with a long entity word (a typo of a short word is too far for trigrams)
    i = next((k for k in range(min(n - 1, 4321), n) if len(a.names[k].split(".")[1].split("_")[0]) >= 9),
             min(n - 1, 4321))
    exact = a.names[i]
    words = exact.replace(".", "_").split("_")
    ent = words[1]
    typo = ent[:4] + ent[5:]  # one letter left out
    summary = {
        "datasets_per_tenant": n,
        "superuser": db.superuser,
        "tenants": {fl: dict(created[fl], counts=counts[fl]) for fl in ("a", "b")},
        "samples": {
            "exact": exact, "exact_namespace": a.ns[i],
            "typo": "%s %s" % (words[0], typo), "typo_of": "%s %s" % (words[0], ent),
            "prefix": exact[:6],
            "hubs": ["dataset:%s:%s" % (a.ns[h].replace("%", "%25").replace(":", "%3A"),
                                        a.names[h].replace("%", "%25").replace(":", "%3A")) for h in a.hubs[:5]],
            "hub_downstreams": sum(1 for s, _ in a.edges if s == a.hubs[0]),
            "b_marker": "tenant_b_marker",
            "b_only_word": B_ENTITIES[0],
        },
        "timings_s": timings,
    }
    text = json.dumps(summary, indent=2)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
