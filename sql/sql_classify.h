/*
 * sql_classify.h
 *	  Statement classification for routing, with libpg_query (PostgreSQL 15
 *	  grammar).  Pure code: no sockets, no libpq, no clock, no logging.
 *	  Design, allowlist policy and measured costs: docs/sql.md.
 *
 * INTERFACE ROUTINES
 *	sql_classify			- parse a query string, classify each statement and the whole
 *	sql_result_reset		- free what sql_classify put in a result
 *	sql_cache_new			- create a bounded classification cache (clock eviction)
 *	sql_cache_free			- free a cache and every result it holds
 *	sql_cache_classify		- sql_classify through the cache (borrowed result)
 *	sql_cache_clear			- forget every cached result (volatility answers changed)
 *	sql_cache_get_stats		- hit/miss/eviction counters
 *	sql_names_admin_view	- which pgquorum.<view> names a result references
 *	sql_admin_view_name		- "nodes", "log", ... for one view bit
 *	sql_class_name			- "read_only", "may_write", ... for logs and admin views
 *	sql_txn_kind_name		- "begin", "commit", ... for a txn sub-kind
 *	sql_session_kind_name	- "set", "prepare", ... for a session sub-kind
 *	sql_flag_name			- "temp_object", ... for one flag bit (error messages)
 *
 * A query string is what a simple Query message or a Parse message carries:
 * NUL-terminated, possibly several statements separated by ';', possibly
 * with $n parameters (they parse as ParamRef, which classifies like any
 * expression).  The classifier sees no catalog: a function call is judged by
 * a small built-in table of names (docs/sql.md, "Functions") and then by the
 * caller's optional volatility callback; a function that neither knows is
 * may-write (issue 6: "a function whose volatility is unknown counts as
 * may-write").
 *
 * THREADS.  sql_classify may run on any thread (libpg_query keeps its memory
 * context per thread).  A sql_cache is not thread-safe: one event loop owns
 * it.
 */
#ifndef SQL_CLASSIFY_H
#define SQL_CLASSIFY_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Class of one statement.  The values are ordered by how strongly they
 * constrain routing; the class of a whole string is the highest class of its
 * statements (class_mask tells which classes occur).
 */
typedef enum sql_class
{
	SQL_CLASS_NONE = 0,			/* parse error; or no wrapped statement */
	SQL_CLASS_READ_ONLY,		/* SELECT/VALUES/SHOW-like reads, EXPLAIN */
	SQL_CLASS_SESSION_STATE,	/* SET, PREPARE, LISTEN, DECLARE, ... */
	SQL_CLASS_TXN_CONTROL,		/* BEGIN, COMMIT, SAVEPOINT, ... (see txn) */
	SQL_CLASS_MAY_WRITE,		/* DML, FOR UPDATE, CALL, DO, LOCK, COPY FROM,
								 * unknown or writing functions */
	SQL_CLASS_DDL,				/* CREATE/ALTER/DROP/GRANT/TRUNCATE/... */
	SQL_CLASS_NO_TXN_BLOCK,		/* refused inside a transaction block */
	SQL_CLASS_COUNT
} sql_class;

/* Sub-kind of a TXN_CONTROL statement (BEGIN and START TRANSACTION are one). */
typedef enum sql_txn_kind
{
	SQL_TXN_NONE = 0,
	SQL_TXN_BEGIN,
	SQL_TXN_COMMIT,				/* COMMIT, END */
	SQL_TXN_ROLLBACK,			/* ROLLBACK, ABORT */
	SQL_TXN_SAVEPOINT,
	SQL_TXN_RELEASE,
	SQL_TXN_ROLLBACK_TO,
	SQL_TXN_PREPARE,			/* PREPARE TRANSACTION 'gid' */
	SQL_TXN_COMMIT_PREPARED,
	SQL_TXN_ROLLBACK_PREPARED,
	SQL_TXN_COUNT
} sql_txn_kind;

/* Sub-kind of a SESSION_STATE statement. */
typedef enum sql_session_kind
{
	SQL_SESSION_NONE = 0,
	SQL_SESSION_SET,			/* SET, SET LOCAL, SET TRANSACTION, SET ROLE */
	SQL_SESSION_RESET,			/* RESET x, RESET ALL */
	SQL_SESSION_SHOW,
	SQL_SESSION_PREPARE,		/* PREPARE name AS query: see inner_cls */
	SQL_SESSION_EXECUTE,		/* class of the prepared query is the caller's */
	SQL_SESSION_DEALLOCATE,
	SQL_SESSION_LISTEN,
	SQL_SESSION_UNLISTEN,
	SQL_SESSION_NOTIFY,
	SQL_SESSION_DISCARD,
	SQL_SESSION_DECLARE,		/* DECLARE cursor: see inner_cls */
	SQL_SESSION_FETCH,			/* FETCH, MOVE */
	SQL_SESSION_CLOSE,
	SQL_SESSION_LOAD,
	SQL_SESSION_CHECKPOINT,
	SQL_SESSION_SET_CONSTRAINTS,
	SQL_SESSION_COUNT
} sql_session_kind;

/* Flags of a statement (and, OR-ed, of a whole string). */
enum
{
	SQL_F_CANNOT_PREPARE = 1u << 0,	/* any of the four reasons below */
	SQL_F_TEMP_OBJECT = 1u << 1,	/* TEMP table/view/sequence, ON COMMIT,
									 * pg_temp.x */
	SQL_F_NOTIFY = 1u << 2,			/* LISTEN, UNLISTEN, NOTIFY, pg_notify() */
	SQL_F_HOLD_CURSOR = 1u << 3,	/* DECLARE ... WITH HOLD */
	SQL_F_EXPORT_SNAPSHOT = 1u << 4,	/* pg_export_snapshot() */
	SQL_F_TOUCHES_CATALOG = 1u << 5,	/* writes or locks a system catalog */
	SQL_F_USES_LARGE_OBJECT = 1u << 6,	/* lo_*() functions, ... LARGE OBJECT */
	SQL_F_USES_SEQUENCE = 1u << 7,	/* nextval/setval/currval/lastval, serial,
									 * identity, CREATE/ALTER SEQUENCE */
	SQL_F_NAMES_PGQUORUM = 1u << 8, /* a relation or function pgquorum.<name> */
	SQL_F_ROLE_PASSWORD = 1u << 9,	/* CREATE/ALTER ROLE|USER ... PASSWORD */
	SQL_F_NO_TXN_BLOCK = 1u << 10,	/* refused in a transaction block: every
									 * NO_TXN_BLOCK statement, plus COMMIT/
									 * ROLLBACK PREPARED and DISCARD ALL */
	SQL_F_UNKNOWN_FUNCTION = 1u << 11,	/* a read became may-write because of
										 * a function of unknown volatility */
	SQL_F_TXN_READ_ONLY = 1u << 12, /* BEGIN/START/SET TRANSACTION READ ONLY */
	SQL_F_TXN_CHAIN = 1u << 13,		/* COMMIT/ROLLBACK AND CHAIN */
	SQL_F_CHANGES_SESSION = 1u << 14,	/* set_config() inside a query */
	SQL_F_PGQUORUM_SETTING = 1u << 15,	/* SET/RESET/SHOW pgquorum.<name> */
	SQL_F_WALK_LIMIT = 1u << 16,	/* tree deeper than the walker's bound:
									 * classified may-write */
	SQL_F_EMITS_MESSAGE = 1u << 17, /* pg_logical_emit_message(): the stream
									 * carries pgquorum's own DDL that way */
	SQL_F_COUNT_BITS = 18
};

/* The admin views of issue 7, as bits of admin_views. */
typedef enum sql_admin_view
{
	SQL_ADMIN_NODES = 0,
	SQL_ADMIN_LOG,
	SQL_ADMIN_SESSIONS,
	SQL_ADMIN_STATS,
	SQL_ADMIN_SETTINGS,
	SQL_ADMIN_COUNT
} sql_admin_view;

typedef struct sql_stmt
{
	sql_class	cls;
	sql_class	inner_cls;		/* PREPARE, DECLARE, EXPLAIN: class of the
								 * wrapped query; SQL_CLASS_NONE otherwise */
	sql_txn_kind txn;			/* TXN_CONTROL only */
	sql_session_kind session;	/* SESSION_STATE only */
	uint32_t	flags;			/* SQL_F_*; a wrapper carries its query's */
	uint32_t	admin_views;	/* bit (1u << sql_admin_view) per view named */
	bool		user_relations; /* names a relation that is not an admin
								 * view, a system catalog or temporary (a
								 * CTE's name counts: conservative) */
	int32_t		location;		/* byte offset in the query string */
	int32_t		length;			/* bytes; 0 means "to the end of the string"
								 * (always so for a single statement) */
} sql_stmt;

typedef enum sql_status
{
	SQL_STATUS_OK = 0,
	SQL_STATUS_EMPTY,			/* no statement (empty, blanks, comments) */
	SQL_STATUS_PARSE_ERROR,		/* the server will report it: forward as is */
	SQL_STATUS_NO_MEMORY
} sql_status;

typedef struct sql_result
{
	sql_status	status;
	sql_class	cls;			/* highest class; READ_ONLY when EMPTY, NONE
								 * on a parse error */
	uint32_t	class_mask;		/* bit (1u << cls) for each statement */
	uint32_t	flags;			/* OR of the statements' flags */
	uint32_t	admin_views;	/* OR of the statements' admin_views */
	bool		user_relations; /* OR of the statements' user_relations */
	uint32_t	n_stmts;
	sql_stmt   *stmts;			/* owned by the result: n_stmts entries */
	char	   *error_message;	/* owned; PARSE_ERROR only, else NULL */
	int32_t		error_cursor;	/* 1-based character position, 0 unknown */
} sql_result;

/*
 * Volatility of a function the built-in table does not know: 'i'
 * (immutable), 's' (stable), 'v' (volatile) or 0 (unknown).  schema is NULL
 * when the call is unqualified; both strings are borrowed until return.
 * 'i' and 's' are read-only; 'v' and 0 make the statement MAY_WRITE.  The
 * answers must stay the same for the lifetime of a cache that uses them
 * (call sql_cache_clear when they change, e.g. after DDL on functions).
 */
typedef int (*sql_volatility_fn) (void *arg, const char *schema,
								  const char *name);

typedef struct sql_options
{
	sql_volatility_fn volatility;	/* may be NULL */
	void	   *volatility_arg;
} sql_options;

/*
 * Classify query (NUL-terminated, borrowed until return).  opts may be NULL.
 * Fills *out (caller-owned struct; its stmts and error_message become owned
 * by *out: free with sql_result_reset) and returns out->status.
 */
sql_status	sql_classify(const char *query, const sql_options *opts,
						 sql_result *out);
/* Free what *r owns and zero it.  Safe on a zeroed result. */
void		sql_result_reset(sql_result *r);

/* ---- cache ---- */

typedef struct sql_cache sql_cache;

typedef struct sql_cache_stats
{
	uint64_t	hits_text;		/* exact text found */
	uint64_t	hits_fingerprint;	/* same statement shape, other constants */
	uint64_t	misses;			/* parsed and classified */
	uint64_t	evictions;
	uint64_t	uncacheable;	/* results handed out without being stored */
	uint32_t	entries;		/* entries in use now */
	uint32_t	capacity;
} sql_cache_stats;

/* Longest query text stored under its exact text (longer ones still use the
 * fingerprint level, which stores no text). */
#define SQL_CACHE_MAX_TEXT 8192
#define SQL_CACHE_MAX_CAPACITY (1u << 20)

/*
 * Create a cache of at most capacity results (1 .. SQL_CACHE_MAX_CAPACITY).
 * opts is copied; its volatility callback and arg are borrowed for the
 * cache's lifetime.  Returns NULL when out of memory.
 */
sql_cache  *sql_cache_new(uint32_t capacity, const sql_options *opts);
void		sql_cache_free(sql_cache *c);

/*
 * Classify query (borrowed until return) through the cache.  Never NULL:
 * the result is BORROWED from the cache and valid until the next call of
 * any sql_cache_* routine on c; copy what must outlive that (cls, flags).
 * On out-of-memory the result's status is SQL_STATUS_NO_MEMORY and its
 * class MAY_WRITE.
 */
const sql_result *sql_cache_classify(sql_cache *c, const char *query);
void		sql_cache_clear(sql_cache *c);
void		sql_cache_get_stats(const sql_cache *c, sql_cache_stats *out);

/* ---- names ---- */

/* Bits (1u << sql_admin_view) of the pgquorum.<view> relations r names.
 * Detection only: a later rewrite will use the same parse. */
uint32_t	sql_names_admin_view(const sql_result *r);
const char *sql_admin_view_name(sql_admin_view v);
const char *sql_class_name(sql_class cls);
const char *sql_txn_kind_name(sql_txn_kind kind);
const char *sql_session_kind_name(sql_session_kind kind);
/* Name of one flag bit (exactly one bit set), "?" otherwise. */
const char *sql_flag_name(uint32_t flag);

#endif							/* SQL_CLASSIFY_H */
