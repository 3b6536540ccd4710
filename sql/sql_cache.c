/*
 * sql_cache.c
 *	  Bounded cache of classification results, two keys deep.
 *
 * 1. Exact text: a 64-bit hash of the query text, confirmed by comparing
 *    the stored text (texts up to SQL_CACHE_MAX_TEXT bytes).  A hit costs a
 *    hash and a memcmp (well under a microsecond).
 * 2. Fingerprint: libpg_query's fingerprint, which ignores constants, so
 *    "... WHERE aid = 17" and "... WHERE aid = 42" share one entry.  The
 *    fingerprint parses too but builds no protobuf: measured 4-5x cheaper
 *    than pg_query_parse_protobuf + unpack (docs/sql.md).  Only results of
 *    a single statement whose classification read no constant's value
 *    (EXPLAIN (ANALYZE 0), BEGIN READ ONLY, WITH (create_slot = false))
 *    are stored under their fingerprint.
 *
 * On a full miss the text is parsed and classified and the result stored
 * under both keys when eligible.  Entries live in one array of `capacity`
 * slots, chained from a power-of-two bucket array; eviction is CLOCK
 * (second chance): a new entry starts unreferenced, a hit marks it, so a
 * stream of one-off texts (literals in every query) evicts itself first.
 * Not thread-safe: one event loop owns a cache.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "common/pgq_assert.h"
#include "sql/sql_int.h"

enum entry_kind
{
	ENTRY_FREE = 0,
	ENTRY_TEXT,
	ENTRY_FINGERPRINT
};

typedef struct cache_entry
{
	uint64_t	hash;
	uint8_t		kind;			/* enum entry_kind */
	uint8_t		referenced;		/* CLOCK bit */
	int32_t		next;			/* next entry in the bucket chain, -1 */
	char	   *text;			/* owned; ENTRY_TEXT only */
	size_t		text_len;
	sql_result	result;			/* owned */
} cache_entry;

struct sql_cache
{
	sql_options opts;
	uint32_t	capacity;
	uint32_t	used;
	uint32_t	hand;			/* CLOCK hand */
	uint32_t	bucket_mask;
	int32_t    *buckets;		/* head entry index per bucket, -1 */
	cache_entry *entries;
	sql_result	scratch;		/* last uncached result, owned */
	sql_result	no_memory;		/* returned when allocation fails */
	sql_cache_stats stats;
};

/* ---- hashing ---- */

static uint64_t
mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	return h ^ (h >> 33);
}

static uint64_t
hash_text(const char *s, size_t len)
{
	uint64_t	h = UINT64_C(0x9e3779b97f4a7c15) ^ len;
	size_t		i = 0;

	for (; i + 8 <= len; i += 8)
	{
		uint64_t	w;

		memcpy(&w, s + i, 8);
		h = (h ^ w) * UINT64_C(0x100000001b3);
		h ^= h >> 29;
	}
	for (; i < len; i++)
		h = (h ^ (unsigned char) s[i]) * UINT64_C(0x100000001b3);
	return mix64(h) ^ ENTRY_TEXT;
}

static uint64_t
hash_fingerprint(uint64_t fp)
{
	return mix64(fp) ^ ENTRY_FINGERPRINT;
}

/* ---- result copies ---- */

static bool
result_copy(sql_result *dst, const sql_result *src)
{
	*dst = *src;
	dst->stmts = NULL;
	dst->error_message = NULL;
	if (src->n_stmts > 0)
	{
		dst->stmts = malloc(src->n_stmts * sizeof(sql_stmt));
		if (dst->stmts == NULL)
			return false;
		memcpy(dst->stmts, src->stmts, src->n_stmts * sizeof(sql_stmt));
	}
	if (src->error_message != NULL)
	{
		dst->error_message = strdup(src->error_message);
		if (dst->error_message == NULL)
		{
			sql_result_reset(dst);
			return false;
		}
	}
	return true;
}

/* ---- create, free ---- */

sql_cache *
sql_cache_new(uint32_t capacity, const sql_options *opts)
{
	sql_cache  *c;
	uint32_t	n_buckets = 1;

	PGQ_ASSERT(capacity >= 1 && capacity <= SQL_CACHE_MAX_CAPACITY);
	while (n_buckets < 2 * capacity)
		n_buckets <<= 1;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->entries = calloc(capacity, sizeof(cache_entry));
	c->buckets = malloc(n_buckets * sizeof(int32_t));
	if (c->entries == NULL || c->buckets == NULL)
	{
		free(c->entries);
		free(c->buckets);
		free(c);
		return NULL;
	}
	for (uint32_t i = 0; i < n_buckets; i++)
		c->buckets[i] = -1;
	if (opts != NULL)
		c->opts = *opts;
	c->capacity = capacity;
	c->bucket_mask = n_buckets - 1;
	c->no_memory.status = SQL_STATUS_NO_MEMORY;
	c->no_memory.cls = SQL_CLASS_MAY_WRITE;
	return c;
}

static void
entry_release(cache_entry *e)
{
	free(e->text);
	sql_result_reset(&e->result);
	memset(e, 0, sizeof(*e));
}

void
sql_cache_clear(sql_cache *c)
{
	for (uint32_t i = 0; i < c->capacity; i++)
		if (c->entries[i].kind != ENTRY_FREE)
			entry_release(&c->entries[i]);
	for (uint32_t i = 0; i <= c->bucket_mask; i++)
		c->buckets[i] = -1;
	c->used = 0;
	c->hand = 0;
	sql_result_reset(&c->scratch);
}

void
sql_cache_free(sql_cache *c)
{
	if (c == NULL)
		return;
	sql_cache_clear(c);
	free(c->entries);
	free(c->buckets);
	free(c);
}

void
sql_cache_get_stats(const sql_cache *c, sql_cache_stats *out)
{
	*out = c->stats;
	out->entries = c->used;
	out->capacity = c->capacity;
}

/* ---- lookup, insert, evict ---- */

static cache_entry *
find(sql_cache *c, uint64_t hash, const char *text, size_t len)
{
	for (int32_t i = c->buckets[hash & c->bucket_mask]; i >= 0;
		 i = c->entries[i].next)
	{
		cache_entry *e = &c->entries[i];

		if (e->hash != hash)
			continue;
		if (text == NULL ? e->kind == ENTRY_FINGERPRINT :
			(e->kind == ENTRY_TEXT && e->text_len == len &&
			 memcmp(e->text, text, len) == 0))
			return e;
	}
	return NULL;
}

static void
unlink_entry(sql_cache *c, int32_t idx)
{
	int32_t    *link = &c->buckets[c->entries[idx].hash & c->bucket_mask];

	while (*link != idx)
	{
		PGQ_ASSERT(*link >= 0);
		link = &c->entries[*link].next;
	}
	*link = c->entries[idx].next;
}

/* Index of a free slot, evicting with CLOCK when the cache is full. */
static int32_t
take_slot(sql_cache *c)
{
	if (c->used < c->capacity)
	{
		for (uint32_t i = 0; i < c->capacity; i++)
		{
			uint32_t	idx = (c->hand + i) % c->capacity;

			if (c->entries[idx].kind == ENTRY_FREE)
				return (int32_t) idx;
		}
		PGQ_UNREACHABLE();
	}
	for (;;)
	{
		cache_entry *e = &c->entries[c->hand];
		int32_t		idx = (int32_t) c->hand;

		c->hand = (c->hand + 1) % c->capacity;
		if (e->referenced)
		{
			e->referenced = 0;
			continue;
		}
		unlink_entry(c, idx);
		entry_release(e);
		c->used--;
		c->stats.evictions++;
		return idx;
	}
}

/*
 * Store a copy of r under hash (and text, for ENTRY_TEXT); NULL on OOM.
 * r may live in an entry that this insert evicts: it is copied first.
 */
static const sql_result *
insert(sql_cache *c, uint64_t hash, const char *text, size_t len,
	   const sql_result *r)
{
	sql_result	copy;
	char	   *text_copy = NULL;
	int32_t		idx;
	cache_entry *e;

	if (!result_copy(&copy, r))
		return NULL;
	if (text != NULL && (text_copy = malloc(len + 1)) == NULL)
	{
		sql_result_reset(&copy);
		return NULL;
	}
	if (text != NULL)
		memcpy(text_copy, text, len + 1);
	idx = take_slot(c);
	e = &c->entries[idx];
	e->result = copy;
	e->text = text_copy;
	e->kind = text != NULL ? ENTRY_TEXT : ENTRY_FINGERPRINT;
	e->referenced = 0;
	e->hash = hash;
	e->text_len = len;
	e->next = c->buckets[hash & c->bucket_mask];
	c->buckets[hash & c->bucket_mask] = idx;
	c->used++;
	return &e->result;
}

/* Hand out r: under the text key when it fits, else from scratch. */
static const sql_result *
store_text_or_scratch(sql_cache *c, uint64_t th, const char *q, size_t len,
					  sql_result *r, bool owned)
{
	const sql_result *stored = NULL;

	if (len <= SQL_CACHE_MAX_TEXT)
		stored = insert(c, th, q, len, r);
	if (stored != NULL)
	{
		if (owned)
			sql_result_reset(r);
		return stored;
	}
	c->stats.uncacheable++;
	if (owned)
	{
		c->scratch = *r;
		return &c->scratch;
	}
	return result_copy(&c->scratch, r) ? &c->scratch : &c->no_memory;
}

static const sql_result *
classify_miss(sql_cache *c, const char *q, size_t len, uint64_t th,
			  uint64_t fph, bool have_fp)
{
	sql_result	r;
	bool		literal_sensitive;

	c->stats.misses++;
	if (sql_classify_ex(q, &c->opts, &r, &literal_sensitive) ==
		SQL_STATUS_NO_MEMORY)
	{
		sql_result_reset(&r);
		return &c->no_memory;
	}
	if (have_fp && r.status == SQL_STATUS_OK && r.n_stmts == 1 &&
		!literal_sensitive && find(c, fph, NULL, 0) == NULL)
		(void) insert(c, fph, NULL, 0, &r);
	return store_text_or_scratch(c, th, q, len, &r, true);
}

static const sql_result *
classify_fingerprint(sql_cache *c, const char *q, size_t len, uint64_t th)
{
	PgQueryFingerprintResult fp = pg_query_fingerprint(q);
	const cache_entry *e;
	uint64_t	fph;

	if (fp.error != NULL)
	{
		sql_result	r;

		c->stats.misses++;
		sql_result_parse_error(&r, fp.error->message, fp.error->cursorpos);
		pg_query_free_fingerprint_result(fp);
		if (r.status == SQL_STATUS_NO_MEMORY)
			return &c->no_memory;
		return store_text_or_scratch(c, th, q, len, &r, true);
	}
	fph = hash_fingerprint(fp.fingerprint);
	pg_query_free_fingerprint_result(fp);
	e = find(c, fph, NULL, 0);
	if (e == NULL)
		return classify_miss(c, q, len, th, fph, true);
	c->stats.hits_fingerprint++;
	c->entries[e - c->entries].referenced = 1;
	return store_text_or_scratch(c, th, q, len, (sql_result *) &e->result,
								 false);
}

const sql_result *
sql_cache_classify(sql_cache *c, const char *query)
{
	size_t		len;
	uint64_t	th = 0;
	cache_entry *e;

	PGQ_ASSERT(c != NULL && query != NULL);
	sql_result_reset(&c->scratch);
	len = strlen(query);
	if (len <= SQL_CACHE_MAX_TEXT)
	{
		th = hash_text(query, len);
		e = find(c, th, query, len);
		if (e != NULL)
		{
			c->stats.hits_text++;
			e->referenced = 1;
			return &e->result;
		}
	}
	return classify_fingerprint(c, query, len, th);
}
