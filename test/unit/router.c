/*
 * Unit tests for router.c: every endpoint shape, names that contain the
 * separator words, hostile names, and the tag, digest and uuid grammars.
 */
#include <string.h>

#include "tap.h"
#include "../../src/router.c"

#define HEX64 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DG    "sha256:" HEX64
#define UUID  "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b"

/* rv is 0 (then id, name, ref, is_digest apply) or an enum route_err. */
static const struct {
	const char *path;
	int rv;		/* 0 or enum route_err */
	int id;
	const char *name;
	const char *ref;
	int is_digest;
} cases[] = {
	{ "/v2/", 0, ROUTE_BASE, "", "", 0 },
	{ "/v2", 0, ROUTE_BASE, "", "", 0 },
	{ "/v2/_catalog", 0, ROUTE_CATALOG, "", "", 0 },
	{ "/v2/library/ubuntu/tags/list", 0, ROUTE_TAGS, "library/ubuntu", "", 0 },
	{ "/v2/a/tags/list", 0, ROUTE_TAGS, "a", "", 0 },
	{ "/v2/a/manifests/latest", 0, ROUTE_MANIFEST, "a", "latest", 0 },
	{ "/v2/a/b/c/manifests/v1.2.3-rc_1", 0, ROUTE_MANIFEST, "a/b/c", "v1.2.3-rc_1", 0 },
	{ "/v2/a/manifests/" DG, 0, ROUTE_MANIFEST, "a", DG, 1 },
	{ "/v2/a/blobs/" DG, 0, ROUTE_BLOB, "a", DG, 1 },
	{ "/v2/a/blobs/uploads/", 0, ROUTE_UPLOADS, "a", "", 0 },
	{ "/v2/a/blobs/uploads", 0, ROUTE_UPLOADS, "a", "", 0 },
	{ "/v2/a/blobs/uploads/" UUID, 0, ROUTE_UPLOAD, "a", UUID, 0 },
	{ "/v2/a/referrers/" DG, 0, ROUTE_REFERRERS, "a", DG, 1 },
	{ "/healthz", 0, ROUTE_HEALTHZ, "", "", 0 },
	{ "/readyz", 0, ROUTE_READYZ, "", "", 0 },
	{ "/healthz/", ROUTE_ERR_NOT_FOUND, 0, "", "", 0 },
	{ "/v2/healthz", ROUTE_ERR_NOT_FOUND, 0, "", "", 0 },
	{ "/metrics", 0, ROUTE_METRICS, "", "", 0 },
	/* A repository called metrics is a repository. */
	{ "/v2/metrics/tags/list", 0, ROUTE_TAGS, "metrics", "", 0 },
	{ "/v2/metrics/manifests/metrics", 0, ROUTE_MANIFEST, "metrics", "metrics", 0 },

	/* Names with separator words as components. */
	{ "/v2/a/blobs/b/manifests/latest", 0, ROUTE_MANIFEST, "a/blobs/b", "latest", 0 },
	{ "/v2/manifests/manifests/x", 0, ROUTE_MANIFEST, "manifests", "x", 0 },
	{ "/v2/a/manifests/b/blobs/" DG, 0, ROUTE_BLOB, "a/manifests/b", DG, 1 },
	{ "/v2/blobs/blobs/uploads/", 0, ROUTE_UPLOADS, "blobs", "", 0 },
	{ "/v2/tags/list/tags/list", 0, ROUTE_TAGS, "tags/list", "", 0 },
	{ "/v2/a/tags/list/manifests/x", 0, ROUTE_MANIFEST, "a/tags/list", "x", 0 },
	{ "/v2/referrers/x/referrers/" DG, 0, ROUTE_REFERRERS, "referrers/x", DG, 1 },
	{ "/v2/uploads/blobs/uploads/" UUID, 0, ROUTE_UPLOAD, "uploads", UUID, 0 },
	{ "/v2/a/blobs/uploads/x/manifests/latest", 0, ROUTE_MANIFEST, "a/blobs/uploads/x", "latest", 0 },

	/* Not endpoints. */
	{ "", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/v1/", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },

	/* Outside /v2/: fixed paths and the web interface's files. */
	{ "/", 0, ROUTE_ROOT, "", "", 0 },
	{ "/ui", 0, ROUTE_ROOT, "", "", 0 },
	{ "/ui/", 0, ROUTE_UI, "", "", 0 },
	{ "/ui/app.mjs", 0, ROUTE_UI, "", "app.mjs", 0 },
	{ "/ui/favicon.svg", 0, ROUTE_UI, "", "favicon.svg", 0 },
	{ "/ui/a-b_c.d.e", 0, ROUTE_UI, "", "a-b_c.d.e", 0 },
	{ "/ui/api/status", 0, ROUTE_UI_STATUS, "", "", 0 },
	{ "/v1/_ping", 0, ROUTE_V1_PING, "", "", 0 },
	{ "/v1/search", 0, ROUTE_V1_SEARCH, "", "", 0 },
	{ "//", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/ui//", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/ui/../v2/", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/ui/..", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/ui/.", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/ui/.hidden", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/ui/a..b", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/ui/a/b", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/ui/App.mjs", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/ui/a%2fb", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/ui/api/status/", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/ui/api", 0, ROUTE_UI, "", "api", 0 }, /* no such file: 404 */
	{ "/v1/_ping/", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/v1/search/x", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/v1", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/v2x", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/v22/a/tags/list", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/v2/_catalog/", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/v2/a", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/v2/a/b", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/v2/a/tags/listx", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/v2/a/tags/list/", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/v2/a/manifests/", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/v2/a/blobs/", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/v2/a/referrers/", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/v2/manifests/x", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/v2//manifests/x", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/v2//tags/list", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },

	/* Hostile or invalid names. */
	{ "/v2/../tags/list", ROUTE_ERR_NAME, 0, NULL, NULL, 0 },
	{ "/v2/a/../b/tags/list", ROUTE_ERR_NAME, 0, NULL, NULL, 0 },
	{ "/v2/a/./b/tags/list", ROUTE_ERR_NAME, 0, NULL, NULL, 0 },
	{ "/v2/%2e%2e/tags/list", ROUTE_ERR_NAME, 0, NULL, NULL, 0 },
	{ "/v2/a%2fb/tags/list", ROUTE_ERR_NAME, 0, NULL, NULL, 0 },
	{ "/v2/_x/tags/list", ROUTE_ERR_NAME, 0, NULL, NULL, 0 },
	{ "/v2/a/_manifests/tags/list", ROUTE_ERR_NAME, 0, NULL, NULL, 0 },
	{ "/v2/a//b/tags/list", ROUTE_ERR_NAME, 0, NULL, NULL, 0 },
	{ "/v2//abs/tags/list", ROUTE_ERR_NAME, 0, NULL, NULL, 0 },
	{ "/v2/a//tags/list", ROUTE_ERR_NAME, 0, NULL, NULL, 0 },
	{ "/v2/Library/tags/list", ROUTE_ERR_NAME, 0, NULL, NULL, 0 },
	{ "/v2/a b/tags/list", ROUTE_ERR_NAME, 0, NULL, NULL, 0 },
	{ "/v2/a-/tags/list", ROUTE_ERR_NAME, 0, NULL, NULL, 0 },
	{ "/v2/-a/manifests/x", ROUTE_ERR_NAME, 0, NULL, NULL, 0 },

	/* Bad references. */
	{ "/v2/a/manifests/.x", ROUTE_ERR_TAG, 0, NULL, NULL, 0 },
	{ "/v2/a/manifests/-x", ROUTE_ERR_TAG, 0, NULL, NULL, 0 },
	{ "/v2/a/manifests/..", ROUTE_ERR_TAG, 0, NULL, NULL, 0 },
	{ "/v2/a/manifests/x/y", ROUTE_ERR_TAG, 0, NULL, NULL, 0 },
	{ "/v2/a/manifests/a%20b", ROUTE_ERR_TAG, 0, NULL, NULL, 0 },
	{ "/v2/a/manifests/sha256:abc", ROUTE_ERR_DIGEST, 0, NULL, NULL, 0 },
	{ "/v2/a/manifests/sha512:" HEX64, ROUTE_ERR_DIGEST, 0, NULL, NULL, 0 },
	{ "/v2/a/manifests/sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", ROUTE_ERR_DIGEST, 0, NULL, NULL, 0 },
	{ "/v2/a/blobs/sha256:abc", ROUTE_ERR_DIGEST, 0, NULL, NULL, 0 },
	{ "/v2/a/blobs/" DG "0", ROUTE_ERR_DIGEST, 0, NULL, NULL, 0 },
	{ "/v2/a/blobs/latest", ROUTE_ERR_DIGEST, 0, NULL, NULL, 0 },
	{ "/v2/a/blobs/" HEX64, ROUTE_ERR_DIGEST, 0, NULL, NULL, 0 },
	{ "/v2/a/referrers/latest", ROUTE_ERR_DIGEST, 0, NULL, NULL, 0 },
	{ "/v2/a/referrers/sha256:" "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", ROUTE_ERR_DIGEST, 0, NULL, NULL, 0 },
	{ "/v2/a/blobs/uploads/xyz", ROUTE_ERR_UUID, 0, NULL, NULL, 0 },
	{ "/v2/a/blobs/uploads/3F2A1B4C-5D6E-4F70-8A9B-0C1D2E3F4A5B", ROUTE_ERR_UUID, 0, NULL, NULL, 0 },
	{ "/v2/a/blobs/uploads/" UUID "/", ROUTE_ERR_UUID, 0, NULL, NULL, 0 },
	{ "/v2/a/blobs/uploads/../" UUID, ROUTE_ERR_UUID, 0, NULL, NULL, 0 },
	{ "/metrics/", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/metricsx", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/Metrics", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "/v2/metrics", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
	{ "//metrics", ROUTE_ERR_NOT_FOUND, 0, NULL, NULL, 0 },
};

static void
test_table(void)
{
	struct route_match m;
	size_t i;
	int rv;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rv = route_match(cases[i].path, strlen(cases[i].path), &m);
		is_int(rv, cases[i].rv, "route_match(\"%.60s\")", cases[i].path);
		if (rv != 0 || cases[i].rv != 0)
			continue;
		ok(m.rm_id == (enum route_id)cases[i].id &&
		    strcmp(m.rm_name, cases[i].name) == 0 &&
		    strcmp(m.rm_ref, cases[i].ref) == 0 &&
		    m.rm_ref_is_digest == cases[i].is_digest,
		    "  id %d name \"%s\" ref \"%.20s\" digest %d", (int)m.rm_id,
		    m.rm_name, m.rm_ref, m.rm_ref_is_digest);
	}
}

static void
test_lengths(void)
{
	char name[NAME_MAX_LEN + 2], path[1024], tag[TAG_MAX_LEN + 2];
	struct route_match m;
	int n;

	/* 255-byte name: valid; 256: not. */
	memset(name, 'a', sizeof(name));
	name[NAME_MAX_LEN] = '\0';
	n = snprintf(path, sizeof(path), "/v2/%s/tags/list", name);
	is_int(route_match(path, (size_t)n, &m), 0, "255-byte name");
	is_int(strlen(m.rm_name), NAME_MAX_LEN, "255-byte name copied");
	name[NAME_MAX_LEN] = 'a';
	name[NAME_MAX_LEN + 1] = '\0';
	n = snprintf(path, sizeof(path), "/v2/%s/tags/list", name);
	is_int(route_match(path, (size_t)n, &m), ROUTE_ERR_NAME,
	    "256-byte name");

	/* 128-byte tag: valid; 129: not. */
	memset(tag, 'T', sizeof(tag));
	tag[TAG_MAX_LEN] = '\0';
	n = snprintf(path, sizeof(path), "/v2/a/manifests/%s", tag);
	is_int(route_match(path, (size_t)n, &m), 0, "128-byte tag");
	is_str(m.rm_ref, tag, "128-byte tag copied");
	tag[TAG_MAX_LEN] = 'T';
	tag[TAG_MAX_LEN + 1] = '\0';
	n = snprintf(path, sizeof(path), "/v2/a/manifests/%s", tag);
	is_int(route_match(path, (size_t)n, &m), ROUTE_ERR_TAG, "129-byte tag");

	/* A NUL inside the path, with an explicit length. */
	{
		static const char p1[] = "/v2/a\0b/tags/list";
		static const char p2[] = "/v2/a/manifests/lat\0est";
		static const char p3[] = "/v2/a/blobs/sha256:" HEX64;
		char p4[sizeof(p3)];

		is_int(route_match(p1, sizeof(p1) - 1, &m), ROUTE_ERR_NAME,
		    "NUL in name");
		is_int(route_match(p2, sizeof(p2) - 1, &m), ROUTE_ERR_TAG,
		    "NUL in tag");
		memcpy(p4, p3, sizeof(p3));
		p4[30] = '\0';
		is_int(route_match(p4, sizeof(p4) - 1, &m), ROUTE_ERR_DIGEST,
		    "NUL in digest");
		is_int(route_match("/v2/a/tags/list", 5, &m),
		    ROUTE_ERR_NOT_FOUND, "length cuts the path short");
		is_int(route_match(NULL, 0, &m), ROUTE_ERR_NOT_FOUND, "NULL");
	}
}

static void
test_ui_files(void)
{
	char name[ROUTE_UI_FILE_MAX + 2], path[128];
	struct route_match m;
	int n;

	memset(name, 'a', sizeof(name));
	name[ROUTE_UI_FILE_MAX] = '\0';
	n = snprintf(path, sizeof(path), "/ui/%s", name);
	is_int(route_match(path, (size_t)n, &m), 0, "64-byte file name");
	is_str(m.rm_ref, name, "  copied");
	name[ROUTE_UI_FILE_MAX] = 'a';
	name[ROUTE_UI_FILE_MAX + 1] = '\0';
	n = snprintf(path, sizeof(path), "/ui/%s", name);
	is_int(route_match(path, (size_t)n, &m), ROUTE_ERR_NOT_FOUND,
	    "65-byte file name");
	is_int(route_match("/ui/app\0.mjs", 12, &m), ROUTE_ERR_NOT_FOUND,
	    "NUL in a file name");
	ok(!route_ui_file_is_valid("-a", 2) && !route_ui_file_is_valid("a b", 3) &&
	        route_ui_file_is_valid("index.html", 10),
	    "route_ui_file_is_valid");
}

static void
test_grammars(void)
{
	static const struct {
		const char *s;
		int want;
	} names[] = {
		{ "a", 1 }, { "library/ubuntu", 1 }, { "a.b", 1 }, { "a_b", 1 },
		{ "a__b", 1 }, { "a-b", 1 }, { "a---b", 1 }, { "a0/b1/c2", 1 },
		{ "a___b", 0 }, { "a.-b", 0 }, { "a-.b", 0 }, { "a..b", 0 },
		{ "a._b", 0 }, { ".a", 0 }, { "a.", 0 }, { "_a", 0 },
		{ "a/", 0 }, { "/a", 0 }, { "a//b", 0 }, { "", 0 }, { "A", 0 },
		{ "a/..", 0 }, { "a/.", 0 }, { "a/_b", 0 }, { "a:b", 0 },
		{ "a%2fb", 0 }, { "a\\b", 0 },
	};
	static const struct {
		const char *s;
		int want;
	} tags[] = {
		{ "latest", 1 }, { "_x", 1 }, { "X", 1 }, { "1.0", 1 },
		{ "a-b_c.d", 1 }, { "", 0 }, { ".x", 0 }, { "-x", 0 },
		{ "a:b", 0 }, { "a/b", 0 }, { "a b", 0 }, { "a+b", 0 },
	};
	static const struct {
		const char *s;
		int want;
	} uuids[] = {
		{ UUID, 1 },
		{ "00000000-0000-0000-0000-000000000000", 1 },
		{ "3f2a1b4c5d6e4f708a9b0c1d2e3f4a5b", 0 },
		{ "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5", 0 },
		{ "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5bb", 0 },
		{ "3f2a1b4c-5d6e-4f70-8a9b_0c1d2e3f4a5b", 0 },
		{ "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5g", 0 },
		{ "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a-b", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		is_int(route_name_is_valid(names[i].s, strlen(names[i].s)),
		    names[i].want, "name \"%s\"", names[i].s);
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		is_int(route_tag_is_valid(tags[i].s, strlen(tags[i].s)),
		    tags[i].want, "tag \"%s\"", tags[i].s);
	for (i = 0; i < sizeof(uuids) / sizeof(uuids[0]); i++)
		is_int(route_uuid_is_valid(uuids[i].s, strlen(uuids[i].s)),
		    uuids[i].want, "uuid \"%s\"", uuids[i].s);
	is_int(route_name_is_valid("ab", 1), 1, "name uses len, not NUL");
	is_int(route_name_is_valid(NULL, 0), 0, "name NULL");
}

/* Route names: registry:2's, fixed constants, "other" beyond the table. */
static void
test_names(void)
{
	is_str(route_name(ROUTE_BASE), "base", "name of /v2/");
	is_str(route_name(ROUTE_TAGS), "tags", "name of tags/list");
	is_str(route_name(ROUTE_UPLOADS), "blob_upload", "name of uploads/");
	is_str(route_name(ROUTE_UPLOAD), "blob_upload_chunk",
	    "name of uploads/<uuid>");
	is_str(route_name(ROUTE_METRICS), "metrics", "name of /metrics");
	is_str(route_name((enum route_id)1000), "other", "no such route");
	ok(route_name(ROUTE_BLOB) == route_name(ROUTE_BLOB),
	    "the same constant every time");
}

int
main(void)
{
	test_table();
	test_names();
	test_lengths();
	test_ui_files();
	test_grammars();
	return done_testing();
}
