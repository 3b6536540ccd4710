-- Proves that a session through a pgquorum node behaves as one on
-- PostgreSQL itself: transactions, savepoints, errors, COPY-free DML,
-- prepared statements and session settings all keep their semantics.
BEGIN;
SELECT plan(9);

SELECT is(current_user::text, 'postgres', 'connected as the requested role');
SELECT ok(version() LIKE 'PostgreSQL 15%', 'the local server is PostgreSQL 15');

CREATE TABLE pgtap_t (id int PRIMARY KEY, v text NOT NULL);
INSERT INTO pgtap_t VALUES (1, 'one'), (2, 'two');
SELECT results_eq('SELECT id, v FROM pgtap_t ORDER BY id',
                  $$VALUES (1, 'one'), (2, 'two')$$, 'rows written are read back');

SELECT throws_ok('INSERT INTO pgtap_t VALUES (1, ''dup'')', '23505', NULL,
                 'a unique violation comes back with its SQLSTATE');

SAVEPOINT s1;
UPDATE pgtap_t SET v = 'uno' WHERE id = 1;
ROLLBACK TO SAVEPOINT s1;
SELECT is((SELECT v FROM pgtap_t WHERE id = 1), 'one', 'ROLLBACK TO SAVEPOINT undoes the update');

PREPARE q(int) AS SELECT v FROM pgtap_t WHERE id = $1;
SELECT is((SELECT count(*) FROM pgtap_t), 2::bigint, 'count over the session');
SELECT lives_ok('EXECUTE q(2)', 'a prepared statement runs');

SET LOCAL statement_timeout = '1234ms';
SELECT is(current_setting('statement_timeout'), '1234ms', 'SET LOCAL holds in the transaction');
SELECT has_table('pgtap_t', 'the table exists inside the transaction');

SELECT * FROM finish();
ROLLBACK;
