/*
 * fuzz_range: the pure parsers of api_parse.c that read client or stored
 * bytes: api_parse_range (Range), api_parse_content_range (Content-Range
 * of an upload chunk), api_parse_etag_matches (If-None-Match),
 * api_parse_page (n=, last=), api_parse_media_type (Content-Type
 * parameters) and api_parse_served_type (stored manifest bytes). They
 * take plain values, so no request or upload has to exist.
 * util_strtou64 is checked against a reference.
 *
 * Input format (see README.md):
 *   bytes 0-7    blob size for Range (little endian)
 *   bytes 8-15   upload offset for Content-Range
 *   bytes 16-23  Content-Length (signed; < 0 means none/chunked)
 *   byte  24     bit 0: chunked (Content-Length then reads -1)
 *   the rest     the header value (up to the first NUL), then after that
 *                NUL, the bytes handed to api_parse_served_type
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_parse.h"
#include "bounds.h"
#include "manifest.h"
#include "util.h"

#include "fuzz.h"

/* ---- reference ---- */

/* util_strtou64 the slow way: digits only, not empty, no overflow. */
static int
fuzz_ref_strtou64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	unsigned __int128 v = 0;
	size_t i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
		if (v > max)
			return -1;
	}
	*out = (uint64_t)v;
	return 0;
}

static uint64_t
fuzz_u64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void
fuzz_header_safe(const char *s)
{
	for (; *s != '\0'; s++)
		FUZZ_CHECK(*s > ' ' && *s <= '~');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *errstr;
	uint64_t bsize, offset, first = 0, len = 0, end, a, b, max;
	int64_t cl;
	char *h, out[MANIFEST_MT_MAX], last[NAME_MAX_LEN + 1];
	size_t hlen, limit;
	int rc, rc2, has_last;

	if (size < 25)
		return 0;
	bsize = fuzz_u64(data);
	offset = fuzz_u64(data + 8);
	cl = (int64_t)fuzz_u64(data + 16);
	if (data[24] & 1)
		cl = -1;
	data += 25;
	size -= 25;
	hlen = strnlen((const char *)data, size);
	if ((h = malloc(hlen + 1)) == NULL)
		return 0;
	memcpy(h, data, hlen);
	h[hlen] = '\0';

	/* Range: a satisfiable range lies inside the blob. */
	rc = api_parse_range(h, bsize, &first, &len);
	FUZZ_CHECK(rc >= -1 && rc <= 1);
	if (rc == 1) {
		FUZZ_CHECK(len > 0 && first < bsize && len <= bsize);
		FUZZ_CHECK(first <= bsize - len);
	}
	/*
	 * Content-Range: accepted only in order and matching the length.
	 * The upload handlers ask only for a request with a body; every
	 * input is tried here.
	 */
	end = 0;
	rc = api_parse_content_range(h, offset, cl, &end);
	FUZZ_CHECK(rc == 0 || rc == -1);
	if (rc == 0) {
		FUZZ_CHECK(end >= offset);
		if (cl >= 0)
			FUZZ_CHECK((uint64_t)cl - 1 == end - offset);
	}

	/* util_strtou64 against the reference, with a max from the input. */
	max = offset;
	a = b = 0;
	rc = util_strtou64(h, hlen, max, &a);
	rc2 = fuzz_ref_strtou64(h, hlen, max, &b);
	FUZZ_CHECK(rc == rc2);
	if (rc == 0)
		FUZZ_CHECK(a == b && a <= max);
	rc = util_strtou64(h, hlen, UINT64_MAX, &a);
	rc2 = fuzz_ref_strtou64(h, hlen, UINT64_MAX, &b);
	FUZZ_CHECK(rc == rc2 && (rc != 0 || a == b));

	/* If-None-Match against a fixed digest. */
	(void)api_parse_etag_matches(h,
	    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

	/* n= and last= */
	errstr = NULL;
	limit = 0;
	rc = api_parse_page(h, &limit, last, sizeof(last), &has_last, &errstr);
	FUZZ_CHECK(rc == 0 || (rc == -1 && errstr != NULL));
	if (rc == 0)
		FUZZ_CHECK(limit <= LIST_MAX_ENTRIES &&
		    strlen(last) < sizeof(last));

	/* Content-Type parameters. */
	api_parse_media_type(h, out, sizeof(out));
	FUZZ_CHECK(strlen(out) < sizeof(out) && strchr(out, ';') == NULL);

	/*
	 * Stored manifest bytes after the NUL: the served Content-Type must
	 * be safe to put in a header whatever the bytes are.
	 */
	if (hlen < size) {
		api_parse_served_type((const char *)data + hlen + 1,
		    size - hlen - 1, out, sizeof(out));
		FUZZ_CHECK(out[0] != '\0');
		fuzz_header_safe(out);
	}
	free(h);
	return 0;
}
