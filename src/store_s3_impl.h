/*
 * store_s3_impl.h: what the files of the S3 driver share: store_s3.c
 * (the store, blobs, links, tags, repositories, referrers),
 * store_s3_req.c (requests and listings), store_s3_walk.c (the walk),
 * store_s3_upload.c (upload sessions) and store_s3_mpu.c (the multipart
 * uploads that assemble a blob).
 * Private to the S3 driver; the registry sees store_s3.h.
 */
#ifndef REGISTRYD_STORE_S3_IMPL_H
#define REGISTRYD_STORE_S3_IMPL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "s3.h"
#include "store.h"
#include "store_driver.h"

struct event;
struct event_base;
struct json_t;
struct s3_request;

#define STORE_S3_KEY_MAX  1024 /* S3 allows 1024 bytes of UTF-8 */
#define STORE_S3_LINK_MAX 128  /* longer links are garbage */
/* A blob's mark of its last use (store_s3.c explains it). */
#define STORE_S3_USED     "_registryd-used"
/* A collection's mark on a blob it is deciding on: + its id (store.h). */
#define STORE_S3_DOOMED   "_registryd-doomed-"

/*
 * A small request (links, state, tags, a HEAD; a body of at most
 * STORE_S3_SMALL_MAX) ends within STORE_S3_DEADLINE_MS, retries included:
 * a hung store answers 503 in seconds and frees the worker. Parts,
 * copies, tails and streamed GETs keep the per-attempt no-progress
 * timeouts (NOTE 3).
 */
#define STORE_S3_SMALL_MAX (1024 * 1024)
/*
 * The override (-DSTORE_S3_DEADLINE_MS) exists only so that t9930 can
 * show store_s3.c's _Static_asserts firing (a deadline the doomed-mark
 * TTL does not outlive; 0 or less, which would remove every deadline):
 * never build with it.
 */
#ifndef STORE_S3_DEADLINE_MS
#define STORE_S3_DEADLINE_MS 15000
#endif
/*
 * The purge aborts a multipart upload under blobs/ only once it is this
 * old, whatever upload_purge_age says: until then it may be a commit in
 * progress on some instance (store_s3_writer_commit, or registry:2's
 * Move), and aborting it fails that push (review R6-2). It only
 * reclaims space, so a day is soon enough.
 */
#define STORE_S3_MPU_AGE (24 * 60 * 60)

struct store_s3 {
	struct store s_base;
	struct s3 *s_s3;
	struct event_base *s_evbase; /* the loop the requests run on */
	/* With a loop of our own (store_s3_open with no base). */
	struct event_base *s_own_base;
	struct event *s_keepalive; /* keeps the own loop dispatching */
	pthread_t s_thread;
	int s_thread_started;
	int s_thread_ready; /* s_s3 made (or not), under s_lock */
	int s_new_errno;
	int s_stop; /* store_s3_close: the own loop ends (atomic) */
	pthread_cond_t s_ready;
	struct s3_config s_cfg; /* for s3_new on the thread; then wiped */
	char s_bucket[64];
	char s_prefix[STORE_S3_KEY_MAX / 2]; /* "<root>/docker/registry/v2/" */
	uint64_t s_chunk;
	uint64_t s_buffered; /* upload bytes in memory, all writers (atomic) */
	time_t s_mpu_age;    /* STORE_S3_MPU_AGE, or the test knob's */
	/*
	 * The repository list, kept for STORE_S3_REPO_TTL seconds (other
	 * instances' new repositories show up after that at the latest) and
	 * dropped at once when this process writes a revision or a tag.
	 * s_repos_gen counts those writes: a walk that began before one is
	 * not kept, since it may have listed that repository's level before
	 * the write (review R12).
	 */
	pthread_mutex_t s_lock;
	struct store_list s_repos;
	time_t s_repos_at;    /* monotonic seconds; 0: no list */
	uint64_t s_repos_gen; /* store_s3_repos_changed calls */
};

/* One object listed by store_s3_list. */
struct store_s3_obj {
	const char *so_key; /* relative to s_prefix; a prefix ends in '/' */
	int so_is_prefix;   /* a CommonPrefixes entry */
	uint64_t so_size;
	time_t so_mtime;
	time_t so_now; /* the listing's Date (store_s3_clock); 0: none */
};

/* store_s3_key: s_prefix + the formatted rest into buf; ENAMETOOLONG. */
int store_s3_key(struct store_s3 *, char *buf, size_t size, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));
/* store_s3_req: a zeroed request of method on key (whole) with query. */
void store_s3_req(struct s3_request *, const char *method, const char *key,
    const char *query);
/* store_s3_any: 1 when some key starts with prefix, 0 when none, -1. */
int store_s3_any(struct store_s3 *, const char *prefix);
/* store_s3_blob_key: s_prefix + "blobs/sha256/xx/<hex>" + suffix. */
int store_s3_blob_key(struct store_s3 *, const char *digest, const char *suffix,
    char *buf, size_t size);
/* store_s3_walk.c: store_walk. */
int store_s3_walk(struct store *, int (*)(const struct store_item *, void *),
    void *);
/* store_s3_body_sha256: hex SHA-256 of a body to sign, off the loop. */
void store_s3_body_sha256(const void *, size_t, char[65]);
/*
 * store_s3_errno: the errno for an answer with status and S3 error code
 * (may be NULL) (404 ENOENT, 403 EACCES, 5xx EAGAIN, NoSuchBucket ENXIO,
 * ...), or for a request that got none (err).
 */
int store_s3_errno(long status, const char *code, int err);
/* store_s3_parse_time: S3's "2026-11-30T09:00:00.000Z"; 0 or -1. */
int store_s3_parse_time(const char *, size_t, time_t *);
/*
 * store_s3_range_ok: whether the answer to a GET asking from byte first
 * is that: a 206 whose Content-Range starts there (any 2xx from 0). A
 * server ignoring Range answers 200 with the object from byte 0.
 */
int store_s3_range_ok(const struct s3_request *, uint64_t first);
/*
 * The synchronous requests, on a worker (s3_perform). Keys are whole
 * keys (store_s3_key). 0, or -1 with errno (ENOENT for a missing key).
 */
int store_s3_get(struct store_s3 *, const char *key, uint64_t first,
    uint64_t len, size_t max, char **buf, size_t *got);
int
store_s3_put(struct store_s3 *, const char *key, const void *buf, size_t len);
int store_s3_head(struct store_s3 *, const char *key, uint64_t *size,
    time_t *mtime);
int store_s3_delete(struct store_s3 *, const char *key);
/*
 * store_s3_list: every object (or, with delim, common prefix) whose key
 * starts with prefix (relative to s_prefix), in key order, to cb, which
 * returns 0 to go on, -1 to stop (its errno is returned). Each page
 * within STORE_S3_DEADLINE_MS: for listings a request waits on.
 */
int store_s3_list(struct store_s3 *, const char *prefix, int delim,
    int (*cb)(const struct store_s3_obj *, void *), void *arg);
/* store_s3_list_walk: the same without a deadline, for the walks. */
int store_s3_list_walk(struct store_s3 *, const char *prefix, int delim,
    int (*cb)(const struct store_s3_obj *, void *), void *arg);
/*
 * store_s3_doom_live: whether the doomed mark o still counts: younger
 * than STORE_DOOM_TTL by the store's clock (so_now), so that clocks apart
 * neither expire a live mark nor prolong a dead one (review G3, G4).
 * Without the store's clock (so_now 0: no Date, or one too far off:
 * store_s3_clock), younger than STORE_DOOM_TTL + STORE_S3_DATE_SKEW by
 * this host's, which cannot be further ahead of the store's: never
 * early, at worst 15 minutes late.
 */
int store_s3_doom_live(const struct store_s3_obj *o);
/*
 * How far a listing's Date may be from this host's clock and still be
 * the store's clock: a store refuses a request whose signature's time
 * (this host's clock, s3.c) is more than 15 minutes off its own (AWS,
 * MinIO, RGW), so while listings succeed the two agree to within this.
 */
#define STORE_S3_DATE_SKEW (15 * 60)
/*
 * A Date within STORE_S3_DATE_SKEW but more than this off this host's
 * clock is used and logged once: it is the doomed-mark TTL's margin over
 * the doom PUT, the hold and the data HEAD and DELETE (store_s3.c), so
 * a proxy's Date that far ahead of the store's clock can expire a mark
 * early.
 */
#define STORE_S3_DATE_WARN 15
/*
 * store_s3_clock: so_now for a listing answered with Date date (s3.h
 * rs_date; <= 0: none), this host's clock reading local: date, or 0 when
 * there is none or it is more than STORE_S3_DATE_SKEW seconds off local.
 * Logs once per process a Date used but more than STORE_S3_DATE_WARN
 * off, and once the fallback.
 */
time_t store_s3_clock(int64_t date, time_t local);
/* store_s3_delete_prefix: delete every object under prefix; *n of them. */
int store_s3_delete_prefix(struct store_s3 *, const char *prefix, size_t *n);
/* store_s3_repos_changed: drop the cached repository list. */
void store_s3_repos_changed(struct store_s3 *);
/*
 * store_s3_upload_dirs: every "repositories/<name>/_uploads/" prefix
 * into uploads (the caller frees it), by the delimited walk of
 * repositories/ that lists the catalog: one listing per level.
 */
int store_s3_upload_dirs(struct store_s3 *, struct store_list *uploads);
/* store_s3_link_write: the layer link, as store_link_write. */
int store_s3_link_put(struct store_s3 *, const char *name, enum store_link,
    const char *digest);

/* store_s3_upload.c */
struct store_writer *
store_s3_upload_create(struct store *, const char *name, const char *uuid);
struct store_writer *store_s3_upload_resume(struct store *, const char *name,
    const char *uuid, uint64_t *size);
int store_s3_writer_append(struct store_writer *, const void *, size_t);
int store_s3_writer_truncate(struct store_writer *, uint64_t);
void store_s3_writer_idle(struct store_writer *);
int store_s3_writer_hash(struct store_writer *, char[DIGEST_BUFSZ]);
int store_s3_writer_stat(struct store_writer *, uint64_t *);
int store_s3_writer_commit(struct store_writer *, const char *);
int store_s3_writer_abort(struct store_writer *);
void store_s3_writer_free(struct store_writer *);
int store_s3_writer_busy(struct store_writer *);
void store_s3_writer_set_wake(struct store_writer *, void (*)(void *), void *);
int store_s3_writer_flush(struct store_writer *);
int store_s3_writer_refresh(struct store_writer *);
int store_s3_upload_purge(struct store *, time_t, int);

/* store_s3_mpu.c: one multipart upload onto a blob key. */
struct store_s3_mpu {
	struct store_s3 *m_store;
	const char *m_key;
	char m_id[512];
	struct json_t *m_etags; /* one string per part, in order */
	char *m_acc;            /* bytes read, not uploaded yet */
	size_t m_acclen;
	int m_nosuch; /* the store said NoSuchUpload */
};

/* 0, or -1 with errno (m_nosuch set on NoSuchUpload). */
int store_s3_mpu_create(struct store_s3_mpu *);
/* Upload buf as the next part. */
int store_s3_mpu_part(struct store_s3_mpu *, const void *, size_t);
/* Copy bytes [off, off + len) of object src as the next part. */
int store_s3_mpu_copy(struct store_s3_mpu *, const char *src, uint64_t off,
    uint64_t len);
int store_s3_mpu_complete(struct store_s3_mpu *);
/* 0 when the upload is gone (a 404: another instance's purge was first). */
int store_s3_mpu_abort(struct store_s3_mpu *);
/* Add len bytes to the pending part; upload it once it is big enough. */
int store_s3_mpu_acc(struct store_s3_mpu *, const char *, size_t);
/*
 * store_s3_mpu_orphans: abort the multipart uploads under blobs/ begun
 * more than max_age before now; how many, or -1.
 */
int
store_s3_mpu_orphans(struct store_s3 *, time_t now, time_t max_age, int dryrun);

#endif /* REGISTRYD_STORE_S3_IMPL_H */
