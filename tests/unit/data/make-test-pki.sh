#!/bin/bash
# Certificates for tests/unit/test_security_tls.c, made with the openssl command line into DIR
# (nothing here is checked in). Run by the test before its first test:
#   make-test-pki.sh DIR
# Every NAME below is NAME.pem (the certificate) and, for leaves, NAME.ks.pem (key + certificate:
# a PEM key store as ZooKeeper reads one). Keys are P-256 except server's (RSA 2048).
#   ca, rogue-ca          two CAs with the same subject (CN=zabkeeper test CA); only ca is trusted
#   server                CN=server, SAN IP:127.0.0.1 and DNS:localhost, by ca
#   client                C=US, O=Example, Inc., CN=client, SAN IP:127.0.0.1, by ca
#   nosan                 CN=nosan, no SAN, by ca
#   rogue-client, rogue-server   as client and server, by rogue-ca
#   expired               CN=expired, SAN as server's, by ca, expired a day before it starts
#   server-enc.ks.pem     server's key as encrypted PKCS#8 (password pemsecret) + certificate
#   server-certfirst.ks.pem   server's certificate, then its key
#   mismatch.ks.pem       another key + server's certificate
#   server-certonly.pem (no key), empty.pem, garbage.pem
#   server.p12, client.p12    PKCS12 key stores (password p12secret; server's with ca.pem)
#   server.store          server.p12 under a name that does not tell its type
#   trust.p12             PKCS12 trust store of ca.pem (password trustsecret)
#   subj-*                certificates whose subjects test the RFC 2253 formatter
set -eu
cd "$1"
printf '[req]\ndistinguished_name = dn\n[dn]\n' > min.cnf
# string_mask=default: T61String and BMPString where UTF8String would do (old CAs do this)
printf '[req]\ndistinguished_name = dn\nstring_mask = default\n[dn]\n' > legacy.cnf
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > san.ext
SAN=subjectAltName=IP:127.0.0.1,DNS:localhost

ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
ca() {
    ec "$1.key"
    openssl req -x509 -new -config min.cnf -key "$1.key" -subj "$2" -days 30 \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
        -out "$1.pem"
}
# leaf NAME KEY ISSUER SUBJECT [openssl req options...]
leaf() {
    local n=$1 k=$2 i=$3 s=$4 cnf=min.cnf
    shift 4
    if [[ ${1:-} == --legacy ]]; then cnf=legacy.cnf; shift; fi
    openssl req -x509 -new -config "$cnf" -key "$k" -subj "$s" -CA "$i.pem" -CAkey "$i.key" \
        -days 30 -addext basicConstraints=critical,CA:FALSE "$@" -out "$n.pem"
    cat "$k" "$n.pem" > "$n.ks.pem"
}

ca ca "/CN=zabkeeper test CA"
ca rogue-ca "/CN=zabkeeper test CA"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out server.key 2>/dev/null
ec client.key
ec other.key
leaf server server.key ca "/CN=server" -addext "$SAN"
leaf client client.key ca "/C=US/O=Example, Inc./CN=client" -addext subjectAltName=IP:127.0.0.1
leaf nosan client.key ca "/CN=nosan"
leaf rogue-client client.key rogue-ca "/C=US/O=Example, Inc./CN=client" \
    -addext subjectAltName=IP:127.0.0.1
leaf rogue-server server.key rogue-ca "/CN=server" -addext "$SAN"
openssl req -new -config min.cnf -key client.key -subj "/CN=expired" -out expired.csr
openssl x509 -req -in expired.csr -CA ca.pem -CAkey ca.key -set_serial 7 -days -1 \
    -extfile san.ext -out expired.pem 2>/dev/null
cat client.key expired.pem > expired.ks.pem

openssl pkcs8 -topk8 -in server.key -v2 aes-256-cbc -passout pass:pemsecret -out server-enc.key
cat server-enc.key server.pem > server-enc.ks.pem
cat server.pem server.key > server-certfirst.ks.pem
cat other.key server.pem > mismatch.ks.pem
cp server.pem server-certonly.pem
: > empty.pem
echo "not a certificate" > garbage.pem
openssl pkcs12 -export -inkey server.key -in server.pem -certfile ca.pem -name server \
    -passout pass:p12secret -out server.p12
cp server.p12 server.store
openssl pkcs12 -export -inkey client.key -in client.pem -name client -passout pass:p12secret \
    -out client.p12
openssl pkcs12 -export -nokeys -in ca.pem -passout pass:trustsecret -out trust.p12

leaf subj-email client.key ca "/CN=client/emailAddress=client@example.com"
leaf subj-multi client.key ca "/O=Org/CN=alice+UID=a1"
leaf subj-multi3 client.key ca "/CN=a+OU=b+O=c"
leaf subj-escape client.key ca "/CN=a=b#c/OU=#lead"
leaf subj-special client.key ca '/CN=x\/y;z<>"q\\'
leaf subj-plus client.key ca '/OU=a\+b,c'
leaf subj-space1 client.key ca "/CN= one /O=a b"
leaf subj-space2 client.key ca "/CN=  two lead/O=trail  /L=   "
leaf subj-cr client.key ca "$(printf '/CN=\rcr\r')"
leaf subj-keywords client.key ca \
    "/DC=org/DC=example/C=DE/ST=Bayern/L=Munich/street=Main St 1/O=Org/OU=Unit/CN=all/UID=u7"
leaf subj-oids client.key ca "/serialNumber=123/title=Boss/GN=Ann/SN=Lee/CN=x"
leaf subj-utf8 client.key ca "/CN=Grüße/O=日本" -utf8
leaf subj-legacy client.key ca "/CN=Grüße/O=日本/OU=abc" --legacy -utf8
