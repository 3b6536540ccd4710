#!/usr/bin/env bash
# SIGHUP on every node of a running cluster: the nodes keep replicating.
# The replication node, the commit coordinator and the peer transport keep
# pointers into the configuration they started with; a reload used to free
# it (heap-use-after-free on the next peer message; run this file with
# PGQ_BUILD=build-san to have AddressSanitizer catch a regression).
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
read -r -a nodes <<< "$PGQ_NODES"
for round in 1 2; do
	for i in 1 2 3; do kill -HUP "$(cat "$dir/node$i.launch.pid")"; done
	sleep 1
done
for i in 1 2 3; do
	kill -0 "$(cat "$dir/node$i.launch.pid")" 2>/dev/null
	ok $? "node $i still runs after two reloads"
done
p=$(find_primary 15)
ok $? "a primary (node ${p:-none})"
port=${nodes[p-1]##*:}
out=$(psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
	-c "CREATE TABLE after_reload (id int PRIMARY KEY)" -c "INSERT INTO after_reload VALUES (1)" 2>&1)
is "$out" $'CREATE TABLE\nINSERT 0 1' "writes through the primary after the reloads"
idx=$(field "$(node_status "$p")" commit)
for i in 1 2 3; do
	wait_applied "$i" "$idx" 30
	ok $? "node $i applied the write"
	is "$(server_psql "$i" -c "SELECT count(*) FROM after_reload")" 1 "node $i's server holds the row"
done
is "$(cat "$dir"/node*.out | grep -c AddressSanitizer)" 0 "no sanitizer report"
done_testing
