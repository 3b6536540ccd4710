/*
 * test_sql_classify.c
 *	  Proves that sql/ classifies real-world SQL (pgbench's built-in scripts,
 *	  psql's \d queries, DML hidden in CTEs, EXPLAIN, temp tables, cursors,
 *	  statements refused in a transaction block, parse errors) into the class
 *	  and flags that routing needs, statement by statement in a multi-
 *	  statement string, and that the cache hits by text and by fingerprint,
 *	  never mixes up constants that matter, and stays within its bound.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/pgq_assert.h"
#include "sql/sql_classify.h"
#include "sql/sql_int.h"

#define RO SQL_CLASS_READ_ONLY
#define MW SQL_CLASS_MAY_WRITE
#define DDL SQL_CLASS_DDL
#define TXN SQL_CLASS_TXN_CONTROL
#define SES SQL_CLASS_SESSION_STATE
#define NTB SQL_CLASS_NO_TXN_BLOCK

#define F_CP SQL_F_CANNOT_PREPARE
#define F_TEMP (SQL_F_TEMP_OBJECT | SQL_F_CANNOT_PREPARE)
#define F_NOTIFY (SQL_F_NOTIFY | SQL_F_CANNOT_PREPARE)
#define F_HOLD (SQL_F_HOLD_CURSOR | SQL_F_CANNOT_PREPARE)
#define F_CAT SQL_F_TOUCHES_CATALOG
#define F_LO SQL_F_USES_LARGE_OBJECT
#define F_SEQ SQL_F_USES_SEQUENCE
#define F_PGQ SQL_F_NAMES_PGQUORUM
#define F_PW SQL_F_ROLE_PASSWORD
#define F_NTB SQL_F_NO_TXN_BLOCK
#define F_UNK SQL_F_UNKNOWN_FUNCTION

typedef struct case_
{
	const char *sql;
	sql_class	cls;
	uint32_t	flags;			/* exact */
	int			kind;			/* txn or session sub-kind, -1 = don't check */
} case_;

static const case_ cases[] = {
	/* pgbench tpcb-like and select-only (simple protocol literals) */
	{"BEGIN;", TXN, 0, SQL_TXN_BEGIN},
	{"UPDATE pgbench_accounts SET abalance = abalance + -4270 WHERE aid = 58213;", MW, 0, -1},
	{"SELECT abalance FROM pgbench_accounts WHERE aid = 58213;", RO, 0, -1},
	{"UPDATE pgbench_tellers SET tbalance = tbalance + -4270 WHERE tid = 7;", MW, 0, -1},
	{"UPDATE pgbench_branches SET bbalance = bbalance + -4270 WHERE bid = 1;", MW, 0, -1},
	{"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (7, 1, 58213, -4270, CURRENT_TIMESTAMP);", MW, 0, -1},
	{"END;", TXN, 0, SQL_TXN_COMMIT},
	{"SELECT abalance FROM pgbench_accounts WHERE aid = $1", RO, 0, -1},
	{"select count(*) from pgbench_branches", RO, 0, -1},
	{"vacuum analyze pgbench_branches", NTB, F_NTB, -1},
	{"truncate pgbench_history", DDL, 0, -1},
	/* psql \d, \dt, \l, \du catalog queries */
	{"SELECT n.nspname as \"Schema\", c.relname as \"Name\", CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' END as \"Type\", pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\" FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p','v','m','S','f','') AND n.nspname <> 'pg_catalog' AND n.nspname !~ '^pg_toast' AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 1,2;", RO, 0, -1},
	{"SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relname OPERATOR(pg_catalog.~) '^(t)$' COLLATE pg_catalog.default AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 2, 3;", RO, 0, -1},
	{"SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true) FROM pg_catalog.pg_attrdef d WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef), a.attnotnull, (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation, a.attidentity, a.attgenerated FROM pg_catalog.pg_attribute a WHERE a.attrelid = '16384' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum;", RO, 0, -1},
	{"SELECT d.datname as \"Name\", pg_catalog.pg_get_userbyid(d.datdba) as \"Owner\", pg_catalog.pg_encoding_to_char(d.encoding) as \"Encoding\", pg_catalog.array_to_string(d.datacl, E'\\n') AS \"Access privileges\" FROM pg_catalog.pg_database d ORDER BY 1;", RO, 0, -1},
	{"SELECT r.rolname, r.rolsuper, ARRAY(SELECT b.rolname FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles b ON (m.roleid = b.oid) WHERE m.member = r.oid) as memberof FROM pg_catalog.pg_roles r WHERE r.rolname !~ '^pg_' ORDER BY 1;", RO, 0, -1},
	{"SELECT pg_catalog.pg_size_pretty(pg_catalog.pg_total_relation_size(c.oid)), pg_catalog.obj_description(c.oid, 'pg_class') FROM pg_catalog.pg_class c", RO, 0, -1},
	{"select version()", RO, 0, -1},
	{"SELECT current_setting('server_version_num')", RO, 0, -1},
	/* plain reads and read-only functions */
	{"SELECT 1", RO, 0, -1},
	{"VALUES (1), (2)", RO, 0, -1},
	{"SELECT now(), clock_timestamp(), random()", RO, 0, -1},
	{"SELECT pg_sleep(1)", RO, 0, -1},
	{"SELECT lower(name), upper(name), length(name), coalesce(x, 0), abs(y) FROM t", RO, 0, -1},
	{"SELECT sum(x), avg(x), max(x) OVER (PARTITION BY y) FROM t GROUP BY y", RO, 0, -1},
	{"SELECT to_char(now(), 'YYYY'), jsonb_build_object('a', 1), array_agg(x) FROM t", RO, 0, -1},
	{"SELECT * FROM generate_series(1, 10)", RO, 0, -1},
	{"SELECT * FROM t1 JOIN t2 USING (id) WHERE id IN (SELECT id FROM t3)", RO, 0, -1},
	{"WITH x AS (SELECT * FROM t) SELECT * FROM x", RO, 0, -1},
	{"SELECT currval('s')", RO, F_SEQ, -1},
	{"TABLE t", RO, 0, -1},
	{"SELECT * FROM pg_temp.tmp", RO, F_TEMP, -1},
	/* functions that write, or of unknown volatility */
	{"SELECT nextval('s')", MW, F_SEQ, -1},
	{"SELECT setval('s', 42)", MW, F_SEQ, -1},
	{"SELECT my_func(1)", MW, F_UNK, -1},
	{"SELECT public.lower('x')", MW, F_UNK, -1},
	{"SELECT pg_advisory_lock(1)", MW, F_UNK, -1},
	{"SELECT txid_current()", MW, F_UNK, -1},
	{"SELECT lo_import('/etc/motd')", MW, F_LO, -1},
	{"SELECT lo_unlink(16400)", MW, F_LO, -1},
	{"SELECT pg_notify('ch', 'x')", MW, F_NOTIFY, -1},
	{"SELECT pg_export_snapshot()", RO, SQL_F_EXPORT_SNAPSHOT | F_CP, -1},
	{"SELECT pg_catalog.set_config('search_path', '', false)", RO, SQL_F_CHANGES_SESSION, -1},
	{"SELECT pgquorum.transfer_leadership(2)", MW, F_PGQ | F_UNK, -1},
	/* DML, locking, CTEs with DML */
	{"INSERT INTO t VALUES ($1, $2) RETURNING id", MW, 0, -1},
	{"UPDATE t SET x = 1", MW, 0, -1},
	{"DELETE FROM t WHERE id = 3", MW, 0, -1},
	{"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET x = s.x WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.x)", MW, 0, -1},
	{"INSERT INTO t SELECT * FROM s ON CONFLICT (id) DO NOTHING", MW, 0, -1},
	{"WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", MW, 0, -1},
	{"WITH x AS (SELECT 1), y AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT * FROM x, y", MW, 0, -1},
	{"SELECT * FROM t FOR UPDATE", MW, 0, -1},
	{"SELECT * FROM t WHERE id = 1 FOR SHARE SKIP LOCKED", MW, 0, -1},
	{"SELECT * FROM (SELECT * FROM t FOR NO KEY UPDATE) s", MW, 0, -1},
	{"SELECT * FROM pg_catalog.pg_class FOR UPDATE", MW, F_CAT, -1},
	{"UPDATE pg_catalog.pg_class SET relname = 'x' WHERE oid = 1", MW, F_CAT, -1},
	{"DELETE FROM pg_statistic", MW, F_CAT, -1},
	{"LOCK TABLE t IN EXCLUSIVE MODE", MW, 0, -1},
	{"LOCK TABLE pg_class", MW, F_CAT, -1},
	{"CALL proc(1)", MW, 0, -1},
	{"DO $$BEGIN PERFORM 1; END$$", MW, 0, -1},
	{"COPY t FROM STDIN", MW, 0, -1},
	{"COPY t TO STDOUT", RO, 0, -1},
	{"COPY (SELECT * FROM t) TO STDOUT WITH (FORMAT csv)", RO, 0, -1},
	{"COPY (DELETE FROM t RETURNING *) TO STDOUT", MW, 0, -1},
	{"SELECT * INTO newt FROM t", DDL, 0, -1},
	/* EXPLAIN */
	{"EXPLAIN SELECT * FROM t", RO, 0, -1},
	{"EXPLAIN INSERT INTO t VALUES (1)", RO, 0, -1},
	{"EXPLAIN ANALYZE INSERT INTO t VALUES (1)", MW, 0, -1},
	{"EXPLAIN (ANALYZE, BUFFERS) DELETE FROM t", MW, 0, -1},
	{"EXPLAIN (ANALYZE false) DELETE FROM t", RO, 0, -1},
	{"EXPLAIN ANALYZE SELECT * FROM t", RO, 0, -1},
	{"EXPLAIN SELECT * FROM pgquorum.nodes", RO, F_PGQ, -1},
	/* DDL */
	{"CREATE TABLE t (id int primary key, v text)", DDL, 0, -1},
	{"CREATE TABLE t (id serial primary key)", DDL, F_SEQ, -1},
	{"CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY)", DDL, F_SEQ, -1},
	{"CREATE TEMP TABLE tmp (x int)", DDL, F_TEMP, -1},
	{"CREATE TEMPORARY TABLE tmp (x int) ON COMMIT DROP", DDL, F_TEMP, -1},
	{"CREATE TEMP VIEW v AS SELECT 1", DDL, F_TEMP, -1},
	{"CREATE TABLE a AS SELECT * FROM t", DDL, 0, -1},
	{"CREATE MATERIALIZED VIEW mv AS SELECT * FROM t", DDL, 0, -1},
	{"REFRESH MATERIALIZED VIEW CONCURRENTLY mv", DDL, 0, -1},
	{"ALTER TABLE t ADD COLUMN c int", DDL, 0, -1},
	{"ALTER TABLE t ADD COLUMN c bigserial", DDL, F_SEQ, -1},
	{"ALTER TABLE pg_catalog.pg_class ADD COLUMN c int", DDL, F_CAT, -1},
	{"DROP TABLE t CASCADE", DDL, 0, -1},
	{"DROP SEQUENCE s", DDL, F_SEQ, -1},
	{"CREATE SEQUENCE s", DDL, F_SEQ, -1},
	{"CREATE INDEX i ON t (x)", DDL, 0, -1},
	{"COMMENT ON TABLE t IS 'x'", DDL, 0, -1},
	{"COMMENT ON LARGE OBJECT 16400 IS 'x'", DDL, F_LO, -1},
	{"GRANT SELECT ON t TO bob", DDL, 0, -1},
	{"REVOKE ALL ON SCHEMA s FROM PUBLIC", DDL, 0, -1},
	{"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", DDL, 0, -1},
	{"CREATE EXTENSION pgcrypto", DDL, 0, -1},
	{"CREATE ROLE bob LOGIN PASSWORD 'secret'", DDL, F_PW, -1},
	{"ALTER USER bob WITH PASSWORD 'SCRAM-SHA-256$4096:abc'", DDL, F_PW, -1},
	{"ALTER ROLE bob NOSUPERUSER", DDL, 0, -1},
	{"REINDEX TABLE t", DDL, 0, -1},
	{"ANALYZE t", DDL, 0, -1},
	{"CLUSTER t USING i", DDL, 0, -1},
	{"ALTER TYPE mood ADD VALUE 'meh'", DDL, 0, -1},
	{"CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p WITH (connect = false)", DDL, 0, -1},
	/* refused inside a transaction block */
	{"CREATE DATABASE d", NTB, F_NTB, -1},
	{"DROP DATABASE d", NTB, F_NTB, -1},
	{"ALTER DATABASE d SET TABLESPACE ts", NTB, F_NTB, -1},
	{"ALTER DATABASE d SET work_mem = '1MB'", DDL, 0, -1},
	{"CREATE TABLESPACE ts LOCATION '/x'", NTB, F_NTB, -1},
	{"DROP TABLESPACE ts", NTB, F_NTB, -1},
	{"CREATE INDEX CONCURRENTLY i ON t (x)", NTB, F_NTB, -1},
	{"DROP INDEX CONCURRENTLY i", NTB, F_NTB, -1},
	{"REINDEX INDEX CONCURRENTLY i", NTB, F_NTB, -1},
	{"REINDEX (CONCURRENTLY) TABLE t", NTB, F_NTB, -1},
	{"REINDEX DATABASE d", NTB, F_NTB, -1},
	{"VACUUM", NTB, F_NTB, -1},
	{"VACUUM (FULL) t", NTB, F_NTB, -1},
	{"CLUSTER", NTB, F_NTB, -1},
	{"ALTER SYSTEM SET work_mem = '8MB'", NTB, F_NTB, -1},
	{"ALTER TABLE p DETACH PARTITION c CONCURRENTLY", NTB, F_NTB, -1},
	{"CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p", NTB, F_NTB, -1},
	{"ALTER SUBSCRIPTION s REFRESH PUBLICATION", NTB, F_NTB, -1},
	{"DROP SUBSCRIPTION s", NTB, F_NTB, -1},
	/* transaction control */
	{"START TRANSACTION ISOLATION LEVEL SERIALIZABLE", TXN, 0, SQL_TXN_BEGIN},
	{"BEGIN READ ONLY", TXN, SQL_F_TXN_READ_ONLY, SQL_TXN_BEGIN},
	{"BEGIN READ WRITE", TXN, 0, SQL_TXN_BEGIN},
	{"COMMIT", TXN, 0, SQL_TXN_COMMIT},
	{"COMMIT AND CHAIN", TXN, SQL_F_TXN_CHAIN, SQL_TXN_COMMIT},
	{"ABORT", TXN, 0, SQL_TXN_ROLLBACK},
	{"ROLLBACK", TXN, 0, SQL_TXN_ROLLBACK},
	{"SAVEPOINT a", TXN, 0, SQL_TXN_SAVEPOINT},
	{"RELEASE SAVEPOINT a", TXN, 0, SQL_TXN_RELEASE},
	{"ROLLBACK TO SAVEPOINT a", TXN, 0, SQL_TXN_ROLLBACK_TO},
	{"PREPARE TRANSACTION 'g1'", TXN, 0, SQL_TXN_PREPARE},
	{"COMMIT PREPARED 'g1'", TXN, F_NTB, SQL_TXN_COMMIT_PREPARED},
	{"ROLLBACK PREPARED 'g1'", TXN, F_NTB, SQL_TXN_ROLLBACK_PREPARED},
	/* session state */
	{"SET search_path = public", SES, 0, SQL_SESSION_SET},
	{"SET LOCAL work_mem = '4MB'", SES, 0, SQL_SESSION_SET},
	{"SET TRANSACTION READ ONLY", SES, SQL_F_TXN_READ_ONLY, SQL_SESSION_SET},
	{"SET pgquorum.read_consistency = 'session'", SES, SQL_F_PGQUORUM_SETTING, SQL_SESSION_SET},
	{"SHOW pgquorum.read_consistency", SES, SQL_F_PGQUORUM_SETTING, SQL_SESSION_SHOW},
	{"RESET ALL", SES, 0, SQL_SESSION_RESET},
	{"SHOW work_mem", SES, 0, SQL_SESSION_SHOW},
	{"PREPARE p (int) AS SELECT * FROM t WHERE id = $1", SES, 0, SQL_SESSION_PREPARE},
	{"PREPARE q AS INSERT INTO t VALUES (1)", SES, 0, SQL_SESSION_PREPARE},
	{"EXECUTE p(1)", SES, 0, SQL_SESSION_EXECUTE},
	{"DEALLOCATE ALL", SES, 0, SQL_SESSION_DEALLOCATE},
	{"LISTEN ch", SES, F_NOTIFY, SQL_SESSION_LISTEN},
	{"UNLISTEN *", SES, F_NOTIFY, SQL_SESSION_UNLISTEN},
	{"NOTIFY ch, 'x'", SES, F_NOTIFY, SQL_SESSION_NOTIFY},
	{"DISCARD ALL", SES, F_NTB, SQL_SESSION_DISCARD},
	{"DISCARD TEMP", SES, 0, SQL_SESSION_DISCARD},
	{"DECLARE c CURSOR FOR SELECT * FROM t", SES, 0, SQL_SESSION_DECLARE},
	{"DECLARE c CURSOR WITH HOLD FOR SELECT * FROM t", SES, F_HOLD, SQL_SESSION_DECLARE},
	{"FETCH 10 FROM c", SES, 0, SQL_SESSION_FETCH},
	{"MOVE NEXT IN c", SES, 0, SQL_SESSION_FETCH},
	{"CLOSE c", SES, 0, SQL_SESSION_CLOSE},
	{"LOAD 'auto_explain'", SES, 0, SQL_SESSION_LOAD},
	{"CHECKPOINT", SES, 0, SQL_SESSION_CHECKPOINT},
	{"SET CONSTRAINTS ALL DEFERRED", SES, 0, SQL_SESSION_SET_CONSTRAINTS},
	/* admin views */
	{"SELECT * FROM pgquorum.nodes", RO, F_PGQ, -1},
	{"SELECT n.id, s.state FROM pgquorum.nodes n JOIN pgquorum.sessions s ON true WHERE n.id = $1", RO, F_PGQ, -1},
	{"SELECT applied FROM pgquorum.applied", RO, F_PGQ, -1},
};

static int
check_case(const case_ *tc)
{
	sql_result	r;
	int			bad = 0;

	sql_classify(tc->sql, NULL, &r);
	if (r.status != SQL_STATUS_OK || r.n_stmts != 1 || r.cls != tc->cls ||
		r.flags != tc->flags ||
		(tc->kind >= 0 && tc->cls == TXN && (int) r.stmts[0].txn != tc->kind) ||
		(tc->kind >= 0 && tc->cls == SES && (int) r.stmts[0].session != tc->kind))
	{
		fprintf(stderr, "MISMATCH %s\n  got status %d class %s flags 0x%x "
				"txn %s session %s; want class %s flags 0x%x\n",
				tc->sql, r.status, sql_class_name(r.cls), r.flags,
				r.n_stmts ? sql_txn_kind_name(r.stmts[0].txn) : "-",
				r.n_stmts ? sql_session_kind_name(r.stmts[0].session) : "-",
				sql_class_name(tc->cls), tc->flags);
		bad = 1;
	}
	sql_result_reset(&r);
	return bad;
}

/* Every case in the table gets exactly its class, flags and sub-kind. */
static void
test_table(void **state)
{
	int			bad = 0;

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		bad += check_case(&cases[i]);
	fprintf(stderr, "%zu cases, %d mismatches\n",
			sizeof(cases) / sizeof(cases[0]), bad);
	assert_int_equal(bad, 0);
}

/* Wrapped queries report their own class; PREPARE of a write is a write
 * to route at EXECUTE time. */
static void
test_inner_class(void **state)
{
	sql_result	r;

	(void) state;
	sql_classify("PREPARE q AS UPDATE t SET x = 1", NULL, &r);
	assert_int_equal(r.stmts[0].inner_cls, MW);
	sql_result_reset(&r);
	sql_classify("DECLARE c CURSOR FOR SELECT * FROM t FOR UPDATE", NULL, &r);
	assert_int_equal(r.cls, SES);
	assert_int_equal(r.stmts[0].inner_cls, MW);
	sql_result_reset(&r);
	sql_classify("EXPLAIN DELETE FROM t", NULL, &r);
	assert_int_equal(r.cls, RO);
	assert_int_equal(r.stmts[0].inner_cls, MW);
	sql_result_reset(&r);
}

/* A multi-statement string is classified per statement, with offsets, and
 * summarised by its strongest class. */
static void
test_multi_statement(void **state)
{
	const char *q = "BEGIN; INSERT INTO t VALUES (1); SELECT 1; COMMIT;";
	sql_result	r;

	(void) state;
	assert_int_equal(sql_classify(q, NULL, &r), SQL_STATUS_OK);
	assert_int_equal(r.n_stmts, 4);
	assert_int_equal(r.stmts[0].cls, TXN);
	assert_int_equal(r.stmts[0].txn, SQL_TXN_BEGIN);
	assert_int_equal(r.stmts[1].cls, MW);
	assert_int_equal(r.stmts[2].cls, RO);
	assert_int_equal(r.stmts[3].txn, SQL_TXN_COMMIT);
	assert_int_equal(r.cls, MW);
	assert_int_equal(r.class_mask, (1u << TXN) | (1u << MW) | (1u << RO));
	assert_int_equal(r.stmts[0].location, 0);
	assert_true(strncmp(q + r.stmts[1].location, " INSERT", 7) == 0);
	assert_int_equal(r.stmts[1].length, (int) strlen(" INSERT INTO t VALUES (1)"));
	sql_result_reset(&r);

	sql_classify("SELECT 1; CREATE TEMP TABLE x (a int); VACUUM", NULL, &r);
	assert_int_equal(r.cls, NTB);
	assert_int_equal(r.flags, F_TEMP | F_NTB);
	sql_result_reset(&r);
}

/* Parse errors carry the server-style message and cursor; empty strings
 * and comments are EMPTY and read-only. */
static void
test_errors_and_empty(void **state)
{
	static const char *const empties[] = {"", "   ", "-- just a comment",
	"/* block */", ";", " ; ; "};
	sql_result	r;

	(void) state;
	assert_int_equal(sql_classify("SELEC 1", NULL, &r), SQL_STATUS_PARSE_ERROR);
	assert_int_equal(r.cls, SQL_CLASS_NONE);
	assert_non_null(strstr(r.error_message, "syntax error"));
	assert_int_equal(r.error_cursor, 1);
	sql_result_reset(&r);
	sql_classify("SELECT 1; SELECT FROM WHERE;", NULL, &r);
	assert_int_equal(r.status, SQL_STATUS_PARSE_ERROR);
	assert_true(r.error_cursor > 10);
	sql_result_reset(&r);
	sql_classify("SELECT 'unterminated", NULL, &r);
	assert_int_equal(r.status, SQL_STATUS_PARSE_ERROR);
	sql_result_reset(&r);
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++)
	{
		assert_int_equal(sql_classify(empties[i], NULL, &r), SQL_STATUS_EMPTY);
		assert_int_equal(r.cls, RO);
		assert_int_equal(r.n_stmts, 0);
		sql_result_reset(&r);
	}
}

static int
volatility_cb(void *arg, const char *schema, const char *name)
{
	int		   *calls = arg;

	(*calls)++;
	if (strcmp(name, "my_stable") == 0)
		return 's';
	if (strcmp(name, "my_volatile") == 0)
		return 'v';
	if (schema != NULL && strcmp(schema, "app") == 0)
		return 'i';
	return 0;
}

/* The volatility callback decides for names the built-in table lacks. */
static void
test_volatility_callback(void **state)
{
	int			calls = 0;
	sql_options o = {volatility_cb, &calls};
	sql_result	r;

	(void) state;
	sql_classify("SELECT my_stable(x), app.f(1), count(*) FROM t", &o, &r);
	assert_int_equal(r.cls, RO);
	assert_int_equal(r.flags, 0);
	assert_int_equal(calls, 2);
	sql_result_reset(&r);
	sql_classify("SELECT my_volatile()", &o, &r);
	assert_int_equal(r.cls, MW);
	assert_int_equal(r.flags, 0);
	sql_result_reset(&r);
	sql_classify("SELECT nobody_knows()", &o, &r);
	assert_int_equal(r.cls, MW);
	assert_int_equal(r.flags, F_UNK);
	sql_result_reset(&r);
}

/* Admin view detection names exactly the views referenced. */
static void
test_admin_views(void **state)
{
	sql_result	r;

	(void) state;
	sql_classify("SELECT * FROM pgquorum.nodes n, pgquorum.log l, pg_stat_activity a, public.nodes", NULL, &r);
	assert_int_equal(sql_names_admin_view(&r),
					 (1u << SQL_ADMIN_NODES) | (1u << SQL_ADMIN_LOG));
	assert_string_equal(sql_admin_view_name(SQL_ADMIN_SETTINGS), "settings");
	sql_result_reset(&r);
	sql_classify("SELECT 1; SELECT * FROM pgquorum.settings WHERE name = $1", NULL, &r);
	assert_int_equal(sql_names_admin_view(&r), 1u << SQL_ADMIN_SETTINGS);
	assert_int_equal(r.stmts[0].admin_views, 0);
	sql_result_reset(&r);
}

/* user_relations: a relation that holds data (not an admin view, a system
 * catalog or a temporary object), wherever the statement names it; it
 * decides whether a strong read that stays on a secondary needs a read
 * index (docs/admin-views.md). */
static void
test_user_relations(void **state)
{
	static const struct
	{
		const char *sql;
		bool		user;
	}			rel_cases[] = {
		{"SELECT * FROM pgquorum.nodes", false},
		{"SELECT * FROM pgquorum.nodes n JOIN pg_stat_activity a ON true", false},
		{"SELECT * FROM pgquorum.log, pg_catalog.pg_class, information_schema.tables", false},
		{"SELECT * FROM pg_temp.scratch JOIN pgquorum.stats ON true", false},
		{"SELECT 1", false},
		{"SELECT * FROM pgquorum.nodes n JOIN t ON true", true},
		{"SELECT (SELECT count(*) FROM app.t) FROM pgquorum.log", true},
		{"SELECT * FROM pgquorum.nodes WHERE id IN (SELECT id FROM t)", true},
		{"EXPLAIN ANALYZE SELECT * FROM t", true},
		{"PREPARE q AS SELECT * FROM t", true},
		{"DECLARE c CURSOR FOR SELECT * FROM t", true},
		{"SELECT * FROM pgquorum.mytable", true},	/* not a view */
		{"WITH x AS (SELECT * FROM pgquorum.nodes) SELECT * FROM x", true},
	};
	sql_result	r;

	(void) state;
	for (size_t i = 0; i < PGQ_LENGTHOF(rel_cases); i++)
	{
		sql_classify(rel_cases[i].sql, NULL, &r);
		if (r.user_relations != rel_cases[i].user)
			fail_msg("%s: user_relations %d, want %d", rel_cases[i].sql,
					 r.user_relations, rel_cases[i].user);
		sql_result_reset(&r);
	}
	sql_classify("SELECT * FROM pgquorum.nodes; SELECT * FROM t", NULL, &r);
	assert_false(r.stmts[0].user_relations);
	assert_true(r.stmts[1].user_relations);
	assert_true(r.user_relations);
	sql_result_reset(&r);
}

/* Names and the function table's order (bsearch needs it). */
static void
test_names(void **state)
{
	(void) state;
	assert_true(sql_func_table_sorted());
	assert_string_equal(sql_class_name(MW), "may_write");
	assert_string_equal(sql_txn_kind_name(SQL_TXN_ROLLBACK_TO), "rollback_to");
	assert_string_equal(sql_session_kind_name(SQL_SESSION_DECLARE), "declare");
	assert_string_equal(sql_flag_name(SQL_F_TEMP_OBJECT), "temporary object");
	assert_string_equal(sql_flag_name(SQL_F_TEMP_OBJECT | SQL_F_NOTIFY), "?");
	for (int i = 0; i < SQL_F_COUNT_BITS; i++)
		assert_string_not_equal(sql_flag_name(1u << i), "?");
}

/* Exact text hits; other constants hit by fingerprint; entries stay within
 * the capacity, and evictions are counted. */
static void
test_cache(void **state)
{
	sql_cache  *c = sql_cache_new(4, NULL);
	sql_cache_stats s;
	const sql_result *r;
	char		q[128];

	(void) state;
	r = sql_cache_classify(c, "SELECT abalance FROM pgbench_accounts WHERE aid = 1");
	assert_int_equal(r->cls, RO);
	r = sql_cache_classify(c, "SELECT abalance FROM pgbench_accounts WHERE aid = 1");
	assert_int_equal(r->cls, RO);
	r = sql_cache_classify(c, "SELECT abalance FROM pgbench_accounts WHERE aid = 2");
	assert_int_equal(r->cls, RO);
	sql_cache_get_stats(c, &s);
	assert_int_equal(s.misses, 1);
	assert_int_equal(s.hits_text, 1);
	assert_int_equal(s.hits_fingerprint, 1);

	for (int i = 0; i < 50; i++)
	{
		snprintf(q, sizeof(q), "UPDATE t%d SET x = %d", i, i);
		r = sql_cache_classify(c, q);
		assert_int_equal(r->cls, MW);
		sql_cache_get_stats(c, &s);
		assert_true(s.entries <= 4);
	}
	assert_true(s.evictions > 0);
	assert_int_equal(s.capacity, 4);
	sql_cache_clear(c);
	sql_cache_get_stats(c, &s);
	assert_int_equal(s.entries, 0);
	sql_cache_free(c);
}

/* Constants that change the class are never shared by fingerprint. */
static void
test_cache_literal_sensitive(void **state)
{
	sql_cache  *c = sql_cache_new(16, NULL);
	const sql_result *r;

	(void) state;
	r = sql_cache_classify(c, "EXPLAIN (ANALYZE 0) DELETE FROM t");
	assert_int_equal(r->cls, RO);
	r = sql_cache_classify(c, "EXPLAIN (ANALYZE 1) DELETE FROM t");
	assert_int_equal(r->cls, MW);
	r = sql_cache_classify(c, "BEGIN READ ONLY");
	assert_int_equal(r->flags, SQL_F_TXN_READ_ONLY);
	r = sql_cache_classify(c, "BEGIN READ WRITE");
	assert_int_equal(r->flags, 0);
	r = sql_cache_classify(c, "SELEC 1");
	assert_int_equal(r->status, SQL_STATUS_PARSE_ERROR);
	r = sql_cache_classify(c, "SELEC 1");
	assert_int_equal(r->status, SQL_STATUS_PARSE_ERROR);
	assert_non_null(r->error_message);
	r = sql_cache_classify(c, "SELECT 1; DELETE FROM t");
	assert_int_equal(r->n_stmts, 2);
	r = sql_cache_classify(c, "SELECT 2; DELETE FROM t");
	assert_int_equal(r->n_stmts, 2);
	assert_int_equal(r->stmts[1].cls, MW);
	sql_cache_free(c);
}

/* A text longer than SQL_CACHE_MAX_TEXT is classified (scratch result) and
 * shared by fingerprint; a capacity-1 cache still works. */
static void
test_cache_long_text(void **state)
{
	static char q[SQL_CACHE_MAX_TEXT + 200];
	sql_cache  *c = sql_cache_new(1, NULL);
	sql_cache_stats s;
	const sql_result *r;
	size_t		n;

	(void) state;
	n = (size_t) snprintf(q, sizeof(q), "SELECT 1 WHERE 1 IN (1");
	while (n + 4 < sizeof(q) - 1)
		n += (size_t) snprintf(q + n, sizeof(q) - n, ",1");
	snprintf(q + n, sizeof(q) - n, ")");
	r = sql_cache_classify(c, q);
	assert_int_equal(r->cls, RO);
	r = sql_cache_classify(c, q);
	assert_int_equal(r->cls, RO);
	sql_cache_get_stats(c, &s);
	assert_true(s.uncacheable >= 1);
	assert_true(s.entries <= 1);
	r = sql_cache_classify(c, "DELETE FROM t");
	assert_int_equal(r->cls, MW);
	r = sql_cache_classify(c, "SELECT 1");
	assert_int_equal(r->cls, RO);
	sql_cache_free(c);
}

/* A tree deeper than the walker's bound is may-write, flagged, not a
 * crash: 1+1+...+1 nests one A_Expr per term. */
static void
test_walk_limit(void **state)
{
	static char q[8 + 2 * 3000];
	sql_result	r;
	size_t		n;

	(void) state;
	n = (size_t) snprintf(q, sizeof(q), "SELECT 1");
	while (n + 3 < sizeof(q))
		n += (size_t) snprintf(q + n, sizeof(q) - n, "+1");
	assert_int_equal(sql_classify(q, NULL, &r), SQL_STATUS_OK);
	assert_int_equal(r.cls, MW);
	assert_int_equal(r.flags, SQL_F_WALK_LIMIT);
	sql_result_reset(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_inner_class),
		cmocka_unit_test(test_multi_statement),
		cmocka_unit_test(test_errors_and_empty),
		cmocka_unit_test(test_volatility_callback),
		cmocka_unit_test(test_admin_views),
		cmocka_unit_test(test_user_relations),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_cache_literal_sensitive),
		cmocka_unit_test(test_cache_long_text),
		cmocka_unit_test(test_walk_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
