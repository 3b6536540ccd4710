/*
 * sync_node.c
 *	  The node's replication loop.  See sync_node.h.
 *
 * Data flow: peer frame -> sync_msg_decode -> sync_core_step -> update;
 * timer -> sync_core_tick -> update; wal eventfd -> sync_core_persisted ->
 * update.  handle_update() carries out an update in the core's order:
 * hard state, truncation, appends, messages, apply, copies, next tick.
 *
 * Compaction and rebuild (see sync_node.h): maybe_compact() on each tick;
 * the node messages REBUILD / REBUILT / TERM (sync/peer_codec.h) are
 * handled here and never reach the core; while a copy waits to be
 * installed the node has no core at all (node->core == NULL).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <openssl/rand.h>

#include "common/pgq_assert.h"
#include "common/pgq_buf.h"
#include "common/pgq_bytes.h"
#include "common/pgq_config.h"
#include "common/pgq_log.h"
#include "sync/core/sync_core.h"
#include "sync/peer.h"
#include "sync/peer_codec.h"
#include "sync/sync_node.h"
#include "wal/wal.h"

#define MAX_FRAME_BYTES (80u << 20)	/* one entry up to 64 MiB, plus headers */
#define PEER_QUEUE_BYTES (128u << 20)
#define MAX_PENDING 65536
#define READ_CHUNK_ENTRIES 64
#define READ_CHUNK_BYTES (1u << 20)
#define MAX_HELD_READS 1024
#define RING_HEADROOM 65536		/* core ring entries beyond the retention */
#define COPY_MARKER "pgquorum: the log starts after a copy of the data"
#define BYTES_RING 65536		/* indexes whose cumulative log bytes are kept */

struct pending
{
	uint64_t	index;
	uint64_t	term;
	sync_node_done_cb cb;
	void	   *arg;
};

/* What this node knows of another member beyond the core's view. */
struct member_state
{
	uint64_t	id;
	uint64_t	applied;		/* as it last reported; 0: unknown */
	uint64_t	rebuild_sent_ms;	/* primary: last REBUILD sent */
};

struct sync_node
{
	struct ev_loop *loop;
	const struct pgq_config *cfg;
	char		wal_dir[4096];
	struct wal *wal;
	struct sync_core *core;
	struct sync_peers *peers;
	sync_node_apply_cb apply;
	void	   *apply_arg;
	ev_timer	tick;
	ev_io		wal_io;
	uint64_t	persisted;		/* what the core was last told */
	uint64_t	commit;
	uint64_t	handed;			/* last index handed on (all types) */
	uint64_t	normal_handed;	/* last NORMAL index handed to the applier */
	uint64_t	reported;		/* last index the applier made durable */
	uint64_t	applied;		/* effective: reported, or handed when
								 * only no-ops/configs lie between */
	uint32_t	role;
	uint64_t	term;
	uint64_t	leader;
	uint64_t	term_start;		/* primary: index of this term's no-op */
	/* proposals waiting for commit, in index order */
	struct pending *pending;
	size_t		n_pending;
	/* entries read for the core during one call, freed after the update */
	struct
	{
		struct wal_entry *entries;
		size_t		n;
	}			held[MAX_HELD_READS];
	int			n_held;
	struct sync_entry decoded[SYNC_MAX_BATCH_ENTRIES];
	struct pgq_buf sendbuf;
	int64_t		last_contact_ms[SYNC_MAX_NODES + 1];
	uint64_t	peer_applied[SYNC_MAX_NODES + 1];	/* from its last ack */
	bool		peer_applied_known[SYNC_MAX_NODES + 1];
	uint64_t	contact_ids[SYNC_MAX_NODES + 1];
	uint64_t	notifications_sent;
	uint64_t	heartbeats_sent;
	/* cumulative payload bytes through index i at bytes_at[i % BYTES_RING],
	 * for lag in bytes (sync_node_log_bytes); owned */
	uint64_t   *bytes_at;
	uint64_t	bytes_total;
	uint64_t	first_noted;	/* first index noted since start (0: none) */
	bool		in_update;
	/* compaction */
	uint64_t	retention;		/* log_retention_entries */
	uint64_t	floor;			/* lowest applied index of all members */
	uint64_t	compacted;		/* the core's first index - 1 */
	struct member_state members[SYNC_MAX_NODES];
	/* rebuild */
	char		source[SYNC_EXT_SOURCE_MAX + 1];	/* our server, for copies */
	sync_node_rebuild_cb rebuild_cb;
	void	   *rebuild_arg;
	sync_node_demoted_cb demoted_cb;	/* the primary role was lost */
	void	   *demoted_arg;
	sync_node_read_cb read_cb;	/* answers to sync_node_read_index */
	void	   *read_arg;
	uint64_t	rebuild_warned_ms;
	uint64_t	install_index;	/* nonzero: no core yet; waiting for the
								 * term of this index to install a copy */
	ev_timer	install_timer;
};

static void handle_update(struct sync_node *node, struct sync_update *u);

static noreturn void
node_fatal(const char *what, int err)
{
	pgq_fatal("%s: %s (%s); stopping the node so that nothing unsafe happens",
			  what, wal_strerror(err), wal_errmsg());
	exit(1);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* storage.read for the core: entries stay held until the update is done. */
static int
storage_read(void *ctx, uint64_t index, struct sync_entry *entry)
{
	struct sync_node *node = ctx;
	struct wal_entry *e;
	size_t		n;
	uint64_t	last = wal_last_index(node->wal);

	for (int i = node->n_held - 1; i >= 0; i--)
	{
		struct wal_entry *h = node->held[i].entries;

		if (index >= h[0].index && index < h[0].index + node->held[i].n)
		{
			e = &h[index - h[0].index];
			goto found;
		}
	}
	if (node->n_held == MAX_HELD_READS ||
		wal_read(node->wal, index, index + READ_CHUNK_ENTRIES - 1 < last ?
				 index + READ_CHUNK_ENTRIES - 1 : last,
				 READ_CHUNK_BYTES, &e, &n) != WAL_OK)
		return -1;
	node->held[node->n_held].entries = e;
	node->held[node->n_held].n = n;
	node->n_held++;
found:
	entry->index = e->index;
	entry->term = e->term;
	entry->type = e->type;
	entry->len = e->length;
	entry->payload = e->payload;
	return 0;
}

static void
release_reads(struct sync_node *node)
{
	for (int i = 0; i < node->n_held; i++)
		wal_entries_free(node->held[i].entries, node->held[i].n);
	node->n_held = 0;
}

/*
 * The core's hard state in the log's hard-state file: term and vote in
 * their own fields, the newest membership as members (readable by tools),
 * and the core's membership history, encoded, in the aux bytes:
 *	u32 n_configs, then per config: u64 index, u32 len, len bytes
 *	(sync_config_encode).
 */
static void
hs_save(struct sync_node *node, const struct sync_hard_state *hs)
{
	struct wal_hardstate w = {.term = hs->term, .vote = hs->vote};
	const struct sync_config *cfg = &hs->configs[hs->n_configs - 1].config;
	uint8_t    *p = w.aux;
	int			rc;

	PGQ_ASSERT(hs->n_configs >= 1 && hs->n_configs <= SYNC_MAX_CONFIGS);
	for (uint32_t i = 0; i < cfg->n && i < WAL_MAX_MEMBERS; i++)
	{
		const struct pgq_node_addr *a = pgq_config_node(node->cfg, (uint32_t) cfg->nodes[i].id);

		w.members[i].id = cfg->nodes[i].id;
		w.members[i].voter = cfg->nodes[i].role == SYNC_VOTER;
		if (a != NULL)
		{
			snprintf(w.members[i].peer_addr, WAL_ADDR_MAX, "%.100s:%u", a->peer.host, a->peer.port);
			snprintf(w.members[i].client_addr, WAL_ADDR_MAX, "%.100s:%u", a->client.host, a->client.port);
		}
		w.n_members++;
	}
	pgq_put_u32(p, hs->n_configs);
	p += 4;
	for (uint32_t i = 0; i < hs->n_configs; i++)
	{
		uint32_t	n;

		pgq_put_u64(p, hs->configs[i].index);
		n = sync_config_encode(&hs->configs[i].config, p + 12, SYNC_CONFIG_ENCODED_MAX);
		PGQ_ASSERT(n > 0);
		pgq_put_u32(p + 8, n);
		p += 12 + n;
	}
	w.aux_len = (uint32_t) (p - w.aux);
	PGQ_ASSERT(w.aux_len <= WAL_HS_AUX_MAX);
	rc = wal_hardstate_save(node->wal_dir, &w);
	if (rc != WAL_OK)
		node_fatal("could not save the hard state", rc);
}

/* Returns 0, 1 when none was saved yet, -1 with err filled. */
static int
hs_load(struct sync_node *node, struct sync_hard_state *hs, char *err, size_t errlen)
{
	struct wal_hardstate w;
	struct pgq_reader r;
	int			rc = wal_hardstate_load(node->wal_dir, &w);

	if (rc == WAL_ENOENT)
		return 1;
	if (rc != WAL_OK)
	{
		snprintf(err, errlen, "could not load the hard state in \"%s\": %s", node->wal_dir, wal_errmsg());
		return -1;
	}
	memset(hs, 0, sizeof(*hs));
	hs->term = w.term;
	hs->vote = w.vote;
	pgq_reader_init(&r, w.aux, w.aux_len);
	hs->n_configs = pgq_read_u32(&r);
	if (hs->n_configs < 1 || hs->n_configs > SYNC_MAX_CONFIGS)
		r.error = true;
	for (uint32_t i = 0; !r.error && i < hs->n_configs; i++)
	{
		uint32_t	len;
		const uint8_t *bytes;

		hs->configs[i].index = pgq_read_u64(&r);
		len = pgq_read_u32(&r);
		bytes = pgq_read_bytes(&r, len);
		if (bytes == NULL || !sync_config_decode(bytes, len, &hs->configs[i].config))
			r.error = true;
	}
	if (!pgq_reader_done(&r))
	{
		snprintf(err, errlen, "the hard state in \"%s\" holds a malformed membership", node->wal_dir);
		return -1;
	}
	return 0;
}

/* The membership of a new cluster: every node of [nodes], as voters. */
static void
bootstrap_config(const struct pgq_config *cfg, struct sync_hard_state *hs)
{
	memset(hs, 0, sizeof(*hs));
	hs->n_configs = 1;
	for (int i = 0; i < cfg->n_nodes; i++)
	{
		hs->configs[0].config.nodes[i].id = cfg->nodes[i].id;
		hs->configs[0].config.nodes[i].role = SYNC_VOTER;
	}
	hs->configs[0].config.n = (uint32_t) cfg->n_nodes;
}

/* Tell a new core the term and type of every entry from first on. */
static int
restore_log(struct sync_node *node, uint64_t first, char *err, size_t errlen)
{
	uint64_t	last = wal_last_index(node->wal);

	for (uint64_t i = first; i <= last;)
	{
		struct wal_entry *e;
		size_t		n;
		int			rc = wal_read(node->wal, i, last, 8u << 20, &e, &n);

		if (rc != WAL_OK)
		{
			snprintf(err, errlen, "could not read the log at index %" PRIu64 ": %s", i, wal_errmsg());
			return -1;
		}
		for (size_t k = 0; k < n; k++)
			sync_core_restore_entry(node->core, e[k].index, e[k].term, e[k].type);
		i += n;
		wal_entries_free(e, n);
	}
	return 0;
}

static void
send_one(struct sync_node *node, const struct sync_msg *m, const struct sync_msg_ext *ext)
{
	size_t		size = sync_msg_encoded_size_ext(m, ext);
	uint8_t    *p = pgq_buf_reserve(&node->sendbuf, size);

	if (p == NULL)
	{
		pgq_warn("message to node %" PRIu64 " of %zu bytes is too large; dropped", m->to, size);
		return;
	}
	sync_msg_encode_ext(m, ext, p);
	(void) sync_peers_send(node->peers, (uint32_t) m->to, p, size);
}

/*
 * Replies carry this node's applied index and heartbeats the primary's
 * compaction floor (sync/peer_codec.h extension fields).
 */
static void
send_msgs(struct sync_node *node, const struct sync_update *u)
{
	for (uint32_t i = 0; i < u->n_msgs; i++)
	{
		const struct sync_msg *m = &u->msgs[i];
		struct sync_msg_ext ext = {0};

		if (m->type == SYNC_MSG_APPEND_RESP)
		{
			ext.has_applied = true;
			ext.applied = node->applied;
		}
		if (m->type == SYNC_MSG_APPEND && (m->flags & SYNC_FLAG_HEARTBEAT))
		{
			ext.has_floor = true;
			ext.floor = node->floor;
		}
		if (m->flags & SYNC_FLAG_COMMIT_ONLY)
			node->notifications_sent++;
		if (m->flags & SYNC_FLAG_HEARTBEAT)
			node->heartbeats_sent++;
		send_one(node, m, &ext);
	}
}

/* A node message (never given to the core) to one member. */
static void
send_node_msg(struct sync_node *node, uint64_t to, uint32_t type, uint64_t index,
			  uint64_t log_term, const struct sync_msg_ext *ext)
{
	struct sync_msg m = {.type = type, .from = node->cfg->node_id, .to = to,
	.term = node->term, .index = index, .log_term = log_term};

	send_one(node, &m, ext);
}

/* This node's record of a member (added on first use); NULL if full. */
static struct member_state *
member(struct sync_node *node, uint64_t id)
{
	for (int i = 0; i < SYNC_MAX_NODES; i++)
	{
		if (node->members[i].id == id)
			return &node->members[i];
		if (node->members[i].id == 0)
		{
			node->members[i].id = id;
			return &node->members[i];
		}
	}
	return NULL;
}

/* Finish proposals up to the applied index, or all of them as lost. */
static void
resolve_pending(struct sync_node *node, bool lost)
{
	size_t		done = 0;

	while (done < node->n_pending)
	{
		struct pending *p = &node->pending[done];
		uint64_t	term = 0;
		enum sync_node_result res;

		if (!lost && p->index > node->applied)
			break;
		if (lost)
			res = SYNC_NODE_UNKNOWN;
		else
			res = wal_term(node->wal, p->index, &term) == WAL_OK && term == p->term ?
				SYNC_NODE_COMMITTED : SYNC_NODE_UNKNOWN;
		p->cb(p->arg, res, p->index);
		done++;
	}
	memmove(node->pending, node->pending + done, (node->n_pending - done) * sizeof(*node->pending));
	node->n_pending -= done;
}

/* Hand committed entries that are durable here to the applier, in order. */
static void
apply_committed(struct sync_node *node)
{
	uint64_t	limit = node->commit < node->persisted ? node->commit : node->persisted;
	bool		full = false;

	while (node->handed < limit && !full)
	{
		struct wal_entry *e;
		size_t		n;
		int			rc = wal_read(node->wal, node->handed + 1, limit, 4u << 20, &e, &n);

		if (rc != WAL_OK)
			node_fatal("could not read committed entries to apply", rc);
		for (size_t k = 0; k < n && !full; k++)
		{
			PGQ_ASSERT(e[k].index == node->handed + 1);
			bool		noop = e[k].type == SYNC_ENTRY_NOOP;
			bool		normal = (e[k].type == SYNC_ENTRY_NORMAL || noop) && node->apply != NULL;

			if (normal && !node->apply(node->apply_arg, e[k].index, e[k].term,
									   noop ? NULL : e[k].payload, noop ? 0 : e[k].length))
				full = true;
			else
			{
				node->handed = e[k].index;
				if (normal)
					node->normal_handed = e[k].index;
			}
		}
		wal_entries_free(e, n);
	}
	/* Configs, which the applier never sees, count as applied once every
	 * entry it was handed before them is. */
	if (node->apply == NULL || node->reported >= node->normal_handed)
		node->applied = node->handed;
	else
		node->applied = node->reported;
	resolve_pending(node, false);
}

void
sync_node_applied(struct sync_node *node, uint64_t index)
{
	if (index > node->reported)
		node->reported = index;
	if (!node->in_update && node->core != NULL)
		apply_committed(node);
}

static void
note_role(struct sync_node *node, const struct sync_update *u)
{
	bool		was_primary = node->role == SYNC_PRIMARY;

	if (u->role_changed || u->term != node->term || u->leader_id != node->leader)
		pgq_info("role %s, term %" PRIu64 ", primary %" PRIu64 ", commit %" PRIu64 ", applied %" PRIu64,
				 sync_role_name(u->role), u->term, u->leader_id, node->commit, node->applied);
	if (!was_primary && u->role == SYNC_PRIMARY)
		node->term_start = wal_last_index(node->wal);	/* the no-op */
	node->role = u->role;
	node->term = u->term;
	node->leader = u->leader_id;
	if (was_primary && u->role != SYNC_PRIMARY && node->n_pending > 0)
	{
		pgq_warn("lost the primary role with %zu proposals not yet committed; their outcome is unknown",
				 node->n_pending);
		resolve_pending(node, true);
	}
	if (was_primary && u->role != SYNC_PRIMARY && node->demoted_cb != NULL)
		node->demoted_cb(node->demoted_arg);
}

/* Remember the log's cumulative payload bytes through index. */
static void
note_bytes(struct sync_node *node, uint64_t index, uint32_t len)
{
	if (node->bytes_at == NULL &&
		(node->bytes_at = calloc(BYTES_RING, sizeof(uint64_t))) == NULL)
		return;
	if (index > 1)
		node->bytes_total = node->bytes_at[(index - 1) % BYTES_RING];
	if (node->first_noted == 0 || index < node->first_noted)
		node->first_noted = index;
	node->bytes_total += (uint64_t) len + SYNC_ENTRY_HEADER_SIZE;
	node->bytes_at[index % BYTES_RING] = node->bytes_total;
}

static void
append_entries(struct sync_node *node, const struct sync_update *u)
{
	if (u->truncate_from != 0)
	{
		int			rc = wal_truncate_suffix(node->wal, u->truncate_from);

		if (rc != WAL_OK)
			node_fatal("could not truncate the log", rc);
		if (node->persisted >= u->truncate_from)
			node->persisted = u->truncate_from - 1;
		pgq_info("log truncated from index %" PRIu64 " (a new primary overwrote it)", u->truncate_from);
	}
	for (uint32_t i = 0; i < u->n_entries; i++)
	{
		const struct sync_entry *e = &u->entries[i];
		int			rc = wal_append(node->wal, e->index, e->term, e->type,
									e->payload, e->len, WAL_APPEND_BLOCK);

		if (rc != WAL_OK)
			node_fatal("could not append to the log", rc);
		note_bytes(node, e->index, e->len);
	}
}

static void
arm_tick(struct sync_node *node, uint64_t next_tick_ms)
{
	uint64_t	now = now_ms();
	double		after = next_tick_ms > now ? (double) (next_tick_ms - now) / 1000.0 : 0.0;

	ev_timer_stop(node->loop, &node->tick);
	ev_timer_set(&node->tick, after, 0.);
	ev_timer_start(node->loop, &node->tick);
}

/* Primary: tell a member that it must be rebuilt from our server. */
static void
send_rebuild(struct sync_node *node, uint64_t peer, uint64_t min_index)
{
	struct member_state *ms = member(node, peer);
	struct sync_msg_ext ext = {.source = node->source,
	.source_len = (uint32_t) strlen(node->source)};
	uint64_t	now = now_ms();

	/* said when a member starts waiting; the request goes again every election timeout */
	pgq_log(ms == NULL || ms->rebuild_sent_ms == 0 || now - ms->rebuild_sent_ms >= 60000 ?
			PGQ_LOG_INFO : PGQ_LOG_DEBUG,
			"node %" PRIu64 " needs entries this log no longer holds (compacted through %" PRIu64
			"): asking it to rebuild its server from this node's (pg_basebackup)",
			peer, min_index);
	if (ms != NULL)
		ms->rebuild_sent_ms = now;
	send_node_msg(node, peer, SYNC_NODE_MSG_REBUILD, min_index, 0, &ext);
}

/*
 * Answers to reads asked here, after the update is done: copied first, as
 * the core's array lasts only until the next call into it, and a callback
 * may ask again.
 */
static void
answer_reads(struct sync_node *node, const struct sync_update *u)
{
	struct sync_read reads[SYNC_MAX_READS + 1];
	uint32_t	n = u->n_reads;

	PGQ_ASSERT(n <= PGQ_LENGTHOF(reads));
	PGQ_ASSERT(n == 0 || node->read_cb != NULL);
	memcpy(reads, u->reads, n * sizeof(reads[0]));
	for (uint32_t i = 0; i < n; i++)
		node->read_cb(node->read_arg, reads[i].ctx, reads[i].ok, reads[i].index);
}

static void
handle_update(struct sync_node *node, struct sync_update *u)
{
	PGQ_ASSERT(!node->in_update);
	node->in_update = true;
	if (u->hard_state_changed)
		hs_save(node, &u->hard_state);
	append_entries(node, u);
	send_msgs(node, u);
	note_role(node, u);
	if (u->commit_changed)
		node->commit = u->commit_index;
	apply_committed(node);
	for (uint32_t i = 0; i < u->n_copies; i++)
		send_rebuild(node, u->copies[i].peer, u->copies[i].min_index);
	arm_tick(node, u->next_tick_ms);
	release_reads(node);
	node->in_update = false;
	answer_reads(node, u);
}

/*
 * The core's clock moves only with ticks: bring it to now before a call
 * whose decision depends on the time (the leader lease on a pre-vote, a
 * read's deadline), not on the time of the last timer.
 */
static void
tick_now(struct sync_node *node)
{
	struct sync_update u;

	sync_core_tick(node->core, now_ms(), &u);
	handle_update(node, &u);
}

/* Primary: the lowest applied index of all members (0 for one not heard). */
static uint64_t
primary_floor(struct sync_node *node, const struct sync_status *st)
{
	uint64_t	floor = node->applied;

	for (uint32_t i = 0; i < st->config.n; i++)
	{
		struct member_state *ms;

		if (st->config.nodes[i].id == st->id)
			continue;
		ms = member(node, st->config.nodes[i].id);
		if (ms == NULL || ms->applied < floor)
			floor = ms ? ms->applied : 0;
	}
	return floor;
}

/*
 * Drop the log through min(applied, max(floor, last - retention)); the
 * core forgets those entries first, the wal deletes whole segments later
 * and keeps the entry at the boundary (its term restarts the core).
 */
static void
maybe_compact(struct sync_node *node)
{
	struct sync_status st;
	struct sync_update u;
	uint64_t	last = wal_last_index(node->wal);
	uint64_t	keep = last > node->retention ? last - node->retention : 0;
	uint64_t	target;
	int			rc;

	sync_core_status(node->core, &st);
	if (st.role == SYNC_PRIMARY)
		node->floor = primary_floor(node, &st);
	target = node->floor > keep ? node->floor : keep;
	target = target < node->applied ? target : node->applied;
	target = target < st.commit_index ? target : st.commit_index;
	target = target < st.persisted_index ? target : st.persisted_index;
	if (target <= node->compacted || target + 1 <= st.first_index)
		return;
	sync_core_compacted(node->core, target + 1, &u);
	node->compacted = target;
	handle_update(node, &u);
	if ((rc = wal_compact(node->wal, target)) != WAL_OK)
		pgq_warn("could not compact the log below index %" PRIu64 ": %s", target, wal_strerror(rc));
	pgq_debug("log compacted through index %" PRIu64 " (floor %" PRIu64 ", applied %" PRIu64 ")",
			  target, node->floor, node->applied);
}

/* Primary: ask again, every election timeout, members still waiting. */
static void
resend_rebuilds(struct sync_node *node)
{
	struct sync_status st;
	uint64_t	now = now_ms();

	sync_core_status(node->core, &st);
	if (st.role != SYNC_PRIMARY)
		return;
	for (uint32_t i = 0; i < st.config.n; i++)
	{
		struct sync_peer_status ps;
		struct member_state *ms = member(node, st.config.nodes[i].id);

		if (st.config.nodes[i].id != st.id && ms != NULL &&
			sync_core_peer(node->core, ms->id, &ps) && ps.state == SYNC_PEER_COPY &&
			now - ms->rebuild_sent_ms >= (uint64_t) node->cfg->election_timeout_ms)
			send_rebuild(node, ms->id, st.first_index - 1);
	}
}

static void
on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sync_node *node = w->data;
	struct sync_update u;

	sync_core_tick(node->core, now_ms(), &u);
	handle_update(node, &u);
	maybe_compact(node);
	resend_rebuilds(node);
}

static void
on_wal_persisted(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sync_node *node = w->data;
	uint64_t	count;
	uint64_t	persisted;
	uint64_t	term;
	struct sync_update u;

	if (read(w->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		pgq_warn("reading the log's eventfd: %s", strerror(errno));
	persisted = wal_persisted_index(node->wal);
	if (node->core == NULL)
		return;					/* installing a copy: read at boot */
	if (persisted == node->persisted)
	{
		struct wal_stats st;

		wal_stats(node->wal, &st);
		if (st.failed)
			node_fatal("the log failed", WAL_EFAILED);
		return;
	}
	if (wal_term(node->wal, persisted, &term) != WAL_OK)
		return;					/* truncated meanwhile: a later event follows */
	node->persisted = persisted;
	sync_core_persisted(node->core, persisted, term, &u);
	handle_update(node, &u);
}

static int	start_core(struct sync_node *node, uint64_t min_first, char *err, size_t errlen);
static void boot_update(struct sync_node *node);

/*
 * REBUILD from the primary: answer REBUILT if this server already holds
 * what the primary can continue from, else ask the owner for a rebuild.
 */
static void
on_rebuild_request(struct sync_node *node, const struct sync_msg *m,
				   const struct sync_msg_ext *ext)
{
	char		source[SYNC_EXT_SOURCE_MAX + 1];
	uint64_t	now = now_ms();

	if (ext->source == NULL)
	{
		pgq_warn("dropped a rebuild request from node %" PRIu64 ": it names no source", m->from);
		return;
	}
	if (node->core != NULL && m->term < node->term)
		return;					/* from a former primary */
	if (node->core != NULL && node->applied >= m->index)
	{
		send_node_msg(node, m->from, SYNC_NODE_MSG_REBUILT, node->applied, 0, NULL);
		return;
	}
	if (node->core == NULL && node->install_index >= m->index)
		return;					/* the copy here will do: being installed */
	memcpy(source, ext->source, ext->source_len);
	source[ext->source_len] = '\0';
	if (node->rebuild_cb != NULL)
	{
		node->rebuild_cb(node->rebuild_arg, m->from, m->index, source);
		return;
	}
	if (now - node->rebuild_warned_ms >= 60000 || node->rebuild_warned_ms == 0)
	{
		node->rebuild_warned_ms = now;
		pgq_warn("the primary (node %" PRIu64 ") compacted the log entries this node needs "
				 "(applied %" PRIu64 ", needs a copy through %" PRIu64 "): this node cannot "
				 "catch up; rebuild its server with pg_basebackup from a healthy node "
				 "(set postgres_data_dir for an automatic rebuild)",
				 m->from, node->applied, m->index);
	}
}

/*
 * REBUILT from a member whose server now holds a copy through index: the
 * primary resumes replication after it, and any node that holds that
 * committed entry tells the member its term.
 */
static void
on_rebuilt(struct sync_node *node, const struct sync_msg *m)
{
	struct sync_update u;
	uint64_t	term = 0;

	if (node->core == NULL)
		return;
	if (node->role == SYNC_PRIMARY)
	{
		sync_core_copy_done(node->core, m->from, true, m->index, &u);
		handle_update(node, &u);
	}
	if (m->index >= 1 && m->index <= node->commit &&
		wal_term(node->wal, m->index, &term) == WAL_OK)
		send_node_msg(node, m->from, SYNC_NODE_MSG_TERM, m->index, term, NULL);
}

/* Drop the whole log but hard state; the copy's index alone starts it. */
static void
reset_log(struct sync_node *node, uint64_t index, uint64_t term)
{
	int			rc = WAL_OK;

	if (wal_last_index(node->wal) != 0)
		rc = wal_truncate_suffix(node->wal, wal_first_index(node->wal));
	if (rc == WAL_OK)
		rc = wal_append(node->wal, index, term, SYNC_ENTRY_NOOP, COPY_MARKER,
						(uint32_t) strlen(COPY_MARKER), WAL_APPEND_BLOCK);
	if (rc == WAL_OK)
		rc = wal_flush(node->wal);
	if (rc != WAL_OK)
		node_fatal("could not reset the log to start after the copy", rc);
}

/*
 * TERM: the term of the copy's index is known, so the log can start after
 * it.  Entries after it are kept if the log holds that very entry (they
 * may have been acknowledged), as the core's InstallSnapshot rule says.
 */
static void
on_term(struct sync_node *node, const struct sync_msg *m)
{
	uint64_t	index = node->install_index;
	uint64_t	have = 0;
	char		err[512];

	if (node->core != NULL || m->index != index || m->log_term == 0)
		return;
	if (wal_term(node->wal, index, &have) != WAL_OK || have != m->log_term)
		reset_log(node, index, m->log_term);
	node->install_index = 0;
	ev_timer_stop(node->loop, &node->install_timer);
	if (start_core(node, index + 1, err, sizeof(err)) < 0)
	{
		pgq_fatal("could not start replication after installing the copy: %s", err);
		exit(1);
	}
	pgq_info("installed the server's copy: the log now starts after index %" PRIu64
			 " (term %" PRIu64 ", told by node %" PRIu64 "); catching up from the primary",
			 index, m->log_term, m->from);
	boot_update(node);
}

static void
handle_node_msg(struct sync_node *node, const struct sync_msg *m,
				const struct sync_msg_ext *ext)
{
	switch (m->type)
	{
		case SYNC_NODE_MSG_REBUILD:
			on_rebuild_request(node, m, ext);
			break;
		case SYNC_NODE_MSG_REBUILT:
			on_rebuilt(node, m);
			break;
		case SYNC_NODE_MSG_TERM:
			on_term(node, m);
			break;
	}
}

/* While installing: tell every member what this server holds. */
static void
on_install_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sync_node *node = w->data;

	for (int i = 0; i < node->cfg->n_nodes; i++)
		if (node->cfg->nodes[i].id != node->cfg->node_id)
			send_node_msg(node, node->cfg->nodes[i].id, SYNC_NODE_MSG_REBUILT,
						  node->install_index, 0, NULL);
}

static void
on_peer_message(void *arg, uint32_t from, const uint8_t *payload, size_t len)
{
	struct sync_node *node = arg;
	struct sync_msg msg;
	struct sync_msg_ext ext;
	struct sync_update u;
	const char *bad = sync_msg_decode_ext(payload, len, &msg, &ext, node->decoded,
										  SYNC_MAX_BATCH_ENTRIES);

	if (bad == NULL && (msg.from != from || msg.to != node->cfg->node_id))
		bad = "message names another sender or receiver than its connection";
	if (bad != NULL)
	{
		pgq_warn("dropped a message from node %u: %s", from, bad);
		return;
	}
	for (int i = 0; i <= SYNC_MAX_NODES; i++)
	{
		if (node->contact_ids[i] == from || node->contact_ids[i] == 0)
		{
			node->contact_ids[i] = from;
			node->last_contact_ms[i] = (int64_t) now_ms();
			if (msg.type == SYNC_MSG_APPEND_RESP && ext.has_applied)
			{
				node->peer_applied[i] = ext.applied;
				node->peer_applied_known[i] = true;
			}
			break;
		}
	}
	if (msg.type >= SYNC_NODE_MSG_REBUILD)
	{
		handle_node_msg(node, &msg, &ext);
		return;
	}
	if (node->core == NULL)
		return;					/* installing a copy */
	if (msg.type == SYNC_MSG_APPEND_RESP && ext.has_applied && member(node, from) != NULL)
		member(node, from)->applied = ext.applied;
	tick_now(node);
	sync_core_step(node->core, &msg, &u);
	handle_update(node, &u);
	if (msg.type == SYNC_MSG_APPEND && ext.has_floor && node->leader == from &&
		node->role == SYNC_SECONDARY)
		node->floor = ext.floor;
}

static int
start_peers(struct sync_node *node, char *err, size_t errlen)
{
	const struct pgq_config *cfg = node->cfg;
	struct sync_peers_config pc = {
		.node_id = cfg->node_id,
		.cluster_name = cfg->cluster_name,
		.secret = cfg->cluster_secret,
		.listen_host = cfg->peer_listen_addr,
		.listen_port = (uint16_t) cfg->peer_listen_port,
		.n_peers = cfg->n_nodes,
		.max_frame = MAX_FRAME_BYTES,
		.max_queue_bytes = PEER_QUEUE_BYTES,
		.reconnect_min_ms = 20,
		.reconnect_max_ms = cfg->election_timeout_ms / 2,
		.handshake_timeout_ms = cfg->election_timeout_ms,
	};
	struct sync_peers_callbacks cb = {.on_message = on_peer_message, .arg = node};

	for (int i = 0; i < cfg->n_nodes; i++)
	{
		pc.peers[i].id = cfg->nodes[i].id;
		snprintf(pc.peers[i].host, sizeof(pc.peers[i].host), "%s", cfg->nodes[i].peer.host);
		pc.peers[i].port = cfg->nodes[i].peer.port;
	}
	node->peers = sync_peers_start(node->loop, &pc, &cb, err, errlen);
	return node->peers ? 0 : -1;
}

/*
 * Where the core's log starts: one entry after the wal's first (unless the
 * wal starts at 1), whose term is then the core's prev_term; later if the
 * wal holds more than the retention and that much is applied; at least
 * min_first.
 */
static uint64_t
boot_first(struct sync_node *node, uint64_t min_first, uint64_t *prev_term)
{
	uint64_t	wal_first = wal_first_index(node->wal);
	uint64_t	last = wal_last_index(node->wal);
	uint64_t	first = wal_first <= 1 ? 1 : wal_first + 1;

	if (last > node->retention)
	{
		uint64_t	through = last - node->retention;

		through = through < node->applied ? through : node->applied;
		if (through + 1 > first)
			first = through + 1;
	}
	if (min_first > first)
		first = min_first;
	*prev_term = 0;
	if (first > 1)
	{
		int			rc = wal_term(node->wal, first - 1, prev_term);

		PGQ_ASSERT(rc == WAL_OK);	/* first - 1 >= the wal's first index */
	}
	return first;
}

static int
start_core(struct sync_node *node, uint64_t min_first, char *err, size_t errlen)
{
	struct sync_options opts;
	struct sync_boot boot = {0};
	uint64_t	ring = node->retention + RING_HEADROOM;
	int			rc;

	rc = hs_load(node, &boot.hard_state, err, errlen);
	if (rc < 0)
		return -1;
	if (rc == 1)
		bootstrap_config(node->cfg, &boot.hard_state);
	sync_options_init(&opts);
	opts.id = node->cfg->node_id;
	PGQ_ASSERT(RAND_bytes((unsigned char *) &opts.seed, sizeof(opts.seed)) == 1);
	opts.heartbeat_ms = (uint32_t) node->cfg->heartbeat_interval_ms;
	opts.election_timeout_ms = (uint32_t) node->cfg->election_timeout_ms;
	opts.idle_commit_notify = node->cfg->idle_commit_notify;
	opts.storage.ctx = node;
	opts.storage.read = storage_read;
	opts.max_log_entries = (uint32_t) (ring < (1u << 28) ? ring : (1u << 28));
	boot.first_index = boot_first(node, min_first, &boot.prev_term);
	boot.applied = node->applied;
	if (wal_last_index(node->wal) + 1 - boot.first_index > opts.max_log_entries)
	{
		snprintf(err, errlen, "the log holds %" PRIu64 " entries not yet applied, more than "
				 "log_retention_entries + %d allows", wal_last_index(node->wal) - node->applied,
				 RING_HEADROOM);
		return -1;
	}
	boot.now_ms = now_ms();
	rc = sync_core_create(&node->core, &opts, &boot);
	if (rc != SYNC_OK)
	{
		snprintf(err, errlen, "could not start the replication core: %s", sync_err_name(rc));
		return -1;
	}
	node->compacted = boot.first_index - 1;
	return restore_log(node, boot.first_index, err, errlen);
}

/* The first update of a new core: what the log has persisted, or a tick. */
static void
boot_update(struct sync_node *node)
{
	struct sync_update u;

	ev_timer_init(&node->tick, on_tick, 0., 0.);
	node->tick.data = node;
	node->persisted = wal_persisted_index(node->wal);
	pgq_info("log holds entries %" PRIu64 "..%" PRIu64 ", persisted through %" PRIu64
			 "; replication starts after %" PRIu64,
			 wal_first_index(node->wal), wal_last_index(node->wal), node->persisted,
			 node->compacted);
	if (node->persisted > 0)
	{
		uint64_t	term = 0;

		wal_term(node->wal, node->persisted, &term);
		sync_core_persisted(node->core, node->persisted, term, &u);
	}
	else
		sync_core_tick(node->core, now_ms(), &u);
	handle_update(node, &u);
}

/*
 * No core until a peer tells the term of the copy's index (on_term); tell
 * every member what this server holds, now and every heartbeat.
 */
static void
begin_install(struct sync_node *node, uint64_t index)
{
	double		every = node->cfg->heartbeat_interval_ms / 1000.0;

	node->install_index = index;
	pgq_info("the local server holds a copy of the data through index %" PRIu64
			 " (the log ends at %" PRIu64 "): waiting for a peer to confirm that entry's term "
			 "before the log restarts after it", index, wal_last_index(node->wal));
	ev_timer_init(&node->install_timer, on_install_timer, 0., every);
	node->install_timer.data = node;
	ev_timer_start(node->loop, &node->install_timer);
}

void
sync_node_set_rebuild(struct sync_node *node, sync_node_rebuild_cb cb, void *arg)
{
	node->rebuild_cb = cb;
	node->rebuild_arg = arg;
}

void
sync_node_set_demoted(struct sync_node *node, sync_node_demoted_cb cb, void *arg)
{
	node->demoted_cb = cb;
	node->demoted_arg = arg;
}

void
sync_node_set_read_cb(struct sync_node *node, sync_node_read_cb cb, void *arg)
{
	node->read_cb = cb;
	node->read_arg = arg;
}

/* Our own server, as others reach it for a copy. */
static int
set_source(struct sync_node *node, char *err, size_t errlen)
{
	const struct pgq_config *cfg = node->cfg;
	const char *src = cfg->basebackup_conninfo[0] ? cfg->basebackup_conninfo : cfg->postgres_conninfo;

	if (strlen(src) > SYNC_EXT_SOURCE_MAX)
	{
		snprintf(err, errlen, "basebackup_conninfo (or postgres_conninfo) is longer than %d bytes",
				 SYNC_EXT_SOURCE_MAX);
		return -1;
	}
	snprintf(node->source, sizeof(node->source), "%s", src);
	return 0;
}

struct sync_node *
sync_node_start(struct ev_loop *loop, const struct pgq_config *cfg,
				sync_node_apply_cb apply, void *apply_arg, uint64_t applied,
				unsigned flags, char *err, size_t errlen)
{
	struct sync_node *node = calloc(1, sizeof(*node));
	struct wal_options wo;
	bool		install;
	int			rc;

	PGQ_ASSERT(node != NULL);
	node->loop = loop;
	node->cfg = cfg;
	node->apply = apply;
	node->apply_arg = apply_arg;
	node->retention = (uint64_t) cfg->log_retention_entries;
	node->handed = node->normal_handed = node->reported = node->applied = applied;
	node->pending = calloc(MAX_PENDING, sizeof(*node->pending));
	PGQ_ASSERT(node->pending != NULL);
	pgq_buf_init(&node->sendbuf, MAX_FRAME_BYTES);
	snprintf(node->wal_dir, sizeof(node->wal_dir), "%s/log", cfg->data_dir);
	wal_options_init(&wo);
	wo.segment_size = (uint64_t) cfg->wal_segment_size;
	rc = wal_open(node->wal_dir, &wo, &node->wal);
	if (rc != WAL_OK)
	{
		snprintf(err, errlen, "could not open the log in \"%s\": %s", node->wal_dir, wal_errmsg());
		free(node->pending);
		free(node);
		return NULL;
	}
	install = (flags & SYNC_NODE_INSTALL) || applied > wal_last_index(node->wal);
	if (install && applied == 0)
	{
		snprintf(err, errlen, "the local server's copy holds no applied index to start the log from");
		sync_node_stop(node);
		return NULL;
	}
	if (set_source(node, err, errlen) < 0 ||
		(!install && start_core(node, 0, err, errlen) < 0) ||
		start_peers(node, err, errlen) < 0)
	{
		sync_node_stop(node);
		return NULL;
	}
	ev_io_init(&node->wal_io, on_wal_persisted, wal_eventfd(node->wal), EV_READ);
	node->wal_io.data = node;
	ev_io_start(loop, &node->wal_io);
	if (install)
		begin_install(node, applied);
	else
		boot_update(node);
	return node;
}

void
sync_node_stop(struct sync_node *node)
{
	if (node->n_pending > 0)
		resolve_pending(node, true);
	if (node->peers != NULL)
		sync_peers_stop(node->peers);
	ev_timer_stop(node->loop, &node->tick);
	ev_timer_stop(node->loop, &node->install_timer);
	ev_io_stop(node->loop, &node->wal_io);
	if (node->core != NULL)
		sync_core_destroy(node->core);
	release_reads(node);
	wal_close(node->wal);
	pgq_buf_free(&node->sendbuf);
	free(node->pending);
	free(node->bytes_at);
	free(node);
}

int
sync_node_propose(struct sync_node *node, const void *payload, uint32_t len,
				  sync_node_done_cb cb, void *arg)
{
	struct sync_payload p = {.data = payload, .len = len};
	struct sync_update u;
	uint64_t	index;
	int			rc;

	if (node->core == NULL)
		return SYNC_NODE_NOT_PRIMARY;
	if (node->n_pending == MAX_PENDING)
		return SYNC_NODE_REFUSED;
	rc = sync_core_propose(node->core, &p, 1, &index, &u);
	if (rc == SYNC_ERR_NOT_PRIMARY)
		return SYNC_NODE_NOT_PRIMARY;
	if (rc != SYNC_OK)
		return SYNC_NODE_REFUSED;
	node->pending[node->n_pending++] = (struct pending) {
		.index = index, .term = u.term, .cb = cb, .arg = arg,
	};
	handle_update(node, &u);
	return 0;
}

int
sync_node_transfer(struct sync_node *node, uint64_t to, char *err, size_t errlen)
{
	struct sync_update u;
	int			rc;

	if (node->core == NULL)
	{
		snprintf(err, errlen, "this node is installing a copy of the data");
		return -1;
	}
	rc = sync_core_transfer_leadership(node->core, to, &u);
	if (rc != SYNC_OK)
	{
		snprintf(err, errlen, "%s", sync_err_name(rc));
		return -1;
	}
	handle_update(node, &u);
	return 0;
}

int
sync_node_read_index(struct sync_node *node, uint64_t ctx, char *err, size_t errlen)
{
	struct sync_update u;
	int			rc;

	PGQ_ASSERT(node->read_cb != NULL);
	if (node->core == NULL)
	{
		snprintf(err, errlen, "this node is installing a copy of the data");
		return -1;
	}
	tick_now(node);				/* the read's deadline runs from now */
	rc = sync_core_read_index(node->core, ctx, &u);
	if (rc == SYNC_ERR_NOT_PRIMARY)
	{
		snprintf(err, errlen, "no primary is known now (an election may be under way)");
		return -1;
	}
	if (rc != SYNC_OK)
	{
		snprintf(err, errlen, "%s", sync_err_name(rc));
		return -1;
	}
	handle_update(node, &u);
	return 0;
}

/* Membership change through the core; the entry's index in *index. */
static int
change_member(struct sync_node *node, uint64_t id, int which, uint64_t *index,
			  char *err, size_t errlen)
{
	struct sync_update u;
	struct sync_status st;
	int			rc;

	sync_core_status(node->core, &st);
	if (which > 0)
	{
		bool		learner = false;

		for (uint32_t i = 0; i < st.config.n; i++)
			learner |= st.config.nodes[i].id == id &&
				st.config.nodes[i].role == SYNC_LEARNER;
		rc = learner ? sync_core_promote(node->core, id, index, &u) :
			sync_core_add_learner(node->core, id, index, &u);
	}
	else
		rc = sync_core_remove_node(node->core, id, index, &u);
	if (rc != SYNC_OK)
	{
		snprintf(err, errlen, "%s", sync_err_name(rc));
		return -1;
	}
	handle_update(node, &u);
	return 0;
}

int
sync_node_add(struct sync_node *node, uint64_t id, uint64_t *index,
			  char *err, size_t errlen)
{
	if (pgq_config_node(node->cfg, (uint32_t) id) == NULL || id > UINT32_MAX)
	{
		snprintf(err, errlen, "node %" PRIu64 " is not in the [nodes] section of "
				 "the configuration, so no node knows its address", id);
		return -1;
	}
	return change_member(node, id, 1, index, err, errlen);
}

int
sync_node_remove(struct sync_node *node, uint64_t id, uint64_t *index,
				 char *err, size_t errlen)
{
	return change_member(node, id, -1, index, err, errlen);
}

bool
sync_node_log_bytes(struct sync_node *node, uint64_t from, uint64_t to, uint64_t *bytes)
{
	struct sync_status st;

	*bytes = 0;
	if (from >= to)
		return true;
	sync_core_status(node->core, &st);
	/* known only for indexes appended since start, still in the ring */
	if (node->bytes_at == NULL || to > st.last_index ||
		st.last_index - from >= BYTES_RING || node->first_noted == 0 ||
		from + 1 < node->first_noted)
		return false;
	*bytes = node->bytes_at[to % BYTES_RING] - node->bytes_at[from % BYTES_RING];
	return true;
}

void
sync_node_wal_stats(struct sync_node *node, struct wal_stats *st)
{
	wal_stats(node->wal, st);
}

long
sync_node_read(struct sync_node *node, uint64_t index, uint64_t *term,
			   uint32_t *type, void *buf, size_t cap)
{
	struct wal_entry *e;
	size_t		n;
	long		len;

	if (wal_read(node->wal, index, index, 0, &e, &n) != WAL_OK || n != 1)
		return -1;
	*term = e->term;
	*type = e->type;
	len = (long) e->length;
	memcpy(buf, e->payload, e->length < cap ? e->length : cap);
	wal_entries_free(e, n);
	return len;
}

uint64_t
sync_node_primary_term(struct sync_node *node)
{
	return node->role == SYNC_PRIMARY ? node->term : 0;
}

void
sync_node_status(struct sync_node *node, struct sync_node_info *info)
{
	struct sync_status st;
	uint64_t	now = now_ms();

	memset(info, 0, sizeof(*info));
	if (node->core == NULL)
	{
		info->id = node->cfg->node_id;
		info->role = "installing";
		info->first_index = wal_first_index(node->wal);
		info->last_index = wal_last_index(node->wal);
		info->applied_index = node->applied;
		info->installing = node->install_index;
		return;
	}
	sync_core_status(node->core, &st);
	info->id = st.id;
	info->role = st.role == SYNC_PRIMARY ? "primary" :
		st.role == SYNC_SECONDARY ? (st.is_voter ? "secondary" : "learner") : "candidate";
	info->term = st.term;
	info->leader_id = st.leader_id;
	info->first_index = st.first_index;
	info->last_index = st.last_index;
	info->persisted_index = node->persisted;
	info->commit_index = st.commit_index;
	info->applied_index = node->applied;
	/*
	 * A new primary takes writes only once it has applied what earlier
	 * primaries committed: a client's prepared transaction could otherwise
	 * hold locks that an older entry's apply waits for, while its own
	 * commit waits for that apply.
	 */
	info->writable = st.role == SYNC_PRIMARY && node->term_start > 0 &&
		node->applied >= node->term_start;
	info->compact_floor = node->floor;
	info->commit_notifications_sent = node->notifications_sent;
	info->heartbeats_sent = node->heartbeats_sent;
	for (uint32_t i = 0; i < st.config.n && i < 9; i++)
	{
		struct sync_node_peer_info *p = &info->peers[info->n_peers++];
		struct sync_peer_status ps;

		p->id = st.config.nodes[i].id;
		p->voter = st.config.nodes[i].role == SYNC_VOTER;
		p->connected = p->id == st.id || sync_peers_connected(node->peers, (uint32_t) p->id);
		p->last_contact_ms = p->id == st.id ? 0 : -1;
		for (int k = 0; k <= SYNC_MAX_NODES; k++)
			if (node->contact_ids[k] == p->id && p->id != st.id)
			{
				p->last_contact_ms = (int64_t) now - node->last_contact_ms[k];
				p->applied_known = node->peer_applied_known[k];
				p->applied_index = node->peer_applied[k];
			}
		if (p->id == st.id)
		{
			p->applied_known = true;
			p->applied_index = node->applied;
		}
		if (sync_core_peer(node->core, p->id, &ps))
		{
			p->match_index = ps.match;
			p->commit_sent = ps.commit_sent;
		}
	}
}
