# tests/transport/: the peer transport between real sockets in one process.
check_PROGRAMS += tests/transport/test_peer
tests_transport_test_peer_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEV_CFLAGS) $(OPENSSL_CFLAGS)
tests_transport_test_peer_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_transport_test_peer_LDADD = sync/libpgq_sync.a common/libpgq_common.a \
	$(CMOCKA_LIBS) $(LIBEV_LIBS) $(OPENSSL_LIBS)
TESTS += tests/transport/test_peer

check_PROGRAMS += tests/transport/test_codec
tests_transport_test_codec_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_transport_test_codec_LDADD = sync/libpgq_sync.a common/libpgq_common.a $(CMOCKA_LIBS)
TESTS += tests/transport/test_codec
