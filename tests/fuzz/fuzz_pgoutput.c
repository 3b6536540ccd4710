/*
 * fuzz_pgoutput.c
 *	  libFuzzer target: the pgoutput decoder and the assembler take the
 *	  replication stream of the local server.  The input is a sequence of
 *	  messages, each a big-endian u16 length and that many bytes.  Neither
 *	  may read out of bounds or crash, and every entry the assembler emits
 *	  must be a valid entry (txn_entry_decode accepts it) within its size
 *	  bound.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "common/pgq_bytes.h"
#include "sync/capture_assemble.h"
#include "sync/capture_pgoutput.h"

#define FUZZ_CHUNK_BYTES	4096
#define FUZZ_MAX_ENTRY		65536

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
on_chunk(void *arg, const struct capture_chunk *c)
{
	struct txn_entry *e;

	PGQ_ASSERT(c->len <= FUZZ_MAX_ENTRY);
	PGQ_ASSERT(txn_entry_decode(c->data, c->len, &e) == NULL);
	PGQ_ASSERT(e->chunk_seq == c->seq && ((e->flags & TXN_FLAG_FINAL) != 0) == c->final);
	txn_entry_free(e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct capture_pgo_msg *msg;
	struct capture_asm_config cfg = {.origin_node = 1, .dbname = "fuzz",
	.chunk_bytes = FUZZ_CHUNK_BYTES, .max_entry_bytes = FUZZ_MAX_ENTRY};
	struct capture_asm *a = capture_asm_new(&cfg, on_chunk, NULL);
	struct pgq_reader r;

	if (msg == NULL)
		msg = malloc(sizeof(*msg));
	PGQ_ASSERT(a != NULL && msg != NULL);
	pgq_reader_init(&r, data, size);
	while (pgq_reader_left(&r) >= 2)
	{
		uint16_t	len = pgq_read_u16(&r);
		const uint8_t *p = pgq_read_bytes(&r, len);
		uint8_t    *copy;

		if (p == NULL)
			break;
		copy = malloc(len ? len : 1);	/* exact size, so ASan sees overreads */
		memcpy(copy, p, len);
		if (capture_pgo_decode(copy, len, msg) == NULL &&
			capture_asm_feed(a, msg) != NULL)
			capture_asm_reset(a);
		free(copy);
	}
	capture_asm_free(a);
	return 0;
}
