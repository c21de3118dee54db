"""The deployment's rendered manifests and Dockerfiles, read and checked.

Used two ways: ``scripts/check-deploy.sh`` runs ``python3 deploy_support.py check
OVERLAY=RENDERED.json... [--bin-dir DIR]`` (manifests rendered by ``kubectl kustomize``,
converted to JSON) and
test_deploy.py imports it to start each service with the environment the rendered dev
overlay gives it.

What ``check`` holds the manifests to, beyond the Kubernetes schemas:
  * every variable a MetaFuse container sets is a key of the configuration table
    (libshared/include/mf/config.h), every key its command requires is set, and
    credentials come from Secrets by reference, never as literal values;
  * the container listens where its ports, probes and Services say (MF_HTTP_HOST
    0.0.0.0, MF_HTTP_PORT or MF_WORKER_HTTP_PORT = the probed containerPort), readiness
    on /readyz and liveness on /healthz, and the grace period covers the preStop pause
    plus MF_SHUTDOWN_TIMEOUT;
  * non-root, read-only root file system, no capabilities, seccomp RuntimeDefault,
    requests and limits, a ServiceAccount per workload without a mounted token, images
    pinned by tag or digest (never ``latest``);
  * Services, the Ingress, autoscalers and disruption budgets point at things that exist;
  * each image's Dockerfile builds the Makefile's binary with the packages of
    scripts/deps.sh (and the dashboard with the commands of `make webui`), installs the
    runtime packages of every library the binary links, runs as a numeric non-root user,
    and exposes the port the manifests use.
"""

import base64
import glob
import json
import os
import re
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
K8S = os.path.join(REPO, "deploy", "k8s")

# What each MetaFuse command needs set: the services' main.c refuse to start without the
# database and Redis URLs, and a worker without MF_WORKER_HTTP_PORT has nothing to probe.
REQUIRED_KEYS = {
    ("mf-api", "serve"): {"MF_PG_URL"},
    ("mf-api", "migrate"): {"MF_PG_ADMIN_URL"},
    ("mf-api", "purge"): {"MF_PG_ADMIN_URL"},
    ("mf-ingest", "serve"): {"MF_PG_URL", "MF_REDIS_URL"},
    ("mf-ingest", "work"): {"MF_PG_URL", "MF_REDIS_URL", "MF_WORKER_HTTP_PORT"},
    ("mf-analytics", "run"): {"MF_PG_URL", "MF_REDIS_URL", "MF_WORKER_HTTP_PORT"},
}
# Keys that carry credentials: only ever from a Secret.
SECRET_KEYS = {"MF_PG_URL", "MF_PG_ADMIN_URL", "MF_REDIS_URL", "MF_OIDC_CLIENT_SECRET"}
# scripts/deps.sh packages that run the local stack but build nothing.
RUN_ONLY_PACKAGES = {"postgresql-15", "redis-server", "python3", "curl"}
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "CronJob")


# --------------------------------------------------------------------------
# sources of truth


def config_defaults():
    """{environment name: default} of the configuration table, from config.h."""
    with open(os.path.join(REPO, "libshared", "include", "mf", "config.h"), encoding="utf-8") as fh:
        return dict(re.findall(r'X\(\w+, "(MF_\w+)", \w+, "([^"]*)"', fh.read()))


def setting(env, name, defaults):
    """A key's value in a container_env() result, else the table's default."""
    value = env.get(name, (None,))[0]
    return defaults[name] if value is None else value


def makefile_binaries():
    """Binary names the Makefile builds ($(BUILD)/bin/NAME)."""
    with open(os.path.join(REPO, "Makefile"), encoding="utf-8") as fh:
        return set(re.findall(r":= \$\(BUILD\)/bin/([a-z][a-z-]*)", fh.read()))


def makefile_webui_commands():
    """The commands of the Makefile's dashboard recipes (`cd webui && CMD`), in order."""
    with open(os.path.join(REPO, "Makefile"), encoding="utf-8") as fh:
        return re.findall(r"^\tcd webui && (.+)$", fh.read(), re.M)


def deps_build_packages():
    """The Debian packages scripts/deps.sh installs to build (RUNTIME_PKGS less run-only ones)."""
    with open(os.path.join(REPO, "scripts", "deps.sh"), encoding="utf-8") as fh:
        m = re.search(r"^RUNTIME_PKGS=\((.*?)\)", fh.read(), re.S | re.M)
    return set(m.group(1).split()) - RUN_ONLY_PACKAGES


def render(overlay):
    """The objects of one overlay, rendered by `kubectl kustomize`."""
    import yaml  # python3-yaml (scripts/deps.sh)

    out = subprocess.run(["kubectl", "kustomize", os.path.join(K8S, "overlays", overlay)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, check=True)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


# --------------------------------------------------------------------------
# reading rendered objects


def find(docs, kind, name):
    for d in docs:
        if d["kind"] == kind and d["metadata"]["name"] == name:
            return d
    return None


def pod_spec(obj):
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def pod_labels(obj):
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["metadata"].get("labels", {})
    return obj["spec"]["template"]["metadata"].get("labels", {})


def workloads(docs):
    return [d for d in docs if d["kind"] in WORKLOAD_KINDS]


def metafuse_command(container):
    """(binary, command) of a MetaFuse container, or None for another image."""
    m = re.search(r"metafuse/(api|ingest|analytics)[:@]", container["image"])
    if not m:
        return None
    binary = "mf-" + m.group(1)
    default = "run" if binary == "mf-analytics" else "serve"
    args = container.get("args") or [default]
    return binary, args[0]


def _secret_value(docs, name, key):
    sec = find(docs, "Secret", name)
    if sec is None:
        return None  # made by the operator, not rendered
    if key in sec.get("stringData", {}):
        return sec["stringData"][key]
    if key in sec.get("data", {}):
        return base64.b64decode(sec["data"][key]).decode("utf-8")
    return None


def container_env(docs, container):
    """The environment a container gets: {name: (value or None, source)}; source is
    'literal', 'configmap' or 'secret'. A value is None when its Secret is not rendered."""
    env = {}
    for src in container.get("envFrom", []):
        if "configMapRef" in src:
            cm = find(docs, "ConfigMap", src["configMapRef"]["name"]) or {}
            for k, v in cm.get("data", {}).items():
                env[k] = (v, "configmap")
        if "secretRef" in src:
            sec = find(docs, "Secret", src["secretRef"]["name"]) or {}
            for k in list(sec.get("data", {})) + list(sec.get("stringData", {})):
                env[k] = (_secret_value(docs, src["secretRef"]["name"], k), "secret")
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = (e["value"], "literal")
        elif "configMapKeyRef" in e.get("valueFrom", {}):
            ref = e["valueFrom"]["configMapKeyRef"]
            cm = find(docs, "ConfigMap", ref["name"]) or {}
            env[e["name"]] = (cm.get("data", {}).get(ref["key"]), "configmap")
        elif "secretKeyRef" in e.get("valueFrom", {}):
            ref = e["valueFrom"]["secretKeyRef"]
            env[e["name"]] = (_secret_value(docs, ref["name"], ref["key"]), "secret")
        else:
            env[e["name"]] = (None, "field")
    return env


def listen_port(binary, command, env, defaults):
    """The port a MetaFuse process serves HTTP on, from its environment."""
    if (binary, command) in (("mf-ingest", "work"), ("mf-analytics", "run")):
        return int(setting(env, "MF_WORKER_HTTP_PORT", defaults))
    if command == "serve":
        return int(setting(env, "MF_HTTP_PORT", defaults))
    return None  # a one-shot command (migrate, purge)


def container_port(container, ref):
    """A probe's or Service's port (number or name) as a containerPort number."""
    for p in container.get("ports", []):
        if ref == p.get("name") or ref == p["containerPort"]:
            return p["containerPort"]
    return None


def prestop_sleep(container):
    cmd = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    m = re.search(r"sleep (\d+)", " ".join(cmd))
    return int(m.group(1)) if m else 0


# --------------------------------------------------------------------------
# checks


class Problems(list):
    def add(self, where, msg):
        self.append("%s: %s" % (where, msg))


def check_image(p, where, image):
    if "@sha256:" in image:
        return
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag or not tag:
        p.add(where, "image %s is not pinned by tag or digest" % image)
    elif tag == "latest":
        p.add(where, "image %s uses :latest" % image)


def check_security(p, where, spec, container):
    psc = spec.get("securityContext", {})
    csc = container.get("securityContext", {})
    if not (csc.get("runAsNonRoot", psc.get("runAsNonRoot"))):
        p.add(where, "runAsNonRoot is not set")
    seccomp = csc.get("seccompProfile", psc.get("seccompProfile", {}))
    if seccomp.get("type") != "RuntimeDefault":
        p.add(where, "seccompProfile is not RuntimeDefault")
    if csc.get("readOnlyRootFilesystem") is not True:
        p.add(where, "readOnlyRootFilesystem is not true")
    if csc.get("allowPrivilegeEscalation") is not False:
        p.add(where, "allowPrivilegeEscalation is not false")
    if "ALL" not in csc.get("capabilities", {}).get("drop", []):
        p.add(where, "capabilities are not all dropped")
    res = container.get("resources", {})
    for part in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if r not in res.get(part, {}):
                p.add(where, "no %s %s" % (r, part))


def check_service_account(p, where, docs, spec):
    sa_name = spec.get("serviceAccountName")
    sa = find(docs, "ServiceAccount", sa_name) if sa_name else None
    if sa is None:
        p.add(where, "no ServiceAccount of its own (serviceAccountName %r)" % sa_name)
    elif spec.get("automountServiceAccountToken", sa.get("automountServiceAccountToken")) is not False:
        p.add(where, "automountServiceAccountToken is not false")


def check_metafuse_container(p, where, docs, spec, container, defaults):
    binary, command = metafuse_command(container)
    required = REQUIRED_KEYS.get((binary, command))
    if required is None:
        p.add(where, "%s has no command %r" % (binary, command))
        return
    env = container_env(docs, container)
    for name, (value, source) in sorted(env.items()):
        if name not in defaults:
            p.add(where, "%s is not a key of the configuration table" % name)
        if name in SECRET_KEYS and source != "secret":
            p.add(where, "%s comes from a %s, not a Secret" % (name, source))
    for name in sorted(required - set(env)):
        p.add(where, "%s %s needs %s, which is not set" % (binary, command, name))
    port = listen_port(binary, command, env, defaults)
    if port is None:
        return
    if setting(env, "MF_HTTP_HOST", defaults) != "0.0.0.0":
        p.add(where, "MF_HTTP_HOST must be 0.0.0.0 for probes and Services to reach it")
    if port not in [cp["containerPort"] for cp in container.get("ports", [])]:
        p.add(where, "%s %s listens on %d, which is not a containerPort" % (binary, command, port))
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = container.get(probe, {}).get("httpGet")
        if get is None:
            p.add(where, "no %s httpGet" % probe)
            continue
        if get.get("path") != path:
            p.add(where, "%s path %r, the service answers %s" % (probe, get.get("path"), path))
        if container_port(container, get.get("port")) != port:
            p.add(where, "%s port %r is not the listening port %d" % (probe, get.get("port"), port))
    shutdown = int(setting(env, "MF_SHUTDOWN_TIMEOUT", defaults))
    grace = spec.get("terminationGracePeriodSeconds", 30)
    if grace <= prestop_sleep(container) + shutdown:
        p.add(where, "terminationGracePeriodSeconds %d does not cover preStop %ds + MF_SHUTDOWN_TIMEOUT %ds"
              % (grace, prestop_sleep(container), shutdown))


def check_workloads(p, docs, defaults):
    for obj in workloads(docs):
        spec = pod_spec(obj)
        check_service_account(p, "%s/%s" % (obj["kind"], obj["metadata"]["name"]), docs, spec)
        for c in spec.get("initContainers", []) + spec["containers"]:
            where = "%s/%s container %s" % (obj["kind"], obj["metadata"]["name"], c["name"])
            check_image(p, where, c["image"])
            check_security(p, where, spec, c)
            if metafuse_command(c):
                check_metafuse_container(p, where, docs, spec, c, defaults)


def selected(docs, selector):
    """Workloads whose pod labels match a label selector (matchLabels or plain map)."""
    want = selector.get("matchLabels", selector) if isinstance(selector, dict) else {}
    return [w for w in workloads(docs) if want and all(pod_labels(w).get(k) == v for k, v in want.items())]


def check_references(p, docs):
    for svc in [d for d in docs if d["kind"] == "Service"]:
        where = "Service/%s" % svc["metadata"]["name"]
        pods = selected(docs, svc["spec"].get("selector", {}))
        if not pods:
            p.add(where, "selects no workload")
        for sp in svc["spec"]["ports"]:
            target = sp.get("targetPort", sp["port"])
            for w in pods:
                if not any(container_port(c, target) for c in pod_spec(w)["containers"]):
                    p.add(where, "targetPort %r is no port of %s" % (target, w["metadata"]["name"]))
    for ing in [d for d in docs if d["kind"] == "Ingress"]:
        if not ing["spec"].get("tls"):
            p.add("Ingress/%s" % ing["metadata"]["name"], "no TLS")
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                svc_ref = path["backend"]["service"]
                svc = find(docs, "Service", svc_ref["name"])
                names = [sp.get("name") for sp in svc["spec"]["ports"]] if svc else []
                if svc is None or svc_ref["port"].get("name") not in names:
                    p.add("Ingress/%s" % ing["metadata"]["name"], "backend %s is not a Service port" % svc_ref)
    for hpa in [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]:
        ref = hpa["spec"]["scaleTargetRef"]
        if find(docs, ref["kind"], ref["name"]) is None:
            p.add("HorizontalPodAutoscaler/%s" % hpa["metadata"]["name"], "target %s does not exist" % ref)
    for pdb in [d for d in docs if d["kind"] == "PodDisruptionBudget"]:
        if not selected(docs, pdb["spec"]["selector"]):
            p.add("PodDisruptionBudget/%s" % pdb["metadata"]["name"], "selects no workload")


def check_manifests(docs, defaults=None):
    """Every problem of one rendered overlay, as 'where: what' lines."""
    p = Problems()
    check_workloads(p, docs, defaults or config_defaults())
    check_references(p, docs)
    return p


# --------------------------------------------------------------------------
# Dockerfiles


def dockerfile_stages(path):
    """[(stage name or None, [instruction lines joined over continuations])]."""
    stages = []
    with open(path, encoding="utf-8") as fh:
        text = re.sub(r"\\\n", " ", fh.read())
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            m = re.search(r"\sAS\s+(\S+)", line, re.I)
            stages.append((m.group(1) if m else None, [line]))
        elif stages:
            stages[-1][1].append(line)
    return stages


def apt_packages(instruction):
    """Packages named by the apt-get install commands of one RUN instruction."""
    pkgs = set()
    for part in instruction.split("&&"):
        m = re.search(r"apt-get install(.*)", part)
        if m:
            pkgs |= {w for w in m.group(1).split() if not w.startswith("-")}
    return pkgs


def linked_packages(binary_path):
    """Debian packages of the shared libraries a binary links directly (NEEDED)."""
    out = subprocess.run(["objdump", "-p", binary_path], stdout=subprocess.PIPE, check=True,
                         universal_newlines=True).stdout
    needed = re.findall(r"NEEDED\s+(\S+)", out)
    ldd = subprocess.run(["ldd", binary_path], stdout=subprocess.PIPE, check=True,
                         universal_newlines=True).stdout
    paths = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
    # The C runtime is in every image; sanitizer runtimes only in SANITIZE builds.
    skip = ("libc.so", "libm.so", "libpthread", "libdl.so", "libgcc_s", "libasan", "libubsan", "liblsan")
    libs = [os.path.realpath(paths[lib]) for lib in needed if not lib.startswith(skip)]
    owners = subprocess.run(["dpkg", "-S"] + libs, stdout=subprocess.PIPE, check=True,
                            universal_newlines=True).stdout
    return {line.split(":")[0] for line in owners.splitlines()}


def check_dockerfile(path, bin_dir=None, manifest_ports=None):
    p = Problems()
    where = os.path.relpath(path, REPO)
    stages = dockerfile_stages(path)
    final = stages[-1][1]
    for _, lines in stages:
        base = lines[0].split()[1]
        if base.endswith(":latest"):
            p.add(where, "FROM %s uses :latest" % base)
        for line in lines:
            if "apt-get install" in line and ("--no-install-recommends" not in line
                                              or "rm -rf /var/lib/apt/lists" not in line):
                p.add(where, "apt-get install without --no-install-recommends and list cleanup")
            if re.match(r"(ENV|ARG)\s+\S*(PASSWORD|SECRET|TOKEN|_KEY)\b", line, re.I):
                p.add(where, "a secret in the image: %s" % line)
            if line.startswith("COPY ") and "--from=" not in line:
                for src in [w for w in line.split()[1:-1] if not w.startswith("--")]:
                    if not os.path.exists(os.path.join(REPO, src)):
                        p.add(where, "COPY %s: no such path in the checkout" % src)
    user = [l.split()[1] for l in final if l.startswith("USER ")]
    if not user or not re.match(r"^[1-9]\d*(:\d+)?$", user[-1]):
        p.add(where, "the final stage does not run as a numeric non-root USER")
    for instr in ("HEALTHCHECK", "LABEL", "ENTRYPOINT", "EXPOSE"):
        if not any(l.startswith(instr + " ") for l in final):
            p.add(where, "no %s in the final stage" % instr)
    webui = [l for n, l in stages[:-1] if n == "webui"]
    if webui:
        runs = [l[len("RUN "):] for l in webui[0] if l.startswith("RUN ")]
        if runs != makefile_webui_commands():
            p.add(where, "the webui stage runs %s, the Makefile's `make webui` %s" % (runs, makefile_webui_commands()))
        if not any(l.startswith("COPY --from=webui /src/webui/dist/ ") for l in final):
            p.add(where, "the final stage does not copy the built dashboard (webui/dist)")
    builds = [(n, l) for n, l in stages[:-1] if n == "build"]
    if not builds:
        return p  # an image without a C build (pgbouncer)
    build = builds[0][1]
    make = [l for l in build if l.startswith("RUN ") and " make " in l]
    targets = re.findall(r"build/bin/(mf-[a-z-]+)", " ".join(make))
    binaries = makefile_binaries()
    if len(targets) != 1 or targets[0] not in binaries:
        p.add(where, "the build stage makes %s, not one of the Makefile's %s" % (targets, sorted(binaries)))
        return p
    binary = targets[0]
    build_pkgs = set().union(*[apt_packages(l) for l in build])
    if build_pkgs != deps_build_packages():
        p.add(where, "build packages %s differ from scripts/deps.sh %s"
              % (sorted(build_pkgs), sorted(deps_build_packages())))
    if not any(re.match(r"COPY --from=build /src/build/bin/%s /usr/local/bin/%s$" % (binary, binary), l)
               for l in final):
        p.add(where, "the final stage does not copy %s from the build stage" % binary)
    if not any(l.startswith("ENTRYPOINT") and "/usr/local/bin/%s" % binary in l for l in final):
        p.add(where, "ENTRYPOINT is not /usr/local/bin/%s" % binary)
    runtime_pkgs = set().union(*[apt_packages(l) for l in final])
    built = os.path.join(bin_dir or "", binary)
    if bin_dir and os.access(built, os.X_OK):
        missing = linked_packages(built) - runtime_pkgs
        if missing:
            p.add(where, "runtime packages lack %s (libraries %s links)" % (sorted(missing), binary))
    exposed = {int(x) for l in final if l.startswith("EXPOSE ") for x in l.split()[1:]}
    for port in (manifest_ports or {}).get(binary, set()) - exposed:
        p.add(where, "the manifests use port %d, the image EXPOSEs %s" % (port, sorted(exposed)))
    return p


def manifest_ports(docs, defaults):
    """{binary: set of listening ports} of the MetaFuse containers of rendered objects."""
    ports = {}
    for w in workloads(docs):
        for c in pod_spec(w)["containers"]:
            mc = metafuse_command(c)
            if mc:
                port = listen_port(mc[0], mc[1], container_env(docs, c), defaults)
                if port:
                    ports.setdefault(mc[0], set()).add(port)
    return ports


def check_all(rendered, bin_dir=None):
    """rendered: {overlay: docs}. Returns the problems of every overlay and Dockerfile."""
    problems = []
    defaults = config_defaults()
    ports = {}
    for overlay, docs in sorted(rendered.items()):
        problems += ["overlays/%s %s" % (overlay, x) for x in check_manifests(docs, defaults)]
        for binary, found in manifest_ports(docs, defaults).items():
            ports.setdefault(binary, set()).update(found)
    dockerfiles = sorted(glob.glob(os.path.join(REPO, "docker", "*.Dockerfile")))
    for path in dockerfiles:
        problems += check_dockerfile(path, bin_dir, ports)
    images = {re.search(r"metafuse/([a-z]+)", c["image"]).group(1)
              for docs in rendered.values() for w in workloads(docs)
              for c in pod_spec(w)["containers"] if "metafuse/" in c["image"]}
    for image in sorted(images):
        if not os.path.exists(os.path.join(REPO, "docker", image + ".Dockerfile")):
            problems.append("image metafuse/%s has no docker/%s.Dockerfile" % (image, image))
    return problems


def main(argv):
    if len(argv) < 2 or argv[0] != "check":
        sys.stderr.write("usage: deploy_support.py check OVERLAY=RENDERED.json... [--bin-dir DIR]\n")
        return 2
    bin_dir = None
    rendered = {}
    args = argv[1:]
    while args:
        a = args.pop(0)
        if a == "--bin-dir":
            bin_dir = args.pop(0)
            continue
        overlay, path = a.split("=", 1)
        with open(path, encoding="utf-8") as fh:
            rendered[overlay] = json.load(fh)
    problems = check_all(rendered, bin_dir)
    for line in problems:
        print("check-deploy: " + line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
