#!/usr/bin/env bash
# The whole test run: what `make test` runs, and so what CI runs (.ci/run).
# Steps, in order, stopping at the first failure with a banner naming it:
#   1. scripts/deps.sh                        install what the machine lacks
#   2. make -j2 CI=true                       build, warnings are errors
#   3. make CI=true unit                      cmocka unit tests
#   4. scripts/check-openapi.sh               OpenAPI checks (when present)
#   5. scripts/check-deploy.sh                Kubernetes manifests and Dockerfiles
#   6. pytest tests/integration               against build/bin
#   7. make webui, Vitest                     the dashboard's build and component tests
#   8. tests/e2e/run.sh                       the dashboard in headless Chromium on a stack of its own
#   9. make SANITIZE=address,undefined BUILD=build-san all unit
#  10. pytest tests/integration               against build-san/bin
# The integration tests start their own Postgres, Redis and services
# (scripts/stack.sh infra-up and the binaries in $MF_BIN_DIR).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Debian's interpreter has python3-pytest; the PATH python3 may not.
PY=/usr/bin/python3

SAN_ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
SAN_UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# h2o's thread-local recycle bins are reported at thread exit; see the file.
export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"

TOTAL=11
STEP=0
RESULTS=()
START=$SECONDS

banner() {
  echo
  echo "=================================================================="
  echo "== $*"
  echo "=================================================================="
}

# step NAME CMD...: run one step; on failure print a banner and stop.
step() {
  local name="$1" t0=$SECONDS rc=0
  shift
  STEP=$((STEP + 1))
  banner "[$STEP/$TOTAL] $name"
  echo "\$ $*"
  "$@" || rc=$?
  if [ "$rc" -ne 0 ]; then
    banner "FAILED at step $STEP/$TOTAL: $name (exit $rc, after $((SECONDS - START))s)"
    exit "$rc"
  fi
  RESULTS+=("ok       $name ($((SECONDS - t0))s)")
}

# skip NAME WHY: a step that does not apply (yet).
skip() {
  STEP=$((STEP + 1))
  banner "[$STEP/$TOTAL] $1: skipped ($2)"
  RESULTS+=("skipped  $1 ($2)")
}

# integration BIN_DIR: the pytest suite against the binaries in BIN_DIR.
# "No tests collected" (exit 5) fails like any other failure.
integration() {
  local rc=0
  MF_BIN_DIR="$1" "$PY" -m pytest -q tests/integration || rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "test.sh: pytest collected no tests in tests/integration" >&2
  fi
  return "$rc"
}

# The dashboard (webui/dist, served by mf-api) and its component tests.
webui_tests() {
  make webui && (cd webui && npm test)
}

# The sanitizer build and its unit tests.
sanitizer_build() {
  ASAN_OPTIONS="$SAN_ASAN_OPTIONS" UBSAN_OPTIONS="$SAN_UBSAN_OPTIONS" \
    make -j2 CI=true SANITIZE=address,undefined BUILD=build-san all unit fuzz-replay
}

# The integration tests against the sanitizer build; a sanitizer report
# fails the run (the harness checks service logs, UBSan halts on error).
sanitizer_integration() {
  ASAN_OPTIONS="$SAN_ASAN_OPTIONS" UBSAN_OPTIONS="$SAN_UBSAN_OPTIONS" \
    integration build-san/bin
}

step "install dependencies" scripts/deps.sh
step "build (warnings are errors)" make -j2 CI=true
step "unit tests" make CI=true unit
step "fuzz corpus replay" make CI=true fuzz-replay
if [ -f scripts/check-openapi.sh ]; then
  step "OpenAPI checks" bash scripts/check-openapi.sh
else
  skip "OpenAPI checks" "scripts/check-openapi.sh not present"
fi
step "deployment checks (manifests, Dockerfiles)" bash scripts/check-deploy.sh
step "integration tests (build/bin)" integration build/bin
step "dashboard build and component tests (Vitest)" webui_tests
step "browser tests of the dashboard (tests/e2e)" env MF_BIN_DIR=build/bin tests/e2e/run.sh
step "sanitizer build and unit tests (build-san)" sanitizer_build
step "integration tests under ASan/UBSan (build-san/bin)" sanitizer_integration


banner "make test: PASSED, $STEP steps in $((SECONDS - START))s"
printf '  %s\n' "${RESULTS[@]}"
