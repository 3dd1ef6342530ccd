/*
 * api_listings.c: the read-only listings of the /v2/ API: GET /v2/
 * ("determining support"), GET /v2/_catalog (from catalog.c's index) and
 * GET /v2/<name>/tags/list (from the store). It owns pagination: the n=
 * and last= parameters (parsed by api_parse_page) and the Link header to
 * the next page.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_parse.h"
#include "bounds.h"
#include "catalog.h"
#include "http.h"
#include "router.h"
#include "store.h"
#include "util.h"

#define API_CT_JSON           "application/json"
#define API_QUERY_MAX         512 /* longest n= / last= value kept */
/*
 * Tags listed and answered on the loop at most (a few hundred
 * microseconds); beyond, off it.
 */
#define API_TAGS_QUICK_MAX    256
/* The same for the names of a _catalog page (from the index). */
#define API_CATALOG_QUICK_MAX 256

/*
 * A _catalog page: its names, copied from the index on the loop, and the
 * answer made from them by a LIST call. Owned by itself; catalog_done
 * frees it.
 */
struct api_catalog_page {
	struct api_job cp_job; /* first: the call and request link */
	size_t cp_limit;       /* n= */
	int cp_more;           /* names follow the page */
	char **cp_names;       /* cp_n pointers into cp_buf (owned) */
	size_t cp_n;
	char *cp_buf;  /* the names, NUL-terminated, end to end (owned) */
	char *cp_body; /* the JSON answer (owned), NULL: out of memory */
	size_t cp_len; /* its length */
};

/*
 * A tags/list. Most repositories have a few tags: a QUICK store call
 * (on the loop with the filesystem driver) lists them when there are at
 * most API_TAGS_QUICK_MAX, and makes the answer, without the round trip
 * through the worker pool. A repository may also have a hundred
 * thousand: then that call gives up after reading about as many
 * entries, and tags_done starts it again as a LIST call, which lists
 * and makes the answer off the loop. Owned by itself; tags_done frees it.
 */
struct api_tags_list {
	struct api_job tl_job; /* first: the call and request link */
	char tl_name[NAME_MAX_LEN + 1];
	char tl_last[API_QUERY_MAX]; /* last=, when tl_has_last */
	int tl_has_last;
	int tl_big;      /* more than API_TAGS_QUICK_MAX: a LIST call */
	size_t tl_limit; /* n= */
	int tl_result;   /* store_tag_list's: 0, -1 (tl_errno) */
	int tl_errno;
	char *tl_body; /* the JSON answer (owned), NULL: out of memory */
	size_t tl_len; /* its length */
	char *tl_next; /* last= of the next page (owned), NULL: none */
};

static int page_args(struct request *, size_t *, char *, size_t, int *);
static size_t json_str_len(const char *);
static char *json_str_put(char *, const char *);
static char *names_json(const char *name, const char *key, char *const *v,
    size_t n, size_t *lenp);
static void catalog_work(struct store_call *);
static void catalog_done(struct store_call *);
static void catalog_free(struct api_catalog_page *);
static void tags_work(struct store_call *);
static void tags_page(struct api_tags_list *, char **, size_t);
static void tags_done(struct store_call *);

/*
 * The n= and last= query parameters (api_parse_page). Returns 0, or -1
 * after answering 400.
 */
static int
page_args(struct request *req, size_t *limit, char *last, size_t lastsz,
    int *has_last)
{
	const char *errstr = NULL;

	if (api_parse_page(http_query(req), limit, last, lastsz, has_last,
	        &errstr) == -1) {
		http_error(req, 400, "PAGINATION_NUMBER_INVALID", "%s", errstr);
		return -1;
	}
	return 0;
}

/* The length of s as a JSON string, quotes included. */
static size_t
json_str_len(const char *s)
{
	const unsigned char *p;
	size_t len = 2;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p == '"' || *p == '\\')
			len += 2;
		else if (*p < 0x20)
			len += 6;
		else
			len++;
	return len;
}

/* Write s at out as a JSON string (json_str_len bytes); past its end. */
static char *
json_str_put(char *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;

	*out++ = '"';
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			*out++ = '\\';
			*out++ = (char)*p;
		} else if (*p < 0x20) {
			memcpy(out, "\\u00", 4);
			out[4] = hex[*p >> 4];
			out[5] = hex[*p & 0xf];
			out += 6;
		} else
			*out++ = (char)*p;
	}
	*out++ = '"';
	return out;
}

/*
 * The answer of a listing, {"name":name,"key":[v...]} (no "name" when
 * name is NULL), in one allocation sized by a first pass; *lenp is its
 * length. The bytes jansson's JSON_COMPACT gave (control characters
 * aside: \u00XX here), without jansson's two blocks per entry (the string
 * object and its copy) and growing dump buffer: 10 000 tags made 20 000
 * allocations, ~1 MiB of heap at once, and took as long as listing them
 * (bench row 6c and phase 7's catalog/tags peak). Bytes from 0x80 up
 * are copied as they are, so the body is JSON (UTF-8) only because every
 * name and tag met its grammar, ASCII alone, before it got here: the
 * router checks the request's name, and listings keep only the names and
 * tags that store_list_showable keeps (a directory on disk or a key in a
 * bucket may be named anything). NULL: out of memory.
 */
static char *
names_json(const char *name, const char *key, char *const *v, size_t n,
    size_t *lenp)
{
	size_t len, i;
	char *body, *p;

	/* {"key":[]} and "name":, around the strings, a comma between. */
	len = json_str_len(key) + 5 + (n > 0 ? n - 1 : 0);
	if (name != NULL)
		len += json_str_len(name) + 8;
	for (i = 0; i < n; i++)
		len += json_str_len(v[i]);
	if ((body = malloc(len + 1)) == NULL)
		return NULL;
	p = body;
	*p++ = '{';
	if (name != NULL) {
		memcpy(p, "\"name\":", 7);
		p = json_str_put(p + 7, name);
		*p++ = ',';
	}
	p = json_str_put(p, key);
	*p++ = ':';
	*p++ = '[';
	for (i = 0; i < n; i++) {
		if (i > 0)
			*p++ = ',';
		p = json_str_put(p, v[i]);
	}
	*p++ = ']';
	*p++ = '}';
	*p = '\0';
	*lenp = (size_t)(p - body);
	return body;
}

/* api_listing_base_get: GET /v2/: "determining support" (end-1). */
void
api_listing_base_get(struct request *req, const struct route_match *m)
{
	(void)m;
	http_reply(req, 200, API_CT_JSON, "{}", 2);
}

/*
 * api_listing_catalog_get: GET /v2/_catalog: a page of the repository
 * index, with a Link to the next page when more follow (registry:2's
 * extension of the spec). The index may change at the next loop turn, so
 * the page's names are copied now, into one buffer (a memcpy each); the
 * JSON of up to 100 000 of them is made off the loop, by a LIST call.
 * A page of at most API_CATALOG_QUICK_MAX names (n=100, registry:2's
 * default page) is made at once, by a QUICK call, without the round
 * trip through the worker pool, which costs more than the page.
 */
void
api_listing_catalog_get(struct request *req, const struct route_match *m)
{
	struct api_catalog_page *cp;
	char last[API_QUERY_MAX];
	const char **names = NULL;
	size_t limit, room, k, i, len, total = 0;
	int has_last, more = 0;
	char *p;

	if (page_args(req, &limit, last, sizeof(last), &has_last) == -1)
		return;
	/*
	 * No more room than the index has names: n=100000 with 10 000
	 * repositories made an 800 KiB block, which raised glibc's mmap and
	 * trim thresholds for good (bench phase 7's catalog/tags peak).
	 */
	room = limit < catalog_count() ? limit : catalog_count();
	if (room > 0 && (names = calloc(room, sizeof(*names))) == NULL)
		goto nomem;
	k = room > 0 ? catalog_page(has_last ? last : NULL, room, names, &more)
	             : 0;
	for (i = 0; i < k; i++)
		total += strlen(names[i]) + 1;
	if ((cp = api_job_new(req, m, sizeof(*cp),
	         k <= API_CATALOG_QUICK_MAX ? STORE_CALL_QUICK
	                                    : STORE_CALL_LIST,
	         catalog_work, catalog_done)) == NULL) {
		free(names);
		return;
	}
	cp->cp_limit = limit;
	cp->cp_more = more;
	if (k > 0 &&
	    ((cp->cp_names = calloc(k, sizeof(*cp->cp_names))) == NULL ||
	        (cp->cp_buf = malloc(total)) == NULL)) {
		api_job_detach(&cp->cp_job);
		catalog_free(cp);
		goto nomem;
	}
	for (i = 0, p = cp->cp_buf; i < k; i++, p += len) {
		len = strlen(names[i]) + 1;
		memcpy(p, names[i], len);
		cp->cp_names[i] = p;
	}
	cp->cp_n = k;
	free(names);
	api_job_start(&cp->cp_job);
	return;
nomem:
	free(names);
	http_error(req, 500, "UNKNOWN", "out of memory");
}

/* Wherever the store runs it: only the job's own fields. */
static void
catalog_work(struct store_call *sc)
{
	struct api_catalog_page *cp = (struct api_catalog_page *)sc;

	cp->cp_body = names_json(NULL, "repositories", cp->cp_names, cp->cp_n,
	    &cp->cp_len);
}

/* On the loop: send the page, if the client is still there. */
static void
catalog_done(struct store_call *sc)
{
	struct api_catalog_page *cp = (struct api_catalog_page *)sc;
	struct request *req = api_job_detach(&cp->cp_job);

	if (req == NULL)
		goto done;
	if (cp->cp_body == NULL) {
		http_error(req, 500, "UNKNOWN", "out of memory");
		goto done;
	}
	if (cp->cp_more && cp->cp_n > 0)
		http_add_header(req, "Link",
		    "</v2/_catalog?n=%zu&last=%s>; rel=\"next\"", cp->cp_limit,
		    cp->cp_names[cp->cp_n - 1]);
	http_reply_take(req, 200, API_CT_JSON, cp->cp_body, cp->cp_len);
	cp->cp_body = NULL;
done:
	catalog_free(cp);
}

static void
catalog_free(struct api_catalog_page *cp)
{
	free(cp->cp_names);
	free(cp->cp_buf);
	free(cp->cp_body);
	free(cp);
}

/*
 * api_listing_tags_get: GET /v2/<name>/tags/list (end-8a/8b): tags in
 * lexical order after last, at most n, Link rel="next" when more remain.
 * n=0 gives an empty list and no Link, as the spec requires. The
 * parameters are checked first (400), then the store lists the tags.
 */
void
api_listing_tags_get(struct request *req, const struct route_match *m)
{
	struct api_tags_list *tl;
	char last[API_QUERY_MAX];
	size_t limit;
	int has_last;

	if (page_args(req, &limit, last, sizeof(last), &has_last) == -1)
		return;
	if ((tl = api_job_new(req, m, sizeof(*tl), STORE_CALL_QUICK, tags_work,
	         tags_done)) == NULL)
		return;
	util_strlcpy(tl->tl_name, m->rm_name, sizeof(tl->tl_name));
	tl->tl_has_last = has_last;
	if (has_last)
		util_strlcpy(tl->tl_last, last, sizeof(tl->tl_last));
	tl->tl_limit = limit;
	api_job_start(&tl->tl_job);
}

/* Wherever the store runs it: only the job's own fields and the store. */
static void
tags_work(struct store_call *sc)
{
	struct api_tags_list *tl = (struct api_tags_list *)sc;
	char **tags = NULL;
	size_t ntags = 0;

	tl->tl_result = tl->tl_big
	    ? store_tag_list(api_store(), tl->tl_name, &tags, &ntags)
	    : store_tag_list_max(api_store(), tl->tl_name, API_TAGS_QUICK_MAX,
	          &tags, &ntags);
	tl->tl_errno = errno;
	if (tl->tl_result == 0) {
		ntags = store_list_showable(tags, ntags, 1);
		tags_page(tl, tags, ntags);
	}
	store_list_free(tags, ntags);
}

/*
 * Cut the page after last= from the sorted tags and serialise it into
 * tl_body, with tl_next set when more follow. On the worker: building
 * the JSON of 100 000 tags takes as long as listing them.
 */
static void
tags_page(struct api_tags_list *tl, char **tags, size_t ntags)
{
	size_t limit = tl->tl_limit, start = 0, k;

	/* store_tag_list sorts by strcmp, which is the order of last. */
	if (tl->tl_has_last)
		while (start < ntags && strcmp(tags[start], tl->tl_last) <= 0)
			start++;
	k = ntags - start < limit ? ntags - start : limit;
	if (start + k < ntags && k > 0 &&
	    (tl->tl_next = strdup(tags[start + k - 1])) == NULL)
		return;
	tl->tl_body =
	    names_json(tl->tl_name, "tags", tags + start, k, &tl->tl_len);
}

/* On the loop: send the answer, if the client is still there. */
static void
tags_done(struct store_call *sc)
{
	struct api_tags_list *tl = (struct api_tags_list *)sc;
	struct request *req;

	if (tl->tl_result == -1 && tl->tl_errno == E2BIG && !tl->tl_big &&
	    tl->tl_job.aj_req != NULL) {
		/* Too many for the loop: list them all off it. */
		tl->tl_big = 1;
		tl->tl_job.aj_call.sc_kind = STORE_CALL_LIST;
		api_job_start(&tl->tl_job);
		return;
	}
	if ((req = api_job_detach(&tl->tl_job)) == NULL)
		goto done;
	if (tl->tl_result == -1) {
		if (tl->tl_errno == ENOENT)
			http_error(req, 404, "NAME_UNKNOWN", NULL);
		else
			api_storage_error(req, tl->tl_errno, "store_tag_list");
		goto done;
	}
	if (tl->tl_body == NULL) {
		http_error(req, 500, "UNKNOWN", "out of memory");
		goto done;
	}
	if (tl->tl_next != NULL)
		http_add_header(req, "Link",
		    "</v2/%s/tags/list?n=%zu&last=%s>; rel=\"next\"",
		    tl->tl_name, tl->tl_limit, tl->tl_next);
	http_reply_take(req, 200, API_CT_JSON, tl->tl_body, tl->tl_len);
	tl->tl_body = NULL;
done:
	free(tl->tl_body);
	free(tl->tl_next);
	free(tl);
}
