# shellcheck shell=bash
# Where rotor's test dependencies live. Sourced by test-deps.sh (which installs and builds them)
# and test.sh (which exports them to the tests). internal/testenv reads the ROTOR_TEST_* variables
# and falls back to these same default locations when they are unset.

ROTOR_CACHE="${ROTOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rotor}"
ROTOR_KUBE_VERSION="v1.36.3"

export ROTOR_TEST_PG_BIN="${ROTOR_TEST_PG_BIN:-/usr/lib/postgresql/15/bin}"
export ROTOR_TEST_MAILPIT="${ROTOR_TEST_MAILPIT:-$ROTOR_CACHE/bin/mailpit}"
export ROTOR_TEST_KUBE_ASSETS="${ROTOR_TEST_KUBE_ASSETS:-$ROTOR_CACHE/k8s/$ROTOR_KUBE_VERSION}"
export ROTOR_TEST_CHROMIUM="${ROTOR_TEST_CHROMIUM:-/usr/bin/chromium}"
ROTOR_STATICCHECK="$ROTOR_CACHE/bin/staticcheck"
