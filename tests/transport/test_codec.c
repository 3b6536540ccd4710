/*
 * test_codec.c
 *	  Proves the replication message encoding: every message type round
 *	  trips with its fields and entries, and each kind of malformed input is
 *	  rejected with a message naming what is wrong.
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

	for (uint32_t t = SYNC_MSG_APPEND_RESP; t <= SYNC_MSG_TIMEOUT_NOW; t++)
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

/* An ack carries the sender's applied index after the header; other
 * message types never do, whatever their flags say. */
static void
test_applied_trailer(void **state)
{
	struct sync_entry entries[8];
	struct sync_msg got;
	struct sync_msg ack = {.type = SYNC_MSG_APPEND_RESP, .flags = SYNC_FLAG_APPLIED,
	.from = 2, .to = 1, .term = 3, .index = 40, .applied = 37};
	size_t		len;
	uint8_t    *buf = encode(&ack, &len);

	(void) state;
	assert_int_equal(len, SYNC_MSG_HEADER_SIZE + 8);
	assert_null(sync_msg_decode(buf, len, &got, entries, 8));
	assert_int_equal(got.applied, 37);
	assert_int_equal(got.flags, SYNC_FLAG_APPLIED);
	assert_non_null(sync_msg_decode(buf, len - 1, &got, entries, 8));
	assert_non_null(sync_msg_decode(buf, len - 8, &got, entries, 8));
	free(buf);
	ack.type = SYNC_MSG_VOTE_RESP;
	buf = encode(&ack, &len);
	assert_int_equal(len, SYNC_MSG_HEADER_SIZE);
	assert_null(sync_msg_decode(buf, len, &got, entries, 8));
	assert_int_equal(got.applied, 0);
	free(buf);
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
	expect_bad(copy, len + 1, "trailing bytes");
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_applied_trailer),
		cmocka_unit_test(test_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
