/*
 * apply_cache.c
 *	  Prepared-statement cache of an applier connection.  See apply_cache.h.
 *
 * Open addressing with linear probing over `capacity` slots, filled to at
 * most three quarters, so a probe always ends at an empty slot; removal
 * (forget) re-inserts the run after the removed slot.  Ids grow from 1
 * and are never reused until a clear, so a forgotten id never names a
 * later statement.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "sync/apply_cache.h"

struct slot
{
	uint64_t	hash;
	uint32_t	id;				/* 0: empty */
	int			n_params;
	char	   *key;			/* owned: types, then the text, NUL-ended */
	size_t		key_len;
};

struct apply_cache
{
	uint32_t	capacity;
	uint32_t	count;
	uint32_t	next_id;
	struct slot *slots;
};

/* FNV-1a, 64 bits. */
static uint64_t
hash_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * UINT64_C(0x100000001b3);
	return h;
}

struct apply_cache *
apply_cache_new(uint32_t capacity)
{
	struct apply_cache *c;

	if (capacity < 4 || capacity > APPLY_CACHE_MAX || (capacity & (capacity - 1)) != 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->slots = calloc(capacity, sizeof(*c->slots));
	if (c->slots == NULL)
	{
		free(c);
		return NULL;
	}
	c->capacity = capacity;
	c->next_id = 1;
	return c;
}

void
apply_cache_clear(struct apply_cache *c)
{
	for (uint32_t i = 0; i < c->capacity; i++)
		free(c->slots[i].key);
	memset(c->slots, 0, c->capacity * sizeof(*c->slots));
	c->count = 0;
	c->next_id = 1;
}

void
apply_cache_free(struct apply_cache *c)
{
	if (c == NULL)
		return;
	apply_cache_clear(c);
	free(c->slots);
	free(c);
}

uint32_t
apply_cache_count(const struct apply_cache *c)
{
	return c->count;
}

static bool
slot_matches(const struct slot *s, uint64_t hash, int n_params, const uint32_t *types,
			 const char *text, size_t text_len)
{
	size_t		tlen = (size_t) n_params * sizeof(uint32_t);

	return s->hash == hash && s->n_params == n_params && s->key_len == tlen + text_len &&
		memcmp(s->key, types, tlen) == 0 && memcmp(s->key + tlen, text, text_len) == 0;
}

uint32_t
apply_cache_get(struct apply_cache *c, const char *text, int n_params,
				const uint32_t *types, bool *fresh)
{
	size_t		text_len = strlen(text);
	size_t		tlen = (size_t) n_params * sizeof(uint32_t);
	uint64_t	hash = hash_bytes(hash_bytes(UINT64_C(0xcbf29ce484222325), types, tlen),
								  text, text_len);
	uint32_t	mask = c->capacity - 1;
	uint32_t	i = (uint32_t) hash & mask;
	struct slot *s;

	PGQ_ASSERT(n_params >= 0 && (n_params == 0 || types != NULL));
	*fresh = false;
	for (; c->slots[i].id != 0; i = (i + 1) & mask)
		if (slot_matches(&c->slots[i], hash, n_params, types, text, text_len))
			return c->slots[i].id;
	if ((c->count + 1) * 4 > c->capacity * 3)
		return 0;				/* full */
	s = &c->slots[i];
	s->key = malloc(tlen + text_len + 1);
	if (s->key == NULL)
		return 0;
	memcpy(s->key, types, tlen);
	memcpy(s->key + tlen, text, text_len + 1);
	s->key_len = tlen + text_len;
	s->hash = hash;
	s->n_params = n_params;
	s->id = c->next_id++;
	c->count++;
	*fresh = true;
	return s->id;
}

/* Put the slots of the probe run after `hole` back where a probe finds them. */
static void
close_hole(struct apply_cache *c, uint32_t hole)
{
	uint32_t	mask = c->capacity - 1;

	for (uint32_t i = (hole + 1) & mask; c->slots[i].id != 0; i = (i + 1) & mask)
	{
		struct slot s = c->slots[i];
		uint32_t	j = (uint32_t) s.hash & mask;

		memset(&c->slots[i], 0, sizeof(c->slots[i]));
		while (c->slots[j].id != 0)
			j = (j + 1) & mask;
		c->slots[j] = s;
	}
}

void
apply_cache_forget(struct apply_cache *c, uint32_t id)
{
	for (uint32_t i = 0; i < c->capacity; i++)
	{
		if (c->slots[i].id != id)
			continue;
		free(c->slots[i].key);
		memset(&c->slots[i], 0, sizeof(c->slots[i]));
		c->count--;
		close_hole(c, i);
		return;
	}
}
