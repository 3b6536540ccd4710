/*
 * sql_classify_bench.c
 *	  Cost of classifying one statement with sql/, per statement shape:
 *	  uncached (parse + walk), libpg_query's fingerprint alone, a cache hit
 *	  by exact text, and a cache hit by fingerprint (same shape, new
 *	  constants, as pgbench's simple protocol sends).  Compared, in the same
 *	  run, with what a plain pg_query_parse (JSON) costs.  Run by
 *	  bench/sql_classify; prints the goal line last.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pg_query.h>

#include "sql/sql_classify.h"

typedef struct shape
{
	const char *name;
	const char *fmt;			/* one %d: the constant that varies */
} shape;

static const shape shapes[] = {
	{"pgbench select", "SELECT abalance FROM pgbench_accounts WHERE aid = %d;"},
	{"pgbench update", "UPDATE pgbench_accounts SET abalance = abalance + -42 WHERE aid = %d;"},
	{"pgbench insert", "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, %d, -42, CURRENT_TIMESTAMP);"},
	{"psql \\d", "SELECT n.nspname as \"Schema\", c.relname as \"Name\", CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' END as \"Type\", pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\" FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p','v','m','S','f','') AND n.nspname <> 'pg_catalog' AND n.oid > %d AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 1,2;"},
	{"multi-statement", "BEGIN; UPDATE t SET x = x + 1 WHERE id = %d; SELECT x FROM t WHERE id = 1; COMMIT;"},
};

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static unsigned sink;

static double
time_uncached(const char *q, int n)
{
	double		t0 = now_us();

	for (int i = 0; i < n; i++)
	{
		sql_result	r;

		sql_classify(q, NULL, &r);
		sink += (unsigned) r.cls;
		sql_result_reset(&r);
	}
	return (now_us() - t0) / n;
}

static double
time_fingerprint(const char *q, int n)
{
	double		t0 = now_us();

	for (int i = 0; i < n; i++)
	{
		PgQueryFingerprintResult f = pg_query_fingerprint(q);

		sink += (unsigned) f.fingerprint;
		pg_query_free_fingerprint_result(f);
	}
	return (now_us() - t0) / n;
}

static double
time_json_parse(const char *q, int n)
{
	double		t0 = now_us();

	for (int i = 0; i < n; i++)
	{
		PgQueryParseResult p = pg_query_parse(q);

		sink += p.parse_tree != NULL ? 1u : 0u;
		pg_query_free_parse_result(p);
	}
	return (now_us() - t0) / n;
}

static double
time_cached_text(sql_cache *c, const char *q, int n)
{
	double		t0;

	(void) sql_cache_classify(c, q);
	t0 = now_us();
	for (int i = 0; i < n; i++)
		sink += (unsigned) sql_cache_classify(c, q)->cls;
	return (now_us() - t0) / n;
}

/* Each query differs in its constant: hits by fingerprint only (unless
 * the shape is not shareable, e.g. several statements: then misses). */
static double
time_cached_fp(sql_cache *c, const char *fmt, int n)
{
	char		q[2048];
	double		t0 = now_us();

	for (int i = 0; i < n; i++)
	{
		snprintf(q, sizeof(q), fmt, 1000 + i);
		sink += (unsigned) sql_cache_classify(c, q)->cls;
	}
	return (now_us() - t0) / n;
}

int
main(int argc, char **argv)
{
	int			n = (argc > 1 && strcmp(argv[1], "--quick") == 0) ? 2000 : 20000;
	double		worst_cached = 0;
	sql_cache  *c = sql_cache_new(1024, NULL);

	printf("%-16s %10s %10s %10s %10s %10s %8s\n", "shape", "json_parse",
		   "fingerpr", "uncached", "hit_fp", "hit_text", "speedup");
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
	{
		char		q[2048];
		double		j, f, u, hf, ht;

		snprintf(q, sizeof(q), shapes[s].fmt, 7);
		(void) time_uncached(q, n / 10);	/* warm up */
		j = time_json_parse(q, n);
		f = time_fingerprint(q, n);
		u = time_uncached(q, n);
		hf = time_cached_fp(c, shapes[s].fmt, n);
		ht = time_cached_text(c, q, n * 10);
		if (ht > worst_cached)
			worst_cached = ht;
		printf("%-16s %8.2fus %8.2fus %8.2fus %8.2fus %8.3fus %7.0fx\n",
			   shapes[s].name, j, f, u, hf, ht, u / ht);
	}
	{
		sql_cache_stats st;

		sql_cache_get_stats(c, &st);
		printf("cache: %llu text hits, %llu fingerprint hits, %llu misses, "
			   "%llu evictions, %u/%u entries\n",
			   (unsigned long long) st.hits_text,
			   (unsigned long long) st.hits_fingerprint,
			   (unsigned long long) st.misses,
			   (unsigned long long) st.evictions, st.entries, st.capacity);
	}
	sql_cache_free(c);
	printf("goal classify_cached_us = %.3f us (target <= 2 us)\n", worst_cached);
	return sink == 1u ? 1 : 0;
}
