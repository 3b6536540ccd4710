/*
 * test_pgoutput.c
 *	  Proves that the pgoutput decoder reads every message type of protocol
 *	  3 (two_phase, messages) from hand-built byte vectors, refuses every
 *	  truncation and malformation with an error instead of reading past the
 *	  end, and that the assembler turns a decoded stream into the right
 *	  entries: changes in stream order, txn id on the final chunk, origin
 *	  and foreign transactions skipped, large transactions cut into
 *	  bounded chunks that each decode on their own.
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

#include "common/pgq_bytes.h"
#include "sync/capture_assemble.h"
#include "sync/capture_pgoutput.h"

/* A byte-vector builder for pgoutput messages. */
struct vec
{
	uint8_t		b[65536];
	size_t		n;
};

static void
v_u8(struct vec *v, uint8_t x)
{
	v->b[v->n++] = x;
}

static void
v_u16(struct vec *v, uint16_t x)
{
	pgq_put_u16(v->b + v->n, x);
	v->n += 2;
}

static void
v_u32(struct vec *v, uint32_t x)
{
	pgq_put_u32(v->b + v->n, x);
	v->n += 4;
}

static void
v_u64(struct vec *v, uint64_t x)
{
	pgq_put_u64(v->b + v->n, x);
	v->n += 8;
}

static void
v_str(struct vec *v, const char *s)
{
	memcpy(v->b + v->n, s, strlen(s) + 1);
	v->n += strlen(s) + 1;
}

static void
v_text(struct vec *v, const char *s)
{
	v_u8(v, 't');
	v_u32(v, (uint32_t) strlen(s));
	memcpy(v->b + v->n, s, strlen(s));
	v->n += strlen(s);
}

static struct capture_pgo_msg *msg;

static int
setup(void **state)
{
	msg = malloc(sizeof(*msg));
	return msg == NULL;
}

static int
teardown(void **state)
{
	free(msg);
	return 0;
}

static const char *
dec(const struct vec *v)
{
	return capture_pgo_decode(v->b, v->n, msg);
}

/* Every strict prefix of a valid message is refused. */
static void
assert_prefixes_fail(const struct vec *v)
{
	for (size_t n = 0; n < v->n; n++)
		assert_non_null(capture_pgo_decode(v->b, n, msg));
	assert_null(dec(v));
}

static void
mk_begin_prepare(struct vec *v, uint32_t xid, const char *gid)
{
	v_u8(v, 'b');
	v_u64(v, 0x100);
	v_u64(v, 0x200);
	v_u64(v, 777);
	v_u32(v, xid);
	v_str(v, gid);
}

static void
mk_prepare(struct vec *v, char type, uint32_t xid, const char *gid)
{
	v_u8(v, (uint8_t) type);
	v_u8(v, 0);
	v_u64(v, 0x100);
	v_u64(v, 0x200);
	v_u64(v, 888);
	v_u32(v, xid);
	v_str(v, gid);
}

static void
mk_relation(struct vec *v, uint32_t relid, const char *nsp, const char *name, char ident)
{
	v_u8(v, 'R');
	v_u32(v, relid);
	v_str(v, nsp);
	v_str(v, name);
	v_u8(v, (uint8_t) ident);
	v_u16(v, 3);
	v_u8(v, 1);
	v_str(v, "id");
	v_u32(v, 23);
	v_u32(v, UINT32_MAX);
	v_u8(v, 0);
	v_str(v, "note");
	v_u32(v, 25);
	v_u32(v, UINT32_MAX);
	v_u8(v, 0);
	v_str(v, "big");
	v_u32(v, 17);
	v_u32(v, UINT32_MAX);
}

/* A 3-column tuple: id text, note null, big as given ('u' or text). */
static void
mk_tuple(struct vec *v, const char *id, bool big_unchanged)
{
	v_u16(v, 3);
	v_text(v, id);
	v_u8(v, 'n');
	if (big_unchanged)
		v_u8(v, 'u');
	else
		v_text(v, "\\x00ff");
}

static void
mk_insert(struct vec *v, uint32_t relid, const char *id)
{
	v_u8(v, 'I');
	v_u32(v, relid);
	v_u8(v, 'N');
	mk_tuple(v, id, false);
}

static void
mk_message(struct vec *v, uint8_t flags, const char *prefix, const char *content)
{
	v_u8(v, 'M');
	v_u8(v, flags);
	v_u64(v, 0x150);
	v_str(v, prefix);
	v_u32(v, (uint32_t) strlen(content));
	memcpy(v->b + v->n, content, strlen(content));
	v->n += strlen(content);
}

static void
test_transaction_control(void **state)
{
	struct vec	v = {.n = 0};

	mk_begin_prepare(&v, 42, "pgq_1_7");
	assert_prefixes_fail(&v);
	assert_int_equal(msg->type, 'b');
	assert_int_equal(msg->lsn, 0x100);
	assert_int_equal(msg->end_lsn, 0x200);
	assert_int_equal(msg->ts, 777);
	assert_int_equal(msg->xid, 42);
	assert_int_equal(msg->gid.len, 7);
	assert_memory_equal(msg->gid.p, "pgq_1_7", 7);

	v.n = 0;
	mk_prepare(&v, 'P', 42, "pgq_1_7");
	assert_prefixes_fail(&v);
	assert_int_equal(msg->ts, 888);

	v.n = 0;
	mk_prepare(&v, 'K', 42, "pgq_1_7");
	assert_null(dec(&v));
	assert_int_equal(msg->type, 'K');

	v.n = 0;
	v_u8(&v, 'r');
	v_u8(&v, 0);
	v_u64(&v, 1);
	v_u64(&v, 2);
	v_u64(&v, 3);
	v_u64(&v, 4);
	v_u32(&v, 5);
	v_str(&v, "g");
	assert_prefixes_fail(&v);
	assert_int_equal(msg->ts2, 4);
	assert_int_equal(msg->xid, 5);

	v.n = 0;
	v_u8(&v, 'B');
	v_u64(&v, 9);
	v_u64(&v, 10);
	v_u32(&v, 11);
	assert_prefixes_fail(&v);
	assert_int_equal(msg->xid, 11);

	v.n = 0;
	v_u8(&v, 'C');
	v_u8(&v, 0);
	v_u64(&v, 1);
	v_u64(&v, 2);
	v_u64(&v, 3);
	assert_prefixes_fail(&v);
	v.b[1] = 1;
	assert_non_null(dec(&v));	/* unknown flags */

	v.n = 0;
	v_u8(&v, 'O');
	v_u64(&v, 99);
	v_str(&v, "pgquorum_apply");
	assert_prefixes_fail(&v);
	assert_int_equal(msg->name.len, 14);
}

static void
test_relation_and_type(void **state)
{
	struct vec	v = {.n = 0};

	mk_relation(&v, 16384, "public", "t", 'd');
	assert_prefixes_fail(&v);
	assert_int_equal(msg->relid, 16384);
	assert_int_equal(msg->rel.ncols, 3);
	assert_int_equal(msg->rel.replident, 'd');
	assert_int_equal(msg->rel.cols[0].flags, TXN_COL_KEY);
	assert_int_equal(msg->rel.cols[2].typoid, 17);
	assert_int_equal(msg->rel.cols[2].typmod, -1);
	assert_memory_equal(msg->rel.cols[1].name.p, "note", 4);

	v.n = 0;
	mk_relation(&v, 1, "", "t", 'x');
	assert_non_null(dec(&v));	/* unknown replica identity */

	v.n = 0;
	v_u8(&v, 'Y');
	v_u32(&v, 16500);
	v_str(&v, "");
	v_str(&v, "mood");
	assert_prefixes_fail(&v);
	assert_int_equal(msg->rel.schema.len, 10);	/* "" means pg_catalog */
	assert_memory_equal(msg->rel.schema.p, "pg_catalog", 10);
}

static void
test_row_changes(void **state)
{
	struct vec	v = {.n = 0};

	mk_insert(&v, 7, "1");
	assert_prefixes_fail(&v);
	assert_int_equal(msg->new_tuple.ncols, 3);
	assert_int_equal(msg->new_tuple.vals[0].kind, 't');
	assert_int_equal(msg->new_tuple.vals[1].kind, 'n');
	assert_memory_equal(msg->new_tuple.vals[2].data, "\\x00ff", 6);

	/* Update with old key, then with old full row, then with none. */
	for (int k = 0; k < 3; k++)
	{
		v.n = 0;
		v_u8(&v, 'U');
		v_u32(&v, 7);
		if (k < 2)
		{
			v_u8(&v, k == 0 ? 'K' : 'O');
			mk_tuple(&v, "1", false);
		}
		v_u8(&v, 'N');
		mk_tuple(&v, "2", true);
		assert_prefixes_fail(&v);
		assert_int_equal(msg->old_kind, k == 0 ? 'K' : k == 1 ? 'O' : 0);
		assert_int_equal(msg->new_tuple.vals[2].kind, 'u');
	}

	v.n = 0;
	v_u8(&v, 'D');
	v_u32(&v, 7);
	v_u8(&v, 'O');
	mk_tuple(&v, "1", false);
	assert_prefixes_fail(&v);
	assert_int_equal(msg->old_kind, 'O');

	v.n = 0;
	v_u8(&v, 'T');
	v_u32(&v, 2);
	v_u8(&v, TXN_TRUNC_CASCADE | TXN_TRUNC_RESTART);
	v_u32(&v, 7);
	v_u32(&v, 8);
	assert_prefixes_fail(&v);
	assert_int_equal(msg->trunc_n, 2);
	assert_int_equal(capture_pgo_truncate_relid(msg, 1), 8);
}

static void
test_message(void **state)
{
	struct vec	v = {.n = 0};

	mk_message(&v, 1, "pgquorum.ddl", "CREATE TABLE x ()");
	assert_prefixes_fail(&v);
	assert_int_equal(msg->flags, CAPTURE_PGO_MSG_TRANSACTIONAL);
	assert_int_equal(msg->content_len, 17);
	assert_int_equal(msg->name.len, 12);
	v.b[1] = 2;
	assert_non_null(dec(&v));	/* unknown flag */
}

static void
test_malformed(void **state)
{
	struct vec	v = {.n = 0};
	const char *err;

	v_u8(&v, 'Z');
	assert_string_equal(dec(&v), "pgoutput: unknown message type");
	v.b[0] = 'S';
	assert_string_equal(dec(&v), "pgoutput: streaming message, but streaming is off");
	assert_non_null(capture_pgo_decode(v.b, 0, msg));

	v.n = 0;
	mk_insert(&v, 7, "1");
	v_u8(&v, 0);
	err = dec(&v);
	assert_non_null(err);
	assert_non_null(strstr(err, "Insert"));
	assert_non_null(strstr(err, "trailing"));

	v.n = 0;
	mk_insert(&v, 7, "1");
	v.b[5] = 'X';				/* not 'N' */
	assert_non_null(dec(&v));

	v.n = 0;
	mk_insert(&v, 7, "1");
	v.b[8] = 'q';				/* first column kind */
	assert_non_null(strstr(dec(&v), "unknown column kind"));

	/* A value length far past the end is refused, not read. */
	v.n = 0;
	v_u8(&v, 'I');
	v_u32(&v, 7);
	v_u8(&v, 'N');
	v_u16(&v, 1);
	v_u8(&v, 't');
	v_u32(&v, 0x7fffffff);
	assert_non_null(dec(&v));

	/* A Truncate claiming more relations than bytes. */
	v.n = 0;
	v_u8(&v, 'T');
	v_u32(&v, 1000000);
	v_u8(&v, 0);
	v_u32(&v, 1);
	assert_non_null(dec(&v));

	/* A string without its NUL. */
	v.n = 0;
	v_u8(&v, 'O');
	v_u64(&v, 1);
	memcpy(v.b + v.n, "abc", 3);
	v.n += 3;
	assert_non_null(dec(&v));
}

/* ------------------------------------------------------------ assembly */

struct got
{
	int			n;
	uint8_t    *data[64];
	size_t		len[64];
	bool		final[64];
	uint32_t	seq[64];
};

static void
on_chunk(void *arg, const struct capture_chunk *c)
{
	struct got *g = arg;

	assert_true(g->n < 64);
	g->data[g->n] = malloc(c->len);
	memcpy(g->data[g->n], c->data, c->len);
	g->len[g->n] = c->len;
	g->final[g->n] = c->final;
	g->seq[g->n] = c->seq;
	g->n++;
}

static void
got_free(struct got *g)
{
	for (int i = 0; i < g->n; i++)
		free(g->data[i]);
	g->n = 0;
}

static const char *
feed(struct capture_asm *a, const struct vec *v)
{
	const char *err = dec(v);

	assert_null(err);
	return capture_asm_feed(a, msg);
}

static void
feed_ok(struct capture_asm *a, const struct vec *v)
{
	const char *err = feed(a, v);

	if (err)
		fail_msg("%s", err);
}

static void
test_assemble_one(void **state)
{
	struct capture_asm_config cfg = {.origin_node = 3, .dbname = "app"};
	struct got	g = {0};
	struct capture_asm *a = capture_asm_new(&cfg, on_chunk, &g);
	struct vec	v;
	struct txn_entry *e;
	struct txn_change_iter *it = malloc(sizeof(*it));
	struct txn_change c;
	const char *err;
	const char	kinds[] = "XIT";

	v.n = 0; mk_relation(&v, 7, "public", "t", 'd'); feed_ok(a, &v);
	v.n = 0; mk_begin_prepare(&v, 42, "pgq_3_1"); feed_ok(a, &v);
	assert_false(capture_asm_idle(a));
	v.n = 0; mk_message(&v, 1, "pgquorum.ddl", "ALTER TABLE t ADD c int"); feed_ok(a, &v);
	v.n = 0; mk_insert(&v, 7, "5"); feed_ok(a, &v);
	v.n = 0; mk_message(&v, 1, "other", "ignored"); feed_ok(a, &v);
	v.n = 0; v_u8(&v, 'T'); v_u32(&v, 1); v_u8(&v, 2); v_u32(&v, 7); feed_ok(a, &v);
	v.n = 0; mk_message(&v, 1, "pgquorum", "txn-9"); feed_ok(a, &v);
	assert_int_equal(g.n, 0);
	v.n = 0; mk_prepare(&v, 'P', 42, "pgq_3_1"); feed_ok(a, &v);
	assert_true(capture_asm_idle(a));
	assert_int_equal(g.n, 1);
	assert_true(g.final[0]);

	assert_null(txn_entry_decode(g.data[0], g.len[0], &e));
	assert_int_equal(e->kind, TXN_KIND_CHUNK);
	assert_int_equal(e->origin_node, 3);
	assert_int_equal(e->lsn, 0x200);
	assert_memory_equal(e->gid.p, "pgq_3_1", 7);
	assert_memory_equal(e->txn_id.p, "txn-9", 5);
	assert_memory_equal(e->dbname.p, "app", 3);
	assert_int_equal(e->n_relations, 1);
	assert_int_equal(e->n_changes, 3);
	txn_change_iter_init(it, e);
	for (int i = 0; i < 3; i++)
	{
		assert_int_equal(txn_change_next(it, &c, &err), 1);
		assert_int_equal(c.kind, kinds[i]);
	}
	assert_int_equal(txn_change_next(it, &c, &err), 0);
	txn_entry_free(e);
	free(it);
	got_free(&g);
	capture_asm_free(a);
}

static void
test_assemble_skips(void **state)
{
	struct capture_asm_config cfg = {.origin_node = 1, .dbname = "app"};
	struct got	g = {0};
	struct capture_asm *a = capture_asm_new(&cfg, on_chunk, &g);
	struct capture_asm_stats st;
	struct vec	v;

	v.n = 0; mk_relation(&v, 7, "public", "t", 'd'); feed_ok(a, &v);
	/* Applied by our applier: Begin, Origin, rows, Commit. */
	v.n = 0; v_u8(&v, 'B'); v_u64(&v, 1); v_u64(&v, 2); v_u32(&v, 3); feed_ok(a, &v);
	v.n = 0; v_u8(&v, 'O'); v_u64(&v, 1); v_str(&v, "pgquorum"); feed_ok(a, &v);
	v.n = 0; mk_insert(&v, 7, "1"); feed_ok(a, &v);
	v.n = 0; v_u8(&v, 'C'); v_u8(&v, 0); v_u64(&v, 1); v_u64(&v, 2); v_u64(&v, 3); feed_ok(a, &v);
	/* A plain commit that bypassed the proxy. */
	v.n = 0; v_u8(&v, 'B'); v_u64(&v, 1); v_u64(&v, 2); v_u32(&v, 4); feed_ok(a, &v);
	v.n = 0; mk_insert(&v, 7, "2"); feed_ok(a, &v);
	v.n = 0; v_u8(&v, 'C'); v_u8(&v, 0); v_u64(&v, 1); v_u64(&v, 2); v_u64(&v, 3); feed_ok(a, &v);
	/* A prepared transaction with someone else's gid. */
	v.n = 0; mk_begin_prepare(&v, 5, "theirs"); feed_ok(a, &v);
	v.n = 0; mk_insert(&v, 7, "3"); feed_ok(a, &v);
	v.n = 0; mk_prepare(&v, 'P', 5, "theirs"); feed_ok(a, &v);
	v.n = 0; mk_prepare(&v, 'K', 5, "theirs"); feed_ok(a, &v);
	/* Ours, prepared under an origin (an applier that prepared). */
	v.n = 0; mk_begin_prepare(&v, 6, "pgq_2_1"); feed_ok(a, &v);
	v.n = 0; v_u8(&v, 'O'); v_u64(&v, 1); v_str(&v, "pgquorum"); feed_ok(a, &v);
	v.n = 0; mk_insert(&v, 7, "4"); feed_ok(a, &v);
	v.n = 0; mk_prepare(&v, 'P', 6, "pgq_2_1"); feed_ok(a, &v);
	assert_int_equal(g.n, 0);
	capture_asm_stats(a, &st);
	assert_int_equal(st.skipped_origin, 2);
	assert_int_equal(st.plain_commits, 1);
	assert_int_equal(st.unreplicated_writes, 1);
	assert_int_equal(st.skipped_foreign, 1);
	assert_int_equal(st.commit_prepared, 1);
	assert_int_equal(st.relations_cached, 1);

	/* Errors: ours without a txn id; a change before its relation. */
	v.n = 0; mk_begin_prepare(&v, 8, "pgq_2_2"); feed_ok(a, &v);
	v.n = 0; mk_insert(&v, 7, "5"); feed_ok(a, &v);
	v.n = 0; mk_prepare(&v, 'P', 8, "pgq_2_2");
	assert_non_null(strstr(feed(a, &v), "carries no 'pgquorum' message"));
	capture_asm_reset(a);
	v.n = 0; mk_begin_prepare(&v, 9, "pgq_2_3"); feed_ok(a, &v);
	v.n = 0; mk_insert(&v, 99, "5");
	assert_non_null(strstr(feed(a, &v), "before its Relation"));
	capture_asm_reset(a);
	v.n = 0; mk_insert(&v, 7, "5");
	assert_non_null(feed(a, &v));	/* outside a transaction */
	capture_asm_free(a);
}

/* 2000 rows with chunks of about 4 KB: many chunks, each valid alone. */
static void
test_assemble_chunks(void **state)
{
	struct capture_asm_config cfg = {.dbname = "app", .chunk_bytes = 4096,
	.max_entry_bytes = 8192};
	struct got	g = {0};
	struct capture_asm *a = capture_asm_new(&cfg, on_chunk, &g);
	struct vec	v;
	uint32_t	total = 0;

	v.n = 0; mk_relation(&v, 7, "public", "t", 'd'); feed_ok(a, &v);
	v.n = 0; mk_begin_prepare(&v, 42, "pgq_1_1"); feed_ok(a, &v);
	for (int i = 0; i < 2000; i++)
	{
		char		id[16];

		snprintf(id, sizeof(id), "%d", i);
		v.n = 0; mk_insert(&v, 7, id); feed_ok(a, &v);
	}
	v.n = 0; mk_message(&v, 1, "pgquorum", "big"); feed_ok(a, &v);
	v.n = 0; mk_prepare(&v, 'P', 42, "pgq_1_1"); feed_ok(a, &v);
	assert_true(g.n > 5);
	for (int i = 0; i < g.n; i++)
	{
		struct txn_entry *e;

		assert_true(g.len[i] <= 8192);
		assert_int_equal(g.seq[i], i);
		assert_int_equal(g.final[i], i == g.n - 1);
		assert_null(txn_entry_decode(g.data[i], g.len[i], &e));
		assert_int_equal(e->n_relations, 1);
		assert_int_equal(e->txn_id.len, i == g.n - 1 ? 3 : 0);
		total += e->n_changes;
		txn_entry_free(e);
	}
	assert_int_equal(total, 2000);
	got_free(&g);
	capture_asm_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transaction_control),
		cmocka_unit_test(test_relation_and_type),
		cmocka_unit_test(test_row_changes),
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_assemble_one),
		cmocka_unit_test(test_assemble_skips),
		cmocka_unit_test(test_assemble_chunks),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
