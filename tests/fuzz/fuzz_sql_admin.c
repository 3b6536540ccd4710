/*
 * fuzz_sql_admin.c
 *	  libFuzzer target: any byte string, as a query text, goes through the
 *	  admin view rewrite without a crash, a leak or undefined behaviour; a
 *	  rewritten text parses again with the same number of statements, and
 *	  the status, output and message agree.  To reach the rewrite often, the
 *	  bytes 0x01..0x05 expand to "pgquorum.nodes", "pgquorum.log", ... (the
 *	  views, in sql_admin_view order), and the row source's values are
 *	  chosen by the input too (quotes, backslashes, NULLs, zero rows).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "sql/sql_admin.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const values[] = {
	"1", "it's", "\\", "a\nb\"c", "t", "2.5", "", "nœud ☃", "$1", "'';--",
};

/* Rows for view v: (seed % 3) rows, values picked from the seed. */
static int
fuzz_rows(void *arg, sql_admin_view v, sql_admin_rows *out)
{
	unsigned	seed = *(const unsigned *) arg + (unsigned) v;
	const sql_admin_view_def *def = sql_admin_get_view(v);
	const char *row[32];

	PGQ_ASSERT(def->n_columns <= 32);
	for (unsigned r = 0; r < seed % 3; r++)
	{
		for (uint32_t c = 0; c < def->n_columns; c++)
		{
			unsigned	k = (seed + r * 7 + c * 3) % (PGQ_LENGTHOF(values) + 1);

			row[c] = k < PGQ_LENGTHOF(values) ? values[k] : NULL;
		}
		if (sql_admin_rows_add(out, row, def->n_columns) != 0)
			return -1;
	}
	return 0;
}

/* Copy data, NUL-terminated, with 0x01..0x05 expanded to pgquorum.<view>. */
static char *
expand(const uint8_t *data, size_t size)
{
	char	   *q = malloc(size * 18 + 1);
	size_t		n = 0;

	if (q == NULL)
		abort();
	for (size_t i = 0; i < size; i++)
	{
		if (data[i] >= 1 && data[i] <= SQL_ADMIN_COUNT)
		{
			const char *name = sql_admin_get_view((sql_admin_view) (data[i] - 1))->name;

			memcpy(q + n, "pgquorum.", 9);
			memcpy(q + n + 9, name, strlen(name));
			n += 9 + strlen(name);
		}
		else if (data[i] != '\0')	/* the protocol's strings end at a NUL */
			q[n++] = (char) data[i];
	}
	q[n] = '\0';
	return q;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned	seed = size > 0 ? data[0] : 0;
	sql_admin_row_source src = {fuzz_rows, &seed};
	char	   *q,
			   *out,
			   *err;
	sql_admin_status st;

	if (size > 8192)
		return 0;
	q = expand(data, size);
	st = sql_admin_rewrite(q, &src, &out, &err);
	PGQ_ASSERT(st < SQL_ADMIN_STATUS_COUNT);
	PGQ_ASSERT((out != NULL) == (st == SQL_ADMIN_REWRITTEN));
	PGQ_ASSERT((err != NULL) == (st > SQL_ADMIN_REWRITTEN));
	PGQ_ASSERT((sql_admin_status_sqlstate(st) != NULL) == (st > SQL_ADMIN_REWRITTEN));
	if (st == SQL_ADMIN_REWRITTEN)
	{
		sql_result	a,
					b;

		/* The original parsed (else no rewrite); the output must too. */
		PGQ_ASSERT(sql_classify(q, NULL, &a) == SQL_STATUS_OK);
		PGQ_ASSERT(sql_classify(out, NULL, &b) == SQL_STATUS_OK);
		PGQ_ASSERT(a.n_stmts == b.n_stmts);
		sql_result_reset(&a);
		sql_result_reset(&b);
	}
	free(out);
	free(err);
	free(q);
	return 0;
}
