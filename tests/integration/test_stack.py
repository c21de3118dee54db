"""The local stack (`make up` / `make down`, scripts/stack.sh) works out of the box.

`stack.sh up` runs in a private MF_RUN_DIR with the binaries under test: the
demo tenant's key answers, and the demo person signs in through the
development OpenID provider's login form and is the demo tenant's admin.
"""

import os
import subprocess
import urllib.parse

import requests

import oidc
from conftest import BIN_DIR, REPO, Api, parse_env_file

STACK = os.path.join(REPO, "scripts", "stack.sh")


def test_make_up_serves_the_demo_tenant_and_single_sign_on(tmp_path):
    run_dir = str(tmp_path / "run")
    env = dict(os.environ, MF_RUN_DIR=run_dir, MF_BIN_DIR=BIN_DIR)
    up = subprocess.run(["bash", STACK, "up"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, timeout=300)
    try:
        out = up.stdout.decode("utf-8", "replace")
        assert up.returncode == 0, out[-4000:]
        stack = parse_env_file(os.path.join(run_dir, "env"))
        for k in ("MF_API_URL", "MF_INGEST_URL", "MF_DEMO_TENANT", "MF_DEMO_API_KEY", "MF_PLATFORM_ADMIN_KEY",
                  "MF_PG_URL", "MF_REDIS_URL", "MF_OIDC_ISSUER", "MF_DEMO_USER", "MF_DEMO_PASSWORD"):
            assert stack.get(k), "%s missing from .run/env: %r" % (k, stack)
        demo = Api(stack["MF_API_URL"], stack["MF_DEMO_API_KEY"])
        assert demo.ok("GET", "/api/v1/datasets", 200).json()["items"]

        s = requests.Session()
        start = stack["MF_API_URL"] + "/auth/login?" + urllib.parse.urlencode(
            {"tenant": "demo", "return_to": "/api/v1/me"})
        landed = oidc.browser_login(s, start, stack["MF_DEMO_USER"], stack["MF_DEMO_PASSWORD"])
        assert landed.status_code == 200, landed.text[:500]
        me = landed.json()
        assert me["kind"] == "user" and me["role"] == "admin", me
        assert me["user"]["email"] == stack["MF_DEMO_USER"]
        assert me["tenant"]["id"] == stack["MF_DEMO_TENANT"]
    finally:
        down = subprocess.run(["bash", STACK, "down"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=120)
        assert down.returncode == 0, down.stdout.decode("utf-8", "replace")[-2000:]
