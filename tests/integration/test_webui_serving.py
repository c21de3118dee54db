"""mf-api serves the dashboard (MF_WEBUI_DIR) at /: hashed assets cached for a
year, index.html revalidated, client-side routes fall back to index.html, and
service paths (/api, /auth, /healthz, /readyz, /metrics) never do."""

import os

import pytest
import requests

from conftest import Server

INDEX = "<!doctype html><html><head><title>MetaFuse</title></head><body><div id=root></div></body></html>\n"
ASSET = "console.log('dashboard');\n"
ASSET_PATH = "/assets/index-3f9a1c2e.js"
IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture(scope="module")
def dashboard(migrated, tmp_path_factory):
    """An mf-api serving a temporary dist folder (index.html, one asset, a favicon)."""
    dist = tmp_path_factory.mktemp("webui-dist")
    (dist / "assets").mkdir()
    (dist / "index.html").write_text(INDEX)
    (dist / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (dist / ASSET_PATH.lstrip("/")).write_text(ASSET)
    srv = Server(migrated, str(tmp_path_factory.mktemp("webui-logs")), "webui", {"MF_WEBUI_DIR": str(dist)})
    srv.start()
    yield srv
    srv.stop_and_check()


def get(srv, path, **kw):
    return requests.get(srv.base + path, timeout=5, allow_redirects=False, **kw)


def assert_index(r):
    assert r.status_code == 200, r.text
    assert r.text == INDEX
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.headers["Cache-Control"] == "no-cache"
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_root_and_index_are_revalidated(dashboard):
    assert_index(get(dashboard, "/"))
    assert_index(get(dashboard, "/index.html"))


def test_hashed_asset_is_immutable(dashboard):
    r = get(dashboard, ASSET_PATH)
    assert r.status_code == 200
    assert r.text == ASSET
    assert r.headers["Content-Type"].startswith(("application/javascript", "text/javascript"))
    assert r.headers["Cache-Control"] == IMMUTABLE
    etag = r.headers["ETag"]
    again = get(dashboard, ASSET_PATH, headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_missing_asset_is_404_not_index(dashboard):
    r = get(dashboard, "/assets/index-00000000.js")
    assert r.status_code == 404
    assert r.headers.get("Cache-Control") != IMMUTABLE
    assert INDEX not in r.text


def test_other_files_are_served_with_revalidation(dashboard):
    r = get(dashboard, "/favicon.svg")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("image/svg+xml")
    assert r.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("path", ["/datasets/orders_daily", "/search?q=orders&tag=pii", "/lineage/x/y/z",
                                  "/settings/keys", "/apifoo", "/authors"])
def test_client_routes_fall_back_to_index(dashboard, path):
    assert_index(get(dashboard, path))


def test_head_of_a_client_route(dashboard):
    r = requests.head(dashboard.base + "/admin/tenants", timeout=5)
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("path", ["/api/v1/no-such-route", "/api", "/auth/nothing", "/metrics/x", "/healthz/x",
                                  "/readyz/deeper"])
def test_service_paths_never_fall_back(dashboard, path):
    r = get(dashboard, path)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    assert "Content-Security-Policy" not in r.headers


def test_service_routes_keep_their_answers(dashboard):
    r = get(dashboard, "/api/v1/datasets")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    assert "Content-Security-Policy" not in r.headers
    assert get(dashboard, "/healthz").status_code == 200
    assert get(dashboard, "/readyz").status_code == 200
    assert get(dashboard, "/metrics").headers["Content-Type"].startswith("text/plain")


def test_other_methods_on_client_routes_are_not_pages(dashboard):
    r = requests.post(dashboard.base + "/datasets/orders_daily", data="{}", timeout=5,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_path_traversal_stays_in_the_folder(dashboard):
    with requests.Session() as s:
        req = requests.Request("GET", dashboard.base + "/assets/../../../../etc/passwd").prepare()
        req.url = dashboard.base + "/assets/../../../../etc/passwd"
        r = s.send(req, timeout=5, allow_redirects=False)
    assert "root:" not in r.text


def test_without_the_setting_there_is_no_dashboard(server):
    r = get(server, "/datasets/orders_daily")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_a_folder_without_index_html_is_refused_at_start(migrated, tmp_path):
    srv = Server(migrated, str(tmp_path), "webui-empty", {"MF_WEBUI_DIR": str(tmp_path / "nothing")})
    with pytest.raises(AssertionError, match="MF_WEBUI_DIR"):
        srv.start(timeout=10)
    assert os.path.exists(srv.log_path)
