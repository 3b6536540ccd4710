/*
 * peer_codec.c
 *	  Encode and decode replication messages.  Pure; fuzzed.  See
 *	  peer_codec.h for the layout and the validity rules.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "common/pgq_bytes.h"
#include "sync/peer_codec.h"

/* The optional trailer: an ack carrying the sender's applied index. */
static bool
has_applied(const struct sync_msg *msg)
{
	return msg->type == SYNC_MSG_APPEND_RESP && (msg->flags & SYNC_FLAG_APPLIED);
}

size_t
sync_msg_encoded_size(const struct sync_msg *msg)
{
	size_t		size = SYNC_MSG_HEADER_SIZE;

	for (uint32_t i = 0; i < msg->n_entries; i++)
		size += SYNC_ENTRY_HEADER_SIZE + msg->entries[i].len;
	if (has_applied(msg))
		size += 8;
	return size;
}

void
sync_msg_encode(const struct sync_msg *msg, uint8_t *out)
{
	const uint64_t fields[] = {msg->from, msg->to, msg->term, msg->index,
	msg->log_term, msg->commit, msg->hint_index};
	uint8_t    *p = out;

	pgq_put_u32(p, msg->type);
	pgq_put_u32(p + 4, msg->flags);
	p += 8;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++, p += 8)
		pgq_put_u64(p, fields[i]);
	pgq_put_u32(p, msg->n_entries);
	p += 4;
	PGQ_ASSERT(p - out == SYNC_MSG_HEADER_SIZE);
	for (uint32_t i = 0; i < msg->n_entries; i++)
	{
		const struct sync_entry *e = &msg->entries[i];

		pgq_put_u64(p, e->index);
		pgq_put_u64(p + 8, e->term);
		pgq_put_u32(p + 16, e->type);
		pgq_put_u32(p + 20, e->len);
		p += SYNC_ENTRY_HEADER_SIZE;
		if (e->len > 0)
			memcpy(p, e->payload, e->len);
		p += e->len;
	}
	if (has_applied(msg))
		pgq_put_u64(p, msg->applied);
}

static const char *
decode_entries(struct pgq_reader *r, struct sync_msg *msg, struct sync_entry *entries)
{
	uint64_t	prev_term = 0;

	for (uint32_t i = 0; i < msg->n_entries; i++)
	{
		struct sync_entry *e = &entries[i];

		e->index = pgq_read_u64(r);
		e->term = pgq_read_u64(r);
		e->type = pgq_read_u32(r);
		e->len = pgq_read_u32(r);
		e->payload = pgq_read_bytes(r, e->len);
		if (r->error)
			return "message is truncated inside an entry";
		if (e->type < SYNC_ENTRY_NORMAL || e->type > SYNC_ENTRY_CONFIG)
			return "unknown entry type";
		if (e->index != msg->index + 1 + i)
			return "entry indexes are not consecutive after the message's index";
		if (e->term < prev_term || e->term > msg->term || e->term == 0)
			return "entry terms are out of order";
		prev_term = e->term;
	}
	return NULL;
}

const char *
sync_msg_decode(const uint8_t *buf, size_t len, struct sync_msg *msg,
				struct sync_entry *entries, uint32_t max_entries)
{
	struct pgq_reader r;
	const char *err;

	memset(msg, 0, sizeof(*msg));
	pgq_reader_init(&r, buf, len);
	msg->type = pgq_read_u32(&r);
	msg->flags = pgq_read_u32(&r);
	msg->from = pgq_read_u64(&r);
	msg->to = pgq_read_u64(&r);
	msg->term = pgq_read_u64(&r);
	msg->index = pgq_read_u64(&r);
	msg->log_term = pgq_read_u64(&r);
	msg->commit = pgq_read_u64(&r);
	msg->hint_index = pgq_read_u64(&r);
	msg->n_entries = pgq_read_u32(&r);
	if (r.error)
		return "message is shorter than its header";
	if (msg->type < SYNC_MSG_APPEND || msg->type > SYNC_MSG_TIMEOUT_NOW)
		return "unknown message type";
	if (msg->n_entries > 0 && msg->type != SYNC_MSG_APPEND)
		return "entries in a message that carries none";
	if (msg->n_entries > max_entries)
		return "more entries than a message may carry";
	if (msg->n_entries > 0 && UINT64_MAX - msg->index < msg->n_entries)
		return "entry index overflows";
	err = decode_entries(&r, msg, entries);
	if (err != NULL)
		return err;
	if (has_applied(msg))
		msg->applied = pgq_read_u64(&r);
	if (r.error)
		return "message is truncated before its applied index";
	if (!pgq_reader_done(&r))
		return "trailing bytes after the message";
	msg->entries = msg->n_entries ? entries : NULL;
	return NULL;
}
