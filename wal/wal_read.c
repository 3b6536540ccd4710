/*
 * wal_read.c
 *	  Reading entries and terms while appends go on.  An entry is found in
 *	  the queue (newest version wins) or, once written, through pos[] on
 *	  disk, where it is decoded and checked again (CRC, index, term).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "wal/wal.h"
#include "wal/wal_int.h"
#include "wal/wal_io.h"

struct read_out
{
	struct wal_entry *e;
	size_t		n;
	size_t		cap;
	size_t		bytes;
	size_t		max_bytes;
	bool		full;			/* stopped at the byte budget */
};

static bool
out_full(struct read_out *o, uint32_t next_len)
{
	if (o->n > 0 && o->max_bytes != 0 && o->bytes + next_len > o->max_bytes)
		o->full = true;
	return o->full;
}

static int
out_add(struct read_out *o, uint64_t index, uint64_t term, uint32_t type,
		const uint8_t *payload, uint32_t len)
{
	struct wal_entry *e;

	if (!wal_grow((void **) &o->e, &o->cap, o->n + 1, sizeof(*o->e)))
		return wal_set_error(WAL_ENOMEM, "out of memory reading entries");
	e = &o->e[o->n];
	*e = (struct wal_entry) {.index = index, .term = term, .type = type,
	.length = len, .payload = malloc(len ? len : 1)};
	if (e->payload == NULL)
		return wal_set_error(WAL_ENOMEM, "out of memory reading entries");
	memcpy(e->payload, payload, len);
	o->n++;
	o->bytes += len;
	return WAL_OK;
}

/*
 * With q_lock held: walks the queue backward from the newest item and
 * stores in items[x - lo] the live version of index x for x in [lo, hi]
 * (items has hi - lo + 1 slots, or NULL to only compute).  Older versions
 * (before a truncation) are skipped.  Returns the lowest index present in
 * the queue, down to lo (view_last + 1 when none).
 */
static uint64_t
queue_scan(struct wal *w, uint64_t lo, uint64_t hi, const struct wal_item **items)
{
	uint64_t	expected = w->view_last;

	for (uint64_t t = w->tail; t > w->head && expected >= lo && expected > 0;)
	{
		const struct wal_item *it = &w->ring[--t & w->ring_mask];

		if (it->kind != WAL_ITEM_APPEND || it->index != expected)
			continue;
		if (items && expected <= hi)
			items[expected - lo] = it;
		expected--;
	}
	return expected + 1;
}

/* With q_lock held: lo is in the view; copies [lo, hi] if all queued. */
static int
queue_copy(struct wal *w, uint64_t lo, uint64_t hi, struct read_out *o,
		   uint64_t *disk_hi)
{
	const struct wal_item **items;
	uint64_t	qs = queue_scan(w, lo, hi, NULL);
	int			rc = WAL_OK;

	if (qs > lo)
	{
		*disk_hi = qs - 1 < hi ? qs - 1 : hi;
		return WAL_OK;
	}
	*disk_hi = 0;
	items = calloc(hi - lo + 1, sizeof(*items));
	if (items == NULL)
		return wal_set_error(WAL_ENOMEM, "out of memory reading entries");
	queue_scan(w, lo, hi, items);
	for (uint64_t x = lo; x <= hi && rc == WAL_OK; x++)
	{
		const struct wal_item *it = items[x - lo];

		PGQ_ASSERT(it != NULL && it->index == x);
		if (out_full(o, it->len))
			break;
		rc = out_add(o, x, it->term, it->type,
					 it->rec + WAL_RECORD_HEADER_SIZE, it->len);
	}
	free(items);
	return rc;
}

/* With seg_lock held shared: reads and checks one record from disk. */
static int
disk_read_one(struct wal *w, uint64_t index, uint8_t **buf, size_t *cap,
			  struct wal_record *rec)
{
	const struct wal_pos *p = &w->pos[index - w->disk_first];
	const struct wal_seg *s = &w->segs[p->seg_id - w->seg_base_id];
	enum wal_format_result r;
	size_t		size;
	ssize_t		n;

	if (!wal_grow((void **) buf, cap, p->size, 1))
		return wal_set_error(WAL_ENOMEM, "out of memory reading entries");
	do
		n = wal_io.pread(s->fd, *buf, p->size, (off_t) p->off);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t) p->size)
		return wal_set_error(WAL_EIO, "read of index %llu from %s (segment %llu, "
							 "offset %llu) failed: %s", (unsigned long long) index,
							 w->dir, (unsigned long long) s->first_index,
							 (unsigned long long) p->off,
							 n < 0 ? strerror(errno) : "short read");
	r = wal_record_decode(*buf, p->size, w->opt.max_payload, rec, &size);
	if (r != WAL_FMT_OK || rec->index != index || rec->term != p->term)
		return wal_set_error(WAL_ECORRUPT, "corrupt record for index %llu in %s "
							 "(segment %llu, offset %llu): %s",
							 (unsigned long long) index, w->dir,
							 (unsigned long long) s->first_index,
							 (unsigned long long) p->off,
							 r != WAL_FMT_OK ? wal_format_result_str(r) :
							 "index or term differs from the index");
	return WAL_OK;
}

/* Copies [lo, hi] from disk, as far as written; *done = count copied. */
static int
disk_copy(struct wal *w, uint64_t lo, uint64_t hi, struct read_out *o,
		  uint64_t *done)
{
	uint8_t    *buf = NULL;
	size_t		cap = 0;
	int			rc = WAL_OK;

	*done = 0;
	pthread_rwlock_rdlock(&w->seg_lock);
	for (uint64_t x = lo; x <= hi && rc == WAL_OK; x++)
	{
		struct wal_record rec;

		if (x < w->disk_first || x >= w->disk_first + w->n_pos)
			break;
		if (out_full(o, w->pos[x - w->disk_first].size -
					 WAL_RECORD_HEADER_SIZE - WAL_RECORD_TRAILER_SIZE))
			break;
		rc = disk_read_one(w, x, &buf, &cap, &rec);
		if (rc == WAL_OK)
			rc = out_add(o, x, rec.term, rec.type, rec.payload, rec.length);
		if (rc == WAL_OK)
			(*done)++;
	}
	pthread_rwlock_unlock(&w->seg_lock);
	free(buf);
	return rc;
}

/* With q_lock held: is [lo, ...] readable at all? Clamps *hi. */
static int
check_range(struct wal *w, uint64_t lo, uint64_t *hi)
{
	if (w->failed)
		return wal_set_error(WAL_EFAILED, "wal %s failed earlier: %s", w->dir,
							 w->fail_msg);
	if (w->view_last == 0 || lo < w->view_first || lo > w->view_last || lo > *hi)
		return wal_set_error(WAL_ERANGE, "read of [%llu, %llu] outside the log "
							 "[%llu, %llu]", (unsigned long long) lo,
							 (unsigned long long) *hi,
							 (unsigned long long) w->view_first,
							 (unsigned long long) w->view_last);
	if (*hi > w->view_last)
		*hi = w->view_last;
	return WAL_OK;
}

/* One step: from the queue if cur is queued, else from disk. */
static int
read_step(struct wal *w, uint64_t cur, uint64_t hi, struct read_out *o)
{
	uint64_t	disk_hi,
				done;
	size_t		before = o->n;
	int			rc;

	pthread_mutex_lock(&w->q_lock);
	rc = check_range(w, cur, &hi);
	if (rc == WAL_OK)
		rc = queue_copy(w, cur, hi, o, &disk_hi);
	pthread_mutex_unlock(&w->q_lock);
	if (rc != WAL_OK || o->n > before)
		return rc;
	rc = disk_copy(w, cur, disk_hi, o, &done);
	if (rc == WAL_OK && done == 0 && !o->full)
		rc = wal_set_error(WAL_EAGAIN, "index %llu removed while reading",
						   (unsigned long long) cur);
	return rc;
}

int
wal_read(struct wal *w, uint64_t lo, uint64_t hi, size_t max_bytes,
		 struct wal_entry **out, size_t *n_out)
{
	struct read_out o = {.max_bytes = max_bytes};
	int			rc = WAL_OK;

	*out = NULL;
	*n_out = 0;
	while (rc == WAL_OK && lo + o.n <= hi)
	{
		size_t		before = o.n;

		rc = read_step(w, lo + o.n, hi, &o);
		if (rc == WAL_OK && (o.full || o.n == before))
			break;				/* byte budget reached */
		if (rc == WAL_ERANGE && o.n > 0)
			rc = WAL_OK, hi = lo + o.n - 1;	/* past the (clamped) end */
	}
	if (rc != WAL_OK)
	{
		wal_entries_free(o.e, o.n);
		return rc;
	}
	*out = o.e;
	*n_out = o.n;
	return WAL_OK;
}

void
wal_entries_free(struct wal_entry *entries, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(entries[i].payload);
	free(entries);
}

int
wal_term(struct wal *w, uint64_t index, uint64_t *term)
{
	const struct wal_item *it = NULL;
	uint64_t	hi = index;
	int			rc;

	pthread_mutex_lock(&w->q_lock);
	rc = check_range(w, index, &hi);
	if (rc == WAL_OK && queue_scan(w, index, index, &it) <= index)
		*term = it->term;
	pthread_mutex_unlock(&w->q_lock);
	if (rc != WAL_OK || it != NULL)
		return rc;
	pthread_rwlock_rdlock(&w->seg_lock);
	if (index >= w->disk_first && index < w->disk_first + w->n_pos)
		*term = w->pos[index - w->disk_first].term;
	else
		rc = wal_set_error(WAL_EAGAIN, "index %llu removed while reading",
						   (unsigned long long) index);
	pthread_rwlock_unlock(&w->seg_lock);
	return rc;
}
