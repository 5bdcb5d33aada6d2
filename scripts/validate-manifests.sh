#!/usr/bin/env bash
# Validates deploy/kubernetes/*.yaml offline against the Kubernetes API schemas, strictly (an
# unknown field is an error), with the kubernetes-validate package (it carries the schemas, so no
# cluster is needed). Installs it into a throwaway virtual environment.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(mktemp -d)
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet kubernetes-validate
"$venv/bin/kubernetes-validate" --strict --kubernetes-version "${KUBERNETES_VERSION:-1.30.0}" deploy/kubernetes/*.yaml
