/*
 * router.c: the URL space. route_match turns a request path into an
 * endpoint, a repository name and a reference; route_name names the
 * endpoint. Names and references are
 * checked against the OCI grammars here, by hand and with explicit
 * lengths, so that whatever this module accepts can be joined into a path
 * under the storage root: no "..", no empty or absolute components, no
 * percent escapes, no NUL. Outside /v2/ there are only fixed paths
 * (route_fixed) and the web interface's files under /ui/.
 */
#include <string.h>

#include "digest.h"
#include "router.h"

#define ROUTE_PREFIX     "/v2/"
#define ROUTE_PREFIX_LEN (sizeof(ROUTE_PREFIX) - 1)
#define ROUTE_CATALOG_S  "_catalog"
#define ROUTE_UPLOADS_S  "uploads"
#define ROUTE_UI_PREFIX  "/ui/"

/* Paths outside /v2/ that are an endpoint exactly as they are. */
static const struct {
	const char *fp_path;
	enum route_id fp_id;
} route_fixed[] = {
    {"/", ROUTE_ROOT},
    {"/ui", ROUTE_ROOT},
    {"/ui/api/status", ROUTE_UI_STATUS},
    {"/v1/_ping", ROUTE_V1_PING},
    {"/v1/search", ROUTE_V1_SEARCH},
    {"/healthz", ROUTE_HEALTHZ},
    {"/readyz", ROUTE_READYZ},
    {"/metrics", ROUTE_METRICS},
};

/* The separators a name can be followed by, in route_match's search. */
enum route_mark {
	ROUTE_MARK_NONE,
	ROUTE_MARK_MANIFESTS, /* "/manifests/<ref>" */
	ROUTE_MARK_BLOBS,     /* "/blobs/<digest>", "/blobs/uploads/..." */
	ROUTE_MARK_TAGS,      /* "/tags/list", only at the end */
	ROUTE_MARK_REFERRERS, /* "/referrers/<digest>" */
};

static const struct {
	enum route_mark mk_id;
	const char *mk_s;
} route_marks[] = {
    {ROUTE_MARK_MANIFESTS, "/manifests/"},
    {ROUTE_MARK_BLOBS, "/blobs/"},
    {ROUTE_MARK_TAGS, "/tags/list"},
    {ROUTE_MARK_REFERRERS, "/referrers/"},
};

/*
 * Route names (route_name). registry:2 names its routes "blob-upload" and
 * labels metrics with '-' turned to '_': the labels are what people
 * see, so those are the names.
 */
static const char *const route_names[] = {
    [ROUTE_BASE] = "base",
    [ROUTE_CATALOG] = "catalog",
    [ROUTE_TAGS] = "tags",
    [ROUTE_MANIFEST] = "manifest",
    [ROUTE_BLOB] = "blob",
    [ROUTE_UPLOADS] = "blob_upload",
    [ROUTE_UPLOAD] = "blob_upload_chunk",
    [ROUTE_REFERRERS] = "referrers",
    [ROUTE_ROOT] = "ui_root",
    [ROUTE_UI] = "ui",
    [ROUTE_UI_STATUS] = "ui_status",
    [ROUTE_V1_PING] = "v1_ping",
    [ROUTE_V1_SEARCH] = "v1_search",
    [ROUTE_METRICS] = "metrics",
    [ROUTE_HEALTHZ] = "healthz",
    [ROUTE_READYZ] = "readyz",
};

static int route_is_alnum_lower(char);
static int route_last_mark(const char *, size_t, size_t *, size_t *);
static int route_eq(const char *, size_t, const char *);
static int route_set_ref(struct route_match *, const char *, size_t);
static int route_manifest_ref(struct route_match *, const char *, size_t);
static int route_blobs(struct route_match *, const char *, size_t);

static int
route_is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* 1 when s[0..len) is exactly the C string lit. */
static int
route_eq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

/*
 * The last separator in s[0..len): its index in route_marks into *mark and
 * its offset into *pos; 1 found, 0 not. One scan from the end that tries
 * the marks only where a '/' stands: the marks differ in their second
 * byte, so at most one matches at a position, and the first match from
 * the end is the last in the path ("/tags/list" counts only at the end).
 */
static int
route_last_mark(const char *s, size_t len, size_t *mark, size_t *pos)
{
	size_t i = len, k, mlen;

	while (i-- > 0) {
		if (s[i] != '/')
			continue;
		for (k = 0; k < sizeof(route_marks) / sizeof(route_marks[0]);
		     k++) {
			mlen = strlen(route_marks[k].mk_s);
			if (mlen > len - i ||
			    memcmp(s + i, route_marks[k].mk_s, mlen) != 0)
				continue;
			if (route_marks[k].mk_id == ROUTE_MARK_TAGS &&
			    i + mlen != len)
				continue;
			*mark = k;
			*pos = i;
			return 1;
		}
	}
	return 0;
}

/* Copy a validated reference into m->rm_ref; 0, or -1 if it cannot fit. */
static int
route_set_ref(struct route_match *m, const char *s, size_t len)
{
	if (len >= sizeof(m->rm_ref))
		return -1;
	memcpy(m->rm_ref, s, len);
	m->rm_ref[len] = '\0';
	return 0;
}

/* "/manifests/<ref>": a digest or a tag. */
static int
route_manifest_ref(struct route_match *m, const char *ref, size_t len)
{
	m->rm_id = ROUTE_MANIFEST;
	if (digest_is_valid(ref, len)) {
		m->rm_ref_is_digest = 1;
		return route_set_ref(m, ref, len) == 0 ? 0 : ROUTE_ERR_DIGEST;
	}
	if (route_tag_is_valid(ref, len))
		return route_set_ref(m, ref, len) == 0 ? 0 : ROUTE_ERR_TAG;
	/* A tag never holds ':', so "alg:..." was meant as a digest. */
	if (memchr(ref, ':', len) != NULL)
		return ROUTE_ERR_DIGEST;
	return ROUTE_ERR_TAG;
}

/* "/blobs/<rest>": uploads, one upload, or a blob digest. */
static int
route_blobs(struct route_match *m, const char *rest, size_t len)
{
	size_t ulen = sizeof(ROUTE_UPLOADS_S) - 1;

	/* Docker always sends "uploads/"; accept "uploads" as well. */
	if (route_eq(rest, len, ROUTE_UPLOADS_S) ||
	    route_eq(rest, len, ROUTE_UPLOADS_S "/")) {
		m->rm_id = ROUTE_UPLOADS;
		return 0;
	}
	if (len > ulen + 1 &&
	    memcmp(rest, ROUTE_UPLOADS_S "/", ulen + 1) == 0) {
		rest += ulen + 1;
		len -= ulen + 1;
		m->rm_id = ROUTE_UPLOAD;
		if (!route_uuid_is_valid(rest, len) ||
		    route_set_ref(m, rest, len) != 0)
			return ROUTE_ERR_UUID;
		return 0;
	}
	m->rm_id = ROUTE_BLOB;
	if (!digest_is_valid(rest, len) || route_set_ref(m, rest, len) != 0)
		return ROUTE_ERR_DIGEST;
	m->rm_ref_is_digest = 1;
	return 0;
}

/*
 * route_match: split path[0..len) (no query string) into an endpoint, a
 * name and a reference in *m. The name ends at the last "/manifests/",
 * "/blobs/", "/referrers/" or final "/tags/list", whichever comes last, so
 * "a/blobs/b" is a valid name in /v2/a/blobs/b/manifests/latest. Returns
 * 0, or an enum route_err; *m is then only partly filled: for
 * ROUTE_ERR_TAG, ROUTE_ERR_DIGEST and ROUTE_ERR_UUID its rm_id and rm_name
 * (so the caller can answer by route), nothing else.
 */
int
route_match(const char *path, size_t len, struct route_match *m)
{
	enum route_mark mark = ROUTE_MARK_NONE;
	const char *rest, *after;
	size_t rlen, best = 0, marklen = 0, i, slen;

	memset(m, 0, sizeof(*m));
	if (path == NULL)
		return ROUTE_ERR_NOT_FOUND;
	for (i = 0; i < sizeof(route_fixed) / sizeof(route_fixed[0]); i++) {
		if (route_eq(path, len, route_fixed[i].fp_path)) {
			m->rm_id = route_fixed[i].fp_id;
			return 0;
		}
	}
	slen = sizeof(ROUTE_UI_PREFIX) - 1;
	if (len >= slen && memcmp(path, ROUTE_UI_PREFIX, slen) == 0) {
		rest = path + slen;
		rlen = len - slen;
		if (rlen > 0 && !route_ui_file_is_valid(rest, rlen))
			return ROUTE_ERR_NOT_FOUND;
		m->rm_id = ROUTE_UI;
		if (route_set_ref(m, rest, rlen) != 0)
			return ROUTE_ERR_NOT_FOUND;
		return 0;
	}
	if (route_eq(path, len, "/v2") || route_eq(path, len, ROUTE_PREFIX)) {
		m->rm_id = ROUTE_BASE;
		return 0;
	}
	if (len < ROUTE_PREFIX_LEN ||
	    memcmp(path, ROUTE_PREFIX, ROUTE_PREFIX_LEN) != 0)
		return ROUTE_ERR_NOT_FOUND;
	rest = path + ROUTE_PREFIX_LEN;
	rlen = len - ROUTE_PREFIX_LEN;
	if (route_eq(rest, rlen, ROUTE_CATALOG_S)) {
		m->rm_id = ROUTE_CATALOG;
		return 0;
	}

	/* Whichever separator occurs last ends the name. */
	if (route_last_mark(rest, rlen, &i, &best)) {
		mark = route_marks[i].mk_id;
		marklen = strlen(route_marks[i].mk_s);
	}
	/* No separator, or an empty name ("/v2//tags/list"). */
	if (mark == ROUTE_MARK_NONE || best == 0)
		return ROUTE_ERR_NOT_FOUND;
	if (!route_name_is_valid(rest, best))
		return ROUTE_ERR_NAME;
	memcpy(m->rm_name, rest, best);
	m->rm_name[best] = '\0';
	after = rest + best + marklen;
	rlen -= best + marklen;

	switch (mark) {
	case ROUTE_MARK_TAGS:
		m->rm_id = ROUTE_TAGS;
		return 0;
	case ROUTE_MARK_MANIFESTS:
		if (rlen == 0)
			return ROUTE_ERR_NOT_FOUND;
		return route_manifest_ref(m, after, rlen);
	case ROUTE_MARK_BLOBS:
		if (rlen == 0)
			return ROUTE_ERR_NOT_FOUND;
		return route_blobs(m, after, rlen);
	case ROUTE_MARK_REFERRERS:
		if (rlen == 0)
			return ROUTE_ERR_NOT_FOUND;
		m->rm_id = ROUTE_REFERRERS;
		if (!digest_is_valid(after, rlen) ||
		    route_set_ref(m, after, rlen) != 0)
			return ROUTE_ERR_DIGEST;
		m->rm_ref_is_digest = 1;
		return 0;
	case ROUTE_MARK_NONE:
		break;
	}
	return ROUTE_ERR_NOT_FOUND;
}

/* route_name: the endpoint's name for labels; "other" when it has none. */
const char *
route_name(enum route_id id)
{
	if ((size_t)id >= sizeof(route_names) / sizeof(route_names[0]) ||
	    route_names[id] == NULL)
		return "other";
	return route_names[id];
}

/*
 * route_ui_file_is_valid: a file name of the web interface, flat (no
 * '/'), never "." or "..": [a-z0-9][a-z0-9._-]* without "..", at most
 * ROUTE_UI_FILE_MAX bytes.
 */
int
route_ui_file_is_valid(const char *s, size_t len)
{
	size_t i;

	if (s == NULL || len == 0 || len > ROUTE_UI_FILE_MAX ||
	    !route_is_alnum_lower(s[0]))
		return 0;
	for (i = 1; i < len; i++) {
		if (route_is_alnum_lower(s[i]) || s[i] == '_' || s[i] == '-')
			continue;
		if (s[i] == '.' && s[i - 1] != '.')
			continue;
		return 0;
	}
	return 1;
}

/*
 * route_name_is_valid: 1 when s[0..len) matches the OCI distribution-spec
 * name grammar
 *	[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
 * and is at most NAME_MAX_LEN bytes, else 0. Components can therefore
 * never be empty, "." or "..", nor start with '_' (distribution's
 * "_layers", "_manifests" and "_uploads" directories).
 */
int
route_name_is_valid(const char *s, size_t len)
{
	size_t i = 0;

	if (s == NULL || len == 0 || len > NAME_MAX_LEN)
		return 0;
	for (;;) {
		/* A component: an alnum run, then separator + alnum runs. */
		if (i >= len || !route_is_alnum_lower(s[i]))
			return 0;
		while (i < len && route_is_alnum_lower(s[i]))
			i++;
		while (i < len && s[i] != '/') {
			if (s[i] == '.')
				i++;
			else if (s[i] == '_') {
				i++;
				if (i < len && s[i] == '_')
					i++;
			} else if (s[i] == '-') {
				while (i < len && s[i] == '-')
					i++;
			} else
				return 0;
			if (i >= len || !route_is_alnum_lower(s[i]))
				return 0;
			while (i < len && route_is_alnum_lower(s[i]))
				i++;
		}
		if (i == len)
			return 1;
		i++; /* the '/' */
	}
}

/*
 * route_tag_is_valid: 1 when s[0..len) matches
 * [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}, else 0. A tag cannot start with '.'
 * or '-', so it is never "." or ".." as a path component.
 */
int
route_tag_is_valid(const char *s, size_t len)
{
	size_t i;
	char c;

	if (s == NULL || len == 0 || len > TAG_MAX_LEN)
		return 0;
	for (i = 0; i < len; i++) {
		c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_')
			continue;
		if (i > 0 && (c == '.' || c == '-'))
			continue;
		return 0;
	}
	return 1;
}

/*
 * route_uuid_is_valid: 1 when s[0..len) has the shape util_uuid produces,
 * 8-4-4-4-12 lowercase hex digits, else 0.
 */
int
route_uuid_is_valid(const char *s, size_t len)
{
	size_t i;
	char c;

	if (s == NULL || len != UUID_LEN)
		return 0;
	for (i = 0; i < len; i++) {
		c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 0;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	return 1;
}
