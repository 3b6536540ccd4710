#!/usr/bin/env bash
# Proves that scripts/cluster starts a cluster that psql reaches through
# every node, writes a complete cluster.env, runs side by side with a
# second cluster, and that `down` stops exactly what its directory started.
source "$(dirname "$0")/../lib/tap.sh"

d1=$(scratch_dir)/c1
d2=$(scratch_dir)/c2
cluster_up 3 "$d1"
ok $? "3-node cluster up"
source "$d1/cluster.env"
for v in PGQ_NODES PG_PORTS PGQ_USER PGQ_DATABASE; do
	[[ -n ${!v} ]]; ok $? "cluster.env sets $v"
done
read -r -a nodes <<< "$PGQ_NODES"
read -r -a pgports <<< "$PG_PORTS"
is "${#nodes[@]}" 3 "PGQ_NODES lists 3 nodes"
is "${#pgports[@]}" 3 "PG_PORTS lists 3 servers"

for i in 0 1 2; do
	got=$(psql -X -At -h 127.0.0.1 -p "${nodes[i]##*:}" -U "$PGQ_USER" -d "$PGQ_DATABASE" \
		-c "select current_setting('port')" 2>&1)
	is "$got" "${pgports[i]}" "psql through node $((i + 1)) reaches its own PostgreSQL"
done

"$PGQ_TOP/scripts/cluster" status --dir "$d1" >/dev/null
ok $? "status reports every node up"

cluster_up 3 "$d2"
ok $? "a second cluster starts beside the first"
source "$d2/cluster.env"
read -r -a nodes2 <<< "$PGQ_NODES"
all=$(echo "${nodes[@]} ${nodes2[@]} ${pgports[@]} $PG_PORTS" | tr ' ' '\n' | sed 's/.*://' | sort | uniq -d)
is "$all" "" "the two clusters share no port"

"$PGQ_TOP/scripts/cluster" down --dir "$d2"
ok $? "down of the second cluster"
"$PGQ_TOP/scripts/cluster" status --dir "$d2" >/dev/null 2>&1
ok $((! $?)) "status of a stopped cluster fails"
[[ ! -f $d2/pg1/postmaster.pid ]]
ok $? "the second cluster's PostgreSQL is stopped"
"$PGQ_TOP/scripts/cluster" status --dir "$d1" >/dev/null
ok $? "the first cluster still runs"
got=$(psql -X -At -h 127.0.0.1 -p "${nodes[0]##*:}" -U postgres -d postgres -c "select 1" 2>&1)
is "$got" 1 "and still answers queries"

"$PGQ_TOP/scripts/cluster" down --dir "$d1" --clean
ok $? "down --clean"
[[ ! -e $d1 ]]
ok $? "--clean removed the directory"
done_testing
