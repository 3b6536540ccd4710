/*
 * fuzz_sql_admin_cmd.c
 *	  libFuzzer target: any byte string, as a Query or Parse text, is
 *	  looked at by sql_admin_cmd_parse without a crash, a leak or undefined
 *	  behaviour, and the command it returns is consistent: a CALL names a
 *	  known function with its number of arguments, INVALID has a SQLSTATE
 *	  and a message, SET has a value, names are NUL-terminated.  Bytes
 *	  0x01..0x03 expand to "pgquorum.", " transfer_leadership(" and
 *	  " read_consistency" so the interesting paths are reached often.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "sql/sql_admin_cmd.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const words[] = {"", "pgquorum.", " transfer_leadership(",
" read_consistency"};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *q = malloc(size * 24 + 1);
	size_t		k = 0;
	sql_admin_cmd c;

	if (q == NULL)
		return 0;
	for (size_t i = 0; i < size; i++)
	{
		if (data[i] == 0)
			continue;
		if (data[i] < 4)
		{
			memcpy(q + k, words[data[i]], strlen(words[data[i]]));
			k += strlen(words[data[i]]);
		}
		else
			q[k++] = (char) data[i];
	}
	q[k] = '\0';
	switch (sql_admin_cmd_parse(q, &c))
	{
		case SQL_ADMIN_CMD_CALL:
			PGQ_ASSERT((unsigned) c.fn < SQL_ADMIN_FN_COUNT);
			PGQ_ASSERT(strcmp(c.fn_name, sql_admin_fn_name(c.fn)) == 0);
			PGQ_ASSERT(c.n_args >= 1 && c.n_args <= SQL_ADMIN_CMD_MAX_ARGS);
			break;
		case SQL_ADMIN_CMD_INVALID:
			PGQ_ASSERT(c.sqlstate != NULL && strlen(c.sqlstate) == 5);
			PGQ_ASSERT(memchr(c.error, '\0', sizeof(c.error)) != NULL && c.error[0]);
			break;
		case SQL_ADMIN_CMD_SET:
			PGQ_ASSERT(memchr(c.value, '\0', sizeof(c.value)) != NULL);
			/* FALLTHROUGH */
		case SQL_ADMIN_CMD_RESET:
		case SQL_ADMIN_CMD_SHOW:
			PGQ_ASSERT(c.setting[0] != '\0' &&
					   memchr(c.setting, '\0', sizeof(c.setting)) != NULL);
			break;
		case SQL_ADMIN_CMD_NONE:
			break;
	}
	free(q);
	return 0;
}
