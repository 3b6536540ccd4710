# tests/proxy/: unit tests of proxy/ (cmocka) and the proxy-only node that
# the integration tests tests/integration/proxy_*.t and bench/proxy run.
noinst_PROGRAMS += tests/proxy/proxy_node
tests_proxy_proxy_node_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEV_CFLAGS)
tests_proxy_proxy_node_SOURCES = tests/proxy/proxy_node.c
tests_proxy_proxy_node_LDADD = proxy/libpgq_proxy.a common/libpgq_common.a \
	$(LIBEV_LIBS) $(LIBPQ_LIBS) $(OPENSSL_LIBS) $(JEMALLOC_LIBS)

check_PROGRAMS += tests/proxy/test_pq_frame
tests_proxy_test_pq_frame_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_proxy_test_pq_frame_LDADD = proxy/libpgq_proxy.a common/libpgq_common.a $(CMOCKA_LIBS)
TESTS += tests/proxy/test_pq_frame

check_PROGRAMS += tests/proxy/test_proxy_scram
tests_proxy_test_proxy_scram_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(OPENSSL_CFLAGS)
tests_proxy_test_proxy_scram_LDADD = proxy/libpgq_proxy.a common/libpgq_common.a \
	$(CMOCKA_LIBS) $(OPENSSL_LIBS)
TESTS += tests/proxy/test_proxy_scram

EXTRA_DIST += tests/proxy/proxy_env.sh tests/proxy/malformed.py \
	tests/proxy/clients_psycopg.py tests/proxy/clients.js tests/proxy/slow_reader.py \
	tests/proxy/node/package.json tests/proxy/node/.gitignore
