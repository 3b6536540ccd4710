/*
 * pq_frame.c
 *	  Pure framing of the PostgreSQL v3 protocol.  See pq_frame.h.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "proxy/pq_frame.h"

#define SMALL	{PQ_SMALL_MESSAGE_LIMIT, 0, false}
#define LARGE	{PQ_LARGE_MESSAGE_LIMIT, 0, false}
#define EXACT(n) {(n), (n), false}

/* What a client may send after startup (as postgres.c: SocketBackend). */
const struct pq_type_rule pq_frontend_rules[256] = {
	[PqMsg_Bind] = LARGE,
	[PqMsg_Close] = SMALL,
	[PqMsg_Describe] = SMALL,
	[PqMsg_Execute] = SMALL,
	[PqMsg_FunctionCall] = {PQ_LARGE_MESSAGE_LIMIT, 0, true},
	[PqMsg_Flush] = EXACT(4),
	[PqMsg_Parse] = LARGE,
	[PqMsg_Query] = {PQ_LARGE_MESSAGE_LIMIT, 0, true},
	[PqMsg_Sync] = {4, 4, true},
	[PqMsg_Terminate] = {4, 4, true},
	[PqMsg_CopyData] = LARGE,
	[PqMsg_CopyDone] = EXACT(4),
	[PqMsg_CopyFail] = SMALL,
	[PqMsg_PasswordMessage] = {PQ_AUTH_MESSAGE_LIMIT, 0, false},
};

/* What a server may send; PostgreSQL's own messages stay far below the cap. */
const struct pq_type_rule pq_backend_rules[256] = {
	[PqMsg_ParseComplete] = EXACT(4),
	[PqMsg_BindComplete] = EXACT(4),
	[PqMsg_CloseComplete] = EXACT(4),
	[PqMsg_NotificationResponse] = LARGE,
	[PqMsg_CommandComplete] = SMALL,
	[PqMsg_DataRow] = LARGE,
	[PqMsg_ErrorResponse] = LARGE,
	[PqMsg_CopyInResponse] = LARGE,
	[PqMsg_CopyOutResponse] = LARGE,
	[PqMsg_EmptyQueryResponse] = EXACT(4),
	[PqMsg_BackendKeyData] = EXACT(12),
	[PqMsg_NoticeResponse] = LARGE,
	[PqMsg_AuthenticationRequest] = {PQ_AUTH_MESSAGE_LIMIT, 0, false},
	[PqMsg_ParameterStatus] = LARGE,
	[PqMsg_RowDescription] = LARGE,
	[PqMsg_FunctionCallResponse] = LARGE,
	[PqMsg_CopyBothResponse] = LARGE,
	[PqMsg_ReadyForQuery] = {5, 5, true},
	[PqMsg_NoData] = EXACT(4),
	[PqMsg_PortalSuspended] = EXACT(4),
	[PqMsg_ParameterDescription] = LARGE,
	[PqMsg_NegotiateProtocolVersion] = SMALL,
	[PqMsg_CopyData] = LARGE,
	[PqMsg_CopyDone] = EXACT(4),
};

void
pq_scan_init(struct pq_scanner *sc, const struct pq_type_rule *rules)
{
	PGQ_ASSERT(rules != NULL);
	memset(sc, 0, sizeof(*sc));
	sc->rules = rules;
}

int
pq_header_check(const struct pq_type_rule *rules, uint8_t type, uint32_t len)
{
	const struct pq_type_rule *rule = &rules[type];

	if (rule->max_len == 0)
		return PQ_SCAN_BAD_TYPE;
	if (len < PQ_MIN_LEN || len > rule->max_len)
		return PQ_SCAN_BAD_LENGTH;
	if (rule->exact_len != 0 && len != rule->exact_len)
		return PQ_SCAN_BAD_LENGTH;
	return 0;
}

/* Take header bytes; returns 0, 1 when the header is still incomplete, or an error. */
static int
scan_header(struct pq_scanner *sc, const uint8_t *data, size_t len, size_t *used)
{
	size_t		n = PQ_HEADER_LEN - sc->hdr_len;
	uint32_t	msglen;
	int			rc;

	if (n > len)
		n = len;
	memcpy(sc->hdr + sc->hdr_len, data, n);
	sc->hdr_len += (uint8_t) n;
	*used = n;
	if (sc->hdr_len < PQ_HEADER_LEN)
		return 1;
	msglen = pq_get_uint32(sc->hdr + 1);
	rc = pq_header_check(sc->rules, sc->hdr[0], msglen);
	if (rc != 0)
		return rc;
	sc->type = sc->hdr[0];
	sc->body_len = msglen - 4;
	sc->remaining = sc->body_len;
	sc->hdr_len = 0;
	return 0;
}

enum pq_scan_result
pq_scan_step(struct pq_scanner *sc, const uint8_t *data, size_t len, size_t *used)
{
	size_t		pos = 0;

	while (pos < len)
	{
		if (sc->remaining == 0)
		{
			size_t		prev = sc->hdr_len;
			size_t		start = prev <= pos ? pos - prev : 0;
			size_t		n;
			int			rc = scan_header(sc, data + pos, len - pos, &n);

			pos += n;
			if (rc == 1)
				break;
			if (rc != 0)
			{
				/* where the bad header began, if it began in this input */
				*used = start;
				return (enum pq_scan_result) rc;
			}
		}
		else
		{
			size_t		n = sc->remaining < len - pos ? sc->remaining : len - pos;

			if (sc->rules[sc->type].report)
			{
				size_t		off = sc->body_len - sc->remaining;

				if (off < PQ_SCAN_PEEK_MAX)
					memcpy(sc->peek + off, data + pos,
						   n < PQ_SCAN_PEEK_MAX - off ? n : PQ_SCAN_PEEK_MAX - off);
			}
			sc->remaining -= (uint32_t) n;
			pos += n;
		}
		if (sc->remaining == 0 && sc->hdr_len == 0)
		{
			sc->messages++;
			if (sc->rules[sc->type].report)
			{
				*used = pos;
				return PQ_SCAN_MESSAGE;
			}
		}
	}
	*used = pos;
	return PQ_SCAN_MORE;
}

bool
pq_startup_len_ok(uint32_t len)
{
	return len >= PQ_STARTUP_MIN_LEN && len <= PQ_STARTUP_MAX_LEN;
}

bool
pq_utf8_valid(const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *) s;
	size_t		i = 0;

	while (i < len)
	{
		uint8_t		c = p[i];
		size_t		n;
		uint32_t	cp;

		if (c < 0x80)
		{
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return false;
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++)
		{
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
			(cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

bool
pq_startup_next(const uint8_t *pkt, size_t len, size_t *pos,
				const char **name, const char **value)
{
	size_t		p = *pos < 8 ? 8 : *pos;
	const char *n,
			   *v;

	if (p >= len || pkt[p] == '\0')
		return false;
	n = (const char *) pkt + p;
	p += strlen(n) + 1;
	v = (const char *) pkt + p;
	p += strlen(v) + 1;
	*name = n;
	*value = v;
	*pos = p;
	return true;
}

/* Check that the pairs are NUL-terminated and end with one extra NUL. */
static int
startup_check_pairs(const uint8_t *pkt, size_t len, int *n_strings)
{
	size_t		p = 8;

	*n_strings = 0;
	for (;;)
	{
		const uint8_t *nul;

		if (p >= len)
			return -1;
		if (pkt[p] == '\0')
			return (p + 1 == len && *n_strings % 2 == 0) ? 0 : -1;
		nul = memchr(pkt + p, '\0', len - p);
		if (nul == NULL)
			return -1;
		p = (size_t) (nul - pkt) + 1;
		if (++*n_strings > 2 * PQ_STARTUP_MAX_PARAMS)
			return -1;
	}
}

static int
startup_take_param(struct pq_startup *st, const char *name, const char *value,
				   char *err, size_t errlen)
{
	if (!pq_utf8_valid(name, strlen(name)) || !pq_utf8_valid(value, strlen(value)))
	{
		snprintf(err, errlen, "invalid UTF-8 in startup parameter \"%s\"",
				 pq_utf8_valid(name, strlen(name)) ? name : "?");
		return -1;
	}
	if (strcmp(name, "user") == 0)
		st->user = value;
	else if (strcmp(name, "database") == 0)
		st->database = value;
	else if (strcmp(name, "replication") == 0)
		st->replication = strcmp(value, "false") != 0 && strcmp(value, "0") != 0 &&
			strcmp(value, "off") != 0 && strcmp(value, "no") != 0;
	else if (strncmp(name, "_pq_.", 5) == 0)
		st->protocol_options[st->n_protocol_options++] = name;
	st->n_params++;
	return 0;
}

static int
startup_parse_v3(const uint8_t *pkt, size_t len, struct pq_startup *st,
				 char *err, size_t errlen)
{
	size_t		pos = 0;
	const char *name,
			   *value;
	int			n_strings;

	if (PQ_PROTOCOL_MAJOR(st->version) != 3)
	{
		snprintf(err, errlen, "unsupported frontend protocol %u.%u: server supports 3.0 to 3.0",
				 PQ_PROTOCOL_MAJOR(st->version), PQ_PROTOCOL_MINOR(st->version));
		return -1;
	}
	if (startup_check_pairs(pkt, len, &n_strings) < 0)
	{
		snprintf(err, errlen, "invalid startup packet layout: expected terminator as last byte");
		return -1;
	}
	while (pq_startup_next(pkt, len, &pos, &name, &value))
		if (startup_take_param(st, name, value, err, errlen) < 0)
			return -1;
	if (st->user == NULL || st->user[0] == '\0')
	{
		snprintf(err, errlen, "no PostgreSQL user name specified in startup packet");
		return -1;
	}
	if (st->database == NULL || st->database[0] == '\0')
		st->database = st->user;
	return 0;
}

int
pq_startup_parse(const uint8_t *pkt, size_t len, struct pq_startup *st,
				 char *err, size_t errlen)
{
	memset(st, 0, sizeof(*st));
	if (len < PQ_STARTUP_MIN_LEN || !pq_startup_len_ok(pq_get_uint32(pkt)) ||
		pq_get_uint32(pkt) != len)
	{
		snprintf(err, errlen, "invalid length of startup packet");
		return -1;
	}
	st->version = pq_get_uint32(pkt + 4);
	switch (st->version)
	{
		case PQ_SSL_REQUEST_CODE:
		case PQ_GSSENC_REQUEST_CODE:
			st->kind = st->version == PQ_SSL_REQUEST_CODE ? PQ_STARTUP_SSL : PQ_STARTUP_GSSENC;
			if (len != 8)
				break;
			return 0;
		case PQ_CANCEL_REQUEST_CODE:
			st->kind = PQ_STARTUP_CANCEL;
			if (len != PQ_CANCEL_REQUEST_LEN)
				break;
			st->cancel_pid = pq_get_uint32(pkt + 8);
			st->cancel_key = pq_get_uint32(pkt + 12);
			return 0;
		default:
			st->kind = PQ_STARTUP_V3;
			return startup_parse_v3(pkt, len, st, err, errlen);
	}
	snprintf(err, errlen, "invalid length of startup packet");
	return -1;
}

void
pq_reader_init(struct pq_reader *r, const uint8_t *body, size_t len)
{
	r->p = body;
	r->len = len;
	r->pos = 0;
	r->bad = false;
}

const uint8_t *
pq_read_bytes(struct pq_reader *r, size_t n)
{
	const uint8_t *p;

	if (r->bad || r->len - r->pos < n)
	{
		r->bad = true;
		return NULL;
	}
	p = r->p + r->pos;
	r->pos += n;
	return p;
}

uint8_t
pq_read_byte(struct pq_reader *r)
{
	const uint8_t *p = pq_read_bytes(r, 1);

	return p ? p[0] : 0;
}

uint32_t
pq_read_int32(struct pq_reader *r)
{
	const uint8_t *p = pq_read_bytes(r, 4);

	return p ? pq_get_uint32(p) : 0;
}

const char *
pq_read_string(struct pq_reader *r)
{
	const uint8_t *nul;
	const char *s;

	if (r->bad || r->pos >= r->len ||
		(nul = memchr(r->p + r->pos, '\0', r->len - r->pos)) == NULL)
	{
		r->bad = true;
		return NULL;
	}
	s = (const char *) r->p + r->pos;
	r->pos = (size_t) (nul - r->p) + 1;
	return s;
}

bool
pq_reader_done(const struct pq_reader *r)
{
	return !r->bad && r->pos == r->len;
}

void
pq_build_init(struct pq_build *b, uint8_t *buf, size_t cap)
{
	b->buf = buf;
	b->cap = cap;
	b->len = 0;
	b->msg_start = 0;
	b->overflow = false;
}

void
pq_build_bytes(struct pq_build *b, const void *p, size_t n)
{
	if (b->overflow || b->cap - b->len < n)
	{
		b->overflow = true;
		return;
	}
	if (n > 0)
		memcpy(b->buf + b->len, p, n);
	b->len += n;
}

void
pq_build_begin(struct pq_build *b, uint8_t type)
{
	static const uint8_t zero[4];

	if (type != 0)
		pq_build_bytes(b, &type, 1);
	b->msg_start = b->len;
	pq_build_bytes(b, zero, 4);
}

void
pq_build_byte(struct pq_build *b, uint8_t v)
{
	pq_build_bytes(b, &v, 1);
}

void
pq_build_int16(struct pq_build *b, uint16_t v)
{
	uint8_t		p[2] = {(uint8_t) (v >> 8), (uint8_t) v};

	pq_build_bytes(b, p, 2);
}

void
pq_build_int32(struct pq_build *b, uint32_t v)
{
	uint8_t		p[4];

	pq_put_uint32(p, v);
	pq_build_bytes(b, p, 4);
}

void
pq_build_string(struct pq_build *b, const char *s)
{
	pq_build_bytes(b, s, strlen(s) + 1);
}

void
pq_build_end(struct pq_build *b)
{
	if (b->overflow)
		return;
	PGQ_ASSERT(b->len - b->msg_start >= 4);
	pq_put_uint32(b->buf + b->msg_start, (uint32_t) (b->len - b->msg_start));
}

void
pq_build_error(struct pq_build *b, uint8_t type, const char *severity,
			   const char *sqlstate, const char *message)
{
	pq_build_begin(b, type);
	pq_build_byte(b, 'S');
	pq_build_string(b, severity);
	pq_build_byte(b, 'V');
	pq_build_string(b, severity);
	pq_build_byte(b, 'C');
	pq_build_string(b, sqlstate);
	pq_build_byte(b, 'M');
	pq_build_string(b, message);
	pq_build_byte(b, 0);
	pq_build_end(b);
}
