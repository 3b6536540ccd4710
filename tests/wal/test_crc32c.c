/*
 * test_crc32c.c
 *	  Proves that the software and SSE4.2 CRC-32C give the published values
 *	  (the check value and RFC 3720 B.4 vectors), agree with each other on
 *	  random data at every length and alignment, and chain correctly.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/pgq_crc32c.h"

typedef uint32_t (*crc_fn) (uint32_t, const void *, size_t);

static void
check_vectors(crc_fn f)
{
	uint8_t		buf[48];

	assert_int_equal(f(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(f(0, "", 0), 0);
	memset(buf, 0, 32);
	assert_int_equal(f(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xff, 32);
	assert_int_equal(f(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t) i;
	assert_int_equal(f(0, buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t) (31 - i);
	assert_int_equal(f(0, buf, 32), 0x113FDB5Cu);
	/* RFC 3720 B.4: an iSCSI read command PDU. */
	{
		static const uint8_t pdu[48] = {
			0x01, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			0x14, 0, 0, 0, 0, 0, 0x04, 0, 0, 0, 0, 0x14, 0, 0, 0, 0x18,
			0x28, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0
		};

		assert_int_equal(f(0, pdu, 48), 0xD9963A56u);
	}
}

static void
test_sw_vectors(void **state)
{
	check_vectors(pgq_crc32c_sw);
}

static void
test_hw_vectors(void **state)
{
	if (!pgq_crc32c_hw_available())
		skip();
	check_vectors(pgq_crc32c_hw);
}

static void
test_dispatch_vectors(void **state)
{
	check_vectors(pgq_crc32c);
}

static void
test_sw_hw_agree_and_chain(void **state)
{
	uint8_t		buf[1100];

	srand(42);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t) rand();
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len + off <= sizeof(buf); len += 1 + len / 8)
		{
			uint32_t	sw = pgq_crc32c_sw(0, buf + off, len);
			size_t		cut = len / 3;

			if (pgq_crc32c_hw_available())
				assert_int_equal(sw, pgq_crc32c_hw(0, buf + off, len));
			assert_int_equal(sw, pgq_crc32c_sw(pgq_crc32c_sw(0, buf + off, cut),
											   buf + off + cut, len - cut));
			assert_int_equal(sw, pgq_crc32c(pgq_crc32c(0, buf + off, cut),
											buf + off + cut, len - cut));
		}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sw_vectors),
		cmocka_unit_test(test_hw_vectors),
		cmocka_unit_test(test_dispatch_vectors),
		cmocka_unit_test(test_sw_hw_agree_and_chain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
