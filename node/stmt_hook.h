/*
 * stmt_hook.h
 *	  The proxy's statement hook (proxy/proxy.h, hooks.statement): a
 *	  statement that cannot run in a transaction block becomes a STATEMENT
 *	  log entry; the session hears how it ended once this node's applier
 *	  ran it (docs/sql.md, "Statements outside a transaction block").
 *
 * INTERFACE ROUTINES
 *	node_statement	- log one statement and report its outcome later
 */
#ifndef NODE_STMT_HOOK_H
#define NODE_STMT_HOOK_H

#include "proxy/proxy.h"

struct ev_loop;
struct sync_node;
struct applier;

/*
 * Encode and propose; cb runs once, later, on loop.  Returns -1 (cb never
 * runs) when the entry cannot be built.  A statement that is logged but
 * not yet run when this node's applier stops is answered UNKNOWN.
 */
int			node_statement(struct ev_loop *loop, struct sync_node *sync,
						   struct applier *applier, uint64_t node_id, const char *db,
						   const char *role, const char *sql, proxy_stmt_cb cb,
						   void *cb_arg);

#endif							/* NODE_STMT_HOOK_H */
