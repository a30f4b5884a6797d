#!/bin/sh
# gen-dev-certs.sh: development/test PKI for sparkgate.  NOT for production.
#
#   certs/gen-dev-certs.sh [--force] OUTDIR
#
# Creates in OUTDIR (EC P-256 keys, SHA-256 signatures):
#   ca.pem      ca.key        dev CA (signs everything below)
#   server.pem  server.key    sparkgate's TLS listener  (SAN DNS:localhost, IP:127.0.0.1, IP:::1)
#   backend.pem backend.key   test backend's TLS server (same SANs)
#   client.pem  client.key    sparkgate -> backend mTLS client cert (CN=sparkgate)
#   alice.pem   alice.key     a user client cert (CN=alice)
# Keys are mode 0600.  Idempotent: does nothing if every file exists;
# --force regenerates all of them.  Needs only POSIX sh and the openssl CLI.
set -eu

usage() { echo "usage: $0 [--force] OUTDIR" >&2; exit 2; }

force=0
out=
for a in "$@"; do
    case "$a" in
        --force|-f) force=1 ;;
        -h|--help) echo "usage: $0 [--force] OUTDIR"; exit 0 ;;
        -*) usage ;;
        *) [ -z "$out" ] || usage; out=$a ;;
    esac
done
[ -n "$out" ] || usage
command -v openssl >/dev/null 2>&1 || { echo "$0: openssl not found (apt-get install openssl)" >&2; exit 1; }

FILES="ca.pem ca.key server.pem server.key backend.pem backend.key client.pem client.key alice.pem alice.key"

mkdir -p "$out"
if [ "$force" = 0 ]; then
    all=1
    for f in $FILES; do [ -s "$out/$f" ] || all=0; done
    if [ "$all" = 1 ]; then
        echo "gen-dev-certs: all certificates already present in $out (use --force to regenerate)"
        exit 0
    fi
fi

umask 077
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gen-dev-certs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
days=825

newkey() { # file
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -pkeyopt ec_param_enc:named_curve -out "$1" 2>/dev/null
    chmod 600 "$1"
}

# CA
newkey "$tmp/ca.key"
cat > "$tmp/ca.ext" <<EOF
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
openssl req -new -sha256 -key "$tmp/ca.key" -subj "/O=sparkgate dev/CN=sparkgate dev CA" \
    -out "$tmp/ca.csr" 2>/dev/null
openssl x509 -req -sha256 -in "$tmp/ca.csr" -signkey "$tmp/ca.key" -days "$days" \
    -set_serial "1$(date +%s)" -extfile "$tmp/ca.ext" -out "$tmp/ca.pem" 2>/dev/null

serial=1000
leaf() { # name CN kind(server|client)
    newkey "$tmp/$1.key"
    openssl req -new -sha256 -key "$tmp/$1.key" -subj "/O=sparkgate dev/CN=$2" \
        -out "$tmp/$1.csr" 2>/dev/null
    if [ "$3" = server ]; then
        cat > "$tmp/$1.ext" <<EOF
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
authorityKeyIdentifier = keyid
subjectKeyIdentifier = hash
EOF
    else
        cat > "$tmp/$1.ext" <<EOF
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
subjectKeyIdentifier = hash
EOF
    fi
    serial=$((serial + 1))
    openssl x509 -req -sha256 -in "$tmp/$1.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
        -set_serial "$serial$(date +%s)" -days "$days" -extfile "$tmp/$1.ext" \
        -out "$tmp/$1.pem" 2>/dev/null
}

leaf server localhost server
leaf backend localhost server
leaf client sparkgate client
leaf alice alice client

for f in $FILES; do
    case "$f" in
        *.key) chmod 600 "$tmp/$f" ;;
        *.pem) chmod 644 "$tmp/$f" ;;
    esac
done
for f in $FILES; do
    # the certificates must chain to the CA
    case "$f" in
        ca.pem|*.key) ;;
        *) openssl verify -CAfile "$tmp/ca.pem" "$tmp/$f" >/dev/null ;;
    esac
done
for f in $FILES; do
    mv -f "$tmp/$f" "$out/$f"
done

echo "gen-dev-certs: wrote development certificates to $out:"
for f in $FILES; do
    case "$f" in
        *.pem) echo "  $f: $(openssl x509 -noout -subject -in "$out/$f" | sed 's/^subject=//')" ;;
        *.key) echo "  $f (mode 0600)" ;;
    esac
done
