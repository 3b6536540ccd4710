/*
 * rebuild.c
 *	  Rebuild the local PostgreSQL server from a healthy node's server.
 *	  See rebuild.h for the steps and their failure paths.
 *
 * A step is either a child process (a command; its exit ends the step in
 * on_child) or done inline.  step_table[] says, for each step, where to go
 * on success and on failure; run_step() starts one, finish_step() moves on.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <ev.h>
#include <libpq-fe.h>

#include "common/pgq_assert.h"
#include "common/pgq_log.h"
#include "node/rebuild.h"

#define PATH_MAX_LEN 4096
#define OLD_SUFFIX ".pgquorum-old"

enum rb_step
{
	RB_STOP,					/* pg_ctl stop -m immediate */
	RB_CLEAR,					/* an interrupted rebuild's DATA, if any */
	RB_MOVE_ASIDE,				/* DATA -> DATA.pgquorum-old */
	RB_MAKE_DIR,				/* an empty DATA owned by the server's user */
	RB_COPY,					/* pg_basebackup */
	RB_CONFIG,					/* our configuration files back */
	RB_START,					/* pg_ctl start */
	RB_RESOLVE,					/* roll back the copy's prepared transactions */
	RB_DROP_OLD,				/* rm -rf DATA.pgquorum-old */
	RB_UNDO_REMOVE,				/* rm -rf DATA (a failed copy) */
	RB_UNDO_BACK,				/* DATA.pgquorum-old -> DATA */
	RB_UNDO_START,				/* pg_ctl start of the old server */
	RB_DONE,
	RB_FAILED,
};

static const struct
{
	const char *what;
	enum rb_step on_ok;
	enum rb_step on_fail;
}			step_table[] = {
	[RB_STOP] = {"stop the local server", RB_CLEAR, RB_CLEAR},	/* down already: fine */
	[RB_CLEAR] = {"remove what an interrupted rebuild copied", RB_MOVE_ASIDE, RB_FAILED},
	[RB_MOVE_ASIDE] = {"move the data directory aside", RB_MAKE_DIR, RB_UNDO_START},
	[RB_MAKE_DIR] = {"make the new data directory", RB_COPY, RB_UNDO_REMOVE},
	[RB_COPY] = {"copy the source server (pg_basebackup)", RB_CONFIG, RB_UNDO_REMOVE},
	[RB_CONFIG] = {"put the local configuration files back", RB_START, RB_UNDO_REMOVE},
	[RB_START] = {"start the copied server", RB_RESOLVE, RB_FAILED},
	[RB_RESOLVE] = {"roll back the copy's prepared transactions", RB_DROP_OLD, RB_DROP_OLD},
	[RB_DROP_OLD] = {"remove the old data directory", RB_DONE, RB_DONE},
	[RB_UNDO_REMOVE] = {"remove the failed copy", RB_UNDO_BACK, RB_FAILED},
	[RB_UNDO_BACK] = {"move the old data directory back", RB_UNDO_START, RB_FAILED},
	[RB_UNDO_START] = {"start the old server again", RB_FAILED, RB_FAILED},
};

struct rebuild
{
	struct ev_loop *loop;
	rebuild_done_cb cb;
	void	   *cb_arg;
	char		pg_data[PATH_MAX_LEN];
	char		old_data[PATH_MAX_LEN];
	char		pg_ctl[PATH_MAX_LEN];
	char		pg_basebackup[PATH_MAX_LEN];
	char		rm[PATH_MAX_LEN];
	char		server_log[PATH_MAX_LEN];
	char	   *source;
	char	   *local_conninfo;
	char	   *log_path;
	bool		drop_privileges;	/* children run as the data dir's owner */
	uid_t		uid;
	gid_t		gid;
	enum rb_step step;
	ev_child	child;
	ev_idle		kick;			/* runs the next inline step off the stack */
	char		why[512];		/* the first failure */
};

static void run_step(struct rebuild *rb);

/* Full path of a program: in bin_dir, or the first on PATH. */
static bool
find_program(const char *bin_dir, const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH");

	if (bin_dir != NULL && bin_dir[0] != '\0')
	{
		snprintf(out, len, "%s/%s", bin_dir, name);
		return access(out, X_OK) == 0;
	}
	while (path != NULL && *path != '\0')
	{
		const char *end = strchr(path, ':');
		int			n = end ? (int) (end - path) : (int) strlen(path);

		snprintf(out, len, "%.*s/%s", n, path, name);
		if (n > 0 && access(out, X_OK) == 0)
			return true;
		path = end ? end + 1 : NULL;
	}
	return false;
}

static void
note_failure(struct rebuild *rb, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
note_failure(struct rebuild *rb, const char *fmt,...)
{
	va_list		ap;

	if (rb->why[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(rb->why, sizeof(rb->why), fmt, ap);
	va_end(ap);
}

static void
finish_step(struct rebuild *rb, bool ok)
{
	enum rb_step from = rb->step;

	if (!ok)
		pgq_warn("rebuild: could not %s%s%s", step_table[from].what,
				 rb->why[0] ? ": " : "", rb->why);
	rb->step = ok ? step_table[from].on_ok : step_table[from].on_fail;
	if (rb->step == RB_DONE || rb->step == RB_FAILED)
	{
		ev_idle_stop(rb->loop, &rb->kick);
		rb->cb(rb->cb_arg, rb->step == RB_DONE, rb->why[0] ? rb->why : "failed");
		return;
	}
	ev_idle_start(rb->loop, &rb->kick);	/* next step on the next iteration */
}

static void
on_kick(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct rebuild *rb = w->data;

	ev_idle_stop(loop, w);
	run_step(rb);
}

static void
on_child(struct ev_loop *loop, ev_child *w, int revents)
{
	struct rebuild *rb = w->data;
	int			status = w->rstatus;
	bool		ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	ev_child_stop(loop, w);
	if (!ok)
		note_failure(rb, "%s exited with %s %d (output in %s)",
					  rb->step == RB_COPY ? "pg_basebackup" : "a command",
					  WIFEXITED(status) ? "status" : "signal",
					  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), rb->log_path);
	if (!ok && rb->step == RB_STOP)
		rb->why[0] = '\0';		/* a server already down: fine */
	finish_step(rb, ok);
}

/* In the child, before exec: only async-signal-safe calls. */
static void
child_exec(struct rebuild *rb, bool as_owner, int log_fd, char *const argv[])
{
	int			null_fd = open("/dev/null", O_RDONLY);

	if (null_fd >= 0)
		dup2(null_fd, 0);
	if (log_fd >= 0)
	{
		dup2(log_fd, 1);
		dup2(log_fd, 2);
	}
	signal(SIGPIPE, SIG_DFL);
	if (as_owner && rb->drop_privileges &&
		(setgroups(1, &rb->gid) != 0 || setgid(rb->gid) != 0 || setuid(rb->uid) != 0))
		_exit(126);
	execv(argv[0], argv);
	_exit(127);
}

/* Start argv as a child; its exit finishes the step. */
static void
spawn(struct rebuild *rb, bool as_owner, char *const argv[])
{
	int			log_fd = open(rb->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	pid_t		pid;

	pgq_info("rebuild: %s: %s", step_table[rb->step].what, argv[0]);
	if (log_fd >= 0)
		dprintf(log_fd, "pgquorum rebuild: %s: %s\n", step_table[rb->step].what, argv[0]);
	pid = fork();
	if (pid == 0)
		child_exec(rb, as_owner, log_fd, argv);
	if (log_fd >= 0)
		close(log_fd);
	if (pid < 0)
	{
		note_failure(rb, "fork: %s", strerror(errno));
		finish_step(rb, false);
		return;
	}
	ev_child_init(&rb->child, on_child, pid, 0);
	rb->child.data = rb;
	ev_child_start(rb->loop, &rb->child);
}

/* A missing source is fine when missing_ok (a rebuild done again). */
static bool
do_rename(struct rebuild *rb, const char *from, const char *to, bool missing_ok)
{
	if (rename(from, to) == 0 || (missing_ok && errno == ENOENT))
		return true;
	note_failure(rb, "rename \"%s\" to \"%s\": %s", from, to, strerror(errno));
	return false;
}

static bool
make_dir(struct rebuild *rb)
{
	if (mkdir(rb->pg_data, 0700) != 0 ||
		(rb->drop_privileges && chown(rb->pg_data, rb->uid, rb->gid) != 0))
	{
		note_failure(rb, "mkdir \"%s\": %s", rb->pg_data, strerror(errno));
		return false;
	}
	return true;
}

/* Copy one small file from the old directory into the new one, if there. */
static bool
copy_back(struct rebuild *rb, const char *name)
{
	char		from[PATH_MAX_LEN + 64];
	char		to[PATH_MAX_LEN + 64];
	char		buf[65536];
	int			in,
				out;
	ssize_t		n = 0;
	bool		ok = true;

	snprintf(from, sizeof(from), "%s/%s", rb->old_data, name);
	snprintf(to, sizeof(to), "%s/%s", rb->pg_data, name);
	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	while (out >= 0 && ok && (n = read(in, buf, sizeof(buf))) > 0)
		ok = write(out, buf, (size_t) n) == n;
	ok = ok && out >= 0 && n == 0 &&
		(!rb->drop_privileges || fchown(out, rb->uid, rb->gid) == 0) && fsync(out) == 0;
	if (!ok)
		note_failure(rb, "copy \"%s\" to \"%s\": %s", from, to, strerror(errno));
	if (out >= 0)
		close(out);
	close(in);
	return ok;
}

static bool
config_back(struct rebuild *rb)
{
	static const char *const names[] = {"postgresql.conf", "postgresql.auto.conf",
	"pg_hba.conf", "pg_ident.conf"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!copy_back(rb, names[i]))
			return false;
	return true;
}

/* Roll back one prepared transaction in its own database. */
static bool
rollback_prepared(struct rebuild *rb, const char *gid, const char *db)
{
	const char *const keys[] = {"dbname", "dbname", NULL};
	const char *const values[] = {rb->local_conninfo, db, NULL};
	PGconn	   *conn = PQconnectdbParams(keys, values, 1);
	char	   *lit = NULL;
	char		sql[1024];
	PGresult   *res = NULL;
	bool		ok = false;

	if (PQstatus(conn) == CONNECTION_OK && (lit = PQescapeLiteral(conn, gid, strlen(gid))) != NULL)
	{
		snprintf(sql, sizeof(sql), "ROLLBACK PREPARED %s", lit);
		res = PQexec(conn, sql);
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	}
	if (!ok)
		note_failure(rb, "ROLLBACK PREPARED '%s' in database \"%s\": %s", gid, db,
					  PQerrorMessage(conn));
	else
		pgq_info("rebuild: rolled back the copied prepared transaction %s (database %s)", gid, db);
	PQfreemem(lit);
	PQclear(res);
	PQfinish(conn);
	return ok;
}

static bool
resolve_prepared(struct rebuild *rb)
{
	PGconn	   *conn = PQconnectdb(rb->local_conninfo);
	PGresult   *res = NULL;
	bool		ok = PQstatus(conn) == CONNECTION_OK;

	if (ok)
	{
		res = PQexec(conn, "SELECT gid, database FROM pg_catalog.pg_prepared_xacts");
		ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	}
	if (!ok)
		note_failure(rb, "list the prepared transactions: %s", PQerrorMessage(conn));
	for (int i = 0; ok && i < PQntuples(res); i++)
		ok = rollback_prepared(rb, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
	PQclear(res);
	PQfinish(conn);
	return ok;
}

static void
run_step(struct rebuild *rb)
{
	char	   *stop[] = {rb->pg_ctl, "-D", rb->pg_data, "-m", "immediate", "-w", "stop", NULL};
	char	   *start[] = {rb->pg_ctl, "-D", rb->pg_data, "-l", rb->server_log, "-w", "-t", "600",
	"start", NULL};
	char	   *clear_old[] = {rb->rm, "-rf", "--", rb->old_data, NULL};
	char	   *clear_new[] = {rb->rm, "-rf", "--", rb->pg_data, NULL};
	char	   *copy[] = {rb->pg_basebackup, "-D", rb->pg_data, "-X", "stream", "-c", "fast",
	"-d", rb->source, NULL};

	switch (rb->step)
	{
		case RB_STOP:
			spawn(rb, true, stop);
			break;
		case RB_CLEAR:
			/* the directory moved aside is the old server: keep it */
			if (access(rb->old_data, F_OK) == 0)
				spawn(rb, false, clear_new);
			else
				finish_step(rb, true);
			break;
		case RB_MOVE_ASIDE:
			finish_step(rb, do_rename(rb, rb->pg_data, rb->old_data, true));
			break;
		case RB_MAKE_DIR:
			finish_step(rb, make_dir(rb));
			break;
		case RB_COPY:
			spawn(rb, true, copy);
			break;
		case RB_CONFIG:
			finish_step(rb, config_back(rb));
			break;
		case RB_START:
		case RB_UNDO_START:
			spawn(rb, true, start);
			break;
		case RB_RESOLVE:
			finish_step(rb, resolve_prepared(rb));
			break;
		case RB_DROP_OLD:
			spawn(rb, false, clear_old);
			break;
		case RB_UNDO_REMOVE:
			spawn(rb, false, clear_new);
			break;
		case RB_UNDO_BACK:
			finish_step(rb, do_rename(rb, rb->old_data, rb->pg_data, false));
			break;
		case RB_DONE:
		case RB_FAILED:
			PGQ_UNREACHABLE();
	}
}

static int
check_params(struct rebuild *rb, const struct rebuild_params *p, char *err, size_t errlen)
{
	struct stat st;
	char		old[PATH_MAX_LEN];

	if (strlen(p->pg_data) + sizeof(OLD_SUFFIX) + 16 > PATH_MAX_LEN || p->pg_data[0] != '/')
	{
		snprintf(err, errlen, "postgres_data_dir \"%s\" must be an absolute path", p->pg_data);
		return -1;
	}
	/* An interrupted rebuild may have left only the directory moved aside. */
	snprintf(old, sizeof(old), "%s%s", p->pg_data, OLD_SUFFIX);
	if ((stat(p->pg_data, &st) != 0 && stat(old, &st) != 0) || !S_ISDIR(st.st_mode))
	{
		snprintf(err, errlen, "postgres_data_dir \"%s\" is not a directory", p->pg_data);
		return -1;
	}
	rb->uid = st.st_uid;
	rb->gid = st.st_gid;
	rb->drop_privileges = geteuid() == 0 && st.st_uid != 0;
	if (!find_program(p->bin_dir, "pg_ctl", rb->pg_ctl, sizeof(rb->pg_ctl)) ||
		!find_program(p->bin_dir, "pg_basebackup", rb->pg_basebackup, sizeof(rb->pg_basebackup)) ||
		!find_program(NULL, "rm", rb->rm, sizeof(rb->rm)))
	{
		snprintf(err, errlen, "pg_ctl, pg_basebackup or rm not found (postgres_bin_dir \"%s\")",
				 p->bin_dir ? p->bin_dir : "");
		return -1;
	}
	return 0;
}

struct rebuild *
rebuild_start(struct ev_loop *loop, const struct rebuild_params *p,
			  rebuild_done_cb cb, void *arg, char *err, size_t errlen)
{
	struct rebuild *rb = calloc(1, sizeof(*rb));

	PGQ_ASSERT(rb != NULL);
	if (check_params(rb, p, err, errlen) < 0)
	{
		free(rb);
		return NULL;
	}
	rb->loop = loop;
	rb->cb = cb;
	rb->cb_arg = arg;
	snprintf(rb->pg_data, sizeof(rb->pg_data), "%s", p->pg_data);
	snprintf(rb->old_data, sizeof(rb->old_data), "%s%s", p->pg_data, OLD_SUFFIX);
	snprintf(rb->server_log, sizeof(rb->server_log), "%s/server.log", p->pg_data);
	rb->source = strdup(p->source);
	rb->local_conninfo = strdup(p->local_conninfo);
	rb->log_path = strdup(p->log_path);
	PGQ_ASSERT(rb->source && rb->local_conninfo && rb->log_path);
	ev_idle_init(&rb->kick, on_kick);
	rb->kick.data = rb;
	rb->step = RB_STOP;
	run_step(rb);
	return rb;
}

void
rebuild_stop(struct rebuild *rb)
{
	if (ev_is_active(&rb->child))
	{
		kill(rb->child.pid, SIGTERM);
		ev_child_stop(rb->loop, &rb->child);
	}
	ev_idle_stop(rb->loop, &rb->kick);
	free(rb->source);
	free(rb->local_conninfo);
	free(rb->log_path);
	free(rb);
}
