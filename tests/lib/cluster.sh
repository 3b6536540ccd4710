# tests/lib/cluster.sh: helpers for tests that drive a cluster through the
# nodes' control sockets.  Source after tap.sh and `source DIR/cluster.env`.

pgqctl() { "$PGQ_TOP/scripts/pgqctl" --timeout "${PGQCTL_TIMEOUT:-10}" "$@"; }

# ctl_sock I: control socket of node I (1-based).
ctl_sock() { local s; read -r -a s <<< "$PGQ_CONTROL"; echo "${s[$1-1]}"; }

# field LINE KEY: the value of key=value in a status line.
field() { sed -n "s/.*\b$2=\([^ ;]*\).*/\1/p" <<< "$1"; }

# node_status I: node I's status line, or nothing if it is down.
node_status() { pgqctl "$(ctl_sock "$1")" status 2>/dev/null; }

# find_primary [SECONDS]: the id of the node all live nodes agree leads, in
# the highest term; prints nothing on timeout.
find_primary() {
	local deadline=$((SECONDS + ${1:-15})) i st leader
	while ((SECONDS < deadline)); do
		for ((i = 1; i <= PGQ_N; i++)); do
			st=$(node_status "$i") || continue
			if [[ $(field "$st" role) == primary ]]; then
				echo "$i"; return 0
			fi
		done
		sleep 0.1
	done
	return 1
}

# wait_applied I INDEX [SECONDS]: until node I has applied INDEX.
wait_applied() {
	local deadline=$((SECONDS + ${3:-15})) st
	while ((SECONDS < deadline)); do
		st=$(node_status "$1")
		[[ -n $st && $(field "$st" applied) -ge $2 ]] && return 0
		sleep 0.05
	done
	return 1
}

# three_nodes_with_primary: a 3-node cluster in a scratch dir (torn down at
# exit), its cluster.env sourced, pgports/pgsocks set, and p the primary.
# Emits two TAP lines.
three_nodes_with_primary() {
	dir=$(scratch_dir)/c
	cluster_up 3 "$dir" "$@"
	ok $? "3 nodes up"
	source "$dir/cluster.env"
	read -r -a pgports <<< "$PG_PORTS"
	read -r -a pgsocks <<< "$PG_SOCKETS"
	p=$(find_primary 15)
	ok $? "a primary (node ${p:-none})"
}

# server_psql NODE [psql args]: psql on node NODE's own PostgreSQL.
server_psql() {
	psql -X -At -v ON_ERROR_STOP=1 -h "${pgsocks[$1-1]}" -p "${pgports[$1-1]}" \
		-U postgres -d postgres "${@:2}" 2>&1
}

# servers_agree QUERY NAME: one TAP line, ok when every node's own server
# answers QUERY alike (each answer shown on failure).
servers_agree() {
	local i first out same=0
	first=$(server_psql 1 -c "$1")
	for ((i = 2; i <= PGQ_N; i++)); do
		out=$(server_psql "$i" -c "$1")
		[[ $out == "$first" ]] || same=1
	done
	ok "$same" "$2"
	if ((same)); then
		for ((i = 1; i <= PGQ_N; i++)); do diag "node$i: $(server_psql "$i" -c "$1" | head -c 200)"; done
	fi
	return "$same"
}

# settle_all [SECONDS]: until every node has applied the primary's ($p)
# current commit index.
settle_all() {
	local idx i
	idx=$(field "$(node_status "$p")" commit)
	for ((i = 1; i <= PGQ_N; i++)); do
		wait_applied "$i" "$idx" "${1:-60}" || diag "node $i did not apply $idx"
	done
}

# appliers_ok: every node's applier is healthy (diag for one that is not).
appliers_ok() {
	local i st
	for ((i = 1; i <= PGQ_N; i++)); do
		st=$(node_status "$i")
		[[ $(field "$st" applier) == ok ]] || { diag "node $i: $st"; return 1; }
	done
}

# wait_capture [NODE]: until node NODE's (default: the primary $p) capture
# streams, for at most 15 s.
wait_capture() {
	local t
	for ((t = 0; t < 150; t++)); do
		[[ $(pgqctl "$(ctl_sock "${1:-$p}")" capture 2>/dev/null) == state=streaming* ]] && return 0
		sleep 0.1
	done
	return 1
}

# primary_px [psql args]: psql through the primary $p's client port, as
# postgres, in database ${DB:-postgres}.
primary_px() {
	local n
	read -r -a n <<< "$PGQ_NODES"
	psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${n[p-1]##*:}" -U postgres \
		-d "${DB:-postgres}" "$@" 2>&1
}

# no_prepared_left: one TAP line per node: no prepared transaction is left.
no_prepared_left() {
	local i
	for ((i = 1; i <= PGQ_N; i++)); do
		is "$(server_psql "$i" -c "SELECT count(*) FROM pg_prepared_xacts")" 0 \
			"no prepared transaction is left on node $i"
	done
}

# hold_table NODE TABLE: a session on NODE's own server holds TABLE in
# ACCESS EXCLUSIVE mode, so that NODE's applier waits at its next write of
# TABLE, until release_table; returns once the lock is granted (at most
# 10 s; 1 if it was not).  Its psql's pid is $hold_pid.
hold_table() {
	local t
	server_psql "$1" -c "BEGIN" -c "LOCK TABLE $2 IN ACCESS EXCLUSIVE MODE" \
		-c "SELECT pg_sleep(1000)" >/dev/null 2>&1 &
	hold_pid=$!
	at_exit "kill $hold_pid 2>/dev/null"
	for ((t = 0; t < 100; t++)); do
		[[ $(table_locked "$1" "$2") == 1 ]] && return 0
		sleep 0.1
	done
	return 1
}

# table_locked NODE TABLE: 1 while a session holds TABLE's exclusive lock.
table_locked() {
	server_psql "$1" -c "SELECT count(*) FROM pg_locks WHERE relation = '$2'::regclass AND mode = 'AccessExclusiveLock' AND granted"
}

# release_table NODE TABLE: end the session hold_table started.
release_table() {
	server_psql "$1" -c "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE relation = '$2'::regclass AND mode = 'AccessExclusiveLock' AND granted" >/dev/null
	kill "$hold_pid" 2>/dev/null
	wait "$hold_pid" 2>/dev/null
}
