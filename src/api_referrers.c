/*
 * api_referrers.c: GET /v2/<name>/referrers/<digest> (OCI
 * distribution-spec end-12a/12b): the manifests of a repository whose
 * subject is that digest, as an image index, with the artifactType
 * filter and the referrers tag schema fallback (sha256-<hex>) that
 * clients of registries without the API push.
 *
 * The scan is one store call (struct api_job): its work lists and reads
 * the revisions and builds the descriptors on the job's own copies,
 * wherever the driver runs it; its done function answers on the loop.
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
#include "digest.h"
#include "http.h"
#include "log.h"
#include "manifest.h"
#include "router.h"
#include "store.h"
#include "util.h"

/* How a referrers scan ended (referrers_work). */
enum referrers_result {
	REFERRERS_FOUND,       /* rf_list holds the descriptors */
	REFERRERS_LIST_FAILED, /* store_link_list: rf_errno */
	REFERRERS_NOMEM,       /* building the list failed */
};

/*
 * A referrers query: listing the revisions, reading them and the
 * referrers tag are one store call that also builds the descriptor list
 * (jansson objects are plain heap data); referrers_done wraps it in the
 * index and answers. Owned by itself, and rf_list with it.
 */
struct api_referrers {
	struct api_job rf_job; /* first: the call and request link */
	char rf_name[NAME_MAX_LEN + 1];
	char rf_subject[DIGEST_BUFSZ];
	char rf_filter[MANIFEST_MT_MAX]; /* artifactType=, "" when none */
	enum referrers_result rf_result;
	json_t *rf_list; /* REFERRERS_FOUND: the descriptors, owned */
	int rf_errno;
};

static int
referrer_add(json_t *, json_t *, const char *, const char *, const char *);
static void
referrers_tag(json_t *, json_t *, const char *, const char *, const char *);
static void referrers_work(struct store_call *);
static void referrers_done(struct store_call *);

/*
 * In referrers_work: add the descriptor of revision digest to list when
 * its manifest has subject as its subject and passes the artifactType
 * filter (NULL: none). seen collects the digests listed so far. 0, or -1
 * on allocation failure; unreadable or invalid manifests are skipped.
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
 * In referrers_work: add the descriptors of the referrers tag schema
 * index (<alg>-<hex>, "Referrers Tag Schema") that the scan did not find:
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
 * (at most REFERRERS_MAX) are read in one store call of kind QUICK,
 * each bounded by MANIFEST_MAX_BYTES and skipped early when the subject
 * digest does not occur in its bytes. Fine for the repositories this
 * registry is for; an index kept at push time is the next step.
 */
void
api_referrers_get(struct request *req, const struct route_match *m)
{
	struct api_referrers *rf;
	char filter[MANIFEST_MT_MAX];
	size_t i;
	int rc;

	http_log_digest(req, m->rm_ref);
	rc = util_query_get(http_query(req), "artifactType", filter,
	    sizeof(filter));
	if (rc == -1) {
		http_error(req, 400, "UNSUPPORTED",
		    "malformed artifactType parameter");
		return;
	}
	if (rc == 1) {
		/*
		 * Query decoding turns '+' into a space, but media types
		 * have no spaces and often a '+' ("+json") that a client
		 * did not escape: put it back.
		 */
		for (i = 0; filter[i] != '\0'; i++)
			if (filter[i] == ' ')
				filter[i] = '+';
	} else
		filter[0] = '\0';

	if ((rf = api_job_new(req, m, sizeof(*rf), STORE_CALL_QUICK,
	         referrers_work, referrers_done)) == NULL)
		return;
	util_strlcpy(rf->rf_name, m->rm_name, sizeof(rf->rf_name));
	util_strlcpy(rf->rf_subject, m->rm_ref, sizeof(rf->rf_subject));
	util_strlcpy(rf->rf_filter, filter, sizeof(rf->rf_filter));
	api_job_start(&rf->rf_job);
}

/*
 * Wherever the store runs it: only the job's own fields and the store.
 * The descriptors of the revisions whose subject it is, then those of
 * the referrers tag the scan did not find.
 */
static void
referrers_work(struct store_call *sc)
{
	struct api_referrers *rf = (struct api_referrers *)sc;
	const char *fp = rf->rf_filter[0] != '\0' ? rf->rf_filter : NULL;
	char **revs = NULL;
	size_t nrevs = 0, i;
	json_t *list = NULL, *seen = NULL;

	if (store_link_list(api_store(), rf->rf_name, STORE_LINK_REVISION,
	        &revs, &nrevs) == -1) {
		if (errno != ENOENT) {
			rf->rf_errno = errno;
			rf->rf_result = REFERRERS_LIST_FAILED;
			return;
		}
		revs = NULL;
		nrevs = 0;
	}
	rf->rf_result = REFERRERS_NOMEM;
	if ((list = json_array()) == NULL || (seen = json_object()) == NULL)
		goto done;
	for (i = 0; i < nrevs && i < REFERRERS_MAX; i++)
		if (referrer_add(list, seen, revs[i], rf->rf_subject, fp) == -1)
			goto done;
	referrers_tag(list, seen, rf->rf_name, rf->rf_subject, fp);
	rf->rf_list = list;
	list = NULL;
	rf->rf_result = REFERRERS_FOUND;
done:
	json_decref(list);
	json_decref(seen);
	store_list_free(revs, nrevs);
}

/* On the loop: the image index around the list, if the client is there. */
static void
referrers_done(struct store_call *sc)
{
	struct api_referrers *rf = (struct api_referrers *)sc;
	struct request *req = api_job_detach(&rf->rf_job);
	json_t *root = NULL;

	if (req == NULL)
		goto done;
	if (rf->rf_result == REFERRERS_LIST_FAILED) {
		http_error(req, 500, "UNKNOWN", "store_link_list: %s",
		    strerror(rf->rf_errno));
		goto done;
	}
	if (rf->rf_result != REFERRERS_FOUND ||
	    (root = json_object()) == NULL ||
	    api_json_set(root, "schemaVersion", json_integer(2)) == -1 ||
	    api_json_set(root, "mediaType", json_string(MT_OCI_INDEX)) == -1 ||
	    json_object_set(root, "manifests", rf->rf_list) == -1) {
		json_decref(root);
		http_error(req, 500, "UNKNOWN", "out of memory");
		goto done;
	}
	if (rf->rf_filter[0] != '\0')
		http_add_header(req, "OCI-Filters-Applied", "artifactType");
	api_reply_json(req, 200, MT_OCI_INDEX, root);
done:
	json_decref(rf->rf_list);
	free(rf);
}
