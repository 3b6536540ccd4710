/*
 * capture_pgoutput.c
 *	  Strict decoder of pgoutput protocol 3 messages.  See
 *	  capture_pgoutput.h for the layouts and the validity rules.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "common/pgq_bytes.h"
#include "sync/capture_pgoutput.h"

/* Reads a NUL-terminated String of at most max bytes (NUL excluded). */
static struct txn_str
get_string(struct pgq_reader *r, uint32_t max)
{
	struct txn_str s = {"", 0};
	size_t		left = pgq_reader_left(r);
	size_t		scan = left < (size_t) max + 1 ? left : (size_t) max + 1;
	const uint8_t *nul;

	if (r->error)
		return s;
	nul = memchr(r->p, '\0', scan);
	if (nul == NULL)
	{
		r->error = true;
		return s;
	}
	s.p = (const char *) r->p;
	s.len = (uint32_t) (nul - r->p);
	r->p = nul + 1;
	return s;
}

static struct txn_str
get_namespace(struct pgq_reader *r)
{
	struct txn_str s = get_string(r, CAPTURE_PGO_NAME_MAX);

	if (!r->error && s.len == 0)
	{
		s.p = "pg_catalog";
		s.len = 10;
	}
	return s;
}

static const char *
get_tuple(struct pgq_reader *r, struct txn_tuple *t)
{
	t->ncols = pgq_read_u16(r);
	if (r->error)
		return "truncated TupleData";
	if (t->ncols > TXN_MAX_COLS)
		return "too many columns in TupleData";
	for (uint16_t i = 0; i < t->ncols; i++)
	{
		struct txn_value *v = &t->vals[i];

		v->kind = pgq_read_u8(r);
		v->len = 0;
		v->data = NULL;
		if (v->kind == TXN_VAL_TEXT || v->kind == TXN_VAL_BINARY)
		{
			v->len = pgq_read_u32(r);
			if (v->len > TXN_VALUE_MAX)
				return "column value too long";
			v->data = pgq_read_bytes(r, v->len);
		}
		else if (v->kind != TXN_VAL_NULL && v->kind != TXN_VAL_UNCHANGED)
			return r->error ? "truncated TupleData" : "unknown column kind in TupleData";
		if (r->error)
			return "truncated column value";
	}
	return NULL;
}

/* Reads "u8 flags, u64, u64, u64, u32 xid, String gid" (P, K). */
static const char *
get_prepare_like(struct pgq_reader *r, struct capture_pgo_msg *m)
{
	m->flags = pgq_read_u8(r);
	m->lsn = pgq_read_u64(r);
	m->end_lsn = pgq_read_u64(r);
	m->ts = (int64_t) pgq_read_u64(r);
	m->xid = pgq_read_u32(r);
	m->gid = get_string(r, CAPTURE_PGO_NAME_MAX);
	if (m->flags != 0)
		return "unknown flags";
	return NULL;
}

static const char *
dec_begin(struct pgq_reader *r, struct capture_pgo_msg *m)
{
	m->lsn = pgq_read_u64(r);
	m->ts = (int64_t) pgq_read_u64(r);
	m->xid = pgq_read_u32(r);
	return NULL;
}

static const char *
dec_commit(struct pgq_reader *r, struct capture_pgo_msg *m)
{
	m->flags = pgq_read_u8(r);
	m->lsn = pgq_read_u64(r);
	m->end_lsn = pgq_read_u64(r);
	m->ts = (int64_t) pgq_read_u64(r);
	return m->flags != 0 ? "unknown flags" : NULL;
}

static const char *
dec_begin_prepare(struct pgq_reader *r, struct capture_pgo_msg *m)
{
	m->lsn = pgq_read_u64(r);
	m->end_lsn = pgq_read_u64(r);
	m->ts = (int64_t) pgq_read_u64(r);
	m->xid = pgq_read_u32(r);
	m->gid = get_string(r, CAPTURE_PGO_NAME_MAX);
	return NULL;
}

static const char *
dec_prepare(struct pgq_reader *r, struct capture_pgo_msg *m)
{
	return get_prepare_like(r, m);
}

static const char *
dec_rollback_prepared(struct pgq_reader *r, struct capture_pgo_msg *m)
{
	m->flags = pgq_read_u8(r);
	m->lsn = pgq_read_u64(r);
	m->end_lsn = pgq_read_u64(r);
	m->ts = (int64_t) pgq_read_u64(r);
	m->ts2 = (int64_t) pgq_read_u64(r);
	m->xid = pgq_read_u32(r);
	m->gid = get_string(r, CAPTURE_PGO_NAME_MAX);
	return m->flags != 0 ? "unknown flags" : NULL;
}

static const char *
dec_origin(struct pgq_reader *r, struct capture_pgo_msg *m)
{
	m->lsn = pgq_read_u64(r);
	m->name = get_string(r, CAPTURE_PGO_NAME_MAX);
	return NULL;
}

static const char *
dec_message(struct pgq_reader *r, struct capture_pgo_msg *m)
{
	m->flags = pgq_read_u8(r);
	m->lsn = pgq_read_u64(r);
	m->name = get_string(r, CAPTURE_PGO_PREFIX_MAX);
	m->content_len = pgq_read_u32(r);
	if (r->error)
		return "truncated header";
	if ((m->flags & ~CAPTURE_PGO_MSG_TRANSACTIONAL) != 0)
		return "unknown flags";
	m->content = pgq_read_bytes(r, m->content_len);
	return NULL;
}

static const char *
dec_relation(struct pgq_reader *r, struct capture_pgo_msg *m)
{
	struct txn_relation *rel = &m->rel;

	m->relid = rel->relid = pgq_read_u32(r);
	rel->schema = get_namespace(r);
	rel->name = get_string(r, CAPTURE_PGO_NAME_MAX);
	rel->replident = pgq_read_u8(r);
	rel->ncols = pgq_read_u16(r);
	rel->cols = m->cols;
	if (r->error)
		return "truncated header";
	if (rel->replident == '\0' || strchr("dnfi", rel->replident) == NULL)
		return "unknown replica identity";
	if (rel->name.len == 0 || rel->ncols > TXN_MAX_COLS)
		return "empty name or too many columns";
	for (uint16_t i = 0; i < rel->ncols && !r->error; i++)
	{
		struct txn_column *c = &m->cols[i];

		c->flags = pgq_read_u8(r);
		c->name = get_string(r, CAPTURE_PGO_NAME_MAX);
		c->typoid = pgq_read_u32(r);
		c->typmod = (int32_t) pgq_read_u32(r);
		if (!r->error && ((c->flags & ~TXN_COL_KEY) != 0 || c->name.len == 0))
			return "bad column flags or empty column name";
	}
	return NULL;
}

static const char *
dec_type(struct pgq_reader *r, struct capture_pgo_msg *m)
{
	m->relid = pgq_read_u32(r);
	m->rel.schema = get_namespace(r);
	m->rel.name = get_string(r, CAPTURE_PGO_NAME_MAX);
	return NULL;
}

static const char *
dec_insert(struct pgq_reader *r, struct capture_pgo_msg *m)
{
	m->relid = pgq_read_u32(r);
	m->old_kind = TXN_OLD_NONE;
	if (pgq_read_u8(r) != 'N')
		return r->error ? "truncated" : "expected 'N' before the new tuple";
	return get_tuple(r, &m->new_tuple);
}

static const char *
dec_update(struct pgq_reader *r, struct capture_pgo_msg *m)
{
	const char *err;
	uint8_t		kind;

	m->relid = pgq_read_u32(r);
	kind = pgq_read_u8(r);
	m->old_kind = TXN_OLD_NONE;
	if (kind == TXN_OLD_KEY || kind == TXN_OLD_FULL)
	{
		m->old_kind = kind;
		if ((err = get_tuple(r, &m->old_tuple)) != NULL)
			return err;
		kind = pgq_read_u8(r);
	}
	if (kind != 'N')
		return r->error ? "truncated" : "expected 'K', 'O' or 'N'";
	if ((err = get_tuple(r, &m->new_tuple)) != NULL)
		return err;
	if (m->old_kind != TXN_OLD_NONE && m->old_tuple.ncols != m->new_tuple.ncols)
		return "old and new tuples differ in column count";
	return NULL;
}

static const char *
dec_delete(struct pgq_reader *r, struct capture_pgo_msg *m)
{
	m->relid = pgq_read_u32(r);
	m->old_kind = pgq_read_u8(r);
	if (m->old_kind != TXN_OLD_KEY && m->old_kind != TXN_OLD_FULL)
		return r->error ? "truncated" : "expected 'K' or 'O'";
	return get_tuple(r, &m->old_tuple);
}

static const char *
dec_truncate(struct pgq_reader *r, struct capture_pgo_msg *m)
{
	m->trunc_n = pgq_read_u32(r);
	m->flags = pgq_read_u8(r);
	if (r->error)
		return "truncated header";
	if ((m->flags & ~(TXN_TRUNC_CASCADE | TXN_TRUNC_RESTART)) != 0)
		return "unknown options";
	if (m->trunc_n == 0 || m->trunc_n > pgq_reader_left(r) / 4)
		return "bad relation count";
	m->trunc_relids = pgq_read_bytes(r, 4 * (size_t) m->trunc_n);
	return NULL;
}

typedef const char *(*dec_fn) (struct pgq_reader *r, struct capture_pgo_msg *m);

static const struct
{
	uint8_t		type;
	const char *name;
	dec_fn		decode;
}			dec_table[] =
{
	{CAPTURE_PGO_BEGIN, "Begin", dec_begin},
	{CAPTURE_PGO_COMMIT, "Commit", dec_commit},
	{CAPTURE_PGO_BEGIN_PREPARE, "BeginPrepare", dec_begin_prepare},
	{CAPTURE_PGO_PREPARE, "Prepare", dec_prepare},
	{CAPTURE_PGO_COMMIT_PREPARED, "CommitPrepared", dec_prepare},
	{CAPTURE_PGO_ROLLBACK_PREPARED, "RollbackPrepared", dec_rollback_prepared},
	{CAPTURE_PGO_ORIGIN, "Origin", dec_origin},
	{CAPTURE_PGO_MESSAGE, "Message", dec_message},
	{CAPTURE_PGO_RELATION, "Relation", dec_relation},
	{CAPTURE_PGO_TYPE, "Type", dec_type},
	{CAPTURE_PGO_INSERT, "Insert", dec_insert},
	{CAPTURE_PGO_UPDATE, "Update", dec_update},
	{CAPTURE_PGO_DELETE, "Delete", dec_delete},
	{CAPTURE_PGO_TRUNCATE, "Truncate", dec_truncate},
};

static int
dec_find(uint8_t type)
{
	for (size_t i = 0; i < PGQ_LENGTHOF(dec_table); i++)
		if (dec_table[i].type == type)
			return (int) i;
	return -1;
}

const char *
capture_pgo_type_name(uint8_t type)
{
	int			i = dec_find(type);

	return i < 0 ? "unknown" : dec_table[i].name;
}

/* "pgoutput <Type>: <what>", in a per-thread buffer. */
static const char *
with_type(int i, const char *err)
{
	static _Thread_local char msg[160];

	snprintf(msg, sizeof(msg), "pgoutput %s: %s", dec_table[i].name, err);
	return msg;
}

const char *
capture_pgo_decode(const uint8_t *buf, size_t len, struct capture_pgo_msg *m)
{
	struct pgq_reader r;
	const char *err;
	int			i;

	if (len == 0)
		return "pgoutput: empty message";
	if (len > CAPTURE_PGO_MSG_MAX)
		return "pgoutput: message too large";
	i = dec_find(buf[0]);
	if (i < 0)
		return strchr("SEcAp", buf[0]) && buf[0] != '\0' ?
			"pgoutput: streaming message, but streaming is off" :
			"pgoutput: unknown message type";
	m->type = buf[0];
	m->flags = 0;
	m->gid.p = m->name.p = "";
	m->gid.len = m->name.len = 0;
	pgq_reader_init(&r, buf + 1, len - 1);
	err = dec_table[i].decode(&r, m);
	if (err == NULL && r.error)
		err = "truncated, or a string without its NUL or too long";
	if (err == NULL && !pgq_reader_done(&r))
		err = "trailing bytes";
	return err ? with_type(i, err) : NULL;
}

uint32_t
capture_pgo_truncate_relid(const struct capture_pgo_msg *m, uint32_t i)
{
	PGQ_ASSERT(m->type == CAPTURE_PGO_TRUNCATE && i < m->trunc_n);
	return pgq_get_u32(m->trunc_relids + 4 * (size_t) i);
}
