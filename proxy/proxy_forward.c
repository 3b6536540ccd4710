/*
 * proxy_forward.c
 *	  A secondary's session moves its writing transactions to the primary
 *	  node (docs/proxy.md, "Forwarding").
 *
 * The session keeps its local backend (cl->home) and opens, on its first
 * write, one more connection: to the primary node's client port, over the
 * same protocol, as the same role (the same login code as a local backend:
 * trust, or the SCRAM keys / md5 hash the client's own login yielded).  Its
 * startup packet carries pgquorum.forwarded, so that the node there never
 * forwards it again.  While a transaction runs there, cl->be points at that
 * connection (cl->fwd) and the write path relays to it; when it is over
 * (ReadyForQuery 'I'), cl->be is the local backend again.  The connection
 * stays open for the session's next write, unless the primary changed.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "common/pgq_log.h"
#include "proxy/proxy_int.h"

#define FWD_PARAM		"pgquorum.forwarded"

/* The local backend's startup packet plus pgquorum.forwarded = <node>. */
static uint8_t *
forward_startup(const struct proxy_client *cl, size_t *len)
{
	const struct proxy_backend *home = cl->home;
	char		value[16];
	size_t		vl,
				pl = sizeof(FWD_PARAM),
				n;
	uint8_t    *p;

	PGQ_ASSERT(home != NULL && home->startup_len >= 9);
	vl = (size_t) snprintf(value, sizeof(value), "%u", cl->px->hooks.node_id) + 1;
	n = home->startup_len + pl + vl;
	if ((p = malloc(n)) == NULL)
		return NULL;
	/* the packet ends with the pairs' terminating NUL: insert before it */
	memcpy(p, home->startup, home->startup_len - 1);
	memcpy(p + home->startup_len - 1, FWD_PARAM, pl);
	memcpy(p + home->startup_len - 1 + pl, value, vl);
	p[n - 1] = '\0';
	pq_put_uint32(p, (uint32_t) n);
	*len = n;
	return p;
}

/* Keep the primary's ErrorResponse, or one of ours, for the waiting batch. */
static void
forward_set_error(struct proxy_client *cl, const uint8_t *err, size_t len)
{
	uint8_t		buf[PROXY_ERRMSG_LEN];
	struct pq_build b;

	free(cl->fwd_err);
	cl->fwd_err = NULL;
	cl->fwd_err_len = 0;
	if (err == NULL)
	{
		pq_build_init(&b, buf, sizeof(buf));
		pq_build_error(&b, PqMsg_ErrorResponse, "ERROR", "25006",
					   "this node is a secondary and could not reach the primary node "
					   "to forward this write: retry");
		PGQ_ASSERT(!b.overflow);
		err = buf;
		len = b.len;
	}
	if ((cl->fwd_err = malloc(len)) != NULL)
	{
		memcpy(cl->fwd_err, err, len);
		cl->fwd_err_len = (uint32_t) len;
	}
}

int
proxy_forward_prepare(struct proxy_client *cl)
{
	struct proxy *px = cl->px;
	struct sockaddr_storage addr;
	socklen_t	addrlen = sizeof(addr);
	uint8_t    *startup;
	size_t		len;

	if (cl->fwd != NULL)
		return cl->fwd->state == BE_ACTIVE ? 0 : 1;
	if (px->hooks.primary_addr == NULL || cl->home == NULL ||
		px->hooks.primary_addr(px->hooks.arg, &addr, &addrlen) < 0)
		return -1;
	if ((startup = forward_startup(cl, &len)) == NULL)
		return -1;
	forward_set_error(cl, NULL, 0);
	cl->fwd = proxy_backend_open_forward(cl, &addr, addrlen, startup, len);
	free(startup);
	if (cl->fwd == NULL)
	{
		forward_set_error(cl, NULL, 0);
		return -1;
	}
	pgq_debug("proxy: session %u: opening a connection to the primary node", cl->id);
	return 1;
}

/* The batch that waited for the connection goes on (or gets the error). */
static void
forward_resume(struct proxy_client *cl)
{
	if (!cl->fwd_wait || cl->state != CL_ACTIVE)
		return;
	cl->fwd_wait = false;
	(void) proxy_write_pump(cl);
}

void
proxy_forward_ready(struct proxy_backend *be)
{
	struct proxy_client *cl = be->client;

	if (cl == NULL || cl->state != CL_ACTIVE || cl->fwd != be)
	{
		be->client = NULL;
		proxy_backend_close(be);
		return;
	}
	proxy_backend_set_state(be, BE_ACTIVE);
	pq_scan_init(&be->scan, proxy_backend_all_rules);
	be->pending = 0;
	be->unsynced = false;
	be->flt_mode = 0;
	be->flt_part = false;
	be->flt_drop = 0;
	proxy_conn_read_start(be->px, &be->conn);
	pgq_debug("proxy: session %u: connected to the primary node", cl->id);
	forward_resume(cl);
}

void
proxy_forward_failed(struct proxy_backend *be, const uint8_t *err, size_t len)
{
	struct proxy_client *cl = be->client;

	if (cl != NULL && cl->fwd == be && cl->be != be)
	{
		pgq_info("proxy: session %u: could not open a connection to the primary node", cl->id);
		forward_set_error(cl, err, len);
		be->client = NULL;
		cl->fwd = NULL;
		proxy_backend_close(be);
		forward_resume(cl);
		return;
	}
	proxy_backend_close(be);
}

void
proxy_forward_closed(struct proxy_backend *be)
{
	struct proxy_client *cl = be->client;

	be->client = NULL;
	if (cl == NULL || cl->fwd != be)
		return;
	cl->fwd = NULL;
	if (cl->be == be)
	{
		/* mid-transaction: its outcome is for the primary to say */
		cl->be = cl->home;
		proxy_client_error(cl, "FATAL", PQ_SQLSTATE_CONNECTION_FAILURE,
						   "lost the connection to the primary node during a forwarded "
						   "transaction; if it was committing, its outcome is unknown");
		return;
	}
	forward_resume(cl);
}

void
proxy_forward_drop(struct proxy_client *cl)
{
	struct proxy_backend *be = cl->fwd;

	if (be == NULL)
		return;
	cl->fwd = NULL;
	if (cl->be == be)
		cl->be = cl->home;
	be->client = NULL;
	proxy_backend_close(be);
}

void
proxy_forward_maybe_home(struct proxy_client *cl)
{
	struct proxy_backend *be = cl->fwd;
	struct sockaddr_storage addr;
	socklen_t	addrlen = sizeof(addr);
	struct proxy *px = cl->px;

	if (be == NULL || cl->be != be || be->pending > 0 || be->unsynced ||
		be->txn != PQ_TXN_IDLE || !pq_scan_at_boundary(&be->scan))
		return;
	cl->be = cl->home;
	/* keep it for the next write, unless the primary moved */
	if (px->hooks.primary_addr(px->hooks.arg, &addr, &addrlen) < 0 ||
		addrlen != be->fwd_addrlen || memcmp(&addr, be->fwd_addr, addrlen) != 0)
		proxy_forward_drop(cl);
}
