/*
 * wal_bench.c
 *	  Group-commit benchmark of wal/: appends/s and latency until persisted
 *	  for 1, 16 and 256 appender threads, 128-B and 4-KiB payloads, next to
 *	  the raw fdatasync rate of the same directory measured in the same run:
 *	  pwrite of N bytes at the end of what was written so far in a
 *	  zero-filled (written, not just preallocated) file, then fdatasync.
 *	  That is the physical floor of one wal batch of N bytes: the wal
 *	  zero-fills its segments too, so a batch overwrites written blocks.
 *	  N is 128 for the single-appender goal and the bytes of an average
 *	  batch of the 128-B x 256 run (measured right after it) for the group
 *	  commit goal.  Segment creation (zero-fill) happens inside the timed
 *	  runs, as it would in production.  Run through bench/wal.
 *
 *	  wal_bench [--quick] [dir]
 */
#include "config.h"

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/pgq_log.h"
#include "wal/wal.h"

#define MAX_SAMPLES (1 << 21)

static double run_seconds = 5.0;

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

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	return remove(p);
}

struct raw_result
{
	double		syncs_per_s;
	double		p50_us;
};

static struct raw_result
raw_sync(const char *dir, size_t chunk)
{
	enum
	{
		FILE_SIZE = 64 << 20
	};
	char		path[4096];
	static double lat[MAX_SAMPLES];
	size_t		n = 0;
	char	   *buf = calloc(1, chunk > FILE_SIZE ? FILE_SIZE : chunk);
	char	   *zeros = calloc(1, 1 << 20);
	uint64_t	off = 0;
	double		start,
				end;
	int			fd;

	if (chunk > FILE_SIZE)
		chunk = FILE_SIZE;
	snprintf(path, sizeof(path), "%s/raw-sync.dat", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0640);
	if (fd < 0 || buf == NULL || zeros == NULL)
	{
		perror(path);
		exit(1);
	}
	for (off = 0; off < FILE_SIZE; off += 1 << 20)
		if (pwrite(fd, zeros, 1 << 20, (off_t) off) != 1 << 20)
		{
			perror(path);
			exit(1);
		}
	fdatasync(fd);
	memset(buf, 1, chunk);
	off = 0;
	start = now_s();
	for (end = start; end - start < run_seconds && n < MAX_SAMPLES;)
	{
		double		t0 = now_s();

		if (off + chunk > FILE_SIZE)
			off = 0;
		if (pwrite(fd, buf, chunk, (off_t) off) != (ssize_t) chunk ||
			fdatasync(fd) != 0)
		{
			perror("raw sync");
			exit(1);
		}
		off += chunk;
		end = now_s();
		lat[n++] = (end - t0) * 1e6;
	}
	close(fd);
	unlink(path);
	free(buf);
	free(zeros);
	return (struct raw_result) {n / (end - start), percentile(lat, n, 0.5)};
}

struct run
{
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
};

static struct wal_result
run_wal(const char *dir, int threads, uint32_t payload)
{
	char		sub[4096];
	struct run	r = {.payload = payload};
	pthread_t  *t = calloc((size_t) threads, sizeof(*t));
	struct wal_stats st;
	struct wal_result res;
	double		start;

	snprintf(sub, sizeof(sub), "%s/wal-%d-%u", dir, threads, payload);
	if (wal_open(sub, NULL, &r.w) != WAL_OK)
	{
		fprintf(stderr, "open: %s\n", wal_errmsg());
		exit(1);
	}
	r.lat = malloc(MAX_SAMPLES * sizeof(double));
	pthread_mutex_init(&r.idx_lock, NULL);
	start = now_s();
	r.stop_at = start + run_seconds;
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, appender, &r);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	res.appends_per_s = r.done / (now_s() - start);
	wal_stats(r.w, &st);
	res.avg_batch = st.batches ? (double) st.batched_entries / st.batches : 0;
	res.syncs_per_s = st.fsyncs / (now_s() - start);
	if (r.n_lat > MAX_SAMPLES)
		r.n_lat = MAX_SAMPLES;
	res.p50_us = percentile(r.lat, r.n_lat, 0.5);
	res.p99_us = percentile(r.lat, r.n_lat, 0.99);
	wal_close(r.w);
	nftw(sub, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(r.lat);
	free(t);
	return res;
}

int
main(int argc, char **argv)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char		dir[2048];
	static const int threads[] = {1, 16, 256};
	static const uint32_t sizes[] = {128, 4096};
	struct wal_result r128[3];
	struct raw_result raw,
				raw_batch = {0};

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--quick") == 0)
			run_seconds = 2.0;
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
	raw = raw_sync(dir, 128);
	printf("raw fdatasync: %.0f syncs/s, p50 %.0f us\n", raw.syncs_per_s, raw.p50_us);
	for (size_t s = 0; s < 2; s++)
		for (size_t i = 0; i < 3; i++)
		{
			struct wal_result r = run_wal(dir, threads[i], sizes[s]);

			if (sizes[s] == 128)
				r128[i] = r;
			printf("wal %4u B x %3d appenders: %9.0f appends/s  p50 %7.0f us  "
				   "p99 %7.0f us  avg batch %6.1f  wal syncs/s %6.0f\n",
				   sizes[s], threads[i], r.appends_per_s, r.p50_us, r.p99_us,
				   r.avg_batch, r.syncs_per_s);
			if (sizes[s] == 128 && threads[i] == 256)
			{
				size_t		bytes = (size_t) (r.avg_batch * wal_record_size(128) + 0.5);

				raw_batch = raw_sync(dir, bytes ? bytes : 1);
				printf("raw fdatasync of %zu B (an average 128 B x 256 batch): "
					   "%.0f syncs/s, p50 %.0f us\n", bytes,
					   raw_batch.syncs_per_s, raw_batch.p50_us);
			}
		}
	rmdir(dir);
	printf("goal wal_256_vs_sync_batch = %.2f x (target >= 0.80 x)\n",
		   r128[2].appends_per_s / (raw_batch.syncs_per_s * r128[2].avg_batch));
	printf("goal wal_single_overhead_us = %.0f us (target <= 50 us)\n",
		   r128[0].p50_us - raw.p50_us);
	return 0;
}
