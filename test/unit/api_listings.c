/*
 * Unit tests for api_listings.c's answers: a tags/list page and a
 * _catalog page are the bytes jansson's JSON_COMPACT gives for them
 * (escapes included), cut after last= and at n, and a page of 10 000
 * tags is made with one allocation, not two per tag (bench row 6c and
 * phase 7's catalog/tags peak; the HTTP side is t1100's and t1150's).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/api_listings.c"
#include "tap.h"

/*
 * malloc calls, counted while counting is set: this program's malloc
 * comes first for jansson and libc alike. Not under ASan, whose
 * allocator must stay the only one.
 */
#if defined(__SANITIZE_ADDRESS__)
#define COUNT_MALLOC 0
#else
#define COUNT_MALLOC 1
extern void *__libc_malloc(size_t);
static int counting;
static long mallocs;
static size_t malloc_last; /* the size of the last one counted */

void *
malloc(size_t n)
{
	if (counting) {
		mallocs++;
		malloc_last = n;
	}
	return __libc_malloc(n);
}
#endif

/* What jansson made of the same page (the answer before names_json). */
static char *
jansson_page(const char *name, const char *key, char **v, size_t n)
{
	json_t *root = json_object(), *arr = json_array();
	char *s;
	size_t i;

	if (name != NULL)
		json_object_set_new(root, "name", json_string(name));
	json_object_set_new(root, key, arr);
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_string(v[i]));
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

static void
test_bytes(void)
{
	char *odd[] = {"a\"b", "c\\d", "e\nf\x01", "g/h", "plain"};
	char *tags[] = {"1.0", "1.1", "2.0", "latest"};
	struct api_tags_list tl;
	char *want, *got;
	size_t len;

	got = names_json("lib/x", "tags", odd, 5, &len);
	/* jansson writes \n as such; names_json as \u000a. Both JSON. */
	ok(got != NULL && strlen(got) == len &&
	        strcmp(got, "{\"name\":\"lib/x\",\"tags\":[\"a\\\"b\","
	                    "\"c\\\\d\",\"e\\u000af\\u0001\",\"g/h\","
	                    "\"plain\"]}") == 0,
	    "escapes: %s", got != NULL ? got : "(null)");
	free(got);
	got = names_json(NULL, "repositories", odd + 3, 2, &len);
	want = jansson_page(NULL, "repositories", odd + 3, 2);
	ok(got != NULL && want != NULL && strcmp(got, want) == 0,
	    "a catalog page as jansson made it: %s", got);
	free(got);
	free(want);
	got = names_json("x", "tags", NULL, 0, &len);
	ok(got != NULL && strcmp(got, "{\"name\":\"x\",\"tags\":[]}") == 0 &&
	        len == strlen(got),
	    "no tags: []");
	free(got);

	memset(&tl, 0, sizeof(tl));
	util_strlcpy(tl.tl_name, "lib/x", sizeof(tl.tl_name));
	util_strlcpy(tl.tl_last, "1.0", sizeof(tl.tl_last));
	tl.tl_has_last = 1;
	tl.tl_limit = 2;
	tags_page(&tl, tags, 4);
	want = jansson_page("lib/x", "tags", tags + 1, 2);
	ok(tl.tl_body != NULL && want != NULL &&
	        strcmp(tl.tl_body, want) == 0 &&
	        tl.tl_len == strlen(tl.tl_body),
	    "page after last=1.0, n=2: %s", tl.tl_body);
	ok(tl.tl_next != NULL && strcmp(tl.tl_next, "2.0") == 0,
	    "the next page starts after 2.0");
	free(tl.tl_body);
	free(tl.tl_next);
	free(want);
}

#if COUNT_MALLOC
static void
test_allocations(void)
{
	struct api_tags_list tl;
	struct api_catalog_page cp;
	char **tags, *want;
	size_t i, n = 10000;

	if ((tags = calloc(n, sizeof(*tags))) == NULL)
		abort();
	for (i = 0; i < n; i++)
		if (asprintf(&tags[i], "t%05zu", i) == -1)
			abort();
	memset(&tl, 0, sizeof(tl));
	util_strlcpy(tl.tl_name, "bench/tags", sizeof(tl.tl_name));
	tl.tl_limit = SIZE_MAX;
	mallocs = 0;
	counting = 1;
	tags_page(&tl, tags, n);
	counting = 0;
	want = jansson_page("bench/tags", "tags", tags, n);
	ok(mallocs <= 1 && tl.tl_body != NULL && strcmp(tl.tl_body, want) == 0,
	    "10 000 tags: the page in %ld allocation(s)", mallocs);
	is_int((long)malloc_last, (long)tl.tl_len + 1,
	    "its size is the answer's and its NUL, no more, no less");
	free(want);
	free(tl.tl_body);

	memset(&cp, 0, sizeof(cp));
	cp.cp_names = tags;
	cp.cp_n = n;
	mallocs = 0;
	counting = 1;
	catalog_work(&cp.cp_job.aj_call);
	counting = 0;
	ok(mallocs <= 1 && cp.cp_body != NULL &&
	        cp.cp_len == strlen(cp.cp_body),
	    "10 000 names: the catalog page in %ld allocation(s)", mallocs);
	is_int((long)malloc_last, (long)cp.cp_len + 1,
	    "its size is the answer's and its NUL");
	free(cp.cp_body);
	for (i = 0; i < n; i++)
		free(tags[i]);
	free(tags);
}
#else
static void
test_allocations(void)
{
	int i;

	for (i = 0; i < 4; i++)
		ok(1, "# SKIP malloc not counted under ASan");
}
#endif

int
main(void)
{
	test_bytes();
	test_allocations();
	return done_testing();
}
