/*
 * test_wal_crash.c
 *	  Proves that a crash (SIGKILL) at any moment loses nothing that was
 *	  reported persisted and leaves nothing half-present.  A child appends
 *	  under load with small segments (rolling and compacting) and writes
 *	  every persisted index it is told to a pipe; the parent kills it at a
 *	  random moment, reopens the log, and checks that every index up to the
 *	  highest one reported is there, intact (payload is a function of the
 *	  index), contiguous, and that a second open finds the same log.
 *	  Seeded: PGQ_WAL_CRASH_SEED=<n> replays, PGQ_WAL_CRASH_ROUNDS=<n>.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "common/pgq_log.h"
#include "tests/wal/wal_test_util.h"
#include "wal/wal.h"

#define SALT 4242

static struct wal_options
crash_options(void)
{
	struct wal_options o;

	wal_options_init(&o);
	o.segment_size = 64 * 1024;
	o.batch_max_entries = 64;
	return o;
}

struct reporter
{
	struct wal *w;
	int			fd;
};

static void *
reporter_main(void *p)
{
	struct reporter *r = p;
	struct pollfd pfd = {.fd = wal_eventfd(r->w), .events = POLLIN};
	uint64_t	sent = 0,
				v;

	for (;;)
	{
		if (poll(&pfd, 1, 100) > 0 && read(pfd.fd, &v, sizeof(v)) < 0 &&
			errno != EAGAIN)
			_exit(3);
		v = wal_persisted_index(r->w);
		if (v > sent && write(r->fd, &v, sizeof(v)) != sizeof(v))
			_exit(3);
		sent = v > sent ? v : sent;
	}
	return NULL;
}

static void
run_child(const char *dir, int fd)
{
	struct wal_options o = crash_options();
	struct wal *w;
	struct reporter r;
	pthread_t	t;
	uint64_t	next;

	pgq_log_set_level(PGQ_LOG_ERROR);
	if (wal_open(dir, &o, &w) != WAL_OK)
	{
		fprintf(stderr, "child: open failed: %s\n", wal_errmsg());
		_exit(2);
	}
	r = (struct reporter) {.w = w, .fd = fd};
	pthread_create(&t, NULL, reporter_main, &r);
	next = wal_last_index(w) + 1;
	for (;; next++)
	{
		if (wt_append(w, next, 1, SALT) != WAL_OK)
		{
			fprintf(stderr, "child: append %llu: %s\n",
					(unsigned long long) next, wal_errmsg());
			_exit(2);
		}
		if (next % 3000 == 0 && next > 6000)
			wal_compact(w, next - 6000);
	}
}

/* Reopens dir and checks it against the highest index reported. */
static int
verify(const char *dir, uint64_t told, uint64_t *last_out)
{
	struct wal_options o = crash_options();
	struct wal *w;
	uint64_t	first,
				last,
				x;

	if (wal_open(dir, &o, &w) != WAL_OK)
	{
		fprintf(stderr, "reopen failed: %s\n", wal_errmsg());
		return 1;
	}
	first = wal_first_index(w);
	last = wal_last_index(w);
	if (last < told || (told > 0 && first > told))
	{
		fprintf(stderr, "lost entries: log [%llu, %llu], told %llu\n",
				(unsigned long long) first, (unsigned long long) last,
				(unsigned long long) told);
		wal_close(w);
		return 1;
	}
	for (x = first; x != 0 && x <= last;)
	{
		struct wal_entry *e;
		size_t		n;

		if (wal_read(w, x, last, 1 << 20, &e, &n) != WAL_OK)
		{
			fprintf(stderr, "read %llu failed: %s\n", (unsigned long long) x,
					wal_errmsg());
			wal_close(w);
			return 1;
		}
		for (size_t i = 0; i < n; i++)
			if (e[i].index != x + i || e[i].term != 1 || !wt_check(&e[i], SALT))
			{
				fprintf(stderr, "entry %llu damaged\n", (unsigned long long) (x + i));
				wal_close(w);
				return 1;
			}
		x += n;
		wal_entries_free(e, n);
	}
	wal_close(w);
	*last_out = last;
	return 0;
}

static uint64_t
drain(int fd, uint64_t told)
{
	uint64_t	v;

	while (read(fd, &v, sizeof(v)) == sizeof(v))
		told = v > told ? v : told;
	return told;
}

static int
one_round(const char *dir, unsigned *seed, uint64_t *told)
{
	int			p[2];
	pid_t		pid;
	struct timespec ts = {0, (long) (1 + rand_r(seed) % 60) * 1000000L};
	uint64_t	last,
				last2;

	if (pipe(p) != 0 || (pid = fork()) < 0)
		return 1;
	if (pid == 0)
	{
		close(p[0]);
		run_child(dir, p[1]);
	}
	close(p[1]);
	nanosleep(&ts, NULL);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	*told = drain(p[0], *told);
	close(p[0]);
	if (verify(dir, *told, &last) != 0 || verify(dir, *told, &last2) != 0)
		return 1;
	if (last != last2)
	{
		fprintf(stderr, "second open differs: %llu vs %llu\n",
				(unsigned long long) last, (unsigned long long) last2);
		return 1;
	}
	return 0;
}

int
main(void)
{
	unsigned	seed = getenv("PGQ_WAL_CRASH_SEED") ?
		(unsigned) strtoul(getenv("PGQ_WAL_CRASH_SEED"), NULL, 10) :
		(unsigned) time(NULL) ^ (unsigned) getpid();
	int			rounds = getenv("PGQ_WAL_CRASH_ROUNDS") ?
		atoi(getenv("PGQ_WAL_CRASH_ROUNDS")) : 150;
	char	   *dir = wt_mkdtemp();
	uint64_t	told = 0;
	int			rc = 0;

	printf("test_wal_crash: seed %u (PGQ_WAL_CRASH_SEED=%u to replay), %d rounds\n",
		   seed, seed, rounds);
	pgq_log_set_level(PGQ_LOG_ERROR);
	for (int r = 0; r < rounds && rc == 0; r++)
	{
		rc = one_round(dir, &seed, &told);
		if (rc != 0)
			printf("FAIL in round %d (log kept in %s)\n", r, dir);
	}
	if (rc == 0)
	{
		printf("ok: %d kills, highest index reported persisted %llu\n", rounds,
			   (unsigned long long) told);
		wt_rmtree(dir);
	}
	return rc;
}
