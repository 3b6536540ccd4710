/*
 * fuzz_peer_frame.c
 *	  libFuzzer target: the peer frame decoder and the handshake decoder
 *	  take arbitrary bytes from the network.  Neither may read out of
 *	  bounds, and a frame they accept must re-encode to the same bytes.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "sync/peer_frame.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		off = 0;

	while (off < size)
	{
		struct sync_frame frame;
		struct sync_hello hello;
		size_t		used;
		uint8_t    *copy;

		if (sync_frame_decode(data + off, size - off, 1 << 16, &frame, &used) != SYNC_FRAME_OK)
			break;
		PGQ_ASSERT(used >= SYNC_FRAME_PREFIX_SIZE && used <= size - off);
		copy = malloc(used);
		memcpy(copy, data + off, SYNC_FRAME_PREFIX_SIZE);
		memcpy(copy + SYNC_FRAME_PREFIX_SIZE, frame.payload, frame.payload_len);
		sync_frame_finish(copy, frame.payload_len);
		PGQ_ASSERT(memcmp(copy, data + off, used) == 0);
		free(copy);
		if (sync_hello_decode(frame.payload, frame.payload_len, frame.type == SYNC_FRAME_AUTH, &hello) == 0)
		{
			uint8_t		out[160];

			PGQ_ASSERT(sync_hello_encode(&hello, frame.type == SYNC_FRAME_AUTH, out) == frame.payload_len);
			PGQ_ASSERT(memcmp(out, frame.payload, frame.payload_len) == 0);
		}
		off += used;
	}
	return 0;
}
