/*
 * store_mem.c: the memory storage driver (store_mem.h). It keeps what the
 * filesystem driver keeps, with the same semantics, in plain linked lists
 * owned by the store, so handler tests run without a disk:
 *
 *   s_blobs                  blobs by digest (shared with open readers)
 *   s_repos                  repositories, each with
 *     mr_links[kind]           layer and revision links by digest
 *     mr_tags                  tags, each with its current digest and
 *                              the index of every digest it named
 *     mr_uploads               upload sessions by uuid
 *     mr_referrers             referrers index entries by (subject,
 *                              digest), with their descriptors
 *     mr_marks                 referrers index marks by digest
 *
 * Every list is kept sorted (digests, tags and uuids by strcmp,
 * repositories by store_repo_cmp), so listing is a copy and the walk is
 * in a stable order. Clarity wins over speed here: lookups are linear.
 *
 * One mutex, s_lock, guards all of it, because the registry calls a store
 * from the loop and from worker threads at once. Nothing waits while it
 * is held, so every call is cheap (store_mem_cheap). Blob bytes never
 * change once stored, so a reader copies them without the lock; the
 * reference it holds (mb_refs) keeps them alive after a delete, as an
 * open descriptor does for the filesystem driver.
 */

#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bounds.h"
#include "digest.h"
#include "store.h"
#include "store_driver.h"
#include "store_mem.h"
#include "util.h"

/* The smallest buffer an upload session grows to (then it doubles). */
#define STORE_MEM_UPLOAD_MIN 4096

/*
 * A blob: immutable bytes, referenced by s_blobs while it is stored and
 * by each reader open on it; freed (store_mem_blob_unref, under s_lock)
 * when the last of them lets go.
 */
struct store_mem_blob {
	struct store_mem_blob *mb_next; /* s_blobs, by digest */
	unsigned int mb_refs;
	char mb_digest[DIGEST_BUFSZ];
	unsigned char *mb_data; /* owned; NULL when mb_size is 0 */
	size_t mb_size;
	struct timespec mb_used; /* written or last touched */
};

/* A link, or a digest in a tag's index: owned by its list. */
struct store_mem_link {
	struct store_mem_link *ml_next; /* by digest */
	char ml_digest[DIGEST_BUFSZ];
	struct timespec ml_used; /* written or last touched (repo links) */
};

/* A tag, owned by its repository's mr_tags. */
struct store_mem_tag {
	struct store_mem_tag *mt_next; /* by tag */
	char mt_tag[TAG_MAX_LEN + 1];
	char mt_current[DIGEST_BUFSZ];
	struct store_mem_link *mt_index; /* owned: every digest it named */
};

/* An upload session, owned by its repository's mr_uploads. */
struct store_mem_upload {
	struct store_mem_upload *mu_next; /* by uuid */
	char mu_uuid[UUID_LEN + 1];
	time_t mu_started;
	unsigned char *mu_data; /* owned; mu_cap bytes, mu_size used */
	size_t mu_size;
	size_t mu_cap;
};

/* A referrers index entry, owned by its repository's mr_referrers. */
struct store_mem_referrer {
	struct store_mem_referrer *mf_next; /* by subject, then digest */
	char mf_subject[DIGEST_BUFSZ];
	char mf_digest[DIGEST_BUFSZ];
	char *mf_desc; /* owned, mf_len bytes */
	size_t mf_len;
};

/*
 * A repository, owned by s_repos. Like a directory under repositories/,
 * it stays once created, even when everything in it is deleted.
 */
struct store_mem_repo {
	struct store_mem_repo *mr_next; /* by store_repo_cmp */
	char mr_name[NAME_MAX_LEN + 1];
	/*
	 * Set by the first revision link or tag and never cleared, as the
	 * filesystem driver's _manifests directory outlives its contents:
	 * store_repo_exists, store_repo_list and store_tag_list go by it.
	 */
	int mr_manifests;
	struct store_mem_link *mr_links[2]; /* by enum store_link */
	struct store_mem_tag *mr_tags;
	struct store_mem_upload *mr_uploads;
	struct store_mem_referrer *mr_referrers;
	struct store_mem_link *mr_marks; /* the referrers index's */
};

/* A collection's doomed mark on a blob (store.h). */
struct store_mem_doom {
	struct store_mem_doom *md_next;
	char md_digest[DIGEST_BUFSZ];
	char md_id[UUID_LEN + 1];
	time_t md_at;
};

struct store_mem {
	struct store s_base;
	pthread_mutex_t s_lock; /* guards everything below */
	struct store_mem_blob *s_blobs;
	struct store_mem_repo *s_repos;
	struct store_mem_doom *s_dooms;
};

/* A blob reader: holds a reference, so the bytes outlive a delete. */
struct store_mem_reader {
	struct store_reader r_base;
	struct store_mem_blob *r_blob;
};

/*
 * An upload writer names its session rather than pointing at it: another
 * handle may commit, abort or purge the session meanwhile, and this one
 * then gets ENOENT, as with the filesystem driver.
 */
struct store_mem_writer {
	struct store_writer w_base;
	char w_name[NAME_MAX_LEN + 1];
	char w_uuid[UUID_LEN + 1];
};

/*
 * One item of a walk, copied out under the lock so the callback runs
 * without it (and may call the store). Empty strings are absent fields.
 */
struct store_mem_snap {
	enum store_item_kind sn_kind;
	enum store_link sn_link;
	uint64_t sn_size;
	char sn_name[NAME_MAX_LEN + 1];
	char sn_tag[TAG_MAX_LEN + 1];
	char sn_uuid[UUID_LEN + 1];
	char sn_digest[DIGEST_BUFSZ];
	char sn_subject[DIGEST_BUFSZ];
	char sn_target[DIGEST_BUFSZ];
};

/* A growing array of walk items. */
struct store_mem_snaps {
	struct store_mem_snap *ss_v;
	size_t ss_n;
	size_t ss_cap;
};

static void store_mem_close(struct store *);
static int store_mem_cheap(enum store_call_kind);
static int store_mem_blob_stat(struct store *, const char *, uint64_t *);
static struct store_reader *
store_mem_blob_open(struct store *, const char *, uint64_t *);
static ssize_t
store_mem_reader_read(struct store_reader *, void *, size_t, uint64_t);
static void store_mem_reader_close(struct store_reader *);
static int
store_mem_blob_write(struct store *, const char *, const void *, size_t);
static int store_mem_blob_delete(struct store *, const char *);
static int store_mem_link_exists(struct store *, const char *, enum store_link,
    const char *);
static int store_mem_link_write(struct store *, const char *, enum store_link,
    const char *);
static int store_mem_link_delete(struct store *, const char *, enum store_link,
    const char *);
static int store_mem_link_list(struct store *, const char *, enum store_link,
    char ***, size_t *);
static int store_mem_tag_get(struct store *, const char *, const char *,
    char[DIGEST_BUFSZ]);
static int
store_mem_tag_set(struct store *, const char *, const char *, const char *);
static int store_mem_tag_delete(struct store *, const char *, const char *);
static int store_mem_tag_list(struct store *, const char *, char ***, size_t *);
static int store_mem_repo_exists(struct store *, const char *);
static int store_mem_repo_list(struct store *, char ***, size_t *);
static struct store_writer *
store_mem_upload_create(struct store *, const char *, const char *);
static struct store_writer *
store_mem_upload_resume(struct store *, const char *, const char *, uint64_t *);
static int store_mem_writer_append(struct store_writer *, const void *, size_t);
static int store_mem_writer_truncate(struct store_writer *, uint64_t);
static void store_mem_writer_idle(struct store_writer *);
static int store_mem_writer_hash(struct store_writer *, char[DIGEST_BUFSZ]);
static int store_mem_writer_stat(struct store_writer *, uint64_t *);
static int store_mem_writer_commit(struct store_writer *, const char *);
static int store_mem_writer_abort(struct store_writer *);
static void store_mem_writer_free(struct store_writer *);
static int store_mem_upload_purge(struct store *, time_t, int);
static int store_mem_referrer_put(struct store *, const char *, const char *,
    const char *, const void *, size_t, int);
static int store_mem_referrer_get(struct store *, const char *, const char *,
    const char *, size_t, char **, size_t *);
static int store_mem_referrer_list(struct store *, const char *, const char *,
    char ***, size_t *);
static int store_mem_referrer_delete(struct store *, const char *, const char *,
    const char *);
static int store_mem_referrer_stale(struct store *, const char *, char ***,
    size_t *, char ***, size_t *);
static int store_mem_walk(struct store *,
    int (*)(const struct store_item *, void *), void *);
static int store_mem_blob_used(struct store *, const char *, struct timespec *);
static int
store_mem_link_use(struct store *, const char *, enum store_link, const char *);
static int store_mem_link_used(struct store *, const char *, enum store_link,
    const char *, struct timespec *);
static int store_mem_blob_doom(struct store *, const char *, const char *, int);
static int store_mem_blob_doomed(struct store *, const char *);
static int store_mem_link_touch(struct store *, const char *, enum store_link,
    const char *);
static void store_mem_now(struct timespec *);
static void store_mem_blob_touch(struct store_mem *, const char *);
static struct store_mem_link *store_mem_link_get(struct store_mem *,
    const char *, enum store_link, const char *);

static struct store_mem_blob **
store_mem_blob_find(struct store_mem *, const char *);
static void store_mem_blob_unref(struct store_mem_blob *);
static struct store_mem_link **
store_mem_link_find(struct store_mem_link **, const char *);
static void store_mem_link_free_all(struct store_mem_link *);
static struct store_mem_tag **
store_mem_tag_find(struct store_mem_repo *, const char *);
static void store_mem_tag_free(struct store_mem_tag *);
static struct store_mem_upload **
store_mem_upload_find(struct store_mem_repo *, const char *);
static void store_mem_upload_free(struct store_mem_upload *);
static struct store_mem_referrer **
store_mem_referrer_find(struct store_mem_repo *, const char *, const char *);
static int store_mem_mark(struct store_mem_repo *, const char *);
static struct store_mem_repo **
store_mem_repo_find(struct store_mem *, const char *);
static struct store_mem_repo *
store_mem_repo_get(struct store_mem *, const char *, int);
static void store_mem_repo_free(struct store_mem_repo *);
static struct store_mem_upload *store_mem_session(struct store_mem_writer *);
static int store_mem_list_fail(struct store_list *);
static struct store_mem_snap *store_mem_snap_add(struct store_mem_snaps *,
    enum store_item_kind, const char *);
static int
store_mem_snap_repo(struct store_mem_snaps *, const struct store_mem_repo *);

/*
 * 1: store_mem_cheap says no, so store_call defers every call to the pool
 * as a remote driver would (store_mem_defer). Read on the loop only.
 */
static int store_mem_deferred;

/* store_probe: memory always takes writes and answers reads. */
static int
store_mem_probe(struct store *st, enum store_probe_kind kind)
{
	(void)st;
	(void)kind;
	return 0;
}

static const struct store_ops store_mem_ops = {
    .so_name = "memory",
    .so_close = store_mem_close,
    .so_cheap = store_mem_cheap,
    .so_blob_stat = store_mem_blob_stat,
    .so_blob_open = store_mem_blob_open,
    .so_reader_read = store_mem_reader_read,
    .so_reader_close = store_mem_reader_close,
    .so_blob_write = store_mem_blob_write,
    .so_blob_delete = store_mem_blob_delete,
    .so_link_exists = store_mem_link_exists,
    .so_link_write = store_mem_link_write,
    .so_link_delete = store_mem_link_delete,
    .so_link_list = store_mem_link_list,
    .so_tag_get = store_mem_tag_get,
    .so_tag_set = store_mem_tag_set,
    .so_tag_delete = store_mem_tag_delete,
    .so_tag_list = store_mem_tag_list,
    .so_repo_exists = store_mem_repo_exists,
    .so_repo_list = store_mem_repo_list,
    .so_upload_create = store_mem_upload_create,
    .so_upload_resume = store_mem_upload_resume,
    .so_writer_append = store_mem_writer_append,
    .so_writer_truncate = store_mem_writer_truncate,
    .so_writer_idle = store_mem_writer_idle,
    .so_writer_hash = store_mem_writer_hash,
    .so_writer_stat = store_mem_writer_stat,
    .so_writer_commit = store_mem_writer_commit,
    .so_writer_abort = store_mem_writer_abort,
    .so_writer_free = store_mem_writer_free,
    .so_upload_purge = store_mem_upload_purge,
    .so_referrer_put = store_mem_referrer_put,
    .so_referrer_get = store_mem_referrer_get,
    .so_referrer_list = store_mem_referrer_list,
    .so_referrer_delete = store_mem_referrer_delete,
    .so_referrer_stale = store_mem_referrer_stale,
    .so_walk = store_mem_walk,
    .so_blob_used = store_mem_blob_used,
    .so_link_used = store_mem_link_used,
    .so_link_use = store_mem_link_use,
    .so_link_touch = store_mem_link_touch,
    .so_blob_doom = store_mem_blob_doom,
    .so_blob_doomed = store_mem_blob_doomed,
    .so_probe = store_mem_probe,
};

/* ---- lists ---- */

/*
 * The *_find functions return where key is in a sorted list, or where it
 * would be inserted: found when the slot is non-NULL and its key equal.
 * Callers hold s_lock.
 */
static struct store_mem_blob **
store_mem_blob_find(struct store_mem *s, const char *digest)
{
	struct store_mem_blob **pp;

	for (pp = &s->s_blobs; *pp != NULL; pp = &(*pp)->mb_next)
		if (strcmp((*pp)->mb_digest, digest) >= 0)
			break;
	return pp;
}

/* store_mem_blob_unref: drop one reference; the last frees the blob. */
static void
store_mem_blob_unref(struct store_mem_blob *b)
{
	if (--b->mb_refs > 0)
		return;
	free(b->mb_data);
	free(b);
}

static struct store_mem_link **
store_mem_link_find(struct store_mem_link **head, const char *digest)
{
	struct store_mem_link **pp;

	for (pp = head; *pp != NULL; pp = &(*pp)->ml_next)
		if (strcmp((*pp)->ml_digest, digest) >= 0)
			break;
	return pp;
}

static void
store_mem_link_free_all(struct store_mem_link *l)
{
	struct store_mem_link *next;

	for (; l != NULL; l = next) {
		next = l->ml_next;
		free(l);
	}
}

static struct store_mem_tag **
store_mem_tag_find(struct store_mem_repo *r, const char *tag)
{
	struct store_mem_tag **pp;

	for (pp = &r->mr_tags; *pp != NULL; pp = &(*pp)->mt_next)
		if (strcmp((*pp)->mt_tag, tag) >= 0)
			break;
	return pp;
}

static void
store_mem_tag_free(struct store_mem_tag *t)
{
	store_mem_link_free_all(t->mt_index);
	free(t);
}

static struct store_mem_upload **
store_mem_upload_find(struct store_mem_repo *r, const char *uuid)
{
	struct store_mem_upload **pp;

	for (pp = &r->mr_uploads; *pp != NULL; pp = &(*pp)->mu_next)
		if (strcmp((*pp)->mu_uuid, uuid) >= 0)
			break;
	return pp;
}

static void
store_mem_upload_free(struct store_mem_upload *u)
{
	free(u->mu_data);
	free(u);
}

static struct store_mem_referrer **
store_mem_referrer_find(struct store_mem_repo *r, const char *subject,
    const char *digest)
{
	struct store_mem_referrer **pp;
	int c;

	for (pp = &r->mr_referrers; *pp != NULL; pp = &(*pp)->mf_next) {
		c = strcmp((*pp)->mf_subject, subject);
		if (c > 0 || (c == 0 && strcmp((*pp)->mf_digest, digest) >= 0))
			break;
	}
	return pp;
}

/* store_mem_mark: add digest's mark to r (idempotent). 0, or -1. */
static int
store_mem_mark(struct store_mem_repo *r, const char *digest)
{
	struct store_mem_link **lp, *l;

	lp = store_mem_link_find(&r->mr_marks, digest);
	if (*lp != NULL && strcmp((*lp)->ml_digest, digest) == 0)
		return 0;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -1;
	(void)util_strlcpy(l->ml_digest, digest, sizeof(l->ml_digest));
	l->ml_next = *lp;
	*lp = l;
	return 0;
}

static struct store_mem_repo **
store_mem_repo_find(struct store_mem *s, const char *name)
{
	struct store_mem_repo **pp;

	for (pp = &s->s_repos; *pp != NULL; pp = &(*pp)->mr_next)
		if (store_repo_cmp((*pp)->mr_name, name) >= 0)
			break;
	return pp;
}

/*
 * store_mem_repo_get: the repository called name (already validated).
 * With create, a missing one is added (NULL only on ENOMEM); without,
 * NULL with ENOENT. Under s_lock.
 */
static struct store_mem_repo *
store_mem_repo_get(struct store_mem *s, const char *name, int create)
{
	struct store_mem_repo **pp, *r;

	pp = store_mem_repo_find(s, name);
	if (*pp != NULL && strcmp((*pp)->mr_name, name) == 0)
		return *pp;
	if (!create) {
		errno = ENOENT;
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	(void)util_strlcpy(r->mr_name, name, sizeof(r->mr_name));
	r->mr_next = *pp;
	*pp = r;
	return r;
}

static void
store_mem_repo_free(struct store_mem_repo *r)
{
	struct store_mem_tag *t, *tnext;
	struct store_mem_upload *u, *unext;
	struct store_mem_referrer *f, *fnext;

	store_mem_link_free_all(r->mr_links[STORE_LINK_LAYER]);
	store_mem_link_free_all(r->mr_links[STORE_LINK_REVISION]);
	store_mem_link_free_all(r->mr_marks);
	for (f = r->mr_referrers; f != NULL; f = fnext) {
		fnext = f->mf_next;
		free(f->mf_desc);
		free(f);
	}
	for (t = r->mr_tags; t != NULL; t = tnext) {
		tnext = t->mt_next;
		store_mem_tag_free(t);
	}
	for (u = r->mr_uploads; u != NULL; u = unext) {
		unext = u->mu_next;
		store_mem_upload_free(u);
	}
	free(r);
}

/* store_mem_list_fail: free a half-built list; -1 with errno kept. */
static int
store_mem_list_fail(struct store_list *l)
{
	int saved = errno;

	store_list_free(l->sl_v, l->sl_n);
	memset(l, 0, sizeof(*l));
	errno = saved;
	return -1;
}

/* ---- open / close ---- */

/*
 * store_mem_open: an empty store, owned by the caller (store_close).
 * NULL with errno ENOMEM.
 */
struct store *
store_mem_open(void)
{
	struct store_mem *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if (pthread_mutex_init(&s->s_lock, NULL) != 0) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	s->s_base.s_ops = &store_mem_ops;
	(void)util_strlcpy(s->s_base.s_describe, "memory",
	    sizeof(s->s_base.s_describe));
	return &s->s_base;
}

/*
 * store_mem_close: free everything. Readers and writers must be closed
 * first: a reader's blob would survive (it holds a reference) but its
 * close takes the store's lock.
 */
static void
store_mem_close(struct store *st)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_blob *b, *bnext;
	struct store_mem_repo *r, *rnext;
	struct store_mem_doom *d;

	for (b = s->s_blobs; b != NULL; b = bnext) {
		bnext = b->mb_next;
		store_mem_blob_unref(b);
	}

	for (r = s->s_repos; r != NULL; r = rnext) {
		rnext = r->mr_next;
		store_mem_repo_free(r);
	}
	while ((d = s->s_dooms) != NULL) {
		s->s_dooms = d->md_next;
		free(d);
	}
	pthread_mutex_destroy(&s->s_lock);
	free(s);
}

/*
 * Nothing in memory waits: every kind may run on the loop, unless a test
 * asked for the calls to be deferred (store_mem_defer).
 */
static int
store_mem_cheap(enum store_call_kind kind)
{
	(void)kind;
	return !store_mem_deferred;
}

/*
 * store_mem_defer: make store_call run work on the worker pool from now
 * on, when on is 1. Process-wide, because so_cheap has no store to hold
 * the setting; set it while no call is in flight.
 */
void
store_mem_defer(int on)
{
	store_mem_deferred = on;
}

/* The hook of store_mem_on_blob_write, or NULL. */
static void (*store_mem_exists_fn)(const char *, void *);
static void *store_mem_exists_arg;

void
store_mem_on_blob_write(void (*fn)(const char *, void *), void *arg)
{
	store_mem_exists_fn = fn;
	store_mem_exists_arg = arg;
}

/* ---- blobs ---- */

static int
store_mem_blob_stat(struct store *st, const char *digest, uint64_t *size)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_blob **pp;
	int rv = -1;

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	pp = store_mem_blob_find(s, digest);
	if (*pp != NULL && strcmp((*pp)->mb_digest, digest) == 0) {
		*size = (*pp)->mb_size;
		rv = 0;
	} else
		errno = ENOENT;
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

/*
 * store_mem_blob_open: a reader holding a reference to the blob, and its
 * size. NULL with ENOENT when the blob does not exist.
 */
static struct store_reader *
store_mem_blob_open(struct store *st, const char *digest, uint64_t *size)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_reader *r;
	struct store_mem_blob **pp;

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->r_base.sr_store = st;
	pthread_mutex_lock(&s->s_lock);
	pp = store_mem_blob_find(s, digest);
	if (*pp != NULL && strcmp((*pp)->mb_digest, digest) == 0) {
		r->r_blob = *pp;
		r->r_blob->mb_refs++;
		*size = r->r_blob->mb_size;
	}
	pthread_mutex_unlock(&s->s_lock);
	if (r->r_blob == NULL) {
		free(r);
		errno = ENOENT;
		return NULL;
	}
	return &r->r_base;
}

/* The bytes are immutable and referenced: no lock needed to copy them. */
static ssize_t
store_mem_reader_read(struct store_reader *sr, void *buf, size_t len,
    uint64_t off)
{
	struct store_mem_reader *r = (struct store_mem_reader *)sr;
	const struct store_mem_blob *b = r->r_blob;
	size_t n;

	if (off >= b->mb_size || len == 0)
		return 0;
	n = b->mb_size - (size_t)off;
	if (n > len)
		n = len;
	if (n > SSIZE_MAX)
		n = SSIZE_MAX;
	memcpy(buf, b->mb_data + off, n);
	return (ssize_t)n;
}

static void
store_mem_reader_close(struct store_reader *sr)
{
	struct store_mem_reader *r = (struct store_mem_reader *)sr;
	struct store_mem *s = (struct store_mem *)sr->sr_store;

	pthread_mutex_lock(&s->s_lock);
	store_mem_blob_unref(r->r_blob);
	pthread_mutex_unlock(&s->s_lock);
	free(r);
}

/*
 * store_mem_blob_write: store a copy of buf as blob digest. An existing
 * blob is left alone: same digest, same bytes.
 */
static int
store_mem_blob_write(struct store *st, const char *digest, const void *buf,
    size_t len)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_blob **pp, *b;

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	/* Copy before taking the lock: a big blob is a long memcpy. */
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return -1;
	if (len > 0) {
		if ((b->mb_data = malloc(len)) == NULL) {
			free(b);
			return -1;
		}
		memcpy(b->mb_data, buf, len);
	}
	b->mb_size = len;
	b->mb_refs = 1;
	(void)util_strlcpy(b->mb_digest, digest, sizeof(b->mb_digest));
	store_mem_now(&b->mb_used);
	pthread_mutex_lock(&s->s_lock);
	pp = store_mem_blob_find(s, digest);
	if (*pp != NULL && strcmp((*pp)->mb_digest, digest) == 0) {
		pthread_mutex_unlock(&s->s_lock);
		store_mem_blob_unref(b);
		if (store_mem_exists_fn != NULL)
			store_mem_exists_fn(digest, store_mem_exists_arg);
		return 0;
	}
	b->mb_next = *pp;
	*pp = b;
	pthread_mutex_unlock(&s->s_lock);
	return 0;
}

/* store_mem_blob_delete: ENOENT when absent; open readers keep reading. */
static int
store_mem_blob_delete(struct store *st, const char *digest)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_blob **pp, *b;
	struct store_mem_doom **dp, *d;
	int rv = -1;

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	pp = store_mem_blob_find(s, digest);
	if (*pp != NULL && strcmp((*pp)->mb_digest, digest) == 0) {
		b = *pp;
		*pp = b->mb_next;
		store_mem_blob_unref(b);
		rv = 0;
	} else
		errno = ENOENT;
	/* Its marks go with it, after the data. */
	for (dp = &s->s_dooms; *dp != NULL;) {
		if (strcmp((*dp)->md_digest, digest) == 0) {
			d = *dp;
			*dp = d->md_next;
			free(d);
		} else
			dp = &(*dp)->md_next;
	}
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

/* ---- repository links ---- */

/* 1 when the link exists and so does its blob, 0 when not. */
static int
store_mem_link_exists(struct store *st, const char *name, enum store_link kind,
    const char *digest)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_repo *r;
	struct store_mem_link **lp;
	struct store_mem_blob **bp;
	int rv = 0;

	if (!store_name_ok(name) || !store_digest_ok(digest) ||
	    (kind != STORE_LINK_LAYER && kind != STORE_LINK_REVISION)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	if ((r = store_mem_repo_get(s, name, 0)) != NULL) {
		lp = store_mem_link_find(&r->mr_links[kind], digest);
		bp = store_mem_blob_find(s, digest);
		rv = *lp != NULL && strcmp((*lp)->ml_digest, digest) == 0 &&
		    *bp != NULL && strcmp((*bp)->mb_digest, digest) == 0;
	}
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

/*
 * store_mem_link_write: add the link (idempotent). A revision link gives
 * the repository its manifests (store_repo_exists), as on disk.
 */
static int
store_mem_link_write(struct store *st, const char *name, enum store_link kind,
    const char *digest)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_repo *r;
	struct store_mem_link **lp, *l;
	int rv = -1;

	if (!store_name_ok(name) || !store_digest_ok(digest) ||
	    (kind != STORE_LINK_LAYER && kind != STORE_LINK_REVISION)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	if ((r = store_mem_repo_get(s, name, 1)) == NULL)
		goto done;
	lp = store_mem_link_find(&r->mr_links[kind], digest);
	if (*lp == NULL || strcmp((*lp)->ml_digest, digest) != 0) {
		if ((l = calloc(1, sizeof(*l))) == NULL)
			goto done;
		(void)util_strlcpy(l->ml_digest, digest, sizeof(l->ml_digest));
		l->ml_next = *lp;
		*lp = l;
	}
	store_mem_now(&(*lp)->ml_used);
	store_mem_blob_touch(s, digest);
	if (kind == STORE_LINK_REVISION)
		r->mr_manifests = 1;
	rv = 0;
done:
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

/* store_mem_link_delete: ENOENT when absent; the repository stays. */
static int
store_mem_link_delete(struct store *st, const char *name, enum store_link kind,
    const char *digest)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_repo *r;
	struct store_mem_link **lp, *l;
	int rv = -1;

	if (!store_name_ok(name) || !store_digest_ok(digest) ||
	    (kind != STORE_LINK_LAYER && kind != STORE_LINK_REVISION)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	if ((r = store_mem_repo_get(s, name, 0)) == NULL)
		goto done;
	lp = store_mem_link_find(&r->mr_links[kind], digest);
	if (*lp == NULL || strcmp((*lp)->ml_digest, digest) != 0) {
		errno = ENOENT;
		goto done;
	}
	l = *lp;
	*lp = l->ml_next;
	free(l);
	rv = 0;
done:
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

/*
 * store_mem_link_list: the digests of the repository's links of that
 * kind, in strcmp order (the list's); none for an unknown repository.
 */
static int
store_mem_link_list(struct store *st, const char *name, enum store_link kind,
    char ***digests, size_t *n)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_list l = {NULL, 0, 0};
	struct store_mem_repo *r;
	struct store_mem_link *k;
	int rv = 0;

	*digests = NULL;
	*n = 0;
	if (!store_name_ok(name) ||
	    (kind != STORE_LINK_LAYER && kind != STORE_LINK_REVISION)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	if ((r = store_mem_repo_get(s, name, 0)) != NULL)
		for (k = r->mr_links[kind]; k != NULL; k = k->ml_next)
			if ((rv = store_list_add(&l, k->ml_digest)) == -1) {
				store_mem_list_fail(&l);
				break;
			}
	pthread_mutex_unlock(&s->s_lock);
	*digests = l.sl_v;
	*n = l.sl_n;
	return rv;
}

/* ---- tags ---- */

static int
store_mem_tag_get(struct store *st, const char *name, const char *tag,
    char digest[DIGEST_BUFSZ])
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_repo *r;
	struct store_mem_tag **tp;
	int rv = -1;

	if (!store_name_ok(name) || !store_tag_ok(tag)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	if ((r = store_mem_repo_get(s, name, 0)) == NULL)
		goto done;
	tp = store_mem_tag_find(r, tag);
	if (*tp == NULL || strcmp((*tp)->mt_tag, tag) != 0) {
		errno = ENOENT;
		goto done;
	}
	(void)util_strlcpy(digest, (*tp)->mt_current, DIGEST_BUFSZ);
	rv = 0;
done:
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

/*
 * store_mem_tag_set: point tag at digest and add digest to the tag's
 * index, as distribution's tagStore.Tag does. What may fail (the
 * allocations) comes first, so a failure changes no tag.
 */
static int
store_mem_tag_set(struct store *st, const char *name, const char *tag,
    const char *digest)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_repo *r;
	struct store_mem_tag **tp, *t, *nt = NULL;
	struct store_mem_link **ip = NULL, *ni = NULL;
	int rv = -1;

	if (!store_name_ok(name) || !store_tag_ok(tag) ||
	    !store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	if ((r = store_mem_repo_get(s, name, 1)) == NULL)
		goto done;
	tp = store_mem_tag_find(r, tag);
	t = *tp != NULL && strcmp((*tp)->mt_tag, tag) == 0 ? *tp : NULL;
	if (t == NULL) {
		if ((nt = calloc(1, sizeof(*nt))) == NULL)
			goto done;
		(void)util_strlcpy(nt->mt_tag, tag, sizeof(nt->mt_tag));
		ip = &nt->mt_index;
	} else
		ip = store_mem_link_find(&t->mt_index, digest);
	if (*ip == NULL || strcmp((*ip)->ml_digest, digest) != 0) {
		if ((ni = calloc(1, sizeof(*ni))) == NULL) {
			free(nt);
			goto done;
		}
		(void)util_strlcpy(ni->ml_digest, digest,
		    sizeof(ni->ml_digest));
		ni->ml_next = *ip;
		*ip = ni;
	}
	if (nt != NULL) {
		nt->mt_next = *tp;
		*tp = nt;
		t = nt;
	}
	(void)util_strlcpy(t->mt_current, digest, sizeof(t->mt_current));
	r->mr_manifests = 1;
	rv = 0;
done:
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

/* store_mem_tag_delete: the tag and its index; ENOENT when absent. */
static int
store_mem_tag_delete(struct store *st, const char *name, const char *tag)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_repo *r;
	struct store_mem_tag **tp, *t;
	int rv = -1;

	if (!store_name_ok(name) || !store_tag_ok(tag)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	if ((r = store_mem_repo_get(s, name, 0)) == NULL)
		goto done;
	tp = store_mem_tag_find(r, tag);
	if (*tp == NULL || strcmp((*tp)->mt_tag, tag) != 0) {
		errno = ENOENT;
		goto done;
	}
	t = *tp;
	*tp = t->mt_next;
	store_mem_tag_free(t);
	rv = 0;
done:
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

/*
 * store_mem_tag_list: the tags in strcmp order (the list's). ENOENT when
 * the repository has no manifests, as without _manifests on disk.
 */
static int
store_mem_tag_list(struct store *st, const char *name, char ***tags, size_t *n)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_list l = {NULL, 0, 0};
	struct store_mem_repo *r;
	struct store_mem_tag *t;
	int rv = -1;

	*tags = NULL;
	*n = 0;
	if (!store_name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	if ((r = store_mem_repo_get(s, name, 0)) == NULL)
		goto done;
	if (!r->mr_manifests) {
		errno = ENOENT;
		goto done;
	}
	for (t = r->mr_tags; t != NULL; t = t->mt_next)
		if (store_list_add(&l, t->mt_tag) == -1) {
			store_mem_list_fail(&l);
			goto done;
		}
	rv = 0;
done:
	pthread_mutex_unlock(&s->s_lock);
	*tags = l.sl_v;
	*n = l.sl_n;
	return rv;
}

/* ---- repositories ---- */

/* 1 when the repository has had a revision link or a tag (mr_manifests). */
static int
store_mem_repo_exists(struct store *st, const char *name)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_repo *r;
	int rv;

	if (!store_name_ok(name))
		return 0;
	pthread_mutex_lock(&s->s_lock);
	r = store_mem_repo_get(s, name, 0);
	rv = r != NULL && r->mr_manifests;
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

/*
 * store_mem_repo_list: the repositories with manifests, in store_repo_cmp
 * order (s_repos is kept in it, so no sort is needed).
 */
static int
store_mem_repo_list(struct store *st, char ***names, size_t *n)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_list l = {NULL, 0, 0};
	struct store_mem_repo *r;
	int rv = 0;

	*names = NULL;
	*n = 0;
	pthread_mutex_lock(&s->s_lock);
	for (r = s->s_repos; r != NULL; r = r->mr_next) {
		if (!r->mr_manifests)
			continue;
		if ((rv = store_list_add(&l, r->mr_name)) == -1) {
			store_mem_list_fail(&l);
			break;
		}
	}
	pthread_mutex_unlock(&s->s_lock);
	*names = l.sl_v;
	*n = l.sl_n;
	return rv;
}

/* ---- uploads ---- */

/*
 * store_mem_session: the writer's session, or NULL with ENOENT when it
 * is gone (committed, aborted, purged). Under s_lock.
 */
static struct store_mem_upload *
store_mem_session(struct store_mem_writer *w)
{
	struct store_mem *s = (struct store_mem *)w->w_base.sw_store;
	struct store_mem_repo *r;
	struct store_mem_upload **up;

	if ((r = store_mem_repo_get(s, w->w_name, 0)) == NULL)
		return NULL;
	up = store_mem_upload_find(r, w->w_uuid);
	if (*up == NULL || strcmp((*up)->mu_uuid, w->w_uuid) != 0) {
		errno = ENOENT;
		return NULL;
	}
	return *up;
}

/*
 * store_mem_upload_create: a new empty session started now, and a writer
 * for it (the caller frees it). EEXIST when the uuid is taken.
 */
static struct store_writer *
store_mem_upload_create(struct store *st, const char *name, const char *uuid)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_writer *w;
	struct store_mem_repo *r;
	struct store_mem_upload **up, *u;

	if (!store_name_ok(name) || !store_uuid_ok(uuid)) {
		errno = EINVAL;
		return NULL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->w_base.sw_store = st;
	(void)util_strlcpy(w->w_name, name, sizeof(w->w_name));
	(void)util_strlcpy(w->w_uuid, uuid, sizeof(w->w_uuid));
	pthread_mutex_lock(&s->s_lock);
	if ((r = store_mem_repo_get(s, name, 1)) == NULL)
		goto fail;
	up = store_mem_upload_find(r, uuid);
	if (*up != NULL && strcmp((*up)->mu_uuid, uuid) == 0) {
		errno = EEXIST;
		goto fail;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL)
		goto fail;
	(void)util_strlcpy(u->mu_uuid, uuid, sizeof(u->mu_uuid));
	u->mu_started = time(NULL);
	u->mu_next = *up;
	*up = u;
	pthread_mutex_unlock(&s->s_lock);
	return &w->w_base;
fail:
	pthread_mutex_unlock(&s->s_lock);
	free(w);
	return NULL;
}

/* store_mem_upload_resume: a writer at the session's *size; ENOENT. */
static struct store_writer *
store_mem_upload_resume(struct store *st, const char *name, const char *uuid,
    uint64_t *size)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_writer *w;
	struct store_mem_upload *u;

	if (!store_name_ok(name) || !store_uuid_ok(uuid)) {
		errno = EINVAL;
		return NULL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->w_base.sw_store = st;
	(void)util_strlcpy(w->w_name, name, sizeof(w->w_name));
	(void)util_strlcpy(w->w_uuid, uuid, sizeof(w->w_uuid));
	pthread_mutex_lock(&s->s_lock);
	if ((u = store_mem_session(w)) != NULL)
		w->w_base.sw_size = u->mu_size;
	pthread_mutex_unlock(&s->s_lock);
	if (u == NULL) {
		free(w);
		return NULL;
	}
	*size = w->w_base.sw_size;
	return &w->w_base;
}

/*
 * store_mem_writer_append: add buf at the end of the session's data. The
 * writer's size is first set to the session's (another handle may have
 * written: sw_rebased), and store.c then adds len, as the filesystem driver
 * takes the data file's size when it opens it. Nothing is kept on failure.
 */
static int
store_mem_writer_append(struct store_writer *sw, const void *buf, size_t len)
{
	struct store_mem_writer *w = (struct store_mem_writer *)sw;
	struct store_mem *s = (struct store_mem *)sw->sw_store;
	struct store_mem_upload *u;
	unsigned char *p;
	size_t cap;
	int rv = -1;

	pthread_mutex_lock(&s->s_lock);
	if ((u = store_mem_session(w)) == NULL)
		goto done;
	if (len > SIZE_MAX - u->mu_size) {
		errno = EFBIG;
		goto done;
	}
	if (u->mu_size + len > u->mu_cap) {
		cap = u->mu_cap > 0 ? u->mu_cap : STORE_MEM_UPLOAD_MIN;
		while (cap < u->mu_size + len && cap <= SIZE_MAX / 2)
			cap *= 2;
		if (cap < u->mu_size + len)
			cap = u->mu_size + len;
		if ((p = realloc(u->mu_data, cap)) == NULL)
			goto done;
		u->mu_data = p;
		u->mu_cap = cap;
	}
	if (sw->sw_size != u->mu_size)
		sw->sw_rebased = 1;
	sw->sw_size = u->mu_size;
	if (len > 0)
		memcpy(u->mu_data + u->mu_size, buf, len);
	u->mu_size += len;
	rv = 0;
done:
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

/*
 * store_mem_writer_truncate: cut the data back to size bytes. EINVAL
 * for a size beyond the data: the contract is an undo, not a way to grow
 * (ftruncate would pad with zeros; a caller doing that has a bug).
 */
static int
store_mem_writer_truncate(struct store_writer *sw, uint64_t size)
{
	struct store_mem_writer *w = (struct store_mem_writer *)sw;
	struct store_mem *s = (struct store_mem *)sw->sw_store;
	struct store_mem_upload *u;
	int rv = -1;

	pthread_mutex_lock(&s->s_lock);
	if ((u = store_mem_session(w)) == NULL)
		goto done;
	if (size > u->mu_size) {
		errno = EINVAL;
		goto done;
	}
	u->mu_size = (size_t)size;
	rv = 0;
done:
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

/* A writer holds nothing between requests. */
static void
store_mem_writer_idle(struct store_writer *sw)
{
	(void)sw;
}

static int
store_mem_writer_hash(struct store_writer *sw, char digest[DIGEST_BUFSZ])
{
	struct store_mem_writer *w = (struct store_mem_writer *)sw;
	struct store_mem *s = (struct store_mem *)sw->sw_store;
	struct store_mem_upload *u;
	int rv = -1;

	pthread_mutex_lock(&s->s_lock);
	if ((u = store_mem_session(w)) == NULL)
		goto done;
	digest_buf(u->mu_data != NULL ? (const void *)u->mu_data : "",
	    u->mu_size, digest);
	/* digest_buf leaves "" when EVP could not allocate. */
	if (digest[0] == '\0') {
		errno = ENOMEM;
		goto done;
	}
	rv = 0;
done:
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

/* store_mem_writer_stat: the session's size now. */
static int
store_mem_writer_stat(struct store_writer *sw, uint64_t *size)
{
	struct store_mem_writer *w = (struct store_mem_writer *)sw;
	struct store_mem *s = (struct store_mem *)sw->sw_store;
	struct store_mem_upload *u;
	int rv = -1;

	pthread_mutex_lock(&s->s_lock);
	if ((u = store_mem_session(w)) != NULL) {
		*size = u->mu_size;
		rv = 0;
	}
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

/*
 * store_mem_writer_commit: the session's data becomes blob digest (its
 * buffer moves to the blob; an existing blob is kept), a layer link of
 * the session's repository names it, and the session is removed. The
 * allocations come first, so a failure leaves the session as it was.
 */
static int
store_mem_writer_commit(struct store_writer *sw, const char *digest)
{
	struct store_mem_writer *w = (struct store_mem_writer *)sw;
	struct store_mem *s = (struct store_mem *)sw->sw_store;
	struct store_mem_repo *r;
	struct store_mem_upload **up, *u;
	struct store_mem_blob **bp, *b = NULL;
	struct store_mem_link **lp, *l = NULL;
	int rv = -1;

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	if ((r = store_mem_repo_get(s, w->w_name, 0)) == NULL)
		goto done;
	up = store_mem_upload_find(r, w->w_uuid);
	if (*up == NULL || strcmp((*up)->mu_uuid, w->w_uuid) != 0) {
		errno = ENOENT;
		goto done;
	}
	u = *up;
	bp = store_mem_blob_find(s, digest);
	if ((*bp == NULL || strcmp((*bp)->mb_digest, digest) != 0) &&
	    (b = calloc(1, sizeof(*b))) == NULL)
		goto done;
	lp = store_mem_link_find(&r->mr_links[STORE_LINK_LAYER], digest);
	if ((*lp == NULL || strcmp((*lp)->ml_digest, digest) != 0) &&
	    (l = calloc(1, sizeof(*l))) == NULL) {
		free(b);
		goto done;
	}
	if (b != NULL) {
		(void)util_strlcpy(b->mb_digest, digest, sizeof(b->mb_digest));
		b->mb_refs = 1;
		b->mb_size = u->mu_size;
		if (u->mu_size > 0) {
			b->mb_data = u->mu_data;
			u->mu_data = NULL;
		}
		b->mb_next = *bp;
		*bp = b;
	}
	if (l != NULL) {
		(void)util_strlcpy(l->ml_digest, digest, sizeof(l->ml_digest));
		l->ml_next = *lp;
		*lp = l;
	}
	/* As store_link_write: the link and the blob count as used now. */
	store_mem_now(&(*lp)->ml_used);
	store_mem_blob_touch(s, digest);
	*up = u->mu_next;
	store_mem_upload_free(u);
	rv = 0;
done:
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

/* store_mem_writer_abort: remove the session; ENOENT when absent. */
static int
store_mem_writer_abort(struct store_writer *sw)
{
	struct store_mem_writer *w = (struct store_mem_writer *)sw;
	struct store_mem *s = (struct store_mem *)sw->sw_store;
	struct store_mem_repo *r;
	struct store_mem_upload **up, *u;
	int rv = -1;

	pthread_mutex_lock(&s->s_lock);
	if ((r = store_mem_repo_get(s, w->w_name, 0)) == NULL)
		goto done;
	up = store_mem_upload_find(r, w->w_uuid);
	if (*up == NULL || strcmp((*up)->mu_uuid, w->w_uuid) != 0) {
		errno = ENOENT;
		goto done;
	}
	u = *up;
	*up = u->mu_next;
	store_mem_upload_free(u);
	rv = 0;
done:
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

static void
store_mem_writer_free(struct store_writer *sw)
{
	free(sw);
}

/*
 * store_mem_upload_purge: remove the sessions started more than max_age
 * seconds ago (with the filesystem driver's arithmetic: a session is
 * purged when now - started > max_age, so max_age 0 spares one started
 * this second), or with dryrun only count them. Returns how many.
 */
static int
store_mem_upload_purge(struct store *st, time_t max_age, int dryrun)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_repo *r;
	struct store_mem_upload **up, *u;
	time_t now = time(NULL);
	int removed = 0;

	if (max_age < 0)
		max_age = 0;
	pthread_mutex_lock(&s->s_lock);
	for (r = s->s_repos; r != NULL; r = r->mr_next) {
		up = &r->mr_uploads;
		while ((u = *up) != NULL) {
			if (now < u->mu_started ||
			    now - u->mu_started <= max_age) {
				up = &u->mu_next;
				continue;
			}
			removed++;
			if (dryrun) {
				up = &u->mu_next;
				continue;
			}
			*up = u->mu_next;
			store_mem_upload_free(u);
		}
	}
	pthread_mutex_unlock(&s->s_lock);
	return removed;
}

/* ---- the referrers index ---- */

/*
 * store_mem_referrer_put: replace the entry's descriptor with a copy of
 * desc, then add the mark. Nothing is durable in memory: flags ignored.
 */
static int
store_mem_referrer_put(struct store *st, const char *name, const char *digest,
    const char *subject, const void *desc, size_t len, int flags)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_repo *r;
	struct store_mem_referrer **pp, *f = NULL;
	char *copy = NULL;
	int rv = -1;

	(void)flags;
	if (!store_name_ok(name) || !store_digest_ok(digest) ||
	    (subject != NULL && !store_digest_ok(subject))) {
		errno = EINVAL;
		return -1;
	}
	if (subject != NULL) {
		if ((copy = malloc(len + 1)) == NULL ||
		    (f = calloc(1, sizeof(*f))) == NULL) {
			free(copy);
			return -1;
		}
		memcpy(copy, desc, len);
		copy[len] = '\0';
	}
	pthread_mutex_lock(&s->s_lock);
	if ((r = store_mem_repo_get(s, name, 1)) == NULL)
		goto done;
	if (subject != NULL) {
		pp = store_mem_referrer_find(r, subject, digest);
		if (*pp != NULL && strcmp((*pp)->mf_subject, subject) == 0 &&
		    strcmp((*pp)->mf_digest, digest) == 0) {
			free((*pp)->mf_desc);
			(*pp)->mf_desc = copy;
			(*pp)->mf_len = len;
			free(f);
		} else {
			(void)util_strlcpy(f->mf_subject, subject,
			    sizeof(f->mf_subject));
			(void)util_strlcpy(f->mf_digest, digest,
			    sizeof(f->mf_digest));
			f->mf_desc = copy;
			f->mf_len = len;
			f->mf_next = *pp;
			*pp = f;
		}
		copy = NULL;
		f = NULL;
	}
	rv = store_mem_mark(r, digest);
done:
	pthread_mutex_unlock(&s->s_lock);
	free(copy);
	free(f);
	return rv;
}

static int
store_mem_referrer_get(struct store *st, const char *name, const char *subject,
    const char *digest, size_t max, char **desc, size_t *len)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_repo *r;
	struct store_mem_referrer **pp;
	int rv = -1;

	*desc = NULL;
	*len = 0;
	if (!store_name_ok(name) || !store_digest_ok(digest) ||
	    !store_digest_ok(subject)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	if ((r = store_mem_repo_get(s, name, 0)) == NULL)
		goto done;
	pp = store_mem_referrer_find(r, subject, digest);
	if (*pp == NULL || strcmp((*pp)->mf_subject, subject) != 0 ||
	    strcmp((*pp)->mf_digest, digest) != 0) {
		errno = ENOENT;
		goto done;
	}
	if ((*pp)->mf_len > max) {
		errno = EFBIG;
		goto done;
	}
	if ((*desc = malloc((*pp)->mf_len + 1)) == NULL)
		goto done;
	memcpy(*desc, (*pp)->mf_desc, (*pp)->mf_len + 1);
	*len = (*pp)->mf_len;
	rv = 0;
done:
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

static int
store_mem_referrer_list(struct store *st, const char *name, const char *subject,
    char ***digests, size_t *n)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_list l = {NULL, 0, 0};
	struct store_mem_repo *r;
	struct store_mem_referrer *f;
	int rv = 0;

	*digests = NULL;
	*n = 0;
	if (!store_name_ok(name) || !store_digest_ok(subject)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	if ((r = store_mem_repo_get(s, name, 0)) != NULL)
		for (f = *store_mem_referrer_find(r, subject, "");
		     f != NULL && strcmp(f->mf_subject, subject) == 0;
		     f = f->mf_next)
			if ((rv = store_list_add(&l, f->mf_digest)) == -1) {
				store_mem_list_fail(&l);
				break;
			}
	pthread_mutex_unlock(&s->s_lock);
	*digests = l.sl_v;
	*n = l.sl_n;
	return rv;
}

/* store_mem_referrer_delete: the mark, then the entry. */
static int
store_mem_referrer_delete(struct store *st, const char *name,
    const char *subject, const char *digest)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_repo *r;
	struct store_mem_link **lp, *l;
	struct store_mem_referrer **pp, *f;
	int found = 0;

	if (!store_name_ok(name) || !store_digest_ok(digest) ||
	    (subject != NULL && !store_digest_ok(subject))) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	if ((r = store_mem_repo_get(s, name, 0)) != NULL) {
		lp = store_mem_link_find(&r->mr_marks, digest);
		if (*lp != NULL && strcmp((*lp)->ml_digest, digest) == 0) {
			l = *lp;
			*lp = l->ml_next;
			free(l);
			found = 1;
		}
		pp = subject != NULL
		    ? store_mem_referrer_find(r, subject, digest)
		    : NULL;
		if (pp != NULL && *pp != NULL &&
		    strcmp((*pp)->mf_subject, subject) == 0 &&
		    strcmp((*pp)->mf_digest, digest) == 0) {
			f = *pp;
			*pp = f->mf_next;
			free(f->mf_desc);
			free(f);
			found = 1;
		}
	}
	pthread_mutex_unlock(&s->s_lock);
	if (!found) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

/* store_mem_referrer_stale: the revision links against the marks. */
static int
store_mem_referrer_stale(struct store *st, const char *name, char ***add,
    size_t *nadd, char ***drop, size_t *ndrop)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_list a = {NULL, 0, 0}, d = {NULL, 0, 0};
	struct store_mem_repo *r;
	struct store_mem_link *rl = NULL, *ml = NULL;
	int c, rv = 0;

	*add = *drop = NULL;
	*nadd = *ndrop = 0;
	if (!store_name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	if ((r = store_mem_repo_get(s, name, 0)) != NULL) {
		rl = r->mr_links[STORE_LINK_REVISION];
		ml = r->mr_marks;
	}
	while (rv == 0 && (rl != NULL || ml != NULL)) {
		if (rl == NULL)
			c = 1;
		else if (ml == NULL)
			c = -1;
		else
			c = strcmp(rl->ml_digest, ml->ml_digest);
		if (c < 0)
			rv = store_list_add(&a, rl->ml_digest);
		else if (c > 0)
			rv = store_list_add(&d, ml->ml_digest);
		if (c <= 0)
			rl = rl->ml_next;
		if (c >= 0)
			ml = ml->ml_next;
	}
	pthread_mutex_unlock(&s->s_lock);
	if (rv == -1) {
		store_mem_list_fail(&a);
		return store_mem_list_fail(&d);
	}
	*add = a.sl_v;
	*nadd = a.sl_n;
	*drop = d.sl_v;
	*ndrop = d.sl_n;
	return 0;
}

/* ---- the walk ---- */

/*
 * store_mem_snap_add: a new item of kind for repository name ("" for
 * none) at the end of ss. NULL on ENOMEM.
 */
static struct store_mem_snap *
store_mem_snap_add(struct store_mem_snaps *ss, enum store_item_kind kind,
    const char *name)
{
	struct store_mem_snap *v, *e;
	size_t cap;

	if (ss->ss_n == ss->ss_cap) {
		cap = ss->ss_cap > 0 ? ss->ss_cap * 2 : 64;
		if (cap > SIZE_MAX / sizeof(*v)) {
			errno = ENOMEM;
			return NULL;
		}
		if ((v = realloc(ss->ss_v, cap * sizeof(*v))) == NULL)
			return NULL;
		ss->ss_v = v;
		ss->ss_cap = cap;
	}
	e = &ss->ss_v[ss->ss_n++];
	memset(e, 0, sizeof(*e));
	e->sn_kind = kind;
	(void)util_strlcpy(e->sn_name, name, sizeof(e->sn_name));
	return e;
}

/*
 * store_mem_snap_repo: the items of one repository: itself (only when it
 * has manifests: the filesystem driver reports a repository for its
 * _manifests directory, and fsck counts these), its layer then revision
 * links, each tag followed by its index, its referrers index entries,
 * its uploads.
 */
static int
store_mem_snap_repo(struct store_mem_snaps *ss, const struct store_mem_repo *r)
{
	static const enum store_link kinds[] = {STORE_LINK_LAYER,
	    STORE_LINK_REVISION};
	const struct store_mem_link *l;
	const struct store_mem_tag *t;
	const struct store_mem_upload *u;
	const struct store_mem_referrer *f;
	struct store_mem_snap *e;
	size_t i;

	if (r->mr_manifests &&
	    store_mem_snap_add(ss, STORE_ITEM_REPO, r->mr_name) == NULL)
		return -1;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		for (l = r->mr_links[kinds[i]]; l != NULL; l = l->ml_next) {
			e = store_mem_snap_add(ss, STORE_ITEM_LINK, r->mr_name);
			if (e == NULL)
				return -1;
			e->sn_link = kinds[i];
			(void)util_strlcpy(e->sn_digest, l->ml_digest,
			    sizeof(e->sn_digest));
			(void)util_strlcpy(e->sn_target, l->ml_digest,
			    sizeof(e->sn_target));
		}
	for (t = r->mr_tags; t != NULL; t = t->mt_next) {
		if ((e = store_mem_snap_add(ss, STORE_ITEM_TAG, r->mr_name)) ==
		    NULL)
			return -1;
		(void)util_strlcpy(e->sn_tag, t->mt_tag, sizeof(e->sn_tag));
		(void)util_strlcpy(e->sn_target, t->mt_current,
		    sizeof(e->sn_target));
		for (l = t->mt_index; l != NULL; l = l->ml_next) {
			e = store_mem_snap_add(ss, STORE_ITEM_TAG_INDEX,
			    r->mr_name);
			if (e == NULL)
				return -1;
			(void)util_strlcpy(e->sn_tag, t->mt_tag,
			    sizeof(e->sn_tag));
			(void)util_strlcpy(e->sn_digest, l->ml_digest,
			    sizeof(e->sn_digest));
			(void)util_strlcpy(e->sn_target, l->ml_digest,
			    sizeof(e->sn_target));
		}
	}
	for (f = r->mr_referrers; f != NULL; f = f->mf_next) {
		if ((e = store_mem_snap_add(ss, STORE_ITEM_REFERRER,
		         r->mr_name)) == NULL)
			return -1;
		(void)util_strlcpy(e->sn_subject, f->mf_subject,
		    sizeof(e->sn_subject));
		(void)util_strlcpy(e->sn_digest, f->mf_digest,
		    sizeof(e->sn_digest));
	}
	for (u = r->mr_uploads; u != NULL; u = u->mu_next) {
		if ((e = store_mem_snap_add(ss, STORE_ITEM_UPLOAD,
		         r->mr_name)) == NULL)
			return -1;
		(void)util_strlcpy(e->sn_uuid, u->mu_uuid, sizeof(e->sn_uuid));
	}
	return 0;
}

/*
 * store_mem_walk: every blob, then every repository (store_repo_cmp
 * order) with its links, tags, tag indexes and uploads. The items are
 * copied out under the lock and reported without it, so cb may call the
 * store; it sees the store as it was when the walk began. Memory holds
 * nothing foreign, so there is never a STORE_ITEM_ODD, and every pointer
 * is there (STORE_TARGET_OK).
 */
static int
store_mem_walk(struct store *st, int (*cb)(const struct store_item *, void *),
    void *arg)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_snaps ss = {NULL, 0, 0};
	const struct store_mem_blob *b;
	const struct store_mem_repo *r = NULL;
	const struct store_mem_snap *e;
	struct store_mem_snap *be;
	struct store_item it;
	size_t i;
	int rv = -1, saved;

	pthread_mutex_lock(&s->s_lock);
	for (b = s->s_blobs; b != NULL; b = b->mb_next) {
		if ((be = store_mem_snap_add(&ss, STORE_ITEM_BLOB, "")) == NULL)
			break;
		be->sn_size = b->mb_size;
		(void)util_strlcpy(be->sn_digest, b->mb_digest,
		    sizeof(be->sn_digest));
	}
	if (b == NULL)
		for (r = s->s_repos; r != NULL; r = r->mr_next)
			if (store_mem_snap_repo(&ss, r) == -1)
				break;
	pthread_mutex_unlock(&s->s_lock);
	if (b != NULL || r != NULL)
		goto done;
	for (i = 0; i < ss.ss_n; i++) {
		e = &ss.ss_v[i];
		memset(&it, 0, sizeof(it));
		it.si_kind = e->sn_kind;
		it.si_link = e->sn_link;
		it.si_size = e->sn_size;
		it.si_name = e->sn_name[0] != '\0' ? e->sn_name : NULL;
		it.si_tag = e->sn_tag[0] != '\0' ? e->sn_tag : NULL;
		it.si_uuid = e->sn_uuid[0] != '\0' ? e->sn_uuid : NULL;
		it.si_digest = e->sn_digest[0] != '\0' ? e->sn_digest : NULL;
		it.si_subject = e->sn_subject[0] != '\0' ? e->sn_subject : NULL;
		it.si_target_state = STORE_TARGET_OK;
		if (e->sn_target[0] != '\0') {
			it.si_target = e->sn_target;
			it.si_target_len = strlen(e->sn_target);
		}
		it.si_severity = STORE_SEV_INFO;
		errno = 0;
		if (cb(&it, arg) == -1) {
			/* Stopped: keep the callback's errno, if it set one. */
			if (errno == 0)
				errno = ECANCELED;
			goto done;
		}
	}
	rv = 0;
done:
	saved = errno;
	free(ss.ss_v);
	errno = saved;
	return rv;
}

/* ---- when things were last used ---- */

/*
 * The clock the kernel stamps files with (the coarse realtime clock), so
 * that times from this driver and the filesystem one compare alike.
 */
static void
store_mem_now(struct timespec *ts)
{
	(void)clock_gettime(CLOCK_REALTIME_COARSE, ts);
}

/* store_mem_blob_touch: the blob digest, if stored, is used now. */
static void
store_mem_blob_touch(struct store_mem *s, const char *digest)
{
	struct store_mem_blob **bp;

	bp = store_mem_blob_find(s, digest);
	if (*bp != NULL && strcmp((*bp)->mb_digest, digest) == 0)
		store_mem_now(&(*bp)->mb_used);
}

static int
store_mem_blob_used(struct store *st, const char *digest, struct timespec *ts)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_blob **bp;
	int rv = -1;

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	bp = store_mem_blob_find(s, digest);
	if (*bp != NULL && strcmp((*bp)->mb_digest, digest) == 0) {
		*ts = (*bp)->mb_used;
		rv = 0;
	} else
		errno = ENOENT;
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

static int
store_mem_blob_doom(struct store *st, const char *digest, const char *id,
    int on)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_doom **dp, *d;

	if (!store_digest_ok(digest) || !store_uuid_ok(id)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	for (dp = &s->s_dooms; *dp != NULL; dp = &(*dp)->md_next)
		if (strcmp((*dp)->md_digest, digest) == 0 &&
		    strcmp((*dp)->md_id, id) == 0)
			break;
	if (on && *dp == NULL) {
		if ((d = calloc(1, sizeof(*d))) == NULL) {
			pthread_mutex_unlock(&s->s_lock);
			return -1;
		}
		(void)util_strlcpy(d->md_digest, digest, sizeof(d->md_digest));
		(void)util_strlcpy(d->md_id, id, sizeof(d->md_id));
		*dp = d;
	}
	if (on)
		(*dp)->md_at = time(NULL);
	else if (*dp != NULL) {
		d = *dp;
		*dp = d->md_next;
		free(d);
	}
	pthread_mutex_unlock(&s->s_lock);
	return 0;
}

static int
store_mem_blob_doomed(struct store *st, const char *digest)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_doom *d;
	time_t now = time(NULL);
	int rv = 0;

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	for (d = s->s_dooms; d != NULL; d = d->md_next)
		if (strcmp(d->md_digest, digest) == 0 &&
		    now - d->md_at < STORE_DOOM_TTL)
			rv = 1;
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

/*
 * store_mem_link_get: the link of kind in repository name, or NULL
 * with ENOENT. Under s_lock.
 */
static struct store_mem_link *
store_mem_link_get(struct store_mem *s, const char *name, enum store_link kind,
    const char *digest)
{
	struct store_mem_repo *r;
	struct store_mem_link **lp;

	if ((r = store_mem_repo_get(s, name, 0)) == NULL)
		return NULL;
	lp = store_mem_link_find(&r->mr_links[kind], digest);
	if (*lp == NULL || strcmp((*lp)->ml_digest, digest) != 0) {
		errno = ENOENT;
		return NULL;
	}
	return *lp;
}

static int
store_mem_link_used(struct store *st, const char *name, enum store_link kind,
    const char *digest, struct timespec *ts)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_link *l;
	int rv = -1;

	if (!store_name_ok(name) || !store_digest_ok(digest) ||
	    (kind != STORE_LINK_LAYER && kind != STORE_LINK_REVISION)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	if ((l = store_mem_link_get(s, name, kind, digest)) != NULL) {
		*ts = l->ml_used;
		rv = 0;
	}
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

/*
 * store_mem_use_marks: the marks of the link and of the blob it names, set to
 * now; with fresh_too 0, a mark younger than STORE_TOUCH_FRESH_MS is left
 * as it is (store_link_use). -1 with ENOENT when the link or the blob is
 * missing (the link is marked all the same). Under s_lock.
 */
static int
store_mem_use_marks(struct store_mem *s, const char *name, enum store_link kind,
    const char *digest, int fresh_too)
{
	struct store_mem_link *l;
	struct store_mem_blob **bp;
	struct timespec now;

	store_mem_now(&now);
	if ((l = store_mem_link_get(s, name, kind, digest)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (fresh_too || !store_touch_fresh(&l->ml_used, &now))
		l->ml_used = now;
	bp = store_mem_blob_find(s, digest);
	if (*bp == NULL || strcmp((*bp)->mb_digest, digest) != 0) {
		errno = ENOENT;
		return -1;
	}
	if (fresh_too || !store_touch_fresh(&(*bp)->mb_used, &now))
		(*bp)->mb_used = now;
	return 0;
}

/* store_mem_link_touch: ENOENT when the link or the blob is missing. */
static int
store_mem_link_touch(struct store *st, const char *name, enum store_link kind,
    const char *digest)
{
	struct store_mem *s = (struct store_mem *)st;
	int rv;

	if (!store_name_ok(name) || !store_digest_ok(digest) ||
	    (kind != STORE_LINK_LAYER && kind != STORE_LINK_REVISION)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	rv = store_mem_use_marks(s, name, kind, digest, 1);
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

/*
 * store_mem_link_use: 1 when the link and its blob exist, their marks
 * then set unless fresh, as on disk (store_fs_link_use); 0 otherwise.
 */
static int
store_mem_link_use(struct store *st, const char *name, enum store_link kind,
    const char *digest)
{
	struct store_mem *s = (struct store_mem *)st;
	int rv;

	if (!store_name_ok(name) || !store_digest_ok(digest) ||
	    (kind != STORE_LINK_LAYER && kind != STORE_LINK_REVISION)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->s_lock);
	rv = store_mem_use_marks(s, name, kind, digest, 0) == 0;
	pthread_mutex_unlock(&s->s_lock);
	return rv;
}

void
store_mem_age(struct store *st, time_t seconds)
{
	struct store_mem *s = (struct store_mem *)st;
	struct store_mem_blob *b;
	struct store_mem_repo *r;
	struct store_mem_link *l;
	size_t k;

	pthread_mutex_lock(&s->s_lock);
	for (b = s->s_blobs; b != NULL; b = b->mb_next)
		b->mb_used.tv_sec -= seconds;
	for (r = s->s_repos; r != NULL; r = r->mr_next)
		for (k = 0; k < 2; k++)
			for (l = r->mr_links[k]; l != NULL; l = l->ml_next)
				l->ml_used.tv_sec -= seconds;
	pthread_mutex_unlock(&s->s_lock);
}
