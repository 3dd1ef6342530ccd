/*
 * Unit tests for manifest.c: real Docker schema2 and OCI documents, media
 * type resolution, descriptor validation, references and their existence
 * checks, subject/artifactType/annotations, and Accept matching.
 */
#include <string.h>

#include "tap.h"
#include "../../src/manifest.c"

#define H1 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define H2 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define H3 "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
#define D1 "sha256:" H1
#define D2 "sha256:" H2
#define D3 "sha256:" H3

#define DOCKER_V2 \
	"{\n   \"schemaVersion\": 2,\n" \
	"   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n" \
	"   \"config\": {\n" \
	"      \"mediaType\": \"application/vnd.docker.container.image.v1+json\",\n" \
	"      \"size\": 1457,\n      \"digest\": \"" D1 "\"\n   },\n" \
	"   \"layers\": [\n      {\n" \
	"         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n" \
	"         \"size\": 3370706,\n         \"digest\": \"" D2 "\"\n      },\n" \
	"      {\n" \
	"         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n" \
	"         \"size\": 32,\n         \"digest\": \"" D3 "\"\n      }\n" \
	"   ]\n}"

#define OCI_NO_MT \
	"{\"schemaVersion\":2," \
	"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\"," \
	"\"digest\":\"" D1 "\",\"size\":2}," \
	"\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\"," \
	"\"digest\":\"" D2 "\",\"size\":0}]," \
	"\"annotations\":{\"org.opencontainers.image.created\":\"2024-01-01T00:00:00Z\"}}"

#define OCI_INDEX \
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\"," \
	"\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"," \
	"\"digest\":\"" D1 "\",\"size\":525,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}," \
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"," \
	"\"digest\":\"" D2 "\",\"size\":525,\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}}]}"

#define DOCKER_LIST \
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.list.v2+json\"," \
	"\"manifests\":[{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\"," \
	"\"digest\":\"" D3 "\",\"size\":528,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}"

#define ARTIFACT \
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"," \
	"\"artifactType\":\"application/vnd.example.sbom.v1\"," \
	"\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\"," \
	"\"digest\":\"" D1 "\",\"size\":2,\"data\":\"e30=\"}," \
	"\"layers\":[{\"mediaType\":\"application/spdx+json\",\"digest\":\"" D2 "\",\"size\":10}]," \
	"\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"," \
	"\"digest\":\"" D3 "\",\"size\":100}," \
	"\"annotations\":{\"b\":\"2\",\"a\":\"1\"}}"

/* Image manifest with the given layers JSON (a complete array). */
#define IMG(layers) \
	"{\"schemaVersion\":2," \
	"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\"," \
	"\"digest\":\"" D1 "\",\"size\":2},\"layers\":" layers "}"

static int
parse(const char *s, const char *ct, struct manifest *m, char *err,
    size_t errlen)
{
	return manifest_parse(s, strlen(s), ct, m, err, errlen);
}

static void
test_docker_v2(void)
{
	struct manifest m;
	char err[256];

	is_int(parse(DOCKER_V2, MT_DOCKER_MANIFEST, &m, err, sizeof(err)), 0,
	    "docker schema2 manifest");
	is_str(m.m_media_type, MT_DOCKER_MANIFEST, "  media type");
	is_int(m.m_is_index, 0, "  not an index");
	is_int(m.m_nrefs, 3, "  config + 2 layers");
	if (m.m_nrefs == 3) {
		ok(m.m_refs[0].mr_kind == MANIFEST_REF_CONFIG &&
		    strcmp(m.m_refs[0].mr_digest, D1) == 0 &&
		    m.m_refs[0].mr_check, "  ref 0 is the config");
		ok(m.m_refs[1].mr_kind == MANIFEST_REF_LAYER &&
		    strcmp(m.m_refs[1].mr_digest, D2) == 0 &&
		    m.m_refs[1].mr_check, "  ref 1 is layer 0");
		ok(m.m_refs[2].mr_kind == MANIFEST_REF_LAYER &&
		    strcmp(m.m_refs[2].mr_digest, D3) == 0, "  ref 2 is layer 1");
	}
	is_str(m.m_artifact_type, "application/vnd.docker.container.image.v1+json",
	    "  artifactType falls back to config.mediaType");
	is_int(m.m_has_subject, 0, "  no subject");
	ok(m.m_annotations == NULL, "  no annotations");
	manifest_free(&m);
	manifest_free(&m);
	ok(m.m_refs == NULL && m.m_nrefs == 0, "manifest_free twice is safe");

	is_int(parse(DOCKER_V2, NULL, &m, err, sizeof(err)), 0,
	    "docker schema2 without Content-Type");
	manifest_free(&m);
	is_int(parse(DOCKER_V2, "application/json", &m, err, sizeof(err)), 0,
	    "docker schema2 with a generic Content-Type");
	manifest_free(&m);
	is_int(parse(DOCKER_V2, MT_DOCKER_MANIFEST "; charset=utf-8", &m, err,
	    sizeof(err)), 0, "Content-Type parameters are ignored");
	manifest_free(&m);
	is_int(parse(DOCKER_V2, MT_OCI_MANIFEST, &m, err, sizeof(err)), -1,
	    "Content-Type mismatch rejected");
	ok(strstr(err, "Content-Type") != NULL, "  reason: %s", err);
	ok(m.m_refs == NULL && m.m_annotations == NULL, "  nothing to free");
}

static void
test_oci(void)
{
	struct manifest m;
	char err[256];

	is_int(parse(OCI_NO_MT, MT_OCI_MANIFEST, &m, err, sizeof(err)), 0,
	    "OCI manifest without mediaType, OCI Content-Type");
	is_str(m.m_media_type, MT_OCI_MANIFEST, "  resolved by Content-Type");
	is_int(m.m_nrefs, 2, "  two refs");
	is_str(m.m_annotations,
	    "{\"org.opencontainers.image.created\":\"2024-01-01T00:00:00Z\"}",
	    "  annotations serialised compactly");
	is_str(m.m_artifact_type, "application/vnd.oci.image.config.v1+json",
	    "  artifactType from config");
	manifest_free(&m);

	is_int(parse(OCI_NO_MT, NULL, &m, err, sizeof(err)), -1,
	    "no mediaType, no Content-Type: rejected");
	ok(strstr(err, "Content-Type") != NULL, "  reason: %s", err);
	is_int(parse(OCI_NO_MT, "application/json", &m, err, sizeof(err)), -1,
	    "no mediaType, a generic Content-Type: rejected");
	is_int(parse(OCI_NO_MT, MT_DOCKER_MANIFEST, &m, err, sizeof(err)), -1,
	    "no mediaType, a Docker Content-Type: rejected (served as OCI)");
	ok(strstr(err, "mediaType is required") != NULL, "  reason: %s", err);
	is_int(parse(OCI_NO_MT, MT_OCI_INDEX, &m, err, sizeof(err)), -1,
	    "image manifest sent as an index is rejected");

	is_int(parse(OCI_INDEX, MT_OCI_INDEX, &m, err, sizeof(err)), 0,
	    "OCI index");
	is_str(m.m_media_type, MT_OCI_INDEX, "  media type");
	is_int(m.m_is_index, 1, "  is an index");
	is_int(m.m_nrefs, 2, "  two children");
	if (m.m_nrefs == 2)
		ok(m.m_refs[0].mr_kind == MANIFEST_REF_CHILD &&
		    m.m_refs[1].mr_kind == MANIFEST_REF_CHILD &&
		    strcmp(m.m_refs[1].mr_digest, D2) == 0, "  child refs");
	is_str(m.m_artifact_type, "", "  no artifactType");
	manifest_free(&m);

	is_int(parse(DOCKER_LIST, NULL, &m, err, sizeof(err)), 0,
	    "docker manifest list");
	is_str(m.m_media_type, MT_DOCKER_LIST, "  media type");
	is_int(m.m_is_index, 1, "  is an index");
	is_int(m.m_nrefs, 1, "  one child");
	manifest_free(&m);

	is_int(parse("{\"schemaVersion\":2,\"manifests\":[]}", MT_OCI_INDEX,
	    &m, err, sizeof(err)), 0, "empty index without mediaType");
	is_str(m.m_media_type, MT_OCI_INDEX, "  resolved as OCI index");
	manifest_free(&m);

	is_int(parse(ARTIFACT, MT_OCI_MANIFEST, &m, err, sizeof(err)), 0,
	    "artifact with subject");
	is_int(m.m_has_subject, 1, "  has subject");
	is_str(m.m_subject, D3, "  subject digest");
	is_str(m.m_artifact_type, "application/vnd.example.sbom.v1",
	    "  artifactType field wins over config");
	is_str(m.m_annotations, "{\"b\":\"2\",\"a\":\"1\"}",
	    "  annotations kept in order");
	is_int(m.m_nrefs, 2, "  subject is not a ref");
	manifest_free(&m);
}

static void
test_refs(void)
{
	struct manifest m;
	char err[256];

	is_int(parse(IMG("[]"), MT_OCI_MANIFEST, &m, err, sizeof(err)), 0, "empty layers");
	is_int(m.m_nrefs, 1, "  only the config");
	manifest_free(&m);

	is_int(parse(IMG("[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
	    "\"digest\":\"" D2 "\",\"size\":5,\"urls\":[\"https://example.com/l\"]},"
	    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
	    "\"digest\":\"" D3 "\",\"size\":5,\"urls\":[]}]"), MT_OCI_MANIFEST,
	    &m, err, sizeof(err)), 0, "layers with urls");
	is_int(m.m_nrefs, 3, "  three refs");
	if (m.m_nrefs == 3) {
		is_int(m.m_refs[1].mr_check, 0, "  urls layer is not checked");
		is_int(m.m_refs[2].mr_check, 1, "  empty urls is checked");
	}
	manifest_free(&m);

	is_int(parse(IMG("[{\"mediaType\":\"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\","
	    "\"digest\":\"" D2 "\",\"size\":5},"
	    "{\"mediaType\":\"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip\","
	    "\"digest\":\"" D3 "\",\"size\":5}]"), MT_OCI_MANIFEST, &m, err,
	    sizeof(err)), 0, "foreign layers");
	if (m.m_nrefs == 3) {
		is_int(m.m_refs[0].mr_check, 1, "  config checked");
		is_int(m.m_refs[1].mr_check, 0, "  docker foreign not checked");
		is_int(m.m_refs[2].mr_check, 0, "  OCI nondistributable not checked");
	} else
		ok(0, "  three refs");
	manifest_free(&m);

	is_int(parse("{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\","
	    "\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1 "\",\"size\":2},"
	    "\"layers\":[],\"blobs\":[{\"mediaType\":\"a/c\",\"digest\":\"" D2
	    "\",\"size\":3}]}", NULL, &m, err, sizeof(err)), 0, "artifact blobs");
	if (m.m_nrefs == 2)
		ok(m.m_refs[1].mr_kind == MANIFEST_REF_BLOB, "  blob ref");
	else
		ok(0, "  two refs");
	manifest_free(&m);

	/* Many layers: the ref array grows. */
	{
		static char big[200000];
		size_t off, i;

		off = (size_t)snprintf(big, sizeof(big), "%s",
		    "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\","
		    "\"digest\":\"" D1 "\",\"size\":2},\"layers\":[");
		for (i = 0; i < 1000; i++)
			off += (size_t)snprintf(big + off, sizeof(big) - off,
			    "%s{\"mediaType\":\"a/l\",\"digest\":\"%s\",\"size\":%zu}",
			    i ? "," : "", i % 2 ? D2 : D3, i);
		(void)snprintf(big + off, sizeof(big) - off, "]}");
		is_int(parse(big, MT_OCI_MANIFEST, &m, err, sizeof(err)), 0,
		    "1000 layers");
		is_int(m.m_nrefs, 1001, "  1001 refs");
		if (m.m_nrefs == 1001)
			ok(strcmp(m.m_refs[1000].mr_digest, D2) == 0 &&
			    strcmp(m.m_refs[999].mr_digest, D3) == 0,
			    "  last refs intact");
		manifest_free(&m);
	}
}

static void
test_invalid(void)
{
	static const struct {
		const char *s;
		const char *ct;
		const char *why;
	} bad[] = {
		{ "", NULL, "empty" },
		{ "[]", NULL, "array" },
		{ "\"x\"", NULL, "string" },
		{ "2", NULL, "number" },
		{ "null", NULL, "null" },
		{ "{", NULL, "truncated" },
		{ "{} {}", NULL, "trailing garbage" },
		{ "{\"schemaVersion\":2}", NULL, "no config, no manifests" },
		{ "{\"schemaVersion\":1,\"name\":\"a\",\"tag\":\"b\","
		  "\"fsLayers\":[],\"history\":[],\"signatures\":[]}", NULL,
		  "schema1" },
		{ "{\"schemaVersion\":1,\"mediaType\":"
		  "\"application/vnd.docker.distribution.manifest.v1+prettyjws\"}",
		  NULL, "schema1 media type" },
		{ "{\"schemaVersion\":2,\"mediaType\":"
		  "\"application/vnd.docker.distribution.manifest.v1+prettyjws\","
		  "\"config\":{}}", NULL, "schema1 media type, version 2" },
		{ "{\"schemaVersion\":2,\"mediaType\":\"text/plain\",\"config\":{}}",
		  NULL, "unknown media type" },
		{ "{\"schemaVersion\":2,\"mediaType\":7}", NULL, "mediaType number" },
		{ "{\"schemaVersion\":3,\"manifests\":[]}", NULL, "schemaVersion 3" },
		{ "{\"schemaVersion\":\"2\",\"manifests\":[]}", NULL,
		  "schemaVersion string" },
		{ "{\"schemaVersion\":2.0,\"manifests\":[]}", NULL,
		  "schemaVersion real" },
		{ "{\"manifests\":[]}", NULL, "no schemaVersion" },
		{ "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\","
		  "\"layers\":[]}", NULL, "missing config" },
		{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\","
		  "\"digest\":\"" D1 "\",\"size\":2}}", NULL, "missing layers" },
		{ IMG("{}"), NULL, "layers not an array" },
		{ IMG("[1]"), NULL, "layer not an object" },
		{ IMG("[{\"mediaType\":\"a/b\",\"digest\":\"sha256:abc\",\"size\":1}]"),
		  NULL, "short layer digest" },
		{ IMG("[{\"mediaType\":\"a/b\",\"digest\":\"sha512:" H1 "\",\"size\":1}]"),
		  NULL, "sha512 layer digest" },
		{ IMG("[{\"mediaType\":\"a/b\",\"digest\":\"" D1 "\",\"size\":-1}]"),
		  NULL, "negative size" },
		{ IMG("[{\"mediaType\":\"a/b\",\"digest\":\"" D1 "\",\"size\":\"1\"}]"),
		  NULL, "string size" },
		{ IMG("[{\"mediaType\":\"a/b\",\"digest\":\"" D1 "\"}]"), NULL,
		  "missing size" },
		{ IMG("[{\"digest\":\"" D1 "\",\"size\":1}]"), NULL,
		  "missing mediaType" },
		{ IMG("[{\"mediaType\":\"a/b\",\"digest\":\"" D1 "\",\"size\":1,"
		  "\"urls\":\"x\"}]"), NULL, "urls not an array" },
		{ "{\"schemaVersion\":2,\"config\":[],\"layers\":[]}",
		  MT_OCI_MANIFEST, "config not an object" },
		{ "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\","
		  "\"manifests\":{}}", NULL, "manifests not an array" },
		{ "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\"}", NULL,
		  "index without manifests" },
		{ "{\"schemaVersion\":2,\"manifests\":[],\"subject\":\"x\"}", NULL,
		  "subject not a descriptor" },
		{ "{\"schemaVersion\":2,\"manifests\":[],\"artifactType\":1}", NULL,
		  "artifactType not a string" },
		{ "{\"schemaVersion\":2,\"manifests\":[],\"annotations\":[]}", NULL,
		  "annotations not an object" },
		{ "{\"schemaVersion\":2,\"manifests\":[],\"blobs\":{}}", NULL,
		  "blobs not an array" },
		{ "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\","
		  "\"manifests\":[]}", MT_DOCKER_LIST, "index vs list Content-Type" },
		{ "{\"schemaVersion\":2,\"manifests\":[],\"x\":\"\\u0000\"}", NULL,
		  "escaped NUL" },
	};
	struct manifest m;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		is_int(parse(bad[i].s, bad[i].ct, &m, err, sizeof(err)), -1,
		    "reject: %s", bad[i].why);
		ok(err[0] != '\0' && m.m_refs == NULL && m.m_nrefs == 0 &&
		    m.m_annotations == NULL, "  reason: %s", err);
	}

	/* The reason names the field and position, not the bytes. */
	is_int(parse(IMG("[{\"mediaType\":\"a/b\",\"digest\":\"" D1 "\",\"size\":1},"
	    "{\"mediaType\":\"a/b\",\"digest\":\"sha256:EVILEVIL\",\"size\":1}]"),
	    MT_OCI_MANIFEST, &m, err, sizeof(err)), -1, "bad digest in layer 1");
	is_str(err, "layers[1]: invalid digest", "  reason names layers[1]");
	ok(strstr(err, "EVIL") == NULL, "  input not echoed");

	/* Embedded NUL in the raw bytes. */
	{
		static const char nul[] = "{\"schemaVersion\":2,\0\"manifests\":[]}";

		is_int(manifest_parse(nul, sizeof(nul) - 1, NULL, &m, err,
		    sizeof(err)), -1, "raw NUL in the document");
	}

	/* Deep nesting must fail cleanly, not crash. */
	{
		static char deep[200000];
		size_t n = 0, k;

		n += (size_t)snprintf(deep, sizeof(deep), "{\"schemaVersion\":2,\"x\":");
		for (k = 0; k < 50000; k++)
			deep[n++] = '[';
		for (k = 0; k < 50000; k++)
			deep[n++] = ']';
		deep[n++] = '}';
		deep[n] = '\0';
		is_int(parse(deep, NULL, &m, err, sizeof(err)), -1,
		    "deeply nested document rejected");
	}

	/* Too many refs. */
	{
		static char huge[MANIFEST_MAX_BYTES];
		size_t off, k;

		off = (size_t)snprintf(huge, sizeof(huge), "%s",
		    "{\"schemaVersion\":2,\"manifests\":[");
		for (k = 0; k <= MANIFEST_MAX_REFS; k++)
			off += (size_t)snprintf(huge + off, sizeof(huge) - off,
			    "%s{\"mediaType\":\"a/l\",\"digest\":\"" D1
			    "\",\"size\":1}", k ? "," : "");
		(void)snprintf(huge + off, sizeof(huge) - off, "]}");
		is_int(parse(huge, MT_OCI_INDEX, &m, err, sizeof(err)), -1,
		    "more than MANIFEST_MAX_REFS descriptors rejected");
		ok(strstr(err, "too many") != NULL, "  reason: %s", err);
	}

	is_int(manifest_parse(NULL, 0, NULL, &m, err, sizeof(err)), -1,
	    "NULL buffer");
	is_int(manifest_parse("{}", 2, NULL, &m, NULL, 0), -1,
	    "NULL err buffer is tolerated");
	manifest_free(NULL);
	ok(1, "manifest_free(NULL) is a no-op");
}

static void
test_media_type(void)
{
	char out[MANIFEST_MT_MAX], small[8];

	is_int(manifest_media_type(DOCKER_V2, strlen(DOCKER_V2), out,
	    sizeof(out)), 0, "media type of docker v2");
	is_str(out, MT_DOCKER_MANIFEST, "  docker v2");
	is_int(manifest_media_type(OCI_NO_MT, strlen(OCI_NO_MT), out,
	    sizeof(out)), 0, "media type by structure (manifest)");
	is_str(out, MT_OCI_MANIFEST, "  OCI manifest");
	is_int(manifest_media_type("{\"manifests\":[]}", 16, out, sizeof(out)),
	    0, "media type by structure (index)");
	is_str(out, MT_OCI_INDEX, "  OCI index");
	is_int(manifest_media_type(DOCKER_LIST, strlen(DOCKER_LIST), out,
	    sizeof(out)), 0, "media type of a list");
	is_str(out, MT_DOCKER_LIST, "  docker list");
	is_int(manifest_media_type("[]", 2, out, sizeof(out)), -1, "array");
	is_int(manifest_media_type("{}", 2, out, sizeof(out)), -1,
	    "object of unknown shape");
	is_int(manifest_media_type("{", 1, out, sizeof(out)), -1, "not JSON");
	is_int(manifest_media_type(DOCKER_V2, strlen(DOCKER_V2), small,
	    sizeof(small)), -1, "too small an output buffer");
}

static void
test_accepts(void)
{
	static const struct {
		const char *accept;
		const char *mt;
		int want;
	} t[] = {
		{ NULL, MT_OCI_MANIFEST, 1 },
		{ "", MT_OCI_MANIFEST, 1 },
		{ " ", MT_OCI_MANIFEST, 1 },
		{ MT_OCI_MANIFEST, MT_OCI_MANIFEST, 1 },
		{ MT_OCI_MANIFEST, MT_DOCKER_MANIFEST, 0 },
		{ MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST ", " MT_OCI_MANIFEST
		  ", " MT_OCI_INDEX, MT_OCI_INDEX, 1 },
		{ MT_DOCKER_MANIFEST "," MT_DOCKER_LIST, MT_OCI_INDEX, 0 },
		{ MT_DOCKER_MANIFEST "; q=0.5," MT_OCI_MANIFEST ";q=0.9",
		  MT_DOCKER_MANIFEST, 1 },
		{ "  " MT_OCI_MANIFEST "  ;q=1", MT_OCI_MANIFEST, 1 },
		{ "*/*", MT_DOCKER_LIST, 1 },
		{ "text/html, */*;q=0.8", MT_DOCKER_LIST, 1 },
		{ "application/*", MT_OCI_INDEX, 1 },
		{ "text/*", MT_OCI_INDEX, 0 },
		{ "application/json", MT_OCI_MANIFEST, 0 },
		{ "application/vnd.oci.image.manifest.v1+json2", MT_OCI_MANIFEST, 0 },
		{ "application/vnd.oci.image.manifest.v1", MT_OCI_MANIFEST, 0 },
		{ "APPLICATION/VND.OCI.IMAGE.MANIFEST.V1+JSON", MT_OCI_MANIFEST, 1 },
		{ ",,", MT_OCI_MANIFEST, 1 },
		{ "*", MT_OCI_MANIFEST, 0 },
		{ "/*", MT_OCI_MANIFEST, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		is_int(manifest_accepts(t[i].accept, t[i].mt), t[i].want,
		    "accepts(\"%.50s\", %.45s)",
		    t[i].accept ? t[i].accept : "(null)", t[i].mt);
}

/* manifest_list_pick: the entry for a platform, by platform only. */
static void
test_list_pick(void)
{
	static const char *d1 =
	    "sha256:1111111111111111111111111111111111111111111111111111111111111111";
	static const char *d2 =
	    "sha256:2222222222222222222222222222222222222222222222222222222222222222";
	char buf[2048], digest[DIGEST_BUFSZ], mt[MANIFEST_MT_MAX];

	snprintf(buf, sizeof(buf),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":["
	    "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":1,"
	    "\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\","
	    "\"variant\":\"v7\"}},"
	    "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":1,"
	    "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\","
	    "\"variant\":\"v2\"}}]}",
	    MT_DOCKER_LIST, MT_DOCKER_MANIFEST, d1, MT_OCI_MANIFEST, d2);
	ok(manifest_list_pick(buf, strlen(buf), "linux", "amd64", digest, mt,
	       sizeof(mt)) == 0 &&
	        strcmp(digest, d2) == 0 && strcmp(mt, MT_OCI_MANIFEST) == 0,
	    "linux/amd64: the second entry, any variant");
	ok(manifest_list_pick(buf, strlen(buf), "linux", "arm", digest, mt,
	       sizeof(mt)) == 0 &&
	        strcmp(digest, d1) == 0,
	    "linux/arm: the first");
	is_int(manifest_list_pick(buf, strlen(buf), "windows", "amd64", digest,
	           mt, sizeof(mt)),
	    -1, "windows/amd64: none");
	snprintf(buf, sizeof(buf),
	    "{\"manifests\":[{\"digest\":\"%s\",\"platform\":"
	    "{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}",
	    d1);
	ok(manifest_list_pick(buf, strlen(buf), "linux", "amd64", digest, mt,
	       sizeof(mt)) == 0 &&
	        strcmp(digest, d1) == 0 && mt[0] == '\0',
	    "an entry without mediaType: its digest, type \"\"");
	snprintf(buf, sizeof(buf),
	    "{\"manifests\":[{\"digest\":\"sha256:XYZ\",\"platform\":"
	    "{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}");
	is_int(manifest_list_pick(buf, strlen(buf), "linux", "amd64", digest,
	           mt, sizeof(mt)),
	    -1, "a malformed digest: none");
	snprintf(buf, sizeof(buf),
	    "{\"manifests\":[{\"digest\":\"%s\",\"platform\":"
	    "{\"architecture\":1,\"os\":\"linux\"}},\"x\"]}",
	    d1);
	is_int(manifest_list_pick(buf, strlen(buf), "linux", "amd64", digest,
	           mt, sizeof(mt)),
	    -1, "odd entries are skipped");
	is_int(manifest_list_pick("{\"layers\":[]}", 13, "linux", "amd64",
	           digest, mt, sizeof(mt)),
	    -1, "an image manifest: none");
	is_int(manifest_list_pick("{", 1, "linux", "amd64", digest, mt,
	           sizeof(mt)),
	    -1, "not JSON: none");
}

int
main(void)
{
	test_docker_v2();
	test_oci();
	test_refs();
	test_invalid();
	test_media_type();
	test_accepts();
	test_list_pick();
	return done_testing();
}
