/*
 * lag_probe.c
 *	  Visibility lag probe for bench/lag: how long after a write's COMMIT
 *	  returns to the client the row is visible on each reader.
 *
 *	  lag_probe --writer CONNINFO --reader NAME=CONNINFO [--reader ...]
 *	            --table T --first-id N --count N --interval-ms N
 *	            [--timeout-ms N] [--max-seconds N] [--warmup N]
 *
 *	  For each sample, an autocommit `INSERT INTO T (id) VALUES ($1)` on the
 *	  writer; the moment it returns starts the clock.  Then every reader is
 *	  polled in a tight loop, all readers at once with asynchronous libpq
 *	  (one `SELECT 1 FROM T WHERE id = $1` in flight per reader, the next
 *	  sent as soon as an empty answer arrives), until each sees the row.
 *	  Writes start --interval-ms apart (from the previous start).  Output,
 *	  one line per event, for bench/lib/lagstats.py:
 *
 *	    commit ID MICROSECONDS          (the INSERT's round trip)
 *	    lag NAME ID MICROSECONDS        (commit return -> row visible)
 *	    timeout NAME ID                 (not visible within --timeout-ms)
 *
 *	  The first --warmup samples (default 3: fresh connections, cold caches)
 *	  are taken the same way and not printed.
 *
 *	  Bounded: --count samples and --max-seconds of wall time at most.  Exit
 *	  status 1 on a connection or query error (named on stderr), 2 on bad
 *	  arguments.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#define MAX_READERS 8

static bool quiet;				/* a warm-up sample: print nothing */

typedef struct reader
{
	const char *name;
	PGconn	   *conn;
	bool		seen;			/* the current row is visible here */
	bool		busy;			/* a poll query is in flight */
} reader;

typedef struct probe_args
{
	const char *writer;
	const char *table;
	long		first_id;
	long		count;
	long		interval_ms;
	long		timeout_ms;
	long		max_seconds;
	long		warmup;
	int			nreaders;
	reader		readers[MAX_READERS];
	const char *reader_conninfo[MAX_READERS];
} probe_args;

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
usage(void)
{
	fprintf(stderr, "usage: lag_probe --writer CONNINFO --reader NAME=CONNINFO [--reader ...] "
			"--table T --first-id N --count N --interval-ms N [--timeout-ms N] [--max-seconds N] "
			"[--warmup N]\n");
	exit(2);
}

static long
parse_long(const char *opt, const char *s, long min, long max)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
	{
		fprintf(stderr, "lag_probe: %s: \"%s\" is not an integer in [%ld, %ld]\n", opt, s, min, max);
		exit(2);
	}
	return v;
}

static bool
valid_table_name(const char *t)
{
	if (!*t || strlen(t) > 63)
		return false;
	for (; *t; t++)
		if (!((*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') || *t == '_'))
			return false;
	return true;
}

static void
add_reader(probe_args *a, const char *spec)
{
	const char *eq = strchr(spec, '=');

	if (!eq || eq == spec || a->nreaders == MAX_READERS)
	{
		fprintf(stderr, "lag_probe: --reader: \"%s\" is not NAME=CONNINFO (at most %d readers)\n",
				spec, MAX_READERS);
		exit(2);
	}
	a->readers[a->nreaders].name = strndup(spec, eq - spec);
	a->reader_conninfo[a->nreaders++] = eq + 1;
}

static void
parse_args(probe_args *a, int argc, char **argv)
{
	memset(a, 0, sizeof(*a));
	a->timeout_ms = 5000;
	a->max_seconds = 600;
	a->warmup = 3;
	a->count = -1;
	a->interval_ms = -1;
	for (int i = 1; i < argc; i++)
	{
		const char *opt = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!val)
			usage();
		i++;
		if (!strcmp(opt, "--writer"))
			a->writer = val;
		else if (!strcmp(opt, "--reader"))
			add_reader(a, val);
		else if (!strcmp(opt, "--table"))
			a->table = val;
		else if (!strcmp(opt, "--first-id"))
			a->first_id = parse_long(opt, val, 0, 1000000000000L);
		else if (!strcmp(opt, "--count"))
			a->count = parse_long(opt, val, 1, 1000000);
		else if (!strcmp(opt, "--interval-ms"))
			a->interval_ms = parse_long(opt, val, 0, 60000);
		else if (!strcmp(opt, "--timeout-ms"))
			a->timeout_ms = parse_long(opt, val, 1, 600000);
		else if (!strcmp(opt, "--max-seconds"))
			a->max_seconds = parse_long(opt, val, 1, 86400);
		else if (!strcmp(opt, "--warmup"))
			a->warmup = parse_long(opt, val, 0, 1000);
		else
			usage();
	}
	if (!a->writer || !a->table || a->nreaders == 0 || a->count < 0 || a->interval_ms < 0)
		usage();
	if (!valid_table_name(a->table))
	{
		fprintf(stderr, "lag_probe: --table: \"%s\" must be a lower-case identifier\n", a->table);
		exit(2);
	}
}

static PGconn *
connect_or_die(const char *what, const char *conninfo)
{
	PGconn	   *c = PQconnectdb(conninfo);

	if (PQstatus(c) != CONNECTION_OK)
	{
		fprintf(stderr, "lag_probe: connecting to %s: %s", what, PQerrorMessage(c));
		exit(1);
	}
	return c;
}

static void
prepare_or_die(PGconn *c, const char *what, const char *name, const char *sql)
{
	PGresult   *r = PQprepare(c, name, sql, 1, NULL);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "lag_probe: preparing on %s: %s", what, PQerrorMessage(c));
		exit(1);
	}
	PQclear(r);
}

static void
send_poll(reader *r, const char *id)
{
	const char *params[1] = {id};

	if (!PQsendQueryPrepared(r->conn, "probe", 1, params, NULL, NULL, 0))
	{
		fprintf(stderr, "lag_probe: polling %s: %s", r->name, PQerrorMessage(r->conn));
		exit(1);
	}
	r->busy = true;
}

/* Read what reader r has sent; true once its query's answer is complete. */
static bool
collect(reader *r, bool *visible)
{
	PGresult   *res;

	if (!PQconsumeInput(r->conn))
	{
		fprintf(stderr, "lag_probe: reading from %s: %s", r->name, PQerrorMessage(r->conn));
		exit(1);
	}
	while (!PQisBusy(r->conn))
	{
		res = PQgetResult(r->conn);
		if (!res)
		{
			r->busy = false;
			return true;
		}
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			fprintf(stderr, "lag_probe: polling %s: %s", r->name, PQresultErrorMessage(res));
			exit(1);
		}
		*visible = PQntuples(res) > 0;
		PQclear(res);
	}
	return false;
}

/* Poll every reader until each sees row id, or the timeout. */
static void
wait_visible(probe_args *a, const char *id, int64_t t_commit)
{
	struct pollfd pfd[MAX_READERS];
	int			left = a->nreaders;
	int64_t		deadline = t_commit + a->timeout_ms * 1000;

	for (int i = 0; i < a->nreaders; i++)
	{
		a->readers[i].seen = false;
		send_poll(&a->readers[i], id);
	}
	while (left > 0 && now_us() < deadline)
	{
		for (int i = 0; i < a->nreaders; i++)
		{
			pfd[i].fd = PQsocket(a->readers[i].conn);
			pfd[i].events = a->readers[i].busy ? POLLIN : 0;
		}
		if (poll(pfd, a->nreaders, 10) < 0 && errno != EINTR)
		{
			perror("lag_probe: poll");
			exit(1);
		}
		for (int i = 0; i < a->nreaders; i++)
		{
			reader	   *r = &a->readers[i];
			bool		visible = false;

			if (!r->busy || !(pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
				continue;
			if (!collect(r, &visible))
				continue;
			if (visible && !r->seen)
			{
				r->seen = true;
				left--;
				if (!quiet)
					printf("lag %s %s %" PRId64 "\n", r->name, id, now_us() - t_commit);
			}
			else if (!r->seen)
				send_poll(r, id);
		}
	}
	for (int i = 0; i < a->nreaders; i++)
	{
		reader	   *r = &a->readers[i];
		bool		visible;

		if (!r->seen && !quiet)
			printf("timeout %s %s\n", r->name, id);
		while (r->busy)			/* drain the query still in flight */
		{
			struct pollfd one = {.fd = PQsocket(r->conn), .events = POLLIN};

			if (poll(&one, 1, 1000) <= 0 || collect(r, &visible))
				r->busy = false;
		}
	}
}

/* An autocommit INSERT of row id; returns when it returned. */
static int64_t
write_row(PGconn *w, const char *id)
{
	const char *params[1] = {id};
	int64_t		t0 = now_us();
	PGresult   *r = PQexecPrepared(w, "ins", 1, params, NULL, NULL, 0);
	int64_t		t1 = now_us();

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "lag_probe: INSERT on the writer: %s", PQerrorMessage(w));
		exit(1);
	}
	PQclear(r);
	if (!quiet)
		printf("commit %s %" PRId64 "\n", id, t1 - t0);
	return t1;
}

static void
sleep_until(int64_t t)
{
	int64_t		d = t - now_us();
	struct timespec ts;

	if (d <= 0)
		return;
	ts.tv_sec = d / 1000000;
	ts.tv_nsec = (d % 1000000) * 1000;
	nanosleep(&ts, NULL);
}

int
main(int argc, char **argv)
{
	probe_args	a;
	PGconn	   *w;
	char		sql[256];
	char		id[32];
	int64_t		start,
				next;

	parse_args(&a, argc, argv);
	w = connect_or_die("the writer", a.writer);
	snprintf(sql, sizeof(sql), "INSERT INTO %s (id) VALUES ($1::bigint)", a.table);
	prepare_or_die(w, "the writer", "ins", sql);
	snprintf(sql, sizeof(sql), "SELECT 1 FROM %s WHERE id = $1::bigint", a.table);
	for (int i = 0; i < a.nreaders; i++)
	{
		a.readers[i].conn = connect_or_die(a.readers[i].name, a.reader_conninfo[i]);
		prepare_or_die(a.readers[i].conn, a.readers[i].name, "probe", sql);
	}
	start = next = now_us();
	for (long n = 0; n < a.warmup + a.count && now_us() - start < a.max_seconds * 1000000; n++)
	{
		quiet = n < a.warmup;
		sleep_until(next);
		next = now_us() + a.interval_ms * 1000;
		snprintf(id, sizeof(id), "%ld", a.first_id + n);
		wait_visible(&a, id, write_row(w, id));
		fflush(stdout);
	}
	PQfinish(w);
	for (int i = 0; i < a.nreaders; i++)
		PQfinish(a.readers[i].conn);
	return 0;
}
