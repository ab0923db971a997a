/*
 * store.c - the state directory (see store.h).  Engine thread.
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* Neither a resume file nor a .torrent of ours is ever this large; a
 * bigger one is damage, not data. */
#define STORE_MAX_BLOB (256u << 20)

struct store {
	char *dir;
	char *tdir;   /* STATE/torrents */
	bool dirty;   /* renames/unlinks in tdir not yet made durable */
};

static char *store_path(const char *dir, const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

static char *store_tpath(struct store *st, int64_t id, const char *ext)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%" PRId64 ".%s", st->tdir, id, ext) < 0)
		return NULL;
	return p;
}

static void store_err(char **err, const char *what, const char *path)
{
	if (err && asprintf(err, "cannot %s %s: %s", what, path,
			    strerror(errno)) < 0)
		*err = NULL;
}

struct store *store_open(const char *state_dir, char **err)
{
	struct store *st = calloc(1, sizeof *st);
	if (!st)
		return NULL;
	st->dir = strdup(state_dir);
	st->tdir = store_path(state_dir, "torrents");
	if (!st->dir || !st->tdir) {
		store_close(st);
		return NULL;
	}
	if (mkdir(st->tdir, 0750) < 0 && errno != EEXIST) {
		store_err(err, "create", st->tdir);
		store_close(st);
		return NULL;
	}
	return st;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	free(st->dir);
	free(st->tdir);
	free(st);
}

static int store_write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void store_fsync_dir(const char *dir)
{
	int dfd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
}

/* The file's bytes are synced before the rename, so a crash leaves the
 * old or the new file; the rename itself is made durable by syncing the
 * directory, now (sync_dir) or in the caller's next store_sync(). */
static int store_write_atomic(const char *path, const void *data, size_t len,
			      bool sync_dir, char **err)
{
	char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		store_err(err, "write", tmp);
		free(tmp);
		return -1;
	}
	if (store_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		store_err(err, "write", tmp);
		close(fd);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		store_err(err, "rename", tmp);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	if (sync_dir) {
		char *dir = strdup(path);
		char *slash = dir ? strrchr(dir, '/') : NULL;
		if (slash) {
			*slash = 0;
			store_fsync_dir(dir);
		}
		free(dir);
	}
	return 0;
}

void store_sync(struct store *st)
{
	if (st->dirty) {
		store_fsync_dir(st->tdir);
		st->dirty = false;
	}
}

bool store_was_unclean(struct store *st)
{
	char *p = store_path(st->dir, "running");
	bool unclean = p && access(p, F_OK) == 0;
	free(p);
	return unclean;
}

void store_mark_running(struct store *st)
{
	char *p = store_path(st->dir, "running");
	char pid[32];
	int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	char *err = NULL;
	if (p && store_write_atomic(p, pid, (size_t)n, true, &err) < 0)
		log_warn("%s", err ? err : "cannot write the running mark");
	free(err);
	free(p);
}

void store_mark_clean(struct store *st)
{
	char *p = store_path(st->dir, "running");
	if (p)
		unlink(p);
	free(p);
}

int64_t store_next_id(struct store *st)
{
	char *p = store_path(st->dir, "next_id");
	FILE *f = p ? fopen(p, "re") : NULL;
	long long v = 0;
	if (f) {
		if (fscanf(f, "%lld", &v) != 1 || v < 1)
			v = 0;
		fclose(f);
	}
	free(p);
	return v;
}

int store_save_next_id(struct store *st, int64_t next_id, char **err)
{
	char *p = store_path(st->dir, "next_id");
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%" PRId64 "\n", next_id);
	int rc = p ? store_write_atomic(p, buf, (size_t)n, true, err) : -1;
	free(p);
	return rc;
}

void store_meta_init(struct store_meta *m)
{
	memset(m, 0, sizeof *m);
	m->ratio_limit = -1;
	m->seed_time_limit = -1;
	m->queue_pos = -1;
	m->ratio_waived = -1;
	m->seed_time_waived = -1;
}

static void store_meta_steer_json(const struct store_meta *m, json_object *o)
{
	json_object_object_add(o, "download_limit",
			       json_object_new_int64(m->download_limit));
	json_object_object_add(o, "upload_limit",
			       json_object_new_int64(m->upload_limit));
	json_object_object_add(o, "sequential",
			       json_object_new_boolean(m->sequential));
	json_object *labels = json_object_new_array();
	for (size_t i = 0; i < m->n_labels; i++)
		json_object_array_add(labels, json_object_new_string(m->labels[i]));
	json_object_object_add(o, "labels", labels);
	json_object_object_add(o, "ratio_limit",
			       json_object_new_double(m->ratio_limit));
	json_object_object_add(o, "seed_time_limit",
			       json_object_new_int64(m->seed_time_limit));
	json_object_object_add(o, "queue_pos", json_object_new_int(m->queue_pos));
	if (m->stop_reason)
		json_object_object_add(o, "stop_reason",
				       json_object_new_string(m->stop_reason));
	json_object_object_add(o, "ratio_waived",
			       json_object_new_double(m->ratio_waived));
	json_object_object_add(o, "seed_time_waived",
			       json_object_new_int64(m->seed_time_waived));
	json_object_object_add(o, "hook_done",
			       json_object_new_boolean(m->hook_done));
}

int store_save_meta(struct store *st, const struct store_meta *m, char **err)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(m->id));
	json_object_object_add(o, "owner", json_object_new_int64(m->owner));
	json_object_object_add(o, "save_path",
			       json_object_new_string(m->save_path));
	if (m->info_hash)
		json_object_object_add(o, "info_hash",
				       json_object_new_string(m->info_hash));
	if (m->name)
		json_object_object_add(o, "name", json_object_new_string(m->name));
	if (m->magnet)
		json_object_object_add(o, "magnet",
				       json_object_new_string(m->magnet));
	json_object_object_add(o, "paused", json_object_new_boolean(m->paused));
	json_object_object_add(o, "complete",
			       json_object_new_boolean(m->complete));
	store_meta_steer_json(m, o);
	size_t len;
	const char *text = json_object_to_json_string_length(
		o, JSON_C_TO_STRING_PLAIN, &len);
	char *p = store_tpath(st, m->id, "meta");
	int rc = p ? store_write_atomic(p, text, len, false, err) : -1;
	st->dirty = true;
	free(p);
	json_object_put(o);
	return rc;
}

int store_save_blob(struct store *st, int64_t id, const char *ext,
		    const void *data, size_t len, char **err)
{
	char *p = store_tpath(st, id, ext);
	int rc = p ? store_write_atomic(p, data, len, false, err) : -1;
	st->dirty = true;
	free(p);
	return rc;
}

void store_forget(struct store *st, int64_t id)
{
	static const char *const exts[] = {"resume", "torrent", "meta"};
	for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
		char *p = store_tpath(st, id, exts[i]);
		if (p)
			unlink(p);
		free(p);
	}
	st->dirty = true;
}

static int store_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int64_t *store_list(struct store *st, size_t *n)
{
	*n = 0;
	DIR *d = opendir(st->tdir);
	if (!d)
		return NULL;
	size_t cap = 64;
	int64_t *ids = malloc(cap * sizeof *ids);
	struct dirent *de;
	while (ids && (de = readdir(d)) != NULL) {
		char *end = NULL;
		errno = 0;
		long long id = strtoll(de->d_name, &end, 10);
		if (errno || end == de->d_name || id < 1 || strcmp(end, ".meta"))
			continue;
		if (*n == cap) {
			int64_t *g = realloc(ids, 2 * cap * sizeof *ids);
			if (!g)
				break;
			ids = g;
			cap *= 2;
		}
		ids[(*n)++] = id;
	}
	closedir(d);
	if (ids)
		qsort(ids, *n, sizeof *ids, store_cmp);
	return ids;
}

unsigned char *store_load_blob(struct store *st, int64_t id, const char *ext,
			       size_t *len, char **err)
{
	*len = 0;
	char *p = store_tpath(st, id, ext);
	if (!p)
		return NULL;
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	unsigned char *buf = NULL;
	struct stat sb;
	if (fd < 0) {
		if (errno != ENOENT)
			store_err(err, "read", p);
		goto out;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    (size_t)sb.st_size > STORE_MAX_BLOB) {
		if (err && asprintf(err, "%s is not a plausible state file", p) < 0)
			*err = NULL;
		goto out;
	}
	buf = malloc((size_t)sb.st_size + 1);
	size_t got = 0;
	while (buf && got < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (buf && got != (size_t)sb.st_size) {
		store_err(err, "read", p);
		free(buf);
		buf = NULL;
	}
	if (buf) {
		buf[got] = 0;
		*len = got;
	}
out:
	if (fd >= 0)
		close(fd);
	free(p);
	return buf;
}

static char *store_json_str(json_object *o, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return strdup(json_object_get_string(v));
}

static bool store_json_bool(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) &&
	       json_object_is_type(v, json_type_boolean) &&
	       json_object_get_boolean(v);
}

static int64_t store_json_int(json_object *o, const char *key, int64_t dflt)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return dflt;
	return json_object_get_int64(v);
}

static double store_json_double(json_object *o, const char *key, double dflt)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) ||
	    (!json_object_is_type(v, json_type_double) &&
	     !json_object_is_type(v, json_type_int)))
		return dflt;
	return json_object_get_double(v);
}

/* Metas written before steering existed lack these keys: the defaults
 * then apply. */
static void store_meta_steer_load(struct store_meta *m, json_object *o)
{
	m->download_limit = store_json_int(o, "download_limit", 0);
	m->upload_limit = store_json_int(o, "upload_limit", 0);
	if (m->download_limit < 0 || m->download_limit > INT32_MAX)
		m->download_limit = 0;
	if (m->upload_limit < 0 || m->upload_limit > INT32_MAX)
		m->upload_limit = 0;
	m->sequential = store_json_bool(o, "sequential");
	m->ratio_limit = store_json_double(o, "ratio_limit", -1);
	m->seed_time_limit = store_json_int(o, "seed_time_limit", -1);
	m->queue_pos = (int)store_json_int(o, "queue_pos", -1);
	m->stop_reason = store_json_str(o, "stop_reason");
	m->ratio_waived = store_json_double(o, "ratio_waived", -1);
	m->seed_time_waived = store_json_int(o, "seed_time_waived", -1);
	json_object *v;
	if (json_object_object_get_ex(o, "labels", &v) &&
	    json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v);
		m->labels = calloc(n + 1, sizeof *m->labels);
		for (size_t i = 0; m->labels && i < n; i++) {
			json_object *e = json_object_array_get_idx(v, i);
			if (json_object_is_type(e, json_type_string))
				m->labels[m->n_labels++] =
					strdup(json_object_get_string(e));
		}
	}
}

int store_load_meta(struct store *st, int64_t id, struct store_meta *m,
		    char **err)
{
	store_meta_init(m);
	size_t len;
	unsigned char *text = store_load_blob(st, id, "meta", &len, err);
	if (!text)
		return -1;
	json_object *o = json_tokener_parse((char *)text);
	free(text);
	json_object *v;
	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "id", &v) ||
	    json_object_get_int64(v) != id ||
	    !json_object_object_get_ex(o, "owner", &v) ||
	    !json_object_is_type(v, json_type_int)) {
		if (asprintf(err, "%s/%" PRId64 ".meta is damaged", st->tdir,
			     id) < 0)
			*err = NULL;
		json_object_put(o);
		return -1;
	}
	m->id = id;
	m->owner = (uid_t)json_object_get_int64(v);
	m->save_path = store_json_str(o, "save_path");
	m->info_hash = store_json_str(o, "info_hash");
	m->name = store_json_str(o, "name");
	m->magnet = store_json_str(o, "magnet");
	m->paused = store_json_bool(o, "paused");
	m->complete = store_json_bool(o, "complete");
	store_meta_steer_load(m, o);
	/* Metas from before the hook: a complete torrent was announced. */
	m->hook_done = json_object_object_get_ex(o, "hook_done", NULL)
			       ? store_json_bool(o, "hook_done")
			       : m->complete;
	json_object_put(o);
	if (!m->save_path || m->save_path[0] != '/') {
		if (asprintf(err, "%s/%" PRId64 ".meta has no save_path",
			     st->tdir, id) < 0)
			*err = NULL;
		store_meta_free(m);
		return -1;
	}
	return 0;
}

void store_meta_free(struct store_meta *m)
{
	free(m->save_path);
	free(m->info_hash);
	free(m->name);
	free(m->magnet);
	for (size_t i = 0; i < m->n_labels; i++)
		free(m->labels[i]);
	free(m->labels);
	free(m->stop_reason);
	memset(m, 0, sizeof *m);
}

int store_save_file(struct store *st, const char *name, const void *data,
		    size_t len, char **err)
{
	char *p = store_path(st->dir, name);
	int rc = p ? store_write_atomic(p, data, len, true, err) : -1;
	free(p);
	return rc;
}

char *store_load_file(struct store *st, const char *name, char **err)
{
	char *p = store_path(st->dir, name);
	if (!p)
		return NULL;
	FILE *f = fopen(p, "re");
	if (!f) {
		if (errno != ENOENT)
			store_err(err, "read", p);
		free(p);
		return NULL;
	}
	/* The session file is a few hundred bytes; 64 KiB is damage. */
	char *buf = malloc(65536);
	size_t n = buf ? fread(buf, 1, 65535, f) : 0;
	if (buf)
		buf[n] = 0;
	fclose(f);
	free(p);
	return buf;
}
