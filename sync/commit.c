/*
 * commit.c
 *	  Captured transactions into the log; sessions wait for their commit.
 *	  See commit.h.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <libpq-fe.h>

#include "common/pgq_assert.h"
#include "common/pgq_config.h"
#include "common/pgq_log.h"
#include "sync/capture_set.h"
#include "sync/commit.h"
#include "sync/sync_node.h"
#include "sync/txn_codec.h"

#define TXN_ID_MAX 64
#define SEEN_KEY_MAX 96			/* "gid#seq" */
#define DONE_RING 1024			/* results kept for waiters that come late */
#define SEEN_GIDS 4096			/* gids proposed, to drop a re-sent chunk */
#define ABORTED_GIDS 1024		/* gids given up: their chunks are dropped */
#define PENDING_ABORTS 1024		/* ABORT entries the log refused, to retry */
#define RESTART_MIN_S 0.05
#define RESTART_MAX_S 2.0
#define SERVER_DOWN_EXIT_S 2.0	/* unreachable this long: stop the node */

struct waiter
{
	struct waiter *next;
	struct waiter *prev;
	char		txn_id[TXN_ID_MAX];
	commit_done_cb cb;
	void	   *arg;
	ev_tstamp	deadline;
	bool		ready;			/* result known before the wait began */
	enum commit_result result;
	uint64_t	index;
};

/* One delivered chunk, until the slot is confirmed past it. */
struct slot_item
{
	uint64_t	chunk_id;
	bool		done;
};

/* A proposal in flight. */
struct inflight
{
	struct commit *c;
	uint64_t	generation;		/* of the stream that delivered it */
	uint64_t	chunk_id;
	char		txn_id[TXN_ID_MAX];	/* final chunk only */
};

struct commit
{
	struct ev_loop *loop;
	const struct pgq_config *cfg;
	struct sync_node *node;
	struct capture_set *stream;	/* one capture stream per database */
	uint64_t	generation;
	char		gid_prefix[32];
	ev_timer	restart;
	ev_tstamp	backoff;
	ev_tstamp	down_since;		/* server unreachable since; 0: reachable */
	ev_timer	sweep;
	ev_timer	kick;			/* delivers results known at commit_wait */
	struct waiter *waiters;
	int			n_waiters;
	struct
	{
		char		txn_id[TXN_ID_MAX];
		enum commit_result result;
		uint64_t	index;
	}			done[DONE_RING];
	unsigned	done_next;
	char		seen[SEEN_GIDS][SEEN_KEY_MAX];
	unsigned	seen_next;
	char		aborted[ABORTED_GIDS][TXN_GID_MAX];
	unsigned	aborted_next;
	/* ABORTs to log before any other chunk of their term (FIFO) */
	char		pending[PENDING_ABORTS][TXN_GID_MAX];
	unsigned	pending_head;
	unsigned	pending_len;
	uint64_t	pending_term;
	uint64_t	gid_counter;
	struct slot_item *fifo;		/* ring of CAPTURE_BACKLOG_CHUNKS_DEFAULT + 1 */
	unsigned	fifo_head;
	unsigned	fifo_len;
	struct commit_stats stats;
	ev_tstamp	last_progress;	/* a chunk of ours arrived or committed */
};

#define FIFO_CAP (CAPTURE_BACKLOG_CHUNKS_DEFAULT + 64)

static void start_stream(struct commit *c);
static void remove_waiter(struct commit *c, struct waiter *w);

static void
finish_txn(struct commit *c, const char *txn_id, enum commit_result result, uint64_t index)
{
	for (struct waiter *w = c->waiters; w != NULL; w = w->next)
	{
		if (w->ready || strcmp(w->txn_id, txn_id) != 0)
			continue;
		remove_waiter(c, w);
		w->cb(w->arg, result, index);
		free(w);
		return;
	}
	/* Nobody waits yet (the chunk came first): keep the result a while. */
	snprintf(c->done[c->done_next].txn_id, TXN_ID_MAX, "%s", txn_id);
	c->done[c->done_next].result = result;
	c->done[c->done_next].index = index;
	c->done_next = (c->done_next + 1) % DONE_RING;
}

/* Chunk chunk_id is in the log (or was dropped): confirm what we can. */
static void
slot_done(struct commit *c, uint64_t chunk_id)
{
	uint64_t	confirm = 0;

	for (unsigned i = 0; i < c->fifo_len; i++)
	{
		struct slot_item *it = &c->fifo[(c->fifo_head + i) % FIFO_CAP];

		if (it->chunk_id == chunk_id)
			it->done = true;
	}
	while (c->fifo_len > 0 && c->fifo[c->fifo_head].done)
	{
		confirm = c->fifo[c->fifo_head].chunk_id;
		c->fifo_head = (c->fifo_head + 1) % FIFO_CAP;
		c->fifo_len--;
	}
	if (confirm != 0 && c->stream != NULL)
		capture_set_confirm(c->stream, confirm);
}

static void
on_proposal_done(void *arg, enum sync_node_result result, uint64_t index)
{
	struct inflight *f = arg;
	struct commit *c = f->c;

	c->last_progress = ev_now(c->loop);
	if (f->generation == c->generation)
		slot_done(c, f->chunk_id);
	if (f->txn_id[0] != '\0')
	{
		if (result == SYNC_NODE_COMMITTED)
			c->stats.committed_txns++;
		else
			c->stats.unknown_txns++;
		finish_txn(c, f->txn_id, result == SYNC_NODE_COMMITTED ? COMMIT_OK : COMMIT_UNKNOWN, index);
	}
	free(f);
}

/* Was chunk (gid, seq) proposed already?  A reconnect re-sends chunks. */
static bool
seen_chunk(struct commit *c, const char *gid, uint32_t seq)
{
	char		key[SEEN_KEY_MAX];

	snprintf(key, sizeof(key), "%s#%u", gid, seq);
	for (unsigned i = 0; i < SEEN_GIDS; i++)
		if (strcmp(c->seen[i], key) == 0)
			return true;
	return false;
}

static void
remember_chunk(struct commit *c, const char *gid, uint32_t seq)
{
	snprintf(c->seen[c->seen_next], SEEN_KEY_MAX, "%s#%u", gid, seq);
	c->seen_next = (c->seen_next + 1) % SEEN_GIDS;
}

static bool
is_aborted(struct commit *c, const char *gid)
{
	for (unsigned i = 0; i < ABORTED_GIDS; i++)
		if (strcmp(c->aborted[i], gid) == 0)
			return true;
	return false;
}

static void
mark_aborted(struct commit *c, const char *gid)
{
	if (is_aborted(c, gid))
		return;
	snprintf(c->aborted[c->aborted_next], TXN_GID_MAX, "%s", gid);
	c->aborted_next = (c->aborted_next + 1) % ABORTED_GIDS;
}

/* The term of a gid this node made, or 0 when gid is not of that form. */
static uint64_t
own_gid_term(struct commit *c, const char *gid)
{
	uint64_t	node;
	uint64_t	term;

	if (!txn_gid_parse(gid, strlen(gid), &node, &term) || node != c->cfg->node_id)
		return 0;
	return term;
}

static void
on_abort_logged(void *arg, enum sync_node_result result, uint64_t index)
{
	(void) arg;
	(void) result;
	(void) index;
}

/* Propose the ABORT entry for gid; 0 when the log took it. */
static int
propose_abort(struct commit *c, const char *gid)
{
	struct txn_entry e = {
		.kind = TXN_KIND_ABORT,
		.origin_node = c->cfg->node_id,
		.dbname = {"postgres", 8},	/* informative: the applier looks it up */
		.gid = {gid, (uint32_t) strlen(gid)},
	};
	struct pgq_buf b;
	int			rc;

	pgq_buf_init(&b, TXN_HEADER_MAX_SIZE);
	PGQ_ASSERT(txn_entry_encode(&e, &b));
	rc = sync_node_propose(c->node, pgq_buf_head(&b), (uint32_t) b.len, on_abort_logged, NULL);
	pgq_buf_free(&b);
	if (rc == 0)
		pgq_info("transaction %s was given up: logged its ABORT", gid);
	return rc;
}

/*
 * Log the ABORTs that the log refused before, oldest first, while this node
 * is still primary in their term (else the resolution by term covers
 * them: sync/applier.h).  true when none is left.
 */
static bool
flush_aborts(struct commit *c)
{
	if (c->pending_len > 0 && sync_node_primary_term(c->node) != c->pending_term)
		c->pending_len = 0;
	while (c->pending_len > 0)
	{
		if (propose_abort(c, c->pending[c->pending_head]) != 0)
			return false;
		c->pending_head = (c->pending_head + 1) % PENDING_ABORTS;
		c->pending_len--;
	}
	return true;
}

/*
 * Give up transaction gid of the current term: none of its chunks is
 * logged from now on, and an ABORT entry tells every applier to discard
 * what was logged of it (and the node that prepared it to roll it back),
 * before any other transaction's chunk.
 */
static void
give_up(struct commit *c, const char *gid, uint64_t term)
{
	mark_aborted(c, gid);
	if (flush_aborts(c) && propose_abort(c, gid) == 0)
		return;
	if (c->pending_len == PENDING_ABORTS)
	{
		pgq_error("transaction %s: too many ABORT entries waiting for the log; "
				  "it is resolved once a later term's entry is applied", gid);
		return;
	}
	c->pending_term = term;
	snprintf(c->pending[(c->pending_head + c->pending_len++) % PENDING_ABORTS],
			 TXN_GID_MAX, "%s", gid);
}

/* A chunk of ours that is not logged: its transaction will never commit. */
static void
refuse_chunk(struct commit *c, const struct capture_chunk *ch, const char *why)
{
	pgq_warn("transaction %s was prepared here but cannot be logged (%s)", ch->gid, why);
	c->stats.skipped_not_primary++;
	if (ch->final)
		finish_txn(c, ch->txn_id, COMMIT_REFUSED, 0);
	slot_done(c, ch->id);
}

/*
 * A chunk is logged only while this node is primary in the term its gid
 * names, so that every entry of a gid has that term: once an entry of a
 * later term is committed, a gid of an earlier term whose final chunk was
 * not logged before it can never commit (the appliers roll it back).
 */
static void
on_chunk(void *arg, const struct capture_chunk *ch)
{
	struct commit *c = arg;
	struct inflight *f;
	uint64_t	term;

	PGQ_ASSERT(c->fifo_len < FIFO_CAP);
	c->fifo[(c->fifo_head + c->fifo_len++) % FIFO_CAP] = (struct slot_item) {ch->id, false};
	if (strncmp(ch->gid, c->gid_prefix, strlen(c->gid_prefix)) != 0 ||
		seen_chunk(c, ch->gid, ch->seq))
	{
		slot_done(c, ch->id);
		return;
	}
	c->last_progress = ev_now(c->loop);
	if (is_aborted(c, ch->gid))
	{
		refuse_chunk(c, ch, "it was given up");
		return;
	}
	term = own_gid_term(c, ch->gid);
	if (term == 0 || term != sync_node_primary_term(c->node))
	{
		refuse_chunk(c, ch, term == 0 ? "its gid names no term" :
					 "this node is not the primary of the term it was prepared in");
		return;
	}
	if (!flush_aborts(c))
	{
		mark_aborted(c, ch->gid);
		refuse_chunk(c, ch, "an earlier ABORT is not logged yet");
		return;
	}
	f = calloc(1, sizeof(*f));
	PGQ_ASSERT(f != NULL);
	f->c = c;
	f->generation = c->generation;
	f->chunk_id = ch->id;
	if (ch->final)
		snprintf(f->txn_id, sizeof(f->txn_id), "%s", ch->txn_id);
	if (sync_node_propose(c->node, ch->data, (uint32_t) ch->len, on_proposal_done, f) != 0)
	{
		free(f);
		/*
		 * Later chunks must not follow with this one missing, and the
		 * ABORT rolls the transaction back here in log order even when
		 * its client is gone (nothing else would before the next term).
		 */
		give_up(c, ch->gid, term);
		refuse_chunk(c, ch, "refused by the log");
		return;
	}
	remember_chunk(c, ch->gid, ch->seq);
	c->stats.proposed_chunks++;
}

static void
on_stream_error(void *arg, const char *message)
{
	struct commit *c = arg;

	pgq_warn("capture from the local server stopped: %s; restarting in %.0f ms",
			 message, c->backoff * 1000);
	capture_set_free(c->stream);
	c->stream = NULL;
	c->generation++;
	c->fifo_head = c->fifo_len = 0;
	ev_timer_set(&c->restart, c->backoff, 0.);
	ev_timer_start(c->loop, &c->restart);
	c->backoff = c->backoff * 2 > RESTART_MAX_S ? RESTART_MAX_S : c->backoff * 2;
}

static void
start_stream(struct commit *c)
{
	struct capture_stream_config sc = {
		.conninfo = c->cfg->postgres_conninfo,
		.slot_name = "pgquorum",
		.publication = "pgquorum",
		.origin_node = c->cfg->node_id,
		.gid_prefix = c->gid_prefix,
	};

	c->stream = capture_set_new(c->loop, &sc, on_chunk, on_stream_error, c);
	PGQ_ASSERT(c->stream != NULL);
	if (capture_set_start(c->stream) < 0)
		on_stream_error(c, "could not start connecting");
}

/*
 * Before a new stream: is the server there at all?  A node whose server
 * has been unreachable (or refusing connections, as in crash recovery)
 * for SERVER_DOWN_EXIT_S stops: it can neither apply nor take writes,
 * and as a primary it would keep its peers from electing one that can.
 * Started again once its server is back, it resumes from the position
 * recorded there.  (PQping blocks, but only on this error path, and a
 * local server answers or refuses at once.)
 */
static void
check_server(struct commit *c)
{
	PGPing		r = PQping(c->cfg->postgres_conninfo);
	ev_tstamp	now = ev_now(c->loop);

	if (r == PQPING_OK || r == PQPING_NO_ATTEMPT)
	{
		c->down_since = 0;
		return;
	}
	if (c->down_since == 0)
		c->down_since = now;
	else if (now - c->down_since >= SERVER_DOWN_EXIT_S)
	{
		pgq_fatal("the local PostgreSQL server is unreachable (for %.1f s); stopping the node "
				  "so that another one takes over; start it again once the server is back",
				  now - c->down_since);
		exit(1);
	}
}

static void
on_restart(struct ev_loop *loop, ev_timer *w, int revents)
{
	check_server(w->data);
	start_stream(w->data);
}

static void
remove_waiter(struct commit *c, struct waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		c->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	c->n_waiters--;
}

/*
 * A waiter timed out (its PREPARE was not decoded in time): while this
 * node is primary in the gid's term, give the transaction up, so that no
 * node waits on it and the prepared transaction is rolled back in log
 * order.  An ABORT logged after its final chunk changes nothing: the
 * final chunk commits it first.
 */
static void
give_up_timed_out(struct commit *c, const char *txn_id)
{
	uint64_t	term = own_gid_term(c, txn_id);

	if (term != 0 && term == sync_node_primary_term(c->node) && !is_aborted(c, txn_id))
		give_up(c, txn_id, term);
}

/* Every second: waiters whose PREPARE was not decoded in time. */
static void
on_sweep(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct commit *c = w->data;
	ev_tstamp	now = ev_now(loop);
	struct capture_stream_stats st;

	if (c->stream != NULL)
	{
		capture_set_stats(c->stream, &st);
		if (st.state == CAPTURE_ST_STREAMING)
			c->backoff = RESTART_MIN_S;
		c->stats.decode_lag_ms = st.decode_lag_ms;
		c->stats.capture_lag_bytes = st.unconfirmed_bytes;
	}
	for (struct waiter *x = c->waiters, *next; x != NULL; x = next)
	{
		next = x->next;
		/*
		 * Past its deadline a waiter still waits while the capture makes
		 * progress (a huge transaction before it, or its own chunks, are
		 * being decoded and logged), up to COMMIT_WAIT_MAX_MS in all.
		 */
		if (x->ready || now < x->deadline ||
			(now - c->last_progress < COMMIT_WAIT_TIMEOUT_MS / 1000.0 &&
			 now < x->deadline + (COMMIT_WAIT_MAX_MS - COMMIT_WAIT_TIMEOUT_MS) / 1000.0))
			continue;
		remove_waiter(c, x);
		c->stats.timeouts++;
		give_up_timed_out(c, x->txn_id);
		x->cb(x->arg, COMMIT_TIMEOUT, 0);
		free(x);
	}
}

static void
on_kick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct commit *c = w->data;

	for (struct waiter *x = c->waiters, *next; x != NULL; x = next)
	{
		next = x->next;
		if (!x->ready)
			continue;
		remove_waiter(c, x);
		x->cb(x->arg, x->result, x->index);
		free(x);
	}
}

int
commit_wait(struct commit *c, const char *txn_id, commit_done_cb cb, void *arg)
{
	struct waiter *w;

	if (c->n_waiters >= COMMIT_MAX_WAITERS || strlen(txn_id) >= TXN_ID_MAX)
		return -1;
	w = calloc(1, sizeof(*w));
	PGQ_ASSERT(w != NULL);
	snprintf(w->txn_id, sizeof(w->txn_id), "%s", txn_id);
	w->cb = cb;
	w->arg = arg;
	w->deadline = ev_now(c->loop) + COMMIT_WAIT_TIMEOUT_MS / 1000.0;
	for (unsigned i = 0; i < DONE_RING; i++)
	{
		if (strcmp(c->done[i].txn_id, txn_id) == 0)
		{
			w->ready = true;
			w->result = c->done[i].result;
			w->index = c->done[i].index;
			c->done[i].txn_id[0] = '\0';
			ev_timer_start(c->loop, &c->kick);
			break;
		}
	}
	w->next = c->waiters;
	if (c->waiters)
		c->waiters->prev = w;
	c->waiters = w;
	c->n_waiters++;
	return 0;
}

int
commit_new_gid(struct commit *c, char *buf, size_t len)
{
	struct sync_node_info info;

	sync_node_status(c->node, &info);
	if (!info.writable)
		return -1;
	if (txn_gid_format(buf, len, c->cfg->node_id, info.term, ++c->gid_counter) >= (int) len)
		return -1;
	return 0;
}

struct commit *
commit_start(struct ev_loop *loop, const struct pgq_config *cfg, struct sync_node *node,
			 char *err, size_t errlen)
{
	struct commit *c = calloc(1, sizeof(*c));

	PGQ_ASSERT(c != NULL);
	c->loop = loop;
	c->cfg = cfg;
	c->node = node;
	c->backoff = RESTART_MIN_S;
	c->fifo = calloc(FIFO_CAP, sizeof(*c->fifo));
	PGQ_ASSERT(c->fifo != NULL);
	snprintf(c->gid_prefix, sizeof(c->gid_prefix), COMMIT_GID_PREFIX_FMT, cfg->node_id);
	ev_timer_init(&c->restart, on_restart, 0., 0.);
	ev_timer_init(&c->sweep, on_sweep, 1., 1.);
	ev_timer_init(&c->kick, on_kick, 0., 0.);
	c->restart.data = c->sweep.data = c->kick.data = c;
	ev_timer_start(loop, &c->sweep);
	start_stream(c);
	(void) err;
	(void) errlen;
	return c;
}

void
commit_stats(struct commit *c, struct commit_stats *out)
{
	*out = c->stats;
	if (c->stream != NULL)
	{
		struct capture_stream_stats st;

		capture_set_stats(c->stream, &st);
		out->capture_state = capture_stream_state_name(st.state);
	}
	else
		out->capture_state = "restarting";
}

bool
commit_captures(struct commit *c, const char *db)
{
	return c->stream != NULL && capture_set_streaming(c->stream, db);
}

void
commit_stop(struct commit *c)
{
	ev_timer_stop(c->loop, &c->restart);
	ev_timer_stop(c->loop, &c->sweep);
	ev_timer_stop(c->loop, &c->kick);
	if (c->stream != NULL)
		capture_set_free(c->stream);
	c->generation++;
	while (c->waiters != NULL)
	{
		struct waiter *w = c->waiters;

		remove_waiter(c, w);
		w->cb(w->arg, w->ready ? w->result : COMMIT_UNKNOWN, w->index);
		free(w);
	}
	free(c->fifo);
	free(c);
}
