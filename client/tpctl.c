/*
 * tpctl.c - tpctl's entry point and the plumbing its commands share:
 * connecting, calling, reading event fields, printing answers, making paths
 * absolute.  Single-threaded.
 */
#include "tpctl.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "escape.h"
#include "proto.h"

tpc *tpctl_connect(const struct tpctl_args *a)
{
	char *err = NULL;
	tpc *c = tpc_connect(a->socket, &err);

	if (!c) {
		fprintf(stderr, "tpctl: %s\n", err ? err : "out of memory");
		free(err);
	}
	return c;
}

/* Default wait for one answer; add's URL fetch may use the daemon's own
 * 30 s (--url-timeout) before it is answered, so add waits longer. */
#define TPCTL_ANSWER_MS 30000
#define TPCTL_ADD_ANSWER_MS 60000

static int64_t tpctl_answer_ms = -1;  /* per answer; -1: no limit */
static int64_t tpctl_deadline;        /* CLOCK_MONOTONIC ms; 0: none */
static int64_t tpctl_limit_ms;        /* what --timeout said, for messages */
static bool tpctl_expired;

static int64_t tpctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tpctl_timeout_init(const struct tpctl_args *a)
{
	static const char *const unlimited[] = { "seed", "wait", "watch",
						 "explain", "pipe" };

	if (a->timeout_ms > 0) {
		tpctl_limit_ms = a->timeout_ms;
		tpctl_deadline = tpctl_now_ms() + a->timeout_ms;
		tpctl_answer_ms = a->timeout_ms;
		return;
	}
	tpctl_answer_ms = TPCTL_ANSWER_MS;
	if (a->cmd && strcmp(a->cmd->name, "add") == 0)
		tpctl_answer_ms = TPCTL_ADD_ANSWER_MS;
	for (size_t i = 0; a->cmd && i < sizeof unlimited / sizeof *unlimited;
	     i++)
		if (strcmp(a->cmd->name, unlimited[i]) == 0)
			tpctl_answer_ms = -1;
}

int tpctl_time_left_ms(void)
{
	int64_t left;

	if (!tpctl_deadline)
		return -1;
	left = tpctl_deadline - tpctl_now_ms();
	return left > 0 ? (int)left : 0;
}

bool tpctl_timed_out(void)
{
	if (!tpctl_deadline || tpctl_time_left_ms() > 0)
		return false;
	if (!tpctl_expired)
		fprintf(stderr, "tpctl: gave up after --timeout %.3g s\n",
			(double)tpctl_limit_ms / 1000);
	tpctl_expired = true;
	return true;
}

int tpctl_call(tpc *c, json_object *req, json_object **answer)
{
	char *err = NULL;
	int64_t wait = tpctl_answer_ms;
	int left = tpctl_time_left_ms();
	int rc;

	if (left >= 0 && (wait < 0 || left < wait))
		wait = left > 0 ? left : 1;
	rc = tpc_call(c, req, (int)wait, answer, &err);
	if (rc > 0) {
		tpctl_ev_clean(*answer);
		return 0;
	}
	if (rc == 0 && wait > 0 && !tpctl_timed_out())
		fprintf(stderr, "tpctl: the daemon did not answer within "
			"%.3g s (see --timeout)\n", (double)wait / 1000);
	else if (rc != 0)
		fprintf(stderr, "tpctl: %s\n", err ? err : "interrupted");
	free(err);
	return -1;
}

void tpctl_ev_clean(json_object *ev)
{
	switch (json_object_get_type(ev)) {
	case json_type_string: {
		const char *s = json_object_get_string(ev);
		size_t n = (size_t)json_object_get_string_len(ev);
		char *safe;

		if (!tp_escape_needed(s, n))
			return;
		safe = tp_escape(s, n);
		/* Out of memory: blank it rather than print it raw. */
		json_object_set_string(ev, safe ? safe : "?");
		free(safe);
		return;
	}
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(ev); i++)
			tpctl_ev_clean(json_object_array_get_idx(ev, i));
		return;
	case json_type_object: {
		json_object_object_foreach(ev, key, val) {
			(void)key;
			tpctl_ev_clean(val);
		}
		return;
	}
	default:
		return;
	}
}

const char *tpctl_ev_str(json_object *ev, const char *key)
{
	json_object *v;

	if (json_object_object_get_ex(ev, key, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

const char *tpctl_ev_type(json_object *ev)
{
	const char *t = tpctl_ev_str(ev, "type");

	return t ? t : "";
}

int64_t tpctl_ev_int(json_object *ev, const char *key)
{
	json_object *v;

	if (json_object_object_get_ex(ev, key, &v) &&
	    json_object_is_type(v, json_type_int))
		return json_object_get_int64(v);
	return -1;
}

void tpctl_print_json(json_object *ev)
{
	/* Received events serialise to the exact line the daemon sent. */
	printf("%s\n", json_object_to_json_string(ev));
}

int tpctl_answer_fail(json_object *ev)
{
	const char *type = tpctl_ev_type(ev);
	const char *reason = tpctl_ev_str(ev, "reason");

	if (strcmp(type, "StartFail") == 0) {
		fprintf(stderr, "Torrent failed to start: %s\n",
			reason ? reason : "(no reason given)");
	} else if (strcmp(type, "Error") == 0) {
		fprintf(stderr, "tpctl: %s\n", reason ? reason :
			tpctl_ev_str(ev, "code") ? tpctl_ev_str(ev, "code") :
			"the daemon refused the request");
	} else {
		fprintf(stderr, "tpctl: unexpected answer from the daemon: "
			"%s\n", json_object_to_json_string(ev));
	}
	return TPCTL_EXIT_FAIL;
}

/* True for names that realpath() must resolve rather than keep. */
static bool tpctl_is_dot(const char *base)
{
	return !*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0;
}

char *tpctl_abspath(const char *path)
{
	char *copy, *slash, *dir, *rdir, *out = NULL;
	const char *base;
	size_t len;

	copy = strdup(path);
	if (!copy)
		goto oom;
	/* Trailing slashes name the same thing; drop them (not "/"). */
	len = strlen(copy);
	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = '\0';
	slash = strrchr(copy, '/');
	if (!slash) {
		dir = ".";
		base = copy;
	} else {
		*slash = '\0';
		dir = slash == copy ? "/" : copy;
		base = slash + 1;
	}
	/* Resolve the directory but keep the last name as given, so seeding
	 * a symlink publishes the name the user typed. */
	if (tpctl_is_dot(base)) {
		rdir = realpath(path, NULL);
		base = NULL;
	} else {
		rdir = realpath(dir, NULL);
	}
	if (!rdir) {
		fprintf(stderr, "tpctl: %s: %s\n", base ? dir : path,
			strerror(errno));
		free(copy);
		return NULL;
	}
	if (!base)
		out = rdir;
	else if (asprintf(&out, "%s%s%s", rdir, strcmp(rdir, "/") ? "/" : "",
			  base) < 0)
		out = NULL;
	if (base)
		free(rdir);
	free(copy);
	if (out)
		return out;
oom:
	fprintf(stderr, "tpctl: out of memory\n");
	return NULL;
}

int main(int argc, char **argv)
{
	struct tpctl_args a;
	int rc;

	/* A daemon or reader that went away is an error return, not death. */
	signal(SIGPIPE, SIG_IGN);
	if (tpctl_args_parse(argc, argv, &a) < 0) {
		fprintf(stderr, "tpctl: %s\n", a.error ? a.error :
			"bad command line");
		tpctl_args_free(&a);
		return TPCTL_EXIT_USAGE;
	}
	if (a.help) {
		if (a.cmd)
			tpctl_cmd_usage(stdout, a.cmd);
		else
			tpctl_usage(stdout);
		rc = TPCTL_EXIT_OK;
	} else if (a.version && !a.cmd) {
		printf("tpctl %s (protocol %d)\n", TP_VERSION,
		       TP_PROTOCOL_VERSION);
		rc = TPCTL_EXIT_OK;
	} else {
		tpctl_timeout_init(&a);
		rc = a.cmd->handler(&a);
	}
	tpctl_args_free(&a);
	if (fflush(stdout) != 0 && rc == TPCTL_EXIT_OK)
		rc = TPCTL_EXIT_FAIL;
	return rc;
}
