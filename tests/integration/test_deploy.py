"""Deployment and documentation, against the real services.

  * The rendered overlays pass the manifest and Dockerfile checks of deploy_support and
    scripts/check-deploy.sh (schemas, unknown fields, lint), and those checks do fail on
    the mistakes they are for.
  * Each service starts with exactly the environment the rendered dev overlay gives its
    container (ConfigMap and Secret values resolved), with only the addresses made local:
    the in-cluster Postgres and Redis become the test's, the pod's 0.0.0.0 and ports become
    loopback and free ports, and the image's paths become the checkout's. The migrate Job
    runs first; each service must then answer its readiness and liveness probes and stop
    with status 0 on SIGTERM, and the purge CronJob's command must succeed.
  * docs/getting-started.md: the commands marked ``<!-- getting-started: run -->`` run in
    bash against a real stack (scripts/stack.sh up, what `make up` runs after building).
  * docs/pipelines.md: the OpenLineage sample is accepted by mf-ingest and applied.
  * docs: relative links resolve and their anchors exist; the API reference builds.
"""

import copy
import json
import os
import re
import shutil
import subprocess
import urllib.parse

import pytest
import requests

import deploy_support as ds
from conftest import MF_ANALYTICS, MF_API, MF_INGEST, REPO, SANITIZER_PATTERNS, Server, free_port

BINARIES = {"mf-api": MF_API, "mf-ingest": MF_INGEST, "mf-analytics": MF_ANALYTICS}
DOCS = os.path.join(REPO, "docs")
# Paths inside the images (docker/api.Dockerfile) and where the checkout has them.
IMAGE_MIGRATIONS = "/usr/share/metafuse/migrations"
IMAGE_WEBUI = "/usr/share/metafuse/webui"


@pytest.fixture(scope="module")
def dev_docs():
    return ds.render("dev")


@pytest.fixture(scope="module")
def prod_docs():
    return ds.render("prod")


# --------------------------------------------------------------------------
# manifests


def test_overlays_pass_the_deploy_checks(dev_docs, prod_docs):
    problems = ds.check_all({"dev": dev_docs, "prod": prod_docs}, os.path.dirname(MF_API))
    assert problems == [], "\n".join(problems)
    kinds = {(d["kind"], d["metadata"]["name"]) for d in prod_docs}
    for want in [("Deployment", "api"), ("Deployment", "ingest"), ("Deployment", "ingest-worker"),
                 ("Deployment", "analytics"), ("Job", "migrate"), ("CronJob", "purge"),
                 ("HorizontalPodAutoscaler", "api"), ("HorizontalPodAutoscaler", "ingest"),
                 ("Ingress", "metafuse"), ("NetworkPolicy", "default-deny"), ("Deployment", "pgbouncer")]:
        assert want in kinds, want
    assert ("StatefulSet", "postgres") in {(d["kind"], d["metadata"]["name"]) for d in dev_docs}
    # prod Secrets are the operator's: none is rendered.
    assert not [d for d in prod_docs if d["kind"] == "Secret"]


def _container(docs, kind, name):
    return ds.pod_spec(ds.find(docs, kind, name))["containers"][0]


def _problems_after(docs, mutate):
    broken = copy.deepcopy(docs)
    mutate(broken)
    return "\n".join(ds.check_manifests(broken))


def test_checks_catch_mistakes(dev_docs):
    assert ds.check_manifests(dev_docs) == []

    def unknown_key(d):
        _container(d, "Deployment", "api")["env"].append({"name": "MF_HTTP_PROT", "value": "1"})
    assert "MF_HTTP_PROT is not a key of the configuration table" in _problems_after(dev_docs, unknown_key)

    def no_redis(d):
        c = _container(d, "Deployment", "ingest-worker")
        c["env"] = [e for e in c["env"] if e["name"] != "MF_REDIS_URL"]
    assert "mf-ingest work needs MF_REDIS_URL" in _problems_after(dev_docs, no_redis)

    def probe_path(d):
        _container(d, "Deployment", "analytics")["readinessProbe"]["httpGet"]["path"] = "/ready"
    assert "readinessProbe path '/ready'" in _problems_after(dev_docs, probe_path)

    def wrong_port(d):
        c = _container(d, "Deployment", "api")
        c["env"] = [e if e["name"] != "MF_HTTP_PORT" else {"name": "MF_HTTP_PORT", "value": "8081"}
                    for e in c["env"]]
    assert "listens on 8081, which is not a containerPort" in _problems_after(dev_docs, wrong_port)

    def literal_secret(d):
        c = _container(d, "Deployment", "api")
        c["env"] = [e if e["name"] != "MF_PG_URL" else {"name": "MF_PG_URL", "value": "postgresql://x"}
                    for e in c["env"]]
    assert "MF_PG_URL comes from a literal, not a Secret" in _problems_after(dev_docs, literal_secret)

    def latest(d):
        _container(d, "Deployment", "ingest")["image"] = "registry.example.com/metafuse/ingest:latest"
    assert "uses :latest" in _problems_after(dev_docs, latest)

    def short_grace(d):
        ds.pod_spec(ds.find(d, "Deployment", "api"))["terminationGracePeriodSeconds"] = 20
    assert "does not cover preStop 5s + MF_SHUTDOWN_TIMEOUT 20s" in _problems_after(dev_docs, short_grace)

    def root(d):
        _container(d, "Deployment", "api")["securityContext"]["readOnlyRootFilesystem"] = False
        ds.pod_spec(ds.find(d, "Deployment", "api"))["securityContext"]["runAsNonRoot"] = False
    text = _problems_after(dev_docs, root)
    assert "readOnlyRootFilesystem is not true" in text and "runAsNonRoot is not set" in text

    def bad_target(d):
        ds.find(d, "Service", "ingest")["spec"]["ports"][0]["targetPort"] = "web"
    assert "targetPort 'web' is no port of ingest" in _problems_after(dev_docs, bad_target)


def _check_deploy(*overlay_dirs):
    proc = subprocess.run(["bash", os.path.join(REPO, "scripts", "check-deploy.sh")] + list(overlay_dirs),
                          cwd=REPO, env=dict(os.environ, MF_BIN_DIR=os.path.dirname(MF_API)),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


def test_check_deploy_script_validates_schemas(tmp_path):
    rc, out = _check_deploy()
    assert rc == 0, out
    assert "0 invalid" in out and "Dockerfiles lint clean" in out, out
    # A copy of the manifests with a misspelt field, a wrong type and a bad quantity.
    k8s = tmp_path / "k8s"
    shutil.copytree(ds.K8S, str(k8s))
    api = k8s / "base" / "api.yaml"
    text = api.read_text()
    for old, new in (("          readinessProbe:", "          readinesProbe:"),
                     ("  revisionHistoryLimit: 5\n", "  revisionHistoryLimit: five\n"),
                     ('limits: {cpu: "2", memory: 1Gi}', 'limits: {cpu: "2", memory: 1Gx}')):
        assert old in text, old
        text = text.replace(old, new, 1)
    api.write_text(text)
    rc, out = _check_deploy(str(k8s / "overlays" / "dev"))
    assert rc != 0, out
    assert "Deployment/api: unknown fields: spec.template.spec.containers[0].readinesProbe" in out, out
    assert "data/spec/revisionHistoryLimit must be integer" in out, out
    assert 'limits/memory must match format "quantity"' in out, out


def test_dockerfile_checks_catch_mistakes(tmp_path):
    src = os.path.join(REPO, "docker", "ingest.Dockerfile")
    assert ds.check_dockerfile(src, os.path.dirname(MF_API), {"mf-ingest": {8080, 9090}}) == []
    text = open(src, encoding="utf-8").read()
    cases = {
        " libpq-dev ": (" libpq-dev libfoo-dev ", "differ from scripts/deps.sh"),
        " libpq5 ": (" ", "runtime packages lack ['libpq5']"),
        "USER 10001:10001": ("USER root", "numeric non-root USER"),
        "build/bin/mf-ingest\n": ("build/bin/mf-ingestd\n", "not one of the Makefile's"),
        "EXPOSE 8080 9090": ("EXPOSE 8080", "the manifests use port 9090"),
        "COPY services/ services/": ("COPY service/ services/", "COPY service/: no such path"),
    }
    for old, (new, want) in cases.items():
        assert old in text, old
        bad = tmp_path / "bad.Dockerfile"
        bad.write_text(text.replace(old, new, 1))
        found = "\n".join(ds.check_dockerfile(str(bad), os.path.dirname(MF_API), {"mf-ingest": {8080, 9090}}))
        assert want in found, (old, found)
    # The dashboard stage builds as `make webui` does.
    api = open(os.path.join(REPO, "docker", "api.Dockerfile"), encoding="utf-8").read()
    assert "RUN npm run build\n" in api
    bad = tmp_path / "api.Dockerfile"
    bad.write_text(api.replace("RUN npm run build\n", "RUN npx vite build\n"))
    assert "the webui stage runs" in "\n".join(ds.check_dockerfile(str(bad)))


# --------------------------------------------------------------------------
# the services under the dev overlay's environment


def _local_env(docs, container, infra_env, webui_dir):
    """The container's environment from the rendered objects, addresses made local."""
    pg = "127.0.0.1:%s" % infra_env["MF_PG_PORT"]
    redis = "127.0.0.1:%s" % infra_env["MF_REDIS_PORT"]
    env = {}
    for name, (value, _) in ds.container_env(docs, container).items():
        assert value is not None, "%s has no value in the rendered dev overlay" % name
        value = value.replace("@postgres:5432/", "@%s/" % pg).replace("redis://redis:6379", "redis://" + redis)
        env[name] = value
    substitutions = {"MF_HTTP_HOST": "127.0.0.1", "MF_MIGRATIONS_DIR": os.path.join(REPO, "migrations"),
                     "MF_WEBUI_DIR": webui_dir}
    for name, value in substitutions.items():
        if name in env:
            assert env[name] in ("0.0.0.0", IMAGE_MIGRATIONS, IMAGE_WEBUI), (name, env[name])
            env[name] = value
    for name in ("MF_PG_URL", "MF_PG_ADMIN_URL", "MF_REDIS_URL"):
        if name in env:
            assert pg in env[name] or redis in env[name], "%s=%s was not made local" % (name, env[name])
    return env


def _exact(env):
    """Nothing of the test's own environment but PATH and the sanitizer options."""
    keep = {k: v for k, v in os.environ.items()
            if k == "PATH" or k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")}
    keep.update(env)
    return keep


@pytest.fixture
def webui_dir(tmp_path):
    """What the api image holds at /usr/share/metafuse/webui: the built dashboard, or a
    stand-in page when webui/dist has not been built in this checkout."""
    dist = os.path.join(REPO, "webui", "dist")
    if os.path.exists(os.path.join(dist, "index.html")):
        return dist
    d = tmp_path / "webui"
    d.mkdir()
    (d / "index.html").write_text("<!doctype html><title>MetaFuse</title>")
    return str(d)


def _run_job(docs, kind, name, infra_env, webui_dir):
    """Runs a Job's or CronJob's mf-api command with its environment; returns its stdout."""
    container = _container(docs, kind, name)
    assert ds.metafuse_command(container)[0] == "mf-api", container["image"]
    proc = subprocess.run([MF_API] + container["args"], cwd=REPO,
                          env=_exact(_local_env(docs, container, infra_env, webui_dir)),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, "%s/%s exited %d:\n%s" % (kind, name, proc.returncode, err)
    for pat in SANITIZER_PATTERNS:
        assert pat not in err, err
    return proc.stdout.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def dev_migrated(dev_docs, infra):
    """The migrate Job's command, run with its environment before any service starts."""
    _run_job(dev_docs, "Job", "migrate", infra, None)
    return infra


def test_purge_cronjob_runs_with_the_dev_overlay_environment(dev_docs, dev_migrated):
    report = json.loads(_run_job(dev_docs, "CronJob", "purge", dev_migrated, None))
    assert report.get("failed") == [], report


@pytest.mark.parametrize("workload", ["api", "ingest", "ingest-worker", "analytics"])
def test_service_ready_with_the_dev_overlay_environment(dev_docs, dev_migrated, tmp_root, webui_dir,
                                                         workload):
    infra = dev_migrated
    container = _container(dev_docs, "Deployment", workload)
    binary, command = ds.metafuse_command(container)
    env = _local_env(dev_docs, container, infra, webui_dir)
    port_key = "MF_HTTP_PORT" if command == "serve" else "MF_WORKER_HTTP_PORT"
    declared = ds.listen_port(binary, command, ds.container_env(dev_docs, container), ds.config_defaults())
    port = free_port()
    env[port_key] = str(port)
    srv = Server(infra, tmp_root, "deploy-" + workload, binary=BINARIES[binary],
                 command=container["args"], port=port)
    srv.env = _exact(env)
    ready = container["readinessProbe"]["httpGet"]
    live = container["livenessProbe"]["httpGet"]
    assert ds.container_port(container, ready["port"]) == declared
    srv.start(ready_path=ready["path"])
    try:
        r = requests.get(srv.base + live["path"], timeout=5)
        assert r.status_code == 200, r.text
        assert requests.get(srv.base + "/metrics", timeout=5).status_code == 200
    finally:
        srv.stop_and_check()


# --------------------------------------------------------------------------
# documentation


def _marked_blocks(path, mark):
    """Fenced code blocks right after an HTML comment `<!-- MARK -->`."""
    text = open(path, encoding="utf-8").read()
    return re.findall(r"<!-- %s -->\s*\n```[a-z]*\n(.*?)\n```" % re.escape(mark), text, re.S)


def test_getting_started_commands_run(tmp_path):
    guide = os.path.join(DOCS, "getting-started.md")
    stack_blocks = _marked_blocks(guide, "getting-started: stack")
    # `make up` is deps.sh + make all + stack.sh up; the test has its binaries built.
    assert [b.strip() for b in stack_blocks] == ["make up"], stack_blocks
    blocks = _marked_blocks(guide, "getting-started: run")
    assert len(blocks) >= 3, blocks
    run_dir = str(tmp_path / "run")
    env = dict(os.environ, MF_RUN_DIR=run_dir, MF_BIN_DIR=os.path.dirname(MF_API))
    stack = os.path.join(REPO, "scripts", "stack.sh")
    up = subprocess.run(["bash", stack, "up"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, timeout=240)
    try:
        assert up.returncode == 0, up.stdout.decode("utf-8", "replace")
        work = tmp_path / "checkout"
        work.mkdir()
        os.symlink(run_dir, str(work / ".run"))  # the guide reads .run/env
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(blocks)], cwd=str(work),
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180)
        text = out.stdout.decode("utf-8", "replace")
        assert out.returncode == 0, text
        # The last command prints the lineage graph of the emitted dataset.
        graph = json.loads(text.strip().splitlines()[-1])
        ids = {n["id"] for n in graph["nodes"]}
        assert "dataset:warehouse:orders_clean" in ids and "dataset:warehouse:orders_raw" in ids, graph
    finally:
        subprocess.run(["bash", stack, "down"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)


def test_integration_openlineage_sample_is_applied(tenant, ingest, ingest_worker):
    samples = _marked_blocks(os.path.join(DOCS, "pipelines.md"), "sample: openlineage")
    assert len(samples) == 1, samples
    event = json.loads(samples[0])
    client = tenant.ingest(ingest)
    doc = client.wait_applied(client.lineage(event))
    names = {d["name"] for d in doc["changes"]["datasets"]}
    assert {o["name"] for o in event["outputs"]} <= names, doc


def _slug(heading):
    """GitHub's anchor of a heading."""
    text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path):
    text = re.sub(r"```.*?```", "", open(path, encoding="utf-8").read(), flags=re.S)
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def test_docs_links_resolve():
    files = [os.path.join(REPO, "README.md")] + sorted(
        os.path.join(DOCS, f) for f in os.listdir(DOCS) if f.endswith(".md"))
    broken = []
    for path in files:
        text = re.sub(r"```.*?```", "", open(path, encoding="utf-8").read(), flags=re.S)
        text = re.sub(r"`[^`\n]*`", "", text)  # code spans hold no links
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+:", target):
                continue
            file_part, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), urllib.parse.unquote(file_part))) \
                if file_part else path
            if not os.path.exists(dest):
                broken.append("%s: %s (no such file)" % (os.path.relpath(path, REPO), target))
            elif anchor and dest.endswith(".md") and anchor not in _anchors(dest):
                broken.append("%s: %s (no such heading)" % (os.path.relpath(path, REPO), target))
    assert broken == [], "\n".join(broken)


def test_api_reference_builds(tmp_path):
    redocly = os.path.join(REPO, "node_modules", ".bin", "redocly")
    assert os.access(redocly, os.X_OK), "npm ci first (scripts/deps.sh)"
    out = tmp_path / "api-reference.html"
    proc = subprocess.run([redocly, "build-docs", "docs/openapi.yaml", "--output", str(out)], cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180)
    assert proc.returncode == 0, proc.stdout.decode("utf-8", "replace")
    html = out.read_text()
    for path in ("/api/v1/datasets", "/api/v1/emit", "/api/v1/lineage/graph"):
        assert path in html, path
