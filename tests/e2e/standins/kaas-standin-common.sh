# Shared by the stand-ins (sourced): the record, and the checks of the files a call points at.
# Every call is one line of /var/log/kaas-standins.log: "<unix time> <host> <tool> <args...>";
# a failed check adds "<unix time> <host> <tool> FAILED: <why>" and exits 1, as the real tool
# would fail the playbook.
LOG=/var/log/kaas-standins.log
record() { echo "$(date +%s.%N) $(hostname) $ME $*" >> "$LOG"; }
fail() {
  echo "$(date +%s.%N) $(hostname) $ME FAILED: $*" >> "$LOG"
  echo "STAND-IN $ME: $*" >&2
  exit 1
}
yaml_ok() {
  [ -s "$1" ] || fail "$1 is missing or empty"
  python3 -c 'import sys, yaml; list(yaml.safe_load_all(open(sys.argv[1])))' "$1" 2>/dev/null ||
    fail "$1 does not parse as YAML"
}
pem_ok() {
  [ -s "$1" ] && grep -q -- '-----BEGIN' "$1" || fail "$1 is missing or not PEM"
}
# The value of --NAME or --NAME=VALUE in the arguments after the first.
flag() {
  local name=$1; shift
  while [ $# -gt 0 ]; do
    case "$1" in
      "--$name") echo "${2:-}"; return;;
      "--$name="*) echo "${1#--$name=}"; return;;
    esac
    shift
  done
}
# A YAML field of the first document that has it: yaml_get FILE key.sub.sub
yaml_get() {
  python3 - "$1" "$2" <<'PY'
import sys, yaml
for doc in yaml.safe_load_all(open(sys.argv[1])):
    v = doc
    for k in sys.argv[2].split("."):
        v = v.get(k) if isinstance(v, dict) else None
    if v is not None:
        print(" ".join(map(str, v)) if isinstance(v, list) else v)
        break
PY
}
