#!/usr/bin/env bash
# rotor's lint checks (`make lint`): gofmt, go vet and staticcheck over the main module.
# staticcheck is the pinned build from tools/staticcheck (make test-deps).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=scripts/test-env.sh
source scripts/test-env.sh
export GOTOOLCHAIN=local

unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
	echo "lint: these files need gofmt -w:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
if [ ! -x "$ROTOR_STATICCHECK" ]; then
	echo "lint: $ROTOR_STATICCHECK is missing: run make test-deps" >&2
	exit 1
fi
"$ROTOR_STATICCHECK" ./...
