/*
 * txn_apply_sql.h
 *	  The SQL an applier runs for a captured change: parameterized
 *	  statements for PQexecParams, so no value is ever quoted into SQL
 *	  text.  Pure: no libpq (the arrays have the types PQexecParams takes).
 *
 * INTERFACE ROUTINES
 *	txn_sql_init / txn_sql_free
 *	txn_sql_change	  - one row change, TRUNCATE or DDL of a chunk
 *	txn_sql_sequence  - move a sequence to a logged position
 *	txn_sql_statement - a STATEMENT entry's text
 *
 * Statements (identifiers double-quoted, "" inside doubled):
 *	INSERT INTO "s"."t" ("a", "b") OVERRIDING SYSTEM VALUE VALUES ($1, $2)
 *	UPDATE ONLY "s"."t" SET "b" = $1 WHERE "a" = $2
 *		SET skips unchanged-TOAST columns; WHERE uses the key columns of the
 *		old key tuple, or of the new tuple when the key did not change.
 *	DELETE FROM ONLY "s"."t" WHERE "a" = $1
 *	REPLICA IDENTITY FULL (old tuple 'O'): one row, matched on every old
 *	column ("c" = $n, or "c" IS NULL), since rows may be duplicates:
 *		UPDATE ONLY "s"."t" SET ... WHERE ctid = (SELECT ctid FROM ONLY
 *		"s"."t" WHERE "a" = $2 AND "b" IS NULL LIMIT 1)
 *	TRUNCATE ONLY "s"."a", ONLY "s"."b" [RESTART IDENTITY]
 *		CASCADE is not repeated: pgoutput lists every relation the
 *		primary's CASCADE reached.
 *	DDL and STATEMENT text as is; sequences:
 *	SELECT pg_catalog.setval(pg_catalog.format('%I.%I', $1::text,
 *		$2::text)::regclass, $3::bigint, true)
 *
 * Parameters: text values in text format, binary ones in binary format,
 * NULL as a NULL pointer.  A parameter's type is the column's type oid
 * when it is a built-in type (oid < TXN_SQL_FIRST_NORMAL_OID, the same on
 * every server), else 0 so that the server infers it from the column:
 * user-defined types have different oids on different servers.
 * expect_rows is 1 for UPDATE and DELETE (an applier that sees another
 * count has diverged and must stop), -1 otherwise.  reusable is true for
 * INSERT, UPDATE and DELETE (sync/apply_cache.h).
 *
 * Values must be in the text form that the capture's session settings
 * produce (DateStyle ISO, IntervalStyle postgres, extra_float_digits 3),
 * which any session parses back.
 *
 * OWNERSHIP: the statement, values and arrays belong to the txn_sql and
 * stay valid until its next use or txn_sql_free.
 */
#ifndef SYNC_TXN_APPLY_SQL_H
#define SYNC_TXN_APPLY_SQL_H

#include <stdint.h>

#include "common/pgq_buf.h"
#include "sync/txn_codec.h"

#define TXN_SQL_MAX_PARAMS		(2 * TXN_MAX_COLS)
#define TXN_SQL_FIRST_NORMAL_OID 16384	/* PostgreSQL FirstNormalObjectId */
#define TXN_SQL_TEXT_BYTES_MAX	(TXN_ENTRY_MAX_BYTES + (UINT32_C(1) << 20))

struct txn_sql
{
	struct pgq_buf text;		/* the statement, NUL-terminated */
	struct pgq_buf data;		/* parameter values, each NUL-terminated */
	int			n_params;
	const char **values;		/* [TXN_SQL_MAX_PARAMS] */
	int		   *lengths;
	int		   *formats;		/* 0 text, 1 binary */
	uint32_t   *types;			/* Oid */
	size_t	   *offsets;		/* into data; SIZE_MAX for NULL */
	int			expect_rows;
	bool		reusable;		/* a row statement: its text is the same for
								 * every change of its shape (relation,
								 * columns, key), so it may be prepared once */
};

/* Returns false on out of memory. */
bool		txn_sql_init(struct txn_sql *s);
void		txn_sql_free(struct txn_sql *s);
/* The statement text (NUL-terminated). */
const char *txn_sql_text(const struct txn_sql *s);

/*
 * Build the statement for change c of chunk e.  Returns NULL, or a static
 * message (a name with a NUL byte, a missing key value, out of memory).
 */
const char *txn_sql_change(struct txn_sql *s, const struct txn_entry *e,
						   const struct txn_change *c);
const char *txn_sql_sequence(struct txn_sql *s, const struct txn_sequence *seq);
const char *txn_sql_statement(struct txn_sql *s, const struct txn_entry *e);

#endif							/* SYNC_TXN_APPLY_SQL_H */
