-- Proves that the admin views of issue 7 answer through a node with the
-- whole of SQL: each view's columns and types, figures that move as writes
-- commit (commit and applied indexes, the log, the counters), joins between
-- views and with pg_stat_activity, the settings with secrets hidden, and
-- that the admin functions refuse non-superusers with 42501.  Writes are
-- made through dblink connections to the primary's client port, so that
-- they commit through the replicated log while this suite's own
-- transaction (pgTAP keeps its state in temporary tables) stays open.
BEGIN;
SELECT plan(28);

-- A view's columns and types, as a temporary table made from it shows them
-- (the node rewrites the statements it receives, not function bodies).
CREATE FUNCTION pg_temp.cols(t regclass) RETURNS text LANGUAGE sql AS $f$
	SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ',' ORDER BY attnum)
	  FROM pg_attribute WHERE attrelid = t AND attnum > 0
$f$;
CREATE TEMP TABLE c_nodes AS SELECT * FROM pgquorum.nodes LIMIT 0;
CREATE TEMP TABLE c_log AS SELECT * FROM pgquorum.log LIMIT 0;
CREATE TEMP TABLE c_sessions AS SELECT * FROM pgquorum.sessions LIMIT 0;
CREATE TEMP TABLE c_stats AS SELECT * FROM pgquorum.stats LIMIT 0;
CREATE TEMP TABLE c_settings AS SELECT * FROM pgquorum.settings LIMIT 0;

SELECT is(pg_temp.cols('c_nodes'),
	'id bigint,name text,client_addr text,peer_addr text,role text,voter boolean,'
	'reachable boolean,last_contact_ms bigint,term bigint,last_log_index bigint,'
	'persisted_index bigint,commit_index bigint,applied_index bigint,lag_entries bigint,'
	'lag_bytes bigint,lag_ms bigint', 'pgquorum.nodes: columns and types');
SELECT is(pg_temp.cols('c_log'),
	'first_index bigint,last_index bigint,segments bigint,bytes_on_disk bigint,'
	'entries_per_s double precision,fsyncs_per_s double precision,avg_batch double precision',
	'pgquorum.log: columns and types');
SELECT is(pg_temp.cols('c_sessions'),
	'id bigint,role text,database text,client_addr text,state text,statement_class text,'
	'runs_on text,since timestamp with time zone', 'pgquorum.sessions: columns and types');
SELECT is(pg_temp.cols('c_stats'),
	'commits bigint,aborts bigint,forwarded_writes bigint,idle_commit_notifications bigint,'
	'heartbeats bigint,apply_batches bigint,avg_apply_batch double precision,'
	'commit_p50_ms double precision,commit_p99_ms double precision',
	'pgquorum.stats: columns and types');
SELECT is(pg_temp.cols('c_settings'),
	'name text,setting text,default_value text,reload boolean,description text',
	'pgquorum.settings: columns and types');

-- The cluster as this node (the primary) sees it.
SELECT is((SELECT count(*) FROM pgquorum.nodes), 3::bigint, 'three members');
SELECT is((SELECT count(*) FROM pgquorum.nodes WHERE role = 'primary'), 1::bigint,
	'exactly one primary');
SELECT ok((SELECT bool_and(voter AND reachable) FROM pgquorum.nodes), 'all voters and reachable');
SELECT ok((SELECT bool_and(client_addr ~ '^127\.0\.0\.1:[0-9]+$' AND peer_addr ~ ':[0-9]+$')
	FROM pgquorum.nodes), 'client and peer addresses');
SELECT is((SELECT setting FROM pgquorum.settings WHERE name = 'cluster_secret'), '********',
	'the cluster secret is hidden');
SELECT ok((SELECT setting::int > 0 FROM pgquorum.settings WHERE name = 'node_id'),
	'settings show the effective node_id');

-- Writes through the primary's client port move the figures.
SELECT dblink_connect('pgtap_w', format('host=%s port=%s dbname=%s user=%s',
	split_part(client_addr, ':', 1), split_part(client_addr, ':', 2),
	current_database(), current_user))
  FROM pgquorum.nodes WHERE role = 'primary';
SELECT dblink_exec('pgtap_w', 'DROP TABLE IF EXISTS pgtap_admin_t');
SELECT dblink_exec('pgtap_w', 'CREATE TABLE pgtap_admin_t (id int PRIMARY KEY, v text)');
CREATE TEMP TABLE before AS
	SELECT n.commit_index, n.applied_index, l.last_index, s.commits
	  FROM pgquorum.nodes n, pgquorum.log l, pgquorum.stats s WHERE n.role = 'primary';
SELECT dblink_exec('pgtap_w', format('INSERT INTO pgtap_admin_t VALUES (%s, ''v'')', g))
  FROM generate_series(1, 5) g;
SELECT cmp_ok((SELECT commit_index FROM pgquorum.nodes WHERE role = 'primary'), '>=',
	(SELECT commit_index + 5 FROM before), 'the commit index rose by the five writes');
SELECT cmp_ok((SELECT applied_index FROM pgquorum.nodes WHERE role = 'primary'), '>=',
	(SELECT applied_index + 5 FROM before), 'the applied index rose by the five writes');
SELECT cmp_ok((SELECT last_index FROM pgquorum.log), '>=',
	(SELECT last_index + 5 FROM before), 'the log grew');
SELECT cmp_ok((SELECT commits FROM pgquorum.stats), '>=',
	(SELECT commits + 5 FROM before), 'the commit counter counted them');
SELECT ok((SELECT commit_p50_ms > 0 AND commit_p99_ms >= commit_p50_ms FROM pgquorum.stats),
	'commit latency percentiles');
SELECT ok((SELECT bool_and(lag_entries >= 0 AND lag_entries <= commit_index) FROM pgquorum.nodes
	WHERE lag_entries IS NOT NULL), 'lag in entries is within the log');

-- The secondaries' applied indexes reach the primary through their acks.
CREATE FUNCTION pg_temp.all_applied(target bigint) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
	FOR i IN 1 .. 100 LOOP
		IF (SELECT m FROM dblink('pgtap_w', 'SELECT min(applied_index) FROM pgquorum.nodes')
			AS t(m bigint)) >= target THEN
			RETURN true;
		END IF;
		PERFORM pg_sleep(0.1);
	END LOOP;
	RETURN false;
END $f$;
SELECT ok(pg_temp.all_applied((SELECT commit_index FROM pgquorum.nodes WHERE role = 'primary')),
	'every member''s applied index reaches the commit index');
SELECT is((SELECT max(lag_entries) FROM pgquorum.nodes), 0::bigint,
	'no lag once every member has applied');

-- Joins.
SELECT is((SELECT count(*) FROM pgquorum.nodes n JOIN pgquorum.log l
	ON n.last_log_index = l.last_index WHERE n.role = 'primary'), 1::bigint,
	'pgquorum.nodes joined with pgquorum.log');
SELECT ok((SELECT count(*) FROM pgquorum.sessions s JOIN pg_stat_activity a
	ON a.usename = s.role AND a.datname = s.database
	WHERE a.pid = pg_backend_pid() AND s.state = 'active') >= 1,
	'pgquorum.sessions joined with pg_stat_activity');
SELECT ok((SELECT count(*) FROM pgquorum.nodes n, pgquorum.sessions s, pg_stat_activity a
	WHERE n.role = 'primary' AND a.pid = pg_backend_pid() AND s.database = a.datname) >= 1,
	'pgquorum.nodes, pgquorum.sessions and pg_stat_activity in one join');
SELECT is((SELECT role FROM pgquorum.nodes WHERE id = (SELECT min(id) FROM pgquorum.nodes)
	UNION ALL SELECT NULL LIMIT 1) IS NOT NULL, true, 'subquery on a view');

-- Non-superusers: the functions refuse them; the views answer.
SELECT dblink_exec('pgtap_w', 'DROP ROLE IF EXISTS pgtap_admin_user');
SELECT dblink_exec('pgtap_w', 'CREATE ROLE pgtap_admin_user LOGIN');
SELECT dblink_connect('pgtap_u', format('host=%s port=%s dbname=%s user=pgtap_admin_user',
	split_part(client_addr, ':', 1), split_part(client_addr, ':', 2), current_database()))
  FROM pgquorum.nodes WHERE role = 'primary';
SELECT throws_ok($$SELECT * FROM dblink('pgtap_u', 'SELECT pgquorum.transfer_leadership(1)') AS t(b bool)$$,
	'42501', NULL, 'transfer_leadership: permission denied for a non-superuser');
SELECT throws_ok($$SELECT * FROM dblink('pgtap_u', 'SELECT pgquorum.remove_node(1)') AS t(b bigint)$$,
	'42501', NULL, 'remove_node: permission denied for a non-superuser');
SELECT throws_ok($$SELECT * FROM dblink('pgtap_u', 'SELECT pgquorum.add_node(2)') AS t(b bigint)$$,
	'42501', NULL, 'add_node: permission denied for a non-superuser');
SELECT throws_ok($$SELECT * FROM dblink('pgtap_u', 'SELECT pgquorum.wait_applied(1, 10)') AS t(b bool)$$,
	'42501', NULL, 'wait_applied: permission denied for a non-superuser');
SELECT is((SELECT n FROM dblink('pgtap_u', 'SELECT count(*) FROM pgquorum.nodes') AS t(n bigint)),
	3::bigint, 'a non-superuser reads the views');
SELECT dblink_disconnect('pgtap_u');
SELECT dblink_exec('pgtap_w', 'DROP ROLE pgtap_admin_user');
-- dblink connections outlive the transaction, and the node pools backends
SELECT dblink_disconnect('pgtap_w');

SELECT * FROM finish();
ROLLBACK;
