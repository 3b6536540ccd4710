/*
 * pgq_crc32c.h
 *	  CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78).
 *
 * INTERFACE ROUTINES
 *	pgq_crc32c			 - checksum, SSE4.2 instruction when the CPU has it
 *	pgq_crc32c_sw		 - table-driven (slicing-by-8), any CPU
 *	pgq_crc32c_hw		 - SSE4.2 crc32 instruction; only when available
 *	pgq_crc32c_hw_available - does this CPU have SSE4.2?
 *
 * The running value is the finished CRC of the bytes so far: start with 0,
 * and pgq_crc32c(pgq_crc32c(0, a, n), b, m) equals the CRC of a followed by
 * b.  pgq_crc32c(0, "123456789", 9) == 0xE3069283.  Thread-safe; data is
 * borrowed for the duration of the call.  Used by wal/ (records, segment
 * headers, hard state) and by the peer transport (frames).
 */
#ifndef PGQ_CRC32C_H
#define PGQ_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint32_t	pgq_crc32c(uint32_t crc, const void *data, size_t len);
uint32_t	pgq_crc32c_sw(uint32_t crc, const void *data, size_t len);
/* Calling this on a CPU without SSE4.2 is a programmer error (SIGILL). */
uint32_t	pgq_crc32c_hw(uint32_t crc, const void *data, size_t len);
bool		pgq_crc32c_hw_available(void);

#endif							/* PGQ_CRC32C_H */
