#!/usr/bin/env bash
# The gateway over HTTPS with client certificates: custosd on loopback with
# --tls-cert/--tls-key and --tls-client-ca, certificates made here with the
# openssl command (a CA, the server's certificate for 127.0.0.1, and client
# certificates).  A caller whose certificate verifies against the CA and is
# named by a `cert` line is served without a bearer token and its decisions
# carry its name; a certificate the CA did not sign, one the CA signed but
# no `cert` line names, and an Authorization header that
# only claims a certificate get 401; bearer tokens still work over HTTPS;
# plain HTTP to the HTTPS port gets no answer; a key that does not parse
# stops custosd at start with a message.
. "$(dirname "$0")/../tlib.sh"
command -v openssl >/dev/null || { echo "openssl is not installed (scripts/install-deps.sh)"; exit 1; }

cd "$tmp"
ossl() { openssl "$@" 2>>"$tmp/openssl.log"; }
ec() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
# the CA, the server (for 127.0.0.1), and three clients
ec ca.key
ossl req -x509 -new -key ca.key -subj /CN=custos-test-ca -days 2 -out ca.pem
ec other-ca.key
ossl req -x509 -new -key other-ca.key -subj /CN=someone-else -days 2 -out other-ca.pem
sign() { # sign NAME CA DAYS [ext]: NAME.key, NAME.pem
  ec "$1.key"
  ossl req -new -key "$1.key" -subj "/CN=$1" -out "$1.csr"
  printf '%s\n' "${4:-extendedKeyUsage=clientAuth}" >"$1.ext"
  ossl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days "$3" -extfile "$1.ext" -out "$1.pem"
}
sign server ca 2 "subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth"
sign anpr ca 2
sign stranger other-ca 2
sign unnamed ca 2
fp() { openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }
tok=tls-token-$RANDOM$RANDOM
cat >gateway.conf <<C
token PNC sha256:$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)
cert ANPR sha256:$(fp anpr.pem)
cert STRANGER sha256:$(fp stranger.pem)
C

"$bin/custosd" --port 0 --port-file port --config gateway.conf --ledger ledger --policies "$src/policies" \
  --reference "$src/tests/gateway/data/force.jsonl" --tls-cert server.pem --tls-key server.key \
  --tls-client-ca ca.pem 2>custosd.log &
pids+=($!)
for _ in $(seq 200); do [ -s port ] && break; sleep 0.05; done
[ -s port ] || { echo "custosd did not start"; cat custosd.log; exit 1; }
port=$(cat port)
url=https://127.0.0.1:$port
body='{"officer":"PC1","action":"view","record":"R1","purpose":"investigation","case":"C1"}'
call() { # call CURL-ARGS... -> "$code $body"
  curl -sS -o out -w '%{http_code}' --cacert ca.pem -H 'Content-Type: application/json' "$@" >code 2>curl.err || true
  echo "$(cat code) $(cat out)"
}

r=$(call --cert anpr.pem --key anpr.key --data-binary "$body" "$url/v1/authorize")
want "client certificate, no token" '^200 .*"decision":"allow"' "$r"
r=$(call --cert anpr.pem --key anpr.key "$url/v1/breakglass")
want "certificate caller on a GET" '^200 ' "$r"
r=$(call -H "Authorization: Bearer $tok" --data-binary "$body" "$url/v1/authorize")
want "bearer token over HTTPS" '^200 .*"decision":"allow"' "$r"
r=$(call --data-binary "$body" "$url/v1/authorize")
want "no certificate, no token" '^401 ' "$r"
r=$(call --cert stranger.pem --key stranger.key --data-binary "$body" "$url/v1/authorize")
want "certificate of another CA, though named" '^401 ' "$r"
r=$(call --cert unnamed.pem --key unnamed.key --data-binary "$body" "$url/v1/authorize")
want "certificate of the CA that no cert line names" '^401 ' "$r"
r=$(call -H "Authorization: Certificate sha256:$(fp anpr.pem)" --data-binary "$body" "$url/v1/authorize")
want "a header that claims the certificate" '^401 ' "$r"
r=$(call --cert unnamed.pem --key unnamed.key -H "Authorization: Bearer $tok" --data-binary "$body" "$url/v1/authorize")
want "unknown certificate with a good token" '^200 ' "$r"
# one connection, three requests: the chain is verified once, on the
# connection's first request, and the verdict serves the others
metrics() { curl -sS --cacert ca.pem -H "Authorization: Bearer $tok" "$url/metrics" >"$1" || true; }
metric() { awk -v m="$2" '$1 == m {print $2}' "$1"; }
metrics m0
r=$(curl -sS -o /dev/null -o /dev/null -o /dev/null -w '%{http_code}:%{num_connects} ' --cacert ca.pem \
  --cert anpr.pem --key anpr.key -H 'Content-Type: application/json' --data-binary "$body" \
  "$url/v1/authorize" "$url/v1/authorize" "$url/v1/authorize" 2>&1 || true)
want "three requests on one connection" '^200:1 200:0 200:0 $' "$r"
metrics m1
v=$(( $(metric m1 custos_http_tls_client_verifications_total) - $(metric m0 custos_http_tls_client_verifications_total) ))
want "one verification for the connection" '^1$' "$v"
c=$(( $(metric m1 custos_http_connections_total) - $(metric m0 custos_http_connections_total) ))
want "two connections since (the three requests', the metrics')" '^2$' "$c"
# the ledger's decision entries name the caller (tag 1, length, name):
# six allowed decisions, four by ANPR's certificate, two by PNC's token
# (one of them with an unknown certificate beside it)
"$bin/custos" ledger cat ledger >entries 2>/dev/null || true
want "ANPR's decisions logged as ANPR" '^4$' "$(grep -aPo '\x01\x00\x04ANPR' entries | wc -l)"
want "PNC's decisions logged as PNC" '^2$' "$(grep -aPo '\x01\x00\x03PNC' entries | wc -l)"
# plain HTTP to the HTTPS port: no answer
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $tok" \
  --data-binary "$body" "http://127.0.0.1:$port/v1/authorize" 2>/dev/null || true)
want "plain HTTP refused" '^(000)?$' "$code"
# a server that does not hold a key: stops at start, saying why
printf 'not a key\n' >bad.key
if "$bin/custosd" --port 0 --config gateway.conf --ledger ledger2 --policies "$src/policies" \
    --tls-cert server.pem --tls-key bad.key 2>bad.log; then bad "custosd started with a bad key"; else ok; fi
want "bad key named" 'TLS|PEM' "$(cat bad.log)"
if "$bin/custosd" --port 0 --config gateway.conf --ledger ledger3 --policies "$src/policies" \
    --tls-client-ca ca.pem 2>bad2.log; then bad "custosd started with a CA and no certificate"; else ok; fi
want "CA without certificate named" 'tls-cert' "$(cat bad2.log)"

finish
