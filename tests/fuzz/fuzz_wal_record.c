/*
 * fuzz_wal_record.c
 *	  libFuzzer target for the wal's decoders: records, segment headers and
 *	  hard state, on an exact-size copy of the input (so ASan sees any
 *	  read past the end).  A decoded record must re-encode to the same bytes.
 *	  Run: scripts/fuzz --seconds 3600 fuzz_wal_record
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "wal/wal_format.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_records(const uint8_t *buf, size_t size, uint32_t max_payload)
{
	size_t		off = 0;

	while (off < size)
	{
		struct wal_record rec;
		size_t		rs;
		uint8_t    *again;

		if (wal_record_decode(buf + off, size - off, max_payload, &rec, &rs) !=
			WAL_FMT_OK)
		{
			off += WAL_RECORD_ALIGN;
			continue;
		}
		PGQ_ASSERT(rs == wal_record_size(rec.length) && rs <= size - off);
		again = malloc(rs);
		PGQ_ASSERT(wal_record_encode(&rec, again) == rs);
		PGQ_ASSERT(memcmp(again, buf + off, rs) == 0);
		free(again);
		off += rs;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t    *buf = malloc(size ? size : 1);
	struct wal_seg_header h;
	struct wal_hardstate hs;

	memcpy(buf, data, size);
	if (wal_seg_header_decode(buf, size, &h) == WAL_FMT_OK)
		PGQ_ASSERT(h.first_index >= 1);
	fuzz_records(buf, size, 1 << 16);
	if (size > WAL_SEG_HEADER_SIZE)
		fuzz_records(buf + WAL_SEG_HEADER_SIZE, size - WAL_SEG_HEADER_SIZE, 64);
	if (wal_hardstate_decode(buf, size, &hs) == WAL_FMT_OK)
	{
		uint8_t		out[WAL_HS_MAX_SIZE];

		PGQ_ASSERT(hs.n_members <= WAL_MAX_MEMBERS);
		PGQ_ASSERT(wal_hardstate_encode(&hs, out) == size);
		PGQ_ASSERT(memcmp(out, buf, size) == 0);
	}
	free(buf);
	return 0;
}
