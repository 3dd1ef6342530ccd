#ifndef REGISTRYD_STORE_H
#define REGISTRYD_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "digest.h"

/*
 * The storage interface: the only module that knows where bytes live.
 * This is the filesystem driver, laid out exactly like distribution
 * (registry:2): <root>/docker/registry/v2/{blobs,repositories}/...
 *
 * Every function is synchronous and touches no event-loop state, so the
 * registry may call it on the loop (stat, small reads) or on a worker
 * thread (fsync-heavy commits). Functions return 0 / -1 with errno set
 * (ENOENT when the object does not exist) unless they say otherwise.
 * Names, tags, digests and uuids must have been validated by router.c.
 *
 * Writes that others may read are atomic: a temporary file next to the
 * target ("<path>.<random>.tmp"), fsync, rename, fsync of the directory.
 * Readers ignore stray temporary files.
 */

struct store;

/* Per-repository link kinds (distribution's link files). */
enum store_link {
	STORE_LINK_LAYER,    /* _layers/sha256/<hex>/link */
	STORE_LINK_REVISION, /* _manifests/revisions/sha256/<hex>/link */
};

/*
 * store_open: use root as the storage root, creating
 * root/docker/registry/v2 when missing. Returns NULL and fills err on
 * failure (missing permissions, not a directory). The caller owns the
 * result; store_close(NULL) is a no-op.
 */
struct store *store_open(const char *root, char *err, size_t errlen);
void store_close(struct store *);
const char *store_root(const struct store *);

/* ---- blobs (global, content-addressed) ---- */

/* store_blob_stat: 0 and *size when blobs/.../data exists. */
int store_blob_stat(struct store *, const char *digest, uint64_t *size);
/* store_blob_open: read-only fd of the blob data (caller closes), *size. */
int store_blob_open(struct store *, const char *digest, uint64_t *size);
/*
 * store_blob_read: the whole blob into a malloc'd buffer (caller frees),
 * failing with EFBIG when it is larger than max.
 */
int store_blob_read(struct store *, const char *digest, size_t max, char **buf,
    size_t *len);
/*
 * store_blob_write: store buf as blob digest (the caller has verified the
 * digest). Atomic and durable; succeeds at once when the blob exists.
 */
int store_blob_write(struct store *, const char *digest, const void *buf,
    size_t len);

/* ---- repository links ---- */

/*
 * store_link_exists: 1 when name has the link and the blob data it names
 * exists, 0 when not, -1 on an I/O error.
 */
int store_link_exists(struct store *, const char *name, enum store_link,
    const char *digest);
/* store_link_write: create the link (atomic, durable, idempotent). */
int store_link_write(struct store *, const char *name, enum store_link,
    const char *digest);
/* store_link_delete: remove the link's directory; ENOENT when absent. */
int store_link_delete(struct store *, const char *name, enum store_link,
    const char *digest);
/*
 * store_link_list: the digests of every link of that kind in name, as a
 * malloc'd array of malloc'd strings (free with store_list_free). A repo
 * without any gives 0 and *n = 0.
 */
int store_link_list(struct store *, const char *name, enum store_link,
    char ***digests, size_t *n);

/* ---- tags ---- */

/* store_tag_get: the digest in tags/<tag>/current/link; ENOENT if none. */
int store_tag_get(struct store *, const char *name, const char *tag,
    char digest[DIGEST_BUFSZ]);
/* store_tag_set: write tags/<tag>/index/... then tags/<tag>/current/link. */
int store_tag_set(struct store *, const char *name, const char *tag,
    const char *digest);
/* store_tag_delete: remove tags/<tag> entirely; ENOENT when absent. */
int store_tag_delete(struct store *, const char *name, const char *tag);
/*
 * store_tag_list: tag names of name, sorted by strcmp, as a malloc'd array
 * (store_list_free). ENOENT when the repository does not exist (no
 * _manifests directory).
 */
int store_tag_list(struct store *, const char *name, char ***tags, size_t *n);

/* ---- repositories ---- */

/* store_repo_exists: 1 when repositories/<name>/_manifests exists. */
int store_repo_exists(struct store *, const char *name);
/*
 * store_repo_list: every repository (a directory under repositories/ that
 * holds _manifests; components starting with '_' are skipped), sorted as
 * distribution does ('/' before any other byte). Walks the whole tree:
 * call it off the event loop. Free with store_list_free.
 */
int store_repo_list(struct store *, char ***names, size_t *n);

void store_list_free(char **list, size_t n);

/*
 * store_repo_cmp: the catalog order (distribution's lessPath: compare
 * component by component, so "a/b" sorts before "a-b"). strcmp-like.
 */
int store_repo_cmp(const char *a, const char *b);

/* ---- uploads: repositories/<name>/_uploads/<uuid>/{data,startedat} ---- */

/*
 * store_upload_create: make the upload directory with its startedat file
 * and an empty data file. Returns an fd open for appending to data (the
 * caller owns it), or -1.
 */
int store_upload_create(struct store *, const char *name, const char *uuid);
/*
 * store_upload_open: reopen an existing upload (e.g. after a restart):
 * fd open for appending, *size bytes so far. ENOENT when there is none.
 */
int store_upload_open(struct store *, const char *name, const char *uuid,
    uint64_t *size);
/*
 * store_upload_append: write all of buf at the end of the upload data fd,
 * whose size before the write is offset. Starts writeback
 * (sync_file_range) every UPLOAD_WRITEBACK_BYTES so the final fsync is
 * short. 0, or -1 with errno (ENOSPC, EIO); on -1 the data file is
 * truncated back to offset so no partial chunk is kept.
 */
int store_upload_append(int fd, uint64_t offset, const void *buf, size_t len);
/*
 * store_upload_truncate: cut the upload data fd back to size bytes (undo
 * a failed request). 0, or -1 with errno.
 */
int store_upload_truncate(int fd, uint64_t size);
/*
 * store_upload_commit: make the upload's data the blob digest: fsync the
 * data, rename it into blobs/ (or drop it when that blob exists already),
 * fsync the directories, write the layer link, remove the upload
 * directory. Does not close fd. Call it off the event loop.
 */
int store_upload_commit(struct store *, const char *name, const char *uuid,
    int fd, const char *digest);
/*
 * store_upload_hash: SHA-256 of the upload's data so far, for an upload
 * whose running hash was lost (reopened after a restart). Off the loop.
 */
int store_upload_hash(struct store *, const char *name, const char *uuid,
    char digest[DIGEST_BUFSZ]);
/* store_upload_remove: delete the upload directory (cancel, failure). */
int store_upload_remove(struct store *, const char *name, const char *uuid);
/*
 * store_upload_purge: remove uploads whose startedat is older than
 * max_age seconds; returns how many were removed, or -1. Off the loop.
 */
int store_upload_purge(struct store *, time_t max_age);

/* ---- raw tree access (fsck) ---- */

/*
 * What fsck needs beyond the registry's view: every object of the tree,
 * also the malformed ones the functions above skip. Paths are relative to
 * the v2 directory ("blobs/sha256/ab/<hex>/data") and may not be absolute
 * or contain "." or ".." components (EINVAL).
 */

/* Entry kinds reported by store_tree_walk. */
enum store_entry {
	STORE_ENTRY_FILE,  /* regular file */
	STORE_ENTRY_DIR,   /* directory */
	STORE_ENTRY_OTHER, /* symlink, FIFO, socket, device: never followed */
};

/*
 * store_open_readonly: like store_open, but creates nothing and does not
 * require write access (fsck on a read-only mount). NULL and err when
 * root/docker/registry/v2 is not a readable directory.
 */
struct store *store_open_readonly(const char *root, char *err, size_t errlen);

/*
 * store_tree_walk: call cb for every entry below prefix (a directory such
 * as "blobs" or "repositories"), depth first, the entries of a directory
 * in strcmp order, with the entry's path, kind and size. cb returns 0 to
 * go on (a directory is entered after its callback), 1 to skip the
 * directory's contents, -1 to stop. Directories deeper than
 * STORE_TREE_DEPTH levels below prefix are reported but not entered.
 * Returns 0 (also when prefix does not exist), or -1 with errno on an I/O
 * error or when cb stopped the walk. Slow on big trees: off the loop.
 */
#define STORE_TREE_DEPTH 160
int store_tree_walk(struct store *, const char *prefix,
    int (
        *cb)(const char *path, enum store_entry kind, uint64_t size, void *arg),
    void *arg);

/*
 * store_object_read: at most size - 1 bytes of the regular file path into
 * buf, NUL-terminated, and their count in *len. EINVAL when path is not a
 * regular file.
 */
int store_object_read(struct store *, const char *path, char *buf, size_t size,
    size_t *len);

/*
 * store_object_open: a read-only fd of the regular file path (the caller
 * closes it) and its size; -1 with errno (ENOENT, EINVAL: not a file).
 */
int store_object_open(struct store *, const char *path, uint64_t *size);

#endif /* REGISTRYD_STORE_H */
