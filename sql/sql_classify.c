/*
 * sql_classify.c
 *	  Classify each statement of a query string, and the whole string.
 *
 * One table maps a raw statement's node type to its class, sub-kind, fixed
 * flags and, when the class depends on the statement's content (CREATE
 * INDEX CONCURRENTLY, EXPLAIN ANALYZE, DECLARE ... WITH HOLD, ...), a
 * handler.  A statement without a handler is walked (sql_walk.c) and a
 * READ_ONLY one becomes MAY_WRITE when the walk found a write.  Node types
 * missing from the table are DDL: replicated as a statement, never lost.
 *
 * PreventInTransactionBlock callers in PostgreSQL 15 (the NO_TXN_BLOCK
 * rules): CREATE/DROP DATABASE, ALTER DATABASE SET TABLESPACE, CREATE/DROP
 * TABLESPACE, VACUUM (not ANALYZE alone), CLUSTER without a table, CREATE
 * INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY, REINDEX
 * SCHEMA/SYSTEM/DATABASE, ALTER TABLE ... DETACH PARTITION CONCURRENTLY,
 * ALTER SYSTEM, CREATE SUBSCRIPTION with create_slot, ALTER SUBSCRIPTION
 * with refresh, DROP SUBSCRIPTION (when it has a slot, unknown here: always),
 * plus COMMIT PREPARED, ROLLBACK PREPARED and DISCARD ALL, which keep their
 * own class and carry SQL_F_NO_TXN_BLOCK.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "common/pgq_assert.h"
#include "sql/sql_int.h"

typedef struct cls_ctx
{
	const sql_options *opts;
	bool		literal_sensitive;
	int			depth;			/* wrapper nesting (EXPLAIN EXPLAIN ...) */
} cls_ctx;

typedef void (*stmt_handler) (cls_ctx *c, const PgQuery__Node *n,
							  sql_stmt *st);

typedef struct stmt_rule
{
	sql_class	cls;
	int			kind;			/* sql_txn_kind or sql_session_kind */
	uint32_t	flags;
	stmt_handler handler;
} stmt_rule;

static void classify_stmt(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st);

/* ---- helpers ---- */

static sql_facts
walk_facts(cls_ctx *c, const PgQuery__Node *n)
{
	sql_walk	w = {.opts = c->opts};

	sql_walk_node(&w, n);
	if (w.facts.literal_sensitive)
		c->literal_sensitive = true;
	return w.facts;
}

static void
apply_facts(sql_stmt *st, const sql_facts *f)
{
	uint32_t	flags = f->flags;

	/* "unknown function" only explains a class it raised */
	if (st->cls >= SQL_CLASS_MAY_WRITE)
		flags &= ~(uint32_t) SQL_F_UNKNOWN_FUNCTION;
	st->flags |= flags;
	st->admin_views |= f->admin_views;
	st->user_relations |= f->user_relations;
	if (f->writes && st->cls == SQL_CLASS_READ_ONLY)
		st->cls = SQL_CLASS_MAY_WRITE;
}

static void
walk_and_apply(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	sql_facts	f = walk_facts(c, n);

	apply_facts(st, &f);
}

/* DefElem named name in opts (a list of DefElem nodes), or NULL. */
static const PgQuery__DefElem *
find_option(PgQuery__Node *const *opts, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (opts[i]->node_case == PG_QUERY__NODE__NODE_DEF_ELEM &&
			strcmp(opts[i]->def_elem->defname, name) == 0)
			return opts[i]->def_elem;
	return NULL;
}

static bool
string_bool(const char *s)
{
	return strcmp(s, "false") != 0 && strcmp(s, "off") != 0 &&
		strcmp(s, "no") != 0 && strcmp(s, "0") != 0;
}

/* Value of an option argument; no argument means true. */
static bool
node_bool(const PgQuery__Node *a)
{
	if (a == NULL)
		return true;
	switch (a->node_case)
	{
		case PG_QUERY__NODE__NODE_A_CONST:
			if (a->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL)
				return a->a_const->ival->ival != 0;
			if (a->a_const->val_case == PG_QUERY__A__CONST__VAL_BOOLVAL)
				return a->a_const->boolval->boolval;
			if (a->a_const->val_case == PG_QUERY__A__CONST__VAL_SVAL)
				return string_bool(a->a_const->sval->sval);
			return true;
		case PG_QUERY__NODE__NODE_STRING:
			return string_bool(a->string->sval);
		case PG_QUERY__NODE__NODE_BOOLEAN:
			return a->boolean->boolval;
		case PG_QUERY__NODE__NODE_INTEGER:
			return a->integer->ival != 0;
		default:
			return true;
	}
}

/*
 * Boolean value of an option (EXPLAIN (ANALYZE), WITH (create_slot = x),
 * READ ONLY): absent -> dflt.  Reading an option makes the result
 * literal-sensitive (the fingerprint ignores constants).
 */
static bool
option_bool(cls_ctx *c, PgQuery__Node *const *opts, size_t n,
			const char *name, bool dflt)
{
	const PgQuery__DefElem *d = find_option(opts, n, name);

	c->literal_sensitive = true;
	return d == NULL ? dflt : node_bool(d->arg);
}

/* Classify a wrapped query (PREPARE, DECLARE, EXPLAIN) into *inner. */
static void
classify_inner(cls_ctx *c, const PgQuery__Node *q, sql_stmt *inner)
{
	memset(inner, 0, sizeof(*inner));
	if (q == NULL)
		return;
	if (c->depth >= 8)
	{
		inner->cls = SQL_CLASS_MAY_WRITE;
		inner->flags = SQL_F_WALK_LIMIT;
		return;
	}
	c->depth++;
	classify_stmt(c, q, inner);
	c->depth--;
}

/* ---- handlers: reads, writes, wrappers ---- */

static void
h_select(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	walk_and_apply(c, n, st);
	if (n->select_stmt->into_clause != NULL)
		st->cls = SQL_CLASS_DDL;	/* SELECT INTO is CREATE TABLE AS */
}

static void
h_explain(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	const PgQuery__ExplainStmt *e = n->explain_stmt;
	bool		analyze = option_bool(c, e->options, e->n_options, "analyze",
									  false);
	sql_stmt	inner;

	classify_inner(c, e->query, &inner);
	st->inner_cls = inner.cls;
	st->admin_views |= inner.admin_views;
	st->user_relations |= inner.user_relations;
	if (!analyze)
	{
		/* Planned, not run: only names matter (admin view rewrite). */
		st->flags |= inner.flags & SQL_F_NAMES_PGQUORUM;
		return;
	}
	st->flags |= inner.flags;
	if (inner.cls > st->cls)
		st->cls = inner.cls;
	st->session = inner.session;
}

static void
h_prepare(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	sql_stmt	inner;

	classify_inner(c, n->prepare_stmt->query, &inner);
	st->inner_cls = inner.cls;
	st->flags |= inner.flags;
	st->admin_views |= inner.admin_views;
	st->user_relations |= inner.user_relations;
}

#define CURSOR_OPT_HOLD 0x0020	/* PostgreSQL 15 parsenodes.h */

static void
h_declare(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	const PgQuery__DeclareCursorStmt *d = n->declare_cursor_stmt;
	sql_stmt	inner;

	classify_inner(c, d->query, &inner);
	st->inner_cls = inner.cls;
	st->flags |= inner.flags;
	st->admin_views |= inner.admin_views;
	st->user_relations |= inner.user_relations;
	if (d->options & CURSOR_OPT_HOLD)
		st->flags |= SQL_F_HOLD_CURSOR | SQL_F_CANNOT_PREPARE;
}

static void
h_copy(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	const PgQuery__CopyStmt *cp = n->copy_stmt;

	walk_and_apply(c, n, st);
	if (cp->is_from)
	{
		sql_walk	w = {.opts = c->opts};

		st->cls = SQL_CLASS_MAY_WRITE;
		sql_relation_facts(&w, cp->relation, true);
		st->flags |= w.facts.flags;
	}
}

/* LOCK and TRUNCATE: their relations are write targets. */
static void
h_lock_truncate(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	sql_walk	w = {.opts = c->opts};
	PgQuery__Node *const *rels;
	size_t		n_rels;

	if (n->node_case == PG_QUERY__NODE__NODE_LOCK_STMT)
	{
		rels = n->lock_stmt->relations;
		n_rels = n->lock_stmt->n_relations;
	}
	else
	{
		rels = n->truncate_stmt->relations;
		n_rels = n->truncate_stmt->n_relations;
	}
	for (size_t i = 0; i < n_rels; i++)
		if (rels[i]->node_case == PG_QUERY__NODE__NODE_RANGE_VAR)
			sql_relation_facts(&w, rels[i]->range_var, true);
	st->flags |= w.facts.flags;
	st->admin_views |= w.facts.admin_views;
	st->user_relations |= w.facts.user_relations;
}

/* ---- handlers: transaction control and session state ---- */

static const sql_txn_kind txn_kinds[] = {
	[PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN] = SQL_TXN_BEGIN,
	[PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START] = SQL_TXN_BEGIN,
	[PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT] = SQL_TXN_COMMIT,
	[PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK] = SQL_TXN_ROLLBACK,
	[PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_SAVEPOINT] = SQL_TXN_SAVEPOINT,
	[PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_RELEASE] = SQL_TXN_RELEASE,
	[PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_TO] = SQL_TXN_ROLLBACK_TO,
	[PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE] = SQL_TXN_PREPARE,
	[PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED] = SQL_TXN_COMMIT_PREPARED,
	[PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_PREPARED] = SQL_TXN_ROLLBACK_PREPARED,
};

static void
h_txn(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	const PgQuery__TransactionStmt *t = n->transaction_stmt;

	st->txn = (unsigned) t->kind < PGQ_LENGTHOF(txn_kinds) ?
		txn_kinds[t->kind] : SQL_TXN_NONE;
	if (st->txn == SQL_TXN_NONE)
		st->txn = SQL_TXN_ROLLBACK; /* unknown kind: end it safely */
	if (option_bool(c, t->options, t->n_options, "transaction_read_only",
					false))
		st->flags |= SQL_F_TXN_READ_ONLY;
	c->literal_sensitive = true;	/* chain flag, options */
	if (t->chain)
		st->flags |= SQL_F_TXN_CHAIN;
	if (st->txn == SQL_TXN_COMMIT_PREPARED ||
		st->txn == SQL_TXN_ROLLBACK_PREPARED)
		st->flags |= SQL_F_NO_TXN_BLOCK;
}

static bool
is_pgquorum_setting(const char *name)
{
	return name != NULL && strncmp(name, "pgquorum.", 9) == 0;
}

static void
h_set(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	const PgQuery__VariableSetStmt *s = n->variable_set_stmt;

	if (s->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET ||
		s->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL)
		st->session = SQL_SESSION_RESET;
	if (is_pgquorum_setting(s->name))
		st->flags |= SQL_F_PGQUORUM_SETTING;
	if (s->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_MULTI &&
		option_bool(c, s->args, s->n_args, "transaction_read_only", false))
		st->flags |= SQL_F_TXN_READ_ONLY;
}

static void
h_show(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	(void) c;
	if (is_pgquorum_setting(n->variable_show_stmt->name))
		st->flags |= SQL_F_PGQUORUM_SETTING;
}

static void
h_discard(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	(void) c;
	if (n->discard_stmt->target == PG_QUERY__DISCARD_MODE__DISCARD_ALL)
		st->flags |= SQL_F_NO_TXN_BLOCK;
}

static void
h_fetch(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	(void) c;
	(void) n;
	st->session = SQL_SESSION_FETCH;
}

/* ---- handlers: DDL that may refuse a transaction block ---- */

static void
set_no_txn_block(sql_stmt *st, bool yes)
{
	if (!yes)
		return;
	st->cls = SQL_CLASS_NO_TXN_BLOCK;
	st->flags |= SQL_F_NO_TXN_BLOCK;
}

static void
h_vacuum(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	walk_and_apply(c, n, st);
	set_no_txn_block(st, n->vacuum_stmt->is_vacuumcmd);
}

static void
h_cluster(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	walk_and_apply(c, n, st);
	set_no_txn_block(st, n->cluster_stmt->relation == NULL);
}

static void
h_index(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	walk_and_apply(c, n, st);
	set_no_txn_block(st, n->index_stmt->concurrent);
}

static void
h_drop(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	const PgQuery__DropStmt *d = n->drop_stmt;

	walk_and_apply(c, n, st);
	if (d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE)
		st->flags |= SQL_F_USES_SEQUENCE;
	set_no_txn_block(st, d->concurrent);
}

static void
h_reindex(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	const PgQuery__ReindexStmt *r = n->reindex_stmt;
	bool		many = r->kind != PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_INDEX &&
		r->kind != PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_TABLE;

	walk_and_apply(c, n, st);
	set_no_txn_block(st, many ||
					 option_bool(c, r->params, r->n_params, "concurrently",
								 false));
}

static void
h_alter_database(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	const PgQuery__AlterDatabaseStmt *a = n->alter_database_stmt;

	(void) c;
	set_no_txn_block(st, find_option(a->options, a->n_options,
									 "tablespace") != NULL);
}

static void
h_create_subscription(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	const PgQuery__CreateSubscriptionStmt *s = n->create_subscription_stmt;
	bool		connect = option_bool(c, s->options, s->n_options, "connect",
									  true);

	set_no_txn_block(st, option_bool(c, s->options, s->n_options,
									 "create_slot", connect));
}

static void
h_alter_subscription(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	const PgQuery__AlterSubscriptionStmt *s = n->alter_subscription_stmt;
	bool		refresh;

	switch (s->kind)
	{
		case PG_QUERY__ALTER_SUBSCRIPTION_TYPE__ALTER_SUBSCRIPTION_REFRESH:
			refresh = true;
			break;
		case PG_QUERY__ALTER_SUBSCRIPTION_TYPE__ALTER_SUBSCRIPTION_SET_PUBLICATION:
		case PG_QUERY__ALTER_SUBSCRIPTION_TYPE__ALTER_SUBSCRIPTION_ADD_PUBLICATION:
		case PG_QUERY__ALTER_SUBSCRIPTION_TYPE__ALTER_SUBSCRIPTION_DROP_PUBLICATION:
			refresh = option_bool(c, s->options, s->n_options, "refresh", true);
			break;
		default:
			refresh = false;
			break;
	}
	set_no_txn_block(st, refresh);
}

static void
h_alter_table(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	const PgQuery__AlterTableStmt *a = n->alter_table_stmt;
	sql_walk	w = {.opts = c->opts};

	walk_and_apply(c, n, st);
	sql_relation_facts(&w, a->relation, true);
	st->flags |= w.facts.flags;
	for (size_t i = 0; i < a->n_cmds; i++)
	{
		const PgQuery__AlterTableCmd *cmd;

		if (a->cmds[i]->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD)
			continue;
		cmd = a->cmds[i]->alter_table_cmd;
		if (cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_DetachPartition &&
			cmd->def != NULL &&
			cmd->def->node_case == PG_QUERY__NODE__NODE_PARTITION_CMD &&
			cmd->def->partition_cmd->concurrent)
			set_no_txn_block(st, true);
	}
}

static void
h_role(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	PgQuery__Node *const *opts;
	size_t		n_opts;

	(void) c;
	if (n->node_case == PG_QUERY__NODE__NODE_CREATE_ROLE_STMT)
	{
		opts = n->create_role_stmt->options;
		n_opts = n->create_role_stmt->n_options;
	}
	else
	{
		opts = n->alter_role_stmt->options;
		n_opts = n->alter_role_stmt->n_options;
	}
	if (find_option(opts, n_opts, "password") != NULL)
		st->flags |= SQL_F_ROLE_PASSWORD;
}

/* ---- the table ---- */

#define RD(h)		{SQL_CLASS_READ_ONLY, 0, 0, h}
#define WR(f, h)	{SQL_CLASS_MAY_WRITE, 0, f, h}
#define DDL(f, h)	{SQL_CLASS_DDL, 0, f, h}
#define NTB(h)		{SQL_CLASS_NO_TXN_BLOCK, 0, SQL_F_NO_TXN_BLOCK, h}
#define SES(k, f, h) {SQL_CLASS_SESSION_STATE, SQL_SESSION_##k, f, h}
#define NOTIFY_F	(SQL_F_NOTIFY | SQL_F_CANNOT_PREPARE)
#define N(x)		PG_QUERY__NODE__NODE_##x

static const stmt_rule rules[] = {
	[N(SELECT_STMT)] = RD(h_select),
	[N(EXPLAIN_STMT)] = RD(h_explain),
	[N(COPY_STMT)] = RD(h_copy),
	[N(INSERT_STMT)] = WR(0, NULL),
	[N(UPDATE_STMT)] = WR(0, NULL),
	[N(DELETE_STMT)] = WR(0, NULL),
	[N(MERGE_STMT)] = WR(0, NULL),
	[N(CALL_STMT)] = WR(0, NULL),
	[N(DO_STMT)] = WR(0, NULL),
	[N(LOCK_STMT)] = WR(0, h_lock_truncate),
	[N(TRANSACTION_STMT)] = {SQL_CLASS_TXN_CONTROL, 0, 0, h_txn},
	[N(VARIABLE_SET_STMT)] = SES(SET, 0, h_set),
	[N(VARIABLE_SHOW_STMT)] = SES(SHOW, 0, h_show),
	[N(PREPARE_STMT)] = SES(PREPARE, 0, h_prepare),
	[N(EXECUTE_STMT)] = SES(EXECUTE, 0, NULL),
	[N(DEALLOCATE_STMT)] = SES(DEALLOCATE, 0, NULL),
	[N(LISTEN_STMT)] = SES(LISTEN, NOTIFY_F, NULL),
	[N(UNLISTEN_STMT)] = SES(UNLISTEN, NOTIFY_F, NULL),
	[N(NOTIFY_STMT)] = SES(NOTIFY, NOTIFY_F, NULL),
	[N(DISCARD_STMT)] = SES(DISCARD, 0, h_discard),
	[N(DECLARE_CURSOR_STMT)] = SES(DECLARE, 0, h_declare),
	[N(FETCH_STMT)] = SES(FETCH, 0, h_fetch),
	[N(CLOSE_PORTAL_STMT)] = SES(CLOSE, 0, NULL),
	[N(LOAD_STMT)] = SES(LOAD, 0, NULL),
	[N(CHECK_POINT_STMT)] = SES(CHECKPOINT, 0, NULL),
	[N(CONSTRAINTS_SET_STMT)] = SES(SET_CONSTRAINTS, 0, NULL),
	[N(CREATEDB_STMT)] = NTB(NULL),
	[N(DROPDB_STMT)] = NTB(NULL),
	[N(CREATE_TABLE_SPACE_STMT)] = NTB(NULL),
	[N(DROP_TABLE_SPACE_STMT)] = NTB(NULL),
	[N(ALTER_SYSTEM_STMT)] = NTB(NULL),
	[N(DROP_SUBSCRIPTION_STMT)] = NTB(NULL),
	[N(CREATE_SUBSCRIPTION_STMT)] = DDL(0, h_create_subscription),
	[N(ALTER_SUBSCRIPTION_STMT)] = DDL(0, h_alter_subscription),
	[N(ALTER_DATABASE_STMT)] = DDL(0, h_alter_database),
	[N(VACUUM_STMT)] = DDL(0, h_vacuum),
	[N(CLUSTER_STMT)] = DDL(0, h_cluster),
	[N(INDEX_STMT)] = DDL(0, h_index),
	[N(DROP_STMT)] = DDL(0, h_drop),
	[N(REINDEX_STMT)] = DDL(0, h_reindex),
	[N(ALTER_TABLE_STMT)] = DDL(0, h_alter_table),
	[N(TRUNCATE_STMT)] = DDL(0, h_lock_truncate),
	[N(CREATE_ROLE_STMT)] = DDL(0, h_role),
	[N(ALTER_ROLE_STMT)] = DDL(0, h_role),
	[N(CREATE_SEQ_STMT)] = DDL(SQL_F_USES_SEQUENCE, NULL),
	[N(ALTER_SEQ_STMT)] = DDL(SQL_F_USES_SEQUENCE, NULL),
};

static const stmt_rule default_rule = DDL(0, NULL);

static const stmt_rule *
rule_for(PgQuery__Node__NodeCase nc)
{
	if ((unsigned) nc < PGQ_LENGTHOF(rules) &&
		rules[nc].cls != SQL_CLASS_NONE)
		return &rules[nc];
	return &default_rule;
}

static void
classify_stmt(cls_ctx *c, const PgQuery__Node *n, sql_stmt *st)
{
	const stmt_rule *r = rule_for(n->node_case);

	st->cls = r->cls;
	st->flags = r->flags;
	if (r->cls == SQL_CLASS_SESSION_STATE)
		st->session = (sql_session_kind) r->kind;
	if (r->handler != NULL)
		r->handler(c, n, st);
	else
		walk_and_apply(c, n, st);
	PGQ_ASSERT(st->cls > SQL_CLASS_NONE && st->cls < SQL_CLASS_COUNT);
	PGQ_ASSERT((st->cls == SQL_CLASS_NO_TXN_BLOCK) <=
			   ((st->flags & SQL_F_NO_TXN_BLOCK) != 0));
}

/* ---- whole string ---- */

static void
summarize(sql_result *out)
{
	out->cls = SQL_CLASS_READ_ONLY;
	for (uint32_t i = 0; i < out->n_stmts; i++)
	{
		const sql_stmt *st = &out->stmts[i];

		if (st->cls > out->cls)
			out->cls = st->cls;
		out->class_mask |= 1u << st->cls;
		out->flags |= st->flags;
		out->admin_views |= st->admin_views;
		out->user_relations |= st->user_relations;
	}
}

sql_status
sql_classify_tree(const PgQuery__ParseResult *tree, const sql_options *opts,
				  sql_result *out, bool *literal_sensitive)
{
	cls_ctx		c = {.opts = opts};

	memset(out, 0, sizeof(*out));
	if (tree->n_stmts == 0)
	{
		out->status = SQL_STATUS_EMPTY;
		out->cls = SQL_CLASS_READ_ONLY;
		return out->status;
	}
	out->stmts = calloc(tree->n_stmts, sizeof(sql_stmt));
	if (out->stmts == NULL)
	{
		out->status = SQL_STATUS_NO_MEMORY;
		out->cls = SQL_CLASS_MAY_WRITE;
		return out->status;
	}
	out->n_stmts = (uint32_t) tree->n_stmts;
	for (size_t i = 0; i < tree->n_stmts; i++)
	{
		const PgQuery__RawStmt *raw = tree->stmts[i];

		PGQ_ASSERT(raw != NULL && raw->stmt != NULL);
		classify_stmt(&c, raw->stmt, &out->stmts[i]);
		out->stmts[i].location = tree->n_stmts == 1 ? 0 : raw->stmt_location;
		out->stmts[i].length = tree->n_stmts == 1 ? 0 : raw->stmt_len;
	}
	summarize(out);
	*literal_sensitive = c.literal_sensitive;
	return out->status = SQL_STATUS_OK;
}

sql_status
sql_result_parse_error(sql_result *out, const char *message, int cursor)
{
	memset(out, 0, sizeof(*out));
	out->status = SQL_STATUS_PARSE_ERROR;
	out->cls = SQL_CLASS_NONE;
	out->error_cursor = cursor;
	out->error_message = strdup(message ? message : "syntax error");
	if (out->error_message == NULL)
	{
		out->status = SQL_STATUS_NO_MEMORY;
		out->cls = SQL_CLASS_MAY_WRITE;
	}
	return out->status;
}

static sql_status
classify_text(const char *query, const sql_options *opts, sql_result *out,
			  bool *literal_sensitive)
{
	PgQueryProtobufParseResult pr = pg_query_parse_protobuf(query);
	PgQuery__ParseResult *tree;
	sql_status	st;

	*literal_sensitive = false;
	if (pr.error != NULL)
	{
		st = sql_result_parse_error(out, pr.error->message,
									pr.error->cursorpos);
		pg_query_free_protobuf_parse_result(pr);
		return st;
	}
	tree = pg_query__parse_result__unpack(NULL, pr.parse_tree.len,
										  (const uint8_t *) pr.parse_tree.data);
	pg_query_free_protobuf_parse_result(pr);
	if (tree == NULL)
	{
		memset(out, 0, sizeof(*out));
		out->cls = SQL_CLASS_MAY_WRITE;
		return out->status = SQL_STATUS_NO_MEMORY;
	}
	st = sql_classify_tree(tree, opts, out, literal_sensitive);
	pg_query__parse_result__free_unpacked(tree, NULL);
	return st;
}

sql_status
sql_classify_ex(const char *query, const sql_options *opts, sql_result *out,
				bool *literal_sensitive)
{
	PGQ_ASSERT(query != NULL && out != NULL && literal_sensitive != NULL);
	return classify_text(query, opts, out, literal_sensitive);
}

sql_status
sql_classify(const char *query, const sql_options *opts, sql_result *out)
{
	bool		literal_sensitive;

	return sql_classify_ex(query, opts, out, &literal_sensitive);
}

void
sql_result_reset(sql_result *r)
{
	if (r == NULL)
		return;
	free(r->stmts);
	free(r->error_message);
	memset(r, 0, sizeof(*r));
}

uint32_t
sql_names_admin_view(const sql_result *r)
{
	return r->admin_views;
}
