#!/usr/bin/env bash
# Proves the daemon's outer behaviour: a bad configuration file exits with
# status 2 and names file, line and key; --version/--help/--check; the pid
# file guards against a second node; SIGHUP reloads what it can and keeps
# running on a bad file; SIGTERM stops gracefully and removes the pid file.
source "$(dirname "$0")/../lib/tap.sh"

d=$(scratch_dir)
read -r cport pport pgport <<< "$(pg_free_ports 3)"
pg_init "$d/pg" "$pgport" "$d/s" && pg_start "$d/pg"
ok $? "a PostgreSQL server for the node"
at_exit "pg_stop '$d/pg'"
conninfo="host=$d/s port=$pgport user=postgres dbname=postgres"
conf=$d/node.conf
write_conf() {
	cat > "$conf" <<CONF
[pgquorum]
node_id = 1
listen_port = $cport
peer_listen_port = $pport
postgres_conninfo = '$conninfo'
data_dir = $d/data
log_file = $d/node.log
pid_file = $d/node.pid
log_level = $1
$2
[nodes]
1 = 127.0.0.1:$pport 127.0.0.1:$cport
CONF
}

# docs/configuration.md holds the key table the binary describes.
"$PGQ" --describe-config > "$d/keys.md"
grep -qxFf "$d/keys.md" "$PGQ_TOP/docs/configuration.md" && [[ $(grep -cxFf "$d/keys.md" "$PGQ_TOP/docs/configuration.md") -eq $(wc -l < "$d/keys.md") ]]
ok $? "docs/configuration.md lists every key as pgquorum --describe-config does"

out=$("$PGQ" --version); like "$out" '^pgquorum [0-9]+\.[0-9]+' "--version"
out=$("$PGQ" --help); like "$out" 'Usage:' "--help"
"$PGQ" >/dev/null 2>&1; is $? 2 "no config file: exit status 2"

write_conf info "max_client_conn = 0"
out=$("$PGQ" "$conf" 2>&1); rc=$?
is $rc 2 "bad value: exit status 2"
like "$out" "$conf:10: max_client_conn: 0 is outside the valid range" "error names file, line and key"
write_conf info "no_such_key = 1"
out=$("$PGQ" "$conf" 2>&1); rc=$?
is $rc 2 "unknown key: exit status 2"
like "$out" "$conf:10: no_such_key: unknown configuration key" "unknown key named with its line"

write_conf info ""
out=$("$PGQ" --check "$conf" 2>&1); ok $? "--check accepts a valid file"

# A node whose server is down refuses to start and says why.
saved=$conninfo; conninfo="host=127.0.0.1 port=1 user=postgres dbname=postgres"
write_conf info ""
out=$(timeout 20 "$PGQ" "$conf" 2>&1); rc=$?
is $rc 1 "local server unreachable: exit status 1"
like "$(cat "$d/node.log")" "could not connect to database" "the log says the local server is unreachable"
conninfo=$saved; rm -f "$d/node.log"
write_conf info ""

"$PGQ" "$conf" >"$d/out" 2>&1 &
pid=$!
at_exit "kill -KILL $pid"
for ((i = 0; i < 50; i++)); do [[ -f $d/node.pid ]] && break; sleep 0.1; done
is "$(cat "$d/node.pid" 2>/dev/null)" "$pid" "pid file holds the node's pid"
[[ -d $d/data ]]; ok $? "data_dir created"
pg_wait_ready 127.0.0.1 "$cport" 50 >/dev/null; bash -c "exec 3<>/dev/tcp/127.0.0.1/$cport" 2>/dev/null
ok $? "client port accepts connections"

out=$("$PGQ" "$conf" 2>&1); rc=$?
is $rc 1 "a second node on the same pid file refuses to start"
like "$out$(cat "$d/node.log")" "names running process $pid" "and says which process holds it"

wait_log() {	# wait_log REGEX: until the node's log matches
	for ((i = 0; i < 50; i++)); do grep -qE "$1" "$d/node.log" && return 0; sleep 0.1; done
	return 1
}
write_conf debug ""
kill -HUP "$pid"
wait_log "configuration reloaded"; ok $? "SIGHUP reloads a changed log_level"
write_conf debug "cluster_name = other"
kill -HUP "$pid"
wait_log "reload failed, keeping the running configuration: cluster_name cannot be changed"
ok $? "a change that needs a restart is refused with the key's name"
write_conf debug "bogus"
kill -HUP "$pid"
wait_log "reload failed.*:10: syntax error"; ok $? "a bad file on reload is reported with its line"
kill -0 "$pid"; ok $? "the node keeps running after a failed reload"

kill -TERM "$pid"
wait "$pid"; is $? 0 "SIGTERM: exit status 0"
[[ ! -e $d/node.pid ]]; ok $? "pid file removed at exit"
grep -q "pgquorum stopped" "$d/node.log"; ok $? "shutdown logged"
done_testing
