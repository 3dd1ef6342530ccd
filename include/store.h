#ifndef REGISTRYD_STORE_H
#define REGISTRYD_STORE_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "digest.h"
#include "pool.h"

/*
 * The storage interface: everything the registry keeps goes through it,
 * and only a driver knows where the bytes live. Three drivers today:
 *
 *   filesystem  registry:2's tree, byte for byte (store_fs.h);
 *   s3          the same layout as keys of an S3 bucket (store_s3.h);
 *   memory      a process-local map, for handler tests (store_mem.h).
 *
 * The model is distribution's: content-addressed blobs; per repository
 * layer links, manifest revision links and tags; upload sessions that
 * live in the store (so any instance sharing it can resume one); a walk
 * over all of it for fsck and garbage collection.
 *
 * Contract, for every driver:
 *  - Functions are synchronous and may block (disk, network). The event
 *    loop calls them only through store_call, which runs them where the
 *    driver chooses and completes on the loop; the exceptions are the
 *    writer's append and truncate (see there), blob readers pulled by the
 *    HTTP layer (store_reader_read: a network driver would need a
 *    read-ahead buffer refilled by store_call), and handle bookkeeping
 *    (store_writer_size, _free, _idle, store_reader_close).
 *  - Functions return 0 / -1 with errno set unless they say otherwise:
 *    ENOENT when the object does not exist, EINVAL for a malformed name,
 *    tag, digest or uuid (callers validate them with router.c first),
 *    ENOSPC / EIO / ENOMEM as they come.
 *  - A store may be used from the loop and from worker threads at once; a
 *    reader or writer handle by one thread at a time.
 *  - Writes others may read are atomic and durable when they return: a
 *    blob becomes visible only whole, a link only after what it names.
 *  - Lists are malloc'd arrays of malloc'd strings the caller frees with
 *    store_list_free.
 */

struct store;
struct store_reader;
struct store_writer;

/*
 * store_close: release the store and what it caches; NULL is a no-op.
 * Every reader and writer of the store must have been freed before.
 */
void store_close(struct store *);
/* store_describe: "filesystem /srv/registry" for logs (owned by store). */
const char *store_describe(const struct store *);

/*
 * Asynchronous calls. The caller fills sc_work (the synchronous store
 * calls it needs, on whatever thread the driver chooses; it may touch
 * only what the call owns) and sc_done (on the event loop afterwards),
 * then store_call starts it. The call is embedded in its owner's struct
 * and owned by it; the store never frees it. sc_done may run before
 * store_call returns (a driver whose work is cheap runs both at once), so
 * the caller must not touch its state after store_call without knowing
 * that; or it may run much later (on the worker pool, over the network).
 */
enum store_call_kind {
	STORE_CALL_QUICK,   /* stat, small reads, small unsynced writes
	                     * (an upload's start, an unlink): at once on
	                     * a local disk */
	STORE_CALL_LIST,    /* a listing with no bound on its size (the
	                     * tags of a repository, its links, a
	                     * subject's referrers), or an answer made
	                     * from one (a _catalog page): one
	                     * directory, but it may hold 100 000
	                     * entries, so never on the loop */
	STORE_CALL_DURABLE, /* writes that end in fsync or a remote commit */
	STORE_CALL_WALK,    /* a walk of the whole store: always slow */
};

struct store_call {
	struct pool_job sc_job; /* private to store.c */
	enum store_call_kind sc_kind;
	void (*sc_work)(struct store_call *);
	void (*sc_done)(struct store_call *);
};

/*
 * store_call: run c->sc_work then, on the loop, c->sc_done, where the
 * driver wants calls of c->sc_kind run (see above).
 */
void store_call(struct store *, struct store_call *);

/* ---- blobs (global, content-addressed) ---- */

/* store_blob_stat: 0 and *size when the blob exists. */
int store_blob_stat(struct store *, const char *digest, uint64_t *size);
/*
 * store_blob_open: a reader of the blob and its *size; the caller frees
 * it with store_reader_close. NULL with errno (ENOENT) when missing.
 */
struct store_reader *
store_blob_open(struct store *, const char *digest, uint64_t *size);
/*
 * store_reader_read: up to len bytes at offset off into buf. Returns the
 * count (0 at the end), or -1 with errno. Blobs never change, so a short
 * count before the size the open gave means the store was tampered with.
 */
ssize_t
store_reader_read(struct store_reader *, void *buf, size_t len, uint64_t off);
/*
 * store_reader_set_wake: the reader is pulled on the event loop, which
 * must not wait: from now on store_reader_read may return -1 with
 * EAGAIN when the bytes at off are not there yet (a network driver's
 * read-ahead is empty), and fn(arg) runs later, on the loop and never
 * from within a store call, once reading again makes progress (bytes, or
 * an error). Without it a read waits (workers, the subcommands). Drivers
 * that never wait ignore it.
 */
void
store_reader_set_wake(struct store_reader *, void (*fn)(void *), void *arg);
void store_reader_close(struct store_reader *);
/*
 * store_blob_read: the whole blob into a malloc'd buffer with one NUL
 * byte appended (caller frees), failing with EFBIG when it is larger than
 * max.
 */
int store_blob_read(struct store *, const char *digest, size_t max, char **buf,
    size_t *len);
/*
 * store_blob_url: a URL the client may GET the blob's bytes from for
 * expires seconds without credentials (a presigned S3 URL), malloc'd;
 * NULL with ENOTSUP for drivers that have none (the filesystem). It does
 * not check that the blob exists.
 */
char *store_blob_url(struct store *, const char *digest, int expires);
/*
 * store_blob_write: store buf as blob digest (the caller has verified the
 * digest). Atomic and durable; succeeds at once when the blob exists.
 */
int store_blob_write(struct store *, const char *digest, const void *buf,
    size_t len);
/*
 * store_blob_delete: remove the blob's data (garbage collection: the
 * caller made sure nothing links to it). ENOENT when absent.
 */
int store_blob_delete(struct store *, const char *digest);

/* ---- repository links ---- */

/* Per-repository link kinds (distribution's link files). */
enum store_link {
	STORE_LINK_LAYER,    /* a blob the repository may serve */
	STORE_LINK_REVISION, /* a manifest of the repository */
};

/*
 * store_link_exists: 1 when name has the link and the blob it names
 * exists, 0 when not, -1 on an I/O error.
 */
int store_link_exists(struct store *, const char *name, enum store_link,
    const char *digest);
/*
 * store_link_write: create the link (atomic, durable, idempotent). Either
 * way the link and the blob it names count as used now (store_link_touch),
 * which online garbage collection relies on.
 */
int store_link_write(struct store *, const char *name, enum store_link,
    const char *digest);
/* store_link_delete: remove the link; ENOENT when absent. */
int store_link_delete(struct store *, const char *name, enum store_link,
    const char *digest);
/*
 * store_link_list: the digests of every link of that kind in name (a
 * list). A repository without any gives 0 and *n = 0. A STORE_CALL_LIST.
 */
int store_link_list(struct store *, const char *name, enum store_link,
    char ***digests, size_t *n);

/* ---- tags ---- */

/* store_tag_get: the digest tag points to; ENOENT if none. */
int store_tag_get(struct store *, const char *name, const char *tag,
    char digest[DIGEST_BUFSZ]);
/* store_tag_set: point tag at digest (atomic, durable). */
int store_tag_set(struct store *, const char *name, const char *tag,
    const char *digest);
/* store_tag_delete: remove the tag entirely; ENOENT when absent. */
int store_tag_delete(struct store *, const char *name, const char *tag);
/*
 * store_tag_list: tag names of name, sorted by strcmp (a list). ENOENT
 * when the repository does not exist. A STORE_CALL_LIST.
 */
int store_tag_list(struct store *, const char *name, char ***tags, size_t *n);
/*
 * store_tag_list_max: store_tag_list for a repository of at most max
 * tags, in bounded work whatever its size, so that a STORE_CALL_QUICK
 * may run it: when name has more, -1 with E2BIG, nothing listed (the
 * filesystem driver stops reading its directory after about max
 * entries). A driver without the bound lists every tag and gives them
 * (its QUICK calls do not run on the loop anyway).
 */
int store_tag_list_max(struct store *, const char *name, size_t max,
    char ***tags, size_t *n);

/* ---- repositories ---- */

/* store_repo_exists: 1 when the repository has manifest storage, else 0. */
int store_repo_exists(struct store *, const char *name);
/*
 * store_repo_list: every repository, sorted by store_repo_cmp (a list).
 * Walks the whole store: a STORE_CALL_WALK.
 */
int store_repo_list(struct store *, char ***names, size_t *n);

void store_list_free(char **list, size_t n);
/*
 * store_list_showable: keep in v[0..n), in order, only the repository
 * names (tags: the tags) that meet the request grammar of router.c
 * (ASCII, no quote, space or control character), freeing the others
 * with one warning; the count kept. A directory or a key read back from
 * the storage may be called anything, and a listing's JSON and Link
 * header must not carry it. Listings shown to clients call it; walks
 * and untagging do not, so they still see every entry.
 */
size_t store_list_showable(char **v, size_t n, int tags);

/*
 * store_repo_cmp: the catalog order (distribution's lessPath: compare
 * component by component, so "a/b" sorts before "a-b"). strcmp-like.
 */
int store_repo_cmp(const char *a, const char *b);

/* ---- the referrers index ---- */

/*
 * Which manifests of a repository name a subject, so that a referrers
 * query (OCI distribution-spec end-12a) reads a few small entries rather
 * than every manifest. The index is registryd's own: registry:2 neither
 * writes nor reads it, and another writer sharing the store may add or
 * remove manifests without it. So it is a cache over the revision links,
 * kept right by its users (api_referrers.c): an entry is served only
 * while its revision link exists, and store_referrer_stale names the
 * revisions added behind its back. Per repository it holds
 *
 *   entries  one per (subject, referrer): the referrer's descriptor, as
 *            the referrers answer lists it (a small JSON object);
 *   marks    one per revision the index has examined: the revision's
 *            entry, when it has a subject, was written before its mark.
 *
 * Each entry and mark is one object, created or removed whole and never
 * rewritten from what was read, so writers sharing the store never lose
 * each other's updates.
 */

/* store_referrer_put flags. */
#define STORE_REFERRER_DURABLE 0x01 /* the entry survives a crash at once */

/*
 * store_referrer_put: index revision digest of name: when subject is not
 * NULL, first the entry (subject, digest) holding desc (len bytes),
 * atomically (a reader sees all of it or the one before), durably with
 * STORE_REFERRER_DURABLE; then digest's mark, never synced. Idempotent.
 */
int store_referrer_put(struct store *, const char *name, const char *digest,
    const char *subject, const void *desc, size_t len, int flags);
/*
 * store_referrer_get: the descriptor of entry (subject, digest) into a
 * malloc'd buffer with one NUL byte appended (caller frees); EFBIG when
 * it is larger than max, ENOENT when there is no such entry.
 */
int store_referrer_get(struct store *, const char *name, const char *subject,
    const char *digest, size_t max, char **desc, size_t *len);
/*
 * store_referrer_list: the digests with an entry under subject, sorted by
 * strcmp (a list). None gives 0 and *n = 0. A STORE_CALL_LIST.
 */
int store_referrer_list(struct store *, const char *name, const char *subject,
    char ***digests, size_t *n);
/*
 * store_referrer_delete: remove digest's mark, then, when subject is not
 * NULL, the entry (subject, digest): in that order, so that a crash in
 * between leaves a revision to index again, never a mark without its
 * entry. ENOENT when neither was there.
 */
int store_referrer_delete(struct store *, const char *name, const char *subject,
    const char *digest);
/*
 * store_referrer_stale: what the index of name lacks: *add, the
 * revisions without a mark, and *drop, the marks of revisions that are
 * gone (two lists, sorted). Cheap enough for every query: the driver
 * compares two listings and reads neither links nor manifests, so a
 * revision whose link alone was removed (registry:2's delete) still
 * counts as there.
 */
int store_referrer_stale(struct store *, const char *name, char ***add,
    size_t *nadd, char ***drop, size_t *ndrop);

/* ---- uploads ---- */

/*
 * An upload session's data lives in the store under its repository and
 * uuid, with the time it started. A writer is the handle to one: it holds
 * no descriptor or connection while idle (between store_writer_idle and
 * the next append), so thousands of idle sessions cost only memory.
 * A session removed through another handle or instance (cancel, commit,
 * purge) makes this writer's calls fail with ENOENT, at the latest at
 * commit.
 */

/*
 * store_upload_create: a new, empty session. NULL with errno: EEXIST
 * when a session has that uuid already (it is left alone).
 */
struct store_writer *
store_upload_create(struct store *, const char *name, const char *uuid);
/*
 * store_upload_resume: a writer for an existing session (after a restart,
 * or one another instance started), positioned at its *size. NULL with
 * ENOENT when there is none.
 */
struct store_writer *store_upload_resume(struct store *, const char *name,
    const char *uuid, uint64_t *size);
/*
 * store_writer_size: the bytes the session holds, as far as this writer
 * knows. Only the loop changes it (append, truncate), so a worker that
 * holds the session may read it.
 */
uint64_t store_writer_size(const struct store_writer *);
/*
 * store_writer_rebased: 1 once after an append or truncate found the
 * session's data at another size than store_writer_size said (another
 * instance sharing the store wrote to it): the writer took the stored
 * size and appended there, so a hash of what this process sent no
 * longer describes the data. Else 0.
 */
int store_writer_rebased(struct store_writer *);
/*
 * store_writer_stat: the size of the session's data in the store now,
 * which differs from store_writer_size when another instance wrote to
 * it. ENOENT when the session is gone. May wait (a STORE_CALL_QUICK).
 */
int store_writer_stat(struct store_writer *, uint64_t *size);
/*
 * store_writer_append: add all of buf at the end. 0, or -1 with errno
 * (ENOSPC, EIO) and nothing of buf kept. The registry calls it (and
 * store_writer_truncate) on the event loop with each chunk of a request
 * body, so it must not wait: the filesystem driver writes to the page
 * cache; a network driver keeps a part in memory and sends it from a
 * store call.
 */
int store_writer_append(struct store_writer *, const void *buf, size_t len);
/*
 * store_writer_truncate: cut the data back to size bytes (undo); EINVAL
 * when size is more than the data holds.
 */
int store_writer_truncate(struct store_writer *, uint64_t size);
/*
 * store_writer_busy: 1 when the writer holds as many bytes as it may
 * while it sends them on (a network driver with its part buffers full):
 * the caller stops feeding appends (pauses the request body) and resumes
 * once the wake callback (store_writer_set_wake) runs. An append while
 * busy still takes its bytes. 0 for drivers that never hold back.
 */
int store_writer_busy(struct store_writer *);
/*
 * store_writer_set_wake: fn(arg) runs once, on the loop, when the writer
 * stops being busy or failed (the next append says why); NULL to clear.
 * store_writer_idle and store_writer_free clear it.
 */
void
store_writer_set_wake(struct store_writer *, void (*fn)(void *), void *arg);
/*
 * store_writer_wants_flush: 1 when appends are not visible to other
 * instances sharing the store until store_writer_flush (the S3 driver
 * keeps the last partial part in memory), 0 when they are at once.
 */
int store_writer_wants_flush(const struct store_writer *);
/*
 * store_writer_flush: make what the session holds so far durable and
 * visible to every instance sharing the store, so that the next request
 * of the upload may go to any of them. A STORE_CALL_DURABLE, run after
 * the request's last append and before its answer. 0 at once for drivers
 * without store_writer_wants_flush.
 */
int store_writer_flush(struct store_writer *);
/*
 * store_writer_refresh: before a request uses a writer kept from an
 * earlier one (drivers with store_writer_wants_flush): take what the
 * store holds now when another instance wrote to the session since, as
 * its size (sw_rebased set). ENOENT when the session is gone. A
 * STORE_CALL_QUICK; 0 at once for the other drivers.
 */
int store_writer_refresh(struct store_writer *);
/*
 * store_workers: how many worker threads store calls want (a driver
 * whose calls wait on the network wants more), or 0 for the default.
 */
int store_workers(const struct store *);
/*
 * store_writer_idle: the request that wrote is over: release what the
 * writer holds for writing (a descriptor). The next append reacquires it.
 */
void store_writer_idle(struct store_writer *);
/*
 * store_writer_hash: SHA-256 of the data so far, for a session whose
 * running hash was lost (resumed). Slow: a STORE_CALL_DURABLE.
 */
int store_writer_hash(struct store_writer *, char digest[DIGEST_BUFSZ]);
/*
 * store_writer_commit: make the data blob digest (already verified by the
 * caller), durably, link it as a layer of the session's repository and
 * remove the session. A STORE_CALL_DURABLE. The writer stays to be
 * freed.
 */
int store_writer_commit(struct store_writer *, const char *digest);
/* store_writer_abort: remove the session and its data (cancel, failure). */
int store_writer_abort(struct store_writer *);
/* store_writer_free: free the handle; the session stays. NULL: no-op. */
void store_writer_free(struct store_writer *);
/*
 * store_upload_purge: remove sessions that started more than max_age
 * seconds ago (a whole second more: age 0 spares one started this
 * second); how many were removed, or -1. With dryrun, remove nothing and
 * count (and log) what would go. A STORE_CALL_WALK.
 */
int store_upload_purge(struct store *, time_t max_age, int dryrun);

/* What store_probe asks of the store. */
enum store_probe_kind {
	STORE_PROBE_WRITE, /* a small object written and removed */
	STORE_PROBE_READ,  /* the top of the tree read (read_only mode) */
};

/*
 * store_probe: 0 when the store takes writes now (STORE_PROBE_WRITE:
 * nothing is left behind), or, for a registry in read_only mode, which
 * may sit on a read-only mount, answers reads now (STORE_PROBE_READ);
 * -1 with errno (EROFS, ENOSPC, EACCES, EIO). For /readyz: a
 * STORE_CALL_DURABLE, since a sick disk may hang it.
 */
int store_probe(struct store *, enum store_probe_kind);

/* ---- the walk (fsck, garbage collection) ---- */

/*
 * Everything the store holds, as the registry sees it, plus what a
 * driver finds that is not part of its layout. Strings are borrowed for
 * the callback only.
 */
enum store_item_kind {
	STORE_ITEM_BLOB,      /* si_digest; si_size */
	STORE_ITEM_REPO,      /* si_name */
	STORE_ITEM_LINK,      /* si_name, si_link, si_digest; si_target */
	STORE_ITEM_TAG,       /* si_name, si_tag; si_target: current */
	STORE_ITEM_TAG_INDEX, /* si_name, si_tag, si_digest; si_target */
	STORE_ITEM_UPLOAD,    /* si_name, si_uuid */
	STORE_ITEM_REFERRER,  /* si_name, si_subject, si_digest */
	STORE_ITEM_ODD,       /* si_where, si_what, si_severity */
};

/* What the pointer of a link, tag or tag index entry holds. */
enum store_target {
	STORE_TARGET_OK,      /* si_target: the bytes, NUL-terminated */
	STORE_TARGET_MISSING, /* no pointer (an interrupted write) */
	STORE_TARGET_BAD,     /* unreadable or not a plain object: si_what */
};

/* How bad an odd finding is. */
enum store_severity {
	STORE_SEV_INFO,    /* what a crash leaves and readers ignore */
	STORE_SEV_WARNING, /* foreign, harmless to clients */
	STORE_SEV_PROBLEM, /* wrong or missing content */
};

struct store_item {
	enum store_item_kind si_kind;
	const char *si_name;    /* repository */
	const char *si_tag;     /* tag */
	const char *si_uuid;    /* upload session */
	const char *si_digest;  /* the blob or link the item is about */
	const char *si_subject; /* REFERRER: the entry's subject */
	enum store_link si_link;
	uint64_t si_size; /* BLOB: bytes */
	/* LINK, TAG, TAG_INDEX: what the pointer holds, unchecked. */
	enum store_target si_target_state;
	const char *si_target;
	size_t si_target_len;
	/* ODD, and BAD targets: where (driver terms) and what is wrong. */
	const char *si_where;
	const char *si_what;
	enum store_severity si_severity;
};

/*
 * store_walk: call cb for every item: all blobs first, then the
 * repositories, each with its links, tags, referrers index entries (not
 * the marks) and uploads in the driver's
 * order (a repository's REPO item need not come before its links; one
 * with only layers or uploads has none). cb returns 0 to go on, -1 to
 * stop the walk. Returns 0, or -1 with errno when the walk failed or
 * (ECANCELED) cb stopped it. A STORE_CALL_WALK.
 */
int store_walk(struct store *, int (*cb)(const struct store_item *, void *arg),
    void *arg);

/* ---- when things were last used (online garbage collection) ---- */

/*
 * A collector that runs while pushes go on must not delete a blob that a
 * push has just found present (a blob HEAD, a mount, an upload of bytes
 * the store already has) and is about to reference from a manifest. So
 * the store keeps, for every blob and link, when it was last written or
 * touched, in the store itself (file times on disk): every instance
 * sharing the store, and registry:2 writing new links, leave their marks
 * where the collector looks. Times are the realtime clock as the store
 * keeps it (a file system may round them down to its granularity).
 */

/*
 * store_blob_used: when blob digest was written, or last touched through
 * a link (store_link_write, store_link_touch), into *ts. ENOENT when the
 * blob does not exist. A STORE_CALL_QUICK.
 */
int store_blob_used(struct store *, const char *digest, struct timespec *ts);
/*
 * store_link_used: when the link was written or last touched, into *ts.
 * ENOENT when the link does not exist. A STORE_CALL_QUICK.
 */
int store_link_used(struct store *, const char *name, enum store_link,
    const char *digest, struct timespec *ts);
/*
 * store_link_touch: the link, and the blob it names, count as used now.
 * Creates nothing: ENOENT when the link does not exist (the blob is then
 * left alone) or the blob does not (the link is touched all the same).
 * Not durable (a crash may forget it), a STORE_CALL_QUICK.
 */
int store_link_touch(struct store *, const char *name, enum store_link,
    const char *digest);
/*
 * store_link_use: store_link_exists, and when it says 1, store_link_touch
 * of that link: what a blob HEAD does. A driver may find the marks' times
 * with the reads the existence check makes anyway (the filesystem: no
 * system call more than store_link_exists while they are fresh).
 * A STORE_CALL_QUICK.
 */
int store_link_use(struct store *, const char *name, enum store_link,
    const char *digest);
/*
 * STORE_TOUCH_FRESH_MS: store_link_use (a blob HEAD) may leave alone a mark
 * younger than this: a layer HEADed by every client of a busy registry
 * would otherwise be written twice a request. A use at time t thus leaves
 * a mark no older than t - 0.5 s, and one done in a store that keeps whole
 * seconds a mark no older than t - 1 s: the collector's cutoff is a second
 * before now less gc_grace (gc.c, gc_set_cutoff), so whatever was used
 * within gc_grace is kept either way (on a file system whose server
 * stamps marks with a clock ahead of this host's, a mark may look fresh
 * longer: the push then learns the blob is gone at its manifest PUT, as
 * below, and uploads it again). store_link_touch always writes: a push
 * touches, then checks, and a sweep in another process reads that touch
 * (below); nothing a tag names rests on a skipped mark.
 */
#define STORE_TOUCH_FRESH_MS 500

/*
 * Several processes sharing a store. The guard (gc.h) orders a push's
 * touch and check against a sweep's check and removal within one
 * process only. Between processes, a sweep first dooms the blob it is
 * about to decide on, in the store, under its own id, then reads when it
 * was used; a push first touches what it references, then asks whether
 * it is doomed, and only then whether it exists (the sweep removes its
 * mark after the data). Each side writes, then reads what the other
 * writes (the store reads its own writes at once): whichever comes
 * second sees the other. So either the sweep sees the touch and keeps
 * the blob, or the push sees the doom (or, once the mark went with the
 * blob, no blob) and counts it missing; never both miss. A
 * driver without these calls (the filesystem's: several processes on one
 * tree are not its case) dooms nothing and finds nothing doomed.
 *
 * store_blob_doom: with on, mark blob digest doomed by collection id (a
 * UUID); without, remove that mark (the blob stays). store_blob_delete
 * removes the data before any mark. A STORE_CALL_QUICK.
 */
int store_blob_doom(struct store *, const char *digest, const char *id, int on);
/*
 * store_blob_doomed: 1 when a collection doomed blob digest less than
 * STORE_DOOM_TTL seconds ago (a mark left by a collection that died is
 * ignored after that), 0 when not, -1 on an error. A sweep that doomed a
 * blob removes it within STORE_DOOM_HOLD seconds or keeps it; the TTL
 * adds a minute for the removal's own requests (each within the S3
 * driver's 15 s deadline), and no more: a mark left behind refuses
 * every push naming the blob until it expires (review G3). The S3
 * driver ages a mark by the store's clock (the listing's Date against
 * the mark's Last-Modified), not this host's: skewed clocks neither
 * expire a live mark nor prolong a dead one. A listing with no Date, or
 * one more than 15 minutes off this host's clock (the most a request's
 * signature allows, so not the store's clock: a proxy's, say), falls
 * back to this host's clock, with the TTL 15 minutes longer: never
 * early, only longer refusals. A Date used but more than the TTL's 15 s
 * margin off this host's clock is logged: if a proxy wrote it, it may
 * be ahead of the store's.
 */
#define STORE_DOOM_HOLD 60
#define STORE_DOOM_TTL  (STORE_DOOM_HOLD + 60)
int store_blob_doomed(struct store *, const char *digest);

#endif /* REGISTRYD_STORE_H */
