/*
 * sync_node.h
 *	  The node's replication loop: drives the pure core (sync/core/) with
 *	  peer messages (sync/peer.h), ticks from the loop's monotonic clock and
 *	  "persisted up to N" from the log (wal/), and carries out each update
 *	  in the core's ordering rules.
 *
 * INTERFACE ROUTINES
 *	sync_node_start		- open the log, boot the core, connect to peers
 *	sync_node_applied	- the applier reports its durable progress
 *	sync_node_propose	- append one entry on the primary; a callback
 *						  reports when it is committed and applied, or lost
 *	sync_node_status	- role, term, indexes, per-peer contact, for views
 *	sync_node_primary_term - the current term while primary, else 0
 *	sync_node_read		- copy one entry of the log (for checks and tools)
 *	sync_node_transfer	- ask the primary to hand leadership to a node
 *	sync_node_read_index - ask for a read index (linearizable reads)
 *	sync_node_set_read_cb - who to call with the answers to read_index
 *	sync_node_set_rebuild - who to call when this node must be rebuilt
 *	sync_node_set_demoted - who to call when this node stops being the primary
 *	sync_node_add		- add a configured node as a learner, or promote one
 *	sync_node_remove	- remove a member (a config entry)
 *	sync_node_wal_stats	- the log's counters (for the views)
 *	sync_node_log_bytes	- bytes of log between two indexes (lag in bytes)
 *	sync_node_stop		- stop, failing pending proposals, close the log
 *
 * Compaction: on every tick the node drops the log below
 * min(applied here, max(floor, last - log_retention_entries)), where the
 * floor is the lowest applied index of all members as the primary knows it
 * (members report theirs in each append reply; the primary sends the floor
 * in its heartbeats).  The log keeps the entry just below the core's first
 * index, whose term is the core's prev_term, so a restart needs nothing
 * more.
 *
 * Rebuild: when a member needs entries the primary compacted, the primary
 * sends it REBUILD (sync/peer_codec.h) with its server's basebackup
 * conninfo, again every election timeout while the member waits.  The
 * member calls the rebuild callback, which copies the source's server
 * (node/rebuild.c) and restarts the node with SYNC_NODE_INSTALL: the log
 * then waits, with no core, until a peer tells it the term of the copy's
 * applied index (REBUILT / TERM), resets itself to start there, and only
 * then boots the core.  The same happens at any start where the server has
 * applied more than the log holds.
 *
 * Linearizable reads (ReadIndex, sync/core/sync_core.h READS): on any
 * node, sync_node_read_index(ctx) asks the primary (itself, or through a
 * READ_INDEX message) for a read index, an index at least every index
 * committed before the call.  The answer comes to the read callback,
 * exactly once per accepted ask: ok with the index, or not ok (leadership
 * or the primary changed, or no answer within an election timeout: ask
 * again).  A strong read then waits until this node's applied index
 * (sync_node_status) reaches the index, and reads its own server.
 *
 * Everything runs on the caller's libev loop.  Fsync work happens on the
 * log's writer thread; only a vote/term change (hard state) and a suffix
 * truncation block the loop for one fsync, as the core requires them to be
 * durable before the next message is sent.
 */
#ifndef SYNC_NODE_H
#define SYNC_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct pgq_config;
struct sync_node;

/* Outcome of a proposal. */
enum sync_node_result
{
	SYNC_NODE_COMMITTED = 0,	/* committed on a majority and applied here */
	SYNC_NODE_NOT_PRIMARY,		/* refused: this node is not the primary */
	SYNC_NODE_UNKNOWN,			/* leadership lost: the entry may or may not
								 * commit later (never a false success) */
	SYNC_NODE_REFUSED,			/* refused: too large, log full, transfer */
};

/* Called on the loop; payload is not given back (the caller kept it). */
typedef void (*sync_node_done_cb) (void *arg, enum sync_node_result result,
								   uint64_t index);

/*
 * Called for each committed NORMAL entry, and for each new primary's NOOP
 * (payload NULL, len 0: it marks where a term begins), in log order, once
 * per run (the applier).  payload borrowed until return.  Returns false when it cannot
 * take the entry now: the node hands it again after the next
 * sync_node_applied().  With no apply callback, handing is applying.
 */
typedef bool (*sync_node_apply_cb) (void *arg, uint64_t index, uint64_t term,
									const void *payload, uint32_t len);

struct sync_node_peer_info
{
	uint64_t	id;
	bool		voter;
	bool		connected;		/* our connection to it is up */
	int64_t		last_contact_ms;	/* ms since a message from it; -1: never */
	uint64_t	match_index;	/* primary only: highest index it has */
	uint64_t	commit_sent;	/* primary only */
	bool		applied_known;	/* itself, or a peer that acked to us */
	uint64_t	applied_index;	/* from its last ack (its applied index) */
};

struct sync_node_info
{
	uint64_t	id;
	const char *role;			/* "primary", "secondary", "candidate", ... */
	uint64_t	term;
	uint64_t	leader_id;
	uint64_t	first_index;
	uint64_t	last_index;
	uint64_t	persisted_index;
	uint64_t	commit_index;
	uint64_t	applied_index;
	bool		writable;		/* primary, and has applied every entry of
								 * earlier terms: may take client writes */
	uint64_t	compact_floor;	/* lowest applied index of all members */
	uint64_t	installing;		/* nonzero: waiting to install a copy
								 * through this index */
	uint64_t	commit_notifications_sent;	/* commit-only appends */
	uint64_t	heartbeats_sent;
	int			n_peers;
	struct sync_node_peer_info peers[9];
};

/*
 * The primary (node from) says this node's log cannot catch up any more:
 * a copy of the data through at least min_index is needed, from the server
 * at source (a libpq conninfo, borrowed until return).  Called on the loop,
 * inside the node's own callbacks: defer the work.
 */
typedef void (*sync_node_rebuild_cb) (void *arg, uint64_t from, uint64_t min_index,
									  const char *source);

/*
 * This node stopped being the primary (it stepped down, or leadership was
 * transferred away).  Called on the loop, inside the node's own update
 * (after its proposals in flight were answered): defer the work.
 */
typedef void (*sync_node_demoted_cb) (void *arg);

/*
 * The answer to sync_node_read_index(ctx): ok with the read index, or not
 * ok (refused: ask again).  Called on the loop, outside the node's update,
 * possibly before sync_node_read_index returns; it may ask again, but must
 * not stop the node.
 */
typedef void (*sync_node_read_cb) (void *arg, uint64_t ctx, bool ok, uint64_t index);

/* sync_node_start flags */
#define SYNC_NODE_INSTALL 0x1	/* the local server was just copied from
								 * another node: applied starts the log */

/*
 * applied: the index the local server has applied through (entries are
 * handed from applied + 1 on).  With SYNC_NODE_INSTALL, or when applied is
 * beyond the log's end, the node installs the server's copy first (see
 * Rebuild above).
 */
struct sync_node *sync_node_start(struct ev_loop *loop, const struct pgq_config *cfg,
								  sync_node_apply_cb apply, void *apply_arg,
								  uint64_t applied, unsigned flags,
								  char *err, size_t errlen);
void		sync_node_set_rebuild(struct sync_node *node, sync_node_rebuild_cb cb,
								  void *arg);
void		sync_node_set_demoted(struct sync_node *node, sync_node_demoted_cb cb,
								  void *arg);
/* Set once before the first sync_node_read_index. */
void		sync_node_set_read_cb(struct sync_node *node, sync_node_read_cb cb, void *arg);
/* The applier has applied (durably) through index. */
void		sync_node_applied(struct sync_node *node, uint64_t index);
/*
 * Propose one entry (payload copied).  cb runs later on the loop, exactly
 * once, unless this returns nonzero (then it never runs): NOT_PRIMARY or
 * REFUSED at once.
 */
int			sync_node_propose(struct sync_node *node, const void *payload, uint32_t len,
							  sync_node_done_cb cb, void *arg);
void		sync_node_status(struct sync_node *node, struct sync_node_info *info);
/* The term in which this node is primary now, or 0 when it is not. */
uint64_t	sync_node_primary_term(struct sync_node *node);
/* Copies entry index's payload (at most cap bytes) into buf; returns its
 * length, or -1 when the index is not in the log. *term, *type filled. */
long		sync_node_read(struct sync_node *node, uint64_t index, uint64_t *term,
						   uint32_t *type, void *buf, size_t cap);
/* 0 when the transfer started; else a message in err. */
int			sync_node_transfer(struct sync_node *node, uint64_t to, char *err, size_t errlen);
/*
 * Ask for a read index; ctx is the caller's, given back to the read
 * callback.  0: asked, the callback runs exactly once (maybe before this
 * returns), unless the node stops first.  -1: refused now (no primary
 * known, a leadership transfer in progress, too many reads pending, a
 * copy being installed), with a message in err; the callback never runs.
 */
int			sync_node_read_index(struct sync_node *node, uint64_t ctx,
								 char *err, size_t errlen);
/*
 * Membership, primary only, one change at a time (the core's rules).  add:
 * a node of the [nodes] section that is not a member becomes a learner; a
 * learner becomes a voter.  0 with the config entry's index in *index, or
 * -1 with a message in err.
 */
int			sync_node_add(struct sync_node *node, uint64_t id, uint64_t *index,
						  char *err, size_t errlen);
int			sync_node_remove(struct sync_node *node, uint64_t id, uint64_t *index,
							 char *err, size_t errlen);
/* Bytes of log (entry payloads plus their headers) in (from, to]: true
 * when known (entries appended here since start, in the last 65,536). */
bool		sync_node_log_bytes(struct sync_node *node, uint64_t from, uint64_t to,
								uint64_t *bytes);
struct wal_stats;
void		sync_node_wal_stats(struct sync_node *node, struct wal_stats *st);
void		sync_node_stop(struct sync_node *node);

#endif							/* SYNC_NODE_H */
