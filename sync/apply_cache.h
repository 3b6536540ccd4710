/*
 * apply_cache.h
 *	  The applier's prepared-statement cache of one server connection: the
 *	  row statements it runs (txn_apply_sql.h) repeat with every change of
 *	  the same shape (relation, columns, key, parameter types), so each
 *	  shape is prepared once, as "pgq_apply_<id>", and then only executed:
 *	  no parse and no plan per row.  Pure: no libpq; the caller prepares.
 *
 * INTERFACE ROUTINES
 *	apply_cache_new / apply_cache_free
 *	apply_cache_get	   - the id of a statement, and whether to prepare it
 *	apply_cache_forget - an id whose PREPARE failed
 *	apply_cache_clear  - after DEALLOCATE ALL (DDL may change the shapes'
 *						 meaning: a column's type, an inferred type)
 *
 * Bounded: at most `capacity` statements (a power of two, at most
 * APPLY_CACHE_MAX); when full, apply_cache_get returns 0 and the caller
 * runs the statement unprepared.  Texts are copied; nothing is borrowed.
 */
#ifndef SYNC_APPLY_CACHE_H
#define SYNC_APPLY_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#define APPLY_CACHE_MAX 4096
#define APPLY_CACHE_NAME_PREFIX "pgq_apply_"

struct apply_cache;

/* NULL when out of memory or capacity is not a power of two in range. */
struct apply_cache *apply_cache_new(uint32_t capacity);
void		apply_cache_free(struct apply_cache *c);

/*
 * The id (> 0) of text with parameter types[0..n_params); *fresh is true
 * when the id is new and the statement must be prepared under it first.
 * 0 when the cache is full or out of memory (run it unprepared).
 */
uint32_t	apply_cache_get(struct apply_cache *c, const char *text, int n_params,
							const uint32_t *types, bool *fresh);
/* Drop id (its PREPARE failed, so the server does not have it). */
void		apply_cache_forget(struct apply_cache *c, uint32_t id);
/* Drop everything (the server's statements were deallocated). */
void		apply_cache_clear(struct apply_cache *c);
/* Number of statements held. */
uint32_t	apply_cache_count(const struct apply_cache *c);

#endif							/* SYNC_APPLY_CACHE_H */
