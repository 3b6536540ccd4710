#!/usr/bin/env bash
# Proves that pgquorum.read_consistency = strong on the primary asks a read
# index (Raft ReadIndex: the primary confirms with a majority that it still
# leads, docs/admin-views.md "Read consistency") instead of trusting a
# lease: with both secondaries' nodes stopped (SIGSTOP), a strong read on
# the primary is refused with 40001 right away, within the window in which
# "heard from a majority within the election timeout" would still have
# said yes, while a local read and a strong read of the admin views alone
# still answer (the primary steps down soon after: it cannot hear a
# majority); a run of extended messages ended by Flush is refused the
# same way and the rest of it is discarded up to its Sync, as the server
# does after an error; once the secondaries run again, strong reads answer,
# many sessions at once sharing the rounds, each seeing every write
# acknowledged before it began.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
read -r -a nodes <<< "$PGQ_NODES"
pxport() { echo "${nodes[$1-1]##*:}"; }
px() { timeout 20 psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(pxport "$1")" -U postgres -d postgres "${@:2}" 2>&1; }
strong() { px "$1" -c "SET pgquorum.read_consistency = strong" "${@:2}"; }
pid_of() { cat "$dir/node$1.launch.pid"; }
secondaries=()
for i in 1 2 3; do [[ $i == "$p" ]] || secondaries+=("$i"); done

is "$(px "$p" -c "CREATE TABLE ri (id int PRIMARY KEY)" -c "INSERT INTO ri VALUES (1)")" \
	$'CREATE TABLE\nINSERT 0 1' "a table and a row through the primary"
is "$(strong "$p" -c "SELECT count(*) FROM ri")" $'SET\n1' "strong on the primary: the row"
is "$(strong "$p" -c "SELECT count(*) FROM pgquorum.nodes")" $'SET\n3' \
	"strong on the primary: a view alone answers"

# Stop both secondaries' nodes: the primary cannot reach a majority.
stopped="$(pid_of "${secondaries[0]}") $(pid_of "${secondaries[1]}")"
at_exit "kill -CONT $stopped"
kill -STOP $stopped
t0=$(date +%s%N)
out=$(strong "$p" -v VERBOSITY=verbose -c "SELECT count(*) FROM ri")
t1=$(date +%s%N)
# (the primary may have stepped down already: then the read had nowhere to go)
like "$out" "ERROR:  40001: read_consistency strong: (the primary could not confirm with a majority|this node is a secondary and could not reach the primary)" \
	"strong on the primary with no majority reachable: 40001 (no lease trusted)"
ok "$([[ $out != *$'\n1'* ]]; echo $?)" "it gave no rows"
diag "refused after $(((t1 - t0) / 1000000)) ms (the election timeout bounds the ask)"
is "$(px "$p" -c "SELECT count(*) FROM ri")" "1" "local on the same primary still answers"
is "$(strong "$p" -c "SELECT count(*) FROM pgquorum.nodes WHERE id = $p")" $'SET\n1' \
	"strong: a query of the admin views alone reads nothing replicated and answers"
is "$(/usr/bin/python3 "$PGQ_TOP/tests/integration/strong_flush.py" "$(pxport "$p")" refused \
	"SELECT count(*) FROM ri" 2>&1)" "E:40001 | - | Z | C Z T D:1 C Z" \
	"a Flush-ended run refused with 40001 alone; the rest is discarded up to Sync; the session goes on"
kill -CONT $stopped

# The cluster runs again (a secondary may have started an election).
p=$(find_primary 15)
ok $? "a primary again (node ${p:-none})"
is "$(px "$p" -c "INSERT INTO ri VALUES (2)")" "INSERT 0 1" "a second row through the primary"
is "$(strong "$p" -c "SELECT count(*) FROM ri")" $'SET\n2' "strong on the primary answers again"
is "$(/usr/bin/python3 "$PGQ_TOP/tests/integration/strong_flush.py" "$(pxport "$p")" run \
	"SELECT count(*) FROM ri" 2>&1)" "1 2 D:2 C | Z" "strong in a Flush-ended run on the primary"

# Many strong sessions at once on every node (they share read rounds), each
# writing a row through its node and then reading the table: every read
# counts at least the rows acknowledged before it began.
scratch=$(scratch_dir)
for ((k = 0; k < 24; k++)); do
	n=$((k % 3 + 1))
	(
		out=$(strong "$n" -c "INSERT INTO ri VALUES ($((100 + k)))" \
			-c "SELECT count(*) FROM ri WHERE id = $((100 + k))" \
			-c "SELECT count(*) >= 2 FROM ri")
		echo "$out" > "$scratch/r$k"
	) &
done
wait
good=0
for ((k = 0; k < 24; k++)); do
	[[ $(cat "$scratch/r$k") == $'SET\nINSERT 0 1\n1\nt' ]] && good=$((good + 1))
done
is "$good" "24" "24 concurrent strong sessions on all nodes read their own writes and the earlier rows"
settle_all 30
servers_agree "SELECT string_agg(id::text, ',' ORDER BY id) FROM ri" "the three servers hold the same rows"
done_testing
