/*
 * test_sql_admin.c
 *	  Proves that the admin view rewrite replaces every pgquorum.<view>
 *	  relation a query reads (FROM, JOIN, subqueries, CTEs, UNION,
 *	  IN (SELECT ...), EXPLAIN, PREPARE, several statements) by a typed
 *	  VALUES list whose values survive quoting byte for byte, keeps the
 *	  user's aliases, $n parameters and the untouched statements' text,
 *	  gives zero-row views their types, leaves other pgquorum.x relations to
 *	  PostgreSQL, refuses view definitions, reports parse, source and
 *	  allocation failures without leaking, and that the view table is sane.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "sql/sql_admin.h"
#include "sql/sql_classify.h"

/* ---- a row source with fixed rows ---- */

static const char *const log_row[7] = {"1", "120", "2", "1048576", "35.5",
"12.25", "2.5"};
static const char tricky[] = "it's \"q\" \\n \\' \n\t nœud ☃ '' $1 --x /*";

typedef struct fixture
{
	int			calls[SQL_ADMIN_COUNT];
	unsigned	empty;			/* views with zero rows */
	unsigned	fail;			/* views whose source returns -1 */
	uint32_t	n_nodes;		/* rows of pgquorum.nodes */
} fixture;

static int
fixture_rows(void *arg, sql_admin_view v, sql_admin_rows *out)
{
	fixture    *f = arg;
	const sql_admin_view_def *def = sql_admin_get_view(v);
	const char *vals[32];
	char		id[16];

	f->calls[v]++;
	if (f->fail & (1u << v))
		return -1;
	if (f->empty & (1u << v))
		return 0;
	if (v == SQL_ADMIN_LOG)
		return sql_admin_rows_add(out, log_row, 7);
	for (uint32_t r = 0; r < (v == SQL_ADMIN_NODES ? f->n_nodes : 1); r++)
	{
		for (uint32_t c = 0; c < def->n_columns; c++)
			vals[c] = def->columns[c].type == SQL_ADMIN_T_TEXT ? tricky : NULL;
		snprintf(id, sizeof(id), "%u", r + 1);
		vals[0] = id;
		if (sql_admin_rows_add(out, vals, def->n_columns) != 0)
			return -1;
	}
	return 0;
}

static fixture fx;
static const sql_admin_row_source src = {fixture_rows, &fx};

static int
setup(void **state)
{
	(void) state;
	memset(&fx, 0, sizeof(fx));
	fx.n_nodes = 2;
	sql_admin_test_fail_alloc(0);
	return 0;
}

/* Rewrite q; assert the status; return the owned output (or NULL). */
static char *
rewrite(const char *q, sql_admin_status want)
{
	char	   *out = (char *) 1;
	char	   *err = (char *) 1;
	sql_admin_status st = sql_admin_rewrite(q, &src, &out, &err);

	if (st != want)
		fail_msg("%s: got %s (%s), want %s", q, sql_admin_status_name(st),
				 err ? err : "", sql_admin_status_name(want));
	assert_true((out != NULL) == (st == SQL_ADMIN_REWRITTEN));
	assert_true((err != NULL) == (st > SQL_ADMIN_REWRITTEN));
	free(err);
	return out;
}

/* The output parses, names no admin view, and has the statement count. */
static void
assert_clean(const char *out, uint32_t n_stmts)
{
	sql_result	r;

	assert_int_equal(sql_classify(out, NULL, &r), SQL_STATUS_OK);
	assert_int_equal(sql_names_admin_view(&r), 0);
	assert_int_equal(r.n_stmts, n_stmts);
	sql_result_reset(&r);
}

static int
count_of(const char *s, const char *sub)
{
	int			n = 0;

	for (const char *p = s; (p = strstr(p, sub)) != NULL; p += strlen(sub))
		n++;
	return n;
}

/* ---- the view table ---- */

static void
test_view_table(void **state)
{
	(void) state;
	for (int v = 0; v < SQL_ADMIN_COUNT; v++)
	{
		const sql_admin_view_def *d = sql_admin_get_view((sql_admin_view) v);

		assert_int_equal(d->view, v);
		assert_string_equal(d->name, sql_admin_view_name((sql_admin_view) v));
		assert_int_equal(sql_admin_find_view(d->name), v);
		assert_true(d->n_columns > 0 && d->n_columns <= 32);
		for (uint32_t i = 0; i < d->n_columns; i++)
		{
			assert_true(d->columns[i].name[0] != '\0');
			assert_string_not_equal(sql_admin_type_name(d->columns[i].type), "?");
			for (uint32_t j = 0; j < i; j++)
				assert_string_not_equal(d->columns[i].name, d->columns[j].name);
		}
	}
	assert_int_equal(sql_admin_get_view(SQL_ADMIN_NODES)->n_columns, 16);
	assert_int_equal(sql_admin_get_view(SQL_ADMIN_LOG)->n_columns, 7);
	assert_int_equal(sql_admin_get_view(SQL_ADMIN_SESSIONS)->n_columns, 8);
	assert_int_equal(sql_admin_get_view(SQL_ADMIN_STATS)->n_columns, 9);
	assert_int_equal(sql_admin_get_view(SQL_ADMIN_SETTINGS)->n_columns, 5);
	assert_int_equal(sql_admin_find_view("Nodes"), -1);
	assert_int_equal(sql_admin_find_view("applied"), -1);
	assert_string_equal(sql_admin_type_name(SQL_ADMIN_T_FLOAT8), "double precision");
	assert_string_equal(sql_admin_type_name(SQL_ADMIN_T_COUNT), "?");
}

/* ---- exact output ---- */

static void
test_exact(void **state)
{
	char	   *out;

	(void) state;
	out = rewrite("SELECT first_index FROM pgquorum.log WHERE segments > 1",
				  SQL_ADMIN_REWRITTEN);
	assert_string_equal(out,
						"SELECT first_index FROM (VALUES ('1'::bigint, '120'::bigint, "
						"'2'::bigint, '1048576'::bigint, '35.5'::double precision, "
						"'12.25'::double precision, '2.5'::double precision)) "
						"log(first_index, last_index, segments, bytes_on_disk, "
						"entries_per_s, fsyncs_per_s, avg_batch) WHERE segments > 1");
	free(out);

	fx.empty = 1u << SQL_ADMIN_SETTINGS;
	out = rewrite("select * from pgquorum.settings s", SQL_ADMIN_REWRITTEN);
	assert_string_equal(out,
						"SELECT * FROM (SELECT NULL::pg_catalog.text, NULL::pg_catalog.text, "
						"NULL::pg_catalog.text, NULL::boolean, NULL::pg_catalog.text "
						"WHERE false) s(name, setting, default_value, reload, description)");
	free(out);
}

/* ---- many shapes ---- */

typedef struct shape
{
	const char *sql;
	uint32_t	n_stmts;
	int			n_values;		/* "(VALUES" occurrences expected */
	const char *contains[3];	/* substrings of the output */
} shape;

static const shape shapes[] = {
	{"SELECT * FROM pgquorum.nodes", 1, 1, {"nodes(id, name, client_addr"}},
	{"SELECT name FROM pgquorum.nodes WHERE voter AND id > 1 ORDER BY lag_ms DESC LIMIT 3", 1, 1,
	{"WHERE voter AND id > 1 ORDER BY lag_ms DESC LIMIT 3"}},
	{"SELECT count(*), max(term), avg(lag_bytes) FROM pgquorum.nodes GROUP BY role HAVING count(*) > 0", 1, 1,
	{"count(*)", "GROUP BY role HAVING"}},
	{"SELECT n.name, l.last_index FROM pgquorum.nodes n JOIN pgquorum.log l ON n.applied_index = l.last_index", 1, 2,
	{") n(id,", ") l(first_index,", "JOIN"}},
	{"SELECT * FROM pgquorum.sessions s LEFT JOIN pg_stat_activity a ON a.usename = s.role", 1, 1,
	{") s(id, role,", "LEFT JOIN pg_stat_activity a"}},
	{"SELECT * FROM pgquorum.nodes AS x(a, b)", 1, 1, {") x(a, b, client_addr, peer_addr"}},
	{"SELECT * FROM \"pgquorum\".\"nodes\"", 1, 1, {") nodes(id"}},
	{"SELECT * FROM PGQUORUM.NODES", 1, 1, {") nodes(id"}},
	{"SELECT * FROM mydb.pgquorum.stats", 1, 1, {") stats(commits"}},
	{"SELECT * FROM (SELECT id FROM pgquorum.nodes) sub", 1, 1, {") sub"}},
	{"WITH w AS (SELECT * FROM pgquorum.nodes) SELECT * FROM w, pgquorum.log", 1, 2, {"WITH w AS"}},
	{"SELECT * FROM t WHERE id IN (SELECT id FROM pgquorum.sessions)", 1, 1, {"IN (SELECT id FROM"}},
	{"SELECT name FROM pgquorum.settings UNION ALL SELECT name FROM pgquorum.nodes", 1, 2, {"UNION ALL"}},
	{"EXPLAIN (COSTS OFF) SELECT * FROM pgquorum.log", 1, 1, {"EXPLAIN (COSTS OFF)"}},
	{"EXPLAIN ANALYZE SELECT * FROM pgquorum.log", 1, 1, {"EXPLAIN (ANALYZE)"}},
	{"SELECT * FROM pgquorum.nodes WHERE id = $1 AND name <> $2", 1, 1, {"id = $1 AND name <> $2"}},
	{"PREPARE q(bigint) AS SELECT * FROM pgquorum.nodes WHERE id = $1", 1, 1, {"PREPARE q(bigint) AS"}},
	{"DECLARE c CURSOR FOR SELECT * FROM pgquorum.log", 1, 1, {"DECLARE c CURSOR FOR"}},
	{"COPY (SELECT * FROM pgquorum.log) TO STDOUT", 1, 1, {"COPY (SELECT"}},
	{"INSERT INTO history SELECT now(), * FROM pgquorum.stats", 1, 1, {"INSERT INTO history"}},
	{"CREATE TABLE snap AS SELECT * FROM pgquorum.nodes", 1, 1, {"CREATE TABLE snap AS"}},
	{"SELECT pgquorum.nodes.name, pgquorum.nodes.* FROM pgquorum.nodes", 1, 1, {"SELECT nodes.name, nodes.*"}},
	{"SELECT a.id FROM pgquorum.nodes a, pgquorum.nodes b WHERE a.id = b.id", 1, 2, {") a(id", ") b(id"}},
	{"SELECT * FROM pgquorum.nodes n, LATERAL (SELECT * FROM pgquorum.log WHERE last_index > n.term) x", 1, 2,
	{"LATERAL (SELECT"}},
	{"SELECT (SELECT count(*) FROM pgquorum.sessions), EXISTS (SELECT 1 FROM pgquorum.stats)", 1, 2,
	{"EXISTS (SELECT 1 FROM"}},
	{"UPDATE t SET x = n.term FROM pgquorum.nodes n WHERE t.id = n.id", 1, 1, {"UPDATE t SET x = n.term FROM (VALUES"}},
	{"DELETE FROM t USING pgquorum.sessions s WHERE t.id = s.id", 1, 1, {"DELETE FROM t USING (VALUES"}},
	{"MERGE INTO t USING pgquorum.nodes n ON t.id = n.id WHEN MATCHED THEN UPDATE SET x = n.term", 1, 1,
	{"MERGE INTO t USING (VALUES"}},
	{"SELECT 1; SELECT * FROM pgquorum.log; SELECT 2", 3, 1, {"SELECT 1;", "; SELECT 2"}},
	{"SELECT * FROM pgquorum.log;SELECT * FROM pgquorum.stats;", 2, 2, {";SELECT * FROM (VALUES"}},
};

static void
test_shapes(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
	{
		const shape *s = &shapes[i];
		char	   *out = rewrite(s->sql, SQL_ADMIN_REWRITTEN);

		assert_clean(out, s->n_stmts);
		if (count_of(out, "(VALUES") != s->n_values)
			fail_msg("%s -> %s: want %d VALUES", s->sql, out, s->n_values);
		for (int j = 0; j < 3 && s->contains[j] != NULL; j++)
			if (strstr(out, s->contains[j]) == NULL)
				fail_msg("%s -> %s: lacks \"%s\"", s->sql, out, s->contains[j]);
		free(out);
	}
}

/* ---- values survive quoting ---- */

/* First VALUES row's item c of the first statement of sql. */
static char *
first_value(const char *sql, int c)
{
	PgQueryProtobufParseResult pr = pg_query_parse_protobuf(sql);
	PgQuery__ParseResult *t;
	PgQuery__SelectStmt *top,
			   *vals;
	PgQuery__Node *item;
	char	   *v = NULL;

	assert_null(pr.error);
	t = pg_query__parse_result__unpack(NULL, pr.parse_tree.len,
									   (const uint8_t *) pr.parse_tree.data);
	top = t->stmts[0]->stmt->select_stmt;
	vals = top->from_clause[0]->range_subselect->subquery->select_stmt;
	item = vals->values_lists[0]->list->items[c];
	assert_int_equal(item->node_case, PG_QUERY__NODE__NODE_TYPE_CAST);
	if (!item->type_cast->arg->a_const->isnull)
		v = strdup(item->type_cast->arg->a_const->sval->sval);
	pg_query__parse_result__free_unpacked(t, NULL);
	pg_query_free_protobuf_parse_result(pr);
	return v;
}

static void
test_values_roundtrip(void **state)
{
	char	   *out;
	char	   *v;

	(void) state;
	out = rewrite("SELECT * FROM pgquorum.nodes", SQL_ADMIN_REWRITTEN);
	v = first_value(out, 1);	/* name: the tricky text */
	assert_string_equal(v, tricky);
	free(v);
	assert_null(first_value(out, 5));	/* voter: NULL */
	assert_non_null(strstr(out, "NULL::boolean"));
	assert_non_null(strstr(out, "NULL::bigint"));
	free(out);
}

/* ---- splicing keeps the untouched text ---- */

static void
test_splice(void **state)
{
	const char *q = "SELECT 1 /* keep */;\n  -- c\n SELECT * FROM pgquorum.log l ;"
		"SELECT 'pgquorum.nodes' -- tail";
	char	   *out;

	(void) state;
	out = rewrite(q, SQL_ADMIN_REWRITTEN);
	assert_memory_equal(out, "SELECT 1 /* keep */;SELECT * FROM (VALUES", 41);
	assert_non_null(strstr(out, " l(first_index,"));
	assert_non_null(strstr(out, ";SELECT 'pgquorum.nodes' -- tail"));
	assert_int_equal(strlen(strstr(out, ";SELECT 'pgquorum")),
					 strlen(";SELECT 'pgquorum.nodes' -- tail"));
	free(out);
}

/* ---- left alone ---- */

static void
test_unchanged(void **state)
{
	static const char *const qs[] = {
		"SELECT 1",
		"",
		"selec",				/* a parse error, but no view: not parsed */
		"SELECT * FROM pgquorum.applied",
		"SELECT * FROM pgquorum.nosuch",
		"SELECT * FROM nodes",
		"SELECT * FROM public.nodes",
		"SELECT 'pgquorum.nodes'",
		"SELECT pgquorum.wait_applied(10, 1000)",
		"INSERT INTO pgquorum.nodes VALUES (1)",
		"UPDATE pgquorum.settings SET setting = 'x'",
		"COPY pgquorum.nodes TO STDOUT",
		"LOCK pgquorum.log",
		"TRUNCATE pgquorum.log",
		"GRANT SELECT ON pgquorum.nodes TO PUBLIC",
		"CREATE TABLE c () INHERITS (pgquorum.nodes)",
		"SELECT * FROM pgquorum.nodes TABLESAMPLE SYSTEM (10)",
		"CREATE STATISTICS st ON id, term FROM pgquorum.nodes",
		"VACUUM pgquorum.log",
		"SET pgquorum.read_consistency = strong",
	};

	(void) state;
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
		assert_null(rewrite(qs[i], SQL_ADMIN_UNCHANGED));
	assert_int_equal(fx.calls[SQL_ADMIN_NODES], 0);
}

/* ---- errors ---- */

static void
test_errors(void **state)
{
	static const char *const refused[] = {
		"CREATE VIEW v AS SELECT * FROM pgquorum.nodes",
		"CREATE OR REPLACE VIEW v AS SELECT 1 FROM t WHERE EXISTS (SELECT 1 FROM pgquorum.log)",
		"CREATE MATERIALIZED VIEW m AS SELECT * FROM pgquorum.stats",
		"CREATE RULE r AS ON INSERT TO t DO ALSO SELECT * FROM pgquorum.log",
		"CREATE FUNCTION f() RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT count(*) FROM pgquorum.nodes; END",
	};
	char	   *out,
			   *err;

	(void) state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_null(rewrite(refused[i], SQL_ADMIN_REFUSED));
	assert_int_equal(sql_admin_rewrite(refused[0], &src, &out, &err),
					 SQL_ADMIN_REFUSED);
	assert_string_equal(err, "pgquorum.nodes cannot be used in CREATE VIEW: "
						"its rows are computed for each query");
	free(err);
	assert_string_equal(sql_admin_status_sqlstate(SQL_ADMIN_REFUSED), "0A000");

	assert_int_equal(sql_admin_rewrite("SELECT * FROM pgquorum.nodes WHERE", &src,
									   &out, &err), SQL_ADMIN_PARSE_ERROR);
	assert_null(out);
	assert_non_null(strstr(err, "syntax error at end of input"));
	free(err);
	assert_null(rewrite("SELECT * FROM pgquorum.nodes; SELEC 1", SQL_ADMIN_PARSE_ERROR));
	assert_null(rewrite("SELECT 'pgquorum", SQL_ADMIN_PARSE_ERROR));
	assert_null(rewrite("SELECT * FROM pgquorum.nodes WHERE id = $0", SQL_ADMIN_PARSE_ERROR));
	/* err may be NULL */
	assert_int_equal(sql_admin_rewrite("SELECT (pgquorum", &src, &out, NULL),
					 SQL_ADMIN_PARSE_ERROR);
	assert_string_equal(sql_admin_status_sqlstate(SQL_ADMIN_PARSE_ERROR), "42601");
	assert_null(sql_admin_status_sqlstate(SQL_ADMIN_REWRITTEN));
	assert_string_equal(sql_admin_status_name(SQL_ADMIN_NO_MEMORY), "no_memory");
	assert_string_equal(sql_admin_status_name(SQL_ADMIN_STATUS_COUNT), "?");
}

/* ---- the row source ---- */

static void
test_source(void **state)
{
	char	   *out;

	(void) state;
	/* Once per view per rewrite, only for the views named. */
	out = rewrite("SELECT * FROM pgquorum.nodes a, pgquorum.nodes b, pgquorum.log;"
				  "SELECT * FROM pgquorum.nodes", SQL_ADMIN_REWRITTEN);
	assert_int_equal(fx.calls[SQL_ADMIN_NODES], 1);
	assert_int_equal(fx.calls[SQL_ADMIN_LOG], 1);
	assert_int_equal(fx.calls[SQL_ADMIN_STATS], 0);
	assert_int_equal(count_of(out, "(VALUES"), 4);
	free(out);

	fx.fail = 1u << SQL_ADMIN_LOG;
	assert_null(rewrite("SELECT * FROM pgquorum.nodes, pgquorum.log", SQL_ADMIN_SOURCE_ERROR));
	fx.fail = 0;

	fx.n_nodes = SQL_ADMIN_MAX_ROWS + 1;	/* past the bound */
	assert_null(rewrite("SELECT * FROM pgquorum.nodes", SQL_ADMIN_SOURCE_ERROR));
	fx.n_nodes = 1000;
	out = rewrite("SELECT count(*) FROM pgquorum.nodes", SQL_ADMIN_REWRITTEN);
	assert_int_equal(count_of(out, "::bigint, E'it"), 1);	/* first row typed */
	assert_int_equal(count_of(out, "), ('"), 999);	/* the others plain */
	assert_non_null(strstr(out, "), ('1000', E'it"));
	free(out);

	/* No source: every view is empty, with its types. */
	assert_int_equal(sql_admin_rewrite("SELECT * FROM pgquorum.stats", NULL, &out, NULL),
					 SQL_ADMIN_REWRITTEN);
	assert_non_null(strstr(out, "WHERE false) stats(commits,"));
	free(out);
}

/* ---- allocation failures: every one reported, nothing leaked ---- */

static void
test_alloc_failures(void **state)
{
	const char *q = "SELECT * FROM pgquorum.nodes n JOIN pgquorum.log USING (first_index);"
		"SELECT pgquorum.stats.commits FROM pgquorum.stats";
	long		n;

	(void) state;
	for (n = 1; n < 100000; n++)
	{
		char	   *out,
				   *err;
		sql_admin_status st;

		sql_admin_test_fail_alloc(n);
		st = sql_admin_rewrite(q, &src, &out, &err);
		if (st == SQL_ADMIN_REWRITTEN)
		{
			assert_clean(out, 2);
			free(out);
			break;
		}
		assert_true(st == SQL_ADMIN_NO_MEMORY);
		assert_null(out);
		free(err);
	}
	sql_admin_test_fail_alloc(0);
	assert_true(n > 100);		/* the seam did reach the rewrite's allocations */
}

/* ---- depth bound ---- */

static void
test_depth(void **state)
{
	char		q[8192];
	size_t		len = 0;
	int			levels = 300;

	(void) state;
	for (int i = 0; i < levels; i++)
		len += (size_t) snprintf(q + len, sizeof(q) - len, "SELECT * FROM (");
	len += (size_t) snprintf(q + len, sizeof(q) - len, "SELECT * FROM pgquorum.log");
	for (int i = 0; i < levels; i++)
		len += (size_t) snprintf(q + len, sizeof(q) - len, ") s%d", i);
	assert_true(len < sizeof(q) - 1);
	assert_null(rewrite(q, SQL_ADMIN_REFUSED));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_view_table, setup),
		cmocka_unit_test_setup(test_exact, setup),
		cmocka_unit_test_setup(test_shapes, setup),
		cmocka_unit_test_setup(test_values_roundtrip, setup),
		cmocka_unit_test_setup(test_splice, setup),
		cmocka_unit_test_setup(test_unchanged, setup),
		cmocka_unit_test_setup(test_errors, setup),
		cmocka_unit_test_setup(test_source, setup),
		cmocka_unit_test_setup(test_alloc_failures, setup),
		cmocka_unit_test_setup(test_depth, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
