/*
 * test_peer.c
 *	  Proves the node-to-node transport: members of one cluster connect and
 *	  exchange messages; a wrong secret, another cluster, a stranger, garbage
 *	  and oversized frames are refused while the others keep working; a
 *	  restarted member is redialled; a member that stops reading makes the
 *	  sender drop messages at its queue bound instead of buffering without
 *	  limit.  Each node runs its own libev loop; the test steps them in turn.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "common/pgq_bytes.h"
#include "common/pgq_log.h"
#include "sync/peer.h"
#include "sync/peer_frame.h"
#include "tests/lib/free_port.h"

#define N 3

struct node
{
	struct ev_loop *loop;
	struct sync_peers *peers;
	int			received[N + 2];
	char		last[64];
	bool		paused;			/* loop not stepped: its sockets are not read */
};

static struct node nodes[N + 1];	/* 1-based; [0] unused */
static uint16_t ports[N + 2];

static void
on_message(void *arg, uint32_t from, const uint8_t *payload, size_t len)
{
	struct node *node = arg;

	node->received[from]++;
	snprintf(node->last, sizeof(node->last), "%.*s", (int) len, (const char *) payload);
}

static void
make_config(struct sync_peers_config *cfg, uint32_t id, const char *cluster,
			const char *secret, uint16_t listen_port)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->node_id = id;
	cfg->cluster_name = cluster;
	cfg->secret = secret;
	cfg->listen_host = "127.0.0.1";
	cfg->listen_port = listen_port;
	cfg->n_peers = N;
	for (int i = 0; i < N; i++)
	{
		cfg->peers[i].id = (uint32_t) i + 1;
		snprintf(cfg->peers[i].host, sizeof(cfg->peers[i].host), "127.0.0.1");
		cfg->peers[i].port = ports[i + 1];
	}
	cfg->max_frame = 1 << 20;
	cfg->max_queue_bytes = 256 << 10;
	cfg->reconnect_min_ms = 10;
	cfg->reconnect_max_ms = 100;
	cfg->handshake_timeout_ms = 500;
}

static void
start_node(uint32_t id, const char *cluster, const char *secret)
{
	struct sync_peers_config cfg;
	struct sync_peers_callbacks cb = {.on_message = on_message, .arg = &nodes[id]};
	char		err[256];

	make_config(&cfg, id, cluster, secret, ports[id]);
	if (nodes[id].loop == NULL)
		nodes[id].loop = ev_loop_new(EVFLAG_AUTO);
	nodes[id].peers = sync_peers_start(nodes[id].loop, &cfg, &cb, err, sizeof(err));
	if (nodes[id].peers == NULL)
		fail_msg("start node %u: %s", id, err);
}

static void
stop_node(uint32_t id)
{
	sync_peers_stop(nodes[id].peers);
	nodes[id].peers = NULL;
}

/* Step every running loop for up to ms, until done() holds. */
static bool
run_until(bool (*done) (void), int ms)
{
	struct timespec start;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;)
	{
		for (int i = 1; i <= N; i++)
			if (nodes[i].peers != NULL && !nodes[i].paused)
				ev_run(nodes[i].loop, EVRUN_NOWAIT);
		if (done != NULL && done())
			return true;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 > ms)
			return false;
		usleep(200);
	}
}

static bool
all_connected(void)
{
	for (uint32_t i = 1; i <= N; i++)
		for (uint32_t j = 1; j <= N; j++)
			if (i != j && (nodes[i].peers == NULL || !sync_peers_connected(nodes[i].peers, j)))
				return false;
	return true;
}

static int
setup(void **state)
{
	memset(nodes, 0, sizeof(nodes));
	for (int i = 1; i <= N + 1; i++)
		ports[i] = free_port();
	for (uint32_t i = 1; i <= N; i++)
		start_node(i, "c1", "secret");
	if (!run_until(all_connected, 5000))
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	for (uint32_t i = 1; i <= N; i++)
	{
		if (nodes[i].peers)
			stop_node(i);
		ev_loop_destroy(nodes[i].loop);
	}
	return 0;
}

static bool
got_all(void)
{
	for (uint32_t i = 1; i <= N; i++)
		for (uint32_t j = 1; j <= N; j++)
			if (i != j && nodes[j].received[i] < 10)
				return false;
	return true;
}

static void
test_exchange(void **state)
{
	for (int k = 0; k < 10; k++)
		for (uint32_t i = 1; i <= N; i++)
			for (uint32_t j = 1; j <= N; j++)
				if (i != j)
					assert_int_equal(sync_peers_send(nodes[i].peers, j, "hello", 5), 0);
	assert_true(run_until(got_all, 5000));
	assert_string_equal(nodes[2].last, "hello");
	for (uint32_t j = 2; j <= N; j++)
		assert_int_equal(nodes[j].received[1], 10);	/* no duplicates */
}

/* A raw TCP connection to node id's peer port. */
static int
raw_connect(uint32_t id)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(ports[id])};
	int			fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	return fd;
}

/*
 * Read from fd (stepping the nodes) until n bytes are in buf or the peer
 * closed.  Returns bytes read, or -1 on close with nothing read.
 */
static ssize_t
raw_read(int fd, uint8_t *buf, size_t n, int ms)
{
	size_t		got = 0;

	for (int t = 0; t < ms * 5 && got < n; t++)
	{
		ssize_t		r = recv(fd, buf + got, n - got, MSG_DONTWAIT);

		if (r == 0)
			return got ? (ssize_t) got : -1;
		if (r > 0)
			got += (size_t) r;
		run_until(NULL, 0);
		usleep(200);
	}
	return (ssize_t) got;
}

static bool
raw_closed_by_node(int fd)
{
	uint8_t		buf[4096];

	for (;;)
	{
		ssize_t		r = raw_read(fd, buf, sizeof(buf), 2000);

		if (r < 0)
			return true;
		if (r == 0)
			return false;
	}
}

/* Read the node's HELLO; returns its nonce in nonce. */
static void
raw_read_hello(int fd, struct sync_hello *hello)
{
	uint8_t		buf[256];
	struct sync_frame frame;
	size_t		used;
	ssize_t		n = raw_read(fd, buf, SYNC_FRAME_HEADER_SIZE, 2000);

	assert_int_equal(n, SYNC_FRAME_HEADER_SIZE);
	n = raw_read(fd, buf + n, pgq_get_u32(buf + 4), 2000);
	assert_int_equal(sync_frame_decode(buf, SYNC_FRAME_HEADER_SIZE + (size_t) n, 1024, &frame, &used),
					 SYNC_FRAME_OK);
	assert_int_equal(frame.type, SYNC_FRAME_HELLO);
	assert_int_equal(sync_hello_decode(frame.payload, frame.payload_len, false, hello), 0);
}

static void
raw_send_auth(int fd, uint32_t id, const char *cluster)
{
	struct sync_hello auth = {.node_id = id};
	uint8_t		frame[256];
	size_t		len;

	snprintf(auth.cluster_name, sizeof(auth.cluster_name), "%s", cluster);
	memset(auth.mac, 0xab, sizeof(auth.mac));	/* we do not know the secret */
	sync_frame_start(frame, SYNC_FRAME_AUTH);
	len = sync_hello_encode(&auth, true, frame + SYNC_FRAME_PREFIX_SIZE);
	sync_frame_finish(frame, len);
	assert_int_equal(send(fd, frame, SYNC_FRAME_PREFIX_SIZE + len, 0),
					 (ssize_t) (SYNC_FRAME_PREFIX_SIZE + len));
}

static void
still_works(void)
{
	int			before = nodes[1].received[2];

	assert_int_equal(sync_peers_send(nodes[2].peers, 1, "after", 5), 0);
	for (int t = 0; t < 5000 && nodes[1].received[2] == before; t++)
		run_until(NULL, 1);
	assert_int_equal(nodes[1].received[2], before + 1);
	assert_true(all_connected());
}

static void
test_intruders_refused(void **state)
{
	struct {
		uint32_t	id;
		const char *cluster;
	}			cases[] = {
		{2, "c1"},				/* right cluster, wrong secret */
		{2, "other"},			/* another cluster */
		{9, "c1"},				/* not a member */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		struct sync_hello hello;
		int			fd = raw_connect(1);

		raw_read_hello(fd, &hello);
		assert_int_equal(hello.node_id, 1);
		assert_string_equal(hello.cluster_name, "c1");
		raw_send_auth(fd, cases[i].id, cases[i].cluster);
		assert_true(raw_closed_by_node(fd));
		close(fd);
		still_works();
	}
}

static void
test_garbage_refused(void **state)
{
	static const uint8_t garbage[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	uint8_t		huge[SYNC_FRAME_HEADER_SIZE];
	uint8_t		badcrc[SYNC_FRAME_PREFIX_SIZE + 4];
	int			fd;

	fd = raw_connect(1);
	assert_int_equal(send(fd, garbage, sizeof(garbage), 0), (ssize_t) sizeof(garbage));
	assert_true(raw_closed_by_node(fd));
	close(fd);
	still_works();

	/* An absurd length is refused from the header alone. */
	pgq_put_u32(huge, SYNC_FRAME_MAGIC);
	pgq_put_u32(huge + 4, 0x7fffffff);
	pgq_put_u32(huge + 8, 0);
	fd = raw_connect(1);
	assert_int_equal(send(fd, huge, sizeof(huge), 0), (ssize_t) sizeof(huge));
	assert_true(raw_closed_by_node(fd));
	close(fd);

	sync_frame_start(badcrc, SYNC_FRAME_AUTH);
	memcpy(badcrc + SYNC_FRAME_PREFIX_SIZE, "abcd", 4);
	sync_frame_finish(badcrc, 4);
	badcrc[SYNC_FRAME_PREFIX_SIZE] ^= 1;
	fd = raw_connect(1);
	assert_int_equal(send(fd, badcrc, sizeof(badcrc), 0), (ssize_t) sizeof(badcrc));
	assert_true(raw_closed_by_node(fd));
	close(fd);

	/* A valid frame of a version this node does not know. */
	sync_frame_start(badcrc, SYNC_FRAME_AUTH);
	badcrc[SYNC_FRAME_HEADER_SIZE] = SYNC_FRAME_VERSION + 1;
	memcpy(badcrc + SYNC_FRAME_PREFIX_SIZE, "abcd", 4);
	sync_frame_finish(badcrc, 4);
	{
		struct sync_frame frame;
		size_t		used;

		assert_int_equal(sync_frame_decode(badcrc, sizeof(badcrc), 1024, &frame, &used),
						 SYNC_FRAME_BAD_VERSION);
	}
	fd = raw_connect(1);
	assert_int_equal(send(fd, badcrc, sizeof(badcrc), 0), (ssize_t) sizeof(badcrc));
	assert_true(raw_closed_by_node(fd));
	close(fd);
	still_works();
}

static bool
three_disconnected(void)
{
	return !sync_peers_connected(nodes[1].peers, 3) && !sync_peers_connected(nodes[2].peers, 3);
}

static bool
three_got_back(void)
{
	return strcmp(nodes[3].last, "back") == 0;
}

static void
test_reconnect(void **state)
{
	struct sync_peer_stats st;

	stop_node(3);
	assert_true(run_until(three_disconnected, 5000));
	assert_int_equal(sync_peers_send(nodes[1].peers, 3, "lost", 4), -1);
	sync_peers_stats(nodes[1].peers, 3, &st);
	assert_true(st.dropped >= 1);
	start_node(3, "c1", "secret");
	assert_true(run_until(all_connected, 5000));
	assert_int_equal(sync_peers_send(nodes[1].peers, 3, "back", 4), 0);
	assert_true(run_until(three_got_back, 5000));
}

static bool
two_got_everything(void)
{
	struct sync_peer_stats st;

	sync_peers_stats(nodes[1].peers, 2, &st);
	return (uint64_t) nodes[2].received[1] == st.frames_sent;
}

static void
test_backpressure(void **state)
{
	static char msg[1024];
	struct sync_peer_stats st;
	int			queued = 0;

	nodes[2].paused = true;		/* node 2 stops reading */
	for (int i = 0; i < 100000; i++)
	{
		if (sync_peers_send(nodes[1].peers, 2, msg, sizeof(msg)) < 0)
			break;
		queued++;
		if (i % 64 == 0)
			run_until(NULL, 0);
	}
	sync_peers_stats(nodes[1].peers, 2, &st);
	/* Bounded: the queue cap plus what the kernel's socket buffers hold. */
	assert_true(queued < 100000);
	assert_int_equal(st.dropped, 1);
	print_message("queued %d KiB before dropping\n", queued);
	nodes[2].paused = false;
	assert_true(run_until(two_got_everything, 10000));
	assert_true(all_connected());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exchange, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intruders_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
	};

	pgq_log_set_level(PGQ_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
