/*
 * api_search.c: what `docker search HOST/term` asks a registry: GET
 * /v1/_ping, to which registryd answers as a standalone registry (the
 * daemon then sends its docker login credentials with the search, over
 * HTTPS), and GET /v1/search?q=&n=&page=, in the v1 search format
 * (num_results, num_pages, page, page_size, query, results with name and
 * description). registry:2 has neither and answers 404, which the
 * Docker CLI reports as "Unexpected status code 404".
 *
 * The term matches repository names from catalog.c's index, as a
 * case-insensitive substring, on the loop (the index is in memory). The
 * descriptions of the page's results are the
 * org.opencontainers.image.description annotation, or label, of each
 * repository's "latest" tag: reading those manifests and configs is one
 * store call of kind WALK (one per page, never on the loop), after which
 * search_done answers.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "bounds.h"
#include "catalog.h"
#include "digest.h"
#include "http.h"
#include "router.h"
#include "store.h"
#include "util.h"

#define SEARCH_CT_JSON  "application/json"
#define SEARCH_TAG      "latest"
#define SEARCH_DESC_KEY "org.opencontainers.image.description"
#define SEARCH_CHUNK    256 /* catalog names looked at per catalog_page */

/*
 * One page of results: the names are copied on the loop, the
 * descriptions filled in by search_work. Owned by itself; search_done
 * frees it and every string.
 */
struct api_search {
	struct api_job sr_job; /* first: the call and request link */
	char sr_term[SEARCH_TERM_MAX];
	uint64_t sr_total; /* matches in the whole catalog */
	uint64_t sr_page;
	uint64_t sr_size; /* n= */
	size_t sr_n;      /* results on this page */
	char *sr_names[SEARCH_PAGE_MAX];
	char *sr_descs[SEARCH_PAGE_MAX]; /* NULL: none */
};

static int
search_arg(struct request *, const char *, uint64_t, uint64_t, uint64_t *);
static int search_matches(const char *, const char *);
static void search_work(struct store_call *);
static void search_done(struct store_call *);
static char *search_describe(struct store *, const char *, int);
static char *search_config_label(struct store *, const char *);
static char *search_text(json_t *);
static void search_reply(struct request *, struct api_search *);
static void search_free(struct api_search *);

/*
 * api_search_ping_get: GET /v1/_ping. The header is what the Docker
 * daemon reads (a standalone registry gets the user's credentials); the
 * body is for clients that decode it instead.
 */
void
api_search_ping_get(struct request *req, const struct route_match *m)
{
	(void)m;
	http_add_header(req, "X-Docker-Registry-Standalone", "true");
	http_add_header(req, "Cache-Control", "no-cache");
	http_reply(req, 200, SEARCH_CT_JSON, "{}", 2);
}

/*
 * The decimal query parameter key in [1, max], def when absent. 0, or -1
 * after answering 400.
 */
static int
search_arg(struct request *req, const char *key, uint64_t def, uint64_t max,
    uint64_t *out)
{
	char buf[32];
	int rc;

	rc = util_query_get(http_query(req), key, buf, sizeof(buf));
	if (rc == 0) {
		*out = def;
		return 0;
	}
	if (rc == -1 ||
	    util_strtou64(buf, strlen(buf), UINT64_MAX, out) == -1 ||
	    *out == 0) {
		http_error(req, 400, "PAGINATION_NUMBER_INVALID",
		    "%s must be a positive integer", key);
		return -1;
	}
	if (*out > max)
		*out = max;
	return 0;
}

/* 1 when name holds term (lower case already) as a substring. */
static int
search_matches(const char *name, const char *term)
{
	return term[0] == '\0' || strstr(name, term) != NULL;
}

/*
 * api_search_get: GET /v1/search?q=TERM&n=N&page=P. q absent or empty
 * lists every repository; n is 1 to SEARCH_PAGE_MAX (25 without it),
 * page from 1. A page past the end is empty.
 */
void
api_search_get(struct request *req, const struct route_match *m)
{
	struct api_search *sr;
	const char *names[SEARCH_CHUNK];
	const char *last = NULL;
	char term[SEARCH_TERM_MAX];
	uint64_t size, page, skip;
	size_t k, i;
	int rc, more;

	rc = util_query_get(http_query(req), "q", term, sizeof(term));
	if (rc == -1) {
		http_error(req, 400, "BAD_REQUEST",
		    "q: malformed or longer than %d bytes",
		    SEARCH_TERM_MAX - 1);
		return;
	}
	if (rc == 0)
		term[0] = '\0';
	/* Repository names are lower case: so is the match. */
	for (i = 0; term[i] != '\0'; i++)
		if (term[i] >= 'A' && term[i] <= 'Z')
			term[i] = (char)(term[i] - 'A' + 'a');
	if (search_arg(req, "n", SEARCH_PAGE_DEFAULT, SEARCH_PAGE_MAX, &size) ==
	        -1 ||
	    search_arg(req, "page", 1, UINT64_MAX / SEARCH_PAGE_MAX, &page) ==
	        -1)
		return;
	if ((sr = api_job_new(req, m, sizeof(*sr), STORE_CALL_WALK, search_work,
	         search_done)) == NULL)
		return;
	util_strlcpy(sr->sr_term, term, sizeof(sr->sr_term));
	sr->sr_page = page;
	sr->sr_size = size;
	/* The index may change at the next loop turn: copy the page now. */
	skip = (page - 1) * size;
	do {
		k = catalog_page(last, SEARCH_CHUNK, names, &more);
		for (i = 0; i < k; i++) {
			if (!search_matches(names[i], term))
				continue;
			if (sr->sr_total++ < skip || sr->sr_n >= size)
				continue;
			if ((sr->sr_names[sr->sr_n] = strdup(names[i])) ==
			    NULL) {
				http_error(req, 500, "UNKNOWN",
				    "out of memory");
				api_job_detach(&sr->sr_job);
				search_free(sr);
				return;
			}
			sr->sr_n++;
		}
		last = k > 0 ? names[k - 1] : NULL;
	} while (more && k > 0);
	if (sr->sr_n == 0) {
		/* Nothing to describe: no store call. */
		api_job_detach(&sr->sr_job);
		search_reply(req, sr);
		search_free(sr);
		return;
	}
	api_job_start(&sr->sr_job);
}

/* Wherever the store runs it: only the job's own fields and the store. */
static void
search_work(struct store_call *sc)
{
	struct api_search *sr = (struct api_search *)sc;
	char digest[DIGEST_BUFSZ];
	size_t i;

	for (i = 0; i < sr->sr_n; i++)
		if (store_tag_get(api_store(), sr->sr_names[i], SEARCH_TAG,
		        digest) == 0)
			sr->sr_descs[i] =
			    search_describe(api_store(), digest, 1);
}

/* On the loop: answer, if the client is still there. */
static void
search_done(struct store_call *sc)
{
	struct api_search *sr = (struct api_search *)sc;
	struct request *req = api_job_detach(&sr->sr_job);

	if (req != NULL)
		search_reply(req, sr);
	search_free(sr);
}

/*
 * The description of manifest digest: its annotation; for an index
 * (depth 1 only), else that of its first platform's manifest; for an
 * image, else its config's label. A malloc'd string, or NULL.
 */
static char *
search_describe(struct store *st, const char *digest, int depth)
{
	json_t *root, *v, *e;
	const char *d, *os;
	char *buf = NULL, *desc = NULL;
	size_t len, i;

	if (store_blob_read(st, digest, MANIFEST_MAX_BYTES, &buf, &len) == -1)
		return NULL;
	root = json_loadb(buf, len, 0, NULL);
	free(buf);
	if (!json_is_object(root)) {
		json_decref(root);
		return NULL;
	}
	desc = search_text(json_object_get(json_object_get(root, "annotations"),
	    SEARCH_DESC_KEY));
	if (desc == NULL && depth > 0 &&
	    json_is_array(v = json_object_get(root, "manifests"))) {
		/* The first real platform: attestations say "unknown". */
		json_array_foreach(v, i, e)
		{
			d = json_string_value(json_object_get(e, "digest"));
			os = json_string_value(
			    json_object_get(json_object_get(e, "platform"),
			        "os"));
			if (d == NULL || !digest_is_valid(d, strlen(d)) ||
			    (os != NULL && strcmp(os, "unknown") == 0))
				continue;
			desc = search_describe(st, d, depth - 1);
			break;
		}
	}
	if (desc == NULL &&
	    (d = json_string_value(
	         json_object_get(json_object_get(root, "config"), "digest"))) !=
	        NULL &&
	    digest_is_valid(d, strlen(d)))
		desc = search_config_label(st, d);
	json_decref(root);
	return desc;
}

/* The description label of image config digest, or NULL. */
static char *
search_config_label(struct store *st, const char *digest)
{
	json_t *root;
	char *buf = NULL, *desc;
	size_t len;

	if (store_blob_read(st, digest, SEARCH_CONFIG_MAX, &buf, &len) == -1)
		return NULL;
	root = json_loadb(buf, len, 0, NULL);
	free(buf);
	desc = search_text(
	    json_object_get(json_object_get(json_object_get(root, "config"),
	                        "Labels"),
	        SEARCH_DESC_KEY));
	json_decref(root);
	return desc;
}

/*
 * A copy of string v cut to SEARCH_DESC_MAX bytes at a character
 * boundary (jansson holds valid UTF-8), or NULL when v is not a string
 * or empty.
 */
static char *
search_text(json_t *v)
{
	const char *s = json_string_value(v);
	size_t len;
	char *out;

	if (s == NULL || s[0] == '\0')
		return NULL;
	len = strlen(s);
	if (len > SEARCH_DESC_MAX) {
		len = SEARCH_DESC_MAX;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	if ((out = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(out, s, len);
	out[len] = '\0';
	return out;
}

/* The v1 search answer. */
static void
search_reply(struct request *req, struct api_search *sr)
{
	json_t *root = NULL, *arr = NULL, *r;
	size_t i;

	if ((root = json_object()) == NULL ||
	    api_json_set(root, "num_results",
	        json_integer((json_int_t)sr->sr_total)) ||
	    api_json_set(root, "num_pages",
	        json_integer((json_int_t)((sr->sr_total + sr->sr_size - 1) /
	            sr->sr_size))) ||
	    api_json_set(root, "page", json_integer((json_int_t)sr->sr_page)) ||
	    api_json_set(root, "page_size",
	        json_integer((json_int_t)sr->sr_size)) ||
	    api_json_set(root, "query", json_string(sr->sr_term)) ||
	    api_json_set(root, "results", arr = json_array()))
		goto fail;
	for (i = 0; i < sr->sr_n; i++) {
		if ((r = json_object()) == NULL || api_json_append(arr, r) ||
		    api_json_set(r, "name", json_string(sr->sr_names[i])) ||
		    api_json_set(r, "description",
		        json_string(
		            sr->sr_descs[i] != NULL ? sr->sr_descs[i] : "")) ||
		    api_json_set(r, "star_count", json_integer(0)) ||
		    api_json_set(r, "is_official", json_false()) ||
		    api_json_set(r, "is_automated", json_false()))
			goto fail;
	}
	api_reply_json(req, 200, SEARCH_CT_JSON, root);
	return;
fail:
	json_decref(root);
	http_error(req, 500, "UNKNOWN", "out of memory");
}

static void
search_free(struct api_search *sr)
{
	size_t i;

	for (i = 0; i < sr->sr_n; i++) {
		free(sr->sr_names[i]);
		free(sr->sr_descs[i]);
	}
	free(sr);
}
