/*
 * sync_node.c
 *	  The node's replication loop.  See sync_node.h.
 *
 * Data flow: peer frame -> sync_msg_decode -> sync_core_step -> update;
 * timer -> sync_core_tick -> update; wal eventfd -> sync_core_persisted ->
 * update.  handle_update() carries out an update in the core's order:
 * hard state, truncation, appends, messages, apply, copies, next tick.
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
#define BYTES_RING 65536		/* indexes whose cumulative log bytes are kept */

struct pending
{
	uint64_t	index;
	uint64_t	term;
	sync_node_done_cb cb;
	void	   *arg;
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

/* Tell a new core the term and type of every entry in the log. */
static int
restore_log(struct sync_node *node, char *err, size_t errlen)
{
	uint64_t	first = wal_first_index(node->wal);
	uint64_t	last = wal_last_index(node->wal);

	for (uint64_t i = first; first > 0 && i <= last;)
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
send_msgs(struct sync_node *node, const struct sync_update *u)
{
	for (uint32_t i = 0; i < u->n_msgs; i++)
	{
		struct sync_msg ack;
		const struct sync_msg *m = &u->msgs[i];
		size_t		size;

		if (m->type == SYNC_MSG_APPEND_RESP)
		{
			/* tell the primary how far this node has applied */
			ack = *m;
			ack.flags |= SYNC_FLAG_APPLIED;
			ack.applied = node->applied;
			m = &ack;
		}
		size = sync_msg_encoded_size(m);
		uint8_t    *p = pgq_buf_reserve(&node->sendbuf, size);

		if (p == NULL)
		{
			pgq_warn("message to node %" PRIu64 " of %zu bytes is too large; dropped", m->to, size);
			continue;
		}
		sync_msg_encode(m, p);
		if (m->flags & SYNC_FLAG_COMMIT_ONLY)
			node->notifications_sent++;
		if (m->flags & SYNC_FLAG_HEARTBEAT)
			node->heartbeats_sent++;
		(void) sync_peers_send(node->peers, (uint32_t) m->to, p, size);
	}
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
			bool		normal = e[k].type == SYNC_ENTRY_NORMAL && node->apply != NULL;

			if (normal && !node->apply(node->apply_arg, e[k].index, e[k].term,
									   e[k].payload, e[k].length))
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
	/* No-ops and configs, which the applier never sees, count as applied
	 * once every entry it was handed before them is. */
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
	if (!node->in_update)
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
		pgq_warn("node %" PRIu64 " needs a copy of the data from index %" PRIu64
				 "; making that copy (pg_basebackup) is the write path's next step, docs/design.md",
				 u->copies[i].peer, u->copies[i].min_index);
	arm_tick(node, u->next_tick_ms);
	release_reads(node);
	node->in_update = false;
}

static void
on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sync_node *node = w->data;
	struct sync_update u;

	sync_core_tick(node->core, now_ms(), &u);
	handle_update(node, &u);
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

static void
on_peer_message(void *arg, uint32_t from, const uint8_t *payload, size_t len)
{
	struct sync_node *node = arg;
	struct sync_msg msg;
	struct sync_update u;
	const char *bad = sync_msg_decode(payload, len, &msg, node->decoded, SYNC_MAX_BATCH_ENTRIES);

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
			if (msg.flags & SYNC_FLAG_APPLIED)
			{
				node->peer_applied[i] = msg.applied;
				node->peer_applied_known[i] = true;
			}
			break;
		}
	}
	/*
	 * The core's clock moves only with ticks: bring it to now first, so
	 * that a decision such as the leader lease on a pre-vote is taken on
	 * the current time, not on the time of the last timer.
	 */
	sync_core_tick(node->core, now_ms(), &u);
	handle_update(node, &u);
	sync_core_step(node->core, &msg, &u);
	handle_update(node, &u);
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

static int
start_core(struct sync_node *node, char *err, size_t errlen)
{
	struct sync_options opts;
	struct sync_boot boot = {0};
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
	boot.first_index = wal_first_index(node->wal) ? wal_first_index(node->wal) : 1;
	boot.applied = node->applied;
	boot.now_ms = now_ms();
	rc = sync_core_create(&node->core, &opts, &boot);
	if (rc != SYNC_OK)
	{
		snprintf(err, errlen, "could not start the replication core: %s", sync_err_name(rc));
		return -1;
	}
	return restore_log(node, err, errlen);
}

struct sync_node *
sync_node_start(struct ev_loop *loop, const struct pgq_config *cfg,
				sync_node_apply_cb apply, void *apply_arg, uint64_t applied,
				char *err, size_t errlen)
{
	struct sync_node *node = calloc(1, sizeof(*node));
	struct wal_options wo;
	struct sync_update u;
	int			rc;

	PGQ_ASSERT(node != NULL);
	node->loop = loop;
	node->cfg = cfg;
	node->apply = apply;
	node->apply_arg = apply_arg;
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
	if (applied > wal_last_index(node->wal))
	{
		pgq_warn("the local server has applied through index %" PRIu64 " but the log ends at %" PRIu64
				 "; starting from the log's end", applied, wal_last_index(node->wal));
		node->handed = node->normal_handed = node->reported = node->applied = wal_last_index(node->wal);
	}
	if (start_core(node, err, errlen) < 0 || start_peers(node, err, errlen) < 0)
	{
		sync_node_stop(node);
		return NULL;
	}
	ev_io_init(&node->wal_io, on_wal_persisted, wal_eventfd(node->wal), EV_READ);
	node->wal_io.data = node;
	ev_io_start(loop, &node->wal_io);
	ev_timer_init(&node->tick, on_tick, 0., 0.);
	node->tick.data = node;
	node->persisted = wal_persisted_index(node->wal);
	pgq_info("log holds entries %" PRIu64 "..%" PRIu64 ", persisted through %" PRIu64,
			 wal_first_index(node->wal), wal_last_index(node->wal), node->persisted);
	if (node->persisted > 0)
	{
		uint64_t	term = 0;

		wal_term(node->wal, node->persisted, &term);
		sync_core_persisted(node->core, node->persisted, term, &u);
	}
	else
		sync_core_tick(node->core, now_ms(), &u);
	handle_update(node, &u);
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
	int			rc = sync_core_transfer_leadership(node->core, to, &u);

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

void
sync_node_status(struct sync_node *node, struct sync_node_info *info)
{
	struct sync_status st;
	uint64_t	now = now_ms();

	sync_core_status(node->core, &st);
	memset(info, 0, sizeof(*info));
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
