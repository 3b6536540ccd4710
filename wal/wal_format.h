/*
 * wal_format.h
 *	  On-disk format of the log: segment files, records, hard state.
 *	  Pure encode/decode, no I/O (wal_format.c); the fuzz target covers it.
 *
 * INTERFACE ROUTINES
 *	wal_seg_header_encode / wal_seg_header_decode
 *	wal_record_size		- bytes a record of a given payload length takes
 *	wal_record_encode / wal_record_decode
 *	wal_hardstate_encode / wal_hardstate_decode
 *	wal_segment_name / wal_segment_name_parse
 *	wal_format_result_str
 *
 * All integers are little-endian.  CRC is CRC-32C (common/pgq_crc32c.h).
 *
 * SEGMENT FILE  "<first index, %020llu>.seg", preallocated and zero-filled
 * to the configured segment size (default 64 MiB; larger only when one
 * record needs more):
 *
 *	  off  size  field
 *	    0     4  magic        0x57514750 ("PGQW" in the file)
 *	    4     2  version      1
 *	    6     2  header size  32
 *	    8     8  first index  must equal the index in the file name
 *	   16     8  segment size the configured size when created (informational)
 *	   24     4  reserved     0
 *	   28     4  CRC-32C of bytes 0..27
 *	   32     .  records, back to back, then zero bytes to the end of file
 *
 * RECORD (starts at an 8-byte aligned offset; size = align8(28 + length)):
 *
 *	  off       size  field
 *	    0          8  index    >= 1; the first record of a segment holds the
 *	                           segment's first index, each next one +1
 *	    8          8  term
 *	   16          4  type     opaque to the wal (the consensus layer's)
 *	   20          4  length   payload length, <= max payload (configured,
 *	                           default 64 MiB, never above WAL_FORMAT_MAX_PAYLOAD)
 *	   24     length  payload
 *	   24+len      4  CRC-32C of bytes 0 .. 24+len-1 (header and payload)
 *	   28+len    0-7  zero padding to the next multiple of 8
 *
 * A record is VALID when: the whole aligned record lies inside the buffer,
 * index >= 1, length <= max payload, the CRC matches and the padding is
 * zero.  Zero bytes never form a valid record (index 0).
 *
 * HARD STATE file "hardstate" (replaced atomically: write "hardstate.tmp",
 * fsync, rename, fsync the directory):
 *
 *	    0     4  magic        0x48514750 ("PGQH")
 *	    4     2  version      1
 *	    6     2  member count <= WAL_MAX_MEMBERS
 *	    8     8  current term
 *	   16     8  voted for    node id, 0 = none
 *	   24   272  member[i]: id u64, flags u32 (bit 0 voter), reserved u32 (0),
 *	             peer address char[128], client address char[128] (each
 *	             NUL-terminated, zero-padded)
 *	  24+272n 4  aux length   <= WAL_HS_AUX_MAX
 *	  28+272n a  aux          bytes the consensus layer owns (its membership
 *	                          history, encoded by sync/sync_node.c)
 *	  28+272n+a 4 CRC-32C of all preceding bytes
 * The file must be exactly 32 + 272 * count + aux length bytes.
 *
 * SPARE SEGMENT "spare.seg.tmp" (WAL_SPARE_NAME): the next segment,
 * prepared ahead of time (preallocated, zero-filled, fdatasync'ed, with the
 * directory fsynced) while the log runs.  It is all zeros, header included,
 * until a roll writes the header, fdatasyncs it and renames it to
 * "<first index>.seg".  Its name never parses as a segment name; it is
 * never part of the log.
 *
 * RECOVERY (wal_open): segments are sorted by first index; "*.tmp" files
 * of segments (an unfinished segment creation, or the spare: "*.seg.tmp")
 * are removed; "hardstate.tmp" (an unfinished hard-state write) is never
 * read and is truncated by the next save.  Each
 * segment's header must be valid and match its name.  Records are decoded
 * from offset 32 while they are valid and carry the expected next index.
 *	- Not the last segment: decoding must reach exactly the next segment's
 *	  first index - 1.  Anything else (bad record, gap) is corruption: open
 *	  fails naming the file and offset.  (A segment is fdatasync'ed before
 *	  the next one is created, so a crash cannot leave it short.)
 *	- The last segment: where decoding stops, the rest of the file is
 *	  searched (every 8-byte aligned offset) for a valid record with a
 *	  higher index.  If one exists, a bad record is followed by good ones:
 *	  corruption in the middle, open fails naming file and offsets; nothing
 *	  is dropped silently.  Otherwise the rest is a torn write (a crash
 *	  mid-write) or the zero-filled preallocated tail: any non-zero bytes
 *	  are zeroed (and fdatasync'ed) and the cut is logged with file, offset
 *	  and byte count.  The invariant "after the last valid record of the
 *	  last segment the file is all zeros" also holds after a truncation,
 *	  which zeroes the bytes of the removed records.
 * Caveat: on power loss a filesystem may persist the pages of one
 * unsynced write out of order, leaving a hole followed by valid records of
 * entries never reported persisted; recovery then refuses to open rather
 * than guess (fail-safe), and the operator removes the tail by hand.
 */
#ifndef WAL_FORMAT_H
#define WAL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WAL_SEG_MAGIC			0x57514750u
#define WAL_SEG_VERSION			1
#define WAL_SEG_HEADER_SIZE		32
#define WAL_RECORD_HEADER_SIZE	24
#define WAL_RECORD_TRAILER_SIZE 4
#define WAL_RECORD_ALIGN		8
/* Hard upper bound for the configurable max payload (1 GiB). */
#define WAL_FORMAT_MAX_PAYLOAD	(UINT32_C(1) << 30)

#define WAL_HS_MAGIC			0x48514750u
#define WAL_HS_VERSION			1
#define WAL_HS_HEADER_SIZE		24
#define WAL_MAX_MEMBERS			16
#define WAL_ADDR_MAX			128		/* including the NUL */
#define WAL_HS_MEMBER_SIZE		(16 + 2 * WAL_ADDR_MAX)
#define WAL_HS_AUX_MAX			1024
#define WAL_HS_MAX_SIZE \
	(WAL_HS_HEADER_SIZE + WAL_MAX_MEMBERS * WAL_HS_MEMBER_SIZE + 4 + WAL_HS_AUX_MAX + 4)

#define WAL_SEG_NAME_LEN		24		/* 20 digits + ".seg" */
/* The prepared next segment; ".seg.tmp": removed by recovery, never parsed
 * as a segment (see SPARE SEGMENT above). */
#define WAL_SPARE_NAME			"spare.seg.tmp"

/* Why a decode failed; WAL_FMT_OK on success. */
#define WAL_FORMAT_RESULTS(X) \
	X(WAL_FMT_OK, "ok") \
	X(WAL_FMT_SHORT, "truncated (extends past the end of the data)") \
	X(WAL_FMT_BAD_MAGIC, "bad magic number") \
	X(WAL_FMT_BAD_VERSION, "unsupported format version") \
	X(WAL_FMT_BAD_LENGTH, "length out of bounds") \
	X(WAL_FMT_BAD_INDEX, "index is zero") \
	X(WAL_FMT_BAD_CRC, "checksum mismatch") \
	X(WAL_FMT_BAD_PADDING, "non-zero padding or reserved field") \
	X(WAL_FMT_BAD_FIELD, "field value out of range")

enum wal_format_result
{
#define X(code, msg) code,
	WAL_FORMAT_RESULTS(X)
#undef X
};

struct wal_seg_header
{
	uint64_t	first_index;
	uint64_t	segment_size;
};

/* A decoded record; payload points INTO the decoded buffer (borrowed). */
struct wal_record
{
	uint64_t	index;
	uint64_t	term;
	uint32_t	type;
	uint32_t	length;
	const uint8_t *payload;
};

/* One cluster member.  Addresses are "host:port" strings. */
struct wal_member
{
	uint64_t	id;
	bool		voter;			/* false: learner (non-voting) */
	char		peer_addr[WAL_ADDR_MAX];
	char		client_addr[WAL_ADDR_MAX];
};

/* Durable state of the consensus layer. */
struct wal_hardstate
{
	uint64_t	term;
	uint64_t	vote;			/* node id voted for in term; 0 = none */
	uint32_t	n_members;
	struct wal_member members[WAL_MAX_MEMBERS];
	uint32_t	aux_len;		/* <= WAL_HS_AUX_MAX */
	uint8_t		aux[WAL_HS_AUX_MAX];	/* opaque to the wal */
};

_Static_assert(WAL_SEG_HEADER_SIZE == 4 + 2 + 2 + 8 + 8 + 4 + 4,
			   "segment header layout");
_Static_assert(WAL_RECORD_HEADER_SIZE == 8 + 8 + 4 + 4, "record header layout");
_Static_assert(WAL_SEG_HEADER_SIZE % WAL_RECORD_ALIGN == 0,
			   "records start aligned");
_Static_assert(WAL_HS_MEMBER_SIZE == 272, "hard state member layout");
_Static_assert(WAL_HS_HEADER_SIZE == 4 + 2 + 2 + 8 + 8, "hard state layout");

/* buf must hold WAL_SEG_HEADER_SIZE bytes. */
void		wal_seg_header_encode(const struct wal_seg_header *h, uint8_t *buf);
enum wal_format_result wal_seg_header_decode(const uint8_t *buf, size_t len,
											 struct wal_seg_header *h);

static inline size_t
wal_record_size(uint32_t payload_len)
{
	size_t		n = (size_t) WAL_RECORD_HEADER_SIZE + payload_len +
		WAL_RECORD_TRAILER_SIZE;

	return (n + WAL_RECORD_ALIGN - 1) & ~(size_t) (WAL_RECORD_ALIGN - 1);
}

/*
 * Writes wal_record_size(rec->length) bytes (padding included) to buf,
 * which must be that large.  Returns the number of bytes written.
 */
size_t		wal_record_encode(const struct wal_record *rec, uint8_t *buf);

/*
 * Decodes one record at buf (len bytes available).  Never reads past
 * buf + len.  On WAL_FMT_OK fills *rec (payload borrowed from buf) and
 * *size with the aligned record size.
 */
enum wal_format_result wal_record_decode(const uint8_t *buf, size_t len,
										 uint32_t max_payload,
										 struct wal_record *rec, size_t *size);

/* Returns the encoded size (<= WAL_HS_MAX_SIZE); buf holds WAL_HS_MAX_SIZE. */
size_t		wal_hardstate_encode(const struct wal_hardstate *hs, uint8_t *buf);
enum wal_format_result wal_hardstate_decode(const uint8_t *buf, size_t len,
											struct wal_hardstate *hs);

/* buf holds WAL_SEG_NAME_LEN + 1 bytes. */
void		wal_segment_name(uint64_t first_index, char *buf);
/* True when name is exactly 20 digits + ".seg"; sets *first_index. */
bool		wal_segment_name_parse(const char *name, uint64_t *first_index);

const char *wal_format_result_str(enum wal_format_result r);

#endif							/* WAL_FORMAT_H */
