/*
 * capture_assemble.h
 *	  Turns the decoded pgoutput stream of one database into log entries:
 *	  each prepared transaction of ours becomes one or more TXN_KIND_CHUNK
 *	  entries (txn_codec.h).  Pure: no I/O, no clock.
 *
 * INTERFACE ROUTINES
 *	capture_asm_new		- create, with bounds and the chunk callback
 *	capture_asm_feed	- feed one decoded message, in stream order
 *	capture_asm_reset	- forget the open transaction (after a reconnect)
 *	capture_asm_idle	- is no transaction open?
 *	capture_asm_stats	- counters
 *	capture_asm_free
 *
 * Rules:
 *	- A transaction is ours when it is prepared (BeginPrepare ... Prepare)
 *	  with a gid starting with cfg.gid_prefix, carries no Origin message,
 *	  and carries one transactional 'pgquorum' message whose content is the
 *	  txn id (1..TXN_NAME_MAX bytes).  A prepared transaction of ours
 *	  without that message is an error (the proxy always emits it).
 *	- Transactions with an Origin message were applied by an applier: they
 *	  are skipped whole (PostgreSQL 15 pgoutput cannot filter them).
 *	  Prepared transactions with another gid, and plain (Begin ... Commit)
 *	  transactions without an origin, are not ours: skipped and counted;
 *	  plain ones that wrote rows are counted as unreplicated writes.
 *	- Row changes and transactional 'pgquorum.ddl' messages become changes
 *	  in stream order.  Other messages are ignored.
 *	- Chunks: a chunk is emitted when adding the next change would take it
 *	  past cfg.chunk_bytes; the Prepare emits the last one, marked final,
 *	  with the txn id.  A change larger than cfg.max_entry_bytes cannot be
 *	  logged: capture_asm_feed fails naming the gid.
 *	- Relation metadata is cached by relid across transactions (pgoutput
 *	  sends a Relation message once per session and after a change); each
 *	  chunk carries the relations its changes use.
 *
 * OWNERSHIP: messages are borrowed for the call.  A chunk passed to the
 * callback is borrowed until the callback returns.
 */
#ifndef SYNC_CAPTURE_ASSEMBLE_H
#define SYNC_CAPTURE_ASSEMBLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sync/capture_pgoutput.h"

#define CAPTURE_MSG_PREFIX		"pgquorum"		/* content: txn id */
#define CAPTURE_DDL_PREFIX		"pgquorum.ddl"	/* content: DDL text */
#define CAPTURE_GID_PREFIX		"pgq_"
#define CAPTURE_MAX_RELATIONS_DEFAULT 100000	/* relation cache bound */

struct capture_asm_config
{
	uint64_t	origin_node;	/* our node id, written into each entry */
	const char *dbname;			/* copied */
	const char *gid_prefix;		/* copied; NULL: CAPTURE_GID_PREFIX */
	size_t		chunk_bytes;	/* 0: TXN_CHUNK_TARGET_BYTES */
	size_t		max_entry_bytes;	/* 0: 64 MiB; <= TXN_ENTRY_MAX_BYTES */
	uint32_t	max_relations;	/* 0: CAPTURE_MAX_RELATIONS_DEFAULT */
};

/* One log entry produced by the assembler. */
struct capture_chunk
{
	uint64_t	id;				/* set by capture_stream (1, 2, ...); 0 here */
	const uint8_t *data;		/* the encoded entry (txn_codec.h) */
	size_t		len;
	const char *gid;			/* NUL-terminated */
	const char *txn_id;			/* NUL-terminated; "" unless final */
	uint32_t	seq;
	bool		final;
	uint32_t	n_changes;
	uint64_t	lsn;			/* final: end LSN of the PREPARE (confirm it) */
	int64_t		prepare_ts;		/* final: PREPARE time, us since 2000-01-01 */
};

struct capture_asm_stats
{
	uint64_t	txns;			/* prepared transactions of ours delivered */
	uint64_t	chunks;
	uint64_t	changes;
	uint64_t	skipped_origin; /* applied by an applier */
	uint64_t	skipped_foreign;	/* prepared with another gid */
	uint64_t	plain_commits;	/* Begin ... Commit without origin */
	uint64_t	unreplicated_writes;	/* rows in those plain commits */
	uint64_t	commit_prepared;
	uint64_t	rollback_prepared;
	uint32_t	relations_cached;
};

typedef void (*capture_asm_chunk_fn) (void *arg, const struct capture_chunk *chunk);

struct capture_asm;

/* Returns NULL on out-of-memory.  cfg is copied. */
struct capture_asm *capture_asm_new(const struct capture_asm_config *cfg,
									capture_asm_chunk_fn on_chunk, void *arg);
void		capture_asm_free(struct capture_asm *a);
/*
 * Feed the next message.  Returns NULL, or a message naming what is wrong
 * (out-of-order message, unknown relation, missing txn id, oversized row,
 * out of memory); after an error the caller must reconnect and call
 * capture_asm_reset.  The message stays valid until the next call.
 */
const char *capture_asm_feed(struct capture_asm *a, const struct capture_pgo_msg *m);
void		capture_asm_reset(struct capture_asm *a);
bool		capture_asm_idle(const struct capture_asm *a);
void		capture_asm_stats(const struct capture_asm *a, struct capture_asm_stats *out);

#endif							/* SYNC_CAPTURE_ASSEMBLE_H */
