/*
 * Unit tests for store_fs.c: the filesystem driver against a throw-away
 * directory, with every path checked against distribution's layout
 * (/work/shared/reference/distribution-layout.md).
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * Every sync_file_range of the driver goes through this recorder, so
 * that the tests can see which flags the loop's append path uses.
 */
static int sfr_calls, sfr_waits;
static int sfr_record(int, off_t, off_t, unsigned int);
#define sync_file_range sfr_record
#include "../../src/store_fs.c"
#undef sync_file_range
#include "tap.h"

static int
sfr_record(int fd, off_t off, off_t len, unsigned int flags)
{
	sfr_calls++;
	if (flags & (SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WAIT_AFTER))
		sfr_waits++;
	return sync_file_range(fd, off, len, flags);
}

static char root[PATH_MAX];

/* Read a file below root into a static buffer; NULL when missing. */
static const char *
slurp(const char *rel)
{
	static char buf[4096];
	char path[PATH_MAX * 2];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if ((fd = open(path, O_RDONLY)) == -1)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

static int
exists(const char *rel)
{
	char path[PATH_MAX * 2];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return lstat(path, &st) == 0;
}

static int
rmdir_r(const char *rel)
{
	char cmd[PATH_MAX * 3];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s/%s'", root, rel);
	return system(cmd) == 0 ? 0 : -1;
}

static void
put(const char *rel, const char *content)
{
	char path[PATH_MAX * 2], dir[PATH_MAX * 2], cmd[PATH_MAX * 3];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
	if (system(cmd) != 0)
		abort();
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fputs(content, f);
	fclose(f);
}

static void
test_paths(void)
{
	char buf[PATH_MAX];
	const char *d =
	    "sha256:"
	    "f7c29fb1b28b4b5a6b5e4a1e9b8e9e0c2a4a1f0d6c3b2a1908f7e6d5c4b3f37f";

	ok(store_blob_path(d, "/data", buf, sizeof(buf)) == 0 &&
	        strcmp(buf,
	            "blobs/sha256/f7/f7c29fb1b28b4b5a6b5e4a1e9b8e9e0c2a4a1"
	            "f0d6c3b2a1908f7e6d5c4b3f37f/data") == 0,
	    "blob path has fan-out");
	ok(store_link_path("demo/app", STORE_LINK_LAYER, d, "/link", buf,
	       sizeof(buf)) == 0 &&
	        strcmp(buf,
	            "repositories/demo/app/_layers/"
	            "sha256/"
	            "f7c29fb1b28b4b5a6b5e4a1e9b8e9e0c2a4a1f0d6c3b2a1908f7e6d5c"
	            "4b3f37f/link") == 0,
	    "layer link path has no fan-out");
	ok(store_link_path("demo/app", STORE_LINK_REVISION, d, "/link", buf,
	       sizeof(buf)) == 0 &&
	        strcmp(buf,
	            "repositories/demo/app/_manifests"
	            "/revisions/sha256/"
	            "f7c29fb1b28b4b5a6b5e4a1e9b8e9e0c2a4a1f0d6c3b2a1"
	            "908f7e6d5c4b3f37f/link") == 0,
	    "revision link path");
	ok(store_path(buf, 8, "%s", "123456789") == -1 && errno == ENAMETOOLONG,
	    "truncation is ENAMETOOLONG");
	ok(store_name_ok("a/b-c/d_e"), "name ok");
	ok(!store_name_ok("a/../b") && !store_name_ok("../x") &&
	        !store_name_ok("a//b") && !store_name_ok("a/") &&
	        !store_name_ok("/a") && !store_name_ok("a/_layers") &&
	        !store_name_ok(""),
	    "bad names refused");
	ok(!store_tag_ok("..") && !store_tag_ok("a/b") && store_tag_ok("v1.0"),
	    "tag check");
	ok(store_repo_cmp("a/b", "a-b") < 0 && store_repo_cmp("a", "a/b") < 0 &&
	        store_repo_cmp("a-b", "a/b") > 0 &&
	        store_repo_cmp("x", "x") == 0,
	    "lessPath order");
}

static void
test_blobs(struct store *s)
{
	char d[DIGEST_BUFSZ], path[PATH_MAX], *buf = NULL;
	uint64_t size = 0;
	size_t len = 0;
	digest_buf("hello layer", 11, d);
	ok(store_blob_stat(s, d, &size) == -1 && errno == ENOENT,
	    "missing blob: ENOENT");
	ok(store_blob_write(s, d, "hello layer", 11) == 0, "blob write");
	snprintf(path, sizeof(path),
	    "docker/registry/v2/blobs/sha256/%.2s/%s/data", digest_hex(d),
	    digest_hex(d));
	is_str(slurp(path), "hello layer", "blob bytes at the layout path");
	ok(store_blob_stat(s, d, &size) == 0 && size == 11, "blob stat");
	ok(store_blob_read(s, d, 100, &buf, &len) == 0 && len == 11 &&
	        memcmp(buf, "hello layer", 11) == 0,
	    "blob read");
	free(buf);
	buf = NULL;
	ok(store_blob_read(s, d, 10, &buf, &len) == -1 && errno == EFBIG &&
	        buf == NULL,
	    "blob read over max: EFBIG");
	{
		struct store_reader *r;
		char rb[16];
		int fd;

		r = store_blob_open(s, d, &size);
		ok(r != NULL && size == 11, "blob open");
		ok(r != NULL && store_reader_read(r, rb, sizeof(rb), 6) == 5 &&
		        memcmp(rb, "layer", 5) == 0,
		    "reader reads at an offset");
		fd = r != NULL ? store_fs_reader_take_fd(r) : -1;
		ok(fd >= 0 && pread(fd, rb, 5, 0) == 5 &&
		        memcmp(rb, "hello", 5) == 0,
		    "the reader hands over its file for sendfile");
		if (fd >= 0)
			close(fd);
		store_reader_close(r);
	}
	ok(store_blob_delete(s, d) == 0 &&
	        store_blob_stat(s, d, &size) == -1 && errno == ENOENT &&
	        store_blob_delete(s, d) == -1 && errno == ENOENT,
	    "blob delete");
	ok(store_blob_write(s, d, "hello layer", 11) == 0, "blob written again");
	/* Content-addressed: a second write must not touch the file. */
	ok(store_blob_write(s, d, "XXXXXXXXXXX", 11) == 0, "rewrite ok");
	is_str(slurp(path), "hello layer", "existing blob not rewritten");
	ok(store_blob_stat(s, "sha256:zz", &size) == -1 && errno == EINVAL,
	    "bad digest: EINVAL");

	digest_buf("", 0, d);
	ok(store_blob_write(s, d, "", 0) == 0 &&
	        store_blob_stat(s, d, &size) == 0 && size == 0,
	    "empty blob");
}

static void
test_links(struct store *s)
{
	char d[DIGEST_BUFSZ], m[DIGEST_BUFSZ], path[PATH_MAX];
	char **list = NULL;
	size_t n = 0;

	digest_buf("hello layer", 11, d);
	digest_buf("no such blob", 12, m);
	ok(store_link_exists(s, "demo/app", STORE_LINK_LAYER, d) == 0,
	    "no link yet");
	ok(store_link_write(s, "demo/app", STORE_LINK_LAYER, d) == 0,
	    "layer link write");
	snprintf(path, sizeof(path),
	    "docker/registry/v2/repositories/"
	    "demo/app/_layers/sha256/%s/link",
	    digest_hex(d));
	is_str(slurp(path), d, "link file is exactly the digest, no newline");
	ok(store_link_exists(s, "demo/app", STORE_LINK_LAYER, d) == 1,
	    "link exists");
	ok(store_link_exists(s, "demo/other", STORE_LINK_LAYER, d) == 0,
	    "not in another repo");
	ok(store_link_exists(s, "demo/app", STORE_LINK_REVISION, d) == 0,
	    "not as another kind");
	ok(store_link_write(s, "demo/app", STORE_LINK_LAYER, d) == 0,
	    "link write is idempotent");
	ok(store_link_write(s, "demo/app", STORE_LINK_LAYER, m) == 0 &&
	        store_link_exists(s, "demo/app", STORE_LINK_LAYER, m) == 0,
	    "link without blob data: 0");

	/* A stray tmp file and garbage links are ignored. */
	snprintf(path, sizeof(path),
	    "docker/registry/v2/repositories/"
	    "demo/app/_layers/sha256/%s/link.0123456789abcdef.tmp",
	    digest_hex(d));
	put(path, "garbage");
	put("docker/registry/v2/repositories/demo/app/_layers/sha256/"
	    "not-hex/link",
	    "x");
	ok(store_link_list(s, "demo/app", STORE_LINK_LAYER, &list, &n) == 0 &&
	        n == 2,
	    "link list (tmp and junk ignored)");
	if (n == 2)
		ok(strcmp(list[0], list[1]) < 0 &&
		        (strcmp(list[0], d) == 0 || strcmp(list[1], d) == 0),
		    "link list sorted");
	store_list_free(list, n);
	ok(store_link_list(s, "nope", STORE_LINK_REVISION, &list, &n) == 0 &&
	        n == 0 && list == NULL,
	    "link list of unknown repo: empty");

	snprintf(path, sizeof(path),
	    "docker/registry/v2/repositories/"
	    "demo/app/_layers/sha256/%s/link",
	    digest_hex(m));
	put(path, "sha256:short");
	ok(store_link_exists(s, "demo/app", STORE_LINK_LAYER, m) == 0,
	    "garbage link treated as absent");
	put(path, "");
	ok(store_link_exists(s, "demo/app", STORE_LINK_LAYER, m) == 0,
	    "empty link treated as absent");
	{
		char nl[DIGEST_BUFSZ + 1], dpath[PATH_MAX];

		/* distribution tolerates nothing else, not even a newline. */
		snprintf(dpath, sizeof(dpath),
		    "docker/registry/v2/"
		    "repositories/demo/app/_layers/sha256/%s/link",
		    digest_hex(d));
		snprintf(nl, sizeof(nl), "%s\n", d);
		put(dpath, nl);
		ok(store_link_exists(s, "demo/app", STORE_LINK_LAYER, d) == 0,
		    "link with a newline treated as absent");
		ok(store_link_write(s, "demo/app", STORE_LINK_LAYER, d) == 0 &&
		        store_link_exists(s, "demo/app", STORE_LINK_LAYER, d) ==
		            1,
		    "rewrite repairs it");
		is_str(slurp(dpath), d, "repaired link content");
	}
	ok(store_link_delete(s, "demo/app", STORE_LINK_LAYER, m) == 0 &&
	        !exists(path),
	    "link delete removes the directory");
	ok(store_link_delete(s, "demo/app", STORE_LINK_LAYER, m) == -1 &&
	        errno == ENOENT,
	    "second delete: ENOENT");
}

static void
test_tags(struct store *s)
{
	char d1[DIGEST_BUFSZ], d2[DIGEST_BUFSZ], got[DIGEST_BUFSZ];
	char path[PATH_MAX];
	char **list = NULL;
	size_t n = 0;

	digest_buf("m1", 2, d1);
	digest_buf("m2", 2, d2);
	ok(store_tag_list(s, "demo/none", &list, &n) == -1 && errno == ENOENT,
	    "tag list of unknown repo: ENOENT");
	ok(store_tag_get(s, "demo/app", "v1", got) == -1 && errno == ENOENT,
	    "missing tag: ENOENT");
	ok(store_tag_set(s, "demo/app", "v1", d1) == 0, "tag set");
	ok(store_tag_set(s, "demo/app", "v1", d2) == 0, "tag move");
	ok(store_tag_set(s, "demo/app", "latest", d2) == 0, "second tag");
	ok(store_tag_get(s, "demo/app", "v1", got) == 0 && strcmp(got, d2) == 0,
	    "tag get");
	is_str(slurp("docker/registry/v2/repositories/demo/app/_manifests/"
	             "tags/v1/current/link"),
	    d2, "current/link content");
	snprintf(path, sizeof(path),
	    "docker/registry/v2/repositories/demo/"
	    "app/_manifests/tags/v1/index/sha256/%s/link",
	    digest_hex(d1));
	is_str(slurp(path), d1, "index keeps the old digest");
	snprintf(path, sizeof(path),
	    "docker/registry/v2/repositories/demo/"
	    "app/_manifests/tags/v1/index/sha256/%s/link",
	    digest_hex(d2));
	is_str(slurp(path), d2, "index has the new digest");
	ok(store_tag_list(s, "demo/app", &list, &n) == 0 && n == 2, "tag list");
	if (n == 2) {
		is_str(list[0], "latest", "tags sorted (0)");
		is_str(list[1], "v1", "tags sorted (1)");
	}
	store_list_free(list, n);
	/*
	 * A tag is a directory under tags/, as registry:2 lists them; the
	 * cached list must see the new one (the directory changed).
	 */
	put("docker/registry/v2/repositories/demo/app/_manifests/tags/broken/"
	    "index/x",
	    "");
	ok(store_tag_list(s, "demo/app", &list, &n) == 0 && n == 3 &&
	        strcmp(list[0], "broken") == 0,
	    "tag list sees a new tag directory");
	store_list_free(list, n);
	ok(rmdir_r("docker/registry/v2/repositories/demo/app/_manifests/tags/"
	           "broken") == 0 &&
	        store_tag_list(s, "demo/app", &list, &n) == 0 && n == 2,
	    "tag list sees a removed tag directory");
	store_list_free(list, n);
	ok(store_tag_delete(s, "demo/app", "v1") == 0 &&
	        !exists("docker/registry/v2/repositories/demo/app/_manifests/"
	                "tags/v1"),
	    "tag delete removes tags/<tag>");
	ok(store_tag_delete(s, "demo/app", "v1") == -1 && errno == ENOENT,
	    "tag delete twice: ENOENT");
	ok(store_tag_get(s, "demo/app", "../x", got) == -1 && errno == EINVAL,
	    "bad tag refused");
}

static void
test_repos(struct store *s)
{
	static const char *want[] = {"a", "a/b", "a/b/c", "a-b", "demo/app",
	    "z"};
	char **list = NULL;
	size_t n = 0, i;
	char path[PATH_MAX * 2];
	int good;

	put("docker/registry/v2/repositories/a/_manifests/x", "");
	put("docker/registry/v2/repositories/a-b/_manifests/x", "");
	put("docker/registry/v2/repositories/a/b/_manifests/x", "");
	put("docker/registry/v2/repositories/a/b/c/_manifests/x", "");
	put("docker/registry/v2/repositories/_x/_manifests/x", "");
	put("docker/registry/v2/repositories/a/_x/_manifests/x", "");
	put("docker/registry/v2/repositories/z/_manifests/x", "");
	/* Only uploads, no manifests: not a repository. */
	put("docker/registry/v2/repositories/up/_uploads/u/data", "");
	/* A symlink out of the tree is not followed. */
	snprintf(path, sizeof(path), "%s/docker/registry/v2/repositories/link",
	    root);
	ok(symlink("/", path) == 0, "symlink planted");

	ok(store_repo_exists(s, "a/b") == 1 && store_repo_exists(s, "up") == 0,
	    "repo exists");
	ok(store_repo_list(s, &list, &n) == 0, "repo list");
	good = n == sizeof(want) / sizeof(want[0]);
	for (i = 0; good && i < n; i++)
		good = strcmp(list[i], want[i]) == 0;
	ok(good, "repo list: a, a/b, a/b/c, a-b, demo/app, z");
	for (i = 0; !good && i < n; i++)
		printf("#   %s\n", list[i]);
	store_list_free(list, n);
}

/* The size of the data file of upload uuid in name, or -1. */
static long long
data_size(const char *name, const char *uuid)
{
	char path[PATH_MAX * 2];
	struct stat st;

	snprintf(path, sizeof(path),
	    "%s/docker/registry/v2/repositories/%s/_uploads/%s/data", root,
	    name, uuid);
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* The number of descriptors open in this process (/proc/self/fd). */
static int
open_fds(void)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* not the one reading the directory */
}

static void
test_uploads(struct store *s)
{
	char d[DIGEST_BUFSZ], got[DIGEST_BUFSZ], path[PATH_MAX];
	const char *uuid = "0b3c6d0e-5f0a-4e7a-9a42-3e8f0e6b1c55";
	const char *p;
	struct store_writer *w, *w2;
	uint64_t size = 0;
	time_t t;
	int before;

	w = store_upload_create(s, "demo/up", uuid);
	ok(w != NULL, "upload create");
	snprintf(path, sizeof(path),
	    "docker/registry/v2/repositories/demo/up/"
	    "_uploads/%s/startedat",
	    uuid);
	p = slurp(path);
	ok(p != NULL && strlen(p) == 20 && p[19] == 'Z' &&
	        store_parse_rfc3339(p, &t) == 0 && labs(time(NULL) - t) < 5,
	    "startedat is RFC3339 UTC without newline");
	ok(store_writer_append(w, "hello ", 6) == 0 &&
	        store_writer_append(w, "world", 5) == 0 &&
	        store_writer_size(w) == 11,
	    "append");
	before = open_fds();
	store_writer_idle(w);
	is_int(open_fds(), before - 1, "an idle writer holds no descriptor");
	w2 = store_upload_resume(s, "demo/up", uuid, &size);
	ok(w2 != NULL && size == 11, "resume reports the size");
	is_int(open_fds(), before - 1, "a resumed writer starts idle");
	store_writer_free(w2);
	ok(store_upload_resume(s, "demo/other", uuid, &size) == NULL &&
	        errno == ENOENT,
	    "uuid of another repo: ENOENT");
	ok(store_writer_hash(w, got) == 0, "upload hash");
	digest_buf("hello world", 11, d);
	is_str(got, d, "rehash matches");
	ok(store_writer_commit(w, d) == 0, "commit");
	store_writer_free(w);
	snprintf(path, sizeof(path),
	    "docker/registry/v2/blobs/sha256/%.2s/%s/data", digest_hex(d),
	    digest_hex(d));
	is_str(slurp(path), "hello world", "committed blob bytes");
	snprintf(path, sizeof(path),
	    "docker/registry/v2/repositories/demo/up/"
	    "_layers/sha256/%s/link",
	    digest_hex(d));
	is_str(slurp(path), d, "layer link written");
	snprintf(path, sizeof(path),
	    "docker/registry/v2/repositories/demo/up/"
	    "_uploads/%s",
	    uuid);
	ok(!exists(path), "upload dir removed");

	/* Same blob again: the existing data is kept, no error. */
	w = store_upload_create(s, "demo/up2", uuid);
	ok(w != NULL && store_writer_append(w, "hello world", 11) == 0 &&
	        store_writer_commit(w, d) == 0,
	    "commit of an existing blob");
	store_writer_free(w);
	ok(store_link_exists(s, "demo/up2", STORE_LINK_LAYER, d) == 1,
	    "second repo linked");

	/* Cancel. */
	w = store_upload_create(s, "demo/up", uuid);
	ok(w != NULL, "create again");
	ok(w != NULL && store_writer_abort(w) == 0 && !exists(path),
	    "upload abort");
	ok(w != NULL && store_writer_abort(w) == -1 && errno == ENOENT,
	    "abort twice: ENOENT");
	store_writer_free(w);
	ok(store_upload_create(s, "demo/up", "../../x") == NULL &&
	        errno == EINVAL,
	    "bad uuid refused");

	/* A registry:2 upload after POST: startedat but no data yet. */
	snprintf(path, sizeof(path),
	    "docker/registry/v2/repositories/demo/up/"
	    "_uploads/%s/startedat",
	    uuid);
	put(path, "2026-11-23T06:31:38Z");
	w = store_upload_resume(s, "demo/up", uuid, &size);
	ok(w != NULL && size == 0,
	    "resume of a registry:2 upload without data");
	ok(w != NULL && store_writer_abort(w) == 0, "abort it");
	store_writer_free(w);

	/*
	 * A failing append (here RLIMIT_FSIZE: a short write, then EFBIG)
	 * leaves the file at the old offset.
	 */
	w = store_upload_create(s, "demo/up", uuid);
	ok(w != NULL && store_writer_append(w, "abc", 3) == 0, "append 3");
	if (w != NULL) {
		struct rlimit old, lim;
		int r, e;

		signal(SIGXFSZ, SIG_IGN);
		getrlimit(RLIMIT_FSIZE, &old);
		lim = old;
		lim.rlim_cur = 5;
		setrlimit(RLIMIT_FSIZE, &lim);
		r = store_writer_append(w, "defghij", 7);
		e = errno;
		setrlimit(RLIMIT_FSIZE, &old);
		ok(r == -1 && e == EFBIG, "failed append reports errno");
		ok(data_size("demo/up", uuid) == 3 && store_writer_size(w) == 3,
		    "partial chunk truncated away");
		ok(store_writer_append(w, "def", 3) == 0 &&
		        data_size("demo/up", uuid) == 6,
		    "append resumes");
		ok(store_writer_truncate(w, 2) == 0 &&
		        data_size("demo/up", uuid) == 2 &&
		        store_writer_size(w) == 2,
		    "truncate");
		(void)store_writer_abort(w);
		store_writer_free(w);
	}
}

static void
test_writeback(struct store *s)
{
	const char *uuid = "11111111-2222-4333-8444-555555555555";
	struct store_writer *w;
	char *buf;
	size_t chunk = 3 * 1024 * 1024 + 7, total = 0;
	uint64_t size;
	int i, good = 1;

	if ((buf = malloc(chunk)) == NULL)
		abort();
	memset(buf, 'x', chunk);
	w = store_upload_create(s, "demo/big", uuid);
	sfr_calls = sfr_waits = 0;
	for (i = 0; w != NULL && i < 7; i++) {
		if (store_writer_append(w, buf, chunk) == -1)
			good = 0;
		total += chunk;
	}
	ok(w != NULL && good, "appends across writeback windows");
	/* Appends run on the event loop: they start writeback, never wait. */
	is_int(sfr_calls, (int)(total / UPLOAD_WRITEBACK_BYTES),
	    "writeback started once per finished window");
	is_int(sfr_waits, 0, "and never waited for (no WAIT_BEFORE/AFTER)");
	store_writer_free(w);
	w = store_upload_resume(s, "demo/big", uuid, &size);
	ok(w != NULL && size == total, "size after 7 appends");
	ok(w != NULL && store_writer_abort(w) == 0, "remove big");
	store_writer_free(w);
	free(buf);
}

static void
test_purge(struct store *s)
{
	const char *old = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
	const char *young = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
	const char *nostart = "cccccccc-cccc-4ccc-8ccc-cccccccccccc";
	char path[PATH_MAX * 2];
	struct timeval tv[2];
	store_writer_free(store_upload_create(s, "p/q", young));
	put("docker/registry/v2/repositories/p/q/_uploads/"
	    "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa/startedat",
	    "2001-01-01T00:00:00Z");
	put("docker/registry/v2/repositories/p/q/_uploads/"
	    "cccccccc-cccc-4ccc-8ccc-cccccccccccc/data",
	    "x");
	snprintf(path, sizeof(path),
	    "%s/docker/registry/v2/repositories/p/q/"
	    "_uploads/%s",
	    root, nostart);
	tv[0].tv_sec = tv[1].tv_sec = time(NULL) - 7200;
	tv[0].tv_usec = tv[1].tv_usec = 0;
	ok(utimes(path, tv) == 0, "old mtime set");
	is_int(store_upload_purge(s, 3600, 0), 2, "purge removed two");
	snprintf(path, sizeof(path),
	    "docker/registry/v2/repositories/p/q/"
	    "_uploads/%s",
	    old);
	ok(!exists(path), "old startedat purged");
	snprintf(path, sizeof(path),
	    "docker/registry/v2/repositories/p/q/"
	    "_uploads/%s",
	    nostart);
	ok(!exists(path), "no startedat: mtime used");
	snprintf(path, sizeof(path),
	    "docker/registry/v2/repositories/p/q/"
	    "_uploads/%s",
	    young);
	ok(exists(path), "young upload kept");
	ok(store_parse_rfc3339("2026-11-23T06:31:38.123+01:00", &(time_t){0}) ==
	            0 &&
	        store_parse_rfc3339("garbage", &(time_t){0}) == -1,
	    "rfc3339 variants");
}

int
main(void)
{
	char err[256], cmd[PATH_MAX + 16];
	struct store *s;
	int fd0, fd1;

	snprintf(root, sizeof(root), "%s/store-test.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	/* The lowest free fd now, to catch leaks at the end. */
	if ((fd0 = open("/dev/null", O_RDONLY)) == -1)
		abort();
	close(fd0);
	test_paths();
	s = store_fs_open(root, 0, err, sizeof(err));
	ok(s != NULL, "store_fs_open: %s", s ? "ok" : err);
	if (s == NULL)
		return done_testing();
	ok(exists("docker/registry/v2"), "v2 directory created");
	ok(strstr(store_describe(s), root) != NULL, "store_describe: %s",
	    store_describe(s));
	ok(store_fs_open("/proc/nonexistent/x", 0, err, sizeof(err)) ==
	            NULL &&
	        err[0] != '\0',
	    "store_fs_open failure message");
	/* Nothing must depend on the working directory. */
	if (chdir("/") != 0)
		abort();
	test_blobs(s);
	test_links(s);
	test_tags(s);
	test_repos(s);
	test_uploads(s);
	test_writeback(s);
	test_purge(s);
	store_close(s);
	store_close(NULL);
	fd1 = open("/dev/null", O_RDONLY);
	is_int(fd1, fd0, "no fd leaked");
	close(fd1);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", root);
	return done_testing();
}
