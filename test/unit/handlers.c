/*
 * Handler tests: the registry's real dispatcher behind the real HTTP
 * layer, on a bufferevent pair instead of a socket, over the memory
 * storage driver instead of a disk. Each check sends raw request bytes
 * and reads back the whole response, so what is asserted is what a
 * client would see: status, headers, the OCI error body, and what the
 * store holds afterwards.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "api.h"
#include "config.h"
#include "digest.h"
#include "gc.h"
#include "http.h"
#include "log.h"
#include "manifest.h"
#include "pool.h"
#include "registry.h"
#include "store.h"
#include "store_mem.h"
#include "api_client.h"
#include "tap.h"

/*
 * The largest calloc while calloc_watch is set: this program's calloc
 * comes first. Not under ASan, whose allocator must stay the only one.
 */
#if !defined(__SANITIZE_ADDRESS__)
#define WATCH_CALLOC 1
extern void *__libc_calloc(size_t, size_t);
static int calloc_watch;
static size_t calloc_max;

void *
calloc(size_t n, size_t size)
{
	if (calloc_watch && n * size > calloc_max)
		calloc_max = n * size;
	return __libc_calloc(n, size);
}
#else
#define WATCH_CALLOC 0
#endif

#define API_RESP_MAX (4 * 1024 * 1024)

static struct event_base *base;
static struct config cfg;
static struct store *st;

/* A client on a bufferevent pair: the server reads cl_pair[0]. */
struct client {
	struct bufferevent *cl_pair[2];
	struct http_conn *cl_hc;
};

/*
 * Connect a new client and send head (complete but for the blank line)
 * and body.
 */
static void
client_send(struct client *cl, const char *head, const void *body,
    size_t bodylen)
{
	struct bufferevent **pair = cl->cl_pair;

	if (bufferevent_pair_new(base, 0, pair) == -1)
		abort();
	if ((cl->cl_hc = http_conn_new(pair[0], 1, "127.0.0.1:1", "127.0.0.1",
	         0)) == NULL)
		abort();
	bufferevent_setcb(pair[0], api_read_cb, api_write_cb, NULL, cl->cl_hc);
	bufferevent_enable(pair[0], EV_READ | EV_WRITE);
	bufferevent_enable(pair[1], EV_READ | EV_WRITE);
	bufferevent_write(pair[1], head, strlen(head));
	if (bodylen > 0 || strstr(head, "Content-Length") == NULL)
		bufferevent_write(pair[1],
		    bodylen > 0 || strstr(head, "Content-Length") != NULL
		        ? "\r\n"
		        : "Content-Length: 0\r\n\r\n",
		    bodylen > 0 || strstr(head, "Content-Length") != NULL ? 2
		                                                          : 21);
	else
		bufferevent_write(pair[1], "\r\n", 2);
	if (bodylen > 0)
		bufferevent_write(pair[1], body, bodylen);
}

/* The server side closes (freeing the request), then the client. */
static void
client_close(struct client *cl)
{
	http_conn_free(cl->cl_hc);
	bufferevent_free(cl->cl_pair[0]);
	bufferevent_free(cl->cl_pair[1]);
}

/*
 * Send the request head (printf format, "\r\n" line ends, without the
 * blank line) and body, run the loop until the whole response is back.
 * The connection is new for every request.
 */
static void api_req(struct resp *, const void *, size_t, const char *, ...)
    __attribute__((format(printf, 4, 5)));

static void
api_req(struct resp *r, const void *body, size_t bodylen, const char *fmt, ...)
{
	struct client cl;
	char head[4096];
	va_list ap;
	int i, done = 0;

	memset(r, 0, sizeof(*r));
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	client_send(&cl, head, body, bodylen);
	/* Jobs on the worker pool complete through the loop: spin a while. */
	for (i = 0; i < 20000 && !done; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		done = api_parse(bufferevent_get_input(cl.cl_pair[1]),
		    strncmp(head, "HEAD ", 5) == 0, r);
		if (!done && i > 100)
			usleep(100);
	}
	if (!done) {
		r->status = -1;
		r->body = calloc(1, 1);
	}
	client_close(&cl);
}

/*
 * Run the loop until the worker pool has nothing in flight (deferred
 * store calls done); 1 when it got there.
 */
static int
pool_idle(void)
{
	int i;

	for (i = 0; i < 20000 && pool_pending() > 0; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (pool_pending() > 0)
			usleep(100);
	}
	return pool_pending() == 0;
}

/*
 * The gate: a pool job that holds the pool's only worker until opened,
 * so that a store call deferred behind it stays in flight as long as a
 * test needs.
 */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int open;
	struct pool_job job;
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 1, {0}};

static void
gate_work(struct pool_job *pj)
{
	(void)pj;
	pthread_mutex_lock(&gate.lock);
	while (!gate.open)
		pthread_cond_wait(&gate.cond, &gate.lock);
	pthread_mutex_unlock(&gate.lock);
}

static void
gate_done(struct pool_job *pj)
{
	(void)pj;
}

static void
gate_set(int open)
{
	pthread_mutex_lock(&gate.lock);
	gate.open = open;
	pthread_cond_signal(&gate.cond);
	pthread_mutex_unlock(&gate.lock);
}

/*
 * Send a request like api_req, with the store's calls deferred
 * (store_mem_defer), and close the connection while its storage job
 * waits behind the gate: the job's done must find the request gone and
 * only clean up. Then let the job finish. 1 when the job was caught in
 * flight, unanswered.
 */
static int api_gone(const void *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
api_gone(const void *body, size_t bodylen, const char *fmt, ...)
{
	struct client cl;
	char head[4096];
	va_list ap;
	int i, caught;

	if (!pool_idle())
		return 0;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	gate_set(0);
	gate.job.pj_work = gate_work;
	gate.job.pj_done = gate_done;
	pool_submit(&gate.job);
	client_send(&cl, head, body, bodylen);
	for (i = 0; i < 20000 && pool_pending() < 2; i++) {
		if (evbuffer_get_length(bufferevent_get_input(cl.cl_pair[1])) >
		    0)
			break;
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	caught = pool_pending() == 2 &&
	    evbuffer_get_length(bufferevent_get_input(cl.cl_pair[1])) == 0;
	client_close(&cl);
	gate_set(1);
	return pool_idle() && caught;
}

/* 1 when the body is the OCI error body with code. */
static int
oci_error(const struct resp *r, const char *code)
{
	char want[96];

	snprintf(want, sizeof(want), "\"code\":\"%s\"", code);
	return strncmp(r->body, "{\"errors\":[", 11) == 0 &&
	    strstr(r->body, want) != NULL;
}

/* Push content as a blob of repo with a monolithic POST; 1 on 201. */
static int
push_blob(const char *repo, const char *content, char digest[DIGEST_BUFSZ])
{
	struct resp r;
	int ok201;

	digest_buf(content, strlen(content), digest);
	api_req(&r, content, strlen(content),
	    "POST /v2/%s/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Length: %zu\r\n",
	    repo, digest, strlen(content));
	ok201 = r.status == 201;
	resp_free(&r);
	return ok201;
}

static void
test_base(void)
{
	struct resp r;
	char v[128];

	api_req(&r, NULL, 0, "GET /v2/ HTTP/1.1\r\nHost: t\r\n");
	is_int(r.status, 200, "GET /v2/: 200");
	is_str(hdr(&r, "Docker-Distribution-API-Version", v, sizeof(v)),
	    "registry/2.0", "API version header");
	resp_free(&r);
	api_req(&r, NULL, 0, "GET /v2/nothere HTTP/1.1\r\nHost: t\r\n");
	is_int(r.status, 404, "an unknown path: 404");
	resp_free(&r);
}

static void
test_blobs(void)
{
	struct resp r;
	char d[DIGEST_BUFSZ], v[256];
	uint64_t size;

	ok(push_blob("lib/app", "hello layer", d), "monolithic POST: 201");
	ok(store_blob_stat(st, d, &size) == 0 && size == 11,
	    "the blob is in the store");
	is_int(store_link_exists(st, "lib/app", STORE_LINK_LAYER, d), 1,
	    "and linked as a layer of lib/app");

	api_req(&r, NULL, 0,
	    "HEAD /v2/lib/app/blobs/%s HTTP/1.1\r\nHost: t\r\n", d);
	is_int(r.status, 200, "blob HEAD: 200");
	is_str(hdr(&r, "Content-Length", v, sizeof(v)), "11",
	    "HEAD has the blob's length");
	is_str(hdr(&r, "Docker-Content-Digest", v, sizeof(v)), d,
	    "and its digest");
	resp_free(&r);

	api_req(&r, NULL, 0, "GET /v2/lib/app/blobs/%s HTTP/1.1\r\nHost: t\r\n",
	    d);
	ok(r.status == 200 && r.bodylen == 11 &&
	        memcmp(r.body, "hello layer", 11) == 0,
	    "blob GET streams the bytes from a reader without a file");
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/app/blobs/%s HTTP/1.1\r\nHost: t\r\nRange: "
	    "bytes=6-\r\n",
	    d);
	ok(r.status == 206 && r.bodylen == 5 && memcmp(r.body, "layer", 5) == 0,
	    "a range: 206 with the tail");
	is_str(hdr(&r, "Content-Range", v, sizeof(v)), "bytes 6-10/11",
	    "Content-Range");
	resp_free(&r);

	api_req(&r, NULL, 0, "GET /v2/other/blobs/%s HTTP/1.1\r\nHost: t\r\n",
	    d);
	ok(r.status == 404 && oci_error(&r, "BLOB_UNKNOWN"),
	    "a blob not linked in the repository: 404 BLOB_UNKNOWN");
	resp_free(&r);

	digest_buf("something else", 14, v);
	api_req(&r, "hello layer", 11,
	    "POST /v2/lib/app/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: "
	    "t\r\nContent-Length: 11\r\n",
	    v);
	ok(r.status == 400 && oci_error(&r, "DIGEST_INVALID"),
	    "bytes that do not match the digest: 400 DIGEST_INVALID");
	resp_free(&r);
	ok(store_blob_stat(st, v, &size) == -1 && errno == ENOENT,
	    "and nothing was stored under it");

	api_req(&r, NULL, 0,
	    "POST /v2/lib/mounted/blobs/uploads/?mount=%s&from=lib/app "
	    "HTTP/1.1\r\nHost: t\r\n",
	    d);
	is_int(r.status, 201, "cross-repository mount: 201");
	resp_free(&r);
	is_int(store_link_exists(st, "lib/mounted", STORE_LINK_LAYER, d), 1,
	    "the mount linked the blob");
}

static void
test_chunked_upload(void)
{
	struct resp r;
	char loc[512], d[DIGEST_BUFSZ], v[64];
	uint64_t size;

	api_req(&r, NULL, 0,
	    "POST /v2/lib/chunked/blobs/uploads/ HTTP/1.1\r\nHost: t\r\n");
	is_int(r.status, 202, "POST starts an upload: 202");
	hdr(&r, "Location", loc, sizeof(loc));
	ok(strncmp(loc, "/v2/lib/chunked/blobs/uploads/", 30) == 0,
	    "Location: %s", loc);
	resp_free(&r);

	api_req(&r, "hello ", 6,
	    "PATCH %s HTTP/1.1\r\nHost: t\r\nContent-Range: 0-5\r\n"
	    "Content-Length: 6\r\n",
	    loc);
	is_int(r.status, 202, "PATCH: 202");
	is_str(hdr(&r, "Range", v, sizeof(v)), "0-5", "Range: 0-5");
	hdr(&r, "Location", loc, sizeof(loc));
	resp_free(&r);

	api_req(&r, "world", 5,
	    "PATCH %s HTTP/1.1\r\nHost: t\r\nContent-Range: 0-4\r\n"
	    "Content-Length: 5\r\n",
	    loc);
	is_int(r.status, 416, "a chunk out of order: 416");
	resp_free(&r);

	api_req(&r, NULL, 0, "GET %s HTTP/1.1\r\nHost: t\r\n", loc);
	ok(r.status == 204 &&
	        strcmp(hdr(&r, "Range", v, sizeof(v)), "0-5") == 0,
	    "GET of the session: 204, Range 0-5");
	resp_free(&r);

	digest_buf("hello world", 11, d);
	api_req(&r, "world", 5,
	    "PUT %s%sdigest=%s HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 5\r\n",
	    loc, strchr(loc, '?') != NULL ? "&" : "?", d);
	is_int(r.status, 201, "closing PUT with the last chunk: 201");
	resp_free(&r);
	ok(store_blob_stat(st, d, &size) == 0 && size == 11,
	    "the blob holds both chunks");
	api_req(&r, NULL, 0, "GET %s HTTP/1.1\r\nHost: t\r\n", loc);
	ok(r.status == 404 && oci_error(&r, "BLOB_UPLOAD_UNKNOWN"),
	    "the committed session is gone: 404 BLOB_UPLOAD_UNKNOWN");
	resp_free(&r);

	/* Cancel a session. */
	api_req(&r, NULL, 0,
	    "POST /v2/lib/chunked/blobs/uploads/ HTTP/1.1\r\nHost: t\r\n");
	hdr(&r, "Location", loc, sizeof(loc));
	resp_free(&r);
	api_req(&r, NULL, 0, "DELETE %s HTTP/1.1\r\nHost: t\r\n", loc);
	is_int(r.status, 204, "DELETE of a session: 204");
	resp_free(&r);
	api_req(&r, "x", 1,
	    "PATCH %s HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n", loc);
	ok(r.status == 404 && oci_error(&r, "BLOB_UPLOAD_UNKNOWN"),
	    "PATCH of a cancelled session: 404 BLOB_UPLOAD_UNKNOWN");
	resp_free(&r);

	/* A mount of a blob the store does not have starts a session. */
	api_req(&r, NULL, 0,
	    "POST /v2/lib/chunked/blobs/uploads/?mount=sha256:"
	    "00000000000000000000000000000000000000000000000000000000000000"
	    "00&from=lib/app HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 202 &&
	        strncmp(hdr(&r, "Location", loc, sizeof(loc)),
	            "/v2/lib/chunked/blobs/uploads/", 30) == 0,
	    "mount of a missing blob: 202 with a session");
	resp_free(&r);
}

/*
 * A chunked PATCH or closing PUT whose body ends before the end its
 * Content-Range names gets 416, and the session keeps none of it: it
 * stays at its previous offset, and the upload goes on from there.
 */
static void
test_short_chunk(void)
{
	static const char short_body[] = "5\r\nhello\r\n0\r\n\r\n";
	struct resp r;
	char loc[512], v[256], d[DIGEST_BUFSZ];
	uint64_t size;

	api_req(&r, NULL, 0,
	    "POST /v2/lib/short/blobs/uploads/ HTTP/1.1\r\nHost: t\r\n");
	is_int(r.status, 202, "POST: a session");
	hdr(&r, "Location", loc, sizeof(loc));
	resp_free(&r);
	api_req(&r, "abc", 3,
	    "PATCH %s HTTP/1.1\r\nHost: t\r\nContent-Range: 0-2\r\n"
	    "Content-Length: 3\r\n",
	    loc);
	ok(r.status == 202 &&
	        strcmp(hdr(&r, "Range", v, sizeof(v)), "0-2") == 0,
	    "a first chunk: 202, Range 0-2");
	hdr(&r, "Location", loc, sizeof(loc));
	resp_free(&r);

	api_req(&r, short_body, sizeof(short_body) - 1,
	    "PATCH %s HTTP/1.1\r\nHost: t\r\nContent-Range: 3-12\r\n"
	    "Transfer-Encoding: chunked\r\n",
	    loc);
	ok(r.status == 416 && oci_error(&r, "BLOB_UPLOAD_INVALID"),
	    "a chunked PATCH shorter than its Content-Range: 416 (%d)",
	    r.status);
	resp_free(&r);
	api_req(&r, NULL, 0, "GET %s HTTP/1.1\r\nHost: t\r\n", loc);
	ok(r.status == 204 &&
	        strcmp(hdr(&r, "Range", v, sizeof(v)), "0-2") == 0,
	    "the session is back at Range 0-2: %s", v);
	resp_free(&r);

	digest_buf("abchello", 8, d);
	api_req(&r, short_body, sizeof(short_body) - 1,
	    "PUT %s%sdigest=%s HTTP/1.1\r\nHost: t\r\n"
	    "Content-Range: 3-12\r\nTransfer-Encoding: chunked\r\n",
	    loc, strchr(loc, '?') != NULL ? "&" : "?", d);
	ok(r.status == 416 && oci_error(&r, "BLOB_UPLOAD_INVALID"),
	    "a closing PUT shorter than its Content-Range: 416 (%d)",
	    r.status);
	resp_free(&r);
	ok(store_blob_stat(st, d, &size) == -1, "and nothing was committed");
	api_req(&r, NULL, 0, "GET %s HTTP/1.1\r\nHost: t\r\n", loc);
	ok(r.status == 204 &&
	        strcmp(hdr(&r, "Range", v, sizeof(v)), "0-2") == 0,
	    "the session is still at Range 0-2: %s", v);
	resp_free(&r);

	api_req(&r, "hello", 5,
	    "PUT %s%sdigest=%s HTTP/1.1\r\nHost: t\r\n"
	    "Content-Range: 3-7\r\nContent-Length: 5\r\n",
	    loc, strchr(loc, '?') != NULL ? "&" : "?", d);
	is_int(r.status, 201, "the right last chunk: 201");
	resp_free(&r);
	ok(store_blob_stat(st, d, &size) == 0 && size == 8,
	    "the blob holds both chunks");
}

static void
test_manifests(void)
{
	struct resp r;
	char cfgd[DIGEST_BUFSZ], layer[DIGEST_BUFSZ], md[DIGEST_BUFSZ];
	char man[1024], v[256];
	const char *mt = "application/vnd.oci.image.manifest.v1+json";

	ok(push_blob("lib/img", "{\"architecture\":\"amd64\",\"os\":\"linux\"}",
	       cfgd) &&
	        push_blob("lib/img", "layer bytes", layer),
	    "config and layer pushed");
	snprintf(man, sizeof(man),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{"
	    "\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	    "\"digest\":\"%s\",\"size\":37},\"layers\":[{\"mediaType\":"
	    "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\","
	    "\"size\":11}]}",
	    mt, cfgd, layer);
	digest_buf(man, strlen(man), md);

	api_req(&r, man, strlen(man),
	    "PUT /v2/lib/img/manifests/v1 HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n",
	    mt, strlen(man));
	is_int(r.status, 201, "manifest PUT by tag: 201");
	is_str(hdr(&r, "Docker-Content-Digest", v, sizeof(v)), md,
	    "its digest");
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/img/manifests/v1 HTTP/1.1\r\nHost: t\r\nAccept: "
	    "%s\r\n",
	    mt);
	ok(r.status == 200 && r.bodylen == strlen(man) &&
	        memcmp(r.body, man, r.bodylen) == 0,
	    "manifest GET by tag: the exact bytes");
	is_str(hdr(&r, "Content-Type", v, sizeof(v)), mt, "its media type");
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "HEAD /v2/lib/img/manifests/%s HTTP/1.1\r\nHost: t\r\n", md);
	is_int(r.status, 200, "manifest HEAD by digest: 200");
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/img/tags/list HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 200 &&
	        strcmp(r.body, "{\"name\":\"lib/img\",\"tags\":[\"v1\"]}") == 0,
	    "tags/list: %s", r.body);
	resp_free(&r);

	api_req(&r, NULL, 0, "GET /v2/_catalog HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 200 && strstr(r.body, "\"lib/img\"") != NULL,
	    "_catalog lists the repository: %s", r.body);
	resp_free(&r);

	/*
	 * A page's room is what the index holds, not n=: an 800 KiB block
	 * for n=100000 raised glibc's mmap and trim thresholds for good.
	 */
#if WATCH_CALLOC
	calloc_max = 0;
	calloc_watch = 1;
#endif
	api_req(&r, NULL, 0,
	    "GET /v2/_catalog?n=100000 HTTP/1.1\r\nHost: t\r\n");
#if WATCH_CALLOC
	calloc_watch = 0;
	ok(r.status == 200 && calloc_max < 4096,
	    "_catalog?n=100000 of one repository: largest calloc %zu bytes",
	    calloc_max);
#else
	ok(r.status == 200, "# SKIP calloc not watched under ASan");
#endif
	resp_free(&r);

	snprintf(man, sizeof(man),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{"
	    "\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	    "\"digest\":\"%s\",\"size\":37},\"layers\":[]}",
	    mt, layer);
	api_req(&r, man, strlen(man),
	    "PUT /v2/lib/other/manifests/v1 HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n",
	    mt, strlen(man));
	ok(r.status == 400 && oci_error(&r, "MANIFEST_BLOB_UNKNOWN"),
	    "a manifest naming a blob unknown to the repository: 400 "
	    "MANIFEST_BLOB_UNKNOWN");
	resp_free(&r);
	ok(store_repo_exists(st, "lib/other") == 0,
	    "and no half-written repository");

	api_req(&r, NULL, 0,
	    "GET /v2/lib/none/tags/list HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 404 && oci_error(&r, "NAME_UNKNOWN"),
	    "tags of an unknown repository: 404 NAME_UNKNOWN");
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "DELETE /v2/lib/img/manifests/%s HTTP/1.1\r\nHost: t\r\n", md);
	is_int(r.status, 202, "manifest DELETE by digest: 202");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/img/manifests/v1 HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 404 && oci_error(&r, "MANIFEST_UNKNOWN"),
	    "the tag went with it: 404 MANIFEST_UNKNOWN");
	resp_free(&r);
}

/*
 * PUT body (type mt) as manifest ref of repo: the status, with the
 * response in *r (the caller frees it) and the body's digest.
 */
static int
push_manifest(const char *repo, const char *ref, const char *mt,
    const char *body, char digest[DIGEST_BUFSZ], struct resp *r)
{
	digest_buf(body, strlen(body), digest);
	api_req(r, body, strlen(body),
	    "PUT /v2/%s/manifests/%s HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n",
	    repo, ref, mt, strlen(body));
	return r->status;
}

/*
 * An OCI image manifest of config cfgd (37 bytes) and one layer (11
 * bytes) into buf.
 */
static void
image_manifest(char *buf, size_t bufsz, const char *cfgd, const char *layer)
{
	snprintf(buf, bufsz,
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{"
	    "\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	    "\"digest\":\"%s\",\"size\":37},\"layers\":[{\"mediaType\":"
	    "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\","
	    "\"size\":11}]}",
	    MT_OCI_MANIFEST, cfgd, layer);
}

/*
 * Manifest reads: by digest, If-None-Match, Accept, and which 404 a
 * missing manifest gets (MANIFEST_UNKNOWN in a repository that exists,
 * NAME_UNKNOWN otherwise), for GET and HEAD alike.
 */
static void
test_manifest_reads(void)
{
	struct resp r, h;
	char cfgd[DIGEST_BUFSZ], layer[DIGEST_BUFSZ], md[DIGEST_BUFSZ];
	char man[1024], v[256], etag[DIGEST_BUFSZ + 2];

	ok(push_blob("lib/read",
	       "{\"architecture\":\"amd64\",\"os\":\"linux\"}", cfgd) &&
	        push_blob("lib/read", "layer bytes", layer),
	    "config and layer pushed");
	image_manifest(man, sizeof(man), cfgd, layer);
	is_int(push_manifest("lib/read", "v1", MT_OCI_MANIFEST, man, md, &r),
	    201, "manifest PUT: 201");
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/read/manifests/%s HTTP/1.1\r\nHost: t\r\n", md);
	ok(r.status == 200 && r.bodylen == strlen(man) &&
	        memcmp(r.body, man, r.bodylen) == 0,
	    "manifest GET by digest: the exact bytes");
	is_str(hdr(&r, "Content-Type", v, sizeof(v)), MT_OCI_MANIFEST,
	    "served with its media type");
	is_str(hdr(&r, "Docker-Content-Digest", v, sizeof(v)), md,
	    "Docker-Content-Digest");
	snprintf(etag, sizeof(etag), "\"%s\"", md);
	is_str(hdr(&r, "ETag", v, sizeof(v)), etag, "ETag is the digest");
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/read/manifests/v1 HTTP/1.1\r\nHost: t\r\n"
	    "If-None-Match: %s\r\n",
	    etag);
	ok(r.status == 304 && r.bodylen == 0,
	    "GET by tag with If-None-Match naming its digest: 304");
	is_str(hdr(&r, "ETag", v, sizeof(v)), etag, "with the ETag");
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/read/manifests/v1 HTTP/1.1\r\nHost: t\r\n"
	    "If-None-Match: \"sha256:%064d\"\r\n",
	    0);
	is_int(r.status, 200, "another ETag: 200");
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/read/manifests/v1 HTTP/1.1\r\nHost: t\r\n"
	    "Accept: %s\r\n",
	    MT_DOCKER_MANIFEST);
	ok(r.status == 404 && oci_error(&r, "MANIFEST_UNKNOWN"),
	    "a type the client does not accept: 404 MANIFEST_UNKNOWN");
	is_str(hdr(&r, "Docker-Content-Digest", v, sizeof(v)), md,
	    "after the digest headers");
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/read/manifests/nope HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 404 && oci_error(&r, "MANIFEST_UNKNOWN"),
	    "GET of a missing tag: 404 MANIFEST_UNKNOWN");
	api_req(&h, NULL, 0,
	    "HEAD /v2/lib/read/manifests/nope HTTP/1.1\r\nHost: t\r\n");
	ok(h.status == 404 &&
	        strcmp(hdr(&h, "Content-Length", v, sizeof(v)), "") != 0 &&
	        strtoul(v, NULL, 10) == r.bodylen,
	    "HEAD of a missing tag: the same 404 without the body");
	resp_free(&h);
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/nowhere/manifests/v1 HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 404 && oci_error(&r, "NAME_UNKNOWN"),
	    "GET in an unknown repository: 404 NAME_UNKNOWN");
	api_req(&h, NULL, 0,
	    "HEAD /v2/lib/nowhere/manifests/v1 HTTP/1.1\r\nHost: t\r\n");
	ok(h.status == 404 &&
	        strcmp(hdr(&h, "Content-Length", v, sizeof(v)), "") != 0 &&
	        strtoul(v, NULL, 10) == r.bodylen,
	    "HEAD in an unknown repository: the same 404 (NAME_UNKNOWN)");
	resp_free(&h);
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/read/manifests/sha256:%064d HTTP/1.1\r\nHost: t\r\n",
	    0);
	ok(r.status == 404 && oci_error(&r, "MANIFEST_UNKNOWN"),
	    "GET of an unknown digest: 404 MANIFEST_UNKNOWN");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/read/manifests/%s HTTP/1.1\r\nHost: t\r\n", layer);
	ok(r.status == 404 && oci_error(&r, "MANIFEST_UNKNOWN"),
	    "GET of a layer's digest as a manifest: 404 MANIFEST_UNKNOWN");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/nowhere/manifests/%s HTTP/1.1\r\nHost: t\r\n", md);
	ok(r.status == 404 && oci_error(&r, "NAME_UNKNOWN"),
	    "GET by digest in an unknown repository: 404 NAME_UNKNOWN");
	resp_free(&r);
}

/*
 * A manifest without "mediaType" takes its type from the Content-Type,
 * which must then be a manifest type registryd knows, and one that its
 * structure agrees with (the type it is served with is read back from
 * the bytes): anything else is 400 MANIFEST_INVALID with nothing written.
 */
static void
test_manifest_types(void)
{
	static const char *const bad_ct[] = {"application/json",
	    "text/plain", "application/octet-stream", MT_DOCKER_MANIFEST};
	struct resp r;
	char cfgd[DIGEST_BUFSZ], layer[DIGEST_BUFSZ], md[DIGEST_BUFSZ];
	char idx[DIGEST_BUFSZ], man[1024], index[1024], v[256];
	uint64_t size;
	size_t i;

	ok(push_blob("lib/types",
	       "{\"architecture\":\"amd64\",\"os\":\"linux\"}", cfgd) &&
	        push_blob("lib/types", "layer bytes", layer),
	    "config and layer pushed");
	snprintf(man, sizeof(man),
	    "{\"schemaVersion\":2,\"config\":{\"mediaType\":"
	    "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
	    "\"size\":37},\"layers\":[{\"mediaType\":"
	    "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\","
	    "\"size\":11}]}",
	    cfgd, layer);
	digest_buf(man, strlen(man), md);

	for (i = 0; i < sizeof(bad_ct) / sizeof(bad_ct[0]); i++) {
		is_int(push_manifest("lib/types", "t", bad_ct[i], man, md, &r),
		    400, "no mediaType, Content-Type %s: 400", bad_ct[i]);
		ok(oci_error(&r, "MANIFEST_INVALID"), "MANIFEST_INVALID: %s",
		    r.body);
		resp_free(&r);
	}
	api_req(&r, man, strlen(man),
	    "PUT /v2/lib/types/manifests/t HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: %zu\r\n",
	    strlen(man));
	ok(r.status == 400 && oci_error(&r, "MANIFEST_INVALID"),
	    "no mediaType, no Content-Type: 400 MANIFEST_INVALID (%d)",
	    r.status);
	resp_free(&r);
	ok(store_blob_stat(st, md, &size) == -1 &&
	        store_link_exists(st, "lib/types", STORE_LINK_REVISION, md) ==
	            0 &&
	        store_repo_exists(st, "lib/types") == 0,
	    "nothing of them was written");

	is_int(push_manifest("lib/types", "oci", MT_OCI_MANIFEST, man, md, &r),
	    201, "no mediaType, OCI manifest Content-Type: 201");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/types/manifests/oci HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 200 && r.bodylen == strlen(man),
	    "served: the exact bytes");
	is_str(hdr(&r, "Content-Type", v, sizeof(v)), MT_OCI_MANIFEST,
	    "with the type it was pushed with");
	resp_free(&r);

	snprintf(index, sizeof(index),
	    "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\","
	    "\"digest\":\"%s\",\"size\":%zu}]}",
	    MT_OCI_MANIFEST, md, strlen(man));
	is_int(push_manifest("lib/types", "list", MT_DOCKER_LIST, index, idx,
	           &r),
	    400, "an index without mediaType sent as a Docker list: 400");
	resp_free(&r);
	is_int(push_manifest("lib/types", "idx", MT_OCI_INDEX, index, idx, &r),
	    201, "an index without mediaType, OCI index Content-Type: 201");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/types/manifests/%s HTTP/1.1\r\nHost: t\r\n", idx);
	is_str(hdr(&r, "Content-Type", v, sizeof(v)), MT_OCI_INDEX,
	    "served as an OCI index");
	resp_free(&r);
}

/*
 * Pushes that reference what the repository lacks are refused before
 * anything is written; an index naming its children is accepted once
 * they are there.
 */
static void
test_manifest_refs(void)
{
	struct resp r;
	char cfgd[DIGEST_BUFSZ], layer[DIGEST_BUFSZ], md[DIGEST_BUFSZ];
	char idx[DIGEST_BUFSZ], man[1024], index[1024], want[256];
	uint64_t size;

	ok(push_blob("lib/refs",
	       "{\"architecture\":\"amd64\",\"os\":\"linux\"}", cfgd) &&
	        push_blob("lib/refs", "layer bytes", layer),
	    "config and layer pushed");
	image_manifest(man, sizeof(man), cfgd, layer);
	digest_buf(man, strlen(man), md);
	snprintf(index, sizeof(index),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[{"
	    "\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}]}",
	    MT_OCI_INDEX, MT_OCI_MANIFEST, md, strlen(man));

	is_int(push_manifest("lib/refs", "multi", MT_OCI_INDEX, index, idx, &r),
	    400, "an index whose child is not pushed yet: 400");
	snprintf(want, sizeof(want), "manifest %s unknown to repository", md);
	ok(oci_error(&r, "MANIFEST_BLOB_UNKNOWN") &&
	        strstr(r.body, want) != NULL,
	    "MANIFEST_BLOB_UNKNOWN names the child: %s", r.body);
	resp_free(&r);
	ok(store_link_exists(st, "lib/refs", STORE_LINK_REVISION, idx) == 0 &&
	        store_blob_stat(st, idx, &size) == -1,
	    "and nothing of the index was written");
	api_req(&r, NULL, 0,
	    "GET /v2/lib/refs/manifests/multi HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 404 && oci_error(&r, "NAME_UNKNOWN"),
	    "nor the tag, nor the repository: %s", r.body);
	resp_free(&r);

	is_int(push_manifest("lib/refs", "v1", MT_OCI_MANIFEST, man, md, &r),
	    201, "the child: 201");
	resp_free(&r);
	is_int(push_manifest("lib/refs", "multi", MT_OCI_INDEX, index, idx, &r),
	    201, "then the index: 201");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/refs/manifests/multi HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 200 && r.bodylen == strlen(index),
	    "the index by tag: 200");
	is_str(hdr(&r, "Content-Type", want, sizeof(want)), MT_OCI_INDEX,
	    "served as an OCI index");
	resp_free(&r);
}

/*
 * GET /v2/<name>/referrers/<digest>: the manifests whose subject is the
 * digest, the artifactType filter, and the referrers tag schema index.
 */
static void
test_referrers(void)
{
	struct resp r;
	char cfgd[DIGEST_BUFSZ], layer[DIGEST_BUFSZ], empty[DIGEST_BUFSZ];
	char md[DIGEST_BUFSZ], sig[DIGEST_BUFSZ], other[DIGEST_BUFSZ];
	char tagd[DIGEST_BUFSZ], tag[80], sigman[2048], man[1024];
	char index[1024], want[512], v[256];

	ok(push_blob("lib/ref", "{\"architecture\":\"amd64\",\"os\":\"linux\"}",
	       cfgd) &&
	        push_blob("lib/ref", "layer bytes", layer) &&
	        push_blob("lib/ref", "{}", empty),
	    "config, layer and the empty blob pushed");
	image_manifest(man, sizeof(man), cfgd, layer);
	is_int(push_manifest("lib/ref", "v1", MT_OCI_MANIFEST, man, md, &r),
	    201, "the subject: 201");
	resp_free(&r);

	snprintf(sigman, sizeof(sigman),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\","
	    "\"artifactType\":\"application/vnd.example.sig\",\"config\":{"
	    "\"mediaType\":\"application/vnd.oci.empty.v1+json\","
	    "\"digest\":\"%s\",\"size\":2},\"layers\":[{\"mediaType\":"
	    "\"application/vnd.oci.empty.v1+json\",\"digest\":\"%s\","
	    "\"size\":2}],\"subject\":{\"mediaType\":\"%s\",\"digest\":"
	    "\"%s\",\"size\":%zu},\"annotations\":{\"org.example\":\"yes\"}}",
	    MT_OCI_MANIFEST, empty, empty, MT_OCI_MANIFEST, md, strlen(man));
	is_int(push_manifest("lib/ref", "sig", MT_OCI_MANIFEST, sigman, sig,
	           &r),
	    201, "an artifact with a subject: 201");
	is_str(hdr(&r, "OCI-Subject", v, sizeof(v)), md,
	    "OCI-Subject names the subject");
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/ref/referrers/%s HTTP/1.1\r\nHost: t\r\n", md);
	is_int(r.status, 200, "referrers: 200");
	is_str(hdr(&r, "Content-Type", v, sizeof(v)), MT_OCI_INDEX,
	    "an OCI index");
	snprintf(want, sizeof(want),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[{"
	    "\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,"
	    "\"artifactType\":\"application/vnd.example.sig\","
	    "\"annotations\":{\"org.example\":\"yes\"}}]}",
	    MT_OCI_INDEX, MT_OCI_MANIFEST, sig, strlen(sigman));
	is_str(r.body, want, "the artifact's descriptor, nothing else");
	is_str(hdr(&r, "OCI-Filters-Applied", v, sizeof(v)), "",
	    "no filter applied");
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/ref/referrers/%s?artifactType=application/"
	    "vnd.example.sig HTTP/1.1\r\nHost: t\r\n",
	    md);
	ok(r.status == 200 && strstr(r.body, sig) != NULL,
	    "a matching artifactType filter keeps it");
	is_str(hdr(&r, "OCI-Filters-Applied", v, sizeof(v)), "artifactType",
	    "OCI-Filters-Applied");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/ref/referrers/%s?artifactType=text/plain "
	    "HTTP/1.1\r\nHost: t\r\n",
	    md);
	ok(r.status == 200 && strstr(r.body, "\"manifests\":[]") != NULL,
	    "another artifactType: an empty list: %s", r.body);
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/ref/referrers/%s?artifactType=%%zz "
	    "HTTP/1.1\r\nHost: t\r\n",
	    md);
	ok(r.status == 400 && oci_error(&r, "UNSUPPORTED"),
	    "a malformed artifactType: 400 UNSUPPORTED");
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/ref/referrers/%s HTTP/1.1\r\nHost: t\r\n", sig);
	ok(r.status == 200 && strstr(r.body, "\"manifests\":[]") != NULL,
	    "a digest nothing refers to: an empty list");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/noref/referrers/%s HTTP/1.1\r\nHost: t\r\n", md);
	ok(r.status == 200 && strstr(r.body, "\"manifests\":[]") != NULL,
	    "an unknown repository: 200 and an empty list, never 404");
	resp_free(&r);

	/*
	 * The referrers tag schema: an index tagged sha256-<hex> of the
	 * subject lists a manifest the scan cannot find (it has no
	 * subject), and the artifact again, which is listed once.
	 */
	snprintf(man, sizeof(man),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{"
	    "\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	    "\"digest\":\"%s\",\"size\":37},\"layers\":[]}",
	    MT_OCI_MANIFEST, cfgd);
	is_int(push_manifest("lib/ref", "old", MT_OCI_MANIFEST, man, other, &r),
	    201, "an old-style referrer without subject: 201");
	resp_free(&r);
	snprintf(index, sizeof(index),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[{"
	    "\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,"
	    "\"artifactType\":\"application/vnd.example.old\"},{"
	    "\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}]}",
	    MT_OCI_INDEX, MT_OCI_MANIFEST, other, strlen(man), MT_OCI_MANIFEST,
	    sig, strlen(sigman));
	snprintf(tag, sizeof(tag), "sha256-%s", md + 7);
	is_int(push_manifest("lib/ref", tag, MT_OCI_INDEX, index, tagd, &r),
	    201, "the referrers tag index: 201");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/ref/referrers/%s HTTP/1.1\r\nHost: t\r\n", md);
	ok(r.status == 200 && strstr(r.body, other) != NULL &&
	        strstr(r.body, "application/vnd.example.old") != NULL,
	    "the tag's descriptor is added");
	ok(strstr(r.body, sig) != NULL &&
	        strstr(strstr(r.body, sig) + 1, sig) == NULL,
	    "the artifact is listed once");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/ref/referrers/%s?artifactType=application/"
	    "vnd.example.old HTTP/1.1\r\nHost: t\r\n",
	    md);
	ok(r.status == 200 && strstr(r.body, other) != NULL &&
	        strstr(r.body, sig) == NULL,
	    "the filter applies to the tag's descriptors too");
	resp_free(&r);
}

/* The target of the Link rel="next" header of r into url, "" if none. */
static void
next_url(const struct resp *r, char *url, size_t urlsz)
{
	char link[1024];
	const char *e;

	url[0] = '\0';
	hdr(r, "Link", link, sizeof(link));
	if (link[0] == '<' && (e = strstr(link, ">; rel=\"next\"")) != NULL)
		snprintf(url, urlsz, "%.*s", (int)(e - link - 1), link + 1);
}

/* An artifact manifest of type at, subject subj, told apart by seq. */
static void
artifact(char *buf, size_t bufsz, const char *empty, const char *at,
    const char *subj, int seq)
{
	snprintf(buf, bufsz,
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\","
	    "\"artifactType\":\"%s\",\"config\":{"
	    "\"mediaType\":\"application/vnd.oci.empty.v1+json\","
	    "\"digest\":\"%s\",\"size\":2},\"layers\":[{\"mediaType\":"
	    "\"application/vnd.oci.empty.v1+json\",\"digest\":\"%s\","
	    "\"size\":2}],\"subject\":{\"mediaType\":\"%s\",\"digest\":"
	    "\"%s\",\"size\":1},\"annotations\":{\"seq\":\"%d\"}}",
	    MT_OCI_MANIFEST, at, empty, empty, MT_OCI_MANIFEST, subj, seq);
}

static int
digest_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/*
 * The digests of the descriptors in a referrers answer, in order, into
 * got (at most max); how many.
 */
static size_t
answer_digests(const char *body, char got[][DIGEST_BUFSZ], size_t max)
{
	const char *p = body;
	size_t n = 0;

	while (n < max && (p = strstr(p, "\"digest\":\"")) != NULL) {
		p += 10;
		snprintf(got[n++], DIGEST_BUFSZ, "%.71s", p);
	}
	return n;
}

/*
 * Follow the referrers pages of lib/pages from url (at most five) while
 * each holds the next of the nwant digests in want and links to the one
 * after with n=n, last= and extra (the filter as the Link must carry it;
 * a filter also needs OCI-Filters-Applied on each page). How many pages;
 * *seen the descriptors they held; url is "" when the last had no Link.
 */
static int
walk_pages(char *url, size_t urlsz, const char *subj,
    char want[][DIGEST_BUFSZ], size_t nwant, int n, const char *extra,
    size_t *seen)
{
	struct resp r = { 0 };
	char got[16][DIGEST_BUFSZ], link[512], next[512], v[256];
	size_t i = 0, k;
	int pages;

	for (pages = 0; url[0] != '\0' && pages < 5; pages++) {
		api_req(&r, NULL, 0, "GET %s HTTP/1.1\r\nHost: t\r\n", url);
		k = answer_digests(r.body, got, 16);
		if (r.status != 200 || i + k > nwant ||
		    memcmp(got, want[i], k * DIGEST_BUFSZ) != 0 ||
		    (extra[0] != '\0' &&
		    strcmp(hdr(&r, "OCI-Filters-Applied", v, sizeof(v)),
		        "artifactType") != 0))
			break;
		i += k;
		hdr(&r, "Link", link, sizeof(link));
		url[0] = '\0';
		if (link[0] != '\0') {
			snprintf(next, sizeof(next),
			    "</v2/lib/pages/referrers/%s?n=%d&last=%s%s>; "
			    "rel=\"next\"",
			    subj, n, want[i - 1], extra);
			if (strcmp(link, next) != 0)
				break;
			next_url(&r, url, urlsz);
		}
		resp_free(&r);
	}
	resp_free(&r);
	*seen = i;
	return pages;
}

/*
 * Referrers pages: n= and Link rel="next" in digest order, with and
 * without the artifactType filter; the index a push writes and a delete
 * removes; a referrer another writer added without the index (found by
 * the reconcile), one it deleted (pruned), an entry whose bytes were
 * lost (rebuilt from the manifest).
 */
static void
test_referrers_pages(void)
{
	enum { NREF = 7 };
	static const char *const types[] = {"application/vnd.example.a",
	    "application/vnd.example.b"};
	struct resp r;
	char empty[DIGEST_BUFSZ], subj[DIGEST_BUFSZ], other[DIGEST_BUFSZ];
	char all[NREF + 1][DIGEST_BUFSZ], as[NREF][DIGEST_BUFSZ];
	char got[NREF + 2][DIGEST_BUFSZ], d[DIGEST_BUFSZ];
	char man[2048], want[512], v[256], url[512];
	char **l = NULL, *desc = NULL;
	size_t n = 0, k, i, na = 0, len = 0;
	int pushed = 1, pages;

	digest_buf("the subject", 11, subj);
	ok(push_blob("lib/pages", "{}", empty), "the empty blob pushed");
	for (i = 0; i < NREF; i++) {
		/* Seqs 0, 3, 6 are type b, the others a. */
		artifact(man, sizeof(man), empty, types[i % 3 == 0], subj,
		    (int)i);
		if (push_manifest("lib/pages", "latest", MT_OCI_MANIFEST, man,
		        all[i], &r) != 201)
			pushed = 0;
		if (i % 3 != 0)
			memcpy(as[na++], all[i], DIGEST_BUFSZ);
		resp_free(&r);
	}
	ok(pushed, "%d referrers of one subject pushed", NREF);
	qsort(all, NREF, sizeof(all[0]), digest_cmp);
	qsort(as, na, sizeof(as[0]), digest_cmp);
	ok(store_referrer_list(st, "lib/pages", subj, &l, &n) == 0 &&
	        n == NREF,
	    "the pushes indexed every referrer (%zu)", n);
	store_list_free(l, n);

	/* Without n: one page, no Link. */
	api_req(&r, NULL, 0,
	    "GET /v2/lib/pages/referrers/%s HTTP/1.1\r\nHost: t\r\n", subj);
	k = answer_digests(r.body, got, NREF + 2);
	ok(r.status == 200 && k == NREF &&
	        memcmp(got, all, NREF * sizeof(all[0])) == 0,
	    "all %d in digest order", NREF);
	is_str(hdr(&r, "Link", v, sizeof(v)), "", "in one page: no Link");
	resp_free(&r);

	/* n=3: pages of three, each linked to the next. */
	snprintf(url, sizeof(url), "/v2/lib/pages/referrers/%s?n=3", subj);
	pages = walk_pages(url, sizeof(url), subj, all, NREF, 3, "", &i);
	ok(pages == 3 && i == NREF && url[0] == '\0',
	    "n=3: three pages linked in order, %zu descriptors, the last "
	    "without a Link (%d pages)",
	    i, pages);

	/* The filter: only a's, pages of two, the filter in the Link. */
	snprintf(url, sizeof(url),
	    "/v2/lib/pages/referrers/%s?n=2&artifactType=%s", subj, types[0]);
	pages = walk_pages(url, sizeof(url), subj, as, na, 2,
	    "&artifactType=application%2Fvnd.example.a", &i);
	ok(pages == 2 && i == na && url[0] == '\0',
	    "artifactType with n=2: the %zu a's in two pages, "
	    "OCI-Filters-Applied on each, the filter kept in the Link",
	    na);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/pages/referrers/%s?n=0 HTTP/1.1\r\nHost: t\r\n", subj);
	ok(r.status == 200 && strstr(r.body, "\"manifests\":[]") != NULL,
	    "n=0: an empty list");
	is_str(hdr(&r, "Link", v, sizeof(v)), "", "and no Link");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/pages/referrers/%s?n=-1 HTTP/1.1\r\nHost: t\r\n",
	    subj);
	ok(r.status == 400 && oci_error(&r, "PAGINATION_NUMBER_INVALID"),
	    "n=-1: 400 PAGINATION_NUMBER_INVALID");
	resp_free(&r);

	/* A delete takes the referrer out of the index and the answer. */
	api_req(&r, NULL, 0,
	    "DELETE /v2/lib/pages/manifests/%s HTTP/1.1\r\nHost: t\r\n",
	    all[0]);
	is_int(r.status, 202, "DELETE of a referrer: 202");
	resp_free(&r);
	ok(store_referrer_list(st, "lib/pages", subj, &l, &n) == 0 &&
	        n == NREF - 1 && strcmp(l[0], all[1]) == 0,
	    "its index entry is gone");
	store_list_free(l, n);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/pages/referrers/%s HTTP/1.1\r\nHost: t\r\n", subj);
	k = answer_digests(r.body, got, NREF + 2);
	ok(k == NREF - 1 && memcmp(got, all[1], k * sizeof(all[0])) == 0,
	    "the others are still listed");
	resp_free(&r);

	/*
	 * Another writer (registry:2) adds a referrer without the index:
	 * the next query finds it. Then it deletes another (the link
	 * only): the query no longer lists it and prunes its entry.
	 */
	artifact(man, sizeof(man), empty, types[0], subj, 100);
	digest_buf(man, strlen(man), d);
	ok(store_blob_write(st, d, man, strlen(man)) == 0 &&
	        store_link_write(st, "lib/pages", STORE_LINK_REVISION, d) == 0,
	    "a referrer written without the index");
	ok(store_link_delete(st, "lib/pages", STORE_LINK_REVISION, all[1]) ==
	        0,
	    "a referrer's revision link removed without the index");
	api_req(&r, NULL, 0,
	    "GET /v2/lib/pages/referrers/%s HTTP/1.1\r\nHost: t\r\n", subj);
	ok(r.status == 200 && strstr(r.body, d) != NULL,
	    "the referrer written without the index is listed");
	ok(strstr(r.body, all[1]) == NULL,
	    "the one whose revision is gone is not");
	k = answer_digests(r.body, got, NREF + 2);
	is_int((int)k, NREF - 1, "the others are");
	resp_free(&r);
	ok(store_referrer_list(st, "lib/pages", subj, &l, &n) == 0 &&
	        n == NREF - 1,
	    "the index has the first, not the second");
	for (i = 0; l != NULL && i < n; i++)
		if (strcmp(l[i], all[1]) == 0)
			n = 0;
	store_list_free(l, n);

	/* An entry whose bytes were lost is rebuilt from its manifest. */
	ok(store_referrer_put(st, "lib/pages", all[2], subj, "", 0, 0) == 0,
	    "an entry emptied (as a crash may leave one)");
	api_req(&r, NULL, 0,
	    "GET /v2/lib/pages/referrers/%s HTTP/1.1\r\nHost: t\r\n", subj);
	snprintf(want, sizeof(want), "\"digest\":\"%s\"", all[2]);
	ok(r.status == 200 && strstr(r.body, want) != NULL,
	    "it is listed all the same");
	resp_free(&r);
	ok(store_referrer_get(st, "lib/pages", subj, all[2], 4096, &desc,
	       &len) == 0 &&
	        strstr(desc, want) != NULL,
	    "and rewritten: %s", desc != NULL ? desc : "");
	free(desc);

	/* A referrer of another subject has nothing to do with these. */
	digest_buf("another subject", 15, other);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/pages/referrers/%s HTTP/1.1\r\nHost: t\r\n", other);
	ok(r.status == 200 && strstr(r.body, "\"manifests\":[]") != NULL,
	    "another subject: none");
	resp_free(&r);
}

/*
 * A page also stops at REFERRERS_PAGE_BYTES: descriptors with big
 * annotations (the spec makes the answer carry them) come a few per
 * page, each page under the manifest size limit clients apply to an
 * index, linked to the next.
 */
static void
test_referrers_bytes(void)
{
	enum { NBIG = 4, ANN = 1536 * 1024 };
	struct resp r;
	char empty[DIGEST_BUFSZ], subj[DIGEST_BUFSZ], d[DIGEST_BUFSZ];
	char url[512];
	char *man, *ann;
	size_t i, total = 0;
	int pushed = 1, pages = 0;

	digest_buf("a big subject", 13, subj);
	if ((man = malloc(ANN + 2048)) == NULL ||
	    (ann = malloc(ANN + 1)) == NULL)
		abort();
	memset(ann, 'x', ANN);
	ann[ANN] = '\0';
	ok(push_blob("lib/bytes", "{}", empty), "the empty blob pushed");
	for (i = 0; i < NBIG; i++) {
		snprintf(man, ANN + 2048,
		    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{"
		    "\"mediaType\":\"application/vnd.oci.empty.v1+json\","
		    "\"digest\":\"%s\",\"size\":2},\"layers\":[],"
		    "\"subject\":{\"mediaType\":\"%s\",\"digest\":\"%s\","
		    "\"size\":1},\"annotations\":{\"n\":\"%zu\",\"big\":\"%s\"}}",
		    MT_OCI_MANIFEST, empty, MT_OCI_MANIFEST, subj, i, ann);
		if (push_manifest("lib/bytes", "big", MT_OCI_MANIFEST, man, d,
		        &r) != 201)
			pushed = 0;
		resp_free(&r);
	}
	ok(pushed, "%d referrers with 1.5 MiB of annotations pushed", NBIG);
	snprintf(url, sizeof(url), "/v2/lib/bytes/referrers/%s", subj);
	while (url[0] != '\0' && pages < NBIG + 1) {
		api_req(&r, NULL, 0, "GET %s HTTP/1.1\r\nHost: t\r\n", url);
		if (r.status != 200 || r.bodylen > MANIFEST_MAX_BYTES)
			break;
		pages++;
		for (i = 0; i + 6 < r.bodylen; i++)
			if (memcmp(r.body + i, "\"big\":", 6) == 0)
				total++;
		next_url(&r, url, sizeof(url));
		resp_free(&r);
	}
	ok(pages == NBIG / 2 && total == NBIG,
	    "two per page, each under %d bytes, all %d over %d pages "
	    "(%zu seen)",
	    MANIFEST_MAX_BYTES, NBIG, pages, total);
	free(man);
	free(ann);
}

/*
 * A manifest reference that is neither a tag nor a digest names nothing:
 * GET, HEAD and DELETE answer 404 MANIFEST_UNKNOWN with the OCI error
 * body (the conformance suite reads ".INVALID_MANIFEST_NAME"); a PUT
 * under it is still told the tag is invalid.
 */
static void
test_manifest_bad_refs(void)
{
	static const char *const refs[] = {
	    ".INVALID_MANIFEST_NAME", "-x", "sha256:abc", "sha512:abc"};
	struct resp r, h;
	char cfgd[DIGEST_BUFSZ], layer[DIGEST_BUFSZ], md[DIGEST_BUFSZ];
	char man[1024], v[64];
	size_t i;

	ok(push_blob("lib/badref",
	       "{\"architecture\":\"amd64\",\"os\":\"linux\"}", cfgd) &&
	        push_blob("lib/badref", "layer bytes", layer),
	    "config and layer pushed");
	image_manifest(man, sizeof(man), cfgd, layer);
	is_int(push_manifest("lib/badref", "v1", MT_OCI_MANIFEST, man, md, &r),
	    201, "a manifest in the repository");
	resp_free(&r);

	for (i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		api_req(&r, NULL, 0,
		    "GET /v2/lib/badref/manifests/%s HTTP/1.1\r\nHost: t\r\n",
		    refs[i]);
		ok(r.status == 404 && oci_error(&r, "MANIFEST_UNKNOWN"),
		    "GET of reference %s: 404 MANIFEST_UNKNOWN (%d %s)",
		    refs[i], r.status, r.body);
		api_req(&h, NULL, 0,
		    "HEAD /v2/lib/badref/manifests/%s HTTP/1.1\r\nHost: t\r\n",
		    refs[i]);
		ok(h.status == 404 &&
		        strtoul(hdr(&h, "Content-Length", v, sizeof(v)), NULL,
		            10) == r.bodylen,
		    "HEAD of reference %s: the same 404", refs[i]);
		resp_free(&h);
		resp_free(&r);
		api_req(&r, NULL, 0,
		    "DELETE /v2/lib/badref/manifests/%s HTTP/1.1\r\nHost: "
		    "t\r\n",
		    refs[i]);
		ok(r.status == 404 && oci_error(&r, "MANIFEST_UNKNOWN"),
		    "DELETE of reference %s: 404 MANIFEST_UNKNOWN (%d %s)",
		    refs[i], r.status, r.body);
		resp_free(&r);
	}

	is_int(push_manifest("lib/badref", "-x", MT_OCI_MANIFEST, man, md, &r),
	    400, "PUT under an invalid tag: 400");
	ok(oci_error(&r, "TAG_INVALID"), "TAG_INVALID: %s", r.body);
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/badref/manifests/v1 HTTP/1.1\r\nHost: t\r\n");
	is_int(r.status, 200, "the manifest is still there");
	resp_free(&r);
}

/* DELETE of a blob and of a manifest by tag (delete is enabled here). */
static void
test_deletes(void)
{
	struct resp r;
	char d[DIGEST_BUFSZ], cfgd[DIGEST_BUFSZ], layer[DIGEST_BUFSZ];
	char md[DIGEST_BUFSZ], man[1024];
	uint64_t size;

	ok(push_blob("lib/del", "doomed layer", d), "a blob pushed");
	api_req(&r, NULL, 0,
	    "DELETE /v2/lib/del/blobs/%s HTTP/1.1\r\nHost: t\r\n", d);
	ok(r.status == 202 && r.bodylen == 0, "blob DELETE: 202");
	resp_free(&r);
	is_int(store_link_exists(st, "lib/del", STORE_LINK_LAYER, d), 0,
	    "the layer link is gone");
	ok(store_blob_stat(st, d, &size) == 0,
	    "the data stays for garbage-collect");
	api_req(&r, NULL, 0, "GET /v2/lib/del/blobs/%s HTTP/1.1\r\nHost: t\r\n",
	    d);
	ok(r.status == 404 && oci_error(&r, "BLOB_UNKNOWN"),
	    "the blob is no longer served: 404 BLOB_UNKNOWN");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "DELETE /v2/lib/del/blobs/%s HTTP/1.1\r\nHost: t\r\n", d);
	ok(r.status == 404 && oci_error(&r, "BLOB_UNKNOWN"),
	    "deleting it again: 404 BLOB_UNKNOWN");
	resp_free(&r);

	ok(push_blob("lib/del", "{\"architecture\":\"amd64\",\"os\":\"linux\"}",
	       cfgd) &&
	        push_blob("lib/del", "layer bytes", layer),
	    "config and layer pushed");
	image_manifest(man, sizeof(man), cfgd, layer);
	ok(push_manifest("lib/del", "a", MT_OCI_MANIFEST, man, md, &r) == 201,
	    "tag a");
	resp_free(&r);
	ok(push_manifest("lib/del", "b", MT_OCI_MANIFEST, man, md, &r) == 201,
	    "tag b of the same manifest");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "DELETE /v2/lib/del/manifests/a HTTP/1.1\r\nHost: t\r\n");
	is_int(r.status, 202, "manifest DELETE by tag: 202");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/del/manifests/a HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 404 && oci_error(&r, "MANIFEST_UNKNOWN"),
	    "the tag is gone: 404 MANIFEST_UNKNOWN");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/del/manifests/b HTTP/1.1\r\nHost: t\r\n");
	is_int(r.status, 200, "the other tag stays");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "DELETE /v2/lib/del/manifests/a HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 404 && oci_error(&r, "MANIFEST_UNKNOWN"),
	    "deleting the tag again: 404 MANIFEST_UNKNOWN");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "DELETE /v2/lib/nodel/manifests/a HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 404 && oci_error(&r, "NAME_UNKNOWN"),
	    "a tag of an unknown repository: 404 NAME_UNKNOWN");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "DELETE /v2/lib/nodel/manifests/%s HTTP/1.1\r\nHost: t\r\n", md);
	ok(r.status == 404 && oci_error(&r, "NAME_UNKNOWN"),
	    "a digest in an unknown repository: 404 NAME_UNKNOWN");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "DELETE /v2/lib/del/manifests/%s HTTP/1.1\r\nHost: t\r\n", md);
	is_int(r.status, 202, "manifest DELETE by digest: 202");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/del/tags/list HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 200 &&
	        strcmp(r.body, "{\"name\":\"lib/del\",\"tags\":[]}") == 0,
	    "it took tag b with it: %s", r.body);
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "DELETE /v2/lib/del/manifests/%s HTTP/1.1\r\nHost: t\r\n", md);
	ok(r.status == 404 && oci_error(&r, "MANIFEST_UNKNOWN"),
	    "deleting the digest again: 404 MANIFEST_UNKNOWN");
	resp_free(&r);
}

/*
 * DELETE by digest takes only the tags that point at the digest when
 * they are removed: one re-pointed to another manifest stays.
 */
static void
test_delete_repointed(void)
{
	struct resp r;
	char cfgd[DIGEST_BUFSZ], layer[DIGEST_BUFSZ], m1[DIGEST_BUFSZ];
	char m2[DIGEST_BUFSZ], man1[1024], man2[1024], cur[DIGEST_BUFSZ];

	ok(push_blob("lib/repoint",
	       "{\"architecture\":\"amd64\",\"os\":\"linux\"}", cfgd) &&
	        push_blob("lib/repoint", "layer bytes", layer),
	    "config and layer pushed");
	image_manifest(man1, sizeof(man1), cfgd, layer);
	snprintf(man2, sizeof(man2),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{"
	    "\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	    "\"digest\":\"%s\",\"size\":37},\"layers\":[]}",
	    MT_OCI_MANIFEST, cfgd);
	ok(push_manifest("lib/repoint", "a", MT_OCI_MANIFEST, man1, m1, &r) ==
	        201,
	    "tag a: manifest 1");
	resp_free(&r);
	ok(push_manifest("lib/repoint", "b", MT_OCI_MANIFEST, man1, m1, &r) ==
	        201,
	    "tag b: manifest 1");
	resp_free(&r);
	ok(push_manifest("lib/repoint", "b", MT_OCI_MANIFEST, man2, m2, &r) ==
	        201,
	    "tag b re-pointed to manifest 2");
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "DELETE /v2/lib/repoint/manifests/%s HTTP/1.1\r\nHost: t\r\n",
	    m1);
	is_int(r.status, 202, "DELETE of manifest 1: 202");
	resp_free(&r);
	ok(store_tag_get(st, "lib/repoint", "a", cur) == -1 && errno == ENOENT,
	    "tag a went with it");
	ok(store_tag_get(st, "lib/repoint", "b", cur) == 0 &&
	        strcmp(cur, m2) == 0,
	    "tag b, re-pointed, stays on manifest 2");
	api_req(&r, NULL, 0,
	    "GET /v2/lib/repoint/manifests/b HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 200 && r.bodylen == strlen(man2),
	    "and is served: manifest 2");
	resp_free(&r);
}

/* tags/list pages: n=, last=, and the Link to the next page. */
static void
test_tags_pages(void)
{
	static const char *const tags[] = {"b", "a", "d", "c", "e"};
	struct resp r;
	char cfgd[DIGEST_BUFSZ], layer[DIGEST_BUFSZ], md[DIGEST_BUFSZ];
	char man[1024], v[256];
	size_t i;
	int pushed = 1;

	ok(push_blob("lib/tags",
	       "{\"architecture\":\"amd64\",\"os\":\"linux\"}", cfgd) &&
	        push_blob("lib/tags", "layer bytes", layer),
	    "config and layer pushed");
	image_manifest(man, sizeof(man), cfgd, layer);
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		if (push_manifest("lib/tags", tags[i], MT_OCI_MANIFEST, man, md,
		        &r) != 201)
			pushed = 0;
		resp_free(&r);
	}
	ok(pushed, "five tags pushed");

	api_req(&r, NULL, 0,
	    "GET /v2/lib/tags/tags/list?n=2 HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 200 &&
	        strcmp(r.body,
	            "{\"name\":\"lib/tags\",\"tags\":[\"a\",\"b\"]}") == 0,
	    "n=2: the first two in order: %s", r.body);
	is_str(hdr(&r, "Link", v, sizeof(v)),
	    "</v2/lib/tags/tags/list?n=2&last=b>; rel=\"next\"",
	    "Link to the next page");
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/tags/tags/list?n=2&last=b HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 200 &&
	        strcmp(r.body,
	            "{\"name\":\"lib/tags\",\"tags\":[\"c\",\"d\"]}") == 0,
	    "the next page: %s", r.body);
	is_str(hdr(&r, "Link", v, sizeof(v)),
	    "</v2/lib/tags/tags/list?n=2&last=d>; rel=\"next\"",
	    "and its Link");
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/tags/tags/list?n=2&last=d HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 200 &&
	        strcmp(r.body, "{\"name\":\"lib/tags\",\"tags\":[\"e\"]}") == 0,
	    "the last page: %s", r.body);
	is_str(hdr(&r, "Link", v, sizeof(v)), "", "without a Link");
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/tags/tags/list?last=bb HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 200 &&
	        strcmp(r.body,
	            "{\"name\":\"lib/tags\",\"tags\":[\"c\",\"d\",\"e\"]}") ==
	            0,
	    "last= between tags: those after it: %s", r.body);
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/tags/tags/list?n=0 HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 200 &&
	        strcmp(r.body, "{\"name\":\"lib/tags\",\"tags\":[]}") == 0,
	    "n=0: an empty list: %s", r.body);
	is_str(hdr(&r, "Link", v, sizeof(v)), "", "and no Link");
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/tags/tags/list?n=x HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 400 && oci_error(&r, "PAGINATION_NUMBER_INVALID"),
	    "n=x: 400 PAGINATION_NUMBER_INVALID");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/none/tags/list?n=x HTTP/1.1\r\nHost: t\r\n");
	is_int(r.status, 400,
	    "the parameters are checked before the repository");
	resp_free(&r);
}

/*
 * With every store call deferred: clients that leave while their job is
 * on the pool. The jobs still do their storage work (and a push its
 * catalog entry) and free what they hold, which ASan checks.
 */
static void
test_gone(void)
{
	struct resp r;
	char cfgd[DIGEST_BUFSZ], layer[DIGEST_BUFSZ], d[DIGEST_BUFSZ];
	char md[DIGEST_BUFSZ], bad[DIGEST_BUFSZ], man[1024];

	ok(push_blob("lib/gone",
	       "{\"architecture\":\"amd64\",\"os\":\"linux\"}", cfgd) &&
	        push_blob("lib/gone", "layer bytes", layer) &&
	        push_blob("lib/gone", "gone layer", d),
	    "blobs pushed");

	snprintf(man, sizeof(man),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{"
	    "\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	    "\"digest\":\"%s\",\"size\":37},\"layers\":[]}",
	    MT_OCI_MANIFEST,
	    "sha256:0000000000000000000000000000000000000000"
	    "000000000000000000000000");
	digest_buf(man, strlen(man), bad);
	ok(api_gone(man, strlen(man),
	       "PUT /v2/lib/gone/manifests/bad HTTP/1.1\r\nHost: t\r\n"
	       "Content-Type: %s\r\nContent-Length: %zu\r\n",
	       MT_OCI_MANIFEST, strlen(man)),
	    "a manifest PUT its job refuses: the client leaves first");
	ok(store_link_exists(st, "lib/gone", STORE_LINK_REVISION, bad) == 0,
	    "nothing was stored");

	image_manifest(man, sizeof(man), cfgd, layer);
	digest_buf(man, strlen(man), md);
	ok(api_gone(man, strlen(man),
	       "PUT /v2/lib/gone/manifests/v1 HTTP/1.1\r\nHost: t\r\n"
	       "Content-Type: %s\r\nContent-Length: %zu\r\n",
	       MT_OCI_MANIFEST, strlen(man)),
	    "manifest PUT: the client leaves before the job is done");
	is_int(store_link_exists(st, "lib/gone", STORE_LINK_REVISION, md), 1,
	    "the manifest was stored all the same");
	api_req(&r, NULL, 0, "GET /v2/_catalog HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 200 && strstr(r.body, "\"lib/gone\"") != NULL,
	    "and the catalog lists its repository");
	resp_free(&r);

	ok(api_gone(NULL, 0,
	       "GET /v2/lib/gone/manifests/v1 HTTP/1.1\r\nHost: t\r\n"),
	    "manifest GET");
	ok(api_gone(NULL, 0,
	       "GET /v2/lib/gone/manifests/v1 HTTP/1.1\r\nHost: t\r\n"
	       "If-None-Match: \"%s\"\r\n",
	       md),
	    "manifest GET with If-None-Match");
	ok(api_gone(NULL, 0,
	       "GET /v2/lib/gone/manifests/nope HTTP/1.1\r\nHost: t\r\n"),
	    "manifest GET of a missing tag");
	ok(api_gone(NULL, 0,
	       "GET /v2/lib/gone/referrers/%s HTTP/1.1\r\nHost: t\r\n", md),
	    "referrers");
	ok(api_gone(NULL, 0,
	       "GET /v2/lib/gone/tags/list HTTP/1.1\r\nHost: t\r\n"),
	    "tags/list");
	ok(api_gone(NULL, 0, "GET /v2/_catalog HTTP/1.1\r\nHost: t\r\n"),
	    "_catalog (its JSON is made off the loop)");
	ok(api_gone(NULL, 0,
	       "GET /v2/lib/gone/blobs/%s HTTP/1.1\r\nHost: t\r\n", layer),
	    "blob GET");
	ok(api_gone(NULL, 0,
	       "DELETE /v2/lib/gone/blobs/%s HTTP/1.1\r\nHost: t\r\n", d),
	    "blob DELETE");
	is_int(store_link_exists(st, "lib/gone", STORE_LINK_LAYER, d), 0,
	    "the layer was unlinked all the same");
	ok(api_gone(NULL, 0,
	       "DELETE /v2/lib/gone/manifests/%s HTTP/1.1\r\nHost: t\r\n", md),
	    "manifest DELETE by digest");
	is_int(store_link_exists(st, "lib/gone", STORE_LINK_REVISION, md), 0,
	    "the revision was unlinked all the same");
}

/*
 * A Docker image manifest (schema 2) of config cfgd and one layer, with
 * tag making it distinct, into buf.
 */
static void
docker_manifest(char *buf, size_t bufsz, const char *cfgd, const char *layer,
    const char *tag)
{
	snprintf(buf, bufsz,
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{"
	    "\"mediaType\":\"application/vnd.docker.container.image.v1+json\","
	    "\"digest\":\"%s\",\"size\":37},\"layers\":[{\"mediaType\":"
	    "\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"digest\":"
	    "\"%s\",\"size\":11,\"annotations\":{\"t\":\"%s\"}}]}",
	    MT_DOCKER_MANIFEST, cfgd, layer, tag);
}

/*
 * GET (or HEAD) /v2/lib/old/manifests/ref with Accept accept (NULL: none)
 * and If-None-Match inm (NULL: none) into r.
 */
static void
old_get(struct resp *r, const char *method, const char *ref,
    const char *accept, const char *inm)
{
	char a[512] = "", i[256] = "";

	if (accept != NULL)
		snprintf(a, sizeof(a), "Accept: %s\r\n", accept);
	if (inm != NULL)
		snprintf(i, sizeof(i), "If-None-Match: \"%s\"\r\n", inm);
	api_req(r, NULL, 0,
	    "%s /v2/lib/old/manifests/%s HTTP/1.1\r\nHost: t\r\n%s%s", method,
	    ref, a, i);
}

/*
 * Old clients (hardening item 15), as registry:2 answers them: by tag, a
 * Docker manifest list asked for with an Accept that lacks the list type
 * is served as its linux/amd64 image manifest when that type is accepted
 * (its digest and ETag, HEAD like GET), else 404 MANIFEST_UNKNOWN. By
 * digest the exact bytes or 404; without Accept what is stored.
 */
static void
test_old_clients(void)
{
	struct resp r;
	char cfgd[DIGEST_BUFSZ], layer[DIGEST_BUFSZ];
	char amd[DIGEST_BUFSZ], arm[DIGEST_BUFSZ], ld[DIGEST_BUFSZ];
	char ad[DIGEST_BUFSZ], xd[DIGEST_BUFSZ];
	char mamd[1024], marm[1024], list[2048], v[256], want[256];
	const char *old = MT_DOCKER_MANIFEST;
	const char *both = MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST;

	ok(push_blob("lib/old",
	       "{\"architecture\":\"amd64\",\"os\":\"linux\"}", cfgd) &&
	        push_blob("lib/old", "layer bytes", layer),
	    "config and layer pushed");
	docker_manifest(mamd, sizeof(mamd), cfgd, layer, "amd64");
	docker_manifest(marm, sizeof(marm), cfgd, layer, "arm64");
	ok(push_manifest("lib/old", "amd", MT_DOCKER_MANIFEST, mamd, amd, &r) ==
	        201,
	    "linux/amd64 image pushed");
	resp_free(&r);
	ok(push_manifest("lib/old", "arm", MT_DOCKER_MANIFEST, marm, arm, &r) ==
	        201,
	    "linux/arm64 image pushed");
	resp_free(&r);
	/* arm64 first: the pick is by platform, not by position. */
	snprintf(list, sizeof(list),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":["
	    "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,"
	    "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\","
	    "\"variant\":\"v8\"}},"
	    "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,"
	    "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}",
	    MT_DOCKER_LIST, MT_DOCKER_MANIFEST, arm, strlen(marm),
	    MT_DOCKER_MANIFEST, amd, strlen(mamd));
	ok(push_manifest("lib/old", "multi", MT_DOCKER_LIST, list, ld, &r) ==
	        201,
	    "manifest list pushed as multi");
	resp_free(&r);
	snprintf(want, sizeof(want), "\"%s\"", amd);

	old_get(&r, "GET", "multi", old, NULL);
	ok(r.status == 200 && r.bodylen == strlen(mamd) &&
	        memcmp(r.body, mamd, r.bodylen) == 0,
	    "by tag, Accept without the list type: the linux/amd64 image");
	is_str(hdr(&r, "Content-Type", v, sizeof(v)), MT_DOCKER_MANIFEST,
	    "its type");
	is_str(hdr(&r, "Docker-Content-Digest", v, sizeof(v)), amd,
	    "its digest");
	is_str(hdr(&r, "ETag", v, sizeof(v)), want, "its ETag");
	resp_free(&r);
	old_get(&r, "HEAD", "multi", old, NULL);
	ok(r.status == 200 &&
	        strcmp(hdr(&r, "Docker-Content-Digest", v, sizeof(v)), amd) ==
	            0,
	    "HEAD like GET: 200, the image's digest");
	snprintf(want, sizeof(want), "%zu", strlen(mamd));
	is_str(hdr(&r, "Content-Length", v, sizeof(v)), want,
	    "and its Content-Length");
	resp_free(&r);

	old_get(&r, "GET", "multi", both, NULL);
	ok(r.status == 200 && r.bodylen == strlen(list) &&
	        strcmp(hdr(&r, "Docker-Content-Digest", v, sizeof(v)), ld) ==
	            0,
	    "Accept with the list type: the list");
	resp_free(&r);
	old_get(&r, "GET", "multi", NULL, NULL);
	ok(r.status == 200 && r.bodylen == strlen(list),
	    "no Accept: the list, unchanged");
	resp_free(&r);
	old_get(&r, "GET", "multi", "*/*", NULL);
	ok(r.status == 200 && r.bodylen == strlen(list),
	    "Accept: */*: the list");
	resp_free(&r);
	old_get(&r, "GET", "multi", MT_OCI_MANIFEST, NULL);
	ok(r.status == 404 && oci_error(&r, "MANIFEST_UNKNOWN"),
	    "Accept that admits neither the list nor its image: 404 "
	    "MANIFEST_UNKNOWN");
	resp_free(&r);
	old_get(&r, "HEAD", "multi", MT_OCI_MANIFEST, NULL);
	is_int(r.status, 404, "HEAD too");
	resp_free(&r);

	old_get(&r, "GET", ld, old, NULL);
	ok(r.status == 404 && oci_error(&r, "MANIFEST_UNKNOWN"),
	    "the list by digest, Accept without its type: 404, not the image");
	resp_free(&r);
	old_get(&r, "GET", ld, both, NULL);
	ok(r.status == 200 && r.bodylen == strlen(list) &&
	        memcmp(r.body, list, r.bodylen) == 0,
	    "the list by digest, Accept with its type: the exact bytes");
	resp_free(&r);

	snprintf(want, sizeof(want), "\"%s\"", amd);
	old_get(&r, "GET", "multi", old, amd);
	ok(r.status == 304 &&
	        strcmp(hdr(&r, "ETag", v, sizeof(v)), want) == 0,
	    "If-None-Match with the image's digest: 304");
	resp_free(&r);
	old_get(&r, "GET", "multi", old, ld);
	ok(r.status == 200 && r.bodylen == strlen(mamd),
	    "If-None-Match with the list's digest: 200, the image");
	resp_free(&r);

	/* A list without linux/amd64. */
	snprintf(list, sizeof(list),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":["
	    "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,"
	    "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}}]}",
	    MT_DOCKER_LIST, MT_DOCKER_MANIFEST, arm, strlen(marm));
	ok(push_manifest("lib/old", "armonly", MT_DOCKER_LIST, list, ad, &r) ==
	        201,
	    "a list of linux/arm64 only");
	resp_free(&r);
	old_get(&r, "GET", "armonly", old, NULL);
	ok(r.status == 404 && oci_error(&r, "MANIFEST_UNKNOWN"),
	    "old client, no linux/amd64 image: 404 MANIFEST_UNKNOWN");
	resp_free(&r);

	/* An OCI index is not rewritten (nor by registry:2). */
	snprintf(list, sizeof(list),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":["
	    "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,"
	    "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}",
	    MT_OCI_INDEX, MT_DOCKER_MANIFEST, amd, strlen(mamd));
	ok(push_manifest("lib/old", "oci", MT_OCI_INDEX, list, xd, &r) == 201,
	    "an OCI index with a linux/amd64 entry");
	resp_free(&r);
	old_get(&r, "GET", "oci", old, NULL);
	ok(r.status == 404 && oci_error(&r, "MANIFEST_UNKNOWN"),
	    "an OCI index for an old client: 404, as any type not accepted");
	resp_free(&r);

	/* The image is gone from the repository: 404, never another's. */
	api_req(&r, NULL, 0,
	    "DELETE /v2/lib/old/manifests/%s HTTP/1.1\r\nHost: t\r\n", amd);
	is_int(r.status, 202, "the linux/amd64 image deleted");
	resp_free(&r);
	old_get(&r, "GET", "multi", old, NULL);
	ok(r.status == 404 && oci_error(&r, "MANIFEST_UNKNOWN"),
	    "old client, the image no longer in the repository: 404");
	resp_free(&r);
	old_get(&r, "GET", "multi", both, NULL);
	ok(r.status == 200 && r.bodylen > 0 &&
	        strcmp(hdr(&r, "Docker-Content-Digest", v, sizeof(v)), ld) ==
	            0,
	    "the list itself is still served");
	resp_free(&r);
}

/*
 * Run the loop until the response to cl is complete (into r); 1 when it
 * came.
 */
static int
client_wait(struct client *cl, struct resp *r)
{
	int i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < 20000; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (api_parse(bufferevent_get_input(cl->cl_pair[1]), 0, r))
			return 1;
		if (i > 100)
			usleep(100);
	}
	r->body = calloc(1, 1);
	return 0;
}

/* Connect a new client and send raw bytes (a chunked request). */
static void
client_raw(struct client *cl, const char *raw)
{
	struct bufferevent **pair = cl->cl_pair;

	if (bufferevent_pair_new(base, 0, pair) == -1)
		abort();
	if ((cl->cl_hc = http_conn_new(pair[0], 1, "127.0.0.1:1", "127.0.0.1",
	         0)) == NULL)
		abort();
	bufferevent_setcb(pair[0], api_read_cb, api_write_cb, NULL, cl->cl_hc);
	bufferevent_enable(pair[0], EV_READ | EV_WRITE);
	bufferevent_enable(pair[1], EV_READ | EV_WRITE);
	bufferevent_write(pair[1], raw, strlen(raw));
}

/* Spin the loop a little: what was sent is read. */
static void
spin(void)
{
	int i;

	for (i = 0; i < 50; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

/*
 * Manifest bodies in memory: counted as they grow, never allocated from
 * Content-Length, capped by manifest_buffer_max (503 UNAVAILABLE with
 * Retry-After beyond), released on every way a request ends.
 */
static void
test_manifest_buffer(void)
{
	static char big[1024 * 1024];
	struct client a, b, c;
	struct resp r;
	char cfgd[DIGEST_BUFSZ], layer[DIGEST_BUFSZ], md[DIGEST_BUFSZ];
	char man[1024], v[256];
	int i, saved = cfg.cf_manifest_buffer_max;

	memset(big, ' ', sizeof(big));
	ok(pool_idle() && api_manifest_body_held() == 0, "nothing held");

	/* Complete: a stored manifest is counted until its job is done. */
	ok(push_blob("lib/buf", "{\"architecture\":\"amd64\",\"os\":\"linux\"}",
	       cfgd) &&
	        push_blob("lib/buf", "layer bytes", layer),
	    "config and layer pushed");
	image_manifest(man, sizeof(man), cfgd, layer);
	is_int(push_manifest("lib/buf", "v1", MT_OCI_MANIFEST, man, md, &r),
	    201, "manifest PUT: 201");
	resp_free(&r);
	ok(pool_idle() && api_manifest_body_held() == 0,
	    "stored: nothing held");

	/* Refused after the body: bad digest, not a manifest. */
	api_req(&r, man, strlen(man),
	    "PUT /v2/lib/buf/manifests/sha256:%064d HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n",
	    0, MT_OCI_MANIFEST, strlen(man));
	ok(r.status == 400 && oci_error(&r, "DIGEST_INVALID") &&
	        api_manifest_body_held() == 0,
	    "DIGEST_INVALID: nothing held");
	resp_free(&r);
	api_req(&r, "{nope", 5,
	    "PUT /v2/lib/buf/manifests/v2 HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: %s\r\nContent-Length: 5\r\n",
	    MT_OCI_MANIFEST);
	ok(r.status == 400 && oci_error(&r, "MANIFEST_INVALID") &&
	        api_manifest_body_held() == 0,
	    "MANIFEST_INVALID: nothing held");
	resp_free(&r);

	/* A chunked body past MANIFEST_MAX_BYTES: 413, released at once. */
	client_raw(&a,
	    "PUT /v2/lib/buf/manifests/v3 HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < 5; i++) {
		bufferevent_write(a.cl_pair[1], "100000\r\n", 8);
		bufferevent_write(a.cl_pair[1], big, sizeof(big));
		bufferevent_write(a.cl_pair[1], "\r\n", 2);
	}
	ok(client_wait(&a, &r) && r.status == 413 &&
	        oci_error(&r, "SIZE_INVALID"),
	    "chunked manifest past 4 MiB: 413 SIZE_INVALID");
	is_int((int)api_manifest_body_held(), 0, "413: released at once");
	resp_free(&r);
	client_close(&a);

	/* Content-Length is no allocation: 4 MiB announced, 10 bytes sent. */
	client_send(&a,
	    "PUT /v2/lib/buf/manifests/v4 HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n"
	    "Content-Length: 4194304\r\n",
	    "0123456789", 10);
	spin();
	is_int((int)api_manifest_body_held(), 4096,
	    "4 MiB announced, 10 bytes sent: 4 KiB held");
	/* Growth stops at the Content-Length. */
	bufferevent_write(a.cl_pair[1], big, sizeof(big) - 10);
	spin();
	is_int((int)api_manifest_body_held(), 1024 * 1024,
	    "1 MiB sent: 1 MiB held");

	/* The cap: 4 MiB in all. b announces 3 MiB + 1: refused now. */
	cfg.cf_manifest_buffer_max = 4 * 1024 * 1024;
	client_send(&b,
	    "PUT /v2/lib/buf/manifests/v5 HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n"
	    "Content-Length: 3145729\r\n",
	    "{", 1);
	ok(client_wait(&b, &r) && r.status == 503 &&
	        oci_error(&r, "UNAVAILABLE") &&
	        strcmp(hdr(&r, "Retry-After", v, sizeof(v)), "5") == 0,
	    "a body that would not fit: 503 UNAVAILABLE, Retry-After: 5");
	resp_free(&r);
	client_close(&b);
	is_int((int)api_manifest_body_held(), 1024 * 1024,
	    "only a's 1 MiB held");

	/* A chunked body grows into the cap: refused on the way. */
	client_raw(&b,
	    "PUT /v2/lib/buf/manifests/v6 HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < 4; i++) {
		bufferevent_write(b.cl_pair[1], "100000\r\n", 8);
		bufferevent_write(b.cl_pair[1], big, sizeof(big));
		bufferevent_write(b.cl_pair[1], "\r\n", 2);
	}
	ok(client_wait(&b, &r) && r.status == 503 &&
	        oci_error(&r, "UNAVAILABLE"),
	    "a chunked body growing past the cap: 503 UNAVAILABLE");
	resp_free(&r);
	is_int((int)api_manifest_body_held(), 1024 * 1024,
	    "its buffer released at once");
	client_close(&b);

	/* Abandoned: the client goes away mid-body. */
	client_close(&a);
	is_int((int)api_manifest_body_held(), 0,
	    "a client gone mid-body: released");

	/* A normal PUT works again. */
	client_send(&c,
	    "PUT /v2/lib/buf/manifests/v7 HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n"
	    "Content-Length: 3145729\r\n",
	    "{", 1);
	spin();
	is_int((int)api_manifest_body_held(), 4096,
	    "3 MiB announced fits now: 4 KiB held");
	client_close(&c);
	is_int(push_manifest("lib/buf", "v8", MT_OCI_MANIFEST, man, md, &r),
	    201, "a manifest PUT under the cap: 201");
	resp_free(&r);
	ok(pool_idle() && api_manifest_body_held() == 0, "nothing held");
	cfg.cf_manifest_buffer_max = saved;
}

/*
 * 1 when the store says blob digest (with repo: its layer link there) was
 * used in the last minute.
 */
static int
used_now(const char *repo, const char *digest)
{
	struct timespec now, ts;

	(void)clock_gettime(CLOCK_REALTIME_COARSE, &now);
	now.tv_sec -= 60;
	if (repo != NULL)
		return store_link_used(st, repo, STORE_LINK_LAYER, digest,
		           &ts) == 0 &&
		    ts.tv_sec >= now.tv_sec;
	return store_blob_used(st, digest, &ts) == 0 && ts.tv_sec >= now.tv_sec;
}

/*
 * What online garbage collection relies on (gc.c): a blob HEAD (a client
 * about to skip an upload), a mount and a manifest PUT mark what they
 * found or named as used in the store; a GET does not.
 */
static void
test_used(void)
{
	struct resp r;
	char l[DIGEST_BUFSZ], c[DIGEST_BUFSZ], m[DIGEST_BUFSZ], man[1024];

	ok(push_blob("lib/used", "used layer!", l) &&
	        push_blob("lib/used",
	            "{\"architecture\":\"amd64\",\"os\":\"x\"}", c),
	    "used: two blobs pushed");
	store_mem_age(st, 7200);
	ok(!used_now(NULL, l) && !used_now(NULL, c), "used: aged two hours");
	api_req(&r, NULL, 0,
	    "GET /v2/lib/used/blobs/%s HTTP/1.1\r\nHost: t\r\n", c);
	is_int(r.status, 200, "used: GET of a blob");
	resp_free(&r);
	ok(!used_now(NULL, c) && !used_now("lib/used", c),
	    "used: a GET touches nothing");
	api_req(&r, NULL, 0,
	    "HEAD /v2/lib/used/blobs/%s HTTP/1.1\r\nHost: t\r\n", l);
	is_int(r.status, 200, "used: HEAD of a blob");
	resp_free(&r);
	ok(used_now("lib/used", l) && used_now(NULL, l),
	    "used: a HEAD touches the layer link and the blob");
	api_req(&r, NULL, 0,
	    "POST /v2/lib/used2/blobs/uploads/?mount=%s&from=lib/used "
	    "HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n",
	    c);
	is_int(r.status, 201, "used: a mount");
	resp_free(&r);
	ok(used_now("lib/used2", c) && used_now(NULL, c),
	    "used: the mounted blob and its new link are used now");
	store_mem_age(st, 7200);
	image_manifest(man, sizeof(man), c, l);
	is_int(push_manifest("lib/used", "v1", MT_OCI_MANIFEST, man, m, &r),
	    201, "used: a manifest PUT");
	resp_free(&r);
	ok(used_now("lib/used", c) && used_now("lib/used", l) &&
	        used_now(NULL, c) && used_now(NULL, l),
	    "used: it touched the links and blobs it names");
}

/*
 * Read-only (registry:2's maintenance mode): every write under /v2/ is
 * 405 UNSUPPORTED with what the route still allows; reads work and touch
 * nothing.
 */
static void
test_read_only(void)
{
	struct resp r;
	char v[64], l[DIGEST_BUFSZ], m[DIGEST_BUFSZ];
	const char *man = "{\"schemaVersion\":2}";

	ok(push_blob("lib/ro", "read only", l), "read-only: a blob first");
	cfg.cf_read_only = 1;
	store_mem_age(st, 7200);
	api_req(&r, NULL, 0,
	    "POST /v2/lib/ro/blobs/uploads/ HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 0\r\n");
	ok(r.status == 405 && oci_error(&r, "UNSUPPORTED") &&
	        strcasestr(r.head, "\r\nAllow:") != NULL &&
	        strcmp(hdr(&r, "Allow", v, sizeof(v)), "") == 0,
	    "read-only: POST of an upload: 405 UNSUPPORTED, nothing allowed");
	resp_free(&r);
	digest_buf(man, strlen(man), m);
	api_req(&r, man, strlen(man),
	    "PUT /v2/lib/ro/manifests/v1 HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n",
	    MT_OCI_MANIFEST, strlen(man));
	ok(r.status == 405 && oci_error(&r, "UNSUPPORTED") &&
	        strcmp(hdr(&r, "Allow", v, sizeof(v)), "GET, HEAD") == 0,
	    "read-only: PUT of a manifest: 405, GET and HEAD allowed");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "DELETE /v2/lib/ro/blobs/%s HTTP/1.1\r\nHost: t\r\n", l);
	ok(r.status == 405 && oci_error(&r, "UNSUPPORTED"),
	    "read-only: DELETE of a blob: 405");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "DELETE /v2/lib/ro/manifests/%s HTTP/1.1\r\nHost: t\r\n", m);
	ok(r.status == 405 && oci_error(&r, "UNSUPPORTED"),
	    "read-only: DELETE of a manifest: 405");
	resp_free(&r);
	api_req(&r, NULL, 0, "HEAD /v2/lib/ro/blobs/%s HTTP/1.1\r\nHost: t\r\n",
	    l);
	is_int(r.status, 200, "read-only: HEAD of a blob works");
	resp_free(&r);
	ok(!used_now("lib/ro", l) && !used_now(NULL, l),
	    "read-only: ... and touches nothing");
	api_req(&r, NULL, 0, "GET /v2/lib/ro/blobs/%s HTTP/1.1\r\nHost: t\r\n",
	    l);
	ok(r.status == 200 && strcmp(r.body, "read only") == 0,
	    "read-only: GET of a blob works");
	resp_free(&r);
	cfg.cf_read_only = 0;
}

/*
 * A collection that, once it started, sees the blob of a manifest that
 * was deleted earlier: the store_mem_on_blob_write hook starts it in a
 * thread at the moment a push of that same manifest finds the blob
 * present, and waits for it to end (for at most half a second: a push
 * that holds the collector's guard there keeps it waiting).
 */
struct repush {
	const char *rp_digest;
	pthread_mutex_t rp_lock;
	pthread_cond_t rp_cond;
	pthread_t rp_thread;
	int rp_started, rp_done, rp_rc;
};

static void *
repush_gc(void *arg)
{
	struct repush *rp = arg;
	struct gc_options o;
	struct gc *g;
	int rc = -1;

	memset(&o, 0, sizeof(o));
	o.go_grace = 60;
	if ((g = gc_new(st, &o)) != NULL) {
		while ((rc = gc_step(g)) == 1)
			continue;
		gc_free(g);
	}
	pthread_mutex_lock(&rp->rp_lock);
	rp->rp_rc = rc;
	rp->rp_done = 1;
	pthread_cond_signal(&rp->rp_cond);
	pthread_mutex_unlock(&rp->rp_lock);
	return NULL;
}

static void
repush_hook(const char *digest, void *arg)
{
	struct repush *rp = arg;
	struct timespec until;

	if (rp->rp_started || strcmp(digest, rp->rp_digest) != 0)
		return;
	if (pthread_create(&rp->rp_thread, NULL, repush_gc, rp) != 0)
		return;
	rp->rp_started = 1;
	(void)clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 500000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&rp->rp_lock);
	while (!rp->rp_done &&
	    pthread_cond_timedwait(&rp->rp_cond, &rp->rp_lock, &until) == 0)
		continue;
	pthread_mutex_unlock(&rp->rp_lock);
}

/*
 * Online garbage collection and a push of a manifest deleted earlier
 * (docker push of the same image again): its blob is still there,
 * unreferenced, and old. A collection deciding on that blob between the
 * push finding it present and the push linking it would leave an
 * acknowledged tag naming a missing manifest; the push keeps the
 * collector's guard until its links are written.
 */
static void
test_repush_during_gc(void)
{
	struct repush rp;
	struct resp r;
	char l[DIGEST_BUFSZ], c[DIGEST_BUFSZ], m[DIGEST_BUFSZ], m2[DIGEST_BUFSZ];
	char man[1024];

	ok(push_blob("lib/repush", "repush lyr!", l) &&
	        push_blob("lib/repush",
	            "{\"architecture\":\"amd64\",\"os\":\"y\"}", c),
	    "repush: two blobs pushed");
	image_manifest(man, sizeof(man), c, l);
	is_int(push_manifest("lib/repush", "v1", MT_OCI_MANIFEST, man, m, &r),
	    201, "repush: the image pushed");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "DELETE /v2/lib/repush/manifests/%s HTTP/1.1\r\nHost: t\r\n", m);
	is_int(r.status, 202, "repush: and deleted by digest");
	resp_free(&r);
	store_mem_age(st, 7200);

	memset(&rp, 0, sizeof(rp));
	rp.rp_digest = m;
	pthread_mutex_init(&rp.rp_lock, NULL);
	pthread_cond_init(&rp.rp_cond, NULL);
	store_mem_on_blob_write(repush_hook, &rp);
	is_int(push_manifest("lib/repush", "v2", MT_OCI_MANIFEST, man, m2, &r),
	    201, "repush: the same manifest pushed again, as v2");
	resp_free(&r);
	store_mem_on_blob_write(NULL, NULL);
	ok(rp.rp_started, "repush: a collection ran during the push");
	if (rp.rp_started)
		pthread_join(rp.rp_thread, NULL);
	is_int(rp.rp_rc, 0, "repush: the collection completed");
	pthread_mutex_destroy(&rp.rp_lock);
	pthread_cond_destroy(&rp.rp_cond);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/repush/manifests/v2 HTTP/1.1\r\nHost: t\r\n"
	    "Accept: %s\r\n",
	    MT_OCI_MANIFEST);
	ok(r.status == 200 && strcmp(r.body, man) == 0,
	    "repush: the acknowledged v2 is pullable (got %d)", r.status);
	resp_free(&r);
}

/*
 * A push that takes a while between touching its layers and writing its
 * revision link (on S3 that is a score of requests, a second and more
 * under load) while a collection starts: the hook makes the touches
 * two hours old (time passing) and starts the collection there, with
 * the push holding the guard. A collection that took its cutoff and
 * its census then would not see the manifest, and would find the
 * layers used too long ago: an acknowledged push losing its blobs. It
 * must start only once no push is between touch and link.
 */
static void
slowpush_hook(const char *digest, void *arg)
{
	struct repush *rp = arg;

	if (rp->rp_started || strcmp(digest, rp->rp_digest) != 0)
		return;
	store_mem_age(st, 7200);
	repush_hook(digest, arg);
}

static void
test_slow_push_during_gc(void)
{
	struct repush rp;
	struct resp r;
	char l[DIGEST_BUFSZ], c[DIGEST_BUFSZ], m[DIGEST_BUFSZ], m2[DIGEST_BUFSZ];
	char man[1024];

	ok(push_blob("lib/slowpush", "slow push lyr", l) &&
	        push_blob("lib/slowpush",
	            "{\"architecture\":\"amd64\",\"os\":\"s\"}", c),
	    "slow push: two blobs pushed");
	image_manifest(man, sizeof(man), c, l);
	is_int(push_manifest("lib/slowpush", "v1", MT_OCI_MANIFEST, man, m, &r),
	    201, "slow push: the image pushed");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "DELETE /v2/lib/slowpush/manifests/%s HTTP/1.1\r\nHost: t\r\n",
	    m);
	is_int(r.status, 202, "slow push: and deleted by digest");
	resp_free(&r);

	memset(&rp, 0, sizeof(rp));
	rp.rp_digest = m;
	pthread_mutex_init(&rp.rp_lock, NULL);
	pthread_cond_init(&rp.rp_cond, NULL);
	store_mem_on_blob_write(slowpush_hook, &rp);
	is_int(push_manifest("lib/slowpush", "v2", MT_OCI_MANIFEST, man, m2,
	           &r),
	    201, "slow push: the image pushed again, slowly, as v2");
	resp_free(&r);
	store_mem_on_blob_write(NULL, NULL);
	ok(rp.rp_started, "slow push: a collection ran during the push");
	if (rp.rp_started)
		pthread_join(rp.rp_thread, NULL);
	is_int(rp.rp_rc, 0, "slow push: the collection completed");
	pthread_mutex_destroy(&rp.rp_lock);
	pthread_cond_destroy(&rp.rp_cond);

	api_req(&r, NULL, 0,
	    "GET /v2/lib/slowpush/blobs/%s HTTP/1.1\r\nHost: t\r\n", l);
	ok(r.status == 200 && strcmp(r.body, "slow push lyr") == 0,
	    "slow push: the acknowledged push's layer is pullable (got %d)",
	    r.status);
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/slowpush/blobs/%s HTTP/1.1\r\nHost: t\r\n", c);
	is_int(r.status, 200,
	    "slow push: the acknowledged push's config is pullable");
	resp_free(&r);
	ok(store_blob_doomed(st, l) == 0 && store_blob_doomed(st, c) == 0,
	    "slow push: the collection left no doomed mark on what it kept");
}

/*
 * A collection in another process (another instance on the same bucket)
 * dooms a blob before it reads when the blob was used (store.h): a push
 * that touched the blob must then count it missing, or the collection,
 * having read the time before the touch, removes it after the 201.
 */
static void
test_doomed_push(void)
{
	static const char *other = "0b7fcb4c-1111-4222-8333-444455556666";
	struct resp r;
	char l[DIGEST_BUFSZ], c[DIGEST_BUFSZ], m[DIGEST_BUFSZ], m2[DIGEST_BUFSZ];
	char man[1024];

	ok(push_blob("lib/doom", "doomed layer", l) &&
	        push_blob("lib/doom",
	            "{\"architecture\":\"amd64\",\"os\":\"d\"}", c),
	    "doomed: two blobs pushed");
	image_manifest(man, sizeof(man), c, l);
	is_int(store_blob_doom(st, l, other, 1), 0,
	    "doomed: another process's collection dooms the layer");
	is_int(push_manifest("lib/doom", "v1", MT_OCI_MANIFEST, man, m, &r),
	    400, "doomed: a manifest naming it is refused");
	ok(oci_error(&r, "MANIFEST_BLOB_UNKNOWN"),
	    "doomed: ... as MANIFEST_BLOB_UNKNOWN");
	resp_free(&r);
	is_int(store_blob_doom(st, l, other, 0), 0,
	    "doomed: the collection keeps it after all");
	is_int(push_manifest("lib/doom", "v1", MT_OCI_MANIFEST, man, m, &r),
	    201, "doomed: the same manifest is then accepted");
	resp_free(&r);

	api_req(&r, NULL, 0,
	    "DELETE /v2/lib/doom/manifests/%s HTTP/1.1\r\nHost: t\r\n", m);
	is_int(r.status, 202, "doomed: the manifest deleted by digest");
	resp_free(&r);
	is_int(store_blob_doom(st, m, other, 1), 0,
	    "doomed: its blob doomed by the other collection");
	is_int(push_manifest("lib/doom", "v2", MT_OCI_MANIFEST, man, m2, &r),
	    503, "doomed: pushed again meanwhile: 503, try again");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "GET /v2/lib/doom/manifests/v2 HTTP/1.1\r\nHost: t\r\n"
	    "Accept: %s\r\n",
	    MT_OCI_MANIFEST);
	is_int(r.status, 404, "doomed: and no tag was written");
	resp_free(&r);
	is_int(store_blob_doom(st, m, other, 0), 0,
	    "doomed: the other collection keeps it");
	is_int(push_manifest("lib/doom", "v2", MT_OCI_MANIFEST, man, m2, &r),
	    201, "doomed: the retry is accepted");
	resp_free(&r);
}


/*
 * REVIEW rev14: a collection in another process dooms a blob, then
 * finishes (data, then the prefix with its marks) between the push's
 * existence check and its doomed listing. Simulated by a so_blob_doomed
 * that runs the other process's delete first.
 */
#include "store_driver.h"
static const struct store_ops *race_real;
static struct store_ops race_ops;
static const char *race_digest;

static int
race_doomed(struct store *s, const char *d)
{
	if (race_digest != NULL && strcmp(d, race_digest) == 0) {
		race_digest = NULL;
		(void)race_real->so_blob_delete(s, d);
	}
	return race_real->so_blob_doomed(s, d);
}

static void
test_doom_order(void)
{
	static const char *other = "0b7fcb4c-1111-4222-8333-444455556666";
	struct resp r;
	char l[DIGEST_BUFSZ], c[DIGEST_BUFSZ], m[DIGEST_BUFSZ];
	char man[1024];
	int st_code;

	ok(push_blob("lib/race", "race layer", l) &&
	        push_blob("lib/race",
	            "{\"architecture\":\"amd64\",\"os\":\"race\"}", c),
	    "race: two blobs pushed");
	image_manifest(man, sizeof(man), c, l);
	is_int(store_blob_doom(st, l, other, 1), 0,
	    "race: another process dooms the layer");
	race_real = st->s_ops;
	race_ops = *st->s_ops;
	race_ops.so_blob_doomed = race_doomed;
	st->s_ops = &race_ops;
	race_digest = l;
	st_code = push_manifest("lib/race", "v1", MT_OCI_MANIFEST, man, m, &r);
	resp_free(&r);
	st->s_ops = race_real;
	api_req(&r, NULL, 0,
	    "GET /v2/lib/race/blobs/%s HTTP/1.1\r\nHost: t\r\n", l);
	ok(st_code != 201 || r.status == 200,
	    "race: an acknowledged manifest (%d) has its layer (got %d)",
	    st_code, r.status);
	resp_free(&r);

	/* The manifest's own blob: pushed, deleted, doomed, pushed again. */
	ok(push_blob("lib/race", "race layer", l), "race: the layer again");
	is_int(push_manifest("lib/race", "v1", MT_OCI_MANIFEST, man, m, &r),
	    201, "race: the image pushed");
	resp_free(&r);
	api_req(&r, NULL, 0,
	    "DELETE /v2/lib/race/manifests/%s HTTP/1.1\r\nHost: t\r\n", m);
	is_int(r.status, 202, "race: and deleted by digest");
	resp_free(&r);
	is_int(store_blob_doom(st, m, other, 1), 0,
	    "race: another process dooms the manifest's blob");
	st->s_ops = &race_ops;
	race_digest = m;
	st_code = push_manifest("lib/race", "v2", MT_OCI_MANIFEST, man, m, &r);
	resp_free(&r);
	st->s_ops = race_real;
	api_req(&r, NULL, 0,
	    "GET /v2/lib/race/manifests/v2 HTTP/1.1\r\nHost: t\r\n"
	    "Accept: %s\r\n", MT_OCI_MANIFEST);
	ok(st_code != 201 || r.status == 200,
	    "race: an acknowledged manifest (%d) is pullable (got %d)",
	    st_code, r.status);
	resp_free(&r);
}

/* Every handler test, against st. */
static void
test_all(void)
{
	test_base();
	test_blobs();
	test_chunked_upload();
	test_short_chunk();
	test_manifests();
	test_manifest_reads();
	test_manifest_types();
	test_manifest_refs();
	test_referrers();
	test_referrers_pages();
	test_referrers_bytes();
	test_deletes();
	test_manifest_bad_refs();
	test_delete_repointed();
	test_tags_pages();
	test_manifest_buffer();
	test_old_clients();
	test_used();
	test_read_only();
	test_repush_during_gc();
	test_slow_push_during_gc();
	test_doomed_push();
	test_doom_order();
}

/*
 * 1 when GET path answers 200 with a JSON body whose array field holds
 * exactly one string, want; else 0, with the body shown.
 */
static int
test_lists_one(const char *path, const char *field, const char *want)
{
	json_error_t je;
	json_t *j, *a;
	struct resp r;
	int good;

	api_req(&r, NULL, 0, "GET %s HTTP/1.1\r\nHost: t\r\n", path);
	j = r.status == 200 ? json_loadb(r.body, r.bodylen, 0, &je) : NULL;
	a = json_object_get(j, field);
	good = j != NULL && json_array_size(a) == 1 &&
	    json_string_value(json_array_get(a, 0)) != NULL &&
	    strcmp(json_string_value(json_array_get(a, 0)), want) == 0;
	if (!good)
		printf("# %s: %d %.*s\n", path, r.status, (int)r.bodylen,
		    r.body);
	json_decref(j);
	resp_free(&r);
	return good;
}

/*
 * A store may hold repositories and tags no client could have pushed
 * (any directory under repositories/ with _manifests, any key): they are
 * not listed, so the _catalog and tags/list bodies stay JSON and the
 * Link header one header.
 */
static void
test_bad_names(void)
{
	static const char *const bad[] = {"caf\xe9", "qu\"ote", "sp ace",
	    "crlf\r\nlink: x", "back\\slash"};
	const char *d = "sha256:"
	                "0123456789abcdef0123456789abcdef"
	                "0123456789abcdef0123456789abcdef";
	char v[256];
	struct resp r;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(store_tag_set(st, bad[i], "v1", d) == 0,
		    "repository %zu with a bad name planted", i + 1);
	ok(store_tag_set(st, "good", "v1", d) == 0 &&
	        store_tag_set(st, "good", "caf\xe9", d) == 0 &&
	        store_tag_set(st, "good", "crlf\r\nx", d) == 0,
	    "a good one, with tags of bad names");
	ok(reg_init(base, &cfg, st) == 0 && pool_idle(),
	    "reg_init; the catalog's walk is done");

	ok(test_lists_one("/v2/_catalog", "repositories", "good"),
	    "_catalog is JSON and lists the good name alone");
	ok(test_lists_one("/v2/good/tags/list", "tags", "v1"),
	    "tags/list is JSON and lists the good tag alone");

	api_req(&r, NULL, 0, "GET /v2/_catalog?n=1 HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 200 && hdr(&r, "Link", v, sizeof(v))[0] == '\0',
	    "one name, one page: no Link (the bad ones made no page)");
	resp_free(&r);
	reg_shutdown();
}

int
main(void)
{
	char *env[] = {"REGISTRY_STORAGE_DELETE_ENABLED=true", NULL};

	log_init(getenv("HANDLERS_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_ERROR, 0);
	if (config_load(&cfg, NULL, 0, env) == -1)
		return 1;
	/* One store worker: the gate holds it (api_gone). */
	if ((base = event_base_new()) == NULL ||
	    pool_start(base, (const int[POOL_NCLASSES]){1, 1, 1}, 0) == -1)
		return 1;
	if ((st = store_mem_open()) == NULL)
		return 1;
	ok(reg_init(base, &cfg, st) == 0, "reg_init on the memory driver");
	http_init(&cfg, reg_dispatch);

	test_all();

	/*
	 * Again on a new store whose every call is deferred to the worker
	 * pool, as a driver that waits on the network would: no handler
	 * may count on its job finishing inside store_call.
	 */
	ok(pool_idle(), "no job left in flight");
	reg_shutdown();
	store_close(st);
	store_mem_defer(1);
	if ((st = store_mem_open()) == NULL)
		return 1;
	ok(reg_init(base, &cfg, st) == 0,
	    "reg_init on a memory store whose calls are all deferred");
	test_all();
	test_gone();
	reg_shutdown();
	store_close(st);

	store_mem_defer(0);
	if ((st = store_mem_open()) == NULL)
		return 1;
	test_bad_names();

	pool_stop();
	store_close(st);
	event_base_free(base);
	config_free(&cfg);
	return done_testing();
}
