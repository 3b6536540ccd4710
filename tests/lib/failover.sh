# tests/lib/failover.sh: a write load that records what was acknowledged,
# and the checks that follow a failover.  Source after tap.sh and
# cluster.sh, once three_nodes_with_primary has run (dir, pgports, pgsocks,
# p set).
#
# The load: WRITERS background loops, each running transactions of two
# INSERTs (id and -id, into table ft) through one node's client port, one
# psql per transaction.  A transaction counts as acknowledged only when
# psql saw its COMMIT succeed; its id goes to $load_dir/ack.W.  Each loop
# is bounded in count and in time, and stops early when $load_dir/stop
# exists.

read -r -a nodes <<< "$PGQ_NODES"
load_dir=$(scratch_dir)

# client_psql NODE [psql args]: psql through node NODE's client port.
client_psql() {
	psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${nodes[$1-1]##*:}" \
		-U postgres -d postgres "${@:2}" 2>&1
}

# writer W NODE COUNT SECONDS
writer() {
	local w=$1 node=$2 count=$3 end=$((SECONDS + $4)) i id out
	for ((i = 1; i <= count && SECONDS < end; i++)); do
		[[ -e $load_dir/stop ]] && break
		id=$((w * 1000000 + i))
		out=$(client_psql "$node" -c "BEGIN" -c "INSERT INTO ft VALUES ($id, 'a')" \
			-c "INSERT INTO ft VALUES (-$id, 'b')" -c "COMMIT")
		if [[ $? -eq 0 && $out == *COMMIT ]]; then
			echo "$id" >> "$load_dir/ack.$w"
		else
			echo "$id ${out//$'\n'/ | }" >> "$load_dir/err.$w"
			sleep 0.05
		fi
	done
}

# start_load NODE FIRST_W LAST_W COUNT SECONDS: table ft, then writers
# FIRST_W..LAST_W (their ids do not overlap).
load_pids=()
start_load() {
	local w
	rm -f "$load_dir/stop"
	client_psql "$1" -c "CREATE TABLE IF NOT EXISTS ft (id bigint PRIMARY KEY, v text)" >/dev/null
	for ((w = $2; w <= $3; w++)); do
		writer "$w" "$1" "$4" "$5" &
		load_pids+=($!)
	done
	at_exit "touch '$load_dir/stop'; kill ${load_pids[*]}"
}

acked_count() { cat "$load_dir"/ack.* 2>/dev/null | wc -l; }

# wait_acked N SECONDS: until N transactions were acknowledged.
wait_acked() {
	local end=$((SECONDS + $2))
	while ((SECONDS < end)); do
		(($(acked_count) >= $1)) && return 0
		sleep 0.1
	done
	return 1
}

# stop_load: tell the writers to stop and wait for them (each is bounded).
stop_load() {
	touch "$load_dir/stop"
	wait "${load_pids[@]}" 2>/dev/null
	load_pids=()
}

# write_through NODE ID: one transaction through NODE, retried
# while the node does not take writes yet (bounded); prints the last output.
write_through() {
	local t out
	for ((t = 0; t < 100; t++)); do
		out=$(client_psql "$1" -c "BEGIN" -c "INSERT INTO ft VALUES ($2, 'after')" \
			-c "INSERT INTO ft VALUES (-$2, 'after')" -c "COMMIT")
		[[ $? -eq 0 && $out == *COMMIT ]] && { echo "$out"; return 0; }
		sleep 0.2
	done
	echo "$out"
	return 1
}

# converge NODE_LEADER: every live node applies the leader's commit index.
converge() {
	local idx i rc=0
	idx=$(field "$(node_status "$1")" commit)
	for i in 1 2 3; do
		wait_applied "$i" "$idx" 60 || { diag "node $i did not apply $idx: $(node_status "$i")"; rc=1; }
	done
	return $rc
}

# wait_no_prepared NODE: until NODE's server holds no prepared transaction.
wait_no_prepared() {
	local t n
	for ((t = 0; t < 150; t++)); do
		n=$(server_psql "$1" -c "SELECT count(*) FROM pg_prepared_xacts")
		[[ $n == 0 ]] && return 0
		sleep 0.1
	done
	diag "node $1 still holds: $(server_psql "$1" -c "SELECT gid FROM pg_prepared_xacts")"
	return 1
}

# check_after_failover: the TAP checks every failover test ends with.
check_after_failover() {
	local i a b c missing half
	cat "$load_dir"/ack.* 2>/dev/null | sort -n > "$load_dir/acked"
	for i in 1 2 3; do
		server_psql "$i" -c "SELECT id FROM ft WHERE id > 0 ORDER BY id" > "$load_dir/has.$i"
		missing=$(comm -23 "$load_dir/acked" <(sort -n "$load_dir/has.$i") | head -5)
		is "$missing" "" "node $i holds every acknowledged transaction ($(wc -l < "$load_dir/acked") acked)"
		half=$(server_psql "$i" -c "SELECT count(*) FROM ft a WHERE NOT EXISTS
			(SELECT 1 FROM ft b WHERE b.id = -a.id)")
		is "$half" 0 "node $i holds no half-applied transaction"
		wait_no_prepared "$i"
		ok $? "no prepared transaction is left on node $i"
	done
	a=$(server_psql 1 -c "SELECT md5(string_agg(id || ':' || v, ',' ORDER BY id)), count(*) FROM ft")
	b=$(server_psql 2 -c "SELECT md5(string_agg(id || ':' || v, ',' ORDER BY id)), count(*) FROM ft")
	c=$(server_psql 3 -c "SELECT md5(string_agg(id || ':' || v, ',' ORDER BY id)), count(*) FROM ft")
	[[ $a == "$b" && $b == "$c" ]]
	ok $? "the three servers hold the same rows (ordered comparison)" ||
		diag "node1 $a / node2 $b / node3 $c"
	diag "acked $(wc -l < "$load_dir/acked"); not acked $(cat "$load_dir"/err.* 2>/dev/null | wc -l); rows per node ${a#*|}"
}
