/*
 * pgq_bytes.h
 *	  Big-endian integer encoding, and a bounds-checked reader for decoding
 *	  untrusted bytes (peer frames, files).
 *
 * A reader never reads past its end: a read that would fails, sets
 * r->error, and returns zero; later reads fail too.  Decoders read
 * everything and check r->error once, then require pgq_reader_done().
 */
#ifndef PGQ_BYTES_H
#define PGQ_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void
pgq_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t) (v >> 8);
	p[1] = (uint8_t) v;
}

static inline void
pgq_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

static inline void
pgq_put_u64(uint8_t *p, uint64_t v)
{
	pgq_put_u32(p, (uint32_t) (v >> 32));
	pgq_put_u32(p + 4, (uint32_t) v);
}

static inline uint16_t
pgq_get_u16(const uint8_t *p)
{
	return (uint16_t) ((uint16_t) p[0] << 8 | p[1]);
}

static inline uint32_t
pgq_get_u32(const uint8_t *p)
{
	return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static inline uint64_t
pgq_get_u64(const uint8_t *p)
{
	return (uint64_t) pgq_get_u32(p) << 32 | pgq_get_u32(p + 4);
}

struct pgq_reader
{
	const uint8_t *p;
	const uint8_t *end;
	bool		error;
};

static inline void
pgq_reader_init(struct pgq_reader *r, const void *data, size_t len)
{
	r->p = data;
	r->end = r->p + len;
	r->error = false;
}

static inline size_t
pgq_reader_left(const struct pgq_reader *r)
{
	return (size_t) (r->end - r->p);
}

/* Returns a pointer to the next n bytes and skips them, or NULL. */
static inline const uint8_t *
pgq_read_bytes(struct pgq_reader *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->error || pgq_reader_left(r) < n)
	{
		r->error = true;
		return NULL;
	}
	r->p += n;
	return p;
}

static inline uint8_t
pgq_read_u8(struct pgq_reader *r)
{
	const uint8_t *p = pgq_read_bytes(r, 1);

	return p ? p[0] : 0;
}

static inline uint16_t
pgq_read_u16(struct pgq_reader *r)
{
	const uint8_t *p = pgq_read_bytes(r, 2);

	return p ? pgq_get_u16(p) : 0;
}

static inline uint32_t
pgq_read_u32(struct pgq_reader *r)
{
	const uint8_t *p = pgq_read_bytes(r, 4);

	return p ? pgq_get_u32(p) : 0;
}

static inline uint64_t
pgq_read_u64(struct pgq_reader *r)
{
	const uint8_t *p = pgq_read_bytes(r, 8);

	return p ? pgq_get_u64(p) : 0;
}

/* True when every byte was consumed and no read failed. */
static inline bool
pgq_reader_done(const struct pgq_reader *r)
{
	return !r->error && r->p == r->end;
}

#endif							/* PGQ_BYTES_H */
