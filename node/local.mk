bin_PROGRAMS += pgquorum
pgquorum_SOURCES = node/main.c
pgquorum_LDADD = common/libpgq_common.a
