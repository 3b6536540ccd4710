/*
 * sql_ddl.h
 *	  What replicating one DDL statement through the pgquorum.ddl message
 *	  needs beyond its text (docs/sql.md, "DDL that needs more than its
 *	  text").  Pure code on libpg_query: no sockets, no libpq.
 *
 * INTERFACE ROUTINES
 *	sql_ddl_plan_make	- parse one statement and fill a plan
 *	sql_ddl_plan_reset	- free what a plan owns
 *
 * - CREATE TABLE ... AS: the rows it inserts are decoded like any INSERT,
 *   before the statement ends, so the table must exist on the other nodes
 *   first: "before" is the same statement WITH NO DATA (deparsed), carried
 *   before it runs, and its own text is not carried after it.
 * - SELECT ... INTO a new table, CREATE TABLE ... AS EXECUTE: refused (the
 *   first could be CREATE TABLE AS, the second names a statement prepared
 *   in the client's session only).
 * - DROP DATABASE: refused (every node's capture holds a slot in it).
 * - CREATE UNLOGGED TABLE (also AS), ALTER TABLE ... SET UNLOGGED: refused
 *   (logical decoding does not carry unlogged tables' rows).
 * - CREATE/ALTER ROLE ... PASSWORD '...': the byte span of the literal,
 *   so the proxy can put the SCRAM verifier in its place before the
 *   statement runs or is carried (the plain password reaches neither the
 *   server nor the log).  A literal in another form (E'', U&'', $$) is
 *   refused.
 */
#ifndef SQL_DDL_H
#define SQL_DDL_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sql_ddl_plan
{
	char	   *before;			/* malloc'd DDL to carry before it runs, or NULL */
	bool		no_after;		/* do not carry the statement's text after it */
	int32_t		pw_loc;			/* offset of the PASSWORD literal, -1 none */
	int32_t		pw_len;
	char		refuse[200];	/* not empty: why it cannot be replicated */
} sql_ddl_plan;

/* stmt: one statement (NUL-terminated).  A parse error leaves an empty plan. */
void		sql_ddl_plan_make(const char *stmt, sql_ddl_plan *out);
void		sql_ddl_plan_reset(sql_ddl_plan *p);

#endif							/* SQL_DDL_H */
