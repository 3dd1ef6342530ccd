/*
 * store_fs.c: the filesystem storage driver (store_fs.h), the only code
 * that knows paths.
 *
 * The tree is distribution's (registry:2) v2 layout, byte for byte, so a
 * registry:2 volume is served as it is and the other way round:
 *
 *   <root>/docker/registry/v2/blobs/sha256/<hex[0:2]>/<hex>/data
 *   repositories/<name>/_layers/sha256/<hex>/link
 *   repositories/<name>/_manifests/revisions/sha256/<hex>/link
 *   repositories/<name>/_manifests/tags/<tag>/current/link
 *   repositories/<name>/_manifests/tags/<tag>/index/sha256/<hex>/link
 *   repositories/<name>/_uploads/<uuid>/{data,startedat}
 *
 * plus registryd's referrers index, which registry:2 ignores (see "the
 * referrers index" below):
 *
 *   repositories/<name>/_registryd/referrers/subjects/sha256/<hex>/<hex>
 *   repositories/<name>/_registryd/referrers/indexed/sha256/<hex>
 *
 * struct store_fs keeps an O_DIRECTORY fd of <root>/docker/registry/v2 and
 * every access goes through the *at() syscalls with relative paths, so
 * nothing depends on the working directory. The struct is read-only after
 * store_fs_open (but for the tag list cache, which has its lock), which is
 * what lets the loop and the worker threads share it.
 *
 * Lookups (stat, reading a link or a manifest) are cheap enough for the
 * loop; durable writes and walks go to the worker pool (store_fs_cheap).
 */

#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <linux/aio_abi.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "digest.h"
#include "log.h"
#include "store.h"
#include "store_driver.h"
#include "store_fs.h"
#include "util.h"

#define STORE_V2             "docker/registry/v2"
#define STORE_LINK_READ_MAX  128           /* longer links are garbage */
#define STORE_HASH_CHUNK     (1024 * 1024) /* store_fs_writer_hash reads */
#define STORE_STARTEDAT_MAX  64            /* startedat bytes read */
/* A name of NAME_MAX_LEN bytes has at most this many components. */
#define STORE_WALK_DEPTH     (NAME_MAX_LEN / 2 + 1)
/* Deepest tree store_rmtree removes (a tag dir is 5 levels deep). */
#define STORE_RMTREE_DEPTH   16
/* Descriptors one store_syncset holds before it syncs early. */
#define STORE_SYNCSET_MAX    16
/* Distinct files one sync round syncs at once; more take another pass. */
#define STORE_ROUND_MAX      64
/*
 * Files larger than this are synced by their writer alone (store_ss_add),
 * not in a shared round: a round lasts as long as its slowest file, and a
 * 4 KiB commit must not wait for a big layer's data to reach the disk.
 */
#define STORE_SHARED_MAX     (1024 * 1024)
/*
 * A bounded tag list reads a tags/ directory at most this large (or
 * 1 KiB per tag allowed, if more): ext4 never shrinks a directory, and
 * one that held 100 000 tags, 3 left, is 2 MiB of blocks that readdir
 * reads whole to find them (26 ms cold, on the loop).
 */
#define STORE_TAGS_DIR_QUICK (64 * 1024)

/*
 * One caller's part of a group commit round (store_group_sync): the
 * descriptors it needs synced, and the outcome. Lives on the caller's
 * stack, which waits until sq_done.
 */
struct store_sync_req {
	const int *sq_fds;
	int sq_n;
	int sq_errno; /* 0, or the first error of its descriptors */
	int sq_done;  /* a round covering it has finished */
	struct store_sync_req *sq_next;
};

/*
 * Descriptors (files written, directories whose entries changed) that
 * must be durable together before the next step of a write; owned (and
 * closed) by the set.
 */
struct store_syncset {
	int ss_fd[STORE_SYNCSET_MAX];
	int ss_n;
};

struct store_fs {
	struct store s_base;
	int s_fd;              /* O_DIRECTORY fd of the v2 directory */
	char s_root[PATH_MAX]; /* the root as configured */
	/*
	 * The last tag list read, kept while its tags directory is unchanged
	 * (same inode and mtime: adding or removing a tag changes both or
	 * the latter), so paging through 10 000 tags reads the directory
	 * once, not once per page. Guarded by s_tags_lock: store functions
	 * may run on worker threads.
	 */
	pthread_mutex_t s_tags_lock;
	char s_tags_name[NAME_MAX_LEN + 1];
	ino_t s_tags_ino;
	struct timespec s_tags_mtime;
	struct store_list s_tags;
	/*
	 * Group commit (store_group_sync): callers that arrive while a
	 * round of syncs is in flight wait in s_sync_head and share the next
	 * round. All under s_sync_lock; the round itself runs unlocked, by
	 * one caller (the leader) at a time.
	 */
	pthread_mutex_t s_sync_lock;
	pthread_cond_t s_sync_cond;
	struct store_sync_req *s_sync_head, **s_sync_tail;
	int s_sync_busy;        /* a leader runs a round */
	uint64_t s_sync_rounds; /* rounds finished */
	uint64_t s_sync_files;  /* distinct files synced, all rounds */
	aio_context_t s_aio;    /* parallel fsync (IOCB_CMD_FSYNC); 0: none */
};

/* A blob being read: its data file, open for the reader's lifetime. */
struct store_fs_reader {
	struct store_reader r_base;
	int r_fd;
};

/*
 * An upload session's handle. The data file is open only while a request
 * writes (from the first append to store_writer_idle), never while idle.
 */
struct store_fs_writer {
	struct store_writer w_base;
	int w_fd; /* -1 while idle */
	/*
	 * w_base.sw_size says what the data held when this writer last saw
	 * it: from then on a missing data file means the session is gone (a
	 * purge or another instance's commit is removing it), never one to
	 * create afresh.
	 */
	int w_known;
	char w_name[NAME_MAX_LEN + 1];
	char w_uuid[UUID_LEN + 1];
};

static int store_path(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static int store_dirname(const char *, char *, size_t);
static int store_isdir(int, const char *);
static int store_group_sync(struct store_fs *, const int *, int);
static void store_sync_round(struct store_fs *, struct store_sync_req *);
static int store_sync_files(struct store_fs *, const int *, int *, int);
static void store_aio_off(struct store_fs *, const char *);
static void store_ss_init(struct store_syncset *);
static int store_ss_add(struct store_fs *, struct store_syncset *, int);
static int
store_ss_add_dir(struct store_fs *, struct store_syncset *, const char *);
static int store_ss_sync(struct store_fs *, struct store_syncset *);
static void store_ss_close(struct store_syncset *);
static int
store_mkdirs(struct store_fs *, int, const char *, struct store_syncset *);
static int store_write_all(int, const void *, size_t);
static int
store_write_atomic(struct store_fs *, const char *, const void *, size_t);
static int store_write_tmp(struct store_fs *, struct store_syncset *,
    const char *, const void *, size_t, char *, size_t);
static void store_unlink_saving_errno(struct store_fs *, const char *);
static int store_read_small(int, const char *, char *, size_t, size_t *,
    struct timespec *);
static int store_link_read(struct store_fs *, const char *, char[DIGEST_BUFSZ]);
static int store_link_read_mtime(struct store_fs *, const char *,
    char[DIGEST_BUFSZ], struct timespec *);
static int store_blob_path(const char *, const char *, char *, size_t);
static int store_link_path(const char *, enum store_link, const char *,
    const char *, char *, size_t);
static int store_upload_dir(const char *, const char *, char *, size_t);
static int store_readdir(DIR *, struct dirent **);
static int
store_fs_tags(struct store *, const char *, size_t, char ***, size_t *);
static int store_entry_isdir(int, const struct dirent *);
static int store_rmtree(int, const char *, int);
static int store_fs_dirwalk(int, char *, size_t, int,
    int (*)(int, const char *, void *), void *);
static int store_repo_list_cb(int, const char *, void *);
static int store_parse_rfc3339(const char *, time_t *);
static int store_purge_cb(int, const char *, void *);
static int store_fs_writer_open(struct store_fs_writer *);
static int store_fs_writer_stat(struct store_writer *, uint64_t *);
static void store_fs_close(struct store *);
static void store_fs_writer_idle(struct store_writer *);
static int store_fs_link_write(struct store *, const char *, enum store_link,
    const char *);
static int store_fs_touch(struct store_fs *, const char *);
static int store_fs_mtime(struct store_fs *, const char *, struct timespec *);
static int store_fs_blob_used(struct store *, const char *, struct timespec *);
static int store_fs_link_used(struct store *, const char *, enum store_link,
    const char *, struct timespec *);
static int store_fs_link_touch(struct store *, const char *, enum store_link,
    const char *);
static int
store_fs_link_use(struct store *, const char *, enum store_link, const char *);

static const struct store_ops store_fs_ops;

/* ---- paths and validation ---- */

/*
 * store_path: snprintf into a path buffer; ENAMETOOLONG instead of a
 * silently truncated path.
 */
static int
store_path(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* store_dirname: the directory part of path, "." when there is none. */
static int
store_dirname(const char *path, char *out, size_t size)
{
	const char *slash;
	size_t len;

	if ((slash = strrchr(path, '/')) == NULL)
		return store_path(out, size, ".");
	len = (size_t)(slash - path);
	if (len == 0)
		return store_path(out, size, "/");
	if (len >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(out, path, len);
	out[len] = '\0';
	return 0;
}

/*
 * store_blob_path: "blobs/sha256/<hex[0:2]>/<hex>" + suffix ("" for the
 * directory, "/data" for the bytes). Only blobs have the fan-out level.
 */
static int
store_blob_path(const char *digest, const char *suffix, char *buf, size_t size)
{
	const char *hex = digest_hex(digest);

	return store_path(buf, size, "blobs/sha256/%.2s/%s%s", hex, hex,
	    suffix);
}

/*
 * store_link_path: the directory of a link of that kind + suffix ("" for
 * the directory, "/link" for the file). No fan-out level here.
 */
static int
store_link_path(const char *name, enum store_link kind, const char *digest,
    const char *suffix, char *buf, size_t size)
{
	const char *hex = digest_hex(digest);

	switch (kind) {
	case STORE_LINK_LAYER:
		return store_path(buf, size,
		    "repositories/%s/_layers/sha256/%s%s", name, hex, suffix);
	case STORE_LINK_REVISION:
		return store_path(buf, size,
		    "repositories/%s/_manifests/revisions/sha256/%s%s", name,
		    hex, suffix);
	}
	errno = EINVAL;
	return -1;
}

static int
store_upload_dir(const char *name, const char *uuid, char *buf, size_t size)
{
	return store_path(buf, size, "repositories/%s/_uploads/%s", name, uuid);
}

/* ---- small file helpers ---- */

static int
store_isdir(int dfd, const char *path)
{
	struct stat st;

	return fstatat(dfd, path, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

/* ---- durability: group commit ----
 *
 * A write others may read becomes durable in rounds: first what it wrote
 * (a blob's data, a link's temporary file, the parents of directories it
 * made), then, after the rename that publishes it, the directory holding
 * the new name. Each round syncs every descriptor it needs before the
 * next step starts, so a name is never durable before its content.
 *
 * Concurrent writers share rounds (group commit): a caller that arrives
 * while a round is in flight queues its descriptors and the next round,
 * run by one of the callers waiting (the leader), syncs them all, each
 * file once however many callers named it (a repository's _layers
 * directory, a blob fan-out directory), then wakes everyone it covered.
 * A caller returns only after a round that started after it queued has
 * finished, so the 201 of a commit always follows the syncs covering it.
 *
 * Within a round the files are synced in parallel with Linux AIO
 * (IOCB_CMD_FSYNC, 4.18+), one flush round trip instead of one per file;
 * where the kernel or filesystem refuses that, one after the other.
 */

/* Test hook: called by each leader with its batch before syncing it. */
static void (*store_round_hook)(const struct store_sync_req *);

/*
 * store_group_sync: make the n files open as fds durable (fsync), sharing
 * the round with concurrent callers. 0, or -1 with the errno of the
 * first file that failed. Blocks; called on workers (and by the
 * single-threaded subcommands), never on the event loop.
 */
static int
store_group_sync(struct store_fs *s, const int *fds, int n)
{
	struct store_sync_req req = {fds, n, 0, 0, NULL};
	struct store_sync_req *batch;

	if (n == 0)
		return 0;
	pthread_mutex_lock(&s->s_sync_lock);
	*s->s_sync_tail = &req;
	s->s_sync_tail = &req.sq_next;
	while (!req.sq_done) {
		if (s->s_sync_busy) {
			pthread_cond_wait(&s->s_sync_cond, &s->s_sync_lock);
			continue;
		}
		/* Lead a round: everything queued so far, ours included. */
		batch = s->s_sync_head;
		s->s_sync_head = NULL;
		s->s_sync_tail = &s->s_sync_head;
		s->s_sync_busy = 1;
		pthread_mutex_unlock(&s->s_sync_lock);
		store_sync_round(s, batch);
		pthread_mutex_lock(&s->s_sync_lock);
		for (; batch != NULL; batch = batch->sq_next)
			batch->sq_done = 1;
		s->s_sync_rounds++;
		s->s_sync_busy = 0;
		pthread_cond_broadcast(&s->s_sync_cond);
	}
	pthread_mutex_unlock(&s->s_sync_lock);
	if (req.sq_errno != 0) {
		errno = req.sq_errno;
		return -1;
	}
	return 0;
}

/*
 * store_sync_round: the leader's part, without the lock: sync each file
 * of the batch once (the same inode through several descriptors counts
 * once) and give every request the first error of its files.
 */
static void
store_sync_round(struct store_fs *s, struct store_sync_req *batch)
{
	struct {
		dev_t u_dev;
		ino_t u_ino;
	} u[STORE_ROUND_MAX];
	int ufd[STORE_ROUND_MAX], uerr[STORE_ROUND_MAX];
	struct store_sync_req *r, *q;
	struct stat sb;
	int i, j, k, nu;

	if (store_round_hook != NULL)
		store_round_hook(batch);
	/*
	 * Passes of at most STORE_ROUND_MAX distinct files; one pass
	 * unless many writers come together. i walks requests, k their fds.
	 */
	r = batch;
	k = 0;
	while (r != NULL) {
		nu = 0;
		for (; r != NULL; r = r->sq_next, k = 0) {
			for (; k < r->sq_n; k++) {
				if (fstat(r->sq_fds[k], &sb) == -1) {
					if (r->sq_errno == 0)
						r->sq_errno = errno;
					continue;
				}
				for (j = 0; j < nu; j++)
					if (u[j].u_dev == sb.st_dev &&
					    u[j].u_ino == sb.st_ino)
						break;
				if (j < nu)
					continue;
				if (nu == STORE_ROUND_MAX)
					goto full;
				u[nu].u_dev = sb.st_dev;
				u[nu].u_ino = sb.st_ino;
				ufd[nu] = r->sq_fds[k];
				nu++;
			}
		}
full:
		(void)store_sync_files(s, ufd, uerr, nu);
		s->s_sync_files += (uint64_t)nu;
		/* Hand each request of this pass the errors of its files. */
		for (i = 0; i < nu; i++) {
			if (uerr[i] == 0)
				continue;
			for (q = batch; q != NULL; q = q->sq_next) {
				for (j = 0; j < q->sq_n; j++) {
					if (fstat(q->sq_fds[j], &sb) == 0 &&
					    sb.st_dev == u[i].u_dev &&
					    sb.st_ino == u[i].u_ino &&
					    q->sq_errno == 0)
						q->sq_errno = uerr[i];
				}
			}
		}
	}
}

/*
 * store_sync_files: fsync the n descriptors, in parallel through AIO
 * when the kernel takes it, else one by one; err[i] gets each one's
 * errno or 0. Returns 0 when all succeeded, else -1.
 */
static int
store_sync_files(struct store_fs *s, const int *fds, int *err, int n)
{
	struct iocb cb[STORE_ROUND_MAX], *cbp[STORE_ROUND_MAX];
	struct io_event ev[STORE_ROUND_MAX];
	long got, r;
	int i, done = 0, bad = 0;

	for (i = 0; i < n; i++)
		err[i] = 0;
	if (s->s_aio != 0 && n > 1) {
		memset(cb, 0, sizeof(cb[0]) * (size_t)n);
		for (i = 0; i < n; i++) {
			cb[i].aio_fildes = (uint32_t)fds[i];
			cb[i].aio_lio_opcode = IOCB_CMD_FSYNC;
			cb[i].aio_data = (uint64_t)i;
			cbp[i] = &cb[i];
		}
		r = syscall(SYS_io_submit, s->s_aio, (long)n, cbp);
		if (r > 0)
			done = (int)r;
		else if (r == -1 && errno != EAGAIN)
			store_aio_off(s, "io_submit"); /* EINVAL: fs refuses */
		/* Reap what was submitted; the rest goes one by one. */
		for (got = 0; got < done;) {
			r = syscall(SYS_io_getevents, s->s_aio, 1L,
			    (long)(done - got), ev, NULL);
			if (r == -1 && errno == EINTR)
				continue;
			if (r == -1) {
				/* Which finished is unknown: sync all again. */
				store_aio_off(s, "io_getevents");
				done = 0;
				for (i = 0; i < n; i++)
					err[i] = 0;
				break;
			}
			for (i = 0; i < (int)r; i++)
				if (ev[i].res < 0 && ev[i].data < (uint64_t)n)
					err[ev[i].data] = (int)-ev[i].res;
			got += r;
		}
	}
	for (i = done; i < n; i++)
		if (fsync(fds[i]) == -1)
			err[i] = errno;
	for (i = 0; i < n; i++)
		if (err[i] != 0)
			bad = 1;
	return bad ? -1 : 0;
}

/*
 * store_aio_off: stop using AIO for this store (the kernel or filesystem
 * refused it); io_destroy waits for what is still in flight.
 */
static void
store_aio_off(struct store_fs *s, const char *what)
{
	log_info("%s: %s: %s; syncing files one by one", s->s_root, what,
	    strerror(errno));
	(void)syscall(SYS_io_destroy, s->s_aio);
	s->s_aio = 0;
}

static void
store_ss_init(struct store_syncset *ss)
{
	ss->ss_n = 0;
}

/*
 * store_ss_add: fd joins the set, which owns it from now on (also on
 * failure). A full set is synced first; a file of more than
 * STORE_SHARED_MAX bytes is synced now, alone, and closed. 0, or -1 with
 * errno.
 */
static int
store_ss_add(struct store_fs *s, struct store_syncset *ss, int fd)
{
	struct stat sb;
	int r, saved;

	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    sb.st_size > STORE_SHARED_MAX) {
		r = fdatasync(fd);
		saved = errno;
		(void)close(fd);
		errno = saved;
		return r;
	}
	if (ss->ss_n == STORE_SYNCSET_MAX && store_ss_sync(s, ss) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	ss->ss_fd[ss->ss_n++] = fd;
	return 0;
}

/* store_ss_add_dir: directory path (relative to the v2 root) joins. */
static int
store_ss_add_dir(struct store_fs *s, struct store_syncset *ss, const char *path)
{
	int fd;

	fd = openat(s->s_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	return store_ss_add(s, ss, fd);
}

/*
 * store_ss_sync: make everything in the set durable (one group commit
 * round), close it and empty the set, whatever the outcome. 0, or -1
 * with errno.
 */
static int
store_ss_sync(struct store_fs *s, struct store_syncset *ss)
{
	int rv, saved;

	rv = store_group_sync(s, ss->ss_fd, ss->ss_n);
	saved = errno;
	store_ss_close(ss);
	errno = saved;
	return rv;
}

/* store_ss_close: close the set's descriptors without syncing them. */
static void
store_ss_close(struct store_syncset *ss)
{
	int i;

	for (i = 0; i < ss->ss_n; i++)
		(void)close(ss->ss_fd[i]);
	ss->ss_n = 0;
}

/*
 * store_mkdirs: mkdir -p path relative to dfd, directories 0777 (the umask
 * applies, as in distribution). With a sync set, the parent of each
 * directory created here joins it, so that the caller's next round makes
 * the new entries durable; the caller still syncs the last directory
 * after putting something in it. s may be NULL when ss is.
 */
static int
store_mkdirs(struct store_fs *s, int dfd, const char *path,
    struct store_syncset *ss)
{
	char buf[PATH_MAX], parent[PATH_MAX];
	char *p, c;

	if (util_strlcpy(buf, path, sizeof(buf)) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* The common case: everything exists already. */
	if (buf[0] == '\0' || store_isdir(dfd, buf))
		return 0;
	for (p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (mkdirat(dfd, buf, 0777) == 0) {
			if (ss != NULL &&
			    (store_dirname(buf, parent, sizeof(parent)) == -1 ||
			        store_ss_add_dir(s, ss, parent) == -1))
				return -1;
		} else if (errno != EEXIST)
			return -1;
		*p = c;
		if (c == '\0')
			break;
	}
	if (!store_isdir(dfd, buf)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* store_write_all: write(2) until done, riding out EINTR and short writes. */
static int
store_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * store_write_atomic: replace path with buf so that a reader sees the old
 * or the new content, never a part: "<path>.<random hex>.tmp" in the same
 * directory, fsync, rename, fsync of the directory (distribution 3.1's
 * PutContent does the same; readers ignore *.tmp). The syncs are two
 * group commit rounds: the file with the parents of directories made for
 * it, then the directory after the rename.
 */
static int
store_write_atomic(struct store_fs *s, const char *path, const void *buf,
    size_t len)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	struct store_syncset ss;

	store_ss_init(&ss);
	if (store_dirname(path, dir, sizeof(dir)) == -1 ||
	    store_mkdirs(s, s->s_fd, dir, &ss) == -1 ||
	    store_write_tmp(s, &ss, path, buf, len, tmp, sizeof(tmp)) == -1) {
		store_ss_close(&ss);
		return -1;
	}
	if (store_ss_sync(s, &ss) == -1 ||
	    renameat(s->s_fd, tmp, s->s_fd, path) == -1)
		goto fail;
	if (store_ss_add_dir(s, &ss, dir) == -1)
		return -1;
	return store_ss_sync(s, &ss);
fail:
	store_unlink_saving_errno(s, tmp);
	return -1;
}

/*
 * store_write_tmp: create "<path>.<random hex>.tmp" next to path holding
 * buf, its name into tmp, its descriptor into ss (not synced yet). 0, or
 * -1 with errno and nothing left behind.
 */
static int
store_write_tmp(struct store_fs *s, struct store_syncset *ss, const char *path,
    const void *buf, size_t len, char *tmp, size_t tmpsz)
{
	unsigned char rnd[8];
	ssize_t got;
	int fd;

	do
		got = getrandom(rnd, sizeof(rnd), 0);
	while (got == -1 && errno == EINTR);
	if (got != (ssize_t)sizeof(rnd)) {
		if (got >= 0)
			errno = EIO;
		return -1;
	}
	if (store_path(tmp, tmpsz, "%s.%02x%02x%02x%02x%02x%02x%02x%02x.tmp",
	        path, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6],
	        rnd[7]) == -1)
		return -1;
	fd =
	    openat(s->s_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd == -1)
		return -1;
	if (store_write_all(fd, buf, len) == -1) {
		(void)close(fd);
		store_unlink_saving_errno(s, tmp);
		return -1;
	}
	if (store_ss_add(s, ss, fd) == -1) {
		store_unlink_saving_errno(s, tmp);
		return -1;
	}
	return 0;
}

/* store_unlink_saving_errno: remove path (litter after a failure). */
static void
store_unlink_saving_errno(struct store_fs *s, const char *path)
{
	int saved = errno;

	(void)unlinkat(s->s_fd, path, 0);
	errno = saved;
}

/*
 * store_read_small: read at most size - 1 bytes of a small regular file
 * (link, startedat) and NUL-terminate them. O_NONBLOCK keeps a FIFO planted
 * in the tree from blocking the open; it has no effect on regular files.
 */
static int
store_read_small(int dfd, const char *path, char *buf, size_t size, size_t *len,
    struct timespec *mtime)
{
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd, saved;

	fd = openat(dfd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if (mtime != NULL)
		*mtime = st.st_mtim;
	while (got < size - 1) {
		n = read(fd, buf + got, size - 1 - got);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*len = got;
	return close(fd);
fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

/*
 * store_link_read: the digest in a link file. The content must be exactly
 * "sha256:<64 hex>" (distribution parses it with digest.Parse and tolerates
 * nothing else); anything else is treated as absent (ENOENT) with a warning,
 * so a corrupt tree degrades to "not found" instead of failing requests.
 */
static int
store_link_read(struct store_fs *s, const char *path, char digest[DIGEST_BUFSZ])
{
	return store_link_read_mtime(s, path, digest, NULL);
}

/* store_link_read, and the link file's mtime into *mtime unless NULL. */
static int
store_link_read_mtime(struct store_fs *s, const char *path,
    char digest[DIGEST_BUFSZ], struct timespec *mtime)
{
	char buf[STORE_LINK_READ_MAX + 1];
	size_t len;

	if (store_read_small(s->s_fd, path, buf, sizeof(buf), &len, mtime) ==
	    -1) {
		if (errno == EINVAL || errno == EISDIR) {
			log_warnx("%s: %s: not a regular file", __func__, path);
			errno = ENOENT;
		}
		return -1;
	}
	if (!digest_is_valid(buf, len)) {
		log_warnx("%s: %s: invalid link content", __func__, path);
		errno = ENOENT;
		return -1;
	}
	memcpy(digest, buf, len);
	digest[len] = '\0';
	return 0;
}

/* ---- directory helpers ---- */

/* store_readdir: 1 and *de for an entry, 0 at the end, -1 on error. */
static int
store_readdir(DIR *d, struct dirent **de)
{
	errno = 0;
	if ((*de = readdir(d)) != NULL)
		return 1;
	return errno == 0 ? 0 : -1;
}

/* 1 when the entry is a directory itself (symlinks are not followed). */
static int
store_entry_isdir(int dfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return 0;
	return S_ISDIR(st.st_mode);
}

/*
 * store_rmtree: rm -rf path relative to dfd, without following symlinks
 * (a symlink is removed, not what it points to). Entries that vanish
 * meanwhile (another process removing the same tree) are not errors.
 */
static int
store_rmtree(int dfd, const char *path, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd, r, rv = 0, saved = 0;

	fd = openat(dfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOTDIR || errno == ELOOP)
			return unlinkat(dfd, path, 0);
		return -1;
	}
	if (depth >= STORE_RMTREE_DEPTH) {
		(void)close(fd);
		errno = ELOOP;
		return -1;
	}
	if ((d = fdopendir(fd)) == NULL) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	while ((r = store_readdir(d, &de)) == 1) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (store_entry_isdir(dirfd(d), de))
			r = store_rmtree(dirfd(d), de->d_name, depth + 1);
		else
			r = unlinkat(dirfd(d), de->d_name, 0);
		if (r == -1 && errno != ENOENT) {
			saved = errno;
			rv = -1;
		}
	}
	if (r == -1) {
		saved = errno;
		rv = -1;
	}
	(void)closedir(d);
	if (rv == 0 && unlinkat(dfd, path, AT_REMOVEDIR) == -1 &&
	    errno != ENOENT) {
		saved = errno;
		rv = -1;
	}
	if (rv == -1)
		errno = saved;
	return rv;
}

/* ---- open / close ---- */

/*
 * store_fs_open: root/docker/registry/v2 as a store. Without
 * STORE_FS_READONLY, create it when missing and require write access now
 * rather than at the first push; with it, create nothing and only read
 * (fsck on a read-only mount).
 */
struct store *
store_fs_open(const char *root, int flags, char *err, size_t errlen)
{
	struct store_fs *s;
	char v2[PATH_MAX];
	int writable = !(flags & STORE_FS_READONLY);

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->s_base.s_ops = &store_fs_ops;
	s->s_fd = -1;
	pthread_mutex_init(&s->s_tags_lock, NULL);
	pthread_mutex_init(&s->s_sync_lock, NULL);
	pthread_cond_init(&s->s_sync_cond, NULL);
	s->s_sync_tail = &s->s_sync_head;
	/* Without AIO (old kernel, limits) files are synced one by one. */
	if (writable &&
	    syscall(SYS_io_setup, STORE_ROUND_MAX, &s->s_aio) == -1) {
		log_info("%s: io_setup: %s; syncing files one by one", root,
		    strerror(errno));
		s->s_aio = 0;
	}
	if (root == NULL || root[0] == '\0' ||
	    util_strlcpy(s->s_root, root, sizeof(s->s_root)) >=
	        sizeof(s->s_root) ||
	    store_path(v2, sizeof(v2), "%s/%s", root, STORE_V2) == -1) {
		snprintf(err, errlen, "storage root: invalid or too long");
		goto fail;
	}
	(void)snprintf(s->s_base.s_describe, sizeof(s->s_base.s_describe),
	    "filesystem %s", root);
	if (writable && store_mkdirs(NULL, AT_FDCWD, v2, NULL) == -1) {
		snprintf(err, errlen, "%s: %s", v2, strerror(errno));
		goto fail;
	}
	s->s_fd = open(v2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->s_fd == -1) {
		snprintf(err, errlen, "%s: %s", v2, strerror(errno));
		goto fail;
	}
	if (writable &&
	    faccessat(s->s_fd, ".", W_OK | X_OK, AT_EACCESS) == -1) {
		snprintf(err, errlen, "%s: %s", v2, strerror(errno));
		goto fail;
	}
	return &s->s_base;
fail:
	store_fs_close(&s->s_base);
	return NULL;
}

static void
store_fs_close(struct store *st)
{
	struct store_fs *s = (struct store_fs *)st;

	if (s->s_fd != -1)
		(void)close(s->s_fd);
	if (s->s_aio != 0)
		(void)syscall(SYS_io_destroy, s->s_aio);
	store_list_free(s->s_tags.sl_v, s->s_tags.sl_n);
	pthread_mutex_destroy(&s->s_tags_lock);
	pthread_mutex_destroy(&s->s_sync_lock);
	pthread_cond_destroy(&s->s_sync_cond);
	free(s);
}

/*
 * A stat or a link read on a local disk is as quick as the loop needs;
 * listings (four tags/list of 100 000 tags held the loop for 1.5 s),
 * fsync and whole-tree walks are not.
 */
static int
store_fs_cheap(enum store_call_kind kind)
{
	return kind == STORE_CALL_QUICK;
}

/* ---- blobs ---- */

/*
 * store_fs_blob_stat: 0 and *size when blobs/sha256/xx/<hex>/data is a
 * regular file; -1 with ENOENT when not.
 */
static int
store_fs_blob_stat(struct store *st, const char *digest, uint64_t *size)
{
	struct store_fs *s = (struct store_fs *)st;
	char path[PATH_MAX];
	struct stat sb;

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_blob_path(digest, "/data", path, sizeof(path)) == -1)
		return -1;
	if (fstatat(s->s_fd, path, &sb, 0) == -1) {
		if (errno == ENOTDIR)
			errno = ENOENT;
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		log_warnx("%s: %s: not a regular file", __func__, path);
		errno = ENOENT;
		return -1;
	}
	*size = (uint64_t)sb.st_size;
	return 0;
}

/*
 * store_fs_blob_open: a reader holding the blob's data file open, and its
 * size. NULL with ENOENT when the blob does not exist.
 */
static struct store_reader *
store_fs_blob_open(struct store *st, const char *digest, uint64_t *size)
{
	struct store_fs *s = (struct store_fs *)st;
	struct store_fs_reader *r;
	char path[PATH_MAX];
	struct stat sb;
	int fd, saved;

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return NULL;
	}
	if (store_blob_path(digest, "/data", path, sizeof(path)) == -1)
		return NULL;
	/* O_NONBLOCK only guards against a FIFO; regular files ignore it. */
	fd =
	    openat(s->s_fd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOTDIR)
			errno = ENOENT;
		return NULL;
	}
	if (fstat(fd, &sb) == -1)
		goto fail;
	if (!S_ISREG(sb.st_mode)) {
		log_warnx("%s: %s: not a regular file", __func__, path);
		errno = ENOENT;
		goto fail;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto fail;
	r->r_base.sr_store = st;
	r->r_fd = fd;
	*size = (uint64_t)sb.st_size;
	return &r->r_base;
fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return NULL;
}

static ssize_t
store_fs_reader_read(struct store_reader *sr, void *buf, size_t len,
    uint64_t off)
{
	struct store_fs_reader *r = (struct store_fs_reader *)sr;
	ssize_t n;

	if (off > (uint64_t)INT64_MAX) {
		errno = EINVAL;
		return -1;
	}
	do
		n = pread(r->r_fd, buf, len, (off_t)off);
	while (n == -1 && errno == EINTR);
	return n;
}

static void
store_fs_reader_close(struct store_reader *sr)
{
	struct store_fs_reader *r = (struct store_fs_reader *)sr;

	if (r->r_fd != -1)
		(void)close(r->r_fd);
	free(r);
}

/*
 * store_fs_reader_take_fd: hand the reader's descriptor to the caller
 * (who closes it), for sendfile. -1 when sr is another driver's reader.
 */
int
store_fs_reader_take_fd(struct store_reader *sr)
{
	struct store_fs_reader *r = (struct store_fs_reader *)sr;
	int fd;

	if (sr->sr_store->s_ops != &store_fs_ops)
		return -1;
	fd = r->r_fd;
	r->r_fd = -1;
	return fd;
}

/*
 * store_fs_blob_write: store buf as blob digest (already verified by the
 * caller), atomically and durably. Blobs are content-addressed, so an
 * existing one is never rewritten (distribution's moveBlob does the same).
 */
static int
store_fs_blob_write(struct store *st, const char *digest, const void *buf,
    size_t len)
{
	struct store_fs *s = (struct store_fs *)st;
	char path[PATH_MAX];
	uint64_t size;

	if (store_fs_blob_stat(&s->s_base, digest, &size) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	if (store_blob_path(digest, "/data", path, sizeof(path)) == -1)
		return -1;
	return store_write_atomic(s, path, buf, len);
}

/*
 * store_fs_blob_delete: rm -rf the blob's directory (its data and any
 * crash litter). ENOENT when absent.
 */
static int
store_fs_blob_delete(struct store *st, const char *digest)
{
	struct store_fs *s = (struct store_fs *)st;
	char path[PATH_MAX];

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_blob_path(digest, "", path, sizeof(path)) == -1)
		return -1;
	return store_rmtree(s->s_fd, path, 0);
}

/* ---- repository links ---- */

/*
 * store_link_exists: 1 when name has the link, it names digest, and the
 * blob data exists (distribution's blob access check); 0 when not; -1 on
 * an I/O error.
 */
static int
store_fs_link_exists(struct store *st, const char *name, enum store_link kind,
    const char *digest)
{
	struct store_fs *s = (struct store_fs *)st;
	char path[PATH_MAX], got[DIGEST_BUFSZ];
	uint64_t size;

	if (!store_name_ok(name) || !store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_link_path(name, kind, digest, "/link", path, sizeof(path)) ==
	    -1)
		return -1;
	if (store_link_read(s, path, got) == -1)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	if (strcmp(got, digest) != 0) {
		log_warnx("%s: %s: names %s", __func__, path, got);
		return 0;
	}
	if (store_fs_blob_stat(&s->s_base, digest, &size) == -1)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	return 1;
}

/*
 * store_link_write: create the link (atomic, durable). Idempotent: a link
 * that already holds digest is only touched, which saves the fsyncs. The
 * blob's data is touched too, so that a collector that never saw this
 * link (one made after its walk) still sees the blob in use.
 */
static int
store_fs_link_write(struct store *st, const char *name, enum store_link kind,
    const char *digest)
{
	struct store_fs *s = (struct store_fs *)st;
	char path[PATH_MAX], got[DIGEST_BUFSZ], data[PATH_MAX];

	if (!store_name_ok(name) || !store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_link_path(name, kind, digest, "/link", path, sizeof(path)) ==
	        -1 ||
	    store_blob_path(digest, "/data", data, sizeof(data)) == -1)
		return -1;
	/* distribution writes []byte(dgst): no trailing newline. */
	if ((store_link_read(s, path, got) == -1 || strcmp(got, digest) != 0 ||
	        store_fs_touch(s, path) == -1) &&
	    store_write_atomic(s, path, digest, strlen(digest)) == -1)
		return -1;
	if (store_fs_touch(s, data) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

/* store_link_delete: remove the link's directory; ENOENT when absent. */
static int
store_fs_link_delete(struct store *st, const char *name, enum store_link kind,
    const char *digest)
{
	struct store_fs *s = (struct store_fs *)st;
	char path[PATH_MAX];

	if (!store_name_ok(name) || !store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_link_path(name, kind, digest, "", path, sizeof(path)) == -1)
		return -1;
	return store_rmtree(s->s_fd, path, 0);
}

/*
 * store_link_list: the digests of every valid link of that kind in name,
 * sorted by strcmp, as a malloc'd array (store_list_free). Entries whose
 * directory name is not a hex digest or whose link is missing or names
 * something else are skipped.
 */
static int
store_fs_link_list(struct store *st, const char *name, enum store_link kind,
    char ***digests, size_t *n)
{
	struct store_fs *s = (struct store_fs *)st;
	struct store_list l = {NULL, 0, 0};
	struct dirent *de;
	char dir[PATH_MAX], path[PATH_MAX], want[DIGEST_BUFSZ];
	char got[DIGEST_BUFSZ];
	DIR *d = NULL;
	int fd, r, saved;

	*digests = NULL;
	*n = 0;
	if (!store_name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	if (store_path(dir, sizeof(dir), "repositories/%s/%s", name,
	        kind == STORE_LINK_LAYER ? "_layers/sha256"
	                                 : "_manifests/revisions/sha256") == -1)
		return -1;
	fd = openat(s->s_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	if ((d = fdopendir(fd)) == NULL) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	while ((r = store_readdir(d, &de)) == 1) {
		if (store_path(want, sizeof(want), "sha256:%s", de->d_name) ==
		        -1 ||
		    !store_digest_ok(want))
			continue;
		if (store_path(path, sizeof(path), "%s/%s/link", dir,
		        de->d_name) == -1)
			continue;
		if (store_link_read(s, path, got) == -1) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			goto fail;
		}
		if (strcmp(got, want) != 0) {
			log_warnx("%s: %s: names %s", __func__, path, got);
			continue;
		}
		if (store_list_add(&l, got) == -1)
			goto fail;
	}
	if (r == -1)
		goto fail;
	(void)closedir(d);
	store_list_sort(&l, 0);
	*digests = l.sl_v;
	*n = l.sl_n;
	return 0;
fail:
	saved = errno;
	(void)closedir(d);
	store_list_free(l.sl_v, l.sl_n);
	errno = saved;
	return -1;
}

/* ---- tags ---- */

/* store_tag_get: the digest in tags/<tag>/current/link; ENOENT if none. */
static int
store_fs_tag_get(struct store *st, const char *name, const char *tag,
    char digest[DIGEST_BUFSZ])
{
	struct store_fs *s = (struct store_fs *)st;
	char path[PATH_MAX];

	if (!store_name_ok(name) || !store_tag_ok(tag)) {
		errno = EINVAL;
		return -1;
	}
	if (store_path(path, sizeof(path),
	        "repositories/%s/_manifests/tags/%s/current/link", name,
	        tag) == -1)
		return -1;
	if (store_link_read(s, path, digest) == -1) {
		if (errno == ENOTDIR)
			errno = ENOENT;
		return -1;
	}
	return 0;
}

/*
 * store_tag_set: point tag at digest the way distribution's tagStore.Tag
 * does: first tags/<tag>/index/sha256/<hex>/link (the tag's history), then
 * tags/<tag>/current/link, both atomic and durable.
 */
static int
store_fs_tag_set(struct store *st, const char *name, const char *tag,
    const char *digest)
{
	struct store_fs *s = (struct store_fs *)st;
	char path[PATH_MAX], got[DIGEST_BUFSZ];

	if (!store_name_ok(name) || !store_tag_ok(tag) ||
	    !store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_path(path, sizeof(path),
	        "repositories/%s/_manifests/tags/%s/index/sha256/%s/link", name,
	        tag, digest_hex(digest)) == -1)
		return -1;
	if ((store_link_read(s, path, got) == -1 || strcmp(got, digest) != 0) &&
	    store_write_atomic(s, path, digest, strlen(digest)) == -1)
		return -1;
	if (store_path(path, sizeof(path),
	        "repositories/%s/_manifests/tags/%s/current/link", name,
	        tag) == -1)
		return -1;
	return store_write_atomic(s, path, digest, strlen(digest));
}

/* store_tag_delete: rm -rf tags/<tag> (current and index); ENOENT if none. */
static int
store_fs_tag_delete(struct store *st, const char *name, const char *tag)
{
	struct store_fs *s = (struct store_fs *)st;
	char path[PATH_MAX];

	if (!store_name_ok(name) || !store_tag_ok(tag)) {
		errno = EINVAL;
		return -1;
	}
	if (store_path(path, sizeof(path), "repositories/%s/_manifests/tags/%s",
	        name, tag) == -1)
		return -1;
	return store_rmtree(s->s_fd, path, 0);
}

/*
 * store_tag_list: names of the directories under _manifests/tags (as
 * registry:2 lists them, without a look at current/link), sorted by strcmp, as
 * a malloc'd array (store_list_free). ENOENT when the repository has no
 * _manifests.
 */
static int
store_fs_tag_list(struct store *st, const char *name, char ***tags, size_t *n)
{
	return store_fs_tags(st, name, SIZE_MAX, tags, n);
}

/*
 * store_tag_list_max: the same, or E2BIG once the directory has shown
 * more than max entries besides "." and "..", tags or not (the work is
 * bounded by the entries read, not by the tags kept). A repository in
 * the cache has its count known: nothing is read then. Bounded also
 * around the cache, which a worker may be filling with a big list: the
 * call never waits for its lock (it reads the directory instead), and
 * never replaces a cached list longer than max (freeing 100 000 tags
 * held the loop 4 ms).
 */
static int
store_fs_tag_list_max(struct store *st, const char *name, size_t max,
    char ***tags, size_t *n)
{
	return store_fs_tags(st, name, max, tags, n);
}

static int
store_fs_tags(struct store *st, const char *name, size_t max, char ***tags,
    size_t *n)
{
	struct store_fs *s = (struct store_fs *)st;
	struct store_list l = {NULL, 0, 0};
	struct dirent *de;
	struct stat sb;
	char path[PATH_MAX];
	size_t seen = 0;
	DIR *d;
	int mfd, fd, r, saved, bounded = max != SIZE_MAX;

	*tags = NULL;
	*n = 0;
	if (!store_name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	if (store_path(path, sizeof(path), "repositories/%s/_manifests",
	        name) == -1)
		return -1;
	mfd = openat(s->s_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd == -1) {
		if (errno == ENOTDIR)
			errno = ENOENT;
		return -1;
	}
	fd = openat(mfd, "tags", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	saved = errno;
	(void)close(mfd);
	if (fd == -1) {
		if (saved == ENOENT || saved == ENOTDIR)
			return 0;
		errno = saved;
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	if (bounded) {
		if (pthread_mutex_trylock(&s->s_tags_lock) != 0)
			goto scan; /* a worker copies a big list: not waiting */
	} else
		pthread_mutex_lock(&s->s_tags_lock);
	if (strcmp(s->s_tags_name, name) == 0 && s->s_tags_ino == sb.st_ino &&
	    s->s_tags_mtime.tv_sec == sb.st_mtim.tv_sec &&
	    s->s_tags_mtime.tv_nsec == sb.st_mtim.tv_nsec) {
		if (s->s_tags.sl_n > max) {
			pthread_mutex_unlock(&s->s_tags_lock);
			(void)close(fd);
			errno = E2BIG;
			return -1;
		}
		r = store_list_copy(&s->s_tags, &l);
		pthread_mutex_unlock(&s->s_tags_lock);
		(void)close(fd);
		if (r == -1)
			return -1;
		*tags = l.sl_v;
		*n = l.sl_n;
		return 0;
	}
	pthread_mutex_unlock(&s->s_tags_lock);
scan:
	if (bounded && sb.st_size > STORE_TAGS_DIR_QUICK &&
	    (uintmax_t)sb.st_size / 1024 > max) {
		(void)close(fd);
		errno = E2BIG;
		return -1;
	}
	if ((d = fdopendir(fd)) == NULL) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	/*
	 * A tag is a directory under tags/, as registry:2 lists them (no
	 * stat of current/link per tag: that made 10 000 tags slow).
	 */
	while ((r = store_readdir(d, &de)) == 1) {
		if (++seen > 2 && seen - 2 > max) { /* "." and ".." */
			errno = E2BIG;
			r = -1;
			break;
		}
		if (!store_tag_ok(de->d_name) ||
		    (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
			continue;
		if (store_list_add(&l, de->d_name) == -1) {
			r = -1;
			break;
		}
	}
	saved = errno;
	(void)closedir(d);
	if (r == -1) {
		store_list_free(l.sl_v, l.sl_n);
		errno = saved;
		return -1;
	}
	store_list_sort(&l, 0);
	if (bounded) {
		if (pthread_mutex_trylock(&s->s_tags_lock) != 0)
			goto done;
		if (s->s_tags.sl_n > max) {
			pthread_mutex_unlock(&s->s_tags_lock);
			goto done;
		}
	} else
		pthread_mutex_lock(&s->s_tags_lock);
	store_list_free(s->s_tags.sl_v, s->s_tags.sl_n);
	memset(&s->s_tags, 0, sizeof(s->s_tags));
	s->s_tags_name[0] = '\0';
	if (store_list_copy(&l, &s->s_tags) == 0) {
		util_strlcpy(s->s_tags_name, name, sizeof(s->s_tags_name));
		s->s_tags_ino = sb.st_ino;
		s->s_tags_mtime = sb.st_mtim;
	}
	pthread_mutex_unlock(&s->s_tags_lock);
done:
	*tags = l.sl_v;
	*n = l.sl_n;
	return 0;
}

/* ---- repositories ---- */

/* store_repo_exists: 1 when repositories/<name>/_manifests is a directory. */
static int
store_fs_repo_exists(struct store *st, const char *name)
{
	struct store_fs *s = (struct store_fs *)st;
	char path[PATH_MAX];

	if (!store_name_ok(name) ||
	    store_path(path, sizeof(path), "repositories/%s/_manifests",
	        name) == -1)
		return 0;
	return store_isdir(s->s_fd, path);
}

/*
 * store_fs_dirwalk: call cb for the directory fd (named name relative to
 * repositories/, "" at the top, where cb is not called) and recurse into
 * its subdirectories. Components starting with '_' (_layers, _manifests,
 * _uploads) or '.' are never entered, nor are symlinks (O_NOFOLLOW), so
 * the walk stays inside the tree; depth and name length are capped by the
 * repository name grammar. Takes ownership of fd.
 */
static int
store_fs_dirwalk(int fd, char *name, size_t size, int depth,
    int (*cb)(int, const char *, void *), void *arg)
{
	struct dirent *de;
	size_t len;
	DIR *d;
	int sub, r, saved;

	if ((d = fdopendir(fd)) == NULL) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	if (name[0] != '\0' && cb(dirfd(d), name, arg) == -1)
		goto fail;
	len = strlen(name);
	while ((r = store_readdir(d, &de)) == 1) {
		if (de->d_name[0] == '.' || de->d_name[0] == '_' ||
		    depth >= STORE_WALK_DEPTH ||
		    !store_entry_isdir(dirfd(d), de))
			continue;
		if (store_path(name + len, size - len, "%s%s",
		        len > 0 ? "/" : "", de->d_name) == -1) {
			/* Longer than any repository name can be. */
			name[len] = '\0';
			continue;
		}
		sub = openat(dirfd(d), de->d_name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub == -1) {
			name[len] = '\0';
			/* Removed or replaced meanwhile: not an error. */
			if (errno == ENOENT || errno == ENOTDIR ||
			    errno == ELOOP)
				continue;
			goto fail;
		}
		r = store_fs_dirwalk(sub, name, size, depth + 1, cb, arg);
		name[len] = '\0';
		if (r == -1)
			goto fail;
	}
	if (r == -1)
		goto fail;
	(void)closedir(d);
	return 0;
fail:
	saved = errno;
	(void)closedir(d);
	errno = saved;
	return -1;
}

static int
store_repo_list_cb(int fd, const char *name, void *arg)
{
	struct stat st;

	if (fstatat(fd, "_manifests", &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISDIR(st.st_mode))
		return 0;
	return store_list_add(arg, name);
}

/*
 * store_repo_list: every repository under repositories/ (a directory that
 * holds _manifests; it may also be the parent of others), sorted with
 * store_repo_cmp, as a malloc'd array (store_list_free). Walks the whole
 * tree: call it off the event loop.
 */
static int
store_fs_repo_list(struct store *st, char ***names, size_t *n)
{
	struct store_fs *s = (struct store_fs *)st;
	struct store_list l = {NULL, 0, 0};
	char name[NAME_MAX_LEN + 1];
	int fd, saved;

	*names = NULL;
	*n = 0;
	fd =
	    openat(s->s_fd, "repositories", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	name[0] = '\0';
	if (store_fs_dirwalk(fd, name, sizeof(name), 0, store_repo_list_cb,
	        &l) == -1) {
		saved = errno;
		store_list_free(l.sl_v, l.sl_n);
		errno = saved;
		return -1;
	}
	store_list_sort(&l, 1);
	*names = l.sl_v;
	*n = l.sl_n;
	return 0;
}

/* ---- uploads ---- */

static struct store_fs_writer *
store_fs_writer_new(struct store *st, const char *name, const char *uuid)
{
	struct store_fs_writer *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->w_base.sw_store = st;
	w->w_fd = -1;
	(void)util_strlcpy(w->w_name, name, sizeof(w->w_name));
	(void)util_strlcpy(w->w_uuid, uuid, sizeof(w->w_uuid));
	return w;
}

/*
 * store_fs_upload_create: make _uploads/<uuid> with startedat and an empty
 * data file. startedat is not synced: it only matters for purging, and a
 * lost one falls back to the directory's mtime.
 */
static struct store_writer *
store_fs_upload_create(struct store *st, const char *name, const char *uuid)
{
	struct store_fs *s = (struct store_fs *)st;
	struct store_fs_writer *w;
	char dir[PATH_MAX], path[PATH_MAX], now[32];
	int fd, saved;

	if (!store_name_ok(name) || !store_uuid_ok(uuid)) {
		errno = EINVAL;
		return NULL;
	}
	if (store_upload_dir(name, uuid, dir, sizeof(dir)) == -1 ||
	    store_mkdirs(s, s->s_fd, dir, NULL) == -1)
		return NULL;
	util_rfc3339(time(NULL), now, sizeof(now));
	if (store_path(path, sizeof(path), "%s/startedat", dir) == -1)
		goto fail;
	fd = openat(s->s_fd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0666);
	if (fd == -1 && errno == EEXIST)
		return NULL; /* another session's: leave it alone */
	if (fd == -1)
		goto fail;
	if (store_write_all(fd, now, strlen(now)) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		goto fail;
	}
	if (close(fd) == -1)
		goto fail;
	if (store_path(path, sizeof(path), "%s/data", dir) == -1)
		goto fail;
	fd = openat(s->s_fd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0666);
	if (fd == -1 || close(fd) == -1)
		goto fail;
	if ((w = store_fs_writer_new(st, name, uuid)) == NULL)
		goto fail;
	w->w_known = 1; /* an empty data file, just made */
	return &w->w_base;
fail:
	saved = errno;
	(void)store_rmtree(s->s_fd, dir, 0);
	errno = saved;
	return NULL;
}

/*
 * store_fs_upload_resume: a writer for an existing upload; *size is its
 * length. registry:2 creates data only at the first PATCH, so an upload
 * directory with a startedat but no data gets an empty one. ENOENT when
 * unknown.
 */
static struct store_writer *
store_fs_upload_resume(struct store *st, const char *name, const char *uuid,
    uint64_t *size)
{
	struct store_fs_writer *w;
	int saved;

	if (!store_name_ok(name) || !store_uuid_ok(uuid)) {
		errno = EINVAL;
		return NULL;
	}
	if ((w = store_fs_writer_new(st, name, uuid)) == NULL)
		return NULL;
	if (store_fs_writer_open(w) == -1) {
		saved = errno;
		free(w);
		errno = saved;
		return NULL;
	}
	*size = w->w_base.sw_size;
	store_fs_writer_idle(&w->w_base);
	return &w->w_base;
}

/*
 * store_fs_writer_open: open the session's data file for appending (when
 * it is not open yet) and take its size as the writer's, noting a change
 * (sw_rebased). ENOENT when the session is gone (cancelled, purged,
 * committed by another instance); only a writer that never saw the data
 * (a resume of a registry:2 session without data yet) creates it.
 */
static int
store_fs_writer_open(struct store_fs_writer *w)
{
	struct store_fs *s = (struct store_fs *)w->w_base.sw_store;
	char dir[PATH_MAX], path[PATH_MAX];
	struct stat sb;
	int fd;

	if (w->w_fd != -1)
		return 0;
	if (store_upload_dir(w->w_name, w->w_uuid, dir, sizeof(dir)) == -1 ||
	    store_path(path, sizeof(path), "%s/data", dir) == -1)
		return -1;
	fd = openat(s->s_fd, path,
	    O_WRONLY | O_APPEND | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT && !w->w_known) {
		if (store_path(path, sizeof(path), "%s/startedat", dir) == -1)
			return -1;
		if (fstatat(s->s_fd, path, &sb, 0) == -1) {
			if (errno == ENOTDIR)
				errno = ENOENT;
			return -1;
		}
		if (store_path(path, sizeof(path), "%s/data", dir) == -1)
			return -1;
		fd = openat(s->s_fd, path,
		    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
	}
	if (fd == -1) {
		if (errno == ENOTDIR)
			errno = ENOENT;
		return -1;
	}
	if (fstat(fd, &sb) == -1)
		goto fail;
	if (!S_ISREG(sb.st_mode)) {
		log_warnx("%s: %s: not a regular file", __func__, path);
		errno = ENOENT;
		goto fail;
	}
	/* Regular files ignore O_NONBLOCK; clear it all the same. */
	if (fcntl(fd, F_SETFL, O_APPEND) == -1)
		goto fail;
	w->w_fd = fd;
	if (w->w_known && w->w_base.sw_size != (uint64_t)sb.st_size)
		w->w_base.sw_rebased = 1;
	w->w_base.sw_size = (uint64_t)sb.st_size;
	w->w_known = 1;
	return 0;
fail:
	(void)close(fd);
	return -1;
}

/* store_fs_writer_stat: the size of the data file now. */
static int
store_fs_writer_stat(struct store_writer *sw, uint64_t *size)
{
	struct store_fs_writer *w = (struct store_fs_writer *)sw;
	struct store_fs *s = (struct store_fs *)sw->sw_store;
	char path[PATH_MAX];
	struct stat sb;

	if (store_path(path, sizeof(path), "repositories/%s/_uploads/%s/data",
	        w->w_name, w->w_uuid) == -1)
		return -1;
	if (fstatat(s->s_fd, path, &sb, 0) == -1) {
		if (errno == ENOTDIR)
			errno = ENOENT;
		return -1;
	}
	*size = (uint64_t)sb.st_size;
	return 0;
}

/*
 * store_fs_writer_append: write all of buf at the end of the data. Each
 * time the data crosses an UPLOAD_WRITEBACK_BYTES boundary, writeback of
 * the window just finished is started (SYNC_FILE_RANGE_WRITE submits the
 * pages and returns), so the pages of an upload not yet on their way to
 * the disk stay under one window and the final fdatasync is short.
 * Nothing here waits for the disk: this runs on the event loop. The wait
 * is the commit's fdatasync, on a worker; until then the pages in flight
 * are bounded by the kernel (the device queue, and the dirty limits that
 * throttle any writer). On error the file is truncated back to where it
 * was and -1 is returned with the write's errno.
 */
static int
store_fs_writer_append(struct store_writer *sw, const void *buf, size_t len)
{
	struct store_fs_writer *w = (struct store_fs_writer *)sw;
	const uint64_t win = UPLOAD_WRITEBACK_BYTES;
	uint64_t offset, end, k;
	int saved;

	if (store_fs_writer_open(w) == -1)
		return -1;
	offset = sw->sw_size;
	if (offset > (uint64_t)INT64_MAX ||
	    len > (uint64_t)INT64_MAX - offset) {
		errno = EFBIG;
		return -1;
	}
	if (store_write_all(w->w_fd, buf, len) == -1) {
		saved = errno;
		if (ftruncate(w->w_fd, (off_t)offset) == -1)
			log_warn("%s: ftruncate", __func__);
		errno = saved;
		return -1;
	}
	end = offset + len;
	/*
	 * Window k - 1 is [(k - 1) * win, k * win). Failures are ignored:
	 * the writeback is a hint, and fdatasync at commit reports real
	 * errors. (This used to wait for window k - 2 with
	 * SYNC_FILE_RANGE_WAIT_BEFORE: a disk slower than the network then
	 * stalled every connection of the loop, not just this upload.)
	 */
	for (k = offset / win + 1; k * win <= end; k++)
		(void)sync_file_range(w->w_fd, (off_t)((k - 1) * win),
		    (off_t)win, SYNC_FILE_RANGE_WRITE);
	return 0;
}

/*
 * store_fs_writer_truncate: cut the data back to size bytes, so a failed
 * request leaves nothing behind. 0, or -1 with errno.
 */
static int
store_fs_writer_truncate(struct store_writer *sw, uint64_t size)
{
	struct store_fs_writer *w = (struct store_fs_writer *)sw;
	int r;

	if (size > (uint64_t)INT64_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (store_fs_writer_open(w) == -1)
		return -1;
	do
		r = ftruncate(w->w_fd, (off_t)size);
	while (r == -1 && errno == EINTR);
	return r;
}

static void
store_fs_writer_idle(struct store_writer *sw)
{
	struct store_fs_writer *w = (struct store_fs_writer *)sw;

	if (w->w_fd != -1) {
		(void)close(w->w_fd);
		w->w_fd = -1;
	}
}

/*
 * store_fs_writer_commit: make the upload's data blob digest and link it
 * as a layer of the session's repository, durably, then remove the
 * upload directory. Two group commit rounds (store_group_sync), each
 * shared with whatever other writes are in flight:
 *
 *   1. the data, the layer link's temporary file, and the parents of the
 *      blob and link directories made for them: the content, before any
 *      name points at it;
 *   2. after renaming the data to blobs/sha256/xx/<hex>/data, then the
 *      link into place: the blob directory and the link directory.
 *
 * Readers see the blob before the link (the renames are in that order),
 * and nothing returns before both are durable. A power loss during round
 * 2 may leave the link durable without the blob, since the two
 * directories are synced together: then no 201 went out, the client
 * pushes the blob again and that commit completes it; readers (and
 * store_link_exists) take a link without its blob for absent; fsck
 * reports it. A third round (blob directory, then link) would rule that
 * out for a flush round trip more per commit: 81 instead of 111 small
 * uploads a second in the measurements of hardening item 23.
 *
 * An existing blob (same digest, same bytes) or link is kept; its
 * directory is synced all the same in round 1, since it may be another
 * commit's, still in flight. Two commits of the same blob may race:
 * rename(2) onto an existing file is atomic and both carry the same
 * bytes.
 */
static int
store_fs_writer_commit(struct store_writer *sw, const char *digest)
{
	struct store_fs_writer *w = (struct store_fs_writer *)sw;
	struct store_fs *s = (struct store_fs *)sw->sw_store;
	char updir[PATH_MAX], src[PATH_MAX], bdir[PATH_MAX], dst[PATH_MAX];
	char ldir[PATH_MAX], link[PATH_MAX], tmp[PATH_MAX], got[DIGEST_BUFSZ];
	struct store_syncset ss;
	struct stat sb;
	int fd, have_blob, have_link, made_tmp = 0;

	if (!store_digest_ok(digest) || !store_name_ok(w->w_name)) {
		errno = EINVAL;
		return -1;
	}
	if (store_upload_dir(w->w_name, w->w_uuid, updir, sizeof(updir)) ==
	        -1 ||
	    store_path(src, sizeof(src), "%s/data", updir) == -1 ||
	    store_blob_path(digest, "", bdir, sizeof(bdir)) == -1 ||
	    store_path(dst, sizeof(dst), "%s/data", bdir) == -1 ||
	    store_link_path(w->w_name, STORE_LINK_LAYER, digest, "", ldir,
	        sizeof(ldir)) == -1 ||
	    store_path(link, sizeof(link), "%s/link", ldir) == -1)
		return -1;
	store_ss_init(&ss);
	/*
	 * A descriptor of its own: the commit runs on a worker and must not
	 * touch the writer's size or descriptor, which are the loop's.
	 */
	if ((fd = openat(s->s_fd, src, O_RDONLY | O_NOCTTY | O_CLOEXEC)) ==
	    -1) {
		if (errno == ENOTDIR)
			errno = ENOENT;
		return -1;
	}
	/*
	 * An existing blob or link is touched (store.h: a commit counts as
	 * use, for online garbage collection); one that vanished meanwhile
	 * (a collector) is made again.
	 */
	have_blob = fstatat(s->s_fd, dst, &sb, 0) == 0 && S_ISREG(sb.st_mode) &&
	    store_fs_touch(s, dst) == 0;
	if (have_blob) {
		(void)close(fd); /* the upload's copy goes with its dir */
		if (store_ss_add_dir(s, &ss, bdir) == -1)
			goto fail;
	} else if (store_ss_add(s, &ss, fd) == -1 ||
	    store_mkdirs(s, s->s_fd, bdir, &ss) == -1)
		goto fail;
	have_link = store_link_read(s, link, got) == 0 &&
	    strcmp(got, digest) == 0 && store_fs_touch(s, link) == 0;
	if (have_link) {
		if (store_ss_add_dir(s, &ss, ldir) == -1)
			goto fail;
	} else {
		/* distribution writes []byte(dgst): no trailing newline. */
		if (store_mkdirs(s, s->s_fd, ldir, &ss) == -1 ||
		    store_write_tmp(s, &ss, link, digest, strlen(digest), tmp,
		        sizeof(tmp)) == -1)
			goto fail;
		made_tmp = 1;
	}
	if (store_ss_sync(s, &ss) == -1) /* round 1 */
		goto fail;
	/*
	 * The blob first: a reader never sees a link without its blob. Its
	 * times are those of the upload's last write: now, for a collector.
	 */
	if (!have_blob &&
	    (renameat(s->s_fd, src, s->s_fd, dst) == -1 ||
	        (store_fs_touch(s, dst) == -1 && errno != ENOENT) ||
	        store_ss_add_dir(s, &ss, bdir) == -1))
		goto fail;
	if (!have_link) {
		if (renameat(s->s_fd, tmp, s->s_fd, link) == -1)
			goto fail;
		made_tmp = 0;
		if (store_ss_add_dir(s, &ss, ldir) == -1)
			goto fail;
	}
	if (store_ss_sync(s, &ss) == -1) /* round 2 */
		goto fail;
	/* The blob is safe now; a leftover upload dir is only litter. */
	if (store_rmtree(s->s_fd, updir, 0) == -1)
		log_warn("%s: remove %s", __func__, updir);
	return 0;
fail:
	store_ss_close(&ss);
	if (made_tmp)
		store_unlink_saving_errno(s, tmp);
	return -1;
}

/*
 * store_fs_writer_hash: SHA-256 of the upload's data, read in 1 MiB
 * chunks, for a session whose running hash was lost.
 */
static int
store_fs_writer_hash(struct store_writer *sw, char digest[DIGEST_BUFSZ])
{
	struct store_fs_writer *w = (struct store_fs_writer *)sw;
	struct store_fs *s = (struct store_fs *)sw->sw_store;
	struct digest_ctx *ctx = NULL;
	char path[PATH_MAX];
	char *buf = NULL;
	ssize_t n;
	int fd, rv = -1, saved;

	if (store_path(path, sizeof(path), "repositories/%s/_uploads/%s/data",
	        w->w_name, w->w_uuid) == -1)
		return -1;
	fd =
	    openat(s->s_fd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if ((buf = malloc(STORE_HASH_CHUNK)) == NULL ||
	    (ctx = digest_ctx_new()) == NULL)
		goto done;
	for (;;) {
		n = read(fd, buf, STORE_HASH_CHUNK);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto done;
		}
		if (n == 0)
			break;
		digest_ctx_update(ctx, buf, (size_t)n);
	}
	if (digest_ctx_peek(ctx, digest) == -1) {
		errno = ENOMEM;
		goto done;
	}
	rv = 0;
done:
	saved = errno;
	digest_ctx_free(ctx);
	free(buf);
	(void)close(fd);
	errno = saved;
	return rv;
}

/* store_fs_writer_abort: rm -rf _uploads/<uuid>; ENOENT when absent. */
static int
store_fs_writer_abort(struct store_writer *sw)
{
	struct store_fs_writer *w = (struct store_fs_writer *)sw;
	struct store_fs *s = (struct store_fs *)sw->sw_store;
	char dir[PATH_MAX];

	store_fs_writer_idle(sw);
	if (store_upload_dir(w->w_name, w->w_uuid, dir, sizeof(dir)) == -1)
		return -1;
	return store_rmtree(s->s_fd, dir, 0);
}

static void
store_fs_writer_free(struct store_writer *sw)
{
	store_fs_writer_idle(sw);
	free(sw);
}

/*
 * store_parse_rfc3339: "2006-01-02T15:04:05Z" as Go's time.RFC3339 writes
 * it, also with fractional seconds or a numeric offset.
 */
static int
store_parse_rfc3339(const char *str, time_t *out)
{
	struct tm tm;
	const char *p;
	long off = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(str, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++)
			;
	}
	if (p[0] == 'Z' && p[1] == '\0')
		off = 0;
	else if ((p[0] == '+' || p[0] == '-') && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2]) && p[3] == ':' &&
	    isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5]) &&
	    p[6] == '\0') {
		off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600L +
		    ((p[4] - '0') * 10 + (p[5] - '0')) * 60L;
		if (p[0] == '-')
			off = -off;
	} else
		return -1;
	tm.tm_isdst = 0;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*out = t - off;
	return 0;
}

/* State of one store_upload_purge run. */
struct store_purge {
	time_t sp_now;
	time_t sp_max_age;
	int sp_dryrun; /* count and log, remove nothing */
	int sp_removed;
};

/* store_purge_cb: remove the expired uploads of one repository directory. */
static int
store_purge_cb(int fd, const char *name, void *arg)
{
	struct store_purge *sp = arg;
	struct dirent *de;
	struct stat st;
	char path[PATH_MAX], buf[STORE_STARTEDAT_MAX];
	size_t len;
	time_t started;
	DIR *d;
	int ufd, r, saved;

	ufd = openat(fd, "_uploads",
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ufd == -1)
		return 0;
	if ((d = fdopendir(ufd)) == NULL) {
		saved = errno;
		(void)close(ufd);
		errno = saved;
		return -1;
	}
	while ((r = store_readdir(d, &de)) == 1) {
		if (de->d_name[0] == '.' || !store_entry_isdir(dirfd(d), de))
			continue;
		if (store_path(path, sizeof(path), "%s/startedat",
		        de->d_name) == -1)
			continue;
		if (store_read_small(dirfd(d), path, buf, sizeof(buf), &len,
		        NULL) == -1 ||
		    store_parse_rfc3339(buf, &started) == -1) {
			/* No usable startedat: the directory's age will do. */
			if (fstatat(dirfd(d), de->d_name, &st,
			        AT_SYMLINK_NOFOLLOW) == -1)
				continue;
			started = st.st_mtime;
		}
		if (sp->sp_now < started ||
		    sp->sp_now - started <= sp->sp_max_age)
			continue;
		if (sp->sp_dryrun) {
			log_info("would purge upload %s/_uploads/%s (dry run)",
			    name, de->d_name);
			sp->sp_removed++;
			continue;
		}
		if (store_rmtree(dirfd(d), de->d_name, 0) == -1) {
			log_warn("%s: %s/_uploads/%s", __func__, name,
			    de->d_name);
			continue;
		}
		log_info("purged upload %s/_uploads/%s", name, de->d_name);
		sp->sp_removed++;
	}
	saved = errno;
	(void)closedir(d);
	errno = saved;
	return r == -1 ? -1 : 0;
}

/*
 * store_upload_purge: remove every upload (in any directory under
 * repositories/, whether or not it has a manifest yet) whose startedat, or
 * failing that its directory's mtime, is older than max_age seconds
 * (only counted with dryrun). Returns how many, or -1.
 */
static int
store_fs_upload_purge(struct store *st, time_t max_age, int dryrun)
{
	struct store_fs *s = (struct store_fs *)st;
	struct store_purge sp;
	char name[NAME_MAX_LEN + 1];
	int fd;

	sp.sp_now = time(NULL);
	sp.sp_max_age = max_age < 0 ? 0 : max_age;
	sp.sp_dryrun = dryrun;
	sp.sp_removed = 0;
	fd =
	    openat(s->s_fd, "repositories", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	name[0] = '\0';
	if (store_fs_dirwalk(fd, name, sizeof(name), 0, store_purge_cb, &sp) ==
	    -1)
		return -1;
	return sp.sp_removed;
}

/* ---- the referrers index ---- */

/*
 * The index (store.h) lives in a directory of each repository that
 * registry:2 never enters: its catalog and garbage collection skip every
 * component of a repository that starts with '_' other than _manifests
 * and _layers, and no repository name component may start with one.
 *
 *   _registryd/referrers/subjects/sha256/<subject hex>/<referrer hex>
 *       the entry: the referrer's descriptor, JSON
 *   _registryd/referrers/indexed/sha256/<revision hex>
 *       the mark: an empty file
 *
 * An entry is replaced with a rename, so a reader sees all of it or the
 * one before. Written without STORE_REFERRER_DURABLE (the reconcile of
 * what another writer added), it is not synced: the index is a cache,
 * and the journal of a local filesystem commits the entry's rename no
 * later than the mark created after it, so a crash leaves at worst an
 * entry without its bytes, which its reader rebuilds from the manifest.
 */

/* store_referrer_dir: the directory of subject's entries in name. */
static int
store_referrer_dir(const char *name, const char *subject, char *buf,
    size_t size)
{
	return store_path(buf, size,
	    "repositories/%s/_registryd/referrers/subjects/sha256/%s", name,
	    digest_hex(subject));
}

/* store_referrer_marks: the directory of name's marks. */
static int
store_referrer_marks(const char *name, char *buf, size_t size)
{
	return store_path(buf, size,
	    "repositories/%s/_registryd/referrers/indexed/sha256", name);
}

/*
 * store_fs_hexnames: the names in directory path that are 64 hex digits,
 * as "sha256:<hex>" digests sorted by strcmp, into l (which the caller
 * frees). A missing directory holds none. Temporary files and anything
 * foreign are skipped; nothing is read or stat'ed.
 */
static int
store_fs_hexnames(struct store_fs *s, const char *path, struct store_list *l)
{
	struct dirent *de;
	char digest[DIGEST_BUFSZ];
	DIR *d;
	int fd, r, saved;

	fd = openat(s->s_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	if ((d = fdopendir(fd)) == NULL) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	while ((r = store_readdir(d, &de)) == 1) {
		if (store_path(digest, sizeof(digest), "sha256:%s",
		        de->d_name) == -1 ||
		    !store_digest_ok(digest))
			continue;
		if (store_list_add(l, digest) == -1) {
			r = -1;
			break;
		}
	}
	saved = errno;
	(void)closedir(d);
	if (r == -1) {
		errno = saved;
		return -1;
	}
	store_list_sort(l, 0);
	return 0;
}

/*
 * store_fs_read_alloc: the whole regular file path into a malloc'd
 * buffer with a NUL appended; EFBIG beyond max bytes, ENOENT when it (or
 * a directory on the way) is missing.
 */
static int
store_fs_read_alloc(struct store_fs *s, const char *path, size_t max,
    char **buf, size_t *len)
{
	struct stat st;
	char *p = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, saved;

	fd =
	    openat(s->s_fd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOTDIR)
			errno = ENOENT;
		return -1;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = ENOENT;
		goto fail;
	}
	if ((uint64_t)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	if ((p = malloc((size_t)st.st_size + 1)) == NULL)
		goto fail;
	/* A replaced entry is a new file: this one never grows. */
	while (got < (size_t)st.st_size) {
		n = read(fd, p + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	(void)close(fd);
	p[got] = '\0';
	*buf = p;
	*len = got;
	return 0;
fail:
	saved = errno;
	free(p);
	(void)close(fd);
	errno = saved;
	return -1;
}

/*
 * store_fs_write_replace: replace path with buf like store_write_atomic
 * (a temporary file renamed over it), without any fsync: for what may be
 * lost in a crash.
 */
static int
store_fs_write_replace(struct store_fs *s, const char *path, const void *buf,
    size_t len)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	unsigned char rnd[8];
	ssize_t got;
	int fd, saved;

	if (store_dirname(path, dir, sizeof(dir)) == -1 ||
	    store_mkdirs(s, s->s_fd, dir, NULL) == -1)
		return -1;
	do
		got = getrandom(rnd, sizeof(rnd), 0);
	while (got == -1 && errno == EINTR);
	if (got != (ssize_t)sizeof(rnd)) {
		if (got >= 0)
			errno = EIO;
		return -1;
	}
	if (store_path(tmp, sizeof(tmp),
	        "%s.%02x%02x%02x%02x%02x%02x%02x%02x.tmp", path, rnd[0], rnd[1],
	        rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]) == -1)
		return -1;
	fd =
	    openat(s->s_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd == -1)
		return -1;
	if (store_write_all(fd, buf, len) == -1) {
		saved = errno;
		(void)close(fd);
		goto fail;
	}
	if (close(fd) == -1) {
		saved = errno;
		goto fail;
	}
	if (renameat(s->s_fd, tmp, s->s_fd, path) == -1) {
		saved = errno;
		goto fail;
	}
	return 0;
fail:
	(void)unlinkat(s->s_fd, tmp, 0);
	errno = saved;
	return -1;
}

/*
 * store_fs_referrer_put: the entry (unless it holds desc already: a
 * second push of a manifest costs no fsync), then the mark.
 */
static int
store_fs_referrer_put(struct store *st, const char *name, const char *digest,
    const char *subject, const void *desc, size_t len, int flags)
{
	struct store_fs *s = (struct store_fs *)st;
	char path[PATH_MAX];
	char *old = NULL;
	size_t oldlen = 0;
	int fd, same;

	if (!store_name_ok(name) || !store_digest_ok(digest) ||
	    (subject != NULL && !store_digest_ok(subject))) {
		errno = EINVAL;
		return -1;
	}
	if (subject != NULL) {
		if (store_referrer_dir(name, subject, path, sizeof(path)) ==
		        -1 ||
		    store_path(path + strlen(path), sizeof(path) - strlen(path),
		        "/%s", digest_hex(digest)) == -1)
			return -1;
		same = store_fs_read_alloc(s, path, len, &old, &oldlen) == 0 &&
		    oldlen == len && memcmp(old, desc, len) == 0;
		free(old);
		if (!same &&
		    ((flags & STORE_REFERRER_DURABLE)
		            ? store_write_atomic(s, path, desc, len)
		            : store_fs_write_replace(s, path, desc, len)) == -1)
			return -1;
	}
	if (store_referrer_marks(name, path, sizeof(path)) == -1 ||
	    store_mkdirs(s, s->s_fd, path, NULL) == -1 ||
	    store_path(path + strlen(path), sizeof(path) - strlen(path), "/%s",
	        digest_hex(digest)) == -1)
		return -1;
	fd = openat(s->s_fd, path, O_WRONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC,
	    0666);
	if (fd == -1)
		return -1;
	return close(fd);
}

static int
store_fs_referrer_get(struct store *st, const char *name, const char *subject,
    const char *digest, size_t max, char **desc, size_t *len)
{
	struct store_fs *s = (struct store_fs *)st;
	char path[PATH_MAX];

	*desc = NULL;
	*len = 0;
	if (!store_name_ok(name) || !store_digest_ok(digest) ||
	    !store_digest_ok(subject)) {
		errno = EINVAL;
		return -1;
	}
	if (store_referrer_dir(name, subject, path, sizeof(path)) == -1 ||
	    store_path(path + strlen(path), sizeof(path) - strlen(path), "/%s",
	        digest_hex(digest)) == -1)
		return -1;
	return store_fs_read_alloc(s, path, max, desc, len);
}

static int
store_fs_referrer_list(struct store *st, const char *name, const char *subject,
    char ***digests, size_t *n)
{
	struct store_fs *s = (struct store_fs *)st;
	struct store_list l = {NULL, 0, 0};
	char path[PATH_MAX];
	int saved;

	*digests = NULL;
	*n = 0;
	if (!store_name_ok(name) || !store_digest_ok(subject)) {
		errno = EINVAL;
		return -1;
	}
	if (store_referrer_dir(name, subject, path, sizeof(path)) == -1)
		return -1;
	if (store_fs_hexnames(s, path, &l) == -1) {
		saved = errno;
		store_list_free(l.sl_v, l.sl_n);
		errno = saved;
		return -1;
	}
	*digests = l.sl_v;
	*n = l.sl_n;
	return 0;
}

/* store_fs_referrer_delete: unlink the mark, then the entry. */
static int
store_fs_referrer_delete(struct store *st, const char *name,
    const char *subject, const char *digest)
{
	struct store_fs *s = (struct store_fs *)st;
	char path[PATH_MAX];
	int found = 0;

	if (!store_name_ok(name) || !store_digest_ok(digest) ||
	    (subject != NULL && !store_digest_ok(subject))) {
		errno = EINVAL;
		return -1;
	}
	if (store_referrer_marks(name, path, sizeof(path)) == -1 ||
	    store_path(path + strlen(path), sizeof(path) - strlen(path), "/%s",
	        digest_hex(digest)) == -1)
		return -1;
	if (unlinkat(s->s_fd, path, 0) == 0)
		found = 1;
	else if (errno != ENOENT && errno != ENOTDIR)
		return -1;
	if (subject != NULL) {
		if (store_referrer_dir(name, subject, path, sizeof(path)) ==
		        -1 ||
		    store_path(path + strlen(path), sizeof(path) - strlen(path),
		        "/%s", digest_hex(digest)) == -1)
			return -1;
		if (unlinkat(s->s_fd, path, 0) == 0)
			found = 1;
		else if (errno != ENOENT && errno != ENOTDIR)
			return -1;
	}
	if (!found) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

/*
 * store_fs_referrer_stale: the names under _manifests/revisions/sha256
 * against the marks, merged in strcmp order. Two directory listings:
 * the revision links are not read (see store.h).
 */
static int
store_fs_referrer_stale(struct store *st, const char *name, char ***add,
    size_t *nadd, char ***drop, size_t *ndrop)
{
	struct store_fs *s = (struct store_fs *)st;
	struct store_list revs = {NULL, 0, 0}, marks = {NULL, 0, 0};
	struct store_list a = {NULL, 0, 0}, d = {NULL, 0, 0};
	char path[PATH_MAX];
	size_t i = 0, j = 0;
	int c, rv = -1, saved;

	*add = *drop = NULL;
	*nadd = *ndrop = 0;
	if (!store_name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	if (store_path(path, sizeof(path),
	        "repositories/%s/_manifests/revisions/sha256", name) == -1 ||
	    store_fs_hexnames(s, path, &revs) == -1 ||
	    store_referrer_marks(name, path, sizeof(path)) == -1 ||
	    store_fs_hexnames(s, path, &marks) == -1)
		goto done;
	while (i < revs.sl_n || j < marks.sl_n) {
		if (i == revs.sl_n)
			c = 1;
		else if (j == marks.sl_n)
			c = -1;
		else
			c = strcmp(revs.sl_v[i], marks.sl_v[j]);
		if (c < 0 && store_list_add(&a, revs.sl_v[i]) == -1)
			goto done;
		if (c > 0 && store_list_add(&d, marks.sl_v[j]) == -1)
			goto done;
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}
	*add = a.sl_v;
	*nadd = a.sl_n;
	*drop = d.sl_v;
	*ndrop = d.sl_n;
	memset(&a, 0, sizeof(a));
	memset(&d, 0, sizeof(d));
	rv = 0;
done:
	saved = errno;
	store_list_free(revs.sl_v, revs.sl_n);
	store_list_free(marks.sl_v, marks.sl_n);
	store_list_free(a.sl_v, a.sl_n);
	store_list_free(d.sl_v, d.sl_n);
	errno = saved;
	return rv;
}

/* ---- the walk (fsck, garbage collection) ---- */

/*
 * The walk reads the tree as it is, also the parts the functions above
 * skip, and reports what it finds as store items: the objects of the
 * layout, and odd entries (crash litter, foreign files, malformed
 * pieces) with where they are and how bad they are.
 */

/* Raw entry kinds of the sorted tree walk. */
enum store_entry {
	STORE_ENTRY_FILE,  /* regular file */
	STORE_ENTRY_DIR,   /* directory */
	STORE_ENTRY_OTHER, /* symlink, FIFO, socket, device: never followed */
};

/* Directories deeper than this below blobs/ or repositories/: not entered. */
#define STORE_TREE_DEPTH 160

/* What to do with an entry of a repository that matches a pattern. */
enum store_fs_act {
	STORE_ACT_ENTER,    /* a directory of the layout: go on */
	STORE_ACT_REPO,     /* _manifests: a repository */
	STORE_ACT_LAYER,    /* _layers/sha256/<hex>: its link */
	STORE_ACT_REVISION, /* revisions/sha256/<hex>: its link */
	STORE_ACT_TAG,      /* tags/<tag>: current/link */
	STORE_ACT_INDEX,    /* tags/<tag>/index/sha256/<hex>: its link */
	STORE_ACT_LINK,     /* a link file, read with its directory */
	STORE_ACT_UPLOAD,   /* _uploads/<uuid>: not entered */
	STORE_ACT_REFERRER, /* a referrers index entry */
	STORE_ACT_MARK,     /* a referrers index mark: nothing to report */
};

/*
 * The layout below repositories/<name>/. "*H" is a 64-hex digest part,
 * "*T" a tag, "*" anything; dir says whether the entry is a directory.
 */
struct store_fs_pattern {
	const char *fp_path;
	int fp_dir;
	enum store_fs_act fp_act;
};

static const struct store_fs_pattern store_fs_patterns[] = {
    {"_layers", 1, STORE_ACT_ENTER},
    {"_layers/sha256", 1, STORE_ACT_ENTER},
    {"_layers/sha256/*H", 1, STORE_ACT_LAYER},
    {"_layers/sha256/*H/link", 0, STORE_ACT_LINK},
    {"_manifests", 1, STORE_ACT_REPO},
    {"_manifests/revisions", 1, STORE_ACT_ENTER},
    {"_manifests/revisions/sha256", 1, STORE_ACT_ENTER},
    {"_manifests/revisions/sha256/*H", 1, STORE_ACT_REVISION},
    {"_manifests/revisions/sha256/*H/link", 0, STORE_ACT_LINK},
    {"_manifests/tags", 1, STORE_ACT_ENTER},
    {"_manifests/tags/*T", 1, STORE_ACT_TAG},
    {"_manifests/tags/*T/current", 1, STORE_ACT_ENTER},
    {"_manifests/tags/*T/current/link", 0, STORE_ACT_LINK},
    {"_manifests/tags/*T/index", 1, STORE_ACT_ENTER},
    {"_manifests/tags/*T/index/sha256", 1, STORE_ACT_ENTER},
    {"_manifests/tags/*T/index/sha256/*H", 1, STORE_ACT_INDEX},
    {"_manifests/tags/*T/index/sha256/*H/link", 0, STORE_ACT_LINK},
    {"_uploads", 1, STORE_ACT_ENTER},
    {"_uploads/*", 1, STORE_ACT_UPLOAD},
    {"_registryd", 1, STORE_ACT_ENTER},
    {"_registryd/referrers", 1, STORE_ACT_ENTER},
    {"_registryd/referrers/subjects", 1, STORE_ACT_ENTER},
    {"_registryd/referrers/subjects/sha256", 1, STORE_ACT_ENTER},
    {"_registryd/referrers/subjects/sha256/*H", 1, STORE_ACT_ENTER},
    {"_registryd/referrers/subjects/sha256/*H/*H", 0, STORE_ACT_REFERRER},
    {"_registryd/referrers/indexed", 1, STORE_ACT_ENTER},
    {"_registryd/referrers/indexed/sha256", 1, STORE_ACT_ENTER},
    {"_registryd/referrers/indexed/sha256/*H", 0, STORE_ACT_MARK},
};

/* State of one store_fs_walk. */
struct store_fs_walk {
	struct store_fs *w_store;
	int (*w_cb)(const struct store_item *, void *);
	void *w_arg;
	int w_stopped; /* w_cb returned -1 */
};

static int store_tree_dir(struct store_fs *, char *, size_t, int,
    int (*)(const char *, enum store_entry, uint64_t, void *), void *);
static int store_fs_item(struct store_fs_walk *, struct store_item *);
static int store_fs_odd(struct store_fs_walk *, enum store_severity,
    const char *, const char *, ...) __attribute__((format(printf, 4, 5)));
static int store_fs_is_hex(const char *, size_t);
static int store_fs_is_tag(const char *, size_t);
static int store_fs_has_suffix(const char *, const char *);
static const char *store_fs_base(const char *);
static int store_fs_match(const char *, const char *);
static int store_fs_target(struct store_fs_walk *, const char *,
    struct store_item *, char *, size_t);
static int store_fs_blobs_cb(const char *, enum store_entry, uint64_t, void *);
static int store_fs_repos_cb(const char *, enum store_entry, uint64_t, void *);
static int store_fs_repo_entry(struct store_fs_walk *, const char *,
    const char *, const struct store_fs_pattern *, const char *);

/*
 * store_tree_dir: report the entries of directory path (a buffer of size
 * bytes, restored on return) in strcmp order and recurse into the
 * subdirectories that cb lets us enter (cb: 0 go on, 1 skip, -1 stop).
 */
static int
store_tree_dir(struct store_fs *s, char *path, size_t size, int depth,
    int (*cb)(const char *, enum store_entry, uint64_t, void *), void *arg)
{
	struct store_list l = {NULL, 0, 0};
	struct dirent *de;
	struct stat sb;
	enum store_entry kind;
	size_t len = strlen(path), i;
	DIR *d;
	int fd, r, rv = -1, saved;

	fd = openat(s->s_fd, path,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	if ((d = fdopendir(fd)) == NULL) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	while ((r = store_readdir(d, &de)) == 1) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (store_list_add(&l, de->d_name) == -1) {
			r = -1;
			break;
		}
	}
	saved = errno;
	(void)closedir(d);
	if (r == -1) {
		errno = saved;
		goto done;
	}
	store_list_sort(&l, 0);
	for (i = 0; i < l.sl_n; i++) {
		if (store_path(path + len, size - len, "/%s", l.sl_v[i]) == -1)
			goto done;
		if (fstatat(s->s_fd, path, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno == ENOENT) {
				/* Removed meanwhile (a live registry). */
				path[len] = '\0';
				continue;
			}
			goto done;
		}
		if (S_ISREG(sb.st_mode))
			kind = STORE_ENTRY_FILE;
		else if (S_ISDIR(sb.st_mode))
			kind = STORE_ENTRY_DIR;
		else
			kind = STORE_ENTRY_OTHER;
		r = cb(path, kind, (uint64_t)sb.st_size, arg);
		if (r == -1)
			goto done;
		if (kind == STORE_ENTRY_DIR && r == 0 &&
		    depth < STORE_TREE_DEPTH &&
		    store_tree_dir(s, path, size, depth + 1, cb, arg) == -1)
			goto done;
		path[len] = '\0';
	}
	rv = 0;
done:
	saved = errno;
	path[len] = '\0';
	store_list_free(l.sl_v, l.sl_n);
	errno = saved;
	return rv;
}

/* Hand an item to the walker's callback: 0, or -1 when it stops. */
static int
store_fs_item(struct store_fs_walk *w, struct store_item *it)
{
	if (w->w_cb(it, w->w_arg) == -1) {
		w->w_stopped = 1;
		errno = ECANCELED;
		return -1;
	}
	return 0;
}

/* Report an odd entry: where it is and what is wrong (printf format). */
static int
store_fs_odd(struct store_fs_walk *w, enum store_severity sev,
    const char *where, const char *fmt, ...)
{
	struct store_item it;
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	memset(&it, 0, sizeof(it));
	it.si_kind = STORE_ITEM_ODD;
	it.si_where = where;
	it.si_what = what;
	it.si_severity = sev;
	return store_fs_item(w, &it);
}

/* 1 when s[0..len) is exactly 64 lowercase hex digits. */
static int
store_fs_is_hex(const char *s, size_t len)
{
	size_t i;

	if (len != 64)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		        (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* 1 for a tag of the OCI grammar [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. */
static int
store_fs_is_tag(const char *s, size_t len)
{
	size_t i;
	char c;

	if (len == 0 || len > TAG_MAX_LEN || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < len; i++) {
		c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		        c == '-'))
			return 0;
	}
	return 1;
}

static int
store_fs_has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The last component of path. */
static const char *
store_fs_base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/*
 * store_fs_match: 1 when rel (below repositories/<name>/) matches
 * pattern, component by component ("*H" hex digest part, "*T" tag, "*"
 * any).
 */
static int
store_fs_match(const char *pattern, const char *rel)
{
	const char *p = pattern, *r = rel, *pe, *re;
	size_t plen, rlen;

	for (;;) {
		pe = strchr(p, '/');
		re = strchr(r, '/');
		plen = pe != NULL ? (size_t)(pe - p) : strlen(p);
		rlen = re != NULL ? (size_t)(re - r) : strlen(r);
		if (plen == 2 && memcmp(p, "*H", 2) == 0) {
			if (!store_fs_is_hex(r, rlen))
				return 0;
		} else if (plen == 2 && memcmp(p, "*T", 2) == 0) {
			if (!store_fs_is_tag(r, rlen))
				return 0;
		} else if (plen == 1 && p[0] == '*') {
			if (rlen == 0)
				return 0;
		} else if (plen != rlen || memcmp(p, r, plen) != 0)
			return 0;
		if (pe == NULL || re == NULL)
			return pe == NULL && re == NULL;
		p = pe + 1;
		r = re + 1;
	}
}

/*
 * store_fs_target: read dir/link into buf (size bytes) and describe it in
 * it: OK with the bytes, MISSING, or BAD with what is wrong (in buf).
 */
static int
store_fs_target(struct store_fs_walk *w, const char *dir, struct store_item *it,
    char *buf, size_t size)
{
	char path[PATH_MAX];
	size_t len;

	it->si_target = NULL;
	it->si_target_len = 0;
	if (store_path(path, sizeof(path), "%s/link", dir) == -1) {
		it->si_target_state = STORE_TARGET_BAD;
		it->si_what = "path too long";
		return 0;
	}
	if (store_read_small(w->w_store->s_fd, path, buf, size, &len, NULL) ==
	    0) {
		it->si_target_state = STORE_TARGET_OK;
		it->si_target = buf;
		it->si_target_len = len;
		return 0;
	}
	if (errno == ENOENT || errno == ENOTDIR) {
		it->si_target_state = STORE_TARGET_MISSING;
		return 0;
	}
	it->si_target_state = STORE_TARGET_BAD;
	if (errno == EINVAL || errno == EISDIR)
		it->si_what = "link is not a regular file";
	else {
		(void)snprintf(buf, size, "read link: %s", strerror(errno));
		it->si_what = buf;
	}
	return 0;
}

/*
 * store_fs_blobs_cb: one entry under blobs/. The layout is
 * blobs/sha256/<xx>/<hex>/data; registryd knows no other algorithm.
 */
static int
store_fs_blobs_cb(const char *path, enum store_entry kind, uint64_t size,
    void *arg)
{
	struct store_fs_walk *w = arg;
	struct store_item it;
	struct stat sb;
	const char *p, *base = store_fs_base(path);
	const char *comp[6];
	char where[80], digest[DIGEST_BUFSZ], data[PATH_MAX];
	size_t len[6], n = 0;

	(void)size;
	if (kind != STORE_ENTRY_DIR && store_fs_has_suffix(base, ".tmp"))
		return store_fs_odd(w, STORE_SEV_INFO, path,
		           "stray temporary file") == -1
		    ? -1
		    : 1;
	/* Split "blobs/a/b/c/d" (the walk never reports "blobs" itself). */
	for (p = path; n < 6;) {
		comp[n] = p;
		if ((p = strchr(p, '/')) == NULL) {
			len[n] = strlen(comp[n]);
			n++;
			break;
		}
		len[n] = (size_t)(p - comp[n]);
		n++;
		p++;
	}
	switch (n) {
	case 2:
		if (len[1] == 6 && memcmp(comp[1], "sha256", 6) == 0 &&
		    kind == STORE_ENTRY_DIR)
			return 0;
		return store_fs_odd(w, STORE_SEV_WARNING, path,
		           "unexpected entry (not checked)") == -1
		    ? -1
		    : 1;
	case 3:
		if (kind == STORE_ENTRY_DIR && len[2] == 2 &&
		    isxdigit((unsigned char)comp[2][0]) &&
		    isxdigit((unsigned char)comp[2][1]) &&
		    !isupper((unsigned char)comp[2][0]) &&
		    !isupper((unsigned char)comp[2][1]))
			return 0;
		return store_fs_odd(w, STORE_SEV_PROBLEM, path,
		           "unexpected entry") == -1
		    ? -1
		    : 1;
	case 4:
		if (kind != STORE_ENTRY_DIR ||
		    !store_fs_is_hex(comp[3], len[3]))
			return store_fs_odd(w, STORE_SEV_PROBLEM, path,
			           "unexpected entry") == -1
			    ? -1
			    : 1;
		(void)snprintf(where, sizeof(where), "blob sha256:%s", comp[3]);
		if (memcmp(comp[2], comp[3], 2) != 0)
			return store_fs_odd(w, STORE_SEV_PROBLEM, where,
			           "in fan-out directory %.2s, not %.2s",
			           comp[2], comp[3]) == -1
			    ? -1
			    : 1;
		if (store_path(data, sizeof(data), "%s/data", path) == -1)
			return 1;
		if (fstatat(w->w_store->s_fd, data, &sb, AT_SYMLINK_NOFOLLOW) ==
		    -1) {
			if (errno == ENOENT)
				return store_fs_odd(w, STORE_SEV_INFO, where,
				    "directory without data (interrupted "
				    "write)");
			return store_fs_odd(w, STORE_SEV_PROBLEM, where,
			    "open: %s", strerror(errno));
		}
		if (!S_ISREG(sb.st_mode))
			return store_fs_odd(w, STORE_SEV_PROBLEM, where,
			    "data is not a regular file");
		memset(&it, 0, sizeof(it));
		(void)snprintf(digest, sizeof(digest), "sha256:%s", comp[3]);
		it.si_kind = STORE_ITEM_BLOB;
		it.si_digest = digest;
		it.si_size = (uint64_t)sb.st_size;
		return store_fs_item(w, &it);
	case 5:
		if (strcmp(comp[4], "data") != 0 &&
		    store_fs_odd(w, STORE_SEV_WARNING, path,
		        "unexpected entry") == -1)
			return -1;
		return 1;
	default:
		return store_fs_odd(w, STORE_SEV_WARNING, path,
		           "unexpected entry") == -1
		    ? -1
		    : 1;
	}
}

/*
 * store_fs_repos_cb: one entry under repositories/. Components before
 * the first one starting with '_' form the repository name; what follows
 * must match the layout (store_fs_patterns).
 */
static int
store_fs_repos_cb(const char *path, enum store_entry kind, uint64_t size,
    void *arg)
{
	struct store_fs_walk *w = arg;
	const char *rel, *base = store_fs_base(path);
	char name[NAME_MAX_LEN + 1];
	size_t i, nlen;
	int r;

	(void)size;
	/*
	 * Temporary files are files ("<path>.<hex>.tmp"); a directory
	 * named *.tmp is a repository name component ("lib.tmp/app") or a
	 * tag ("v1.tmp"), both valid, and skipping it would hide what it
	 * holds from garbage collection, which would then free its blobs.
	 */
	if (kind != STORE_ENTRY_DIR && store_fs_has_suffix(base, ".tmp"))
		return store_fs_odd(w, STORE_SEV_INFO, path,
		           "stray temporary file") == -1
		    ? -1
		    : 1;
	rel = path + strlen("repositories/");
	/* Find "/_" starting a component after the name. */
	for (i = 0; rel[i] != '\0'; i++)
		if (rel[i] == '/' && rel[i + 1] == '_')
			break;
	if (rel[i] == '\0') {
		/* Still inside a name: directories only, no hidden ones. */
		if (kind == STORE_ENTRY_DIR && base[0] != '.' && base[0] != '_')
			return 0;
		return store_fs_odd(w, STORE_SEV_WARNING, path,
		           "unexpected entry") == -1
		    ? -1
		    : 1;
	}
	nlen = i;
	if (nlen > NAME_MAX_LEN)
		return store_fs_odd(w, STORE_SEV_WARNING, path,
		           "repository name too long") == -1
		    ? -1
		    : 1;
	memcpy(name, rel, nlen);
	name[nlen] = '\0';
	rel += nlen + 1;
	for (i = 0;
	     i < sizeof(store_fs_patterns) / sizeof(store_fs_patterns[0]);
	     i++) {
		if (!store_fs_match(store_fs_patterns[i].fp_path, rel))
			continue;
		if ((kind == STORE_ENTRY_DIR) != store_fs_patterns[i].fp_dir)
			return store_fs_odd(w, STORE_SEV_PROBLEM, path, "is %s",
			           store_fs_patterns[i].fp_dir
			               ? "not a directory"
			               : "not a regular file") == -1
			    ? -1
			    : 1;
		r = store_fs_repo_entry(w, path, name, &store_fs_patterns[i],
		    base);
		if (r == -1)
			return -1;
		return store_fs_patterns[i].fp_act == STORE_ACT_UPLOAD ? 1 : 0;
	}
	return store_fs_odd(w, STORE_SEV_WARNING, path, "unexpected entry") ==
	        -1
	    ? -1
	    : 1;
}

/* store_fs_repo_entry: report an entry of repository name that matched. */
static int
store_fs_repo_entry(struct store_fs_walk *w, const char *path, const char *name,
    const struct store_fs_pattern *fp, const char *base)
{
	struct store_item it;
	char digest[DIGEST_BUFSZ], tag[TAG_MAX_LEN + 1], cur[PATH_MAX];
	char buf[STORE_LINK_READ_MAX + 2], subject[DIGEST_BUFSZ];
	const char *t, *te;

	memset(&it, 0, sizeof(it));
	it.si_name = name;
	switch (fp->fp_act) {
	case STORE_ACT_ENTER:
	case STORE_ACT_LINK:
	case STORE_ACT_MARK:
		return 0;
	case STORE_ACT_REFERRER:
		/* ".../subjects/sha256/<subject hex>/<referrer hex>" */
		t = path + strlen(path) - strlen(base) - 1;
		if (t - path < 65 || t[-65] != '/')
			return 0;
		(void)snprintf(subject, sizeof(subject), "sha256:%.64s",
		    t - 64);
		(void)snprintf(digest, sizeof(digest), "sha256:%s", base);
		it.si_kind = STORE_ITEM_REFERRER;
		it.si_subject = subject;
		it.si_digest = digest;
		return store_fs_item(w, &it);
	case STORE_ACT_REPO:
		it.si_kind = STORE_ITEM_REPO;
		return store_fs_item(w, &it);
	case STORE_ACT_UPLOAD:
		it.si_kind = STORE_ITEM_UPLOAD;
		it.si_uuid = base;
		return store_fs_item(w, &it);
	case STORE_ACT_LAYER:
	case STORE_ACT_REVISION:
		it.si_kind = STORE_ITEM_LINK;
		it.si_link = fp->fp_act == STORE_ACT_LAYER
		    ? STORE_LINK_LAYER
		    : STORE_LINK_REVISION;
		(void)snprintf(digest, sizeof(digest), "sha256:%s", base);
		it.si_digest = digest;
		(void)store_fs_target(w, path, &it, buf, sizeof(buf));
		return store_fs_item(w, &it);
	case STORE_ACT_INDEX:
		/* ".../_manifests/tags/<tag>/index/sha256/<hex>" */
		if ((t = strstr(path, "/_manifests/tags/")) == NULL)
			return 0;
		t += strlen("/_manifests/tags/");
		if ((te = strchr(t, '/')) == NULL ||
		    (size_t)(te - t) >= sizeof(tag))
			return 0;
		memcpy(tag, t, (size_t)(te - t));
		tag[te - t] = '\0';
		it.si_kind = STORE_ITEM_TAG_INDEX;
		it.si_tag = tag;
		(void)snprintf(digest, sizeof(digest), "sha256:%s", base);
		it.si_digest = digest;
		(void)store_fs_target(w, path, &it, buf, sizeof(buf));
		return store_fs_item(w, &it);
	case STORE_ACT_TAG:
		it.si_kind = STORE_ITEM_TAG;
		it.si_tag = base;
		if (store_path(cur, sizeof(cur), "%s/current", path) == -1)
			return 0;
		(void)store_fs_target(w, cur, &it, buf, sizeof(buf));
		return store_fs_item(w, &it);
	}
	return 0;
}

/*
 * store_fs_walk: blobs/ then repositories/, each in strcmp order, as
 * store items (see store.h).
 */
static int
store_fs_walk(struct store *st, int (*cb)(const struct store_item *, void *),
    void *arg)
{
	struct store_fs_walk w;
	char path[PATH_MAX];
	int saved;

	w.w_store = (struct store_fs *)st;
	w.w_cb = cb;
	w.w_arg = arg;
	w.w_stopped = 0;
	(void)util_strlcpy(path, "blobs", sizeof(path));
	if (store_tree_dir(w.w_store, path, sizeof(path), 0, store_fs_blobs_cb,
	        &w) == -1) {
		if (w.w_stopped)
			return -1;
		saved = errno;
		if (store_fs_odd(&w, STORE_SEV_PROBLEM, "blobs", "walk: %s",
		        strerror(saved)) == -1)
			return -1;
	}
	(void)util_strlcpy(path, "repositories", sizeof(path));
	if (store_tree_dir(w.w_store, path, sizeof(path), 0, store_fs_repos_cb,
	        &w) == -1) {
		if (w.w_stopped)
			return -1;
		saved = errno;
		if (store_fs_odd(&w, STORE_SEV_PROBLEM, "repositories",
		        "walk: %s", strerror(saved)) == -1)
			return -1;
	}
	return 0;
}

/* ---- when things were last used ---- */

/*
 * store_fs_touch: set the times of path (a blob's data or a link file) to
 * now; ENOENT when it is missing. The symlink itself, if one was planted,
 * never what it points to.
 */
static int
store_fs_touch(struct store_fs *s, const char *path)
{
	if (utimensat(s->s_fd, path, NULL, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOTDIR)
			errno = ENOENT;
		return -1;
	}
	return 0;
}

/* store_fs_mtime: the modification time of regular file path. */
static int
store_fs_mtime(struct store_fs *s, const char *path, struct timespec *ts)
{
	struct stat sb;

	if (fstatat(s->s_fd, path, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOTDIR)
			errno = ENOENT;
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		errno = ENOENT;
		return -1;
	}
	*ts = sb.st_mtim;
	return 0;
}

/* store_blob_used: the mtime of the blob's data file. */
static int
store_fs_blob_used(struct store *st, const char *digest, struct timespec *ts)
{
	struct store_fs *s = (struct store_fs *)st;
	char path[PATH_MAX];

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_blob_path(digest, "/data", path, sizeof(path)) == -1)
		return -1;
	return store_fs_mtime(s, path, ts);
}

/*
 * store_link_used: the mtime of the link file (registry:2 rewrites a
 * link it links again, so its own writes count too).
 */
static int
store_fs_link_used(struct store *st, const char *name, enum store_link kind,
    const char *digest, struct timespec *ts)
{
	struct store_fs *s = (struct store_fs *)st;
	char path[PATH_MAX];

	if (!store_name_ok(name) || !store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_link_path(name, kind, digest, "/link", path, sizeof(path)) ==
	    -1)
		return -1;
	return store_fs_mtime(s, path, ts);
}

/*
 * store_link_touch: utimensat of the link file, then of the blob's data:
 * no write, no fsync, a metadata update the loop can afford. Always
 * written, fresh or not: a push's touch before its check is what another
 * process's sweep reads (store.h).
 */
static int
store_fs_link_touch(struct store *st, const char *name, enum store_link kind,
    const char *digest)
{
	struct store_fs *s = (struct store_fs *)st;
	char path[PATH_MAX], data[PATH_MAX];

	if (!store_name_ok(name) || !store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_link_path(name, kind, digest, "/link", path, sizeof(path)) ==
	        -1 ||
	    store_blob_path(digest, "/data", data, sizeof(data)) == -1)
		return -1;
	if (store_fs_touch(s, path) == -1)
		return -1;
	return store_fs_touch(s, data);
}

/*
 * store_link_use: store_link_exists and store_link_touch with the system
 * calls of the first (bench row 5b: a HEAD of a layer). The link's mtime
 * comes with reading it, the data's with the stat that finds it, taken of
 * the file itself as the collector reads it: a symlink planted in the
 * tree goes the long way (store_fs_link_exists, then the touch).
 */
static int
store_fs_link_use(struct store *st, const char *name, enum store_link kind,
    const char *digest)
{
	struct store_fs *s = (struct store_fs *)st;
	char path[PATH_MAX], data[PATH_MAX], got[DIGEST_BUFSZ];
	struct timespec lt, now;
	struct stat sb;
	int rc;

	if (!store_name_ok(name) || !store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_link_path(name, kind, digest, "/link", path, sizeof(path)) ==
	        -1 ||
	    store_blob_path(digest, "/data", data, sizeof(data)) == -1)
		return -1;
	if (store_link_read_mtime(s, path, got, &lt) == -1)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	if (strcmp(got, digest) != 0) {
		log_warnx("%s: %s: names %s", __func__, path, got);
		return 0;
	}
	if (fstatat(s->s_fd, data, &sb, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	if (!S_ISREG(sb.st_mode)) {
		if ((rc = store_fs_link_exists(st, name, kind, digest)) == 1)
			(void)store_fs_link_touch(st, name, kind, digest);
		return rc;
	}
	(void)clock_gettime(CLOCK_REALTIME, &now);
	if (!store_touch_fresh(&lt, &now))
		(void)store_fs_touch(s, path);
	if (!store_touch_fresh(&sb.st_mtim, &now))
		(void)store_fs_touch(s, data);
	return 1;
}

/* ---- the driver ---- */

/* A read probe: the v2 directory opened anew and listed. */
static int
store_fs_probe_read(struct store_fs *s)
{
	struct dirent *de;
	DIR *d;
	int fd, r, saved;

	if ((fd = openat(s->s_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	while ((r = store_readdir(d, &de)) == 1)
		continue;
	saved = errno;
	(void)closedir(d);
	errno = saved;
	return r;
}

/*
 * store_probe: one byte written to an unnamed file in the v2 directory
 * (O_TMPFILE: nothing to clean up, even after a crash); where the file
 * system has no O_TMPFILE, a named one removed at once. The write, not
 * the open, is what finds a full disk. A read probe lists the v2
 * directory: a file system that went away (EIO, a stale NFS handle)
 * fails it.
 */
static int
store_fs_probe(struct store *st, enum store_probe_kind kind)
{
	struct store_fs *s = (struct store_fs *)st;
	char tmp[64];
	unsigned char rnd[8];
	int fd, saved;

	if (kind == STORE_PROBE_READ)
		return store_fs_probe_read(s);
	fd = openat(s->s_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd == -1 &&
	    (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -1;
		(void)snprintf(tmp, sizeof(tmp),
		    ".probe.%02x%02x%02x%02x%02x%02x%02x%02x.tmp", rnd[0],
		    rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
		fd = openat(s->s_fd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd != -1)
			(void)unlinkat(s->s_fd, tmp, 0);
	}
	if (fd == -1)
		return -1;
	if (store_write_all(fd, "", 1) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

static const struct store_ops store_fs_ops = {
    .so_name = "filesystem",
    .so_close = store_fs_close,
    .so_cheap = store_fs_cheap,
    .so_blob_stat = store_fs_blob_stat,
    .so_blob_open = store_fs_blob_open,
    .so_reader_read = store_fs_reader_read,
    .so_reader_close = store_fs_reader_close,
    .so_blob_write = store_fs_blob_write,
    .so_blob_delete = store_fs_blob_delete,
    .so_link_exists = store_fs_link_exists,
    .so_link_write = store_fs_link_write,
    .so_link_delete = store_fs_link_delete,
    .so_link_list = store_fs_link_list,
    .so_tag_get = store_fs_tag_get,
    .so_tag_set = store_fs_tag_set,
    .so_tag_delete = store_fs_tag_delete,
    .so_tag_list = store_fs_tag_list,
    .so_tag_list_max = store_fs_tag_list_max,
    .so_repo_exists = store_fs_repo_exists,
    .so_repo_list = store_fs_repo_list,
    .so_upload_create = store_fs_upload_create,
    .so_upload_resume = store_fs_upload_resume,
    .so_writer_append = store_fs_writer_append,
    .so_writer_truncate = store_fs_writer_truncate,
    .so_writer_idle = store_fs_writer_idle,
    .so_writer_hash = store_fs_writer_hash,
    .so_writer_stat = store_fs_writer_stat,
    .so_writer_commit = store_fs_writer_commit,
    .so_writer_abort = store_fs_writer_abort,
    .so_writer_free = store_fs_writer_free,
    .so_upload_purge = store_fs_upload_purge,
    .so_referrer_put = store_fs_referrer_put,
    .so_referrer_get = store_fs_referrer_get,
    .so_referrer_list = store_fs_referrer_list,
    .so_referrer_delete = store_fs_referrer_delete,
    .so_referrer_stale = store_fs_referrer_stale,
    .so_walk = store_fs_walk,
    .so_blob_used = store_fs_blob_used,
    .so_link_used = store_fs_link_used,
    .so_link_touch = store_fs_link_touch,
    .so_link_use = store_fs_link_use,
    .so_probe = store_fs_probe,
};
