/*
 * sync_primary.c
 *	  The primary's handling of acks and rejects (fast back-up), its tick
 *	  (heartbeats, stalled pipelines, check-quorum, transfer timeout), data
 *	  copies, and the interface routines for transfer and membership.
 */
#include "config.h"

#include <string.h>

#include "common/pgq_assert.h"
#include "sync/core/sync_core_int.h"

static void
primary_free_inflight(struct sync_progress *p)
{
	while (p->inflight_n > 0 && p->inflight[p->inflight_head] <= p->match)
	{
		p->inflight_head = (p->inflight_head + 1) % SYNC_MAX_INFLIGHT;
		p->inflight_n--;
	}
}

static void
primary_handle_ack(struct sync_core *c, struct sync_progress *p,
				   const struct sync_msg *m)
{
	if (m->index > c->last_index)
		return;					/* cannot match: ignore bad input */
	if (p->state == SYNC_PEER_PROBE)
		p->probe_sent = false;
	if (m->index <= p->match)
		return;
	p->match = m->index;
	p->stall_beats = 0;
	if (p->state == SYNC_PEER_REPLICATE)
	{
		primary_free_inflight(p);
		if (p->next <= p->match)
			p->next = p->match + 1;
	}
	else
		repl_peer_reset(c, p, SYNC_PEER_REPLICATE, p->match + 1);
}

/*
 * Fast back-up: the secondary's log has term hint_term at hint_index.  The
 * next probe goes to the last index <= hint_index whose term is <=
 * hint_term.
 */
static uint64_t
primary_backup_to(const struct sync_core *c, const struct sync_progress *p,
				  uint64_t hint_index, uint64_t hint_term)
{
	uint64_t	lo = p->match > c->first_index - 1 ? p->match : c->first_index - 1;
	uint64_t	hi = hint_index < c->last_index ? hint_index : c->last_index;

	if (hi < lo || log_term_at(c, lo) > hint_term)
		return lo;				/* below lo it is compacted or matched */
	return log_search_term(c, lo, hi, hint_term);
}

static void
primary_handle_reject(struct sync_core *c, struct sync_progress *p,
					  const struct sync_msg *m)
{
	uint64_t	to;

	if (p->state == SYNC_PEER_COPY ||
		(p->state == SYNC_PEER_REPLICATE && m->index <= p->match) ||
		(p->state == SYNC_PEER_PROBE && m->index + 1 != p->next))
		return;					/* stale */
	if (m->hint_index < p->match)
	{
		core_trace(c, "peer %llu lost entries it acked (%llu < %llu)",
				   (unsigned long long) p->id, (unsigned long long) m->hint_index,
				   (unsigned long long) p->match);
		p->match = m->hint_index;
	}
	to = primary_backup_to(c, p, m->hint_index < m->index ? m->hint_index : m->index,
						   m->log_term);
	if (to + 1 == p->next && to > p->match)
		to--;					/* never probe the same index twice */
	core_trace(c, "peer %llu rejected %llu (hint %llu/%llu): next %llu",
			   (unsigned long long) p->id, (unsigned long long) m->index,
			   (unsigned long long) m->hint_index, (unsigned long long) m->log_term,
			   (unsigned long long) to + 1);
	repl_peer_reset(c, p, SYNC_PEER_PROBE, to + 1);
}

void
repl_handle_append_resp(struct sync_core *c, const struct sync_msg *m)
{
	struct sync_progress *p = repl_peer(c, m->from);

	if (p == NULL)
		return;
	p->active = true;
	if (m->round > p->round_acked && m->round <= c->read_round)
		p->round_acked = m->round;	/* it accepts this term (READS) */
	if (m->commit > p->commit_sent)
		p->commit_sent = m->commit;
	if (m->flags & SYNC_FLAG_REJECT)
		primary_handle_reject(c, p, m);
	else
		primary_handle_ack(c, p, m);
}

static void
primary_heartbeat(struct sync_core *c)
{
	c->heartbeat_deadline = c->now_ms + c->opts.heartbeat_ms;
	for (uint32_t i = 0; i < c->n_peers; i++)
	{
		struct sync_progress *p = &c->peers[i];

		if (p->state == SYNC_PEER_PROBE)
			p->probe_sent = false;
		else if (p->state == SYNC_PEER_COPY && !p->copy_reported)
		{
			p->copy_reported = true;
			out_copy_request(c, p->id, c->first_index - 1);
		}
		else if (p->state == SYNC_PEER_REPLICATE && p->inflight_n > 0)
		{
			p->stall_beats = p->match == p->stall_match ? p->stall_beats + 1 : 0;
			p->stall_match = p->match;
			if (p->stall_beats >= 3)	/* lost appends: probe again */
				repl_peer_reset(c, p, SYNC_PEER_PROBE, p->match + 1);
		}
		repl_send_empty(c, p, SYNC_FLAG_HEARTBEAT);
	}
}

/* Check-quorum: false if the primary stepped down. */
static bool
primary_check_quorum(struct sync_core *c)
{
	uint32_t	active = elect_is_voter(c, c->id) ? 1 : 0;

	c->quorum_deadline = c->now_ms + c->opts.election_timeout_ms;
	for (uint32_t i = 0; i < c->n_peers; i++)
	{
		if (c->peers[i].active && elect_is_voter(c, c->peers[i].id))
			active++;
		c->peers[i].active = false;
	}
	if (active >= elect_quorum(c))
		return true;
	core_trace(c, "check-quorum: heard from %u of %u voters: stepping down",
			   active, sync_config_voters(&c->config));
	elect_become_secondary(c, c->term, 0);
	return false;
}

void
repl_primary_tick(struct sync_core *c)
{
	c->last_leader_contact = c->now_ms;
	if (c->opts.check_quorum && c->now_ms >= c->quorum_deadline &&
		!primary_check_quorum(c))
		return;
	if (c->now_ms >= c->heartbeat_deadline)
		primary_heartbeat(c);
	if (c->transfer_to != 0 && c->now_ms >= c->transfer_deadline)
	{
		core_trace(c, "transfer to %llu abandoned",
				   (unsigned long long) c->transfer_to);
		c->transfer_to = 0;
	}
}

void
repl_copy_done(struct sync_core *c, uint64_t peer, bool ok, uint64_t index)
{
	struct sync_progress *p = repl_peer(c, peer);

	if (p == NULL || p->state != SYNC_PEER_COPY)
		return;
	if (!ok || index > c->last_index)
	{
		p->copy_reported = false;	/* asked again at the next heartbeat */
		return;
	}
	core_trace(c, "peer %llu has a copy through %llu", (unsigned long long) peer,
			   (unsigned long long) index);
	repl_peer_reset(c, p, SYNC_PEER_PROBE, index + 1);
}

/* ---- interface routines: transfer and membership ---- */

int
sync_core_transfer_leadership(struct sync_core *core, uint64_t id,
							  struct sync_update *u)
{
	int			err = SYNC_OK;

	core_begin(core, u);
	if (core->role != SYNC_PRIMARY)
		err = SYNC_ERR_NOT_PRIMARY;
	else if (id == core->id || !elect_is_voter(core, id))
		err = SYNC_ERR_INVALID;
	else if (core->transfer_to != id)
	{
		core->transfer_to = id;
		core->transfer_sent = false;
		core->transfer_deadline = core->now_ms + core->opts.election_timeout_ms;
		core_trace(core, "transfer to %llu", (unsigned long long) id);
	}
	if (core->role == SYNC_PRIMARY)
		repl_flush(core);
	core_end(core);
	return err;
}

int
repl_change_config(struct sync_core *c, const struct sync_config *cfg,
				   uint64_t *index)
{
	uint32_t	len;
	uint64_t	at;

	if (c->role != SYNC_PRIMARY)
		return SYNC_ERR_NOT_PRIMARY;
	if (c->transfer_to != 0)
		return SYNC_ERR_TRANSFERRING;
	if (c->config_index > c->commit || c->noop_index > c->commit ||
		c->n_configs == SYNC_MAX_CONFIGS)
		return SYNC_ERR_CONFIG_PENDING;
	if (log_room(c) == 0)
		return SYNC_ERR_LOG_FULL;
	len = sync_config_encode(cfg, c->config_buf, sizeof(c->config_buf));
	PGQ_ASSERT(len > 0);
	at = repl_append_local(c, SYNC_ENTRY_CONFIG, c->config_buf, len);
	PGQ_ASSERT(cfg_push(c, at, cfg));
	if (index != NULL)
		*index = at;
	return SYNC_OK;
}

/* Build the new membership for op ('a'dd, 'p'romote, 'r'emove). */
static int
primary_new_config(struct sync_core *c, int op, uint64_t id, struct sync_config *cfg)
{
	const struct sync_member *m = sync_config_find(&c->config, id);

	*cfg = c->config;
	if (id == 0)
		return SYNC_ERR_INVALID;
	if (op == 'a')
	{
		if (m != NULL)
			return SYNC_ERR_EXISTS;
		if (cfg->n == SYNC_MAX_NODES)
			return SYNC_ERR_TOO_MANY;
		cfg->nodes[cfg->n].id = id;
		cfg->nodes[cfg->n++].role = SYNC_LEARNER;
		return SYNC_OK;
	}
	if (m == NULL)
		return SYNC_ERR_UNKNOWN_NODE;
	uint32_t	i = (uint32_t) (m - c->config.nodes);

	if (op == 'p')
	{
		struct sync_progress *p = repl_peer(c, id);

		if (m->role != SYNC_LEARNER)
			return SYNC_ERR_INVALID;
		if (p == NULL || p->match < c->commit)
			return SYNC_ERR_NOT_CAUGHT_UP;
		cfg->nodes[i].role = SYNC_VOTER;
		return SYNC_OK;
	}
	if (m->role == SYNC_VOTER && sync_config_voters(cfg) == 1)
		return SYNC_ERR_INVALID;
	cfg->nodes[i] = cfg->nodes[--cfg->n];
	return SYNC_OK;
}

static int
primary_membership(struct sync_core *c, int op, uint64_t id, uint64_t *index,
				   struct sync_update *u)
{
	struct sync_config cfg;
	int			err;

	core_begin(c, u);
	err = c->role == SYNC_PRIMARY ? primary_new_config(c, op, id, &cfg) :
		SYNC_ERR_NOT_PRIMARY;
	if (err == SYNC_OK)
		err = repl_change_config(c, &cfg, index);
	if (c->role == SYNC_PRIMARY)
		repl_flush(c);
	core_end(c);
	return err;
}

int
sync_core_add_learner(struct sync_core *core, uint64_t id, uint64_t *index,
					  struct sync_update *u)
{
	return primary_membership(core, 'a', id, index, u);
}

int
sync_core_promote(struct sync_core *core, uint64_t id, uint64_t *index,
				  struct sync_update *u)
{
	return primary_membership(core, 'p', id, index, u);
}

int
sync_core_remove_node(struct sync_core *core, uint64_t id, uint64_t *index,
					  struct sync_update *u)
{
	return primary_membership(core, 'r', id, index, u);
}
