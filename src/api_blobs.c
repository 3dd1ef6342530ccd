/*
 * api_blobs.c: GET, HEAD and DELETE of /v2/<name>/blobs/<digest> (OCI
 * distribution-spec end-2 and end-10). It owns what a blob read answers:
 * the repository link check, the ETag and If-None-Match (304), the
 * single byte ranges of a resumable pull (206, 416) and serving the file
 * itself (sendfile); and the unlinking of a layer. Uploads that create
 * blobs are api_uploads.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "api_parse.h"
#include "config.h"
#include "http.h"
#include "router.h"
#include "store.h"

#define API_BLOB_MAX_AGE 31536000 /* blobs never change: a year */

/*
 * api_blob_get: GET/HEAD /v2/<name>/blobs/<digest> (end-2). The blob must
 * be linked in this repository: as a layer, or as a manifest revision,
 * since registry:2 serves manifests by digest through /blobs/ too. Served
 * from the file (sendfile), with single byte ranges (resumable pull).
 */
void
api_blob_get(struct request *req, const struct route_match *m)
{
	const char *digest = m->rm_ref, *inm, *range;
	uint64_t size, first = 0, len = 0;
	int fd, rc;

	http_log_digest(req, digest);
	rc = store_link_exists(api_store(), m->rm_name, STORE_LINK_LAYER,
	    digest);
	if (rc == 0)
		rc = store_link_exists(api_store(), m->rm_name,
		    STORE_LINK_REVISION, digest);
	if (rc == -1) {
		http_error(req, 500, "UNKNOWN", "store_link_exists: %s",
		    strerror(errno));
		return;
	}
	if (rc == 0) {
		http_error(req, 404, "BLOB_UNKNOWN", NULL);
		return;
	}

	http_add_header(req, "Docker-Content-Digest", "%s", digest);
	http_add_header(req, "ETag", "\"%s\"", digest);
	http_add_header(req, "Cache-Control", "max-age=%d", API_BLOB_MAX_AGE);
	if ((inm = http_header(req, "If-None-Match")) != NULL &&
	    api_parse_etag_matches(inm, digest)) {
		http_reply(req, 304, NULL, NULL, 0);
		return;
	}
	if ((fd = store_blob_open(api_store(), digest, &size)) == -1) {
		if (errno == ENOENT)
			http_error(req, 404, "BLOB_UNKNOWN", NULL);
		else
			http_error(req, 500, "UNKNOWN", "store_blob_open: %s",
			    strerror(errno));
		return;
	}
	http_add_header(req, "Accept-Ranges", "bytes");

	/* Range applies to GET only (RFC 9110 14.2). */
	range = http_header(req, "Range");
	if (range != NULL && http_method(req) == HTTP_M_GET) {
		switch (api_parse_range(range, size, &first, &len)) {
		case 1:
			http_add_header(req, "Content-Range",
			    "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first,
			    first + len - 1, size);
			http_reply_file(req, 206, API_CT_OCTET, fd, first, len);
			return;
		case -1:
			close(fd);
			http_add_header(req, "Content-Range",
			    "bytes */%" PRIu64, size);
			http_error(req, 416, "RANGE_INVALID",
			    "range not satisfiable");
			return;
		default:
			break;
		}
	}
	http_reply_file(req, 200, API_CT_OCTET, fd, 0, size);
}

/*
 * api_blob_delete: DELETE /v2/<name>/blobs/<digest> (end-10): unlink the
 * layer from this repository; the data stays until garbage-collect. One
 * rmdir, on the loop.
 */
void
api_blob_delete(struct request *req, const struct route_match *m)
{
	http_log_digest(req, m->rm_ref);
	if (!api_config()->cf_delete_enabled) {
		http_error(req, 405, "UNSUPPORTED", "deletion is disabled");
		return;
	}
	if (store_link_delete(api_store(), m->rm_name, STORE_LINK_LAYER,
	        m->rm_ref) == -1) {
		if (errno == ENOENT)
			http_error(req, 404, "BLOB_UNKNOWN", NULL);
		else
			http_error(req, 500, "UNKNOWN", "store_link_delete: %s",
			    strerror(errno));
		return;
	}
	http_reply(req, 202, NULL, NULL, 0);
}
