/*
 * peer.h
 *	  The transport between nodes: TCP on libev, CRC-checked frames
 *	  (sync/peer_frame.h), an HMAC challenge-response that proves each side
 *	  holds the cluster secret, reconnect with back-off, and bounded queues.
 *
 * INTERFACE ROUTINES
 *	sync_peers_start	- listen, and dial every other member
 *	sync_peers_send		- queue one message for a member (never blocks)
 *	sync_peers_connected - is the connection to a member up?
 *	sync_peers_stats	- counters for the admin views
 *	sync_peers_stop		- close everything and free
 *
 * Each node dials every other member and sends its own messages over that
 * connection; it receives a member's messages on the connection that member
 * dialled.  A message for a member whose connection is down, or whose queue
 * is over max_queue_bytes, is dropped and counted: the replication core
 * retries by itself, so a slow or dead peer never makes a node buffer
 * without bound.  A stranger, a node of another cluster, a wrong secret,
 * garbage, an oversized frame or an unknown version: logged, connection
 * dropped, the node keeps running.
 */
#ifndef SYNC_PEER_H
#define SYNC_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct sync_peers;

#define SYNC_PEERS_MAX 9

struct sync_peer_addr
{
	uint32_t	id;
	char		host[256];
	uint16_t	port;
};

struct sync_peers_config
{
	uint32_t	node_id;
	const char *cluster_name;	/* borrowed for the call only */
	const char *secret;			/* borrowed for the call only */
	const char *listen_host;
	uint16_t	listen_port;
	int			n_peers;		/* every member, this node included */
	struct sync_peer_addr peers[SYNC_PEERS_MAX];
	size_t		max_frame;		/* largest frame body accepted and sent */
	size_t		max_queue_bytes;	/* per member */
	int			reconnect_min_ms;
	int			reconnect_max_ms;
	int			handshake_timeout_ms;
};

struct sync_peers_callbacks
{
	/* A message from member `from`; payload is borrowed until return. */
	void		(*on_message) (void *arg, uint32_t from, const uint8_t *payload,
							   size_t len);
	/* The connection to member `peer` came up or went down (optional). */
	void		(*on_connection) (void *arg, uint32_t peer, bool up);
	void	   *arg;
};

struct sync_peer_stats
{
	uint64_t	frames_sent;
	uint64_t	bytes_sent;
	uint64_t	frames_received;
	uint64_t	dropped;		/* messages dropped: down or queue full */
	uint64_t	refused;		/* connections refused at the handshake */
};

struct sync_peers *sync_peers_start(struct ev_loop *loop,
									const struct sync_peers_config *cfg,
									const struct sync_peers_callbacks *cb,
									char *err, size_t errlen);
/* Returns 0 when queued, -1 when dropped (down, queue full, too large). */
int			sync_peers_send(struct sync_peers *peers, uint32_t to,
							const void *payload, size_t len);
bool		sync_peers_connected(const struct sync_peers *peers, uint32_t id);
void		sync_peers_stats(const struct sync_peers *peers, uint32_t id,
							 struct sync_peer_stats *stats);
void		sync_peers_stop(struct sync_peers *peers);

#endif							/* SYNC_PEER_H */
