/*
 * pgq_crc32c.c
 *	  CRC-32C, hardware (SSE4.2) or slicing-by-8 tables.  See pgq_crc32c.h.
 */
#include "config.h"

#include <string.h>

#include "common/pgq_crc32c.h"

#define CRC32C_POLY 0x82F63B78u

static uint32_t crc_table[8][256];
static int	crc_table_ready;	/* 0 no, 1 yes (idempotent to rebuild) */

static void
crc32c_build_table(void)
{
	for (uint32_t n = 0; n < 256; n++)
	{
		uint32_t	c = n;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc_table[0][n] = c;
	}
	for (uint32_t n = 0; n < 256; n++)
		for (int t = 1; t < 8; t++)
			crc_table[t][n] = (crc_table[t - 1][n] >> 8) ^
				crc_table[0][crc_table[t - 1][n] & 0xff];
	__atomic_store_n(&crc_table_ready, 1, __ATOMIC_RELEASE);
}

uint32_t
pgq_crc32c_sw(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (!__atomic_load_n(&crc_table_ready, __ATOMIC_ACQUIRE))
		crc32c_build_table();	/* racing builders write equal values */
	crc = ~crc;
	while (len >= 8)
	{
		uint64_t	w;

		memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w = __builtin_bswap64(w);
#endif
		w ^= crc;
		crc = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^
			crc_table[5][(w >> 16) & 0xff] ^ crc_table[4][(w >> 24) & 0xff] ^
			crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^
			crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

#if defined(__x86_64__)

__attribute__((target("sse4.2")))
uint32_t
pgq_crc32c_hw(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t	c = ~crc;

	while (len >= 8)
	{
		uint64_t	w;

		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t) c, *p++);
	return ~(uint32_t) c;
}

bool
pgq_crc32c_hw_available(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("sse4.2");
}

#else

uint32_t
pgq_crc32c_hw(uint32_t crc, const void *data, size_t len)
{
	return pgq_crc32c_sw(crc, data, len);
}

bool
pgq_crc32c_hw_available(void)
{
	return false;
}

#endif

/* 0 unknown, 1 software, 2 hardware; decided on first use. */
static int	crc_impl;

uint32_t
pgq_crc32c(uint32_t crc, const void *data, size_t len)
{
	int			impl = __atomic_load_n(&crc_impl, __ATOMIC_RELAXED);

	if (impl == 0)
	{
		impl = pgq_crc32c_hw_available() ? 2 : 1;
		__atomic_store_n(&crc_impl, impl, __ATOMIC_RELAXED);
	}
	if (impl == 2)
		return pgq_crc32c_hw(crc, data, len);
	return pgq_crc32c_sw(crc, data, len);
}
