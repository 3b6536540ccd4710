/*
 * pgq_assert.h
 *	  Assertions for programmer errors.
 *
 * PGQ_ASSERT is always on: it is for cheap checks whose failure means a bug
 * (a broken invariant), never for operating errors such as ENOSPC or a bad
 * packet, which are returned as error codes.  PGQ_DEBUG_ASSERT is compiled
 * only into debug builds (-DPGQ_DEBUG) and may be expensive.
 */
#ifndef PGQ_ASSERT_H
#define PGQ_ASSERT_H

#include <stdnoreturn.h>

noreturn void pgq_assert_fail(const char *expr, const char *file, int line,
							  const char *func);

#define PGQ_ASSERT(expr) \
	((expr) ? (void) 0 : pgq_assert_fail(#expr, __FILE__, __LINE__, __func__))

#ifdef PGQ_DEBUG
#define PGQ_DEBUG_ASSERT(expr) PGQ_ASSERT(expr)
#else
#define PGQ_DEBUG_ASSERT(expr) ((void) 0)
#endif

#define PGQ_UNREACHABLE() pgq_assert_fail("unreachable", __FILE__, __LINE__, __func__)

#define PGQ_LENGTHOF(a) (sizeof(a) / sizeof((a)[0]))

#endif							/* PGQ_ASSERT_H */
