/*
 * peer_codec.h
 *	  The versioned binary encoding of replication messages (struct
 *	  sync_msg), carried as the payload of SYNC_FRAME_MSG frames.
 *
 * Layout, big-endian (the frame header carries the version):
 *	 0	u32 type	 4	u32 flags	 8	u64 from	16	u64 to
 *	24	u64 term	32	u64 index	40	u64 log_term	48	u64 commit
 *	56	u64 hint_index	64	u32 n_entries
 *	68	entries, each: u64 index, u64 term, u32 type, u32 len, len bytes
 *
 * After the entries a message may carry extension fields, each
 *	u16 tag, u16 len, len bytes
 * up to its end.  They are additive: a receiver skips a tag it does not
 * know (so a newer node may add fields), while a known tag with another
 * length, a tag given twice or a field cut short is an error.  Tags:
 *	1 APPLIED	u64: the sender's applied index (APPEND_RESP); the primary's
 *				compaction floor is the lowest of its members' (and its own)
 *	2 FLOOR		u64: the primary's compaction floor (APPEND): every node may
 *				compact its log below it (docs/design.md, "Compaction")
 *	3 SOURCE	1..1024 bytes, no NUL: a libpq conninfo (REBUILD): the server
 *				to copy with pg_basebackup
 *	4 ROUND		u64, nonzero: sync_msg.round (APPEND, APPEND_RESP only), the
 *				read round of ReadIndex; sent only when nonzero, so a frame
 *				without it means round 0 (sync/core/sync_core.h, READS)
 *
 * Besides the core's types (1..9), the node loops exchange their own
 * messages, which never reach the core (sync/sync_node.c, "Rebuild"):
 *	64 REBUILD	  primary -> member: the entries after your log were compacted;
 *				  index = the lowest index a copy must cover, SOURCE = where
 *	65 REBUILT	  member -> every node: my server holds a copy through index
 *				  (its applied index); the primary resumes replication there
 *	66 TERM		  any node -> member: log_term = the term of entry index, sent
 *				  only by a node whose log holds it at or below its commit
 *
 * A message is valid when its type is known, only APPEND carries entries,
 * only APPEND and APPEND_RESP a round,
 * n_entries is within the receiver's bound, each entry's type is known,
 * entry indexes run consecutively from index + 1 with terms that never
 * decrease and never exceed the message's term, the extension fields are
 * well formed and the bytes are consumed exactly.
 */
#ifndef SYNC_PEER_CODEC_H
#define SYNC_PEER_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sync/core/sync_core.h"

#define SYNC_MSG_HEADER_SIZE 68
#define SYNC_ENTRY_HEADER_SIZE 24

/* The node loops' own message types (see above). */
enum sync_node_msg_type
{
	SYNC_NODE_MSG_REBUILD = 64,
	SYNC_NODE_MSG_REBUILT = 65,
	SYNC_NODE_MSG_TERM = 66,
};

#define SYNC_EXT_APPLIED 1
#define SYNC_EXT_FLOOR 2
#define SYNC_EXT_SOURCE 3
#define SYNC_EXT_ROUND 4
#define SYNC_EXT_SOURCE_MAX 1024

/*
 * Extension fields the node adds (the core's own, ROUND, travels in
 * struct sync_msg); a zero has_ flag or NULL source: absent.
 */
struct sync_msg_ext
{
	bool		has_applied;
	bool		has_floor;
	uint64_t	applied;
	uint64_t	floor;
	const char *source;			/* not NUL-terminated on decode: borrowed
								 * from the buffer, source_len bytes */
	uint32_t	source_len;
};

/* Bytes sync_msg_encode will write for msg. */
size_t		sync_msg_encoded_size(const struct sync_msg *msg);
/* Writes exactly sync_msg_encoded_size(msg) bytes to out. */
void		sync_msg_encode(const struct sync_msg *msg, uint8_t *out);

/*
 * Decode buf into *msg, with its entries in entries[0..max_entries).
 * Entry payloads point into buf (borrowed).  Returns NULL on success, or a
 * message naming what is wrong.
 */
const char *sync_msg_decode(const uint8_t *buf, size_t len, struct sync_msg *msg,
							struct sync_entry *entries, uint32_t max_entries);

/* The same with extension fields (ext may be NULL: none / ignored). */
size_t		sync_msg_encoded_size_ext(const struct sync_msg *msg,
									  const struct sync_msg_ext *ext);
void		sync_msg_encode_ext(const struct sync_msg *msg,
								const struct sync_msg_ext *ext, uint8_t *out);
const char *sync_msg_decode_ext(const uint8_t *buf, size_t len, struct sync_msg *msg,
								struct sync_msg_ext *ext, struct sync_entry *entries,
								uint32_t max_entries);

#endif							/* SYNC_PEER_CODEC_H */
