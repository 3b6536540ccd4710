/*
 * sync_core_int.h
 *	  Internals of the replication core, shared by its .c files only.
 *
 * Files: sync_core.c (lifecycle, the update, the log ring, API entry
 * points), sync_elect.c (roles, terms, elections, step dispatch),
 * sync_repl.c (primary: progress, appends, commit, idle commit
 * notification), sync_follow.c (secondary: appends, acks), sync_primary.c
 * (primary: acks, rejects, ticks, copies, transfer, membership API),
 * sync_read.c (ReadIndex: read rounds, pending reads, their answers),
 * sync_config.c (config codec, names).
 */
#ifndef SYNC_CORE_INT_H
#define SYNC_CORE_INT_H

#include <stdarg.h>

#include "sync/core/sync_core.h"

struct sync_progress
{
	uint64_t	id;
	uint64_t	match;			/* highest index known persisted + matching */
	uint64_t	next;			/* next index to send */
	uint64_t	commit_sent;	/* highest commit index the peer was told */
	uint64_t	stall_match;	/* match at the previous heartbeat */
	uint32_t	stall_beats;	/* heartbeats without progress */
	uint32_t	state;			/* enum sync_peer_state */
	bool		active;			/* heard from since the last quorum check */
	bool		probe_sent;		/* PROBE: an append is outstanding */
	bool		copy_reported;	/* COPY: request emitted */
	uint64_t	round_acked;	/* highest read round it echoed */
	uint32_t	inflight_n;		/* REPLICATE: appends in flight */
	uint32_t	inflight_head;
	uint64_t	inflight[SYNC_MAX_INFLIGHT];	/* last index of each */
};

/*
 * A read asked on this node (from == own id) or, on the primary, by a
 * peer.  It stands while the node's term and primary are those it was
 * asked under (see sync_read.c).
 */
struct sync_pending_read
{
	uint64_t	ctx;
	uint64_t	from;			/* who asked: self or a peer */
	uint64_t	term;			/* asked in this term ... */
	uint64_t	leader;			/* ... of this primary (self on the primary) */
	uint64_t	round;			/* primary: the round a quorum must echo */
	uint64_t	index;			/* primary: the read index, if index_known */
	bool		index_known;	/* false until this term's no-op commits */
	uint64_t	deadline_ms;	/* refused when not answered by then */
};

struct sync_core
{
	struct sync_options opts;
	uint64_t	id;
	uint64_t	rng;
	uint64_t	now_ms;

	/* hard state */
	uint64_t	term;
	uint64_t	vote;
	struct sync_config_at configs[SYNC_MAX_CONFIGS];	/* oldest first */
	uint32_t	n_configs;
	struct sync_config config;	/* == configs[n_configs - 1] */
	uint64_t	config_index;

	/* log metadata: ring of terms/types for [first_index, last_index] */
	uint64_t	first_index;
	uint64_t	last_index;
	uint64_t	prev_term;		/* term of first_index - 1 */
	uint64_t   *ring_term;
	uint8_t    *ring_type;
	uint64_t	persisted;		/* durable up to */
	uint64_t	commit;
	bool		started;

	/* role */
	uint32_t	role;
	uint64_t	leader_id;
	uint64_t	election_deadline;
	bool		in_tick;		/* inside sync_core_tick */
	bool		reset_at_tick;	/* deadline reset by a message: redo at tick */
	uint64_t	heartbeat_deadline;
	uint64_t	quorum_deadline;
	uint64_t	last_leader_contact;	/* for the pre-vote lease */
	uint64_t	votes_for;		/* bitmask over config slots */
	uint64_t	votes_against;
	uint64_t	votes_term;		/* term the votes are for */

	/* secondary */
	uint64_t	match_leader;	/* verified to match the primary this term */
	uint64_t	acked;			/* highest ack sent this term */
	uint64_t	round_seen;		/* highest read round from this primary */

	/* primary */
	struct sync_progress peers[SYNC_MAX_NODES];
	uint32_t	n_peers;
	uint64_t	noop_index;		/* this term's no-op */
	uint64_t	transfer_to;
	uint64_t	transfer_deadline;
	bool		transfer_sent;
	uint64_t	read_round;		/* last read round started (never reset) */

	/* reads (sync_read.c) */
	struct sync_pending_read reads[SYNC_MAX_READS];
	uint32_t	n_reads;

	/* the update being built */
	struct sync_update *u;
	struct sync_entry *persist;		/* entries for the caller to append */
	uint32_t	persist_cap;
	struct sync_msg *msgs;
	struct sync_entry *out_entries;
	uint32_t	n_out_entries;
	struct sync_copy_request copies[SYNC_MAX_NODES];
	struct sync_read read_out[SYNC_MAX_READS + 1];	/* update.reads */
	uint32_t	prev_role;
	uint64_t	prev_term_seen;
	uint64_t	prev_leader;
	uint64_t	prev_commit;
	bool		hs_dirty;
	uint8_t		config_buf[SYNC_CONFIG_ENCODED_MAX];
};

/* sync_core.c */
void		core_begin(struct sync_core *c, struct sync_update *u);
void		core_end(struct sync_core *c);
void		core_finish(struct sync_core *c);
void		core_trace(struct sync_core *c, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
uint64_t	core_random(struct sync_core *c);
uint64_t	log_term_at(const struct sync_core *c, uint64_t index);
bool		log_has_term(const struct sync_core *c, uint64_t index, uint64_t *term);
uint32_t	log_type_at(const struct sync_core *c, uint64_t index);
uint64_t	log_last_term(const struct sync_core *c);
bool		log_append_meta(struct sync_core *c, uint64_t term, uint32_t type);
void		log_truncate(struct sync_core *c, uint64_t from);
uint64_t	log_search_term(const struct sync_core *c, uint64_t lo, uint64_t hi,
							uint64_t term);
uint32_t	log_room(const struct sync_core *c);
struct sync_entry *out_persist(struct sync_core *c);
struct sync_msg *out_msg(struct sync_core *c, uint32_t type, uint64_t to);
bool		out_read_entry(struct sync_core *c, uint64_t index, struct sync_entry *e);
void		out_copy_request(struct sync_core *c, uint64_t peer, uint64_t min_index);
void		set_hard_state_dirty(struct sync_core *c);

/* sync_elect.c */
void		elect_become_secondary(struct sync_core *c, uint64_t term, uint64_t leader);
void		elect_tick(struct sync_core *c);
void		elect_campaign(struct sync_core *c, bool pre_vote, bool transfer);
void		elect_step(struct sync_core *c, const struct sync_msg *m);
bool		elect_is_voter(const struct sync_core *c, uint64_t id);
uint32_t	elect_quorum(const struct sync_core *c);
void		elect_reset_deadline(struct sync_core *c);

/* sync_repl.c */
void		repl_become_primary(struct sync_core *c);
void		repl_handle_append(struct sync_core *c, const struct sync_msg *m);
void		repl_handle_append_resp(struct sync_core *c, const struct sync_msg *m);
void		repl_handle_timeout_now(struct sync_core *c, const struct sync_msg *m);
void		repl_primary_tick(struct sync_core *c);
void		repl_flush(struct sync_core *c);
void		repl_secondary_persisted(struct sync_core *c);
void		repl_config_changed(struct sync_core *c);
struct sync_progress *repl_peer(struct sync_core *c, uint64_t id);
void		repl_copy_done(struct sync_core *c, uint64_t peer, bool ok, uint64_t index);
int			repl_change_config(struct sync_core *c, const struct sync_config *cfg,
							   uint64_t *index);
uint64_t	repl_quorum_value(const struct sync_core *c, uint32_t q, uint64_t self,
							  uint64_t (*value) (const struct sync_progress *p));
bool		cfg_push(struct sync_core *c, uint64_t index, const struct sync_config *cfg);
void		cfg_truncate(struct sync_core *c, uint64_t from);
void		cfg_collapse(struct sync_core *c);
void		cfg_reset(struct sync_core *c, uint64_t index, const struct sync_config *cfg);
void		repl_peer_reset(struct sync_core *c, struct sync_progress *p,
							uint32_t state, uint64_t next);
void		repl_send_empty(struct sync_core *c, struct sync_progress *p, uint32_t flags);
uint64_t	repl_append_local(struct sync_core *c, uint32_t type, const void *payload,
							  uint32_t len);

/* sync_read.c */
void		read_handle_request(struct sync_core *c, const struct sync_msg *m);
void		read_handle_resp(struct sync_core *c, const struct sync_msg *m);
void		read_check(struct sync_core *c);
void		read_sweep(struct sync_core *c);
uint64_t	read_next_deadline(const struct sync_core *c);

#endif							/* SYNC_CORE_INT_H */
