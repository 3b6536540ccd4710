/*
 * proxy_admin.h
 *	  The proxy's side of the admin SQL of issue 7 (docs/admin-views.md):
 *	  queries naming pgquorum.<view> are rewritten before they reach the
 *	  local server (simple Query and extended Parse alike), the admin
 *	  functions and SET/SHOW pgquorum.read_consistency are answered by the
 *	  node, and reads wait as the session's read consistency asks.
 *
 * INTERFACE ROUTINES
 *	proxy_set_admin_hooks	- what the node provides (rewrite, commands, indexes)
 *	proxy_admin_applied		- the applied index moved: wake waiting sessions
 *	proxy_admin_read_done	- the answer to a read_index hook call
 *	proxy_sessions			- walk the client sessions (pgquorum.sessions)
 *
 * The proxy links neither sql/ nor sync/: node/node_admin.c fills the
 * hooks.  Everything runs on the proxy's loop.
 */
#ifndef PROXY_ADMIN_H
#define PROXY_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct proxy;
struct sql_admin_cmd;

/* Where this node stands, for read consistency and wait_applied. */
struct proxy_admin_state
{
	uint64_t	applied;		/* applied to the local server */
	uint64_t	commit;			/* commit index this node knows */
	bool		primary;
};

struct proxy_admin_hooks
{
	/*
	 * Rewrite query (borrowed) naming pgquorum views: 0 unchanged, 1 with
	 * *out a malloc'd text owned by the caller, -1 with an error (sqlstate
	 * static, message in err).
	 */
	int			(*rewrite) (void *arg, const char *query, char **out,
							const char **sqlstate, char *err, size_t errlen);
	/* sql_admin_cmd_parse; returns its kind. */
	int			(*command) (void *arg, const char *query, struct sql_admin_cmd *cmd);
	/*
	 * Run a call other than wait_applied (transfer, add, remove) now: 0 with
	 * the result in SQL literal text form in result, or -1 (sqlstate static,
	 * message in err).
	 */
	int			(*call) (void *arg, const struct sql_admin_cmd *cmd, char *result,
						 size_t cap, const char **sqlstate, char *err, size_t errlen);
	void		(*state) (void *arg, struct proxy_admin_state *st);
	/*
	 * Ask the cluster for a read index (Raft ReadIndex): 0 asked, and
	 * proxy_admin_read_done comes exactly once with ctx, maybe before the
	 * call returns; -1 refused now (reason in err).  NULL: strong reads
	 * that need one are refused.
	 */
	int			(*read_index) (void *arg, uint64_t ctx, char *err, size_t errlen);
	/*
	 * sql_admin_prepared: what query does with SQL PREPARE / EXECUTE /
	 * DEALLOCATE (a sql_prepared_kind), the statement's name in name
	 * (SQL_PREPARED_NAME_LEN bytes).  NULL: EXECUTE keeps its figures.
	 */
	int			(*prepared) (void *arg, const char *query, char *name);
	void	   *arg;
};

/* One client session as pgquorum.sessions shows it; strings borrowed
 * until the callback returns. */
struct proxy_session_info
{
	uint32_t	id;
	const char *user;			/* NULL before the startup packet */
	const char *database;
	char		client_addr[64];	/* "" for a Unix socket */
	const char *state;			/* "idle", "active", "idle in transaction", ... */
	int			statement_cls;	/* sql_class of the last statement; -1: none */
	const char *runs_on;		/* "local" or "primary" */
	double		since;			/* Unix time of its last message */
	const char *read_consistency;
	uint64_t	last_write_index;
};

void		proxy_set_admin_hooks(struct proxy *px, const struct proxy_admin_hooks *hooks);
void		proxy_admin_applied(struct proxy *px, uint64_t applied);
/* The read index asked with ctx: ok with index (every write acknowledged
 * before the ask is at or below it), or refused. */
void		proxy_admin_read_done(struct proxy *px, uint64_t ctx, bool ok, uint64_t index);
/* Write transactions this node forwarded to the primary since start. */
uint64_t	proxy_forwarded_writes(const struct proxy *px);
void		proxy_sessions(struct proxy *px,
						   void (*cb) (void *arg, const struct proxy_session_info *s),
						   void *arg);

#endif							/* PROXY_ADMIN_H */
