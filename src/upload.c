/*
 * upload.c: upload sessions. A session is the state that outlives the
 * PATCH requests feeding one blob: the store's writer (which holds the
 * data and its size), and the running SHA-256. Everything here runs on the
 * event loop except upload_commit_work, which the registry runs on a worker
 * while it holds the session (upload_acquire), so the table itself needs no
 * lock.
 */

#include <sys/queue.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bounds.h"
#include "digest.h"
#include "log.h"
#include "store.h"
#include "upload.h"
#include "util.h"

/* One session; owned by upload_table, freed only by upload_close. */
struct upload {
	char u_uuid[UUID_LEN + 1];
	char u_name[NAME_MAX_LEN + 1];
	struct store_writer *u_writer; /* the data in the store; owned */
	uint64_t u_mark; /* data size when acquired (see upload_write) */
	struct digest_ctx *u_hash; /* running SHA-256; owned */
	int u_hash_valid;          /* 0 after a reopen */
	int u_busy;                /* held by a request or job */
	int u_committed;           /* the data is a blob now: no writes */
	time_t u_last_used;        /* monotonic seconds */
	TAILQ_ENTRY(upload) u_entry;
};

/*
 * The upload table is a plain list on purpose: a registry has a handful of
 * uploads in flight (one per layer being pushed, and idle ones expire), so
 * a linear search by uuid costs less than keeping a hash table and the
 * code stays obvious. Revisit if profiles ever show upload_find.
 */
static TAILQ_HEAD(upload_list, upload) upload_table = TAILQ_HEAD_INITIALIZER(
    upload_table);
static struct store *upload_store;

static time_t upload_now(void);
static struct upload *
upload_new(const char *, const char *, struct store_writer *, int);

/* Seconds on the monotonic clock: idleness must not jump with the date. */
static time_t
upload_now(void)
{
	return (time_t)(util_now_ms() / 1000);
}

/*
 * upload_new: a session for a store writer, inserted into the table. On
 * failure (NULL) the caller still owns w.
 */
static struct upload *
upload_new(const char *name, const char *uuid, struct store_writer *w,
    int hash_valid)
{
	struct upload *u;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	if ((u->u_hash = digest_ctx_new()) == NULL) {
		free(u);
		errno = ENOMEM;
		return NULL;
	}
	/* Both lengths were checked by the callers. */
	(void)util_strlcpy(u->u_uuid, uuid, sizeof(u->u_uuid));
	(void)util_strlcpy(u->u_name, name, sizeof(u->u_name));
	u->u_writer = w;
	u->u_mark = store_writer_size(w);
	u->u_hash_valid = hash_valid;
	u->u_last_used = upload_now();
	TAILQ_INSERT_TAIL(&upload_table, u, u_entry);
	return u;
}

/* upload_init: use store for every session; the caller keeps owning it. */
void
upload_init(struct store *s)
{
	upload_store = s;
}

/*
 * upload_shutdown: close every session; their data stays on disk, so a
 * restarted process reopens them through upload_find.
 */
void
upload_shutdown(void)
{
	struct upload *u;

	while ((u = TAILQ_FIRST(&upload_table)) != NULL)
		upload_close(u, 0);
}

/*
 * upload_create: a new session for repository name, with its storage
 * directory, a fresh uuid and an empty running hash. The table owns the
 * result. NULL with errno on failure.
 */
struct upload *
upload_create(const char *name)
{
	struct upload *u;
	struct store_writer *w;
	char uuid[UUID_LEN + 1];
	int saved;

	if (upload_store == NULL || name == NULL ||
	    strnlen(name, NAME_MAX_LEN + 1) > NAME_MAX_LEN) {
		errno = EINVAL;
		return NULL;
	}
	if (util_uuid(uuid) == -1)
		return NULL;
	if ((w = store_upload_create(upload_store, name, uuid)) == NULL)
		return NULL;
	/* Nothing writes before the first PATCH: hold no descriptor. */
	store_writer_idle(w);
	if ((u = upload_new(name, uuid, w, 1)) == NULL) {
		saved = errno;
		(void)store_writer_abort(w);
		store_writer_free(w);
		errno = saved;
		return NULL;
	}
	return u;
}

/*
 * upload_find: the session uuid of repository name. A uuid that belongs
 * to another repository is not found. When only the storage has it (a
 * restart, or another instance sharing the root), the session is reopened
 * at the stored size with its running hash marked unknown. The table owns
 * the result; NULL with errno (ENOENT when unknown).
 */
struct upload *
upload_find(const char *name, const char *uuid)
{
	struct upload *u;
	struct store_writer *w;
	uint64_t size;
	int saved;

	if (upload_store == NULL || name == NULL || uuid == NULL ||
	    strnlen(name, NAME_MAX_LEN + 1) > NAME_MAX_LEN ||
	    strnlen(uuid, UUID_LEN + 1) > UUID_LEN) {
		errno = ENOENT;
		return NULL;
	}
	TAILQ_FOREACH (u, &upload_table, u_entry) {
		if (strcmp(u->u_uuid, uuid) != 0)
			continue;
		if (strcmp(u->u_name, name) == 0)
			return u;
		errno = ENOENT;
		return NULL;
	}
	w = store_upload_resume(upload_store, name, uuid, &size);
	if (w == NULL)
		return NULL;
	if ((u = upload_new(name, uuid, w, 0)) == NULL) {
		saved = errno;
		store_writer_free(w);
		errno = saved;
		return NULL;
	}
	log_debug("%s: reopened %s/%s at %llu", __func__, name, uuid,
	    (unsigned long long)size);
	return u;
}

/*
 * upload_acquire: mark the session in use by one request or job. -1 with
 * EBUSY when someone else holds it.
 */
int
upload_acquire(struct upload *u)
{
	if (u->u_busy) {
		errno = EBUSY;
		return -1;
	}
	u->u_busy = 1;
	u->u_mark = store_writer_size(u->u_writer);
	u->u_last_used = upload_now();
	return 0;
}

/*
 * upload_release: undo upload_acquire; the idle clock restarts now, and
 * the writer lets go of what it held for writing (an idle session holds
 * no descriptor).
 */
void
upload_release(struct upload *u)
{
	if (!u->u_committed)
		store_writer_idle(u->u_writer);
	u->u_busy = 0;
	u->u_last_used = upload_now();
}

/* upload_uuid: the session's uuid (owned by the session). */
const char *
upload_uuid(const struct upload *u)
{
	return u->u_uuid;
}

/* upload_name: the session's repository name (owned by the session). */
const char *
upload_name(const struct upload *u)
{
	return u->u_name;
}

/* upload_offset: bytes received so far. */
uint64_t
upload_offset(const struct upload *u)
{
	return store_writer_size(u->u_writer);
}

/*
 * upload_write: append len bytes to the data and the running hash. The
 * hash is fed only after the write succeeded, so the two never disagree.
 * 0, or -1 with errno (ENOSPC, EIO, EFBIG). On -1 the whole request that
 * acquired the session is undone: the data is truncated back to the
 * offset it had at upload_acquire, because a client whose PATCH or PUT
 * failed does not know how much of it was kept, and on a full disk the
 * kept part would hold the space a retry needs. The running hash is reset
 * when that offset is 0, else marked unknown (the commit re-reads).
 */
int
upload_write(struct upload *u, const void *buf, size_t len)
{
	int saved;

	/*
	 * After a commit the data is the blob itself (the filesystem driver
	 * renamed it into blobs/): one more byte would corrupt it.
	 */
	if (u->u_committed) {
		errno = EBADF;
		return -1;
	}
	if (len == 0)
		return 0;
	if (store_writer_append(u->u_writer, buf, len) == -1) {
		saved = errno;
		upload_rollback(u);
		errno = saved;
		return -1;
	}
	digest_ctx_update(u->u_hash, buf, len);
	u->u_last_used = upload_now();
	return 0;
}

/*
 * upload_rollback: undo what the request holding the session wrote: the
 * data goes back to its offset at upload_acquire; the running hash is
 * reset when that is 0, else marked unknown (the commit re-reads).
 */
void
upload_rollback(struct upload *u)
{
	if (u->u_committed || u->u_mark >= store_writer_size(u->u_writer))
		return;
	if (store_writer_truncate(u->u_writer, u->u_mark) == -1) {
		log_warn("%s: %s: truncate", __func__, u->u_uuid);
		return;
	}
	if (u->u_mark == 0) {
		digest_ctx_reset(u->u_hash);
		u->u_hash_valid = 1;
	} else
		u->u_hash_valid = 0;
}

/*
 * upload_verify: 1 when the running hash equals digest, 0 when not, -1
 * when it is unknown (a reopened session; upload_commit_work re-reads).
 */
int
upload_verify(struct upload *u, const char *digest)
{
	char got[DIGEST_BUFSZ];

	if (!u->u_hash_valid || digest_ctx_peek(u->u_hash, got) != 0)
		return -1;
	return strcmp(got, digest) == 0;
}

/*
 * upload_commit_work: make the data blob digest: verify it (from the
 * running hash, or by re-reading the data when that is unknown), then
 * store_writer_commit (durable blob, layer link, session removed).
 * Runs on a worker thread and touches only the storage and u, which the
 * caller holds; the caller still closes the session afterwards. Returns
 * 0, -1 with errno, or -2 when the data does not match digest.
 */
int
upload_commit_work(struct upload *u, const char *digest)
{
	char got[DIGEST_BUFSZ];

	if (u->u_committed) {
		errno = EBADF;
		return -1;
	}
	if (!u->u_hash_valid || digest_ctx_peek(u->u_hash, got) != 0) {
		if (store_writer_hash(u->u_writer, got) == -1)
			return -1;
	}
	if (strcmp(got, digest) != 0)
		return -2;
	if (store_writer_commit(u->u_writer, digest) == -1)
		return -1;
	u->u_committed = 1;
	return 0;
}

/*
 * upload_close: remove the session from the table, free its writer and
 * free it; u is invalid afterwards. With remove_data its data is deleted
 * from the store too (cancel, failed commit). NULL is a no-op.
 */
void
upload_close(struct upload *u, int remove_data)
{
	if (u == NULL)
		return;
	TAILQ_REMOVE(&upload_table, u, u_entry);
	if (remove_data && store_writer_abort(u->u_writer) == -1 &&
	    errno != ENOENT)
		log_warn("%s: remove %s/_uploads/%s", __func__, u->u_name,
		    u->u_uuid);
	store_writer_free(u->u_writer);
	digest_ctx_free(u->u_hash);
	free(u);
}

/*
 * upload_expire: close the sessions nobody holds that have been idle for
 * longer than idle seconds. Their data stays, so a client coming back
 * later reopens them; store_upload_purge removes truly abandoned ones.
 */
void
upload_expire(time_t idle)
{
	struct upload *u, *next;
	time_t now = upload_now();

	for (u = TAILQ_FIRST(&upload_table); u != NULL; u = next) {
		next = TAILQ_NEXT(u, u_entry);
		if (u->u_busy || now - u->u_last_used <= idle)
			continue;
		log_debug("%s: %s/%s idle", __func__, u->u_name, u->u_uuid);
		upload_close(u, 0);
	}
}
