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

#define EXT_HEADER_SIZE 4

static size_t
ext_size(const struct sync_msg *msg, const struct sync_msg_ext *ext)
{
	size_t		size = msg->round != 0 ? EXT_HEADER_SIZE + 8 : 0;

	if (ext == NULL)
		return size;
	if (ext->has_applied)
		size += EXT_HEADER_SIZE + 8;
	if (ext->has_floor)
		size += EXT_HEADER_SIZE + 8;
	if (ext->source != NULL)
		size += EXT_HEADER_SIZE + ext->source_len;
	return size;
}

size_t
sync_msg_encoded_size_ext(const struct sync_msg *msg, const struct sync_msg_ext *ext)
{
	size_t		size = SYNC_MSG_HEADER_SIZE + ext_size(msg, ext);

	for (uint32_t i = 0; i < msg->n_entries; i++)
		size += SYNC_ENTRY_HEADER_SIZE + msg->entries[i].len;
	return size;
}

size_t
sync_msg_encoded_size(const struct sync_msg *msg)
{
	return sync_msg_encoded_size_ext(msg, NULL);
}

static uint8_t *
put_ext(uint8_t *p, uint16_t tag, const void *value, uint16_t len)
{
	pgq_put_u16(p, tag);
	pgq_put_u16(p + 2, len);
	memcpy(p + EXT_HEADER_SIZE, value, len);
	return p + EXT_HEADER_SIZE + len;
}

static uint8_t *
put_ext_u64(uint8_t *p, uint16_t tag, uint64_t value)
{
	uint8_t		v[8];

	pgq_put_u64(v, value);
	return put_ext(p, tag, v, 8);
}

static uint8_t *
encode_ext(const struct sync_msg *msg, const struct sync_msg_ext *ext, uint8_t *p)
{
	if (msg->round != 0)
	{
		PGQ_ASSERT(msg->type == SYNC_MSG_APPEND || msg->type == SYNC_MSG_APPEND_RESP);
		p = put_ext_u64(p, SYNC_EXT_ROUND, msg->round);
	}
	if (ext == NULL)
		return p;
	if (ext->has_applied)
		p = put_ext_u64(p, SYNC_EXT_APPLIED, ext->applied);
	if (ext->has_floor)
		p = put_ext_u64(p, SYNC_EXT_FLOOR, ext->floor);
	if (ext->source != NULL)
	{
		PGQ_ASSERT(ext->source_len >= 1 && ext->source_len <= SYNC_EXT_SOURCE_MAX);
		p = put_ext(p, SYNC_EXT_SOURCE, ext->source, (uint16_t) ext->source_len);
	}
	return p;
}

void
sync_msg_encode_ext(const struct sync_msg *msg, const struct sync_msg_ext *ext,
					uint8_t *out)
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
	p = encode_ext(msg, ext, p);
	PGQ_ASSERT((size_t) (p - out) == sync_msg_encoded_size_ext(msg, ext));
}

void
sync_msg_encode(const struct sync_msg *msg, uint8_t *out)
{
	sync_msg_encode_ext(msg, NULL, out);
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

/* The round of ReadIndex, into msg->round. */
static const char *
decode_round(const uint8_t *v, uint16_t len, struct sync_msg *msg)
{
	if (len != 8)
		return "a round field is not 8 bytes";
	if (msg->type != SYNC_MSG_APPEND && msg->type != SYNC_MSG_APPEND_RESP)
		return "a round field in a message that carries none";
	if (msg->round != 0)
		return "an extension field is given twice";
	msg->round = pgq_get_u64(v);
	if (msg->round == 0)
		return "a round field is zero (it is sent only when nonzero)";
	return NULL;
}

/* One extension field into msg or ext. */
static const char *
decode_one_ext(uint16_t tag, const uint8_t *v, uint16_t len, struct sync_msg *msg,
			   struct sync_msg_ext *ext)
{
	switch (tag)
	{
		case SYNC_EXT_ROUND:
			return decode_round(v, len, msg);
		case SYNC_EXT_APPLIED:
		case SYNC_EXT_FLOOR:
			if (len != 8)
				return "an applied or floor field is not 8 bytes";
			if ((tag == SYNC_EXT_APPLIED ? ext->has_applied : ext->has_floor))
				return "an extension field is given twice";
			if (tag == SYNC_EXT_APPLIED)
			{
				ext->has_applied = true;
				ext->applied = pgq_get_u64(v);
			}
			else
			{
				ext->has_floor = true;
				ext->floor = pgq_get_u64(v);
			}
			return NULL;
		case SYNC_EXT_SOURCE:
			if (len < 1 || len > SYNC_EXT_SOURCE_MAX || memchr(v, '\0', len) != NULL)
				return "a source field is empty, too long or holds a NUL byte";
			if (ext->source != NULL)
				return "an extension field is given twice";
			ext->source = (const char *) v;
			ext->source_len = len;
			return NULL;
		default:
			return NULL;		/* a newer node's field: skipped */
	}
}

static const char *
decode_ext(struct pgq_reader *r, struct sync_msg *msg, struct sync_msg_ext *ext)
{
	while (pgq_reader_left(r) > 0)
	{
		uint16_t	tag = pgq_read_u16(r);
		uint16_t	len = pgq_read_u16(r);
		const uint8_t *v = pgq_read_bytes(r, len);
		const char *err;

		if (r->error)
			return "an extension field is cut short";
		if ((err = decode_one_ext(tag, v, len, msg, ext)) != NULL)
			return err;
	}
	return NULL;
}

static bool
known_type(uint32_t type)
{
	return (type >= SYNC_MSG_APPEND && type <= SYNC_MSG_READ_INDEX_RESP) ||
		(type >= SYNC_NODE_MSG_REBUILD && type <= SYNC_NODE_MSG_TERM);
}

const char *
sync_msg_decode_ext(const uint8_t *buf, size_t len, struct sync_msg *msg,
					struct sync_msg_ext *ext, struct sync_entry *entries,
					uint32_t max_entries)
{
	struct pgq_reader r;
	struct sync_msg_ext scratch;
	const char *err;

	memset(msg, 0, sizeof(*msg));
	if (ext == NULL)
		ext = &scratch;
	memset(ext, 0, sizeof(*ext));
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
	if (!known_type(msg->type))
		return "unknown message type";
	if (msg->n_entries > 0 && msg->type != SYNC_MSG_APPEND)
		return "entries in a message that carries none";
	if (msg->n_entries > max_entries)
		return "more entries than a message may carry";
	if (msg->n_entries > 0 && UINT64_MAX - msg->index < msg->n_entries)
		return "entry index overflows";
	err = decode_entries(&r, msg, entries);
	if (err == NULL)
		err = decode_ext(&r, msg, ext);
	if (err != NULL)
		return err;
	PGQ_ASSERT(pgq_reader_done(&r));
	msg->entries = msg->n_entries ? entries : NULL;
	return NULL;
}

const char *
sync_msg_decode(const uint8_t *buf, size_t len, struct sync_msg *msg,
				struct sync_entry *entries, uint32_t max_entries)
{
	return sync_msg_decode_ext(buf, len, msg, NULL, entries, max_entries);
}
