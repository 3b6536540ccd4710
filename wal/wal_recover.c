/*
 * wal_recover.c
 *	  Opening a log directory: list the segments, validate each one, rebuild
 *	  the index (log index -> segment, offset), cut a torn tail, refuse
 *	  corruption.  The algorithm is described in wal_format.h (RECOVERY).
 *	  Runs on the caller of wal_open before the writer thread starts.
 */
#include "config.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/pgq_assert.h"
#include "common/pgq_log.h"
#include "wal/wal_format.h"
#include "wal/wal_int.h"
#include "wal/wal_io.h"

struct seg_list
{
	uint64_t   *firsts;
	size_t		n;
	size_t		cap;
};

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a,
				y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t		n = strlen(s),
				m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * Lists "*.seg" files sorted; removes "*.seg.tmp" left by a crash (an
 * unfinished segment, or the spare, WAL_SPARE_NAME).
 */
static int
list_segments(struct wal *w, struct seg_list *l)
{
	int			fd = dup(w->dir_fd);
	DIR		   *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	uint64_t	first;

	if (d == NULL)
	{
		if (fd >= 0)
			close(fd);
		return wal_set_error(WAL_EMISSING, "cannot list %s: %s", w->dir,
							 strerror(errno));
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL)
	{
		if (strcmp(de->d_name, WAL_SPARE_NAME) == 0)
		{
			/* Left by a crash (wal_close removes it): never a segment. */
			pgq_info("wal %s: removing the spare segment %s", w->dir, de->d_name);
			unlinkat(w->dir_fd, de->d_name, 0);
			continue;
		}
		if (ends_with(de->d_name, ".seg.tmp"))
		{
			pgq_warn("wal %s: removing unfinished segment %s", w->dir, de->d_name);
			unlinkat(w->dir_fd, de->d_name, 0);
			continue;
		}
		if (!wal_segment_name_parse(de->d_name, &first))
			continue;
		if (!wal_grow((void **) &l->firsts, &l->cap, l->n + 1, sizeof(uint64_t)))
		{
			closedir(d);
			return wal_set_error(WAL_ENOMEM, "out of memory listing %s", w->dir);
		}
		l->firsts[l->n++] = first;
	}
	closedir(d);
	if (l->n > 1)
		qsort(l->firsts, l->n, sizeof(uint64_t), cmp_u64);
	return WAL_OK;
}

/* Reads the whole file into *buf (grown as needed). */
static int
read_file(struct wal *w, int fd, const char *name, uint64_t size,
		  uint8_t **buf, size_t *cap)
{
	uint64_t	done = 0;

	if (!wal_grow((void **) buf, cap, size ? size : 1, 1))
		return wal_set_error(WAL_ENOMEM, "out of memory reading %s", name);
	while (done < size)
	{
		ssize_t		n = wal_io.pread(fd, *buf + done, size - done, (off_t) done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return wal_set_error(WAL_EMISSING, "cannot read %s/%s at offset %" PRIu64
								 ": %s", w->dir, name, done,
								 n == 0 ? "unexpected end of file" : strerror(errno));
		done += (uint64_t) n;
	}
	return WAL_OK;
}

/* Decodes records from the header on while valid and contiguous. */
static int
scan_records(struct wal *w, struct wal_seg *s, const uint8_t *buf,
			 enum wal_format_result *why)
{
	uint64_t	off = WAL_SEG_HEADER_SIZE;
	uint32_t	seg_id = (uint32_t) w->n_segs;

	*why = WAL_FMT_OK;
	while (off < s->file_size)
	{
		struct wal_record rec;
		size_t		size;

		*why = wal_record_decode(buf + off, s->file_size - off,
								 w->opt.max_payload, &rec, &size);
		if (*why == WAL_FMT_OK && rec.index != s->first_index + s->n_entries)
			*why = WAL_FMT_BAD_FIELD;
		if (*why != WAL_FMT_OK)
			break;
		if (!wal_grow((void **) &w->pos, &w->cap_pos, w->n_pos + 1, sizeof(*w->pos)))
			return wal_set_error(WAL_ENOMEM, "out of memory for the index");
		if (w->n_pos == 0)
			w->disk_first = rec.index;
		w->pos[w->n_pos++] = (struct wal_pos) {.term = rec.term, .off = off,
		.seg_id = seg_id, .size = (uint32_t) size};
		s->n_entries++;
		off += size;
	}
	s->write_off = off;
	return WAL_OK;
}

/* Offset of a valid record with index > after, at or past from; 0 if none. */
static uint64_t
find_later_record(const struct wal *w, const uint8_t *buf, uint64_t size,
				  uint64_t from, uint64_t after)
{
	for (uint64_t o = from; o + WAL_RECORD_HEADER_SIZE <= size; o += WAL_RECORD_ALIGN)
	{
		uint64_t	idx;
		struct wal_record rec;
		size_t		rs;

		memcpy(&idx, buf + o, 8);
		idx = le64toh(idx);
		if (idx <= after || idx - after > (UINT64_C(1) << 32))
			continue;
		if (wal_record_decode(buf + o, size - o, w->opt.max_payload, &rec,
							  &rs) == WAL_FMT_OK)
			return o;
	}
	return 0;
}

/* End of the last non-zero byte at or after from (from if none). */
static uint64_t
nonzero_end(const uint8_t *buf, uint64_t size, uint64_t from)
{
	uint64_t	end = size;

	while (end > from && buf[end - 1] == 0)
		end--;
	return end;
}

/* Zeroes [from, to) of s and syncs it: cutting a torn tail. */
static int
cut_tail(struct wal *w, struct wal_seg *s, const char *name, uint64_t from,
		 uint64_t to)
{
	static const uint8_t zeros[65536];

	pgq_warn("wal %s: cutting torn tail of %s at offset %" PRIu64 ": %" PRIu64
			 " bytes after the last whole record (index %" PRIu64 ")",
			 w->dir, name, from, to - from, s->first_index + s->n_entries - 1);
	for (uint64_t o = from; o < to;)
	{
		uint64_t	len = to - o < sizeof(zeros) ? to - o : sizeof(zeros);
		ssize_t		n = wal_io.pwrite(s->fd, zeros, len, (off_t) o);

		if (n <= 0)
			return wal_set_error(wal_errno_code(n < 0 ? errno : EIO),
								 "cannot cut tail of %s/%s: %s", w->dir, name,
								 strerror(n < 0 ? errno : EIO));
		o += (uint64_t) n;
	}
	if (wal_io.fdatasync(s->fd) != 0)
		return wal_set_error(wal_errno_code(errno), "fdatasync of %s/%s: %s",
							 w->dir, name, strerror(errno));
	return WAL_OK;
}

/* What follows the last valid record of the last segment. */
static int
check_last_tail(struct wal *w, struct wal_seg *s, const char *name,
				const uint8_t *buf, enum wal_format_result why)
{
	uint64_t	last = s->first_index + s->n_entries - 1;
	uint64_t	later = find_later_record(w, buf, s->file_size,
										  s->write_off, last);
	uint64_t	end;

	if (later != 0)
		return wal_set_error(WAL_ECORRUPT,
							 "corrupt log: %s/%s: bad record at offset %" PRIu64
							 " (%s; expected index %" PRIu64 ") followed by a "
							 "valid record at offset %" PRIu64,
							 w->dir, name, s->write_off, wal_format_result_str(why),
							 last + 1, later);
	end = nonzero_end(buf, s->file_size, s->write_off);
	if (end == s->write_off)
		return WAL_OK;
	return cut_tail(w, s, name, s->write_off, end);
}

/* A segment that is not the last one must end right before next_first. */
static int
check_full(struct wal *w, struct wal_seg *s, const char *name,
		   uint64_t next_first, enum wal_format_result why)
{
	uint64_t	end = s->first_index + s->n_entries;

	if (end == next_first)
		return WAL_OK;
	if (why == WAL_FMT_BAD_INDEX && end < next_first)
		return wal_set_error(WAL_EMISSING,
							 "log gap: %s/%s ends at index %" PRIu64 " (offset %"
							 PRIu64 ") but the next segment starts at %" PRIu64,
							 w->dir, name, end - 1, s->write_off, next_first);
	return wal_set_error(WAL_ECORRUPT,
						 "corrupt log: %s/%s: bad record at offset %" PRIu64
						 " (%s; expected index %" PRIu64 ", next segment starts "
						 "at %" PRIu64 ")", w->dir, name, s->write_off,
						 wal_format_result_str(why), end, next_first);
}

static int
open_one(struct wal *w, uint64_t first, uint8_t **buf, size_t *cap,
		 struct wal_seg *s, char *name)
{
	struct stat sb;
	struct wal_seg_header h;
	enum wal_format_result r;
	int			rc;

	wal_segment_name(first, name);
	*s = (struct wal_seg) {.first_index = first, .fd = -1};
	s->fd = openat(w->dir_fd, name, O_RDWR | O_CLOEXEC);
	if (s->fd < 0 || fstat(s->fd, &sb) != 0)
		return wal_set_error(WAL_EMISSING, "cannot open %s/%s: %s", w->dir,
							 name, strerror(errno));
	s->file_size = (uint64_t) sb.st_size;
	if ((rc = read_file(w, s->fd, name, s->file_size, buf, cap)) != WAL_OK)
		return rc;
	r = wal_seg_header_decode(*buf, s->file_size, &h);
	if (r == WAL_FMT_OK && h.first_index != first)
		r = WAL_FMT_BAD_FIELD;
	if (r != WAL_FMT_OK)
		return wal_set_error(WAL_ECORRUPT, "corrupt log: %s/%s: bad segment "
							 "header at offset 0: %s", w->dir, name,
							 wal_format_result_str(r));
	return WAL_OK;
}

/* Opens, validates and indexes segment number k of the sorted list. */
static int
recover_segment(struct wal *w, const struct seg_list *l, size_t k,
				uint8_t **buf, size_t *cap)
{
	struct wal_seg s;
	char		name[WAL_SEG_NAME_LEN + 1];
	enum wal_format_result why;
	int			rc;

	rc = open_one(w, l->firsts[k], buf, cap, &s, name);
	if (rc == WAL_OK)
		rc = scan_records(w, &s, *buf, &why);
	if (rc == WAL_OK && k + 1 < l->n)
		rc = check_full(w, &s, name, l->firsts[k + 1], why);
	else if (rc == WAL_OK && s.write_off < s.file_size)
		rc = check_last_tail(w, &s, name, *buf, why);
	if (rc == WAL_OK &&
		!wal_grow((void **) &w->segs, &w->cap_segs, w->n_segs + 1, sizeof(s)))
		rc = wal_set_error(WAL_ENOMEM, "out of memory for segments");
	if (rc != WAL_OK)
	{
		if (s.fd >= 0)
			close(s.fd);
		return rc;
	}
	w->segs[w->n_segs++] = s;
	return WAL_OK;
}

int
wal_recover(struct wal *w)
{
	struct seg_list l = {0};
	uint8_t    *buf = NULL;
	size_t		cap = 0;
	int			rc = list_segments(w, &l);

	for (size_t k = 0; rc == WAL_OK && k < l.n; k++)
		rc = recover_segment(w, &l, k, &buf, &cap);
	free(buf);
	free(l.firsts);
	if (rc != WAL_OK)
		return rc;
	if (w->n_pos == 0 && w->n_segs > 0)
		w->disk_first = w->segs[w->n_segs - 1].first_index;
	w->view_first = w->n_pos ? w->disk_first : 0;
	w->view_last = w->n_pos ? w->disk_first + w->n_pos - 1 : 0;
	w->persisted = w->view_last;
	w->woken_upto = w->persisted;
	pgq_info("wal %s: opened, %zu segments, entries %" PRIu64 "..%" PRIu64,
			 w->dir, w->n_segs, w->view_first, w->view_last);
	return WAL_OK;
}
