/*
 * sql_int.h
 *	  Internals shared by the files of sql/ (not for other modules).
 *
 *	sql_walk_node		- walk a parse (sub)tree, collecting facts (sql_walk.c)
 *	sql_func_lookup		- the built-in function table (sql_funcs.c)
 *	sql_relation_facts	- flags for one relation name (sql_walk.c)
 *	sql_classify_tree	- classify an unpacked parse result (sql_classify.c)
 *	sql_classify_ex		- sql_classify, plus literal sensitivity (sql_classify.c)
 */
#ifndef SQL_INT_H
#define SQL_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <pg_query/pg_query.pb-c.h>

#include "sql/sql_classify.h"

/* Deepest subtree the walker follows; deeper trees are may-write. */
#define SQL_WALK_MAX_DEPTH 1000

/* What a walk found in one statement (or one wrapped query). */
typedef struct sql_facts
{
	uint32_t	flags;
	uint32_t	admin_views;
	bool		user_relations;
	bool		writes;			/* DML, FOR UPDATE, SELECT INTO, a writing or
								 * unknown function */
	bool		literal_sensitive;	/* classification read a constant's value:
									 * do not share by fingerprint */
} sql_facts;

typedef struct sql_walk
{
	const sql_options *opts;
	sql_facts	facts;
	int			depth;
	int			locking_depth;	/* > 0 inside SELECT ... FOR UPDATE/SHARE */
} sql_walk;

/* Effect of a function named in a query. */
typedef enum sql_func_effect
{
	SQL_FUNC_UNKNOWN = 0,
	SQL_FUNC_READ,				/* immutable, stable, or volatile without
								 * writes (random, pg_sleep, clock_timestamp) */
	SQL_FUNC_WRITE
} sql_func_effect;

/* Built-in effect and flags of an unqualified or pg_catalog function. */
sql_func_effect sql_func_lookup(const char *name, uint32_t *flags);
/* True when the built-in table is sorted (checked by the tests). */
bool		sql_func_table_sorted(void);

void		sql_walk_node(sql_walk *w, const PgQuery__Node *node);
void		sql_walk_message(sql_walk *w, const ProtobufCMessage *msg);
void		sql_relation_facts(sql_walk *w, const PgQuery__RangeVar *rv,
							   bool write_target);

sql_status	sql_classify_tree(const PgQuery__ParseResult *tree,
							  const sql_options *opts, sql_result *out,
							  bool *literal_sensitive);
/* sql_classify, also telling whether the result read a constant's value
 * (then it must not be shared by fingerprint). */
sql_status	sql_classify_ex(const char *query, const sql_options *opts,
							sql_result *out, bool *literal_sensitive);
/* Result for a parse error: message copied.  Returns out->status. */
sql_status	sql_result_parse_error(sql_result *out, const char *message,
								   int cursor);

#endif							/* SQL_INT_H */
