/*
 * sql_walk.c
 *	  Generic walk of a libpg_query protobuf parse tree.
 *
 * The walk needs no code per node type: protobuf-c descriptors list every
 * message field, so the walker follows each message-typed field (single,
 * repeated or the one set member of a oneof) and calls a visitor only for
 * the few node types that carry facts (relations, function calls, DML,
 * locking clauses, column types).  A new node type in a later grammar is
 * therefore walked without change here.  Depth is bounded by
 * SQL_WALK_MAX_DEPTH; a deeper tree is conservatively may-write.
 */
#include "config.h"

#include <string.h>

#include "common/pgq_assert.h"
#include "sql/sql_int.h"

typedef void (*visit_fn) (sql_walk *w, const ProtobufCMessage *msg);

typedef struct visitor
{
	const ProtobufCMessageDescriptor *desc;
	visit_fn	pre;
	visit_fn	post;
} visitor;

static const char *const admin_view_names[SQL_ADMIN_COUNT] = {
	[SQL_ADMIN_NODES] = "nodes",
	[SQL_ADMIN_LOG] = "log",
	[SQL_ADMIN_SESSIONS] = "sessions",
	[SQL_ADMIN_STATS] = "stats",
	[SQL_ADMIN_SETTINGS] = "settings",
};

const char *
sql_admin_view_name(sql_admin_view v)
{
	return (unsigned) v < SQL_ADMIN_COUNT ? admin_view_names[v] : "?";
}

static bool
has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool
is_catalog_relation(const char *schema, const char *name)
{
	if (schema[0] == '\0')
		return has_prefix(name, "pg_");
	return strcmp(schema, "pg_catalog") == 0 ||
		strcmp(schema, "pg_toast") == 0 ||
		strcmp(schema, "information_schema") == 0;
}

static bool
is_temp_schema(const char *schema)
{
	return strcmp(schema, "pg_temp") == 0 || has_prefix(schema, "pg_temp_");
}

void
sql_relation_facts(sql_walk *w, const PgQuery__RangeVar *rv, bool write_target)
{
	const char *schema;
	bool		view = false,
				temp;

	if (rv == NULL || rv->relname == NULL)
		return;
	schema = rv->schemaname ? rv->schemaname : "";
	if (strcmp(schema, "pgquorum") == 0)
	{
		w->facts.flags |= SQL_F_NAMES_PGQUORUM;
		for (int v = 0; v < SQL_ADMIN_COUNT; v++)
			if (strcmp(rv->relname, admin_view_names[v]) == 0)
			{
				w->facts.admin_views |= 1u << v;
				view = true;
			}
	}
	temp = (rv->relpersistence && rv->relpersistence[0] == 't') ||
		is_temp_schema(schema);
	if (temp)
		w->facts.flags |= SQL_F_TEMP_OBJECT | SQL_F_CANNOT_PREPARE;
	if (!view && !temp && !is_catalog_relation(schema, rv->relname))
		w->facts.user_relations = true;
	if (write_target && is_catalog_relation(schema, rv->relname))
		w->facts.flags |= SQL_F_TOUCHES_CATALOG;
}

static void
visit_range_var(sql_walk *w, const ProtobufCMessage *msg)
{
	sql_relation_facts(w, (const PgQuery__RangeVar *) msg,
					   w->locking_depth > 0);
}

/* Last name of a qualified name list (["pg_catalog", "count"]), and the one
 * before it as the schema. */
static void
func_name(const PgQuery__FuncCall *fc, const char **schema, const char **name)
{
	const PgQuery__Node *last;
	const PgQuery__Node *prev;

	*schema = NULL;
	*name = NULL;
	if (fc->n_funcname == 0)
		return;
	last = fc->funcname[fc->n_funcname - 1];
	if (last->node_case == PG_QUERY__NODE__NODE_STRING)
		*name = last->string->sval;
	if (fc->n_funcname < 2)
		return;
	prev = fc->funcname[fc->n_funcname - 2];
	if (prev->node_case == PG_QUERY__NODE__NODE_STRING)
		*schema = prev->string->sval;
}

static sql_func_effect
func_effect_from_callback(const sql_walk *w, const char *schema,
						  const char *name)
{
	int			v;

	if (w->opts == NULL || w->opts->volatility == NULL)
		return SQL_FUNC_UNKNOWN;
	v = w->opts->volatility(w->opts->volatility_arg, schema, name);
	if (v == 'i' || v == 's')
		return SQL_FUNC_READ;
	return v == 'v' ? SQL_FUNC_WRITE : SQL_FUNC_UNKNOWN;
}

static void
visit_func_call(sql_walk *w, const ProtobufCMessage *msg)
{
	const char *schema;
	const char *name;
	sql_func_effect effect = SQL_FUNC_UNKNOWN;
	uint32_t	flags = 0;

	func_name((const PgQuery__FuncCall *) msg, &schema, &name);
	if (name == NULL)
	{
		w->facts.writes = true;
		w->facts.flags |= SQL_F_UNKNOWN_FUNCTION;
		return;
	}
	if (schema != NULL && strcmp(schema, "pgquorum") == 0)
		w->facts.flags |= SQL_F_NAMES_PGQUORUM;
	if (schema == NULL || strcmp(schema, "pg_catalog") == 0)
		effect = sql_func_lookup(name, &flags);
	w->facts.flags |= flags;
	if (effect == SQL_FUNC_UNKNOWN)
		effect = func_effect_from_callback(w, schema, name);
	if (effect == SQL_FUNC_UNKNOWN)
		w->facts.flags |= SQL_F_UNKNOWN_FUNCTION;
	if (effect != SQL_FUNC_READ)
		w->facts.writes = true;
}

static void
visit_select_pre(sql_walk *w, const ProtobufCMessage *msg)
{
	const PgQuery__SelectStmt *s = (const PgQuery__SelectStmt *) msg;

	if (s->n_locking_clause > 0)
	{
		w->facts.writes = true;
		w->locking_depth++;
	}
	if (s->into_clause != NULL)
		w->facts.writes = true;
}

static void
visit_select_post(sql_walk *w, const ProtobufCMessage *msg)
{
	const PgQuery__SelectStmt *s = (const PgQuery__SelectStmt *) msg;

	if (s->n_locking_clause > 0)
	{
		PGQ_ASSERT(w->locking_depth > 0);
		w->locking_depth--;
	}
}

static void
visit_dml(sql_walk *w, const ProtobufCMessage *msg)
{
	const PgQuery__RangeVar *target = NULL;

	if (msg->descriptor == &pg_query__insert_stmt__descriptor)
		target = ((const PgQuery__InsertStmt *) msg)->relation;
	else if (msg->descriptor == &pg_query__update_stmt__descriptor)
		target = ((const PgQuery__UpdateStmt *) msg)->relation;
	else if (msg->descriptor == &pg_query__delete_stmt__descriptor)
		target = ((const PgQuery__DeleteStmt *) msg)->relation;
	else if (msg->descriptor == &pg_query__merge_stmt__descriptor)
		target = ((const PgQuery__MergeStmt *) msg)->relation;
	w->facts.writes = true;
	sql_relation_facts(w, target, true);
}

static bool
is_serial_type(const char *t)
{
	static const char *const serials[] = {
		"serial", "serial4", "bigserial", "serial8", "smallserial", "serial2"
	};

	for (size_t i = 0; i < PGQ_LENGTHOF(serials); i++)
		if (strcmp(t, serials[i]) == 0)
			return true;
	return false;
}

static void
visit_column_def(sql_walk *w, const ProtobufCMessage *msg)
{
	const PgQuery__ColumnDef *cd = (const PgQuery__ColumnDef *) msg;
	const PgQuery__Node *last;

	if (cd->identity != NULL && cd->identity[0] != '\0')
		w->facts.flags |= SQL_F_USES_SEQUENCE;
	if (cd->type_name == NULL || cd->type_name->n_names == 0)
		return;
	last = cd->type_name->names[cd->type_name->n_names - 1];
	if (last->node_case == PG_QUERY__NODE__NODE_STRING &&
		is_serial_type(last->string->sval))
		w->facts.flags |= SQL_F_USES_SEQUENCE;
}

static void
visit_constraint(sql_walk *w, const ProtobufCMessage *msg)
{
	if (((const PgQuery__Constraint *) msg)->contype ==
		PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY)
		w->facts.flags |= SQL_F_USES_SEQUENCE;
}

static bool
is_temp_on_commit(PgQuery__OnCommitAction a)
{
	return a == PG_QUERY__ON_COMMIT_ACTION__ONCOMMIT_PRESERVE_ROWS ||
		a == PG_QUERY__ON_COMMIT_ACTION__ONCOMMIT_DELETE_ROWS ||
		a == PG_QUERY__ON_COMMIT_ACTION__ONCOMMIT_DROP;
}

static void
visit_create(sql_walk *w, const ProtobufCMessage *msg)
{
	if (is_temp_on_commit(((const PgQuery__CreateStmt *) msg)->oncommit))
		w->facts.flags |= SQL_F_TEMP_OBJECT | SQL_F_CANNOT_PREPARE;
}

static void
visit_into(sql_walk *w, const ProtobufCMessage *msg)
{
	if (is_temp_on_commit(((const PgQuery__IntoClause *) msg)->on_commit))
		w->facts.flags |= SQL_F_TEMP_OBJECT | SQL_F_CANNOT_PREPARE;
}

static const visitor visitors[] = {
	{&pg_query__range_var__descriptor, visit_range_var, NULL},
	{&pg_query__func_call__descriptor, visit_func_call, NULL},
	{&pg_query__select_stmt__descriptor, visit_select_pre, visit_select_post},
	{&pg_query__insert_stmt__descriptor, visit_dml, NULL},
	{&pg_query__update_stmt__descriptor, visit_dml, NULL},
	{&pg_query__delete_stmt__descriptor, visit_dml, NULL},
	{&pg_query__merge_stmt__descriptor, visit_dml, NULL},
	{&pg_query__column_def__descriptor, visit_column_def, NULL},
	{&pg_query__constraint__descriptor, visit_constraint, NULL},
	{&pg_query__create_stmt__descriptor, visit_create, NULL},
	{&pg_query__into_clause__descriptor, visit_into, NULL},
};

static const visitor *
find_visitor(const ProtobufCMessageDescriptor *desc)
{
	for (size_t i = 0; i < PGQ_LENGTHOF(visitors); i++)
		if (visitors[i].desc == desc)
			return &visitors[i];
	return NULL;
}

/* ObjectType fields: LARGE OBJECT in GRANT, COMMENT, ALTER ... OWNER. */
static void
check_enum_field(sql_walk *w, const ProtobufCFieldDescriptor *f,
				 const char *base)
{
	int			value;

	if (f->descriptor != &pg_query__object_type__descriptor ||
		f->label == PROTOBUF_C_LABEL_REPEATED)
		return;
	memcpy(&value, base + f->offset, sizeof(value));
	if (value == PG_QUERY__OBJECT_TYPE__OBJECT_LARGEOBJECT)
		w->facts.flags |= SQL_F_USES_LARGE_OBJECT;
}

static void
walk_message_field(sql_walk *w, const ProtobufCFieldDescriptor *f,
				   const char *base)
{
	const ProtobufCMessage *child;

	if (f->label == PROTOBUF_C_LABEL_REPEATED)
	{
		size_t		n;
		const ProtobufCMessage *const *items;

		memcpy(&n, base + f->quantifier_offset, sizeof(n));
		memcpy(&items, base + f->offset, sizeof(items));
		for (size_t i = 0; i < n; i++)
			sql_walk_message(w, items[i]);
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
	sql_walk_message(w, child);
}

static void
walk_fields(sql_walk *w, const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	const char *base = (const char *) msg;

	for (unsigned i = 0; i < d->n_fields; i++)
	{
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if (f->type == PROTOBUF_C_TYPE_MESSAGE)
			walk_message_field(w, f, base);
		else if (f->type == PROTOBUF_C_TYPE_ENUM)
			check_enum_field(w, f, base);
	}
}

void
sql_walk_node(sql_walk *w, const PgQuery__Node *node)
{
	const ProtobufCFieldDescriptor *f;

	if (node == NULL || node->node_case == PG_QUERY__NODE__NODE__NOT_SET)
		return;
	/* A Node is a oneof of ~250 members: go straight to the set one. */
	f = protobuf_c_message_descriptor_get_field(&pg_query__node__descriptor,
												(unsigned) node->node_case);
	PGQ_ASSERT(f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE);
	walk_message_field(w, f, (const char *) node);
}

void
sql_walk_message(sql_walk *w, const ProtobufCMessage *msg)
{
	const visitor *v;

	if (msg == NULL)
		return;
	if (w->depth >= SQL_WALK_MAX_DEPTH)
	{
		w->facts.flags |= SQL_F_WALK_LIMIT;
		w->facts.writes = true;
		return;
	}
	w->depth++;
	v = find_visitor(msg->descriptor);
	if (v != NULL && v->pre != NULL)
		v->pre(w, msg);
	if (msg->descriptor == &pg_query__node__descriptor)
		sql_walk_node(w, (const PgQuery__Node *) msg);
	else
		walk_fields(w, msg);
	if (v != NULL && v->post != NULL)
		v->post(w, msg);
	w->depth--;
}
