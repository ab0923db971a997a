/*
 * tpctl_detail.c - tpctl's commands about one torrent's insides: files
 * (and choosing which to download), peers, trackers (and editing them)
 * and recheck.  Each prints a table, or the events as received with
 * --json.  Single-threaded.
 */
#include "tpctl.h"

#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* One request about a->id; the answer when its type is `want`, else NULL
 * with *rc set (the answer printed). */
static json_object *tpctl_detail_call(const struct tpctl_args *a,
				      enum tp_op op, const char *want,
				      json_object *extra_fields, int *rc)
{
	json_object *req = extra_fields ? extra_fields : tp_request_new(op, -1);

	json_object_object_add(req, "id", json_object_new_int64(a->id));
	json_object *ans = tpctl_query(a, req, want, rc);
	json_object_put(req);
	return ans;
}

/* The array `key` of an answer (an empty one when missing). */
static json_object *tpctl_rows(json_object *ans, const char *key)
{
	json_object *arr = NULL;
	if (!json_object_object_get_ex(ans, key, &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return NULL;
	return arr;
}

static const char *tpctl_prio_name(int64_t p)
{
	return p <= 0 ? "skip" : p <= 3 ? "low" : p <= 6 ? "normal" : "high";
}

static void tpctl_print_files(json_object *arr)
{
	char size[32];
	size_t n = arr ? json_object_array_length(arr) : 0;
	printf("%5s  %-8s  %8s  %10s  %s\n", "INDEX", "PRIORITY", "PROGRESS",
	       "SIZE", "PATH");
	for (size_t i = 0; i < n; i++) {
		json_object *f = json_object_array_get_idx(arr, i);
		int64_t sz = tpctl_ev_int(f, "size");
		int64_t done = tpctl_ev_int(f, "done_bytes");
		const char *path = tpctl_ev_str(f, "path");
		tpctl_fmt_size(size, sizeof size, sz);
		printf("%5lld  %-8s  %7.1f%%  %10s  %s\n",
		       (long long)tpctl_ev_int(f, "index"),
		       tpctl_prio_name(tpctl_ev_int(f, "priority")),
		       sz > 0 ? tpctl_percent1((double)done / (double)sz) : 100.0,
		       size, path ? path : "");
	}
}

/* The priorities now, changed by the options in the order given. */
static json_object *tpctl_new_priorities(const struct tpctl_args *a,
					 json_object *files)
{
	size_t n = files ? json_object_array_length(files) : 0;
	int *prio = calloc(n + 1, sizeof *prio);
	if (!prio)
		return NULL;
	for (size_t i = 0; i < n; i++)
		prio[i] = (int)tpctl_ev_int(json_object_array_get_idx(files, i),
					    "priority");
	for (size_t k = 0; k < a->n_file_ops; k++)
		for (size_t j = 0; j < a->file_ops[k].n_idx; j++) {
			int64_t x = a->file_ops[k].idx[j];
			if (x >= (int64_t)n) {
				fprintf(stderr, "tpctl: files: torrent %lld has "
					"no file %lld (it has %zu)\n",
					(long long)a->id, (long long)x, n);
				free(prio);
				return NULL;
			}
			prio[x] = a->file_ops[k].priority;
		}
	json_object *arr = json_object_new_array_ext((int)n);
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_int(prio[i]));
	free(prio);
	return arr;
}

int tpctl_cmd_files(const struct tpctl_args *a)
{
	int rc;
	json_object *ans = tpctl_detail_call(a, TP_OP_FILES, "Files", NULL, &rc);
	if (!ans)
		return rc;
	if (a->n_file_ops) {
		json_object *prio = tpctl_new_priorities(a, tpctl_rows(ans, "files"));
		json_object_put(ans);
		if (!prio)
			return TPCTL_EXIT_FAIL;
		json_object *req = tp_request_new(TP_OP_SET, -1);
		json_object_object_add(req, "file_priorities", prio);
		ans = tpctl_detail_call(a, TP_OP_SET, "Set", req, &rc);
		if (!ans)
			return rc;
		json_object_put(ans);
		ans = tpctl_detail_call(a, TP_OP_FILES, "Files", NULL, &rc);
		if (!ans)
			return rc;
	}
	if (!a->json)
		tpctl_print_files(tpctl_rows(ans, "files"));
	json_object_put(ans);
	return TPCTL_EXIT_OK;
}

int tpctl_cmd_peers(const struct tpctl_args *a)
{
	int rc;
	char down[32], up[32];
	json_object *ans = tpctl_detail_call(a, TP_OP_PEERS, "Peers", NULL, &rc);
	if (!ans || a->json) {
		json_object_put(ans);
		return rc;
	}
	json_object *arr = tpctl_rows(ans, "peers");
	size_t n = arr ? json_object_array_length(arr) : 0;
	printf("%-22s  %-20s  %12s  %12s  %8s  %s\n", "ADDRESS", "CLIENT",
	       "DOWN", "UP", "PROGRESS", "FLAGS");
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(arr, i), *v;
		const char *addr = tpctl_ev_str(p, "address");
		const char *client = tpctl_ev_str(p, "client");
		double prog = json_object_object_get_ex(p, "progress", &v)
				      ? json_object_get_double(v) : 0;
		bool enc = json_object_object_get_ex(p, "encrypted", &v) &&
			   json_object_get_boolean(v);
		bool utp = json_object_object_get_ex(p, "utp", &v) &&
			   json_object_get_boolean(v);
		tpctl_fmt_size(down, sizeof down, tpctl_ev_int(p, "down_rate"));
		tpctl_fmt_size(up, sizeof up, tpctl_ev_int(p, "up_rate"));
		printf("%-22s  %-20.20s  %10s/s  %10s/s  %7.1f%%  %s%s\n",
		       addr ? addr : "?", client && *client ? client : "?", down,
		       up, tpctl_percent1(prog), enc ? "E" : "", utp ? "U" : "");
	}
	json_object_put(ans);
	return TPCTL_EXIT_OK;
}

static json_object *tpctl_url_array(const char *const *v, size_t n)
{
	json_object *arr = json_object_new_array_ext((int)n);
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_string(v[i]));
	return arr;
}

int tpctl_cmd_trackers(const struct tpctl_args *a)
{
	int rc;
	json_object *ans;
	if (a->n_trackers || a->n_remove) {
		json_object *req = tp_request_new(TP_OP_SET, -1);
		if (a->n_trackers)
			json_object_object_add(req, "trackers_add",
					       tpctl_url_array(a->trackers,
							       a->n_trackers));
		if (a->n_remove)
			json_object_object_add(req, "trackers_remove",
					       tpctl_url_array(a->remove,
							       a->n_remove));
		ans = tpctl_detail_call(a, TP_OP_SET, "Set", req, &rc);
		if (!ans)
			return rc;
		json_object_put(ans);
	}
	ans = tpctl_detail_call(a, TP_OP_TRACKERS, "Trackers", NULL, &rc);
	if (!ans || a->json) {
		json_object_put(ans);
		return rc;
	}
	json_object *arr = tpctl_rows(ans, "trackers");
	size_t n = arr ? json_object_array_length(arr) : 0;
	printf("%4s  %-13s  %7s  %8s  %s\n", "TIER", "STATUS", "SEEDERS",
	       "LEECHERS", "URL");
	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(arr, i), *v;
		const char *url = tpctl_ev_str(t, "url");
		const char *st = tpctl_ev_str(t, "status");
		const char *msg = tpctl_ev_str(t, "message");
		char seeders[16] = "-", leechers[16] = "-";
		if (json_object_object_get_ex(t, "seeders", &v) && v)
			snprintf(seeders, sizeof seeders, "%d",
				 json_object_get_int(v));
		if (json_object_object_get_ex(t, "leechers", &v) && v)
			snprintf(leechers, sizeof leechers, "%d",
				 json_object_get_int(v));
		printf("%4lld  %-13s  %7s  %8s  %s%s%s\n",
		       (long long)tpctl_ev_int(t, "tier"), st ? st : "?", seeders,
		       leechers, url ? url : "", msg && *msg ? "  " : "",
		       msg ? msg : "");
	}
	json_object_put(ans);
	return TPCTL_EXIT_OK;
}

int tpctl_cmd_recheck(const struct tpctl_args *a)
{
	int rc;
	json_object *ans = tpctl_detail_call(a, TP_OP_RECHECK, "Rechecking",
					     NULL, &rc);
	if (ans && !a->json)
		printf("Rechecking torrent %lld\n", (long long)a->id);
	json_object_put(ans);
	return rc;
}
