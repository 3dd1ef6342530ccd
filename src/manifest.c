/*
 * manifest.c: manifests are parsed, never trusted. manifest_parse checks a
 * pushed manifest against the image-spec / Docker schema2 shapes registryd
 * stores, resolves its media type, and lists the descriptors it
 * references so that the caller can check that those blobs exist (OCI
 * distribution-spec: "the registry MUST NOT accept a manifest that
 * references blobs it does not have", with the "urls" and non-distributable
 * exceptions). Error messages are client-safe: they name a field and a
 * position, never the client's bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "bounds.h"
#include "manifest.h"

/* Layer media types whose blobs a registry does not have to hold. */
#define MT_DOCKER_FOREIGN                                                      \
	"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
#define MT_OCI_NONDIST_PREFIX                                                  \
	"application/vnd.oci.image.layer.nondistributable."

static const char *const manifest_types[] = {
    MT_DOCKER_MANIFEST,
    MT_DOCKER_LIST,
    MT_OCI_MANIFEST,
    MT_OCI_INDEX,
};

/* A descriptor after validation; strings borrow from the JSON tree. */
struct manifest_desc {
	const char *md_media_type;
	const char *md_digest;
	int md_check;
};

static const char *manifest_type_known(const char *, size_t);
static const char *manifest_content_type(const char *);
static const char *manifest_by_structure(json_t *);
static int manifest_is_index_type(const char *);
static int manifest_desc(json_t *, const char *, size_t, int,
    struct manifest_desc *, char *, size_t);
static int manifest_add_ref(struct manifest *, enum manifest_ref_kind,
    const struct manifest_desc *, char *, size_t);
static int manifest_desc_array(struct manifest *, json_t *, const char *,
    enum manifest_ref_kind, int, char *, size_t);
static int manifest_copy(char *, size_t, const char *);

/*
 * The canonical constant for s[0..len) when it is one of the four media
 * types registryd stores, else NULL. Media types compare
 * case-insensitively (RFC 6838).
 */
static const char *
manifest_type_known(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(manifest_types) / sizeof(manifest_types[0]);
	     i++) {
		if (strlen(manifest_types[i]) == len &&
		    strncasecmp(s, manifest_types[i], len) == 0)
			return manifest_types[i];
	}
	return NULL;
}

/*
 * A request Content-Type reduced to its media type (parameters such as
 * "; charset=utf-8" and surrounding blanks dropped) when it is one of the
 * four, else NULL.
 */
static const char *
manifest_content_type(const char *ct)
{
	const char *end;

	if (ct == NULL)
		return NULL;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if ((end = strchr(ct, ';')) == NULL)
		end = ct + strlen(ct);
	while (end > ct && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return manifest_type_known(ct, (size_t)(end - ct));
}

/*
 * The type of a manifest without "mediaType", by its structure: an index
 * has "manifests", an image manifest has a "config" object.
 */
static const char *
manifest_by_structure(json_t *root)
{
	if (json_is_array(json_object_get(root, "manifests")))
		return MT_OCI_INDEX;
	if (json_is_object(json_object_get(root, "config")))
		return MT_OCI_MANIFEST;
	return NULL;
}

static int
manifest_is_index_type(const char *mt)
{
	return strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0;
}

/* strlcpy that reports truncation: 0, or -1 when src does not fit. */
static int
manifest_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

/*
 * Validate one descriptor: an object with a "mediaType" string, a
 * "digest" that digest_is_valid accepts and a non-negative integer
 * "size". what/idx/indexed name it in the error ("layers[3]", "config").
 * Returns 0 and fills *d, or -1 with err set.
 */
static int
manifest_desc(json_t *j, const char *what, size_t idx, int indexed,
    struct manifest_desc *d, char *err, size_t errlen)
{
	char where[64];
	json_t *mt, *dg, *sz, *urls;

	if (indexed)
		(void)snprintf(where, sizeof(where), "%s[%zu]", what, idx);
	else
		(void)snprintf(where, sizeof(where), "%s", what);

	if (!json_is_object(j)) {
		(void)snprintf(err, errlen, "%s: not a descriptor object",
		    where);
		return -1;
	}
	mt = json_object_get(j, "mediaType");
	if (!json_is_string(mt) || json_string_length(mt) == 0 ||
	    json_string_length(mt) >= MANIFEST_MT_MAX) {
		(void)snprintf(err, errlen, "%s: invalid mediaType", where);
		return -1;
	}
	dg = json_object_get(j, "digest");
	if (!json_is_string(dg) ||
	    !digest_is_valid(json_string_value(dg), json_string_length(dg))) {
		(void)snprintf(err, errlen, "%s: invalid digest", where);
		return -1;
	}
	sz = json_object_get(j, "size");
	if (!json_is_integer(sz) || json_integer_value(sz) < 0) {
		(void)snprintf(err, errlen, "%s: invalid size", where);
		return -1;
	}
	urls = json_object_get(j, "urls");
	if (urls != NULL && !json_is_array(urls)) {
		(void)snprintf(err, errlen, "%s: invalid urls", where);
		return -1;
	}

	d->md_media_type = json_string_value(mt);
	d->md_digest = json_string_value(dg);
	/*
	 * image-spec: a descriptor with "urls", or a non-distributable layer,
	 * may point at a blob the registry does not hold.
	 */
	d->md_check = 1;
	if (urls != NULL && json_array_size(urls) > 0)
		d->md_check = 0;
	if (strcmp(d->md_media_type, MT_DOCKER_FOREIGN) == 0 ||
	    strncmp(d->md_media_type, MT_OCI_NONDIST_PREFIX,
	        strlen(MT_OCI_NONDIST_PREFIX)) == 0)
		d->md_check = 0;
	return 0;
}

/* Append a reference to m->m_refs; 0, or -1 with err set. */
static int
manifest_add_ref(struct manifest *m, enum manifest_ref_kind kind,
    const struct manifest_desc *d, char *err, size_t errlen)
{
	struct manifest_ref *nr, *r;
	size_t ncap;

	if (m->m_nrefs >= MANIFEST_MAX_REFS) {
		(void)snprintf(err, errlen, "too many descriptors (max %d)",
		    MANIFEST_MAX_REFS);
		return -1;
	}
	/*
	 * The capacity is implicit: 4, then doubled whenever the count
	 * reaches a power of two, so no extra field is needed in the struct.
	 */
	if (m->m_nrefs == 0 ||
	    (m->m_nrefs >= 4 && (m->m_nrefs & (m->m_nrefs - 1)) == 0)) {
		ncap = m->m_nrefs == 0 ? 4 : m->m_nrefs * 2;
		if ((nr = reallocarray(m->m_refs, ncap, sizeof(*nr))) == NULL) {
			(void)snprintf(err, errlen, "out of memory");
			return -1;
		}
		m->m_refs = nr;
	}
	r = &m->m_refs[m->m_nrefs];
	r->mr_kind = kind;
	r->mr_check = d->md_check;
	if (manifest_copy(r->mr_digest, sizeof(r->mr_digest), d->md_digest) !=
	    0) {
		(void)snprintf(err, errlen, "invalid digest");
		return -1;
	}
	m->m_nrefs++;
	return 0;
}

/*
 * Validate key as an array of descriptors and record each as a ref of
 * kind. A missing key is an error when required, else nothing.
 */
static int
manifest_desc_array(struct manifest *m, json_t *root, const char *key,
    enum manifest_ref_kind kind, int required, char *err, size_t errlen)
{
	struct manifest_desc d;
	json_t *a, *v;
	size_t i;

	if ((a = json_object_get(root, key)) == NULL) {
		if (!required)
			return 0;
		(void)snprintf(err, errlen, "missing %s", key);
		return -1;
	}
	if (!json_is_array(a)) {
		(void)snprintf(err, errlen, "%s: not an array", key);
		return -1;
	}
	json_array_foreach(a, i, v)
	{
		if (manifest_desc(v, key, i, 1, &d, err, errlen) != 0 ||
		    manifest_add_ref(m, kind, &d, err, errlen) != 0)
			return -1;
	}
	return 0;
}

/*
 * manifest_parse: validate buf[0..len) as a manifest for a PUT and fill
 * *m (see manifest.h for how the media type and artifactType resolve).
 * The caller owns *m afterwards and releases it with manifest_free.
 * Returns 0, or -1 with a client-safe reason in err[errlen]; *m then holds
 * nothing to free.
 */
int
manifest_parse(const char *buf, size_t len, const char *content_type,
    struct manifest *m, char *err, size_t errlen)
{
	struct manifest_desc d;
	json_error_t jerr;
	json_t *root = NULL, *v, *config = NULL;
	const char *mt = NULL, *ct, *st;
	char ebuf[128];

	memset(m, 0, sizeof(*m));
	/* Never write through a NULL or empty err buffer. */
	if (err == NULL || errlen == 0) {
		err = ebuf;
		errlen = sizeof(ebuf);
	}
	err[0] = '\0';

	if (buf == NULL || len == 0 || len > MANIFEST_MAX_BYTES) {
		(void)snprintf(err, errlen, "manifest empty or too large");
		return -1;
	}
	/*
	 * Duplicate keys are tolerated as Docker's encoder does; the depth
	 * of nesting is bounded by jansson (JSON_PARSER_MAX_DEPTH).
	 */
	if ((root = json_loadb(buf, len, 0, &jerr)) == NULL) {
		(void)snprintf(err, errlen, "invalid JSON at line %d column %d",
		    jerr.line, jerr.column);
		return -1;
	}
	if (!json_is_object(root)) {
		(void)snprintf(err, errlen, "manifest is not a JSON object");
		goto fail;
	}
	v = json_object_get(root, "schemaVersion");
	if (!json_is_integer(v) || json_integer_value(v) != 2) {
		(void)snprintf(err, errlen, "schemaVersion must be 2");
		goto fail;
	}

	/* Media type: the body's, which must agree with Content-Type. */
	ct = manifest_content_type(content_type);
	if ((v = json_object_get(root, "mediaType")) != NULL) {
		if (!json_is_string(v) ||
		    (mt = manifest_type_known(json_string_value(v),
		         json_string_length(v))) == NULL) {
			(void)snprintf(err, errlen, "unsupported mediaType");
			goto fail;
		}
		if (ct != NULL && strcmp(ct, mt) != 0) {
			(void)snprintf(err, errlen,
			    "mediaType does not match Content-Type");
			goto fail;
		}
	} else {
		/*
		 * Without mediaType, the Content-Type alone says what the
		 * client pushed, and registry:2 refuses the push when it is
		 * not a manifest type. Stored bytes are served with the type
		 * they show (manifest_media_type: their structure, for want
		 * of mediaType), so the two must agree: a Docker type never
		 * does, as registry:2 also requires mediaType for those.
		 */
		if ((mt = ct) == NULL) {
			(void)snprintf(err, errlen,
			    "no mediaType, and Content-Type is not a "
			    "manifest media type");
			goto fail;
		}
		if ((st = manifest_by_structure(root)) != NULL &&
		    strcmp(st, mt) != 0) {
			(void)snprintf(err, errlen,
			    "mediaType is required for %s", mt);
			goto fail;
		}
	}
	(void)manifest_copy(m->m_media_type, sizeof(m->m_media_type), mt);
	m->m_is_index = manifest_is_index_type(mt);

	if (m->m_is_index) {
		if (manifest_desc_array(m, root, "manifests",
		        MANIFEST_REF_CHILD, 1, err, errlen) != 0)
			goto fail;
	} else {
		if ((config = json_object_get(root, "config")) == NULL) {
			(void)snprintf(err, errlen, "missing config");
			goto fail;
		}
		if (manifest_desc(config, "config", 0, 0, &d, err, errlen) !=
		        0 ||
		    manifest_add_ref(m, MANIFEST_REF_CONFIG, &d, err, errlen) !=
		        0)
			goto fail;
		if (manifest_desc_array(m, root, "layers", MANIFEST_REF_LAYER,
		        1, err, errlen) != 0)
			goto fail;
	}
	/* Artifact "blobs" (image-spec 1.1-rc artifact manifest). */
	if (manifest_desc_array(m, root, "blobs", MANIFEST_REF_BLOB, 0, err,
	        errlen) != 0)
		goto fail;

	/* OCI 1.1 referrers: the subject need not exist yet. */
	if ((v = json_object_get(root, "subject")) != NULL) {
		if (manifest_desc(v, "subject", 0, 0, &d, err, errlen) != 0)
			goto fail;
		(void)manifest_copy(m->m_subject, sizeof(m->m_subject),
		    d.md_digest);
		m->m_has_subject = 1;
	}

	if ((v = json_object_get(root, "artifactType")) != NULL) {
		if (!json_is_string(v) ||
		    manifest_copy(m->m_artifact_type,
		        sizeof(m->m_artifact_type),
		        json_string_value(v)) != 0) {
			(void)snprintf(err, errlen, "invalid artifactType");
			goto fail;
		}
	} else if (config != NULL) {
		/* manifest_desc bounded config.mediaType already. */
		v = json_object_get(config, "mediaType");
		(void)manifest_copy(m->m_artifact_type,
		    sizeof(m->m_artifact_type), json_string_value(v));
	}

	if ((v = json_object_get(root, "annotations")) != NULL) {
		if (!json_is_object(v)) {
			(void)snprintf(err, errlen,
			    "annotations: not an object");
			goto fail;
		}
		if ((m->m_annotations = json_dumps(v, JSON_COMPACT)) == NULL) {
			(void)snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}

	json_decref(root);
	return 0;
fail:
	json_decref(root);
	manifest_free(m);
	return -1;
}

/*
 * manifest_free: release what manifest_parse allocated in m (not m
 * itself) and leave it empty, so a second call is harmless. NULL is a
 * no-op.
 */
void
manifest_free(struct manifest *m)
{
	if (m == NULL)
		return;
	free(m->m_refs);
	free(m->m_annotations);
	memset(m, 0, sizeof(*m));
}

/*
 * manifest_media_type: the media type to serve stored bytes with: the
 * "mediaType" string when present, else the structure (index or image
 * manifest). Writes into out[outsz]. Returns 0, or -1 when buf is not a
 * JSON object of a shape we understand or the type does not fit.
 */
int
manifest_media_type(const char *buf, size_t len, char *out, size_t outsz)
{
	json_t *root, *v;
	const char *mt;
	int rv = -1;

	if (out == NULL || outsz == 0)
		return -1;
	out[0] = '\0';
	if (buf == NULL || len == 0 || len > MANIFEST_MAX_BYTES)
		return -1;
	if ((root = json_loadb(buf, len, 0, NULL)) == NULL)
		return -1;
	if (!json_is_object(root))
		goto done;
	v = json_object_get(root, "mediaType");
	if (json_is_string(v) && json_string_length(v) > 0)
		mt = json_string_value(v);
	else
		mt = manifest_by_structure(root);
	if (mt != NULL && manifest_copy(out, outsz, mt) == 0)
		rv = 0;
done:
	json_decref(root);
	return rv;
}

/*
 * manifest_list_pick: in the manifest list or index buf[0..len), the first
 * entry of "manifests" whose platform is os/arch (any variant, as
 * registry:2 picks it): its digest into digest and its mediaType (""
 * when it has none) into mt[mtsz]. Returns 0, or -1 when there is no such
 * entry or buf is not an index.
 */
int
manifest_list_pick(const char *buf, size_t len, const char *os,
    const char *arch, char digest[DIGEST_BUFSZ], char *mt, size_t mtsz)
{
	json_t *root, *list, *e, *plat, *d, *t;
	const char *ds;
	size_t i;
	int rv = -1;

	if (buf == NULL || len == 0 || len > MANIFEST_MAX_BYTES || mtsz == 0 ||
	    (root = json_loadb(buf, len, 0, NULL)) == NULL)
		return -1;
	list = json_object_get(root, "manifests");
	json_array_foreach(list, i, e)
	{
		plat = json_object_get(e, "platform");
		if (!json_is_object(plat) ||
		    !json_is_string(json_object_get(plat, "os")) ||
		    !json_is_string(json_object_get(plat, "architecture")) ||
		    strcmp(json_string_value(json_object_get(plat, "os")),
		        os) != 0 ||
		    strcmp(json_string_value(
		               json_object_get(plat, "architecture")),
		        arch) != 0)
			continue;
		d = json_object_get(e, "digest");
		if (!json_is_string(d) ||
		    !digest_is_valid(ds = json_string_value(d),
		        json_string_length(d)))
			break;
		(void)manifest_copy(digest, DIGEST_BUFSZ, ds);
		t = json_object_get(e, "mediaType");
		mt[0] = '\0';
		if (json_is_string(t))
			(void)manifest_copy(mt, mtsz, json_string_value(t));
		rv = 0;
		break;
	}
	json_decref(root);
	return rv;
}

/*
 * manifest_accepts: 1 when the Accept header value admits media_type,
 * else 0. Items are split on ',', blanks and parameters (";q=0.5") are
 * dropped, and an item matches exactly, as "* / *" (without the spaces)
 * or as "<type>/ *" with the same top-level type. A NULL or blank header
 * admits anything (clients that send none take what we have).
 */
int
manifest_accepts(const char *accept, const char *media_type)
{
	const char *p, *end, *item, *iend, *slash;
	size_t ilen, mtlen;
	int seen = 0;

	if (accept == NULL)
		return 1;
	if (media_type == NULL)
		return 0;
	mtlen = strlen(media_type);
	p = accept;
	for (;;) {
		if ((end = strchr(p, ',')) == NULL)
			end = p + strlen(p);
		item = p;
		while (item < end && (*item == ' ' || *item == '\t'))
			item++;
		for (iend = item; iend < end && *iend != ';'; iend++)
			continue;
		while (iend > item && (iend[-1] == ' ' || iend[-1] == '\t'))
			iend--;
		ilen = (size_t)(iend - item);
		if (ilen > 0) {
			seen = 1;
			if (ilen == mtlen &&
			    strncasecmp(item, media_type, ilen) == 0)
				return 1;
			if (ilen == 3 && memcmp(item, "*/*", 3) == 0)
				return 1;
			/* "type/" + "*": compare the type and the slash. */
			if (ilen >= 3 && item[ilen - 1] == '*' &&
			    item[ilen - 2] == '/' &&
			    (slash = strchr(media_type, '/')) != NULL &&
			    (size_t)(slash - media_type) == ilen - 2 &&
			    strncasecmp(item, media_type, ilen - 1) == 0)
				return 1;
		}
		if (*end == '\0')
			break;
		p = end + 1;
	}
	return !seen;
}

/* ---- references of a stored manifest (garbage collection) ---- */

static int manifest_scan_value(struct manifest *, json_t *, int, int);
static int manifest_scan_add(struct manifest *, enum manifest_ref_kind,
    const char *, size_t);

/* Append a reference (no cap: the document's size bounds it). 0, -1. */
static int
manifest_scan_add(struct manifest *m, enum manifest_ref_kind kind,
    const char *digest, size_t len)
{
	struct manifest_ref *nr, *r;
	size_t ncap;

	if (!digest_is_valid(digest, len))
		return 0;
	/* The same implicit capacity as manifest_add_ref. */
	if (m->m_nrefs == 0 ||
	    (m->m_nrefs >= 4 && (m->m_nrefs & (m->m_nrefs - 1)) == 0)) {
		ncap = m->m_nrefs == 0 ? 4 : m->m_nrefs * 2;
		if ((nr = reallocarray(m->m_refs, ncap, sizeof(*nr))) == NULL)
			return -1;
		m->m_refs = nr;
	}
	r = &m->m_refs[m->m_nrefs++];
	r->mr_kind = kind;
	r->mr_check = 1;
	memcpy(r->mr_digest, digest, len);
	r->mr_digest[len] = '\0';
	return 0;
}

/*
 * Every "digest" or "blobSum" string in v, at any depth. child says that
 * v is an element of a "manifests" array, whose own digest names a child
 * manifest; top that v is the document itself, whose "subject" is not a
 * reference but the manifest this one refers to.
 */
static int
manifest_scan_value(struct manifest *m, json_t *v, int child, int top)
{
	const char *key;
	json_t *e;
	size_t i;

	if (json_is_array(v)) {
		for (i = 0; i < json_array_size(v); i++)
			if (manifest_scan_value(m, json_array_get(v, i), child,
			        0) == -1)
				return -1;
		return 0;
	}
	if (!json_is_object(v))
		return 0;
	json_object_foreach(v, key, e)
	{
		if (top && strcmp(key, "subject") == 0 && json_is_object(e)) {
			e = json_object_get(e, "digest");
			if (json_is_string(e) &&
			    digest_is_valid(json_string_value(e),
			        json_string_length(e))) {
				m->m_has_subject = 1;
				memcpy(m->m_subject, json_string_value(e),
				    json_string_length(e) + 1);
			}
			continue;
		}
		if ((strcmp(key, "digest") == 0 ||
		        strcmp(key, "blobSum") == 0) &&
		    json_is_string(e)) {
			if (manifest_scan_add(m,
			        child ? MANIFEST_REF_CHILD : MANIFEST_REF_BLOB,
			        json_string_value(e),
			        json_string_length(e)) == -1)
				return -1;
			continue;
		}
		if (manifest_scan_value(m, e,
		        top && strcmp(key, "manifests") == 0, 0) == -1)
			return -1;
	}
	return 0;
}

/*
 * manifest_scan: what a stored manifest references, for garbage
 * collection, which must never keep too little: not manifest_parse's
 * validation of a push, but every "digest" and "blobSum" string at any
 * depth, so a manifest registryd would refuse today (Docker schema 1's
 * fsLayers, an artifact manifest, fields of a later spec) still keeps its
 * blobs. The digests of the top-level "manifests" array are
 * MANIFEST_REF_CHILD, all others MANIFEST_REF_BLOB; the top-level
 * "subject" is m_subject, not a reference. Fills *m (manifest_free).
 * Returns 0; -1 with a reason in err when buf is not a JSON object (it
 * then references nothing a client could follow), or out of memory
 * (errno ENOMEM; *m holds nothing either way).
 */
int
manifest_scan(const char *buf, size_t len, struct manifest *m, char *err,
    size_t errlen)
{
	json_error_t jerr;
	json_t *root;
	int rv;

	memset(m, 0, sizeof(*m));
	/* Duplicate keys: the last one wins, as for registry:2 and clients. */
	root = json_loadb(buf, len, 0, &jerr);
	if (root == NULL || !json_is_object(root)) {
		(void)snprintf(err, errlen, "not a JSON object");
		json_decref(root);
		errno = EINVAL;
		return -1;
	}
	rv = manifest_scan_value(m, root, 0, 1);
	json_decref(root);
	if (rv == -1) {
		manifest_free(m);
		(void)snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	return 0;
}
