# node/: the pgquorum daemon: configuration, signals, pid file, and the
# wiring of every module onto one libev loop.
bin_PROGRAMS += pgquorum
pgquorum_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEV_CFLAGS) $(LIBPQ_CFLAGS)
pgquorum_SOURCES = \
	node/main.c \
	node/pidfile.c node/pidfile.h \
	node/control.c node/control.h \
	node/stmt_hook.c node/stmt_hook.h \
	node/rebuild.c node/rebuild.h \
	node/node_admin.c node/node_admin.h
pgquorum_LDADD = \
	proxy/libpgq_proxy.a \
	sql/libpgq_sql.a \
	sync/libpgq_sync.a \
	sync/libpgq_capture.a \
	sync/core/libpgq_sync_core.a \
	wal/libpgq_wal.a \
	common/libpgq_common.a \
	$(LIBEV_LIBS) $(PG_QUERY_LIBS) $(LIBPQ_LIBS) $(OPENSSL_LIBS) $(JEMALLOC_LIBS)
