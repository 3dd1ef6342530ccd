#ifndef REGISTRYD_BOUNDS_H
#define REGISTRYD_BOUNDS_H

/*
 * Every limit registryd enforces lives here, so that a reviewer can see at
 * a glance what a hostile client can make the server hold.
 */

/* HTTP request framing (http.c). */
#define HTTP_MAX_URL		8192		/* longer request target: 414 */
#define HTTP_MAX_HEADER_BYTES	(64 * 1024)	/* all header bytes: 431 */
#define HTTP_MAX_HEADERS	100		/* header lines: 431 */
#define HTTP_DISCARD_MAX	(1024 * 1024)	/* body bytes read after an early reply */
#define HTTP_READ_MAX		(256 * 1024)	/* bytes parsed per read callback */
#define HTTP_FILE_SEGMENT	(256 * 1024)	/* pread segment when sendfile is off */

/* Connections (server.c). */
#define SERVER_MAX_CONNECTIONS	4096		/* default [http] max_connections */

/* Registry objects. */
#define NAME_MAX_LEN		255		/* repository name, OCI grammar */
#define TAG_MAX_LEN		128		/* [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} */
#define DIGEST_MAX_LEN		71		/* "sha256:" + 64 hex */
#define UUID_LEN		36		/* upload session id */
#define MANIFEST_MAX_BYTES	(4 * 1024 * 1024)	/* manifest PUT: 413 */
#define LIST_MAX_ENTRIES	100000		/* n= on tags/list and _catalog */
/*
 * Descriptors in one manifest: real images have tens of layers, indexes
 * tens of platforms; this keeps the existence checks after a PUT bounded.
 */
#define MANIFEST_MAX_REFS	10000
#define REFERRERS_MAX		10000		/* manifests scanned per referrers query */

/* Upload writeback (upload.c): start writeback every this many bytes. */
#define UPLOAD_WRITEBACK_BYTES	(8 * 1024 * 1024)

/* Worker pool (pool.c). */
#define POOL_THREADS		2

#endif /* REGISTRYD_BOUNDS_H */
