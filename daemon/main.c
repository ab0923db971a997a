/*
 * main.c - tpd's start-up and shut-down checklist.  Main thread.
 *
 * options -> config file -> directories -> signals -> socket (is another
 * tpd running?) -> engine thread -> workers -> service -> ready -> loop ->
 * orderly stop.
 */
#include <curl/curl.h>
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "access.h"
#include "blocklist.h"
#include "engine.h"
#include "log.h"
#include "monoclock.h"
#include "options.h"
#include "hook.h"
#include "peernet.h"
#include "watchdir.h"
#include "server.h"
#include "service.h"
#include "worker.h"

#define MAIN_STATUS_EVERY_S 5
/* URL fetches mostly wait on the network: they get their own, larger pool
 * so slow servers cannot hold up reading and hashing for everyone. */
#define MAIN_FETCH_THREADS 16
/* The engine answers a batch of creates at once (one commit, up to 1,024
 * torrents), each with its NewTorrentCreated and status, at 20-80 us of
 * this thread apiece: taken whole, they held every patron's request
 * behind them for tens of milliseconds.  So a turn of the main loop takes
 * them MAIN_EVENTS_BATCH at a time for at most MAIN_EVENTS_TURN_US, then
 * the patrons' requests run, then the rest.  Measured (issue 12, README):
 * `status` p99 while 10,000 are added, 64 patrons: 128 a turn, 5-12 ms;
 * 16 a turn, 2.7 ms; batches of 16 within 250 us, 3.2-3.6 ms at up to
 * 6,377 adds/s (the turns' extra cost bought back).  A `list` right after
 * such a burst is not slowed: a turn with nothing else to do takes the
 * next batch at once. */
#define MAIN_EVENTS_BATCH 16
#define MAIN_EVENTS_TURN_US 250

struct tpd {
	struct tpd_options opt;
	int argc;
	char **argv;
	struct server *srv;
	struct engine *eng;
	struct workers *work;   /* reading .torrent files, hashing */
	struct workers *fetch;  /* URL fetches */
	struct service *svc;
	struct watchdir *watch; /* --watch-dir, or NULL */
	int sig_fd;
	int status_fd;
};

static const char *main_env(const char *name)
{
	return getenv(name);
}

static char *main_read_file(const char *path, char **err)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		if (asprintf(err, "cannot read %s: %s", path, strerror(errno)) < 0)
			*err = NULL;
		return NULL;
	}
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while (mem && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, n, mem);
	if (mem)
		fclose(mem);
	fclose(f);
	return buf;
}

/* Defaults, then the config file, then the command line, which wins.
 * Returns the exit status to leave with, or -1 to go on. */
static int main_configure(struct tpd *t)
{
	char *err = NULL;
	struct tpd_options probe;
	options_defaults(&probe, geteuid(), main_env);
	enum options_result r = options_parse(&probe, t->argc, t->argv, &err);
	if (r != OPTIONS_OK) {
		if (r == OPTIONS_ERROR)
			fprintf(stderr, "tpd: %s\nTry 'tpd --help'.\n",
				err ? err : "bad usage");
		free(err);
		options_free(&probe);
		return r == OPTIONS_EXIT ? 0 : 2;
	}
	options_defaults(&t->opt, geteuid(), main_env);
	if (access(probe.config, F_OK) == 0 || probe.config_given) {
		char *text = main_read_file(probe.config, &err);
		if (!text || options_apply_config(&t->opt, probe.config, text,
						  &err) < 0) {
			fprintf(stderr, "tpd: %s\n", err ? err : "bad config");
			free(text);
			free(err);
			options_free(&probe);
			return 1;
		}
		free(text);
	}
	options_free(&probe);
	options_parse(&t->opt, t->argc, t->argv, &err);
	if (options_finish(&t->opt, &err) < 0) {
		fprintf(stderr, "tpd: %s\n", err ? err : "bad options");
		free(err);
		return 1;
	}
	return -1;
}

static int main_mkdirs(const char *path, mode_t mode)
{
	char *p = strdup(path);
	if (!p)
		return -1;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	int rc = mkdir(p, mode) < 0 && errno != EEXIST ? -1 : 0;
	free(p);
	return rc;
}

static void main_on_engine(void *ctx)
{
	struct tpd *t = ctx;
	int64_t until = monoclock_us() + MAIN_EVENTS_TURN_US;
	size_t got;
	do {
		struct queue_link *l =
			engine_take_events(t->eng, MAIN_EVENTS_BATCH);
		for (got = 0; l; got++) {
			struct queue_link *next = l->next;
			l->next = NULL;
			service_engine_event(
				t->svc, QUEUE_ITEM(l, struct engine_event, link));
			l = next;
		}
	} while (got == MAIN_EVENTS_BATCH && monoclock_us() < until);
}

static void main_take_jobs(struct tpd *t, struct workers *w)
{
	struct queue_link *l = workers_take_done(w);
	while (l) {
		struct queue_link *next = l->next;
		l->next = NULL;
		service_work_done(t->svc, QUEUE_ITEM(l, struct work_job, link));
		l = next;
	}
}

static void main_on_workers(void *ctx)
{
	struct tpd *t = ctx;
	main_take_jobs(t, t->work);
}

static void main_on_fetchers(void *ctx)
{
	struct tpd *t = ctx;
	main_take_jobs(t, t->fetch);
}

/* Patrons may take what descriptors leave after a reserve for peers,
 * files and the daemon's own. */
static size_t main_fit_conns(size_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want + 256)
		return want;
	size_t fit = rl.rlim_cur > 512 ? rl.rlim_cur - 256 : rl.rlim_cur / 2;
	log_warn("only %llu descriptors allowed: --max-connections lowered "
		 "from %zu to %zu", (unsigned long long)rl.rlim_cur, want, fit);
	return fit;
}

/* uTP wants bigger socket buffers than kernels allow by default: the log
 * says which sysctl to raise when they are capped. */
static void main_utp_buffer_advice(void)
{
	char *advice = NULL;
	if (peernet_buffer_advice("/proc/sys/net/core", PEERNET_UTP_BUFFER,
				  &advice))
		log_warn("%s", advice);
	free(advice);
}

/* Reads the --blocklist file into a new list; NULL with *err. */
static struct blocklist *main_load_blocklist(const char *path, char **err)
{
	struct blocklist *bl = calloc(1, sizeof *bl);
	if (!bl) {
		*err = strdup("out of memory");
		return NULL;
	}
	if (blocklist_load(path, bl, err) < 0) {
		free(bl);
		return NULL;
	}
	return bl;
}

/* SIGHUP: the blocklist named now (by the config file or the command
 * line) replaces the one in use; a file that cannot be read or parsed
 * leaves the old one in force. */
static void main_reload_blocklist(struct tpd *t, const char *path)
{
	char *err = NULL;
	if (!path) {
		if (!t->opt.blocklist)
			return; /* none before, none now */
		log_info("SIGHUP: no blocklist any more");
		free(t->opt.blocklist);
		t->opt.blocklist = NULL;
		engine_set_blocklist(t->eng, NULL);
		return;
	}
	struct blocklist *bl = main_load_blocklist(path, &err);
	if (!bl) {
		log_warn("SIGHUP: keeping the old blocklist: %s",
			 err ? err : "?");
		free(err);
		return;
	}
	log_info("SIGHUP: blocklist %s: %zu IPv4 and %zu IPv6 ranges", path,
		 bl->n, bl->n6);
	free(t->opt.blocklist);
	t->opt.blocklist = strdup(path);
	engine_set_blocklist(t->eng, bl);
}

static bool main_differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* Names, in the log, each setting of the new file that differs from what
 * runs but only takes effect at a restart, so that a SIGHUP that seemed to
 * do nothing explains itself.  These are read once: the socket and the
 * state directory are open, the pools and the timers made, the watch
 * directory watched. */
static void main_log_restart_needed(const struct tpd_options *run,
				    const struct tpd_options *fresh)
{
	const struct {
		const char *name;
		bool changed;
	} keys[] = {
		{"state-dir", main_differ(run->state_dir, fresh->state_dir)},
		{"socket", main_differ(run->socket_path, fresh->socket_path)},
		{"socket-mode", run->socket_mode != fresh->socket_mode},
		{"socket-group", main_differ(run->socket_group, fresh->socket_group)},
		{"tick", run->tick_ms != fresh->tick_ms},
		{"workers", run->workers != fresh->workers},
		{"resume-interval", run->resume_interval != fresh->resume_interval},
		{"watch-dir", main_differ(run->watch_dir, fresh->watch_dir)},
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (keys[i].changed)
			log_warn("SIGHUP: %s changed; it takes effect at a restart",
				 keys[i].name);
}

static void main_take_str(char **run, char **fresh)
{
	free(*run);
	*run = *fresh;
	*fresh = NULL;
}

/* SIGHUP's peer side and daemon-wide settings go to the engine the way
 * session_set's do (service_reload_engine); what runs is then what the
 * engine says (info), and t->opt keeps them to compare the next reload. */
static void main_reload_engine(struct tpd *t, struct tpd_options *fresh)
{
	if (main_differ(t->opt.download_dir, fresh->download_dir) &&
	    main_mkdirs(fresh->download_dir, 0755) < 0) {
		log_warn("SIGHUP: download-dir stays %s: cannot create %s: %s",
			 t->opt.download_dir, fresh->download_dir,
			 strerror(errno));
		free(fresh->download_dir);
		fresh->download_dir = strdup(t->opt.download_dir);
	}
	if (fresh->utp && !t->opt.utp)
		main_utp_buffer_advice();
	struct tp_session ses;
	options_session(fresh, &ses);
	struct engine_net net = {
		.listen = fresh->listen ? strdup(fresh->listen) : NULL,
		.download_dir = strdup(fresh->download_dir),
		.dht_bootstrap = fresh->dht_bootstrap ? strdup(fresh->dht_bootstrap)
						      : NULL,
		.upnp = fresh->upnp,
		.tcp = fresh->tcp,
	};
	service_reload_engine(t->svc, &ses, &net);
	main_take_str(&t->opt.listen, &fresh->listen);
	main_take_str(&t->opt.download_dir, &fresh->download_dir);
	main_take_str(&t->opt.dht_bootstrap, &fresh->dht_bootstrap);
	t->opt.dht = fresh->dht;
	t->opt.lsd = fresh->lsd;
	t->opt.upnp = fresh->upnp;
	t->opt.pex = fresh->pex;
	t->opt.utp = fresh->utp;
	t->opt.tcp = fresh->tcp;
	t->opt.encryption = fresh->encryption;
}

static void main_reload(struct tpd *t)
{
	char *err = NULL;
	/* As at start: a default config file that does not exist is no
	 * error (the command line alone may name the blocklist). */
	char *text = access(t->opt.config, F_OK) == 0 || t->opt.config_given
			     ? main_read_file(t->opt.config, &err)
			     : strdup("");
	struct tpd_options fresh;
	options_defaults(&fresh, geteuid(), main_env);
	if (!text || options_apply_config(&fresh, t->opt.config, text, &err) < 0 ||
	    options_parse(&fresh, t->argc, t->argv, &err) != OPTIONS_OK ||
	    options_finish(&fresh, &err) < 0) {
		log_warn("SIGHUP: keeping the old settings: %s",
			 err ? err : "?");
	} else {
		/* Everything that can change while running does (SPEC
		 * section 9, tpd(8) SIGHUP); main_log_restart_needed names
		 * the rest. */
		log_set_level((enum log_level)fresh.log_level);
		server_set_limits(t->srv, fresh.max_line,
				  main_fit_conns(fresh.max_conns),
				  fresh.max_conns_user, fresh.max_output);
		struct service_config sc = {
			.default_tracker = fresh.tracker,
			.max_pending = fresh.max_pending,
			.max_torrent_bytes = fresh.max_torrent_size,
			.url_timeout_s = fresh.url_timeout,
		};
		service_reconfigure(t->svc, &sc);
		main_reload_blocklist(t, fresh.blocklist);
		main_take_str(&t->opt.on_complete, &fresh.on_complete);
		t->opt.hook_timeout = fresh.hook_timeout;
		main_reload_engine(t, &fresh);
		log_info("SIGHUP: reloaded %s (log level, tracker, limits, "
			 "blocklist, completion hook, peer side, download "
			 "directory, daemon-wide settings)", t->opt.config);
		main_log_restart_needed(&t->opt, &fresh);
	}
	free(err);
	free(text);
	options_free(&fresh);
}

static void main_on_signal(void *ctx)
{
	struct tpd *t = ctx;
	struct signalfd_siginfo si;
	while (read(t->sig_fd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			main_reload(t);
			continue;
		}
		log_info("signal %d: stopping", (int)si.ssi_signo);
		sd_notify(0, "STOPPING=1");
		server_stop(t->srv);
	}
}

static void main_on_watched(void *ctx, const char *path, bool added)
{
	struct tpd *t = ctx;
	if (t->watch)
		watchdir_done(t->watch, path, added);
}

static void main_on_completed(void *ctx, const struct engine_event *ev)
{
	struct tpd *t = ctx;
	if (!t->opt.on_complete)
		return;
	struct hook_torrent ht = {
		.id = ev->id,
		.name = ev->name,
		.info_hash = ev->info_hash,
		.dir = ev->save_path,
		.labels = ev->reason,
		.owner = ev->owner,
	};
	hook_run(t->opt.on_complete, t->opt.hook_timeout, &ht);
}

static void main_on_loaded(void *ctx)
{
	struct tpd *t = ctx;
	struct service_totals tot;
	service_totals(t->svc, &tot);
	log_info("ready: %zu torrents", tot.torrents);
	sd_notify(0, "READY=1");
}

/* systemctl status shows this line; refreshed by a timer. */
static void main_on_status_timer(void *ctx)
{
	struct tpd *t = ctx;
	uint64_t n;
	ssize_t r = read(t->status_fd, &n, sizeof n);
	(void)r;
	struct service_totals tot;
	service_totals(t->svc, &tot);
	sd_notifyf(0, "STATUS=%zu torrents (%zu downloading, %zu seeding, "
		   "%zu paused), down %lld B/s, up %lld B/s, %zu patrons",
		   tot.torrents, tot.downloading, tot.seeding, tot.paused,
		   (long long)tot.down_rate, (long long)tot.up_rate,
		   tot.connections);
}

/* On the main thread: with the groups the kernel gave for the
 * connection, so no check here waits on the user database (NSS); only a
 * connection the kernel could not describe goes through usercache.c. */
static int service_access(void *ctx, uint64_t conn, uid_t uid, gid_t gid,
			  const char *path, int mode, char **err)
{
	struct tpd *t = ctx;
	const struct access_ids *peer = server_conn_peer(t->srv, conn);
	if (peer && peer->uid == uid)
		return access_check_ids(peer, path, mode, err);
	return access_check(uid, gid, path, mode, err);
}

static void service_to_engine(void *ctx, struct engine_cmd *cmd)
{
	struct tpd *t = ctx;
	engine_submit(t->eng, cmd);
}

static void service_to_workers(void *ctx, struct work_job *job)
{
	struct tpd *t = ctx;
	workers_submit(job->kind == WORK_FETCH_URL ? t->fetch : t->work, job);
}


static void service_answer_cb(void *ctx, uint64_t c, const char *l, size_t n)
{
	struct tpd *t = ctx;
	server_answer(t->srv, c, l, n);
}

static void service_answer_take_cb(void *ctx, uint64_t c, char *l, size_t n)
{
	struct tpd *t = ctx;
	server_answer_take(t->srv, c, l, n);
}

static void service_push_cb(void *ctx, uint64_t c, int64_t id, const char *l,
			    size_t n)
{
	struct tpd *t = ctx;
	server_push(t->srv, c, id, l, n);
}

int main(int argc, char **argv)
{
	struct tpd t = {.argc = argc, .argv = argv, .sig_fd = -1,
			.status_fd = -1};
	int rc = main_configure(&t);
	if (rc >= 0)
		return rc;
	log_set_level((enum log_level)t.opt.log_level);
	rc = 1;
	char *err = NULL;

	if (main_mkdirs(t.opt.state_dir, 0750) < 0 ||
	    main_mkdirs(t.opt.download_dir, 0755) < 0) {
		log_error("cannot create %s or %s: %s", t.opt.state_dir,
			  t.opt.download_dir, strerror(errno));
		goto out;
	}

	/* Every patron and every peer is a descriptor: use what we may. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	t.opt.max_conns = main_fit_conns(t.opt.max_conns);

	/* Signals arrive through a descriptor; every thread blocks them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	t.sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	int listen_fd = -1;
	int nfds = sd_listen_fds(1);
	if (nfds > 1) {
		log_error("socket activation passed %d sockets; tpd takes one",
			  nfds);
		goto out;
	}
	if (nfds == 1) {
		listen_fd = SD_LISTEN_FDS_START;
	} else {
		/* Our own socket: make its directory (/run/tpd) if needed. */
		char *sockdir = strdup(t.opt.socket_path);
		char *slash = sockdir ? strrchr(sockdir, '/') : NULL;
		if (slash && slash != sockdir) {
			*slash = 0;
			main_mkdirs(sockdir, 0755);
		}
		free(sockdir);
	}
	gid_t sock_gid = (gid_t)-1;
	if (t.opt.socket_group) {
		struct group *gr = getgrnam(t.opt.socket_group);
		if (!gr) {
			log_error("unknown socket group \"%s\"",
				  t.opt.socket_group);
			goto out;
		}
		sock_gid = gr->gr_gid;
	}
	struct server_config sc = {
		.socket_gid = sock_gid,
		.socket_path = t.opt.socket_path,
		.listen_fd = listen_fd,
		.socket_mode = t.opt.socket_mode,
		.max_line = t.opt.max_line,
		.max_conns = t.opt.max_conns,
		.max_conns_user = t.opt.max_conns_user,
		.soft_output = 1u << 20,
		.hard_output = t.opt.max_output,
	};
	t.srv = server_new(&sc, &err);
	if (!t.srv) {
		log_error("%s", err ? err : "cannot open the socket");
		goto out;
	}

	struct blocklist *bl = NULL;
	if (t.opt.blocklist) {
		bl = main_load_blocklist(t.opt.blocklist, &err);
		if (!bl) {
			log_error("%s", err ? err : "bad blocklist");
			goto out;
		}
		log_info("blocklist %s: %zu IPv4 and %zu IPv6 ranges",
			 t.opt.blocklist, bl->n, bl->n6);
	}
	if (t.opt.utp)
		main_utp_buffer_advice();
	struct tp_session ses;
	options_session(&t.opt, &ses);
	struct engine_config ec = {
		.session = &ses,
		.listen = t.opt.listen,
		.download_dir = t.opt.download_dir,
		.dht = t.opt.dht,
		.lsd = t.opt.lsd,
		.upnp = t.opt.upnp,
		.pex = t.opt.pex,
		.utp = t.opt.utp,
		.tcp = t.opt.tcp,
		.encryption = t.opt.encryption,
		.dht_bootstrap = t.opt.dht_bootstrap,
		.blocklist = bl,
		.tick_ms = t.opt.tick_ms,
		.state_dir = t.opt.state_dir,
		.resume_interval_s = t.opt.resume_interval,
	};
	t.eng = engine_start(&ec, &err);
	tp_session_free(&ses);
	if (!t.eng) {
		log_error("cannot start libtorrent: %s", err ? err : "?");
		goto out;
	}
	t.work = workers_start(t.opt.workers, &err);
	if (t.work)
		t.fetch = workers_start(MAIN_FETCH_THREADS, &err);
	if (!t.work || !t.fetch) {
		log_error("%s", err ? err : "cannot start workers");
		goto out;
	}
	struct service_config svcc = {
		.daemon_uid = geteuid(),
		.download_dir = t.opt.download_dir,
		.default_tracker = t.opt.tracker,
		.listen_port = engine_listen_port(t.eng),
		.max_pending = t.opt.max_pending,
		.max_torrent_bytes = t.opt.max_torrent_size,
		.url_timeout_s = t.opt.url_timeout,
		.loading = true,
	};
	struct service_io io = {
		.ctx = &t,
		.answer = service_answer_cb,
		.answer_take = service_answer_take_cb,
		.push = service_push_cb,
		.engine = service_to_engine,
		.work = service_to_workers,
		.access = service_access,
		.loaded = main_on_loaded,
		.watched = main_on_watched,
		.completed = main_on_completed,
	};
	t.svc = service_new(&svcc, &io);
	if (!t.svc)
		goto out;
	server_set_service(t.srv, t.svc);
	/* The engine's first event says what it runs with (EV_SESSION):
	 * taken now, before any patron can ask info. */
	main_on_engine(&t);
	if (server_watch_fd(t.srv, engine_event_fd(t.eng), main_on_engine, &t) < 0 ||
	    server_watch_fd(t.srv, workers_fd(t.work), main_on_workers, &t) < 0 ||
	    server_watch_fd(t.srv, workers_fd(t.fetch), main_on_fetchers, &t) < 0 ||
	    server_watch_fd(t.srv, t.sig_fd, main_on_signal, &t) < 0) {
		log_error("cannot watch internal descriptors");
		goto out;
	}
	if (t.opt.watch_dir) {
		t.watch = watchdir_open(t.opt.watch_dir, t.svc, &err);
		if (!t.watch ||
		    server_watch_fd(t.srv, watchdir_inotify_fd(t.watch),
				    watchdir_on_inotify, t.watch) < 0 ||
		    server_watch_fd(t.srv, watchdir_timer_fd(t.watch),
				    watchdir_on_timer, t.watch) < 0) {
			log_error("%s", err ? err : "cannot watch the watch directory");
			goto out;
		}
		/* Files dropped while tpd was down. */
		watchdir_scan(t.watch);
	}
	if (getenv("NOTIFY_SOCKET")) {
		t.status_fd = timerfd_create(CLOCK_MONOTONIC,
					     TFD_CLOEXEC | TFD_NONBLOCK);
		struct itimerspec its = {.it_interval = {MAIN_STATUS_EVERY_S, 0},
					 .it_value = {1, 0}};
		if (t.status_fd >= 0 &&
		    (timerfd_settime(t.status_fd, 0, &its, NULL) < 0 ||
		     server_watch_fd(t.srv, t.status_fd, main_on_status_timer,
				     &t) < 0))
			log_warn("no STATUS= updates for systemd");
	}

	log_info("tpd %s listening on %s (BitTorrent port %d, state %s)",
		 TP_VERSION,
		 listen_fd >= 0 ? "the socket systemd passed" : t.opt.socket_path,
		 engine_listen_port(t.eng), t.opt.state_dir);
	server_run(t.srv);
	rc = 0;
out:
	free(err);
	/* Connections first (they reference the service), then the engine:
	 * its last events have nobody left to reach. */
	if (t.srv)
		server_free(t.srv);
	engine_stop(t.eng);
	workers_stop(t.work);
	workers_stop(t.fetch);
	service_free(t.svc);
	watchdir_free(t.watch);
	if (t.sig_fd >= 0)
		close(t.sig_fd);
	if (t.status_fd >= 0)
		close(t.status_fd);
	curl_global_cleanup();
	options_free(&t.opt);
	log_info("stopped");
	return rc;
}
