#!/usr/bin/env bash
# Proves replication between three real pgquorum processes: they elect one
# primary; entries proposed through it are committed and reach every node
# with the same content; after kill -9 of the primary a new one is elected
# within the election timeout and no committed entry is lost; a proposal
# through a secondary is refused with the primary's id; the killed node,
# restarted, catches up.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

dir=$(scratch_dir)/c
cluster_up 3 "$dir"
ok $? "3 nodes up"
source "$dir/cluster.env"

p=$(find_primary 15)
ok $? "a primary is elected (node ${p:-none})"
st=$(node_status "$p")
term=$(field "$st" term)

# Exactly one primary in that term.
n=0
for i in 1 2 3; do
	s=$(node_status "$i")
	[[ $(field "$s" role) == primary && $(field "$s" term) == "$term" ]] && n=$((n + 1))
done
is "$n" 1 "exactly one primary in term $term"

declare -A acked
fails=0
for k in $(seq 1 40); do
	out=$(pgqctl "$(ctl_sock "$p")" propose "entry-$k") || fails=$((fails + 1))
	idx=$(field "$out" index)
	[[ -n $idx ]] && acked[$idx]="entry-$k"
done
is "$fails" 0 "40 proposals through the primary are committed"
last=$(printf '%s\n' "${!acked[@]}" | sort -n | tail -1)

s=$((p % 3 + 1))
out=$(pgqctl "$(ctl_sock "$s")" propose nope)
like "$out" "^error not-primary leader=$p$" "a secondary refuses a proposal and names the primary"

check_acked() {	# check_acked NODE: every acked entry is in NODE's log, same text
	local bad=0 idx got
	for idx in "${!acked[@]}"; do
		got=$(pgqctl "$(ctl_sock "$1")" read "$idx")
		[[ $got == *" payload=${acked[$idx]}" ]] || { bad=$((bad + 1)); diag "node $1 index $idx: $got"; }
	done
	return $bad
}
for i in 1 2 3; do
	wait_applied "$i" "$last" 10
	ok $? "node $i applied through index $last"
	check_acked "$i"
	ok $? "node $i holds every acknowledged entry with its content"
done

# Kill the primary; a new one takes over within the election timeout
# (1 s base, up to 2 s randomized) plus generous slack for a loaded machine.
t0=$(date +%s%N)
"$PGQ_TOP/scripts/cluster" kill-node --dir "$dir" "$p"
ok $? "kill -9 of the primary (node $p)"
q=''
for ((t = 0; t < 200; t++)); do
	for i in 1 2 3; do
		[[ $i == "$p" ]] && continue
		st=$(node_status "$i")
		[[ $(field "$st" role) == primary ]] && q=$i
	done
	[[ -n $q ]] && break
	sleep 0.05
done
ms=$((($(date +%s%N) - t0) / 1000000))
[[ -n $q ]]; ok $? "a new primary (node ${q:-none}) after ${ms} ms"
out=$(pgqctl "$(ctl_sock "$q")" propose after-failover)
like "$out" "^committed index=" "the new primary commits"
idx=$(field "$out" index); acked[$idx]=after-failover
for i in 1 2 3; do
	[[ $i == "$p" ]] && continue
	wait_applied "$i" "$idx" 10
	check_acked "$i"
	ok $? "survivor node $i holds every acknowledged entry"
done

"$PGQ_TOP/scripts/cluster" start-node --dir "$dir" "$p"
ok $? "the killed node restarts"
wait_applied "$p" "$idx" 15
ok $? "the restarted node catches up to index $idx"
check_acked "$p"
ok $? "and holds every acknowledged entry"
st=$(node_status "$p")
is "$(field "$st" role)" secondary "it rejoins as a secondary"
done_testing
