/*
 * rebuild.h
 *	  Rebuild the local PostgreSQL server as a copy of a healthy node's
 *	  server, when the log entries this node needs were compacted away.
 *
 * INTERFACE ROUTINES
 *	rebuild_start	- begin; done_cb runs exactly once, later, on the loop
 *	rebuild_stop	- abandon a running rebuild (kills its child) and free
 *
 * The steps, in order:
 *	1. pg_ctl stop -m immediate (a server already down is fine);
 *	2. if DATA.pgquorum-old exists, an earlier rebuild was interrupted: it
 *	   holds the old server (and its configuration), so DATA, a partial
 *	   copy or nothing, is removed instead;
 *	3. move the data directory aside to DATA.pgquorum-old (if still there);
 *	4. pg_basebackup -X stream -c fast from the source into a fresh DATA
 *	   (the copy carries the source's replication origin "pgquorum", so the
 *	   applied index comes with the data; it carries no replication slot);
 *	5. put this server's own postgresql.conf, postgresql.auto.conf,
 *	   pg_hba.conf and pg_ident.conf back (the copy holds the source's);
 *	6. pg_ctl start -w (log: DATA/server.log);
 *	7. roll back every prepared transaction the copy brought along: each is
 *	   either committed through the log later (its entry is after the
 *	   copy's applied index) or was never committed; left prepared it would
 *	   hold its locks and block the applier and the capture slot's creation;
 *	8. remove DATA.pgquorum-old.
 * If step 4 fails, the partial copy is removed, the old directory moved
 * back and started, and done_cb reports the failure; the primary asks
 * again.  Started again after a crash in the middle (node/main.c keeps a
 * marker), the steps work from whatever was left, as step 2 says.
 *
 * Each command is a child process watched by an ev_child watcher, so the
 * loop does not wait for it (the loop is libev's default loop, which reaps
 * children).  pg_ctl and pg_basebackup run as the owner of the data
 * directory when the node runs as root (PostgreSQL refuses root).  Their
 * output is appended to log_path.  Step 7 uses a blocking connection: the
 * server has just started and the node serves nothing meanwhile.
 */
#ifndef PGQ_REBUILD_H
#define PGQ_REBUILD_H

#include <stdbool.h>
#include <stddef.h>

struct ev_loop;
struct rebuild;

struct rebuild_params
{
	const char *pg_data;		/* the local server's data directory */
	const char *bin_dir;		/* pg_ctl, pg_basebackup; "": on PATH */
	const char *source;			/* libpq conninfo of the server to copy */
	const char *local_conninfo; /* the local server, once started */
	const char *log_path;		/* where the commands' output goes */
};

/* ok: the server runs as the copy; else why (static until return). */
typedef void (*rebuild_done_cb) (void *arg, bool ok, const char *why);

/* Strings in p are copied.  NULL with err filled when it cannot start. */
struct rebuild *rebuild_start(struct ev_loop *loop, const struct rebuild_params *p,
							  rebuild_done_cb cb, void *arg, char *err, size_t errlen);
void		rebuild_stop(struct rebuild *rb);

#endif							/* PGQ_REBUILD_H */
