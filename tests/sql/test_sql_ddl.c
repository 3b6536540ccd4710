/*
 * test_sql_ddl.c
 *	  Proves sql_ddl_plan_make (docs/sql.md, "DDL that needs more than its
 *	  text"): CREATE TABLE AS is carried WITH NO DATA before it runs, SELECT
 *	  INTO and CREATE TABLE AS EXECUTE are refused, the PASSWORD literal of
 *	  CREATE/ALTER ROLE is found exactly (quotes inside included) and other
 *	  literal forms are refused, and everything else needs nothing.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sql/sql_ddl.h"

static void
test_ctas(void **state)
{
	sql_ddl_plan p;

	sql_ddl_plan_make("CREATE TABLE t2 AS SELECT a, b FROM t WHERE a > 1", &p);
	assert_non_null(p.before);
	assert_non_null(strstr(p.before, "WITH NO DATA"));
	assert_non_null(strstr(p.before, "t2"));
	assert_true(p.no_after);
	assert_string_equal(p.refuse, "");
	sql_ddl_plan_reset(&p);
	sql_ddl_plan_make("CREATE TABLE t3 AS SELECT 1 WITH NO DATA", &p);
	assert_null(p.before);
	assert_false(p.no_after);
	sql_ddl_plan_reset(&p);
	sql_ddl_plan_make("CREATE MATERIALIZED VIEW mv AS SELECT 1", &p);
	assert_null(p.before);
	assert_string_equal(p.refuse, "");
	sql_ddl_plan_reset(&p);
	sql_ddl_plan_make("CREATE TABLE t4 AS EXECUTE q(1)", &p);
	assert_non_null(strstr(p.refuse, "EXECUTE"));
	sql_ddl_plan_reset(&p);
	sql_ddl_plan_make("SELECT * INTO newt FROM t", &p);
	assert_non_null(strstr(p.refuse, "SELECT ... INTO"));
	sql_ddl_plan_reset(&p);
}

static void
test_password(void **state)
{
	const char *q = "CREATE ROLE password LOGIN PASSWORD 'it''s' VALID UNTIL 'infinity'";
	const char *a = "ALTER USER \"x y\" WITH ENCRYPTED PASSWORD 'p'";
	sql_ddl_plan p;

	sql_ddl_plan_make(q, &p);
	assert_int_equal(p.pw_loc, (int) (strstr(q, "'it") - q));
	assert_int_equal(p.pw_len, 7);
	sql_ddl_plan_reset(&p);
	sql_ddl_plan_make(a, &p);
	assert_int_equal(p.pw_loc, (int) (strstr(a, "'p'") - a));
	assert_int_equal(p.pw_len, 3);
	sql_ddl_plan_reset(&p);
	sql_ddl_plan_make("ALTER ROLE r PASSWORD E'a\\\\b'", &p);
	assert_int_equal(p.pw_loc, -1);
	assert_non_null(strstr(p.refuse, "plain"));
	sql_ddl_plan_reset(&p);
	sql_ddl_plan_make("ALTER ROLE r PASSWORD NULL", &p);
	assert_int_equal(p.pw_loc, -1);
	assert_string_equal(p.refuse, "");
	sql_ddl_plan_reset(&p);
	sql_ddl_plan_make("CREATE ROLE r LOGIN", &p);
	assert_int_equal(p.pw_loc, -1);
	sql_ddl_plan_reset(&p);
	sql_ddl_plan_make("CREATE TABLE t (a int", &p);	/* parse error */
	assert_int_equal(p.pw_loc, -1);
	assert_null(p.before);
	assert_string_equal(p.refuse, "");
	sql_ddl_plan_reset(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctas),
		cmocka_unit_test(test_password),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
