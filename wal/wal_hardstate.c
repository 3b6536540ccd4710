/*
 * wal_hardstate.c
 *	  Durable hard state (term, vote, membership) in <dir>/hardstate,
 *	  replaced atomically: write hardstate.tmp, fsync it, rename over
 *	  hardstate, fsync the directory.  Both run on the caller's thread
 *	  (documented in wal.h); the layout is in wal_format.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/pgq_assert.h"
#include "wal/wal.h"
#include "wal/wal_format.h"
#include "wal/wal_io.h"

#define HS_FILE "hardstate"
#define HS_TMP	"hardstate.tmp"

int
wal_hardstate_load(const char *dir, struct wal_hardstate *hs)
{
	uint8_t		buf[WAL_HS_MAX_SIZE + 1];
	char		path[4096];
	ssize_t		n;
	int			fd;
	enum wal_format_result r;

	snprintf(path, sizeof(path), "%s/%s", dir, HS_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return wal_set_error(WAL_ENOENT, "no hard state in %s", dir);
	if (fd < 0)
		return wal_set_error(WAL_EMISSING, "cannot open %s: %s", path,
							 strerror(errno));
	do
		n = read(fd, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return wal_set_error(WAL_EIO, "cannot read %s: %s", path, strerror(errno));
	r = wal_hardstate_decode(buf, (size_t) n, hs);
	if (r != WAL_FMT_OK)
		return wal_set_error(WAL_ECORRUPT, "corrupt hard state %s (%zd bytes): %s",
							 path, n, wal_format_result_str(r));
	return WAL_OK;
}

static int
check_hardstate(const struct wal_hardstate *hs)
{
	if (hs->n_members > WAL_MAX_MEMBERS)
		return wal_set_error(WAL_EINVAL, "%u members, at most %d",
							 hs->n_members, WAL_MAX_MEMBERS);
	for (uint32_t i = 0; i < hs->n_members; i++)
	{
		const struct wal_member *m = &hs->members[i];

		if (m->id == 0 || strnlen(m->peer_addr, WAL_ADDR_MAX) == WAL_ADDR_MAX ||
			strnlen(m->client_addr, WAL_ADDR_MAX) == WAL_ADDR_MAX)
			return wal_set_error(WAL_EINVAL, "member %u: id 0 or address "
								 "longer than %d bytes", i, WAL_ADDR_MAX - 1);
	}
	return WAL_OK;
}

/* Writes buf to dir/HS_TMP and fsyncs it. */
static int
write_tmp(int dfd, const char *dir, const uint8_t *buf, size_t len)
{
	int			fd = openat(dfd, HS_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
							0640);
	size_t		done = 0;
	const char *what = "open";

	while (fd >= 0 && done < len)
	{
		ssize_t		n = wal_io.pwrite(fd, buf + done, len - done, (off_t) done);

		what = "write";
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t) n;
	}
	if (done == len)
		what = "fsync";
	if (fd >= 0 && done == len && wal_io.fsync(fd) == 0)
		return close(fd) == 0 ? WAL_OK :
			wal_set_error(WAL_EIO, "close of %s/%s: %s", dir, HS_TMP, strerror(errno));
	{
		int			e = errno ? errno : EIO;

		if (fd >= 0)
			close(fd);
		unlinkat(dfd, HS_TMP, 0);
		return wal_set_error(wal_errno_code(e), "cannot save hard state "
							 "(%s of %s/%s): %s", what, dir, HS_TMP, strerror(e));
	}
}

int
wal_hardstate_save(const char *dir, const struct wal_hardstate *hs)
{
	uint8_t		buf[WAL_HS_MAX_SIZE];
	size_t		len;
	int			dfd,
				rc;

	if ((rc = check_hardstate(hs)) != WAL_OK)
		return rc;
	len = wal_hardstate_encode(hs, buf);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return wal_set_error(WAL_EMISSING, "cannot open directory %s: %s", dir,
							 strerror(errno));
	errno = 0;
	rc = write_tmp(dfd, dir, buf, len);
	if (rc == WAL_OK && renameat(dfd, HS_TMP, dfd, HS_FILE) != 0)
		rc = wal_set_error(wal_errno_code(errno), "cannot rename %s/%s: %s",
						   dir, HS_TMP, strerror(errno));
	if (rc == WAL_OK && wal_io.fsync(dfd) != 0)
		rc = wal_set_error(wal_errno_code(errno), "fsync of directory %s: %s",
						   dir, strerror(errno));
	close(dfd);
	return rc;
}
