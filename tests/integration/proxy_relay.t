#!/usr/bin/env bash
# Proves that unmodified clients work through a node exactly as against
# PostgreSQL (trust, no auth): psql scripts with several statements per
# query, an error mid-transaction, \copy both ways, \gset, notices and
# notifications; pgbench in simple, extended and prepared mode; a libpq
# multi-host string with target_session_attrs=read-write; cancel of a
# running pg_sleep; and a session pooled backend reused after DISCARD ALL.
source "$(dirname "$0")/../lib/tap.sh"
source "$PGQ_TOP/tests/proxy/proxy_env.sh"
[[ -x $PX_NODE ]] || skip_all "build tests/proxy/proxy_node first"

d=$(scratch_dir)
proxy_up "$d"
ok $? "PostgreSQL and a proxy node up"

got=$(px_psql -At -c "select current_setting('port'); select 1 + 1" 2>&1)
is "$got" "$PX_PG_PORT"$'\n'"2" "two statements in one simple query"

got=$(px_psql -At -v ON_ERROR_STOP=0 2>&1 <<'SQL'
create table t (id int primary key, v text);
begin;
insert into t values (1, 'a');
select 1/0;
insert into t values (2, 'b');
rollback;
insert into t values (3, 'c');
select count(*) from t;
SQL
)
like "$got" 'division by zero' "error mid-transaction is reported"
like "$got" 'current transaction is aborted' "statements after it are refused"
like "$got" $'\n1$' "only the row outside the failed transaction remains"

seq 1 1000 | awk '{print $1 "\tv" $1}' > "$d/in.tsv"
px_psql -c "create table c (id int primary key, v text)" -c "\\copy c from '$d/in.tsv'" >/dev/null 2>&1
px_psql -c "\\copy c to '$d/out.tsv'" >/dev/null 2>&1
cmp -s "$d/in.tsv" <(sort -n "$d/out.tsv"); ok $? "\\copy in and out round trip 1000 rows"

got=$(printf 'select 41 as x \\gset\n\\echo :x\n' | px_psql -At 2>&1)
is "$got" "41" "\\gset sets a psql variable"

got=$(px_psql -At -c "do \$\$ begin raise notice 'hello %', 7; end \$\$" 2>&1)
like "$got" 'NOTICE:  hello 7' "NoticeResponse passes through"
got=$(px_psql -At -c "listen ch" -c "notify ch, 'p1'" -c "select 1" 2>&1)
like "$got" 'notification "ch" with payload "p1"' "NotificationResponse passes through"
got=$(px_psql -At -c "set application_name = 'x1'" -c "show application_name" 2>&1)
is "$got" "x1" "SET and ParameterStatus"

export PGHOST=127.0.0.1 PGPORT=$PX_PORT PGUSER=postgres PGDATABASE=postgres
pgbench -i -q -s 1 >/dev/null 2>&1; ok $? "pgbench -i through the node"
for mode in simple extended prepared; do
	out=$(timeout 60 pgbench -n -M $mode -c 4 -j 2 -T 2 2>&1)
	like "$out" 'number of failed transactions: 0' "pgbench -M $mode: no failures"
done
out=$(timeout 60 pgbench -n -S -C -c 4 -j 2 -T 2 2>&1)
like "$out" 'number of failed transactions: 0' "pgbench -C: a connection per transaction"

got=$(psql -X -At "host=127.0.0.1,127.0.0.1 port=1,$PX_PORT user=postgres dbname=postgres target_session_attrs=read-write" \
	-c "select 'rw'" 2>&1)
is "$got" "rw" "multi-host string with target_session_attrs=read-write"

start=$(date +%s)
out=$(timeout 30 python3 - "$PX_PORT" <<'PY' 2>&1
import subprocess, sys, time, signal
p = subprocess.Popen(["psql", "-X", "-h", "127.0.0.1", "-p", sys.argv[1], "-U", "postgres",
                      "-d", "postgres", "-c", "select pg_sleep(20)"],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
time.sleep(1)
p.send_signal(signal.SIGINT)
print(p.communicate()[0])
PY
)
like "$out" 'canceling statement due to user request' "cancel of pg_sleep reaches the backend"
(( $(date +%s) - start < 10 )); ok $? "cancel took effect at once"

n=$(pg_psql -At -c "select count(*) from pg_stat_activity where backend_type = 'client backend' and usename = 'postgres' and pid <> pg_backend_pid()")
px_psql -c "select 1" >/dev/null; px_psql -c "select 1" >/dev/null
n2=$(pg_psql -At -c "select count(*) from pg_stat_activity where backend_type = 'client backend' and usename = 'postgres' and pid <> pg_backend_pid()")
is "$n2" "$n" "sequential sessions reuse a pooled backend"
got=$(px_psql -At -c "select current_setting('application_name')" 2>&1)
is "$got" "psql" "pooled backend was reset (DISCARD ALL)"

done_testing
