/*
 * txn_codec.h
 *	  The payload of a log entry that carries captured writes: a chunk of a
 *	  prepared transaction, a statement that cannot run in a transaction
 *	  block, sequence positions, or the abort of a partly logged
 *	  transaction.  Pure: no I/O, no libpq.  The log (wal/) and the peer
 *	  transport carry these bytes opaquely inside SYNC_ENTRY_NORMAL
 *	  entries; their frames hold the checksum, so this format has none.
 *
 * INTERFACE ROUTINES
 *	txn_writer_init/reset/free	- build one transaction chunk incrementally
 *	txn_writer_add_relation		- add relation metadata, returns its index
 *	txn_writer_add_change		- add a row change, TRUNCATE or DDL
 *	txn_writer_size				- bytes the chunk would take so far
 *	txn_writer_finish			- write header + relations + changes
 *	txn_change_encoded_size		- exact bytes txn_writer_add_change adds
 *	txn_relation_encoded_size	- exact bytes txn_writer_add_relation adds
 *	txn_entry_encode			- encode a decoded/constructed entry (any kind)
 *	txn_entry_decode			- validate everything, return an owned entry
 *	txn_entry_free				- release a decoded entry
 *	txn_change_iter_init/next	- walk the (validated) changes of a chunk
 *	txn_change_trunc_rel		- i-th relation index of a TRUNCATE change
 *	txn_gid_format				- the gid of a transaction prepared by a node
 *	txn_gid_parse				- node and term of a gid of that form
 *
 * FORMAT (version 1).  Big-endian.  str16 = u16 length + bytes (no NUL);
 * str32 = u32 length + bytes.
 *
 *	Header, every kind:
 *	   0  u8	 version (TXN_FORMAT_VERSION)
 *	   1  u8	 kind (enum txn_entry_kind)
 *	   2  u16	 flags: CHUNK: TXN_FLAG_FINAL; other kinds: 0
 *	   4  u32	 chunk_seq: CHUNK: 0, 1, 2 ... within the gid; others: 0
 *	   8  u64	 origin_node: the node that captured it
 *	  16  str16	 dbname			(1..TXN_NAME_MAX)
 *	   .  str16	 gid			(CHUNK, ABORT: 1..TXN_NAME_MAX; others: empty)
 *	   .  str16	 txn_id			(CHUNK final: 1..; CHUNK not final, ABORT,
 *								 SEQUENCES: empty; STATEMENT: may be empty)
 *	Body of a CHUNK:
 *		  u64	 lsn: end LSN of the prepared transaction (same in every chunk)
 *		  u32	 n_relations (<= TXN_MAX_RELATIONS)
 *		  u32	 n_changes (>= 1; 0 only in a final chunk: a transaction
 *				 that prepared without a row change or DDL)
 *		  relations, each:
 *			u32 relid (the primary's oid; informative only)
 *			u8	replident ('d', 'n', 'f', 'i')
 *			str16 schema, str16 name (1..TXN_NAME_MAX each)
 *			u16 ncols (1..TXN_MAX_COLS), then per column:
 *			  u8 flags (TXN_COL_KEY), str16 name, u32 type oid, i32 typmod
 *		  changes, each: u8 kind, then
 *			'I' u32 relidx, tuple new
 *			'U' u32 relidx, u8 old_kind (0, 'K' or 'O'), [tuple old], tuple new
 *			'D' u32 relidx, u8 old_kind ('K' or 'O'), tuple old
 *			'T' u8 options (TXN_TRUNC_*), u32 n (>= 1), n x u32 relidx
 *			'X' str32 DDL text (1..TXN_SQL_MAX)
 *		  tuple: u16 ncols (== the relation's ncols), per column u8 kind:
 *			'n' null, 'u' unchanged TOASTed value, 't' text / 'b' binary
 *			followed by str32 value (<= TXN_VALUE_MAX)
 *	Body of a STATEMENT:  str32 sql (1..TXN_SQL_MAX), str16 role (0..
 *						  TXN_NAME_MAX: the role it runs as; empty: the
 *						  applier's own)
 *	Body of SEQUENCES:	  u32 n (>= 1), each: str16 schema, str16 name,
 *						  i64 last_value
 *	Body of an ABORT:	  nothing
 *
 * An entry is valid when the version and kind are known, flags hold only
 * bits defined for the kind, every length is within its bound and inside
 * the entry, every relidx is < n_relations, every tuple has as many columns
 * as its relation, an 'I' has no unchanged-TOAST value, and the bytes are
 * consumed exactly.
 *
 * Chunks: the capture cuts a transaction into chunks of about
 * TXN_CHUNK_TARGET_BYTES; all chunks of one transaction carry the same gid,
 * with chunk_seq 0, 1, 2 ... and the last one TXN_FLAG_FINAL and the txn
 * id.  Each chunk carries the metadata of every relation its changes use,
 * so it can be applied on its own.  See docs/capture.md for reassembly.
 *
 * OWNERSHIP: a decoded entry borrows the bytes it was decoded from (every
 * txn_str, value and the changes section point into them) and owns its
 * relation and sequence arrays (txn_entry_free).
 */
#ifndef SYNC_TXN_CODEC_H
#define SYNC_TXN_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/pgq_buf.h"

#define TXN_FORMAT_VERSION		1
#define TXN_HEADER_FIXED_SIZE	16
#define TXN_HEADER_MAX_SIZE		(TXN_HEADER_FIXED_SIZE + 3 * (2 + TXN_NAME_MAX))
#define TXN_CHUNK_BODY_FIXED	16		/* lsn, n_relations, n_changes */
#define TXN_MAX_COLS			1664	/* PostgreSQL MaxTupleAttributeNumber */
#define TXN_NAME_MAX			255		/* identifiers, gid, txn id, dbname */
#define TXN_MAX_RELATIONS		65535	/* per chunk */
#define TXN_VALUE_MAX			(UINT32_C(1) << 30) /* PostgreSQL's varlena max */
#define TXN_SQL_MAX				(UINT32_C(1) << 30)
#define TXN_ENTRY_MAX_BYTES		(UINT32_C(1) << 30)
#define TXN_CHUNK_TARGET_BYTES	(UINT32_C(4) << 20) /* cut chunks near this */

enum txn_entry_kind
{
	TXN_KIND_CHUNK = 1,			/* (part of) a prepared transaction */
	TXN_KIND_STATEMENT = 2,		/* runs outside a transaction block */
	TXN_KIND_SEQUENCES = 3,		/* sequence positions */
	TXN_KIND_ABORT = 4,			/* discard the chunks logged for gid */
};

#define TXN_FLAG_FINAL		0x0001	/* CHUNK: the last chunk of its gid */

enum txn_value_kind
{
	TXN_VAL_NULL = 'n',
	TXN_VAL_UNCHANGED = 'u',	/* unchanged TOASTed value: not sent */
	TXN_VAL_TEXT = 't',
	TXN_VAL_BINARY = 'b',
};

enum txn_change_kind
{
	TXN_CH_INSERT = 'I',
	TXN_CH_UPDATE = 'U',
	TXN_CH_DELETE = 'D',
	TXN_CH_TRUNCATE = 'T',
	TXN_CH_DDL = 'X',
};

#define TXN_OLD_NONE		0
#define TXN_OLD_KEY			'K'		/* key columns set, others null */
#define TXN_OLD_FULL		'O'		/* REPLICA IDENTITY FULL: every column */

#define TXN_COL_KEY			0x01	/* part of the replica identity */
#define TXN_TRUNC_CASCADE	0x01
#define TXN_TRUNC_RESTART	0x02	/* RESTART IDENTITY */

/* Bytes that are not NUL-terminated. */
struct txn_str
{
	const char *p;
	uint32_t	len;
};

struct txn_value
{
	uint8_t		kind;			/* enum txn_value_kind */
	uint32_t	len;			/* 't', 'b' only */
	const uint8_t *data;		/* 't', 'b' only; not NUL-terminated */
};

/* About 27 KB: keep it off small stacks. */
struct txn_tuple
{
	uint16_t	ncols;
	struct txn_value vals[TXN_MAX_COLS];
};

struct txn_column
{
	uint8_t		flags;			/* TXN_COL_KEY */
	struct txn_str name;
	uint32_t	typoid;
	int32_t		typmod;
};

struct txn_relation
{
	uint32_t	relid;
	uint8_t		replident;		/* 'd' default, 'n' nothing, 'f' full, 'i' index */
	struct txn_str schema;
	struct txn_str name;
	uint16_t	ncols;
	struct txn_column *cols;
};

/* One change.  Which fields are used depends on kind (see FORMAT). */
struct txn_change
{
	uint8_t		kind;			/* enum txn_change_kind */
	uint32_t	relidx;			/* I, U, D: index into the chunk's relations */
	uint8_t		old_kind;		/* U, D: TXN_OLD_* */
	uint8_t		trunc_options;	/* T */
	uint32_t	trunc_n;		/* T */
	const uint8_t *trunc_rels;	/* T: trunc_n big-endian u32 relidx */
	struct txn_str ddl;			/* X */
	const struct txn_tuple *old_tuple;	/* U (old_kind != 0), D */
	const struct txn_tuple *new_tuple;	/* I, U */
};

struct txn_sequence
{
	struct txn_str schema;
	struct txn_str name;
	int64_t		last_value;
};

struct txn_entry
{
	uint8_t		kind;			/* enum txn_entry_kind */
	uint16_t	flags;
	uint32_t	chunk_seq;
	uint64_t	origin_node;
	struct txn_str dbname;
	struct txn_str gid;
	struct txn_str txn_id;
	/* CHUNK */
	uint64_t	lsn;
	uint32_t	n_relations;
	struct txn_relation *relations;
	uint32_t	n_changes;
	const uint8_t *changes;		/* the encoded changes section */
	size_t		changes_len;
	/* STATEMENT */
	struct txn_str sql;
	struct txn_str role;		/* may be empty */
	/* SEQUENCES */
	uint32_t	n_sequences;
	struct txn_sequence *sequences;
	/* owned allocation of a decoded entry (NULL when built by a caller) */
	void	   *mem;
};

/* Builds the relations and changes of one chunk; owns its buffers. */
struct txn_writer
{
	struct pgq_buf rels;
	struct pgq_buf changes;
	uint32_t	n_relations;
	uint32_t	n_changes;
	size_t		max_bytes;		/* whole entry, <= TXN_ENTRY_MAX_BYTES */
};

void		txn_writer_init(struct txn_writer *w, size_t max_bytes);
void		txn_writer_reset(struct txn_writer *w);
void		txn_writer_free(struct txn_writer *w);
/* Returns false when the chunk would pass max_bytes or TXN_MAX_RELATIONS. */
bool		txn_writer_add_relation(struct txn_writer *w, const struct txn_relation *rel);
/* The change must be valid (asserted); false when max_bytes would pass. */
bool		txn_writer_add_change(struct txn_writer *w, const struct txn_change *c);
/* Bytes of relations and changes so far (the header is not counted). */
size_t		txn_writer_size(const struct txn_writer *w);
/*
 * Append the whole entry to out: header fields from hdr (kind CHUNK), then
 * the writer's relations and changes.  False when out's cap is reached.
 */
bool		txn_writer_finish(const struct txn_writer *w, const struct txn_entry *hdr,
							  struct pgq_buf *out);
size_t		txn_change_encoded_size(const struct txn_change *c);
size_t		txn_relation_encoded_size(const struct txn_relation *rel);
/* Append the encoding of one change (as in the changes section) to out. */
bool		txn_change_encode(const struct txn_change *c, struct pgq_buf *out);
size_t		txn_header_encoded_size(const struct txn_entry *e);

/*
 * Append e to out.  CHUNK: relations from e->relations, changes copied
 * from e->changes.  False when out's cap is reached.
 */
bool		txn_entry_encode(const struct txn_entry *e, struct pgq_buf *out);

/*
 * Validate buf entirely and return an entry (owned, borrowing buf) in
 * *out.  Returns NULL, or a static message naming what is wrong (then *out
 * is NULL).  Out of memory is reported as an error too.
 */
const char *txn_entry_decode(const uint8_t *buf, size_t len, struct txn_entry **out);
void		txn_entry_free(struct txn_entry *e);

/*
 * Gids of the transactions a primary prepares: "pgq_<node>_<term>_<n>",
 * all decimal, where term is the term in which the node was primary when
 * it prepared the transaction and n counts within the process.  A node is
 * primary at most once in a term (terms never repeat, also across
 * restarts), so a gid is unique for the life of the cluster, and the term
 * says which entries of the log can carry it: its chunks are logged only
 * in that term (sync/commit.c), which is what lets an applier decide that
 * a prepared transaction can never commit (sync/applier.h).
 */
#define TXN_GID_PREFIX "pgq_"
#define TXN_GID_MAX 80

/* Writes the gid into buf (TXN_GID_MAX bytes); returns its length. */
int			txn_gid_format(char *buf, size_t len, uint64_t node, uint64_t term, uint64_t n);
/*
 * true when gid has exactly the form above (no sign, no leading zero,
 * each number fits in 64 bits); fills *node and *term.  gid need not be
 * NUL-terminated: len bytes.
 */
bool		txn_gid_parse(const char *gid, size_t len, uint64_t *node, uint64_t *term);

/* About 54 KB (the tuples of the current change): keep it off small stacks. */
struct txn_change_iter
{
	const struct txn_entry *entry;
	const uint8_t *p;
	const uint8_t *end;
	uint32_t	left;
	struct txn_tuple old_buf;
	struct txn_tuple new_buf;
};

void		txn_change_iter_init(struct txn_change_iter *it, const struct txn_entry *e);
/*
 * Fill *c with the next change (pointers borrow the entry's bytes and the
 * iterator's tuple buffers, until the next call).
 * Returns 1, 0 at the end, or -1 when the bytes are invalid (only for an
 * entry that txn_entry_decode did not validate); *err names why.
 */
int			txn_change_next(struct txn_change_iter *it, struct txn_change *c,
							const char **err);
uint32_t	txn_change_trunc_rel(const struct txn_change *c, uint32_t i);
const char *txn_entry_kind_name(uint8_t kind);

#endif							/* SYNC_TXN_CODEC_H */
