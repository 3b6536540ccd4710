/*
 * test_codec.c
 *	  Proves the replication message encoding: every message type round
 *	  trips with its fields and entries, and each kind of malformed input is
 *	  rejected with a message naming what is wrong; extension fields round
 *	  trip, unknown ones are skipped and malformed ones are refused; the
 *	  ReadIndex messages and the read round round trip, and a frame without
 *	  a round (an older node's) still decodes, with round 0.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/pgq_bytes.h"
#include "sync/peer_codec.h"

static const struct sync_entry two[] = {
	{.index = 11, .term = 3, .type = SYNC_ENTRY_NORMAL, .len = 5, .payload = "hello"},
	{.index = 12, .term = 4, .type = SYNC_ENTRY_NOOP, .len = 0, .payload = NULL},
};

static const struct sync_msg append = {
	.type = SYNC_MSG_APPEND, .flags = SYNC_FLAG_COMMIT_ONLY, .from = 1, .to = 2,
	.term = 4, .index = 10, .log_term = 3, .commit = 9, .hint_index = 0,
	.n_entries = 2, .entries = two,
};

static uint8_t *
encode(const struct sync_msg *msg, size_t *len)
{
	uint8_t    *buf;

	*len = sync_msg_encoded_size(msg);
	buf = malloc(*len);
	sync_msg_encode(msg, buf);
	return buf;
}

static void
test_round_trip(void **state)
{
	struct sync_entry entries[8];
	struct sync_msg got;
	size_t		len;
	uint8_t    *buf = encode(&append, &len);

	assert_int_equal(len, SYNC_MSG_HEADER_SIZE + 2 * SYNC_ENTRY_HEADER_SIZE + 5);
	assert_null(sync_msg_decode(buf, len, &got, entries, 8));
	assert_int_equal(got.type, SYNC_MSG_APPEND);
	assert_int_equal(got.flags, SYNC_FLAG_COMMIT_ONLY);
	assert_int_equal(got.from, 1);
	assert_int_equal(got.to, 2);
	assert_int_equal(got.term, 4);
	assert_int_equal(got.index, 10);
	assert_int_equal(got.log_term, 3);
	assert_int_equal(got.commit, 9);
	assert_int_equal(got.n_entries, 2);
	assert_int_equal(got.entries[0].index, 11);
	assert_int_equal(got.entries[0].len, 5);
	assert_memory_equal(got.entries[0].payload, "hello", 5);
	assert_int_equal(got.entries[1].type, SYNC_ENTRY_NOOP);
	free(buf);

	for (uint32_t t = SYNC_MSG_APPEND_RESP; t <= SYNC_MSG_READ_INDEX_RESP; t++)
	{
		struct sync_msg m = {.type = t, .flags = SYNC_FLAG_REJECT, .from = 3, .to = 1,
		.term = UINT64_MAX, .index = 7, .hint_index = 5};

		buf = encode(&m, &len);
		assert_int_equal(len, SYNC_MSG_HEADER_SIZE);
		assert_null(sync_msg_decode(buf, len, &got, entries, 8));
		assert_int_equal(got.type, t);
		assert_int_equal(got.term, UINT64_MAX);
		assert_int_equal(got.hint_index, 5);
		free(buf);
	}
}

static void
expect_bad(uint8_t *buf, size_t len, const char *what)
{
	struct sync_entry entries[8];
	struct sync_msg got;
	const char *err = sync_msg_decode(buf, len, &got, entries, 8);

	assert_non_null(err);
	if (strstr(err, what) == NULL)
		fail_msg("\"%s\" does not mention \"%s\"", err, what);
}

static void
test_rejects(void **state)
{
	size_t		len;
	uint8_t    *buf = encode(&append, &len);
	uint8_t    *copy = malloc(len + 1);

	for (size_t cut = 0; cut < len; cut++)
	{
		struct sync_entry entries[8];
		struct sync_msg got;

		assert_non_null(sync_msg_decode(buf, cut, &got, entries, 8));
	}
	memcpy(copy, buf, len);
	copy[len] = 0;
	expect_bad(copy, len + 1, "cut short");
	memcpy(copy, buf, len);
	pgq_put_u32(copy, 99);
	expect_bad(copy, len, "unknown message type");
	memcpy(copy, buf, len);
	pgq_put_u32(copy, SYNC_MSG_VOTE);
	expect_bad(copy, len, "entries in a message that carries none");
	memcpy(copy, buf, len);
	pgq_put_u64(copy + SYNC_MSG_HEADER_SIZE, 12);	/* first entry's index */
	expect_bad(copy, len, "not consecutive");
	memcpy(copy, buf, len);
	pgq_put_u64(copy + SYNC_MSG_HEADER_SIZE + 8, 5);	/* term above msg term */
	expect_bad(copy, len, "terms are out of order");
	memcpy(copy, buf, len);
	pgq_put_u32(copy + SYNC_MSG_HEADER_SIZE + 16, 9);
	expect_bad(copy, len, "unknown entry type");
	memcpy(copy, buf, len);
	pgq_put_u32(copy + SYNC_MSG_HEADER_SIZE + 20, 0xffffffff);	/* absurd len */
	expect_bad(copy, len, "truncated inside an entry");
	memcpy(copy, buf, len);
	pgq_put_u32(copy + 64, 1000);
	expect_bad(copy, len, "more entries than");
	free(copy);
	free(buf);
}

/* Known extension fields round trip; an unknown one is skipped. */
static void
test_extensions(void **state)
{
	struct sync_msg m = {.type = SYNC_NODE_MSG_REBUILD, .from = 1, .to = 3,
	.term = 5, .index = 700};
	struct sync_msg_ext ext = {.has_applied = true, .applied = 42,
	.has_floor = true, .floor = UINT64_MAX - 1, .source = "host=/tmp port=5", .source_len = 16};
	struct sync_msg_ext got_ext;
	struct sync_entry entries[8];
	struct sync_msg got;
	size_t		len = sync_msg_encoded_size_ext(&m, &ext);
	uint8_t    *buf = malloc(len + 8);

	sync_msg_encode_ext(&m, &ext, buf);
	assert_int_equal(len, SYNC_MSG_HEADER_SIZE + 12 + 12 + 4 + 16);
	assert_null(sync_msg_decode_ext(buf, len, &got, &got_ext, entries, 8));
	assert_int_equal(got.type, SYNC_NODE_MSG_REBUILD);
	assert_int_equal(got.index, 700);
	assert_true(got_ext.has_applied && got_ext.applied == 42);
	assert_true(got_ext.has_floor && got_ext.floor == UINT64_MAX - 1);
	assert_int_equal(got_ext.source_len, 16);
	assert_memory_equal(got_ext.source, "host=/tmp port=5", 16);
	/* the old decoder accepts and ignores them */
	assert_null(sync_msg_decode(buf, len, &got, entries, 8));
	/* a newer node's field (tag 99, 4 bytes) is skipped */
	pgq_put_u16(buf + len, 99);
	pgq_put_u16(buf + len + 2, 4);
	memset(buf + len + 4, 7, 4);
	assert_null(sync_msg_decode_ext(buf, len + 8, &got, &got_ext, entries, 8));
	assert_int_equal(got_ext.applied, 42);
	/* a known field with another length, a field given twice, a NUL */
	pgq_put_u16(buf + SYNC_MSG_HEADER_SIZE + 2, 7);
	expect_bad(buf, len, "not 8 bytes");
	sync_msg_encode_ext(&m, &ext, buf);
	pgq_put_u16(buf + SYNC_MSG_HEADER_SIZE + 12, SYNC_EXT_APPLIED);
	expect_bad(buf, len, "given twice");
	sync_msg_encode_ext(&m, &ext, buf);
	buf[len - 3] = 0;
	expect_bad(buf, len, "NUL");
	free(buf);
}

/* READ_INDEX (hint_index = ctx) and READ_INDEX_RESP (commit = the read
 * index) round trip; the round rides as an extension field only when
 * nonzero; malformed rounds and unknown types are refused. */
static void
test_read_index(void **state)
{
	struct sync_msg req = {.type = SYNC_MSG_READ_INDEX, .from = 2, .to = 1,
	.term = 3, .hint_index = 0xfeedULL};
	struct sync_msg resp = {.type = SYNC_MSG_READ_INDEX_RESP, .flags = SYNC_FLAG_REJECT,
	.from = 1, .to = 2, .term = 3, .hint_index = 0xfeedULL, .commit = 77};
	struct sync_msg ack = {.type = SYNC_MSG_APPEND_RESP, .from = 2, .to = 1,
	.term = 3, .index = 9, .commit = 9, .round = 12345};
	struct sync_msg_ext ext = {.has_applied = true, .applied = 8};
	struct sync_msg_ext got_ext;
	struct sync_entry entries[8];
	struct sync_msg got;
	struct sync_msg hb = append;
	size_t		len;
	uint8_t    *buf = encode(&req, &len);

	assert_int_equal(len, SYNC_MSG_HEADER_SIZE);
	assert_null(sync_msg_decode(buf, len, &got, entries, 8));
	assert_int_equal(got.type, SYNC_MSG_READ_INDEX);
	assert_int_equal(got.hint_index, 0xfeedULL);
	assert_int_equal(got.round, 0);
	free(buf);
	buf = encode(&resp, &len);
	assert_null(sync_msg_decode(buf, len, &got, entries, 8));
	assert_int_equal(got.type, SYNC_MSG_READ_INDEX_RESP);
	assert_int_equal(got.flags, SYNC_FLAG_REJECT);
	assert_int_equal(got.commit, 77);
	assert_int_equal(got.hint_index, 0xfeedULL);
	free(buf);

	/* an APPEND with entries and a round, an ack with a round and applied */
	hb.round = 4;
	buf = encode(&hb, &len);
	assert_int_equal(len, SYNC_MSG_HEADER_SIZE + 2 * SYNC_ENTRY_HEADER_SIZE + 5 + 12);
	assert_null(sync_msg_decode(buf, len, &got, entries, 8));
	assert_int_equal(got.round, 4);
	assert_int_equal(got.n_entries, 2);
	/* cut anywhere: refused, but right before the round, which is a whole
	 * message without one (the frame's length and CRC catch such a cut) */
	for (size_t cut = 0; cut < len; cut++)
		if (cut != len - 12)
			assert_non_null(sync_msg_decode(buf, cut, &got, entries, 8));
	assert_null(sync_msg_decode(buf, len - 12, &got, entries, 8));
	assert_int_equal(got.round, 0);
	free(buf);
	len = sync_msg_encoded_size_ext(&ack, &ext);
	assert_int_equal(len, SYNC_MSG_HEADER_SIZE + 12 + 12);
	buf = malloc(len);
	sync_msg_encode_ext(&ack, &ext, buf);
	assert_null(sync_msg_decode_ext(buf, len, &got, &got_ext, entries, 8));
	assert_int_equal(got.round, 12345);
	assert_true(got_ext.has_applied && got_ext.applied == 8);

	/* the round field: bad length, zero, twice, on a type without one */
	pgq_put_u16(buf + SYNC_MSG_HEADER_SIZE + 2, 7);
	expect_bad(buf, len, "not 8 bytes");
	sync_msg_encode_ext(&ack, &ext, buf);
	pgq_put_u64(buf + SYNC_MSG_HEADER_SIZE + 4, 0);
	expect_bad(buf, len, "round field is zero");
	sync_msg_encode_ext(&ack, &ext, buf);
	pgq_put_u16(buf + SYNC_MSG_HEADER_SIZE + 12, SYNC_EXT_ROUND);	/* applied -> round */
	expect_bad(buf, len, "given twice");
	sync_msg_encode_ext(&ack, &ext, buf);
	pgq_put_u32(buf, SYNC_MSG_VOTE);
	expect_bad(buf, len, "round field in a message that carries none");
	pgq_put_u32(buf, SYNC_MSG_READ_INDEX_RESP + 1);
	expect_bad(buf, len, "unknown message type");
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_extensions),
		cmocka_unit_test(test_read_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
