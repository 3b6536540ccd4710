/*
 * sql_admin_cmd.c
 *	  Recognise the statements a node answers itself: SELECT pgquorum.fn(...)
 *	  and SET / RESET / SHOW pgquorum.<name> (sql_admin_cmd.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "common/pgq_assert.h"
#include "sql/sql_admin_cmd.h"

static const struct
{
	const char *name;
	int			n_args;
}			admin_fns[SQL_ADMIN_FN_COUNT] = {
	[SQL_ADMIN_FN_TRANSFER_LEADERSHIP] = {"transfer_leadership", 1},
	[SQL_ADMIN_FN_ADD_NODE] = {"add_node", 1},
	[SQL_ADMIN_FN_REMOVE_NODE] = {"remove_node", 1},
	[SQL_ADMIN_FN_WAIT_APPLIED] = {"wait_applied", 2},
};

const char *
sql_admin_fn_name(sql_admin_fn fn)
{
	return (unsigned) fn < SQL_ADMIN_FN_COUNT ? admin_fns[fn].name : "?";
}

int
sql_admin_fn_find(const char *name)
{
	for (int i = 0; i < SQL_ADMIN_FN_COUNT; i++)
		if (strcmp(admin_fns[i].name, name) == 0)
			return i;
	return -1;
}

static sql_admin_cmd_kind
invalid(sql_admin_cmd *out, const char *sqlstate, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(out->error, sizeof(out->error), fmt, ap);
	va_end(ap);
	out->sqlstate = sqlstate;
	out->kind = SQL_ADMIN_CMD_INVALID;
	return out->kind;
}

static bool
mentions_pgquorum(const char *q)
{
	for (; *q != '\0'; q++)
		if (strncasecmp(q, "pgquorum", 8) == 0)
			return true;
	return false;
}

/* "pgquorum.x" -> "x", else NULL. */
static const char *
pgquorum_setting(const char *name)
{
	if (name == NULL || strncmp(name, "pgquorum.", 9) != 0 || name[9] == '\0')
		return NULL;
	return name + 9;
}

/* An integer constant, possibly under a cast; false otherwise. */
static bool
const_int(const PgQuery__Node *n, int64_t *v)
{
	const PgQuery__AConst *c;
	char	   *end;

	if (n->node_case == PG_QUERY__NODE__NODE_TYPE_CAST)
		n = n->type_cast->arg;
	if (n == NULL || n->node_case != PG_QUERY__NODE__NODE_A_CONST)
		return false;
	c = n->a_const;
	if (c->isnull)
		return false;
	if (c->val_case == PG_QUERY__A__CONST__VAL_IVAL)
	{
		*v = c->ival->ival;
		return true;
	}
	if (c->val_case == PG_QUERY__A__CONST__VAL_FVAL ||
		c->val_case == PG_QUERY__A__CONST__VAL_SVAL)
	{
		const char *s = c->val_case == PG_QUERY__A__CONST__VAL_FVAL ?
			c->fval->fval : c->sval->sval;

		errno = 0;
		*v = strtoll(s, &end, 10);
		return errno == 0 && end != s && *end == '\0';
	}
	return false;
}

static bool
is_param(const PgQuery__Node *n)
{
	if (n->node_case == PG_QUERY__NODE__NODE_TYPE_CAST)
		n = n->type_cast->arg;
	return n != NULL && n->node_case == PG_QUERY__NODE__NODE_PARAM_REF;
}

/* pgquorum.<fn>: the function, or -1. */
static int
call_fn(const PgQuery__FuncCall *fc)
{
	if (fc->n_funcname != 2 ||
		fc->funcname[0]->node_case != PG_QUERY__NODE__NODE_STRING ||
		fc->funcname[1]->node_case != PG_QUERY__NODE__NODE_STRING ||
		strcmp(fc->funcname[0]->string->sval, "pgquorum") != 0)
		return -1;
	return sql_admin_fn_find(fc->funcname[1]->string->sval);
}

static bool
select_is_bare(const PgQuery__SelectStmt *s)
{
	return s->n_target_list == 1 && s->n_from_clause == 0 &&
		s->where_clause == NULL && s->n_group_clause == 0 &&
		s->having_clause == NULL && s->n_window_clause == 0 &&
		s->n_values_lists == 0 && s->n_sort_clause == 0 &&
		s->limit_count == NULL && s->limit_offset == NULL &&
		s->n_locking_clause == 0 && s->with_clause == NULL &&
		s->into_clause == NULL && s->n_distinct_clause == 0 &&
		s->op == PG_QUERY__SET_OPERATION__SETOP_NONE;
}

static sql_admin_cmd_kind
parse_call(const PgQuery__SelectStmt *s, sql_admin_cmd *out)
{
	const PgQuery__Node *val;
	const PgQuery__FuncCall *fc;
	int			fn;

	if (s->n_target_list != 1 ||
		s->target_list[0]->node_case != PG_QUERY__NODE__NODE_RES_TARGET ||
		(val = s->target_list[0]->res_target->val) == NULL ||
		val->node_case != PG_QUERY__NODE__NODE_FUNC_CALL)
		return SQL_ADMIN_CMD_NONE;
	fc = val->func_call;
	if ((fn = call_fn(fc)) < 0)
		return SQL_ADMIN_CMD_NONE;
	out->fn = (sql_admin_fn) fn;
	out->fn_name = admin_fns[fn].name;
	if (!select_is_bare(s) || fc->agg_star || fc->agg_distinct ||
		fc->func_variadic || fc->over != NULL || fc->agg_filter != NULL ||
		fc->n_agg_order > 0)
		return invalid(out, "0A000", "pgquorum.%s() must be called alone: "
					   "SELECT pgquorum.%s(...)", admin_fns[fn].name,
					   admin_fns[fn].name);
	if ((int) fc->n_args != admin_fns[fn].n_args)
		return invalid(out, "42883", "pgquorum.%s() takes %d argument%s, not %zu",
					   admin_fns[fn].name, admin_fns[fn].n_args,
					   admin_fns[fn].n_args == 1 ? "" : "s", fc->n_args);
	for (size_t i = 0; i < fc->n_args; i++)
	{
		if (is_param(fc->args[i]))
			return invalid(out, "0A000", "pgquorum.%s(): arguments must be "
						   "constants, not parameters ($n)", admin_fns[fn].name);
		if (!const_int(fc->args[i], &out->iargs[i]))
			return invalid(out, "22023", "pgquorum.%s(): argument %zu must be "
						   "an integer constant", admin_fns[fn].name, i + 1);
	}
	out->n_args = (int) fc->n_args;
	out->kind = SQL_ADMIN_CMD_CALL;
	return out->kind;
}

/* A constant's text, lower case; false when it does not fit. */
static bool
const_text(const PgQuery__AConst *c, char *buf, size_t cap)
{
	const char *s = "";
	char		num[32];

	switch (c->val_case)
	{
		case PG_QUERY__A__CONST__VAL_SVAL:
			s = c->sval->sval;
			break;
		case PG_QUERY__A__CONST__VAL_FVAL:
			s = c->fval->fval;
			break;
		case PG_QUERY__A__CONST__VAL_IVAL:
			snprintf(num, sizeof(num), "%d", c->ival->ival);
			s = num;
			break;
		case PG_QUERY__A__CONST__VAL_BOOLVAL:
			s = c->boolval->boolval ? "true" : "false";
			break;
		default:
			break;
	}
	if (strlen(s) >= cap)
		return false;
	for (size_t i = 0; i <= strlen(s); i++)
		buf[i] = (char) tolower((unsigned char) s[i]);
	return true;
}

static sql_admin_cmd_kind
parse_set(const PgQuery__VariableSetStmt *s, sql_admin_cmd *out)
{
	const char *name = pgquorum_setting(s->name);
	const PgQuery__AConst *c;

	if (name == NULL)
		return SQL_ADMIN_CMD_NONE;
	snprintf(out->setting, sizeof(out->setting), "%s", name);
	out->local = s->is_local;
	switch (s->kind)
	{
		case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET:
		case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT:
			out->kind = SQL_ADMIN_CMD_RESET;
			return out->kind;
		case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE:
			break;
		default:
			return invalid(out, "0A000", "SET pgquorum.%s: only SET ... = value, "
						   "SET ... TO DEFAULT and RESET are supported", name);
	}
	if (s->n_args != 1 || s->args[0]->node_case != PG_QUERY__NODE__NODE_A_CONST ||
		(c = s->args[0]->a_const)->isnull)
		return invalid(out, "22023", "SET pgquorum.%s takes one value", name);
	if (!const_text(c, out->value, sizeof(out->value)))
		return invalid(out, "22023", "SET pgquorum.%s: value too long", name);
	out->n_args = 1;
	out->kind = SQL_ADMIN_CMD_SET;
	return out->kind;
}

static sql_admin_cmd_kind
parse_stmt(const PgQuery__Node *stmt, sql_admin_cmd *out)
{
	const char *name;

	switch (stmt->node_case)
	{
		case PG_QUERY__NODE__NODE_SELECT_STMT:
			return parse_call(stmt->select_stmt, out);
		case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
			return parse_set(stmt->variable_set_stmt, out);
		case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT:
			if ((name = pgquorum_setting(stmt->variable_show_stmt->name)) == NULL)
				return SQL_ADMIN_CMD_NONE;
			snprintf(out->setting, sizeof(out->setting), "%s", name);
			out->kind = SQL_ADMIN_CMD_SHOW;
			return out->kind;
		default:
			return SQL_ADMIN_CMD_NONE;
	}
}

/* The parse tree of query, or NULL: *oom says whether for want of memory
 * (else a parse error, which the server reports). */
static PgQuery__ParseResult *
parse_tree(const char *query, bool *oom)
{
	PgQueryProtobufParseResult pr = pg_query_parse_protobuf(query);
	PgQuery__ParseResult *tree = NULL;

	*oom = false;
	if (pr.error == NULL)
	{
		tree = pg_query__parse_result__unpack(NULL, pr.parse_tree.len,
											  (const uint8_t *) pr.parse_tree.data);
		*oom = tree == NULL;
	}
	pg_query_free_protobuf_parse_result(pr);
	return tree;
}

sql_admin_cmd_kind
sql_admin_cmd_parse(const char *query, sql_admin_cmd *out)
{
	PgQuery__ParseResult *tree;
	bool		oom;

	PGQ_ASSERT(query != NULL && out != NULL);
	memset(out, 0, sizeof(*out));
	if (!mentions_pgquorum(query))
		return SQL_ADMIN_CMD_NONE;
	if ((tree = parse_tree(query, &oom)) == NULL)
		return oom ? invalid(out, "53200", "out of memory parsing the query") :
			SQL_ADMIN_CMD_NONE;

	if (tree->n_stmts == 1 && tree->stmts[0]->stmt != NULL)
		(void) parse_stmt(tree->stmts[0]->stmt, out);
	for (size_t i = 0; tree->n_stmts > 1 && i < tree->n_stmts; i++)
	{
		sql_admin_cmd one;
		const PgQuery__Node *st = tree->stmts[i]->stmt;

		memset(&one, 0, sizeof(one));
		if (st == NULL || (st->node_case != PG_QUERY__NODE__NODE_VARIABLE_SET_STMT &&
						   st->node_case != PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT))
			continue;
		(void) parse_stmt(st, &one);
		/* the server would take the setting as a placeholder that the
		 * node never sees: a session would not read as it says */
		if (one.kind != SQL_ADMIN_CMD_NONE)
		{
			(void) invalid(out, "0A000", "SET, RESET and SHOW of pgquorum.* "
						   "settings must be sent alone, not with other "
						   "statements in one query string");
			break;
		}
	}
	pg_query__parse_result__free_unpacked(tree, NULL);
	return out->kind;
}

/* ---- SQL-level prepared statements ---- */

static bool
mentions_prepared(const char *q)
{
	static const char *const words[] = {"prepare", "execute", "deallocate", "discard"};

	for (; *q != '\0'; q++)
		for (size_t i = 0; i < PGQ_LENGTHOF(words); i++)
			if (strncasecmp(q, words[i], strlen(words[i])) == 0)
				return true;
	return false;
}

static sql_prepared_kind
prepared_kind(const PgQuery__Node *st, const char **name)
{
	*name = NULL;
	switch (st->node_case)
	{
		case PG_QUERY__NODE__NODE_PREPARE_STMT:
			*name = st->prepare_stmt->name;
			return SQL_PREPARED_PREPARE;
		case PG_QUERY__NODE__NODE_EXECUTE_STMT:
			*name = st->execute_stmt->name;
			return SQL_PREPARED_EXECUTE;
		case PG_QUERY__NODE__NODE_DEALLOCATE_STMT:
			*name = st->deallocate_stmt->name;
			if (*name == NULL || (*name)[0] == '\0')
				return SQL_PREPARED_FORGET_ALL;
			return SQL_PREPARED_DEALLOCATE;
		case PG_QUERY__NODE__NODE_DISCARD_STMT:
			return st->discard_stmt->target == PG_QUERY__DISCARD_MODE__DISCARD_ALL ?
				SQL_PREPARED_FORGET_ALL : SQL_PREPARED_NONE;
		default:
			return SQL_PREPARED_NONE;
	}
}

sql_prepared_kind
sql_admin_prepared(const char *query, char name[SQL_PREPARED_NAME_LEN])
{
	PgQuery__ParseResult *tree;
	sql_prepared_kind kind = SQL_PREPARED_NONE;
	const char *nm;
	bool		oom;

	PGQ_ASSERT(query != NULL);
	name[0] = '\0';
	if (!mentions_prepared(query))
		return SQL_PREPARED_NONE;
	if ((tree = parse_tree(query, &oom)) == NULL)	/* out of memory: forget,
													 * to be safe */
		return oom ? SQL_PREPARED_FORGET_ALL : SQL_PREPARED_NONE;
	for (size_t i = 0; i < tree->n_stmts; i++)
	{
		sql_prepared_kind k;

		if (tree->stmts[i]->stmt == NULL)
			continue;
		k = prepared_kind(tree->stmts[i]->stmt, &nm);
		if (tree->n_stmts == 1)
		{
			kind = k;
			if (nm != NULL && k != SQL_PREPARED_FORGET_ALL)
				snprintf(name, SQL_PREPARED_NAME_LEN, "%s", nm);
		}
		else if (k != SQL_PREPARED_NONE && k != SQL_PREPARED_EXECUTE)
			kind = SQL_PREPARED_FORGET_ALL;
	}
	pg_query__parse_result__free_unpacked(tree, NULL);
	return kind;
}
