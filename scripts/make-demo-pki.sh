#!/usr/bin/env bash
# Generates the demo PKI of extplugtest (dtls.md §4) as PEM files with openssl.
#
#   cf-root (EC P-256, self-signed CA)
#   ├── cf-ca (EC P-256, CA, pathlen 1, keyCertSign/cRLSign)
#   │   ├── cf-server        (EC P-256)   alias "server"
#   │   ├── cf-server-rsa    (RSA 2048)   alias "serverrsa"
#   │   ├── cf-client        (EC P-256, EKU clientAuth)
#   │   ├── cf-client-rsa    (RSA 2048, EKU clientAuth)
#   │   └── cf-ca2 (EC P-256, CA, pathlen 0)
#   │       └── cf-serverlarge (EC P-256) alias "serverlarge"
#   └── cf-ca-rsa (RSA 2048, CA, pathlen 0)
#       └── cf-server-ca-rsa (EC P-256)   alias "servercarsa"
#
# Output (default: resources/pki next to this script's repository):
#   <name>.pem        certificate
#   <name>-key.pem    private key, PKCS#8 PEM (unencrypted)
#   <name>-chain.pem  end entities only: certificate chain leaf → … → cf-root
#   trust.pem         trust bundle: cf-root, cf-ca, cf-ca2, cf-ca-rsa
#
# Usage: [PKI_START=YYYYMMDDHHMMSSZ] scripts/make-demo-pki.sh [out-dir] [days]
# DEMO CREDENTIALS ONLY — the private keys are public. Never use them in production.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT_DIR="${1:-$SCRIPT_DIR/../resources/pki}"
DAYS="${2:-3650}"
# notBefore (GeneralizedTime, UTC); notAfter = notBefore + DAYS.
START="${PKI_START:-20250101000000Z}"
END="$(date -u -d "${START:0:4}-${START:4:2}-${START:6:2} ${START:8:2}:${START:10:2}:${START:12:2} UTC + $DAYS days" +%Y%m%d%H%M%SZ)"
DN_PREFIX="/C=CA/L=Ottawa/O=Eclipse IoT/OU=Californium"

command -v openssl >/dev/null || { echo "openssl not found" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Extension sections used when issuing (openssl x509 -extfile … -extensions <name>).
cat >"$WORK/ext.cnf" <<'EOF'
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ca]
basicConstraints = critical, CA:TRUE, pathlen:1
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ca_leaf_only]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[server]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:my.test.server, DNS:californium.eclipseprojects.io, DNS:localhost, IP:35.185.40.182, IP:127.0.0.1, IP:::1

[server_rsa]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:localhost, DNS:californium.eclipseprojects.io, IP:127.0.0.1, IP:::1, IP:35.185.40.182

[server_large]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = IP:127.0.0.1, IP:::1

[server_ca_rsa]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1

[client]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

# key <name> <ec|rsa>: PKCS#8 PEM private key
key() {
  if [ "$2" = ec ]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
      -pkeyopt ec_param_enc:named_curve -out "$WORK/$1-key.pem"
  else
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/$1-key.pem" 2>/dev/null
  fi
}

# `openssl ca` is used (instead of `x509 -req`) because it can set an explicit start date:
# backdating notBefore keeps the files valid on machines whose clock is behind.
cat >"$WORK/ca.cnf" <<EOF
[ca]
default_ca = demo
[demo]
database = $WORK/index.txt
new_certs_dir = $WORK/newcerts
serial = $WORK/serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = none
[policy_any]
countryName = optional
localityName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
EOF
: >"$WORK/index.txt"
mkdir -p "$WORK/newcerts"

# sign <name> <issuer|self> <extension-section>
sign() {
  openssl req -new -key "$WORK/$1-key.pem" -subj "$DN_PREFIX/CN=$1" -out "$WORK/$1.csr"
  local issuer_args=(-cert "$WORK/$2.pem" -keyfile "$WORK/$2-key.pem")
  if [ "$2" = self ]; then issuer_args=(-selfsign -keyfile "$WORK/$1-key.pem"); fi
  openssl ca -batch -config "$WORK/ca.cnf" -in "$WORK/$1.csr" -out "$WORK/$1.pem" \
    "${issuer_args[@]}" -startdate "$START" -enddate "$END" -rand_serial -preserveDN -notext \
    -extfile "$WORK/ext.cnf" -extensions "$3" 2>/dev/null
}
root() { sign "$1" self root; }
issue() { sign "$1" "$2" "$3"; }

key cf-root ec;           root cf-root
key cf-ca ec;             issue cf-ca cf-root ca
key cf-ca2 ec;            issue cf-ca2 cf-ca ca_leaf_only
key cf-ca-rsa rsa;        issue cf-ca-rsa cf-root ca_leaf_only
key cf-server ec;         issue cf-server cf-ca server
key cf-server-rsa rsa;    issue cf-server-rsa cf-ca server_rsa
key cf-serverlarge ec;    issue cf-serverlarge cf-ca2 server_large
key cf-server-ca-rsa ec;  issue cf-server-ca-rsa cf-ca-rsa server_ca_rsa
key cf-client ec;         issue cf-client cf-ca client
key cf-client-rsa rsa;    issue cf-client-rsa cf-ca client

cat "$WORK/cf-server.pem" "$WORK/cf-ca.pem" "$WORK/cf-root.pem" >"$WORK/cf-server-chain.pem"
cat "$WORK/cf-server-rsa.pem" "$WORK/cf-ca.pem" "$WORK/cf-root.pem" >"$WORK/cf-server-rsa-chain.pem"
cat "$WORK/cf-serverlarge.pem" "$WORK/cf-ca2.pem" "$WORK/cf-ca.pem" "$WORK/cf-root.pem" >"$WORK/cf-serverlarge-chain.pem"
cat "$WORK/cf-server-ca-rsa.pem" "$WORK/cf-ca-rsa.pem" "$WORK/cf-root.pem" >"$WORK/cf-server-ca-rsa-chain.pem"
cat "$WORK/cf-client.pem" "$WORK/cf-ca.pem" "$WORK/cf-root.pem" >"$WORK/cf-client-chain.pem"
cat "$WORK/cf-client-rsa.pem" "$WORK/cf-ca.pem" "$WORK/cf-root.pem" >"$WORK/cf-client-rsa-chain.pem"
cat "$WORK/cf-root.pem" "$WORK/cf-ca.pem" "$WORK/cf-ca2.pem" "$WORK/cf-ca-rsa.pem" >"$WORK/trust.pem"

# Self-check before publishing: every chain must verify to cf-root.
for name in cf-server cf-server-rsa cf-client cf-client-rsa; do
  openssl verify -CAfile "$WORK/cf-root.pem" -untrusted "$WORK/cf-ca.pem" "$WORK/$name.pem" >/dev/null
done
openssl verify -CAfile "$WORK/cf-root.pem" -untrusted <(cat "$WORK/cf-ca.pem" "$WORK/cf-ca2.pem") \
  "$WORK/cf-serverlarge.pem" >/dev/null
openssl verify -CAfile "$WORK/cf-root.pem" -untrusted "$WORK/cf-ca-rsa.pem" "$WORK/cf-server-ca-rsa.pem" >/dev/null

mkdir -p "$OUT_DIR"
rm -f "$WORK"/*.csr
for f in "$WORK"/*.pem; do
  cp "$f" "$OUT_DIR/"
done
chmod 644 "$OUT_DIR"/*.pem
echo "demo PKI written to $OUT_DIR (valid $START .. $END)"
