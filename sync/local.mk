# sync/ (outside core/): the peer transport, the node's replication loop,
# capture and apply.  May use libev, libpq and OpenSSL.
noinst_LIBRARIES += sync/libpgq_sync.a
sync_libpgq_sync_a_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEV_CFLAGS) $(OPENSSL_CFLAGS) $(LIBPQ_CFLAGS)
sync_libpgq_sync_a_SOURCES = \
	sync/peer_frame.c sync/peer_frame.h \
	sync/peer.c sync/peer.h \
	sync/peer_codec.c sync/peer_codec.h
sync_libpgq_sync_a_SOURCES += sync/sync_node.c sync/sync_node.h
sync_libpgq_sync_a_SOURCES += sync/applier.c sync/applier.h
sync_libpgq_sync_a_SOURCES += sync/commit.c sync/commit.h
