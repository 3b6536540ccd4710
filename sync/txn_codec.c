/*
 * txn_codec.c
 *	  Encoding and validation of captured-write log entries.  See
 *	  txn_codec.h for the format.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "common/pgq_bytes.h"
#include "sync/txn_codec.h"

/* Smallest encodings, to bound counts by the bytes left before allocating. */
#define REL_MIN_BYTES		(4 + 1 + 2 + 2 + 2)
#define COL_MIN_BYTES		(1 + 2 + 4 + 4)
#define SEQ_MIN_BYTES		(2 + 2 + 8)

/* ---------------------------------------------------------------- encode */

struct enc
{
	struct pgq_buf *b;
	bool		ok;
};

static void
put_bytes(struct enc *e, const void *p, size_t n)
{
	if (n > 0 && e->ok && !pgq_buf_append(e->b, p, n))
		e->ok = false;
}

static void
put_u8(struct enc *e, uint8_t v)
{
	put_bytes(e, &v, 1);
}

static void
put_u16(struct enc *e, uint16_t v)
{
	uint8_t		b[2];

	pgq_put_u16(b, v);
	put_bytes(e, b, 2);
}

static void
put_u32(struct enc *e, uint32_t v)
{
	uint8_t		b[4];

	pgq_put_u32(b, v);
	put_bytes(e, b, 4);
}

static void
put_u64(struct enc *e, uint64_t v)
{
	uint8_t		b[8];

	pgq_put_u64(b, v);
	put_bytes(e, b, 8);
}

static void
put_str16(struct enc *e, struct txn_str s)
{
	PGQ_ASSERT(s.len <= UINT16_MAX);
	put_u16(e, (uint16_t) s.len);
	put_bytes(e, s.p, s.len);
}

static void
put_str32(struct enc *e, const void *p, uint32_t len)
{
	put_u32(e, len);
	put_bytes(e, p, len);
}

static size_t
tuple_encoded_size(const struct txn_tuple *t)
{
	size_t		n = 2;

	for (uint16_t i = 0; i < t->ncols; i++)
	{
		const struct txn_value *v = &t->vals[i];

		n += 1;
		if (v->kind == TXN_VAL_TEXT || v->kind == TXN_VAL_BINARY)
			n += 4 + (size_t) v->len;
	}
	return n;
}

static void
put_tuple(struct enc *e, const struct txn_tuple *t)
{
	put_u16(e, t->ncols);
	for (uint16_t i = 0; i < t->ncols; i++)
	{
		const struct txn_value *v = &t->vals[i];

		put_u8(e, v->kind);
		if (v->kind == TXN_VAL_TEXT || v->kind == TXN_VAL_BINARY)
			put_str32(e, v->data, v->len);
	}
}

size_t
txn_change_encoded_size(const struct txn_change *c)
{
	switch (c->kind)
	{
		case TXN_CH_INSERT:
			return 1 + 4 + tuple_encoded_size(c->new_tuple);
		case TXN_CH_UPDATE:
			return 1 + 4 + 1 + tuple_encoded_size(c->new_tuple) +
				(c->old_kind != TXN_OLD_NONE ? tuple_encoded_size(c->old_tuple) : 0);
		case TXN_CH_DELETE:
			return 1 + 4 + 1 + tuple_encoded_size(c->old_tuple);
		case TXN_CH_TRUNCATE:
			return 1 + 1 + 4 + 4 * (size_t) c->trunc_n;
		case TXN_CH_DDL:
			return 1 + 4 + (size_t) c->ddl.len;
	}
	PGQ_UNREACHABLE();
}

static void
put_change(struct enc *e, const struct txn_change *c)
{
	put_u8(e, c->kind);
	switch (c->kind)
	{
		case TXN_CH_INSERT:
			put_u32(e, c->relidx);
			put_tuple(e, c->new_tuple);
			break;
		case TXN_CH_UPDATE:
			put_u32(e, c->relidx);
			put_u8(e, c->old_kind);
			if (c->old_kind != TXN_OLD_NONE)
				put_tuple(e, c->old_tuple);
			put_tuple(e, c->new_tuple);
			break;
		case TXN_CH_DELETE:
			put_u32(e, c->relidx);
			put_u8(e, c->old_kind);
			put_tuple(e, c->old_tuple);
			break;
		case TXN_CH_TRUNCATE:
			put_u8(e, c->trunc_options);
			put_u32(e, c->trunc_n);
			put_bytes(e, c->trunc_rels, 4 * (size_t) c->trunc_n);
			break;
		case TXN_CH_DDL:
			put_str32(e, c->ddl.p, c->ddl.len);
			break;
		default:
			PGQ_UNREACHABLE();
	}
}

bool
txn_change_encode(const struct txn_change *c, struct pgq_buf *out)
{
	struct enc	e = {out, true};

	put_change(&e, c);
	return e.ok;
}

size_t
txn_relation_encoded_size(const struct txn_relation *rel)
{
	size_t		n = 4 + 1 + 2 + rel->schema.len + 2 + rel->name.len + 2;

	for (uint16_t i = 0; i < rel->ncols; i++)
		n += 1 + 2 + rel->cols[i].name.len + 4 + 4;
	return n;
}

static void
put_relation(struct enc *e, const struct txn_relation *rel)
{
	put_u32(e, rel->relid);
	put_u8(e, rel->replident);
	put_str16(e, rel->schema);
	put_str16(e, rel->name);
	put_u16(e, rel->ncols);
	for (uint16_t i = 0; i < rel->ncols; i++)
	{
		put_u8(e, rel->cols[i].flags);
		put_str16(e, rel->cols[i].name);
		put_u32(e, rel->cols[i].typoid);
		put_u32(e, (uint32_t) rel->cols[i].typmod);
	}
}

size_t
txn_header_encoded_size(const struct txn_entry *h)
{
	return TXN_HEADER_FIXED_SIZE + 6 + h->dbname.len + h->gid.len + h->txn_id.len;
}

static void
put_header(struct enc *e, const struct txn_entry *h)
{
	put_u8(e, TXN_FORMAT_VERSION);
	put_u8(e, h->kind);
	put_u16(e, h->flags);
	put_u32(e, h->chunk_seq);
	put_u64(e, h->origin_node);
	put_str16(e, h->dbname);
	put_str16(e, h->gid);
	put_str16(e, h->txn_id);
}

void
txn_writer_init(struct txn_writer *w, size_t max_bytes)
{
	PGQ_ASSERT(max_bytes > 0 && max_bytes <= TXN_ENTRY_MAX_BYTES);
	pgq_buf_init(&w->rels, max_bytes);
	pgq_buf_init(&w->changes, max_bytes);
	w->n_relations = 0;
	w->n_changes = 0;
	w->max_bytes = max_bytes;
}

void
txn_writer_reset(struct txn_writer *w)
{
	pgq_buf_consume(&w->rels, w->rels.len);
	pgq_buf_consume(&w->changes, w->changes.len);
	w->n_relations = 0;
	w->n_changes = 0;
}

void
txn_writer_free(struct txn_writer *w)
{
	pgq_buf_free(&w->rels);
	pgq_buf_free(&w->changes);
	w->n_relations = 0;
	w->n_changes = 0;
}

size_t
txn_writer_size(const struct txn_writer *w)
{
	return TXN_CHUNK_BODY_FIXED + w->rels.len + w->changes.len;
}

bool
txn_writer_add_relation(struct txn_writer *w, const struct txn_relation *rel)
{
	size_t		before = w->rels.len;
	struct enc	e = {&w->rels, true};

	PGQ_ASSERT(rel->ncols >= 1 && rel->ncols <= TXN_MAX_COLS);
	if (w->n_relations >= TXN_MAX_RELATIONS)
		return false;
	put_relation(&e, rel);
	if (!e.ok || txn_writer_size(w) > w->max_bytes)
	{
		w->rels.len = before;
		return false;
	}
	w->n_relations++;
	return true;
}

bool
txn_writer_add_change(struct txn_writer *w, const struct txn_change *c)
{
	size_t		before = w->changes.len;
	struct enc	e = {&w->changes, true};

	PGQ_ASSERT(c->kind == TXN_CH_DDL || c->kind == TXN_CH_TRUNCATE ||
			   c->relidx < w->n_relations);
	if (txn_writer_size(w) + txn_change_encoded_size(c) > w->max_bytes)
		return false;
	put_change(&e, c);
	if (!e.ok)
	{
		w->changes.len = before;
		return false;
	}
	w->n_changes++;
	return true;
}

bool
txn_writer_finish(const struct txn_writer *w, const struct txn_entry *hdr,
				  struct pgq_buf *out)
{
	struct enc	e = {out, true};

	PGQ_ASSERT(hdr->kind == TXN_KIND_CHUNK);
	PGQ_ASSERT(w->n_changes > 0 || (hdr->flags & TXN_FLAG_FINAL) != 0);
	put_header(&e, hdr);
	put_u64(&e, hdr->lsn);
	put_u32(&e, w->n_relations);
	put_u32(&e, w->n_changes);
	put_bytes(&e, pgq_buf_head(&w->rels), w->rels.len);
	put_bytes(&e, pgq_buf_head(&w->changes), w->changes.len);
	return e.ok;
}

static void
put_body(struct enc *e, const struct txn_entry *h)
{
	switch (h->kind)
	{
		case TXN_KIND_CHUNK:
			put_u64(e, h->lsn);
			put_u32(e, h->n_relations);
			put_u32(e, h->n_changes);
			for (uint32_t i = 0; i < h->n_relations; i++)
				put_relation(e, &h->relations[i]);
			put_bytes(e, h->changes, h->changes_len);
			break;
		case TXN_KIND_STATEMENT:
			put_str32(e, h->sql.p, h->sql.len);
			put_str16(e, h->role);
			break;
		case TXN_KIND_SEQUENCES:
			put_u32(e, h->n_sequences);
			for (uint32_t i = 0; i < h->n_sequences; i++)
			{
				put_str16(e, h->sequences[i].schema);
				put_str16(e, h->sequences[i].name);
				put_u64(e, (uint64_t) h->sequences[i].last_value);
			}
			break;
		case TXN_KIND_ABORT:
			break;
		default:
			PGQ_UNREACHABLE();
	}
}

bool
txn_entry_encode(const struct txn_entry *h, struct pgq_buf *out)
{
	struct enc	e = {out, true};

	put_header(&e, h);
	put_body(&e, h);
	return e.ok;
}

/* ---------------------------------------------------------------- decode */

/* Reads a str16 of min..max bytes; sets r->error when out of range. */
static struct txn_str
get_str16(struct pgq_reader *r, uint32_t min, uint32_t max)
{
	struct txn_str s = {"", 0};
	uint16_t	len = pgq_read_u16(r);
	const uint8_t *p;

	if (len < min || len > max)
	{
		r->error = true;
		return s;
	}
	p = pgq_read_bytes(r, len);
	if (p != NULL)
	{
		s.p = (const char *) p;
		s.len = len;
	}
	return s;
}

static const uint8_t *
get_str32(struct pgq_reader *r, uint32_t min, uint32_t max, uint32_t *len)
{
	*len = pgq_read_u32(r);
	if (*len < min || *len > max)
	{
		r->error = true;
		return NULL;
	}
	return pgq_read_bytes(r, *len);
}

static const char *
get_tuple(struct pgq_reader *r, uint16_t want_ncols, bool allow_unchanged,
		  struct txn_tuple *t)
{
	t->ncols = pgq_read_u16(r);
	if (r->error)
		return "truncated tuple";
	if (t->ncols != want_ncols)
		return "tuple column count differs from its relation";
	for (uint16_t i = 0; i < t->ncols; i++)
	{
		struct txn_value *v = &t->vals[i];

		v->kind = pgq_read_u8(r);
		v->len = 0;
		v->data = NULL;
		if (v->kind == TXN_VAL_TEXT || v->kind == TXN_VAL_BINARY)
			v->data = get_str32(r, 0, TXN_VALUE_MAX, &v->len);
		else if (v->kind == TXN_VAL_UNCHANGED && !allow_unchanged)
			return "unchanged TOAST value where a full row is needed";
		else if (v->kind != TXN_VAL_NULL && v->kind != TXN_VAL_UNCHANGED)
			return r->error ? "truncated tuple" : "unknown tuple value kind";
		if (r->error)
			return "truncated tuple value";
	}
	return NULL;
}

static const char *
get_row_change(struct pgq_reader *r, struct txn_change_iter *it, struct txn_change *c)
{
	const struct txn_entry *e = it->entry;
	const struct txn_relation *rel;
	const char *err = NULL;

	c->relidx = pgq_read_u32(r);
	if (r->error)
		return "truncated change";
	if (c->relidx >= e->n_relations)
		return "change refers to a relation index out of range";
	rel = &e->relations[c->relidx];
	c->old_kind = TXN_OLD_NONE;
	if (c->kind != TXN_CH_INSERT)
	{
		c->old_kind = pgq_read_u8(r);
		if (c->old_kind != TXN_OLD_KEY && c->old_kind != TXN_OLD_FULL &&
			!(c->kind == TXN_CH_UPDATE && c->old_kind == TXN_OLD_NONE))
			return r->error ? "truncated change" : "unknown old tuple kind";
		if (c->old_kind != TXN_OLD_NONE)
			err = get_tuple(r, rel->ncols, true, &it->old_buf);
	}
	if (err == NULL && c->kind != TXN_CH_DELETE)
		err = get_tuple(r, rel->ncols, c->kind == TXN_CH_UPDATE, &it->new_buf);
	c->old_tuple = c->old_kind != TXN_OLD_NONE ? &it->old_buf : NULL;
	c->new_tuple = c->kind != TXN_CH_DELETE ? &it->new_buf : NULL;
	return err;
}

static const char *
get_change(struct pgq_reader *r, struct txn_change_iter *it, struct txn_change *c)
{
	const struct txn_entry *e = it->entry;

	*c = (struct txn_change) {0};
	c->kind = pgq_read_u8(r);
	if (r->error)
		return "truncated change";
	switch (c->kind)
	{
		case TXN_CH_INSERT:
		case TXN_CH_UPDATE:
		case TXN_CH_DELETE:
			return get_row_change(r, it, c);
		case TXN_CH_TRUNCATE:
			c->trunc_options = pgq_read_u8(r);
			c->trunc_n = pgq_read_u32(r);
			if (r->error || c->trunc_n == 0 || c->trunc_n > pgq_reader_left(r) / 4)
				return "bad TRUNCATE relation count";
			if ((c->trunc_options & ~(TXN_TRUNC_CASCADE | TXN_TRUNC_RESTART)) != 0)
				return "unknown TRUNCATE option";
			c->trunc_rels = pgq_read_bytes(r, 4 * (size_t) c->trunc_n);
			for (uint32_t i = 0; i < c->trunc_n; i++)
				if (txn_change_trunc_rel(c, i) >= e->n_relations)
					return "TRUNCATE refers to a relation index out of range";
			return NULL;
		case TXN_CH_DDL:
			c->ddl.p = (const char *) get_str32(r, 1, TXN_SQL_MAX, &c->ddl.len);
			return r->error ? "bad DDL text length" : NULL;
		default:
			return "unknown change kind";
	}
}

void
txn_change_iter_init(struct txn_change_iter *it, const struct txn_entry *e)
{
	it->entry = e;
	it->p = e->changes;
	it->end = e->changes + e->changes_len;
	it->left = e->n_changes;
}

int
txn_change_next(struct txn_change_iter *it, struct txn_change *c, const char **err)
{
	struct pgq_reader r;

	*err = NULL;
	if (it->left == 0)
	{
		if (it->p != it->end)
			*err = "bytes after the last change";
		return *err ? -1 : 0;
	}
	pgq_reader_init(&r, it->p, (size_t) (it->end - it->p));
	*err = get_change(&r, it, c);
	if (*err == NULL && r.error)
		*err = "truncated change";
	if (*err != NULL)
		return -1;
	it->p = r.p;
	it->left--;
	return 1;
}

uint32_t
txn_change_trunc_rel(const struct txn_change *c, uint32_t i)
{
	PGQ_ASSERT(i < c->trunc_n);
	return pgq_get_u32(c->trunc_rels + 4 * (size_t) i);
}

/*
 * One relation.  With rel == NULL only validates and counts columns
 * (first pass); otherwise fills rel, its columns going to *cols.
 */
static const char *
get_relation(struct pgq_reader *r, struct txn_relation *rel, struct txn_column *cols,
			 size_t *ncols_total)
{
	struct txn_relation tmp;
	struct txn_relation *out = rel ? rel : &tmp;

	out->relid = pgq_read_u32(r);
	out->replident = pgq_read_u8(r);
	out->schema = get_str16(r, 1, TXN_NAME_MAX);
	out->name = get_str16(r, 1, TXN_NAME_MAX);
	out->ncols = pgq_read_u16(r);
	if (r->error)
		return "truncated or oversized relation";
	if (strchr("dnfi", out->replident) == NULL || out->replident == '\0')
		return "unknown replica identity";
	if (out->ncols == 0 || out->ncols > TXN_MAX_COLS ||
		out->ncols > pgq_reader_left(r) / COL_MIN_BYTES)
		return "bad relation column count";
	out->cols = cols;
	for (uint16_t i = 0; i < out->ncols; i++)
	{
		struct txn_column col;

		col.flags = pgq_read_u8(r);
		col.name = get_str16(r, 1, TXN_NAME_MAX);
		col.typoid = pgq_read_u32(r);
		col.typmod = (int32_t) pgq_read_u32(r);
		if (r->error)
			return "truncated or oversized column";
		if ((col.flags & ~TXN_COL_KEY) != 0)
			return "unknown column flag";
		if (cols != NULL)
			cols[i] = col;
	}
	*ncols_total += out->ncols;
	return NULL;
}

static const char *
get_relations(struct pgq_reader *r, struct txn_entry *e)
{
	struct pgq_reader first = *r;
	size_t		total = 0;
	struct txn_column *cols;
	const char *err;

	if (e->n_relations > TXN_MAX_RELATIONS ||
		e->n_relations > pgq_reader_left(r) / REL_MIN_BYTES)
		return "bad relation count";
	for (uint32_t i = 0; i < e->n_relations; i++)
		if ((err = get_relation(&first, NULL, NULL, &total)) != NULL)
			return err;
	e->mem = malloc(e->n_relations * sizeof(struct txn_relation) +
					total * sizeof(struct txn_column) + 1);
	if (e->mem == NULL)
		return "out of memory";
	e->relations = e->mem;
	cols = (struct txn_column *) (e->relations + e->n_relations);
	total = 0;
	for (uint32_t i = 0; i < e->n_relations; i++)
	{
		err = get_relation(r, &e->relations[i], cols + total, &total);
		PGQ_ASSERT(err == NULL);
	}
	return NULL;
}

static const char *
validate_changes(struct txn_entry *e)
{
	struct txn_change_iter *it = malloc(sizeof(*it));
	struct txn_change c;
	const char *err = NULL;

	if (it == NULL)
		return "out of memory";
	txn_change_iter_init(it, e);
	while (txn_change_next(it, &c, &err) > 0)
		;
	free(it);
	return err;
}

static const char *
get_chunk_body(struct pgq_reader *r, struct txn_entry *e)
{
	const char *err;

	if ((e->flags & ~TXN_FLAG_FINAL) != 0)
		return "unknown chunk flag";
	if (e->gid.len == 0)
		return "chunk without a gid";
	if ((e->txn_id.len > 0) != ((e->flags & TXN_FLAG_FINAL) != 0))
		return "txn id must be set on the final chunk only";
	e->lsn = pgq_read_u64(r);
	e->n_relations = pgq_read_u32(r);
	e->n_changes = pgq_read_u32(r);
	if (r->error)
		return "truncated chunk header";
	if (e->n_changes == 0 && (e->flags & TXN_FLAG_FINAL) == 0)
		return "non-final chunk without changes";
	if ((err = get_relations(r, e)) != NULL)
		return err;
	e->changes = r->p;
	e->changes_len = pgq_reader_left(r);
	r->p = r->end;
	return validate_changes(e);
}

static const char *
get_sequences(struct pgq_reader *r, struct txn_entry *e)
{
	e->n_sequences = pgq_read_u32(r);
	if (r->error || e->n_sequences == 0 ||
		e->n_sequences > pgq_reader_left(r) / SEQ_MIN_BYTES)
		return "bad sequence count";
	e->mem = malloc(e->n_sequences * sizeof(struct txn_sequence));
	if (e->mem == NULL)
		return "out of memory";
	e->sequences = e->mem;
	for (uint32_t i = 0; i < e->n_sequences; i++)
	{
		e->sequences[i].schema = get_str16(r, 1, TXN_NAME_MAX);
		e->sequences[i].name = get_str16(r, 1, TXN_NAME_MAX);
		e->sequences[i].last_value = (int64_t) pgq_read_u64(r);
	}
	return r->error ? "truncated or oversized sequence" : NULL;
}

static const char *
get_body(struct pgq_reader *r, struct txn_entry *e)
{
	if (e->kind != TXN_KIND_CHUNK && e->flags != 0)
		return "unknown flag";
	if (e->kind != TXN_KIND_CHUNK && e->chunk_seq != 0)
		return "chunk_seq set on a non-chunk entry";
	if ((e->kind == TXN_KIND_STATEMENT || e->kind == TXN_KIND_SEQUENCES) && e->gid.len)
		return "gid set on a statement or sequences entry";
	switch (e->kind)
	{
		case TXN_KIND_CHUNK:
			return get_chunk_body(r, e);
		case TXN_KIND_STATEMENT:
			e->sql.p = (const char *) get_str32(r, 1, TXN_SQL_MAX, &e->sql.len);
			if (r->error)
				return "bad statement length";
			e->role = get_str16(r, 0, TXN_NAME_MAX);
			return r->error ? "bad statement role" : NULL;
		case TXN_KIND_SEQUENCES:
			if (e->txn_id.len)
				return "txn id set on a sequences entry";
			return get_sequences(r, e);
		case TXN_KIND_ABORT:
			if (e->gid.len == 0 || e->txn_id.len)
				return "abort needs a gid and no txn id";
			return NULL;
		default:
			return "unknown entry kind";
	}
}

static const char *
get_entry(struct pgq_reader *r, struct txn_entry *e)
{
	uint8_t		version = pgq_read_u8(r);
	const char *err;

	e->kind = pgq_read_u8(r);
	e->flags = pgq_read_u16(r);
	e->chunk_seq = pgq_read_u32(r);
	e->origin_node = pgq_read_u64(r);
	if (r->error)
		return "truncated header";
	if (version != TXN_FORMAT_VERSION)
		return "unknown format version";
	e->dbname = get_str16(r, 1, TXN_NAME_MAX);
	e->gid = get_str16(r, 0, TXN_NAME_MAX);
	e->txn_id = get_str16(r, 0, TXN_NAME_MAX);
	if (r->error)
		return "truncated or oversized header string";
	if ((err = get_body(r, e)) != NULL)
		return err;
	return pgq_reader_done(r) ? NULL : "trailing or missing bytes";
}

const char *
txn_entry_decode(const uint8_t *buf, size_t len, struct txn_entry **out)
{
	struct txn_entry *e;
	struct pgq_reader r;
	const char *err;

	*out = NULL;
	if (len > TXN_ENTRY_MAX_BYTES)
		return "entry too large";
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return "out of memory";
	pgq_reader_init(&r, buf, len);
	err = get_entry(&r, e);
	if (err != NULL)
	{
		txn_entry_free(e);
		return err;
	}
	*out = e;
	return NULL;
}

void
txn_entry_free(struct txn_entry *e)
{
	if (e == NULL)
		return;
	free(e->mem);
	free(e);
}

const char *
txn_entry_kind_name(uint8_t kind)
{
	switch (kind)
	{
		case TXN_KIND_CHUNK:
			return "chunk";
		case TXN_KIND_STATEMENT:
			return "statement";
		case TXN_KIND_SEQUENCES:
			return "sequences";
		case TXN_KIND_ABORT:
			return "abort";
	}
	return "unknown";
}

int
txn_gid_format(char *buf, size_t len, uint64_t node, uint64_t term, uint64_t n)
{
	return snprintf(buf, len, TXN_GID_PREFIX "%" PRIu64 "_%" PRIu64 "_%" PRIu64, node, term, n);
}

/* One decimal number at *p (up to end), stopped by stop or end. */
static bool
gid_number(const char **p, const char *end, char stop, uint64_t *out)
{
	const char *s = *p;
	uint64_t	v = 0;

	if (s == end || *s < '0' || *s > '9' || (*s == '0' && s + 1 < end && s[1] != stop))
		return false;
	for (; s < end && *s != stop; s++)
	{
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t) (*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t) (*s - '0');
	}
	*p = s;
	*out = v;
	return true;
}

bool
txn_gid_parse(const char *gid, size_t len, uint64_t *node, uint64_t *term)
{
	const char *p = gid + strlen(TXN_GID_PREFIX);
	const char *end = gid + len;
	uint64_t	n;

	if (len <= strlen(TXN_GID_PREFIX) || memcmp(gid, TXN_GID_PREFIX, strlen(TXN_GID_PREFIX)) != 0)
		return false;
	if (!gid_number(&p, end, '_', node) || p == end || *p++ != '_' ||
		!gid_number(&p, end, '_', term) || p == end || *p++ != '_' ||
		!gid_number(&p, end, '_', &n))
		return false;
	return p == end;
}
