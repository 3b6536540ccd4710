# scripts/lib/pg.sh: shell helpers for real PostgreSQL servers in scratch
# directories on loopback ports.  Sourced by scripts/cluster, the tests and
# the benchmarks.  Nothing here stops a process it did not start.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# Run a command as the PostgreSQL OS user: initdb and postgres refuse root.
pg_as_owner() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Print N distinct free TCP ports on 127.0.0.1.  The sockets are held open
# until all are chosen, so one call never returns the same port twice.
pg_free_ports() {
	python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# pg_init DATADIR PORT SOCKDIR [PASSWORD]: a fresh server, configured for
# pgquorum (logical decoding, prepared transactions), not yet started.
pg_init() {
	local data=$1 port=$2 sock=$3 password=${4:-}
	local auth=(--auth=trust)
	mkdir -p "$data" "$sock"
	if [[ $(id -u) -eq 0 ]]; then chown postgres: "$data" "$sock"; fi
	chmod 700 "$data"
	if [[ -n $password ]]; then
		printf '%s\n' "$password" > "$data.pw"
		chmod 644 "$data.pw"
		auth=(--auth-local=trust --auth-host=scram-sha-256 --pwfile="$data.pw")
	fi
	pg_as_owner "$PG_BIN/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
		--no-sync "${auth[@]}" >"$data.initdb.log" 2>&1 ||
		{ cat "$data.initdb.log" >&2; return 1; }
	rm -f "$data.pw"
	cat >>"$data/postgresql.conf" <<CONF
# pgquorum test server
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
wal_level = logical
max_prepared_transactions = 200
max_replication_slots = 16
max_wal_senders = 16
max_connections = 200
shared_buffers = 128MB
logging_collector = off
log_min_messages = warning
CONF
}

pg_start() {
	local data=$1
	pg_as_owner "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start >/dev/null ||
		{ tail -20 "$data/server.log" >&2; return 1; }
}

# Stop a server of ours; immediate, as the project's rules ask.
pg_stop() {
	local data=$1
	[[ -f $data/postmaster.pid ]] || return 0
	pg_as_owner "$PG_BIN/pg_ctl" -D "$data" stop -m immediate >/dev/null 2>&1 || true
}

# Wait until something answers the PostgreSQL protocol on host:port.
pg_wait_ready() {
	local host=$1 port=$2 tries=${3:-100}
	for ((i = 0; i < tries; i++)); do
		if "$PG_BIN/pg_isready" -q -h "$host" -p "$port" -t 1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}
