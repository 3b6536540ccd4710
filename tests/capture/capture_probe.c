/*
 * capture_probe.c
 *	  Drives the slot reader against a real PostgreSQL for
 *	  tests/integration/capture_stream.t: streams from --source, and for
 *	  each complete prepared transaction applies its chunks' generated SQL
 *	  to --target in one transaction (as an applier would), confirms the
 *	  chunks, and prints what it saw:
 *		ready								 once streaming
 *		chunk GID SEQ final=0|1 changes=N bytes=N
 *		change GID KIND SCHEMA.TABLE old=K|O|- unchanged=N  (KIND I U D T X;
 *											 one-chunk transactions only)
 *		txn GID TXN_ID chunks=N
 *		stats ...							 at the end
 *	It exits 0 after --txns transactions, 1 on an error, 2 on --timeout.
 *	With CAPTURE_PROBE_DUMP=DIR it saves entries up to 64 KB there.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <libpq-fe.h>

#include "sync/capture_stream.h"
#include "sync/txn_apply_sql.h"
#include "sync/txn_codec.h"

#define PROBE_MAX_CHUNKS 4096

struct probe
{
	struct ev_loop *loop;
	struct capture_stream *cs;
	PGconn	   *target;
	struct txn_sql sql;
	struct txn_change_iter *it;
	uint8_t    *chunks[PROBE_MAX_CHUNKS];	/* of the open transaction */
	size_t		lens[PROBE_MAX_CHUNKS];
	int			n_chunks;
	int			txns_left;
	int			rc;
	bool		ready;
	ev_timer	poll;
	ev_timer	timeout;
	ev_timer	linger;			/* lets the last status update go out */
};

static void
finish(struct probe *p, int rc)
{
	p->rc = rc;
	ev_break(p->loop, EVBREAK_ALL);
}

static bool
exec_simple(struct probe *p, const char *sql)
{
	PGresult   *r = PQexec(p->target, sql);
	bool		ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	if (!ok)
		printf("error target: %s: %s", sql, PQerrorMessage(p->target));
	PQclear(r);
	return ok;
}

static int
count_unchanged(const struct txn_tuple *t)
{
	int			n = 0;

	for (uint16_t i = 0; t && i < t->ncols; i++)
		n += t->vals[i].kind == TXN_VAL_UNCHANGED;
	return n;
}

static void
print_change(const struct txn_entry *e, const struct txn_change *c)
{
	const struct txn_relation *rel = NULL;

	if (c->kind == TXN_CH_INSERT || c->kind == TXN_CH_UPDATE || c->kind == TXN_CH_DELETE)
		rel = &e->relations[c->relidx];
	else if (c->kind == TXN_CH_TRUNCATE)
		rel = &e->relations[txn_change_trunc_rel(c, 0)];
	printf("change %.*s %c %.*s.%.*s old=%c unchanged=%d\n", (int) e->gid.len, e->gid.p,
		   c->kind, rel ? (int) rel->schema.len : 1, rel ? rel->schema.p : "-",
		   rel ? (int) rel->name.len : 1, rel ? rel->name.p : "-",
		   c->old_kind ? c->old_kind : '-',
		   c->kind == TXN_CH_UPDATE ? count_unchanged(c->new_tuple) : 0);
}

static bool
apply_change(struct probe *p, const struct txn_entry *e, const struct txn_change *c)
{
	const char *err = txn_sql_change(&p->sql, e, c);
	PGresult   *r;
	ExecStatusType st;
	bool		ok;

	if (err != NULL)
	{
		printf("error sql: %s\n", err);
		return false;
	}
	r = PQexecParams(p->target, txn_sql_text(&p->sql), p->sql.n_params, p->sql.types,
					 p->sql.values, p->sql.lengths, p->sql.formats, 0);
	st = PQresultStatus(r);
	ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!ok)
		printf("error apply: %s: %s", txn_sql_text(&p->sql), PQerrorMessage(p->target));
	else if (p->sql.expect_rows >= 0 && atoi(PQcmdTuples(r)) != p->sql.expect_rows)
	{
		printf("error apply: %s touched %s rows\n", txn_sql_text(&p->sql), PQcmdTuples(r));
		ok = false;
	}
	PQclear(r);
	return ok;
}

static bool
apply_chunk(struct probe *p, const uint8_t *data, size_t len, bool verbose)
{
	struct txn_entry *e;
	struct txn_change c;
	const char *err = txn_entry_decode(data, len, &e);
	bool		ok = err == NULL;
	int			rc;

	if (err != NULL)
		printf("error decode: %s\n", err);
	if (ok)
		txn_change_iter_init(p->it, e);
	while (ok && (rc = txn_change_next(p->it, &c, &err)) > 0)
	{
		if (verbose)
			print_change(e, &c);
		ok = apply_change(p, e, &c);
	}
	txn_entry_free(e);
	return ok;
}

/* The final chunk arrived: apply the whole transaction, then confirm. */
static void
apply_txn(struct probe *p, const struct capture_chunk *last)
{
	bool		ok = exec_simple(p, "BEGIN");
	bool		verbose = p->n_chunks == 1;

	for (int i = 0; ok && i < p->n_chunks; i++)
		ok = apply_chunk(p, p->chunks[i], p->lens[i], verbose);
	ok = ok && exec_simple(p, "COMMIT");
	for (int i = 0; i < p->n_chunks; i++)
		free(p->chunks[i]);
	if (!ok)
	{
		finish(p, 1);
		return;
	}
	printf("txn %s %s chunks=%d\n", last->gid, last->txn_id, p->n_chunks);
	p->n_chunks = 0;
	capture_confirm(p->cs, last->id);
	if (--p->txns_left == 0)
		ev_timer_start(p->loop, &p->linger);
}

static void
on_linger(struct ev_loop *loop, ev_timer *w, int revents)
{
	finish(w->data, 0);
}

/* With CAPTURE_PROBE_DUMP=DIR, small entries are saved (fuzz seeds). */
static void
dump_chunk(const struct capture_chunk *c)
{
	const char *dir = getenv("CAPTURE_PROBE_DUMP");
	char		path[4096];
	FILE	   *f;

	if (dir == NULL || c->len > 65536)
		return;
	snprintf(path, sizeof(path), "%s/%s-%u.entry", dir, c->gid, c->seq);
	if ((f = fopen(path, "wb")) != NULL)
	{
		fwrite(c->data, 1, c->len, f);
		fclose(f);
	}
}

static void
on_chunk(void *arg, const struct capture_chunk *c)
{
	struct probe *p = arg;

	printf("chunk %s %u final=%d changes=%u bytes=%zu\n", c->gid, c->seq, c->final,
		   c->n_changes, c->len);
	if (p->n_chunks >= PROBE_MAX_CHUNKS || (p->chunks[p->n_chunks] = malloc(c->len)) == NULL)
	{
		printf("error too many chunks\n");
		finish(p, 1);
		return;
	}
	memcpy(p->chunks[p->n_chunks], c->data, c->len);
	dump_chunk(c);
	p->lens[p->n_chunks++] = c->len;
	if (c->final)
		apply_txn(p, c);
	fflush(stdout);
}

static void
on_error(void *arg, const char *message)
{
	printf("error stream: %s\n", message);
	finish(arg, 1);
}

static void
on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct probe *p = w->data;
	struct capture_stream_stats st;

	capture_stream_stats(p->cs, &st);
	if (!p->ready && st.state == CAPTURE_ST_STREAMING)
	{
		p->ready = true;
		printf("ready\n");
		fflush(stdout);
	}
}

static void
on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	printf("error timeout\n");
	finish(w->data, 2);
}

static const char *
arg_value(int argc, char **argv, const char *name, const char *dflt)
{
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return dflt;
}

int
main(int argc, char **argv)
{
	static struct probe p;
	struct capture_stream_config cfg = {
		.conninfo = arg_value(argc, argv, "--source", "dbname=postgres"),
		.slot_name = arg_value(argc, argv, "--slot", "pgquorum"),
		.publication = arg_value(argc, argv, "--pub", "pgquorum"),
		.origin_node = 1,
		.chunk_bytes = (size_t) atol(arg_value(argc, argv, "--chunk-bytes", "0")),
	};
	struct capture_stream_stats st;

	setvbuf(stdout, NULL, _IOLBF, 0);
	p.loop = EV_DEFAULT;
	p.txns_left = atoi(arg_value(argc, argv, "--txns", "1"));
	p.it = malloc(sizeof(*p.it));
	p.target = PQconnectdb(arg_value(argc, argv, "--target", "dbname=postgres"));
	if (PQstatus(p.target) != CONNECTION_OK || !txn_sql_init(&p.sql) || p.it == NULL)
	{
		printf("error target: %s", PQerrorMessage(p.target));
		return 1;
	}
	if (!exec_simple(&p, "SET session_replication_role = replica"))
		return 1;
	p.cs = capture_stream_new(p.loop, &cfg, on_chunk, on_error, &p);
	if (p.cs == NULL || capture_stream_start(p.cs) != 0)
	{
		printf("error cannot start the stream\n");
		return 1;
	}
	ev_timer_init(&p.poll, on_poll, 0.01, 0.01);
	ev_timer_init(&p.timeout, on_timeout, atof(arg_value(argc, argv, "--timeout", "60")), 0);
	ev_timer_init(&p.linger, on_linger, 0.3, 0);
	p.poll.data = p.timeout.data = p.linger.data = &p;
	ev_timer_start(p.loop, &p.poll);
	ev_timer_start(p.loop, &p.timeout);
	ev_run(p.loop, 0);
	capture_stream_stats(p.cs, &st);
	printf("stats txns=%llu chunks=%llu changes=%llu skipped_origin=%llu plain=%llu "
		   "backlog=%u decode_lag_ms=%lld flushed=%llX\n",
		   (unsigned long long) st.txns.txns, (unsigned long long) st.txns.chunks,
		   (unsigned long long) st.txns.changes,
		   (unsigned long long) st.txns.skipped_origin,
		   (unsigned long long) st.txns.plain_commits, st.backlog_chunks,
		   (long long) st.decode_lag_ms, (unsigned long long) st.flushed_lsn);
	capture_stream_free(p.cs);
	txn_sql_free(&p.sql);
	PQfinish(p.target);
	free(p.it);
	return p.rc;
}
