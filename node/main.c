/*
 * main.c
 *	  The pgquorum daemon: `pgquorum path/to/node.conf`.
 *
 * Loads and validates the configuration (exit status 2 on a bad one), sets
 * up logging and the pid file, and runs the modules on one libev loop.
 * SIGTERM and SIGINT shut down gracefully; SIGHUP reloads what can be
 * reloaded and keeps the running configuration when the new one is bad.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>

#include "common/pgq_assert.h"
#include "common/pgq_config.h"
#include "common/pgq_log.h"
#include "node/control.h"
#include "node/node_admin.h"
#include "node/pidfile.h"
#include "node/stmt_hook.h"
#include "node/rebuild.h"
#include "proxy/proxy.h"
#include "proxy/proxy_admin.h"
#include "sql/sql_classify.h"
#include "sql/sql_ddl.h"
#include "sync/applier.h"
#include "sync/commit.h"
#include "sync/sync_node.h"

#define EXIT_CONFIG 2
#define REBUILD_MIN_INTERVAL_MS 10000	/* between two rebuild attempts */

struct node
{
	struct ev_loop *loop;
	struct pgq_config *cfg;		/* owned; replaced on reload */
	struct pgq_config **retired;	/* configs replaced by a reload */
	int			n_retired;
	struct proxy *proxy;
	struct sync_node *sync;
	struct applier *applier;
	struct commit *commit;
	struct control *control;
	struct node_admin *admin;	/* admin views and functions */
	sql_cache  *sql;			/* the proxy's statement classifications */
	/* Each member's client address, resolved at start (forwarding). */
	struct
	{
		uint32_t	id;
		socklen_t	len;		/* 0: could not be resolved */
		struct sockaddr_storage addr;
	}			client_addrs[PGQ_MAX_NODES];
	/* rebuild of the local server (node/rebuild.h) */
	struct rebuild *rebuild;
	ev_timer	rebuild_timer;	/* starts it off the replication stack */
	char	   *rebuild_source;
	uint64_t	rebuild_from;
	ev_tstamp	rebuild_last;
	ev_timer	demote_timer;	/* tells the proxy, off the replication stack */
	int			exit_code;
	ev_signal	sigterm;
	ev_signal	sigint;
	ev_signal	sighup;
	bool		pidfile_written;
};

static void
usage(FILE *out)
{
	fprintf(out,
			"pgquorum is a PostgreSQL replication proxy.\n\n"
			"Usage:\n"
			"  pgquorum [OPTION] CONFIG_FILE\n\n"
			"Options:\n"
			"  -t, --check     validate CONFIG_FILE and exit\n"
			"      --describe-config  print every configuration key as a Markdown table\n"
			"  -V, --version   print the version and exit\n"
			"  -h, --help      show this help and exit\n\n"
			"Signals: SIGTERM or SIGINT stop the node gracefully; SIGHUP reloads\n"
			"the configuration file.  See docs/configuration.md for every key.\n");
}

/* The key table as the Markdown table of docs/configuration.md. */
static void
describe_config(void)
{
	static const char *const types[] = {
		[PGQ_CFG_INT] = "integer", [PGQ_CFG_BOOL] = "boolean",
		[PGQ_CFG_STRING] = "string", [PGQ_CFG_LOGLEVEL] = "log level",
		[PGQ_CFG_BYTES] = "size",
	};

	printf("| key | type | default | reload | description |\n");
	printf("|---|---|---|---|---|\n");
	for (size_t i = 0; i < pgq_config_key_count(); i++)
	{
		const struct pgq_config_key *key = pgq_config_key_at(i);
		const char *def = key->default_value;

		printf("| `%s` | %s | %s%s%s | %s | %s |\n", key->name, types[key->type],
			   def ? "`" : "", def ? (def[0] ? def : "(empty)") : "**required**",
			   def ? "`" : "", key->reloadable ? "SIGHUP" : "restart",
			   key->description);
	}
}

/* Apply the settings that logging takes from the configuration. */
static int
apply_logging(const struct pgq_config *cfg)
{
	char		prefix[32];

	pgq_log_set_level(cfg->log_level);
	snprintf(prefix, sizeof(prefix), "node %u", cfg->node_id);
	pgq_log_set_prefix(prefix);
	if (cfg->log_file[0] == '\0')
	{
		pgq_log_close_file();
		return 0;
	}
	if (pgq_log_open_file(cfg->log_file) < 0)
	{
		pgq_error("could not open log file \"%s\": %s", cfg->log_file, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Keep a replaced config alive until exit: the replication node, the commit
 * coordinator and the peer transport hold pointers into the one they were
 * started with (the struct and its strings), so freeing it on SIGHUP left
 * them reading freed memory.  A reload costs a few KiB until exit.
 */
static void
retire_config(struct node *node)
{
	struct pgq_config **r = realloc(node->retired, (node->n_retired + 1) * sizeof(*r));

	PGQ_ASSERT(r != NULL);
	node->retired = r;
	node->retired[node->n_retired++] = node->cfg;
}

static void
reload(struct node *node)
{
	struct pgq_config *cfg = malloc(sizeof(*cfg));
	char		err[1024];

	PGQ_ASSERT(cfg != NULL);
	pgq_config_init(cfg);
	if (pgq_config_load(cfg, node->cfg->path, err, sizeof(err)) < 0 ||
		pgq_config_reload_diff(node->cfg, cfg, err, sizeof(err)) < 0)
	{
		pgq_error("reload failed, keeping the running configuration: %s", err);
		pgq_config_free(cfg);
		free(cfg);
		return;
	}
	apply_logging(cfg);
	proxy_reload(node->proxy, cfg);
	retire_config(node);
	node->cfg = cfg;
	pgq_info("configuration reloaded from \"%s\"", cfg->path);
}

static void
on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct node *node = w->data;

	if (w->signum == SIGHUP)
	{
		pgq_info("SIGHUP received, reloading the configuration");
		reload(node);
		return;
	}
	pgq_info("%s received, shutting down", w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
	ev_break(loop, EVBREAK_ALL);
}

static void
watch_signal(struct node *node, ev_signal *w, int signum)
{
	ev_signal_init(w, on_signal, signum);
	w->data = node;
	ev_signal_start(node->loop, w);
}

static int
make_data_dir(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
	{
		struct stat st;

		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		pgq_fatal("data_dir \"%s\" exists and is not a directory", path);
		return -1;
	}
	pgq_fatal("could not create data_dir \"%s\": %s", path, strerror(errno));
	return -1;
}

/* The replication loop hands a committed entry to the applier. */
static bool
on_apply(void *arg, uint64_t index, uint64_t term, const void *payload, uint32_t len)
{
	struct node *node = arg;

	return applier_submit(node->applier, index, term, payload, len);
}

_Static_assert(PROXY_COMMIT_OK == COMMIT_OK && PROXY_COMMIT_REFUSED == COMMIT_REFUSED,
			   "proxy/proxy.h's commit results mirror sync/commit.h's");

/* The applier made entries durable in the local server. */
static void
on_applied(void *arg, uint64_t applied)
{
	struct node *node = arg;

	struct sync_node_info info;

	if (node->sync == NULL)
		return;
	sync_node_applied(node->sync, applied);
	sync_node_status(node->sync, &info);
	proxy_admin_applied(node->proxy, info.applied_index);
}

/* The answer to a read index the proxy asked (proxy_admin.h). */
static void
on_read_index(void *arg, uint64_t ctx, bool ok, uint64_t index)
{
	struct node *node = arg;

	proxy_admin_read_done(node->proxy, ctx, ok, index);
}

/* The proxy's write-path hooks (proxy/proxy.h): the node's role, the
 * commit coordinator and the classifier. */
static bool
hook_is_primary(void *arg)
{
	struct node *node = arg;
	struct sync_node_info info;

	if (node->sync == NULL)
		return false;			/* being rebuilt */
	sync_node_status(node->sync, &info);
	return info.writable;
}

struct hook_wait
{
	proxy_commit_cb cb;
	void	   *arg;
	struct node *node;
	ev_tstamp	start;
};

static void
hook_commit_done(void *arg, enum commit_result result, uint64_t index)
{
	struct hook_wait w = *(struct hook_wait *) arg;

	free(arg);
	ev_now_update(w.node->loop);
	node_admin_commit_done(w.node->admin, result == COMMIT_OK,
						   (ev_now(w.node->loop) - w.start) * 1000.0);
	w.cb(w.arg, (int) result, index);
}

static int
hook_new_gid(void *arg, char *buf, size_t len)
{
	return commit_new_gid(((struct node *) arg)->commit, buf, len);
}

static int
hook_commit_wait(void *arg, const char *txn_id, proxy_commit_cb cb, void *cb_arg)
{
	struct node *node = arg;
	struct hook_wait *w;

	if (node->commit == NULL || (w = malloc(sizeof(*w))) == NULL)
		return -1;
	w->cb = cb;
	w->arg = cb_arg;
	w->node = node;
	ev_now_update(node->loop);
	w->start = ev_now(node->loop);
	if (commit_wait(node->commit, txn_id, hook_commit_done, w) < 0)
	{
		free(w);
		return -1;
	}
	return 0;
}

/* The primary's client address, for a secondary's forwarded writes. */
static int
hook_primary_addr(void *arg, struct sockaddr_storage *addr, socklen_t *len)
{
	struct node *node = arg;
	struct sync_node_info info;

	sync_node_status(node->sync, &info);
	if (info.leader_id == 0 || info.leader_id == node->cfg->node_id)
		return -1;
	for (int i = 0; i < node->cfg->n_nodes; i++)
		if (node->client_addrs[i].id == info.leader_id && node->client_addrs[i].len > 0)
		{
			memcpy(addr, &node->client_addrs[i].addr, node->client_addrs[i].len);
			*len = node->client_addrs[i].len;
			return 0;
		}
	return -1;
}

/* Resolve every member's client address once (getaddrinfo may block). */
static void
resolve_client_addrs(struct node *node)
{
	for (int i = 0; i < node->cfg->n_nodes; i++)
	{
		const struct pgq_node_addr *n = &node->cfg->nodes[i];
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
		struct addrinfo *res = NULL;
		char		port[8];
		int			rc;

		node->client_addrs[i].id = n->id;
		node->client_addrs[i].len = 0;
		snprintf(port, sizeof(port), "%u", (unsigned) n->client.port);
		rc = getaddrinfo(n->client.host, port, &hints, &res);
		if (rc != 0 || res == NULL || res->ai_addrlen > sizeof(struct sockaddr_storage))
		{
			pgq_warn("cannot resolve node %u's client address %s: %s; writes on this "
					 "node are refused while it is the primary", n->id, n->client.host,
					 rc != 0 ? gai_strerror(rc) : "no address");
			if (res != NULL)
				freeaddrinfo(res);
			continue;
		}
		memcpy(&node->client_addrs[i].addr, res->ai_addr, res->ai_addrlen);
		node->client_addrs[i].len = res->ai_addrlen;
		freeaddrinfo(res);
	}
}

static bool
hook_db_captured(void *arg, const char *db)
{
	return commit_captures(((struct node *) arg)->commit, db);
}

static const struct sql_result *
hook_classify(void *arg, const char *query)
{
	return sql_cache_classify(((struct node *) arg)->sql, query);
}

/*
 * Orphans of an earlier life (prepared transactions whose clients or
 * primary role died with the process) are resolved against the log at
 * once: the entry the server applied last is committed, so its term is a
 * term marker for the applier (sync/applier.h).
 */
static void
resolve_at_start(struct node *node, uint64_t applied)
{
	uint64_t	term = 0;
	uint32_t	type;
	uint8_t		byte;

	if (applied == 0 || sync_node_read(node->sync, applied, &term, &type, &byte, 1) < 0)
		return;
	(void) applier_submit(node->applier, applied, term, NULL, 0);
}

static void
hook_ddl_plan(void *arg, const char *stmt, struct sql_ddl_plan *plan)
{
	sql_ddl_plan_make(stmt, plan);
}

static int
hook_statement(void *arg, const char *db, const char *role, const char *sql,
			   proxy_stmt_cb cb, void *cb_arg)
{
	struct node *node = arg;

	return node_statement(node->loop, node->sync, node->applier, node->cfg->node_id,
						  db, role, sql, cb, cb_arg);
}

static void on_rebuild_needed(void *arg, uint64_t from, uint64_t min_index,
							  const char *source);

/*
 * The node stopped being the primary: the proxy ends the transactions that
 * wrote to the local server (their row locks would hold up the applier),
 * once the replication update that reported it is over.
 */
static void
on_demoted(void *arg)
{
	struct node *node = arg;

	if (!ev_is_active(&node->demote_timer))
		ev_timer_start(node->loop, &node->demote_timer);	/* after 0 s */
}

static void
on_demote_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node *node = w->data;

	if (node->proxy != NULL)
		proxy_demoted(node->proxy);
}

/* The applier, the log, the commit coordinator and the control socket. */
static int
start_replication(struct node *node, unsigned sync_flags)
{
	char		err[1024];
	char		path[4200];
	uint64_t	applied = 0;

	node->applier = applier_start(node->loop, node->cfg->postgres_conninfo, node->cfg->node_id,
								  on_applied, node, &applied, err, sizeof(err));
	if (node->applier == NULL)
	{
		pgq_fatal("%s", err);
		return -1;
	}
	pgq_info("the local server has applied the log through index %" PRIu64, applied);
	node->sync = sync_node_start(node->loop, node->cfg, on_apply, node, applied, sync_flags,
								 err, sizeof(err));
	if (node->sync == NULL)
	{
		pgq_fatal("%s", err);
		return -1;
	}
	resolve_at_start(node, applied);
	sync_node_set_rebuild(node->sync, on_rebuild_needed, node);
	sync_node_set_demoted(node->sync, on_demoted, node);
	sync_node_set_read_cb(node->sync, on_read_index, node);
	node->commit = commit_start(node->loop, node->cfg, node->sync, err, sizeof(err));
	if (node->commit == NULL)
	{
		pgq_fatal("%s", err);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/control.sock", node->cfg->data_dir);
	node->control = control_start(node->loop, path,
								  &(struct control_targets) {node->sync, node->applier, node->commit},
								  err, sizeof(err));
	if (node->control == NULL)
	{
		pgq_fatal("%s", err);
		return -1;
	}
	return 0;
}

static void
stop_replication(struct node *node)
{
	if (node->control != NULL)
		control_stop(node->control);
	node->control = NULL;
	/* The log first: its pending proposals answer into the commit layer. */
	if (node->sync != NULL)
		sync_node_stop(node->sync);
	node->sync = NULL;
	if (node->commit != NULL)
		commit_stop(node->commit);
	node->commit = NULL;
	if (node->applier != NULL)
		applier_stop(node->applier);
	node->applier = NULL;
}

/*
 * DATA_DIR/rebuild.source marks a rebuild under way: "<from id>\n<conninfo>\n".
 * A node that finds it at start did not finish one and does it again.
 */
static void
rebuild_marker_path(const struct node *node, char *buf, size_t len)
{
	snprintf(buf, len, "%s/rebuild.source", node->cfg->data_dir);
}

static void
write_rebuild_marker(struct node *node)
{
	char		path[4200];
	FILE	   *f;
	bool		ok;

	rebuild_marker_path(node, path, sizeof(path));
	f = fopen(path, "w");
	ok = f != NULL && fprintf(f, "%" PRIu64 "\n%s\n", node->rebuild_from, node->rebuild_source) > 0 &&
		fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (f != NULL)
		ok = fclose(f) == 0 && ok;
	if (!ok)
		pgq_warn("could not write \"%s\": %s; a crash during the rebuild would need a hand",
				 path, strerror(errno));
}

/* Returns true with the source filled when an unfinished rebuild is marked. */
static bool
read_rebuild_marker(struct node *node)
{
	char		path[4200];
	char		line[1100];
	uint64_t	from = 0;
	FILE	   *f;
	bool		ok;

	rebuild_marker_path(node, path, sizeof(path));
	if ((f = fopen(path, "r")) == NULL)
		return false;
	ok = fgets(line, sizeof(line), f) != NULL && sscanf(line, "%" SCNu64, &from) == 1 &&
		fgets(line, sizeof(line), f) != NULL && strchr(line, '\n') != NULL;
	fclose(f);
	if (!ok || line[0] == '\n')
	{
		pgq_warn("ignoring \"%s\": not a node id and a conninfo on two lines", path);
		return false;
	}
	*strchr(line, '\n') = '\0';
	free(node->rebuild_source);
	node->rebuild_source = strdup(line);
	PGQ_ASSERT(node->rebuild_source != NULL);
	node->rebuild_from = from;
	return true;
}

/* The rebuild ended: replication restarts on the copy, or on the old server. */
static void
on_rebuild_done(void *arg, bool ok, const char *why)
{
	struct node *node = arg;
	char		path[4200];

	if (node->rebuild != NULL)
		rebuild_stop(node->rebuild);
	node->rebuild = NULL;
	rebuild_marker_path(node, path, sizeof(path));
	if (unlink(path) != 0 && errno != ENOENT)
		pgq_warn("could not remove \"%s\": %s", path, strerror(errno));
	if (ok)
		pgq_info("rebuild: the local server is now a copy of node %" PRIu64 "'s; "
				 "installing it in the log", node->rebuild_from);
	else
		pgq_error("rebuild from node %" PRIu64 " failed (%s); replication restarts on the "
				  "old server, and the primary will ask again", node->rebuild_from, why);
	if (start_replication(node, ok ? SYNC_NODE_INSTALL : 0) < 0)
	{
		pgq_fatal("could not restart replication after the rebuild; stopping");
		node->exit_code = 1;
		ev_break(node->loop, EVBREAK_ALL);
	}
}

/* Off the replication stack: stop replication, copy the source's server. */
static void
on_rebuild_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node *node = w->data;
	char		log_path[4200];
	char		err[1024];
	struct rebuild_params p = {
		.pg_data = node->cfg->postgres_data_dir,
		.bin_dir = node->cfg->postgres_bin_dir,
		.source = node->rebuild_source,
		.local_conninfo = node->cfg->postgres_conninfo,
		.log_path = log_path,
	};

	snprintf(log_path, sizeof(log_path), "%s/rebuild.log", node->cfg->data_dir);
	stop_replication(node);
	write_rebuild_marker(node);
	node->rebuild_last = ev_now(loop);
	node->rebuild = rebuild_start(loop, &p, on_rebuild_done, node, err, sizeof(err));
	if (node->rebuild == NULL)
	{
		pgq_error("could not start the rebuild: %s", err);
		on_rebuild_done(node, false, err);
	}
}

/*
 * The primary says this node's log cannot catch up any more: rebuild the
 * local server from the primary's (automatic when postgres_data_dir is set).
 */
static void
on_rebuild_needed(void *arg, uint64_t from, uint64_t min_index, const char *source)
{
	struct node *node = arg;
	ev_tstamp	now = ev_now(node->loop);

	if (node->rebuild != NULL || ev_is_active(&node->rebuild_timer) ||
		(node->rebuild_last > 0 && (now - node->rebuild_last) * 1000 < REBUILD_MIN_INTERVAL_MS))
		return;
	if (node->cfg->postgres_data_dir[0] == '\0')
	{
		pgq_warn("node %" PRIu64 " (the primary) compacted the log entries this node needs "
				 "(a copy through index %" PRIu64 " is needed): set postgres_data_dir for an "
				 "automatic rebuild, or rebuild the server with pg_basebackup by hand",
				 from, min_index);
		node->rebuild_last = now;
		return;
	}
	pgq_warn("node %" PRIu64 " (the primary) compacted the log entries this node needs: "
			 "rebuilding the local server \"%s\" as a copy of node %" PRIu64 "'s "
			 "(pg_basebackup, a copy through index %" PRIu64 " at least)",
			 from, node->cfg->postgres_data_dir, from, min_index);
	free(node->rebuild_source);
	node->rebuild_source = strdup(source);
	PGQ_ASSERT(node->rebuild_source != NULL);
	node->rebuild_from = from;
	ev_timer_set(&node->rebuild_timer, 0., 0.);
	ev_timer_start(node->loop, &node->rebuild_timer);
}

static int
node_start(struct node *node)
{
	char		err[1024];

	if (apply_logging(node->cfg) < 0 || make_data_dir(node->cfg->data_dir) < 0)
		return -1;
	if (node->cfg->pid_file[0] != '\0')
	{
		if (pgq_pidfile_write(node->cfg->pid_file, err, sizeof(err)) < 0)
		{
			pgq_fatal("%s", err);
			return -1;
		}
		node->pidfile_written = true;
	}
	ev_timer_init(&node->rebuild_timer, on_rebuild_timer, 0., 0.);
	node->rebuild_timer.data = node;
	ev_timer_init(&node->demote_timer, on_demote_timer, 0., 0.);
	node->demote_timer.data = node;
	if (node->cfg->postgres_data_dir[0] != '\0' && read_rebuild_marker(node))
	{
		pgq_warn("a rebuild of the local server from node %" PRIu64 " did not finish: "
				 "doing it again before replication starts", node->rebuild_from);
		ev_timer_start(node->loop, &node->rebuild_timer);
	}
	else if (start_replication(node, 0) < 0)
		return -1;
	node->proxy = proxy_start(node->loop, node->cfg, err, sizeof(err));
	if (node->proxy == NULL)
	{
		pgq_fatal("%s", err);
		return -1;
	}
	resolve_client_addrs(node);
	node->sql = sql_cache_new(4096, NULL);
	if (node->sql == NULL)
	{
		pgq_fatal("out of memory for the statement cache");
		return -1;
	}
	proxy_set_hooks(node->proxy, &(struct proxy_hooks) {
		.is_primary = hook_is_primary,
		.new_gid = hook_new_gid,
		.commit_wait = hook_commit_wait,
		.classify = hook_classify,
		.statement = hook_statement,
		.ddl_plan = hook_ddl_plan,
		.primary_addr = hook_primary_addr,
		.db_captured = hook_db_captured,
		.arg = node,
		.node_id = (uint32_t) node->cfg->node_id,
	});
	node->admin = node_admin_start(node->loop, &(struct node_admin_targets) {
		&node->cfg, &node->sync, &node->applier, &node->commit, node->proxy,
	});
	if (node->admin == NULL)
	{
		pgq_fatal("out of memory for the admin views");
		return -1;
	}
	watch_signal(node, &node->sigterm, SIGTERM);
	watch_signal(node, &node->sigint, SIGINT);
	watch_signal(node, &node->sighup, SIGHUP);
	pgq_info("pgquorum %s started: clients on %s:%d, peers on %s:%d, %d nodes",
			 PACKAGE_VERSION, node->cfg->listen_addr, node->cfg->listen_port,
			 node->cfg->peer_listen_addr, node->cfg->peer_listen_port,
			 node->cfg->n_nodes);
	return 0;
}

static void
node_stop(struct node *node)
{
	if (node->proxy != NULL)
		proxy_stop(node->proxy);
	node->proxy = NULL;
	node_admin_stop(node->admin);	/* after the proxy: it holds the hooks */
	node->admin = NULL;
	stop_replication(node);
	if (node->rebuild != NULL)
		rebuild_stop(node->rebuild);
	node->rebuild = NULL;
	ev_timer_stop(node->loop, &node->rebuild_timer);
	ev_timer_stop(node->loop, &node->demote_timer);
	free(node->rebuild_source);
	node->rebuild_source = NULL;
	if (node->sql != NULL)
		sql_cache_free(node->sql);
	node->sql = NULL;
	if (node->pidfile_written)
		pgq_pidfile_remove(node->cfg->pid_file);
	pgq_info("pgquorum stopped");
}

/* Returns the config path, or NULL after exiting for --help/--version. */
static const char *
parse_args(int argc, char **argv, bool *check_only)
{
	static const struct option opts[] = {
		{"check", no_argument, NULL, 't'},
		{"describe-config", no_argument, NULL, 'D'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int			c;

	while ((c = getopt_long(argc, argv, "tVh", opts, NULL)) != -1)
	{
		switch (c)
		{
			case 't':
				*check_only = true;
				break;
			case 'D':
				describe_config();
				exit(0);
			case 'V':
				printf("pgquorum %s\n", PACKAGE_VERSION);
				exit(0);
			case 'h':
				usage(stdout);
				exit(0);
			default:
				usage(stderr);
				exit(EXIT_CONFIG);
		}
	}
	if (optind != argc - 1)
	{
		fprintf(stderr, "pgquorum: expected exactly one configuration file\n");
		usage(stderr);
		exit(EXIT_CONFIG);
	}
	return argv[optind];
}

int
main(int argc, char **argv)
{
	struct node node = {0};
	bool		check_only = false;
	const char *path = parse_args(argc, argv, &check_only);
	char		err[1024];

	node.cfg = malloc(sizeof(*node.cfg));
	PGQ_ASSERT(node.cfg != NULL);
	pgq_config_init(node.cfg);
	if (pgq_config_load(node.cfg, path, err, sizeof(err)) < 0)
	{
		fprintf(stderr, "pgquorum: invalid configuration: %s\n", err);
		return EXIT_CONFIG;
	}
	if (check_only)
	{
		printf("%s: configuration is valid\n", path);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	node.loop = ev_default_loop(EVFLAG_AUTO);
	PGQ_ASSERT(node.loop != NULL);
	if (node_start(&node) < 0)
	{
		node_stop(&node);
		return 1;
	}
	ev_run(node.loop, 0);
	node_stop(&node);
	pgq_config_free(node.cfg);
	free(node.cfg);
	for (int i = 0; i < node.n_retired; i++)
	{
		pgq_config_free(node.retired[i]);
		free(node.retired[i]);
	}
	free(node.retired);
	return node.exit_code;
}
