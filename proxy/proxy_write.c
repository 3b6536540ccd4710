/*
 * proxy_write.c
 *	  The write path on the primary: COMMIT interception (docs/proxy.md,
 *	  "The write path on the primary").
 *
 * With hooks set (proxy_set_hooks), a session's client input is taken as
 * whole messages and handled a batch at a time (a batch ends at a Query,
 * Sync or FunctionCall).  On the primary, a batch that may write, or the
 * COMMIT of a transaction that wrote, becomes an "op": a short program of
 * steps run against the backend, each ended by the backend's ReadyForQuery:
 * INJECT (our own query; its answers are swallowed, an error captured),
 * FORWARD (the client's messages; answers relayed except the final
 * ReadyForQuery) and COMMIT (pgquorum message + PREPARE TRANSACTION, then
 * commit_wait, then the client's answer).  While an op runs the session's
 * further input is held (COPY data excepted).  The backend's output goes
 * through a per-message filter (flt_mode) so that what the client sees is
 * exactly what PostgreSQL would send for its own statements.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "common/pgq_log.h"
#include "proxy/proxy_int.h"
#include "proxy/proxy_scram.h"
#include "sql/sql_classify.h"
#include "sql/sql_ddl.h"

#define WP_HOLD_MAX			(4u * 1024 * 1024)	/* held input: stop reading above */
#define WP_BATCH_MAX		(1u * 1024 * 1024)	/* an unsynced run forwarded above */
#define WP_ERR_MAX			(16u * 1024)	/* captured ErrorResponse */
#define WP_GID_LEN			80	/* sync/txn_codec.h TXN_GID_MAX */
#define SQLSTATE_UNKNOWN	"40003"	/* statement_completion_unknown */
#define SQLSTATE_SERIALIZATION "40001"	/* serialization_failure: retry */

enum
{
	WP_FWD = 0,
	WP_HOLD,					/* relay all but the next ReadyForQuery */
	WP_SWALLOW,					/* drop all up to the next ReadyForQuery */
};

enum
{
	D_FWD = 0,
	D_DROP,
	D_CAPTURE,
};

enum step_kind
{
	S_INJECT,
	S_FORWARD,
	S_COMMIT,
	S_STATEMENT,				/* log the statement; answer once it ran */
	S_SWITCH,					/* forwarding: the session moves to the primary */
};

enum wp_next
{
	N_STEP,						/* run the next step */
	N_PREPARED,					/* emit + PREPARE answered */
	N_SEND_ERR,					/* after ROLLBACK [PREPARED]: send op->err */
};

struct wp_step
{
	enum step_kind kind;
	uint8_t    *data;			/* owned: SQL text (NUL-terminated) or messages */
	size_t		len;
};

/*
 * A commit or statement wait.  Owned by the wait: its callback frees it.
 * It borrows the session (cl) or, once the client is gone mid-COMMIT, the
 * BE_HELD backend finishing that COMMIT (held); whichever goes first
 * clears its pointer here.
 */
struct wp_waiter
{
	struct proxy_client *cl;	/* NULL once the session is gone */
	struct proxy_backend *held;	/* a BE_HELD backend waiting, or NULL */
};

/* What a BE_HELD backend is doing for its gone client's COMMIT. */
enum held_phase
{
	H_PREPARING,				/* the emit + PREPARE query runs */
	H_WAITING,					/* prepared: the commit wait runs */
	H_ROLLING_BACK,				/* refused: ROLLBACK PREPARED runs */
};

/* Owned by the backend (be->held) until it is freed. */
struct proxy_held
{
	enum held_phase phase;
	bool		saw_error;		/* an ErrorResponse since the phase began */
	char		gid[WP_GID_LEN];
	struct wp_waiter *waiter;	/* in H_WAITING; owned by the wait */
};

struct wp_op
{
	struct wp_step *steps;
	int			n,
				cap,
				i;
	bool		implicit;		/* we sent BEGIN: roll back on error, answer 'I' */
	uint8_t		ok_msgs[64];	/* sent before ReadyForQuery 'I' on commit */
	size_t		ok_len;
	char		gid[WP_GID_LEN];
	enum wp_next next;
	uint8_t    *err;			/* owned: whole ErrorResponse for the client */
	size_t		err_len;
	struct wp_waiter *waiter;
	bool		rolling_back;	/* ROLLBACK PREPARED of a refused gid runs */
	bool		quiet;			/* our own op (demotion): nothing to the client */
};

struct wp_stmt
{
	char	   *name;
	char	   *ddl;			/* owned text when the statement is DDL */
	uint8_t    *parse;			/* owned: the whole Parse message (forwarding) */
	uint32_t	parse_len;
	/* Once the session forwarded: which connection has it (ex_*) and with
	 * this definition (on_*); index 0 the local backend, 1 the primary. */
	bool		ex[2],
				on[2],
				live;			/* defined as far as the client knows */
	bool		writes;
	bool		notxn;
	uint8_t		txn;			/* single TXN_CONTROL statement: its kind */
	bool		chain;
	uint32_t	flags;
};

struct wp_portal
{
	char	   *name;
	char	   *stmt;
};

struct proxy_wp
{
	uint8_t    *ib;				/* held client input */
	size_t		len,
				cap;
	struct wp_op *op;
	bool		wait_idle;		/* a batch waits for the backend to be idle */
	bool		pumping;
	bool		skip_to_sync;	/* the node refused a run ended by Flush:
								 * discard input up to the next Sync */
	bool		wrote;			/* the current transaction may have written */
	uint32_t	txn_flags;		/* OR of its statements' flags */
	struct wp_stmt *stmts;
	int			n_stmts,
				cap_stmts;
	struct wp_portal *portals;
	int			n_portals,
				cap_portals;
	/* Forwarding (a secondary's writes go to the primary node). */
	bool		fwd_used;		/* the statement map tracks both connections */
	char	   *sess;			/* owned: SET/PREPARE/... texts to replay there */
	size_t		sess_len;
	size_t		sess_sent;		/* bytes of sess the primary connection
								 * has had (it keeps them) */
	char	   *begin;			/* owned: the BEGIN of the local transaction */
	uint32_t	since_begin;	/* batches run in it after BEGIN */
	bool		savepoint;		/* it has a savepoint */
	/* The node stopped being the primary (proxy_demoted). */
	bool		demote;			/* end the transaction once the backend is idle */
	uint8_t		demote_stage;	/* DEMOTE_CHECK or DEMOTE_ROLLBACK while its op runs */
	bool		stale;			/* wrote while this node was primary, holds no
								 * lock on a user relation: left open */
	bool		ended;			/* it was ended: the backend holds an empty
								 * block, the next request gets 40001 */
};

struct pq_type_rule proxy_backend_all_rules[256];

__attribute__((constructor))
static void
init_all_rules(void)
{
	for (int i = 0; i < 256; i++)
	{
		proxy_backend_all_rules[i] = pq_backend_rules[i];
		proxy_backend_all_rules[i].report = pq_backend_rules[i].max_len != 0;
	}
}

static int	wp_pump(struct proxy_client *cl);
static bool primary(struct proxy_client *cl);
static int	side_prepare(struct proxy_client *cl, const uint8_t *p, size_t n,
						 uint8_t **out, size_t *out_len);
static void op_run(struct proxy_client *cl);
static void op_end(struct proxy_client *cl, char status);
static void op_statement(struct proxy_client *cl, const char *sql);
static int	refuse_in_server(struct proxy_client *cl, const char *msg);
static void held_committed(struct proxy_backend *be, int result);
static void demote_check(struct proxy_client *cl);
static void demote_done(struct proxy_client *cl, char status, bool failed);
static int	raise_in_server(struct proxy_client *cl, const char *errcode, const char *msg);

/* ---- small helpers ---- */

static bool
cl_live(struct proxy_client *cl, struct proxy_backend *be)
{
	return cl->state == CL_ACTIVE && cl->be == be && be->state == BE_ACTIVE;
}

static int
to_client(struct proxy_client *cl, const uint8_t *p, size_t n)
{
	if (n == 0)
		return 0;
	if (proxy_conn_send(cl->px, &cl->conn, p, n) < 0)
	{
		proxy_client_close(cl);
		return -1;
	}
	return 0;
}

static int
send_z(struct proxy_client *cl, char status)
{
	uint8_t		m[6] = {PqMsg_ReadyForQuery, 0, 0, 0, 5, (uint8_t) status};

	return to_client(cl, m, sizeof(m));
}

static size_t
build_cc(uint8_t *buf, size_t cap, const char *tag)
{
	struct pq_build b;

	pq_build_init(&b, buf, cap);
	pq_build_begin(&b, PqMsg_CommandComplete);
	pq_build_string(&b, tag);
	pq_build_end(&b);
	PGQ_ASSERT(!b.overflow);
	return b.len;
}

/* An ErrorResponse of ours in buf (PROXY_ERRMSG_LEN + 64 bytes); its length. */
static size_t
build_error(uint8_t *buf, const char *sqlstate, const char *msg)
{
	struct pq_build b;

	pq_build_init(&b, buf, PROXY_ERRMSG_LEN + 64);
	pq_build_error(&b, PqMsg_ErrorResponse, "ERROR", sqlstate, msg);
	PGQ_ASSERT(!b.overflow);
	return b.len;
}

/* Replace op->err with an ErrorResponse of ours. */
static void
op_set_error(struct wp_op *op, const char *sqlstate, const char *msg)
{
	uint8_t		buf[PROXY_ERRMSG_LEN + 64];
	size_t		len = build_error(buf, sqlstate, msg);

	free(op->err);
	op->err = malloc(len);
	op->err_len = op->err ? len : 0;
	if (op->err)
		memcpy(op->err, buf, len);
}

static int
send_error(struct proxy_client *cl, const char *sqlstate, const char *msg)
{
	uint8_t		buf[PROXY_ERRMSG_LEN + 64];
	size_t		len = build_error(buf, sqlstate, msg);

	pgq_info("proxy: session %u: ERROR %s: %s", cl->id, sqlstate, msg);
	return to_client(cl, buf, len);
}

static int
send_error_z(struct proxy_client *cl, const char *sqlstate, const char *msg, char status)
{
	if (send_error(cl, sqlstate, msg) < 0)
		return -1;
	return send_z(cl, status);
}

static bool
is_sync_point(uint8_t type)
{
	return type == PqMsg_Query || type == PqMsg_Sync || type == PqMsg_FunctionCall;
}

/* Send whole messages to the backend; the filter takes mode first. */
static int
to_backend(struct proxy_client *cl, const uint8_t *p, size_t n, int mode)
{
	struct proxy_backend *be = cl->be;
	bool		last_sync = false;

	be->flt_mode = (uint8_t) mode;
	be->flt_saw_error = false;
	be->flt_err_len = 0;
	bool		any = false;

	for (size_t off = 0; off + PQ_HEADER_LEN <= n;)
	{
		uint8_t		type = p[off];

		off += 1 + pq_get_uint32(p + off + 1);
		if (type == PqMsg_CopyData || type == PqMsg_CopyDone || type == PqMsg_CopyFail)
			continue;			/* part of the COPY of a statement sent before */
		any = true;
		last_sync = is_sync_point(type);
		if (last_sync)
			be->pending++;
	}
	if (any)
		be->unsynced = !last_sync;
	if (cl->wp->fwd_used)
	{
		uint8_t    *prep = NULL;
		size_t		prep_len = 0;
		int			drop = side_prepare(cl, p, n, &prep, &prep_len);
		int			rc = drop < 0 ? -1 : 0;

		if (rc == 0 && prep_len > 0)
			rc = proxy_conn_send(cl->px, &be->conn, prep, prep_len);
		free(prep);
		if (rc < 0)
		{
			proxy_client_error(cl, "FATAL", PQ_SQLSTATE_CONNECTION_FAILURE,
							   "lost the connection to %s",
							   be == cl->fwd ? "the primary node" : "the local PostgreSQL server");
			return -1;
		}
		be->flt_drop += (uint32_t) drop;
	}
	if (proxy_conn_send(cl->px, &be->conn, p, n) < 0)
	{
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_CONNECTION_FAILURE,
						   "lost the connection to the local PostgreSQL server");
		return -1;
	}
	if (be->conn.out_len > PROXY_OUT_HIGH)
		proxy_conn_read_stop(cl->px, &cl->conn);
	return 0;
}

static int
query_to_backend(struct proxy_client *cl, const char *sql, int mode)
{
	size_t		n = strlen(sql) + 1 + PQ_HEADER_LEN;
	uint8_t    *m = malloc(n);
	int			rc;

	if (m == NULL)
	{
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_INTERNAL_ERROR, "out of memory");
		return -1;
	}
	m[0] = PqMsg_Query;
	pq_put_uint32(m + 1, (uint32_t) (n - 1));
	memcpy(m + PQ_HEADER_LEN, sql, n - PQ_HEADER_LEN);
	rc = to_backend(cl, m, n, mode);
	free(m);
	return rc;
}

#define ROLLBACK_PREPARED_LEN (sizeof("ROLLBACK PREPARED ''") + WP_GID_LEN)

/* The ROLLBACK PREPARED of one of our gids (made by the node: no quote in it). */
static void
rollback_prepared_sql(char buf[ROLLBACK_PREPARED_LEN], const char *gid)
{
	PGQ_ASSERT(strchr(gid, '\'') == NULL && strlen(gid) < WP_GID_LEN);
	snprintf(buf, ROLLBACK_PREPARED_LEN, "ROLLBACK PREPARED '%s'", gid);
}

/* ---- statement and portal maps (extended protocol) ---- */

static struct wp_stmt *
stmt_find(struct proxy_wp *wp, const char *name)
{
	for (int i = 0; i < wp->n_stmts; i++)
		if (strcmp(wp->stmts[i].name, name) == 0)
			return &wp->stmts[i];
	return NULL;
}

static void
stmt_remove(struct proxy_wp *wp, const char *name)
{
	struct wp_stmt *s = stmt_find(wp, name);

	if (s == NULL)
		return;
	free(s->name);
	free(s->ddl);
	free(s->parse);
	*s = wp->stmts[--wp->n_stmts];
}

static const char *
portal_stmt(struct proxy_wp *wp, const char *portal)
{
	for (int i = 0; i < wp->n_portals; i++)
		if (strcmp(wp->portals[i].name, portal) == 0)
			return wp->portals[i].stmt;
	return NULL;
}

static void
portal_set(struct proxy_wp *wp, const char *portal, const char *stmt)
{
	char	   *s = strdup(stmt);

	if (s == NULL)
		return;
	for (int i = 0; i < wp->n_portals; i++)
		if (strcmp(wp->portals[i].name, portal) == 0)
		{
			free(wp->portals[i].stmt);
			wp->portals[i].stmt = s;
			return;
		}
	if (wp->n_portals == wp->cap_portals)
	{
		int			nc = wp->cap_portals ? wp->cap_portals * 2 : 8;
		struct wp_portal *np = realloc(wp->portals, nc * sizeof(*np));

		if (np == NULL)
		{
			free(s);
			return;
		}
		wp->portals = np;
		wp->cap_portals = nc;
	}
	wp->portals[wp->n_portals].name = strdup(portal);
	if (wp->portals[wp->n_portals].name == NULL)
	{
		free(s);
		return;
	}
	wp->portals[wp->n_portals++].stmt = s;
}

/* ---- classification ---- */

static bool
stmt_writes(const sql_stmt *st)
{
	return st->cls == SQL_CLASS_MAY_WRITE || st->cls == SQL_CLASS_DDL ||
		(st->cls == SQL_CLASS_SESSION_STATE &&
		 (st->session == SQL_SESSION_EXECUTE ||
		  (st->session == SQL_SESSION_DECLARE && st->inner_cls >= SQL_CLASS_MAY_WRITE)));
}

/* What one query string does, copied out of the borrowed result. */
struct wp_text
{
	uint32_t	n;
	bool		writes,
				ddl,
				txnctl,
				notxn,
				chain;
	uint8_t		txn1;			/* the kind when a single TXN_CONTROL statement */
	uint32_t	flags;
	struct
	{
		bool		ddl;
		int32_t		loc,
					len;
	}		   *st;				/* owned, n entries */
};

static void
classify_text(struct proxy_client *cl, const char *text, struct wp_text *t)
{
	const struct proxy_hooks *h = &cl->px->hooks;
	const sql_result *r = h->classify(h->arg, text);

	memset(t, 0, sizeof(*t));
	if (r == NULL || r->status == SQL_STATUS_NO_MEMORY)
	{
		t->writes = true;
		return;
	}
	if (r->status != SQL_STATUS_OK)
		return;					/* empty or a parse error: the server answers */
	t->n = r->n_stmts;
	t->flags = r->flags;
	t->chain = (r->flags & SQL_F_TXN_CHAIN) != 0;
	t->st = calloc(r->n_stmts ? r->n_stmts : 1, sizeof(*t->st));
	for (uint32_t i = 0; i < r->n_stmts; i++)
	{
		const sql_stmt *st = &r->stmts[i];

		t->writes |= stmt_writes(st);
		t->ddl |= st->cls == SQL_CLASS_DDL;
		t->notxn |= st->cls == SQL_CLASS_NO_TXN_BLOCK;
		if (st->cls == SQL_CLASS_TXN_CONTROL)
		{
			t->txnctl = true;
			t->txn1 = (uint8_t) st->txn;
		}
		if (t->st != NULL)
		{
			t->st[i].ddl = st->cls == SQL_CLASS_DDL;
			t->st[i].loc = st->location;
			t->st[i].len = st->length;
		}
	}
	if (t->n != 1)
		t->txn1 = SQL_TXN_NONE;
	if (t->st == NULL && t->ddl)
		t->n = 0;				/* out of memory: no split */
}

/* Parse (msg is the whole message): remember what the statement does. */
static void
note_parse(struct proxy_client *cl, const uint8_t *msg, size_t msglen)
{
	struct proxy_wp *wp = cl->wp;
	struct pq_reader r;
	const char *name,
			   *query;
	struct wp_text t;
	struct wp_stmt *s;

	pq_reader_init(&r, msg + PQ_HEADER_LEN, msglen - PQ_HEADER_LEN);
	name = pq_read_string(&r);
	query = pq_read_string(&r);
	if (name == NULL || query == NULL)
		return;
	if ((s = stmt_find(wp, name)) == NULL)
	{
		if (wp->n_stmts == wp->cap_stmts)
		{
			int			nc = wp->cap_stmts ? wp->cap_stmts * 2 : 8;
			struct wp_stmt *ns = realloc(wp->stmts, nc * sizeof(*ns));

			if (ns == NULL)
				return;
			wp->stmts = ns;
			wp->cap_stmts = nc;
		}
		s = &wp->stmts[wp->n_stmts];
		memset(s, 0, sizeof(*s));
		if ((s->name = strdup(name)) == NULL)
			return;
		wp->n_stmts++;
	}
	free(s->ddl);
	s->ddl = NULL;
	free(s->parse);
	s->parse = NULL;
	s->parse_len = 0;
	classify_text(cl, query, &t);
	s->writes = t.writes;
	s->notxn = t.notxn;
	s->txn = t.txn1;
	s->chain = t.chain;
	s->flags = t.flags;
	if (t.ddl)
		s->ddl = strdup(query);
	if (wp->fwd_used || s->txn == SQL_TXN_BEGIN || !primary(cl))
	{
		if ((s->parse = malloc(msglen)) != NULL)
		{
			memcpy(s->parse, msg, msglen);
			s->parse_len = (uint32_t) msglen;
		}
	}
	if (!wp->fwd_used)
		s->ex[0] = s->on[0] = s->live = true;
	free(t.st);
}

/* What an extended batch does. */
struct wp_ext
{
	bool		writes,
				txnctl,
				notxn;
	uint32_t	flags;
	int			n_exec;
	long		commit_off;		/* the COMMIT Execute, when it ends the batch */
	const char *ddl[16];		/* borrowed from the statement map */
	const char *begin;			/* BEGIN text executed (forwarding), borrowed */
	bool		parse_writes;	/* it prepares a statement that may write */
	int			n_ddl;
	bool		ddl_overflow;
};

static void
analyze_ext(struct proxy_client *cl, const uint8_t *p, size_t n, struct wp_ext *x)
{
	struct proxy_wp *wp = cl->wp;
	long		commit_off = -1;

	memset(x, 0, sizeof(*x));
	x->commit_off = -1;
	for (size_t off = 0; off + PQ_HEADER_LEN <= n;)
	{
		uint8_t		type = p[off];
		uint32_t	len = pq_get_uint32(p + off + 1);
		const uint8_t *body = p + off + PQ_HEADER_LEN;
		struct pq_reader r;
		const char *a,
				   *b;

		pq_reader_init(&r, body, len - 4);
		switch (type)
		{
			case PqMsg_Parse:
				note_parse(cl, p + off, 1 + (size_t) len);
				{
					const struct wp_stmt *ps;

					if ((a = pq_read_string(&r)) != NULL && (ps = stmt_find(wp, a)) != NULL)
						x->parse_writes |= ps->writes;
				}
				break;
			case PqMsg_Bind:
				a = pq_read_string(&r);
				b = pq_read_string(&r);
				if (a && b)
					portal_set(wp, a, b);
				break;
			case PqMsg_Close:
				/* once forwarding, side_prepare() keeps the map */
				if (!wp->fwd_used && pq_read_byte(&r) == 'S' &&
					(a = pq_read_string(&r)) != NULL)
					stmt_remove(wp, a);
				break;
			case PqMsg_Execute:
				{
					const char *sn;
					const struct wp_stmt *s;

					a = pq_read_string(&r);
					sn = a ? portal_stmt(wp, a) : NULL;
					s = sn ? stmt_find(wp, sn) : NULL;
					x->n_exec++;
					commit_off = -1;
					if (s == NULL)
					{
						x->writes = true;	/* unknown: assume the worst */
						break;
					}
					x->writes |= s->writes;
					x->notxn |= s->notxn;
					x->flags |= s->flags;
					if (s->txn == SQL_TXN_BEGIN && s->parse != NULL)
						x->begin = (const char *) s->parse + PQ_HEADER_LEN +
							strlen(s->name) + 1;
					if (s->txn == SQL_TXN_COMMIT && !s->chain)
						commit_off = (long) off;
					else if (s->txn != SQL_TXN_NONE)
						x->txnctl = true;
					if (s->ddl != NULL)
					{
						if (x->n_ddl < 16)
							x->ddl[x->n_ddl++] = s->ddl;
						else
							x->ddl_overflow = true;
					}
				}
				break;
			case PqMsg_Sync:
			case PqMsg_Describe:
			case PqMsg_Flush:
				break;
			default:
				if (commit_off >= 0)
					x->txnctl = true;	/* something after COMMIT: not ours */
				commit_off = -1;
				break;
		}
		off += 1 + len;
	}
	if (commit_off >= 0)
		x->commit_off = commit_off;
	else if (x->n_exec > 0 && x->commit_off < 0)
	{
		/* a COMMIT not last in the batch counts as transaction control */
	}
}

/* ---- ops ---- */

static struct wp_step *
op_add(struct wp_op *op, enum step_kind kind, const void *data, size_t len, bool nul)
{
	struct wp_step *s;

	if (op->n == op->cap)
	{
		int			nc = op->cap ? op->cap * 2 : 8;
		struct wp_step *ns = realloc(op->steps, nc * sizeof(*ns));

		if (ns == NULL)
			return NULL;
		op->steps = ns;
		op->cap = nc;
	}
	s = &op->steps[op->n];
	s->kind = kind;
	s->len = len;
	s->data = NULL;
	if (data != NULL)
	{
		s->data = malloc(len + (nul ? 1 : 0));
		if (s->data == NULL)
			return NULL;
		memcpy(s->data, data, len);
		if (nul)
			s->data[len] = 0;
	}
	op->n++;
	return s;
}

/*
 * After DDL: the replica identity pgquorum needs (docs/sql.md, "Replica
 * identity").  A table without a primary key gets REPLICA IDENTITY FULL,
 * so its UPDATEs and DELETEs can be published and matched on apply; a
 * table with one goes back from FULL to DEFAULT (smaller entries).  Only
 * permanent ordinary tables the session's role owns, outside the system
 * schemas; USING INDEX and NOTHING are left as set.  Each change is
 * carried as DDL like the client's own.
 */
#define WP_REPLIDENT_SQL \
	"DO $pgq$DECLARE r record; BEGIN FOR r IN " \
	"SELECT pg_catalog.format('ALTER TABLE %I.%I REPLICA IDENTITY %s', n.nspname, c.relname, " \
	"CASE c.relreplident WHEN 'd' THEN 'FULL' ELSE 'DEFAULT' END) AS q " \
	"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " \
	"WHERE c.relkind = 'r' AND c.relpersistence = 'p' AND c.relreplident IN ('d', 'f') " \
	"AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' " \
	"AND pg_catalog.pg_has_role(c.relowner, 'USAGE') " \
	"AND (c.relreplident = 'd') <> EXISTS (SELECT 1 FROM pg_catalog.pg_index i " \
	"WHERE i.indrelid = c.oid AND i.indisprimary) " \
	"LOOP PERFORM pg_catalog.set_config('" SQL_DDL_NESTED_OK "', 'ok', true); " \
	"EXECUTE r.q; PERFORM pg_catalog.set_config('" SQL_DDL_NESTED_OK "', '', true); " \
	"PERFORM pg_catalog.pg_logical_emit_message(true, 'pgquorum.ddl', r.q); " \
	"END LOOP; END$pgq$"

/*
 * The DDL's session context and SELECT pg_logical_emit_message(true,
 * 'pgquorum.ddl', E'<text>') (unless !emit); then the replica identity
 * fix-up, in one round trip.
 */
static bool
op_add_ddl(struct wp_op *op, const char *text, size_t len, bool emit)
{
	static const char pre[] = SQL_DDL_CONTEXT_EMIT "; "
		"SELECT pg_logical_emit_message(true, 'pgquorum.ddl', E'";
	static const char post[] = "'); " WP_REPLIDENT_SQL;
	char	   *q = malloc(sizeof(pre) + 2 * len + sizeof(post));
	size_t		k = 0;
	bool		ok;

	if (q == NULL)
		return false;
	memcpy(q, pre, sizeof(pre) - 1);
	k = sizeof(pre) - 1;
	for (size_t i = 0; i < len && text[i] != '\0'; i++)
	{
		if (text[i] == '\'' || text[i] == '\\')
			q[k++] = text[i];
		q[k++] = text[i];
	}
	memcpy(q + k, post, sizeof(post));
	k += sizeof(post) - 1;
	if (!emit)
		ok = op_add(op, S_INJECT, WP_REPLIDENT_SQL, strlen(WP_REPLIDENT_SQL), true) != NULL;
	else
		ok = op_add(op, S_INJECT, q, k, true) != NULL;
	free(q);
	return ok;
}

/* A Query message for text[0..len) as a step of kind. */
static bool
op_add_query(struct wp_op *op, enum step_kind kind, const char *text, size_t len)
{
	uint8_t    *m = malloc(len + 1 + PQ_HEADER_LEN);
	bool		ok;

	if (m == NULL)
		return false;
	m[0] = PqMsg_Query;
	pq_put_uint32(m + 1, (uint32_t) (len + 1 + 4));
	memcpy(m + PQ_HEADER_LEN, text, len);
	m[PQ_HEADER_LEN + len] = 0;
	ok = op_add(op, kind, m, len + 1 + PQ_HEADER_LEN, false) != NULL;
	free(m);
	return ok;
}

/*
 * text with its PASSWORD literal [loc, loc + len) replaced by the SCRAM
 * verifier of the password (kept when it is a verifier already); malloc'd,
 * or NULL with why.
 */
static char *
with_verifier(const char *text, size_t tlen, int32_t loc, int32_t len, char *why, size_t whylen)
{
	char		pw[1024];
	char		ver[sizeof(pw) + 64];
	size_t		k = 0;
	char	   *out;

	if (len < 2 || (size_t) (loc + len) > tlen || (size_t) len > sizeof(pw))
	{
		snprintf(why, whylen, "the PASSWORD literal of this CREATE/ALTER ROLE is too long");
		return NULL;
	}
	for (int32_t i = loc + 1; i < loc + len - 1; i++)
	{
		pw[k++] = text[i];
		if (text[i] == '\'')
			i++;				/* '' stands for ' */
	}
	pw[k] = 0;
	if (strncmp(pw, PROXY_SCRAM_MECHANISM "$", strlen(PROXY_SCRAM_MECHANISM) + 1) == 0 ||
		proxy_md5_is_verifier(pw))
		snprintf(ver, sizeof(ver), "%s", pw);
	else if (proxy_scram_make_verifier(pw, ver, sizeof(ver)) < 0)
	{
		snprintf(why, whylen, "could not compute the SCRAM verifier of the password "
				 "(pgquorum replicates the verifier, never the password)");
		explicit_bzero(pw, sizeof(pw));
		return NULL;
	}
	explicit_bzero(pw, sizeof(pw));
	if ((out = malloc(tlen + strlen(ver) + 3)) == NULL)
	{
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	snprintf(out, tlen + strlen(ver) + 3, "%.*s'%s'%.*s", (int) loc, text, ver,
			 (int) (tlen - (size_t) (loc + len)), text + loc + len);
	return out;
}

/*
 * One DDL statement of a writing Query: [the message for its table, before
 * it runs (CREATE TABLE AS)], the statement (with the password replaced by
 * its verifier), then its message and the replica identity fix-up.
 * Returns 0, -1 out of memory, 1 refused (why says why; nothing added ran).
 */
static int
op_add_ddl_stmt(struct proxy_client *cl, struct wp_op *op, const char *text, size_t len,
				char *why, size_t whylen)
{
	const struct proxy_hooks *h = &cl->px->hooks;
	struct sql_ddl_plan plan = {.pw_loc = -1};
	char	   *stmt = strndup(text, len);
	char	   *run = NULL;
	int			rc = -1;

	if (stmt == NULL)
		return -1;
	if (h->ddl_plan != NULL)
		h->ddl_plan(h->arg, stmt, &plan);
	if (plan.refuse[0] != '\0')
	{
		snprintf(why, whylen, "%s", plan.refuse);
		rc = 1;
		goto out;
	}
	if (plan.pw_loc >= 0 &&
		(run = with_verifier(stmt, len, plan.pw_loc, plan.pw_len, why, whylen)) == NULL)
	{
		rc = 1;
		goto out;
	}
	if (run != NULL)
	{
		free(stmt);
		stmt = run;
		len = strlen(run);
	}
	if (plan.before != NULL && !op_add_ddl(op, plan.before, strlen(plan.before), true))
		goto out;
	if (!op_add_query(op, S_FORWARD, stmt, len) ||
		!op_add_ddl(op, stmt, len, !plan.no_after))
		goto out;
	rc = 0;
out:
	free(plan.before);
	free(stmt);
	return rc;
}

static void
op_free(struct wp_op *op)
{
	if (op == NULL)
		return;
	for (int i = 0; i < op->n; i++)
		free(op->steps[i].data);
	free(op->steps);
	free(op->err);
	if (op->waiter != NULL)
		op->waiter->cl = NULL;	/* the callback frees it */
	free(op);
}

static struct wp_op *
op_new(void)
{
	return calloc(1, sizeof(struct wp_op));
}

static void
op_start(struct proxy_client *cl, struct wp_op *op)
{
	cl->wp->op = op;
	op_run(cl);
}

/* The op is over: the client got its ReadyForQuery. */
static void
op_end(struct proxy_client *cl, char status)
{
	struct proxy_wp *wp = cl->wp;

	op_free(wp->op);
	wp->op = NULL;
	if (status == PQ_TXN_IDLE)
	{
		wp->wrote = false;
		wp->stale = false;
		wp->txn_flags = 0;
	}
	if (cl->state != CL_ACTIVE)
		return;
	proxy_forward_maybe_home(cl);
	if (cl->be != NULL && cl->be->conn.out_len <= PROXY_OUT_HIGH)
		proxy_conn_read_start(cl->px, &cl->conn);
	demote_check(cl);
	(void) wp_pump(cl);
}

/* Finish with the saved error (if any) and ReadyForQuery(status). */
static void
op_finish(struct proxy_client *cl, char status)
{
	struct wp_op *op = cl->wp->op;

	if (op->quiet)
	{
		demote_done(cl, status, op->err != NULL);
		return;
	}
	if (op->err != NULL && to_client(cl, op->err, op->err_len) < 0)
		return;
	if (send_z(cl, status) < 0)
		return;
	op_end(cl, status);
}

/* A step failed (status from the backend): roll back what we opened. */
static void
op_abort(struct proxy_client *cl, char status)
{
	struct wp_op *op = cl->wp->op;

	if (op->implicit && status != PQ_TXN_IDLE)
	{
		op->next = N_SEND_ERR;
		(void) query_to_backend(cl, "ROLLBACK", WP_SWALLOW);
		return;
	}
	op_finish(cl, status);
}

static const char *
cannot_prepare_reason(uint32_t flags)
{
	if (flags & SQL_F_TEMP_OBJECT)
		return "a temporary object";
	if (flags & SQL_F_NOTIFY)
		return "LISTEN/UNLISTEN/NOTIFY";
	if (flags & SQL_F_HOLD_CURSOR)
		return "a cursor WITH HOLD";
	if (flags & SQL_F_EXPORT_SNAPSHOT)
		return "an exported snapshot";
	if (flags & SQL_F_TOUCHES_CATALOG)
		return "a write to a system catalog";
	return "a construct PostgreSQL cannot prepare";
}

/*
 * Sequence positions (docs/sql.md, "Sequences"): nextval and setval are not
 * decoded, so right before PREPARE the primary carries, as DDL of the
 * transaction, a statement that moves every sequence of the database that
 * the session can see forward to its position here: the last_value read
 * now is at or past every value this transaction took, so once the
 * transaction is committed, every node (and so any later primary) is past
 * those values.  Only forward: entries can commit in another order than
 * their reads, and a setval backwards by a client is not carried (gaps,
 * never duplicates).  No sequence, no message (string_agg is NULL and the
 * function strict).  The positions come from pg_sequence itself, with the
 * filters of the pg_sequences view (the session's privilege, no other
 * session's temporary sequence, checked in a CASE before the value is
 * read) and names as format('%I.%I') makes them (pg_identify_object's
 * identity): the view's joins cost 0.14 ms of planning on every commit.
 */
#define WP_SEQ_SQL \
	"SELECT pg_catalog.pg_logical_emit_message(true, 'pgquorum.ddl', " \
	"'SELECT pg_catalog.setval(pg_catalog.format(''%I.%I'', q.schemaname, q.sequencename)::regclass, " \
	"v.v, true) FROM (VALUES ' || pg_catalog.string_agg(pg_catalog.format('(%L, %s::bigint)', " \
	"(pg_catalog.pg_identify_object('pg_catalog.pg_class'::pg_catalog.regclass, s.seqrelid, 0)).identity, " \
	"l.v), ', ') FILTER (WHERE l.v IS NOT NULL) || " \
	"') AS v(n, v) JOIN pg_catalog.pg_sequences q ON " \
	"pg_catalog.format(''%I.%I'', q.schemaname, q.sequencename) = v.n " \
	"WHERE q.last_value IS NULL OR (q.increment_by > 0 AND q.last_value < v.v) " \
	"OR (q.increment_by < 0 AND q.last_value > v.v)') " \
	"FROM pg_catalog.pg_sequence s, LATERAL (SELECT CASE WHEN " \
	"pg_catalog.has_sequence_privilege(s.seqrelid, 'SELECT,USAGE') AND NOT " \
	"pg_catalog.pg_is_other_temp_schema((SELECT c.relnamespace FROM pg_catalog.pg_class c " \
	"WHERE c.oid = s.seqrelid)) THEN pg_catalog.pg_sequence_last_value(s.seqrelid) END AS v) l"

static void
op_commit(struct proxy_client *cl)
{
	struct proxy *px = cl->px;
	struct wp_op *op = cl->wp->op;
	char		sql[sizeof(WP_SEQ_SQL) + 256];
	char		msg[PROXY_ERRMSG_LEN];

	if (cl->wp->txn_flags & (SQL_F_CANNOT_PREPARE | SQL_F_TOUCHES_CATALOG))
	{
		snprintf(msg, sizeof(msg),
				 "could not commit: the transaction used %s, which pgquorum cannot "
				 "replicate (PostgreSQL cannot prepare it); the transaction was rolled back",
				 cannot_prepare_reason(cl->wp->txn_flags));
		op_set_error(op, PQ_SQLSTATE_FEATURE_NOT_SUPPORTED, msg);
		op->next = N_SEND_ERR;
		(void) query_to_backend(cl, "ROLLBACK", WP_SWALLOW);
		return;
	}
	if (px->hooks.db_captured != NULL && !px->hooks.db_captured(px->hooks.arg, cl->pool->database))
	{
		snprintf(msg, sizeof(msg),
				 "could not commit: database \"%s\" is not captured yet (its capture is "
				 "starting, or the database was created moments ago); the transaction was "
				 "rolled back: retry it", cl->pool->database);
		op_set_error(op, SQLSTATE_SERIALIZATION, msg);
		op->next = N_SEND_ERR;
		(void) query_to_backend(cl, "ROLLBACK", WP_SWALLOW);
		return;
	}
	if (px->hooks.new_gid(px->hooks.arg, op->gid, sizeof(op->gid)) < 0)
	{
		/* Leadership was lost since the transaction began: nothing of it
		 * can be logged now, so it is rolled back, never prepared. */
		op_set_error(op, SQLSTATE_SERIALIZATION,
					 "could not commit: this node is no longer the primary; "
					 "the transaction was rolled back");
		op->next = N_SEND_ERR;
		(void) query_to_backend(cl, "ROLLBACK", WP_SWALLOW);
		return;
	}
	snprintf(sql, sizeof(sql),
			 "%s; SELECT pg_logical_emit_message(true, 'pgquorum', '%s'); PREPARE TRANSACTION '%s'",
			 WP_SEQ_SQL, op->gid, op->gid);
	op->next = N_PREPARED;
	(void) query_to_backend(cl, sql, WP_SWALLOW);
}

static void
op_run(struct proxy_client *cl)
{
	struct wp_op *op = cl->wp->op;
	struct wp_step *s;

	if (op->i >= op->n)
	{
		op_finish(cl, cl->be->txn);
		return;
	}
	s = &op->steps[op->i++];
	op->next = N_STEP;
	switch (s->kind)
	{
		case S_INJECT:
			(void) query_to_backend(cl, (const char *) s->data, WP_SWALLOW);
			break;
		case S_FORWARD:
			(void) to_backend(cl, s->data, s->len, WP_HOLD);
			break;
		case S_COMMIT:
			op_commit(cl);
			break;
		case S_STATEMENT:
			op_statement(cl, (const char *) s->data);
			break;
		case S_SWITCH:
			if (cl->fwd == NULL || cl->fwd->state != BE_ACTIVE)
			{
				op_set_error(op, PQ_SQLSTATE_CONNECTION_FAILURE,
							 "lost the connection to the primary node");
				op_finish(cl, cl->be->txn);
				break;
			}
			cl->be = cl->fwd;
			op_run(cl);
			break;
	}
}

/*
 * A waiter's callback came: free it; the session whose op it was, if that
 * session is still there and usable, else NULL.
 */
static struct proxy_client *
waiter_done(void *arg)
{
	struct wp_waiter *w = arg;
	struct proxy_client *cl = w->cl;

	free(w);
	if (cl == NULL || cl->wp == NULL || cl->wp->op == NULL)
		return NULL;
	cl->wp->op->waiter = NULL;
	if (cl->state != CL_ACTIVE || cl->be == NULL)
		return NULL;
	return cl;
}

/*
 * To the node that forwarded this session: the log index its write
 * committed at, as a ParameterStatus that node takes out of the stream
 * (note_commit_index), so that its read_consistency = session can wait for
 * it.
 */
static int
send_commit_index(struct proxy_client *cl, uint64_t index)
{
	uint8_t		buf[128];
	char		value[24];
	struct pq_build b;

	snprintf(value, sizeof(value), "%llu", (unsigned long long) index);
	pq_build_init(&b, buf, sizeof(buf));
	pq_build_begin(&b, PqMsg_ParameterStatus);
	pq_build_string(&b, PROXY_COMMIT_INDEX_PARAM);
	pq_build_string(&b, value);
	pq_build_end(&b);
	PGQ_ASSERT(!b.overflow);
	return to_client(cl, buf, b.len);
}

/* A ParameterStatus p[0..n) from the primary node: the commit index of
 * this session's forwarded write?  Then it is ours, not the client's. */
static bool
note_commit_index(struct proxy_client *cl, const uint8_t *p, size_t n)
{
	static const char name[] = PROXY_COMMIT_INDEX_PARAM;
	struct pq_reader r;
	const char *k,
			   *v;
	char	   *end;
	unsigned long long idx;

	if (n < PQ_HEADER_LEN + sizeof(name) || memcmp(p + PQ_HEADER_LEN, name, sizeof(name)) != 0)
		return false;
	pq_reader_init(&r, p + PQ_HEADER_LEN, n - PQ_HEADER_LEN);
	k = pq_read_string(&r);
	v = pq_read_string(&r);
	if (k == NULL || v == NULL)
		return false;
	idx = strtoull(v, &end, 10);
	if (*end == '\0' && idx > cl->last_write_index)
		cl->last_write_index = idx;
	if (*end == '\0')
		proxy_session_note_write(cl, idx);	/* read_consistency = session */
	return true;
}

static void
on_committed(void *arg, int result, uint64_t index)
{
	struct wp_waiter *w = arg;
	struct proxy_client *cl;
	struct wp_op *op;

	if (w->held != NULL)
	{
		struct proxy_backend *be = w->held;

		free(w);
		be->held->waiter = NULL;
		if (be->state == BE_HELD)
			held_committed(be, result);
		return;
	}
	if ((cl = waiter_done(arg)) == NULL)
		return;
	op = cl->wp->op;
	switch (result)
	{
		case PROXY_COMMIT_OK:
			if (index > cl->last_write_index)
				cl->last_write_index = index;
			if (cl->forwarded_in && send_commit_index(cl, index) < 0)
				return;
			proxy_session_note_write(cl, index);
			if (to_client(cl, op->ok_msgs, op->ok_len) < 0)
				return;
			op_finish(cl, PQ_TXN_IDLE);
			break;
		case PROXY_COMMIT_REFUSED:
			op_set_error(op, SQLSTATE_SERIALIZATION,
						 "could not commit: this node is no longer the primary; "
						 "the transaction was rolled back");
			{
				char		sql[ROLLBACK_PREPARED_LEN];

				rollback_prepared_sql(sql, op->gid);
				op->next = N_SEND_ERR;
				op->rolling_back = true;
				(void) query_to_backend(cl, sql, WP_SWALLOW);
			}
			break;
		default:				/* COMMIT_UNKNOWN, COMMIT_TIMEOUT */
			pgq_warn("proxy: session %u: transaction %s: outcome unknown (%s)", cl->id,
					 op->gid, result == 2 ? "timeout" : "leadership lost");
			op_set_error(op, SQLSTATE_UNKNOWN,
						 result == 2 ?
						 "the transaction's outcome is unknown: its commit did not "
						 "complete in time on the primary" :
						 "the transaction's outcome is unknown: the primary lost "
						 "leadership before it committed");
			op_finish(cl, PQ_TXN_IDLE);
			break;
	}
}

/* The backend answered a step with ReadyForQuery(status). */
static void
wp_on_rfq(struct proxy_client *cl, char status)
{
	struct proxy_backend *be = cl->be;
	struct wp_op *op = cl->wp ? cl->wp->op : NULL;
	bool		err = be->flt_saw_error || be->flt_err_len > 0;

	if (op == NULL)
		return;
	if (be->flt_err_len > 0 && op->err == NULL)
	{
		op->err = malloc(be->flt_err_len);
		if (op->err != NULL)
		{
			memcpy(op->err, be->flt_err, be->flt_err_len);
			op->err_len = be->flt_err_len;
		}
	}
	be->flt_err_len = 0;
	switch (op->next)
	{
		case N_STEP:
			if (err || status == PQ_TXN_FAILED)
				op_abort(cl, status);
			else
				op_run(cl);
			break;
		case N_PREPARED:
			if (err || status != PQ_TXN_IDLE)
			{
				/* PREPARE refused (the server rolled back) or the message failed */
				if (status != PQ_TXN_IDLE)
				{
					op->next = N_SEND_ERR;
					(void) query_to_backend(cl, "ROLLBACK", WP_SWALLOW);
				}
				else
					op_finish(cl, status);
				break;
			}
			op->waiter = calloc(1, sizeof(*op->waiter));
			if (op->waiter == NULL ||
				cl->px->hooks.commit_wait(cl->px->hooks.arg, op->gid, on_committed,
										  op->waiter) < 0)
			{
				free(op->waiter);
				op->waiter = NULL;
				op_set_error(op, SQLSTATE_UNKNOWN,
							 "the transaction's outcome is unknown: too many sessions "
							 "are waiting for their commit");
				op_finish(cl, PQ_TXN_IDLE);
				break;
			}
			op->waiter->cl = cl;
			break;
		case N_SEND_ERR:
			op_finish(cl, status);
			break;
	}
}

/* ---- a COMMIT whose client went away (BE_HELD backends) ---- */

static void held_committed(struct proxy_backend *be, int result);

/* Send our own Query on a held backend; false when it had to close. */
static bool
held_query(struct proxy_backend *be, const char *sql)
{
	uint8_t		m[PQ_HEADER_LEN + 160];
	struct pq_build b;

	pq_build_init(&b, m, sizeof(m));
	pq_build_begin(&b, PqMsg_Query);
	pq_build_string(&b, sql);
	pq_build_end(&b);
	PGQ_ASSERT(!b.overflow);
	if (proxy_conn_send(be->px, &be->conn, m, b.len) == 0)
		return true;
	pgq_warn("proxy: transaction %s: lost the connection to the local server; "
			 "the log resolves the transaction", be->held->gid);
	proxy_backend_close(be);
	return false;
}

/* Prepared with nobody to answer: wait for the log's verdict all the same. */
static void
held_wait(struct proxy_backend *be)
{
	struct proxy_held *h = be->held;
	struct wp_waiter *w = calloc(1, sizeof(*w));
	const struct proxy_hooks *hk = &be->px->hooks;

	h->phase = H_WAITING;
	if (w != NULL)
	{
		w->held = be;
		h->waiter = w;
		if (hk->commit_wait(hk->arg, h->gid, on_committed, w) == 0)
			return;
		h->waiter = NULL;
		free(w);
	}
	pgq_warn("proxy: transaction %s: cannot wait for its commit (too many waiters); "
			 "the log resolves it", h->gid);
	proxy_backend_close(be);
}

/* The log's verdict on a held COMMIT: a refused one is rolled back here. */
static void
held_committed(struct proxy_backend *be, int result)
{
	struct proxy_held *h = be->held;
	char		sql[ROLLBACK_PREPARED_LEN];

	if (result != PROXY_COMMIT_REFUSED)
	{
		pgq_info("proxy: transaction %s (its client is gone): %s", h->gid,
				 result == 0 ? "committed" : "outcome unknown, resolved by the log");
		proxy_backend_close(be);
		return;
	}
	pgq_info("proxy: transaction %s was refused by the log (this node is no longer the "
			 "primary) and its client is gone: rolling it back", h->gid);
	rollback_prepared_sql(sql, h->gid);
	h->phase = H_ROLLING_BACK;
	h->saw_error = false;
	(void) held_query(be, sql);
}

/* A held backend's ReadyForQuery(status) ended the current phase. */
static void
held_step(struct proxy_backend *be, char status)
{
	struct proxy_held *h = be->held;
	bool		err = h->saw_error;

	h->saw_error = false;
	switch (h->phase)
	{
		case H_PREPARING:
			if (!err && status == PQ_TXN_IDLE)
			{
				held_wait(be);
				return;
			}
			pgq_info("proxy: transaction %s: its PREPARE failed after its client went away; "
					 "nothing of it is kept", h->gid);
			break;
		case H_WAITING:
			return;				/* nothing was asked */
		case H_ROLLING_BACK:
			if (err)
				pgq_warn("proxy: transaction %s: ROLLBACK PREPARED failed (it may have been "
						 "resolved already); the applier resolves what is left", h->gid);
			else
				pgq_info("proxy: transaction %s rolled back", h->gid);
			break;
	}
	proxy_backend_close(be);	/* not reused: the server rolls back what is open */
}

void
proxy_write_held_bytes(struct proxy_backend *be, const uint8_t *data, size_t n)
{
	size_t		off = 0;

	PGQ_ASSERT(be->state == BE_HELD && be->held != NULL);
	while (off < n && be->state == BE_HELD)
	{
		size_t		used;
		enum pq_scan_result r = pq_scan_step(&be->scan, data + off, n - off, &used);

		off += used;
		if (r == PQ_SCAN_MORE)
			return;
		if (r != PQ_SCAN_MESSAGE)
		{
			pgq_warn("proxy: transaction %s: the local server sent an invalid message; "
					 "the log resolves the transaction", be->held->gid);
			proxy_backend_close(be);
			return;
		}
		if (be->scan.type == PqMsg_ErrorResponse)
			be->held->saw_error = true;
		else if (be->scan.type == PqMsg_ReadyForQuery)
			held_step(be, (char) be->scan.peek[0]);
	}
}

bool
proxy_write_hold_backend(struct proxy_client *cl, struct proxy_backend *be)
{
	struct wp_op *op = cl->wp != NULL ? cl->wp->op : NULL;
	struct proxy_held *h;

	if (op == NULL || cl->px->stopping || be != cl->home || be->fwd_addr != NULL ||
		!(op->next == N_PREPARED || (op->next == N_SEND_ERR && op->rolling_back)) ||
		(h = calloc(1, sizeof(*h))) == NULL)
		return false;
	PGQ_ASSERT(be->state == BE_ACTIVE && be->client == NULL && be->held == NULL);
	snprintf(h->gid, sizeof(h->gid), "%s", op->gid);
	h->phase = op->rolling_back ? H_ROLLING_BACK : op->waiter != NULL ? H_WAITING : H_PREPARING;
	h->saw_error = be->flt_saw_error || be->flt_err_len > 0;
	if (op->waiter != NULL)
	{
		h->waiter = op->waiter;	/* the wait now answers the backend */
		h->waiter->cl = NULL;
		h->waiter->held = be;
		op->waiter = NULL;
	}
	be->held = h;
	proxy_backend_set_state(be, BE_HELD);
	proxy_conn_read_start(cl->px, &be->conn);
	pgq_info("proxy: session %u went away during the COMMIT of %s; its backend finishes it",
			 cl->id, h->gid);
	return true;
}

/* ---- batches ---- */

static int
forward_plain(struct proxy_client *cl, const uint8_t *p, size_t n)
{
	return to_backend(cl, p, n, WP_FWD);
}

/*
 * A write on a node that is not the (writable) primary and cannot forward
 * it: refused, never run on this server alone, which would make the servers
 * diverge silently.
 */
static int
refuse_write(struct proxy_client *cl)
{
	return send_error_z(cl, "25006",
						"this node is not the primary and does not forward this write "
						"(it was forwarded here by another node, or this node cannot reach "
						"the primary): retry, or run writes through the primary node",
						cl->be->txn);
}

static bool
primary(struct proxy_client *cl)
{
	return cl->px->hooks.is_primary(cl->px->hooks.arg);
}

/* ---- statements that cannot run in a transaction block ---- */

static void
on_statement_done(void *arg, enum proxy_stmt_result result, const char *sqlstate,
				  const char *text)
{
	struct proxy_client *cl = waiter_done(arg);
	struct wp_op *op;
	uint8_t		cc[PROXY_ERRMSG_LEN + 16];

	if (cl == NULL)
		return;
	op = cl->wp->op;
	if (result == PROXY_STMT_OK)
	{
		if (to_client(cl, cc, build_cc(cc, sizeof(cc), text)) < 0)
			return;
	}
	else
	{
		pgq_info("proxy: session %u: the logged statement ended with %s: %s", cl->id,
				 sqlstate, text);
		op_set_error(op, sqlstate, text);
	}
	op_finish(cl, cl->be->txn);
}

/*
 * Log the statement (hooks.statement); the applier of every node runs it,
 * this node's included, and the client hears how it went here.
 */
static void
op_statement(struct proxy_client *cl, const char *sql)
{
	struct wp_op *op = cl->wp->op;
	const struct proxy_hooks *h = &cl->px->hooks;

	op->waiter = calloc(1, sizeof(*op->waiter));
	if (op->waiter == NULL || h->statement == NULL ||
		h->statement(h->arg, cl->pool->database, cl->pool->user, sql,
					 on_statement_done, op->waiter) < 0)
	{
		free(op->waiter);
		op->waiter = NULL;
		op_set_error(op, PQ_SQLSTATE_FEATURE_NOT_SUPPORTED,
					 "could not log the statement for the other nodes (too large, or "
					 "this node is not the primary); it was not run");
		op_finish(cl, cl->be->txn);
		return;
	}
	op->waiter->cl = cl;
}

/*
 * A Query holding a statement that cannot run in a transaction block
 * (CREATE DATABASE, VACUUM, CREATE INDEX CONCURRENTLY ...): alone and
 * outside a transaction it goes through the log (S_STATEMENT) and is not
 * run on this session's backend; otherwise PostgreSQL refuses it itself
 * ("cannot run inside a transaction block"), so it is forwarded.
 */
static int
batch_statement(struct proxy_client *cl, const uint8_t *p, size_t n, uint32_t n_stmts)
{
	const struct proxy_hooks *h = &cl->px->hooks;
	struct wp_op *op;

	if (cl->be->pending > 0)
	{
		cl->wp->wait_idle = true;
		return 1;
	}
	if (n_stmts != 1 || cl->be->txn != PQ_TXN_IDLE)
		return forward_plain(cl, p, n);
	if (h->ddl_plan != NULL)
	{
		struct sql_ddl_plan plan = {.pw_loc = -1};

		h->ddl_plan(h->arg, (const char *) p + PQ_HEADER_LEN, &plan);
		free(plan.before);
		if (plan.refuse[0] != '\0')
			return refuse_in_server(cl, plan.refuse);
	}
	if ((op = op_new()) == NULL ||
		op_add(op, S_STATEMENT, p + PQ_HEADER_LEN, n - PQ_HEADER_LEN - 1, true) == NULL)
	{
		op_free(op);
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_INTERNAL_ERROR, "out of memory");
		return -1;
	}
	op_start(cl, op);
	return 0;
}

/* ---- forwarding: a secondary moves a writing transaction to the primary ---- */

struct wp_bytes
{
	uint8_t    *p;
	size_t		len,
				cap;
	bool		oom;
};

static void
bytes_add(struct wp_bytes *b, const uint8_t *p, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap)
	{
		size_t		nc = b->cap ? b->cap * 2 : 256;
		uint8_t    *np;

		while (nc < b->len + n)
			nc *= 2;
		if ((np = realloc(b->p, nc)) == NULL)
		{
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* Close('S', name) */
static void
bytes_add_close(struct wp_bytes *b, const char *name)
{
	size_t		nl = strlen(name) + 1;
	uint8_t		h[6] = {PqMsg_Close, 0, 0, 0, 0, 'S'};

	pq_put_uint32(h + 1, (uint32_t) (4 + 1 + nl));
	bytes_add(b, h, sizeof(h));
	bytes_add(b, (const uint8_t *) name, nl);
}

/* The statement must exist as the client defined it on this side. */
static int
side_need(struct wp_bytes *b, struct wp_stmt *s, int side)
{
	int			drop = 0;

	if (s == NULL || !s->live || s->on[side] || s->parse == NULL)
		return 0;
	if (s->name[0] != '\0' && s->ex[side])
	{
		bytes_add_close(b, s->name);
		drop++;
	}
	bytes_add(b, s->parse, s->parse_len);
	s->ex[side] = s->on[side] = true;
	return drop + 1;
}

/*
 * Once a session has forwarded, its named statements may exist on either
 * connection (the local backend, side 0; the primary, side 1).  Before
 * messages p[0..n) go to the session's current connection, put into *out
 * the Close and Parse messages that make every statement they use exist
 * there as the client last defined it; returns how many of the server's
 * answers (ParseComplete, CloseComplete) the filter must drop, -1 when out
 * of memory.
 */
static int
side_prepare(struct proxy_client *cl, const uint8_t *p, size_t n,
			 uint8_t **out, size_t *out_len)
{
	struct proxy_wp *wp = cl->wp;
	int			side = cl->be == cl->fwd ? 1 : 0;
	struct wp_bytes b = {0};
	int			drop = 0;

	for (size_t off = 0; off + PQ_HEADER_LEN <= n;)
	{
		uint8_t		type = p[off];
		uint32_t	len = pq_get_uint32(p + off + 1);
		struct pq_reader r;
		const char *a;
		struct wp_stmt *s;

		pq_reader_init(&r, p + off + PQ_HEADER_LEN, len - 4);
		switch (type)
		{
			case PqMsg_Parse:
				if ((a = pq_read_string(&r)) == NULL || (s = stmt_find(wp, a)) == NULL)
					break;
				if (a[0] != '\0' && s->ex[side] && !s->live)
				{
					bytes_add_close(&b, a);
					drop++;
				}
				s->ex[side] = s->on[side] = s->live = true;
				s->on[!side] = false;
				break;
			case PqMsg_Bind:
				if (pq_read_string(&r) != NULL && (a = pq_read_string(&r)) != NULL)
					drop += side_need(&b, stmt_find(wp, a), side);
				break;
			case PqMsg_Describe:
			case PqMsg_Close:
				if (pq_read_byte(&r) != 'S' || (a = pq_read_string(&r)) == NULL ||
					(s = stmt_find(wp, a)) == NULL)
					break;
				if (type == PqMsg_Describe)
					drop += side_need(&b, s, side);
				else
				{
					s->ex[side] = s->on[side] = s->live = false;
					if (!s->ex[!side])
						stmt_remove(wp, a);
				}
				break;
			default:
				break;
		}
		off += 1 + len;
	}
	if (b.oom)
	{
		free(b.p);
		return -1;
	}
	*out = b.p;
	*out_len = b.len;
	return drop;
}

static bool
text_has(const char *text, const char *word)
{
	size_t		wl = strlen(word);

	for (const char *t = text; *t; t++)
		if (strncasecmp(t, word, wl) == 0)
			return true;
	return false;
}

/*
 * What a batch run on the local server changes that the primary connection
 * must see: session settings and SQL prepared statements (replayed before
 * the first forwarded transaction, and again after more), the transaction's
 * BEGIN, savepoints.  Only the simple protocol's texts are recorded.
 */
static void
note_local_query(struct proxy_client *cl, const char *text, const struct wp_text *t)
{
	struct proxy_wp *wp = cl->wp;
	const struct proxy_hooks *h = &cl->px->hooks;
	const sql_result *r;
	size_t		text_len;

	if (t->txn1 == SQL_TXN_BEGIN)
	{
		free(wp->begin);
		wp->begin = strdup(text);
		wp->since_begin = 0;
		wp->savepoint = false;
		return;
	}
	wp->since_begin++;
	wp->savepoint |= t->txn1 == SQL_TXN_SAVEPOINT;
	if ((r = h->classify(h->arg, text)) == NULL || r->status != SQL_STATUS_OK ||
		r->n_stmts == 0 || (r->flags & SQL_F_PGQUORUM_SETTING))
		return;
	for (uint32_t i = 0; i < r->n_stmts; i++)
	{
		const sql_stmt *st = &r->stmts[i];

		if (st->cls == SQL_CLASS_SESSION_STATE && st->session == SQL_SESSION_DISCARD)
		{
			free(wp->sess);
			wp->sess = NULL;
			wp->sess_len = 0;
			wp->sess_sent = 0;
			proxy_forward_drop(cl);
			return;
		}
	}
	/* each such statement, also from a string of several */
	text_len = strlen(text);
	for (uint32_t i = 0; i < r->n_stmts; i++)
	{
		const sql_stmt *st = &r->stmts[i];
		size_t		tl;
		char	   *ns;

		if (st->cls != SQL_CLASS_SESSION_STATE ||
			(st->session != SQL_SESSION_SET && st->session != SQL_SESSION_RESET &&
			 st->session != SQL_SESSION_PREPARE && st->session != SQL_SESSION_DEALLOCATE) ||
			st->location < 0 || (size_t) st->location > text_len)
			continue;
		tl = st->length > 0 ? (size_t) st->length : text_len - (size_t) st->location;
		if ((ns = realloc(wp->sess, wp->sess_len + tl + 2)) == NULL)
			return;
		memcpy(ns + wp->sess_len, text + st->location, tl);
		ns[wp->sess_len + tl] = ';';
		ns[wp->sess_len + tl + 1] = '\0';
		wp->sess = ns;
		wp->sess_len += tl + 1;
	}
}

/*
 * The connection to the primary node for a batch that moves there: 0 when
 * ready, 1 to wait for its login (the batch stays held), 2 when the batch
 * was refused (answered: a write with 25006 or the primary's error, a read
 * through forward_read_refused), -1 when the session ended.
 */
static int	forward_read_refused(struct proxy_client *cl);

static int
forward_connect(struct proxy_client *cl, bool read)
{
	char		status = cl->be->txn;
	int			rc = proxy_forward_prepare(cl);

	if (rc == 1)
	{
		cl->fwd_wait = true;
		return 1;
	}
	if (rc == 0)
	{
		cl->wp->fwd_used = true;	/* every statement so far is on the local side */
		return 0;
	}
	if (read)
		return forward_read_refused(cl);
	if (cl->fwd_err != NULL)
	{
		rc = to_client(cl, cl->fwd_err, cl->fwd_err_len);
		free(cl->fwd_err);
		cl->fwd_err = NULL;
		return rc < 0 || send_z(cl, status) < 0 ? -1 : 2;
	}
	return send_error_z(cl, "25006", "this node is a secondary and no primary is known "
						"right now (an election may be in progress): retry the write",
						status) < 0 ? -1 : 2;
}

/*
 * The op that runs p[0..n) on the primary node: in a transaction block,
 * the local transaction (which only read) is rolled back and its BEGIN
 * replayed there; before it, the session's state (SET, PREPARE, ...) and
 * its read consistency, when the primary connection lacks them.  Returns
 * 0 (started), -1 when the session ended.
 */
static int
forward_op(struct proxy_client *cl, const uint8_t *p, size_t n, bool in_block)
{
	struct proxy_wp *wp = cl->wp;
	struct wp_op *op = op_new();
	const char *level = proxy_admin_forward_setting(cl);
	const char *b = wp->begin != NULL ? wp->begin : "BEGIN";

	if (op == NULL ||
		(in_block && op_add(op, S_INJECT, "ROLLBACK", 8, true) == NULL) ||
		op_add(op, S_SWITCH, NULL, 0, false) == NULL ||
		(wp->sess_sent < wp->sess_len &&
		 op_add(op, S_INJECT, wp->sess + wp->sess_sent, wp->sess_len - wp->sess_sent,
				true) == NULL) ||
		(level != NULL && op_add(op, S_INJECT, level, strlen(level), true) == NULL) ||
		(in_block && op_add(op, S_INJECT, b, strlen(b), true) == NULL) ||
		op_add(op, S_FORWARD, p, n, false) == NULL)
	{
		op_free(op);
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_INTERNAL_ERROR, "out of memory");
		return -1;
	}
	wp->sess_sent = wp->sess_len;
	op_start(cl, op);
	return 0;
}

/*
 * A batch that may write, on a secondary: the session's transaction moves
 * to the primary node (docs/proxy.md, "Forwarding").  Returns 0 when the
 * batch was taken, 1 to wait, -1 when the session ended.  A write never
 * runs on this node's server alone: that would make the servers diverge.
 */
static int
forward_write(struct proxy_client *cl, const uint8_t *p, size_t n)
{
	struct proxy_wp *wp = cl->wp;
	struct proxy_backend *home = cl->be;
	bool		in_block = home->txn == PQ_TXN_BLOCK;
	int			rc;

	if (cl->forwarded_in || cl->px->hooks.primary_addr == NULL)
		return refuse_write(cl);
	if (home->pending > 0)
	{
		wp->wait_idle = true;
		return 1;
	}
	if (home->txn == PQ_TXN_FAILED)
		return send_error_z(cl, "25P02", "current transaction is aborted, commands ignored "
							"until end of transaction block", PQ_TXN_FAILED);
	if (home->unsynced)
		return refuse_write(cl);
	if (in_block && (wp->savepoint ||
					 (wp->since_begin > 0 && wp->begin != NULL &&
					  (text_has(wp->begin, "repeatable") || text_has(wp->begin, "serializable")))))
		return send_error_z(cl, "25006",
							"this transaction cannot move to the primary node: it read on this "
							"secondary before its first write and it is REPEATABLE READ or "
							"SERIALIZABLE, or it has a savepoint; run it through the primary "
							"node, or make its first statement the write", home->txn);
	if ((rc = forward_connect(cl, false)) != 0)
		return rc == 2 ? 0 : rc;
	cl->px->forwarded_writes++;
	return forward_op(cl, p, n, in_block);
}

/* The SQLSTATE of the whole ErrorResponse err[0..len) into state ("" when
 * it has none). */
static void
error_sqlstate(const uint8_t *err, size_t len, char state[6])
{
	struct pq_reader r;
	uint8_t		field;
	const char *v;

	state[0] = '\0';
	if (len < PQ_HEADER_LEN)
		return;
	pq_reader_init(&r, err + PQ_HEADER_LEN, len - PQ_HEADER_LEN);
	while ((field = pq_read_byte(&r)) != 0 && (v = pq_read_string(&r)) != NULL)
		if (field == 'C')
		{
			snprintf(state, 6, "%s", v);
			return;
		}
}

/*
 * A strong read could not go to the primary node: 40001, never a local
 * read (it could miss a write the primary acknowledged).  An error the
 * primary node itself gave the login (other than its 25006 "not the
 * primary") goes to the client as it is.  Returns 2, or -1.
 */
static int
forward_read_refused(struct proxy_client *cl)
{
	char		state[6] = "";
	int			rc;

	if (cl->fwd_err != NULL)
		error_sqlstate(cl->fwd_err, cl->fwd_err_len, state);
	if (state[0] != '\0' && strcmp(state, "25006") != 0)
		rc = to_client(cl, cl->fwd_err, cl->fwd_err_len) < 0 ? -1 : send_z(cl, PQ_TXN_IDLE);
	else
		rc = send_error_z(cl, SQLSTATE_SERIALIZATION,
						  "read_consistency strong: this node is a secondary and could not "
						  "reach the primary node to run the read there (none is known right "
						  "now, or it did not answer); the read was not run on this node, "
						  "which could miss acknowledged writes: retry", PQ_TXN_IDLE);
	free(cl->fwd_err);
	cl->fwd_err = NULL;
	return rc < 0 ? -1 : 2;
}

/*
 * A batch of a strong session on a secondary that starts a transaction
 * (proxy_admin.c said PROXY_ADMIN_PRIMARY): it runs on the primary node,
 * whose node confirms its leadership first, and a transaction it begins
 * stays there up to its end (docs/admin-views.md, "Read consistency").
 * Returns 0 when taken or refused, 1 to wait, -1 when the session ended.
 */
static int
forward_read(struct proxy_client *cl, const uint8_t *p, size_t n)
{
	struct proxy_backend *home = cl->be;
	int			rc;

	PGQ_ASSERT(home == cl->home && home->pending == 0 && home->txn == PQ_TXN_IDLE);
	if (cl->forwarded_in || cl->px->hooks.primary_addr == NULL)
		return send_error_z(cl, SQLSTATE_SERIALIZATION,
							"read_consistency strong: this node is not the primary (any "
							"more) and does not forward this session again: retry",
							PQ_TXN_IDLE);
	if (home->unsynced)
		return send_error_z(cl, PQ_SQLSTATE_FEATURE_NOT_SUPPORTED,
							"read_consistency strong: this batch continues extended-protocol "
							"messages that already ran on this secondary (sent with Flush, "
							"without Sync), so it cannot move to the primary node: end the "
							"batch with Sync, or use read_consistency session", PQ_TXN_IDLE);
	if ((rc = forward_connect(cl, true)) != 0)
		return rc == 2 ? 0 : rc;
	return forward_op(cl, p, n, false);
}

int
proxy_write_pump(struct proxy_client *cl)
{
	if (cl->wp == NULL)
		return 0;
	cl->wp->wait_idle = false;
	return wp_pump(cl);
}

/* A Query on the primary: returns 0, 1 to wait for an idle backend, -1. */
static int
batch_query(struct proxy_client *cl, const uint8_t *p, size_t n)
{
	struct proxy_wp *wp = cl->wp;
	struct proxy_backend *be = cl->be;
	const char *text = (const char *) p + PQ_HEADER_LEN;
	struct wp_text t;
	struct wp_op *op;
	int			rc = 0;
	char		status;

	if (p[n - 1] != '\0')
		return forward_plain(cl, p, n);
	classify_text(cl, text, &t);
	if (t.notxn)
	{
		free(t.st);
		return batch_statement(cl, p, n, t.n);
	}
	if (!t.writes && !(t.txn1 == SQL_TXN_COMMIT && wp->wrote))
	{
		free(t.st);
		return forward_plain(cl, p, n);
	}
	if (be->pending > 0)
	{
		free(t.st);
		wp->wait_idle = true;
		return 1;
	}
	status = be->txn;
	if (status == PQ_TXN_FAILED)
	{
		free(t.st);
		return forward_plain(cl, p, n);
	}
	if (t.txnctl && t.n > 1)
	{
		free(t.st);
		if (send_error(cl, PQ_SQLSTATE_FEATURE_NOT_SUPPORTED,
					   "a query string with several statements that writes cannot contain "
					   "transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ...) through "
					   "pgquorum yet: send those statements separately") < 0)
			return -1;
		return send_z(cl, status);
	}
	if (t.txn1 == SQL_TXN_COMMIT && t.chain)
	{
		free(t.st);
		if (send_error(cl, PQ_SQLSTATE_FEATURE_NOT_SUPPORTED,
					   "COMMIT AND CHAIN of a transaction that wrote is not supported by "
					   "pgquorum yet; the transaction is still open") < 0)
			return -1;
		return send_z(cl, status);
	}
	if ((op = op_new()) == NULL)
		goto oom;
	wp->txn_flags |= t.flags;
	if (t.txn1 == SQL_TXN_COMMIT)
	{
		/* COMMIT/END of a transaction that wrote */
		free(t.st);
		if (status != PQ_TXN_BLOCK)
		{
			op_free(op);
			return forward_plain(cl, p, n);
		}
		op->ok_len = build_cc(op->ok_msgs, sizeof(op->ok_msgs), "COMMIT");
		if (op_add(op, S_COMMIT, NULL, 0, false) == NULL)
			goto oom_op;
		op_start(cl, op);
		return 0;
	}
	wp->wrote = true;
	if (status == PQ_TXN_IDLE)
	{
		op->implicit = true;
		if (op_add(op, S_INJECT, "BEGIN", 5, true) == NULL)
			goto oom_op;
	}
	if (t.ddl)
	{
		uint32_t	nst = t.n ? t.n : 1;

		for (uint32_t i = 0; i < nst; i++)
		{
			size_t		loc = t.n ? (size_t) t.st[i].loc : 0,
						len = t.n && t.st[i].len ? (size_t) t.st[i].len : strlen(text + loc);
			char		why[PROXY_ERRMSG_LEN];
			int			rc2;

			rc2 = (t.n == 0 || t.st[i].ddl) ?
				op_add_ddl_stmt(cl, op, text + loc, len, why, sizeof(why)) :
				(op_add_query(op, S_FORWARD, text + loc, len) ? 0 : -1);
			if (rc2 < 0)
				goto oom_op;
			if (rc2 > 0)
			{
				/* refused before anything ran */
				op_free(op);
				free(t.st);
				wp->wrote = status != PQ_TXN_IDLE;
				if (send_error(cl, PQ_SQLSTATE_FEATURE_NOT_SUPPORTED, why) < 0)
					return -1;
				return send_z(cl, status);
			}
		}
	}
	else
	{
		if (op_add(op, S_FORWARD, p, n, false) == NULL)
			goto oom_op;
	}
	if (status == PQ_TXN_IDLE && op_add(op, S_COMMIT, NULL, 0, false) == NULL)
		goto oom_op;
	free(t.st);
	if (op->n == 1 && op->steps[0].kind == S_FORWARD)
	{
		/* a plain write inside an explicit transaction */
		op_free(op);
		return forward_plain(cl, p, n);
	}
	op_start(cl, op);
	return rc;
oom_op:
	op_free(op);
oom:
	free(t.st);
	proxy_client_error(cl, "FATAL", PQ_SQLSTATE_INTERNAL_ERROR, "out of memory");
	return -1;
}

/*
 * DDL in an extended batch is carried by its text after the batch; one
 * that needs more (CREATE TABLE AS, a role's password, a refused form) is
 * refused before anything runs: returns 1 (the error was sent), 0 when
 * not refused, -1 when the session ended.
 */
static int
ext_ddl_refused(struct proxy_client *cl, const struct wp_ext *x)
{
	const struct proxy_hooks *h = &cl->px->hooks;
	char		why[PROXY_ERRMSG_LEN] = "";

	for (int i = 0; i < x->n_ddl && h->ddl_plan != NULL && why[0] == '\0'; i++)
	{
		struct sql_ddl_plan plan = {.pw_loc = -1};

		h->ddl_plan(h->arg, x->ddl[i], &plan);
		if (plan.refuse[0] != '\0')
			snprintf(why, sizeof(why), "%s", plan.refuse);
		else if (plan.before != NULL || plan.pw_loc >= 0)
			snprintf(why, sizeof(why), "pgquorum replicates this statement (CREATE TABLE AS, "
					 "or a role's password) only when it is sent as a simple Query; it was not run");
		free(plan.before);
	}
	if (why[0] == '\0')
		return 0;
	return send_error(cl, PQ_SQLSTATE_FEATURE_NOT_SUPPORTED, why) < 0 ? -1 : 1;
}

/* An extended-protocol batch ending with Sync on the primary. */
static int
batch_ext(struct proxy_client *cl, const uint8_t *p, size_t n)
{
	struct proxy_wp *wp = cl->wp;
	struct proxy_backend *be = cl->be;
	struct wp_ext x;
	struct wp_op *op;
	char		status;
	static const uint8_t sync[5] = {PqMsg_Sync, 0, 0, 0, 4};

	analyze_ext(cl, p, n, &x);
	if (x.notxn)
	{
		if (be->pending > 0)
		{
			wp->wait_idle = true;
			return 1;
		}
		if (send_error(cl, PQ_SQLSTATE_FEATURE_NOT_SUPPORTED,
					   "a statement that cannot run in a transaction block (CREATE DATABASE, "
					   "VACUUM, CREATE INDEX CONCURRENTLY, ...) is replicated by pgquorum only "
					   "when sent alone as a simple Query; it was not run") < 0)
			return -1;
		return send_z(cl, be->txn);
	}
	if (!x.writes && !(x.commit_off >= 0 && wp->wrote))
		return forward_plain(cl, p, n);
	if (be->pending > 0)
	{
		wp->wait_idle = true;
		return 1;
	}
	status = be->txn;
	if (status == PQ_TXN_FAILED || be->unsynced ||
		(x.txnctl && status == PQ_TXN_IDLE))
	{
		if (status == PQ_TXN_IDLE)
			pgq_warn("proxy: session %u: an extended-protocol batch that writes %s; "
					 "it is forwarded as is and NOT replicated", cl->id,
					 be->unsynced ? "continues an unsynced sequence" :
					 "contains transaction control");
		wp->wrote |= x.writes;
		return forward_plain(cl, p, n);
	}
	switch (ext_ddl_refused(cl, &x))
	{
		case 1:
			return send_z(cl, status);
		case -1:
			return -1;
	}
	if ((op = op_new()) == NULL)
		goto oom;
	wp->txn_flags |= x.flags;
	wp->wrote |= x.writes;
	if (status == PQ_TXN_BLOCK && x.commit_off >= 0 && wp->wrote)
	{
		if (x.commit_off > 0)
		{
			struct wp_step *s = op_add(op, S_FORWARD, p, (size_t) x.commit_off + 5, false);

			if (s == NULL)
				goto oom_op;
			memcpy(s->data + x.commit_off, sync, 5);
		}
		for (int i = 0; i < x.n_ddl; i++)
			if (!op_add_ddl(op, x.ddl[i], strlen(x.ddl[i]), true))
				goto oom_op;
		op->ok_len = build_cc(op->ok_msgs, sizeof(op->ok_msgs), "COMMIT");
		if (op_add(op, S_COMMIT, NULL, 0, false) == NULL)
			goto oom_op;
		op_start(cl, op);
		return 0;
	}
	if (status == PQ_TXN_IDLE)
	{
		op->implicit = true;
		if (op_add(op, S_INJECT, "BEGIN", 5, true) == NULL)
			goto oom_op;
	}
	if (op_add(op, S_FORWARD, p, n, false) == NULL)
		goto oom_op;
	for (int i = 0; i < x.n_ddl; i++)
		if (!op_add_ddl(op, x.ddl[i], strlen(x.ddl[i]), true))
			goto oom_op;
	if (status == PQ_TXN_IDLE && op_add(op, S_COMMIT, NULL, 0, false) == NULL)
		goto oom_op;
	if (op->n == 1)
	{
		op_free(op);
		return forward_plain(cl, p, n);
	}
	op_start(cl, op);
	return 0;
oom_op:
	op_free(op);
oom:
	proxy_client_error(cl, "FATAL", PQ_SQLSTATE_INTERNAL_ERROR, "out of memory");
	return -1;
}

/* Offset of the last whole message of p[0..n). */
static size_t
last_msg_off(const uint8_t *p, size_t n)
{
	size_t		last = 0;

	for (size_t off = 0; off + PQ_HEADER_LEN <= n; off += 1 + pq_get_uint32(p + off + 1))
		last = off;
	return last;
}

/*
 * Have the server raise our error in place of the client's statement: the
 * client gets ErrorResponse + ReadyForQuery from PostgreSQL itself, and a
 * transaction block is aborted as by any error in it.
 */
static int
refuse_in_server(struct proxy_client *cl, const char *msg)
{
	pgq_info("proxy: session %u: refused: %s", cl->id, msg);
	return raise_in_server(cl, "feature_not_supported", msg);
}

/* The server raises msg with errcode (a condition name) as its own error. */
static int
raise_in_server(struct proxy_client *cl, const char *errcode, const char *msg)
{
	static const char pre[] = "DO $pgq$BEGIN RAISE EXCEPTION USING ERRCODE = '";
	char		sql[sizeof(pre) + 64 + 2 * PROXY_ERRMSG_LEN + 32];
	size_t		k = sizeof(pre) - 1;

	memcpy(sql, pre, k);
	k += (size_t) snprintf(sql + k, 64, "%s', MESSAGE = '", errcode);
	for (const char *c = msg; *c && k < sizeof(sql) - 32; c++)
	{
		if (*c == '\'')
			sql[k++] = '\'';
		if (*c != '$')
			sql[k++] = *c;
	}
	memcpy(sql + k, "'; END$pgq$", 12);
	return query_to_backend(cl, sql, WP_FWD);
}

/* What in flags pgquorum cannot replicate, or NULL. */
static const char *
unreplicable(uint32_t flags)
{
	if (flags & SQL_F_USES_LARGE_OBJECT)
		return "large objects (lo_create, lo_import, lo_open, lo_write, lo_put, lo_unlink, ...) "
			"are not replicated by pgquorum (logical decoding does not carry them): "
			"store the data in a bytea column";
	if (flags & SQL_F_EMITS_MESSAGE)
		return "pg_logical_emit_message() is refused through pgquorum: its messages share "
			"the stream that carries pgquorum's own DDL";
	return NULL;
}

/*
 * A Query whose statements cannot be replicated, on any node: refused in
 * the server's name.  Returns 1 when refused, 0 when not, -1 on error.
 */
static int
refuse_unreplicable_query(struct proxy_client *cl, const char *text)
{
	struct wp_text t;
	const char *why;

	classify_text(cl, text, &t);
	free(t.st);
	why = unreplicable(t.flags);
	if (why == NULL && (t.txn1 == SQL_TXN_PREPARE || t.txn1 == SQL_TXN_COMMIT_PREPARED ||
						t.txn1 == SQL_TXN_ROLLBACK_PREPARED))
		why = "PREPARE TRANSACTION, COMMIT PREPARED and ROLLBACK PREPARED are refused through "
			"pgquorum: it ends every writing transaction with its own two-phase commit";
	if (why == NULL)
		return 0;
	return refuse_in_server(cl, why) < 0 ? -1 : 1;
}

/* ---- the node stopped being the primary (proxy_demoted) ---- */

#define DEMOTED_MSG "this node is no longer the primary: the transaction was rolled back " \
	"(nothing of it was committed); end it with ROLLBACK and retry it"
#define DEMOTED_COMMIT_MSG "could not commit: this node is no longer the primary; " \
	"the transaction was rolled back"

/*
 * Only a transaction that holds a lock on a user relation (it wrote a
 * table, locked rows, made or altered a relation) can stand in the
 * applier's way; one that touched only temporary tables and catalogs (a
 * pgTAP suite's bookkeeping) is left open.  The check raises inside a
 * savepoint when such a lock is held, so that it leaves a transaction it
 * keeps exactly as it was.
 */
#define DEMOTE_CHECK_SQL \
	"SAVEPOINT pgquorum_demote_check; DO $pgq$BEGIN IF EXISTS (SELECT 1 " \
	"FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_class c ON c.oid = l.relation " \
	"WHERE l.pid = pg_catalog.pg_backend_pid() AND l.granted AND l.locktype = 'relation' " \
	"AND l.mode <> 'AccessShareLock' AND c.relpersistence <> 't' AND c.oid >= 16384) " \
	"THEN RAISE EXCEPTION 'pgquorum: the transaction holds locks on user relations'; " \
	"END IF; END$pgq$; RELEASE SAVEPOINT pgquorum_demote_check"
#define DEMOTE_CHECK	1
#define DEMOTE_ROLLBACK	2

/*
 * A session marked by proxy_demoted, once nothing is in flight on its
 * local backend: first see whether its transaction holds locks on user
 * relations (DEMOTE_CHECK_SQL; a failed transaction does, as long as it is
 * open); if so, roll it back there (its row locks go at once) and open an
 * empty block in its place, so that the client, which still believes it
 * is in a transaction, stays in one (demote_answer).
 */
static void
demote_check(struct proxy_client *cl)
{
	struct proxy_wp *wp = cl->wp;
	struct proxy_backend *be = cl->be;
	struct wp_op *op;
	bool		check;
	const char *sql;

	if (wp == NULL || !wp->demote || wp->op != NULL || cl->state != CL_ACTIVE ||
		be == NULL || be->pending > 0 || be->unsynced)
		return;
	wp->demote = false;
	if (!wp->wrote || wp->stale || be != cl->home || be->txn == PQ_TXN_IDLE)
		return;					/* it ended meanwhile, or runs elsewhere */
	check = wp->demote_stage != DEMOTE_CHECK && be->txn != PQ_TXN_FAILED;
	sql = check ? DEMOTE_CHECK_SQL : "ROLLBACK; BEGIN";
	if ((op = op_new()) == NULL || op_add(op, S_INJECT, sql, strlen(sql), true) == NULL)
	{
		op_free(op);
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_ADMIN_SHUTDOWN,
						   "terminating connection: this node is no longer the primary "
						   "(out of memory rolling the transaction back)");
		return;
	}
	op->quiet = true;
	wp->demote_stage = check ? DEMOTE_CHECK : DEMOTE_ROLLBACK;
	if (!check)
		pgq_info("proxy: session %u: this node is no longer the primary: rolling back its "
				 "transaction, which wrote", cl->id);
	op_start(cl, op);
}

/*
 * The quiet op of demote_check answered.  After the check: no lock held,
 * the transaction stays (stale: a COMMIT while this node is not the
 * primary is refused, demote_answer), else it is rolled back next.  After
 * the rollback the block must be empty and open.
 */
static void
demote_done(struct proxy_client *cl, char status, bool failed)
{
	struct proxy_wp *wp = cl->wp;
	uint8_t		stage = wp->demote_stage;

	wp->demote_stage = 0;
	if (stage == DEMOTE_CHECK)
	{
		if (!failed && status == PQ_TXN_BLOCK)
			wp->stale = true;
		else
		{
			wp->demote = true;	/* op_end runs demote_check: the rollback */
			wp->demote_stage = DEMOTE_CHECK;
		}
		op_end(cl, status);
		return;
	}
	if (failed || status != PQ_TXN_BLOCK)
	{
		/* e.g. a cancel meant for the statement before hit ours: end the session */
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_ADMIN_SHUTDOWN,
						   "terminating connection: this node is no longer the primary; "
						   "the transaction was rolled back");
		return;
	}
	wp->ended = true;
	wp->wrote = false;
	wp->txn_flags = 0;
	op_end(cl, status);
}

/* The kind of the single transaction-control statement a batch runs, or NONE. */
static uint8_t
batch_txn_kind(struct proxy_client *cl, const uint8_t *p, size_t n, uint8_t last)
{
	struct wp_ext x;
	struct wp_text t;
	uint8_t		kind = SQL_TXN_NONE;

	if (last == PqMsg_Query && p[0] == PqMsg_Query && p[n - 1] == '\0')
	{
		classify_text(cl, (const char *) p + PQ_HEADER_LEN, &t);
		free(t.st);
		return t.txn1;
	}
	if (last != PqMsg_Sync)
		return SQL_TXN_NONE;
	analyze_ext(cl, p, n, &x);	/* keeps the maps current */
	if (x.commit_off >= 0)
		return SQL_TXN_COMMIT;
	for (size_t off = 0; x.n_exec == 1 && off + PQ_HEADER_LEN <= n;
		 off += 1 + pq_get_uint32(p + off + 1))
	{
		struct pq_reader r;
		const char *portal,
				   *sn;
		const struct wp_stmt *st;

		if (p[off] != PqMsg_Execute)
			continue;
		pq_reader_init(&r, p + off + PQ_HEADER_LEN, pq_get_uint32(p + off + 1) - 4);
		portal = pq_read_string(&r);
		sn = portal ? portal_stmt(cl->wp, portal) : NULL;
		st = sn ? stmt_find(cl->wp, sn) : NULL;
		kind = st ? st->txn : SQL_TXN_NONE;
	}
	return kind;
}

/*
 * The first request after demote_check (the backend holds an empty block):
 * a ROLLBACK goes through; a COMMIT gets 40001 with the block rolled back
 * (ReadyForQuery 'I', as a COMMIT that fails); anything else gets 40001
 * raised by the server, which aborts the block ('E'), so that PostgreSQL
 * answers what follows as in any failed transaction.  0, or -1 when the
 * session ended.
 */
static int
demote_answer(struct proxy_client *cl, const uint8_t *p, size_t n, uint8_t last)
{
	uint8_t		kind = batch_txn_kind(cl, p, n, last);
	struct wp_op *op;

	cl->wp->ended = false;
	if (kind == SQL_TXN_ROLLBACK)
		return forward_plain(cl, p, n);
	pgq_info("proxy: session %u: ERROR 40001: %s", cl->id,
			 kind == SQL_TXN_COMMIT ? DEMOTED_COMMIT_MSG : DEMOTED_MSG);
	if (kind != SQL_TXN_COMMIT)
		return raise_in_server(cl, "serialization_failure", DEMOTED_MSG);
	if ((op = op_new()) == NULL || op_add(op, S_INJECT, "ROLLBACK", 8, true) == NULL)
	{
		op_free(op);
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_INTERNAL_ERROR, "out of memory");
		return -1;
	}
	op_set_error(op, SQLSTATE_SERIALIZATION, DEMOTED_COMMIT_MSG);
	op_start(cl, op);
	return 0;
}

void
proxy_demoted(struct proxy *px)
{
	struct proxy_list *l = &px->clients[CL_ACTIVE];
	int			n = 0;

	if (!px->has_hooks)
		return;
	for (struct proxy_list *i = l->next; i != l;)
	{
		struct proxy_client *cl = proxy_container(i, struct proxy_client, link);

		i = i->next;			/* cl may close below */
		if (cl->wp == NULL || !cl->wp->wrote || cl->home == NULL || cl->be != cl->home)
			continue;
		n++;
		/* a statement in flight ends first (it is not canceled: what holds
		 * no lock on a user relation, a pgTAP suite, must go on) */
		cl->wp->demote = true;
		demote_check(cl);
	}
	pgq_info("proxy: this node is no longer the primary: %d session%s with a transaction "
			 "that wrote here: rolled back where %s locks on user relations", n,
			 n == 1 ? "" : "s", n == 1 ? "it holds" : "they hold");
}

static int	wp_route(struct proxy_client *cl, const uint8_t *p, size_t n, uint8_t last,
					 bool strong);

/*
 * Admin SQL first (proxy_admin.c): it may answer, hold or rewrite the
 * batch, or say that it runs on the primary node (strong).
 */
static int
wp_batch(struct proxy_client *cl, const uint8_t *p, size_t n, uint8_t last)
{
	uint8_t    *np;
	size_t		nn;
	int			rc;
	bool		strong;

	if (cl->wp->ended)
		return demote_answer(cl, p, n, last);
	rc = proxy_admin_batch(cl, p, n, false, &np, &nn);
	strong = rc == PROXY_ADMIN_PRIMARY;

	if (rc == PROXY_ADMIN_WAIT_IDLE)
	{
		cl->wp->wait_idle = true;
		return 1;
	}
	if (rc == PROXY_ADMIN_READ)
	{
		/* the classifier would take the EXECUTE for a write */
		rc = forward_plain(cl, np, nn);
		free(np);
		return rc;
	}
	if (rc != PROXY_ADMIN_GO && !strong)
		return rc;
	PGQ_ASSERT(!strong || np == NULL);
	if (np == NULL)
		return wp_route(cl, p, n, last, strong);
	rc = wp_route(cl, np, nn, last, false);
	free(np);
	return rc;
}

bool
proxy_write_busy(const struct proxy_client *cl)
{
	return cl->wp != NULL && cl->wp->op != NULL;
}

void
proxy_write_resume(struct proxy_client *cl)
{
	if (cl->state != CL_ACTIVE || cl->wp == NULL)
		return;
	/* reading may have stopped while the held input was over WP_HOLD_MAX */
	if (cl->be != NULL && cl->be->conn.out_len <= PROXY_OUT_HIGH)
		proxy_conn_read_start(cl->px, &cl->conn);
	(void) wp_pump(cl);
}

/*
 * Does the query text only set session state that the primary connection
 * gets replayed (SET, RESET, SHOW, PREPARE, DEALLOCATE, DISCARD, LISTEN,
 * UNLISTEN)?  Such a batch runs on the local server at every read
 * consistency: it reads no data.
 */
static bool
session_only(struct proxy_client *cl, const char *text)
{
	const sql_result *r = cl->px->hooks.classify(cl->px->hooks.arg, text);

	if (r == NULL || r->status != SQL_STATUS_OK || r->n_stmts == 0)
		return false;
	for (uint32_t i = 0; i < r->n_stmts; i++)
	{
		const sql_stmt *st = &r->stmts[i];

		if (st->cls != SQL_CLASS_SESSION_STATE)
			return false;
		switch (st->session)
		{
			case SQL_SESSION_SET:
			case SQL_SESSION_RESET:
			case SQL_SESSION_SHOW:
			case SQL_SESSION_PREPARE:
			case SQL_SESSION_DEALLOCATE:
			case SQL_SESSION_DISCARD:
			case SQL_SESSION_LISTEN:
			case SQL_SESSION_UNLISTEN:
				break;
			default:
				return false;
		}
	}
	return true;
}

/*
 * A batch on a secondary: one that may write moves to the primary node,
 * and so does one of a strong session that starts a transaction (strong)
 * unless it only sets session state; the rest runs on the local server.
 */
static int
route_secondary(struct proxy_client *cl, const uint8_t *p, size_t n, uint8_t last,
				bool strong)
{
	bool		writes = false;

	if (last == PqMsg_Sync)
	{
		struct wp_ext x;

		analyze_ext(cl, p, n, &x);
		/* preparing a write: it runs there, and may need what is only there yet */
		writes = x.writes || x.parse_writes || x.notxn;
		if (!writes && strong)
			return forward_read(cl, p, n);
		if (!writes && x.begin != NULL)
			note_local_query(cl, x.begin, &(struct wp_text) {.txn1 = SQL_TXN_BEGIN});
		else if (!writes)
			cl->wp->since_begin++;
	}
	else if (last == PqMsg_Query && n > 0 && p[0] == PqMsg_Query && p[n - 1] == '\0')
	{
		struct wp_text t;
		const char *text = (const char *) p + PQ_HEADER_LEN;

		classify_text(cl, text, &t);
		free(t.st);
		writes = t.writes || t.notxn;
		if (!writes && strong && !session_only(cl, text))
			return forward_read(cl, p, n);
		if (!writes)
			note_local_query(cl, text, &t);
	}
	else if (strong)
		return forward_read(cl, p, n);	/* extended messages, then a Query */
	if (writes)
		return forward_write(cl, p, n);
	return forward_plain(cl, p, n);
}

static int
wp_route(struct proxy_client *cl, const uint8_t *p, size_t n, uint8_t last, bool strong)
{
	size_t		moff = last_msg_off(p, n);
	int			rc;

	if (cl->fwd != NULL && cl->be == cl->fwd)
	{
		/* a forwarded transaction: the primary node decides */
		if (last == PqMsg_Sync)
		{
			struct wp_ext x;

			analyze_ext(cl, p, n, &x);	/* keep the maps current */
		}
		return forward_plain(cl, p, n);
	}
	if (last == PqMsg_FunctionCall)
	{
		if (moff > 0 && forward_plain(cl, p, moff) < 0)
			return -1;
		return refuse_in_server(cl, "the fastpath function call protocol (used by libpq's "
								"large-object functions lo_import, lo_export, lo_read, lo_write, "
								"...) is not supported by pgquorum: large objects are not "
								"replicated");
	}
	if (last == PqMsg_Query && p[n - 1] == '\0' &&
		(rc = refuse_unreplicable_query(cl, (const char *) p + moff + PQ_HEADER_LEN)) != 0)
	{
		if (rc < 0 || (moff > 0 && forward_plain(cl, p, moff) < 0))
			return -1;
		return 0;
	}
	if (last == PqMsg_Sync)
	{
		struct wp_ext x;
		const char *why;

		analyze_ext(cl, p, n, &x);	/* keeps the maps current */
		if ((why = unreplicable(x.flags)) != NULL)
			return refuse_in_server(cl, why);
	}
	if (!primary(cl) && cl->wp->wrote && cl->be == cl->home && cl->be->txn != PQ_TXN_IDLE &&
		!cl->be->unsynced)
	{
		/*
		 * It wrote here while this node was primary, and the node lost the
		 * role before proxy_demoted ran: end it first (a COMMIT relayed now
		 * would commit on this server alone); the batch runs after.  One
		 * left open (stale) gets the answers of an ended one.
		 */
		if (cl->wp->stale)
			return demote_answer(cl, p, n, last);
		cl->wp->demote = true;
		demote_check(cl);
		return 1;
	}
	if (!primary(cl))
		return route_secondary(cl, p, n, last, strong);
	if (last == PqMsg_Query)
	{
		/* a Query alone (extended messages before it go first) */
		if (moff > 0)
		{
			if (forward_plain(cl, p, moff) < 0)
				return -1;
			return batch_query(cl, p + moff, n - moff) < 0 ? -1 : 0;
		}
		return batch_query(cl, p, n);
	}
	return batch_ext(cl, p, n);
}

static void
wp_consume(struct proxy_wp *wp, size_t n)
{
	memmove(wp->ib, wp->ib + n, wp->len - n);
	wp->len -= n;
}

/* Handle whole held messages while no op runs; -1 when the session ended. */
static int
wp_pump(struct proxy_client *cl)
{
	struct proxy_wp *wp = cl->wp;
	int			rc = 0;

	if (wp->pumping)
		return 0;
	wp->pumping = true;
	while (cl->state == CL_ACTIVE && cl->be != NULL && wp->len >= PQ_HEADER_LEN)
	{
		size_t		pos = 0;
		uint8_t		last = 0;
		bool		blocked = wp->op != NULL || wp->wait_idle ||
			(wp->demote && !cl->be->unsynced);

		while (pos + PQ_HEADER_LEN <= wp->len)
		{
			uint8_t		type = wp->ib[pos];
			uint32_t	len = pq_get_uint32(wp->ib + pos + 1);

			if (pq_header_check(pq_frontend_rules, type, len) != 0 ||
				type == PqMsg_PasswordMessage)
			{
				cl->be->unsynced = true;
				proxy_client_error(cl, "FATAL", PQ_SQLSTATE_PROTOCOL_VIOLATION,
								   "invalid frontend message type %d or length", type);
				rc = -1;
				goto out;
			}
			if (pos + 1 + len > wp->len)
				break;
			if (type == PqMsg_Terminate)
			{
				if (pos > 0 && !blocked && forward_plain(cl, wp->ib, pos) < 0)
				{
					rc = -1;
					goto out;
				}
				proxy_client_close(cl);
				rc = -1;
				goto out;
			}
			if (pos == 0 && (type == PqMsg_CopyData || type == PqMsg_CopyDone ||
							 type == PqMsg_CopyFail))
			{
				pos = 1 + len;
				last = type;
				break;
			}
			pos += 1 + len;
			if (is_sync_point(type) || type == PqMsg_Flush)
			{
				last = type;
				break;
			}
		}
		if (last == PqMsg_CopyData || last == PqMsg_CopyDone || last == PqMsg_CopyFail)
		{
			/* COPY data flows even while an op waits for the COPY to end */
			if (wp->op != NULL && cl->be->flt_mode != WP_HOLD)
				break;
			if (to_backend(cl, wp->ib, pos, cl->be->flt_mode) < 0)
			{
				rc = -1;
				goto out;
			}
			wp_consume(wp, pos);
			continue;
		}
		if (blocked)
			break;
		if (wp->skip_to_sync && (last != 0 || pos >= WP_BATCH_MAX))
		{
			/* as the server does after an error; the Sync then goes on
			 * alone, and the idle backend answers it */
			if (last == PqMsg_Sync)
			{
				pos -= PQ_HEADER_LEN;
				wp->skip_to_sync = false;
			}
			wp_consume(wp, pos);
			continue;
		}
		if (last == 0)
		{
			if (pos >= WP_BATCH_MAX)
			{
				struct wp_ext x;

				analyze_ext(cl, wp->ib, pos, &x);
				if (x.writes && cl->be->txn == PQ_TXN_IDLE && primary(cl))
					pgq_warn("proxy: session %u: an extended-protocol batch over %u bytes "
							 "without Sync is forwarded as is and NOT replicated",
							 cl->id, WP_BATCH_MAX);
				if (forward_plain(cl, wp->ib, pos) < 0)
				{
					rc = -1;
					goto out;
				}
				wp_consume(wp, pos);
				continue;
			}
			break;
		}
		if (last == PqMsg_Flush)
		{
			struct wp_ext x;
			uint8_t    *np = NULL;
			size_t		nn = 0;

			/* read consistency, views rewritten, node commands answered */
			rc = proxy_admin_batch(cl, wp->ib, pos, true, &np, &nn);
			if (rc < 0)
				goto out;
			if (rc == PROXY_ADMIN_WAIT_IDLE)
				wp->wait_idle = true;
			if (rc == PROXY_ADMIN_WAIT || rc == PROXY_ADMIN_WAIT_IDLE)
			{
				rc = 0;
				break;			/* held: it comes again */
			}
			if (rc == PROXY_ADMIN_SKIP)
			{
				wp->skip_to_sync = true;
				wp_consume(wp, pos);
				rc = 0;
				continue;
			}
			PGQ_ASSERT(rc == PROXY_ADMIN_GO);
			analyze_ext(cl, np ? np : wp->ib, np ? nn : pos, &x);
			rc = forward_plain(cl, np ? np : wp->ib, np ? nn : pos);
			free(np);
			if (rc < 0)
				goto out;
			wp_consume(wp, pos);
			continue;
		}
		rc = wp_batch(cl, wp->ib, pos, last);
		if (rc < 0)
			goto out;
		if (rc == 1)
		{
			rc = 0;
			break;				/* waits for the backend to be idle */
		}
		wp_consume(wp, pos);
	}
out:
	if (rc == 0 && cl->state == CL_ACTIVE && wp->len > WP_HOLD_MAX &&
		(wp->op != NULL || wp->wait_idle || proxy_admin_waiting(cl)))
		proxy_conn_read_stop(cl->px, &cl->conn);
	wp->pumping = false;
	return rc;
}

int
proxy_write_client_bytes(struct proxy_client *cl, const uint8_t *data, size_t n)
{
	struct proxy_wp *wp = cl->wp;

	if (wp == NULL && (wp = cl->wp = calloc(1, sizeof(*wp))) == NULL)
	{
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_INTERNAL_ERROR, "out of memory");
		return -1;
	}
	if (wp->len + n > wp->cap)
	{
		size_t		nc = wp->cap ? wp->cap : 16384;
		uint8_t    *nb;

		while (nc < wp->len + n)
			nc *= 2;
		if ((nb = realloc(wp->ib, nc)) == NULL)
		{
			proxy_client_error(cl, "FATAL", PQ_SQLSTATE_INTERNAL_ERROR, "out of memory");
			return -1;
		}
		wp->ib = nb;
		wp->cap = nc;
	}
	memcpy(wp->ib + wp->len, data, n);
	wp->len += n;
	return wp_pump(cl);
}

void
proxy_write_client_free(struct proxy_client *cl)
{
	struct proxy_wp *wp = cl->wp;

	if (wp == NULL)
		return;
	op_free(wp->op);
	for (int i = 0; i < wp->n_stmts; i++)
	{
		free(wp->stmts[i].name);
		free(wp->stmts[i].ddl);
		free(wp->stmts[i].parse);
	}
	for (int i = 0; i < wp->n_portals; i++)
	{
		free(wp->portals[i].name);
		free(wp->portals[i].stmt);
	}
	free(wp->stmts);
	free(wp->portals);
	free(wp->ib);
	free(wp->sess);
	free(wp->begin);
	free(wp);
	cl->wp = NULL;
}

void
proxy_write_backend_free(struct proxy_backend *be)
{
	free(be->flt_err);
	be->flt_err = NULL;
	if (be->held != NULL && be->held->waiter != NULL)
		be->held->waiter->held = NULL;	/* its callback just frees it */
	free(be->held);
	be->held = NULL;
}

/* ---- the backend's output ---- */

static int
flt_disp(struct proxy_backend *be, uint8_t type)
{
	int			disp;

	if (be->flt_drop > 0 && (type == PqMsg_ParseComplete || type == PqMsg_CloseComplete))
		return D_DROP;			/* answers to side_prepare's messages */
	/* the answers to a re-parse the admin code put before a Bind */
	if (be->adm_drop > 0 && (type == PqMsg_CloseComplete || type == PqMsg_ParseComplete))
	{
		be->adm_drop--;
		return D_DROP;
	}
	if (type == PqMsg_ErrorResponse || type == PqMsg_ReadyForQuery)
		be->adm_drop = 0;		/* the rest of the batch is skipped */
	switch (be->flt_mode)
	{
		case WP_HOLD:
			disp = type == PqMsg_ReadyForQuery ? D_DROP : D_FWD;
			break;
		case WP_SWALLOW:
			return type == PqMsg_ErrorResponse ? D_CAPTURE : D_DROP;
		default:
			disp = D_FWD;
			break;
	}
	/*
	 * The CommandCompletes of the DEALLOCATE and PREPARE the admin code put
	 * before an EXECUTE: the first ones the client would get (statements
	 * the write path injects around it are not the client's).
	 */
	if (disp == D_FWD && be->adm_drop_cc > 0 && type == PqMsg_CommandComplete)
	{
		be->adm_drop_cc--;
		return D_DROP;
	}
	if (disp == D_FWD && (type == PqMsg_ErrorResponse || type == PqMsg_ReadyForQuery))
		be->adm_drop_cc = 0;
	return disp;
}

static void
flt_capture(struct proxy_backend *be, const uint8_t *p, size_t n)
{
	if (be->flt_err == NULL && (be->flt_err = malloc(WP_ERR_MAX)) == NULL)
		return;
	if (be->flt_err_len + n > WP_ERR_MAX)
		n = WP_ERR_MAX - be->flt_err_len;	/* a cut error is still shown */
	memcpy(be->flt_err + be->flt_err_len, p, n);
	be->flt_err_len += (uint32_t) n;
}

void
proxy_write_backend_bytes(struct proxy_backend *be, uint8_t *data, size_t n)
{
	struct proxy_client *cl = be->client;
	size_t		off = 0,
				seg = 0,
				last_end = 0;

	while (off < n)
	{
		size_t		used;
		enum pq_scan_result s = pq_scan_step(&be->scan, data + off, n - off, &used);
		uint8_t		type;
		int			disp;

		off += used;
		if (s == PQ_SCAN_MORE)
			break;
		if (s != PQ_SCAN_MESSAGE)
		{
			pgq_warn("proxy: session %u: the local server sent an invalid message (type %d)",
					 cl->id, be->scan.hdr[0]);
			(void) proxy_conn_send(be->px, &cl->conn, data + seg, off > seg ? off - seg : 0);
			proxy_backend_close(be);
			return;
		}
		type = be->scan.type;
		disp = be->flt_part ? be->flt_part_disp : flt_disp(be, type);
		if (type == PqMsg_ParameterStatus && be == cl->fwd && disp == D_FWD &&
			!be->flt_part && note_commit_index(cl, data + last_end, off - last_end))
			disp = D_DROP;
		be->flt_part = false;
		if (type == PqMsg_ReadyForQuery)
			be->flt_drop = 0;	/* an error skipped what was left */
		else if (be->flt_drop > 0 && disp == D_DROP &&
				 (type == PqMsg_ParseComplete || type == PqMsg_CloseComplete))
			be->flt_drop--;
		if (disp != D_FWD)
		{
			if (last_end > seg && to_client(cl, data + seg, last_end - seg) < 0)
				return;
			if (disp == D_CAPTURE)
				flt_capture(be, data + last_end, off - last_end);
			seg = off;
		}
		last_end = off;
		if (type == PqMsg_ErrorResponse && be->flt_mode != WP_FWD)
			be->flt_saw_error = true;
		if (type != PqMsg_ReadyForQuery)
			continue;
		if (be->pending > 0)
			be->pending--;
		be->txn = (char) be->scan.peek[0];
		if (off > seg && to_client(cl, data + seg, off - seg) < 0)
			return;
		seg = off;
		if (cl->wp == NULL)
			continue;
		if (be->flt_mode != WP_FWD)
		{
			be->flt_mode = WP_FWD;
			wp_on_rfq(cl, be->txn);
		}
		else
		{
			if (be->txn == PQ_TXN_IDLE)
			{
				cl->wp->wrote = false;
				cl->wp->stale = false;
				cl->wp->txn_flags = 0;
			}
			proxy_forward_maybe_home(cl);
			if (cl->wp->demote && be->pending == 0)
			{
				cl->wp->wait_idle = false;	/* a held batch goes after it */
				demote_check(cl);
				if (cl->wp != NULL && cl->wp->op == NULL)
					(void) wp_pump(cl);
			}
			else if (cl->wp->wait_idle && be->pending == 0)
			{
				cl->wp->wait_idle = false;
				(void) wp_pump(cl);
			}
		}
		if (!cl_live(cl, be))
			return;
	}
	if (!pq_scan_at_boundary(&be->scan))
	{
		if (!be->flt_part)
		{
			uint8_t		type = be->scan.hdr_len > 0 ? be->scan.hdr[0] : be->scan.type;

			be->flt_part_disp = (uint8_t) flt_disp(be, type);
			be->flt_part = true;
		}
		if (be->flt_part_disp != D_FWD)
		{
			if (last_end > seg && to_client(cl, data + seg, last_end - seg) < 0)
				return;
			if (be->flt_part_disp == D_CAPTURE)
				flt_capture(be, data + last_end, n - last_end);
			seg = n;
		}
	}
	if (n > seg && to_client(cl, data + seg, n - seg) < 0)
		return;
	if (cl->conn.out_len > PROXY_OUT_HIGH)
		proxy_conn_read_stop(be->px, &be->conn);
}
