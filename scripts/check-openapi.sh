#!/usr/bin/env bash
# Checks docs/openapi.yaml against itself and against the code:
#   1. `redocly lint` (recommended ruleset, see redocly.yaml and
#      .redocly.lint-ignore.yaml) reports no error and no warning;
#   2. its operations are exactly the routes the services register: the
#      union of the lines of `mf-api routes` and `mf-ingest routes`
#      (`METHOD /path/{param} role`, role being the route's minimum role; a
#      route both print, like GET /healthz, counts once) must each be an
#      operation in the file, and every operation in the file a registered
#      route;
#   3. with the binaries (not a route file), each operation's `x-service`
#      names the service(s) registering it: `mf-api`, `mf-ingest`, or a list
#      of both;
#   4. where the routes carry their role, an operation declares
#      `security: []` exactly when its route is public.
# Prints the differences and exits 1 on any failure.
#
# Usage: scripts/check-openapi.sh [ROUTES_FILE]
#   ROUTES_FILE    read the route list from this file instead of running the
#                  services (same format, the role column optional, every
#                  service's routes in one file; also MF_ROUTES_FILE). For
#                  tests; skips check 3.
#   MF_BIN_DIR     where mf-api and mf-ingest are (default build/bin in the
#                  repo). Both are required.
# Needs: node_modules from `npm ci`, /usr/bin/python3 with python3-yaml.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SPEC=docs/openapi.yaml
# The services whose routes the file documents; each prints them with
# `<service> routes`.
SERVICES=(mf-api mf-ingest)
# Debian's python3, not whatever python3 is first on PATH: python3-yaml is a
# Debian package.
PY=/usr/bin/python3

die() { echo "check-openapi: $*" >&2; exit 1; }

routes_file="${1:-${MF_ROUTES_FILE:-}}"
[[ -z "$routes_file" || -r "$routes_file" ]] || die "cannot read route list $routes_file"
[[ -x "$ROOT/node_modules/.bin/redocly" ]] || die "redocly is not installed: run 'npm ci' in the repo root"
"$PY" -c 'import yaml' 2>/dev/null || die "$PY cannot import yaml: apt-get install python3-yaml (or run scripts/deps.sh)"

# Without a route file, every service binary is needed: the file documents
# the routes of all of them, so a missing one could only fail the comparison.
bin_dir="${MF_BIN_DIR:-$ROOT/build/bin}"
if [[ -z "$routes_file" ]]; then
  missing=()
  for svc in "${SERVICES[@]}"; do
    [[ -x "$bin_dir/$svc" ]] || missing+=("$svc")
  done
  if ((${#missing[@]} > 0)); then
    names="${missing[*]}" all="${SERVICES[*]}"
    die "${names// / and } not found in $bin_dir: $SPEC documents the routes of ${all// / and }, so each binary is needed; build them with 'make' in the repo root (or set MF_BIN_DIR to the directory holding them)"
  fi
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# 1. Lint. Run from the repo root so redocly.yaml and .redocly.lint-ignore.yaml
#    apply. redocly exits non-zero on errors only, so read the totals of its
#    JSON report to fail on warnings too; on any problem, lint again in the
#    readable format to show them.
redocly_lint() {
  (cd "$ROOT" && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_NOTIFICATIONS=true \
    npx --no-install redocly lint "$@" "$SPEC")
}
echo "== redocly lint $SPEC"
redocly_lint --format=json >"$tmp/lint.json" 2>"$tmp/lint.err" || true
if ! totals="$("$PY" - "$tmp/lint.json" <<'EOF'
import json, sys
try:
    with open(sys.argv[1], encoding="utf-8") as f:
        t = json.load(f)["totals"]
    print(t["errors"], t["warnings"], t["ignored"])
except (OSError, ValueError, KeyError, TypeError):
    sys.exit(1)
EOF
)"; then
  cat "$tmp/lint.err" >&2
  die "redocly lint did not run or gave no report for $SPEC"
fi
read -r lint_errors lint_warnings lint_ignored <<<"$totals"
if [[ "$lint_errors" != 0 || "$lint_warnings" != 0 ]]; then
  redocly_lint --format=stylish || true
  die "redocly lint found $lint_errors error(s) and $lint_warnings warning(s) in $SPEC"
fi
echo "ok: no errors, no warnings ($lint_ignored explicitly ignored in .redocly.lint-ignore.yaml)"

# 2. The registered routes, from the file given or from every service.
route_args=()
if [[ -n "$routes_file" ]]; then
  route_args=("=$routes_file")
  source_desc="$routes_file"
else
  for svc in "${SERVICES[@]}"; do
    "$bin_dir/$svc" routes >"$tmp/$svc.routes" || die "'$bin_dir/$svc routes' failed"
    [[ -s "$tmp/$svc.routes" ]] || die "'$bin_dir/$svc routes' printed no route"
    route_args+=("$svc=$tmp/$svc.routes")
  done
  all="${SERVICES[*]}"
  source_desc="${all// / and }"
fi

echo "== routes of $source_desc vs operations of $SPEC"
"$PY" - "$ROOT/$SPEC" "${route_args[@]}" <<'EOF'
import sys
import yaml

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# The minimum roles `<service> routes` prints in its third column.
ROLES = ("public", "viewer", "editor", "admin", "platform_admin", "billing_admin")
spec_path, sources = sys.argv[1], sys.argv[2:]

with open(spec_path, encoding="utf-8") as f:
    spec = yaml.safe_load(f)
# "METHOD /path" -> the operation's x-service, as a set of service names
documented = {}
for path, item in (spec.get("paths") or {}).items():
    for method, op in item.items():
        if method not in METHODS:
            continue
        svc = (op or {}).get("x-service")
        documented[f"{method.upper()} {path}"] = (
            {svc} if isinstance(svc, str) else set(svc) if isinstance(svc, list) else set()
        )

# "METHOD /path" -> the operation's x-required-role
required_role = {}
for path, item in (spec.get("paths") or {}).items():
    for method, op in item.items():
        if method in METHODS:
            required_role[f"{method.upper()} {path}"] = (op or {}).get("x-required-role")

# "METHOD /path" -> the operation declares no security (`security: []`)
unauthenticated = {}
for path, item in (spec.get("paths") or {}).items():
    for method, op in item.items():
        if method in METHODS:
            unauthenticated[f"{method.upper()} {path}"] = (op or {}).get("security", spec.get("security")) == []

# "METHOD /path" -> the services registering it ("" for a route file), and its minimum role
registered = {}
roles = {}
for source in sources:
    service, _, routes_path = source.partition("=")
    with open(routes_path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            if len(words) not in (2, 3) or not words[1].startswith("/") or (len(words) == 3 and words[2] not in ROLES):
                sys.exit(f"check-openapi: {routes_path}:{lineno}: not 'METHOD /path [role]' "
                         f"(role: {', '.join(ROLES)}): {line.rstrip()}")
            registered.setdefault(f"{words[0].upper()} {words[1]}", set()).add(service)
            if len(words) == 3:
                roles[f"{words[0].upper()} {words[1]}"] = words[2]

def by(route):
    services = sorted(s for s in registered[route] if s)
    return " and ".join(services) if services else "the route list"

service_names = sorted({s.partition("=")[0] for s in sources} - {""})
everyone = " or ".join(service_names) if service_names else "the route list"
missing = sorted(set(registered) - set(documented))
extra = sorted(set(documented) - set(registered))
for route in missing:
    print(f"registered by {by(route)} but not in the OpenAPI file: {route}")
for route in extra:
    print(f"in the OpenAPI file but not registered by {everyone}: {route}")

# 3. x-service, when the routes came from the services themselves.
wrong = []
if all(s.partition("=")[0] for s in sources):
    for route in sorted(set(registered) & set(documented)):
        want = registered[route]
        if documented[route] != want:
            def spell(services):
                services = sorted(services)
                return services[0] if len(services) == 1 else "[" + ", ".join(services) + "]"
            have = spell(documented[route]) if documented[route] else "missing"
            wrong.append(route)
            print(f"x-service of {route} is {have}, but it is served by {by(route)}: "
                  f"set `x-service: {spell(want)}`")

# 4. A public route (no credentials) is exactly an operation with `security: []`.
insecure = []
for route in sorted(set(roles) & set(documented)):
    public = roles[route] == "public"
    if public != unauthenticated[route]:
        insecure.append(route)
        print(f"{route} needs the {roles[route]} role, but its operation "
              + ("declares `security: []`" if unauthenticated[route] else "lacks `security: []`"))

# 5. x-required-role is the role the route table demands.
misroled = []
for route in sorted(set(roles) & set(documented)):
    if required_role[route] != roles[route]:
        misroled.append(route)
        print(f"{route} needs the {roles[route]} role, but its operation says "
              f"`x-required-role: {required_role[route]}`")

if missing or extra or wrong or insecure or misroled:
    sys.exit(f"check-openapi: {len(missing)} undocumented route(s), {len(extra)} unregistered operation(s)"
             + (f", {len(wrong)} wrong x-service(s)" if wrong else "")
             + (f", {len(insecure)} wrong security declaration(s)" if insecure else "")
             + (f", {len(misroled)} wrong x-required-role(s)" if misroled else ""))
counts = ""
services = sorted({s for ss in registered.values() for s in ss if s})
if services:
    counts = " (" + ", ".join(f"{s} {sum(s in ss for ss in registered.values())}" for s in services) + ")"
print(f"ok: {len(registered)} distinct routes{counts}, all documented"
      + (", x-service right" if services else "") + (", security and x-required-role match the roles" if roles else ""))
EOF
