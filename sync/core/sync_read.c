/*
 * sync_read.c
 *	  ReadIndex: linearizable reads without a lease.  The protocol and the
 *	  argument for its safety are in sync_core.h (READS).
 *
 * Every node keeps the reads it is waiting on in one bounded table
 * (c->reads).  On the primary an entry is a read asked here or by a peer:
 * it waits until a quorum of voters has echoed its round and this term's
 * no-op has committed (read_check, after every event).  On a secondary an
 * entry is a read forwarded to the primary: it waits for READ_INDEX_RESP.
 * An entry stands only while the node's term and primary are those it was
 * asked under, and until its deadline: read_sweep, at the end of every
 * call, refuses the others.  Each entry leaves the table with exactly one
 * answer, so every read asked here is answered exactly once.
 */
#include "config.h"

#include <string.h>

#include "common/pgq_assert.h"
#include "sync/core/sync_core_int.h"

static void
read_send_resp(struct sync_core *c, uint64_t to, uint64_t term, uint64_t ctx,
			   bool ok, uint64_t index)
{
	struct sync_msg *m = out_msg(c, SYNC_MSG_READ_INDEX_RESP, to);

	if (m == NULL)
		return;					/* the requester's deadline answers it */
	m->term = term;				/* the term the read was asked in */
	m->hint_index = ctx;
	m->commit = ok ? index : 0;
	m->flags = ok ? 0 : SYNC_FLAG_REJECT;
}

/* Answer r and take it out of the table. */
static void
read_answer(struct sync_core *c, uint32_t i, bool ok)
{
	struct sync_pending_read r = c->reads[i];

	memmove(&c->reads[i], &c->reads[i + 1], (c->n_reads - i - 1) * sizeof(r));
	c->n_reads--;
	core_trace(c, "read %llu from %llu %s (index %llu)", (unsigned long long) r.ctx,
			   (unsigned long long) r.from, ok ? "confirmed" : "refused",
			   (unsigned long long) (ok ? r.index : 0));
	if (r.from != c->id)
	{
		read_send_resp(c, r.from, r.term, r.ctx, ok, r.index);
		return;
	}
	PGQ_ASSERT(c->u->n_reads < PGQ_LENGTHOF(c->read_out));
	c->read_out[c->u->n_reads].ctx = r.ctx;
	c->read_out[c->u->n_reads].ok = ok;
	c->read_out[c->u->n_reads].index = ok ? r.index : 0;
	c->u->n_reads++;
}

/* A new entry asked under the current term and primary; NULL if full. */
static struct sync_pending_read *
read_add(struct sync_core *c, uint64_t ctx, uint64_t from)
{
	struct sync_pending_read *r;

	if (c->n_reads == SYNC_MAX_READS)
		return NULL;
	r = &c->reads[c->n_reads++];
	memset(r, 0, sizeof(*r));
	r->ctx = ctx;
	r->from = from;
	r->term = c->term;
	r->leader = c->leader_id;
	r->deadline_ms = c->now_ms + c->opts.election_timeout_ms;
	return r;
}

/*
 * Primary: a read from self or a peer.  Its index is the commit index now
 * (known once this term's no-op is committed); a new round goes to every
 * peer at once, in a heartbeat.
 */
static int
read_start_primary(struct sync_core *c, uint64_t ctx, uint64_t from)
{
	struct sync_pending_read *r;

	PGQ_ASSERT(c->role == SYNC_PRIMARY);
	if (c->transfer_to != 0)
		return SYNC_ERR_TRANSFERRING;
	if ((r = read_add(c, ctx, from)) == NULL)
		return SYNC_ERR_BUSY;
	r->round = ++c->read_round;
	r->index_known = c->commit >= c->noop_index;
	r->index = r->index_known ? c->commit : 0;
	core_trace(c, "read %llu from %llu: round %llu, index %llu%s",
			   (unsigned long long) ctx, (unsigned long long) from,
			   (unsigned long long) r->round, (unsigned long long) r->index,
			   r->index_known ? "" : " (waits for the no-op)");
	for (uint32_t i = 0; i < c->n_peers; i++)
		repl_send_empty(c, &c->peers[i], SYNC_FLAG_HEARTBEAT);
	return SYNC_OK;
}

/* Secondary: forward a read to the primary. */
static int
read_forward(struct sync_core *c, uint64_t ctx)
{
	struct sync_msg *m;

	if (c->role != SYNC_SECONDARY || c->leader_id == 0)
		return SYNC_ERR_NOT_PRIMARY;
	if (c->n_reads == SYNC_MAX_READS ||
		(m = out_msg(c, SYNC_MSG_READ_INDEX, c->leader_id)) == NULL)
		return SYNC_ERR_BUSY;
	m->hint_index = ctx;
	PGQ_ASSERT(read_add(c, ctx, c->id) != NULL);
	core_trace(c, "read %llu forwarded to %llu", (unsigned long long) ctx,
			   (unsigned long long) c->leader_id);
	return SYNC_OK;
}

int
sync_core_read_index(struct sync_core *core, uint64_t ctx, struct sync_update *u)
{
	int			err;

	core_begin(core, u);
	if (core->role == SYNC_PRIMARY)
		err = read_start_primary(core, ctx, core->id);
	else
		err = read_forward(core, ctx);
	if (err != SYNC_OK)
	{
		core_end(core);			/* nothing changed: the update is empty */
		return err;
	}
	core_finish(core);			/* confirms at once if self is a quorum */
	return SYNC_OK;
}

/* READ_INDEX from a peer: a read for it on the primary, else refused. */
void
read_handle_request(struct sync_core *c, const struct sync_msg *m)
{
	int			err;

	if (c->role != SYNC_PRIMARY)
		err = SYNC_ERR_NOT_PRIMARY;
	else if (repl_peer(c, m->from) == NULL)
		err = SYNC_ERR_UNKNOWN_NODE;
	else
		err = read_start_primary(c, m->hint_index, m->from);
	if (err == SYNC_OK)
		return;
	core_trace(c, "read %llu from %llu refused: %s", (unsigned long long) m->hint_index,
			   (unsigned long long) m->from, sync_err_name(err));
	read_send_resp(c, m->from, c->term, m->hint_index, false, 0);
}

/* READ_INDEX_RESP: the answer to a read this node forwarded. */
void
read_handle_resp(struct sync_core *c, const struct sync_msg *m)
{
	if (c->role != SYNC_PRIMARY && m->from == c->leader_id)
		for (uint32_t i = 0; i < c->n_reads; i++)
		{
			struct sync_pending_read *r = &c->reads[i];

			if (r->from == c->id && r->ctx == m->hint_index &&
				r->leader == m->from && r->term == m->term)
			{
				r->index = m->commit;
				read_answer(c, i, !(m->flags & SYNC_FLAG_REJECT));
				return;
			}
		}
	core_trace(c, "READ_INDEX_RESP %llu from %llu: no such read (late or not "
			   "from the primary): ignored", (unsigned long long) m->hint_index,
			   (unsigned long long) m->from);
}

static uint64_t
progress_round(const struct sync_progress *p)
{
	return p->round_acked;
}

/* Primary, after every event: answer the reads a quorum has confirmed. */
void
read_check(struct sync_core *c)
{
	uint64_t	confirmed;
	uint32_t	i = 0;

	if (c->n_reads == 0)
		return;
	/* self "echoes" every round it started */
	confirmed = repl_quorum_value(c, elect_quorum(c), c->read_round, progress_round);
	if (c->opts.test_bugs & SYNC_TEST_BUG_READ_WITHOUT_QUORUM)
		confirmed = c->read_round;
	while (i < c->n_reads)
	{
		struct sync_pending_read *r = &c->reads[i];

		if (!r->index_known && c->commit >= c->noop_index)
		{
			r->index = c->commit;
			r->index_known = true;
		}
		if (r->leader == c->id && r->term == c->term && r->index_known &&
			r->round <= confirmed)
			read_answer(c, i, true);
		else
			i++;
	}
}

/*
 * At the end of every call: refuse the reads asked under another term or
 * primary than the current ones (the primary stepped down, a secondary's
 * primary changed), and those past their deadline.
 */
void
read_sweep(struct sync_core *c)
{
	uint32_t	i = 0;

	while (i < c->n_reads)
	{
		const struct sync_pending_read *r = &c->reads[i];

		if (r->term != c->term || r->leader != c->leader_id ||
			c->now_ms >= r->deadline_ms)
			read_answer(c, i, false);
		else
			i++;
	}
}

uint64_t
read_next_deadline(const struct sync_core *c)
{
	uint64_t	t = UINT64_MAX;

	for (uint32_t i = 0; i < c->n_reads; i++)
		if (c->reads[i].deadline_ms < t)
			t = c->reads[i].deadline_ms;
	return t;
}
