#!/usr/bin/env bash
# End-to-end test of the kaas CLI against a real kaasd with a simulated datacenter.
# Usage: cli_test.sh PATH/TO/kaasd PATH/TO/kaas
# Exits non-zero at the first failing assertion, saying which one and what kaas printed.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 KAASD KAAS" >&2
  exit 2
fi
KAASD=$1
KAAS=$2
PASSWORD=cli-test-admin-password
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaas-cli-test.XXXXXX")
KAASD_PID=

cleanup() {
  if [[ -n $KAASD_PID ]]; then
    kill "$KAASD_PID" 2>/dev/null || true
    wait "$KAASD_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

fail() {
  echo "FAIL: $*" >&2
  echo "--- kaasd log (last lines) ---" >&2
  tail -n 20 "$WORK/kaasd.log" >&2 || true
  exit 1
}

# kaas ARGS...: runs the CLI, keeping its combined output in OUT and exit code in RC.
kaas() {
  LAST="kaas $*"
  set +e
  OUT=$("$KAAS" "$@" 2>&1 </dev/null)
  RC=$?
  set -e
}

# kaas_stdin INPUT ARGS...: the same, with INPUT on stdin.
kaas_stdin() {
  local input=$1
  shift
  LAST="kaas $*"
  set +e
  OUT=$(printf '%s\n' "$input" | "$KAAS" "$@" 2>&1)
  RC=$?
  set -e
}

expect_rc() {
  [[ $RC -eq $1 ]] || fail "$LAST exited $RC, expected $1. Output:
$OUT"
}

expect_out() {
  grep -qF -- "$1" <<<"$OUT" || fail "$LAST did not print '$1'. Output:
$OUT"
}

PORT=$(free_port)
SERVER=http://127.0.0.1:$PORT
export KAAS_CONFIG=$WORK/config/kaas/config.yaml
unset XDG_CONFIG_HOME

KAAS_ADMIN_PASSWORD=$PASSWORD "$KAASD" --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" \
  --sim-delay-ms 50 >"$WORK/kaasd.log" 2>&1 &
KAASD_PID=$!

for _ in $(seq 1 150); do
  kill -0 "$KAASD_PID" 2>/dev/null || fail "kaasd exited during startup"
  if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
    "$SERVER/healthz" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
  "$SERVER/healthz" 2>/dev/null || fail "kaasd did not become healthy at $SERVER"

echo "== before login: a clear hint to log in"
kaas --server "$SERVER" clusters
expect_rc 1
expect_out "kaas login"

echo "== login"
kaas_stdin "$PASSWORD" login --server "$SERVER" --password-stdin
expect_rc 0
expect_out "Logged in to $SERVER as admin"
[[ -f $KAAS_CONFIG ]] || fail "login did not write $KAAS_CONFIG"
mode=$(stat -c %a "$KAAS_CONFIG")
[[ $mode == 600 ]] || fail "config file mode is $mode, expected 600"
dir_mode=$(stat -c %a "$(dirname "$KAAS_CONFIG")")
[[ $dir_mode == 700 ]] || fail "config dir mode is $dir_mode, expected 700"
grep -q "^token: kaas_" "$KAAS_CONFIG" || fail "config holds no token"

kaas whoami
expect_rc 0
expect_out "admin on $SERVER"

echo "== wrong password"
kaas_stdin "not-the-password" login --server "$SERVER" --password-stdin
[[ $RC -ne 0 ]] || fail "login with a wrong password exited 0"
expect_out "invalid username or password"
kaas whoami
expect_rc 0  # the failed login left the saved session alone

echo "== team create"
kaas team create payments
expect_rc 0
expect_out "payments"

echo "== cluster create --watch"
kaas cluster create demo --team payments --purpose dev --workers 3 --watch
expect_rc 0
expect_out "✓ provision masters"
expect_out "✓ verify cluster"
expect_out "100%"

echo "== clusters"
kaas clusters
expect_rc 0
line=$(grep -E '^demo ' <<<"$OUT") || fail "kaas clusters does not list demo:
$OUT"
grep -q " running " <<<"$line" || fail "demo is not running: $line"
grep -qF "3×m.small" <<<"$line" || fail "demo does not show 3×m.small masters: $line"

echo "== cluster show"
kaas cluster show demo
expect_rc 0
expect_out "Nodes (6)"
nodes=$(grep -cE '^(master|worker)-[0-9]+ ' <<<"$OUT" || true)
[[ $nodes -eq 6 ]] || fail "cluster show lists $nodes nodes, expected 6:
$OUT"

echo "== invalid request"
kaas cluster create bad --team payments --purpose dev --masters 2
expect_rc 1
expect_out "masters.count"

echo "== usage error"
kaas cluster create bad --team payments
expect_rc 2
expect_out "--purpose is required"

echo "== unreachable server"
kaas --server "http://127.0.0.1:$(free_port)" clusters
expect_rc 1
expect_out "cannot reach kaasd at http://127.0.0.1:"

echo "== cluster delete --watch"
kaas cluster delete demo --watch
expect_rc 0
expect_out "100%"
kaas clusters
expect_rc 0
if grep -qE '^demo ' <<<"$OUT"; then fail "demo is still listed after delete:
$OUT"; fi

echo "== logout"
kaas logout
expect_rc 0
kaas whoami
expect_rc 1
expect_out "kaas login"

echo "PASS: kaas CLI end to end"
