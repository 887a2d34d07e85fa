#!/usr/bin/env bash
# Installs and builds what rotor's test suite needs, idempotently:
#   - PostgreSQL 15 and Chromium from Debian packages (apt, only when missing);
#   - mailpit, kube-apiserver, etcd and staticcheck built from the pinned tools modules under
#     tools/ into ~/.cache/rotor (rebuilt only when the pinned versions or build flags change).
# Run it as root, or as a user with sudo (used for apt only). Safe to run again at any time.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/test-env.sh
source "$repo/scripts/test-env.sh"

die() {
	echo "test-deps: error: $*" >&2
	exit 1
}

now() { echo "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

started="$(now)"
trap 'rc=$?; if [ $rc -ne 0 ]; then echo "test-deps: FAILED after $(since "$started") (exit $rc)" >&2; fi' EXIT

# as_root runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root to run '$*': run this script as root or install sudo"
	fi
}

# --- Go ----------------------------------------------------------------------------------------

command -v go >/dev/null 2>&1 || die "go is not on PATH (rotor needs Go 1.26 or newer)"
goversion="$(go env GOVERSION)"
case "$goversion" in
go1.2[6-9]* | go1.[3-9][0-9]* | go[2-9]*) ;;
*) die "rotor needs Go 1.26 or newer, found $goversion" ;;
esac
# Never download another toolchain: the tools modules say go 1.26.0, which the local one satisfies.
export GOTOOLCHAIN=local

mkdir -p "$ROTOR_CACHE/bin"
# One run at a time per cache (another engineer or a second terminal may be running this).
if command -v flock >/dev/null 2>&1; then
	exec 9>"$ROTOR_CACHE/.lock"
	if ! flock -n 9; then
		echo "test-deps: waiting for another run to release $ROTOR_CACHE/.lock"
		flock 9
	fi
fi

echo "test-deps: cache $ROTOR_CACHE, $goversion"

# --- Debian packages ---------------------------------------------------------------------------

apt_updated=""
apt_install() {
	command -v apt-get >/dev/null 2>&1 ||
		die "apt-get not found: install $* yourself and point ROTOR_TEST_PG_BIN / ROTOR_TEST_CHROMIUM at them"
	export DEBIAN_FRONTEND=noninteractive
	# Refresh the package lists only when they are missing; retry once with fresh lists when the
	# install fails on stale ones.
	if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -print -quit 2>/dev/null)" ]; then
		as_root apt-get update -q
		apt_updated=1
	fi
	if ! as_root apt-get install -y -q --no-install-recommends "$@"; then
		[ -z "$apt_updated" ] || die "apt-get install $* failed"
		as_root apt-get update -q
		apt_updated=1
		as_root apt-get install -y -q --no-install-recommends "$@" || die "apt-get install $* failed"
	fi
}

t="$(now)"
missing=()
[ -x "$ROTOR_TEST_PG_BIN/initdb" ] && [ -x "$ROTOR_TEST_PG_BIN/postgres" ] && [ -x "$ROTOR_TEST_PG_BIN/psql" ] ||
	missing+=(postgresql)
[ -x "$ROTOR_TEST_CHROMIUM" ] || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then
	echo "==> apt: postgresql and chromium already installed"
else
	echo "==> apt: installing ${missing[*]}"
	apt_install "${missing[@]}"
	[ -x "$ROTOR_TEST_PG_BIN/initdb" ] ||
		die "postgresql is installed but $ROTOR_TEST_PG_BIN/initdb is missing (set ROTOR_TEST_PG_BIN)"
	[ -x "$ROTOR_TEST_CHROMIUM" ] ||
		die "chromium is installed but $ROTOR_TEST_CHROMIUM is missing (set ROTOR_TEST_CHROMIUM)"
	echo "    done in $(since "$t")"
fi
echo "    postgres: $("$ROTOR_TEST_PG_BIN/postgres" --version)"
echo "    chromium: $("$ROTOR_TEST_CHROMIUM" --version 2>/dev/null || echo "(version unknown)")"

# --- Go tools ----------------------------------------------------------------------------------

# build_tool NAME MODULE_DIR OUT PACKAGE [GO BUILD FLAGS...] builds PACKAGE from the tools module
# in MODULE_DIR into OUT, unless OUT was already built from the same go.mod, go.sum and flags.
build_tool() {
	local name="$1" mod="$2" dir="$repo/$2" out="$3" pkg="$4"
	shift 4
	local stamp
	stamp="$(cat "$dir/go.mod" "$dir/go.sum" <(printf '%s\n' "$pkg" "$@" "$(go env GOOS GOARCH)") | sha256sum | cut -d' ' -f1)"
	if [ -x "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
		echo "==> $name: cached ($out)"
		return
	fi
	local t
	t="$(now)"
	echo "==> $name: building $pkg (module $mod)"
	mkdir -p "$(dirname "$out")"
	# -mod=readonly: the committed go.mod/go.sum are the pin; a build must not change them.
	(cd "$dir" && go build -mod=readonly "$@" -o "$out.tmp" "$pkg") || die "building $name failed (see above)"
	mv -f "$out.tmp" "$out"
	echo "$stamp" >"$out.stamp"
	echo "    done in $(since "$t")"
}

# pinned MODULE_DIR MODULE prints the version of MODULE that the tools module requires.
pinned() { awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$repo/$1/go.mod"; }

kube="$ROTOR_TEST_KUBE_ASSETS"
kver="$(pinned tools/kube k8s.io/kubernetes)"
[ "$kver" = "$ROTOR_KUBE_VERSION" ] ||
	die "tools/kube/go.mod pins k8s.io/kubernetes $kver but scripts/test-env.sh says $ROTOR_KUBE_VERSION: make them agree"
kminor="$(echo "$kver" | cut -d. -f2)"
build_tool mailpit tools/mailpit "$ROTOR_TEST_MAILPIT" github.com/axllent/mailpit \
	-trimpath -ldflags "-X github.com/axllent/mailpit/config.Version=$(pinned tools/mailpit github.com/axllent/mailpit)"
build_tool staticcheck tools/staticcheck "$ROTOR_STATICCHECK" honnef.co/go/tools/cmd/staticcheck -trimpath
build_tool etcd tools/kube "$kube/etcd" go.etcd.io/etcd/server/v3 -trimpath
build_tool kube-apiserver tools/kube "$kube/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver -trimpath \
	-ldflags "-X k8s.io/component-base/version.gitVersion=$kver -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$kminor"

echo "    $("$kube/kube-apiserver" --version), etcd $("$kube/etcd" --version | awk '/etcd Version/ { print $3 }'), $("$ROTOR_STATICCHECK" -version)"

cat <<EOF
test-deps: ready in $(since "$started")
  ROTOR_TEST_PG_BIN=$ROTOR_TEST_PG_BIN
  ROTOR_TEST_MAILPIT=$ROTOR_TEST_MAILPIT
  ROTOR_TEST_KUBE_ASSETS=$ROTOR_TEST_KUBE_ASSETS
  ROTOR_TEST_CHROMIUM=$ROTOR_TEST_CHROMIUM
EOF
