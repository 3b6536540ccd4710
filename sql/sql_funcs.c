/*
 * sql_funcs.c
 *	  The built-in function table: what an unqualified or pg_catalog-
 *	  qualified function call does, without a catalog.
 *
 * Policy (docs/sql.md, "Functions"): a name is READ when every built-in
 * function of that name is immutable or stable, or volatile without writing
 * data (random, clock_timestamp, pg_sleep, setseed, set_config: the last
 * only changes session state, reported as SQL_F_CHANGES_SESSION).  WRITE
 * names write data (nextval, setval, lo_*) or have a side effect that must
 * happen where the transaction runs (pg_notify).  Everything else is
 * UNKNOWN and left to the caller's volatility callback; unknown in the end
 * means may-write.  Advisory locks (pg_advisory_lock ...) and
 * txid_current()/pg_current_xact_id() (assigns an xid) stay UNKNOWN on
 * purpose, so they run on the primary.
 *
 * A user function with the same name as a built-in one, taking other
 * argument types, is judged as the built-in one: an accepted limit.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "sql/sql_int.h"

#define R SQL_FUNC_READ
#define W SQL_FUNC_WRITE

typedef struct func_entry
{
	const char *name;
	sql_func_effect effect;
	uint32_t	flags;
} func_entry;

/* Sorted by strcmp (bsearch); test_sql_classify checks the order. */
static const func_entry funcs[] = {
	{"abs", R, 0},
	{"acos", R, 0},
	{"age", R, 0},
	{"array_agg", R, 0},
	{"array_length", R, 0},
	{"array_lower", R, 0},
	{"array_position", R, 0},
	{"array_positions", R, 0},
	{"array_to_string", R, 0},
	{"array_upper", R, 0},
	{"ascii", R, 0},
	{"asin", R, 0},
	{"atan", R, 0},
	{"atan2", R, 0},
	{"avg", R, 0},
	{"bit_and", R, 0},
	{"bit_length", R, 0},
	{"bit_or", R, 0},
	{"bool_and", R, 0},
	{"bool_or", R, 0},
	{"btrim", R, 0},
	{"cardinality", R, 0},
	{"cbrt", R, 0},
	{"ceil", R, 0},
	{"ceiling", R, 0},
	{"char_length", R, 0},
	{"character_length", R, 0},
	{"chr", R, 0},
	{"clock_timestamp", R, 0},
	{"coalesce", R, 0},
	{"col_description", R, 0},
	{"concat", R, 0},
	{"concat_ws", R, 0},
	{"corr", R, 0},
	{"cos", R, 0},
	{"count", R, 0},
	{"cume_dist", R, 0},
	{"current_database", R, 0},
	{"current_query", R, 0},
	{"current_schema", R, 0},
	{"current_schemas", R, 0},
	{"current_setting", R, 0},
	{"currval", R, SQL_F_USES_SEQUENCE},
	{"date_part", R, 0},
	{"date_trunc", R, 0},
	{"decode", R, 0},
	{"degrees", R, 0},
	{"dense_rank", R, 0},
	{"div", R, 0},
	{"encode", R, 0},
	{"every", R, 0},
	{"exp", R, 0},
	{"extract", R, 0},
	{"first_value", R, 0},
	{"floor", R, 0},
	{"format", R, 0},
	{"format_type", R, 0},
	{"gen_random_uuid", R, 0},
	{"generate_series", R, 0},
	{"generate_subscripts", R, 0},
	{"greatest", R, 0},
	{"has_any_column_privilege", R, 0},
	{"has_column_privilege", R, 0},
	{"has_database_privilege", R, 0},
	{"has_foreign_data_wrapper_privilege", R, 0},
	{"has_function_privilege", R, 0},
	{"has_language_privilege", R, 0},
	{"has_schema_privilege", R, 0},
	{"has_sequence_privilege", R, 0},
	{"has_server_privilege", R, 0},
	{"has_table_privilege", R, 0},
	{"has_tablespace_privilege", R, 0},
	{"has_type_privilege", R, 0},
	{"inet_client_addr", R, 0},
	{"inet_server_addr", R, 0},
	{"inet_server_port", R, 0},
	{"initcap", R, 0},
	{"isfinite", R, 0},
	{"justify_days", R, 0},
	{"justify_hours", R, 0},
	{"justify_interval", R, 0},
	{"lag", R, 0},
	{"last_value", R, 0},
	{"lastval", R, SQL_F_USES_SEQUENCE},
	{"lead", R, 0},
	{"least", R, 0},
	{"left", R, 0},
	{"length", R, 0},
	{"ln", R, 0},
	{"lo_close", W, SQL_F_USES_LARGE_OBJECT},
	{"lo_creat", W, SQL_F_USES_LARGE_OBJECT},
	{"lo_create", W, SQL_F_USES_LARGE_OBJECT},
	{"lo_export", W, SQL_F_USES_LARGE_OBJECT},
	{"lo_from_bytea", W, SQL_F_USES_LARGE_OBJECT},
	{"lo_get", W, SQL_F_USES_LARGE_OBJECT},
	{"lo_import", W, SQL_F_USES_LARGE_OBJECT},
	{"lo_lseek", W, SQL_F_USES_LARGE_OBJECT},
	{"lo_lseek64", W, SQL_F_USES_LARGE_OBJECT},
	{"lo_open", W, SQL_F_USES_LARGE_OBJECT},
	{"lo_put", W, SQL_F_USES_LARGE_OBJECT},
	{"lo_tell", W, SQL_F_USES_LARGE_OBJECT},
	{"lo_tell64", W, SQL_F_USES_LARGE_OBJECT},
	{"lo_truncate", W, SQL_F_USES_LARGE_OBJECT},
	{"lo_truncate64", W, SQL_F_USES_LARGE_OBJECT},
	{"lo_unlink", W, SQL_F_USES_LARGE_OBJECT},
	{"localtime", R, 0},
	{"localtimestamp", R, 0},
	{"log", R, 0},
	{"log10", R, 0},
	{"loread", W, SQL_F_USES_LARGE_OBJECT},
	{"lower", R, 0},
	{"lowrite", W, SQL_F_USES_LARGE_OBJECT},
	{"lpad", R, 0},
	{"ltrim", R, 0},
	{"make_date", R, 0},
	{"make_interval", R, 0},
	{"make_time", R, 0},
	{"make_timestamp", R, 0},
	{"make_timestamptz", R, 0},
	{"max", R, 0},
	{"md5", R, 0},
	{"min", R, 0},
	{"mod", R, 0},
	{"mode", R, 0},
	{"nextval", W, SQL_F_USES_SEQUENCE},
	{"now", R, 0},
	{"nth_value", R, 0},
	{"ntile", R, 0},
	{"nullif", R, 0},
	{"obj_description", R, 0},
	{"octet_length", R, 0},
	{"overlay", R, 0},
	{"percent_rank", R, 0},
	{"percentile_cont", R, 0},
	{"percentile_disc", R, 0},
	{"pg_backend_pid", R, 0},
	{"pg_blocking_pids", R, 0},
	{"pg_cancel_backend", R, 0},
	{"pg_client_encoding", R, 0},
	{"pg_column_size", R, 0},
	{"pg_conf_load_time", R, 0},
	{"pg_current_wal_lsn", R, 0},
	{"pg_database_size", R, 0},
	{"pg_describe_object", R, 0},
	{"pg_encoding_to_char", R, 0},
	{"pg_export_snapshot", R, SQL_F_EXPORT_SNAPSHOT | SQL_F_CANNOT_PREPARE},
	{"pg_function_is_visible", R, 0},
	{"pg_has_role", R, 0},
	{"pg_identify_object", R, 0},
	{"pg_indexes_size", R, 0},
	{"pg_is_in_recovery", R, 0},
	{"pg_last_wal_receive_lsn", R, 0},
	{"pg_last_wal_replay_lsn", R, 0},
	{"pg_last_xact_replay_timestamp", R, 0},
	{"pg_logical_emit_message", W, SQL_F_EMITS_MESSAGE},
	{"pg_notify", W, SQL_F_NOTIFY | SQL_F_CANNOT_PREPARE},
	{"pg_postmaster_start_time", R, 0},
	{"pg_relation_filepath", R, 0},
	{"pg_relation_size", R, 0},
	{"pg_size_bytes", R, 0},
	{"pg_size_pretty", R, 0},
	{"pg_sleep", R, 0},
	{"pg_sleep_for", R, 0},
	{"pg_sleep_until", R, 0},
	{"pg_table_is_visible", R, 0},
	{"pg_table_size", R, 0},
	{"pg_tablespace_location", R, 0},
	{"pg_tablespace_size", R, 0},
	{"pg_total_relation_size", R, 0},
	{"pg_type_is_visible", R, 0},
	{"pg_typeof", R, 0},
	{"pi", R, 0},
	{"position", R, 0},
	{"power", R, 0},
	{"quote_ident", R, 0},
	{"quote_literal", R, 0},
	{"quote_nullable", R, 0},
	{"radians", R, 0},
	{"random", R, 0},
	{"rank", R, 0},
	{"regexp_count", R, 0},
	{"regexp_instr", R, 0},
	{"regexp_like", R, 0},
	{"regexp_match", R, 0},
	{"regexp_matches", R, 0},
	{"regexp_replace", R, 0},
	{"regexp_split_to_array", R, 0},
	{"regexp_split_to_table", R, 0},
	{"repeat", R, 0},
	{"replace", R, 0},
	{"reverse", R, 0},
	{"right", R, 0},
	{"round", R, 0},
	{"row_number", R, 0},
	{"row_to_json", R, 0},
	{"rpad", R, 0},
	{"rtrim", R, 0},
	{"session_user", R, 0},
	{"set_config", R, SQL_F_CHANGES_SESSION},
	{"setseed", R, 0},
	{"setval", W, SQL_F_USES_SEQUENCE},
	{"sha224", R, 0},
	{"sha256", R, 0},
	{"sha384", R, 0},
	{"sha512", R, 0},
	{"sign", R, 0},
	{"sin", R, 0},
	{"split_part", R, 0},
	{"sqrt", R, 0},
	{"starts_with", R, 0},
	{"statement_timestamp", R, 0},
	{"stddev", R, 0},
	{"stddev_pop", R, 0},
	{"stddev_samp", R, 0},
	{"string_agg", R, 0},
	{"string_to_array", R, 0},
	{"strpos", R, 0},
	{"substr", R, 0},
	{"substring", R, 0},
	{"sum", R, 0},
	{"tan", R, 0},
	{"textlen", R, 0},
	{"timeofday", R, 0},
	{"transaction_timestamp", R, 0},
	{"translate", R, 0},
	{"trim", R, 0},
	{"trunc", R, 0},
	{"unnest", R, 0},
	{"upper", R, 0},
	{"var_pop", R, 0},
	{"var_samp", R, 0},
	{"variance", R, 0},
	{"version", R, 0},
	{"width_bucket", R, 0},
};

/* Families recognised by name: catalog inspection and pure conversions. */
static const struct
{
	const char *prefix;
	const char *suffix;
}			read_patterns[] = {
	{"pg_get_", ""},			/* pg_get_userbyid, pg_get_indexdef, ... */
	{"pg_stat_get_", ""},
	{"pg_", "_is_visible"},		/* pg_opclass_is_visible, ... */
	{"has_", "_privilege"},
	{"array_", ""},
	{"json_", ""},
	{"jsonb_", ""},
	{"to_", ""},				/* to_char, to_json, to_tsvector, ... */
	{"date_", ""},
};

#undef R
#undef W

static int
func_cmp(const void *key, const void *elem)
{
	return strcmp((const char *) key, ((const func_entry *) elem)->name);
}

static bool
matches(const char *name, const char *prefix, const char *suffix)
{
	size_t		n = strlen(name);
	size_t		p = strlen(prefix);
	size_t		s = strlen(suffix);

	return n > p + s && strncmp(name, prefix, p) == 0 &&
		strcmp(name + n - s, suffix) == 0;
}

sql_func_effect
sql_func_lookup(const char *name, uint32_t *flags)
{
	const func_entry *e;

	PGQ_ASSERT(name != NULL && flags != NULL);
	*flags = 0;
	e = bsearch(name, funcs, PGQ_LENGTHOF(funcs), sizeof(funcs[0]), func_cmp);
	if (e != NULL)
	{
		*flags = e->flags;
		return e->effect;
	}
	for (size_t i = 0; i < PGQ_LENGTHOF(read_patterns); i++)
		if (matches(name, read_patterns[i].prefix, read_patterns[i].suffix))
			return SQL_FUNC_READ;
	return SQL_FUNC_UNKNOWN;
}

bool
sql_func_table_sorted(void)
{
	for (size_t i = 1; i < PGQ_LENGTHOF(funcs); i++)
		if (strcmp(funcs[i - 1].name, funcs[i].name) >= 0)
			return false;
	return true;
}
