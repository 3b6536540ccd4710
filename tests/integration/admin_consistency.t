#!/usr/bin/env bash
# Proves that read consistency waits for the applied index: on a secondary
# whose applier is held back (a lock taken on its own PostgreSQL blocks the
# apply of a committed INSERT), a read with pgquorum.read_consistency =
# session after the session's own write (forwarded to the primary) waits
# (pgquorum.sessions shows it "waiting for apply") and returns the rows
# once the apply goes on, while a local read answers at once without them
# and a strong one at once with them (it runs on the primary,
# tests/integration/strong_read.t); a read that cannot be satisfied in
# read_consistency_timeout_ms fails with 40001; wait_applied waits likewise.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
read -r -a nodes <<< "$PGQ_NODES"
s=$(( p % 3 + 1 ))			# a secondary
px() { psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${nodes[$1-1]##*:}" -U postgres -d postgres "${@:2}" 2>&1; }

is "$(px "$p" -c "CREATE TABLE rc (id int PRIMARY KEY)")" "CREATE TABLE" "a table through the primary"
idx=$(field "$(node_status "$p")" commit)
wait_applied "$s" "$idx" 30
ok $? "node $s applied the table"

# Hold node s's applier: a lock on its own server that the INSERT's apply waits for.
lockdir=$(scratch_dir)
hold_table "$s" rc
is "$(px "$p" -c "INSERT INTO rc VALUES (1)")" "INSERT 0 1" "a write committed through the primary"

is "$(px "$s" -c "SELECT count(*) FROM pg_class WHERE relname = 'rc'")" "1" \
	"local: a read on the held secondary answers at once"
ok "$([[ $(field "$(node_status "$s")" applied) -lt $(field "$(node_status "$p")" commit) ]]; echo $?)" \
	"the secondary has not applied the write yet"

is "$(px "$s" -c "SET pgquorum.read_consistency = strong" -c "SELECT count(*) FROM rc")" $'SET\n1' \
	"strong: the held secondary answers at once with the row (the read runs on the primary)"

# session: after the session's own write, the read waits for its apply.
px "$s" -c "SET pgquorum.read_consistency = session" -c "INSERT INTO rc VALUES (10)" \
	-c "SELECT count(*) FROM rc" > "$lockdir/session.out" 2>&1 &
readpid=$!
state=""
for ((t = 0; t < 100; t++)); do
	state=$(px "$s" -c "SELECT count(*) FROM pgquorum.sessions WHERE state = 'waiting for apply'")
	[[ $state == 1 ]] && break
	sleep 0.1
done
is "$state" "1" "session: the read waits, seen in pgquorum.sessions as 'waiting for apply'"
kill -0 "$readpid" 2>/dev/null
ok $? "session: the read has not returned while the apply is held"
release_table "$s" rc
wait "$readpid"
is "$(cat "$lockdir/session.out")" $'SET\nINSERT 0 1\n2' "session: once applied, the read returns both rows"

# wait_applied waits for an index too; one past the log times out.
is "$(px "$s" -c "SELECT pgquorum.wait_applied($(field "$(node_status "$p")" commit), 10000)")" "t" \
	"wait_applied reaches the primary's commit index"
out=$(px "$s" -c "SELECT pgquorum.wait_applied(1000000000, 300)")
is "$out" "f" "wait_applied past the log returns false after its timeout"

# A wait past read_consistency_timeout_ms: hold the applier again, write
# and read with session.
hold_table "$s" rc
is "$(px "$p" -c "INSERT INTO rc VALUES (2)")" "INSERT 0 1" "a second write through the primary"
sed -i 's/^read_consistency_timeout_ms.*//' "$PGQ_DIR/node$s.conf"
sed -i "s/^\[nodes\]/read_consistency_timeout_ms = 500\n[nodes]/" "$PGQ_DIR/node$s.conf"
kill -HUP "$(cat "$PGQ_DIR/node$s.pid")"
for ((t = 0; t < 100; t++)); do
	[[ $(px "$s" -c "SELECT setting FROM pgquorum.settings WHERE name = 'read_consistency_timeout_ms'") == 500 ]] && break
	sleep 0.1
done
is "$(px "$s" -c "SELECT setting FROM pgquorum.settings WHERE name = 'read_consistency_timeout_ms'")" "500" \
	"pgquorum.settings shows the reloaded read_consistency_timeout_ms"
out=$(psql -X -At -h 127.0.0.1 -p "${nodes[s-1]##*:}" -U postgres -d postgres \
	-c "SET pgquorum.read_consistency = session" -c "INSERT INTO rc VALUES (11)" \
	-c "SELECT count(*) FROM rc" 2>&1)
like "$out" "read_consistency session: this node has applied the log through index" \
	"session: past read_consistency_timeout_ms the read fails"
release_table "$s" rc

done_testing
