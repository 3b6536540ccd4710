/*
 * test_config.c
 *	  Proves that the configuration parser accepts a valid node.conf, fills
 *	  defaults, and rejects each kind of bad input with "file:line: key:
 *	  what is wrong".
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/pgq_config.h"

static char path[64];

static const char *valid =
	"# a node\n"
	"[pgquorum]\n"
	"node_id = 2\n"
	"postgres_conninfo = 'host=127.0.0.1 port=5433 dbname=''x'''   # quoted\n"
	"data_dir = /tmp/pgq2\n"
	"listen_port = 6002\n"
	"log_level = debug\n"
	"idle_commit_notify = off\n"
	"wal_segment_size = 16MB\n"
	"cluster_secret = s3cret\n"
	"\n"
	"[nodes]\n"
	"1 = 127.0.0.1:7001 127.0.0.1:6001\n"
	"2 = 127.0.0.1:7002 127.0.0.1:6002 ; me\n"
	"3 = [::1]:7003 localhost:6003\n";

static void
write_file(const char *text)
{
	FILE	   *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Loads text; returns the rc and leaves the error message in err. */
static int
load(const char *text, struct pgq_config *cfg, char *err, size_t errlen)
{
	write_file(text);
	pgq_config_init(cfg);
	err[0] = '\0';
	return pgq_config_load(cfg, path, err, errlen);
}

static void
expect_error(const char *text, const char *expected)
{
	struct pgq_config cfg;
	char		err[512];

	assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
	if (strstr(err, expected) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", err, expected);
	assert_memory_equal(err, path, strlen(path));
	pgq_config_free(&cfg);
}

static void
test_valid(void **state)
{
	struct pgq_config cfg;
	char		err[512];

	assert_int_equal(load(valid, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.node_id, 2);
	assert_string_equal(cfg.postgres_conninfo, "host=127.0.0.1 port=5433 dbname='x'");
	assert_string_equal(cfg.data_dir, "/tmp/pgq2");
	assert_int_equal(cfg.listen_port, 6002);
	assert_int_equal(cfg.peer_listen_port, 7432);	/* default */
	assert_int_equal(cfg.log_level, PGQ_LOG_DEBUG);
	assert_false(cfg.idle_commit_notify);
	assert_int_equal(cfg.wal_segment_size, 16 << 20);
	assert_int_equal(cfg.election_timeout_ms, 500);
	assert_int_equal(cfg.n_nodes, 3);
	assert_string_equal(cfg.nodes[2].peer.host, "::1");
	assert_int_equal(cfg.nodes[2].peer.port, 7003);
	assert_string_equal(cfg.nodes[2].client.host, "localhost");
	assert_non_null(pgq_config_node(&cfg, 1));
	assert_null(pgq_config_node(&cfg, 4));
	pgq_config_free(&cfg);
}

static void
test_secret_hidden(void **state)
{
	struct pgq_config cfg;
	char		err[512];
	char		buf[64];

	assert_int_equal(load(valid, &cfg, err, sizeof(err)), 0);
	for (size_t i = 0; i < pgq_config_key_count(); i++)
	{
		const struct pgq_config_key *key = pgq_config_key_at(i);

		pgq_config_format(&cfg, key, buf, sizeof(buf));
		if (strcmp(key->name, "cluster_secret") == 0)
			assert_string_equal(buf, "********");
		if (strcmp(key->name, "wal_segment_size") == 0)
			assert_string_equal(buf, "16777216");
		assert_null(strstr(buf, "s3cret"));
	}
	pgq_config_free(&cfg);
}

#define HEAD "[pgquorum]\nnode_id = 1\npostgres_conninfo = x\ndata_dir = /d\n"
#define NODES "[nodes]\n1 = 127.0.0.1:7001 127.0.0.1:6001\n"

static void
test_errors(void **state)
{
	expect_error(HEAD "bogus = 1\n" NODES, ":5: bogus: unknown configuration key");
	expect_error(HEAD "listen_port = 70000\n" NODES, ":5: listen_port: 70000 is outside the valid range");
	expect_error(HEAD "listen_port = 12ab\n" NODES, ":5: listen_port: \"12ab\" is not an integer");
	expect_error(HEAD "idle_commit_notify = maybe\n" NODES, ":5: idle_commit_notify: \"maybe\" is not a boolean");
	expect_error(HEAD "log_level = loud\n" NODES, ":5: log_level: \"loud\" is not a log level");
	expect_error(HEAD "wal_segment_size = 64XB\n" NODES, ":5: wal_segment_size: \"64XB\" is not a size");
	expect_error(HEAD "data_dir = /e\n" NODES, ":5: data_dir: set twice");
	expect_error(HEAD "cluster_name = 'open\n" NODES, ":5: cluster_name: unterminated quoted value");
	expect_error(HEAD "just words\n" NODES, ":5: syntax error");
	expect_error("node_id = 1\n", ":1: node_id: key outside a section");
	expect_error(HEAD "[extra]\n", ":5: unknown section [extra]");
	expect_error("[pgquorum]\nnode_id = 1\ndata_dir = /d\n" NODES, ": postgres_conninfo: required key is missing");
	expect_error(HEAD, ": nodes: the [nodes] section must list every member");
	expect_error(HEAD "[nodes]\n2 = 127.0.0.1:7002 127.0.0.1:6002\n", ": node_id: node 1 is not listed in [nodes]");
	expect_error(HEAD NODES "1 = 127.0.0.1:7009 127.0.0.1:6009\n", ":7: 1: node 1 is listed twice");
	expect_error(HEAD "[nodes]\n1 = 127.0.0.1 127.0.0.1:6001\n", ":6: 1: \"127.0.0.1\" is not a host:port peer address");
	expect_error(HEAD "[nodes]\n1 = 127.0.0.1:7001\n", ":6: 1: expected \"peer_host:port client_host:port\"");
	expect_error(HEAD "[nodes]\nx = 127.0.0.1:7001 127.0.0.1:6001\n", ":6: x: a node key must be a node id");
	expect_error(HEAD "heartbeat_interval_ms = 600\n" NODES, ": heartbeat_interval_ms: 600 ms must be at most half");
	expect_error(HEAD "tls_cert_file = /c.pem\n" NODES, ": tls_key_file: tls_cert_file and tls_key_file must be set together");
}

static void
test_nul_and_missing_file(void **state)
{
	struct pgq_config cfg;
	char		err[512];
	FILE	   *f = fopen(path, "w");

	fwrite("[pgquorum]\nnode_id = 1\0\n", 1, 24, f);
	fclose(f);
	pgq_config_init(&cfg);
	assert_int_equal(pgq_config_load(&cfg, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: line contains a NUL byte"));
	pgq_config_free(&cfg);

	pgq_config_init(&cfg);
	assert_int_equal(pgq_config_load(&cfg, "/nonexistent/node.conf", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/node.conf: could not open configuration file"));
	pgq_config_free(&cfg);
}

static void
test_reload_diff(void **state)
{
	struct pgq_config a;
	struct pgq_config b;
	char		err[512];

	assert_int_equal(load(HEAD NODES, &a, err, sizeof(err)), 0);
	assert_int_equal(load(HEAD "log_level = debug\npool_size = 7\n" NODES, &b, err, sizeof(err)), 0);
	assert_int_equal(pgq_config_reload_diff(&a, &b, err, sizeof(err)), 0);
	pgq_config_free(&b);
	/* the core copies its timings at start */
	assert_int_equal(load(HEAD "election_timeout_ms = 2000\n" NODES, &b, err, sizeof(err)), 0);
	assert_int_equal(pgq_config_reload_diff(&a, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "election_timeout_ms cannot be changed by a reload"));
	pgq_config_free(&b);
	assert_int_equal(load(HEAD "listen_port = 7777\n" NODES, &b, err, sizeof(err)), 0);
	assert_int_equal(pgq_config_reload_diff(&a, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "listen_port cannot be changed by a reload"));
	pgq_config_free(&b);
	assert_int_equal(load(HEAD "cluster_secret = other\n" NODES, &b, err, sizeof(err)), 0);
	assert_int_equal(pgq_config_reload_diff(&a, &b, err, sizeof(err)), -1);
	pgq_config_free(&b);
	assert_int_equal(load(HEAD NODES "2 = 127.0.0.1:7002 127.0.0.1:6002\n", &b, err, sizeof(err)), 0);
	assert_int_equal(pgq_config_reload_diff(&a, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[nodes] cannot be changed by a reload"));
	pgq_config_free(&b);
	pgq_config_free(&a);
}

static void
test_addr_parse(void **state)
{
	struct pgq_addr a;

	assert_true(pgq_addr_parse("host.example:5432", &a));
	assert_string_equal(a.host, "host.example");
	assert_int_equal(a.port, 5432);
	assert_true(pgq_addr_parse("[fe80::1]:1", &a));
	assert_string_equal(a.host, "fe80::1");
	assert_false(pgq_addr_parse(":5432", &a));
	assert_false(pgq_addr_parse("h:0", &a));
	assert_false(pgq_addr_parse("h:65536", &a));
	assert_false(pgq_addr_parse("[::1:5", &a));
	assert_false(pgq_addr_parse("h:", &a));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_secret_hidden),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_nul_and_missing_file),
		cmocka_unit_test(test_reload_diff),
		cmocka_unit_test(test_addr_parse),
	};
	int			fd;
	int			rc;

	snprintf(path, sizeof(path), "/tmp/pgq_test_config_XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return 1;
	close(fd);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	return rc;
}
