/*
 * wal_int.h
 *	  Internals of the wal shared by wal.c (API, queue, reads),
 *	  wal_writer.c (writer thread, segments) and wal_recover.c (open).
 *	  Not for other modules.
 *
 * LOCKS.  q_lock guards the queue and the "view" (bounds as seen by
 * callers, persisted index, failed state, stats counters).  seg_lock (a
 * rwlock) guards segs[] and pos[]: readers hold it shared during pread;
 * only the writer thread changes them, exclusively.  Order: q_lock is never
 * taken while seg_lock is held by the same thread.  seg.write_off and
 * seg.n_entries are private to the writer thread (and to wal_open).
 * persisted, failed, stopping and view_last are written under q_lock with
 * atomic stores, so wal_wait_persisted can read them without it.
 *
 * spare_lock guards the spare-segment fields (see SPARE below); it is a
 * leaf: never held while taking another lock, nor taken under one.
 *
 * An appended entry is always in the queue or in pos[] (or both): the
 * writer adds positions to pos[] before it pops the items from the queue.
 */
#ifndef WAL_WAL_INT_H
#define WAL_WAL_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "wal/wal.h"

#define WAL_WAIT_BUCKETS 1024

/*
 * WAKE-UPS.  A waiter for index i registers in bucket i % WAL_WAIT_BUCKETS
 * (waiters++), then sleeps on the futex word seq while persisted < i.  The
 * writer stores persisted (after the fdatasync), signals the eventfd and
 * wakes at most one registered waiter; every thread that leaves or enters
 * a sleep in wal_wait_persisted wakes up to two more (wal_wake_help), so
 * the waiters of a batch are woken as a tree by the waiters themselves,
 * on other CPUs, while the writer already writes and syncs the next
 * batch.  The cursor woken_upto walks the persisted range once; it goes
 * back with persisted on a truncation.  All fields are accessed with seq_cst atomics: a waiter
 * does waiters++ then reads seq then persisted; a waker reads persisted,
 * then seq++ then reads waiters, so either the waiter sees the new
 * persisted or the waker sees the waiter (and futex_wake reaches it, or its
 * futex_wait sees seq changed).  When no thread waits at all (n_waiting is
 * 0, the event-loop caller that uses the eventfd), the cursor jumps to
 * persisted at once instead of walking it: a waiter does n_waiting++
 * before it reads persisted, so one that the waker did not count sees the
 * new persisted itself.
 */
struct wal_wait_bucket
{
	uint32_t	seq;			/* futex word, bumped by each wake */
	uint32_t	waiters;		/* threads registered in this bucket */
};

/*
 * SPARE.  A helper thread (wal_spare_main, started by wal_open) keeps the
 * next segment ready: WAL_SPARE_NAME, segment_size bytes, preallocated,
 * zero-filled, fdatasync'ed, directory fsynced (wal_format.h, SPARE
 * SEGMENT).  A roll to a segment of the configured size takes it (waiting
 * while it is being made), writes the header, fdatasyncs, renames and
 * fsyncs the directory, then asks for the next one.  States:
 *	WANTED -> (helper) BUSY -> READY | FAILED -> (writer takes it) IDLE
 *	-> (after a roll) WANTED.
 * A FAILED spare is logged; the writer then makes the spare itself, on its
 * own thread, and only a failure there fails the log (ENOSPC is reported
 * as before, at the roll that needs the space).
 */
enum wal_spare_state
{
	WAL_SPARE_IDLE,				/* nobody makes one; none on disk */
	WAL_SPARE_WANTED,			/* the helper should make one */
	WAL_SPARE_BUSY,				/* the helper is making it */
	WAL_SPARE_READY,			/* on disk and synced; spare_fd is open */
	WAL_SPARE_FAILED,			/* the helper could not (spare_msg) */
};

struct wal_seg
{
	uint64_t	first_index;
	uint64_t	n_entries;		/* writer-private */
	uint64_t	write_off;		/* writer-private: end of the last record */
	uint64_t	file_size;
	int			fd;
};

/* Where an entry lives; pos[i] is for index disk_first + i. */
struct wal_pos
{
	uint64_t	term;
	uint64_t	off;
	uint32_t	seg_id;			/* segs[seg_id - seg_base_id] */
	uint32_t	size;			/* aligned record size */
};

enum wal_item_kind
{
	WAL_ITEM_APPEND,
	WAL_ITEM_TRUNCATE,
	WAL_ITEM_COMPACT,
	WAL_ITEM_BARRIER,
};

/* A caller waiting for a command; lives on the caller's stack. */
struct wal_waiter
{
	bool		done;
	int			rc;
};

struct wal_item
{
	enum wal_item_kind kind;
	uint32_t	type;
	uint32_t	len;
	uint64_t	index;			/* entry index, or the command's argument */
	uint64_t	term;
	uint8_t    *rec;			/* APPEND: the encoded record (wal_format.h),
								 * wal_record_size(len) bytes, made by
								 * wal_append; owned by the queue */
	struct wal_waiter *waiter;	/* borrowed; NULL for APPEND and COMPACT */
};

struct wal
{
	char	   *dir;
	int			dir_fd;
	struct wal_options opt;

	pthread_rwlock_t seg_lock;
	struct wal_seg *segs;
	size_t		n_segs;
	size_t		cap_segs;
	uint32_t	seg_base_id;
	struct wal_pos *pos;
	size_t		n_pos;
	size_t		cap_pos;
	uint64_t	disk_first;		/* index of pos[0] (or of an empty log's seg) */

	pthread_mutex_t q_lock;
	pthread_cond_t q_work;		/* writer waits for items */
	pthread_cond_t q_space;		/* appenders wait for room */
	pthread_cond_t q_done;		/* commands, flush */
	/* wal_wait_persisted(i) sleeps on p_wait[i % WAL_WAIT_BUCKETS], without
	 * q_lock, so a batch wakes only the waiters it persisted (see
	 * WAKE-UPS below). */
	struct wal_wait_bucket p_wait[WAL_WAIT_BUCKETS];
	pthread_mutex_t wake_lock;	/* guards woken_upto; taken alone */
	uint64_t	woken_upto;		/* buckets of indexes <= this were woken */
	uint32_t	n_waiting;		/* threads in wal_wait_persisted (atomic) */
	struct wal_item *ring;
	size_t		ring_mask;		/* capacity - 1 (power of two) */
	uint64_t	head;			/* next item for the writer */
	uint64_t	tail;			/* next free slot */
	uint64_t	q_entries;
	uint64_t	q_bytes;
	uint64_t	view_first;		/* 0 when the log is empty */
	uint64_t	view_last;
	uint64_t	persisted;		/* also read atomically without q_lock */
	bool		stopping;
	bool		failed;
	int			fail_code;
	char		fail_msg[512];
	struct wal_stats st;		/* counters only; bounds filled on read */

	pthread_t	writer;
	bool		writer_started;
	uint64_t	idle_since;		/* under q_lock: writer idle since (ns), or 0 */
	int			efd;
	/* the spare segment, under spare_lock (see SPARE) */
	pthread_mutex_t spare_lock;
	pthread_cond_t spare_cond;	/* state changes, stop */
	enum wal_spare_state spare_state;
	int			spare_fd;		/* READY: the open spare; else -1 */
	bool		spare_stop;		/* also read atomically while zero-filling */
	uint64_t	spare_waits;	/* rolls that found no READY spare */
	char		spare_msg[512]; /* FAILED: why */
	pthread_t	spare_thread;
	bool		spare_started;
	/* writer-private */
	uint8_t    *wbuf;
	size_t		wbuf_cap;
	struct wal_pos *wpos;		/* positions of the batch being written */
	size_t		wpos_cap;
	uint8_t   **wfree;			/* records of the last batch, freed once it
								 * is published (out of q_lock) */
	size_t		wfree_cap;
	size_t		n_wfree;
};

/* wal_writer.c */
uint64_t	wal_mono_ns(void);
void	   *wal_writer_main(void *arg);
int			wal_seg_create(struct wal *w, uint64_t first_index, uint64_t size,
						   struct wal_seg *seg);
int			wal_fail(struct wal *w, int code, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
bool		wal_grow(void **arr, size_t *cap, size_t need, size_t elem);
void		wal_wake_help(struct wal *w, unsigned budget);
void		wal_wake_all(struct wal *w);
void		wal_wake_reset(struct wal *w, uint64_t persisted);
void		wal_futex_wait(uint32_t *word, uint32_t seen);
void	   *wal_spare_main(void *arg);
void		wal_spare_stop(struct wal *w);

/* wal_recover.c */
int			wal_recover(struct wal *w);

#endif							/* WAL_WAL_INT_H */
