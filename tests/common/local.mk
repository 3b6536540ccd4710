# tests/common/: cmocka unit tests of common/.
check_PROGRAMS += tests/common/test_config
tests_common_test_config_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_common_test_config_LDADD = common/libpgq_common.a $(CMOCKA_LIBS)
TESTS += tests/common/test_config
