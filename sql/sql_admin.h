/*
 * sql_admin.h
 *	  The admin views of issue 7 (pgquorum.nodes, pgquorum.log,
 *	  pgquorum.sessions, pgquorum.stats, pgquorum.settings) and the query
 *	  rewrite that makes them answer with the whole of SQL: every relation
 *	  pgquorum.<view> in a query becomes a typed VALUES list of the node's
 *	  current figures, and the local PostgreSQL runs the rest.  Pure code:
 *	  no sockets, no libpq, no clock, no logging.  Design, columns, measured
 *	  cost and limits: docs/admin-views.md.
 *
 * INTERFACE ROUTINES
 *	sql_admin_get_view		- name and columns of one view (the view table)
 *	sql_admin_find_view		- view by its name ("nodes"), -1 if none
 *	sql_admin_type_name		- "bigint", ... as format_type() prints a column type
 *	sql_admin_rows_add		- (row source) append one row of text values
 *	sql_admin_rewrite		- replace pgquorum.<view> relations by typed rows
 *	sql_admin_status_name	- "rewritten", "parse_error", ... for logs
 *	sql_admin_status_sqlstate - SQLSTATE to send for an error status
 *	sql_admin_test_fail_alloc - (tests) fail the rewrite's n-th allocation
 *
 * THREADS.  sql_admin_rewrite may run on any thread (libpg_query keeps its
 * memory per thread); the view table is constant.  The allocation fault
 * seam is global and for single-threaded tests only.
 */
#ifndef SQL_ADMIN_H
#define SQL_ADMIN_H

#include <stdint.h>

#include "sql/sql_classify.h"	/* sql_admin_view: SQL_ADMIN_NODES, ... */

/* Column types (PostgreSQL built-ins, always written pg_catalog-qualified
 * in the rewritten text so that no user type can shadow them). */
typedef enum sql_admin_type
{
	SQL_ADMIN_T_TEXT = 0,
	SQL_ADMIN_T_BIGINT,
	SQL_ADMIN_T_BOOLEAN,
	SQL_ADMIN_T_FLOAT8,			/* double precision */
	SQL_ADMIN_T_TIMESTAMPTZ,
	SQL_ADMIN_T_COUNT
} sql_admin_type;

typedef struct sql_admin_column
{
	const char *name;			/* column name as the view shows it */
	sql_admin_type type;
	const char *doc;			/* one line for docs and COMMENTs */
} sql_admin_column;

typedef struct sql_admin_view_def
{
	sql_admin_view view;
	const char *name;			/* "nodes": the relation is pgquorum.nodes */
	uint32_t	n_columns;
	const sql_admin_column *columns;
	const char *doc;
} sql_admin_view_def;

/* Bounds of one view's rows in one rewrite (checked by sql_admin_rows_add). */
#define SQL_ADMIN_MAX_ROWS 100000
#define SQL_ADMIN_MAX_BYTES (64u << 20)	/* total bytes of one view's values */
/* Deepest parse tree the rewrite walks; deeper is SQL_ADMIN_REFUSED. */
#define SQL_ADMIN_MAX_DEPTH 1000

/* The view table entry of v (a valid view); never NULL. */
const sql_admin_view_def *sql_admin_get_view(sql_admin_view v);
/* View named name (lower case, as the parser folds it), or -1. */
int			sql_admin_find_view(const char *name);
/* "text", "bigint", "boolean", "double precision",
 * "timestamp with time zone"; "?" when out of range. */
const char *sql_admin_type_name(sql_admin_type t);

/*
 * Rows of one view, filled by the row source.  Opaque: owned by the
 * rewrite, valid only during the source's callback.
 */
typedef struct sql_admin_rows sql_admin_rows;

/*
 * The caller's producer of live figures.  rows() is called at most once per
 * view per sql_admin_rewrite (a view named twice, e.g. in a self-join, sees
 * one snapshot), and only for the views the query names.  It appends each
 * row with sql_admin_rows_add and returns 0, or -1 when it cannot produce
 * the rows (the rewrite then fails with SQL_ADMIN_SOURCE_ERROR).
 */
typedef struct sql_admin_row_source
{
	int			(*rows) (void *arg, sql_admin_view v, sql_admin_rows *out);
	void	   *arg;
} sql_admin_row_source;

/*
 * Append one row: values[i] is column i's value in PostgreSQL's text input
 * form for the column's type ("42", "t", "2.5", "2024-05-01 12:00:00+00",
 * any text), or NULL for SQL NULL.  n_values must equal the view's
 * n_columns (asserted).  Values are copied; they are borrowed until return.
 * Returns 0, or -1 when out of memory or past SQL_ADMIN_MAX_ROWS /
 * SQL_ADMIN_MAX_BYTES (the rewrite then fails: SQL_ADMIN_SOURCE_ERROR or
 * SQL_ADMIN_NO_MEMORY, whatever the callback returns).  A value that is not
 * valid input for its type is not checked here: PostgreSQL reports it when
 * it runs the query (22P02).
 */
int			sql_admin_rows_add(sql_admin_rows *out, const char *const *values,
							   uint32_t n_values);

typedef enum sql_admin_status
{
	SQL_ADMIN_UNCHANGED = 0,	/* names no admin view: send the original
								 * text (*out_sql is NULL) */
	SQL_ADMIN_REWRITTEN,		/* *out_sql is the text to run */
	SQL_ADMIN_PARSE_ERROR,		/* not valid SQL: forward the original text,
								 * the server reports the error itself */
	SQL_ADMIN_REFUSED,			/* a view where its rows cannot be frozen
								 * (CREATE VIEW/RULE/MATERIALIZED VIEW), or a
								 * tree deeper than SQL_ADMIN_MAX_DEPTH */
	SQL_ADMIN_SOURCE_ERROR,		/* the row source returned -1 */
	SQL_ADMIN_DEPARSE_ERROR,	/* libpg_query cannot deparse a statement */
	SQL_ADMIN_NO_MEMORY,
	SQL_ADMIN_STATUS_COUNT
} sql_admin_status;

/*
 * Rewrite query (NUL-terminated, possibly several statements, possibly $n
 * parameters; borrowed until return).  Each statement that names a
 * pgquorum.<view> relation where a relation is read (FROM, JOIN,
 * subqueries, CTEs, set operations, EXPLAIN, PREPARE, DECLARE, COPY (query)
 * TO, INSERT ... SELECT) is deparsed with each such relation replaced by
 *	(VALUES ('v'::pg_catalog.t, ...), ...) AS <alias or view>(col, ...)
 * (for zero rows: (SELECT NULL::t, ... WHERE false) AS ...); the user's
 * alias and column aliases are kept, and pgquorum.<view>.col references are
 * shortened to <view>.col.  The other statements of the string are copied
 * byte for byte.  A pgquorum.<name> that is not an admin view is left alone
 * (the schema may hold real tables): PostgreSQL resolves it.
 *
 * src is borrowed until return; src->rows is called only for named views
 * (src == NULL: every view has zero rows, with its column types).
 * On SQL_ADMIN_REWRITTEN, *out_sql is a malloc'd string owned by the
 * caller, otherwise NULL.  On an error status, *err is a malloc'd message
 * owned by the caller (NULL if out of memory), otherwise NULL.  err may be
 * NULL when the caller does not want the message.
 */
sql_admin_status sql_admin_rewrite(const char *query,
								   const sql_admin_row_source *src,
								   char **out_sql, char **err);

const char *sql_admin_status_name(sql_admin_status st);
/* SQLSTATE of an error status for the ErrorResponse ("42601", "0A000",
 * "XX000", "53200"); NULL for UNCHANGED and REWRITTEN. */
const char *sql_admin_status_sqlstate(sql_admin_status st);

/*
 * Fault seam for tests: make the n-th allocation of the rewrite's own code
 * from now (1 = the next) fail; n <= 0 turns the seam off.  Allocations
 * inside libpg_query and protobuf-c are not counted.
 */
void		sql_admin_test_fail_alloc(long n);

#endif							/* SQL_ADMIN_H */
