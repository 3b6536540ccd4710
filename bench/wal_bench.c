/*
 * wal_bench.c
 *	  Group-commit benchmark of wal/: appends/s and latency until persisted
 *	  for 1, 16 and 256 appends in flight, 128-B and 4-KiB payloads, next to
 *	  the raw fdatasync rate of the same directory: pwrite of N bytes at the
 *	  end of what was written so far in a zero-filled (written, not just
 *	  preallocated) file, then fdatasync.  That is the physical floor of one
 *	  wal batch of N bytes: the wal zero-fills its segments too, so a batch
 *	  overwrites written blocks.  Segment creation (the wal prepares the
 *	  next segment on a helper thread) happens inside the timed runs, as it
 *	  would in production.  Run through bench/wal.
 *
 *	  Two appender models, both in the table:
 *	  - loop: ONE thread keeps K appends in flight, as the node's event loop
 *	    does (sync/sync_node.c): it appends (indexes assigned by the caller)
 *	    until K are outstanding, then poll()s wal_eventfd(), reads it, takes
 *	    wal_persisted_index(), completes every index <= persisted (latency
 *	    from its append time) and refills to K.  K concurrent client
 *	    sessions of a node are K appends outstanding from that one thread.
 *	  - threads: K threads, each wal_append + wal_wait_persisted in a loop,
 *	    indexes handed out under a lock.  With K = 256 on a small machine
 *	    this mostly measures the threads (K context switches per batch, the
 *	    benchmark's lock), not the log.
 *	  The goals use the loop model, because that is how the node uses the
 *	  wal.
 *
 *	  The disk of a shared VM changes speed from one minute to the next
 *	  (fdatasync from 0.1 to 4 ms), so the two goals never compare runs
 *	  made far apart.  Each goal alternates short slices on one open wal
 *	  and one raw file:  R0 W1 R1 W2 R2 ... Wn Rn.  Round r compares wal
 *	  slice Wr with the mean of the raw slices just before and after it;
 *	  the goal is the median of the n per-round values, all printed:
 *	  - wal_256_vs_sync_batch: appends/s of Wr (128 B, loop, 256 in flight)
 *	    divided by (raw syncs/s x the average batch of Wr), raw slices
 *	    writing an average batch's bytes (Rr: Wr's, R0: a warm-up slice's);
 *	  - wal_single_overhead_us: p50 latency of Wr (128 B, loop, 1 in flight)
 *	    minus the p50 of raw syncs of one record's bytes (160 B).
 *	  Raw slices start only once the wal's spare segment is prepared, so
 *	  no zero-fill of the wal runs beside them.  Each round of the first
 *	  goal also prints where the writer's time went per batch (wal_stats:
 *	  idle, pwrite, fdatasync, rolls, the rest) and the rolls in the slice
 *	  (0: no zero-fill of a spare ran beside that wal slice).
 *
 *	  wal_bench [--quick] [dir]
 */
#include "config.h"

#include <fcntl.h>
#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/pgq_log.h"
#include "wal/wal.h"

#define MAX_SAMPLES (1 << 21)
#define MAX_ROUNDS 64

static double run_seconds = 5.0;	/* each run of the table */
static double slice_seconds = 1.0;	/* each slice of a goal */
static double warm_seconds = 1.0;	/* the goals' warm-up wal slice */
static int	rounds = 21;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

static double
percentile(double *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(double), cmp_double);
	return v[(size_t) ((double) (n - 1) * p)];
}

/* Median of v[0..n) (v is left as is). */
static double
median(const double *v, int n)
{
	double		c[MAX_ROUNDS];

	if (n == 0)
		return 0;
	memcpy(c, v, (size_t) n * sizeof(double));
	qsort(c, (size_t) n, sizeof(double), cmp_double);
	return n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
}

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	return remove(p);
}

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

struct raw_result
{
	double		syncs_per_s;
	double		p50_us;
};

/* The raw baseline's file: zero-filled once, written on end to end. */
struct raw_file
{
	char		path[4096];
	int			fd;
	uint64_t	off;
	char	   *buf;
};

enum
{
	RAW_FILE_SIZE = 64 << 20
};

static void
raw_open(struct raw_file *rf, const char *dir)
{
	char	   *zeros = calloc(1, 1 << 20);

	snprintf(rf->path, sizeof(rf->path), "%s/raw-sync.dat", dir);
	rf->fd = open(rf->path, O_RDWR | O_CREAT | O_TRUNC, 0640);
	rf->buf = malloc(RAW_FILE_SIZE);
	rf->off = 0;
	if (rf->fd < 0 || zeros == NULL || rf->buf == NULL)
		die(rf->path);
	for (uint64_t off = 0; off < RAW_FILE_SIZE; off += 1 << 20)
		if (pwrite(rf->fd, zeros, 1 << 20, (off_t) off) != 1 << 20)
			die(rf->path);
	if (fdatasync(rf->fd) != 0)
		die(rf->path);
	memset(rf->buf, 1, RAW_FILE_SIZE);
	free(zeros);
}

static void
raw_close(struct raw_file *rf)
{
	close(rf->fd);
	unlink(rf->path);
	free(rf->buf);
}

/* pwrite of chunk bytes + fdatasync, again and again for seconds. */
static struct raw_result
raw_slice(struct raw_file *rf, size_t chunk, double seconds)
{
	static double lat[MAX_SAMPLES];
	size_t		n = 0;
	double		start,
				end;

	if (chunk == 0)
		chunk = 1;
	if (chunk > RAW_FILE_SIZE)
		chunk = RAW_FILE_SIZE;
	start = now_s();
	for (end = start; end - start < seconds && n < MAX_SAMPLES;)
	{
		double		t0 = now_s();

		if (rf->off + chunk > RAW_FILE_SIZE)
			rf->off = 0;
		if (pwrite(rf->fd, rf->buf, chunk, (off_t) rf->off) != (ssize_t) chunk ||
			fdatasync(rf->fd) != 0)
			die("raw sync");
		rf->off += chunk;
		end = now_s();
		lat[n++] = (end - t0) * 1e6;
	}
	return (struct raw_result) {n / (end - start), percentile(lat, n, 0.5)};
}

/* How the appends are issued; see the head comment. */
enum model
{
	MODEL_LOOP,
	MODEL_THREADS
};

static const char *const model_name[] = {"loop", "threads"};

/* One open wal that slices of appenders run on, one after the other. */
struct run
{
	char		dir[4096];
	struct wal *w;
	pthread_mutex_t idx_lock;
	uint64_t	next;
	uint32_t	payload;
	double		stop_at;
	double	   *lat;
	size_t		n_lat;			/* atomic */
	uint64_t	done;			/* atomic */
};

static void *
appender(void *p)
{
	struct run *r = p;
	uint8_t    *buf = calloc(1, r->payload);

	while (now_s() < r->stop_at)
	{
		double		t0 = now_s();
		uint64_t	idx;
		size_t		slot;

		pthread_mutex_lock(&r->idx_lock);
		idx = ++r->next;
		if (wal_append(r->w, idx, 1, 0, buf, r->payload, WAL_APPEND_BLOCK) != WAL_OK)
		{
			fprintf(stderr, "append: %s\n", wal_errmsg());
			exit(1);
		}
		pthread_mutex_unlock(&r->idx_lock);
		if (wal_wait_persisted(r->w, idx) != WAL_OK)
		{
			fprintf(stderr, "wait: %s\n", wal_errmsg());
			exit(1);
		}
		slot = __atomic_fetch_add(&r->n_lat, 1, __ATOMIC_RELAXED);
		if (slot < MAX_SAMPLES)
			r->lat[slot] = (now_s() - t0) * 1e6;
		__atomic_fetch_add(&r->done, 1, __ATOMIC_RELAXED);
	}
	free(buf);
	return NULL;
}

struct wal_result
{
	double		appends_per_s;
	double		p50_us;
	double		p99_us;
	double		avg_batch;
	double		syncs_per_s;
	uint64_t	segments;
	uint64_t	spare_waits;
	uint64_t	rolls;			/* segments begun in this slice */
	/* the writer's time per batch, us: idle, pwrite, fdatasync, rolls, rest */
	double		idle_us;
	double		write_us;
	double		sync_us;
	double		roll_us;
	double		rest_us;
};

static void
run_open(struct run *r, const char *dir, const char *tag, uint32_t payload)
{
	*r = (struct run) {.payload = payload};
	snprintf(r->dir, sizeof(r->dir), "%s/wal-%s-%u", dir, tag, payload);
	if (wal_open(r->dir, NULL, &r->w) != WAL_OK)
	{
		fprintf(stderr, "open: %s\n", wal_errmsg());
		exit(1);
	}
	r->lat = malloc(MAX_SAMPLES * sizeof(double));
	if (r->lat == NULL)
		die("malloc");
	pthread_mutex_init(&r->idx_lock, NULL);
}

static void
run_close(struct run *r)
{
	wal_close(r->w);
	nftw(r->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	pthread_mutex_destroy(&r->idx_lock);
	free(r->lat);
}

/* Model threads: k appender threads until r->stop_at. */
static void
run_threads(struct run *r, int k)
{
	pthread_t  *t = calloc((size_t) k, sizeof(*t));

	if (t == NULL)
		die("calloc");
	for (int i = 0; i < k; i++)
		if (pthread_create(&t[i], NULL, appender, r) != 0)
			die("pthread_create");
	for (int i = 0; i < k; i++)
		pthread_join(t[i], NULL);
	free(t);
}

/*
 * Model loop: this thread keeps k appends in flight until r->stop_at, then
 * waits for the last ones.  Outstanding indexes are (completed, r->next],
 * at most k of them, so their append times fit a ring of k slots.
 */
static void
run_loop(struct run *r, int k)
{
	uint8_t    *buf = calloc(1, r->payload);
	double	   *t_append = calloc((size_t) k, sizeof(double));
	uint64_t	completed = r->next;	/* the previous slice drained */
	struct pollfd pfd = {.fd = wal_eventfd(r->w), .events = POLLIN};
	bool		stopping = false;

	if (buf == NULL || t_append == NULL)
		die("calloc");
	for (;;)
	{
		uint64_t	persisted;
		uint64_t	count;
		double		t;

		if (!stopping && now_s() >= r->stop_at)
			stopping = true;
		while (!stopping && r->next - completed < (uint64_t) k)
		{
			uint64_t	idx = r->next + 1;

			t_append[idx % (uint64_t) k] = now_s();
			if (wal_append(r->w, idx, 1, 0, buf, r->payload,
						   WAL_APPEND_BLOCK) != WAL_OK)
			{
				fprintf(stderr, "append: %s\n", wal_errmsg());
				exit(1);
			}
			r->next = idx;
		}
		if (completed == r->next)
			break;				/* stopping and drained */
		for (;;)
		{
			int			rc = poll(&pfd, 1, 10000);

			if (rc > 0)
				break;
			if (rc == 0)
			{
				fprintf(stderr, "wal_bench: no persisted event for 10 s\n");
				exit(1);
			}
			if (errno != EINTR)
				die("poll");
		}
		if (read(pfd.fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
			die("read eventfd");
		persisted = wal_persisted_index(r->w);
		t = now_s();
		if (persisted <= completed)
		{
			struct wal_stats st;

			wal_stats(r->w, &st);
			if (st.failed)
			{
				fprintf(stderr, "wal_bench: the log failed\n");
				exit(1);
			}
			continue;
		}
		if (persisted > r->next)
			persisted = r->next;
		for (uint64_t i = completed + 1; i <= persisted; i++)
		{
			if (r->n_lat < MAX_SAMPLES)
				r->lat[r->n_lat] = (t - t_append[i % (uint64_t) k]) * 1e6;
			r->n_lat++;
			r->done++;
		}
		completed = persisted;
	}
	free(t_append);
	free(buf);
}

/*
 * k appends in flight (model m) for seconds on r's wal; counters of this
 * slice only.
 */
static struct wal_result
wal_slice(struct run *r, enum model m, int k, double seconds)
{
	struct wal_stats st0,
				st;
	struct wal_result res;
	double		start,
				elapsed;

	r->n_lat = 0;
	r->done = 0;
	wal_stats(r->w, &st0);
	start = now_s();
	r->stop_at = start + seconds;
	if (m == MODEL_LOOP)
		run_loop(r, k);
	else
		run_threads(r, k);
	elapsed = now_s() - start;
	wal_stats(r->w, &st);
	res.appends_per_s = r->done / elapsed;
	res.avg_batch = st.batches > st0.batches ?
		(double) (st.batched_entries - st0.batched_entries) /
		(double) (st.batches - st0.batches) : 0;
	res.syncs_per_s = (double) (st.fsyncs - st0.fsyncs) / elapsed;
	if (st.batches > st0.batches)
	{
		double		nb = (double) (st.batches - st0.batches);

		res.idle_us = (double) (st.writer_idle_ns - st0.writer_idle_ns) / 1e3 / nb;
		res.write_us = (double) (st.writer_write_ns - st0.writer_write_ns) / 1e3 / nb;
		res.sync_us = (double) (st.writer_sync_ns - st0.writer_sync_ns) / 1e3 / nb;
		res.roll_us = (double) (st.writer_roll_ns - st0.writer_roll_ns) / 1e3 / nb;
		res.rest_us = elapsed * 1e6 / nb - res.idle_us - res.write_us -
			res.sync_us - res.roll_us;
	}
	else
		res.idle_us = res.write_us = res.sync_us = res.roll_us = res.rest_us = 0;
	res.segments = st.segments;
	res.rolls = st.segments - st0.segments;
	res.spare_waits = st.spare_waits;
	if (r->n_lat > MAX_SAMPLES)
		r->n_lat = MAX_SAMPLES;
	res.p50_us = percentile(r->lat, r->n_lat, 0.5);
	res.p99_us = percentile(r->lat, r->n_lat, 0.99);
	return res;
}

/*
 * Waits (up to 5 s) until the wal's next segment is prepared: no zero-fill
 * of the wal may run during a raw slice.
 */
static void
wait_quiet(struct run *r)
{
	struct wal_stats st;

	for (int i = 0; i < 500; i++)
	{
		wal_stats(r->w, &st);
		if (st.spare_ready)
			return;
		usleep(10000);
	}
	fprintf(stderr, "wal_bench: the spare segment is not ready after 5 s\n");
}

/* One run of the table: a fresh wal, k x payload (model m) for run_seconds. */
static struct wal_result
run_wal(const char *dir, enum model m, int k, uint32_t payload)
{
	struct run	r;
	struct wal_result res;
	char		tag[32];

	snprintf(tag, sizeof(tag), "%s%d", model_name[m], k);
	run_open(&r, dir, tag, payload);
	res = wal_slice(&r, m, k, run_seconds);
	run_close(&r);
	return res;
}

/* Goal wal_256_vs_sync_batch: see the head comment. */
static double
goal_group_commit(const char *dir, struct raw_file *rf)
{
	const size_t rec = wal_record_size(128);
	struct run	r;
	struct wal_result w;
	struct raw_result before,
				after;
	size_t		bytes;
	double		ratio[MAX_ROUNDS];

	printf("goal wal_256_vs_sync_batch: %d rounds of a %.1f s wal slice "
		   "(128 B, loop model, 256 in flight) between %.1f s raw slices\n",
		   rounds, slice_seconds, slice_seconds);
	run_open(&r, dir, "goal256", 128);
	w = wal_slice(&r, MODEL_LOOP, 256, warm_seconds);
	bytes = (size_t) (w.avg_batch * (double) rec + 0.5);
	wait_quiet(&r);
	before = raw_slice(rf, bytes, slice_seconds);
	for (int k = 0; k < rounds; k++)
	{
		size_t		bytes_before = bytes;
		double		raw_rate;

		w = wal_slice(&r, MODEL_LOOP, 256, slice_seconds);
		bytes = (size_t) (w.avg_batch * (double) rec + 0.5);
		wait_quiet(&r);
		after = raw_slice(rf, bytes, slice_seconds);
		raw_rate = (before.syncs_per_s + after.syncs_per_s) / 2;
		ratio[k] = w.avg_batch > 0 && raw_rate > 0 ?
			w.appends_per_s / (raw_rate * w.avg_batch) : 0;
		printf("  round %2d: wal %8.0f appends/s, avg batch %6.1f (%6zu B), "
			   "%5.0f syncs/s | raw %6zu B %5.0f syncs/s, %6zu B %5.0f syncs/s "
			   "-> %.2f x\n", k + 1, w.appends_per_s, w.avg_batch, bytes,
			   w.syncs_per_s, bytes_before, before.syncs_per_s, bytes,
			   after.syncs_per_s, ratio[k]);
		printf("            writer per batch: idle %4.0f  pwrite %4.0f  "
			   "fdatasync %5.0f  roll %4.0f  rest %4.0f us | raw per sync "
			   "%5.0f us | rolls %llu\n", w.idle_us, w.write_us, w.sync_us,
			   w.roll_us, w.rest_us, 1e6 / raw_rate,
			   (unsigned long long) w.rolls);
		before = after;
	}
	run_close(&r);
	printf("  per round:");
	for (int k = 0; k < rounds; k++)
		printf(" %.2f", ratio[k]);
	printf("  (median %.2f)\n", median(ratio, rounds));
	return median(ratio, rounds);
}

/* Goal wal_single_overhead_us: see the head comment. */
static double
goal_single(const char *dir, struct raw_file *rf)
{
	const size_t rec = wal_record_size(128);
	struct run	r;
	struct wal_result w;
	struct raw_result before,
				after;
	double		over[MAX_ROUNDS];

	printf("goal wal_single_overhead_us: %d rounds of a %.1f s wal slice "
		   "(128 B, loop model, 1 in flight) between %.1f s raw slices of "
		   "%zu B\n", rounds, slice_seconds, slice_seconds, rec);
	run_open(&r, dir, "goal1", 128);
	(void) wal_slice(&r, MODEL_LOOP, 1, warm_seconds);
	wait_quiet(&r);
	before = raw_slice(rf, rec, slice_seconds);
	for (int k = 0; k < rounds; k++)
	{
		w = wal_slice(&r, MODEL_LOOP, 1, slice_seconds);
		wait_quiet(&r);
		after = raw_slice(rf, rec, slice_seconds);
		over[k] = w.p50_us - (before.p50_us + after.p50_us) / 2;
		printf("  round %2d: wal p50 %6.0f us (%5.0f appends/s) | raw p50 "
			   "%6.0f us, %6.0f us -> %+.0f us\n", k + 1, w.p50_us,
			   w.appends_per_s, before.p50_us, after.p50_us, over[k]);
		before = after;
	}
	run_close(&r);
	printf("  per round:");
	for (int k = 0; k < rounds; k++)
		printf(" %+.0f", over[k]);
	printf("  (median %+.0f us)\n", median(over, rounds));
	return median(over, rounds);
}

int
main(int argc, char **argv)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char		dir[2048];
	static const int in_flight[] = {1, 16, 256};
	static const uint32_t sizes[] = {128, 4096};
	struct raw_file rf;
	struct raw_result raw;
	double		ratio,
				overhead;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--quick") == 0)
		{
			run_seconds = 2.0;
			slice_seconds = 0.5;
			warm_seconds = 0.5;
			rounds = 13;
		}
		else
			base = argv[i];
	snprintf(dir, sizeof(dir), "%s/pgq-wal-bench-XXXXXX", base);
	if (mkdtemp(dir) == NULL)
	{
		perror(dir);
		return 1;
	}
	pgq_log_set_level(PGQ_LOG_WARNING);
	printf("wal benchmark in %s, %.0f s per run\n", dir, run_seconds);
	printf("appender models (K = appends in flight):\n"
		   "  loop    = one thread keeps K appends in flight, learns \"persisted "
		   "up to N\" from poll() on wal_eventfd + wal_persisted_index: the "
		   "node's model (its event loop appends for all sessions, "
		   "sync/sync_node.c)\n"
		   "  threads = K threads, each wal_append + wal_wait_persisted in a "
		   "loop, indexes handed out under a lock: also measures K context "
		   "switches per batch and that lock\n"
		   "the goals use the loop model, because that is how the node uses "
		   "the wal\n");
	raw_open(&rf, dir);
	raw = raw_slice(&rf, 128, run_seconds);
	printf("raw fdatasync: %.0f syncs/s, p50 %.0f us\n", raw.syncs_per_s, raw.p50_us);
	for (size_t s = 0; s < 2; s++)
		for (size_t i = 0; i < 3; i++)
			for (int m = MODEL_LOOP; m <= MODEL_THREADS; m++)
			{
				struct wal_result r = run_wal(dir, (enum model) m, in_flight[i],
											  sizes[s]);

				printf("wal %-7s %4u B x %3d in flight: %9.0f appends/s  "
					   "p50 %7.0f us  p99 %7.0f us  avg batch %6.1f  "
					   "wal syncs/s %6.0f  segments %llu (rolls waiting for "
					   "the spare %llu)\n", model_name[m], sizes[s],
					   in_flight[i], r.appends_per_s, r.p50_us, r.p99_us,
					   r.avg_batch, r.syncs_per_s,
					   (unsigned long long) r.segments,
					   (unsigned long long) r.spare_waits);
			}
	ratio = goal_group_commit(dir, &rf);
	overhead = goal_single(dir, &rf);
	raw_close(&rf);
	rmdir(dir);
	printf("goal wal_256_vs_sync_batch = %.2f x (target >= 0.80 x)\n", ratio);
	printf("goal wal_single_overhead_us = %.0f us (target <= 50 us)\n", overhead);
	return 0;
}
