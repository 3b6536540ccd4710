/*
 * free_port.h
 *	  For C tests that listen on loopback: a TCP port free now (the kernel
 *	  picks it for a socket bound to port 0, which is then closed).  Another
 *	  process could take it before the test binds it; on a test machine
 *	  that is rare enough.  Include it after <cmocka.h> (it asserts).
 */
#ifndef PGQ_TEST_FREE_PORT_H
#define PGQ_TEST_FREE_PORT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

static inline uint16_t
free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t	len = sizeof(sa);
	int			fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t	port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	getsockname(fd, (struct sockaddr *) &sa, &len);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

#endif							/* PGQ_TEST_FREE_PORT_H */
