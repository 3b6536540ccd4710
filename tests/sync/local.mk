# tests/sync/: cmocka unit tests of the replication core (sync/core/).
check_PROGRAMS += tests/sync/test_sync_core
tests_sync_test_sync_core_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_sync_test_sync_core_LDADD = sync/core/libpgq_sync_core.a common/libpgq_common.a $(CMOCKA_LIBS)
TESTS += tests/sync/test_sync_core

# The node's replication loop, three nodes in one process on loopback.
check_PROGRAMS += tests/sync/test_sync_node
tests_sync_test_sync_node_SOURCES = tests/sync/test_sync_node.c tests/lib/free_port.h
tests_sync_test_sync_node_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEV_CFLAGS) $(OPENSSL_CFLAGS)
tests_sync_test_sync_node_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_sync_test_sync_node_LDADD = sync/libpgq_sync.a sync/core/libpgq_sync_core.a \
	wal/libpgq_wal.a common/libpgq_common.a \
	$(CMOCKA_LIBS) $(LIBEV_LIBS) $(OPENSSL_LIBS)
TESTS += tests/sync/test_sync_node
