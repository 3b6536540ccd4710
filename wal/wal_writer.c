/*
 * wal_writer.c
 *	  The writer thread: takes batches from the queue, writes the records
 *	  into segments, fdatasyncs once per batch (group commit), publishes
 *	  the positions, then the persisted index.  Also runs the queued
 *	  commands (truncate suffix, compact prefix, barrier) in queue order,
 *	  and rolls segments.  The spare-segment helper thread, which prepares
 *	  the next segment off the writer's path, is here too.  See wal_int.h
 *	  for the locking rules.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/pgq_assert.h"
#include "common/pgq_log.h"
#include "wal/wal_format.h"
#include "wal/wal_int.h"
#include "wal/wal_io.h"

/* Monotonic clock in ns, for the writer's time counters (wal_stats). */
uint64_t
wal_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

/* Adds the time since *since to *counter and moves *since to now. */
static void
time_add(uint64_t *counter, uint64_t *since)
{
	uint64_t	now = wal_mono_ns();

	__atomic_fetch_add(counter, now - *since, __ATOMIC_RELAXED);
	*since = now;
}

bool
wal_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t		n = *cap ? *cap : 16;
	void	   *p;

	if (need <= *cap)
		return true;
	while (n < need)
		n *= 2;
	p = realloc(*arr, n * elem);
	if (p == NULL)
		return false;
	*arr = p;
	*cap = n;
	return true;
}

void
wal_futex_wait(uint32_t *word, uint32_t seen)
{
	/* EAGAIN (word changed), EINTR or a spurious return: callers recheck. */
	(void) syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
}

/* Bumps a bucket's seq; true when a waiter was registered (and woken). */
static bool
wake_bucket(struct wal_wait_bucket *b)
{
	__atomic_fetch_add(&b->seq, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&b->waiters, __ATOMIC_SEQ_CST) == 0)
		return false;
	(void) syscall(SYS_futex, &b->seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
	return true;
}

/*
 * Walks the cursor through the persisted range, waking the buckets of
 * persisted indexes, until budget registered waiters were reached or the
 * range is done (see WAKE-UPS in wal_int.h).  Any thread, no lock held.
 */
void
wal_wake_help(struct wal *w, unsigned budget)
{
	if (__atomic_load_n(&w->n_waiting, __ATOMIC_SEQ_CST) == 0)
	{
		uint64_t	p = __atomic_load_n(&w->persisted, __ATOMIC_SEQ_CST);

		pthread_mutex_lock(&w->wake_lock);
		if (w->woken_upto < p)
			w->woken_upto = p;
		pthread_mutex_unlock(&w->wake_lock);
		return;
	}
	while (budget > 0)
	{
		uint64_t	k;

		if (__atomic_load_n(&w->woken_upto, __ATOMIC_SEQ_CST) >=
			__atomic_load_n(&w->persisted, __ATOMIC_SEQ_CST))
			return;
		pthread_mutex_lock(&w->wake_lock);
		if (w->woken_upto >= __atomic_load_n(&w->persisted, __ATOMIC_SEQ_CST))
		{
			pthread_mutex_unlock(&w->wake_lock);
			return;
		}
		k = ++w->woken_upto;
		pthread_mutex_unlock(&w->wake_lock);
		if (wake_bucket(&w->p_wait[k % WAL_WAIT_BUCKETS]))
			budget--;
	}
}

/* Wakes every waiter (failure, close); they recheck the state. */
void
wal_wake_all(struct wal *w)
{
	for (size_t i = 0; i < WAL_WAIT_BUCKETS; i++)
		wake_bucket(&w->p_wait[i]);
}

/* After persisted went back (truncation): the cursor follows it. */
void
wal_wake_reset(struct wal *w, uint64_t persisted)
{
	pthread_mutex_lock(&w->wake_lock);
	if (w->woken_upto > persisted)
		w->woken_upto = persisted;
	pthread_mutex_unlock(&w->wake_lock);
}

static void
notify(struct wal *w, uint64_t persisted, bool failed)
{
	uint64_t	one = 1;

	if (write(w->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pgq_warn("wal: eventfd write failed: %s", strerror(errno));
	if (w->opt.persisted_cb)
		w->opt.persisted_cb(w->opt.persisted_cb_arg, persisted, failed);
}

/*
 * Puts the log in the failed state for good (first failure wins), wakes
 * every waiter and returns code.  Called without q_lock.
 */
int
wal_fail(struct wal *w, int code, const char *fmt,...)
{
	va_list		ap;
	bool		first;
	uint64_t	persisted;

	pthread_mutex_lock(&w->q_lock);
	first = !w->failed;
	if (first)
	{
		w->fail_code = code;
		va_start(ap, fmt);
		vsnprintf(w->fail_msg, sizeof(w->fail_msg), fmt, ap);
		va_end(ap);
		__atomic_store_n(&w->failed, true, __ATOMIC_SEQ_CST);
	}
	persisted = w->persisted;
	pthread_cond_broadcast(&w->q_space);
	pthread_cond_broadcast(&w->q_done);
	pthread_mutex_unlock(&w->q_lock);
	wal_wake_all(w);
	if (first)
	{
		pgq_error("wal %s: failed, no more writes until reopened: %s",
				  w->dir, w->fail_msg);
		notify(w, persisted, true);
	}
	return code;
}

static int
pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len > 0)
	{
		ssize_t		n = wal_io.pwrite(fd, p, len, (off_t) off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
		{
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t) n;
		off += (uint64_t) n;
	}
	return 0;
}

static int
sync_fd(struct wal *w, int fd)
{
	uint64_t	t = wal_mono_ns();
	int			rc = wal_io.fdatasync(fd);

	time_add(&w->st.writer_sync_ns, &t);
	__atomic_fetch_add(&w->st.fsyncs, 1, __ATOMIC_RELAXED);
	return rc;
}

static int
io_fail(struct wal *w, const char *what, uint64_t first_index, uint64_t off)
{
	int			e = errno;
	char		name[WAL_SEG_NAME_LEN + 1];

	wal_segment_name(first_index, name);
	return wal_fail(w, wal_errno_code(e), "%s of %s/%s at offset %llu: %s",
					what, w->dir, name, (unsigned long long) off, strerror(e));
}

/*
 * Writes zeros over [from, size) of fd.  A preallocated (fallocate) range
 * is "unwritten" on ext4 and xfs: the first write into each block converts
 * the extent, so every fdatasync of a batch would also have to commit that
 * metadata (a journal commit, measured at 3-4x the cost of a plain data
 * fdatasync).  Writing real zeros once at creation makes every later batch
 * an overwrite of written blocks, as PostgreSQL does for its WAL segments.
 *
 * stop is NULL on the writer thread.  For the spare (helper thread) it is
 * polled between chunks (true: give up with ECANCELED), and every ZPACE
 * bytes are pushed to the disk and waited for (sync_file_range, a hint
 * only: the fdatasync that follows reports any write-back error), so that
 * a spare made beside running batches never puts 64 MiB of dirty pages in
 * front of their fdatasyncs at once.
 */
static int
zero_fill(int fd, uint64_t from, uint64_t size, const bool *stop)
{
	enum
	{
		ZCHUNK = 1 << 20,
		ZPACE = 4 << 20
	};
	uint8_t    *zeros = calloc(1, ZCHUNK);
	uint64_t	paced = from;
	int			rc = 0;

	if (zeros == NULL)
	{
		errno = ENOMEM;
		return -1;
	}
	for (uint64_t off = from; off < size && rc == 0;)
	{
		uint64_t	len = size - off < ZCHUNK ? size - off : ZCHUNK;

		if (stop && __atomic_load_n(stop, __ATOMIC_RELAXED))
		{
			errno = ECANCELED;
			rc = -1;
			break;
		}
		rc = pwrite_all(fd, zeros, len, off);
		off += len;
		if (rc == 0 && stop && off - paced >= ZPACE)
		{
			(void) sync_file_range(fd, (off_t) paced, (off_t) (off - paced),
								   SYNC_FILE_RANGE_WAIT_BEFORE |
								   SYNC_FILE_RANGE_WRITE |
								   SYNC_FILE_RANGE_WAIT_AFTER);
			paced = off;
		}
	}
	free(zeros);
	return rc;
}

/*
 * The common end of making a segment: write the header of first_index into
 * fd, fdatasync, rename from to <first_index>.seg, fsync the directory,
 * so the name appears only once its header is durable.  On failure fd is
 * closed and from removed; returns a code with wal_errmsg set.
 */
static int
seg_install(struct wal *w, int fd, const char *from, uint64_t first_index,
			uint64_t size, struct wal_seg *seg)
{
	char		name[WAL_SEG_NAME_LEN + 1];
	uint8_t		hdr[WAL_SEG_HEADER_SIZE];
	struct wal_seg_header h = {.first_index = first_index, .segment_size = size};
	const char *what = "write header";
	int			e;

	wal_segment_name(first_index, name);
	wal_seg_header_encode(&h, hdr);
	if (pwrite_all(fd, hdr, sizeof(hdr), 0) != 0)
		goto fail;
	what = "fdatasync";
	if (wal_io.fdatasync(fd) != 0)
		goto fail;
	what = "rename";
	if (renameat(w->dir_fd, from, w->dir_fd, name) != 0)
		goto fail;
	what = "fsync directory";
	if (wal_io.fsync(w->dir_fd) != 0)
		goto fail;
	*seg = (struct wal_seg) {.first_index = first_index, .n_entries = 0,
	.write_off = WAL_SEG_HEADER_SIZE, .file_size = size, .fd = fd};
	return WAL_OK;
fail:
	e = errno;
	close(fd);
	unlinkat(w->dir_fd, from, 0);
	return wal_set_error(wal_errno_code(e), "cannot create segment %s/%s (%s): %s",
						 w->dir, name, what, strerror(e));
}

/*
 * Creates segment <first_index>.seg of size bytes: temp file, preallocate
 * (reserves the space, so ENOSPC shows here), zero-fill, header, fdatasync,
 * rename, fsync the directory.  Does not fail the log (the caller decides);
 * returns a code with wal_errmsg set.  Used for a segment larger than
 * segment_size (one big record); the others come from the spare.
 */
int
wal_seg_create(struct wal *w, uint64_t first_index, uint64_t size,
			   struct wal_seg *seg)
{
	char		name[WAL_SEG_NAME_LEN + 1],
				tmp[WAL_SEG_NAME_LEN + 8];
	const char *what = "open";
	int			fd,
				e;

	wal_segment_name(first_index, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(w->dir_fd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		goto fail;
	what = "preallocate";
	if (wal_io.fallocate(fd, 0, (off_t) size) != 0)
		goto fail;
	what = "zero-fill";
	if (zero_fill(fd, WAL_SEG_HEADER_SIZE, size, NULL) != 0)
		goto fail;
	return seg_install(w, fd, tmp, first_index, size, seg);
fail:
	e = errno;
	if (fd >= 0)
	{
		close(fd);
		unlinkat(w->dir_fd, tmp, 0);
	}
	return wal_set_error(wal_errno_code(e), "cannot create segment %s/%s (%s): %s",
						 w->dir, name, what, strerror(e));
}

/* ---- the spare segment (SPARE in wal_int.h) ---- */

/*
 * Makes WAL_SPARE_NAME: segment_size bytes, preallocated (ENOSPC shows
 * here), zero-filled (header bytes included), fdatasync'ed, directory
 * fsynced.  On success *out is the open file.  On failure nothing stays
 * on disk; returns a code with wal_errmsg set.  stop: see zero_fill.
 */
static int
spare_make(struct wal *w, int *out, const bool *stop)
{
	uint64_t	size = w->opt.segment_size;
	const char *what = "open";
	int			fd,
				e;

	fd = openat(w->dir_fd, WAL_SPARE_NAME, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
				0640);
	if (fd < 0)
		goto fail;
	what = "preallocate";
	if (wal_io.fallocate(fd, 0, (off_t) size) != 0)
		goto fail;
	what = "zero-fill";
	if (zero_fill(fd, 0, size, stop) != 0)
		goto fail;
	what = "fdatasync";
	if (wal_io.fdatasync(fd) != 0)
		goto fail;
	what = "fsync directory";
	if (wal_io.fsync(w->dir_fd) != 0)
		goto fail;
	*out = fd;
	return WAL_OK;
fail:
	e = errno;
	if (fd >= 0)
	{
		close(fd);
		unlinkat(w->dir_fd, WAL_SPARE_NAME, 0);
	}
	return wal_set_error(wal_errno_code(e), "cannot prepare the next segment "
						 "%s/%s (%s): %s", w->dir, WAL_SPARE_NAME, what,
						 strerror(e));
}

/* The helper thread: makes a spare each time one is WANTED. */
void *
wal_spare_main(void *arg)
{
	struct wal *w = arg;

	pthread_mutex_lock(&w->spare_lock);
	for (;;)
	{
		char		msg[sizeof(w->spare_msg)];
		int			fd = -1,
					rc;

		while (!w->spare_stop && w->spare_state != WAL_SPARE_WANTED)
			pthread_cond_wait(&w->spare_cond, &w->spare_lock);
		if (w->spare_stop)
			break;
		w->spare_state = WAL_SPARE_BUSY;
		pthread_mutex_unlock(&w->spare_lock);
		rc = spare_make(w, &fd, &w->spare_stop);
		snprintf(msg, sizeof(msg), "%s", rc == WAL_OK ? "" : wal_errmsg());
		if (rc != WAL_OK && !__atomic_load_n(&w->spare_stop, __ATOMIC_RELAXED))
			pgq_warn("wal %s: %s", w->dir, msg);
		pthread_mutex_lock(&w->spare_lock);
		w->spare_fd = fd;
		w->spare_state = rc == WAL_OK ? WAL_SPARE_READY : WAL_SPARE_FAILED;
		memcpy(w->spare_msg, msg, sizeof(msg));
		pthread_cond_broadcast(&w->spare_cond);
	}
	pthread_mutex_unlock(&w->spare_lock);
	return NULL;
}

/*
 * Stops the helper (an unfinished spare is abandoned and removed) and
 * removes a ready spare.  Called once the writer is stopped (or never ran).
 * Removing it needs no sync: recovery removes it too.
 */
void
wal_spare_stop(struct wal *w)
{
	if (w->spare_started)
	{
		pthread_mutex_lock(&w->spare_lock);
		__atomic_store_n(&w->spare_stop, true, __ATOMIC_RELAXED);
		pthread_cond_broadcast(&w->spare_cond);
		pthread_mutex_unlock(&w->spare_lock);
		pthread_join(w->spare_thread, NULL);
		w->spare_started = false;
	}
	if (w->spare_fd >= 0)
	{
		close(w->spare_fd);
		w->spare_fd = -1;
		unlinkat(w->dir_fd, WAL_SPARE_NAME, 0);
	}
}

/*
 * Writer: takes the spare into *fd, waiting while the helper makes it.
 * When the helper failed, makes it here (the failure counts only if it
 * happens again now).
 */
static int
spare_take(struct wal *w, int *fd)
{
	char		msg[sizeof(w->spare_msg)] = "";

	pthread_mutex_lock(&w->spare_lock);
	if (w->spare_state != WAL_SPARE_READY)
		w->spare_waits++;
	while (w->spare_state == WAL_SPARE_WANTED ||
		   w->spare_state == WAL_SPARE_BUSY)
		pthread_cond_wait(&w->spare_cond, &w->spare_lock);
	if (w->spare_state == WAL_SPARE_READY)
	{
		*fd = w->spare_fd;
		w->spare_fd = -1;
		w->spare_state = WAL_SPARE_IDLE;
		pthread_mutex_unlock(&w->spare_lock);
		return WAL_OK;
	}
	if (w->spare_state == WAL_SPARE_FAILED)
		memcpy(msg, w->spare_msg, sizeof(msg));
	w->spare_state = WAL_SPARE_IDLE;
	pthread_mutex_unlock(&w->spare_lock);
	if (msg[0])
		pgq_warn("wal %s: no spare segment (%s): making it on the writer thread",
				 w->dir, msg);
	return spare_make(w, fd, NULL);
}

/* Writer, after a roll: asks the helper for the next spare. */
static void
spare_want(struct wal *w)
{
	pthread_mutex_lock(&w->spare_lock);
	if (w->spare_state == WAL_SPARE_IDLE)
	{
		w->spare_state = WAL_SPARE_WANTED;
		pthread_cond_broadcast(&w->spare_cond);
	}
	pthread_mutex_unlock(&w->spare_lock);
}

/*
 * Makes segment <first_index>.seg of segment_size bytes out of the spare:
 * header, fdatasync, rename, fsync the directory (the order of
 * wal_seg_create: the name appears only once its header is durable).
 * Does not fail the log; returns a code with wal_errmsg set.
 */
static int
seg_from_spare(struct wal *w, uint64_t first_index, struct wal_seg *seg)
{
	char		name[WAL_SEG_NAME_LEN + 1];
	int			fd,
				rc = spare_take(w, &fd);

	if (rc != WAL_OK)
	{
		char		why[512];

		wal_segment_name(first_index, name);
		snprintf(why, sizeof(why), "%s", wal_errmsg());
		return wal_set_error(rc, "cannot create segment %s/%s: %s", w->dir,
							 name, why);
	}
	rc = seg_install(w, fd, WAL_SPARE_NAME, first_index, w->opt.segment_size, seg);
	if (rc == WAL_OK)
		spare_want(w);
	return rc;
}

/* Removes the empty last segment (its first index does not fit). */
static int
drop_empty_last(struct wal *w)
{
	struct wal_seg *s = &w->segs[w->n_segs - 1];
	char		name[WAL_SEG_NAME_LEN + 1];

	PGQ_ASSERT(s->n_entries == 0);
	wal_segment_name(s->first_index, name);
	pthread_rwlock_wrlock(&w->seg_lock);
	w->n_segs--;
	pthread_rwlock_unlock(&w->seg_lock);
	close(s->fd);
	if (unlinkat(w->dir_fd, name, 0) != 0 || wal_io.fsync(w->dir_fd) != 0)
		return wal_fail(w, wal_errno_code(errno), "cannot remove %s/%s: %s",
						w->dir, name, strerror(errno));
	return WAL_OK;
}

/*
 * Makes a new last segment starting at index, big enough for rec_size: out
 * of the spare when the configured size will do, else made here.
 */
static int
seg_roll(struct wal *w, uint64_t index, size_t rec_size)
{
	struct wal_seg seg;
	uint64_t	size = w->opt.segment_size;
	int			rc;

	if (w->n_segs > 0 && w->segs[w->n_segs - 1].n_entries == 0)
	{
		rc = drop_empty_last(w);
		if (rc != WAL_OK)
			return rc;
	}
	if (WAL_SEG_HEADER_SIZE + rec_size > size)
		rc = wal_seg_create(w, index, WAL_SEG_HEADER_SIZE + rec_size, &seg);
	else
		rc = seg_from_spare(w, index, &seg);
	if (rc != WAL_OK)
		return wal_fail(w, rc, "%s", wal_errmsg());
	pthread_rwlock_wrlock(&w->seg_lock);
	if (!wal_grow((void **) &w->segs, &w->cap_segs, w->n_segs + 1,
				  sizeof(*w->segs)))
	{
		pthread_rwlock_unlock(&w->seg_lock);
		close(seg.fd);
		return wal_fail(w, WAL_ENOMEM, "out of memory for segment list");
	}
	w->segs[w->n_segs++] = seg;
	if (w->n_pos == 0)
		w->disk_first = index;
	pthread_rwlock_unlock(&w->seg_lock);
	pgq_debug("wal %s: new segment at index %llu", w->dir,
			  (unsigned long long) index);
	return WAL_OK;
}

static bool
needs_roll(struct wal *w, uint64_t index, size_t rec_size)
{
	struct wal_seg *s;

	if (w->n_segs == 0)
		return true;
	s = &w->segs[w->n_segs - 1];
	if (s->n_entries == 0 && s->first_index != index)
		return true;
	return s->write_off + rec_size > s->file_size;
}

/* Writes wbuf[0..len) at the end of the current segment. */
static int
flush_run(struct wal *w, size_t len, uint64_t off)
{
	struct wal_seg *s = &w->segs[w->n_segs - 1];
	uint64_t	t;
	int			rc;

	if (len == 0)
		return WAL_OK;
	t = wal_mono_ns();
	rc = pwrite_all(s->fd, w->wbuf, len, off);
	time_add(&w->st.writer_write_ns, &t);
	if (rc != 0)
		return io_fail(w, "write", s->first_index, off);
	return WAL_OK;
}

struct batch_cursor
{
	size_t		run_len;		/* bytes of wbuf not yet written */
	uint64_t	run_off;		/* file offset of wbuf[0] */
	bool		dirty;			/* current segment written since its sync */
};

/* Finishes the current segment's run and syncs it (before a roll or end). */
static int
finish_segment(struct wal *w, struct batch_cursor *c)
{
	struct wal_seg *s;
	int			rc;

	if (w->n_segs == 0)
		return WAL_OK;
	s = &w->segs[w->n_segs - 1];
	rc = flush_run(w, c->run_len, c->run_off);
	if (rc != WAL_OK)
		return rc;
	c->run_len = 0;
	c->run_off = s->write_off;
	if (c->dirty && sync_fd(w, s->fd) != 0)
		return io_fail(w, "fdatasync", s->first_index, s->write_off);
	c->dirty = false;
	return WAL_OK;
}

/* Encodes one queued entry into wbuf, rolling the segment if needed. */
static int
batch_add(struct wal *w, struct batch_cursor *c, const struct wal_item *it,
		  struct wal_pos *pos)
{
	size_t		size = wal_record_size(it->len);
	struct wal_seg *s;
	int			rc;

	if (needs_roll(w, it->index, size))
	{
		uint64_t	t;

		if ((rc = finish_segment(w, c)) != WAL_OK)
			return rc;
		t = wal_mono_ns();
		rc = seg_roll(w, it->index, size);
		time_add(&w->st.writer_roll_ns, &t);
		if (rc != WAL_OK)
			return rc;
		c->run_off = w->segs[w->n_segs - 1].write_off;
	}
	s = &w->segs[w->n_segs - 1];
	/* Pair assertion with recovery: continuity before the write. */
	PGQ_ASSERT(it->index == s->first_index + s->n_entries);
	if (!wal_grow((void **) &w->wbuf, &w->wbuf_cap, c->run_len + size, 1))
		return wal_fail(w, WAL_ENOMEM, "out of memory for write buffer");
	memcpy(w->wbuf + c->run_len, it->rec, size);
	*pos = (struct wal_pos) {.term = it->term, .off = s->write_off,
		.seg_id = w->seg_base_id + (uint32_t) (w->n_segs - 1),
	.size = (uint32_t) size};
	c->run_len += size;
	c->dirty = true;
	s->write_off += size;
	s->n_entries++;
	return WAL_OK;
}

/*
 * Writes n queued entries starting at ring slot first, fdatasyncs, and
 * publishes their positions.  Items are read without q_lock: slots between
 * head and tail are not changed by anyone but the writer.
 */
static int
write_batch(struct wal *w, uint64_t first, size_t n)
{
	struct batch_cursor c = {0};
	int			rc;

	if (!wal_grow((void **) &w->wpos, &w->wpos_cap, n, sizeof(*w->wpos)) ||
		!wal_grow((void **) &w->wfree, &w->wfree_cap, n, sizeof(*w->wfree)))
		return wal_fail(w, WAL_ENOMEM, "out of memory for batch");
	if (w->n_segs > 0)
		c.run_off = w->segs[w->n_segs - 1].write_off;
	for (size_t k = 0; k < n; k++)
	{
		rc = batch_add(w, &c, &w->ring[(first + k) & w->ring_mask], &w->wpos[k]);
		if (rc != WAL_OK)
			return rc;
	}
	if ((rc = finish_segment(w, &c)) != WAL_OK)
		return rc;
	pthread_rwlock_wrlock(&w->seg_lock);
	if (!wal_grow((void **) &w->pos, &w->cap_pos, w->n_pos + n, sizeof(*w->pos)))
	{
		pthread_rwlock_unlock(&w->seg_lock);
		return wal_fail(w, WAL_ENOMEM, "out of memory for the index");
	}
	if (w->n_pos == 0)
		w->disk_first = w->ring[first & w->ring_mask].index;
	memcpy(w->pos + w->n_pos, w->wpos, n * sizeof(*w->wpos));
	w->n_pos += n;
	pthread_rwlock_unlock(&w->seg_lock);
	return WAL_OK;
}

/* Zeroes the records at pos[from..to), last first (crash-safe order). */
static int
zero_records_backward(struct wal *w, struct wal_seg *s, size_t from, size_t to)
{
	static const uint8_t zeros[65536];

	for (size_t k = to; k-- > from;)
	{
		uint64_t	off = w->pos[k].off;
		uint64_t	left = w->pos[k].size;

		/* Within one record, high chunks first too. */
		while (left > 0)
		{
			uint64_t	len = left > sizeof(zeros) ? sizeof(zeros) : left;

			if (pwrite_all(s->fd, zeros, len, off + left - len) != 0)
				return io_fail(w, "truncate write", s->first_index, off);
			left -= len;
		}
	}
	return WAL_OK;
}

/* Removes (and closes) segments segs[keep..n_segs), last first. */
static int
drop_segments_after(struct wal *w, size_t keep)
{
	while (w->n_segs > keep)
	{
		struct wal_seg s = w->segs[w->n_segs - 1];
		char		name[WAL_SEG_NAME_LEN + 1];

		pthread_rwlock_wrlock(&w->seg_lock);
		w->n_segs--;
		if (w->n_pos > 0 && w->disk_first + w->n_pos > s.first_index)
			w->n_pos = s.first_index - w->disk_first;
		pthread_rwlock_unlock(&w->seg_lock);
		close(s.fd);
		wal_segment_name(s.first_index, name);
		if (unlinkat(w->dir_fd, name, 0) != 0 || wal_io.fsync(w->dir_fd) != 0)
			return wal_fail(w, wal_errno_code(errno), "cannot remove %s/%s: %s",
							w->dir, name, strerror(errno));
	}
	return WAL_OK;
}

/* Runs a truncate item: everything >= index goes, durably. */
static int
exec_truncate(struct wal *w, uint64_t index)
{
	struct wal_pos p;
	struct wal_seg *s;
	size_t		k,
				from,
				to;
	int			rc;

	if (w->n_pos == 0 || index >= w->disk_first + w->n_pos)
		return WAL_OK;
	if (index < w->disk_first)
		return wal_set_error(WAL_ERANGE, "truncate at %llu below first index %llu",
							 (unsigned long long) index,
							 (unsigned long long) w->disk_first);
	from = index - w->disk_first;
	p = w->pos[from];
	k = p.seg_id - w->seg_base_id;
	if ((rc = drop_segments_after(w, k + 1)) != WAL_OK)
		return rc;
	s = &w->segs[k];
	/* Unpublish first so that no reader sees half-zeroed records. */
	to = w->n_pos;
	pthread_rwlock_wrlock(&w->seg_lock);
	w->n_pos = from;
	pthread_rwlock_unlock(&w->seg_lock);
	if ((rc = zero_records_backward(w, s, from, to)) != WAL_OK)
		return rc;
	if (sync_fd(w, s->fd) != 0)
		return io_fail(w, "fdatasync", s->first_index, p.off);
	s->write_off = p.off;
	s->n_entries = index - s->first_index;
	pgq_info("wal %s: truncated entries from index %llu", w->dir,
			 (unsigned long long) index);
	return WAL_OK;
}

/* Runs a compact item: deletes whole segments holding only entries < index. */
static int
exec_compact(struct wal *w, uint64_t index)
{
	size_t		k = 0;
	uint64_t	drop_entries;

	while (k + 1 < w->n_segs && w->segs[k + 1].first_index <= index)
		k++;
	if (k == 0)
		return WAL_OK;
	drop_entries = w->segs[k].first_index - w->segs[0].first_index;
	for (size_t i = 0; i < k; i++)
	{
		char		name[WAL_SEG_NAME_LEN + 1];

		wal_segment_name(w->segs[0].first_index, name);
		pthread_rwlock_wrlock(&w->seg_lock);
		close(w->segs[0].fd);
		memmove(w->segs, w->segs + 1, (w->n_segs - 1) * sizeof(*w->segs));
		w->n_segs--;
		w->seg_base_id++;
		pthread_rwlock_unlock(&w->seg_lock);
		if (unlinkat(w->dir_fd, name, 0) != 0)
			return wal_fail(w, wal_errno_code(errno), "cannot remove %s/%s: %s",
							w->dir, name, strerror(errno));
	}
	pthread_rwlock_wrlock(&w->seg_lock);
	PGQ_ASSERT(drop_entries <= w->n_pos);
	memmove(w->pos, w->pos + drop_entries,
			(w->n_pos - drop_entries) * sizeof(*w->pos));
	w->n_pos -= drop_entries;
	w->disk_first = w->segs[0].first_index;
	pthread_rwlock_unlock(&w->seg_lock);
	if (wal_io.fsync(w->dir_fd) != 0)
		return wal_fail(w, wal_errno_code(errno), "fsync of %s: %s", w->dir,
						strerror(errno));
	pgq_info("wal %s: compacted %zu segments, first index now %llu", w->dir,
			 k, (unsigned long long) w->disk_first);
	return WAL_OK;
}

/* Runs one command item; called without q_lock; returns its result. */
static int
exec_command(struct wal *w, const struct wal_item *it)
{
	switch (it->kind)
	{
		case WAL_ITEM_TRUNCATE:
			return exec_truncate(w, it->index);
		case WAL_ITEM_COMPACT:
			return exec_compact(w, it->index);
		case WAL_ITEM_BARRIER:
			return WAL_OK;
		case WAL_ITEM_APPEND:
			break;
	}
	PGQ_UNREACHABLE();
}

/* With q_lock held: consecutive appends from head, within batch bounds. */
static size_t
batch_count(struct wal *w)
{
	size_t		n = 0;
	uint64_t	bytes = 0;

	while (w->head + n < w->tail && n < w->opt.batch_max_entries)
	{
		const struct wal_item *it = &w->ring[(w->head + n) & w->ring_mask];

		if (it->kind != WAL_ITEM_APPEND ||
			(n > 0 && bytes + it->len > w->opt.batch_max_bytes))
			break;
		bytes += it->len;
		n++;
	}
	return n;
}

/* Frees the records pop_items kept aside (without q_lock). */
static void
free_popped(struct wal *w)
{
	for (size_t k = 0; k < w->n_wfree; k++)
		free(w->wfree[k]);
	w->n_wfree = 0;
}

/*
 * With q_lock held: pops n items, publishing the outcome (the caller wakes
 * the persisted waiters after dropping q_lock).
 */
static void
pop_items(struct wal *w, size_t n, bool batch_ok)
{
	for (size_t k = 0; k < n; k++)
	{
		struct wal_item *it = &w->ring[w->head & w->ring_mask];

		if (it->kind == WAL_ITEM_APPEND)
		{
			w->q_entries--;
			w->q_bytes -= it->len;
			if (batch_ok)
				__atomic_store_n(&w->persisted, it->index, __ATOMIC_SEQ_CST);
		}
		if (it->rec && w->n_wfree < w->wfree_cap)
			w->wfree[w->n_wfree++] = it->rec;
		else
			free(it->rec);
		it->rec = NULL;
		w->head++;
	}
	if (batch_ok && n > 0)
	{
		w->st.batches++;
		w->st.batched_entries += n;
	}
	pthread_cond_broadcast(&w->q_space);
	pthread_cond_broadcast(&w->q_done);
}

/* With q_lock held: one command; drops and retakes the lock. */
static void
run_command(struct wal *w)
{
	struct wal_item *it = &w->ring[w->head & w->ring_mask];
	bool		failed = w->failed;
	int			rc;

	pthread_mutex_unlock(&w->q_lock);
	rc = failed ? WAL_EFAILED : exec_command(w, it);
	pthread_mutex_lock(&w->q_lock);
	if (it->kind == WAL_ITEM_TRUNCATE && rc == WAL_OK &&
		w->persisted >= it->index)
	{
		__atomic_store_n(&w->persisted, it->index - 1, __ATOMIC_SEQ_CST);
		wal_wake_reset(w, it->index - 1);
	}
	if (it->kind == WAL_ITEM_COMPACT && rc == WAL_OK && w->view_first != 0 &&
		w->view_first < w->disk_first && w->n_pos > 0)
		w->view_first = w->disk_first;
	if (rc != WAL_OK && it->kind == WAL_ITEM_COMPACT)
		pgq_warn("wal %s: compaction failed: %s", w->dir, wal_errmsg());
	if (it->waiter)
	{
		it->waiter->rc = w->failed ? WAL_EFAILED : rc;
		it->waiter->done = true;
	}
	pop_items(w, 1, false);
}

void *
wal_writer_main(void *arg)
{
	struct wal *w = arg;

	pthread_mutex_lock(&w->q_lock);
	for (;;)
	{
		size_t		n;
		int			rc;
		uint64_t	persisted;
		bool		failed;

		if (w->head == w->tail && !w->stopping)
		{
			/* wal_stats counts an idle period still going on, too */
			w->idle_since = wal_mono_ns();
			while (w->head == w->tail && !w->stopping)
				pthread_cond_wait(&w->q_work, &w->q_lock);
			w->st.writer_idle_ns += wal_mono_ns() - w->idle_since;
			w->idle_since = 0;
		}
		if (w->head == w->tail)
			break;
		if (w->ring[w->head & w->ring_mask].kind != WAL_ITEM_APPEND)
		{
			run_command(w);
			continue;
		}
		n = batch_count(w);
		failed = w->failed;
		pthread_mutex_unlock(&w->q_lock);
		rc = failed ? WAL_EFAILED : write_batch(w, w->head, n);
		pthread_mutex_lock(&w->q_lock);
		pop_items(w, n, rc == WAL_OK);
		persisted = w->persisted;
		pthread_mutex_unlock(&w->q_lock);
		if (rc == WAL_OK)
		{
			/*
			 * The event loop first, then one wake-up (the woken waiters
			 * wake the rest).  Reporting here, before the next batch is
			 * taken, lets the entries the loop appends on this report
			 * (on a busy CPU it may even run first) join that batch.
			 */
			notify(w, persisted, false);
			wal_wake_help(w, 1);
		}
		free_popped(w);
		pthread_mutex_lock(&w->q_lock);
	}
	pthread_mutex_unlock(&w->q_lock);
	return NULL;
}
