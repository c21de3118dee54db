"""Search: GET /api/v1/search and /api/v1/search/suggest against the real
mf-api and Postgres (migrations/0008_search.sql keeps the index on every
write; services/api/src/search.c answers).

Covers relevance (exact names, dotted names, typos, prefixes, column names,
descriptions, tags, glossary terms), filters and facets, pagination,
suggestions, bad input, scoped keys and other tenants, and that the index
follows renames, deletes and new fields.
"""

import pytest

from conftest import assert_error, psql, q

S = "/api/v1/search"


def search(api, query, **params):
    params["q"] = query
    r = api.get(S, params=params)
    assert r.status_code == 200, r.text[:800]
    body = r.json()
    assert set(body) >= {"items", "facets", "facets_exact", "total", "next_cursor"}, body
    return body


def names(body):
    return [i["name"] for i in body["items"]]


def facet(body, key):
    return {f["value"]: f["count"] for f in body["facets"][key]}


@pytest.fixture
def catalog(api):
    """A small catalog: two domains, owners, tags, fields, a glossary term."""
    api.ok("POST", "/api/v1/domains", 201, json_body={"name": "sales"})
    api.ok("POST", "/api/v1/domains", 201, json_body={"name": "marketing"})
    api.create_dataset("customer", domain="sales", owner="alice", format="table",
                       description="Every customer we ever had",
                       fields=[{"name": "customer_id", "type": "int"}, {"name": "email", "type": "text"}])
    api.create_dataset("sales.orders_daily", domain="sales", owner="bob", format="parquet", tags=["gold"],
                       description="Orders rolled up per day",
                       fields=[{"name": "order_date", "type": "date"}, {"name": "amount", "type": "int"}])
    api.create_dataset("customerChurnScores", domain="marketing", owner="alice", format="table",
                       tags=["pii"], fields=[{"name": "score", "type": "float"}])
    api.create_dataset("web_sessions", domain="marketing", owner="carol", format="parquet",
                       description="Clickstream sessions from the storefront",
                       fields=[{"name": "utm_campaign", "type": "text"}])
    api.create_dataset("ledger", namespace="finance", owner="dave", format="table",
                       description="general ledger postings", fields=[{"name": "iban", "type": "text"}])
    api.ok("POST", "/api/v1/glossary/terms", 201,
           json_body={"name": "Net Revenue", "definition": "Revenue after refunds"})
    api.ok("POST", "/api/v1/glossary/terms/" + q("Net Revenue") + "/links", 200,
           json_body={"namespace": "finance", "dataset": "ledger"})
    return api


RELEVANCE = [
    # query, expected top result (kind, name)
    ("customer", ("dataset", "customer")),                  # exact name
    ("orders", ("dataset", "sales.orders_daily")),          # dotted name word
    ("sales.orders_daily", ("dataset", "sales.orders_daily")),
    ("orders daily", ("dataset", "sales.orders_daily")),
    ("custmer", ("dataset", "customer")),                   # typo
    ("ordrs", ("dataset", "sales.orders_daily")),           # typo
    ("cust", ("dataset", "customer")),                      # prefix as you type
    ("churn", ("dataset", "customerChurnScores")),          # camelCase word
    ("utm_campaign", ("dataset", "web_sessions")),          # column name
    ("iban", ("dataset", "ledger")),                        # column name
    ("clickstream", ("dataset", "web_sessions")),           # description
    ("storefront", ("dataset", "web_sessions")),
    ("gold", ("dataset", "sales.orders_daily")),            # tag
    ("net revenue", ("term", "Net Revenue")),               # glossary term itself
]


@pytest.mark.parametrize("query,top", RELEVANCE)
def test_relevance(catalog, query, top):
    body = search(catalog, query)
    assert body["items"], (query, body)
    first = body["items"][0]
    assert (first["kind"], first["name"]) == top, (query, [(i["kind"], i["name"], i["score"]) for i in body["items"]])
    assert body["total"] >= 1
    assert "<mark>" in first["snippet"], first


@pytest.mark.parametrize("query,name,exact", [
    ("sales.orders_daily", "sales.orders_daily", True),          # the name itself
    ("default/sales.orders_daily", "sales.orders_daily", True),  # namespace/name
    ("default.sales.orders_daily", "sales.orders_daily", True),  # namespace.name
    ("finance/ledger", "ledger", True),
    ("sales orders daily", "sales.orders_daily", True),          # the name's words
    ("customer churn scores", "customerChurnScores", True),
    ("custmer churn scores", "customerChurnScores", True),       # the words, one corrected
    ("orders daily", "sales.orders_daily", False),               # some of the words
    ("customer churn", "customerChurnScores", False),
    ("ledger/finance", "ledger", False),
])
def test_exact_name_tier(catalog, query, name, exact):
    """A dataset whose name (alone or after its namespace, or as words) is the query ranks in the
    exact tier (score 6 and up); a name that only holds the query's words ranks below it."""
    body = search(catalog, query, kind="dataset")
    score = {i["name"]: i["score"] for i in body["items"]}
    assert name in score, (query, score)
    assert (score[name] >= 6) is exact, (query, score)


def test_term_links_find_datasets(catalog):
    body = search(catalog, "revenue", kind="dataset")
    assert names(body) == ["ledger"], body
    assert body["items"][0]["match"] == "fields_tags_terms"


def test_ranking_order(catalog):
    # exact name, then name words, then field names
    body = search(catalog, "customer", kind="dataset")
    assert names(body)[:2] == ["customer", "customerChurnScores"], body
    body = search(catalog, "customer")
    kinds = [(i["kind"], i["name"]) for i in body["items"]]
    assert ("field", "customer_id") in kinds
    assert kinds.index(("dataset", "customerChurnScores")) < kinds.index(("field", "customer_id"))
    # a name match ranks above a description match
    catalog.create_dataset("storefront_events", description="nothing")
    body = search(catalog, "storefront", kind="dataset")
    assert names(body) == ["storefront_events", "web_sessions"], body
    assert body["items"][1]["match"] == "description"


def test_fields_are_items(catalog):
    body = search(catalog, "email", kind="field")
    assert [(i["name"], i["dataset"], i["namespace"]) for i in body["items"]] == [("email", "customer", "default")]
    assert body["items"][0]["snippet"] == "customer.<mark>email</mark>"


def test_filters_and_facets(catalog):
    body = search(catalog, "customer")
    assert facet(body, "kind") == {"dataset": 2, "field": 1}
    assert facet(body, "domain") == {"sales": 2, "marketing": 1}
    assert facet(body, "owner") == {"alice": 3}
    assert body["total"] == 3
    body = search(catalog, "customer", domain="marketing")
    assert names(body) == ["customerChurnScores"] and body["total"] == 1
    assert facet(body, "domain") == {"marketing": 1}
    assert facet(body, "tag") == {"pii": 1}
    assert names(search(catalog, "customer", tag="pii")) == ["customerChurnScores"]
    assert names(search(catalog, "orders", owner="bob", kind="dataset")) == ["sales.orders_daily"]
    assert search(catalog, "orders", owner="alice")["total"] == 0
    body = search(catalog, "orders", format="parquet")
    assert names(body) == ["sales.orders_daily"]
    body = search(catalog, "ledger", namespace="finance")
    assert names(body) == ["ledger"]
    assert facet(body, "namespace") == {"finance": 1}
    # unknown filter values: nothing, not an error
    for k, v in (("domain", "nope"), ("owner", "nobody"), ("tag", "nope"), ("format", "csv"), ("namespace", "x")):
        body = search(catalog, "customer", **{k: v})
        assert body["items"] == [] and body["total"] == 0, (k, body)
    assert_error(catalog.get(S, params={"q": "x", "kind": "table"}), 400, "invalid_request")


def test_pagination(api):
    for i in range(7):
        api.create_dataset("page_set_%d" % i, description="paged")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"q": "page set", "limit": "3"}
        if cursor:
            params["cursor"] = cursor
        body = search(api, params.pop("q"), **params)
        assert body["total"] == 7
        assert len(body["items"]) <= 3
        seen += names(body)
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == ["page_set_%d" % i for i in range(7)]
    assert len(set(seen)) == 7
    for bad in ("0", "101", "x"):
        assert_error(api.get(S, params={"q": "page", "limit": bad}), 400, "invalid_request")
    assert len(search(api, "page", limit="100")["items"]) == 7
    assert_error(api.get(S, params={"q": "page", "cursor": "!!"}), 400, "invalid_request")


def test_suggest(catalog):
    r = catalog.get(S + "/suggest", params={"q": "cust"})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    got = [(i["kind"], i["name"]) for i in items]
    assert got[0] == ("dataset", "customer"), got
    assert ("field", "customer_id") in got and ("dataset", "customerChurnScores") in got
    assert all(i["kind"] in ("dataset", "field", "term") for i in items)
    got = [(i["kind"], i["name"]) for i in catalog.get(S + "/suggest", params={"q": "net rev"}).json()["items"]]
    assert got == [("term", "Net Revenue")]
    assert len(catalog.get(S + "/suggest", params={"q": "c", "limit": "1"}).json()["items"]) == 1
    assert_error(catalog.get(S + "/suggest"), 400, "invalid_request")


def test_suggest_names_that_start_first_shortest_first(api):
    """Names that start with the query come first, shortest first (then datasets before fields, then
    by name), then the other matches: whether the answer comes from the walk of the names that start
    with it (0023, when there are enough of them) or from every match."""
    for name in ["financials", "finance.ledger", "finance_x", "fin_a", "the_finance", "old.financeReport",
                 "financeteam"]:
        api.create_dataset(name)
    api.create_dataset("orders", fields=[{"name": "finance_id", "type": "int"}, {"name": "x_financ", "type": "text"}])
    expected = [("dataset", "finance_x"), ("dataset", "financials"), ("field", "finance_id"),
                ("dataset", "financeteam"), ("dataset", "finance.ledger"),  # the five that start with it
                ("field", "x_financ"), ("dataset", "the_finance"), ("dataset", "old.financeReport")]
    for limit in range(1, 11):
        r = api.get(S + "/suggest", params={"q": "financ", "limit": limit})
        assert r.status_code == 200, r.text
        assert [(i["kind"], i["name"]) for i in r.json()["items"]] == expected[:limit], limit
    # three letters: fin_a starts with it too, and is among the shortest
    got = [(i["kind"], i["name"]) for i in api.get(S + "/suggest", params={"q": "fin", "limit": 3}).json()["items"]]
    assert got == [("dataset", "fin_a"), ("dataset", "finance_x"), ("dataset", "financials")]
    # one and two letters: the walk while at least `limit` names start with the query (six do),
    # every match beyond, with the same order
    short = [("dataset", "fin_a"), ("dataset", "finance_x"), ("dataset", "financials"), ("field", "finance_id"),
             ("dataset", "financeteam"), ("dataset", "finance.ledger"),  # the six that start with it
             ("field", "x_financ"), ("dataset", "the_finance"), ("dataset", "old.financeReport")]
    for query in ("fi", "F", "f"):
        for limit in range(1, 11):
            r = api.get(S + "/suggest", params={"q": query, "limit": limit})
            assert r.status_code == 200, r.text
            assert [(i["kind"], i["name"]) for i in r.json()["items"]] == short[:limit], (query, limit)


def test_suggest_ties_keep_the_whole_order(api, tenant):
    """A field name many datasets share ties at one length: the suggestions that start with the query
    (from one letter on) are ordered by length, then datasets, terms, fields, then name (bytewise),
    namespace and dataset, whether they come from the walk of the names that start with the query
    (0025, when there are at least `limit`) or from every match; a domain-scoped key walks past what it
    may not see."""
    api.ok("POST", "/api/v1/domains", 201, json_body={"name": "sales"})
    api.ok("POST", "/api/v1/glossary/terms", 201, json_body={"name": "Qa", "definition": "quality assurance"})
    rows = [("term", "Qa", None, None, None)]  # kind, name, namespace, dataset, domain
    for i, (ns, domain) in enumerate([("n2", "sales"), ("n1", None), ("n2", None), ("n1", "sales"),
                                      ("n3", "sales"), ("n1", None)]):
        ds = "zeta_%d" % (5 - i)
        fields = [{"name": "qa", "type": "int"}, {"name": "qab_x", "type": "text"}]
        if i % 2 == 0:
            fields.append({"name": "Qa", "type": "text"})
        if i == 1:
            fields.append({"name": "x_qa", "type": "text"})  # matches q and qa, does not start with them
        api.create_dataset(ds, namespace=ns, fields=fields, **({"domain": domain} if domain else {}))
        rows += [("field", f["name"], ns, ds, domain) for f in fields]
    api.create_dataset("qa", namespace="n9", domain="sales")
    rows.append(("dataset", "qa", "n9", None, "sales"))
    rank = {"dataset": 0, "term": 1, "field": 2}

    def expected(query, visible):
        got = [r for r in rows if visible(r)]

        def key(r):  # Postgres puts NULLs last
            return (len(r[1]), rank[r[0]], r[1].encode(), r[2] is None, (r[2] or "").encode(), r[3] is None,
                    (r[3] or "").encode())

        starting = sorted((r for r in got if r[1].lower().startswith(query.lower())), key=key)
        others = sorted((r for r in got if not r[1].lower().startswith(query.lower())), key=key)
        return [(r[0], r[1], r[2], r[3]) for r in starting + others]

    scoped = api.with_key(tenant.make_key("viewer", scope={"domain": "sales"})["key"])
    for client, visible in ((api, lambda r: True), (scoped, lambda r: r[0] == "term" or r[4] == "sales")):
        for query in ("q", "Q", "qa", "QA", "qab", "qab_"):
            want = expected(query, visible)
            if query.lower().startswith("qab"):
                want = [w for w in want if w[1].lower().startswith("qab")]
            for limit in range(1, len(want) + 2):
                r = client.get(S + "/suggest", params={"q": query, "limit": limit})
                assert r.status_code == 200, r.text
                got = [(i["kind"], i["name"], i.get("namespace"), i.get("dataset")) for i in r.json()["items"]]
                assert got == want[:limit], (query, limit)


def test_longest_names_are_indexed_and_suggested(api):
    """The autocomplete indexes hold a row's name, namespace and dataset name whole (0025): names of
    the longest length the API takes (512 bytes, multi-byte characters too) in all three still write,
    and are suggested."""
    namespace, dataset, field = "n" * 512, "q" + "é" * 255 + "d", "q" + "x" * 511
    api.create_dataset(dataset, namespace=namespace, fields=[{"name": field, "type": "text"}])
    assert len(dataset.encode()) == 512
    for query in ("q", "Q", "qé", "qx"):
        got = [(i["kind"], i["name"], i.get("namespace"), i.get("dataset"))
               for i in api.get(S + "/suggest", params={"q": query, "limit": 5}).json()["items"]]
        want = [("dataset", dataset, namespace, None), ("field", field, namespace, dataset)]
        assert got == [w for w in want if w[1].lower().startswith(query.lower())], (query, got)


BAD_BUT_HARMLESS = [
    "' OR 1=1 --", "\"; DROP TABLE datasets; --", "a\\b", "\\", "'", "''", "&|!():*", "<script>",
    "ünïcødé データ", "😀", "a:*B & !c", "%", "_", "customer'", "x" * 256, "   ", "!!!", "1.2.3",
]


@pytest.mark.parametrize("text", BAD_BUT_HARMLESS)
def test_odd_queries_never_fail(catalog, text):
    for path in (S, S + "/suggest"):
        r = catalog.get(path, params={"q": text})
        assert r.status_code < 500, (text, r.status_code, r.text[:300])
        if r.status_code == 200:
            assert isinstance(r.json()["items"], list)


def test_bad_q(catalog):
    assert_error(catalog.get(S), 400, "invalid_request")
    assert_error(catalog.get(S, params={"q": ""}), 400, "invalid_request")
    assert_error(catalog.get(S, params={"q": "x" * 257}), 400, "invalid_request")
    assert_error(catalog.get(S, params={"q": "é" * 257}), 400, "invalid_request")
    assert catalog.get(S, params={"q": "é" * 256}).status_code == 200
    assert_error(catalog.get(S + "/suggest", params={"q": "x" * 257}), 400, "invalid_request")


def test_needs_a_key(anon):
    assert_error(anon.get(S, params={"q": "x"}), 401)


def test_scoped_key_sees_only_its_domain(catalog, tenant):
    scoped = catalog.with_key(tenant.make_key("viewer", scope={"domain": "sales"})["key"])
    body = search(scoped, "customer")
    assert names(body) == ["customer", "customer_id"], body
    assert body["total"] == 2
    assert facet(body, "domain") == {"sales": 2}
    assert facet(body, "kind") == {"dataset": 1, "field": 1}
    assert "marketing" not in str(body) and "customerChurnScores" not in str(body)
    for query in ("churn", "web", "utm_campaign", "ledger", "iban", "pii", "clickstream"):
        body = search(scoped, query)
        assert body["items"] == [] and body["total"] == 0, (query, body)
        assert all(v == [] for v in body["facets"].values()), body
    # glossary terms are tenant-wide objects; the datasets linked to them stay hidden
    body = search(scoped, "revenue")
    assert [(i["kind"], i["name"]) for i in body["items"]] == [("term", "Net Revenue")]
    sugg = scoped.get(S + "/suggest", params={"q": "c"}).json()["items"]
    assert {i["name"] for i in sugg} <= {"customer", "customer_id"}, sugg
    assert search(scoped, "churn", domain="marketing")["total"] == 0


def test_other_tenants_never_appear(catalog, tenant_factory):
    other = tenant_factory().api
    other.create_dataset("customer_secret", description="customer data of another tenant")
    body = search(catalog, "customer")
    assert "customer_secret" not in names(body)
    body = search(other, "customer")
    assert names(body) == ["customer_secret"]
    assert search(other, "churn")["total"] == 0
    assert search(other, "custmer")["items"][0]["name"] == "customer_secret"


def test_index_follows_changes(api):
    api.create_dataset("inventory_snapshot", description="stock levels", fields=[{"name": "sku", "type": "text"}])
    assert names(search(api, "inventory")) == ["inventory_snapshot"]
    # replace: new description and a new field
    d = api.get_dataset("inventory_snapshot").json()
    r = api.put("/api/v1/datasets/inventory_snapshot",
                {"description": "warehouse counts",
                 "fields": [{"name": "sku", "type": "text"}, {"name": "warehouse_code", "type": "text"}]},
                headers={"If-Match": '"%s"' % d["version"]})
    assert r.status_code == 200, r.text
    assert names(search(api, "warehouse", kind="dataset")) == ["inventory_snapshot"]
    assert search(api, "stock")["total"] == 0
    assert [(i["kind"], i["name"]) for i in search(api, "warehouse_code", kind="field")["items"]] == [
        ("field", "warehouse_code")]
    # a tag added through the tag route
    api.ok("POST", "/api/v1/datasets/inventory_snapshot/tags", 200, json_body={"tag": "silver"})
    assert names(search(api, "silver", kind="dataset")) == ["inventory_snapshot"]
    assert facet(search(api, "inventory", kind="dataset"), "tag") == {"silver": 1}
    # a glossary term renamed: the datasets linked follow
    api.ok("POST", "/api/v1/glossary/terms", 201, json_body={"name": "Stockkeeping"})
    api.ok("POST", "/api/v1/glossary/terms/Stockkeeping/links", 200, json_body={"dataset": "inventory_snapshot"})
    assert names(search(api, "stockkeeping", kind="dataset")) == ["inventory_snapshot"]
    api.ok("DELETE", "/api/v1/glossary/terms/Stockkeeping", 204)
    assert search(api, "stockkeeping")["total"] == 0
    # delete
    api.ok("DELETE", "/api/v1/datasets/inventory_snapshot", 204)
    assert search(api, "inventory")["total"] == 0
    assert search(api, "warehouse_code")["total"] == 0


def test_facets_count_the_best_1000_matches(api, infra, tenant):
    """Beyond 1,000 matches the facets count the best 1,000 (facets_exact false); total stays exact."""
    tid = "'%s'" % tenant.id
    psql(infra["MF_PG_ADMIN_URL"],
         "INSERT INTO namespaces (tenant_id, name) VALUES (%s, 'cap') ON CONFLICT DO NOTHING" % tid,
         "INSERT INTO datasets (tenant_id, namespace, name, format) SELECT %s, 'cap', 'capword_' || g, "
         "CASE WHEN g <= 600 THEN 'parquet' ELSE 'table' END FROM generate_series(1, 1100) g" % tid)
    body = search(api, "capword")
    assert body["total"] == 1100 and body["facets_exact"] is False, body["facets"]
    assert sum(facet(body, "kind").values()) == 1000 and sum(facet(body, "format").values()) == 1000
    assert len(body["items"]) == 20 and body["next_cursor"]
    # the page is ranked over every match (one tier and rank here: then by name)
    assert names(body) == sorted("capword_%d" % i for i in range(1, 1101))[:20]
    body = search(api, "capword", format="table")
    assert body["total"] == 500 and body["facets_exact"] is True
    assert facet(body, "format") == {"table": 500} and facet(body, "kind") == {"dataset": 500}
    small = search(api, "capword_7")
    assert small["facets_exact"] is True and small["total"] == sum(facet(small, "kind").values())


# Words the index is asked for whole when nothing in the tenant extends them (0023, search_lexicon),
# and words that stay prefixes: a camelCase name leads with a run ("ordersdaily" of "ordersDaily.x")
# that is no word of its own row.
WHOLE_OR_PREFIX = ["ordersdaily", "orders", "ordersd", "customerchurn", "customer", "churn", "userid", "user",
                   "sessions", "sales.orders_daily", "x", "feed", "daily", "scores", "web"]


def test_whole_word_lookup_finds_what_prefixes_find(api, infra, tenant):
    """Every search and suggestion matches the rows the plain prefix query matches, whether the index was
    asked for the words whole or as prefixes; words nothing extends are asked whole."""
    api.create_dataset("ordersDaily.x", description="raw feed", fields=[{"name": "userId", "type": "int"}])
    api.create_dataset("customerChurnScores", tags=["pii"])
    api.create_dataset("sales.orders_daily", fields=[{"name": "order_date", "type": "date"}])
    api.create_dataset("web_sessions", description="ordersdaily feed of sessions",
                       fields=[{"name": "user", "type": "text"}])
    admin, tid = infra["MF_PG_ADMIN_URL"], tenant.id

    def reference(query, weights, names_only):
        vec = "ts_filter(tsv, '{a}')" if names_only else "tsv"
        sql = ("SELECT count(*), coalesce(string_agg(DISTINCT kind || ':' || name, ',' ORDER BY kind || ':' || name), '') "
               "FROM search_index WHERE tenant_id = '%s' AND %s @@ (SELECT mf_search_query(array_agg(w ORDER BY o), "
               "array_agg(alt ORDER BY o), '%s') FROM mf_search_words_corrected('%s'))" % (tid, vec, weights, query))
        rows = psql(admin, "SELECT set_config('mf.tenant_id', '%s', false)" % tid, sql)[1]
        n, found = rows[-1].split("|")
        return int(n), set(found.split(",")) - {""}

    for query in WHOLE_OR_PREFIX:
        body = search(api, query, limit=100)
        n, found = reference(query, "", False)
        assert body["total"] == n, (query, body["total"], n)
        assert {"%s:%s" % (i["kind"], i["name"]) for i in body["items"]} == found, query
        r = api.get(S + "/suggest", params={"q": query, "limit": 20})
        assert r.status_code == 200, r.text
        n, found = reference(query, "A", True)
        assert {"%s:%s" % (i["kind"], i["name"]) for i in r.json()["items"]} == found, query

    def index_query(words):
        return psql(admin, "SELECT set_config('mf.tenant_id', '%s', false)" % tid,
                    "SELECT mf_search_match_query(%s, %s, '')" % (
                        "ARRAY[%s]" % ",".join("'%s'" % w for w in words),
                        "ARRAY[%s]::text[]" % ",".join("NULL" for _ in words)))[1][-1]

    # whole where nothing extends the word, a prefix where something does
    assert index_query(["sessions", "feed"]) == "'sessions' & 'feed'"
    assert index_query(["ordersdaily"]) == "'ordersdaily':*"  # "ordersdaily.x" extends it
    assert index_query(["orders", "customer", "churn"]) == "'orders':* & 'customer':* & 'churn'"
    # a word that arrives later turns a whole word back into a prefix
    api.create_dataset("feedback_log")
    assert index_query(["feed"]) == "'feed':*"
    assert set(names(search(api, "feed", kind="dataset"))) == {"feedback_log", "ordersDaily.x", "web_sessions"}
