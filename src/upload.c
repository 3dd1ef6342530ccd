/*
 * upload.c: upload sessions. A session is the state that outlives the
 * PATCH requests feeding one blob: the store's writer (which holds the
 * data and its size), and the running SHA-256. Everything here runs on the
 * event loop except upload_commit_work and upload_abort_work, which the
 * registry runs in a store call's work while it holds the session
 * (upload_acquire), so the table itself needs no lock. Creating and
 * resuming a session's storage are store calls of the registry's
 * (store_upload_create, store_upload_resume); upload_adopt then puts the
 * writer in the table.
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
	char u_client[UPLOAD_CLIENT_MAX]; /* address that started it */
	struct store_writer *u_writer;    /* the data in the store; owned */
	uint64_t u_mark; /* data size when acquired (see upload_write) */
	struct digest_ctx *u_hash; /* running SHA-256; owned */
	int u_hash_valid;          /* 0 after a reopen */
	int u_busy;                /* held by a request or job */
	int u_committed;           /* committed or aborted: no writes */
	time_t u_last_used;        /* monotonic seconds */
	time_t u_started;          /* wall clock, at adopt (see purge) */
	TAILQ_ENTRY(upload) u_entry;
};

/*
 * The upload table is a plain list on purpose: a registry has a handful of
 * uploads in flight (one per layer being pushed, and idle ones expire), so
 * a linear search by uuid costs less than keeping a hash table and the
 * code stays obvious. Revisit if profiles ever show upload_lookup.
 */
static TAILQ_HEAD(upload_list, upload) upload_table = TAILQ_HEAD_INITIALIZER(
    upload_table);

static time_t upload_now(void);

/* Seconds on the monotonic clock: idleness must not jump with the date. */
static time_t
upload_now(void)
{
	return (time_t)(util_now_ms() / 1000);
}

/*
 * upload_adopt: a session for writer w of upload uuid in repository name,
 * started (or resumed) by client address client, inserted into the table, which
 * owns it and w from here on. fresh says the session is new (empty, its running
 * hash valid from byte 0); a resumed one's hash is unknown and recomputed at
 * commit. NULL with errno on failure (the caller still owns w).
 */
struct upload *
upload_adopt(const char *name, const char *uuid, const char *client,
    struct store_writer *w, int fresh)
{
	struct upload *u;

	if (strnlen(name, NAME_MAX_LEN + 1) > NAME_MAX_LEN ||
	    strnlen(uuid, UUID_LEN + 1) > UUID_LEN) {
		errno = EINVAL;
		return NULL;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	if ((u->u_hash = digest_ctx_new()) == NULL) {
		free(u);
		errno = ENOMEM;
		return NULL;
	}
	(void)util_strlcpy(u->u_uuid, uuid, sizeof(u->u_uuid));
	(void)util_strlcpy(u->u_name, name, sizeof(u->u_name));
	(void)util_strlcpy(u->u_client, client, sizeof(u->u_client));
	u->u_writer = w;
	u->u_mark = store_writer_size(w);
	u->u_hash_valid = fresh;
	u->u_last_used = upload_now();
	u->u_started = time(NULL);
	TAILQ_INSERT_TAIL(&upload_table, u, u_entry);
	return u;
}

/*
 * upload_shutdown: close every session; their data stays in the store,
 * so a restarted process resumes them.
 */
void
upload_shutdown(void)
{
	struct upload *u;

	while ((u = TAILQ_FIRST(&upload_table)) != NULL)
		upload_close(u);
}

/*
 * upload_lookup: the session uuid of repository name in the table. A
 * uuid that belongs to another repository is not found. NULL with ENOENT
 * when the table does not have it (the store may: a restart, another
 * instance sharing it; the caller resumes it with store_upload_resume
 * and upload_adopt).
 */
struct upload *
upload_lookup(const char *name, const char *uuid)
{
	struct upload *u;

	TAILQ_FOREACH (u, &upload_table, u_entry) {
		if (strcmp(u->u_uuid, uuid) != 0)
			continue;
		if (strcmp(u->u_name, name) == 0)
			return u;
		break;
	}
	errno = ENOENT;
	return NULL;
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
	if (store_writer_rebased(u->u_writer)) {
		/*
		 * Another instance sharing the store wrote to the session:
		 * this chunk went after its bytes, which this process never
		 * hashed. The commit re-reads; a failure of this request
		 * undoes only its own bytes.
		 */
		u->u_hash_valid = 0;
		u->u_mark = store_writer_size(u->u_writer) - len;
	}
	digest_ctx_update(u->u_hash, buf, len);
	u->u_last_used = upload_now();
	return 0;
}

/*
 * upload_busy: 1 when the writer holds all it may for now; wake(arg)
 * then runs once it may take more (store_writer_set_wake).
 */
int
upload_busy(struct upload *u, void (*wake)(void *), void *arg)
{
	if (u->u_committed || !store_writer_busy(u->u_writer))
		return 0;
	store_writer_set_wake(u->u_writer, wake, arg);
	return 1;
}

/* upload_wants_flush: see upload.h. */
int
upload_wants_flush(const struct upload *u)
{
	return !u->u_committed && store_writer_wants_flush(u->u_writer);
}

/*
 * upload_flush_work: make the session's data so far visible to every
 * instance sharing the store (store_writer_flush). On a worker, holding
 * the session.
 */
int
upload_flush_work(struct upload *u)
{
	if (u->u_committed) {
		errno = EBADF;
		return -1;
	}
	if (store_writer_flush(u->u_writer) == -1)
		return -1;
	/*
	 * Another instance had written to the session: this request's bytes
	 * went after its, which this process never hashed.
	 */
	if (store_writer_rebased(u->u_writer))
		u->u_hash_valid = 0;
	return 0;
}

/* upload_refresh_work: see upload.h. */
int
upload_refresh_work(struct upload *u)
{
	if (u->u_committed) {
		errno = EBADF;
		return -1;
	}
	if (store_writer_refresh(u->u_writer) == -1)
		return -1;
	if (store_writer_rebased(u->u_writer)) {
		u->u_hash_valid = 0;
		u->u_mark = store_writer_size(u->u_writer);
	}
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
	uint64_t size;
	int valid = u->u_hash_valid;

	if (u->u_committed) {
		errno = EBADF;
		return -1;
	}
	/*
	 * The running hash describes the bytes this process wrote; if the
	 * stored data is not that long (another instance wrote, or removed
	 * it), only a re-read can tell what the blob would be.
	 */
	if (store_writer_stat(u->u_writer, &size) == -1)
		return -1;
	if (size != store_writer_size(u->u_writer))
		valid = 0;
	if (!valid || digest_ctx_peek(u->u_hash, got) != 0) {
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
 * upload_abort_work: remove the session's data from the store (cancel, a
 * digest mismatch, a failed commit). It may wait on the store: like
 * upload_commit_work, it runs in a store call's work while the caller
 * holds the session, which takes no more writes afterwards. 0, or -1
 * with errno (ENOENT: already gone).
 */
int
upload_abort_work(struct upload *u)
{
	u->u_committed = 1;
	return store_writer_abort(u->u_writer);
}

/*
 * upload_close: remove the session from the table and free it with its
 * writer; u is invalid afterwards. The data stays in the store (see
 * upload_abort_work). NULL is a no-op.
 */
void
upload_close(struct upload *u)
{
	if (u == NULL)
		return;
	TAILQ_REMOVE(&upload_table, u, u_entry);
	store_writer_free(u->u_writer);
	digest_ctx_free(u->u_hash);
	free(u);
}

/*
 * upload_expire: close the sessions nobody holds that have been idle for
 * longer than idle seconds. Their data stays, so a client coming back
 * later resumes them; store_upload_purge removes truly abandoned ones.
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
		upload_close(u);
	}
}

/*
 * upload_purged: a purge removed from the store the sessions started more
 * than max_age seconds ago; close those the table still has and nobody
 * holds, so they are as unknown here as in the store. A resumed session
 * counts as started when it was resumed, so it may stay a little longer;
 * its next write then fails with ENOENT.
 */
void
upload_purged(time_t max_age)
{
	struct upload *u, *next;
	time_t now = time(NULL);

	for (u = TAILQ_FIRST(&upload_table); u != NULL; u = next) {
		next = TAILQ_NEXT(u, u_entry);
		if (u->u_busy || now < u->u_started ||
		    now - u->u_started <= max_age)
			continue;
		log_debug("%s: %s/%s purged", __func__, u->u_name, u->u_uuid);
		upload_close(u);
	}
}

/*
 * upload_count: the sessions in the table, and those of them client
 * started (for the caps on open sessions).
 */
void
upload_count(const char *client, size_t *total, size_t *of_client)
{
	struct upload *u;

	*total = *of_client = 0;
	TAILQ_FOREACH (u, &upload_table, u_entry) {
		(*total)++;
		if (strcmp(u->u_client, client) == 0)
			(*of_client)++;
	}
}
