#ifndef REGISTRYD_UPLOAD_H
#define REGISTRYD_UPLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "digest.h"

struct store;

/*
 * Upload sessions. An upload outlives the requests that feed it: it sits
 * in the upload table keyed by uuid (owner: upload.c), and a request only
 * borrows it between upload_acquire and upload_release. Memory per upload
 * is fixed (a SHA-256 state and a few names) whatever the blob size.
 *
 * Everything here runs on the event loop except upload_commit_work, which
 * the registry runs on the worker pool while the upload is acquired.
 */
struct upload;

void upload_init(struct store *);
/* upload_shutdown: free every session (their data stays on disk). */
void upload_shutdown(void);

/*
 * upload_create: a new session for repository name: storage directory,
 * uuid, empty running hash. NULL with errno on failure.
 */
struct upload *upload_create(const char *name);

/*
 * upload_find: the session uuid of name. When the table does not have it
 * but the storage does (a restart, another instance sharing the root), the
 * session is reopened at the stored size; its hash is then recomputed at
 * commit. NULL (errno ENOENT) when unknown.
 */
struct upload *upload_find(const char *name, const char *uuid);

/*
 * upload_acquire: mark the session in use by one request. -1 (EBUSY) when
 * another request holds it. upload_release undoes it.
 */
int upload_acquire(struct upload *);
void upload_release(struct upload *);

const char *upload_uuid(const struct upload *);
const char *upload_name(const struct upload *);
uint64_t upload_offset(const struct upload *);

/*
 * upload_write: append len bytes and feed them to the running hash.
 * 0, or -1 with errno (ENOSPC...); on -1 the upload is back at the offset
 * it had when upload_acquire was called (the failed request left nothing).
 */
int upload_write(struct upload *, const void *buf, size_t len);

/*
 * upload_rollback: drop the bytes written since upload_acquire (a request
 * refused part-way, e.g. a chunk longer than its Content-Range).
 */
void upload_rollback(struct upload *);

/*
 * upload_verify: compare the running hash with digest. 1 match, 0
 * mismatch, -1 when the running hash is unknown (reopened session): then
 * upload_commit_work verifies by re-reading the data.
 */
int upload_verify(struct upload *, const char *digest);

/*
 * upload_commit_work: make the data blob digest in the storage (verify if
 * needed, fsync, rename, link). Runs on a worker thread; touches only the
 * storage and this session, which the caller holds. Returns 0, -1 with
 * errno, or -2 when the data does not match digest.
 */
int upload_commit_work(struct upload *, const char *digest);

/*
 * upload_close: remove the session from the table and free it. With
 * remove_data, delete its storage directory too (cancel, failed commit).
 * The session must not be acquired by anyone else.
 */
void upload_close(struct upload *, int remove_data);

/*
 * upload_expire: close sessions idle for longer than idle seconds and not
 * acquired (their data stays until purged).
 */
void upload_expire(time_t idle);

#endif /* REGISTRYD_UPLOAD_H */
