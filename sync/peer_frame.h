/*
 * peer_frame.h
 *	  Framing of the messages between nodes, and the handshake messages.
 *
 * A frame on the wire (all integers big-endian):
 *
 *	 0	u32  magic		0x50475146 ("PGQF")
 *	 4	u32  body_len	bytes of body that follow the header
 *	 8	u32  crc		CRC32C of the body
 *	12	body:
 *		 0	u8	 version	SYNC_FRAME_VERSION
 *		 1	u8	 type		enum sync_frame_type
 *		 2	...	 payload	type-specific, body_len - 2 bytes
 *
 * A frame is valid when the magic matches, 2 <= body_len <= the receiver's
 * maximum, the CRC matches, the version is known and the type is known.
 * Anything else is a protocol error: the receiver logs it and drops the
 * connection (there is no resynchronisation inside a stream).
 *
 * Handshake (the side that dialled is the client):
 *	server -> HELLO     { u32 node_id, u8 nonce[32], str cluster_name }
 *	client -> AUTH      { u32 node_id, u8 nonce[32], str cluster_name,
 *						  u8 mac[32] = HMAC-SHA256(secret, "client" ||
 *							 server nonce || client nonce || ids || cluster) }
 *	server -> AUTH_OK   { u8 mac[32] = HMAC-SHA256(secret, "server" || ...) }
 * Strings are u16 length + bytes.  Only after AUTH_OK do other frames flow,
 * so both sides have proved they hold the same cluster secret.
 */
#ifndef SYNC_PEER_FRAME_H
#define SYNC_PEER_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYNC_FRAME_MAGIC 0x50475146u
#define SYNC_FRAME_VERSION 1
#define SYNC_FRAME_HEADER_SIZE 12
#define SYNC_FRAME_BODY_MIN 2
#define SYNC_NONCE_SIZE 32
#define SYNC_MAC_SIZE 32
#define SYNC_CLUSTER_NAME_MAX 63

enum sync_frame_type
{
	SYNC_FRAME_HELLO = 1,
	SYNC_FRAME_AUTH = 2,
	SYNC_FRAME_AUTH_OK = 3,
	SYNC_FRAME_MSG = 4,			/* a replication message (sync/peer_codec.h) */
	SYNC_FRAME_TYPE_MAX = SYNC_FRAME_MSG,
};

enum sync_frame_status
{
	SYNC_FRAME_OK = 0,
	SYNC_FRAME_INCOMPLETE,		/* need more bytes */
	SYNC_FRAME_BAD_MAGIC,
	SYNC_FRAME_BAD_LENGTH,
	SYNC_FRAME_BAD_CRC,
	SYNC_FRAME_BAD_VERSION,
	SYNC_FRAME_BAD_TYPE,
};

struct sync_frame
{
	enum sync_frame_type type;
	const uint8_t *payload;		/* borrowed from the input buffer */
	size_t		payload_len;
};

/*
 * Decode the frame at the start of buf.  On SYNC_FRAME_OK, *frame points
 * into buf and *consumed is the whole frame's size.  max_body bounds
 * body_len; it is checked before the body has arrived.
 */
enum sync_frame_status sync_frame_decode(const uint8_t *buf, size_t len,
										 size_t max_body,
										 struct sync_frame *frame,
										 size_t *consumed);

/* Writes header and the 2-byte body prefix; payload follows them. */
#define SYNC_FRAME_PREFIX_SIZE (SYNC_FRAME_HEADER_SIZE + SYNC_FRAME_BODY_MIN)
void		sync_frame_start(uint8_t prefix[SYNC_FRAME_PREFIX_SIZE],
							 enum sync_frame_type type);
/* Fills length and CRC once prefix + payload are contiguous in frame. */
void		sync_frame_finish(uint8_t *frame, size_t payload_len);

const char *sync_frame_status_message(enum sync_frame_status status);

/* Handshake payloads. */
struct sync_hello
{
	uint32_t	node_id;
	uint8_t		nonce[SYNC_NONCE_SIZE];
	char		cluster_name[SYNC_CLUSTER_NAME_MAX + 1];
	uint8_t		mac[SYNC_MAC_SIZE];	/* AUTH only */
};

/* Returns the payload size written (out must hold 128 bytes). */
size_t		sync_hello_encode(const struct sync_hello *hello, bool with_mac,
							  uint8_t *out);
/* Returns 0, or -1 when payload is not a well-formed hello. */
int			sync_hello_decode(const uint8_t *payload, size_t len, bool with_mac,
							  struct sync_hello *hello);

#endif							/* SYNC_PEER_FRAME_H */
