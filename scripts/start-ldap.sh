#!/usr/bin/env bash
# A throwaway OpenLDAP server (Debian's slapd) for the directory-login tests and demos:
#
#   start-ldap.sh DIR PORT [TLS_PORT]  a fresh server in DIR (whatever was in DIR is removed):
#                                  ldap://127.0.0.1:PORT (StartTLS offered) and, with TLS_PORT,
#                                  ldaps://127.0.0.1:TLS_PORT; its certificate is signed by a
#                                  test CA made in DIR (DIR/ca.pem, for --ldap-ca-file)
#   start-ldap.sh --stop DIR       stop it and remove DIR/data (DIR/slapd.log stays)
#
# Loopback only; runs slapd directly with a generated slapd.conf (no debconf, no system
# service, independent of /etc/ldap/slapd.d). The seeded tree, dc=kaas,dc=test:
#   cn=admin,dc=kaas,dc=test           rootdn, password admin-secret (for ldapmodify)
#   cn=kaas,ou=services,dc=kaas,dc=test  kaas's service account, password service-secret
#                                      (DIR/bind-password holds it, for
#                                      --ldap-bind-password-file)
#   uid=alice,ou=people,...            password alice-password-1, in cn=payments-admins
#   uid=bob,ou=people,...              password bob-password-1, in cn=payments-devs and
#                                      cn=web-readers
#   uid=carol,ou=people,...            password carol-password-1, in no group
#   cn=payments-admins, cn=payments-devs, cn=web-readers,ou=groups,... (groupOfNames)
# Users may read the groups; only the service account may search ou=people; anonymous may
# only bind.
set -euo pipefail

SUFFIX="dc=kaas,dc=test"

usage() {
  echo "usage: $0 DIR PORT [TLS_PORT] | $0 --stop DIR" >&2
  exit 2
}

stop_server() {
  local dir=$1 pid
  [ -f "$dir/slapd.pid" ] || return 0
  pid=$(cat "$dir/slapd.pid")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/slapd.pid"
}

if [ "${1:-}" = "--stop" ]; then
  [ $# -eq 2 ] || usage
  dir=$(realpath -m "$2")
  stop_server "$dir"
  rm -rf "$dir/data"
  exit 0
fi

[ $# -eq 2 ] || [ $# -eq 3 ] || usage
dir=$(realpath -m "$1")
port=$2
tls_port=${3:-}

for tool in slapd slapadd slappasswd ldapsearch openssl; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
    echo "start-ldap: $tool not found; install slapd, ldap-utils and openssl" \
      "(scripts/install-deps.sh)" >&2
    exit 1
  fi
done
export PATH="$PATH:/usr/sbin"

# A server left running by an interrupted test run.
stop_server "$dir" || true
rm -rf "$dir"
mkdir -p "$dir/data"
chmod 700 "$dir"

# The test CA and the server's certificate (127.0.0.1 and localhost).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=kaas test LDAP CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$dir/ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
  -CAcreateserial -days 2 -extfile "$dir/ext" -out "$dir/server.pem" 2>/dev/null

cat >"$dir/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $dir/slapd.pid
argsfile $dir/slapd.args
TLSCACertificateFile $dir/ca.pem
TLSCertificateFile $dir/server.pem
TLSCertificateKeyFile $dir/server.key

database mdb
maxsize 67108864
suffix "$SUFFIX"
rootdn "cn=admin,$SUFFIX"
rootpw admin-secret
directory $dir/data

access to attrs=userPassword
  by anonymous auth
  by self write
  by * none
access to dn.subtree="ou=groups,$SUFFIX"
  by dn.exact="cn=kaas,ou=services,$SUFFIX" read
  by users read
  by * none
access to *
  by dn.exact="cn=kaas,ou=services,$SUFFIX" read
  by self read
  by * none
CONF

person() {  # uid password
  cat <<LDIF
dn: uid=$1,ou=people,$SUFFIX
objectClass: inetOrgPerson
uid: $1
cn: ${1^}
sn: Test
mail: $1@kaas.test
userPassword: $(slappasswd -s "$2")

LDIF
}
group() {  # cn member-uid...
  local cn=$1
  shift
  echo "dn: cn=$cn,ou=groups,$SUFFIX"
  echo "objectClass: groupOfNames"
  echo "cn: $cn"
  for uid in "$@"; do echo "member: uid=$uid,ou=people,$SUFFIX"; done
  echo
}
{
  cat <<LDIF
dn: $SUFFIX
objectClass: dcObject
objectClass: organization
dc: kaas
o: kaas tests

dn: ou=people,$SUFFIX
objectClass: organizationalUnit
ou: people

dn: ou=groups,$SUFFIX
objectClass: organizationalUnit
ou: groups

dn: ou=services,$SUFFIX
objectClass: organizationalUnit
ou: services

dn: cn=kaas,ou=services,$SUFFIX
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: kaas
userPassword: $(slappasswd -s service-secret)

LDIF
  person alice alice-password-1
  person bob bob-password-1
  person carol carol-password-1
  group payments-admins alice
  group payments-devs bob
  group web-readers bob
} >"$dir/seed.ldif"
printf 'service-secret\n' >"$dir/bind-password"
chmod 600 "$dir/bind-password"

slapadd -q -f "$dir/slapd.conf" -l "$dir/seed.ldif" >"$dir/slapadd.log" 2>&1 || {
  cat "$dir/slapadd.log" >&2
  exit 1
}

urls="ldap://127.0.0.1:$port/"
if [ -n "$tls_port" ]; then urls="$urls ldaps://127.0.0.1:$tls_port/"; fi
# -d keeps slapd in the foreground, logging connections and operations to slapd.log.
setsid slapd -f "$dir/slapd.conf" -h "$urls" -d stats >"$dir/slapd.log" 2>&1 </dev/null &
for _ in $(seq 1 100); do
  if ldapsearch -x -H "ldap://127.0.0.1:$port" -b "" -s base namingContexts >/dev/null 2>&1; then
    break
  fi
  sleep 0.1
done
if ! ldapsearch -x -H "ldap://127.0.0.1:$port" -b "" -s base >/dev/null 2>&1; then
  echo "start-ldap: no answer on 127.0.0.1:$port (port taken?); its log:" >&2
  tail -n 20 "$dir/slapd.log" >&2 || true
  exit 1
fi
echo "start-ldap: ldap://127.0.0.1:$port${tls_port:+ and ldaps://127.0.0.1:$tls_port}," \
  "base $SUFFIX, CA $dir/ca.pem"
