/*
 * control.h
 *	  The node's control socket: a Unix socket at DATA_DIR/control.sock that
 *	  takes one command per line and answers one line per command.  Tools,
 *	  tests and benchmarks use it; operators use the SQL views.
 *
 *	  status			id=1 role=primary term=2 leader=1 first=1 last=9 ...
 *						writable=0|1 floor=N (compaction floor) installing=N
 *						(nonzero: role=installing, a server copy through N
 *						waits to start the log) applier=ok (or
 *						applier=stopped: REASON, last on the line)
 *	  peers				peer id=2 voter=1 connected=1 contact_ms=3 match=9 ...; ...
 *	  propose TEXT		committed index=N | error not-primary leader=L |
 *						error unknown index=N | error refused
 *	  read N			entry index=N term=T type=1 len=L payload=TEXT | error no-entry
 *	  transfer ID		ok | error REASON
 *	  commit-wait TXNID	committed index=N | error unknown | error timeout |
 *						error refused  (a transaction prepared on this node's
 *						server with pg_logical_emit_message(true, 'pgquorum',
 *						TXNID) before PREPARE TRANSACTION 'pgq_<node>_...')
 *	  capture			state=streaming proposed=N committed=N ...
 *
 * The socket is created with mode 0600: only the node's OS user may steer
 * it.  A line over 64 KiB or an unknown command gets "error ..." and the
 * connection stays usable.
 */
#ifndef PGQ_CONTROL_H
#define PGQ_CONTROL_H

#include <stddef.h>

struct ev_loop;
struct sync_node;
struct control;

struct applier;
struct commit;

/* What the commands reach; borrowed until control_stop. */
struct control_targets
{
	struct sync_node *node;
	struct applier *applier;
	struct commit *commit;
};

struct control *control_start(struct ev_loop *loop, const char *path,
							  const struct control_targets *targets,
							  char *err, size_t errlen);
void		control_stop(struct control *ctl);

#endif							/* PGQ_CONTROL_H */
