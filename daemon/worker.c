/*
 * worker.c - the worker threads (see worker.h).
 *
 * Runs on: the worker threads (worker_main and the job functions), except
 * the queue functions of worker.h, which the main thread calls.  Jobs never
 * touch the libtorrent session; hashing uses the shim's session-free
 * lts_make_torrent().
 */
#include "worker.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "log.h"
#include "lt_shim.h"
#include "proto.h"

#define WORKER_MAX_REDIRECTS 5
/* How long a deletion waits for libtorrent to release the torrent's files
 * (its disk queue is bounded, so this is seconds at worst). */
#define WORK_SETTLE_MS 60000
#define WORKER_CONNECT_TIMEOUT_S 10L

struct workers {
	struct queue todo;         /* main -> workers; closed to stop them */
	struct queue done;         /* workers -> main, with an eventfd */
	int n;
	pthread_t *threads;
};

struct work_job *work_job_new(enum work_kind kind)
{
	struct work_job *j = calloc(1, sizeof *j);
	if (j)
		j->kind = kind;
	return j;
}

void work_job_free(struct work_job *j)
{
	if (!j)
		return;
	free(j->path);
	free(j->url);
	for (size_t i = 0; i < j->n_trackers; i++)
		free(j->trackers[i]);
	free(j->trackers);
	free(j->comment);
	free(j->creator);
	free(j->out_path);
	for (size_t i = 0; i < j->n_files; i++)
		free(j->files[i]);
	free(j->files);
	free(j->data);
	free(j->error);
	if (j->ctx_free)
		j->ctx_free(j->ctx);
	free(j);
}

static void work_fail(struct work_job *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void work_fail(struct work_job *j, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(j->error);
	if (vasprintf(&j->error, fmt, ap) < 0)
		j->error = strdup("failed");
	va_end(ap);
}

/* --- reading a .torrent file as the patron ------------------------------ */

static void work_read_torrent(struct work_job *j)
{
	char *err = NULL;
	int fd = access_open(j->uid, j->gid, j->path, O_RDONLY | O_NONBLOCK, 0,
			     &err);
	if (fd < 0) {
		j->error = err ? err : strdup("cannot read the file");
		return;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		work_fail(j, "%s is not a regular file", j->path);
		goto out;
	}
	if ((size_t)st.st_size > j->max_bytes) {
		work_fail(j, "%s is larger than %zu MiB", j->path,
			  j->max_bytes >> 20);
		goto out;
	}
	j->data = malloc((size_t)st.st_size + 1);
	if (!j->data) {
		work_fail(j, "out of memory reading %s", j->path);
		goto out;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, j->data + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			work_fail(j, "cannot read %s: %s", j->path,
				  n < 0 ? strerror(errno) : "file shrank");
			free(j->data);
			j->data = NULL;
			goto out;
		}
		got += (size_t)n;
	}
	j->len = got;
out:
	close(fd);
}

/* --- fetching a .torrent over http(s) ------------------------------------ */

struct work_body {
	struct work_job *job;
	size_t cap;
	bool too_large;
};

static size_t work_body_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct work_body *b = ud;
	struct work_job *j = b->job;
	size_t n = size * nmemb;
	if (j->len + n > j->max_bytes) {
		b->too_large = true;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	if (j->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		while (cap < j->len + n)
			cap *= 2;
		unsigned char *d = realloc(j->data, cap);
		if (!d)
			return 0;
		j->data = d;
		b->cap = cap;
	}
	memcpy(j->data + j->len, ptr, n);
	j->len += n;
	return n;
}

static bool work_is_http(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0 ||
	       strncasecmp(url, "https://", 8) == 0;
}

static void work_fetch_url(struct work_job *j)
{
	if (!work_is_http(j->url)) {
		work_fail(j, "only http and https URLs can be fetched: %s",
			  j->url);
		return;
	}
	CURL *curl = curl_easy_init();
	if (!curl) {
		work_fail(j, "cannot start an HTTP client");
		return;
	}
	struct work_body body = {.job = j};
	char curl_err[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(curl, CURLOPT_URL, j->url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(curl, CURLOPT_MAXREDIRS, (long)WORKER_MAX_REDIRECTS);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, WORKER_CONNECT_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, j->timeout_s);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t)j->max_bytes);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, work_body_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "tpd/" TP_VERSION);
	CURLcode rc = curl_easy_perform(curl);
	long status = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);

	if (rc == CURLE_OK && status >= 200 && status < 300)
		return;
	free(j->data);
	j->data = NULL;
	j->len = 0;
	if (body.too_large || rc == CURLE_FILESIZE_EXCEEDED)
		work_fail(j, "%s is larger than %zu MiB", j->url,
			  j->max_bytes >> 20);
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		work_fail(j, "timed out after %ld s fetching %s", j->timeout_s,
			  j->url);
	else if (rc == CURLE_UNSUPPORTED_PROTOCOL)
		work_fail(j, "only http and https URLs can be fetched "
			  "(redirects included): %s", j->url);
	else if (rc == CURLE_TOO_MANY_REDIRECTS)
		work_fail(j, "more than %d redirects fetching %s",
			  WORKER_MAX_REDIRECTS, j->url);
	else if (rc != CURLE_OK)
		work_fail(j, "cannot fetch %s: %s", j->url,
			  curl_err[0] ? curl_err : curl_easy_strerror(rc));
	else
		work_fail(j, "HTTP %ld from %s", status, j->url);
}

/* --- making a .torrent of local data ------------------------------------ */

/* Hashing runs with the patron's rights (the hashing threads inherit
 * them), so a file inside a readable directory that the patron may not
 * read cannot be published through us. */
static void work_make_torrent(struct work_job *j)
{
	char *err = NULL;
	struct access_saved sv;
	if (access_check(j->uid, j->gid, j->path, R_OK, &err) < 0 ||
	    access_enter(j->uid, j->gid, &sv, &err) < 0) {
		j->error = err ? err : strdup("cannot read the data");
		return;
	}
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct lts_make m = {
		.path = j->path,
		.trackers = (const char *const *)j->trackers,
		.n_trackers = j->n_trackers,
		.piece_size = j->piece_size,
		.version = j->version,
		.private_flag = j->private_flag,
		.comment = j->comment,
		.creator = j->creator,
		.threads = cpus > 0 ? (int)cpus : 1,
	};
	int rc = lts_make_torrent(&m, &j->data, &j->len, &err);
	access_leave(&sv);
	if (rc < 0) {
		j->error = err ? err : strdup("cannot make the torrent");
		j->data = NULL;
		return;
	}
	if (access_write_file(j->uid, j->gid, j->out_path, j->data, j->len,
			      &err) < 0) {
		free(j->data);
		j->data = NULL;
		j->error = err ? err : strdup("cannot write the .torrent");
	}
}

/* --- deleting a closed torrent's files as the patron ----------------- */

/* Opens the directory holding rel's last component, walking from root
 * without following any link; returns its fd (or -1) and the last
 * component in *leaf (a pointer into rel). */
static int work_open_parent(int root, char *rel, char **leaf)
{
	int fd = dup(root);
	char *comp = rel;
	for (char *slash; fd >= 0 && (slash = strchr(comp, '/')) != NULL;
	     comp = slash + 1) {
		*slash = 0;
		int next = -1;
		if (strcmp(comp, "..") != 0 && strcmp(comp, ".") != 0 && *comp)
			next = openat(fd, comp, O_RDONLY | O_DIRECTORY |
							O_NOFOLLOW | O_CLOEXEC);
		*slash = '/';
		close(fd);
		fd = next;
	}
	*leaf = comp;
	if (fd >= 0 && (!strcmp(comp, "..") || !strcmp(comp, ".") || !*comp)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int work_cmp_len_desc(const void *a, const void *b)
{
	size_t x = strlen(*(char *const *)a), y = strlen(*(char *const *)b);
	return (x < y) - (x > y);
}

/* Removes one entry (a file, or an empty directory with AT_REMOVEDIR);
 * 0, or -1 with errno.  A link is removed itself, never its target. */
static int work_remove(int root, const char *rel, int flags)
{
	char *copy = strdup(rel);
	char *leaf;
	int fd = copy ? work_open_parent(root, copy, &leaf) : -1;
	int rc = fd < 0 ? -1 : unlinkat(fd, leaf, flags);
	int e = errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	errno = e;
	return rc;
}

static void work_delete(struct work_job *j)
{
	char *err = NULL;
	struct access_saved sv;
	if (j->settle && j->settle(j->settle_id, WORK_SETTLE_MS) < 0) {
		work_fail(j, "the torrent's files were still in use after %d s; "
			  "not deleted", WORK_SETTLE_MS / 1000);
		return;
	}
	if (access_enter(j->uid, j->gid, &sv, &err) < 0) {
		j->error = err;
		return;
	}
	int root = open(j->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t failed = 0;
	const char *first = NULL;
	int first_errno = 0;
	/* The directories the files lie in, to remove once empty. */
	char **dirs = calloc(j->n_files + 1, sizeof *dirs);
	size_t n_dirs = 0;
	for (size_t i = 0; root >= 0 && i < j->n_files; i++) {
		if (work_remove(root, j->files[i], 0) < 0 && errno != ENOENT) {
			if (!failed++) {
				first = j->files[i];
				first_errno = errno;
			}
		}
		char *slash = strrchr(j->files[i], '/');
		if (dirs && slash)
			dirs[n_dirs++] = strndup(j->files[i],
						 (size_t)(slash - j->files[i]));
	}
	if (dirs) {
		/* Deepest first; parents of parents follow from the paths. */
		qsort(dirs, n_dirs, sizeof *dirs, work_cmp_len_desc);
		for (size_t i = 0; root >= 0 && i < n_dirs; i++) {
			for (char *d = dirs[i]; d && *d;) {
				if (work_remove(root, d, AT_REMOVEDIR) < 0)
					break;
				char *slash = strrchr(d, '/');
				if (!slash)
					break;
				*slash = 0;
			}
		}
		for (size_t i = 0; i < n_dirs; i++)
			free(dirs[i]);
		free(dirs);
	}
	if (root < 0)
		work_fail(j, "cannot open %s: %s", j->path, strerror(errno));
	else if (failed)
		work_fail(j, "%zu of %zu files not deleted (first: %s/%s: %s)",
			  failed, j->n_files, j->path, first,
			  strerror(first_errno));
	if (root >= 0)
		close(root);
	access_leave(&sv);
}

/* --- the pool ------------------------------------------------------------ */

static void *worker_main(void *arg)
{
	struct workers *w = arg;
	struct queue_link *l;
	while ((l = queue_take_one(&w->todo)) != NULL) {
		struct work_job *j = QUEUE_ITEM(l, struct work_job, link);
		switch (j->kind) {
		case WORK_READ_TORRENT:
			work_read_torrent(j);
			break;
		case WORK_FETCH_URL:
			work_fetch_url(j);
			break;
		case WORK_MAKE_TORRENT:
			work_make_torrent(j);
			break;
		case WORK_DELETE:
			work_delete(j);
			break;
		}

		/* The done queue is never closed while workers run. */
		queue_push(&w->done, &j->link);
	}
	return NULL;
}

struct workers *workers_start(int threads, char **err)
{
	struct workers *w = calloc(1, sizeof *w);
	if (!w) {
		*err = strdup("out of memory");
		return NULL;
	}
	if (queue_init(&w->todo, 0, err) < 0) {
		free(w);
		return NULL;
	}
	if (queue_init(&w->done, QUEUE_FD, err) < 0) {
		queue_destroy(&w->todo);
		free(w);
		return NULL;
	}
	w->threads = calloc((size_t)threads, sizeof *w->threads);
	if (!w->threads) {
		*err = strdup("out of memory starting the worker threads");
		workers_stop(w);
		return NULL;
	}
	for (int i = 0; i < threads; i++) {
		if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0) {
			*err = strdup("cannot start worker threads");
			workers_stop(w);
			return NULL;
		}
		w->n++;
	}
	return w;
}

int workers_fd(struct workers *w)
{
	return queue_fd(&w->done);
}

void workers_submit(struct workers *w, struct work_job *job)
{
	/* Closed only by workers_stop, on this same thread. */
	if (!queue_push(&w->todo, &job->link))
		work_job_free(job);
}

struct queue_link *workers_take_done(struct workers *w)
{
	return queue_take_all(&w->done, NULL);
}

static void workers_free_list(struct queue_link *l)
{
	while (l) {
		struct queue_link *next = l->next;
		work_job_free(QUEUE_ITEM(l, struct work_job, link));
		l = next;
	}
}

void workers_stop(struct workers *w)
{
	if (!w)
		return;
	queue_close(&w->todo);
	for (int i = 0; i < w->n; i++)
		pthread_join(w->threads[i], NULL);
	workers_free_list(queue_take_all(&w->todo, NULL));
	workers_free_list(queue_take_all(&w->done, NULL));
	queue_destroy(&w->todo);
	queue_destroy(&w->done);
	free(w->threads);
	free(w);
}
