/*
 * capture_assemble.c
 *	  Assembly of prepared transactions from the pgoutput stream into
 *	  bounded log entries.  See capture_assemble.h for the rules.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "common/pgq_bytes.h"
#include "sync/capture_assemble.h"

#define ASM_MAX_ENTRY_DEFAULT	(UINT32_C(64) << 20)
#define ASM_REL_TABLE_MIN		64

enum asm_state
{
	ASM_IDLE,					/* between transactions */
	ASM_PREPARED,				/* BeginPrepare of ours: collecting */
	ASM_SKIP,					/* a transaction we do not capture */
	ASM_PLAIN,					/* Begin ... Commit */
};

/* A cached relation; one allocation holds the struct, columns and names. */
struct asm_rel
{
	struct txn_relation rel;
	uint64_t	chunk_epoch;	/* chunk_idx is valid when == a->epoch */
	uint32_t	chunk_idx;
};

struct capture_asm
{
	struct capture_asm_config cfg;
	char		dbname[TXN_NAME_MAX + 1];
	char		gid_prefix[TXN_NAME_MAX + 1];
	capture_asm_chunk_fn on_chunk;
	void	   *arg;

	enum asm_state state;
	uint32_t	xid;
	char		gid[TXN_NAME_MAX + 1];
	char		txn_id[TXN_NAME_MAX + 1];
	uint64_t	lsn;
	uint32_t	seq;
	uint64_t	epoch;			/* bumped when a chunk starts */
	uint64_t	plain_rows;		/* in the open plain transaction */

	struct txn_writer writer;
	struct pgq_buf out;			/* the encoded entry being delivered */
	struct pgq_buf trunc;		/* relidx array of a TRUNCATE */

	struct asm_rel **rels;		/* open addressing by relid; NULL = empty */
	uint32_t	rels_cap;		/* power of two */
	uint32_t	rels_n;

	struct capture_asm_stats stats;
	char		err[256];
};

/* Legal moves: IDLE -> any; PREPARED, PLAIN -> SKIP (Origin) or IDLE; SKIP -> IDLE. */
static void
set_state(struct capture_asm *a, enum asm_state to)
{
	PGQ_ASSERT(a->state != to);
	PGQ_ASSERT(a->state == ASM_IDLE || to == ASM_IDLE ||
			   (to == ASM_SKIP && a->state != ASM_SKIP));
	a->state = to;
}

static const char *
fail(struct capture_asm *a, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(a->err, sizeof(a->err), fmt, ap);
	va_end(ap);
	return a->err;
}

static void
copy_str(char *dst, struct txn_str s)
{
	PGQ_ASSERT(s.len <= TXN_NAME_MAX);
	memcpy(dst, s.p, s.len);
	dst[s.len] = '\0';
}

/* ------------------------------------------------------ relation cache */

static uint32_t
rel_slot(const struct capture_asm *a, uint32_t relid)
{
	uint32_t	i = (relid * UINT32_C(2654435761)) & (a->rels_cap - 1);

	while (a->rels[i] != NULL && a->rels[i]->rel.relid != relid)
		i = (i + 1) & (a->rels_cap - 1);
	return i;
}

static struct asm_rel *
rel_lookup(const struct capture_asm *a, uint32_t relid)
{
	return a->rels[rel_slot(a, relid)];
}

static bool
rel_grow(struct capture_asm *a)
{
	struct asm_rel **old = a->rels;
	uint32_t	old_cap = a->rels_cap;

	a->rels = calloc((size_t) old_cap * 2, sizeof(*a->rels));
	if (a->rels == NULL)
	{
		a->rels = old;
		return false;
	}
	a->rels_cap = old_cap * 2;
	for (uint32_t i = 0; i < old_cap; i++)
		if (old[i] != NULL)
			a->rels[rel_slot(a, old[i]->rel.relid)] = old[i];
	free(old);
	return true;
}

static char *
dup_into(char *p, struct txn_str *s)
{
	memcpy(p, s->p, s->len);
	s->p = p;
	return p + s->len;
}

/* An owned copy of a decoded Relation message. */
static struct asm_rel *
rel_copy(const struct txn_relation *src)
{
	size_t		strings = src->schema.len + src->name.len;
	struct asm_rel *r;
	char	   *p;

	for (uint16_t i = 0; i < src->ncols; i++)
		strings += src->cols[i].name.len;
	r = malloc(sizeof(*r) + src->ncols * sizeof(struct txn_column) + strings + 1);
	if (r == NULL)
		return NULL;
	r->rel = *src;
	r->chunk_epoch = 0;
	r->chunk_idx = 0;
	r->rel.cols = (struct txn_column *) (r + 1);
	memcpy(r->rel.cols, src->cols, src->ncols * sizeof(struct txn_column));
	p = (char *) (r->rel.cols + src->ncols);
	p = dup_into(p, &r->rel.schema);
	p = dup_into(p, &r->rel.name);
	for (uint16_t i = 0; i < src->ncols; i++)
		p = dup_into(p, &r->rel.cols[i].name);
	return r;
}

static const char *
on_relation(struct capture_asm *a, const struct capture_pgo_msg *m)
{
	struct asm_rel *r;
	uint32_t	i;

	if (m->rel.ncols == 0)
		return NULL;			/* no published column: never has changes */
	if (a->rels_n + 1 > a->rels_cap / 2 && !rel_grow(a))
		return "out of memory (relation cache)";
	i = rel_slot(a, m->relid);
	if (a->rels[i] == NULL && a->rels_n >= a->cfg.max_relations)
		return fail(a, "more than %u relations in the cache", a->cfg.max_relations);
	if ((r = rel_copy(&m->rel)) == NULL)
		return "out of memory (relation)";
	if (a->rels[i] != NULL)
		free(a->rels[i]);
	else
		a->rels_n++;
	a->rels[i] = r;
	return NULL;
}

/* ------------------------------------------------------------ chunks */

static const char *
emit_chunk(struct capture_asm *a, bool final, int64_t prepare_ts)
{
	struct txn_entry hdr = {0};
	struct capture_chunk c;

	hdr.kind = TXN_KIND_CHUNK;
	hdr.flags = final ? TXN_FLAG_FINAL : 0;
	hdr.chunk_seq = a->seq;
	hdr.origin_node = a->cfg.origin_node;
	hdr.dbname = (struct txn_str) {a->dbname, (uint32_t) strlen(a->dbname)};
	hdr.gid = (struct txn_str) {a->gid, (uint32_t) strlen(a->gid)};
	hdr.txn_id = (struct txn_str) {a->txn_id, final ? (uint32_t) strlen(a->txn_id) : 0};
	hdr.lsn = a->lsn;
	pgq_buf_consume(&a->out, a->out.len);
	if (!txn_writer_finish(&a->writer, &hdr, &a->out))
		return "out of memory (entry)";
	c = (struct capture_chunk) {
		.data = pgq_buf_head(&a->out), .len = a->out.len, .gid = a->gid,
		.txn_id = final ? a->txn_id : "", .seq = a->seq, .final = final,
		.n_changes = a->writer.n_changes, .lsn = a->lsn, .prepare_ts = prepare_ts,
	};
	a->stats.chunks++;
	a->stats.changes += a->writer.n_changes;
	a->seq++;
	a->epoch++;
	txn_writer_reset(&a->writer);
	a->on_chunk(a->arg, &c);
	return NULL;
}

/* Size a relation adds to the current chunk (0 when it is already in). */
static size_t
rel_cost(const struct capture_asm *a, const struct asm_rel *r)
{
	return r->chunk_epoch == a->epoch ? 0 : txn_relation_encoded_size(&r->rel);
}

/* Cut the chunk when need more bytes would take it past chunk_bytes. */
static const char *
make_room(struct capture_asm *a, size_t need)
{
	if (need > a->writer.max_bytes - TXN_CHUNK_BODY_FIXED)
		return fail(a, "a change of %zu bytes in transaction %s is larger than "
					"the largest log entry (%zu bytes)", need, a->gid,
					a->cfg.max_entry_bytes);
	if (a->writer.n_changes > 0 && txn_writer_size(&a->writer) + need > a->cfg.chunk_bytes)
		return emit_chunk(a, false, 0);
	return NULL;
}

static const char *
chunk_rel(struct capture_asm *a, struct asm_rel *r, uint32_t *idx)
{
	if (r->chunk_epoch != a->epoch)
	{
		if (!txn_writer_add_relation(&a->writer, &r->rel))
			return fail(a, "relation %.*s.%.*s does not fit in the entry of %s",
						(int) r->rel.schema.len, r->rel.schema.p,
						(int) r->rel.name.len, r->rel.name.p, a->gid);
		r->chunk_epoch = a->epoch;
		r->chunk_idx = a->writer.n_relations - 1;
	}
	*idx = r->chunk_idx;
	return NULL;
}

static const char *
add_change(struct capture_asm *a, struct txn_change *c, struct asm_rel *r)
{
	const char *err;

	if ((err = make_room(a, txn_change_encoded_size(c) + (r ? rel_cost(a, r) : 0))) != NULL)
		return err;
	if (r != NULL && (err = chunk_rel(a, r, &c->relidx)) != NULL)
		return err;
	if (!txn_writer_add_change(&a->writer, c))
		return fail(a, "change does not fit in the entry of %s", a->gid);
	return NULL;
}

/* ------------------------------------------------------ stream events */

static const char *
on_row(struct capture_asm *a, const struct capture_pgo_msg *m)
{
	struct txn_change c = {0};
	struct asm_rel *r;
	uint16_t	ncols;

	if (a->state == ASM_PLAIN || a->state == ASM_SKIP)
	{
		a->plain_rows++;
		return NULL;
	}
	if (a->state != ASM_PREPARED)
		return fail(a, "%s outside a transaction", capture_pgo_type_name(m->type));
	if ((r = rel_lookup(a, m->relid)) == NULL)
		return fail(a, "change for relation %u before its Relation message", m->relid);
	ncols = m->type == CAPTURE_PGO_DELETE ? m->old_tuple.ncols : m->new_tuple.ncols;
	if (ncols != r->rel.ncols)
		return fail(a, "%s on %.*s has %u columns, its relation %u",
					capture_pgo_type_name(m->type), (int) r->rel.name.len,
					r->rel.name.p, ncols, r->rel.ncols);
	c.kind = m->type;			/* 'I', 'U', 'D' are the same in both formats */
	c.old_kind = m->old_kind;
	c.old_tuple = m->old_kind != TXN_OLD_NONE ? &m->old_tuple : NULL;
	c.new_tuple = m->type != CAPTURE_PGO_DELETE ? &m->new_tuple : NULL;
	if (m->type == CAPTURE_PGO_INSERT)
		for (uint16_t i = 0; i < ncols; i++)
			if (m->new_tuple.vals[i].kind == TXN_VAL_UNCHANGED)
				return "Insert with an unchanged-TOAST column";
	return add_change(a, &c, r);
}

static const char *
truncate_rels(struct capture_asm *a, const struct capture_pgo_msg *m, size_t *cost)
{
	*cost = 0;
	for (uint32_t i = 0; i < m->trunc_n; i++)
	{
		uint32_t	relid = capture_pgo_truncate_relid(m, i);
		struct asm_rel *r = rel_lookup(a, relid);

		if (r == NULL)
			return fail(a, "Truncate of relation %u before its Relation message", relid);
		*cost += rel_cost(a, r);
	}
	return NULL;
}

static const char *
on_truncate(struct capture_asm *a, const struct capture_pgo_msg *m)
{
	struct txn_change c = {.kind = TXN_CH_TRUNCATE};
	const char *err;
	uint8_t    *p;
	size_t		cost;

	if (a->state != ASM_PREPARED)
		return on_row(a, m);
	c.trunc_options = m->flags;
	c.trunc_n = m->trunc_n;
	if ((err = truncate_rels(a, m, &cost)) != NULL ||
		(err = make_room(a, txn_change_encoded_size(&c) + cost)) != NULL)
		return err;
	pgq_buf_consume(&a->trunc, a->trunc.len);
	if ((p = pgq_buf_reserve(&a->trunc, 4 * (size_t) m->trunc_n)) == NULL)
		return "out of memory (truncate)";
	for (uint32_t i = 0; i < m->trunc_n; i++)
	{
		uint32_t	idx;

		if ((err = chunk_rel(a, rel_lookup(a, capture_pgo_truncate_relid(m, i)), &idx)))
			return err;
		pgq_put_u32(p + 4 * (size_t) i, idx);
	}
	c.trunc_rels = p;
	if (!txn_writer_add_change(&a->writer, &c))
		return fail(a, "Truncate does not fit in the entry of %s", a->gid);
	return NULL;
}

static bool
str_is(struct txn_str s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

static const char *
on_message(struct capture_asm *a, const struct capture_pgo_msg *m)
{
	struct txn_change c = {.kind = TXN_CH_DDL};

	if ((m->flags & CAPTURE_PGO_MSG_TRANSACTIONAL) == 0 || a->state != ASM_PREPARED)
		return NULL;			/* not ours, or in a transaction we skip */
	if (str_is(m->name, CAPTURE_MSG_PREFIX))
	{
		if (a->txn_id[0] != '\0')
			return fail(a, "two pgquorum messages in transaction %s", a->gid);
		if (m->content_len == 0 || m->content_len > TXN_NAME_MAX ||
			memchr(m->content, '\0', m->content_len) != NULL)
			return fail(a, "bad txn id (%u bytes) in transaction %s", m->content_len, a->gid);
		copy_str(a->txn_id, (struct txn_str) {(const char *) m->content, m->content_len});
		return NULL;
	}
	if (!str_is(m->name, CAPTURE_DDL_PREFIX))
		return NULL;
	if (m->content_len == 0)
		return fail(a, "empty DDL message in transaction %s", a->gid);
	c.ddl = (struct txn_str) {(const char *) m->content, m->content_len};
	return add_change(a, &c, NULL);
}

static const char *
on_begin_prepare(struct capture_asm *a, const struct capture_pgo_msg *m)
{
	size_t		plen = strlen(a->gid_prefix);
	bool		ours = m->gid.len >= plen && memcmp(m->gid.p, a->gid_prefix, plen) == 0;

	if (a->state != ASM_IDLE)
		return "BeginPrepare inside a transaction";
	if (m->gid.len == 0)
		return "BeginPrepare without a gid";
	set_state(a, ours ? ASM_PREPARED : ASM_SKIP);
	if (!ours)
		a->stats.skipped_foreign++;
	a->xid = m->xid;
	copy_str(a->gid, m->gid);
	a->txn_id[0] = '\0';
	a->lsn = m->end_lsn;
	a->seq = 0;
	a->epoch++;
	txn_writer_reset(&a->writer);
	return NULL;
}

static const char *
on_prepare(struct capture_asm *a, const struct capture_pgo_msg *m)
{
	bool		skipped = a->state == ASM_SKIP;

	if (a->state != ASM_PREPARED && a->state != ASM_SKIP)
		return "Prepare without BeginPrepare";
	if (m->xid != a->xid || !str_is(m->gid, a->gid))
		return fail(a, "Prepare of %.*s (xid %u) inside BeginPrepare of %s (xid %u)",
					(int) m->gid.len, m->gid.p, m->xid, a->gid, a->xid);
	set_state(a, ASM_IDLE);
	if (skipped)
		return NULL;
	if (a->txn_id[0] == '\0')
		return fail(a, "prepared transaction %s carries no '%s' message",
					a->gid, CAPTURE_MSG_PREFIX);
	a->lsn = m->end_lsn;
	a->stats.txns++;
	return emit_chunk(a, true, m->ts);
}

static const char *
on_origin(struct capture_asm *a, const struct capture_pgo_msg *m)
{
	if (a->state == ASM_IDLE)
		return "Origin outside a transaction";
	if (a->state == ASM_PREPARED && (a->writer.n_changes > 0 || a->seq > 0))
		return fail(a, "Origin after changes in transaction %s", a->gid);
	if (a->state == ASM_PREPARED || a->state == ASM_PLAIN)
	{
		set_state(a, ASM_SKIP);
		a->stats.skipped_origin++;
	}
	return NULL;
}

static const char *
on_begin(struct capture_asm *a, const struct capture_pgo_msg *m)
{
	if (a->state != ASM_IDLE)
		return "Begin inside a transaction";
	set_state(a, ASM_PLAIN);
	a->xid = m->xid;
	a->plain_rows = 0;
	return NULL;
}

static const char *
on_commit(struct capture_asm *a, const struct capture_pgo_msg *m)
{
	if (a->state != ASM_PLAIN && a->state != ASM_SKIP)
		return "Commit without Begin";
	if (a->state == ASM_PLAIN)
	{
		a->stats.plain_commits++;
		a->stats.unreplicated_writes += a->plain_rows;
	}
	set_state(a, ASM_IDLE);
	return NULL;
}

static const char *
on_prepared_end(struct capture_asm *a, const struct capture_pgo_msg *m)
{
	if (a->state != ASM_IDLE)
		return fail(a, "%s inside a transaction", capture_pgo_type_name(m->type));
	if (m->type == CAPTURE_PGO_COMMIT_PREPARED)
		a->stats.commit_prepared++;
	else
		a->stats.rollback_prepared++;
	return NULL;
}

const char *
capture_asm_feed(struct capture_asm *a, const struct capture_pgo_msg *m)
{
	switch (m->type)
	{
		case CAPTURE_PGO_BEGIN:
			return on_begin(a, m);
		case CAPTURE_PGO_COMMIT:
			return on_commit(a, m);
		case CAPTURE_PGO_BEGIN_PREPARE:
			return on_begin_prepare(a, m);
		case CAPTURE_PGO_PREPARE:
			return on_prepare(a, m);
		case CAPTURE_PGO_COMMIT_PREPARED:
		case CAPTURE_PGO_ROLLBACK_PREPARED:
			return on_prepared_end(a, m);
		case CAPTURE_PGO_ORIGIN:
			return on_origin(a, m);
		case CAPTURE_PGO_MESSAGE:
			return on_message(a, m);
		case CAPTURE_PGO_RELATION:
			return on_relation(a, m);
		case CAPTURE_PGO_TYPE:
			return NULL;		/* names of types: the entry carries oids */
		case CAPTURE_PGO_INSERT:
		case CAPTURE_PGO_UPDATE:
		case CAPTURE_PGO_DELETE:
			return on_row(a, m);
		case CAPTURE_PGO_TRUNCATE:
			return on_truncate(a, m);
	}
	return "unknown message type";
}

/* ------------------------------------------------------------ lifecycle */

struct capture_asm *
capture_asm_new(const struct capture_asm_config *cfg, capture_asm_chunk_fn on_chunk,
				void *arg)
{
	struct capture_asm *a = calloc(1, sizeof(*a));
	const char *prefix = cfg->gid_prefix ? cfg->gid_prefix : CAPTURE_GID_PREFIX;

	PGQ_ASSERT(cfg->dbname != NULL && strlen(cfg->dbname) >= 1 &&
			   strlen(cfg->dbname) <= TXN_NAME_MAX && strlen(prefix) <= TXN_NAME_MAX);
	if (a == NULL)
		return NULL;
	a->cfg = *cfg;
	snprintf(a->dbname, sizeof(a->dbname), "%s", cfg->dbname);
	snprintf(a->gid_prefix, sizeof(a->gid_prefix), "%s", prefix);
	a->cfg.dbname = a->dbname;
	a->cfg.gid_prefix = a->gid_prefix;
	if (a->cfg.max_entry_bytes == 0)
		a->cfg.max_entry_bytes = ASM_MAX_ENTRY_DEFAULT;
	if (a->cfg.chunk_bytes == 0)
		a->cfg.chunk_bytes = TXN_CHUNK_TARGET_BYTES;
	if (a->cfg.max_relations == 0)
		a->cfg.max_relations = CAPTURE_MAX_RELATIONS_DEFAULT;
	PGQ_ASSERT(a->cfg.max_entry_bytes <= TXN_ENTRY_MAX_BYTES &&
			   a->cfg.max_entry_bytes >= 4096 &&
			   a->cfg.chunk_bytes <= a->cfg.max_entry_bytes);
	a->on_chunk = on_chunk;
	a->arg = arg;
	a->state = ASM_IDLE;
	txn_writer_init(&a->writer, a->cfg.max_entry_bytes - TXN_HEADER_MAX_SIZE);
	pgq_buf_init(&a->out, a->cfg.max_entry_bytes);
	pgq_buf_init(&a->trunc, TXN_ENTRY_MAX_BYTES);
	a->rels_cap = ASM_REL_TABLE_MIN;
	a->rels = calloc(a->rels_cap, sizeof(*a->rels));
	if (a->rels == NULL)
	{
		capture_asm_free(a);
		return NULL;
	}
	return a;
}

void
capture_asm_free(struct capture_asm *a)
{
	if (a == NULL)
		return;
	for (uint32_t i = 0; a->rels && i < a->rels_cap; i++)
		free(a->rels[i]);
	free(a->rels);
	txn_writer_free(&a->writer);
	pgq_buf_free(&a->out);
	pgq_buf_free(&a->trunc);
	free(a);
}

void
capture_asm_reset(struct capture_asm *a)
{
	a->state = ASM_IDLE;
	a->txn_id[0] = '\0';
	a->seq = 0;
	a->epoch++;
	txn_writer_reset(&a->writer);
}

bool
capture_asm_idle(const struct capture_asm *a)
{
	return a->state == ASM_IDLE;
}

void
capture_asm_stats(const struct capture_asm *a, struct capture_asm_stats *out)
{
	*out = a->stats;
	out->relations_cached = a->rels_n;
}
