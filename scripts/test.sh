#!/usr/bin/env bash
# What `make test` (and CI) runs: installs/builds the test dependencies, exports where they are,
# then runs the whole suite with the race detector. Extra arguments go to `go test`:
#   scripts/test.sh -run TestPostgres ./internal/testenv
# Without package arguments it tests ./...; the lint checks (scripts/lint.sh) run only for a full
# run without arguments, which is what CI does.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

bash scripts/test-deps.sh
# shellcheck source=scripts/test-env.sh
source scripts/test-env.sh
# controller-runtime's envtest looks for kube-apiserver and etcd here.
export KUBEBUILDER_ASSETS="${KUBEBUILDER_ASSETS:-$ROTOR_TEST_KUBE_ASSETS}"
export GOTOOLCHAIN=local

now() { echo "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

if [ $# -eq 0 ]; then
	t="$(now)"
	echo "==> lint"
	bash scripts/lint.sh
	echo "    done in $(since "$t")"
fi

pkgs=("./...")
for a in "$@"; do
	case "$a" in
	./* | . | github.com/rotorhq/rotor*) pkgs=() ;;
	esac
done

t="$(now)"
echo "==> go test -race -count=1 ${pkgs[*]} $*"
go test -race -count=1 "${pkgs[@]}" "$@"
echo "    done in $(since "$t")"
