# tests/sql/: cmocka tests of sql/ (classification table, cache).
check_PROGRAMS += tests/sql/test_sql_classify
tests_sql_test_sql_classify_CPPFLAGS = $(AM_CPPFLAGS) $(PG_QUERY_CFLAGS)
tests_sql_test_sql_classify_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_sql_test_sql_classify_LDADD = sql/libpgq_sql.a common/libpgq_common.a \
	$(PG_QUERY_LIBS) $(CMOCKA_LIBS) -lpthread
TESTS += tests/sql/test_sql_classify
EXTRA_DIST += tests/fuzz/fuzz_sql_classify.c tests/fuzz/fuzz_sql_classify.sources
