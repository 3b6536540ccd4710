/*
 * sql_names.c
 *	  Names of classes, sub-kinds and flags, for logs, error messages and
 *	  the admin views.
 */
#include "config.h"

#include "common/pgq_assert.h"
#include "sql/sql_classify.h"

static const char *const class_names[SQL_CLASS_COUNT] = {
	[SQL_CLASS_NONE] = "none",
	[SQL_CLASS_READ_ONLY] = "read_only",
	[SQL_CLASS_SESSION_STATE] = "session_state",
	[SQL_CLASS_TXN_CONTROL] = "txn_control",
	[SQL_CLASS_MAY_WRITE] = "may_write",
	[SQL_CLASS_DDL] = "ddl",
	[SQL_CLASS_NO_TXN_BLOCK] = "no_txn_block",
};

static const char *const txn_names[SQL_TXN_COUNT] = {
	[SQL_TXN_NONE] = "none",
	[SQL_TXN_BEGIN] = "begin",
	[SQL_TXN_COMMIT] = "commit",
	[SQL_TXN_ROLLBACK] = "rollback",
	[SQL_TXN_SAVEPOINT] = "savepoint",
	[SQL_TXN_RELEASE] = "release",
	[SQL_TXN_ROLLBACK_TO] = "rollback_to",
	[SQL_TXN_PREPARE] = "prepare_transaction",
	[SQL_TXN_COMMIT_PREPARED] = "commit_prepared",
	[SQL_TXN_ROLLBACK_PREPARED] = "rollback_prepared",
};

static const char *const session_names[SQL_SESSION_COUNT] = {
	[SQL_SESSION_NONE] = "none",
	[SQL_SESSION_SET] = "set",
	[SQL_SESSION_RESET] = "reset",
	[SQL_SESSION_SHOW] = "show",
	[SQL_SESSION_PREPARE] = "prepare",
	[SQL_SESSION_EXECUTE] = "execute",
	[SQL_SESSION_DEALLOCATE] = "deallocate",
	[SQL_SESSION_LISTEN] = "listen",
	[SQL_SESSION_UNLISTEN] = "unlisten",
	[SQL_SESSION_NOTIFY] = "notify",
	[SQL_SESSION_DISCARD] = "discard",
	[SQL_SESSION_DECLARE] = "declare",
	[SQL_SESSION_FETCH] = "fetch",
	[SQL_SESSION_CLOSE] = "close",
	[SQL_SESSION_LOAD] = "load",
	[SQL_SESSION_CHECKPOINT] = "checkpoint",
	[SQL_SESSION_SET_CONSTRAINTS] = "set_constraints",
};

/* Human-readable, for "cannot replicate: <name>" messages. */
static const char *const flag_names[SQL_F_COUNT_BITS] = {
	"cannot_prepare", "temporary object", "LISTEN/NOTIFY",
	"cursor WITH HOLD", "exported snapshot", "system catalog",
	"large object", "sequence", "pgquorum schema", "role password",
	"no transaction block", "function of unknown volatility",
	"read-only transaction", "AND CHAIN", "set_config()",
	"pgquorum setting", "nesting too deep", "pg_logical_emit_message()",
};

const char *
sql_class_name(sql_class cls)
{
	return (unsigned) cls < SQL_CLASS_COUNT ? class_names[cls] : "?";
}

const char *
sql_txn_kind_name(sql_txn_kind kind)
{
	return (unsigned) kind < SQL_TXN_COUNT ? txn_names[kind] : "?";
}

const char *
sql_session_kind_name(sql_session_kind kind)
{
	return (unsigned) kind < SQL_SESSION_COUNT ? session_names[kind] : "?";
}

const char *
sql_flag_name(uint32_t flag)
{
	if (flag == 0 || (flag & (flag - 1)) != 0)
		return "?";
	for (int i = 0; i < SQL_F_COUNT_BITS; i++)
		if (flag == 1u << i)
			return flag_names[i];
	return "?";
}
