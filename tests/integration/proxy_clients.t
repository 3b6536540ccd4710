#!/usr/bin/env bash
# Proves that drivers other than libpq's psql work unmodified through a
# node: psycopg 3 (server-side binding, prepared statements, pipeline mode
# with an error that skips to Sync, COPY both ways, binary results), the
# same script giving the same answers directly and through the node;
# node-postgres (parameterized query, transactions, error codes); and that
# malformed input (bad startup packets, bad lengths, unknown message types,
# invalid UTF-8) gets an ErrorResponse or a closed socket while another
# session keeps working; and that a client reading a 100 MB result slowly
# does not make the node buffer it (backpressure).
source "$(dirname "$0")/../lib/tap.sh"
source "$PGQ_TOP/tests/proxy/proxy_env.sh"
[[ -x $PX_NODE ]] || skip_all "build tests/proxy/proxy_node first"
PY=/usr/bin/python3		# the Debian python3-psycopg
$PY -c 'import psycopg' 2>/dev/null || skip_all "python3-psycopg not installed"

d=$(scratch_dir)
proxy_up "$d"
ok $? "PostgreSQL and a proxy node up"

# stdout only: psycopg logs a warning on stderr at its own moment
direct=$(timeout 60 $PY "$PGQ_TOP/tests/proxy/clients_psycopg.py" "$PX_PG_PORT" "$PX_SOCK" 2>/dev/null)
through=$(timeout 60 $PY "$PGQ_TOP/tests/proxy/clients_psycopg.py" "$PX_PORT" 2>/dev/null)
[[ $through == "$direct" ]]; ok $? "psycopg: same results through the node as directly"
[[ $through == "$direct" ]] || diff <(echo "$direct") <(echo "$through") | sed 's/^/# /'
like "$through" 'ok pipeline skips to sync' "psycopg: pipeline mode with an error"
like "$through" 'ok copy in' "psycopg: COPY"

if [[ -d $PGQ_TOP/tests/proxy/node/node_modules/pg ]] ||
	(cd "$PGQ_TOP/tests/proxy/node" && timeout 120 npm install --no-audit --no-fund >/dev/null 2>&1); then
	out=$(timeout 30 node "$PGQ_TOP/tests/proxy/clients.js" "$PX_PORT" 2>&1)
	for c in parameterized transaction 'error code' 'after error'; do
		like "$out" "ok $c" "node-postgres: $c"
	done
else
	ok 0 "# SKIP npm pg not installable"
fi

while read -r line; do
	[[ $line == ok* ]]; ok $? "malformed input: ${line#* }"
done < <(timeout 120 $PY "$PGQ_TOP/tests/proxy/malformed.py" "$PX_PORT" 2>&1)
while read -r line; do
	[[ $line == ok* ]]; ok $? "slow reader: ${line#* }"
done < <(timeout 120 $PY "$PGQ_TOP/tests/proxy/slow_reader.py" "$PX_PORT" "$PX_PID" 2>&1)
kill -0 "$PX_PID"; ok $? "node still running"
got=$(px_psql -At -c "select 'alive'" 2>&1)
is "$got" "alive" "node still serves new sessions"
done_testing
