/*
 * node_admin.c
 *	  Live figures for pgquorum.nodes, .log, .sessions, .stats, .settings
 *	  (one row producer per view, in a table) and the node's side of the
 *	  admin functions and read consistency.  docs/admin-views.md.
 *
 * A timer samples the log's counters every NODE_ADMIN_SAMPLE_MS into a
 * ring covering the last minute (pgquorum.log's rates), and notes when
 * each member was last caught up with the commit index (lag_ms).
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>

#include "common/pgq_assert.h"
#include "common/pgq_config.h"
#include "common/pgq_log.h"
#include "node/node_admin.h"
#include "proxy/proxy.h"
#include "proxy/proxy_admin.h"
#include "sql/sql_admin.h"
#include "sql/sql_admin_cmd.h"
#include "sql/sql_classify.h"
#include "sync/applier.h"
#include "sync/commit.h"
#include "sync/sync_node.h"
#include "wal/wal.h"

#define NODE_ADMIN_SAMPLE_MS	250
#define NODE_ADMIN_WINDOW_S		60
#define NODE_ADMIN_SAMPLES		(NODE_ADMIN_WINDOW_S * 1000 / NODE_ADMIN_SAMPLE_MS + 1)
#define NODE_ADMIN_LATENCIES	4096	/* commit latencies kept (the last ones) */
#define NODE_ADMIN_MAX_MEMBERS	9

struct wal_sample
{
	double		t;				/* loop time, s */
	uint64_t	entries;
	uint64_t	fsyncs;
	uint64_t	batches;
	uint64_t	batched_entries;
};

struct node_admin
{
	struct ev_loop *loop;
	struct node_admin_targets t;
	ev_timer	sampler;
	struct wal_sample samples[NODE_ADMIN_SAMPLES];
	int			n_samples;
	int			next_sample;
	/* per member (by position in the membership): when last caught up */
	uint64_t	member_id[NODE_ADMIN_MAX_MEMBERS];
	double		caught_up_at[NODE_ADMIN_MAX_MEMBERS];
	double		latencies[NODE_ADMIN_LATENCIES];
	uint64_t	n_latencies;	/* ever recorded */
	uint64_t	commits_failed;
};

static const struct pgq_config *
cfg_of(const struct node_admin *adm)
{
	return *adm->t.cfg;
}

/* ---- formatting helpers ---- */

typedef struct row_text
{
	char		buf[20][96];
	const char *v[20];
} row_text;

static void
put_u64(row_text *r, int i, uint64_t x)
{
	snprintf(r->buf[i], sizeof(r->buf[i]), "%" PRIu64, x);
	r->v[i] = r->buf[i];
}

static void
put_i64(row_text *r, int i, int64_t x)
{
	snprintf(r->buf[i], sizeof(r->buf[i]), "%" PRId64, x);
	r->v[i] = r->buf[i];
}

static void
put_f8(row_text *r, int i, double x)
{
	snprintf(r->buf[i], sizeof(r->buf[i]), "%.3f", x);
	r->v[i] = r->buf[i];
}

static void
put_bool(row_text *r, int i, bool x)
{
	r->v[i] = x ? "t" : "f";
}

static void
put_str(row_text *r, int i, const char *s)
{
	r->v[i] = s;
}

static void
put_addr(row_text *r, int i, const struct pgq_addr *a)
{
	snprintf(r->buf[i], sizeof(r->buf[i]), strchr(a->host, ':') ? "[%s]:%u" : "%s:%u",
			 a->host, a->port);
	r->v[i] = r->buf[i];
}

/* Unix time t as timestamptz input, UTC. */
static void
put_time(row_text *r, int i, double t)
{
	time_t		sec = (time_t) t;
	struct tm	tm;
	int			usec = (int) ((t - (double) sec) * 1e6);
	char		day[40];

	if (t <= 0 || gmtime_r(&sec, &tm) == NULL)
		return;
	strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(r->buf[i], sizeof(r->buf[i]), "%s.%06d+00", day, usec < 0 ? 0 : usec);
	r->v[i] = r->buf[i];
}

/* Replication runs (not stopped for a rebuild of the local server). */
static bool
replicating(const struct node_admin *adm)
{
	return *adm->t.sync != NULL && *adm->t.commit != NULL && *adm->t.applier != NULL;
}

/* ---- sampling ---- */

static void
sample_wal(struct node_admin *adm)
{
	struct wal_stats ws;
	struct wal_sample *s = &adm->samples[adm->next_sample];

	if (!replicating(adm))
		return;
	sync_node_wal_stats(*adm->t.sync, &ws);
	s->t = ev_now(adm->loop);
	s->entries = ws.entries_appended;
	s->fsyncs = ws.fsyncs;
	s->batches = ws.batches;
	s->batched_entries = ws.batched_entries;
	adm->next_sample = (adm->next_sample + 1) % NODE_ADMIN_SAMPLES;
	if (adm->n_samples < NODE_ADMIN_SAMPLES)
		adm->n_samples++;
}

/* The slot of a member in the caught-up table (claims a free one). */
static int
member_slot(struct node_admin *adm, uint64_t id)
{
	for (int i = 0; i < NODE_ADMIN_MAX_MEMBERS; i++)
		if (adm->member_id[i] == id)
			return i;
	for (int i = 0; i < NODE_ADMIN_MAX_MEMBERS; i++)
		if (adm->member_id[i] == 0)
		{
			adm->member_id[i] = id;
			adm->caught_up_at[i] = ev_now(adm->loop);
			return i;
		}
	return -1;
}

/* A member's applied index (itself, or a peer's last ack), else its match
 * (primary's view), if known. */
static bool
member_progress(const struct sync_node_info *info, const struct sync_node_peer_info *p,
				uint64_t *index)
{
	if (p->applied_known)
		*index = p->applied_index;
	else if (strcmp(info->role, "primary") == 0)
		*index = p->match_index;
	else
		return false;
	return true;
}

static void
sample_lag(struct node_admin *adm)
{
	struct sync_node_info info;

	if (!replicating(adm))
		return;
	sync_node_status(*adm->t.sync, &info);
	for (int i = 0; i < info.n_peers; i++)
	{
		uint64_t	idx;
		int			slot = member_slot(adm, info.peers[i].id);

		if (slot >= 0 && member_progress(&info, &info.peers[i], &idx) &&
			idx >= info.commit_index)
			adm->caught_up_at[slot] = ev_now(adm->loop);
	}
	/* The effective applied index also moves past no-ops and membership
	 * entries, which the applier never reports: wake waiters here too. */
	proxy_admin_applied(adm->t.proxy, info.applied_index);
}

static void
on_sample(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node_admin *adm = w->data;

	sample_wal(adm);
	sample_lag(adm);
}

/* ---- pgquorum.nodes ---- */

static const char *
member_role(const struct sync_node_info *info, const struct sync_node_peer_info *p)
{
	if (p->id == info->id)
		return info->role;
	if (p->id == info->leader_id)
		return "primary";
	return p->voter ? "secondary" : "learner";
}

static int
node_row(struct node_admin *adm, const struct sync_node_info *info,
		 const struct sync_node_peer_info *p, sql_admin_rows *out)
{
	const struct pgq_node_addr *addr = pgq_config_node(cfg_of(adm), (uint32_t) p->id);
	bool		self = p->id == info->id;
	bool		primary_view = strcmp(info->role, "primary") == 0;
	int			election_ms = cfg_of(adm)->election_timeout_ms;
	row_text	r;
	uint64_t	progress;
	int			slot = member_slot(adm, p->id);

	memset(r.v, 0, sizeof(r.v));
	put_u64(&r, 0, p->id);
	snprintf(r.buf[1], sizeof(r.buf[1]), "node%" PRIu64, p->id);
	put_str(&r, 1, r.buf[1]);
	if (addr != NULL)
	{
		put_addr(&r, 2, &addr->client);
		put_addr(&r, 3, &addr->peer);
	}
	put_str(&r, 4, member_role(info, p));
	put_bool(&r, 5, p->voter);
	put_bool(&r, 6, self || (p->connected && p->last_contact_ms >= 0 &&
							 p->last_contact_ms < election_ms));
	if (p->last_contact_ms >= 0)
		put_i64(&r, 7, p->last_contact_ms);
	if (self)
	{
		put_u64(&r, 8, info->term);
		put_u64(&r, 9, info->last_index);
		put_u64(&r, 10, info->persisted_index);
		put_u64(&r, 11, info->commit_index);
		put_u64(&r, 12, info->applied_index);
	}
	else if (primary_view)
	{
		/* acks come after persisting: match is its persisted prefix */
		if (p->last_contact_ms >= 0 && p->last_contact_ms < election_ms)
			put_u64(&r, 8, info->term);
		put_u64(&r, 9, p->match_index);
		put_u64(&r, 10, p->match_index);
		put_u64(&r, 11, p->commit_sent);
		if (p->applied_known)
			put_u64(&r, 12, p->applied_index);
	}
	else if (p->id == info->leader_id)
		put_u64(&r, 8, info->term);
	if (member_progress(info, p, &progress))
	{
		uint64_t	lag = info->commit_index > progress ? info->commit_index - progress : 0;
		uint64_t	bytes;

		put_u64(&r, 13, lag);
		if (sync_node_log_bytes(*adm->t.sync, progress, info->commit_index, &bytes))
			put_u64(&r, 14, bytes);
		put_i64(&r, 15, lag == 0 || slot < 0 ? 0 :
				(int64_t) ((ev_now(adm->loop) - adm->caught_up_at[slot]) * 1000));
	}
	return sql_admin_rows_add(out, r.v, 16);
}

static int
rows_nodes(struct node_admin *adm, sql_admin_rows *out)
{
	struct sync_node_info info;

	if (!replicating(adm))
		return 0;
	ev_now_update(adm->loop);
	sample_lag(adm);
	sync_node_status(*adm->t.sync, &info);
	for (int i = 0; i < info.n_peers; i++)
		if (node_row(adm, &info, &info.peers[i], out) < 0)
			return -1;
	return 0;
}

/* ---- pgquorum.log ---- */

static const struct wal_sample *
oldest_in_window(const struct node_admin *adm, double now)
{
	const struct wal_sample *best = NULL;

	for (int i = 0; i < adm->n_samples; i++)
	{
		const struct wal_sample *s = &adm->samples[i];

		if (now - s->t <= NODE_ADMIN_WINDOW_S + 0.001 && (best == NULL || s->t < best->t))
			best = s;
	}
	return best;
}

static int
rows_log(struct node_admin *adm, sql_admin_rows *out)
{
	struct wal_stats ws;
	const struct wal_sample *old;
	double		now,
				dt;
	row_text	r;

	if (!replicating(adm))
		return 0;
	ev_now_update(adm->loop);
	now = ev_now(adm->loop);
	sync_node_wal_stats(*adm->t.sync, &ws);
	memset(r.v, 0, sizeof(r.v));
	put_u64(&r, 0, ws.first_index);
	put_u64(&r, 1, ws.last_index);
	put_u64(&r, 2, ws.segments);
	put_u64(&r, 3, ws.bytes_on_disk);
	old = oldest_in_window(adm, now);
	dt = old ? now - old->t : 0;
	if (old != NULL && dt > 0.5)
	{
		uint64_t	db = ws.batches - old->batches;

		put_f8(&r, 4, (double) (ws.entries_appended - old->entries) / dt);
		put_f8(&r, 5, (double) (ws.fsyncs - old->fsyncs) / dt);
		if (db > 0)
			put_f8(&r, 6, (double) (ws.batched_entries - old->batched_entries) / (double) db);
	}
	return sql_admin_rows_add(out, r.v, 7);
}

/* ---- pgquorum.sessions ---- */

struct session_walk
{
	sql_admin_rows *out;
	int			rc;
};

static void
session_row(void *arg, const struct proxy_session_info *s)
{
	struct session_walk *w = arg;
	row_text	r;

	if (w->rc < 0)
		return;
	memset(r.v, 0, sizeof(r.v));
	put_u64(&r, 0, s->id);
	put_str(&r, 1, s->user);
	put_str(&r, 2, s->database);
	put_str(&r, 3, s->client_addr[0] ? s->client_addr : NULL);
	put_str(&r, 4, s->state);
	if (s->statement_cls >= 0)
		put_str(&r, 5, sql_class_name((sql_class) s->statement_cls));
	put_str(&r, 6, s->runs_on);
	put_time(&r, 7, s->since);
	w->rc = sql_admin_rows_add(w->out, r.v, 8);
}

static int
rows_sessions(struct node_admin *adm, sql_admin_rows *out)
{
	struct session_walk w = {out, 0};

	proxy_sessions(adm->t.proxy, session_row, &w);
	return w.rc;
}

/* ---- pgquorum.stats ---- */

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentiles p50 and p99 of the kept latencies. */
static bool
latency_percentiles(const struct node_admin *adm, double *p50, double *p99)
{
	size_t		n = adm->n_latencies < NODE_ADMIN_LATENCIES ?
		(size_t) adm->n_latencies : NODE_ADMIN_LATENCIES;
	double	   *v;

	if (n == 0 || (v = malloc(n * sizeof(*v))) == NULL)
		return false;
	memcpy(v, adm->latencies, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_double);
	*p50 = v[(size_t) ceil(0.50 * (double) n) - 1];
	*p99 = v[(size_t) ceil(0.99 * (double) n) - 1];
	free(v);
	return true;
}

static int
rows_stats(struct node_admin *adm, sql_admin_rows *out)
{
	struct sync_node_info info;
	struct commit_stats cs;
	uint64_t	batches,
				entries;
	double		p50,
				p99;
	row_text	r;

	if (!replicating(adm))
		return 0;
	sync_node_status(*adm->t.sync, &info);
	commit_stats(*adm->t.commit, &cs);
	applier_stats(*adm->t.applier, &batches, &entries);
	memset(r.v, 0, sizeof(r.v));
	put_u64(&r, 0, cs.committed_txns);
	put_u64(&r, 1, adm->commits_failed);
	put_u64(&r, 2, proxy_forwarded_writes(adm->t.proxy));
	put_u64(&r, 3, info.commit_notifications_sent);
	put_u64(&r, 4, info.heartbeats_sent);
	put_u64(&r, 5, batches);
	if (batches > 0)
		put_f8(&r, 6, (double) entries / (double) batches);
	if (latency_percentiles(adm, &p50, &p99))
	{
		put_f8(&r, 7, p50);
		put_f8(&r, 8, p99);
	}
	return sql_admin_rows_add(out, r.v, 9);
}

/* ---- pgquorum.settings ---- */

static int
rows_settings(struct node_admin *adm, sql_admin_rows *out)
{
	for (size_t i = 0; i < pgq_config_key_count(); i++)
	{
		const struct pgq_config_key *key = pgq_config_key_at(i);
		char		value[1024];
		const char *v[5];

		pgq_config_format(cfg_of(adm), key, value, sizeof(value));
		v[0] = key->name;
		v[1] = value;
		v[2] = key->default_value;
		v[3] = key->reloadable ? "t" : "f";
		v[4] = key->description;
		if (sql_admin_rows_add(out, v, 5) < 0)
			return -1;
	}
	return 0;
}

/* ---- the row source: one producer per view ---- */

static int	(*const producers[SQL_ADMIN_COUNT]) (struct node_admin *, sql_admin_rows *) = {
	[SQL_ADMIN_NODES] = rows_nodes,
	[SQL_ADMIN_LOG] = rows_log,
	[SQL_ADMIN_SESSIONS] = rows_sessions,
	[SQL_ADMIN_STATS] = rows_stats,
	[SQL_ADMIN_SETTINGS] = rows_settings,
};

static int
admin_rows(void *arg, sql_admin_view v, sql_admin_rows *out)
{
	PGQ_ASSERT((unsigned) v < SQL_ADMIN_COUNT);
	return producers[v](arg, out);
}

/* ---- the proxy's admin hooks ---- */

static int
hook_rewrite(void *arg, const char *query, char **out, const char **sqlstate,
			 char *err, size_t errlen)
{
	sql_admin_row_source src = {admin_rows, arg};
	char	   *msg = NULL;
	sql_admin_status st = sql_admin_rewrite(query, &src, out, &msg);

	switch (st)
	{
		case SQL_ADMIN_UNCHANGED:
		case SQL_ADMIN_PARSE_ERROR:	/* the server reports its own error */
			free(msg);
			return 0;
		case SQL_ADMIN_REWRITTEN:
			return 1;
		default:
			*sqlstate = sql_admin_status_sqlstate(st);
			snprintf(err, errlen, "%s", msg ? msg : sql_admin_status_name(st));
			free(msg);
			return -1;
	}
}

static int
hook_command(void *arg, const char *query, struct sql_admin_cmd *cmd)
{
	return (int) sql_admin_cmd_parse(query, cmd);
}

static int
hook_call(void *arg, const struct sql_admin_cmd *cmd, char *result, size_t cap,
		  const char **sqlstate, char *err, size_t errlen)
{
	struct node_admin *adm = arg;
	const char *fn = sql_admin_fn_name(cmd->fn);
	char		why[256];
	uint64_t	index = 0;
	int			rc;

	if (cmd->iargs[0] <= 0)
	{
		*sqlstate = "22023";
		snprintf(err, errlen, "pgquorum.%s(): node id must be positive", fn);
		return -1;
	}
	if (!replicating(adm))
	{
		*sqlstate = "55000";
		snprintf(err, errlen, "pgquorum.%s(): this node is rebuilding its server; retry", fn);
		return -1;
	}
	switch (cmd->fn)
	{
		case SQL_ADMIN_FN_TRANSFER_LEADERSHIP:
			rc = sync_node_transfer(*adm->t.sync, (uint64_t) cmd->iargs[0], why, sizeof(why));
			break;
		case SQL_ADMIN_FN_ADD_NODE:
			rc = sync_node_add(*adm->t.sync, (uint64_t) cmd->iargs[0], &index, why, sizeof(why));
			break;
		case SQL_ADMIN_FN_REMOVE_NODE:
			rc = sync_node_remove(*adm->t.sync, (uint64_t) cmd->iargs[0], &index, why, sizeof(why));
			break;
		default:
			PGQ_ASSERT(false);
			return -1;
	}
	if (rc < 0)
	{
		*sqlstate = "55000";	/* object_not_in_prerequisite_state */
		snprintf(err, errlen, "pgquorum.%s(%" PRId64 ") failed: %s", fn,
				 cmd->iargs[0], why);
		return -1;
	}
	pgq_info("admin: pgquorum.%s(%" PRId64 ") started", fn, cmd->iargs[0]);
	if (cmd->fn == SQL_ADMIN_FN_TRANSFER_LEADERSHIP)
		snprintf(result, cap, "true");
	else
		snprintf(result, cap, "%" PRIu64 "::bigint", index);
	return 0;
}

static int
hook_read_index(void *arg, uint64_t ctx, char *err, size_t errlen)
{
	struct node_admin *adm = arg;

	if (!replicating(adm))
	{
		snprintf(err, errlen, "this node is not replicating now");
		return -1;
	}
	return sync_node_read_index(*adm->t.sync, ctx, err, errlen);
}

static int
hook_prepared(void *arg, const char *query, char *name)
{
	(void) arg;
	return (int) sql_admin_prepared(query, name);
}

static void
hook_state(void *arg, struct proxy_admin_state *st)
{
	struct node_admin *adm = arg;
	struct sync_node_info info;

	if (!replicating(adm))
	{
		memset(st, 0, sizeof(*st));
		return;
	}
	sync_node_status(*adm->t.sync, &info);
	st->applied = info.applied_index;
	st->commit = info.commit_index;
	st->primary = strcmp(info.role, "primary") == 0;
}

struct node_admin *
node_admin_start(struct ev_loop *loop, const struct node_admin_targets *t)
{
	struct node_admin *adm = calloc(1, sizeof(*adm));

	if (adm == NULL)
		return NULL;
	adm->loop = loop;
	adm->t = *t;
	ev_timer_init(&adm->sampler, on_sample, 0., NODE_ADMIN_SAMPLE_MS / 1000.0);
	adm->sampler.data = adm;
	ev_timer_again(loop, &adm->sampler);
	sample_wal(adm);
	proxy_set_admin_hooks(t->proxy, &(struct proxy_admin_hooks) {
		.rewrite = hook_rewrite,
		.command = hook_command,
		.call = hook_call,
		.state = hook_state,
		.read_index = hook_read_index,
		.prepared = hook_prepared,
		.arg = adm,
	});
	return adm;
}

void
node_admin_commit_done(struct node_admin *adm, bool ok, double ms)
{
	if (adm == NULL)
		return;
	if (!ok)
	{
		adm->commits_failed++;
		return;
	}
	adm->latencies[adm->n_latencies % NODE_ADMIN_LATENCIES] = ms;
	adm->n_latencies++;
}

void
node_admin_stop(struct node_admin *adm)
{
	if (adm == NULL)
		return;
	ev_timer_stop(adm->loop, &adm->sampler);
	free(adm);
}
