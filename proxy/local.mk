# proxy/: the PostgreSQL v3 front end towards clients.  May use libev,
# libpq and OpenSSL; never libpg_query (it asks sql/).
noinst_LIBRARIES += proxy/libpgq_proxy.a
proxy_libpgq_proxy_a_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEV_CFLAGS) $(LIBPQ_CFLAGS) $(OPENSSL_CFLAGS)
proxy_libpgq_proxy_a_SOURCES = \
	proxy/proxy.h \
	proxy/proxy_int.h \
	proxy/pq_proto.h \
	proxy/pq_frame.c proxy/pq_frame.h \
	proxy/proxy_scram.c proxy/proxy_scram.h \
	proxy/proxy_io.c \
	proxy/proxy.c \
	proxy/proxy_client.c \
	proxy/proxy_backend.c \
	proxy/proxy_auth.c \
	proxy/proxy_write.c \
	proxy/proxy_forward.c \
	proxy/proxy_admin.c proxy/proxy_admin.h
