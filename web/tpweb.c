/*
 * tpweb.c - tpweb's entry point: options, `--hash-password`, the
 * loopback-or-password rule, then the HTTP server until SIGTERM/SIGINT.
 * The main thread only starts and stops; libmicrohttpd's threads serve.
 *
 *   tpweb [-s SOCKET] [--listen ADDR:PORT] [--allowed-hosts HOST,...]
 *         [--password-file FILE] [--web-root DIR]
 *   tpweb --hash-password [USER]      (the password is read from stdin)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "auth.h"
#include "http.h"
#include "proto.h"
#include "tpclient.h"

#ifndef TPWEB_WEB_ROOT
#define TPWEB_WEB_ROOT "/usr/local/share/tpd/web"
#endif
#define TPWEB_DEFAULT_LISTEN "127.0.0.1:9091"
/* Most --allowed-hosts names. */
#define TPWEB_HOSTS_MAX 64

/* Exit codes: 0 clean stop; 1 cannot start (a refused or unusable
 * setting, a port in use); 2 usage. */
enum { TPWEB_EXIT_OK = 0, TPWEB_EXIT_FAIL = 1, TPWEB_EXIT_USAGE = 2 };

struct tpweb_opts {
	const char *socket;
	const char *listen;
	const char *allowed;
	const char *password_file;
	const char *web_root;
	bool hash_password;
	const char *hash_user;
};

static void tpweb_usage(FILE *f)
{
	fprintf(f,
		"usage: tpweb [-s SOCKET] [--listen ADDR:PORT] "
		"[--allowed-hosts HOST,...]\n"
		"             [--password-file FILE] [--web-root DIR]\n"
		"       tpweb --hash-password [USER]   "
		"(reads the password from stdin)\n"
		"defaults: --listen %s, --web-root %s\n",
		TPWEB_DEFAULT_LISTEN, TPWEB_WEB_ROOT);
}

static int tpweb_parse(int argc, char **argv, struct tpweb_opts *o)
{
	enum { O_LISTEN = 256, O_HOSTS, O_PWFILE, O_ROOT, O_HASH, O_VERSION };
	static const struct option longs[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "allowed-hosts", required_argument, NULL, O_HOSTS },
		{ "password-file", required_argument, NULL, O_PWFILE },
		{ "web-root", required_argument, NULL, O_ROOT },
		{ "hash-password", no_argument, NULL, O_HASH },
		{ "version", no_argument, NULL, O_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	o->listen = TPWEB_DEFAULT_LISTEN;
	o->web_root = TPWEB_WEB_ROOT;
	while ((ch = getopt_long(argc, argv, "s:h", longs, NULL)) != -1) {
		switch (ch) {
		case 's': o->socket = optarg; break;
		case O_LISTEN: o->listen = optarg; break;
		case O_HOSTS: o->allowed = optarg; break;
		case O_PWFILE: o->password_file = optarg; break;
		case O_ROOT: o->web_root = optarg; break;
		case O_HASH: o->hash_password = true; break;
		case O_VERSION:
			printf("tpweb %s\n", TP_VERSION);
			exit(TPWEB_EXIT_OK);
		case 'h':
			tpweb_usage(stdout);
			exit(TPWEB_EXIT_OK);
		default:
			tpweb_usage(stderr);
			return -1;
		}
	}
	if (o->hash_password && optind < argc)
		o->hash_user = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "tpweb: unexpected argument %s\n", argv[optind]);
		tpweb_usage(stderr);
		return -1;
	}
	return 0;
}

/* Reads one line from stdin (without echo on a terminal) and prints its
 * hash, as USER:HASH when a user is named: the password file's line. */
static int tpweb_hash_password(const char *user)
{
	char line[AUTH_PASS_MAX + 2];
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	char *hash, *err = NULL;
	size_t n;

	if (user && (!*user || strchr(user, ':') || strlen(user) > AUTH_USER_MAX)) {
		fprintf(stderr, "tpweb: the user name must be 1 to %d bytes "
			"without ':'\n", AUTH_USER_MAX);
		return TPWEB_EXIT_USAGE;
	}
	if (tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		fprintf(stderr, "Password: ");
	}
	if (!fgets(line, sizeof line, stdin))
		line[0] = '\0';
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[--n] = '\0';
	else if (n > AUTH_PASS_MAX) {
		fprintf(stderr, "tpweb: the password is longer than %d bytes\n",
			AUTH_PASS_MAX);
		return TPWEB_EXIT_USAGE;
	}
	if (n && line[n - 1] == '\r')
		line[--n] = '\0';
	if (n == 0) {
		fprintf(stderr, "tpweb: no password on stdin (an empty password "
			"is not accepted)\n");
		return TPWEB_EXIT_USAGE;
	}
	hash = auth_hash(line, &err);
	memset(line, 0, sizeof line);
	if (!hash) {
		fprintf(stderr, "tpweb: %s\n", err ? err : "cannot hash");
		free(err);
		return TPWEB_EXIT_FAIL;
	}
	printf("%s%s%s\n", user ? user : "", user ? ":" : "", hash);
	free(hash);
	return TPWEB_EXIT_OK;
}

/* ADDR:PORT (or [V6]:PORT) into a socket address; *host gets ADDR. */
static int tpweb_listen_addr(const char *spec, struct sockaddr_storage *ss,
			     char *host, size_t cap)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	const char *colon = strrchr(spec, ':');
	const char *h = spec;
	size_t n;
	int rc;

	if (!colon || !colon[1])
		return -1;
	n = (size_t)(colon - spec);
	if (n >= 2 && spec[0] == '[' && spec[n - 1] == ']') {
		h++;
		n -= 2;
	}
	if (n == 0 || n >= cap)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc != 0 || !res)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

static bool tpweb_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return false;
}

/* Splits --allowed-hosts and adds the listen host: the names a Host
 * header may carry besides localhost and address literals. */
static int tpweb_hosts(const char *list, const char *listen_host,
		       struct http_cfg *cfg)
{
	static char *hosts[TPWEB_HOSTS_MAX + 1];
	char *copy = list ? strdup(list) : NULL, *save = NULL, *tok;
	size_t n = 0;

	hosts[n] = strdup(listen_host);
	if (!hosts[n++]) {
		fprintf(stderr, "tpweb: out of memory\n");
		free(copy);
		return -1;
	}
	for (tok = copy ? strtok_r(copy, ",", &save) : NULL; tok;
	     tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (!*tok)
			continue;
		if (n > TPWEB_HOSTS_MAX || strlen(tok) > HTTP_HOST_MAX) {
			fprintf(stderr, "tpweb: --allowed-hosts takes at most %d "
				"names of at most %d bytes\n", TPWEB_HOSTS_MAX,
				HTTP_HOST_MAX);
			free(copy);
			return -1;
		}
		hosts[n] = strdup(tok);
		if (!hosts[n++]) {
			fprintf(stderr, "tpweb: out of memory\n");
			free(copy);
			return -1;
		}
	}
	free(copy);
	cfg->hosts = hosts;
	cfg->n_hosts = n;
	return 0;
}

int main(int argc, char **argv)
{
	struct tpweb_opts o = { 0 };
	struct http_cfg cfg = { 0 };
	struct sockaddr_storage ss = { 0 };
	char host[HTTP_HOST_MAX + 1];
	char *why = NULL;
	struct stat st;
	sigset_t set;
	int port = 0, sig = 0;

	if (tpweb_parse(argc, argv, &o) < 0)
		return TPWEB_EXIT_USAGE;
	if (o.hash_password)
		return tpweb_hash_password(o.hash_user);
	if (tpweb_listen_addr(o.listen, &ss, host, sizeof host) < 0) {
		fprintf(stderr, "tpweb: --listen %s: expected ADDR:PORT, e.g. "
			"127.0.0.1:9091 or [::1]:9091\n", o.listen);
		return TPWEB_EXIT_USAGE;
	}
	if (!tpweb_is_loopback(&ss) && !o.password_file) {
		fprintf(stderr, "tpweb: refusing to listen on %s without "
			"--password-file: anyone who can reach it could steer "
			"your torrents.  Make one with `tpweb --hash-password "
			"USER > FILE`, or listen on 127.0.0.1.\n", o.listen);
		return TPWEB_EXIT_FAIL;
	}
	if (o.password_file) {
		cfg.auth = auth_load(o.password_file, &why);
		if (!cfg.auth) {
			fprintf(stderr, "tpweb: %s\n", why ? why : "out of memory");
			free(why);
			return TPWEB_EXIT_FAIL;
		}
	}
	if (stat(o.web_root, &st) < 0 || !S_ISDIR(st.st_mode))
		fprintf(stderr, "tpweb: warning: --web-root %s is not a "
			"directory; only the RPC will work\n", o.web_root);
	if (tpweb_hosts(o.allowed, host, &cfg) < 0)
		return TPWEB_EXIT_USAGE;
	cfg.socket = o.socket;
	cfg.web_root = o.web_root;

	/* Signals are taken by sigwait below; every thread inherits the
	 * mask, so none of the server's threads is interrupted by them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (http_start(&cfg, (struct sockaddr *)&ss, &port, &why) < 0) {
		fprintf(stderr, "tpweb: %s: %s\n", o.listen,
			why ? why : "cannot start");
		free(why);
		return TPWEB_EXIT_FAIL;
	}
	fprintf(stderr, "tpweb: listening on %s%s%s:%d (tpd socket %s)\n",
		ss.ss_family == AF_INET6 ? "[" : "", host,
		ss.ss_family == AF_INET6 ? "]" : "", port,
		o.socket ? o.socket : "default");
	sigwait(&set, &sig);
	fprintf(stderr, "tpweb: stopping on signal %d\n", sig);
	http_stop();
	auth_free(cfg.auth);
	for (size_t i = 0; i < cfg.n_hosts; i++)
		free(cfg.hosts[i]);
	return TPWEB_EXIT_OK;
}
