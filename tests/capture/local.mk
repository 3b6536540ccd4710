# tests/capture/: unit tests of the capture's pure parts (pgoutput decoder,
# assembly, entry codec, apply SQL), and the slot-reader probe that
# tests/integration/capture_stream.t runs against real PostgreSQL servers.
CAPTURE_TEST_LDADD = sync/libpgq_capture.a common/libpgq_common.a $(CMOCKA_LIBS)

check_PROGRAMS += tests/capture/test_pgoutput tests/capture/test_txn tests/capture/test_apply_cache
tests_capture_test_pgoutput_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_capture_test_pgoutput_LDADD = $(CAPTURE_TEST_LDADD)
tests_capture_test_txn_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_capture_test_txn_LDADD = $(CAPTURE_TEST_LDADD)
tests_capture_test_apply_cache_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_capture_test_apply_cache_LDADD = $(CAPTURE_TEST_LDADD)
TESTS += tests/capture/test_pgoutput tests/capture/test_txn tests/capture/test_apply_cache

# Not a unit test: started by tests/integration/capture_stream.t.
check_PROGRAMS += tests/capture/capture_probe
tests_capture_capture_probe_CPPFLAGS = $(AM_CPPFLAGS) $(LIBPQ_CFLAGS) $(LIBEV_CFLAGS)
tests_capture_capture_probe_LDADD = sync/libpgq_capture.a common/libpgq_common.a \
	$(LIBPQ_LIBS) $(LIBEV_LIBS)
