/*
 * api_uploads.c: the blob upload endpoints /v2/<name>/blobs/uploads/
 * (OCI distribution-spec end-4a, 4b, 5, 6, 11, 13): POST (a new session,
 * a monolithic upload with ?digest=, a cross-repository mount), GET, PATCH,
 * the closing PUT and DELETE of a session. It owns the session headers
 * (Location, Range, Docker-Upload-UUID), Content-Range checks of chunks,
 * streaming bodies into the session, the storage job that commits a blob or
 * links a mounted one. Closing idle sessions and purging abandoned ones
 * is api_sweep.c's.
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

#include "access.h"
#include "api.h"
#include "api_parse.h"
#include "auth.h"
#include "bounds.h"
#include "config.h"
#include "digest.h"
#include "http.h"
#include "log.h"
#include "router.h"
#include "store.h"
#include "upload.h"
#include "util.h"

/*
 * What an upload job does: its work (a store call) and its answer.
 * Heap-allocated, owned by itself: job_done frees it. The work touches
 * only the job's own fields, the store and the upload the job holds
 * acquired (taken over from the request).
 */
enum api_upload_op {
	UPLOAD_OP_COMMIT, /* verify, make it a blob: 201; mismatch: abort, 400
	                   */
	UPLOAD_OP_CANCEL, /* DELETE of a session: abort, 204 */
	UPLOAD_OP_MOUNT,  /* link a blob the store has: 201, else a session */
};

struct api_upload_job {
	struct api_job uj_job; /* first: the call and request link */
	enum api_upload_op uj_op;
	struct upload *uj_upload; /* acquired, the job's own; or NULL */
	char uj_name[NAME_MAX_LEN + 1];
	char uj_digest[DIGEST_BUFSZ];
	int uj_result; /* 0, -1 (uj_errno), -2 mismatch, -3 not mountable */
	int uj_errno;
};

/*
 * Finding a session's storage: a new session, or one only the store has
 * (after a restart, or started by another instance sharing the store).
 * A store call (it creates or opens files, or asks over the network),
 * after which next continues the handler with the session in the table.
 * The request is held meanwhile, so its body waits for its sink.
 */
typedef void (*api_session_next)(struct request *, struct upload *);

struct api_session_job {
	struct api_job sj_job; /* first: the call and request link */
	int sj_create;         /* 1 create, 0 resume */
	char sj_name[NAME_MAX_LEN + 1];
	char sj_uuid[UUID_LEN + 1];
	char sj_client[UPLOAD_CLIENT_MAX];
	struct store_writer *sj_writer; /* the job's until adopted */
	uint64_t sj_size;
	int sj_errno;
	api_session_next sj_next;
};

/*
 * A session of the table refreshed from a shared store before a request
 * uses it (session_find): holds it acquired meanwhile. Owned by itself.
 */
struct api_refresh_job {
	struct api_job rj_job; /* first: the call and request link */
	struct upload *rj_upload;
	api_session_next rj_next;
	int rj_result;
	int rj_errno;
};

static void session_headers(struct request *, struct upload *);
static void refresh_start(struct request *, struct upload *, api_session_next);
static void refresh_work(struct store_call *);
static void refresh_done(struct store_call *);
static void
session_find(struct request *, const struct route_match *, api_session_next);
static void session_start(struct request *, const struct route_match *, int,
    const char *, api_session_next);
static void session_work(struct store_call *);
static void session_done(struct store_call *);
static int session_acquire(struct request *, struct upload *);
static int content_range(struct request *, struct api_ctx *);
static int range_short(struct request *, struct api_ctx *);
static void post_session(struct request *, const struct route_match *);
static void post_new(struct request *, struct upload *);
static void post_monolithic(struct request *, struct upload *);
static void get_next(struct request *, struct upload *);
static void patch_next(struct request *, struct upload *);
static void put_next(struct request *, struct upload *);
static void delete_next(struct request *, struct upload *);
static void feed(struct request *, struct upload *, http_end_cb);
static int body_cb(struct request *, const char *, size_t);
static void patch_end(struct request *);
static void commit_start(struct request *);
static int job_start(struct request *, struct api_ctx *, enum api_upload_op,
    struct upload *, const char *, const char *);
static void job_work(struct store_call *);
static void job_done(struct store_call *);
static void body_wake(void *);
static void flush_work(struct store_call *);
static void flush_done(struct store_call *);

/*
 * The end of a PATCH on a store that shows appends to other instances
 * only once flushed (S3): the flush, then the 202. It takes the upload
 * over from the request, like a commit, and gives it back (or releases
 * it when the client went away). Owned by itself.
 */
struct api_flush_job {
	struct api_job fj_job; /* first: the call and request link */
	struct upload *fj_upload;
	int fj_result; /* 0, or -1 (fj_errno) */
	int fj_errno;
};

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
 * Continue with next and the session of the routed uuid: from the table
 * at once, or resumed from the store by a store call. Answers 404
 * BLOB_UPLOAD_UNKNOWN itself (also for another user's upload: it is as
 * unknown as one that never was, and for a uuid of another repository).
 */
static void
session_find(struct request *req, const struct route_match *m,
    api_session_next next)
{
	struct upload *u;

	if (!access_upload_state_ok(req, m)) {
		http_error(req, 404, "BLOB_UPLOAD_UNKNOWN", NULL);
		return;
	}
	if (api_ctx_new(req, m) == NULL) {
		http_error(req, 500, "UNKNOWN", "out of memory");
		return;
	}
	if ((u = upload_lookup(m->rm_name, m->rm_ref)) != NULL) {
		/*
		 * On a store shared by instances, another one may have
		 * written to the session since this one last did: refresh
		 * it from the store first (one small read), unless a request
		 * holds it (next answers as for any busy session).
		 */
		if (upload_wants_flush(u) && upload_acquire(u) == 0) {
			refresh_start(req, u, next);
			return;
		}
		next(req, u);
		return;
	}
	session_start(req, m, 0, m->rm_ref, next);
}

/* Refresh u (acquired) from the store in a store call, then next. */
static void
refresh_start(struct request *req, struct upload *u, api_session_next next)
{
	struct api_refresh_job *rj;

	if ((rj = calloc(1, sizeof(*rj))) == NULL) {
		upload_release(u);
		http_error(req, 500, "UNKNOWN", "out of memory");
		return;
	}
	api_job_init(&rj->rj_job, req, http_ctx(req), STORE_CALL_QUICK,
	    refresh_work, refresh_done);
	rj->rj_upload = u;
	rj->rj_next = next;
	http_hold(req);
	api_job_start(&rj->rj_job);
}

static void
refresh_work(struct store_call *sc)
{
	struct api_refresh_job *rj = (struct api_refresh_job *)sc;

	rj->rj_result = upload_refresh_work(rj->rj_upload);
	rj->rj_errno = errno;
}

/*
 * On the loop: give the session back and go on with it, or answer 404
 * when it is gone from the store (forgotten here too).
 */
static void
refresh_done(struct store_call *sc)
{
	struct api_refresh_job *rj = (struct api_refresh_job *)sc;
	struct request *req = api_job_detach(&rj->rj_job);
	struct upload *u = rj->rj_upload;

	if (!api_running()) {
		free(rj);
		return;
	}
	upload_release(u);
	if (rj->rj_result == -1 && rj->rj_errno == ENOENT) {
		upload_close(u);
		u = NULL;
	}
	if (req == NULL)
		goto done;
	if (u != NULL && rj->rj_result == 0)
		rj->rj_next(req, u);
	else if (u == NULL)
		http_error(req, 404, "BLOB_UPLOAD_UNKNOWN", NULL);
	else
		api_storage_error(req, rj->rj_errno, "refreshing the upload");
	http_release(req);
done:
	free(rj);
}

/*
 * Create (create) or resume session uuid of the routed repository in the
 * store, then next. The request is held until session_done.
 */
static void
session_start(struct request *req, const struct route_match *m, int create,
    const char *uuid, api_session_next next)
{
	struct api_session_job *sj;
	struct api_ctx *ctx;

	if ((ctx = api_ctx_new(req, m)) == NULL ||
	    (sj = calloc(1, sizeof(*sj))) == NULL) {
		http_error(req, 500, "UNKNOWN", "out of memory");
		return;
	}
	api_job_init(&sj->sj_job, req, ctx, STORE_CALL_QUICK, session_work,
	    session_done);
	sj->sj_create = create;
	util_strlcpy(sj->sj_name, m->rm_name, sizeof(sj->sj_name));
	util_strlcpy(sj->sj_uuid, uuid, sizeof(sj->sj_uuid));
	access_client_key(req, sj->sj_client, sizeof(sj->sj_client));
	sj->sj_next = next;
	http_hold(req);
	api_job_start(&sj->sj_job);
}

/* Wherever the store runs it: only the job's fields and the store. */
static void
session_work(struct store_call *sc)
{
	struct api_session_job *sj = (struct api_session_job *)sc;

	if (sj->sj_create) {
		sj->sj_writer =
		    store_upload_create(api_store(), sj->sj_name, sj->sj_uuid);
		/* Nothing writes before the first PATCH: hold nothing. */
		if (sj->sj_writer != NULL)
			store_writer_idle(sj->sj_writer);
	} else
		sj->sj_writer = store_upload_resume(api_store(), sj->sj_name,
		    sj->sj_uuid, &sj->sj_size);
	sj->sj_errno = errno;
}

/*
 * On the loop: put the session in the table (even when the client went
 * away: it expires like any idle one), then continue the handler.
 */
static void
session_done(struct store_call *sc)
{
	struct api_session_job *sj = (struct api_session_job *)sc;
	struct request *req = api_job_detach(&sj->sj_job);
	struct upload *u = NULL;

	/*
	 * A resumed session counts against the caps like a new one (a POST
	 * checked those): else a restart, or sessions other instances
	 * started, would let a client hold any number.
	 */
	if (sj->sj_writer != NULL && !sj->sj_create && req != NULL &&
	    upload_lookup(sj->sj_name, sj->sj_uuid) == NULL &&
	    !access_upload_allowed(req)) {
		store_writer_free(sj->sj_writer);
		http_release(req);
		free(sj);
		return;
	}
	if (sj->sj_writer != NULL && api_running()) {
		/* Another request may have resumed it meanwhile. */
		if ((u = upload_lookup(sj->sj_name, sj->sj_uuid)) == NULL &&
		    (u = upload_adopt(sj->sj_name, sj->sj_uuid, sj->sj_client,
		         sj->sj_writer, sj->sj_create)) != NULL)
			sj->sj_writer = NULL;
		sj->sj_errno = errno;
	}
	store_writer_free(sj->sj_writer);
	if (req == NULL)
		goto done;
	if (u != NULL)
		sj->sj_next(req, u);
	else if (!sj->sj_create && sj->sj_errno == ENOENT)
		http_error(req, 404, "BLOB_UPLOAD_UNKNOWN", NULL);
	else
		api_storage_error(req, sj->sj_errno,
		    sj->sj_create ? "creating the upload"
		                  : "resuming the upload");
	http_release(req);
done:
	free(sj);
}

/*
 * Acquire u for this request (which has its api_ctx) as its
 * ctx->ac_upload. -1 after answering 416 while another request holds it
 * (a chunk out of order with respect to that one).
 */
static int
session_acquire(struct request *req, struct upload *u)
{
	struct api_ctx *ctx = http_ctx(req);

	if (upload_acquire(u) == -1) {
		session_headers(req, u);
		http_error(req, 416, "BLOB_UPLOAD_INVALID",
		    "upload in use by another request");
		return -1;
	}
	ctx->ac_upload = u;
	return 0;
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

/*
 * At the end of a body placed by a Content-Range: 1 after answering 416
 * when the body ended before the range did, with the session back at the
 * offset the request found (what it wrote is undone, as for a chunk
 * longer than its range in body_cb). Only a chunked body can be short: a
 * Content-Length must equal the range's length (content_range).
 */
static int
range_short(struct request *req, struct api_ctx *ctx)
{
	struct upload *u = ctx->ac_upload;
	uint64_t off = upload_offset(u);

	/* The range began at the old offset, so a full one ends off - 1. */
	if (!ctx->ac_has_range || (off > 0 && off - 1 == ctx->ac_range_end))
		return 0;
	upload_rollback(u);
	session_headers(req, u);
	http_error(req, 416, "BLOB_UPLOAD_INVALID",
	    "chunk shorter than its Content-Range");
	return 1;
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
	const char *query = http_query(req);
	struct api_ctx *ctx;
	int rc;

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
		/* Not mountable: job_done goes on with post_session. */
		if ((ctx = api_ctx_new(req, m)) == NULL ||
		    job_start(req, ctx, UPLOAD_OP_MOUNT, NULL, m->rm_name,
		        mount) == -1)
			http_error(req, 500, "UNKNOWN", "out of memory");
		return;
	}
	post_session(req, m);
}

/*
 * POST without a mount (or one not mountable): a new session, for a
 * monolithic upload when ?digest= is given.
 */
static void
post_session(struct request *req, const struct route_match *m)
{
	char digest[DIGEST_BUFSZ], uuid[UUID_LEN + 1];
	struct api_ctx *ctx;
	int rc;

	rc = util_query_get(http_query(req), "digest", digest, sizeof(digest));
	if (rc == -1 || (rc == 1 && !digest_is_valid(digest, strlen(digest)))) {
		http_error(req, 400, "DIGEST_INVALID", "invalid digest");
		return;
	}
	if (!access_upload_allowed(req))
		return;
	if (util_uuid(uuid) == -1 || (ctx = api_ctx_new(req, m)) == NULL) {
		http_error(req, 500, "UNKNOWN", "cannot start the upload");
		return;
	}
	if (rc == 1) {
		http_log_digest(req, digest);
		util_strlcpy(ctx->ac_digest, digest, sizeof(ctx->ac_digest));
	}
	session_start(req, m, 1, uuid, rc == 1 ? post_monolithic : post_new);
}

/* POST without ?digest=: 202 with the new session's state. */
static void
post_new(struct request *req, struct upload *u)
{
	/* registry:2 ignores a body here; http.c discards it. */
	session_headers(req, u);
	http_reply(req, 202, NULL, NULL, 0);
}

/* POST ?digest=: the body is the whole blob; commit when it is in. */
static void
post_monolithic(struct request *req, struct upload *u)
{
	/* A fresh session: nobody else can hold it. */
	if (session_acquire(req, u) == -1)
		return;
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
	session_find(req, m, get_next);
}

static void
get_next(struct request *req, struct upload *u)
{
	session_headers(req, u);
	http_reply(req, 204, NULL, NULL, 0);
}

/*
 * Start a PATCH or the closing PUT on session u: take it, check the
 * Content-Range, then stream the body (if any) into it; end runs when
 * the body is in.
 */
static void
feed(struct request *req, struct upload *u, http_end_cb end)
{
	struct api_ctx *ctx;

	if (session_acquire(req, u) == -1)
		return;
	ctx = http_ctx(req);
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
	session_find(req, m, patch_next);
}

static void
patch_next(struct request *req, struct upload *u)
{
	feed(req, u, patch_end);
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
		if (errno == ENOENT) {
			/*
			 * Purged, or cancelled or committed by another
			 * instance: the session is gone here too.
			 */
			ctx->ac_upload = NULL;
			upload_release(u);
			upload_close(u);
			http_error(req, 404, "BLOB_UPLOAD_UNKNOWN", NULL);
		} else
			api_storage_error(req, errno, "upload_write");
		return -1;
	}
	/*
	 * A store still sending earlier bytes: hold the client back (TCP)
	 * rather than buffer without bound.
	 */
	if (upload_busy(u, body_wake, req)) {
		log_debug("%s: conn %u: store busy, body paused", __func__,
		    http_conn_id(req));
		http_body_pause(req);
	}
	return 0;
}

/*
 * The store takes bytes again: read on. The wake is forgotten when the
 * request goes (upload_release), so req is alive here.
 */
static void
body_wake(void *arg)
{
	http_body_resume(arg);
}

/*
 * End of a PATCH body: 202 with the new state ("Pushing a blob in
 * chunks"), or 416 when it fell short of its Content-Range.
 */
static void
patch_end(struct request *req)
{
	struct api_ctx *ctx = http_ctx(req);
	struct api_flush_job *fj;

	if (range_short(req, ctx))
		return;
	if (upload_wants_flush(ctx->ac_upload)) {
		if ((fj = calloc(1, sizeof(*fj))) == NULL) {
			http_error(req, 500, "UNKNOWN", "out of memory");
			return;
		}
		api_job_init(&fj->fj_job, req, ctx, STORE_CALL_DURABLE,
		    flush_work, flush_done);
		fj->fj_upload = ctx->ac_upload;
		ctx->ac_upload = NULL;
		api_job_start(&fj->fj_job);
		return;
	}
	ctx->ac_upload_kept = 1;
	session_headers(req, ctx->ac_upload);
	http_reply(req, 202, NULL, NULL, 0);
}

static void
flush_work(struct store_call *sc)
{
	struct api_flush_job *fj = (struct api_flush_job *)sc;

	fj->fj_result = upload_flush_work(fj->fj_upload);
	fj->fj_errno = errno;
}

/*
 * On the loop: the request gets its upload back and its answer; a failed
 * flush undoes the request's bytes, as a failed append would.
 */
static void
flush_done(struct store_call *sc)
{
	struct api_flush_job *fj = (struct api_flush_job *)sc;
	struct request *req = api_job_detach(&fj->fj_job);
	struct api_ctx *ctx;

	if (!api_running()) {
		free(fj);
		return;
	}
	if (fj->fj_result == -1 && fj->fj_errno == ENOENT) {
		/* Cancelled, committed or purged elsewhere: gone here too. */
		upload_release(fj->fj_upload);
		upload_close(fj->fj_upload);
		if (req != NULL)
			http_error(req, 404, "BLOB_UPLOAD_UNKNOWN", NULL);
		free(fj);
		return;
	}
	if (fj->fj_result == -1)
		upload_rollback(fj->fj_upload);
	if (req == NULL) {
		/*
		 * Gone before its 202: the bytes stay all the same, since the
		 * store (which other instances read) has them now; a GET of
		 * the session tells the client.
		 */
		upload_release(fj->fj_upload);
		free(fj);
		return;
	}
	ctx = http_ctx(req);
	ctx->ac_upload = fj->fj_upload;
	if (fj->fj_result == -1)
		api_storage_error(req, fj->fj_errno, "storing the chunk");
	else {
		ctx->ac_upload_kept = 1;
		session_headers(req, fj->fj_upload);
		http_reply(req, 202, NULL, NULL, 0);
	}
	free(fj);
}

/*
 * api_upload_put: PUT /v2/<name>/blobs/uploads/<uuid>?digest= (end-6):
 * the optional last chunk, then the commit.
 */
void
api_upload_put(struct request *req, const struct route_match *m)
{
	char digest[DIGEST_BUFSZ];
	struct api_ctx *ctx;
	int rc;

	/* "The closing PUT request MUST include the <digest>". */
	rc = util_query_get(http_query(req), "digest", digest, sizeof(digest));
	if (rc != 1 || !digest_is_valid(digest, strlen(digest))) {
		http_error(req, 400, "DIGEST_INVALID",
		    "missing or invalid digest parameter");
		return;
	}
	http_log_digest(req, digest);
	if ((ctx = api_ctx_new(req, m)) == NULL) {
		http_error(req, 500, "UNKNOWN", "out of memory");
		return;
	}
	util_strlcpy(ctx->ac_digest, digest, sizeof(ctx->ac_digest));
	session_find(req, m, put_next);
}

static void
put_next(struct request *req, struct upload *u)
{
	feed(req, u, commit_start);
}

/*
 * All bytes are in: verify and commit in one store call (fsync and
 * rename). A mismatch cancels the upload: 400 DIGEST_INVALID, as
 * registry:2 does; the client starts over. The running hash is not
 * trusted here on the loop: another instance sharing the root may have
 * appended to the session since this one last wrote (POST and a PATCH
 * here, a PATCH there, the PUT here), and only upload_commit_work, which
 * compares the data's size with what this process hashed and re-reads
 * when they differ, can tell. The job takes over the acquired upload, so
 * the request's cleanup leaves it alone if the client goes away meanwhile.
 */
static void
commit_start(struct request *req)
{
	struct api_ctx *ctx = http_ctx(req);
	struct upload *u = ctx->ac_upload;

	if (range_short(req, ctx))
		return;
	ctx->ac_upload = NULL;
	if (job_start(req, ctx, UPLOAD_OP_COMMIT, u, ctx->ac_match.rm_name,
	        ctx->ac_digest) == -1) {
		upload_rollback(u);
		upload_release(u);
		http_error(req, 500, "UNKNOWN", "out of memory");
	}
}

/*
 * api_upload_delete: DELETE /v2/<name>/blobs/uploads/<uuid>: cancel the
 * session, 204.
 */
void
api_upload_delete(struct request *req, const struct route_match *m)
{
	session_find(req, m, delete_next);
}

static void
delete_next(struct request *req, struct upload *u)
{
	struct api_ctx *ctx;

	if (session_acquire(req, u) == -1)
		return;
	ctx = http_ctx(req);
	ctx->ac_upload = NULL;
	if (job_start(req, ctx, UPLOAD_OP_CANCEL, u, upload_name(u), "") ==
	    -1) {
		upload_release(u);
		http_error(req, 500, "UNKNOWN", "out of memory");
	}
}

/* ----------------------------------------------------------------------
 * Upload jobs: commit, mismatch, cancel, mount
 */

/*
 * Start job op for req, which has ctx, on blob digest of repository
 * name, taking over u (acquired, or NULL for a mount). -1 on allocation
 * failure (the caller still holds u).
 */
static int
job_start(struct request *req, struct api_ctx *ctx, enum api_upload_op op,
    struct upload *u, const char *name, const char *digest)
{
	struct api_upload_job *job;

	if ((job = calloc(1, sizeof(*job))) == NULL)
		return -1;
	api_job_init(&job->uj_job, req, ctx,
	    op == UPLOAD_OP_COMMIT || op == UPLOAD_OP_MOUNT ? STORE_CALL_DURABLE
	                                                    : STORE_CALL_QUICK,
	    job_work, job_done);
	job->uj_op = op;
	job->uj_upload = u;
	util_strlcpy(job->uj_name, name, sizeof(job->uj_name));
	util_strlcpy(job->uj_digest, digest, sizeof(job->uj_digest));
	api_job_start(&job->uj_job);
	return 0;
}

/*
 * Wherever the store runs it: only the job's fields, the store and the
 * upload the job holds. A commit that fails removes the upload's data:
 * the client starts over, as after a mismatch.
 */
static void
job_work(struct store_call *sc)
{
	struct api_upload_job *job = (struct api_upload_job *)sc;
	uint64_t size;

	switch (job->uj_op) {
	case UPLOAD_OP_COMMIT:
		job->uj_result =
		    upload_commit_work(job->uj_upload, job->uj_digest);
		job->uj_errno = errno;
		if (job->uj_result != 0)
			(void)upload_abort_work(job->uj_upload);
		break;
	case UPLOAD_OP_CANCEL:
		if (upload_abort_work(job->uj_upload) == -1 && errno != ENOENT)
			log_warn("%s: remove %s/_uploads/%s", __func__,
			    job->uj_name, upload_uuid(job->uj_upload));
		job->uj_result = 0;
		break;
	case UPLOAD_OP_MOUNT:
		if (store_blob_stat(api_store(), job->uj_digest, &size) == -1)
			job->uj_result = -3;
		else
			job->uj_result = store_link_write(api_store(),
			    job->uj_name, STORE_LINK_LAYER, job->uj_digest);
		job->uj_errno = errno;
		break;
	}
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
	struct api_ctx *ctx;

	if (!api_running()) {
		/* After reg_shutdown the upload table is gone. */
		free(job);
		return;
	}
	if (job->uj_upload != NULL) {
		/* Committed or aborted: the session is done with. */
		upload_release(job->uj_upload);
		upload_close(job->uj_upload);
		job->uj_upload = NULL;
	}
	if (req == NULL)
		goto done;
	if (job->uj_result == -3) {
		/* Not mountable: "it SHOULD return a 202" with a session. */
		ctx = http_ctx(req);
		post_session(req, &ctx->ac_match);
	} else if (job->uj_result == -2)
		http_error(req, 400, "DIGEST_INVALID", NULL);
	else if (job->uj_result == -1 && job->uj_errno == ENOENT &&
	    job->uj_op == UPLOAD_OP_COMMIT)
		/* Purged or cancelled by another instance meanwhile. */
		http_error(req, 404, "BLOB_UPLOAD_UNKNOWN", NULL);
	else if (job->uj_result == -1)
		api_storage_error(req, job->uj_errno, "storing");
	else if (job->uj_op == UPLOAD_OP_CANCEL)
		http_reply(req, 204, NULL, NULL, 0);
	else {
		http_add_header(req, "Location", "/v2/%s/blobs/%s",
		    job->uj_name, job->uj_digest);
		http_add_header(req, "Docker-Content-Digest", "%s",
		    job->uj_digest);
		http_reply(req, 201, NULL, NULL, 0);
	}
done:
	free(job);
}
