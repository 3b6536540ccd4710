/*
 * sql_admin_int.h
 *	  Internals shared by sql_admin.c and sql_admin_views.c (not for other
 *	  modules).
 *
 *	sql_admin_alloc			- malloc through the test fault seam
 *	sql_admin_strdup		- strdup through the test fault seam
 *	sql_admin_rows_init		- empty rows for one view
 *	sql_admin_rows_reset	- free the values, back to empty
 *	sql_admin_catalog_type	- pg_catalog name of a column type ("int8")
 *	sql_admin_build_subselect - the typed VALUES subquery for one view
 */
#ifndef SQL_ADMIN_INT_H
#define SQL_ADMIN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pg_query/pg_query.pb-c.h>

#include "sql/sql_admin.h"

/* Rows of one view: n_rows * def->n_columns values, row-major; NULL is
 * SQL NULL.  Every non-NULL value is owned. */
struct sql_admin_rows
{
	const sql_admin_view_def *def;
	uint32_t	n_rows;
	uint32_t	cap_rows;
	size_t		bytes;			/* total length of the values */
	char	  **values;
	bool		failed;			/* sql_admin_rows_add returned -1 */
	bool		no_memory;		/* ... because of an allocation */
};

void	   *sql_admin_alloc(size_t size);
char	   *sql_admin_strdup(const char *s);
void		sql_admin_rows_init(sql_admin_rows *r, sql_admin_view v);
void		sql_admin_rows_reset(sql_admin_rows *r);
const char *sql_admin_catalog_type(sql_admin_type t);

/*
 * (VALUES (...), ...) AS <alias>(cols) for rows r, keeping the user's alias
 * (borrowed; NULL for none).  Returns a tree owned by the caller (free with
 * protobuf_c_message_free_unpacked), or NULL when out of memory.
 */
PgQuery__RangeSubselect *sql_admin_build_subselect(const sql_admin_rows *r,
												   const PgQuery__Alias *user);

#endif							/* SQL_ADMIN_INT_H */
