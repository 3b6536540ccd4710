/*
 * pq_frame.h
 *	  Pure framing of the PostgreSQL v3 protocol: no sockets, no allocation.
 *
 * INTERFACE ROUTINES
 *	pq_scan_init / pq_scan_step - walk a byte stream message by message
 *	pq_header_check		- validate one message header against a rule table
 *	pq_startup_parse	- parse and validate a whole startup packet
 *	pq_startup_next		- iterate the name/value pairs of a v3 startup packet
 *	pq_reader_*			- bounds-checked reading of one message body
 *	pq_build_*			- build whole messages into a caller's buffer
 *	pq_utf8_valid		- is a string valid UTF-8?
 *
 * The scanner never buffers a whole message: it validates each header (type
 * known for the direction, length >= 4 and within that type's cap, exact
 * length for fixed-size messages) and then skips the body byte by byte as it
 * arrives, so relayed messages stream through with bounded memory and the
 * stream never loses sync.  Bodies of the few message types the proxy must
 * look into (ReadyForQuery) are short and copied into the scanner.
 *
 * Ownership: every pointer argument is borrowed until return; results that
 * point into an input buffer (startup user/database) live as long as it.
 */
#ifndef PQ_FRAME_H
#define PQ_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/pq_proto.h"

/* Per-type rule: which types a direction may carry and how long each may be. */
struct pq_type_rule
{
	uint32_t	max_len;		/* 0: type not allowed in this direction */
	uint32_t	exact_len;		/* 0: any length in [4, max_len] */
	bool		report;			/* scanner stops after each such message */
};

/* Tables indexed by type byte. */
extern const struct pq_type_rule pq_frontend_rules[256];
extern const struct pq_type_rule pq_backend_rules[256];

#define PQ_SCAN_PEEK_MAX 8		/* bodies of reported messages kept this long */

struct pq_scanner
{
	const struct pq_type_rule *rules;
	uint8_t		hdr[PQ_HEADER_LEN];
	uint8_t		hdr_len;		/* header bytes collected so far */
	uint8_t		type;			/* current message's type */
	uint32_t	remaining;		/* body bytes still to come */
	uint32_t	body_len;		/* current message's body length */
	uint8_t		peek[PQ_SCAN_PEEK_MAX]; /* start of a reported body */
	uint64_t	messages;		/* complete messages seen */
};

enum pq_scan_result
{
	PQ_SCAN_MORE,				/* all input consumed, message incomplete */
	PQ_SCAN_MESSAGE,			/* a reported message just ended */
	PQ_SCAN_BAD_TYPE,			/* header has a type not allowed here */
	PQ_SCAN_BAD_LENGTH,			/* header length out of bounds for its type */
};

void		pq_scan_init(struct pq_scanner *sc, const struct pq_type_rule *rules);

/*
 * Consume bytes from data[0..len).  Sets *used to how many were consumed.
 * PQ_SCAN_MESSAGE: a reported message ended exactly at data + *used; its type
 * is sc->type and the start of its body is in sc->peek.  On a bad header,
 * *used is where that header began: everything before it is whole messages
 * (or the rest of one) and may still be forwarded.
 */
enum pq_scan_result pq_scan_step(struct pq_scanner *sc, const uint8_t *data,
								 size_t len, size_t *used);

/* True when the scanner sits between two messages. */
static inline bool
pq_scan_at_boundary(const struct pq_scanner *sc)
{
	return sc->hdr_len == 0 && sc->remaining == 0;
}

/* Validate a header: 0, or PQ_SCAN_BAD_TYPE/PQ_SCAN_BAD_LENGTH. */
int			pq_header_check(const struct pq_type_rule *rules, uint8_t type,
							uint32_t len);

/* Startup packets. */
enum pq_startup_kind
{
	PQ_STARTUP_V3,
	PQ_STARTUP_SSL,
	PQ_STARTUP_GSSENC,
	PQ_STARTUP_CANCEL,
};

struct pq_startup
{
	enum pq_startup_kind kind;
	uint32_t	version;
	uint32_t	cancel_pid;
	uint32_t	cancel_key;
	const char *user;			/* points into the packet */
	const char *database;		/* the user when not given */
	bool		replication;	/* asked for a replication connection */
	int			n_params;
	int			n_protocol_options; /* _pq_.* names, all unsupported */
	const char *protocol_options[PQ_STARTUP_MAX_PARAMS];
};

/*
 * Check a startup packet length read from the first four bytes: returns
 * false when it cannot be a valid packet.
 */
bool		pq_startup_len_ok(uint32_t len);

/*
 * Parse the whole packet pkt[0..len) (length word included).  Returns 0, or
 * -1 with a client-presentable message in err.
 */
int			pq_startup_parse(const uint8_t *pkt, size_t len,
							 struct pq_startup *st, char *err, size_t errlen);

/*
 * Iterate the name/value pairs of a parsed v3 packet: *pos starts at 0.
 * Returns false at the end.
 */
bool		pq_startup_next(const uint8_t *pkt, size_t len, size_t *pos,
							const char **name, const char **value);

/* Reading one message body. */
struct pq_reader
{
	const uint8_t *p;
	size_t		len;
	size_t		pos;
	bool		bad;			/* read past the end or missing terminator */
};

void		pq_reader_init(struct pq_reader *r, const uint8_t *body, size_t len);
uint8_t		pq_read_byte(struct pq_reader *r);
uint32_t	pq_read_int32(struct pq_reader *r);
const char *pq_read_string(struct pq_reader *r);
const uint8_t *pq_read_bytes(struct pq_reader *r, size_t n);
/* True when every byte was read and nothing went wrong. */
bool		pq_reader_done(const struct pq_reader *r);

/* Building messages into a fixed buffer; overflow is sticky and checked. */
struct pq_build
{
	uint8_t    *buf;
	size_t		cap;
	size_t		len;
	size_t		msg_start;		/* where the current length word is */
	bool		overflow;
};

void		pq_build_init(struct pq_build *b, uint8_t *buf, size_t cap);
/* type 0: a startup-style message with no type byte. */
void		pq_build_begin(struct pq_build *b, uint8_t type);
void		pq_build_byte(struct pq_build *b, uint8_t v);
void		pq_build_int16(struct pq_build *b, uint16_t v);
void		pq_build_int32(struct pq_build *b, uint32_t v);
void		pq_build_bytes(struct pq_build *b, const void *p, size_t n);
void		pq_build_string(struct pq_build *b, const char *s);
void		pq_build_end(struct pq_build *b);

/* Whole ErrorResponse (or NoticeResponse when type is 'N'). */
void		pq_build_error(struct pq_build *b, uint8_t type, const char *severity,
						   const char *sqlstate, const char *message);

bool		pq_utf8_valid(const char *s, size_t len);

static inline uint32_t
pq_get_uint32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
		((uint32_t) p[2] << 8) | (uint32_t) p[3];
}

static inline void
pq_put_uint32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

#endif							/* PQ_FRAME_H */
