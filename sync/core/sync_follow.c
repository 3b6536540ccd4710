/*
 * sync_follow.c
 *	  The secondary's side of replication: append handling (log matching,
 *	  truncation of a conflicting suffix, commit adoption never beyond the
 *	  index verified to match the primary), acks sent only for what is
 *	  persisted, and TIMEOUT_NOW.
 */
#include "config.h"

#include <string.h>

#include "common/pgq_assert.h"
#include "sync/core/sync_core_int.h"

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void
follow_send_ack(struct sync_core *c)
{
	struct sync_msg *r = out_msg(c, SYNC_MSG_APPEND_RESP, c->leader_id);
	uint64_t	ack = min_u64(c->match_leader, c->persisted);

	if (r == NULL)
		return;
	r->index = ack;
	r->commit = c->commit;
	r->round = c->round_seen;
	if (ack > c->acked)
		c->acked = ack;
}

/*
 * Refuse an append whose prev entry does not match.  The hint is the last
 * index <= prev whose term is <= the primary's prev term (entries at or
 * below the commit index match, so the search stops there).
 */
static void
follow_reject(struct sync_core *c, const struct sync_msg *m)
{
	struct sync_msg *r = out_msg(c, SYNC_MSG_APPEND_RESP, m->from);
	uint64_t	hint;

	if (r == NULL)
		return;
	hint = min_u64(m->index, c->last_index);
	if (hint > c->commit && log_term_at(c, hint) > m->log_term)
		hint = log_search_term(c, c->commit, hint, m->log_term);
	r->flags = SYNC_FLAG_REJECT;
	r->index = m->index;
	r->hint_index = hint;
	r->log_term = log_term_at(c, hint);
	r->commit = c->commit;
	r->round = c->round_seen;	/* a reject, too, accepts this term */
}

static bool
follow_entries_valid(const struct sync_msg *m)
{
	uint64_t	term = m->log_term;

	for (uint32_t i = 0; i < m->n_entries; i++)
	{
		const struct sync_entry *e = &m->entries[i];

		if (e->index != m->index + 1 + i || e->term < term || e->term > m->term ||
			(e->len > 0 && e->payload == NULL))
			return false;
		term = e->term;
	}
	return true;
}

/* Append one new entry; false if the log or the batch is full. */
static bool
follow_append_one(struct sync_core *c, const struct sync_entry *e)
{
	struct sync_config cfg;

	if (log_room(c) == 0 || c->u->n_entries >= c->persist_cap)
		return false;
	if (e->type == SYNC_ENTRY_CONFIG)
	{
		if (!sync_config_decode(e->payload, e->len, &cfg))
		{
			core_trace(c, "bad config entry at %llu", (unsigned long long) e->index);
			return false;
		}
		cfg_collapse(c);
		if (c->n_configs == SYNC_MAX_CONFIGS)
			return false;		/* wait until older ones are persisted */
	}
	PGQ_ASSERT(log_append_meta(c, e->term, e->type));
	*out_persist(c) = *e;
	if (e->type == SYNC_ENTRY_CONFIG)
		PGQ_ASSERT(cfg_push(c, e->index, &cfg));
	return true;
}

/*
 * Merge the message's entries into the log.  Returns the last index known
 * to match the primary's log; *appended tells whether anything was added.
 */
static uint64_t
follow_merge(struct sync_core *c, const struct sync_msg *m, uint32_t skip,
			 bool *appended)
{
	uint64_t	verified = m->index + skip;

	for (uint32_t i = skip; i < m->n_entries; i++)
	{
		const struct sync_entry *e = &m->entries[i];

		if (e->index <= c->last_index)
		{
			if (log_term_at(c, e->index) == e->term)
			{
				verified = e->index;
				continue;
			}
			PGQ_ASSERT(e->index > c->match_leader);
			log_truncate(c, e->index);
		}
		if (!follow_append_one(c, e))
			break;
		*appended = true;
		verified = e->index;
	}
	return verified;
}

void
repl_handle_append(struct sync_core *c, const struct sync_msg *m)
{
	uint32_t	skip = 0;
	uint64_t	prev_term;
	uint64_t	verified;
	bool		appended = false;

	if (c->role == SYNC_PRIMARY)
	{
		core_trace(c, "APPEND from %llu in my own term: dropped",
				   (unsigned long long) m->from);
		return;
	}
	if (c->role != SYNC_SECONDARY || c->leader_id != m->from)
		elect_become_secondary(c, m->term, m->from);
	c->last_leader_contact = c->now_ms;
	elect_reset_deadline(c);
	if (m->round > c->round_seen)
		c->round_seen = m->round;	/* echoed on every reply (READS) */
	if (!follow_entries_valid(m))
		return;
	if (m->index < c->commit)	/* committed entries match every primary */
		skip = (uint32_t) min_u64(c->commit - m->index, m->n_entries);
	if (m->index + skip > c->last_index ||
		(m->index >= c->commit &&
		 (!log_has_term(c, m->index, &prev_term) || prev_term != m->log_term)))
	{
		follow_reject(c, m);
		return;
	}
	verified = follow_merge(c, m, skip, &appended);
	if (verified > c->match_leader)
		c->match_leader = verified;
	if (min_u64(m->commit, c->match_leader) > c->commit)
	{
		c->commit = min_u64(m->commit, c->match_leader);
		core_trace(c, "commit %llu (from %s)", (unsigned long long) c->commit,
				   m->flags & SYNC_FLAG_COMMIT_ONLY ? "notice" :
				   m->n_entries ? "append" : "heartbeat");
	}
	if (!appended && !(m->flags & SYNC_FLAG_COMMIT_ONLY))
		follow_send_ack(c);
}

void
repl_secondary_persisted(struct sync_core *c)
{
	if (c->role != SYNC_SECONDARY || c->leader_id == 0)
		return;
	if (min_u64(c->match_leader, c->persisted) > c->acked)
		follow_send_ack(c);
}

void
repl_handle_timeout_now(struct sync_core *c, const struct sync_msg *m)
{
	if (c->role == SYNC_SECONDARY && m->from == c->leader_id)
		elect_campaign(c, false, true);
}
