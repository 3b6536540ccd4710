/*
 * pidfile.h
 *	  The node's pid file.
 *
 * pgq_pidfile_write refuses to start when the file names a live process
 * (another node on the same data) and replaces a stale one.
 */
#ifndef PGQ_PIDFILE_H
#define PGQ_PIDFILE_H

#include <stddef.h>

int			pgq_pidfile_write(const char *path, char *err, size_t errlen);
void		pgq_pidfile_remove(const char *path);

#endif							/* PGQ_PIDFILE_H */
