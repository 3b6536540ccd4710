/*
 * pgq_log.h
 *	  Leveled, timestamped logging for the node.
 *
 * INTERFACE ROUTINES
 *	pgq_log_set_level	- lowest level that is written
 *	pgq_log_open_file	- write to a file (append) instead of stderr
 *	pgq_log_set_prefix	- context printed on every line ("node 1")
 *	pgq_log_enabled		- is a level written? (checked before formatting)
 *	pgq_log_write		- write one line (use the macros below)
 *	pgq_log_level_parse / pgq_log_level_name
 *
 * A line is built in full and written with one write(2), so lines from
 * different threads never interleave.  The level is checked before the
 * message is formatted.  Pure code (sync/core/) never logs; it emits trace
 * lines to a callback instead.
 */
#ifndef PGQ_LOG_H
#define PGQ_LOG_H

#include <stdbool.h>

enum pgq_log_level
{
	PGQ_LOG_DEBUG = 0,
	PGQ_LOG_INFO,
	PGQ_LOG_NOTICE,
	PGQ_LOG_WARNING,
	PGQ_LOG_ERROR,
	PGQ_LOG_FATAL,
};

extern enum pgq_log_level pgq_log_min_level;

void		pgq_log_set_level(enum pgq_log_level level);
/* Returns 0, or -1 with errno set; on failure logging stays where it was. */
int			pgq_log_open_file(const char *path);
void		pgq_log_close_file(void);
void		pgq_log_set_prefix(const char *prefix);
void		pgq_log_write(enum pgq_log_level level, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
/* Returns false when name is not a level name. */
bool		pgq_log_level_parse(const char *name, enum pgq_log_level *level);
const char *pgq_log_level_name(enum pgq_log_level level);

static inline bool
pgq_log_enabled(enum pgq_log_level level)
{
	return level >= pgq_log_min_level;
}

#define pgq_log(level, ...) \
	do { \
		if (pgq_log_enabled(level)) \
			pgq_log_write((level), __VA_ARGS__); \
	} while (0)

#define pgq_debug(...)	pgq_log(PGQ_LOG_DEBUG, __VA_ARGS__)
#define pgq_info(...)	pgq_log(PGQ_LOG_INFO, __VA_ARGS__)
#define pgq_notice(...)	pgq_log(PGQ_LOG_NOTICE, __VA_ARGS__)
#define pgq_warn(...)	pgq_log(PGQ_LOG_WARNING, __VA_ARGS__)
#define pgq_error(...)	pgq_log(PGQ_LOG_ERROR, __VA_ARGS__)
#define pgq_fatal(...)	pgq_log(PGQ_LOG_FATAL, __VA_ARGS__)

#endif							/* PGQ_LOG_H */
