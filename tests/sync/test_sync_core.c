/*
 * test_sync_core.c
 *	  Proves the rules of the replication core one at a time, on small
 *	  clusters of cores wired by hand (a message queue the test delivers,
 *	  drops or forges; disks the test persists explicitly).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/pgq_assert.h"
#include "sync/core/sync_core.h"

#define MAXN 5
#define STORE 1024
#define QCAP 512

struct tentry
{
	uint64_t	term;
	uint32_t	type;
	uint32_t	len;
	uint8_t		data[SYNC_CONFIG_ENCODED_MAX];
};

struct tnode
{
	uint64_t	id;
	struct sync_core *core;
	struct tentry log[STORE];
	uint64_t	last;
	struct sync_update u;		/* the last update */
};

struct qmsg
{
	struct sync_msg m;
	struct sync_entry e[64];
	uint8_t		data[64 * 16];
};

static struct tnode nodes[MAXN + 1];	/* by id */
static struct qmsg queue[QCAP];
static uint32_t qn;
static uint64_t now_ms;
static bool notify_flag = true;
static bool copy_seen[MAXN + 1];	/* peers reported in update.copies */
static struct sync_read got[MAXN + 1][SYNC_MAX_READS * 2];	/* update.reads */
static uint32_t n_got[MAXN + 1];

static int
t_read(void *ctx, uint64_t index, struct sync_entry *e)
{
	struct tnode *n = ctx;

	if (index == 0 || index > n->last)
		return -1;
	e->index = index;
	e->term = n->log[index].term;
	e->type = n->log[index].type;
	e->len = n->log[index].len;
	e->payload = n->log[index].data;
	return 0;
}

/* Handle an update: store entries, queue messages (copied). */
static void
apply(struct tnode *n, const struct sync_update *u)
{
	if (u != &n->u)
		n->u = *u;
	if (u->truncate_from)
		n->last = u->truncate_from - 1;
	for (uint32_t i = 0; i < u->n_copies; i++)
		copy_seen[u->copies[i].peer] = true;
	for (uint32_t i = 0; i < u->n_reads; i++)
	{
		assert_true(n_got[n->id] < PGQ_LENGTHOF(got[0]));
		got[n->id][n_got[n->id]++] = u->reads[i];
	}
	for (uint32_t i = 0; i < u->n_entries; i++)
	{
		const struct sync_entry *e = &u->entries[i];

		assert_int_equal(e->index, n->last + 1);
		n->last = e->index;
		n->log[e->index].term = e->term;
		n->log[e->index].type = e->type;
		n->log[e->index].len = e->len;
		if (e->len)
			memcpy(n->log[e->index].data, e->payload, e->len);
	}
	for (uint32_t i = 0; i < u->n_msgs; i++)
	{
		struct qmsg *q = &queue[qn++];
		uint8_t    *d = q->data;

		assert_true(qn < QCAP);
		q->m = u->msgs[i];
		q->m.entries = q->e;
		for (uint32_t k = 0; k < q->m.n_entries; k++)
		{
			q->e[k] = u->msgs[i].entries[k];
			if (q->e[k].len)
				memcpy(d, q->e[k].payload, q->e[k].len);
			q->e[k].payload = d;
			d += q->e[k].len;
		}
	}
}

static void
t_trace(void *ctx, uint64_t id, const char *line)
{
	printf("  n%llu: %s\n", (unsigned long long) id, line);
}

static struct tnode *
make_node(uint64_t id, const struct sync_config *cfg)
{
	struct tnode *n = &nodes[id];
	struct sync_options o;
	struct sync_boot b;

	memset(n, 0, sizeof(*n));
	n->id = id;
	sync_options_init(&o);
	o.id = id;
	o.seed = 42;
	o.max_log_entries = STORE;
	o.idle_commit_notify = notify_flag;
	o.storage.ctx = n;
	o.storage.read = t_read;
	if (getenv("SYNC_TRACE") != NULL)
		o.trace = t_trace;
	memset(&b, 0, sizeof(b));
	b.hard_state.n_configs = 1;
	b.hard_state.configs[0].config = *cfg;
	b.first_index = 1;
	b.now_ms = now_ms;
	assert_int_equal(sync_core_create(&n->core, &o, &b), SYNC_OK);
	return n;
}

static void
make_cluster(uint32_t voters)
{
	struct sync_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	memset(nodes, 0, sizeof(nodes));
	memset(copy_seen, 0, sizeof(copy_seen));
	memset(n_got, 0, sizeof(n_got));
	qn = 0;
	now_ms = 1000;
	cfg.n = voters;
	for (uint32_t i = 0; i < voters; i++)
	{
		cfg.nodes[i].id = i + 1;
		cfg.nodes[i].role = SYNC_VOTER;
	}
	for (uint32_t i = 1; i <= voters; i++)
		make_node(i, &cfg);
}

static void
free_cluster(void)
{
	for (uint32_t i = 0; i <= MAXN; i++)
		sync_core_destroy(nodes[i].core);
	memset(nodes, 0, sizeof(nodes));
}

static void
tick(uint64_t id)
{
	sync_core_tick(nodes[id].core, now_ms, &nodes[id].u);
	apply(&nodes[id], &nodes[id].u);
}

static void
persist(uint64_t id)
{
	struct tnode *n = &nodes[id];

	if (n->last == 0)
		return;
	sync_core_persisted(n->core, n->last, n->log[n->last].term, &n->u);
	apply(n, &n->u);
}

static void
step(const struct sync_msg *m)
{
	struct tnode *n = &nodes[m->to];

	if (n->core == NULL)
		return;
	sync_core_step(n->core, m, &n->u);
	apply(n, &n->u);
}

/* Take the queue (messages sent so far) and deliver it, maybe filtered. */
static uint32_t
deliver(bool (*keep) (const struct sync_msg *m))
{
	static struct qmsg batch[QCAP];
	uint32_t	n = qn;
	uint32_t	delivered = 0;

	memcpy(batch, queue, n * sizeof(queue[0]));
	qn = 0;
	for (uint32_t i = 0; i < n; i++)
	{
		batch[i].m.entries = batch[i].e;
		if (keep == NULL || keep(&batch[i].m))
		{
			step(&batch[i].m);
			delivered++;
		}
	}
	return delivered;
}

/* Deliver and persist everything until quiet. */
static void
settle(void)
{
	for (int round = 0; round < 50; round++)
	{
		for (uint32_t i = 1; i <= MAXN; i++)
			if (nodes[i].core)
				persist(i);
		if (qn == 0)
			return;
		deliver(NULL);
	}
	fail_msg("cluster did not settle");
}

static struct sync_status
status(uint64_t id)
{
	struct sync_status st;

	sync_core_status(nodes[id].core, &st);
	return st;
}

/* Time passes for every node; what they send is lost. */
static void
age_all(uint64_t ms)
{
	now_ms += ms;
	for (uint32_t i = 1; i <= MAXN; i++)
		if (nodes[i].core)
			tick(i);
	qn = 0;
}

static void
elect(uint64_t id)
{
	now_ms += 2500;
	tick(id);
	settle();
	assert_int_equal(status(id).role, SYNC_PRIMARY);
}

static uint64_t
propose(uint64_t id, uint64_t value)
{
	struct sync_payload p = {&value, sizeof(value)};
	uint64_t	index;

	assert_int_equal(sync_core_propose(nodes[id].core, &p, 1, &index, &nodes[id].u), SYNC_OK);
	apply(&nodes[id], &nodes[id].u);
	return index;
}

/* The message of a type to a node in the last update of a node, or NULL. */
static const struct sync_msg *
sent(uint64_t from, uint32_t type, uint64_t to)
{
	const struct sync_update *u = &nodes[from].u;

	for (uint32_t i = 0; i < u->n_msgs; i++)
		if (u->msgs[i].type == type && u->msgs[i].to == to)
			return &u->msgs[i];
	return NULL;
}

static uint64_t drop_node;

static bool
not_to_or_from_drop(const struct sync_msg *m)
{
	return m->to != drop_node && m->from != drop_node;
}

static bool
none(const struct sync_msg *m)
{
	return false;
}

/* ---- elections ---- */

/* A node whose election deadline passes pre-votes, then wins a real vote. */
static void
test_election(void **state)
{
	make_cluster(3);
	now_ms += 2500;
	tick(1);
	assert_int_equal(status(1).role, SYNC_PRE_CANDIDATE);
	assert_int_equal(status(1).term, 0);	/* pre-vote does not bump the term */
	settle();
	assert_int_equal(status(1).role, SYNC_PRIMARY);
	assert_int_equal(status(1).term, 1);
	assert_int_equal(status(2).leader_id, 1);
	assert_int_equal(status(3).leader_id, 1);
	assert_int_equal(status(1).commit_index, 1);	/* the no-op */
	free_cluster();
}

/* A partitioned node keeps pre-voting without raising its term, and when it
 * comes back its pre-vote is refused: the primary is not disturbed. */
static void
test_prevote_not_disrupting(void **state)
{
	make_cluster(3);
	elect(1);
	for (int i = 0; i < 5; i++)
	{
		now_ms += 2500;
		tick(3);
		drop_node = 3;
		deliver(not_to_or_from_drop);
		tick(1);
		deliver(NULL);
	}
	assert_int_equal(status(3).term, 1);
	now_ms += 2500;
	tick(3);					/* pre-vote, now delivered */
	settle();
	assert_int_equal(status(1).role, SYNC_PRIMARY);
	assert_int_equal(status(1).term, 1);
	free_cluster();
}

/* A primary that hears from no majority within an election timeout steps down. */
static void
test_check_quorum(void **state)
{
	make_cluster(3);
	elect(1);
	now_ms += 1001;
	tick(1);
	deliver(none);
	now_ms += 1001;
	tick(1);
	assert_int_equal(status(1).role, SYNC_SECONDARY);
	assert_int_equal(status(1).leader_id, 0);
	free_cluster();
}

/* ---- commit ---- */

/* An entry of an older term is not committed by counting acks; it commits
 * with an entry of the current term (Raft figure 8). */
static void
test_commit_current_term_only(void **state)
{
	struct sync_msg ack = {.type = SYNC_MSG_APPEND_RESP, .from = 2, .to = 1};
	uint64_t	x;

	make_cluster(3);
	elect(1);
	x = propose(1, 5);
	persist(1);
	deliver(none);
	now_ms += 1001;
	tick(1);
	now_ms += 1001;
	tick(1);					/* check-quorum: steps down */
	age_all(2500);
	now_ms += 2500;
	tick(1);
	deliver(NULL);				/* pre-votes */
	deliver(NULL);				/* grants */
	deliver(NULL);				/* votes */
	deliver(NULL);				/* grants: primary of term 2 */
	qn = 0;
	assert_int_equal(status(1).role, SYNC_PRIMARY);
	persist(1);
	ack.term = 2;
	ack.index = x;				/* 2 holds x (term 1), not the new no-op */
	step(&ack);
	assert_true(status(1).commit_index < x);
	ack.index = x + 1;
	step(&ack);
	assert_int_equal(status(1).commit_index, x + 1);
	free_cluster();
}

/* ---- the idle commit notification ---- */

static bool
only_appends(const struct sync_msg *m)
{
	return m->type == SYNC_MSG_APPEND;
}

/* When a secondary's ack commits an entry and nothing is left to send, the
 * primary sends it, in the same update, an empty append with the commit. */
static void
test_notify_on_ack(void **state)
{
	const struct sync_msg *m;
	uint64_t	x;

	make_cluster(3);
	elect(1);
	x = propose(1, 9);
	persist(1);
	deliver(only_appends);
	persist(2);
	persist(3);
	/* queue: ack from 2, then ack from 3 */
	assert_int_equal(qn, 2);
	step(&queue[0].m);
	m = sent(1, SYNC_MSG_APPEND, 2);
	assert_non_null(m);
	assert_int_equal(m->n_entries, 0);
	assert_true(m->flags & SYNC_FLAG_COMMIT_ONLY);
	assert_int_equal(m->commit, x);
	assert_null(sent(1, SYNC_MSG_APPEND, 3));	/* 3 not known to hold x yet */
	step(&queue[1].m);
	m = sent(1, SYNC_MSG_APPEND, 3);
	assert_non_null(m);
	assert_int_equal(m->commit, x);
	free_cluster();
}

/* When the commit index moves because of one peer's ack, every peer that
 * already holds the entries is told at once. */
static void
test_notify_all_up_to_date(void **state)
{
	uint64_t	x;
	struct qmsg acks[2];

	make_cluster(3);
	elect(1);
	x = propose(1, 9);			/* the primary does not persist yet */
	deliver(only_appends);
	persist(2);
	persist(3);
	assert_int_equal(qn, 2);
	memcpy(acks, queue, sizeof(acks));
	qn = 0;
	acks[1].m.entries = acks[1].e;
	step(&acks[1].m);			/* ack from 3: 1 of 3 persisted */
	assert_int_equal(status(1).commit_index, x - 1);
	step(&acks[0].m);			/* ack from 2: committed */
	assert_int_equal(status(1).commit_index, x);
	assert_non_null(sent(1, SYNC_MSG_APPEND, 2));
	assert_non_null(sent(1, SYNC_MSG_APPEND, 3));
	assert_int_equal(sent(1, SYNC_MSG_APPEND, 3)->commit, x);
	free_cluster();
}

/* A peer already told of the commit index is not told again. */
static void
test_notify_no_duplicate(void **state)
{
	struct qmsg ack;

	make_cluster(3);
	elect(1);
	propose(1, 9);
	persist(1);
	deliver(only_appends);
	persist(2);
	ack = queue[0];
	ack.m.entries = ack.e;
	qn = 0;
	step(&ack.m);
	assert_non_null(sent(1, SYNC_MSG_APPEND, 2));
	step(&ack.m);				/* duplicate ack */
	assert_int_equal(nodes[1].u.n_msgs, 0);
	free_cluster();
}

/* With idle_commit_notify off, an ack sends nothing; the secondary learns
 * the commit index with the next heartbeat. */
static void
test_notify_off(void **state)
{
	const struct sync_msg *m;
	uint64_t	x;

	notify_flag = false;
	make_cluster(3);
	elect(1);
	x = propose(1, 9);
	persist(1);
	deliver(only_appends);
	persist(2);
	step(&queue[0].m);
	qn = 0;
	assert_int_equal(status(1).commit_index, x);
	assert_int_equal(nodes[1].u.n_msgs, 0);
	now_ms += 100;
	tick(1);
	m = sent(1, SYNC_MSG_APPEND, 2);
	assert_non_null(m);
	assert_true(m->flags & SYNC_FLAG_HEARTBEAT);
	assert_int_equal(m->commit, x);
	notify_flag = true;
	free_cluster();
}

/* A secondary never adopts a commit index beyond what it verified to match
 * the current primary, even if its log is longer (stale entries). */
static void
test_follower_commit_bounded(void **state)
{
	struct sync_entry e[3];
	struct sync_msg m = {.type = SYNC_MSG_APPEND, .from = 2, .to = 1, .term = 1,
	.n_entries = 3, .entries = e};
	uint64_t	v = 1;

	make_cluster(3);
	for (int i = 0; i < 3; i++)
		e[i] = (struct sync_entry)
	{
		.index = i + 1,.term = 1,.type = SYNC_ENTRY_NORMAL,.len = 8,.payload = &v
	};
	step(&m);					/* 3 entries from primary 2, term 1 */
	assert_int_equal(status(1).last_index, 3);
	m = (struct sync_msg)
	{
		.type = SYNC_MSG_APPEND,.from = 3,.to = 1,.term = 2,.index = 1,
			.log_term = 1,.commit = 3
	};
	step(&m);					/* primary 3 of term 2 verified only index 1 */
	assert_int_equal(status(1).commit_index, 1);
	free_cluster();
}

/* An idle commit notification costs the secondary no persist (no entries,
 * no hard state) and no reply; it only moves the commit index. */
static void
test_commit_only_no_persist(void **state)
{
	uint64_t	x;

	make_cluster(3);
	elect(1);
	x = propose(1, 9);
	persist(1);
	deliver(only_appends);
	persist(2);
	step(&queue[0].m);
	qn = 0;
	step(sent(1, SYNC_MSG_APPEND, 2));
	assert_int_equal(nodes[2].u.n_entries, 0);
	assert_false(nodes[2].u.hard_state_changed);
	assert_int_equal(nodes[2].u.n_msgs, 0);
	assert_true(nodes[2].u.commit_changed);
	assert_int_equal(status(2).commit_index, x);
	free_cluster();
}

/* ---- replication ---- */

/* After a mismatch the secondary answers with a hint (its last index whose
 * term is <= the primary's prev term) so the primary backs up in one step. */
static void
test_fast_backup(void **state)
{
	struct sync_entry e[10];
	struct sync_msg m = {.type = SYNC_MSG_APPEND, .from = 2, .to = 1, .term = 1,
	.n_entries = 10, .entries = e};
	uint64_t	v = 1;
	const struct sync_msg *r;

	make_cluster(3);
	for (int i = 0; i < 10; i++)
		e[i] = (struct sync_entry)
	{
		.index = i + 1,.term = 1,.type = SYNC_ENTRY_NORMAL,.len = 8,.payload = &v
	};
	step(&m);
	m = (struct sync_msg)
	{
		.type = SYNC_MSG_APPEND,.from = 3,.to = 1,.term = 3,.index = 30,.log_term = 3
	};
	step(&m);
	r = sent(1, SYNC_MSG_APPEND_RESP, 3);
	assert_non_null(r);
	assert_true(r->flags & SYNC_FLAG_REJECT);
	assert_int_equal(r->hint_index, 10);
	assert_int_equal(r->log_term, 1);
	free_cluster();

	/* primary side: a lagging peer is found in one round trip */
	make_cluster(3);
	elect(1);
	for (int i = 0; i < 20; i++)
		propose(1, (uint64_t) i);
	drop_node = 3;
	settle();
	deliver(NULL);
	now_ms += 100;
	tick(1);
	drop_node = 0;
	{
		struct sync_peer_status ps;
		int			rounds = 0;

		while (qn > 0 && rounds < 10)
		{
			deliver(NULL);
			persist(3);
			rounds++;
		}
		assert_true(sync_core_peer(nodes[1].core, 3, &ps));
		assert_int_equal(ps.match, status(1).last_index);
		assert_true(rounds <= 6);
	}
	free_cluster();
}

/* Leadership transfer: the primary brings the target up to date, sends
 * TIMEOUT_NOW, and the target wins at once without a pre-vote. */
static void
test_transfer(void **state)
{
	make_cluster(3);
	elect(1);
	propose(1, 1);
	settle();
	assert_int_equal(sync_core_transfer_leadership(nodes[1].core, 2, &nodes[1].u), SYNC_OK);
	apply(&nodes[1], &nodes[1].u);
	assert_non_null(sent(1, SYNC_MSG_TIMEOUT_NOW, 2));
	{
		uint64_t	idx;
		struct sync_payload p = {"x", 1};

		assert_int_equal(sync_core_propose(nodes[1].core, &p, 1, &idx, &nodes[1].u),
						 SYNC_ERR_TRANSFERRING);
	}
	deliver(NULL);
	assert_int_equal(status(2).role, SYNC_CANDIDATE);
	assert_true(sent(2, SYNC_MSG_VOTE, 1)->flags & SYNC_FLAG_TRANSFER);
	settle();
	assert_int_equal(status(2).role, SYNC_PRIMARY);
	assert_int_equal(status(1).leader_id, 2);
	free_cluster();
}

/* A learner joins without a vote, is promoted once caught up, and removing
 * the primary itself makes it step down once the change commits. */
static void
test_membership(void **state)
{
	uint64_t	idx;
	struct sync_status st;

	make_cluster(3);
	elect(1);
	assert_int_equal(sync_core_promote(nodes[1].core, 2, NULL, &nodes[1].u), SYNC_ERR_INVALID);
	assert_int_equal(sync_core_add_learner(nodes[1].core, 4, &idx, &nodes[1].u), SYNC_OK);
	apply(&nodes[1], &nodes[1].u);
	st = status(1);
	assert_int_equal(sync_config_voters(&st.config), 3);
	assert_int_equal(sync_config_find(&st.config, 4)->role, SYNC_LEARNER);
	assert_int_equal(sync_core_add_learner(nodes[1].core, 5, NULL, &nodes[1].u),
					 SYNC_ERR_CONFIG_PENDING);
	make_node(4, &st.config);
	settle();
	assert_int_equal(status(4).commit_index, idx);
	assert_int_equal(sync_core_promote(nodes[1].core, 4, &idx, &nodes[1].u), SYNC_OK);
	apply(&nodes[1], &nodes[1].u);
	settle();
	st = status(1);
	assert_int_equal(sync_config_voters(&st.config), 4);
	assert_true(status(4).is_voter);
	/* remove the primary itself */
	assert_int_equal(sync_core_remove_node(nodes[1].core, 1, &idx, &nodes[1].u), SYNC_OK);
	apply(&nodes[1], &nodes[1].u);
	assert_int_equal(status(1).role, SYNC_PRIMARY);	/* until it commits */
	settle();
	assert_int_equal(status(1).role, SYNC_SECONDARY);
	assert_false(status(1).is_voter);
	settle();
	assert_int_not_equal(status(2).role + status(3).role + status(4).role,
						 3 * SYNC_SECONDARY);	/* TIMEOUT_NOW: a new primary */
	free_cluster();
}

/* A peer that needs compacted entries is reported in update.copies; once
 * the copy is installed, replication resumes after it. */
static void
test_copy_needed(void **state)
{
	struct sync_status st;
	struct sync_config cfg;
	uint64_t	c;
	bool		reported = false;

	make_cluster(3);
	elect(1);
	for (int i = 0; i < 10; i++)
		propose(1, (uint64_t) i);
	settle();
	c = status(1).commit_index;
	sync_core_compacted(nodes[1].core, c - 2, &nodes[1].u);
	apply(&nodes[1], &nodes[1].u);
	assert_int_equal(sync_core_add_learner(nodes[1].core, 4, NULL, &nodes[1].u), SYNC_OK);
	apply(&nodes[1], &nodes[1].u);
	st = status(1);
	make_node(4, &st.config);
	for (int r = 0; r < 10 && !copy_seen[4]; r++)
	{
		deliver(NULL);
		persist(1);
		persist(2);
		persist(3);
	}
	reported = copy_seen[4];
	assert_true(reported);
	/* the caller copies the data through the commit index, tells both sides */
	c = status(1).commit_index;
	assert_true(sync_core_config_at(nodes[1].core, c, &cfg));
	sync_core_copy_installed(nodes[4].core, c, nodes[1].log[c].term, &cfg, &nodes[4].u);
	apply(&nodes[4], &nodes[4].u);
	nodes[4].last = c;
	sync_core_copy_done(nodes[1].core, 4, true, c, &nodes[1].u);
	apply(&nodes[1], &nodes[1].u);
	now_ms += 100;
	tick(1);
	settle();
	assert_int_equal(status(4).last_index, status(1).last_index);
	assert_int_equal(status(4).commit_index, status(1).commit_index);
	free_cluster();
}

/* ---- ReadIndex ---- */

/* Ask as the drivers do: the core's clock brought to now first (a read's
 * deadline runs from it). */
static int
read_index(uint64_t id, uint64_t ctx)
{
	int			rc;

	tick(id);
	rc = sync_core_read_index(nodes[id].core, ctx, &nodes[id].u);
	apply(&nodes[id], &nodes[id].u);
	return rc;
}

/* The answer with ctx that node id got, or NULL. */
static const struct sync_read *
answer(uint64_t id, uint64_t ctx)
{
	for (uint32_t i = 0; i < n_got[id]; i++)
		if (got[id][i].ctx == ctx)
			return &got[id][i];
	return NULL;
}

/* Three nodes, 1 primary, one entry committed everywhere: its index. */
static uint64_t
three_with_entry(void)
{
	uint64_t	x;

	make_cluster(3);
	elect(1);
	x = propose(1, 7);
	settle();
	return x;
}

static uint64_t keep_to;

static bool
only_to_keep(const struct sync_msg *m)
{
	return m->to == keep_to;
}

/* Move the queue aside (messages in flight), to deliver later. */
static uint32_t
hold(struct qmsg *held)
{
	uint32_t	n = qn;

	memcpy(held, queue, n * sizeof(queue[0]));
	for (uint32_t i = 0; i < n; i++)
		held[i].m.entries = held[i].e;
	qn = 0;
	return n;
}

/* A 3-node primary starts a round, heartbeats both peers at once, and one
 * ack that echoes the round makes a quorum: the read index is its commit. */
static void
test_read_primary_confirms(void **state)
{
	const struct sync_msg *hb;
	uint64_t	x = three_with_entry();

	assert_int_equal(read_index(1, 70), SYNC_OK);
	assert_int_equal(nodes[1].u.n_reads, 0);	/* not before a quorum */
	hb = sent(1, SYNC_MSG_APPEND, 2);
	assert_non_null(hb);
	assert_true(hb->flags & SYNC_FLAG_HEARTBEAT);
	assert_int_equal(hb->round, 1);
	assert_int_equal(sent(1, SYNC_MSG_APPEND, 3)->round, 1);
	keep_to = 2;
	deliver(only_to_keep);		/* 2 gets its heartbeat, 3 does not */
	assert_int_equal(sent(2, SYNC_MSG_APPEND_RESP, 1)->round, 1);
	deliver(NULL);				/* 2's ack */
	assert_non_null(answer(1, 70));
	assert_true(answer(1, 70)->ok);
	assert_int_equal(answer(1, 70)->index, x);
	free_cluster();
}

/* An ack that echoes an older round does not confirm a newer read, even
 * though it arrives after the read was asked. */
static void
test_read_old_round(void **state)
{
	static struct qmsg held[QCAP];
	uint32_t	n;

	make_cluster(3);
	elect(1);
	assert_int_equal(read_index(1, 1), SYNC_OK);	/* round 1 */
	keep_to = 2;
	deliver(only_to_keep);
	n = hold(held);				/* 2's ack of round 1, in flight */
	assert_int_equal(n, 1);
	assert_int_equal(held[0].m.round, 1);
	assert_int_equal(read_index(1, 2), SYNC_OK);	/* round 2 */
	qn = 0;						/* its heartbeats are lost */
	step(&held[0].m);
	assert_non_null(answer(1, 1));
	assert_true(answer(1, 1)->ok);
	assert_null(answer(1, 2));	/* round 1 < 2 */
	step(&held[0].m);			/* a duplicate does not help either */
	assert_null(answer(1, 2));
	now_ms += 100;
	tick(1);					/* the next heartbeat carries round 2 */
	settle();
	assert_non_null(answer(1, 2));
	assert_true(answer(1, 2)->ok);
	free_cluster();
}

/* A secondary forwards the read to the primary and gets the index in a
 * READ_INDEX_RESP; a response from another node than its primary is
 * ignored. */
static void
test_read_forwarded(void **state)
{
	const struct sync_msg *m;
	struct sync_msg forged = {.type = SYNC_MSG_READ_INDEX_RESP, .from = 3, .to = 2,
	.term = 1, .hint_index = 5, .commit = 1000};
	struct sync_status st;
	uint64_t	x = three_with_entry();

	assert_int_equal(read_index(2, 5), SYNC_OK);
	m = sent(2, SYNC_MSG_READ_INDEX, 1);
	assert_non_null(m);
	assert_int_equal(m->hint_index, 5);
	step(&forged);
	assert_null(answer(2, 5));	/* not from its primary */
	settle();
	assert_non_null(answer(2, 5));
	assert_true(answer(2, 5)->ok);
	assert_int_equal(answer(2, 5)->index, x);
	assert_int_equal(n_got[1], 0);	/* no local answer on the primary */
	/* without a known primary there is nobody to ask */
	st = status(1);
	sync_core_destroy(nodes[3].core);
	make_node(3, &st.config);
	assert_int_equal(read_index(3, 6), SYNC_ERR_NOT_PRIMARY);
	free_cluster();
}

/* A primary that loses its term refuses the reads it holds: a local one
 * with ok=false, a peer's with a REJECT in the term it was asked in; and a
 * read nobody answers is refused after an election timeout. */
static void
test_read_stepdown_refuses(void **state)
{
	struct sync_msg newer = {.type = SYNC_MSG_APPEND, .from = 3, .to = 1, .term = 5};
	const struct sync_msg *r;

	make_cluster(3);
	elect(1);
	assert_int_equal(read_index(1, 1), SYNC_OK);
	qn = 0;
	assert_int_equal(read_index(2, 2), SYNC_OK);
	deliver(NULL);				/* READ_INDEX to 1 */
	qn = 0;						/* heartbeats lost */
	assert_null(answer(1, 1));
	step(&newer);				/* 1 learns of term 5: secondary */
	assert_int_equal(status(1).role, SYNC_SECONDARY);
	assert_non_null(answer(1, 1));
	assert_false(answer(1, 1)->ok);
	r = sent(1, SYNC_MSG_READ_INDEX_RESP, 2);
	assert_non_null(r);
	assert_true(r->flags & SYNC_FLAG_REJECT);
	assert_int_equal(r->term, 1);
	assert_int_equal(r->hint_index, 2);
	deliver(NULL);
	assert_non_null(answer(2, 2));
	assert_false(answer(2, 2)->ok);
	free_cluster();

	make_cluster(3);
	elect(1);
	assert_int_equal(read_index(1, 3), SYNC_OK);
	assert_int_equal(read_index(2, 4), SYNC_OK);
	assert_true(nodes[2].u.next_tick_ms <= now_ms + 1000);	/* its deadline */
	qn = 0;						/* everything lost */
	now_ms += 999;
	tick(1);
	tick(2);
	assert_int_equal(n_got[1] + n_got[2], 0);
	now_ms += 1;
	tick(1);
	tick(2);
	/* nobody changed role: the deadline refused them */
	assert_int_equal(status(1).role, SYNC_PRIMARY);
	assert_int_equal(status(2).leader_id, 1);
	assert_false(answer(1, 3)->ok);
	assert_false(answer(2, 4)->ok);
	free_cluster();
}

/* While it hands leadership over, the primary refuses reads: its own at
 * once, a peer's with a REJECT. */
static void
test_read_transfer_refuses(void **state)
{
	const struct sync_msg *r;

	three_with_entry();
	assert_int_equal(sync_core_transfer_leadership(nodes[1].core, 2, &nodes[1].u), SYNC_OK);
	apply(&nodes[1], &nodes[1].u);
	qn = 0;						/* TIMEOUT_NOW lost: still transferring */
	assert_int_equal(read_index(1, 1), SYNC_ERR_TRANSFERRING);
	assert_int_equal(nodes[1].u.n_msgs, 0);
	assert_int_equal(read_index(3, 2), SYNC_OK);
	deliver(NULL);
	r = sent(1, SYNC_MSG_READ_INDEX_RESP, 3);
	assert_non_null(r);
	assert_true(r->flags & SYNC_FLAG_REJECT);
	deliver(NULL);
	assert_false(answer(3, 2)->ok);
	free_cluster();
}

/* One voter is a quorum: the answer comes in the same update, once its
 * no-op is committed; before that the read waits for it. */
static void
test_read_single_node(void **state)
{
	uint64_t	x;

	make_cluster(1);
	now_ms += 2500;
	tick(1);
	assert_int_equal(status(1).role, SYNC_PRIMARY);
	assert_int_equal(status(1).commit_index, 0);	/* no-op not persisted */
	assert_int_equal(read_index(1, 1), SYNC_OK);
	assert_null(answer(1, 1));
	persist(1);
	assert_non_null(answer(1, 1));
	assert_true(answer(1, 1)->ok);
	assert_int_equal(answer(1, 1)->index, 1);
	x = propose(1, 9);
	persist(1);
	assert_int_equal(read_index(1, 2), SYNC_OK);
	assert_int_equal(nodes[1].u.n_reads, 1);
	assert_true(answer(1, 2)->ok);
	assert_int_equal(answer(1, 2)->index, x);
	free_cluster();
}

/* At most SYNC_MAX_READS wait on a node: beyond, BUSY (a peer's: REJECT). */
static void
test_read_bounded(void **state)
{
	make_cluster(3);
	elect(1);
	for (uint64_t i = 0; i < SYNC_MAX_READS; i++)
		assert_int_equal(read_index(1, i), SYNC_OK);
	assert_int_equal(read_index(1, 99), SYNC_ERR_BUSY);
	assert_int_equal(read_index(2, 100), SYNC_OK);
	deliver(NULL);
	assert_true(sent(1, SYNC_MSG_READ_INDEX_RESP, 2)->flags & SYNC_FLAG_REJECT);
	settle();
	assert_int_equal(n_got[1], SYNC_MAX_READS);
	for (uint64_t i = 0; i < SYNC_MAX_READS; i++)
		assert_true(answer(1, i)->ok);
	assert_false(answer(2, 100)->ok);
	free_cluster();
}

/* The config payload codec round-trips and rejects malformed input. */
static void
test_config_codec(void **state)
{
	struct sync_config a = {.n = 2, .nodes = {{7, SYNC_VOTER}, {9, SYNC_LEARNER}}};
	struct sync_config b;
	uint8_t		buf[SYNC_CONFIG_ENCODED_MAX];
	uint32_t	len = sync_config_encode(&a, buf, sizeof(buf));

	assert_int_equal(len, 4 + 2 * 9);
	assert_true(sync_config_decode(buf, len, &b));
	assert_memory_equal(&a, &b, sizeof(a));
	assert_false(sync_config_decode(buf, len - 1, &b));
	buf[4 + 8] = 3;				/* bad role */
	assert_false(sync_config_decode(buf, len, &b));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_election),
		cmocka_unit_test(test_prevote_not_disrupting),
		cmocka_unit_test(test_check_quorum),
		cmocka_unit_test(test_commit_current_term_only),
		cmocka_unit_test(test_notify_on_ack),
		cmocka_unit_test(test_notify_all_up_to_date),
		cmocka_unit_test(test_notify_no_duplicate),
		cmocka_unit_test(test_notify_off),
		cmocka_unit_test(test_follower_commit_bounded),
		cmocka_unit_test(test_commit_only_no_persist),
		cmocka_unit_test(test_fast_backup),
		cmocka_unit_test(test_transfer),
		cmocka_unit_test(test_membership),
		cmocka_unit_test(test_copy_needed),
		cmocka_unit_test(test_read_primary_confirms),
		cmocka_unit_test(test_read_old_round),
		cmocka_unit_test(test_read_forwarded),
		cmocka_unit_test(test_read_stepdown_refuses),
		cmocka_unit_test(test_read_transfer_refuses),
		cmocka_unit_test(test_read_single_node),
		cmocka_unit_test(test_read_bounded),
		cmocka_unit_test(test_config_codec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
