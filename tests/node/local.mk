# tests/node/: tools for the integration tests of a whole node.
check_PROGRAMS += tests/node/txn_entry_cli
tests_node_txn_entry_cli_LDADD = sync/libpgq_capture.a common/libpgq_common.a
