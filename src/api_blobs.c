/*
 * api_blobs.c: GET, HEAD and DELETE of /v2/<name>/blobs/<digest> (OCI
 * distribution-spec end-2 and end-10). It owns what a blob read answers:
 * the repository link check, the ETag and If-None-Match (304), the
 * single byte ranges of a resumable pull (206, 416) and serving the bytes
 * from the store's reader (sendfile when the driver hands over a file);
 * and the unlinking of a layer. Uploads that create
 * blobs are api_uploads.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_parse.h"
#include "bounds.h"
#include "config.h"
#include "http.h"
#include "router.h"
#include "store.h"
#include "store_fs.h"
#include "util.h"

#define API_BLOB_MAX_AGE      31536000 /* blobs never change: a year */
#define API_BLOB_REDIRECT_TTL 1200     /* seconds, registry:2's 20 min */

/*
 * A blob read: the lookups (is it linked here, open it, or for a HEAD
 * just its size) are a store call, the answer comes from job_done on the
 * loop. Owned by itself; the reader is the job's until the reply takes
 * it.
 */
struct api_blob_read {
	struct api_job br_job; /* first: the call and request link */
	char br_name[NAME_MAX_LEN + 1];
	char br_digest[DIGEST_BUFSZ];
	int br_not_modified; /* If-None-Match names the digest: no open */
	int br_head;         /* a HEAD: the size is all it needs */
	int br_touch;        /* a HEAD: the layer link counts as used */
	int br_linked;       /* 1, 0, or -1 (br_errno) */
	int br_redirect;     /* a GET: try a URL of the store's first */
	char *br_url;        /* that URL (307), or NULL; owned */
	struct store_reader *br_reader; /* a GET's; NULL for a HEAD */
	int br_sized;                   /* br_size is known; else br_errno */
	uint64_t br_size;
	int br_errno;
};

/*
 * A layer unlink (DELETE): one store call; delete_done answers. Owned by
 * itself.
 */
struct api_blob_delete {
	struct api_job bd_job; /* first: the call and request link */
	char bd_name[NAME_MAX_LEN + 1];
	char bd_digest[DIGEST_BUFSZ];
	int bd_result; /* store_link_delete's: 0, -1 (bd_errno) */
	int bd_errno;
};

static void read_work(struct store_call *);
static void read_done(struct store_call *);
static void delete_work(struct store_call *);
static void delete_done(struct store_call *);
static void
reply_blob(struct request *, int, struct store_reader *, uint64_t, uint64_t);
static ssize_t reader_read(void *, void *, size_t, uint64_t);
static void reader_free(void *);
static void reader_wake(void *);

/*
 * api_blob_get: GET/HEAD /v2/<name>/blobs/<digest> (end-2). The blob must
 * be linked in this repository: as a layer, or as a manifest revision,
 * since registry:2 serves manifests by digest through /blobs/ too. Served
 * from the store's reader (sendfile when the driver has a file), with
 * single byte ranges (resumable pull).
 */
void
api_blob_get(struct request *req, const struct route_match *m)
{
	struct api_blob_read *br;
	const char *inm;

	http_log_digest(req, m->rm_ref);
	if ((br = api_job_new(req, m, sizeof(*br), STORE_CALL_QUICK, read_work,
	         read_done)) == NULL)
		return;
	util_strlcpy(br->br_name, m->rm_name, sizeof(br->br_name));
	util_strlcpy(br->br_digest, m->rm_ref, sizeof(br->br_digest));
	br->br_not_modified =
	    (inm = http_header(req, "If-None-Match")) != NULL &&
	    api_parse_etag_matches(inm, m->rm_ref);
	/*
	 * A client HEADs a blob to skip uploading it, then names it in a
	 * manifest perhaps much later: from here on a garbage collection
	 * must count it as used (gc_grace, gc.c).
	 */
	br->br_head = http_method(req) == HTTP_M_HEAD;
	br->br_touch = br->br_head && !api_config()->cf_read_only;
	/*
	 * registry:2 with a network store sends GETs there by default
	 * (storage.redirect), which spares this process the bytes.
	 */
	br->br_redirect = http_method(req) == HTTP_M_GET &&
	    !api_config()->cf_redirect_disable;
	api_job_start(&br->br_job);
}

/* Wherever the store runs it: only the job's own fields and the store. */
static void
read_work(struct store_call *sc)
{
	struct api_blob_read *br = (struct api_blob_read *)sc;
	struct store *st = api_store();

	br->br_linked = br->br_touch
	    ? store_link_use(st, br->br_name, STORE_LINK_LAYER, br->br_digest)
	    : store_link_exists(st, br->br_name, STORE_LINK_LAYER,
	          br->br_digest);
	if (br->br_linked == 0)
		br->br_linked = store_link_exists(st, br->br_name,
		    STORE_LINK_REVISION, br->br_digest);
	br->br_errno = errno;
	if (br->br_linked != 1 || br->br_not_modified)
		return;
	if (br->br_redirect &&
	    (br->br_url = store_blob_url(st, br->br_digest,
	         API_BLOB_REDIRECT_TTL)) != NULL)
		return;
	if (br->br_head) {
		/*
		 * No bytes go out: the data is stat'ed, not opened, as
		 * registry:2 answers a HEAD. So a data file this process
		 * cannot read (mode 000) is found here and fails its GET.
		 */
		br->br_sized =
		    store_blob_stat(st, br->br_digest, &br->br_size) == 0;
		br->br_errno = errno;
		return;
	}
	br->br_reader = store_blob_open(st, br->br_digest, &br->br_size);
	br->br_sized = br->br_reader != NULL;
	br->br_errno = errno;
}

/* On the loop: answer, if the client is still there. */
static void
read_done(struct store_call *sc)
{
	struct api_blob_read *br = (struct api_blob_read *)sc;
	struct request *req = api_job_detach(&br->br_job);
	struct store_reader *rd = br->br_reader;
	const char *range;
	uint64_t first = 0, len = 0;

	br->br_reader = NULL;
	if (req == NULL) {
		store_reader_close(rd);
		goto done;
	}
	if (br->br_linked == -1) {
		api_storage_error(req, br->br_errno, "store_link_exists");
		goto done;
	}
	if (br->br_linked == 0) {
		http_error(req, 404, "BLOB_UNKNOWN", NULL);
		goto done;
	}
	http_add_header(req, "Docker-Content-Digest", "%s", br->br_digest);
	http_add_header(req, "ETag", "\"%s\"", br->br_digest);
	http_add_header(req, "Cache-Control", "max-age=%d", API_BLOB_MAX_AGE);
	if (br->br_not_modified) {
		http_reply(req, 304, NULL, NULL, 0);
		goto done;
	}
	if (br->br_url != NULL) {
		/* The store serves the bytes, Range included. */
		http_add_header(req, "Location", "%s", br->br_url);
		http_reply(req, 307, NULL, NULL, 0);
		goto done;
	}
	if (!br->br_sized) {
		if (br->br_errno == ENOENT)
			http_error(req, 404, "BLOB_UNKNOWN", NULL);
		else
			api_storage_error(req, br->br_errno,
			    br->br_head ? "store_blob_stat"
			                : "store_blob_open");
		goto done;
	}
	http_add_header(req, "Accept-Ranges", "bytes");
	if (br->br_head) {
		http_reply_head(req, 200, API_CT_OCTET, br->br_size);
		goto done;
	}

	/* Range applies to GET only (RFC 9110 14.2). */
	range = http_header(req, "Range");
	if (range != NULL && http_method(req) == HTTP_M_GET) {
		switch (api_parse_range(range, br->br_size, &first, &len)) {
		case 1:
			http_add_header(req, "Content-Range",
			    "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first,
			    first + len - 1, br->br_size);
			reply_blob(req, 206, rd, first, len);
			goto done;
		case -1:
			store_reader_close(rd);
			http_add_header(req, "Content-Range",
			    "bytes */%" PRIu64, br->br_size);
			http_error(req, 416, "RANGE_INVALID",
			    "range not satisfiable");
			goto done;
		default:
			break;
		}
	}
	reply_blob(req, 200, rd, 0, br->br_size);
done:
	free(br->br_url);
	free(br);
}

/*
 * Send len bytes of the blob from first, taking over rd: from the file
 * with sendfile when the driver has one (the filesystem driver), else
 * pulled from the reader as the client takes it.
 */
static void
reply_blob(struct request *req, int status, struct store_reader *rd,
    uint64_t first, uint64_t len)
{
	static const struct http_source reader_source = {reader_read,
	    reader_free};
	int fd;

	if ((fd = store_fs_reader_take_fd(rd)) != -1) {
		store_reader_close(rd);
		http_reply_file(req, status, API_CT_OCTET, fd, first, len);
		return;
	}
	/*
	 * A network driver's reader may have nothing yet: it says EAGAIN and
	 * wakes the request. The reader goes with the request (hs_free), so
	 * the wake never outlives req.
	 */
	store_reader_set_wake(rd, reader_wake, req);
	http_reply_source(req, status, API_CT_OCTET, &reader_source, rd, first,
	    len);
}

static void
reader_wake(void *arg)
{
	http_source_wake(arg);
}

static ssize_t
reader_read(void *arg, void *buf, size_t len, uint64_t off)
{
	return store_reader_read(arg, buf, len, off);
}

static void
reader_free(void *arg)
{
	store_reader_close(arg);
}

/*
 * api_blob_delete: DELETE /v2/<name>/blobs/<digest> (end-10): unlink the
 * layer from this repository; the data stays until garbage-collect. One
 * store call of kind QUICK: on a local disk it is a single rmdir without
 * fsync (losing it in a crash only brings back what the client asked to
 * remove), as cheap as the lookups.
 */
void
api_blob_delete(struct request *req, const struct route_match *m)
{
	struct api_blob_delete *bd;

	http_log_digest(req, m->rm_ref);
	if (!api_config()->cf_delete_enabled) {
		http_error(req, 405, "UNSUPPORTED", "deletion is disabled");
		return;
	}
	if ((bd = api_job_new(req, m, sizeof(*bd), STORE_CALL_QUICK,
	         delete_work, delete_done)) == NULL)
		return;
	util_strlcpy(bd->bd_name, m->rm_name, sizeof(bd->bd_name));
	util_strlcpy(bd->bd_digest, m->rm_ref, sizeof(bd->bd_digest));
	api_job_start(&bd->bd_job);
}

/* Wherever the store runs it: only the job's own fields and the store. */
static void
delete_work(struct store_call *sc)
{
	struct api_blob_delete *bd = (struct api_blob_delete *)sc;

	bd->bd_result = store_link_delete(api_store(), bd->bd_name,
	    STORE_LINK_LAYER, bd->bd_digest);
	bd->bd_errno = errno;
}

/* On the loop: answer, if the client is still there. */
static void
delete_done(struct store_call *sc)
{
	struct api_blob_delete *bd = (struct api_blob_delete *)sc;
	struct request *req = api_job_detach(&bd->bd_job);

	if (req == NULL)
		goto done;
	if (bd->bd_result == -1) {
		if (bd->bd_errno == ENOENT)
			http_error(req, 404, "BLOB_UNKNOWN", NULL);
		else
			api_storage_error(req, bd->bd_errno,
			    "store_link_delete");
		goto done;
	}
	http_reply(req, 202, NULL, NULL, 0);
done:
	free(bd);
}
