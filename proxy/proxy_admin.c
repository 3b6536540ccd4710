/*
 * proxy_admin.c
 *	  Admin SQL in the proxy (proxy_admin.h, docs/admin-views.md): each
 *	  batch of a session (proxy_write.c: up to a Query, Sync or
 *	  FunctionCall) passes through proxy_admin_batch before it is routed.
 *
 *	1. Read consistency: a batch that starts a transaction (the backend is
 *	   idle) waits until this node has applied what the session's level
 *	   asks for; the batch stays held (not consumed) meanwhile, and the
 *	   session's further input queues behind it.  At level strong a
 *	   secondary has the batch run on the primary node
 *	   (PROXY_ADMIN_PRIMARY); a batch that does not move (on the primary,
 *	   or one the node answers or rewrites in part, or a run ended by
 *	   Flush) asks the cluster for a read index (ReadIndex: the primary
 *	   confirms with a majority that it still leads) and waits until this
 *	   node has applied that far.  Sessions asking while a round is out
 *	   share the next one.
 *	2. Each Query text and Parse text is looked at: a node command (an
 *	   admin function, SET/RESET/SHOW pgquorum.x) is carried out and its
 *	   text replaced by one the local server answers (the result as a
 *	   constant, or a DO block that raises the error), so the client sees
 *	   PostgreSQL's own messages in either protocol and the transaction
 *	   state stays the server's; a text naming pgquorum.<view> is rewritten
 *	   into VALUES lists of the figures of this moment.
 *	3. The batch, rewritten or not, goes on to the write path.
 */
#include "config.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/pgq_assert.h"
#include "common/pgq_buf.h"
#include "common/pgq_log.h"
#include "proxy/proxy_admin.h"
#include "proxy/proxy_int.h"
#include "sql/sql_admin_cmd.h"
#include "sql/sql_classify.h"

#define ADMIN_WAIT_DEFAULT_MS	10000	/* a read consistency wait, when the
										 * configuration has none */
#define ADMIN_MAX_TEXT			(256u << 20)	/* a rewritten batch */
#define SQLSTATE_RETRY			"40001"
#define ADMIN_MAX_NAMED			64		/* named statements over views kept */

enum rc_level
{
	RC_LOCAL = 0,
	RC_SESSION,
	RC_STRONG,
	RC_COUNT
};

static const char *const rc_names[RC_COUNT] = {"local", "session", "strong"};

struct proxy_admin
{
	struct proxy_admin_hooks hooks;
	const struct proxy_client *current;	/* whose batch is rewritten now */
	struct proxy_list waiters;	/* sessions whose batch waits */
	struct proxy *px;
	/* read index rounds: one out at a time */
	uint64_t	round;			/* the last one asked */
	bool		round_out;		/* asked, its answer not handled yet */
	bool		answered;		/* the answer came: kick handles it */
	bool		answer_ok;
	uint64_t	answer_index;
	ev_timer	kick;			/* handles the answer from the loop, never
								 * inside the asking session's own pass */
};

/* What a held batch waits for. */
enum adm_wait
{
	ADM_WAIT_NONE = 0,
	ADM_WAIT_READ,				/* a read index (strong) */
	ADM_WAIT_APPLY,				/* applied >= wait_index (session, strong) */
	ADM_WAIT_CALL				/* wait_applied(): applied >= wait_index */
};

/* A named prepared statement whose text names views: re-parsed before
 * each Bind, so that every execution reads fresh figures. */
struct adm_named
{
	char	   *name;			/* owned */
	char	   *text;			/* owned: the client's text */
	uint8_t    *params;			/* owned: Parse's parameter type section */
	size_t		params_len;
};

struct adm_named_set
{
	struct adm_named e[ADMIN_MAX_NAMED];
	int			n;
};

struct proxy_admin_session
{
	struct proxy_list link;		/* on admin->waiters while waiting */
	struct proxy_client *cl;
	enum rc_level level;
	uint64_t	last_write;		/* log index of its last acknowledged write */
	int			stmt_cls;		/* sql_class of its last statement, -1 */
	enum adm_wait waiting;
	uint64_t	wait_index;
	uint64_t	read_round;		/* ADM_WAIT_READ: the round it is in */
	ev_timer	timer;
	/* where the held batch is */
	bool		rc_passed;		/* read consistency holds for it ... */
	bool		rc_primary;		/* ... on the primary node */
	bool		rc_failed;		/* refused, with rc_error */
	bool		call_resumed;	/* its wait_applied() waited */
	char		rc_error[PROXY_ERRMSG_LEN];
	struct adm_named_set named;	/* protocol-level (Parse) */
	struct adm_named_set sqlprep;	/* SQL PREPARE, params unused */
	bool		exec_refresh;	/* the batch re-prepares an EXECUTE's
								 * statement: drop two CommandCompletes */
};

/* ---- setup ---- */

static void on_read_kick(struct ev_loop *loop, ev_timer *w, int revents);
static void named_clear(struct adm_named_set *set);

void
proxy_set_admin_hooks(struct proxy *px, const struct proxy_admin_hooks *hooks)
{
	PGQ_ASSERT(px->admin == NULL && hooks->rewrite && hooks->command &&
			   hooks->call && hooks->state);
	px->admin = calloc(1, sizeof(*px->admin));
	PGQ_ASSERT(px->admin != NULL);
	px->admin->hooks = *hooks;
	px->admin->px = px;
	proxy_list_init(&px->admin->waiters);
	ev_timer_init(&px->admin->kick, on_read_kick, 0., 0.);
	px->admin->kick.data = px->admin;
}

void
proxy_admin_free(struct proxy *px)
{
	if (px->admin == NULL)
		return;
	ev_timer_stop(px->loop, &px->admin->kick);
	free(px->admin);
	px->admin = NULL;
}

static void
adm_unwait(struct proxy_admin_session *a)
{
	ev_timer_stop(a->cl->px->loop, &a->timer);
	proxy_list_remove(&a->link);
	a->waiting = ADM_WAIT_NONE;
}

/* The held batch is through (or refused): the next one starts afresh. */
static void
adm_done(struct proxy_admin_session *a)
{
	a->rc_passed = a->rc_primary = a->rc_failed = a->call_resumed = false;
}

void
proxy_admin_client_free(struct proxy_client *cl)
{
	if (cl->adm == NULL)
		return;
	adm_unwait(cl->adm);
	named_clear(&cl->adm->named);
	named_clear(&cl->adm->sqlprep);
	free(cl->adm);
	cl->adm = NULL;
}

static struct proxy_admin_session *
adm_get(struct proxy_client *cl)
{
	struct proxy_admin_session *a = cl->adm;

	if (a != NULL)
		return a;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->cl = cl;
	a->stmt_cls = -1;
	proxy_list_init(&a->link);
	cl->adm = a;
	return a;
}

bool
proxy_admin_waiting(const struct proxy_client *cl)
{
	return cl->adm != NULL && cl->adm->waiting != ADM_WAIT_NONE;
}

void
proxy_session_note_write(struct proxy_client *cl, uint64_t index)
{
	struct proxy_admin_session *a = cl->px->admin ? adm_get(cl) : NULL;

	if (a != NULL && index > a->last_write)
		a->last_write = index;
}

/* ---- waiting: for the applied index, for a read index ---- */

static int
wait_ms_of(const struct proxy *px)
{
	int			ms = px->cfg->read_consistency_timeout_ms;

	return ms > 0 ? ms : ADMIN_WAIT_DEFAULT_MS;
}

/* The held batch comes again; what it waited for is set in a. */
static void
adm_resume(struct proxy_admin_session *a)
{
	adm_unwait(a);
	proxy_write_resume(a->cl);
}

static void
adm_fail(struct proxy_admin_session *a, const char *msg)
{
	a->rc_failed = true;
	snprintf(a->rc_error, sizeof(a->rc_error), "%s", msg);
}

/* The wait is over: the applied index reached what it waited for. */
static void
adm_reached(struct proxy_admin_session *a)
{
	if (a->waiting == ADM_WAIT_CALL)
		a->call_resumed = true;
	else
	{
		a->rc_passed = true;
		a->rc_primary = false;
	}
	adm_resume(a);
}

static void
on_wait_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy_admin_session *a = w->data;
	const struct proxy_admin_hooks *h = &a->cl->px->admin->hooks;
	struct proxy_admin_state st;
	char		msg[PROXY_ERRMSG_LEN];

	(void) loop;
	(void) revents;
	switch (a->waiting)
	{
		case ADM_WAIT_CALL:
			a->call_resumed = true;	/* wait_applied answers false */
			break;
		case ADM_WAIT_READ:
			snprintf(msg, sizeof(msg), "read_consistency strong: no read index "
					 "came within %d ms (the primary could not confirm with a "
					 "majority of nodes that it still leads)", wait_ms_of(a->cl->px));
			adm_fail(a, msg);
			break;
		default:
			h->state(h->arg, &st);
			snprintf(msg, sizeof(msg), "read_consistency %s: this node has applied the "
					 "log through index %llu, not yet %llu, after %d ms",
					 rc_names[a->level], (unsigned long long) st.applied,
					 (unsigned long long) a->wait_index, wait_ms_of(a->cl->px));
			adm_fail(a, msg);
			break;
	}
	adm_resume(a);
}

static void
adm_wait(struct proxy_admin_session *a, enum adm_wait what, uint64_t index,
		 int timeout_ms)
{
	struct proxy *px = a->cl->px;

	PGQ_ASSERT(a->waiting == ADM_WAIT_NONE && what != ADM_WAIT_NONE);
	a->waiting = what;
	a->wait_index = index;
	proxy_list_append(&px->admin->waiters, &a->link);
	ev_timer_init(&a->timer, on_wait_timeout, timeout_ms / 1000.0, 0.);
	a->timer.data = a;
	ev_timer_start(px->loop, &a->timer);
	if (what == ADM_WAIT_READ)
		pgq_debug("proxy: session %u: waits for read index round %llu (%d ms)",
				  a->cl->id, (unsigned long long) a->read_round, timeout_ms);
	else
		pgq_debug("proxy: session %u: waits for applied index %llu (%d ms)",
				  a->cl->id, (unsigned long long) index, timeout_ms);
}

void
proxy_admin_applied(struct proxy *px, uint64_t applied)
{
	struct proxy_list *l,
			   *next;

	if (px == NULL || px->admin == NULL)
		return;
	/* A woken session may wait again: it is appended, and seen with an
	 * index it has not reached, or waiting for a read index. */
	for (l = px->admin->waiters.next; l != &px->admin->waiters; l = next)
	{
		struct proxy_admin_session *a = proxy_container(l, struct proxy_admin_session, link);

		next = l->next;
		if (a->waiting != ADM_WAIT_READ && applied >= a->wait_index)
			adm_reached(a);
	}
}

/* Ask round number round; -1 with the reason in err. */
static int
read_ask(struct proxy_admin *adm, uint64_t round, char *err, size_t errlen)
{
	const struct proxy_admin_hooks *h = &adm->hooks;

	if (h->read_index == NULL)
	{
		snprintf(err, errlen, "this node does not replicate");
		return -1;
	}
	adm->round = round;
	adm->round_out = true;
	adm->answered = false;
	/* the core answers each ask once, within an election timeout; a node
	 * that restarts its replication drops them: the kick is the round's
	 * deadline too */
	ev_timer_stop(adm->px->loop, &adm->kick);
	ev_timer_set(&adm->kick, wait_ms_of(adm->px) / 1000.0, 0.);
	ev_timer_start(adm->px->loop, &adm->kick);
	if (h->read_index(h->arg, round, err, errlen) < 0)
	{
		adm->round_out = false;
		ev_timer_stop(adm->px->loop, &adm->kick);
		return -1;
	}
	return 0;
}

void
proxy_admin_read_done(struct proxy *px, uint64_t ctx, bool ok, uint64_t index)
{
	struct proxy_admin *adm = px != NULL ? px->admin : NULL;

	if (adm == NULL || !adm->round_out || ctx != adm->round || adm->answered)
		return;					/* not ours, or stale */
	adm->answered = true;
	adm->answer_ok = ok;
	adm->answer_index = index;
	ev_timer_stop(px->loop, &adm->kick);
	ev_timer_set(&adm->kick, 0., 0.);
	ev_timer_start(px->loop, &adm->kick);
}

/* Move waiter a to the list of those to wake. */
static void
to_wake(struct proxy_list *woken, struct proxy_admin_session *a)
{
	proxy_list_remove(&a->link);
	proxy_list_append(woken, &a->link);
}

/*
 * The answer of the round out (or its deadline): its sessions wait for the applied index
 * now (or are refused), and the sessions that came during the round get
 * the next one.  The wakes come last, when the rounds are settled: a
 * woken session may ask again.
 */
static void
on_read_kick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy_admin *adm = w->data;
	const struct proxy_admin_hooks *h = &adm->hooks;
	struct proxy_admin_state st;
	struct proxy_list woken,
			   *l,
			   *next;
	uint64_t	round = adm->round;
	bool		more = false;
	char		err[PROXY_ERRMSG_LEN - 64],
				msg[PROXY_ERRMSG_LEN];

	(void) loop;
	(void) revents;
	if (!adm->round_out)
		return;
	if (!adm->answered)
		adm->answer_ok = false; /* no answer by the deadline */
	adm->round_out = adm->answered = false;
	h->state(h->arg, &st);
	proxy_list_init(&woken);
	for (l = adm->waiters.next; l != &adm->waiters; l = next)
	{
		struct proxy_admin_session *a = proxy_container(l, struct proxy_admin_session, link);

		next = l->next;
		if (a->waiting != ADM_WAIT_READ)
			continue;
		if (a->read_round != round)
		{
			more = true;
			continue;
		}
		if (!adm->answer_ok)
		{
			adm_fail(a, "read_consistency strong: the primary could not confirm "
					 "with a majority of nodes that it still leads (a partition "
					 "or an election): retry");
			to_wake(&woken, a);
			continue;
		}
		a->waiting = ADM_WAIT_APPLY;
		a->wait_index = adm->answer_index;
		if (st.applied >= a->wait_index)
			to_wake(&woken, a);
	}
	if (more && read_ask(adm, round + 1, err, sizeof(err)) < 0)
	{
		snprintf(msg, sizeof(msg), "read_consistency strong: %s", err);
		for (l = adm->waiters.next; l != &adm->waiters; l = next)
		{
			struct proxy_admin_session *a = proxy_container(l, struct proxy_admin_session, link);

			next = l->next;
			if (a->waiting == ADM_WAIT_READ)
			{
				adm_fail(a, msg);
				to_wake(&woken, a);
			}
		}
	}
	while (woken.next != &woken)
	{
		struct proxy_admin_session *a = proxy_container(woken.next, struct proxy_admin_session, link);

		if (a->rc_failed)
			adm_resume(a);
		else
			adm_reached(a);
	}
}

/* ---- answers ---- */

/* ErrorResponse, and ReadyForQuery unless the batch is a run ended by
 * Flush (its Sync comes later), for a batch refused while idle. */
static int
adm_refuse_run(struct proxy_client *cl, bool flush, const char *sqlstate,
			   const char *msg)
{
	uint8_t		buf[PROXY_ERRMSG_LEN + 64];
	struct pq_build b;

	pq_build_init(&b, buf, sizeof(buf));
	pq_build_error(&b, PqMsg_ErrorResponse, "ERROR", sqlstate, msg);
	if (!flush)
	{
		pq_build_begin(&b, PqMsg_ReadyForQuery);
		pq_build_byte(&b, PQ_TXN_IDLE);
		pq_build_end(&b);
	}
	PGQ_ASSERT(!b.overflow);
	pgq_info("proxy: session %u: ERROR %s: %s", cl->id, sqlstate, msg);
	if (proxy_conn_send(cl->px, &cl->conn, buf, b.len) < 0)
	{
		proxy_client_close(cl);
		return -1;
	}
	return 0;
}

static int
adm_refuse(struct proxy_client *cl, const char *sqlstate, const char *msg)
{
	return adm_refuse_run(cl, false, sqlstate, msg);
}

/* A DO block that raises sqlstate with msg: the server reports the error,
 * so the transaction state and the protocol stay PostgreSQL's. */
static char *raise_text(const char *sqlstate, const char *msg);

static char *
raise_text(const char *sqlstate, const char *msg)
{
	char		esc[2 * SQL_ADMIN_CMD_ERR_LEN + 2 * PROXY_ERRMSG_LEN];
	size_t		k = 0;
	char	   *out;

	for (size_t i = 0; msg[i] != '\0' && k + 2 < sizeof(esc); i++)
	{
		/* the body's closing tag never appears inside it */
		char		c = strncmp(msg + i, "$pgq$", 5) == 0 ? ' ' : msg[i];

		if (c == '\'')
			esc[k++] = '\'';
		esc[k++] = c;
	}
	esc[k] = '\0';
	if (asprintf(&out, "DO $pgq$BEGIN RAISE EXCEPTION USING ERRCODE = '%s', "
				 "MESSAGE = '%s'; END$pgq$", sqlstate, esc) < 0)
		return NULL;
	return out;
}

/* ---- commands ---- */

/* is_superuser as the local server reported it for the session's role. */
static bool
session_is_superuser(const struct proxy_client *cl)
{
	const struct proxy_backend *be = cl->be;

	for (size_t off = 0; be != NULL && off + PQ_HEADER_LEN < be->params_len;)
	{
		const uint8_t *m = be->params + off;
		uint32_t	len = pq_get_uint32(m + 1);
		struct pq_reader r;
		const char *name,
				   *value;

		if (len < 4 || off + 1 + len > be->params_len)
			break;
		pq_reader_init(&r, m + PQ_HEADER_LEN, len - 4);
		name = pq_read_string(&r);
		value = pq_read_string(&r);
		if (m[0] == PqMsg_ParameterStatus && name && value &&
			strcmp(name, "is_superuser") == 0)
			return strcmp(value, "on") == 0;
		off += 1 + len;
	}
	return false;
}

struct adm_text
{
	const char *text;			/* borrowed from the batch */
	bool		named;			/* a Parse of a named statement */
	bool		node;			/* a node command (function, pgquorum.x) */
	char	   *out;			/* owned replacement, or NULL */
	bool		view;			/* out is the text with views rewritten */
	const char *err_state;		/* out raises this error (static) ... */
	char		err_msg[PROXY_ERRMSG_LEN];	/* ... with this message */
	bool		wait;			/* wait_applied: must wait first */
	uint64_t	wait_index;
	int			wait_ms;
};

/* Replace the text by one that raises sqlstate with msg. */
static void
set_error(struct adm_text *t, const char *sqlstate, const char *msg)
{
	free(t->out);
	t->out = raise_text(sqlstate, msg);
	t->err_state = sqlstate;
	snprintf(t->err_msg, sizeof(t->err_msg), "%s", msg);
}

static void
do_call(struct proxy_client *cl, const sql_admin_cmd *cmd, struct adm_text *t,
		bool run)
{
	const struct proxy_admin_hooks *h = &cl->px->admin->hooks;
	const char *fn = cmd->fn_name;
	char		result[128],
				err[PROXY_ERRMSG_LEN];
	const char *sqlstate = NULL;

	if (t->named)
	{
		set_error(t, "0A000", "the pgquorum functions act when they are "
							"parsed: call them with the simple protocol or an "
							"unnamed statement, not a named prepared statement");
		return;
	}
	if (!session_is_superuser(cl))
	{
		snprintf(err, sizeof(err), "permission denied for function %s: "
				 "pgquorum.%s() is for superusers only", fn, fn);
		set_error(t, "42501", err);
		return;
	}
	if (cmd->fn == SQL_ADMIN_FN_WAIT_APPLIED)
	{
		struct proxy_admin_state st;

		h->state(h->arg, &st);
		if (cmd->iargs[1] < 0 || cmd->iargs[1] > 3600 * 1000)
		{
			set_error(t, "22023", "pgquorum.wait_applied(): the timeout "
								"must be between 0 and 3600000 ms");
			return;
		}
		if (st.applied < (uint64_t) cmd->iargs[0] && cmd->iargs[0] > 0 &&
			cmd->iargs[1] > 0 && !cl->adm->call_resumed)
		{
			t->wait = true;
			t->wait_index = (uint64_t) cmd->iargs[0];
			t->wait_ms = (int) cmd->iargs[1];
			return;
		}
		snprintf(result, sizeof(result), "%s",
				 cmd->iargs[0] <= 0 || st.applied >= (uint64_t) cmd->iargs[0] ?
				 "true" : "false");
	}
	else if (!run)
		return;
	else if (h->call(h->arg, cmd, result, sizeof(result), &sqlstate, err, sizeof(err)) < 0)
	{
		set_error(t, sqlstate, err);
		return;
	}
	if (asprintf(&t->out, "SELECT %s AS %s", result, fn) < 0)
		t->out = NULL;
}

static void
do_setting(struct proxy_client *cl, const sql_admin_cmd *cmd, struct adm_text *t,
		   bool run)
{
	struct proxy_admin_session *a = cl->adm;
	char		msg[PROXY_ERRMSG_LEN];
	int			level = -1;

	if (strcmp(cmd->setting, "read_consistency") != 0)
	{
		snprintf(msg, sizeof(msg), "unrecognized configuration parameter "
				 "\"pgquorum.%s\" (pgquorum has pgquorum.read_consistency)",
				 cmd->setting);
		set_error(t, "42704", msg);
		return;
	}
	if (cmd->kind == SQL_ADMIN_CMD_SHOW)
	{
		if (asprintf(&t->out, "SELECT '%s'::pg_catalog.text AS \"pgquorum.%s\"",
					 rc_names[a->level], cmd->setting) < 0)
			t->out = NULL;
		return;
	}
	if (cmd->local)
	{
		set_error(t, "0A000", "SET LOCAL pgquorum.read_consistency is not "
							"supported: use SET (for the session)");
		return;
	}
	for (int i = 0; i < RC_COUNT; i++)
		if (cmd->kind == SQL_ADMIN_CMD_RESET || strcmp(cmd->value, rc_names[i]) == 0)
		{
			level = cmd->kind == SQL_ADMIN_CMD_RESET ? RC_LOCAL : i;
			break;
		}
	if (level < 0)
	{
		snprintf(msg, sizeof(msg), "invalid value for parameter "
				 "\"pgquorum.read_consistency\": \"%s\" (use local, session or strong)",
				 cmd->value);
		set_error(t, "22023", msg);
		return;
	}
	/* The text goes on: the server keeps it as a placeholder setting and
	 * answers with its own CommandComplete; inside a forwarded transaction
	 * the primary node records it too. */
	if (!run)
		return;
	a->level = (enum rc_level) level;
	if (cl->fwd != NULL && cl->be == cl->fwd)
		cl->fwd->rc_level = (uint8_t) level;
}

const char *
proxy_admin_forward_setting(struct proxy_client *cl)
{
	static const char *const sets[RC_COUNT] = {
		"SET pgquorum.read_consistency = local",
		"SET pgquorum.read_consistency = session",
		"SET pgquorum.read_consistency = strong",
	};
	enum rc_level level = cl->adm != NULL ? cl->adm->level : RC_LOCAL;

	PGQ_ASSERT(cl->fwd != NULL && cl->fwd->rc_level < RC_COUNT);
	if (cl->fwd->rc_level == level)
		return NULL;
	cl->fwd->rc_level = (uint8_t) level;
	return sets[level];
}

/* Look at one text; run: carry out commands (second pass). */
static int
adm_text(struct proxy_client *cl, struct adm_text *t, bool run)
{
	const struct proxy_admin_hooks *h = &cl->px->admin->hooks;
	sql_admin_cmd cmd;
	const char *sqlstate = NULL;
	char		err[PROXY_ERRMSG_LEN];
	int			rc;

	free(t->out);
	t->out = NULL;
	t->wait = false;
	t->view = false;
	t->err_state = NULL;
	t->node = true;
	switch (h->command(h->arg, t->text, &cmd))
	{
		case SQL_ADMIN_CMD_CALL:
			do_call(cl, &cmd, t, run);
			break;
		case SQL_ADMIN_CMD_SET:
		case SQL_ADMIN_CMD_RESET:
		case SQL_ADMIN_CMD_SHOW:
			do_setting(cl, &cmd, t, run);
			break;
		case SQL_ADMIN_CMD_INVALID:
			set_error(t, cmd.sqlstate, cmd.error);
			break;
		default:
			t->node = false;
			if (!run)
				break;
			rc = h->rewrite(h->arg, t->text, &t->out, &sqlstate, err, sizeof(err));
			t->view = rc == 1;
			if (rc < 0)
				set_error(t, sqlstate, err);
			break;
	}
	return 0;
}

/* ---- named statements over views: re-parsed before each Bind ---- */

static struct adm_named *
named_find(struct adm_named_set *set, const char *name)
{
	for (int i = 0; i < set->n; i++)
		if (strcmp(set->e[i].name, name) == 0)
			return &set->e[i];
	return NULL;
}

static void
named_free(struct adm_named *e)
{
	free(e->name);
	free(e->text);
	free(e->params);
	memset(e, 0, sizeof(*e));
}

static void
named_forget(struct adm_named_set *set, const char *name)
{
	struct adm_named *e = named_find(set, name);

	if (e == NULL)
		return;
	named_free(e);
	*e = set->e[--set->n];
}

static void
named_clear(struct adm_named_set *set)
{
	for (int i = 0; i < set->n; i++)
		named_free(&set->e[i]);
	set->n = 0;
}

/* Keep name's text in set (replacing an entry of that name): the entry,
 * or NULL when the set is full or out of memory. */
static struct adm_named *
named_add(struct adm_named_set *set, const char *name, const char *text)
{
	struct adm_named *e;

	named_forget(set, name);
	if (set->n == ADMIN_MAX_NAMED)
		return NULL;			/* beyond: the figures of its Parse/PREPARE */
	e = &set->e[set->n];
	e->name = strdup(name);
	e->text = strdup(text);
	if (e->name == NULL || e->text == NULL)
	{
		named_free(e);
		return NULL;
	}
	set->n++;
	return e;
}

/* Parse message m (named, text at text_off) read a view: keep its text. */
static void
named_remember(struct proxy_admin_session *a, const uint8_t *m, size_t text_off,
			   const char *text)
{
	const char *name = (const char *) m + PQ_HEADER_LEN;
	size_t		end = 1 + pq_get_uint32(m + 1);
	size_t		params_off = text_off + strlen(text) + 1;
	struct adm_named *e = named_add(&a->named, name, text);

	if (e == NULL)
		return;
	e->params_len = end - params_off;
	if ((e->params = malloc(e->params_len ? e->params_len : 1)) == NULL)
	{
		named_forget(&a->named, name);
		return;
	}
	memcpy(e->params, m + params_off, e->params_len);
}

/* The statement a batch made only of Bind (first), Describe, Execute,
 * Flush and Sync binds; NULL for any other batch. */
static const char *
bound_statement(const uint8_t *p, size_t n)
{
	struct pq_reader r;
	const char *stmt;

	if (n < PQ_HEADER_LEN || p[0] != PqMsg_Bind)
		return NULL;
	for (size_t off = 1 + pq_get_uint32(p + 1); off + PQ_HEADER_LEN <= n;
		 off += 1 + pq_get_uint32(p + off + 1))
		if (p[off] != PqMsg_Describe && p[off] != PqMsg_Execute &&
			p[off] != PqMsg_Flush && p[off] != PqMsg_Sync)
			return NULL;
	pq_reader_init(&r, p + PQ_HEADER_LEN, pq_get_uint32(p + 1) - 4);
	if (pq_read_string(&r) == NULL || (stmt = pq_read_string(&r)) == NULL ||
		stmt[0] == '\0')
		return NULL;
	return stmt;
}

static bool
append_close_parse(struct pgq_buf *out, const struct adm_named *e, const char *text)
{
	size_t		nlen = strlen(e->name) + 1,
				tlen = strlen(text) + 1;
	uint8_t		hdr[PQ_HEADER_LEN + 1];

	hdr[0] = PqMsg_Close;
	pq_put_uint32(hdr + 1, (uint32_t) (4 + 1 + nlen));
	hdr[PQ_HEADER_LEN] = 'S';
	if (!pgq_buf_append(out, hdr, PQ_HEADER_LEN + 1) ||
		!pgq_buf_append(out, e->name, nlen))
		return false;
	hdr[0] = PqMsg_Parse;
	pq_put_uint32(hdr + 1, (uint32_t) (4 + nlen + tlen + e->params_len));
	return pgq_buf_append(out, hdr, PQ_HEADER_LEN) &&
		pgq_buf_append(out, e->name, nlen) &&
		pgq_buf_append(out, text, tlen) &&
		(e->params_len == 0 || pgq_buf_append(out, e->params, e->params_len));
}

/*
 * A batch that only executes a named statement over views, with nothing of
 * the session's still unanswered: put Close and Parse of that statement
 * with figures of now before it, and have the backend filter drop their
 * two answers (CloseComplete, ParseComplete).  Returns whether it did.
 */
static bool
refresh_named(struct proxy_client *cl, const uint8_t *p, size_t n, struct pgq_buf *out)
{
	const struct proxy_admin_hooks *h = &cl->px->admin->hooks;
	const char *stmt = bound_statement(p, n);
	struct adm_named *e;
	char	   *fresh = NULL,
				err[PROXY_ERRMSG_LEN];
	const char *sqlstate;

	if (stmt == NULL || (e = named_find(&cl->adm->named, stmt)) == NULL ||
		cl->be->pending > 0 || cl->be->unsynced || cl->be->adm_drop > 0)
		return false;
	cl->px->admin->current = cl;
	if (h->rewrite(h->arg, e->text, &fresh, &sqlstate, err, sizeof(err)) != 1)
	{
		cl->px->admin->current = NULL;
		free(fresh);
		return false;			/* the statement keeps its figures */
	}
	cl->px->admin->current = NULL;
	if (!append_close_parse(out, e, fresh) || !pgq_buf_append(out, p, n))
	{
		free(fresh);
		return false;
	}
	free(fresh);
	cl->be->adm_drop = 2;
	return true;
}

/* Keep the named statement map current with the batch's Parse and Close. */
static void
named_track(struct proxy_client *cl, const uint8_t *m, const struct adm_text *t,
			size_t text_off)
{
	struct pq_reader r;
	const char *name;

	if (m[0] == PqMsg_Close)
	{
		pq_reader_init(&r, m + PQ_HEADER_LEN, pq_get_uint32(m + 1) - 4);
		if (pq_read_byte(&r) == 'S' && (name = pq_read_string(&r)) != NULL)
			named_forget(&cl->adm->named, name);
		return;
	}
	if (m[0] != PqMsg_Parse || t == NULL || !t->named)
		return;
	if (t->view && t->out != NULL && cl->adm->stmt_cls == SQL_CLASS_READ_ONLY)
		named_remember(cl->adm, m, text_off, t->text);
	else
		named_forget(&cl->adm->named, (const char *) m + PQ_HEADER_LEN);
}

/* ---- SQL PREPARE over views: re-prepared before each EXECUTE ---- */

/*
 * What text does with SQL prepared statements (sql_prepared_kind), name
 * filled.  The classification, cached, says first whether it prepares,
 * executes, deallocates or discards at all (exec: whether it executes),
 * so most texts are not parsed again.
 */
static int
sqlprep_kind(struct proxy_client *cl, const char *text, bool exec,
			 char name[SQL_PREPARED_NAME_LEN])
{
	const struct proxy_admin_hooks *h = &cl->px->admin->hooks;
	const sql_result *r = cl->px->hooks.classify(cl->px->hooks.arg, text);
	bool		any = false;

	if (h->prepared == NULL || r == NULL || r->status != SQL_STATUS_OK)
		return SQL_PREPARED_NONE;
	for (uint32_t i = 0; i < r->n_stmts && !any; i++)
	{
		sql_session_kind k = r->stmts[i].session;

		any = k == SQL_SESSION_EXECUTE ||
			(!exec && (k == SQL_SESSION_PREPARE || k == SQL_SESSION_DEALLOCATE ||
					   k == SQL_SESSION_DISCARD));
	}
	return any ? h->prepared(h->arg, text, name) : SQL_PREPARED_NONE;
}

/* The SQL-prepared statement over views that text executes alone, or NULL. */
static const struct adm_named *
sqlprep_of(struct proxy_client *cl, const char *text)
{
	char		name[SQL_PREPARED_NAME_LEN];

	if (cl->adm->sqlprep.n == 0 ||
		sqlprep_kind(cl, text, true, name) != SQL_PREPARED_EXECUTE)
		return NULL;
	return named_find(&cl->adm->sqlprep, name);
}

/* "DEALLOCATE name; <its PREPARE with figures of now>; <exec>", or NULL
 * (the statement keeps its figures). */
static char *
sqlprep_refresh(struct proxy_client *cl, const struct adm_named *e, const char *exec)
{
	const struct proxy_admin_hooks *h = &cl->px->admin->hooks;
	char	   *fresh = NULL,
			   *out = NULL,
				err[PROXY_ERRMSG_LEN],
				quoted[2 * SQL_PREPARED_NAME_LEN + 3];
	const char *sqlstate;
	size_t		k = 0;

	if (h->rewrite(h->arg, e->text, &fresh, &sqlstate, err, sizeof(err)) != 1)
	{
		free(fresh);
		return NULL;
	}
	quoted[k++] = '"';
	for (const char *c = e->name; *c != '\0' && k + 3 < sizeof(quoted); c++)
	{
		if (*c == '"')
			quoted[k++] = '"';
		quoted[k++] = *c;
	}
	quoted[k++] = '"';
	quoted[k] = '\0';
	if (asprintf(&out, "DEALLOCATE %s; %s;\n%s", quoted, fresh, exec) < 0)
		out = NULL;
	free(fresh);
	return out;
}

/*
 * Follow SQL PREPARE, DEALLOCATE and DISCARD ALL in the texts; an EXECUTE
 * alone in a Query, of a read-only statement over views prepared by a
 * Query, gets the statement re-prepared with figures of now first (the
 * backend filter drops the two extra CommandCompletes), as a view would
 * give them.
 */
static void
sqlprep_track(struct proxy_client *cl, struct adm_text *t, bool query)
{
	struct proxy_admin_session *a = cl->adm;
	char		name[SQL_PREPARED_NAME_LEN];
	const sql_result *r;
	const struct adm_named *e;

	switch (sqlprep_kind(cl, t->text, false, name))
	{
		case SQL_PREPARED_PREPARE:
			r = cl->px->hooks.classify(cl->px->hooks.arg, t->text);
			if (query && t->view && t->out != NULL && r != NULL && r->n_stmts == 1 &&
				r->stmts[0].inner_cls == SQL_CLASS_READ_ONLY)
				(void) named_add(&a->sqlprep, name, t->text);
			else
				named_forget(&a->sqlprep, name);
			break;
		case SQL_PREPARED_DEALLOCATE:
			named_forget(&a->sqlprep, name);
			break;
		case SQL_PREPARED_FORGET_ALL:
			named_clear(&a->sqlprep);
			break;
		case SQL_PREPARED_EXECUTE:
			if (!query || t->out != NULL || cl->be != cl->home ||
				cl->be->txn == PQ_TXN_FAILED || cl->be->pending > 0 ||
				(e = named_find(&a->sqlprep, name)) == NULL)
				break;
			if ((t->out = sqlprep_refresh(cl, e, t->text)) != NULL)
			{
				t->view = true;
				a->exec_refresh = true;
			}
			break;
		default:
			break;
	}
}

/* ---- the batch ---- */

static void
note_class(struct proxy_client *cl, const char *text)
{
	const sql_result *r = cl->px->hooks.classify(cl->px->hooks.arg, text);

	if (r != NULL)
		cl->adm->stmt_cls = (int) r->cls;
}

/* pgq_buf_append that takes nothing as success (an empty buffer has no
 * memory yet, so reserving 0 bytes gives NULL). */
static bool
buf_add(struct pgq_buf *out, const void *p, size_t n)
{
	return n == 0 || pgq_buf_append(out, p, n);
}

/* Append message m (whole) to out, with its text replaced by t->out. */
static bool
append_message(struct pgq_buf *out, const uint8_t *m, const struct adm_text *t,
			   size_t text_off)
{
	uint32_t	len = pq_get_uint32(m + 1);
	size_t		old_len = strlen(t->text) + 1;
	size_t		new_len = strlen(t->out) + 1;
	size_t		tail = 1 + len - text_off - old_len;
	uint8_t		hdr[PQ_HEADER_LEN];

	hdr[0] = m[0];
	pq_put_uint32(hdr + 1, (uint32_t) (len - old_len + new_len));
	return buf_add(out, hdr, PQ_HEADER_LEN) &&
		buf_add(out, m + PQ_HEADER_LEN, text_off - PQ_HEADER_LEN) &&
		buf_add(out, t->out, new_len) &&
		buf_add(out, m + text_off + old_len, tail);
}

/* Offset of the query text in a Query or Parse message, or 0. */
static size_t
text_offset(const uint8_t *m, bool *named)
{
	uint32_t	len = pq_get_uint32(m + 1);
	const uint8_t *end = m + 1 + len;
	const uint8_t *p = m + PQ_HEADER_LEN;

	*named = false;
	if (m[0] == PqMsg_Query)
		return end[-1] == '\0' ? PQ_HEADER_LEN : 0;
	if (m[0] != PqMsg_Parse)
		return 0;
	*named = *p != '\0';
	p = memchr(p, '\0', (size_t) (end - p));
	if (p == NULL || memchr(p + 1, '\0', (size_t) (end - p - 1)) == NULL)
		return 0;				/* malformed: the server reports it */
	return (size_t) (p + 1 - m);
}

/* Does the batch run a statement (Query or Execute)? */
static bool
batch_runs(const uint8_t *p, size_t n)
{
	for (size_t off = 0; off + PQ_HEADER_LEN <= n; off += 1 + pq_get_uint32(p + off + 1))
		if (p[off] == PqMsg_Query || p[off] == PqMsg_Execute)
			return true;
	return false;
}

/* Does the classified text read replicated data: a user relation, a
 * sequence, a function of unknown volatility (or a text the classifier
 * cannot say)? */
static bool
reads_data(const sql_result *r)
{
	if (r == NULL || r->status == SQL_STATUS_NO_MEMORY)
		return true;
	if (r->status != SQL_STATUS_OK)
		return false;			/* empty, or the server reports the error */
	return r->user_relations ||
		(r->flags & (SQL_F_UNKNOWN_FUNCTION | SQL_F_USES_SEQUENCE)) != 0;
}

static bool
text_reads_data(struct proxy_client *cl, const char *text)
{
	return reads_data(cl->px->hooks.classify(cl->px->hooks.arg, text));
}

/*
 * What a strong read of the batch is: *stays when the node answers or
 * rewrites part of it (a node command, a view, a named statement over
 * views), so it cannot move to the primary node; *data when a statement
 * may read replicated data, counting a Bind of a statement parsed in an
 * earlier batch (its text is not looked at again).
 */
#define ADMIN_MAX_LOOKBACK 64	/* messages searched for a Bind's Parse */

/* Is statement name parsed by a message of p before offset upto? */
static bool
parsed_before(const uint8_t *p, size_t upto, const char *name)
{
	int			k = 0;

	for (size_t off = 0; off < upto && k < ADMIN_MAX_LOOKBACK;
		 off += 1 + pq_get_uint32(p + off + 1), k++)
		if (p[off] == PqMsg_Parse &&
			strncmp((const char *) p + off + PQ_HEADER_LEN, name, upto - off) == 0)
			return true;
	return false;
}

/* The statement name of a Bind message, or NULL if malformed. */
static const char *
bind_statement(const uint8_t *m)
{
	struct pq_reader r;

	pq_reader_init(&r, m + PQ_HEADER_LEN, pq_get_uint32(m + 1) - 4);
	if (pq_read_string(&r) == NULL)
		return NULL;
	return pq_read_string(&r);
}

static void
batch_reads(struct proxy_client *cl, const uint8_t *p, size_t n, bool *stays,
			bool *data)
{
	const struct proxy_admin_hooks *h = &cl->px->admin->hooks;

	*stays = *data = false;
	for (size_t off = 0; off + PQ_HEADER_LEN <= n; off += 1 + pq_get_uint32(p + off + 1))
	{
		bool		named;
		size_t		toff = text_offset(p + off, &named);
		const char *text = (const char *) p + off + toff;
		sql_admin_cmd cmd;
		const sql_result *r;
		const struct adm_named *e;

		if (p[off] == PqMsg_Bind)
		{
			const char *name = bind_statement(p + off);

			e = name ? named_find(&cl->adm->named, name) : NULL;

			if (e != NULL)
			{
				*stays = true;	/* re-parsed with figures of now */
				*data |= text_reads_data(cl, e->text);
			}
			else if (name == NULL || !parsed_before(p, off, name))
				*data = true;	/* parsed earlier: not looked at again */
			continue;
		}
		if (toff == 0)
			continue;
		if (p[off] == PqMsg_Query && (e = sqlprep_of(cl, text)) != NULL)
		{
			*stays = true;		/* re-prepared here */
			*data |= text_reads_data(cl, e->text);
			continue;
		}
		if (h->command(h->arg, text, &cmd) != SQL_ADMIN_CMD_NONE)
		{
			*stays = true;
			continue;
		}
		r = cl->px->hooks.classify(cl->px->hooks.arg, text);
		*stays |= r != NULL && r->admin_views != 0;
		*data |= reads_data(r);
	}
}

/*
 * strong, for a batch that does not move to the primary node: join the
 * next read index round.  A round already out may have been answered at
 * the primary before this batch came, so it could miss a write
 * acknowledged since: the batch waits for the one after it.  1 waits, or
 * what adm_refuse_run returns.
 */
static int
adm_read(struct proxy_client *cl, bool flush)
{
	struct proxy_admin_session *a = cl->adm;
	struct proxy_admin *adm = cl->px->admin;
	char		err[PROXY_ERRMSG_LEN - 64],
				msg[PROXY_ERRMSG_LEN];

	if (adm->round_out)
		a->read_round = adm->round + 1;
	else if (read_ask(adm, adm->round + 1, err, sizeof(err)) == 0)
		a->read_round = adm->round;
	else
	{
		snprintf(msg, sizeof(msg), "read_consistency strong: %s", err);
		return adm_refuse_run(cl, flush, SQLSTATE_RETRY, msg) < 0 ? -1 : 2;
	}
	adm_wait(a, ADM_WAIT_READ, UINT64_MAX, wait_ms_of(cl->px));
	return 1;
}

/*
 * Read consistency: 0 go on, 1 wait, -1 session ended, 2 refused, 3 wait
 * for the backend to answer what is in flight, 4 go on on the primary
 * node (strong on a secondary: never a local read, which could miss a
 * write the primary acknowledged, unless a read index says how far to
 * apply first).  A batch that continues an unsynced run was looked at
 * with the run's first part.
 */
static int
adm_consistency(struct proxy_client *cl, const uint8_t *p, size_t n, bool flush)
{
	struct proxy_admin_session *a = cl->adm;
	const struct proxy_admin_hooks *h = &cl->px->admin->hooks;
	struct proxy_admin_state st;
	bool		stays,
				data;

	if (a->level == RC_LOCAL || !batch_runs(p, n))
		return 0;
	if (cl->be->pending > 0)
		return 3;				/* the transaction state is not known yet */
	if (cl->be->txn != PQ_TXN_IDLE || cl->be->unsynced)
		return 0;
	h->state(h->arg, &st);
	if (a->level == RC_SESSION)
	{
		if (st.applied >= a->last_write)
			return 0;
		adm_wait(a, ADM_WAIT_APPLY, a->last_write, wait_ms_of(cl->px));
		return 1;
	}
	PGQ_ASSERT(a->level == RC_STRONG);
	batch_reads(cl, p, n, &stays, &data);
	if (!st.primary && !cl->forwarded_in && !flush && !stays)
		return 4;
	if (!data)
		return 0;				/* nothing replicated is read */
	return adm_read(cl, flush);
}

#define ADMIN_MAX_TEXTS 64		/* texts of one batch looked at */

/* Pass over every text of the batch; returns the first wait, or -1. */
static int
adm_texts(struct proxy_client *cl, const uint8_t *p, size_t n,
		  struct adm_text *texts, size_t *offs, int *n_texts, bool run)
{
	int			k = 0,
				wait = -1;

	for (size_t off = 0; off + PQ_HEADER_LEN <= n; off += 1 + pq_get_uint32(p + off + 1))
	{
		bool		named;
		size_t		toff = text_offset(p + off, &named);

		if (run && toff == 0)
			named_track(cl, p + off, NULL, 0);
		if (toff == 0 || k == ADMIN_MAX_TEXTS)
			continue;
		texts[k].text = (const char *) p + off + toff;
		texts[k].named = named;
		offs[k] = off;
		if (run)
			note_class(cl, texts[k].text);
		adm_text(cl, &texts[k], run);
		if (run)
		{
			named_track(cl, p + off, &texts[k], toff);
			sqlprep_track(cl, &texts[k], p[off] == PqMsg_Query);
		}
		if (texts[k].wait && wait < 0)
			wait = k;
		k++;
	}
	*n_texts = k;
	return wait;
}

static bool
build_batch(const uint8_t *p, size_t n, struct adm_text *texts, const size_t *offs,
			int n_texts, struct pgq_buf *out)
{
	size_t		copied = 0;

	for (int i = 0; i < n_texts; i++)
	{
		bool		named;
		size_t		off = offs[i];

		if (texts[i].out == NULL)
			continue;
		if (!buf_add(out, p + copied, off - copied) ||
			!append_message(out, p + off, &texts[i], text_offset(p + off, &named)))
			return false;
		copied = off + 1 + pq_get_uint32(p + off + 1);
	}
	return buf_add(out, p + copied, n - copied);
}

/* The batch with its replaced texts in *out (texts' outs are freed). */
static int
adm_replace(struct proxy_client *cl, const uint8_t *p, size_t n,
			struct adm_text *texts, const size_t *offs, int n_texts,
			uint8_t **out, size_t *out_len)
{
	struct pgq_buf buf;
	bool		ok;

	pgq_buf_init(&buf, ADMIN_MAX_TEXT);
	ok = build_batch(p, n, texts, offs, n_texts, &buf);
	for (int i = 0; i < n_texts; i++)
		free(texts[i].out);
	if (!ok)
	{
		pgq_buf_free(&buf);
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_INTERNAL_ERROR,
						   "out of memory rewriting a query");
		return -1;
	}
	PGQ_ASSERT(buf.start == 0);
	*out = pgq_buf_head(&buf);
	*out_len = buf.len;
	return PROXY_ADMIN_GO;
}

/* Rewrite the texts of a run ended by Flush: wait_applied answers with
 * the index of now. */
static int
adm_rewrite_only(struct proxy_client *cl, const uint8_t *p, size_t n,
				 uint8_t **out, size_t *out_len)
{
	struct proxy_admin_session *a = cl->adm;
	struct adm_text texts[ADMIN_MAX_TEXTS];
	size_t		offs[ADMIN_MAX_TEXTS];
	int			n_texts = 0;
	bool		any = false;

	memset(texts, 0, sizeof(texts));
	a->call_resumed = true;
	cl->px->admin->current = cl;
	(void) adm_texts(cl, p, n, texts, offs, &n_texts, true);
	cl->px->admin->current = NULL;
	for (int i = 0; i < n_texts; i++)
		any |= texts[i].out != NULL;
	if (!any)
		return PROXY_ADMIN_GO;
	return adm_replace(cl, p, n, texts, offs, n_texts, out, out_len);
}

/*
 * Whether the batch must wait first: read consistency (once per batch,
 * however often it is held), then wait_applied (a first pass over the
 * texts with no side effects; not in a run ended by Flush).
 * PROXY_ADMIN_GO to go on (*to_primary: on the primary node), else what
 * proxy_admin_batch returns.
 */
static int
adm_hold(struct proxy_client *cl, struct proxy_admin_session *a,
		 const uint8_t *p, size_t n, bool flush, bool *to_primary)
{
	struct adm_text texts[ADMIN_MAX_TEXTS];
	size_t		offs[ADMIN_MAX_TEXTS];
	int			n_texts = 0,
				wait,
				rc;

	if (a->rc_failed)
	{
		adm_done(a);
		rc = adm_refuse_run(cl, flush, SQLSTATE_RETRY, a->rc_error);
		return rc < 0 ? -1 : flush ? PROXY_ADMIN_SKIP : PROXY_ADMIN_DONE;
	}
	if (!a->rc_passed)
	{
		rc = adm_consistency(cl, p, n, flush);
		if (rc == 3)
			return PROXY_ADMIN_WAIT_IDLE;	/* not consumed: comes again */
		if (rc == 1)
			return PROXY_ADMIN_WAIT;
		if (rc == 2)
			return flush ? PROXY_ADMIN_SKIP : PROXY_ADMIN_DONE;
		if (rc < 0)
			return -1;
		a->rc_passed = true;
		a->rc_primary = rc == 4;
	}
	*to_primary = a->rc_primary;
	if (flush)
		return PROXY_ADMIN_GO;
	memset(texts, 0, sizeof(texts));
	wait = adm_texts(cl, p, n, texts, offs, &n_texts, false);
	for (int i = 0; i < n_texts; i++)
		free(texts[i].out);
	if (wait < 0)
		return PROXY_ADMIN_GO;
	adm_wait(a, ADM_WAIT_CALL, texts[wait].wait_index, texts[wait].wait_ms);
	return PROXY_ADMIN_WAIT;
}

/* After the second pass: the replacement batch, the node's own answer to
 * a failing one-text batch, or a named statement re-parsed. */
static int
adm_answer(struct proxy_client *cl, const uint8_t *p, size_t n,
		   struct adm_text *texts, const size_t *offs, int n_texts,
		   uint8_t **out, size_t *out_len)
{
	struct pgq_buf buf;
	bool		any = false;
	int			rc;

	for (int i = 0; i < n_texts; i++)
		any |= texts[i].out != NULL;
	if (!any)
	{
		pgq_buf_init(&buf, ADMIN_MAX_TEXT);
		if (!refresh_named(cl, p, n, &buf))
		{
			pgq_buf_free(&buf);
			return PROXY_ADMIN_GO;
		}
		*out = pgq_buf_head(&buf);
		*out_len = buf.len;
		return PROXY_ADMIN_GO;
	}
	/*
	 * A batch of one text that fails, outside a transaction block: answer
	 * the error here (ErrorResponse, ReadyForQuery idle), as the server
	 * would at the first message; the raising DO block would be taken for
	 * a write on a secondary.
	 */
	if (n_texts == 1 && texts[0].err_state != NULL && cl->be->txn == PQ_TXN_IDLE &&
		cl->be->pending == 0)
	{
		rc = adm_refuse(cl, texts[0].err_state, texts[0].err_msg);
		free(texts[0].out);
		return rc < 0 ? -1 : PROXY_ADMIN_DONE;
	}
	return adm_replace(cl, p, n, texts, offs, n_texts, out, out_len);
}

int
proxy_admin_batch(struct proxy_client *cl, const uint8_t *p, size_t n,
				  bool flush, uint8_t **out, size_t *out_len)
{
	struct proxy_admin_session *a;
	struct adm_text texts[ADMIN_MAX_TEXTS];
	size_t		offs[ADMIN_MAX_TEXTS];
	int			n_texts = 0,
				rc;
	bool		to_primary = false;

	*out = NULL;
	*out_len = 0;
	if (cl->px->admin == NULL || cl->be == NULL)
		return PROXY_ADMIN_GO;
	if ((a = adm_get(cl)) == NULL)
	{
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_INTERNAL_ERROR, "out of memory");
		return -1;
	}
	if (a->waiting != ADM_WAIT_NONE)
		return PROXY_ADMIN_WAIT;
	/*
	 * First what must wait, with no side effects; then the second pass
	 * carries out the commands.  A batch held comes again: what it passed
	 * is kept in a until it goes on (adm_done).
	 */
	if ((rc = adm_hold(cl, a, p, n, flush, &to_primary)) != PROXY_ADMIN_GO)
		return rc;
	if (flush)
	{
		rc = adm_rewrite_only(cl, p, n, out, out_len);
		adm_done(a);
		return rc;
	}
	memset(texts, 0, sizeof(texts));
	if (cl->be->pending == 0)
		cl->be->adm_drop_cc = 0;	/* whatever an error left armed */
	cl->px->admin->current = cl;
	(void) adm_texts(cl, p, n, texts, offs, &n_texts, true);
	cl->px->admin->current = NULL;
	adm_done(a);
	/* what the node answers or rewrites (a command, a view's figures, a
	 * named statement re-parsed) runs here */
	for (int i = 0; i < n_texts; i++)
		to_primary &= !texts[i].node;
	rc = adm_answer(cl, p, n, texts, offs, n_texts, out, out_len);
	if (a->exec_refresh && rc == PROXY_ADMIN_GO && *out != NULL)
	{
		a->exec_refresh = false;
		cl->be->adm_drop_cc = 2;
		return PROXY_ADMIN_READ;
	}
	a->exec_refresh = false;
	return rc == PROXY_ADMIN_GO && to_primary && *out == NULL ? PROXY_ADMIN_PRIMARY : rc;
}

/* ---- pgquorum.sessions ---- */

static const char *
session_state(const struct proxy_client *cl)
{
	switch (cl->state)
	{
		case CL_WAIT_BACKEND:
			return "waiting for a connection";
		case CL_ACTIVE:
			if (cl->px->admin && cl->px->admin->current == cl)
				return "active";	/* its query reads the view */
			if (cl->be == NULL)
				return "idle";
			if (cl->be->pending > 0 || proxy_write_busy(cl))
				return "active";
			if (cl->adm && cl->adm->waiting == ADM_WAIT_READ)
				return "waiting for a read index";
			if (cl->adm && cl->adm->waiting != ADM_WAIT_NONE)
				return "waiting for apply";
			if (cl->be->txn == PQ_TXN_BLOCK)
				return "idle in transaction";
			if (cl->be->txn == PQ_TXN_FAILED)
				return "idle in transaction (aborted)";
			return "idle";
		default:
			return "starting";
	}
}

static void
session_addr(const struct proxy_client *cl, char *buf, size_t cap)
{
	char		host[NI_MAXHOST],
				port[NI_MAXSERV];

	buf[0] = '\0';
	if (cl->addr.ss_family != AF_INET && cl->addr.ss_family != AF_INET6)
		return;
	if (getnameinfo((const struct sockaddr *) &cl->addr, sizeof(cl->addr), host,
					sizeof(host), port, sizeof(port),
					NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return;
	snprintf(buf, cap, cl->addr.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

uint64_t
proxy_forwarded_writes(const struct proxy *px)
{
	return px->forwarded_writes;
}

void
proxy_sessions(struct proxy *px,
			   void (*cb) (void *arg, const struct proxy_session_info *s),
			   void *arg)
{
	for (int s = 0; s < CL_NSTATES; s++)
	{
		struct proxy_list *l;

		if (s == CL_CLOSING)
			continue;
		for (l = px->clients[s].next; l != &px->clients[s]; l = l->next)
		{
			const struct proxy_client *cl = proxy_container(l, struct proxy_client, link);
			struct proxy_session_info si;

			memset(&si, 0, sizeof(si));
			si.id = cl->id;
			si.user = cl->pool ? cl->pool->user : NULL;
			si.database = cl->pool ? cl->pool->database : NULL;
			session_addr(cl, si.client_addr, sizeof(si.client_addr));
			si.state = session_state(cl);
			si.statement_cls = cl->adm ? cl->adm->stmt_cls : -1;
			si.runs_on = cl->fwd != NULL && cl->be == cl->fwd ? "primary" : "local";
			si.since = cl->last_active;
			si.read_consistency = rc_names[cl->adm ? cl->adm->level : RC_LOCAL];
			si.last_write_index = cl->adm ? cl->adm->last_write : 0;
			cb(arg, &si);
		}
	}
}
