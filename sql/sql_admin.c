/*
 * sql_admin.c
 *	  The admin view rewrite: parse with libpg_query (protobuf), replace each
 *	  pgquorum.<view> relation by a typed VALUES subquery of the row
 *	  source's figures (sql_admin_build.c), deparse the statements that
 *	  changed and splice them into the original text.
 *
 * The walk needs almost no code per node type, like sql_walk.c: protobuf-c
 * descriptors list every message field, and a relation in a FROM list, a
 * JOIN side, a USING list or a MERGE source (the grammar's table_ref) is a
 * Node whose oneof holds a RangeVar, so replacing the Node's member in
 * place reaches FROM, JOIN, subqueries, CTEs, set operations, EXPLAIN,
 * PREPARE, DECLARE, COPY (query) and INSERT ... SELECT alike.  A relation
 * anywhere else (INSERT INTO x, COPY x, LOCK x, TRUNCATE x, the target of
 * UPDATE/DELETE, GRANT, TABLESAMPLE) is left alone: PostgreSQL then reports
 * that the relation does not exist.
 *
 * Statements that do not name a view are copied byte for byte; only the
 * changed ones go through the deparser (which drops their comments).
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "common/pgq_assert.h"
#include "common/pgq_buf.h"
#include "sql/sql_admin_int.h"

/* PostgreSQL's longest query text (MaxAllocSize): the bound of the output. */
#define SQL_ADMIN_MAX_OUT ((size_t) 0x3fffffff)

/* ---- allocation, with a fault seam for tests ---- */

static long fail_alloc_after;	/* 0: off; else fail when it counts down to 0 */

void
sql_admin_test_fail_alloc(long n)
{
	fail_alloc_after = n > 0 ? n : 0;
}

void *
sql_admin_alloc(size_t size)
{
	if (fail_alloc_after > 0 && --fail_alloc_after == 0)
		return NULL;
	return malloc(size);
}

char *
sql_admin_strdup(const char *s)
{
	size_t		n = strlen(s) + 1;
	char	   *d = sql_admin_alloc(n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

/* ---- status table ---- */

static const struct
{
	const char *name;
	const char *sqlstate;
}			status_info[SQL_ADMIN_STATUS_COUNT] = {
	[SQL_ADMIN_UNCHANGED] = {"unchanged", NULL},
	[SQL_ADMIN_REWRITTEN] = {"rewritten", NULL},
	[SQL_ADMIN_PARSE_ERROR] = {"parse_error", "42601"},	/* syntax_error */
	[SQL_ADMIN_REFUSED] = {"refused", "0A000"},	/* feature_not_supported */
	[SQL_ADMIN_SOURCE_ERROR] = {"source_error", "XX000"},	/* internal_error */
	[SQL_ADMIN_DEPARSE_ERROR] = {"deparse_error", "0A000"},
	[SQL_ADMIN_NO_MEMORY] = {"no_memory", "53200"},	/* out_of_memory */
};

const char *
sql_admin_status_name(sql_admin_status st)
{
	return (unsigned) st < SQL_ADMIN_STATUS_COUNT ? status_info[st].name : "?";
}

const char *
sql_admin_status_sqlstate(sql_admin_status st)
{
	return (unsigned) st < SQL_ADMIN_STATUS_COUNT ? status_info[st].sqlstate
		: NULL;
}

/* ---- the rewriter ---- */

typedef struct rewriter
{
	const sql_admin_row_source *src;	/* borrowed; may be NULL */
	sql_admin_rows rows[SQL_ADMIN_COUNT];
	bool		fetched[SQL_ADMIN_COUNT];
	int			depth;
	const char *definition;		/* "CREATE VIEW", ... while inside one */
	bool		changed;		/* the current statement was modified */
	sql_admin_status status;	/* UNCHANGED until the first failure */
	char	   *err;			/* owned message of the first failure */
} rewriter;

static bool
failed(const rewriter *rw)
{
	return rw->status != SQL_ADMIN_UNCHANGED;
}

/* Record the first failure and its message. */
static void
fail(rewriter *rw, sql_admin_status st, const char *fmt,...)
{
	char		msg[512];
	va_list		ap;

	PGQ_ASSERT(st >= SQL_ADMIN_PARSE_ERROR && st < SQL_ADMIN_STATUS_COUNT);
	if (failed(rw))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rw->status = st;
	rw->err = sql_admin_strdup(msg);
}

/* The rows of view v for this rewrite, fetched once; NULL on failure. */
static const sql_admin_rows *
fetch_rows(rewriter *rw, sql_admin_view v)
{
	sql_admin_rows *r = &rw->rows[v];
	int			rc = 0;

	if (rw->fetched[v])
		return r;
	rw->fetched[v] = true;
	if (rw->src != NULL && rw->src->rows != NULL)
		rc = rw->src->rows(rw->src->arg, v, r);
	if (r->no_memory)
		fail(rw, SQL_ADMIN_NO_MEMORY, "out of memory building pgquorum.%s",
			 r->def->name);
	else if (rc != 0 || r->failed)
		fail(rw, SQL_ADMIN_SOURCE_ERROR,
			 "pgquorum.%s: the node could not produce its rows%s",
			 r->def->name, r->failed ? " (too many rows or bytes)" : "");
	return failed(rw) ? NULL : r;
}

/* The admin view a RangeVar names, or -1. */
static int
range_var_view(const PgQuery__RangeVar *rv)
{
	if (rv == NULL || rv->schemaname == NULL || rv->relname == NULL ||
		strcmp(rv->schemaname, "pgquorum") != 0)
		return -1;
	return sql_admin_find_view(rv->relname);
}

/* Replace the Node's RangeVar by the view's subquery.  False when the
 * RangeVar is not an admin view (the walk goes on into it). */
static bool
replace_range_var(rewriter *rw, PgQuery__Node *n)
{
	PgQuery__RangeVar *rv = n->range_var;
	int			v = range_var_view(rv);
	const sql_admin_rows *rows;
	PgQuery__RangeSubselect *rs;

	if (v < 0)
		return false;
	if (rw->definition != NULL)
	{
		fail(rw, SQL_ADMIN_REFUSED,
			 "pgquorum.%s cannot be used in %s: its rows are computed for "
			 "each query", rv->relname, rw->definition);
		return true;
	}
	if ((rows = fetch_rows(rw, (sql_admin_view) v)) == NULL)
		return true;
	if ((rs = sql_admin_build_subselect(rows, rv->alias)) == NULL)
	{
		fail(rw, SQL_ADMIN_NO_MEMORY, "out of memory rewriting pgquorum.%s",
			 rv->relname);
		return true;
	}
	pg_query__range_var__free_unpacked(rv, NULL);
	n->node_case = PG_QUERY__NODE__NODE_RANGE_SUBSELECT;
	n->range_subselect = rs;
	rw->changed = true;
	return true;
}

static bool
is_string(const PgQuery__Node *n, const char *s)
{
	return n->node_case == PG_QUERY__NODE__NODE_STRING &&
		strcmp(n->string->sval, s) == 0;
}

/* [db.]pgquorum.<view>.col (or .*) -> <view>.col: the subquery's alias has
 * no schema. */
static void
shorten_column_ref(rewriter *rw, PgQuery__ColumnRef *cr)
{
	size_t		n = cr->n_fields;
	size_t		drop;

	if (n < 3 || !is_string(cr->fields[n - 3], "pgquorum") ||
		cr->fields[n - 2]->node_case != PG_QUERY__NODE__NODE_STRING ||
		sql_admin_find_view(cr->fields[n - 2]->string->sval) < 0)
		return;
	drop = n - 2;
	for (size_t i = 0; i < drop; i++)
		pg_query__node__free_unpacked(cr->fields[i], NULL);
	memmove(cr->fields, cr->fields + drop, 2 * sizeof(cr->fields[0]));
	cr->n_fields = 2;
	rw->changed = true;
}

/* Statements that store a query for later: a view there would be frozen. */
static const char *
definition_kind(const ProtobufCMessage *msg)
{
	static const struct
	{
		const ProtobufCMessageDescriptor *desc;
		const char *what;
	}			kinds[] = {
		{&pg_query__view_stmt__descriptor, "CREATE VIEW"},
		{&pg_query__rule_stmt__descriptor, "CREATE RULE"},
		{&pg_query__create_function_stmt__descriptor, "a function body"},
	};

	if (msg->descriptor == &pg_query__create_table_as_stmt__descriptor &&
		((const PgQuery__CreateTableAsStmt *) msg)->objtype ==
		PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW)
		return "CREATE MATERIALIZED VIEW";
	for (size_t i = 0; i < PGQ_LENGTHOF(kinds); i++)
		if (kinds[i].desc == msg->descriptor)
			return kinds[i].what;
	return NULL;
}

/*
 * The fields where the grammar puts a table_ref, so where a subquery may
 * stand instead of a relation.  Elsewhere (LOCK, TRUNCATE, GRANT, INHERITS,
 * CREATE STATISTICS, TABLESAMPLE, ...) a RangeVar Node is a relation by
 * name and is left alone: the deparser must only see trees the parser could
 * have built.
 */
static const struct
{
	const ProtobufCMessageDescriptor *desc;
	const char *field;
}			relation_slots[] = {
	{&pg_query__select_stmt__descriptor, "from_clause"},
	{&pg_query__join_expr__descriptor, "larg"},
	{&pg_query__join_expr__descriptor, "rarg"},
	{&pg_query__update_stmt__descriptor, "from_clause"},
	{&pg_query__delete_stmt__descriptor, "using_clause"},
	{&pg_query__merge_stmt__descriptor, "source_relation"},
};

static bool
is_relation_slot(const ProtobufCMessageDescriptor *d,
				 const ProtobufCFieldDescriptor *f)
{
	for (size_t i = 0; i < PGQ_LENGTHOF(relation_slots); i++)
		if (relation_slots[i].desc == d &&
			strcmp(relation_slots[i].field, f->name) == 0)
			return true;
	return false;
}

static void walk_message(rewriter *rw, ProtobufCMessage *msg, bool slot);

/* Walk field f of the message at base; slot: f holds table_refs. */
static void
walk_field(rewriter *rw, const ProtobufCFieldDescriptor *f, char *base,
		   bool slot)
{
	ProtobufCMessage *child;

	if (f->label == PROTOBUF_C_LABEL_REPEATED)
	{
		size_t		n;
		ProtobufCMessage **items;

		memcpy(&n, base + f->quantifier_offset, sizeof(n));
		memcpy(&items, base + f->offset, sizeof(items));
		for (size_t i = 0; i < n && !failed(rw); i++)
			walk_message(rw, items[i], slot);
		return;
	}
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
	{
		uint32_t	set_case;

		memcpy(&set_case, base + f->quantifier_offset, sizeof(set_case));
		if (set_case != f->id)
			return;
	}
	memcpy(&child, base + f->offset, sizeof(child));
	walk_message(rw, child, slot);
}

static void
walk_fields(rewriter *rw, ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;

	for (unsigned i = 0; i < d->n_fields && !failed(rw); i++)
		if (d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE)
			walk_field(rw, &d->fields[i], (char *) msg,
					   is_relation_slot(d, &d->fields[i]));
}

/* A Node: in a table_ref slot, a view's RangeVar is replaced; a column
 * reference to a view is shortened; otherwise go straight to the one set
 * member (a Node is a oneof of ~250). */
static void
walk_node(rewriter *rw, PgQuery__Node *n, bool slot)
{
	const ProtobufCFieldDescriptor *f;

	if (n->node_case == PG_QUERY__NODE__NODE__NOT_SET)
		return;
	if (slot && n->node_case == PG_QUERY__NODE__NODE_RANGE_VAR &&
		replace_range_var(rw, n))
		return;
	if (n->node_case == PG_QUERY__NODE__NODE_COLUMN_REF)
		shorten_column_ref(rw, n->column_ref);
	/* The grammar takes $0, parse analysis refuses it, and the deparser
	 * would print it as "?": let the server report it. */
	if (n->node_case == PG_QUERY__NODE__NODE_PARAM_REF &&
		n->param_ref->number <= 0)
		fail(rw, SQL_ADMIN_PARSE_ERROR, "there is no parameter $%d",
			 n->param_ref->number);
	f = protobuf_c_message_descriptor_get_field(&pg_query__node__descriptor,
												(unsigned) n->node_case);
	PGQ_ASSERT(f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE);
	walk_field(rw, f, (char *) n, false);
}

static void
walk_message(rewriter *rw, ProtobufCMessage *msg, bool slot)
{
	const char *outer = rw->definition;
	const char *kind;

	if (msg == NULL || failed(rw))
		return;
	if (rw->depth >= SQL_ADMIN_MAX_DEPTH)
	{
		fail(rw, SQL_ADMIN_REFUSED,
			 "query nested too deeply to rewrite pgquorum views (over %d)",
			 SQL_ADMIN_MAX_DEPTH);
		return;
	}
	rw->depth++;
	if ((kind = definition_kind(msg)) != NULL)
		rw->definition = kind;
	if (msg->descriptor == &pg_query__node__descriptor)
		walk_node(rw, (PgQuery__Node *) msg, slot);
	else
		walk_fields(rw, msg);
	rw->definition = outer;
	rw->depth--;
}

/* ---- deparse and splice ---- */

static void
append_text(rewriter *rw, struct pgq_buf *out, const char *from, size_t len)
{
	if (!failed(rw) && len > 0 && !pgq_buf_append(out, from, len))
		fail(rw, SQL_ADMIN_NO_MEMORY, "rewritten query too long");
}

/* Deparse one statement and append it to out. */
static void
append_deparsed(rewriter *rw, PgQuery__RawStmt *raw, struct pgq_buf *out)
{
	PgQuery__RawStmt *stmts[1] = {raw};
	PgQuery__ParseResult one = PG_QUERY__PARSE_RESULT__INIT;
	PgQueryProtobuf pb;
	PgQueryDeparseResult d;

	one.version = PG_VERSION_NUM;
	one.n_stmts = 1;
	one.stmts = stmts;
	pb.len = pg_query__parse_result__get_packed_size(&one);
	if ((pb.data = sql_admin_alloc(pb.len + 1)) == NULL)
	{
		fail(rw, SQL_ADMIN_NO_MEMORY, "out of memory deparsing a statement");
		return;
	}
	pg_query__parse_result__pack(&one, (uint8_t *) pb.data);
	d = pg_query_deparse_protobuf(pb);
	free(pb.data);
	if (d.error != NULL)
		fail(rw, SQL_ADMIN_DEPARSE_ERROR,
			 "cannot rewrite a statement that names a pgquorum view: %s",
			 d.error->message);
	else
		append_text(rw, out, d.query, strlen(d.query));
	pg_query_free_deparse_result(d);
}

/*
 * Walk every statement; deparse the changed ones in place of their text.
 * Returns whether any changed (out then holds the whole new text).
 */
static bool
rewrite_tree(rewriter *rw, PgQuery__ParseResult *tree, const char *query,
			 struct pgq_buf *out)
{
	size_t		qlen = strlen(query);
	size_t		copied = 0;
	bool		any = false;

	for (size_t i = 0; i < tree->n_stmts && !failed(rw); i++)
	{
		PgQuery__RawStmt *raw = tree->stmts[i];
		size_t		loc = (size_t) raw->stmt_location;
		size_t		end = raw->stmt_len ? loc + (size_t) raw->stmt_len : qlen;

		PGQ_ASSERT(raw->stmt_location >= 0 && raw->stmt_len >= 0);
		PGQ_ASSERT(loc >= copied && end <= qlen);
		rw->changed = false;
		walk_message(rw, (ProtobufCMessage *) raw->stmt, false);
		if (!rw->changed || failed(rw))
			continue;
		append_text(rw, out, query + copied, loc - copied);
		append_deparsed(rw, raw, out);
		copied = end;
		any = true;
	}
	if (any)
		append_text(rw, out, query + copied, qlen - copied + 1); /* NUL */
	return any;
}

/* ---- entry ---- */

/* Cheap pre-check: a query that does not spell pgquorum (any case) names
 * no view, and is not parsed at all. */
static bool
mentions_pgquorum(const char *q)
{
	static const char word[] = "pgquorum";

	for (; *q != '\0'; q++)
	{
		size_t		i = 0;

		while (word[i] != '\0' &&
			   tolower((unsigned char) q[i]) == (unsigned char) word[i])
			i++;
		if (word[i] == '\0')
			return true;
	}
	return false;
}

static PgQuery__ParseResult *
parse_query(rewriter *rw, const char *query)
{
	PgQueryProtobufParseResult pr = pg_query_parse_protobuf(query);
	PgQuery__ParseResult *tree = NULL;

	if (pr.error != NULL)
		fail(rw, SQL_ADMIN_PARSE_ERROR, "%s (at character %d)",
			 pr.error->message, pr.error->cursorpos);
	else if ((tree = pg_query__parse_result__unpack(NULL, pr.parse_tree.len,
													(const uint8_t *) pr.parse_tree.data)) == NULL)
		fail(rw, SQL_ADMIN_NO_MEMORY, "out of memory parsing the query");
	pg_query_free_protobuf_parse_result(pr);
	return tree;
}

static sql_admin_status
rewriter_finish(rewriter *rw, struct pgq_buf *out, bool any,
				char **out_sql, char **err)
{
	for (int v = 0; v < SQL_ADMIN_COUNT; v++)
		sql_admin_rows_reset(&rw->rows[v]);
	if (!failed(rw) && any)
	{
		*out_sql = (char *) pgq_buf_head(out);	/* NUL-terminated */
		out->data = NULL;
		rw->status = SQL_ADMIN_REWRITTEN;
	}
	pgq_buf_free(out);
	if (err != NULL)
		*err = rw->err;
	else
		free(rw->err);
	return rw->status;
}

sql_admin_status
sql_admin_rewrite(const char *query, const sql_admin_row_source *src,
				  char **out_sql, char **err)
{
	rewriter	rw;
	struct pgq_buf out;
	PgQuery__ParseResult *tree;
	bool		any = false;

	PGQ_ASSERT(query != NULL && out_sql != NULL);
	*out_sql = NULL;
	if (err != NULL)
		*err = NULL;
	if (!mentions_pgquorum(query))
		return SQL_ADMIN_UNCHANGED;
	memset(&rw, 0, sizeof(rw));
	rw.src = src;
	for (int v = 0; v < SQL_ADMIN_COUNT; v++)
		sql_admin_rows_init(&rw.rows[v], (sql_admin_view) v);
	pgq_buf_init(&out, SQL_ADMIN_MAX_OUT);
	if ((tree = parse_query(&rw, query)) != NULL)
	{
		any = rewrite_tree(&rw, tree, query, &out);
		pg_query__parse_result__free_unpacked(tree, NULL);
	}
	return rewriter_finish(&rw, &out, any, out_sql, err);
}
