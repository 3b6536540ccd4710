/*
 * capture_set.c
 *	  One capture_stream per database of the local server.  See
 *	  capture_set.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/pgq_assert.h"
#include "common/pgq_log.h"
#include "sync/capture_set.h"
#include "sync/txn_codec.h"

#define LIST_SQL \
	"SELECT datname, oid FROM pg_catalog.pg_database " \
	"WHERE datallowconn AND NOT datistemplate ORDER BY datname"

struct member
{
	char		db[TXN_NAME_MAX + 1];
	char		slot[CAPTURE_IDENT_MAX + 1];	/* slots are per server: <name>_<oid> */
	struct capture_stream *cs;
	struct capture_set *set;
	int			idx;
};

/* Which stream, and which id there, each of the set's ids came from. */
struct origin
{
	uint64_t	id;
	uint64_t	local;
	int			member;
};

enum list_state
{
	L_IDLE,
	L_CONNECTING,
	L_QUERY,
};

struct capture_set
{
	struct ev_loop *loop;
	struct capture_stream_config tmpl;	/* strings point into the copies below */
	char		conninfo[1024];
	char		slot_name[CAPTURE_IDENT_MAX + 1];
	char		publication[CAPTURE_IDENT_MAX + 1];
	char		gid_prefix[64];
	capture_stream_chunk_fn on_chunk;
	capture_stream_error_fn on_error;
	void	   *arg;
	struct member members[CAPTURE_SET_MAX_DBS];
	int			n_members;
	struct origin *q;			/* ring of unconfirmed ids */
	size_t		q_head,
				q_len,
				q_cap;
	uint64_t	next_id;
	bool		failed;
	bool		warned_full;
	char		fail_msg[1024];
	ev_timer	fail_timer;		/* reports failed on a fresh stack */
	/* the database lister */
	PGconn	   *lconn;
	enum list_state lstate;
	ev_io		lio;
	ev_timer	ltimer;
};

static void set_fail(struct capture_set *set, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
static void list_close(struct capture_set *set);

static void
set_fail(struct capture_set *set, const char *fmt,...)
{
	char		msg[1024];
	va_list		ap;

	if (set->failed)
		return;
	set->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memcpy(set->fail_msg, msg, sizeof(msg));
	/* not from here: the caller frees the set, maybe from inside a stream */
	ev_timer_start(set->loop, &set->fail_timer);
}

static void
on_fail_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct capture_set *set = w->data;

	set->on_error(set->arg, set->fail_msg);	/* frees the set */
}

static void
on_member_chunk(void *arg, const struct capture_chunk *chunk)
{
	struct member *m = arg;
	struct capture_set *set = m->set;
	struct capture_chunk copy = *chunk;
	struct origin *o;

	if (set->q_len == set->q_cap)
	{
		size_t		nc = set->q_cap ? set->q_cap * 2 : 256;
		struct origin *nq = malloc(nc * sizeof(*nq));

		if (nq == NULL)
		{
			set_fail(set, "out of memory for captured chunk ids");
			return;
		}
		for (size_t i = 0; i < set->q_len; i++)
			nq[i] = set->q[(set->q_head + i) % set->q_cap];
		free(set->q);
		set->q = nq;
		set->q_cap = nc;
		set->q_head = 0;
	}
	copy.id = ++set->next_id;
	o = &set->q[(set->q_head + set->q_len++) % set->q_cap];
	o->id = copy.id;
	o->local = chunk->id;
	o->member = m->idx;
	set->on_chunk(set->arg, &copy);
}

static void
on_member_error(void *arg, const char *message)
{
	struct member *m = arg;

	set_fail(m->set, "database \"%s\": %s", m->db, message);
}

static int
add_member(struct capture_set *set, const char *db, const char *oid)
{
	struct member *m;
	struct capture_stream_config sc = set->tmpl;

	for (int i = 0; i < set->n_members; i++)
		if (strcmp(set->members[i].db, db) == 0)
			return 0;
	if (strlen(db) > TXN_NAME_MAX)
	{
		pgq_warn("capture: database name \"%.64s...\" is too long; it is not captured", db);
		return 0;
	}
	if (set->n_members == CAPTURE_SET_MAX_DBS)
	{
		if (!set->warned_full)
			pgq_error("capture: more than %d databases; \"%s\" and later ones are NOT "
					  "captured: writes to them are refused", CAPTURE_SET_MAX_DBS, db);
		set->warned_full = true;
		return 0;
	}
	m = &set->members[set->n_members];
	memset(m, 0, sizeof(*m));
	snprintf(m->db, sizeof(m->db), "%s", db);
	if (snprintf(m->slot, sizeof(m->slot), "%s_%s", set->slot_name, oid) >= (int) sizeof(m->slot))
	{
		set_fail(set, "slot name %s_%s is too long", set->slot_name, oid);
		return -1;
	}
	sc.slot_name = m->slot;
	m->set = set;
	m->idx = set->n_members;
	sc.dbname = m->db;
	m->cs = capture_stream_new(set->loop, &sc, on_member_chunk, on_member_error, m);
	if (m->cs == NULL)
	{
		set_fail(set, "cannot make a capture stream for database \"%s\"", db);
		return -1;
	}
	set->n_members++;
	pgq_info("capture: database \"%s\": starting its stream", db);
	if (capture_stream_start(m->cs) < 0)
	{
		set_fail(set, "database \"%s\": could not start connecting", db);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ the lister */

static void list_poll(struct capture_set *set);

static void
list_close(struct capture_set *set)
{
	ev_io_stop(set->loop, &set->lio);
	if (set->lconn != NULL)
		PQfinish(set->lconn);
	set->lconn = NULL;
	set->lstate = L_IDLE;
}

static void
list_watch(struct capture_set *set, int events)
{
	ev_io_stop(set->loop, &set->lio);
	ev_io_set(&set->lio, PQsocket(set->lconn), events);
	ev_io_start(set->loop, &set->lio);
}

/* Without any stream yet the set cannot work: fail it (the caller retries). */
static void
list_failed(struct capture_set *set, const char *why)
{
	char		msg[512];

	snprintf(msg, sizeof(msg), "%s", why);
	list_close(set);
	if (set->n_members == 0)
		set_fail(set, "cannot list the databases: %s", msg);
	else
		pgq_warn("capture: cannot list the databases: %s", msg);
}

static void
on_list_io(struct ev_loop *loop, ev_io *w, int revents)
{
	list_poll(w->data);
}

/* The listing answered: a stream for each database not captured yet. */
static void
list_result(struct capture_set *set, PGresult *res)
{
	int			n = PQntuples(res);

	for (int i = 0; i < n && !set->failed; i++)
		(void) add_member(set, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
}

static void
list_poll(struct capture_set *set)
{
	PGresult   *res;

	if (set->lstate == L_CONNECTING)
	{
		switch (PQconnectPoll(set->lconn))
		{
			case PGRES_POLLING_READING:
				list_watch(set, EV_READ);
				return;
			case PGRES_POLLING_WRITING:
				list_watch(set, EV_WRITE);
				return;
			case PGRES_POLLING_OK:
				if (!PQsendQuery(set->lconn, LIST_SQL))
					break;
				set->lstate = L_QUERY;
				list_watch(set, EV_READ);
				return;
			default:
				break;
		}
		list_failed(set, PQerrorMessage(set->lconn));
		return;
	}
	if (!PQconsumeInput(set->lconn))
	{
		list_failed(set, PQerrorMessage(set->lconn));
		return;
	}
	while (!PQisBusy(set->lconn))
	{
		if ((res = PQgetResult(set->lconn)) == NULL)
		{
			list_close(set);
			return;
		}
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			list_failed(set, PQresultErrorMessage(res));
			PQclear(res);
			return;
		}
		list_result(set, res);
		PQclear(res);
	}
}

static void
on_list_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct capture_set *set = w->data;
	const char *keys[] = {"dbname", "application_name", NULL};
	const char *vals[] = {set->conninfo, "pgquorum_capture_list", NULL};

	if (set->lstate != L_IDLE || set->failed)
		return;
	set->lconn = PQconnectStartParams(keys, vals, 1);
	if (set->lconn == NULL || PQstatus(set->lconn) == CONNECTION_BAD)
	{
		list_failed(set, set->lconn ? PQerrorMessage(set->lconn) : "out of memory");
		return;
	}
	set->lstate = L_CONNECTING;
	list_poll(set);
}

/* ------------------------------------------------------------ interface */

struct capture_set *
capture_set_new(struct ev_loop *loop, const struct capture_stream_config *tmpl,
				capture_stream_chunk_fn on_chunk, capture_stream_error_fn on_error, void *arg)
{
	struct capture_set *set;

	if (strlen(tmpl->conninfo) >= sizeof(set->conninfo) ||
		strlen(tmpl->slot_name) > CAPTURE_IDENT_MAX ||
		strlen(tmpl->publication) > CAPTURE_IDENT_MAX ||
		(tmpl->gid_prefix && strlen(tmpl->gid_prefix) >= sizeof(set->gid_prefix)) ||
		(set = calloc(1, sizeof(*set))) == NULL)
		return NULL;
	set->loop = loop;
	set->tmpl = *tmpl;
	snprintf(set->conninfo, sizeof(set->conninfo), "%s", tmpl->conninfo);
	snprintf(set->slot_name, sizeof(set->slot_name), "%s", tmpl->slot_name);
	snprintf(set->publication, sizeof(set->publication), "%s", tmpl->publication);
	set->tmpl.conninfo = set->conninfo;
	set->tmpl.slot_name = set->slot_name;
	set->tmpl.publication = set->publication;
	if (tmpl->gid_prefix != NULL)
	{
		snprintf(set->gid_prefix, sizeof(set->gid_prefix), "%s", tmpl->gid_prefix);
		set->tmpl.gid_prefix = set->gid_prefix;
	}
	set->on_chunk = on_chunk;
	set->on_error = on_error;
	set->arg = arg;
	ev_io_init(&set->lio, on_list_io, 0, EV_READ);
	set->lio.data = set;
	ev_timer_init(&set->ltimer, on_list_timer, 0., CAPTURE_SET_RELIST_MS / 1000.0);
	set->ltimer.data = set;
	ev_timer_init(&set->fail_timer, on_fail_timer, 0., 0.);
	set->fail_timer.data = set;
	return set;
}

int
capture_set_start(struct capture_set *set)
{
	/* every database, the configured one included, comes from the listing */
	ev_timer_again(set->loop, &set->ltimer);
	on_list_timer(set->loop, &set->ltimer, EV_TIMER);
	return 0;
}

void
capture_set_confirm(struct capture_set *set, uint64_t chunk_id)
{
	uint64_t	upto[CAPTURE_SET_MAX_DBS] = {0};

	while (set->q_len > 0 && set->q[set->q_head].id <= chunk_id)
	{
		struct origin *o = &set->q[set->q_head];

		upto[o->member] = o->local;
		set->q_head = (set->q_head + 1) % set->q_cap;
		set->q_len--;
	}
	for (int i = 0; i < set->n_members; i++)
		if (upto[i] > 0)
			capture_confirm(set->members[i].cs, upto[i]);
}

void
capture_set_stats(const struct capture_set *set, struct capture_stream_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->state = set->n_members > 0 ? CAPTURE_ST_STREAMING : CAPTURE_ST_CONNECTING;
	for (int i = 0; i < set->n_members; i++)
	{
		struct capture_stream_stats st;

		capture_stream_stats(set->members[i].cs, &st);
		if (st.state == CAPTURE_ST_FAILED || out->state == CAPTURE_ST_FAILED)
			out->state = CAPTURE_ST_FAILED;
		else if (st.state < out->state)
			out->state = st.state;
		if (st.received_lsn > out->received_lsn)
			out->received_lsn = st.received_lsn;
		if (i == 0 || st.flushed_lsn < out->flushed_lsn)
			out->flushed_lsn = st.flushed_lsn;
		if (i == 0 || st.confirmed_lsn < out->confirmed_lsn)
			out->confirmed_lsn = st.confirmed_lsn;
		if (st.unconfirmed_bytes > out->unconfirmed_bytes)
			out->unconfirmed_bytes = st.unconfirmed_bytes;
		out->backlog_chunks += st.backlog_chunks;
		out->backlog_bytes += st.backlog_bytes;
		out->paused |= st.paused;
		if (st.decode_lag_ms > out->decode_lag_ms)
			out->decode_lag_ms = st.decode_lag_ms;
		out->messages += st.messages;
		out->txns.txns += st.txns.txns;
		out->txns.chunks += st.txns.chunks;
		out->txns.changes += st.txns.changes;
		out->txns.skipped_origin += st.txns.skipped_origin;
		out->txns.skipped_foreign += st.txns.skipped_foreign;
		out->txns.plain_commits += st.txns.plain_commits;
		out->txns.unreplicated_writes += st.txns.unreplicated_writes;
		out->txns.commit_prepared += st.txns.commit_prepared;
		out->txns.rollback_prepared += st.txns.rollback_prepared;
		out->txns.relations_cached += st.txns.relations_cached;
	}
}

bool
capture_set_streaming(const struct capture_set *set, const char *db)
{
	struct capture_stream_stats st;

	for (int i = 0; i < set->n_members; i++)
		if (strcmp(set->members[i].db, db) == 0)
		{
			capture_stream_stats(set->members[i].cs, &st);
			return st.state == CAPTURE_ST_STREAMING;
		}
	return false;
}

int
capture_set_databases(const struct capture_set *set)
{
	return set->n_members;
}

void
capture_set_free(struct capture_set *set)
{
	if (set == NULL)
		return;
	list_close(set);
	ev_timer_stop(set->loop, &set->ltimer);
	ev_timer_stop(set->loop, &set->fail_timer);
	for (int i = 0; i < set->n_members; i++)
		capture_stream_free(set->members[i].cs);
	free(set->q);
	free(set);
}
