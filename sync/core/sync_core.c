/*
 * sync_core.c
 *	  Lifecycle of a core, the update it fills, the log metadata ring and the
 *	  interface routines that do not belong to elections or replication.
 *
 * Each interface routine that mutates the core runs core_begin(), does its
 * work, lets the primary flush (commit, sends, notifications) and finishes
 * with core_end(), which fills the summary fields of the update.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "sync/core/sync_core_int.h"

void
sync_options_init(struct sync_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->heartbeat_ms = 100;
	opts->election_timeout_ms = 1000;
	opts->max_inflight = 16;
	opts->max_batch_entries = 64;
	opts->max_batch_bytes = 1024 * 1024;
	opts->max_log_entries = 65536;
	opts->max_msgs = 0;			/* 0: derived in sync_core_create */
	opts->max_out_entries = 0;
	opts->pre_vote = true;
	opts->check_quorum = true;
	opts->idle_commit_notify = true;
}

static bool
options_valid(const struct sync_options *o)
{
	return o->id != 0 && o->heartbeat_ms > 0 &&
		o->election_timeout_ms > o->heartbeat_ms &&
		o->max_inflight >= 1 && o->max_inflight <= SYNC_MAX_INFLIGHT &&
		o->max_batch_entries >= 1 &&
		o->max_batch_entries <= SYNC_MAX_BATCH_ENTRIES &&
		o->max_batch_bytes > 0 && o->max_log_entries >= 16 &&
		o->max_log_entries <= (1u << 28) && o->storage.read != NULL;
}

static bool
config_valid(const struct sync_config *cfg)
{
	uint8_t		buf[SYNC_CONFIG_ENCODED_MAX];
	struct sync_config copy;
	uint32_t	len;

	if (cfg->n == 0 || cfg->n > SYNC_MAX_NODES)
		return false;
	len = sync_config_encode(cfg, buf, sizeof(buf));
	return len > 0 && sync_config_decode(buf, len, &copy);
}

static bool
hard_state_valid(const struct sync_hard_state *hs)
{
	if (hs->n_configs == 0 || hs->n_configs > SYNC_MAX_CONFIGS)
		return false;
	for (uint32_t i = 0; i < hs->n_configs; i++)
		if (!config_valid(&hs->configs[i].config) ||
			(i > 0 && hs->configs[i].index <= hs->configs[i - 1].index))
			return false;
	return true;
}

static void
core_free_buffers(struct sync_core *c)
{
	free(c->ring_term);
	free(c->ring_type);
	free(c->persist);
	free(c->msgs);
	free(c->out_entries);
}

int
sync_core_create(struct sync_core **out, const struct sync_options *opts,
				 const struct sync_boot *boot)
{
	struct sync_core *c;
	const struct sync_hard_state *hs = &boot->hard_state;

	if (!options_valid(opts) || !hard_state_valid(hs) ||
		boot->first_index == 0 || boot->applied + 1 < boot->first_index)
		return SYNC_ERR_INVALID;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return SYNC_ERR_NOMEM;
	c->opts = *opts;
	if (c->opts.max_msgs == 0)
		c->opts.max_msgs = SYNC_MAX_NODES * (c->opts.max_inflight + 2);
	if (c->opts.max_out_entries == 0)
		c->opts.max_out_entries = c->opts.max_batch_entries * SYNC_MAX_NODES * 4;
	c->persist_cap = c->opts.max_batch_entries;
	c->ring_term = calloc(c->opts.max_log_entries, sizeof(uint64_t));
	c->ring_type = calloc(c->opts.max_log_entries, 1);
	c->persist = calloc(c->persist_cap, sizeof(struct sync_entry));
	c->msgs = calloc(c->opts.max_msgs, sizeof(struct sync_msg));
	c->out_entries = calloc(c->opts.max_out_entries, sizeof(struct sync_entry));
	if (!c->ring_term || !c->ring_type || !c->persist || !c->msgs || !c->out_entries)
	{
		core_free_buffers(c);
		free(c);
		return SYNC_ERR_NOMEM;
	}
	c->id = opts->id;
	c->rng = opts->seed ^ (opts->id * 0x9E3779B97F4A7C15ull) ^ 0x5DEECE66Dull;
	c->now_ms = boot->now_ms;
	c->term = hs->term;
	c->vote = hs->vote;
	c->n_configs = hs->n_configs;
	memcpy(c->configs, hs->configs, sizeof(c->configs));
	c->config = c->configs[c->n_configs - 1].config;
	c->config_index = c->configs[c->n_configs - 1].index;
	c->first_index = boot->first_index;
	c->last_index = boot->first_index - 1;
	c->prev_term = boot->prev_term;
	c->commit = boot->applied;
	c->role = SYNC_SECONDARY;
	c->in_tick = true;			/* boot.now_ms is current */
	elect_reset_deadline(c);
	c->in_tick = false;
	*out = c;
	return SYNC_OK;
}

void
sync_core_restore_entry(struct sync_core *core, uint64_t index, uint64_t term,
						uint32_t type)
{
	PGQ_ASSERT(!core->started);
	PGQ_ASSERT(index == core->last_index + 1);
	PGQ_ASSERT(term >= log_last_term(core) && term <= core->term);
	PGQ_ASSERT(log_append_meta(core, term, type));
}

void
sync_core_destroy(struct sync_core *core)
{
	if (core == NULL)
		return;
	core_free_buffers(core);
	free(core);
}

/* First event after create: the durable log is known now. */
static void
core_boot_finish(struct sync_core *c)
{
	c->started = true;
	c->persisted = c->last_index;
	PGQ_ASSERT(c->commit <= c->last_index);
	PGQ_ASSERT(c->configs[0].index <= c->last_index);
	if (c->config_index > c->last_index)
	{
		/* config entries that did not reach the disk before a crash */
		cfg_truncate(c, c->last_index + 1);
		c->hs_dirty = true;
	}
	core_trace(c, "start term %llu log %llu..%llu commit %llu",
			   (unsigned long long) c->term, (unsigned long long) c->first_index,
			   (unsigned long long) c->last_index, (unsigned long long) c->commit);
}

void
core_begin(struct sync_core *c, struct sync_update *u)
{
	memset(u, 0, sizeof(*u));
	u->entries = c->persist;
	u->msgs = c->msgs;
	u->copies = c->copies;
	u->reads = c->read_out;
	c->u = u;
	c->n_out_entries = 0;
	c->hs_dirty = false;
	c->prev_role = c->role;
	c->prev_term_seen = c->term;
	c->prev_leader = c->leader_id;
	c->prev_commit = c->commit;
	if (!c->started)
		core_boot_finish(c);
}

static uint64_t
core_next_tick(const struct sync_core *c)
{
	uint64_t	t;

	/*
	 * A message pushed the election deadline back (elect_reset_deadline):
	 * ask for a tick at once, so the deadline is recomputed from the time
	 * of that message rather than from whenever the next timer fires.
	 */
	if (c->role != SYNC_PRIMARY)
		t = c->reset_at_tick ? c->now_ms : c->election_deadline;
	else
	{
		t = c->heartbeat_deadline;
		if (c->opts.check_quorum && c->quorum_deadline < t)
			t = c->quorum_deadline;
		if (c->transfer_to != 0 && c->transfer_deadline < t)
			t = c->transfer_deadline;
	}
	if (read_next_deadline(c) < t)
		t = read_next_deadline(c);
	return t;
}

void
core_end(struct sync_core *c)
{
	struct sync_update *u = c->u;

	PGQ_ASSERT(c->commit <= c->last_index || c->last_index < c->first_index);
	PGQ_ASSERT(c->persisted <= c->last_index);
	PGQ_ASSERT(c->commit >= c->prev_commit);
	read_sweep(c);
	if (c->hs_dirty)
	{
		u->hard_state_changed = true;
		u->hard_state.term = c->term;
		u->hard_state.vote = c->vote;
		u->hard_state.n_configs = c->n_configs;
		memcpy(u->hard_state.configs, c->configs,
			   c->n_configs * sizeof(struct sync_config_at));
	}
	cfg_collapse(c);
	u->role = c->role;
	u->term = c->term;
	u->leader_id = c->leader_id;
	u->role_changed = c->role != c->prev_role || c->term != c->prev_term_seen ||
		c->leader_id != c->prev_leader;
	u->commit_index = c->commit;
	u->commit_changed = c->commit != c->prev_commit;
	u->next_tick_ms = core_next_tick(c);
	c->u = NULL;
}

void
core_trace(struct sync_core *c, const char *fmt,...)
{
	char		line[256];
	va_list		ap;

	if (c->opts.trace == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	c->opts.trace(c->opts.trace_ctx, c->id, line);
}

/* splitmix64 */
uint64_t
core_random(struct sync_core *c)
{
	uint64_t	z = (c->rng += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

void
set_hard_state_dirty(struct sync_core *c)
{
	c->hs_dirty = true;
}

/* ---- log metadata ring ---- */

bool
log_has_term(const struct sync_core *c, uint64_t index, uint64_t *term)
{
	if (index == 0)
	{
		*term = 0;
		return true;
	}
	if (index + 1 == c->first_index)
	{
		*term = c->prev_term;
		return true;
	}
	if (index < c->first_index || index > c->last_index)
		return false;
	*term = c->ring_term[index % c->opts.max_log_entries];
	return true;
}

uint64_t
log_term_at(const struct sync_core *c, uint64_t index)
{
	uint64_t	t;

	PGQ_ASSERT(log_has_term(c, index, &t));
	return t;
}

uint32_t
log_type_at(const struct sync_core *c, uint64_t index)
{
	PGQ_ASSERT(index >= c->first_index && index <= c->last_index);
	return c->ring_type[index % c->opts.max_log_entries];
}

uint64_t
log_last_term(const struct sync_core *c)
{
	return log_term_at(c, c->last_index);
}

uint32_t
log_room(const struct sync_core *c)
{
	uint64_t	used = c->last_index + 1 - c->first_index;

	return c->opts.max_log_entries - (uint32_t) used;
}

bool
log_append_meta(struct sync_core *c, uint64_t term, uint32_t type)
{
	uint64_t	index = c->last_index + 1;

	if (log_room(c) == 0)
		return false;
	PGQ_ASSERT(term >= log_last_term(c));
	c->ring_term[index % c->opts.max_log_entries] = term;
	c->ring_type[index % c->opts.max_log_entries] = (uint8_t) type;
	c->last_index = index;
	return true;
}

/*
 * Largest index in [lo, hi] whose term is <= term; terms never decrease
 * along a log, so binary search.  Requires term_at(lo) <= term.
 */
uint64_t
log_search_term(const struct sync_core *c, uint64_t lo, uint64_t hi, uint64_t term)
{
	PGQ_ASSERT(lo <= hi && log_term_at(c, lo) <= term);
	while (lo < hi)
	{
		uint64_t	mid = lo + (hi - lo + 1) / 2;

		if (log_term_at(c, mid) <= term)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* Drop entries >= from; never a committed one. */
void
log_truncate(struct sync_core *c, uint64_t from)
{
	PGQ_ASSERT(from > c->commit && from >= c->first_index && from <= c->last_index);
	c->last_index = from - 1;
	if (c->persisted > c->last_index)
		c->persisted = c->last_index;
	if (c->u->truncate_from == 0 || from < c->u->truncate_from)
		c->u->truncate_from = from;
	/* entries of this update at or after from are gone too */
	while (c->u->n_entries > 0 &&
		   c->persist[c->u->n_entries - 1].index >= from)
		c->u->n_entries--;
	cfg_truncate(c, from);
}

/* ---- building the update ---- */

struct sync_entry *
out_persist(struct sync_core *c)
{
	PGQ_ASSERT(c->u->n_entries < c->persist_cap);
	return &c->persist[c->u->n_entries++];
}

struct sync_msg *
out_msg(struct sync_core *c, uint32_t type, uint64_t to)
{
	struct sync_msg *m;

	if (c->u->n_msgs >= c->opts.max_msgs)
		return NULL;
	m = &c->msgs[c->u->n_msgs++];
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->from = c->id;
	m->to = to;
	m->term = c->term;
	return m;
}

/* Entry with payload: from this update's entries, else from storage. */
bool
out_read_entry(struct sync_core *c, uint64_t index, struct sync_entry *e)
{
	uint32_t	n = c->u->n_entries;

	if (n > 0 && index >= c->persist[0].index && index <= c->persist[n - 1].index)
	{
		*e = c->persist[index - c->persist[0].index];
		return true;
	}
	if (c->opts.storage.read(c->opts.storage.ctx, index, e) != 0)
		return false;
	PGQ_ASSERT(e->index == index && e->term == log_term_at(c, index));
	return true;
}

void
out_copy_request(struct sync_core *c, uint64_t peer, uint64_t min_index)
{
	PGQ_ASSERT(c->u->n_copies < SYNC_MAX_NODES);
	c->copies[c->u->n_copies].peer = peer;
	c->copies[c->u->n_copies].min_index = min_index;
	c->u->n_copies++;
}

/* ---- interface routines ---- */

/* End of a call: the primary flushes (commit, sends, reads), then core_end. */
void
core_finish(struct sync_core *c)
{
	if (c->role == SYNC_PRIMARY)
		repl_flush(c);
	core_end(c);
}

void
sync_core_step(struct sync_core *core, const struct sync_msg *msg,
			   struct sync_update *u)
{
	core_begin(core, u);
	if (msg->to == core->id && msg->from != 0 && msg->from != core->id &&
		msg->n_entries <= SYNC_MAX_BATCH_ENTRIES &&
		(msg->n_entries == 0 || msg->entries != NULL))
		elect_step(core, msg);
	else
		core_trace(core, "drop malformed %s from %llu",
				   sync_msg_type_name(msg->type), (unsigned long long) msg->from);
	core_finish(core);
}

void
sync_core_tick(struct sync_core *core, uint64_t now_ms, struct sync_update *u)
{
	core_begin(core, u);
	if (now_ms > core->now_ms)
		core->now_ms = now_ms;
	core->in_tick = true;
	elect_tick(core);
	core->in_tick = false;
	core_finish(core);
}

void
sync_core_persisted(struct sync_core *core, uint64_t index, uint64_t term,
					struct sync_update *u)
{
	uint64_t	t;

	core_begin(core, u);
	if (index > core->persisted && log_has_term(core, index, &t) && t == term &&
		index <= core->last_index)
	{
		core->persisted = index;
		if (core->role != SYNC_PRIMARY)
			repl_secondary_persisted(core);
	}
	core_finish(core);
}

int
sync_core_propose(struct sync_core *core, const struct sync_payload *p,
				  uint32_t n, uint64_t *first_index, struct sync_update *u)
{
	int			err = SYNC_OK;

	core_begin(core, u);
	if (core->role != SYNC_PRIMARY)
		err = SYNC_ERR_NOT_PRIMARY;
	else if (core->transfer_to != 0)
		err = SYNC_ERR_TRANSFERRING;
	else if (n == 0 || n > core->opts.max_batch_entries)
		err = SYNC_ERR_TOO_LARGE;
	else if (log_room(core) < n ||
			 core->last_index - core->commit + n > core->opts.max_log_entries / 2)
		err = SYNC_ERR_LOG_FULL;	/* uncommitted entries: at most half */
	if (err != SYNC_OK)
	{
		core_end(core);
		return err;
	}
	*first_index = core->last_index + 1;
	for (uint32_t i = 0; i < n; i++)
	{
		struct sync_entry *e = out_persist(core);

		PGQ_ASSERT(log_append_meta(core, core->term, SYNC_ENTRY_NORMAL));
		e->index = core->last_index;
		e->term = core->term;
		e->type = SYNC_ENTRY_NORMAL;
		e->len = p[i].len;
		e->payload = p[i].data;
	}
	core_finish(core);
	return SYNC_OK;
}

void
sync_core_compacted(struct sync_core *core, uint64_t first_index,
					struct sync_update *u)
{
	core_begin(core, u);
	PGQ_ASSERT(first_index >= core->first_index);
	PGQ_ASSERT(first_index <= core->commit + 1 && first_index <= core->persisted + 1);
	core->prev_term = log_term_at(core, first_index - 1);
	core->first_index = first_index;
	core_finish(core);
}

void
sync_core_copy_done(struct sync_core *core, uint64_t peer, bool ok,
					uint64_t index, struct sync_update *u)
{
	core_begin(core, u);
	if (core->role == SYNC_PRIMARY)
		repl_copy_done(core, peer, ok, index);
	core_finish(core);
}

/* See sync_core_copy_installed: keep the suffix after a matching entry. */
static void
core_install_copy(struct sync_core *c, uint64_t index, uint64_t term,
				  const struct sync_config *cfg)
{
	uint64_t	t;
	bool		keep = log_has_term(c, index, &t) && t == term &&
		index <= c->last_index;

	if (c->role == SYNC_PRIMARY)
		elect_become_secondary(c, c->term, 0);
	if (!keep)
	{
		c->last_index = index;
		c->persisted = index;
	}
	else if (c->persisted < index)
		c->persisted = index;
	c->first_index = index + 1;
	c->prev_term = term;
	c->commit = index;
	if (c->match_leader < index)
		c->match_leader = index;
	if (!keep)
		cfg_truncate(c, 0);
	cfg_reset(c, index, cfg);
	set_hard_state_dirty(c);
	core_trace(c, "installed copy through %llu (term %llu)%s",
			   (unsigned long long) index, (unsigned long long) term,
			   keep ? ", log suffix kept" : "");
}

void
sync_core_copy_installed(struct sync_core *core, uint64_t index, uint64_t term,
						 const struct sync_config *cfg, struct sync_update *u)
{
	core_begin(core, u);
	if (index > core->commit && config_valid(cfg))
		core_install_copy(core, index, term, cfg);
	core_finish(core);
}

void
sync_core_status(const struct sync_core *core, struct sync_status *st)
{
	memset(st, 0, sizeof(*st));
	st->role = core->role;
	st->id = core->id;
	st->term = core->term;
	st->vote = core->vote;
	st->leader_id = core->leader_id;
	st->first_index = core->first_index;
	st->last_index = core->last_index;
	st->last_term = log_last_term(core);
	st->persisted_index = core->persisted;
	st->commit_index = core->commit;
	st->config_index = core->config_index;
	st->transfer_to = core->transfer_to;
	st->is_voter = elect_is_voter(core, core->id);
	st->config = core->config;
}

bool
sync_core_peer(const struct sync_core *core, uint64_t id,
			   struct sync_peer_status *ps)
{
	if (core->role != SYNC_PRIMARY)
		return false;
	for (uint32_t i = 0; i < core->n_peers; i++)
	{
		const struct sync_progress *p = &core->peers[i];

		if (p->id != id)
			continue;
		ps->id = p->id;
		ps->state = p->state;
		ps->inflight = p->inflight_n;
		ps->match = p->match;
		ps->next = p->next;
		ps->commit_sent = p->commit_sent;
		return true;
	}
	return false;
}

bool
sync_core_config_at(const struct sync_core *core, uint64_t index,
					struct sync_config *cfg)
{
	for (uint32_t i = core->n_configs; i-- > 0;)
		if (core->configs[i].index <= index)
		{
			*cfg = core->configs[i].config;
			return true;
		}
	return false;
}
