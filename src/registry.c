/*
 * registry.c: the /v2/ endpoint handlers (OCI distribution-spec v1.1.1,
 * with registry:2's behaviour where the spec leaves room).
 *
 * reg_dispatch routes a request whose headers are complete and runs one
 * handler, which answers at once, installs a body sink, or hands durable
 * work (fsync of a blob, a link or a manifest) to the worker pool and
 * answers from the job's pj_done on the loop. The handlers are thin: the
 * storage layout lives in store.c, upload sessions in upload.c, manifest
 * validation in manifest.c.
 *
 * Ownership. Per-request state is a struct reg_ctx hung on the request
 * (http_set_ctx) and freed by reg_cleanup_cb when the request is freed,
 * replied or not. A request borrows an upload between upload_acquire and
 * upload_release; the cleanup releases it unless a pool job took it over.
 * A pool job (struct reg_job) owns copies of everything it needs and frees
 * itself in pj_done; it points back at its request only through rj_req,
 * which the request's cleanup clears when the client goes away first.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "api_parse.h"
#include "auth.h"
#include "bounds.h"
#include "catalog.h"
#include "config.h"
#include "digest.h"
#include "http.h"
#include "log.h"
#include "manifest.h"
#include "pool.h"
#include "registry.h"
#include "router.h"
#include "store.h"
#include "upload.h"
#include "util.h"

#define REG_EXPIRE_INTERVAL 60       /* seconds between upload sweeps */
#define REG_UPLOAD_IDLE     3600     /* close sessions idle this long */
#define REG_BLOB_MAX_AGE    31536000 /* blobs never change: a year */
#define REG_QUERY_MAX       512      /* longest n= / last= value kept */
#define REG_ALLOW_MAX       64       /* "GET, HEAD, PUT, ..." */
#define REG_CT_JSON         "application/json"

typedef void (*reg_handler)(struct request *, const struct route_match *);

/* Hex characters of an upload location's _state (128 bits). */
#define REG_STATE_LEN 32

/* Per-request handler state (http_set_ctx); freed by reg_cleanup_cb. */
struct reg_ctx {
	struct route_match rc_match; /* copy of the routed path */
	/*
	 * The upload this request holds acquired, or NULL. Released by the
	 * cleanup, unless a job took it over (then NULL here).
	 */
	struct upload *rc_upload;
	char rc_digest[DIGEST_BUFSZ]; /* ?digest= */
	int rc_has_range;             /* Content-Range was given */
	uint64_t rc_range_end;        /* its last byte index */
	char *rc_buf;                 /* manifest body, owned */
	size_t rc_len;
	size_t rc_cap;
	struct reg_job *rc_job; /* job that will reply, or NULL */
	/* A credential check on the pool, and the handler to run after. */
	struct auth_pending *rc_auth;
	reg_handler rc_handler;
};

enum reg_job_kind {
	REG_JOB_COMMIT,   /* upload_commit_work: blob PUT / POST */
	REG_JOB_MOUNT,    /* layer link for a cross-repository mount */
	REG_JOB_MANIFEST, /* manifest blob, revision link, tag */
};

/*
 * A durable write run on the worker pool. Heap-allocated, owned by itself:
 * reg_job_done frees it. pj_work touches only the job's own fields, the
 * store and (COMMIT) the upload, which the job holds acquired.
 */
struct reg_job {
	struct pool_job rj_pool;
	enum reg_job_kind rj_kind;
	struct request *rj_req;   /* NULL once the request is gone */
	struct upload *rj_upload; /* COMMIT: acquired, job's own */
	char rj_name[NAME_MAX_LEN + 1];
	char rj_tag[TAG_MAX_LEN + 1]; /* "" if none */
	char rj_digest[DIGEST_BUFSZ];
	char rj_subject[DIGEST_BUFSZ]; /* "" if none */
	char *rj_buf;                  /* MANIFEST: the bytes, owned */
	size_t rj_len;
	int rj_result; /* 0, -1 (rj_errno), -2 */
	int rj_errno;
};

/* The start-up sweep of stale upload directories (store_upload_purge). */
struct reg_purge {
	struct pool_job rp_pool;
	struct store *rp_store;
	time_t rp_age;
	int rp_result;
	int rp_errno;
	int rp_busy; /* submitted, pj_done not run */
};

struct reg_route {
	enum route_id rr_route;
	enum http_method_id rr_method;
	reg_handler rr_handler;
};

static void reg_expire_cb(evutil_socket_t, short, void *);
static void reg_purge_work(struct pool_job *);
static void reg_purge_done(struct pool_job *);
static void reg_job_work(struct pool_job *);
static void reg_job_done(struct pool_job *);
static struct reg_job *reg_job_new(struct request *, struct reg_ctx *,
    enum reg_job_kind, const char *, const char *);
static void reg_job_free(struct reg_job *);
static struct reg_ctx *
reg_ctx_new(struct request *, const struct route_match *);
static void reg_cleanup_cb(struct request *);
static void reg_method_not_allowed(struct request *, enum route_id);
static int reg_list_has(const char *, const char *);
static void reg_client_addr(struct request *, char *, size_t);
static int reg_cors(struct request *);
static void reg_challenge(struct request *);
static void reg_limited(struct request *, const char *);
static int
reg_access(struct request *, const struct route_match *, reg_handler);
static void reg_auth_done(void *, enum auth_result, const char *);
static void reg_storage_error(struct request *, int, const char *);
static void reg_reply_json(struct request *, int, const char *, json_t *);
static int reg_json_set(json_t *, const char *, json_t *);
static int reg_json_append(json_t *, json_t *);
static int reg_content_range(struct request *, struct reg_ctx *);
static int reg_page_args(struct request *, size_t *, char *, size_t, int *);
static void reg_name_or_manifest_unknown(struct request *, const char *);
static void reg_upload_headers(struct request *, struct upload *);
static void reg_upload_feed(struct request *, const struct route_match *,
    const char *, http_end_cb);
static struct upload *
reg_upload_lookup(struct request *, const struct route_match *);
static void reg_upload_state(struct request *, const char *, const char *,
    char[REG_STATE_LEN + 1]);
static int reg_upload_state_ok(struct request *, const struct route_match *);
static struct upload *
reg_upload_take(struct request *, const struct route_match *);
static int reg_upload_body_cb(struct request *, const char *, size_t);
static void reg_upload_patch_end(struct request *);
static void reg_upload_commit_start(struct request *);
static int reg_manifest_body_cb(struct request *, const char *, size_t);
static void reg_manifest_end(struct request *);
static int
reg_referrer_add(json_t *, json_t *, const char *, const char *, const char *);
static void
reg_referrers_tag(json_t *, json_t *, const char *, const char *, const char *);

static void reg_base_get(struct request *, const struct route_match *);
static void reg_catalog_get(struct request *, const struct route_match *);
static void reg_tags_get(struct request *, const struct route_match *);
static void reg_manifest_get(struct request *, const struct route_match *);
static void reg_manifest_put(struct request *, const struct route_match *);
static void reg_manifest_delete(struct request *, const struct route_match *);
static void reg_blob_get(struct request *, const struct route_match *);
static void reg_blob_delete(struct request *, const struct route_match *);
static void reg_uploads_post(struct request *, const struct route_match *);
static void reg_upload_get(struct request *, const struct route_match *);
static void reg_upload_patch(struct request *, const struct route_match *);
static void reg_upload_put(struct request *, const struct route_match *);
static void reg_upload_delete(struct request *, const struct route_match *);
static void reg_referrers_get(struct request *, const struct route_match *);

/*
 * Which handler serves which (route, method). HEAD is served by the GET
 * handler: http_reply and http_reply_file send headers only for HEAD.
 */
static const struct reg_route reg_routes[] = {
    {ROUTE_BASE, HTTP_M_GET, reg_base_get},
    {ROUTE_CATALOG, HTTP_M_GET, reg_catalog_get},
    {ROUTE_TAGS, HTTP_M_GET, reg_tags_get},
    {ROUTE_MANIFEST, HTTP_M_GET, reg_manifest_get},
    {ROUTE_MANIFEST, HTTP_M_PUT, reg_manifest_put},
    {ROUTE_MANIFEST, HTTP_M_DELETE, reg_manifest_delete},
    {ROUTE_BLOB, HTTP_M_GET, reg_blob_get},
    {ROUTE_BLOB, HTTP_M_DELETE, reg_blob_delete},
    {ROUTE_UPLOADS, HTTP_M_POST, reg_uploads_post},
    {ROUTE_UPLOAD, HTTP_M_GET, reg_upload_get},
    {ROUTE_UPLOAD, HTTP_M_PATCH, reg_upload_patch},
    {ROUTE_UPLOAD, HTTP_M_PUT, reg_upload_put},
    {ROUTE_UPLOAD, HTTP_M_DELETE, reg_upload_delete},
    {ROUTE_REFERRERS, HTTP_M_GET, reg_referrers_get},
};

static const struct config *reg_cfg;
static struct store *reg_store;
static struct event *reg_expire_ev;
/*
 * 1 between reg_init and reg_shutdown. Jobs finishing and requests freed
 * after reg_shutdown (pool_stop runs late pj_done callbacks) must not
 * touch the upload table or the catalog, which are gone by then.
 */
static int reg_running;
/* Key of the upload _state HMAC: REGISTRY_HTTP_SECRET, else random. */
static unsigned char reg_secret[64];
static size_t reg_secret_len;
static struct reg_purge reg_purge;

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
	struct timeval tv = {REG_EXPIRE_INTERVAL, 0};

	reg_cfg = cfg;
	reg_store = store;
	if (cfg->cf_secret != NULL && cfg->cf_secret[0] != '\0') {
		reg_secret_len = strlen(cfg->cf_secret);
		if (reg_secret_len > sizeof(reg_secret))
			reg_secret_len = sizeof(reg_secret);
		memcpy(reg_secret, cfg->cf_secret, reg_secret_len);
	} else {
		if (RAND_bytes(reg_secret, 32) != 1) {
			log_warnx("%s: RAND_bytes failed", __func__);
			return -1;
		}
		reg_secret_len = 32;
		if (auth_enabled())
			log_warnx("no http secret set: upload locations are "
			          "valid for this process only (set "
			          "REGISTRY_HTTP_SECRET when several instances "
			          "share the storage)");
	}
	upload_init(store);
	if (catalog_init(base, store, cfg->cf_catalog_refresh) == -1) {
		log_warnx("%s: catalog_init failed", __func__);
		upload_shutdown();
		return -1;
	}
	reg_expire_ev = event_new(base, -1, EV_PERSIST, reg_expire_cb, NULL);
	if (reg_expire_ev == NULL || event_add(reg_expire_ev, &tv) == -1) {
		log_warnx("%s: cannot start the upload expiry timer", __func__);
		if (reg_expire_ev != NULL)
			event_free(reg_expire_ev);
		reg_expire_ev = NULL;
		catalog_shutdown();
		upload_shutdown();
		return -1;
	}
	reg_running = 1;

	/*
	 * Stale upload directories (a crash, a client that went away) are
	 * removed by age, as registry:2's purgeuploads does. The walk may
	 * take long on a big tree, so it runs on the pool.
	 */
	if (cfg->cf_upload_purge_age > 0 && !reg_purge.rp_busy) {
		memset(&reg_purge, 0, sizeof(reg_purge));
		reg_purge.rp_pool.pj_work = reg_purge_work;
		reg_purge.rp_pool.pj_done = reg_purge_done;
		reg_purge.rp_store = store;
		reg_purge.rp_age = (time_t)cfg->cf_upload_purge_age;
		reg_purge.rp_busy = 1;
		pool_submit(&reg_purge.rp_pool);
	}
	return 0;
}

/*
 * reg_shutdown: stop the timer, free the catalog and every upload session
 * (their data stays on disk for a later run). Jobs still in flight finish
 * their bookkeeping without touching either.
 */
void
reg_shutdown(void)
{
	if (!reg_running)
		return;
	reg_running = 0;
	if (reg_expire_ev != NULL)
		event_free(reg_expire_ev);
	reg_expire_ev = NULL;
	catalog_shutdown();
	upload_shutdown();
}

static void
reg_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	upload_expire(REG_UPLOAD_IDLE);
}

static void
reg_purge_work(struct pool_job *pj)
{
	struct reg_purge *rp = (struct reg_purge *)pj;

	rp->rp_result = store_upload_purge(rp->rp_store, rp->rp_age);
	rp->rp_errno = errno;
}

static void
reg_purge_done(struct pool_job *pj)
{
	struct reg_purge *rp = (struct reg_purge *)pj;

	rp->rp_busy = 0;
	if (rp->rp_result == -1) {
		errno = rp->rp_errno;
		log_warn("purging stale uploads");
	} else if (rp->rp_result > 0)
		log_info("purged %d stale upload(s)", rp->rp_result);
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
	size_t i;

	if (reg_cors(req))
		return;
	memset(&m, 0, sizeof(m));
	switch (route_match(path, strlen(path), &m)) {
	case 0:
		break;
	case ROUTE_ERR_NAME:
		http_error(req, 400, "NAME_INVALID", "invalid repository name");
		return;
	case ROUTE_ERR_TAG:
		http_error(req, 400, "TAG_INVALID", "invalid tag");
		return;
	case ROUTE_ERR_DIGEST:
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

	meth = http_method(req);
	if (meth == HTTP_M_HEAD)
		meth = HTTP_M_GET;
	for (i = 0; i < sizeof(reg_routes) / sizeof(reg_routes[0]); i++) {
		if (reg_routes[i].rr_route == m.rm_id &&
		    reg_routes[i].rr_method == meth) {
			if (reg_access(req, &m, reg_routes[i].rr_handler))
				reg_routes[i].rr_handler(req, &m);
			return;
		}
	}
	reg_method_not_allowed(req, m.rm_id);
}

/* ----------------------------------------------------------------------
 * Access: CORS, the client's address, Basic auth
 */

/* 1 when s is an element of the comma-separated list (spaces ignored). */
static int
reg_list_has(const char *list, const char *s)
{
	size_t n = strlen(s), len;
	const char *p = list, *end;

	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		end = p + strcspn(p, ",");
		len = (size_t)(end - p);
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len > 0 && len == n && strncmp(p, s, n) == 0)
			return 1;
		p = end;
	}
	return 0;
}

/*
 * The client's address for rate limiting and logs: the peer, or, when the
 * peer is a proxy listed in trust_proxy, the last X-Forwarded-For hop (the
 * one that proxy saw; earlier hops are the client's word).
 */
static void
reg_client_addr(struct request *req, char *out, size_t outsz)
{
	const char *peer = http_peer_addr(req), *xff, *p;
	unsigned char bin[sizeof(struct in6_addr)];
	char hop[INET6_ADDRSTRLEN];
	size_t len;

	util_strlcpy(out, peer, outsz);
	if (reg_cfg->cf_trust_proxy == NULL ||
	    !reg_list_has(reg_cfg->cf_trust_proxy, peer) ||
	    (xff = http_header(req, "X-Forwarded-For")) == NULL)
		return;
	p = strrchr(xff, ',');
	p = p != NULL ? p + 1 : xff;
	p += strspn(p, " ");
	len = strcspn(p, " ");
	if (len == 0 || len >= sizeof(hop))
		return;
	memcpy(hop, p, len);
	hop[len] = '\0';
	if (inet_pton(AF_INET, hop, bin) == 1 ||
	    inet_pton(AF_INET6, hop, bin) == 1)
		util_strlcpy(out, hop, outsz);
}

/*
 * CORS for a browser UI on another origin (cors_origins): the allowed
 * origin is echoed with credentials allowed, and the headers registry
 * clients read are exposed. A preflight is answered here, before auth:
 * browsers send it without credentials. Returns 1 when it replied.
 */
static int
reg_cors(struct request *req)
{
	const char *origin = http_header(req, "Origin");
	const char *list = reg_cfg->cf_cors_origins;

	if (list == NULL || list[0] == '\0' || origin == NULL ||
	    strlen(origin) > 256 ||
	    (!reg_list_has(list, "*") && !reg_list_has(list, origin)))
		return 0;
	http_add_header(req, "Access-Control-Allow-Origin", "%s", origin);
	http_add_header(req, "Access-Control-Allow-Credentials", "true");
	http_add_header(req, "Vary", "Origin");
	http_add_header(req, "Access-Control-Expose-Headers",
	    "Docker-Content-Digest, Docker-Upload-UUID, Location, Range, "
	    "Content-Range, Link, OCI-Subject, OCI-Filters-Applied, "
	    "WWW-Authenticate");
	if (http_method(req) != HTTP_M_OPTIONS)
		return 0;
	http_add_header(req, "Access-Control-Allow-Methods",
	    "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
	http_add_header(req, "Access-Control-Allow-Headers",
	    "Authorization, Accept, Content-Type, Content-Range, Range, "
	    "Docker-Content-Digest");
	http_add_header(req, "Access-Control-Max-Age", "600");
	http_reply(req, 204, NULL, NULL, 0);
	return 1;
}

/* 401 with the Basic challenge (OCI UNAUTHORIZED body). */
static void
reg_challenge(struct request *req)
{
	http_add_header(req, "WWW-Authenticate", "Basic realm=\"%s\"",
	    reg_cfg->cf_realm != NULL ? reg_cfg->cf_realm : "registryd");
	http_error(req, 401, "UNAUTHORIZED", NULL);
}

/* 429 for an address that failed too often. */
static void
reg_limited(struct request *req, const char *addr)
{
	http_add_header(req, "Retry-After", "%d", auth_retry_after(addr));
	http_error(req, 429, "TOOMANYREQUESTS",
	    "too many failed logins: retry later");
}

/*
 * Decide whether the request may run handler h. Returns 1 to run it now;
 * 0 when a reply was made (401, 429) or the check went to the pool, in
 * which case the request is held and reg_auth_done runs h later.
 * With anonymous_pull, reads pass without credentials, but GET /v2/ still
 * challenges: docker login would otherwise report success for any
 * password and never send credentials on push.
 */
static int
reg_access(struct request *req, const struct route_match *m, reg_handler h)
{
	const char *authz = http_header(req, "Authorization");
	enum http_method_id meth = http_method(req);
	struct auth_pending *pending = NULL;
	struct reg_ctx *ctx;
	char addr[INET6_ADDRSTRLEN], user[AUTH_USER_MAX];

	if (!auth_enabled())
		return 1;
	if (authz == NULL && reg_cfg->cf_anonymous_pull &&
	    (meth == HTTP_M_GET || meth == HTTP_M_HEAD) &&
	    m->rm_id != ROUTE_BASE)
		return 1;
	reg_client_addr(req, addr, sizeof(addr));
	switch (auth_check(authz, addr, user, reg_auth_done, req, &pending)) {
	case AUTH_OK:
		http_set_user(req, user);
		return 1;
	case AUTH_PENDING:
		if ((ctx = reg_ctx_new(req, m)) == NULL) {
			auth_cancel(pending);
			http_error(req, 500, "UNKNOWN", "out of memory");
			return 0;
		}
		ctx->rc_auth = pending;
		ctx->rc_handler = h;
		http_hold(req);
		return 0;
	case AUTH_LIMITED:
		reg_limited(req, addr);
		return 0;
	case AUTH_FAIL:
	default:
		reg_challenge(req);
		return 0;
	}
}

/* The pool has checked the credentials of a held request. */
static void
reg_auth_done(void *arg, enum auth_result res, const char *user)
{
	struct request *req = arg;
	struct reg_ctx *ctx = http_ctx(req);
	char addr[INET6_ADDRSTRLEN];

	ctx->rc_auth = NULL;
	if (res == AUTH_OK) {
		http_set_user(req, user);
		ctx->rc_handler(req, &ctx->rc_match);
	} else if (res == AUTH_LIMITED) {
		reg_client_addr(req, addr, sizeof(addr));
		reg_limited(req, addr);
	} else
		reg_challenge(req);
	http_release(req);
}

/* 405 with the methods the route does have (RFC 9110, 15.5.6). */
static void
reg_method_not_allowed(struct request *req, enum route_id id)
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
		if ((size_t)meth >= sizeof(names) / sizeof(names[0]) ||
		    names[meth] == NULL)
			continue;
		n = snprintf(allow + used, sizeof(allow) - used, "%s%s",
		    used > 0 ? ", " : "", names[meth]);
		if (n < 0 || (size_t)n >= sizeof(allow) - used)
			break;
		used += (size_t)n;
	}
	if (allow[0] != '\0')
		http_add_header(req, "Allow", "%s", allow);
	http_error(req, 405, "UNSUPPORTED", "method not allowed here");
}

/* ----------------------------------------------------------------------
 * Shared helpers
 */

/*
 * Allocate the request's handler state and arrange for reg_cleanup_cb to
 * free it. NULL on allocation failure (nothing installed).
 */
static struct reg_ctx *
reg_ctx_new(struct request *req, const struct route_match *m)
{
	struct reg_ctx *ctx;

	/* The auth check may have made it already (reg_access). */
	if ((ctx = http_ctx(req)) != NULL)
		return ctx;
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return NULL;
	ctx->rc_match = *m;
	http_set_ctx(req, ctx);
	http_set_cleanup(req, reg_cleanup_cb);
	return ctx;
}

/*
 * The request is being freed (replied, or its connection closed). Drop
 * the back pointer of a job still working for it and give back an upload
 * it still holds; a job that took the upload over releases it itself.
 */
static void
reg_cleanup_cb(struct request *req)
{
	struct reg_ctx *ctx = http_ctx(req);

	if (ctx == NULL)
		return;
	if (ctx->rc_job != NULL)
		ctx->rc_job->rj_req = NULL;
	if (ctx->rc_auth != NULL)
		auth_cancel(ctx->rc_auth);
	if (ctx->rc_upload != NULL && reg_running)
		upload_release(ctx->rc_upload);
	free(ctx->rc_buf);
	free(ctx);
	http_set_ctx(req, NULL);
}

/*
 * Answer a failed storage operation: 507 when the disk is full (the
 * client may retry later, RFC 4918 11.5), else 500. err is the errno.
 */
static void
reg_storage_error(struct request *req, int err, const char *what)
{
	if (err == ENOSPC || err == EDQUOT)
		http_error(req, 507, "BLOB_UPLOAD_INVALID", "%s: storage full",
		    what);
	else
		http_error(req, 500, "UNKNOWN", "%s: %s", what, strerror(err));
}

/*
 * Serialise root (consumed) and send it. Responses are built with
 * jansson, never printf'd, so names and tags are always escaped.
 */
static void
reg_reply_json(struct request *req, int status, const char *type, json_t *root)
{
	char *s;

	if (root == NULL || (s = json_dumps(root, JSON_COMPACT)) == NULL) {
		json_decref(root);
		http_error(req, 500, "UNKNOWN", "cannot build the response");
		return;
	}
	json_decref(root);
	http_reply(req, status, type, s, strlen(s));
	free(s);
}

/* json_object_set_new that also fails on a NULL value. 0 or -1. */
static int
reg_json_set(json_t *obj, const char *key, json_t *val)
{
	if (val == NULL)
		return -1;
	return json_object_set_new(obj, key, val);
}

/* json_array_append_new that also fails on a NULL value. 0 or -1. */
static int
reg_json_append(json_t *arr, json_t *val)
{
	if (val == NULL)
		return -1;
	return json_array_append_new(arr, val);
}

/*
 * Check the Content-Range of a PATCH or closing PUT against the upload
 * the request holds (api_parse_content_range). A request without a body
 * has nothing to place, so its Content-Range is ignored. Returns 0
 * (ctx->rc_has_range set when a range was given) or -1 when the chunk is
 * out of order or malformed: the caller answers 416.
 */
static int
reg_content_range(struct request *req, struct reg_ctx *ctx)
{
	const char *h;
	uint64_t end;

	ctx->rc_has_range = 0;
	if ((h = http_header(req, "Content-Range")) == NULL ||
	    !http_has_body(req))
		return 0;
	if (api_parse_content_range(h, upload_offset(ctx->rc_upload),
	        http_content_length(req), &end) == -1)
		return -1;
	ctx->rc_has_range = 1;
	ctx->rc_range_end = end;
	return 0;
}

/*
 * The n= and last= query parameters of tags/list and _catalog
 * (api_parse_page). Returns 0, or -1 after answering 400.
 */
static int
reg_page_args(struct request *req, size_t *limit, char *last, size_t lastsz,
    int *has_last)
{
	const char *errstr = NULL;

	if (api_parse_page(http_query(req), limit, last, lastsz, has_last,
	        &errstr) == -1) {
		http_error(req, 400, "PAGINATION_NUMBER_INVALID", "%s", errstr);
		return -1;
	}
	return 0;
}

/*
 * 404 for a manifest that is not there: NAME_UNKNOWN when the repository
 * does not exist at all, MANIFEST_UNKNOWN otherwise (as registry:2).
 */
static void
reg_name_or_manifest_unknown(struct request *req, const char *name)
{
	if (store_repo_exists(reg_store, name) == 1)
		http_error(req, 404, "MANIFEST_UNKNOWN", NULL);
	else
		http_error(req, 404, "NAME_UNKNOWN", NULL);
}

/* ----------------------------------------------------------------------
 * Pool jobs: blob commit, mount, manifest store
 */

/*
 * A job for req, which must have ctx. The job remembers the request (and
 * the request the job, so that its cleanup can detach it). NULL on
 * allocation failure.
 */
static struct reg_job *
reg_job_new(struct request *req, struct reg_ctx *ctx, enum reg_job_kind kind,
    const char *name, const char *digest)
{
	struct reg_job *job;

	if ((job = calloc(1, sizeof(*job))) == NULL)
		return NULL;
	job->rj_pool.pj_work = reg_job_work;
	job->rj_pool.pj_done = reg_job_done;
	job->rj_kind = kind;
	job->rj_req = req;
	util_strlcpy(job->rj_name, name, sizeof(job->rj_name));
	util_strlcpy(job->rj_digest, digest, sizeof(job->rj_digest));
	ctx->rc_job = job;
	return job;
}

static void
reg_job_free(struct reg_job *job)
{
	free(job->rj_buf);
	free(job);
}

/* On a worker thread: only the job, the store and the held upload. */
static void
reg_job_work(struct pool_job *pj)
{
	struct reg_job *job = (struct reg_job *)pj;
	struct store *st = reg_store;

	job->rj_result = 0;
	switch (job->rj_kind) {
	case REG_JOB_COMMIT:
		job->rj_result =
		    upload_commit_work(job->rj_upload, job->rj_digest);
		break;
	case REG_JOB_MOUNT:
		job->rj_result = store_link_write(st, job->rj_name,
		    STORE_LINK_LAYER, job->rj_digest);
		break;
	case REG_JOB_MANIFEST:
		/*
		 * The blob first, then the revision link, then the tag: a
		 * reader never follows a link to missing data.
		 */
		if (store_blob_write(st, job->rj_digest, job->rj_buf,
		        job->rj_len) == -1 ||
		    store_link_write(st, job->rj_name, STORE_LINK_REVISION,
		        job->rj_digest) == -1 ||
		    (job->rj_tag[0] != '\0' &&
		        store_tag_set(st, job->rj_name, job->rj_tag,
		            job->rj_digest) == -1))
			job->rj_result = -1;
		break;
	}
	job->rj_errno = errno;
}

/*
 * On the loop: finish the bookkeeping whether or not the client is still
 * there, then answer it if it is.
 */
static void
reg_job_done(struct pool_job *pj)
{
	struct reg_job *job = (struct reg_job *)pj;
	struct request *req = job->rj_req;
	struct reg_ctx *ctx;

	if (req != NULL && (ctx = http_ctx(req)) != NULL)
		ctx->rc_job = NULL;
	if (!reg_running) {
		/* After reg_shutdown the upload table is gone. */
		reg_job_free(job);
		return;
	}

	switch (job->rj_kind) {
	case REG_JOB_COMMIT:
		/*
		 * On success the store moved the data into blobs/ and removed
		 * the upload directory: closing only frees the session. On
		 * failure the upload is cancelled, as registry:2 does after a
		 * digest mismatch; the client starts over.
		 */
		upload_release(job->rj_upload);
		upload_close(job->rj_upload, job->rj_result != 0);
		job->rj_upload = NULL;
		break;
	case REG_JOB_MANIFEST:
		if (job->rj_result == 0)
			catalog_add(job->rj_name);
		break;
	case REG_JOB_MOUNT:
		break;
	}

	if (req != NULL) {
		if (job->rj_result == -2)
			http_error(req, 400, "DIGEST_INVALID", NULL);
		else if (job->rj_result == -1)
			reg_storage_error(req, job->rj_errno, "storing");
		else if (job->rj_kind == REG_JOB_MANIFEST) {
			http_add_header(req, "Location", "/v2/%s/manifests/%s",
			    job->rj_name, job->rj_digest);
			http_add_header(req, "Docker-Content-Digest", "%s",
			    job->rj_digest);
			/*
			 * OCI distribution-spec, "Pushing Manifests with
			 * Subject": this registry processes subjects.
			 */
			if (job->rj_subject[0] != '\0')
				http_add_header(req, "OCI-Subject", "%s",
				    job->rj_subject);
			http_reply(req, 201, NULL, NULL, 0);
		} else {
			http_add_header(req, "Location", "/v2/%s/blobs/%s",
			    job->rj_name, job->rj_digest);
			http_add_header(req, "Docker-Content-Digest", "%s",
			    job->rj_digest);
			http_reply(req, 201, NULL, NULL, 0);
		}
	}
	reg_job_free(job);
}

/* ----------------------------------------------------------------------
 * /v2/, _catalog, tags/list
 */

/* GET /v2/: "determining support" (end-1). */
static void
reg_base_get(struct request *req, const struct route_match *m)
{
	(void)m;
	http_reply(req, 200, REG_CT_JSON, "{}", 2);
}

/*
 * GET /v2/_catalog: a page of the repository index, with a Link to the
 * next page when more follow (registry:2's extension of the spec).
 */
static void
reg_catalog_get(struct request *req, const struct route_match *m)
{
	char last[REG_QUERY_MAX];
	const char **names = NULL;
	json_t *root = NULL, *arr = NULL;
	size_t limit, k, i;
	int has_last, more = 0;

	(void)m;
	if (reg_page_args(req, &limit, last, sizeof(last), &has_last) == -1)
		return;
	if (limit > 0 && (names = calloc(limit, sizeof(*names))) == NULL) {
		http_error(req, 500, "UNKNOWN", "out of memory");
		return;
	}
	k = limit > 0
	    ? catalog_page(has_last ? last : NULL, limit, names, &more)
	    : 0;
	if ((root = json_object()) == NULL ||
	    reg_json_set(root, "repositories", arr = json_array()) == -1)
		goto fail;
	for (i = 0; i < k; i++)
		if (reg_json_append(arr, json_string(names[i])) == -1)
			goto fail;
	/* The index may change at the next loop turn: use it now. */
	if (more && k > 0)
		http_add_header(req, "Link",
		    "</v2/_catalog?n=%zu&last=%s>; rel=\"next\"", limit,
		    names[k - 1]);
	free(names);
	reg_reply_json(req, 200, REG_CT_JSON, root);
	return;
fail:
	free(names);
	json_decref(root);
	http_error(req, 500, "UNKNOWN", "out of memory");
}

/*
 * GET /v2/<name>/tags/list (end-8a/8b): tags in lexical order after last,
 * at most n, Link rel="next" when more remain. n=0 gives an empty list
 * and no Link, as the spec requires.
 */
static void
reg_tags_get(struct request *req, const struct route_match *m)
{
	char last[REG_QUERY_MAX];
	char **tags = NULL;
	json_t *root = NULL, *arr = NULL;
	size_t ntags = 0, limit, start = 0, k, i;
	int has_last;

	if (reg_page_args(req, &limit, last, sizeof(last), &has_last) == -1)
		return;
	if (store_tag_list(reg_store, m->rm_name, &tags, &ntags) == -1) {
		if (errno == ENOENT)
			http_error(req, 404, "NAME_UNKNOWN", NULL);
		else
			http_error(req, 500, "UNKNOWN", "store_tag_list: %s",
			    strerror(errno));
		return;
	}
	/* store_tag_list sorts by strcmp, which is the order of last. */
	if (has_last)
		while (start < ntags && strcmp(tags[start], last) <= 0)
			start++;
	k = ntags - start < limit ? ntags - start : limit;
	if ((root = json_object()) == NULL ||
	    reg_json_set(root, "name", json_string(m->rm_name)) == -1 ||
	    reg_json_set(root, "tags", arr = json_array()) == -1)
		goto fail;
	for (i = start; i < start + k; i++)
		if (reg_json_append(arr, json_string(tags[i])) == -1)
			goto fail;
	if (start + k < ntags && k > 0)
		http_add_header(req, "Link",
		    "</v2/%s/tags/list?n=%zu&last=%s>; rel=\"next\"",
		    m->rm_name, limit, tags[start + k - 1]);
	store_list_free(tags, ntags);
	reg_reply_json(req, 200, REG_CT_JSON, root);
	return;
fail:
	store_list_free(tags, ntags);
	json_decref(root);
	http_error(req, 500, "UNKNOWN", "out of memory");
}

/* ----------------------------------------------------------------------
 * Manifests
 */

/*
 * GET/HEAD /v2/<name>/manifests/<reference> (end-3). Manifests are small
 * (MANIFEST_MAX_BYTES) and read per request; http_reply copies them.
 */
static void
reg_manifest_get(struct request *req, const struct route_match *m)
{
	char digest[DIGEST_BUFSZ], type[MANIFEST_MT_MAX];
	const char *inm, *accept;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (m->rm_ref_is_digest)
		util_strlcpy(digest, m->rm_ref, sizeof(digest));
	else if (store_tag_get(reg_store, m->rm_name, m->rm_ref, digest) ==
	    -1) {
		if (errno == ENOENT)
			reg_name_or_manifest_unknown(req, m->rm_name);
		else
			http_error(req, 500, "UNKNOWN", "store_tag_get: %s",
			    strerror(errno));
		return;
	}
	http_log_digest(req, digest);

	/*
	 * A tag counts only while its revision link exists: deleting a
	 * manifest by digest leaves the blob, and perhaps a tag written by
	 * another process, behind.
	 */
	rc = store_link_exists(reg_store, m->rm_name, STORE_LINK_REVISION,
	    digest);
	if (rc == -1) {
		http_error(req, 500, "UNKNOWN", "store_link_exists: %s",
		    strerror(errno));
		return;
	}
	if (rc == 0) {
		reg_name_or_manifest_unknown(req, m->rm_name);
		return;
	}

	http_add_header(req, "Docker-Content-Digest", "%s", digest);
	http_add_header(req, "ETag", "\"%s\"", digest);
	if ((inm = http_header(req, "If-None-Match")) != NULL &&
	    api_parse_etag_matches(inm, digest)) {
		http_reply(req, 304, NULL, NULL, 0);
		return;
	}

	if (store_blob_read(reg_store, digest, MANIFEST_MAX_BYTES, &buf,
	        &len) == -1) {
		if (errno == ENOENT)
			http_error(req, 404, "MANIFEST_UNKNOWN", NULL);
		else
			http_error(req, 500, "UNKNOWN", "store_blob_read: %s",
			    strerror(errno));
		return;
	}
	api_parse_served_type(buf, len, type, sizeof(type));

	/*
	 * A client that cannot handle the type gets 404, as registry:2 does
	 * for an OCI manifest requested without the OCI type in Accept.
	 */
	accept = http_header(req, "Accept");
	if (accept != NULL && !manifest_accepts(accept, type)) {
		free(buf);
		http_error(req, 404, "MANIFEST_UNKNOWN",
		    "manifest media type %s not in Accept", type);
		return;
	}
	http_reply(req, 200, type, buf, len);
	free(buf);
}

/*
 * PUT /v2/<name>/manifests/<reference> (end-7): buffer the body, bounded
 * by MANIFEST_MAX_BYTES (413, "Pushing Manifests"), then validate and
 * store it in reg_manifest_end.
 */
static void
reg_manifest_put(struct request *req, const struct route_match *m)
{
	struct reg_ctx *ctx;
	int64_t cl = http_content_length(req);

	if (cl > MANIFEST_MAX_BYTES) {
		http_error(req, 413, "SIZE_INVALID",
		    "manifest larger than %d bytes", MANIFEST_MAX_BYTES);
		return;
	}
	if ((ctx = reg_ctx_new(req, m)) == NULL) {
		http_error(req, 500, "UNKNOWN", "out of memory");
		return;
	}
	if (cl > 0) {
		if ((ctx->rc_buf = malloc((size_t)cl)) == NULL) {
			http_error(req, 500, "UNKNOWN", "out of memory");
			return;
		}
		ctx->rc_cap = (size_t)cl;
	}
	if (!http_has_body(req)) {
		reg_manifest_end(req);
		return;
	}
	http_body_sink(req, reg_manifest_body_cb, reg_manifest_end);
}

/* Append a chunk of manifest body; a chunked body is bounded here. */
static int
reg_manifest_body_cb(struct request *req, const char *buf, size_t len)
{
	struct reg_ctx *ctx = http_ctx(req);
	size_t ncap;
	char *nbuf;

	if (len > MANIFEST_MAX_BYTES - ctx->rc_len) {
		http_error(req, 413, "SIZE_INVALID",
		    "manifest larger than %d bytes", MANIFEST_MAX_BYTES);
		return -1;
	}
	if (ctx->rc_len + len > ctx->rc_cap) {
		ncap = ctx->rc_cap > 0 ? ctx->rc_cap : 4096;
		while (ncap < ctx->rc_len + len)
			ncap *= 2;
		if (ncap > MANIFEST_MAX_BYTES)
			ncap = MANIFEST_MAX_BYTES;
		if ((nbuf = realloc(ctx->rc_buf, ncap)) == NULL) {
			http_error(req, 500, "UNKNOWN", "out of memory");
			return -1;
		}
		ctx->rc_buf = nbuf;
		ctx->rc_cap = ncap;
	}
	memcpy(ctx->rc_buf + ctx->rc_len, buf, len);
	ctx->rc_len += len;
	return 0;
}

/*
 * The whole manifest is here: check its digest against a digest
 * reference, parse it, require every referenced blob and child manifest
 * to exist in this repository ("Pushing Manifests": MANIFEST_BLOB_UNKNOWN;
 * the subject need not exist), then store it on the pool.
 */
static void
reg_manifest_end(struct request *req)
{
	struct reg_ctx *ctx = http_ctx(req);
	const struct route_match *m = &ctx->rc_match;
	char digest[DIGEST_BUFSZ], err[256], ctbuf[MANIFEST_MT_MAX];
	const char *ct, *body = ctx->rc_buf != NULL ? ctx->rc_buf : "";
	struct manifest mf;
	struct reg_job *job;
	enum store_link kind;
	size_t i;
	int rc;

	digest_buf(body, ctx->rc_len, digest);
	http_log_digest(req, digest);
	if (m->rm_ref_is_digest && strcmp(m->rm_ref, digest) != 0) {
		http_error(req, 400, "DIGEST_INVALID", "manifest digest is %s",
		    digest);
		return;
	}
	if ((ct = http_header(req, "Content-Type")) != NULL) {
		api_parse_media_type(ct, ctbuf, sizeof(ctbuf));
		ct = ctbuf[0] != '\0' ? ctbuf : NULL;
	}
	memset(&mf, 0, sizeof(mf));
	if (manifest_parse(body, ctx->rc_len, ct, &mf, err, sizeof(err)) ==
	    -1) {
		http_error(req, 400, "MANIFEST_INVALID", "%s", err);
		return;
	}
	for (i = 0; i < mf.m_nrefs; i++) {
		if (!mf.m_refs[i].mr_check)
			continue;
		kind = mf.m_refs[i].mr_kind == MANIFEST_REF_CHILD
		    ? STORE_LINK_REVISION
		    : STORE_LINK_LAYER;
		rc = store_link_exists(reg_store, m->rm_name, kind,
		    mf.m_refs[i].mr_digest);
		if (rc == -1) {
			http_error(req, 500, "UNKNOWN", "store_link_exists: %s",
			    strerror(errno));
			goto done;
		}
		if (rc == 0) {
			http_error(req, 400, "MANIFEST_BLOB_UNKNOWN",
			    "%s %s unknown to repository",
			    kind == STORE_LINK_REVISION ? "manifest" : "blob",
			    mf.m_refs[i].mr_digest);
			goto done;
		}
	}

	if ((job = reg_job_new(req, ctx, REG_JOB_MANIFEST, m->rm_name,
	         digest)) == NULL) {
		http_error(req, 500, "UNKNOWN", "out of memory");
		goto done;
	}
	if (!m->rm_ref_is_digest)
		util_strlcpy(job->rj_tag, m->rm_ref, sizeof(job->rj_tag));
	if (mf.m_has_subject)
		util_strlcpy(job->rj_subject, mf.m_subject,
		    sizeof(job->rj_subject));
	/* The job owns the bytes from here on. */
	job->rj_buf = ctx->rc_buf;
	job->rj_len = ctx->rc_len;
	ctx->rc_buf = NULL;
	ctx->rc_len = ctx->rc_cap = 0;
	pool_submit(&job->rj_pool);
done:
	manifest_free(&mf);
}

/*
 * DELETE /v2/<name>/manifests/<reference> (end-9). A tag reference
 * deletes the tag; a digest deletes the revision link and every tag that
 * points at it ("Deleting Manifests": any tag pointing to that digest
 * will return 404). Blobs stay for garbage-collect. These are a few
 * unlink/rmdir calls, done on the loop: no fsync is needed, as losing a
 * delete in a crash only brings back what the client asked to remove.
 */
static void
reg_manifest_delete(struct request *req, const struct route_match *m)
{
	char cur[DIGEST_BUFSZ];
	char **tags = NULL;
	size_t ntags = 0, i;

	if (!reg_cfg->cf_delete_enabled) {
		http_error(req, 405, "UNSUPPORTED", "deletion is disabled");
		return;
	}
	if (!m->rm_ref_is_digest) {
		if (store_tag_delete(reg_store, m->rm_name, m->rm_ref) == -1) {
			if (errno == ENOENT)
				reg_name_or_manifest_unknown(req, m->rm_name);
			else
				http_error(req, 500, "UNKNOWN",
				    "store_tag_delete: %s", strerror(errno));
			return;
		}
		http_reply(req, 202, NULL, NULL, 0);
		return;
	}

	http_log_digest(req, m->rm_ref);
	if (store_link_delete(reg_store, m->rm_name, STORE_LINK_REVISION,
	        m->rm_ref) == -1) {
		if (errno == ENOENT)
			reg_name_or_manifest_unknown(req, m->rm_name);
		else
			http_error(req, 500, "UNKNOWN", "store_link_delete: %s",
			    strerror(errno));
		return;
	}
	if (store_tag_list(reg_store, m->rm_name, &tags, &ntags) == 0) {
		for (i = 0; i < ntags; i++) {
			if (store_tag_get(reg_store, m->rm_name, tags[i],
			        cur) == 0 &&
			    strcmp(cur, m->rm_ref) == 0 &&
			    store_tag_delete(reg_store, m->rm_name, tags[i]) ==
			        -1 &&
			    errno != ENOENT)
				log_warn("%s: untag %s:%s", __func__,
				    m->rm_name, tags[i]);
		}
		store_list_free(tags, ntags);
	} else if (errno != ENOENT)
		log_warn("%s: store_tag_list %s", __func__, m->rm_name);
	http_reply(req, 202, NULL, NULL, 0);
}

/* ----------------------------------------------------------------------
 * Blobs
 */

/*
 * GET/HEAD /v2/<name>/blobs/<digest> (end-2). The blob must be linked in
 * this repository: as a layer, or as a manifest revision, since
 * registry:2 serves manifests by digest through /blobs/ too. Served from
 * the file (sendfile), with single byte ranges (resumable pull).
 */
static void
reg_blob_get(struct request *req, const struct route_match *m)
{
	const char *digest = m->rm_ref, *inm, *range;
	uint64_t size, first = 0, len = 0;
	int fd, rc;

	http_log_digest(req, digest);
	rc = store_link_exists(reg_store, m->rm_name, STORE_LINK_LAYER, digest);
	if (rc == 0)
		rc = store_link_exists(reg_store, m->rm_name,
		    STORE_LINK_REVISION, digest);
	if (rc == -1) {
		http_error(req, 500, "UNKNOWN", "store_link_exists: %s",
		    strerror(errno));
		return;
	}
	if (rc == 0) {
		http_error(req, 404, "BLOB_UNKNOWN", NULL);
		return;
	}

	http_add_header(req, "Docker-Content-Digest", "%s", digest);
	http_add_header(req, "ETag", "\"%s\"", digest);
	http_add_header(req, "Cache-Control", "max-age=%d", REG_BLOB_MAX_AGE);
	if ((inm = http_header(req, "If-None-Match")) != NULL &&
	    api_parse_etag_matches(inm, digest)) {
		http_reply(req, 304, NULL, NULL, 0);
		return;
	}
	if ((fd = store_blob_open(reg_store, digest, &size)) == -1) {
		if (errno == ENOENT)
			http_error(req, 404, "BLOB_UNKNOWN", NULL);
		else
			http_error(req, 500, "UNKNOWN", "store_blob_open: %s",
			    strerror(errno));
		return;
	}
	http_add_header(req, "Accept-Ranges", "bytes");

	/* Range applies to GET only (RFC 9110 14.2). */
	range = http_header(req, "Range");
	if (range != NULL && http_method(req) == HTTP_M_GET) {
		switch (api_parse_range(range, size, &first, &len)) {
		case 1:
			http_add_header(req, "Content-Range",
			    "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first,
			    first + len - 1, size);
			http_reply_file(req, 206, API_CT_OCTET, fd, first, len);
			return;
		case -1:
			close(fd);
			http_add_header(req, "Content-Range",
			    "bytes */%" PRIu64, size);
			http_error(req, 416, "RANGE_INVALID",
			    "range not satisfiable");
			return;
		default:
			break;
		}
	}
	http_reply_file(req, 200, API_CT_OCTET, fd, 0, size);
}

/*
 * DELETE /v2/<name>/blobs/<digest> (end-10): unlink the layer from this
 * repository; the data stays until garbage-collect. One rmdir, on the
 * loop.
 */
static void
reg_blob_delete(struct request *req, const struct route_match *m)
{
	http_log_digest(req, m->rm_ref);
	if (!reg_cfg->cf_delete_enabled) {
		http_error(req, 405, "UNSUPPORTED", "deletion is disabled");
		return;
	}
	if (store_link_delete(reg_store, m->rm_name, STORE_LINK_LAYER,
	        m->rm_ref) == -1) {
		if (errno == ENOENT)
			http_error(req, 404, "BLOB_UNKNOWN", NULL);
		else
			http_error(req, 500, "UNKNOWN", "store_link_delete: %s",
			    strerror(errno));
		return;
	}
	http_reply(req, 202, NULL, NULL, 0);
}

/* ----------------------------------------------------------------------
 * Uploads
 */

/*
 * The state headers of an upload (OCI distribution-spec, chunked push):
 * Location to continue at, Range "0-<last byte index>" ("0-0" before the
 * first byte, as distribution answers) and Docker-Upload-UUID.
 */
static void
reg_upload_headers(struct request *req, struct upload *u)
{
	uint64_t off = upload_offset(u);
	char state[REG_STATE_LEN + 1];

	if (auth_enabled()) {
		reg_upload_state(req, upload_name(u), upload_uuid(u), state);
		http_add_header(req, "Location",
		    "/v2/%s/blobs/uploads/%s?_state=%s", upload_name(u),
		    upload_uuid(u), state);
	} else
		http_add_header(req, "Location", "/v2/%s/blobs/uploads/%s",
		    upload_name(u), upload_uuid(u));
	http_add_header(req, "Range", "0-%" PRIu64, off > 0 ? off - 1 : 0);
	http_add_header(req, "Docker-Upload-UUID", "%s", upload_uuid(u));
}

/*
 * The _state of an upload location: HMAC-SHA256 under the HTTP secret of
 * the repository, the uuid and the user, in hex (truncated to 128 bits).
 * With auth on, every upload request must carry it, so an upload started
 * by one user cannot be continued by another, and instances sharing
 * REGISTRY_HTTP_SECRET accept each other's locations.
 */
static void
reg_upload_state(struct request *req, const char *name, const char *uuid,
    char out[REG_STATE_LEN + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char msg[NAME_MAX_LEN + UUID_LEN + AUTH_USER_MAX + 3];
	int n, i;

	n = snprintf(msg, sizeof(msg), "%s\n%s\n%s", name, uuid,
	    http_user(req));
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = (int)sizeof(msg) - 1;
	HMAC(EVP_sha256(), reg_secret, (int)reg_secret_len,
	    (const unsigned char *)msg, (size_t)n, mac, &maclen);
	for (i = 0; i < REG_STATE_LEN / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	out[REG_STATE_LEN] = '\0';
}

/* 1 when the request carries the right _state for its upload. */
static int
reg_upload_state_ok(struct request *req, const struct route_match *m)
{
	char want[REG_STATE_LEN + 1], got[REG_STATE_LEN + 1];

	if (!auth_enabled())
		return 1;
	if (util_query_get(http_query(req), "_state", got, sizeof(got)) != 1)
		return 0;
	reg_upload_state(req, m->rm_name, m->rm_ref, want);
	return CRYPTO_memcmp(want, got, REG_STATE_LEN) == 0;
}

/*
 * The session of the routed uuid, or NULL after answering 404
 * BLOB_UPLOAD_UNKNOWN (also for another user's upload: it is as unknown
 * as one that never was) or 500.
 */
static struct upload *
reg_upload_lookup(struct request *req, const struct route_match *m)
{
	struct upload *u;

	if (!reg_upload_state_ok(req, m)) {
		http_error(req, 404, "BLOB_UPLOAD_UNKNOWN", NULL);
		return NULL;
	}
	if ((u = upload_find(m->rm_name, m->rm_ref)) == NULL) {
		if (errno == ENOENT)
			http_error(req, 404, "BLOB_UPLOAD_UNKNOWN", NULL);
		else
			http_error(req, 500, "UNKNOWN", "upload_find: %s",
			    strerror(errno));
		return NULL;
	}
	return u;
}

/*
 * Find the session of the routed uuid and acquire it for this request.
 * NULL after answering: 404 BLOB_UPLOAD_UNKNOWN, or 416 while another
 * request holds it (a chunk out of order with respect to that one).
 */
static struct upload *
reg_upload_take(struct request *req, const struct route_match *m)
{
	struct upload *u;

	if ((u = reg_upload_lookup(req, m)) == NULL)
		return NULL;
	if (upload_acquire(u) == -1) {
		reg_upload_headers(req, u);
		http_error(req, 416, "BLOB_UPLOAD_INVALID",
		    "upload in use by another request");
		return NULL;
	}
	return u;
}

/*
 * POST /v2/<name>/blobs/uploads/ (end-4a, 4b, 11): a cross-repository
 * mount, a single-request monolithic upload (?digest=), or a new session.
 */
static void
reg_uploads_post(struct request *req, const struct route_match *m)
{
	char mount[DIGEST_BUFSZ], from[NAME_MAX_LEN + 1];
	char digest[DIGEST_BUFSZ];
	const char *query = http_query(req);
	struct reg_ctx *ctx;
	struct reg_job *job;
	struct upload *u;
	uint64_t size;
	int rc, has_digest;

	rc = util_query_get(query, "mount", mount, sizeof(mount));
	if (rc == -1 || (rc == 1 && !digest_is_valid(mount, strlen(mount)))) {
		http_error(req, 400, "DIGEST_INVALID", "invalid mount digest");
		return;
	}
	/*
	 * "The registry MAY treat the from parameter as optional, and it
	 * MAY cross-mount the blob if it can be found" (end-11). Any blob
	 * present in the store is mounted: one registry, one set of users,
	 * so from is only logged. A mount with a body (which no client
	 * sends) falls through to a normal session, since a request with a
	 * body must not go asynchronous without a sink.
	 */
	if (rc == 1 && !http_has_body(req)) {
		http_log_digest(req, mount);
		if (util_query_get(query, "from", from, sizeof(from)) == 1 &&
		    route_name_is_valid(from, strlen(from)))
			log_debug("%s: conn %u: mount %s from %s", __func__,
			    http_conn_id(req), mount, from);
		if (store_blob_stat(reg_store, mount, &size) == 0) {
			if ((ctx = reg_ctx_new(req, m)) == NULL ||
			    (job = reg_job_new(req, ctx, REG_JOB_MOUNT,
			         m->rm_name, mount)) == NULL) {
				http_error(req, 500, "UNKNOWN",
				    "out of memory");
				return;
			}
			pool_submit(&job->rj_pool);
			return;
		}
		/* Not mountable: "it SHOULD return a 202". */
	}

	rc = util_query_get(query, "digest", digest, sizeof(digest));
	if (rc == -1 || (rc == 1 && !digest_is_valid(digest, strlen(digest)))) {
		http_error(req, 400, "DIGEST_INVALID", "invalid digest");
		return;
	}
	has_digest = rc == 1;

	if ((u = upload_create(m->rm_name)) == NULL) {
		reg_storage_error(req, errno, "upload_create");
		return;
	}
	if (!has_digest) {
		/* registry:2 ignores a body here; http.c discards it. */
		reg_upload_headers(req, u);
		http_reply(req, 202, NULL, NULL, 0);
		return;
	}

	/* A fresh session: nobody else can hold it. */
	http_log_digest(req, digest);
	if (upload_acquire(u) == -1 || (ctx = reg_ctx_new(req, m)) == NULL) {
		upload_close(u, 1);
		http_error(req, 500, "UNKNOWN", "cannot start the upload");
		return;
	}
	ctx->rc_upload = u;
	util_strlcpy(ctx->rc_digest, digest, sizeof(ctx->rc_digest));
	if (!http_has_body(req)) {
		/* Content-Length 0: the blob is the empty blob. */
		reg_upload_commit_start(req);
		return;
	}
	http_body_sink(req, reg_upload_body_cb, reg_upload_commit_start);
}

/*
 * GET /v2/<name>/blobs/uploads/<uuid> (end-13): 204 with the session's
 * Location and Range, so a client can resume after a 416.
 */
static void
reg_upload_get(struct request *req, const struct route_match *m)
{
	struct upload *u;

	if ((u = reg_upload_lookup(req, m)) == NULL)
		return;
	reg_upload_headers(req, u);
	http_reply(req, 204, NULL, NULL, 0);
}

/*
 * Start a PATCH or the closing PUT: take the session, check the
 * Content-Range, then stream the body (if any) into it; end runs when the
 * body is in. digest is the PUT's ?digest= (NULL for PATCH).
 */
static void
reg_upload_feed(struct request *req, const struct route_match *m,
    const char *digest, http_end_cb end)
{
	struct reg_ctx *ctx;
	struct upload *u;

	if ((u = reg_upload_take(req, m)) == NULL)
		return;
	if ((ctx = reg_ctx_new(req, m)) == NULL) {
		upload_release(u);
		http_error(req, 500, "UNKNOWN", "out of memory");
		return;
	}
	ctx->rc_upload = u;
	if (digest != NULL)
		util_strlcpy(ctx->rc_digest, digest, sizeof(ctx->rc_digest));
	if (reg_content_range(req, ctx) == -1) {
		reg_upload_headers(req, u);
		http_error(req, 416, "BLOB_UPLOAD_INVALID",
		    "chunk out of order or Content-Range malformed");
		return;
	}
	if (!http_has_body(req)) {
		end(req);
		return;
	}
	http_body_sink(req, reg_upload_body_cb, end);
}

/*
 * PATCH /v2/<name>/blobs/uploads/<uuid> (end-5): append one chunk,
 * streamed, whatever its framing (Docker sends chunked encoding, with no
 * Content-Range: then the chunk goes at the current offset).
 */
static void
reg_upload_patch(struct request *req, const struct route_match *m)
{
	reg_upload_feed(req, m, NULL, reg_upload_patch_end);
}

/*
 * Body sink of PATCH, PUT and POST ?digest=: append to the held upload.
 * With a Content-Range, bytes beyond its end are refused (416).
 */
static int
reg_upload_body_cb(struct request *req, const char *buf, size_t len)
{
	struct reg_ctx *ctx = http_ctx(req);
	struct upload *u = ctx->rc_upload;
	uint64_t off = upload_offset(u);

	if (ctx->rc_has_range &&
	    (off > ctx->rc_range_end || len > ctx->rc_range_end - off + 1)) {
		/* Keep nothing of a refused chunk. */
		upload_rollback(u);
		reg_upload_headers(req, u);
		http_error(req, 416, "BLOB_UPLOAD_INVALID",
		    "chunk longer than its Content-Range");
		return -1;
	}
	if (upload_write(u, buf, len) == -1) {
		reg_storage_error(req, errno, "upload_write");
		return -1;
	}
	return 0;
}

/* End of a PATCH body: 202 with the new state ("Pushing a blob in chunks"). */
static void
reg_upload_patch_end(struct request *req)
{
	struct reg_ctx *ctx = http_ctx(req);

	reg_upload_headers(req, ctx->rc_upload);
	http_reply(req, 202, NULL, NULL, 0);
}

/*
 * PUT /v2/<name>/blobs/uploads/<uuid>?digest= (end-6): the optional last
 * chunk, then the commit.
 */
static void
reg_upload_put(struct request *req, const struct route_match *m)
{
	char digest[DIGEST_BUFSZ];
	int rc;

	/* "The closing PUT request MUST include the <digest>". */
	rc = util_query_get(http_query(req), "digest", digest, sizeof(digest));
	if (rc != 1 || !digest_is_valid(digest, strlen(digest))) {
		http_error(req, 400, "DIGEST_INVALID",
		    "missing or invalid digest parameter");
		return;
	}
	http_log_digest(req, digest);
	reg_upload_feed(req, m, digest, reg_upload_commit_start);
}

/*
 * All bytes are in: check the running digest, then commit on the pool
 * (fsync and rename). A mismatch cancels the upload at once: 400
 * DIGEST_INVALID. The job takes over the acquired upload, so the request's
 * cleanup leaves it alone if the client goes away meanwhile.
 */
static void
reg_upload_commit_start(struct request *req)
{
	struct reg_ctx *ctx = http_ctx(req);
	struct upload *u = ctx->rc_upload;
	struct reg_job *job;

	if (upload_verify(u, ctx->rc_digest) == 0) {
		ctx->rc_upload = NULL;
		upload_release(u);
		upload_close(u, 1);
		http_error(req, 400, "DIGEST_INVALID", NULL);
		return;
	}
	if ((job = reg_job_new(req, ctx, REG_JOB_COMMIT, ctx->rc_match.rm_name,
	         ctx->rc_digest)) == NULL) {
		http_error(req, 500, "UNKNOWN", "out of memory");
		return;
	}
	job->rj_upload = u;
	ctx->rc_upload = NULL;
	pool_submit(&job->rj_pool);
}

/* DELETE /v2/<name>/blobs/uploads/<uuid>: cancel the session, 204. */
static void
reg_upload_delete(struct request *req, const struct route_match *m)
{
	struct upload *u;

	if ((u = reg_upload_take(req, m)) == NULL)
		return;
	upload_release(u);
	upload_close(u, 1);
	http_reply(req, 204, NULL, NULL, 0);
}

/* ----------------------------------------------------------------------
 * Referrers
 */

/*
 * Add the descriptor of revision digest to list when its manifest
 * has subject as its subject and passes the artifactType filter (NULL:
 * none). seen collects the digests listed so far. 0, or -1 on allocation
 * failure; unreadable or invalid manifests are skipped.
 */
static int
reg_referrer_add(json_t *list, json_t *seen, const char *digest,
    const char *subject, const char *filter)
{
	struct manifest mf;
	char err[128];
	char *buf = NULL;
	size_t len = 0;
	json_t *d = NULL, *ann;
	int ret = 0;

	if (json_object_get(seen, digest) != NULL)
		return 0;
	if (store_blob_read(reg_store, digest, MANIFEST_MAX_BYTES, &buf,
	        &len) == -1)
		return 0;
	/*
	 * Cheap filter before a full parse: a manifest whose bytes do not
	 * contain the subject digest cannot refer to it. (A digest written
	 * with JSON \u escapes would be missed; no tool writes one.)
	 */
	if (memmem(buf, len, subject, strlen(subject)) == NULL) {
		free(buf);
		return 0;
	}
	memset(&mf, 0, sizeof(mf));
	if (manifest_parse(buf, len, NULL, &mf, err, sizeof(err)) == -1) {
		free(buf);
		return 0;
	}
	free(buf);
	if (!mf.m_has_subject || strcmp(mf.m_subject, subject) != 0 ||
	    (filter != NULL && strcmp(mf.m_artifact_type, filter) != 0))
		goto done;
	/* OCI distribution-spec, "Listing Referrers": the descriptor. */
	if ((d = json_object()) == NULL ||
	    reg_json_set(d, "mediaType", json_string(mf.m_media_type)) ||
	    reg_json_set(d, "digest", json_string(digest)) ||
	    reg_json_set(d, "size", json_integer((json_int_t)len)))
		goto fail;
	if (mf.m_artifact_type[0] != '\0' &&
	    reg_json_set(d, "artifactType", json_string(mf.m_artifact_type)))
		goto fail;
	if (mf.m_annotations != NULL && mf.m_annotations[0] != '\0' &&
	    (ann = json_loads(mf.m_annotations, 0, NULL)) != NULL) {
		if (!json_is_object(ann))
			json_decref(ann);
		else if (json_object_set_new(d, "annotations", ann) == -1)
			goto fail;
	}
	if (reg_json_set(seen, digest, json_true()) == -1)
		goto fail;
	ret = reg_json_append(list, d);
	d = NULL;
	goto done;
fail:
	ret = -1;
done:
	json_decref(d);
	manifest_free(&mf);
	return ret;
}

/*
 * Add the descriptors of the referrers tag schema index
 * (<alg>-<hex>, "Referrers Tag Schema") that the scan did not find:
 * "Registries MUST include preexisting image manifests that are listed in
 * an image index tagged with the referrers tag schema". Copied as they
 * are, deduplicated by digest.
 */
static void
reg_referrers_tag(json_t *list, json_t *seen, const char *name,
    const char *subject, const char *filter)
{
	char tag[TAG_MAX_LEN + 1], digest[DIGEST_BUFSZ];
	char *buf = NULL;
	size_t len = 0, i;
	json_t *root, *arr, *d, *v;
	const char *dg, *at;

	if (snprintf(tag, sizeof(tag), "sha256-%s", digest_hex(subject)) >=
	    (int)sizeof(tag))
		return;
	if (store_tag_get(reg_store, name, tag, digest) == -1 ||
	    store_blob_read(reg_store, digest, MANIFEST_MAX_BYTES, &buf,
	        &len) == -1)
		return;
	root = json_loadb(buf, len, 0, NULL);
	free(buf);
	if (root == NULL)
		return;
	arr = json_object_get(root, "manifests");
	for (i = 0; i < json_array_size(arr); i++) {
		d = json_array_get(arr, i);
		if (!json_is_object(d) ||
		    (dg = json_string_value(json_object_get(d, "digest"))) ==
		        NULL ||
		    !digest_is_valid(dg, strlen(dg)) ||
		    json_object_get(seen, dg) != NULL)
			continue;
		v = json_object_get(d, "artifactType");
		at = json_is_string(v) ? json_string_value(v) : "";
		if (filter != NULL && strcmp(at, filter) != 0)
			continue;
		if (json_array_append(list, d) == -1 ||
		    reg_json_set(seen, dg, json_true()) == -1)
			break;
	}
	json_decref(root);
}

/*
 * GET /v2/<name>/referrers/<digest> (end-12a/12b): an image index of the
 * manifests in name whose subject is digest. Never 404 ("the registry
 * MUST NOT return a 404"): an unknown repository has no referrers.
 *
 * There is no referrers index yet: the revisions of the repository
 * (at most REFERRERS_MAX) are read on the loop, each bounded by
 * MANIFEST_MAX_BYTES and skipped early when the subject digest does not
 * occur in its bytes. Fine for the repositories this registry is for;
 * an index kept at push time is the next step.
 */
static void
reg_referrers_get(struct request *req, const struct route_match *m)
{
	char filter[MANIFEST_MT_MAX];
	char **revs = NULL;
	size_t nrevs = 0, i;
	json_t *root = NULL, *list = NULL, *seen = NULL;
	const char *fp = NULL;
	int rc;

	http_log_digest(req, m->rm_ref);
	rc = util_query_get(http_query(req), "artifactType", filter,
	    sizeof(filter));
	if (rc == -1) {
		http_error(req, 400, "UNSUPPORTED",
		    "malformed artifactType parameter");
		return;
	}
	if (rc == 1 && filter[0] != '\0') {
		/*
		 * Query decoding turns '+' into a space, but media types
		 * have no spaces and often a '+' ("+json") that a client
		 * did not escape: put it back.
		 */
		for (i = 0; filter[i] != '\0'; i++)
			if (filter[i] == ' ')
				filter[i] = '+';
		fp = filter;
	}

	if (store_link_list(reg_store, m->rm_name, STORE_LINK_REVISION, &revs,
	        &nrevs) == -1) {
		if (errno != ENOENT) {
			http_error(req, 500, "UNKNOWN", "store_link_list: %s",
			    strerror(errno));
			return;
		}
		revs = NULL;
		nrevs = 0;
	}
	if ((list = json_array()) == NULL || (seen = json_object()) == NULL)
		goto fail;
	for (i = 0; i < nrevs && i < REFERRERS_MAX; i++)
		if (reg_referrer_add(list, seen, revs[i], m->rm_ref, fp) == -1)
			goto fail;
	reg_referrers_tag(list, seen, m->rm_name, m->rm_ref, fp);

	if ((root = json_object()) == NULL ||
	    reg_json_set(root, "schemaVersion", json_integer(2)) == -1 ||
	    reg_json_set(root, "mediaType", json_string(MT_OCI_INDEX)) == -1 ||
	    json_object_set(root, "manifests", list) == -1)
		goto fail;
	json_decref(list);
	json_decref(seen);
	store_list_free(revs, nrevs);
	if (fp != NULL)
		http_add_header(req, "OCI-Filters-Applied", "artifactType");
	reg_reply_json(req, 200, MT_OCI_INDEX, root);
	return;
fail:
	json_decref(root);
	json_decref(list);
	json_decref(seen);
	store_list_free(revs, nrevs);
	http_error(req, 500, "UNKNOWN", "out of memory");
}
