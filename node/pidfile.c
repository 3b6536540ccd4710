/*
 * pidfile.c
 *	  Write and remove the node's pid file.  See pidfile.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/pgq_log.h"
#include "node/pidfile.h"

/* Returns the pid in path if it names a live process, else 0. */
static pid_t
live_pid(const char *path)
{
	FILE	   *f = fopen(path, "r");
	long		pid = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 0 || pid == getpid())
		pid = 0;
	fclose(f);
	if (pid > 0 && kill((pid_t) pid, 0) < 0 && errno == ESRCH)
		pid = 0;
	return (pid_t) pid;
}

int
pgq_pidfile_write(const char *path, char *err, size_t errlen)
{
	char		tmp[4096];
	char		buf[32];
	pid_t		other = live_pid(path);
	int			fd;
	int			len;

	if (other > 0)
	{
		snprintf(err, errlen, "pid file \"%s\" names running process %d; is another node using this configuration?",
				 path, (int) other);
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
	{
		snprintf(err, errlen, "could not create pid file \"%s\": %s", tmp, strerror(errno));
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "%d\n", (int) getpid());
	if (write(fd, buf, (size_t) len) != len || close(fd) < 0 || rename(tmp, path) < 0)
	{
		snprintf(err, errlen, "could not write pid file \"%s\": %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

void
pgq_pidfile_remove(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT)
		pgq_warn("could not remove pid file \"%s\": %s", path, strerror(errno));
}
