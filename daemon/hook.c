/*
 * hook.c - running the --on-complete program (see hook.h).
 *
 * Runs on: hook_run() on the main thread, which copies everything the run
 * needs (argv, environment, ids) and starts a detached thread; that thread
 * looks up the owner's group and home (the user database may be slow),
 * forks, reads the program's output into the log, kills it at the
 * deadline and reaps it.  Between fork and exec the child calls only
 * async-signal-safe functions: the daemon is multithreaded.
 */
#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "monoclock.h"

/* One log line of the program's output is cut here. */
#define HOOK_LINE_MAX 1024
#define HOOK_N_ENV 9

struct hook_job {
	char *prog;
	char *env[HOOK_N_ENV + 1];
	long timeout_s;
	int64_t id;
	bool drop;        /* root: become the owner first */
	uid_t uid;
	gid_t gid;
};

static void hook_job_free(struct hook_job *j)
{
	free(j->prog);
	for (int i = 0; i < HOOK_N_ENV; i++)
		free(j->env[i]);
	free(j);
}

/* The child: become the owner, wire the output, exec.  Never returns. */
static void hook_child(const struct hook_job *j, int out_fd)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigaction(SIGPIPE, &dfl, NULL);
	setpgid(0, 0); /* the deadline kills the whole group */
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 ||
	    dup2(out_fd, 2) < 0)
		_exit(126);
	if (j->drop && (setgroups(1, &j->gid) < 0 || setgid(j->gid) < 0 ||
			setuid(j->uid) < 0))
		_exit(126);
	/* Nothing of the daemon's (sockets, state files) goes along. */
	if (close_range(3, ~0U, 0) < 0)
		for (int fd = 3; fd < 65536; fd++)
			close(fd);
	char *argv[] = {j->prog, NULL};
	execve(j->prog, argv, j->env);
	_exit(127);
}

/* deadline_us: monoclock_us() time. */
static long hook_ms_left(int64_t deadline_us)
{
	int64_t ms = (deadline_us - monoclock_us()) / 1000;
	return ms > 0 ? (long)ms : 0;
}

/* Logs the output line by line until EOF or the deadline; true if the
 * deadline came first. */
static bool hook_follow(const struct hook_job *j, int fd,
			int64_t deadline_us)
{
	char line[HOOK_LINE_MAX + 1];
	size_t len = 0;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long ms = hook_ms_left(deadline_us);
		if (ms == 0)
			return true;
		int r = poll(&p, 1, (int)(ms > 60000 ? 60000 : ms));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		char buf[512];
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n' && len < HOOK_LINE_MAX) {
				line[len++] = buf[i];
				continue;
			}
			if (buf[i] != '\n')
				continue; /* the rest of an overlong line */
			line[len] = 0;
			log_info("hook for torrent %lld: %s", (long long)j->id,
				 line);
			len = 0;
		}
	}
	if (len) {
		line[len] = 0;
		log_info("hook for torrent %lld: %s", (long long)j->id, line);
	}
	return false;
}

static char *hook_env(const char *key, const char *val);

/* The owner's group and home, from the user database: on the hook's own
 * thread, since NSS may be slow and hook_run is called on the main one. */
static void hook_owner(struct hook_job *j)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (getpwuid_r(j->uid, &pw, buf, sizeof buf, &res) == 0 && res) {
		j->gid = pw.pw_gid;
		j->env[7] = hook_env("HOME", pw.pw_dir);
	}
}

static void *hook_thread(void *arg)
{
	struct hook_job *j = arg;
	if (j->drop)
		hook_owner(j);
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		log_error("hook for torrent %lld not run: pipe: %s",
			  (long long)j->id, strerror(errno));
		hook_job_free(j);
		return NULL;
	}
	pid_t pid = fork();
	if (pid == 0)
		hook_child(j, pfd[1]);
	close(pfd[1]);
	if (pid < 0) {
		log_error("hook for torrent %lld not run: fork: %s",
			  (long long)j->id, strerror(errno));
		close(pfd[0]);
		hook_job_free(j);
		return NULL;
	}
	log_info("hook for torrent %lld: started %s (pid %ld)",
		 (long long)j->id, j->prog, (long)pid);
	int64_t deadline_us = monoclock_us() + (int64_t)j->timeout_s * 1000000;
	bool late = hook_follow(j, pfd[0], deadline_us);
	close(pfd[0]);
	if (late) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		log_warn("hook for torrent %lld: killed after %ld s "
			 "(--hook-timeout)", (long long)j->id, j->timeout_s);
	}
	int status = 0;
	/* The output may close before the program ends (it closed its
	 * stdout, or left a child holding it): its exit is awaited up to
	 * the deadline too, on a pidfd. */
	if (!late) {
		int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		struct pollfd p = {.fd = pidfd, .events = POLLIN};
		int r;
		while (pidfd >= 0 &&
		       (r = poll(&p, 1, (int)hook_ms_left(deadline_us))) < 0 &&
		       errno == EINTR)
			;
		if (pidfd >= 0 && r == 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			log_warn("hook for torrent %lld: killed after %ld s "
				 "(--hook-timeout)", (long long)j->id, j->timeout_s);
			late = true;
		}
		if (pidfd >= 0)
			close(pidfd);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!late && WIFEXITED(status) && WEXITSTATUS(status) != 0)
		log_warn("hook for torrent %lld: %s exited with %d%s",
			 (long long)j->id, j->prog, WEXITSTATUS(status),
			 WEXITSTATUS(status) == 127 ? " (could not be run)"
			 : WEXITSTATUS(status) == 126
				 ? " (could not become the torrent's owner)"
				 : "");
	else if (!late && WIFSIGNALED(status))
		log_warn("hook for torrent %lld: %s killed by signal %d",
			 (long long)j->id, j->prog, WTERMSIG(status));
	else if (!late)
		log_info("hook for torrent %lld: done", (long long)j->id);
	hook_job_free(j);
	return NULL;
}

static char *hook_env(const char *key, const char *val)
{
	char *s = NULL;
	if (asprintf(&s, "%s=%s", key, val ? val : "") < 0)
		return NULL;
	return s;
}

void hook_run(const char *prog, long timeout_s, const struct hook_torrent *t)
{
	struct hook_job *j = calloc(1, sizeof *j);
	if (!j) {
		log_error("hook for torrent %lld not run: out of memory",
			  (long long)t->id);
		return;
	}
	j->prog = strdup(prog);
	j->timeout_s = timeout_s > 0 ? timeout_s : 300;
	j->id = t->id;
	char id[32], owner[32];
	snprintf(id, sizeof id, "%lld", (long long)t->id);
	snprintf(owner, sizeof owner, "%u", (unsigned)t->owner);
	j->env[0] = hook_env("TPD_TORRENT_ID", id);
	j->env[1] = hook_env("TPD_TORRENT_NAME", t->name);
	j->env[2] = hook_env("TPD_TORRENT_HASH", t->info_hash);
	j->env[3] = hook_env("TPD_TORRENT_DIR", t->dir);
	j->env[4] = hook_env("TPD_TORRENT_LABELS", t->labels);
	j->env[5] = hook_env("TPD_TORRENT_OWNER", owner);
	j->env[6] = hook_env("PATH", "/usr/local/bin:/usr/bin:/bin");
	/* As the owner when root runs it; their group and home are looked
	 * up on the hook's thread (hook_owner), not here. */
	if (geteuid() == 0 && t->owner != 0) {
		j->drop = true;
		j->uid = t->owner;
		j->gid = (gid_t)t->owner;
	}
	for (int i = 0; i < 7; i++)
		if (!j->env[i] || !j->prog) {
			log_error("hook for torrent %lld not run: out of memory",
				  (long long)t->id);
			hook_job_free(j);
			return;
		}
	pthread_t th;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &at, hook_thread, j) != 0) {
		log_error("hook for torrent %lld not run: no thread",
			  (long long)t->id);
		hook_job_free(j);
	}
	pthread_attr_destroy(&at);
}
