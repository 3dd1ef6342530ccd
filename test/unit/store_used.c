/*
 * The storage contract for when things were last used (store.h:
 * store_blob_used, store_link_used, store_link_touch, and store_link_write
 * and an upload commit counting as use), on both drivers with the public
 * interface only. Online garbage collection stands on it: a blob found
 * present by a push must look used to a collector from then on.
 *
 * Times are compared across a pause of a little over a second, so that a
 * file system keeping whole seconds passes too; both drivers are set up
 * first and share the one pause.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "store.h"
#include "store_fs.h"
#include "store_mem.h"
#include "fixture.h"
#include "tap.h"

#define NAME  "lib/used"
#define OTHER "lib/other"
#define UUID1 "11111111-2222-3333-4444-555555555561"

static char d_a[DIGEST_BUFSZ], d_b[DIGEST_BUFSZ], d_c[DIGEST_BUFSZ];
static char d_gone[DIGEST_BUFSZ], d_m[DIGEST_BUFSZ];

/* What setup saw, for the checks after the pause. */
struct used {
	struct store *u_store;
	const char *u_drv;
	struct timespec u_before; /* just before setup */
	struct timespec u_a;      /* blob a after its write */
	struct timespec u_la;     /* its link */
};

/* ms from a to b. */
static int64_t
ms_between(const struct timespec *a, const struct timespec *b)
{
	return ((int64_t)b->tv_sec - (int64_t)a->tv_sec) * 1000 +
	    ((int64_t)b->tv_nsec - (int64_t)a->tv_nsec) / 1000000;
}

static int
same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/*
 * fresh_left_alone: link b and blob b were just written; using them again
 * (store_link_use, a blob HEAD) while their marks are younger than
 * STORE_TOUCH_FRESH_MS writes nothing (bench row 5b: two utimensat a
 * blob HEAD); store_link_touch (a manifest PUT's references) writes them
 * all the same, since another process's sweep relies on it (store.h).
 * The skip is asserted only when the marks were surely fresh at the use,
 * whatever the machine's load.
 */
static void
fresh_left_alone(struct used *u)
{
	struct store *s = u->u_store;
	const char *drv = u->u_drv;
	struct timespec l0, b0, l1, b1, l2, b2, t;
	int ok_u, ok_t;

	ok(store_link_used(s, NAME, STORE_LINK_LAYER, d_b, &l0) == 0 &&
	        store_blob_used(s, d_b, &b0) == 0,
	    "%s: b's marks", drv);
	usleep(20 * 1000); /* past a tick of the coarse clock */
	ok_u = store_link_use(s, NAME, STORE_LINK_LAYER, d_b) == 1;
	ok(ok_u && store_link_used(s, NAME, STORE_LINK_LAYER, d_b, &l1) == 0 &&
	        store_blob_used(s, d_b, &b1) == 0,
	    "%s: store_link_use of a fresh link: 1", drv);
	(void)clock_gettime(CLOCK_REALTIME, &t);
	if (ms_between(&l0, &t) >= STORE_TOUCH_FRESH_MS - 100 ||
	    ms_between(&b0, &t) >= STORE_TOUCH_FRESH_MS - 100)
		ok(1, "%s: # skip too slow to be sure the marks were fresh",
		    drv);
	else
		ok(same_time(&l0, &l1) && same_time(&b0, &b1),
		    "%s: using fresh marks leaves them alone", drv);
	ok_t = store_link_touch(s, NAME, STORE_LINK_LAYER, d_b) == 0;
	ok(ok_t && store_link_used(s, NAME, STORE_LINK_LAYER, d_b, &l2) == 0 &&
	        store_blob_used(s, d_b, &b2) == 0 && ms_between(&l0, &l2) > 0 &&
	        ms_between(&b0, &b2) > 0,
	    "%s: store_link_touch writes fresh marks all the same", drv);
}

static void
now(struct timespec *ts)
{
	(void)clock_gettime(CLOCK_REALTIME_COARSE, ts);
}

/* a is at or after b, b truncated to whole seconds (coarse file systems). */
static int
not_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec >= b->tv_sec;
}

/* a is strictly before b by at least a second. */
static int
older(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec;
}

/*
 * setup: blobs a, b, c (c stored without any link), links of a and b in
 * NAME, a revision m, a link in OTHER to a blob that does not exist.
 */
static void
setup(struct used *u)
{
	struct store *s = u->u_store;
	const char *drv = u->u_drv;
	struct timespec ts;

	now(&u->u_before);
	ok(store_blob_used(s, d_a, &ts) == -1 && errno == ENOENT,
	    "%s: store_blob_used of a missing blob: ENOENT", drv);
	ok(store_link_used(s, NAME, STORE_LINK_LAYER, d_a, &ts) == -1 &&
	        errno == ENOENT,
	    "%s: store_link_used of a missing link: ENOENT", drv);
	ok(store_blob_write(s, d_a, "a", 1) == 0 &&
	        store_blob_write(s, d_b, "b", 1) == 0 &&
	        store_blob_write(s, d_c, "c", 1) == 0 &&
	        store_blob_write(s, d_m, "{}", 2) == 0,
	    "%s: blobs written", drv);
	ok(store_blob_used(s, d_a, &u->u_a) == 0 &&
	        not_before(&u->u_a, &u->u_before),
	    "%s: a new blob is used from its write", drv);
	ok(store_link_touch(s, NAME, STORE_LINK_LAYER, d_a) == -1 &&
	        errno == ENOENT,
	    "%s: store_link_touch creates no link: ENOENT", drv);
	ok(store_link_used(s, NAME, STORE_LINK_LAYER, d_a, &ts) == -1 &&
	        errno == ENOENT,
	    "%s: ... and there is still none", drv);
	ok(store_link_write(s, NAME, STORE_LINK_LAYER, d_a) == 0 &&
	        store_link_write(s, NAME, STORE_LINK_LAYER, d_b) == 0 &&
	        store_link_write(s, NAME, STORE_LINK_REVISION, d_m) == 0 &&
	        store_link_write(s, OTHER, STORE_LINK_LAYER, d_gone) == 0,
	    "%s: links written", drv);
	ok(store_link_used(s, NAME, STORE_LINK_LAYER, d_a, &u->u_la) == 0 &&
	        not_before(&u->u_la, &u->u_before),
	    "%s: a new link is used from its write", drv);
	fresh_left_alone(u);
	ok(store_link_used(s, NAME, STORE_LINK_REVISION, d_m, &ts) == 0,
	    "%s: revision links have times too", drv);
	ok(store_link_used(s, NAME, STORE_LINK_LAYER, d_c, &ts) == -1 &&
	        errno == ENOENT,
	    "%s: a link of another blob is not a", drv);
	ok(store_blob_used(s, "sha256:nope", &ts) == -1 && errno == EINVAL &&
	        store_link_used(s, "../x", STORE_LINK_LAYER, d_a, &ts) == -1 &&
	        errno == EINVAL &&
	        store_link_touch(s, NAME, STORE_LINK_LAYER, "md5:x") == -1 &&
	        errno == EINVAL,
	    "%s: malformed names and digests: EINVAL", drv);
}

/* After the pause: what touching, linking again and committing do. */
static void
check(struct used *u)
{
	struct store *s = u->u_store;
	const char *drv = u->u_drv;
	struct store_writer *w;
	struct timespec t0, ts, tb;

	now(&t0);
	ok(store_blob_used(s, d_a, &ts) == 0 && older(&ts, &t0),
	    "%s: untouched, blob a is older than a second", drv);
	ok(store_link_touch(s, NAME, STORE_LINK_LAYER, d_a) == 0,
	    "%s: store_link_touch of a's link", drv);
	ok(store_link_used(s, NAME, STORE_LINK_LAYER, d_a, &ts) == 0 &&
	        not_before(&ts, &t0),
	    "%s: touching makes the link used now", drv);
	ok(store_blob_used(s, d_a, &ts) == 0 && not_before(&ts, &t0),
	    "%s: ... and the blob it names", drv);
	ok(store_blob_used(s, d_b, &ts) == 0 && older(&ts, &t0),
	    "%s: another blob is not touched", drv);
	ok(store_link_used(s, NAME, STORE_LINK_REVISION, d_m, &ts) == 0 &&
	        older(&ts, &t0),
	    "%s: nor the revision link", drv);
	/* Marks older than STORE_TOUCH_FRESH_MS: a HEAD touches them. */
	ok(store_link_use(s, NAME, STORE_LINK_LAYER, d_b) == 1 &&
	        store_link_used(s, NAME, STORE_LINK_LAYER, d_b, &ts) == 0 &&
	        not_before(&ts, &t0) && store_blob_used(s, d_b, &tb) == 0 &&
	        not_before(&tb, &t0),
	    "%s: store_link_use of a link used a second ago touches it and "
	    "its blob",
	    drv);
	ok(store_link_use(s, NAME, STORE_LINK_LAYER, d_c) == 0 &&
	        store_link_use(s, OTHER, STORE_LINK_LAYER, d_gone) == 0,
	    "%s: store_link_use without the link or the blob: 0", drv);
	/* Writing an existing link again (a mount, a dedup commit). */
	ok(store_link_write(s, NAME, STORE_LINK_LAYER, d_b) == 0,
	    "%s: link b written again", drv);
	ok(store_link_used(s, NAME, STORE_LINK_LAYER, d_b, &ts) == 0 &&
	        not_before(&ts, &t0) && store_blob_used(s, d_b, &tb) == 0 &&
	        not_before(&tb, &t0),
	    "%s: writing an existing link touches it and its blob", drv);
	ok(store_link_exists(s, NAME, STORE_LINK_LAYER, d_b) == 1,
	    "%s: ... and the link still works", drv);
	/* A new link in a repository that never had one (a mount). */
	ok(store_link_write(s, OTHER, STORE_LINK_LAYER, d_c) == 0 &&
	        store_blob_used(s, d_c, &ts) == 0 && not_before(&ts, &t0),
	    "%s: a new link touches its old blob", drv);
	/* The blob of a link may be gone: the link is touched alone. */
	ok(store_link_touch(s, OTHER, STORE_LINK_LAYER, d_gone) == -1 &&
	        errno == ENOENT,
	    "%s: touching a link to a missing blob: ENOENT", drv);
	ok(store_link_used(s, OTHER, STORE_LINK_LAYER, d_gone, &ts) == 0 &&
	        not_before(&ts, &t0),
	    "%s: ... the link was touched all the same", drv);
	ok(store_link_delete(s, NAME, STORE_LINK_REVISION, d_m) == 0 &&
	        store_link_touch(s, NAME, STORE_LINK_REVISION, d_m) == -1 &&
	        errno == ENOENT,
	    "%s: a deleted link is not touched back into being", drv);
	ok(store_link_used(s, NAME, STORE_LINK_REVISION, d_m, &ts) == -1 &&
	        errno == ENOENT,
	    "%s: ... it stays deleted", drv);
	/* An upload of bytes the store already has (old blob b, now m). */
	ok((w = store_upload_create(s, OTHER, UUID1)) != NULL &&
	        store_writer_append(w, "{}", 2) == 0,
	    "%s: an upload of m's bytes", drv);
	ok(w != NULL && store_writer_commit(w, d_m) == 0,
	    "%s: committed onto the existing blob", drv);
	store_writer_free(w);
	ok(store_blob_used(s, d_m, &ts) == 0 && not_before(&ts, &t0) &&
	        store_link_used(s, OTHER, STORE_LINK_LAYER, d_m, &tb) == 0 &&
	        not_before(&tb, &t0),
	    "%s: the commit made the old blob and its new link used now", drv);
	ok(store_blob_delete(s, d_a) == 0 &&
	        store_blob_used(s, d_a, &ts) == -1 && errno == ENOENT,
	    "%s: a deleted blob has no time", drv);
}

int
main(void)
{
	char root[PATH_MAX], err[256];
	struct used u[2];
	const char *tmp;
	size_t len, n = 0, i;

	digest_buf("a", 1, d_a);
	digest_buf("b", 1, d_b);
	digest_buf("c", 1, d_c);
	digest_buf("gone", 4, d_gone);
	digest_buf("{}", 2, d_m);

	if ((tmp = getenv("TMPDIR")) == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	len = (size_t)snprintf(root, sizeof(root), "%s/store_used.XXXXXX", tmp);
	if (len >= sizeof(root) || mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	memset(u, 0, sizeof(u));
	u[n].u_store = store_fs_open(root, 0, err, sizeof(err));
	ok(u[n].u_store != NULL, "filesystem: store_fs_open: %s",
	    u[n].u_store != NULL ? "" : err);
	u[n].u_drv = "filesystem";
	if (u[n].u_store != NULL)
		n++;
	u[n].u_store = store_mem_open();
	u[n].u_drv = "memory";
	ok(u[n].u_store != NULL, "memory: store_mem_open");
	if (u[n].u_store != NULL)
		n++;

	for (i = 0; i < n; i++)
		setup(&u[i]);
	/* Past the next whole second for every driver. */
	usleep(1100 * 1000);
	for (i = 0; i < n; i++) {
		check(&u[i]);
		store_close(u[i].u_store);
	}

	rm_tree(root);
	return done_testing();
}
