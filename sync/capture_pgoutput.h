/*
 * capture_pgoutput.h
 *	  Decoder for the messages of PostgreSQL's pgoutput plugin, logical
 *	  replication protocol version 3 with two_phase and messages on and
 *	  streaming off (the payload of each XLogData message).  Pure: no I/O.
 *
 * INTERFACE ROUTINES
 *	capture_pgo_decode	  - decode one message, strictly
 *	capture_pgo_truncate_relid - i-th relation oid of a Truncate
 *	capture_pgo_type_name - readable name of a message type
 *
 * Layouts (PostgreSQL docs, "Logical Replication Message Formats"; String
 * is NUL-terminated, all integers big-endian):
 *	'B' Begin			 u64 final_lsn, u64 commit_ts, u32 xid
 *	'C' Commit			 u8 flags(0), u64 commit_lsn, u64 end_lsn, u64 commit_ts
 *	'b' BeginPrepare	 u64 prepare_lsn, u64 end_lsn, u64 prepare_ts, u32 xid, String gid
 *	'P' Prepare			 u8 flags(0), u64 prepare_lsn, u64 end_lsn, u64 prepare_ts,
 *						 u32 xid, String gid
 *	'K' CommitPrepared	 u8 flags(0), u64 commit_lsn, u64 end_lsn, u64 commit_ts,
 *						 u32 xid, String gid
 *	'r' RollbackPrepared u8 flags(0), u64 prepare_end_lsn, u64 rollback_end_lsn,
 *						 u64 prepare_ts, u64 rollback_ts, u32 xid, String gid
 *	'O' Origin			 u64 origin_commit_lsn, String name
 *	'M' Message			 u8 flags (1 = transactional), u64 lsn, String prefix,
 *						 u32 len, len bytes
 *	'R' Relation		 u32 relid, String namespace, String name, u8 replident,
 *						 u16 ncols, per column: u8 flags (1 = key),
 *						 String name, u32 type oid, i32 typmod
 *	'Y' Type			 u32 type oid, String namespace, String name
 *	'I' Insert			 u32 relid, 'N', TupleData
 *	'U' Update			 u32 relid, ['K' TupleData | 'O' TupleData], 'N' TupleData
 *	'D' Delete			 u32 relid, 'K' | 'O', TupleData
 *	'T' Truncate		 u32 nrels, u8 options (1 cascade, 2 restart identity),
 *						 nrels x u32 relid
 *	TupleData			 u16 ncols, per column u8 kind: 'n' null,
 *						 'u' unchanged TOAST, 't' text / 'b' binary + u32 len + bytes
 * An empty namespace in Relation/Type means pg_catalog (PostgreSQL writes
 * "" for it); the decoder reports "pg_catalog".
 *
 * A message is accepted when its type is one of these, every String ends
 * inside the message and within its bound, every count and length is
 * within its bound and inside the message, flags hold known bits only, and
 * the message is consumed exactly.  Streaming messages ('S', 'E', 'c', 'A',
 * 'p') are refused: the capture never enables streaming.
 *
 * OWNERSHIP: every pointer in a decoded message borrows the input bytes.
 */
#ifndef SYNC_CAPTURE_PGOUTPUT_H
#define SYNC_CAPTURE_PGOUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "sync/txn_codec.h"

#define CAPTURE_PGO_NAME_MAX	TXN_NAME_MAX	/* identifiers, gid, origin */
#define CAPTURE_PGO_PREFIX_MAX	(UINT32_C(1) << 20)
#define CAPTURE_PGO_MSG_MAX		(UINT32_C(1) << 30)

enum capture_pgo_type
{
	CAPTURE_PGO_BEGIN = 'B',
	CAPTURE_PGO_COMMIT = 'C',
	CAPTURE_PGO_BEGIN_PREPARE = 'b',
	CAPTURE_PGO_PREPARE = 'P',
	CAPTURE_PGO_COMMIT_PREPARED = 'K',
	CAPTURE_PGO_ROLLBACK_PREPARED = 'r',
	CAPTURE_PGO_ORIGIN = 'O',
	CAPTURE_PGO_MESSAGE = 'M',
	CAPTURE_PGO_RELATION = 'R',
	CAPTURE_PGO_TYPE = 'Y',
	CAPTURE_PGO_INSERT = 'I',
	CAPTURE_PGO_UPDATE = 'U',
	CAPTURE_PGO_DELETE = 'D',
	CAPTURE_PGO_TRUNCATE = 'T',
};

#define CAPTURE_PGO_MSG_TRANSACTIONAL	0x01

/*
 * A decoded message.  Large (the relation's columns and two tuples):
 * allocate it once and reuse it.  Field use by type:
 *	B: lsn (final), ts, xid.	C: flags, lsn (commit), end_lsn, ts.
 *	b: lsn (prepare), end_lsn, ts, xid, gid.
 *	P, K: flags, lsn, end_lsn, ts, xid, gid.
 *	r: flags, lsn (prepare end), end_lsn (rollback end), ts (prepare),
 *	   ts2 (rollback), xid, gid.
 *	O: lsn, name.	M: flags, lsn, name (prefix), content, content_len.
 *	R: relid, rel (rel.cols points to cols).	Y: relid (type oid),
 *	   rel.schema, rel.name.
 *	I: relid, new_tuple.	U: relid, old_kind, [old_tuple], new_tuple.
 *	D: relid, old_kind, old_tuple.	T: flags (options), trunc_n, trunc_relids.
 */
struct capture_pgo_msg
{
	uint8_t		type;			/* enum capture_pgo_type */
	uint8_t		flags;
	uint64_t	lsn;
	uint64_t	end_lsn;
	int64_t		ts;				/* microseconds since 2000-01-01 */
	int64_t		ts2;
	uint32_t	xid;
	struct txn_str gid;
	struct txn_str name;
	const uint8_t *content;
	uint32_t	content_len;
	uint32_t	relid;
	struct txn_relation rel;
	uint8_t		old_kind;		/* TXN_OLD_* */
	uint32_t	trunc_n;
	const uint8_t *trunc_relids;
	struct txn_column cols[TXN_MAX_COLS];
	struct txn_tuple old_tuple;
	struct txn_tuple new_tuple;
};

/*
 * Decode one pgoutput message (buf, len) into *msg.  Returns NULL, or a
 * message naming the message type and what is wrong (valid until the next
 * call in the same thread).
 */
const char *capture_pgo_decode(const uint8_t *buf, size_t len, struct capture_pgo_msg *msg);
uint32_t	capture_pgo_truncate_relid(const struct capture_pgo_msg *msg, uint32_t i);
const char *capture_pgo_type_name(uint8_t type);

#endif							/* SYNC_CAPTURE_PGOUTPUT_H */
