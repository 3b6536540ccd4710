/*
 * sync_core.h
 *	  The replication algorithm as a pure state machine.
 *
 * The core decides everything about replication: roles and terms, elections
 * (pre-vote, check-quorum), appends and acks with per-peer flow control, the
 * commit index, the idle commit notification, leadership transfer,
 * membership changes one server at a time, and catch-up of a lagging node by
 * a data copy.  It does no I/O, reads no clock (time comes in with each
 * call), draws random numbers only from the seed it was given, never logs
 * (trace lines go to a callback) and allocates only in sync_core_create,
 * with sizes bounded by sync_options.
 *
 * INTERFACE ROUTINES
 *	sync_options_init		- fill options with the defaults
 *	sync_core_create		- build a core from options and durable boot state
 *	sync_core_restore_entry	- tell a new core about one entry of the durable log
 *	sync_core_destroy		- free a core
 *	sync_core_step			- handle one message from a peer
 *	sync_core_tick			- advance time (elections, heartbeats, check-quorum)
 *	sync_core_persisted		- the local log is durable up to (index, term)
 *	sync_core_propose		- append entries on the primary; returns first index
 *	sync_core_transfer_leadership - hand the primary role to a chosen voter
 *	sync_core_add_learner	- add a non-voting node (config entry)
 *	sync_core_promote		- make a caught-up learner a voter (config entry)
 *	sync_core_remove_node	- remove a node, maybe the primary itself
 *	sync_core_read_index	- ask for a read index (linearizable read, ReadIndex)
 *	sync_core_compacted		- the caller removed the log prefix before an index
 *	sync_core_copy_done		- (primary) a data copy to a peer finished or failed
 *	sync_core_copy_installed - (any) this node installed a data copy
 *	sync_core_status		- read-only view of role, term, indexes
 *	sync_core_peer			- read-only view of one peer's progress (primary)
 *	sync_core_config_at		- the membership in force at a committed index
 *	sync_config_encode / sync_config_decode - config entry payload format
 *	sync_msg_type_name / sync_role_name / sync_err_name - for logs
 *
 * THE UPDATE AND ITS ORDERING RULES (as etcd's Ready)
 *	Every mutating call fills a struct sync_update.  The caller must handle
 *	it completely, in this order, before the next call into the same core:
 *	  1. if hard_state_changed: save hard_state durably (fsync) -- before
 *		 any message of this update is sent (votes depend on it);
 *	  2. if truncate_from != 0: drop log entries with index >= truncate_from;
 *	  3. append entries[0..n_entries) to the log (durability may come later,
 *		 asynchronously; report it with sync_core_persisted);
 *	  4. send msgs[0..n_msgs) (may be sent before step 3 is durable: no
 *		 message ever claims an entry durable before sync_core_persisted
 *		 said so; an ack is only produced from sync_core_persisted);
 *	  5. apply committed entries up to min(commit_index, locally persisted
 *		 index); the applied index must be durable with what was applied;
 *	  6. start a data copy for each of copies[0..n_copies) (primary only);
 *	  7. answer reads[0..n_reads) (see READS);
 *	  8. call sync_core_tick again no later than next_tick_ms.
 *	Role and term changes are reported for information (answer pending
 *	clients with an error when the role leaves SYNC_PRIMARY).
 *
 * OWNERSHIP AND LIFETIMES
 *	- struct sync_core: owned by the caller from create to destroy.
 *	- Arrays in struct sync_update (entries, msgs, msgs[i].entries, copies,
 *	  reads) live in the core and are valid until the next call into that core.
 *	- Payload pointers (sync_entry.payload) in an update are borrowed: each
 *	  points into (a) the payloads given to sync_core_propose in this call,
 *	  (b) the entries of the message given to sync_core_step in this call,
 *	  (c) what storage.read returned during this call, or (d) a core buffer
 *	  (config entries).  All must stay valid until the caller has handled
 *	  the update; the caller copies what it keeps.
 *	- Input pointers (a message, its entries, payloads, configs) are
 *	  borrowed for the duration of the call only.
 *	- storage.ctx is borrowed for the life of the core.
 *
 * STORAGE
 *	The caller owns the durable log (wal/).  The core keeps the term and
 *	type of every entry it has not been told is compacted (a ring of
 *	max_log_entries), so it never reads storage for matching.  To send
 *	entries to a peer it calls storage.read(ctx, index, &entry) for indexes
 *	in [first_index, last_index] that were handed to the caller in earlier
 *	updates (persisted or not yet): the callback fills payload and len; the
 *	payload must stay valid until the caller has handled the update.  A
 *	nonzero return makes the core stop the batch there (retry later).
 *	Entries before the first available index (sync_core_compacted) are
 *	gone: a peer that needs them is reported in update.copies.
 *
 * READS (Raft's ReadIndex, no lease)
 *	sync_core_read_index(core, ctx, u) asks for a read index: an index at
 *	least every index committed (anywhere) before the call.  A read that
 *	waits until the local applied index reaches it and then reads the local
 *	database is linearizable.  The answer comes as a struct sync_read
 *	{ctx, ok, index} in the reads[] of this update (a one-voter primary) or
 *	of a later one, exactly once for every call that returned SYNC_OK --
 *	unless the core is destroyed first.  ok=false: refused (leadership lost,
 *	the term changed, no answer within election_timeout_ms); ask again.
 *	  - Primary: the read index is its commit index now (once its no-op of
 *		this term is committed: until then the read waits, and takes the
 *		commit index when the no-op commits).  It starts read round R (a
 *		counter carried by every APPEND), sends heartbeats at once, and the
 *		read is confirmed when the voters that echoed a round >= R (every
 *		APPEND_RESP, ack or reject, echoes the highest round the secondary
 *		saw from this primary in this term), with itself, are a quorum.
 *	  - Secondary that knows the primary: sends it READ_INDEX; the primary
 *		does the same for it and answers READ_INDEX_RESP.  A response from
 *		another node than the current primary, or of another term, is
 *		ignored; a change of primary or term refuses the reads in flight.
 *	Why it is safe: let R start at time t on the primary P of term T.  A
 *	voter that echoes R accepted term T after t, so it had voted in no term
 *	> T before t.  A quorum of them intersects every election quorum: no
 *	primary of a term > T existed at t, so every entry committed before t
 *	was committed in a term <= T.  Those of earlier terms are in P's log
 *	below its no-op (leader completeness) and so <= P's commit once the
 *	no-op is committed; those of term T were committed by P itself.  Hence
 *	P's commit index at t (or later) bounds them all.
 *	Bounds: SYNC_MAX_READS pending on a node (SYNC_ERR_BUSY beyond; a
 *	remote request beyond it is refused).  A read's deadline runs from the
 *	core's clock, which moves only with ticks: a driver ticks the core to
 *	now before asking.
 *
 * DEFAULTS: heartbeat_ms 100, election_timeout_ms 1000 (each election
 *	deadline is drawn uniformly from [election_timeout_ms,
 *	2 * election_timeout_ms)), pre_vote, check_quorum and idle_commit_notify
 *	on, max_inflight 16 appends per peer, max_batch_entries 64,
 *	max_batch_bytes 1 MiB, max_log_entries 65536.
 */
#ifndef SYNC_CORE_H
#define SYNC_CORE_H

#include <stdbool.h>
#include <stdint.h>

#define SYNC_MAX_NODES 9			/* members (voters + learners) */
#define SYNC_MAX_INFLIGHT 64		/* upper bound for max_inflight */
#define SYNC_MAX_BATCH_ENTRIES 1024 /* upper bound for max_batch_entries */
#define SYNC_CONFIG_ENCODED_MAX (4 + SYNC_MAX_NODES * 9)
#define SYNC_MAX_CONFIGS 8		/* membership history kept (see hard state) */
#define SYNC_MAX_READS 64		/* reads pending on one node (see READS) */

/* Errors returned by the interface routines (operating errors). */
#define SYNC_ERRORS(X) \
	X(SYNC_OK, 0, "ok") \
	X(SYNC_ERR_NOT_PRIMARY, -1, "this node is not the primary") \
	X(SYNC_ERR_TRANSFERRING, -2, "leadership transfer in progress") \
	X(SYNC_ERR_LOG_FULL, -3, "log full or too many uncommitted entries") \
	X(SYNC_ERR_CONFIG_PENDING, -4, "a membership change is not committed yet") \
	X(SYNC_ERR_NOT_CAUGHT_UP, -5, "the learner has not caught up") \
	X(SYNC_ERR_UNKNOWN_NODE, -6, "no such node in the membership") \
	X(SYNC_ERR_EXISTS, -7, "the node is already a member") \
	X(SYNC_ERR_INVALID, -8, "invalid argument") \
	X(SYNC_ERR_TOO_LARGE, -9, "more entries or bytes than a batch allows") \
	X(SYNC_ERR_NOMEM, -10, "out of memory") \
	X(SYNC_ERR_TOO_MANY, -11, "membership would exceed SYNC_MAX_NODES") \
	X(SYNC_ERR_BUSY, -12, "too many reads pending")

enum sync_err
{
#define SYNC_ERR_ENUM(name, code, text) name = code,
	SYNC_ERRORS(SYNC_ERR_ENUM)
#undef SYNC_ERR_ENUM
};

enum sync_role
{
	SYNC_SECONDARY = 1,			/* follower */
	SYNC_PRE_CANDIDATE,
	SYNC_CANDIDATE,
	SYNC_PRIMARY,				/* leader */
};

enum sync_entry_type
{
	SYNC_ENTRY_NORMAL = 1,		/* client data (a transaction batch) */
	SYNC_ENTRY_NOOP = 2,		/* appended by each new primary */
	SYNC_ENTRY_CONFIG = 3,		/* payload: sync_config_encode() */
};

/* Message types.  Values are part of the wire format: never renumber. */
enum sync_msg_type
{
	SYNC_MSG_APPEND = 1,		/* entries (maybe none) + commit index */
	SYNC_MSG_APPEND_RESP = 2,	/* ack (match) or reject (with hint) */
	SYNC_MSG_VOTE = 3,			/* request a vote for term */
	SYNC_MSG_VOTE_RESP = 4,
	SYNC_MSG_PRE_VOTE = 5,		/* would you vote for me in term? */
	SYNC_MSG_PRE_VOTE_RESP = 6,
	SYNC_MSG_TIMEOUT_NOW = 7,	/* transfer: start an election at once */
	SYNC_MSG_READ_INDEX = 8,	/* secondary -> primary: a read index, please */
	SYNC_MSG_READ_INDEX_RESP = 9,	/* primary -> requester: the read index */
};

/* sync_msg.flags */
#define SYNC_FLAG_REJECT 0x01	/* *_RESP: refused */
#define SYNC_FLAG_HEARTBEAT 0x02	/* APPEND: periodic, no entries */
#define SYNC_FLAG_COMMIT_ONLY 0x04	/* APPEND: idle commit notification */
#define SYNC_FLAG_TRANSFER 0x08 /* VOTE: campaign from TIMEOUT_NOW */
#define SYNC_FLAG_APPLIED 0x10	/* APPEND_RESP: applied is set.  The core
								 * neither sets nor reads it: the node adds
								 * its applied index to its acks, for the
								 * primary's admin views */

/* One log entry.  payload: borrowed, see OWNERSHIP. */
struct sync_entry
{
	uint64_t	index;
	uint64_t	term;
	uint32_t	type;			/* enum sync_entry_type */
	uint32_t	len;			/* payload bytes */
	const void *payload;
};

/*
 * A message between nodes.  Plain fixed-width fields plus an entry array,
 * for the transport to serialize.  Field use by type:
 *	APPEND:		  index = prev log index, log_term = its term, commit =
 *				  primary's commit, entries = entries after index.
 *	APPEND_RESP:  ack: index = highest index persisted and known to match
 *				  the primary; reject: index = the prev index refused,
 *				  hint_index/log_term = the secondary's last index <= it
 *				  and that entry's term (fast back-up).  commit = the
 *				  secondary's commit index.
 *	VOTE/PRE_VOTE: index/log_term = candidate's last log index and term;
 *				  term = the term asked for (PRE_VOTE: current + 1).
 *	*_RESP:		  term = responder's term (PRE_VOTE_RESP granted: the
 *				  term that was asked for).
 *	APPEND:		  round = the primary's current read round (see READS).
 *	APPEND_RESP:  round = the highest round the secondary has seen from
 *				  this primary in this term (0: none); on acks and rejects.
 *	READ_INDEX:	  hint_index = the requester's ctx.
 *	READ_INDEX_RESP: hint_index = ctx, commit = the read index; REJECT:
 *				  refused (ask again later).
 */
struct sync_msg
{
	uint32_t	type;			/* enum sync_msg_type */
	uint32_t	flags;			/* SYNC_FLAG_* */
	uint64_t	from;
	uint64_t	to;
	uint64_t	term;
	uint64_t	index;
	uint64_t	log_term;
	uint64_t	commit;
	uint64_t	hint_index;
	uint32_t	n_entries;
	uint32_t	reserved;
	const struct sync_entry *entries;	/* borrowed, see OWNERSHIP */
	uint64_t	applied;		/* SYNC_FLAG_APPLIED: the sender's applied
								 * index (not the core's) */
	uint64_t	round;			/* APPEND, APPEND_RESP: read round */
};

enum sync_node_role
{
	SYNC_VOTER = 1,
	SYNC_LEARNER = 2,
};

struct sync_member
{
	uint64_t	id;				/* nonzero */
	uint32_t	role;			/* enum sync_node_role */
};

struct sync_config
{
	uint32_t	n;
	struct sync_member nodes[SYNC_MAX_NODES];
};

/* A membership and the index of the config entry that set it. */
struct sync_config_at
{
	uint64_t	index;			/* 0: bootstrap */
	struct sync_config config;
};

/*
 * Durable hard state: saved whenever it changes (update rule 1) and given
 * back to sync_core_create at start (bootstrap: term 0, vote 0, one config
 * at index 0).  configs[] is the membership history the core may need
 * after a restart, oldest first: configs[0] is in force at an index that
 * is both committed and persisted, the others are config entries after it.
 * At start, those beyond the durable log are dropped (their entries were
 * lost) and the newest left is in force.  A secondary appends no more
 * config entries while SYNC_MAX_CONFIGS are pending.
 */
struct sync_hard_state
{
	uint64_t	term;
	uint64_t	vote;			/* 0: none */
	uint32_t	n_configs;		/* 1..SYNC_MAX_CONFIGS */
	uint32_t	reserved;
	struct sync_config_at configs[SYNC_MAX_CONFIGS];
};

/* Storage interface (see STORAGE). */
struct sync_storage
{
	void	   *ctx;
	/* Fill *entry (index, term, type, len, payload) or return nonzero. */
	int			(*read) (void *ctx, uint64_t index, struct sync_entry *entry);
};

typedef void (*sync_trace_fn) (void *ctx, uint64_t node_id, const char *line);

/* Fault injection for checker self-tests only; 0 in production. */
#define SYNC_TEST_BUG_COMMIT_WITHOUT_MAJORITY 0x01
#define SYNC_TEST_BUG_READ_WITHOUT_QUORUM 0x02	/* confirm reads at once */

struct sync_options
{
	uint64_t	id;				/* this node, nonzero */
	uint64_t	seed;			/* PRNG seed (election jitter) */
	uint32_t	heartbeat_ms;
	uint32_t	election_timeout_ms;
	uint32_t	max_inflight;	/* appends in flight per peer */
	uint32_t	max_batch_entries;	/* per append and per propose */
	uint32_t	max_batch_bytes;	/* per append (one entry may exceed) */
	uint32_t	max_log_entries;	/* entries held between compactions */
	uint32_t	max_msgs;		/* messages per update */
	uint32_t	max_out_entries;	/* entries in all messages of an update */
	bool		pre_vote;
	bool		check_quorum;
	bool		idle_commit_notify;	/* off only to measure its effect */
	uint32_t	test_bugs;		/* SYNC_TEST_BUG_*, for self-tests */
	struct sync_storage storage;
	sync_trace_fn trace;		/* may be NULL */
	void	   *trace_ctx;
};

/*
 * Durable state at start.  The log holds (first_index .. last) where the
 * entries are then given with sync_core_restore_entry in order; prev_term
 * is the term of entry first_index - 1 (0 if first_index == 1).  applied is
 * the index applied to the database (the commit index starts there).
 */
struct sync_boot
{
	struct sync_hard_state hard_state;
	uint64_t	first_index;
	uint64_t	prev_term;
	uint64_t	applied;
	uint64_t	now_ms;
};

/* A peer needs a copy of the data: entries it needs are compacted. */
struct sync_copy_request
{
	uint64_t	peer;
	uint64_t	min_index;		/* the copy must cover at least this index */
};

/* The answer to a read asked on this node (sync_core_read_index). */
struct sync_read
{
	uint64_t	ctx;			/* as given */
	bool		ok;				/* false: refused, ask again */
	uint64_t	index;			/* ok: the read index */
};

struct sync_update
{
	bool		hard_state_changed;
	struct sync_hard_state hard_state;
	uint64_t	truncate_from;	/* 0: nothing to truncate */
	const struct sync_entry *entries;
	uint32_t	n_entries;
	const struct sync_msg *msgs;
	uint32_t	n_msgs;
	bool		commit_changed;
	uint64_t	commit_index;
	bool		role_changed;
	uint32_t	role;			/* enum sync_role, always filled */
	uint64_t	term;			/* always filled */
	uint64_t	leader_id;		/* 0: unknown; always filled */
	const struct sync_copy_request *copies;
	uint32_t	n_copies;
	const struct sync_read *reads;
	uint32_t	n_reads;
	uint64_t	next_tick_ms;
};

struct sync_status
{
	uint32_t	role;
	uint64_t	id;
	uint64_t	term;
	uint64_t	vote;
	uint64_t	leader_id;
	uint64_t	first_index;
	uint64_t	last_index;
	uint64_t	last_term;
	uint64_t	persisted_index;
	uint64_t	commit_index;
	uint64_t	config_index;
	uint64_t	transfer_to;	/* 0: none */
	bool		is_voter;
	struct sync_config config;
};

enum sync_peer_state
{
	SYNC_PEER_PROBE = 1,		/* one append at a time until a match */
	SYNC_PEER_REPLICATE,		/* pipelined, up to max_inflight */
	SYNC_PEER_COPY,				/* waiting for a data copy */
};

struct sync_peer_status
{
	uint64_t	id;
	uint32_t	state;			/* enum sync_peer_state */
	uint32_t	inflight;
	uint64_t	match;
	uint64_t	next;
	uint64_t	commit_sent;	/* highest commit index told to the peer */
};

struct sync_core;

void		sync_options_init(struct sync_options *opts);

/*
 * Build a core.  opts and boot are copied.  Returns SYNC_OK with *out set,
 * SYNC_ERR_INVALID (bad option or boot state), or SYNC_ERR_NOMEM.
 */
int			sync_core_create(struct sync_core **out, const struct sync_options *opts,
							 const struct sync_boot *boot);
/* Before any other call: the next durable entry (index == last + 1). */
void		sync_core_restore_entry(struct sync_core *core, uint64_t index,
									uint64_t term, uint32_t type);
void		sync_core_destroy(struct sync_core *core);

/* Handle a message.  Invalid or stale messages are ignored (traced). */
void		sync_core_step(struct sync_core *core, const struct sync_msg *msg,
						   struct sync_update *u);
/* Time has reached now_ms (never goes back). */
void		sync_core_tick(struct sync_core *core, uint64_t now_ms,
						   struct sync_update *u);
/* Entries up to index are durable; ignored if the log's term there differs. */
void		sync_core_persisted(struct sync_core *core, uint64_t index,
								uint64_t term, struct sync_update *u);

/* One payload for sync_core_propose (borrowed, see OWNERSHIP). */
struct sync_payload
{
	const void *data;
	uint32_t	len;
};

/*
 * Primary only: append n (1..max_batch_entries) NORMAL entries.  On SYNC_OK
 * *first_index is the index of the first.  Errors: NOT_PRIMARY,
 * TRANSFERRING, TOO_LARGE, LOG_FULL (no room in the ring: compact; or half
 * of max_log_entries is uncommitted already: back-pressure, so that any
 * log always has room for a new primary's no-op after compaction); on
 * error the update is empty.
 */
int			sync_core_propose(struct sync_core *core, const struct sync_payload *p,
							  uint32_t n, uint64_t *first_index, struct sync_update *u);
/*
 * Primary only: bring voter id up to date, then send it TIMEOUT_NOW.
 * Proposals fail with TRANSFERRING until the transfer ends (role change) or
 * is abandoned after one election timeout.
 */
int			sync_core_transfer_leadership(struct sync_core *core, uint64_t id,
										  struct sync_update *u);
/*
 * Membership changes (primary only, one at a time: CONFIG_PENDING while the
 * last config entry is not committed or this term's no-op is not).  Each
 * appends a config entry that takes effect on append; *index (may be NULL)
 * gets its index.  remove_node of the primary itself: it keeps replicating
 * without counting itself and steps down once the entry commits.
 */
int			sync_core_add_learner(struct sync_core *core, uint64_t id,
								  uint64_t *index, struct sync_update *u);
int			sync_core_promote(struct sync_core *core, uint64_t id,
							  uint64_t *index, struct sync_update *u);
int			sync_core_remove_node(struct sync_core *core, uint64_t id,
								  uint64_t *index, struct sync_update *u);

/*
 * Ask for a read index (see READS); ctx is the caller's, given back in the
 * answer.  SYNC_OK: the answer comes in this update or a later one.
 * Errors (nothing asked, no answer will come): NOT_PRIMARY (no primary
 * known), TRANSFERRING (this primary is handing over), BUSY
 * (SYNC_MAX_READS pending).
 */
int			sync_core_read_index(struct sync_core *core, uint64_t ctx,
								 struct sync_update *u);

/*
 * The caller removed entries before first_index (first_index - 1 must be
 * applied, so <= commit index).  Peers that need them get a copy request.
 */
void		sync_core_compacted(struct sync_core *core, uint64_t first_index,
								struct sync_update *u);
/*
 * Primary: the copy for peer finished (ok: installed through index) or
 * failed; replication to it resumes from index + 1 (or retries the copy).
 */
void		sync_core_copy_done(struct sync_core *core, uint64_t peer, bool ok,
								uint64_t index, struct sync_update *u);
/*
 * This node installed a copy of committed data through index (whose entry
 * has term), with membership cfg in force there.  Ignored if index <=
 * commit index.  Before the call the caller has made its log start at
 * index + 1: if the log held an entry at index with that term, the entries
 * after it are kept (they may be acked already); otherwise the whole log
 * was dropped (Raft's InstallSnapshot rule).  The core does the same.
 */
void		sync_core_copy_installed(struct sync_core *core, uint64_t index,
									 uint64_t term, const struct sync_config *cfg,
									 struct sync_update *u);

void		sync_core_status(const struct sync_core *core, struct sync_status *st);
/* Returns false if not primary or id is not a peer. */
bool		sync_core_peer(const struct sync_core *core, uint64_t id,
						   struct sync_peer_status *ps);
/* Membership in force at index (commit - something); false if unknown. */
bool		sync_core_config_at(const struct sync_core *core, uint64_t index,
								struct sync_config *cfg);

/* Returns bytes written (<= cap), or 0 if cap is too small. */
uint32_t	sync_config_encode(const struct sync_config *cfg, uint8_t *buf, uint32_t cap);
/* Returns false on malformed input (bad count, role, zero or duplicate id). */
bool		sync_config_decode(const void *buf, uint32_t len, struct sync_config *cfg);
/* Helpers on a config. */
const struct sync_member *sync_config_find(const struct sync_config *cfg, uint64_t id);
uint32_t	sync_config_voters(const struct sync_config *cfg);

const char *sync_msg_type_name(uint32_t type);
const char *sync_role_name(uint32_t role);
const char *sync_err_name(int err);

#endif							/* SYNC_CORE_H */
