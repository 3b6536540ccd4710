#!/usr/bin/env bash
# Rebuild of a node whose needed entries were compacted (issue 6,
# "Failover"; docs/design.md "Compaction and rebuild"): with small segments
# and a short retention, a secondary that was down while the primary wrote
# finds the entries it needs compacted on every other node.  When it comes
# back the primary asks it to rebuild; it copies the primary's server with
# pg_basebackup (the applied index travels inside the copy, as the
# replication origin), installs the copy in its log and catches up.  Then
# the three servers hold the same rows, and a counter bumped once by every
# transaction is equal everywhere: no entry was applied twice or skipped.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary --set wal_segment_size=1MB --set log_retention_entries=40
read -r -a nodes <<< "$PGQ_NODES"
port=${nodes[p-1]##*:}
s=$((p % 3 + 1))	# the secondary that will be stopped
o=$((s % 3 + 1)); [[ $o == "$p" ]] && o=$((o % 3 + 1))	# the other one
for ((t = 0; t < 100; t++)); do
	[[ $(pgqctl "$(ctl_sock "$p")" capture) == state=streaming* ]] && break; sleep 0.1
done
px() { timeout 300 psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@" 2>&1; }
settle() {	# settle NODE...: each has applied the primary's commit index
	local idx i rc=0
	idx=$(field "$(node_status "$p")" commit)
	for i in "$@"; do wait_applied "$i" "$idx" 120 || { diag "node $i did not apply $idx"; rc=1; }; done
	return $rc
}
same() {	# same QUERY NAME: all three servers answer QUERY alike, and not empty
	local a b c
	a=$(server_psql 1 -c "$1"); b=$(server_psql 2 -c "$1"); c=$(server_psql 3 -c "$1")
	if [[ -n $a && $a == "$b" && $b == "$c" ]]; then ok 0 "$2"; else
		ok 1 "$2"; diag "node1: ${a:0:200}"; diag "node2: ${b:0:200}"; diag "node3: ${c:0:200}"; fi
}
# write_txns FROM TO: one transaction per row, each an 8 kB row and a bump
# of the counter, through the primary (one log entry each, about 120 to a
# 1 MB segment).
write_txns() {
	local i
	for ((i = $1; i <= $2; i++)); do
		echo "BEGIN; INSERT INTO big VALUES ($i, (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 256))); UPDATE counter SET n = n + 1 WHERE id = 1; COMMIT;"
	done | px -q
}

out=$(px -c "CREATE TABLE big (id int PRIMARY KEY, pad text)" -c "CREATE TABLE counter (id int PRIMARY KEY, n bigint)" \
	-c "INSERT INTO counter VALUES (1, 0)")
is "$out" $'CREATE TABLE\nCREATE TABLE\nINSERT 0 1' "tables made through the primary (node $p)"
write_txns 1 20
ok $? "20 transactions before the stop"
settle 1 2 3
ok $? "every node applied them"

s_applied=$(field "$(node_status "$s")" applied)
"$PGQ_TOP/scripts/cluster" kill-node --dir "$dir" "$s"
ok $? "node $s (a secondary) stopped at applied index $s_applied; its server keeps running"

write_txns 21 270
ok $? "250 more transactions while node $s is down"
settle "$p" "$o"
ok $? "the primary and node $o applied them"
for ((t = 0; t < 100; t++)); do	# compaction runs on each tick
	pf=$(field "$(node_status "$p")" first); of=$(field "$(node_status "$o")" first)
	((pf > s_applied + 1 && of > s_applied + 1)) && break; sleep 0.1
done
ok $((pf > s_applied + 1 && of > s_applied + 1 ? 0 : 1)) \
	"both compacted past node $s's position (first index $pf and $of > $((s_applied + 1)))"
[[ ! -e $dir/node$p/log/00000000000000000001.seg ]]
ok $? "the primary's log deleted its first segment ($(ls "$dir/node$p/log" | grep -c '\.seg$') left)"

"$PGQ_TOP/scripts/cluster" start-node --dir "$dir" "$s"
ok $? "node $s started again"
for ((t = 0; t < 1200; t++)); do	# at most 120 s: stop, pg_basebackup, start
	grep -q "installed the server's copy" "$dir/node$s.log" 2>/dev/null && break; sleep 0.1
done
grep -q "compacted the log entries this node needs: rebuilding the local server" "$dir/node$s.log"
ok $? "node $s was told to rebuild, and did"
grep -q "installed the server's copy" "$dir/node$s.log"
ok $? "node $s installed the copy in its log"
grep -E "rebuild|copy|log holds" "$dir/node$s.log" | tail -20 | while read -r l; do diag "$l"; done
settle 1 2 3
ok $? "node $s caught up with the primary's commit index"

write_txns 271 290
ok $? "20 transactions after the rebuild"
settle 1 2 3
ok $? "every node applied them, the rebuilt one too"

# Compacted logs restart: the core starts after the log's first entry,
# whose term it takes as the previous term (kill -9 of every node).
for i in 1 2 3; do "$PGQ_TOP/scripts/cluster" kill-node --dir "$dir" "$i" || break; done &&
	for i in 1 2 3; do "$PGQ_TOP/scripts/cluster" start-node --dir "$dir" "$i" || break; done
ok $? "every node killed and started again on its compacted log"
p=$(find_primary 30); port=${nodes[p-1]##*:}
for ((t = 0; t < 300; t++)); do
	[[ $(field "$(node_status "$p")" writable) == 1 && $(pgqctl "$(ctl_sock "$p")" capture) == state=streaming* ]] && break
	sleep 0.1
done
write_txns 291 310
ok $? "20 transactions after the restarts (primary: node $p)"
settle 1 2 3
ok $? "every node applied them"

# An interrupted rebuild is done again at start: node s killed, its server
# stopped and moved aside as a crash right after that step would leave it,
# with the marker the node writes before it begins a rebuild.
s=$((p % 3 + 1))
"$PGQ_TOP/scripts/cluster" kill-node --dir "$dir" "$s" && pg_stop "$dir/pg$s" &&
	mv "$dir/pg$s" "$dir/pg$s.pgquorum-old" &&
	printf '%s\n%s\n' "$p" "host=${pgsocks[p-1]} port=${pgports[p-1]} user=postgres dbname=postgres" \
		> "$dir/node$s/rebuild.source"
ok $? "node $s left as if it crashed in the middle of a rebuild"
"$PGQ_TOP/scripts/cluster" start-node --dir "$dir" "$s"
ok $? "node $s started again"
for ((t = 0; t < 1200; t++)); do
	[[ $(grep -c "installed the server's copy" "$dir/node$s.log" 2>/dev/null) -ge 1 &&
		$(grep -c "did not finish" "$dir/node$s.log") -ge 1 ]] &&
		grep -A100 "did not finish" "$dir/node$s.log" | grep -q "installed the server's copy" && break
	sleep 0.1
done
grep -A100 "did not finish" "$dir/node$s.log" | grep -q "installed the server's copy"
ok $? "node $s did the rebuild again and installed the copy"
[[ ! -e $dir/node$s/rebuild.source ]]
ok $? "the marker is gone"
write_txns 311 330
ok $? "20 transactions after that"
settle 1 2 3
ok $? "every node applied them"
same "SELECT n FROM counter" "the counter is equal on every server (no entry applied twice or skipped)"
is "$(server_psql "$s" -c "SELECT n FROM counter")" 330 "it counts every transaction"
same "SELECT id, md5(pad) FROM big ORDER BY id" "the three servers hold the same rows"
is "$(server_psql "$s" -c "SELECT count(*) FROM pg_prepared_xacts")" 0 "no prepared transaction left on the rebuilt server"
for ((t = 0; t < 100; t++)); do
	[[ $(server_psql "$s" -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgquorum\_%'") == 1 ]] && break
	sleep 0.1
done
is "$(server_psql "$s" -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgquorum\_%'")" 1 \
	"the rebuilt server has its own capture slot again (pg_basebackup copies none)"
like "$(server_psql "$s" -c "SELECT pg_replication_origin_progress('pgquorum', false)")" '^0/' \
	"its applied index is the replication origin's"

done_testing
