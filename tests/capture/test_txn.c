/*
 * test_txn.c
 *	  Proves that every kind of log entry round-trips through the codec
 *	  byte for byte, that the decoder refuses every truncation and each
 *	  malformed field, and that the applier's SQL for each change kind is
 *	  the exact parameterized statement with the right parameter values,
 *	  formats and types (identifiers quoted, unchanged TOAST skipped,
 *	  REPLICA IDENTITY FULL matched on one row).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sync/txn_apply_sql.h"
#include "sync/txn_codec.h"

#define S(lit) ((struct txn_str) {lit, sizeof(lit) - 1})

static struct txn_column cols[3] = {
	{TXN_COL_KEY, S("id"), 23, -1},
	{0, S("na\"me"), 25, -1},
	{0, S("mood"), 16500, -1},		/* a user-defined type */
};
static struct txn_relation rels[2] = {
	{16384, 'd', S("public"), S("t"), 3, cols},
	{16390, 'f', S("s p"), S("nokey"), 3, cols},
};
static struct txn_tuple *t_old;
static struct txn_tuple *t_new;

static void
set_val(struct txn_tuple *t, int i, char kind, const char *text)
{
	t->vals[i].kind = (uint8_t) kind;
	t->vals[i].data = (const uint8_t *) text;
	t->vals[i].len = text ? (uint32_t) strlen(text) : 0;
}

static int
setup(void **state)
{
	t_old = calloc(1, sizeof(*t_old));
	t_new = calloc(1, sizeof(*t_new));
	t_old->ncols = t_new->ncols = 3;
	set_val(t_old, 0, 't', "1");
	set_val(t_old, 1, 'n', NULL);
	set_val(t_old, 2, 't', "sad");
	set_val(t_new, 0, 't', "1");
	set_val(t_new, 1, 't', "it's");
	set_val(t_new, 2, 'u', NULL);
	return 0;
}

static int
teardown(void **state)
{
	free(t_old);
	free(t_new);
	return 0;
}

/* A chunk with both relations and one change of each kind. */
static void
build_chunk(struct pgq_buf *out, bool final)
{
	struct txn_writer w;
	struct txn_entry h = {.kind = TXN_KIND_CHUNK, .flags = final ? TXN_FLAG_FINAL : 0,
		.chunk_seq = 2, .origin_node = 5, .dbname = S("app"), .gid = S("pgq_5_9"),
	.txn_id = final ? S("txn-9") : S(""), .lsn = 0x1234};
	uint8_t		trunc[8] = {0, 0, 0, 1, 0, 0, 0, 0};
	struct txn_change ch[] = {
		{.kind = 'X', .ddl = S("CREATE TABLE x ()")},
		{.kind = 'I', .relidx = 0, .new_tuple = t_old},
		{.kind = 'U', .relidx = 0, .old_kind = 0, .new_tuple = t_new},
		{.kind = 'U', .relidx = 1, .old_kind = 'O', .old_tuple = t_old, .new_tuple = t_new},
		{.kind = 'D', .relidx = 0, .old_kind = 'K', .old_tuple = t_old},
		{.kind = 'T', .trunc_options = TXN_TRUNC_RESTART, .trunc_n = 2, .trunc_rels = trunc},
	};

	txn_writer_init(&w, 1 << 20);
	assert_true(txn_writer_add_relation(&w, &rels[0]));
	assert_true(txn_writer_add_relation(&w, &rels[1]));
	for (size_t i = 0; i < sizeof(ch) / sizeof(ch[0]); i++)
	{
		size_t		before = txn_writer_size(&w);

		assert_true(txn_writer_add_change(&w, &ch[i]));
		assert_int_equal(txn_writer_size(&w) - before, txn_change_encoded_size(&ch[i]));
	}
	assert_true(txn_writer_finish(&w, &h, out));
	txn_writer_free(&w);
}

static void
assert_roundtrip(const struct pgq_buf *in)
{
	struct txn_entry *e;
	struct pgq_buf again;

	assert_null(txn_entry_decode(pgq_buf_head(in), in->len, &e));
	pgq_buf_init(&again, 1 << 24);
	assert_true(txn_entry_encode(e, &again));
	assert_int_equal(again.len, in->len);
	assert_memory_equal(pgq_buf_head(&again), pgq_buf_head(in), in->len);
	pgq_buf_free(&again);
	txn_entry_free(e);
	/* Every strict prefix is refused. */
	for (size_t n = 0; n < in->len; n++)
	{
		assert_non_null(txn_entry_decode(pgq_buf_head(in), n, &e));
		assert_null(e);
	}
}

static void
test_chunk_roundtrip(void **state)
{
	struct pgq_buf b;
	struct txn_entry *e;
	struct txn_change_iter *it = malloc(sizeof(*it));
	struct txn_change c;
	const char *err;
	const char	kinds[] = "XIUUDT";

	pgq_buf_init(&b, 1 << 20);
	build_chunk(&b, true);
	assert_roundtrip(&b);
	assert_null(txn_entry_decode(pgq_buf_head(&b), b.len, &e));
	assert_int_equal(e->chunk_seq, 2);
	assert_int_equal(e->flags, TXN_FLAG_FINAL);
	assert_int_equal(e->n_relations, 2);
	assert_int_equal(e->relations[1].replident, 'f');
	assert_memory_equal(e->relations[0].cols[1].name.p, "na\"me", 5);
	txn_change_iter_init(it, e);
	for (int i = 0; i < 6; i++)
	{
		assert_int_equal(txn_change_next(it, &c, &err), 1);
		assert_int_equal(c.kind, kinds[i]);
	}
	assert_int_equal(c.trunc_n, 2);
	assert_int_equal(txn_change_trunc_rel(&c, 0), 1);
	assert_int_equal(txn_change_next(it, &c, &err), 0);
	txn_entry_free(e);

	/* A non-final chunk must not carry the txn id. */
	pgq_buf_consume(&b, b.len);
	build_chunk(&b, false);
	assert_roundtrip(&b);
	b.data[3] |= TXN_FLAG_FINAL;	/* final without a txn id */
	assert_non_null(txn_entry_decode(pgq_buf_head(&b), b.len, &e));
	pgq_buf_free(&b);
	free(it);
}

static void
test_other_kinds_roundtrip(void **state)
{
	struct txn_sequence seqs[2] = {{S("public"), S("t_id_seq"), 1001},
	{S("s"), S("neg"), -5}};
	struct txn_entry stmt = {.kind = TXN_KIND_STATEMENT, .origin_node = 1,
	.dbname = S("postgres"), .txn_id = S("t1"), .sql = S("CREATE DATABASE x"),
	.role = S("alice")};
	struct txn_entry seq = {.kind = TXN_KIND_SEQUENCES, .origin_node = 1,
	.dbname = S("app"), .n_sequences = 2, .sequences = seqs};
	struct txn_entry abort_ = {.kind = TXN_KIND_ABORT, .origin_node = 1,
	.dbname = S("app"), .gid = S("pgq_1_4")};
	struct txn_entry *all[] = {&stmt, &seq, &abort_};
	struct txn_entry *e;

	for (int i = 0; i < 3; i++)
	{
		struct pgq_buf b;

		pgq_buf_init(&b, 1 << 20);
		assert_true(txn_entry_encode(all[i], &b));
		assert_roundtrip(&b);
		assert_null(txn_entry_decode(pgq_buf_head(&b), b.len, &e));
		assert_int_equal(e->kind, all[i]->kind);
		if (e->kind == TXN_KIND_SEQUENCES)
			assert_int_equal(e->sequences[1].last_value, -5);
		if (e->kind == TXN_KIND_STATEMENT)
			assert_true(e->role.len == 5 && memcmp(e->role.p, "alice", 5) == 0);
		txn_entry_free(e);
		pgq_buf_free(&b);
	}
}

static void
test_decode_refuses(void **state)
{
	struct pgq_buf b;
	struct txn_entry *e;
	uint8_t		save;
	/* Offsets into the chunk: version 0, kind 1, flags 2-3. */
	const size_t bad_at[] = {0, 1, 2};

	pgq_buf_init(&b, 1 << 20);
	build_chunk(&b, true);
	for (size_t i = 0; i < 3; i++)
	{
		save = b.data[bad_at[i]];
		b.data[bad_at[i]] = 0x7f;
		assert_non_null(txn_entry_decode(pgq_buf_head(&b), b.len, &e));
		b.data[bad_at[i]] = save;
	}
	/* Trailing byte. */
	assert_true(pgq_buf_append(&b, "", 1));
	assert_string_equal(txn_entry_decode(pgq_buf_head(&b), b.len, &e),
						"bytes after the last change");
	pgq_buf_free(&b);
}

/* ------------------------------------------------------------ SQL */

static struct txn_entry *
decoded_chunk(struct pgq_buf *b)
{
	struct txn_entry *e;

	pgq_buf_init(b, 1 << 20);
	build_chunk(b, true);
	assert_null(txn_entry_decode(pgq_buf_head(b), b->len, &e));
	return e;
}

static void
test_sql_changes(void **state)
{
	struct pgq_buf b;
	struct txn_entry *e = decoded_chunk(&b);
	struct txn_change_iter *it = malloc(sizeof(*it));
	struct txn_change c;
	struct txn_sql s;
	const char *err;
	const char *want[] = {
		"CREATE TABLE x ()",
		"INSERT INTO \"public\".\"t\" (\"id\", \"na\"\"me\", \"mood\") "
		"OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3)",
		"UPDATE ONLY \"public\".\"t\" SET \"id\" = $1, \"na\"\"me\" = $2 WHERE \"id\" = $3",
		"UPDATE ONLY \"s p\".\"nokey\" SET \"id\" = $1, \"na\"\"me\" = $2 WHERE ctid = "
		"(SELECT ctid FROM ONLY \"s p\".\"nokey\" WHERE \"id\" = $3 AND \"na\"\"me\" IS NULL "
		"AND \"mood\" = $4 LIMIT 1)",
		"DELETE FROM ONLY \"public\".\"t\" WHERE \"id\" = $1",
		"TRUNCATE ONLY \"s p\".\"nokey\", ONLY \"public\".\"t\" RESTART IDENTITY",
	};
	const int	nparams[] = {0, 3, 3, 4, 1, 0};
	const int	expect[] = {-1, -1, 1, 1, 1, -1};
	const bool	reusable[] = {false, true, true, true, true, false};	/* row statements */

	assert_true(txn_sql_init(&s));
	txn_change_iter_init(it, e);
	for (int i = 0; i < 6; i++)
	{
		assert_int_equal(txn_change_next(it, &c, &err), 1);
		assert_null(txn_sql_change(&s, e, &c));
		assert_string_equal(txn_sql_text(&s), want[i]);
		assert_int_equal(s.n_params, nparams[i]);
		assert_int_equal(s.expect_rows, expect[i]);
		assert_int_equal(s.reusable, reusable[i]);
		if (i == 1)
		{
			assert_string_equal(s.values[0], "1");
			assert_null(s.values[1]);	/* NULL */
			assert_string_equal(s.values[2], "sad");
			assert_int_equal(s.types[0], 23);
			assert_int_equal(s.types[2], 0);	/* user type: inferred */
			assert_int_equal(s.formats[0], 0);
		}
		if (i == 2)
			assert_string_equal(s.values[1], "it's");	/* never quoted in */
	}
	txn_sql_free(&s);
	txn_entry_free(e);
	pgq_buf_free(&b);
	free(it);
}

static void
test_sql_missing_key(void **state)
{
	struct pgq_buf b;
	struct txn_entry *e = decoded_chunk(&b);
	struct txn_tuple *t = calloc(1, sizeof(*t));
	struct txn_change c = {.kind = 'D', .relidx = 0, .old_kind = 'K', .old_tuple = t};
	struct txn_sql s;

	t->ncols = 3;
	set_val(t, 0, 'n', NULL);
	set_val(t, 1, 'n', NULL);
	set_val(t, 2, 'n', NULL);
	assert_true(txn_sql_init(&s));
	assert_non_null(strstr(txn_sql_change(&s, e, &c), "key column has no value"));
	txn_sql_free(&s);
	txn_entry_free(e);
	pgq_buf_free(&b);
	free(t);
}

static void
test_sql_sequence_and_statement(void **state)
{
	struct txn_sequence seq = {S("public"), S("t_id_seq"), 4200};
	struct txn_entry stmt = {.kind = TXN_KIND_STATEMENT, .sql = S("VACUUM t")};
	struct txn_sql s;

	assert_true(txn_sql_init(&s));
	assert_null(txn_sql_sequence(&s, &seq));
	assert_string_equal(txn_sql_text(&s),
						"SELECT pg_catalog.setval(pg_catalog.format('%I.%I', $1::text, "
						"$2::text)::regclass, $3::bigint, true)");
	assert_string_equal(s.values[1], "t_id_seq");
	assert_string_equal(s.values[2], "4200");
	assert_null(txn_sql_statement(&s, &stmt));
	assert_string_equal(txn_sql_text(&s), "VACUUM t");
	assert_int_equal(s.n_params, 0);
	txn_sql_free(&s);
}

/* Gids: what the primary makes parses back; anything else is refused. */
static void
test_gid(void **state)
{
	static const char *bad[] = {
		"pgq_1_2", "pgq_1_2_", "pgq__2_3", "pgq_1_2_3_4", "pgq_01_2_3", "pgq_1_+2_3",
		"pgq_1_2_3x", "pgq_1_18446744073709551616_3", "pgq_1_2_-3", "pg_1_2_3",
		"pgq_1_18c5f0a0_3", "pgq_", "",
	};
	char		gid[TXN_GID_MAX];
	uint64_t	node = 0,
				term = 0;
	int			n = txn_gid_format(gid, sizeof(gid), 3, UINT64_MAX, 42);

	assert_string_equal(gid, "pgq_3_18446744073709551615_42");
	assert_int_equal(n, (int) strlen(gid));
	assert_true(txn_gid_parse(gid, strlen(gid), &node, &term));
	assert_int_equal(node, 3);
	assert_true(term == UINT64_MAX);
	assert_true(txn_gid_parse("pgq_2_0_0", 9, &node, &term));
	assert_int_equal(node, 2);
	assert_int_equal(term, 0);
	/* Not NUL-terminated: only len bytes count. */
	assert_true(txn_gid_parse("pgq_2_7_1trailing", 9, &node, &term));
	assert_int_equal(term, 7);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(txn_gid_parse(bad[i], strlen(bad[i]), &node, &term));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunk_roundtrip),
		cmocka_unit_test(test_other_kinds_roundtrip),
		cmocka_unit_test(test_decode_refuses),
		cmocka_unit_test(test_sql_changes),
		cmocka_unit_test(test_sql_missing_key),
		cmocka_unit_test(test_sql_sequence_and_statement),
		cmocka_unit_test(test_gid),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
