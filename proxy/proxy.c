/*
 * proxy.c
 *	  The client port of a node: listeners, the object lists per state, the
 *	  reaper that frees closed objects on the next loop iteration, TLS setup,
 *	  the address of the local PostgreSQL, and cancel requests.
 *
 * INTERFACE ROUTINES
 *	proxy_start, proxy_reload, proxy_stop - see proxy.h
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/err.h>

#include "common/pgq_assert.h"
#include "common/pgq_log.h"
#include "proxy/proxy.h"
#include "proxy/proxy_int.h"

/* Legal client transitions: from -> bitmask of to. */
#define BIT(s) (1u << (s))
static const uint32_t client_transitions[CL_NSTATES] = {
	[CL_STARTUP] = BIT(CL_STARTUP) | BIT(CL_TLS) | BIT(CL_AUTH_LOOKUP) | BIT(CL_AUTH) |
	BIT(CL_WAIT_BACKEND) | BIT(CL_CLOSING),
	[CL_TLS] = BIT(CL_STARTUP) | BIT(CL_CLOSING),
	[CL_AUTH_LOOKUP] = BIT(CL_AUTH) | BIT(CL_WAIT_BACKEND) | BIT(CL_CLOSING),
	[CL_AUTH] = BIT(CL_WAIT_BACKEND) | BIT(CL_CLOSING),
	[CL_WAIT_BACKEND] = BIT(CL_ACTIVE) | BIT(CL_CLOSING),
	[CL_ACTIVE] = BIT(CL_CLOSING),
	[CL_CLOSING] = 0,
};

static const uint32_t backend_transitions[BE_NSTATES] = {
	[BE_CONNECTING] = BIT(BE_LOGIN) | BIT(BE_CLOSING),
	[BE_LOGIN] = BIT(BE_IDLE) | BIT(BE_ACTIVE) | BIT(BE_CLOSING),
	[BE_IDLE] = BIT(BE_ACTIVE) | BIT(BE_CLOSING),
	[BE_ACTIVE] = BIT(BE_RESETTING) | BIT(BE_HELD) | BIT(BE_CLOSING),
	[BE_RESETTING] = BIT(BE_IDLE) | BIT(BE_ACTIVE) | BIT(BE_CLOSING),
	[BE_HELD] = BIT(BE_CLOSING),
	[BE_CLOSING] = 0,
};

static const char *const client_state_names[CL_NSTATES] = {
	"startup", "tls", "auth_lookup", "auth", "wait_backend", "active", "closing",
};

const char *
proxy_client_state_name(enum client_state st)
{
	PGQ_ASSERT(st < CL_NSTATES);
	return client_state_names[st];
}

void
proxy_client_set_state(struct proxy_client *cl, enum client_state st)
{
	PGQ_ASSERT(st < CL_NSTATES);
	PGQ_ASSERT(client_transitions[cl->state] & BIT(st));
	proxy_list_remove(&cl->link);
	proxy_list_append(&cl->px->clients[st], &cl->link);
	cl->state = st;
	PGQ_ASSERT(st != CL_ACTIVE || cl->be != NULL);
}

void
proxy_backend_set_state(struct proxy_backend *be, enum backend_state st)
{
	PGQ_ASSERT(st < BE_NSTATES);
	PGQ_ASSERT(backend_transitions[be->state] & BIT(st));
	proxy_list_remove(&be->link);
	proxy_list_append(&be->px->backends[st], &be->link);
	be->state = st;
	PGQ_ASSERT(st != BE_ACTIVE || be->client != NULL);
	PGQ_ASSERT(st != BE_HELD || (be->client == NULL && be->held != NULL));
}

/* Frees what closed in the previous iteration: nothing of theirs is live. */
static void
on_reap(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct proxy *px = w->data;

	while (!proxy_list_empty(&px->clients[CL_CLOSING]))
	{
		struct proxy_client *cl = proxy_container(px->clients[CL_CLOSING].next,
												  struct proxy_client, link);

		if (cl->conn.fd >= 0 && !px->stopping)
			break;				/* still flushing its last message */
		proxy_client_free(cl);
	}
	while (!proxy_list_empty(&px->backends[BE_CLOSING]))
		proxy_backend_free(proxy_container(px->backends[BE_CLOSING].next,
										   struct proxy_backend, link));
}

static void
on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct proxy_listener *l = w->data;

	for (int i = 0; i < PROXY_ACCEPT_BATCH; i++)
	{
		struct sockaddr_storage addr;
		socklen_t	alen = sizeof(addr);
		int			fd = accept4(l->fd, (struct sockaddr *) &addr, &alen,
								 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
		{
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
				errno != ECONNABORTED)
				pgq_warn("proxy: accept failed: %s", strerror(errno));
			return;
		}
		proxy_tcp_nodelay(fd, addr.ss_family);
		proxy_client_accept(l->px, fd, &addr);
	}
}

static int
listen_one(struct proxy *px, const struct addrinfo *ai, char *err, size_t errlen)
{
	int			one = 1;
	int			fd;
	struct proxy_listener *l;

	PGQ_ASSERT(px->n_listeners < PROXY_MAX_LISTENERS);
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);
	if (fd < 0)
		goto fail;
	(void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		(void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
		listen(fd, PROXY_LISTEN_BACKLOG) < 0)
		goto fail;
	l = &px->listeners[px->n_listeners++];
	l->fd = fd;
	l->px = px;
	ev_io_init(&l->io, on_accept, fd, EV_READ);
	l->io.data = l;
	ev_io_start(px->loop, &l->io);
	return 0;
fail:
	snprintf(err, errlen, "could not listen on %s:%d: %s", px->cfg->listen_addr,
			 px->cfg->listen_port, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int
start_listeners(struct proxy *px, char *err, size_t errlen)
{
	struct addrinfo hints = {0},
			   *res,
			   *ai;
	char		port[16];
	const char *host = px->cfg->listen_addr;
	int			rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(port, sizeof(port), "%d", px->cfg->listen_port);
	if (host[0] == '\0' || strcmp(host, "*") == 0)
		host = NULL;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
	{
		snprintf(err, errlen, "listen_addr \"%s\": %s", px->cfg->listen_addr,
				 gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && px->n_listeners < PROXY_MAX_LISTENERS; ai = ai->ai_next)
		if (listen_one(px, ai, err, errlen) < 0)
		{
			freeaddrinfo(res);
			return -1;
		}
	freeaddrinfo(res);
	return 0;
}

/* Where the local PostgreSQL listens, from postgres_conninfo. */
static int
resolve_backend(struct proxy *px, const struct pgq_config *cfg, char *err, size_t errlen)
{
	char	   *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(cfg->postgres_conninfo, &perr);
	const char *host = "/var/run/postgresql",
			   *port = "5432";
	int			rc = 0;

	if (opts == NULL)
	{
		snprintf(err, errlen, "postgres_conninfo: %s", perr ? perr : "out of memory");
		PQfreemem(perr);
		return -1;
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
	{
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
	}
	if (strchr(host, ',') != NULL || strchr(port, ',') != NULL)
	{
		snprintf(err, errlen, "postgres_conninfo: name exactly one local server");
		rc = -1;
	}
	else if (host[0] == '/')
	{
		struct sockaddr_un *un = (struct sockaddr_un *) &px->be_addr;

		memset(un, 0, sizeof(*un));
		un->sun_family = AF_UNIX;
		if ((size_t) snprintf(un->sun_path, sizeof(un->sun_path), "%s/.s.PGSQL.%s",
							  host, port) >= sizeof(un->sun_path))
		{
			snprintf(err, errlen, "postgres_conninfo: socket path too long");
			rc = -1;
		}
		px->be_addrlen = sizeof(*un);
	}
	else
	{
		struct addrinfo hints = {0},
				   *res;
		int			g;

		hints.ai_socktype = SOCK_STREAM;
		g = getaddrinfo(host, port, &hints, &res);
		if (g != 0)
		{
			snprintf(err, errlen, "postgres_conninfo: host \"%s\": %s", host, gai_strerror(g));
			rc = -1;
		}
		else
		{
			memcpy(&px->be_addr, res->ai_addr, res->ai_addrlen);
			px->be_addrlen = res->ai_addrlen;
			freeaddrinfo(res);
		}
	}
	PQconninfoFree(opts);
	return rc;
}

static SSL_CTX *
make_ssl_ctx(const struct pgq_config *cfg, char *err, size_t errlen)
{
	SSL_CTX    *ctx;

	if (cfg->tls_cert_file == NULL || cfg->tls_cert_file[0] == '\0')
		return NULL;
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
					 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert_file) != 1 ||
		SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key_file, SSL_FILETYPE_PEM) != 1 ||
		SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	return ctx;
fail:
	snprintf(err, errlen, "TLS setup with tls_cert_file \"%s\": %s", cfg->tls_cert_file,
			 ERR_reason_error_string(ERR_get_error()));
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

static void
proxy_free(struct proxy *px)
{
	for (int i = 0; i < px->n_listeners; i++)
	{
		ev_io_stop(px->loop, &px->listeners[i].io);
		close(px->listeners[i].fd);
	}
	if (px->authdb != NULL)
		proxy_authdb_free(px->authdb);
	if (px->hba != NULL)
		proxy_hba_free(px->hba);
	SSL_CTX_free(px->ssl_ctx);
	ev_prepare_stop(px->loop, &px->reaper);
	free(px);
}

struct proxy *
proxy_start(struct ev_loop *loop, const struct pgq_config *cfg, char *err, size_t errlen)
{
	struct proxy *px = calloc(1, sizeof(*px));

	PGQ_ASSERT(loop != NULL && cfg != NULL);
	if (px == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	px->loop = loop;
	px->cfg = cfg;
	px->next_client_id = 1;
	for (int i = 0; i < CL_NSTATES; i++)
		proxy_list_init(&px->clients[i]);
	for (int i = 0; i < BE_NSTATES; i++)
		proxy_list_init(&px->backends[i]);
	proxy_list_init(&px->pools);
	proxy_list_init(&px->cancels);
	ev_prepare_init(&px->reaper, on_reap);
	px->reaper.data = px;
	ev_prepare_start(loop, &px->reaper);
	if (resolve_backend(px, cfg, err, errlen) < 0 ||
		(cfg->tls_cert_file[0] != '\0' && (px->ssl_ctx = make_ssl_ctx(cfg, err, errlen)) == NULL) ||
		proxy_hba_load(px, err, errlen) < 0 ||
		(px->authdb = proxy_authdb_new(px)) == NULL ||
		start_listeners(px, err, errlen) < 0)
	{
		if (px->authdb == NULL && err[0] == '\0')
			snprintf(err, errlen, "out of memory");
		proxy_free(px);
		return NULL;
	}
	pgq_info("proxy: listening on %s:%d%s", cfg->listen_addr, cfg->listen_port,
			 px->ssl_ctx ? " (TLS available)" : "");
	return px;
}

void
proxy_reload(struct proxy *px, const struct pgq_config *cfg)
{
	char		err[PROXY_ERRMSG_LEN] = "";
	SSL_CTX    *ctx = NULL;

	PGQ_ASSERT(px != NULL && cfg != NULL);
	if (cfg->tls_cert_file[0] != '\0' && (ctx = make_ssl_ctx(cfg, err, sizeof(err))) == NULL)
		pgq_warn("proxy: reload keeps the old TLS certificate: %s", err);
	else
	{
		SSL_CTX_free(px->ssl_ctx);
		px->ssl_ctx = ctx;
	}
	px->cfg = cfg;
	proxy_authdb_clear_cache(px->authdb);
	if (proxy_hba_load(px, err, sizeof(err)) < 0)
		pgq_warn("proxy: reload keeps the old authentication rules: %s", err);
	pgq_info("proxy: configuration reloaded (max_client_conn %d, pool_size %d)",
			 cfg->max_client_conn, cfg->pool_size);
}

void
proxy_set_hooks(struct proxy *px, const struct proxy_hooks *hooks)
{
	struct timespec ts;

	PGQ_ASSERT(hooks->is_primary != NULL && hooks->commit_wait != NULL &&
			   hooks->classify != NULL);
	px->hooks = *hooks;
	px->has_hooks = true;
	clock_gettime(CLOCK_REALTIME, &ts);
	px->gid_epoch = (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
	px->gid_seq = 0;
}

void
proxy_stop(struct proxy *px)
{
	if (px == NULL)
		return;
	px->stopping = true;
	for (int i = 0; i < px->n_listeners; i++)
		ev_io_stop(px->loop, &px->listeners[i].io);
	for (int s = 0; s < CL_NSTATES; s++)
		while (s != CL_CLOSING && !proxy_list_empty(&px->clients[s]))
		{
			struct proxy_client *cl = proxy_container(px->clients[s].next,
													  struct proxy_client, link);

			proxy_client_error(cl, "FATAL", PQ_SQLSTATE_ADMIN_SHUTDOWN,
							   "terminating connection due to node shutdown");
		}
	while (!proxy_list_empty(&px->cancels))
	{
		struct proxy_cancel *c = proxy_container(px->cancels.next, struct proxy_cancel, link);

		ev_io_stop(px->loop, &c->wio);
		ev_timer_stop(px->loop, &c->timer);
		close(c->fd);
		proxy_list_remove(&c->link);
		free(c);
	}
	on_reap(px->loop, &px->reaper, 0);
	for (int s = 0; s < BE_NSTATES; s++)
		while (s != BE_CLOSING && !proxy_list_empty(&px->backends[s]))
			proxy_backend_close(proxy_container(px->backends[s].next,
												struct proxy_backend, link));
	on_reap(px->loop, &px->reaper, 0);
	proxy_pool_free_all(px);
	proxy_admin_free(px);
	proxy_free(px);
}

static void
cancel_done(struct proxy_cancel *c)
{
	struct proxy *px = c->px;

	ev_io_stop(px->loop, &c->wio);
	ev_timer_stop(px->loop, &c->timer);
	close(c->fd);
	proxy_list_remove(&c->link);
	px->n_cancels--;
	free(c);
}

static void
on_cancel_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct proxy_cancel *c = w->data;

	if (send(c->fd, c->packet, sizeof(c->packet), MSG_NOSIGNAL) != sizeof(c->packet))
		pgq_warn("proxy: could not send a cancel request: %s", strerror(errno));
	cancel_done(c);
}

static void
on_cancel_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	pgq_warn("proxy: cancel request to the local server timed out");
	cancel_done(w->data);
}

/* Send PostgreSQL's CancelRequest for its backend pid/key, fire and forget. */
static void
send_cancel(struct proxy *px, const struct proxy_backend *be)
{
	const struct sockaddr_storage *addr = be->fwd_addr ? be->fwd_addr : &px->be_addr;
	socklen_t	addrlen = be->fwd_addr ? be->fwd_addrlen : px->be_addrlen;
	uint32_t	pid = be->be_pid,
				key = be->be_key;
	struct proxy_cancel *c;
	int			fd;

	if (px->n_cancels >= PROXY_MAX_CANCELS)
	{
		pgq_warn("proxy: too many cancel requests in flight; dropped one");
		return;
	}
	fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || (connect(fd, (const struct sockaddr *) addr, addrlen) < 0 &&
				   errno != EINPROGRESS) || (c = calloc(1, sizeof(*c))) == NULL)
	{
		pgq_warn("proxy: could not connect for a cancel request: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	c->px = px;
	c->fd = fd;
	pq_put_uint32(c->packet, PQ_CANCEL_REQUEST_LEN);
	pq_put_uint32(c->packet + 4, PQ_CANCEL_REQUEST_CODE);
	pq_put_uint32(c->packet + 8, pid);
	pq_put_uint32(c->packet + 12, key);
	ev_io_init(&c->wio, on_cancel_writable, fd, EV_WRITE);
	c->wio.data = c;
	ev_timer_init(&c->timer, on_cancel_timeout, PROXY_CLOSE_FLUSH_MS / 1000.0, 0.);
	c->timer.data = c;
	ev_io_start(px->loop, &c->wio);
	ev_timer_start(px->loop, &c->timer);
	proxy_list_append(&px->cancels, &c->link);
	px->n_cancels++;
}

void
proxy_cancel_request(struct proxy *px, uint32_t pid, uint32_t key)
{
	struct proxy_list *l = &px->clients[CL_ACTIVE];

	for (struct proxy_list *n = l->next; n != l; n = n->next)
	{
		struct proxy_client *cl = proxy_container(n, struct proxy_client, link);

		if (cl->id != pid)
			continue;
		/* Compare the whole key; a wrong key is ignored silently, as PostgreSQL does. */
		if (cl->cancel_key == key && cl->be != NULL)
			send_cancel(px, cl->be);	/* the local server or the primary node */
		return;
	}
	pgq_debug("proxy: cancel request for unknown session %u", pid);
}
