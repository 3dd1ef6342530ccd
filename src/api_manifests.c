/*
 * api_manifests.c: /v2/<name>/manifests/<reference> (OCI
 * distribution-spec end-3, end-7, end-9). It owns reading a manifest by tag or
 * digest (the served Content-Type, schema 1 included, comes from
 * api_parse_served_type; Accept; ETag), buffering, validating and storing a
 * pushed one (the storage job that checks its references, then writes the blob,
 * the revision link and the tag), and deleting tags and revisions. The
 * referrers of a subject are api_referrers.c's.
 *
 * Manifest bodies are held in memory until stored, so their total is
 * bounded ([http] manifest_buffer_max, body_grow): a buffer grows as the
 * bytes arrive, never from what Content-Length claims, and every byte of
 * it counts until it is freed, whichever way the request ends.
 *
 * Every handler's storage work is one store call (struct api_job): its
 * work function makes the store calls on the job's own copies, wherever
 * the driver runs it; its done function answers on the loop. Nothing
 * here calls the store from the loop.
 *
 * Manifest parsing and media types are manifest.c's; the storage layout
 * is the store's.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_parse.h"
#include "bounds.h"
#include "catalog.h"
#include "config.h"
#include "digest.h"
#include "gc.h"
#include "http.h"
#include "log.h"
#include "manifest.h"
#include "router.h"
#include "store.h"
#include "util.h"

/* Where a manifest read stopped (get_work); get_done answers by it. */
enum get_result {
	GET_FOUND,        /* mg_buf holds the bytes */
	GET_NOT_MODIFIED, /* If-None-Match names the digest: nothing read */
	GET_UNKNOWN,      /* no such tag, or no revision link */
	GET_NO_PLATFORM,  /* old client: the list has no linux/amd64 image */
	GET_TAG_FAILED,   /* store_tag_get: mg_errno */
	GET_LINK_FAILED,  /* store_link_exists: mg_errno */
	GET_READ_FAILED,  /* store_blob_read: mg_errno */
};

/*
 * The platform registry:2 serves to a client that cannot read a manifest
 * list (its defaultOS and defaultArch).
 */
#define GET_OLD_CLIENT_OS   "linux"
#define GET_OLD_CLIENT_ARCH "amd64"

/*
 * A manifest read (GET, HEAD): resolving the tag, the revision link check
 * and reading the bytes are one store call; get_done picks the served
 * type, applies Accept and answers on the loop. Owned by itself: get_done
 * frees it and what it holds.
 */
struct api_manifest_get {
	struct api_job mg_job; /* first: the call and request link */
	char mg_name[NAME_MAX_LEN + 1];
	char mg_tag[TAG_MAX_LEN + 1]; /* "" when by digest */
	char mg_digest[DIGEST_BUFSZ]; /* given, or once the tag names it */
	char *mg_inm;                 /* If-None-Match, owned, or NULL */
	char *mg_accept;              /* Accept, owned, or NULL */
	/*
	 * By tag, a Docker manifest list whose type Accept lacks: the list's
	 * linux/amd64 image manifest is served instead (get_old_client), and
	 * mg_digest is that manifest's.
	 */
	int mg_old_client;
	enum get_result mg_result;
	int mg_repo_exists; /* GET_UNKNOWN: store_repo_exists said 1 */
	char *mg_buf;       /* GET_FOUND: the manifest, owned */
	size_t mg_len;
	/*
	 * GET_FOUND: the type to serve mg_buf with (api_parse_served_type),
	 * found once by get_work: parsing the manifest is most of a GET's
	 * cost, and get_old_client needs the type first.
	 */
	char mg_type[MANIFEST_MT_MAX];
	int mg_errno;
};

/* How a manifest push ended (put_work); put_done answers by it. */
enum put_result {
	PUT_STORED,       /* blob, revision link and tag written */
	PUT_REF_UNKNOWN,  /* reference mj_missing is not in the repository */
	PUT_REF_FAILED,   /* store_link_exists: mj_errno; nothing written */
	PUT_STORE_FAILED, /* a write: mj_errno */
};

/*
 * A manifest to store, a durable store call: the reference checks, then
 * blob, revision link, tag. Heap-allocated, owned by itself: put_done
 * frees it. The work touches only the job's own fields and the store.
 */
struct api_manifest_job {
	struct api_job mj_job; /* first: the call and request link */
	char mj_name[NAME_MAX_LEN + 1];
	char mj_tag[TAG_MAX_LEN + 1]; /* "" if none */
	char mj_digest[DIGEST_BUFSZ];
	struct manifest mj_mf; /* the parsed manifest, owned */
	char *mj_buf;          /* the bytes, owned */
	size_t mj_len;
	enum put_result mj_result;
	size_t mj_missing; /* PUT_REF_UNKNOWN: index in mj_mf.m_refs */
	int mj_errno;
};

/*
 * A manifest delete: the tag, or the revision link and the tags naming
 * it, in one store call; delete_done answers. Owned by itself.
 */
struct api_manifest_delete {
	struct api_job md_job; /* first: the call and request link */
	char md_name[NAME_MAX_LEN + 1];
	char md_tag[TAG_MAX_LEN + 1]; /* "" when by digest */
	char md_digest[DIGEST_BUFSZ]; /* "" when by tag */
	int md_result; /* of the tag or link delete: 0, -1 (md_errno) */
	int md_errno;
	int md_repo_exists; /* ENOENT: store_repo_exists said 1 */
};

static void get_work(struct store_call *);
static int get_old_client(struct api_manifest_get *, struct store *);
static void get_done(struct store_call *);
static void get_free(struct api_manifest_get *);
static int body_grow(struct request *, struct api_ctx *, size_t);
static void body_refuse(struct request *);
static int body_cb(struct request *, const char *, size_t);
static void body_end(struct request *);
static enum store_link ref_link(const struct manifest_ref *);
static void put_work(struct store_call *);
static void put_done(struct store_call *);
static void put_free(struct api_manifest_job *);
static void delete_work(struct store_call *);
static void delete_untag(struct store *, const char *, const char *);
static void delete_done(struct store_call *);

/*
 * Bytes of manifest bodies in memory, all requests together: the capacity
 * of every request's ac_buf, then the length of each manifest job's
 * mj_buf until put_free. Only the loop touches it (put_free runs in
 * put_done).
 */
static size_t body_held;

/* ----------------------------------------------------------------------
 * Manifests
 */

/*
 * api_manifest_get: GET/HEAD /v2/<name>/manifests/<reference> (end-3).
 * Manifests are small (MANIFEST_MAX_BYTES) and read per request, in one
 * store call; http_reply copies them.
 */
void
api_manifest_get(struct request *req, const struct route_match *m)
{
	struct api_manifest_get *mg;
	const char *inm, *accept;
	char *inm_copy = NULL, *accept_copy = NULL;

	/*
	 * The tag's digest, and whether it names a manifest list, are known
	 * only in get_work: take the headers.
	 */
	if (((inm = http_header(req, "If-None-Match")) != NULL &&
	        (inm_copy = strdup(inm)) == NULL) ||
	    ((accept = http_header(req, "Accept")) != NULL &&
	        (accept_copy = strdup(accept)) == NULL)) {
		free(inm_copy);
		http_error(req, 500, "UNKNOWN", "out of memory");
		return;
	}
	if ((mg = api_job_new(req, m, sizeof(*mg), STORE_CALL_QUICK, get_work,
	         get_done)) == NULL) {
		free(inm_copy);
		free(accept_copy);
		return;
	}
	mg->mg_inm = inm_copy;
	mg->mg_accept = accept_copy;
	util_strlcpy(mg->mg_name, m->rm_name, sizeof(mg->mg_name));
	if (m->rm_ref_is_digest)
		util_strlcpy(mg->mg_digest, m->rm_ref, sizeof(mg->mg_digest));
	else
		util_strlcpy(mg->mg_tag, m->rm_ref, sizeof(mg->mg_tag));
	api_job_start(&mg->mg_job);
}

/*
 * Wherever the store runs it: only the job's own fields and the store.
 * The tag, the revision link, If-None-Match, then the bytes; whether the
 * repository exists only when the manifest does not (NAME_UNKNOWN or
 * MANIFEST_UNKNOWN). By tag, for a client whose Accept lacks the manifest
 * list type, a manifest list is replaced by its linux/amd64 image
 * (get_old_client); If-None-Match then waits for the digest served.
 */
static void
get_work(struct store_call *sc)
{
	struct api_manifest_get *mg = (struct api_manifest_get *)sc;
	struct store *st = api_store();
	char digest[DIGEST_BUFSZ];
	int rc, old_client;

	if (mg->mg_tag[0] != '\0') {
		if (store_tag_get(st, mg->mg_name, mg->mg_tag, digest) == -1) {
			mg->mg_errno = errno;
			mg->mg_result =
			    errno == ENOENT ? GET_UNKNOWN : GET_TAG_FAILED;
			goto done;
		}
		util_strlcpy(mg->mg_digest, digest, sizeof(mg->mg_digest));
	}

	/*
	 * A tag counts only while its revision link exists: deleting a
	 * manifest by digest leaves the blob, and perhaps a tag written by
	 * another process, behind.
	 */
	rc = store_link_exists(st, mg->mg_name, STORE_LINK_REVISION,
	    mg->mg_digest);
	if (rc != 1) {
		mg->mg_errno = errno;
		mg->mg_result = rc == 0 ? GET_UNKNOWN : GET_LINK_FAILED;
		goto done;
	}
	/*
	 * registry:2 also rewrites a list when Accept is absent; here a
	 * client that sends none gets what is stored, and "* / *" admits
	 * the list.
	 */
	old_client = mg->mg_tag[0] != '\0' && mg->mg_accept != NULL &&
	    !manifest_accepts(mg->mg_accept, MT_DOCKER_LIST);
	if (!old_client && mg->mg_inm != NULL &&
	    api_parse_etag_matches(mg->mg_inm, mg->mg_digest)) {
		mg->mg_result = GET_NOT_MODIFIED;
		goto done;
	}
	if (store_blob_read(st, mg->mg_digest, MANIFEST_MAX_BYTES, &mg->mg_buf,
	        &mg->mg_len) == -1) {
		mg->mg_errno = errno;
		mg->mg_result = GET_READ_FAILED;
		goto done;
	}
	api_parse_served_type(mg->mg_buf, mg->mg_len, mg->mg_type,
	    sizeof(mg->mg_type));
	if (old_client && get_old_client(mg, st) == -1)
		goto done;
	if (old_client && mg->mg_inm != NULL &&
	    api_parse_etag_matches(mg->mg_inm, mg->mg_digest)) {
		free(mg->mg_buf);
		mg->mg_buf = NULL;
		mg->mg_result = GET_NOT_MODIFIED;
		goto done;
	}
	mg->mg_result = GET_FOUND;
done:
	if (mg->mg_result == GET_UNKNOWN)
		mg->mg_repo_exists = store_repo_exists(st, mg->mg_name) == 1;
}

/*
 * An old client asked by tag, without the manifest list type in Accept
 * (Docker before 1.10 and others that know only image manifests). When
 * mg_buf is a Docker manifest list (mg_type), replace it with its linux/amd64
 * image manifest, as registry:2 does (OCI indexes are not rewritten there
 * either: they get 404 when not accepted, like any type). The image
 * manifest's own type is checked against Accept by get_done, so a client
 * that accepts neither gets 404 MANIFEST_UNKNOWN; registry:2's schema1
 * conversion is not done. Returns 0 (mg_buf is what to serve, mg_digest
 * its digest, mg_type its type), or -1 with mg_result set.
 */
static int
get_old_client(struct api_manifest_get *mg, struct store *st)
{
	char type[MANIFEST_MT_MAX], child[DIGEST_BUFSZ];
	int rc;

	if (strcmp(mg->mg_type, MT_DOCKER_LIST) != 0)
		return 0;
	if (manifest_list_pick(mg->mg_buf, mg->mg_len, GET_OLD_CLIENT_OS,
	        GET_OLD_CLIENT_ARCH, child, type, sizeof(type)) == -1) {
		mg->mg_result = GET_NO_PLATFORM;
		return -1;
	}
	free(mg->mg_buf);
	mg->mg_buf = NULL;
	mg->mg_len = 0;
	/* Only what this repository has: the list may name others. */
	rc = store_link_exists(st, mg->mg_name, STORE_LINK_REVISION, child);
	if (rc != 1) {
		mg->mg_errno = errno;
		mg->mg_result = rc == 0 ? GET_NO_PLATFORM : GET_LINK_FAILED;
		return -1;
	}
	util_strlcpy(mg->mg_digest, child, sizeof(mg->mg_digest));
	mg->mg_old_client = 1;
	if (store_blob_read(st, mg->mg_digest, MANIFEST_MAX_BYTES, &mg->mg_buf,
	        &mg->mg_len) == -1) {
		mg->mg_errno = errno;
		mg->mg_result = GET_READ_FAILED;
		return -1;
	}
	api_parse_served_type(mg->mg_buf, mg->mg_len, mg->mg_type,
	    sizeof(mg->mg_type));
	return 0;
}

/* On the loop: answer, if the client is still there. */
static void
get_done(struct store_call *sc)
{
	struct api_manifest_get *mg = (struct api_manifest_get *)sc;
	struct request *req = api_job_detach(&mg->mg_job);
	const char *accept;

	if (req == NULL)
		goto done;
	if (mg->mg_digest[0] != '\0')
		http_log_digest(req, mg->mg_digest);
	switch (mg->mg_result) {
	case GET_UNKNOWN:
		api_name_or_manifest_unknown(req, mg->mg_repo_exists);
		goto done;
	case GET_NO_PLATFORM:
		http_error(req, 404, "MANIFEST_UNKNOWN",
		    "manifest list without a %s/%s image manifest for a client "
		    "that does not accept manifest lists",
		    GET_OLD_CLIENT_OS, GET_OLD_CLIENT_ARCH);
		goto done;
	case GET_TAG_FAILED:
		api_storage_error(req, mg->mg_errno, "store_tag_get");
		goto done;
	case GET_LINK_FAILED:
		api_storage_error(req, mg->mg_errno, "store_link_exists");
		goto done;
	case GET_FOUND:
	case GET_NOT_MODIFIED:
	case GET_READ_FAILED:
		break;
	}

	http_add_header(req, "Docker-Content-Digest", "%s", mg->mg_digest);
	http_add_header(req, "ETag", "\"%s\"", mg->mg_digest);
	if (mg->mg_result == GET_NOT_MODIFIED) {
		http_reply(req, 304, NULL, NULL, 0);
		goto done;
	}
	if (mg->mg_result == GET_READ_FAILED) {
		if (mg->mg_errno == ENOENT)
			http_error(req, 404, "MANIFEST_UNKNOWN", NULL);
		else
			api_storage_error(req, mg->mg_errno, "store_blob_read");
		goto done;
	}
	/*
	 * A client that cannot handle the type gets 404, as registry:2 does
	 * for an OCI manifest requested without the OCI type in Accept.
	 */
	accept = http_header(req, "Accept");
	if (accept != NULL && !manifest_accepts(accept, mg->mg_type)) {
		http_error(req, 404, "MANIFEST_UNKNOWN",
		    "manifest media type %s not in Accept", mg->mg_type);
		goto done;
	}
	if (mg->mg_old_client)
		log_debug("%s: conn %u: %s:%s: the manifest list's %s/%s image "
		          "%s for a client that does not accept lists",
		    __func__, http_conn_id(req), mg->mg_name, mg->mg_tag,
		    GET_OLD_CLIENT_OS, GET_OLD_CLIENT_ARCH, mg->mg_digest);
	http_reply(req, 200, mg->mg_type, mg->mg_buf, mg->mg_len);
done:
	get_free(mg);
}

static void
get_free(struct api_manifest_get *mg)
{
	free(mg->mg_inm);
	free(mg->mg_accept);
	free(mg->mg_buf);
	free(mg);
}

/*
 * api_manifest_put: PUT /v2/<name>/manifests/<reference> (end-7): buffer
 * the body, bounded by MANIFEST_MAX_BYTES (413, "Pushing Manifests") and
 * by what all PUTs hold together (503, body_grow), then validate and
 * store it in body_end.
 */
void
api_manifest_put(struct request *req, const struct route_match *m)
{
	struct api_ctx *ctx;
	int64_t cl = http_content_length(req);

	if (cl > MANIFEST_MAX_BYTES) {
		http_error(req, 413, "SIZE_INVALID",
		    "manifest larger than %d bytes", MANIFEST_MAX_BYTES);
		return;
	}
	/*
	 * A body announced that would not fit now is refused before it is
	 * read. Nothing is allocated from Content-Length: it only caps how
	 * far body_grow grows, so a client that announces 4 MiB and sends
	 * little holds little.
	 */
	if (cl > 0 &&
	    body_held + (uint64_t)cl >
	        (uint64_t)api_config()->cf_manifest_buffer_max) {
		body_refuse(req);
		return;
	}
	if ((ctx = api_ctx_new(req, m)) == NULL) {
		http_error(req, 500, "UNKNOWN", "out of memory");
		return;
	}
	if (!http_has_body(req)) {
		body_end(req);
		return;
	}
	http_body_sink(req, body_cb, body_end);
}

/*
 * 503 UNAVAILABLE with Retry-After, not 429 TOOMANYREQUESTS: the limit is
 * the server's, shared by every client, and it clears as the bodies in
 * flight complete or time out, not by this client slowing down. Docker
 * also takes TOOMANYREQUESTS as final (moby's retryOnError marks it
 * DoNotRetry, for Docker Hub's rate limit), UNAVAILABLE not.
 */
static void
body_refuse(struct request *req)
{
	http_add_header(req, "Retry-After", "%d", MANIFEST_BUFFER_RETRY_AFTER);
	http_error(req, 503, "UNAVAILABLE",
	    "manifest bodies held in memory at the limit (%zu of %d bytes)",
	    body_held, api_config()->cf_manifest_buffer_max);
}

/*
 * Make room for need bytes in ctx->ac_buf: double the capacity (from 4
 * KiB), but never past MANIFEST_MAX_BYTES or the Content-Length, which
 * only caps the growth; count what it adds in body_held. 0, or -1 after
 * answering 503 (beyond manifest_buffer_max) or 500.
 */
static int
body_grow(struct request *req, struct api_ctx *ctx, size_t need)
{
	int64_t cl = http_content_length(req);
	size_t ncap;
	char *nbuf;

	if (need <= ctx->ac_cap)
		return 0;
	ncap = ctx->ac_cap > 0 ? ctx->ac_cap : 4096;
	while (ncap < need)
		ncap *= 2;
	if (ncap > MANIFEST_MAX_BYTES)
		ncap = MANIFEST_MAX_BYTES;
	if (cl > 0 && (uint64_t)cl >= need && ncap > (uint64_t)cl)
		ncap = (size_t)cl;
	if (body_held + (ncap - ctx->ac_cap) >
	    (size_t)api_config()->cf_manifest_buffer_max) {
		body_refuse(req);
		return -1;
	}
	if ((nbuf = realloc(ctx->ac_buf, ncap)) == NULL) {
		http_error(req, 500, "UNKNOWN", "out of memory");
		return -1;
	}
	body_held += ncap - ctx->ac_cap;
	ctx->ac_buf = nbuf;
	ctx->ac_cap = ncap;
	return 0;
}

/*
 * api_manifest_body_free: free the request's manifest buffer, if any, and
 * stop counting it (the request's cleanup, an answer before the end).
 */
void
api_manifest_body_free(struct api_ctx *ctx)
{
	if (ctx->ac_buf == NULL)
		return;
	body_held -= ctx->ac_cap;
	free(ctx->ac_buf);
	ctx->ac_buf = NULL;
	ctx->ac_len = ctx->ac_cap = 0;
}

/* api_manifest_body_held: bytes of manifest bodies in memory (tests). */
size_t
api_manifest_body_held(void)
{
	return body_held;
}

/*
 * Append a chunk of manifest body; a chunked body is bounded here. An
 * answer before the end frees the buffer at once: the connection may
 * linger a while discarding the rest.
 */
static int
body_cb(struct request *req, const char *buf, size_t len)
{
	struct api_ctx *ctx = http_ctx(req);

	if (len > MANIFEST_MAX_BYTES - ctx->ac_len) {
		http_error(req, 413, "SIZE_INVALID",
		    "manifest larger than %d bytes", MANIFEST_MAX_BYTES);
		api_manifest_body_free(ctx);
		return -1;
	}
	if (body_grow(req, ctx, ctx->ac_len + len) == -1) {
		api_manifest_body_free(ctx);
		return -1;
	}
	memcpy(ctx->ac_buf + ctx->ac_len, buf, len);
	ctx->ac_len += len;
	return 0;
}

/*
 * The whole manifest is here: check its digest against a digest
 * reference and parse it on the loop (no storage involved), then hand it
 * to a durable store call that checks its references and stores it.
 */
static void
body_end(struct request *req)
{
	struct api_ctx *ctx = http_ctx(req);
	const struct route_match *m = &ctx->ac_match;
	char digest[DIGEST_BUFSZ], err[256], ctbuf[MANIFEST_MT_MAX];
	const char *ct, *body = ctx->ac_buf != NULL ? ctx->ac_buf : "";
	struct manifest mf;
	struct api_manifest_job *job;
	char *nbuf;

	digest_buf(body, ctx->ac_len, digest);
	http_log_digest(req, digest);
	if (m->rm_ref_is_digest && strcmp(m->rm_ref, digest) != 0) {
		http_error(req, 400, "DIGEST_INVALID", "manifest digest is %s",
		    digest);
		api_manifest_body_free(ctx);
		return;
	}
	if ((ct = http_header(req, "Content-Type")) != NULL) {
		api_parse_media_type(ct, ctbuf, sizeof(ctbuf));
		ct = ctbuf[0] != '\0' ? ctbuf : NULL;
	}
	memset(&mf, 0, sizeof(mf));
	if (manifest_parse(body, ctx->ac_len, ct, &mf, err, sizeof(err)) ==
	    -1) {
		http_error(req, 400, "MANIFEST_INVALID", "%s", err);
		api_manifest_body_free(ctx);
		return;
	}

	if ((job = api_job_new(req, m, sizeof(*job), STORE_CALL_DURABLE,
	         put_work, put_done)) == NULL) {
		manifest_free(&mf);
		return;
	}
	util_strlcpy(job->mj_name, m->rm_name, sizeof(job->mj_name));
	util_strlcpy(job->mj_digest, digest, sizeof(job->mj_digest));
	if (!m->rm_ref_is_digest)
		util_strlcpy(job->mj_tag, m->rm_ref, sizeof(job->mj_tag));
	/*
	 * The job owns the parsed manifest and the bytes from here on, cut
	 * to their length: body_held counts mj_len until put_free.
	 */
	if (ctx->ac_len == 0)
		api_manifest_body_free(ctx);
	else if (ctx->ac_len < ctx->ac_cap) {
		/* A failed shrink leaves a little more than counted. */
		if ((nbuf = realloc(ctx->ac_buf, ctx->ac_len)) != NULL)
			ctx->ac_buf = nbuf;
		body_held -= ctx->ac_cap - ctx->ac_len;
		ctx->ac_cap = ctx->ac_len;
	}
	job->mj_mf = mf;
	job->mj_buf = ctx->ac_buf;
	job->mj_len = ctx->ac_len;
	ctx->ac_buf = NULL;
	ctx->ac_len = ctx->ac_cap = 0;
	api_job_start(&job->mj_job);
}

/* The link a reference must have in the repository. */
static enum store_link
ref_link(const struct manifest_ref *r)
{
	return r->mr_kind == MANIFEST_REF_CHILD ? STORE_LINK_REVISION
	                                        : STORE_LINK_LAYER;
}

/*
 * put_doomed: 1, with errno, when the manifest's own blob, found present
 * and linked (which touched it), is being removed by a collection in
 * another process: the client is told to try again (503) rather than
 * given a tag naming bytes about to go; its retry writes them anew.
 */
static int
put_doomed(struct store *st, const char *digest)
{
	uint64_t size;
	int rc;

	/* Still there after the question: see put_work (review rev14). */
	if ((rc = store_blob_doomed(st, digest)) == 0 &&
	    (rc = store_blob_stat(st, digest, &size)) == 0)
		return 0;
	if (rc == -1 && errno == ENOENT)
		rc = 1;
	if (rc == 1)
		errno = EAGAIN;
	return 1;
}

/*
 * On a worker thread: only the job and the store. Every referenced blob
 * and child manifest must be linked in this repository ("Pushing
 * Manifests": MANIFEST_BLOB_UNKNOWN; the subject need not exist), and
 * nothing is written unless all are. Then the blob, the revision link,
 * then the tag: a reader never follows a link to missing data.
 *
 * Each reference is touched before it is checked, under the garbage
 * collector's guard: a collection running meanwhile then either sees it
 * used and keeps it, or removed it first and the check fails (gc.c).
 * The guard is kept until the revision link and the tag are written: the
 * manifest's own blob may be an old unreferenced one (the same image
 * pushed again after a delete), which store_blob_write finds present and
 * leaves alone; only store_link_write then marks it used, and a sweep
 * deciding on it in between would leave the tag naming a missing blob.
 * A collection in another process dooms a blob before its check
 * (store.h): so after touching, a reference must also not be doomed, nor
 * the manifest's own blob after its link.
 */
static void
put_work(struct store_call *sc)
{
	struct api_manifest_job *job = (struct api_manifest_job *)sc;
	struct store *st = api_store();
	const struct manifest_ref *r;
	size_t i;
	int rc;

	gc_guard_enter();
	for (i = 0; i < job->mj_mf.m_nrefs; i++) {
		r = &job->mj_mf.m_refs[i];
		if (!r->mr_check)
			continue;
		(void)store_link_touch(st, job->mj_name, ref_link(r),
		    r->mr_digest);
		/*
		 * Being removed by a collection elsewhere: missing. Asked
		 * before the existence check: the collection removes its
		 * mark with the blob, so a push that found the blob before
		 * that may miss the mark after it (review rev14).
		 */
		if ((rc = store_blob_doomed(st, r->mr_digest)) == 0)
			rc = store_link_exists(st, job->mj_name, ref_link(r),
			    r->mr_digest);
		else if (rc == 1)
			rc = 0;
		if (rc != 1) {
			job->mj_errno = errno;
			job->mj_result =
			    rc == 0 ? PUT_REF_UNKNOWN : PUT_REF_FAILED;
			job->mj_missing = i;
			gc_guard_leave();
			return;
		}
	}

	job->mj_result = PUT_STORED;
	if (store_blob_write(st, job->mj_digest, job->mj_buf, job->mj_len) ==
	        -1 ||
	    store_link_write(st, job->mj_name, STORE_LINK_REVISION,
	        job->mj_digest) == -1 ||
	    put_doomed(st, job->mj_digest) ||
	    (job->mj_tag[0] != '\0' &&
	        store_tag_set(st, job->mj_name, job->mj_tag, job->mj_digest) ==
	            -1))
		job->mj_result = PUT_STORE_FAILED;
	job->mj_errno = errno;
	gc_guard_leave();
	/* After the revision link: the index never names a manifest first. */
	if (job->mj_result == PUT_STORED)
		api_referrers_index(st, job->mj_name, job->mj_digest,
		    &job->mj_mf, job->mj_len);
}

/*
 * On the loop: finish the bookkeeping whether or not the client is still
 * there, then answer it if it is.
 */
static void
put_done(struct store_call *sc)
{
	struct api_manifest_job *job = (struct api_manifest_job *)sc;
	struct request *req = api_job_detach(&job->mj_job);
	const struct manifest_ref *r;

	if (!api_running()) {
		/* After reg_shutdown the catalog is gone. */
		put_free(job);
		return;
	}
	if (job->mj_result == PUT_STORED)
		catalog_add(job->mj_name);
	if (req == NULL) {
		put_free(job);
		return;
	}
	switch (job->mj_result) {
	case PUT_REF_UNKNOWN:
		r = &job->mj_mf.m_refs[job->mj_missing];
		http_error(req, 400, "MANIFEST_BLOB_UNKNOWN",
		    "%s %s unknown to repository",
		    ref_link(r) == STORE_LINK_REVISION ? "manifest" : "blob",
		    r->mr_digest);
		break;
	case PUT_REF_FAILED:
		api_storage_error(req, job->mj_errno, "store_link_exists");
		break;
	case PUT_STORE_FAILED:
		api_storage_error(req, job->mj_errno, "storing");
		break;
	case PUT_STORED:
		http_add_header(req, "Location", "/v2/%s/manifests/%s",
		    job->mj_name, job->mj_digest);
		http_add_header(req, "Docker-Content-Digest", "%s",
		    job->mj_digest);
		/*
		 * OCI distribution-spec, "Pushing Manifests with Subject":
		 * this registry processes subjects.
		 */
		if (job->mj_mf.m_has_subject)
			http_add_header(req, "OCI-Subject", "%s",
			    job->mj_mf.m_subject);
		http_reply(req, 201, NULL, NULL, 0);
		break;
	}
	put_free(job);
}

static void
put_free(struct api_manifest_job *job)
{
	manifest_free(&job->mj_mf);
	if (job->mj_buf != NULL)
		body_held -= job->mj_len;
	free(job->mj_buf);
	free(job);
}

/*
 * api_manifest_delete: DELETE /v2/<name>/manifests/<reference> (end-9). A
 * tag reference deletes the tag; a digest deletes the revision link and
 * every tag that points at it ("Deleting Manifests": any tag pointing to
 * that digest will return 404). Blobs stay for garbage-collect. A tag's
 * delete is a few unlink/rmdir calls in one store call of kind QUICK: no
 * fsync is needed, as losing a delete in a crash only brings back what
 * the client asked to remove, so on a local disk it costs what lookups
 * do. A digest's also takes the manifest out of the referrers index,
 * which reads and parses it (and may write): a DURABLE call, off the
 * loop.
 */
void
api_manifest_delete(struct request *req, const struct route_match *m)
{
	struct api_manifest_delete *md;

	if (!api_config()->cf_delete_enabled) {
		http_error(req, 405, "UNSUPPORTED", "deletion is disabled");
		return;
	}
	if (m->rm_ref_is_digest)
		http_log_digest(req, m->rm_ref);
	if ((md = api_job_new(req, m, sizeof(*md),
	         m->rm_ref_is_digest ? STORE_CALL_DURABLE : STORE_CALL_QUICK,
	         delete_work, delete_done)) == NULL)
		return;
	util_strlcpy(md->md_name, m->rm_name, sizeof(md->md_name));
	if (m->rm_ref_is_digest)
		util_strlcpy(md->md_digest, m->rm_ref, sizeof(md->md_digest));
	else
		util_strlcpy(md->md_tag, m->rm_ref, sizeof(md->md_tag));
	api_job_start(&md->md_job);
}

/* Wherever the store runs it: only the job's own fields and the store. */
static void
delete_work(struct store_call *sc)
{
	struct api_manifest_delete *md = (struct api_manifest_delete *)sc;
	struct store *st = api_store();

	if (md->md_tag[0] != '\0')
		md->md_result = store_tag_delete(st, md->md_name, md->md_tag);
	else
		md->md_result = store_link_delete(st, md->md_name,
		    STORE_LINK_REVISION, md->md_digest);
	md->md_errno = errno;
	if (md->md_result == -1) {
		if (md->md_errno == ENOENT)
			md->md_repo_exists =
			    store_repo_exists(st, md->md_name) == 1;
		return;
	}
	if (md->md_tag[0] == '\0') {
		delete_untag(st, md->md_name, md->md_digest);
		api_referrers_unindex(st, md->md_name, md->md_digest);
	}
}

/*
 * Remove every tag of name that points at digest. Best effort: the
 * revision is gone already, and a tag left behind answers 404 anyway
 * (get_work checks the revision link), so failures are only logged.
 *
 * Each tag is read again right before it is removed, so a tag that a
 * push re-pointed to another manifest since the list (or since the
 * client asked) stays. That is as tight as the store allows: it has no
 * compare-and-delete, so a push that re-points the tag between
 * store_tag_get and store_tag_delete still loses it (the window is two
 * calls wide; the filesystem driver's delete is an rm -rf of the tag's
 * directory). Tags pointed at digest after the list are not removed,
 * and answer 404 as long as the revision link stays gone.
 */
static void
delete_untag(struct store *st, const char *name, const char *digest)
{
	char cur[DIGEST_BUFSZ];
	char **tags = NULL;
	size_t ntags = 0, i;

	if (store_tag_list(st, name, &tags, &ntags) == -1) {
		if (errno != ENOENT)
			log_warn("%s: store_tag_list %s", __func__, name);
		return;
	}
	for (i = 0; i < ntags; i++) {
		if (store_tag_get(st, name, tags[i], cur) == 0 &&
		    strcmp(cur, digest) == 0 &&
		    store_tag_delete(st, name, tags[i]) == -1 &&
		    errno != ENOENT)
			log_warn("%s: untag %s:%s", __func__, name, tags[i]);
	}
	store_list_free(tags, ntags);
}

/* On the loop: answer, if the client is still there. */
static void
delete_done(struct store_call *sc)
{
	struct api_manifest_delete *md = (struct api_manifest_delete *)sc;
	struct request *req = api_job_detach(&md->md_job);

	if (req == NULL)
		goto done;
	if (md->md_result == -1) {
		if (md->md_errno == ENOENT)
			api_name_or_manifest_unknown(req, md->md_repo_exists);
		else
			http_error(req, 500, "UNKNOWN", "%s: %s",
			    md->md_tag[0] != '\0' ? "store_tag_delete"
			                          : "store_link_delete",
			    strerror(md->md_errno));
		goto done;
	}
	http_reply(req, 202, NULL, NULL, 0);
done:
	free(md);
}
