/*
 * proxy_io.c
 *	  Non-blocking socket I/O for the proxy, plaintext or TLS, with a lazily
 *	  allocated out buffer that holds only what the kernel did not take.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "common/pgq_assert.h"
#include "common/pgq_log.h"
#include "proxy/proxy_int.h"

void
proxy_conn_init(struct proxy_conn *c, struct proxy *px, int fd,
				void (*rcb) (struct ev_loop *, ev_io *, int),
				void (*wcb) (struct ev_loop *, ev_io *, int),
				void *owner)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	ev_io_init(&c->rio, rcb, fd, EV_READ);
	ev_io_init(&c->wio, wcb, fd, EV_WRITE);
	c->rio.data = owner;
	c->wio.data = owner;
}

/*
 * No Nagle on TCP: a message split over two sends (a large one arrives in
 * several reads) would otherwise wait for the peer's delayed ACK, 40 ms on
 * Linux, while the peer waits for the rest of the message.
 */
void
proxy_tcp_nodelay(int fd, int family)
{
	int			one = 1;

	if (family == AF_INET || family == AF_INET6)
		(void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void
proxy_conn_read_start(struct proxy *px, struct proxy_conn *c)
{
	if (!c->reading && c->fd >= 0)
	{
		ev_io_start(px->loop, &c->rio);
		c->reading = true;
	}
}

void
proxy_conn_read_stop(struct proxy *px, struct proxy_conn *c)
{
	if (c->reading)
	{
		ev_io_stop(px->loop, &c->rio);
		c->reading = false;
	}
}

static enum proxy_io_result
ssl_result(SSL *ssl, int rc)
{
	switch (SSL_get_error(ssl, rc))
	{
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			return PROXY_IO_AGAIN;
		case SSL_ERROR_ZERO_RETURN:
			return PROXY_IO_EOF;
		case SSL_ERROR_SYSCALL:
			ERR_clear_error();
			return errno == 0 ? PROXY_IO_EOF : PROXY_IO_ERROR;
		default:
			ERR_clear_error();
			return PROXY_IO_ERROR;
	}
}

enum proxy_io_result
proxy_conn_read(struct proxy_conn *c, uint8_t *buf, size_t cap, size_t *n)
{
	ssize_t		rc;

	PGQ_ASSERT(cap > 0 && cap <= PROXY_READ_CHUNK);
	if (c->ssl != NULL)
	{
		int			r;

		errno = 0;
		r = SSL_read(c->ssl, buf, (int) cap);
		if (r <= 0)
			return ssl_result(c->ssl, r);
		*n = (size_t) r;
		return PROXY_IO_OK;
	}
	do
		rc = read(c->fd, buf, cap);
	while (rc < 0 && errno == EINTR);
	if (rc > 0)
	{
		*n = (size_t) rc;
		return PROXY_IO_OK;
	}
	if (rc == 0)
		return PROXY_IO_EOF;
	return (errno == EAGAIN || errno == EWOULDBLOCK) ? PROXY_IO_AGAIN : PROXY_IO_ERROR;
}

/* Write directly; returns bytes taken or -1 on a hard error. */
static ssize_t
conn_write(struct proxy_conn *c, const uint8_t *data, size_t len)
{
	ssize_t		rc;

	if (c->ssl != NULL)
	{
		int			r;

		errno = 0;
		r = SSL_write(c->ssl, data, (int) (len > INT32_MAX ? INT32_MAX : len));
		if (r > 0)
			return r;
		return ssl_result(c->ssl, r) == PROXY_IO_AGAIN ? 0 : -1;
	}
	do
		rc = send(c->fd, data, len, MSG_NOSIGNAL);
	while (rc < 0 && errno == EINTR);
	if (rc >= 0)
		return rc;
	return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
}

static int
conn_queue(struct proxy_conn *c, const uint8_t *data, size_t len)
{
	size_t		need = (size_t) c->out_len + len;

	PGQ_ASSERT(need <= PROXY_OUT_HIGH + 2 * PROXY_READ_CHUNK + PROXY_PRE_BUF);
	if (c->out_off > 0 && c->out_len > 0)
		memmove(c->out, c->out + c->out_off, c->out_len);
	c->out_off = 0;
	if (need > c->out_cap)
	{
		size_t		cap = c->out_cap ? c->out_cap : 4096;
		uint8_t    *p;

		while (cap < need)
			cap *= 2;
		p = realloc(c->out, cap);
		if (p == NULL)
			return -1;
		c->out = p;
		c->out_cap = (uint32_t) cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len = (uint32_t) need;
	return 0;
}

int
proxy_conn_send(struct proxy *px, struct proxy_conn *c, const uint8_t *data, size_t len)
{
	if (c->fd < 0)
		return -1;
	if (c->out_len == 0)
	{
		ssize_t		n = conn_write(c, data, len);

		if (n < 0)
			return -1;
		data += n;
		len -= (size_t) n;
		if (len == 0)
			return 0;
	}
	if (conn_queue(c, data, len) < 0)
		return -1;
	ev_io_start(px->loop, &c->wio);
	return 0;
}

int
proxy_conn_flush(struct proxy *px, struct proxy_conn *c)
{
	while (c->out_len > 0)
	{
		ssize_t		n = conn_write(c, c->out + c->out_off, c->out_len);

		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		c->out_off += (uint32_t) n;
		c->out_len -= (uint32_t) n;
	}
	ev_io_stop(px->loop, &c->wio);
	/* An idle connection keeps no buffer. */
	free(c->out);
	c->out = NULL;
	c->out_cap = c->out_off = 0;
	return 0;
}

void
proxy_conn_close(struct proxy *px, struct proxy_conn *c)
{
	proxy_conn_read_stop(px, c);
	ev_io_stop(px->loop, &c->wio);
	if (c->ssl != NULL)
	{
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = c->out_cap = 0;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
