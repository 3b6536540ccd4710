/*
 * proxy.h
 *	  The client-facing PostgreSQL front end of a node.
 *
 * INTERFACE ROUTINES
 *	proxy_start		- listen on the client port and serve sessions on loop
 *	proxy_reload	- take the reloadable settings of a new configuration
 *	proxy_stop		- stop listening, close every session, free everything
 *
 * The proxy runs entirely on the caller's libev loop.  cfg is borrowed: it
 * must stay valid until the next proxy_reload() or proxy_stop().
 */
#ifndef PROXY_H
#define PROXY_H

#include <stddef.h>

struct ev_loop;
struct pgq_config;
struct proxy;

/* Returns NULL with a message in err when the port cannot be opened. */
struct proxy *proxy_start(struct ev_loop *loop, const struct pgq_config *cfg,
						  char *err, size_t errlen);
void		proxy_reload(struct proxy *proxy, const struct pgq_config *cfg);
void		proxy_stop(struct proxy *proxy);

#endif							/* PROXY_H */
