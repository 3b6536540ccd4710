/*
 * node_admin.h
 *	  The node's live figures for the admin views and its side of the admin
 *	  functions and read consistency (docs/admin-views.md): the row source
 *	  of sql_admin_rewrite, and the proxy's admin hooks (proxy/proxy_admin.h).
 *
 * INTERFACE ROUTINES
 *	node_admin_start	- sample the log's rates, wire the proxy's admin hooks
 *	node_admin_commit_done - a write's commit finished (latency, outcome)
 *	node_admin_stop		- stop sampling, free
 *
 * Runs on the node's loop.  Everything it reads is borrowed from the node
 * (struct node_admin_targets) until node_admin_stop.
 */
#ifndef NODE_ADMIN_H
#define NODE_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

struct ev_loop;
struct pgq_config;
struct sync_node;
struct applier;
struct commit;
struct proxy;
struct node_admin;

struct node_admin_targets
{
	struct pgq_config *const *cfg;	/* the node's current configuration
									 * (replaced on reload) */
	/* the node's current replication objects: NULL while it stops and
	 * restarts them (a rebuild of its server) */
	struct sync_node *const *sync;
	struct applier *const *applier;
	struct commit *const *commit;
	struct proxy *proxy;
};

struct node_admin *node_admin_start(struct ev_loop *loop,
									const struct node_admin_targets *t);
/* ok: the commit succeeded; ms: from commit_wait to its answer. */
void		node_admin_commit_done(struct node_admin *adm, bool ok, double ms);
void		node_admin_stop(struct node_admin *adm);

#endif							/* NODE_ADMIN_H */
