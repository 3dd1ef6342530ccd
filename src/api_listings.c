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
#include "catalog.h"
#include "http.h"
#include "router.h"
#include "store.h"

#define API_CT_JSON   "application/json"
#define API_QUERY_MAX 512 /* longest n= / last= value kept */

static int page_args(struct request *, size_t *, char *, size_t, int *);

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
 * n=0 gives an empty list and no Link, as the spec requires.
 */
void
api_listing_tags_get(struct request *req, const struct route_match *m)
{
	char last[API_QUERY_MAX];
	char **tags = NULL;
	json_t *root = NULL, *arr = NULL;
	size_t ntags = 0, limit, start = 0, k, i;
	int has_last;

	if (page_args(req, &limit, last, sizeof(last), &has_last) == -1)
		return;
	if (store_tag_list(api_store(), m->rm_name, &tags, &ntags) == -1) {
		if (errno == ENOENT)
			http_error(req, 404, "NAME_UNKNOWN", NULL);
		else
			http_error(req, 500, "UNKNOWN", "store_tag_list: %s",
			    strerror(errno));
		return;
	}
	/* store_tag_list sorts by strcmp, which is the order of last. */
	if (has_last)
		while (start < ntags && strcmp(tags[start], last) <= 0)
			start++;
	k = ntags - start < limit ? ntags - start : limit;
	if ((root = json_object()) == NULL ||
	    api_json_set(root, "name", json_string(m->rm_name)) == -1 ||
	    api_json_set(root, "tags", arr = json_array()) == -1)
		goto fail;
	for (i = start; i < start + k; i++)
		if (api_json_append(arr, json_string(tags[i])) == -1)
			goto fail;
	if (start + k < ntags && k > 0)
		http_add_header(req, "Link",
		    "</v2/%s/tags/list?n=%zu&last=%s>; rel=\"next\"",
		    m->rm_name, limit, tags[start + k - 1]);
	store_list_free(tags, ntags);
	api_reply_json(req, 200, API_CT_JSON, root);
	return;
fail:
	store_list_free(tags, ntags);
	json_decref(root);
	http_error(req, 500, "UNKNOWN", "out of memory");
}
