#!/usr/bin/env bash
# What the proxy does with its sessions when its node stops being the
# primary (docs/proxy.md, "When the node stops being the primary";
# docs/design.md, "What leadership loss does").
#
# Part 1: psql sessions on the primary hold row locks, one idle in its
# transaction block, one with a statement in flight; a third has only read.
# Leadership is transferred away.  The two writing transactions are rolled
# back at once: their locks go, so the node's applier applies the new
# primary's UPDATE of those rows within seconds (a control with a lock held
# on the server itself shows that a held row lock blocks the applier, which
# is what such a session did before); the session idle in its block gets
# 40001 naming the cause on its next statement, then behaves as a failed
# block; the statement in flight ends (it is not canceled), then its
# transaction is rolled back and a COMMIT after it gets 40001 with
# ReadyForQuery idle; the read-only session is left alone.  A transaction
# that holds no lock on a user relation (pgTAP's bookkeeping in temporary
# tables) is not rolled back: tests/pgtap/20_admin_consistency.sql.
#
# Part 2 (COMMIT_REFUSED with the client gone): a client sends COMMIT and
# is killed while its PREPARE waits (for a sequence lock held on the
# server: the PREPARE query reads the sequence positions first), leadership
# moves, then the PREPARE completes under the old term's gid: the log
# refuses it, and the proxy rolls it back although nobody waits for the
# answer.  A write load keeps the node's applier busy all along, so its
# idle resolution (the only other remedy) cannot be what rolls it back;
# the new primary's UPDATE of the locked row is applied within seconds.
#
# Afterwards every acknowledged transaction of the load is everywhere, no
# prepared transaction is left and the servers hold the same rows.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
source "$(dirname "$0")/../lib/failover.sh"
wait_capture "$p"
ok $? "node $p captures from its server"
sess=$(scratch_dir)

# open_session NAME NODE DB [server]: a psql through NODE's client port (or
# NODE's own server), application_name demote_NAME, fed line by line through
# the fifo $sess/NAME.in, output in $sess/NAME.out.
open_session() {
	local host=127.0.0.1 port=${nodes[$2-1]##*:} fd
	if [[ ${4:-} == server ]]; then host=${pgsocks[$2-1]}; port=${pgports[$2-1]}; fi
	mkfifo "$sess/$1.in"
	PGAPPNAME="demote_$1" psql -X -At -v ON_ERROR_STOP=0 -h "$host" -p "$port" -U postgres \
		-d "$3" < "$sess/$1.in" > "$sess/$1.out" 2>&1 &
	eval "pid_$1=$!"
	at_exit "kill $! 2>/dev/null"
	exec {fd}> "$sess/$1.in"
	eval "fd_$1=$fd"
	say "$1" '\set VERBOSITY verbose'
}
say() { local fd; eval "fd=\$fd_$1"; shift; printf '%s\n' "$@" >&"$fd"; }
# close_session NAME: \q (other sessions' psql hold copies of the fifo's write end).
close_session() { local fd pid; say "$1" '\q'; eval "fd=\$fd_$1 pid=\$pid_$1"; exec {fd}>&-; wait "$pid" 2>/dev/null; }
# wait_out NAME REGEX [SECONDS]: until NAME's output matches (grep -E).
wait_out() {
	local t
	for ((t = 0; t < ${3:-10} * 10; t++)); do
		grep -Eq "$2" "$sess/$1.out" && return 0
		sleep 0.1
	done
	diag "$1 said: $(tr '\n' '|' < "$sess/$1.out")"
	return 1
}
# wait_primary NODE: until NODE is the primary (10 s).
wait_primary() {
	local t
	for ((t = 0; t < 100; t++)); do
		[[ $(field "$(node_status "$1")" role) == primary ]] && return 0
		sleep 0.1
	done
	return 1
}
# retry_write NODE DB SQL EXPECTED: until NODE takes the write (it may not be writable yet).
retry_write() {
	local t out
	for ((t = 0; t < 100; t++)); do
		out=$(psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${nodes[$1-1]##*:}" -U postgres \
			-d "$2" -c "$3" 2>&1)
		[[ $out == "$4" ]] && { echo "$out"; return 0; }
		sleep 0.2
	done
	echo "$out"
	return 1
}
# held_locks NODE: locks on NODE's server of the demote_ sessions' writes
# (their transaction ids and their RowExclusiveLock on dt).
held_locks() {
	server_psql "$1" -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE a.application_name IN ('demote_a', 'demote_b') AND (l.locktype = 'transactionid'
		OR (l.relation = 'dt'::regclass AND l.mode = 'RowExclusiveLock'))"
}
wait_locks_gone() {
	local t
	for ((t = 0; t < 50; t++)); do
		[[ $(held_locks "$1") == 0 ]] && return 0
		sleep 0.1
	done
	return 1
}

# ---- part 1: sessions holding row locks when leadership moves away ----

out=$(client_psql "$p" -c "CREATE TABLE dt (id int PRIMARY KEY, v text)" \
	-c "INSERT INTO dt VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four')")
is "$out" $'CREATE TABLE\nINSERT 0 4' "table dt through primary node $p"
converge "$p"
ok $? "every node applied it"

open_session a "$p" postgres
say a "BEGIN;" "UPDATE dt SET v = 'a' WHERE id = 1;"
open_session b "$p" postgres
say b "BEGIN;" "UPDATE dt SET v = 'b' WHERE id = 2;" "SELECT pg_sleep(2), 'slept';"
open_session r "$p" postgres
say r "BEGIN;" "SELECT count(*) FROM dt;"
wait_out a "^UPDATE 1$" && wait_out b "^UPDATE 1$" && wait_out r "^4$"
ok $? "session a is idle in a block that updated row 1, b runs pg_sleep in one that updated row 2, r has read"
is "$(held_locks "$p")" 4 "node $p's server holds their locks (two transaction ids, two RowExclusiveLock)"

p2=$((p % 3 + 1))
like "$(pgqctl "$(ctl_sock "$p")" transfer "$p2")" "^ok" "leadership moves from node $p to node $p2"
wait_primary "$p2"
ok $? "node $p2 is the primary"
wait_locks_gone "$p"
ok $? "the sessions' locks are released on node $p's server within 5 s"
wait_out b "^|slept$" 5
ok $? "session b's statement in flight ends as usual"
! grep -q 57014 "$sess/b.out"
ok $? "it was not canceled"
grep -q "2 sessions with a transaction that wrote here: rolled back where they hold locks" "$dir/node$p.log"
ok $? "node $p's log says how many sessions it looked at"
grep -c "rolling back its transaction, which wrote" "$dir/node$p.log" | grep -qx 2
ok $? "and it rolled back both (they hold row locks)"

out=$(retry_write "$p2" postgres "UPDATE dt SET v = 'new' WHERE id IN (1, 2)" "UPDATE 2")
is "$out" "UPDATE 2" "the new primary updates rows 1 and 2"
idx=$(field "$(node_status "$p2")" commit)
wait_applied "$p" "$idx" 5
ok $? "node $p's applier applies that UPDATE within 5 s (no session's lock is in its way)"
is "$(server_psql "$p" -c "SELECT v FROM dt WHERE id IN (1, 2) ORDER BY id")" $'new\nnew' \
	"node $p's server has the new values"

say a "SELECT v FROM dt WHERE id = 1;"
wait_out a "ERROR: +40001: this node is no longer the primary: the transaction was rolled back"
ok $? "session a's next statement gets 40001 naming the cause"
say a "SELECT 1;"
wait_out a "25P02"
ok $? "then a failed block's 25P02, as PostgreSQL answers"
say a "ROLLBACK;" "SELECT v FROM dt WHERE id = 1;"
wait_out a "^new$"
ok $? "after ROLLBACK the session reads the new primary's value"
say b "COMMIT;"
wait_out b "40001: could not commit: this node is no longer the primary; the transaction was rolled back"
ok $? "session b's COMMIT gets 40001"
say b "SELECT 'b alive';"
wait_out b "^b alive$"
ok $? "and b is out of its block (ReadyForQuery idle)"
say r "SELECT count(*) FROM dt;" "COMMIT;"
wait_out r "^COMMIT$"
ok $? "the read-only session r goes on and commits"
! grep -q ERROR "$sess/r.out"
ok $? "r got no error"
for s in a b r; do close_session "$s"; done

# Control: a row lock held on node p's server itself blocks its applier,
# as the sessions' locks did before the proxy ended their transactions.
open_session c "$p" postgres server
say c "BEGIN;" "UPDATE dt SET v = v WHERE id = 3;"
wait_out c "^UPDATE 1$"
out=$(retry_write "$p2" postgres "UPDATE dt SET v = 'new' WHERE id = 3" "UPDATE 1")
idx=$(field "$(node_status "$p2")" commit)
wait_applied "$p" "$idx" 3
ok $((! $?)) "control: with a row lock held on node $p's server, its applier waits (3 s)"
say c "ROLLBACK;"
close_session c
wait_applied "$p" "$idx" 10
ok $? "control: the lock released, it applies the UPDATE"

# ---- part 2: COMMIT_REFUSED while the client is gone ----

for i in 1 2 3; do server_psql "$i" -c "CREATE DATABASE db2" >/dev/null; done
for ((t = 0; t < 100; t++)); do
	out=$(retry_write "$p2" db2 "CREATE TABLE IF NOT EXISTS et (id int PRIMARY KEY, v text)" "CREATE TABLE")
	[[ $out == "CREATE TABLE" ]] && break
done
is "$out" "CREATE TABLE" "table et in database db2 through primary node $p2"
is "$(retry_write "$p2" db2 "INSERT INTO et VALUES (1, 'one'), (2, 'two')" "INSERT 0 2")" "INSERT 0 2" "two rows in et"
is "$(retry_write "$p2" db2 "CREATE SEQUENCE et_seq" "CREATE SEQUENCE")" "CREATE SEQUENCE" "sequence et_seq"

start_load "$p2" 1 2 100000 120
wait_acked 20 60
ok $? "a write load runs through node $p2 in database postgres ($(acked_count) acknowledged)"
open_session lk "$p2" db2 server
say lk "BEGIN;" "ALTER SEQUENCE et_seq MAXVALUE 1000000;"
wait_out lk "^ALTER SEQUENCE$"
ok $? "a session on node $p2's server holds a lock on et_seq"
open_session e "$p2" db2
say e "BEGIN;" "UPDATE et SET v = 'e' WHERE id = 1;" "COMMIT;"
for ((t = 0; t < 100; t++)); do
	n=$(server_psql "$p2" -d db2 -c "SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'demote_e' AND wait_event_type = 'Lock'")
	[[ $n == 1 ]] && break
	sleep 0.1
done
is "$n" 1 "session e's COMMIT waits for the sequence lock before its PREPARE"
kill -9 "$pid_e"; wait "$pid_e" 2>/dev/null
for ((t = 0; t < 50; t++)); do
	grep -q "went away during the COMMIT of" "$dir/node$p2.log" && break
	sleep 0.1
done
grep -q "went away during the COMMIT of" "$dir/node$p2.log"
ok $? "session e's client is gone; its backend finishes the COMMIT"
p3=$((p2 % 3 + 1))
like "$(pgqctl "$(ctl_sock "$p2")" transfer "$p3")" "^ok" "leadership moves from node $p2 to node $p3"
wait_primary "$p3"
ok $? "node $p3 is the primary"
acked_before=$(acked_count)
say lk "ROLLBACK;"
close_session lk
for ((t = 0; t < 30; t++)); do
	[[ $(server_psql "$p2" -c "SELECT count(*) FROM pg_prepared_xacts") == 0 ]] &&
		grep -q "rolled back$" "$dir/node$p2.log" && break
	sleep 0.1
done
grep -Eq "was refused by the log .* and its client is gone: rolling it back" "$dir/node$p2.log"
ok $? "the log refused session e's transaction (COMMIT_REFUSED) with its client gone"
is "$(server_psql "$p2" -c "SELECT count(*) FROM pg_prepared_xacts")" 0 \
	"the proxy rolled it back on node $p2 within 3 s"
grep -Eq "proxy: transaction pgq_${p2}_[0-9]+_[0-9]+ rolled back$" "$dir/node$p2.log"
ok $? "node $p2's log says so"
wait_acked $((acked_before + 5)) 30
ok $? "the load went on meanwhile (the applier was never idle for 5 s)"
out=$(retry_write "$p3" db2 "UPDATE et SET v = 'after' WHERE id = 1" "UPDATE 1")
is "$out" "UPDATE 1" "the new primary updates et row 1"
idx=$(field "$(node_status "$p3")" commit)
wait_applied "$p2" "$idx" 5
ok $? "node $p2's applier applies it within 5 s"

stop_load
converge "$p3"
ok $? "every node applied the commit index of node $p3"
check_after_failover
servers_agree "SELECT md5(string_agg(id || ':' || v, ',' ORDER BY id)) FROM dt" \
	"the servers hold the same dt"
servers_agree "SELECT count(*) FROM pg_prepared_xacts" "no server holds a prepared transaction"
a1=$(server_psql 1 -d db2 -c "SELECT md5(string_agg(id || ':' || v, ',' ORDER BY id)) FROM et")
a2=$(server_psql 2 -d db2 -c "SELECT md5(string_agg(id || ':' || v, ',' ORDER BY id)) FROM et")
a3=$(server_psql 3 -d db2 -c "SELECT md5(string_agg(id || ':' || v, ',' ORDER BY id)) FROM et")
[[ -n $a1 && $a1 == "$a2" && $a2 == "$a3" ]]
ok $? "the servers hold the same db2.et" || diag "$a1 / $a2 / $a3"
is "$(server_psql "$p2" -d db2 -c "SELECT v FROM et WHERE id = 1")" "after" "et row 1 has the new primary's value"
done_testing
