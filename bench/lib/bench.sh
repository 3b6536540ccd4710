# bench/lib/bench.sh: shared helpers of bench/lag and bench/write.  Sourced;
# sets top, build, PG_BIN (scripts/lib/pg.sh).
#
#   bench_init NAME              scratch dir $bdir, cleanup at exit
#   bench_bg CMD...              run CMD in the background, stopped at exit
#   bench_lone_pg NAME           one PostgreSQL; sets ${NAME}_port ${NAME}_sock
#   bench_streaming NAME         a primary and two hot standbys (s1, s2) with
#                                synchronous_standby_names = 'ANY 1 (s1, s2)';
#                                sets ${NAME}_port ${NAME}_sock and
#                                ${NAME}_s1_port ... ${NAME}_s2_sock
#   bench_cluster NAME [--set k=v]...
#                                a 3-node pgquorum cluster (scripts/cluster);
#                                sets ${NAME}_dir, ${NAME}_primary (node id),
#                                ${NAME}_port (the primary's client port),
#                                ${NAME}_sec (secondary ids), cluster.env vars
#   bench_settle NAME            wait until every node applied the commit index
#   bench_node_server NAME I     "PORT SOCKDIR" of node I's PostgreSQL
#
# Everything started here runs on loopback ports under $bdir and is stopped
# at exit by pid (nodes, pgbench) or pg_ctl -m immediate (servers).
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${PGQ_BUILD:-$top/build}
source "$top/scripts/lib/pg.sh"

bench_pids=()
bench_pgdirs=()
bench_clusters=()

bench_die() { echo "$bench_name: $*" >&2; exit 1; }

bench_cleanup() {
	local p d
	for p in "${bench_pids[@]+"${bench_pids[@]}"}"; do kill -TERM "$p" 2>/dev/null; done
	for d in "${bench_clusters[@]+"${bench_clusters[@]}"}"; do
		"$top/scripts/cluster" down --dir "$d" >/dev/null 2>&1
	done
	for d in "${bench_pgdirs[@]+"${bench_pgdirs[@]}"}"; do pg_stop "$d"; done
	for p in "${bench_pids[@]+"${bench_pids[@]}"}"; do kill -KILL "$p" 2>/dev/null; done
	[[ -n ${PGQ_BENCH_KEEP:-} ]] || rm -rf "$bdir"
}

bench_init() {
	bench_name=$1
	bdir=$(mktemp -d "${TMPDIR:-/tmp}/pgq-bench-$1.XXXXXX")
	chmod 755 "$bdir"
	[[ $(id -u) -ne 0 ]] || chown postgres: "$bdir"
	trap bench_cleanup EXIT
	trap 'exit 143' TERM INT
}

bench_bg() {
	"$@" &
	bench_pids+=("$!")
}

# bench_psql PORT SOCKDIR [psql args]: psql on a server's unix socket.
bench_psql() {
	psql -X -At -v ON_ERROR_STOP=1 -h "$2" -p "$1" -U postgres -d postgres "${@:3}"
}

bench_lone_pg() {
	local name=$1 port
	port=$(pg_free_ports 1)
	pg_init "$bdir/$name" "$port" "$bdir/$name.s" >/dev/null || bench_die "initdb $name failed"
	bench_pgdirs+=("$bdir/$name")
	pg_start "$bdir/$name" || bench_die "$name did not start"
	printf -v "${name}_port" %s "$port"
	printf -v "${name}_sock" %s "$bdir/$name.s"
}

# bench_standby PRIMARY_PORT DATADIR PORT SOCKDIR APPNAME
bench_standby() {
	local pport=$1 data=$2 port=$3 sock=$4 app=$5
	mkdir -p "$sock"
	[[ $(id -u) -ne 0 ]] || chown postgres: "$sock"
	pg_as_owner "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$pport" -U postgres -D "$data" \
		-X stream -c fast --no-sync >"$data.basebackup.log" 2>&1 ||
		{ cat "$data.basebackup.log" >&2; return 1; }
	pg_as_owner touch "$data/standby.signal"
	cat >>"$data/postgresql.conf" <<CONF
# hot standby $app of 127.0.0.1:$pport
port = $port
unix_socket_directories = '$sock'
primary_conninfo = 'host=127.0.0.1 port=$pport user=postgres application_name=$app'
hot_standby = on
synchronous_standby_names = ''
CONF
}

bench_streaming() {
	local name=$1 ports i
	read -r -a ports <<< "$(pg_free_ports 3)"
	pg_init "$bdir/$name" "${ports[0]}" "$bdir/$name.s" >/dev/null || bench_die "initdb $name failed"
	echo "synchronous_standby_names = 'ANY 1 (s1, s2)'" >> "$bdir/$name/postgresql.conf"
	bench_pgdirs+=("$bdir/$name")
	pg_start "$bdir/$name" || bench_die "$name did not start"
	printf -v "${name}_port" %s "${ports[0]}"
	printf -v "${name}_sock" %s "$bdir/$name.s"
	for i in 1 2; do
		bench_standby "${ports[0]}" "$bdir/$name-s$i" "${ports[i]}" "$bdir/$name-s$i.s" "s$i" ||
			bench_die "pg_basebackup for $name standby s$i failed"
		bench_pgdirs+=("$bdir/$name-s$i")
		pg_start "$bdir/$name-s$i" || bench_die "$name standby s$i did not start"
		printf -v "${name}_s${i}_port" %s "${ports[i]}"
		printf -v "${name}_s${i}_sock" %s "$bdir/$name-s$i.s"
	done
	# Both standbys streaming, one of them synchronous (ANY 1).
	for ((t = 0; t < 300; t++)); do
		[[ $(bench_psql "${ports[0]}" "$bdir/$name.s" -c \
			"SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND sync_state = 'quorum'") == 2 ]] &&
			return 0
		sleep 0.1
	done
	bench_die "$name: the standbys are not streaming"
}

bench_ctl() { "$top/scripts/pgqctl" --timeout 2 "$@" 2>/dev/null; }
bench_field() { sed -n "s/.*\b$2=\([^ ;]*\).*/\1/p" <<< "$1"; }

bench_cluster() {
	local name=$1 d=$bdir/$1 i p='' socks nodes sec=()
	shift
	bench_clusters+=("$d")
	"$top/scripts/cluster" up --nodes 3 --dir "$d" --build "$build" "$@" >/dev/null ||
		bench_die "scripts/cluster up failed"
	source "$d/cluster.env"
	read -r -a socks <<< "$PGQ_CONTROL"
	read -r -a nodes <<< "$PGQ_NODES"
	for ((t = 0; t < 300; t++)); do
		[[ -z $p ]] || break
		for i in 1 2 3; do
			[[ $(bench_field "$(bench_ctl "${socks[i-1]}" status)" role) == primary ]] && p=$i
		done
		[[ -n $p ]] || sleep 0.1
	done
	[[ -n $p ]] || bench_die "$name: no primary after 30 s"
	for ((t = 0; t < 300; t++)); do
		[[ $(bench_ctl "${socks[p-1]}" capture) == state=streaming* ]] && break
		sleep 0.1
	done
	for i in 1 2 3; do [[ $i == "$p" ]] || sec+=("$i"); done
	printf -v "${name}_dir" %s "$d"
	printf -v "${name}_primary" %s "$p"
	printf -v "${name}_port" %s "${nodes[p-1]##*:}"
	printf -v "${name}_sec" %s "${sec[*]}"
}

# The primary's commit index; every node has applied it when bench_settle returns.
bench_settle() {
	local d=$bdir/$1 socks p idx i st
	source "$d/cluster.env"
	read -r -a socks <<< "$PGQ_CONTROL"
	p=${1}_primary; p=${!p}
	idx=$(bench_field "$(bench_ctl "${socks[p-1]}" status)" commit)
	for i in 1 2 3; do
		for ((t = 0; t < 600; t++)); do
			st=$(bench_ctl "${socks[i-1]}" status)
			[[ -n $st && $(bench_field "$st" applied) -ge ${idx:-0} ]] && break
			sleep 0.05
		done
	done
}

# bench_node_server NAME I: "PORT SOCKDIR" of node I's own PostgreSQL server.
bench_node_server() {
	(
		source "$bdir/$1/cluster.env"
		read -r -a ports <<< "$PG_PORTS"
		read -r -a socks <<< "$PG_SOCKETS"
		echo "${ports[$2-1]} ${socks[$2-1]}"
	)
}

# bench_notifications NAME: the primary's count of idle commit notifications.
bench_notifications() {
	local socks p=${1}_primary
	read -r -a socks <<< "$(source "$bdir/$1/cluster.env"; echo "$PGQ_CONTROL")"
	bench_field "$(bench_ctl "${socks[${!p}-1]}" status)" notifications
}

# bench_cluster_check NAME: print the nodes' errors (applier stopped,
# outcome unknown) on stderr; status 1 if there were any.
bench_cluster_check() {
	local d=$bdir/$1
	! grep -h "ERROR\|outcome unknown" "$d"/node[0-9].log >&2
}
