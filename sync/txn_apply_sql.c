/*
 * txn_apply_sql.c
 *	  Parameterized SQL for captured changes.  See txn_apply_sql.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "sync/txn_apply_sql.h"

#define OID_INT8	20
#define OID_TEXT	25

/* Builder state: text and parameters, with a sticky failure. */
struct sqlb
{
	struct txn_sql *s;
	const char *err;
};

static void
emit(struct sqlb *b, const char *p, size_t n)
{
	if (n > 0 && b->err == NULL && !pgq_buf_append(&b->s->text, p, n))
		b->err = "statement too large or out of memory";
}

static void
emits(struct sqlb *b, const char *str)
{
	emit(b, str, strlen(str));
}

static void
emit_ident(struct sqlb *b, struct txn_str id)
{
	if (memchr(id.p, '\0', id.len) != NULL)
	{
		if (b->err == NULL)
			b->err = "identifier contains a NUL byte";
		return;
	}
	emits(b, "\"");
	for (uint32_t i = 0; i < id.len; i++)
		emit(b, id.p[i] == '"' ? "\"\"" : &id.p[i], id.p[i] == '"' ? 2 : 1);
	emits(b, "\"");
}

static void
emit_rel(struct sqlb *b, const struct txn_relation *rel)
{
	emit_ident(b, rel->schema);
	emits(b, ".");
	emit_ident(b, rel->name);
}

/* Adds a parameter and writes "$n" into the statement. */
static void
emit_param(struct sqlb *b, const struct txn_value *v, uint32_t typoid)
{
	struct txn_sql *s = b->s;
	int			n = s->n_params;
	char		ref[16];

	PGQ_ASSERT(n < TXN_SQL_MAX_PARAMS);
	PGQ_ASSERT(v->kind != TXN_VAL_UNCHANGED);
	s->types[n] = typoid < TXN_SQL_FIRST_NORMAL_OID ? typoid : 0;
	s->formats[n] = v->kind == TXN_VAL_BINARY ? 1 : 0;
	s->lengths[n] = v->kind == TXN_VAL_NULL ? 0 : (int) v->len;
	s->offsets[n] = SIZE_MAX;
	if (v->kind != TXN_VAL_NULL)
	{
		s->offsets[n] = s->data.len;
		if ((v->len > 0 && !pgq_buf_append(&s->data, v->data, v->len)) ||
			!pgq_buf_append(&s->data, "", 1))
			b->err = "parameters too large or out of memory";
	}
	s->n_params = n + 1;
	snprintf(ref, sizeof(ref), "$%d", n + 1);
	emits(b, ref);
}

static void
begin(struct sqlb *b, struct txn_sql *s)
{
	b->s = s;
	b->err = NULL;
	pgq_buf_consume(&s->text, s->text.len);
	pgq_buf_consume(&s->data, s->data.len);
	s->n_params = 0;
	s->expect_rows = -1;
	s->reusable = false;
}

/* Terminate the text and point the values into the (final) data buffer. */
static const char *
finish(struct sqlb *b)
{
	struct txn_sql *s = b->s;

	emit(b, "", 1);
	if (b->err != NULL)
		return b->err;
	for (int i = 0; i < s->n_params; i++)
		s->values[i] = s->offsets[i] == SIZE_MAX ? NULL :
			(const char *) pgq_buf_head(&s->data) + s->offsets[i];
	return NULL;
}

static void
emit_insert(struct sqlb *b, const struct txn_relation *rel, const struct txn_tuple *t)
{
	emits(b, "INSERT INTO ");
	emit_rel(b, rel);
	emits(b, " (");
	for (uint16_t i = 0; i < rel->ncols; i++)
	{
		emits(b, i ? ", " : "");
		emit_ident(b, rel->cols[i].name);
	}
	emits(b, ") OVERRIDING SYSTEM VALUE VALUES (");
	for (uint16_t i = 0; i < rel->ncols; i++)
	{
		emits(b, i ? ", " : "");
		emit_param(b, &t->vals[i], rel->cols[i].typoid);
	}
	emits(b, ")");
}

/* "c1" = $n AND "c2" IS NULL ... over the columns chosen by full/key. */
static void
emit_match(struct sqlb *b, const struct txn_relation *rel, const struct txn_tuple *t,
		   bool full)
{
	bool		first = true;

	for (uint16_t i = 0; i < rel->ncols; i++)
	{
		const struct txn_value *v = &t->vals[i];

		if (!full && (rel->cols[i].flags & TXN_COL_KEY) == 0)
			continue;
		if (v->kind == TXN_VAL_UNCHANGED || (!full && v->kind == TXN_VAL_NULL))
		{
			if (!full && b->err == NULL)
				b->err = "a key column has no value (null or unchanged TOAST)";
			continue;
		}
		emits(b, first ? "" : " AND ");
		first = false;
		emit_ident(b, rel->cols[i].name);
		if (v->kind == TXN_VAL_NULL)
			emits(b, " IS NULL");
		else
		{
			emits(b, " = ");
			emit_param(b, v, rel->cols[i].typoid);
		}
	}
	if (first && b->err == NULL)
		b->err = "no column to identify the row (no replica identity)";
}

/* WHERE for UPDATE/DELETE: the key, or one row matching every old column. */
static void
emit_where(struct sqlb *b, const struct txn_relation *rel, const struct txn_tuple *old,
		   const struct txn_tuple *key_from, bool full)
{
	emits(b, " WHERE ");
	if (!full)
	{
		emit_match(b, rel, key_from, false);
		return;
	}
	emits(b, "ctid = (SELECT ctid FROM ONLY ");
	emit_rel(b, rel);
	emits(b, " WHERE ");
	emit_match(b, rel, old, true);
	emits(b, " LIMIT 1)");
}

static void
emit_update(struct sqlb *b, const struct txn_relation *rel, const struct txn_change *c)
{
	const struct txn_tuple *t = c->new_tuple;
	bool		first = true;
	bool		full = c->old_kind == TXN_OLD_FULL;

	emits(b, "UPDATE ONLY ");
	emit_rel(b, rel);
	emits(b, " SET ");
	for (uint16_t i = 0; i < rel->ncols; i++)
	{
		if (t->vals[i].kind == TXN_VAL_UNCHANGED)
			continue;
		emits(b, first ? "" : ", ");
		first = false;
		emit_ident(b, rel->cols[i].name);
		emits(b, " = ");
		emit_param(b, &t->vals[i], rel->cols[i].typoid);
	}
	if (first && b->err == NULL)
		b->err = "UPDATE with every column unchanged";
	emit_where(b, rel, c->old_tuple, c->old_kind == TXN_OLD_NONE ? t : c->old_tuple, full);
	b->s->expect_rows = 1;
}

static void
emit_delete(struct sqlb *b, const struct txn_relation *rel, const struct txn_change *c)
{
	emits(b, "DELETE FROM ONLY ");
	emit_rel(b, rel);
	emit_where(b, rel, c->old_tuple, c->old_tuple, c->old_kind == TXN_OLD_FULL);
	b->s->expect_rows = 1;
}

static void
emit_truncate(struct sqlb *b, const struct txn_entry *e, const struct txn_change *c)
{
	emits(b, "TRUNCATE ");
	for (uint32_t i = 0; i < c->trunc_n; i++)
	{
		emits(b, i ? ", ONLY " : "ONLY ");
		emit_rel(b, &e->relations[txn_change_trunc_rel(c, i)]);
	}
	if (c->trunc_options & TXN_TRUNC_RESTART)
		emits(b, " RESTART IDENTITY");
}

const char *
txn_sql_change(struct txn_sql *s, const struct txn_entry *e, const struct txn_change *c)
{
	struct sqlb b;
	const struct txn_relation *rel = NULL;

	PGQ_ASSERT(e->kind == TXN_KIND_CHUNK);
	begin(&b, s);
	if (c->kind == TXN_CH_INSERT || c->kind == TXN_CH_UPDATE || c->kind == TXN_CH_DELETE)
	{
		PGQ_ASSERT(c->relidx < e->n_relations);
		rel = &e->relations[c->relidx];
	}
	s->reusable = rel != NULL;
	switch (c->kind)
	{
		case TXN_CH_INSERT:
			emit_insert(&b, rel, c->new_tuple);
			break;
		case TXN_CH_UPDATE:
			emit_update(&b, rel, c);
			break;
		case TXN_CH_DELETE:
			emit_delete(&b, rel, c);
			break;
		case TXN_CH_TRUNCATE:
			emit_truncate(&b, e, c);
			break;
		case TXN_CH_DDL:
			if (memchr(c->ddl.p, '\0', c->ddl.len) != NULL)
				return "DDL text contains a NUL byte";
			emit(&b, c->ddl.p, c->ddl.len);
			break;
		default:
			PGQ_UNREACHABLE();
	}
	return finish(&b);
}

const char *
txn_sql_sequence(struct txn_sql *s, const struct txn_sequence *seq)
{
	struct sqlb b;
	char		num[24];
	struct txn_value v;

	begin(&b, s);
	emits(&b, "SELECT pg_catalog.setval(pg_catalog.format('%I.%I', ");
	v = (struct txn_value) {TXN_VAL_TEXT, seq->schema.len, (const uint8_t *) seq->schema.p};
	emit_param(&b, &v, OID_TEXT);
	emits(&b, "::text, ");
	v = (struct txn_value) {TXN_VAL_TEXT, seq->name.len, (const uint8_t *) seq->name.p};
	emit_param(&b, &v, OID_TEXT);
	emits(&b, "::text)::regclass, ");
	snprintf(num, sizeof(num), "%lld", (long long) seq->last_value);
	v = (struct txn_value) {TXN_VAL_TEXT, (uint32_t) strlen(num), (const uint8_t *) num};
	emit_param(&b, &v, OID_INT8);
	emits(&b, "::bigint, true)");
	if (memchr(seq->schema.p, '\0', seq->schema.len) || memchr(seq->name.p, '\0', seq->name.len))
		return "sequence name contains a NUL byte";
	return finish(&b);
}

const char *
txn_sql_statement(struct txn_sql *s, const struct txn_entry *e)
{
	struct sqlb b;

	PGQ_ASSERT(e->kind == TXN_KIND_STATEMENT);
	begin(&b, s);
	if (memchr(e->sql.p, '\0', e->sql.len) != NULL)
		return "statement text contains a NUL byte";
	emit(&b, e->sql.p, e->sql.len);
	return finish(&b);
}

bool
txn_sql_init(struct txn_sql *s)
{
	memset(s, 0, sizeof(*s));
	pgq_buf_init(&s->text, TXN_SQL_TEXT_BYTES_MAX);
	pgq_buf_init(&s->data, TXN_SQL_TEXT_BYTES_MAX);
	s->values = calloc(TXN_SQL_MAX_PARAMS, sizeof(*s->values));
	s->lengths = calloc(TXN_SQL_MAX_PARAMS, sizeof(*s->lengths));
	s->formats = calloc(TXN_SQL_MAX_PARAMS, sizeof(*s->formats));
	s->types = calloc(TXN_SQL_MAX_PARAMS, sizeof(*s->types));
	s->offsets = calloc(TXN_SQL_MAX_PARAMS, sizeof(*s->offsets));
	if (!s->values || !s->lengths || !s->formats || !s->types || !s->offsets)
	{
		txn_sql_free(s);
		return false;
	}
	return true;
}

void
txn_sql_free(struct txn_sql *s)
{
	pgq_buf_free(&s->text);
	pgq_buf_free(&s->data);
	free(s->values);
	free(s->lengths);
	free(s->formats);
	free(s->types);
	free(s->offsets);
	memset(s, 0, sizeof(*s));
}

const char *
txn_sql_text(const struct txn_sql *s)
{
	return (const char *) pgq_buf_head(&s->text);
}
