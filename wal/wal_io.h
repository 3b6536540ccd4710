/*
 * wal_io.h
 *	  The system calls through which the wal changes files, as a table that
 *	  tests replace to inject ENOSPC, EIO and short writes (fault seam), and
 *	  the per-thread error message helpers.
 *
 * INTERFACE ROUTINES
 *	wal_set_io_ops	- install a table (NULL restores the real calls)
 *	wal_io			- the table in use
 *	wal_set_error	- format this thread's wal_errmsg() and return code
 *	wal_errno_code	- map an errno to an enum wal_err
 *
 * Functions follow the system calls' conventions: -1 with errno set on
 * failure (fallocate too, unlike posix_fallocate).  Set the table before
 * wal_open and leave it until wal_close: the writer and spare-segment
 * threads read it without a lock.
 */
#ifndef WAL_WAL_IO_H
#define WAL_WAL_IO_H

#include <sys/types.h>

struct wal_io_ops
{
	ssize_t		(*pwrite) (int fd, const void *buf, size_t len, off_t off);
	ssize_t		(*pread) (int fd, void *buf, size_t len, off_t off);
	int			(*fdatasync) (int fd);
	int			(*fsync) (int fd);
	int			(*fallocate) (int fd, off_t off, off_t len);
};

extern struct wal_io_ops wal_io;

/* ops is copied; NULL restores the defaults. */
void		wal_set_io_ops(const struct wal_io_ops *ops);
/* The real calls (for a test's wrapper to delegate to). */
extern const struct wal_io_ops wal_io_default;

int			wal_set_error(int code, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
int			wal_errno_code(int e);

#endif							/* WAL_WAL_IO_H */
