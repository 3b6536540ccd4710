/*
 * sim.c
 *	  The simulated world (events, network, disks, nodes driving their
 *	  cores) and the invariant checker.  See sim.h.
 *
 * Checks, each run incrementally as the world changes, so every step is
 * checked:
 *	- election safety: at most one primary per term (map term -> primary);
 *	- log matching: an entry (index, term) has the same payload and the same
 *	  previous term in every log that holds it (map (index, term) -> ...);
 *	  with the core's prev-term check this gives log matching by induction;
 *	- leader completeness: a new primary of term T holds every entry first
 *	  seen committed in a term < T;
 *	- committed entries never change: a node's commit index may only cover
 *	  entries equal to the history (index -> term, payload) and a node never
 *	  truncates an entry equal to a committed one;
 *	- so every node's committed prefix is a prefix of every other's;
 *	- linearizable reads: a confirmed read index is at least the highest
 *	  index committed anywhere when the read was asked, and no more than
 *	  the commit index of the primary that confirmed it; every read is
 *	  answered once, on the node that asked, and within two election
 *	  timeouts unless that node crashed.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "tests/sim/sim.h"

/* ---- utilities ---- */

uint64_t
sim_rand(struct sim *s)
{
	uint64_t	z = (s->rng += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

uint64_t
sim_rand_range(struct sim *s, uint64_t lo, uint64_t hi)
{
	return lo + sim_rand(s) % (hi - lo + 1);
}

void
sim_fail(struct sim *s, const char *fmt,...)
{
	va_list		ap;

	if (s->failed)
		return;
	s->failed = true;
	va_start(ap, fmt);
	vsnprintf(s->violation, sizeof(s->violation), fmt, ap);
	va_end(ap);
	if (s->o.verbose)
		printf("[%10.3f] VIOLATION: %s\n", s->now_us / 1000.0, s->violation);
}

void
sim_log(struct sim *s, const char *fmt,...)
{
	va_list		ap;

	if (!s->o.verbose)
		return;
	printf("[%10.3f] ", s->now_us / 1000.0);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void
sim_trace(void *ctx, uint64_t node_id, const char *line)
{
	struct sim_node *n = ctx;

	printf("[%10.3f] n%llu: %s\n", n->sim->now_us / 1000.0,
		   (unsigned long long) node_id, line);
}

/* ---- maps: open addressing, (k1, k2) -> (v1, v2) ---- */

static uint32_t
map_hash(uint64_t k1, uint64_t k2)
{
	uint64_t	h = k1 * 0x9E3779B97F4A7C15ull ^ (k2 + 0x632BE59BD9B4E019ull) * 0xC2B2AE3D27D4EB4Full;

	return (uint32_t) (h ^ (h >> 32));
}

static struct sim_map_slot *
map_find(struct sim_map *m, uint64_t k1, uint64_t k2, bool insert);

static void
map_grow(struct sim_map *m)
{
	struct sim_map old = *m;

	m->cap = old.cap ? old.cap * 2 : 1024;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	PGQ_ASSERT(m->slots != NULL);
	m->n = 0;
	for (uint32_t i = 0; i < old.cap; i++)
		if (old.slots[i].used)
			*map_find(m, old.slots[i].k1, old.slots[i].k2, true) = old.slots[i];
	free(old.slots);
}

static struct sim_map_slot *
map_find(struct sim_map *m, uint64_t k1, uint64_t k2, bool insert)
{
	uint32_t	i;

	if (insert && (m->n + 1) * 2 > m->cap)
		map_grow(m);
	if (m->cap == 0)
		return NULL;
	for (i = map_hash(k1, k2) & (m->cap - 1);; i = (i + 1) & (m->cap - 1))
	{
		struct sim_map_slot *sl = &m->slots[i];

		if (sl->used && sl->k1 == k1 && sl->k2 == k2)
			return sl;
		if (!sl->used)
		{
			if (!insert)
				return NULL;
			sl->used = true;
			sl->k1 = k1;
			sl->k2 = k2;
			m->n++;
			return sl;
		}
	}
}

struct sim_map_slot *
map_find_pub(struct sim_map *m, uint64_t key, bool insert)
{
	return map_find(m, key, 0, insert);
}

/* ---- event heap ---- */

static bool
ev_before(const struct sim_event *a, const struct sim_event *b)
{
	return a->at_us < b->at_us || (a->at_us == b->at_us && a->seq < b->seq);
}

struct sim_event *
sim_event_new(struct sim *s, uint32_t kind, uint64_t at_us, size_t extra)
{
	struct sim_event *ev = calloc(1, sizeof(*ev) + extra);

	PGQ_ASSERT(ev != NULL);
	ev->kind = kind;
	ev->at_us = at_us;
	return ev;
}

void
sim_schedule(struct sim *s, struct sim_event *ev)
{
	uint32_t	i;

	ev->seq = s->ev_seq++;
	if (s->heap_n == s->heap_cap)
	{
		s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 256;
		s->heap = realloc(s->heap, s->heap_cap * sizeof(*s->heap));
		PGQ_ASSERT(s->heap != NULL);
	}
	for (i = s->heap_n++; i > 0 && ev_before(ev, s->heap[(i - 1) / 2]); i = (i - 1) / 2)
		s->heap[i] = s->heap[(i - 1) / 2];
	s->heap[i] = ev;
}

struct sim_event *
sim_pop(struct sim *s)
{
	struct sim_event *top;
	struct sim_event *last;
	uint32_t	i = 0;

	if (s->heap_n == 0)
		return NULL;
	top = s->heap[0];
	last = s->heap[--s->heap_n];
	for (;;)
	{
		uint32_t	c = 2 * i + 1;

		if (c >= s->heap_n)
			break;
		if (c + 1 < s->heap_n && ev_before(s->heap[c + 1], s->heap[c]))
			c++;
		if (!ev_before(s->heap[c], last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->heap_n > 0)
		s->heap[i] = last;
	PGQ_ASSERT(top->at_us >= s->now_us);
	s->now_us = top->at_us;
	return top;
}

/* ---- world ---- */

void
sim_init(struct sim *s, const struct sim_opts *o, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->o = *o;
	s->seed = seed;
	s->rng = seed * 0x2545F4914F6CDD1Dull + 1;
	s->next_payload_id = 1;
	s->now_us = 1000000;		/* start at 1 s */
}

void
sim_free(struct sim *s)
{
	struct sim_event *ev;

	while ((ev = sim_pop(s)) != NULL)
		free(ev);
	free(s->heap);
	for (uint32_t i = 0; i < SIM_MAX_SLOTS; i++)
		sync_core_destroy(s->nodes[i].core);
	free(s->h_term);
	free(s->h_id);
	free(s->h_cterm);
	free(s->entries.slots);
	free(s->leaders.slots);
	free(s->reads);
}

struct sim_entry *
sim_log_at(struct sim_node *n, uint64_t index)
{
	PGQ_ASSERT(index >= n->first_index && index <= n->last_index);
	return &n->log[index % SIM_LOG_CAP];
}

bool
sim_term_at(struct sim_node *n, uint64_t index, uint64_t *term)
{
	if (index == 0)
		*term = 0;
	else if (index + 1 == n->first_index)
		*term = n->prev_term;
	else if (index < n->first_index || index > n->last_index)
		return false;
	else
		*term = sim_log_at(n, index)->term;
	return true;
}

uint64_t
sim_entry_id(const struct sim_entry *e)
{
	uint64_t	id = 0;

	if (e->type == SYNC_ENTRY_NORMAL && e->len == 8)
		memcpy(&id, e->data, 8);
	return id;
}

static int
sim_storage_read(void *ctx, uint64_t index, struct sync_entry *out)
{
	struct sim_node *n = ctx;
	struct sim_entry *e;

	if (index < n->first_index || index > n->last_index)
		return -1;
	e = sim_log_at(n, index);
	out->index = index;
	out->term = e->term;
	out->type = e->type;
	out->len = e->len;
	out->payload = e->data;
	return 0;
}

struct sim_node *
sim_primary(struct sim *s)
{
	struct sim_node *best = NULL;

	for (uint32_t i = 0; i < s->n_slots; i++)
	{
		struct sim_node *n = &s->nodes[i];

		if (n->up && n->role == SYNC_PRIMARY && (best == NULL || n->term > best->term))
			best = n;
	}
	return best;
}

static void
sim_make_core(struct sim *s, struct sim_node *n)
{
	struct sync_options o;
	struct sync_boot b;
	int			rc;

	sync_options_init(&o);
	o.id = n->id;
	o.seed = s->seed * 1000003 + n->id * 7919 + n->gen;
	o.heartbeat_ms = s->o.heartbeat_ms;
	o.election_timeout_ms = s->o.election_ms;
	o.max_log_entries = SIM_LOG_CAP;
	o.max_batch_entries = 32;
	o.max_inflight = 8;
	o.idle_commit_notify = s->o.notify;
	o.test_bugs = s->o.bug == SIM_BUG_COMMIT_WITHOUT_MAJORITY ?
		SYNC_TEST_BUG_COMMIT_WITHOUT_MAJORITY :
		s->o.bug == SIM_BUG_READ_WITHOUT_QUORUM ? SYNC_TEST_BUG_READ_WITHOUT_QUORUM : 0;
	o.storage.ctx = n;
	o.storage.read = sim_storage_read;
	o.trace = s->o.verbose ? sim_trace : NULL;
	o.trace_ctx = n;
	memset(&b, 0, sizeof(b));
	b.hard_state = n->hs;
	b.first_index = n->first_index;
	b.prev_term = n->prev_term;
	b.applied = n->applied;
	b.now_ms = s->now_us / 1000;
	rc = sync_core_create(&n->core, &o, &b);
	PGQ_ASSERT(rc == SYNC_OK);
	for (uint64_t i = n->first_index; i <= n->last_index; i++)
		sync_core_restore_entry(n->core, i, sim_log_at(n, i)->term,
								sim_log_at(n, i)->type);
}

static void
sim_schedule_tick(struct sim *s, struct sim_node *n, uint64_t at_ms)
{
	uint64_t	at = at_ms * 1000;
	struct sim_event *ev;

	if (at < s->now_us)
		at = s->now_us;
	if (n->tick_at_us > s->now_us && n->tick_at_us <= at)
		return;					/* an earlier tick is pending */
	n->tick_at_us = at;
	ev = sim_event_new(s, SIM_EV_TICK, at, 0);
	ev->node = (uint32_t) (n->id - 1);
	ev->gen = n->gen;
	ev->a = ++n->tick_seq;
	sim_schedule(s, ev);
}

static void
sim_node_start(struct sim *s, struct sim_node *n)
{
	struct sync_update u;

	n->up = true;
	n->role = SYNC_SECONDARY;
	n->commit = n->applied;
	n->checked = n->applied;
	n->leader = 0;
	n->tick_at_us = 0;
	n->disk_busy_us = s->now_us;
	sim_make_core(s, n);
	sync_core_tick(n->core, s->now_us / 1000, &u);
	sim_apply_update(s, n, &u);
}

void
sim_node_boot(struct sim *s, uint32_t slot, const struct sync_config *cfg)
{
	struct sim_node *n = &s->nodes[slot];

	PGQ_ASSERT(slot < SIM_MAX_SLOTS && !n->used);
	memset(n, 0, sizeof(*n));
	n->id = slot + 1;
	n->used = true;
	n->sim = s;
	n->hs.n_configs = 1;
	n->hs.configs[0].index = 0;
	n->hs.configs[0].config = *cfg;
	n->first_index = 1;
	n->last_index = 0;
	if (slot + 1 > s->n_slots)
		s->n_slots = slot + 1;
	sim_node_start(s, n);
}

void
sim_node_crash(struct sim *s, struct sim_node *n)
{
	PGQ_ASSERT(n->up);
	sim_log(s, "n%llu crashes (log %llu, durable %llu, applied %llu)",
			(unsigned long long) n->id, (unsigned long long) n->last_index,
			(unsigned long long) n->durable, (unsigned long long) n->applied);
	sync_core_destroy(n->core);
	n->core = NULL;
	n->up = false;
	n->gen++;
	n->last_index = n->durable;	/* the rest was not on disk */
	n->role = SYNC_SECONDARY;
}

void
sim_node_restart(struct sim *s, struct sim_node *n)
{
	PGQ_ASSERT(!n->up && !n->removed);
	sim_log(s, "n%llu restarts (log %llu..%llu, applied %llu, term %llu)",
			(unsigned long long) n->id, (unsigned long long) n->first_index,
			(unsigned long long) n->last_index, (unsigned long long) n->applied,
			(unsigned long long) n->hs.term);
	n->disk_mode = 0;
	sim_node_start(s, n);
}

/* ---- the checker ---- */

static void
hist_reserve(struct sim *s, uint64_t index)
{
	uint64_t	cap = s->h_cap;

	if (index < cap)
		return;
	while (cap <= index)
		cap = cap ? cap * 2 : 4096;
	s->h_term = realloc(s->h_term, cap * sizeof(uint64_t));
	s->h_id = realloc(s->h_id, cap * sizeof(uint64_t));
	s->h_cterm = realloc(s->h_cterm, cap * sizeof(uint64_t));
	PGQ_ASSERT(s->h_term && s->h_id && s->h_cterm);
	memset(s->h_term + s->h_cap, 0, (cap - s->h_cap) * sizeof(uint64_t));
	s->h_cap = cap;
}

/* Node n's commit covers entries up to its commit index: check them. */
static void
check_commit(struct sim *s, struct sim_node *n)
{
	for (uint64_t i = n->checked + 1; i <= n->commit && !s->failed; i++)
	{
		struct sim_entry *e;

		if (i < n->first_index)
			continue;			/* came with a copy of committed data */
		e = sim_log_at(n, i);
		hist_reserve(s, i);
		if (s->h_term[i] == 0)
		{
			s->h_term[i] = e->term;
			s->h_id[i] = sim_entry_id(e);
			s->h_cterm[i] = n->term;
			if (i > s->h_max)
				s->h_max = i;
		}
		else if (s->h_term[i] != e->term || s->h_id[i] != sim_entry_id(e))
			sim_fail(s, "n%llu commits index %llu as term %llu id %llu, "
					 "but term %llu id %llu was committed there",
					 (unsigned long long) n->id, (unsigned long long) i,
					 (unsigned long long) e->term, (unsigned long long) sim_entry_id(e),
					 (unsigned long long) s->h_term[i], (unsigned long long) s->h_id[i]);
	}
	if (n->commit > n->checked)
		n->checked = n->commit;
}

static void
check_new_primary(struct sim *s, struct sim_node *n)
{
	struct sim_map_slot *sl = map_find(&s->leaders, n->term, 0, true);

	if (sl->v1 != 0 && sl->v1 != n->id)
		sim_fail(s, "two primaries in term %llu: n%llu and n%llu",
				 (unsigned long long) n->term, (unsigned long long) sl->v1,
				 (unsigned long long) n->id);
	sl->v1 = n->id;
	for (uint64_t i = n->first_index; i <= s->h_max && !s->failed; i++)
	{
		uint64_t	t;

		if (s->h_term[i] == 0 || s->h_cterm[i] >= n->term)
			continue;
		if (!sim_term_at(n, i, &t) || t != s->h_term[i])
			sim_fail(s, "leader completeness: primary n%llu of term %llu lacks "
					 "committed index %llu (term %llu)",
					 (unsigned long long) n->id, (unsigned long long) n->term,
					 (unsigned long long) i, (unsigned long long) s->h_term[i]);
	}
}

static void
check_append(struct sim *s, struct sim_node *n, uint64_t index)
{
	struct sim_entry *e = sim_log_at(n, index);
	uint64_t	prev;
	struct sim_map_slot *sl;

	PGQ_ASSERT(sim_term_at(n, index - 1, &prev));
	sl = map_find(&s->entries, index, e->term, true);
	if (sl->v2 == 0 && sl->v1 == 0)
	{
		sl->v1 = sim_entry_id(e) + 1;
		sl->v2 = prev + 1;
		return;
	}
	if (sl->v1 != sim_entry_id(e) + 1 || sl->v2 != prev + 1)
		sim_fail(s, "log matching: n%llu holds (%llu, term %llu) with id %llu "
				 "after term %llu; another log has id %llu after term %llu",
				 (unsigned long long) n->id, (unsigned long long) index,
				 (unsigned long long) e->term, (unsigned long long) sim_entry_id(e),
				 (unsigned long long) prev, (unsigned long long) sl->v1 - 1,
				 (unsigned long long) sl->v2 - 1);
}

static void
check_truncate(struct sim *s, struct sim_node *n, uint64_t from)
{
	if (from <= n->commit)
		sim_fail(s, "n%llu truncates from %llu below its commit index %llu",
				 (unsigned long long) n->id, (unsigned long long) from,
				 (unsigned long long) n->commit);
	for (uint64_t i = from; i <= n->last_index && i <= s->h_max && !s->failed; i++)
		if (s->h_term[i] == sim_log_at(n, i)->term &&
			s->h_id[i] == sim_entry_id(sim_log_at(n, i)))
			sim_fail(s, "n%llu truncates committed entry %llu (term %llu)",
					 (unsigned long long) n->id, (unsigned long long) i,
					 (unsigned long long) s->h_term[i]);
}

/* A READ_INDEX_RESP confirms an index no higher than the sender's commit. */
static void
check_read_resp(struct sim *s, struct sim_node *n, const struct sync_msg *m,
				const struct sync_update *u)
{
	if (m->type != SYNC_MSG_READ_INDEX_RESP || (m->flags & SYNC_FLAG_REJECT) ||
		m->commit <= u->commit_index)
		return;
	sim_fail(s, "n%llu confirms read %llu of n%llu at index %llu, beyond its commit %llu",
			 (unsigned long long) n->id, (unsigned long long) m->hint_index,
			 (unsigned long long) m->to, (unsigned long long) m->commit,
			 (unsigned long long) u->commit_index);
}

/* The answers to reads asked on n (see the file header). */
static void
check_read_answers(struct sim *s, struct sim_node *n, const struct sync_update *u)
{
	for (uint32_t i = 0; i < u->n_reads && !s->failed; i++)
	{
		const struct sync_read *a = &u->reads[i];
		struct sim_read *r;

		PGQ_ASSERT(a->ctx >= 1 && a->ctx <= s->n_reads);
		r = &s->reads[a->ctx - 1];
		if (r->answered || r->slot != n->id - 1 || r->gen != n->gen)
		{
			sim_fail(s, "read %llu of n%u answered %s on n%llu",
					 (unsigned long long) a->ctx, r->slot + 1,
					 r->answered ? "again" : "elsewhere", (unsigned long long) n->id);
			return;
		}
		r->answered = true;
		r->ok = a->ok;
		r->index = a->index;
		if (!a->ok)
		{
			s->read_stats.refused++;
			continue;
		}
		s->read_stats.confirmed++;
		if (s->live_read_from != 0 && a->ctx >= s->live_read_from)
			s->live_read_ok = true;
		if (a->index < r->floor)
			sim_fail(s, "linearizable read: read %llu asked on n%llu at %.3f ms got "
					 "index %llu, but %llu was committed before it was asked",
					 (unsigned long long) a->ctx, (unsigned long long) n->id,
					 r->asked_us / 1000.0, (unsigned long long) a->index,
					 (unsigned long long) r->floor);
		else if (r->as_primary && a->index > u->commit_index)
			sim_fail(s, "read %llu confirmed by primary n%llu at index %llu, beyond "
					 "its commit %llu", (unsigned long long) a->ctx,
					 (unsigned long long) n->id, (unsigned long long) a->index,
					 (unsigned long long) u->commit_index);
	}
}

/* ---- applying a core's update (the ordering rules of sync_core.h) ---- */

static void
sim_disk_write(struct sim *s, struct sim_node *n, uint64_t upto, uint64_t term)
{
	uint64_t	lat = sim_rand_range(s, s->o.disk_min_us, s->o.disk_max_us);
	struct sim_event *ev;

	if (n->disk_mode == 1)
		lat *= 30;
	if (n->disk_busy_us < s->now_us)
		n->disk_busy_us = s->now_us;
	n->disk_busy_us += lat;		/* one write at a time, in order */
	ev = sim_event_new(s, SIM_EV_DISK, n->disk_busy_us, 0);
	ev->node = (uint32_t) (n->id - 1);
	ev->gen = n->gen;
	ev->a = upto;
	ev->b = term;
	sim_schedule(s, ev);
	if (s->o.bug == SIM_BUG_DISK_LIES)
	{
		ev = sim_event_new(s, SIM_EV_DISK_LIE, s->now_us, 0);
		ev->node = (uint32_t) (n->id - 1);
		ev->gen = n->gen;
		ev->a = upto;
		ev->b = term;
		sim_schedule(s, ev);
	}
}

static void
sim_apply_entries(struct sim *s, struct sim_node *n, const struct sync_update *u)
{
	if (u->truncate_from != 0)
	{
		check_truncate(s, n, u->truncate_from);
		n->last_index = u->truncate_from - 1;
		if (n->durable > n->last_index)
			n->durable = n->last_index;
	}
	for (uint32_t i = 0; i < u->n_entries; i++)
	{
		const struct sync_entry *e = &u->entries[i];
		struct sim_entry *d;

		PGQ_ASSERT(e->index == n->last_index + 1 && e->len <= SIM_PAYLOAD_MAX);
		PGQ_ASSERT(e->index - n->first_index < SIM_LOG_CAP);
		n->last_index = e->index;
		d = sim_log_at(n, e->index);
		d->term = e->term;
		d->type = e->type;
		d->len = e->len;
		if (e->len)
			memcpy(d->data, e->payload, e->len);
		check_append(s, n, e->index);
	}
	if (u->n_entries > 0)
		sim_disk_write(s, n, n->last_index, u->entries[u->n_entries - 1].term);
}

static void
sim_send(struct sim *s, struct sim_node *n, const struct sync_msg *m)
{
	size_t		extra = m->n_entries * sizeof(struct sync_entry);
	size_t		bytes = 0;
	uint32_t	copies = 1;

	for (uint32_t i = 0; i < m->n_entries; i++)
		bytes += m->entries[i].len;
	if (s->o.net_faults && sim_rand(s) % 100 < s->o.loss_pct)
		copies = 0;
	else if (s->o.net_faults && sim_rand(s) % 100 < s->o.dup_pct)
		copies = 2;
	for (uint32_t c = 0; c < copies; c++)
	{
		uint64_t	at = s->now_us + sim_rand_range(s, s->o.net_min_us, s->o.net_max_us);
		struct sim_event *ev = sim_event_new(s, SIM_EV_MSG, at, extra + bytes);
		uint8_t    *data = (uint8_t *) &ev->ent[m->n_entries];

		ev->msg = *m;
		ev->node = (uint32_t) (m->to - 1);
		ev->peer = (uint32_t) (m->from - 1);
		ev->msg.entries = m->n_entries ? ev->ent : NULL;
		for (uint32_t i = 0; i < m->n_entries; i++)
		{
			ev->ent[i] = m->entries[i];
			if (m->entries[i].len)
				memcpy(data, m->entries[i].payload, m->entries[i].len);
			ev->ent[i].payload = data;
			data += m->entries[i].len;
		}
		sim_schedule(s, ev);
	}
}

static void
sim_apply_commit(struct sim *s, struct sim_node *n, const struct sync_update *u)
{
	uint64_t	old = n->commit;

	n->commit = u->commit_index;
	check_commit(s, n);
	if ((n->commit < n->durable ? n->commit : n->durable) > n->applied)
		n->applied = n->commit < n->durable ? n->commit : n->durable;
	if (s->commit_hook != NULL && n->commit > old)
		s->commit_hook(s, n, old);
}

static void
sim_apply_role(struct sim *s, struct sim_node *n, const struct sync_update *u)
{
	bool		new_primary = u->role == SYNC_PRIMARY &&
		(n->role != SYNC_PRIMARY || n->term != u->term);

	n->role = u->role;
	n->term = u->term;
	n->leader = u->leader_id;
	if (new_primary)
	{
		sim_log(s, "n%llu is primary of term %llu", (unsigned long long) n->id,
				(unsigned long long) n->term);
		check_new_primary(s, n);
	}
}

static void
sim_schedule_copies(struct sim *s, struct sim_node *n, const struct sync_update *u)
{
	for (uint32_t i = 0; i < u->n_copies; i++)
	{
		struct sim_event *ev = sim_event_new(s, SIM_EV_COPY,
											 s->now_us + sim_rand_range(s, 20000, 120000), 0);

		ev->node = (uint32_t) (n->id - 1);
		ev->gen = n->gen;
		ev->peer = (uint32_t) (u->copies[i].peer - 1);
		ev->a = u->copies[i].min_index;
		sim_schedule(s, ev);
	}
}

void
sim_apply_update(struct sim *s, struct sim_node *n, const struct sync_update *u)
{
	if (u->hard_state_changed)
		n->hs = u->hard_state;	/* durable at once */
	sim_apply_entries(s, n, u);
	for (uint32_t i = 0; i < u->n_msgs; i++)
	{
		check_read_resp(s, n, &u->msgs[i], u);
		sim_send(s, n, &u->msgs[i]);
	}
	sim_apply_role(s, n, u);
	if (u->commit_changed || u->commit_index != n->commit)
		sim_apply_commit(s, n, u);
	sim_schedule_copies(s, n, u);
	check_read_answers(s, n, u);
	sim_schedule_tick(s, n, u->next_tick_ms);
}

/* ---- the read index ---- */

/*
 * Ask n for a read index as the node does, its core brought to now first.
 * The answer must reach the highest index committed anywhere now.
 */
void
sim_read_ask(struct sim *s, struct sim_node *n)
{
	struct sync_update u;
	struct sim_read *r;
	int			rc;

	sync_core_tick(n->core, s->now_us / 1000, &u);
	sim_apply_update(s, n, &u);
	if (s->n_reads == s->reads_cap)
	{
		s->reads_cap = s->reads_cap ? s->reads_cap * 2 : 1024;
		s->reads = realloc(s->reads, s->reads_cap * sizeof(*s->reads));
		PGQ_ASSERT(s->reads != NULL);
	}
	r = &s->reads[s->n_reads++];
	memset(r, 0, sizeof(*r));
	r->slot = (uint32_t) (n->id - 1);
	r->gen = n->gen;
	r->asked_us = s->now_us;
	r->floor = s->h_max;
	r->as_primary = n->role == SYNC_PRIMARY;
	rc = sync_core_read_index(n->core, s->n_reads, &u);
	sim_log(s, "n%llu asks read %llu (committed anywhere: %llu): %s",
			(unsigned long long) n->id, (unsigned long long) s->n_reads,
			(unsigned long long) r->floor, rc == SYNC_OK ? "asked" : sync_err_name(rc));
	if (rc != SYNC_OK)
	{
		r->answered = true;
		s->read_stats.refused_now++;
	}
	else
		s->read_stats.asked++;
	sim_apply_update(s, n, &u);
}

/* Every read asked on a node that stays up is answered within 2 timeouts. */
void
sim_check_reads_answered(struct sim *s)
{
	uint64_t	bound_us = 2 * (uint64_t) s->o.election_ms * 1000;

	for (; s->read_scan < s->n_reads; s->read_scan++)
	{
		const struct sim_read *r = &s->reads[s->read_scan];
		const struct sim_node *n = &s->nodes[r->slot];

		if (r->answered || !n->up || n->gen != r->gen)
			continue;			/* answered, or its node crashed */
		if (s->now_us > r->asked_us + bound_us)
			sim_fail(s, "read %llu asked on n%u at %.3f ms: no answer within %llu ms",
					 (unsigned long long) s->read_scan + 1, r->slot + 1,
					 r->asked_us / 1000.0, (unsigned long long) bound_us / 1000);
		return;
	}
}

/* ---- world events ---- */

static void
sim_persisted(struct sim *s, struct sim_node *n, uint64_t upto, uint64_t term,
			  bool durable)
{
	struct sync_update u;
	uint64_t	t;

	if (!sim_term_at(n, upto, &t) || t != term || upto > n->last_index)
		return;					/* truncated meanwhile */
	if (durable && upto > n->durable)
		n->durable = upto;
	if (n->durable >= n->applied && n->commit > n->applied)
		n->applied = n->commit < n->durable ? n->commit : n->durable;
	sync_core_persisted(n->core, upto, term, &u);
	sim_apply_update(s, n, &u);
}

static void
sim_on_disk(struct sim *s, struct sim_event *ev, struct sim_node *n)
{
	if (n->disk_mode == 2)
	{
		struct sim_event *again = sim_event_new(s, SIM_EV_DISK, s->now_us + 20000, 0);

		*again = *ev;
		again->at_us = s->now_us + 20000;
		if (n->disk_busy_us < again->at_us)
			n->disk_busy_us = again->at_us;
		sim_schedule(s, again);
		return;
	}
	sim_persisted(s, n, ev->a, ev->b, true);
}

static void
sim_on_msg(struct sim *s, struct sim_event *ev, struct sim_node *n)
{
	struct sync_update u;

	if (s->blocked[ev->peer][ev->node])
		return;
	sync_core_step(n->core, &ev->msg, &u);
	sim_apply_update(s, n, &u);
}

static void
sim_on_tick(struct sim *s, struct sim_event *ev, struct sim_node *n)
{
	struct sync_update u;

	if (ev->a != n->tick_seq)
		return;
	n->tick_at_us = 0;
	sync_core_tick(n->core, s->now_us / 1000, &u);
	sim_apply_update(s, n, &u);
}

/* A data copy from primary n to ev->peer, of n's applied state. */
static void
sim_on_copy(struct sim *s, struct sim_event *ev, struct sim_node *n)
{
	struct sim_node *t = &s->nodes[ev->peer];
	struct sync_config cfg;
	struct sync_update u;
	uint64_t	a = n->applied;
	uint64_t	term;
	bool		ok = n->role == SYNC_PRIMARY && t->up && !s->blocked[n->id - 1][ev->peer] &&
		a >= ev->a && sim_term_at(n, a, &term) && sync_core_config_at(n->core, a, &cfg);

	if (ok && a > t->commit)
	{
		uint64_t	have;
		bool		keep = sim_term_at(t, a, &have) && have == term && a <= t->last_index;

		sim_log(s, "copy n%llu -> n%llu through %llu%s", (unsigned long long) n->id,
				(unsigned long long) t->id, (unsigned long long) a,
				keep ? " (suffix kept)" : "");
		if (!keep)
		{
			t->last_index = a;
			t->durable = a;
		}
		else if (t->durable < a)
			t->durable = a;
		t->first_index = a + 1;
		t->prev_term = term;
		t->applied = a;
		t->checked = a;
		sync_core_copy_installed(t->core, a, term, &cfg, &u);
		sim_apply_update(s, t, &u);
	}
	if (n->role == SYNC_PRIMARY)
	{
		sync_core_copy_done(n->core, t->id, ok, a, &u);
		sim_apply_update(s, n, &u);
	}
}

/* Keep the log short: drop applied entries but the last 32. */
void
sim_maybe_compact(struct sim *s, struct sim_node *n)
{
	struct sync_update u;
	uint64_t	first;

	if (!n->up || n->last_index + 1 - n->first_index < SIM_LOG_CAP / 2 ||
		n->applied < n->first_index + 32)
		return;
	first = n->applied - 32 + 1;
	PGQ_ASSERT(sim_term_at(n, first - 1, &n->prev_term));
	n->first_index = first;
	sync_core_compacted(n->core, first, &u);
	sim_apply_update(s, n, &u);
}

/* Returns false if the event is not a world event. */
bool
sim_handle_world_event(struct sim *s, struct sim_event *ev)
{
	struct sim_node *n = &s->nodes[ev->node];

	switch (ev->kind)
	{
		case SIM_EV_MSG:
			if (n->up)
				sim_on_msg(s, ev, n);
			break;
		case SIM_EV_DISK:
		case SIM_EV_DISK_LIE:
			if (n->up && n->gen == ev->gen)
			{
				if (ev->kind == SIM_EV_DISK)
					sim_on_disk(s, ev, n);
				else
					sim_persisted(s, n, ev->a, ev->b, false);
			}
			break;
		case SIM_EV_TICK:
			if (n->up && n->gen == ev->gen)
				sim_on_tick(s, ev, n);
			break;
		case SIM_EV_COPY:
			if (n->up && n->gen == ev->gen)
				sim_on_copy(s, ev, n);
			break;
		case SIM_EV_DISK_HEAL:
			if (n->gen == ev->gen)
				n->disk_mode = 0;
			break;
		default:
			return false;
	}
	if (n->up)
		sim_maybe_compact(s, n);
	return true;
}
