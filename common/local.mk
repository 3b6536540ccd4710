# common/: assertions, logging, checksums, buffers, config files.
# Pure C with no third-party headers; every other module may use it.
noinst_LIBRARIES += common/libpgq_common.a
common_libpgq_common_a_SOURCES = \
	common/pgq_assert.h \
	common/pgq_log.c common/pgq_log.h
common_libpgq_common_a_SOURCES += common/pgq_config.c common/pgq_config.h \
	common/pgq_buf.c common/pgq_buf.h common/pgq_bytes.h
common_libpgq_common_a_SOURCES += common/pgq_crc32c.c common/pgq_crc32c.h
