/*
 * peer_frame.c
 *	  Frame and handshake codec for node-to-node connections.  Pure: no
 *	  I/O; a fuzz target feeds it arbitrary bytes.  See peer_frame.h.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "common/pgq_bytes.h"
#include "common/pgq_crc32c.h"
#include "sync/peer_frame.h"

_Static_assert(SYNC_FRAME_HEADER_SIZE == 12, "frame header is 12 bytes");

enum sync_frame_status
sync_frame_decode(const uint8_t *buf, size_t len, size_t max_body,
				  struct sync_frame *frame, size_t *consumed)
{
	uint32_t	body_len;
	const uint8_t *body;

	if (len < SYNC_FRAME_HEADER_SIZE)
		return SYNC_FRAME_INCOMPLETE;
	if (pgq_get_u32(buf) != SYNC_FRAME_MAGIC)
		return SYNC_FRAME_BAD_MAGIC;
	body_len = pgq_get_u32(buf + 4);
	if (body_len < SYNC_FRAME_BODY_MIN || body_len > max_body)
		return SYNC_FRAME_BAD_LENGTH;
	if (len - SYNC_FRAME_HEADER_SIZE < body_len)
		return SYNC_FRAME_INCOMPLETE;
	body = buf + SYNC_FRAME_HEADER_SIZE;
	if (pgq_crc32c(0, body, body_len) != pgq_get_u32(buf + 8))
		return SYNC_FRAME_BAD_CRC;
	if (body[0] != SYNC_FRAME_VERSION)
		return SYNC_FRAME_BAD_VERSION;
	if (body[1] < SYNC_FRAME_HELLO || body[1] > SYNC_FRAME_TYPE_MAX)
		return SYNC_FRAME_BAD_TYPE;
	frame->type = (enum sync_frame_type) body[1];
	frame->payload = body + SYNC_FRAME_BODY_MIN;
	frame->payload_len = body_len - SYNC_FRAME_BODY_MIN;
	*consumed = SYNC_FRAME_HEADER_SIZE + body_len;
	return SYNC_FRAME_OK;
}

void
sync_frame_start(uint8_t prefix[SYNC_FRAME_PREFIX_SIZE], enum sync_frame_type type)
{
	pgq_put_u32(prefix, SYNC_FRAME_MAGIC);
	pgq_put_u32(prefix + 4, 0);
	pgq_put_u32(prefix + 8, 0);
	prefix[12] = SYNC_FRAME_VERSION;
	prefix[13] = (uint8_t) type;
}

void
sync_frame_finish(uint8_t *frame, size_t payload_len)
{
	size_t		body_len = SYNC_FRAME_BODY_MIN + payload_len;

	PGQ_ASSERT(body_len <= UINT32_MAX);
	pgq_put_u32(frame + 4, (uint32_t) body_len);
	pgq_put_u32(frame + 8, pgq_crc32c(0, frame + SYNC_FRAME_HEADER_SIZE, body_len));
}

const char *
sync_frame_status_message(enum sync_frame_status status)
{
	switch (status)
	{
		case SYNC_FRAME_OK:
			return "ok";
		case SYNC_FRAME_INCOMPLETE:
			return "incomplete frame";
		case SYNC_FRAME_BAD_MAGIC:
			return "bad frame magic (not a pgquorum peer?)";
		case SYNC_FRAME_BAD_LENGTH:
			return "frame length out of bounds";
		case SYNC_FRAME_BAD_CRC:
			return "frame checksum mismatch";
		case SYNC_FRAME_BAD_VERSION:
			return "unknown frame version";
		case SYNC_FRAME_BAD_TYPE:
			return "unknown frame type";
	}
	return "unknown frame status";
}

size_t
sync_hello_encode(const struct sync_hello *hello, bool with_mac, uint8_t *out)
{
	size_t		name_len = strnlen(hello->cluster_name, SYNC_CLUSTER_NAME_MAX);
	uint8_t    *p = out;

	pgq_put_u32(p, hello->node_id);
	p += 4;
	memcpy(p, hello->nonce, SYNC_NONCE_SIZE);
	p += SYNC_NONCE_SIZE;
	pgq_put_u16(p, (uint16_t) name_len);
	p += 2;
	memcpy(p, hello->cluster_name, name_len);
	p += name_len;
	if (with_mac)
	{
		memcpy(p, hello->mac, SYNC_MAC_SIZE);
		p += SYNC_MAC_SIZE;
	}
	return (size_t) (p - out);
}

int
sync_hello_decode(const uint8_t *payload, size_t len, bool with_mac,
				  struct sync_hello *hello)
{
	struct pgq_reader r;
	const uint8_t *nonce;
	const uint8_t *name;
	uint16_t	name_len;

	memset(hello, 0, sizeof(*hello));
	pgq_reader_init(&r, payload, len);
	hello->node_id = pgq_read_u32(&r);
	nonce = pgq_read_bytes(&r, SYNC_NONCE_SIZE);
	name_len = pgq_read_u16(&r);
	if (r.error || name_len > SYNC_CLUSTER_NAME_MAX)
		return -1;
	name = pgq_read_bytes(&r, name_len);
	if (with_mac)
	{
		const uint8_t *mac = pgq_read_bytes(&r, SYNC_MAC_SIZE);

		if (mac != NULL)
			memcpy(hello->mac, mac, SYNC_MAC_SIZE);
	}
	if (!pgq_reader_done(&r) || memchr(name, '\0', name_len) != NULL)
		return -1;
	memcpy(hello->nonce, nonce, SYNC_NONCE_SIZE);
	memcpy(hello->cluster_name, name, name_len);
	hello->cluster_name[name_len] = '\0';
	return 0;
}
