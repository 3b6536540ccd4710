/*
 * wal_format.c
 *	  Pure encode/decode of the on-disk format.  See wal_format.h for the
 *	  byte layout and the validity rules.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "common/pgq_crc32c.h"
#include "wal/wal_format.h"

static inline void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

static inline void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

static inline uint16_t
get16(const uint8_t *p)
{
	return (uint16_t) (p[0] | (p[1] << 8));
}

static inline uint32_t
get32(const uint8_t *p)
{
	return (uint32_t) p[0] | ((uint32_t) p[1] << 8) |
		((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}

static inline uint64_t
get64(const uint8_t *p)
{
	return (uint64_t) get32(p) | ((uint64_t) get32(p + 4) << 32);
}

static bool
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

void
wal_seg_header_encode(const struct wal_seg_header *h, uint8_t *buf)
{
	PGQ_ASSERT(h->first_index >= 1);
	put32(buf, WAL_SEG_MAGIC);
	put16(buf + 4, WAL_SEG_VERSION);
	put16(buf + 6, WAL_SEG_HEADER_SIZE);
	put64(buf + 8, h->first_index);
	put64(buf + 16, h->segment_size);
	put32(buf + 24, 0);
	put32(buf + 28, pgq_crc32c(0, buf, 28));
}

enum wal_format_result
wal_seg_header_decode(const uint8_t *buf, size_t len, struct wal_seg_header *h)
{
	if (len < WAL_SEG_HEADER_SIZE)
		return WAL_FMT_SHORT;
	if (get32(buf) != WAL_SEG_MAGIC)
		return WAL_FMT_BAD_MAGIC;
	if (get16(buf + 4) != WAL_SEG_VERSION)
		return WAL_FMT_BAD_VERSION;
	if (get16(buf + 6) != WAL_SEG_HEADER_SIZE)
		return WAL_FMT_BAD_LENGTH;
	if (get32(buf + 28) != pgq_crc32c(0, buf, 28))
		return WAL_FMT_BAD_CRC;
	if (get32(buf + 24) != 0)
		return WAL_FMT_BAD_PADDING;
	if (get64(buf + 8) == 0)
		return WAL_FMT_BAD_INDEX;
	h->first_index = get64(buf + 8);
	h->segment_size = get64(buf + 16);
	return WAL_FMT_OK;
}

size_t
wal_record_encode(const struct wal_record *rec, uint8_t *buf)
{
	size_t		size = wal_record_size(rec->length);
	size_t		crc_off = WAL_RECORD_HEADER_SIZE + (size_t) rec->length;

	PGQ_ASSERT(rec->index >= 1);
	PGQ_ASSERT(rec->length <= WAL_FORMAT_MAX_PAYLOAD);
	PGQ_ASSERT(rec->length == 0 || rec->payload != NULL);
	put64(buf, rec->index);
	put64(buf + 8, rec->term);
	put32(buf + 16, rec->type);
	put32(buf + 20, rec->length);
	if (rec->length > 0)
		memcpy(buf + WAL_RECORD_HEADER_SIZE, rec->payload, rec->length);
	put32(buf + crc_off, pgq_crc32c(0, buf, crc_off));
	memset(buf + crc_off + 4, 0, size - crc_off - 4);
	return size;
}

enum wal_format_result
wal_record_decode(const uint8_t *buf, size_t len, uint32_t max_payload,
				  struct wal_record *rec, size_t *size)
{
	uint32_t	length;
	size_t		need,
				crc_off;

	if (max_payload > WAL_FORMAT_MAX_PAYLOAD)
		max_payload = WAL_FORMAT_MAX_PAYLOAD;
	if (len < WAL_RECORD_HEADER_SIZE)
		return WAL_FMT_SHORT;
	if (get64(buf) == 0)
		return WAL_FMT_BAD_INDEX;
	length = get32(buf + 20);
	if (length > max_payload)
		return WAL_FMT_BAD_LENGTH;
	need = wal_record_size(length);
	if (need > len)
		return WAL_FMT_SHORT;
	crc_off = WAL_RECORD_HEADER_SIZE + (size_t) length;
	if (get32(buf + crc_off) != pgq_crc32c(0, buf, crc_off))
		return WAL_FMT_BAD_CRC;
	if (!all_zero(buf + crc_off + 4, need - crc_off - 4))
		return WAL_FMT_BAD_PADDING;
	rec->index = get64(buf);
	rec->term = get64(buf + 8);
	rec->type = get32(buf + 16);
	rec->length = length;
	rec->payload = buf + WAL_RECORD_HEADER_SIZE;
	*size = need;
	return WAL_FMT_OK;
}

static void
member_encode(const struct wal_member *m, uint8_t *p)
{
	size_t		pl = strnlen(m->peer_addr, WAL_ADDR_MAX);
	size_t		cl = strnlen(m->client_addr, WAL_ADDR_MAX);

	PGQ_ASSERT(pl < WAL_ADDR_MAX && cl < WAL_ADDR_MAX);
	memset(p, 0, WAL_HS_MEMBER_SIZE);
	put64(p, m->id);
	put32(p + 8, m->voter ? 1 : 0);
	memcpy(p + 16, m->peer_addr, pl);
	memcpy(p + 16 + WAL_ADDR_MAX, m->client_addr, cl);
}

size_t
wal_hardstate_encode(const struct wal_hardstate *hs, uint8_t *buf)
{
	size_t		off = WAL_HS_HEADER_SIZE;

	PGQ_ASSERT(hs->n_members <= WAL_MAX_MEMBERS && hs->aux_len <= WAL_HS_AUX_MAX);
	put32(buf, WAL_HS_MAGIC);
	put16(buf + 4, WAL_HS_VERSION);
	put16(buf + 6, (uint16_t) hs->n_members);
	put64(buf + 8, hs->term);
	put64(buf + 16, hs->vote);
	for (uint32_t i = 0; i < hs->n_members; i++, off += WAL_HS_MEMBER_SIZE)
		member_encode(&hs->members[i], buf + off);
	put32(buf + off, hs->aux_len);
	memcpy(buf + off + 4, hs->aux, hs->aux_len);
	off += 4 + hs->aux_len;
	put32(buf + off, pgq_crc32c(0, buf, off));
	return off + 4;
}

/* An address field: a NUL within the field, zeros after it. */
static bool
addr_decode(const uint8_t *p, char *out)
{
	const uint8_t *nul = memchr(p, 0, WAL_ADDR_MAX);

	if (nul == NULL || !all_zero(nul, (size_t) (p + WAL_ADDR_MAX - nul)))
		return false;
	memcpy(out, p, (size_t) (nul - p) + 1);
	return true;
}

static enum wal_format_result
member_decode(const uint8_t *p, struct wal_member *m)
{
	uint32_t	flags = get32(p + 8);

	if ((flags & ~UINT32_C(1)) != 0 || get32(p + 12) != 0)
		return WAL_FMT_BAD_PADDING;
	m->id = get64(p);
	if (m->id == 0)
		return WAL_FMT_BAD_FIELD;
	m->voter = (flags & 1) != 0;
	if (!addr_decode(p + 16, m->peer_addr) ||
		!addr_decode(p + 16 + WAL_ADDR_MAX, m->client_addr))
		return WAL_FMT_BAD_FIELD;
	return WAL_FMT_OK;
}

enum wal_format_result
wal_hardstate_decode(const uint8_t *buf, size_t len, struct wal_hardstate *hs)
{
	uint32_t	n;
	uint32_t	aux_len;
	size_t		body;

	if (len < WAL_HS_HEADER_SIZE + 8)
		return WAL_FMT_SHORT;
	if (get32(buf) != WAL_HS_MAGIC)
		return WAL_FMT_BAD_MAGIC;
	if (get16(buf + 4) != WAL_HS_VERSION)
		return WAL_FMT_BAD_VERSION;
	n = get16(buf + 6);
	if (n > WAL_MAX_MEMBERS)
		return WAL_FMT_BAD_LENGTH;
	body = WAL_HS_HEADER_SIZE + (size_t) n * WAL_HS_MEMBER_SIZE;
	if (len < body + 8)
		return WAL_FMT_SHORT;
	aux_len = get32(buf + body);
	if (aux_len > WAL_HS_AUX_MAX)
		return WAL_FMT_BAD_LENGTH;
	body += 4 + aux_len;
	if (len != body + 4)
		return len < body + 4 ? WAL_FMT_SHORT : WAL_FMT_BAD_LENGTH;
	if (get32(buf + body) != pgq_crc32c(0, buf, body))
		return WAL_FMT_BAD_CRC;
	memset(hs, 0, sizeof(*hs));
	hs->term = get64(buf + 8);
	hs->vote = get64(buf + 16);
	hs->n_members = n;
	hs->aux_len = aux_len;
	memcpy(hs->aux, buf + body - aux_len, aux_len);
	for (uint32_t i = 0; i < n; i++)
	{
		enum wal_format_result r = member_decode(buf + WAL_HS_HEADER_SIZE +
												 (size_t) i * WAL_HS_MEMBER_SIZE,
												 &hs->members[i]);

		if (r != WAL_FMT_OK)
			return r;
	}
	return WAL_FMT_OK;
}

void
wal_segment_name(uint64_t first_index, char *buf)
{
	int			n = snprintf(buf, WAL_SEG_NAME_LEN + 1, "%020" PRIu64 ".seg",
							 first_index);

	PGQ_ASSERT(n == WAL_SEG_NAME_LEN);
}

bool
wal_segment_name_parse(const char *name, uint64_t *first_index)
{
	uint64_t	v = 0;

	if (strlen(name) != WAL_SEG_NAME_LEN || strcmp(name + 20, ".seg") != 0)
		return false;
	for (int i = 0; i < 20; i++)
	{
		unsigned	d = (unsigned) (name[i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (v == 0)
		return false;
	*first_index = v;
	return true;
}

const char *
wal_format_result_str(enum wal_format_result r)
{
	static const char *const msgs[] = {
#define X(code, msg) [code] = msg,
		WAL_FORMAT_RESULTS(X)
#undef X
	};

	if ((size_t) r >= PGQ_LENGTHOF(msgs))
		return "unknown format result";
	return msgs[r];
}
