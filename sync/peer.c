/*
 * peer.c
 *	  Node-to-node transport on libev.  See peer.h for the contract and
 *	  peer_frame.h for the wire format and handshake.
 *
 * A connection moves through one state machine (conn_set_state):
 *	outbound: CONNECTING -> WAIT_HELLO -> WAIT_AUTH_OK -> ACTIVE
 *	inbound:  WAIT_AUTH -> ACTIVE
 * A failed or closed outbound connection schedules a redial with
 * exponential back-off; an inbound one is simply freed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/pgq_assert.h"
#include "common/pgq_buf.h"
#include "common/pgq_bytes.h"
#include "common/pgq_log.h"
#include "sync/peer.h"
#include "sync/peer_frame.h"

#define READ_CHUNK 65536
#define MAX_INBOUND 32

enum conn_state
{
	CONN_CONNECTING,
	CONN_WAIT_HELLO,			/* outbound: dialled, waiting for HELLO */
	CONN_WAIT_AUTH_OK,			/* outbound: sent AUTH */
	CONN_WAIT_AUTH,				/* inbound: sent HELLO, waiting for AUTH */
	CONN_ACTIVE,
};

struct conn
{
	struct sync_peers *peers;
	int			fd;
	bool		outbound;
	enum conn_state state;
	uint32_t	peer_id;		/* outbound: known; inbound: after AUTH */
	char		remote[80];		/* inbound: the dialler's address */
	uint8_t		server_nonce[SYNC_NONCE_SIZE];
	uint8_t		client_nonce[SYNC_NONCE_SIZE];
	ev_io		rio;
	ev_io		wio;
	ev_timer	handshake_timer;
	struct pgq_buf in;
	struct pgq_buf out;
};

struct member
{
	struct sync_peer_addr addr;
	struct conn *out;			/* our dialled connection, or NULL */
	ev_timer	redial;
	int			backoff_ms;
	struct sync_peer_stats stats;
};

struct sync_peers
{
	struct ev_loop *loop;
	struct sync_peers_config cfg;
	char		cluster_name[SYNC_CLUSTER_NAME_MAX + 1];
	char	   *secret;
	size_t		secret_len;
	struct sync_peers_callbacks cb;
	int			listen_fd;
	ev_io		accept_io;
	struct member members[SYNC_PEERS_MAX];
	struct conn *inbound[MAX_INBOUND];
};

static void conn_close(struct conn *conn, const char *why);
static void dial(struct member *m);

static struct member *
find_member(struct sync_peers *peers, uint32_t id)
{
	for (int i = 0; i < peers->cfg.n_peers; i++)
		if (peers->members[i].addr.id == id)
			return &peers->members[i];
	return NULL;
}

static void
conn_set_state(struct conn *conn, enum conn_state state)
{
	switch (state)
	{
		case CONN_CONNECTING:
			PGQ_ASSERT(conn->outbound);
			break;
		case CONN_WAIT_HELLO:
			PGQ_ASSERT(conn->outbound && conn->state == CONN_CONNECTING);
			break;
		case CONN_WAIT_AUTH_OK:
			PGQ_ASSERT(conn->outbound && conn->state == CONN_WAIT_HELLO);
			break;
		case CONN_WAIT_AUTH:
			PGQ_ASSERT(!conn->outbound);
			break;
		case CONN_ACTIVE:
			PGQ_ASSERT(conn->state == CONN_WAIT_AUTH_OK || conn->state == CONN_WAIT_AUTH);
			ev_timer_stop(conn->peers->loop, &conn->handshake_timer);
			break;
	}
	conn->state = state;
}

static int
set_nonblocking(int fd)
{
	int			flags = fcntl(fd, F_GETFL);
	int			one = 1;

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -1;
	(void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

/* HMAC-SHA256(secret, label || server nonce || client nonce || ids || name) */
static void
handshake_mac(const struct sync_peers *peers, const char *label,
			  const uint8_t *server_nonce, const uint8_t *client_nonce,
			  uint32_t server_id, uint32_t client_id, uint8_t mac[SYNC_MAC_SIZE])
{
	uint8_t		msg[16 + 2 * SYNC_NONCE_SIZE + 8 + SYNC_CLUSTER_NAME_MAX];
	size_t		label_len = strlen(label);
	size_t		name_len = strlen(peers->cluster_name);
	size_t		n = 0;
	unsigned int mac_len = SYNC_MAC_SIZE;

	PGQ_ASSERT(label_len <= 16);
	memcpy(msg, label, label_len);
	n += label_len;
	memcpy(msg + n, server_nonce, SYNC_NONCE_SIZE);
	n += SYNC_NONCE_SIZE;
	memcpy(msg + n, client_nonce, SYNC_NONCE_SIZE);
	n += SYNC_NONCE_SIZE;
	pgq_put_u32(msg + n, server_id);
	pgq_put_u32(msg + n + 4, client_id);
	n += 8;
	memcpy(msg + n, peers->cluster_name, name_len);
	n += name_len;
	PGQ_ASSERT(HMAC(EVP_sha256(), peers->secret, (int) peers->secret_len,
					msg, n, mac, &mac_len) != NULL && mac_len == SYNC_MAC_SIZE);
}

/* Queue one frame; false when it does not fit in the queue. */
static bool
conn_queue(struct conn *conn, enum sync_frame_type type,
		   const void *payload, size_t len)
{
	uint8_t    *p;

	if (len > conn->peers->cfg.max_frame - SYNC_FRAME_BODY_MIN)
		return false;
	p = pgq_buf_reserve(&conn->out, SYNC_FRAME_PREFIX_SIZE + len);
	if (p == NULL)
		return false;
	sync_frame_start(p, type);
	memcpy(p + SYNC_FRAME_PREFIX_SIZE, payload, len);
	sync_frame_finish(p, len);
	conn->out.len += SYNC_FRAME_PREFIX_SIZE + len;
	ev_io_start(conn->peers->loop, &conn->wio);
	return true;
}

static void
send_hello(struct conn *conn)
{
	struct sync_hello hello = {.node_id = conn->peers->cfg.node_id};
	uint8_t		buf[128];

	PGQ_ASSERT(RAND_bytes(conn->server_nonce, SYNC_NONCE_SIZE) == 1);
	memcpy(hello.nonce, conn->server_nonce, SYNC_NONCE_SIZE);
	snprintf(hello.cluster_name, sizeof(hello.cluster_name), "%s", conn->peers->cluster_name);
	PGQ_ASSERT(conn_queue(conn, SYNC_FRAME_HELLO, buf, sync_hello_encode(&hello, false, buf)));
}

static void
refuse(struct conn *conn, const char *fmt, const char *detail)
{
	char		why[256];
	struct member *m = conn->outbound ? find_member(conn->peers, conn->peer_id) : NULL;

	snprintf(why, sizeof(why), fmt, detail);
	if (m != NULL)
		m->stats.refused++;
	conn_close(conn, why);
}

/* Outbound: the server's HELLO arrived; answer with our proof. */
/* Returns false when the connection was refused (and freed). */
static bool
on_hello(struct conn *conn, const struct sync_frame *frame)
{
	struct sync_peers *peers = conn->peers;
	struct sync_hello hello;
	struct sync_hello auth = {.node_id = peers->cfg.node_id};
	uint8_t		buf[160];

	if (sync_hello_decode(frame->payload, frame->payload_len, false, &hello) < 0)
		{ refuse(conn, "malformed HELLO%s", ""); return false; }
	if (strcmp(hello.cluster_name, peers->cluster_name) != 0)
		{ refuse(conn, "peer belongs to another cluster (\"%s\")", hello.cluster_name); return false; }
	if (hello.node_id != conn->peer_id)
		{ refuse(conn, "peer at this address is not the expected node%s", ""); return false; }
	memcpy(conn->server_nonce, hello.nonce, SYNC_NONCE_SIZE);
	PGQ_ASSERT(RAND_bytes(conn->client_nonce, SYNC_NONCE_SIZE) == 1);
	memcpy(auth.nonce, conn->client_nonce, SYNC_NONCE_SIZE);
	snprintf(auth.cluster_name, sizeof(auth.cluster_name), "%s", peers->cluster_name);
	handshake_mac(peers, "client", conn->server_nonce, conn->client_nonce,
				  conn->peer_id, peers->cfg.node_id, auth.mac);
	PGQ_ASSERT(conn_queue(conn, SYNC_FRAME_AUTH, buf, sync_hello_encode(&auth, true, buf)));
	conn_set_state(conn, CONN_WAIT_AUTH_OK);
	return true;
}

/* Outbound: the server proved it holds the secret too. */
/* Returns false when the connection was refused (and freed). */
static bool
on_auth_ok(struct conn *conn, const struct sync_frame *frame)
{
	struct sync_peers *peers = conn->peers;
	struct member *m = find_member(peers, conn->peer_id);
	uint8_t		mac[SYNC_MAC_SIZE];

	handshake_mac(peers, "server", conn->server_nonce, conn->client_nonce,
				  conn->peer_id, peers->cfg.node_id, mac);
	if (frame->payload_len != SYNC_MAC_SIZE ||
		CRYPTO_memcmp(mac, frame->payload, SYNC_MAC_SIZE) != 0)
		{ refuse(conn, "peer failed to prove the cluster secret%s", ""); return false; }
	conn_set_state(conn, CONN_ACTIVE);
	m->backoff_ms = 0;
	pgq_info("connected to node %u at %s:%u", m->addr.id, m->addr.host, m->addr.port);
	if (peers->cb.on_connection)
		peers->cb.on_connection(peers->cb.arg, m->addr.id, true);
	return true;
}

/* Inbound: the client's proof arrived. */
/* Returns false when the connection was refused (and freed). */
static bool
on_auth(struct conn *conn, const struct sync_frame *frame)
{
	struct sync_peers *peers = conn->peers;
	struct sync_hello auth;
	uint8_t		mac[SYNC_MAC_SIZE];

	if (sync_hello_decode(frame->payload, frame->payload_len, true, &auth) < 0)
		{ refuse(conn, "malformed AUTH%s", ""); return false; }
	if (strcmp(auth.cluster_name, peers->cluster_name) != 0)
		{ refuse(conn, "connection from another cluster (\"%s\") refused", auth.cluster_name); return false; }
	if (auth.node_id == peers->cfg.node_id || find_member(peers, auth.node_id) == NULL)
		{ refuse(conn, "connection from a node that is not a member refused%s", ""); return false; }
	memcpy(conn->client_nonce, auth.nonce, SYNC_NONCE_SIZE);
	handshake_mac(peers, "client", conn->server_nonce, conn->client_nonce,
				  peers->cfg.node_id, auth.node_id, mac);
	if (CRYPTO_memcmp(mac, auth.mac, SYNC_MAC_SIZE) != 0)
		{ refuse(conn, "connection with a wrong cluster secret refused%s", ""); return false; }
	handshake_mac(peers, "server", conn->server_nonce, conn->client_nonce,
				  peers->cfg.node_id, auth.node_id, mac);
	PGQ_ASSERT(conn_queue(conn, SYNC_FRAME_AUTH_OK, mac, SYNC_MAC_SIZE));
	/* One inbound connection per member: a newer one replaces the old. */
	for (int i = 0; i < MAX_INBOUND; i++)
	{
		struct conn *other = peers->inbound[i];

		if (other != NULL && other != conn && other->state == CONN_ACTIVE &&
			other->peer_id == auth.node_id)
			conn_close(other, "replaced by a newer connection");
	}
	conn->peer_id = auth.node_id;
	conn_set_state(conn, CONN_ACTIVE);
	pgq_info("node %u connected", auth.node_id);
	return true;
}

/* Returns false when the connection was closed. */
static bool
dispatch(struct conn *conn, const struct sync_frame *frame)
{
	struct sync_peers *peers = conn->peers;

	switch (conn->state)
	{
		case CONN_WAIT_HELLO:
			if (frame->type != SYNC_FRAME_HELLO)
				break;
			return on_hello(conn, frame);
		case CONN_WAIT_AUTH_OK:
			if (frame->type != SYNC_FRAME_AUTH_OK)
				break;
			return on_auth_ok(conn, frame);
		case CONN_WAIT_AUTH:
			if (frame->type != SYNC_FRAME_AUTH)
				break;
			return on_auth(conn, frame);
		case CONN_ACTIVE:
			if (frame->type != SYNC_FRAME_MSG || conn->outbound)
				break;
			find_member(peers, conn->peer_id)->stats.frames_received++;
			peers->cb.on_message(peers->cb.arg, conn->peer_id,
								 frame->payload, frame->payload_len);
			return true;
		case CONN_CONNECTING:
			break;
	}
	conn_close(conn, "unexpected frame for the connection's state");
	return false;
}

static void
on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *conn = w->data;
	size_t		max_body = conn->peers->cfg.max_frame;
	uint8_t    *p = pgq_buf_reserve(&conn->in, READ_CHUNK);
	ssize_t		n;

	if (p == NULL)
	{
		conn_close(conn, "receive buffer full");
		return;
	}
	n = read(conn->fd, p, READ_CHUNK);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
	{
		conn_close(conn, n == 0 ? "closed by peer" : strerror(errno));
		return;
	}
	if (n < 0)
		return;
	conn->in.len += (size_t) n;
	for (;;)
	{
		struct sync_frame frame;
		size_t		used;
		enum sync_frame_status st = sync_frame_decode(pgq_buf_head(&conn->in), conn->in.len,
													  max_body, &frame, &used);

		if (st == SYNC_FRAME_INCOMPLETE)
			break;
		if (st != SYNC_FRAME_OK)
		{
			conn_close(conn, sync_frame_status_message(st));
			return;
		}
		if (!dispatch(conn, &frame))
			return;
		pgq_buf_consume(&conn->in, used);
	}
}

static void
on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *conn = w->data;
	ssize_t		n;

	if (conn->state == CONN_CONNECTING)
	{
		int			soerr = 0;
		socklen_t	len = sizeof(soerr);

		getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
		if (soerr != 0)
		{
			conn_close(conn, strerror(soerr));
			return;
		}
		conn_set_state(conn, CONN_WAIT_HELLO);
		ev_io_start(loop, &conn->rio);
	}
	if (conn->out.len == 0)
	{
		ev_io_stop(loop, &conn->wio);
		return;
	}
	n = write(conn->fd, pgq_buf_head(&conn->out), conn->out.len);
	if (n < 0 && errno != EAGAIN && errno != EINTR)
	{
		conn_close(conn, strerror(errno));
		return;
	}
	if (n > 0)
	{
		if (conn->outbound)
			find_member(conn->peers, conn->peer_id)->stats.bytes_sent += (uint64_t) n;
		pgq_buf_consume(&conn->out, (size_t) n);
	}
	if (conn->out.len == 0)
		ev_io_stop(loop, &conn->wio);
}

static void
on_handshake_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	conn_close(w->data, "handshake timed out");
}

static struct conn *
conn_new(struct sync_peers *peers, int fd, bool outbound, uint32_t peer_id)
{
	struct conn *conn = calloc(1, sizeof(*conn));
	double		timeout = peers->cfg.handshake_timeout_ms / 1000.0;

	PGQ_ASSERT(conn != NULL);
	conn->peers = peers;
	conn->fd = fd;
	conn->outbound = outbound;
	conn->peer_id = peer_id;
	pgq_buf_init(&conn->in, peers->cfg.max_frame + SYNC_FRAME_HEADER_SIZE + READ_CHUNK);
	pgq_buf_init(&conn->out, outbound ? peers->cfg.max_queue_bytes : 4096);
	ev_io_init(&conn->rio, on_readable, fd, EV_READ);
	ev_io_init(&conn->wio, on_writable, fd, EV_WRITE);
	ev_timer_init(&conn->handshake_timer, on_handshake_timeout, timeout, 0.);
	conn->rio.data = conn->wio.data = conn->handshake_timer.data = conn;
	ev_timer_start(peers->loop, &conn->handshake_timer);
	return conn;
}

static void
schedule_redial(struct member *m, struct sync_peers *peers)
{
	int			lo = peers->cfg.reconnect_min_ms;
	int			hi = peers->cfg.reconnect_max_ms;
	uint32_t	jitter;

	m->backoff_ms = m->backoff_ms == 0 ? lo : (m->backoff_ms * 2 > hi ? hi : m->backoff_ms * 2);
	PGQ_ASSERT(RAND_bytes((unsigned char *) &jitter, sizeof(jitter)) == 1);
	/* Up to 25% jitter so that nodes do not redial in lockstep. */
	ev_timer_set(&m->redial, (m->backoff_ms + jitter % (m->backoff_ms / 4 + 1)) / 1000.0, 0.);
	ev_timer_start(peers->loop, &m->redial);
}

static void
conn_close(struct conn *conn, const char *why)
{
	struct sync_peers *peers = conn->peers;
	struct ev_loop *loop = peers->loop;
	bool		was_active = conn->state == CONN_ACTIVE;

	ev_io_stop(loop, &conn->rio);
	ev_io_stop(loop, &conn->wio);
	ev_timer_stop(loop, &conn->handshake_timer);
	close(conn->fd);
	if (conn->outbound)
	{
		struct member *m = find_member(peers, conn->peer_id);

		PGQ_ASSERT(m->out == conn);
		m->out = NULL;
		if (was_active || m->backoff_ms == 0)
			pgq_log(was_active ? PGQ_LOG_WARNING : PGQ_LOG_DEBUG,
					"connection to node %u at %s:%u lost: %s",
					m->addr.id, m->addr.host, m->addr.port, why);
		if (was_active && peers->cb.on_connection)
			peers->cb.on_connection(peers->cb.arg, m->addr.id, false);
		schedule_redial(m, peers);
	}
	else
	{
		for (int i = 0; i < MAX_INBOUND; i++)
			if (peers->inbound[i] == conn)
				peers->inbound[i] = NULL;
		pgq_log(was_active ? PGQ_LOG_INFO : PGQ_LOG_WARNING,
				"peer connection from %s%s closed: %s", conn->remote,
				conn->peer_id ? "" : " (unauthenticated)", why);
	}
	pgq_buf_free(&conn->in);
	pgq_buf_free(&conn->out);
	free(conn);
}

static void
dial(struct member *m)
{
	struct sync_peers *peers = m->redial.data;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	char		port[8];
	int			fd = -1;

	PGQ_ASSERT(m->out == NULL);
	snprintf(port, sizeof(port), "%u", m->addr.port);
	/* Numeric addresses only on this path: resolving would block the loop. */
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(m->addr.host, port, &hints, &ai) != 0 ||
		(fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
		set_nonblocking(fd) < 0 ||
		(connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS))
	{
		pgq_debug("dialling node %u at %s:%u failed: %s", m->addr.id,
				  m->addr.host, m->addr.port, ai ? strerror(errno) : "bad address");
		if (fd >= 0)
			close(fd);
		if (ai)
			freeaddrinfo(ai);
		schedule_redial(m, peers);
		return;
	}
	freeaddrinfo(ai);
	m->out = conn_new(peers, fd, true, m->addr.id);
	conn_set_state(m->out, CONN_CONNECTING);
	ev_io_start(peers->loop, &m->out->wio);
}

static void
on_redial(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sync_peers *peers = w->data;

	for (int i = 0; i < peers->cfg.n_peers; i++)
		if (&peers->members[i].redial == w && peers->members[i].out == NULL)
			dial(&peers->members[i]);
}

static void
on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sync_peers *peers = w->data;
	struct sockaddr_storage sa;
	socklen_t	salen = sizeof(sa);
	char		host[64] = "?";
	char		port[8] = "?";
	int			fd = accept4(peers->listen_fd, (struct sockaddr *) &sa, &salen, SOCK_CLOEXEC);
	int			slot = -1;
	struct conn *conn;

	if (fd < 0)
		return;
	getnameinfo((struct sockaddr *) &sa, salen, host, sizeof(host), port, sizeof(port),
				NI_NUMERICHOST | NI_NUMERICSERV);
	for (int i = 0; i < MAX_INBOUND && slot < 0; i++)
		if (peers->inbound[i] == NULL)
			slot = i;
	if (slot < 0 || set_nonblocking(fd) < 0)
	{
		pgq_warn("peer connection from %s:%s refused: too many connections", host, port);
		close(fd);
		return;
	}
	conn = conn_new(peers, fd, false, 0);
	snprintf(conn->remote, sizeof(conn->remote), "%s:%s", host, port);
	peers->inbound[slot] = conn;
	conn_set_state(conn, CONN_WAIT_AUTH);
	ev_io_start(loop, &conn->rio);
	send_hello(conn);
}

static int
listen_on(struct sync_peers *peers, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	.ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai;
	char		port[8];
	int			one = 1;
	int			rc;

	snprintf(port, sizeof(port), "%u", peers->cfg.listen_port);
	rc = getaddrinfo(peers->cfg.listen_host, port, &hints, &ai);
	if (rc != 0)
	{
		snprintf(err, errlen, "peer_listen_addr \"%s\": %s", peers->cfg.listen_host, gai_strerror(rc));
		return -1;
	}
	peers->listen_fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (peers->listen_fd < 0 ||
		setsockopt(peers->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		bind(peers->listen_fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
		listen(peers->listen_fd, 64) < 0)
	{
		snprintf(err, errlen, "could not listen for peers on %s:%u: %s",
				 peers->cfg.listen_host, peers->cfg.listen_port, strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	ev_io_init(&peers->accept_io, on_accept, peers->listen_fd, EV_READ);
	peers->accept_io.data = peers;
	ev_io_start(peers->loop, &peers->accept_io);
	return 0;
}

struct sync_peers *
sync_peers_start(struct ev_loop *loop, const struct sync_peers_config *cfg,
				 const struct sync_peers_callbacks *cb, char *err, size_t errlen)
{
	struct sync_peers *peers = calloc(1, sizeof(*peers));

	PGQ_ASSERT(peers != NULL && cb->on_message != NULL);
	PGQ_ASSERT(cfg->n_peers >= 1 && cfg->n_peers <= SYNC_PEERS_MAX);
	PGQ_ASSERT(cfg->max_frame > SYNC_FRAME_BODY_MIN && cfg->max_queue_bytes > 0);
	PGQ_ASSERT(cfg->reconnect_min_ms > 0 && cfg->reconnect_max_ms >= cfg->reconnect_min_ms);
	peers->loop = loop;
	peers->cfg = *cfg;
	peers->cb = *cb;
	peers->listen_fd = -1;
	snprintf(peers->cluster_name, sizeof(peers->cluster_name), "%s", cfg->cluster_name);
	peers->secret = strdup(cfg->secret ? cfg->secret : "");
	peers->secret_len = strlen(peers->secret);
	peers->cfg.cluster_name = peers->cluster_name;
	peers->cfg.secret = NULL;
	if (listen_on(peers, err, errlen) < 0)
	{
		sync_peers_stop(peers);
		return NULL;
	}
	for (int i = 0; i < cfg->n_peers; i++)
	{
		struct member *m = &peers->members[i];

		m->addr = cfg->peers[i];
		ev_timer_init(&m->redial, on_redial, 0., 0.);
		m->redial.data = peers;
		if (m->addr.id != cfg->node_id)
			dial(m);
	}
	return peers;
}

int
sync_peers_send(struct sync_peers *peers, uint32_t to, const void *payload, size_t len)
{
	struct member *m = find_member(peers, to);

	PGQ_ASSERT(m != NULL && to != peers->cfg.node_id);
	if (m->out == NULL || m->out->state != CONN_ACTIVE ||
		!conn_queue(m->out, SYNC_FRAME_MSG, payload, len))
	{
		m->stats.dropped++;
		return -1;
	}
	m->stats.frames_sent++;
	return 0;
}

bool
sync_peers_connected(const struct sync_peers *peers, uint32_t id)
{
	for (int i = 0; i < peers->cfg.n_peers; i++)
		if (peers->members[i].addr.id == id)
			return peers->members[i].out != NULL && peers->members[i].out->state == CONN_ACTIVE;
	return false;
}

void
sync_peers_stats(const struct sync_peers *peers, uint32_t id, struct sync_peer_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	for (int i = 0; i < peers->cfg.n_peers; i++)
		if (peers->members[i].addr.id == id)
			*stats = peers->members[i].stats;
}

void
sync_peers_stop(struct sync_peers *peers)
{
	struct sync_peers_callbacks none = {0};

	peers->cb = none;			/* no callbacks while tearing down */
	for (int i = 0; i < peers->cfg.n_peers; i++)
	{
		struct member *m = &peers->members[i];

		ev_timer_stop(peers->loop, &m->redial);
		if (m->out != NULL)
		{
			conn_close(m->out, "node stopping");
			ev_timer_stop(peers->loop, &m->redial);
		}
	}
	for (int i = 0; i < MAX_INBOUND; i++)
		if (peers->inbound[i] != NULL)
			conn_close(peers->inbound[i], "node stopping");
	if (peers->listen_fd >= 0)
	{
		ev_io_stop(peers->loop, &peers->accept_io);
		close(peers->listen_fd);
	}
	OPENSSL_cleanse(peers->secret, peers->secret_len);
	free(peers->secret);
	free(peers);
}
