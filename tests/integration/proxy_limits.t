#!/usr/bin/env bash
# Proves the session limits, each with a clear error when exceeded:
# max_client_conn (53300), pool_size per (database, role) with clients
# queueing for a backend, query_wait_timeout_ms for a client that waited
# too long, client_idle_timeout_ms for an idle session; and that a reload
# (SIGHUP) takes new limits without dropping sessions.
source "$(dirname "$0")/../lib/tap.sh"
source "$PGQ_TOP/tests/proxy/proxy_env.sh"
[[ -x $PX_NODE ]] || skip_all "build tests/proxy/proxy_node first"
PY=/usr/bin/python3

d=$(scratch_dir)
proxy_up "$d" "" "max_client_conn = 3
pool_size = 1
query_wait_timeout_ms = 1000
client_idle_timeout_ms = 0"
ok $? "PostgreSQL and a proxy node up"

# pool_size 1: a second session waits while the first holds the backend
px_psql -c "select pg_sleep(2.5)" >/dev/null 2>&1 &
holder=$!
sleep 0.5
start=$(date +%s%N)
got=$(px_psql -At -c "select 'second'" 2>&1)
like "$got" 'query_wait_timeout' "a session that waits for a backend too long gets query_wait_timeout"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
(( ms >= 900 && ms < 2400 )); ok $? "it waited about query_wait_timeout_ms ($ms ms)"
wait $holder

px_psql -c "select pg_sleep(0.6)" >/dev/null 2>&1 &
holder=$!
sleep 0.2
got=$(px_psql -At -c "select 'queued'" 2>&1)
is "$got" "queued" "a session queued behind a short one gets the backend"
wait $holder

# max_client_conn 3
out=$(timeout 30 $PY - "$PX_PORT" <<'PY' 2>&1
import socket, sys, psycopg
dsn = f"host=127.0.0.1 port={sys.argv[1]} user=postgres dbname=postgres connect_timeout=5"
held = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(3)]
try:
    psycopg.connect(dsn)
    print("fourth connected")
except psycopg.OperationalError as e:
    print(str(e).strip().splitlines()[-1])
PY
)
like "$out" 'no more connections allowed \(max_client_conn 3\)' "max_client_conn refuses the extra client"

# reload: idle timeout on, larger limits
sed -i 's/^client_idle_timeout_ms = 0/client_idle_timeout_ms = 700/; s/^max_client_conn = 3/max_client_conn = 10/' "$d/node.conf"
kill -HUP "$PX_PID"; sleep 0.3
out=$(timeout 30 $PY - "$PX_PORT" <<'PY' 2>&1
import sys, time, psycopg
dsn = f"host=127.0.0.1 port={sys.argv[1]} user=postgres dbname=postgres"
c = psycopg.connect(dsn, autocommit=True)
c.execute("select 1")
time.sleep(2)
try:
    c.execute("select 1")
    print("still open")
except psycopg.OperationalError as e:
    print("closed: " + str(e).strip().splitlines()[0])
PY
)
like "$out" 'client_idle_timeout' "an idle session is closed after client_idle_timeout_ms (after reload)"
got=$(px_psql -At -c "select pg_sleep(1.2), 'busy ok'" 2>&1)
like "$got" 'busy ok' "a session busy in a query is not idle"
kill -0 "$PX_PID"; ok $? "node still running"
done_testing
