/*
 * sync_config.c
 *	  Membership (config entry) codec and names for logs.
 *
 * Config entry payload format (little endian):
 *	 offset 0: uint32 n (1..SYNC_MAX_NODES)
 *	 then n times: uint64 id (nonzero, distinct), uint8 role (1 voter, 2 learner)
 */
#include "config.h"

#include <string.h>

#include "common/pgq_assert.h"
#include "sync/core/sync_core.h"

static void
put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t) p[i] << (8 * i);
	return v;
}

uint32_t
sync_config_encode(const struct sync_config *cfg, uint8_t *buf, uint32_t cap)
{
	uint32_t	need = 4 + cfg->n * 9;

	PGQ_ASSERT(cfg->n <= SYNC_MAX_NODES);
	if (cap < need)
		return 0;
	for (int i = 0; i < 4; i++)
		buf[i] = (uint8_t) (cfg->n >> (8 * i));
	for (uint32_t i = 0; i < cfg->n; i++)
	{
		put_u64(buf + 4 + i * 9, cfg->nodes[i].id);
		buf[4 + i * 9 + 8] = (uint8_t) cfg->nodes[i].role;
	}
	return need;
}

bool
sync_config_decode(const void *buf, uint32_t len, struct sync_config *cfg)
{
	const uint8_t *p = buf;
	uint32_t	n;

	if (len < 4)
		return false;
	n = (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
		(uint32_t) p[3] << 24;
	if (n == 0 || n > SYNC_MAX_NODES || len != 4 + n * 9)
		return false;
	memset(cfg, 0, sizeof(*cfg));
	for (uint32_t i = 0; i < n; i++)
	{
		uint64_t	id = get_u64(p + 4 + i * 9);
		uint8_t		role = p[4 + i * 9 + 8];

		if (id == 0 || (role != SYNC_VOTER && role != SYNC_LEARNER) ||
			sync_config_find(cfg, id) != NULL)
			return false;
		cfg->nodes[i].id = id;
		cfg->nodes[i].role = role;
		cfg->n = i + 1;
	}
	return true;
}

const struct sync_member *
sync_config_find(const struct sync_config *cfg, uint64_t id)
{
	for (uint32_t i = 0; i < cfg->n; i++)
		if (cfg->nodes[i].id == id)
			return &cfg->nodes[i];
	return NULL;
}

uint32_t
sync_config_voters(const struct sync_config *cfg)
{
	uint32_t	n = 0;

	for (uint32_t i = 0; i < cfg->n; i++)
		n += cfg->nodes[i].role == SYNC_VOTER;
	return n;
}

const char *
sync_msg_type_name(uint32_t type)
{
	static const char *const names[] = {
		[SYNC_MSG_APPEND] = "APPEND",
		[SYNC_MSG_APPEND_RESP] = "APPEND_RESP",
		[SYNC_MSG_VOTE] = "VOTE",
		[SYNC_MSG_VOTE_RESP] = "VOTE_RESP",
		[SYNC_MSG_PRE_VOTE] = "PRE_VOTE",
		[SYNC_MSG_PRE_VOTE_RESP] = "PRE_VOTE_RESP",
		[SYNC_MSG_TIMEOUT_NOW] = "TIMEOUT_NOW",
		[SYNC_MSG_READ_INDEX] = "READ_INDEX",
		[SYNC_MSG_READ_INDEX_RESP] = "READ_INDEX_RESP",
	};

	if (type >= PGQ_LENGTHOF(names) || names[type] == NULL)
		return "?";
	return names[type];
}

const char *
sync_role_name(uint32_t role)
{
	switch (role)
	{
		case SYNC_SECONDARY:
			return "secondary";
		case SYNC_PRE_CANDIDATE:
			return "pre-candidate";
		case SYNC_CANDIDATE:
			return "candidate";
		case SYNC_PRIMARY:
			return "primary";
	}
	return "?";
}

const char *
sync_err_name(int err)
{
	switch (err)
	{
#define SYNC_ERR_CASE(name, code, text) case name: return text;
			SYNC_ERRORS(SYNC_ERR_CASE)
#undef SYNC_ERR_CASE
	}
	return "unknown error";
}
