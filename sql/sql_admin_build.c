/*
 * sql_admin_build.c
 *	  Builds, as libpg_query protobuf nodes, the subquery that replaces one
 *	  pgquorum.<view> relation:
 *
 *		(VALUES ('1'::pg_catalog.int8, 'a'::pg_catalog.text), ('2', 'b'), ...)
 *			AS <alias>(<col>, ...)
 *	  or, for zero rows,
 *		(SELECT NULL::pg_catalog.int8, NULL::pg_catalog.text WHERE false)
 *			AS <alias>(<col>, ...)
 *
 *	  Every value is an A_Const string node, so the deparser itself quotes
 *	  it (quotes, backslashes, newlines, any bytes); the first row's values
 *	  (or the zero-row SELECT's NULLs) are under a TypeCast, so each column
 *	  has its type even when a value is NULL or there are no rows.
 *
 * Memory: every node is malloc'd (through the fault seam) and initialised
 * with its protobuf-c descriptor, so protobuf_c_message_free_unpacked frees
 * a built tree like an unpacked one.  A builder that fails frees what it
 * built and returns NULL; children already attached go with their parent.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "sql/sql_admin_int.h"

static void *
msg_new(const ProtobufCMessageDescriptor *d)
{
	void	   *m = sql_admin_alloc(d->sizeof_message);

	if (m != NULL)
		protobuf_c_message_init(d, m);
	return m;
}

static void
msg_free(void *m)
{
	if (m != NULL)
		protobuf_c_message_free_unpacked(m, NULL);
}

/* An array of n node pointers, zeroed (a NULL entry frees as nothing). */
static PgQuery__Node **
node_array(size_t n)
{
	PgQuery__Node **a = sql_admin_alloc(n * sizeof(*a));

	if (a != NULL)
		memset(a, 0, n * sizeof(*a));
	return a;
}

/*
 * Wrap a built message in a Node of case c; the Node's oneof union has one
 * pointer member per case, all at the same offset, so any one names it.
 * On failure the message is freed.
 */
static PgQuery__Node *
node_wrap(PgQuery__Node__NodeCase c, void *m)
{
	PgQuery__Node *n;

	if (m == NULL)
		return NULL;
	n = msg_new(&pg_query__node__descriptor);
	if (n == NULL)
	{
		msg_free(m);
		return NULL;
	}
	n->node_case = c;
	n->string = m;				/* the union member for every case */
	return n;
}

static PgQuery__Node *
string_node(const char *s)
{
	PgQuery__String *str = msg_new(&pg_query__string__descriptor);

	if (str == NULL)
		return NULL;
	str->sval = sql_admin_strdup(s);
	if (str->sval == NULL)
	{
		msg_free(str);
		return NULL;
	}
	return node_wrap(PG_QUERY__NODE__NODE_STRING, str);
}

/* pg_catalog.<type>, as the parser writes a built-in type name. */
static PgQuery__TypeName *
type_name(sql_admin_type t)
{
	PgQuery__TypeName *tn = msg_new(&pg_query__type_name__descriptor);

	if (tn == NULL)
		return NULL;
	tn->typemod = -1;
	tn->location = -1;
	tn->names = node_array(2);
	if (tn->names == NULL)
	{
		msg_free(tn);
		return NULL;
	}
	tn->n_names = 2;
	tn->names[0] = string_node("pg_catalog");
	tn->names[1] = string_node(sql_admin_catalog_type(t));
	if (tn->names[0] == NULL || tn->names[1] == NULL)
	{
		msg_free(tn);
		return NULL;
	}
	return tn;
}

/* A constant: value text, or NULL for SQL NULL. */
static PgQuery__Node *
const_node(const char *value)
{
	PgQuery__AConst *c = msg_new(&pg_query__a__const__descriptor);

	if (c == NULL)
		return NULL;
	c->location = -1;
	if (value == NULL)
		c->isnull = true;
	else
	{
		c->val_case = PG_QUERY__A__CONST__VAL_SVAL;
		c->sval = msg_new(&pg_query__string__descriptor);
		if (c->sval == NULL ||
			(c->sval->sval = sql_admin_strdup(value)) == NULL)
		{
			msg_free(c);
			return NULL;
		}
	}
	return node_wrap(PG_QUERY__NODE__NODE_A_CONST, c);
}

/* 'value'::pg_catalog.t, or NULL::pg_catalog.t */
static PgQuery__Node *
typed_value(const char *value, sql_admin_type t)
{
	PgQuery__TypeCast *tc = msg_new(&pg_query__type_cast__descriptor);

	if (tc == NULL)
		return NULL;
	tc->location = -1;
	tc->arg = const_node(value);
	tc->type_name = type_name(t);
	if (tc->arg == NULL || tc->type_name == NULL)
	{
		msg_free(tc);
		return NULL;
	}
	return node_wrap(PG_QUERY__NODE__NODE_TYPE_CAST, tc);
}

/* A SelectStmt with the fields every one needs set. */
static PgQuery__SelectStmt *
select_new(void)
{
	PgQuery__SelectStmt *s = msg_new(&pg_query__select_stmt__descriptor);

	if (s != NULL)
	{
		s->op = PG_QUERY__SET_OPERATION__SETOP_NONE;
		s->limit_option = PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_DEFAULT;
	}
	return s;
}

/*
 * One VALUES row: a List of constants, typed in the first row only.
 * PostgreSQL resolves each VALUES column to the common type of its rows,
 * and the untyped literals of the later rows (type unknown) take the first
 * row's type: the same result for a fifth of the nodes, which is what the
 * protobuf round trips cost (docs/admin-views.md, "Cost").
 */
static PgQuery__Node *
values_row(const sql_admin_rows *r, uint32_t row)
{
	uint32_t	nc = r->def->n_columns;
	PgQuery__List *l = msg_new(&pg_query__list__descriptor);

	if (l == NULL || (l->items = node_array(nc)) == NULL)
	{
		msg_free(l);
		return NULL;
	}
	l->n_items = nc;
	for (uint32_t c = 0; c < nc; c++)
	{
		const char *v = r->values[(size_t) row * nc + c];

		l->items[c] = row == 0 ? typed_value(v, r->def->columns[c].type)
			: const_node(v);
		if (l->items[c] == NULL)
		{
			msg_free(l);
			return NULL;
		}
	}
	return node_wrap(PG_QUERY__NODE__NODE_LIST, l);
}

static PgQuery__SelectStmt *
values_select(const sql_admin_rows *r)
{
	PgQuery__SelectStmt *s = select_new();

	PGQ_ASSERT(r->n_rows > 0);
	if (s == NULL || (s->values_lists = node_array(r->n_rows)) == NULL)
	{
		msg_free(s);
		return NULL;
	}
	s->n_values_lists = r->n_rows;
	for (uint32_t i = 0; i < r->n_rows; i++)
		if ((s->values_lists[i] = values_row(r, i)) == NULL)
		{
			msg_free(s);
			return NULL;
		}
	return s;
}

static PgQuery__Node *
res_target(PgQuery__Node *val)
{
	PgQuery__ResTarget *rt;

	if (val == NULL)
		return NULL;
	rt = msg_new(&pg_query__res_target__descriptor);
	if (rt == NULL)
	{
		msg_free(val);
		return NULL;
	}
	rt->val = val;
	rt->location = -1;
	return node_wrap(PG_QUERY__NODE__NODE_RES_TARGET, rt);
}

static PgQuery__Node *
false_node(void)
{
	PgQuery__AConst *c = msg_new(&pg_query__a__const__descriptor);

	if (c == NULL)
		return NULL;
	c->location = -1;
	c->val_case = PG_QUERY__A__CONST__VAL_BOOLVAL;
	c->boolval = msg_new(&pg_query__boolean__descriptor);
	if (c->boolval == NULL)
	{
		msg_free(c);
		return NULL;
	}
	return node_wrap(PG_QUERY__NODE__NODE_A_CONST, c);
}

/* SELECT NULL::t1, ..., NULL::tn WHERE false */
static PgQuery__SelectStmt *
empty_select(const sql_admin_view_def *def)
{
	PgQuery__SelectStmt *s = select_new();

	if (s == NULL || (s->target_list = node_array(def->n_columns)) == NULL)
	{
		msg_free(s);
		return NULL;
	}
	s->n_target_list = def->n_columns;
	for (uint32_t c = 0; c < def->n_columns; c++)
		if ((s->target_list[c] =
			 res_target(typed_value(NULL, def->columns[c].type))) == NULL)
		{
			msg_free(s);
			return NULL;
		}
	if ((s->where_clause = false_node()) == NULL)
	{
		msg_free(s);
		return NULL;
	}
	return s;
}

/* Name of column i: the user's column alias (a String node: the parser
 * makes no other), else the view's. */
static const char *
alias_colname(const sql_admin_view_def *def, const PgQuery__Alias *user,
			  size_t i)
{
	if (user != NULL && i < user->n_colnames &&
		user->colnames[i]->node_case == PG_QUERY__NODE__NODE_STRING)
		return user->colnames[i]->string->sval;
	return i < def->n_columns ? def->columns[i].name : "?column?";
}

/*
 * AS <alias>(<col>, ...): the user's alias name, or the view's name; the
 * user's column aliases first, then the view's names for the columns left.
 */
static PgQuery__Alias *
alias_for(const sql_admin_view_def *def, const PgQuery__Alias *user)
{
	PgQuery__Alias *a = msg_new(&pg_query__alias__descriptor);
	size_t		n_user = user ? user->n_colnames : 0;
	size_t		n = n_user > def->n_columns ? n_user : def->n_columns;

	if (a == NULL || (a->colnames = node_array(n)) == NULL ||
		(a->aliasname = sql_admin_strdup(user ? user->aliasname
										 : def->name)) == NULL)
	{
		msg_free(a);
		return NULL;
	}
	a->n_colnames = n;
	for (size_t i = 0; i < n; i++)
	{
		if ((a->colnames[i] = string_node(alias_colname(def, user, i))) == NULL)
		{
			msg_free(a);
			return NULL;
		}
	}
	return a;
}

PgQuery__RangeSubselect *
sql_admin_build_subselect(const sql_admin_rows *r, const PgQuery__Alias *user)
{
	PgQuery__RangeSubselect *rs = msg_new(&pg_query__range_subselect__descriptor);
	PgQuery__SelectStmt *s;

	if (rs == NULL)
		return NULL;
	s = r->n_rows > 0 ? values_select(r) : empty_select(r->def);
	rs->subquery = node_wrap(PG_QUERY__NODE__NODE_SELECT_STMT, s);
	rs->alias = alias_for(r->def, user);
	if (rs->subquery == NULL || rs->alias == NULL)
	{
		msg_free(rs);
		return NULL;
	}
	return rs;
}
