/*
 * tpctl_cmds.c - tpctl's one-shot commands: add, seed, close, pause,
 * resume, reannounce, list, status, info.  Each sends one request, prints
 * its answer (human text, or the event line with --json) and maps it to an
 * exit code.  Single-threaded.
 */
#include "tpctl.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto.h"

/* Prints the answer to a create or seed and returns the exit code;
 * *id gets the torrent's id when there is one. */
static int tpctl_create_answer(const struct tpctl_args *a, json_object *ans,
			       int64_t *id, const char *torrent_out)
{
	const char *type = tpctl_ev_type(ans);

	*id = tpctl_ev_int(ans, "id");
	if (a->json)
		tpctl_print_json(ans);
	if (strcmp(type, "NewTorrentCreated") == 0) {
		const char *out = tpctl_ev_str(ans, "torrent_out");
		const char *save = tpctl_ev_str(ans, "save_path");

		if (!a->json) {
			printf("New torrent %lld created in %s\n",
			       (long long)*id, save ? save : "?");
			if (torrent_out)
				printf("Wrote %s\n", out ? out : torrent_out);
		}
		return TPCTL_EXIT_OK;
	}
	if (strcmp(type, "AlreadyDownloading") == 0) {
		if (!a->json)
			printf("That torrent is already downloading! "
			       "(torrent %lld)\n", (long long)*id);
		return TPCTL_EXIT_ALREADY;
	}
	*id = -1;
	return tpctl_answer_fail(ans);
}

/* Sends a create or seed, prints the answer and waits when asked. */
static int tpctl_run_create(const struct tpctl_args *a, json_object *req,
			    const char *torrent_out, bool wait,
			    bool until_seeding)
{
	json_object *ans = NULL;
	int64_t id;
	int rc;
	tpc *c = tpctl_connect(a);

	if (!c)
		return TPCTL_EXIT_UNREACHABLE;
	if (tpctl_call(c, req, &ans) < 0) {
		tpc_close(c);
		return TPCTL_EXIT_UNREACHABLE;
	}
	rc = tpctl_create_answer(a, ans, &id, torrent_out);
	json_object_put(ans);
	if (wait && id > 0) {
		int w;

		fflush(stdout);
		w = tpctl_wait_id(c, a, id, until_seeding);
		if (w != TPCTL_EXIT_OK)
			rc = w;
	}
	tpc_close(c);
	return rc;
}

static json_object *tpctl_str_array(const char *const *v, size_t n)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; arr && i < n; i++)
		json_object_array_add(arr, json_object_new_string(v[i]));
	return arr;
}

static bool tpctl_is_remote(const char *source)
{
	return strncasecmp(source, "magnet:", 7) == 0 ||
	       strncasecmp(source, "http://", 7) == 0 ||
	       strncasecmp(source, "https://", 8) == 0;
}

/* The daemon takes peers as IP:PORT only (a name lookup would stall its
 * engine), so names are looked up here: "HOST:PORT" -> "IP:PORT". */
static json_object *tpctl_resolve_peers(const char *const *peers, size_t n)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		const char *colon = strrchr(peers[i], ':');
		char *host = colon ? strndup(peers[i], (size_t)(colon - peers[i]))
				   : NULL;
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
					 .ai_flags = AI_NUMERICSERV};
		struct addrinfo *res = NULL;
		int rc = EAI_NONAME;
		if (host && host[0] != '[')
			rc = getaddrinfo(host, colon + 1, &hints, &res);
		char ip[INET6_ADDRSTRLEN] = "";
		if (rc == 0)
			rc = getnameinfo(res->ai_addr, res->ai_addrlen, ip,
					 sizeof ip, NULL, 0, NI_NUMERICHOST);
		char *out = NULL;
		if (host && host[0] == '[')
			out = strdup(peers[i]); /* already [IPv6]:PORT */
		else if (rc == 0 &&
			 asprintf(&out, strchr(ip, ':') ? "[%s]:%s" : "%s:%s",
				  ip, colon + 1) < 0)
			out = NULL;
		if (res)
			freeaddrinfo(res);
		if (!out) {
			fprintf(stderr, "tpctl: cannot find peer %s: %s\n",
				peers[i], rc ? gai_strerror(rc) : "out of memory");
			free(host);
			json_object_put(arr);
			return NULL;
		}
		free(host);
		json_object_array_add(arr, json_object_new_string(out));
		free(out);
	}
	return arr;
}

int tpctl_cmd_add(const struct tpctl_args *a)
{
	char *dir = NULL, *err = NULL, *src = NULL;
	json_object *req;
	int rc;

	if (a->dir && !(dir = tpctl_abspath(a->dir)))
		return TPCTL_EXIT_FAIL;
	/* A local .torrent is read here, as the user, and sent as bytes. */
	if (!tpctl_is_remote(a->source) && !(src = tpctl_abspath(a->source))) {
		free(dir);
		return TPCTL_EXIT_FAIL;
	}
	req = tpc_create_request(src ? src : a->source, dir, &err);
	free(src);
	free(dir);
	if (!req) {
		fprintf(stderr, "tpctl: %s\n", err ? err : "out of memory");
		free(err);
		return TPCTL_EXIT_FAIL;
	}
	if (a->n_peers) {
		json_object *peers = tpctl_resolve_peers(a->peers, a->n_peers);
		if (!peers) {
			json_object_put(req);
			return TPCTL_EXIT_FAIL;
		}
		json_object_object_add(req, "peers", peers);
	}
	if (a->paused)
		json_object_object_add(req, "paused",
				       json_object_new_boolean(1));
	tpctl_steer_add_fields(a, req);
	rc = tpctl_run_create(a, req, NULL, a->wait, false);
	json_object_put(req);
	return rc;
}

/* ./NAME.torrent in the client's cwd, absolute; NAME from seed's PATH. */
static char *tpctl_default_torrent_out(const char *abs_path)
{
	const char *base = strrchr(abs_path, '/');
	char *rel = NULL, *out;

	base = base ? base + 1 : abs_path;
	if (!*base)
		base = "root";
	if (asprintf(&rel, "./%s.torrent", base) < 0)
		return NULL;
	out = tpctl_abspath(rel);
	free(rel);
	return out;
}

int tpctl_cmd_seed(const struct tpctl_args *a)
{
	char *path, *out;
	json_object *req;
	int rc;

	path = tpctl_abspath(a->path);
	if (!path)
		return TPCTL_EXIT_FAIL;
	out = a->torrent_out ? tpctl_abspath(a->torrent_out)
			     : tpctl_default_torrent_out(path);
	if (!out) {
		free(path);
		return TPCTL_EXIT_FAIL;
	}
	req = tp_request_new(TP_OP_SEED, -1);
	json_object_object_add(req, "path", json_object_new_string(path));
	json_object_object_add(req, "torrent_out",
			       json_object_new_string(out));
	if (a->n_trackers)
		json_object_object_add(req, "trackers",
				       tpctl_str_array(a->trackers,
						       a->n_trackers));
	if (a->piece_size > 0)
		json_object_object_add(req, "piece_size",
				       json_object_new_int64(a->piece_size));
	if (a->tversion)
		json_object_object_add(req, "version",
				       json_object_new_string(a->tversion));
	if (a->private_flag)
		json_object_object_add(req, "private",
				       json_object_new_boolean(1));
	if (a->comment)
		json_object_object_add(req, "comment",
				       json_object_new_string(a->comment));
	rc = tpctl_run_create(a, req, out, a->wait_seeding, true);
	json_object_put(req);
	free(path);
	free(out);
	return rc;
}

/* One request about one torrent, answered by `want`; prints
 * "VERB torrent ID" on success. */
static int tpctl_id_op(const struct tpctl_args *a, enum tp_op op,
		       const char *want, const char *verb)
{
	json_object *req = tp_request_new(op, -1), *ans = NULL;
	tpc *c;
	int rc;

	json_object_object_add(req, "id", json_object_new_int64(a->id));
	if (op == TP_OP_CLOSE && a->delete_files)
		json_object_object_add(req, "delete_files",
				       json_object_new_boolean(1));
	c = tpctl_connect(a);
	if (!c || tpctl_call(c, req, &ans) < 0) {
		json_object_put(req);
		tpc_close(c);
		return TPCTL_EXIT_UNREACHABLE;
	}
	json_object_put(req);
	if (a->json)
		tpctl_print_json(ans);
	if (strcmp(tpctl_ev_type(ans), want) == 0) {
		json_object *derr = NULL;
		if (!a->json)
			printf("%s torrent %lld\n", verb, (long long)a->id);
		rc = TPCTL_EXIT_OK;
		/* Closed, but the data asked to go is (partly) still there. */
		if (json_object_object_get_ex(ans, "delete_error", &derr)) {
			fprintf(stderr, "tpctl: could not delete every file: %s\n",
				json_object_get_string(derr));
			rc = TPCTL_EXIT_FAIL;
		}
	} else {
		rc = tpctl_answer_fail(ans);
	}
	json_object_put(ans);
	tpc_close(c);
	return rc;
}

int tpctl_cmd_close(const struct tpctl_args *a)
{
	return tpctl_id_op(a, TP_OP_CLOSE, "Closed", "Closed");
}

int tpctl_cmd_pause(const struct tpctl_args *a)
{
	return tpctl_id_op(a, TP_OP_PAUSE, "Paused", "Paused");
}

int tpctl_cmd_resume(const struct tpctl_args *a)
{
	return tpctl_id_op(a, TP_OP_RESUME, "Resumed", "Resumed");
}

int tpctl_cmd_reannounce(const struct tpctl_args *a)
{
	return tpctl_id_op(a, TP_OP_REANNOUNCE, "Reannounced",
			   "Reannounced");
}

json_object *tpctl_query(const struct tpctl_args *a, json_object *req,
			 const char *want, int *rc)
{
	json_object *ans = NULL;
	tpc *c = tpctl_connect(a);

	*rc = TPCTL_EXIT_UNREACHABLE;
	if (!c || tpctl_call(c, req, &ans) < 0) {
		tpc_close(c);
		return NULL;
	}
	tpc_close(c);
	if (a->json)
		tpctl_print_json(ans);
	if (strcmp(tpctl_ev_type(ans), want) != 0) {
		*rc = tpctl_answer_fail(ans);
		json_object_put(ans);
		return NULL;
	}
	*rc = TPCTL_EXIT_OK;
	return ans;
}

/* "downloading" or "downloading (paused)"; buf of any length. */
static void tpctl_fmt_state(char *buf, size_t len, const struct tp_status *st)
{
	snprintf(buf, len, "%s%s", st->state ? st->state : "?",
		 st->paused ? " (paused)" : st->queued ? " (queued)" : "");
}

int tpctl_cmd_list(const struct tpctl_args *a)
{
	json_object *req = tp_request_new(TP_OP_LIST, -1), *ans, *arr;
	char state[64], size[32], down[32], up[32];
	size_t i, n, wstate = 5;
	int rc;

	if (a->n_labels)
		json_object_object_add(req, "label",
				       json_object_new_string(a->labels[0]));
	ans = tpctl_query(a, req, "List", &rc);
	json_object_put(req);
	if (!ans || a->json) {
		json_object_put(ans);
		return rc;
	}
	if (!json_object_object_get_ex(ans, "torrents", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		json_object_put(ans);
		fprintf(stderr, "tpctl: the daemon's List has no torrents\n");
		return TPCTL_EXIT_FAIL;
	}
	n = json_object_array_length(arr);
	/* The STATE column is as wide as its longest entry. */
	for (i = 0; i < n; i++) {
		struct tp_status st;

		if (tp_status_from_json(json_object_array_get_idx(arr, i),
					&st) < 0)
			continue;
		tpctl_fmt_state(state, sizeof state, &st);
		if (strlen(state) > wstate)
			wstate = strlen(state);
		tp_status_free(&st);
	}
	printf("%4s  %-*s  %8s  %10s  %12s  %12s  %5s  %s\n", "ID",
	       (int)wstate, "STATE", "PROGRESS", "SIZE", "DOWN", "UP",
	       "PEERS", "NAME");
	for (i = 0; i < n; i++) {
		struct tp_status st;

		if (tp_status_from_json(json_object_array_get_idx(arr, i),
					&st) < 0)
			continue;
		tpctl_fmt_state(state, sizeof state, &st);
		tpctl_fmt_size(size, sizeof size, st.total_bytes);
		tpctl_fmt_size(down, sizeof down, st.down_rate);
		tpctl_fmt_size(up, sizeof up, st.up_rate);
		printf("%4lld  %-*s  %7.1f%%  %10s  %10s/s  %10s/s  %5d  %s\n",
		       (long long)st.id, (int)wstate, state,
		       tpctl_percent1(st.progress),
		       size, down, up, st.peers, st.name ? st.name : "");
		tp_status_free(&st);
	}
	json_object_put(ans);
	return TPCTL_EXIT_OK;
}

/* The steering fields of a Status (SPEC section 8), as the daemon sent
 * them; null shows as "default" or "none". */
static void tpctl_print_steering(json_object *ans)
{
	static const char *const keys[] = {
		"labels", "queued", "queue_position", "sequential",
		"download_limit", "upload_limit", "uploaded_bytes",
		"downloaded_bytes", "ratio", "ratio_limit", "seed_time_limit",
		"seeding_time", "eta", "stop_reason",
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		json_object *v;
		if (!json_object_object_get_ex(ans, keys[i], &v))
			continue;
		printf("%s: %s\n", keys[i],
		       v ? json_object_to_json_string_ext(
				   v, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE)
			 : "none");
	}
}

int tpctl_cmd_status(const struct tpctl_args *a)
{
	json_object *req = tp_request_new(TP_OP_STATUS, -1), *ans;
	char done[32], total[32], down[32], up[32];
	struct tp_status st;
	int rc;

	json_object_object_add(req, "id", json_object_new_int64(a->id));
	ans = tpctl_query(a, req, "Status", &rc);
	json_object_put(req);
	if (!ans || a->json) {
		json_object_put(ans);
		return rc;
	}
	if (tp_status_from_json(ans, &st) < 0) {
		fprintf(stderr, "tpctl: the daemon's Status is malformed: "
			"%s\n", json_object_to_json_string(ans));
		json_object_put(ans);
		return TPCTL_EXIT_FAIL;
	}
	tpctl_fmt_size(done, sizeof done, st.done_bytes);
	tpctl_fmt_size(total, sizeof total, st.total_bytes);
	tpctl_fmt_size(down, sizeof down, st.down_rate);
	tpctl_fmt_size(up, sizeof up, st.up_rate);
	printf("id: %lld\nname: %s\ninfo_hash: %s\nstate: %s\npaused: %s\n"
	       "progress: %.1f%%\ndone: %s of %s (%lld of %lld bytes)\n"
	       "download rate: %s/s\nupload rate: %s/s\npeers: %d\n"
	       "seeds: %d\nsave_path: %s\nowner: %u\n",
	       (long long)st.id, st.name ? st.name : "", st.info_hash,
	       st.state ? st.state : "?", st.paused ? "yes" : "no",
	       tpctl_percent1(st.progress), done, total,
	       (long long)st.done_bytes, (long long)st.total_bytes, down, up,
	       st.peers, st.seeds, st.save_path ? st.save_path : "",
	       (unsigned)st.owner);
	if (st.error)
		printf("error: %s\n", st.error);
	tpctl_print_steering(ans);
	tp_status_free(&st);
	json_object_put(ans);
	return TPCTL_EXIT_OK;
}

int tpctl_cmd_info(const struct tpctl_args *a)
{
	json_object *req = tp_request_new(TP_OP_INFO, -1), *ans, *v;
	static const struct {
		const char *key, *label;
	} rows[] = {
		{ "version", "version" },
		{ "protocol", "protocol" },
		{ "listen_port", "listen port" },
		{ "torrents", "torrents" },
		{ "connections", "connections" },
		{ "download_dir", "download dir" },
		{ "uid", "uid" },
		{ "pid", "pid" },
		{ "loading", "loading" },
		{ "rss_bytes", "resident bytes" },
		{ "heap_bytes", "heap bytes" },
		{ "listen", "listen" },
		{ "encryption", "encryption" },
		{ "utp", "utp" },
		{ "tcp", "tcp" },
		{ "dht", "dht" },
		{ "pex", "pex" },
		{ "lsd", "lsd" },
		{ "upnp", "upnp" },
		{ "connections_per_address", "connections per address" },
	};
	size_t i;
	int rc;

	ans = tpctl_query(a, req, "Info", &rc);
	json_object_put(req);
	if (!ans || a->json) {
		json_object_put(ans);
		return rc;
	}
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++)
		if (json_object_object_get_ex(ans, rows[i].key, &v))
			printf("%s: %s\n", rows[i].label,
			       json_object_is_type(v, json_type_string)
				       ? json_object_get_string(v)
				       : json_object_to_json_string(v));
	json_object_put(ans);
	return TPCTL_EXIT_OK;
}
