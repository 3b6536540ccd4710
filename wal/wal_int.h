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
	uint8_t    *payload;		/* owned by the queue */
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
	/* wal_wait_persisted(i) waits on p_cond[i % WAL_WAIT_BUCKETS], so a
	 * batch wakes only the waiters it persisted. */
	pthread_cond_t p_cond[WAL_WAIT_BUCKETS];
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
	int			efd;
	/* writer-private */
	uint8_t    *wbuf;
	size_t		wbuf_cap;
	struct wal_pos *wpos;		/* positions of the batch being written */
	size_t		wpos_cap;
};

/* wal_writer.c */
void	   *wal_writer_main(void *arg);
int			wal_seg_create(struct wal *w, uint64_t first_index, uint64_t size,
						   struct wal_seg *seg);
int			wal_fail(struct wal *w, int code, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
bool		wal_grow(void **arr, size_t *cap, size_t need, size_t elem);
void		wal_wake_persisted(struct wal *w, uint64_t from, uint64_t to);

/* wal_recover.c */
int			wal_recover(struct wal *w);

#endif							/* WAL_WAL_INT_H */
