/*
 * Handler tests of the paths beside /v2/: the web interface (api_ui.c:
 * the redirect, the built-in files, the status and its blob count) and
 * docker search (api_search.c: the ping, matching, pages, descriptions
 * from annotations and labels), through the real dispatcher and HTTP
 * layer on a bufferevent pair, over the memory storage driver: once with
 * store calls run at once, once with every call deferred to the pool.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <jansson.h>

#include "api.h"
#include "catalog.h"
#include "config.h"
#include "digest.h"
#include "http.h"
#include "log.h"
#include "manifest.h"
#include "pool.h"
#include "registry.h"
#include "store.h"
#include "store_mem.h"
#include "api_client.h"
#include "tap.h"
#include "ui_assets.h"
#include "util.h"

static struct event_base *base;
static struct config cfg;
static struct store *st;

/*
 * Send the request head (printf, "\r\n" line ends, no blank line) and
 * body on a new connection; run the loop until the response is back.
 */
static void req(struct resp *, const void *, size_t, const char *, ...)
    __attribute__((format(printf, 4, 5)));

static void
req(struct resp *r, const void *body, size_t bodylen, const char *fmt, ...)
{
	struct bufferevent *pair[2];
	struct http_conn *hc;
	char head[4096], cl[64];
	va_list ap;
	int i, done = 0;

	memset(r, 0, sizeof(*r));
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	if (bufferevent_pair_new(base, 0, pair) == -1 ||
	    (hc = http_conn_new(pair[0], 1, "127.0.0.1:1", "127.0.0.1", 0)) ==
	        NULL)
		abort();
	bufferevent_setcb(pair[0], api_read_cb, api_write_cb, NULL, hc);
	bufferevent_enable(pair[0], EV_READ | EV_WRITE);
	bufferevent_enable(pair[1], EV_READ | EV_WRITE);
	bufferevent_write(pair[1], head, strlen(head));
	snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n\r\n", bodylen);
	bufferevent_write(pair[1], cl, strlen(cl));
	if (bodylen > 0)
		bufferevent_write(pair[1], body, bodylen);
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

static json_t *
body_json(const struct resp *r)
{
	return json_loadb(r->body, r->bodylen, 0, NULL);
}

/* Push content as a blob of repo; its digest into digest. 1 on 201. */
static int
push_blob(const char *repo, const char *content, char digest[DIGEST_BUFSZ])
{
	struct resp r;
	int good;

	digest_buf(content, strlen(content), digest);
	req(&r, content, strlen(content),
	    "POST /v2/%s/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: application/octet-stream\r\n",
	    repo, digest);
	good = r.status == 201;
	resp_free(&r);
	return good;
}

/* PUT manifest text as repo:ref with type mt; digest out. 1 on 201. */
static int
push_manifest(const char *repo, const char *ref, const char *mt,
    const char *text, char digest[DIGEST_BUFSZ])
{
	struct resp r;
	int good;

	digest_buf(text, strlen(text), digest);
	req(&r, text, strlen(text),
	    "PUT /v2/%s/manifests/%s HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: %s\r\n",
	    repo, ref, mt);
	good = r.status == 201;
	resp_free(&r);
	return good;
}

/*
 * An image in repo tagged tag: a config with labels (JSON object text,
 * may be "{}"), one layer, and manifest annotations (may be NULL). Its
 * manifest digest into md. 1 when every push worked.
 */
static int
push_image(const char *repo, const char *tag, const char *arch,
    const char *labels, const char *annotations, char md[DIGEST_BUFSZ])
{
	char config[1024], man[2048], cd[DIGEST_BUFSZ], ld[DIGEST_BUFSZ];
	char layer[64];

	snprintf(config, sizeof(config),
	    "{\"architecture\":\"%s\",\"os\":\"linux\",\"config\":"
	    "{\"Labels\":%s},\"rootfs\":{\"type\":\"layers\"}}",
	    arch, labels);
	snprintf(layer, sizeof(layer), "layer of %s %s %s", repo, tag, arch);
	if (!push_blob(repo, config, cd) || !push_blob(repo, layer, ld))
		return 0;
	snprintf(man, sizeof(man),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{"
	    "\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	    "\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
	    "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\","
	    "\"size\":%zu}]%s%s}",
	    MT_OCI_MANIFEST, cd, strlen(config), ld, strlen(layer),
	    annotations != NULL ? ",\"annotations\":" : "",
	    annotations != NULL ? annotations : "");
	return push_manifest(repo, tag, MT_OCI_MANIFEST, man, md);
}

/* ---------------------------------------------------------------- UI */

static void
test_ui_files(void)
{
	const struct ui_asset *index = NULL;
	struct resp r;
	char v[512], etag[128];
	size_t i;

	for (i = 0; i < ui_nassets; i++)
		if (strcmp(ui_assets[i].ua_name, "index.html") == 0)
			index = &ui_assets[i];
	ok(index != NULL, "index.html is built in");
	if (index == NULL)
		return;

	req(&r, NULL, 0, "GET / HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 302 &&
	        strcmp(hdr(&r, "Location", v, sizeof(v)), "/ui/") == 0,
	    "GET /: 302 to /ui/");
	resp_free(&r);
	req(&r, NULL, 0, "GET /ui HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 302 &&
	        strcmp(hdr(&r, "Location", v, sizeof(v)), "/ui/") == 0,
	    "GET /ui: 302 to /ui/");
	resp_free(&r);

	req(&r, NULL, 0, "GET /ui/ HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 200 && r.bodylen == index->ua_len &&
	        memcmp(r.body, index->ua_data, r.bodylen) == 0,
	    "GET /ui/: index.html");
	is_str(hdr(&r, "Content-Type", v, sizeof(v)),
	    "text/html; charset=utf-8", "  its type");
	hdr(&r, "Content-Security-Policy", v, sizeof(v));
	ok(strstr(v, "default-src 'none'") != NULL &&
	        strstr(v, "script-src 'self'") != NULL &&
	        strstr(v, "unsafe") == NULL,
	    "  a CSP without unsafe-inline: %s", v);
	is_str(hdr(&r, "X-Frame-Options", v, sizeof(v)), "DENY", "  no frames");
	hdr(&r, "ETag", etag, sizeof(etag));
	ok(etag[0] == '"', "  an ETag");
	resp_free(&r);

	req(&r, NULL, 0,
	    "GET /ui/index.html HTTP/1.1\r\nHost: t\r\n"
	    "If-None-Match: %s\r\n",
	    etag);
	ok(r.status == 304 && r.bodylen == 0, "If-None-Match: 304");
	resp_free(&r);
	req(&r, NULL, 0, "HEAD /ui/ HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 200 && r.bodylen == 0 &&
	        (size_t)atol(hdr(&r, "Content-Length", v, sizeof(v))) ==
	            index->ua_len,
	    "HEAD /ui/: the length, no body");
	resp_free(&r);

	req(&r, NULL, 0, "GET /ui/nope.js HTTP/1.1\r\nHost: t\r\n");
	is_int(r.status, 404, "an unknown file: 404");
	resp_free(&r);
	req(&r, NULL, 0, "GET /ui/../v2/ HTTP/1.1\r\nHost: t\r\n");
	is_int(r.status, 404, "/ui/../v2/: 404");
	resp_free(&r);
	req(&r, NULL, 0, "DELETE /ui/ HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 405 &&
	        strcmp(hdr(&r, "Allow", v, sizeof(v)), "GET, HEAD") == 0,
	    "DELETE /ui/: 405, Allow: GET, HEAD");
	resp_free(&r);

	cfg.cf_ui_enabled = 0;
	req(&r, NULL, 0, "GET / HTTP/1.1\r\nHost: t\r\n");
	is_int(r.status, 404, "[ui] enabled = false: / is 404");
	resp_free(&r);
	req(&r, NULL, 0, "GET /ui/ HTTP/1.1\r\nHost: t\r\n");
	is_int(r.status, 404, "  /ui/ is 404");
	resp_free(&r);
	req(&r, NULL, 0, "GET /ui/api/status HTTP/1.1\r\nHost: t\r\n");
	is_int(r.status, 404, "  the status is 404");
	resp_free(&r);
	cfg.cf_ui_enabled = 1;
}

/* What a walk of the store finds among the blobs: the true counts. */
struct tally {
	uint64_t blobs;
	uint64_t bytes;
};

static int
tally_cb(const struct store_item *it, void *arg)
{
	struct tally *t = arg;

	if (it->si_kind == STORE_ITEM_ODD)
		return 0;
	if (it->si_kind != STORE_ITEM_BLOB)
		return -1; /* past the blobs */
	t->blobs++;
	t->bytes += it->si_size;
	return 0;
}

static struct tally
tally(void)
{
	struct tally t = {0, 0};

	(void)store_walk(st, tally_cb, &t);
	return t;
}

/*
 * Start the registry again on the same store with catalog_refresh
 * seconds (0: never, so the catalog never counts): a start is when the
 * catalog's first refresh counts the blobs.
 */
static void
restart(int refresh)
{
	reg_shutdown();
	cfg.cf_catalog_refresh = refresh;
	if (reg_init(base, &cfg, st) == -1)
		abort();
}

/* GET /ui/api/status; its JSON (NULL unless 200). */
static json_t *
status(void)
{
	struct resp r;
	json_t *j = NULL;

	req(&r, NULL, 0, "GET /ui/api/status HTTP/1.1\r\nHost: t\r\n");
	if (r.status == 200)
		j = body_json(&r);
	resp_free(&r);
	return j;
}

/* The status once the catalog has counted (its refresh on the pool). */
static json_t *
status_counted(void)
{
	json_t *j = NULL;
	int i;

	for (i = 0; i < 500; i++) {
		json_decref(j);
		if ((j = status()) == NULL ||
		    json_is_string(json_object_get(j, "counted")))
			break;
		usleep(2000);
	}
	return j;
}

/*
 * 1 when j's counts are the store's now (t), and the time is the
 * catalog's count's.
 */
static int
counts_are(json_t *j, struct tally t)
{
	struct catalog_stats cs;
	const char *counted = json_string_value(json_object_get(j, "counted"));
	json_int_t blobs = json_integer_value(json_object_get(j, "blobs"));
	json_int_t bytes = json_integer_value(json_object_get(j, "blob_bytes"));
	char when[32];

	catalog_stats(&cs);
	util_rfc3339(cs.cs_scan_time, when, sizeof(when));
	return cs.cs_scan_time != 0 && blobs == (json_int_t)t.blobs &&
	    bytes == (json_int_t)t.bytes && counted != NULL &&
	    strcmp(counted, when) == 0;
}

/*
 * The status: counts are the catalog's, null before it has counted (the
 * status never walks the store itself), the store's after a refresh and
 * again after the next one. Leaves the registry started as main does.
 */
static void
test_status(const char *repo, int repos, int blobs)
{
	struct tally t;
	json_t *j;
	char md[DIGEST_BUFSZ], d[DIGEST_BUFSZ];
	int refresh = cfg.cf_catalog_refresh;

	restart(0);
	j = status();
	ok(j != NULL && json_is_null(json_object_get(j, "blobs")) &&
	        json_is_null(json_object_get(j, "blob_bytes")) &&
	        json_is_null(json_object_get(j, "counted")),
	    "no count yet: blobs, bytes, counted null");
	json_decref(j);
	ok(push_image(repo, "v1", "amd64", "{}", NULL, md), "an image in %s",
	    repo);
	j = status();
	ok(j != NULL && json_is_null(json_object_get(j, "blobs")),
	    "  still null: a status request counts nothing itself");
	json_decref(j);

	restart(refresh);
	j = status_counted();
	ok(j != NULL, "GET /ui/api/status after the catalog's first count");
	ok(json_is_string(json_object_get(j, "version")) &&
	        json_is_integer(json_object_get(j, "uptime_seconds")) &&
	        json_is_string(json_object_get(j, "started")),
	    "  version, uptime, start");
	is_int(json_integer_value(json_object_get(j, "repositories")), repos,
	    "  repositories");
	t = tally();
	is_int((long long)t.blobs, blobs, "  the store holds %d blobs", blobs);
	ok(counts_are(j, t),
	    "  blobs (config, layer, manifest), bytes and when: the "
	    "catalog's count, the store's");
	ok(json_is_true(json_object_get(j, "delete_enabled")) &&
	        json_is_true(json_object_get(j, "can_delete")) &&
	        json_is_false(json_object_get(j, "auth")),
	    "  no auth, deletes on: anyone may delete");
	json_decref(j);

	ok(push_blob(repo, "one more blob", d), "another blob");
	restart(refresh);
	j = status_counted();
	t = tally();
	ok(j != NULL && t.blobs == (uint64_t)blobs + 1 && counts_are(j, t),
	    "  the next count has it: %d blobs", blobs + 1);
	json_decref(j);
}

/* ------------------------------------------------------------ search */

static json_t *
search(const char *query, int *status)
{
	struct resp r;
	json_t *j;

	req(&r, NULL, 0, "GET /v1/search%s HTTP/1.1\r\nHost: t\r\n", query);
	*status = r.status;
	j = body_json(&r);
	resp_free(&r);
	return j;
}

/* The names of a search answer, comma-joined, into out. */
static const char *
names(json_t *j, char *out, size_t outsz)
{
	json_t *e;
	size_t i;

	out[0] = '\0';
	json_array_foreach(json_object_get(j, "results"), i, e)
	{
		if (i > 0)
			strncat(out, ",", outsz - strlen(out) - 1);
		strncat(out, json_string_value(json_object_get(e, "name")),
		    outsz - strlen(out) - 1);
	}
	return out;
}

static const char *
desc_of(json_t *j, const char *name)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(j, "results"), i, e)
	{
		if (strcmp(json_string_value(json_object_get(e, "name")),
		        name) == 0)
			return json_string_value(
			    json_object_get(e, "description"));
	}
	return NULL;
}

static void
test_search(const char *p)
{
	char md[DIGEST_BUFSZ], a[DIGEST_BUFSZ], b[DIGEST_BUFSZ];
	char repo[128], idx[2048], list[512], longdesc[2100], ann[2200];
	const char *d;
	struct resp r;
	json_t *j;
	int status, i;
	char v[64];

	req(&r, NULL, 0, "GET /v1/_ping HTTP/1.1\r\nHost: t\r\n");
	ok(r.status == 200 &&
	        strcmp(hdr(&r, "X-Docker-Registry-Standalone", v, sizeof(v)),
	            "true") == 0,
	    "GET /v1/_ping: a standalone registry");
	resp_free(&r);

#define REPO(s) (snprintf(repo, sizeof(repo), "%s/%s", p, s), repo)
	/* latest: the annotation; the label when there is none. */
	ok(push_image(REPO("web-app"), "latest", "amd64",
	       "{\"org.opencontainers.image.description\":\"from label\"}",
	       "{\"org.opencontainers.image.description\":\"from annotation\"}",
	       md),
	    "web-app:latest with an annotation and a label");
	ok(push_image(REPO("api-app"), "latest", "amd64",
	       "{\"org.opencontainers.image.description\":\"label only\"}",
	       NULL, md),
	    "api-app:latest with a label");
	ok(push_image(REPO("old-app"), "1.0", "amd64",
	       "{\"org.opencontainers.image.description\":\"not latest\"}",
	       NULL, md),
	    "old-app:1.0 and no latest");
	/* An index: its annotation, else its first platform's. */
	ok(push_image(REPO("multi-app"), "amd", "amd64",
	       "{\"org.opencontainers.image.description\":\"amd64 label\"}",
	       NULL, a) &&
	        push_image(REPO("multi-app"), "arm", "arm64", "{}", NULL, b),
	    "two platform images of multi-app");
	snprintf(idx, sizeof(idx),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":["
	    "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":1,"
	    "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
	    "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":1,"
	    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
	    "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":1,"
	    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}}]}",
	    MT_OCI_INDEX, MT_OCI_MANIFEST, b, MT_OCI_MANIFEST, a,
	    MT_OCI_MANIFEST, b);
	ok(push_manifest(REPO("multi-app"), "latest", MT_OCI_INDEX, idx, md),
	    "multi-app:latest, an index (attestation-like entry first)");
	/* A long description is cut at a character boundary. */
	for (i = 0; i < 1023; i++)
		longdesc[i] = 'x';
	strcpy(longdesc + 1023, "\xc3\xa9\xc3\xa9"); /* "éé" */
	snprintf(ann, sizeof(ann),
	    "{\"org.opencontainers.image.description\":\"%s\"}", longdesc);
	ok(push_image(REPO("long"), "latest", "amd64", "{}", ann, md),
	    "long:latest with a 1027-byte description");

	j = search("?q=APP", &status);
	is_int(status, 200, "search q=APP");
	is_str(names(j, list, sizeof(list)),
	    (snprintf(idx, sizeof(idx),
	         "%s/api-app,%s/multi-app,%s/old-app,"
	         "%s/web-app",
	         p, p, p, p),
	        idx),
	    "  case-insensitive substring, catalog order");
	is_int(json_integer_value(json_object_get(j, "num_results")), 4,
	    "  num_results");
	is_int(json_integer_value(json_object_get(j, "num_pages")), 1,
	    "  num_pages");
	is_int(json_integer_value(json_object_get(j, "page_size")), 25,
	    "  page_size 25 by default");
	is_str(json_string_value(json_object_get(j, "query")), "app",
	    "  the query");
	is_str(desc_of(j, REPO("web-app")), "from annotation",
	    "  the annotation first");
	is_str(desc_of(j, REPO("api-app")), "label only", "  else the label");
	is_str(desc_of(j, REPO("old-app")), "", "  no latest: no description");
	is_str(desc_of(j, REPO("multi-app")), "amd64 label",
	    "  an index: its first platform's, attestations left out");
	json_decref(j);

	j = search("?q=long", &status);
	d = desc_of(j, REPO("long"));
	ok(d != NULL && strlen(d) == 1023 && d[1022] == 'x',
	    "a long description: 1024 bytes at most, no half character");
	json_decref(j);

	snprintf(idx, sizeof(idx), "?q=%s/&n=2&page=2", p);
	j = search(idx, &status);
	is_int(status, 200, "n=2&page=2");
	is_str(names(j, list, sizeof(list)),
	    (snprintf(idx, sizeof(idx), "%s/multi-app,%s/old-app", p, p), idx),
	    "  the second page");
	ok(json_integer_value(json_object_get(j, "num_results")) == 5 &&
	        json_integer_value(json_object_get(j, "num_pages")) == 3 &&
	        json_integer_value(json_object_get(j, "page")) == 2,
	    "  num_results 5, num_pages 3, page 2");
	json_decref(j);
	snprintf(idx, sizeof(idx), "?q=%s/&n=2&page=9", p);
	j = search(idx, &status);
	ok(status == 200 && json_array_size(json_object_get(j, "results")) == 0,
	    "a page past the end: empty");
	json_decref(j);
	j = search("?q=nothing-like-this", &status);
	ok(status == 200 &&
	        json_integer_value(json_object_get(j, "num_results")) == 0 &&
	        json_array_size(json_object_get(j, "results")) == 0,
	    "no match: an empty answer");
	json_decref(j);
	j = search("?n=1000", &status);
	is_int(json_integer_value(json_object_get(j, "page_size")), 100,
	    "n above 100: 100");
	json_decref(j);
	j = search("", &status);
	ok(status == 200 &&
	        json_integer_value(json_object_get(j, "num_results")) >= 5,
	    "no q: every repository");
	json_decref(j);

	j = search("?q=a&n=0", &status);
	is_int(status, 400, "n=0: 400");
	json_decref(j);
	j = search("?q=a&n=x", &status);
	is_int(status, 400, "n=x: 400");
	json_decref(j);
	j = search("?q=a&page=0", &status);
	is_int(status, 400, "page=0: 400");
	json_decref(j);
	j = search("?q=%zz", &status);
	is_int(status, 400, "a malformed q: 400");
	json_decref(j);
#undef REPO
}

int
main(void)
{
	char *env[] = {"REGISTRY_STORAGE_DELETE_ENABLED=true", NULL};

	log_init(getenv("HANDLERS_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_ERROR, 0);
	if (config_load(&cfg, NULL, 0, env) == -1)
		return 1;
	if ((base = event_base_new()) == NULL ||
	    pool_start(base, (const int[POOL_NCLASSES]){1, 1, 1}, 0) == -1)
		return 1;
	if ((st = store_mem_open()) == NULL)
		return 1;
	ok(reg_init(base, &cfg, st) == 0, "reg_init on the memory driver");
	http_init(&cfg, reg_dispatch);
	test_ui_files();
	test_status("st/a", 1, 3);
	test_search("now");
	reg_shutdown();
	store_close(st);

	/* Every store call on the pool, as a network driver would. */
	store_mem_defer(1);
	if ((st = store_mem_open()) == NULL)
		return 1;
	ok(reg_init(base, &cfg, st) == 0, "reg_init, store calls deferred");
	test_status("st/b", 1, 3);
	test_search("later");

	pool_stop();
	reg_shutdown();
	store_close(st);
	event_base_free(base);
	config_free(&cfg);
	return done_testing();
}
