-- Proves the node-answered statements of issue 7 in a 3-node cluster:
-- SET/SHOW pgquorum.read_consistency per session (bad values refused with
-- 22023), a row written on the primary read through a secondary after
-- pgquorum.wait_applied and with read consistency strong (which runs the
-- read on the primary's server; local runs it on the secondary's), and a leadership
-- transfer made with pgquorum.transfer_leadership() showing in
-- pgquorum.nodes on both nodes, then handed back.  Other sessions are
-- dblink connections to the nodes' client ports (the node rewrites what
-- its clients send, not what a function runs on the server).
BEGIN;
SELECT plan(18);
CREATE TEMP TABLE me AS SELECT id FROM pgquorum.nodes WHERE role = 'primary';

CREATE FUNCTION pg_temp.connstr(addr text) RETURNS text LANGUAGE sql AS $f$
	SELECT format('host=%s port=%s dbname=%s user=%s', split_part(addr, ':', 1),
				  split_part(addr, ':', 2), current_database(), current_user)
$f$;
CREATE FUNCTION pg_temp.one(conn text, q text) RETURNS text LANGUAGE sql AS $f$
	SELECT v FROM dblink(conn, q) AS t(v text)
$f$;

SELECT dblink_connect('pgtap_w', pg_temp.connstr(client_addr))
  FROM pgquorum.nodes WHERE role = 'primary';
SELECT dblink_connect('pgtap_s', pg_temp.connstr((SELECT client_addr
  FROM pgquorum.nodes WHERE role = 'secondary' ORDER BY id LIMIT 1)));

-- SET and SHOW, per session.
SELECT is(pg_temp.one('pgtap_s', 'SHOW pgquorum.read_consistency'), 'local',
	'read_consistency is local by default');
SELECT lives_ok($$SELECT dblink_exec('pgtap_s', 'SET pgquorum.read_consistency = strong')$$,
	'SET pgquorum.read_consistency = strong');
SELECT is(pg_temp.one('pgtap_s', 'SHOW pgquorum.read_consistency'), 'strong',
	'SHOW answers the session''s level');
SELECT is(pg_temp.one('pgtap_w', 'SHOW pgquorum.read_consistency'), 'local',
	'another session keeps its own level');
SELECT throws_ok($$SELECT dblink_exec('pgtap_s', 'SET pgquorum.read_consistency = eventual')$$,
	'22023', NULL, 'an unknown level is refused with 22023');
SELECT throws_ok($$SELECT dblink_exec('pgtap_s', 'SET pgquorum.no_such_setting = 1')$$,
	'42704', NULL, 'an unknown pgquorum setting is refused with 42704');
SELECT is(pg_temp.one('pgtap_s', 'SHOW pgquorum.read_consistency'), 'strong',
	'a refused SET leaves the level alone');

-- A row written on the primary, read through a secondary.
SELECT dblink_exec('pgtap_w', 'DROP TABLE IF EXISTS pgtap_rc_t');
SELECT dblink_exec('pgtap_w', 'CREATE TABLE pgtap_rc_t (id int PRIMARY KEY, v text)');
SELECT dblink_exec('pgtap_w', 'INSERT INTO pgtap_rc_t VALUES (1, ''first'')');
SELECT is(pg_temp.one('pgtap_s', format('SELECT pgquorum.wait_applied(%s, 10000)',
	(SELECT commit_index FROM pgquorum.nodes WHERE role = 'primary'))), 't',
	'wait_applied on the secondary reaches the primary''s commit index');
SELECT is(pg_temp.one('pgtap_s', 'SELECT v FROM pgtap_rc_t WHERE id = 1'), 'first',
	'after wait_applied the secondary returns the row');
SELECT dblink_exec('pgtap_w', 'INSERT INTO pgtap_rc_t VALUES (2, ''second'')');
SELECT is(pg_temp.one('pgtap_s', 'SELECT v FROM pgtap_rc_t WHERE id = 2'), 'second',
	'read consistency strong on the secondary returns the row just written');
SELECT is(pg_temp.one('pgtap_s', 'SELECT current_setting(''data_directory'')'),
	current_setting('data_directory'),
	'read consistency strong on the secondary runs the read on the primary''s server');
SELECT lives_ok($$SELECT dblink_exec('pgtap_s', 'SET pgquorum.read_consistency = local')$$,
	'SET pgquorum.read_consistency = local on the secondary');
SELECT isnt(pg_temp.one('pgtap_s', 'SELECT current_setting(''data_directory'')'),
	current_setting('data_directory'),
	'read consistency local on the secondary reads the secondary''s own server');
SELECT lives_ok($$SELECT dblink_exec('pgtap_w', 'SET pgquorum.read_consistency = session')$$,
	'SET pgquorum.read_consistency = session on the primary');
SELECT dblink_exec('pgtap_w', 'INSERT INTO pgtap_rc_t VALUES (3, ''third'')');
SELECT is(pg_temp.one('pgtap_w', 'SELECT v FROM pgtap_rc_t WHERE id = 3'), 'third',
	'read consistency session reads the session''s own write');
SELECT is(pg_temp.one('pgtap_s', 'SELECT pgquorum.wait_applied(1000000000, 200)'), 'f',
	'wait_applied returns false when the index is not reached in time');

-- Leadership transfer and back, in one statement: while this node is not
-- the primary it would refuse this session's statements as writes.
CREATE FUNCTION pg_temp.poll(conn text, q text, want text) RETURNS boolean
LANGUAGE plpgsql AS $f$
BEGIN
	FOR i IN 1 .. 150 LOOP
		BEGIN
			IF pg_temp.one(conn, q) = want THEN
				RETURN true;
			END IF;
		EXCEPTION WHEN OTHERS THEN
			NULL;				-- no primary for a moment
		END;
		PERFORM pg_sleep(0.1);
	END LOOP;
	RETURN false;
END $f$;
CREATE FUNCTION pg_temp.transfer(me bigint, me_addr text, other bigint, other_addr text)
RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
	report text := '';
	role_q text := format('SELECT role FROM pgquorum.nodes WHERE id = %s', other);
	back_q text := format('SELECT role FROM pgquorum.nodes WHERE id = %s', me);
BEGIN
	PERFORM dblink_connect('pgtap_me', pg_temp.connstr(me_addr));
	PERFORM dblink_connect('pgtap_other', pg_temp.connstr(other_addr));
	report := pg_temp.one('pgtap_me', format('SELECT pgquorum.transfer_leadership(%s)', other));
	report := report || ' other-sees-itself:' || pg_temp.poll('pgtap_other', role_q, 'primary');
	report := report || ' me-sees-other:' || pg_temp.poll('pgtap_me', role_q, 'primary');
	report := report || ' me-is:' || pg_temp.one('pgtap_me', back_q);
	report := report || ' back:' || pg_temp.one('pgtap_other',
		format('SELECT pgquorum.transfer_leadership(%s)', me));
	report := report || ' me-primary:' || pg_temp.poll('pgtap_me', back_q, 'primary');
	-- until this node takes writes again (it applies the other term first)
	FOR i IN 1 .. 150 LOOP
		BEGIN
			PERFORM dblink_exec('pgtap_me', 'INSERT INTO pgtap_rc_t VALUES (100, ''back'')');
			EXIT;
		EXCEPTION WHEN OTHERS THEN
			PERFORM pg_sleep(0.1);
		END;
	END LOOP;
	PERFORM dblink_disconnect('pgtap_me');
	PERFORM dblink_disconnect('pgtap_other');
	RETURN report;
END $f$;
SELECT dblink_disconnect('pgtap_w');
SELECT dblink_disconnect('pgtap_s');
SELECT is(pg_temp.transfer(me.id, me.client_addr, o.id, o.client_addr),
	't other-sees-itself:true me-sees-other:true me-is:secondary back:t me-primary:true',
	'transfer_leadership moves the primary role, visible in pgquorum.nodes, and back')
  FROM pgquorum.nodes me, pgquorum.nodes o
 WHERE me.role = 'primary' AND o.id = (SELECT min(id) FROM pgquorum.nodes WHERE role = 'secondary');
SELECT is((SELECT role FROM pgquorum.nodes WHERE id = (SELECT id FROM me)), 'primary',
	'this node is the primary again');

SELECT * FROM finish();
ROLLBACK;
