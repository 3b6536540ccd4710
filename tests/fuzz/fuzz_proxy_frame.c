/*
 * fuzz_proxy_frame.c
 *	  libFuzzer target for the proxy's front-end parser: the startup packet
 *	  parser, and the frame scanner in both directions fed the same bytes in
 *	  arbitrary chunk sizes.  Proves that no input crashes, reads out of
 *	  bounds, or makes chunked scanning disagree with one-shot scanning.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/pq_frame.h"

static void
check_startup(const uint8_t *data, size_t size)
{
	struct pq_startup st;
	char		err[256];
	size_t		pos = 0;
	const char *name,
			   *value;

	if (pq_startup_parse(data, size, &st, err, sizeof(err)) == 0 &&
		st.kind == PQ_STARTUP_V3)
	{
		if (strlen(st.user) == 0)
			abort();
		while (pq_startup_next(data, size, &pos, &name, &value))
			if (pos > size)
				abort();
	}
}

/* Scan in chunks whose sizes come from the input's first byte. */
static enum pq_scan_result
scan_chunked(const struct pq_type_rule *rules, const uint8_t *data, size_t size,
			 size_t chunk, uint64_t *messages, size_t *consumed)
{
	struct pq_scanner sc;
	size_t		off = 0;
	enum pq_scan_result r = PQ_SCAN_MORE;

	pq_scan_init(&sc, rules);
	while (off < size)
	{
		size_t		n = size - off < chunk ? size - off : chunk;
		size_t		used;

		r = pq_scan_step(&sc, data + off, n, &used);
		if (used > n)
			abort();
		off += used;
		if (r == PQ_SCAN_BAD_TYPE || r == PQ_SCAN_BAD_LENGTH)
			break;
		if (r == PQ_SCAN_MESSAGE && sc.rules[sc.type].exact_len == 0 &&
			sc.rules[sc.type].max_len == 0)
			abort();
	}
	*messages = sc.messages;
	*consumed = off;
	return r;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		chunk;
	uint64_t	m1,
				m2;
	size_t		c1,
				c2;
	enum pq_scan_result r1,
				r2;

	check_startup(data, size);
	if (size < 1)
		return 0;
	chunk = (size_t) data[0] % 16 + 1;
	data++;
	size--;
	for (int dir = 0; dir < 2; dir++)
	{
		const struct pq_type_rule *rules = dir ? pq_backend_rules : pq_frontend_rules;

		r1 = scan_chunked(rules, data, size, size ? size : 1, &m1, &c1);
		r2 = scan_chunked(rules, data, size, chunk, &m2, &c2);
		if ((r1 == PQ_SCAN_BAD_TYPE || r1 == PQ_SCAN_BAD_LENGTH) != (r2 == PQ_SCAN_BAD_TYPE || r2 == PQ_SCAN_BAD_LENGTH))
			abort();
		if (m1 != m2)
			abort();
	}
	pq_utf8_valid((const char *) data, size);
	return 0;
}
