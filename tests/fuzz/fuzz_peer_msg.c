/*
 * fuzz_peer_msg.c
 *	  libFuzzer target: the replication message decoder takes arbitrary
 *	  bytes from an authenticated peer.  It may not read out of bounds, and
 *	  a message it accepts must re-encode to bytes that decode to the same
 *	  message and extension fields (unknown extension fields are dropped on
 *	  the way, so the bytes themselves may differ).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "sync/peer_codec.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sync_entry entries[64];
	static struct sync_entry again_entries[64];
	struct sync_msg msg;
	struct sync_msg again;
	struct sync_msg_ext ext;
	struct sync_msg_ext again_ext;
	size_t		n;
	uint8_t    *out;

	if (sync_msg_decode_ext(data, size, &msg, &ext, entries, 64) != NULL)
		return 0;
	n = sync_msg_encoded_size_ext(&msg, &ext);
	PGQ_ASSERT(n <= size);
	out = malloc(n);
	sync_msg_encode_ext(&msg, &ext, out);
	PGQ_ASSERT(sync_msg_decode_ext(out, n, &again, &again_ext, again_entries, 64) == NULL);
	PGQ_ASSERT(again.type == msg.type && again.flags == msg.flags &&
			   again.from == msg.from && again.to == msg.to &&
			   again.term == msg.term && again.index == msg.index &&
			   again.log_term == msg.log_term && again.commit == msg.commit &&
			   again.hint_index == msg.hint_index && again.n_entries == msg.n_entries &&
			   again.round == msg.round);
	for (uint32_t i = 0; i < msg.n_entries; i++)
		PGQ_ASSERT(again.entries[i].len == msg.entries[i].len &&
				   memcmp(again.entries[i].payload, msg.entries[i].payload,
						  msg.entries[i].len) == 0);
	PGQ_ASSERT(again_ext.has_applied == ext.has_applied && again_ext.applied == ext.applied &&
			   again_ext.has_floor == ext.has_floor && again_ext.floor == ext.floor &&
			   again_ext.source_len == ext.source_len &&
			   (ext.source == NULL) == (again_ext.source == NULL) &&
			   (ext.source == NULL || memcmp(ext.source, again_ext.source, ext.source_len) == 0));
	free(out);
	return 0;
}
