/*
 * store_s3_mpu.c: the S3 multipart uploads with which the S3 driver's
 * commit (store_s3_upload.c) assembles a blob: create, a part uploaded
 * or copied server-side (UploadPartCopy), complete, abort; and, for the
 * upload purge, the multipart uploads left behind under blobs/.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "log.h"
#include "s3.h"
#include "store.h"
#include "store_driver.h"
#include "store_s3.h"
#include "store_s3_impl.h"
#include "util.h"

#define STORE_S3_XML_MAX (64 * 1024) /* multipart answers */

static int store_s3_answer(struct s3_request *, const char *, char *, size_t);
static int
store_s3_mpu_run(struct store_s3_mpu *, struct s3_request *, const char *);

/*
 * The text of the first <tag> of an answer body (an ETag, an UploadId,
 * an error Code), decoded; -1 when there is none.
 */
static int
store_s3_answer(struct s3_request *rq, const char *tag, char *out, size_t size)
{
	const char *body, *v;
	size_t n, vlen, pos = 0;

	n = rq->rs_body != NULL ? evbuffer_get_length(rq->rs_body) : 0;
	if (n == 0 ||
	    (body = (const char *)evbuffer_pullup(rq->rs_body, -1)) == NULL ||
	    s3_xml_next(body, n, &pos, tag, &v, &vlen) != 1)
		return -1;
	return s3_xml_text(v, vlen, out, size);
}

static int
store_s3_mpu_run(struct store_s3_mpu *m, struct s3_request *rq,
    const char *what)
{
	int saved;

	rq->rq_body_max = STORE_S3_XML_MAX;
	if (s3_perform(m->m_store->s_s3, rq) == -1) {
		saved = store_s3_errno(0, NULL, errno);
		log_warnx("%s: %s %s: %s", __func__, what, m->m_key,
		    strerror(saved));
		s3_request_reset(rq);
		errno = saved;
		return -1;
	}
	/* UploadPartCopy and Complete may say 200 with an <Error> body. */
	if (rq->rs_status != 200 || rq->rs_code[0] != '\0') {
		log_warnx("%s: %s %s: %ld %s", __func__, what, m->m_key,
		    rq->rs_status, rq->rs_code);
		if (strcmp(rq->rs_code, "NoSuchUpload") == 0)
			m->m_nosuch = 1;
		if (rq->rs_status == 200)
			rq->rs_status = 500;
		saved = store_s3_errno(rq->rs_status, rq->rs_code, 0);
		s3_request_reset(rq);
		errno = saved;
		return -1;
	}
	return 0;
}

int
store_s3_mpu_create(struct store_s3_mpu *m)
{
	struct s3_request rq;

	memset(&rq, 0, sizeof(rq));
	rq.rq_method = "POST";
	rq.rq_key = m->m_key;
	rq.rq_query = "uploads";
	if (store_s3_mpu_run(m, &rq, "CreateMultipartUpload") == -1)
		return -1;
	if (store_s3_answer(&rq, "UploadId", m->m_id, sizeof(m->m_id)) == -1) {
		s3_request_reset(&rq);
		errno = EIO;
		return -1;
	}
	s3_request_reset(&rq);
	return 0;
}

/* Upload buf as the next part. */
int
store_s3_mpu_part(struct store_s3_mpu *m, const void *buf, size_t len)
{
	struct s3_request rq;
	char query[640], sha[65];

	snprintf(query, sizeof(query), "partNumber=%zu&uploadId=%s",
	    json_array_size(m->m_etags) + 1, m->m_id);
	memset(&rq, 0, sizeof(rq));
	rq.rq_method = "PUT";
	rq.rq_key = m->m_key;
	rq.rq_query = query;
	rq.rq_body = buf;
	rq.rq_body_len = len;
	store_s3_body_sha256(buf, len, sha);
	rq.rq_body_sha256 = sha;
	if (store_s3_mpu_run(m, &rq, "UploadPart") == -1)
		return -1;
	json_array_append_new(m->m_etags, json_string(rq.rs_etag));
	s3_request_reset(&rq);
	return 0;
}

/* Copy bytes [off, off + len) of object src as the next part. */
int
store_s3_mpu_copy(struct store_s3_mpu *m, const char *src, uint64_t off,
    uint64_t len)
{
	struct s3_request rq;
	struct s3_header h[3];
	char query[640], source[STORE_S3_KEY_MAX * 3 + 80], range[80];
	char etag[128];
	char *enc;

	if ((enc = s3_uri_encode(src, 1)) == NULL)
		return -1;
	snprintf(source, sizeof(source), "/%s/%s", m->m_store->s_bucket, enc);
	free(enc);
	snprintf(range, sizeof(range), "bytes=%llu-%llu",
	    (unsigned long long)off, (unsigned long long)(off + len - 1));
	h[0].sh_name = "x-amz-copy-source";
	h[0].sh_value = source;
	h[1].sh_name = "x-amz-copy-source-range";
	h[1].sh_value = range;
	h[2].sh_name = NULL;
	h[2].sh_value = NULL;
	snprintf(query, sizeof(query), "partNumber=%zu&uploadId=%s",
	    json_array_size(m->m_etags) + 1, m->m_id);
	memset(&rq, 0, sizeof(rq));
	rq.rq_method = "PUT";
	rq.rq_key = m->m_key;
	rq.rq_query = query;
	rq.rq_headers = h;
	if (store_s3_mpu_run(m, &rq, "UploadPartCopy") == -1)
		return -1;
	if (store_s3_answer(&rq, "ETag", etag, sizeof(etag)) == -1) {
		s3_request_reset(&rq);
		errno = EIO;
		return -1;
	}
	s3_request_reset(&rq);
	json_array_append_new(m->m_etags, json_string(etag));
	return 0;
}

int
store_s3_mpu_complete(struct store_s3_mpu *m)
{
	struct s3_request rq;
	struct evbuffer *xml;
	char query[600], code[64], sha[65];
	json_t *e;
	size_t i, n;
	int rv = -1, saved;

	if ((xml = evbuffer_new()) == NULL)
		return -1;
	evbuffer_add_printf(xml, "<CompleteMultipartUpload>");
	for (i = 0; i < json_array_size(m->m_etags); i++) {
		e = json_array_get(m->m_etags, i);
		evbuffer_add_printf(xml,
		    "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>",
		    i + 1, json_string_value(e));
	}
	evbuffer_add_printf(xml, "</CompleteMultipartUpload>");
	snprintf(query, sizeof(query), "uploadId=%s", m->m_id);
	n = evbuffer_get_length(xml);
	memset(&rq, 0, sizeof(rq));
	rq.rq_method = "POST";
	rq.rq_key = m->m_key;
	rq.rq_query = query;
	rq.rq_body = evbuffer_pullup(xml, -1);
	rq.rq_body_len = n;
	store_s3_body_sha256(rq.rq_body, n, sha);
	rq.rq_body_sha256 = sha;
	if (store_s3_mpu_run(m, &rq, "CompleteMultipartUpload") == -1)
		goto done;
	/* S3 may say 200 and put the error in the body. */
	if (store_s3_answer(&rq, "Error", code, sizeof(code)) == 0 ||
	    store_s3_answer(&rq, "Code", code, sizeof(code)) == 0) {
		log_warnx("%s: %s: %s", __func__, m->m_key, code);
		if (strcmp(code, "NoSuchUpload") == 0)
			m->m_nosuch = 1;
		s3_request_reset(&rq);
		errno = EIO;
		goto done;
	}
	s3_request_reset(&rq);
	rv = 0;
done:
	saved = errno;
	evbuffer_free(xml);
	errno = saved;
	return rv;
}

/* 0 when the upload is gone (a 404: another instance's purge was first). */
int
store_s3_mpu_abort(struct store_s3_mpu *m)
{
	struct s3_request rq;
	char query[600];
	int rv = 0;

	snprintf(query, sizeof(query), "uploadId=%s", m->m_id);
	memset(&rq, 0, sizeof(rq));
	rq.rq_method = "DELETE";
	rq.rq_key = m->m_key;
	rq.rq_query = query;
	if (s3_perform(m->m_store->s_s3, &rq) == -1 ||
	    (rq.rs_status != 204 && rq.rs_status != 404)) {
		log_warnx("%s: %s: upload %s left behind", __func__, m->m_key,
		    m->m_id);
		rv = -1;
	}
	s3_request_reset(&rq);
	return rv;
}

/* Add len bytes to the pending part; upload it once it is big enough. */
int
store_s3_mpu_acc(struct store_s3_mpu *m, const char *buf, size_t len)
{
	char *nb;

	if ((nb = realloc(m->m_acc, m->m_acclen + len + 1)) == NULL)
		return -1;
	m->m_acc = nb;
	memcpy(m->m_acc + m->m_acclen, buf, len);
	m->m_acclen += len;
	if (m->m_acclen < STORE_S3_CHUNK_MIN)
		return 0;
	if (store_s3_mpu_part(m, m->m_acc, m->m_acclen) == -1)
		return -1;
	m->m_acclen = 0;
	return 0;
}

/*
 * Multipart uploads under blobs/ older than max_age (the purge's, at
 * least STORE_S3_MPU_AGE): the commits that made them are long over, so
 * they are left behind (a Create whose answer was lost and that was
 * retried, a process killed mid-commit, an abort that failed) and hold
 * their parts' space until aborted (review R12). Uploads elsewhere
 * (registry:2's sessions under repositories/) are not ours. Returns how
 * many were (or would be) aborted, -1.
 */
int
store_s3_mpu_orphans(struct store_s3 *s, time_t now, time_t max_age, int dryrun)
{
	struct store_s3_mpu m;
	struct s3_request rq;
	struct s3_param params[4];
	char prefix[STORE_S3_KEY_MAX], key[STORE_S3_KEY_MAX], id[512];
	char kmark[STORE_S3_KEY_MAX], imark[512], when[64];
	const char *body, *up, *v;
	size_t n, pos, upos, len, vlen, wlen;
	time_t t;
	int truncated, count = 0, pages = 0;

	if (store_s3_key(s, prefix, sizeof(prefix), "blobs/") == -1)
		return -1;
	kmark[0] = imark[0] = '\0';
	do {
		params[0] = (struct s3_param){"prefix", prefix};
		params[1] = (struct s3_param){NULL, NULL};
		params[2] = (struct s3_param){NULL, NULL};
		params[3] = (struct s3_param){NULL, NULL};
		if (kmark[0] != '\0') {
			params[1] = (struct s3_param){"key-marker", kmark};
			params[2] =
			    (struct s3_param){"upload-id-marker", imark};
		}
		store_s3_req(&rq, "GET", "", "uploads");
		rq.rq_params = params;
		rq.rq_body_max = 16 * 1024 * 1024;
		if (s3_perform(s->s_s3, &rq) == -1 || rq.rs_status != 200) {
			log_warnx("%s: ListMultipartUploads: %ld %s", __func__,
			    rq.rs_status, rq.rs_code);
			s3_request_reset(&rq);
			errno = EIO;
			return -1;
		}
		n = rq.rs_body != NULL ? evbuffer_get_length(rq.rs_body) : 0;
		body =
		    n > 0 ? (const char *)evbuffer_pullup(rq.rs_body, -1) : "";
		truncated = 0;
		pos = 0;
		if (s3_xml_next(body, n, &pos, "IsTruncated", &v, &vlen) == 1 &&
		    vlen == 4 && memcmp(v, "true", 4) == 0)
			truncated = 1;
		for (pos = 0;
		     s3_xml_next(body, n, &pos, "Upload", &up, &len) == 1;) {
			upos = 0;
			if (s3_xml_next(up, len, &upos, "Key", &v, &vlen) !=
			        1 ||
			    s3_xml_text(v, vlen, key, sizeof(key)) == -1)
				continue;
			upos = 0;
			if (s3_xml_next(up, len, &upos, "UploadId", &v,
			        &vlen) != 1 ||
			    s3_xml_text(v, vlen, id, sizeof(id)) == -1)
				continue;
			(void)util_strlcpy(kmark, key, sizeof(kmark));
			(void)util_strlcpy(imark, id, sizeof(imark));
			upos = 0;
			if (strncmp(key, prefix, strlen(prefix)) != 0 ||
			    s3_xml_next(up, len, &upos, "Initiated", &v,
			        &vlen) != 1 ||
			    store_s3_parse_time(v, vlen, &t) == -1 || t == 0 ||
			    now < t || now - t <= max_age)
				continue;
			/* v points into the answer: not NUL-terminated. */
			wlen = vlen < sizeof(when) ? vlen : sizeof(when) - 1;
			memcpy(when, v, wlen);
			when[wlen] = '\0';
			count++;
			if (dryrun) {
				log_info("would abort multipart upload %s of "
				         "%s from %s (dry run)",
				    id, key, when);
				continue;
			}
			memset(&m, 0, sizeof(m));
			m.m_store = s;
			m.m_key = key;
			(void)util_strlcpy(m.m_id, id, sizeof(m.m_id));
			if (store_s3_mpu_abort(&m) == 0)
				log_info("aborted multipart upload %s of %s "
				         "from %s, left behind",
				    id, key, when);
		}
		s3_request_reset(&rq);
		if (truncated && kmark[0] == '\0')
			break; /* no marker to go on from */
	} while (truncated && ++pages < 1000);
	return count;
}
