/*
 * Unit tests for fsck.c: a tree built through the store, checked clean,
 * then corrupted one way at a time; each corruption must be reported with
 * the right line and severity, and crash litter only as info.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/fsck.c"
#include "store_fs.h"
#include "tap.h"

static char root[PATH_MAX];
static char v2[PATH_MAX + 32];
static struct store *st;
static char out[65536];
static struct fsck_result res;

/* Run fsck into out and res; the return value of fsck_run. */
static int
run(void)
{
	FILE *f;
	int rv;

	memset(out, 0, sizeof(out));
	if ((f = fmemopen(out, sizeof(out) - 1, "w")) == NULL)
		return -1;
	rv = fsck_run(st, f, &res);
	fclose(f);
	return rv;
}

/* 1 when a line of out contains needle. */
static int
has(const char *needle)
{
	return strstr(out, needle) != NULL;
}

/* A walk callback that stops at the first item. */
static int
stop_cb(const struct store_item *it, void *arg)
{
	(void)it;
	(void)arg;
	return -1;
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a shell command in the v2 directory. */
static void
sh(const char *fmt, ...)
{
	char cmd[8192];
	int n;
	va_list ap;

	n = snprintf(cmd, sizeof(cmd), "cd '%s' && ", v2);
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		printf("# command failed: %s\n", cmd);
}

static void
blob(const char *content, char digest[DIGEST_BUFSZ])
{
	digest_buf(content, strlen(content), digest);
	if (store_blob_write(st, digest, content, strlen(content)) == -1)
		printf("# store_blob_write: %s\n", strerror(errno));
}

/* Push an image (config + layer + manifest) to name, tagged tag. */
static void
image(const char *name, const char *tag, const char *seed,
    char cfg[DIGEST_BUFSZ], char layer[DIGEST_BUFSZ], char man[DIGEST_BUFSZ])
{
	char c[256], l[256], m[1024];

	snprintf(c, sizeof(c), "{\"architecture\":\"amd64\",\"os\":\"%s\"}",
	    seed);
	snprintf(l, sizeof(l), "layer bytes of %s", seed);
	blob(c, cfg);
	blob(l, layer);
	store_link_write(st, name, STORE_LINK_LAYER, cfg);
	store_link_write(st, name, STORE_LINK_LAYER, layer);
	snprintf(m, sizeof(m),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\","
	    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config."
	    "v1+json\",\"digest\":\"%s\",\"size\":%zu},"
	    "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer."
	    "v1.tar\",\"digest\":\"%s\",\"size\":%zu}]}",
	    MT_OCI_MANIFEST, cfg, strlen(c), layer, strlen(l));
	blob(m, man);
	store_link_write(st, name, STORE_LINK_REVISION, man);
	if (tag != NULL)
		store_tag_set(st, name, tag, man);
}

int
main(void)
{
	char c1[DIGEST_BUFSZ], l1[DIGEST_BUFSZ], m1[DIGEST_BUFSZ];
	char c2[DIGEST_BUFSZ], l2[DIGEST_BUFSZ], m2[DIGEST_BUFSZ];
	char c3[DIGEST_BUFSZ], l3[DIGEST_BUFSZ], m3[DIGEST_BUFSZ];
	char x[DIGEST_BUFSZ], line[512], err[256];
	const char *tmp;

	log_init(LOG_LVL_ERROR, 0);
	tmp = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	snprintf(root, sizeof(root), "%s/fsck-test.XXXXXX", tmp);
	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(v2, sizeof(v2), "%s/docker/registry/v2", root);
	st = store_fs_open(root, 0, err, sizeof(err));
	ok(st != NULL, "store_fs_open %s", root);
	if (st == NULL)
		return done_testing();

	/* ---- an empty tree ---- */
	ok(run() == 0 && res.fr_problems == 0 && res.fr_blobs == 0,
	    "an empty tree is clean");
	ok(has("fsck: 0 blobs, 0 repositories, 0 problems"), "summary line");

	/* ---- a good tree ---- */
	image("lib/app", "v1", "one", c1, l1, m1);
	image("lib/app", NULL, "two", c2, l2, m2); /* untagged */
	image("other", "latest", "three", c3, l3, m3);
	store_tag_set(st, "other", "old", m3);
	ok(run() == 0, "fsck_run on a good tree");
	is_int(res.fr_problems, 0, "no problems");
	is_int(res.fr_warnings, 0, "no warnings");
	is_int(res.fr_info, 0, "no info");
	is_int(res.fr_blobs, 9, "9 blobs");
	is_int(res.fr_repos, 2, "2 repositories");
	ok(has("fsck: 9 blobs, 2 repositories, 0 problems"), "summary");

	/* ---- crash litter: info only ---- */
	sh("mkdir -p repositories/lib/app/_uploads/0b4a2b9c-1111-4222-8333-"
	   "444455556666 && echo 2026 >repositories/lib/app/_uploads/"
	   "0b4a2b9c-1111-4222-8333-444455556666/startedat && "
	   "echo x >repositories/lib/app/_manifests/tags/v1/current/"
	   "link.0011223344556677.tmp && "
	   "echo y >blobs/sha256/%.2s/%s/data.8899aabbccddeeff.tmp && "
	   "mkdir -p blobs/sha256/ab/ab%s && "
	   "mkdir -p repositories/other/_layers/sha256/%s && "
	   "mkdir -p repositories/other/_manifests/tags/new/index",
	    digest_hex(l1), digest_hex(l1),
	    "00000000000000000000000000000000000000000000000000000000000000",
	    "1111111111111111111111111111111111111111111111111111111111111111");
	ok(run() == 0, "fsck_run with crash litter");
	is_int(res.fr_problems, 0, "litter is no problem");
	is_int(res.fr_info, 6, "six info lines");
	ok(has("info: repository lib/app: upload "
	       "0b4a2b9c-1111-4222-8333-444455556666 in progress"),
	    "upload dir reported");
	ok(has("current/link.0011223344556677.tmp: stray temporary file"),
	    "tmp link reported");
	ok(has("data.8899aabbccddeeff.tmp: stray temporary file"),
	    "tmp blob reported");
	ok(has("info: blob sha256:ab0000"), "blob dir without data reported");
	ok(has("info: repository other: layer link sha256:1111"),
	    "link dir without link reported");
	ok(has("info: tag other:new: no link file"),
	    "tag without current link reported");
	sh("rm -rf repositories/lib/app/_uploads "
	   "repositories/lib/app/_manifests/tags/v1/current/*.tmp "
	   "blobs/sha256/%.2s/%s/*.tmp blobs/sha256/ab "
	   "repositories/other/_layers/sha256/1111* "
	   "repositories/other/_manifests/tags/new",
	    digest_hex(l1), digest_hex(l1));
	ok(run() == 0 && res.fr_problems + res.fr_info + res.fr_warnings == 0,
	    "clean again");

	/* ---- the referrers index: known, and a stale entry is info ---- */
	ok(store_referrer_put(st, "lib/app", m2, m1, "{}", 2,
	       STORE_REFERRER_DURABLE) == 0 &&
	        store_referrer_put(st, "lib/app", m1, NULL, NULL, 0, 0) == 0,
	    "a referrers index entry and a mark");
	ok(run() == 0 && res.fr_problems + res.fr_info + res.fr_warnings == 0,
	    "the referrers index is part of the layout");
	ok(store_referrer_put(st, "lib/app", m3, m1, "{}", 2, 0) == 0,
	    "an entry whose referrer is no revision of the repository");
	ok(run() == 0 && res.fr_problems + res.fr_warnings == 0 &&
	        res.fr_info == 1,
	    "a stale entry: info only");
	snprintf(line, sizeof(line),
	    "info: repository lib/app: referrers index: %s (subject %s) is "
	    "not a revision: stale entry",
	    m3, m1);
	ok(has(line), "reported as: %s", line);
	sh("rm -rf repositories/lib/app/_registryd");
	ok(run() == 0 && res.fr_problems + res.fr_info + res.fr_warnings == 0,
	    "clean without the index");

	/* ---- a blob whose bytes changed ---- */
	sh("cp blobs/sha256/%.2s/%s/data ../../../fsck-save && "
	   "printf tampered >blobs/sha256/%.2s/%s/data",
	    digest_hex(l1), digest_hex(l1), digest_hex(l1), digest_hex(l1));
	digest_buf("tampered", 8, x);
	snprintf(line, sizeof(line), "blob %s: content hashes to %s\n", l1, x);
	ok(run() == 0 && res.fr_problems == 1, "tampered blob: one problem");
	ok(has(line), "reported as: %s", line);
	sh("mv ../../../fsck-save blobs/sha256/%.2s/%s/data", digest_hex(l1),
	    digest_hex(l1));

	/* ---- a blob in the wrong fan-out directory ---- */
	sh("mkdir -p blobs/sha256/zz blobs/sha256/00 && "
	   "mv blobs/sha256/%.2s/%s blobs/sha256/00/",
	    digest_hex(c3), digest_hex(c3));
	run();
	snprintf(line, sizeof(line), "blob %s: in fan-out directory 00", c3);
	ok(has(line), "wrong fan-out reported");
	ok(has("blobs/sha256/zz: unexpected entry"), "bad fan-out dir");
	/* The config is now missing for other:latest and other:old. */
	snprintf(line, sizeof(line),
	    "manifest %s in other: config %s: blob "
	    "missing",
	    m3, c3);
	ok(has(line), "tagged manifest with a missing config: %s", line);
	is_int(res.fr_problems, 4, "four problems");
	sh("mv blobs/sha256/00/%s blobs/sha256/%.2s/ && rmdir blobs/sha256/00 "
	   "blobs/sha256/zz",
	    digest_hex(c3), digest_hex(c3));

	/* ---- malformed links ---- */
	sh("printf '%s\\n' >repositories/lib/app/_layers/sha256/%s/link", c1,
	    digest_hex(c1));
	sh("printf '%s' >repositories/other/_manifests/revisions/sha256/%s/"
	   "link",
	    m1, digest_hex(m3));
	run();
	snprintf(line, sizeof(line),
	    "repository lib/app: layer link sha256:%s: link ends with a "
	    "newline",
	    digest_hex(c1));
	ok(has(line), "newline in link");
	snprintf(line, sizeof(line),
	    "repository other: revision sha256:%s: link names %s",
	    digest_hex(m3), m1);
	ok(has(line), "link naming another digest");
	snprintf(line, sizeof(line),
	    "tag other:latest: points to %s, which is not a revision", m3);
	ok(has(line), "tag to a missing revision");
	snprintf(line, sizeof(line),
	    "manifest %s in lib/app: config %s: not "
	    "linked in the repository",
	    m1, c1);
	ok(has(line), "tagged manifest with an unlinked config");
	is_int(res.fr_problems, 5, "five problems");
	sh("printf '%s' >repositories/lib/app/_layers/sha256/%s/link", c1,
	    digest_hex(c1));
	sh("printf '%s' >repositories/other/_manifests/revisions/sha256/%s/"
	   "link",
	    m3, digest_hex(m3));
	ok(run() == 0 && res.fr_problems + res.fr_warnings == 0, "clean again");

	/* ---- missing blobs: tagged is a problem, untagged a warning ---- */
	sh("rm -rf blobs/sha256/%.2s/%s blobs/sha256/%.2s/%s", digest_hex(l1),
	    digest_hex(l1), digest_hex(l2), digest_hex(l2));
	run();
	snprintf(line, sizeof(line),
	    "repository lib/app: layer link sha256:%s: blob missing",
	    digest_hex(l1));
	ok(has(line), "layer link to a missing blob");
	snprintf(line, sizeof(line),
	    "\nmanifest %s in lib/app: layer %s: "
	    "blob missing",
	    m1, l1);
	ok(has(line), "tagged manifest: problem");
	snprintf(line, sizeof(line),
	    "warning: manifest %s in lib/app: layer "
	    "%s: blob missing",
	    m2, l2);
	ok(has(line), "untagged manifest: warning");
	is_int(res.fr_problems, 3, "problems: two links, one tagged manifest");
	is_int(res.fr_warnings, 1, "one warning");

	/* ---- a missing manifest blob ---- */
	sh("rm -rf blobs/sha256/%.2s/%s", digest_hex(m3), digest_hex(m3));
	run();
	snprintf(line, sizeof(line),
	    "repository other: revision sha256:%s: "
	    "blob missing",
	    digest_hex(m3));
	ok(has(line), "revision link to a missing manifest");

	/* ---- unexpected entries, symlinks ---- */
	sh("ln -s /etc repositories/other/_layers/sha256/%s && "
	   "touch repositories/stray-file && mkdir -p repositories/x/_weird",
	    "2222222222222222222222222222222222222222222222222222222222222222");
	run();
	ok(has("/_layers/sha256/2222222222222222222222222222222222222222222222"
	       "222222222222222222: is not a directory"),
	    "symlink in place of a link dir");
	ok(has("warning: repositories/stray-file: unexpected entry"),
	    "stray file");
	ok(has("warning: repositories/x/_weird: unexpected entry"),
	    "unknown underscore dir");

	/* ---- read-only open: no write access needed, nothing created ---- */
	{
		struct store *ro;
		char missing[PATH_MAX + 16];

		ro = store_fs_open(root, STORE_FS_READONLY, err, sizeof(err));
		ok(ro != NULL, "store_fs_open read-only");
		store_close(ro);
		snprintf(missing, sizeof(missing), "%s/nothere", root);
		ro = store_fs_open(missing, STORE_FS_READONLY, err,
		    sizeof(err));
		ok(ro == NULL && strstr(err, "nothere") != NULL,
		    "read-only store_fs_open on a missing root: %s", err);
		ok(access(missing, F_OK) == -1, "nothing created");
		store_close(ro);
	}
	ok(store_walk(st, stop_cb, NULL) == -1, "a callback stops the walk");

	/*
	 * ---- names that end in ".tmp" ----
	 * "lib.tmp/app" is a valid repository name and "v1.tmp" a valid
	 * tag; only files are temporary. Skipping them as litter hid the
	 * repository from fsck, du and garbage collection, which then
	 * counted its blobs as unreferenced.
	 */
	sh("rm -rf repositories/other/_layers/sha256/2222* "
	   "repositories/stray-file repositories/x");
	image("lib.tmp/app", "v1.tmp", "tmp-named", x, l3, m3);
	run();
	is_int(res.fr_repos, 3, "a repository named lib.tmp/app is seen");
	ok(!has("stray temporary file"),
	    "a directory named *.tmp is no temporary file");

	store_close(st);
	sh("rm -rf '%s'", root);
	return done_testing();
}
