/*
 * api_uploads.c: the blob upload endpoints /v2/<name>/blobs/uploads/
 * (OCI distribution-spec end-4a, 4b, 5, 6, 11, 13): POST (a new session,
 * a monolithic upload with ?digest=, a cross-repository mount), GET, PATCH,
 * the closing PUT and DELETE of a session. It owns the session headers
 * (Location, Range, Docker-Upload-UUID), Content-Range checks of chunks,
 * streaming bodies into the session, the storage job that commits a blob or
 * links a mounted one, the timer that closes idle sessions, and the
 * start-up sweep of upload directories left by earlier runs.
 *
 * The sessions themselves are upload.c's; a request borrows one between
 * upload_acquire and upload_release (struct api_ctx's ac_upload), and a
 * commit job takes it over from the request.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "access.h"
#include "api.h"
#include "api_parse.h"
#include "auth.h"
#include "bounds.h"
#include "digest.h"
#include "http.h"
#include "log.h"
#include "router.h"
#include "store.h"
#include "upload.h"
#include "util.h"

#define API_UPLOAD_EXPIRE_INTERVAL 60   /* seconds between upload sweeps */
#define API_UPLOAD_IDLE            3600 /* close sessions idle this long */

/*
 * A blob commit (the last bytes of an upload are in) or a mount (a layer
 * link to a blob the store has), a durable store call. Heap-allocated,
 * owned by itself: job_done frees it. The work touches only the job's own
 * fields, the store and (commit) the upload, which the job holds acquired.
 */
struct api_upload_job {
	struct api_job uj_job;    /* first: the call and request link */
	struct upload *uj_upload; /* commit: acquired, job's own; else NULL */
	char uj_name[NAME_MAX_LEN + 1];
	char uj_digest[DIGEST_BUFSZ];
	int uj_result; /* 0, -1 (uj_errno), -2 */
	int uj_errno;
};

/* The start-up sweep of stale upload directories (store_upload_purge). */
struct api_upload_purge {
	struct store_call up_call;
	struct store *up_store;
	time_t up_age;
	int up_result;
	int up_errno;
	int up_busy; /* started, sc_done not run */
};

static void session_headers(struct request *, struct upload *);
static struct upload *
session_lookup(struct request *, const struct route_match *);
static struct upload *
session_take(struct request *, const struct route_match *);
static int content_range(struct request *, struct api_ctx *);
static void
feed(struct request *, const struct route_match *, const char *, http_end_cb);
static int body_cb(struct request *, const char *, size_t);
static void patch_end(struct request *);
static void commit_start(struct request *);
static struct api_upload_job *job_new(struct request *, struct api_ctx *,
    void (*)(struct store_call *), const char *, const char *);
static void commit_work(struct store_call *);
static void mount_work(struct store_call *);
static void job_done(struct store_call *);
static void expire_cb(evutil_socket_t, short, void *);
static void purge_work(struct store_call *);
static void purge_done(struct store_call *);

static struct event *api_upload_expire_ev;
static struct api_upload_purge api_upload_purge;

/* ----------------------------------------------------------------------
 * Sessions
 */

/*
 * The state headers of an upload (OCI distribution-spec, chunked push):
 * Location to continue at, Range "0-<last byte index>" ("0-0" before the
 * first byte, as distribution answers) and Docker-Upload-UUID.
 */
static void
session_headers(struct request *req, struct upload *u)
{
	uint64_t off = upload_offset(u);
	char state[ACCESS_STATE_LEN + 1];

	if (auth_enabled()) {
		access_upload_state(req, upload_name(u), upload_uuid(u), state);
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
 * The session of the routed uuid, or NULL after answering 404
 * BLOB_UPLOAD_UNKNOWN (also for another user's upload: it is as unknown
 * as one that never was) or 500.
 */
static struct upload *
session_lookup(struct request *req, const struct route_match *m)
{
	struct upload *u;

	if (!access_upload_state_ok(req, m)) {
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
session_take(struct request *req, const struct route_match *m)
{
	struct upload *u;

	if ((u = session_lookup(req, m)) == NULL)
		return NULL;
	if (upload_acquire(u) == -1) {
		session_headers(req, u);
		http_error(req, 416, "BLOB_UPLOAD_INVALID",
		    "upload in use by another request");
		return NULL;
	}
	return u;
}

/*
 * Check the Content-Range of a PATCH or closing PUT against the upload
 * the request holds (api_parse_content_range). A request without a body
 * has nothing to place, so its Content-Range is ignored. Returns 0
 * (ctx->ac_has_range set when a range was given) or -1 when the chunk is
 * out of order or malformed: the caller answers 416.
 */
static int
content_range(struct request *req, struct api_ctx *ctx)
{
	const char *h;
	uint64_t end;

	ctx->ac_has_range = 0;
	if ((h = http_header(req, "Content-Range")) == NULL ||
	    !http_has_body(req))
		return 0;
	if (api_parse_content_range(h, upload_offset(ctx->ac_upload),
	        http_content_length(req), &end) == -1)
		return -1;
	ctx->ac_has_range = 1;
	ctx->ac_range_end = end;
	return 0;
}

/* ----------------------------------------------------------------------
 * Handlers
 */

/*
 * api_upload_post: POST /v2/<name>/blobs/uploads/ (end-4a, 4b, 11): a
 * cross-repository mount, a single-request monolithic upload (?digest=),
 * or a new session.
 */
void
api_upload_post(struct request *req, const struct route_match *m)
{
	char mount[DIGEST_BUFSZ], from[NAME_MAX_LEN + 1];
	char digest[DIGEST_BUFSZ];
	const char *query = http_query(req);
	struct api_ctx *ctx;
	struct api_upload_job *job;
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
		if (store_blob_stat(api_store(), mount, &size) == 0) {
			if ((ctx = api_ctx_new(req, m)) == NULL ||
			    (job = job_new(req, ctx, mount_work, m->rm_name,
			         mount)) == NULL) {
				http_error(req, 500, "UNKNOWN",
				    "out of memory");
				return;
			}
			api_job_start(&job->uj_job);
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
		api_storage_error(req, errno, "upload_create");
		return;
	}
	if (!has_digest) {
		/* registry:2 ignores a body here; http.c discards it. */
		session_headers(req, u);
		http_reply(req, 202, NULL, NULL, 0);
		return;
	}

	/* A fresh session: nobody else can hold it. */
	http_log_digest(req, digest);
	if (upload_acquire(u) == -1 || (ctx = api_ctx_new(req, m)) == NULL) {
		upload_close(u, 1);
		http_error(req, 500, "UNKNOWN", "cannot start the upload");
		return;
	}
	ctx->ac_upload = u;
	util_strlcpy(ctx->ac_digest, digest, sizeof(ctx->ac_digest));
	if (!http_has_body(req)) {
		/* Content-Length 0: the blob is the empty blob. */
		commit_start(req);
		return;
	}
	http_body_sink(req, body_cb, commit_start);
}

/*
 * api_upload_get: GET /v2/<name>/blobs/uploads/<uuid> (end-13): 204 with
 * the session's Location and Range, so a client can resume after a 416.
 */
void
api_upload_get(struct request *req, const struct route_match *m)
{
	struct upload *u;

	if ((u = session_lookup(req, m)) == NULL)
		return;
	session_headers(req, u);
	http_reply(req, 204, NULL, NULL, 0);
}

/*
 * Start a PATCH or the closing PUT: take the session, check the
 * Content-Range, then stream the body (if any) into it; end runs when the
 * body is in. digest is the PUT's ?digest= (NULL for PATCH).
 */
static void
feed(struct request *req, const struct route_match *m, const char *digest,
    http_end_cb end)
{
	struct api_ctx *ctx;
	struct upload *u;

	if ((u = session_take(req, m)) == NULL)
		return;
	if ((ctx = api_ctx_new(req, m)) == NULL) {
		upload_release(u);
		http_error(req, 500, "UNKNOWN", "out of memory");
		return;
	}
	ctx->ac_upload = u;
	if (digest != NULL)
		util_strlcpy(ctx->ac_digest, digest, sizeof(ctx->ac_digest));
	if (content_range(req, ctx) == -1) {
		session_headers(req, u);
		http_error(req, 416, "BLOB_UPLOAD_INVALID",
		    "chunk out of order or Content-Range malformed");
		return;
	}
	if (!http_has_body(req)) {
		end(req);
		return;
	}
	http_body_sink(req, body_cb, end);
}

/*
 * api_upload_patch: PATCH /v2/<name>/blobs/uploads/<uuid> (end-5): append
 * one chunk, streamed, whatever its framing (Docker sends chunked
 * encoding, with no Content-Range: then the chunk goes at the current
 * offset).
 */
void
api_upload_patch(struct request *req, const struct route_match *m)
{
	feed(req, m, NULL, patch_end);
}

/*
 * Body sink of PATCH, PUT and POST ?digest=: append to the held upload.
 * With a Content-Range, bytes beyond its end are refused (416).
 */
static int
body_cb(struct request *req, const char *buf, size_t len)
{
	struct api_ctx *ctx = http_ctx(req);
	struct upload *u = ctx->ac_upload;
	uint64_t off = upload_offset(u);

	if (ctx->ac_has_range &&
	    (off > ctx->ac_range_end || len > ctx->ac_range_end - off + 1)) {
		/* Keep nothing of a refused chunk. */
		upload_rollback(u);
		session_headers(req, u);
		http_error(req, 416, "BLOB_UPLOAD_INVALID",
		    "chunk longer than its Content-Range");
		return -1;
	}
	if (upload_write(u, buf, len) == -1) {
		api_storage_error(req, errno, "upload_write");
		return -1;
	}
	return 0;
}

/* End of a PATCH body: 202 with the new state ("Pushing a blob in chunks"). */
static void
patch_end(struct request *req)
{
	struct api_ctx *ctx = http_ctx(req);

	session_headers(req, ctx->ac_upload);
	http_reply(req, 202, NULL, NULL, 0);
}

/*
 * api_upload_put: PUT /v2/<name>/blobs/uploads/<uuid>?digest= (end-6):
 * the optional last chunk, then the commit.
 */
void
api_upload_put(struct request *req, const struct route_match *m)
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
	feed(req, m, digest, commit_start);
}

/*
 * All bytes are in: check the running digest, then commit (a durable
 * store call: fsync and rename). A mismatch cancels the upload at once: 400
 * DIGEST_INVALID. The job takes over the acquired upload, so the request's
 * cleanup leaves it alone if the client goes away meanwhile.
 */
static void
commit_start(struct request *req)
{
	struct api_ctx *ctx = http_ctx(req);
	struct upload *u = ctx->ac_upload;
	struct api_upload_job *job;

	if (upload_verify(u, ctx->ac_digest) == 0) {
		ctx->ac_upload = NULL;
		upload_release(u);
		upload_close(u, 1);
		http_error(req, 400, "DIGEST_INVALID", NULL);
		return;
	}
	if ((job = job_new(req, ctx, commit_work, ctx->ac_match.rm_name,
	         ctx->ac_digest)) == NULL) {
		http_error(req, 500, "UNKNOWN", "out of memory");
		return;
	}
	job->uj_upload = u;
	ctx->ac_upload = NULL;
	api_job_start(&job->uj_job);
}

/*
 * api_upload_delete: DELETE /v2/<name>/blobs/uploads/<uuid>: cancel the
 * session, 204.
 */
void
api_upload_delete(struct request *req, const struct route_match *m)
{
	struct upload *u;

	if ((u = session_take(req, m)) == NULL)
		return;
	upload_release(u);
	upload_close(u, 1);
	http_reply(req, 204, NULL, NULL, 0);
}

/* ----------------------------------------------------------------------
 * Pool job: blob commit, mount
 */

/*
 * A job running work for req, which must have ctx, on blob digest of
 * repository name. NULL on allocation failure.
 */
static struct api_upload_job *
job_new(struct request *req, struct api_ctx *ctx,
    void (*work)(struct store_call *), const char *name, const char *digest)
{
	struct api_upload_job *job;

	if ((job = calloc(1, sizeof(*job))) == NULL)
		return NULL;
	api_job_init(&job->uj_job, req, ctx, STORE_CALL_DURABLE, work,
	    job_done);
	util_strlcpy(job->uj_name, name, sizeof(job->uj_name));
	util_strlcpy(job->uj_digest, digest, sizeof(job->uj_digest));
	return job;
}

/* On a worker thread: verify if needed, fsync, rename, link. */
static void
commit_work(struct store_call *sc)
{
	struct api_upload_job *job = (struct api_upload_job *)sc;

	job->uj_result = upload_commit_work(job->uj_upload, job->uj_digest);
	job->uj_errno = errno;
}

/* On a worker thread: the layer link of a cross-repository mount. */
static void
mount_work(struct store_call *sc)
{
	struct api_upload_job *job = (struct api_upload_job *)sc;

	job->uj_result = store_link_write(api_store(), job->uj_name,
	    STORE_LINK_LAYER, job->uj_digest);
	job->uj_errno = errno;
}

/*
 * On the loop: finish the bookkeeping whether or not the client is still
 * there, then answer it if it is.
 */
static void
job_done(struct store_call *sc)
{
	struct api_upload_job *job = (struct api_upload_job *)sc;
	struct request *req = api_job_detach(&job->uj_job);

	if (!api_running()) {
		/* After reg_shutdown the upload table is gone. */
		free(job);
		return;
	}
	if (job->uj_upload != NULL) {
		/*
		 * On success the store moved the data into blobs/ and removed
		 * the upload directory: closing only frees the session. On
		 * failure the upload is cancelled, as registry:2 does after a
		 * digest mismatch; the client starts over.
		 */
		upload_release(job->uj_upload);
		upload_close(job->uj_upload, job->uj_result != 0);
		job->uj_upload = NULL;
	}
	if (req != NULL) {
		if (job->uj_result == -2)
			http_error(req, 400, "DIGEST_INVALID", NULL);
		else if (job->uj_result == -1)
			api_storage_error(req, job->uj_errno, "storing");
		else {
			http_add_header(req, "Location", "/v2/%s/blobs/%s",
			    job->uj_name, job->uj_digest);
			http_add_header(req, "Docker-Content-Digest", "%s",
			    job->uj_digest);
			http_reply(req, 201, NULL, NULL, 0);
		}
	}
	free(job);
}

/* ----------------------------------------------------------------------
 * Expiry and the start-up purge
 */

/*
 * api_upload_timer_start: sweep idle sessions every
 * API_UPLOAD_EXPIRE_INTERVAL seconds. 0, or -1 (nothing started).
 */
int
api_upload_timer_start(struct event_base *base)
{
	struct timeval tv = {API_UPLOAD_EXPIRE_INTERVAL, 0};

	api_upload_expire_ev = event_new(base, -1, EV_PERSIST, expire_cb, NULL);
	if (api_upload_expire_ev == NULL ||
	    event_add(api_upload_expire_ev, &tv) == -1) {
		if (api_upload_expire_ev != NULL)
			event_free(api_upload_expire_ev);
		api_upload_expire_ev = NULL;
		return -1;
	}
	return 0;
}

/* api_upload_timer_stop: stop the sweeps (no-op when not started). */
void
api_upload_timer_stop(void)
{
	if (api_upload_expire_ev != NULL)
		event_free(api_upload_expire_ev);
	api_upload_expire_ev = NULL;
}

static void
expire_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	upload_expire(API_UPLOAD_IDLE);
}

/*
 * api_upload_purge_start: stale upload directories (a crash, a client
 * that went away) are removed by age, as registry:2's purgeuploads does.
 * The walk may take long on a big tree: a STORE_CALL_WALK.
 */
void
api_upload_purge_start(struct store *store, int age)
{
	if (age <= 0 || api_upload_purge.up_busy)
		return;
	memset(&api_upload_purge, 0, sizeof(api_upload_purge));
	api_upload_purge.up_call.sc_kind = STORE_CALL_WALK;
	api_upload_purge.up_call.sc_work = purge_work;
	api_upload_purge.up_call.sc_done = purge_done;
	api_upload_purge.up_store = store;
	api_upload_purge.up_age = (time_t)age;
	api_upload_purge.up_busy = 1;
	store_call(store, &api_upload_purge.up_call);
}

static void
purge_work(struct store_call *sc)
{
	struct api_upload_purge *up = (struct api_upload_purge *)sc;

	up->up_result = store_upload_purge(up->up_store, up->up_age);
	up->up_errno = errno;
}

static void
purge_done(struct store_call *sc)
{
	struct api_upload_purge *up = (struct api_upload_purge *)sc;

	up->up_busy = 0;
	if (up->up_result == -1) {
		errno = up->up_errno;
		log_warn("purging stale uploads");
	} else if (up->up_result > 0)
		log_info("purged %d stale upload(s)", up->up_result);
}
