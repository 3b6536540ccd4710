#!/usr/bin/env bash
# Sequences (issue 6, "The rest of SQL"; docs/sql.md "Sequences"): nextval
# is not decoded, so each writing transaction carries its database's
# sequence positions (forward only) and every node moves its sequences
# there.  After leadership moves, the new primary hands out no value
# already used: serial inserts go on without a duplicate key, and the
# sequence states of the three servers converge.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
wait_capture || diag "the primary's capture is not streaming"
px() { primary_px "$@"; }
seqs="SELECT sequencename, last_value FROM pg_sequences ORDER BY 1"

px -q -c "CREATE TABLE s (id serial PRIMARY KEY, v text)" \
	-c "CREATE TABLE b (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)" \
	-c "CREATE SEQUENCE down INCREMENT BY -5 MINVALUE -1000000 MAXVALUE 1000 START WITH 1000" >/dev/null
for i in $(seq 1 20); do px -q -c "INSERT INTO s (v) VALUES ('a$i')" >/dev/null; done
out=$(px -c "INSERT INTO s (v) SELECT 'bulk' || g FROM generate_series(1, 100) g")
is "$out" "INSERT 0 100" "serial inserts through the primary"
px -q -c "INSERT INTO b (v) SELECT 'x' || g FROM generate_series(1, 30) g" \
	-c "BEGIN" -c "SELECT nextval('down'), nextval('down')" -c "INSERT INTO s (v) VALUES ('in txn')" -c "COMMIT" >/dev/null
# A value taken by a transaction that writes nothing else, then committed
# with a write of another table: carried too.
px -q -c "SELECT nextval('s_id_seq') FROM generate_series(1, 7)" >/dev/null
px -q -c "INSERT INTO b (v) VALUES ('after the gap')" >/dev/null
settle_all 60
servers_agree "$seqs" "the sequence positions are the same on the three servers"
is "$(server_psql "$p" -c "SELECT last_value FROM pg_sequences WHERE sequencename = 's_id_seq'")" 128 \
	"s_id_seq is past every value taken (121 inserted, 7 taken alone)"
like "$(server_psql $((p % 3 + 1)) -c "SELECT last_value FROM pg_sequences WHERE sequencename = 'down'")" "^995$" \
	"a descending sequence moves down on a secondary"

# Move leadership away and write through the new primary.
old=$p
to=$((p % 3 + 1))
out=$(pgqctl "$(ctl_sock "$p")" transfer "$to")
like "$out" "^ok" "leadership transfer to node $to asked" || diag "$out"
for ((t = 0; t < 150; t++)); do
	np=$(find_primary 1) && [[ $np != "$old" ]] && break; sleep 0.1
done
p=$np
[[ -n $p && $p != "$old" ]]
ok $? "a new primary (node $p)"
for ((t = 0; t < 100; t++)); do
	[[ $(field "$(node_status "$p")" role) == primary ]] && wait_capture && \
		out=$(px -c "INSERT INTO s (v) VALUES ('new primary') RETURNING id") && [[ $out =~ ^[0-9]+ ]] && break
	sleep 0.2
done
out=${out%%$'\n'*}
is "$out" 129 "the new primary's first serial value is the next unused one (128 were taken)"
out=$(px -c "INSERT INTO s (v) SELECT 'np' || g FROM generate_series(1, 50) g")
is "$out" "INSERT 0 50" "50 more serial inserts through the new primary: no duplicate key"
out=$(px -c "INSERT INTO b (v) VALUES ('np') RETURNING id")
is "${out%%$'\n'*}" 32 "an identity column goes on past its used values too (31 were taken)"
settle_all 60
servers_agree "$seqs" "the sequence states converge on the three servers"

# kill -9 of the primary's node: the next primary goes on past every value.
used=$(server_psql "$p" -c "SELECT max(id) FROM s")
killed=$p
"$PGQ_TOP/scripts/cluster" kill-node --dir "$PGQ_DIR" "$killed"
ok $? "kill -9 of the primary (node $killed)"
p=''
for ((t = 0; t < 300; t++)); do
	for i in 1 2 3; do
		[[ $i == "$killed" ]] && continue
		[[ $(field "$(node_status "$i")" role) == primary ]] && p=$i
	done
	[[ -n $p ]] && break
	sleep 0.1
done
[[ -n $p ]]
ok $? "a new primary (node ${p:-none})"
for ((t = 0; t < 100; t++)); do
	wait_capture && out=$(px -c "INSERT INTO s (v) VALUES ('after kill') RETURNING id") &&
		[[ $out =~ ^[0-9]+ ]] && break
	sleep 0.2
done
is "${out%%$'\n'*}" $((used + 1)) "its first serial value is the next unused one"
out=$(px -c "INSERT INTO s (v) SELECT 'ak' || g FROM generate_series(1, 20) g")
is "$out" "INSERT 0 20" "20 more inserts: no duplicate key"
"$PGQ_TOP/scripts/cluster" start-node --dir "$PGQ_DIR" "$killed"
ok $? "the killed node restarts"
settle_all 60
servers_agree "$seqs" "the sequence states converge again, the restarted node's included"
servers_agree "SELECT count(*), count(DISTINCT id), max(id) FROM s" "table s is the same everywhere, ids distinct"
servers_agree "SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM b" "table b is identical"
appliers_ok
ok $? "every applier is healthy"
done_testing
