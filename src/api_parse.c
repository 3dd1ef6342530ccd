/*
 * api_parse.c: the pure parsers of the endpoint handlers. It owns how the
 * registry reads Range (blob GET), Content-Range (upload PATCH and PUT),
 * If-None-Match (blob and manifest GET), the parameters of a manifest's
 * Content-Type, the n= and last= pagination parameters, and which
 * Content-Type stored manifest bytes are served with (including legacy
 * schema 1 manifests).
 *
 * Nothing here sees a request, the store or the event loop: the handlers
 * pass header values in and turn the results into replies, and
 * test/fuzz/fuzz_range.c calls these functions directly.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "api_parse.h"
#include "bounds.h"
#include "manifest.h"
#include "util.h"

/* Legacy Docker image manifests, schema 1, as registry:2 serves them. */
#define API_MT_SCHEMA1_BASE   "application/vnd.docker.distribution.manifest.v1"
#define API_MT_SCHEMA1        API_MT_SCHEMA1_BASE "+json"
#define API_MT_SCHEMA1_SIGNED API_MT_SCHEMA1_BASE "+prettyjws"

static int header_safe(const char *);

/*
 * api_parse_range: parse a Range header against a blob of size bytes
 * (RFC 9110 14.1.2): "bytes=a-b", "bytes=a-" or "bytes=-n". Returns 1 with
 * *first and *len for a satisfiable range, -1 when it is well formed but
 * unsatisfiable (416), 0 when the header is to be ignored: malformed,
 * another unit, or several ranges (a server may ignore Range, RFC 9110
 * 14.2; sending the whole blob is simpler than multipart/byteranges and
 * every client copes).
 */
int
api_parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *len)
{
	const char *spec, *dash, *end;
	uint64_t a, b;

	if (strncasecmp(h, "bytes=", 6) != 0)
		return 0;
	spec = h + 6;
	if (strchr(spec, ',') != NULL)
		return 0;
	if ((dash = strchr(spec, '-')) == NULL)
		return 0;
	end = dash + 1 + strlen(dash + 1);
	if (dash == spec) {
		/* Suffix range: the last b bytes. */
		if (util_strtou64(dash + 1, (size_t)(end - dash - 1),
		        UINT64_MAX, &b) == -1)
			return 0;
		if (b == 0 || size == 0)
			return -1;
		if (b > size)
			b = size;
		*first = size - b;
		*len = b;
		return 1;
	}
	if (util_strtou64(spec, (size_t)(dash - spec), UINT64_MAX, &a) == -1)
		return 0;
	if (dash[1] == '\0')
		b = UINT64_MAX;
	else if (util_strtou64(dash + 1, (size_t)(end - dash - 1), UINT64_MAX,
	             &b) == -1 ||
	    b < a)
		return 0;
	if (a >= size)
		return -1;
	if (b >= size)
		b = size - 1;
	*first = a;
	*len = b - a + 1;
	return 1;
}

/*
 * api_parse_content_range: check the Content-Range of a PATCH or closing
 * PUT against an upload at offset. The spec's form is "<start>-<end>",
 * inclusive (OCI distribution-spec, "Pushing a blob in chunks");
 * "bytes a-b", "bytes=a-b" and a trailing "/<total>" are accepted too.
 * Returns 0 with *end, or -1 when the chunk is out of order or malformed:
 * the caller answers 416.
 */
int
api_parse_content_range(const char *h, uint64_t offset, int64_t cl,
    uint64_t *end)
{
	const char *p, *dash, *stop;
	uint64_t a, b;

	p = h;
	if (strncasecmp(p, "bytes", 5) == 0 && (p[5] == ' ' || p[5] == '='))
		p += 6;
	if ((dash = strchr(p, '-')) == NULL)
		return -1;
	if ((stop = strchr(dash, '/')) == NULL)
		stop = dash + strlen(dash);
	if (util_strtou64(p, (size_t)(dash - p), UINT64_MAX, &a) == -1 ||
	    util_strtou64(dash + 1, (size_t)(stop - dash - 1), UINT64_MAX,
	        &b) == -1)
		return -1;
	/* Chunks must come in order (416, "Pushing a blob in chunks"). */
	if (b < a || a != offset)
		return -1;
	if (cl >= 0 && (uint64_t)cl != b - a + 1)
		return -1;
	*end = b;
	return 0;
}

/*
 * api_parse_etag_matches: 1 when an If-None-Match header names the entity
 * tag of digest: "*", the quoted digest (our ETag), or a weak W/"..." form
 * of it (RFC 9110 13.1.2 uses the weak comparison for If-None-Match).
 */
int
api_parse_etag_matches(const char *inm, const char *digest)
{
	const char *p;
	size_t dlen = strlen(digest);

	if (strcmp(inm, "*") == 0)
		return 1;
	for (p = inm; (p = strstr(p, digest)) != NULL; p += dlen) {
		if (p > inm && p[-1] == '"' && p[dlen] == '"')
			return 1;
	}
	return 0;
}

/*
 * api_parse_page: the n= and last= query parameters of tags/list and
 * _catalog (OCI distribution-spec, "Listing Tags"). *limit is n clamped to
 * LIST_MAX_ENTRIES, or LIST_MAX_ENTRIES without n: then a Link header
 * still leads to the rest. Returns 0, or -1 with *errstr for the 400.
 */
int
api_parse_page(const char *query, size_t *limit, char *last, size_t lastsz,
    int *has_last, const char **errstr)
{
	char nbuf[32];
	uint64_t n;
	int rc;

	rc = util_query_get(query, "n", nbuf, sizeof(nbuf));
	if (rc == -1 ||
	    (rc == 1 &&
	        util_strtou64(nbuf, strlen(nbuf), UINT64_MAX, &n) == -1)) {
		*errstr = "n must be a non-negative integer";
		return -1;
	}
	*limit = rc == 1 && n < LIST_MAX_ENTRIES ? (size_t)n : LIST_MAX_ENTRIES;
	rc = util_query_get(query, "last", last, lastsz);
	if (rc == -1) {
		*errstr = "malformed last parameter";
		return -1;
	}
	*has_last = rc == 1;
	return 0;
}

/*
 * api_parse_media_type: the media type of a Content-Type header without
 * parameters: "The registry SHOULD ignore parameters on the Content-Type
 * header" (OCI distribution-spec, "Pushing Manifests"). out is "" when it
 * does not fit.
 */
void
api_parse_media_type(const char *ct, char *out, size_t outsz)
{
	size_t b = 0, e;

	while (ct[b] == ' ' || ct[b] == '\t')
		b++;
	e = b + strcspn(ct + b, ";");
	while (e > b && (ct[e - 1] == ' ' || ct[e - 1] == '\t'))
		e--;
	if (e - b >= outsz) {
		out[0] = '\0';
		return;
	}
	memcpy(out, ct + b, e - b);
	out[e - b] = '\0';
}

/* 1 when s is only visible ASCII: safe as a header value. */
static int
header_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s > '~')
			return 0;
	return 1;
}

/*
 * api_parse_served_type: the Content-Type to serve stored manifest bytes
 * with. manifest.c knows the current types; a tree written by registry:2
 * may also hold schema 1 manifests or types we do not parse. A GET never
 * fails because of this: a mediaType field made of header-safe characters
 * is used as it is, else octet-stream.
 */
void
api_parse_served_type(const char *buf, size_t len, char *out, size_t outsz)
{
	json_t *root, *v;
	const char *s;

	/*
	 * Stored bytes may come from another writer sharing the root: never
	 * let them put CR, LF or other controls into a header.
	 */
	if (manifest_media_type(buf, len, out, outsz) == 0) {
		if (!header_safe(out))
			util_strlcpy(out, API_CT_OCTET, outsz);
		return;
	}
	util_strlcpy(out, API_CT_OCTET, outsz);
	if ((root = json_loadb(buf, len, 0, NULL)) == NULL)
		return;
	if ((v = json_object_get(root, "mediaType")) != NULL &&
	    (s = json_string_value(v)) != NULL && s[0] != '\0' &&
	    strlen(s) < outsz) {
		if (header_safe(s))
			util_strlcpy(out, s, outsz);
	} else if (json_integer_value(json_object_get(root, "schemaVersion")) ==
	    1)
		util_strlcpy(out,
		    json_object_get(root, "signatures") != NULL
		        ? API_MT_SCHEMA1_SIGNED
		        : API_MT_SCHEMA1,
		    outsz);
	json_decref(root);
}
