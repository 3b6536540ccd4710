/*
 * wal.c
 *	  The wal's interface: open and close, the bounded append queue, reads
 *	  (from the queue or from disk), bounds and terms, queued commands.
 *	  The writer thread is in wal_writer.c, recovery in wal_recover.c.
 *	  Contracts are in wal.h, locking in wal_int.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/pgq_assert.h"
#include "common/pgq_log.h"
#include "wal/wal.h"
#include "wal/wal_int.h"
#include "wal/wal_io.h"

void
wal_options_init(struct wal_options *opt)
{
	*opt = (struct wal_options) {
		.segment_size = UINT64_C(64) << 20,
		.max_payload = UINT32_C(64) << 20,
		.queue_max_entries = 65536,
		.queue_max_bytes = UINT64_C(256) << 20,
		.batch_max_entries = 4096,
		.batch_max_bytes = UINT64_C(16) << 20,
	};
}

static int
check_options(const struct wal_options *o)
{
	if (o->segment_size < (UINT64_C(64) << 10) ||
		o->max_payload == 0 || o->max_payload > WAL_FORMAT_MAX_PAYLOAD ||
		o->queue_max_entries == 0 || o->queue_max_entries > (1u << 24) ||
		o->queue_max_bytes < o->max_payload ||
		o->batch_max_entries == 0 || o->batch_max_bytes == 0)
		return wal_set_error(WAL_EINVAL, "invalid wal options (segment_size "
							 ">= 64 KiB, 0 < max_payload <= 1 GiB, queue bounds "
							 "> 0 and queue_max_bytes >= max_payload)");
	return WAL_OK;
}

static int
open_dir(struct wal *w, const char *dir)
{
	if (mkdir(dir, 0750) != 0 && errno != EEXIST)
		return wal_set_error(wal_errno_code(errno), "cannot create %s: %s", dir,
							 strerror(errno));
	w->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dir_fd < 0)
		return wal_set_error(WAL_EMISSING, "cannot open directory %s: %s", dir,
							 strerror(errno));
	return WAL_OK;
}

static void
wal_free(struct wal *w)
{
	wal_spare_stop(w);			/* before dir_fd is closed */
	for (size_t k = 0; k < w->n_segs; k++)
		close(w->segs[k].fd);
	if (w->ring)
		for (uint64_t t = w->head; t < w->tail; t++)
			free(w->ring[t & w->ring_mask].rec);
	if (w->dir_fd >= 0)
		close(w->dir_fd);
	if (w->efd >= 0)
		close(w->efd);
	pthread_rwlock_destroy(&w->seg_lock);
	pthread_mutex_destroy(&w->q_lock);
	pthread_cond_destroy(&w->q_work);
	pthread_cond_destroy(&w->q_space);
	pthread_cond_destroy(&w->q_done);
	pthread_mutex_destroy(&w->wake_lock);
	pthread_mutex_destroy(&w->spare_lock);
	pthread_cond_destroy(&w->spare_cond);
	free(w->segs);
	free(w->pos);
	free(w->ring);
	free(w->wbuf);
	free(w->wpos);
	free(w->wfree);
	free(w->dir);
	free(w);
}

/*
 * q_lock is held for a few hundred ns at a time (an append, the writer
 * taking or popping a batch), by the appenders and the writer at once
 * under load: an adaptive mutex spins a little before it sleeps, instead
 * of a futex round trip on each collision.
 */
static void
q_lock_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
}

static struct wal *
wal_alloc(const struct wal_options *opt)
{
	struct wal *w = calloc(1, sizeof(*w));
	size_t		cap = 64;

	if (w == NULL)
		return NULL;
	w->opt = *opt;
	w->dir_fd = -1;
	pthread_rwlock_init(&w->seg_lock, NULL);
	q_lock_init(&w->q_lock);
	pthread_cond_init(&w->q_work, NULL);
	pthread_cond_init(&w->q_space, NULL);
	pthread_cond_init(&w->q_done, NULL);
	pthread_mutex_init(&w->wake_lock, NULL);
	pthread_mutex_init(&w->spare_lock, NULL);
	pthread_cond_init(&w->spare_cond, NULL);
	w->spare_fd = -1;
	w->spare_state = WAL_SPARE_IDLE;
	while (cap < (size_t) opt->queue_max_entries + 64)
		cap *= 2;
	w->ring = calloc(cap, sizeof(*w->ring));
	w->ring_mask = cap - 1;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->ring == NULL || w->efd < 0)
	{
		wal_free(w);
		return NULL;
	}
	return w;
}

int
wal_open(const char *dir, const struct wal_options *opt, struct wal **out)
{
	struct wal_options defaults;
	struct wal *w;
	int			rc;

	if (opt == NULL)
	{
		wal_options_init(&defaults);
		opt = &defaults;
	}
	if ((rc = check_options(opt)) != WAL_OK)
		return rc;
	if ((w = wal_alloc(opt)) == NULL || (w->dir = strdup(dir)) == NULL)
	{
		if (w)
			wal_free(w);
		return wal_set_error(WAL_ENOMEM, "out of memory opening %s", dir);
	}
	rc = open_dir(w, dir);
	if (rc == WAL_OK)
		rc = wal_recover(w);
	if (rc == WAL_OK)
	{
		/* The next segment is prepared at once (SPARE in wal_int.h). */
		w->spare_state = WAL_SPARE_WANTED;
		if (pthread_create(&w->spare_thread, NULL, wal_spare_main, w) != 0)
			rc = wal_set_error(WAL_ENOMEM, "cannot start the wal spare thread");
		else
			w->spare_started = true;
	}
	if (rc == WAL_OK && pthread_create(&w->writer, NULL, wal_writer_main, w) != 0)
		rc = wal_set_error(WAL_ENOMEM, "cannot start the wal writer thread");
	if (rc != WAL_OK)
	{
		pgq_error("wal %s: open failed: %s", dir, wal_errmsg());
		wal_free(w);
		return rc;
	}
	w->writer_started = true;
	*out = w;
	return WAL_OK;
}

void
wal_close(struct wal *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->q_lock);
	__atomic_store_n(&w->stopping, true, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&w->q_work);
	pthread_cond_broadcast(&w->q_space);
	pthread_cond_broadcast(&w->q_done);
	pthread_mutex_unlock(&w->q_lock);
	wal_wake_all(w);
	if (w->writer_started)
		pthread_join(w->writer, NULL);
	wal_free(w);
}

/* With q_lock held: the code to return when the log cannot take work. */
static int
unusable(struct wal *w)
{
	if (w->failed)
		return wal_set_error(WAL_EFAILED, "wal %s failed earlier: %s", w->dir,
							 w->fail_msg);
	if (w->stopping)
		return wal_set_error(WAL_ECLOSED, "wal %s is closing", w->dir);
	return WAL_OK;
}

/* With q_lock held: may an entry of len bytes be queued now? */
static bool
has_room(const struct wal *w, uint32_t len)
{
	if (w->tail - w->head > w->ring_mask)
		return false;
	if (w->q_entries == 0)
		return true;
	return w->q_entries < w->opt.queue_max_entries &&
		w->q_bytes + len <= w->opt.queue_max_bytes;
}

static int
check_append(struct wal *w, uint64_t index, uint32_t len)
{
	if (index == 0)
		return wal_set_error(WAL_EINVAL, "index 0 is not a log index");
	if (len > w->opt.max_payload)
		return wal_set_error(WAL_ETOOBIG, "payload of %u bytes exceeds the "
							 "maximum of %u", len, w->opt.max_payload);
	return WAL_OK;
}

/* With q_lock held, room checked: push an item at the tail. */
static void
push_item(struct wal *w, const struct wal_item *it)
{
	PGQ_ASSERT(w->tail - w->head <= w->ring_mask);
	w->ring[w->tail & w->ring_mask] = *it;
	w->tail++;
	pthread_cond_signal(&w->q_work);
}

int
wal_append(struct wal *w, uint64_t index, uint64_t term, uint32_t type,
		   const void *payload, uint32_t len, unsigned flags)
{
	struct wal_item it = {.kind = WAL_ITEM_APPEND, .type = type, .len = len,
	.index = index, .term = term};
	int			rc = check_append(w, index, len);

	if (rc != WAL_OK)
		return rc;
	/*
	 * The record is encoded (and its CRC computed) here, on the caller's
	 * thread, so the writer only copies it into the batch.
	 */
	if ((it.rec = malloc(wal_record_size(len))) == NULL)
		return wal_set_error(WAL_ENOMEM, "out of memory queueing %u bytes", len);
	wal_record_encode(&(struct wal_record) {.index = index, .term = term,
					  .type = type, .length = len, .payload = payload}, it.rec);
	pthread_mutex_lock(&w->q_lock);
	while ((rc = unusable(w)) == WAL_OK && !has_room(w, len) &&
		   (flags & WAL_APPEND_BLOCK))
		pthread_cond_wait(&w->q_space, &w->q_lock);
	if (rc == WAL_OK && w->view_last != 0 && index != w->view_last + 1)
		rc = wal_set_error(WAL_EINDEX, "append of index %llu, expected %llu",
						   (unsigned long long) index,
						   (unsigned long long) w->view_last + 1);
	if (rc == WAL_OK && !has_room(w, len))
		rc = wal_set_error(WAL_EAGAIN, "append queue full (%llu entries)",
						   (unsigned long long) w->q_entries);
	if (rc == WAL_OK)
	{
		push_item(w, &it);
		w->q_entries++;
		w->q_bytes += len;
		if (w->view_last == 0)
			w->view_first = index;
		__atomic_store_n(&w->view_last, index, __ATOMIC_SEQ_CST);
		w->st.entries_appended++;
	}
	pthread_mutex_unlock(&w->q_lock);
	if (rc != WAL_OK)
		free(it.rec);
	return rc;
}

uint64_t
wal_persisted_index(struct wal *w)
{
	return __atomic_load_n(&w->persisted, __ATOMIC_ACQUIRE);
}

int
wal_eventfd(struct wal *w)
{
	return w->efd;
}

/* With q_lock held: the root cause once failed. */
static int
failure(struct wal *w)
{
	return wal_set_error(w->fail_code, "wal %s failed: %s", w->dir, w->fail_msg);
}

/*
 * Waits without q_lock on the index's bucket (WAKE-UPS in wal_int.h);
 * q_lock is taken only to build an error.
 */
int
wal_wait_persisted(struct wal *w, uint64_t index)
{
	struct wal_wait_bucket *b = &w->p_wait[index % WAL_WAIT_BUCKETS];
	int			rc = WAL_OK;

	if (index > __atomic_load_n(&w->view_last, __ATOMIC_SEQ_CST))
	{
		pthread_mutex_lock(&w->q_lock);
		if (index > w->view_last)
			rc = wal_set_error(WAL_ERANGE, "index %llu was never appended",
							   (unsigned long long) index);
		pthread_mutex_unlock(&w->q_lock);
		if (rc != WAL_OK)
			return rc;
	}
	__atomic_fetch_add(&w->n_waiting, 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&b->waiters, 1, __ATOMIC_SEQ_CST);
	for (;;)
	{
		uint32_t	seq = __atomic_load_n(&b->seq, __ATOMIC_SEQ_CST);

		if (__atomic_load_n(&w->persisted, __ATOMIC_SEQ_CST) >= index)
			break;
		if (__atomic_load_n(&w->failed, __ATOMIC_SEQ_CST) ||
			__atomic_load_n(&w->stopping, __ATOMIC_SEQ_CST))
		{
			pthread_mutex_lock(&w->q_lock);
			if (w->persisted < index)
				rc = w->failed ? failure(w) : unusable(w);
			pthread_mutex_unlock(&w->q_lock);
			break;
		}
		/* Pass the wake-ups on before sleeping, too (see wal_int.h). */
		wal_wake_help(w, 2);
		wal_futex_wait(&b->seq, seq);
	}
	__atomic_fetch_sub(&b->waiters, 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_sub(&w->n_waiting, 1, __ATOMIC_SEQ_CST);
	wal_wake_help(w, 2);
	return rc;
}

/*
 * With q_lock held: queues a command and, when wait, waits for its
 * result.  Commands do not count against the entry bounds, only the ring.
 */
static int
run_queued(struct wal *w, enum wal_item_kind kind, uint64_t arg, bool wait)
{
	struct wal_waiter waiter = {0};
	struct wal_item it = {.kind = kind, .index = arg,
	.waiter = wait ? &waiter : NULL};
	int			rc;

	while ((rc = unusable(w)) == WAL_OK && w->tail - w->head > w->ring_mask &&
		   wait)
		pthread_cond_wait(&w->q_space, &w->q_lock);
	if (rc != WAL_OK)
		return rc;
	if (w->tail - w->head > w->ring_mask)
		return wal_set_error(WAL_EAGAIN, "wal queue full");
	push_item(w, &it);
	while (wait && !waiter.done)
		pthread_cond_wait(&w->q_done, &w->q_lock);
	if (wait && waiter.rc != WAL_OK)
		return w->failed ? failure(w) :
			wal_set_error(waiter.rc, "wal %s: command failed: %s", w->dir,
						  wal_strerror(waiter.rc));
	return WAL_OK;
}

int
wal_flush(struct wal *w)
{
	int			rc;

	pthread_mutex_lock(&w->q_lock);
	rc = run_queued(w, WAL_ITEM_BARRIER, 0, true);
	pthread_mutex_unlock(&w->q_lock);
	return rc;
}

int
wal_truncate_suffix(struct wal *w, uint64_t index)
{
	int			rc = WAL_OK;

	pthread_mutex_lock(&w->q_lock);
	if (w->view_last != 0 &&
		(index < w->view_first || index > w->view_last + 1))
		rc = wal_set_error(WAL_ERANGE, "truncate at %llu outside [%llu, %llu]",
						   (unsigned long long) index,
						   (unsigned long long) w->view_first,
						   (unsigned long long) w->view_last + 1);
	if (rc == WAL_OK && w->view_last != 0 && index <= w->view_last)
	{
		__atomic_store_n(&w->view_last, index - 1, __ATOMIC_SEQ_CST);
		if (w->view_last < w->view_first)
		{
			w->view_first = 0;
			__atomic_store_n(&w->view_last, 0, __ATOMIC_SEQ_CST);
		}
		rc = run_queued(w, WAL_ITEM_TRUNCATE, index, true);
	}
	pthread_mutex_unlock(&w->q_lock);
	return rc;
}

int
wal_compact(struct wal *w, uint64_t index)
{
	int			rc;

	pthread_mutex_lock(&w->q_lock);
	rc = run_queued(w, WAL_ITEM_COMPACT, index, false);
	pthread_mutex_unlock(&w->q_lock);
	return rc;
}

uint64_t
wal_first_index(struct wal *w)
{
	uint64_t	v;

	pthread_mutex_lock(&w->q_lock);
	v = w->view_first;
	pthread_mutex_unlock(&w->q_lock);
	return v;
}

uint64_t
wal_last_index(struct wal *w)
{
	uint64_t	v;

	pthread_mutex_lock(&w->q_lock);
	v = w->view_last;
	pthread_mutex_unlock(&w->q_lock);
	return v;
}

void
wal_stats(struct wal *w, struct wal_stats *st)
{
	pthread_mutex_lock(&w->q_lock);
	*st = w->st;
	st->first_index = w->view_first;
	st->last_index = w->view_last;
	st->persisted_index = w->persisted;
	st->queued_entries = w->q_entries;
	st->failed = w->failed;
	if (w->idle_since != 0)
		st->writer_idle_ns += wal_mono_ns() - w->idle_since;
	pthread_mutex_unlock(&w->q_lock);
	pthread_rwlock_rdlock(&w->seg_lock);
	st->segments = w->n_segs;
	st->bytes_on_disk = 0;
	for (size_t k = 0; k < w->n_segs; k++)
		st->bytes_on_disk += w->segs[k].file_size;
	pthread_rwlock_unlock(&w->seg_lock);
	pthread_mutex_lock(&w->spare_lock);
	st->spare_ready = w->spare_state == WAL_SPARE_READY;
	st->spare_waits = w->spare_waits;
	pthread_mutex_unlock(&w->spare_lock);
}
