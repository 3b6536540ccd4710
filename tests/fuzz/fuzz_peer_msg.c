/*
 * fuzz_peer_msg.c
 *	  libFuzzer target: the replication message decoder takes arbitrary
 *	  bytes from an authenticated peer.  It may not read out of bounds, and
 *	  a message it accepts must re-encode to exactly the same bytes.
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
	struct sync_msg msg;
	uint8_t    *out;

	if (sync_msg_decode(data, size, &msg, entries, 64) != NULL)
		return 0;
	PGQ_ASSERT(sync_msg_encoded_size(&msg) == size);
	out = malloc(size);
	sync_msg_encode(&msg, out);
	PGQ_ASSERT(memcmp(out, data, size) == 0);
	free(out);
	return 0;
}
