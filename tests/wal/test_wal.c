/*
 * test_wal.c
 *	  Proves the wal's contracts through its interface: append/read/persist
 *	  with group commit, continuity checks, back-pressure, truncation (also
 *	  of still-queued entries) and compaction across segments, reopen,
 *	  hard state, recovery of a torn tail versus refusal of corruption in
 *	  the middle, the prepared spare segment, and the failed state after
 *	  injected ENOSPC and EIO.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/pgq_log.h"
#include "tests/wal/wal_test_util.h"
#include "wal/wal.h"
#include "wal/wal_io.h"

#define SALT 77

static char *dir;

static int
setup(void **state)
{
	dir = wt_mkdtemp();
	wal_set_io_ops(NULL);
	return 0;
}

static int
teardown(void **state)
{
	wal_set_io_ops(NULL);
	wt_rmtree(dir);
	return 0;
}

static struct wal *
open_small(void)
{
	struct wal_options o;
	struct wal *w = NULL;

	wal_options_init(&o);
	o.segment_size = 64 * 1024;
	assert_int_equal(wal_open(dir, &o, &w), WAL_OK);
	return w;
}

static void
append_range(struct wal *w, uint64_t lo, uint64_t hi, uint64_t term)
{
	for (uint64_t i = lo; i <= hi; i++)
		assert_int_equal(wt_append(w, i, term, SALT), WAL_OK);
}

static void
verify_range(struct wal *w, uint64_t lo, uint64_t hi)
{
	struct wal_entry *e;
	size_t		n;

	assert_int_equal(wal_read(w, lo, hi, 0, &e, &n), WAL_OK);
	assert_int_equal(n, hi - lo + 1);
	for (size_t i = 0; i < n; i++)
	{
		assert_int_equal(e[i].index, lo + i);
		assert_true(wt_check(&e[i], SALT));
	}
	wal_entries_free(e, n);
}

static void
test_append_read_persist(void **state)
{
	struct wal *w = open_small();
	struct wal_stats st;
	struct pollfd pfd = {.fd = wal_eventfd(w), .events = POLLIN};
	uint64_t	term;

	assert_int_equal(wal_last_index(w), 0);
	append_range(w, 1, 1000, 2);
	assert_int_equal(wal_first_index(w), 1);
	assert_int_equal(wal_last_index(w), 1000);
	verify_range(w, 1, 1000);	/* readable at once, queued or not */
	assert_int_equal(wal_wait_persisted(w, 1000), WAL_OK);
	assert_true(wal_persisted_index(w) >= 1000);
	assert_int_equal(poll(&pfd, 1, 1000), 1);
	verify_range(w, 1, 1000);
	verify_range(w, 17, 17);
	assert_int_equal(wal_term(w, 150, &term), WAL_OK);
	assert_int_equal(term, 2);
	wal_stats(w, &st);
	assert_int_equal(st.entries_appended, 1000);
	assert_int_equal(st.batched_entries, 1000);
	assert_true(st.fsyncs >= st.batches);
	assert_true(st.segments > 1);	/* 64 KiB segments */
	assert_int_equal(st.last_index, 1000);
	wal_close(w);
	w = open_small();
	assert_int_equal(wal_first_index(w), 1);
	assert_int_equal(wal_last_index(w), 1000);
	assert_int_equal(wal_persisted_index(w), 1000);
	verify_range(w, 1, 1000);
	wal_close(w);
}

static void
test_read_limits_and_range(void **state)
{
	struct wal *w = open_small();
	struct wal_entry *e;
	size_t		n;
	uint64_t	term;

	append_range(w, 10, 40, 1);	/* an empty log starts anywhere */
	assert_int_equal(wal_read(w, 10, 40, 1, &e, &n), WAL_OK);
	assert_int_equal(n, 1);		/* at least one entry */
	wal_entries_free(e, n);
	assert_int_equal(wal_read(w, 10, 40, 3 * 300, &e, &n), WAL_OK);
	assert_true(n >= 3 && n < 31);
	wal_entries_free(e, n);
	assert_int_equal(wal_read(w, 35, 1000, 0, &e, &n), WAL_OK);
	assert_int_equal(n, 6);		/* clamped to the last index */
	wal_entries_free(e, n);
	assert_int_equal(wal_read(w, 9, 12, 0, &e, &n), WAL_ERANGE);
	assert_int_equal(wal_read(w, 41, 41, 0, &e, &n), WAL_ERANGE);
	assert_int_equal(wal_term(w, 41, &term), WAL_ERANGE);
	assert_true(strlen(wal_errmsg()) > 0);
	wal_close(w);
}

static void
test_continuity_and_bounds(void **state)
{
	struct wal_options o;
	struct wal *w = NULL;
	uint8_t		big[1025] = {0};

	wal_options_init(&o);
	o.max_payload = 1024;
	o.queue_max_bytes = 1 << 20;
	assert_int_equal(wal_open(dir, &o, &w), WAL_OK);
	assert_int_equal(wal_append(w, 0, 1, 0, "x", 1, 0), WAL_EINVAL);
	assert_int_equal(wal_append(w, 5, 1, 0, "x", 1, 0), WAL_OK);
	assert_int_equal(wal_append(w, 7, 1, 0, "x", 1, 0), WAL_EINDEX);
	assert_int_equal(wal_append(w, 5, 1, 0, "x", 1, 0), WAL_EINDEX);
	assert_int_equal(wal_append(w, 6, 1, 0, big, 1025, 0), WAL_ETOOBIG);
	assert_int_equal(wal_append(w, 6, 1, 0, big, 1024, 0), WAL_OK);
	assert_int_equal(wal_append(w, 7, 1, 0, NULL, 0, 0), WAL_OK);
	assert_int_equal(wal_flush(w), WAL_OK);
	assert_int_equal(wal_persisted_index(w), 7);
	wal_close(w);
}

static void
test_truncate_suffix(void **state)
{
	struct wal *w = open_small();
	uint64_t	term;

	append_range(w, 1, 1000, 1);
	assert_int_equal(wal_wait_persisted(w, 1000), WAL_OK);
	assert_int_equal(wal_truncate_suffix(w, 1001), WAL_OK);	/* no-op */
	assert_int_equal(wal_truncate_suffix(w, 0), WAL_ERANGE);
	assert_int_equal(wal_truncate_suffix(w, 400), WAL_OK);	/* across segments */
	assert_int_equal(wal_last_index(w), 399);
	assert_true(wal_persisted_index(w) <= 399);
	assert_int_equal(wal_append(w, 401, 2, 0, "x", 1, 0), WAL_EINDEX);
	append_range(w, 400, 600, 2);
	/* Truncate while entries are most likely still queued. */
	append_range(w, 601, 900, 3);
	assert_int_equal(wal_truncate_suffix(w, 700), WAL_OK);
	append_range(w, 700, 750, 4);
	assert_int_equal(wal_wait_persisted(w, 750), WAL_OK);
	wal_close(w);
	w = open_small();
	assert_int_equal(wal_last_index(w), 750);
	verify_range(w, 1, 750);
	assert_int_equal(wal_term(w, 399, &term), WAL_OK);
	assert_int_equal(term, 1);
	assert_int_equal(wal_term(w, 400, &term), WAL_OK);
	assert_int_equal(term, 2);
	assert_int_equal(wal_term(w, 699, &term), WAL_OK);
	assert_int_equal(term, 3);
	assert_int_equal(wal_term(w, 700, &term), WAL_OK);
	assert_int_equal(term, 4);
	/* Truncating everything leaves an empty log that restarts anywhere. */
	assert_int_equal(wal_truncate_suffix(w, 1), WAL_OK);
	assert_int_equal(wal_last_index(w), 0);
	append_range(w, 50, 60, 5);
	wal_close(w);
	w = open_small();
	assert_int_equal(wal_first_index(w), 50);
	assert_int_equal(wal_last_index(w), 60);
	verify_range(w, 50, 60);
	wal_close(w);
}

static void
test_compact_prefix(void **state)
{
	struct wal *w = open_small();
	struct wal_stats before,
				after;

	append_range(w, 1, 3000, 1);
	assert_int_equal(wal_flush(w), WAL_OK);
	wal_stats(w, &before);
	assert_int_equal(wal_compact(w, 2000), WAL_OK);
	assert_int_equal(wal_flush(w), WAL_OK);
	wal_stats(w, &after);
	assert_true(after.segments < before.segments);
	assert_true(after.first_index > 1 && after.first_index <= 2000);
	assert_true(after.bytes_on_disk < before.bytes_on_disk);
	verify_range(w, after.first_index, 3000);
	wal_close(w);
	w = open_small();
	assert_int_equal(wal_first_index(w), after.first_index);
	assert_int_equal(wal_last_index(w), 3000);
	/* Never removes the last segment, nor entries >= index. */
	assert_int_equal(wal_compact(w, 100000), WAL_OK);
	assert_int_equal(wal_flush(w), WAL_OK);
	assert_true(wal_first_index(w) <= 3000);
	verify_range(w, wal_first_index(w), 3000);
	wal_close(w);
}

struct reader_arg
{
	struct wal *w;
	volatile bool stop;
	int			bad;
	int			reads;
};

static void *
reader_main(void *p)
{
	struct reader_arg *a = p;

	while (!a->stop)
	{
		uint64_t	last = wal_last_index(a->w);
		struct wal_entry *e;
		size_t		n;

		if (last < 2)
			continue;
		uint64_t	lo = 1 + (uint64_t) rand() % (last - 1);

		if (wal_read(a->w, lo, lo + 50, 0, &e, &n) != WAL_OK)
		{
			a->bad++;
			continue;
		}
		for (size_t i = 0; i < n; i++)
			if (e[i].index != lo + i || !wt_check(&e[i], SALT))
				a->bad++;
		wal_entries_free(e, n);
		a->reads++;
	}
	return NULL;
}

static void
test_read_during_appends(void **state)
{
	struct wal *w = open_small();
	struct reader_arg a = {.w = w};
	pthread_t	t;

	pthread_create(&t, NULL, reader_main, &a);
	append_range(w, 1, 20000, 1);
	assert_int_equal(wal_wait_persisted(w, 20000), WAL_OK);
	a.stop = true;
	pthread_join(t, NULL);
	assert_int_equal(a.bad, 0);
	assert_true(a.reads > 0);
	wal_close(w);
}

/* ---- wake-ups of wal_wait_persisted (WAKE-UPS in wal/wal_int.h) ---- */

struct waiters_arg
{
	struct wal *w;
	pthread_mutex_t lock;		/* appends must be in index order */
	uint64_t	next;
	uint64_t	last;
	int			bad;
	unsigned	seed;
};

static void *
waiter_main(void *p)
{
	struct waiters_arg *a = p;

	for (;;)
	{
		uint64_t	lo,
					hi;
		unsigned	r;

		pthread_mutex_lock(&a->lock);
		r = (unsigned) rand_r(&a->seed);
		lo = a->next;
		/* Runs up to 1100 long: waiters of i and i + 1024 share a bucket. */
		hi = lo + (r % 8 == 0 ? r % 1100 : r % 4);
		if (hi > a->last)
			hi = a->last;
		for (uint64_t i = lo; i <= hi && lo <= a->last; i++)
			if (wt_append(a->w, i, 1, SALT) != WAL_OK)
				a->bad++;
		a->next = hi + 1;
		pthread_mutex_unlock(&a->lock);
		if (lo > a->last)
			break;
		/* A middle index first (may share its bucket), then the last. */
		if (wal_wait_persisted(a->w, lo + (hi - lo) / 2) != WAL_OK ||
			wal_persisted_index(a->w) < lo + (hi - lo) / 2 ||
			wal_wait_persisted(a->w, hi) != WAL_OK ||
			wal_persisted_index(a->w) < hi)
			__atomic_fetch_add(&a->bad, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void
test_many_waiters(void **state)
{
	struct waiters_arg a = {.next = 1, .last = 30000, .seed = 7};
	pthread_t	t[48];

	alarm(120);					/* a lost wake-up hangs: fail instead */
	a.w = open_small();
	pthread_mutex_init(&a.lock, NULL);
	for (int i = 0; i < 48; i++)
		pthread_create(&t[i], NULL, waiter_main, &a);
	for (int i = 0; i < 48; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(a.bad, 0);
	assert_int_equal(wal_persisted_index(a.w), a.last);
	wal_close(a.w);
	alarm(0);
}

struct one_wait
{
	struct wal *w;
	uint64_t	index;
	int			rc;
};

static void *
one_wait_main(void *p)
{
	struct one_wait *o = p;

	o->rc = wal_wait_persisted(o->w, o->index);
	return NULL;
}

static int	slow_sync_us;

static int
fault_fdatasync_slow(int fd)
{
	usleep((useconds_t) slow_sync_us);
	return wal_io_default.fdatasync(fd);
}

/*
 * The node's way (one thread, K appends in flight, "persisted up to N"
 * from the eventfd only): every batch is reported, the last one too.
 * Then a thread that waits after all that (the wake cursor jumped while
 * nobody waited) is still woken.  Also the writer's time counters.
 */
static void
test_eventfd_loop_then_waiter(void **state)
{
	struct wal *w = open_small();
	struct pollfd pfd = {.fd = wal_eventfd(w), .events = POLLIN};
	const uint64_t last = 20000,
				k = 256;
	uint64_t	next = 0,
				persisted = 0,
				count;
	struct one_wait o;
	pthread_t	t;
	struct wal_stats st;
	struct wal_io_ops ops = wal_io_default;

	alarm(120);
	while (persisted < last)
	{
		while (next < last && next - persisted < k)
		{
			next++;
			assert_int_equal(wt_append(w, next, 1, SALT), WAL_OK);
		}
		assert_int_equal(poll(&pfd, 1, 10000), 1);	/* else: a lost report */
		assert_true(read(pfd.fd, &count, sizeof(count)) == sizeof(count));
		assert_true(wal_persisted_index(w) >= persisted);
		persisted = wal_persisted_index(w);
		assert_true(persisted <= next);
	}
	assert_int_equal(persisted, last);
	verify_range(w, 1, last);
	/* slow syncs: the waiter registers before its index is persisted */
	slow_sync_us = 100000;
	ops.fdatasync = fault_fdatasync_slow;
	wal_set_io_ops(&ops);
	append_range(w, last + 1, last + 500, 1);
	o = (struct one_wait) {.w = w, .index = last + 500, .rc = -1};
	pthread_create(&t, NULL, one_wait_main, &o);
	pthread_join(t, NULL);
	assert_int_equal(o.rc, WAL_OK);
	assert_true(wal_persisted_index(w) >= last + 500);
	wal_set_io_ops(NULL);
	wal_stats(w, &st);
	assert_true(st.writer_write_ns > 0);
	assert_true(st.writer_sync_ns > 0);
	assert_true(st.writer_roll_ns > 0);	/* 64 KiB segments roll */
	wal_close(w);
	alarm(0);
}

/*
 * After a truncation the wake cursor must go back with persisted: a waiter
 * for a re-appended index (below the old persisted index) is woken when it
 * is persisted again.
 */
static void
test_wait_after_truncate(void **state)
{
	struct one_wait o = {.index = 180};
	struct wal_io_ops ops = wal_io_default;
	pthread_t	t;

	alarm(120);					/* a lost wake-up hangs: fail instead */
	o.w = open_small();
	append_range(o.w, 1, 200, 1);
	assert_int_equal(wal_wait_persisted(o.w, 200), WAL_OK);
	assert_int_equal(wal_truncate_suffix(o.w, 150), WAL_OK);
	assert_true(wal_persisted_index(o.w) <= 149);
	slow_sync_us = 20000;		/* the waiter is asleep before 180 is synced */
	ops.fdatasync = fault_fdatasync_slow;
	wal_set_io_ops(&ops);
	append_range(o.w, 150, 200, 2);
	pthread_create(&t, NULL, one_wait_main, &o);
	pthread_join(t, NULL);
	assert_int_equal(o.rc, WAL_OK);
	assert_true(wal_persisted_index(o.w) >= 180);
	wal_close(o.w);
	slow_sync_us = 0;
	wal_set_io_ops(NULL);
	alarm(0);
}

/* ---- fault injection ---- */

static int	fail_errno;			/* errno to inject */
static int	fail_after;			/* calls that succeed first */
static int	fail_times;			/* failures to inject then; 0: no end */

static int
fault_fallocate(int fd, off_t off, off_t len)
{
	if (fail_errno && fail_after-- <= 0)
	{
		errno = fail_errno;
		if (fail_times > 0 && --fail_times == 0)
			fail_errno = 0;		/* that was the last one */
		return -1;
	}
	return wal_io_default.fallocate(fd, off, len);
}

static int
fault_fdatasync(int fd)
{
	if (slow_sync_us)
		usleep((useconds_t) slow_sync_us);
	if (fail_errno && fail_after-- <= 0)
	{
		errno = fail_errno;
		return -1;
	}
	return wal_io_default.fdatasync(fd);
}

static void
install_fault(bool on_fallocate, int e, int after)
{
	struct wal_io_ops ops = wal_io_default;

	fail_errno = e;
	fail_after = after;
	fail_times = 0;
	if (on_fallocate)
		ops.fallocate = fault_fallocate;
	else
		ops.fdatasync = fault_fdatasync;
	wal_set_io_ops(&ops);
}

/* Checks the failed state; returns the persisted index, which is frozen. */
static uint64_t
expect_failed(struct wal *w, int root_cause)
{
	struct wal_entry *e;
	size_t		n;
	struct wal_stats st;
	uint64_t	persisted;

	assert_int_equal(wal_wait_persisted(w, wal_last_index(w)), root_cause);
	assert_true(strlen(wal_errmsg()) > 0);
	persisted = wal_persisted_index(w);
	assert_true(persisted < wal_last_index(w));
	assert_int_equal(wal_append(w, wal_last_index(w) + 1, 1, 0, "x", 1, 0),
					 WAL_EFAILED);
	assert_int_equal(wal_read(w, 1, 1, 0, &e, &n), WAL_EFAILED);
	assert_int_equal(wal_truncate_suffix(w, 1), WAL_EFAILED);
	assert_int_equal(wal_compact(w, 1), WAL_EFAILED);
	wal_stats(w, &st);
	assert_true(st.failed);
	usleep(20000);
	assert_int_equal(wal_persisted_index(w), persisted);
	return persisted;
}

static uint64_t last_segment_first(void);

/*
 * Waits until the next segment is prepared, so that the spare helper thread
 * is idle (a fault installed after it cannot hit it half-way).
 */
static void
wait_spare_ready(struct wal *w)
{
	struct wal_stats st;

	for (int i = 0; i < 5000; i++)
	{
		wal_stats(w, &st);
		if (st.spare_ready)
			return;
		usleep(1000);
	}
	fail_msg("the spare segment was never prepared");
}

static void
spare_path(char *path, size_t len)
{
	snprintf(path, len, "%s/%s", dir, WAL_SPARE_NAME);
}

/*
 * ENOSPC when the next segment is made.  The first segment comes from the
 * first spare (1 fallocate that works); making the next spare fails on the
 * helper thread, and again when the writer tries it itself at the roll:
 * the log fails there, with the root cause, and nothing past the first
 * segment is reported persisted.
 */
static void
test_enospc_on_new_segment(void **state)
{
	struct wal *w;
	struct wal_stats st;
	char		path[512];
	uint64_t	persisted;

	install_fault(true, ENOSPC, 1);	/* before open: read by both threads */
	w = open_small();
	append_range(w, 1, 50, 1);
	assert_int_equal(wal_wait_persisted(w, 50), WAL_OK);
	for (uint64_t i = 51; i <= 2000; i++)
	{
		int			rc = wt_append(w, i, 1, SALT);	/* may see the failure */

		assert_true(rc == WAL_OK || rc == WAL_EFAILED);
		if (rc != WAL_OK)
			break;
	}
	persisted = expect_failed(w, WAL_ENOSPC);
	assert_non_null(strstr(wal_errmsg(), "preallocate"));
	assert_true(persisted >= 50);
	wal_stats(w, &st);
	assert_int_equal(st.segments, 1);	/* failed at the first roll */
	assert_false(st.spare_ready);
	wal_close(w);
	spare_path(path, sizeof(path));
	assert_int_not_equal(access(path, F_OK), 0);	/* nothing half-made */
	wal_set_io_ops(NULL);
	w = open_small();			/* space is back: reopen recovers */
	assert_true(wal_last_index(w) >= persisted);
	verify_range(w, 1, wal_last_index(w));
	wal_close(w);
}

/*
 * A spare that the helper thread could not make is not the end: the
 * writer makes it at the roll, and the log goes on if that works.
 */
static void
test_enospc_on_spare_only(void **state)
{
	struct wal *w;
	struct wal_stats st;

	install_fault(true, ENOSPC, 1);
	fail_times = 1;				/* only the helper's second spare fails */
	w = open_small();
	append_range(w, 1, 2000, 1);
	assert_int_equal(wal_wait_persisted(w, 2000), WAL_OK);
	wal_stats(w, &st);
	assert_false(st.failed);
	assert_true(st.segments >= 3);
	assert_true(st.spare_waits >= 1);	/* the failed one */
	wal_close(w);
	wal_set_io_ops(NULL);
	w = open_small();
	assert_int_equal(wal_last_index(w), 2000);
	verify_range(w, 1, 2000);
	wal_close(w);
}

/*
 * The spare is a zero-filled file of the segment size beside the segments,
 * never one of them: not counted, removed at close, and a leftover one
 * (even holding valid records) is removed by recovery, not read.
 */
static void
test_spare_is_not_a_segment(void **state)
{
	struct wal *w = open_small();
	struct wal_stats st;
	char		path[512],
				seg[512];
	struct stat sb;
	uint8_t    *buf;
	int			fd;
	uint64_t	first;

	append_range(w, 1, 1500, 1);
	assert_int_equal(wal_wait_persisted(w, 1500), WAL_OK);
	wait_spare_ready(w);
	wal_stats(w, &st);
	assert_true(st.segments >= 3);
	assert_int_equal(st.bytes_on_disk, st.segments * 64 * 1024);
	spare_path(path, sizeof(path));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 64 * 1024);
	buf = malloc(64 * 1024);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, 64 * 1024, 0), 64 * 1024);
	close(fd);
	for (size_t i = 0; i < 64 * 1024; i++)
		assert_int_equal(buf[i], 0);	/* header too: not a segment */
	wal_close(w);
	assert_int_not_equal(access(path, F_OK), 0);
	/* A crash between the header write and the rename: a spare holding a
	 * valid segment (here a copy of the last one) is removed, not used. */
	first = last_segment_first();
	wt_seg_path(dir, first, seg, sizeof(seg));
	fd = open(seg, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, 64 * 1024, 0), 64 * 1024);
	close(fd);
	fd = open(path, O_WRONLY | O_CREAT, 0640);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, 64 * 1024, 0), 64 * 1024);
	close(fd);
	free(buf);
	w = open_small();
	assert_int_equal(wal_first_index(w), 1);
	assert_int_equal(wal_last_index(w), 1500);
	verify_range(w, 1, 1500);
	append_range(w, 1501, 3000, 2);
	assert_int_equal(wal_wait_persisted(w, 3000), WAL_OK);
	wal_close(w);
	w = open_small();
	assert_int_equal(wal_last_index(w), 3000);
	verify_range(w, 1, 3000);
	wal_close(w);
	/* Closed while the spare is being made (64 MiB): no hang, no file. */
	assert_int_equal(wal_open(dir, NULL, &w), WAL_OK);
	wal_close(w);
	assert_int_not_equal(access(path, F_OK), 0);
}

static void
test_eio_on_fdatasync(void **state)
{
	struct wal *w = open_small();

	append_range(w, 1, 20, 1);
	assert_int_equal(wal_wait_persisted(w, 20), WAL_OK);
	wait_spare_ready(w);		/* the helper is idle: only batches sync */
	install_fault(false, EIO, 0);
	assert_int_equal(wt_append(w, 21, 1, SALT), WAL_OK);
	for (uint64_t i = 22; i <= 30; i++)
	{
		int			rc = wt_append(w, i, 1, SALT);	/* may see the failure */

		assert_true(rc == WAL_OK || rc == WAL_EFAILED);
	}
	/* Nothing is reported past the failed sync. */
	assert_int_equal(expect_failed(w, WAL_EIO), 20);
	wal_close(w);
}

static void
test_backpressure(void **state)
{
	struct wal_options o;
	struct wal *w = NULL;
	int			again = 0;
	uint64_t	next = 1;

	wal_options_init(&o);
	o.queue_max_entries = 8;
	slow_sync_us = 20000;
	install_fault(false, 0, 0);
	assert_int_equal(wal_open(dir, &o, &w), WAL_OK);
	for (int i = 0; i < 100; i++)
	{
		int			rc = wal_append(w, next, 1, 0, "abc", 3, 0);

		if (rc == WAL_EAGAIN)
			again++;
		else
		{
			assert_int_equal(rc, WAL_OK);
			next++;
		}
	}
	assert_true(again > 0);
	assert_int_equal(wal_append(w, next, 1, 0, "abc", 3, WAL_APPEND_BLOCK), WAL_OK);
	assert_int_equal(wal_wait_persisted(w, next), WAL_OK);
	slow_sync_us = 0;
	wal_close(w);
}

/* ---- recovery ---- */

static void
make_log(uint64_t n)
{
	struct wal *w = open_small();

	append_range(w, 1, n, 1);
	assert_int_equal(wal_wait_persisted(w, n), WAL_OK);
	wal_close(w);
}

static uint64_t
last_segment_first(void)
{
	struct wal *w = open_small();
	struct wal_entry *e;
	size_t		n;
	uint64_t	first = 0;
	char		path[512];

	/* The last segment is the one holding the last index. */
	for (uint64_t f = wal_last_index(w); f >= 1 && first == 0; f--)
	{
		wt_seg_path(dir, f, path, sizeof(path));
		if (access(path, F_OK) == 0)
			first = f;
	}
	assert_int_equal(wal_read(w, first, first, 0, &e, &n), WAL_OK);
	wal_entries_free(e, n);
	wal_close(w);
	return first;
}

static void
test_recover_torn_last_record(void **state)
{
	char		path[512];
	uint64_t	first,
				off;
	size_t		size = 0;
	struct wal *w;

	make_log(500);
	first = last_segment_first();
	wt_seg_path(dir, first, path, sizeof(path));
	off = wt_record_offset(path, 500, &size);
	assert_true(off > 0);
	wt_flip(path, off + size - 6);	/* inside the last record */
	w = open_small();
	assert_int_equal(wal_last_index(w), 499);
	verify_range(w, 1, 499);
	append_range(w, 500, 520, 2);	/* the cut place is reused */
	wal_close(w);
	w = open_small();
	assert_int_equal(wal_last_index(w), 520);
	verify_range(w, 1, 520);
	wal_close(w);
}

static void
test_recover_garbage_tail(void **state)
{
	char		path[512];
	uint64_t	first,
				off;
	size_t		size = 0;
	struct wal *w;
	uint8_t		half[40];

	make_log(200);
	first = last_segment_first();
	wt_seg_path(dir, first, path, sizeof(path));
	off = wt_record_offset(path, 200, &size);
	/* A half-written record 201 after the last one (crash mid-write). */
	memset(half, 0xab, sizeof(half));
	half[0] = 201;
	memset(half + 1, 0, 7);
	wt_poke(path, off + size, half, sizeof(half));
	w = open_small();
	assert_int_equal(wal_last_index(w), 200);
	append_range(w, 201, 202, 1);
	wal_close(w);
	w = open_small();
	assert_int_equal(wal_last_index(w), 202);
	verify_range(w, 1, 202);
	wal_close(w);
}

static void
test_refuse_corruption_in_last_segment(void **state)
{
	char		path[512];
	uint64_t	first,
				off;
	size_t		size = 0;
	struct wal *w = NULL;

	make_log(500);
	first = last_segment_first();
	wt_seg_path(dir, first, path, sizeof(path));
	off = wt_record_offset(path, first + 2, &size);
	assert_true(off > 0);
	wt_flip(path, off + 30);	/* a record followed by good ones */
	assert_int_equal(wal_open(dir, NULL, &w), WAL_ECORRUPT);
	assert_non_null(strstr(wal_errmsg(), path + strlen(dir) + 1));
	assert_non_null(strstr(wal_errmsg(), "offset"));
	/* Open keeps refusing: nothing was cut. */
	assert_int_equal(wal_open(dir, NULL, &w), WAL_ECORRUPT);
}

static void
test_refuse_corruption_in_middle_segment(void **state)
{
	char		path[512];
	uint64_t	off;
	size_t		size = 0;
	struct wal *w = NULL;

	make_log(2000);
	wt_seg_path(dir, 1, path, sizeof(path));
	off = wt_record_offset(path, 5, &size);
	wt_flip(path, off + 26);
	assert_int_equal(wal_open(dir, NULL, &w), WAL_ECORRUPT);
	assert_non_null(strstr(wal_errmsg(), "00000000000000000001.seg"));
	/* Even the last record of a middle segment: it was synced. */
	wt_flip(path, off + 26);
	w = open_small();
	wal_close(w);
}

static void
test_refuse_missing_segment_and_bad_header(void **state)
{
	char		path[512];
	struct wal *w = open_small();
	struct wal_stats st;
	uint64_t	second = 0;

	append_range(w, 1, 3000, 1);
	assert_int_equal(wal_flush(w), WAL_OK);
	wal_stats(w, &st);
	assert_true(st.segments >= 3);
	wal_close(w);
	for (uint64_t f = 2; f < 3000 && second == 0; f++)
	{
		wt_seg_path(dir, f, path, sizeof(path));
		if (access(path, F_OK) == 0)
			second = f;
	}
	assert_true(second > 0);
	wt_flip(path, 9);			/* header's first index */
	assert_int_equal(wal_open(dir, NULL, &w), WAL_ECORRUPT);
	assert_non_null(strstr(wal_errmsg(), "header"));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(wal_open(dir, NULL, &w), WAL_EMISSING);
	assert_non_null(strstr(wal_errmsg(), "gap"));
}

/* ---- hard state ---- */

static void
test_hardstate(void **state)
{
	struct wal_hardstate hs = {.term = 3, .vote = 2, .n_members = 2}, out;
	char		path[512];
	uint8_t		b = 0xff;

	assert_int_equal(wal_hardstate_load(dir, &out), WAL_ENOENT);
	hs.members[0] = (struct wal_member) {.id = 1, .voter = true,
	.peer_addr = "a:1", .client_addr = "a:2"};
	hs.members[1] = (struct wal_member) {.id = 2, .voter = false,
	.peer_addr = "b:1", .client_addr = "b:2"};
	assert_int_equal(wal_hardstate_save(dir, &hs), WAL_OK);
	assert_int_equal(wal_hardstate_load(dir, &out), WAL_OK);
	assert_int_equal(out.term, 3);
	assert_int_equal(out.vote, 2);
	assert_int_equal(out.n_members, 2);
	assert_string_equal(out.members[1].peer_addr, "b:1");
	assert_false(out.members[1].voter);
	hs.term = 4;
	assert_int_equal(wal_hardstate_save(dir, &hs), WAL_OK);
	assert_int_equal(wal_hardstate_load(dir, &out), WAL_OK);
	assert_int_equal(out.term, 4);
	hs.n_members = WAL_MAX_MEMBERS + 1;
	assert_int_equal(wal_hardstate_save(dir, &hs), WAL_EINVAL);
	snprintf(path, sizeof(path), "%s/hardstate", dir);
	wt_poke(path, 9, &b, 1);
	assert_int_equal(wal_hardstate_load(dir, &out), WAL_ECORRUPT);
	assert_non_null(strstr(wal_errmsg(), "checksum"));
	assert_int_equal(truncate(path, 30), 0);
	assert_int_equal(wal_hardstate_load(dir, &out), WAL_ECORRUPT);
	/* A failed fsync leaves the old file and reports the error. */
	hs.n_members = 2;
	assert_int_equal(wal_hardstate_save(dir, &hs), WAL_OK);
	{
		struct wal_io_ops ops = wal_io_default;

		ops.fsync = fault_fdatasync;
		fail_errno = EIO;
		fail_after = 0;
		wal_set_io_ops(&ops);
		hs.term = 99;
		assert_int_equal(wal_hardstate_save(dir, &hs), WAL_EIO);
		wal_set_io_ops(NULL);
		fail_errno = 0;
	}
	assert_int_equal(wal_hardstate_load(dir, &out), WAL_OK);
	assert_int_equal(out.term, 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_read_persist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_limits_and_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_continuity_and_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncate_suffix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_during_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_waiters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eventfd_loop_then_waiter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_after_truncate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enospc_on_new_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enospc_on_spare_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spare_is_not_a_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eio_on_fdatasync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_torn_last_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_garbage_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_corruption_in_last_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_corruption_in_middle_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_missing_segment_and_bad_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hardstate, setup, teardown),
	};

	pgq_log_set_level(PGQ_LOG_WARNING);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
