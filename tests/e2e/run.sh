#!/usr/bin/env bash
# The dashboard's end-to-end tests: starts a stack of its own
# (scripts/stack.sh up with a fresh MF_RUN_DIR, so a developer's .run/ stack
# is untouched), runs tests/e2e/*.test.mjs with node's test runner in
# Debian's headless Chromium, stops the stack. Screenshots of failed tests
# are kept in the folder printed at the start (E2E_SHOT_DIR to choose it).
#
# Usage: tests/e2e/run.sh   (MF_BIN_DIR: the binaries, default build/bin;
#                            webui/dist must be built: make webui)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
[ -f webui/dist/index.html ] || { echo "e2e: webui/dist is not built (make webui)" >&2; exit 1; }

RUN_DIR="$(mktemp -d /tmp/mf-e2e-stack.XXXXXX)"
chmod 755 "$RUN_DIR"
export E2E_SHOT_DIR="${E2E_SHOT_DIR:-$(mktemp -d /tmp/mf-e2e-shots.XXXXXX)}"
mkdir -p "$E2E_SHOT_DIR"
echo "e2e: screenshots of failed tests go to $E2E_SHOT_DIR"

stop() {
  MF_RUN_DIR="$RUN_DIR" scripts/stack.sh down >/dev/null 2>&1 || true
  rm -rf -- "$RUN_DIR"
}
trap stop EXIT

if ! MF_RUN_DIR="$RUN_DIR" scripts/stack.sh up >"$E2E_SHOT_DIR/stack-up.log" 2>&1; then
  cat "$E2E_SHOT_DIR/stack-up.log" >&2
  exit 1
fi
set -a
# shellcheck disable=SC1091
. "$RUN_DIR/env"
set +a

rc=0
node --test --test-concurrency=1 --test-reporter=spec tests/e2e/ || rc=$?
# Services report leaks as they exit: stop them, then read their logs (sanitizer builds).
MF_RUN_DIR="$RUN_DIR" scripts/stack.sh down >/dev/null 2>&1 || true
if grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$RUN_DIR"/logs/*.log 2>/dev/null; then
  echo "e2e: the service logs above hold a sanitizer report" >&2
  rc=1
fi
if [ "$rc" -ne 0 ]; then
  echo "e2e: failed; screenshots and the stack's logs in $E2E_SHOT_DIR" >&2
  cp -r "$RUN_DIR/logs" "$E2E_SHOT_DIR/stack-logs" 2>/dev/null || true
else
  rm -f -- "$E2E_SHOT_DIR/stack-up.log"
  rmdir "$E2E_SHOT_DIR" 2>/dev/null || true
fi
exit "$rc"
