/*
 * pgq_config.h
 *	  The node's configuration file: INI style, as pgbouncer.ini and
 *	  postgresql.conf users know it.
 *
 *	  [pgquorum]
 *	  node_id = 1
 *	  listen_addr = 127.0.0.1
 *	  postgres_conninfo = 'host=127.0.0.1 port=5432 dbname=postgres'
 *	  [nodes]
 *	  1 = 127.0.0.1:7001 127.0.0.1:6001     ; peer address, client address
 *
 * INTERFACE ROUTINES
 *	pgq_config_init		- fill a config with every key's default
 *	pgq_config_load		- parse a file into a config, validating each key
 *	pgq_config_free		- release what a config owns
 *	pgq_config_key_count / pgq_config_key_at - walk the key table (docs, views)
 *	pgq_config_format	- a key's effective value as text (secrets hidden)
 *	pgq_config_reload_diff - which changed keys cannot take effect on reload
 *
 * Errors are reported as "file:line: key: what is wrong" in a caller's
 * buffer; the caller exits with status 2 at start, or keeps the old
 * configuration on reload.
 */
#ifndef PGQ_CONFIG_H
#define PGQ_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/pgq_log.h"

#define PGQ_MAX_NODES 9
#define PGQ_HOST_LEN 256

struct pgq_addr
{
	char		host[PGQ_HOST_LEN];
	uint16_t	port;
};

struct pgq_node_addr
{
	uint32_t	id;
	struct pgq_addr peer;		/* where its peer port listens */
	struct pgq_addr client;		/* where its client port listens */
};

struct pgq_config
{
	/* [pgquorum] */
	uint32_t	node_id;
	char	   *cluster_name;
	char	   *listen_addr;
	int			listen_port;
	char	   *peer_listen_addr;
	int			peer_listen_port;
	char	   *postgres_conninfo;
	char	   *data_dir;
	enum pgq_log_level log_level;
	char	   *log_file;
	char	   *pid_file;
	char	   *tls_cert_file;
	char	   *tls_key_file;
	char	   *tls_ca_file;
	char	   *cluster_secret;
	int			election_timeout_ms;
	int			heartbeat_interval_ms;
	bool		idle_commit_notify;
	int			max_client_conn;
	int			pool_size;
	int			client_idle_timeout_ms;
	int			query_wait_timeout_ms;
	int64_t		wal_segment_size;
	char	   *auth_hba_file;
	char	   *auth_query;
	int			auth_cache_ttl_ms;
	int			client_login_timeout_ms;
	char	   *server_reset_query;
	int			log_retention_entries;
	char	   *postgres_data_dir;
	char	   *postgres_bin_dir;
	char	   *basebackup_conninfo;
	int			read_consistency_timeout_ms;
	/* [nodes] */
	int			n_nodes;
	struct pgq_node_addr nodes[PGQ_MAX_NODES];
	/* where it came from */
	char	   *path;
};

enum pgq_config_type
{
	PGQ_CFG_INT,
	PGQ_CFG_BOOL,
	PGQ_CFG_STRING,
	PGQ_CFG_LOGLEVEL,
	PGQ_CFG_BYTES,
};

struct pgq_config_key
{
	const char *name;
	enum pgq_config_type type;
	size_t		offset;			/* into struct pgq_config */
	const char *default_value;	/* as written in a file; NULL: required */
	int64_t		min;
	int64_t		max;
	bool		reloadable;
	bool		secret;
	const char *description;
};

void		pgq_config_init(struct pgq_config *cfg);

/*
 * Parse path into cfg (which must come from pgq_config_init).  Returns 0, or
 * -1 with the first error written to err as "file:line: key: message".
 * On error cfg holds partial values and must still be freed.
 */
int			pgq_config_load(struct pgq_config *cfg, const char *path,
							char *err, size_t errlen);
void		pgq_config_free(struct pgq_config *cfg);

size_t		pgq_config_key_count(void);
const struct pgq_config_key *pgq_config_key_at(size_t i);

/* Writes key's value in cfg to buf; secrets print as "********". */
void		pgq_config_format(const struct pgq_config *cfg,
							  const struct pgq_config_key *key,
							  char *buf, size_t buflen);

/*
 * Compare a newly loaded config with the running one.  Writes the name of
 * the first key that differs but cannot be reloaded into err and returns
 * -1; returns 0 when every difference can take effect.
 */
int			pgq_config_reload_diff(const struct pgq_config *old,
								   const struct pgq_config *new,
								   char *err, size_t errlen);

/* The entry for id in cfg->nodes, or NULL. */
const struct pgq_node_addr *pgq_config_node(const struct pgq_config *cfg,
											uint32_t id);

/* Parse "host:port" (host may be [v6]).  Returns false on a bad address. */
bool		pgq_addr_parse(const char *text, struct pgq_addr *addr);

#endif							/* PGQ_CONFIG_H */
