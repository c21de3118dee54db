#!/usr/bin/env bash
# Checks the deployment files without a cluster or a Docker engine:
#   1. every overlay in deploy/k8s/overlays renders with `kubectl kustomize`;
#   2. every rendered object validates against the Kubernetes 1.27 JSON schemas
#      (npm kubernetes-models: the upstream OpenAPI compiled with ajv; docs/deploy.md says why)
#      and has no field the API does not define (those schemas are open, so the objects are
#      also walked along the same package's type declarations);
#   3. the manifests agree with the services and the Dockerfiles with the build
#      (tests/integration/deploy_support.py: configuration keys, required keys, ports, probes,
#      drain, security settings, references, build and runtime packages, binaries);
#   4. docker/*.Dockerfile pass the linter (npm dockerfile-utils).
# Usage: scripts/check-deploy.sh [OVERLAY_DIR...]
#   OVERLAY_DIR  absolute or from the repository root; default: every deploy/k8s/overlays/*
#   MF_BIN_DIR   default build/bin: the binaries whose linked libraries the runtime images
#                must install (skipped when not built)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY=/usr/bin/python3
BIN_DIR="${MF_BIN_DIR:-build/bin}"

die() { echo "check-deploy: $*" >&2; exit 1; }

command -v kubectl >/dev/null || die "kubectl is not installed (scripts/deps.sh installs kubernetes-client)"
for pkg in kubernetes-models dockerfile-utils; do
  [ -d "node_modules/$pkg" ] || die "node_modules lacks $pkg: run scripts/deps.sh (npm ci)"
done

TMP="$(mktemp -d)"
trap 'rm -rf -- "$TMP"' EXIT

rendered=()
[ $# -gt 0 ] || set -- deploy/k8s/overlays/*/
for dir in "$@"; do
  overlay="$(basename "$dir")"
  kubectl kustomize "$dir" >"$TMP/$overlay.yaml" 2>"$TMP/$overlay.err" ||
    { cat "$TMP/$overlay.err" >&2; die "overlay $overlay does not render"; }
  # kustomize v5 wraps long base64 Secret values; the API server ignores the line breaks.
  "$PY" -c 'import json, sys, yaml
docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
for d in docs:
    if d["kind"] == "Secret":
        d["data"] = {k: "".join(v.split()) for k, v in (d.get("data") or {}).items()}
json.dump(docs, sys.stdout)' \
    <"$TMP/$overlay.yaml" >"$TMP/$overlay.json"
  echo "check-deploy: overlay $overlay renders ($(grep -c '^kind:' "$TMP/$overlay.yaml") objects)"
  rendered+=("$overlay=$TMP/$overlay.json")
done

# Schemas: each object through the model class of its apiVersion and kind, then its fields
# against the property lists of the package's declarations (one parse of every .d.ts).
node - "${rendered[@]}" <<'JS'
const fs = require("fs");
const path = require("path");

// alias (IIoK8s...) -> {field: type}; files: path of a .d.ts -> {local interface: fields}
const types = {}, files = {};
function parseDeclarations(file) {
  const lines = fs.readFileSync(file, "utf8").split("\n"), local = {};
  let fields = null;
  lines.forEach((line, i) => {
    let m;
    if ((m = /^export interface (\w+)/.exec(line))) fields = local[m[1]] = {};
    else if (fields && line.startsWith("}")) fields = null;
    else if (fields && (m = /^ {4}"([^"]+)"\??: (.+?);?$/.exec(line)))
      fields[m[1]] = m[2] === "{" ? "map:" + /\]: (.+);$/.exec(lines[i + 1])[1] : m[2];
    else if ((m = /^export \{ (\w+) as (IIoK8s\w+)/.exec(line)) && local[m[1]]) types[m[2]] = local[m[1]];
  });
  files[file] = local;
}
function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith(".d.ts")) parseDeclarations(p);
  }
}
walk("node_modules/kubernetes-models");
walk("node_modules/@kubernetes-models/apimachinery");

// Unknown fields of value (of declared type) as "a.b[0].c" paths.
function unknownFields(value, type, at, out) {
  let m;
  if ((m = /^Array<(.+)>$/.exec(type)) && Array.isArray(value))
    value.forEach((v, i) => unknownFields(v, m[1], `${at}[${i}]`, out));
  else if ((m = /^map:(.+)$/.exec(type)) && value && typeof value === "object")
    for (const [k, v] of Object.entries(value)) unknownFields(v, m[1], `${at}.${k}`, out);
  else if (types[type] && value && typeof value === "object") checkFields(value, types[type], at, out);
}
function checkFields(obj, fields, at, out) {
  for (const [k, v] of Object.entries(obj)) {
    if (!(k in fields)) out.push(`${at ? at + "." : ""}${k}`);
    else unknownFields(v, fields[k], `${at ? at + "." : ""}${k}`, out);
  }
}

let failed = 0, count = 0;
for (const arg of process.argv.slice(2)) {
  const [overlay, file] = arg.split("=");
  for (const obj of JSON.parse(fs.readFileSync(file, "utf8"))) {
    const where = `overlays/${overlay} ${obj.kind}/${obj.metadata && obj.metadata.name}`;
    const modelPath = path.posix.join("kubernetes-models", obj.apiVersion);
    let Model;
    try { Model = require(modelPath)[obj.kind]; } catch (e) { Model = undefined; }
    const top = (files[path.join("node_modules", modelPath, obj.kind + ".d.ts")] || {})["I" + obj.kind];
    if (!Model || !top) { console.log(`check-deploy: ${where}: no schema for ${obj.apiVersion} ${obj.kind}`); failed++; continue; }
    const unknown = [], problems = [];
    checkFields(obj, top, "", unknown);
    if (unknown.length) problems.push("unknown fields: " + unknown.join(", "));
    try { new Model(obj).validate(); } catch (e) { problems.push(e.message); }
    if (problems.length) { console.log(`check-deploy: ${where}: ${problems.join("; ")}`); failed++; }
    else count++;
  }
}
console.log(`check-deploy: ${count} objects valid against the Kubernetes schemas, ${failed} invalid`);
process.exit(failed ? 1 : 0);
JS

"$PY" tests/integration/deploy_support.py check "${rendered[@]}" --bin-dir "$BIN_DIR"
echo "check-deploy: manifests agree with the configuration table, ports, probes and Dockerfiles"

dockerfiles=(docker/*.Dockerfile)
for f in "${dockerfiles[@]}"; do
  node_modules/.bin/dockerfile-utils lint "$f" || die "$f: lint failed"
done
echo "check-deploy: ${#dockerfiles[@]} Dockerfiles lint clean"
