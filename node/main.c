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
#include "proxy/proxy.h"
#include "proxy/proxy_admin.h"
#include "sql/sql_classify.h"
#include "sync/applier.h"
#include "sync/commit.h"
#include "sync/sync_node.h"

#define EXIT_CONFIG 2

struct node
{
	struct ev_loop *loop;
	struct pgq_config *cfg;		/* owned; replaced on reload */
	struct pgq_config *start_cfg;	/* owned; the configuration at start,
									 * which sync/ and the commit coordinator
									 * borrow until they stop: never freed
									 * before them */
	struct proxy *proxy;
	struct sync_node *sync;
	struct applier *applier;
	struct commit *commit;
	struct control *control;
	struct node_admin *admin;	/* admin views and functions */
	sql_cache  *sql;			/* the proxy's statement classifications */
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
	if (node->cfg != node->start_cfg)
	{
		pgq_config_free(node->cfg);
		free(node->cfg);
	}
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

	return applier_submit(node->applier, index, payload, len);
}

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

/* The proxy's write-path hooks (proxy/proxy.h): the node's role, the
 * commit coordinator and the classifier. */
static bool
hook_is_primary(void *arg)
{
	struct node *node = arg;
	struct sync_node_info info;

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
hook_commit_wait(void *arg, const char *txn_id, proxy_commit_cb cb, void *cb_arg)
{
	struct node *node = arg;
	struct hook_wait *w = malloc(sizeof(*w));

	if (w == NULL)
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

static const struct sql_result *
hook_classify(void *arg, const char *query)
{
	return sql_cache_classify(((struct node *) arg)->sql, query);
}

static int
node_start(struct node *node)
{
	char		err[1024];
	char		path[4200];
	uint64_t	applied = 0;

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
	node->applier = applier_start(node->loop, node->cfg->postgres_conninfo, node->cfg->node_id,
								  on_applied, node, &applied, err, sizeof(err));
	if (node->applier == NULL)
	{
		pgq_fatal("%s", err);
		return -1;
	}
	pgq_info("the local server has applied the log through index %" PRIu64, applied);
	node->start_cfg = node->cfg;
	node->sync = sync_node_start(node->loop, node->cfg, on_apply, node, applied, err, sizeof(err));
	if (node->sync == NULL)
	{
		pgq_fatal("%s", err);
		return -1;
	}
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
	node->proxy = proxy_start(node->loop, node->cfg, err, sizeof(err));
	if (node->proxy == NULL)
	{
		pgq_fatal("%s", err);
		return -1;
	}
	node->sql = sql_cache_new(4096, NULL);
	if (node->sql == NULL)
	{
		pgq_fatal("out of memory for the statement cache");
		return -1;
	}
	proxy_set_hooks(node->proxy, &(struct proxy_hooks) {
		.is_primary = hook_is_primary,
		.commit_wait = hook_commit_wait,
		.classify = hook_classify,
		.arg = node,
		.node_id = (uint32_t) node->cfg->node_id,
	});
	node->admin = node_admin_start(node->loop, &(struct node_admin_targets) {
		&node->cfg, node->sync, node->applier, node->commit, node->proxy,
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
	if (node.start_cfg != NULL && node.start_cfg != node.cfg)
	{
		pgq_config_free(node.start_cfg);
		free(node.start_cfg);
	}
	pgq_config_free(node.cfg);
	free(node.cfg);
	return 0;
}
