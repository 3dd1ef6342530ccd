/*
 * store_s3_req.c: the requests of the S3 driver (store_s3.c): keys under
 * the root, synchronous GET, PUT, HEAD and DELETE on a worker
 * (s3_perform), ListObjectsV2 listings with their continuation, and the
 * errno an answer means.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "digest.h"
#include "log.h"
#include "s3.h"
#include "store.h"
#include "store_driver.h"
#include "store_s3_impl.h"
#include "util.h"

#define STORE_S3_LIST_MAX (16 * 1024 * 1024) /* one ListObjectsV2 page */

static int store_s3_run(struct store_s3 *, struct s3_request *);
static int store_s3_xml_value(const char *, const char *, const char *,
    const char **, size_t *);
static int store_s3_collect_cb(const struct store_s3_obj *, void *);
static int store_s3_any_cb(const struct store_s3_obj *, void *);
static int store_s3_list_pages(struct store_s3 *, const char *, int, int,
    int (*)(const struct store_s3_obj *, void *), void *);

int
store_s3_key(struct store_s3 *s, char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	size_t plen = strlen(s->s_prefix);
	int n;

	if (plen >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, s->s_prefix, plen);
	va_start(ap, fmt);
	n = vsnprintf(buf + plen, size - plen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - plen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
store_s3_errno(long status, const char *code, int err)
{
	if (status == 0)
		return err != 0 ? err : EIO;
	/*
	 * A bucket that is not there is the store missing, not the object:
	 * ENOENT would read as "no such blob/session" (an upload would be
	 * dropped as unknown); ENXIO is answered 503 (review R7).
	 */
	if (code != NULL && strcmp(code, "NoSuchBucket") == 0)
		return ENXIO;
	if (status == 404)
		return ENOENT;
	if (status == 401 || status == 403)
		return EACCES;
	if (status == 416)
		return EINVAL;
	if (status == 429 || status >= 500)
		return EAGAIN;
	return EIO;
}

void
store_s3_req(struct s3_request *rq, const char *method, const char *key,
    const char *query)
{
	memset(rq, 0, sizeof(*rq));
	rq->rq_method = method;
	rq->rq_key = key;
	rq->rq_query = query;
}

/*
 * store_s3_run: perform rq on the loop and wait. 0 when it has a 2xx
 * status; -1 with the status's errno otherwise (rq keeps its answer,
 * the caller resets it).
 */
static int
store_s3_run(struct store_s3 *s, struct s3_request *rq)
{
	if (s3_perform(s->s_s3, rq) == -1) {
		errno = store_s3_errno(0, NULL, errno);
		return -1;
	}
	if (rq->rs_status < 200 || rq->rs_status > 299) {
		if (rq->rs_status >= 500 || rq->rs_status == 403 ||
		    strcmp(rq->rs_code, "NoSuchBucket") == 0)
			log_warnx("%s: %s %s: %ld %s", __func__, rq->rq_method,
			    rq->rq_key, rq->rs_status, rq->rs_code);
		errno = store_s3_errno(rq->rs_status, rq->rs_code, 0);
		return -1;
	}
	return 0;
}

int
store_s3_range_ok(const struct s3_request *rq, uint64_t first)
{
	if (first == 0)
		return 1;
	return rq->rs_status == 206 && rq->rs_first >= 0 &&
	    (uint64_t)rq->rs_first == first;
}

/*
 * store_s3_get: len bytes of key from first (len 0: all of it) into a
 * malloc'd buffer with a NUL appended; EFBIG beyond max bytes.
 */
int
store_s3_get(struct store_s3 *s, const char *key, uint64_t first, uint64_t len,
    size_t max, char **buf, size_t *got)
{
	struct s3_request rq;
	struct s3_header h[2];
	char range[64];
	size_t n;
	char *p;
	int saved;

	*buf = NULL;
	*got = 0;
	store_s3_req(&rq, "GET", key, NULL);
	if (first > 0 || len > 0) {
		if (len > 0)
			snprintf(range, sizeof(range), "Range: bytes=%llu-%llu",
			    (unsigned long long)first,
			    (unsigned long long)(first + len - 1));
		else
			snprintf(range, sizeof(range), "Range: bytes=%llu-",
			    (unsigned long long)first);
		h[0].sh_name = "Range";
		h[0].sh_value = strchr(range, ' ') + 1;
		h[1].sh_name = NULL;
		h[1].sh_value = NULL;
		rq.rq_headers = h;
	}
	rq.rq_body_max = max > 0 ? max : 1;
	if (max <= STORE_S3_SMALL_MAX)
		rq.rq_deadline_ms = STORE_S3_DEADLINE_MS;
	if (store_s3_run(s, &rq) == -1 || rq.rs_errno != 0) {
		/* A 404's XML may be over max: the status says it all. */
		saved = rq.rs_status >= 300
		    ? store_s3_errno(rq.rs_status, rq.rs_code, 0)
		    : rq.rs_errno != 0 ? store_s3_errno(0, NULL, rq.rs_errno)
		                       : errno;
		s3_request_reset(&rq);
		errno = saved;
		return -1;
	}
	if (!store_s3_range_ok(&rq, first)) {
		log_warnx("%s: GET %s from %llu: %ld, not that range", __func__,
		    key, (unsigned long long)first, rq.rs_status);
		s3_request_reset(&rq);
		errno = EIO;
		return -1;
	}
	n = rq.rs_body != NULL ? evbuffer_get_length(rq.rs_body) : 0;
	if (n > max) {
		s3_request_reset(&rq);
		errno = EFBIG;
		return -1;
	}
	if ((p = malloc(n + 1)) == NULL) {
		s3_request_reset(&rq);
		return -1;
	}
	if (n > 0)
		(void)evbuffer_remove(rq.rs_body, p, n);
	p[n] = '\0';
	s3_request_reset(&rq);
	*buf = p;
	*got = n;
	return 0;
}

/*
 * store_s3_body_sha256: the hex SHA-256 of a body, which SigV4 signs: on
 * the thread that has the body, since s3.c would hash it on the loop.
 */
void
store_s3_body_sha256(const void *buf, size_t len, char hex[65])
{
	char d[DIGEST_BUFSZ];

	digest_buf(buf, len, d);
	(void)util_strlcpy(hex, digest_hex(d), 65);
}

/* store_s3_put: key := buf (a PUT is atomic on S3). */
int
store_s3_put(struct store_s3 *s, const char *key, const void *buf, size_t len)
{
	struct s3_request rq;
	char sha[65];
	int rv, saved;

	store_s3_req(&rq, "PUT", key, NULL);
	rq.rq_body = buf;
	rq.rq_body_len = len;
	store_s3_body_sha256(buf, len, sha);
	rq.rq_body_sha256 = sha;
	if (len <= STORE_S3_SMALL_MAX)
		rq.rq_deadline_ms = STORE_S3_DEADLINE_MS;
	rv = store_s3_run(s, &rq);
	saved = errno;
	s3_request_reset(&rq);
	errno = saved;
	return rv;
}

/* store_s3_head: the object's size and Last-Modified; ENOENT if none. */
int
store_s3_head(struct store_s3 *s, const char *key, uint64_t *size,
    time_t *mtime)
{
	struct s3_request rq;
	int rv, saved;

	store_s3_req(&rq, "HEAD", key, NULL);
	rq.rq_deadline_ms = STORE_S3_DEADLINE_MS;
	rv = store_s3_run(s, &rq);
	saved = errno;
	if (rv == 0) {
		if (size != NULL)
			*size = rq.rs_length > 0 ? (uint64_t)rq.rs_length : 0;
		if (mtime != NULL)
			*mtime = rq.rs_mtime > 0 ? (time_t)rq.rs_mtime : 0;
	}
	s3_request_reset(&rq);
	errno = saved;
	return rv;
}

/* store_s3_delete: remove key; S3 answers 204 whether it was there or not. */
int
store_s3_delete(struct store_s3 *s, const char *key)
{
	struct s3_request rq;
	int rv, saved;

	store_s3_req(&rq, "DELETE", key, NULL);
	rq.rq_deadline_ms = STORE_S3_DEADLINE_MS;
	rv = store_s3_run(s, &rq);
	saved = errno;
	s3_request_reset(&rq);
	if (rv == -1 && saved == ENOENT)
		return 0;
	errno = saved;
	return rv;
}

/*
 * The raw content of the first <tag> in [p, end) (s3.c's extractor): 1
 * and *v, *vlen when there is one, else 0.
 */
static int
store_s3_xml_value(const char *p, const char *end, const char *tag,
    const char **v, size_t *vlen)
{
	size_t pos = 0;

	return s3_xml_next(p, (size_t)(end - p), &pos, tag, v, vlen) == 1;
}

/* "2026-11-30T09:00:00.000Z" (ListObjectsV2's LastModified). */
int
store_s3_parse_time(const char *v, size_t len, time_t *t)
{
	char buf[64];
	struct tm tm;

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	memset(&tm, 0, sizeof(tm));
	if (strptime(buf, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
		return -1;
	*t = timegm(&tm);
	return 0;
}

/*
 * A listing for a request answers within the small requests' deadline,
 * page by page (a page is at most 1000 keys): a hung store fails a
 * tags/list or a manifest PUT's doomed question in seconds (review
 * R6-1). The walks (collection, fsck, purge, catalog) keep the stall
 * timeouts: they list the whole bucket and would rather wait than start
 * over.
 */
int
store_s3_list(struct store_s3 *s, const char *prefix, int delim,
    int (*cb)(const struct store_s3_obj *, void *), void *arg)
{
	return store_s3_list_pages(s, prefix, delim, STORE_S3_DEADLINE_MS, cb,
	    arg);
}

int
store_s3_list_walk(struct store_s3 *s, const char *prefix, int delim,
    int (*cb)(const struct store_s3_obj *, void *), void *arg)
{
	return store_s3_list_pages(s, prefix, delim, 0, cb, arg);
}

static int
store_s3_list_pages(struct store_s3 *s, const char *prefix, int delim,
    int deadline_ms, int (*cb)(const struct store_s3_obj *, void *), void *arg)
{
	struct s3_request rq;
	struct store_s3_obj o;
	struct s3_param params[3];
	char query[64], key[STORE_S3_KEY_MAX];
	char token[STORE_S3_KEY_MAX], full[STORE_S3_KEY_MAX];
	const char *body, *end, *p, *c, *cp, *blk_end, *v;
	size_t vlen, plen = strlen(s->s_prefix), n;
	uint64_t size;
	time_t now;
	int truncated, is_prefix, rv = -1, saved = 0;

	if (store_s3_key(s, full, sizeof(full), "%s", prefix) == -1)
		return -1;
	token[0] = '\0';
	do {
		if (snprintf(query, sizeof(query), "list-type=2%s",
		        delim ? "&delimiter=/" : "") >= (int)sizeof(query)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		/* Values that may hold '&' go as parameters of their own. */
		params[0].sp_name = "prefix";
		params[0].sp_value = full;
		params[1].sp_name =
		    token[0] != '\0' ? "continuation-token" : NULL;
		params[1].sp_value = token;
		params[2].sp_name = NULL;
		store_s3_req(&rq, "GET", "", query);
		rq.rq_params = params;
		rq.rq_body_max = STORE_S3_LIST_MAX;
		rq.rq_deadline_ms = deadline_ms;
		if (store_s3_run(s, &rq) == -1) {
			saved = errno;
			s3_request_reset(&rq);
			errno = saved;
			return -1;
		}
		n = rq.rs_body != NULL ? evbuffer_get_length(rq.rs_body) : 0;
		body =
		    n > 0 ? (const char *)evbuffer_pullup(rq.rs_body, -1) : "";
		if (body == NULL) {
			s3_request_reset(&rq);
			errno = ENOMEM;
			return -1;
		}
		end = body + n;
		now = store_s3_clock(rq.rs_date, time(NULL));
		truncated =
		    store_s3_xml_value(body, end, "IsTruncated", &v, &vlen) &&
		    vlen == 4 && memcmp(v, "true", 4) == 0;
		token[0] = '\0';
		if (truncated &&
		    (!store_s3_xml_value(body, end, "NextContinuationToken", &v,
		         &vlen) ||
		        s3_xml_text(v, vlen, token, sizeof(token)) == -1)) {
			log_warnx("%s: truncated listing without a token",
			    __func__);
			saved = EIO;
			goto fail;
		}
		/* Contents and CommonPrefixes blocks, in document order. */
		for (p = body;;) {
			c = memmem(p, (size_t)(end - p), "<Contents>", 10);
			cp = memmem(p, (size_t)(end - p), "<CommonPrefixes>",
			    16);
			if (c == NULL && cp == NULL)
				break;
			is_prefix = c == NULL || (cp != NULL && cp < c);
			if (is_prefix) {
				blk_end = memmem(cp, (size_t)(end - cp),
				    "</CommonPrefixes>", 17);
				c = cp;
			} else
				blk_end = memmem(c, (size_t)(end - c),
				    "</Contents>", 11);
			if (blk_end == NULL)
				break;
			p = blk_end + 1;
			memset(&o, 0, sizeof(o));
			o.so_now = now;
			if (!store_s3_xml_value(c, blk_end,
			        is_prefix ? "Prefix" : "Key", &v, &vlen) ||
			    s3_xml_text(v, vlen, key, sizeof(key)) == -1 ||
			    strncmp(key, s->s_prefix, plen) != 0)
				continue;
			o.so_key = key + plen;
			o.so_is_prefix = is_prefix;
			if (!is_prefix) {
				if (store_s3_xml_value(c, blk_end, "Size", &v,
				        &vlen) &&
				    util_strtou64(v, vlen, UINT64_MAX, &size) ==
				        0)
					o.so_size = size;
				if (store_s3_xml_value(c, blk_end,
				        "LastModified", &v, &vlen))
					(void)store_s3_parse_time(v, vlen,
					    &o.so_mtime);
			}
			if (cb(&o, arg) == -1) {
				saved = errno;
				goto fail;
			}
		}
		s3_request_reset(&rq);
	} while (truncated);
	return 0;
fail:
	s3_request_reset(&rq);
	errno = saved;
	return rv;
}

struct store_s3_keys {
	struct store_list k_list;
};

static int
store_s3_collect_cb(const struct store_s3_obj *o, void *arg)
{
	struct store_s3_keys *k = arg;

	return store_list_add(&k->k_list, o->so_key);
}

int
store_s3_delete_prefix(struct store_s3 *s, const char *prefix, size_t *n)
{
	struct store_s3_keys k;
	char key[STORE_S3_KEY_MAX];
	size_t i;
	int rv = -1, saved;

	memset(&k, 0, sizeof(k));
	if (n != NULL)
		*n = 0;
	if (store_s3_list(s, prefix, 0, store_s3_collect_cb, &k) == -1)
		goto done;
	for (i = 0; i < k.k_list.sl_n; i++) {
		if (store_s3_key(s, key, sizeof(key), "%s", k.k_list.sl_v[i]) ==
		        -1 ||
		    store_s3_delete(s, key) == -1)
			goto done;
	}
	if (n != NULL)
		*n = k.k_list.sl_n;
	rv = 0;
done:
	saved = errno;
	store_list_free(k.k_list.sl_v, k.k_list.sl_n);
	errno = saved;
	return rv;
}

static int
store_s3_any_cb(const struct store_s3_obj *o, void *arg)
{
	(void)o;
	*(int *)arg = 1;
	errno = 0;
	return -1; /* one is enough */
}

/* store_s3_any: 1 when some key starts with prefix, 0 when none, -1. */
int
store_s3_any(struct store_s3 *s, const char *prefix)
{
	int found = 0;

	if (store_s3_list(s, prefix, 1, store_s3_any_cb, &found) == -1 &&
	    !found)
		return -1;
	return found;
}
