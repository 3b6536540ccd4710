/*
 * wal_io.c
 *	  Fault seam for the wal's system calls, and error messages.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/pgq_assert.h"
#include "wal/wal.h"
#include "wal/wal_io.h"

static int
real_fallocate(int fd, off_t off, off_t len)
{
	int			rc = posix_fallocate(fd, off, len);

	if (rc != 0)
	{
		errno = rc;
		return -1;
	}
	return 0;
}

const struct wal_io_ops wal_io_default = {
	.pwrite = pwrite,
	.pread = pread,
	.fdatasync = fdatasync,
	.fsync = fsync,
	.fallocate = real_fallocate,
};

struct wal_io_ops wal_io = {
	.pwrite = pwrite,
	.pread = pread,
	.fdatasync = fdatasync,
	.fsync = fsync,
	.fallocate = real_fallocate,
};

void
wal_set_io_ops(const struct wal_io_ops *ops)
{
	wal_io = ops ? *ops : wal_io_default;
	PGQ_ASSERT(wal_io.pwrite && wal_io.pread && wal_io.fdatasync &&
			   wal_io.fsync && wal_io.fallocate);
}

static _Thread_local char errmsg[512];

int
wal_set_error(int code, const char *fmt,...)
{
	va_list		ap;

	PGQ_ASSERT(code > WAL_OK && code < WAL_N_ERRORS);
	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	return code;
}

const char *
wal_errmsg(void)
{
	return errmsg;
}

int
wal_errno_code(int e)
{
	switch (e)
	{
		case ENOSPC:
		case EDQUOT:
			return WAL_ENOSPC;
		case ENOMEM:
			return WAL_ENOMEM;
		case ENOENT:
			return WAL_EMISSING;
		default:
			return WAL_EIO;
	}
}

const char *
wal_strerror(int err)
{
	static const char *const msgs[] = {
#define X(code, msg) [code] = msg,
		WAL_ERRORS(X)
#undef X
	};

	if (err < 0 || err >= WAL_N_ERRORS)
		return "unknown wal error";
	return msgs[err];
}
