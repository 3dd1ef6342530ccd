/*
 * fuzz_range: the Range and Content-Range parsers of registry.c
 * (reg_range_parse, reg_content_range), which are static; this file
 * includes registry.c and redirects the few http.c and upload.c calls
 * they make to stand-ins with the preprocessor, so no request or upload
 * has to exist. The other pure helpers of registry.c that read client
 * or stored bytes ride along: reg_etag_matches (If-None-Match),
 * reg_page_args (n=, last=), reg_strip_params (Content-Type) and
 * reg_served_type (stored manifest bytes). util_strtou64 is checked
 * against a reference.
 *
 * XXX reg_range_parse and the parsing half of reg_content_range are pure
 * and would be better in util.c (util_range_parse / util_content_range),
 * where they could be fuzzed without these redirections.
 *
 * Input format (see README.md):
 *   bytes 0-7    blob size for Range (little endian)
 *   bytes 8-15   upload offset for Content-Range
 *   bytes 16-23  Content-Length (signed; < 0 means none/chunked)
 *   byte  24     bit 0: chunked (Content-Length then reads -1); without
 *                it the request has a body when Content-Length > 0, as
 *                http_has_body says
 *   the rest     the header value (up to the first NUL), then after that
 *                NUL, the bytes handed to reg_served_type
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define http_header		fuzz_http_header
#define http_has_body		fuzz_http_has_body
#define http_content_length	fuzz_http_content_length
#define http_query		fuzz_http_query
#define http_error		fuzz_http_error
#define upload_offset		fuzz_upload_offset
#include "../../src/registry.c"
#undef http_header
#undef http_has_body
#undef http_content_length
#undef http_query
#undef http_error
#undef upload_offset

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

static const char *fuzz_value;		/* the header under test */
static int fuzz_body;
static int64_t fuzz_cl;
static uint64_t fuzz_offset;
static int fuzz_errors;

/* ---- stand-ins (reached through the #defines above) ---- */

const char *
fuzz_http_header(const struct request *r, const char *name)
{
	(void)r;
	if (strcasecmp(name, "Content-Range") == 0 ||
	    strcasecmp(name, "Range") == 0)
		return fuzz_value;
	return NULL;
}

int
fuzz_http_has_body(const struct request *r)
{
	(void)r;
	return fuzz_body;
}

int64_t
fuzz_http_content_length(const struct request *r)
{
	(void)r;
	return fuzz_cl;
}

const char *
fuzz_http_query(const struct request *r)
{
	(void)r;
	return fuzz_value;
}

void
fuzz_http_error(struct request *r, int status, const char *code,
    const char *fmt, ...)
{
	(void)r;
	(void)code;
	(void)fmt;
	FUZZ_CHECK(status == 400);
	fuzz_errors++;
}

uint64_t
fuzz_upload_offset(const struct upload *u)
{
	(void)u;
	return fuzz_offset;
}

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
	struct reg_ctx ctx;
	uint64_t bsize, first = 0, len = 0, a, b, max;
	char *h, out[MANIFEST_MT_MAX], last[NAME_MAX_LEN + 1];
	size_t hlen, limit;
	int rc, rc2, has_last;

	if (size < 25)
		return 0;
	bsize = fuzz_u64(data);
	fuzz_offset = fuzz_u64(data + 8);
	fuzz_cl = (int64_t)fuzz_u64(data + 16);
	if (data[24] & 1)
		fuzz_cl = -1;
	fuzz_body = (data[24] & 1) || fuzz_cl > 0;
	data += 25;
	size -= 25;
	hlen = strnlen((const char *)data, size);
	if ((h = malloc(hlen + 1)) == NULL)
		return 0;
	memcpy(h, data, hlen);
	h[hlen] = '\0';
	fuzz_value = h;

	/* Range: a satisfiable range lies inside the blob. */
	rc = reg_range_parse(h, bsize, &first, &len);
	FUZZ_CHECK(rc >= -1 && rc <= 1);
	if (rc == 1) {
		FUZZ_CHECK(len > 0 && first < bsize && len <= bsize);
		FUZZ_CHECK(first <= bsize - len);
	}
	/* Content-Range: accepted only in order and matching the length. */
	memset(&ctx, 0, sizeof(ctx));
	ctx.rc_upload = (struct upload *)&ctx;	/* never dereferenced */
	rc = reg_content_range(NULL, &ctx);
	FUZZ_CHECK(rc == 0 || rc == -1);
	if (rc == 0 && ctx.rc_has_range) {
		FUZZ_CHECK(fuzz_body);
		FUZZ_CHECK(ctx.rc_range_end >= fuzz_offset);
		if (fuzz_cl >= 0)
			FUZZ_CHECK((uint64_t)fuzz_cl - 1 ==
			    ctx.rc_range_end - fuzz_offset);
	}
	if (!fuzz_body)
		FUZZ_CHECK(rc == 0 && !ctx.rc_has_range);

	/* util_strtou64 against the reference, with a max from the input. */
	max = fuzz_offset;
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
	(void)reg_etag_matches(h,
	    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

	/* n= and last= */
	fuzz_errors = 0;
	limit = 0;
	rc = reg_page_args(NULL, &limit, last, sizeof(last), &has_last);
	FUZZ_CHECK(rc == 0 || (rc == -1 && fuzz_errors == 1));
	if (rc == 0)
		FUZZ_CHECK(limit <= LIST_MAX_ENTRIES &&
		    strlen(last) < sizeof(last));

	/* Content-Type parameters. */
	reg_strip_params(h, out, sizeof(out));
	FUZZ_CHECK(strlen(out) < sizeof(out) && strchr(out, ';') == NULL);

	/*
	 * Stored manifest bytes after the NUL: the served Content-Type must
	 * be safe to put in a header whatever the bytes are.
	 */
	if (hlen < size) {
		reg_served_type((const char *)data + hlen + 1,
		    size - hlen - 1, out, sizeof(out));
		FUZZ_CHECK(out[0] != '\0');
		fuzz_header_safe(out);
	}
	free(h);
	return 0;
}
