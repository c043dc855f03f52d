#!/bin/sh
# Redis and Qdrant credentials for the Compose deployment (deploy/compose.yaml), next to the
# certificates of dev-certs.sh and signed by its CA: a TLS certificate for Redis and one for
# Qdrant (cert-manager's file shape), Redis's ACL file (default user off, user vrs with a
# random password, stored there as its SHA-256 only), a random Qdrant API key, and the
# environment files that hand each container the secrets it uses. Needs only openssl.
#
#   sudo deploy/docker/dev-certs.sh [DIR]       # first: the CA and the vrs certificates
#   sudo deploy/docker/dev-secrets.sh [DIR]     # DIR defaults to var/tls
#
# As root (sudo) the Redis key goes to the Redis container's user (uid 999) and the
# environment files to you (docker compose reads them). Existing files are kept: delete
# DIR/redis, DIR/qdrant and DIR/*.env to make new ones.
set -eu

DIR=${1:-var/tls}
DAYS=${VRS_DEV_CERT_DAYS:-365}
REDIS_UID=999
umask 077

if [ ! -f "$DIR/ca.crt" ] || [ ! -f "$DIR/ca.key" ]; then
  echo "no CA in $DIR: run deploy/docker/dev-certs.sh $DIR first" >&2
  exit 1
fi

secret() { openssl rand -hex 32; }
sha256() { printf %s "$1" | openssl dgst -sha256 -r | cut -d' ' -f1; }

# issue NAME SUBJECT_ALT_NAMES: a server certificate in DIR/NAME/{tls.crt,tls.key,ca.crt}
issue() {
  out="$DIR/$1"
  mkdir -p "$out"
  [ -f "$out/tls.crt" ] && return 0
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/tls.key"
  ext="$out/ext.cnf"
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=$2" >"$ext"
  openssl req -new -key "$out/tls.key" -subj "/O=vrs/CN=$1" -out "$out/tls.csr"
  openssl x509 -req -in "$out/tls.csr" -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$DAYS" -sha256 -extfile "$ext" \
    -out "$out/tls.crt"
  rm -f "$out/tls.csr" "$ext"
  cp "$DIR/ca.crt" "$out/ca.crt"
}

# Reached by their Compose names; loopback for health checks and the host's own tools.
issue redis "DNS:redis,DNS:localhost,IP:127.0.0.1"
issue qdrant "DNS:qdrant,DNS:localhost,IP:127.0.0.1"

if [ ! -f "$DIR/services.env" ]; then
  redis_password=$(secret)
  qdrant_key=$(secret)
  printf '%s\n' "user default off" \
    "user vrs on #$(sha256 "$redis_password") ~vrs* +@all -@dangerous" >"$DIR/redis/users.acl"
  # The vrs services: Redis as user vrs (VRS_REDIS_USERNAME in compose.yaml), Qdrant's key.
  printf '%s\n' "VRS_REDIS_PASSWORD=$redis_password" "VRS_QDRANT_API_KEY=$qdrant_key" \
    >"$DIR/services.env"
  # Redis's own health check (redis-cli reads REDISCLI_AUTH), Qdrant's key.
  printf '%s\n' "REDISCLI_AUTH=$redis_password" >"$DIR/redis.env"
  printf '%s\n' "QDRANT__SERVICE__API_KEY=$qdrant_key" >"$DIR/qdrant.env"
fi

chmod 0755 "$DIR/redis" "$DIR/qdrant"
chmod 0644 "$DIR"/redis/tls.crt "$DIR"/redis/ca.crt "$DIR"/redis/users.acl \
  "$DIR"/qdrant/tls.crt "$DIR"/qdrant/ca.crt
chmod 0600 "$DIR"/redis/tls.key "$DIR"/qdrant/tls.key "$DIR"/*.env
if [ "$(id -u)" = 0 ]; then
  chown "$REDIS_UID:$REDIS_UID" "$DIR/redis/tls.key"
  if [ -n "${SUDO_UID:-}" ]; then
    chown "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$DIR"/*.env
  fi
else
  echo "note: run as root (sudo) so the Redis container (uid $REDIS_UID) can read its key" >&2
fi
echo "Redis and Qdrant credentials in $DIR (passwords and keys in $DIR/*.env)"
