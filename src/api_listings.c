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

#include <jansson.h>

#include "api.h"
#include "api_parse.h"
#include "bounds.h"
#include "catalog.h"
#include "http.h"
#include "router.h"
#include "store.h"
#include "util.h"

#define API_CT_JSON   "application/json"
#define API_QUERY_MAX 512 /* longest n= / last= value kept */

/*
 * A tags/list: one store call of kind LIST (a repository may have a
 * hundred thousand tags), whose work lists the tags and makes the whole
 * answer off the loop: tags_done only sends it. Owned by itself;
 * tags_done frees it.
 */
struct api_tags_list {
	struct api_job tl_job; /* first: the call and request link */
	char tl_name[NAME_MAX_LEN + 1];
	char tl_last[API_QUERY_MAX]; /* last=, when tl_has_last */
	int tl_has_last;
	size_t tl_limit; /* n= */
	int tl_result;   /* store_tag_list's: 0, -1 (tl_errno) */
	int tl_errno;
	char *tl_body; /* the JSON answer (owned), NULL: out of memory */
	char *tl_next; /* last= of the next page (owned), NULL: none */
};

static int page_args(struct request *, size_t *, char *, size_t, int *);
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
 * extension of the spec).
 */
void
api_listing_catalog_get(struct request *req, const struct route_match *m)
{
	char last[API_QUERY_MAX];
	const char **names = NULL;
	json_t *root = NULL, *arr = NULL;
	size_t limit, k, i;
	int has_last, more = 0;

	(void)m;
	if (page_args(req, &limit, last, sizeof(last), &has_last) == -1)
		return;
	if (limit > 0 && (names = calloc(limit, sizeof(*names))) == NULL) {
		http_error(req, 500, "UNKNOWN", "out of memory");
		return;
	}
	k = limit > 0
	    ? catalog_page(has_last ? last : NULL, limit, names, &more)
	    : 0;
	if ((root = json_object()) == NULL ||
	    api_json_set(root, "repositories", arr = json_array()) == -1)
		goto fail;
	for (i = 0; i < k; i++)
		if (api_json_append(arr, json_string(names[i])) == -1)
			goto fail;
	/* The index may change at the next loop turn: use it now. */
	if (more && k > 0)
		http_add_header(req, "Link",
		    "</v2/_catalog?n=%zu&last=%s>; rel=\"next\"", limit,
		    names[k - 1]);
	free(names);
	api_reply_json(req, 200, API_CT_JSON, root);
	return;
fail:
	free(names);
	json_decref(root);
	http_error(req, 500, "UNKNOWN", "out of memory");
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
	if ((tl = api_job_new(req, m, sizeof(*tl), STORE_CALL_LIST, tags_work,
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

	tl->tl_result = store_tag_list(api_store(), tl->tl_name, &tags, &ntags);
	tl->tl_errno = errno;
	if (tl->tl_result == 0)
		tags_page(tl, tags, ntags);
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
	json_t *root = NULL, *arr = NULL;
	size_t limit = tl->tl_limit, start = 0, k, i;

	/* store_tag_list sorts by strcmp, which is the order of last. */
	if (tl->tl_has_last)
		while (start < ntags && strcmp(tags[start], tl->tl_last) <= 0)
			start++;
	k = ntags - start < limit ? ntags - start : limit;
	if ((root = json_object()) == NULL ||
	    api_json_set(root, "name", json_string(tl->tl_name)) == -1 ||
	    api_json_set(root, "tags", arr = json_array()) == -1)
		goto done;
	for (i = start; i < start + k; i++)
		if (api_json_append(arr, json_string(tags[i])) == -1)
			goto done;
	if (start + k < ntags && k > 0 &&
	    (tl->tl_next = strdup(tags[start + k - 1])) == NULL)
		goto done;
	tl->tl_body = json_dumps(root, JSON_COMPACT);
done:
	json_decref(root);
}

/* On the loop: send the answer, if the client is still there. */
static void
tags_done(struct store_call *sc)
{
	struct api_tags_list *tl = (struct api_tags_list *)sc;
	struct request *req = api_job_detach(&tl->tl_job);

	if (req == NULL)
		goto done;
	if (tl->tl_result == -1) {
		if (tl->tl_errno == ENOENT)
			http_error(req, 404, "NAME_UNKNOWN", NULL);
		else
			http_error(req, 500, "UNKNOWN", "store_tag_list: %s",
			    strerror(tl->tl_errno));
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
	http_reply(req, 200, API_CT_JSON, tl->tl_body, strlen(tl->tl_body));
done:
	free(tl->tl_body);
	free(tl->tl_next);
	free(tl);
}
