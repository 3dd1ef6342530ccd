/*
 * fuzz_router: route_match and the name, tag and uuid grammars
 * (router.c), and the query helpers (util.c) on arbitrary bytes.
 *
 * Invariants: whatever route_match accepts is safe to turn into a path
 * under the storage root: rm_name passes route_name_is_valid, holds no
 * "..", no leading '/', no empty component and no component starting
 * with '_' or '.'; rm_ref is a valid digest, tag or uuid as the route
 * says; util_pct_decode's result has the length it reports and no NUL.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "router.h"
#include "util.h"

#include "fuzz.h"

static void
fuzz_check_name(const char *name)
{
	size_t len = strlen(name);
	const char *p;

	FUZZ_CHECK(len > 0 && len <= NAME_MAX_LEN);
	FUZZ_CHECK(route_name_is_valid(name, len));
	FUZZ_CHECK(strstr(name, "..") == NULL);
	FUZZ_CHECK(name[0] != '/' && name[len - 1] != '/');
	FUZZ_CHECK(strstr(name, "//") == NULL);
	for (p = name; p != NULL; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		FUZZ_CHECK(*p != '_' && *p != '.' && *p != '-');
	}
}

static void
fuzz_route(const char *path, size_t len)
{
	struct route_match m;
	size_t rlen;
	int rc;

	rc = route_match(path, len, &m);
	FUZZ_CHECK(rc >= 0 && rc <= ROUTE_ERR_UUID);
	if (rc != 0)
		return;
	rlen = strnlen(m.rm_ref, sizeof(m.rm_ref));
	FUZZ_CHECK(rlen < sizeof(m.rm_ref));
	switch (m.rm_id) {
	case ROUTE_BASE:
	case ROUTE_CATALOG:
	case ROUTE_HEALTHZ:
	case ROUTE_READYZ:
	case ROUTE_METRICS:
		FUZZ_CHECK(m.rm_name[0] == '\0' && rlen == 0);
		break;
	case ROUTE_TAGS:
	case ROUTE_UPLOADS:
		fuzz_check_name(m.rm_name);
		FUZZ_CHECK(rlen == 0);
		break;
	case ROUTE_MANIFEST:
		fuzz_check_name(m.rm_name);
		if (m.rm_ref_is_digest)
			FUZZ_CHECK(digest_is_valid(m.rm_ref, rlen));
		else
			FUZZ_CHECK(route_tag_is_valid(m.rm_ref, rlen) &&
			    strchr(m.rm_ref, '/') == NULL &&
			    m.rm_ref[0] != '.');
		break;
	case ROUTE_BLOB:
	case ROUTE_REFERRERS:
		fuzz_check_name(m.rm_name);
		FUZZ_CHECK(m.rm_ref_is_digest &&
		    digest_is_valid(m.rm_ref, rlen));
		break;
	case ROUTE_UPLOAD:
		fuzz_check_name(m.rm_name);
		FUZZ_CHECK(route_uuid_is_valid(m.rm_ref, rlen) &&
		    strchr(m.rm_ref, '/') == NULL &&
		    strstr(m.rm_ref, "..") == NULL);
		break;
	case ROUTE_ROOT:
	case ROUTE_UI_STATUS:
	case ROUTE_V1_PING:
	case ROUTE_V1_SEARCH:
		FUZZ_CHECK(m.rm_name[0] == '\0' && rlen == 0);
		break;
	case ROUTE_UI:
		/* A flat file name or "" (the page): never a path elsewhere. */
		FUZZ_CHECK(m.rm_name[0] == '\0');
		FUZZ_CHECK(rlen == 0 || route_ui_file_is_valid(m.rm_ref, rlen));
		FUZZ_CHECK(strchr(m.rm_ref, '/') == NULL &&
		    strstr(m.rm_ref, "..") == NULL && m.rm_ref[0] != '.');
		break;
	default:
		FUZZ_CHECK(!"unknown route id");
	}
	/* Every route has a name for the metrics, never "other". */
	FUZZ_CHECK(strcmp(route_name(m.rm_id), "other") != 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *nl, out[512], key[64];
	const char *query;
	size_t len;
	int n;

	/* A C string copy: route_match gets the path as http.c gives it. */
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	len = strlen(s);

	fuzz_route(s, len);
	/* The same bytes under /v2/, which is where the grammar lives. */
	if (len < 4096) {
		char *p = malloc(len + 5);

		if (p != NULL) {
			memcpy(p, "/v2/", 4);
			memcpy(p + 4, s, len + 1);
			fuzz_route(p, len + 4);
			free(p);
		}
	}

	if (route_name_is_valid((const char *)data, size)) {
		FUZZ_CHECK(size <= NAME_MAX_LEN);
		FUZZ_CHECK(memchr(data, '\0', size) == NULL);
	}
	if (route_tag_is_valid((const char *)data, size))
		FUZZ_CHECK(size <= TAG_MAX_LEN &&
		    memchr(data, '/', size) == NULL &&
		    memchr(data, '\0', size) == NULL && data[0] != '.' &&
		    data[0] != '-');
	if (route_uuid_is_valid((const char *)data, size))
		FUZZ_CHECK(size == UUID_LEN);

	/* Percent-decoding into buffers of every small size. */
	n = util_pct_decode((const char *)data, size, out, size % 64 + 1);
	if (n >= 0)
		FUZZ_CHECK((size_t)n < size % 64 + 1 && strlen(out) ==
		    (size_t)n);
	n = util_pct_decode((const char *)data, size, out, sizeof(out));
	if (n >= 0)
		FUZZ_CHECK((size_t)n <= size && strlen(out) == (size_t)n);

	/*
	 * A query: the first line is the key, the rest the query string
	 * (no line: look up the usual keys).
	 */
	if ((nl = strchr(s, '\n')) != NULL && (size_t)(nl - s) < sizeof(key)) {
		memcpy(key, s, (size_t)(nl - s));
		key[nl - s] = '\0';
		query = nl + 1;
		n = util_query_get(query, key, out, sizeof(out));
		if (n == 1)
			FUZZ_CHECK(strlen(out) < sizeof(out));
		(void)util_query_get(query, key, out, 4);
	} else {
		FUZZ_CHECK(util_query_get(NULL, "n", out, sizeof(out)) == 0);
		(void)util_query_get(s, "n", out, sizeof(out));
		(void)util_query_get(s, "last", out, sizeof(out));
		(void)util_query_get(s, "digest", out, 8);
		(void)util_query_get(s, "", out, sizeof(out));
	}
	free(s);
	return 0;
}
