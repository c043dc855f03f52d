#!/bin/sh
# Certificates for the Compose deployment (deploy/compose.yaml): a private CA, a server
# certificate for each vrs service, a client certificate for search -> embedder and one for
# you (the CLI), in cert-manager's file shape (tls.crt, tls.key, ca.crt), plus the tokens file
# that maps the client certificates to roles. Needs only openssl (1.1.1 or later).
#
#   sudo deploy/docker/dev-certs.sh [DIR]       # DIR defaults to var/tls
#
# Run as root (sudo), the service keys are handed to the containers' user (uid 10001) and
# stay unreadable to anyone else; your own client key is yours. Run as yourself, everything
# is yours and the containers cannot read their keys: chown them, or rerun with sudo.
# Existing files are kept: delete DIR to start over (new CA: every certificate changes).
set -eu

DIR=${1:-var/tls}
DAYS=${VRS_DEV_CERT_DAYS:-365}
SERVICE_UID=10001
umask 077
mkdir -p "$DIR"

key() {  # key FILE: a new EC P-256 private key (PKCS#8), unless FILE exists
  [ -f "$1" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
}

if [ ! -f "$DIR/ca.crt" ]; then
  key "$DIR/ca.key"
  openssl req -x509 -new -key "$DIR/ca.key" -sha256 -days $((DAYS * 3)) \
    -subj "/O=vrs/CN=vrs compose CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$DIR/ca.crt"
fi

# issue NAME COMMON_NAME EXTENDED_USAGE [SUBJECT_ALT_NAMES]: DIR/NAME/{tls.crt,tls.key,ca.crt}
issue() {
  out="$DIR/$1"
  mkdir -p "$out"
  [ -f "$out/tls.crt" ] && return 0
  key "$out/tls.key"
  ext="$out/ext.cnf"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$3"
    [ -z "${4:-}" ] || echo "subjectAltName=$4"
  } >"$ext"
  openssl req -new -key "$out/tls.key" -subj "/O=vrs/CN=$2" -out "$out/tls.csr"
  openssl x509 -req -in "$out/tls.csr" -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$DAYS" -sha256 -extfile "$ext" \
    -out "$out/tls.crt"
  rm -f "$out/tls.csr" "$ext"
  cp "$DIR/ca.crt" "$out/ca.crt"
}

# Servers answer on their Compose name and on loopback (the container's own health check,
# which presents the server certificate as its client certificate: hence clientAuth).
issue embedder vrs-embedder serverAuth,clientAuth \
  "DNS:embedder,DNS:localhost,IP:127.0.0.1"
issue search vrs-search serverAuth,clientAuth "DNS:search,DNS:localhost,IP:127.0.0.1"
issue search-client vrs-search clientAuth
issue operator vrs-operator clientAuth
# The web gateway serves HTTPS with its own certificate, and calls search and the embedder
# (product lookups, stats) as CN=vrs-web.
issue web vrs-web serverAuth "DNS:web,DNS:localhost,IP:127.0.0.1"
issue web-client vrs-web clientAuth

mkdir -p "$DIR/tokens"
if [ ! -f "$DIR/tokens/tokens" ]; then
  # Callers by client-certificate subject (no secret in this file). Token callers: add the
  # line `vrs token create NAME --roles ...` prints. In a directory of its own: mounted
  # whole, so an edit (a new file renamed over the old) reaches the containers.
  cat >"$DIR/tokens/tokens" <<'EOF'
# name        credential              roles
vrs-search    subject:CN=vrs-search   roles=ingest,admin
vrs-operator  subject:CN=vrs-operator roles=search,ingest,admin
vrs-web       subject:CN=vrs-web      roles=search,admin
EOF
fi

chmod 0755 "$DIR" "$DIR"/embedder "$DIR"/search "$DIR"/search-client "$DIR"/operator \
  "$DIR"/web "$DIR"/web-client "$DIR"/tokens
chmod 0644 "$DIR"/ca.crt "$DIR"/tokens/tokens "$DIR"/*/tls.crt "$DIR"/*/ca.crt
chmod 0600 "$DIR"/ca.key "$DIR"/*/tls.key
if [ "$(id -u)" = 0 ]; then
  for service in embedder search search-client web-client; do
    chown "$SERVICE_UID:$SERVICE_UID" "$DIR/$service/tls.key"
  done
  if [ -n "${SUDO_UID:-}" ]; then
    chown "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$DIR/ca.key" "$DIR/operator/tls.key"
  fi
else
  echo "note: run as root (sudo) so the containers (uid $SERVICE_UID) can read their keys" >&2
fi
echo "certificates in $DIR; the CLI: vrs --tls-ca $DIR/ca.crt" \
  "--tls-cert $DIR/operator/tls.crt --tls-key $DIR/operator/tls.key --address localhost:50051 stats"
