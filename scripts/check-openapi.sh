#!/usr/bin/env bash
# Checks docs/openapi.yaml against itself and against the code:
#   1. `redocly lint` (recommended ruleset, see redocly.yaml) reports no error;
#   2. its operations are exactly the routes mf-api registers: every line of
#      `mf-api routes` (`METHOD /path/{param}`) must be an operation in the
#      file, and every operation in the file a registered route.
# Prints the differences and exits 1 on any failure.
#
# Usage: scripts/check-openapi.sh [ROUTES_FILE]
#   ROUTES_FILE    read the route list from this file instead of running
#                  mf-api (same format; also MF_ROUTES_FILE). For tests.
#   MF_BIN_DIR     where mf-api is (default build/bin in the repo).
# Needs: node_modules from `npm ci`, /usr/bin/python3 with python3-yaml.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SPEC=docs/openapi.yaml
# Debian's python3, not whatever python3 is first on PATH: python3-yaml is a
# Debian package.
PY=/usr/bin/python3

die() { echo "check-openapi: $*" >&2; exit 1; }

routes_file="${1:-${MF_ROUTES_FILE:-}}"
[[ -z "$routes_file" || -r "$routes_file" ]] || die "cannot read route list $routes_file"
[[ -x "$ROOT/node_modules/.bin/redocly" ]] || die "redocly is not installed: run 'npm ci' in the repo root"
"$PY" -c 'import yaml' 2>/dev/null || die "$PY cannot import yaml: apt-get install python3-yaml (or run scripts/deps.sh)"

# 1. Lint. Run from the repo root so redocly.yaml and .redocly.lint-ignore.yaml
#    apply. Exits non-zero on errors; warnings are printed but do not fail.
echo "== redocly lint $SPEC"
(cd "$ROOT" && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_NOTIFICATIONS=true \
    npx --no-install redocly lint "$SPEC") || die "redocly lint found errors in $SPEC"

# 2. The registered routes, from the file given or from the binary.
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
if [[ -z "$routes_file" ]]; then
  bin="${MF_BIN_DIR:-$ROOT/build/bin}/mf-api"
  [[ -x "$bin" ]] || die "$bin not found: build it with 'make' in the repo root (or set MF_BIN_DIR to the directory holding mf-api)"
  "$bin" routes >"$tmp" || die "'$bin routes' failed"
  routes_file="$tmp"
fi

echo "== routes of mf-api vs operations of $SPEC"
"$PY" - "$ROOT/$SPEC" "$routes_file" <<'EOF'
import sys
import yaml

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
spec_path, routes_path = sys.argv[1], sys.argv[2]

with open(spec_path, encoding="utf-8") as f:
    spec = yaml.safe_load(f)
documented = {
    f"{method.upper()} {path}"
    for path, item in (spec.get("paths") or {}).items()
    for method in item
    if method in METHODS
}

registered = set()
with open(routes_path, encoding="utf-8") as f:
    for lineno, line in enumerate(f, 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) != 2 or not words[1].startswith("/"):
            sys.exit(f"check-openapi: {routes_path}:{lineno}: not 'METHOD /path': {line.rstrip()}")
        registered.add(f"{words[0].upper()} {words[1]}")

missing = sorted(registered - documented)
extra = sorted(documented - registered)
for route in missing:
    print(f"registered by mf-api but not in the OpenAPI file: {route}")
for route in extra:
    print(f"in the OpenAPI file but not registered by mf-api: {route}")
if missing or extra:
    sys.exit(f"check-openapi: {len(missing)} undocumented route(s), {len(extra)} unregistered operation(s)")
print(f"ok: {len(registered)} routes, all documented")
EOF
