/*
 * stmt_hook.c
 *	  A statement outside a transaction block through the log.  See
 *	  stmt_hook.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "common/pgq_assert.h"
#include "common/pgq_buf.h"
#include "common/pgq_log.h"
#include "node/stmt_hook.h"
#include "sync/applier.h"
#include "sync/sync_node.h"
#include "sync/txn_codec.h"

#define STMT_CHECK_S 1.0		/* how often a waiter looks at the applier */

struct stmt_wait
{
	struct ev_loop *loop;
	struct applier *applier;
	proxy_stmt_cb cb;
	void	   *arg;
	bool		answered;
	ev_timer	timer;
};

static void
answer(struct stmt_wait *w, enum proxy_stmt_result r, const char *sqlstate, const char *text)
{
	if (w->answered)
		return;
	w->answered = true;
	ev_timer_stop(w->loop, &w->timer);
	w->cb(w->arg, r, sqlstate, text);
}

/* The applier stopped before it ran the statement: nobody will answer. */
static void
on_check(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct stmt_wait *w = t->data;
	const char *why = applier_failure(w->applier);
	char		msg[600];

	if (why == NULL)
		return;
	snprintf(msg, sizeof(msg), "the statement is committed in the log but this node's "
			 "applier stopped before running it: %s", why);
	answer(w, PROXY_STMT_UNKNOWN, "40003", msg);
}

static void
on_done(void *arg, enum sync_node_result result, uint64_t index)
{
	struct stmt_wait *w = arg;
	struct applier_outcome o;

	switch (result)
	{
		case SYNC_NODE_COMMITTED:
			if (!applier_statement_outcome(w->applier, index, &o))
				answer(w, PROXY_STMT_UNKNOWN, "40003",
					   "the statement ran through the log but its outcome was not kept");
			else
				answer(w, o.ok ? PROXY_STMT_OK : PROXY_STMT_FAILED, o.sqlstate, o.text);
			break;
		case SYNC_NODE_UNKNOWN:
			answer(w, PROXY_STMT_UNKNOWN, "40003",
				   "the statement's outcome is unknown: the primary lost leadership "
				   "before the statement committed; it runs on every node if it did");
			break;
		default:
			answer(w, PROXY_STMT_REFUSED, "25006",
				   "the statement was not run: this node is no longer the primary, "
				   "or the log refused it");
			break;
	}
	free(w);
}

int
node_statement(struct ev_loop *loop, struct sync_node *sync, struct applier *applier,
			   uint64_t node_id, const char *db, const char *role, const char *sql,
			   proxy_stmt_cb cb, void *cb_arg)
{
	struct txn_entry e = {
		.kind = TXN_KIND_STATEMENT,
		.origin_node = node_id,
		.dbname = {db, (uint32_t) strlen(db)},
		.gid = {"", 0},
		.txn_id = {"", 0},
		.sql = {sql, (uint32_t) strlen(sql)},
		.role = {role, (uint32_t) strlen(role)},
	};
	struct pgq_buf buf;
	struct stmt_wait *w;
	int			rc;

	if (e.dbname.len == 0 || e.dbname.len > TXN_NAME_MAX || e.role.len > TXN_NAME_MAX ||
		e.sql.len == 0 || e.sql.len > TXN_SQL_MAX)
		return -1;
	pgq_buf_init(&buf, TXN_ENTRY_MAX_BYTES);
	if (!txn_entry_encode(&e, &buf) || (w = calloc(1, sizeof(*w))) == NULL)
	{
		pgq_buf_free(&buf);
		return -1;
	}
	w->loop = loop;
	w->applier = applier;
	w->cb = cb;
	w->arg = cb_arg;
	ev_timer_init(&w->timer, on_check, STMT_CHECK_S, STMT_CHECK_S);
	w->timer.data = w;
	rc = sync_node_propose(sync, pgq_buf_head(&buf), (uint32_t) buf.len, on_done, w);
	pgq_buf_free(&buf);
	if (rc != 0)
	{
		free(w);
		return -1;
	}
	ev_timer_start(loop, &w->timer);
	pgq_info("statement logged for database \"%s\": %.200s", db, sql);
	return 0;
}

