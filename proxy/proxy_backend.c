/*
 * proxy_backend.c
 *	  Backend connections to the local PostgreSQL and their pools.
 *
 * A pool per (database, user) holds at most pool_size backends in any
 * state.  A backend is opened with the startup packet of the session it is
 * for and is reused only by a session whose startup packet is the same
 * byte for byte (same parameters, so the same ParameterStatus values),
 * after server_reset_query ran cleanly outside a transaction.
 *
 * The login (startup, authentication) is our own non-blocking code, not
 * libpq: it must answer SCRAM with the ClientKey recovered from the
 * client's proof, which libpq cannot do (docs/proxy.md).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/pgq_assert.h"
#include "common/pgq_log.h"
#include "proxy/proxy_int.h"

/* Messages a server sends during login or reset. */
static const struct pq_type_rule login_rules[256] = {
	[PqMsg_AuthenticationRequest] = {PQ_AUTH_MESSAGE_LIMIT, 0, false},
	[PqMsg_ParameterStatus] = {PROXY_PRE_BUF - 1, 0, false},
	[PqMsg_BackendKeyData] = {12, 12, false},
	[PqMsg_ErrorResponse] = {PROXY_PRE_BUF - 1, 0, false},
	[PqMsg_NoticeResponse] = {PROXY_PRE_BUF - 1, 0, false},
	[PqMsg_NegotiateProtocolVersion] = {PROXY_PRE_BUF - 1, 0, false},
	[PqMsg_CommandComplete] = {PQ_SMALL_MESSAGE_LIMIT, 0, false},
	[PqMsg_ReadyForQuery] = {5, 5, false},
};

static void backend_ready(struct proxy_backend *be);
static void backend_fail(struct proxy_backend *be, const uint8_t *err, size_t errlen);
static void on_backend_timer(struct ev_loop *loop, ev_timer *w, int revents);
static void on_backend_read(struct ev_loop *loop, ev_io *w, int revents);
static void on_backend_write(struct ev_loop *loop, ev_io *w, int revents);

static const char *
backend_target(const struct proxy_backend *be)
{
	return be->fwd_addr != NULL ? "the primary node" : "the local PostgreSQL";
}
static void backend_open(struct proxy_pool *pool, struct proxy_client *cl);
static void backend_relay_read(struct proxy_backend *be);
static int	backend_login_message(struct proxy_backend *be, uint8_t type,
								  const uint8_t *body, size_t len);

struct proxy_pool *
proxy_pool_get(struct proxy *px, const char *database, const char *user)
{
	struct proxy_pool *pool;

	for (struct proxy_list *n = px->pools.next; n != &px->pools; n = n->next)
	{
		pool = proxy_container(n, struct proxy_pool, link);
		if (strcmp(pool->database, database) == 0 && strcmp(pool->user, user) == 0)
			return pool;
	}
	if (px->n_pools >= PROXY_MAX_POOLS || (pool = calloc(1, sizeof(*pool))) == NULL)
		return NULL;
	pool->database = strdup(database);
	pool->user = strdup(user);
	if (pool->database == NULL || pool->user == NULL)
	{
		free(pool->database);
		free(pool->user);
		free(pool);
		return NULL;
	}
	proxy_list_init(&pool->idle);
	proxy_list_init(&pool->waiting);
	proxy_list_append(&px->pools, &pool->link);
	px->n_pools++;
	return pool;
}

void
proxy_pool_free_all(struct proxy *px)
{
	while (!proxy_list_empty(&px->pools))
	{
		struct proxy_pool *pool = proxy_container(px->pools.next, struct proxy_pool, link);

		PGQ_ASSERT(pool->n_backends == 0 && proxy_list_empty(&pool->waiting));
		proxy_list_remove(&pool->link);
		free(pool->database);
		free(pool->user);
		free(pool);
		px->n_pools--;
	}
}

static bool
backend_matches(const struct proxy_backend *be, const struct proxy_client *cl)
{
	return be->startup_len == cl->startup_len &&
		memcmp(be->startup, cl->startup, cl->startup_len) == 0;
}

static void
backend_give(struct proxy_backend *be, struct proxy_client *cl)
{
	proxy_list_remove(&be->pool_link);
	proxy_list_remove(&cl->wait_link);
	be->client = cl;
	proxy_backend_set_state(be, BE_ACTIVE);
	pq_scan_init(&be->scan, be->px->has_hooks ? proxy_backend_all_rules : pq_backend_rules);
	be->pending = 0;
	be->unsynced = false;
	be->flt_mode = 0;			/* WP_FWD */
	be->flt_part = false;
	be->flt_saw_error = false;
	be->flt_err_len = 0;
	proxy_client_link(cl, be);
}

/* Serve waiting clients with idle backends or new connections. */
static void
pool_kick(struct proxy_pool *pool, struct proxy *px)
{
	struct proxy_list *n = pool->waiting.next;

	if (pool->kicking)
		return;
	pool->kicking = true;
	while (n != &pool->waiting)
	{
		struct proxy_client *cl = proxy_container(n, struct proxy_client, wait_link);
		struct proxy_backend *spare = NULL;
		bool		opening = false;

		n = n->next;
		for (struct proxy_list *i = pool->idle.next; i != &pool->idle; i = i->next)
		{
			struct proxy_backend *be = proxy_container(i, struct proxy_backend, pool_link);

			if (backend_matches(be, cl))
			{
				backend_give(be, cl);
				spare = NULL;
				break;
			}
			spare = be;
		}
		if (cl->state != CL_WAIT_BACKEND)
			continue;
		for (int s = BE_CONNECTING; s <= BE_LOGIN && !opening; s++)
			for (struct proxy_list *i = px->backends[s].next; i != &px->backends[s]; i = i->next)
				opening |= proxy_container(i, struct proxy_backend, link)->client == cl;
		if (opening)
			continue;
		if (pool->n_backends >= px->cfg->pool_size && spare != NULL)
			proxy_backend_close(spare);	/* make room: wrong parameters */
		if (pool->n_backends < px->cfg->pool_size)
			backend_open(pool, cl);
	}
	pool->kicking = false;
}

void
proxy_pool_request(struct proxy_pool *pool, struct proxy_client *cl)
{
	PGQ_ASSERT(cl->state == CL_WAIT_BACKEND);
	proxy_list_append(&pool->waiting, &cl->wait_link);
	pool_kick(pool, cl->px);
}

void
proxy_pool_client_gone(struct proxy_client *cl)
{
	struct proxy *px = cl->px;

	proxy_list_remove(&cl->wait_link);
	for (int s = BE_CONNECTING; s <= BE_LOGIN; s++)
		for (struct proxy_list *i = px->backends[s].next; i != &px->backends[s]; i = i->next)
		{
			struct proxy_backend *be = proxy_container(i, struct proxy_backend, link);

			if (be->client == cl)
				be->client = NULL;
		}
}

static void
on_backend_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy_backend *be = w->data;

	pgq_warn("proxy: backend for \"%s\"/\"%s\" on %s did not answer in time (%s); closing it",
			 be->pool->database, be->pool->user, backend_target(be),
			 be->state == BE_RESETTING ? "reset" : "login");
	if (be->fwd_addr != NULL)
	{
		proxy_forward_failed(be, NULL, 0);
		return;
	}
	if (be->client != NULL && be->client->state == CL_WAIT_BACKEND)
		proxy_client_backend_failed(be->client, NULL, 0);
	proxy_backend_close(be);
}

static void
backend_fail(struct proxy_backend *be, const uint8_t *err, size_t errlen)
{
	struct proxy_client *cl = be->client;

	if (be->fwd_addr != NULL)
	{
		proxy_forward_failed(be, err, errlen);
		return;
	}
	be->client = NULL;
	if (cl != NULL && cl->state == CL_WAIT_BACKEND)
		proxy_client_backend_failed(cl, err, errlen);
	proxy_backend_close(be);
}

/* Read whole messages into be->in (login and reset). */
static void
backend_read_messages(struct proxy_backend *be)
{
	size_t		n;
	enum proxy_io_result r;

	r = proxy_conn_read(&be->conn, be->in + be->in_len, PROXY_PRE_BUF - be->in_len, &n);
	if (r == PROXY_IO_AGAIN)
		return;
	if (r != PROXY_IO_OK)
	{
		backend_fail(be, NULL, 0);
		return;
	}
	be->in_len += (uint32_t) n;
	while (be->in_len >= PQ_HEADER_LEN)
	{
		uint8_t		type = be->in[0];
		uint32_t	len = pq_get_uint32(be->in + 1);
		enum backend_state st = be->state;

		if (pq_header_check(login_rules, type, len) != 0)
		{
			pgq_warn("proxy: backend sent message type %d length %u during %s", type, len,
					 st == BE_LOGIN ? "login" : "reset");
			backend_fail(be, NULL, 0);
			return;
		}
		if (be->in_len < len + 1)
			return;
		if (backend_login_message(be, type, be->in + PQ_HEADER_LEN, len - 4) < 0)
			return;
		if (be->in == NULL)
			return;				/* ready: relaying now */
		memmove(be->in, be->in + len + 1, be->in_len - len - 1);
		be->in_len -= len + 1;
	}
}

/* A backend finishing a gone client's COMMIT (proxy_write.c). */
static void
backend_held_read(struct proxy_backend *be)
{
	size_t		n;
	enum proxy_io_result r = proxy_conn_read(&be->conn, be->px->scratch, PROXY_READ_CHUNK, &n);

	if (r == PROXY_IO_AGAIN)
		return;
	if (r != PROXY_IO_OK)
	{
		pgq_warn("proxy: the local server closed a connection that was finishing a COMMIT "
				 "whose client is gone; the log resolves that transaction");
		proxy_backend_close(be);
		return;
	}
	proxy_write_held_bytes(be, be->px->scratch, n);
}

static void
on_backend_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct proxy_backend *be = w->data;

	switch (be->state)
	{
		case BE_ACTIVE:
			backend_relay_read(be);
			break;
		case BE_LOGIN:
		case BE_RESETTING:
			backend_read_messages(be);
			break;
		case BE_HELD:
			backend_held_read(be);
			break;
		default:
			/* idle: the server closed it or sent something unasked */
			proxy_backend_close(be);
			break;
	}
}

static void
backend_connected(struct proxy_backend *be)
{
	int			soerr = 0;
	socklen_t	len = sizeof(soerr);

	ev_io_stop(be->px->loop, &be->conn.wio);
	if (getsockopt(be->conn.fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0)
	{
		pgq_warn("proxy: could not connect to %s: %s", backend_target(be),
				 strerror(soerr ? soerr : errno));
		backend_fail(be, NULL, 0);
		return;
	}
	proxy_backend_set_state(be, BE_LOGIN);
	if (proxy_conn_send(be->px, &be->conn, be->startup, be->startup_len) < 0)
	{
		backend_fail(be, NULL, 0);
		return;
	}
	proxy_conn_read_start(be->px, &be->conn);
}

static void
on_backend_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct proxy_backend *be = w->data;

	if (be->state == BE_CONNECTING)
	{
		backend_connected(be);
		return;
	}
	if (proxy_conn_flush(be->px, &be->conn) < 0)
	{
		backend_fail(be, NULL, 0);
		return;
	}
	if (be->conn.out_len == 0 && be->state == BE_ACTIVE)
		proxy_client_resume(be->client);
}

/*
 * A new connection for cl to addr, opened with startup; fwd: to the primary
 * node, outside the pool's count.  NULL when it could not be started.
 */
static struct proxy_backend *
backend_new(struct proxy_pool *pool, struct proxy_client *cl,
			const struct sockaddr_storage *addr, socklen_t addrlen,
			const uint8_t *startup, size_t startup_len, bool fwd)
{
	struct proxy *px = cl->px;
	struct proxy_backend *be = calloc(1, sizeof(*be));
	int			fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (be == NULL || fd < 0 || (be->startup = malloc(startup_len)) == NULL ||
		(be->in = malloc(PROXY_PRE_BUF)) == NULL ||
		(fwd && (be->fwd_addr = malloc(sizeof(*addr))) == NULL))
	{
		pgq_error("proxy: cannot open a backend: %s", be ? strerror(errno) : "out of memory");
		if (be != NULL)
		{
			free(be->startup);
			free(be->in);
			free(be);
		}
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	be->px = px;
	be->pool = pool;
	be->client = cl;
	be->state = BE_CONNECTING;
	proxy_list_init(&be->pool_link);
	proxy_list_append(&px->backends[BE_CONNECTING], &be->link);
	if (fwd)
	{
		memcpy(be->fwd_addr, addr, sizeof(*addr));
		be->fwd_addrlen = addrlen;
	}
	else
		pool->n_backends++;
	memcpy(be->startup, startup, startup_len);
	be->startup_len = (uint32_t) startup_len;
	proxy_tcp_nodelay(fd, addr->ss_family);
	proxy_conn_init(&be->conn, px, fd, on_backend_read, on_backend_write, be);
	ev_timer_init(&be->timer, on_backend_timer, be->px->cfg->client_login_timeout_ms / 1000.0, 0.);
	be->timer.data = be;
	ev_timer_start(px->loop, &be->timer);
	if (connect(fd, (const struct sockaddr *) addr, addrlen) < 0 && errno != EINPROGRESS)
	{
		pgq_warn("proxy: could not connect to %s: %s", backend_target(be), strerror(errno));
		backend_fail(be, NULL, 0);
		return NULL;
	}
	ev_io_start(px->loop, &be->conn.wio);
	return be;
}

static void
backend_open(struct proxy_pool *pool, struct proxy_client *cl)
{
	PGQ_ASSERT(pool->n_backends < cl->px->cfg->pool_size);
	if (backend_new(pool, cl, &cl->px->be_addr, cl->px->be_addrlen, cl->startup,
					cl->startup_len, false) == NULL && cl->state == CL_WAIT_BACKEND)
		proxy_client_backend_failed(cl, NULL, 0);
}

struct proxy_backend *
proxy_backend_open_forward(struct proxy_client *cl, const struct sockaddr_storage *addr,
						   socklen_t addrlen, const uint8_t *startup, size_t len)
{
	return backend_new(cl->pool, cl, addr, addrlen, startup, len, true);
}

void
proxy_backend_close(struct proxy_backend *be)
{
	struct proxy *px = be->px;

	if (be->state == BE_CLOSING)
		return;
	if (be->fwd_addr != NULL)
	{
		proxy_forward_closed(be);
		proxy_backend_set_state(be, BE_CLOSING);
		proxy_conn_close(px, &be->conn);
		ev_timer_stop(px->loop, &be->timer);
		return;
	}
	if (be->client != NULL && be->client->be == be)
	{
		struct proxy_client *cl = be->client;

		be->client = NULL;
		cl->be = NULL;
		proxy_client_close(cl);
	}
	be->client = NULL;
	proxy_list_remove(&be->pool_link);
	proxy_backend_set_state(be, BE_CLOSING);
	proxy_conn_close(px, &be->conn);
	ev_timer_stop(px->loop, &be->timer);
	be->pool->n_backends--;
	if (!px->stopping)
		pool_kick(be->pool, px);
}

void
proxy_backend_free(struct proxy_backend *be)
{
	PGQ_ASSERT(be->state == BE_CLOSING && be->conn.fd < 0);
	proxy_list_remove(&be->link);
	proxy_write_backend_free(be);
	free(be->in);
	free(be->startup);
	free(be->params);
	free(be->scram);
	free(be->fwd_addr);
	free(be);
}

void
proxy_backend_resume(struct proxy_backend *be)
{
	if (be->state == BE_ACTIVE)
		proxy_conn_read_start(be->px, &be->conn);
}

/* Login or reset finished at ReadyForQuery: hand over or go idle. */
static void
backend_ready(struct proxy_backend *be)
{
	struct proxy_client *cl = be->client;

	ev_timer_stop(be->px->loop, &be->timer);
	free(be->in);
	be->in = NULL;
	be->in_len = 0;
	free(be->scram);
	be->scram = NULL;
	be->txn = PQ_TXN_IDLE;
	if (be->fwd_addr != NULL)
	{
		proxy_forward_ready(be);
		return;
	}
	if (cl != NULL && cl->state == CL_WAIT_BACKEND)
	{
		backend_give(be, cl);
		return;
	}
	be->client = NULL;
	proxy_backend_set_state(be, BE_IDLE);
	proxy_list_append(&be->pool->idle, &be->pool_link);
	pool_kick(be->pool, be->px);
}

void
proxy_backend_release(struct proxy_backend *be, bool reusable)
{
	uint8_t		buf[64];
	struct pq_build b;

	PGQ_ASSERT(be->state == BE_ACTIVE && be->client == NULL);
	if (!reusable || be->px->stopping || (be->in = malloc(PROXY_PRE_BUF)) == NULL)
	{
		proxy_backend_close(be);
		return;
	}
	be->in_len = 0;
	pq_build_init(&b, buf, sizeof(buf));
	pq_build_begin(&b, PqMsg_Query);
	pq_build_string(&b, be->px->cfg->server_reset_query);
	pq_build_end(&b);
	PGQ_ASSERT(!b.overflow);
	proxy_backend_set_state(be, BE_RESETTING);
	ev_timer_set(&be->timer, be->px->cfg->client_login_timeout_ms / 1000.0, 0.);
	ev_timer_start(be->px->loop, &be->timer);
	proxy_conn_read_start(be->px, &be->conn);
	if (proxy_conn_send(be->px, &be->conn, buf, b.len) < 0)
		proxy_backend_close(be);
}

/* Replace or add one ParameterStatus in the cache handed to new sessions. */
static int
backend_set_param(struct proxy_backend *be, const uint8_t *body, size_t len)
{
	struct pq_reader r;
	const char *name;
	size_t		nlen,
				keep = 0;
	uint8_t    *p = malloc(be->params_len + len + PQ_HEADER_LEN);

	pq_reader_init(&r, body, len);
	name = pq_read_string(&r);
	(void) pq_read_string(&r);
	if (!pq_reader_done(&r) || p == NULL)
	{
		free(p);
		return -1;
	}
	nlen = strlen(name) + 1;
	for (size_t off = 0; off < be->params_len;)
	{
		uint32_t	mlen = pq_get_uint32(be->params + off + 1);

		if (mlen - 4 < nlen || memcmp(be->params + off + PQ_HEADER_LEN, name, nlen) != 0)
		{
			memcpy(p + keep, be->params + off, mlen + 1);
			keep += mlen + 1;
		}
		off += mlen + 1;
	}
	p[keep] = PqMsg_ParameterStatus;
	pq_put_uint32(p + keep + 1, (uint32_t) len + 4);
	memcpy(p + keep + PQ_HEADER_LEN, body, len);
	free(be->params);
	be->params = p;
	be->params_len = (uint32_t) (keep + PQ_HEADER_LEN + len);
	return 0;
}

static int
backend_send_password(struct proxy_backend *be, const char *data, size_t len, bool sasl_initial)
{
	uint8_t		buf[PROXY_SCRAM_MSG_MAX + 64];
	struct pq_build b;

	pq_build_init(&b, buf, sizeof(buf));
	pq_build_begin(&b, PqMsg_PasswordMessage);
	if (sasl_initial)
	{
		pq_build_string(&b, PROXY_SCRAM_MECHANISM);
		pq_build_int32(&b, (uint32_t) len);
		pq_build_bytes(&b, data, len);
	}
	else
		pq_build_bytes(&b, data, len);
	pq_build_end(&b);
	PGQ_ASSERT(!b.overflow);
	return proxy_conn_send(be->px, &be->conn, buf, b.len);
}

static bool
sasl_offers_scram(struct pq_reader *r)
{
	const char *mech;

	while ((mech = pq_read_string(r)) != NULL && mech[0] != '\0')
		if (strcmp(mech, PROXY_SCRAM_MECHANISM) == 0)
			return true;
	return false;
}

/* One AuthenticationRequest: 0 to go on, -1 when the backend failed. */
static int
backend_auth(struct proxy_backend *be, const uint8_t *body, size_t len)
{
	struct proxy_pool *pool = be->pool;
	struct pq_reader r;
	uint32_t	code;
	char		out[PROXY_SCRAM_MSG_MAX];
	char		nonce[64];

	pq_reader_init(&r, body, len);
	code = pq_read_int32(&r);
	switch (code)
	{
		case AUTH_REQ_OK:
			return 0;
		case AUTH_REQ_MD5:
			if (pool->md5_verifier[0] == '\0' || len != 8)
				break;
			proxy_md5_response(pool->md5_verifier, body + 4, out);
			return backend_send_password(be, out, strlen(out) + 1, false);
		case AUTH_REQ_SASL:
			if (!pool->has_client_key || !sasl_offers_scram(&r) ||
				(be->scram = calloc(1, sizeof(*be->scram))) == NULL ||
				proxy_scram_make_nonce(nonce, sizeof(nonce)) < 0)
				break;
			memcpy(be->scram->client_key, pool->client_key, PROXY_SCRAM_KEY_LEN);
			memcpy(be->scram->server_key, pool->server_key, PROXY_SCRAM_KEY_LEN);
			be->scram->check_server = true;
			proxy_scram_client_first(be->scram, nonce, out, sizeof(out));
			return backend_send_password(be, out, strlen(out), true);
		case AUTH_REQ_SASL_CONT:
		case AUTH_REQ_SASL_FIN:
			if (be->scram == NULL || len - 4 >= PROXY_SCRAM_MSG_MAX)
				break;
			memcpy(out, body + 4, len - 4);
			out[len - 4] = '\0';
			if (code == AUTH_REQ_SASL_FIN)
				return proxy_scram_client_check(be->scram, out) == 0 ? 0 : -1;
			{
				char		final[PROXY_SCRAM_MSG_MAX];

				if (proxy_scram_client_final(be->scram, out, final, sizeof(final)) < 0)
					break;
				return backend_send_password(be, final, strlen(final), false);
			}
		default:
			break;
	}
	pgq_warn("proxy: the local server asks for authentication %u for role \"%s\", "
			 "which the node cannot answer", code, pool->user);
	return -1;
}

static int
backend_login_message(struct proxy_backend *be, uint8_t type, const uint8_t *body, size_t len)
{
	switch (type)
	{
		case PqMsg_AuthenticationRequest:
			if (be->state != BE_LOGIN || backend_auth(be, body, len) < 0)
				break;
			return 0;
		case PqMsg_ParameterStatus:
			if (backend_set_param(be, body, len) < 0)
				break;
			return 0;
		case PqMsg_BackendKeyData:
			be->be_pid = pq_get_uint32(body);
			be->be_key = pq_get_uint32(body + 4);
			return 0;
		case PqMsg_ErrorResponse:
			backend_fail(be, body - PQ_HEADER_LEN, len + PQ_HEADER_LEN);
			return -1;
		case PqMsg_ReadyForQuery:
			backend_ready(be);
			return 0;
		default:				/* notices, CommandComplete of the reset */
			return 0;
	}
	backend_fail(be, NULL, 0);
	return -1;
}

static void
backend_relay_read(struct proxy_backend *be)
{
	struct proxy_client *cl = be->client;
	uint8_t    *data = be->px->scratch;
	size_t		n,
				off = 0;
	enum proxy_io_result r = proxy_conn_read(&be->conn, data, PROXY_READ_CHUNK, &n);

	if (r == PROXY_IO_AGAIN)
		return;
	if (r != PROXY_IO_OK)
	{
		proxy_backend_close(be);	/* closes the client after its last bytes */
		return;
	}
	if (be->px->has_hooks)
	{
		proxy_write_backend_bytes(be, data, n);
		return;
	}
	while (off < n)
	{
		size_t		used;
		enum pq_scan_result s = pq_scan_step(&be->scan, data + off, n - off, &used);

		off += used;
		if (s == PQ_SCAN_MORE)
			break;
		if (s != PQ_SCAN_MESSAGE)
		{
			pgq_warn("proxy: session %u: the local server sent an invalid message (type %d)",
					 cl->id, be->scan.hdr[0]);
			(void) proxy_conn_send(be->px, &cl->conn, data, off);
			proxy_backend_close(be);
			return;
		}
		PGQ_ASSERT(be->scan.type == PqMsg_ReadyForQuery);
		if (be->pending > 0)
			be->pending--;
		be->txn = (char) be->scan.peek[0];
	}
	if (proxy_conn_send(be->px, &cl->conn, data, n) < 0)
	{
		proxy_client_close(cl);
		return;
	}
	if (cl->conn.out_len > PROXY_OUT_HIGH)
		proxy_conn_read_stop(be->px, &be->conn);
}
