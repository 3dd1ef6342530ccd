/*
 * api.c: what the endpoint handlers (api_*.c, access.c) share: the
 * configuration and store they serve, whether the registry is running,
 * the per-request handler state (struct api_ctx) and its cleanup, the
 * link between a request and the storage job that will answer it, and the
 * replies several handlers make (storage errors, JSON bodies, 404 for an
 * unknown repository or manifest).
 *
 * Ownership. Per-request state is a struct api_ctx hung on the request
 * (http_set_ctx) and freed by ctx_cleanup_cb when the request is freed,
 * replied or not. A request borrows an upload between upload_acquire and
 * upload_release; the cleanup releases it unless a job took it over. A
 * storage job owns copies of everything it needs and frees itself in its
 * sc_done; it points back at its request only through aj_req, which the
 * request's cleanup clears when the client goes away first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api.h"
#include "auth.h"
#include "http.h"
#include "store.h"
#include "upload.h"
#include "util.h"

static void ctx_cleanup_cb(struct request *);

static const struct config *api_cfg;
static struct store *api_st;
/*
 * 1 between api_start and api_stop (reg_init and reg_shutdown). main
 * stops the pool before reg_shutdown, so jobs are done by then; the flag
 * guards the other orders (handler tests, a failed start): sc_done
 * callbacks and requests freed after reg_shutdown must not touch the
 * upload table or the catalog, which are gone by then.
 */
static int api_run;
/* When api_start ran: the monotonic clock (ms) and the wall clock. */
static uint64_t api_start_ms;
static time_t api_start_wall;

/* ----------------------------------------------------------------------
 * Shared state
 */

/* api_start: keep cfg and store (owned by main); handlers may run. */
void
api_start(const struct config *cfg, struct store *store)
{
	api_cfg = cfg;
	api_st = store;
	api_run = 1;
	api_start_ms = util_now_ms();
	api_start_wall = time(NULL);
}

/* api_stop: the upload table and the catalog are about to go. */
void
api_stop(void)
{
	api_run = 0;
}

/* api_running: 1 between api_start and api_stop. */
int
api_running(void)
{
	return api_run;
}

/* api_config: the configuration given to api_start (owned by main). */
const struct config *
api_config(void)
{
	return api_cfg;
}

/*
 * api_started: when the registry started serving (api_start), on the
 * wall clock; api_uptime_ms: for how long, on the monotonic clock.
 */
time_t
api_started(void)
{
	return api_start_wall;
}

uint64_t
api_uptime_ms(void)
{
	return util_now_ms() - api_start_ms;
}

/* api_store: the store given to api_start (owned by main). */
struct store *
api_store(void)
{
	return api_st;
}

/* ----------------------------------------------------------------------
 * Per-request state and storage jobs
 */

/*
 * api_ctx_new: allocate the request's handler state and arrange for
 * ctx_cleanup_cb to free it. NULL on allocation failure (nothing
 * installed).
 */
struct api_ctx *
api_ctx_new(struct request *req, const struct route_match *m)
{
	struct api_ctx *ctx;

	/* The auth check may have made it already (access_check). */
	if ((ctx = http_ctx(req)) != NULL)
		return ctx;
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return NULL;
	ctx->ac_match = *m;
	http_set_ctx(req, ctx);
	http_set_cleanup(req, ctx_cleanup_cb);
	return ctx;
}

/*
 * The request is being freed (replied, or its connection closed). Drop
 * the back pointer of a job still working for it and give back an upload
 * it still holds, without the bytes it wrote unless it succeeded (see
 * ac_upload); a job that took the upload over releases it itself.
 */
static void
ctx_cleanup_cb(struct request *req)
{
	struct api_ctx *ctx = http_ctx(req);

	if (ctx == NULL)
		return;
	if (ctx->ac_job != NULL)
		ctx->ac_job->aj_req = NULL;
	if (ctx->ac_auth != NULL)
		auth_cancel(ctx->ac_auth);
	if (ctx->ac_upload != NULL && api_run) {
		if (!ctx->ac_upload_kept)
			upload_rollback(ctx->ac_upload);
		upload_release(ctx->ac_upload);
	}
	api_manifest_body_free(ctx);
	free(ctx);
	http_set_ctx(req, NULL);
}

/*
 * api_job_init: a job for req, which must have ctx. The job remembers the
 * request (and the request the job, so that its cleanup can detach it).
 */
void
api_job_init(struct api_job *job, struct request *req, struct api_ctx *ctx,
    enum store_call_kind kind, void (*work)(struct store_call *),
    void (*done)(struct store_call *))
{
	job->aj_call.sc_kind = kind;
	job->aj_call.sc_work = work;
	job->aj_call.sc_done = done;
	job->aj_req = req;
	ctx->ac_job = job;
}

/* api_job_start: hand the job to the store (see api.h). */
void
api_job_start(struct api_job *job)
{
	store_call(api_st, &job->aj_call);
}

/*
 * api_job_detach: on the loop, in the job's sc_done: the request to
 * answer, or NULL when the client went away; the request no longer
 * points at the job.
 */
struct request *
api_job_detach(struct api_job *job)
{
	struct request *req = job->aj_req;
	struct api_ctx *ctx;

	if (req != NULL && (ctx = http_ctx(req)) != NULL)
		ctx->ac_job = NULL;
	return req;
}

/*
 * api_job_new: the request's state, then a zeroed job of size bytes for
 * it. The job is set up only once both allocations succeeded, so a
 * failure leaves no job for the request's cleanup to detach.
 */
void *
api_job_new(struct request *req, const struct route_match *m, size_t size,
    enum store_call_kind kind, void (*work)(struct store_call *),
    void (*done)(struct store_call *))
{
	struct api_ctx *ctx;
	struct api_job *job;

	if ((ctx = api_ctx_new(req, m)) == NULL ||
	    (job = calloc(1, size)) == NULL) {
		http_error(req, 500, "UNKNOWN", "out of memory");
		return NULL;
	}
	api_job_init(job, req, ctx, kind, work, done);
	return job;
}

/* ----------------------------------------------------------------------
 * Replies
 */

/*
 * api_storage_unavailable: 1 when err says the store cannot be reached
 * or is overloaded for now (a network store down, timing out, or asking
 * to slow down), which a client should retry later, not a fault.
 */
int
api_storage_unavailable(int err)
{
	switch (err) {
	case EAGAIN:
	case ETIMEDOUT:
	case ECONNREFUSED:
	case ECONNRESET:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ENXIO: /* the store's bucket is missing */
		return 1;
	default:
		return 0;
	}
}

/*
 * api_storage_error: answer a failed storage operation: 507 when the disk
 * is full (the client may retry later, RFC 4918 11.5), 503 UNAVAILABLE
 * when a network store is out of reach (api_storage_unavailable), else
 * 500. err is the errno.
 */
void
api_storage_error(struct request *req, int err, const char *what)
{
	if (err == ENOSPC || err == EDQUOT)
		http_error(req, 507, "BLOB_UPLOAD_INVALID", "%s: storage full",
		    what);
	else if (api_storage_unavailable(err))
		http_error(req, 503, "UNAVAILABLE", "%s: storage: %s", what,
		    strerror(err));
	else
		http_error(req, 500, "UNKNOWN", "%s: %s", what, strerror(err));
}

/*
 * api_reply_json: serialise root (consumed) and send it. Responses are
 * built with jansson, never printf'd, so names and tags are always
 * escaped.
 */
void
api_reply_json(struct request *req, int status, const char *type, json_t *root)
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

/* api_json_set: json_object_set_new that also fails on a NULL value. */
int
api_json_set(json_t *obj, const char *key, json_t *val)
{
	if (val == NULL)
		return -1;
	return json_object_set_new(obj, key, val);
}

/* api_json_append: json_array_append_new that also fails on NULL. */
int
api_json_append(json_t *arr, json_t *val)
{
	if (val == NULL)
		return -1;
	return json_array_append_new(arr, val);
}

/*
 * api_name_or_manifest_unknown: 404 for a manifest that is not there:
 * NAME_UNKNOWN when the repository does not exist at all,
 * MANIFEST_UNKNOWN otherwise (as registry:2). The job's work asked the
 * store (store_repo_exists), so that the loop never waits on it.
 */
void
api_name_or_manifest_unknown(struct request *req, int repo_exists)
{
	if (repo_exists)
		http_error(req, 404, "MANIFEST_UNKNOWN", NULL);
	else
		http_error(req, 404, "NAME_UNKNOWN", NULL);
}
