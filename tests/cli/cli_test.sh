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
S_SERVER_PID=

cleanup() {
  if [[ -n $S_SERVER_PID ]]; then
    kill "$S_SERVER_PID" 2>/dev/null || true
    wait "$S_SERVER_PID" 2>/dev/null || true
  fi
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

# kaas_tty ANSWER ARGS...: runs the CLI on a pseudo-terminal (stdin and stdout are a TTY, as
# for a person), types ANSWER when it asks, and keeps its output in OUT and exit code in RC.
kaas_tty() {
  local answer=$1
  shift
  LAST="kaas $* (on a terminal, answering '$answer')"
  set +e
  OUT=$(python3 - "$KAAS" "$answer" "$@" <<'PY'
import os, pty, select, signal, sys
kaas, answer, *args = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(kaas, [kaas] + args)
out, sent = b"", False
while True:
    ready, _, _ = select.select([fd], [], [], 60)
    if not ready:  # no output for 60 s: fail loudly instead of hanging
        os.kill(pid, signal.SIGKILL)
        out += b"\n(kaas_tty: no output for 60 s, killed)"
        break
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    if not sent and (b"to confirm: " in out or b"[y/N] " in out):
        os.write(fd, answer.encode() + b"\n")
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r\n", "\n"))
sys.exit(os.waitstatus_to_exitcode(status))
PY
)
  RC=$?
  set -e
}

# operation_count CLUSTER: how many operations kaasd lists for the cluster.
operation_count() {
  kaas -o json operations "$1"
  python3 -c 'import json, sys; print(len(json.load(sys.stdin)["items"]))' <<<"$OUT"
}

# http_status TOKEN PATH: the HTTP status kaasd answers GET PATH with, as that bearer token.
http_status() {
  curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "$SERVER$2"
}

PORT=$(free_port)
SERVER=http://127.0.0.1:$PORT
export KAAS_CONFIG=$WORK/config/kaas/config.yaml
unset XDG_CONFIG_HOME
# Never touch the kubeconfig of whoever runs the test.
export KUBECONFIG=$WORK/no-kube/config
KUBECTL=$(command -v kubectl || true)

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

echo "== cluster create --watch (event stream)"
kaas cluster create demo --team payments --purpose dev --workers 3 --watch
expect_rc 0
expect_out "✓ provision masters"
expect_out "✓ verify cluster"
expect_out "100%"
CREATE_OUT=$OUT
CREATE_OP=$(sed -n 's/^  operation: //p' <<<"$CREATE_OUT")
[[ $CREATE_OP == op-* ]] || fail "cluster create did not print its operation:
$CREATE_OUT"
grep -q "following operation .* by polling" <<<"$CREATE_OUT" &&
  fail "--watch fell back to polling instead of following the event stream:
$CREATE_OUT"
kaas -o json operation show "$CREATE_OP"
expect_rc 0
steps=$(python3 -c 'import json, sys; print("\n".join(s["name"] for s in json.load(sys.stdin)["steps"]))' <<<"$OUT")
[[ $(wc -l <<<"$steps") -ge 5 ]] || fail "the create operation has too few steps: $steps"
while IFS= read -r step; do
  grep -qF -- "▶ $step" <<<"$CREATE_OUT" || fail "the watch never showed '$step' running:
$CREATE_OUT"
  grep -qF -- "✓ $step" <<<"$CREATE_OUT" || fail "the watch never showed '$step' done:
$CREATE_OUT"
done <<<"$steps"

echo "== clusters"
kaas clusters
expect_rc 0
expect_out "CURRENT   NAME"
line=$(grep -E '^ +demo ' <<<"$OUT") || fail "kaas clusters does not list demo (unmarked):
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

echo "== users and team members"
ALICE_PASSWORD=cli-test-alice-password
kaas_stdin "$ALICE_PASSWORD" user create alice --password-stdin
expect_rc 0
expect_out "Created user alice"
kaas users
expect_rc 0
grep -qE '^alice ' <<<"$OUT" || fail "kaas users does not list alice:
$OUT"
kaas team add-member payments alice --role member
expect_rc 0
expect_out "alice now has role member in team payments"
kaas team members payments
expect_rc 0
grep -qE '^alice +member$' <<<"$OUT" || fail "kaas team members does not list alice:
$OUT"
kaas team add-member payments alice --role owner
expect_rc 1
expect_out "field: role"
kaas team add-member payments alice
expect_rc 2
expect_out "--role is required"

echo "== login as alice"
ADMIN_CONFIG=$KAAS_CONFIG
export KAAS_CONFIG=$WORK/alice/config.yaml
kaas_stdin "$ALICE_PASSWORD" login --server "$SERVER" --user alice --password-stdin
expect_rc 0
expect_out "as alice"
kaas whoami
expect_rc 0
expect_out "alice on $SERVER"
grep -qE '^payments +member$' <<<"$OUT" || fail "whoami does not show alice's role:
$OUT"

echo "== kaas use merges into an existing kubeconfig"
[[ -n $KUBECTL ]] || fail "kubectl is not on PATH"
KCFG=$WORK/kube/config
mkdir -p "$WORK/kube"
# Two clusters, users and contexts of other tools, quoted scalars that look like numbers
# (kubectl refuses the file if they come back as numbers) and a key kubectl does not know.
cat >"$KCFG" <<'YAML'
apiVersion: v1
kind: Config
x-team-settings:
  owner: ops
  ports: [80, "443"]
clusters:
- name: prod
  cluster:
    server: https://prod.example.com:6443
    insecure-skip-tls-verify: true
- name: staging
  cluster: {server: "https://staging.example.com:6443", tls-server-name: "0123"}
users:
- name: ops
  user:
    token: "12345"
- name: ci
  user: {username: "007", password: "true"}
contexts:
- name: prod
  context: {cluster: prod, user: ops, namespace: "0001"}
- name: staging
  context:
    cluster: staging
    user: ci
current-context: prod
preferences: {}
YAML
chmod 644 "$KCFG"
"$KUBECTL" config view --kubeconfig "$KCFG" --raw -o json >"$WORK/before.json" ||
  fail "kubectl cannot read the hand-written kubeconfig"
# The first file of a KUBECONFIG list is the one written.
KUBECONFIG="$KCFG:$WORK/kube/second" kaas use demo
expect_rc 0
expect_out 'Switched to context "alice@demo"'
[[ ! -e $WORK/kube/second ]] || fail "kaas use wrote the second file of KUBECONFIG"
mode=$(stat -c %a "$KCFG")
[[ $mode == 600 ]] || fail "kubeconfig mode is $mode after kaas use, expected 600"
# Once more: the entries are replaced, not duplicated.
KUBECONFIG=$KCFG kaas use demo --ttl-hours 2
expect_rc 0
contexts=$("$KUBECTL" config get-contexts -o name --kubeconfig "$KCFG" | sort | tr '\n' ' ') ||
  fail "kubectl cannot read the kubeconfig kaas use wrote"
[[ $contexts == "alice@demo prod staging " ]] || fail "contexts after kaas use: $contexts"
current=$("$KUBECTL" config current-context --kubeconfig "$KCFG")
[[ $current == alice@demo ]] || fail "current-context is $current, expected alice@demo"
"$KUBECTL" config view --kubeconfig "$KCFG" --raw -o json >"$WORK/after.json"
python3 - "$WORK/before.json" "$WORK/after.json" "$KCFG" <<'PY' || fail "kaas use changed other entries"
import json, sys
before, after = (json.load(open(p)) for p in sys.argv[1:3])
def named(doc, key):
    return {e["name"]: e for e in doc.get(key) or []}
for key, names in {"clusters": ["prod", "staging"], "users": ["ops", "ci"],
                   "contexts": ["prod", "staging"]}.items():
    b, a = named(before, key), named(after, key)
    for n in names:
        assert a.get(n) == b[n], f"{key}/{n}: {b[n]} became {a.get(n)}"
    new = "demo" if key == "clusters" else "alice@demo"
    assert sorted(a) == sorted(names + [new]), (key, list(a))  # kubectl sorts by name
assert after["preferences"] == before["preferences"]
text = open(sys.argv[3]).read()
assert "x-team-settings:\n  owner: ops\n  ports: [80, \"443\"]\n" in text, text[:300]
PY

echo "== clusters marks the current context"
KUBECONFIG=$KCFG kaas clusters
expect_rc 0
grep -qE '^\* +demo ' <<<"$OUT" || fail "kaas clusters does not mark demo as current:
$OUT"
KUBECONFIG=$WORK/no-kube/config kaas clusters
expect_rc 0
grep -qE '^ +demo ' <<<"$OUT" || fail "demo is marked without a kubeconfig:
$OUT"

echo "== kubeconfig"
set +e
"$KAAS" kubeconfig demo --ttl-hours 1 >"$WORK/demo.kubeconfig" 2>"$WORK/kubeconfig.err"
RC=$?
set -e
[[ $RC -eq 0 ]] || fail "kaas kubeconfig exited $RC: $(cat "$WORK/kubeconfig.err")"
"$KUBECTL" config view --kubeconfig "$WORK/demo.kubeconfig" --raw -o json >"$WORK/demo.json" ||
  fail "kubectl cannot read the output of kaas kubeconfig"
python3 - "$WORK/demo.json" <<'PY' || fail "kaas kubeconfig is not one cluster, user and context"
import json, sys
k = json.load(open(sys.argv[1]))
assert k["current-context"] == "alice@demo", k["current-context"]
assert [c["name"] for c in k["contexts"]] == ["alice@demo"]
assert [c["name"] for c in k["clusters"]] == ["demo"]
assert [u["name"] for u in k["users"]] == ["alice@demo"]
assert k["users"][0]["user"]["client-certificate-data"]
PY
kaas kubeconfig no-such-cluster
expect_rc 1
expect_out "not found"

echo "== tokens"
kaas -o json token create ci --ttl-hours 2
expect_rc 0
TOKEN=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])' <<<"$OUT")
TOKEN_ID=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])' <<<"$OUT")
kaas token create other
expect_rc 0
expect_out "shown only once"
[[ $(http_status "$TOKEN" /api/v1/me) == 200 ]] || fail "the new token is refused"
kaas token list
expect_rc 0
grep -qE "^$TOKEN_ID +ci " <<<"$OUT" || fail "kaas token list does not list $TOKEN_ID:
$OUT"
kaas token revoke "$TOKEN_ID"
expect_rc 0
expect_out "Revoked token $TOKEN_ID"
status=$(http_status "$TOKEN" /api/v1/me)
[[ $status == 401 ]] || fail "a revoked token got HTTP $status, expected 401"
kaas token list
if grep -qF "$TOKEN_ID" <<<"$OUT"; then fail "the revoked token is still listed:
$OUT"; fi

echo "== quota: a member asks, a platform admin approves"
kaas quota
expect_rc 0
expect_out "Quota of team payments:"
grep -qE '^  vcpus +\[[#.]{12}\] [0-9]+/64$' <<<"$OUT" || fail "kaas quota shows no vcpus bar:
$OUT"
kaas quota request payments --vcpus 128 --clusters 12 --reason "load tests need more room"
expect_rc 0
expect_out "vcpus=128"
QR=$(sed -n 's/^  request: \(qr-[0-9a-f]*\) (pending)$/\1/p' <<<"$OUT")
[[ -n $QR ]] || fail "kaas quota request printed no request id:
$OUT"
kaas quota request payments --reason "nothing asked"
expect_rc 2
kaas quota requests --state pending
expect_rc 0
grep -qE "^$QR +payments +pending +clusters=12 vcpus=128 +alice " <<<"$OUT" ||
  fail "kaas quota requests does not list $QR:
$OUT"
kaas quota approve "$QR"
expect_rc 1  # only a platform admin decides

echo "== audit"
kaas audit
expect_rc 1  # alice is no team admin
export KAAS_CONFIG=$ADMIN_CONFIG
kaas quota approve "$QR" --comment "granted for the quarter"
expect_rc 0
expect_out "Approved quota request $QR of team payments"
kaas quota payments
expect_rc 0
grep -qE '^  vcpus +\[[#.]{12}\] [0-9]+/128$' <<<"$OUT" || fail "the approved vcpus limit is not shown:
$OUT"
grep -qE '^  clusters +\[[#.]{12}\] 1/12$' <<<"$OUT" || fail "the approved clusters limit is not shown:
$OUT"
kaas quota approve "$QR"
expect_rc 1
expect_out "already approved"
kaas audit --limit 200
expect_rc 0
expect_out "TIME "
grep -qE ' admin +- +POST /api/v1/users +alice +127\.0\.0\.1 +201$' <<<"$OUT" ||
  fail "kaas audit does not list the creation of alice:
$OUT"
grep -qE ' admin +payments +POST /api/v1/clusters +cl-[0-9a-f]+ \(demo\) ' <<<"$OUT" ||
  fail "kaas audit does not list the creation of demo:
$OUT"
kaas audit --team payments --limit 1 -o json
expect_rc 0
python3 -c 'import json, sys; assert len(json.load(sys.stdin)["items"]) == 1' <<<"$OUT" ||
  fail "kaas audit --limit 1 -o json did not give one entry: $OUT"

echo "== passwd, user disable and enable, another user's tokens"
ALICE_CONFIG=$WORK/alice/config.yaml
KAAS_CONFIG=$ALICE_CONFIG kaas_stdin "$ALICE_PASSWORD
cli-test-alice-new-password" passwd --password-stdin
expect_rc 0
expect_out "Changed the password of alice"
ALICE_PASSWORD=cli-test-alice-new-password
KAAS_CONFIG=$ALICE_CONFIG kaas whoami
expect_rc 0  # the session that changed it stays
KAAS_CONFIG=$ALICE_CONFIG kaas_stdin "alice-sets-the-admin-password" passwd admin --password-stdin
expect_rc 1  # only a platform admin sets another user's password
kaas token list --user alice
expect_rc 0
kaas user disable alice
expect_rc 0
expect_out "Disabled user alice"
kaas users
grep -qE '^alice +local +yes ' <<<"$OUT" || fail "kaas users does not show alice as disabled:
$OUT"
KAAS_CONFIG=$ALICE_CONFIG kaas whoami
expect_rc 1
expect_out "kaas login"
KAAS_CONFIG=$ALICE_CONFIG kaas_stdin "$ALICE_PASSWORD" login --server "$SERVER" --user alice --password-stdin
expect_rc 1
kaas user enable alice
expect_rc 0
KAAS_CONFIG=$ALICE_CONFIG kaas_stdin "$ALICE_PASSWORD" login --server "$SERVER" --user alice --password-stdin
expect_rc 0

echo "== inventory"
kaas hosts
expect_rc 0
expect_out "NAME "
hosts=$(tail -n +2 <<<"$OUT" | grep -c .)
[[ $hosts -eq 24 ]] || fail "kaas hosts lists $hosts hosts, expected the 24 simulated ones:
$OUT"
kaas hypervisors
expect_rc 0
grep -qE '^sim-1 +test://.* +active +[0-9]+/[0-9]+ ' <<<"$OUT" || fail "kaas hypervisors:
$OUT"
kaas host add extra-1 --address 10.9.0.1 --vcpus 16 --memory-gib 64 --label rack=r9 --label tier=gpu
expect_rc 0
kaas host maintenance extra-1
expect_rc 0
kaas hosts
grep -qE '^extra-1 +10\.9\.0\.1 +maintenance +- +16 +64 GiB +rack=r9,tier=gpu +-$' <<<"$OUT" ||
  fail "kaas hosts does not show extra-1 in maintenance with its labels and no host key:
$OUT"
# Its SSH host key: refused when it is not one (nothing changes), kept when it is.
kaas host key extra-1 "ssh-ed25519 not-a-key"
expect_rc 1
expect_out "host_key"
key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHdvcmtlci0xLWhvc3Qta2V5LTAwMDAwMDAwMDAw"
kaas host key extra-1 "$key root@extra-1"
expect_rc 0
expect_out "Host extra-1 has SSH host key $key"
kaas hosts
grep -qE '^extra-1 .* ssh-ed25519$' <<<"$OUT" || fail "kaas hosts does not show extra-1's key:
$OUT"
kaas host add extra-2 --address 10.9.0.2 --vcpus 16 --memory-gib 64 --host-key "$key"
expect_rc 0
kaas host remove extra-2
expect_rc 0
kaas host remove extra-1
expect_rc 0
kaas orphans
expect_rc 0
expect_out "No orphans."

echo "== cluster scale: a scale-in shows its plan and asks; without a terminal it needs --yes"
ops_before=$(operation_count demo)
kaas cluster scale demo --workers 2
expect_rc 2
expect_out "Plan to scale workers to 2 in cluster demo"
expect_out "drain worker-3"
expect_out "1 worker drained and removed"
expect_out "stdin is not a terminal"
expect_out "--yes"
[[ $(operation_count demo) -eq $ops_before ]] || fail "the refused scale-in created an operation"
kaas_tty n cluster scale demo --workers 2
expect_rc 1
expect_out "Do it? [y/N]"
expect_out "Nothing was changed."
[[ $(operation_count demo) -eq $ops_before ]] || fail "answering no created an operation"
kaas cluster scale demo --workers 2 --yes --watch
expect_rc 0
expect_out "succeeded"
expect_out "✓ verify cluster"

echo "== cluster scale --masters 1 on a dev cluster: warned, and only the cluster's name confirms"
kaas_tty y cluster scale demo --masters 1
expect_rc 1
expect_out "the cluster will no longer survive the loss of a master"
expect_out "fewer than a dev cluster has by default (3)"
expect_out "Type the cluster's name (demo) to confirm:"
expect_out "Nothing was changed."
[[ $(operation_count demo) -eq $((ops_before + 1)) ]] || fail "'y' was taken for the cluster's name"
kaas_tty demo cluster scale demo --masters 1
expect_rc 0
expect_out "Scaling masters to 1 in cluster demo"
MASTERS_OP=$(sed -n 's/^  operation: //p' <<<"$OUT")
kaas operation show "$MASTERS_OP" --watch
expect_rc 0
expect_out "✓ destroy master-2"
kaas -o json cluster show demo
masters=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["masters"]["count"])' <<<"$OUT")
[[ $masters -eq 1 ]] || fail "demo has $masters masters after the confirmed scale to 1"

echo "== upgrade plan, operations"
kaas cluster scale demo --masters 2
expect_rc 1
expect_out "count"
kaas -o json cluster show demo
current=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["kubernetes_version"])' <<<"$OUT")
kaas -o json versions
# The newest patch of the next minor version: upgrades go one minor version at a time.
next=$(python3 -c '
import json, sys
major, minor = (int(x) for x in sys.argv[1].split(".")[:2])
later = [v["version"] for v in json.load(sys.stdin)["items"]
         if v["version"].split(".")[:2] == [str(major), str(minor + 1)]]
print(later[-1] if later else "")' "$current" <<<"$OUT")
[[ -n $next ]] || fail "kaas versions offers no minor version after $current"
kaas cluster upgrade demo --version "$next" --dry-run
expect_rc 0
expect_out "Plan to upgrade Kubernetes to $next in cluster demo"
expect_out "upgrade master-1 to $next"
expect_out "nothing was changed"
kaas operations demo
expect_rc 0
grep -qE '^op-[0-9a-f]+ +scale_workers +succeeded +100% ' <<<"$OUT" ||
  fail "kaas operations does not list the scale:
$OUT"
[[ $(grep -c '^op-' <<<"$OUT") -eq 3 ]] || fail "the upgrade dry run left an operation:
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

echo "== kubectl runs kaas credential (exec plugin) and gets a fresh one when the cached expired"
EXEC_CFG=$WORK/exec/config
mkdir -p "$WORK/exec"
set +e
"$KAAS" kubeconfig demo --exec >"$EXEC_CFG" 2>"$WORK/exec.err"
RC=$?
set -e
[[ $RC -eq 0 ]] || fail "kaas kubeconfig --exec exited $RC: $(cat "$WORK/exec.err")"
"$KUBECTL" config view --kubeconfig "$EXEC_CFG" --raw -o json >"$WORK/exec.json" ||
  fail "kubectl cannot read the output of kaas kubeconfig --exec"
DEMO_ID=$(python3 - "$WORK/exec.json" "$WORK/exec/cluster-ca.pem" "$KAAS" <<'PY'
import base64, json, sys
k = json.load(open(sys.argv[1]))
user = k["users"][0]["user"]
assert "client-certificate-data" not in user, user
e = user["exec"]
assert e["apiVersion"] == "client.authentication.k8s.io/v1", e
assert e["command"] == sys.argv[3] or e["command"].endswith("/kaas"), e
assert e["args"][-2] == "credential" and e["args"][-1].startswith("cl-"), e
assert e["interactiveMode"] == "Never", e
open(sys.argv[2], "wb").write(base64.b64decode(k["clusters"][0]["cluster"]["certificate-authority-data"]))
print(e["args"][-1])
PY
) || fail "the exec kubeconfig is not what kubectl's exec plugin needs: $(cat "$EXEC_CFG")"
# The credential kaas prints for kubectl, and its private cache.
kaas credential "$DEMO_ID"
expect_rc 0
python3 -c '
import json, sys
c = json.loads(sys.argv[1])
assert c["apiVersion"] == "client.authentication.k8s.io/v1" and c["kind"] == "ExecCredential"
s = c["status"]
assert s["clientCertificateData"].startswith("-----BEGIN CERTIFICATE-----"), s
assert "PRIVATE KEY-----" in s["clientKeyData"], s
assert s["expirationTimestamp"].endswith("Z"), s' "$OUT" || fail "not an ExecCredential: $OUT"
CACHE=$(ls "$(dirname "$KAAS_CONFIG")"/credentials/*"$DEMO_ID".json)
[[ $(stat -c %a "$CACHE") == 600 ]] || fail "the credential cache $CACHE is not 0600"
[[ $(stat -c %a "$(dirname "$CACHE")") == 700 ]] || fail "the credential cache dir is not 0700"
# A TLS endpoint that demands a client certificate from the cluster's CA; its own serving
# certificate comes from a CA of the test (kaas does not hand out the cluster CA's key).
(
  cd "$WORK/exec"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=test-server-ca -keyout server-ca.key -out server-ca.pem 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=kube-apiserver \
    -keyout server.key -out server.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
  openssl x509 -req -in server.csr -CA server-ca.pem -CAkey server-ca.key -set_serial 1 -days 1 \
    -extfile server.ext -out server.pem 2>/dev/null
  echo '{"major":"1","minor":"32","gitVersion":"v1.38.0"}' >version
) || fail "cannot make the test server's certificate"
(cd "$WORK/exec" && exec openssl s_server -accept 127.0.0.1:0 -WWW -cert server.pem \
  -key server.key -CAfile cluster-ca.pem -Verify 1 -verify_return_error >s_server.log 2>&1) &
S_SERVER_PID=$!
for _ in $(seq 1 100); do
  grep -q 'ACCEPT 127.0.0.1:' "$WORK/exec/s_server.log" 2>/dev/null && break
  sleep 0.05
done
TLS_PORT=$(sed -n 's/^ACCEPT 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/exec/s_server.log")
[[ -n $TLS_PORT ]] || fail "openssl s_server did not start: $(cat "$WORK/exec/s_server.log")"
CLUSTER_ENTRY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["clusters"][0]["name"])' \
  "$WORK/exec.json")
"$KUBECTL" --kubeconfig "$EXEC_CFG" config set-cluster "$CLUSTER_ENTRY" \
  --server "https://127.0.0.1:$TLS_PORT" --certificate-authority "$WORK/exec/server-ca.pem" \
  --embed-certs >/dev/null || fail "kubectl config set-cluster failed"
kubectl_version() {
  set +e
  OUT=$("$KUBECTL" --kubeconfig "$EXEC_CFG" get --raw /version 2>&1)
  RC=$?
  set -e
  LAST="kubectl get --raw /version ($1)"
}
kubectl_version "cached credential"
expect_rc 0
expect_out "v1.38.0"
grep -q "CN = admin" "$WORK/exec/s_server.log" || fail "the server did not see the certificate of admin (logged in): $(cat "$WORK/exec/s_server.log")"
# Expired, and not even a certificate of the cluster CA any more: used as is, the handshake
# would fail; kaas must see the expiry and fetch a fresh one through kaasd.
python3 - "$CACHE" "$WORK/exec/server-ca.pem" "$WORK/exec/server-ca.key" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["status"]["clientCertificateData"] = open(sys.argv[2]).read()
c["status"]["clientKeyData"] = open(sys.argv[3]).read()
c["status"]["expirationTimestamp"] = "2020-01-01T00:00:00Z"
json.dump(c, open(sys.argv[1], "w"))
PY
kubectl_version "expired cached credential"
expect_rc 0
expect_out "v1.38.0"
python3 - "$CACHE" <<'PY' || fail "the cache was not renewed: $(cat "$CACHE")"
import datetime, json, sys
s = json.load(open(sys.argv[1]))["status"]
assert "test-server-ca" not in s["clientCertificateData"]
exp = datetime.datetime.strptime(s["expirationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
assert exp > datetime.datetime.utcnow() + datetime.timedelta(minutes=30), exp
PY
[[ $(stat -c %a "$CACHE") == 600 ]] || fail "the renewed cache is not 0600"
kill "$S_SERVER_PID" 2>/dev/null || true
wait "$S_SERVER_PID" 2>/dev/null || true
S_SERVER_PID=

echo "== the same binary is kubectl's plugin (kubectl-kaas)"
mkdir -p "$WORK/plugins"
ln -s "$KAAS" "$WORK/plugins/kubectl-kaas"
set +e
OUT=$(PATH="$WORK/plugins:$PATH" "$KUBECTL" kaas whoami 2>&1)
RC=$?
set -e
LAST="kubectl kaas whoami"
expect_rc 0
expect_out "admin on $SERVER"
set +e
OUT=$(PATH="$WORK/plugins:$PATH" KUBECONFIG=$WORK/exec/use-config "$KUBECTL" kaas use demo --exec 2>&1)
RC=$?
set -e
LAST="kubectl kaas use demo --exec"
expect_rc 0
expect_out "Switched to context \"admin@demo\""
grep -q 'command: .*kubectl-kaas\|command: .*/kaas' "$WORK/exec/use-config" ||
  fail "kubectl kaas use --exec wrote no exec user: $(cat "$WORK/exec/use-config")"
set +e
OUT=$(PATH="$WORK/plugins:$PATH" "$KUBECTL" kaas clusters -x 2>&1)
RC=$?
set -e
LAST="kubectl kaas clusters -x"
expect_rc 2
expect_out "usage: kubectl kaas clusters"

echo "== labels: create with --label, clusters -l, cluster label, delete -l"
kaas cluster create lab-a --team payments --purpose personal --label env=test --label tier=web \
  --watch
expect_rc 0
kaas cluster create lab-b --team payments --purpose personal --label env=test --watch
expect_rc 0
kaas cluster create lab-x --team payments --purpose personal --label 'bad key=x'
expect_rc 2
expect_out "--label bad key=x"
kaas clusters -l env=test
expect_rc 0
expect_out "LABELS"
grep -qE '^ +lab-a .* env=test,tier=web$' <<<"$OUT" || fail "kaas clusters -l env=test:
$OUT"
grep -qE '^ +lab-b ' <<<"$OUT" || fail "kaas clusters -l env=test misses lab-b:
$OUT"
if grep -qE '^[* ] +demo ' <<<"$OUT"; then fail "demo has no labels but is listed:
$OUT"; fi
kaas clusters -l 'tier in (web,db),env!=prod'
expect_rc 0
[[ $(grep -c ' lab-' <<<"$OUT") -eq 1 ]] || fail "tier in (web,db) lists not only lab-a:
$OUT"
kaas clusters -l 'env=test,'
expect_rc 1
expect_out "position 10"

echo "== deploy token: token create --deployer, deploy-targets with KAAS_TOKEN"
kaas token create lab-deploy --deployer --team payments
expect_rc 2
expect_out "--deployer needs --selector"
kaas token create lab-deploy --selector env=test
expect_rc 2
expect_out "--team and --selector are for --deployer tokens"
kaas token create lab-deploy --deployer --team payments --selector 'env=test,'
expect_rc 1
expect_out "position 10"
kaas -o json token create lab-deploy --deployer --team payments -l 'env=test,tier=web'
expect_rc 0
DEPLOY=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])' <<<"$OUT")
DEPLOY_ID=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])' <<<"$OUT")
kaas token list
expect_rc 0
grep -qE "^$DEPLOY_ID +lab-deploy .* deployer +payments +'env=test,tier=web'\$" <<<"$OUT" ||
  fail "kaas token list does not show the deploy token's role, team and selector:
$OUT"
export KAAS_TOKEN=$DEPLOY
kaas deploy-targets --kubeconfigs "$WORK/deploy-kc"
expect_rc 0
grep -qE '^lab-a +cl-[^ ]+ +https://[^ ]+ +env=test,tier=web$' <<<"$OUT" ||
  fail "kaas deploy-targets does not list lab-a:
$OUT"
if grep -q 'lab-b' <<<"$OUT"; then fail "lab-b does not match tier=web but is a target:
$OUT"; fi
[[ $(stat -c %a "$WORK/deploy-kc/lab-a.yaml") == 600 ]] || fail "lab-a.yaml is not mode 600"
grep -q 'client-certificate-data:' "$WORK/deploy-kc/lab-a.yaml" ||
  fail "lab-a.yaml is not a kubeconfig"
[[ ! -e $WORK/deploy-kc/lab-b.yaml ]] || fail "a kubeconfig was written for lab-b"
kaas clusters
expect_rc 1
expect_out "(forbidden)"
kaas cluster delete lab-a --yes
expect_rc 1
unset KAAS_TOKEN
kaas token revoke "$DEPLOY_ID"
expect_rc 0
export KAAS_TOKEN=$DEPLOY
kaas deploy-targets
expect_rc 1
expect_out "(unauthenticated)"
unset KAAS_TOKEN
kaas cluster label lab-a tier=db
expect_rc 1
expect_out "already has a value (web); add --overwrite"
kaas cluster label lab-a tier=db --overwrite
expect_rc 0
expect_out "Cluster lab-a labeled: env=test,tier=db"
kaas cluster label lab-a tier- canary=
expect_rc 0
kaas cluster show lab-a
expect_out "Labels:"
expect_out "canary=,env=test"
kaas use -l env=test
expect_rc 1
expect_out "selector env=test matches 2 clusters (lab-a, lab-b); it must match exactly one"
KUBECONFIG=$WORK/sel-config kaas use -l 'canary,env=test'
expect_rc 0
expect_out "(cluster lab-a of team payments)"
kaas cluster delete -l env=test --dry-run
expect_rc 0
expect_out "Would delete 2 clusters matching env=test (dry run: nothing was changed)"
kaas cluster delete -l env=test
expect_rc 2
expect_out "refusing to delete 2 clusters without confirmation"
kaas_tty 1 cluster delete -l env=test
expect_rc 1
expect_out "Type the number of clusters (2) to confirm"
expect_out "Nothing was changed."
kaas_tty 2 cluster delete -l env=test --watch
expect_rc 0
expect_out "Deleting cluster lab-b"
kaas clusters -l env=test
expect_rc 0
expect_out "No clusters match env=test."

echo "== cluster delete: refused without --yes off a terminal, then --yes --watch"
kaas cluster delete demo
expect_rc 2
expect_out "Plan to delete cluster demo of team payments"
expect_out "this cannot be undone"
expect_out "--yes"
kaas -o json cluster show demo
status=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])' <<<"$OUT")
[[ $status == running ]] || fail "demo is $status after a refused delete"
kaas cluster delete demo --yes --watch
expect_rc 0
expect_out "100%"
kaas clusters
expect_rc 0
if grep -qE '^[* ] +demo ' <<<"$OUT"; then fail "demo is still listed after delete:
$OUT"; fi

echo "== webhooks: add (signed), list, test, deliveries, remove"
kaas webhook add http://127.0.0.1:9/hook --team payments --events cluster.created
expect_rc 1
expect_out "loopback"
kaas webhook add http://192.0.2.1/hook --events cluster.created
expect_rc 2
expect_out "--team"
kaas_stdin "hook-secret" webhook add http://192.0.2.1/hook --team payments --format slack \
  --events cluster.created,operation.failed --secret-stdin
expect_rc 0
expect_out "(slack, signed)"
hook=$(sed -n 's/^Added webhook \([^ ]*\) .*/\1/p' <<<"$OUT")
[[ -n $hook ]] || fail "no webhook id in: $OUT"
kaas webhook list --team payments
expect_rc 0
expect_out "$hook"
expect_out "cluster.created,operation.failed"
kaas -o json webhook list --team payments
if grep -q "hook-secret" <<<"$OUT"; then fail "the secret is shown: $OUT"; fi
kaas webhook test "$hook"
expect_rc 0
expect_out "Queued test notification"
kaas webhook deliveries "$hook"
expect_rc 0
kaas webhook remove "$hook"
expect_rc 0
kaas webhook list --team payments
expect_out "No webhooks."

echo "== logout revokes the token"
token=$(sed -n 's/^token: //p' "$KAAS_CONFIG")
[[ $(http_status "$token" /api/v1/me) == 200 ]] || fail "the session token is refused"
kaas logout
expect_rc 0
expect_out "token revoked"
status=$(http_status "$token" /api/v1/me)
[[ $status == 401 ]] || fail "the token still works after logout (HTTP $status)"
kaas whoami
expect_rc 1
expect_out "kaas login"
kaas logout
expect_rc 0
expect_out "Not logged in."

echo "PASS: kaas CLI end to end"
