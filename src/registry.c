/*
 * registry.c: the front door of the /v2/ API (OCI distribution-spec
 * v1.1.1, with registry:2's behaviour where the spec leaves room), and of
 * the few paths beside it (the web interface, docker search). It owns
 * starting and stopping the registry's state (the upload table, the
 * catalog index, the upload expiry timer, the start-up purge), the table
 * of which handler serves which (route, method), and reg_dispatch, which
 * routes a request whose headers are complete, lets access.c decide
 * whether it may run, and runs one handler; 405 for a method a route does
 * not have. reg_debug_dispatch does the same for the debug listener
 * ([http] debug_addr), which serves /metrics and the probes alone,
 * without authentication.
 *
 * The handlers live by resource in api_*.c (api.h); what they share,
 * including the per-request state and its cleanup, is api.c; who may do
 * what is access.c. A handler answers at once, installs a body sink, or
 * hands its storage work to a store call (struct api_job) and answers
 * from the job's sc_done on the loop.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "access.h"
#include "api.h"
#include "catalog.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "registry.h"
#include "router.h"
#include "upload.h"

#define REG_ALLOW_MAX 64 /* "GET, HEAD, PUT, ..." */

/* The metrics' name of a request no route matched. */
#define REG_ROUTE_OTHER "other"

struct reg_route {
	enum route_id rr_route;
	enum http_method_id rr_method;
	api_handler rr_handler;
};

static void reg_route_error(struct request *, const struct route_match *, int);
static void reg_manifest_unknown(struct request *, const struct route_match *);
static void reg_method_not_allowed(struct request *, enum route_id, int);
static int reg_is_public(enum route_id);
static void reg_read_only(struct request *, const struct route_match *);

/*
 * Which handler serves which (route, method). HEAD is served by the GET
 * handler: http_reply and http_reply_file send headers only for HEAD.
 */
static const struct reg_route reg_routes[] = {
    {ROUTE_BASE, HTTP_M_GET, api_listing_base_get},
    {ROUTE_CATALOG, HTTP_M_GET, api_listing_catalog_get},
    {ROUTE_TAGS, HTTP_M_GET, api_listing_tags_get},
    {ROUTE_MANIFEST, HTTP_M_GET, api_manifest_get},
    {ROUTE_MANIFEST, HTTP_M_PUT, api_manifest_put},
    {ROUTE_MANIFEST, HTTP_M_DELETE, api_manifest_delete},
    {ROUTE_BLOB, HTTP_M_GET, api_blob_get},
    {ROUTE_BLOB, HTTP_M_DELETE, api_blob_delete},
    {ROUTE_UPLOADS, HTTP_M_POST, api_upload_post},
    {ROUTE_UPLOAD, HTTP_M_GET, api_upload_get},
    {ROUTE_UPLOAD, HTTP_M_PATCH, api_upload_patch},
    {ROUTE_UPLOAD, HTTP_M_PUT, api_upload_put},
    {ROUTE_UPLOAD, HTTP_M_DELETE, api_upload_delete},
    {ROUTE_REFERRERS, HTTP_M_GET, api_referrers_get},
    {ROUTE_HEALTHZ, HTTP_M_GET, api_health_live},
    {ROUTE_READYZ, HTTP_M_GET, api_health_ready},
    {ROUTE_ROOT, HTTP_M_GET, api_ui_root_get},
    {ROUTE_UI, HTTP_M_GET, api_ui_file_get},
    {ROUTE_UI_STATUS, HTTP_M_GET, api_ui_status_get},
    {ROUTE_V1_PING, HTTP_M_GET, api_search_ping_get},
    {ROUTE_V1_SEARCH, HTTP_M_GET, api_search_get},
    {ROUTE_METRICS, HTTP_M_GET, api_metrics_get},
};

/*
 * Routes anyone may have, without access_check: the web interface's
 * files (no registry data; the page asks for that with the user's
 * credentials), the v1 ping, which Docker sends without any, and the
 * probes, which load balancers, kubelets and `registryd healthcheck` send
 * without any (they say nothing about content).
 */
static const enum route_id reg_public[] = {
    ROUTE_ROOT,
    ROUTE_UI,
    ROUTE_V1_PING,
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
};

/*
 * What the debug listener serves, without authentication: it is meant
 * for loopback or a monitoring network, as registry:2's debug server is.
 */
static const struct reg_route reg_debug_routes[] = {
    {ROUTE_METRICS, HTTP_M_GET, api_metrics_get},
    {ROUTE_HEALTHZ, HTTP_M_GET, api_health_live},
    {ROUTE_READYZ, HTTP_M_GET, api_health_ready},
};

/* ----------------------------------------------------------------------
 * Start and stop
 */

/*
 * reg_init: keep cfg and store (owned by main, alive until reg_shutdown),
 * start the upload table, the catalog index and the expiry timer, and
 * queue one sweep of upload directories left by earlier runs. The worker
 * pool must be running. Returns 0, or -1 with a logged reason.
 */
int
reg_init(struct event_base *base, const struct config *cfg, struct store *store)
{
	if (access_init(cfg) == -1)
		return -1;
	if (catalog_init(base, store, cfg->cf_catalog_refresh) == -1) {
		log_warnx("%s: catalog_init failed", __func__);
		upload_shutdown();
		return -1;
	}
	api_start(cfg, store);
	if (api_sweep_start(base, cfg, store) == -1) {
		log_warnx("%s: cannot start the upload timers", __func__);
		api_stop();
		catalog_shutdown();
		upload_shutdown();
		return -1;
	}
	if (api_gc_start(base, cfg, store) == -1) {
		log_warnx("%s: cannot start garbage collection", __func__);
		api_sweep_stop();
		api_stop();
		catalog_shutdown();
		upload_shutdown();
		return -1;
	}
	return 0;
}

/* reg_collect_garbage: an online collection now (api_gc.c). */
void
reg_collect_garbage(const char *why)
{
	api_gc_run(why);
}

void
reg_reloaded(void)
{
	api_gc_reloaded();
}

/*
 * reg_drain: a graceful shutdown has begun: /readyz says so from now on,
 * so that a load balancer or kubelet stops sending traffic, and a garbage
 * collection under way stops soon, so that it does not keep the pool busy.
 */
void
reg_drain(void)
{
	api_health_draining();
	api_gc_cancel();
}

/*
 * reg_shutdown: stop the timer, free the catalog and every upload session
 * (their data stays on disk for a later run). Jobs still in flight finish
 * their bookkeeping without touching either.
 */
void
reg_shutdown(void)
{
	if (!api_running())
		return;
	api_stop();
	api_sweep_stop();
	api_gc_stop();
	catalog_shutdown();
	upload_shutdown();
}

/* ----------------------------------------------------------------------
 * Dispatch
 */

/*
 * reg_dispatch: route a request whose headers are complete and start its
 * handler, which replies, installs a body sink, or queues a pool job (see
 * http.h). Never closes the connection.
 */
void
reg_dispatch(struct request *req)
{
	struct route_match m;
	enum http_method_id meth;
	const char *path = http_path(req);
	api_handler handler;
	char client[ACCESS_ADDR_MAX];
	size_t i;
	int rc;

	/* The access line shows the client behind a trusted proxy. */
	access_client_addr(req, client, sizeof(client));
	http_set_client(req, client);
	memset(&m, 0, sizeof(m));
	rc = route_match(path, strlen(path), &m);
	/*
	 * The metrics count the request by route, never by name: a route
	 * with a bad tag, digest or uuid still is that route.
	 */
	http_set_route(req,
	    rc == 0 || rc == ROUTE_ERR_TAG || rc == ROUTE_ERR_DIGEST ||
	            rc == ROUTE_ERR_UUID
	        ? route_name(m.rm_id)
	        : REG_ROUTE_OTHER);
	if (access_cors(req))
		return;
	if (rc != 0) {
		reg_route_error(req, &m, rc);
		return;
	}

	meth = http_method(req);
	if (meth == HTTP_M_HEAD)
		meth = HTTP_M_GET;
	for (i = 0; i < sizeof(reg_routes) / sizeof(reg_routes[0]); i++) {
		if (reg_routes[i].rr_route == m.rm_id &&
		    reg_routes[i].rr_method == meth) {
			handler = reg_routes[i].rr_handler;
			/*
			 * Read-only (registry:2's maintenance mode): what
			 * would write is refused, after the same access
			 * check, so a client without credentials still
			 * learns it needs some first.
			 */
			if (meth != HTTP_M_GET && api_config()->cf_read_only)
				handler = reg_read_only;
			if (reg_is_public(m.rm_id) ||
			    access_check(req, &m, handler))
				handler(req, &m);
			return;
		}
	}
	reg_method_not_allowed(req, m.rm_id, 0);
}

/* 1 when route id is in reg_public. */
static int
reg_is_public(enum route_id id)
{
	size_t i;

	for (i = 0; i < sizeof(reg_public) / sizeof(reg_public[0]); i++)
		if (reg_public[i] == id)
			return 1;
	return 0;
}

/*
 * reg_debug_dispatch: a request on the debug listener: the routes of
 * reg_debug_routes, without authentication; 404 for every other path, so
 * the debug port never serves the registry itself. Never closes the
 * connection.
 */
void
reg_debug_dispatch(struct request *req)
{
	struct route_match m;
	enum http_method_id meth = http_method(req);
	const char *path = http_path(req);
	const struct reg_route *r;
	char client[ACCESS_ADDR_MAX];
	size_t i;
	int found = 0;

	access_client_addr(req, client, sizeof(client));
	http_set_client(req, client);
	if (meth == HTTP_M_HEAD)
		meth = HTTP_M_GET;
	memset(&m, 0, sizeof(m));
	if (route_match(path, strlen(path), &m) == 0) {
		for (i = 0;
		     i < sizeof(reg_debug_routes) / sizeof(reg_debug_routes[0]);
		     i++) {
			r = &reg_debug_routes[i];
			if (r->rr_route != m.rm_id)
				continue;
			found = 1;
			if (r->rr_method == meth) {
				http_set_route(req, route_name(m.rm_id));
				r->rr_handler(req, &m);
				return;
			}
		}
	}
	if (!found) {
		http_set_route(req, REG_ROUTE_OTHER);
		http_error(req, 404, "NOT_FOUND",
		    "the debug listener serves /metrics, /healthz and /readyz "
		    "only");
		return;
	}
	http_set_route(req, route_name(m.rm_id));
	http_add_header(req, "Allow", "GET, HEAD");
	http_error(req, 405, "UNSUPPORTED", "method not allowed here");
}

/*
 * Answer a path route_match refused with err. A manifest reference that
 * is neither a tag nor a digest names no manifest, so a GET, HEAD or
 * DELETE of it is a lookup that finds nothing: 404 MANIFEST_UNKNOWN, as
 * the OCI conformance suite expects (and registry:2 answers), after the
 * same access check a lookup gets. Only a PUT, which would create it, is
 * told that the tag or digest is invalid.
 */
static void
reg_route_error(struct request *req, const struct route_match *m, int err)
{
	enum http_method_id meth = http_method(req);

	switch (err) {
	case ROUTE_ERR_NAME:
		http_error(req, 400, "NAME_INVALID", "invalid repository name");
		return;
	case ROUTE_ERR_TAG:
	case ROUTE_ERR_DIGEST:
		if (m->rm_id == ROUTE_MANIFEST &&
		    (meth == HTTP_M_GET || meth == HTTP_M_HEAD ||
		        meth == HTTP_M_DELETE)) {
			if (access_check(req, m, reg_manifest_unknown))
				reg_manifest_unknown(req, m);
			return;
		}
		if (err == ROUTE_ERR_TAG)
			http_error(req, 400, "TAG_INVALID", "invalid tag");
		else
			http_error(req, 400, "DIGEST_INVALID",
			    "invalid digest: only sha256 is supported");
		return;
	case ROUTE_ERR_UUID:
		http_error(req, 404, "BLOB_UPLOAD_UNKNOWN", NULL);
		return;
	case ROUTE_ERR_NOT_FOUND:
	default:
		http_error(req, 404, "NOT_FOUND", NULL);
		return;
	}
}

/*
 * The handler of a manifest lookup or delete by a reference that cannot
 * exist (reg_route_error); a DELETE while deletes are disabled gets the
 * 405 api_manifest_delete would give.
 */
static void
reg_manifest_unknown(struct request *req, const struct route_match *m)
{
	if (http_method(req) == HTTP_M_DELETE &&
	    !api_config()->cf_delete_enabled) {
		http_error(req, 405, "UNSUPPORTED", "deletion is disabled");
		return;
	}
	if (http_method(req) == HTTP_M_DELETE && api_config()->cf_read_only) {
		reg_read_only(req, m);
		return;
	}
	http_error(req, 404, "MANIFEST_UNKNOWN",
	    "reference is neither a tag nor a digest");
}

/*
 * The handler of a write while the registry is read-only: 405, the
 * status registry:2 gives, with the OCI error body and the methods that
 * remain (GET, HEAD, or none).
 */
static void
reg_read_only(struct request *req, const struct route_match *m)
{
	reg_method_not_allowed(req, m->rm_id, 1);
}

/*
 * 405 with the methods the route does have (RFC 9110, 15.5.6); only the
 * reads when read_only (then an empty Allow: the resource allows none).
 */
static void
reg_method_not_allowed(struct request *req, enum route_id id, int read_only)
{
	static const char *names[] = {
	    [HTTP_M_GET] = "GET, HEAD",
	    [HTTP_M_PUT] = "PUT",
	    [HTTP_M_POST] = "POST",
	    [HTTP_M_PATCH] = "PATCH",
	    [HTTP_M_DELETE] = "DELETE",
	};
	char allow[REG_ALLOW_MAX] = "";
	size_t i, used = 0;
	enum http_method_id meth;
	int n;

	for (i = 0; i < sizeof(reg_routes) / sizeof(reg_routes[0]); i++) {
		if (reg_routes[i].rr_route != id)
			continue;
		meth = reg_routes[i].rr_method;
		if (read_only && meth != HTTP_M_GET)
			continue;
		if ((size_t)meth >= sizeof(names) / sizeof(names[0]) ||
		    names[meth] == NULL)
			continue;
		n = snprintf(allow + used, sizeof(allow) - used, "%s%s",
		    used > 0 ? ", " : "", names[meth]);
		if (n < 0 || (size_t)n >= sizeof(allow) - used)
			break;
		used += (size_t)n;
	}
	if (allow[0] != '\0' || read_only)
		http_add_header(req, "Allow", "%s", allow);
	if (read_only)
		http_error(req, 405, "UNSUPPORTED",
		    "the registry is read-only (maintenance)");
	else
		http_error(req, 405, "UNSUPPORTED", "method not allowed here");
}
