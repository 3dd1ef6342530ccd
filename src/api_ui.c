/*
 * api_ui.c: the web interface. It owns GET / and /ui (a redirect to
 * /ui/), the interface's files under /ui/ (ui/, built into the binary:
 * ui_assets.h) with the headers that confine them, and GET
 * /ui/api/status, the few figures the page shows that no /v2/ endpoint
 * gives: version, uptime, repository, blob and byte counts, and what the
 * user may do (delete). The page does everything else with the /v2/ API
 * itself, same origin, with the credentials the user typed.
 *
 * The files are served to anyone: they hold no registry data. The status
 * is authenticated like a pull (registry.c's route table). [ui] enabled =
 * false makes all of it 404.
 *
 * Blob and byte counts come from a walk of the store's blobs (the walk
 * stops where the repositories begin), on the worker pool: at most one
 * at a time, started by a status request when the count is older than
 * UI_USAGE_MAX_AGE. A request that finds no count yet waits for the walk
 * (struct ui_wait); later ones are answered at once with the last count
 * and its time, while the walk refreshes it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api.h"
#include "api_parse.h"
#include "auth.h"
#include "bounds.h"
#include "catalog.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "router.h"
#include "store.h"
#include "ui_assets.h"
#include "util.h"
#include "version.h"

#define UI_CT_JSON "application/json"
#define UI_INDEX   "index.html"

/*
 * What the page may load and do: its own scripts, styles and images, and
 * requests to its own origin; no inline script or style, no frames, no
 * form posts anywhere (the login form is handled by script).
 */
#define UI_CSP                                                                 \
	"default-src 'none'; script-src 'self'; style-src 'self'; "            \
	"img-src 'self'; connect-src 'self'; manifest-src 'self'; "            \
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/*
 * A walk counting the blobs and their bytes. Owned by itself; ui_usage
 * points at it while it runs.
 */
struct ui_walk {
	struct store_call uw_call; /* a STORE_CALL_WALK */
	struct store *uw_store;
	uint64_t uw_blobs;
	uint64_t uw_bytes;
	int uw_result; /* 0, or -1 with uw_errno */
	int uw_errno;
};

/*
 * A status request waiting for the first count. The job is never run: it
 * only ties the request to the wait (its cleanup clears aj_req when the
 * client goes first). Owned by the wait list, freed when the walk ends.
 */
struct ui_wait {
	struct api_job uw_job;
	struct ui_wait *uw_next;
};

static struct {
	int counted;    /* a walk has succeeded */
	uint64_t blobs; /* its figures */
	uint64_t bytes;
	uint64_t at_ms;          /* util_now_ms() when it ended */
	time_t at;               /* and on the wall clock */
	struct ui_walk *walk;    /* in flight, or NULL */
	struct ui_wait *waiting; /* requests for the first count */
} ui_usage;

static const struct ui_asset *ui_find(const char *);
static void ui_headers(struct request *, const struct ui_asset *);
static int ui_disabled(struct request *);
static int ui_usage_refresh(void);
static int ui_walk_cb(const struct store_item *, void *);
static void ui_walk_work(struct store_call *);
static void ui_walk_done(struct store_call *);
static void ui_status_reply(struct request *);

/*
 * api_ui_start: the registry starts (reg_init): no count yet. A walk
 * still running for an earlier start is left to finish on its own.
 */
void
api_ui_start(void)
{
	ui_usage.counted = 0;
	ui_usage.walk = NULL;
}

/* 1 after answering 404 when [ui] enabled is false. */
static int
ui_disabled(struct request *req)
{
	if (api_config()->cf_ui_enabled)
		return 0;
	http_error(req, 404, "NOT_FOUND", NULL);
	return 1;
}

/* ----------------------------------------------------------------------
 * The files
 */

/*
 * api_ui_root_get: GET / and /ui: to the page. A temporary redirect, so
 * that a browser does not keep it once the interface is turned off.
 */
void
api_ui_root_get(struct request *req, const struct route_match *m)
{
	(void)m;
	if (ui_disabled(req))
		return;
	http_add_header(req, "Location", "/ui/");
	http_add_header(req, "Cache-Control", "no-cache");
	http_reply(req, 302, NULL, NULL, 0);
}

static const struct ui_asset *
ui_find(const char *name)
{
	size_t i;

	for (i = 0; i < ui_nassets; i++)
		if (strcmp(ui_assets[i].ua_name, name) == 0)
			return &ui_assets[i];
	return NULL;
}

/*
 * The headers of a file and of its 304. The validator makes a reload
 * cheap; no-cache makes the browser ask, so a new binary's files are
 * used at once.
 */
static void
ui_headers(struct request *req, const struct ui_asset *a)
{
	http_add_header(req, "ETag", "\"%s\"", a->ua_etag);
	http_add_header(req, "Cache-Control", "no-cache");
	http_add_header(req, "Content-Security-Policy", "%s", UI_CSP);
	http_add_header(req, "X-Frame-Options", "DENY");
	http_add_header(req, "Referrer-Policy", "no-referrer");
	http_add_header(req, "Cross-Origin-Opener-Policy", "same-origin");
	http_add_header(req, "Cross-Origin-Resource-Policy", "same-origin");
}

/*
 * api_ui_file_get: GET /ui/ (the page) and /ui/<file> (route.c has
 * checked the name's grammar). 304 when If-None-Match names the file's
 * ETag.
 */
void
api_ui_file_get(struct request *req, const struct route_match *m)
{
	const struct ui_asset *a;
	const char *inm;

	if (ui_disabled(req))
		return;
	if ((a = ui_find(m->rm_ref[0] != '\0' ? m->rm_ref : UI_INDEX)) ==
	    NULL) {
		http_error(req, 404, "NOT_FOUND", NULL);
		return;
	}
	ui_headers(req, a);
	if ((inm = http_header(req, "If-None-Match")) != NULL &&
	    api_parse_etag_matches(inm, a->ua_etag)) {
		http_reply(req, 304, NULL, NULL, 0);
		return;
	}
	http_reply(req, 200, a->ua_type, a->ua_data, a->ua_len);
}

/* ----------------------------------------------------------------------
 * The status
 */

/*
 * api_ui_status_get: GET /ui/api/status. Answered at once from the last
 * count (a refresh starts when it is old), or after the first walk.
 */
void
api_ui_status_get(struct request *req, const struct route_match *m)
{
	struct ui_wait *w;

	if (ui_disabled(req))
		return;
	if (!ui_usage.counted ||
	    util_now_ms() - ui_usage.at_ms > UI_USAGE_MAX_AGE * 1000ULL)
		(void)ui_usage_refresh();
	/*
	 * Wait only for a first count that is on its way: a walk that could
	 * not start, or failed at once, leaves the counts null.
	 */
	if (ui_usage.counted || ui_usage.walk == NULL) {
		ui_status_reply(req);
		return;
	}
	if ((w = api_job_new(req, m, sizeof(*w), STORE_CALL_WALK, NULL,
	         NULL)) == NULL)
		return;
	w->uw_next = ui_usage.waiting;
	ui_usage.waiting = w;
}

/* Start a count unless one runs. 0 (running), or -1 (cannot start). */
static int
ui_usage_refresh(void)
{
	struct ui_walk *walk;

	if (ui_usage.walk != NULL)
		return 0;
	if ((walk = calloc(1, sizeof(*walk))) == NULL) {
		log_warnx("%s: out of memory", __func__);
		return -1;
	}
	walk->uw_call.sc_kind = STORE_CALL_WALK;
	walk->uw_call.sc_work = ui_walk_work;
	walk->uw_call.sc_done = ui_walk_done;
	walk->uw_store = api_store();
	ui_usage.walk = walk;
	store_call(walk->uw_store, &walk->uw_call);
	return 0;
}

/*
 * Count blobs; the walk gives every blob before anything else (store.h),
 * so the first repository item ends it. Odd findings among the blobs are
 * not blobs.
 */
static int
ui_walk_cb(const struct store_item *it, void *arg)
{
	struct ui_walk *walk = arg;

	switch (it->si_kind) {
	case STORE_ITEM_BLOB:
		walk->uw_blobs++;
		walk->uw_bytes += it->si_size;
		return 0;
	case STORE_ITEM_ODD:
		return 0;
	default:
		return -1;
	}
}

/* On a worker: only the walk's own fields and the store. */
static void
ui_walk_work(struct store_call *sc)
{
	struct ui_walk *walk = (struct ui_walk *)sc;

	walk->uw_result = store_walk(walk->uw_store, ui_walk_cb, walk);
	walk->uw_errno = errno;
	if (walk->uw_result == -1 && walk->uw_errno == ECANCELED)
		walk->uw_result = 0; /* stopped at the repositories */
}

/* On the loop: keep the figures, answer whoever waited for them. */
static void
ui_walk_done(struct store_call *sc)
{
	struct ui_walk *walk = (struct ui_walk *)sc;
	struct ui_wait *w, *next;
	struct request *req;

	if (ui_usage.walk != walk) {
		/* Started before api_ui_start: of another registry. */
		free(walk);
		return;
	}
	ui_usage.walk = NULL;
	if (walk->uw_result == 0) {
		ui_usage.counted = 1;
		ui_usage.blobs = walk->uw_blobs;
		ui_usage.bytes = walk->uw_bytes;
		ui_usage.at_ms = util_now_ms();
		ui_usage.at = time(NULL);
	} else {
		errno = walk->uw_errno;
		log_warn("%s: counting blobs", __func__);
	}
	free(walk);
	w = ui_usage.waiting;
	ui_usage.waiting = NULL;
	for (; w != NULL; w = next) {
		next = w->uw_next;
		if ((req = api_job_detach(&w->uw_job)) != NULL)
			ui_status_reply(req);
		free(w);
	}
}

/*
 * The status JSON. Counts the walk has not given yet are null; "user" is
 * who the request authenticated as ("" anonymous); "can_delete" is what
 * the page offers: deletes on, and a user (or no auth at all).
 */
static void
ui_status_reply(struct request *req)
{
	const struct config *cfg = api_config();
	const char *user = http_user(req);
	char started[32], counted[32];
	int auth = auth_enabled();
	json_t *root;

	util_rfc3339(api_started(), started, sizeof(started));
	if ((root = json_object()) == NULL ||
	    api_json_set(root, "version", json_string(REGISTRYD_VERSION)) ||
	    api_json_set(root, "started", json_string(started)) ||
	    api_json_set(root, "uptime_seconds",
	        json_integer((json_int_t)(api_uptime_ms() / 1000))) ||
	    api_json_set(root, "repositories",
	        json_integer((json_int_t)catalog_count())) ||
	    api_json_set(root, "delete_enabled",
	        json_boolean(cfg->cf_delete_enabled)) ||
	    api_json_set(root, "auth", json_boolean(auth)) ||
	    api_json_set(root, "anonymous_pull",
	        json_boolean(auth && cfg->cf_anonymous_pull)) ||
	    api_json_set(root, "user", json_string(user)) ||
	    api_json_set(root, "can_delete",
	        json_boolean(
	            cfg->cf_delete_enabled && (!auth || user[0] != '\0'))))
		goto fail;
	if (ui_usage.counted) {
		util_rfc3339(ui_usage.at, counted, sizeof(counted));
		if (api_json_set(root, "blobs",
		        json_integer((json_int_t)ui_usage.blobs)) ||
		    api_json_set(root, "blob_bytes",
		        json_integer((json_int_t)ui_usage.bytes)) ||
		    api_json_set(root, "counted", json_string(counted)))
			goto fail;
	} else if (api_json_set(root, "blobs", json_null()) ||
	    api_json_set(root, "blob_bytes", json_null()) ||
	    api_json_set(root, "counted", json_null()))
		goto fail;
	http_add_header(req, "Cache-Control", "no-store");
	api_reply_json(req, 200, UI_CT_JSON, root);
	return;
fail:
	json_decref(root);
	http_error(req, 500, "UNKNOWN", "out of memory");
}
