/*
 * wal.h
 *	  The replicated log on disk: segments, group commit, truncation,
 *	  compaction, durable hard state.  Knows nothing of PostgreSQL, sockets
 *	  or the event loop.  Byte layout and recovery: wal/wal_format.h.
 *
 * INTERFACE ROUTINES
 *	wal_options_init	- fill options with the defaults
 *	wal_open			- open or create a log directory, recover, start writer
 *	wal_close			- flush queued entries, stop the writer, free
 *	wal_append			- queue one entry (copied); returns at once
 *	wal_persisted_index - highest index covered by a finished fdatasync
 *	wal_eventfd			- fd that becomes readable when that index moves
 *	wal_wait_persisted	- block until an index is persisted (not for the loop)
 *	wal_flush			- block until everything queued so far is processed
 *	wal_read			- copy entries [lo, hi] out (queued ones included)
 *	wal_entries_free	- free what wal_read returned
 *	wal_term			- term of one index
 *	wal_first_index / wal_last_index - bounds of the log (queued included)
 *	wal_truncate_suffix - remove entries >= index, durably, in queue order
 *	wal_compact			- remove whole segments holding only entries < index
 *	wal_hardstate_load / wal_hardstate_save - term, vote, membership
 *	wal_stats			- counters for admin views
 *	wal_strerror / wal_errmsg - messages for error codes
 *	wal_set_io_ops		- fault-injection seam (tests only), in wal_io.h
 *
 * THREADS.  Every routine may be called from any thread; a struct wal is
 * shared.  One writer thread, owned by the wal, does all writes and
 * fdatasyncs of log entries, in batches (group commit).  A second one
 * prepares the next segment file ahead of time (zero-filled spare), so a
 * segment roll does not stall the batches.  Routines that block
 * on disk or on the writer are marked BLOCKS; the event loop must only use
 * the others (append, persisted_index, eventfd, read of recent entries,
 * term, first/last index, stats, compact).  wal_open (recovery, which may
 * zero a torn tail and fdatasync), wal_hardstate_save (fsync of the state
 * file and directory) and wal_close fsync on the caller's thread: call them
 * at start-up, on a vote or term change, and at shutdown.
 *
 * INDEXES.  The caller (the consensus layer) assigns indexes.  An append
 * must carry last_index + 1; on an empty log (never written, or truncated
 * to nothing) any index >= 1 starts it.  Bounds and reads see the QUEUED
 * view: an entry is readable as soon as wal_append returned, even before it
 * is persisted.  An empty log has first = last = 0.
 *
 * ERRORS.  Routines return WAL_OK (0) or a positive enum wal_err; the
 * message of the last failing call on THIS thread is in wal_errmsg().  A
 * failed write, fdatasync or preallocation puts the log in the failed
 * state for good: the persisted index stops, every later append, read,
 * truncate and compact returns WAL_EFAILED (never a retry of a failed
 * fsync, which could hide lost data); close and reopen (recovery) to go on.
 */
#ifndef WAL_WAL_H
#define WAL_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wal/wal_format.h"

#define WAL_ERRORS(X) \
	X(WAL_OK, "ok") \
	X(WAL_EAGAIN, "append queue full, try again after persisted index moves") \
	X(WAL_EINVAL, "invalid argument") \
	X(WAL_ERANGE, "index out of range") \
	X(WAL_EINDEX, "index not contiguous with the log") \
	X(WAL_ETOOBIG, "payload larger than the configured maximum") \
	X(WAL_ENOSPC, "no space left on device") \
	X(WAL_EIO, "I/O error") \
	X(WAL_ECORRUPT, "corrupt log or hard state") \
	X(WAL_EMISSING, "missing or unreadable file") \
	X(WAL_ENOENT, "no hard state saved yet") \
	X(WAL_ENOMEM, "out of memory") \
	X(WAL_EFAILED, "log failed earlier and accepts no more work; reopen it") \
	X(WAL_ECLOSED, "log is closing")

enum wal_err
{
#define X(code, msg) code,
	WAL_ERRORS(X)
#undef X
	WAL_N_ERRORS
};

struct wal;

/*
 * Called on the WRITER THREAD after the persisted index moved (arg is the
 * new index) or once when the log failed (persisted unchanged, failed true).
 * Must be quick and must not call back into the wal except
 * wal_persisted_index() and wal_stats().
 */
typedef void (*wal_persisted_cb) (void *arg, uint64_t persisted, bool failed);

struct wal_options
{
	uint64_t	segment_size;	/* bytes; default 64 MiB, min 64 KiB */
	uint32_t	max_payload;	/* bytes; default 64 MiB */
	uint32_t	queue_max_entries;	/* default 65536 */
	uint64_t	queue_max_bytes;	/* payload bytes queued; default 256 MiB */
	uint32_t	batch_max_entries;	/* per fdatasync; default 4096 */
	uint64_t	batch_max_bytes;	/* per fdatasync; default 16 MiB */
	wal_persisted_cb persisted_cb;	/* optional, see above */
	void	   *persisted_cb_arg;	/* borrowed until wal_close */
};

/* One entry returned by wal_read; payload owned by the array (see free). */
struct wal_entry
{
	uint64_t	index;
	uint64_t	term;
	uint32_t	type;
	uint32_t	length;
	uint8_t    *payload;
};

struct wal_stats
{
	uint64_t	entries_appended;	/* accepted by wal_append since open */
	uint64_t	fsyncs;			/* fdatasync calls done by the writer */
	uint64_t	batches;		/* batches written (each ends in a sync) */
	uint64_t	batched_entries;	/* entries written in those batches */
	uint64_t	bytes_on_disk;	/* sum of segment file sizes */
	uint64_t	segments;
	uint64_t	first_index;
	uint64_t	last_index;
	uint64_t	persisted_index;
	uint64_t	queued_entries;
	bool		failed;
	bool		spare_ready;	/* the next segment is prepared (not counted
								 * in segments / bytes_on_disk) */
	uint64_t	spare_waits;	/* segment rolls that had to wait for it */
	/* Where the writer thread's time went since open (monotonic ns). */
	uint64_t	writer_idle_ns; /* waiting for work (empty queue) */
	uint64_t	writer_write_ns;	/* in pwrite of batches */
	uint64_t	writer_sync_ns; /* in fdatasync of batches */
	uint64_t	writer_roll_ns; /* making new segments (rolls) */
};

/* wal_append flags */
#define WAL_APPEND_BLOCK 0x1	/* wait for queue space instead of WAL_EAGAIN */

void		wal_options_init(struct wal_options *opt);

/*
 * BLOCKS.  Opens dir (created if missing; the parent must exist), recovers
 * (wal_format.h), starts the writer.  opt may be NULL (defaults); it is
 * copied.  On success *out is owned by the caller until wal_close.
 */
int			wal_open(const char *dir, const struct wal_options *opt,
					 struct wal **out);

/* BLOCKS.  Writes and syncs what is queued, stops the writer, frees w. */
void		wal_close(struct wal *w);

/*
 * Queues entry (index, term, type, payload[0..len)); payload is copied
 * (borrowed until return) into the encoded record, whose CRC-32C is
 * computed here, on the caller's thread (the writer only copies records
 * into its batch).  Returns WAL_OK, WAL_EINDEX (index !=
 * last_index + 1), WAL_ETOOBIG, WAL_EAGAIN (queue full; nothing queued),
 * WAL_EFAILED, WAL_ECLOSED, WAL_ENOMEM.  With WAL_APPEND_BLOCK it waits for
 * queue space instead of WAL_EAGAIN.
 */
int			wal_append(struct wal *w, uint64_t index, uint64_t term,
					   uint32_t type, const void *payload, uint32_t len,
					   unsigned flags);

/* Never blocks.  0 when nothing is persisted. */
uint64_t	wal_persisted_index(struct wal *w);

/*
 * Non-blocking eventfd, owned by w (do not close).  The writer adds to it
 * each time the persisted index moves or the log fails; read(2) it to reset,
 * then call wal_persisted_index().
 */
int			wal_eventfd(struct wal *w);

/* BLOCKS until persisted >= index (WAL_OK) or the log failed/closed. */
int			wal_wait_persisted(struct wal *w, uint64_t index);

/* BLOCKS until every item queued before the call is written and synced. */
int			wal_flush(struct wal *w);

/*
 * Copies entries lo..hi (inclusive) into a new array *out (n in *n_out),
 * stopping early after max_bytes of payload (at least one entry is returned;
 * 0 = no limit).  Entries read from disk are checked (CRC, index) again.
 * Returns WAL_ERANGE when lo is outside [first, last] or lo > hi.  *out is
 * returned owned: free with wal_entries_free.  Does not wait for the writer
 * (disk reads may take a while; prefer a worker for long catch-up reads).
 */
int			wal_read(struct wal *w, uint64_t lo, uint64_t hi, size_t max_bytes,
					 struct wal_entry **out, size_t *n_out);
void		wal_entries_free(struct wal_entry *entries, size_t n);

/* Term of index into *term; WAL_ERANGE when the index is not in the log. */
int			wal_term(struct wal *w, uint64_t index, uint64_t *term);

uint64_t	wal_first_index(struct wal *w);
uint64_t	wal_last_index(struct wal *w);

/*
 * BLOCKS.  Removes every entry >= index: goes through the writer queue in
 * order (entries queued before it are written first, then removed), and
 * returns only once the removal is durable.  After it returns
 * last_index = index - 1 and persisted_index <= index - 1; appends then
 * continue at index.  index must be in [first, last + 1] (last + 1: no-op).
 * Removing everything leaves an empty log.
 */
int			wal_truncate_suffix(struct wal *w, uint64_t index);

/*
 * Queues removal of the prefix below index and returns at once: whole
 * segments whose entries are all < index are deleted (never the last
 * segment), so first_index moves to the start of the segment holding
 * index, later, when the writer gets to it.  Entries >= index are kept.
 */
int			wal_compact(struct wal *w, uint64_t index);

/*
 * Hard state in dir/hardstate (read at any time; dir need not hold a log).
 * load returns WAL_ENOENT when none was saved, WAL_ECORRUPT with a message
 * when the file fails validation.  save BLOCKS (fsyncs) and is atomic:
 * after a crash the old or the new state is read, never a mix.
 */
int			wal_hardstate_load(const char *dir, struct wal_hardstate *hs);
int			wal_hardstate_save(const char *dir, const struct wal_hardstate *hs);

void		wal_stats(struct wal *w, struct wal_stats *st);

/* Static string for a code. */
const char *wal_strerror(int err);

/* Detailed message of the last failing wal call on this thread. */
const char *wal_errmsg(void);

#endif							/* WAL_WAL_H */
