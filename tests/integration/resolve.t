#!/usr/bin/env bash
# Resolution of prepared transactions against the log (issue 6, "Commit";
# docs/design.md, "The write path").  The primary's process is killed and
# two orphans of its are left on its server, as a killed client or a dead
# process leaves them: one of the term it was primary in, holding the
# lock on a row that the next primary then updates, and one of an older
# term.  Neither is in the log.  When the node starts again, the older one
# is rolled back at once (the last applied entry is of a later term), and
# the other before the first entry of the next term is applied: its lock
# would otherwise block that entry's UPDATE forever.  Then an ABORT entry
# makes the node that prepared a transaction roll it back, and is a no-op
# elsewhere.  Then the first chunk of a two-chunk transaction is logged
# and the term ends before its final chunk: every node discards what it
# applied of it.  Afterwards no prepared transaction is left and the three
# servers hold the same rows.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
source "$(dirname "$0")/../lib/failover.sh"
wait_capture "$p"
ok $? "node $p captures from its server"
out=$(client_psql "$p" -c "CREATE TABLE rt (id int PRIMARY KEY, v text)" \
	-c "INSERT INTO rt VALUES (1, 'one'), (2, 'two'), (3, 'three')")
is "$out" $'CREATE TABLE\nINSERT 0 3' "table rt through primary node $p"
converge "$p"
ok $? "every node applied it"
term=$(field "$(node_status "$p")" term)

"$PGQ_TOP/scripts/cluster" kill-node --dir "$dir" "$p"
ok $? "kill -9 of node $p's pgquorum"
# orphan GID SQL: a prepared transaction as the proxy makes them.
orphan() {
	server_psql "$p" -c "BEGIN" -c "$2" \
		-c "SELECT pg_logical_emit_message(true, 'pgquorum', '$1')" -c "PREPARE TRANSACTION '$1'"
}
g1="pgq_${p}_${term}_900001"
g0="pgq_${p}_0_900002"
orphan "$g1" "UPDATE rt SET v = 'orphan' WHERE id = 1" >/dev/null
ok $? "orphan $g1 (this term) holds the lock on row 1"
orphan "$g0" "INSERT INTO rt VALUES (100, 'orphan')" >/dev/null
ok $? "orphan $g0 (an older term)"

p2=''
for ((t = 0; t < 150; t++)); do
	p2=$(find_primary 1) && [[ $p2 != "$p" ]] && break
	p2=''
done
ok $([[ -n $p2 ]]; echo $?) "a new primary (node ${p2:-none})"
for ((t = 0; t < 100; t++)); do
	out=$(client_psql "$p2" -c "UPDATE rt SET v = 'new' WHERE id = 1") && break; sleep 0.2
done
is "$out" "UPDATE 1" "node $p2 updates row 1"
is "$(client_psql "$p2" -c "INSERT INTO rt VALUES (4, 'four')")" "INSERT 0 1" "and inserts row 4"

"$PGQ_TOP/scripts/cluster" start-node --dir "$dir" "$p"
ok $? "node $p starts again"
converge "$p2"
ok $? "node $p applies the new term's entries (the orphan's lock did not block them)"
is "$(server_psql "$p" -c "SELECT v FROM rt WHERE id = 1")" "new" "row 1 has the new primary's value on node $p"
wait_no_prepared "$p"
ok $? "no prepared transaction is left on node $p"
grep -q "rolling back prepared transaction $g1 of term $term" "$dir/node$p.log"
ok $? "the log names the orphan of term $term"
grep -q "rolling back prepared transaction $g0 of term 0" "$dir/node$p.log"
ok $? "and the older one"

# An ABORT entry (sync/txn_codec.h, kind 4) for a transaction prepared on
# node p2 under a gid that its capture never logs (a later term).
ga="pgq_${p2}_$((term + 1000))_1"
server_psql "$p2" -c "BEGIN" -c "INSERT INTO rt VALUES (200, 'aborted')" \
	-c "SELECT pg_logical_emit_message(true, 'pgquorum', '$ga')" -c "PREPARE TRANSACTION '$ga'" >/dev/null
ok $? "a prepared transaction $ga on node $p2"
hex=$(python3 -c '
import struct, sys
gid = sys.argv[2].encode()
e = struct.pack(">BBHIQ", 1, 4, 0, 0, int(sys.argv[1]))
e += struct.pack(">H", 8) + b"postgres" + struct.pack(">H", len(gid)) + gid + struct.pack(">H", 0)
print(e.hex())' "$p2" "$ga")
out=$(pgqctl "$(ctl_sock "$p2")" propose-hex "$hex")
like "$out" "^committed" "the ABORT entry is committed"
converge "$p2"
ok $? "every node applied it"
wait_no_prepared "$p2"
ok $? "node $p2 rolled $ga back"
is "$(server_psql "$p2" -c "SELECT count(*) FROM rt WHERE id = 200")" 0 "and nothing of it remains"

# The first chunk of a two-chunk transaction is logged, then the term ends
# (leadership moves) before its final chunk: every node discards what it
# applied of it at the new term's first entry, and goes on applying.
gp="pgq_9_$(field "$(node_status "$p2")" term)_1"
hex=$(python3 -c '
import struct, sys
def s16(b): return struct.pack(">H", len(b)) + b
def col(flags, name, oid): return struct.pack(">B", flags) + s16(name) + struct.pack(">Ii", oid, -1)
gid = sys.argv[1].encode()
e = struct.pack(">BBHIQ", 1, 1, 0, 0, 9) + s16(b"postgres") + s16(gid) + s16(b"")
e += struct.pack(">QII", 1, 1, 1)
e += struct.pack(">IB", 16384, ord("d")) + s16(b"public") + s16(b"rt") + struct.pack(">H", 2)
e += col(1, b"id", 23) + col(0, b"v", 25)
e += b"I" + struct.pack(">IH", 0, 2)
for v in (b"500", b"unfinished"): e += b"t" + struct.pack(">I", len(v)) + v
print(e.hex())' "$gp")
# Its proposal is answered only once applied, which the unfinished
# transaction never is: watch the commit index instead.
last=$(field "$(node_status "$p2")" last)
PGQCTL_TIMEOUT=1 pgqctl "$(ctl_sock "$p2")" propose-hex "$hex" >/dev/null 2>&1
for ((t = 0; t < 100; t++)); do
	(($(field "$(node_status "$p2")" commit) > last)) && break; sleep 0.1
done
ok $(($(field "$(node_status "$p2")" commit) > last ? 0 : 1)) "the first chunk of $gp is committed"
p3=$((p2 % 3 + 1))
like "$(pgqctl "$(ctl_sock "$p2")" transfer "$p3")" "^ok" "leadership moves from node $p2 to node $p3"
for ((t = 0; t < 100; t++)); do
	out=$(client_psql "$p3" -c "INSERT INTO rt VALUES (5, 'five')") && break; sleep 0.2
done
is "$out" "INSERT 0 1" "node $p3 takes a write in the new term"
converge "$p3"
ok $? "every node applied it (the unfinished transaction did not stop an applier)"
n=$(grep -l "discarding the unfinished transaction $gp" "$dir"/node*.log | wc -l)
is "$n" 3 "all three nodes discarded $gp"

for i in 1 2 3; do
	like "$(node_status "$i")" "applier=ok" "node $i's applier is healthy"
done
a=$(server_psql 1 -c "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM rt")
b=$(server_psql 2 -c "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM rt")
c=$(server_psql 3 -c "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM rt")
is "$a" "1:new,2:two,3:three,4:four,5:five" "node 1 holds exactly the committed rows"
is "$b" "$a" "node 2 holds the same rows"
is "$c" "$a" "node 3 holds the same rows"
for i in 1 2 3; do
	is "$(server_psql "$i" -c "SELECT count(*) FROM pg_prepared_xacts")" 0 "no prepared transaction on node $i"
done
done_testing
