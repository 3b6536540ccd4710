/*
 * proxy.h
 *	  The client-facing PostgreSQL front end of a node.
 *
 * INTERFACE ROUTINES
 *	proxy_start		- listen on the client port and serve sessions on loop
 *	proxy_reload	- take the reloadable settings of a new configuration
 *	proxy_stop		- stop listening, close every session, free everything
 *	proxy_set_hooks	- turn on the write path (COMMIT interception) on the primary
 *	proxy_demoted	- the node stopped being the primary: end the local
 *					  transactions that hold locks (docs/proxy.md)
 *
 * The proxy runs entirely on the caller's libev loop.  cfg is borrowed: it
 * must stay valid until the next proxy_reload() or proxy_stop().
 */
#ifndef PROXY_H
#define PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ev_loop;
struct pgq_config;
struct proxy;
struct sql_result;
struct sql_ddl_plan;

/*
 * What the write path needs from the rest of the node (docs/proxy.md,
 * "The write path on the primary").  The proxy links neither sync/ nor
 * sql/: node/main.c fills this in.  commit_wait has sync/commit.h's
 * contract: cb runs once, later, with a commit_result value (0 = committed,
 * 1 = unknown, 2 = timeout, 3 = refused) unless it returns -1.  classify
 * returns a result borrowed until its next call.  Without hooks (or with
 * is_primary answering false) sessions are relayed unchanged.
 */
typedef void (*proxy_commit_cb) (void *arg, int result, uint64_t index);
#define PROXY_COMMIT_OK			0	/* the values of sync/commit.h's */
#define PROXY_COMMIT_REFUSED	3	/* enum commit_result (node/main.c checks) */

/*
 * statement: log a statement that cannot run in a transaction block (run
 * in database db as role) and call cb once, later, when it ran on this
 * node's server through the log (docs/sql.md), with text the command tag
 * (OK) or the error message and its sqlstate (FAILED: it failed alike on
 * every node).  Returns -1 when it cannot be logged at all (cb never runs).
 */
enum proxy_stmt_result
{
	PROXY_STMT_OK = 0,
	PROXY_STMT_FAILED,			/* ran and failed, alike everywhere */
	PROXY_STMT_UNKNOWN,			/* leadership lost or too slow: may run later */
	PROXY_STMT_REFUSED,			/* not logged (not the primary, too large) */
};
typedef void (*proxy_stmt_cb) (void *arg, enum proxy_stmt_result result,
							   const char *sqlstate, const char *text);

struct proxy_hooks
{
	bool		(*is_primary) (void *arg);
	/* The gid for a transaction prepared now (sync/txn_codec.h: it carries
	 * the current term), into buf; -1 when this node is not the writable
	 * primary any more. */
	int			(*new_gid) (void *arg, char *buf, size_t len);
	int			(*commit_wait) (void *arg, const char *txn_id, proxy_commit_cb cb,
								void *cb_arg);
	const struct sql_result *(*classify) (void *arg, const char *query);
	int			(*statement) (void *arg, const char *db, const char *role,
							  const char *sql, proxy_stmt_cb cb, void *cb_arg);
	/* sql/sql_ddl.h's sql_ddl_plan_make; plan->before is malloc'd */
	void		(*ddl_plan) (void *arg, const char *stmt, struct sql_ddl_plan *plan);
	/* The current primary's client address; -1 when none is known or this
	 * node is the primary.  NULL: writes on a secondary are refused. */
	int			(*primary_addr) (void *arg, struct sockaddr_storage *addr,
								 socklen_t *len);
	/* Can a transaction in database db commit through the log now (its
	 * capture is streaming)?  NULL: yes. */
	bool		(*db_captured) (void *arg, const char *db);
	void	   *arg;
	uint32_t	node_id;
};

/* Returns NULL with a message in err when the port cannot be opened. */
struct proxy *proxy_start(struct ev_loop *loop, const struct pgq_config *cfg,
						  char *err, size_t errlen);
void		proxy_reload(struct proxy *proxy, const struct pgq_config *cfg);
void		proxy_stop(struct proxy *proxy);
/* Install the write-path hooks (copied); call once, before clients come. */
void		proxy_set_hooks(struct proxy *proxy, const struct proxy_hooks *hooks);
/*
 * The node is no longer the (writable) primary: every session whose open
 * transaction wrote to the local server and holds a lock on a user
 * relation has it rolled back there once its statement in flight ended,
 * and the client's next request gets SQLSTATE 40001 (docs/proxy.md, "When
 * the node stops being the primary").  Call on the loop, outside the
 * replication update that reported the change.
 */
void		proxy_demoted(struct proxy *proxy);

#endif							/* PROXY_H */
