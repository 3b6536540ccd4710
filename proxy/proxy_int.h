/*
 * proxy_int.h
 *	  Internal objects of the proxy: sockets, client sessions, backend
 *	  connections, pools.  Not for use outside proxy/.
 *
 * Object lifetimes: a client or backend is created by the proxy, moves
 * between states only through its set_state function (which also moves it
 * to the proxy's list for that state), and when it closes its watchers are
 * stopped and it goes to the closing list; the ev_prepare watcher frees it
 * on the next loop iteration, never inside its own callback chain.
 *
 * Relay: bytes read from one side go through that side's frame scanner into
 * the other side's socket at once; only what the kernel does not take is
 * copied into the other side's out buffer.  While that buffer holds more
 * than PROXY_OUT_HIGH bytes the reading side is paused, so a client that
 * reads slowly never makes the node buffer more than a bounded amount.
 */
#ifndef PROXY_INT_H
#define PROXY_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>
#include <openssl/ssl.h>

#include "common/pgq_config.h"
#include "proxy/pq_frame.h"
#include "proxy/proxy.h"
#include "proxy/proxy_scram.h"

/* Named bounds, each asserted where it is used. */
#define PROXY_READ_CHUNK		(64 * 1024)	/* one read from a socket */
#define PROXY_OUT_HIGH			(256 * 1024) /* pause the other side above */
#define PROXY_PRE_BUF			(16 * 1024)	/* startup/auth/login input */
#define PROXY_LISTEN_BACKLOG	1024
#define PROXY_ACCEPT_BATCH		64
#define PROXY_MAX_LISTENERS		8
#define PROXY_MAX_POOLS			4096
#define PROXY_MAX_CANCELS		64			/* cancel requests in flight */
#define PROXY_CLOSE_FLUSH_MS	2000		/* time to flush a final error */
#define PROXY_SSL_READ_LOOPS	16			/* SSL_pending rounds per event */
#define PROXY_ERRMSG_LEN		512
#define PROXY_OVER_LIMIT_SLOTS	64			/* refused clients still read */
#define PROXY_COMMIT_INDEX_PARAM "pgquorum.commit_index"	/* primary -> forwarding node */

struct proxy;
struct proxy_client;
struct proxy_backend;
struct proxy_pool;

/* An intrusive doubly linked list. */
struct proxy_list
{
	struct proxy_list *prev,
			   *next;
};

static inline void
proxy_list_init(struct proxy_list *l)
{
	l->prev = l->next = l;
}

static inline bool
proxy_list_empty(const struct proxy_list *l)
{
	return l->next == l;
}

static inline void
proxy_list_remove(struct proxy_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

static inline void
proxy_list_append(struct proxy_list *l, struct proxy_list *n)
{
	n->prev = l->prev;
	n->next = l;
	l->prev->next = n;
	l->prev = n;
}

#define proxy_container(ptr, type, member) \
	((type *) ((char *) (ptr) - offsetof(type, member)))

/* One socket, plaintext or TLS, with a lazily allocated out buffer. */
struct proxy_conn
{
	int			fd;
	SSL		   *ssl;			/* owned; NULL without TLS */
	ev_io		rio;
	ev_io		wio;
	uint8_t    *out;			/* owned; NULL when empty */
	uint32_t	out_off;
	uint32_t	out_len;
	uint32_t	out_cap;
	bool		reading;		/* rio started */
	bool		eof;
};

enum proxy_io_result
{
	PROXY_IO_OK,
	PROXY_IO_AGAIN,
	PROXY_IO_EOF,
	PROXY_IO_ERROR,
};

/* Who owns a conn's callbacks: the client or the backend. */
typedef void (*proxy_conn_cb) (struct proxy_conn *conn, bool drained);

enum client_state
{
	CL_STARTUP,					/* reading the startup packet */
	CL_TLS,						/* TLS handshake after SSLRequest */
	CL_AUTH_LOOKUP,				/* waiting for the role's verifier */
	CL_AUTH,					/* password/SASL exchange with the client */
	CL_WAIT_BACKEND,			/* authenticated, waiting for a backend */
	CL_ACTIVE,					/* linked to a backend, relaying */
	CL_CLOSING,					/* flushing a final message, then freed */
	CL_NSTATES
};

struct proxy_client
{
	struct proxy_list link;		/* on px->clients[state] */
	struct proxy_list wait_link;	/* on pool->waiting in CL_WAIT_BACKEND */
	struct proxy *px;
	enum client_state state;
	uint32_t	id;				/* also the pid in our BackendKeyData */
	uint32_t	cancel_key;
	struct proxy_conn conn;
	struct pq_scanner scan;
	ev_timer	timer;			/* login, query wait, idle or close timeout */
	uint8_t    *in;				/* owned; pre-relay input, PROXY_PRE_BUF */
	uint32_t	in_len;
	uint8_t    *startup;		/* owned; backend startup packet to send */
	uint32_t	startup_len;
	struct proxy_pool *pool;
	struct proxy_backend *be;
	struct proxy_auth *auth;	/* owned during authentication */
	struct sockaddr_storage addr;
	bool		tls_done;
	bool		auth_ok_sent;
	bool		over_limit;		/* beyond max_client_conn: refuse at startup */
	bool		parsing;		/* client_process_pre is consuming cl->in */
	ev_tstamp	last_active;	/* last bytes from the client */
	struct proxy_wp *wp;		/* owned; write path state (hooks set) */
	/* Forwarding to the primary (proxy_forward.c): be is home or fwd. */
	struct proxy_backend *home;	/* the local backend, once linked */
	struct proxy_backend *fwd;	/* owned; connection to the primary node */
	uint8_t    *fwd_err;		/* owned; why the last forward failed */
	uint32_t	fwd_err_len;
	bool		fwd_wait;		/* a batch waits for fwd to log in */
	bool		forwarded_in;	/* this session came from another node */
	uint64_t	last_write_index;	/* log index of its last committed write */
	struct proxy_admin_session *adm;	/* owned; admin state (proxy_admin.c) */
};

enum backend_state
{
	BE_CONNECTING,				/* TCP/unix connect in progress */
	BE_LOGIN,					/* startup, authentication, until ReadyForQuery */
	BE_IDLE,					/* in its pool, ready for a session */
	BE_ACTIVE,					/* linked to a client */
	BE_RESETTING,				/* running server_reset_query after a session */
	BE_HELD,					/* its client went away mid-COMMIT: finishing
								 * that COMMIT alone, then closed (proxy_write.c) */
	BE_CLOSING,
	BE_NSTATES
};

struct proxy_backend
{
	struct proxy_list link;		/* on px->backends[state] */
	struct proxy_list pool_link;	/* on pool->idle when idle */
	struct proxy *px;
	struct proxy_pool *pool;
	enum backend_state state;
	struct proxy_conn conn;
	struct pq_scanner scan;
	ev_timer	timer;
	uint8_t    *in;				/* owned; login/reset input, PROXY_PRE_BUF */
	uint32_t	in_len;
	uint8_t    *startup;		/* owned; the startup packet it was opened with */
	uint32_t	startup_len;
	uint8_t    *params;			/* owned; ParameterStatus messages, whole */
	uint32_t	params_len;
	struct proxy_client *client;	/* linked session, or the one it was opened for */
	uint32_t	be_pid;
	uint32_t	be_key;
	uint32_t	pending;		/* Query/Sync/FunctionCall not yet answered */
	bool		unsynced;		/* sent messages not followed by a Sync */
	char		txn;			/* status of the last ReadyForQuery */
	/* Write path filter of the backend's output (proxy_write.c). */
	uint8_t		flt_mode;		/* WP_FWD, WP_HOLD, WP_SWALLOW */
	bool		flt_saw_error;	/* an ErrorResponse since the mode was set */
	bool		flt_part;		/* flt_part_disp holds for a partial message */
	uint8_t		flt_part_disp;
	uint32_t	flt_drop;		/* ParseComplete/CloseComplete not for the client */
	uint8_t    *flt_err;		/* owned; captured ErrorResponse */
	uint8_t		adm_drop;		/* CloseComplete/ParseComplete of a re-parse
								 * of ours still to drop (proxy_admin.c) */
	uint8_t		adm_drop_cc;	/* CommandCompletes of the DEALLOCATE and
								 * PREPARE put before an EXECUTE */
	uint32_t	flt_err_len;
	struct proxy_scram_client *scram;	/* owned during SASL login */
	struct sockaddr_storage *fwd_addr;	/* owned; set on a connection to the
										 * primary node, NULL for the local server */
	socklen_t	fwd_addrlen;
	uint8_t		rc_level;		/* on a forward connection: the read
								 * consistency the primary node keeps for it
								 * (proxy_admin.c; 0, local, at login) */
	struct proxy_held *held;	/* owned in BE_HELD: the COMMIT it finishes */
};

struct proxy_pool
{
	struct proxy_list link;		/* on px->pools */
	char	   *database;		/* owned */
	char	   *user;			/* owned */
	struct proxy_list idle;		/* backends in BE_IDLE */
	struct proxy_list waiting;	/* clients in CL_WAIT_BACKEND, FIFO */
	int			n_backends;		/* every backend of this pool, any state */
	bool		kicking;		/* pool_kick on the stack: no re-entry */
	/* How to log in as user, learnt from the last authenticated client. */
	bool		has_client_key;
	uint8_t		client_key[PROXY_SCRAM_KEY_LEN];
	uint8_t		server_key[PROXY_SCRAM_KEY_LEN];
	char		md5_verifier[PROXY_MD5_VERIFIER_LEN + 1];	/* "" when none */
};

/* A cancel request on its way to the local server. */
struct proxy_cancel
{
	struct proxy_list link;
	struct proxy *px;
	int			fd;
	ev_io		wio;
	ev_timer	timer;
	uint8_t		packet[PQ_CANCEL_REQUEST_LEN];
};

struct proxy_listener
{
	int			fd;
	ev_io		io;
	struct proxy *px;
};

struct proxy
{
	struct ev_loop *loop;
	const struct pgq_config *cfg;	/* borrowed until reload/stop */
	struct proxy_listener listeners[PROXY_MAX_LISTENERS];
	int			n_listeners;
	SSL_CTX    *ssl_ctx;		/* owned; NULL without a certificate */
	struct sockaddr_storage be_addr;	/* the local PostgreSQL */
	socklen_t	be_addrlen;
	struct proxy_list clients[CL_NSTATES];
	struct proxy_list backends[BE_NSTATES];
	struct proxy_list pools;
	struct proxy_list cancels;
	int			n_clients;
	int			n_pools;
	int			n_cancels;
	uint32_t	next_client_id;
	ev_prepare	reaper;			/* frees closed objects */
	struct proxy_hba *hba;		/* owned */
	struct proxy_authdb *authdb;	/* owned: the service-role connection */
	uint8_t		scratch[PROXY_READ_CHUNK];
	bool		stopping;
	bool		has_hooks;
	struct proxy_hooks hooks;
	uint64_t	gid_epoch;		/* start time in ms: gids unique across restarts */
	uint64_t	gid_seq;
	uint64_t	forwarded_writes;	/* batches moved to the primary node */
	struct proxy_admin *admin;	/* owned; NULL without admin hooks */
};

/* proxy_io.c */
void		proxy_conn_init(struct proxy_conn *c, struct proxy *px, int fd,
							void (*rcb) (struct ev_loop *, ev_io *, int),
							void (*wcb) (struct ev_loop *, ev_io *, int),
							void *owner);
/* TCP_NODELAY on a TCP socket (family AF_INET or AF_INET6); else nothing. */
void		proxy_tcp_nodelay(int fd, int family);
void		proxy_conn_read_start(struct proxy *px, struct proxy_conn *c);
void		proxy_conn_read_stop(struct proxy *px, struct proxy_conn *c);
/* Read up to cap bytes; *n is set on PROXY_IO_OK. */
enum proxy_io_result proxy_conn_read(struct proxy_conn *c, uint8_t *buf,
									 size_t cap, size_t *n);
/* Send all of data (queueing what the socket does not take); -1 on error. */
int			proxy_conn_send(struct proxy *px, struct proxy_conn *c,
							const uint8_t *data, size_t len);
/* Write queued bytes; -1 on error, else 0 (check c->out_len). */
int			proxy_conn_flush(struct proxy *px, struct proxy_conn *c);
/* Stop watchers, free TLS and buffers, close the socket. */
void		proxy_conn_close(struct proxy *px, struct proxy_conn *c);

/* proxy_client.c */
void		proxy_client_accept(struct proxy *px, int fd,
								const struct sockaddr_storage *addr);
void		proxy_client_error(struct proxy_client *cl, const char *severity,
							   const char *sqlstate, const char *fmt,...)
			__attribute__((format(printf, 4, 5)));
void		proxy_client_close(struct proxy_client *cl);
void		proxy_client_free(struct proxy_client *cl);
/* A backend is ready for cl (from login or from the idle list). */
void		proxy_client_link(struct proxy_client *cl, struct proxy_backend *be);
/* The backend failed before linking: err is a whole ErrorResponse or NULL. */
void		proxy_client_backend_failed(struct proxy_client *cl,
										const uint8_t *err, size_t errlen);
/* Relay bytes from the backend to the client. */
void		proxy_client_relay_from_backend(struct proxy_client *cl);
void		proxy_client_resume(struct proxy_client *cl);
/* After authentication succeeded: find a backend. */
void		proxy_client_authenticated(struct proxy_client *cl);
/* Handle a CancelRequest for (pid, key). */
void		proxy_cancel_request(struct proxy *px, uint32_t pid, uint32_t key);

/* proxy_backend.c */
struct proxy_pool *proxy_pool_get(struct proxy *px, const char *database,
								  const char *user);
/* Find or open a backend for cl; returns -1 when cl must fail. */
void		proxy_pool_request(struct proxy_pool *pool, struct proxy_client *cl);
/* The session ended: reset and pool the backend, or close it. */
void		proxy_backend_release(struct proxy_backend *be, bool reusable);
void		proxy_backend_close(struct proxy_backend *be);
void		proxy_backend_free(struct proxy_backend *be);
void		proxy_backend_resume(struct proxy_backend *be);
void		proxy_pool_free_all(struct proxy *px);
void		proxy_pool_client_gone(struct proxy_client *cl);

/* proxy_auth.c */
struct proxy_hba;
struct proxy_authdb;
struct proxy_auth;
int			proxy_hba_load(struct proxy *px, char *err, size_t errlen);
void		proxy_hba_free(struct proxy_hba *hba);
/* Start authenticating cl after its startup packet. */
void		proxy_auth_start(struct proxy_client *cl, const char *user,
							 const char *database);
/* A password/SASL message from the client in CL_AUTH. */
void		proxy_auth_message(struct proxy_client *cl, const uint8_t *body,
							   size_t len);
void		proxy_auth_free(struct proxy_auth *auth);
struct proxy_authdb *proxy_authdb_new(struct proxy *px);
void		proxy_authdb_free(struct proxy_authdb *db);
/* Forget every cached verifier (auth_query or the TTL may have changed). */
void		proxy_authdb_clear_cache(struct proxy_authdb *db);
/* The client went away while its lookup was queued. */
void		proxy_authdb_forget(struct proxy_authdb *db, struct proxy_client *cl);

/* proxy_write.c: the write path on the primary (hooks set). */
extern struct pq_type_rule proxy_backend_all_rules[256];
/* Client bytes of an active session; -1 when the session ended. */
int			proxy_write_client_bytes(struct proxy_client *cl, const uint8_t *data, size_t n);
/* Backend bytes of an active session (already read into data). */
void		proxy_write_backend_bytes(struct proxy_backend *be, uint8_t *data, size_t n);
void		proxy_write_client_free(struct proxy_client *cl);
void		proxy_write_backend_free(struct proxy_backend *be);
/*
 * cl is closing and be (its local backend, BE_ACTIVE, already unlinked)
 * would be released: if cl's COMMIT is under way on it (PREPARE sent, or
 * the commit wait running), be moves to BE_HELD and finishes it alone (a
 * refused transaction is rolled back), then closes.  true when kept.
 */
bool		proxy_write_hold_backend(struct proxy_client *cl, struct proxy_backend *be);
/* Bytes read from a BE_HELD backend. */
void		proxy_write_held_bytes(struct proxy_backend *be, const uint8_t *data, size_t n);

/* proxy_backend.c: a connection to the primary node for cl (not pooled). */
struct proxy_backend *proxy_backend_open_forward(struct proxy_client *cl,
												 const struct sockaddr_storage *addr,
												 socklen_t addrlen,
												 const uint8_t *startup, size_t len);

/* proxy_forward.c: a secondary's session moves its writing transactions to
 * the primary node (docs/proxy.md, "Forwarding"). */
/* Start (or wait for) the connection; 0 when ready, 1 to wait, -1 no primary. */
int			proxy_forward_prepare(struct proxy_client *cl);
/* The forward connection logged in, failed, or closed. */
void		proxy_forward_ready(struct proxy_backend *be);
void		proxy_forward_failed(struct proxy_backend *be, const uint8_t *err, size_t len);
void		proxy_forward_closed(struct proxy_backend *be);
/* Drop the forward connection (session end). */
void		proxy_forward_drop(struct proxy_client *cl);
/* Back to the local backend when the forwarded transaction is over. */
void		proxy_forward_maybe_home(struct proxy_client *cl);
/* proxy_write.c: handle held input again. */
int			proxy_write_pump(struct proxy_client *cl);

/* proxy_write.c: run the held input again (after an admin wait). */
void		proxy_write_resume(struct proxy_client *cl);
/* An op (BEGIN/PREPARE/commit wait) of the write path is running. */
bool		proxy_write_busy(const struct proxy_client *cl);

/* proxy_admin.c: admin SQL (proxy_admin.h).  proxy_admin_batch looks at one
 * batch before it is routed: PROXY_ADMIN_GO with *out a replacement batch
 * (owned by the caller) or NULL, PROXY_ADMIN_WAIT (held; the session is
 * resumed later), PROXY_ADMIN_WAIT_IDLE (held until the backend answered
 * all), PROXY_ADMIN_DONE (answered and consumed), -1 (ended).
 * PROXY_ADMIN_PRIMARY is PROXY_ADMIN_GO for a batch of a strong session
 * on a secondary that starts a transaction and that the node does not
 * answer itself: the write path runs it on the primary node.
 * With flush (a run ended by Flush, which cannot move) read consistency
 * holds it as for any batch, wait_applied answers at once, and a refusal
 * is PROXY_ADMIN_SKIP: ErrorResponse sent, the client's messages up to its
 * Sync are to be discarded, as the server does after an error. */
#define PROXY_ADMIN_DONE	0
#define PROXY_ADMIN_WAIT	1
#define PROXY_ADMIN_GO		2
#define PROXY_ADMIN_WAIT_IDLE 3
#define PROXY_ADMIN_PRIMARY	4	/* go on, on the primary node: read
								 * consistency strong on a secondary */
#define PROXY_ADMIN_SKIP	5
#define PROXY_ADMIN_READ	6	/* go on with *out, a read for the local
								 * server as is: an EXECUTE of a read-only
								 * SQL-prepared statement over views,
								 * re-prepared first */
int			proxy_admin_batch(struct proxy_client *cl, const uint8_t *p, size_t n,
							  bool flush, uint8_t **out, size_t *out_len);
void		proxy_admin_client_free(struct proxy_client *cl);
/* The session's batch is held by a read consistency or wait_applied wait. */
bool		proxy_admin_waiting(const struct proxy_client *cl);
void		proxy_admin_free(struct proxy *px);
/* The session's write committed at index (read consistency "session"). */
void		proxy_session_note_write(struct proxy_client *cl, uint64_t index);
/* The SET (static text) that gives cl->fwd the session's read consistency
 * before a batch moves there, or NULL when it has it already; the caller
 * sends it first.  Notes the level as the forward connection's. */
const char *proxy_admin_forward_setting(struct proxy_client *cl);

/* proxy.c */
void		proxy_client_set_state(struct proxy_client *cl, enum client_state st);
void		proxy_backend_set_state(struct proxy_backend *be, enum backend_state st);
const char *proxy_client_state_name(enum client_state st);

#endif							/* PROXY_INT_H */
