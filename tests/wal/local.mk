# tests/wal/: unit, recovery, fault-injection and crash tests of wal/.
WAL_TEST_LDADD = wal/libpgq_wal.a common/libpgq_common.a $(CMOCKA_LIBS)

check_PROGRAMS += tests/wal/test_crc32c tests/wal/test_wal_format \
	tests/wal/test_wal tests/wal/test_wal_crash
tests_wal_test_crc32c_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_wal_test_crc32c_LDADD = $(WAL_TEST_LDADD)
tests_wal_test_wal_format_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_wal_test_wal_format_LDADD = $(WAL_TEST_LDADD)
tests_wal_test_wal_SOURCES = tests/wal/test_wal.c tests/wal/wal_test_util.h
tests_wal_test_wal_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_wal_test_wal_LDADD = $(WAL_TEST_LDADD)
tests_wal_test_wal_crash_SOURCES = tests/wal/test_wal_crash.c tests/wal/wal_test_util.h
tests_wal_test_wal_crash_LDADD = wal/libpgq_wal.a common/libpgq_common.a

TESTS += tests/wal/test_crc32c tests/wal/test_wal_format \
	tests/wal/test_wal tests/wal/test_wal_crash
EXTRA_DIST += tests/fuzz/fuzz_wal_record.c tests/fuzz/fuzz_wal_record.sources
