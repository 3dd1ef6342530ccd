/*
 * api_manifests.c: /v2/<name>/manifests/<reference> (OCI
 * distribution-spec end-3, end-7, end-9) and /v2/<name>/referrers/<digest>
 * (end-12a/12b). It owns reading a manifest by tag or digest (the served
 * Content-Type, schema 1 included, comes from api_parse_served_type;
 * Accept; ETag), buffering, validating and storing a pushed one (the
 * storage job that writes the blob, the revision link and the tag), deleting
 * tags and revisions, and listing the referrers of a subject, with the
 * referrers tag schema fallback (sha256-<hex>).
 *
 * Manifest parsing and media types are manifest.c's; the storage layout
 * is the store's.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "api_parse.h"
#include "bounds.h"
#include "catalog.h"
#include "config.h"
#include "digest.h"
#include "http.h"
#include "log.h"
#include "manifest.h"
#include "router.h"
#include "store.h"
#include "util.h"

/*
 * A manifest to store, a durable store call: blob, revision link, tag.
 * Heap-allocated, owned by itself: job_done frees it. The work touches
 * only the job's own fields and the store.
 */
struct api_manifest_job {
	struct api_job mj_job; /* first: the call and request link */
	char mj_name[NAME_MAX_LEN + 1];
	char mj_tag[TAG_MAX_LEN + 1]; /* "" if none */
	char mj_digest[DIGEST_BUFSZ];
	char mj_subject[DIGEST_BUFSZ]; /* "" if none */
	char *mj_buf;                  /* the bytes, owned */
	size_t mj_len;
	int mj_result; /* 0, -1 (mj_errno) */
	int mj_errno;
};

static int body_cb(struct request *, const char *, size_t);
static void body_end(struct request *);
static void job_work(struct store_call *);
static void job_done(struct store_call *);
static void job_free(struct api_manifest_job *);
static int
referrer_add(json_t *, json_t *, const char *, const char *, const char *);
static void
referrers_tag(json_t *, json_t *, const char *, const char *, const char *);

/* ----------------------------------------------------------------------
 * Manifests
 */

/*
 * api_manifest_get: GET/HEAD /v2/<name>/manifests/<reference> (end-3).
 * Manifests are small (MANIFEST_MAX_BYTES) and read per request;
 * http_reply copies them.
 */
void
api_manifest_get(struct request *req, const struct route_match *m)
{
	char digest[DIGEST_BUFSZ], type[MANIFEST_MT_MAX];
	const char *inm, *accept;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (m->rm_ref_is_digest)
		util_strlcpy(digest, m->rm_ref, sizeof(digest));
	else if (store_tag_get(api_store(), m->rm_name, m->rm_ref, digest) ==
	    -1) {
		if (errno == ENOENT)
			api_name_or_manifest_unknown(req, m->rm_name);
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
	rc = store_link_exists(api_store(), m->rm_name, STORE_LINK_REVISION,
	    digest);
	if (rc == -1) {
		http_error(req, 500, "UNKNOWN", "store_link_exists: %s",
		    strerror(errno));
		return;
	}
	if (rc == 0) {
		api_name_or_manifest_unknown(req, m->rm_name);
		return;
	}

	http_add_header(req, "Docker-Content-Digest", "%s", digest);
	http_add_header(req, "ETag", "\"%s\"", digest);
	if ((inm = http_header(req, "If-None-Match")) != NULL &&
	    api_parse_etag_matches(inm, digest)) {
		http_reply(req, 304, NULL, NULL, 0);
		return;
	}

	if (store_blob_read(api_store(), digest, MANIFEST_MAX_BYTES, &buf,
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
 * reference, parse it, require every referenced blob and child manifest
 * to exist in this repository ("Pushing Manifests": MANIFEST_BLOB_UNKNOWN;
 * the subject need not exist), then store it (a durable store call).
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
	enum store_link kind;
	size_t i;
	int rc;

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
	for (i = 0; i < mf.m_nrefs; i++) {
		if (!mf.m_refs[i].mr_check)
			continue;
		kind = mf.m_refs[i].mr_kind == MANIFEST_REF_CHILD
		    ? STORE_LINK_REVISION
		    : STORE_LINK_LAYER;
		rc = store_link_exists(api_store(), m->rm_name, kind,
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

	if ((job = calloc(1, sizeof(*job))) == NULL) {
		http_error(req, 500, "UNKNOWN", "out of memory");
		goto done;
	}
	api_job_init(&job->mj_job, req, ctx, STORE_CALL_DURABLE, job_work,
	    job_done);
	util_strlcpy(job->mj_name, m->rm_name, sizeof(job->mj_name));
	util_strlcpy(job->mj_digest, digest, sizeof(job->mj_digest));
	if (!m->rm_ref_is_digest)
		util_strlcpy(job->mj_tag, m->rm_ref, sizeof(job->mj_tag));
	if (mf.m_has_subject)
		util_strlcpy(job->mj_subject, mf.m_subject,
		    sizeof(job->mj_subject));
	/* The job owns the bytes from here on. */
	job->mj_buf = ctx->ac_buf;
	job->mj_len = ctx->ac_len;
	ctx->ac_buf = NULL;
	ctx->ac_len = ctx->ac_cap = 0;
	api_job_start(&job->mj_job);
done:
	manifest_free(&mf);
}

/*
 * api_manifest_delete: DELETE /v2/<name>/manifests/<reference> (end-9). A
 * tag reference deletes the tag; a digest deletes the revision link and
 * every tag that points at it ("Deleting Manifests": any tag pointing to
 * that digest will return 404). Blobs stay for garbage-collect. These are
 * a few unlink/rmdir calls, done on the loop: no fsync is needed, as
 * losing a delete in a crash only brings back what the client asked to
 * remove.
 */
void
api_manifest_delete(struct request *req, const struct route_match *m)
{
	char cur[DIGEST_BUFSZ];
	char **tags = NULL;
	size_t ntags = 0, i;

	if (!api_config()->cf_delete_enabled) {
		http_error(req, 405, "UNSUPPORTED", "deletion is disabled");
		return;
	}
	if (!m->rm_ref_is_digest) {
		if (store_tag_delete(api_store(), m->rm_name, m->rm_ref) ==
		    -1) {
			if (errno == ENOENT)
				api_name_or_manifest_unknown(req, m->rm_name);
			else
				http_error(req, 500, "UNKNOWN",
				    "store_tag_delete: %s", strerror(errno));
			return;
		}
		http_reply(req, 202, NULL, NULL, 0);
		return;
	}

	http_log_digest(req, m->rm_ref);
	if (store_link_delete(api_store(), m->rm_name, STORE_LINK_REVISION,
	        m->rm_ref) == -1) {
		if (errno == ENOENT)
			api_name_or_manifest_unknown(req, m->rm_name);
		else
			http_error(req, 500, "UNKNOWN", "store_link_delete: %s",
			    strerror(errno));
		return;
	}
	if (store_tag_list(api_store(), m->rm_name, &tags, &ntags) == 0) {
		for (i = 0; i < ntags; i++) {
			if (store_tag_get(api_store(), m->rm_name, tags[i],
			        cur) == 0 &&
			    strcmp(cur, m->rm_ref) == 0 &&
			    store_tag_delete(api_store(), m->rm_name,
			        tags[i]) == -1 &&
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
 * Pool job: manifest store
 */

static void
job_free(struct api_manifest_job *job)
{
	free(job->mj_buf);
	free(job);
}

/*
 * On a worker thread: only the job and the store. The blob first, then
 * the revision link, then the tag: a reader never follows a link to
 * missing data.
 */
static void
job_work(struct store_call *sc)
{
	struct api_manifest_job *job = (struct api_manifest_job *)sc;
	struct store *st = api_store();

	job->mj_result = 0;
	if (store_blob_write(st, job->mj_digest, job->mj_buf, job->mj_len) ==
	        -1 ||
	    store_link_write(st, job->mj_name, STORE_LINK_REVISION,
	        job->mj_digest) == -1 ||
	    (job->mj_tag[0] != '\0' &&
	        store_tag_set(st, job->mj_name, job->mj_tag, job->mj_digest) ==
	            -1))
		job->mj_result = -1;
	job->mj_errno = errno;
}

/*
 * On the loop: finish the bookkeeping whether or not the client is still
 * there, then answer it if it is.
 */
static void
job_done(struct store_call *sc)
{
	struct api_manifest_job *job = (struct api_manifest_job *)sc;
	struct request *req = api_job_detach(&job->mj_job);

	if (!api_running()) {
		/* After reg_shutdown the catalog is gone. */
		job_free(job);
		return;
	}
	if (job->mj_result == 0)
		catalog_add(job->mj_name);
	if (req != NULL) {
		if (job->mj_result == -1)
			api_storage_error(req, job->mj_errno, "storing");
		else {
			http_add_header(req, "Location", "/v2/%s/manifests/%s",
			    job->mj_name, job->mj_digest);
			http_add_header(req, "Docker-Content-Digest", "%s",
			    job->mj_digest);
			/*
			 * OCI distribution-spec, "Pushing Manifests with
			 * Subject": this registry processes subjects.
			 */
			if (job->mj_subject[0] != '\0')
				http_add_header(req, "OCI-Subject", "%s",
				    job->mj_subject);
			http_reply(req, 201, NULL, NULL, 0);
		}
	}
	job_free(job);
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
referrer_add(json_t *list, json_t *seen, const char *digest,
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
	if (store_blob_read(api_store(), digest, MANIFEST_MAX_BYTES, &buf,
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
	    api_json_set(d, "mediaType", json_string(mf.m_media_type)) ||
	    api_json_set(d, "digest", json_string(digest)) ||
	    api_json_set(d, "size", json_integer((json_int_t)len)))
		goto fail;
	if (mf.m_artifact_type[0] != '\0' &&
	    api_json_set(d, "artifactType", json_string(mf.m_artifact_type)))
		goto fail;
	if (mf.m_annotations != NULL && mf.m_annotations[0] != '\0' &&
	    (ann = json_loads(mf.m_annotations, 0, NULL)) != NULL) {
		if (!json_is_object(ann))
			json_decref(ann);
		else if (json_object_set_new(d, "annotations", ann) == -1)
			goto fail;
	}
	if (api_json_set(seen, digest, json_true()) == -1)
		goto fail;
	ret = api_json_append(list, d);
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
referrers_tag(json_t *list, json_t *seen, const char *name, const char *subject,
    const char *filter)
{
	char tag[TAG_MAX_LEN + 1], digest[DIGEST_BUFSZ];
	char *buf = NULL;
	size_t len = 0, i;
	json_t *root, *arr, *d, *v;
	const char *dg, *at;

	if (snprintf(tag, sizeof(tag), "sha256-%s", digest_hex(subject)) >=
	    (int)sizeof(tag))
		return;
	if (store_tag_get(api_store(), name, tag, digest) == -1 ||
	    store_blob_read(api_store(), digest, MANIFEST_MAX_BYTES, &buf,
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
		    api_json_set(seen, dg, json_true()) == -1)
			break;
	}
	json_decref(root);
}

/*
 * api_manifest_referrers_get: GET /v2/<name>/referrers/<digest>
 * (end-12a/12b): an image index of the manifests in name whose subject is
 * digest. Never 404 ("the registry MUST NOT return a 404"): an unknown
 * repository has no referrers.
 *
 * There is no referrers index yet: the revisions of the repository
 * (at most REFERRERS_MAX) are read on the loop, each bounded by
 * MANIFEST_MAX_BYTES and skipped early when the subject digest does not
 * occur in its bytes. Fine for the repositories this registry is for;
 * an index kept at push time is the next step.
 */
void
api_manifest_referrers_get(struct request *req, const struct route_match *m)
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

	if (store_link_list(api_store(), m->rm_name, STORE_LINK_REVISION, &revs,
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
		if (referrer_add(list, seen, revs[i], m->rm_ref, fp) == -1)
			goto fail;
	referrers_tag(list, seen, m->rm_name, m->rm_ref, fp);

	if ((root = json_object()) == NULL ||
	    api_json_set(root, "schemaVersion", json_integer(2)) == -1 ||
	    api_json_set(root, "mediaType", json_string(MT_OCI_INDEX)) == -1 ||
	    json_object_set(root, "manifests", list) == -1)
		goto fail;
	json_decref(list);
	json_decref(seen);
	store_list_free(revs, nrevs);
	if (fp != NULL)
		http_add_header(req, "OCI-Filters-Applied", "artifactType");
	api_reply_json(req, 200, MT_OCI_INDEX, root);
	return;
fail:
	json_decref(root);
	json_decref(list);
	json_decref(seen);
	store_list_free(revs, nrevs);
	http_error(req, 500, "UNKNOWN", "out of memory");
}
