/*
 * capture_stream.c
 *	  The slot reader on the event loop.  See capture_stream.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/pgq_assert.h"
#include "common/pgq_bytes.h"
#include "common/pgq_log.h"
#include "sql/sql_ddl.h"
#include "sync/capture_stream.h"

/* CopyData message codes of the streaming replication protocol. */
#define COPY_XLOGDATA		'w'		/* u64 start, u64 wal end, i64 time, data */
#define COPY_KEEPALIVE		'k'		/* u64 wal end, i64 time, u8 reply asked */
#define COPY_STATUS			'r'		/* u64 write, flush, apply, i64 time, u8 */
#define XLOGDATA_HEADER		25
#define KEEPALIVE_SIZE		18
#define STATUS_SIZE			34
#define PG_EPOCH_OFFSET_S	946684800.0 /* 2000-01-01 in Unix time */
#define SQL_MAX				2048

/* A delivered chunk that our log has not persisted yet. */
struct backlog_item
{
	uint64_t	id;
	uint64_t	lsn;			/* final: end LSN of its transaction */
	uint64_t	bytes;
	bool		final;
};

struct capture_stream
{
	struct ev_loop *loop;
	struct capture_stream_config cfg;
	char		conninfo[1024];
	char		dbname[TXN_NAME_MAX + 1];
	char		slot[CAPTURE_IDENT_MAX + 1];
	char		publication[CAPTURE_IDENT_MAX + 1];
	char		gid_prefix[TXN_NAME_MAX + 1];
	capture_stream_chunk_fn on_chunk;
	capture_stream_error_fn on_error;
	void	   *arg;

	enum capture_stream_state state;
	PGconn	   *conn;
	ev_io		rio;
	ev_io		wio;
	ev_timer	status_timer;	/* periodic status update */
	ev_timer	soon_timer;		/* one status update after confirms */

	struct capture_asm *asm_;
	struct capture_pgo_msg *msg;

	struct backlog_item *ring;	/* delivered chunks, oldest first */
	uint32_t	ring_cap;
	uint32_t	ring_head;
	uint32_t	ring_n;			/* == backlog chunks */
	uint64_t	backlog_bytes;
	uint64_t	next_chunk_id;
	bool		paused;

	uint64_t	received_lsn;
	uint64_t	flushed_lsn;
	uint64_t	confirmed_lsn;
	int64_t		decode_lag_ms;
	uint64_t	messages;

	int			depth;			/* callbacks on the stack */
	bool		free_pending;
	bool		need_publication;	/* set-up: what the database lacks */
	bool		need_guard;
	char		err[512];
};

/*
 * The nested-DDL guard (sql/sql_ddl.h, SQL_DDL_NESTED_OK; docs/sql.md,
 * "DDL inside functions and DO blocks"): at the end of a DDL command or a
 * drop, a call stack deeper than the trigger's own frame means it ran
 * inside a function or DO block.  Left alone: temporary objects (never
 * replicated; GRANT/REVOKE once the session has any), and the commands of an extension's script (CREATE
 * EXTENSION itself is carried and runs the script on every node).  Every
 * node's capture installs it alike, so the servers' schemas stay equal.
 */
#define NESTED_DDL_TRIGGER "pgquorum_nested_ddl"
static const char nested_ddl_guard[] =
	"CREATE SCHEMA IF NOT EXISTS _pgquorum; "
	"CREATE OR REPLACE FUNCTION _pgquorum.refuse_nested_ddl() RETURNS event_trigger "
	"LANGUAGE plpgsql SET search_path = pg_catalog AS $pgq$DECLARE stack text; BEGIN "
	"IF current_setting('" SQL_DDL_NESTED_OK "', true) = 'ok' THEN RETURN; END IF; "
	"GET DIAGNOSTICS stack = PG_CONTEXT; "
	"IF strpos(stack, E'\\n') = 0 THEN RETURN; END IF; "
	"IF TG_EVENT = 'sql_drop' THEN "
	"IF NOT EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects() d "
	"WHERE NOT d.is_temporary) THEN RETURN; END IF; "
	"ELSIF tg_tag LIKE 'DROP %' THEN RETURN; "	/* sql_drop decides */
	/* a GRANT does not name its object here: after temporary objects in
	 * this session, it may be on one of them (pgTAP's plan() does so) */
	"ELSIF tg_tag IN ('GRANT', 'REVOKE') AND pg_my_temp_schema() <> 0 THEN RETURN; "
	"ELSIF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() c WHERE c.in_extension) "
	"OR (EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands()) AND NOT EXISTS "
	"(SELECT 1 FROM pg_event_trigger_ddl_commands() c "
	"WHERE c.schema_name IS DISTINCT FROM 'pg_temp')) THEN RETURN; END IF; "
	"RAISE EXCEPTION 'pgquorum cannot replicate % run inside a function or DO block', tg_tag "
	"USING ERRCODE = 'feature_not_supported', DETAIL = 'pgquorum carries the DDL statements "
	"of a client''s query as they were sent; this one is not one of them, so the other nodes "
	"would never run it.', HINT = 'Run the DDL as a statement of its own.'; END$pgq$; "
	"CREATE EVENT TRIGGER " NESTED_DDL_TRIGGER " ON ddl_command_end "
	"EXECUTE FUNCTION _pgquorum.refuse_nested_ddl(); "
	"CREATE EVENT TRIGGER " NESTED_DDL_TRIGGER "_drop ON sql_drop "
	"EXECUTE FUNCTION _pgquorum.refuse_nested_ddl()";

_Static_assert(sizeof(nested_ddl_guard) + CAPTURE_IDENT_MAX + 64 <= SQL_MAX,
			   "the CREATE_PUBLICATION step must fit in SQL_MAX");

static const char *const state_names[CAPTURE_ST_COUNT] = {
	"idle", "connecting", "check-publication", "create-publication",
	"check-slot", "create-slot", "start", "streaming", "failed",
};

/* Legal next states, as bit masks; any state may go to FAILED. */
#define B(s) (1u << (s))
static const unsigned state_next[CAPTURE_ST_COUNT] = {
	[CAPTURE_ST_IDLE] = B(CAPTURE_ST_CONNECTING),
	[CAPTURE_ST_CONNECTING] = B(CAPTURE_ST_CHECK_PUBLICATION),
	[CAPTURE_ST_CHECK_PUBLICATION] = B(CAPTURE_ST_CREATE_PUBLICATION) | B(CAPTURE_ST_CHECK_SLOT),
	[CAPTURE_ST_CREATE_PUBLICATION] = B(CAPTURE_ST_CHECK_SLOT),
	[CAPTURE_ST_CHECK_SLOT] = B(CAPTURE_ST_CREATE_SLOT) | B(CAPTURE_ST_START),
	[CAPTURE_ST_CREATE_SLOT] = B(CAPTURE_ST_START),
	[CAPTURE_ST_START] = B(CAPTURE_ST_STREAMING),
	[CAPTURE_ST_STREAMING] = 0,
	[CAPTURE_ST_FAILED] = 0,
};

const char *
capture_stream_state_name(enum capture_stream_state st)
{
	PGQ_ASSERT(st < CAPTURE_ST_COUNT);
	return state_names[st];
}

static void
capture_stream_set_state(struct capture_stream *cs, enum capture_stream_state to)
{
	PGQ_ASSERT(to == CAPTURE_ST_FAILED || (state_next[cs->state] & B(to)) != 0);
	pgq_debug("capture %s: %s -> %s", cs->slot, state_names[cs->state], state_names[to]);
	cs->state = to;
}

static void
stop_watchers(struct capture_stream *cs)
{
	ev_io_stop(cs->loop, &cs->rio);
	ev_io_stop(cs->loop, &cs->wio);
	ev_timer_stop(cs->loop, &cs->status_timer);
	ev_timer_stop(cs->loop, &cs->soon_timer);
}

/* Operating error: FAILED, watchers off, on_error once. */
static void
stream_fail(struct capture_stream *cs, const char *fmt,...)
{
	va_list		ap;

	if (cs->state == CAPTURE_ST_FAILED)
		return;
	va_start(ap, fmt);
	vsnprintf(cs->err, sizeof(cs->err), fmt, ap);
	va_end(ap);
	cs->err[strcspn(cs->err, "\n")] = '\0';
	capture_stream_set_state(cs, CAPTURE_ST_FAILED);
	stop_watchers(cs);
	pgq_warn("capture %s: %s", cs->slot, cs->err);
	cs->on_error(cs->arg, cs->err);
}

static void
destroy(struct capture_stream *cs)
{
	stop_watchers(cs);
	if (cs->conn != NULL)
		PQfinish(cs->conn);
	capture_asm_free(cs->asm_);
	free(cs->msg);
	free(cs->ring);
	free(cs);
}

/* Enter/leave a callback; a free requested inside happens on the way out. */
static void
enter(struct capture_stream *cs)
{
	cs->depth++;
}

static bool
leave(struct capture_stream *cs)
{
	PGQ_ASSERT(cs->depth > 0);
	if (--cs->depth == 0 && cs->free_pending)
	{
		destroy(cs);
		return false;
	}
	return !cs->free_pending;
}

static int64_t
now_pg_us(const struct capture_stream *cs)
{
	return (int64_t) ((ev_now(cs->loop) - PG_EPOCH_OFFSET_S) * 1e6);
}

/* ------------------------------------------------------------ writing */

static void
flush_output(struct capture_stream *cs)
{
	int			rc = PQflush(cs->conn);

	if (rc < 0)
		stream_fail(cs, "send failed: %s", PQerrorMessage(cs->conn));
	else if (rc > 0)
		ev_io_start(cs->loop, &cs->wio);
	else
		ev_io_stop(cs->loop, &cs->wio);
}

static void
on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct capture_stream *cs = w->data;

	enter(cs);
	flush_output(cs);
	leave(cs);
}

static uint64_t
flush_position(const struct capture_stream *cs)
{
	uint64_t	pos = cs->confirmed_lsn;

	if (cs->ring_n == 0 && capture_asm_idle(cs->asm_))
		pos = cs->received_lsn;
	return pos > cs->flushed_lsn ? pos : cs->flushed_lsn;
}

static void
send_status(struct capture_stream *cs, bool reply_requested)
{
	uint8_t		m[STATUS_SIZE];
	uint64_t	flush = flush_position(cs);

	if (cs->state != CAPTURE_ST_STREAMING)
		return;
	m[0] = COPY_STATUS;
	pgq_put_u64(m + 1, cs->received_lsn > flush ? cs->received_lsn : flush);
	pgq_put_u64(m + 9, flush);
	pgq_put_u64(m + 17, flush);
	pgq_put_u64(m + 25, (uint64_t) now_pg_us(cs));
	m[33] = reply_requested ? 1 : 0;
	if (PQputCopyData(cs->conn, (const char *) m, STATUS_SIZE) != 1)
	{
		stream_fail(cs, "status update failed: %s", PQerrorMessage(cs->conn));
		return;
	}
	cs->flushed_lsn = flush;
	flush_output(cs);
}

static void
on_status_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct capture_stream *cs = w->data;

	enter(cs);
	send_status(cs, false);
	leave(cs);
}

/* ------------------------------------------------------------ backlog */

static bool
backlog_full(const struct capture_stream *cs)
{
	return cs->ring_n >= cs->cfg.max_backlog_chunks ||
		cs->backlog_bytes >= cs->cfg.max_backlog_bytes;
}

/* The assembler produced an entry: number it, count it, hand it over. */
static void
on_asm_chunk(void *arg, const struct capture_chunk *chunk)
{
	struct capture_stream *cs = arg;
	struct capture_chunk c = *chunk;
	struct backlog_item *it;

	PGQ_ASSERT(cs->ring_n < cs->ring_cap);
	c.id = ++cs->next_chunk_id;
	it = &cs->ring[(cs->ring_head + cs->ring_n) % cs->ring_cap];
	*it = (struct backlog_item) {c.id, c.lsn, c.len, c.final};
	cs->ring_n++;
	cs->backlog_bytes += c.len;
	if (c.final)
		cs->decode_lag_ms = (now_pg_us(cs) - c.prepare_ts) / 1000;
	cs->on_chunk(cs->arg, &c);
}

static void
on_soon_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct capture_stream *cs = w->data;

	enter(cs);
	send_status(cs, false);
	leave(cs);
}

void
capture_confirm(struct capture_stream *cs, uint64_t chunk_id)
{
	PGQ_ASSERT(chunk_id <= cs->next_chunk_id);
	while (cs->ring_n > 0 && cs->ring[cs->ring_head].id <= chunk_id)
	{
		struct backlog_item *it = &cs->ring[cs->ring_head];

		PGQ_ASSERT(cs->backlog_bytes >= it->bytes);
		cs->backlog_bytes -= it->bytes;
		if (it->final)
			cs->confirmed_lsn = it->lsn;
		cs->ring_head = (cs->ring_head + 1) % cs->ring_cap;
		cs->ring_n--;
	}
	if (cs->paused && !backlog_full(cs) && cs->state == CAPTURE_ST_STREAMING)
	{
		cs->paused = false;
		ev_io_start(cs->loop, &cs->rio);
		ev_feed_event(cs->loop, &cs->rio, EV_READ); /* libpq may hold data */
	}
	if (cs->state == CAPTURE_ST_STREAMING && !ev_is_active(&cs->soon_timer))
		ev_timer_start(cs->loop, &cs->soon_timer);
}

/* ------------------------------------------------------------ reading */

static void
handle_xlogdata(struct capture_stream *cs, const uint8_t *p, size_t n)
{
	uint64_t	start = pgq_get_u64(p + 1);
	const char *err;

	if (start > cs->received_lsn)
		cs->received_lsn = start;
	err = capture_pgo_decode(p + XLOGDATA_HEADER, n - XLOGDATA_HEADER, cs->msg);
	if (err == NULL)
		err = capture_asm_feed(cs->asm_, cs->msg);
	if (err != NULL)
		stream_fail(cs, "at %X/%X: %s", (unsigned) (start >> 32), (unsigned) start, err);
}

static void
handle_copy(struct capture_stream *cs, const uint8_t *p, size_t n)
{
	cs->messages++;
	if (n >= XLOGDATA_HEADER && p[0] == COPY_XLOGDATA)
		handle_xlogdata(cs, p, n);
	else if (n == KEEPALIVE_SIZE && p[0] == COPY_KEEPALIVE)
	{
		uint64_t	end = pgq_get_u64(p + 1);

		if (end > cs->received_lsn && capture_asm_idle(cs->asm_))
			cs->received_lsn = end;
		if (p[17])
			send_status(cs, false);
	}
	else
		stream_fail(cs, "unexpected CopyData message (type %d, %zu bytes)",
					n ? p[0] : -1, n);
}

static void
read_stream(struct capture_stream *cs)
{
	char	   *buf;
	int			n;

	while (cs->state == CAPTURE_ST_STREAMING && !cs->free_pending)
	{
		if (backlog_full(cs))
		{
			cs->paused = true;
			ev_io_stop(cs->loop, &cs->rio);
			return;
		}
		n = PQgetCopyData(cs->conn, &buf, 1);
		if (n == 0)
			return;
		if (n == -1)
		{
			stream_fail(cs, "the server ended the replication stream");
			return;
		}
		if (n < 0)
		{
			stream_fail(cs, "replication stream: %s", PQerrorMessage(cs->conn));
			return;
		}
		handle_copy(cs, (const uint8_t *) buf, (size_t) n);
		PQfreemem(buf);
	}
}

/* ------------------------------------------------------------ set-up */

static void
send_query(struct capture_stream *cs, enum capture_stream_state st, const char *sql)
{
	capture_stream_set_state(cs, st);
	if (!PQsendQuery(cs->conn, sql))
	{
		stream_fail(cs, "%s: %s", state_names[st], PQerrorMessage(cs->conn));
		return;
	}
	flush_output(cs);
}

static void
next_step(struct capture_stream *cs, enum capture_stream_state st)
{
	char		sql[SQL_MAX];

	switch (st)
	{
		case CAPTURE_ST_CHECK_PUBLICATION:
			snprintf(sql, sizeof(sql), "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_publication "
					 "WHERE pubname = '%s'), EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger "
					 "WHERE evtname = '" NESTED_DDL_TRIGGER "')", cs->publication);
			break;
		case CAPTURE_ST_CREATE_PUBLICATION:
			sql[0] = '\0';
			if (cs->need_publication)
				snprintf(sql, sizeof(sql), "CREATE PUBLICATION \"%s\" FOR ALL TABLES; ",
						 cs->publication);
			if (cs->need_guard)
				strcat(sql, nested_ddl_guard);
			break;
		case CAPTURE_ST_CHECK_SLOT:
			snprintf(sql, sizeof(sql), "SELECT plugin, two_phase, database = "
					 "pg_catalog.current_database() FROM pg_catalog.pg_replication_slots "
					 "WHERE slot_name = '%s'", cs->slot);
			break;
		case CAPTURE_ST_CREATE_SLOT:
			snprintf(sql, sizeof(sql), "CREATE_REPLICATION_SLOT \"%s\" LOGICAL pgoutput "
					 "(TWO_PHASE true, SNAPSHOT 'nothing')", cs->slot);
			break;
		case CAPTURE_ST_START:
			snprintf(sql, sizeof(sql), "START_REPLICATION SLOT \"%s\" LOGICAL 0/0 "
					 "(proto_version '3', publication_names '\"%s\"', "
					 "messages 'true', two_phase 'true')", cs->slot, cs->publication);
			break;
		default:
			PGQ_UNREACHABLE();
	}
	send_query(cs, st, sql);
}

/* The slot exists: it must be ours to use (pgoutput, two_phase, this db). */
static const char *
check_slot_row(struct capture_stream *cs, PGresult *r)
{
	if (strcmp(PQgetvalue(r, 0, 0), "pgoutput") != 0)
		return "exists with another output plugin";
	if (strcmp(PQgetvalue(r, 0, 1), "t") != 0)
		return "exists without two_phase";
	if (strcmp(PQgetvalue(r, 0, 2), "t") != 0)
		return "exists for another database";
	return NULL;
}

/* One result of the current set-up step; returns the next step or FAILED. */
static enum capture_stream_state
step_result(struct capture_stream *cs, PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);
	const char *bad;

	if (cs->state == CAPTURE_ST_START)
		return st == PGRES_COPY_BOTH ? CAPTURE_ST_STREAMING : CAPTURE_ST_FAILED;
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		return CAPTURE_ST_FAILED;
	switch (cs->state)
	{
		case CAPTURE_ST_CHECK_PUBLICATION:
			if (PQntuples(r) != 1 || PQnfields(r) != 2)
				return CAPTURE_ST_FAILED;
			cs->need_publication = strcmp(PQgetvalue(r, 0, 0), "t") != 0;
			cs->need_guard = strcmp(PQgetvalue(r, 0, 1), "t") != 0;
			return cs->need_publication || cs->need_guard ?
				CAPTURE_ST_CREATE_PUBLICATION : CAPTURE_ST_CHECK_SLOT;
		case CAPTURE_ST_CREATE_PUBLICATION:
			return CAPTURE_ST_CHECK_SLOT;
		case CAPTURE_ST_CHECK_SLOT:
			if (PQntuples(r) == 0)
				return CAPTURE_ST_CREATE_SLOT;
			if ((bad = check_slot_row(cs, r)) != NULL)
			{
				snprintf(cs->err, sizeof(cs->err), "slot %s %s", cs->slot, bad);
				return CAPTURE_ST_FAILED;
			}
			return CAPTURE_ST_START;
		case CAPTURE_ST_CREATE_SLOT:
			return CAPTURE_ST_START;
		default:
			PGQ_UNREACHABLE();
	}
}

static void
start_streaming(struct capture_stream *cs)
{
	capture_stream_set_state(cs, CAPTURE_ST_STREAMING);
	pgq_info("capture %s: streaming from publication %s", cs->slot, cs->publication);
	ev_timer_start(cs->loop, &cs->status_timer);
	read_stream(cs);
}

/*
 * Results of a set-up query: one non-NULL result per step, but one per
 * statement of CREATE_PUBLICATION's (the first failure decides).
 */
static void
read_setup(struct capture_stream *cs)
{
	PGresult   *r;
	enum capture_stream_state next = CAPTURE_ST_IDLE;

	while (!PQisBusy(cs->conn) && (r = PQgetResult(cs->conn)) != NULL)
	{
		PGQ_ASSERT(next == CAPTURE_ST_IDLE || cs->state == CAPTURE_ST_CREATE_PUBLICATION);
		if (next == CAPTURE_ST_FAILED)
		{
			PQclear(r);
			continue;
		}
		cs->err[0] = '\0';
		next = step_result(cs, r);
		if (next == CAPTURE_ST_FAILED && cs->err[0] == '\0')
			snprintf(cs->err, sizeof(cs->err), "%s", PQresultErrorMessage(r));
		PQclear(r);
		if (next == CAPTURE_ST_STREAMING)
			break;				/* COPY BOTH: no NULL result follows */
	}
	if (next == CAPTURE_ST_IDLE)
		return;					/* wait for more input */
	if (next == CAPTURE_ST_FAILED)
		stream_fail(cs, "%s: %s", state_names[cs->state], cs->err);
	else if (next == CAPTURE_ST_STREAMING)
		start_streaming(cs);
	else
		next_step(cs, next);
}

static void
on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct capture_stream *cs = w->data;

	enter(cs);
	if (!PQconsumeInput(cs->conn))
		stream_fail(cs, "connection lost: %s", PQerrorMessage(cs->conn));
	else if (cs->state == CAPTURE_ST_STREAMING)
		read_stream(cs);
	else
		read_setup(cs);
	leave(cs);
}

/* ------------------------------------------------------------ connect */

static void on_connect_io(struct ev_loop *loop, ev_io *w, int revents);

static void
watch_connect(struct capture_stream *cs, int events)
{
	ev_io_stop(cs->loop, &cs->rio);
	ev_io_init(&cs->rio, on_connect_io, PQsocket(cs->conn), events);
	cs->rio.data = cs;
	ev_io_start(cs->loop, &cs->rio);
}

static void
connected(struct capture_stream *cs)
{
	ev_io_stop(cs->loop, &cs->rio);
	if (PQsetnonblocking(cs->conn, 1) != 0)
	{
		stream_fail(cs, "cannot make the connection non-blocking");
		return;
	}
	if (cs->dbname[0] == '\0')
		snprintf(cs->dbname, sizeof(cs->dbname), "%s", PQdb(cs->conn));
	cs->asm_ = capture_asm_new(&(struct capture_asm_config) {
		.origin_node = cs->cfg.origin_node, .dbname = cs->dbname,
		.gid_prefix = cs->gid_prefix, .chunk_bytes = cs->cfg.chunk_bytes,
		.max_entry_bytes = cs->cfg.max_entry_bytes}, on_asm_chunk, cs);
	if (cs->asm_ == NULL)
	{
		stream_fail(cs, "out of memory");
		return;
	}
	ev_io_init(&cs->rio, on_readable, PQsocket(cs->conn), EV_READ);
	ev_io_init(&cs->wio, on_writable, PQsocket(cs->conn), EV_WRITE);
	cs->rio.data = cs->wio.data = cs;
	ev_io_start(cs->loop, &cs->rio);
	next_step(cs, CAPTURE_ST_CHECK_PUBLICATION);
}

static void
poll_connect(struct capture_stream *cs)
{
	switch (PQconnectPoll(cs->conn))
	{
		case PGRES_POLLING_READING:
			watch_connect(cs, EV_READ);
			break;
		case PGRES_POLLING_WRITING:
			watch_connect(cs, EV_WRITE);
			break;
		case PGRES_POLLING_OK:
			connected(cs);
			break;
		default:
			stream_fail(cs, "connect: %s", PQerrorMessage(cs->conn));
			break;
	}
}

static void
on_connect_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct capture_stream *cs = w->data;

	enter(cs);
	poll_connect(cs);
	leave(cs);
}

int
capture_stream_start(struct capture_stream *cs)
{
	/* a later dbname overrides the one in conninfo; "" is ignored by libpq */
	const char *keys[] = {"dbname", "dbname", "replication", "options", "application_name", NULL};
	const char *vals[] = {cs->conninfo, cs->dbname, "database", CAPTURE_SESSION_OPTIONS,
	"pgquorum_capture", NULL};

	PGQ_ASSERT(cs->state == CAPTURE_ST_IDLE);
	cs->conn = PQconnectStartParams(keys, vals, 1);
	if (cs->conn == NULL || PQstatus(cs->conn) == CONNECTION_BAD)
	{
		snprintf(cs->err, sizeof(cs->err), "%s",
				 cs->conn ? PQerrorMessage(cs->conn) : "out of memory");
		return -1;
	}
	capture_stream_set_state(cs, CAPTURE_ST_CONNECTING);
	enter(cs);
	poll_connect(cs);
	leave(cs);
	return 0;
}

/* ------------------------------------------------------------ lifecycle */

static bool
ident_ok(const char *s)
{
	size_t		n = s ? strlen(s) : 0;

	if (n == 0 || n > CAPTURE_IDENT_MAX)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static void
set_defaults(struct capture_stream_config *c)
{
	if (c->max_backlog_chunks == 0)
		c->max_backlog_chunks = CAPTURE_BACKLOG_CHUNKS_DEFAULT;
	if (c->max_backlog_bytes == 0)
		c->max_backlog_bytes = CAPTURE_BACKLOG_BYTES_DEFAULT;
	if (c->status_interval_ms == 0)
		c->status_interval_ms = CAPTURE_STATUS_INTERVAL_DEFAULT_MS;
}

struct capture_stream *
capture_stream_new(struct ev_loop *loop, const struct capture_stream_config *cfg,
				   capture_stream_chunk_fn on_chunk, capture_stream_error_fn on_error,
				   void *arg)
{
	struct capture_stream *cs;

	if (!ident_ok(cfg->slot_name) || !ident_ok(cfg->publication) ||
		strlen(cfg->conninfo) >= sizeof(cs->conninfo) ||
		(cfg->dbname && strlen(cfg->dbname) > TXN_NAME_MAX) ||
		(cfg->gid_prefix && strlen(cfg->gid_prefix) > TXN_NAME_MAX))
		return NULL;
	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		return NULL;
	cs->loop = loop;
	cs->cfg = *cfg;
	set_defaults(&cs->cfg);
	snprintf(cs->conninfo, sizeof(cs->conninfo), "%s", cfg->conninfo);
	snprintf(cs->dbname, sizeof(cs->dbname), "%s", cfg->dbname ? cfg->dbname : "");
	snprintf(cs->slot, sizeof(cs->slot), "%s", cfg->slot_name);
	snprintf(cs->publication, sizeof(cs->publication), "%s", cfg->publication);
	snprintf(cs->gid_prefix, sizeof(cs->gid_prefix), "%s",
			 cfg->gid_prefix ? cfg->gid_prefix : CAPTURE_GID_PREFIX);
	cs->on_chunk = on_chunk;
	cs->on_error = on_error;
	cs->arg = arg;
	/* Reading stops at max_backlog_chunks; one message adds at most 1. */
	cs->ring_cap = cs->cfg.max_backlog_chunks + 2;
	cs->ring = calloc(cs->ring_cap, sizeof(*cs->ring));
	cs->msg = malloc(sizeof(*cs->msg));
	if (cs->ring == NULL || cs->msg == NULL)
	{
		destroy(cs);
		return NULL;
	}
	ev_init(&cs->rio, on_readable);
	ev_init(&cs->wio, on_writable);
	ev_timer_init(&cs->status_timer, on_status_timer, cs->cfg.status_interval_ms / 1000.0,
				  cs->cfg.status_interval_ms / 1000.0);
	ev_timer_init(&cs->soon_timer, on_soon_timer, 0., 0.);
	cs->rio.data = cs->wio.data = cs->status_timer.data = cs->soon_timer.data = cs;
	return cs;
}

void
capture_stream_free(struct capture_stream *cs)
{
	if (cs == NULL)
		return;
	if (cs->depth > 0)
	{
		cs->free_pending = true;	/* destroyed when the callback returns */
		stop_watchers(cs);
		return;
	}
	destroy(cs);
}

void
capture_stream_stats(const struct capture_stream *cs, struct capture_stream_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->state = cs->state;
	out->received_lsn = cs->received_lsn;
	out->flushed_lsn = cs->flushed_lsn;
	out->confirmed_lsn = cs->confirmed_lsn;
	out->unconfirmed_bytes = cs->received_lsn > cs->flushed_lsn ?
		cs->received_lsn - cs->flushed_lsn : 0;
	out->backlog_chunks = cs->ring_n;
	out->backlog_bytes = cs->backlog_bytes;
	out->paused = cs->paused;
	out->decode_lag_ms = cs->decode_lag_ms;
	out->messages = cs->messages;
	if (cs->asm_ != NULL)
		capture_asm_stats(cs->asm_, &out->txns);
}
