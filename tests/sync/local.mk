# tests/sync/: cmocka unit tests of the replication core (sync/core/).
check_PROGRAMS += tests/sync/test_sync_core
tests_sync_test_sync_core_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_sync_test_sync_core_LDADD = sync/core/libpgq_sync_core.a common/libpgq_common.a $(CMOCKA_LIBS)
TESTS += tests/sync/test_sync_core
