/*
 * fuzz_sql_classify.c
 *	  libFuzzer target: any byte string, as a simple Query's text, is
 *	  classified without a crash, a leak or undefined behaviour, directly
 *	  and through a small cache (which must agree with the direct result),
 *	  and every result is internally consistent.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "sql/sql_classify.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sql_cache *cache;

static void
check_result(const sql_result *r)
{
	PGQ_ASSERT(r->cls < SQL_CLASS_COUNT);
	PGQ_ASSERT((r->status == SQL_STATUS_PARSE_ERROR) ==
			   (r->error_message != NULL));
	PGQ_ASSERT(r->status != SQL_STATUS_OK || r->n_stmts > 0);
	for (uint32_t i = 0; i < r->n_stmts; i++)
	{
		PGQ_ASSERT(r->stmts[i].cls > SQL_CLASS_NONE);
		PGQ_ASSERT(r->stmts[i].cls <= r->cls);
		PGQ_ASSERT((r->stmts[i].flags & ~r->flags) == 0);
		PGQ_ASSERT(r->stmts[i].location >= 0 && r->stmts[i].length >= 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *q;
	sql_result	r;
	const sql_result *cr;

	if (size > 16384)
		return 0;
	if (cache == NULL)
		cache = sql_cache_new(64, NULL);
	q = malloc(size + 1);
	if (q == NULL || cache == NULL)
		abort();
	memcpy(q, data, size);
	q[size] = '\0';				/* the protocol's strings end at a NUL */
	sql_classify(q, NULL, &r);
	check_result(&r);
	cr = sql_cache_classify(cache, q);
	check_result(cr);
	/* The same text classifies the same way, cached or not. */
	PGQ_ASSERT(cr->status == r.status);
	PGQ_ASSERT(cr->status != SQL_STATUS_OK || cr->cls == r.cls);
	sql_result_reset(&r);
	free(q);
	return 0;
}
