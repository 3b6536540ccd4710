/*
 * pgq_config.c
 *	  Parse and validate the node's INI configuration file.  See pgq_config.h.
 *
 * The key table below is the single source for parsing, defaults, reload
 * rules, docs/configuration.md and the pgquorum.settings view.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pgq_assert.h"
#include "common/pgq_config.h"

#define PGQ_CONFIG_MAX_LINE 8192

#define KEY(n, t, def, lo, hi, rel, sec, desc) \
	{ #n, t, offsetof(struct pgq_config, n), def, lo, hi, rel, sec, desc }

static const struct pgq_config_key config_keys[] = {
	KEY(node_id, PGQ_CFG_INT, NULL, 1, 1000000, false, false,
		"This node's id; must appear in [nodes]."),
	KEY(cluster_name, PGQ_CFG_STRING, "pgquorum", 0, 63, false, false,
		"Name shared by every node of one cluster; peers from another cluster are refused."),
	KEY(listen_addr, PGQ_CFG_STRING, "127.0.0.1", 0, 255, false, false,
		"Address the client (PostgreSQL protocol) port listens on."),
	KEY(listen_port, PGQ_CFG_INT, "6432", 1, 65535, false, false,
		"Client port."),
	KEY(peer_listen_addr, PGQ_CFG_STRING, "127.0.0.1", 0, 255, false, false,
		"Address the peer (replication) port listens on."),
	KEY(peer_listen_port, PGQ_CFG_INT, "7432", 1, 65535, false, false,
		"Peer port."),
	KEY(postgres_conninfo, PGQ_CFG_STRING, NULL, 0, 4095, false, false,
		"libpq connection string of the local PostgreSQL server, as the service role."),
	KEY(data_dir, PGQ_CFG_STRING, NULL, 0, 4095, false, false,
		"Directory of the node's log and hard state."),
	KEY(log_level, PGQ_CFG_LOGLEVEL, "info", 0, 0, true, false,
		"debug, info, notice, warning, error or fatal."),
	KEY(log_file, PGQ_CFG_STRING, "", 0, 4095, true, false,
		"Append log lines to this file; empty: standard error."),
	KEY(pid_file, PGQ_CFG_STRING, "", 0, 4095, false, false,
		"Write the process id here at start, remove it at exit; empty: none."),
	KEY(tls_cert_file, PGQ_CFG_STRING, "", 0, 4095, false, false,
		"Certificate for TLS towards clients; empty: SSLRequest is answered 'N'."),
	KEY(tls_key_file, PGQ_CFG_STRING, "", 0, 4095, false, false,
		"Private key for tls_cert_file."),
	KEY(tls_ca_file, PGQ_CFG_STRING, "", 0, 4095, false, false,
		"CA bundle for verifying peers (mutual TLS)."),
	KEY(cluster_secret, PGQ_CFG_STRING, "", 0, 1023, false, true,
		"Shared secret peers prove with an HMAC challenge-response."),
	KEY(election_timeout_ms, PGQ_CFG_INT, "500", 50, 600000, false, false,
		"Base election timeout; a secondary that hears nothing for a random time in [t, 2t) starts an election."),
	KEY(heartbeat_interval_ms, PGQ_CFG_INT, "100", 5, 60000, false, false,
		"How often the primary sends heartbeats; at most half of election_timeout_ms."),
	KEY(idle_commit_notify, PGQ_CFG_BOOL, "on", 0, 1, false, false,
		"Tell secondaries a new commit index at once when writes go idle. Off only for measurement."),
	KEY(max_client_conn, PGQ_CFG_INT, "1000", 1, 1000000, true, false,
		"Most client connections the node accepts; more get an error."),
	KEY(pool_size, PGQ_CFG_INT, "100", 1, 100000, true, false,
		"Most backend connections per (database, role) on the local server."),
	KEY(client_idle_timeout_ms, PGQ_CFG_INT, "0", 0, INT_MAX, true, false,
		"Close a client idle this long; 0: never."),
	KEY(query_wait_timeout_ms, PGQ_CFG_INT, "120000", 0, INT_MAX, true, false,
		"How long a client waits for a backend connection; 0: forever."),
	KEY(wal_segment_size, PGQ_CFG_BYTES, "64MB", 1 << 20, INT64_C(1) << 40, false, false,
		"Size of each log segment file."),
	KEY(auth_hba_file, PGQ_CFG_STRING, "", 0, 4095, true, false,
		"Client authentication rules, one per line: host DATABASE USER ADDRESS/BITS|all trust|scram-sha-256|md5|reject; first match wins. Empty: loopback trust, every other address scram-sha-256."),
	KEY(auth_query, PGQ_CFG_STRING,
		"SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = $1 AND rolcanlogin AND (rolvaliduntil IS NULL OR rolvaliduntil > now())",
		0, 4095, true, false,
		"How the node reads a role's password verifier through postgres_conninfo ($1: the role)."),
	KEY(auth_cache_ttl_ms, PGQ_CFG_INT, "10000", 0, 3600000, true, false,
		"How long the node reuses a role's verifier read through auth_query (at most 128 roles, least recently used dropped first); a failed login with a reused verifier drops it at once, so the next login reads the new one; 0: read it at every login."),
	KEY(client_login_timeout_ms, PGQ_CFG_INT, "30000", 100, 3600000, true, false,
		"Time for a client's startup and authentication, and for a backend's login or reset."),
	KEY(server_reset_query, PGQ_CFG_STRING, "DISCARD ALL", 1, 1023, true, false,
		"Run on a backend connection before another session reuses it."),
	KEY(log_retention_entries, PGQ_CFG_INT, "1000000", 16, 100000000, false, false,
		"Log entries kept behind the newest for members that lag. The log is compacted below the lowest applied index of all members, or past this many entries; a member that needs compacted entries is rebuilt with pg_basebackup."),
	KEY(postgres_data_dir, PGQ_CFG_STRING, "", 0, 4095, false, false,
		"Data directory of the local PostgreSQL server, so that the node can rebuild it with pg_basebackup when the entries it needs were compacted; empty: no automatic rebuild (the node logs that it needs one)."),
	KEY(postgres_bin_dir, PGQ_CFG_STRING, "", 0, 4095, false, false,
		"Directory of pg_ctl and pg_basebackup for a rebuild; empty: found on PATH."),
	KEY(basebackup_conninfo, PGQ_CFG_STRING, "", 0, 4095, false, false,
		"How other nodes reach this node's PostgreSQL server to copy it with pg_basebackup (a replication connection: pg_hba.conf needs a replication line); empty: postgres_conninfo."),
	KEY(read_consistency_timeout_ms, PGQ_CFG_INT, "10000", 1, 3600000, true, false,
		"Longest wait of a read for this node's applied index (pgquorum.read_consistency session); then the read fails with 40001."),
};

#undef KEY

size_t
pgq_config_key_count(void)
{
	return PGQ_LENGTHOF(config_keys);
}

const struct pgq_config_key *
pgq_config_key_at(size_t i)
{
	PGQ_ASSERT(i < PGQ_LENGTHOF(config_keys));
	return &config_keys[i];
}

static const struct pgq_config_key *
find_key(const char *name)
{
	for (size_t i = 0; i < PGQ_LENGTHOF(config_keys); i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

/* Error context of one parse. */
struct parse_state
{
	const char *path;
	int			line;
	char	   *err;
	size_t		errlen;
};

static int
parse_error(struct parse_state *ps, const char *key, const char *fmt,...)
	__attribute__((format(printf, 3, 4)));

static int
parse_error(struct parse_state *ps, const char *key, const char *fmt,...)
{
	va_list		ap;
	int			n;

	if (ps->line > 0)
		n = snprintf(ps->err, ps->errlen, "%s:%d: %s%s", ps->path, ps->line,
					 key ? key : "", key ? ": " : "");
	else
		n = snprintf(ps->err, ps->errlen, "%s: %s%s", ps->path,
					 key ? key : "", key ? ": " : "");
	if (n < 0 || (size_t) n >= ps->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(ps->err + n, ps->errlen - (size_t) n, fmt, ap);
	va_end(ap);
	return -1;
}

static bool
parse_int64(const char *s, int64_t *out)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return false;
	*out = v;
	return true;
}

static bool
parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"on", "true", "yes", "1"};
	static const char *const no[] = {"off", "false", "no", "0"};

	for (size_t i = 0; i < PGQ_LENGTHOF(yes); i++)
	{
		if (strcasecmp(s, yes[i]) == 0)
			return (*out = true);
		if (strcasecmp(s, no[i]) == 0)
			return !(*out = false);
	}
	return false;
}

/* "64MB", "512kB", "1GB", "4096" (bytes), as in postgresql.conf. */
static bool
parse_bytes(const char *s, int64_t *out)
{
	static const struct
	{
		const char *unit;
		int64_t		mult;
	}			units[] = {{"", 1}, {"B", 1}, {"kB", 1024}, {"MB", 1 << 20},
	{"GB", INT64_C(1) << 30}, {"TB", INT64_C(1) << 40}};
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v < 0)
		return false;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < PGQ_LENGTHOF(units); i++)
	{
		if (strcmp(end, units[i].unit) == 0)
		{
			if (v > INT64_MAX / units[i].mult)
				return false;
			*out = v * units[i].mult;
			return true;
		}
	}
	return false;
}

static int
check_range(struct parse_state *ps, const struct pgq_config_key *key, int64_t v)
{
	if (v < key->min || v > key->max)
		return parse_error(ps, key->name, "%" PRId64 " is outside the valid range %" PRId64 "..%" PRId64,
						   v, key->min, key->max);
	return 0;
}

static int
set_value(struct pgq_config *cfg, const struct pgq_config_key *key,
		  const char *value, struct parse_state *ps)
{
	char	   *field = (char *) cfg + key->offset;
	int64_t		v;

	switch (key->type)
	{
		case PGQ_CFG_INT:
			if (!parse_int64(value, &v))
				return parse_error(ps, key->name, "\"%s\" is not an integer", value);
			if (check_range(ps, key, v) < 0)
				return -1;
			if (key->offset == offsetof(struct pgq_config, node_id))
				*(uint32_t *) field = (uint32_t) v;
			else
				*(int *) field = (int) v;
			return 0;
		case PGQ_CFG_BYTES:
			if (!parse_bytes(value, &v))
				return parse_error(ps, key->name, "\"%s\" is not a size (examples: 4096, 512kB, 64MB, 1GB)", value);
			if (check_range(ps, key, v) < 0)
				return -1;
			*(int64_t *) field = v;
			return 0;
		case PGQ_CFG_BOOL:
			if (!parse_bool(value, (bool *) field))
				return parse_error(ps, key->name, "\"%s\" is not a boolean (on/off, true/false, yes/no, 1/0)", value);
			return 0;
		case PGQ_CFG_LOGLEVEL:
			if (!pgq_log_level_parse(value, (enum pgq_log_level *) field))
				return parse_error(ps, key->name, "\"%s\" is not a log level (debug, info, notice, warning, error, fatal)", value);
			return 0;
		case PGQ_CFG_STRING:
			if ((int64_t) strlen(value) > key->max)
				return parse_error(ps, key->name, "value is longer than %" PRId64 " bytes", key->max);
			free(*(char **) field);
			*(char **) field = strdup(value);
			PGQ_ASSERT(*(char **) field != NULL);
			return 0;
	}
	PGQ_UNREACHABLE();
}

void
pgq_config_init(struct pgq_config *cfg)
{
	struct parse_state ps = {"(defaults)", 0, NULL, 0};
	char		err[256];

	memset(cfg, 0, sizeof(*cfg));
	ps.err = err;
	ps.errlen = sizeof(err);
	for (size_t i = 0; i < PGQ_LENGTHOF(config_keys); i++)
	{
		const struct pgq_config_key *key = &config_keys[i];

		if (key->default_value == NULL)
			continue;
		/* A default that does not parse is a bug in the table. */
		PGQ_ASSERT(set_value(cfg, key, key->default_value, &ps) == 0);
	}
}

void
pgq_config_free(struct pgq_config *cfg)
{
	for (size_t i = 0; i < PGQ_LENGTHOF(config_keys); i++)
	{
		if (config_keys[i].type == PGQ_CFG_STRING)
		{
			char	  **field = (char **) ((char *) cfg + config_keys[i].offset);

			free(*field);
			*field = NULL;
		}
	}
	free(cfg->path);
	cfg->path = NULL;
}

bool
pgq_addr_parse(const char *text, struct pgq_addr *addr)
{
	const char *colon;
	const char *host = text;
	size_t		hostlen;
	int64_t		port;

	if (text[0] == '[')
	{
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':')
			return false;
		host = text + 1;
		hostlen = (size_t) (close - host);
		colon = close + 1;
	}
	else
	{
		colon = strrchr(text, ':');
		if (colon == NULL)
			return false;
		hostlen = (size_t) (colon - text);
	}
	if (hostlen == 0 || hostlen >= sizeof(addr->host))
		return false;
	if (!parse_int64(colon + 1, &port) || port < 1 || port > 65535)
		return false;
	memcpy(addr->host, host, hostlen);
	addr->host[hostlen] = '\0';
	addr->port = (uint16_t) port;
	return true;
}

const struct pgq_node_addr *
pgq_config_node(const struct pgq_config *cfg, uint32_t id)
{
	for (int i = 0; i < cfg->n_nodes; i++)
		if (cfg->nodes[i].id == id)
			return &cfg->nodes[i];
	return NULL;
}

/* "[nodes]" line: "<id> = <peer host:port> <client host:port>". */
static int
add_node(struct pgq_config *cfg, const char *key, const char *value,
		 struct parse_state *ps)
{
	struct pgq_node_addr *node;
	char		peer[PGQ_HOST_LEN + 8];
	char		client[PGQ_HOST_LEN + 8];
	char		extra[2];
	int64_t		id;

	if (!parse_int64(key, &id) || id < 1 || id > 1000000)
		return parse_error(ps, key, "a node key must be a node id from 1 to 1000000");
	if (pgq_config_node(cfg, (uint32_t) id) != NULL)
		return parse_error(ps, key, "node %" PRId64 " is listed twice", id);
	if (cfg->n_nodes == PGQ_MAX_NODES)
		return parse_error(ps, key, "at most %d nodes are supported", PGQ_MAX_NODES);
	if (strlen(value) >= sizeof(peer) ||
		sscanf(value, "%263s %263s %1s", peer, client, extra) != 2)
		return parse_error(ps, key, "expected \"peer_host:port client_host:port\", got \"%s\"", value);
	node = &cfg->nodes[cfg->n_nodes];
	if (!pgq_addr_parse(peer, &node->peer))
		return parse_error(ps, key, "\"%s\" is not a host:port peer address", peer);
	if (!pgq_addr_parse(client, &node->client))
		return parse_error(ps, key, "\"%s\" is not a host:port client address", client);
	node->id = (uint32_t) id;
	cfg->n_nodes++;
	return 0;
}

static char *
trim(char *s)
{
	char	   *end;

	while (isspace((unsigned char) *s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char) end[-1]))
		*--end = '\0';
	return s;
}

/*
 * Split "key = value" in place.  A value may be quoted with single quotes
 * ('' is a quote inside); otherwise a # or ; starts a comment.
 */
static int
split_line(char *line, char **key, char **value, struct parse_state *ps)
{
	char	   *eq = strchr(line, '=');
	char	   *v;

	if (eq == NULL)
		return parse_error(ps, NULL, "syntax error: expected \"key = value\" or \"[section]\"");
	*eq = '\0';
	*key = trim(line);
	if (**key == '\0')
		return parse_error(ps, NULL, "syntax error: missing key before \"=\"");
	v = trim(eq + 1);
	if (*v == '\'')
	{
		char	   *src = v + 1;
		char	   *dst = v;

		for (;; src++)
		{
			if (*src == '\0')
				return parse_error(ps, *key, "unterminated quoted value");
			if (*src == '\'' && src[1] == '\'')
				*dst++ = *src++;
			else if (*src == '\'')
				break;
			else
				*dst++ = *src;
		}
		*dst = '\0';
		if (*trim(src + 1) != '\0' && *trim(src + 1) != '#' && *trim(src + 1) != ';')
			return parse_error(ps, *key, "unexpected text after the quoted value");
	}
	else
	{
		v[strcspn(v, "#;")] = '\0';
		v = trim(v);
	}
	*value = v;
	return 0;
}

enum section
{
	SECTION_NONE,
	SECTION_PGQUORUM,
	SECTION_NODES,
};

static int
parse_section(char *line, enum section *section, struct parse_state *ps)
{
	char	   *close = strchr(line, ']');
	char	   *name;

	if (close == NULL || *trim(close + 1) != '\0')
		return parse_error(ps, NULL, "syntax error in section header");
	*close = '\0';
	name = trim(line + 1);
	if (strcmp(name, "pgquorum") == 0)
		*section = SECTION_PGQUORUM;
	else if (strcmp(name, "nodes") == 0)
		*section = SECTION_NODES;
	else
		return parse_error(ps, NULL, "unknown section [%s] (expected [pgquorum] or [nodes])", name);
	return 0;
}

static int
parse_line(struct pgq_config *cfg, char *raw, enum section *section,
		   bool *seen, struct parse_state *ps)
{
	char	   *line = trim(raw);
	char	   *key = NULL;
	char	   *value = NULL;
	const struct pgq_config_key *k;

	if (*line == '\0' || *line == '#' || *line == ';')
		return 0;
	if (*line == '[')
		return parse_section(line, section, ps);
	if (split_line(line, &key, &value, ps) < 0)
		return -1;
	if (*section == SECTION_NONE)
		return parse_error(ps, key, "key outside a section (start the file with [pgquorum])");
	if (*section == SECTION_NODES)
		return add_node(cfg, key, value, ps);
	k = find_key(key);
	if (k == NULL)
		return parse_error(ps, key, "unknown configuration key");
	if (seen[k - config_keys])
		return parse_error(ps, key, "set twice");
	seen[k - config_keys] = true;
	return set_value(cfg, k, value, ps);
}

/* Checks that involve several keys, reported against the file. */
static int
check_config(struct pgq_config *cfg, const bool *seen, struct parse_state *ps)
{
	ps->line = 0;
	for (size_t i = 0; i < PGQ_LENGTHOF(config_keys); i++)
		if (config_keys[i].default_value == NULL && !seen[i])
			return parse_error(ps, config_keys[i].name, "required key is missing");
	if (cfg->data_dir[0] == '\0')
		return parse_error(ps, "data_dir", "must not be empty");
	if (cfg->n_nodes == 0)
		return parse_error(ps, "nodes", "the [nodes] section must list every member, this node included");
	if (pgq_config_node(cfg, cfg->node_id) == NULL)
		return parse_error(ps, "node_id", "node %u is not listed in [nodes]", cfg->node_id);
	if (cfg->heartbeat_interval_ms * 2 > cfg->election_timeout_ms)
		return parse_error(ps, "heartbeat_interval_ms",
						   "%d ms must be at most half of election_timeout_ms (%d ms)",
						   cfg->heartbeat_interval_ms, cfg->election_timeout_ms);
	if ((cfg->tls_cert_file[0] == '\0') != (cfg->tls_key_file[0] == '\0'))
		return parse_error(ps, "tls_key_file", "tls_cert_file and tls_key_file must be set together");
	return 0;
}

int
pgq_config_load(struct pgq_config *cfg, const char *path, char *err, size_t errlen)
{
	struct parse_state ps = {path, 0, err, errlen};
	bool		seen[PGQ_LENGTHOF(config_keys)] = {false};
	enum section section = SECTION_NONE;
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;
	FILE	   *f;
	int			rc = 0;

	free(cfg->path);
	cfg->path = strdup(path);
	PGQ_ASSERT(cfg->path != NULL);
	f = fopen(path, "r");
	if (f == NULL)
		return parse_error(&ps, NULL, "could not open configuration file: %s", strerror(errno));
	while (rc == 0 && (len = getline(&line, &cap, f)) >= 0)
	{
		ps.line++;
		if (len > PGQ_CONFIG_MAX_LINE)
			rc = parse_error(&ps, NULL, "line is longer than %d bytes", PGQ_CONFIG_MAX_LINE);
		else if (memchr(line, '\0', (size_t) len) != NULL)
			rc = parse_error(&ps, NULL, "line contains a NUL byte");
		else
			rc = parse_line(cfg, line, &section, seen, &ps);
	}
	free(line);
	if (rc == 0 && ferror(f))
		rc = parse_error(&ps, NULL, "could not read configuration file: %s", strerror(errno));
	fclose(f);
	if (rc == 0)
		rc = check_config(cfg, seen, &ps);
	return rc;
}

void
pgq_config_format(const struct pgq_config *cfg, const struct pgq_config_key *key,
				  char *buf, size_t buflen)
{
	const char *field = (const char *) cfg + key->offset;

	if (key->secret)
	{
		snprintf(buf, buflen, "%s", (*(char *const *) field)[0] ? "********" : "");
		return;
	}
	switch (key->type)
	{
		case PGQ_CFG_INT:
			if (key->offset == offsetof(struct pgq_config, node_id))
				snprintf(buf, buflen, "%u", *(const uint32_t *) field);
			else
				snprintf(buf, buflen, "%d", *(const int *) field);
			return;
		case PGQ_CFG_BYTES:
			snprintf(buf, buflen, "%" PRId64, *(const int64_t *) field);
			return;
		case PGQ_CFG_BOOL:
			snprintf(buf, buflen, "%s", *(const bool *) field ? "on" : "off");
			return;
		case PGQ_CFG_LOGLEVEL:
			snprintf(buf, buflen, "%s", pgq_log_level_name(*(const enum pgq_log_level *) field));
			return;
		case PGQ_CFG_STRING:
			snprintf(buf, buflen, "%s", *(char *const *) field);
			return;
	}
	PGQ_UNREACHABLE();
}

int
pgq_config_reload_diff(const struct pgq_config *old, const struct pgq_config *new,
					   char *err, size_t errlen)
{
	char		a[4096];
	char		b[4096];

	for (size_t i = 0; i < PGQ_LENGTHOF(config_keys); i++)
	{
		const struct pgq_config_key *key = &config_keys[i];

		if (key->reloadable)
			continue;
		pgq_config_format(old, key, a, sizeof(a));
		pgq_config_format(new, key, b, sizeof(b));
		if (strcmp(a, b) != 0 ||
			(key->secret && strcmp(*(char *const *) ((const char *) old + key->offset),
								   *(char *const *) ((const char *) new + key->offset)) != 0))
		{
			snprintf(err, errlen, "%s cannot be changed by a reload; restart the node", key->name);
			return -1;
		}
	}
	if (old->n_nodes != new->n_nodes ||
		memcmp(old->nodes, new->nodes, sizeof(old->nodes[0]) * (size_t) old->n_nodes) != 0)
	{
		snprintf(err, errlen, "[nodes] cannot be changed by a reload; use pgquorum.add_node() and pgquorum.remove_node()");
		return -1;
	}
	return 0;
}
