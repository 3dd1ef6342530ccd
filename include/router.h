#ifndef REGISTRYD_ROUTER_H
#define REGISTRYD_ROUTER_H

#include <stddef.h>

#include "bounds.h"

/*
 * The URL space: /v2/, plus a few fixed paths (the probes /healthz and
 * /readyz among them) and the web interface's files. route_match splits a
 * request path (no query) into an endpoint and its parts; it never
 * touches the filesystem, so whatever it accepts is safe to turn into a
 * path under the storage root.
 */
enum route_id {
	ROUTE_BASE,      /* /v2/ */
	ROUTE_CATALOG,   /* /v2/_catalog */
	ROUTE_TAGS,      /* /v2/<name>/tags/list */
	ROUTE_MANIFEST,  /* /v2/<name>/manifests/<tag|digest> */
	ROUTE_BLOB,      /* /v2/<name>/blobs/<digest> */
	ROUTE_UPLOADS,   /* /v2/<name>/blobs/uploads/ */
	ROUTE_UPLOAD,    /* /v2/<name>/blobs/uploads/<uuid> */
	ROUTE_REFERRERS, /* /v2/<name>/referrers/<digest> */
	/* Outside /v2/: fixed paths, and the web interface's files. */
	ROUTE_ROOT,      /* / and /ui: a redirect to /ui/ */
	ROUTE_UI,        /* /ui/[<file>]: rm_ref the file, "" for the page */
	ROUTE_UI_STATUS, /* /ui/api/status */
	ROUTE_V1_PING,   /* /v1/_ping (docker search) */
	ROUTE_V1_SEARCH, /* /v1/search */
	ROUTE_HEALTHZ,   /* /healthz: alive, no auth */
	ROUTE_READYZ,    /* /readyz: ready for traffic, no auth */
	ROUTE_METRICS,   /* /metrics (Prometheus) */
};

/* Longest file name under /ui/ (ROUTE_UI). */
#define ROUTE_UI_FILE_MAX 64

/* Why a path did not match (route_match's error result). */
enum route_err {
	ROUTE_ERR_NOT_FOUND = 1, /* not a /v2/ endpoint: 404 NOT_FOUND */
	ROUTE_ERR_NAME,          /* bad repository name: 400 NAME_INVALID */
	ROUTE_ERR_TAG,           /* bad tag (manifests): 400 TAG_INVALID on
	                            PUT, 404 MANIFEST_UNKNOWN otherwise */
	ROUTE_ERR_DIGEST,        /* bad digest: 400 DIGEST_INVALID (a manifest
	                            GET, HEAD, DELETE: 404 MANIFEST_UNKNOWN) */
	ROUTE_ERR_UUID,          /* bad upload id: 404 BLOB_UPLOAD_UNKNOWN */
};

struct route_match {
	enum route_id rm_id;
	char rm_name[NAME_MAX_LEN + 1]; /* repository */
	/*
	 * Tag or digest (ROUTE_MANIFEST), digest (ROUTE_BLOB,
	 * ROUTE_REFERRERS), uuid (ROUTE_UPLOAD), file (ROUTE_UI); ""
	 * otherwise.
	 */
	char rm_ref[TAG_MAX_LEN + DIGEST_MAX_LEN + 1];
	int rm_ref_is_digest; /* rm_ref is a valid digest */
};

/*
 * route_match: 0 and *m filled, or one of enum route_err. The path is split
 * at the last "/manifests/", "/blobs/", "/tags/list" or "/referrers/", so a
 * name may contain those words as components. On ROUTE_ERR_TAG,
 * ROUTE_ERR_DIGEST and ROUTE_ERR_UUID, rm_id and rm_name are filled (the
 * route and its valid name), rm_ref is not.
 */
int route_match(const char *path, size_t len, struct route_match *m);

/*
 * route_name: the endpoint's name for metric labels and logs, a string
 * constant: registry:2's route names where it has the endpoint ("base",
 * "catalog", "tags", "manifest", "blob", "blob_upload",
 * "blob_upload_chunk"), else ours ("referrers", "ui_root", "ui",
 * "ui_status", "v1_ping", "v1_search", "healthz", "readyz", "metrics");
 * "other" for an id without a name.
 */
const char *route_name(enum route_id);

/*
 * route_ui_file_is_valid: 1 when s[0..len) may name a file of the web
 * interface: [a-z0-9][a-z0-9._-]*, at most ROUTE_UI_FILE_MAX bytes, no
 * "..". Else 0.
 */
int route_ui_file_is_valid(const char *s, size_t len);

/*
 * OCI name grammar: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/...)*, at most
 * NAME_MAX_LEN bytes. 1 valid, 0 not.
 */
int route_name_is_valid(const char *s, size_t len);

/* Tag grammar [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. 1 valid, 0 not. */
int route_tag_is_valid(const char *s, size_t len);

/* Upload uuid: 36 chars of lowercase hex and '-' in uuid shape. */
int route_uuid_is_valid(const char *s, size_t len);

#endif /* REGISTRYD_ROUTER_H */
