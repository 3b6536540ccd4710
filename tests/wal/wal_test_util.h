/*
 * wal_test_util.h
 *	  Helpers shared by the wal tests: temp directories, payloads derived
 *	  from the index (so any entry can be verified alone), segment files.
 */
#ifndef WAL_TEST_UTIL_H
#define WAL_TEST_UTIL_H

#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wal/wal.h"
#include "wal/wal_format.h"

static inline char *
wt_mkdtemp(void)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char	   *path = malloc(strlen(base) + 32);

	sprintf(path, "%s/pgq-wal-XXXXXX", base);
	if (mkdtemp(path) == NULL)
	{
		perror("mkdtemp");
		exit(2);
	}
	return path;
}

static inline int
wt_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void) sb;
	(void) flag;
	(void) f;
	return remove(p);
}

static inline void
wt_rmtree(char *path)
{
	nftw(path, wt_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(path);
}

/* Payload length and bytes are functions of the index (and a salt). */
static inline uint32_t
wt_len(uint64_t index)
{
	return (uint32_t) (8 + (index * 37) % 200);
}

static inline void
wt_fill(uint64_t index, uint64_t salt, uint8_t *buf, uint32_t len)
{
	uint64_t	x = index * 0x9E3779B97F4A7C15ull ^ salt;

	for (uint32_t j = 0; j < len; j++)
	{
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[j] = (uint8_t) x;
	}
}

static inline bool
wt_check(const struct wal_entry *e, uint64_t salt)
{
	uint8_t		buf[256];

	if (e->length != wt_len(e->index))
		return false;
	wt_fill(e->index, salt, buf, e->length);
	return memcmp(buf, e->payload, e->length) == 0;
}

static inline int
wt_append(struct wal *w, uint64_t index, uint64_t term, uint64_t salt)
{
	uint8_t		buf[256];
	uint32_t	len = wt_len(index);

	wt_fill(index, salt, buf, len);
	return wal_append(w, index, term, 1, buf, len, WAL_APPEND_BLOCK);
}

static inline void
wt_seg_path(const char *dir, uint64_t first, char *out, size_t outlen)
{
	char		name[WAL_SEG_NAME_LEN + 1];

	wal_segment_name(first, name);
	snprintf(out, outlen, "%s/%s", dir, name);
}

/* Offset of the record for index in the segment file, or 0. */
static inline uint64_t
wt_record_offset(const char *path, uint64_t index, size_t *rec_size)
{
	int			fd = open(path, O_RDONLY);
	struct stat sb;
	uint8_t    *buf;
	uint64_t	off = WAL_SEG_HEADER_SIZE,
				found = 0;

	if (fd < 0 || fstat(fd, &sb) != 0)
		return 0;
	buf = malloc((size_t) sb.st_size);
	if (pread(fd, buf, (size_t) sb.st_size, 0) != sb.st_size)
		abort();
	close(fd);
	while (off < (uint64_t) sb.st_size)
	{
		struct wal_record r;
		size_t		size;

		if (wal_record_decode(buf + off, (size_t) sb.st_size - off,
							  WAL_FORMAT_MAX_PAYLOAD, &r, &size) != WAL_FMT_OK)
			break;
		if (r.index == index)
		{
			found = off;
			*rec_size = size;
			break;
		}
		off += size;
	}
	free(buf);
	return found;
}

static inline void
wt_poke(const char *path, uint64_t off, const void *bytes, size_t n)
{
	int			fd = open(path, O_WRONLY);

	if (fd < 0 || pwrite(fd, bytes, n, (off_t) off) != (ssize_t) n)
		abort();
	close(fd);
}

static inline void
wt_flip(const char *path, uint64_t off)
{
	int			fd = open(path, O_RDWR);
	uint8_t		b;

	if (fd < 0 || pread(fd, &b, 1, (off_t) off) != 1)
		abort();
	b ^= 0x5a;
	if (pwrite(fd, &b, 1, (off_t) off) != 1)
		abort();
	close(fd);
}

#endif							/* WAL_TEST_UTIL_H */
