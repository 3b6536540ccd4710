# tests/proxy/proxy_env.sh: one real PostgreSQL and one proxy node in a
# scratch directory, for tests/integration/proxy_*.t and bench/proxy.
# Source after tests/lib/tap.sh (or scripts/lib/pg.sh plus at_exit).
#
#   proxy_up DIR [PASSWORD] [EXTRA_CONF]   start both; sets PX_PORT, PX_PG_PORT,
#                                          PX_SOCK, PX_DIR; torn down at exit
#   px_psql ARGS...                        psql through the node
#   pg_psql ARGS...                        psql straight to PostgreSQL

PX_NODE=${PX_NODE:-$PGQ_BUILD/tests/proxy/proxy_node}

proxy_write_conf() {
	local extra=$1
	cat > "$PX_DIR/node.conf" <<CONF
[pgquorum]
node_id = 1
listen_port = $PX_PORT
peer_listen_port = $PX_PEER_PORT
postgres_conninfo = '$PX_CONNINFO'
data_dir = $PX_DIR/data
log_file = $PX_DIR/node.log
log_level = ${PX_LOG_LEVEL:-info}
$extra
[nodes]
1 = 127.0.0.1:$PX_PEER_PORT 127.0.0.1:$PX_PORT
CONF
}

proxy_up() {
	local dir=$1 password=${2:-} extra=${3:-}
	PX_DIR=$dir
	mkdir -p "$dir/data"
	chmod 755 "$dir"
	[[ $(id -u) -ne 0 ]] || chown postgres: "$dir"
	read -r PX_PG_PORT PX_PORT PX_PEER_PORT <<< "$(pg_free_ports 3)"
	PX_SOCK=$dir/s
	pg_init "$dir/pg" "$PX_PG_PORT" "$PX_SOCK" "$password" || return 1
	at_exit "pg_stop '$dir/pg'"
	pg_start "$dir/pg" || return 1
	PX_CONNINFO="host=$PX_SOCK port=$PX_PG_PORT user=postgres dbname=postgres"
	proxy_write_conf "$extra"
	"$PX_NODE" "$dir/node.conf" >"$dir/node.out" 2>&1 &
	PX_PID=$!
	at_exit "kill -TERM $PX_PID; sleep 0.2; kill -KILL $PX_PID"
	pg_wait_ready 127.0.0.1 "$PX_PORT" 50 || { cat "$dir/node.out" >&2; return 1; }
	export PX_DIR PX_PORT PX_PG_PORT PX_SOCK PX_PID
}

px_psql() { psql -X -q -h 127.0.0.1 -p "$PX_PORT" -U postgres -d postgres "$@"; }
pg_psql() { psql -X -q -h "$PX_SOCK" -p "$PX_PG_PORT" -U postgres -d postgres "$@"; }
