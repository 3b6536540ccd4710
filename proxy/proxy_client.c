/*
 * proxy_client.c
 *	  A client session: startup packet, TLS, handing over to authentication,
 *	  waiting for a backend, relaying to it, timeouts and closing.
 *
 * Before a session is linked to a backend its input goes into cl->in (at
 * most PROXY_PRE_BUF bytes) and is parsed as whole messages; once linked,
 * bytes stream through the frame scanner straight to the backend socket.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/pgq_assert.h"
#include "common/pgq_log.h"
#include "proxy/proxy_int.h"

/* During authentication a client may send only password/SASL messages. */
static const struct pq_type_rule auth_rules[256] = {
	[PqMsg_PasswordMessage] = {PQ_AUTH_MESSAGE_LIMIT, 0, false},
	[PqMsg_Terminate] = {4, 4, false},
};

static void client_process_pre(struct proxy_client *cl);
static void client_relay_read(struct proxy_client *cl);
static int	client_relay_bytes(struct proxy_client *cl, const uint8_t *data, size_t n);
static void client_relay_leftover(struct proxy_client *cl);

static double
ms_to_s(int ms)
{
	return ms / 1000.0;
}

/* (Re)arm the session's one timer for the current state. */
static void
client_arm_timer(struct proxy_client *cl, int timeout_ms)
{
	struct ev_loop *loop = cl->px->loop;

	ev_timer_stop(loop, &cl->timer);
	if (timeout_ms <= 0)
		return;
	ev_timer_set(&cl->timer, ms_to_s(timeout_ms), ms_to_s(timeout_ms));
	ev_timer_start(loop, &cl->timer);
}

static void
on_client_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy_client *cl = w->data;
	const struct pgq_config *cfg = cl->px->cfg;

	switch (cl->state)
	{
		case CL_WAIT_BACKEND:
			proxy_client_error(cl, "FATAL", PQ_SQLSTATE_CANNOT_CONNECT,
							   "query_wait_timeout: no backend connection became free within %d ms",
							   cfg->query_wait_timeout_ms);
			break;
		case CL_ACTIVE:
			if (cfg->client_idle_timeout_ms <= 0)
				ev_timer_stop(loop, w);
			else if (ev_now(loop) - cl->last_active < ms_to_s(cfg->client_idle_timeout_ms) ||
					 cl->be->pending > 0)
				return;
			else
				proxy_client_error(cl, "FATAL", PQ_SQLSTATE_IDLE_SESSION_TIMEOUT,
								   "terminating connection due to client_idle_timeout (%d ms)",
								   cfg->client_idle_timeout_ms);
			break;
		case CL_CLOSING:
			proxy_conn_close(cl->px, &cl->conn);
			ev_timer_stop(loop, w);
			break;
		default:
			proxy_client_error(cl, "FATAL", PQ_SQLSTATE_PROTOCOL_VIOLATION,
							   "login did not complete within %d ms", cl->px->cfg->client_login_timeout_ms);
			break;
	}
}

static void
on_client_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct proxy_client *cl = w->data;

	if (cl->state == CL_ACTIVE)
		client_relay_read(cl);
	else
		client_process_pre(cl);
}

static void
on_client_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct proxy_client *cl = w->data;

	if (cl->state == CL_TLS)
	{
		client_process_pre(cl);
		return;
	}
	if (proxy_conn_flush(cl->px, &cl->conn) < 0)
	{
		proxy_client_close(cl);
		return;
	}
	if (cl->conn.out_len > 0)
		return;
	if (cl->state == CL_CLOSING)
		proxy_conn_close(cl->px, &cl->conn);
	else if (cl->state == CL_ACTIVE)
		proxy_backend_resume(cl->be);
}

void
proxy_client_accept(struct proxy *px, int fd, const struct sockaddr_storage *addr)
{
	struct proxy_client *cl = calloc(1, sizeof(*cl));

	if (cl == NULL || (cl->in = malloc(PROXY_PRE_BUF)) == NULL)
	{
		pgq_error("proxy: out of memory for a new client");
		free(cl);
		close(fd);
		return;
	}
	cl->px = px;
	cl->id = px->next_client_id;
	px->next_client_id = px->next_client_id >= INT32_MAX ? 1 : px->next_client_id + 1;
	if (RAND_bytes((uint8_t *) &cl->cancel_key, sizeof(cl->cancel_key)) != 1)
		cl->cancel_key = (uint32_t) random();
	cl->addr = *addr;
	cl->state = CL_STARTUP;
	proxy_list_init(&cl->wait_link);
	proxy_list_append(&px->clients[CL_STARTUP], &cl->link);
	px->n_clients++;
	proxy_conn_init(&cl->conn, px, fd, on_client_read, on_client_write, cl);
	ev_timer_init(&cl->timer, on_client_timer, 0., 0.);
	cl->timer.data = cl;
	/* Over the limit: refused after its startup packet, so the client shows why. */
	cl->over_limit = px->n_clients > px->cfg->max_client_conn;
	if (px->n_clients > px->cfg->max_client_conn + PROXY_OVER_LIMIT_SLOTS)
	{
		proxy_client_close(cl);
		return;
	}
	client_arm_timer(cl, cl->px->cfg->client_login_timeout_ms);
	proxy_conn_read_start(px, &cl->conn);
}

/* Send whole messages to the client; on failure the session closes. */
static int
client_send(struct proxy_client *cl, const uint8_t *data, size_t len)
{
	if (proxy_conn_send(cl->px, &cl->conn, data, len) < 0)
	{
		proxy_client_close(cl);
		return -1;
	}
	return 0;
}

void
proxy_client_error(struct proxy_client *cl, const char *severity,
				   const char *sqlstate, const char *fmt,...)
{
	char		msg[PROXY_ERRMSG_LEN];
	uint8_t		buf[PROXY_ERRMSG_LEN + 64];
	struct pq_build b;
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cl->state == CL_CLOSING)
		return;
	pq_build_init(&b, buf, sizeof(buf));
	pq_build_error(&b, PqMsg_ErrorResponse, severity, sqlstate, msg);
	PGQ_ASSERT(!b.overflow);
	pgq_info("proxy: session %u: %s %s: %s", cl->id, severity, sqlstate, msg);
	/* a TLS handshake in progress cannot carry a message */
	if (cl->state != CL_TLS && cl->conn.fd >= 0)
		(void) proxy_conn_send(cl->px, &cl->conn, buf, b.len);
	proxy_client_close(cl);
}

/* Detach from everything, then flush what is queued and close. */
void
proxy_client_close(struct proxy_client *cl)
{
	struct proxy *px = cl->px;

	if (cl->state == CL_CLOSING)
		return;
	proxy_forward_drop(cl);
	if (cl->be != NULL)
	{
		struct proxy_backend *be = cl->be;
		bool		reusable = cl->state == CL_ACTIVE && be->pending == 0 &&
			!be->unsynced && be->txn == PQ_TXN_IDLE &&
			pq_scan_at_boundary(&cl->scan) && pq_scan_at_boundary(&be->scan);

		cl->be = NULL;
		be->client = NULL;
		if (be->state == BE_ACTIVE && !proxy_write_hold_backend(cl, be))
			proxy_backend_release(be, reusable);
	}
	proxy_pool_client_gone(cl);
	if (cl->state == CL_AUTH_LOOKUP)
		proxy_authdb_forget(px->authdb, cl);
	proxy_client_set_state(cl, CL_CLOSING);
	proxy_conn_read_stop(px, &cl->conn);
	if (cl->conn.out_len == 0 || cl->conn.fd < 0)
		proxy_conn_close(px, &cl->conn);
	else
		client_arm_timer(cl, PROXY_CLOSE_FLUSH_MS);
}

void
proxy_client_free(struct proxy_client *cl)
{
	PGQ_ASSERT(cl->state == CL_CLOSING);
	PGQ_ASSERT(cl->be == NULL);
	proxy_conn_close(cl->px, &cl->conn);
	ev_timer_stop(cl->px->loop, &cl->timer);
	proxy_list_remove(&cl->link);
	if (cl->auth != NULL)
		proxy_auth_free(cl->auth);
	cl->px->n_clients--;
	proxy_write_client_free(cl);
	free(cl->fwd_err);
	proxy_admin_client_free(cl);
	free(cl->in);
	free(cl->startup);
	free(cl);
}

/* The backend startup packet: the client's parameters, minus _pq_ options. */
static int
client_build_startup(struct proxy_client *cl, const uint8_t *pkt, size_t len,
					 const struct pq_startup *st)
{
	size_t		cap = len + strlen(st->database) + 32;
	struct pq_build b;
	size_t		pos = 0;
	const char *name,
			   *value;
	bool		has_db = false;

	cl->startup = malloc(cap);
	if (cl->startup == NULL)
		return -1;
	pq_build_init(&b, cl->startup, cap);
	pq_build_begin(&b, 0);
	pq_build_int32(&b, PQ_PROTOCOL_LATEST);
	while (pq_startup_next(pkt, len, &pos, &name, &value))
	{
		if (strncmp(name, "_pq_.", 5) == 0)
			continue;
		if (strcmp(name, "pgquorum.forwarded") == 0)
		{
			cl->forwarded_in = true;	/* never forwarded again */
			continue;
		}
		has_db |= strcmp(name, "database") == 0 && value[0] != '\0';
		if (strcmp(name, "database") == 0 && value[0] == '\0')
			continue;
		pq_build_string(&b, name);
		pq_build_string(&b, value);
	}
	if (!has_db)
	{
		pq_build_string(&b, "database");
		pq_build_string(&b, st->database);
	}
	pq_build_byte(&b, 0);
	pq_build_end(&b);
	PGQ_ASSERT(!b.overflow);
	cl->startup_len = (uint32_t) b.len;
	return 0;
}

/* NegotiateProtocolVersion: we speak 3.0 and no protocol options. */
static int
client_negotiate(struct proxy_client *cl, const struct pq_startup *st)
{
	uint8_t		buf[PQ_SMALL_MESSAGE_LIMIT];
	struct pq_build b;

	if (PQ_PROTOCOL_MINOR(st->version) == 0 && st->n_protocol_options == 0)
		return 0;
	pq_build_init(&b, buf, sizeof(buf));
	pq_build_begin(&b, PqMsg_NegotiateProtocolVersion);
	pq_build_int32(&b, PQ_PROTOCOL_LATEST);
	pq_build_int32(&b, (uint32_t) st->n_protocol_options);
	for (int i = 0; i < st->n_protocol_options; i++)
		pq_build_string(&b, st->protocol_options[i]);
	pq_build_end(&b);
	PGQ_ASSERT(!b.overflow);	/* the startup packet was smaller */
	return client_send(cl, buf, b.len);
}

static void
client_start_tls(struct proxy_client *cl)
{
	struct proxy *px = cl->px;
	static const uint8_t yes = 'S';

	if (client_send(cl, &yes, 1) < 0)
		return;
	cl->conn.ssl = SSL_new(px->ssl_ctx);
	if (cl->conn.ssl == NULL || SSL_set_fd(cl->conn.ssl, cl->conn.fd) != 1)
	{
		proxy_client_close(cl);
		return;
	}
	SSL_set_accept_state(cl->conn.ssl);
	proxy_client_set_state(cl, CL_TLS);
}

/* One whole startup packet: returns -1 when the session closed. */
static int
client_startup(struct proxy_client *cl, const uint8_t *pkt, size_t len, bool more)
{
	struct pq_startup st;
	char		err[PROXY_ERRMSG_LEN];
	static const uint8_t no = 'N';

	if (pq_startup_parse(pkt, len, &st, err, sizeof(err)) < 0)
	{
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_PROTOCOL_VIOLATION, "%s", err);
		return -1;
	}
	switch (st.kind)
	{
		case PQ_STARTUP_SSL:
			if (cl->px->ssl_ctx != NULL && !cl->tls_done)
			{
				if (more)		/* plaintext after SSLRequest: buffer stuffing */
					break;
				client_start_tls(cl);
				return cl->state == CL_TLS ? 0 : -1;
			}
			return client_send(cl, &no, 1);
		case PQ_STARTUP_GSSENC:
			return client_send(cl, &no, 1);
		case PQ_STARTUP_CANCEL:
			proxy_cancel_request(cl->px, st.cancel_pid, st.cancel_key);
			proxy_client_close(cl);
			return -1;
		case PQ_STARTUP_V3:
			if (cl->over_limit)
			{
				proxy_client_error(cl, "FATAL", PQ_SQLSTATE_TOO_MANY_CONNECTIONS,
								   "no more connections allowed (max_client_conn %d)",
								   cl->px->cfg->max_client_conn);
				return -1;
			}
			if (st.replication)
			{
				proxy_client_error(cl, "FATAL", PQ_SQLSTATE_FEATURE_NOT_SUPPORTED,
								   "replication connections are not supported through a pgquorum node");
				return -1;
			}
			if (client_negotiate(cl, &st) < 0)
				return -1;
			if (client_build_startup(cl, pkt, len, &st) < 0)
			{
				proxy_client_error(cl, "FATAL", PQ_SQLSTATE_INTERNAL_ERROR, "out of memory");
				return -1;
			}
			pgq_debug("proxy: session %u: user \"%s\" database \"%s\"", cl->id,
					  st.user, st.database);
			proxy_auth_start(cl, st.user, st.database);
			return cl->state == CL_CLOSING ? -1 : 0;
	}
	proxy_client_error(cl, "FATAL", PQ_SQLSTATE_PROTOCOL_VIOLATION,
					   "received unencrypted data after SSL request");
	return -1;
}

static void
client_tls_handshake(struct proxy_client *cl)
{
	int			rc = SSL_do_handshake(cl->conn.ssl);

	if (rc == 1)
	{
		cl->tls_done = true;
		ev_io_stop(cl->px->loop, &cl->conn.wio);
		proxy_client_set_state(cl, CL_STARTUP);
		return;
	}
	switch (SSL_get_error(cl->conn.ssl, rc))
	{
		case SSL_ERROR_WANT_READ:
			ev_io_stop(cl->px->loop, &cl->conn.wio);
			return;
		case SSL_ERROR_WANT_WRITE:
			ev_io_start(cl->px->loop, &cl->conn.wio);
			return;
		default:
			pgq_info("proxy: session %u: TLS handshake failed", cl->id);
			proxy_client_close(cl);
	}
}

/* Consume whole pre-relay messages from cl->in; returns bytes used or -1. */
static long
client_take_message(struct proxy_client *cl)
{
	const uint8_t *p = cl->in;
	uint32_t	len;

	if (cl->state == CL_STARTUP)
	{
		if (cl->in_len < 4)
			return 0;
		len = pq_get_uint32(p);
		if (!pq_startup_len_ok(len))
		{
			proxy_client_error(cl, "FATAL", PQ_SQLSTATE_PROTOCOL_VIOLATION,
							   "invalid length of startup packet");
			return -1;
		}
		if (cl->in_len < len)
			return 0;
		return client_startup(cl, p, len, cl->in_len > len) < 0 ? -1 : (long) len;
	}
	PGQ_ASSERT(cl->state == CL_AUTH);
	if (cl->in_len < PQ_HEADER_LEN)
		return 0;
	len = pq_get_uint32(p + 1);
	if (pq_header_check(auth_rules, p[0], len) != 0)
	{
		if (p[0] == PqMsg_Terminate)
			proxy_client_close(cl);
		else
			proxy_client_error(cl, "FATAL", PQ_SQLSTATE_PROTOCOL_VIOLATION,
							   "expected password response, got message type %d", p[0]);
		return -1;
	}
	if (cl->in_len < len + 1)
		return 0;
	if (p[0] == PqMsg_Terminate)
	{
		proxy_client_close(cl);
		return -1;
	}
	proxy_auth_message(cl, p + PQ_HEADER_LEN, len - 4);
	return cl->state == CL_CLOSING ? -1 : (long) len + 1;
}

static bool
client_parses_input(const struct proxy_client *cl)
{
	return cl->state == CL_STARTUP || cl->state == CL_AUTH;
}

/* Read what fits into cl->in and parse whatever is whole. */
static void
client_process_pre(struct proxy_client *cl)
{
	size_t		n;
	enum proxy_io_result r;

	if (cl->state == CL_TLS)
	{
		client_tls_handshake(cl);
		if (cl->state != CL_STARTUP)
			return;
	}
	if (cl->in_len >= PROXY_PRE_BUF)
	{
		/* full: wait until the state moves on */
		proxy_conn_read_stop(cl->px, &cl->conn);
		return;
	}
	r = proxy_conn_read(&cl->conn, cl->in + cl->in_len, PROXY_PRE_BUF - cl->in_len, &n);
	if (r == PROXY_IO_AGAIN)
		return;
	if (r != PROXY_IO_OK)
	{
		proxy_client_close(cl);
		return;
	}
	cl->in_len += (uint32_t) n;
	cl->parsing = true;
	while (client_parses_input(cl) && cl->in_len > 0)
	{
		long		used = client_take_message(cl);

		if (used <= 0)
			break;
		memmove(cl->in, cl->in + used, cl->in_len - (size_t) used);
		cl->in_len -= (uint32_t) used;
	}
	cl->parsing = false;
	client_relay_leftover(cl);
}

void
proxy_client_authenticated(struct proxy_client *cl)
{
	uint8_t		buf[16];
	struct pq_build b;
	size_t		pos = 0;
	const char *name,
			   *value,
			   *user = NULL,
			   *database = NULL;

	PGQ_ASSERT(cl->startup != NULL);
	pq_build_init(&b, buf, sizeof(buf));
	pq_build_begin(&b, PqMsg_AuthenticationRequest);
	pq_build_int32(&b, AUTH_REQ_OK);
	pq_build_end(&b);
	if (client_send(cl, buf, b.len) < 0)
		return;
	cl->auth_ok_sent = true;
	while (pq_startup_next(cl->startup, cl->startup_len, &pos, &name, &value))
	{
		if (strcmp(name, "user") == 0)
			user = value;
		else if (strcmp(name, "database") == 0)
			database = value;
	}
	PGQ_ASSERT(user != NULL && database != NULL);
	cl->pool = proxy_pool_get(cl->px, database, user);
	if (cl->pool == NULL)
	{
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_TOO_MANY_CONNECTIONS,
						   "too many distinct (database, user) pools (%d)", PROXY_MAX_POOLS);
		return;
	}
	proxy_client_set_state(cl, CL_WAIT_BACKEND);
	client_arm_timer(cl, cl->px->cfg->query_wait_timeout_ms);
	proxy_pool_request(cl->pool, cl);
}

void
proxy_client_backend_failed(struct proxy_client *cl, const uint8_t *err, size_t errlen)
{
	if (err != NULL && cl->conn.fd >= 0)
		(void) proxy_conn_send(cl->px, &cl->conn, err, errlen);
	if (err != NULL)
		proxy_client_close(cl);
	else
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_CANNOT_CONNECT,
						   "could not connect to the local PostgreSQL server");
}

/* Now linked: what the client sent early goes to the backend. */
static void
client_relay_leftover(struct proxy_client *cl)
{
	if (cl->state != CL_ACTIVE)
		return;
	if (cl->in_len > 0 && client_relay_bytes(cl, cl->in, cl->in_len) < 0)
		return;
	free(cl->in);
	cl->in = NULL;
	cl->in_len = 0;
	free(cl->startup);
	cl->startup = NULL;
	proxy_conn_read_start(cl->px, &cl->conn);
}

void
proxy_client_link(struct proxy_client *cl, struct proxy_backend *be)
{
	size_t		cap = be->params_len + 64;
	uint8_t    *buf = malloc(cap);
	struct pq_build b;

	PGQ_ASSERT(cl->state == CL_WAIT_BACKEND && be->client == cl);
	cl->be = cl->home = be;
	proxy_client_set_state(cl, CL_ACTIVE);
	if (buf == NULL)
	{
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_INTERNAL_ERROR, "out of memory");
		return;
	}
	pq_build_init(&b, buf, cap);
	pq_build_bytes(&b, be->params, be->params_len);
	pq_build_begin(&b, PqMsg_BackendKeyData);
	pq_build_int32(&b, cl->id);
	pq_build_int32(&b, cl->cancel_key);
	pq_build_end(&b);
	pq_build_begin(&b, PqMsg_ReadyForQuery);
	pq_build_byte(&b, PQ_TXN_IDLE);
	pq_build_end(&b);
	PGQ_ASSERT(!b.overflow);
	pq_scan_init(&cl->scan, pq_frontend_rules);
	cl->last_active = ev_now(cl->px->loop);
	client_arm_timer(cl, cl->px->cfg->client_idle_timeout_ms);
	(void) client_send(cl, buf, b.len);
	free(buf);
	if (!cl->parsing)
		client_relay_leftover(cl);
}

static void
client_relay_read(struct proxy_client *cl)
{
	uint8_t    *buf = cl->px->scratch;

	for (int i = 0; i < PROXY_SSL_READ_LOOPS; i++)
	{
		size_t		n;
		enum proxy_io_result r = proxy_conn_read(&cl->conn, buf, PROXY_READ_CHUNK, &n);

		if (r == PROXY_IO_AGAIN)
			return;
		if (r != PROXY_IO_OK)
		{
			proxy_client_close(cl);
			return;
		}
		if (client_relay_bytes(cl, buf, n) < 0 || !cl->conn.reading ||
			cl->conn.ssl == NULL || SSL_pending(cl->conn.ssl) == 0)
			return;
	}
}

/* Forward data[0..n) to the backend; -1 when the session ended. */
static int
client_relay_bytes(struct proxy_client *cl, const uint8_t *data, size_t n)
{
	struct proxy_backend *be = cl->be;
	size_t		off = 0,
				fwd_end = n,
				last_sync = 0;
	bool		synced = false;
	enum pq_scan_result r = PQ_SCAN_MORE;

	cl->last_active = ev_now(cl->px->loop);
	if (cl->px->has_hooks)
		return proxy_write_client_bytes(cl, data, n);
	while (off < n)
	{
		size_t		used;

		r = pq_scan_step(&cl->scan, data + off, n - off, &used);
		off += used;
		if (r != PQ_SCAN_MESSAGE)
			break;
		if (cl->scan.type == PqMsg_Terminate)
		{
			/* fixed length; if its header began in an earlier read, part went out */
			fwd_end = off >= 5 ? off - 5 : 0;
			if (off < 5)
				be->unsynced = true;
			break;
		}
		be->pending++;
		last_sync = off;
		synced = true;
	}
	if (r == PQ_SCAN_BAD_TYPE || r == PQ_SCAN_BAD_LENGTH)
		fwd_end = off;
	if (fwd_end > 0 && proxy_conn_send(cl->px, &be->conn, data, fwd_end) < 0)
	{
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_CONNECTION_FAILURE,
						   "lost the connection to the local PostgreSQL server");
		return -1;
	}
	if (fwd_end > last_sync)
		be->unsynced = true;
	else if (synced)
		be->unsynced = false;
	if (r == PQ_SCAN_BAD_TYPE || r == PQ_SCAN_BAD_LENGTH)
	{
		be->unsynced = true;	/* the backend may hold a partial header */
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_PROTOCOL_VIOLATION,
						   r == PQ_SCAN_BAD_TYPE ? "invalid frontend message type %d" :
						   "invalid message length for message type %d", cl->scan.hdr[0]);
		return -1;
	}
	if (fwd_end < n || (r == PQ_SCAN_MESSAGE && cl->scan.type == PqMsg_Terminate))
	{
		proxy_client_close(cl);
		return -1;
	}
	if (be->conn.out_len > PROXY_OUT_HIGH)
		proxy_conn_read_stop(cl->px, &cl->conn);
	return 0;
}

void
proxy_client_resume(struct proxy_client *cl)
{
	if (cl->state == CL_ACTIVE)
		proxy_conn_read_start(cl->px, &cl->conn);
}
