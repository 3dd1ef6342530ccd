#ifndef REGISTRYD_BOUNDS_H
#define REGISTRYD_BOUNDS_H

/*
 * Every limit registryd enforces lives here, so that a reviewer can see at
 * a glance what a hostile client can make the server hold.
 */

/* HTTP request framing (http.c). */
#define HTTP_MAX_URL          8192          /* longer request target: 414 */
#define HTTP_MAX_HEADER_BYTES (64 * 1024)   /* all header bytes: 431 */
#define HTTP_MAX_HEADERS      100           /* header lines: 431 */
#define HTTP_DISCARD_MAX      (1024 * 1024) /* discarded after an early reply */
#define HTTP_READ_MAX         (256 * 1024)  /* bytes parsed per read callback */
#define HTTP_FILE_SEGMENT     (256 * 1024)  /* pread size without sendfile */
/*
 * Lingering close (after a reply with Connection: close): input is
 * discarded until EOF, HTTP_LINGER_IDLE seconds of silence or
 * HTTP_LINGER_MAX seconds in all, whichever comes first; the last, so
 * that a client trickling bytes cannot hold the connection for good.
 */
#define HTTP_LINGER_IDLE      2
#define HTTP_LINGER_MAX       10

/* Connections (server.c). */
#define SERVER_MAX_CONNECTIONS 4096 /* default [http] max_connections */

/*
 * Default [http] max_connections_per_address: one client address (an
 * IPv6 /64) holds at most this many connections, so that one host cannot
 * take all max_connections. Docker opens up to 3 connections per pull and
 * 5 per push, so this leaves room for some 50 concurrent pulls and pushes
 * behind one NAT address, while 16 such addresses are needed to fill the
 * default max_connections. Trusted proxies (trust_proxy) are not capped.
 */
#define SERVER_MAX_CONNECTIONS_PER_ADDRESS 256

/*
 * accept() out of descriptors (EMFILE, ENFILE): the listeners are off
 * until a connection closes or this backoff, doubled after each failed
 * retry up to the maximum, has passed (descriptors held elsewhere, by
 * blob readers or another process, come free without any close).
 */
#define SERVER_ACCEPT_RETRY_MIN_MS 100
#define SERVER_ACCEPT_RETRY_MAX_MS 1000

/* Registry objects. */
#define NAME_MAX_LEN           255 /* repository name, OCI grammar */
#define TAG_MAX_LEN            128 /* [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} */
#define DIGEST_MAX_LEN         71  /* "sha256:" + 64 hex */
#define UUID_LEN               36  /* upload session id */
#define MANIFEST_MAX_BYTES     (4 * 1024 * 1024) /* manifest PUT: 413 */
#define LIST_MAX_ENTRIES       100000 /* n= on tags/list and _catalog */
/*
 * Descriptors in one manifest: real images have tens of layers, indexes
 * tens of platforms; this keeps the existence checks after a PUT bounded.
 */
#define MANIFEST_MAX_REFS      10000
/*
 * Referrers (api_referrers.c): manifests one query reads to bring the
 * index up to date (those pushed without it; a later query goes on),
 * and the pages of the answer: descriptors without n=, at most with it,
 * and bytes (clients take an index as a manifest: MANIFEST_MAX_BYTES).
 */
#define REFERRERS_MAX          10000
#define REFERRERS_PAGE_DEFAULT 1000
#define REFERRERS_PAGE_MAX     10000
#define REFERRERS_PAGE_BYTES   (MANIFEST_MAX_BYTES - 4096)

/*
 * Manifest bodies held in memory by all PUTs together: the default of
 * [http] manifest_buffer_max (a literal: config.c makes it a string);
 * beyond, 503 with this Retry-After (seconds).
 */
#define MANIFEST_BUFFER_MAX         67108864
#define MANIFEST_BUFFER_RETRY_AFTER 5

/*
 * docker search (api_search.c): results per page without n= and at most
 * (Docker's own range is 1 to 100), bytes of the search term, bytes of
 * a description, and of an image config read for one.
 */
#define SEARCH_PAGE_DEFAULT 25
#define SEARCH_PAGE_MAX     100
#define SEARCH_TERM_MAX     256
#define SEARCH_DESC_MAX     1024
#define SEARCH_CONFIG_MAX   (1024 * 1024)

/*
 * Blob counts for /metrics (catalog.c): a catalog refresh counts the
 * blobs too once this many times the last count's walk has passed since
 * it, so counting takes at most 1/CATALOG_BLOB_DUTY of a worker's time
 * (every refresh on a small store, every minute or so on a large one).
 */
#define CATALOG_BLOB_DUTY 20

/* Upload writeback (upload.c): start writeback every this many bytes. */
#define UPLOAD_WRITEBACK_BYTES (8 * 1024 * 1024)

/* Basic auth (auth.c). */
/*
 * Bytes of a user name with its NUL. The request keeps a buffer of this
 * size too (http.c), so the name in the upload _state and the access log
 * is the whole name auth accepted, never a prefix two users share.
 */
#define AUTH_USER_MAX     128
#define AUTH_LINE_MAX     1024              /* bytes per htpasswd line */
#define AUTH_FILE_MAX     (4 * 1024 * 1024) /* bytes per htpasswd file */
#define AUTH_USERS_MAX    10000             /* users per file */
#define AUTH_HASH_MAX     256               /* bytes of one hash */
#define AUTH_B64_MAX      1024              /* base64 bytes after "Basic " */
#define AUTH_CACHE_MAX    1024              /* cached credentials */
#define AUTH_LIMIT_MAX    4096              /* limiter keys with failures */
#define AUTH_ADDR_MAX     64                /* bytes of a client address */
#define AUTH_WINDOW       60                /* seconds of the failure window */
#define AUTH_DEFAULT_COST 10                /* passwd; dummy of an empty file */
#define AUTH_KEY_LEN      32                /* HMAC key and digest bytes */
#define AUTH_PASS_MAX     4096              /* passwd: bytes of a password */

/*
 * Failures per address and window, all user names together: fail_limit
 * times this. Counting per (address, user) alone would let one address
 * buy unbounded crypt work by guessing ever new user names.
 */
#define AUTH_ADDR_FAIL_FACTOR 10

/*
 * Worker pool (pool.c): threads per class of job. Store jobs mostly wait
 * for the disk, and commits in flight together share their syncs; walks
 * are a catalog refresh and an upload purge, one of each at a time.
 * Password checks get one thread per CPU but one, at most
 * POOL_AUTH_THREADS_MAX (bcrypt is all CPU). Their queue depth is
 * [auth] pending_max.
 */
#define POOL_STORE_THREADS    4
#define POOL_WALK_THREADS     2
#define POOL_AUTH_THREADS_MAX 4
#define POOL_THREADS_MAX      32 /* all classes together */
/* After a failed pthread_create, none for the class for this long. */
#define POOL_SPAWN_BACKOFF_MS 1000
/*
 * The workers' memory (pool.c): malloc arenas, the loop's and one the
 * workers share; and how long after a job the free pages of the arenas
 * are given back when no job is in flight (at most that often).
 */
#define POOL_MALLOC_ARENAS    2
#define POOL_TRIM_DELAY_MS    250

/*
 * S3 client (s3.c). A response body kept in memory (listings, multipart
 * answers, error XML) is capped: a ListObjectsV2 page of 1000 keys is
 * about 300 KiB. Error bodies are read for <Code> up to S3_ERRBODY_MAX.
 */
#define S3_BODY_MAX_DEFAULT (8 * 1024 * 1024)
#define S3_ERRBODY_MAX      (16 * 1024)
#define S3_GET_BUFFER                                                          \
	(512 * 1024)           /* libcurl's receive buffer, streamed GETs      \
	                        */
#define S3_BACKOFF_MAX_MS 8000 /* longest delay between two attempts */

#endif /* REGISTRYD_BOUNDS_H */
