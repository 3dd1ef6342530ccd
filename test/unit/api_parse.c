/*
 * Unit tests for api_parse.c: Range, Content-Range, If-None-Match, the
 * n= and last= parameters, Content-Type parameters and the Content-Type
 * of stored manifest bytes. test/fuzz/fuzz_range.c checks invariants on
 * random input; these pin the answers for the shapes clients send.
 */
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "../../src/api_parse.c"

#define DG "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void
test_range(void)
{
	static const struct {
		const char *h;
		uint64_t size;
		int rv;
		uint64_t first, len;
	} t[] = {
		{ "bytes=0-99", 1000, 1, 0, 100 },
		{ "bytes=100-", 1000, 1, 100, 900 },
		{ "bytes=-10", 1000, 1, 990, 10 },
		{ "bytes=-5000", 1000, 1, 0, 1000 },
		{ "bytes=900-5000", 1000, 1, 900, 100 },
		{ "BYTES=1-1", 10, 1, 1, 1 },
		{ "bytes=1000-", 1000, -1, 0, 0 },
		{ "bytes=-0", 1000, -1, 0, 0 },
		{ "bytes=0-0", 0, -1, 0, 0 },
		{ "bytes=5-4", 1000, 0, 0, 0 },
		{ "bytes=0-1,5-6", 1000, 0, 0, 0 },
		{ "items=0-1", 1000, 0, 0, 0 },
		{ "bytes=a-b", 1000, 0, 0, 0 },
		{ "bytes=", 1000, 0, 0, 0 },
	};
	uint64_t first, len;
	size_t i;
	int rv;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		first = len = 0;
		rv = api_parse_range(t[i].h, t[i].size, &first, &len);
		is_int(rv, t[i].rv, "range \"%s\" of %llu", t[i].h,
		    (unsigned long long)t[i].size);
		if (rv == 1)
			ok(first == t[i].first && len == t[i].len,
			    "range \"%s\": first %llu len %llu", t[i].h,
			    (unsigned long long)first, (unsigned long long)len);
	}
}

static void
test_content_range(void)
{
	static const struct {
		const char *h;
		uint64_t offset;
		int64_t cl;
		int rv;
		uint64_t end;
	} t[] = {
		{ "0-99", 0, 100, 0, 99 },
		{ "100-199", 100, -1, 0, 199 },
		{ "bytes 100-199/1000", 100, 100, 0, 199 },
		{ "bytes=100-199", 100, 100, 0, 199 },
		{ "0-99", 50, 100, -1, 0 },  /* out of order */
		{ "0-99", 0, 99, -1, 0 },    /* length mismatch */
		{ "99-0", 99, -1, -1, 0 },
		{ "0-", 0, -1, -1, 0 },
		{ "-99", 0, -1, -1, 0 },
		{ "nonsense", 0, -1, -1, 0 },
	};
	uint64_t end;
	size_t i;
	int rv;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		end = 0;
		rv = api_parse_content_range(t[i].h, t[i].offset, t[i].cl, &end);
		is_int(rv, t[i].rv, "content-range \"%s\" at %llu, cl %lld",
		    t[i].h, (unsigned long long)t[i].offset,
		    (long long)t[i].cl);
		if (rv == 0)
			is_int(end, t[i].end, "content-range \"%s\": end",
			    t[i].h);
	}
}

static void
test_etag(void)
{
	is_int(api_parse_etag_matches("*", DG), 1, "etag *");
	is_int(api_parse_etag_matches("\"" DG "\"", DG), 1, "etag quoted");
	is_int(api_parse_etag_matches("W/\"" DG "\"", DG), 1, "etag weak");
	is_int(api_parse_etag_matches("\"x\", \"" DG "\"", DG), 1,
	    "etag in a list");
	is_int(api_parse_etag_matches(DG, DG), 0, "etag unquoted");
	is_int(api_parse_etag_matches("\"sha256:00\"", DG), 0, "etag other");
}

static void
test_page(void)
{
	const char *errstr;
	char last[64];
	size_t limit;
	int has_last, rv;

	errstr = NULL;
	rv = api_parse_page("", &limit, last, sizeof(last), &has_last, &errstr);
	ok(rv == 0 && limit == LIST_MAX_ENTRIES && !has_last, "page: none");
	rv = api_parse_page("n=10&last=a%2Fb", &limit, last, sizeof(last),
	    &has_last, &errstr);
	ok(rv == 0 && limit == 10 && has_last && strcmp(last, "a/b") == 0,
	    "page: n and last");
	rv = api_parse_page("n=0", &limit, last, sizeof(last), &has_last,
	    &errstr);
	ok(rv == 0 && limit == 0, "page: n=0");
	rv = api_parse_page("n=99999999999", &limit, last, sizeof(last),
	    &has_last, &errstr);
	ok(rv == 0 && limit == LIST_MAX_ENTRIES, "page: n clamped");
	rv = api_parse_page("n=-1", &limit, last, sizeof(last), &has_last,
	    &errstr);
	ok(rv == -1 && errstr != NULL && strstr(errstr, "n must") != NULL,
	    "page: bad n");
	errstr = NULL;
	rv = api_parse_page("last=%zz", &limit, last, sizeof(last), &has_last,
	    &errstr);
	ok(rv == -1 && errstr != NULL && strstr(errstr, "last") != NULL,
	    "page: bad last");
}

static void
test_media_type(void)
{
	char out[32];

	api_parse_media_type(" application/json ; charset=utf-8", out,
	    sizeof(out));
	is_str(out, "application/json", "media type without parameters");
	api_parse_media_type("a/b", out, sizeof(out));
	is_str(out, "a/b", "media type as is");
	api_parse_media_type("application/vnd.a.very.long.media.type+json",
	    out, sizeof(out));
	is_str(out, "", "media type too long");
}

static void
test_served_type(void)
{
	static const char oci[] = "{\"schemaVersion\":2,\"mediaType\":"
	                          "\"application/vnd.oci.image.index.v1+json\","
	                          "\"manifests\":[]}";
	static const char s1[] = "{\"schemaVersion\":1,\"name\":\"a\"}";
	static const char s1s[] = "{\"schemaVersion\":1,\"signatures\":[]}";
	static const char crlf[] = "{\"schemaVersion\":3,\"mediaType\":"
	                           "\"a/b\\r\\nX-Evil: 1\"}";
	char out[MANIFEST_MT_MAX];

	api_parse_served_type(oci, sizeof(oci) - 1, out, sizeof(out));
	is_str(out, MT_OCI_INDEX, "served type: OCI index");
	api_parse_served_type(s1, sizeof(s1) - 1, out, sizeof(out));
	is_str(out, API_MT_SCHEMA1, "served type: schema 1");
	api_parse_served_type(s1s, sizeof(s1s) - 1, out, sizeof(out));
	is_str(out, API_MT_SCHEMA1_SIGNED, "served type: signed schema 1");
	api_parse_served_type(crlf, sizeof(crlf) - 1, out, sizeof(out));
	is_str(out, API_CT_OCTET, "served type: CR LF refused");
	api_parse_served_type("not json", 8, out, sizeof(out));
	is_str(out, API_CT_OCTET, "served type: not JSON");
}

int
main(void)
{
	test_range();
	test_content_range();
	test_etag();
	test_page();
	test_media_type();
	test_served_type();
	return done_testing();
}
