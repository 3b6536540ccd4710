/*
 * fuzz_txn_entry.c
 *	  libFuzzer target: a log entry's payload comes from a peer or from
 *	  disk.  The decoder may not read out of bounds; an entry it accepts
 *	  must re-encode to exactly the same bytes, each of its changes must
 *	  re-encode to its own bytes, and the applier's SQL must build for each
 *	  change without crashing (it may refuse one with an error).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "sync/txn_apply_sql.h"
#include "sync/txn_codec.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_changes(const struct txn_entry *e, struct txn_sql *sql)
{
	static struct txn_change_iter it;
	struct txn_change c;
	struct pgq_buf b;
	const char *err;

	pgq_buf_init(&b, TXN_ENTRY_MAX_BYTES);
	txn_change_iter_init(&it, e);
	while (txn_change_next(&it, &c, &err) > 0)
	{
		PGQ_ASSERT(txn_change_encode(&c, &b));
		(void) txn_sql_change(sql, e, &c);
	}
	PGQ_ASSERT(err == NULL);
	PGQ_ASSERT(b.len == e->changes_len);
	PGQ_ASSERT(b.len == 0 || memcmp(pgq_buf_head(&b), e->changes, b.len) == 0);
	pgq_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct txn_sql sql;
	static bool sql_ready;
	struct txn_entry *e;
	struct pgq_buf out;

	if (!sql_ready)
		sql_ready = txn_sql_init(&sql);
	PGQ_ASSERT(sql_ready);
	if (txn_entry_decode(data, size, &e) != NULL)
		return 0;
	pgq_buf_init(&out, TXN_ENTRY_MAX_BYTES);
	PGQ_ASSERT(txn_entry_encode(e, &out));
	PGQ_ASSERT(out.len == size && memcmp(pgq_buf_head(&out), data, size) == 0);
	pgq_buf_free(&out);
	if (e->kind == TXN_KIND_CHUNK)
		check_changes(e, &sql);
	else if (e->kind == TXN_KIND_STATEMENT)
		(void) txn_sql_statement(&sql, e);
	for (uint32_t i = 0; i < e->n_sequences; i++)
		(void) txn_sql_sequence(&sql, &e->sequences[i]);
	txn_entry_free(e);
	return 0;
}
