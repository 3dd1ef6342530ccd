/*
 * Handler tests: the registry's real dispatcher behind the real HTTP
 * layer, on a bufferevent pair instead of a socket, over the memory
 * storage driver instead of a disk. Each check sends raw request bytes
 * and reads back the whole response, so what is asserted is what a
 * client would see: status, headers, the OCI error body, and what the
 * store holds afterwards.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "config.h"
#include "digest.h"
#include "http.h"
#include "log.h"
#include "pool.h"
#include "registry.h"
#include "store.h"
#include "store_mem.h"
#include "tap.h"

#define API_RESP_MAX (4 * 1024 * 1024)

static struct event_base *base;
static struct config cfg;
static struct store *st;

/* A response as the client read it. */
struct resp {
	int status;
	char head[8192]; /* status line and headers, NUL-terminated */
	char *body;      /* malloc'd, NUL-terminated */
	size_t bodylen;
};

static void
api_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	http_conn_read(arg);
}

static void
api_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	http_conn_drained(arg);
}

/*
 * Parse one complete response from buf; 1 when it is complete (head and
 * Content-Length bytes of body), 0 when more is needed.
 */
static int
api_parse(struct evbuffer *buf, int head_only, struct resp *r)
{
	struct evbuffer_ptr end;
	const char *cl;
	size_t hlen, blen = 0;

	end = evbuffer_search(buf, "\r\n\r\n", 4, NULL);
	if (end.pos == -1)
		return 0;
	hlen = (size_t)end.pos + 4;
	if (hlen >= sizeof(r->head))
		return 0;
	evbuffer_copyout(buf, r->head, hlen);
	r->head[hlen] = '\0';
	if ((cl = strcasestr(r->head, "\r\nContent-Length: ")) != NULL)
		blen = strtoul(cl + 18, NULL, 10);
	if (head_only || r->head[9] == '1' ||
	    strncmp(r->head + 9, "304", 3) == 0)
		blen = 0;
	if (evbuffer_get_length(buf) < hlen + blen)
		return 0;
	evbuffer_drain(buf, hlen);
	r->body = malloc(blen + 1);
	evbuffer_remove(buf, r->body, blen);
	r->body[blen] = '\0';
	r->bodylen = blen;
	r->status = atoi(r->head + 9);
	return 1;
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
	struct bufferevent *pair[2];
	struct http_conn *hc;
	char head[4096];
	va_list ap;
	int i, done = 0;

	memset(r, 0, sizeof(*r));
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	if (bufferevent_pair_new(base, 0, pair) == -1)
		abort();
	if ((hc = http_conn_new(pair[0], 1, "127.0.0.1:1", "127.0.0.1", 0)) ==
	    NULL)
		abort();
	bufferevent_setcb(pair[0], api_read_cb, api_write_cb, NULL, hc);
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
	/* Jobs on the worker pool complete through the loop: spin a while. */
	for (i = 0; i < 20000 && !done; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		done = api_parse(bufferevent_get_input(pair[1]),
		    strncmp(head, "HEAD ", 5) == 0, r);
		if (!done && i > 100)
			usleep(100);
	}
	if (!done) {
		r->status = -1;
		r->body = calloc(1, 1);
	}
	http_conn_free(hc);
	bufferevent_free(pair[0]);
	bufferevent_free(pair[1]);
}

static void
resp_free(struct resp *r)
{
	free(r->body);
	r->body = NULL;
}

/* The value of response header name (case-insensitive), or "". */
static const char *
hdr(const struct resp *r, const char *name, char *out, size_t outsz)
{
	char key[128];
	const char *p, *e;

	snprintf(key, sizeof(key), "\r\n%s: ", name);
	out[0] = '\0';
	if ((p = strcasestr(r->head, key)) == NULL)
		return out;
	p += strlen(key);
	if ((e = strstr(p, "\r\n")) == NULL || (size_t)(e - p) >= outsz)
		return out;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	return out;
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

int
main(void)
{
	char *env[] = {"REGISTRY_STORAGE_DELETE_ENABLED=true", NULL};

	log_init(getenv("HANDLERS_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_ERROR, 0);
	if (config_load(&cfg, NULL, 0, env) == -1)
		return 1;
	if ((base = event_base_new()) == NULL || pool_start(base, 1) == -1)
		return 1;
	if ((st = store_mem_open()) == NULL)
		return 1;
	ok(reg_init(base, &cfg, st) == 0, "reg_init on the memory driver");
	http_init(&cfg, reg_dispatch);

	test_base();
	test_blobs();
	test_chunked_upload();
	test_manifests();

	pool_stop();
	reg_shutdown();
	store_close(st);
	event_base_free(base);
	config_free(&cfg);
	return done_testing();
}
