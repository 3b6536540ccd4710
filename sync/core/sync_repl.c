/*
 * sync_repl.c
 *	  Replication: the primary's per-peer progress (probe, pipelined
 *	  replicate, copy), appends with batching, acks and rejects with fast
 *	  back-up, the commit index, the idle commit notification, leadership
 *	  transfer and membership changes; the secondary's append handling.
 *
 * The idle commit notification: after every event the primary runs
 * repl_flush().  Once the entries are sent, any peer whose known-matching
 * index (match) covers part of the commit index it has not been told
 * (min(commit, match) > commit_sent) gets an APPEND with no entries, prev =
 * its match, carrying the commit index (SYNC_FLAG_COMMIT_ONLY).  So a
 * secondary hears of a commit at once when its own ack commits an entry, or
 * when another peer's ack moves the commit index, and never twice.  A
 * secondary adopts min(commit, highest index verified to match this
 * primary), appends nothing and so persists nothing for such a message, and
 * does not answer it.
 *
 * Every APPEND carries the primary's read round, which secondaries echo
 * (sync_read.c, and READS in sync_core.h).
 */
#include "config.h"

#include <string.h>

#include "common/pgq_assert.h"
#include "sync/core/sync_core_int.h"

struct sync_progress *
repl_peer(struct sync_core *c, uint64_t id)
{
	for (uint32_t i = 0; i < c->n_peers; i++)
		if (c->peers[i].id == id)
			return &c->peers[i];
	return NULL;
}

void
repl_peer_reset(struct sync_core *c, struct sync_progress *p, uint32_t state,
		   uint64_t next)
{
	p->state = state;
	p->next = next;
	p->inflight_n = 0;
	p->inflight_head = 0;
	p->probe_sent = false;
	p->copy_reported = false;
	p->stall_beats = 0;
	p->stall_match = p->match;
}

/* Rebuild the progress array from the membership (primary only). */
void
repl_config_changed(struct sync_core *c)
{
	struct sync_progress old[SYNC_MAX_NODES];
	uint32_t	n_old = c->n_peers;

	memcpy(old, c->peers, sizeof(old));
	c->n_peers = 0;
	for (uint32_t i = 0; i < c->config.n; i++)
	{
		uint64_t	id = c->config.nodes[i].id;
		struct sync_progress *p = &c->peers[c->n_peers];
		uint32_t	j;

		if (id == c->id)
			continue;
		c->n_peers++;
		for (j = 0; j < n_old && old[j].id != id; j++)
			;
		if (j < n_old)
		{
			*p = old[j];
			continue;
		}
		memset(p, 0, sizeof(*p));
		p->id = id;
		p->active = true;
		/* probe with the newest entry: it is sent at once, and a reject
		 * starts the back-up */
		repl_peer_reset(c, p, SYNC_PEER_PROBE, c->last_index ? c->last_index : 1);
	}
}

/*
 * The membership history (see struct sync_hard_state).  configs[] holds
 * the config in force at a committed and persisted index, then every
 * config entry after it; the newest is in force.
 */
static void
cfg_changed(struct sync_core *c)
{
	c->config = c->configs[c->n_configs - 1].config;
	c->config_index = c->configs[c->n_configs - 1].index;
	set_hard_state_dirty(c);
	if (c->role == SYNC_PRIMARY)
		repl_config_changed(c);
}

/* A config entry was appended; false if SYNC_MAX_CONFIGS are pending. */
bool
cfg_push(struct sync_core *c, uint64_t index, const struct sync_config *cfg)
{
	cfg_collapse(c);
	if (c->n_configs == SYNC_MAX_CONFIGS)
		return false;
	PGQ_ASSERT(index > c->config_index);
	c->configs[c->n_configs].index = index;
	c->configs[c->n_configs++].config = *cfg;
	cfg_changed(c);
	core_trace(c, "config at %llu: %u members, %u voters",
			   (unsigned long long) index, cfg->n, sync_config_voters(cfg));
	return true;
}

/* Entries >= from are gone: so are their configs (never configs[0]). */
void
cfg_truncate(struct sync_core *c, uint64_t from)
{
	uint32_t	n = c->n_configs;

	while (n > 1 && c->configs[n - 1].index >= from)
		n--;
	if (n == c->n_configs)
		return;
	c->n_configs = n;
	cfg_changed(c);
	core_trace(c, "config entries truncated: back to config at %llu",
			   (unsigned long long) c->config_index);
}

/* Forget configs older than the newest one at a committed, persisted index. */
void
cfg_collapse(struct sync_core *c)
{
	uint64_t	safe = c->commit < c->persisted ? c->commit : c->persisted;
	uint32_t	drop = 0;

	while (drop + 1 < c->n_configs && c->configs[drop + 1].index <= safe)
		drop++;
	if (drop == 0)
		return;
	memmove(c->configs, c->configs + drop, (c->n_configs - drop) * sizeof(c->configs[0]));
	c->n_configs -= drop;
}

/* A copy through index was installed: cfg is in force there. */
void
cfg_reset(struct sync_core *c, uint64_t index, const struct sync_config *cfg)
{
	uint32_t	keep = 0;

	while (keep < c->n_configs && c->configs[c->n_configs - 1 - keep].index > index)
		keep++;
	memmove(c->configs + 1, c->configs + c->n_configs - keep, keep * sizeof(c->configs[0]));
	c->configs[0].index = index;
	c->configs[0].config = *cfg;
	c->n_configs = keep + 1;
	cfg_changed(c);
}

/* Append one entry of this term on the primary (room checked by caller). */
uint64_t
repl_append_local(struct sync_core *c, uint32_t type, const void *payload,
				  uint32_t len)
{
	struct sync_entry *e = out_persist(c);

	PGQ_ASSERT(log_append_meta(c, c->term, type));
	e->index = c->last_index;
	e->term = c->term;
	e->type = type;
	e->len = len;
	e->payload = payload;
	return e->index;
}

void
repl_become_primary(struct sync_core *c)
{
	if (log_room(c) == 0)
	{
		core_trace(c, "won term %llu but the log is full: stepping back",
				   (unsigned long long) c->term);
		elect_become_secondary(c, c->term, 0);
		return;
	}
	c->role = SYNC_PRIMARY;
	c->leader_id = c->id;
	c->transfer_to = 0;
	c->n_peers = 0;
	c->last_leader_contact = c->now_ms;
	c->heartbeat_deadline = c->now_ms + c->opts.heartbeat_ms;
	c->quorum_deadline = c->now_ms + c->opts.election_timeout_ms;
	repl_config_changed(c);
	c->noop_index = repl_append_local(c, SYNC_ENTRY_NOOP, NULL, 0);
	core_trace(c, "primary for term %llu, no-op at %llu",
			   (unsigned long long) c->term, (unsigned long long) c->noop_index);
}

/*
 * The highest v such that q voters hold a value >= v: this node (if a
 * voter) counts with self, each voter peer with value(peer).  0 when
 * fewer than q voters count.
 */
uint64_t
repl_quorum_value(const struct sync_core *c, uint32_t q, uint64_t self,
				  uint64_t (*value) (const struct sync_progress *p))
{
	uint64_t	m[SYNC_MAX_NODES];
	uint32_t	n = 0;

	if (elect_is_voter(c, c->id))
		m[n++] = self;
	for (uint32_t i = 0; i < c->n_peers; i++)
		if (elect_is_voter(c, c->peers[i].id))
			m[n++] = value(&c->peers[i]);
	/* insertion sort, descending; n <= SYNC_MAX_NODES */
	for (uint32_t i = 1; i < n; i++)
		for (uint32_t j = i; j > 0 && m[j] > m[j - 1]; j--)
		{
			uint64_t	t = m[j];

			m[j] = m[j - 1];
			m[j - 1] = t;
		}
	return q >= 1 && n >= q ? m[q - 1] : 0;
}

static uint64_t
progress_match(const struct sync_progress *p)
{
	return p->match;
}

/* Highest index persisted on a quorum of voters, if of this term. */
static void
repl_maybe_commit(struct sync_core *c)
{
	uint32_t	q = elect_quorum(c);
	uint64_t	cand;

	if (c->opts.test_bugs & SYNC_TEST_BUG_COMMIT_WITHOUT_MAJORITY)
		q = 1;
	cand = repl_quorum_value(c, q, c->persisted, progress_match);
	if (cand <= c->commit || log_term_at(c, cand) != c->term)
		return;
	c->commit = cand;
	core_trace(c, "commit %llu", (unsigned long long) cand);
}

static bool
peer_can_send(const struct sync_core *c, const struct sync_progress *p)
{
	if (p->state == SYNC_PEER_PROBE)
		return !p->probe_sent;
	if (p->state == SYNC_PEER_REPLICATE)
		return p->inflight_n < c->opts.max_inflight;
	return false;
}

static void
peer_enter_copy(struct sync_core *c, struct sync_progress *p)
{
	repl_peer_reset(c, p, SYNC_PEER_COPY, p->next);
	p->copy_reported = true;
	out_copy_request(c, p->id, c->first_index - 1);
	core_trace(c, "peer %llu needs a copy (needs %llu, log starts at %llu)",
			   (unsigned long long) p->id, (unsigned long long) p->next,
			   (unsigned long long) c->first_index);
}

/* Fill msg's entries from p->next; returns how many. */
static uint32_t
repl_gather(struct sync_core *c, struct sync_progress *p, struct sync_msg *m)
{
	uint64_t	bytes = 0;
	uint32_t	n = 0;
	struct sync_entry *out = &c->out_entries[c->n_out_entries];

	while (p->next + n <= c->last_index && n < c->opts.max_batch_entries &&
		   c->n_out_entries + n < c->opts.max_out_entries)
	{
		if (!out_read_entry(c, p->next + n, &out[n]))
			break;
		if (n > 0 && bytes + out[n].len > c->opts.max_batch_bytes)
			break;
		bytes += out[n].len;
		n++;
	}
	c->n_out_entries += n;
	m->entries = n ? out : NULL;
	m->n_entries = n;
	return n;
}

/* Send entries from p->next; false if nothing could be sent. */
static bool
repl_send_append(struct sync_core *c, struct sync_progress *p)
{
	struct sync_msg *m;
	uint64_t	prev_term;
	uint64_t	last;

	if (p->next < c->first_index || !log_has_term(c, p->next - 1, &prev_term))
	{
		peer_enter_copy(c, p);
		return false;
	}
	m = out_msg(c, SYNC_MSG_APPEND, p->id);
	if (m == NULL)
		return false;
	if (repl_gather(c, p, m) == 0)
	{
		c->u->n_msgs--;
		return false;
	}
	m->index = p->next - 1;
	m->log_term = prev_term;
	m->commit = c->commit;
	m->round = c->read_round;
	last = m->index + m->n_entries;
	if (p->commit_sent < (c->commit < last ? c->commit : last))
		p->commit_sent = c->commit < last ? c->commit : last;
	if (p->state == SYNC_PEER_PROBE)
	{
		p->probe_sent = true;
		return true;
	}
	p->next = last + 1;
	p->inflight[(p->inflight_head + p->inflight_n) % SYNC_MAX_INFLIGHT] = last;
	p->inflight_n++;
	return true;
}

/* An APPEND without entries, prev = match: heartbeat or commit notice. */
void
repl_send_empty(struct sync_core *c, struct sync_progress *p, uint32_t flags)
{
	struct sync_msg *m;
	uint64_t	prev = p->match;
	uint64_t	prev_term;

	if (!log_has_term(c, prev, &prev_term))
	{
		prev = 0;
		prev_term = 0;
	}
	m = out_msg(c, SYNC_MSG_APPEND, p->id);
	if (m == NULL)
		return;
	m->flags = flags;
	m->index = prev;
	m->log_term = prev_term;
	m->commit = c->commit;
	m->round = c->read_round;
	if (p->commit_sent < (c->commit < prev ? c->commit : prev))
		p->commit_sent = c->commit < prev ? c->commit : prev;
}

/* The idle commit notification (see the file header). */
static void
repl_notify_commit(struct sync_core *c)
{
	for (uint32_t i = 0; i < c->n_peers; i++)
	{
		struct sync_progress *p = &c->peers[i];
		uint64_t	known = c->commit < p->match ? c->commit : p->match;

		if (p->state == SYNC_PEER_COPY || known <= p->commit_sent)
			continue;
		core_trace(c, "notify %llu of commit %llu", (unsigned long long) p->id,
				   (unsigned long long) known);
		repl_send_empty(c, p, SYNC_FLAG_COMMIT_ONLY);
	}
}

static void
repl_send_timeout_now(struct sync_core *c, uint64_t to)
{
	struct sync_msg *m = out_msg(c, SYNC_MSG_TIMEOUT_NOW, to);

	if (m != NULL)
		core_trace(c, "TIMEOUT_NOW to %llu", (unsigned long long) to);
}

static void
repl_check_transfer(struct sync_core *c)
{
	struct sync_progress *p;

	if (c->transfer_to == 0 || c->transfer_sent)
		return;
	p = repl_peer(c, c->transfer_to);
	if (p == NULL || !elect_is_voter(c, p->id))
	{
		c->transfer_to = 0;
		return;
	}
	if (p->match == c->last_index)
	{
		repl_send_timeout_now(c, p->id);
		c->transfer_sent = true;
	}
}

/* The primary left the voters and that change committed: step down. */
static void
repl_check_removed(struct sync_core *c)
{
	struct sync_progress *best = NULL;

	if (elect_is_voter(c, c->id) || c->config_index > c->commit)
		return;
	for (uint32_t i = 0; i < c->n_peers; i++)
		if (elect_is_voter(c, c->peers[i].id) &&
			c->peers[i].match == c->last_index)
			best = &c->peers[i];
	if (best != NULL)
		repl_send_timeout_now(c, best->id);
	core_trace(c, "removed from the voters: stepping down");
	elect_become_secondary(c, c->term, 0);
}

void
repl_flush(struct sync_core *c)
{
	PGQ_ASSERT(c->role == SYNC_PRIMARY);
	repl_maybe_commit(c);
	read_check(c);
	for (uint32_t i = 0; i < c->n_peers; i++)
	{
		struct sync_progress *p = &c->peers[i];

		while (p->next <= c->last_index && peer_can_send(c, p))
			if (!repl_send_append(c, p))
				break;
	}
	if (c->opts.idle_commit_notify)
		repl_notify_commit(c);
	repl_check_transfer(c);
	repl_check_removed(c);
}
