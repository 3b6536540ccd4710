/*
 * control.c
 *	  The node's control socket.  See control.h for the commands.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <ev.h>

#include "common/pgq_assert.h"
#include "common/pgq_buf.h"
#include "common/pgq_log.h"
#include "node/control.h"
#include "sync/applier.h"
#include "sync/commit.h"
#include "sync/sync_node.h"

#define LINE_MAX_BYTES (64 * 1024)
#define MAX_CLIENTS 64

struct control
{
	struct ev_loop *loop;
	struct sync_node *node;
	struct applier *applier;
	struct commit *commit;
	char		path[108];
	int			fd;
	ev_io		accept_io;
	struct client *clients[MAX_CLIENTS];
};

struct client
{
	struct control *ctl;
	int			fd;
	ev_io		rio;
	ev_io		wio;
	struct pgq_buf in;
	struct pgq_buf out;
	int			waiting;		/* proposals whose answer is pending */
	bool		closed;			/* socket gone; freed when waiting == 0 */
};

static void client_free_if_done(struct client *c);

static void
reply(struct client *c, const char *fmt,...)
	__attribute__((format(printf, 2, 3)));

static void
reply(struct client *c, const char *fmt,...)
{
	char		line[8192];
	va_list		ap;
	int			n;

	if (c->closed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t) n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (pgq_buf_append(&c->out, line, (size_t) n))
		ev_io_start(c->ctl->loop, &c->wio);
}

static void
cmd_status(struct client *c, const char *arg)
{
	struct sync_node_info i;
	const char *failure = c->ctl->applier ? applier_failure(c->ctl->applier) : NULL;

	sync_node_status(c->ctl->node, &i);
	reply(c, "id=%" PRIu64 " role=%s term=%" PRIu64 " leader=%" PRIu64 " first=%" PRIu64
		  " last=%" PRIu64 " persisted=%" PRIu64 " commit=%" PRIu64 " applied=%" PRIu64
		  " notifications=%" PRIu64 " heartbeats=%" PRIu64 " writable=%d floor=%" PRIu64
		  " installing=%" PRIu64 " applier=%s%s",
		  i.id, i.role, i.term, i.leader_id, i.first_index, i.last_index,
		  i.persisted_index, i.commit_index, i.applied_index,
		  i.commit_notifications_sent, i.heartbeats_sent, i.writable ? 1 : 0,
		  i.compact_floor, i.installing,
		  failure ? "stopped: " : "ok", failure ? failure : "");
}

static void
cmd_peers(struct client *c, const char *arg)
{
	struct sync_node_info info;
	char		line[4096];
	size_t		len = 0;

	sync_node_status(c->ctl->node, &info);
	line[0] = '\0';
	for (int k = 0; k < info.n_peers && len < sizeof(line); k++)
	{
		const struct sync_node_peer_info *p = &info.peers[k];

		len += (size_t) snprintf(line + len, sizeof(line) - len,
								 "%speer id=%" PRIu64 " voter=%d connected=%d contact_ms=%" PRId64
								 " match=%" PRIu64 " commit_sent=%" PRIu64,
								 k ? "; " : "", p->id, p->voter, p->connected,
								 p->last_contact_ms, p->match_index, p->commit_sent);
	}
	reply(c, "%s", line);
}

static void
on_proposal_done(void *arg, enum sync_node_result result, uint64_t index)
{
	struct client *c = arg;

	c->waiting--;
	if (result == SYNC_NODE_COMMITTED)
		reply(c, "committed index=%" PRIu64, index);
	else
		reply(c, "error unknown index=%" PRIu64, index);
	client_free_if_done(c);
}

static void
cmd_propose(struct client *c, const char *arg)
{
	struct sync_node_info info;
	size_t		len = strlen(arg);
	char	   *buf = malloc(len + 1);
	int			rc;

	/* A test entry: the applier skips payloads that start with 0. */
	PGQ_ASSERT(buf != NULL);
	buf[0] = APPLIER_OPAQUE_PREFIX;
	memcpy(buf + 1, arg, len);
	rc = sync_node_propose(c->ctl->node, buf, (uint32_t) len + 1, on_proposal_done, c);
	free(buf);

	if (rc == 0)
	{
		c->waiting++;
		return;
	}
	sync_node_status(c->ctl->node, &info);
	if (rc == SYNC_NODE_NOT_PRIMARY)
		reply(c, "error not-primary leader=%" PRIu64, info.leader_id);
	else
		reply(c, "error refused");
}

/* propose-hex HEX: a binary payload (an entry of the capture's format). */
static void
cmd_propose_hex(struct client *c, const char *arg)
{
	size_t		len = strlen(arg) / 2;
	uint8_t    *buf = malloc(len + 1);
	int			rc;

	PGQ_ASSERT(buf != NULL);
	for (size_t i = 0; i < len; i++)
	{
		unsigned	b;

		if (sscanf(arg + 2 * i, "%2x", &b) != 1)
		{
			reply(c, "error usage: propose-hex HEX");
			free(buf);
			return;
		}
		buf[i] = (uint8_t) b;
	}
	if (len == 0 || strlen(arg) % 2 != 0)
	{
		reply(c, "error usage: propose-hex HEX");
		free(buf);
		return;
	}
	rc = sync_node_propose(c->ctl->node, buf, (uint32_t) len, on_proposal_done, c);
	free(buf);
	if (rc == 0)
		c->waiting++;
	else
		reply(c, "error %s", rc == SYNC_NODE_NOT_PRIMARY ? "not-primary" : "refused");
}

static void
cmd_read(struct client *c, const char *arg)
{
	char	   *end;
	uint64_t	index = strtoull(arg, &end, 10);
	uint64_t	term;
	uint32_t	type;
	char		buf[4096];
	long		len;

	if (end == arg || *end != '\0')
	{
		reply(c, "error usage: read INDEX");
		return;
	}
	len = sync_node_read(c->ctl->node, index, &term, &type, buf, sizeof(buf));
	if (len < 0)
	{
		reply(c, "error no-entry");
		return;
	}
	{
		/* Test entries carry a leading 0 byte (see cmd_propose). */
		int			skip = len > 0 && buf[0] == APPLIER_OPAQUE_PREFIX;
		int			shown = (int) (len < (long) sizeof(buf) ? len : (long) sizeof(buf)) - skip;

		reply(c, "entry index=%" PRIu64 " term=%" PRIu64 " type=%u len=%ld payload=%.*s",
			  index, term, type, len, shown, buf + skip);
	}
}

static void
cmd_transfer(struct client *c, const char *arg)
{
	char		err[256];
	char	   *end;
	uint64_t	to = strtoull(arg, &end, 10);

	if (end == arg || *end != '\0')
		reply(c, "error usage: transfer NODE_ID");
	else if (sync_node_transfer(c->ctl->node, to, err, sizeof(err)) < 0)
		reply(c, "error %s", err);
	else
		reply(c, "ok");
}

static void
on_commit_done(void *arg, enum commit_result result, uint64_t index)
{
	struct client *c = arg;
	static const char *const names[] = {
		[COMMIT_OK] = "committed", [COMMIT_UNKNOWN] = "error unknown",
		[COMMIT_TIMEOUT] = "error timeout", [COMMIT_REFUSED] = "error refused",
	};

	c->waiting--;
	if (result == COMMIT_OK)
		reply(c, "committed index=%" PRIu64, index);
	else
		reply(c, "%s", names[result]);
	client_free_if_done(c);
}

static void
cmd_commit_wait(struct client *c, const char *arg)
{
	if (c->ctl->commit == NULL || arg[0] == '\0')
		reply(c, "error usage: commit-wait TXNID");
	else if (commit_wait(c->ctl->commit, arg, on_commit_done, c) < 0)
		reply(c, "error too many waiters");
	else
		c->waiting++;
}

static void
cmd_capture(struct client *c, const char *arg)
{
	struct commit_stats st;

	if (c->ctl->commit == NULL)
	{
		reply(c, "error no capture");
		return;
	}
	commit_stats(c->ctl->commit, &st);
	reply(c, "state=%s proposed=%" PRIu64 " committed=%" PRIu64 " unknown=%" PRIu64
		  " timeouts=%" PRIu64 " not_primary=%" PRIu64 " decode_lag_ms=%" PRId64
		  " lag_bytes=%" PRIu64, st.capture_state, st.proposed_chunks, st.committed_txns,
		  st.unknown_txns, st.timeouts, st.skipped_not_primary, st.decode_lag_ms,
		  st.capture_lag_bytes);
}

static const struct
{
	const char *name;
	void		(*run) (struct client *c, const char *arg);
}			commands[] = {
	{"status", cmd_status},
	{"peers", cmd_peers},
	{"propose", cmd_propose},
	{"propose-hex", cmd_propose_hex},
	{"read", cmd_read},
	{"transfer", cmd_transfer},
	{"commit-wait", cmd_commit_wait},
	{"capture", cmd_capture},
};

static void
run_line(struct client *c, char *line)
{
	size_t		n = strcspn(line, " ");
	const char *arg = line[n] ? line + n + 1 : "";

	line[n] = '\0';
	for (size_t i = 0; i < PGQ_LENGTHOF(commands); i++)
	{
		if (strcmp(commands[i].name, line) == 0)
		{
			commands[i].run(c, arg);
			return;
		}
	}
	reply(c, "error unknown command \"%.64s\"", line);
}

static void
client_close(struct client *c)
{
	struct control *ctl = c->ctl;

	ev_io_stop(ctl->loop, &c->rio);
	ev_io_stop(ctl->loop, &c->wio);
	close(c->fd);
	c->closed = true;
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (ctl->clients[i] == c)
			ctl->clients[i] = NULL;
	client_free_if_done(c);
}

static void
client_free_if_done(struct client *c)
{
	if (!c->closed || c->waiting > 0)
		return;
	pgq_buf_free(&c->in);
	pgq_buf_free(&c->out);
	free(c);
}

static void
on_client_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = w->data;
	uint8_t    *p = pgq_buf_reserve(&c->in, 4096);
	ssize_t		n;
	char	   *nl;

	if (p == NULL)
	{
		reply(c, "error line longer than %d bytes", LINE_MAX_BYTES);
		pgq_buf_consume(&c->in, c->in.len);
		return;
	}
	n = read(c->fd, p, 4096);
	if (n <= 0)
	{
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			client_close(c);
		return;
	}
	c->in.len += (size_t) n;
	while ((nl = memchr(pgq_buf_head(&c->in), '\n', c->in.len)) != NULL)
	{
		size_t		len = (size_t) (nl - (char *) pgq_buf_head(&c->in));

		*nl = '\0';
		if (len > 0 && nl[-1] == '\r')
			nl[-1] = '\0';
		run_line(c, (char *) pgq_buf_head(&c->in));
		pgq_buf_consume(&c->in, len + 1);
	}
}

static void
on_client_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = w->data;
	ssize_t		n = write(c->fd, pgq_buf_head(&c->out), c->out.len);

	if (n < 0 && errno != EAGAIN && errno != EINTR)
	{
		client_close(c);
		return;
	}
	if (n > 0)
		pgq_buf_consume(&c->out, (size_t) n);
	if (c->out.len == 0)
		ev_io_stop(loop, w);
}

static void
on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control *ctl = w->data;
	int			fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct client *c;
	int			slot = -1;

	if (fd < 0)
		return;
	for (int i = 0; i < MAX_CLIENTS && slot < 0; i++)
		if (ctl->clients[i] == NULL)
			slot = i;
	if (slot < 0)
	{
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	PGQ_ASSERT(c != NULL);
	c->ctl = ctl;
	c->fd = fd;
	pgq_buf_init(&c->in, LINE_MAX_BYTES);
	pgq_buf_init(&c->out, 4 << 20);
	ev_io_init(&c->rio, on_client_read, fd, EV_READ);
	ev_io_init(&c->wio, on_client_write, fd, EV_WRITE);
	c->rio.data = c->wio.data = c;
	ev_io_start(loop, &c->rio);
	ctl->clients[slot] = c;
}

struct control *
control_start(struct ev_loop *loop, const char *path,
			  const struct control_targets *targets, char *err, size_t errlen)
{
	struct control *ctl = calloc(1, sizeof(*ctl));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	PGQ_ASSERT(ctl != NULL);
	if (strlen(path) >= sizeof(sa.sun_path))
	{
		snprintf(err, errlen, "control socket path \"%s\" is longer than %zu bytes",
				 path, sizeof(sa.sun_path) - 1);
		free(ctl);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	strcpy(ctl->path, path);
	ctl->loop = loop;
	ctl->node = targets->node;
	ctl->applier = targets->applier;
	ctl->commit = targets->commit;
	unlink(path);
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0 || bind(ctl->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
		chmod(path, 0600) < 0 || listen(ctl->fd, 16) < 0)
	{
		snprintf(err, errlen, "could not open control socket \"%s\": %s", path, strerror(errno));
		if (ctl->fd >= 0)
			close(ctl->fd);
		free(ctl);
		return NULL;
	}
	ev_io_init(&ctl->accept_io, on_accept, ctl->fd, EV_READ);
	ctl->accept_io.data = ctl;
	ev_io_start(loop, &ctl->accept_io);
	return ctl;
}

/* Call before the sync node stops: pending proposals answer into clients. */
void
control_stop(struct control *ctl)
{
	ev_io_stop(ctl->loop, &ctl->accept_io);
	close(ctl->fd);
	unlink(ctl->path);
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (ctl->clients[i] != NULL)
			client_close(ctl->clients[i]);
	free(ctl);
}
