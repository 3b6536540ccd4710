/*
 * proxy_auth.c
 *	  Client authentication against the local server's own roles.
 *
 * The rule list (hba) picks a method by address, database and user; the
 * first matching rule wins.  It is read from the file auth_hba_file names
 * (docs/configuration.md); when that key is empty the built-in
 * PROXY_HBA_DEFAULT applies.  Line format, as pg_hba.conf:
 *
 *	host	DATABASE	USER	ADDRESS/BITS|all	trust|scram-sha-256|md5|reject
 *
 * "md5" means what it means in PostgreSQL: md5 for an md5-stored role,
 * SCRAM for a SCRAM-stored one.  Verifiers come from the local server
 * through one non-blocking libpq connection as the configured service
 * role (postgres_conninfo), as PgBouncer's auth_query does; lookups queue
 * FIFO on it, one query in flight.
 *
 * Verifier cache: a verifier read from the server is reused for
 * auth_cache_ttl_ms by later logins of the same role (at most
 * PROXY_VCACHE_SIZE roles, the least recently used replaced first), so a
 * burst of logins does not queue one lookup each.  A login that fails with
 * a reused verifier drops it, so after ALTER ROLE ... PASSWORD the next
 * login reads the new one; roles without a verifier are never cached.
 */
#include "config.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/pgq_assert.h"
#include "common/pgq_log.h"
#include "proxy/proxy_int.h"

#define PROXY_HBA_MAX_RULES	256
#define PROXY_AUTH_NAME_MAX	256	/* user and database names, with NUL */
#define PROXY_HBA_NAME_LEN	64
#define PROXY_VCACHE_SIZE	128	/* roles whose verifier is kept */
#define PROXY_HBA_DEFAULT \
	"host all all 127.0.0.1/32 trust\n" \
	"host all all ::1/128 trust\n" \
	"host all all all scram-sha-256\n"

enum hba_method
{
	HBA_TRUST,
	HBA_SCRAM,
	HBA_MD5,
	HBA_REJECT,
};

static const struct
{
	const char *name;
	enum hba_method method;
}			hba_methods[] = {
	{"trust", HBA_TRUST},
	{"scram-sha-256", HBA_SCRAM},
	{"md5", HBA_MD5},
	{"reject", HBA_REJECT},
};

struct hba_rule
{
	char		database[PROXY_HBA_NAME_LEN];	/* "all" matches every one */
	char		user[PROXY_HBA_NAME_LEN];
	bool		any_addr;
	int			family;
	uint8_t		addr[16];
	int			bits;
	enum hba_method method;
};

struct proxy_hba
{
	int			n_rules;
	struct hba_rule rules[PROXY_HBA_MAX_RULES];
};

enum auth_step
{
	AUTH_MD5,					/* sent AuthenticationMD5Password */
	AUTH_SASL_INITIAL,			/* sent AuthenticationSASL */
	AUTH_SASL_FINAL,			/* sent AuthenticationSASLContinue */
};

struct proxy_auth
{
	enum hba_method method;
	enum auth_step step;
	char		user[PROXY_AUTH_NAME_MAX];
	char		database[PROXY_AUTH_NAME_MAX];
	char	   *verifier;		/* owned; NULL: role unknown or no password */
	bool		cached;			/* verifier came from the cache */
	uint8_t		md5_salt[4];
	struct proxy_scram_server scram;
	struct proxy_list lookup_link;	/* on authdb->queue */
	struct proxy_client *cl;
};

/* One role's verifier as the server last gave it. */
struct vcache_entry
{
	char	   *verifier;		/* owned; NULL: free slot */
	ev_tstamp	fetched;		/* when it was read from the server */
	ev_tstamp	used;			/* last login that used it, for eviction */
	char		user[PROXY_AUTH_NAME_MAX];
};

struct proxy_authdb
{
	struct proxy *px;
	PGconn	   *conn;			/* owned; NULL when not connected */
	bool		connecting;
	bool		busy;			/* a lookup query in flight */
	ev_io		io;
	ev_timer	timer;			/* bounds a connect or a lookup */
	int			io_fd;
	int			io_events;
	struct proxy_list queue;	/* struct proxy_auth waiting, FIFO */
	struct vcache_entry cache[PROXY_VCACHE_SIZE];
};

static void authdb_enqueue(struct proxy_authdb *db, struct proxy_auth *a);
static void auth_challenge(struct proxy_client *cl);

static void
vcache_clear_entry(struct vcache_entry *e)
{
	if (e->verifier == NULL)
		return;
	OPENSSL_cleanse(e->verifier, strlen(e->verifier));
	free(e->verifier);
	e->verifier = NULL;
	e->user[0] = '\0';
}

static struct vcache_entry *
vcache_find(struct proxy_authdb *db, const char *user)
{
	for (int i = 0; i < PROXY_VCACHE_SIZE; i++)
		if (db->cache[i].verifier != NULL && strcmp(db->cache[i].user, user) == 0)
			return &db->cache[i];
	return NULL;
}

/* A copy of user's cached verifier while it is fresh, else NULL. */
static char *
vcache_get(struct proxy_authdb *db, const char *user)
{
	struct vcache_entry *e = vcache_find(db, user);
	ev_tstamp	now = ev_now(db->px->loop);
	int			ttl_ms = db->px->cfg->auth_cache_ttl_ms;

	if (e == NULL)
		return NULL;
	if (ttl_ms <= 0 || now - e->fetched >= ttl_ms / 1000.0)
	{
		vcache_clear_entry(e);
		return NULL;
	}
	e->used = now;
	return strdup(e->verifier);
}

static void
vcache_put(struct proxy_authdb *db, const char *user, const char *verifier)
{
	struct vcache_entry *e = vcache_find(db, user);
	char	   *copy;

	if (db->px->cfg->auth_cache_ttl_ms <= 0 || strlen(user) >= PROXY_AUTH_NAME_MAX ||
		(copy = strdup(verifier)) == NULL)
		return;
	for (int i = 0; e == NULL && i < PROXY_VCACHE_SIZE; i++)
		if (db->cache[i].verifier == NULL)
			e = &db->cache[i];
	if (e == NULL)
	{
		/* full: replace the least recently used */
		e = &db->cache[0];
		for (int i = 1; i < PROXY_VCACHE_SIZE; i++)
			if (db->cache[i].used < e->used)
				e = &db->cache[i];
	}
	vcache_clear_entry(e);
	strcpy(e->user, user);
	e->verifier = copy;
	e->fetched = e->used = ev_now(db->px->loop);
}

static void
vcache_drop(struct proxy_authdb *db, const char *user)
{
	struct vcache_entry *e = vcache_find(db, user);

	if (e != NULL)
		vcache_clear_entry(e);
}

void
proxy_authdb_clear_cache(struct proxy_authdb *db)
{
	for (int i = 0; i < PROXY_VCACHE_SIZE; i++)
		vcache_clear_entry(&db->cache[i]);
}

static int
hba_parse_addr(struct hba_rule *r, const char *text)
{
	char		buf[64];
	char	   *slash;

	if (strcmp(text, "all") == 0)
	{
		r->any_addr = true;
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", text);
	slash = strchr(buf, '/');
	if (slash == NULL)
		return -1;
	*slash = '\0';
	r->bits = atoi(slash + 1);
	r->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(r->family, buf, r->addr) != 1 || r->bits < 0 ||
		r->bits > (r->family == AF_INET ? 32 : 128))
		return -1;
	return 0;
}

static int
hba_parse_line(struct proxy_hba *hba, char *line, char *err, size_t errlen, int lineno)
{
	char	   *tok[6];
	int			n = 0;
	struct hba_rule *r;

	for (char *save = NULL, *t = strtok_r(line, " \t\r\n", &save); t && n < 6;
		 t = strtok_r(NULL, " \t\r\n", &save))
		tok[n++] = t;
	if (n == 0 || tok[0][0] == '#')
		return 0;
	if (n != 5 || strcmp(tok[0], "host") != 0 || hba->n_rules >= PROXY_HBA_MAX_RULES ||
		strlen(tok[1]) >= PROXY_HBA_NAME_LEN || strlen(tok[2]) >= PROXY_HBA_NAME_LEN)
		goto bad;
	r = &hba->rules[hba->n_rules];
	memset(r, 0, sizeof(*r));
	strcpy(r->database, tok[1]);
	strcpy(r->user, tok[2]);
	if (hba_parse_addr(r, tok[3]) < 0)
		goto bad;
	for (size_t i = 0; i < PGQ_LENGTHOF(hba_methods); i++)
		if (strcmp(tok[4], hba_methods[i].name) == 0)
		{
			r->method = hba_methods[i].method;
			hba->n_rules++;
			return 0;
		}
bad:
	snprintf(err, errlen, "%s line %d: expected \"host DATABASE USER ADDRESS/BITS|all "
			 "trust|scram-sha-256|md5|reject\"", "auth_hba_file", lineno);
	return -1;
}

static int
hba_parse(struct proxy_hba *hba, FILE *f, char *err, size_t errlen)
{
	char		line[1024];
	int			lineno = 0;

	while (fgets(line, sizeof(line), f) != NULL)
		if (hba_parse_line(hba, line, err, errlen, ++lineno) < 0)
			return -1;
	return 0;
}

int
proxy_hba_load(struct proxy *px, char *err, size_t errlen)
{
	struct proxy_hba *hba = calloc(1, sizeof(*hba));
	char		path[PATH_MAX];
	FILE	   *f;
	int			rc;

	if (hba == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s", px->cfg->auth_hba_file);
	if (path[0] == '\0')
		f = fmemopen((void *) PROXY_HBA_DEFAULT, strlen(PROXY_HBA_DEFAULT), "r");
	else if ((f = fopen(path, "r")) == NULL)
	{
		snprintf(err, errlen, "auth_hba_file \"%s\": %s", path, strerror(errno));
		free(hba);
		return -1;
	}
	else
		pgq_info("proxy: authentication rules from %s", path);
	rc = f ? hba_parse(hba, f, err, errlen) : -1;
	if (f != NULL)
		fclose(f);
	if (rc < 0)
	{
		free(hba);
		return -1;
	}
	proxy_hba_free(px->hba);
	px->hba = hba;
	return 0;
}

void
proxy_hba_free(struct proxy_hba *hba)
{
	free(hba);
}

static bool
hba_addr_match(const struct hba_rule *r, const struct sockaddr_storage *ss)
{
	const uint8_t *a;
	int			bits = r->bits;

	if (r->any_addr)
		return true;
	if (ss->ss_family != r->family)
		return false;
	a = r->family == AF_INET ? (const uint8_t *) &((const struct sockaddr_in *) ss)->sin_addr :
		(const uint8_t *) &((const struct sockaddr_in6 *) ss)->sin6_addr;
	for (int i = 0; bits > 0; i++, bits -= 8)
	{
		uint8_t		mask = bits >= 8 ? 0xff : (uint8_t) (0xff << (8 - bits));

		if ((a[i] & mask) != (r->addr[i] & mask))
			return false;
	}
	return true;
}

static const struct hba_rule *
hba_match(const struct proxy_hba *hba, const struct sockaddr_storage *ss,
		  const char *user, const char *database)
{
	for (int i = 0; i < hba->n_rules; i++)
	{
		const struct hba_rule *r = &hba->rules[i];

		if ((strcmp(r->database, "all") == 0 || strcmp(r->database, database) == 0) &&
			(strcmp(r->user, "all") == 0 || strcmp(r->user, user) == 0) &&
			hba_addr_match(r, ss))
			return r;
	}
	return NULL;
}

static const char *
client_host(const struct proxy_client *cl, char *buf, size_t len)
{
	const struct sockaddr_storage *ss = &cl->addr;
	const void *a = ss->ss_family == AF_INET6 ?
		(const void *) &((const struct sockaddr_in6 *) ss)->sin6_addr :
		(const void *) &((const struct sockaddr_in *) ss)->sin_addr;

	if (inet_ntop(ss->ss_family, a, buf, (socklen_t) len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

/* Send one AuthenticationRequest with an optional payload. */
static int
auth_send(struct proxy_client *cl, uint32_t code, const void *data, size_t len)
{
	uint8_t		buf[PROXY_SCRAM_MSG_MAX + 16];
	struct pq_build b;

	pq_build_init(&b, buf, sizeof(buf));
	pq_build_begin(&b, PqMsg_AuthenticationRequest);
	pq_build_int32(&b, code);
	pq_build_bytes(&b, data, len);
	pq_build_end(&b);
	PGQ_ASSERT(!b.overflow);
	if (proxy_conn_send(cl->px, &cl->conn, buf, b.len) < 0)
	{
		proxy_client_close(cl);
		return -1;
	}
	return 0;
}

static void
auth_failed(struct proxy_client *cl)
{
	if (cl->auth->cached)
	{
		/* maybe the password changed: the next login reads the server */
		vcache_drop(cl->px->authdb, cl->auth->user);
		pgq_info("proxy: session %u: login failed with the cached verifier of role \"%s\"; "
				 "dropped it", cl->id, cl->auth->user);
	}
	proxy_client_error(cl, "FATAL", PQ_SQLSTATE_INVALID_PASSWORD,
					   "password authentication failed for user \"%s\"", cl->auth->user);
}

/* The verifier arrived (or the role has none): challenge the client. */
static void
auth_challenge(struct proxy_client *cl)
{
	struct proxy_auth *a = cl->auth;
	bool		md5_stored = a->verifier && proxy_md5_is_verifier(a->verifier);
	static const char mechs[] = PROXY_SCRAM_MECHANISM "\0";

	proxy_client_set_state(cl, CL_AUTH);
	if (a->method == HBA_MD5 && md5_stored)
	{
		a->step = AUTH_MD5;
		if (RAND_bytes(a->md5_salt, sizeof(a->md5_salt)) != 1)
		{
			auth_failed(cl);
			return;
		}
		(void) auth_send(cl, AUTH_REQ_MD5, a->md5_salt, sizeof(a->md5_salt));
		return;
	}
	/* SCRAM; an unknown role or wrong kind of verifier runs it against a fake one */
	if (a->verifier == NULL || !proxy_scram_parse_verifier(a->verifier, &a->scram.v))
		proxy_scram_fake_verifier(a->user, &a->scram.v);
	a->step = AUTH_SASL_INITIAL;
	(void) auth_send(cl, AUTH_REQ_SASL, mechs, sizeof(mechs));
}

static void
auth_succeeded(struct proxy_client *cl, const uint8_t *client_key)
{
	struct proxy_auth *a = cl->auth;
	struct proxy_pool *pool = proxy_pool_get(cl->px, a->database, a->user);

	if (pool != NULL && client_key != NULL)
	{
		memcpy(pool->client_key, client_key, PROXY_SCRAM_KEY_LEN);
		memcpy(pool->server_key, a->scram.v.server_key, PROXY_SCRAM_KEY_LEN);
		pool->has_client_key = true;
	}
	else if (pool != NULL && a->verifier != NULL && proxy_md5_is_verifier(a->verifier))
		strcpy(pool->md5_verifier, a->verifier);
	pgq_info("proxy: session %u: user \"%s\" authenticated (%s%s)", cl->id, a->user,
			 client_key ? "scram-sha-256" : "md5", a->cached ? ", cached verifier" : "");
	proxy_auth_free(a);
	cl->auth = NULL;
	proxy_client_authenticated(cl);
}

void
proxy_auth_start(struct proxy_client *cl, const char *user, const char *database)
{
	char		host[64];
	const struct hba_rule *r = hba_match(cl->px->hba, &cl->addr, user, database);
	struct proxy_auth *a;

	if (r == NULL || r->method == HBA_REJECT)
	{
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_INVALID_AUTH_SPEC,
						   "%s for host \"%s\", user \"%s\", database \"%s\"",
						   r ? "pgquorum hba rejects connection" : "no pgquorum hba entry",
						   client_host(cl, host, sizeof(host)), user, database);
		return;
	}
	if (r->method == HBA_TRUST)
	{
		proxy_client_authenticated(cl);
		return;
	}
	if (strlen(user) >= PROXY_AUTH_NAME_MAX || strlen(database) >= PROXY_AUTH_NAME_MAX ||
		(a = calloc(1, sizeof(*a))) == NULL)
	{
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_INVALID_AUTH_SPEC, "user or database name too long");
		return;
	}
	a->method = r->method;
	strcpy(a->user, user);
	strcpy(a->database, database);
	a->cl = cl;
	proxy_list_init(&a->lookup_link);
	cl->auth = a;
	proxy_client_set_state(cl, CL_AUTH_LOOKUP);
	a->verifier = vcache_get(cl->px->authdb, user);
	if (a->verifier != NULL)
	{
		a->cached = true;
		auth_challenge(cl);
		return;
	}
	authdb_enqueue(cl->px->authdb, a);
}

static void
auth_md5(struct proxy_client *cl, const uint8_t *body, size_t len)
{
	struct proxy_auth *a = cl->auth;
	char		expected[PROXY_MD5_VERIFIER_LEN + 1];

	proxy_md5_response(a->verifier, a->md5_salt, expected);
	if (len != sizeof(expected) || memcmp(body, expected, sizeof(expected)) != 0)
	{
		auth_failed(cl);
		return;
	}
	auth_succeeded(cl, NULL);
}

static void
auth_sasl_initial(struct proxy_client *cl, const uint8_t *body, size_t len)
{
	struct proxy_auth *a = cl->auth;
	struct pq_reader r;
	const char *mech;
	uint32_t	dlen;
	const uint8_t *data;
	char		msg[PROXY_SCRAM_MSG_MAX],
				out[PROXY_SCRAM_MSG_MAX],
				nonce[64],
				err[PROXY_ERRMSG_LEN];

	pq_reader_init(&r, body, len);
	mech = pq_read_string(&r);
	dlen = pq_read_int32(&r);
	data = dlen < sizeof(msg) ? pq_read_bytes(&r, dlen) : NULL;
	if (data == NULL || !pq_reader_done(&r) || strcmp(mech, PROXY_SCRAM_MECHANISM) != 0 ||
		memchr(data, '\0', dlen) != NULL)
	{
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_PROTOCOL_VIOLATION,
						   "malformed SASLInitialResponse or unsupported SASL mechanism");
		return;
	}
	memcpy(msg, data, dlen);
	msg[dlen] = '\0';
	if (proxy_scram_make_nonce(nonce, sizeof(nonce)) < 0 ||
		proxy_scram_server_first(&a->scram, msg, nonce, out, sizeof(out), err, sizeof(err)) < 0)
	{
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_PROTOCOL_VIOLATION, "%s", err);
		return;
	}
	a->step = AUTH_SASL_FINAL;
	(void) auth_send(cl, AUTH_REQ_SASL_CONT, out, strlen(out));
}

static void
auth_sasl_final(struct proxy_client *cl, const uint8_t *body, size_t len)
{
	struct proxy_auth *a = cl->auth;
	char		msg[PROXY_SCRAM_MSG_MAX],
				out[PROXY_SCRAM_MSG_MAX],
				err[PROXY_ERRMSG_LEN];
	uint8_t		client_key[PROXY_SCRAM_KEY_LEN];
	int			rc;

	if (len >= sizeof(msg) || memchr(body, '\0', len) != NULL)
	{
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_PROTOCOL_VIOLATION, "malformed SASLResponse");
		return;
	}
	memcpy(msg, body, len);
	msg[len] = '\0';
	rc = proxy_scram_server_final(&a->scram, msg, out, sizeof(out), client_key, err, sizeof(err));
	if (rc == -2)
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_PROTOCOL_VIOLATION, "%s", err);
	else if (rc < 0 || a->verifier == NULL)
		auth_failed(cl);
	else if (auth_send(cl, AUTH_REQ_SASL_FIN, out, strlen(out)) == 0)
		auth_succeeded(cl, client_key);
}

void
proxy_auth_message(struct proxy_client *cl, const uint8_t *body, size_t len)
{
	PGQ_ASSERT(cl->state == CL_AUTH && cl->auth != NULL);
	switch (cl->auth->step)
	{
		case AUTH_MD5:
			auth_md5(cl, body, len);
			break;
		case AUTH_SASL_INITIAL:
			auth_sasl_initial(cl, body, len);
			break;
		case AUTH_SASL_FINAL:
			auth_sasl_final(cl, body, len);
			break;
	}
}

void
proxy_auth_free(struct proxy_auth *a)
{
	if (a == NULL)
		return;
	proxy_list_remove(&a->lookup_link);
	free(a->verifier);
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
}

static void authdb_step(struct proxy_authdb *db);
static void on_authdb_timeout(struct ev_loop *loop, ev_timer *w, int revents);

static void
authdb_watch(struct proxy_authdb *db, int events)
{
	int			fd = db->conn ? PQsocket(db->conn) : -1;

	if (fd == db->io_fd && events == db->io_events)
		return;
	ev_io_stop(db->px->loop, &db->io);
	db->io_fd = fd;
	db->io_events = events;
	if (fd < 0 || events == 0)
		return;
	ev_io_set(&db->io, fd, events);
	ev_io_start(db->px->loop, &db->io);
}

/* The service connection failed: every queued client gets the reason. */
static void
authdb_fail(struct proxy_authdb *db, const char *why)
{
	pgq_warn("proxy: password lookup connection failed: %.*s", (int) strcspn(why, "\n"), why);
	ev_timer_stop(db->px->loop, &db->timer);
	authdb_watch(db, 0);
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	db->connecting = db->busy = false;
	while (!proxy_list_empty(&db->queue))
	{
		struct proxy_auth *a = proxy_container(db->queue.next, struct proxy_auth, lookup_link);

		proxy_list_remove(&a->lookup_link);
		if (a->cl == NULL)
			proxy_auth_free(a);
		else
			proxy_client_error(a->cl, "FATAL", PQ_SQLSTATE_CANNOT_CONNECT,
							   "could not look up the password of role \"%s\" on the local server",
							   a->user);
	}
}

static void
authdb_connect_poll(struct proxy_authdb *db)
{
	switch (PQconnectPoll(db->conn))
	{
		case PGRES_POLLING_READING:
			authdb_watch(db, EV_READ);
			return;
		case PGRES_POLLING_WRITING:
			authdb_watch(db, EV_WRITE);
			return;
		case PGRES_POLLING_OK:
			db->connecting = false;
			if (PQsetnonblocking(db->conn, 1) != 0)
			{
				authdb_fail(db, PQerrorMessage(db->conn));
				return;
			}
			authdb_watch(db, EV_READ);
			authdb_step(db);
			return;
		default:
			authdb_fail(db, PQerrorMessage(db->conn));
			return;
	}
}

/* Take the result of the query in flight and answer its client. */
static void
authdb_result(struct proxy_authdb *db)
{
	struct proxy_auth *a = proxy_container(db->queue.next, struct proxy_auth, lookup_link);
	PGresult   *res;
	bool		ok = false;

	PGQ_ASSERT(!proxy_list_empty(&db->queue));
	while ((res = PQgetResult(db->conn)) != NULL)
	{
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
		{
			ok = true;
			if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
			{
				a->verifier = strdup(PQgetvalue(res, 0, 0));
				vcache_put(db, a->user, PQgetvalue(res, 0, 0));
			}
		}
		else
			pgq_warn("proxy: password lookup: %s", PQresultErrorMessage(res));
		PQclear(res);
	}
	db->busy = false;
	ev_timer_stop(db->px->loop, &db->timer);
	proxy_list_remove(&a->lookup_link);
	if (a->cl == NULL)
		proxy_auth_free(a);
	else if (!ok)
		proxy_client_error(a->cl, "FATAL", PQ_SQLSTATE_CANNOT_CONNECT,
						   "could not look up the password of role \"%s\"", a->user);
	else
		auth_challenge(a->cl);
}

static void
on_authdb_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct proxy_authdb *db = w->data;

	if (db->connecting)
	{
		authdb_connect_poll(db);
		return;
	}
	if (PQconsumeInput(db->conn) == 0)
	{
		authdb_fail(db, PQerrorMessage(db->conn));
		return;
	}
	if (db->busy && !PQisBusy(db->conn))
		authdb_result(db);
	authdb_step(db);
}

/* Connect when needed, else send the next lookup. */
static void
authdb_step(struct proxy_authdb *db)
{
	struct proxy_auth *a;
	const char *params[1];

	if (db->busy || db->connecting || proxy_list_empty(&db->queue))
		return;
	if (db->conn == NULL)
	{
		db->conn = PQconnectStart(db->px->cfg->postgres_conninfo);
		if (db->conn == NULL || PQstatus(db->conn) == CONNECTION_BAD)
		{
			authdb_fail(db, db->conn ? PQerrorMessage(db->conn) : "out of memory");
			return;
		}
		db->connecting = true;
		ev_timer_again(db->px->loop, &db->timer);
		authdb_connect_poll(db);
		return;
	}
	a = proxy_container(db->queue.next, struct proxy_auth, lookup_link);
	params[0] = a->user;
	if (PQsendQueryParams(db->conn, db->px->cfg->auth_query, 1, NULL, params, NULL, NULL, 0) != 1 ||
		PQflush(db->conn) < 0)
	{
		authdb_fail(db, PQerrorMessage(db->conn));
		return;
	}
	db->busy = true;
	ev_timer_again(db->px->loop, &db->timer);
}

static void
on_authdb_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy_authdb *db = w->data;

	if (db->busy || db->connecting)
		authdb_fail(db, "no answer within the login timeout");
	else
		ev_timer_stop(loop, w);
}

static void
authdb_enqueue(struct proxy_authdb *db, struct proxy_auth *a)
{
	proxy_list_append(&db->queue, &a->lookup_link);
	authdb_step(db);
}

struct proxy_authdb *
proxy_authdb_new(struct proxy *px)
{
	struct proxy_authdb *db = calloc(1, sizeof(*db));

	if (db == NULL)
		return NULL;
	db->px = px;
	db->io_fd = -1;
	proxy_list_init(&db->queue);
	ev_init(&db->io, on_authdb_io);
	db->io.data = db;
	ev_init(&db->timer, on_authdb_timeout);
	db->timer.repeat = db->px->cfg->client_login_timeout_ms / 1000.0;
	db->timer.data = db;
	return db;
}

void
proxy_authdb_free(struct proxy_authdb *db)
{
	authdb_watch(db, 0);
	ev_io_stop(db->px->loop, &db->io);
	ev_timer_stop(db->px->loop, &db->timer);
	if (db->conn != NULL)
		PQfinish(db->conn);
	proxy_authdb_clear_cache(db);
	free(db);
}

void
proxy_authdb_forget(struct proxy_authdb *db, struct proxy_client *cl)
{
	struct proxy_auth *a = cl->auth;

	if (a == NULL || proxy_list_empty(&a->lookup_link))
		return;
	if (db->busy && db->queue.next == &a->lookup_link)
	{
		a->cl = NULL;			/* answer in flight: the lookup owns it now */
		cl->auth = NULL;
		return;
	}
	proxy_list_remove(&a->lookup_link);
}
