/*
 * sql_admin_views.c
 *	  The table of admin views (name, columns with types) and the rows that
 *	  a row source fills for one rewrite.  docs/admin-views.md shows the
 *	  same table; tests/sql/test_sql_admin.c checks that they agree.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "sql/sql_admin_int.h"

#define T_TEXT SQL_ADMIN_T_TEXT
#define T_INT8 SQL_ADMIN_T_BIGINT
#define T_BOOL SQL_ADMIN_T_BOOLEAN
#define T_FLOAT8 SQL_ADMIN_T_FLOAT8
#define T_TSTZ SQL_ADMIN_T_TIMESTAMPTZ

static const struct
{
	const char *sql_name;		/* as format_type() / pg_typeof() print it */
	const char *catalog_name;	/* pg_catalog.<name> in the rewritten text */
}			admin_types[SQL_ADMIN_T_COUNT] = {
	[SQL_ADMIN_T_TEXT] = {"text", "text"},
	[SQL_ADMIN_T_BIGINT] = {"bigint", "int8"},
	[SQL_ADMIN_T_BOOLEAN] = {"boolean", "bool"},
	[SQL_ADMIN_T_FLOAT8] = {"double precision", "float8"},
	[SQL_ADMIN_T_TIMESTAMPTZ] = {"timestamp with time zone", "timestamptz"},
};

static const sql_admin_column nodes_columns[] = {
	{"id", T_INT8, "node id (configuration)"},
	{"name", T_TEXT, "node name"},
	{"client_addr", T_TEXT, "host:port clients connect to"},
	{"peer_addr", T_TEXT, "host:port of the peer protocol"},
	{"role", T_TEXT, "primary, secondary, learner or candidate"},
	{"voter", T_BOOL, "counts in the quorum"},
	{"reachable", T_BOOL, "this node hears from it"},
	{"last_contact_ms", T_INT8, "ms since this node last heard from it"},
	{"term", T_INT8, "its current term"},
	{"last_log_index", T_INT8, "last index in its log"},
	{"persisted_index", T_INT8, "last index fsynced to its disk"},
	{"commit_index", T_INT8, "commit index it knows"},
	{"applied_index", T_INT8, "last index applied to its PostgreSQL"},
	{"lag_entries", T_INT8, "entries behind the primary"},
	{"lag_bytes", T_INT8, "bytes of log behind the primary"},
	{"lag_ms", T_INT8, "ms behind the primary"},
};

static const sql_admin_column log_columns[] = {
	{"first_index", T_INT8, "first index kept on disk"},
	{"last_index", T_INT8, "last index on disk"},
	{"segments", T_INT8, "segment files"},
	{"bytes_on_disk", T_INT8, "bytes of all segments"},
	{"entries_per_s", T_FLOAT8, "entries appended per second, last minute"},
	{"fsyncs_per_s", T_FLOAT8, "fsyncs per second, last minute"},
	{"avg_batch", T_FLOAT8, "entries per fsync, last minute"},
};

static const sql_admin_column sessions_columns[] = {
	{"id", T_INT8, "session id on this node"},
	{"role", T_TEXT, "PostgreSQL role of the client"},
	{"database", T_TEXT, "database"},
	{"client_addr", T_TEXT, "client host:port (NULL for a Unix socket)"},
	{"state", T_TEXT, "idle, active, idle in transaction, ..."},
	{"statement_class", T_TEXT, "class of the current statement (read_only, may_write, ...)"},
	{"runs_on", T_TEXT, "local or primary"},
	{"since", T_TSTZ, "when the session entered its state"},
};

static const sql_admin_column stats_columns[] = {
	{"commits", T_INT8, "transactions committed through the log"},
	{"aborts", T_INT8, "transactions aborted"},
	{"forwarded_writes", T_INT8, "write transactions forwarded to the primary"},
	{"idle_commit_notifications", T_INT8, "commit notifications sent to idle peers"},
	{"heartbeats", T_INT8, "heartbeats sent"},
	{"apply_batches", T_INT8, "batches applied to the local PostgreSQL"},
	{"avg_apply_batch", T_FLOAT8, "entries per applied batch"},
	{"commit_p50_ms", T_FLOAT8, "median commit latency, ms"},
	{"commit_p99_ms", T_FLOAT8, "99th percentile commit latency, ms"},
};

static const sql_admin_column settings_columns[] = {
	{"name", T_TEXT, "configuration key"},
	{"setting", T_TEXT, "effective value (secrets shown as ********)"},
	{"default_value", T_TEXT, "built-in default (NULL: required key)"},
	{"reload", T_BOOL, "a reload applies a change (false: restart)"},
	{"description", T_TEXT, "one line"},
};

#define VIEW(v, name, cols, doc) \
	[v] = {v, name, (uint32_t) PGQ_LENGTHOF(cols), cols, doc}

static const sql_admin_view_def admin_views[SQL_ADMIN_COUNT] = {
	VIEW(SQL_ADMIN_NODES, "nodes", nodes_columns,
		 "one row per cluster member, as this node sees it"),
	VIEW(SQL_ADMIN_LOG, "log", log_columns,
		 "one row: this node's replicated log"),
	VIEW(SQL_ADMIN_SESSIONS, "sessions", sessions_columns,
		 "one row per client session on this node"),
	VIEW(SQL_ADMIN_STATS, "stats", stats_columns,
		 "one row: counters since start and commit latency percentiles"),
	VIEW(SQL_ADMIN_SETTINGS, "settings", settings_columns,
		 "one row per configuration key: the node's effective configuration"),
};

const sql_admin_view_def *
sql_admin_get_view(sql_admin_view v)
{
	PGQ_ASSERT((unsigned) v < SQL_ADMIN_COUNT);
	return &admin_views[v];
}

int
sql_admin_find_view(const char *name)
{
	for (int v = 0; v < SQL_ADMIN_COUNT; v++)
		if (strcmp(name, admin_views[v].name) == 0)
			return v;
	return -1;
}

const char *
sql_admin_type_name(sql_admin_type t)
{
	return (unsigned) t < SQL_ADMIN_T_COUNT ? admin_types[t].sql_name : "?";
}

const char *
sql_admin_catalog_type(sql_admin_type t)
{
	PGQ_ASSERT((unsigned) t < SQL_ADMIN_T_COUNT);
	return admin_types[t].catalog_name;
}

/* ---- rows ---- */

void
sql_admin_rows_init(sql_admin_rows *r, sql_admin_view v)
{
	memset(r, 0, sizeof(*r));
	r->def = sql_admin_get_view(v);
}

void
sql_admin_rows_reset(sql_admin_rows *r)
{
	size_t		n = (size_t) r->n_rows * r->def->n_columns;

	for (size_t i = 0; i < n; i++)
		free(r->values[i]);
	free(r->values);
	r->values = NULL;
	r->n_rows = r->cap_rows = 0;
	r->bytes = 0;
	r->failed = r->no_memory = false;
}

static bool
rows_grow(sql_admin_rows *r)
{
	uint32_t	cap = r->cap_rows ? r->cap_rows * 2 : 8;
	char	  **v;

	if (cap > SQL_ADMIN_MAX_ROWS)
		cap = SQL_ADMIN_MAX_ROWS;
	v = sql_admin_alloc((size_t) cap * r->def->n_columns * sizeof(*v));
	if (v == NULL)
		return false;
	if (r->values != NULL)
		memcpy(v, r->values,
			   (size_t) r->n_rows * r->def->n_columns * sizeof(*v));
	free(r->values);
	r->values = v;
	r->cap_rows = cap;
	return true;
}

static int
rows_fail(sql_admin_rows *r, bool no_memory)
{
	r->failed = true;
	r->no_memory |= no_memory;
	return -1;
}

int
sql_admin_rows_add(sql_admin_rows *out, const char *const *values,
				   uint32_t n_values)
{
	uint32_t	nc;
	char	  **row;
	size_t		bytes = 0;

	PGQ_ASSERT(out != NULL && out->def != NULL && values != NULL);
	nc = out->def->n_columns;
	PGQ_ASSERT(n_values == nc);
	for (uint32_t i = 0; i < nc; i++)
		bytes += values[i] ? strlen(values[i]) : 0;
	if (out->failed || out->n_rows >= SQL_ADMIN_MAX_ROWS ||
		bytes > SQL_ADMIN_MAX_BYTES - out->bytes)
		return rows_fail(out, false);
	if (out->n_rows == out->cap_rows && !rows_grow(out))
		return rows_fail(out, true);
	row = out->values + (size_t) out->n_rows * nc;
	for (uint32_t i = 0; i < nc; i++)
	{
		row[i] = NULL;
		if (values[i] != NULL && (row[i] = sql_admin_strdup(values[i])) == NULL)
		{
			while (i-- > 0)
				free(row[i]);
			return rows_fail(out, true);
		}
	}
	out->n_rows++;
	out->bytes += bytes;
	return 0;
}
