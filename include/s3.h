#ifndef REGISTRYD_S3_H
#define REGISTRYD_S3_H

/*
 * s3.c: an S3 client. Requests are signed with AWS Signature V4 (sigv4.c,
 * our own code over OpenSSL HMAC) and carried by libcurl's multi
 * interface, driven by the registry's libevent loop
 * (CURLMOPT_SOCKETFUNCTION and CURLMOPT_TIMERFUNCTION): no thread of ours
 * ever blocks in curl. libcurl is only the transport: its own SigV4
 * (CURLOPT_AWS_SIGV4) gets S3 wrong in four ways.
 *
 * Two ways in:
 *   s3_start    on the loop thread: start a request; the callback runs on
 *               the loop when it is over (after retries).
 *   s3_perform  from any other thread (a store_call worker): hand the
 *               request to the loop and wait for it. Never on the loop
 *               (EDEADLK).
 *
 * Changes against the draft are listed in /work/notes/s3-api-changes.md.
 */

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evbuffer;

struct s3_config {
	const char *endpoint; /* "http://127.0.0.1:7480" (regionendpoint),
	                       * or NULL for https://s3.REGION.amazonaws.com */
	const char *region;   /* "us-east-1"; NULL: "us-east-1" */
	const char *bucket;
	const char *access_key;
	const char *secret_key;
	int path_style;      /* 1: http://host/bucket/key, 0: virtual
	                      * host http://bucket.host/key */
	int secure;          /* with endpoint NULL: 1 https, 0 http */
	const char *ca_file; /* NULL: system default */
	int timeout_ms;      /* per attempt: connecting, and then without
	                      * a byte either way (a request with
	                      * rq_deadline_ms: the whole attempt, within
	                      * what is left of the deadline); 0: 30000 */
	int retries;         /* extra attempts on 5xx / 429 / transport
	                      * errors; 0: 4; -1: none. An attempt without
	                      * progress is retried once only */
	int backoff_ms;      /* first retry delay, doubled per attempt up
	                      * to 8 s, with jitter; 0: 100 */
};

struct s3;

/*
 * s3_new: a client on base. Call it on the thread that runs base's loop:
 * s3_perform compares the caller with that thread. NULL with errno.
 * The config's strings are copied; the secret is wiped at s3_free.
 */
struct s3 *s3_new(struct event_base *base, const struct s3_config *);
/*
 * s3_free: on the loop thread, with the loop not running a callback of
 * ours. Requests in flight end with rs_errno ECANCELED (their done
 * callbacks run inside s3_free; s3_perform callers wake with ECANCELED).
 */
void s3_free(struct s3 *);

/* One header: name and value, no colon, no CRLF. */
struct s3_header {
	const char *sh_name;
	const char *sh_value;
};

/* One query parameter, raw (not percent-encoded); sp_value may be NULL. */
struct s3_param {
	const char *sp_name;
	const char *sp_value;
};

struct s3_request;

/*
 * A sink gets the response body of a 2xx answer as it arrives, on the
 * loop. rs_status, rs_length, rs_total, rs_etag and rs_mtime are set
 * before its first call. It returns 0, or -1 to abort the request (rs_errno
 * EIO). It may call s3_pause(req) to stop the flow (back-pressure); the
 * bytes it was given are consumed all the same. Error bodies (non-2xx)
 * never reach the sink: the client keeps them to read <Code>.
 */
typedef int (
    *s3_sink_fn)(struct s3_request *, const void *buf, size_t len, void *arg);

/* rq_flags */
#define S3_F_NORETRY 0x01 /* one attempt only (non-idempotent requests) */

struct s3_request {
	/* in */
	const char *rq_method; /* "GET", "PUT", "HEAD", "POST", "DELETE" */
	const char *rq_key;    /* object key, raw, no leading '/';
	                        * "" = the bucket itself */
	const char *rq_query;  /* raw (NOT percent-encoded) query, e.g.
	                        * "uploads", "partNumber=3&uploadId=X",
	                        * "list-type=2&prefix=a/&delimiter=/": split
	                        * at '&' and the first '='; the client sorts
	                        * and AWS-encodes it. Values that may hold '&'
	                        * (continuation-token, start-after...) go in
	                        * rq_params instead. NULL: none */
	const struct s3_param *rq_params;   /* more parameters, raw; NULL-
	                                     * terminated by sp_name == NULL */
	const struct s3_header *rq_headers; /* extra, all signed (Range,
	                                     * Content-Type, x-amz-*); NULL-
	                                     * terminated by sh_name == NULL */
	const void *rq_body; /* PUT/POST body (may be NULL, len 0: sent
	                      * with Content-Length: 0) */
	size_t rq_body_len;
	const char *rq_body_sha256; /* lowercase hex of the body, when the
	                             * caller already knows it, or
	                             * "UNSIGNED-PAYLOAD"; NULL: computed at
	                             * s3_start (on the loop: ~3 ms per MiB) */
	s3_sink_fn rq_sink;         /* NULL: response body into rs_body */
	void *rq_sink_arg;
	size_t rq_body_max; /* without a sink: cap on rs_body, beyond
	                     * it the request fails with EFBIG;
	                     * 0: S3_BODY_MAX_DEFAULT */
	int rq_flags;       /* S3_F_* */
	int rq_deadline_ms; /* 0: none; else the whole request, attempts
	                     * and backoffs included, ends within this
	                     * (ETIMEDOUT, or the last attempt's answer):
	                     * a hung store fails a small request soon */

	/* out, valid once done ran (s3_start) or s3_perform returned */
	long rs_status; /* HTTP status of the last attempt, 0 if none */
	struct evbuffer *rs_body; /* response body without a sink (2xx and
	                           * errors alike); owned by req, freed by
	                           * s3_request_reset; NULL if none */
	char rs_etag[80];         /* ETag header, quotes kept, "" if none */
	int64_t rs_length;        /* Content-Length, -1 if absent */
	int64_t rs_total;         /* total size from Content-Range, -1 */
	int64_t rs_first;         /* first byte from Content-Range, -1 */
	int64_t rs_mtime;         /* Last-Modified, seconds since epoch, -1 */
	int64_t rs_date;          /* Date: the store's clock when it answered,
	                           * seconds since epoch, -1 */
	int64_t rs_received;      /* body bytes given to the sink */
	char rs_code[64];         /* S3 error <Code>, "" if none; may be set
	                           * with a 200: CopyObject, UploadPartCopy and
	                           * CompleteMultipartUpload can answer 200 with
	                           * an <Error> body */
	int rs_errno;             /* 0, or why the request failed: ETIMEDOUT,
	                           * ECONNREFUSED, EHOSTUNREACH, EPROTO (TLS),
	                           * EIO (transport, sink abort), EFBIG (body
	                           * over rq_body_max), ECANCELED. rs_status may
	                           * still be set (EFBIG, EIO mid-body) */
	int rs_attempts;          /* attempts made */

	/* private to s3.c */
	void *rq_priv;
};

/*
 * s3_start: on the loop. Returns 0, and done(req, arg) runs later on the
 * loop (never inside s3_start) once the request has an answer (any
 * status) or failed for good (rs_errno). 5xx, 429 and transport errors are
 * retried with backoff, re-signed, before done is called; not once a sink
 * has been given bytes (the caller resumes with a Range: rs_received
 * says where). -1 with errno if it could not even start (EINVAL). req
 * and everything it points to must stay valid until done.
 */
int s3_start(struct s3 *, struct s3_request *,
    void (*done)(struct s3_request *, void *arg), void *arg);
/* s3_cancel: on the loop, req in flight; done runs at once, ECANCELED. */
void s3_cancel(struct s3 *, struct s3_request *);
/*
 * s3_pause / s3_resume: on the loop, req in flight: stop and restart the
 * response body flow. The sink is never called from inside s3_resume:
 * the flow restarts from the loop.
 */
void s3_pause(struct s3_request *);
void s3_resume(struct s3_request *);

/*
 * s3_perform: from a worker thread: run req on the loop and wait for it.
 * 0 when the request got an answer (check rs_status and rs_code), -1
 * with errno (= rs_errno) when it failed (see rs_errno). EDEADLK on the
 * loop thread. A sink, if any, runs on the loop thread.
 */
int s3_perform(struct s3 *, struct s3_request *);

/*
 * s3_request_reset: free rs_body and clear the out fields, so req can be
 * sent again. Not while it is in flight.
 */
void s3_request_reset(struct s3_request *);

/*
 * s3_presign: a presigned URL (query-string SigV4, UNSIGNED-PAYLOAD) for
 * method on key, valid for expires seconds (1..604800) from now, for
 * redirects. malloc'd, NULL with errno.
 */
char *s3_presign(struct s3 *, const char *method, const char *key, int expires);

/*
 * s3_uri_encode: AWS-style encoding: A-Z a-z 0-9 - . _ ~ kept, '/' kept
 * if keep_slash, every other byte %XX (upper case). malloc'd, NULL with
 * errno.
 */
char *s3_uri_encode(const char *, int keep_slash);

/*
 * A tiny extractor for S3's XML answers (ListObjectsV2, multipart), not
 * a parser: S3 answers have no same-name nesting, no CDATA, no comments
 * past the prolog.
 *
 * s3_xml_next: find the next element <tag> in buf[*pos..len); set
 * *inner and *innerlen to its content (between the tags; empty for <tag/>)
 * and *pos past its end tag. 1 if found, 0 if not, -1 if the element
 * is not closed. To walk nested elements, call it again on the inner
 * range: e.g. each <Contents> of a listing, then <Key> inside it.
 */
int s3_xml_next(const char *buf, size_t len, size_t *pos, const char *tag,
    const char **inner, size_t *innerlen);
/*
 * s3_xml_text: the text of an element's content, with the five XML
 * entities and &#N; / &#xN; references decoded, NUL-terminated into
 * out. -1 (ENAMETOOLONG) if it does not fit, EINVAL if malformed.
 */
int s3_xml_text(const char *inner, size_t innerlen, char *out, size_t outlen);

#endif /* REGISTRYD_S3_H */
