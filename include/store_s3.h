#ifndef REGISTRYD_STORE_S3_H
#define REGISTRYD_STORE_S3_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct store;

/*
 * The S3 storage driver: registry:2's layout as object keys under
 * <rootdirectory>/docker/registry/v2/ in one bucket of any S3-compatible
 * store (AWS, Ceph RGW, MinIO), so a bucket written by registry:2's s3
 * driver is served by registryd and the other way round. Every request
 * runs on the event loop through s3.c (libcurl multi); the synchronous
 * store functions wait for theirs on worker threads (s3_perform), the
 * loop-side ones (appends, blob readers) start them and return.
 */

/* Parts are at least this big (S3's minimum, but for the last one). */
#define STORE_S3_CHUNK_MIN     (5 * 1024 * 1024)
/* registry:2's default chunksize. */
#define STORE_S3_CHUNK_DEFAULT (10 * 1024 * 1024)
/*
 * Upload bytes all sessions together may hold in memory (two parts each
 * at most while they are sent); an append beyond fails with EAGAIN (503).
 */
#define STORE_S3_BUFFERED_MAX  (1024 * 1024 * 1024)
/* Worker threads for store calls: they only wait on the network. */
#define STORE_S3_THREADS       16

struct store_s3_config {
	const char *sc_region;     /* "us-east-1" */
	const char *sc_endpoint;   /* regionendpoint, or NULL/"" for AWS */
	const char *sc_bucket;     /* at least 3 bytes */
	const char *sc_access_key; /* secret */
	const char *sc_secret_key; /* secret, never logged */
	const char *sc_root;       /* rootdirectory, "" or "/" for none */
	const char *sc_ca_file;    /* NULL: the system's */
	int sc_secure;             /* https to AWS (no endpoint) */
	int sc_path_style;         /* http://host/bucket/key */
	uint64_t sc_chunk_size;    /* part size, >= STORE_S3_CHUNK_MIN */
};

/*
 * store_s3_open: the store in cfg's bucket, whose requests run on base
 * (the registry's loop, which must be running when store calls wait on
 * them). With base NULL (the offline subcommands: fsck,
 * garbage-collect, du), the store runs a loop of its own on a thread.
 * Nothing is checked remotely here (see store_probe). The caller owns the
 * result (store_close); NULL with a message in err.
 */
struct store *store_s3_open(struct event_base *base,
    const struct store_s3_config *cfg, char *err, size_t errlen);

#endif /* REGISTRYD_STORE_S3_H */
