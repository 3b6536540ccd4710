/*
 * commit.h
 *	  The primary's side of a write: captured transactions become log
 *	  entries, and a client session waits for its transaction to commit.
 *
 * INTERFACE ROUTINES
 *	commit_start	- start capturing from the local server's slot
 *	commit_new_gid	- the gid for a transaction the proxy prepares now
 *	commit_wait		- wait for the transaction with a txn id to commit
 *	commit_stats	- figures for the views
 *	commit_stop		- stop; every waiter gets COMMIT_UNKNOWN
 *
 * Gids are made here (commit_new_gid): "pgq_<node>_<term>_<n>", with the
 * term in which this node is the writable primary (sync/txn_codec.h).
 * Each chunk the capture delivers (sync/capture_stream.h) whose gid this
 * node made is proposed to the log only while this node is primary in
 * the term its gid names, so every entry of a gid has that term; that is
 * what lets the appliers resolve prepared transactions by term
 * (sync/applier.h).  The slot is confirmed up to the chunks the log has
 * committed, so our log is the only copy of a transaction only once a
 * majority holds it.  The final chunk carries the session's txn id: its
 * waiter is told COMMIT_OK once the entry is committed and applied here
 * (the applier ran COMMIT PREPARED), COMMIT_UNKNOWN when leadership was
 * lost first (the entry may still commit: the client must not be told
 * either way), COMMIT_TIMEOUT when the PREPARE was not decoded in time (30 s, or up
 * to 10 min while chunks of this node keep arriving: a huge transaction
 * is being decoded),
 * and COMMIT_REFUSED when its final chunk will never be logged (not
 * primary in its term, or the log refused a chunk): the caller may roll
 * the prepared transaction back.
 *
 * Giving up: when a waiter times out, or the log refuses a chunk, the
 * transaction is given up: none of its chunks is proposed any more, and an
 * ABORT entry is logged (before any other chunk of the term; retried while
 * the log refuses it), so that appliers discard what was logged of it and
 * the node that prepared it rolls it back, in log order.
 *
 * On leadership loss: proposals in flight end as COMMIT_UNKNOWN (the
 * applier settles them by term); chunks delivered afterwards are not
 * proposed (COMMIT_REFUSED for a final one).  Either way the slot is
 * confirmed past them: a re-sent copy could never be logged again, and
 * WAL must not pile up behind the slot.
 *
 * A node whose local server stays unreachable for SERVER_DOWN_EXIT_S
 * while the capture restarts stops (exit 1), so that its peers elect a
 * primary that can take writes.
 */
#ifndef SYNC_COMMIT_H
#define SYNC_COMMIT_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct pgq_config;
struct sync_node;
struct commit;

enum commit_result
{
	COMMIT_OK = 0,
	COMMIT_UNKNOWN,				/* outcome unknown: leadership lost */
	COMMIT_TIMEOUT,				/* not decoded in time */
	COMMIT_REFUSED,				/* the log refused it (not primary, too big) */
};

typedef void (*commit_done_cb) (void *arg, enum commit_result result, uint64_t index);

#define COMMIT_WAIT_TIMEOUT_MS 30000
#define COMMIT_WAIT_MAX_MS 600000	/* while the capture makes progress */
#define COMMIT_MAX_WAITERS 65536
#define COMMIT_GID_PREFIX_FMT "pgq_%u_"

struct commit_stats
{
	uint64_t	proposed_chunks;
	uint64_t	committed_txns;
	uint64_t	unknown_txns;
	uint64_t	timeouts;
	uint64_t	skipped_not_primary;
	int64_t		decode_lag_ms;
	uint64_t	capture_lag_bytes;
	const char *capture_state;
};

struct commit *commit_start(struct ev_loop *loop, const struct pgq_config *cfg,
							struct sync_node *node, char *err, size_t errlen);
/*
 * "pgq_<node>_<term>_<n>" (sync/txn_codec.h) into buf, with the current
 * term; -1 when this node is not the writable primary.
 */
int			commit_new_gid(struct commit *c, char *buf, size_t len);
/*
 * cb runs exactly once, later, on the loop (also if the chunk came first).
 * Returns -1 (cb never runs) when too many sessions are waiting.
 */
int			commit_wait(struct commit *c, const char *txn_id, commit_done_cb cb, void *arg);
void		commit_stats(struct commit *c, struct commit_stats *out);
/* Is database db's capture stream streaming (writes to it can commit)? */
bool		commit_captures(struct commit *c, const char *db);
void		commit_stop(struct commit *c);

#endif							/* SYNC_COMMIT_H */
