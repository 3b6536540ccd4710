/*
 * applier.h
 *	  Applies committed log entries to the local PostgreSQL, in log order,
 *	  exactly once.
 *
 * INTERFACE ROUTINES
 *	applier_start	- connect, read the applied index, start the worker
 *	applier_submit	- queue one committed entry (payload copied)
 *	applier_applied	- highest index applied durably (for views)
 *	applier_stats	- batches committed and the entries in them (for views)
 *	applier_stop	- finish what is queued, stop, free
 *
 * A worker thread with blocking libpq connections (one per database) does
 * the work, so the event loop never waits for PostgreSQL.  Progress is the
 * replication origin "pgquorum": each applied batch records its last log
 * index with pg_replication_origin_xact_setup inside its own commit
 * (COMMIT PREPARED included), so a crash at any moment neither repeats nor
 * skips an entry, and every change the applier makes is tagged with that
 * origin, which the capture skips.  The log index is stored as the LSN
 * 0/index.
 *
 * Entries, by payload (sync/txn_codec.h):
 *	- a CHUNK whose gid is a transaction prepared on this server (this node
 *	  was primary and prepared it): COMMIT PREPARED;
 *	- other CHUNKs: their changes, batched with neighbouring entries of the
 *	  same database in one transaction (at most APPLIER_BATCH_ENTRIES);
 *	  the chunks of one transaction stay in one transaction;
 *	- an ABORT: the open multi-chunk transaction is rolled back, and a
 *	  transaction prepared here under that gid is rolled back;
 *	- a STATEMENT (CREATE DATABASE, VACUUM ...): run on its own, outside
 *	  a transaction block, as the entry's role, with the applier's other
 *	  connections closed; then the origin is advanced.  Its outcome (the
 *	  command tag, or an error every server gets alike) is kept for
 *	  applier_statement_outcome; an error that depends on the moment
 *	  (object in use, lock, cancel) is tried again for a while; any other
 *	  failure stops the applier;
 *	- SEQUENCES: setval in the batch;
 *	- an opaque test entry (first byte 0, from the control socket): skipped.
 * Resolution of prepared transactions (docs/design.md, "The write path"):
 * the chunks of a gid "pgq_<node>_<term>_<n>" are logged only in that term.
 * Before the first entry of a term t above every term seen (the new
 * primary's no-op is handed as a marker, so this happens before that
 * primary takes writes; at start the term of the last applied entry is
 * handed the same way), every transaction this node prepared in an
 * earlier term that is still pending is rolled back: the entries before
 * this one are fixed and applied, so its final chunk will never come.  An
 * unfinished multi-chunk transaction of an earlier term is discarded
 * likewise.  This is what resolves the orphans of killed clients and of a
 * primary that lost its role, and it runs before any entry that could wait
 * on their locks.  After 5 s without entries it runs again for the term
 * reached (the rule holds at any time after that term's entry), which
 * also notices a server that went away while the node is idle.
 *
 * A payload that fails to decode, or a change that does not apply as on
 * the primary (an UPDATE or DELETE that finds no row), stops the applier:
 * the node keeps serving but applies nothing more, and says so in its log
 * and status.  Servers never silently diverge.
 *
 * A connection to the local server that breaks stops the node (exit
 * status 1, after a log line): it can neither apply nor take writes, and
 * its peers elect another primary; started again, it resumes from the
 * position recorded in the server.
 *
 * done_cb runs on the loop each time the applied index moves.
 */
#ifndef SYNC_APPLIER_H
#define SYNC_APPLIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct applier;

#define APPLIER_BATCH_ENTRIES 256
#define APPLIER_QUEUE_BYTES (256u << 20)
#define APPLIER_OPAQUE_PREFIX 0x00	/* first byte of a test entry */

#define APPLIER_OUTCOMES 64

typedef void (*applier_done_cb) (void *arg, uint64_t applied);

/* How a STATEMENT entry ended on this node. */
struct applier_outcome
{
	uint64_t	index;
	bool		ok;
	char		sqlstate[6];	/* "00000" when ok */
	char		text[256];		/* the command tag, or the error message */
};

/*
 * conninfo: libpq connection string of the local server (its dbname is the
 * first database connected).  node_id: this node (gids it prepared start
 * with "pgq_<node_id>_").  On success *applied is the index recorded by the
 * server; the caller hands entries from applied + 1 on.
 */
struct applier *applier_start(struct ev_loop *loop, const char *conninfo,
							  uint64_t node_id, applier_done_cb cb, void *arg,
							  uint64_t *applied, char *err, size_t errlen);
/*
 * Queue committed entry index of term (payload copied).  len 0: a new
 * primary's no-op, the marker of a term (nothing to apply but the
 * resolution below).  Returns false when the queue is over
 * APPLIER_QUEUE_BYTES (try later).
 */
bool		applier_submit(struct applier *a, uint64_t index, uint64_t term,
						   const void *payload, uint32_t len);
uint64_t	applier_applied(struct applier *a);
/* The outcome of the STATEMENT at index, if it is among the last ones. */
bool		applier_statement_outcome(struct applier *a, uint64_t index,
									  struct applier_outcome *out);
void		applier_stats(struct applier *a, uint64_t *batches, uint64_t *entries);
/* NULL while healthy; else why the applier stopped (static until stop). */
const char *applier_failure(struct applier *a);
void		applier_stop(struct applier *a);

#endif							/* SYNC_APPLIER_H */
