#ifndef REGISTRYD_UPLOAD_H
#define REGISTRYD_UPLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "digest.h"

/*
 * Upload sessions. An upload outlives the requests that feed it: it sits
 * in the upload table keyed by uuid (owner: upload.c), and a request only
 * borrows it between upload_acquire and upload_release. Memory per upload
 * is fixed (a SHA-256 state and a few names) whatever the blob size.
 *
 * Everything here runs on the event loop except upload_commit_work and
 * upload_abort_work, which the registry runs in a store call's work while
 * the upload is acquired. Appends (upload_write) run on the loop with
 * each chunk of a request body: the store's writer must not wait there
 * (store.h).
 */
struct store_writer;
struct upload;

/* Bytes kept of a session's client key (an IPv6 "<net>/64" fits). */
#define UPLOAD_CLIENT_MAX 52

/*
 * upload_adopt: a session for writer w (from store_upload_create, fresh,
 * or store_upload_resume) of upload uuid in repository name, for client
 * address client (truncated to UPLOAD_CLIENT_MAX - 1 bytes), in the
 * table, which owns it and w from then on. A resumed session's running
 * hash is unknown and recomputed at commit. NULL with errno (the caller
 * still owns w).
 */
struct upload *upload_adopt(const char *name, const char *uuid,
    const char *client, struct store_writer *w, int fresh);
/* upload_shutdown: free every session (their data stays in the store). */
void upload_shutdown(void);

/*
 * upload_lookup: the session uuid of name in the table; NULL (errno
 * ENOENT) when the table does not have it, also when the uuid is
 * another repository's.
 */
struct upload *upload_lookup(const char *name, const char *uuid);

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
 * upload_busy: after upload_write, 1 when the store takes no more bytes
 * for now (a network store's part buffers are full): the caller pauses
 * the body, and wake(arg) runs on the loop once it may go on (or the
 * next write would fail). 0, and no wake, when it may go on at once.
 * upload_release forgets the wake.
 */
int upload_busy(struct upload *, void (*wake)(void *), void *arg);

/*
 * upload_wants_flush: 1 when what the request wrote reaches the other
 * instances sharing the store only with upload_flush_work (the S3
 * driver), which then must run before the request is answered.
 * upload_flush_work: that, on a worker, holding the session like
 * upload_commit_work. 0, or -1 with errno.
 */
int upload_wants_flush(const struct upload *);
int upload_flush_work(struct upload *);
/*
 * upload_refresh_work: before a request uses a session of the table on
 * a store shared by instances (upload_wants_flush): take the store's
 * view when another instance wrote to it since (store_writer_refresh);
 * the running hash is then unknown. On a worker, holding the session.
 * 0, or -1 with errno (ENOENT: gone).
 */
int upload_refresh_work(struct upload *);

/*
 * upload_rollback: drop the bytes written since upload_acquire (a request
 * refused part-way, e.g. a chunk longer than its Content-Range, or that
 * ended without success in any other way).
 */
void upload_rollback(struct upload *);

/*
 * upload_commit_work: make the data blob digest in the storage (verify if
 * needed, fsync, rename, link). Runs on a worker thread; touches only the
 * storage and this session, which the caller holds. Returns 0, -1 with
 * errno, or -2 when the data does not match digest.
 */
int upload_commit_work(struct upload *, const char *digest);

/*
 * upload_abort_work: remove the session's data from the store (cancel,
 * mismatch, failed commit); no writes after it. Like upload_commit_work
 * it may wait on the store: run it in a store call's work, holding the
 * session. 0, or -1 with errno.
 */
int upload_abort_work(struct upload *);

/*
 * upload_close: remove the session from the table and free it; its data
 * stays in the store unless upload_abort_work removed it. The session
 * must not be acquired by anyone else.
 */
void upload_close(struct upload *);

/*
 * upload_expire: close sessions idle for longer than idle seconds and not
 * acquired (their data stays until purged).
 */
void upload_expire(time_t idle);

/*
 * upload_purged: after a store purge of sessions started more than
 * max_age seconds ago, close the ones the table has that nobody holds.
 */
void upload_purged(time_t max_age);

/*
 * upload_count: how many sessions the table holds, and how many of them
 * client address client started.
 */
void upload_count(const char *client, size_t *total, size_t *of_client);

#endif /* REGISTRYD_UPLOAD_H */
