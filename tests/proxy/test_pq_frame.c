/*
 * test_pq_frame.c
 *	  Proves that the v3 frame scanner and startup parser accept exactly
 *	  the valid byte sequences: split reads at every offset give the same
 *	  messages, bad types and lengths are caught at the header that carries
 *	  them, and startup packets are checked for layout, version and UTF-8.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/pq_frame.h"

/* Query "select 1", Sync, Terminate. */
static const uint8_t stream[] = {
	'Q', 0, 0, 0, 13, 's', 'e', 'l', 'e', 'c', 't', ' ', '1', 0,
	'S', 0, 0, 0, 4,
	'X', 0, 0, 0, 4,
};

static void
test_scan_whole_and_split(void **state)
{
	for (size_t split = 0; split <= sizeof(stream); split++)
	{
		struct pq_scanner sc;
		uint8_t		seen[3];
		int			n_seen = 0;
		const uint8_t *parts[2] = {stream, stream + split};
		size_t		lens[2] = {split, sizeof(stream) - split};

		pq_scan_init(&sc, pq_frontend_rules);
		for (int p = 0; p < 2; p++)
		{
			size_t		off = 0;

			while (off < lens[p])
			{
				size_t		used;
				enum pq_scan_result r = pq_scan_step(&sc, parts[p] + off, lens[p] - off, &used);

				off += used;
				if (r == PQ_SCAN_MESSAGE)
					seen[n_seen++] = sc.type;
				else
					assert_int_equal(r, PQ_SCAN_MORE);
			}
		}
		assert_int_equal(n_seen, 3);
		assert_memory_equal(seen, "QSX", 3);
		assert_true(pq_scan_at_boundary(&sc));
		assert_int_equal(sc.messages, 3);
	}
}

static void
expect_bad(const uint8_t *data, size_t len, enum pq_scan_result want, size_t want_used)
{
	struct pq_scanner sc;
	size_t		used,
				off = 0;
	enum pq_scan_result r;

	pq_scan_init(&sc, pq_frontend_rules);
	do
	{
		r = pq_scan_step(&sc, data + off, len - off, &used);
		off += used;
	} while (r == PQ_SCAN_MESSAGE);
	assert_int_equal(r, want);
	assert_int_equal(off, want_used);
}

static void
test_scan_bad_headers(void **state)
{
	uint8_t		unknown[] = {'S', 0, 0, 0, 4, 'z', 0, 0, 0, 4};
	uint8_t		short_len[] = {'Q', 0, 0, 0, 3};
	uint8_t		sync_len[] = {'S', 0, 0, 0, 5, 0};
	uint8_t		huge[] = {'E', 0x7f, 0xff, 0xff, 0xff};
	uint8_t		zero[] = {0, 0, 0, 0, 8};

	expect_bad(unknown, sizeof(unknown), PQ_SCAN_BAD_TYPE, 5);
	expect_bad(short_len, sizeof(short_len), PQ_SCAN_BAD_LENGTH, 0);
	expect_bad(sync_len, sizeof(sync_len), PQ_SCAN_BAD_LENGTH, 0);
	expect_bad(huge, sizeof(huge), PQ_SCAN_BAD_LENGTH, 0);
	expect_bad(zero, sizeof(zero), PQ_SCAN_BAD_TYPE, 0);
	assert_int_equal(pq_header_check(pq_backend_rules, 'Z', 5), 0);
	assert_int_equal(pq_header_check(pq_backend_rules, 'Z', 6), PQ_SCAN_BAD_LENGTH);
}

static size_t
startup(uint8_t *buf, uint32_t version, const char *pairs, size_t pairs_len)
{
	pq_put_uint32(buf + 4, version);
	memcpy(buf + 8, pairs, pairs_len);
	pq_put_uint32(buf, (uint32_t) (8 + pairs_len));
	return 8 + pairs_len;
}

static void
test_startup(void **state)
{
	uint8_t		buf[256];
	struct pq_startup st;
	char		err[256];
	static const char ok[] = "user\0alice\0_pq_.x\0y\0application_name\0t\0";
	static const char nouser[] = "database\0d\0";
	static const char bad_utf8[] = "user\0\xc3\x28\0";
	static const char no_term[] = "user\0alice";
	size_t		len;

	len = startup(buf, PQ_PROTOCOL(3, 2), ok, sizeof(ok));
	assert_int_equal(pq_startup_parse(buf, len, &st, err, sizeof(err)), 0);
	assert_string_equal(st.user, "alice");
	assert_string_equal(st.database, "alice");
	assert_int_equal(st.n_protocol_options, 1);
	assert_string_equal(st.protocol_options[0], "_pq_.x");
	len = startup(buf, PQ_PROTOCOL(3, 0), nouser, sizeof(nouser));
	assert_int_equal(pq_startup_parse(buf, len, &st, err, sizeof(err)), -1);
	len = startup(buf, PQ_PROTOCOL(3, 0), bad_utf8, sizeof(bad_utf8));
	assert_int_equal(pq_startup_parse(buf, len, &st, err, sizeof(err)), -1);
	len = startup(buf, PQ_PROTOCOL(3, 0), no_term, sizeof(no_term) - 1);
	assert_int_equal(pq_startup_parse(buf, len, &st, err, sizeof(err)), -1);
	len = startup(buf, PQ_PROTOCOL(2, 0), ok, sizeof(ok));
	assert_int_equal(pq_startup_parse(buf, len, &st, err, sizeof(err)), -1);
	len = startup(buf, PQ_SSL_REQUEST_CODE, "", 0);
	assert_int_equal(pq_startup_parse(buf, len, &st, err, sizeof(err)), 0);
	assert_int_equal(st.kind, PQ_STARTUP_SSL);
	len = startup(buf, PQ_CANCEL_REQUEST_CODE, "\0\0\0\7\0\0\0\11", 8);
	assert_int_equal(pq_startup_parse(buf, len, &st, err, sizeof(err)), 0);
	assert_int_equal(st.kind, PQ_STARTUP_CANCEL);
	assert_int_equal(st.cancel_pid, 7);
	assert_int_equal(st.cancel_key, 9);
	assert_false(pq_startup_len_ok(7));
	assert_false(pq_startup_len_ok(PQ_STARTUP_MAX_LEN + 1));
}

static void
test_utf8(void **state)
{
	assert_true(pq_utf8_valid("h\xc3\xa9llo", 6));
	assert_false(pq_utf8_valid("\xc0\xaf", 2));			/* overlong */
	assert_false(pq_utf8_valid("\xed\xa0\x80", 3));		/* surrogate */
	assert_false(pq_utf8_valid("\xe2\x82", 2));			/* truncated */
}

static void
test_build_error(void **state)
{
	uint8_t		buf[128];
	struct pq_build b;

	pq_build_init(&b, buf, sizeof(buf));
	pq_build_error(&b, 'E', "FATAL", "28P01", "no");
	assert_false(b.overflow);
	assert_int_equal(buf[0], 'E');
	assert_int_equal(pq_get_uint32(buf + 1), b.len - 1);
	pq_build_init(&b, buf, 8);
	pq_build_error(&b, 'E', "FATAL", "28P01", "no");
	assert_true(b.overflow);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_whole_and_split),
		cmocka_unit_test(test_scan_bad_headers),
		cmocka_unit_test(test_startup),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_build_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
