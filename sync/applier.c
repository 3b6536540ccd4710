/*
 * applier.c
 *	  Apply committed entries to the local PostgreSQL.  See applier.h.
 *
 * The worker takes queued entries in order and keeps one PostgreSQL
 * transaction open across as many as it may batch; end_batch() records
 * the last index of the batch as the origin's position and commits.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <libpq-fe.h>

#include "common/pgq_assert.h"
#include "common/pgq_log.h"
#include "sql/sql_ddl.h"
#include "sync/applier.h"
#include "sync/apply_cache.h"
#include "sync/txn_apply_sql.h"
#include "sync/txn_codec.h"

#define ORIGIN_NAME "pgquorum"
#define MAX_DATABASES 64
#define APPLIER_STMT_CACHE 256	/* prepared row statements per connection */
#define APPLIER_PREPARED_POLL_MS 1
#define APPLIER_PREPARED_WAIT_MS 10000
#define APPLIER_FINISH_TRIES 1000	/* "is busy": x APPLIER_FINISH_RETRY_MS */
#define APPLIER_FINISH_RETRY_MS 1
#define APPLIER_IDLE_RESOLVE_S 5	/* idle this long: resolve again */
#define APPLIER_STATEMENT_TRIES 100
#define APPLIER_STATEMENT_RETRY_MS 100
#define SET_POSITION_SQL "SELECT pg_replication_origin_xact_setup($1::pg_lsn, now())"

struct item
{
	struct item *next;
	uint64_t	index;
	uint64_t	term;			/* the entry's term */
	uint32_t	len;			/* 0: a new term's marker (its no-op) */
	uint8_t		data[];
};

struct dbconn
{
	char		name[TXN_NAME_MAX + 1];
	PGconn	   *conn;
	struct apply_cache *cache;	/* owned; NULL: statements run unprepared */
};

struct applier
{
	struct ev_loop *loop;
	ev_async	async;
	applier_done_cb cb;
	void	   *cb_arg;
	pthread_t	thread;
	bool		thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct item *head;
	struct item *tail;
	size_t		queued_bytes;
	bool		stopping;
	_Atomic uint64_t applied;
	_Atomic uint64_t batches;	/* batches committed (for the views) */
	_Atomic uint64_t batch_entries;	/* entries in those batches */
	_Atomic bool failed;
	_Atomic bool server_lost;	/* a connection to the server broke */
	char		failure[512];
	/* worker state */
	char	   *conninfo;
	char		gid_prefix[32];
	uint64_t	node_id;
	struct dbconn dbs[MAX_DATABASES];
	int			n_dbs;
	PGconn	   *origin_owner;	/* the connection holding the origin */
	PGconn	   *txn_conn;		/* connection with an open batch, or NULL */
	uint64_t	txn_last;		/* last index inside the open batch */
	bool		txn_partial;	/* a multi-chunk transaction is open */
	char		partial_gid[TXN_NAME_MAX + 1];	/* ... its gid */
	uint64_t	partial_term;	/* ... the term of its entries */
	uint32_t	partial_seq;	/* ... and its last chunk_seq applied */
	uint64_t	resolved_term;	/* ours of earlier terms are resolved */
	uint64_t	unrecorded;		/* applied, position not yet recorded */
	struct txn_sql sql;
	struct txn_change_iter *iter;	/* large: heap */
	/* outcomes of STATEMENT entries (under mu) */
	struct applier_outcome outcomes[APPLIER_OUTCOMES];
	unsigned	outcome_next;
};

static void
fail(struct applier *a, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
fail(struct applier *a, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(a->failure, sizeof(a->failure), fmt, ap);
	va_end(ap);
	pgq_error("applier stopped: %s; this node applies nothing more until it is fixed", a->failure);
	atomic_store(&a->failed, true);
}

static uint64_t
lsn_to_index(const char *lsn)
{
	unsigned	hi;
	unsigned	lo;

	if (lsn == NULL || sscanf(lsn, "%X/%X", &hi, &lo) != 2)
		return 0;
	return (uint64_t) hi << 32 | lo;
}

static void
index_to_lsn(uint64_t index, char *buf, size_t len)
{
	snprintf(buf, len, "%X/%X", (unsigned) (index >> 32), (unsigned) index);
}

/* Run sql; returns 0, or -1 after fail().  expect: PGRES_COMMAND_OK etc. */
static int
exec(struct applier *a, PGconn *conn, const char *sql, ExecStatusType expect)
{
	PGresult   *res = PQexec(conn, sql);
	int			rc = PQresultStatus(res) == expect ? 0 : -1;

	if (rc < 0)
		fail(a, "\"%.200s\" failed: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	return rc;
}

static int
exec_param(struct applier *a, PGconn *conn, const char *sql, const char *param)
{
	PGresult   *res = PQexecParams(conn, sql, 1, NULL, &param, NULL, NULL, 0);
	int			rc = PQresultStatus(res) == PGRES_TUPLES_OK ||
		PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;

	if (rc < 0)
		fail(a, "\"%.200s\" failed: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	return rc;
}

static PGconn *
connect_db(struct applier *a, const char *db)
{
	const char *keys[] = {"dbname", "dbname", "application_name", NULL};
	const char *vals[] = {a->conninfo, db, "pgquorum applier", NULL};
	PGconn	   *conn = PQconnectdbParams(keys, vals, 1);

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fail(a, "could not connect to database \"%s\": %s", db ? db : "(default)",
			 PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	/*
	 * As PostgreSQL's own apply workers: no user triggers or FK checks on
	 * replayed rows (they ran on the primary), and the text forms the
	 * capture produced parse back exactly.  And, as they do by default, no
	 * wait for the commit's WAL flush: every entry is durable in the log of
	 * a majority already, and the applied index commits atomically with the
	 * rows (origin progress), so a commit the server loses in a crash is
	 * lost together with its index and applied again from the log.  This
	 * takes one fsync off every transaction's way (COMMIT PREPARED on the
	 * primary runs one at a time, in log order).
	 */
	if (exec(a, conn, "SET session_replication_role = replica; SET DateStyle = ISO; "
			 "SET IntervalStyle = postgres; SET extra_float_digits = 3; "
			 "SET statement_timeout = 0; SET lock_timeout = 0; "
			 "SET synchronous_commit = off", PGRES_COMMAND_OK) < 0)
	{
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* Keep conn (taken) as the connection for database db. */
static void
add_dbconn(struct applier *a, const char *db, PGconn *conn)
{
	struct dbconn *d = &a->dbs[a->n_dbs++];

	PGQ_ASSERT(a->n_dbs <= MAX_DATABASES);
	snprintf(d->name, sizeof(d->name), "%s", db);
	d->conn = conn;
	d->cache = apply_cache_new(APPLIER_STMT_CACHE);
}

static void
close_dbconn(struct dbconn *d)
{
	PQfinish(d->conn);
	apply_cache_free(d->cache);
}

/* The connection for database db (connected on first use). */
static PGconn *
lookup_conn(struct applier *a, const char *db)
{
	PGconn	   *conn;

	for (int i = 0; i < a->n_dbs; i++)
		if (strcmp(a->dbs[i].name, db) == 0)
			return a->dbs[i].conn;
	if (a->n_dbs == MAX_DATABASES)
	{
		fail(a, "more than %d databases", MAX_DATABASES);
		return NULL;
	}
	conn = connect_db(a, db);
	if (conn == NULL)
		return NULL;
	add_dbconn(a, db, conn);
	return conn;
}

/*
 * Move the origin session to conn: only one session may hold it, and the
 * commits of the session that holds it are the ones that record progress.
 * Never called while a batch is open on another connection.
 */
static int
take_origin(struct applier *a, PGconn *conn)
{
	if (a->origin_owner == conn)
		return 0;
	PGQ_ASSERT(a->txn_conn == NULL || a->txn_conn == conn);
	if (a->origin_owner != NULL &&
		exec(a, a->origin_owner, "SELECT pg_replication_origin_session_reset()", PGRES_TUPLES_OK) < 0)
		return -1;
	a->origin_owner = NULL;
	if (exec(a, conn, "SELECT pg_replication_origin_session_setup('" ORIGIN_NAME "')",
			 PGRES_TUPLES_OK) < 0)
		return -1;
	a->origin_owner = conn;
	return 0;
}

static PGconn *
conn_for(struct applier *a, const char *db)
{
	PGconn	   *conn = lookup_conn(a, db);

	return conn != NULL && take_origin(a, conn) == 0 ? conn : NULL;
}

/* Mark the next commit on conn as having applied through index. */
static int
set_position(struct applier *a, PGconn *conn, uint64_t index)
{
	char		lsn[32];

	index_to_lsn(index, lsn, sizeof(lsn));
	return exec_param(a, conn, SET_POSITION_SQL, lsn);
}

/* Commit the open batch with its last index as the origin's position. */
static int
end_batch(struct applier *a)
{
	PGconn	   *conn = a->txn_conn;
	uint64_t	before = atomic_load(&a->applied);

	if (conn == NULL)
		return 0;
	PGQ_ASSERT(!a->txn_partial);
	a->txn_conn = NULL;
	if (set_position(a, conn, a->txn_last) < 0 || exec(a, conn, "COMMIT", PGRES_COMMAND_OK) < 0)
		return -1;
	a->unrecorded = 0;
	atomic_store(&a->applied, a->txn_last);
	atomic_fetch_add(&a->batches, 1);
	atomic_fetch_add(&a->batch_entries, a->txn_last > before ? a->txn_last - before : 0);
	return 0;
}

/*
 * Record the position of entries that wrote nothing: a transactional
 * logical message makes the commit write a record, which carries it.
 */
static int
record_position(struct applier *a, uint64_t index)
{
	PGconn	   *conn = a->origin_owner ? a->origin_owner : conn_for(a, "postgres");

	if (conn == NULL || exec(a, conn, "BEGIN", PGRES_COMMAND_OK) < 0 ||
		set_position(a, conn, index) < 0 ||
		exec(a, conn, "SELECT pg_logical_emit_message(true, 'pgquorum.applied', '')", PGRES_TUPLES_OK) < 0 ||
		exec(a, conn, "COMMIT", PGRES_COMMAND_OK) < 0)
		return -1;
	a->unrecorded = 0;
	atomic_store(&a->applied, index);
	return 0;
}

static void
entry_db(const struct txn_entry *e, char *db, size_t len)
{
	snprintf(db, len, "%.*s", (int) e->dbname.len, e->dbname.p);
}

/* Open (or continue) the batch on the entry's database. */
static PGconn *
batch_conn(struct applier *a, const struct txn_entry *e)
{
	char		db[TXN_NAME_MAX + 1];
	PGconn	   *conn;

	entry_db(e, db, sizeof(db));
	conn = lookup_conn(a, db);
	if (conn == NULL)
		return NULL;
	if (a->txn_conn != NULL && a->txn_conn != conn && end_batch(a) < 0)
		return NULL;
	if (take_origin(a, conn) < 0)
		return NULL;
	if (a->txn_conn == NULL)
	{
		if (exec(a, conn, "BEGIN", PGRES_COMMAND_OK) < 0)
			return NULL;
		a->txn_conn = conn;
	}
	return conn;
}

static struct apply_cache *
cache_of(struct applier *a, PGconn *conn)
{
	for (int i = 0; i < a->n_dbs; i++)
		if (a->dbs[i].conn == conn)
			return a->dbs[i].cache;
	return NULL;
}

/*
 * Execute the statement a->sql holds on conn: a row statement as the
 * connection's prepared statement of its shape (prepared on first use:
 * apply_cache.h), anything else as it is.  Returns the result, owned.
 */
static PGresult *
exec_sql(struct applier *a, PGconn *conn)
{
	const struct txn_sql *s = &a->sql;
	struct apply_cache *cache = s->reusable ? cache_of(a, conn) : NULL;
	bool		fresh = false;
	uint32_t	id = cache ? apply_cache_get(cache, txn_sql_text(s), s->n_params, s->types, &fresh) : 0;
	char		name[32];

	if (id == 0)
		return PQexecParams(conn, txn_sql_text(s), s->n_params, s->types,
							s->values, s->lengths, s->formats, 0);
	snprintf(name, sizeof(name), APPLY_CACHE_NAME_PREFIX "%u", id);
	if (fresh)
	{
		PGresult   *res = PQprepare(conn, name, txn_sql_text(s), s->n_params, s->types);

		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			apply_cache_forget(cache, id);
			return res;
		}
		PQclear(res);
	}
	return PQexecPrepared(conn, name, s->n_params, s->values, s->lengths, s->formats, 0);
}

/*
 * DDL may change what a prepared shape means (a column's type, a type the
 * server inferred): after it, conn's statements are prepared anew.
 */
static int
forget_statements(struct applier *a, PGconn *conn)
{
	struct apply_cache *cache = cache_of(a, conn);

	if (cache == NULL || apply_cache_count(cache) == 0)
		return 0;
	apply_cache_clear(cache);
	return exec(a, conn, "DEALLOCATE ALL", PGRES_COMMAND_OK);
}

/* Run the statement a->sql holds on conn; check the row count. */
static int
run_sql(struct applier *a, PGconn *conn)
{
	const struct txn_sql *s = &a->sql;
	PGresult   *res = exec_sql(a, conn);
	ExecStatusType st = PQresultStatus(res);
	int			rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
	{
		fail(a, "applying \"%.200s\" failed: %s", txn_sql_text(s), PQresultErrorMessage(res));
		rc = -1;
	}
	else if (s->expect_rows >= 0 && atoi(PQcmdTuples(res)) != s->expect_rows)
	{
		fail(a, "applying \"%.200s\" touched %s rows, the primary touched %d: the servers have diverged",
			 txn_sql_text(s), PQcmdTuples(res), s->expect_rows);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

/*
 * One look at pg_prepared_xacts: 1 found (its database into db), 0 not,
 * -1 error (failed).
 */
static int
prepared_lookup(struct applier *a, PGconn *conn, const char *gid, char *db, size_t dblen)
{
	const char *param = gid;
	PGresult   *res = PQexecParams(conn, "SELECT database FROM pg_catalog.pg_prepared_xacts WHERE gid = $1",
									1, NULL, &param, NULL, NULL, 0);
	int			found;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fail(a, "looking up prepared transaction %s: %s", gid, PQresultErrorMessage(res));
		found = -1;
	}
	else
	{
		found = PQntuples(res) > 0;
		if (found)
			snprintf(db, dblen, "%s", PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return found;
}

static bool
is_ours(struct applier *a, const struct txn_entry *e)
{
	size_t		n = strlen(a->gid_prefix);

	return e->gid.len > n && memcmp(e->gid.p, a->gid_prefix, n) == 0;
}

/*
 * Is gid a transaction this node prepared that is still pending here?
 * PostgreSQL can decode a PREPARE (its WAL is flushed) a moment before the
 * transaction shows in pg_prepared_xacts: for a gid of ours, look again for
 * a while before concluding it is gone, or the applier would apply its rows
 * itself and wait forever on the locks the prepared transaction holds.
 */
static int
prepared_here(struct applier *a, PGconn *conn, const struct txn_entry *e)
{
	char		gid[TXN_NAME_MAX + 1];
	char		db[TXN_NAME_MAX + 1];
	int			found;

	if (!is_ours(a, e))
		return 0;
	snprintf(gid, sizeof(gid), "%.*s", (int) e->gid.len, e->gid.p);
	for (int wait_ms = 0;; wait_ms += APPLIER_PREPARED_POLL_MS)
	{
		found = prepared_lookup(a, conn, gid, db, sizeof(db));
		if (found != 0 || wait_ms >= APPLIER_PREPARED_WAIT_MS)
			break;
		usleep(APPLIER_PREPARED_POLL_MS * 1000);
	}
	if (found == 0)
		pgq_warn("transaction %s was prepared by this node but is not pending on its server; applying its changes", gid);
	return found;
}

#define PIPELINE_MAX_RESULTS 8	/* results read for one query of a pipeline */

/*
 * The result of the next query of a pipeline, its end and the Sync after
 * it consumed.  Returned owned (NULL when the connection broke).
 */
static PGresult *
pipeline_take(PGconn *conn)
{
	PGresult   *res = PQgetResult(conn);

	for (int i = 0; i < PIPELINE_MAX_RESULTS && PQstatus(conn) == CONNECTION_OK; i++)
	{
		PGresult   *r = PQgetResult(conn);
		bool		sync = r != NULL && PQresultStatus(r) == PGRES_PIPELINE_SYNC;

		PQclear(r);
		if (sync)
			break;
	}
	return res;
}

/*
 * sql (COMMIT or ROLLBACK PREPARED) as the commit that records index as
 * the origin's position, both in one pipeline: one round trip.  A Sync
 * separates them (COMMIT PREPARED cannot run in a pipeline's implicit
 * transaction), so a position that failed (which only a bug causes) does
 * not stop sql: then, if sql committed, the position is recorded at once
 * by itself and the applier stops.  Returns sql's result (owned), or NULL
 * after fail().
 */
static PGresult *
exec_at(struct applier *a, PGconn *conn, const char *sql, uint64_t index)
{
	char		lsn[32];
	const char *param = lsn;
	PGresult   *pos;
	PGresult   *res;
	bool		pos_ok;

	index_to_lsn(index, lsn, sizeof(lsn));
	if (PQenterPipelineMode(conn) != 1 ||
		PQsendQueryParams(conn, SET_POSITION_SQL, 1, NULL, &param, NULL, NULL, 0) != 1 ||
		PQpipelineSync(conn) != 1 ||
		PQsendQueryParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0) != 1 ||
		PQpipelineSync(conn) != 1)
	{
		fail(a, "could not send \"%s\": %s", sql, PQerrorMessage(conn));
		return NULL;
	}
	pos = pipeline_take(conn);
	res = pipeline_take(conn);
	pos_ok = PQresultStatus(pos) == PGRES_TUPLES_OK;
	if (!pos_ok)
		fail(a, "\"%s\" failed: %s", SET_POSITION_SQL, PQresultErrorMessage(pos));
	PQclear(pos);
	if (PQexitPipelineMode(conn) != 1)
	{
		fail(a, "could not leave pipeline mode after \"%s\": %s", sql, PQerrorMessage(conn));
		PQclear(res);
		return NULL;
	}
	if (!pos_ok && PQresultStatus(res) == PGRES_COMMAND_OK)
		(void) record_position(a, index);
	if (!pos_ok)
	{
		PQclear(res);
		return NULL;
	}
	return res;
}

/*
 * Run COMMIT or ROLLBACK PREPARED (sql).  While another session still
 * holds the transaction ("is busy", SQLSTATE 55000: its PREPARE is
 * decodable, even listed, a moment before the preparing session lets go
 * of it; or the proxy is rolling it back), try again, bounded.  index:
 * the position to record with it, or 0.  Returns the last result (NULL
 * after fail()).
 */
static PGresult *
exec_finish(struct applier *a, PGconn *conn, const char *sql, uint64_t index)
{
	for (int tries = 0;; tries++)
	{
		PGresult   *res = index != 0 ? exec_at(a, conn, sql, index) : PQexec(conn, sql);
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		if (res == NULL || PQresultStatus(res) == PGRES_COMMAND_OK || state == NULL ||
			strcmp(state, "55000") != 0 || tries == APPLIER_FINISH_TRIES)
			return res;
		PQclear(res);
		usleep(APPLIER_FINISH_RETRY_MS * 1000);
	}
}

/*
 * ROLLBACK PREPARED of gid, in its database, outside any batch.  A
 * transaction that is gone meanwhile (the proxy rolled it back itself)
 * is fine.  Returns 0 or -1 (failed).
 */
static int
rollback_prepared(struct applier *a, const char *gid, const char *db)
{
	PGconn	   *conn = lookup_conn(a, db);
	char		sql[64 + 2 * TXN_NAME_MAX];
	char		where[TXN_NAME_MAX + 1];
	char	   *lit;
	PGresult   *res;
	bool		ok;

	if (conn == NULL)
		return -1;
	PGQ_ASSERT(a->txn_conn == NULL);
	lit = PQescapeLiteral(conn, gid, strlen(gid));
	if (lit == NULL)
	{
		fail(a, "could not quote gid: %s", PQerrorMessage(conn));
		return -1;
	}
	snprintf(sql, sizeof(sql), "ROLLBACK PREPARED %s", lit);
	PQfreemem(lit);
	res = exec_finish(a, conn, sql, 0);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok && prepared_lookup(a, conn, gid, where, sizeof(where)) == 0)
		ok = true;				/* gone meanwhile */
	if (!ok && !atomic_load(&a->failed))
		fail(a, "\"%s\" failed: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	return ok ? 0 : -1;
}

/* Discard the open multi-chunk transaction (its gid will never commit). */
static int
drop_partial(struct applier *a, const char *why)
{
	PGconn	   *open = a->txn_conn;

	PGQ_ASSERT(a->txn_partial && open != NULL);
	pgq_info("discarding the unfinished transaction %s (term %" PRIu64 "): %s",
			 a->partial_gid, a->partial_term, why);
	a->txn_conn = NULL;
	a->txn_partial = false;
	if (exec(a, open, "ROLLBACK", PGRES_COMMAND_OK) < 0)
		return -1;
	/* Its entries are handled: the next recorded position covers them. */
	if (a->txn_last > a->unrecorded)
		a->unrecorded = a->txn_last;
	return 0;
}

/*
 * The applier reached an entry of term t, above every term seen so far.
 * The chunks of a gid are logged only in the term its gid names
 * (sync/commit.c), and a committed entry of term t fixes the log before
 * it: no entry of an earlier term can ever commit after it.  So a
 * transaction of ours prepared in an earlier term that is still pending
 * here (its final chunk was not among the entries applied so far) will
 * never commit: roll it back now, before this entry is applied, which
 * could otherwise wait on its locks.  Likewise an unfinished multi-chunk
 * transaction of an earlier term is discarded.  Gids that name no term
 * are left alone, with a warning.
 */
static int
resolve_term(struct applier *a, uint64_t t)
{
	const char *param = a->gid_prefix;
	PGresult   *res;
	int			rc = 0;

	if (a->txn_partial && a->partial_term < t && drop_partial(a, "an entry of a later term follows") < 0)
		return -1;
	PGQ_ASSERT(!a->txn_partial);
	if (end_batch(a) < 0)
		return -1;
	res = PQexecParams(a->dbs[0].conn,
					   "SELECT gid, database FROM pg_catalog.pg_prepared_xacts "
					   "WHERE pg_catalog.starts_with(gid, $1) ORDER BY prepared",
					   1, NULL, &param, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fail(a, "listing prepared transactions: %s", PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	for (int i = 0; i < PQntuples(res) && rc == 0; i++)
	{
		const char *gid = PQgetvalue(res, i, 0);
		uint64_t	node;
		uint64_t	term;

		if (!txn_gid_parse(gid, strlen(gid), &node, &term) || node != a->node_id)
		{
			pgq_warn("prepared transaction %s names no term; leaving it (resolve it by hand)", gid);
			continue;
		}
		if (term >= t)
			continue;
		pgq_info("rolling back prepared transaction %s of term %" PRIu64
				 ": it never committed, and an entry of term %" PRIu64 " has", gid, term, t);
		rc = rollback_prepared(a, gid, PQgetvalue(res, i, 1));
	}
	PQclear(res);
	if (rc == 0)
		a->resolved_term = t;
	return rc;
}

/*
 * COMMIT PREPARED of e's gid, recording index: 1 done, 0 no such prepared
 * transaction here (only with missing_ok: SQLSTATE 42704, and the
 * position set for it is cleared again), -1 failed.
 */
static int
commit_prepared(struct applier *a, PGconn *conn, const struct txn_entry *e, uint64_t index,
				bool missing_ok)
{
	char		sql[64 + 2 * TXN_NAME_MAX];
	char	   *lit = PQescapeLiteral(conn, e->gid.p, e->gid.len);
	PGresult   *res;
	const char *state;
	int			rc;

	if (lit == NULL)
	{
		fail(a, "could not quote gid: %s", PQerrorMessage(conn));
		return -1;
	}
	snprintf(sql, sizeof(sql), "COMMIT PREPARED %s", lit);
	PQfreemem(lit);
	res = exec_finish(a, conn, sql, index);
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 1 : -1;
	if (rc < 0 && missing_ok && state != NULL && strcmp(state, "42704") == 0)
		rc = exec(a, conn, "SELECT pg_replication_origin_xact_reset()", PGRES_TUPLES_OK) < 0 ? -1 : 0;
	else if (rc < 0 && res != NULL)
		fail(a, "\"%s\" failed: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	if (rc == 1)
	{
		a->unrecorded = 0;
		atomic_store(&a->applied, index);
		ev_async_send(a->loop, &a->async);	/* its session waits: answer now */
	}
	return rc;
}

/*
 * The final chunk of a transaction this node prepared: COMMIT PREPARED at
 * once, which is the usual case and costs no lookup.  Only if the server
 * does not know the gid (yet: a PREPARE is decodable a moment before it
 * is listed; or no more: a rebuilt server) is pg_prepared_xacts consulted,
 * as for every other entry.  1 committed, 0 not prepared here, -1 failed.
 */
static int
commit_ours(struct applier *a, PGconn *conn, const struct txn_entry *e, uint64_t index)
{
	int			rc;

	if (end_batch(a) < 0 || take_origin(a, conn) < 0)
		return -1;
	rc = commit_prepared(a, conn, e, index, true);
	if (rc != 0)
		return rc;
	rc = prepared_here(a, conn, e);
	return rc > 0 ? commit_prepared(a, conn, e, index, false) : rc;
}

/*
 * Back from a DDL statement's session context (sql/sql_ddl.h) to the
 * applier's own: SET LOCAL, as the context was, and the two settings
 * connect_db sets for the session come back as it set them.
 */
#define CONTEXT_RESET_ONE(g) "SET LOCAL " g " TO DEFAULT; "
static const char context_reset[] = "RESET ROLE; " SQL_DDL_CONTEXT_GUCS(CONTEXT_RESET_ONE)
	"SET LOCAL DateStyle = ISO; SET LOCAL IntervalStyle = postgres";

static bool
is_context(const struct txn_change *c)
{
	return c->kind == TXN_CH_DDL && c->ddl.len >= strlen(SQL_DDL_CONTEXT_MARK) &&
		memcmp(c->ddl.p, SQL_DDL_CONTEXT_MARK, strlen(SQL_DDL_CONTEXT_MARK)) == 0;
}

/*
 * The changes of e in order.  A context message holds for the one DDL
 * statement after it (entries logged before contexts were carried have
 * none, and their DDL runs in the applier's context as it always did).
 */
static int
apply_changes(struct applier *a, PGconn *conn, const struct txn_entry *e)
{
	struct txn_change c;
	const char *err = NULL;
	bool		in_context = false;
	int			rc;

	txn_change_iter_init(a->iter, e);
	while ((rc = txn_change_next(a->iter, &c, &err)) == 1)
	{
		bool		context = is_context(&c);

		if (in_context && (c.kind != TXN_CH_DDL || context))
		{
			/* a context without its statement: nothing runs in it */
			if (exec(a, conn, context_reset, PGRES_COMMAND_OK) < 0)
				return -1;
			in_context = false;
		}
		err = txn_sql_change(&a->sql, e, &c);
		if (err != NULL)
		{
			fail(a, "cannot apply a change: %s", err);
			return -1;
		}
		if (run_sql(a, conn) < 0)
			return -1;
		if (context)
		{
			in_context = true;
			continue;
		}
		if (c.kind != TXN_CH_DDL)
			continue;
		if (forget_statements(a, conn) < 0)
			return -1;
		if (in_context && exec(a, conn, context_reset, PGRES_COMMAND_OK) < 0)
			return -1;
		in_context = false;
	}
	if (rc < 0)
		fail(a, "malformed changes: %s", err);
	if (in_context && exec(a, conn, context_reset, PGRES_COMMAND_OK) < 0)
		return -1;
	return rc;
}

static bool
same_gid(const struct txn_entry *e, const char *gid)
{
	return e->gid.len == strlen(gid) && memcmp(e->gid.p, gid, e->gid.len) == 0;
}

/*
 * The first (or only) chunk of a transaction: if this node prepared it and
 * it is pending here, its rows are there already: a final chunk commits
 * it, another is skipped.  1 handled, 0 apply its rows, -1 failed.
 */
static int
chunk_prepared_here(struct applier *a, const struct item *it, const struct txn_entry *e,
					bool final)
{
	char		db[TXN_NAME_MAX + 1];
	PGconn	   *conn;
	int			here;

	if (!is_ours(a, e))
		return 0;
	entry_db(e, db, sizeof(db));
	if ((conn = lookup_conn(a, db)) == NULL)
		return -1;
	if (final)
		return commit_ours(a, conn, e, it->index);
	if ((here = prepared_here(a, conn, e)) <= 0)
		return here;
	if (a->txn_conn != NULL)
		a->txn_last = it->index;
	else
		a->unrecorded = it->index;
	return 1;
}

static int
apply_chunk(struct applier *a, const struct item *it, const struct txn_entry *e)
{
	bool		final = (e->flags & TXN_FLAG_FINAL) != 0;
	PGconn	   *conn;

	if (a->txn_partial && (!same_gid(e, a->partial_gid) || e->chunk_seq != a->partial_seq + 1))
	{
		/* The primary logs an ABORT before it moves on (sync/commit.c),
		 * and each chunk once. */
		fail(a, "entry %" PRIu64 " (transaction %.*s, chunk %u) does not continue the unfinished "
			 "transaction %s (chunk %u)", it->index, (int) e->gid.len, e->gid.p, e->chunk_seq,
			 a->partial_gid, a->partial_seq);
		return -1;
	}
	if (!a->txn_partial)
	{
		int			here = chunk_prepared_here(a, it, e, final);

		if (here != 0)
			return here < 0 ? -1 : 0;
		/* A transaction of several chunks gets a batch of its own. */
		if (!final && end_batch(a) < 0)
			return -1;
	}
	if ((conn = batch_conn(a, e)) == NULL || apply_changes(a, conn, e) < 0)
		return -1;
	a->txn_partial = !final;
	if (a->txn_partial)
	{
		snprintf(a->partial_gid, sizeof(a->partial_gid), "%.*s", (int) e->gid.len, e->gid.p);
		a->partial_term = it->term;
		a->partial_seq = e->chunk_seq;
	}
	a->txn_last = it->index;
	return 0;
}

/*
 * The primary gave transaction gid up: discard what is open of it, and
 * roll it back where it was prepared.  Not an error when there is neither
 * (the final chunk came first and committed it, or nothing was logged).
 */
static int
apply_abort(struct applier *a, uint64_t index, const struct txn_entry *e)
{
	char		gid[TXN_NAME_MAX + 1];
	char		db[TXN_NAME_MAX + 1];
	int			here = 0;

	snprintf(gid, sizeof(gid), "%.*s", (int) e->gid.len, e->gid.p);
	if (a->txn_partial && !same_gid(e, a->partial_gid))
	{
		if (is_ours(a, e))
		{
			fail(a, "entry %" PRIu64 " aborts %s inside the unfinished transaction %s",
				 index, gid, a->partial_gid);
			return -1;
		}
		a->txn_last = index;	/* nothing of it here: rides along */
		return 0;
	}
	if (a->txn_partial && drop_partial(a, "the primary gave it up") < 0)
		return -1;
	if (end_batch(a) < 0)
		return -1;
	if (is_ours(a, e) && (here = prepared_lookup(a, a->dbs[0].conn, gid, db, sizeof(db))) < 0)
		return -1;
	if (here)
	{
		pgq_info("rolling back prepared transaction %s: the primary gave it up (entry %" PRIu64 ")",
				 gid, index);
		if (rollback_prepared(a, gid, db) < 0)
			return -1;
	}
	return record_position(a, index);
}

/* ---- statements outside a transaction block (docs/capture.md) ---- */

/*
 * An error that every server at the same log position gets alike, because
 * it depends only on the statement and the replicated state (a syntax
 * error, a database that exists already, a missing table ...): the
 * statement failed everywhere, the outcome is recorded and applying goes on.
 */
static bool
statement_error_is_deterministic(const char *sqlstate)
{
	static const char *const classes[] = {"42", "3D", "3F", "22", "0A", "2B", "23", "P0", "44"};

	if (sqlstate == NULL || strlen(sqlstate) != 5)
		return false;
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (strncmp(sqlstate, classes[i], 2) == 0)
			return true;
	return false;
}

/*
 * An error that depends on this server's moment (a session still connected
 * to a database being dropped or copied, a lock, a cancel, resources): try
 * again for a while.
 */
static bool
statement_error_is_transient(const char *sqlstate)
{
	static const char *const codes[] = {"55006", "55P03", "40", "57", "53", "58", "08"};

	if (sqlstate == NULL || strlen(sqlstate) != 5)
		return false;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strncmp(sqlstate, codes[i], strlen(codes[i])) == 0)
			return true;
	return false;
}

static bool
stopping(struct applier *a)
{
	bool		yes;

	pthread_mutex_lock(&a->mu);
	yes = a->stopping;
	pthread_mutex_unlock(&a->mu);
	return yes;
}

static void
record_outcome(struct applier *a, uint64_t index, const char *sqlstate, const char *text)
{
	struct applier_outcome *o;

	pthread_mutex_lock(&a->mu);
	o = &a->outcomes[a->outcome_next];
	a->outcome_next = (a->outcome_next + 1) % APPLIER_OUTCOMES;
	o->index = index;
	o->ok = sqlstate == NULL;
	snprintf(o->sqlstate, sizeof(o->sqlstate), "%s", sqlstate ? sqlstate : "00000");
	snprintf(o->text, sizeof(o->text), "%s", text);
	pthread_mutex_unlock(&a->mu);
}

/*
 * Close every connection but keep: a statement such as DROP DATABASE or
 * CREATE DATABASE ... TEMPLATE x fails while any session (ours too) is
 * connected to that database.  They reconnect on next use.
 */
static void
close_other_conns(struct applier *a, PGconn *keep)
{
	int			n = 0;

	for (int i = 0; i < a->n_dbs; i++)
	{
		if (a->dbs[i].conn == keep)
		{
			a->dbs[n++] = a->dbs[i];
			continue;
		}
		if (a->origin_owner == a->dbs[i].conn)
			a->origin_owner = NULL;
		close_dbconn(&a->dbs[i]);
	}
	a->n_dbs = n;
}

/* SET ROLE role, or RESET ROLE when role is NULL. */
static int
set_role(struct applier *a, PGconn *conn, const struct txn_str *role)
{
	char		sql[32 + 2 * TXN_NAME_MAX];
	char	   *id;

	if (role == NULL)
		return exec(a, conn, "RESET ROLE", PGRES_COMMAND_OK);
	if ((id = PQescapeIdentifier(conn, role->p, role->len)) == NULL)
	{
		fail(a, "could not quote role: %s", PQerrorMessage(conn));
		return -1;
	}
	snprintf(sql, sizeof(sql), "SET ROLE %s", id);
	PQfreemem(id);
	return exec(a, conn, sql, PGRES_COMMAND_OK);
}

/*
 * Run the statement once.  Returns 0 when it ran or failed alike on every
 * server (the outcome is recorded), 1 to try again, -1 after fail().
 */
static int
run_statement_once(struct applier *a, PGconn *conn, uint64_t index, bool last_try)
{
	const char *sql = txn_sql_text(&a->sql);
	PGresult   *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	int			rc = 0;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		record_outcome(a, index, NULL, PQcmdStatus(res));
	else if (statement_error_is_deterministic(sqlstate))
	{
		pgq_warn("statement at log index %" PRIu64 " (\"%.200s\") failed as on every node: %s",
				 index, sql, PQresultErrorMessage(res));
		record_outcome(a, index, sqlstate, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
	}
	else if (statement_error_is_transient(sqlstate) && !last_try)
		rc = 1;
	else
	{
		fail(a, "statement at log index %" PRIu64 " (\"%.200s\") failed on this node%s: %s"
			 "; it may have succeeded on others, so this node stops rather than diverge",
			 index, sql, last_try ? " after retries" : "", PQresultErrorMessage(res));
		rc = -1;
	}
	PQclear(res);
	return rc;
}

/*
 * A STATEMENT: run on its own, outside a transaction block, as the role
 * that ran it on the primary, with the other connections closed.  The
 * position is recorded right after it; a crash in between runs it again,
 * which for CREATE/DROP DATABASE and the like ends in a deterministic
 * error (it exists already / is gone), recorded as its outcome.
 */
static int
apply_statement(struct applier *a, uint64_t index, const struct txn_entry *e)
{
	char		db[TXN_NAME_MAX + 1];
	const char *err;
	PGconn	   *conn;
	int			rc = 1;

	if (end_batch(a) < 0)
		return -1;
	entry_db(e, db, sizeof(db));
	if ((conn = lookup_conn(a, db)) == NULL)
		return -1;
	close_other_conns(a, conn);
	if (take_origin(a, conn) < 0)
		return -1;
	err = txn_sql_statement(&a->sql, e);
	if (err != NULL)
	{
		fail(a, "cannot apply a statement: %s", err);
		return -1;
	}
	if (e->role.len > 0 && set_role(a, conn, &e->role) < 0)
		return -1;
	for (int t = 0; rc == 1; t++)
	{
		rc = run_statement_once(a, conn, index, t >= APPLIER_STATEMENT_TRIES - 1 || stopping(a));
		if (rc == 1)
			usleep(APPLIER_STATEMENT_RETRY_MS * 1000);
	}
	if (rc < 0 || (e->role.len > 0 && set_role(a, conn, NULL) < 0) ||
		forget_statements(a, conn) < 0)
		return -1;
	return record_position(a, index);
}

static int
apply_sequences(struct applier *a, uint64_t index, const struct txn_entry *e)
{
	PGconn	   *conn = batch_conn(a, e);

	if (conn == NULL)
		return -1;
	for (uint32_t i = 0; i < e->n_sequences; i++)
	{
		const char *err = txn_sql_sequence(&a->sql, &e->sequences[i]);

		if (err != NULL)
		{
			fail(a, "cannot apply a sequence position: %s", err);
			return -1;
		}
		if (run_sql(a, conn) < 0)
			return -1;
	}
	a->txn_last = index;
	return 0;
}

static int
apply_item(struct applier *a, const struct item *it)
{
	struct txn_entry *e;
	const char *err;
	int			rc;

	if (it->term > a->resolved_term && resolve_term(a, it->term) < 0)
		return -1;
	if (it->len == 0 || it->data[0] == APPLIER_OPAQUE_PREFIX)
	{
		/* A term marker or a test entry: nothing to apply. */
		if (it->index <= atomic_load(&a->applied))
			return 0;			/* the start's marker: applied already */
		if (a->txn_conn != NULL)
			a->txn_last = it->index;
		else
			a->unrecorded = it->index;
		return 0;
	}
	err = txn_entry_decode(it->data, it->len, &e);
	if (err != NULL)
	{
		fail(a, "entry %" PRIu64 " does not decode: %s", it->index, err);
		return -1;
	}
	if (a->txn_partial && e->kind != TXN_KIND_CHUNK && e->kind != TXN_KIND_ABORT)
	{
		fail(a, "entry %" PRIu64 " (%s) interleaves with an unfinished transaction",
			 it->index, txn_entry_kind_name(e->kind));
		txn_entry_free(e);
		return -1;
	}
	switch (e->kind)
	{
		case TXN_KIND_CHUNK:
			rc = apply_chunk(a, it, e);
			break;
		case TXN_KIND_ABORT:
			rc = apply_abort(a, it->index, e);
			break;
		case TXN_KIND_STATEMENT:
			rc = apply_statement(a, it->index, e);
			break;
		case TXN_KIND_SEQUENCES:
			rc = apply_sequences(a, it->index, e);
			break;
		default:
			fail(a, "entry %" PRIu64 " has unknown kind %u", it->index, e->kind);
			rc = -1;
	}
	txn_entry_free(e);
	return rc;
}

/* Apply items (a chain) in order; ends the batch unless one is partial. */
static void
apply_chain(struct applier *a, struct item *it)
{
	int			n = 0;

	for (; it != NULL && !atomic_load(&a->failed); it = it->next)
	{
		if (apply_item(a, it) < 0)
			return;
		if (++n % APPLIER_BATCH_ENTRIES == 0 && !a->txn_partial && end_batch(a) < 0)
			return;
	}
	if (!a->txn_partial && end_batch(a) < 0)
		return;
	if (a->unrecorded > atomic_load(&a->applied) && a->txn_conn == NULL)
		record_position(a, a->unrecorded);
}

/* After a failure: was it the server that went away? */
static void
note_lost_server(struct applier *a)
{
	for (int i = 0; i < a->n_dbs; i++)
		if (PQstatus(a->dbs[i].conn) == CONNECTION_BAD)
			atomic_store(&a->server_lost, true);
}

/*
 * Nothing to apply for a while: run the resolution again for the term
 * reached.  The rule holds at any time after an entry of that term was
 * applied, and this catches a transaction prepared under an earlier term
 * after that term was resolved (in the instant the node lost the primary
 * role) whose session went away without rolling it back.  It also notices
 * a server that went away while the node is idle.
 */
static void
resolve_idle(struct applier *a)
{
	if (atomic_load(&a->failed) || a->txn_partial || a->resolved_term == 0)
		return;
	if (resolve_term(a, a->resolved_term) < 0)
	{
		note_lost_server(a);
		ev_async_send(a->loop, &a->async);
	}
}

static void *
worker_main(void *arg)
{
	struct applier *a = arg;

	for (;;)
	{
		struct item *chain;
		struct timespec deadline;
		bool		idle = false;
		bool		stopping;

		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += APPLIER_IDLE_RESOLVE_S;
		pthread_mutex_lock(&a->mu);
		while (a->head == NULL && !a->stopping && !idle)
			idle = pthread_cond_timedwait(&a->cv, &a->mu, &deadline) == ETIMEDOUT;
		chain = a->head;
		a->head = a->tail = NULL;
		a->queued_bytes = 0;
		stopping = a->stopping;
		pthread_mutex_unlock(&a->mu);
		if (chain == NULL && stopping)
			break;				/* stopping, nothing left */
		if (chain == NULL)
		{
			resolve_idle(a);
			continue;
		}
		if (!atomic_load(&a->failed))
		{
			apply_chain(a, chain);
			if (atomic_load(&a->failed))
				note_lost_server(a);
		}
		while (chain != NULL)
		{
			struct item *next = chain->next;

			free(chain);
			chain = next;
		}
		ev_async_send(a->loop, &a->async);
	}
	return NULL;
}

static void
on_async(struct ev_loop *loop, ev_async *w, int revents)
{
	struct applier *a = w->data;

	if (atomic_load(&a->server_lost))
	{
		/*
		 * Without its server this node can neither apply nor take writes:
		 * stop, so that a primary's peers elect another one at once, and
		 * start again (from the durable position) once the server is back.
		 */
		pgq_fatal("the local PostgreSQL server went away (%s); stopping the node", a->failure);
		exit(1);
	}
	a->cb(a->cb_arg, atomic_load(&a->applied));
}

/* Connect to the first database, make the origin, read the position. */
static int
read_position(struct applier *a, uint64_t *applied, char *err, size_t errlen)
{
	PGconn	   *conn = connect_db(a, NULL);
	PGresult   *res;

	if (conn == NULL)
	{
		snprintf(err, errlen, "%s", a->failure);
		return -1;
	}
	res = PQexec(conn,
				 "SELECT pg_catalog.pg_replication_origin_create('" ORIGIN_NAME "') "
				 "WHERE pg_catalog.pg_replication_origin_oid('" ORIGIN_NAME "') IS NULL; "
				 "SELECT pg_catalog.pg_replication_origin_progress('" ORIGIN_NAME "', true), "
				 "pg_catalog.current_database()");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		snprintf(err, errlen, "could not read the applied position: %s", PQresultErrorMessage(res));
		PQclear(res);
		PQfinish(conn);
		return -1;
	}
	*applied = lsn_to_index(PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0));
	PGQ_ASSERT(a->n_dbs == 0);
	add_dbconn(a, PQgetvalue(res, 0, 1), conn);
	PQclear(res);
	return 0;
}

struct applier *
applier_start(struct ev_loop *loop, const char *conninfo, uint64_t node_id,
			  applier_done_cb cb, void *arg, uint64_t *applied, char *err, size_t errlen)
{
	struct applier *a = calloc(1, sizeof(*a));
	pthread_condattr_t attr;

	PGQ_ASSERT(a != NULL);
	ev_async_init(&a->async, on_async);
	a->loop = loop;
	a->cb = cb;
	a->cb_arg = arg;
	a->conninfo = strdup(conninfo);
	a->iter = malloc(sizeof(*a->iter));
	PGQ_ASSERT(a->conninfo != NULL && a->iter != NULL && txn_sql_init(&a->sql));
	snprintf(a->gid_prefix, sizeof(a->gid_prefix), "pgq_%" PRIu64 "_", node_id);
	a->node_id = node_id;
	pthread_mutex_init(&a->mu, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cv, &attr);
	pthread_condattr_destroy(&attr);
	if (read_position(a, applied, err, errlen) < 0)
	{
		applier_stop(a);
		return NULL;
	}
	atomic_store(&a->applied, *applied);
	a->async.data = a;
	ev_async_start(loop, &a->async);
	if (pthread_create(&a->thread, NULL, worker_main, a) != 0)
	{
		snprintf(err, errlen, "could not start the applier thread");
		applier_stop(a);
		return NULL;
	}
	a->thread_started = true;
	return a;
}

bool
applier_submit(struct applier *a, uint64_t index, uint64_t term, const void *payload,
			   uint32_t len)
{
	struct item *it;
	bool		full;

	pthread_mutex_lock(&a->mu);
	full = a->queued_bytes + len > APPLIER_QUEUE_BYTES && a->head != NULL;
	pthread_mutex_unlock(&a->mu);
	if (full)
		return false;
	it = malloc(sizeof(*it) + len);
	PGQ_ASSERT(it != NULL);
	it->next = NULL;
	it->index = index;
	it->term = term;
	it->len = len;
	if (len > 0)
		memcpy(it->data, payload, len);
	pthread_mutex_lock(&a->mu);
	if (a->tail)
		a->tail->next = it;
	else
		a->head = it;
	a->tail = it;
	a->queued_bytes += len;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	return true;
}

void
applier_stats(struct applier *a, uint64_t *batches, uint64_t *entries)
{
	*batches = atomic_load(&a->batches);
	*entries = atomic_load(&a->batch_entries);
}

uint64_t
applier_applied(struct applier *a)
{
	return atomic_load(&a->applied);
}

bool
applier_statement_outcome(struct applier *a, uint64_t index, struct applier_outcome *out)
{
	bool		found = false;

	pthread_mutex_lock(&a->mu);
	for (unsigned i = 0; i < APPLIER_OUTCOMES && !found; i++)
		if (a->outcomes[i].index == index && index != 0)
		{
			*out = a->outcomes[i];
			found = true;
		}
	pthread_mutex_unlock(&a->mu);
	return found;
}

const char *
applier_failure(struct applier *a)
{
	return atomic_load(&a->failed) ? a->failure : NULL;
}

void
applier_stop(struct applier *a)
{
	if (a->thread_started)
	{
		pthread_mutex_lock(&a->mu);
		a->stopping = true;
		pthread_cond_signal(&a->cv);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->thread, NULL);
	}
	if (ev_is_active(&a->async))
		ev_async_stop(a->loop, &a->async);
	if (a->txn_conn != NULL)
		PQclear(PQexec(a->txn_conn, "ROLLBACK"));
	for (int i = 0; i < a->n_dbs; i++)
		close_dbconn(&a->dbs[i]);
	txn_sql_free(&a->sql);
	free(a->iter);
	free(a->conninfo);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a);
}
