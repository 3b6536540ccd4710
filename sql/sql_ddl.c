/*
 * sql_ddl.c
 *	  DDL statements that need more than their text to replicate.  See
 *	  sql_ddl.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "sql/sql_ddl.h"

static char *
deparse_one(PgQuery__RawStmt *raw)
{
	PgQuery__RawStmt *stmts[1] = {raw};
	PgQuery__ParseResult one = PG_QUERY__PARSE_RESULT__INIT;
	PgQueryProtobuf pb;
	PgQueryDeparseResult d;
	char	   *text = NULL;

	one.version = PG_VERSION_NUM;
	one.n_stmts = 1;
	one.stmts = stmts;
	pb.len = pg_query__parse_result__get_packed_size(&one);
	if ((pb.data = malloc(pb.len + 1)) == NULL)
		return NULL;
	pg_query__parse_result__pack(&one, (uint8_t *) pb.data);
	d = pg_query_deparse_protobuf(pb);
	free(pb.data);
	if (d.error == NULL && d.query != NULL)
		text = strdup(d.query);
	pg_query_free_deparse_result(d);
	return text;
}

static void
plan_ctas(PgQuery__RawStmt *raw, sql_ddl_plan *out)
{
	PgQuery__CreateTableAsStmt *c = raw->stmt->create_table_as_stmt;

	if (c->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE || c->into == NULL)
		return;					/* a materialized view: its rows are not decoded */
	if (c->query != NULL && c->query->node_case == PG_QUERY__NODE__NODE_EXECUTE_STMT)
	{
		snprintf(out->refuse, sizeof(out->refuse),
				 "CREATE TABLE ... AS EXECUTE names a statement prepared in this session only; "
				 "pgquorum cannot replicate it: use CREATE TABLE ... AS SELECT");
		return;
	}
	if (c->into->skip_data)
		return;					/* WITH NO DATA: its text alone is right */
	c->into->skip_data = true;
	out->before = deparse_one(raw);
	out->no_after = out->before != NULL;
	if (out->before == NULL)
		snprintf(out->refuse, sizeof(out->refuse),
				 "pgquorum could not derive the table of this CREATE TABLE ... AS");
}

/* The PASSWORD literal of a CREATE/ALTER ROLE, by the scanner's tokens. */
static void
plan_password(const char *stmt, sql_ddl_plan *out)
{
	PgQueryScanResult sr = pg_query_scan(stmt);
	PgQuery__ScanResult *toks;

	if (sr.error != NULL)
	{
		pg_query_free_scan_result(sr);
		return;
	}
	toks = pg_query__scan_result__unpack(NULL, sr.pbuf.len, (const uint8_t *) sr.pbuf.data);
	pg_query_free_scan_result(sr);
	if (toks == NULL)
	{
		snprintf(out->refuse, sizeof(out->refuse), "out of memory reading the statement");
		return;
	}
	for (size_t i = 0; i + 1 < toks->n_tokens; i++)
	{
		const PgQuery__ScanToken *kw = toks->tokens[i],
				   *lit = toks->tokens[i + 1];

		if (kw->token != PG_QUERY__TOKEN__PASSWORD || lit->token != PG_QUERY__TOKEN__SCONST)
			continue;
		if (stmt[lit->start] != '\'')
			snprintf(out->refuse, sizeof(out->refuse),
					 "give the password of CREATE/ALTER ROLE as a plain '...' literal: "
					 "pgquorum replaces it by its SCRAM verifier");
		else
		{
			out->pw_loc = lit->start;
			out->pw_len = lit->end - lit->start;
		}
		break;
	}
	pg_query__scan_result__free_unpacked(toks, NULL);
}

#define UNLOGGED_REFUSAL \
	"UNLOGGED tables are not replicated by PostgreSQL's logical decoding, so " \
	"pgquorum refuses them: create the table without UNLOGGED"

static bool
is_unlogged(const PgQuery__RangeVar *rv)
{
	return rv != NULL && rv->relpersistence != NULL && rv->relpersistence[0] == 'u';
}

/* ALTER TABLE ... SET UNLOGGED */
static bool
sets_unlogged(const PgQuery__AlterTableStmt *a)
{
	for (size_t i = 0; i < a->n_cmds; i++)
		if (a->cmds[i]->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_CMD &&
			a->cmds[i]->alter_table_cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_SetUnLogged)
			return true;
	return false;
}

static bool
role_has_password(PgQuery__Node **opts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (opts[i]->node_case == PG_QUERY__NODE__NODE_DEF_ELEM &&
			strcmp(opts[i]->def_elem->defname, "password") == 0 &&
			opts[i]->def_elem->arg != NULL)
			return true;
	return false;
}

void
sql_ddl_plan_make(const char *stmt, sql_ddl_plan *out)
{
	PgQueryProtobufParseResult pr = pg_query_parse_protobuf(stmt);
	PgQuery__ParseResult *tree = NULL;
	PgQuery__Node *n;

	memset(out, 0, sizeof(*out));
	out->pw_loc = -1;
	if (pr.error == NULL)
		tree = pg_query__parse_result__unpack(NULL, pr.parse_tree.len,
											  (const uint8_t *) pr.parse_tree.data);
	pg_query_free_protobuf_parse_result(pr);
	if (tree == NULL || tree->n_stmts != 1 || tree->stmts[0]->stmt == NULL)
		goto out;
	n = tree->stmts[0]->stmt;
	switch (n->node_case)
	{
		case PG_QUERY__NODE__NODE_DROPDB_STMT:
			snprintf(out->refuse, sizeof(out->refuse),
					 "DROP DATABASE is not supported through pgquorum yet: every node keeps a "
					 "logical replication slot in each database, and PostgreSQL does not drop "
					 "a database that has one");
			break;
		case PG_QUERY__NODE__NODE_CREATE_STMT:
			if (is_unlogged(n->create_stmt->relation))
				snprintf(out->refuse, sizeof(out->refuse), UNLOGGED_REFUSAL);
			break;
		case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
			if (sets_unlogged(n->alter_table_stmt))
				snprintf(out->refuse, sizeof(out->refuse), UNLOGGED_REFUSAL);
			break;
		case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
			if (n->create_table_as_stmt->into != NULL &&
				is_unlogged(n->create_table_as_stmt->into->rel))
				snprintf(out->refuse, sizeof(out->refuse), UNLOGGED_REFUSAL);
			else
				plan_ctas(tree->stmts[0], out);
			break;
		case PG_QUERY__NODE__NODE_SELECT_STMT:
			if (n->select_stmt->into_clause != NULL)
				snprintf(out->refuse, sizeof(out->refuse),
						 "SELECT ... INTO a new table is not replicated by pgquorum: "
						 "use CREATE TABLE ... AS SELECT");
			break;
		case PG_QUERY__NODE__NODE_CREATE_ROLE_STMT:
			if (role_has_password(n->create_role_stmt->options, n->create_role_stmt->n_options))
				plan_password(stmt, out);
			break;
		case PG_QUERY__NODE__NODE_ALTER_ROLE_STMT:
			if (role_has_password(n->alter_role_stmt->options, n->alter_role_stmt->n_options))
				plan_password(stmt, out);
			break;
		default:
			break;
	}
out:
	if (tree != NULL)
		pg_query__parse_result__free_unpacked(tree, NULL);
}

void
sql_ddl_plan_reset(sql_ddl_plan *p)
{
	free(p->before);
	memset(p, 0, sizeof(*p));
	p->pw_loc = -1;
}
