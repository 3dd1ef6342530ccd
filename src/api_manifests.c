/*
 * api_manifests.c: /v2/<name>/manifests/<reference> (OCI
 * distribution-spec end-3, end-7, end-9). It owns reading a manifest by tag or
 * digest (the served Content-Type, schema 1 included, comes from
 * api_parse_served_type; Accept; ETag), buffering, validating and storing a
 * pushed one (the storage job that checks its references, then writes the blob,
 * the revision link and the tag), and deleting tags and revisions. The
 * referrers of a subject are api_referrers.c's.
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
	GET_TAG_FAILED,   /* store_tag_get: mg_errno */
	GET_LINK_FAILED,  /* store_link_exists: mg_errno */
	GET_READ_FAILED,  /* store_blob_read: mg_errno */
};

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
	enum get_result mg_result;
	int mg_repo_exists; /* GET_UNKNOWN: store_repo_exists said 1 */
	char *mg_buf;       /* GET_FOUND: the manifest, owned */
	size_t mg_len;
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
static void get_done(struct store_call *);
static void get_free(struct api_manifest_get *);
static int body_cb(struct request *, const char *, size_t);
static void body_end(struct request *);
static enum store_link ref_link(const struct manifest_ref *);
static void put_work(struct store_call *);
static void put_done(struct store_call *);
static void put_free(struct api_manifest_job *);
static void delete_work(struct store_call *);
static void delete_untag(struct store *, const char *, const char *);
static void delete_done(struct store_call *);

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
	const char *inm;
	char *inm_copy = NULL;

	/* The tag's digest is known only in get_work: take the header. */
	if ((inm = http_header(req, "If-None-Match")) != NULL &&
	    (inm_copy = strdup(inm)) == NULL) {
		http_error(req, 500, "UNKNOWN", "out of memory");
		return;
	}
	if ((mg = api_job_new(req, m, sizeof(*mg), STORE_CALL_QUICK, get_work,
	         get_done)) == NULL) {
		free(inm_copy);
		return;
	}
	mg->mg_inm = inm_copy;
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
 * MANIFEST_UNKNOWN).
 */
static void
get_work(struct store_call *sc)
{
	struct api_manifest_get *mg = (struct api_manifest_get *)sc;
	struct store *st = api_store();
	char digest[DIGEST_BUFSZ];
	int rc;

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
	if (mg->mg_inm != NULL &&
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
	mg->mg_result = GET_FOUND;
done:
	if (mg->mg_result == GET_UNKNOWN)
		mg->mg_repo_exists = store_repo_exists(st, mg->mg_name) == 1;
}

/* On the loop: answer, if the client is still there. */
static void
get_done(struct store_call *sc)
{
	struct api_manifest_get *mg = (struct api_manifest_get *)sc;
	struct request *req = api_job_detach(&mg->mg_job);
	char type[MANIFEST_MT_MAX];
	const char *accept;

	if (req == NULL)
		goto done;
	if (mg->mg_digest[0] != '\0')
		http_log_digest(req, mg->mg_digest);
	switch (mg->mg_result) {
	case GET_UNKNOWN:
		api_name_or_manifest_unknown(req, mg->mg_repo_exists);
		goto done;
	case GET_TAG_FAILED:
		http_error(req, 500, "UNKNOWN", "store_tag_get: %s",
		    strerror(mg->mg_errno));
		goto done;
	case GET_LINK_FAILED:
		http_error(req, 500, "UNKNOWN", "store_link_exists: %s",
		    strerror(mg->mg_errno));
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
			http_error(req, 500, "UNKNOWN", "store_blob_read: %s",
			    strerror(mg->mg_errno));
		goto done;
	}
	api_parse_served_type(mg->mg_buf, mg->mg_len, type, sizeof(type));

	/*
	 * A client that cannot handle the type gets 404, as registry:2 does
	 * for an OCI manifest requested without the OCI type in Accept.
	 */
	accept = http_header(req, "Accept");
	if (accept != NULL && !manifest_accepts(accept, type)) {
		http_error(req, 404, "MANIFEST_UNKNOWN",
		    "manifest media type %s not in Accept", type);
		goto done;
	}
	http_reply(req, 200, type, mg->mg_buf, mg->mg_len);
done:
	get_free(mg);
}

static void
get_free(struct api_manifest_get *mg)
{
	free(mg->mg_inm);
	free(mg->mg_buf);
	free(mg);
}

/*
 * api_manifest_put: PUT /v2/<name>/manifests/<reference> (end-7): buffer
 * the body, bounded by MANIFEST_MAX_BYTES (413, "Pushing Manifests"), then
 * validate and store it in body_end.
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
	if ((ctx = api_ctx_new(req, m)) == NULL) {
		http_error(req, 500, "UNKNOWN", "out of memory");
		return;
	}
	if (cl > 0) {
		if ((ctx->ac_buf = malloc((size_t)cl)) == NULL) {
			http_error(req, 500, "UNKNOWN", "out of memory");
			return;
		}
		ctx->ac_cap = (size_t)cl;
	}
	if (!http_has_body(req)) {
		body_end(req);
		return;
	}
	http_body_sink(req, body_cb, body_end);
}

/* Append a chunk of manifest body; a chunked body is bounded here. */
static int
body_cb(struct request *req, const char *buf, size_t len)
{
	struct api_ctx *ctx = http_ctx(req);
	size_t ncap;
	char *nbuf;

	if (len > MANIFEST_MAX_BYTES - ctx->ac_len) {
		http_error(req, 413, "SIZE_INVALID",
		    "manifest larger than %d bytes", MANIFEST_MAX_BYTES);
		return -1;
	}
	if (ctx->ac_len + len > ctx->ac_cap) {
		ncap = ctx->ac_cap > 0 ? ctx->ac_cap : 4096;
		while (ncap < ctx->ac_len + len)
			ncap *= 2;
		if (ncap > MANIFEST_MAX_BYTES)
			ncap = MANIFEST_MAX_BYTES;
		if ((nbuf = realloc(ctx->ac_buf, ncap)) == NULL) {
			http_error(req, 500, "UNKNOWN", "out of memory");
			return -1;
		}
		ctx->ac_buf = nbuf;
		ctx->ac_cap = ncap;
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

	digest_buf(body, ctx->ac_len, digest);
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
	if (manifest_parse(body, ctx->ac_len, ct, &mf, err, sizeof(err)) ==
	    -1) {
		http_error(req, 400, "MANIFEST_INVALID", "%s", err);
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
	/* The job owns the parsed manifest and the bytes from here on. */
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
 * On a worker thread: only the job and the store. Every referenced blob
 * and child manifest must be linked in this repository ("Pushing
 * Manifests": MANIFEST_BLOB_UNKNOWN; the subject need not exist), and
 * nothing is written unless all are. Then the blob, the revision link,
 * then the tag: a reader never follows a link to missing data.
 *
 * Each reference is touched before it is checked, under the garbage
 * collector's guard: a collection running meanwhile then either sees it
 * used and keeps it, or removed it first and the check fails (gc.c).
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
		rc = store_link_exists(st, job->mj_name, ref_link(r),
		    r->mr_digest);
		if (rc != 1) {
			job->mj_errno = errno;
			job->mj_result =
			    rc == 0 ? PUT_REF_UNKNOWN : PUT_REF_FAILED;
			job->mj_missing = i;
			gc_guard_leave();
			return;
		}
	}
	gc_guard_leave();

	job->mj_result = PUT_STORED;
	if (store_blob_write(st, job->mj_digest, job->mj_buf, job->mj_len) ==
	        -1 ||
	    store_link_write(st, job->mj_name, STORE_LINK_REVISION,
	        job->mj_digest) == -1 ||
	    (job->mj_tag[0] != '\0' &&
	        store_tag_set(st, job->mj_name, job->mj_tag, job->mj_digest) ==
	            -1))
		job->mj_result = PUT_STORE_FAILED;
	job->mj_errno = errno;
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
		http_error(req, 500, "UNKNOWN", "store_link_exists: %s",
		    strerror(job->mj_errno));
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
	free(job->mj_buf);
	free(job);
}

/*
 * api_manifest_delete: DELETE /v2/<name>/manifests/<reference> (end-9). A
 * tag reference deletes the tag; a digest deletes the revision link and
 * every tag that points at it ("Deleting Manifests": any tag pointing to
 * that digest will return 404). Blobs stay for garbage-collect. These are
 * a few unlink/rmdir calls in one store call of kind QUICK: no fsync is
 * needed, as losing a delete in a crash only brings back what the client
 * asked to remove, so on a local disk they cost what lookups do.
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
	if ((md = api_job_new(req, m, sizeof(*md), STORE_CALL_QUICK,
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
	if (md->md_tag[0] == '\0')
		delete_untag(st, md->md_name, md->md_digest);
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
