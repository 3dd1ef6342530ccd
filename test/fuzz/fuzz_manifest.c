/*
 * fuzz_manifest: manifest_parse, manifest_media_type, manifest_accepts and
 * manifest_scan (manifest.c) on arbitrary bytes.
 *
 * Input format (see README.md):
 *   byte 0      Content-Type: 0 none, 1..N one of fuzz_types[], anything
 *               else: the bytes up to the first '\n' after byte 0 (then
 *               the body follows that '\n')
 *   the rest    the manifest body
 *
 * Invariants: a parsed manifest has a known media type, at most
 * MANIFEST_MAX_REFS references, each a valid digest, a valid subject when
 * it has one; parsing without a Content-Type and manifest_media_type agree
 * on the media type; manifest_scan (garbage collection) finds every
 * reference and the subject manifest_parse found, so a collection never
 * keeps less than a push had to have; everything is freed (LeakSanitizer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "digest.h"
#include "manifest.h"

#include "fuzz.h"

static const char *const fuzz_types[] = {
	MT_DOCKER_MANIFEST,
	MT_DOCKER_LIST,
	MT_OCI_MANIFEST,
	MT_OCI_INDEX,
	"application/json",
	"application/vnd.oci.image.manifest.v1+json; charset=utf-8",
	" application/vnd.docker.distribution.manifest.v2+json ",
	"APPLICATION/VND.OCI.IMAGE.INDEX.V1+JSON",
	"application/vnd.docker.distribution.manifest.v1+prettyjws",
	"",
};
#define FUZZ_NTYPES	(sizeof(fuzz_types) / sizeof(fuzz_types[0]))

static int
fuzz_known(const char *mt)
{
	return strcmp(mt, MT_DOCKER_MANIFEST) == 0 ||
	    strcmp(mt, MT_DOCKER_LIST) == 0 ||
	    strcmp(mt, MT_OCI_MANIFEST) == 0 ||
	    strcmp(mt, MT_OCI_INDEX) == 0;
}

static void
fuzz_check_manifest(const struct manifest *m)
{
	size_t i;

	FUZZ_CHECK(strnlen(m->m_media_type, MANIFEST_MT_MAX) <
	    MANIFEST_MT_MAX);
	FUZZ_CHECK(strnlen(m->m_artifact_type, MANIFEST_MT_MAX) <
	    MANIFEST_MT_MAX);
	FUZZ_CHECK(fuzz_known(m->m_media_type));
	FUZZ_CHECK(m->m_is_index == (strcmp(m->m_media_type,
	    MT_DOCKER_LIST) == 0 || strcmp(m->m_media_type, MT_OCI_INDEX) == 0));
	FUZZ_CHECK(m->m_nrefs <= MANIFEST_MAX_REFS);
	FUZZ_CHECK(m->m_nrefs == 0 || m->m_refs != NULL);
	for (i = 0; i < m->m_nrefs; i++) {
		FUZZ_CHECK(digest_is_valid(m->m_refs[i].mr_digest,
		    strnlen(m->m_refs[i].mr_digest, DIGEST_BUFSZ)));
		FUZZ_CHECK(m->m_refs[i].mr_kind >= MANIFEST_REF_CONFIG &&
		    m->m_refs[i].mr_kind <= MANIFEST_REF_BLOB);
		if (m->m_is_index)
			FUZZ_CHECK(m->m_refs[i].mr_kind != MANIFEST_REF_LAYER);
	}
	if (m->m_has_subject)
		FUZZ_CHECK(digest_is_valid(m->m_subject,
		    strnlen(m->m_subject, DIGEST_BUFSZ)));
	if (m->m_annotations != NULL)
		FUZZ_CHECK(m->m_annotations[0] == '{');
}

/* Every reference of parsed is among those of scanned. */
static void
fuzz_check_scan(const struct manifest *parsed, const struct manifest *scanned)
{
	size_t i, j;

	for (i = 0; i < parsed->m_nrefs; i++) {
		for (j = 0; j < scanned->m_nrefs; j++)
			if (strcmp(parsed->m_refs[i].mr_digest,
			    scanned->m_refs[j].mr_digest) == 0)
				break;
		FUZZ_CHECK(j < scanned->m_nrefs);
		if (parsed->m_refs[i].mr_kind == MANIFEST_REF_CHILD)
			FUZZ_CHECK(scanned->m_refs[j].mr_kind ==
			    MANIFEST_REF_CHILD);
	}
	FUZZ_CHECK(parsed->m_has_subject == scanned->m_has_subject);
	if (parsed->m_has_subject)
		FUZZ_CHECK(strcmp(parsed->m_subject, scanned->m_subject) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest m, sm;
	char err[256], mt[MANIFEST_MT_MAX], *ct = NULL, *body, *acc;
	const char *nl, *ctp = NULL;
	size_t blen;
	int rc, rc2;

	if (size < 1)
		return 0;
	if (data[0] >= 1 && data[0] <= FUZZ_NTYPES) {
		ctp = fuzz_types[data[0] - 1];
		data++;
		size--;
	} else if (data[0] > FUZZ_NTYPES) {
		nl = memchr(data + 1, '\n', size - 1);
		if (nl == NULL)
			return 0;
		blen = (size_t)(nl - (const char *)data - 1);
		if ((ct = malloc(blen + 1)) == NULL)
			return 0;
		memcpy(ct, data + 1, blen);
		ct[blen] = '\0';
		ctp = ct;
		size -= blen + 2;
		data = (const uint8_t *)nl + 1;
	} else {
		data++;
		size--;
	}
	/* An exact-size heap copy, so that reads past the end are caught. */
	if ((body = malloc(size ? size : 1)) == NULL) {
		free(ct);
		return 0;
	}
	memcpy(body, data, size);

	memset(&m, 0, sizeof(m));
	err[0] = '\0';
	rc = manifest_parse(body, size, ctp, &m, err, sizeof(err));
	if (rc == 0) {
		fuzz_check_manifest(&m);
		FUZZ_CHECK(manifest_accepts(NULL, m.m_media_type) == 1);
		FUZZ_CHECK(manifest_accepts(m.m_media_type,
		    m.m_media_type) == 1);
		FUZZ_CHECK(manifest_accepts("*/*", m.m_media_type) == 1);
		if (ctp != NULL)
			(void)manifest_accepts(ctp, m.m_media_type);
		manifest_free(&m);
	} else {
		FUZZ_CHECK(rc == -1);
		FUZZ_CHECK(strnlen(err, sizeof(err)) < sizeof(err));
	}

	/* Without a Content-Type, and what a GET would serve. */
	memset(&m, 0, sizeof(m));
	rc = manifest_parse(body, size, NULL, &m, err, sizeof(err));
	rc2 = manifest_media_type(body, size, mt, sizeof(mt));
	FUZZ_CHECK(strnlen(mt, sizeof(mt)) < sizeof(mt));
	/* What garbage collection reads of the same bytes once stored. */
	if (manifest_scan(body, size, &sm, err, sizeof(err)) == 0) {
		for (blen = 0; blen < sm.m_nrefs; blen++)
			FUZZ_CHECK(digest_is_valid(sm.m_refs[blen].mr_digest,
			    strnlen(sm.m_refs[blen].mr_digest, DIGEST_BUFSZ)));
		if (rc == 0)
			fuzz_check_scan(&m, &sm);
		manifest_free(&sm);
	} else
		FUZZ_CHECK(rc != 0 && sm.m_nrefs == 0 && sm.m_refs == NULL);
	if (rc == 0) {
		fuzz_check_manifest(&m);
		FUZZ_CHECK(rc2 == 0 && strcasecmp(mt, m.m_media_type) == 0);
		manifest_free(&m);
	}

	/* The body as an Accept header against each media type. */
	if ((acc = malloc(size + 1)) != NULL) {
		memcpy(acc, body, size);
		acc[size] = '\0';
		(void)manifest_accepts(acc, MT_OCI_MANIFEST);
		(void)manifest_accepts(acc, MT_DOCKER_LIST);
		(void)manifest_accepts(acc, "");
		if (rc2 == 0)
			(void)manifest_accepts(acc, mt);
		free(acc);
	}
	free(body);
	free(ct);
	return 0;
}
