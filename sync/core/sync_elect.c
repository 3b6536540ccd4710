/*
 * sync_elect.c
 *	  Roles, terms and elections: randomized election deadlines, pre-vote,
 *	  the leader lease that keeps a partitioned or removed node from
 *	  disrupting a healthy primary, and the message dispatcher.
 */
#include "config.h"

#include <string.h>

#include "common/pgq_assert.h"
#include "sync/core/sync_core_int.h"

bool
elect_is_voter(const struct sync_core *c, uint64_t id)
{
	const struct sync_member *m = sync_config_find(&c->config, id);

	return m != NULL && m->role == SYNC_VOTER;
}

uint32_t
elect_quorum(const struct sync_core *c)
{
	return sync_config_voters(&c->config) / 2 + 1;
}

/*
 * Time only moves in sync_core_tick, so a reset caused by a message uses
 * the time of the last tick: it is marked, and the next tick pushes the
 * deadline from its own time (the election waits a little longer, never
 * less than the timeout).
 */
void
elect_reset_deadline(struct sync_core *c)
{
	uint64_t	et = c->opts.election_timeout_ms;

	c->election_deadline = c->now_ms + et + core_random(c) % et;
	c->reset_at_tick = !c->in_tick;
}

/* True while a primary is known and was heard from within a timeout. */
static bool
elect_in_lease(const struct sync_core *c)
{
	if (!c->opts.check_quorum || c->leader_id == 0)
		return false;
	return c->role == SYNC_PRIMARY ||
		c->now_ms < c->last_leader_contact + c->opts.election_timeout_ms;
}

void
elect_become_secondary(struct sync_core *c, uint64_t term, uint64_t leader)
{
	PGQ_ASSERT(term >= c->term);
	if (term > c->term || leader != c->leader_id)
	{
		c->match_leader = 0;
		c->acked = 0;
		c->round_seen = 0;
	}
	if (term > c->term)
	{
		c->term = term;
		c->vote = 0;
		set_hard_state_dirty(c);
	}
	if (c->role == SYNC_PRIMARY)
	{
		c->n_peers = 0;
		c->transfer_to = 0;
	}
	if (c->role != SYNC_SECONDARY || c->leader_id != leader)
		core_trace(c, "secondary term %llu leader %llu",
				   (unsigned long long) term, (unsigned long long) leader);
	c->role = SYNC_SECONDARY;
	c->leader_id = leader;
	if (leader != 0)
		c->last_leader_contact = c->now_ms;
	elect_reset_deadline(c);
}

static uint32_t
elect_count(const struct sync_core *c, uint64_t mask)
{
	uint32_t	n = 0;

	for (uint32_t i = 0; i < c->config.n; i++)
		if ((mask >> i) & 1 && c->config.nodes[i].role == SYNC_VOTER)
			n++;
	return n;
}

static void
elect_won(struct sync_core *c)
{
	if (c->role == SYNC_PRE_CANDIDATE)
		elect_campaign(c, false, false);
	else
		repl_become_primary(c);
}

/* Record a (pre-)vote answer from a voter; decide when a quorum spoke. */
static void
elect_record(struct sync_core *c, uint64_t from, bool granted)
{
	uint32_t	quorum = elect_quorum(c);

	for (uint32_t i = 0; i < c->config.n; i++)
		if (c->config.nodes[i].id == from)
		{
			if (granted)
				c->votes_for |= 1ull << i;
			else
				c->votes_against |= 1ull << i;
		}
	if (elect_count(c, c->votes_for) >= quorum)
		elect_won(c);
	else if (elect_count(c, c->votes_against) >= quorum)
		elect_become_secondary(c, c->term, 0);
}

void
elect_campaign(struct sync_core *c, bool pre_vote, bool transfer)
{
	if (!elect_is_voter(c, c->id))
		return;
	if (pre_vote)
	{
		c->role = SYNC_PRE_CANDIDATE;
		c->votes_term = c->term + 1;
	}
	else
	{
		c->term++;
		c->vote = c->id;
		set_hard_state_dirty(c);
		c->role = SYNC_CANDIDATE;
		c->votes_term = c->term;
		c->match_leader = 0;
		c->acked = 0;
		c->round_seen = 0;
	}
	c->leader_id = 0;
	c->votes_for = 0;
	c->votes_against = 0;
	elect_reset_deadline(c);
	core_trace(c, "%s for term %llu (last %llu/%llu)%s",
			   pre_vote ? "pre-vote" : "campaign", (unsigned long long) c->votes_term,
			   (unsigned long long) c->last_index,
			   (unsigned long long) log_last_term(c), transfer ? " transfer" : "");
	for (uint32_t i = 0; i < c->config.n; i++)
	{
		const struct sync_member *mb = &c->config.nodes[i];
		struct sync_msg *m;

		if (mb->role != SYNC_VOTER || mb->id == c->id)
			continue;
		m = out_msg(c, pre_vote ? SYNC_MSG_PRE_VOTE : SYNC_MSG_VOTE, mb->id);
		if (m == NULL)
			break;
		m->term = c->votes_term;
		m->index = c->last_index;
		m->log_term = log_last_term(c);
		m->flags = transfer ? SYNC_FLAG_TRANSFER : 0;
	}
	elect_record(c, c->id, true);
}

void
elect_tick(struct sync_core *c)
{
	if (c->role == SYNC_PRIMARY)
	{
		repl_primary_tick(c);
		return;
	}
	if (c->reset_at_tick)
		elect_reset_deadline(c);
	if (c->now_ms < c->election_deadline)
		return;
	if (elect_is_voter(c, c->id))
		elect_campaign(c, c->opts.pre_vote, false);
	else
		elect_reset_deadline(c);
}

static void
elect_handle_vote(struct sync_core *c, const struct sync_msg *m)
{
	bool		pre = m->type == SYNC_MSG_PRE_VOTE;
	uint64_t	last_term = log_last_term(c);
	bool		up_to_date = m->log_term > last_term ||
		(m->log_term == last_term && m->index >= c->last_index);
	bool		can_vote = c->vote == m->from ||
		(c->vote == 0 && c->leader_id == 0) || (pre && m->term > c->term);
	bool		grant = m->term >= c->term && up_to_date && can_vote &&
		(!elect_in_lease(c) || (m->flags & SYNC_FLAG_TRANSFER));
	struct sync_msg *r;

	if (grant && !pre)
	{
		c->vote = m->from;
		set_hard_state_dirty(c);
		elect_reset_deadline(c);
	}
	core_trace(c, "%s %s from %llu term %llu", grant ? "grant" : "refuse",
			   sync_msg_type_name(m->type), (unsigned long long) m->from,
			   (unsigned long long) m->term);
	r = out_msg(c, pre ? SYNC_MSG_PRE_VOTE_RESP : SYNC_MSG_VOTE_RESP, m->from);
	if (r == NULL)
		return;
	r->term = (pre && grant) ? m->term : c->term;
	r->flags = grant ? 0 : SYNC_FLAG_REJECT;
}

static void
elect_handle_vote_resp(struct sync_core *c, const struct sync_msg *m)
{
	bool		granted = !(m->flags & SYNC_FLAG_REJECT);

	if (m->type == SYNC_MSG_VOTE_RESP && c->role == SYNC_CANDIDATE &&
		m->term == c->term)
		elect_record(c, m->from, granted);
	else if (m->type == SYNC_MSG_PRE_VOTE_RESP && c->role == SYNC_PRE_CANDIDATE &&
			 (m->term == c->votes_term || (!granted && m->term <= c->term)))
		elect_record(c, m->from, granted);
}

/* A message from an older term: tell a stale primary, pre-candidate or
 * reader (a READ_INDEX is refused). */
static void
elect_stale(struct sync_core *c, const struct sync_msg *m)
{
	struct sync_msg *r = NULL;

	if (m->type == SYNC_MSG_APPEND)
	{
		r = out_msg(c, SYNC_MSG_APPEND_RESP, m->from);
		if (r != NULL)
			r->index = m->index;
	}
	else if (m->type == SYNC_MSG_PRE_VOTE)
		r = out_msg(c, SYNC_MSG_PRE_VOTE_RESP, m->from);
	else if (m->type == SYNC_MSG_READ_INDEX &&
			 (r = out_msg(c, SYNC_MSG_READ_INDEX_RESP, m->from)) != NULL)
		r->hint_index = m->hint_index;
	if (r != NULL)
		r->flags = SYNC_FLAG_REJECT;
}

/* Term rules; returns false if the message is to be dropped. */
static bool
elect_check_term(struct sync_core *c, const struct sync_msg *m)
{
	bool		granted = !(m->flags & SYNC_FLAG_REJECT);

	if (m->term < c->term)
	{
		elect_stale(c, m);
		return false;
	}
	if (m->term == c->term)
		return true;
	if (m->type == SYNC_MSG_PRE_VOTE ||
		(m->type == SYNC_MSG_PRE_VOTE_RESP && granted))
		return true;
	if (m->type == SYNC_MSG_VOTE && elect_in_lease(c) &&
		!(m->flags & SYNC_FLAG_TRANSFER))
	{
		core_trace(c, "ignore VOTE from %llu term %llu: primary %llu is alive",
				   (unsigned long long) m->from, (unsigned long long) m->term,
				   (unsigned long long) c->leader_id);
		return false;
	}
	elect_become_secondary(c, m->term,
						   m->type == SYNC_MSG_APPEND ? m->from : 0);
	return true;
}

void
elect_step(struct sync_core *c, const struct sync_msg *m)
{
	if (!elect_check_term(c, m))
		return;
	switch (m->type)
	{
		case SYNC_MSG_APPEND:
			repl_handle_append(c, m);
			break;
		case SYNC_MSG_APPEND_RESP:
			if (c->role == SYNC_PRIMARY)
				repl_handle_append_resp(c, m);
			break;
		case SYNC_MSG_VOTE:
		case SYNC_MSG_PRE_VOTE:
			elect_handle_vote(c, m);
			break;
		case SYNC_MSG_VOTE_RESP:
		case SYNC_MSG_PRE_VOTE_RESP:
			elect_handle_vote_resp(c, m);
			break;
		case SYNC_MSG_TIMEOUT_NOW:
			repl_handle_timeout_now(c, m);
			break;
		case SYNC_MSG_READ_INDEX:
			read_handle_request(c, m);
			break;
		case SYNC_MSG_READ_INDEX_RESP:
			read_handle_resp(c, m);
			break;
		default:
			core_trace(c, "drop unknown message type %u", m->type);
			break;
	}
}
