#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build, run and test
# MetaFuse Cloud, and nothing else:
#   - Debian packages, each checked with `dpkg -s`; only the missing ones are
#     installed (naming an installed package would upgrade it), after a single
#     `apt-get update`;
#   - checks that Node.js >= 20 is on PATH (Debian 12's own nodejs is 18);
#   - `npm ci` when the repo has a package.json and node_modules is missing or
#     older than package-lock.json / package.json: @redocly/cli (OpenAPI lint),
#     oidc-provider (the dev OpenID Provider, tools/oidc-dev) and
#     playwright-core (browser tests), at the versions of the lock file;
#     the same in webui/ (the dashboard's own lock file).
# Idempotent, and silent when nothing is missing.
#
# Usage: scripts/deps.sh [--runtime-only]
#   --runtime-only  skip the packages needed only by tests and benchmarks.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_MIN_MAJOR=20

# Build and run: compilers, libraries, the local Postgres and Redis.
RUNTIME_PKGS=(
  build-essential pkg-config
  libh2o-evloop-dev libjwt-dev libhiredis-dev libjansson-dev libsqlite3-dev
  libcurl4-openssl-dev libssl-dev libpq-dev libpg-query-dev
  postgresql-15 redis-server
  python3 curl
)
# Tests, sanitizers, fuzzers, benchmarks. chromium: the browser tests drive
# Debian's /usr/bin/chromium with playwright-core (never a downloaded
# browser); python3-cryptography: the SSO tests verify id_token signatures.
TEST_PKGS=(
  libcmocka-dev python3-pytest python3-requests python3-yaml python3-cryptography
  wrk clang libclang-rt-14-dev chromium
)
# kubectl renders the Kubernetes manifests (scripts/check-deploy.sh): Debian's kubectl 1.20
# unless one is installed already (another kubectl package owns /usr/bin/kubectl then).
command -v kubectl >/dev/null 2>&1 || TEST_PKGS+=(kubernetes-client)

die() { echo "deps.sh: $*" >&2; exit 1; }

runtime_only=0
for arg in "$@"; do
  case "$arg" in
    --runtime-only) runtime_only=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument: $arg (try --help)" ;;
  esac
done

wanted=("${RUNTIME_PKGS[@]}")
if [ "$runtime_only" -eq 0 ]; then
  wanted+=("${TEST_PKGS[@]}")
fi

# --- Debian packages ---------------------------------------------------------
installed() {
  dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'
}

# If dpkg cannot even report itself (a stripped PATH, say), every package
# would look missing and apt-get would reinstall or upgrade them all: stop.
installed dpkg ||
  die "'dpkg -s dpkg' does not work here (PATH=$PATH); cannot tell what is installed"

missing=()
for pkg in "${wanted[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    die "missing Debian packages: ${missing[*]}
  (run this script as root, or: apt-get install ${missing[*]})"
  fi
  echo "deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- Node.js -----------------------------------------------------------------
node_hint="Install Node.js ${NODE_MIN_MAJOR} or newer (Debian 12's own nodejs package is 18, too old) and re-run."
if ! command -v node >/dev/null 2>&1; then
  die "Node.js >= ${NODE_MIN_MAJOR} is required but 'node' is not on PATH. $node_hint"
fi
node_version="$(node --version 2>/dev/null || true)"   # e.g. v20.11.1
node_major="${node_version#v}"
node_major="${node_major%%.*}"
case "$node_major" in
  ''|*[!0-9]*) die "cannot read the Node.js version ('node --version' said '$node_version'). $node_hint" ;;
esac
if [ "$node_major" -lt "$NODE_MIN_MAJOR" ]; then
  die "Node.js >= ${NODE_MIN_MAJOR} is required, found $node_version. $node_hint"
fi

# --- npm packages from the committed lock file --------------------------------
# npm_ci DIR: npm ci in DIR when its node_modules is missing or older than its lock file.
npm_ci() {
  local dir="$1"
  [ -f "$dir/package.json" ] || return 0
  [ -f "$dir/package-lock.json" ] ||
    die "$dir/package.json has no package-lock.json beside it: run 'npm install' and commit the lock file"
  command -v npm >/dev/null 2>&1 || die "npm is not on PATH (it ships with Node.js)"
  # npm ci recreates node_modules; the stamp records when it last succeeded.
  local stamp="$dir/node_modules/.mf-npm-ci-stamp"
  if [ ! -f "$stamp" ] ||
     [ "$dir/package-lock.json" -nt "$stamp" ] ||
     [ "$dir/package.json" -nt "$stamp" ]; then
    echo "deps.sh: npm ci ($dir)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    mkdir -p "$dir/node_modules"
    touch "$stamp"
  fi
}
npm_ci "$ROOT"
npm_ci "$ROOT/webui" # the dashboard: Vite, React, Cytoscape.js, Vitest
