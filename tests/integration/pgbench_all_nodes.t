#!/usr/bin/env bash
# pgbench -i and pgbench runs through each node at the same time (issue 6,
# "Tests"): the primary's own sessions and two secondaries' forwarded ones
# commit through one log; afterwards the three servers hold identical
# data, pgbench_history.mtime included, and no prepared transaction.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
read -r -a nodes <<< "$PGQ_NODES"
wait_capture || diag "capture is not streaming"
s=$((p % 3 + 1))
out=$(pgbench -i -s 2 -I dtgp -h 127.0.0.1 -p "${nodes[s-1]##*:}" -U postgres postgres 2>&1)
ok $? "pgbench -i -s 2 through secondary node $s" || diag "$out"
modes=(simple extended prepared)
pids=()
for i in 1 2 3; do
	timeout 300 pgbench -n -c 3 -t 60 -M "${modes[i-1]}" -h 127.0.0.1 -p "${nodes[i-1]##*:}" \
		-U postgres postgres > "$dir/bench$i.out" 2>&1 &
	pids+=($!)
done
for i in 1 2 3; do
	wait "${pids[i-1]}"
	ok $? "pgbench -M ${modes[i-1]} through node $i ($([[ $i == "$p" ]] && echo primary || echo secondary))" ||
		diag "$(tail -5 "$dir/bench$i.out")"
	like "$(cat "$dir/bench$i.out")" "actually processed: 180/180" "node $i: all 180 transactions"
done
settle_all
is "$(server_psql "$p" -c "SELECT count(*) FROM pgbench_history")" 540 "540 history rows"
for tb in "pgbench_accounts ORDER BY aid" "pgbench_branches ORDER BY bid" "pgbench_tellers ORDER BY tid" \
	"pgbench_history ORDER BY tid, aid, mtime, delta"; do
	servers_agree "SELECT md5(string_agg(x::text, ',')), count(*) FROM (SELECT * FROM $tb) x" \
		"${tb%% *} is identical on the three servers"
done
servers_agree "SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(bbalance) FROM pgbench_branches)" \
	"balances agree"
for i in 1 2 3; do
	is "$(server_psql "$i" -c "SELECT count(*) FROM pg_prepared_xacts")" 0 "no prepared transaction is left on node $i"
done
done_testing
