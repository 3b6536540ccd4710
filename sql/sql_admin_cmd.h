/*
 * sql_admin_cmd.h
 *	  The statements a node answers itself (issue 7): a call of one of the
 *	  admin functions, SELECT pgquorum.<fn>(args), and SET / RESET / SHOW of
 *	  a pgquorum.<name> setting.  Pure code like sql_admin.h: it only says
 *	  what a query string asks for; the proxy acts (proxy/proxy_admin.c).
 *	  docs/admin-views.md, "Functions" and "Read consistency".
 *
 * INTERFACE ROUTINES
 *	sql_admin_cmd_parse		- what one query string asks the node to do
 *	sql_admin_cmd_reset		- free what a parsed command owns
 *	sql_admin_fn_name		- "transfer_leadership", ... for messages
 *	sql_admin_prepared		- SQL PREPARE / EXECUTE / DEALLOCATE in a string
 */
#ifndef SQL_ADMIN_CMD_H
#define SQL_ADMIN_CMD_H

#include <stdbool.h>
#include <stdint.h>

typedef enum sql_admin_fn
{
	SQL_ADMIN_FN_TRANSFER_LEADERSHIP = 0,	/* (node bigint) */
	SQL_ADMIN_FN_ADD_NODE,		/* (node bigint) */
	SQL_ADMIN_FN_REMOVE_NODE,	/* (node bigint) */
	SQL_ADMIN_FN_WAIT_APPLIED,	/* (index bigint, timeout_ms bigint) */
	SQL_ADMIN_FN_COUNT
} sql_admin_fn;

typedef enum sql_admin_cmd_kind
{
	SQL_ADMIN_CMD_NONE = 0,		/* nothing for the node: forward as is */
	SQL_ADMIN_CMD_CALL,			/* SELECT pgquorum.fn(const, ...) */
	SQL_ADMIN_CMD_SET,			/* SET [SESSION|LOCAL] pgquorum.x = value */
	SQL_ADMIN_CMD_RESET,		/* RESET pgquorum.x (RESET ALL is NONE) */
	SQL_ADMIN_CMD_SHOW,			/* SHOW pgquorum.x */
	SQL_ADMIN_CMD_INVALID		/* names a node command but cannot be run:
								 * error holds why (SQLSTATE in sqlstate) */
} sql_admin_cmd_kind;

#define SQL_ADMIN_CMD_MAX_ARGS 4
#define SQL_ADMIN_CMD_ERR_LEN 256

typedef struct sql_admin_cmd
{
	sql_admin_cmd_kind kind;
	sql_admin_fn fn;			/* CALL */
	const char *fn_name;		/* CALL: "transfer_leadership", ... (static) */
	char		setting[64];	/* SET/RESET/SHOW: the name after "pgquorum." */
	bool		local;			/* SET LOCAL */
	int			n_args;			/* CALL: arguments; SET: 1 value */
	int64_t		iargs[SQL_ADMIN_CMD_MAX_ARGS];	/* CALL: integer arguments */
	char		value[64];		/* SET: the value, lower case */
	const char *sqlstate;		/* INVALID: static */
	char		error[SQL_ADMIN_CMD_ERR_LEN];	/* INVALID */
} sql_admin_cmd;

/*
 * Look at query (NUL-terminated, borrowed until return).  Only a string of
 * exactly one statement can be a command.  A call must be the whole
 * statement, SELECT pgquorum.fn(a, ...) [AS alias], with integer constants
 * as arguments (in the function's signature, above); anything else that
 * names one of the four functions is INVALID with 0A000 or 22023 (a $n
 * parameter, a wrong argument count, a non-integer).  Returns out->kind;
 * a query that does not spell "pgquorum" is NONE without being parsed.
 */
sql_admin_cmd_kind sql_admin_cmd_parse(const char *query, sql_admin_cmd *out);
const char *sql_admin_fn_name(sql_admin_fn fn);
/* The function named name (lower case), or -1. */
int			sql_admin_fn_find(const char *name);

/* What a query string does with SQL-level prepared statements, so that
 * the proxy can give EXECUTE of one over views figures of now. */
typedef enum sql_prepared_kind
{
	SQL_PREPARED_NONE = 0,		/* nothing of the sort */
	SQL_PREPARED_PREPARE,		/* PREPARE name ... alone */
	SQL_PREPARED_EXECUTE,		/* EXECUTE name [(args)] alone */
	SQL_PREPARED_DEALLOCATE,	/* DEALLOCATE [PREPARE] name alone */
	SQL_PREPARED_FORGET_ALL		/* DEALLOCATE ALL, DISCARD ALL, or any of
								 * PREPARE / DEALLOCATE / DISCARD among other
								 * statements (not followed: forget all) */
} sql_prepared_kind;

#define SQL_PREPARED_NAME_LEN 64	/* NAMEDATALEN */

/* The kind, with the statement's name (as the parser folded it) in name
 * for PREPARE, EXECUTE and DEALLOCATE.  A string that spells none of the
 * four keywords is NONE without being parsed; a parse error is NONE. */
sql_prepared_kind sql_admin_prepared(const char *query, char name[SQL_PREPARED_NAME_LEN]);

#endif							/* SQL_ADMIN_CMD_H */
