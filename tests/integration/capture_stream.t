#!/usr/bin/env bash
# Proves the capture end to end against real PostgreSQL 15 servers: the
# slot reader creates its publication and two_phase slot, delivers each
# prepared transaction of ours (INSERT, UPDATE with a changed key, UPDATE
# leaving a TOASTed column unchanged, DELETE, a table without a primary key
# under REPLICA IDENTITY FULL with duplicate rows, TRUNCATE ... RESTART
# IDENTITY, a DDL message between rows, user-defined and non-trivial
# types), skips an applier's origin-tagged transaction and a plain commit,
# cuts a 100,000-row transaction into several bounded chunks; and the
# generated SQL, applied to a second fresh server with the same schema,
# leaves every table identical (ordered SELECT *).
source "$(dirname "$0")/../lib/tap.sh"

probe=$PGQ_BUILD/tests/capture/capture_probe
[[ -x $probe ]] || skip_all "no $probe (run make check first)"

d=$(scratch_dir)
read -r pa pb < <(pg_free_ports 2)
at_exit "pg_stop '$d/a'"
at_exit "pg_stop '$d/b'"
pg_init "$d/a" "$pa" "$d/sock" && pg_init "$d/b" "$pb" "$d/sock" &&
	pg_start "$d/a" && pg_start "$d/b"
ok $? "two PostgreSQL 15 servers (ports $pa, $pb)"

psql_on() {	# psql_on PORT [args]: quiet, unaligned, stop on error
	local port=$1; shift
	"$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"
}

schema="
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE items (id int PRIMARY KEY, name text, qty int, big text);
ALTER TABLE items ALTER big SET STORAGE EXTERNAL;
CREATE TABLE nokey (a int, b text);
ALTER TABLE nokey REPLICA IDENTITY FULL;
CREATE TABLE scratch (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
CREATE TABLE typed (id int PRIMARY KEY, m mood, at timestamptz, f float8,
	n numeric, j jsonb, arr int[], iv interval, by bytea);
CREATE TABLE bulk (id bigint PRIMARY KEY, pad text);
CREATE TABLE local_only (id int);"
psql_on "$pa" -c "$schema" && psql_on "$pb" -c "$schema"
ok $? "the same schema on both servers"

out=$d/probe.out
"$probe" --source "host=127.0.0.1 port=$pa user=postgres dbname=postgres" \
	--target "host=127.0.0.1 port=$pb user=postgres dbname=postgres" \
	--txns 4 --timeout 120 >"$out" 2>&1 &
ppid_=$!
at_exit "kill $ppid_"
for ((i = 0; i < 300; i++)); do grep -q '^ready' "$out" && break; sleep 0.1; done
grep -q '^ready' "$out"
ok $? "the reader created publication and slot and is streaming"
is "$(psql_on "$pa" -c "SELECT plugin, two_phase FROM pg_replication_slots WHERE slot_name = 'pgquorum'")" \
	"pgoutput|t" "the slot is pgoutput with two_phase"

psql_on "$pa" >/dev/null <<'SQL'
BEGIN;
INSERT INTO items VALUES (1, 'one', 1, repeat('x', 20000)), (2, 'two', 2, NULL), (3, 'th''ree', 3, 'b');
INSERT INTO nokey VALUES (1, 'a'), (1, 'a'), (2, 'b'), (NULL, 'n');
INSERT INTO scratch (v) VALUES ('s1'), ('s2');
INSERT INTO typed VALUES (1, 'happy', '2024-02-29 13:14:15.123456+05:30', 0.1, 1.50,
	'{"k": [1, "é"]}', '{1,NULL,3}', '1 day 02:03:04', '\x00ff'),
	(2, NULL, 'infinity', 'NaN', -0, 'null', '{}', '-1 mon', '');
SELECT pg_logical_emit_message(true, 'pgquorum', 'txn-1');
PREPARE TRANSACTION 'pgq_1_1';
COMMIT PREPARED 'pgq_1_1';
SQL
ok $? "transaction 1 prepared and committed"

# Not ours: an applier's origin-tagged commit and a plain commit.
psql_on "$pa" >/dev/null <<'SQL'
SELECT pg_replication_origin_create('pgquorum_test');
SELECT pg_replication_origin_session_setup('pgquorum_test');
INSERT INTO local_only VALUES (1);
SQL
psql_on "$pa" -c "INSERT INTO local_only VALUES (2)"

before4=$d/before4.lsn
psql_on "$pa" >/dev/null <<SQL
BEGIN;
UPDATE items SET qty = qty + 10 WHERE id = 1;
UPDATE items SET id = 20 WHERE id = 2;
DELETE FROM items WHERE id = 3;
UPDATE nokey SET b = 'c' WHERE a = 2;
DELETE FROM nokey WHERE ctid = (SELECT ctid FROM nokey WHERE a = 1 LIMIT 1);
UPDATE nokey SET b = 'nn' WHERE a IS NULL;
ALTER TABLE items ADD COLUMN extra int DEFAULT 7;
SELECT pg_logical_emit_message(true, 'pgquorum.ddl', 'ALTER TABLE items ADD COLUMN extra int DEFAULT 7');
INSERT INTO items VALUES (4, 'four', 4, NULL, 8);
UPDATE typed SET m = 'sad' WHERE id = 1;
SELECT pg_logical_emit_message(true, 'pgquorum', 'txn-2');
PREPARE TRANSACTION 'pgq_1_2';
COMMIT PREPARED 'pgq_1_2';
BEGIN;
TRUNCATE scratch RESTART IDENTITY;
INSERT INTO scratch (v) VALUES ('after');
SELECT pg_logical_emit_message(true, 'pgquorum', 'txn-3');
PREPARE TRANSACTION 'pgq_1_3';
COMMIT PREPARED 'pgq_1_3';
BEGIN;
INSERT INTO bulk SELECT g, repeat('p', 100) || g FROM generate_series(1, 100000) g;
SELECT pg_logical_emit_message(true, 'pgquorum', 'txn-4');
\\o $before4
SELECT pg_current_wal_insert_lsn();
\\o
PREPARE TRANSACTION 'pgq_1_4';
COMMIT PREPARED 'pgq_1_4';
SQL
ok $? "transactions 2 to 4 prepared and committed"

for ((i = 0; i < 1200; i++)); do kill -0 "$ppid_" 2>/dev/null || break; sleep 0.1; done
wait "$ppid_"
is "$?" 0 "the probe applied four transactions and exited"
grep -q '^error' "$out" && diag "$(grep '^error' "$out")"

log=$(cat "$out")
like "$log" $'\n''txn pgq_1_1 txn-1 chunks=1' "transaction 1 arrives with its gid and txn id"
like "$log" 'change pgq_1_2 U public.items old=- unchanged=1' "UPDATE leaving a TOASTed value is marked unchanged"
like "$log" 'change pgq_1_2 U public.items old=K' "UPDATE of the key carries the old key"
like "$log" 'change pgq_1_2 U public.nokey old=O' "UPDATE under REPLICA IDENTITY FULL carries the old row"
like "$log" 'change pgq_1_2 D public.nokey old=O' "DELETE under REPLICA IDENTITY FULL carries the old row"
like "$log" 'change pgq_1_2 X -.- old=- unchanged=0'$'\n''change pgq_1_2 I public.items' "the DDL message keeps its place before the next row"
like "$log" 'change pgq_1_3 T public.scratch' "TRUNCATE is captured"
like "$log" 'stats txns=4 .* skipped_origin=1 plain=1' "the origin-tagged and the plain commit are skipped, counted"
n=$(grep -c '^chunk pgq_1_4 ' "$out")
[[ $n -ge 3 ]]; ok $? "the 100,000-row transaction came in $n bounded chunks"
max=$(grep '^chunk ' "$out" | sed 's/.*bytes=//' | sort -n | tail -1)
[[ $max -le $((4 * 1024 * 1024 + 65536)) ]]; ok $? "no chunk is larger than about 4 MiB ($max bytes)"
like "$log" 'txn pgq_1_4 txn-4 chunks=' "the chunked transaction completes with its txn id"

for t in items nokey scratch typed bulk; do
	qa=$(psql_on "$pa" -c "SELECT * FROM $t ORDER BY 1, 2" | md5sum)
	qb=$(psql_on "$pb" -c "SELECT * FROM $t ORDER BY 1, 2" | md5sum)
	is "$qb" "$qa" "table $t is identical on the second server"
done
is "$(psql_on "$pb" -c 'SELECT count(*), sum(extra) FROM items')" "3|22" "the DDL ran on the second server before the row that needs it"
is "$(psql_on "$pb" -c 'SELECT count(*) FROM local_only')" "0" "skipped transactions were not applied"
is "$(psql_on "$pb" -c "SELECT length(big) FROM items WHERE id = 1")" "20000" "the unchanged TOASTed value survived the UPDATE"
confirmed=$(psql_on "$pa" -c "SELECT confirmed_flush_lsn > '$(cat "$before4")' FROM pg_replication_slots WHERE slot_name = 'pgquorum'")
is "$confirmed" "t" "the slot was confirmed past the last PREPARE once it was applied"

done_testing
