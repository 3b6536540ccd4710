/*
 * pgq_buf.c
 *	  Growable byte buffer with a cap.  See pgq_buf.h.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "common/pgq_buf.h"

void
pgq_buf_init(struct pgq_buf *buf, size_t max)
{
	memset(buf, 0, sizeof(*buf));
	buf->max = max;
}

uint8_t *
pgq_buf_reserve(struct pgq_buf *buf, size_t n)
{
	size_t		need;

	if (n > buf->max || buf->len > buf->max - n)
		return NULL;
	need = buf->len + n;
	if (buf->start + need <= buf->cap)
		return buf->data + buf->start + buf->len;
	if (buf->start > 0)
	{
		memmove(buf->data, buf->data + buf->start, buf->len);
		buf->start = 0;
		if (need <= buf->cap)
			return buf->data + buf->len;
	}
	{
		size_t		cap = buf->cap ? buf->cap : 4096;
		uint8_t    *data;

		while (cap < need)
			cap *= 2;
		if (cap > buf->max)
			cap = buf->max;
		data = realloc(buf->data, cap);
		if (data == NULL)
			return NULL;
		buf->data = data;
		buf->cap = cap;
	}
	return buf->data + buf->len;
}

bool
pgq_buf_append(struct pgq_buf *buf, const void *data, size_t n)
{
	uint8_t    *p = pgq_buf_reserve(buf, n);

	if (p == NULL)
		return false;
	memcpy(p, data, n);
	buf->len += n;
	return true;
}

void
pgq_buf_consume(struct pgq_buf *buf, size_t n)
{
	PGQ_ASSERT(n <= buf->len);
	buf->start += n;
	buf->len -= n;
	if (buf->len == 0)
		buf->start = 0;
}

void
pgq_buf_free(struct pgq_buf *buf)
{
	free(buf->data);
	pgq_buf_init(buf, buf->max);
}
