/*
 * The HTTP/1.1 request layer: http-parser does the framing, this file
 * keeps one struct request per request in flight, hands it to the
 * dispatcher it was given once its headers are complete, streams the body
 * into the handler's sink and writes the response.
 *
 * It knows neither the server nor the registry. Per connection it owns a
 * struct http_conn: the parser, the request in flight, the header
 * deadline timer and the read timeouts of the bufferevent the server
 * lent it. It tells the server what to do with the connection only
 * through hc_state (http_conn_state), which the server reads at the top
 * of its own callbacks; it never frees the connection (STYLE O2, O3).
 *
 * The parser is paused at the end of every message, so pipelined requests
 * wait in the input buffer and responses go out in order. When a response
 * has been queued and the output has drained, the request is logged and
 * freed and the parser resumes on the bytes already buffered: no new read
 * event would come for them. The access line is written then, when the
 * last byte of the response has left (http_log_request), or when the
 * connection closes first: then it says how much was sent, and "aborted".
 *
 * Debian builds http-parser without HTTP_PARSER_STRICT, and then it takes
 * any two bytes after chunk data as CRLF and any byte after a CR as LF.
 * RFC 9112 allows neither (2.2, 7.1), and a proxy in front that reads the
 * same bytes differently can smuggle a request past it. http_strict_feed
 * and http_strict_check hold the parser to the rules around each
 * http_parser_execute (see "Strict framing" below); whitespace before a
 * colon, odd versions, Host and the request target are checked in the
 * callbacks.
 */
#include <sys/socket.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <http_parser.h>
#include <jansson.h>

#include "bounds.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define HTTP_NO_OFFSET   UINT32_MAX
/* The status logged for a request the connection lost before its reply. */
#define HTTP_STATUS_LOST 499

/* Why a callback of ours paused the parser (hc_strict_pause). */
#define HTTP_PAUSE_CHUNK_DATA 1 /* at a chunk's data: skip it unscanned */
#define HTTP_PAUSE_CHUNK_END  2 /* after a chunk: check its CRLF */

/* Per-request flags. */
#define REQ_F_REPLIED       0x01  /* response queued (headers at least) */
#define REQ_F_COMPLETE      0x02  /* whole request body received */
#define REQ_F_DISCARD       0x04  /* body goes nowhere */
#define REQ_F_CONTINUE_SENT 0x08  /* "100 Continue" written */
#define REQ_F_IN_VALUE      0x10  /* last header callback was a value */
#define REQ_F_ENDED         0x20  /* end_cb has run */
#define REQ_F_HELD          0x40  /* parser held after dispatch */
#define REQ_F_DISPATCHED    0x80  /* headers complete, dispatched */
#define REQ_F_DRAINING      0x100 /* done but for its queued last bytes */

/* http_finish_request */
#define HTTP_FINISH_WAIT  0 /* the request is not done: stop reading */
#define HTTP_FINISH_NEXT  1 /* freed: the parser may go on */
#define HTTP_FINISH_DRAIN 2 /* done but for its queued last bytes */

/*
 * The HTTP side of one connection. Owned by its creator (the server's
 * connection), which frees it with http_conn_free before it frees hc_bev:
 * the bufferevent is the creator's, lent to us.
 */
struct http_conn {
	struct bufferevent *hc_bev;    /* the server's; never freed here */
	struct event *hc_hdr_timer;    /* absolute header deadline; while
	                                * lingering, the linger cap */
	http_parser hc_parser;         /* hc_parser.data is hc */
	struct request *hc_req;        /* request being parsed/served */
	enum http_conn_state hc_state; /* only raised: http_conn_set_state */
	int hc_flags;                  /* HTTP_CONN_F_*, from the server */
	http_dispatch_cb hc_dispatch;  /* http_init's, or the listener's */
	int hc_paused;                 /* parser paused at a message end */
	unsigned int hc_id;
	char hc_peer[64]; /* "addr:port" for logs */
	char hc_addr[48]; /* peer IP address alone */

	/*
	 * Strict framing (http_strict_feed, http_strict_check). hc_cr and
	 * hc_body_end point into the bytes of the http_parser_execute call in
	 * progress only.
	 */
	const char *hc_cr;       /* a CR not followed by LF in them */
	int hc_cr_body;          /* on_body took *hc_cr as body */
	const char *hc_body_end; /* end of the last on_body bytes */
	int hc_cr_pending;       /* last byte parsed: a CR outside a body */
	uint64_t hc_body_left;   /* bytes ahead known to be body */
	char hc_tail[2];         /* the last two bytes parsed */
	int hc_last_chunk;       /* the chunk in progress has size 0 */
	int hc_strict_pause;     /* HTTP_PAUSE_*: why our callback paused */
};

/*
 * One request. Owned by its connection (hc_req); all its strings live in
 * r_buf, an arena addressed by offsets because it grows with realloc.
 */
struct request {
	struct http_conn *r_hc;
	enum http_method_id r_method;
	int r_flags; /* REQ_F_* */
	int r_holds; /* http_hold calls not yet released */

	uint64_t r_start_us; /* the request's first byte, monotonic */
	const char *r_route; /* route name for metrics (a constant), or NULL */
	uint64_t r_body_in;  /* body bytes received, kept or discarded */

	char *r_buf; /* url, then header strings */
	size_t r_buflen;
	size_t r_bufsize;
	size_t r_urllen;
	uint32_t r_path; /* offsets into r_buf */
	uint32_t r_query;
	uint32_t r_hname[HTTP_MAX_HEADERS];
	uint32_t r_hvalue[HTTP_MAX_HEADERS];
	int r_nheaders;
	int r_err;         /* status to answer a bad request */
	const char *r_why; /* its detail (a constant string), or NULL */
	int r_nhost;       /* Host header lines */
	size_t r_hbytes;   /* header bytes so far */

	int64_t r_content_length; /* -1 none */
	int r_chunked;
	uint64_t r_discarded;

	http_body_cb r_body_cb;
	http_end_cb r_end_cb;
	http_cleanup_cb r_cleanup_cb;
	void *r_ctx; /* owned by the handler */

	struct evbuffer *r_headers; /* response headers so far */
	int r_status;
	uint64_t r_bytes_out; /* the Content-Length sent */

	/*
	 * What the access line says. The response's bytes are the last
	 * r_head_len + r_body_queued bytes added to the output, so those of
	 * them still there have not been sent (http_body_sent).
	 */
	uint64_t r_head_len;    /* status line and headers queued */
	uint64_t r_body_queued; /* body bytes queued */
	uint64_t r_body_want;   /* body bytes the head announced (not HEAD) */
	char r_digest[DIGEST_MAX_LEN + 1];
	char r_user[AUTH_USER_MAX]; /* as auth accepted it, for the log */
	char r_client[64];          /* client for the log: hc_peer or XFF */

	/*
	 * A body pulled in bounded segments as the output drains (a store
	 * reader, or a file over TLS, where there is no sendfile). r_src_arg
	 * is owned: released with r_src.hs_free once the body is out or the
	 * request is freed.
	 */
	struct http_source r_src;
	void *r_src_arg;
	uint64_t r_src_off;
	uint64_t r_src_left;
	int r_src_wait; /* hs_read said EAGAIN: until http_source_wake */
};

static const struct config *http_cfg;
static http_dispatch_cb http_dispatch;
/* The connection whose parser is running: replies must not re-enter it. */
static struct http_conn *http_parsing;

static void http_conn_set_state(struct http_conn *, enum http_conn_state);
static void http_read_timeout(struct http_conn *, int);
static void http_header_deadline(struct http_conn *, int);
static void http_header_timeout_cb(evutil_socket_t, short, void *);
static struct request *http_request_new(struct http_conn *);
static void http_request_free(struct request *);
static uint64_t http_body_sent(const struct request *, int *);
static void http_log_request(struct request *);
static void http_conn_free_request(struct http_conn *);
static int http_buf_append(struct request *, const char *, size_t);
static int http_buf_terminate(struct request *);
static int http_on_message_begin(http_parser *);
static int http_on_url(http_parser *, const char *, size_t);
static int http_on_header_field(http_parser *, const char *, size_t);
static int http_on_header_value(http_parser *, const char *, size_t);
static int http_on_trailer(struct request *, const char *, size_t, int);
static int http_on_headers_complete(http_parser *);
static int http_on_body(http_parser *, const char *, size_t);
static int http_on_message_complete(http_parser *);
static int http_on_chunk_header(http_parser *);
static int http_on_chunk_complete(http_parser *);
static size_t http_strict_feed(struct http_conn *, const char *, size_t);
static const char *
http_strict_check(struct http_conn *, const char *, size_t, size_t);
static void http_parse_fail(struct http_conn *, int, const char *);
static int http_refuse(struct request *, int, const char *);
static int http_target_path(struct request *);
static int http_finish_headers(struct request *);
static int http_header_join(struct request *, int, int);
static void http_bad_request(struct http_conn *, int, const char *);
struct http_head;
static void http_head_flush(struct http_head *);
static void http_head_put(struct http_head *, const char *, size_t);
static void http_head_str(struct http_head *, const char *);
static void http_head_u64(struct http_head *, uint64_t);
static const char *http_date(void);
static void http_write_head(struct request *, int, const char *, uint64_t, int);
static const char *http_reason(int);
static char *http_error_body(const char *, const char *);
static const char *http_parse_why(enum http_errno);
static const char *http_error_message(const char *);
static void http_maybe_resume(struct http_conn *);
static void http_parse_input(struct http_conn *);
static int http_finish_request(struct http_conn *);
static void http_early_close_check(struct request *);
static void http_after_dispatch(struct request *);
static void http_source_refill(struct request *);
static void http_source_release(struct request *);
static ssize_t http_fd_read(void *, void *, size_t, uint64_t);
static void http_fd_free(void *);
static void http_free_cb(const void *, size_t, void *);
static void http_reply_mem(struct request *r, int status, const char *type,
    const void *body, size_t len, int take);

static const http_parser_settings http_settings = {
    .on_message_begin = http_on_message_begin,
    .on_url = http_on_url,
    .on_header_field = http_on_header_field,
    .on_header_value = http_on_header_value,
    .on_headers_complete = http_on_headers_complete,
    .on_body = http_on_body,
    .on_message_complete = http_on_message_complete,
    .on_chunk_header = http_on_chunk_header,
    .on_chunk_complete = http_on_chunk_complete,
};

/* ----------------------------------------------------------------------
 * Setup
 */

/*
 * http_init: keep cfg (owned by main, alive while serving) and the
 * dispatcher.
 */
void
http_init(const struct config *cfg, http_dispatch_cb dispatch)
{
	http_cfg = cfg;
	http_dispatch = dispatch;
}

/*
 * http_conn_new: a fresh parser for a new connection on bev (lent by the
 * server, see http.h). The header deadline runs from now: a connection
 * that sends nothing at all is closed after header_timeout like one that
 * sends a head too slowly, not after the (longer) idle_timeout, which is
 * for keep-alive connections between requests. NULL when out of memory;
 * bev is left as it was.
 */
struct http_conn *
http_conn_new(struct bufferevent *bev, unsigned int id, const char *peer,
    const char *addr, int flags)
{
	struct http_conn *hc;

	if ((hc = calloc(1, sizeof(*hc))) == NULL)
		return NULL;
	hc->hc_hdr_timer =
	    evtimer_new(bufferevent_get_base(bev), http_header_timeout_cb, hc);
	if (hc->hc_hdr_timer == NULL) {
		free(hc);
		return NULL;
	}
	hc->hc_bev = bev;
	hc->hc_id = id;
	hc->hc_flags = flags;
	hc->hc_dispatch = http_dispatch;
	util_strlcpy(hc->hc_peer, peer, sizeof(hc->hc_peer));
	util_strlcpy(hc->hc_addr, addr, sizeof(hc->hc_addr));
	http_parser_init(&hc->hc_parser, HTTP_REQUEST);
	hc->hc_parser.data = hc;
	http_read_timeout(hc, http_cfg->cf_idle_timeout);
	http_header_deadline(hc, 1);
	return hc;
}

/*
 * http_conn_set_dispatch: the requests of hc go to dispatch rather than
 * to http_init's (a listener with endpoints of its own).
 */
void
http_conn_set_dispatch(struct http_conn *hc, http_dispatch_cb dispatch)
{
	hc->hc_dispatch = dispatch;
}

/* The state only rises: nothing takes back a decision to close. */
static void
http_conn_set_state(struct http_conn *hc, enum http_conn_state st)
{
	if (st > hc->hc_state)
		hc->hc_state = st;
}

/* http_conn_state: what the server is to do with the connection. */
enum http_conn_state
http_conn_state(const struct http_conn *hc)
{
	return hc->hc_state;
}

/*
 * http_conn_busy: a request is in flight, other than one answered whole
 * whose last bytes are still being written (the connection is then as
 * between requests, with output queued).
 */
int
http_conn_busy(const struct http_conn *hc)
{
	return hc->hc_req != NULL && !(hc->hc_req->r_flags & REQ_F_DRAINING);
}

/* http_conn_close_after_reply: close once the reply in flight is out. */
void
http_conn_close_after_reply(struct http_conn *hc)
{
	http_conn_set_state(hc, HTTP_CONN_CLOSE_AFTER_REPLY);
}

/*
 * The read inactivity timeout, in seconds (0: none, while a reply
 * drains): idle between requests, body while one streams in, short while
 * lingering. Writes keep theirs.
 */
static void
http_read_timeout(struct http_conn *hc, int secs)
{
	struct timeval rtv = {secs, 0};
	struct timeval wtv = {http_cfg->cf_write_timeout, 0};

	bufferevent_set_timeouts(hc->hc_bev, &rtv, &wtv);
}

/*
 * Arm (on) or disarm the header deadline. It is absolute from the first
 * byte of a request (or from the connection's start for its first
 * request), so a client sending one byte at a time cannot hold the
 * connection, which an inactivity timeout would let it do.
 */
static void
http_header_deadline(struct http_conn *hc, int on)
{
	struct timeval tv = {http_cfg->cf_header_timeout, 0};

	if (on) {
		if (!evtimer_pending(hc->hc_hdr_timer, NULL))
			evtimer_add(hc->hc_hdr_timer, &tv);
	} else
		evtimer_del(hc->hc_hdr_timer);
}

/*
 * The header deadline passed. Only the server frees a connection, from
 * the top of its own callbacks (STYLE O2, O3): report a read timeout on
 * the bufferevent, deferred so that the server's event callback runs from
 * the loop and not below this one. Until then the state keeps the parser
 * from running.
 */
static void
http_header_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *hc = arg;

	(void)fd;
	(void)what;
	if (hc->hc_state == HTTP_CONN_LINGER)
		log_debug("%s: still sending after %d s of lingering close, "
		          "closing",
		    hc->hc_peer, HTTP_LINGER_MAX);
	else if (hc->hc_req == NULL)
		/* Idle, like a keep-alive connection that timed out. */
		log_debug("%s: no request within %d s, closing", hc->hc_peer,
		    http_cfg->cf_header_timeout);
	else
		log_info("%s: headers not complete within %d s, closing",
		    hc->hc_peer, http_cfg->cf_header_timeout);
	http_conn_set_state(hc, HTTP_CONN_CLOSE);
	bufferevent_trigger_event(hc->hc_bev,
	    BEV_EVENT_READING | BEV_EVENT_TIMEOUT, BEV_TRIG_DEFER_CALLBACKS);
}

static struct request *
http_request_new(struct http_conn *hc)
{
	struct request *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->r_hc = hc;
	util_strlcpy(r->r_client, hc->hc_peer, sizeof(r->r_client));
	r->r_content_length = -1;
	r->r_start_us = util_now_us();
	r->r_path = r->r_query = HTTP_NO_OFFSET;
	if ((r->r_headers = evbuffer_new()) == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

/* Free a request; its cleanup callback is the last to see it (http.h). */
static void
http_request_free(struct request *r)
{
	if (r == NULL)
		return;
	if (r->r_route != NULL)
		metrics_in_flight(r->r_route, -1);
	if (r->r_cleanup_cb != NULL)
		r->r_cleanup_cb(r);
	http_source_release(r);
	evbuffer_free(r->r_headers);
	free(r->r_buf);
	free(r);
}

/* Free the request in flight, if any; the connection stays. */
static void
http_conn_free_request(struct http_conn *hc)
{
	http_request_free(hc->hc_req);
	hc->hc_req = NULL;
}

/*
 * http_conn_free: the request in flight (its cleanup runs first), the
 * header timer, hc. The bufferevent is the server's. A request still in
 * flight was lost with the connection: its access line says so.
 */
void
http_conn_free(struct http_conn *hc)
{
	if (hc == NULL)
		return;
	if (hc->hc_req != NULL)
		http_log_request(hc->hc_req);
	http_conn_free_request(hc);
	event_free(hc->hc_hdr_timer);
	free(hc);
}

/* ----------------------------------------------------------------------
 * The header arena
 */

static int
http_buf_append(struct request *r, const char *p, size_t len)
{
	size_t want = r->r_buflen + len + 1;
	char *nb;

	if (want > HTTP_MAX_HEADER_BYTES + HTTP_MAX_URL + 2)
		return http_refuse(r, 431, NULL);
	if (want > r->r_bufsize) {
		size_t ns = r->r_bufsize ? r->r_bufsize * 2 : 1024;

		while (ns < want)
			ns *= 2;
		if ((nb = realloc(r->r_buf, ns)) == NULL)
			return http_refuse(r, 500, "out of memory");
		r->r_buf = nb;
		r->r_bufsize = ns;
	}
	memcpy(r->r_buf + r->r_buflen, p, len);
	r->r_buflen += len;
	return 0;
}

/* End the string being appended with a NUL. */
static int
http_buf_terminate(struct request *r)
{
	if (http_buf_append(r, "", 1) == -1)
		return -1;
	return 0;
}

/* ----------------------------------------------------------------------
 * Parser callbacks
 */

static int
http_on_message_begin(http_parser *p)
{
	struct http_conn *hc = p->data;

	if (hc->hc_req == NULL && (hc->hc_req = http_request_new(hc)) == NULL)
		return -1;
	http_header_deadline(hc, 1);
	return 0;
}

/*
 * The request target, in pieces. http-parser built without strict mode
 * takes TAB and form feed in it, and bytes over 0x7f; none of them is
 * allowed in a URI (RFC 3986 2, RFC 9112 3.2), and a TAB may be read as
 * the end of the target by a proxy in front: refuse them all.
 */
static int
http_on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *hc = p->data;
	struct request *r = hc->hc_req;
	size_t i;

	if (r->r_urllen + len > HTTP_MAX_URL)
		return http_refuse(r, 414, NULL);
	for (i = 0; i < len; i++)
		if ((unsigned char)at[i] <= 0x20 ||
		    (unsigned char)at[i] >= 0x7f)
			return http_refuse(r, 400,
			    "control or non-ASCII byte in the request target");
	r->r_urllen += len;
	return http_buf_append(r, at, len);
}

static int
http_on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_conn *hc = p->data;
	struct request *r = hc->hc_req;

	if (r->r_flags & REQ_F_DISPATCHED)
		return http_on_trailer(r, at, len, 1);
	if (r->r_nheaders == 0 || (r->r_flags & REQ_F_IN_VALUE)) {
		/* A new header begins: close the url or the last value. */
		if (http_buf_terminate(r) == -1)
			return -1;
		if (r->r_nheaders == HTTP_MAX_HEADERS)
			return http_refuse(r, 431, NULL);
		r->r_hname[r->r_nheaders] = (uint32_t)r->r_buflen;
		r->r_hvalue[r->r_nheaders] = HTTP_NO_OFFSET;
		r->r_nheaders++;
		r->r_flags &= ~REQ_F_IN_VALUE;
	}
	if ((r->r_hbytes += len) > HTTP_MAX_HEADER_BYTES)
		return http_refuse(r, 431, NULL);
	/*
	 * Non-strict http-parser takes spaces in a field name, so
	 * "Content-Length : 5" would be a header of another name and the
	 * body the next request, where a proxy in front may have read a
	 * length: RFC 9112 5.1 wants 400.
	 */
	if (memchr(at, ' ', len) != NULL)
		return http_refuse(r, 400, "whitespace in a header name");
	return http_buf_append(r, at, len);
}

static int
http_on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_conn *hc = p->data;
	struct request *r = hc->hc_req;
	int i = r->r_nheaders - 1;

	if (r->r_flags & REQ_F_DISPATCHED)
		return http_on_trailer(r, at, len, 0);
	if (i < 0)
		return -1;
	if (!(r->r_flags & REQ_F_IN_VALUE)) {
		if (http_buf_terminate(r) == -1)
			return -1;
		r->r_hvalue[i] = (uint32_t)r->r_buflen;
		r->r_flags |= REQ_F_IN_VALUE;
	}
	if ((r->r_hbytes += len) > HTTP_MAX_HEADER_BYTES)
		return http_refuse(r, 431, NULL);
	return http_buf_append(r, at, len);
}

/*
 * A trailer field (after the last chunk of a chunked body): http-parser
 * reports it through the header callbacks, after the request was
 * dispatched. It is bounded and checked like a header line, then
 * dropped: RFC 9110 6.5.1 lets a recipient discard trailers, and none
 * may act as a header here (a trailing Content-Type would set a
 * manifest's type after the head was routed and checked). Appending it
 * to the arena would also leave its value without the NUL that
 * http_finish_headers adds only to the head's fields.
 */
static int
http_on_trailer(struct request *r, const char *at, size_t len, int name)
{
	if ((r->r_hbytes += len) > HTTP_MAX_HEADER_BYTES)
		return http_refuse(r, 431, NULL);
	if (name && memchr(at, ' ', len) != NULL)
		return http_refuse(r, 400, "whitespace in a header name");
	return 0;
}

/*
 * Append "value i, value j" to the arena and make it header i's value;
 * header j is dropped. The values are copied out first: appending may
 * move the arena.
 */
static int
http_header_join(struct request *r, int i, int j)
{
	char *joined;
	size_t off = r->r_buflen;
	int rc;

	if (asprintf(&joined, "%s, %s", r->r_buf + r->r_hvalue[i],
	        r->r_buf + r->r_hvalue[j]) == -1)
		return http_refuse(r, 500, "out of memory");
	rc = http_buf_append(r, joined, strlen(joined) + 1);
	free(joined);
	if (rc == -1)
		return -1;
	r->r_hvalue[i] = (uint32_t)off;
	r->r_hname[j] = HTTP_NO_OFFSET;
	return 0;
}

/*
 * Refuse the request being parsed with status and a detail of our own
 * (a constant string, or NULL): the parser callback returns what this
 * returns, -1, and http_parse_input answers.
 */
static int
http_refuse(struct request *r, int status, const char *why)
{
	r->r_err = status;
	r->r_why = why;
	return -1;
}

/*
 * The offset of the path in the request target (NUL-terminated at
 * r_urllen), or -1 when it is neither the origin form ("/v2/...") nor the
 * absolute form ("http://host/v2/...", which a server must accept, RFC
 * 9112 3.2.2). The absolute form is routed by its path; its authority is
 * not used: Host, which RFC 9112 says to ignore then, is not used to
 * route either. An absolute target without a path ("http://h?q") means
 * "/": the last byte of the authority becomes that '/'. User info is
 * refused (RFC 9110 4.2.4).
 */
static int
http_target_path(struct request *r)
{
	char *u = r->r_buf, *auth, *end;
	size_t skip;

	if (r->r_urllen > 0 && u[0] == '/')
		return 0;
	if (strncasecmp(u, "http://", 7) == 0)
		skip = 7;
	else if (strncasecmp(u, "https://", 8) == 0)
		skip = 8;
	else
		return -1;
	auth = u + skip;
	end = auth + strcspn(auth, "/?#");
	if (end == auth || memchr(auth, '@', (size_t)(end - auth)) != NULL)
		return -1;
	if (*end == '/')
		return (int)(end - u);
	if (*end == '#')
		return -1;
	end[-1] = '/';
	return (int)(end - 1 - u);
}

/*
 * Terminate the last string, split path and query, count Host lines and
 * join repeated headers (RFC 9110 5.3: a list-valued header may be split
 * over several lines; Docker sends one Accept line per media type).
 */
static int
http_finish_headers(struct request *r)
{
	char *q;
	int i, j, path;

	if (r->r_nheaders == 0 && http_buf_append(r, "", 0) == -1)
		return -1;
	if (http_buf_terminate(r) == -1)
		return -1;
	for (i = 0; i < r->r_nheaders; i++)
		if (r->r_hvalue[i] == HTTP_NO_OFFSET) {
			/* A field with no value at all: make it "". */
			r->r_hvalue[i] = r->r_hname[i] +
			    (uint32_t)strlen(r->r_buf + r->r_hname[i]);
		}
	/* The url is the first string of the arena. */
	if (r->r_nheaders == 0)
		r->r_buf[r->r_urllen] = '\0';
	if ((path = http_target_path(r)) == -1)
		return http_refuse(r, 400, "malformed request target");
	r->r_path = (uint32_t)path;
	if ((q = memchr(r->r_buf + path, '?', r->r_urllen - (size_t)path)) !=
	    NULL) {
		*q = '\0';
		r->r_query = (uint32_t)(q + 1 - r->r_buf);
	}
	for (i = 0; i < r->r_nheaders; i++)
		if (strcasecmp(r->r_buf + r->r_hname[i], "Host") == 0)
			r->r_nhost++;
	for (i = 0; i < r->r_nheaders; i++) {
		if (r->r_hname[i] == HTTP_NO_OFFSET)
			continue; /* merged into an earlier line */
		for (j = i + 1; j < r->r_nheaders; j++) {
			if (r->r_hname[j] == HTTP_NO_OFFSET ||
			    strcasecmp(r->r_buf + r->r_hname[i],
			        r->r_buf + r->r_hname[j]) != 0)
				continue;
			if (http_header_join(r, i, j) == -1)
				return -1;
		}
	}
	return 0;
}

/*
 * Once the handler has had its say: a body nobody sinks is discarded.
 * When the client asked whether to send the body and was answered with a
 * final status, it may send it or not, so the framing of what follows is
 * unknown; likewise a body too large to read and throw away: close after
 * the reply.
 */
static void
http_after_dispatch(struct request *r)
{
	struct http_conn *hc = r->r_hc;
	const char *expect;

	if (!http_has_body(r) || r->r_body_cb != NULL)
		return;
	r->r_flags |= REQ_F_DISCARD;
	expect = http_header(r, "Expect");
	if ((expect != NULL && strcasecmp(expect, "100-continue") == 0) ||
	    r->r_chunked || r->r_content_length > HTTP_DISCARD_MAX)
		http_conn_set_state(hc, HTTP_CONN_CLOSE_AFTER_REPLY);
}

static int
http_on_headers_complete(http_parser *p)
{
	struct http_conn *hc = p->data;
	struct request *r = hc->hc_req;

	http_header_deadline(hc, 0);
	if (http_finish_headers(r) == -1)
		return -1;
	/*
	 * http-parser takes any one-digit version. RFC 9110 15.6.6: 505 for
	 * a major version we do not speak; HTTP/1.x past 1.1 does not exist.
	 */
	if (p->http_major != 1 || p->http_minor > 1)
		return http_refuse(r, 505, "only HTTP/1.1 and HTTP/1.0");
	/*
	 * RFC 9112 3.2: 400 for an HTTP/1.1 request without Host and for any
	 * request with more than one. HTTP/1.0 may leave it out (haproxy's
	 * health checks do).
	 */
	if (r->r_nhost > 1)
		return http_refuse(r, 400, "more than one Host header");
	if (r->r_nhost == 0 && p->http_minor == 1)
		return http_refuse(r, 400, "no Host header");
	switch (p->method) {
	case HTTP_GET:
		r->r_method = HTTP_M_GET;
		break;
	case HTTP_HEAD:
		r->r_method = HTTP_M_HEAD;
		break;
	case HTTP_PUT:
		r->r_method = HTTP_M_PUT;
		break;
	case HTTP_POST:
		r->r_method = HTTP_M_POST;
		break;
	case HTTP_PATCH:
		r->r_method = HTTP_M_PATCH;
		break;
	case HTTP_DELETE:
		r->r_method = HTTP_M_DELETE;
		break;
	case HTTP_OPTIONS:
		r->r_method = HTTP_M_OPTIONS;
		break;
	default:
		r->r_method = HTTP_M_OTHER;
		break;
	}
	r->r_chunked = (p->flags & F_CHUNKED) != 0;
	/*
	 * RFC 9112 6.3: a request whose last transfer coding is not chunked
	 * cannot be framed. http-parser notices only when body bytes come,
	 * after dispatch; refuse it before any handler runs.
	 */
	if (p->uses_transfer_encoding && !r->r_chunked)
		return http_refuse(r, 400,
		    "transfer coding other than chunked");
	if (!r->r_chunked && (p->flags & F_CONTENTLENGTH)) {
		/* http-parser takes up to 2^64-2; we count in int64_t. */
		if (p->content_length > INT64_MAX)
			return http_refuse(r, 413,
			    "Content-Length over 2^63-1");
		r->r_content_length = (int64_t)p->content_length;
	}
	if (!http_should_keep_alive(p))
		http_conn_set_state(hc, HTTP_CONN_CLOSE_AFTER_REPLY);
	http_read_timeout(hc, http_cfg->cf_body_timeout);

	log_debug("%s: conn %u: %s %s", __func__, hc->hc_id,
	    http_method_str(p->method), http_path(r));
	r->r_flags |= REQ_F_DISPATCHED;
	if (hc->hc_flags & HTTP_CONN_F_PLAIN_ON_TLS) {
		http_conn_set_state(hc, HTTP_CONN_CLOSE_AFTER_REPLY);
		http_error(r, 400, "BAD_REQUEST",
		    "plain HTTP sent to an HTTPS port: use https://");
	} else
		hc->hc_dispatch(r);
	if (!(r->r_flags & REQ_F_HELD))
		http_after_dispatch(r);
	/*
	 * Never return 1 here: on the server side it sets F_SKIPBODY and the
	 * body would be parsed as the next request.
	 */
	return 0;
}

static int
http_on_body(http_parser *p, const char *at, size_t len)
{
	struct http_conn *hc = p->data;
	struct request *r = hc->hc_req;

	/* For http_strict_check: these bytes are body, not framing. */
	if (hc->hc_cr != NULL && hc->hc_cr >= at && hc->hc_cr < at + len)
		hc->hc_cr_body = 1;
	hc->hc_body_end = at + len;
	r->r_body_in += len;
	if ((r->r_flags & REQ_F_DISCARD) || r->r_body_cb == NULL) {
		/* A body nobody asked for (held, or no sink): throw away. */
		r->r_flags |= REQ_F_DISCARD;
		r->r_discarded += len;
		if (r->r_discarded > HTTP_DISCARD_MAX) {
			http_conn_set_state(hc, HTTP_CONN_CLOSE_AFTER_REPLY);
			if (r->r_flags & REQ_F_REPLIED)
				return -1; /* stop; close after reply */
		}
		return 0;
	}
	if (r->r_body_cb(r, at, len) == -1) {
		/* The handler replied with an error; drop the rest. */
		r->r_flags |= REQ_F_DISCARD;
		if (!(r->r_flags & REQ_F_REPLIED))
			http_error(r, 500, "UNKNOWN", "body handler failed");
	}
	return 0;
}

static int
http_on_message_complete(http_parser *p)
{
	struct http_conn *hc = p->data;
	struct request *r = hc->hc_req;

	r->r_flags |= REQ_F_COMPLETE;
	hc->hc_paused = 1;
	http_parser_pause(p, 1);
	if (!(r->r_flags & REQ_F_DISCARD) && r->r_end_cb != NULL &&
	    !(r->r_flags & REQ_F_REPLIED)) {
		r->r_flags |= REQ_F_ENDED;
		r->r_end_cb(r);
	}
	return 0;
}

/*
 * A chunk's size line is parsed. Pause at the start of its data, so that
 * http_parse_input knows how many bytes ahead are body and feeds them
 * without looking for bare CRs in them (http_strict_feed). The last chunk
 * (size 0) has no data and is followed by the trailers.
 */
static int
http_on_chunk_header(http_parser *p)
{
	struct http_conn *hc = p->data;

	hc->hc_last_chunk = p->content_length == 0;
	if (!hc->hc_last_chunk) {
		hc->hc_strict_pause = HTTP_PAUSE_CHUNK_DATA;
		http_parser_pause(p, 1);
	}
	return 0;
}

/*
 * The two bytes after a chunk's data are parsed (non-strict http-parser
 * takes any two). Pause right after them: http_strict_check checks that
 * they were CRLF. After the last chunk this is called at the end of the
 * trailers, whose line ends the bare-CR scan covers.
 */
static int
http_on_chunk_complete(http_parser *p)
{
	struct http_conn *hc = p->data;

	if (!hc->hc_last_chunk) {
		hc->hc_strict_pause = HTTP_PAUSE_CHUNK_END;
		http_parser_pause(p, 1);
	}
	return 0;
}

/* ----------------------------------------------------------------------
 * Strict framing
 *
 * RFC 9112 2.2: a bare CR (not followed by LF) outside the content is
 * invalid, and non-strict http-parser reads any byte after a CR as LF in
 * the request head, chunk-size lines and trailers. So before each
 * http_parser_execute, http_strict_feed finds the first CR not followed
 * by LF in the buffer and feeds the parser only up to it; afterwards
 * http_strict_check asks whether that CR went to on_body (content: fine)
 * or was framing (400). A CR that ends the buffer waits for the next
 * read: the byte that follows must be LF (hc_cr_pending).
 *
 * Body bytes are not scanned when the parser says where they are: the
 * data of a chunk (its size, from a pause at on_chunk_header), or what
 * is left of a body whose bytes were being parsed (content_length counts
 * down what remains of a Content-Length body or of the chunk). That keeps
 * blob uploads, whose bytes hold CRs anywhere, in one on_body call per
 * read and per chunk as before, plus at most one split per request.
 */

/*
 * How many bytes of buf[0..len) to parse now (len > 0), or 0 when a CR
 * at the end of the previous bytes is not followed by LF. Sets up what
 * the callbacks and http_strict_check look at.
 */
static size_t
http_strict_feed(struct http_conn *hc, const char *buf, size_t len)
{
	const char *cr, *end = buf + len;

	hc->hc_cr = NULL;
	hc->hc_cr_body = 0;
	hc->hc_body_end = NULL;
	if (hc->hc_cr_pending) {
		if (buf[0] != '\n')
			return 0;
		hc->hc_cr_pending = 0;
	}
	if (hc->hc_body_left > 0)
		return hc->hc_body_left < len ? (size_t)hc->hc_body_left : len;
	for (cr = buf; (cr = memchr(cr, '\r', (size_t)(end - cr))) != NULL;
	     cr++)
		if (cr + 1 == end || cr[1] != '\n') {
			hc->hc_cr = cr;
			return (size_t)(cr + 1 - buf);
		}
	return len;
}

/*
 * After http_parser_execute took n of the len bytes at buf (no error, or
 * paused): NULL when the framing is sound so far, else the detail for a
 * 400. Keeps the last two bytes for a chunk end at the start of a read,
 * and how many bytes ahead are body.
 */
static const char *
http_strict_check(struct http_conn *hc, const char *buf, size_t n, size_t len)
{
	http_parser *p = &hc->hc_parser;
	char b0, b1;

	if (hc->hc_cr != NULL && hc->hc_cr < buf + n && !hc->hc_cr_body) {
		/* A CR outside a body: LF must come next. */
		if (hc->hc_cr + 1 < buf + len)
			return "CR not followed by LF";
		hc->hc_cr_pending = 1;
	}
	if (hc->hc_strict_pause == HTTP_PAUSE_CHUNK_END) {
		/*
		 * The pause came right after the two bytes: n >= 1, and the
		 * first may be the last of the previous bytes parsed.
		 */
		b1 = n >= 1 ? buf[n - 1] : hc->hc_tail[1];
		b0 = n >= 2 ? buf[n - 2] : hc->hc_tail[n == 1];
		if (b0 != '\r' || b1 != '\n')
			return "chunk data not followed by CRLF";
	}
	if (n >= 2) {
		hc->hc_tail[0] = buf[n - 2];
		hc->hc_tail[1] = buf[n - 1];
	} else if (n == 1) {
		hc->hc_tail[0] = hc->hc_tail[1];
		hc->hc_tail[1] = buf[0];
	}
	if (hc->hc_strict_pause == HTTP_PAUSE_CHUNK_DATA)
		hc->hc_body_left = p->content_length;
	else if (hc->hc_body_end != NULL && hc->hc_body_end > buf + n)
		/*
		 * A sink paused (http_body_pause) at a Content-Length body's
		 * last byte: http-parser took it as body but counts it
		 * unparsed, and parses it again (at the message end) when
		 * resumed. It is body all the same: not scanned for CRs.
		 */
		hc->hc_body_left = (uint64_t)(hc->hc_body_end - (buf + n));
	else if (n > 0 && hc->hc_body_end == buf + n &&
	    p->content_length != ULLONG_MAX)
		hc->hc_body_left = p->content_length;
	else
		hc->hc_body_left = 0;
	return NULL;
}

/* ----------------------------------------------------------------------
 * Driving the parser
 */

/*
 * Answer a request the parser could not accept, then close. status is
 * the HTTP status, why our detail or NULL; nothing of the request is
 * echoed.
 */
static void
http_bad_request(struct http_conn *hc, int status, const char *why)
{
	struct request *r = hc->hc_req;

	log_debug("%s: conn %u: %d %s", __func__, hc->hc_id, status, why);
	http_conn_set_state(hc, HTTP_CONN_CLOSE_AFTER_REPLY);
	if (r == NULL && (r = hc->hc_req = http_request_new(hc)) == NULL) {
		http_conn_set_state(hc, HTTP_CONN_CLOSE);
		return;
	}
	if (r->r_flags & REQ_F_REPLIED)
		return;
	r->r_flags |= REQ_F_COMPLETE | REQ_F_DISCARD;
	http_error(r, status,
	    status == 431       ? "HEADER_TOO_LARGE"
	        : status == 414 ? "URI_TOO_LONG"
	        : status == 413 ? "SIZE_INVALID"
	        : status == 505 ? "UNSUPPORTED"
	                        : "BAD_REQUEST",
	    why != NULL ? "%s" : NULL, why);
}

/*
 * Our detail for a request http-parser refused. Its own descriptions
 * ("the on_url callback failed", "invalid character in header") tell a
 * client how the parser works, so they go to the debug log only.
 */
static const char *
http_parse_why(enum http_errno err)
{
	switch (err) {
	case HPE_HEADER_OVERFLOW:
		return NULL; /* the 431 says it */
	case HPE_INVALID_VERSION:
		return "malformed HTTP version";
	case HPE_INVALID_METHOD:
		return "unknown method";
	case HPE_INVALID_URL:
	case HPE_INVALID_HOST:
	case HPE_INVALID_PORT:
	case HPE_INVALID_PATH:
	case HPE_INVALID_QUERY_STRING:
	case HPE_INVALID_FRAGMENT:
		return "malformed request target";
	case HPE_INVALID_HEADER_TOKEN:
		return "malformed header line";
	case HPE_INVALID_CONTENT_LENGTH:
		return "malformed Content-Length";
	case HPE_UNEXPECTED_CONTENT_LENGTH:
		return "Content-Length repeated or with Transfer-Encoding";
	case HPE_INVALID_CHUNK_SIZE:
		return "malformed chunk size";
	case HPE_INVALID_TRANSFER_ENCODING:
		return "malformed Transfer-Encoding";
	default:
		return "malformed request";
	}
}

/*
 * The request in flight cannot be parsed further: answer status with our
 * detail why (nothing of the request is echoed) and close. When its reply
 * is already out (a body being discarded), just close after it.
 */
static void
http_parse_fail(struct http_conn *hc, int status, const char *why)
{
	struct evbuffer *in = bufferevent_get_input(hc->hc_bev);

	if (hc->hc_req != NULL && (hc->hc_req->r_flags & REQ_F_REPLIED) &&
	    (hc->hc_req->r_flags & REQ_F_DISCARD)) {
		/* Stopped discarding: the reply is out. */
		hc->hc_req->r_flags |= REQ_F_COMPLETE;
		http_conn_set_state(hc, HTTP_CONN_CLOSE_AFTER_REPLY);
	} else
		http_bad_request(hc, status, why);
	hc->hc_paused = 1;
	evbuffer_drain(in, evbuffer_get_length(in));
}

/*
 * Parse buffered input until the parser pauses at a message end or the
 * input is empty. The input is drained only by what the parser consumed,
 * so a pipelined request stays buffered. Pauses of our own (chunk
 * boundaries) are resumed at once.
 */
static void
http_parse_input(struct http_conn *hc)
{
	struct evbuffer *in = bufferevent_get_input(hc->hc_bev);
	struct evbuffer_iovec v;
	const char *buf, *bad;
	size_t n, feed;
	enum http_errno err;

	while (!hc->hc_paused && hc->hc_state != HTTP_CONN_CLOSE &&
	    evbuffer_get_length(in) > 0) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		buf = v.iov_base;
		if ((feed = http_strict_feed(hc, buf, v.iov_len)) == 0) {
			http_parse_fail(hc, 400, "CR not followed by LF");
			break;
		}
		hc->hc_strict_pause = 0;
		http_parsing = hc;
		n = http_parser_execute(&hc->hc_parser, &http_settings, buf,
		    feed);
		http_parsing = NULL;
		err = HTTP_PARSER_ERRNO(&hc->hc_parser);
		if ((err == HPE_OK || err == HPE_PAUSED) &&
		    (bad = http_strict_check(hc, buf, n, v.iov_len)) != NULL) {
			log_debug("%s: conn %u: %s", __func__, hc->hc_id, bad);
			http_parse_fail(hc, 400, bad);
			break;
		}
		evbuffer_drain(in, n);
		if (err == HPE_PAUSED && hc->hc_strict_pause != 0) {
			http_parser_pause(&hc->hc_parser, 0);
			continue;
		}
		if (err == HPE_PAUSED)
			break;
		if (err != HPE_OK) {
			const char *why = http_parse_why(err);
			int status = err == HPE_HEADER_OVERFLOW ? 431 : 400;

			if (hc->hc_req != NULL && hc->hc_req->r_err != 0) {
				status = hc->hc_req->r_err;
				why = hc->hc_req->r_why;
			}
			log_debug("%s: conn %u: parser: %s", __func__,
			    hc->hc_id, http_errno_description(err));
			http_parse_fail(hc, status, why);
			break;
		}
		if (n < feed)
			break; /* should not happen without an error */
	}
}

/*
 * http_conn_read: parse requests from the input and serve them in order.
 * While a request waits for its reply the connection stops reading, so
 * pipelined bytes wait in the kernel.
 */
void
http_conn_read(struct http_conn *hc)
{
	if (hc->hc_state == HTTP_CONN_LINGER) {
		struct evbuffer *in = bufferevent_get_input(hc->hc_bev);

		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	for (;;) {
		http_parse_input(hc);
		if (hc->hc_req != NULL && (hc->hc_req->r_flags & REQ_F_HELD)) {
			bufferevent_disable(hc->hc_bev, EV_READ);
			return;
		}
		if (!hc->hc_paused || hc->hc_state == HTTP_CONN_CLOSE)
			return;
		switch (http_finish_request(hc)) {
		case HTTP_FINISH_NEXT:
			break; /* its bytes may already be buffered */
		case HTTP_FINISH_DRAIN:
			/*
			 * Answered, its last bytes not yet written: keep
			 * reading (the usual case, one write away), so
			 * that every request does not cost two more
			 * epoll_ctl calls, until a next request arrives
			 * before the drain; its bytes then wait in the
			 * kernel as above, after at most one read.
			 */
			if (evbuffer_get_length(
			        bufferevent_get_input(hc->hc_bev)) == 0)
				return;
			/* FALLTHROUGH */
		default:
			bufferevent_disable(hc->hc_bev, EV_READ);
			return;
		}
	}
}

/*
 * When the request in flight has its whole response written, free it and
 * make the connection ready for the next request (or start closing it).
 * Returns HTTP_FINISH_NEXT when the parser may go on, HTTP_FINISH_DRAIN
 * when only the last bytes of the response are still queued (the
 * drained callback comes back here), HTTP_FINISH_WAIT otherwise.
 */
static int
http_finish_request(struct http_conn *hc)
{
	struct request *r = hc->hc_req;
	struct evbuffer *out = bufferevent_get_output(hc->hc_bev);

	if (r == NULL || !(r->r_flags & REQ_F_REPLIED) ||
	    !(r->r_flags & REQ_F_COMPLETE) || (r->r_flags & REQ_F_HELD) ||
	    r->r_src_left > 0)
		return HTTP_FINISH_WAIT;
	/*
	 * Done when the last byte has left: then the access line can say
	 * what was sent and how long it took. Registry clients do not
	 * pipeline, so the next request waits for nothing. Meanwhile the
	 * connection may read, but only the write timeout applies: the
	 * rest may be a whole blob (evbuffer_add_file), which a slow client
	 * may take far longer than any read timeout to fetch.
	 */
	if (evbuffer_get_length(out) > 0) {
		if (!(r->r_flags & REQ_F_DRAINING)) {
			r->r_flags |= REQ_F_DRAINING;
			http_read_timeout(hc, 0);
		}
		return HTTP_FINISH_DRAIN;
	}
	http_log_request(r);
	if (hc->hc_state >= HTTP_CONN_CLOSE_AFTER_REPLY) {
		/*
		 * Lingering close: shut our side so the client reads the whole
		 * reply, then discard what it still sends until EOF, the
		 * read timeout or the overall cap (the header deadline's
		 * timer, free now: no request is in flight), instead of
		 * resetting the connection.
		 */
		struct timeval cap = {HTTP_LINGER_MAX, 0};

		http_conn_free_request(hc);
		hc->hc_paused = 0;
		http_conn_set_state(hc, HTTP_CONN_LINGER);
		shutdown(bufferevent_getfd(hc->hc_bev), SHUT_WR);
		http_read_timeout(hc, HTTP_LINGER_IDLE);
		evtimer_del(hc->hc_hdr_timer);
		evtimer_add(hc->hc_hdr_timer, &cap);
		bufferevent_enable(hc->hc_bev, EV_READ);
		return HTTP_FINISH_WAIT;
	}
	http_conn_free_request(hc);
	hc->hc_paused = 0;
	http_parser_pause(&hc->hc_parser, 0);
	http_read_timeout(hc, http_cfg->cf_idle_timeout);
	bufferevent_enable(hc->hc_bev, EV_READ);
	return HTTP_FINISH_NEXT;
}

/*
 * A reply was queued or output drained: unless the parser is running on
 * this connection right now (it will look when it returns), finish the
 * request and go on with buffered input.
 */
static void
http_maybe_resume(struct http_conn *hc)
{
	if (http_parsing == hc || !hc->hc_paused)
		return;
	if (http_finish_request(hc) == HTTP_FINISH_NEXT)
		http_conn_read(hc);
}

/* http_conn_drained: the output is below the low watermark. */
void
http_conn_drained(struct http_conn *hc)
{
	if (hc->hc_req != NULL && hc->hc_req->r_src_left > 0)
		http_source_refill(hc->hc_req);
	http_maybe_resume(hc);
}

/*
 * Top up the output with the next segments of a pulled body, so that at
 * most about HTTP_FILE_SEGMENT of it is in memory whatever its size
 * (libevent 2.1 would read a whole evbuffer_add_file segment into memory
 * when the bufferevent cannot sendfile). On a read error the body is cut
 * short and the connection closed: the client sees a short read, not
 * wrong bytes.
 */
static void
http_source_refill(struct request *r)
{
	struct evbuffer *out = bufferevent_get_output(r->r_hc->hc_bev);
	struct evbuffer_iovec v;
	size_t want;
	ssize_t n;

	while (
	    r->r_src_left > 0 && evbuffer_get_length(out) < HTTP_FILE_SEGMENT) {
		want = r->r_src_left < HTTP_FILE_SEGMENT ? (size_t)r->r_src_left
		                                         : HTTP_FILE_SEGMENT;
		if (evbuffer_reserve_space(out, (ev_ssize_t)want, &v, 1) < 1)
			goto fail;
		if (v.iov_len > want)
			v.iov_len = want;
		n = r->r_src.hs_read(r->r_src_arg, v.iov_base, v.iov_len,
		    r->r_src_off);
		if (n == -1 && errno == EAGAIN) {
			/* Nothing yet: http_source_wake goes on. */
			r->r_src_wait = 1;
			return;
		}
		if (n <= 0) {
			log_warn("%s: conn %u: read of %s", __func__,
			    r->r_hc->hc_id, http_path(r));
			goto fail;
		}
		v.iov_len = (size_t)n;
		if (evbuffer_commit_space(out, &v, 1) == -1)
			goto fail;
		r->r_body_queued += (uint64_t)n;
		r->r_src_off += (uint64_t)n;
		r->r_src_left -= (uint64_t)n;
	}
	if (r->r_src_left == 0)
		http_source_release(r);
	return;
fail:
	http_source_release(r);
	http_conn_set_state(r->r_hc, HTTP_CONN_CLOSE);
}

/*
 * http_source_wake: the source of the request's body has bytes again
 * (or an error) after hs_read said EAGAIN: send on. Not from within
 * hs_read.
 */
void
http_source_wake(struct request *r)
{
	struct http_conn *hc = r->r_hc;

	if (!r->r_src_wait || r->r_src_left == 0)
		return;
	r->r_src_wait = 0;
	/* What it queues drains through http_conn_drained as usual. */
	http_source_refill(r);
	/*
	 * A failed read closes the connection, which only the server does,
	 * from its own callbacks (STYLE O3). With nothing queued to write
	 * none would come (reading stops while a reply is out) and the
	 * client would wait for the rest of the body for ever: report it
	 * as the header deadline does.
	 */
	if (hc->hc_state == HTTP_CONN_CLOSE)
		bufferevent_trigger_event(hc->hc_bev,
		    BEV_EVENT_READING | BEV_EVENT_TIMEOUT,
		    BEV_TRIG_DEFER_CALLBACKS);
}

/*
 * http_body_pause: from a body callback, take no more of the body (the
 * connection stops reading) until http_body_resume, for a sink that
 * cannot take more now: the client feels TCP back-pressure. The chunk in
 * hand was taken. It is a hold (http_hold) from within the parser, which
 * http-parser allows from its data callbacks: it stops right after the
 * chunk and takes up the message where it stopped.
 */
void
http_body_pause(struct request *r)
{
	http_hold(r);
}

/*
 * http_body_resume: go on with the body after http_body_pause; from a
 * callback of the loop, never from within a body callback. r may be
 * gone after it returns (as after http_release).
 */
void
http_body_resume(struct request *r)
{
	http_release(r);
}

/* Release the request's body source, if any. */
static void
http_source_release(struct request *r)
{
	r->r_src_left = 0;
	r->r_src_wait = 0;
	if (r->r_src.hs_free != NULL)
		r->r_src.hs_free(r->r_src_arg);
	memset(&r->r_src, 0, sizeof(r->r_src));
	r->r_src_arg = NULL;
}

/* A file as a body source (TLS): the descriptor rides in the pointer. */
static ssize_t
http_fd_read(void *arg, void *buf, size_t len, uint64_t off)
{
	ssize_t n;

	do
		n = pread((int)(intptr_t)arg, buf, len, (off_t)off);
	while (n == -1 && errno == EINTR);
	return n;
}

static void
http_fd_free(void *arg)
{
	(void)close((int)(intptr_t)arg);
}

/*
 * http_hold: called from the dispatcher, stop parsing this request (its
 * body) until http_release, e.g. while credentials are checked on the
 * worker pool. The connection stops reading meanwhile. Holds nest (a
 * credential check, then a storage lookup): the last release goes on.
 */
void
http_hold(struct request *r)
{
	r->r_holds++;
	r->r_flags |= REQ_F_HELD;
	http_parser_pause(&r->r_hc->hc_parser, 1);
}

/*
 * http_release: go on with a held request: the handler has replied or
 * installed its body sink. Parses what is buffered. A held request is
 * never freed, replied or not, so the holder may release it after its
 * reply; r may be gone after this returns.
 */
void
http_release(struct request *r)
{
	struct http_conn *hc = r->r_hc;

	if (!(r->r_flags & REQ_F_HELD) || --r->r_holds > 0)
		return;
	r->r_flags &= ~REQ_F_HELD;
	http_after_dispatch(r);
	if (hc->hc_paused) {
		/*
		 * The whole request was in before the hold (a storage job
		 * after the body): finish it now if it was replied to.
		 */
		http_maybe_resume(hc);
		return;
	}
	http_parser_pause(&hc->hc_parser, 0);
	if (http_parsing == hc)
		return; /* released from within dispatch: parsing goes on */
	bufferevent_enable(hc->hc_bev, EV_READ);
	http_conn_read(hc);
}

/* ----------------------------------------------------------------------
 * What handlers read
 */

/* http_method: the request's method. */
enum http_method_id
http_method(const struct request *r)
{
	return r->r_method;
}

/* http_method_name: "GET", ... for logs. */
const char *
http_method_name(const struct request *r)
{
	/* Before the request line is parsed there is no method to name. */
	if (r->r_path == HTTP_NO_OFFSET && r->r_urllen == 0)
		return "-";
	return http_method_str(r->r_hc->hc_parser.method);
}

/* http_path: the path, without the query. */
const char *
http_path(const struct request *r)
{
	return r->r_path == HTTP_NO_OFFSET ? "" : r->r_buf + r->r_path;
}

/* http_query: the raw query, "" when none. */
const char *
http_query(const struct request *r)
{
	return r->r_query == HTTP_NO_OFFSET ? "" : r->r_buf + r->r_query;
}

/* http_header: the (joined) value of a request header, or NULL. */
const char *
http_header(const struct request *r, const char *name)
{
	int i;

	for (i = 0; i < r->r_nheaders; i++)
		if (r->r_hname[i] != HTTP_NO_OFFSET &&
		    strcasecmp(r->r_buf + r->r_hname[i], name) == 0)
			return r->r_buf + r->r_hvalue[i];
	return NULL;
}

/* http_has_body: 1 when a body follows the headers. */
int
http_has_body(const struct request *r)
{
	return r->r_chunked || r->r_content_length > 0;
}

/* http_content_length: the Content-Length, -1 when none. */
int64_t
http_content_length(const struct request *r)
{
	return r->r_content_length;
}

/* http_peer_addr: the IP address of the connection's peer. */
const char *
http_peer_addr(const struct request *r)
{
	return r->r_hc->hc_addr;
}

/*
 * http_set_client: the client address the access line shows. The peer
 * itself stays "addr:port", as registry:2 logs it; a client behind a
 * proxy is its address alone.
 */
void
http_set_client(struct request *r, const char *addr)
{
	if (strcmp(addr, r->r_hc->hc_addr) != 0)
		util_strlcpy(r->r_client, addr, sizeof(r->r_client));
}

/*
 * http_set_user: the user name for the access line and the upload
 * _state. auth.c accepts names of at most AUTH_USER_MAX - 1 bytes, so a
 * longer one is a broken invariant: then the request stays anonymous
 * rather than take a prefix another user may share.
 */
void
http_set_user(struct request *r, const char *user)
{
	if (util_strlcpy(r->r_user, user, sizeof(r->r_user)) >=
	    sizeof(r->r_user)) {
		log_warnx("%s: user name of %zu bytes: not kept", __func__,
		    strlen(user));
		r->r_user[0] = '\0';
	}
}

/* http_user: the authenticated user, "" when anonymous. */
const char *
http_user(const struct request *r)
{
	return r->r_user;
}

/* http_conn_id: the connection's number, for debug lines. */
unsigned int
http_conn_id(const struct request *r)
{
	return r->r_hc->hc_id;
}

/* http_set_ctx: one pointer of handler state. */
void
http_set_ctx(struct request *r, void *ctx)
{
	r->r_ctx = ctx;
}

/* http_ctx: the handler state. */
void *
http_ctx(const struct request *r)
{
	return r->r_ctx;
}

/* http_set_cleanup: run cb when the request is freed. */
void
http_set_cleanup(struct request *r, http_cleanup_cb cb)
{
	r->r_cleanup_cb = cb;
}

/*
 * http_set_route: the route name the metrics count r under (a string
 * constant); r is in flight under it until it is freed.
 */
void
http_set_route(struct request *r, const char *name)
{
	if (r->r_route != NULL)
		metrics_in_flight(r->r_route, -1);
	r->r_route = name;
	if (name != NULL)
		metrics_in_flight(name, 1);
}

/* http_log_digest: the digest for the access line. */
void
http_log_digest(struct request *r, const char *digest)
{
	util_strlcpy(r->r_digest, digest, sizeof(r->r_digest));
}

/*
 * http_body_sink: accept the body; tell a waiting client to send it.
 * OCI clients rarely use Expect, curl does for large bodies.
 */
void
http_body_sink(struct request *r, http_body_cb body, http_end_cb end)
{
	const char *expect;

	r->r_body_cb = body;
	r->r_end_cb = end;
	expect = http_header(r, "Expect");
	if (expect != NULL && strcasecmp(expect, "100-continue") == 0 &&
	    !(r->r_flags & REQ_F_CONTINUE_SENT) && http_has_body(r)) {
		r->r_flags |= REQ_F_CONTINUE_SENT;
		bufferevent_write(r->r_hc->hc_bev,
		    "HTTP/1.1 100 Continue\r\n\r\n", 25);
	}
}

/* ----------------------------------------------------------------------
 * Responses
 */

/* http_replied: 1 once a response is queued. */
int
http_replied(const struct request *r)
{
	return (r->r_flags & REQ_F_REPLIED) != 0;
}

/*
 * http_add_header: one more response header. A format that is text around
 * at most one "%s" (most of them) is copied rather than printed: printf
 * was a fifth of a small request's instructions (bench row 5b).
 */
void
http_add_header(struct request *r, const char *name, const char *fmt, ...)
{
	const char *conv = strchr(fmt, '%'), *arg;
	va_list ap;

	evbuffer_add(r->r_headers, name, strlen(name));
	evbuffer_add(r->r_headers, ": ", 2);
	va_start(ap, fmt);
	if (conv == NULL)
		evbuffer_add(r->r_headers, fmt, strlen(fmt));
	else if (conv[1] == 's' && strchr(conv + 2, '%') == NULL) {
		/* printf's "(null)" rather than a crash. */
		if ((arg = va_arg(ap, const char *)) == NULL)
			arg = "(null)";
		evbuffer_add(r->r_headers, fmt, (size_t)(conv - fmt));
		evbuffer_add(r->r_headers, arg, strlen(arg));
		evbuffer_add(r->r_headers, conv + 2, strlen(conv + 2));
	} else
		evbuffer_add_vprintf(r->r_headers, fmt, ap);
	va_end(ap);
	evbuffer_add(r->r_headers, "\r\n", 2);
}

static const char *
http_reason(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Payload Too Large";
	case 414:
		return "URI Too Long";
	case 416:
		return "Range Not Satisfiable";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	case 507:
		return "Insufficient Storage";
	default:
		return "Unknown";
	}
}

/*
 * The fixed lines of a response head, gathered on the stack and added to
 * the output in as few pieces as they fit in: each add to the output runs
 * its callbacks, and printf per line cost more than the request itself.
 */
#define HTTP_HEAD_BUF 512 /* a usual head fits; more is flushed */

struct http_head {
	struct evbuffer *hh_out;
	size_t hh_len;
	char hh_buf[HTTP_HEAD_BUF];
};

static void
http_head_flush(struct http_head *h)
{
	if (h->hh_len > 0)
		evbuffer_add(h->hh_out, h->hh_buf, h->hh_len);
	h->hh_len = 0;
}

static void
http_head_put(struct http_head *h, const char *s, size_t len)
{
	if (len > sizeof(h->hh_buf) - h->hh_len) {
		http_head_flush(h);
		if (len > sizeof(h->hh_buf)) {
			evbuffer_add(h->hh_out, s, len);
			return;
		}
	}
	memcpy(h->hh_buf + h->hh_len, s, len);
	h->hh_len += len;
}

static void
http_head_str(struct http_head *h, const char *s)
{
	http_head_put(h, s, strlen(s));
}

static void
http_head_u64(struct http_head *h, uint64_t v)
{
	char digits[20];
	size_t n = sizeof(digits);

	do
		digits[--n] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	http_head_put(h, digits + n, sizeof(digits) - n);
}

/*
 * The Date header's value ("Mon, 30 Nov 2026 18:39:03 GMT"), formatted
 * once a second: every response carries it. Static, so the loop's thread
 * only: replies are made there, never in a pool worker (pool.c).
 */
static const char *
http_date(void)
{
	static char date[64];
	static time_t last = -1;
	time_t now = time(NULL);
	struct tm tm;

	if (now != last) {
		gmtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		last = now;
	}
	return date;
}

/*
 * Queue the status line and headers. has_length says whether a
 * Content-Length is sent (never for 1xx, 204 and 304).
 */
static void
http_write_head(struct request *r, int status, const char *content_type,
    uint64_t length, int has_length)
{
	struct http_conn *hc = r->r_hc;
	struct evbuffer *out = bufferevent_get_output(hc->hc_bev);
	size_t before = evbuffer_get_length(out);
	struct http_head h;
	int i;

	r->r_flags |= REQ_F_REPLIED;
	r->r_status = status;
	h.hh_out = out;
	h.hh_len = 0;
	http_head_str(&h, "HTTP/1.1 ");
	http_head_u64(&h, (uint64_t)status);
	http_head_str(&h, " ");
	http_head_str(&h, http_reason(status));
	http_head_str(&h, "\r\nDate: ");
	http_head_str(&h, http_date());
	http_head_str(&h,
	    "\r\nDocker-Distribution-Api-Version: registry/2.0\r\n");
	for (i = 0; i < http_cfg->cf_nheaders; i++) {
		http_head_str(&h, http_cfg->cf_headers[i].ch_name);
		http_head_str(&h, ": ");
		http_head_str(&h, http_cfg->cf_headers[i].ch_value);
		http_head_str(&h, "\r\n");
	}
	if (content_type != NULL) {
		http_head_str(&h, "Content-Type: ");
		http_head_str(&h, content_type);
		http_head_str(&h, "\r\n");
	}
	if (has_length) {
		http_head_str(&h, "Content-Length: ");
		http_head_u64(&h, length);
		http_head_str(&h, "\r\n");
	}
	if (hc->hc_state >= HTTP_CONN_CLOSE_AFTER_REPLY)
		http_head_str(&h, "Connection: close\r\n");
	http_head_flush(&h);
	evbuffer_add(r->r_headers, "\r\n", 2);
	evbuffer_add_buffer(out, r->r_headers);
	r->r_bytes_out = length;
	r->r_head_len = evbuffer_get_length(out) - before;
	r->r_body_want = has_length && r->r_method != HTTP_M_HEAD ? length : 0;
}

/*
 * Body bytes of r's response that have left: written to the socket (or
 * to TLS), whatever the client has read of them. Bytes of the response
 * still in the output have not. *whole says whether all of the response
 * the head announced has left.
 */
static uint64_t
http_body_sent(const struct request *r, int *whole)
{
	struct evbuffer *out = bufferevent_get_output(r->r_hc->hc_bev);
	uint64_t ours = r->r_head_len + r->r_body_queued;
	uint64_t left = evbuffer_get_length(out), sent, body;

	*whole = 0;
	if (!(r->r_flags & REQ_F_REPLIED))
		return 0;
	sent = ours - (left < ours ? left : ours);
	body = sent > r->r_head_len ? sent - r->r_head_len : 0;
	*whole = sent == ours && r->r_src_left == 0 && body >= r->r_body_want;
	return body;
}

/*
 * The access line of r and its count in the metrics, once, just before
 * it is freed: client (the peer's "addr:port", or the address behind a
 * trusted proxy as the dispatcher set it), method, path, status,
 * body bytes sent, time from the request's first byte until the last
 * byte of the response left (or the connection closed), user, digest.
 * When the response has not gone out whole (the connection closed first,
 * or its body could not be read), the line says how much was sent and
 * ends in "aborted"; a request never answered gets status 499 (as nginx
 * logs a client that went away). Only requests that were dispatched or
 * answered have a line: a connection that never completed a request head
 * has none.
 */
static void
http_log_request(struct request *r)
{
	const char *path = http_path(r);
	struct log_request lr;
	struct metrics_request mr;
	uint64_t body, us;
	int whole;

	if (!(r->r_flags & (REQ_F_REPLIED | REQ_F_DISPATCHED)))
		return;
	body = http_body_sent(r, &whole);
	lr.lr_client = r->r_client;
	lr.lr_method = http_method_name(r);
	lr.lr_path = path[0] != '\0' ? path : "-";
	lr.lr_status =
	    (r->r_flags & REQ_F_REPLIED) ? r->r_status : HTTP_STATUS_LOST;
	lr.lr_bytes = (unsigned long long)body;
	us = util_now_us() - r->r_start_us;
	lr.lr_ms = (unsigned long long)(us / 1000);
	lr.lr_user = r->r_user;
	lr.lr_digest = r->r_digest;
	lr.lr_aborted = !whole;
	log_access(&lr);
	mr.mr_handler = r->r_route;
	mr.mr_method = lr.lr_method;
	mr.mr_status = lr.lr_status;
	mr.mr_bytes_in = r->r_body_in;
	mr.mr_bytes_out = body;
	mr.mr_usec = us;
	metrics_request(&mr);
}

/*
 * A reply made before the whole body arrived, when the body cannot be
 * discarded cheaply, must say that the connection closes.
 */
static void
http_early_close_check(struct request *r)
{
	struct http_conn *hc = r->r_hc;
	const char *expect;

	if ((r->r_flags & REQ_F_COMPLETE) || !http_has_body(r))
		return;
	expect = http_header(r, "Expect");
	if ((expect != NULL && strcasecmp(expect, "100-continue") == 0 &&
	        !(r->r_flags & REQ_F_CONTINUE_SENT)) ||
	    r->r_chunked || r->r_content_length > HTTP_DISCARD_MAX)
		http_conn_set_state(hc, HTTP_CONN_CLOSE_AFTER_REPLY);
}

/*
 * A complete response with an in-memory body, copied or (take) taken
 * over: the one place that decides, for both, when no body goes out
 * (HEAD, 204, 304, nothing to send), whether the connection closes after
 * an early reply, and when reading resumes. A body taken over is freed
 * here unless the output buffer holds it.
 */
static void
http_reply_mem(struct request *r, int status, const char *content_type,
    const void *body, size_t len, int take)
{
	struct evbuffer *out = bufferevent_get_output(r->r_hc->hc_bev);
	int no_body = status == 204 || status == 304, rv = -1;

	if (!(r->r_flags & REQ_F_REPLIED)) {
		http_early_close_check(r);
		http_write_head(r, status, content_type, len, !no_body);
		if (r->r_method != HTTP_M_HEAD && !no_body && len > 0)
			rv = take ? evbuffer_add_reference(out, body, len,
			                http_free_cb, NULL)
			          : evbuffer_add(out, body, len);
		if (rv == 0)
			r->r_body_queued = len;
		if (r->r_flags & REQ_F_COMPLETE)
			http_maybe_resume(r->r_hc);
	}
	if (take && rv != 0)
		free((void *)body);
}

/* http_reply: a complete response with an in-memory body (copied). */
void
http_reply(struct request *r, int status, const char *content_type,
    const void *body, size_t len)
{
	http_reply_mem(r, status, content_type, body, len, 0);
}

static void
http_free_cb(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

/*
 * http_reply_take: http_reply of a body from malloc that the response
 * takes over: the output buffer refers to it, freed once sent, rather
 * than holding a copy (a listing of 100 000 tags is megabytes).
 */
void
http_reply_take(struct request *r, int status, const char *content_type,
    char *body, size_t len)
{
	http_reply_mem(r, status, content_type, body, len, 1);
}

/*
 * http_reply_file: a response whose body is length bytes of fd from
 * offset. evbuffer_add_file sends it with sendfile(2) on plain TCP and
 * closes fd when done; over TLS it is pulled like any source. It owns fd
 * from here on in every case.
 */
void
http_reply_file(struct request *r, int status, const char *content_type, int fd,
    uint64_t offset, uint64_t length)
{
	static const struct http_source fd_source = {http_fd_read,
	    http_fd_free};
	struct evbuffer *out = bufferevent_get_output(r->r_hc->hc_bev);

	if (r->r_hc->hc_flags & HTTP_CONN_F_TLS) {
		http_reply_source(r, status, content_type, &fd_source,
		    (void *)(intptr_t)fd, offset, length);
		return;
	}
	if (r->r_flags & REQ_F_REPLIED) {
		close(fd);
		return;
	}
	http_early_close_check(r);
	http_write_head(r, status, content_type, length, 1);
	if (r->r_method == HTTP_M_HEAD || length == 0)
		close(fd);
	else if (evbuffer_add_file(out, fd, (ev_off_t)offset,
	             (ev_off_t)length) == -1) {
		/* Headers are out; the client sees a short body. */
		log_warnx("%s: conn %u: evbuffer_add_file failed", __func__,
		    r->r_hc->hc_id);
		close(fd);
		http_conn_set_state(r->r_hc, HTTP_CONN_CLOSE_AFTER_REPLY);
	} else
		r->r_body_queued = length;
	if (r->r_flags & REQ_F_COMPLETE)
		http_maybe_resume(r->r_hc);
}

/* http_reply_head: see http.h; a blob HEAD opens no file (bench row 5b). */
void
http_reply_head(struct request *r, int status, const char *content_type,
    uint64_t length)
{
	if (r->r_method != HTTP_M_HEAD) {
		log_warnx("%s: conn %u: not a HEAD", __func__, r->r_hc->hc_id);
		http_error(r, 500, "UNKNOWN", NULL);
		return;
	}
	/* No body goes out for a HEAD: the length alone is written. */
	http_reply_mem(r, status, content_type, NULL, (size_t)length, 0);
}

/*
 * http_reply_source: a response whose body is length bytes pulled from
 * src at offset, HTTP_FILE_SEGMENT at a time as the output drains. It
 * owns arg from here on in every case (src->hs_free releases it).
 */
void
http_reply_source(struct request *r, int status, const char *content_type,
    const struct http_source *src, void *arg, uint64_t offset, uint64_t length)
{
	if (r->r_flags & REQ_F_REPLIED) {
		src->hs_free(arg);
		return;
	}
	http_early_close_check(r);
	http_write_head(r, status, content_type, length, 1);
	r->r_src = *src;
	r->r_src_arg = arg;
	r->r_src_off = offset;
	r->r_src_left = r->r_method == HTTP_M_HEAD ? 0 : length;
	if (r->r_src_left > 0)
		http_source_refill(r);
	else
		http_source_release(r);
	if (r->r_flags & REQ_F_COMPLETE)
		http_maybe_resume(r->r_hc);
}

/* The spec's message for an error code (OCI distribution-spec, errors). */
static const char *
http_error_message(const char *code)
{
	static const struct {
		const char *code, *message;
	} table[] = {
	    {"BLOB_UNKNOWN", "blob unknown to registry"},
	    {"BLOB_UPLOAD_INVALID", "blob upload invalid"},
	    {"BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry"},
	    {"DIGEST_INVALID",
	        "provided digest did not match uploaded content"},
	    {"MANIFEST_BLOB_UNKNOWN",
	        "manifest references a manifest or blob unknown to "
	        "registry"},
	    {"MANIFEST_INVALID", "manifest invalid"},
	    {"MANIFEST_UNKNOWN", "manifest unknown to registry"},
	    {"NAME_INVALID", "invalid repository name"},
	    {"NAME_UNKNOWN", "repository name not known to registry"},
	    {"SIZE_INVALID",
	        "provided length did not match content "
	        "length"},
	    {"TAG_INVALID", "manifest tag did not match URI"},
	    {"UNAUTHORIZED", "authentication required"},
	    {"DENIED", "requested access to the resource is denied"},
	    {"UNSUPPORTED", "the operation is unsupported"},
	    {"TOOMANYREQUESTS", "too many requests"},
	    {"PAGINATION_NUMBER_INVALID",
	        "invalid number of results "
	        "requested"},
	    {"RANGE_INVALID", "invalid content range"},
	    {"NOT_FOUND", "not found"},
	    {"BAD_REQUEST", "malformed request"},
	    {"HEADER_TOO_LARGE", "request headers too large"},
	    {"URI_TOO_LONG", "request URI too long"},
	    {"UNAVAILABLE", "service unavailable"},
	};
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].code, code) == 0)
			return table[i].message;
	return "unknown error";
}

/*
 * The OCI error body of code and detail ("" or NULL: none), malloc'd, or
 * NULL when out of memory.
 */
static char *
http_error_body(const char *code, const char *detail)
{
	json_t *root, *err;
	char *body;

	err = json_pack("{s:s, s:s}", "code", code, "message",
	    http_error_message(code));
	if (err != NULL && detail != NULL && detail[0] != '\0')
		json_object_set_new(err, "detail", json_string(detail));
	root = json_pack("{s:[o]}", "errors", err);
	body = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	return body;
}

/*
 * http_refusal: a whole response of status with the OCI error body of
 * code and detail, saying the connection closes, into buf[size]: what
 * the server sends on a connection it refuses to serve, before any
 * request (so nothing of one is echoed). The usual headers (Date, API
 * version, [headers]) are there. Returns its length, or -1 when it does
 * not fit or memory ran out.
 */
int
http_refusal(char *buf, size_t size, int status, const char *code,
    const char *detail)
{
	char date[64], *body;
	struct tm tm;
	time_t now = time(NULL);
	size_t len;
	int i, n;

	if ((body = http_error_body(code, detail)) == NULL)
		return -1;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	n = snprintf(buf, size,
	    "HTTP/1.1 %d %s\r\n"
	    "Date: %s\r\n"
	    "Docker-Distribution-Api-Version: registry/2.0\r\n",
	    status, http_reason(status), date);
	for (i = 0; i < http_cfg->cf_nheaders && n >= 0 && (size_t)n < size;
	     i++)
		n += snprintf(buf + n, size - (size_t)n, "%s: %s\r\n",
		    http_cfg->cf_headers[i].ch_name,
		    http_cfg->cf_headers[i].ch_value);
	len = strlen(body);
	if (n >= 0 && (size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n,
		    "Content-Type: application/json; charset=utf-8\r\n"
		    "Content-Length: %zu\r\n"
		    "Connection: close\r\n\r\n%s",
		    len, body);
	free(body);
	return n >= 0 && (size_t)n < size ? n : -1;
}

/*
 * http_error: an OCI error response. The detail of a 5xx is logged, not
 * sent: it may name paths or system errors.
 */
void
http_error(struct request *r, int status, const char *code, const char *fmt,
    ...)
{
	char detail[512] = "";
	char *body;
	va_list ap;

	if (r->r_flags & REQ_F_REPLIED)
		return;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	if (status >= 500) {
		log_warnx("%s %s: %d %s: %s", http_method_name(r), http_path(r),
		    status, code, detail);
		util_strlcpy(detail, "", sizeof(detail));
	}
	if ((body = http_error_body(code, detail)) == NULL) {
		http_reply(r, status, "application/json", "{\"errors\":[]}",
		    13);
		return;
	}
	http_reply(r, status, "application/json; charset=utf-8", body,
	    strlen(body));
	free(body);
}
