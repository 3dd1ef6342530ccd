#ifndef REGISTRYD_MANIFEST_H
#define REGISTRYD_MANIFEST_H

#include <stddef.h>

#include "digest.h"

/* Media types registryd stores and serves. */
#define MT_DOCKER_MANIFEST                                                     \
	"application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST                                                         \
	"application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX    "application/vnd.oci.image.index.v1+json"

#define MANIFEST_MT_MAX 256 /* longest media type we keep */

/* What a descriptor in a manifest is to its manifest. */
enum manifest_ref_kind {
	MANIFEST_REF_CONFIG, /* image config blob */
	MANIFEST_REF_LAYER,  /* layer blob */
	MANIFEST_REF_CHILD,  /* manifest of an index / manifest list */
	MANIFEST_REF_BLOB,   /* other blob descriptor (artifact "blobs") */
};

struct manifest_ref {
	enum manifest_ref_kind mr_kind;
	char mr_digest[DIGEST_BUFSZ];
	/*
	 * 0 when the spec says not to check existence: a descriptor with
	 * "urls", or a non-distributable (foreign) layer media type.
	 */
	int mr_check;
};

/*
 * A parsed manifest. Owned by the caller; release with manifest_free.
 * m_annotations is the manifest's "annotations" object serialised as JSON
 * (NULL when absent), so referrers can copy it into descriptors.
 */
struct manifest {
	char m_media_type[MANIFEST_MT_MAX];
	char m_artifact_type[MANIFEST_MT_MAX];
	int m_is_index; /* OCI index or manifest list */
	int m_has_subject;
	char m_subject[DIGEST_BUFSZ];
	struct manifest_ref *m_refs;
	size_t m_nrefs;
	char *m_annotations; /* JSON object text or NULL */
};

/*
 * manifest_parse: validate buf as a manifest for a PUT. content_type is the
 * request's Content-Type (may be NULL); when the body has a mediaType it
 * must agree. Fills *m. Returns 0, or -1 with a client-safe reason in err
 * (the caller answers 400 MANIFEST_INVALID). On -1, *m holds nothing to free.
 *
 * The resolved media type is the body's "mediaType", else the
 * Content-Type, which must then be one of the four and agree with the
 * structure manifest_media_type serves the bytes by (so an OCI type:
 * "manifests" makes an index), else the push is refused. artifactType is
 * "artifactType", else (image manifests) config.mediaType.
 */
int manifest_parse(const char *buf, size_t len, const char *content_type,
    struct manifest *m, char *err, size_t errlen);
void manifest_free(struct manifest *);

/*
 * manifest_media_type: the media type to serve stored bytes with, derived
 * from the bytes themselves as on PUT. Writes into out (MANIFEST_MT_MAX);
 * returns 0, or -1 when the bytes are not a manifest we understand.
 */
int manifest_media_type(const char *buf, size_t len, char *out, size_t outsz);

/*
 * manifest_list_pick: the first entry of the index or manifest list
 * buf[0..len) for platform os/arch: its digest (DIGEST_BUFSZ) and its
 * mediaType (mt[mtsz], "" when absent). Returns 0, or -1 when there is
 * none.
 */
int manifest_list_pick(const char *buf, size_t len, const char *os,
    const char *arch, char digest[DIGEST_BUFSZ], char *mt, size_t mtsz);

/*
 * manifest_accepts: 1 when the request's Accept header values admit
 * media_type. accept is the comma-joined Accept header or NULL; NULL, "",
 * "* / *" (no spaces) and "application/ *" admit anything.
 */
int manifest_accepts(const char *accept, const char *media_type);

/*
 * manifest_scan: the references of a stored manifest for garbage
 * collection, which must keep too much rather than too little: every
 * "digest" and "blobSum" string at any depth (so Docker schema 1,
 * artifact manifests and fields of later specs keep their blobs), the
 * digests of the top-level "manifests" array as MANIFEST_REF_CHILD, the
 * others as MANIFEST_REF_BLOB, and the top-level "subject" as m_subject
 * (not a reference). Fills *m (manifest_free). 0, or -1 with a reason in
 * err: EINVAL when buf is not a JSON object, ENOMEM.
 */
int manifest_scan(const char *buf, size_t len, struct manifest *m, char *err,
    size_t errlen);

#endif /* REGISTRYD_MANIFEST_H */
