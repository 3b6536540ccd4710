/*
 * sim.h
 *	  The deterministic simulator of the replication core: N nodes in one
 *	  process, a seeded scheduler over a virtual clock (microseconds), an
 *	  in-memory network (delay, reordering, loss, duplication, partitions)
 *	  and in-memory disks that persist with a delay (slow and stalled disks,
 *	  crashes lose what was not persisted), plus the invariant checker.
 *
 * sim.c holds the world (events, nodes, network, disks, the handling of a
 * core's update) and the checker (with the read index checks); simulate.c
 * the command line, the workload (proposals, reads), the fault schedule,
 * the liveness phase and the notification measurement.
 */
#ifndef SIM_H
#define SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "sync/core/sync_core.h"

#define SIM_MAX_SLOTS 12		/* node ids 1..SIM_MAX_SLOTS */
#define SIM_LOG_CAP 512			/* per-node log ring (== core max_log_entries) */
#define SIM_PAYLOAD_MAX SYNC_CONFIG_ENCODED_MAX

enum sim_bug
{
	SIM_BUG_NONE = 0,
	SIM_BUG_COMMIT_WITHOUT_MAJORITY,	/* the core commits on its own disk */
	SIM_BUG_DISK_LIES,			/* "persisted" before the disk wrote it */
	SIM_BUG_READ_WITHOUT_QUORUM,	/* the core confirms reads at once */
};

struct sim_opts
{
	uint32_t	nodes;			/* initial voters: 3 or 5 */
	bool		net_faults;
	bool		crash_faults;
	uint32_t	steps;			/* events in the fault phase */
	bool		verbose;
	uint32_t	bug;			/* enum sim_bug */
	uint32_t	heartbeat_ms;
	uint32_t	election_ms;
	bool		notify;			/* idle_commit_notify */
	/* network and disk timing, microseconds */
	uint64_t	net_min_us;
	uint64_t	net_max_us;
	uint64_t	disk_min_us;
	uint64_t	disk_max_us;
	uint32_t	loss_pct;
	uint32_t	dup_pct;
	uint64_t	liveness_ms;	/* bound after the heal */
};

struct sim_entry
{
	uint64_t	term;
	uint32_t	type;
	uint32_t	len;
	uint8_t		data[SIM_PAYLOAD_MAX];
};

struct sim_node
{
	uint64_t	id;
	bool		used;
	bool		up;
	bool		removed;		/* removal committed: stopped for good */
	uint32_t	gen;			/* incarnation; bumps on crash */
	struct sync_core *core;
	struct sim *sim;
	/* durable state */
	struct sync_hard_state hs;
	uint64_t	first_index;
	uint64_t	prev_term;
	uint64_t	durable;		/* log durable up to */
	uint64_t	applied;		/* applied (and durable) up to */
	/* volatile */
	uint64_t	last_index;
	uint64_t	checked;		/* commit checked against history up to */
	uint32_t	role;
	uint64_t	term;
	uint64_t	commit;
	uint64_t	leader;
	uint32_t	disk_mode;		/* 0 normal, 1 slow, 2 stalled */
	uint64_t	disk_busy_us;
	uint64_t	tick_at_us;
	uint32_t	tick_seq;
	uint64_t	remove_index;	/* pending removal entry, 0: none */
	uint64_t	remove_term;
	struct sim_entry log[SIM_LOG_CAP];
};

enum sim_ev_kind
{
	SIM_EV_MSG = 1,
	SIM_EV_DISK,
	SIM_EV_DISK_LIE,
	SIM_EV_TICK,
	SIM_EV_CLIENT,
	SIM_EV_FAULT,
	SIM_EV_COPY,
	SIM_EV_DISK_HEAL,
	SIM_EV_READ,
};

struct sim_event
{
	uint64_t	at_us;
	uint64_t	seq;
	uint32_t	kind;
	uint32_t	node;			/* slot */
	uint32_t	gen;
	uint32_t	peer;			/* slot (COPY target) */
	uint64_t	a;
	uint64_t	b;
	struct sync_msg msg;		/* MSG: entries point into data[] */
	struct sync_entry ent[];	/* then payload bytes */
};

struct sim_map_slot
{
	uint64_t	k1,
				k2,
				v1,
				v2;
	bool		used;
};

struct sim_map
{
	struct sim_map_slot *slots;
	uint32_t	cap;
	uint32_t	n;
};

/* A read index asked on a node (sync_core_read_index), by ctx - 1. */
struct sim_read
{
	uint32_t	slot;			/* asked on this node ... */
	uint32_t	gen;			/* ... in this incarnation */
	uint64_t	asked_us;
	uint64_t	floor;			/* highest index committed anywhere then */
	bool		as_primary;		/* asked on a primary: answered there */
	bool		answered;
	bool		ok;
	uint64_t	index;
};

struct sim_read_stats
{
	uint64_t	asked;			/* accepted by the core */
	uint64_t	refused_now;	/* refused by sync_core_read_index */
	uint64_t	confirmed;		/* answered ok */
	uint64_t	refused;		/* answered not ok */
};

/* hooks for the measurement mode (simulate.c) */
typedef void (*sim_commit_hook) (struct sim *s, struct sim_node *n, uint64_t old_commit);

struct sim
{
	struct sim_opts o;
	uint64_t	seed;
	uint64_t	rng;
	uint64_t	now_us;
	uint64_t	ev_seq;
	struct sim_event **heap;
	uint32_t	heap_n;
	uint32_t	heap_cap;
	struct sim_node nodes[SIM_MAX_SLOTS];
	uint32_t	n_slots;		/* slots ever used */
	bool		blocked[SIM_MAX_SLOTS][SIM_MAX_SLOTS];	/* [from][to] */
	/* the checker's record */
	uint64_t   *h_term;			/* committed history, by index */
	uint64_t   *h_id;
	uint64_t   *h_cterm;		/* term of the node that first saw it committed */
	uint64_t	h_cap;
	uint64_t	h_max;
	struct sim_map entries;		/* (index, term) -> (payload id, prev term) */
	struct sim_map leaders;		/* term -> leader id */
	bool		failed;
	char		violation[300];
	uint64_t	next_payload_id;
	uint64_t	steps_done;
	struct sim_read *reads;		/* every read asked, by ctx - 1 */
	uint64_t	n_reads;
	uint64_t	reads_cap;
	uint64_t	read_scan;		/* reads before it are all settled */
	uint64_t	live_read_from;	/* liveness: first ctx asked after the heal */
	bool		live_read_ok;	/* one of those was confirmed */
	struct sim_read_stats read_stats;
	sim_commit_hook commit_hook;
	void	   *hook_ctx;
};

/* sim.c */
void		sim_init(struct sim *s, const struct sim_opts *o, uint64_t seed);
void		sim_free(struct sim *s);
uint64_t	sim_rand(struct sim *s);
uint64_t	sim_rand_range(struct sim *s, uint64_t lo, uint64_t hi);	/* [lo, hi] */
void		sim_fail(struct sim *s, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
void		sim_log(struct sim *s, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
struct sim_event *sim_event_new(struct sim *s, uint32_t kind, uint64_t at_us, size_t extra);
void		sim_schedule(struct sim *s, struct sim_event *ev);
struct sim_event *sim_pop(struct sim *s);
bool		sim_handle_world_event(struct sim *s, struct sim_event *ev);
void		sim_maybe_compact(struct sim *s, struct sim_node *n);
void		sim_node_boot(struct sim *s, uint32_t slot, const struct sync_config *cfg);
void		sim_node_crash(struct sim *s, struct sim_node *n);
void		sim_node_restart(struct sim *s, struct sim_node *n);
void		sim_apply_update(struct sim *s, struct sim_node *n, const struct sync_update *u);
struct sim_node *sim_primary(struct sim *s);
uint64_t	sim_entry_id(const struct sim_entry *e);
struct sim_entry *sim_log_at(struct sim_node *n, uint64_t index);
struct sim_map_slot *map_find_pub(struct sim_map *m, uint64_t key, bool insert);
bool		sim_term_at(struct sim_node *n, uint64_t index, uint64_t *term);
void		sim_read_ask(struct sim *s, struct sim_node *n);
void		sim_check_reads_answered(struct sim *s);

#endif							/* SIM_H */
