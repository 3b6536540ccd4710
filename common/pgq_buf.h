/*
 * pgq_buf.h
 *	  A growable byte buffer with a hard cap, for building messages and for
 *	  the send and receive queues of connections.
 *
 * INTERFACE ROUTINES
 *	pgq_buf_reserve	- make room for n more bytes (fails past the cap)
 *	pgq_buf_append	- copy bytes in
 *	pgq_buf_consume	- drop bytes from the front (after a send)
 *	pgq_buf_free	- release the memory
 *
 * Bytes live in data[start, start + len).  A buffer owns its memory.
 */
#ifndef PGQ_BUF_H
#define PGQ_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pgq_buf
{
	uint8_t    *data;
	size_t		start;
	size_t		len;
	size_t		cap;			/* allocated */
	size_t		max;			/* never grow past this */
};

void		pgq_buf_init(struct pgq_buf *buf, size_t max);
/* Returns a pointer to room for n bytes after the content, or NULL. */
uint8_t    *pgq_buf_reserve(struct pgq_buf *buf, size_t n);
bool		pgq_buf_append(struct pgq_buf *buf, const void *data, size_t n);
void		pgq_buf_consume(struct pgq_buf *buf, size_t n);
void		pgq_buf_free(struct pgq_buf *buf);

static inline uint8_t *
pgq_buf_head(const struct pgq_buf *buf)
{
	return buf->data + buf->start;
}

#endif							/* PGQ_BUF_H */
