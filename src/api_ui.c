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
 * Blob and byte counts are the catalog's (catalog_stats): its refresh
 * walk counts them for /metrics too, so a status request never walks the
 * store. They are as old as that count ("counted"), and null until the
 * first refresh after start has counted. "count_failed" and
 * "count_error" say when and why the last count failed, if none has
 * succeeded since (null otherwise): a store that can never be counted
 * must not read as one not counted yet.
 */
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "api_parse.h"
#include "auth.h"
#include "catalog.h"
#include "config.h"
#include "http.h"
#include "router.h"
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

static const struct ui_asset *ui_find(const char *);
static void ui_headers(struct request *, const struct ui_asset *);
static int ui_disabled(struct request *);

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
 * api_ui_status_get: GET /ui/api/status, answered at once. The counts
 * are the catalog's last (null before it has counted), with the last
 * failed count since (count_failed, count_error); "user" is who
 * the request authenticated as ("" anonymous); "can_delete" is what the
 * page offers: deletes on, and a user (or no auth at all).
 */
void
api_ui_status_get(struct request *req, const struct route_match *m)
{
	const struct config *cfg = api_config();
	const char *user = http_user(req);
	struct catalog_stats cs;
	char started[32], counted[32], failed[32];
	int auth = auth_enabled();
	json_t *root;

	(void)m;
	if (ui_disabled(req))
		return;
	catalog_stats(&cs);
	util_rfc3339(api_started(), started, sizeof(started));
	if ((root = json_object()) == NULL ||
	    api_json_set(root, "version", json_string(REGISTRYD_VERSION)) ||
	    api_json_set(root, "started", json_string(started)) ||
	    api_json_set(root, "uptime_seconds",
	        json_integer((json_int_t)(api_uptime_ms() / 1000))) ||
	    api_json_set(root, "repositories",
	        json_integer((json_int_t)cs.cs_repos)) ||
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
	if (cs.cs_scan_time != 0) {
		util_rfc3339(cs.cs_scan_time, counted, sizeof(counted));
		if (api_json_set(root, "blobs",
		        json_integer((json_int_t)cs.cs_blobs)) ||
		    api_json_set(root, "blob_bytes",
		        json_integer((json_int_t)cs.cs_blob_bytes)) ||
		    api_json_set(root, "counted", json_string(counted)))
			goto fail;
	} else if (api_json_set(root, "blobs", json_null()) ||
	    api_json_set(root, "blob_bytes", json_null()) ||
	    api_json_set(root, "counted", json_null()))
		goto fail;
	/* Counting failed since (the counts above are older, or none). */
	if (cs.cs_fail_time != 0) {
		util_rfc3339(cs.cs_fail_time, failed, sizeof(failed));
		if (api_json_set(root, "count_failed", json_string(failed)) ||
		    api_json_set(root, "count_error",
		        json_string(cs.cs_fail_error)))
			goto fail;
	} else if (api_json_set(root, "count_failed", json_null()) ||
	    api_json_set(root, "count_error", json_null()))
		goto fail;
	http_add_header(req, "Cache-Control", "no-store");
	api_reply_json(req, 200, UI_CT_JSON, root);
	return;
fail:
	json_decref(root);
	http_error(req, 500, "UNKNOWN", "out of memory");
}
