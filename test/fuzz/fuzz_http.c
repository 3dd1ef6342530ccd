/*
 * fuzz_http: the HTTP request layer (http.c) driven in-process, as in
 * test/unit/http.c: the input goes through a bufferevent pair into
 * http_conn_read in chunks whose sizes the input chooses, and the
 * dispatcher given to http_init, fuzz_dispatch, exercises the handler API
 * (headers, query, body sinks, early replies, file replies, asynchronous
 * replies, errors).
 *
 * Input format (see README.md):
 *   byte 0        bits 0-2: number of extra split points k (0..7)
 *                 bit 3: answer asynchronous requests between chunks
 *   bytes 1..k    chunk sizes (0..255) of the first k writes
 *   the rest      the client's byte stream (the last write is the rest)
 *
 * Invariants checked after every input:
 *   - the output is a sequence of well-formed responses: every request
 *     http.c logged (log_access, when its response has left or the
 *     connection was freed) that had a reply comes out as
 *     "HTTP/1.1 <status> ", optionally preceded by "100 Continue", its
 *     Content-Length matches the body length it was given, and the body
 *     (none for HEAD, 204, 304) follows: in full when the line is not
 *     "aborted", else exactly the bytes the line says were sent;
 *   - every access line is for a request in flight, at most once, and an
 *     "aborted" one, or one without a reply, is the last;
 *   - nothing follows a response that says "Connection: close";
 *   - every handler context is freed (LeakSanitizer) and every request's
 *     cleanup ran.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * Every response head goes through log_access in http_write_head; take
 * it over here to learn what http.c meant to send.
 */
#define log_access fuzz_log_access
#include "../../src/http.c"
#undef log_access

#include <event2/bufferevent.h>

#include "util.h"

#include "fuzz.h"

#define FUZZ_MAX_HEADS	256
#define FUZZ_MAX_ASYNC	64
#define FUZZ_SINK_MAX	(16 * 1024)

/* One access line, and what the request it is for says. */
struct fuzz_head {
	int		fh_status;
	int		fh_head;	/* HEAD request: no body */
	int		fh_replied;	/* a head was written */
	int		fh_aborted;	/* the line ends in "aborted" */
	uint64_t	fh_length;	/* the Content-Length written */
	uint64_t	fh_sent;	/* body bytes the line says were sent */
};

struct fuzz_ctx {
	size_t	fc_got;		/* body bytes so far */
	int	fc_mode;	/* what the sink does, from the path */
	char	*fc_scratch;	/* a heap object the cleanup must free */
};

static struct event_base *fuzz_base;
static struct config fuzz_cfg;
static struct fuzz_head fuzz_heads[FUZZ_MAX_HEADS];
static int fuzz_nheads;
static int fuzz_heads_known;	/* every head was recorded */
static struct request *fuzz_async[FUZZ_MAX_ASYNC];
static int fuzz_nasync;
static int fuzz_live_ctx;	/* contexts allocated minus freed */
static int fuzz_memfd = -1;
static struct http_conn *fuzz_conn;	/* the connection under test */

/* ---- a stand-in for log.c's access line ---- */

void
fuzz_log_access(const struct log_request *lr)
{
	struct fuzz_head *h;
	struct request *r;

	if (fuzz_nheads == FUZZ_MAX_HEADS) {
		fuzz_heads_known = 0;
		return;
	}
	/*
	 * One request is in flight at a time, and it is logged before it is
	 * freed: the line is for hc_req. Its r_method (not the parser's)
	 * decides whether a body follows.
	 */
	if (fuzz_conn == NULL || (r = fuzz_conn->hc_req) == NULL) {
		fprintf(stderr, "access line without a request in flight\n");
		abort();
	}
	h = &fuzz_heads[fuzz_nheads++];
	h->fh_status = lr->lr_status;
	h->fh_sent = lr->lr_bytes;
	h->fh_aborted = lr->lr_aborted;
	h->fh_head = r->r_method == HTTP_M_HEAD;
	h->fh_replied = (r->r_flags & REQ_F_REPLIED) != 0;
	h->fh_length = r->r_bytes_out;
	if (!h->fh_replied && h->fh_status != HTTP_STATUS_LOST) {
		fprintf(stderr, "no reply, status %d\n", h->fh_status);
		abort();
	}
}

/* ---- the dispatcher, a stand-in for the registry ---- */

static void
fuzz_cleanup_cb(struct request *r)
{
	struct fuzz_ctx *fc = http_ctx(r);
	int i;

	for (i = 0; i < fuzz_nasync; i++)
		if (fuzz_async[i] == r)
			fuzz_async[i] = NULL;
	if (fc != NULL) {
		free(fc->fc_scratch);
		free(fc);
		fuzz_live_ctx--;
		http_set_ctx(r, NULL);
	}
}

static int
fuzz_body_cb(struct request *r, const char *p, size_t len)
{
	struct fuzz_ctx *fc = http_ctx(r);

	if (len > 0 && p == NULL)
		abort();
	fc->fc_got += len;
	switch (fc->fc_mode) {
	case 1:
		/* Fail after a few bytes, replying first (the contract). */
		if (fc->fc_got > 16) {
			http_error(r, 400, "BLOB_UPLOAD_INVALID", "too much");
			return -1;
		}
		break;
	case 2:
		/* Fail without replying: http.c must answer 500. */
		if (fc->fc_got > 16)
			return -1;
		break;
	default:
		if (fc->fc_got > FUZZ_SINK_MAX) {
			http_error(r, 413, "SIZE_INVALID", NULL);
			return -1;
		}
		break;
	}
	return 0;
}

static void
fuzz_end_cb(struct request *r)
{
	struct fuzz_ctx *fc = http_ctx(r);
	char msg[64];

	if (fc->fc_mode == 3) {
		/* Reply later, as a pool job would. */
		if (fuzz_nasync < FUZZ_MAX_ASYNC) {
			fuzz_async[fuzz_nasync++] = r;
			return;
		}
	}
	snprintf(msg, sizeof(msg), "got %zu", fc->fc_got);
	http_add_header(r, "Docker-Upload-UUID", "%s", "x");
	http_reply(r, 201, "text/plain", msg, strlen(msg));
}

/* Read everything a handler may read; the values must be C strings. */
static void
fuzz_read_request(struct request *r)
{
	static const char *const names[] = { "Host", "Accept",
	    "Content-Type", "Content-Range", "Range", "Authorization",
	    "Expect", "If-None-Match", "Transfer-Encoding", "Content-Length" };
	char out[256];
	const char *v;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((v = http_header(r, names[i])) != NULL)
			(void)strlen(v);
	(void)strlen(http_path(r));
	(void)strlen(http_method_name(r));
	(void)util_query_get(http_query(r), "n", out, sizeof(out));
	(void)util_query_get(http_query(r), "last", out, sizeof(out));
	(void)util_query_get(http_query(r), "digest", out, sizeof(out));
	(void)util_query_get(http_query(r), "mount", out, 8);
	if (http_content_length(r) > 0 && !http_has_body(r))
		abort();
	(void)http_conn_id(r);
	(void)http_method(r);
}

static void
fuzz_dispatch(struct request *r)
{
	const char *path = http_path(r);
	struct fuzz_ctx *fc;
	char msg[64];
	int fd;

	fuzz_read_request(r);
	if ((fc = calloc(1, sizeof(*fc))) == NULL)
		abort();
	fc->fc_scratch = strdup(path);
	fuzz_live_ctx++;
	http_set_ctx(r, fc);
	http_set_cleanup(r, fuzz_cleanup_cb);
	http_log_digest(r, http_query(r));

	if (strncmp(path, "/sink", 5) == 0) {
		fc->fc_mode = path[5] >= '0' && path[5] <= '3' ?
		    path[5] - '0' : 0;
		http_body_sink(r, fuzz_body_cb, fuzz_end_cb);
	} else if (strncmp(path, "/early", 6) == 0)
		http_error(r, 404, "BLOB_UNKNOWN", "%s", "early");
	else if (strncmp(path, "/5xx", 4) == 0)
		http_error(r, 500, "UNKNOWN", "%s", path);
	else if (strncmp(path, "/nobody", 7) == 0)
		http_reply(r, 204, NULL, NULL, 0);
	else if (strncmp(path, "/async", 6) == 0 && !http_has_body(r) &&
	    fuzz_nasync < FUZZ_MAX_ASYNC)
		fuzz_async[fuzz_nasync++] = r;
	else if (strncmp(path, "/file", 5) == 0 && fuzz_memfd != -1 &&
	    (fd = dup(fuzz_memfd)) != -1) {
		http_add_header(r, "Docker-Content-Digest", "%s", "sha256:x");
		http_reply_file(r, 200, "application/octet-stream", fd,
		    (uint64_t)strlen(path) % 7, 100);
	} else if (strncmp(path, "/v2/", 4) == 0) {
		/* Registry-shaped traffic: pick a behaviour per request. */
		if (http_has_body(r)) {
			fc->fc_mode = (int)(strlen(path) % 5);
			if (fc->fc_mode == 4)
				http_error(r, 401, "UNAUTHORIZED", NULL);
			else
				http_body_sink(r, fuzz_body_cb, fuzz_end_cb);
		} else if (http_method(r) == HTTP_M_DELETE)
			http_reply(r, 202, NULL, NULL, 0);
		else if (strstr(path, "/manifests/") != NULL &&
		    fuzz_nasync < FUZZ_MAX_ASYNC)
			fuzz_async[fuzz_nasync++] = r;
		else if (strstr(path, "/blobs/") != NULL)
			http_error(r, 404, "BLOB_UNKNOWN", NULL);
		else
			http_reply(r, 200, "application/json", "{}", 2);
	} else {
		snprintf(msg, sizeof(msg), "%d %zu", (int)http_method(r),
		    strlen(http_query(r)));
		http_add_header(r, "X-Len", "%zu", strlen(path));
		http_reply(r, 200, "text/plain", msg, strlen(msg));
	}
}

/* ---- harness ---- */

static void
fuzz_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	http_conn_read(arg);
}

static void
fuzz_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	http_conn_drained(arg);
}

static void
fuzz_spin(void)
{
	int i;

	for (i = 0; i < 8; i++)
		event_base_loop(fuzz_base, EVLOOP_NONBLOCK);
}

/* Answer the requests that went asynchronous. */
static void
fuzz_reply_async(void)
{
	struct request *r;
	int i;

	for (i = 0; i < fuzz_nasync; i++) {
		if ((r = fuzz_async[i]) == NULL)
			continue;
		fuzz_async[i] = NULL;
		if (http_replied(r))
			abort();	/* nobody else may have answered it */
		http_reply(r, 200, "application/json", "{}", 2);
	}
	fuzz_nasync = 0;
}

/* Case-insensitive search for a header line inside head[0..len). */
static const char *
fuzz_find_header(const char *head, size_t len, const char *name)
{
	size_t nlen = strlen(name), i;

	for (i = 0; i + 2 + nlen < len; i++)
		if (head[i] == '\r' && head[i + 1] == '\n' &&
		    strncasecmp(head + i + 2, name, nlen) == 0)
			return head + i + 2 + nlen;
	return NULL;
}

/* Walk the output against the heads http.c announced. */
static void
fuzz_check_output(const char *out, size_t n)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	const char *end, *cl;
	char want[32];
	size_t pos = 0, hlen;
	int i, closed = 0;

	if (n > 0 && (n < 9 || memcmp(out, "HTTP/1.1 ", 9) != 0)) {
		fprintf(stderr, "response does not start with HTTP/1.1\n");
		abort();
	}
	if (!fuzz_heads_known)
		return;
	for (i = 0; i < fuzz_nheads; i++) {
		if ((fuzz_heads[i].fh_aborted || !fuzz_heads[i].fh_replied) &&
		    i != fuzz_nheads - 1) {
			fprintf(stderr, "line %d: aborted, not the last\n", i);
			abort();
		}
		if (!fuzz_heads[i].fh_replied)
			continue;
		while (n - pos >= sizeof(cont) - 1 &&
		    memcmp(out + pos, cont, sizeof(cont) - 1) == 0)
			pos += sizeof(cont) - 1;
		if (closed) {
			fprintf(stderr, "response after Connection: close\n");
			abort();
		}
		snprintf(want, sizeof(want), "HTTP/1.1 %d ",
		    fuzz_heads[i].fh_status);
		if (n - pos < strlen(want) ||
		    memcmp(out + pos, want, strlen(want)) != 0) {
			fprintf(stderr, "head %d: want \"%s\"\n", i, want);
			abort();
		}
		end = memmem(out + pos, n - pos, "\r\n\r\n", 4);
		if (end == NULL) {
			fprintf(stderr, "head %d: unterminated\n", i);
			abort();
		}
		hlen = (size_t)(end + 4 - (out + pos));
		if (fuzz_find_header(out + pos, hlen, "Connection: close") !=
		    NULL)
			closed = 1;
		cl = fuzz_find_header(out + pos, hlen, "Content-Length: ");
		pos += hlen;
		if (fuzz_heads[i].fh_status == 204 ||
		    fuzz_heads[i].fh_status == 304) {
			if (cl != NULL || fuzz_heads[i].fh_sent != 0 ||
			    fuzz_heads[i].fh_aborted) {
				fprintf(stderr, "head %d: length on %d\n", i,
				    fuzz_heads[i].fh_status);
				abort();
			}
			continue;
		}
		if (cl == NULL || strtoull(cl, NULL, 10) !=
		    fuzz_heads[i].fh_length) {
			fprintf(stderr, "head %d: Content-Length\n", i);
			abort();
		}
		if (fuzz_heads[i].fh_head) {
			if (fuzz_heads[i].fh_sent != 0) {
				fprintf(stderr, "head %d: HEAD sent a body\n",
				    i);
				abort();
			}
			continue;
		}
		/* A whole body, or exactly what the aborted line counts. */
		if (!fuzz_heads[i].fh_aborted &&
		    fuzz_heads[i].fh_sent != fuzz_heads[i].fh_length) {
			fprintf(stderr, "head %d: logged %llu of %llu bytes\n",
			    i, (unsigned long long)fuzz_heads[i].fh_sent,
			    (unsigned long long)fuzz_heads[i].fh_length);
			abort();
		}
		if (fuzz_heads[i].fh_sent > fuzz_heads[i].fh_length ||
		    n - pos < fuzz_heads[i].fh_sent) {
			fprintf(stderr, "head %d: short body\n", i);
			abort();
		}
		pos += fuzz_heads[i].fh_sent;
	}
	while (n - pos >= sizeof(cont) - 1 &&
	    memcmp(out + pos, cont, sizeof(cont) - 1) == 0 && !closed)
		pos += sizeof(cont) - 1;
	if (pos != n) {
		fprintf(stderr, "%zu stray bytes after %d responses\n",
		    n - pos, fuzz_nheads);
		abort();
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char blob[100] = "0123456789abcdef";

	(void)argc;
	(void)argv;
	fuzz_base = event_base_new();
	fuzz_cfg.cf_body_timeout = fuzz_cfg.cf_idle_timeout = 60;
	fuzz_cfg.cf_write_timeout = fuzz_cfg.cf_header_timeout = 60;
	http_init(&fuzz_cfg, fuzz_dispatch);
	log_init(LOG_LVL_ERROR, 0);
	fuzz_memfd = memfd_create("fuzz_http", 0);
	if (fuzz_memfd != -1 &&
	    write(fuzz_memfd, blob, sizeof(blob)) != (ssize_t)sizeof(blob)) {
		close(fuzz_memfd);
		fuzz_memfd = -1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bufferevent *pair[2];
	struct evbuffer *in;
	struct http_conn *hc;
	size_t k, i, off, chunk;
	char *out;
	size_t n;
	int async_between;

	if (size < 1)
		return 0;
	k = data[0] & 7;
	async_between = (data[0] & 8) != 0;
	if (size < 1 + k)
		return 0;

	fuzz_nheads = 0;
	fuzz_heads_known = 1;
	fuzz_nasync = 0;
	if (bufferevent_pair_new(fuzz_base, 0, pair) == -1)
		return 0;
	if ((hc = http_conn_new(pair[0], 1, "127.0.0.1:1", "127.0.0.1",
	    0)) == NULL)
		abort();
	fuzz_conn = hc;
	bufferevent_setcb(pair[0], fuzz_read_cb, fuzz_write_cb, NULL, hc);
	bufferevent_enable(pair[0], EV_READ | EV_WRITE);
	bufferevent_enable(pair[1], EV_READ | EV_WRITE);

	off = 1 + k;
	for (i = 0; i <= k; i++) {
		chunk = i < k ? data[1 + i] : size - off;
		if (chunk > size - off)
			chunk = size - off;
		bufferevent_write(pair[1], data + off, chunk);
		off += chunk;
		fuzz_spin();
		if (async_between)
			fuzz_reply_async();
		if (http_conn_state(hc) == HTTP_CONN_CLOSE)
			break;
	}
	fuzz_reply_async();
	fuzz_spin();

	/* Freeing logs the request in flight, if any: check after it. */
	http_conn_free(hc);
	in = bufferevent_get_input(pair[1]);
	n = evbuffer_get_length(in);
	if ((out = malloc(n + 1)) == NULL)
		abort();
	evbuffer_remove(in, out, n);
	out[n] = '\0';
	fuzz_check_output(out, n);
	free(out);

	bufferevent_free(pair[0]);
	bufferevent_free(pair[1]);
	fuzz_spin();
	fuzz_conn = NULL;
	if (fuzz_live_ctx != 0) {
		fprintf(stderr, "%d handler contexts not cleaned up\n",
		    fuzz_live_ctx);
		abort();
	}
	return 0;
}
