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
 *	then, for an APPEND_RESP whose flags have SYNC_FLAG_APPLIED:
 *		u64 applied (the sender's applied index; the admin views show it)
 *
 * A message is valid when its type is known, only APPEND carries entries,
 * n_entries is within the receiver's bound, each entry's type is known,
 * entry indexes run consecutively from index + 1 with terms that never
 * decrease and never exceed the message's term, and the bytes are consumed
 * exactly.
 */
#ifndef SYNC_PEER_CODEC_H
#define SYNC_PEER_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "sync/core/sync_core.h"

#define SYNC_MSG_HEADER_SIZE 68
#define SYNC_ENTRY_HEADER_SIZE 24

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

#endif							/* SYNC_PEER_CODEC_H */
