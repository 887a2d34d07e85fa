#!/usr/bin/env bash
# What `make bench` runs: every benchmark behind docs/benchmarks.md, one after another (they
# measure wall time, so nothing else should run meanwhile). Installs the test dependencies first
# (PostgreSQL for the store and API benchmarks). Takes about 25 minutes on two cores.
#
#   scripts/bench.sh            everything
#   scripts/bench.sh store api  only these parts (store, planning, inventory, sim, api, sync, rotate)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

bash scripts/test-deps.sh >/dev/null
# shellcheck source=scripts/test-env.sh
source scripts/test-env.sh
export GOTOOLCHAIN=local

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(store planning inventory sim api sync rotate)

bin="$(mktemp -d)/rotor"
go build -o "$bin" ./cmd/rotor
trap 'rm -rf "$(dirname "$bin")"' EXIT

gobench() {
	echo "==> go test -run '^\$' -bench $*"
	go test -run '^$' -bench "$@"
}

echo "rotor benchmarks: $(go version | cut -d' ' -f3-), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
for p in "${parts[@]}"; do
	case "$p" in
	store) gobench . -benchtime 3s -count 3 ./store/sqlstore ;;
	planning)
		gobench BenchmarkDecide1M -count 3 ./planner
		gobench BenchmarkPlan -benchtime 3x ./runner
		;;
	inventory) ROTOR_BENCH_APPS=100000 gobench BenchmarkFullSync -benchtime 1x -count 3 -timeout 30m ./inventory ;;
	sim) gobench . -benchtime 3x ./sim/graph ;;
	api) gobench BenchmarkAPI -benchtime 200x -timeout 60m ./server ;;
	sync)
		echo "==> rotor bench sync"
		"$bin" bench sync
		;;
	rotate)
		echo "==> rotor bench rotate --bindings 1000"
		"$bin" --log-level warn bench rotate --bindings 1000
		;;
	*)
		echo "bench.sh: unknown part $p (store, planning, inventory, sim, api, sync, rotate)" >&2
		exit 2
		;;
	esac
done
