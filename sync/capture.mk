# sync/capture.mk: capture of prepared transactions from the local
# PostgreSQL's logical replication slot, the log-entry format that carries
# them, and the SQL an applier runs.  The pure parts (decoder, assembly,
# entry codec, SQL) include no libpq or libev header, so the fuzz targets
# and unit tests link them alone; capture_stream.c is the libpq/libev driver.
noinst_LIBRARIES += sync/libpgq_capture.a
sync_libpgq_capture_a_CPPFLAGS = $(AM_CPPFLAGS) $(LIBPQ_CFLAGS) $(LIBEV_CFLAGS)
sync_libpgq_capture_a_SOURCES = \
	sync/txn_codec.c sync/txn_codec.h \
	sync/txn_apply_sql.c sync/txn_apply_sql.h \
	sync/apply_cache.c sync/apply_cache.h \
	sync/capture_pgoutput.c sync/capture_pgoutput.h \
	sync/capture_assemble.c sync/capture_assemble.h \
	sync/capture_stream.c sync/capture_stream.h \
	sync/capture_set.c sync/capture_set.h
# docs/capture.md and tests/fuzz/fuzz_{pgoutput,txn_entry}.* ship through the
# top Makefile.am's EXTRA_DIST (docs, tests/fuzz).
