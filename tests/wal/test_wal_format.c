/*
 * test_wal_format.c
 *	  Proves that records, segment headers and hard state round-trip, and
 *	  that decoding rejects every damaged input (bad magic, version, CRC,
 *	  absurd lengths, truncation, non-zero padding) without reading past
 *	  the buffer (the buffers here are exact-size heap copies, so ASan
 *	  catches an over-read).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "wal/wal_format.h"

static void
test_record_round_trip(void **state)
{
	for (uint32_t len = 0; len < 40; len++)
	{
		uint8_t		payload[40],
					buf[128];
		struct wal_record in = {.index = 1000 + len, .term = 7, .type = 3,
		.length = len, .payload = payload}, out;
		size_t		size,
					dsize;

		for (uint32_t i = 0; i < len; i++)
			payload[i] = (uint8_t) (i * 3 + 1);
		size = wal_record_encode(&in, buf);
		assert_int_equal(size, wal_record_size(len));
		assert_int_equal(size % 8, 0);
		assert_int_equal(wal_record_decode(buf, size, 1024, &out, &dsize), WAL_FMT_OK);
		assert_int_equal(dsize, size);
		assert_int_equal(out.index, in.index);
		assert_int_equal(out.term, 7);
		assert_int_equal(out.type, 3);
		assert_int_equal(out.length, len);
		assert_memory_equal(out.payload, payload, len);
		/* Every shorter buffer is "short", never an over-read. */
		for (size_t cut = 0; cut < size; cut++)
		{
			uint8_t    *exact = malloc(cut ? cut : 1);

			memcpy(exact, buf, cut);
			assert_int_equal(wal_record_decode(exact, cut, 1024, &out, &dsize),
							 WAL_FMT_SHORT);
			free(exact);
		}
	}
}

static void
test_record_rejects_damage(void **state)
{
	uint8_t		payload[20] = "hello, write-ahead",
				buf[64];
	struct wal_record in = {.index = 5, .term = 2, .type = 1, .length = 19,
	.payload = payload}, out;	/* 47 bytes + 1 of padding */
	size_t		size = wal_record_encode(&in, buf),
				dsize;

	/* Any single flipped bit in header, payload or CRC is caught. */
	for (size_t i = 0; i < 24 + 19 + 4; i++)
		for (int bit = 0; bit < 8; bit++)
		{
			buf[i] ^= (uint8_t) (1 << bit);
			assert_int_not_equal(wal_record_decode(buf, size, 1024, &out, &dsize),
								 WAL_FMT_OK);
			buf[i] ^= (uint8_t) (1 << bit);
		}
	assert_int_equal(wal_record_decode(buf, size, 1024, &out, &dsize), WAL_FMT_OK);
	/* Padding must be zero. */
	buf[size - 1] = 1;
	assert_int_equal(wal_record_decode(buf, size, 1024, &out, &dsize),
					 WAL_FMT_BAD_PADDING);
	buf[size - 1] = 0;
	/* Length above the configured maximum. */
	assert_int_equal(wal_record_decode(buf, size, 18, &out, &dsize),
					 WAL_FMT_BAD_LENGTH);
	buf[20] = 0xff;
	buf[21] = 0xff;
	buf[22] = 0xff;
	buf[23] = 0xff;
	assert_int_equal(wal_record_decode(buf, size, UINT32_MAX, &out, &dsize),
					 WAL_FMT_BAD_LENGTH);
	/* Zeroes (a preallocated tail) are never a record. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(wal_record_decode(buf, sizeof(buf), 1024, &out, &dsize),
					 WAL_FMT_BAD_INDEX);
}

static void
test_seg_header(void **state)
{
	uint8_t		buf[WAL_SEG_HEADER_SIZE];
	struct wal_seg_header h = {.first_index = 12345, .segment_size = 1 << 20},
				out;

	wal_seg_header_encode(&h, buf);
	assert_int_equal(wal_seg_header_decode(buf, sizeof(buf), &out), WAL_FMT_OK);
	assert_int_equal(out.first_index, 12345);
	assert_int_equal(out.segment_size, 1 << 20);
	assert_int_equal(wal_seg_header_decode(buf, 31, &out), WAL_FMT_SHORT);
	buf[0] ^= 1;
	assert_int_equal(wal_seg_header_decode(buf, sizeof(buf), &out), WAL_FMT_BAD_MAGIC);
	buf[0] ^= 1;
	buf[4] = 2;
	assert_int_equal(wal_seg_header_decode(buf, sizeof(buf), &out), WAL_FMT_BAD_VERSION);
	buf[4] = 1;
	buf[9] ^= 1;
	assert_int_equal(wal_seg_header_decode(buf, sizeof(buf), &out), WAL_FMT_BAD_CRC);
}

static void
test_segment_names(void **state)
{
	char		name[WAL_SEG_NAME_LEN + 1];
	uint64_t	v;

	wal_segment_name(42, name);
	assert_string_equal(name, "00000000000000000042.seg");
	assert_true(wal_segment_name_parse(name, &v));
	assert_int_equal(v, 42);
	wal_segment_name(UINT64_MAX, name);
	assert_true(wal_segment_name_parse(name, &v));
	assert_true(v == UINT64_MAX);
	assert_false(wal_segment_name_parse("99999999999999999999.seg", &v));
	assert_false(wal_segment_name_parse("00000000000000000000.seg", &v));
	assert_false(wal_segment_name_parse("0000000000000000004x.seg", &v));
	assert_false(wal_segment_name_parse("00000000000000000042.seg.tmp", &v));
	assert_false(wal_segment_name_parse("hardstate", &v));
}

static void
test_hardstate_round_trip_and_damage(void **state)
{
	struct wal_hardstate hs = {.term = 9, .vote = 2, .n_members = 3}, out;
	uint8_t		buf[WAL_HS_MAX_SIZE];
	size_t		len;

	for (uint32_t i = 0; i < 3; i++)
	{
		hs.members[i].id = i + 1;
		hs.members[i].voter = i != 2;
		snprintf(hs.members[i].peer_addr, WAL_ADDR_MAX, "10.0.0.%u:7000", i);
		snprintf(hs.members[i].client_addr, WAL_ADDR_MAX, "10.0.0.%u:5432", i);
	}
	hs.aux_len = 5;
	memcpy(hs.aux, "sync!", 5);
	len = wal_hardstate_encode(&hs, buf);
	assert_int_equal(len, 32 + 3 * 272 + 5);
	assert_int_equal(wal_hardstate_decode(buf, len, &out), WAL_FMT_OK);
	assert_int_equal(out.term, 9);
	assert_int_equal(out.vote, 2);
	assert_int_equal(out.n_members, 3);
	assert_false(out.members[2].voter);
	assert_string_equal(out.members[1].client_addr, "10.0.0.1:5432");
	assert_int_equal(out.aux_len, 5);
	assert_memory_equal(out.aux, "sync!", 5);
	assert_int_equal(wal_hardstate_decode(buf, len - 1, &out), WAL_FMT_SHORT);
	assert_int_equal(wal_hardstate_decode(buf, len + 1, &out), WAL_FMT_BAD_LENGTH);
	for (size_t i = 0; i < len; i += 7)
	{
		buf[i] ^= 0x10;
		assert_int_not_equal(wal_hardstate_decode(buf, len, &out), WAL_FMT_OK);
		buf[i] ^= 0x10;
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_round_trip),
		cmocka_unit_test(test_record_rejects_damage),
		cmocka_unit_test(test_seg_header),
		cmocka_unit_test(test_segment_names),
		cmocka_unit_test(test_hardstate_round_trip_and_damage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
