/*
 * capture_stream.h
 *	  The slot reader: one non-blocking libpq replication connection
 *	  (replication=database) to the local PostgreSQL, on the libev loop.
 *	  It makes sure the publication (FOR ALL TABLES) and the logical slot
 *	  (pgoutput, two_phase) exist, streams pgoutput protocol 3 with
 *	  messages and two_phase on, decodes and assembles prepared transactions
 *	  (capture_assemble.h) and hands every log entry to the caller.
 *
 * INTERFACE ROUTINES
 *	capture_stream_new	 - create (not connected yet)
 *	capture_stream_start - connect and set up; streaming follows on the loop
 *	capture_confirm		 - "our log has persisted every chunk up to id"
 *	capture_stream_stats - lag, backlog and counters
 *	capture_stream_state_name - readable state
 *	capture_stream_free	 - close; safe inside its own callbacks
 *
 * States (one enum, capture_stream_set_state checks every move):
 *	IDLE -> CONNECTING -> CHECK_PUBLICATION [-> CREATE_PUBLICATION]
 *	-> CHECK_SLOT [-> CREATE_SLOT] -> START -> STREAMING; any -> FAILED.
 *	CREATE_SLOT waits until no prepared transaction is open on the server
 *	(PostgreSQL waits for them): create the slot when none is pending.
 *
 * Confirm policy: each delivered chunk has an id (1, 2, 3 ...); the caller
 * confirms ids once its log has persisted those chunks.  The flush
 * position sent to the server is the end LSN of the last confirmed final
 * chunk, or, when every delivered chunk is confirmed and no transaction
 * is half read, the last
 * position received (skipped transactions and keepalives then advance the
 * slot, so WAL does not pile up).  Once a PREPARE's LSN is confirmed the
 * server never sends that transaction again; before that, a reconnect
 * re-sends it from its first chunk: the caller must drop chunks of a gid
 * it already holds.
 *
 * Back-pressure: reading stops while the delivered-but-unconfirmed chunks
 * or bytes are at cfg.max_backlog_chunks / max_backlog_bytes, and resumes
 * on capture_confirm; status updates keep the connection alive meanwhile.
 *
 * Errors (connection lost, server error, bad stream, oversized row): the
 * stream goes to FAILED and calls on_error once; the caller frees it and
 * makes a new one (with back-off).
 *
 * OWNERSHIP: cfg strings are copied.  A chunk is borrowed until on_chunk
 * returns.  The error message is borrowed until on_error returns.
 */
#ifndef SYNC_CAPTURE_STREAM_H
#define SYNC_CAPTURE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "sync/capture_assemble.h"

#define CAPTURE_IDENT_MAX			63	/* slot and publication names */
#define CAPTURE_BACKLOG_CHUNKS_DEFAULT 1024
#define CAPTURE_BACKLOG_BYTES_DEFAULT (UINT64_C(256) << 20)
#define CAPTURE_STATUS_INTERVAL_DEFAULT_MS 10000
/* Session settings whose text output every server parses back. */
#define CAPTURE_SESSION_OPTIONS \
	"-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3"

enum capture_stream_state
{
	CAPTURE_ST_IDLE = 0,
	CAPTURE_ST_CONNECTING,
	CAPTURE_ST_CHECK_PUBLICATION,
	CAPTURE_ST_CREATE_PUBLICATION,
	CAPTURE_ST_CHECK_SLOT,
	CAPTURE_ST_CREATE_SLOT,
	CAPTURE_ST_START,
	CAPTURE_ST_STREAMING,
	CAPTURE_ST_FAILED,
};
#define CAPTURE_ST_COUNT (CAPTURE_ST_FAILED + 1)

struct capture_stream_config
{
	const char *conninfo;		/* libpq connection string to one database */
	const char *dbname;			/* written into entries; NULL: the server's */
	const char *slot_name;		/* [a-z0-9_], 1..CAPTURE_IDENT_MAX */
	const char *publication;	/* [a-z0-9_], 1..CAPTURE_IDENT_MAX */
	uint64_t	origin_node;
	const char *gid_prefix;		/* NULL: CAPTURE_GID_PREFIX */
	size_t		chunk_bytes;	/* 0: TXN_CHUNK_TARGET_BYTES */
	size_t		max_entry_bytes;	/* 0: 64 MiB */
	uint32_t	max_backlog_chunks; /* 0: default */
	uint64_t	max_backlog_bytes;	/* 0: default */
	uint32_t	status_interval_ms; /* 0: default */
};

struct capture_stream_stats
{
	enum capture_stream_state state;
	uint64_t	received_lsn;	/* last position received */
	uint64_t	flushed_lsn;	/* last flush position sent to the server */
	uint64_t	confirmed_lsn;	/* last capture_confirm */
	uint64_t	unconfirmed_bytes;	/* received_lsn - flushed_lsn */
	uint32_t	backlog_chunks; /* delivered, not confirmed */
	uint64_t	backlog_bytes;
	bool		paused;			/* reading stopped by back-pressure */
	int64_t		decode_lag_ms;	/* last PREPARE: delivery time - PREPARE time */
	uint64_t	messages;
	struct capture_asm_stats txns;
};

struct capture_stream;

typedef void (*capture_stream_chunk_fn) (void *arg, const struct capture_chunk *chunk);
typedef void (*capture_stream_error_fn) (void *arg, const char *message);

/* Returns NULL when a name is invalid or memory runs out. */
struct capture_stream *capture_stream_new(struct ev_loop *loop,
										  const struct capture_stream_config *cfg,
										  capture_stream_chunk_fn on_chunk,
										  capture_stream_error_fn on_error, void *arg);
/* Start connecting.  Returns 0, or -1 when libpq cannot even start. */
int			capture_stream_start(struct capture_stream *cs);
/*
 * Every chunk with an id <= chunk_id is persisted in our log.  Releases
 * back-pressure, moves the slot past the transactions whose final chunk
 * is among them, and sends a status update on this loop iteration.
 */
void		capture_confirm(struct capture_stream *cs, uint64_t chunk_id);
void		capture_stream_stats(const struct capture_stream *cs,
								 struct capture_stream_stats *out);
const char *capture_stream_state_name(enum capture_stream_state st);
void		capture_stream_free(struct capture_stream *cs);

#endif							/* SYNC_CAPTURE_STREAM_H */
