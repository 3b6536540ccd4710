/*
 * test_sql_admin_cli.c (built as tests/sql/admin_rewrite_cli)
 *	  Reads a query string on stdin, rewrites its pgquorum.<view> relations
 *	  with a fixed set of test rows, and prints the SQL to run (the input
 *	  itself when no view is named).  tests/integration/sql_admin.t pipes
 *	  its output into psql against a real PostgreSQL 15.
 *
 *	  admin_rewrite_cli [--empty VIEW]... [--rows N] [--bench N]
 *	    --empty VIEW	the view has zero rows (repeatable)
 *	    --rows N		every view repeats its test rows to N rows
 *	    --bench N		rewrite the input N times and print the cost per
 *					rewrite (and per parse alone) instead of the SQL
 *
 *	  Exit 0 with the SQL on stdout; 1 with "STATUS SQLSTATE: message" on
 *	  stderr when the rewrite fails; 2 on a usage error.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pg_query.h>

#include "sql/sql_admin.h"


/* Node 3's name holds a quote, a double quote, a backslash, a newline and
 * non-ASCII text, to prove the quoting end to end. */
static const char *const nodes_rows[][16] = {
	{"1", "n1", "127.0.0.1:5433", "127.0.0.1:7001", "primary", "t", "t", "0",
	"7", "120", "120", "120", "120", "0", "0", "0"},
	{"2", "n2", "127.0.0.1:5434", "127.0.0.1:7002", "secondary", "t", "t", "12",
	"7", "120", "119", "120", "118", "2", "512", "3"},
	{"3", "it's \"n3\" \\x\nnœud-3 ☃", "127.0.0.1:5435", "127.0.0.1:7003",
		"learner", "f", "f", NULL, "6", "100", "100", "100", "99", "21",
	"4096", NULL},
};
static const char *const log_rows[][7] = {
	{"1", "120", "2", "1048576", "35.5", "12.25", "2.9"},
};
static const char *const sessions_rows[][8] = {
	{"1", "alice", "app", "10.0.0.5:40000", "active", "read_only", "local",
	"2024-05-01 12:00:00+00"},
	{"2", "bob", "app", NULL, "idle in transaction", "may_write", "primary",
	"2024-05-01 12:00:05+00"},
};
static const char *const stats_rows[][9] = {
	{"118", "3", "40", "7", "9000", "60", "1.97", "1.5", "4.75"},
};
static const char *const settings_rows[][5] = {
	{"node_id", "1", NULL, "f", "this node's id"},
	{"heartbeat_ms", "50", "50", "t", "heartbeat interval"},
	{"peer_password", "********", "", "t", "it's secret"},
};

static const struct
{
	const char *const *values;
	uint32_t	n_rows;
	uint32_t	n_cols;
}			fixture[SQL_ADMIN_COUNT] = {
	[SQL_ADMIN_NODES] = {&nodes_rows[0][0], 3, 16},
	[SQL_ADMIN_LOG] = {&log_rows[0][0], 1, 7},
	[SQL_ADMIN_SESSIONS] = {&sessions_rows[0][0], 2, 8},
	[SQL_ADMIN_STATS] = {&stats_rows[0][0], 1, 9},
	[SQL_ADMIN_SETTINGS] = {&settings_rows[0][0], 3, 5},
};

static unsigned empty_mask;
static long n_rows = -1;		/* --rows: rows per view; -1: the fixture's */

static int
cli_rows(void *arg, sql_admin_view v, sql_admin_rows *out)
{
	(void) arg;
	if (empty_mask & (1u << v))
		return 0;
	for (long r = 0; r < (n_rows < 0 ? (long) fixture[v].n_rows : n_rows); r++)
		if (sql_admin_rows_add(out, fixture[v].values +
							   (r % fixture[v].n_rows) * fixture[v].n_cols,
							   fixture[v].n_cols) != 0)
			return -1;
	return 0;
}

static char *
read_stdin(void)
{
	size_t		cap = 4096,
				len = 0;
	char	   *buf = malloc(cap);

	while (buf != NULL)
	{
		size_t		n = fread(buf + len, 1, cap - len - 1, stdin);

		len += n;
		if (n == 0)
			break;
		if (len + 1 == cap)
		{
			char	   *b = realloc(buf, cap *= 2);

			if (b == NULL)
				free(buf);
			buf = b;
		}
	}
	if (buf != NULL)
		buf[len] = '\0';
	return buf;
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
bench(const char *q, const sql_admin_row_source *src, long n)
{
	double		t0,
				t1,
				t2;

	t0 = now_us();
	for (long i = 0; i < n; i++)
	{
		char	   *sql;

		sql_admin_rewrite(q, src, &sql, NULL);
		free(sql);
	}
	t1 = now_us();
	for (long i = 0; i < n; i++)
		pg_query_free_protobuf_parse_result(pg_query_parse_protobuf(q));
	t2 = now_us();
	printf("rewrite %.1f us  parse_protobuf %.1f us  (%ld runs, %zu bytes in)\n",
		   (t1 - t0) / n, (t2 - t1) / n, n, strlen(q));
	return 0;
}

int
main(int argc, char **argv)
{
	sql_admin_row_source src = {cli_rows, NULL};
	long		bench_n = 0;
	char	   *q,
			   *sql,
			   *err;
	sql_admin_status st;

	for (int i = 1; i < argc; i++)
	{
		int			v = i + 1 < argc ? sql_admin_find_view(argv[i + 1]) : -1;

		if (strcmp(argv[i], "--empty") == 0 && v >= 0)
			empty_mask |= 1u << v;
		else if (strcmp(argv[i], "--bench") == 0 && i + 1 < argc)
			bench_n = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc)
			n_rows = atol(argv[i + 1]);
		else
		{
			fprintf(stderr, "usage: %s [--empty VIEW]... [--rows N] [--bench N]\n", argv[0]);
			return 2;
		}
		i++;
	}
	if ((q = read_stdin()) == NULL)
		return 2;
	if (bench_n > 0)
		return bench(q, &src, bench_n);
	st = sql_admin_rewrite(q, &src, &sql, &err);
	if (st != SQL_ADMIN_UNCHANGED && st != SQL_ADMIN_REWRITTEN)
	{
		fprintf(stderr, "%s %s: %s\n", sql_admin_status_name(st),
				sql_admin_status_sqlstate(st), err ? err : "(no message)");
		return 1;
	}
	fputs(sql ? sql : q, stdout);
	fputc('\n', stdout);
	free(sql);
	free(q);
	return 0;
}
