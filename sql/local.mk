# sql/: statement classification with libpg_query (docs/sql.md).
# Compiled with libpg_query's (protobuf-c) flags only: no sockets, no libpq.
noinst_LIBRARIES += sql/libpgq_sql.a
sql_libpgq_sql_a_CPPFLAGS = $(AM_CPPFLAGS) $(PG_QUERY_CFLAGS)
sql_libpgq_sql_a_SOURCES = \
	sql/sql_classify.h sql/sql_classify.c \
	sql/sql_int.h \
	sql/sql_walk.c \
	sql/sql_funcs.c \
	sql/sql_cache.c \
	sql/sql_names.c \
	sql/sql_ddl.h sql/sql_ddl.c

# Benchmark (bench/sql_classify runs it): cost per statement, uncached vs
# cached, and parse vs fingerprint.
noinst_PROGRAMS += bench/sql_classify_bench
bench_sql_classify_bench_SOURCES = bench/sql_classify_bench.c
bench_sql_classify_bench_CPPFLAGS = $(AM_CPPFLAGS) $(PG_QUERY_CFLAGS)
bench_sql_classify_bench_LDADD = sql/libpgq_sql.a common/libpgq_common.a \
	$(PG_QUERY_LIBS) -lpthread

# Admin views of issue 7 (docs/admin-views.md): the view table and the
# query rewrite that turns pgquorum.<view> into typed VALUES lists.
sql_libpgq_sql_a_SOURCES += \
	sql/sql_admin.h sql/sql_admin.c \
	sql/sql_admin_int.h \
	sql/sql_admin_build.c \
	sql/sql_admin_views.c \
	sql/sql_admin_cmd.c sql/sql_admin_cmd.h
