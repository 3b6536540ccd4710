#!/usr/bin/env bash
# Proves the idle commit notification between real processes: with a slow
# heartbeat (3 s), each secondary learns a new commit index right after the
# primary commits an isolated write, not at the next heartbeat; and the
# primary counts the commit-only appends it sent.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

dir=$(scratch_dir)/c
cluster_up 3 "$dir" --set heartbeat_interval_ms=3000 --set election_timeout_ms=10000
ok $? "3 nodes up with a 3 s heartbeat"
source "$dir/cluster.env"
p=$(find_primary 40)
ok $? "a primary is elected (node ${p:-none})"
# Let the no-op of the new term settle everywhere first.
sleep 0.5

late=0
for k in 1 2 3 4 5; do
	sleep 0.3	# idle time between isolated writes
	out=$(pgqctl "$(ctl_sock "$p")" propose "isolated-$k")
	idx=$(field "$out" index)
	t0=$(date +%s%N)
	for i in 1 2 3; do
		[[ $i == "$p" ]] && continue
		known=no
		# Well under the 3 s heartbeat: only the notification can explain it.
		while (( ($(date +%s%N) - t0) / 1000000 < 1000 )); do
			st=$(node_status "$i")
			if [[ $(field "$st" commit) -ge $idx ]]; then known=yes; break; fi
			sleep 0.01
		done
		[[ $known == yes ]] || { late=$((late + 1)); diag "node $i did not learn commit $idx within 1 s"; }
	done
done
is "$late" 0 "every secondary learned each commit index within 1 s (heartbeat 3 s)"
st=$(node_status "$p")
n=$(field "$st" notifications)
[[ $n -ge 10 ]]; ok $? "the primary sent commit-only appends ($n)"
done_testing
