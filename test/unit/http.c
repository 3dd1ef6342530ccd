/*
 * Unit tests of the HTTP request layer: every fixture is fed to a
 * connection through a bufferevent pair at every possible split point,
 * and the responses must come out the same whatever the split. The
 * dispatcher is test_dispatch, given to http_init, so this test links
 * http.c with util.c and log.c only.
 */
#include "../../src/http.c"

#include <event2/bufferevent.h>

#include "tap.h"

/* ---- the dispatcher ---- */

static int test_dispatched;
static char test_body[4096];
static size_t test_bodylen;
static int test_body_calls;

static int
test_body_cb(struct request *r, const char *p, size_t len)
{
	(void)r;
	test_body_calls++;
	if (test_bodylen + len > sizeof(test_body))
		return -1;
	memcpy(test_body + test_bodylen, p, len);
	test_bodylen += len;
	return 0;
}

static void
test_end_cb(struct request *r)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "got %zu", test_bodylen);
	http_reply(r, 201, "text/plain", msg, strlen(msg));
}

/*
 * The end of a /trailer body: what X-T and Content-Type read as once the
 * whole message, trailers included, is in.
 */
static void
test_trailer_end_cb(struct request *r)
{
	const char *t = http_header(r, "x-t"), *ct = http_header(r,
	    "content-type");
	char msg[128];

	snprintf(msg, sizeof(msg), "x-t=%s ct=%s", t ? t : "none",
	    ct ? ct : "none");
	http_reply(r, 201, "text/plain", msg, strlen(msg));
}

/*
 * /pause: a sink that cannot take more after each chunk (a network
 * store's part buffers full): it pauses the body and resumes it from an
 * event of the loop, as api_uploads does with the store's wake.
 */
static struct event *test_resume_ev;
static struct request *test_paused;
static int test_pauses;

static void
test_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct request *r = test_paused;

	(void)fd;
	(void)what;
	(void)arg;
	test_paused = NULL;
	if (r != NULL)
		http_body_resume(r);
}

static int
test_pause_cb(struct request *r, const char *p, size_t len)
{
	if (test_body_cb(r, p, len) == -1)
		return -1;
	test_pauses++;
	test_paused = r;
	http_body_pause(r);
	event_active(test_resume_ev, EV_TIMEOUT, 1);
	return 0;
}

/*
 * /src: a body from a source that has nothing at first (a network
 * store's reader, EAGAIN) and wakes the request from the loop; then it
 * gives "hello" (test_src_fail 0) or fails (1).
 */
static struct event *test_wake_ev;
static struct request *test_src_req;
static int test_src_fail, test_src_calls;

static void
test_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (test_src_req != NULL)
		http_source_wake(test_src_req);
}

static ssize_t
test_src_read(void *arg, void *buf, size_t len, uint64_t off)
{
	(void)arg;
	/*
	 * Nothing for the first read (with the head) nor for the one once
	 * the head is out (the output drained), which wakes the request
	 * from the loop: the output is empty when the wake comes.
	 */
	if (test_src_calls++ < 2) {
		if (test_src_calls == 2)
			event_active(test_wake_ev, EV_TIMEOUT, 1);
		errno = EAGAIN;
		return -1;
	}
	if (test_src_fail) {
		errno = EIO;
		return -1;
	}
	if (len > 5 - off)
		len = 5 - off;
	memcpy(buf, "hello" + off, len);
	return (ssize_t)len;
}

static void
test_src_free(void *arg)
{
	(void)arg;
	test_src_req = NULL;
}

static void
test_dispatch(struct request *r)
{
	const char *a;

	test_dispatched++;
	if (strcmp(http_path(r), "/sink") == 0) {
		test_bodylen = 0;
		http_body_sink(r, test_body_cb, test_end_cb);
	} else if (strcmp(http_path(r), "/src") == 0) {
		static const struct http_source src = {test_src_read,
		    test_src_free};

		test_src_req = r;
		http_reply_source(r, 200, "text/plain", &src, NULL, 0, 5);
	} else if (strcmp(http_path(r), "/pause") == 0) {
		test_bodylen = 0;
		http_body_sink(r, test_pause_cb, test_end_cb);
	} else if (strcmp(http_path(r), "/trailer") == 0) {
		test_bodylen = 0;
		http_body_sink(r, test_body_cb, test_trailer_end_cb);
	} else if (strcmp(http_path(r), "/early") == 0)
		http_error(r, 404, "BLOB_UNKNOWN", NULL);
	else if (strcmp(http_path(r), "/take") == 0 ||
	    strcmp(http_path(r), "/take204") == 0) {
		/* A body handed over (http_reply_take): freed when sent. */
		a = http_query(r);
		http_reply_take(r, http_path(r)[5] == '2' ? 204 : 200,
		    "text/plain", strdup(a), strlen(a));
	} else if (strcmp(http_path(r), "/hdr") == 0) {
		/* Each shape of format http_add_header copies or prints. */
		http_add_header(r, "X-Lit", "plain");
		http_add_header(r, "X-S", "%s", "v");
		http_add_header(r, "X-Wrap", "\"%s\"", "sha256:x");
		http_add_header(r, "X-Num", "n=%d", 42);
		http_add_header(r, "X-Pct", "%s%%", "50");
		http_reply(r, 200, "text/plain", "ok", 2);
	} else if (strcmp(http_path(r), "/headlen") == 0)
		http_reply_head(r, 200, "application/octet-stream",
		    12345678901ULL);
	else if (strcmp(http_path(r), "/accept") == 0) {
		a = http_header(r, "accept");
		http_reply(r, 200, "text/plain", a ? a : "-",
		    a ? strlen(a) : 1);
	} else {
		a = http_query(r);
		http_reply(r, 200, "text/plain", a, strlen(a));
	}
}

/* ---- harness ---- */

static struct event_base *base;
static struct config cfg;

static void
test_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	http_conn_read(arg);
}

static void
test_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	http_conn_drained(arg);
}

static void
test_spin(void)
{
	int i;

	for (i = 0; i < 20; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

/*
 * Feed in[0..len) in two writes split at split, or one byte per write
 * when split is TEST_BYTEWISE; return what the server wrote back
 * (malloc'd, NUL-terminated) and the connection's state.
 */
#define TEST_BYTEWISE ((size_t)-1)
static char *
test_run(const char *in, size_t len, size_t split, enum http_conn_state *st)
{
	struct bufferevent *pair[2];
	struct http_conn *hc;
	struct evbuffer *out;
	char *resp;
	size_t n;

	if (bufferevent_pair_new(base, 0, pair) == -1)
		return NULL;
	if ((hc = http_conn_new(pair[0], 1, "127.0.0.1:1", "127.0.0.1",
	    0)) == NULL) {
		bufferevent_free(pair[0]);
		bufferevent_free(pair[1]);
		return NULL;
	}
	bufferevent_setcb(pair[0], test_read_cb, test_write_cb, NULL, hc);
	bufferevent_enable(pair[0], EV_READ | EV_WRITE);
	bufferevent_enable(pair[1], EV_READ | EV_WRITE);
	if (split == TEST_BYTEWISE) {
		for (n = 0; n < len; n++) {
			bufferevent_write(pair[1], in + n, 1);
			test_spin();
		}
	} else {
		bufferevent_write(pair[1], in, split);
		test_spin();
		bufferevent_write(pair[1], in + split, len - split);
		test_spin();
	}
	out = bufferevent_get_input(pair[1]);
	n = evbuffer_get_length(out);
	resp = malloc(n + 1);
	evbuffer_remove(out, resp, n);
	resp[n] = '\0';
	*st = http_conn_state(hc);
	http_conn_free(hc);
	bufferevent_free(pair[0]);
	bufferevent_free(pair[1]);
	return resp;
}

/*
 * The server's side of a connection as far as the test sees it: the
 * events the bufferevent reports (the server closes on any of them).
 */
static short test_events;

static void
test_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)arg;
	test_events |= what;
}

/*
 * GET /src with the source failing (fail) or not after its wake: what
 * the client got, and whether the connection reported an event for the
 * server to close it (only the server closes, from its callbacks).
 */
static char *
test_src_run(int fail, enum http_conn_state *st)
{
	static const char req[] = "GET /src HTTP/1.1\r\nHost: h\r\n\r\n";
	struct bufferevent *pair[2];
	struct http_conn *hc;
	struct evbuffer *out;
	char *resp;
	size_t n;

	test_src_fail = fail;
	test_src_calls = 0;
	test_events = 0;
	if (bufferevent_pair_new(base, 0, pair) == -1)
		return NULL;
	if ((hc = http_conn_new(pair[0], 1, "127.0.0.1:1", "127.0.0.1",
	    0)) == NULL) {
		bufferevent_free(pair[0]);
		bufferevent_free(pair[1]);
		return NULL;
	}
	bufferevent_setcb(pair[0], test_read_cb, test_write_cb,
	    test_event_cb, hc);
	bufferevent_enable(pair[0], EV_READ | EV_WRITE);
	bufferevent_enable(pair[1], EV_READ | EV_WRITE);
	bufferevent_write(pair[1], req, sizeof(req) - 1);
	test_spin();
	test_spin();
	out = bufferevent_get_input(pair[1]);
	n = evbuffer_get_length(out);
	resp = malloc(n + 1);
	evbuffer_remove(out, resp, n);
	resp[n] = '\0';
	*st = http_conn_state(hc);
	http_conn_free(hc);
	bufferevent_free(pair[0]);
	bufferevent_free(pair[1]);
	return resp;
}

/* Count occurrences of needle in hay. */
static int
test_count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/*
 * 1 when a response shows http-parser's own words (an errno's
 * description such as "invalid character in header", "the on_url callback
 * failed"): error details are registryd's, never the parser's internals.
 */
static int
test_parser_words(const char *resp)
{
	int e;

	for (e = HPE_OK + 1; e <= HPE_INVALID_TRANSFER_ENCODING; e++)
		if (strstr(resp, http_errno_description(e)) != NULL)
			return 1;
	return 0;
}

/*
 * A body of 1500 bytes (two chunks of 750 when chunked), mostly bare CRs
 * when crs, else letters, to the sink in one write; as test_run.
 */
static char *
test_crlf_body(int chunked, int crs, enum http_conn_state *st)
{
	static char req[4096];
	char data[1500];
	size_t i, n;

	for (i = 0; i < sizeof(data); i++)
		data[i] = crs && i % 3 ? '\r' : (char)('a' + i % 26);
	if (!chunked) {
		n = (size_t)snprintf(req, sizeof(req), "PUT /sink HTTP/1.1\r\n"
		    "Host: h\r\nContent-Length: 1500\r\n\r\n");
		memcpy(req + n, data, sizeof(data));
		n += sizeof(data);
	} else {
		n = (size_t)snprintf(req, sizeof(req), "PATCH /sink HTTP/1.1"
		    "\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "2ee\r\n");
		memcpy(req + n, data, 750);
		n += 750;
		n += (size_t)snprintf(req + n, sizeof(req) - n, "\r\n2ee\r\n");
		memcpy(req + n, data + 750, 750);
		n += 750;
		n += (size_t)snprintf(req + n, sizeof(req) - n, "\r\n0\r\n\r\n");
	}
	return test_run(req, n, 0, st);
}

struct fixture {
	const char	*name;
	const char	*in;
	const char	*want[4];	/* substrings in order of the response */
	int		 count;		/* expected number of "HTTP/1.1 " */
	int		 close;		/* expect a state other than open */
};

int
main(void)
{
	static char big[HTTP_MAX_HEADER_BYTES + 256];
	static char longurl[HTTP_MAX_URL + 256];
	const struct fixture fx[] = {
		{ "simple GET", "GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "HTTP/1.1 200 OK", "Docker-Distribution-Api-Version: "
		    "registry/2.0", "\r\n\r\nx=1" }, 1, 0 },
		{ "pipelined GETs answered in order",
		    "GET /a?first HTTP/1.1\r\nHost: h\r\n\r\n"
		    "GET /a?second HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "first", "second" }, 2, 0 },
		{ "HEAD has Content-Length and no body",
		    "HEAD /a?abc HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "Content-Length: 3\r\n" }, 1, 0 },
		{ "header formats: literal, %s, text around %s, printf",
		    "GET /hdr HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "\r\nX-Lit: plain\r\nX-S: v\r\nX-Wrap: \"sha256:x\"\r\n"
		      "X-Num: n=42\r\nX-Pct: 50%", "\r\n\r\nok" }, 1, 0 },
		{ "HEAD answered with a length only (http_reply_head)",
		    "HEAD /headlen HTTP/1.1\r\nHost: h\r\n\r\n"
		    "GET /a?next HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "HTTP/1.1 200 OK\r\nDate: ",
		      "Content-Length: 12345678901\r\n\r\nHTTP/1.1 200",
		      "\r\n\r\nnext" }, 2, 0 },
		{ "http_reply_head on a GET is a 500, not a body announced",
		    "GET /headlen HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "HTTP/1.1 500 " }, 1, 0 },
		{ "a body handed over (http_reply_take)",
		    "GET /take?xyz HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "Content-Length: 3\r\n\r\nxyz" }, 1, 0 },
		{ "HEAD of a body handed over: its length, not its bytes",
		    "HEAD /take?abc HTTP/1.1\r\nHost: h\r\n\r\n"
		    "GET /a?next HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "Content-Length: 3\r\n\r\nHTTP/1.1 200", "\r\n\r\nnext" },
		    2, 0 },
		{ "204 with a body handed over: no body",
		    "GET /take204?abc HTTP/1.1\r\nHost: h\r\n\r\n"
		    "GET /a?next HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "HTTP/1.1 204", "\r\n\r\nHTTP/1.1 200", "\r\n\r\nnext" },
		    2, 0 },
		{ "Content-Length body into a sink",
		    "PUT /sink HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"
		    "hello",
		    { "201 Created", "got 5" }, 1, 0 },
		{ "chunked body into a sink",
		    "PATCH /sink HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n",
		    { "201 Created", "got 7" }, 1, 0 },
		{ "body then pipelined request",
		    "PUT /sink HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n"
		    "hi"
		    "GET /a?after HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "got 2", "after" }, 2, 0 },
		{ "Expect: 100-continue",
		    "PUT /sink HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
		    "Content-Length: 3\r\n\r\nabc",
		    { "HTTP/1.1 100 Continue\r\n\r\n", "201 Created",
		    "got 3" }, 2, 0 },
		{ "early reply discards a small body",
		    "PUT /early HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\n"
		    "abcd"
		    "GET /a?next HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "404 Not Found", "BLOB_UNKNOWN", "next" }, 2, 0 },
		{ "repeated headers are joined",
		    "GET /accept HTTP/1.1\r\nHost: h\r\nAccept: a/b\r\n"
		    "Accept: c/d\r\n\r\n",
		    { "a/b, c/d" }, 1, 0 },
		{ "three repeated headers, long enough to move the arena",
		    "GET /accept HTTP/1.1\r\nAccept: application/vnd.oci.image."
		    "index.v1+json\r\nHost: h\r\nAccept: application/vnd.oci."
		    "image.manifest.v1+json\r\nAccept: application/vnd.docker."
		    "distribution.manifest.v2+json\r\n\r\n",
		    { "index.v1+json, application/vnd.oci.image.manifest.v1+"
		    "json, application/vnd.docker.distribution.manifest.v2+"
		    "json" }, 1, 0 },
		{ "Content-Length with Transfer-Encoding is refused",
		    "PUT /sink HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		    { "400 Bad Request", "Connection: close" }, 1, 1 },
		{ "duplicate Content-Length is refused",
		    "PUT /sink HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
		    "Content-Length: 3\r\n\r\nabc",
		    { "400 Bad Request" }, 1, 1 },
		{ "bad chunk size is refused",
		    "PATCH /sink HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
		    { "400 Bad Request" }, 1, 1 },
		{ "Content-Length of 2^63 is refused, not wrapped",
		    "PUT /early HTTP/1.1\r\nHost: h\r\nContent-Length: "
		    "9223372036854775808\r\n\r\nx",
		    { "413 Payload Too Large", "SIZE_INVALID" }, 1, 1 },
		{ "a transfer coding other than chunked is refused",
		    "PATCH /sink HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: gzip\r\n\r\n"
		    "hello",
		    { "400 Bad Request" }, 1, 1 },
		{ "HTTP/1.0 closes after the reply",
		    "GET /a HTTP/1.0\r\n\r\n", { "200 OK" }, 1, 1 },
		/* RFC 9112 3.2: Host is required in HTTP/1.1, once. */
		{ "HTTP/1.1 without Host is refused",
		    "GET /a?no HTTP/1.1\r\nAccept: a/b\r\n\r\n",
		    { "400 Bad Request", "Connection: close", "Host" }, 1, 1 },
		{ "HTTP/1.1 without any header is refused",
		    "GET /a?no HTTP/1.1\r\n\r\n",
		    { "400 Bad Request", "Connection: close" }, 1, 1 },
		{ "two Host lines are refused",
		    "GET /a?no HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		    { "400 Bad Request", "Connection: close", "Host" }, 1, 1 },
		{ "two Host lines are refused in HTTP/1.0 too",
		    "GET /a?no HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n",
		    { "400 Bad Request" }, 1, 1 },
		{ "HTTP/1.0 without Host is served (health checks)",
		    "GET /a?hc HTTP/1.0\r\nUser-Agent: x\r\n\r\n",
		    { "200 OK", "\r\n\r\nhc" }, 1, 1 },
		{ "HTTP/1.2 gets 505",
		    "GET /a?no HTTP/1.2\r\nHost: h\r\n\r\n",
		    { "HTTP/1.1 505 HTTP Version Not Supported" }, 1, 1 },
		{ "HTTP/2.0 in a request line gets 505",
		    "GET /a?no HTTP/2.0\r\nHost: h\r\n\r\n",
		    { "HTTP/1.1 505 " }, 1, 1 },
		{ "HTTP/0.9 in a request line gets 505",
		    "GET /a?no HTTP/0.9\r\nHost: h\r\n\r\n",
		    { "HTTP/1.1 505 " }, 1, 1 },
		/* RFC 9112 3.2.2: the absolute form, routed by its path. */
		{ "absolute form is routed by its path",
		    "GET http://h/a?abs HTTP/1.1\r\nHost: h\r\n\r\n"
		    "GET HTTPS://h:5000/accept HTTP/1.1\r\nHost: x\r\n"
		    "Accept: a/b\r\n\r\n",
		    { "\r\n\r\nabs", "200 OK", "\r\n\r\na/b" }, 2,
		    0 },
		{ "absolute form without a path is /",
		    "GET http://h?q HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "200 OK", "\r\n\r\nq" }, 1, 0 },
		{ "absolute form with user info is refused",
		    "GET http://u:p@h/a?no HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "400 Bad Request" }, 1, 1 },
		{ "absolute form of another scheme is refused",
		    "GET ftp://h/a?no HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "400 Bad Request" }, 1, 1 },
		{ "absolute form with no authority is refused",
		    "GET http:///a?no HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "400 Bad Request" }, 1, 1 },
		/* Control bytes in the request target. */
		{ "TAB in the target is refused",
		    "GET /a\tb?no HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "400 Bad Request" }, 1, 1 },
		{ "form feed in the target is refused",
		    "GET /a\fb?no HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "400 Bad Request" }, 1, 1 },
		{ "TAB in the query is refused",
		    "GET /a?n\to HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "400 Bad Request" }, 1, 1 },
		{ "\\x01 in the target is refused",
		    "GET /a\x01b?no HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "400 Bad Request" }, 1, 1 },
		{ "DEL in the target is refused",
		    "GET /a\x7f?no HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "400 Bad Request" }, 1, 1 },
		{ "a byte over 0x7f in the target is refused",
		    "GET /a\xc3\xa9?no HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "400 Bad Request" }, 1, 1 },
		{ "whitespace before the colon is refused (RFC 9112 5.1)",
		    "PUT /sink HTTP/1.1\r\nHost: h\r\nContent-Length : 5\r\n"
		    "\r\nhelloGET /a?no HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "400 Bad Request" }, 1, 1 },
		{ "a space inside a header name is refused",
		    "GET /a?no HTTP/1.1\r\nHost: h\r\nBad Name: v\r\n\r\n",
		    { "400 Bad Request" }, 1, 1 },
		{ "a malformed header line is refused, without parser words",
		    "GET /a?no HTTP/1.1\r\nHost: h\r\nNoColonHere\r\n\r\n",
		    { "400 Bad Request", "BAD_REQUEST" }, 1, 1 },
		/*
		 * What http-parser takes in its non-strict mode and RFC 9112
		 * does not (hardening item 11): every split of each fixture
		 * is tried, so the checks hold across reads too.
		 */
		{ "TAB before the colon is refused",
		    "GET /a?no HTTP/1.1\r\nHost: h\r\nX-A\t: v\r\n\r\n",
		    { "400 Bad Request", "BAD_REQUEST" }, 1, 1 },
		{ "a space ending the Host name is refused",
		    "GET /a?no HTTP/1.1\r\nHost : h\r\n\r\n",
		    { "400 Bad Request", "BAD_REQUEST" }, 1, 1 },
		{ "two bytes other than CRLF after chunk data are refused",
		    "PATCH /sink HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n3\r\nabcXY4\r\ndefg\r\n"
		    "0\r\n\r\n",
		    { "400 Bad Request", "BAD_REQUEST" }, 1, 1 },
		{ "LF LF after chunk data is refused",
		    "PATCH /sink HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\n\n0\r\n\r\n",
		    { "400 Bad Request", "BAD_REQUEST" }, 1, 1 },
		{ "CR and another byte after chunk data are refused",
		    "PATCH /sink HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\rX0\r\n\r\n",
		    { "400 Bad Request", "BAD_REQUEST" }, 1, 1 },
		{ "a byte and LF after the last data chunk are refused",
		    "PATCH /sink HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n1\r\naX\n0\r\n\r\n"
		    "GET /a?no HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "400 Bad Request", "BAD_REQUEST" }, 1, 1 },
		{ "chunk data with CR and LF bytes inside is taken",
		    "PATCH /sink HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n6\r\n\r\r\nx\n\r\r\n"
		    "2\r\n\r\r\r\n0\r\nX-T: v\r\n\r\n",
		    { "201 Created", "got 8" }, 1, 0 },
		{ "a Content-Length body of CRs is taken",
		    "PUT /sink HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\n"
		    "\r\rx\r"
		    "GET /a?after HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "got 4", "after" }, 2, 0 },
		{ "a bare CR ending the head is refused",
		    "GET /a?no HTTP/1.1\r\nHost: h\r\n\r\r",
		    { "400 Bad Request", "BAD_REQUEST" }, 1, 1 },
		{ "a bare CR after an empty header value is refused",
		    "GET /a?no HTTP/1.1\r\nHost: h\r\nX-A:\rZX-B: v\r\n\r\n",
		    { "400 Bad Request", "BAD_REQUEST" }, 1, 1 },
		{ "a bare CR in a header value is refused",
		    "GET /a?no HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n",
		    { "400 Bad Request", "BAD_REQUEST" }, 1, 1 },
		{ "a bare CR ending the request line is refused",
		    "GET /a?no HTTP/1.1\rHost: h\r\n\r\n",
		    { "400 Bad Request", "BAD_REQUEST" }, 1, 1 },
		{ "a bare CR in a chunk-size line is refused",
		    "PATCH /sink HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n3\rXabc\r\n0\r\n\r\n",
		    { "400 Bad Request", "BAD_REQUEST" }, 1, 1 },
		{ "a bare CR after a chunk extension is refused",
		    "PATCH /sink HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n3;e=1\rXabc\r\n"
		    "0\r\n\r\n",
		    { "400 Bad Request", "BAD_REQUEST" }, 1, 1 },
		{ "a bare CR in the last chunk's line is refused",
		    "PATCH /sink HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\rX\r\n",
		    { "400 Bad Request", "BAD_REQUEST" }, 1, 1 },
		{ "a bare CR in a trailer is refused",
		    "PATCH /sink HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
		    "X-T:\rZ\r\n\r\n",
		    { "400 Bad Request", "BAD_REQUEST" }, 1, 1 },
		{ "a bare CR ending the trailers is refused",
		    "PATCH /sink HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
		    "X-T: v\r\n\r\r"
		    "GET /a?no HTTP/1.1\r\nHost: h\r\n\r\n",
		    { "400 Bad Request", "BAD_REQUEST" }, 1, 1 },
		/* RFC 9110 6.5.1: trailers are dropped, never headers. */
		{ "a trailer is not read as a header",
		    "PUT /trailer HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
		    "X-T: evil\r\nContent-Type: a/b\r\n\r\n",
		    { "201 Created", "x-t=none ct=none" }, 1, 0 },
		{ "a single trailer is not read as a header",
		    "PUT /trailer HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
		    "Content-Type: application/vnd.oci.image.manifest.v1+json"
		    "\r\n\r\n",
		    { "201 Created", "x-t=none ct=none" }, 1, 0 },
		{ "trailers leave the head's fields as they were",
		    "PUT /trailer HTTP/1.1\r\nHost: h\r\nX-T: head\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
		    "X-T: tail\r\n\r\n",
		    { "201 Created", "x-t=head ct=none" }, 1, 0 },
		{ "whitespace before a trailer's colon is refused",
		    "PUT /trailer HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
		    "X-T : v\r\n\r\n",
		    { "400 Bad Request", "BAD_REQUEST" }, 1, 1 },
		{ "a bare CR ending chunked data without trailers is refused",
		    "PATCH /sink HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\rX",
		    { "400 Bad Request", "BAD_REQUEST" }, 1, 1 },
	};
	const char *const *w;
	char *resp, *p;
	size_t i, len, split, step;
	enum http_conn_state st;
	int good;

	base = event_base_new();
	cfg.cf_body_timeout = cfg.cf_idle_timeout = 60;
	cfg.cf_write_timeout = cfg.cf_header_timeout = 60;
	http_init(&cfg, test_dispatch);
	log_init(LOG_LVL_ERROR, 0);

	for (i = 0; i < sizeof(fx) / sizeof(fx[0]); i++) {
		len = strlen(fx[i].in);
		good = 1;
		for (split = 0; split <= len + 1 && good; split++) {
			/* The last round writes one byte at a time. */
			resp = test_run(fx[i].in, len,
			    split <= len ? split : TEST_BYTEWISE, &st);
			if (resp == NULL) {
				good = 0;
				break;
			}
			p = resp;
			for (w = fx[i].want; *w != NULL && good; w++) {
				if ((p = strstr(p, *w)) == NULL) {
					good = 0;
					printf("# split %zu: missing \"%s\" "
					    "in:\n# %s\n", split, *w, resp);
				} else
					p += strlen(*w);
			}
			if (good && test_count(resp, "HTTP/1.") != fx[i].count) {
				good = 0;
				printf("# split %zu: %d responses\n", split,
				    test_count(resp, "HTTP/1."));
			}
			if (good && test_parser_words(resp)) {
				good = 0;
				printf("# split %zu: parser words in:\n# %s\n",
				    split, resp);
			}
			if (good && fx[i].close != (st != HTTP_CONN_OPEN)) {
				good = 0;
				printf("# split %zu: state %d\n", split,
				    (int)st);
			}
			free(resp);
		}
		ok(good, "%s (every split, and byte by byte)", fx[i].name);
	}

	/* Limits: a header block over HTTP_MAX_HEADER_BYTES, a long URL. */
	len = (size_t)snprintf(big, sizeof(big), "GET /a HTTP/1.1\r\nX: ");
	memset(big + len, 'a', HTTP_MAX_HEADER_BYTES);
	memcpy(big + len + HTTP_MAX_HEADER_BYTES, "\r\n\r\n", 5);
	resp = test_run(big, strlen(big), 10, &st);
	ok(resp && strstr(resp, "431 ") && st >= HTTP_CONN_CLOSE_AFTER_REPLY &&
	    !test_parser_words(resp), "oversized headers: 431 and close");
	free(resp);

	len = (size_t)snprintf(longurl, sizeof(longurl), "GET /");
	memset(longurl + len, 'u', HTTP_MAX_URL);
	memcpy(longurl + len + HTTP_MAX_URL, " HTTP/1.1\r\n\r\n", 14);
	resp = test_run(longurl, strlen(longurl), 7, &st);
	ok(resp && strstr(resp, "414 ") && !test_parser_words(resp),
	    "long URL: 414");
	free(resp);

	/* 101 headers is one too many. */
	step = (size_t)snprintf(big, sizeof(big), "GET /a HTTP/1.1\r\n");
	for (i = 0; i <= HTTP_MAX_HEADERS; i++)
		step += (size_t)snprintf(big + step, sizeof(big) - step,
		    "H%zu: v\r\n", i);
	snprintf(big + step, sizeof(big) - step, "\r\n");
	resp = test_run(big, strlen(big), 0, &st);
	ok(resp && strstr(resp, "431 ") && !test_parser_words(resp),
	    "too many headers: 431");
	free(resp);

	/*
	 * http-parser takes any one-digit version: every one but 1.0 and 1.1
	 * gets 505 (RFC 9110 15.6.6), and a two-digit one is malformed.
	 */
	good = 1;
	for (i = 0; i < 100 && good; i++) {
		char req[64];
		int want = i == 10 || i == 11 ? 200 : 505;

		snprintf(req, sizeof(req),
		    "GET /a HTTP/%zu.%zu\r\nHost: h\r\n\r\n", i / 10, i % 10);
		resp = test_run(req, strlen(req), 0, &st);
		snprintf(req, sizeof(req), "HTTP/1.1 %d ", want);
		if (resp == NULL || strncmp(resp, req, strlen(req)) != 0) {
			printf("# HTTP/%zu.%zu: %s\n", i / 10, i % 10,
			    resp ? resp : "(none)");
			good = 0;
		}
		free(resp);
	}
	ok(good, "every one-digit version but 1.0 and 1.1 gets 505");
	resp = test_run("GET /a HTTP/1.10\r\nHost: h\r\n\r\n", 29, 0, &st);
	ok(resp && strncmp(resp, "HTTP/1.1 400 ", 13) == 0 &&
	    !test_parser_words(resp), "HTTP/1.10 gets 400");
	free(resp);

	/*
	 * Bodies full of bare CRs are content: taken whole, and the strict
	 * framing checks split a body's bytes at most once per request and
	 * never inside a chunk's data (blob uploads go on in large writes):
	 * as many on_body calls as for a body without CRs (the evbuffer's
	 * own segments split it too), plus at most one.
	 */
	for (i = 0; i < 2; i++) {
		int calls[2], crs;

		for (crs = 0; crs < 2; crs++) {
			test_body_calls = 0;
			resp = test_crlf_body(i, crs, &st);
			calls[crs] = test_body_calls;
			good = resp != NULL && strstr(resp, "got 1500") != NULL;
			free(resp);
			if (!good)
				break;
		}
		ok(good && calls[1] <= calls[0] + (i == 0),
		    "%s body of CRs: taken, %d on_body calls (%d without CRs)",
		    i == 0 ? "a Content-Length" : "a chunked", calls[1],
		    calls[0]);
	}

	/*
	 * A sink that pauses after every chunk (http_body_pause) and is
	 * resumed from the loop: the body is whole, and a CR that ends it is
	 * body, not framing, also when the pause came at its last byte
	 * (http-parser then parses that byte again at the message end).
	 */
	test_resume_ev = event_new(base, -1, 0, test_resume_cb, NULL);
	{
		static const char *const paused[] = {
		    "PUT /pause HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"
		    "\r\nabc\r"
		    "GET /a?after HTTP/1.1\r\nHost: h\r\n\r\n",
		    "PUT /pause HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"
		    "\r\nab\r\n"
		    "GET /a?after HTTP/1.1\r\nHost: h\r\n\r\n",
		    "PATCH /pause HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n2\r\na\r\r\n"
		    "2\r\n\rb\r\n0\r\n\r\n"
		    "GET /a?after HTTP/1.1\r\nHost: h\r\n\r\n",
		};
		size_t k, plen, at;

		for (k = 0; k < sizeof(paused) / sizeof(paused[0]); k++) {
			plen = strlen(paused[k]);
			good = 1;
			for (at = 0; at <= plen && good; at++) {
				test_pauses = 0;
				resp = test_run(paused[k], plen, at, &st);
				good = resp != NULL &&
				    strstr(resp, "got 4") != NULL &&
				    strstr(resp, "after") != NULL &&
				    test_count(resp, "HTTP/1.1 ") == 2 &&
				    st == HTTP_CONN_OPEN && test_pauses > 0;
				if (!good)
					printf("# split %zu: %s\n", at,
					    resp ? resp : "(null)");
				free(resp);
			}
			ok(good, "paused body %zu ending in CR, then a request "
			    "(every split)", k);
		}
	}
	event_free(test_resume_ev);

	/*
	 * A source that said EAGAIN goes on at http_source_wake. When it
	 * fails then, with nothing left to write, the connection must still
	 * be reported for closing: no read or write event would come for it
	 * (reading stops while a reply is out), so it would stay open, the
	 * client waiting for the rest of a body that never comes.
	 */
	test_wake_ev = event_new(base, -1, 0, test_wake_cb, NULL);
	resp = test_src_run(0, &st);
	ok(resp && strstr(resp, "200 OK") && strstr(resp, "\r\n\r\nhello") &&
	    st == HTTP_CONN_OPEN && test_events == 0 && test_src_calls == 3,
	    "a source that waits (EAGAIN) goes on when woken");
	free(resp);
	resp = test_src_run(1, &st);
	ok(resp && strstr(resp, "200 OK") && st == HTTP_CONN_CLOSE &&
	    test_events != 0,
	    "a source failing after its wake has the connection closed");
	free(resp);
	event_free(test_wake_ev);

	/* An error body is the OCI shape. */
	resp = test_run("GET /early HTTP/1.1\r\nHost: h\r\n\r\n", 32, 0, &st);
	ok(resp && strstr(resp, "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\","
	    "\"message\":"), "error body is {\"errors\":[...]}");
	free(resp);

	/*
	 * Configured headers around the head's stack buffer: one that fills
	 * part of it, one larger than it (added directly after a flush), one
	 * after: all in order, nothing lost or doubled at the seams.
	 */
	{
		static char va[301], vb[701], want[1400];
		const char *rq = "GET /a?q HTTP/1.1\r\nHost: h\r\n\r\n";

		memset(va, 'a', sizeof(va) - 1);
		memset(vb, 'b', sizeof(vb) - 1);
		cfg.cf_headers[0].ch_name = "X-A";
		cfg.cf_headers[0].ch_value = va;
		cfg.cf_headers[1].ch_name = "X-B";
		cfg.cf_headers[1].ch_value = vb;
		cfg.cf_headers[2].ch_name = "X-C";
		cfg.cf_headers[2].ch_value = "c";
		cfg.cf_nheaders = 3;
		snprintf(want, sizeof(want),
		    "Docker-Distribution-Api-Version: registry/2.0\r\n"
		    "X-A: %s\r\nX-B: %s\r\nX-C: c\r\n"
		    "Content-Type: text/plain\r\nContent-Length: 1\r\n\r\nq",
		    va, vb);
		resp = test_run(rq, strlen(rq), 0, &st);
		p = resp != NULL ? strstr(resp, want) : NULL;
		ok(p != NULL && p[strlen(want)] == '\0' &&
		    test_count(resp, "X-B: ") == 1,
		    "configured headers longer than the head buffer: in order");
		free(resp);
		cfg.cf_nheaders = 0;
	}

	event_base_free(base);
	return done_testing();
}
