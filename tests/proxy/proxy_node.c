/*
 * proxy_node.c
 *	  A node that runs only the proxy: `proxy_node node.conf`.  The proxy's
 *	  tests and bench/proxy use it so that they do not depend on the other
 *	  modules being built; it loads the same configuration file as pgquorum.
 *	  SIGTERM/SIGINT stop it, SIGHUP reloads the file.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <ev.h>

#include "common/pgq_config.h"
#include "common/pgq_log.h"
#include "proxy/proxy.h"

static struct pgq_config *cfg;
static struct proxy *px;

static void
on_stop(struct ev_loop *loop, ev_signal *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void
on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct pgq_config *next = malloc(sizeof(*next));
	char		err[1024];

	pgq_config_init(next);
	if (pgq_config_load(next, cfg->path, err, sizeof(err)) < 0)
	{
		pgq_warn("reload: %s", err);
		pgq_config_free(next);
		free(next);
		return;
	}
	proxy_reload(px, next);
	pgq_config_free(cfg);
	free(cfg);
	cfg = next;
}

int
main(int argc, char **argv)
{
	struct ev_loop *loop = ev_default_loop(0);
	ev_signal	sterm,
				sint,
				shup;
	char		err[1024];

	if (argc != 2)
	{
		fprintf(stderr, "usage: proxy_node CONFIG_FILE\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	cfg = malloc(sizeof(*cfg));
	pgq_config_init(cfg);
	if (pgq_config_load(cfg, argv[1], err, sizeof(err)) < 0)
	{
		fprintf(stderr, "proxy_node: %s\n", err);
		return 2;
	}
	pgq_log_set_level(cfg->log_level);
	if (cfg->log_file[0] != '\0')
		(void) pgq_log_open_file(cfg->log_file);
	px = proxy_start(loop, cfg, err, sizeof(err));
	if (px == NULL)
	{
		fprintf(stderr, "proxy_node: %s\n", err);
		return 1;
	}
	ev_signal_init(&sterm, on_stop, SIGTERM);
	ev_signal_init(&sint, on_stop, SIGINT);
	ev_signal_init(&shup, on_hup, SIGHUP);
	ev_signal_start(loop, &sterm);
	ev_signal_start(loop, &sint);
	ev_signal_start(loop, &shup);
	ev_run(loop, 0);
	proxy_stop(px);
	pgq_config_free(cfg);
	free(cfg);
	return 0;
}
