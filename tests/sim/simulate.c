/*
 * simulate.c
 *	  Command line of the deterministic simulator of sync/core.
 *
 *	simulate --seed N --count M [--nodes 3|5] [--faults none|net|crash|all]
 *			 [--steps S] [--verbose]
 *			 [--inject-bug commit-without-majority|disk-lies|read-without-quorum]
 *			 [--heartbeat-ms H] [--election-ms E] [--notify on|off]
 *	simulate --measure-notify [--notify on|off] [--net-delay-ms D]
 *			 [--heartbeat-ms H] [--writes W] [--seed N]
 *
 * A run: boot --nodes voters; for --steps events, clients propose to the
 * primary and ask random nodes for read indexes at random times while
 * faults (by --faults) and operations (membership changes, leadership
 * transfers) are injected; then the network heals, crashed nodes restart,
 * disks recover, and within liveness_ms a primary must commit a new
 * proposal on every member of its membership, and a read asked after the
 * heal must be confirmed.  Every event is
 * followed by the checks in sim.c.  The first violation stops the program
 * with exit status 1 and the command line that replays that seed alone.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/pgq_assert.h"
#include "tests/sim/sim.h"

#define MAX_LIVE_PROPOSALS 64

struct run
{
	struct sim *s;
	bool		healed;
	uint64_t	heal_us;
	uint32_t	n_live;
	uint64_t	live_index[MAX_LIVE_PROPOSALS];
	uint64_t	live_id[MAX_LIVE_PROPOSALS];
	uint64_t	stats_faults;
};

static const char *bug_names[] = {
	[SIM_BUG_NONE] = "none",
	[SIM_BUG_COMMIT_WITHOUT_MAJORITY] = "commit-without-majority",
	[SIM_BUG_DISK_LIES] = "disk-lies",
	[SIM_BUG_READ_WITHOUT_QUORUM] = "read-without-quorum",
};

/* ---- client ---- */

static bool
client_propose(struct sim *s, uint64_t *index, uint64_t *id)
{
	struct sim_node *p = sim_primary(s);
	struct sync_update u;
	struct sync_payload pl;
	uint64_t	pid = s->next_payload_id;

	if (p == NULL)
		return false;
	pl.data = &pid;
	pl.len = sizeof(pid);
	if (sync_core_propose(p->core, &pl, 1, index, &u) != SYNC_OK)
	{
		sim_apply_update(s, p, &u);
		return false;
	}
	s->next_payload_id++;
	*id = pid;
	sim_apply_update(s, p, &u);
	return true;
}

static void
schedule_client(struct sim *s, uint64_t lo_us, uint64_t hi_us)
{
	sim_schedule(s, sim_event_new(s, SIM_EV_CLIENT,
								  s->now_us + sim_rand_range(s, lo_us, hi_us), 0));
}

static void
on_client(struct run *r)
{
	struct sim *s = r->s;
	uint64_t	index;
	uint64_t	id;
	uint32_t	burst = sim_rand(s) % 8 == 0 ? (uint32_t) sim_rand_range(s, 2, 20) : 1;

	for (uint32_t i = 0; i < burst; i++)
		if (client_propose(s, &index, &id) && r->healed && r->n_live < MAX_LIVE_PROPOSALS)
		{
			r->live_index[r->n_live] = index;
			r->live_id[r->n_live++] = id;
		}
	if (!r->healed)
		schedule_client(s, 2000, 60000);
	else if (r->n_live < MAX_LIVE_PROPOSALS)
		schedule_client(s, 50000, 150000);
}

/* ---- reads: a random node, at a random time ---- */

static void
schedule_read(struct sim *s, uint64_t lo_us, uint64_t hi_us)
{
	sim_schedule(s, sim_event_new(s, SIM_EV_READ,
								  s->now_us + sim_rand_range(s, lo_us, hi_us), 0));
}

static struct sim_node *pick_node(struct sim *s, bool up);

static void
on_read(struct run *r)
{
	struct sim_node *n = pick_node(r->s, true);

	if (n != NULL)
		sim_read_ask(r->s, n);
	if (r->healed)
		schedule_read(r->s, 50000, 150000);
	else
		schedule_read(r->s, 2000, 80000);
}

/* ---- faults and operations ---- */

static struct sim_node *
pick_node(struct sim *s, bool up)
{
	uint32_t	cand[SIM_MAX_SLOTS];
	uint32_t	n = 0;

	for (uint32_t i = 0; i < s->n_slots; i++)
		if (s->nodes[i].used && !s->nodes[i].removed && s->nodes[i].up == up)
			cand[n++] = i;
	return n ? &s->nodes[cand[sim_rand(s) % n]] : NULL;
}

static void
fault_partition(struct sim *s)
{
	uint64_t	side = sim_rand(s);
	bool		asym = sim_rand(s) % 3 == 0;

	for (uint32_t i = 0; i < s->n_slots; i++)
		for (uint32_t j = 0; j < s->n_slots; j++)
			if (((side >> i) & 1) != ((side >> j) & 1) && (!asym || ((side >> i) & 1)))
				s->blocked[i][j] = true;
	sim_log(s, "%s partition, side mask %#llx", asym ? "asymmetric" : "symmetric",
			(unsigned long long) (side & ((1u << s->n_slots) - 1)));
}

static void
fault_net(struct sim *s)
{
	switch (sim_rand(s) % 3)
	{
		case 0:
			fault_partition(s);
			break;
		case 1:
			{
				uint32_t	a = (uint32_t) (sim_rand(s) % s->n_slots);
				uint32_t	b = (uint32_t) (sim_rand(s) % s->n_slots);

				s->blocked[a][b] = true;
				sim_log(s, "link n%u -> n%u cut", a + 1, b + 1);
				break;
			}
		default:
			memset(s->blocked, 0, sizeof(s->blocked));
			sim_log(s, "network healed");
			break;
	}
}

static void
fault_disk(struct sim *s)
{
	struct sim_node *n = pick_node(s, true);
	struct sim_event *ev;

	if (n == NULL)
		return;
	n->disk_mode = sim_rand(s) % 2 ? 1 : 2;
	sim_log(s, "n%llu disk %s", (unsigned long long) n->id,
			n->disk_mode == 1 ? "slow" : "stalled");
	ev = sim_event_new(s, SIM_EV_DISK_HEAL, s->now_us + sim_rand_range(s, 200000, 2000000), 0);
	ev->node = (uint32_t) (n->id - 1);
	ev->gen = n->gen;
	sim_schedule(s, ev);
}

static void
fault_crash(struct sim *s)
{
	struct sim_node *n;

	switch (sim_rand(s) % 4)
	{
		case 0:
			if ((n = pick_node(s, true)) != NULL)
				sim_node_crash(s, n);
			break;
		case 1:
			fault_disk(s);
			break;
		default:
			if ((n = pick_node(s, false)) != NULL)
				sim_node_restart(s, n);
			break;
	}
}

static const struct sync_member *
pick_member(struct sim *s, const struct sync_config *cfg, uint32_t role)
{
	const struct sync_member *cand[SYNC_MAX_NODES];
	uint32_t	n = 0;

	for (uint32_t i = 0; i < cfg->n; i++)
		if (role == 0 || cfg->nodes[i].role == role)
			cand[n++] = &cfg->nodes[i];
	return n ? cand[sim_rand(s) % n] : NULL;
}

static void
op_add(struct sim *s, struct sim_node *p, const struct sync_status *st)
{
	struct sync_update u;
	struct sync_status after;
	uint64_t	id = s->n_slots + 1;

	if (s->n_slots >= SIM_MAX_SLOTS || st->config.n >= 7)
		return;
	if (sync_core_add_learner(p->core, id, NULL, &u) != SYNC_OK)
	{
		sim_apply_update(s, p, &u);
		return;
	}
	sim_apply_update(s, p, &u);
	sim_log(s, "n%llu adds learner n%llu", (unsigned long long) p->id,
			(unsigned long long) id);
	sync_core_status(p->core, &after);
	sim_node_boot(s, (uint32_t) (id - 1), &after.config);
}

static void
op_remove(struct sim *s, struct sim_node *p, const struct sync_status *st)
{
	const struct sync_member *m = pick_member(s, &st->config, 0);
	struct sync_update u;
	uint64_t	index;

	if (m == NULL || (m->role == SYNC_VOTER && sync_config_voters(&st->config) <= 3))
		return;
	if (sync_core_remove_node(p->core, m->id, &index, &u) == SYNC_OK)
	{
		sim_log(s, "n%llu removes n%llu at %llu", (unsigned long long) p->id,
				(unsigned long long) m->id, (unsigned long long) index);
		s->nodes[m->id - 1].remove_index = index;
		s->nodes[m->id - 1].remove_term = p->term;
	}
	sim_apply_update(s, p, &u);
}

static void
op_membership(struct sim *s)
{
	struct sim_node *p = sim_primary(s);
	struct sync_status st;
	struct sync_update u;
	const struct sync_member *m;

	if (p == NULL)
		return;
	sync_core_status(p->core, &st);
	switch (sim_rand(s) % 4)
	{
		case 0:
			op_add(s, p, &st);
			break;
		case 1:
			op_remove(s, p, &st);
			break;
		case 2:
			if ((m = pick_member(s, &st.config, SYNC_LEARNER)) == NULL)
				break;
			if (sync_core_promote(p->core, m->id, NULL, &u) == SYNC_OK)
				sim_log(s, "n%llu promotes n%llu", (unsigned long long) p->id,
						(unsigned long long) m->id);
			sim_apply_update(s, p, &u);
			break;
		default:
			if ((m = pick_member(s, &st.config, SYNC_VOTER)) == NULL || m->id == p->id)
				break;
			if (sync_core_transfer_leadership(p->core, m->id, &u) == SYNC_OK)
				sim_log(s, "n%llu transfers to n%llu", (unsigned long long) p->id,
						(unsigned long long) m->id);
			sim_apply_update(s, p, &u);
			break;
	}
}

static void
on_fault(struct run *r)
{
	struct sim *s = r->s;
	uint32_t	kinds = 1 + s->o.net_faults + s->o.crash_faults;
	uint32_t	k = (uint32_t) (sim_rand(s) % kinds);

	if (r->healed)
		return;
	r->stats_faults++;
	if (k == 0)
		op_membership(s);
	else if (k == 1 && s->o.net_faults)
		fault_net(s);
	else
		fault_crash(s);
	sim_schedule(s, sim_event_new(s, SIM_EV_FAULT,
								  s->now_us + sim_rand_range(s, 100000, 1200000), 0));
}

/* A node whose removal committed is stopped for good. */
static void
check_removals(struct sim *s)
{
	for (uint32_t i = 0; i < s->n_slots; i++)
	{
		struct sim_node *n = &s->nodes[i];
		uint64_t	x = n->remove_index;

		if (x == 0 || x > s->h_max || s->h_term[x] == 0)
			continue;
		n->remove_index = 0;
		if (s->h_term[x] != n->remove_term)
			continue;			/* that entry lost: removal cancelled */
		sim_log(s, "n%llu stops: its removal committed", (unsigned long long) n->id);
		if (n->up)
			sim_node_crash(s, n);
		n->removed = true;
	}
}

/* ---- the run ---- */

static void
heal(struct run *r)
{
	struct sim *s = r->s;

	r->healed = true;
	r->heal_us = s->now_us;
	memset(s->blocked, 0, sizeof(s->blocked));
	s->o.net_faults = false;
	for (uint32_t i = 0; i < s->n_slots; i++)
	{
		struct sim_node *n = &s->nodes[i];

		n->disk_mode = 0;
		if (n->used && !n->up && !n->removed)
			sim_node_restart(s, n);
	}
	sim_log(s, "faults stop: network healed, all nodes up");
	schedule_client(s, 1000, 50000);
	s->live_read_from = s->n_reads + 1;
}

/* Liveness: a post-heal read confirmed, and some post-heal proposal
 * committed on every member. */
static bool
live_done(struct run *r)
{
	struct sim *s = r->s;
	struct sim_node *p = sim_primary(s);
	struct sync_status st;

	if (p == NULL || !s->live_read_ok)
		return false;
	sync_core_status(p->core, &st);
	for (uint32_t k = 0; k < r->n_live; k++)
	{
		uint64_t	x = r->live_index[k];
		bool		all = x <= s->h_max && s->h_id[x] == r->live_id[k];

		for (uint32_t i = 0; i < st.config.n && all; i++)
		{
			struct sim_node *n = &s->nodes[st.config.nodes[i].id - 1];

			all = n->up && n->commit >= x;
		}
		if (all)
			return true;
	}
	return false;
}

static void
dispatch(struct run *r, struct sim_event *ev)
{
	if (sim_handle_world_event(r->s, ev))
		return;
	if (ev->kind == SIM_EV_CLIENT)
		on_client(r);
	else if (ev->kind == SIM_EV_READ)
		on_read(r);
	else if (ev->kind == SIM_EV_FAULT)
		on_fault(r);
}

/* For a failed run with --verbose: where every node stands. */
static void
dump_state(struct sim *s)
{
	struct sim_node *p = sim_primary(s);

	for (uint32_t i = 0; i < s->n_slots; i++)
	{
		struct sim_node *n = &s->nodes[i];
		struct sync_peer_status ps;

		sim_log(s, "state n%llu: %s%s role %s term %llu log %llu..%llu durable %llu "
				"commit %llu applied %llu", (unsigned long long) n->id,
				n->up ? "up" : "down", n->removed ? " removed" : "",
				sync_role_name(n->role), (unsigned long long) n->term,
				(unsigned long long) n->first_index, (unsigned long long) n->last_index,
				(unsigned long long) n->durable, (unsigned long long) n->commit,
				(unsigned long long) n->applied);
		if (p != NULL && sync_core_peer(p->core, n->id, &ps))
			sim_log(s, "  progress at n%llu: state %u match %llu next %llu "
					"inflight %u commit_sent %llu", (unsigned long long) p->id,
					ps.state, (unsigned long long) ps.match,
					(unsigned long long) ps.next, ps.inflight,
					(unsigned long long) ps.commit_sent);
	}
}

/* Returns true if the seed passed. */
static bool
run_seed(const struct sim_opts *o, uint64_t seed, struct sim *s)
{
	struct run	r;
	struct sync_config cfg;
	struct sim_event *ev;

	memset(&r, 0, sizeof(r));
	r.s = s;
	sim_init(s, o, seed);
	memset(&cfg, 0, sizeof(cfg));
	cfg.n = o->nodes;
	for (uint32_t i = 0; i < o->nodes; i++)
	{
		cfg.nodes[i].id = i + 1;
		cfg.nodes[i].role = SYNC_VOTER;
	}
	for (uint32_t i = 0; i < o->nodes; i++)
		sim_node_boot(s, i, &cfg);
	schedule_client(s, 1000, 50000);
	schedule_read(s, 1000, 50000);
	sim_schedule(s, sim_event_new(s, SIM_EV_FAULT, s->now_us + 300000, 0));
	while (!s->failed && (ev = sim_pop(s)) != NULL)
	{
		dispatch(&r, ev);
		free(ev);
		check_removals(s);
		sim_check_reads_answered(s);
		if (!r.healed && ++s->steps_done >= o->steps)
			heal(&r);
		if (r.healed && live_done(&r))
			break;
		if (r.healed && s->now_us > r.heal_us + o->liveness_ms * 1000)
			sim_fail(s, "liveness: no primary committed a new entry on every "
					 "member and confirmed a read within %llu ms of the heal",
					 (unsigned long long) o->liveness_ms);
	}
	if (s->failed)
		dump_state(s);
	return !s->failed;
}

/* ---- measurement of the idle commit notification ---- */

struct measure
{
	struct sim_map commit_at;	/* index -> when the primary committed it */
	uint64_t   *samples;
	uint32_t	n;
	uint32_t	cap;
};

static void
measure_hook(struct sim *s, struct sim_node *n, uint64_t old)
{
	struct measure *m = s->hook_ctx;

	for (uint64_t i = old + 1; i <= n->commit; i++)
	{
		struct sim_map_slot *sl;

		if (i < n->first_index || sim_entry_id(sim_log_at(n, i)) == 0)
			continue;
		if (n->role == SYNC_PRIMARY)
		{
			sl = map_find_pub(&m->commit_at, i, true);
			sl->v1 = s->now_us;
			continue;
		}
		sl = map_find_pub(&m->commit_at, i, false);
		if (sl == NULL)
			continue;
		if (m->n == m->cap)
		{
			m->cap = m->cap ? m->cap * 2 : 1024;
			m->samples = realloc(m->samples, m->cap * sizeof(uint64_t));
			PGQ_ASSERT(m->samples != NULL);
		}
		m->samples[m->n++] = s->now_us - sl->v1;
		if (s->now_us - sl->v1 > 10 * s->o.net_max_us)
			sim_log(s, "slow: n%llu learned commit of %llu after %llu us",
					(unsigned long long) n->id, (unsigned long long) i,
					(unsigned long long) (s->now_us - sl->v1));
	}
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a;
	uint64_t	y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

static uint64_t
percentile(const uint64_t *v, uint32_t n, uint32_t pct)
{
	uint32_t	i = (uint32_t) (((uint64_t) n * pct + 99) / 100);

	return n ? v[i ? i - 1 : 0] : 0;
}

static int
measure_notify(const struct sim_opts *o, uint64_t seed, uint32_t writes)
{
	struct sim *s = calloc(1, sizeof(*s));
	struct measure m;
	struct run	r;
	struct sync_config cfg;
	struct sim_event *ev;
	uint32_t	proposed = 0;
	int			rc;

	PGQ_ASSERT(s != NULL);
	memset(&m, 0, sizeof(m));
	memset(&r, 0, sizeof(r));
	memset(&cfg, 0, sizeof(cfg));
	sim_init(s, o, seed);
	s->commit_hook = measure_hook;
	s->hook_ctx = &m;
	cfg.n = o->nodes;
	for (uint32_t i = 0; i < o->nodes; i++)
	{
		cfg.nodes[i].id = i + 1;
		cfg.nodes[i].role = SYNC_VOTER;
	}
	for (uint32_t i = 0; i < o->nodes; i++)
		sim_node_boot(s, i, &cfg);
	r.s = s;
	r.healed = true;
	r.n_live = MAX_LIVE_PROPOSALS;	/* the client loop below is ours */
	sim_schedule(s, sim_event_new(s, SIM_EV_CLIENT, s->now_us + 3000000, 0));
	while ((ev = sim_pop(s)) != NULL && !s->failed)
	{
		if (ev->kind == SIM_EV_CLIENT)
		{
			uint64_t	index,
						id;

			if (proposed < writes)
			{
				proposed += client_propose(s, &index, &id);
				/* isolated writes: idle gaps longer than a heartbeat */
				schedule_client(s, 250000, 750000);
			}
		}
		else
			sim_handle_world_event(s, ev);
		free(ev);
		if (proposed >= writes && m.n >= (uint64_t) writes * (o->nodes - 1))
			break;
	}
	qsort(m.samples, m.n, sizeof(uint64_t), cmp_u64);
	printf("measure notify=%s nodes=%u net_delay_us=%llu heartbeat_ms=%u writes=%u "
		   "samples=%u p50_us=%llu p99_us=%llu max_us=%llu%s%s\n",
		   o->notify ? "on" : "off", o->nodes, (unsigned long long) o->net_min_us,
		   o->heartbeat_ms, proposed, m.n,
		   (unsigned long long) percentile(m.samples, m.n, 50),
		   (unsigned long long) percentile(m.samples, m.n, 99),
		   (unsigned long long) (m.n ? m.samples[m.n - 1] : 0),
		   s->failed ? " VIOLATION: " : "", s->failed ? s->violation : "");
	rc = s->failed ? 1 : 0;
	free(m.samples);
	free(m.commit_at.slots);
	sim_free(s);
	free(s);
	return rc;
}

/* ---- command line ---- */

static void
usage(const char *argv0)
{
	fprintf(stderr,
			"usage: %s --seed N --count M [--nodes 3|5] [--faults none|net|crash|all]\n"
			"          [--steps S] [--verbose]\n"
			"          [--inject-bug commit-without-majority|disk-lies|read-without-quorum]\n"
			"          [--expect-violation] [--heartbeat-ms H] [--election-ms E] [--notify on|off]\n"
			"       %s --measure-notify [--notify on|off] [--net-delay-ms D]\n"
			"          [--heartbeat-ms H] [--writes W] [--seed N]\n", argv0, argv0);
	exit(2);
}

struct cli
{
	struct sim_opts o;
	uint64_t	seed;
	uint64_t	count;
	const char *faults;
	bool		measure;
	bool		expect_violation;
	uint32_t	writes;
	double		net_delay_ms;
};

static bool
parse_arg(struct cli *c, const char *k, const char *v)
{
	if (strcmp(k, "--seed") == 0)
		c->seed = strtoull(v, NULL, 10);
	else if (strcmp(k, "--count") == 0)
		c->count = strtoull(v, NULL, 10);
	else if (strcmp(k, "--nodes") == 0)
		c->o.nodes = (uint32_t) atoi(v);
	else if (strcmp(k, "--steps") == 0)
		c->o.steps = (uint32_t) atoi(v);
	else if (strcmp(k, "--faults") == 0)
		c->faults = v;
	else if (strcmp(k, "--heartbeat-ms") == 0)
		c->o.heartbeat_ms = (uint32_t) atoi(v);
	else if (strcmp(k, "--election-ms") == 0)
		c->o.election_ms = (uint32_t) atoi(v);
	else if (strcmp(k, "--notify") == 0)
		c->o.notify = strcmp(v, "off") != 0;
	else if (strcmp(k, "--writes") == 0)
		c->writes = (uint32_t) atoi(v);
	else if (strcmp(k, "--net-delay-ms") == 0)
		c->net_delay_ms = atof(v);
	else if (strcmp(k, "--inject-bug") == 0)
	{
		for (uint32_t i = 1; i < PGQ_LENGTHOF(bug_names); i++)
			if (strcmp(v, bug_names[i]) == 0)
				c->o.bug = i;
		return c->o.bug != SIM_BUG_NONE;
	}
	else
		return false;
	return true;
}

static void
parse_cli(struct cli *c, int argc, char **argv)
{
	memset(c, 0, sizeof(*c));
	c->o.nodes = 3;
	c->o.steps = 10000;
	c->o.heartbeat_ms = 100;
	c->o.election_ms = 1000;
	c->o.notify = true;
	c->o.liveness_ms = 30000;
	c->count = 1;
	c->faults = "all";
	c->writes = 1000;
	c->net_delay_ms = 1;
	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--verbose") == 0)
			c->o.verbose = true;
		else if (strcmp(argv[i], "--measure-notify") == 0)
			c->measure = true;
		else if (strcmp(argv[i], "--expect-violation") == 0)
			c->expect_violation = true;
		else if (i + 1 >= argc || !parse_arg(c, argv[i], argv[i + 1]))
			usage(argv[0]);
		else
			i++;
	}
	if ((c->o.nodes != 3 && c->o.nodes != 5) || c->count == 0 ||
		c->o.election_ms <= c->o.heartbeat_ms)
		usage(argv[0]);
	c->o.net_faults = strcmp(c->faults, "net") == 0 || strcmp(c->faults, "all") == 0;
	c->o.crash_faults = strcmp(c->faults, "crash") == 0 || strcmp(c->faults, "all") == 0;
	if (!c->o.net_faults && !c->o.crash_faults && strcmp(c->faults, "none") != 0)
		usage(argv[0]);
	c->o.net_min_us = 1000;
	c->o.net_max_us = 20000;
	c->o.disk_min_us = 200;
	c->o.disk_max_us = 5000;
	c->o.loss_pct = 5;
	c->o.dup_pct = 3;
}

static void
print_replay(const struct cli *c, const char *argv0, uint64_t seed)
{
	printf("replay: %s --seed %llu --count 1 --nodes %u --faults %s --steps %u",
		   argv0, (unsigned long long) seed, c->o.nodes, c->faults, c->o.steps);
	if (c->o.heartbeat_ms != 100 || c->o.election_ms != 1000)
		printf(" --heartbeat-ms %u --election-ms %u", c->o.heartbeat_ms, c->o.election_ms);
	if (!c->o.notify)
		printf(" --notify off");
	if (c->o.bug != SIM_BUG_NONE)
		printf(" --inject-bug %s", bug_names[c->o.bug]);
	printf(" --verbose\n");
}

static int
run_measure(struct cli *c)
{
	c->o.nodes = 3;
	c->o.net_faults = false;
	c->o.crash_faults = false;
	c->o.net_min_us = c->o.net_max_us = (uint64_t) (c->net_delay_ms * 1000);
	c->o.disk_min_us = c->o.disk_max_us = 500;
	return measure_notify(&c->o, c->seed, c->writes);
}

int
main(int argc, char **argv)
{
	struct cli	c;
	struct sim *s = malloc(sizeof(*s));
	clock_t		t0 = clock();
	uint64_t	passed = 0;
	struct sim_read_stats reads = {0};

	PGQ_ASSERT(s != NULL);
	parse_cli(&c, argc, argv);
	if (c.measure)
	{
		free(s);
		return run_measure(&c);
	}
	for (uint64_t seed = c.seed; seed < c.seed + c.count; seed++)
	{
		bool		ok = run_seed(&c.o, seed, s);

		if (!ok)
		{
			printf("VIOLATION seed %llu: %s\n", (unsigned long long) seed, s->violation);
			print_replay(&c, argv[0], seed);
		}
		reads.asked += s->read_stats.asked;
		reads.refused_now += s->read_stats.refused_now;
		reads.confirmed += s->read_stats.confirmed;
		reads.refused += s->read_stats.refused;
		sim_free(s);
		if (!ok)
		{
			free(s);
			return c.expect_violation ? 0 : 1;
		}
		passed++;
	}
	free(s);
	printf("ok: %llu seeds from %llu, %u nodes, faults %s, %u steps: no violation (%.1f s cpu)\n",
		   (unsigned long long) passed, (unsigned long long) c.seed, c.o.nodes,
		   c.faults, c.o.steps, (double) (clock() - t0) / CLOCKS_PER_SEC);
	printf("    reads: %llu asked (%llu confirmed, %llu refused later), %llu refused at once\n",
		   (unsigned long long) reads.asked, (unsigned long long) reads.confirmed,
		   (unsigned long long) reads.refused, (unsigned long long) reads.refused_now);
	if (c.expect_violation)
	{
		printf("expected a violation (--inject-bug %s) but the checker found none\n",
			   bug_names[c.o.bug]);
		return 1;
	}
	return 0;
}
