#!/usr/bin/env bash
# Proves client authentication against the local server's own roles: SCRAM
# for a SCRAM-stored role and md5 for an md5-stored one, with the backend
# logged in as that role by the node (SCRAM with the ClientKey the client's
# proof yields, md5 with the stored hash), so no user password is in the
# node's configuration; wrong passwords and unknown roles get 28P01;
# a reject rule gets 28000; TLS with sslmode=require works.  The verifier
# cache: a second login reuses the verifier; after ALTER ROLE ... PASSWORD
# a login that fails with the stale verifier drops it, the new password
# then works and the old one fails; auth_cache_ttl_ms = 0 turns it off.
source "$(dirname "$0")/../lib/tap.sh"
source "$PGQ_TOP/tests/proxy/proxy_env.sh"
[[ -x $PX_NODE ]] || skip_all "build tests/proxy/proxy_node first"

d=$(scratch_dir)
mkdir -p "$d/tls"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/tls/key.pem" -out "$d/tls/cert.pem" \
	-days 2 -subj /CN=localhost >/dev/null 2>&1
cat > "$d/pgquorum_hba.conf" <<HBA
# test rules: md5 where the role is md5-stored, SCRAM for everyone else
host all nobody all reject
host all bob all md5
host all all all scram-sha-256
HBA
proxy_up "$d" servicepw "tls_cert_file = $d/tls/cert.pem
tls_key_file = $d/tls/key.pem
auth_hba_file = $d/pgquorum_hba.conf"
ok $? "PostgreSQL (scram on TCP) and a proxy node up"

# The backends are opened over TCP, where the server asks for a password.
sed -i 's/^host.*scram-sha-256$/host all all 127.0.0.1\/32 md5/' "$d/pg/pg_hba.conf"
pg_psql -c "select pg_reload_conf()" >/dev/null
pg_psql -c "create role alice login password 'apw'" -c "set password_encryption = md5" \
	-c "create role bob login password 'bpw'" >/dev/null
kill -TERM "$PX_PID"; sleep 0.3
PX_CONNINFO="host=127.0.0.1 port=$PX_PG_PORT user=postgres password=servicepw dbname=postgres"
conf_extra="tls_cert_file = $d/tls/cert.pem
tls_key_file = $d/tls/key.pem
auth_hba_file = $d/pgquorum_hba.conf"
proxy_write_conf "$conf_extra
auth_cache_ttl_ms = 600000"
"$PX_NODE" "$d/node.conf" >"$d/node.out" 2>&1 &
PX_PID=$!
at_exit "kill -TERM $PX_PID; sleep 0.2; kill -KILL $PX_PID"
pg_wait_ready 127.0.0.1 "$PX_PORT" 50; ok $? "node restarted with a TCP service connection"

conn() { echo "host=127.0.0.1 port=$PX_PORT dbname=postgres user=$1 ${2:-}"; }
got=$(PGPASSWORD=apw psql -X -At "$(conn alice)" -c "select current_user, 1" 2>&1)
is "$got" "alice|1" "SCRAM: right password logs in, backend logged in as alice"
got=$(PGPASSWORD=wrong psql -X -At "$(conn alice)" -c "select 1" 2>&1)
like "$got" 'FATAL:  password authentication failed for user "alice"' "SCRAM: wrong password"
got=$(PGPASSWORD=bpw psql -X -At "$(conn bob)" -c "select current_user" 2>&1)
is "$got" "bob" "md5: right password logs in"
got=$(PGPASSWORD=wrong psql -X -At "$(conn bob)" -c "select 1" 2>&1)
like "$got" 'password authentication failed for user "bob"' "md5: wrong password"
got=$(PGPASSWORD=x psql -X -At "$(conn carol)" -c "select 1" 2>&1)
like "$got" 'password authentication failed for user "carol"' "unknown role: same error as a wrong password"
got=$(PGPASSWORD=x psql -X -At "$(conn nobody)" -c "select 1" 2>&1)
like "$got" 'rejects connection' "reject rule"
# libpq does not show a connection error's SQLSTATE; the node logs what it sent
grep -q 'FATAL 28P01: password authentication failed for user "alice"' "$d/node.log"
ok $? "wrong password has SQLSTATE 28P01"

got=$(PGPASSWORD=apw psql -X -At "$(conn alice sslmode=require)" -c "select current_user" -c "\\conninfo" 2>&1)
like "$got" 'SSL connection \(protocol: TLSv1\.[23]' "TLS with sslmode=require"
got=$(PGPASSWORD=apw psql -X -At "$(conn alice sslmode=require)" -c "select length(string_agg(repeat('x', 1000), '')) from generate_series(1, 5000)" 2>&1)
is "$got" "5000000" "5 MB result over TLS"
got=$(PGPASSWORD=apw psql -X -At "$(conn alice gssencmode=prefer sslmode=disable)" -c "select 'plain'" 2>&1)
is "$got" "plain" "plaintext still allowed (GSSENC declined)"
# pooled backend: the second session of alice reuses the first one's backend
n1=$(pg_psql -At -c "select count(*) from pg_stat_activity where usename = 'alice'")
PGPASSWORD=apw psql -X -At "$(conn alice)" -c "select 1" >/dev/null
n2=$(pg_psql -At -c "select count(*) from pg_stat_activity where usename = 'alice'")
is "$n2" "$n1" "alice's sessions share a pooled backend"

# Verifier cache (auth_cache_ttl_ms = 600000 here).  sslmode=disable: one
# attempt per psql (with prefer, libpq retries a failed TLS login in plain
# text, and that retry would already read the new verifier).
conn() { echo "host=127.0.0.1 port=$PX_PORT dbname=postgres user=$1 sslmode=disable"; }
cached() { grep -c "user \"$1\" authenticated (scram-sha-256, cached verifier)" "$d/node.log"; }
PGPASSWORD=apw psql -X -At "$(conn alice)" -c "select 1" >/dev/null
c0=$(cached alice)
got=$(PGPASSWORD=apw psql -X -At "$(conn alice)" -c "select current_user" 2>&1)
is "$got" "alice" "cache: alice logs in again"
is "$(cached alice)" "$((c0 + 1))" "cache: that login reused the cached verifier (no lookup)"
pg_psql -c "alter role alice password 'apw2'" >/dev/null
got=$(PGPASSWORD=apw2 psql -X -At "$(conn alice)" -c "select 1" 2>&1)
like "$got" 'password authentication failed for user "alice"' \
	"cache: first login after the password change meets the stale verifier and fails"
grep -q 'login failed with the cached verifier of role "alice"; dropped it' "$d/node.log"
ok $? "cache: the failed login dropped the cached verifier"
got=$(PGPASSWORD=apw2 psql -X -At "$(conn alice)" -c "select current_user" 2>&1)
is "$got" "alice" "cache: the new password works at the next login"
got=$(PGPASSWORD=apw psql -X -At "$(conn alice)" -c "select 1" 2>&1)
like "$got" 'password authentication failed for user "alice"' "cache: the old password fails"
got=$(PGPASSWORD=apw2 psql -X -At "$(conn alice)" -c "select current_user" 2>&1)
is "$got" "alice" "cache: the new password still works after that"
# TTL 0 (reloaded): every login reads the server, so a change is seen at once
proxy_write_conf "$conf_extra
auth_cache_ttl_ms = 0"
kill -HUP "$PX_PID"
for ((i = 0; i < 50; i++)); do
	[[ $(grep -c 'configuration reloaded' "$d/node.log") -ge 1 ]] && break
	sleep 0.1
done
c0=$(cached alice)
PGPASSWORD=apw2 psql -X -At "$(conn alice)" -c "select 1" >/dev/null
pg_psql -c "alter role alice password 'apw3'" >/dev/null
got=$(PGPASSWORD=apw3 psql -X -At "$(conn alice)" -c "select current_user" 2>&1)
is "$got" "alice" "no cache: the new password works at the first login"
is "$(cached alice)" "$c0" "no cache: no login used a cached verifier"
done_testing
