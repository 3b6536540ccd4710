/*
 * capture_set.h
 *	  Capture from every database of the local server: one capture_stream
 *	  (one slot, one publication) per database, behind the interface of a
 *	  single stream.
 *
 * Logical decoding works per database, so every database that accepts
 * connections and is not a template gets its own slot, named
 * <slot_name>_<database oid> (slot names are per server), and its own
 * publication (created by its stream when missing).  The set lists the databases at
 * start and again every CAPTURE_SET_RELIST_MS on a non-blocking libpq
 * connection, and starts a stream for each new one (a database made with
 * CREATE DATABASE is captured within that time; writes into it before are
 * refused by no one, so the write path waits for it: see docs/capture.md).
 *
 * Chunk ids: the set numbers the chunks of all its streams 1, 2, 3 ... in
 * delivery order and keeps which stream (and which id there) each one came
 * from; capture_set_confirm(N) confirms, on each stream, its chunks among
 * the set's ids <= N.
 *
 * Errors: a failed stream (or listing) fails the whole set: on_error runs
 * once and the caller frees the set and makes a new one, as for a stream.
 */
#ifndef SYNC_CAPTURE_SET_H
#define SYNC_CAPTURE_SET_H

#include "sync/capture_stream.h"

#define CAPTURE_SET_MAX_DBS		64
#define CAPTURE_SET_RELIST_MS	2000

struct capture_set;

/* tmpl: as for one stream; its dbname is ignored (each stream gets its own). */
struct capture_set *capture_set_new(struct ev_loop *loop,
									const struct capture_stream_config *tmpl,
									capture_stream_chunk_fn on_chunk,
									capture_stream_error_fn on_error, void *arg);
int			capture_set_start(struct capture_set *set);
void		capture_set_confirm(struct capture_set *set, uint64_t chunk_id);
/* Summed over the streams; state: the least advanced one (FAILED first). */
void		capture_set_stats(const struct capture_set *set,
							  struct capture_stream_stats *out);
int			capture_set_databases(const struct capture_set *set);
/* Is db's stream streaming? */
bool		capture_set_streaming(const struct capture_set *set, const char *db);
void		capture_set_free(struct capture_set *set);

#endif							/* SYNC_CAPTURE_SET_H */
