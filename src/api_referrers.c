/*
 * api_referrers.c: GET /v2/<name>/referrers/<digest> (OCI
 * distribution-spec end-12a/12b): the manifests of a repository whose
 * subject is that digest, as an image index, with the artifactType
 * filter, pages linked with Link rel="next", and the referrers tag
 * schema fallback (sha256-<hex>) that clients of registries without the
 * API push. It also keeps the store's referrers index (store.h) that
 * answers it: api_manifests.c calls api_referrers_index after a push and
 * api_referrers_unindex after a delete.
 *
 * The index is a cache over the revisions, kept right here:
 *
 *   - a query first reconciles it (referrers_reconcile): the revisions
 *     that another writer (registry:2, which knows no index; another
 *     registryd; a push whose indexing failed) added without a mark are
 *     read and indexed, so they appear at the next query; marks of
 *     revisions that are gone are dropped;
 *   - an entry is served only while its revision link exists; one whose
 *     manifest is gone is removed (referrers_unlink), one whose bytes a
 *     crash lost is rebuilt from the manifest.
 *
 * Whoever removes an entry removes the mark first, then the entry, then
 * looks at the revision link again and indexes the manifest afresh when
 * it is back (a concurrent push through another instance writes link,
 * entry, mark in that order): so no interleaving of writers leaves a
 * revision with a mark but without its entry, the one state the
 * reconcile cannot see.
 *
 * A query is one store call of kind LIST (struct api_job), never on the
 * loop: it lists the subject's entries, reads the page's and builds the
 * answer's bytes; its done function only sends them. Not a WALK: it
 * reads one repository's index, and must not wait behind a purge or a
 * garbage collection walking the whole store.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "config.h"
#include "api_parse.h"
#include "bounds.h"
#include "digest.h"
#include "http.h"
#include "log.h"
#include "manifest.h"
#include "router.h"
#include "store.h"
#include "util.h"

#define REFERRERS_QUERY_MAX 512 /* longest last= kept */

/* How a referrers query ended (referrers_work). */
enum referrers_result {
	REFERRERS_FOUND,       /* rf_body holds the answer */
	REFERRERS_LIST_FAILED, /* store_referrer_list: rf_errno */
	REFERRERS_NOMEM,       /* building the answer failed */
};

/*
 * A referrers query: the reconcile, the listing, the page's entries and
 * the answer's bytes are one store call; referrers_done sends them.
 * Owned by itself, and rf_body with it.
 */
struct api_referrers {
	struct api_job rf_job; /* first: the call and request link */
	char rf_name[NAME_MAX_LEN + 1];
	char rf_subject[DIGEST_BUFSZ];
	char rf_filter[MANIFEST_MT_MAX];   /* artifactType=, "" when none */
	char rf_last[REFERRERS_QUERY_MAX]; /* last=, "" when none */
	size_t rf_limit;                   /* descriptors per page */
	enum referrers_result rf_result;
	char *rf_body; /* REFERRERS_FOUND: the index, owned */
	size_t rf_len;
	char rf_next[DIGEST_BUFSZ]; /* last of this page when more follow */
	int rf_errno;
};

/* A page being built by referrers_work. */
struct referrers_page {
	json_t *rp_list; /* the descriptors, owned */
	size_t rp_bytes; /* their size, roughly as serialised */
	int rp_full;     /* no more fit: one more valid one means a Link */
};

static char *referrers_desc(const struct manifest *, const char *, size_t);
static int
referrers_examine(struct store *, const char *, const char *, const char *);
static void referrers_reconcile(struct store *, const char *);
static void
referrers_unlink(struct store *, const char *, const char *, const char *);
static json_t *referrers_entry(struct store *, const char *, const char *,
    const char *, size_t *);
static json_t *referrers_tag(struct store *, const char *, const char *);
static int referrers_digest_cmp(const void *, const void *);
static int referrers_page_add(struct referrers_page *, json_t *, size_t,
    const struct api_referrers *);
static size_t referrers_pct(const char *, char *, size_t);
static void referrers_work(struct store_call *);
static void referrers_done(struct store_call *);

/* ----------------------------------------------------------------------
 * The index
 */

/*
 * referrers_desc: the descriptor of manifest mf (digest, len bytes) as
 * the referrers answer lists it (OCI distribution-spec, "Listing
 * Referrers"), serialised; NULL when memory is short. The caller frees
 * it.
 */
static char *
referrers_desc(const struct manifest *mf, const char *digest, size_t len)
{
	json_t *d, *ann;
	char *s = NULL;

	if ((d = json_object()) == NULL ||
	    api_json_set(d, "mediaType", json_string(mf->m_media_type)) ||
	    api_json_set(d, "digest", json_string(digest)) ||
	    api_json_set(d, "size", json_integer((json_int_t)len)))
		goto done;
	/*
	 * manifest_parse gives an image manifest without artifactType the
	 * config's media type, as the spec wants; an index without one
	 * has none.
	 */
	if (mf->m_artifact_type[0] != '\0' &&
	    api_json_set(d, "artifactType", json_string(mf->m_artifact_type)))
		goto done;
	if (mf->m_annotations != NULL && mf->m_annotations[0] != '\0' &&
	    (ann = json_loads(mf->m_annotations, 0, NULL)) != NULL) {
		if (!json_is_object(ann))
			json_decref(ann);
		else if (json_object_set_new(d, "annotations", ann) == -1)
			goto done;
	}
	s = json_dumps(d, JSON_COMPACT);
done:
	json_decref(d);
	return s;
}

/*
 * api_referrers_index: in a store call, right after the revision link of
 * digest in name was written: the entry of its subject (durable, as the
 * push is), then its mark. mf is the parsed manifest, len its size. A
 * failure is only logged: without a mark the next query indexes it.
 */
void
api_referrers_index(struct store *st, const char *name, const char *digest,
    const struct manifest *mf, size_t len)
{
	char *desc;

	if (!mf->m_has_subject)
		return;
	if ((desc = referrers_desc(mf, digest, len)) == NULL) {
		log_warnx("%s: %s@%s: out of memory", __func__, name, digest);
		return;
	}
	if (store_referrer_put(st, name, digest, mf->m_subject, desc,
	        strlen(desc), STORE_REFERRER_DURABLE) == -1)
		log_warn("%s: %s@%s", __func__, name, digest);
	free(desc);
}

/*
 * referrers_examine: read manifest digest of name and index it, with its
 * entry when it has a subject (not synced: the reconcile rebuilds a
 * cache), else its mark alone. When want is not NULL and the manifest's
 * subject is another, nothing is written. Returns 1 when indexed with an
 * entry under want (or any subject, want NULL), 0 when indexed without
 * one, -1 when it could not be read (a later query tries again) or
 * the registry is read-only.
 */
static int
referrers_examine(struct store *st, const char *name, const char *digest,
    const char *want)
{
	struct manifest mf;
	char err[128], type[MANIFEST_MT_MAX], *buf = NULL, *desc = NULL;
	size_t len = 0;
	int rv = -1;

	if (api_config()->cf_read_only)
		return -1;
	memset(&mf, 0, sizeof(mf));
	if (store_blob_read(st, digest, MANIFEST_MAX_BYTES, &buf, &len) == -1) {
		if (errno != ENOENT && errno != EFBIG)
			return -1;
		goto none;
	}
	/*
	 * Parsed as it was pushed: a manifest without mediaType was
	 * accepted for its Content-Type, which its structure tells again.
	 */
	if (manifest_media_type(buf, len, type, sizeof(type)) == -1 ||
	    manifest_parse(buf, len, type, &mf, err, sizeof(err)) == -1) {
		free(buf);
		goto none;
	}
	free(buf);
	if (want != NULL &&
	    (!mf.m_has_subject || strcmp(mf.m_subject, want) != 0)) {
		rv = 0;
		goto done;
	}
	if (mf.m_has_subject &&
	    (desc = referrers_desc(&mf, digest, len)) == NULL)
		goto done;
	if (store_referrer_put(st, name, digest,
	        mf.m_has_subject ? mf.m_subject : NULL, desc,
	        desc != NULL ? strlen(desc) : 0, 0) == -1) {
		log_warn("%s: %s@%s", __func__, name, digest);
		goto done;
	}
	rv = mf.m_has_subject;
done:
	free(desc);
	manifest_free(&mf);
	return rv;
none:
	/* No manifest the index can use (schema 1, gone): it refers to none. */
	if (want != NULL)
		return 0;
	if (store_referrer_put(st, name, digest, NULL, NULL, 0, 0) == -1) {
		log_warn("%s: %s@%s", __func__, name, digest);
		return -1;
	}
	return 0;
}

/*
 * referrers_reconcile: index what the index of name lacks (at most
 * REFERRERS_MAX manifests per query: a later query goes on), and drop
 * the marks of revisions that are gone, so that a manifest pushed again
 * later by a writer without the index is examined again.
 */
static void
referrers_reconcile(struct store *st, const char *name)
{
	char **add = NULL, **drop = NULL;
	size_t nadd = 0, ndrop = 0, i, done = 0;

	/* Read-only writes nothing: the index is served as it stands. */
	if (api_config()->cf_read_only)
		return;
	if (store_referrer_stale(st, name, &add, &nadd, &drop, &ndrop) == -1) {
		log_warn("%s: %s", __func__, name);
		return;
	}
	for (i = 0; i < ndrop; i++)
		if (store_referrer_delete(st, name, NULL, drop[i]) == -1 &&
		    errno != ENOENT)
			log_warn("%s: %s@%s", __func__, name, drop[i]);
	for (i = 0; i < nadd && done < REFERRERS_MAX; i++) {
		/* A revision directory without its link is no revision. */
		if (store_link_exists(st, name, STORE_LINK_REVISION, add[i]) !=
		    1)
			continue;
		(void)referrers_examine(st, name, add[i], NULL);
		done++;
	}
	if (done == REFERRERS_MAX && i < nadd)
		log_info("%s: %s: %zu manifests left to index by the next "
		         "query",
		    __func__, name, nadd - i);
	store_list_free(add, nadd);
	store_list_free(drop, ndrop);
}

/*
 * referrers_unlink: remove the index's mark and entry (subject, digest;
 * the mark alone when subject is NULL) of a manifest whose revision link
 * is gone, then look again: when the revision is back (pushed again
 * meanwhile, maybe by another instance, whose entry the removal may have
 * undone), index it afresh.
 */
static void
referrers_unlink(struct store *st, const char *name, const char *subject,
    const char *digest)
{
	if (api_config()->cf_read_only)
		return;
	if (store_referrer_delete(st, name, subject, digest) == -1 &&
	    errno != ENOENT)
		log_warn("%s: %s@%s", __func__, name, digest);
	if (store_link_exists(st, name, STORE_LINK_REVISION, digest) == 1)
		(void)referrers_examine(st, name, digest, NULL);
}

/*
 * api_referrers_unindex: in a store call, right after the revision link
 * of digest in name was removed: remove its mark and, when its manifest
 * (still there: blobs stay until garbage collection) has a subject, its
 * entry. When the manifest cannot be read, the entry stays for the
 * queries of its subject to prune.
 */
void
api_referrers_unindex(struct store *st, const char *name, const char *digest)
{
	struct manifest mf;
	char err[128], type[MANIFEST_MT_MAX], *buf = NULL;
	size_t len = 0;
	int parsed = 0;

	memset(&mf, 0, sizeof(mf));
	if (store_blob_read(st, digest, MANIFEST_MAX_BYTES, &buf, &len) == 0 &&
	    manifest_media_type(buf, len, type, sizeof(type)) == 0 &&
	    manifest_parse(buf, len, type, &mf, err, sizeof(err)) == 0)
		parsed = 1;
	free(buf);
	referrers_unlink(st, name,
	    parsed && mf.m_has_subject ? mf.m_subject : NULL, digest);
	if (parsed)
		manifest_free(&mf);
}

/*
 * referrers_entry: the descriptor of index entry (subject, digest) of
 * name, checked, and in *size its bytes: NULL when its revision is gone
 * (then the entry is removed) or it cannot be had; an entry whose bytes
 * do not hold its descriptor (a crash lost them) is rebuilt from the
 * manifest first.
 */
static json_t *
referrers_entry(struct store *st, const char *name, const char *subject,
    const char *digest, size_t *size)
{
	json_t *d;
	const char *dg;
	char *buf = NULL;
	size_t len = 0;
	int tries;

	switch (store_link_exists(st, name, STORE_LINK_REVISION, digest)) {
	case 1:
		break;
	case 0:
		referrers_unlink(st, name, subject, digest);
		return NULL;
	default:
		return NULL;
	}
	for (tries = 0;; tries++) {
		if (store_referrer_get(st, name, subject, digest,
		        MANIFEST_MAX_BYTES, &buf, &len) == -1) {
			/* Gone meanwhile, or unreadable: skip it this time. */
			if (errno != EFBIG)
				return NULL;
		} else {
			d = json_loadb(buf, len, 0, NULL);
			free(buf);
			buf = NULL;
			if (json_is_object(d) &&
			    (dg = json_string_value(
			         json_object_get(d, "digest"))) != NULL &&
			    strcmp(dg, digest) == 0) {
				*size = len;
				return d;
			}
			json_decref(d);
		}
		/*
		 * Not its descriptor (a crash lost the bytes of an unsynced
		 * entry): rebuild it from the manifest, once; an entry the
		 * manifest does not back goes.
		 */
		if (tries > 0)
			break;
		switch (referrers_examine(st, name, digest, subject)) {
		case 1:
			continue;
		case 0:
			break;
		default:
			return NULL;
		}
		break;
	}
	log_warnx("%s: %s: referrers index entry %s of %s: not its "
	          "descriptor, removed",
	    __func__, name, digest, subject);
	if (store_referrer_delete(st, name, subject, digest) == -1 &&
	    errno != ENOENT)
		log_warn("%s: %s@%s", __func__, name, digest);
	return NULL;
}

/* ----------------------------------------------------------------------
 * The query
 */

/* Order descriptors (json_t *) by their digest. */
static int
referrers_digest_cmp(const void *a, const void *b)
{
	const char *x, *y;

	x = json_string_value(json_object_get(*(json_t *const *)a, "digest"));
	y = json_string_value(json_object_get(*(json_t *const *)b, "digest"));
	return strcmp(x, y);
}

/*
 * referrers_tag: the descriptors of the referrers tag schema index
 * (<alg>-<hex>, "Referrers Tag Schema") of subject in name, an array
 * sorted by digest, deduplicated; an empty one when there is no such tag
 * or it is unreadable, NULL when memory is short. "Registries MUST
 * include preexisting image manifests that are listed in an image index
 * tagged with the referrers tag schema". Copied as they are.
 */
static json_t *
referrers_tag(struct store *st, const char *name, const char *subject)
{
	char tag[TAG_MAX_LEN + 1], digest[DIGEST_BUFSZ];
	char *buf = NULL;
	size_t len = 0, i, n = 0;
	json_t *root, *arr, *d, *out = NULL, **v = NULL;
	const char *dg;

	if (snprintf(tag, sizeof(tag), "sha256-%s", digest_hex(subject)) >=
	        (int)sizeof(tag) ||
	    store_tag_get(st, name, tag, digest) == -1 ||
	    store_blob_read(st, digest, MANIFEST_MAX_BYTES, &buf, &len) == -1)
		return json_array();
	root = json_loadb(buf, len, 0, NULL);
	free(buf);
	arr = json_object_get(root, "manifests");
	if (json_array_size(arr) > 0 &&
	    (v = calloc(json_array_size(arr), sizeof(*v))) == NULL)
		goto done;
	for (i = 0; i < json_array_size(arr); i++) {
		d = json_array_get(arr, i);
		if (json_is_object(d) &&
		    (dg = json_string_value(json_object_get(d, "digest"))) !=
		        NULL &&
		    digest_is_valid(dg, strlen(dg)))
			v[n++] = d;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), referrers_digest_cmp);
	if ((out = json_array()) == NULL)
		goto done;
	for (i = 0; i < n; i++)
		if ((i == 0 || referrers_digest_cmp(&v[i - 1], &v[i]) != 0) &&
		    json_array_append(out, v[i]) == -1) {
			json_decref(out);
			out = NULL;
			goto done;
		}
done:
	free(v);
	json_decref(root);
	return out;
}

/*
 * referrers_page_add: d (consumed), of about n bytes serialised (0: not
 * known yet), on the page, when it passes the artifactType filter and
 * the page has room (rf_limit descriptors and REFERRERS_PAGE_BYTES, at
 * least one); a valid one that does not fit marks the page full. 0, or
 * -1 when memory is short.
 */
static int
referrers_page_add(struct referrers_page *p, json_t *d, size_t n,
    const struct api_referrers *rf)
{
	json_t *v;
	const char *at;
	char *s;

	v = json_object_get(d, "artifactType");
	at = json_is_string(v) ? json_string_value(v) : "";
	if (rf->rf_filter[0] != '\0' && strcmp(at, rf->rf_filter) != 0) {
		json_decref(d);
		return 0;
	}
	if (n == 0) {
		if ((s = json_dumps(d, JSON_COMPACT)) == NULL) {
			json_decref(d);
			return -1;
		}
		n = strlen(s);
		free(s);
	}
	n++; /* the comma */
	if (json_array_size(p->rp_list) >= rf->rf_limit ||
	    (json_array_size(p->rp_list) > 0 &&
	        p->rp_bytes + n > REFERRERS_PAGE_BYTES)) {
		p->rp_full = 1;
		json_decref(d);
		return 0;
	}
	p->rp_bytes += n;
	return api_json_append(p->rp_list, d);
}

/*
 * api_referrers_get: GET /v2/<name>/referrers/<digest> (end-12a/12b): an
 * image index of the manifests in name whose subject is digest, sorted
 * by digest. Never 404 ("the registry MUST NOT return a 404"): an
 * unknown repository has no referrers.
 *
 * Pages: n= descriptors at most (REFERRERS_PAGE_DEFAULT without it,
 * never more than REFERRERS_PAGE_MAX) and REFERRERS_PAGE_BYTES; the
 * next page, after last=, is linked with Link rel="next" ("A Link
 * header MUST be included in the response when the descriptor list
 * cannot be returned in a single manifest"). n=0 gives an empty list and
 * no Link, as for tags/list.
 */
void
api_referrers_get(struct request *req, const struct route_match *m)
{
	struct api_referrers *rf;
	char filter[MANIFEST_MT_MAX], last[REFERRERS_QUERY_MAX], nbuf[32];
	const char *errstr = NULL;
	size_t i, limit;
	int rc, has_last;

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
	if (api_parse_page(http_query(req), &limit, last, sizeof(last),
	        &has_last, &errstr) == -1) {
		http_error(req, 400, "PAGINATION_NUMBER_INVALID", "%s", errstr);
		return;
	}
	if (util_query_get(http_query(req), "n", nbuf, sizeof(nbuf)) != 1)
		limit = REFERRERS_PAGE_DEFAULT;
	if (limit > REFERRERS_PAGE_MAX)
		limit = REFERRERS_PAGE_MAX;

	if ((rf = api_job_new(req, m, sizeof(*rf), STORE_CALL_LIST,
	         referrers_work, referrers_done)) == NULL)
		return;
	util_strlcpy(rf->rf_name, m->rm_name, sizeof(rf->rf_name));
	util_strlcpy(rf->rf_subject, m->rm_ref, sizeof(rf->rf_subject));
	util_strlcpy(rf->rf_filter, filter, sizeof(rf->rf_filter));
	if (has_last)
		util_strlcpy(rf->rf_last, last, sizeof(rf->rf_last));
	rf->rf_limit = limit;
	api_job_start(&rf->rf_job);
}

/*
 * Wherever the store runs it, never on the loop: only the job's own
 * fields and the store. Reconcile the index, then merge the subject's
 * entries with the referrers tag's descriptors in digest order, from
 * after last= until the page is full, and serialise the index.
 */
static void
referrers_work(struct store_call *sc)
{
	struct api_referrers *rf = (struct api_referrers *)sc;
	struct store *st = api_store();
	struct referrers_page page = {NULL, 0, 0};
	char **refs = NULL;
	size_t nrefs = 0, i = 0, j = 0, prev, size;
	json_t *tags = NULL, *root = NULL, *d, *t;
	const char *td, *dg = NULL;
	int c;

	rf->rf_result = REFERRERS_NOMEM;
	if ((page.rp_list = json_array()) == NULL)
		goto done;
	if (rf->rf_limit > 0) {
		referrers_reconcile(st, rf->rf_name);
		if (store_referrer_list(st, rf->rf_name, rf->rf_subject, &refs,
		        &nrefs) == -1) {
			rf->rf_errno = errno;
			rf->rf_result = REFERRERS_LIST_FAILED;
			goto done;
		}
		if ((tags = referrers_tag(st, rf->rf_name, rf->rf_subject)) ==
		    NULL)
			goto done;
	}
	/* Both lists are sorted by digest: merge them after last=. */
	while (rf->rf_limit > 0 && !page.rp_full &&
	    (i < nrefs || j < json_array_size(tags))) {
		t = json_array_get(tags, j);
		td = t != NULL ? json_string_value(json_object_get(t, "digest"))
		               : NULL;
		if (i == nrefs)
			c = 1;
		else if (td == NULL)
			c = -1;
		else
			c = strcmp(refs[i], td);
		dg = c <= 0 ? refs[i] : td;
		prev = json_array_size(page.rp_list);
		size = 0;
		if (rf->rf_last[0] != '\0' && strcmp(dg, rf->rf_last) <= 0)
			d = NULL;
		else if (c <= 0 &&
		    (d = referrers_entry(st, rf->rf_name, rf->rf_subject, dg,
		         &size)) != NULL)
			; /* the index's, checked */
		else if (c >= 0)
			d = json_incref(t); /* the tag's, as it is */
		else
			d = NULL;
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
		if (d != NULL && referrers_page_add(&page, d, size, rf) == -1)
			goto done;
		if (json_array_size(page.rp_list) > prev)
			util_strlcpy(rf->rf_next, dg, sizeof(rf->rf_next));
	}
	if (!page.rp_full)
		rf->rf_next[0] = '\0';
	if ((root = json_object()) == NULL ||
	    api_json_set(root, "schemaVersion", json_integer(2)) == -1 ||
	    api_json_set(root, "mediaType", json_string(MT_OCI_INDEX)) == -1 ||
	    json_object_set(root, "manifests", page.rp_list) == -1 ||
	    (rf->rf_body = json_dumps(root, JSON_COMPACT)) == NULL)
		goto done;
	rf->rf_len = strlen(rf->rf_body);
	rf->rf_result = REFERRERS_FOUND;
done:
	json_decref(root);
	json_decref(page.rp_list);
	json_decref(tags);
	store_list_free(refs, nrefs);
}

/*
 * referrers_pct: percent-encode s into out (outsz bytes) for a query
 * string: everything but RFC 3986 unreserved characters. Returns the
 * length, or outsz when it does not fit.
 */
static size_t
referrers_pct(const char *s, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	unsigned char ch;

	for (; *s != '\0'; s++) {
		ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_' || ch == '~') {
			if (n + 1 >= outsz)
				return outsz;
			out[n++] = (char)ch;
			continue;
		}
		if (n + 3 >= outsz)
			return outsz;
		out[n++] = '%';
		out[n++] = hex[ch >> 4];
		out[n++] = hex[ch & 0xf];
	}
	out[n] = '\0';
	return n;
}

/* On the loop: send the answer, if the client is still there. */
static void
referrers_done(struct store_call *sc)
{
	struct api_referrers *rf = (struct api_referrers *)sc;
	struct request *req = api_job_detach(&rf->rf_job);
	char enc[MANIFEST_MT_MAX * 3 + 1];

	if (req == NULL)
		goto done;
	if (rf->rf_result == REFERRERS_LIST_FAILED) {
		api_storage_error(req, rf->rf_errno, "store_referrer_list");
		goto done;
	}
	if (rf->rf_result != REFERRERS_FOUND) {
		http_error(req, 500, "UNKNOWN", "out of memory");
		goto done;
	}
	if (rf->rf_filter[0] != '\0') {
		http_add_header(req, "OCI-Filters-Applied", "artifactType");
		(void)referrers_pct(rf->rf_filter, enc, sizeof(enc));
	}
	if (rf->rf_next[0] != '\0')
		http_add_header(req, "Link",
		    "</v2/%s/referrers/%s?n=%zu&last=%s%s%s>; rel=\"next\"",
		    rf->rf_name, rf->rf_subject, rf->rf_limit, rf->rf_next,
		    rf->rf_filter[0] != '\0' ? "&artifactType=" : "",
		    rf->rf_filter[0] != '\0' ? enc : "");
	http_reply(req, 200, MT_OCI_INDEX, rf->rf_body, rf->rf_len);
done:
	free(rf->rf_body);
	free(rf);
}
