#ifndef REGISTRYD_API_PARSE_H
#define REGISTRYD_API_PARSE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Pure parsers for the /v2/ endpoint handlers: the header and query
 * values a client sends (Range, Content-Range, If-None-Match, Content-Type,
 * n= and last=) and the Content-Type to serve stored manifest bytes with.
 * No request, no store, no event loop: test/fuzz/fuzz_range.c calls them
 * directly.
 */

/* The Content-Type of blobs, and of manifests of no known type. */
#define API_CT_OCTET "application/octet-stream"

/*
 * api_parse_range: a Range header value against a blob of size bytes
 * (RFC 9110 14.1.2): "bytes=a-b", "bytes=a-" or "bytes=-n". Returns 1 with
 * *first and *len for a satisfiable range, -1 when it is well formed but
 * unsatisfiable (416), 0 when the header is to be ignored.
 */
int
api_parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *len);

/*
 * api_parse_content_range: the Content-Range value h of a PATCH or closing
 * PUT with a body, against an upload at offset; cl is the Content-Length,
 * or -1 when there is none. Returns 0 and *end, the range's last byte
 * index, or -1 when the range is malformed, out of order or does not
 * match cl (416).
 */
int api_parse_content_range(const char *h, uint64_t offset, int64_t cl,
    uint64_t *end);

/*
 * api_parse_etag_matches: 1 when the If-None-Match value inm names the
 * entity tag of digest ("*", "<digest>" or W/"<digest>"), else 0.
 */
int api_parse_etag_matches(const char *inm, const char *digest);

/*
 * api_parse_page: the n= and last= parameters of the raw query string of
 * tags/list or _catalog. *limit is n clamped to LIST_MAX_ENTRIES, or
 * LIST_MAX_ENTRIES without n; last (lastsz bytes) and *has_last are set
 * when last= is given. Returns 0, or -1 with *errstr, a static message
 * for a 400 PAGINATION_NUMBER_INVALID.
 */
int api_parse_page(const char *query, size_t *limit, char *last, size_t lastsz,
    int *has_last, const char **errstr);

/*
 * api_parse_media_type: the media type of a Content-Type value without
 * its parameters into out; out is "" when it does not fit.
 */
void api_parse_media_type(const char *ct, char *out, size_t outsz);

/*
 * api_parse_served_type: the Content-Type to serve the stored manifest
 * bytes buf[0..len) with, into out (outsz bytes, MANIFEST_MT_MAX): always
 * a non-empty value made of visible ASCII.
 */
void
api_parse_served_type(const char *buf, size_t len, char *out, size_t outsz);

#endif /* REGISTRYD_API_PARSE_H */
