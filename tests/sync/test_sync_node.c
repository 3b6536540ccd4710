/*
 * test_sync_node.c
 *	  Proves the node's read index end to end: three sync_nodes in one
 *	  process (one libev loop, real logs in a scratch directory, real peer
 *	  connections on loopback, no PostgreSQL) elect a primary; a read asked
 *	  on a secondary travels as READ_INDEX / READ_INDEX_RESP through the
 *	  codec and the transport and its answer, through the read callback,
 *	  covers an entry committed before it was asked; one asked on the
 *	  primary is answered too, each exactly once.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "common/pgq_config.h"
#include "common/pgq_log.h"
#include "sync/sync_node.h"
#include "tests/lib/free_port.h"

#define N 3

static struct ev_loop *loop;
static char dir[256];
static struct pgq_config cfgs[N + 1];
static struct sync_node *nodes[N + 1];	/* 1-based */

struct answer
{
	bool		got;
	uint64_t	ctx;
	bool		ok;
	uint64_t	index;
};

static struct answer answers[N + 1];
static bool committed;
static uint64_t committed_index;

static void
on_read(void *arg, uint64_t ctx, bool ok, uint64_t index)
{
	struct answer *a = arg;

	assert_false(a->got);		/* exactly once */
	a->got = true;
	a->ctx = ctx;
	a->ok = ok;
	a->index = index;
}

static void
on_done(void *arg, enum sync_node_result result, uint64_t index)
{
	assert_int_equal(result, SYNC_NODE_COMMITTED);
	committed = true;
	committed_index = index;
}

static void
write_config(uint32_t id, const uint16_t *peer, const uint16_t *client)
{
	char		path[512];
	char		err[512];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/node%u", dir, id);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/node%u.conf", dir, id);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "[pgquorum]\nnode_id = %u\ncluster_name = t\n"
			"listen_addr = 127.0.0.1\nlisten_port = %u\n"
			"peer_listen_addr = 127.0.0.1\npeer_listen_port = %u\n"
			"postgres_conninfo = 'host=/nonexistent'\ndata_dir = %s/node%u\n"
			"cluster_secret = s3cret\nelection_timeout_ms = 300\n"
			"heartbeat_interval_ms = 30\nlog_level = warning\n[nodes]\n",
			id, client[id], peer[id], dir, id);
	for (uint32_t j = 1; j <= N; j++)
		fprintf(f, "%u = 127.0.0.1:%u 127.0.0.1:%u\n", j, peer[j], client[j]);
	fclose(f);
	pgq_config_init(&cfgs[id]);
	if (pgq_config_load(&cfgs[id], path, err, sizeof(err)) != 0)
		fail_msg("%s", err);
}

static int
setup(void **state)
{
	uint16_t	peer[N + 1];
	uint16_t	client[N + 1];
	char		err[512];

	snprintf(dir, sizeof(dir), "/tmp/pgq_test_sync_node.XXXXXX");
	assert_non_null(mkdtemp(dir));
	loop = ev_loop_new(EVFLAG_AUTO);
	for (uint32_t i = 1; i <= N; i++)
	{
		peer[i] = free_port();
		client[i] = free_port();
	}
	for (uint32_t i = 1; i <= N; i++)
		write_config(i, peer, client);
	for (uint32_t i = 1; i <= N; i++)
	{
		nodes[i] = sync_node_start(loop, &cfgs[i], NULL, NULL, 0, 0, err, sizeof(err));
		if (nodes[i] == NULL)
			fail_msg("node %u: %s", i, err);
		sync_node_set_read_cb(nodes[i], on_read, &answers[i]);
	}
	return 0;
}

static int
teardown(void **state)
{
	char		cmd[600];

	for (uint32_t i = 1; i <= N; i++)
	{
		sync_node_stop(nodes[i]);
		pgq_config_free(&cfgs[i]);
	}
	ev_loop_destroy(loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* Run the loop until done() holds or 10 s pass. */
static bool
run_until(bool (*done) (void))
{
	for (int i = 0; i < 10000 && !done(); i++)
	{
		ev_now_update(loop);
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
	return done();
}

static uint32_t primary;

/* One primary, known as such by every node. */
static bool
settled(void)
{
	struct sync_node_info info;

	primary = 0;
	for (uint32_t i = 1; i <= N; i++)
		if (sync_node_primary_term(nodes[i]) != 0)
			primary = i;
	if (primary == 0)
		return false;
	for (uint32_t i = 1; i <= N; i++)
	{
		sync_node_status(nodes[i], &info);
		if (info.leader_id != primary)
			return false;
	}
	return true;
}

static bool
is_committed(void)
{
	return committed;
}

static uint32_t asked;

static bool
answered(void)
{
	return answers[asked].got;
}

/* Ask a read index on node i (ctx) and check its one answer. */
static void
read_on(uint32_t i, uint64_t ctx)
{
	char		err[256];

	asked = i;
	assert_int_equal(sync_node_read_index(nodes[i], ctx, err, sizeof(err)), 0);
	assert_true(run_until(answered));
	assert_int_equal(answers[i].ctx, ctx);
	assert_true(answers[i].ok);
	assert_true(answers[i].index >= committed_index);
}

static void
test_read_index(void **state)
{
	uint32_t	secondary;

	assert_true(run_until(settled));
	assert_int_equal(sync_node_propose(nodes[primary], "x", 1, on_done, NULL), 0);
	assert_true(run_until(is_committed));
	secondary = primary % N + 1;

	read_on(secondary, 41);
	read_on(primary, 42);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_index, setup, teardown),
	};

	pgq_log_set_level(PGQ_LOG_WARNING);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
