/*
 * test_apply_cache.c
 *	  Proves that the applier's prepared-statement cache gives one id per
 *	  shape (text and parameter types both count), asks for a PREPARE only
 *	  the first time, never hands out an id twice, stays findable after
 *	  forgets in the middle of a probe run, stops at its bound instead of
 *	  growing, and starts over after a clear.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "sync/apply_cache.h"

static const uint32_t int4_text[2] = {23, 25};
static const uint32_t int8_text[2] = {20, 25};

static void
test_bad_capacity(void **state)
{
	(void) state;
	assert_null(apply_cache_new(0));
	assert_null(apply_cache_new(12));
	assert_null(apply_cache_new(APPLY_CACHE_MAX * 2));
}

static void
test_same_shape_same_id(void **state)
{
	struct apply_cache *c = apply_cache_new(16);
	bool		fresh;
	uint32_t	a,
				b,
				t;

	(void) state;
	a = apply_cache_get(c, "UPDATE t SET b = $2 WHERE a = $1", 2, int4_text, &fresh);
	assert_int_not_equal(a, 0);
	assert_true(fresh);
	b = apply_cache_get(c, "UPDATE t SET b = $2 WHERE a = $1", 2, int4_text, &fresh);
	assert_int_equal(a, b);
	assert_false(fresh);
	/* other parameter types: another shape */
	t = apply_cache_get(c, "UPDATE t SET b = $2 WHERE a = $1", 2, int8_text, &fresh);
	assert_true(fresh);
	assert_int_not_equal(t, a);
	/* other text */
	b = apply_cache_get(c, "DELETE FROM t WHERE a = $1", 1, int4_text, &fresh);
	assert_true(fresh);
	assert_int_not_equal(b, a);
	assert_int_not_equal(b, t);
	assert_int_equal(apply_cache_count(c), 3);
	apply_cache_free(c);
}

static void
test_forget_keeps_the_rest(void **state)
{
	struct apply_cache *c = apply_cache_new(64);
	char		text[64];
	uint32_t	ids[40];
	bool		fresh;

	(void) state;
	for (int i = 0; i < 40; i++)
	{
		snprintf(text, sizeof(text), "INSERT INTO t%d VALUES ($1, $2)", i);
		ids[i] = apply_cache_get(c, text, 2, int4_text, &fresh);
		assert_true(fresh);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(ids[i], ids[j]);
	}
	for (int i = 0; i < 40; i += 3)
		apply_cache_forget(c, ids[i]);
	for (int i = 0; i < 40; i++)
	{
		snprintf(text, sizeof(text), "INSERT INTO t%d VALUES ($1, $2)", i);
		uint32_t	id = apply_cache_get(c, text, 2, int4_text, &fresh);

		if (i % 3 == 0)
		{
			assert_true(fresh);	/* forgotten: prepared again, new id */
			for (int j = 0; j < 40; j++)
				assert_int_not_equal(id, ids[j]);
		}
		else
		{
			assert_false(fresh);
			assert_int_equal(id, ids[i]);
		}
	}
	apply_cache_free(c);
}

static void
test_bounded_and_clear(void **state)
{
	struct apply_cache *c = apply_cache_new(8);
	char		text[64];
	bool		fresh;
	uint32_t	n = 0;

	(void) state;
	for (int i = 0; i < 20; i++)
	{
		snprintf(text, sizeof(text), "DELETE FROM t%d WHERE a = $1", i);
		if (apply_cache_get(c, text, 1, int4_text, &fresh) != 0)
			n++;
	}
	assert_int_equal(n, 6);		/* three quarters of 8 */
	assert_int_equal(apply_cache_count(c), 6);
	/* held ones are still found when full */
	assert_int_not_equal(apply_cache_get(c, "DELETE FROM t0 WHERE a = $1", 1, int4_text, &fresh), 0);
	assert_false(fresh);
	apply_cache_clear(c);
	assert_int_equal(apply_cache_count(c), 0);
	assert_int_equal(apply_cache_get(c, "DELETE FROM t0 WHERE a = $1", 1, int4_text, &fresh), 1);
	assert_true(fresh);
	apply_cache_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_capacity),
		cmocka_unit_test(test_same_shape_same_id),
		cmocka_unit_test(test_forget_keeps_the_rest),
		cmocka_unit_test(test_bounded_and_clear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
