# tests/sql/: cmocka tests of sql/ (classification table, cache).
check_PROGRAMS += tests/sql/test_sql_classify
tests_sql_test_sql_classify_CPPFLAGS = $(AM_CPPFLAGS) $(PG_QUERY_CFLAGS)
tests_sql_test_sql_classify_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_sql_test_sql_classify_LDADD = sql/libpgq_sql.a common/libpgq_common.a \
	$(PG_QUERY_LIBS) $(CMOCKA_LIBS) -lpthread
TESTS += tests/sql/test_sql_classify
EXTRA_DIST += tests/fuzz/fuzz_sql_classify.c tests/fuzz/fuzz_sql_classify.sources

# Admin view rewrite (docs/admin-views.md): cmocka tests, and the helper that
# tests/integration/sql_admin.t drives (stdin query -> rewritten SQL).
check_PROGRAMS += tests/sql/test_sql_admin
tests_sql_test_sql_admin_CPPFLAGS = $(AM_CPPFLAGS) $(PG_QUERY_CFLAGS)
tests_sql_test_sql_admin_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_sql_test_sql_admin_LDADD = sql/libpgq_sql.a common/libpgq_common.a \
	$(PG_QUERY_LIBS) $(CMOCKA_LIBS) -lpthread
TESTS += tests/sql/test_sql_admin

# Not a unit test: started by tests/integration/sql_admin.t.
check_PROGRAMS += tests/sql/admin_rewrite_cli
tests_sql_admin_rewrite_cli_SOURCES = tests/sql/test_sql_admin_cli.c
tests_sql_admin_rewrite_cli_CPPFLAGS = $(AM_CPPFLAGS) $(PG_QUERY_CFLAGS)
tests_sql_admin_rewrite_cli_LDADD = sql/libpgq_sql.a common/libpgq_common.a \
	$(PG_QUERY_LIBS) -lpthread
EXTRA_DIST += tests/fuzz/fuzz_sql_admin.c tests/fuzz/fuzz_sql_admin.sources

# DDL that needs more than its text (docs/sql.md).
check_PROGRAMS += tests/sql/test_sql_ddl
tests_sql_test_sql_ddl_CPPFLAGS = $(AM_CPPFLAGS) $(PG_QUERY_CFLAGS)
tests_sql_test_sql_ddl_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_sql_test_sql_ddl_LDADD = sql/libpgq_sql.a common/libpgq_common.a \
	$(PG_QUERY_LIBS) $(CMOCKA_LIBS) -lpthread
TESTS += tests/sql/test_sql_ddl

# The statements a node answers itself (sql/sql_admin_cmd.h).
check_PROGRAMS += tests/sql/test_sql_admin_cmd
tests_sql_test_sql_admin_cmd_CPPFLAGS = $(AM_CPPFLAGS) $(PG_QUERY_CFLAGS)
tests_sql_test_sql_admin_cmd_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_sql_test_sql_admin_cmd_LDADD = sql/libpgq_sql.a common/libpgq_common.a \
	$(PG_QUERY_LIBS) $(CMOCKA_LIBS) -lpthread
TESTS += tests/sql/test_sql_admin_cmd
EXTRA_DIST += tests/fuzz/fuzz_sql_admin_cmd.c tests/fuzz/fuzz_sql_admin_cmd.sources
