/*
 * store.c: the storage interface and its filesystem driver.
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
 * struct store keeps an O_DIRECTORY fd of <root>/docker/registry/v2 and
 * every access goes through the *at() syscalls with relative paths, so
 * nothing depends on the working directory. The struct is read-only after
 * store_open, which is what lets the loop and the worker threads share it
 * without a lock.
 */

#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "digest.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define STORE_V2            "docker/registry/v2"
#define STORE_LINK_READ_MAX 128           /* longer links are garbage */
#define STORE_HASH_CHUNK    (1024 * 1024) /* store_upload_hash reads */
#define STORE_STARTEDAT_MAX 64            /* startedat bytes read */
/* A name of NAME_MAX_LEN bytes has at most this many components. */
#define STORE_WALK_DEPTH    (NAME_MAX_LEN / 2 + 1)
/* Deepest tree store_rmtree removes (a tag dir is 5 levels deep). */
#define STORE_RMTREE_DEPTH  16

/* A growing array of malloc'd strings, handed out as char ** + count. */
struct store_list {
	char **sl_v;
	size_t sl_n;
	size_t sl_cap;
};

struct store {
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
};

static int store_path(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static int store_name_ok(const char *);
static int store_tag_ok(const char *);
static int store_uuid_ok(const char *);
static int store_digest_ok(const char *);
static int store_dirname(const char *, char *, size_t);
static int store_isdir(int, const char *);
static int store_fsync_dir(int, const char *);
static int store_mkdirs(int, const char *, int);
static int store_write_all(int, const void *, size_t);
static int
store_write_atomic(struct store *, const char *, const void *, size_t);
static int store_read_small(int, const char *, char *, size_t, size_t *);
static int store_link_read(struct store *, const char *, char[DIGEST_BUFSZ]);
static int store_blob_path(const char *, const char *, char *, size_t);
static int store_link_path(const char *, enum store_link, const char *,
    const char *, char *, size_t);
static int store_upload_dir(const char *, const char *, char *, size_t);
static int store_readdir(DIR *, struct dirent **);
static int store_entry_isdir(int, const struct dirent *);
static int store_rmtree(int, const char *, int);
static int store_list_add(struct store_list *, const char *);
static int store_list_copy(const struct store_list *, struct store_list *);
static struct store *store_open_mode(const char *, int, char *, size_t);
static void
store_list_sort(struct store_list *, int (*)(const void *, const void *));
static int store_strcmp_cb(const void *, const void *);
static int store_repo_cmp_cb(const void *, const void *);
static int store_walk(int, char *, size_t, int,
    int (*)(int, const char *, void *), void *);
static int store_repo_list_cb(int, const char *, void *);
static int store_parse_rfc3339(const char *, time_t *);
static int store_purge_cb(int, const char *, void *);

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

/*
 * The router validates names, tags, digests and uuids against the OCI
 * grammar. The checks below are a second line that only guarantees a
 * value cannot step outside its place in the tree ("..", "/", "_layers").
 */
static int
store_name_ok(const char *name)
{
	size_t len, i;

	len = strnlen(name, NAME_MAX_LEN + 1);
	if (len == 0 || len > NAME_MAX_LEN || name[len - 1] == '/')
		return 0;
	for (i = 0; i < len; i++) {
		if (i > 0 && name[i - 1] != '/')
			continue;
		/* Components are non-empty, not hidden, not reserved. */
		if (name[i] == '/' || name[i] == '.' || name[i] == '_')
			return 0;
	}
	return 1;
}

static int
store_tag_ok(const char *tag)
{
	size_t len;

	len = strnlen(tag, TAG_MAX_LEN + 1);
	if (len == 0 || len > TAG_MAX_LEN || tag[0] == '.' ||
	    memchr(tag, '/', len) != NULL)
		return 0;
	return 1;
}

static int
store_uuid_ok(const char *uuid)
{
	size_t len, i;

	len = strnlen(uuid, UUID_LEN + 1);
	if (len == 0 || len > UUID_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)uuid[i]) && uuid[i] != '-')
			return 0;
	return 1;
}

static int
store_digest_ok(const char *digest)
{
	return digest_is_valid(digest, strnlen(digest, DIGEST_BUFSZ));
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

/* store_fsync_dir: make the entries of directory path durable. */
static int
store_fsync_dir(int dfd, const char *path)
{
	int fd, saved;

	fd = openat(dfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if (fsync(fd) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

/*
 * store_mkdirs: mkdir -p path relative to dfd, directories 0777 (the umask
 * applies, as in distribution). With durable, the parent of each directory
 * created here is fsync'd so the new entry survives a crash; the caller
 * still syncs the last directory after putting something in it.
 */
static int
store_mkdirs(int dfd, const char *path, int durable)
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
			if (durable &&
			    (store_dirname(buf, parent, sizeof(parent)) == -1 ||
			        store_fsync_dir(dfd, parent) == -1))
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
 * PutContent does the same; readers ignore *.tmp).
 */
static int
store_write_atomic(struct store *s, const char *path, const void *buf,
    size_t len)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	unsigned char rnd[8];
	ssize_t got;
	int fd, saved;

	if (store_dirname(path, dir, sizeof(dir)) == -1 ||
	    store_mkdirs(s->s_fd, dir, 1) == -1)
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
	if (store_write_all(fd, buf, len) == -1 || fsync(fd) == -1) {
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
	return store_fsync_dir(s->s_fd, dir);
fail:
	(void)unlinkat(s->s_fd, tmp, 0);
	errno = saved;
	return -1;
}

/*
 * store_read_small: read at most size - 1 bytes of a small regular file
 * (link, startedat) and NUL-terminate them. O_NONBLOCK keeps a FIFO planted
 * in the tree from blocking the open; it has no effect on regular files.
 */
static int
store_read_small(int dfd, const char *path, char *buf, size_t size, size_t *len)
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
store_link_read(struct store *s, const char *path, char digest[DIGEST_BUFSZ])
{
	char buf[STORE_LINK_READ_MAX + 1];
	size_t len;

	if (store_read_small(s->s_fd, path, buf, sizeof(buf), &len) == -1) {
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

static int
store_list_add(struct store_list *l, const char *str)
{
	char **v;
	size_t cap;

	if (l->sl_n == l->sl_cap) {
		cap = l->sl_cap ? l->sl_cap * 2 : 16;
		if (cap > SIZE_MAX / sizeof(*v)) {
			errno = ENOMEM;
			return -1;
		}
		if ((v = realloc(l->sl_v, cap * sizeof(*v))) == NULL)
			return -1;
		l->sl_v = v;
		l->sl_cap = cap;
	}
	if ((l->sl_v[l->sl_n] = strdup(str)) == NULL)
		return -1;
	l->sl_n++;
	return 0;
}

static int
store_strcmp_cb(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
store_repo_cmp_cb(const void *a, const void *b)
{
	return store_repo_cmp(*(char *const *)a, *(char *const *)b);
}

static void
store_list_sort(struct store_list *l, int (*cmp)(const void *, const void *))
{
	if (l->sl_n > 1)
		qsort(l->sl_v, l->sl_n, sizeof(*l->sl_v), cmp);
}

/*
 * store_list_free: free a list returned by store_link_list, store_tag_list
 * or store_repo_list. NULL is a no-op.
 */
void
store_list_free(char **list, size_t n)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* ---- open / close ---- */

/*
 * store_open: use root as the storage root, creating root/docker/registry/v2
 * (mkdir -p) when missing. Returns a store the caller owns (store_close),
 * or NULL with a message in err.
 */
struct store *
store_open(const char *root, char *err, size_t errlen)
{
	return store_open_mode(root, 1, err, errlen);
}

/*
 * Open root/docker/registry/v2: with writable, create it when missing and
 * require write access now rather than at the first push; without, create
 * nothing and only read (fsck on a read-only mount).
 */
static struct store *
store_open_mode(const char *root, int writable, char *err, size_t errlen)
{
	struct store *s;
	char v2[PATH_MAX];

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->s_fd = -1;
	pthread_mutex_init(&s->s_tags_lock, NULL);
	if (root == NULL || root[0] == '\0' ||
	    util_strlcpy(s->s_root, root, sizeof(s->s_root)) >=
	        sizeof(s->s_root) ||
	    store_path(v2, sizeof(v2), "%s/%s", root, STORE_V2) == -1) {
		snprintf(err, errlen, "storage root: invalid or too long");
		goto fail;
	}
	if (writable && store_mkdirs(AT_FDCWD, v2, 0) == -1) {
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
	return s;
fail:
	store_close(s);
	return NULL;
}

/* store_close: release the store; NULL is a no-op. */
void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->s_fd != -1)
		(void)close(s->s_fd);
	store_list_free(s->s_tags.sl_v, s->s_tags.sl_n);
	pthread_mutex_destroy(&s->s_tags_lock);
	free(s);
}

/* store_root: the root directory as configured (owned by the store). */
const char *
store_root(const struct store *s)
{
	return s->s_root;
}

/* ---- blobs ---- */

/*
 * store_blob_stat: 0 and *size when blobs/sha256/xx/<hex>/data is a
 * regular file; -1 with ENOENT when not.
 */
int
store_blob_stat(struct store *s, const char *digest, uint64_t *size)
{
	char path[PATH_MAX];
	struct stat st;

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_blob_path(digest, "/data", path, sizeof(path)) == -1)
		return -1;
	if (fstatat(s->s_fd, path, &st, 0) == -1) {
		if (errno == ENOTDIR)
			errno = ENOENT;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s: %s: not a regular file", __func__, path);
		errno = ENOENT;
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

/*
 * store_blob_open: a read-only fd of the blob data (the caller closes it)
 * and its size. -1 with ENOENT when the blob does not exist.
 */
int
store_blob_open(struct store *s, const char *digest, uint64_t *size)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, saved;

	if (!store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_blob_path(digest, "/data", path, sizeof(path)) == -1)
		return -1;
	/* O_NONBLOCK only guards against a FIFO; regular files ignore it. */
	fd =
	    openat(s->s_fd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOTDIR)
			errno = ENOENT;
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s: %s: not a regular file", __func__, path);
		(void)close(fd);
		errno = ENOENT;
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

/*
 * store_blob_read: the whole blob into *buf (malloc'd, caller frees; one
 * extra NUL byte is appended for the convenience of text parsers) and its
 * length. EFBIG when it is larger than max.
 */
int
store_blob_read(struct store *s, const char *digest, size_t max, char **buf,
    size_t *len)
{
	uint64_t size;
	size_t got = 0;
	ssize_t n;
	char *p;
	int fd, saved;

	*buf = NULL;
	*len = 0;
	if ((fd = store_blob_open(s, digest, &size)) == -1)
		return -1;
	if (size > max || size >= SIZE_MAX) {
		(void)close(fd);
		errno = EFBIG;
		return -1;
	}
	if ((p = malloc((size_t)size + 1)) == NULL)
		goto fail;
	while (got < size) {
		n = pread(fd, p + got, (size_t)size - got, (off_t)got);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0) {
			/* Blobs never shrink; this one was tampered with. */
			errno = EIO;
			goto fail;
		}
		got += (size_t)n;
	}
	p[got] = '\0';
	(void)close(fd);
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
 * store_blob_write: store buf as blob digest (already verified by the
 * caller), atomically and durably. Blobs are content-addressed, so an
 * existing one is never rewritten (distribution's moveBlob does the same).
 */
int
store_blob_write(struct store *s, const char *digest, const void *buf,
    size_t len)
{
	char path[PATH_MAX];
	uint64_t size;

	if (store_blob_stat(s, digest, &size) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	if (store_blob_path(digest, "/data", path, sizeof(path)) == -1)
		return -1;
	return store_write_atomic(s, path, buf, len);
}

/* ---- repository links ---- */

/*
 * store_link_exists: 1 when name has the link, it names digest, and the
 * blob data exists (distribution's blob access check); 0 when not; -1 on
 * an I/O error.
 */
int
store_link_exists(struct store *s, const char *name, enum store_link kind,
    const char *digest)
{
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
	if (store_blob_stat(s, digest, &size) == -1)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	return 1;
}

/*
 * store_link_write: create the link (atomic, durable). Idempotent: a link
 * that already holds digest is left alone, which saves the fsyncs.
 */
int
store_link_write(struct store *s, const char *name, enum store_link kind,
    const char *digest)
{
	char path[PATH_MAX], got[DIGEST_BUFSZ];

	if (!store_name_ok(name) || !store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_link_path(name, kind, digest, "/link", path, sizeof(path)) ==
	    -1)
		return -1;
	if (store_link_read(s, path, got) == 0 && strcmp(got, digest) == 0)
		return 0;
	/* distribution writes []byte(dgst): no trailing newline. */
	return store_write_atomic(s, path, digest, strlen(digest));
}

/* store_link_delete: remove the link's directory; ENOENT when absent. */
int
store_link_delete(struct store *s, const char *name, enum store_link kind,
    const char *digest)
{
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
int
store_link_list(struct store *s, const char *name, enum store_link kind,
    char ***digests, size_t *n)
{
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
	store_list_sort(&l, store_strcmp_cb);
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
int
store_tag_get(struct store *s, const char *name, const char *tag,
    char digest[DIGEST_BUFSZ])
{
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
int
store_tag_set(struct store *s, const char *name, const char *tag,
    const char *digest)
{
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
int
store_tag_delete(struct store *s, const char *name, const char *tag)
{
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
 * store_tag_list: names of the directories under _manifests/tags that
 * have a current/link, sorted by strcmp, as a malloc'd array
 * (store_list_free). ENOENT when the repository has no _manifests.
 */
int
store_tag_list(struct store *s, const char *name, char ***tags, size_t *n)
{
	struct store_list l = {NULL, 0, 0};
	struct dirent *de;
	struct stat st;
	char path[PATH_MAX];
	DIR *d;
	int mfd, fd, r, saved;

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
	if (fstat(fd, &st) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	pthread_mutex_lock(&s->s_tags_lock);
	if (strcmp(s->s_tags_name, name) == 0 && s->s_tags_ino == st.st_ino &&
	    s->s_tags_mtime.tv_sec == st.st_mtim.tv_sec &&
	    s->s_tags_mtime.tv_nsec == st.st_mtim.tv_nsec) {
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
	store_list_sort(&l, store_strcmp_cb);
	pthread_mutex_lock(&s->s_tags_lock);
	store_list_free(s->s_tags.sl_v, s->s_tags.sl_n);
	memset(&s->s_tags, 0, sizeof(s->s_tags));
	s->s_tags_name[0] = '\0';
	if (store_list_copy(&l, &s->s_tags) == 0) {
		util_strlcpy(s->s_tags_name, name, sizeof(s->s_tags_name));
		s->s_tags_ino = st.st_ino;
		s->s_tags_mtime = st.st_mtim;
	}
	pthread_mutex_unlock(&s->s_tags_lock);
	*tags = l.sl_v;
	*n = l.sl_n;
	return 0;
}

/* Copy a list (strings too) into an empty one. 0, or -1 (ENOMEM). */
static int
store_list_copy(const struct store_list *from, struct store_list *to)
{
	size_t i;

	memset(to, 0, sizeof(*to));
	for (i = 0; i < from->sl_n; i++)
		if (store_list_add(to, from->sl_v[i]) == -1) {
			store_list_free(to->sl_v, to->sl_n);
			memset(to, 0, sizeof(*to));
			return -1;
		}
	return 0;
}

/* ---- repositories ---- */

/* store_repo_exists: 1 when repositories/<name>/_manifests is a directory. */
int
store_repo_exists(struct store *s, const char *name)
{
	char path[PATH_MAX];

	if (!store_name_ok(name) ||
	    store_path(path, sizeof(path), "repositories/%s/_manifests",
	        name) == -1)
		return 0;
	return store_isdir(s->s_fd, path);
}

/*
 * store_repo_cmp: distribution's lessPath order: byte order with '/'
 * sorting before every other byte, which is the same as comparing the
 * names component by component with strcmp, a prefix first. So "a/b"
 * sorts before "a-b" although '-' < '/' in ASCII.
 */
int
store_repo_cmp(const char *a, const char *b)
{
	const unsigned char *p = (const unsigned char *)a;
	const unsigned char *q = (const unsigned char *)b;
	int ca, cb;

	for (; *p != '\0' && *q != '\0'; p++, q++) {
		ca = *p == '/' ? 0 : *p;
		cb = *q == '/' ? 0 : *q;
		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
	if (*p == *q)
		return 0;
	return *p == '\0' ? -1 : 1;
}

/*
 * store_walk: call cb for the directory fd (named name relative to
 * repositories/, "" at the top, where cb is not called) and recurse into
 * its subdirectories. Components starting with '_' (_layers, _manifests,
 * _uploads) or '.' are never entered, nor are symlinks (O_NOFOLLOW), so
 * the walk stays inside the tree; depth and name length are capped by the
 * repository name grammar. Takes ownership of fd.
 */
static int
store_walk(int fd, char *name, size_t size, int depth,
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
		r = store_walk(sub, name, size, depth + 1, cb, arg);
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
int
store_repo_list(struct store *s, char ***names, size_t *n)
{
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
	if (store_walk(fd, name, sizeof(name), 0, store_repo_list_cb, &l) ==
	    -1) {
		saved = errno;
		store_list_free(l.sl_v, l.sl_n);
		errno = saved;
		return -1;
	}
	store_list_sort(&l, store_repo_cmp_cb);
	*names = l.sl_v;
	*n = l.sl_n;
	return 0;
}

/* ---- uploads ---- */

/*
 * store_upload_create: make _uploads/<uuid> with startedat and an empty
 * data file. Returns an fd open for appending to data (the caller owns
 * it), or -1. startedat is not synced: it only matters for purging, and a
 * lost one falls back to the directory's mtime.
 */
int
store_upload_create(struct store *s, const char *name, const char *uuid)
{
	char dir[PATH_MAX], path[PATH_MAX], now[32];
	int fd, saved;

	if (!store_name_ok(name) || !store_uuid_ok(uuid)) {
		errno = EINVAL;
		return -1;
	}
	if (store_upload_dir(name, uuid, dir, sizeof(dir)) == -1 ||
	    store_mkdirs(s->s_fd, dir, 0) == -1)
		return -1;
	util_rfc3339(time(NULL), now, sizeof(now));
	if (store_path(path, sizeof(path), "%s/startedat", dir) == -1)
		goto fail;
	fd = openat(s->s_fd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0666);
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
	fd = openat(s->s_fd, path,
	    O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0666);
	if (fd == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	(void)store_rmtree(s->s_fd, dir, 0);
	errno = saved;
	return -1;
}

/*
 * store_upload_open: reopen an upload for appending; *size is its length.
 * registry:2 creates data only at the first PATCH, so an upload directory
 * with a startedat but no data gets an empty one. ENOENT when unknown.
 */
int
store_upload_open(struct store *s, const char *name, const char *uuid,
    uint64_t *size)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct stat st;
	int fd, saved;

	if (!store_name_ok(name) || !store_uuid_ok(uuid)) {
		errno = EINVAL;
		return -1;
	}
	if (store_upload_dir(name, uuid, dir, sizeof(dir)) == -1 ||
	    store_path(path, sizeof(path), "%s/data", dir) == -1)
		return -1;
	fd = openat(s->s_fd, path,
	    O_WRONLY | O_APPEND | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT) {
		if (store_path(path, sizeof(path), "%s/startedat", dir) == -1)
			return -1;
		if (fstatat(s->s_fd, path, &st, 0) == -1) {
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
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s: %s: not a regular file", __func__, path);
		errno = ENOENT;
		goto fail;
	}
	/* Regular files ignore O_NONBLOCK; clear it all the same. */
	if (fcntl(fd, F_SETFL, O_APPEND) == -1)
		goto fail;
	*size = (uint64_t)st.st_size;
	return fd;
fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

/*
 * store_upload_append: write all of buf at the end of the upload data fd,
 * whose size before the write is offset. Each time the data crosses an
 * UPLOAD_WRITEBACK_BYTES boundary, writeback of the window just finished
 * is started, and the window before it is waited for; so the dirty pages
 * of an upload stay under two windows and the final fdatasync is short.
 * On error the file is truncated back to offset and -1 is returned with
 * the write's errno.
 */
int
store_upload_append(int fd, uint64_t offset, const void *buf, size_t len)
{
	const uint64_t w = UPLOAD_WRITEBACK_BYTES;
	uint64_t end, k;
	int saved;

	if (offset > (uint64_t)INT64_MAX ||
	    len > (uint64_t)INT64_MAX - offset) {
		errno = EFBIG;
		return -1;
	}
	if (store_write_all(fd, buf, len) == -1) {
		saved = errno;
		if (ftruncate(fd, (off_t)offset) == -1)
			log_warn("%s: ftruncate", __func__);
		errno = saved;
		return -1;
	}
	end = offset + len;
	/*
	 * Window k - 1 is [(k - 1) * w, k * w). Failures are ignored: the
	 * writeback is a hint, and fdatasync at commit reports real errors.
	 */
	for (k = offset / w + 1; k * w <= end; k++) {
		if (k >= 2)
			(void)sync_file_range(fd, (off_t)((k - 2) * w),
			    (off_t)w, SYNC_FILE_RANGE_WAIT_BEFORE);
		(void)sync_file_range(fd, (off_t)((k - 1) * w), (off_t)w,
		    SYNC_FILE_RANGE_WRITE);
	}
	return 0;
}

/*
 * store_upload_truncate: cut the upload data fd back to size bytes, so a
 * failed request leaves nothing behind (upload_write). 0, or -1 with
 * errno.
 */
int
store_upload_truncate(int fd, uint64_t size)
{
	int r;

	if (size > (uint64_t)INT64_MAX) {
		errno = EINVAL;
		return -1;
	}
	do
		r = ftruncate(fd, (off_t)size);
	while (r == -1 && errno == EINTR);
	return r;
}

/*
 * store_upload_commit: make the upload's data blob digest: fdatasync the
 * data, rename it to blobs/sha256/xx/<hex>/data (or leave the existing
 * blob alone: same digest, same bytes), fsync the blob directory, write
 * the layer link, remove the upload directory. Two commits of the same
 * blob may race: rename(2) onto an existing file is atomic and both carry
 * the same bytes. fd is not closed. Runs on a worker thread.
 */
int
store_upload_commit(struct store *s, const char *name, const char *uuid, int fd,
    const char *digest)
{
	char updir[PATH_MAX], src[PATH_MAX], bdir[PATH_MAX], dst[PATH_MAX];
	struct stat st;

	if (!store_name_ok(name) || !store_uuid_ok(uuid) ||
	    !store_digest_ok(digest)) {
		errno = EINVAL;
		return -1;
	}
	if (store_upload_dir(name, uuid, updir, sizeof(updir)) == -1 ||
	    store_path(src, sizeof(src), "%s/data", updir) == -1 ||
	    store_blob_path(digest, "", bdir, sizeof(bdir)) == -1 ||
	    store_path(dst, sizeof(dst), "%s/data", bdir) == -1)
		return -1;
	if (fdatasync(fd) == -1)
		return -1;
	if (store_mkdirs(s->s_fd, bdir, 1) == -1)
		return -1;
	if (fstatat(s->s_fd, dst, &st, 0) == -1 || !S_ISREG(st.st_mode)) {
		if (renameat(s->s_fd, src, s->s_fd, dst) == -1)
			return -1;
		if (store_fsync_dir(s->s_fd, bdir) == -1)
			return -1;
	}
	if (store_link_write(s, name, STORE_LINK_LAYER, digest) == -1)
		return -1;
	/* The blob is safe now; a leftover upload dir is only litter. */
	if (store_rmtree(s->s_fd, updir, 0) == -1)
		log_warn("%s: remove %s", __func__, updir);
	return 0;
}

/*
 * store_upload_hash: SHA-256 of the upload's data, read in 1 MiB chunks,
 * for a session whose running hash was lost. Runs on a worker thread.
 */
int
store_upload_hash(struct store *s, const char *name, const char *uuid,
    char digest[DIGEST_BUFSZ])
{
	struct digest_ctx *ctx = NULL;
	char path[PATH_MAX];
	char *buf = NULL;
	ssize_t n;
	int fd, rv = -1, saved;

	if (!store_name_ok(name) || !store_uuid_ok(uuid)) {
		errno = EINVAL;
		return -1;
	}
	if (store_path(path, sizeof(path), "repositories/%s/_uploads/%s/data",
	        name, uuid) == -1)
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

/* store_upload_remove: rm -rf _uploads/<uuid>; ENOENT when absent. */
int
store_upload_remove(struct store *s, const char *name, const char *uuid)
{
	char dir[PATH_MAX];

	if (!store_name_ok(name) || !store_uuid_ok(uuid)) {
		errno = EINVAL;
		return -1;
	}
	if (store_upload_dir(name, uuid, dir, sizeof(dir)) == -1)
		return -1;
	return store_rmtree(s->s_fd, dir, 0);
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
		if (store_read_small(dirfd(d), path, buf, sizeof(buf), &len) ==
		        -1 ||
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
 * failing that its directory's mtime, is older than max_age seconds.
 * Returns how many were removed, or -1. Runs on a worker thread.
 */
int
store_upload_purge(struct store *s, time_t max_age)
{
	struct store_purge sp;
	char name[NAME_MAX_LEN + 1];
	int fd;

	sp.sp_now = time(NULL);
	sp.sp_max_age = max_age < 0 ? 0 : max_age;
	sp.sp_removed = 0;
	fd =
	    openat(s->s_fd, "repositories", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	name[0] = '\0';
	if (store_walk(fd, name, sizeof(name), 0, store_purge_cb, &sp) == -1)
		return -1;
	return sp.sp_removed;
}

/* ---- raw tree access (fsck) ---- */

/* One level of a store_tree_walk: the sorted entries of a directory. */
static int store_relpath_ok(const char *);
static int store_tree_dir(struct store *, char *, size_t, int,
    int (*)(const char *, enum store_entry, uint64_t, void *), void *);

/*
 * store_relpath_ok: path stays inside the v2 directory: relative, no
 * empty, "." or ".." component.
 */
static int
store_relpath_ok(const char *path)
{
	const char *p = path, *slash;
	size_t len;

	if (*p == '\0' || *p == '/')
		return 0;
	for (;;) {
		slash = strchr(p, '/');
		len = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (slash == NULL)
			return 1;
		p = slash + 1;
	}
}

/*
 * store_open_readonly: open root/docker/registry/v2 for reading only:
 * nothing is created and write access is not required. The caller owns
 * the result (store_close), or NULL with a message in err.
 */
struct store *
store_open_readonly(const char *root, char *err, size_t errlen)
{
	return store_open_mode(root, 0, err, errlen);
}

/*
 * store_tree_dir: report the entries of directory path (a buffer of size
 * bytes, restored on return) in strcmp order and recurse into the
 * subdirectories that cb lets us enter.
 */
static int
store_tree_dir(struct store *s, char *path, size_t size, int depth,
    int (*cb)(const char *, enum store_entry, uint64_t, void *), void *arg)
{
	struct store_list l = {NULL, 0, 0};
	struct dirent *de;
	struct stat st;
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
	store_list_sort(&l, store_strcmp_cb);
	for (i = 0; i < l.sl_n; i++) {
		if (store_path(path + len, size - len, "/%s", l.sl_v[i]) == -1)
			goto done;
		if (fstatat(s->s_fd, path, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno == ENOENT) {
				/* Removed meanwhile (a live registry). */
				path[len] = '\0';
				continue;
			}
			goto done;
		}
		if (S_ISREG(st.st_mode))
			kind = STORE_ENTRY_FILE;
		else if (S_ISDIR(st.st_mode))
			kind = STORE_ENTRY_DIR;
		else
			kind = STORE_ENTRY_OTHER;
		r = cb(path, kind, (uint64_t)st.st_size, arg);
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

/*
 * store_tree_walk: every entry below prefix, depth first and sorted, to
 * cb (see store.h). 0, or -1 with errno.
 */
int
store_tree_walk(struct store *s, const char *prefix,
    int (*cb)(const char *, enum store_entry, uint64_t, void *), void *arg)
{
	char path[PATH_MAX];

	if (!store_relpath_ok(prefix)) {
		errno = EINVAL;
		return -1;
	}
	if (util_strlcpy(path, prefix, sizeof(path)) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return store_tree_dir(s, path, sizeof(path), 0, cb, arg);
}

/* store_object_read: a small regular file below the v2 directory. */
int
store_object_read(struct store *s, const char *path, char *buf, size_t size,
    size_t *len)
{
	if (!store_relpath_ok(path) || size == 0) {
		errno = EINVAL;
		return -1;
	}
	if (store_read_small(s->s_fd, path, buf, size, len) == -1) {
		if (errno == ENOTDIR)
			errno = ENOENT;
		else if (errno == EISDIR)
			errno = EINVAL;
		return -1;
	}
	return 0;
}

/* store_object_open: read-only fd of a regular file below v2, and *size. */
int
store_object_open(struct store *s, const char *path, uint64_t *size)
{
	struct stat st;
	int fd;

	if (!store_relpath_ok(path)) {
		errno = EINVAL;
		return -1;
	}
	fd = openat(s->s_fd, path,
	    O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOTDIR)
			errno = ENOENT;
		else if (errno == ELOOP)
			errno = EINVAL;
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		errno = EINVAL;
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}
