/*
 * pgq_log.c
 *	  Leveled, timestamped logging.  See pgq_log.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/pgq_assert.h"
#include "common/pgq_log.h"

enum pgq_log_level pgq_log_min_level = PGQ_LOG_INFO;

static int	log_fd = STDERR_FILENO;
static char log_prefix[64];

static const char *const level_names[] = {
	[PGQ_LOG_DEBUG] = "DEBUG",
	[PGQ_LOG_INFO] = "INFO",
	[PGQ_LOG_NOTICE] = "NOTICE",
	[PGQ_LOG_WARNING] = "WARNING",
	[PGQ_LOG_ERROR] = "ERROR",
	[PGQ_LOG_FATAL] = "FATAL",
};

void
pgq_log_set_level(enum pgq_log_level level)
{
	PGQ_ASSERT(level <= PGQ_LOG_FATAL);
	pgq_log_min_level = level;
}

int
pgq_log_open_file(const char *path)
{
	int			fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	if (fd < 0)
		return -1;
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
	return 0;
}

void
pgq_log_close_file(void)
{
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = STDERR_FILENO;
}

void
pgq_log_set_prefix(const char *prefix)
{
	snprintf(log_prefix, sizeof(log_prefix), "%s", prefix ? prefix : "");
}

bool
pgq_log_level_parse(const char *name, enum pgq_log_level *level)
{
	for (size_t i = 0; i < PGQ_LENGTHOF(level_names); i++)
	{
		if (strcasecmp(name, level_names[i]) == 0)
		{
			*level = (enum pgq_log_level) i;
			return true;
		}
	}
	if (strcasecmp(name, "warn") == 0)
	{
		*level = PGQ_LOG_WARNING;
		return true;
	}
	return false;
}

const char *
pgq_log_level_name(enum pgq_log_level level)
{
	PGQ_ASSERT(level <= PGQ_LOG_FATAL);
	return level_names[level];
}

void
pgq_log_write(enum pgq_log_level level, const char *fmt,...)
{
	char		line[2048];
	struct timespec ts;
	struct tm	tm;
	size_t		len;
	int			n;
	va_list		ap;
	int			saved_errno = errno;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	len = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
	n = snprintf(line + len, sizeof(line) - len, ".%03ld UTC [%d] %s%s%s: ",
				 ts.tv_nsec / 1000000, (int) getpid(), log_prefix,
				 log_prefix[0] ? " " : "", level_names[level]);
	if (n > 0)
		len += (size_t) n;
	va_start(ap, fmt);
	n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
	va_end(ap);
	if (n > 0)
		len += (size_t) n < sizeof(line) - len - 1 ? (size_t) n : sizeof(line) - len - 2;
	line[len++] = '\n';
	/* One write per line; a short write of a log line is not worth a retry. */
	if (write(log_fd, line, len) < 0)
		(void) 0;
	errno = saved_errno;
}

void
pgq_assert_fail(const char *expr, const char *file, int line, const char *func)
{
	pgq_log_write(PGQ_LOG_FATAL, "assertion failed: %s (%s:%d, %s)",
				  expr, file, line, func);
	abort();
}
