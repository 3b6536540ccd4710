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

/*
 * The session context a DDL statement ran in (docs/sql.md, "DDL and its
 * session context").  Its text alone does not say which schema an
 * unqualified name lands in, who owns what it creates, or how a literal
 * in it parses: right after the statement, the primary carries one more
 * pgquorum.ddl message, computed by its server, that sets the role and
 * these settings as the statement saw them (SET LOCAL); the applier runs
 * it, then the statement, then SQL_DDL_CONTEXT_GUCS back to its own.  One
 * single statement, so the applier can run it with the extended protocol.
 */
#define SQL_DDL_CONTEXT_GUCS(X) \
	X("search_path") X("DateStyle") X("IntervalStyle") X("TimeZone") \
	X("check_function_bodies") X("default_tablespace") \
	X("default_table_access_method") X("default_toast_compression") \
	X("standard_conforming_strings") X("backslash_quote") \
	X("transform_null_equals") X("xmloption") X("array_nulls")

/* How a context message begins (and the applier knows it). */
#define SQL_DDL_CONTEXT_MARK "/* pgquorum: DDL context */ "

#define SQL_DDL_CONTEXT_ONE_(g) \
	" || ', true), pg_catalog.set_config(''" g "'', ' || " \
	"pg_catalog.quote_literal(pg_catalog.current_setting('" g "'))"

/* The statement the primary runs to carry the context of the DDL before. */
#define SQL_DDL_CONTEXT_EMIT \
	"SELECT pg_catalog.pg_logical_emit_message(true, 'pgquorum.ddl', '" \
	SQL_DDL_CONTEXT_MARK "SELECT pg_catalog.set_config(''role'', ' || " \
	"pg_catalog.quote_literal(CURRENT_USER::text)" \
	SQL_DDL_CONTEXT_GUCS(SQL_DDL_CONTEXT_ONE_) " || ', true)')"

/*
 * DDL run inside a function or DO block is not a statement of the client's
 * Query, so the proxy cannot carry it: an event trigger that every node's
 * capture installs in each database it captures (sync/capture_stream.c)
 * refuses it, unless this setting is 'ok' (pgquorum's own replica
 * identity fix-up, which carries each of its statements itself).
 */
#define SQL_DDL_NESTED_OK "pgquorum.nested_ddl"

/* stmt: one statement (NUL-terminated).  A parse error leaves an empty plan. */
void		sql_ddl_plan_make(const char *stmt, sql_ddl_plan *out);
void		sql_ddl_plan_reset(sql_ddl_plan *p);

#endif							/* SQL_DDL_H */
