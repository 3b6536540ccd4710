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
 *	  a transaction block; then the origin is advanced;
 *	- SEQUENCES: setval in the batch;
 *	- an opaque test entry (first byte 0, from the control socket): skipped.
 * A payload that fails to decode, or a change that does not apply as on
 * the primary (an UPDATE or DELETE that finds no row), stops the applier:
 * the node keeps serving but applies nothing more, and says so in its log
 * and status.  Servers never silently diverge.
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

typedef void (*applier_done_cb) (void *arg, uint64_t applied);

/*
 * conninfo: libpq connection string of the local server (its dbname is the
 * first database connected).  node_id: this node (gids it prepared start
 * with "pgq_<node_id>_").  On success *applied is the index recorded by the
 * server; the caller hands entries from applied + 1 on.
 */
struct applier *applier_start(struct ev_loop *loop, const char *conninfo,
							  uint64_t node_id, applier_done_cb cb, void *arg,
							  uint64_t *applied, char *err, size_t errlen);
/* Returns false when the queue is over APPLIER_QUEUE_BYTES (try later). */
bool		applier_submit(struct applier *a, uint64_t index, const void *payload,
						   uint32_t len);
uint64_t	applier_applied(struct applier *a);
void		applier_stats(struct applier *a, uint64_t *batches, uint64_t *entries);
/* NULL while healthy; else why the applier stopped (static until stop). */
const char *applier_failure(struct applier *a);
void		applier_stop(struct applier *a);

#endif							/* SYNC_APPLIER_H */
