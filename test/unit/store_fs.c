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
#include <pthread.h>
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
/*
 * And every rename, so that the order of renames and sync rounds can be
 * checked (the durability log, below).
 */
static int rec_renameat(int, const char *, int, const char *);
static int rec_fdatasync(int);
#define sync_file_range sfr_record
#define renameat        rec_renameat
#define fdatasync       rec_fdatasync
#include "../../src/store_fs.c"
#undef sync_file_range
#undef renameat
#undef fdatasync
#include "fixture.h"
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

/* A file below root in a static buffer; NULL when missing. */
static const char *
slurp(const char *rel)
{
	return slurp_at(root, rel);
}

static int
exists(const char *rel)
{
	return exists_at(root, rel);
}

static int
rmdir_r(const char *rel)
{
	char cmd[PATH_MAX * 3];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s/%s'", root, rel);
	return system(cmd) == 0 ? 0 : -1;
}

/*
 * mkdir -p of root/rel/last, by mkdir(2) alone: last may hold any byte
 * (a quote, CR, LF) that the shell of put would choke on.
 */
static int
mkdir_raw(const char *rel, const char *last)
{
	char path[PATH_MAX * 2], *p;

	snprintf(path, sizeof(path), "%s/%s/%s", root, rel, last);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(path, 0755) == -1 && errno != EEXIST ? -1 : 0;
}

/* Names no client could have pushed: directories may be called so. */
static const char *const bad_names[] = {"caf\xe9", "qu\"ote", "back\\slash",
    "sp ace", "crlf\r\nLink: x", "Upper"};
#define NBAD (sizeof(bad_names) / sizeof(bad_names[0]))

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
	char path[PATH_MAX * 2];
	char **list = NULL;
	size_t n = 0, b;

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
	/* Tag directories no client could have pushed are not listed. */
	for (b = 0; b < NBAD - 1; b++) /* "Upper" is a valid tag */
		(void)mkdir_raw(
		    "docker/registry/v2/repositories/demo/app/_manifests/tags",
		    bad_names[b]);
	/* The store lists them (untagging sees them); listings drop them. */
	ok(store_tag_list(s, "demo/app", &list, &n) == 0 && n == NBAD + 1 &&
	        (n = store_list_showable(list, n, 1)) == 2 &&
	        strcmp(list[0], "latest") == 0 && strcmp(list[1], "v1") == 0,
	    "tags with bad names are not listed");
	store_list_free(list, n);
	for (b = 0; b < NBAD - 1; b++) {
		snprintf(path, sizeof(path),
		    "%s/docker/registry/v2/repositories/demo/app/_manifests/"
		    "tags/%s",
		    root, bad_names[b]);
		(void)rmdir(path);
	}
	/*
	 * The bounded form (a tags/list tried on the loop): the tags when
	 * there are at most max, else E2BIG and nothing, from the cache
	 * (filled above) and from the directory alike.
	 */
	ok(store_tag_list_max(s, "demo/app", 2, &list, &n) == 0 && n == 2,
	    "bounded tag list: 2 tags, max 2");
	store_list_free(list, n);
	ok(store_tag_list_max(s, "demo/app", 1, &list, &n) == -1 &&
	        errno == E2BIG && list == NULL && n == 0,
	    "bounded tag list: 2 tags, max 1: E2BIG (cached)");
	put("docker/registry/v2/repositories/demo/app/_manifests/tags/v2/x", "");
	ok(store_tag_list_max(s, "demo/app", 2, &list, &n) == -1 &&
	        errno == E2BIG && list == NULL && n == 0,
	    "bounded tag list: 3 tags, max 2: E2BIG (read)");
	ok(store_tag_list(s, "demo/app", &list, &n) == 0 && n == 3,
	    "unbounded tag list after E2BIG: all 3");
	store_list_free(list, n);
	/*
	 * On the loop, the bounded form neither frees a cached list longer
	 * than its bound (demo/app's 3, cached just above) nor waits while
	 * a worker holds the cache.
	 */
	ok(store_tag_set(s, "demo/few", "v1", d1) == 0 &&
	        store_tag_list_max(s, "demo/few", 2, &list, &n) == 0 && n == 1,
	    "bounded tag list of another repository: its 1 tag");
	store_list_free(list, n);
	is_str(((struct store_fs *)s)->s_tags_name, "demo/app",
	    "bounded tag list: a cached list longer than max stays cached");
	pthread_mutex_lock(&((struct store_fs *)s)->s_tags_lock);
	alarm(5); /* before: a deadlock */
	ok(store_tag_list_max(s, "demo/few", 2, &list, &n) == 0 && n == 1,
	    "bounded tag list: does not wait for the cache's lock");
	alarm(0);
	pthread_mutex_unlock(&((struct store_fs *)s)->s_tags_lock);
	store_list_free(list, n);
	/*
	 * A tags/ directory that held many entries, one tag left: where
	 * the filesystem keeps its size (ext4), too big to read on the
	 * loop.
	 */
	{
		char big[PATH_MAX * 2];
		int i, big_ok = 1;
		struct stat sb;

		for (i = 0; i < 6000 && big_ok; i++) {
			snprintf(big, sizeof(big),
			    "%s/docker/registry/v2/repositories/demo/few/"
			    "_manifests/tags/gone-%040d",
			    root, i % 3000);
			big_ok = (i < 3000 ? mkdir(big, 0755) : rmdir(big)) == 0;
		}
		snprintf(big, sizeof(big),
		    "%s/docker/registry/v2/repositories/demo/few/_manifests/tags",
		    root);
		if (big_ok && stat(big, &sb) == 0 && sb.st_size > 64 * 1024)
			ok(store_tag_list_max(s, "demo/few", 2, &list, &n) ==
			            -1 &&
			        errno == E2BIG,
			    "bounded tag list: a %lld-byte directory: E2BIG",
			    (long long)sb.st_size);
		else
			ok(1, "# SKIP this filesystem shrinks directories");
	}
	ok(store_tag_list(s, "demo/few", &list, &n) == 0 && n == 1,
	    "unbounded tag list of the shrunk directory: its tag");
	store_list_free(list, n);
	ok(rmdir_r("docker/registry/v2/repositories/demo/few") == 0,
	    "repository demo/few removed");
	ok(rmdir_r("docker/registry/v2/repositories/demo/app/_manifests/tags/"
	           "v2") == 0,
	    "tag directory v2 removed");
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

	/* Not valid names: not listed (the catalog's JSON and Link). */
	for (i = 0; i < NBAD; i++) {
		snprintf(path, sizeof(path), "%s/_manifests", bad_names[i]);
		ok(mkdir_raw("docker/registry/v2/repositories", path) == 0 &&
		        mkdir_raw("docker/registry/v2/repositories",
		            bad_names[i]) == 0,
		    "repository directory %zu with a bad name planted", i + 1);
	}
	ok(mkdir_raw("docker/registry/v2/repositories/caf\xe9",
	       "ok/_manifests") == 0,
	    "and a good component below a bad one");

	ok(store_repo_exists(s, "a/b") == 1 && store_repo_exists(s, "up") == 0,
	    "repo exists");
	ok(store_repo_list(s, &list, &n) == 0, "repo list");
	n = store_list_showable(list, n, 0);
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

/* ---- group commit ---- */

/*
 * The durability log: each sync round (the inodes of the files it
 * synced) and each rename (its target), in order, while log_on.
 */
enum { EV_ROUND, EV_RENAME, EV_ALONE };
static struct {
	int e_kind;
	int e_n;
	ino_t e_ino[64];
	char e_to[PATH_MAX];
} evlog[64];
static int nev, log_on;
static pthread_mutex_t evlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t evcond = PTHREAD_COND_INITIALIZER;
/* Rounds wait here while gate_closed (they see the waiters queue up). */
static int gate_closed, rounds_seen;

static int
rec_renameat(int ofd, const char *from, int nfd, const char *to)
{
	pthread_mutex_lock(&evlock);
	if (log_on && nev < 64) {
		evlog[nev].e_kind = EV_RENAME;
		snprintf(evlog[nev].e_to, sizeof(evlog[nev].e_to), "%s", to);
		nev++;
	}
	pthread_mutex_unlock(&evlock);
	return renameat(ofd, from, nfd, to);
}

/* A file synced by its writer alone, outside the shared rounds. */
static int
rec_fdatasync(int fd)
{
	struct stat sb;

	pthread_mutex_lock(&evlock);
	if (log_on && nev < 64 && fstat(fd, &sb) == 0) {
		evlog[nev].e_kind = EV_ALONE;
		evlog[nev].e_n = 1;
		evlog[nev].e_ino[0] = sb.st_ino;
		nev++;
	}
	pthread_mutex_unlock(&evlock);
	return fdatasync(fd);
}

static void
rec_round(const struct store_sync_req *batch)
{
	const struct store_sync_req *r;
	struct stat sb;
	int i;

	pthread_mutex_lock(&evlock);
	rounds_seen++;
	pthread_cond_broadcast(&evcond);
	while (gate_closed)
		pthread_cond_wait(&evcond, &evlock);
	if (log_on && nev < 64) {
		evlog[nev].e_kind = EV_ROUND;
		evlog[nev].e_n = 0;
		for (r = batch; r != NULL; r = r->sq_next)
			for (i = 0; i < r->sq_n && evlog[nev].e_n < 64; i++)
				if (fstat(r->sq_fds[i], &sb) == 0)
					evlog[nev].e_ino[evlog[nev].e_n++] =
					    sb.st_ino;
		nev++;
	}
	pthread_mutex_unlock(&evlock);
}

static void
gate(int closed)
{
	pthread_mutex_lock(&evlock);
	gate_closed = closed;
	pthread_cond_broadcast(&evcond);
	pthread_mutex_unlock(&evlock);
}

/* Callers queued for the next round (waiting behind a leader). */
static int
sync_waiting(struct store_fs *fs)
{
	struct store_sync_req *r;
	int n = 0;

	pthread_mutex_lock(&fs->s_sync_lock);
	for (r = fs->s_sync_head; r != NULL; r = r->sq_next)
		n++;
	pthread_mutex_unlock(&fs->s_sync_lock);
	return n;
}

/* Wait (bounded, ~10 s) until f(arg) >= want. */
static int
wait_until(int (*f)(void *), void *arg, int want)
{
	int i;

	for (i = 0; i < 100000; i++) {
		if (f(arg) >= want)
			return 1;
		usleep(100);
	}
	return 0;
}

static int
sync_waiting_cb(void *arg)
{
	return sync_waiting(arg);
}

static int
rounds_seen_cb(void *arg)
{
	int n;

	(void)arg;
	pthread_mutex_lock(&evlock);
	n = rounds_seen;
	pthread_mutex_unlock(&evlock);
	return n;
}

static ino_t
ino_of(const char *rel)
{
	char path[PATH_MAX * 2];
	struct stat st;

	snprintf(path, sizeof(path), "%s/docker/registry/v2/%s", root, rel);
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

static int
round_has(int ev, ino_t ino)
{
	int i;

	for (i = 0; i < evlog[ev].e_n; i++)
		if (evlog[ev].e_ino[i] == ino)
			return 1;
	return 0;
}

/*
 * One commit: two rounds, each before the next step. The data and the
 * link's temporary file (and the parents of the directories made) are
 * durable before anything is renamed into place; the blob is renamed
 * before the link; both directories are durable before commit returns.
 */
static void
test_commit_rounds(struct store *s)
{
	const char *uuid = "aaaaaaaa-1111-4222-8333-444444444444";
	const char *bytes = "bytes of an ordered commit";
	char d[DIGEST_BUFSZ], blob[PATH_MAX], bdir[PATH_MAX], xx[PATH_MAX];
	char link[PATH_MAX], ldir[PATH_MAX];
	struct store_writer *w;
	int r;

	digest_buf(bytes, strlen(bytes), d);
	w = store_upload_create(s, "order/repo", uuid);
	ok(w != NULL && store_writer_append(w, bytes, strlen(bytes)) == 0,
	    "upload to commit");
	nev = 0;
	log_on = 1;
	store_round_hook = rec_round;
	r = w != NULL ? store_writer_commit(w, d) : -1;
	store_round_hook = NULL;
	log_on = 0;
	store_writer_free(w);
	ok(r == 0, "commit");
	store_blob_path(d, "/data", blob, sizeof(blob));
	store_blob_path(d, "", bdir, sizeof(bdir));
	snprintf(xx, sizeof(xx), "blobs/sha256/%.2s", digest_hex(d));
	store_link_path("order/repo", STORE_LINK_LAYER, d, "/link", link,
	    sizeof(link));
	store_link_path("order/repo", STORE_LINK_LAYER, d, "", ldir,
	    sizeof(ldir));
	is_int(nev, 4, "two rounds and two renames");
	if (nev != 4)
		return;
	ok(evlog[0].e_kind == EV_ROUND && round_has(0, ino_of(blob)) &&
	        round_has(0, ino_of(link)) && round_has(0, ino_of(xx)) &&
	        round_has(0, ino_of("repositories/order/repo/_layers/sha256")),
	    "round 1: data, link file, parents of the new directories");
	ok(evlog[1].e_kind == EV_RENAME && strcmp(evlog[1].e_to, blob) == 0,
	    "then the data is renamed into the blob directory");
	ok(evlog[2].e_kind == EV_RENAME && strcmp(evlog[2].e_to, link) == 0,
	    "then the link into place");
	ok(evlog[3].e_kind == EV_ROUND && evlog[3].e_n == 2 &&
	        round_has(3, ino_of(bdir)) && round_has(3, ino_of(ldir)),
	    "round 2: both directories, before commit returns");
	ok(exists("docker/registry/v2/repositories/order/repo/_uploads") &&
	        !exists("docker/registry/v2/repositories/order/repo/_uploads/"
	                "aaaaaaaa-1111-4222-8333-444444444444"),
	    "upload dir removed");

	/*
	 * A big blob's data is synced by its commit alone, before the shared
	 * round: other commits never wait for it.
	 */
	{
		char *big;
		size_t bigsz = STORE_SHARED_MAX + 1;

		if ((big = malloc(bigsz)) == NULL)
			abort();
		memset(big, 'b', bigsz);
		digest_buf(big, bigsz, d);
		w = store_upload_create(s, "order/repo", uuid);
		ok(w != NULL && store_writer_append(w, big, bigsz) == 0,
		    "upload of a big blob");
		free(big);
		nev = 0;
		log_on = 1;
		store_round_hook = rec_round;
		r = w != NULL ? store_writer_commit(w, d) : -1;
		store_round_hook = NULL;
		log_on = 0;
		store_writer_free(w);
		store_blob_path(d, "/data", blob, sizeof(blob));
		ok(r == 0 && nev == 5 && evlog[0].e_kind == EV_ALONE &&
		        evlog[0].e_ino[0] == ino_of(blob) &&
		        evlog[1].e_kind == EV_ROUND && !round_has(1, ino_of(blob)) &&
		        evlog[2].e_kind == EV_RENAME &&
		        strcmp(evlog[2].e_to, blob) == 0,
		    "big data synced alone, before round 1 (which has not it), "
		    "before its rename");
	}

	/* Where AIO is refused, files are synced one by one: same result. */
	{
		struct store_fs *fs = (struct store_fs *)s;
		aio_context_t aio = fs->s_aio;

		printf("# AIO fsync %s here\n", aio != 0 ? "available" : "refused");
		fs->s_aio = 0;
		bytes = "bytes synced one by one";
		digest_buf(bytes, strlen(bytes), d);
		w = store_upload_create(s, "order/repo", uuid);
		ok(w != NULL &&
		        store_writer_append(w, bytes, strlen(bytes)) == 0 &&
		        store_writer_commit(w, d) == 0 &&
		        store_link_exists(s, "order/repo", STORE_LINK_LAYER, d) ==
		            1,
		    "commit without AIO");
		store_writer_free(w);
		fs->s_aio = aio;
	}
}

struct syncer {
	struct store_fs *sy_fs;
	const char *sy_dir;
	int sy_rv;
	int sy_returned;
	uint64_t sy_rounds_at_return;
	pthread_t sy_thread;
};

static void *
syncer_run(void *arg)
{
	struct syncer *sy = arg;
	int fd;

	fd = openat(sy->sy_fs->s_fd, sy->sy_dir, O_RDONLY | O_DIRECTORY);
	sy->sy_rv = store_group_sync(sy->sy_fs, &fd, 1);
	close(fd);
	pthread_mutex_lock(&sy->sy_fs->s_sync_lock);
	sy->sy_rounds_at_return = sy->sy_fs->s_sync_rounds;
	sy->sy_returned = 1;
	pthread_mutex_unlock(&sy->sy_fs->s_sync_lock);
	return NULL;
}

/*
 * Group commit: A leads a round that is held open; B and C arrive meanwhile
 * and wait; they share the next round, in which their common directory
 * is synced once, and return only after it finished.
 */
static void
test_group_sync(struct store *s)
{
	struct store_fs *fs = (struct store_fs *)s;
	struct syncer sy[3] = {
	    {fs, "repositories", 0, 0, 0, 0},
	    {fs, "blobs", 0, 0, 0, 0},
	    {fs, "blobs", 0, 0, 0, 0},
	};
	uint64_t rounds0 = fs->s_sync_rounds, files0 = fs->s_sync_files;
	int i, waiting_returned;

	rounds_seen = 0;
	gate(1);
	store_round_hook = rec_round;
	pthread_create(&sy[0].sy_thread, NULL, syncer_run, &sy[0]);
	ok(wait_until(rounds_seen_cb, NULL, 1), "A leads a round (held)");
	pthread_create(&sy[1].sy_thread, NULL, syncer_run, &sy[1]);
	pthread_create(&sy[2].sy_thread, NULL, syncer_run, &sy[2]);
	ok(wait_until(sync_waiting_cb, fs, 2),
	    "B and C arrive while it is in flight and queue");
	pthread_mutex_lock(&fs->s_sync_lock);
	waiting_returned = sy[1].sy_returned + sy[2].sy_returned;
	pthread_mutex_unlock(&fs->s_sync_lock);
	is_int(waiting_returned, 0, "neither returns before a round covered it");
	gate(0);
	for (i = 0; i < 3; i++)
		pthread_join(sy[i].sy_thread, NULL);
	store_round_hook = NULL;
	ok(sy[0].sy_rv == 0 && sy[1].sy_rv == 0 && sy[2].sy_rv == 0,
	    "all three synced");
	is_int(fs->s_sync_rounds - rounds0, 2, "in two rounds: A's, then B's "
	                                        "and C's together");
	is_int(fs->s_sync_files - files0, 2,
	    "their common directory synced once");
	ok(sy[1].sy_rounds_at_return >= rounds0 + 2 &&
	        sy[2].sy_rounds_at_return >= rounds0 + 2,
	    "B and C returned after the second round");
}

struct committer {
	struct store *cm_store;
	struct store_writer *cm_w;
	char cm_digest[DIGEST_BUFSZ];
	int cm_rv;
	pthread_t cm_thread;
};

static void *
committer_run(void *arg)
{
	struct committer *cm = arg;

	cm->cm_rv = store_writer_commit(cm->cm_w, cm->cm_digest);
	return NULL;
}

/*
 * Concurrent commits share rounds: with the first round held until the
 * other three wait, four commits take fewer than the 8 rounds they
 * would alone, and every one is complete.
 */
static void
test_concurrent_commits(struct store *s)
{
	struct store_fs *fs = (struct store_fs *)s;
	struct committer cm[4];
	char uuid[64], bytes[64], *got = NULL;
	uint64_t rounds0 = fs->s_sync_rounds;
	size_t len;
	int i, good = 1;

	for (i = 0; i < 4; i++) {
		snprintf(uuid, sizeof(uuid),
		    "cccccccc-0000-4000-8000-00000000000%d", i);
		snprintf(bytes, sizeof(bytes), "concurrent commit %d", i);
		cm[i].cm_store = s;
		cm[i].cm_w = store_upload_create(s, "group/repo", uuid);
		if (cm[i].cm_w == NULL ||
		    store_writer_append(cm[i].cm_w, bytes, strlen(bytes)) == -1)
			good = 0;
		digest_buf(bytes, strlen(bytes), cm[i].cm_digest);
	}
	ok(good, "four uploads ready");
	if (!good)
		return;
	rounds_seen = 0;
	gate(1);
	store_round_hook = rec_round;
	pthread_create(&cm[0].cm_thread, NULL, committer_run, &cm[0]);
	ok(wait_until(rounds_seen_cb, NULL, 1), "first commit's round held");
	for (i = 1; i < 4; i++)
		pthread_create(&cm[i].cm_thread, NULL, committer_run, &cm[i]);
	ok(wait_until(sync_waiting_cb, fs, 3), "three more commits wait for it");
	gate(0);
	for (i = 0; i < 4; i++)
		pthread_join(cm[i].cm_thread, NULL);
	store_round_hook = NULL;
	for (i = 0; i < 4; i++) {
		if (cm[i].cm_rv != 0 ||
		    store_link_exists(s, "group/repo", STORE_LINK_LAYER,
		        cm[i].cm_digest) != 1)
			good = 0;
		snprintf(bytes, sizeof(bytes), "concurrent commit %d", i);
		if (store_blob_read(s, cm[i].cm_digest, 64, &got, &len) == -1)
			good = 0;
		else if (len != strlen(bytes) || memcmp(got, bytes, len) != 0)
			good = 0;
		free(got);
		store_writer_free(cm[i].cm_w);
	}
	ok(good, "all four committed: blob and layer link");
	ok(fs->s_sync_rounds - rounds0 < 8,
	    "in %d rounds, not 8: they shared",
	    (int)(fs->s_sync_rounds - rounds0));
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

/*
 * Only QUICK calls run on the loop: a listing may hold 100 000 entries
 * (STORE_CALL_LIST), and store_call sends it to the store workers.
 */
static void
test_cheap(void)
{
	ok(store_fs_cheap(STORE_CALL_QUICK), "QUICK calls run inline");
	ok(!store_fs_cheap(STORE_CALL_LIST), "LIST calls leave the loop");
	ok(!store_fs_cheap(STORE_CALL_DURABLE), "DURABLE calls leave the loop");
	ok(!store_fs_cheap(STORE_CALL_WALK), "WALK calls leave the loop");
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
	test_cheap();
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
	test_commit_rounds(s);
	test_group_sync(s);
	test_concurrent_commits(s);
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
