/*
 * tpctl_watch.c - tpctl's listening commands: watch, wait, explain, and the
 * waiting behind add --wait and seed --wait-seeding.  They send a `watch`
 * and then follow the pushed StatusUpdate and Closed events, drawing
 * progress bars in place on a terminal and plain lines otherwise.
 * Single-threaded; SIGINT only sets a flag that the loops check.
 */
#include "tpctl.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "proto.h"

/* How often the loops look at the SIGINT flag while nothing arrives. */
#define TPCTL_WATCH_POLL_MS 500
/* Cells of a progress bar. */
#define TPCTL_BAR_WIDTH 30

static volatile sig_atomic_t tpctl_interrupted;

static void tpctl_on_sigint(int sig)
{
	(void)sig;
	tpctl_interrupted = 1;
}

/* SIGINT/SIGTERM end watch and explain cleanly (exit 0).  No SA_RESTART,
 * so a blocked poll() returns at once. */
static void tpctl_catch_interrupt(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = tpctl_on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* One torrent as the board shows it. */
struct tpctl_row {
	int64_t id;
	char *name;
	char state[48];
	double progress;
	int64_t down_rate;
	int last_pct;   /* explain: the percent last printed, -1 none */
};

/* The torrents on screen, ordered by id, and how many lines are drawn. */
struct tpctl_board {
	struct tpctl_row *rows;
	size_t n, cap;
	int drawn;
};

static struct tpctl_row *tpctl_board_find(struct tpctl_board *b, int64_t id)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (b->rows[i].id == id)
			return &b->rows[i];
	return NULL;
}

/* Finds or inserts the row for id (kept in id order); NULL when out of
 * memory, which only costs the display of that torrent. */
static struct tpctl_row *tpctl_board_row(struct tpctl_board *b, int64_t id)
{
	struct tpctl_row *r = tpctl_board_find(b, id);
	size_t i;

	if (r)
		return r;
	if (b->n == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 8;
		struct tpctl_row *nr = realloc(b->rows, ncap * sizeof *nr);

		if (!nr)
			return NULL;
		b->rows = nr;
		b->cap = ncap;
	}
	for (i = b->n; i > 0 && b->rows[i - 1].id > id; i--)
		b->rows[i] = b->rows[i - 1];
	r = &b->rows[i];
	memset(r, 0, sizeof *r);
	r->id = id;
	r->last_pct = -1;
	b->n++;
	return r;
}

static void tpctl_board_update(struct tpctl_board *b,
			       const struct tp_status *st)
{
	struct tpctl_row *r = tpctl_board_row(b, st->id);

	if (!r)
		return;
	if (st->name) {
		char *name = strdup(st->name);

		if (name) {
			free(r->name);
			r->name = name;
		}
	}
	snprintf(r->state, sizeof r->state, "%s",
		 st->paused ? "paused" : st->state ? st->state : "?");
	r->progress = st->progress;
	r->down_rate = st->down_rate;
}

static void tpctl_board_free(struct tpctl_board *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		free(b->rows[i].name);
	free(b->rows);
	memset(b, 0, sizeof *b);
}

static int tpctl_term_columns(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
		return ws.ws_col;
	return 80;
}

/* Redraws every row in place: back up over what was drawn, then one
 * cleared line per torrent, cut to the terminal's width so no line wraps
 * (a wrapped line would break the count of lines to back up over). */
static void tpctl_board_draw(struct tpctl_board *b)
{
	int cols = tpctl_term_columns();
	char bar[TPCTL_BAR_WIDTH + 1], rate[32];
	size_t i;

	if (b->drawn > 0)
		printf("\033[%dA", b->drawn);
	for (i = 0; i < b->n; i++) {
		const struct tpctl_row *r = &b->rows[i];
		char *line = NULL;

		tpctl_fmt_bar(bar, sizeof bar, TPCTL_BAR_WIDTH, r->progress);
		tpctl_fmt_size(rate, sizeof rate, r->down_rate);
		if (asprintf(&line, "%4lld [%s] %5.1f%%  %10s/s  %-11s %s",
			     (long long)r->id, bar, tpctl_percent1(r->progress),
			     rate, r->state, r->name ? r->name : "") < 0)
			line = NULL;
		if (line && strlen(line) >= (size_t)cols)
			line[cols - 1] = '\0';
		printf("\r\033[2K%s\n", line ? line : "");
		free(line);
	}
	b->drawn = (int)b->n;
	fflush(stdout);
}

/* Sends watch for the given ids (all when n == 0) and checks the answer. */
/* Sends watch and reads its answer; with `known`, a row is made there for
 * every torrent the answer lists, so that later ones stand out as new. */
static int tpctl_send_watch(tpc *c, const struct tpctl_args *a,
			    const int64_t *ids, size_t n,
			    struct tpctl_board *known)
{
	json_object *req = tp_request_new(TP_OP_WATCH, -1), *ans = NULL;
	int rc = TPCTL_EXIT_OK;
	size_t i;

	if (n > 0) {
		json_object *arr = json_object_new_array();

		for (i = 0; i < n; i++)
			json_object_array_add(arr,
					      json_object_new_int64(ids[i]));
		json_object_object_add(req, "ids", arr);
	}
	if (tpctl_call(c, req, &ans) < 0) {
		json_object_put(req);
		return TPCTL_EXIT_UNREACHABLE;
	}
	json_object_put(req);
	if (a->json)
		tpctl_print_json(ans);
	if (strcmp(tpctl_ev_type(ans), "Watching") != 0) {
		rc = tpctl_answer_fail(ans);
	} else if (known) {
		json_object *arr = NULL;
		if (json_object_object_get_ex(ans, "ids", &arr) &&
		    json_object_is_type(arr, json_type_array))
			for (i = 0; i < json_object_array_length(arr); i++)
				tpctl_board_row(known, json_object_get_int64(
					json_object_array_get_idx(arr, i)));
	}
	json_object_put(ans);
	return rc;
}

/* The next event; 1 with *ev, 0 when the caller should look at its flag,
 * -1 when the connection ended (reason printed unless `quiet`), -2 when
 * --timeout has passed (reason printed). */
static int tpctl_next_event(tpc *c, json_object **ev, bool quiet)
{
	char *err = NULL;
	int left = tpctl_time_left_ms();
	int rc;

	if (tpctl_timed_out())
		return -2;
	rc = tpc_recv(c, left >= 0 && left < TPCTL_WATCH_POLL_MS ?
			 left + 1 : TPCTL_WATCH_POLL_MS, ev, &err);
	if (rc > 0)
		tpctl_ev_clean(*ev);

	if (rc < 0 && !quiet)
		fprintf(stderr, "tpctl: %s\n", err ? err : "connection lost");
	free(err);
	return rc;
}

int tpctl_wait_id(tpc *c, const struct tpctl_args *a, int64_t id,
		  bool until_seeding)
{
	bool tty = !a->json && isatty(STDOUT_FILENO);
	struct tpctl_board board = { 0 };
	int rc = tpctl_send_watch(c, a, &id, 1, NULL);

	while (rc == TPCTL_EXIT_OK) {
		json_object *ev = NULL;
		struct tp_status st;
		const char *type;
		int got = tpctl_next_event(c, &ev, false);

		if (got < 0) {
			rc = TPCTL_EXIT_UNREACHABLE;
			break;
		}
		if (got == 0)
			continue;
		if (a->json)
			tpctl_print_json(ev);
		type = tpctl_ev_type(ev);
		if (strcmp(type, "Closed") == 0 &&
		    tpctl_ev_int(ev, "id") == id) {
			fprintf(stderr, "tpctl: torrent %lld was closed\n",
				(long long)id);
			rc = TPCTL_EXIT_FAIL;
		} else if (strcmp(type, "StatusUpdate") == 0 &&
			   tp_status_from_json(ev, &st) == 0) {
			if (st.id == id) {
				const char *s = st.state ? st.state : "";
				bool seeding = strcmp(s, "seeding") == 0;
				bool done = until_seeding ? seeding :
					    seeding || st.progress >= 1 ||
					    strcmp(s, "finished") == 0;

				if (tty) {
					tpctl_board_update(&board, &st);
					tpctl_board_draw(&board);
				}
				if (strcmp(s, "error") == 0) {
					fprintf(stderr, "tpctl: torrent %lld "
						"failed: %s\n", (long long)id,
						st.error ? st.error : "error");
					rc = TPCTL_EXIT_FAIL;
				} else if (done) {
					tp_status_free(&st);
					json_object_put(ev);
					break;
				}
			}
			tp_status_free(&st);
		}
		json_object_put(ev);
	}
	tpctl_board_free(&board);
	fflush(stdout);
	return rc;
}

int tpctl_cmd_wait(const struct tpctl_args *a)
{
	tpc *c = tpctl_connect(a);
	int rc;

	if (!c)
		return TPCTL_EXIT_UNREACHABLE;
	rc = tpctl_wait_id(c, a, a->id, false);
	tpc_close(c);
	return rc;
}

/* watch without a terminal: one line per StatusUpdate. */
static void tpctl_watch_line(const struct tp_status *st)
{
	printf("%lld %s %.1f%% %s\n", (long long)st->id,
	       st->state ? st->state : "?", tpctl_percent1(st->progress),
	       st->name ? st->name : "");
}

int tpctl_cmd_watch(const struct tpctl_args *a)
{
	bool tty = !a->json && isatty(STDOUT_FILENO);
	struct tpctl_board board = { 0 };
	tpc *c = tpctl_connect(a);
	int rc;

	if (!c)
		return TPCTL_EXIT_UNREACHABLE;
	setvbuf(stdout, NULL, _IOLBF, 0);
	tpctl_catch_interrupt();
	rc = tpctl_send_watch(c, a, a->ids, a->n_ids, NULL);
	while (rc == TPCTL_EXIT_OK && !tpctl_interrupted) {
		json_object *ev = NULL;
		struct tp_status st;
		const char *type;
		int got = tpctl_next_event(c, &ev, true);

		/* The daemon going away ends a watch like ^C does. */
		if (got < 0) {
			if (got == -2)
				rc = TPCTL_EXIT_UNREACHABLE;
			break;
		}
		if (got == 0)
			continue;
		type = tpctl_ev_type(ev);
		if (a->json) {
			tpctl_print_json(ev);
		} else if (strcmp(type, "StatusUpdate") == 0 &&
			   tp_status_from_json(ev, &st) == 0) {
			if (tty) {
				tpctl_board_update(&board, &st);
				tpctl_board_draw(&board);
			} else {
				tpctl_watch_line(&st);
			}
			tp_status_free(&st);
		} else if (strcmp(type, "Closed") == 0) {
			struct tpctl_row *r = tpctl_board_find(
				&board, tpctl_ev_int(ev, "id"));

			if (r) {
				snprintf(r->state, sizeof r->state, "closed");
				tpctl_board_draw(&board);
			} else if (!tty) {
				printf("%lld closed\n",
				       (long long)tpctl_ev_int(ev, "id"));
			}
		}
		json_object_put(ev);
	}
	tpctl_board_free(&board);
	tpc_close(c);
	return rc;
}

/* One event in the seed's BasicTorrentExplainer wording. */
static void tpctl_explain_event(struct tpctl_board *b, json_object *ev)
{
	const char *type = tpctl_ev_type(ev);
	const char *reason = tpctl_ev_str(ev, "reason");
	long long id = (long long)tpctl_ev_int(ev, "id");
	struct tpctl_row *r;
	struct tp_status st;

	if (strcmp(type, "StatusUpdate") == 0) {
		if (tp_status_from_json(ev, &st) < 0)
			return;
		/* A torrent that was not there when the watch began has just
		 * been created, by this user or (for root) by anyone. */
		if (!tpctl_board_find(b, st.id))
			printf("New torrent %lld created in %s/%s\n",
			       (long long)st.id, st.save_path ? st.save_path : "?",
			       st.name ? st.name : "?");
		r = tpctl_board_row(b, st.id);
		/* Only a change of the integer percent is news. */
		if (r && r->last_pct != tpctl_percent(st.progress)) {
			r->last_pct = tpctl_percent(st.progress);
			printf("Torrent %lld status : %d%%\n",
			       (long long)st.id, r->last_pct);
		}
		tp_status_free(&st);
	} else if (strcmp(type, "NewTorrentCreated") == 0) {
		const char *save = tpctl_ev_str(ev, "save_path");

		printf("New torrent %lld created in %s\n", id,
		       save ? save : "?");
	} else if (strcmp(type, "AlreadyDownloading") == 0) {
		printf("That torrent is already downloading! (torrent %lld)\n",
		       id);
	} else if (strcmp(type, "StartFail") == 0) {
		printf("Torrent failed to start: %s\n",
		       reason ? reason : "(no reason given)");
	} else if (strcmp(type, "Closed") == 0) {
		printf("Closed torrent %lld\n", id);
		r = tpctl_board_find(b, id);
		if (r)
			r->last_pct = -1;
	} else if (strcmp(type, "Error") == 0) {
		fprintf(stderr, "tpctl: %s\n", reason ? reason : "error");
	}
}

int tpctl_cmd_explain(const struct tpctl_args *a)
{
	struct tpctl_board board = { 0 };
	tpc *c = tpctl_connect(a);
	int rc;

	if (!c)
		return TPCTL_EXIT_UNREACHABLE;
	setvbuf(stdout, NULL, _IOLBF, 0);
	tpctl_catch_interrupt();
	rc = tpctl_send_watch(c, a, NULL, 0, &board);
	while (rc == TPCTL_EXIT_OK && !tpctl_interrupted) {
		json_object *ev = NULL;
		int got = tpctl_next_event(c, &ev, true);

		if (got < 0) {
			if (got == -2)
				rc = TPCTL_EXIT_UNREACHABLE;
			break;
		}
		if (got == 0)
			continue;
		if (a->json)
			tpctl_print_json(ev);
		else
			tpctl_explain_event(&board, ev);
		json_object_put(ev);
	}
	tpctl_board_free(&board);
	tpc_close(c);
	return rc;
}
