/*
 * The storage contract (include/store.h), one set of assertions run
 * against every driver: the filesystem driver on a throw-away directory
 * and the memory driver. Only the public interface is used, so what
 * passes here is what the registry may rely on whatever the driver; what
 * a driver does beyond the contract (paths, fsync) has its own test.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
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

#define NAME    "lib/alpine"
#define UUID1   "11111111-2222-3333-4444-555555555551"
#define UUID2   "11111111-2222-3333-4444-555555555552"
#define UUID3   "11111111-2222-3333-4444-555555555553"
#define UUID4   "11111111-2222-3333-4444-555555555554"
#define UUID5   "11111111-2222-3333-4444-555555555555"
#define REFS    "lib/refs" /* the repository of contract_referrers */
#define THREADS 4  /* concurrent users of one store */
#define ROUNDS  20 /* what each of them writes */

/* What a walk reported, for the assertions after it. */
struct seen {
	int sn_count[STORE_ITEM_ODD + 1];
	int sn_odd_bad;         /* ODD items of WARNING or worse */
	int sn_blob_after_repo; /* a BLOB came after a REPO */
	int sn_blob_hello;      /* the "hello" blob, with size 5 */
	int sn_repo;            /* NAME */
	int sn_layer;           /* NAME's layer link to "hello", target OK */
	int sn_revision;        /* NAME's revision link to the manifest */
	int sn_tag;             /* NAME:latest, target the second manifest */
	int sn_index;           /* NAME:latest index entries, both manifests */
	int sn_upload;          /* NAME's UUID5 session */
	int sn_referrer;        /* REFS's entry (m1, up) */
	int sn_stop_after;      /* stop the walk after this many items */
};

/* A STORE_CALL_QUICK and what its two halves saw. */
struct lookup {
	struct store_call l_call; /* first: the callbacks cast back */
	struct store *l_store;
	const char *l_digest;
	int l_rv;
	uint64_t l_size;
	int l_worked;
	int l_done;
};

/* One thread of the concurrency checks. */
struct worker {
	pthread_t wk_thread;
	struct store *wk_store;
	int wk_id;
	int wk_failed;
};

static char digest_hello[DIGEST_BUFSZ], digest_world[DIGEST_BUFSZ];
static char digest_empty[DIGEST_BUFSZ], digest_m1[DIGEST_BUFSZ];
static char digest_m2[DIGEST_BUFSZ], digest_up[DIGEST_BUFSZ];

/*
 * Start THREADS workers on s running run, wait for them all; returns how
 * many started, and adds the failures they counted to *failed.
 */
static int
workers_run(struct worker *wk, struct store *s, void *(*run)(void *),
    int *failed)
{
	int i, started = 0;

	for (i = 0; i < THREADS; i++) {
		wk[i].wk_store = s;
		wk[i].wk_id = i;
		wk[i].wk_failed = 0;
		if (pthread_create(&wk[i].wk_thread, NULL, run, &wk[i]) != 0)
			break;
		started++;
	}
	for (i = 0; i < started; i++) {
		pthread_join(wk[i].wk_thread, NULL);
		*failed += wk[i].wk_failed;
	}
	return started;
}

/* list_is: the list has exactly the n strings of want, in that order. */
static int
list_is(char **l, size_t n, const char *const *want, size_t wn)
{
	size_t i;

	if (n != wn)
		return 0;
	for (i = 0; i < n; i++)
		if (strcmp(l[i], want[i]) != 0)
			return 0;
	return 1;
}

static void
list_show(char **l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("#   [%zu] %s\n", i, l[i]);
}

static int
walk_cb(const struct store_item *it, void *arg)
{
	struct seen *sn = arg;
	int total = 0, k;

	for (k = 0; k <= STORE_ITEM_ODD; k++)
		total += sn->sn_count[k];
	if (sn->sn_stop_after > 0 && total >= sn->sn_stop_after)
		return -1;
	if (it->si_kind <= STORE_ITEM_ODD)
		sn->sn_count[it->si_kind]++;
	switch (it->si_kind) {
	case STORE_ITEM_BLOB:
		if (sn->sn_count[STORE_ITEM_REPO] > 0)
			sn->sn_blob_after_repo = 1;
		if (strcmp(it->si_digest, digest_hello) == 0 &&
		    it->si_size == 5)
			sn->sn_blob_hello = 1;
		break;
	case STORE_ITEM_REPO:
		if (strcmp(it->si_name, NAME) == 0)
			sn->sn_repo = 1;
		break;
	case STORE_ITEM_LINK:
		if (strcmp(it->si_name, NAME) != 0 ||
		    it->si_target_state != STORE_TARGET_OK ||
		    it->si_target == NULL ||
		    strcmp(it->si_target, it->si_digest) != 0 ||
		    it->si_target_len != strlen(it->si_digest))
			break;
		if (it->si_link == STORE_LINK_LAYER &&
		    strcmp(it->si_digest, digest_hello) == 0)
			sn->sn_layer = 1;
		if (it->si_link == STORE_LINK_REVISION &&
		    strcmp(it->si_digest, digest_m1) == 0)
			sn->sn_revision = 1;
		break;
	case STORE_ITEM_TAG:
		if (strcmp(it->si_name, NAME) == 0 &&
		    strcmp(it->si_tag, "latest") == 0 &&
		    it->si_target_state == STORE_TARGET_OK &&
		    it->si_target != NULL &&
		    strcmp(it->si_target, digest_m2) == 0)
			sn->sn_tag = 1;
		break;
	case STORE_ITEM_TAG_INDEX:
		if (strcmp(it->si_name, NAME) == 0 &&
		    strcmp(it->si_tag, "latest") == 0 &&
		    it->si_target_state == STORE_TARGET_OK &&
		    it->si_target != NULL &&
		    strcmp(it->si_target, it->si_digest) == 0 &&
		    (strcmp(it->si_digest, digest_m1) == 0 ||
		        strcmp(it->si_digest, digest_m2) == 0))
			sn->sn_index++;
		break;
	case STORE_ITEM_UPLOAD:
		if (strcmp(it->si_name, NAME) == 0 &&
		    strcmp(it->si_uuid, UUID5) == 0)
			sn->sn_upload = 1;
		break;
	case STORE_ITEM_REFERRER:
		if (strcmp(it->si_name, REFS) == 0 && it->si_subject != NULL &&
		    strcmp(it->si_subject, digest_m1) == 0 &&
		    strcmp(it->si_digest, digest_up) == 0)
			sn->sn_referrer = 1;
		break;
	case STORE_ITEM_ODD:
		printf("# odd: %s: %s\n", it->si_where ? it->si_where : "?",
		    it->si_what ? it->si_what : "?");
		if (it->si_severity != STORE_SEV_INFO)
			sn->sn_odd_bad = 1;
		break;
	}
	return 0;
}

static void
lookup_work(struct store_call *c)
{
	struct lookup *l = (struct lookup *)c;

	l->l_rv = store_blob_stat(l->l_store, l->l_digest, &l->l_size);
	l->l_worked = 1;
}

static void
lookup_done(struct store_call *c)
{
	struct lookup *l = (struct lookup *)c;

	/* The work must have happened, and only once, before the done. */
	if (l->l_worked == 1)
		l->l_done = 1;
}

/*
 * referrer_run: each thread indexes its own referrers of one subject, in
 * one repository, all on one store.
 */
static void *
referrer_run(void *arg)
{
	struct worker *wk = arg;
	char buf[64], d[DIGEST_BUFSZ];
	int i;

	for (i = 0; i < ROUNDS; i++) {
		snprintf(buf, sizeof(buf), "{\"thread\":%d,\"round\":%d}",
		    wk->wk_id, i);
		digest_buf(buf, strlen(buf), d);
		if (store_referrer_put(wk->wk_store, REFS, d, digest_m2, buf,
		        strlen(buf), i % 2 ? STORE_REFERRER_DURABLE : 0) == -1)
			wk->wk_failed++;
	}
	return NULL;
}

/*
 * worker_run: each thread writes its own blobs, links, tags and an
 * upload in its own repository, and reads them back, all on one store.
 */
static void *
worker_run(void *arg)
{
	struct worker *wk = arg;
	struct store_writer *w;
	char name[64], tag[32], uuid[64], buf[64], got[DIGEST_BUFSZ];
	char d[DIGEST_BUFSZ];
	uint64_t size;
	int i;

	snprintf(name, sizeof(name), "threads/t%d", wk->wk_id);
	for (i = 0; i < ROUNDS; i++) {
		snprintf(buf, sizeof(buf), "thread %d round %d", wk->wk_id, i);
		digest_buf(buf, strlen(buf), d);
		snprintf(tag, sizeof(tag), "r%d", i);
		if (store_blob_write(wk->wk_store, d, buf, strlen(buf)) == -1 ||
		    store_link_write(wk->wk_store, name, STORE_LINK_REVISION,
		        d) == -1 ||
		    store_tag_set(wk->wk_store, name, tag, d) == -1 ||
		    store_tag_get(wk->wk_store, name, tag, got) == -1 ||
		    strcmp(got, d) != 0 ||
		    store_link_exists(wk->wk_store, name, STORE_LINK_REVISION,
		        d) != 1)
			wk->wk_failed++;
		snprintf(uuid, sizeof(uuid), "00000000-0000-0000-%04d-%012d",
		    wk->wk_id, i);
		if ((w = store_upload_create(wk->wk_store, name, uuid)) ==
		    NULL) {
			wk->wk_failed++;
			continue;
		}
		if (store_writer_append(w, buf, strlen(buf)) == -1 ||
		    store_writer_hash(w, got) == -1 || strcmp(got, d) != 0 ||
		    store_writer_commit(w, d) == -1 ||
		    store_blob_stat(wk->wk_store, d, &size) == -1 ||
		    size != strlen(buf))
			wk->wk_failed++;
		store_writer_free(w);
	}
	return NULL;
}

/* contract_blobs: write, stat, read, read whole, delete. */
static void
contract_blobs(struct store *s, const char *drv)
{
	struct store_reader *r;
	uint64_t size = 99;
	char buf[16], dummy, *all;
	size_t len;

	ok(store_blob_stat(s, digest_hello, &size) == -1 && errno == ENOENT,
	    "%s: blob_stat of a missing blob: ENOENT", drv);
	ok(store_blob_open(s, digest_hello, &size) == NULL && errno == ENOENT,
	    "%s: blob_open of a missing blob: ENOENT", drv);
	ok(store_blob_write(s, digest_hello, "hello", 5) == 0, "%s: blob_write",
	    drv);
	ok(store_blob_write(s, digest_hello, "hello", 5) == 0,
	    "%s: blob_write again: idempotent", drv);
	ok(store_blob_stat(s, digest_hello, &size) == 0 && size == 5,
	    "%s: blob_stat gives the size", drv);

	size = 0;
	r = store_blob_open(s, digest_hello, &size);
	ok(r != NULL && size == 5, "%s: blob_open gives a reader and the size",
	    drv);
	if (r != NULL) {
		memset(buf, 0, sizeof(buf));
		ok(store_reader_read(r, buf, sizeof(buf), 0) == 5 &&
		        memcmp(buf, "hello", 5) == 0,
		    "%s: reader_read from 0: all of it", drv);
		memset(buf, 0, sizeof(buf));
		ok(store_reader_read(r, buf, 2, 2) == 2 &&
		        memcmp(buf, "ll", 2) == 0,
		    "%s: reader_read at an offset", drv);
		ok(store_reader_read(r, buf, sizeof(buf), 5) == 0,
		    "%s: reader_read at the end: 0", drv);
		store_reader_close(r);
	}

	all = NULL;
	ok(store_blob_read(s, digest_hello, 100, &all, &len) == 0 && len == 5 &&
	        all != NULL && strcmp(all, "hello") == 0,
	    "%s: blob_read: the whole blob, NUL-terminated", drv);
	free(all);
	all = &dummy;
	ok(store_blob_read(s, digest_hello, 4, &all, &len) == -1 &&
	        errno == EFBIG && all == NULL,
	    "%s: blob_read over max: EFBIG", drv);
	ok(store_blob_read(s, digest_hello, 5, &all, &len) == 0 && len == 5,
	    "%s: blob_read of exactly max", drv);
	free(all);

	ok(store_blob_write(s, digest_empty, "", 0) == 0 &&
	        store_blob_stat(s, digest_empty, &size) == 0 && size == 0,
	    "%s: an empty blob", drv);
	all = NULL;
	ok(store_blob_read(s, digest_empty, 0, &all, &len) == 0 && len == 0 &&
	        all != NULL && all[0] == '\0',
	    "%s: blob_read of an empty blob", drv);
	free(all);

	ok(store_blob_write(s, digest_world, "world", 5) == 0 &&
	        store_blob_delete(s, digest_world) == 0,
	    "%s: blob_delete", drv);
	ok(store_blob_stat(s, digest_world, &size) == -1 && errno == ENOENT,
	    "%s: a deleted blob is gone", drv);
	ok(store_blob_delete(s, digest_world) == -1 && errno == ENOENT,
	    "%s: blob_delete of a missing blob: ENOENT", drv);

	ok(store_blob_stat(s, "sha256:abc", &size) == -1 && errno == EINVAL,
	    "%s: blob_stat of a malformed digest: EINVAL", drv);
	ok(store_blob_write(s, "md5:abc", "x", 1) == -1 && errno == EINVAL,
	    "%s: blob_write of a malformed digest: EINVAL", drv);
	ok(store_blob_open(s, "../../x", &size) == NULL && errno == EINVAL,
	    "%s: blob_open of a malformed digest: EINVAL", drv);
	ok(store_blob_delete(s, "sha256:../x") == -1 && errno == EINVAL,
	    "%s: blob_delete of a malformed digest: EINVAL", drv);
}

/* contract_links: layer and revision links, and what they make exist. */
static void
contract_links(struct store *s, const char *drv)
{
	const char *sorted[2];
	char **l = NULL;
	size_t n = 99;

	ok(store_link_list(s, NAME, STORE_LINK_LAYER, &l, &n) == 0 && n == 0,
	    "%s: link_list of an unknown repository: empty", drv);
	store_list_free(l, n);
	ok(store_link_exists(s, NAME, STORE_LINK_LAYER, digest_world) == 0,
	    "%s: link_exists of a missing link: 0", drv);

	ok(store_link_write(s, NAME, STORE_LINK_LAYER, digest_world) == 0,
	    "%s: link_write of a layer whose blob is missing", drv);
	ok(store_link_exists(s, NAME, STORE_LINK_LAYER, digest_world) == 0,
	    "%s: link_exists is 0 while the blob is missing", drv);
	ok(store_link_write(s, NAME, STORE_LINK_LAYER, digest_hello) == 0,
	    "%s: link_write of a layer", drv);
	ok(store_link_exists(s, NAME, STORE_LINK_LAYER, digest_hello) == 1,
	    "%s: link_exists with link and blob: 1", drv);
	ok(store_link_write(s, NAME, STORE_LINK_LAYER, digest_hello) == 0 &&
	        store_link_exists(s, NAME, STORE_LINK_LAYER, digest_hello) == 1,
	    "%s: link_write again: idempotent", drv);
	ok(store_link_exists(s, NAME, STORE_LINK_REVISION, digest_hello) == 0,
	    "%s: a layer link is not a revision link", drv);
	ok(store_link_exists(s, "lib/other", STORE_LINK_LAYER, digest_hello) ==
	        0,
	    "%s: links are per repository", drv);

	if (strcmp(digest_hello, digest_world) < 0) {
		sorted[0] = digest_hello;
		sorted[1] = digest_world;
	} else {
		sorted[0] = digest_world;
		sorted[1] = digest_hello;
	}
	l = NULL;
	ok(store_link_list(s, NAME, STORE_LINK_LAYER, &l, &n) == 0 &&
	        list_is(l, n, sorted, 2),
	    "%s: link_list: both layers, by strcmp", drv);
	if (l != NULL && !list_is(l, n, sorted, 2))
		list_show(l, n);
	store_list_free(l, n);

	ok(store_repo_exists(s, NAME) == 0,
	    "%s: layer links alone do not make a repository", drv);
	l = NULL;
	ok(store_tag_list(s, NAME, &l, &n) == -1 && errno == ENOENT,
	    "%s: tag_list of a repository without manifests: ENOENT", drv);
	store_list_free(l, n);

	ok(store_link_delete(s, NAME, STORE_LINK_LAYER, digest_world) == 0,
	    "%s: link_delete", drv);
	ok(store_link_delete(s, NAME, STORE_LINK_LAYER, digest_world) == -1 &&
	        errno == ENOENT,
	    "%s: link_delete of a missing link: ENOENT", drv);
	l = NULL;
	ok(store_link_list(s, NAME, STORE_LINK_LAYER, &l, &n) == 0 &&
	        list_is(l, n, (const char *const[]){digest_hello}, 1),
	    "%s: link_list after the delete", drv);
	store_list_free(l, n);

	ok(store_blob_write(s, digest_m1, "{\"m\":1}", 7) == 0 &&
	        store_link_write(s, NAME, STORE_LINK_REVISION, digest_m1) == 0,
	    "%s: link_write of a revision", drv);
	ok(store_link_exists(s, NAME, STORE_LINK_REVISION, digest_m1) == 1,
	    "%s: link_exists of the revision", drv);
	ok(store_repo_exists(s, NAME) == 1,
	    "%s: a revision link makes the repository exist", drv);
	l = NULL;
	ok(store_link_list(s, NAME, STORE_LINK_REVISION, &l, &n) == 0 &&
	        list_is(l, n, (const char *const[]){digest_m1}, 1),
	    "%s: link_list of revisions", drv);
	store_list_free(l, n);
	l = NULL;
	ok(store_tag_list(s, NAME, &l, &n) == 0 && n == 0,
	    "%s: tag_list of a repository without tags: empty", drv);
	store_list_free(l, n);

	/* The blob goes, the link stays but no longer counts. */
	ok(store_blob_write(s, digest_world, "world", 5) == 0 &&
	        store_link_write(s, NAME, STORE_LINK_LAYER, digest_world) ==
	            0 &&
	        store_link_exists(s, NAME, STORE_LINK_LAYER, digest_world) ==
	            1 &&
	        store_blob_delete(s, digest_world) == 0 &&
	        store_link_exists(s, NAME, STORE_LINK_LAYER, digest_world) == 0,
	    "%s: link_exists is 0 once the blob is deleted", drv);
	ok(store_link_delete(s, NAME, STORE_LINK_LAYER, digest_world) == 0,
	    "%s: a link to a deleted blob can be deleted", drv);
}

/* contract_tags: set, get, list, delete. */
static void
contract_tags(struct store *s, const char *drv)
{
	static const char *const want[] = {"1.0", "Latest", "latest", "v1"};
	char d[DIGEST_BUFSZ];
	char **l = NULL;
	size_t n = 0;

	ok(store_tag_get(s, NAME, "latest", d) == -1 && errno == ENOENT,
	    "%s: tag_get of a missing tag: ENOENT", drv);
	ok(store_tag_get(s, "no/such", "latest", d) == -1 && errno == ENOENT,
	    "%s: tag_get in a missing repository: ENOENT", drv);
	ok(store_blob_write(s, digest_m2, "{\"m\":2}", 7) == 0,
	    "%s: second manifest blob", drv);
	ok(store_tag_set(s, NAME, "latest", digest_m1) == 0 &&
	        store_tag_get(s, NAME, "latest", d) == 0 &&
	        strcmp(d, digest_m1) == 0,
	    "%s: tag_set then tag_get", drv);
	ok(store_tag_set(s, NAME, "latest", digest_m2) == 0 &&
	        store_tag_get(s, NAME, "latest", d) == 0 &&
	        strcmp(d, digest_m2) == 0,
	    "%s: tag_set moves the tag", drv);
	ok(store_tag_set(s, NAME, "v1", digest_m1) == 0 &&
	        store_tag_set(s, NAME, "Latest", digest_m1) == 0 &&
	        store_tag_set(s, NAME, "1.0", digest_m1) == 0,
	    "%s: more tags", drv);
	ok(store_tag_list(s, NAME, &l, &n) == 0 && list_is(l, n, want, 4),
	    "%s: tag_list by strcmp", drv);
	if (l != NULL && !list_is(l, n, want, 4))
		list_show(l, n);
	store_list_free(l, n);

	ok(store_tag_delete(s, NAME, "1.0") == 0, "%s: tag_delete", drv);
	ok(store_tag_get(s, NAME, "1.0", d) == -1 && errno == ENOENT,
	    "%s: a deleted tag is gone", drv);
	ok(store_tag_delete(s, NAME, "1.0") == -1 && errno == ENOENT,
	    "%s: tag_delete of a missing tag: ENOENT", drv);
	ok(store_tag_delete(s, "no/such", "1.0") == -1 && errno == ENOENT,
	    "%s: tag_delete in a missing repository: ENOENT", drv);
	l = NULL;
	ok(store_tag_list(s, NAME, &l, &n) == 0 && list_is(l, n, want + 1, 3),
	    "%s: tag_list after the delete", drv);
	store_list_free(l, n);
	l = NULL;
	ok(store_tag_list(s, "no/such", &l, &n) == -1 && errno == ENOENT,
	    "%s: tag_list of a missing repository: ENOENT", drv);
	store_list_free(l, n);

	ok(store_tag_set(s, NAME, "a/b", digest_m1) == -1 && errno == EINVAL,
	    "%s: tag_set of a tag with '/': EINVAL", drv);
	ok(store_tag_set(s, NAME, "..", digest_m1) == -1 && errno == EINVAL,
	    "%s: tag_set of \"..\": EINVAL", drv);
	ok(store_tag_set(s, NAME, "", digest_m1) == -1 && errno == EINVAL,
	    "%s: tag_set of an empty tag: EINVAL", drv);
	ok(store_tag_set(s, NAME, "ok", "sha256:1") == -1 && errno == EINVAL,
	    "%s: tag_set to a malformed digest: EINVAL", drv);
	ok(store_tag_get(s, NAME, "../latest", d) == -1 && errno == EINVAL,
	    "%s: tag_get of a tag with '/': EINVAL", drv);
	ok(store_tag_delete(s, NAME, "x/y") == -1 && errno == EINVAL,
	    "%s: tag_delete of a tag with '/': EINVAL", drv);
}

/* contract_names: what no driver may take for a repository name. */
static void
contract_names(struct store *s, const char *drv)
{
	static const char *const bad[] = {"../x", "_x", "a/_layers", ".x",
	    "a/../b", "a//b", "a/", "/a", ""};
	char **l = NULL;
	size_t i, n = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ok(store_link_write(s, bad[i], STORE_LINK_LAYER,
		       digest_hello) == -1 &&
		        errno == EINVAL,
		    "%s: link_write in \"%s\": EINVAL", drv, bad[i]);
		ok(store_link_exists(s, bad[i], STORE_LINK_LAYER,
		       digest_hello) == -1 &&
		        errno == EINVAL,
		    "%s: link_exists in \"%s\": EINVAL", drv, bad[i]);
		ok(store_tag_set(s, bad[i], "latest", digest_m1) == -1 &&
		        errno == EINVAL,
		    "%s: tag_set in \"%s\": EINVAL", drv, bad[i]);
		l = NULL;
		ok(store_tag_list(s, bad[i], &l, &n) == -1 && errno == EINVAL,
		    "%s: tag_list of \"%s\": EINVAL", drv, bad[i]);
		store_list_free(l, n);
		ok(store_upload_create(s, bad[i], UUID1) == NULL &&
		        errno == EINVAL,
		    "%s: upload_create in \"%s\": EINVAL", drv, bad[i]);
		ok(store_repo_exists(s, bad[i]) == 0,
		    "%s: repo_exists of \"%s\": 0", drv, bad[i]);
	}
	ok(store_upload_create(s, NAME, "../x") == NULL && errno == EINVAL,
	    "%s: upload_create with a uuid \"../x\": EINVAL", drv);
	ok(store_upload_create(s, NAME, "") == NULL && errno == EINVAL,
	    "%s: upload_create with an empty uuid: EINVAL", drv);
	ok(store_upload_resume(s, NAME, "a/b", &(uint64_t){0}) == NULL &&
	        errno == EINVAL,
	    "%s: upload_resume with a uuid \"a/b\": EINVAL", drv);
}

/* contract_repos: which repositories exist, in catalog order. */
static void
contract_repos(struct store *s, const char *drv)
{
	static const char *const want[] = {"a", "a/b", "a-b", NAME};
	struct store_writer *w;
	char **l = NULL;
	size_t n = 0;

	ok(store_repo_exists(s, "a-b") == 0,
	    "%s: repo_exists of an unknown repository: 0", drv);
	ok(store_tag_set(s, "a-b", "latest", digest_m1) == 0 &&
	        store_link_write(s, "a/b", STORE_LINK_REVISION, digest_m1) ==
	            0 &&
	        store_tag_set(s, "a", "latest", digest_m1) == 0,
	    "%s: repositories a-b (a tag), a/b (a revision), a (a tag)", drv);
	ok(store_repo_exists(s, "a-b") == 1 &&
	        store_repo_exists(s, "a/b") == 1 &&
	        store_repo_exists(s, "a") == 1,
	    "%s: repo_exists of each", drv);
	/* A repository with only an upload or a layer is not listed. */
	w = store_upload_create(s, "uploads/only", UUID4);
	ok(w != NULL, "%s: an upload in a repository of its own", drv);
	store_writer_free(w);
	ok(store_link_write(s, "layers/only", STORE_LINK_LAYER, digest_hello) ==
	        0,
	    "%s: a layer in a repository of its own", drv);
	ok(store_repo_exists(s, "uploads/only") == 0 &&
	        store_repo_exists(s, "layers/only") == 0,
	    "%s: neither makes a repository", drv);
	ok(store_repo_list(s, &l, &n) == 0 && list_is(l, n, want, 4),
	    "%s: repo_list in store_repo_cmp order (a/b before a-b)", drv);
	if (l != NULL && !list_is(l, n, want, 4))
		list_show(l, n);
	store_list_free(l, n);
}

/* contract_uploads: the life of upload sessions. */
static void
contract_uploads(struct store *s, const char *drv)
{
	struct store_writer *w, *w2;
	char d[DIGEST_BUFSZ];
	uint64_t size = 99;

	ok(store_upload_resume(s, NAME, UUID1, &size) == NULL &&
	        errno == ENOENT,
	    "%s: upload_resume of an unknown session: ENOENT", drv);
	w = store_upload_create(s, NAME, UUID1);
	ok(w != NULL, "%s: upload_create", drv);
	if (w == NULL)
		return;
	ok(store_writer_size(w) == 0, "%s: a new session is empty", drv);
	ok(store_writer_hash(w, d) == 0 && strcmp(d, digest_empty) == 0,
	    "%s: writer_hash of an empty session", drv);
	ok(store_writer_append(w, "hel", 3) == 0 && store_writer_size(w) == 3,
	    "%s: writer_append", drv);
	ok(store_writer_append(w, "lo world", 8) == 0 &&
	        store_writer_size(w) == 11,
	    "%s: writer_append again", drv);
	ok(store_writer_append(w, "", 0) == 0 && store_writer_size(w) == 11,
	    "%s: writer_append of nothing", drv);
	ok(store_writer_truncate(w, 5) == 0 && store_writer_size(w) == 5,
	    "%s: writer_truncate", drv);
	store_writer_idle(w);
	ok(store_writer_hash(w, d) == 0 && strcmp(d, digest_hello) == 0,
	    "%s: writer_hash after truncate and idle", drv);
	store_writer_free(w);

	/* The session outlives its handle: resume it. */
	size = 0;
	w = store_upload_resume(s, NAME, UUID1, &size);
	ok(w != NULL && size == 5 && store_writer_size(w) == 5,
	    "%s: upload_resume gives the size", drv);
	if (w == NULL)
		return;
	ok(store_writer_append(w, "!", 1) == 0 && store_writer_size(w) == 6,
	    "%s: writer_append after resume", drv);
	ok(store_writer_hash(w, d) == 0 && strcmp(d, digest_up) == 0,
	    "%s: writer_hash after resume", drv);
	ok(store_blob_stat(s, digest_up, &size) == -1 && errno == ENOENT,
	    "%s: no blob before the commit", drv);
	ok(store_writer_commit(w, digest_up) == 0, "%s: writer_commit", drv);
	store_writer_free(w);
	ok(store_blob_stat(s, digest_up, &size) == 0 && size == 6,
	    "%s: commit made the blob", drv);
	ok(store_link_exists(s, NAME, STORE_LINK_LAYER, digest_up) == 1,
	    "%s: commit linked the layer", drv);
	ok(store_upload_resume(s, NAME, UUID1, &size) == NULL &&
	        errno == ENOENT,
	    "%s: commit removed the session", drv);

	/* Commit of a blob that exists already keeps the blob. */
	w = store_upload_create(s, "lib/other", UUID2);
	ok(w != NULL && store_writer_append(w, "hello!", 6) == 0 &&
	        store_writer_commit(w, digest_up) == 0,
	    "%s: commit of an existing blob", drv);
	store_writer_free(w);
	ok(store_link_exists(s, "lib/other", STORE_LINK_LAYER, digest_up) ==
	            1 &&
	        store_blob_stat(s, digest_up, &size) == 0 && size == 6,
	    "%s: linked, blob unchanged", drv);

	/* Abort, and two handles on one session. */
	w = store_upload_create(s, NAME, UUID2);
	w2 = store_upload_resume(s, NAME, UUID2, &size);
	ok(w != NULL && w2 != NULL && size == 0, "%s: two handles on a session",
	    drv);
	if (w == NULL || w2 == NULL) {
		store_writer_free(w);
		store_writer_free(w2);
		return;
	}
	ok(store_writer_append(w, "abc", 3) == 0,
	    "%s: append through the first", drv);
	ok(store_writer_abort(w2) == 0, "%s: writer_abort through the second",
	    drv);
	ok(store_upload_resume(s, NAME, UUID2, &size) == NULL &&
	        errno == ENOENT,
	    "%s: abort removed the session", drv);
	ok(store_writer_abort(w) == -1 && errno == ENOENT,
	    "%s: writer_abort of a removed session: ENOENT", drv);
	store_writer_free(w);
	store_writer_free(w2);

	/* Purge: a large age keeps a session, age 0 removes it. */
	w = store_upload_create(s, NAME, UUID3);
	ok(w != NULL, "%s: a session to purge", drv);
	store_writer_free(w);
	ok(store_upload_purge(s, 3600, 0) == 0,
	    "%s: upload_purge of an hour: nothing", drv);
	ok((w = store_upload_resume(s, NAME, UUID3, &size)) != NULL,
	    "%s: the session is kept", drv);
	store_writer_free(w);
	/* Sessions started this second are younger than 0 seconds. */
	sleep(1);
	/* UUID3 here and UUID4 of contract_repos. */
	is_int(store_upload_purge(s, 0, 1), 2, "%s: a dry run counts two",
	    drv);
	ok((w = store_upload_resume(s, NAME, UUID3, &size)) != NULL,
	    "%s: and keeps them", drv);
	store_writer_free(w);
	is_int(store_upload_purge(s, 0, 0), 2, "%s: upload_purge of 0 s", drv);
	ok(store_upload_resume(s, NAME, UUID3, &size) == NULL &&
	        errno == ENOENT,
	    "%s: the session is purged", drv);
	ok(store_upload_resume(s, "uploads/only", UUID4, &size) == NULL &&
	        errno == ENOENT,
	    "%s: in every repository", drv);

	/* One to stay for the walk. */
	w = store_upload_create(s, NAME, UUID5);
	ok(w != NULL && store_writer_append(w, "part", 4) == 0,
	    "%s: a session left open", drv);
	store_writer_free(w);
}

/*
 * contract_referrers: the referrers index: entries per (subject,
 * referrer), marks, what the index lacks, and several writers at once.
 */
static void
contract_referrers(struct store *s, const char *drv)
{
	const char *sorted[2];
	struct worker wk[THREADS];
	char **l = NULL, **add = NULL, **drop = NULL, *desc = NULL;
	size_t n = 99, nadd = 99, ndrop = 99, len = 0;
	int started, failed = 0;

	ok(store_referrer_list(s, REFS, digest_m1, &l, &n) == 0 && n == 0,
	    "%s: referrer_list of an unknown repository: empty", drv);
	store_list_free(l, n);
	ok(store_referrer_stale(s, REFS, &add, &nadd, &drop, &ndrop) == 0 &&
	        nadd == 0 && ndrop == 0,
	    "%s: referrer_stale of an unknown repository: nothing", drv);
	store_list_free(add, nadd);
	store_list_free(drop, ndrop);

	if (strcmp(digest_m1, digest_m2) < 0) {
		sorted[0] = digest_m1;
		sorted[1] = digest_m2;
	} else {
		sorted[0] = digest_m2;
		sorted[1] = digest_m1;
	}
	ok(store_link_write(s, REFS, STORE_LINK_REVISION, digest_m1) == 0 &&
	        store_link_write(s, REFS, STORE_LINK_REVISION, digest_m2) == 0,
	    "%s: two revisions", drv);
	ok(store_referrer_stale(s, REFS, &add, &nadd, &drop, &ndrop) == 0 &&
	        list_is(add, nadd, sorted, 2) && ndrop == 0,
	    "%s: referrer_stale: both revisions lack a mark, sorted", drv);
	store_list_free(add, nadd);
	store_list_free(drop, ndrop);

	ok(store_referrer_put(s, REFS, digest_m2, digest_m1, "{\"d\":2}", 7,
	       STORE_REFERRER_DURABLE) == 0,
	    "%s: referrer_put of an entry, durable", drv);
	ok(store_referrer_put(s, REFS, digest_m1, NULL, NULL, 0, 0) == 0,
	    "%s: referrer_put of a mark alone (no subject)", drv);
	ok(store_referrer_stale(s, REFS, &add, &nadd, &drop, &ndrop) == 0 &&
	        nadd == 0 && ndrop == 0,
	    "%s: referrer_stale: nothing once both are marked", drv);
	store_list_free(add, nadd);
	store_list_free(drop, ndrop);
	ok(store_referrer_list(s, REFS, digest_m1, &l, &n) == 0 &&
	        list_is(l, n, (const char *const[]){digest_m2}, 1),
	    "%s: referrer_list: the entry", drv);
	store_list_free(l, n);
	ok(store_referrer_list(s, REFS, digest_m2, &l, &n) == 0 && n == 0,
	    "%s: referrer_list of another subject: empty", drv);
	store_list_free(l, n);
	ok(store_referrer_get(s, REFS, digest_m1, digest_m2, 100, &desc,
	       &len) == 0 &&
	        len == 7 && strcmp(desc, "{\"d\":2}") == 0,
	    "%s: referrer_get: the descriptor, NUL-terminated", drv);
	free(desc);
	desc = NULL;
	ok(store_referrer_get(s, REFS, digest_m1, digest_m2, 6, &desc, &len) ==
	            -1 &&
	        errno == EFBIG && desc == NULL,
	    "%s: referrer_get over max: EFBIG", drv);
	ok(store_referrer_get(s, REFS, digest_m2, digest_m1, 100, &desc,
	       &len) == -1 &&
	        errno == ENOENT,
	    "%s: referrer_get of a missing entry: ENOENT", drv);
	ok(store_referrer_put(s, REFS, digest_m2, digest_m1, "{\"d\":22}", 8,
	       0) == 0 &&
	        store_referrer_get(s, REFS, digest_m1, digest_m2, 100, &desc,
	            &len) == 0 &&
	        len == 8 && strcmp(desc, "{\"d\":22}") == 0,
	    "%s: referrer_put again replaces the descriptor", drv);
	free(desc);

	ok(store_referrer_put(s, REFS, digest_hello, digest_m1, "{}", 2, 0) ==
	            0 &&
	        store_referrer_list(s, REFS, digest_m1, &l, &n) == 0 &&
	        n == 2 &&
	        strcmp(l[0], l[1]) < 0,
	    "%s: a second entry of the subject: both, sorted", drv);
	store_list_free(l, n);
	ok(store_referrer_delete(s, REFS, digest_m1, digest_hello) == 0,
	    "%s: referrer_delete", drv);
	ok(store_referrer_delete(s, REFS, digest_m1, digest_hello) == -1 &&
	        errno == ENOENT,
	    "%s: referrer_delete of a missing entry: ENOENT", drv);
	ok(store_referrer_list(s, REFS, digest_m1, &l, &n) == 0 &&
	        list_is(l, n, (const char *const[]){digest_m2}, 1),
	    "%s: referrer_list after the delete", drv);
	store_list_free(l, n);

	/* The revision goes: its mark is stale, its entry stays. */
	ok(store_link_delete(s, REFS, STORE_LINK_REVISION, digest_m2) == 0 &&
	        store_referrer_stale(s, REFS, &add, &nadd, &drop, &ndrop) ==
	            0 &&
	        nadd == 0 &&
	        list_is(drop, ndrop, (const char *const[]){digest_m2}, 1),
	    "%s: referrer_stale: the mark of a deleted revision", drv);
	store_list_free(add, nadd);
	store_list_free(drop, ndrop);
	ok(store_referrer_delete(s, REFS, NULL, digest_m2) == 0 &&
	        store_referrer_stale(s, REFS, &add, &nadd, &drop, &ndrop) ==
	            0 &&
	        nadd == 0 && ndrop == 0,
	    "%s: referrer_delete without a subject: the mark only", drv);
	store_list_free(add, nadd);
	store_list_free(drop, ndrop);
	ok(store_referrer_list(s, REFS, digest_m1, &l, &n) == 0 && n == 1,
	    "%s: the entry is still there", drv);
	store_list_free(l, n);
	ok(store_referrer_delete(s, REFS, digest_m1, digest_m2) == 0 &&
	        store_referrer_list(s, REFS, digest_m1, &l, &n) == 0 && n == 0,
	    "%s: referrer_delete of an entry without its mark", drv);
	store_list_free(l, n);
	/* One entry for the walk. */
	ok(store_referrer_put(s, REFS, digest_up, digest_m1, "{}", 2, 0) == 0,
	    "%s: an entry for the walk", drv);

	ok(store_referrer_put(s, "../x", digest_m2, digest_m1, "{}", 2, 0) ==
	            -1 &&
	        errno == EINVAL,
	    "%s: referrer_put with a name \"../x\": EINVAL", drv);
	ok(store_referrer_put(s, REFS, digest_m2, "sha256:../x", "{}", 2, 0) ==
	            -1 &&
	        errno == EINVAL,
	    "%s: referrer_put with a malformed subject: EINVAL", drv);
	ok(store_referrer_list(s, REFS, "x", &l, &n) == -1 && errno == EINVAL,
	    "%s: referrer_list of a malformed subject: EINVAL", drv);

	/* Several writers of one subject lose nothing of each other. */
	started = workers_run(wk, s, referrer_run, &failed);
	ok(started == THREADS && failed == 0,
	    "%s: %d threads index referrers of one subject at once", drv,
	    THREADS);
	l = NULL;
	ok(store_referrer_list(s, REFS, digest_m2, &l, &n) == 0 &&
	        n == THREADS * ROUNDS,
	    "%s: every entry of every thread is there (%zu)", drv, n);
	store_list_free(l, n);
}

/* contract_walk: everything written above, as the walk reports it. */
static void
contract_walk(struct store *s, const char *drv, int is_mem)
{
	struct seen sn;

	memset(&sn, 0, sizeof(sn));
	ok(store_walk(s, walk_cb, &sn) == 0, "%s: store_walk", drv);
	ok(sn.sn_blob_hello, "%s: walk: the blob with its size", drv);
	ok(!sn.sn_blob_after_repo, "%s: walk: blobs come first", drv);
	/* hello, empty, m1, m2, up. */
	is_int(sn.sn_count[STORE_ITEM_BLOB], 5, "%s: walk: every blob", drv);
	ok(sn.sn_repo, "%s: walk: the repository", drv);
	/* Those of repo_list: a, a/b, a-b, NAME; and REFS. */
	is_int(sn.sn_count[STORE_ITEM_REPO], 5,
	    "%s: walk: repositories with manifests only", drv);
	/*
	 * NAME: layers hello and up, revision m1; a/b: revision m1;
	 * layers/only: hello; lib/other: up; REFS: revision m1.
	 */
	is_int(sn.sn_count[STORE_ITEM_LINK], 7, "%s: walk: every link", drv);
	/* NAME: Latest, latest, v1; a: latest; a-b: latest. */
	is_int(sn.sn_count[STORE_ITEM_TAG], 5, "%s: walk: every tag", drv);
	/* One per tag, and NAME:latest named both manifests. */
	is_int(sn.sn_count[STORE_ITEM_TAG_INDEX], 6,
	    "%s: walk: every tag index entry", drv);
	is_int(sn.sn_count[STORE_ITEM_UPLOAD], 1, "%s: walk: every upload",
	    drv);
	ok(sn.sn_layer, "%s: walk: the layer link, target OK", drv);
	ok(sn.sn_revision, "%s: walk: the revision link, target OK", drv);
	ok(sn.sn_tag, "%s: walk: the tag and its current target", drv);
	is_int(sn.sn_index, 2, "%s: walk: the tag's index, both manifests",
	    drv);
	ok(sn.sn_upload, "%s: walk: the upload session", drv);
	/* REFS: (m1, up), and the threads' of m2; not the marks. */
	is_int(sn.sn_count[STORE_ITEM_REFERRER], 1 + THREADS * ROUNDS,
	    "%s: walk: every referrers index entry", drv);
	ok(sn.sn_referrer, "%s: walk: the entry with its subject", drv);
	ok(!sn.sn_odd_bad, "%s: walk: nothing odd of consequence", drv);
	if (is_mem)
		is_int(sn.sn_count[STORE_ITEM_ODD], 0,
		    "%s: walk: never anything odd", drv);

	memset(&sn, 0, sizeof(sn));
	sn.sn_stop_after = 2;
	ok(store_walk(s, walk_cb, &sn) == -1, "%s: a callback stops the walk",
	    drv);
}

/*
 * contract_call: a lookup through store_call completes synchronously (on
 * memory, a durable call too).
 */
static void
contract_call(struct store *s, const char *drv)
{
	struct lookup l;

	memset(&l, 0, sizeof(l));
	l.l_call.sc_kind = STORE_CALL_QUICK;
	l.l_call.sc_work = lookup_work;
	l.l_call.sc_done = lookup_done;
	l.l_store = s;
	l.l_digest = digest_hello;
	store_call(s, &l.l_call);
	ok(l.l_worked && l.l_done,
	    "%s: store_call: work then done before it returns", drv);
	ok(l.l_rv == 0 && l.l_size == 5, "%s: store_call: the work's result",
	    drv);
	if (strcmp(drv, "memory") != 0)
		return;
	/* Nothing in memory waits: a durable call completes at once too. */
	memset(&l, 0, sizeof(l));
	l.l_call.sc_kind = STORE_CALL_DURABLE;
	l.l_call.sc_work = lookup_work;
	l.l_call.sc_done = lookup_done;
	l.l_store = s;
	l.l_digest = digest_hello;
	store_call(s, &l.l_call);
	ok(l.l_worked && l.l_done,
	    "memory: a durable store_call completes before it returns");
}

/* contract_threads: one store, several threads at once. */
static void
contract_threads(struct store *s, const char *drv)
{
	struct worker wk[THREADS];
	char **l = NULL;
	size_t n = 0;
	int started, failed = 0;

	started = workers_run(wk, s, worker_run, &failed);
	ok(started == THREADS && failed == 0,
	    "%s: %d threads at once: no failures", drv, THREADS);
	ok(store_tag_list(s, "threads/t0", &l, &n) == 0 && n == ROUNDS,
	    "%s: every tag of a thread is there", drv);
	store_list_free(l, n);
}

static void
contract(struct store *s, const char *drv, int is_mem)
{
	const char *desc = store_describe(s);

	ok(desc != NULL && desc[0] != '\0', "%s: store_describe: \"%s\"", drv,
	    desc != NULL ? desc : "(null)");
	contract_blobs(s, drv);
	contract_links(s, drv);
	contract_tags(s, drv);
	contract_names(s, drv);
	contract_repos(s, drv);
	contract_uploads(s, drv);
	contract_referrers(s, drv);
	contract_walk(s, drv, is_mem);
	contract_call(s, drv);
	contract_threads(s, drv);
}

int
main(void)
{
	char root[PATH_MAX], err[256];
	const char *tmp;
	struct store *s;
	size_t len;

	digest_buf("hello", 5, digest_hello);
	digest_buf("world", 5, digest_world);
	digest_buf("", 0, digest_empty);
	digest_buf("{\"m\":1}", 7, digest_m1);
	digest_buf("{\"m\":2}", 7, digest_m2);
	digest_buf("hello!", 6, digest_up);

	if ((tmp = getenv("TMPDIR")) == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	len = (size_t)snprintf(root, sizeof(root), "%s/store_contract.XXXXXX",
	    tmp);
	if (len >= sizeof(root) || mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}

	s = store_fs_open(root, 0, err, sizeof(err));
	ok(s != NULL, "filesystem: store_fs_open: %s", s != NULL ? "" : err);
	if (s != NULL) {
		contract(s, "filesystem", 0);
		store_close(s);
	}

	s = store_mem_open();
	ok(s != NULL, "memory: store_mem_open");
	if (s != NULL) {
		ok(strcmp(store_describe(s), "memory") == 0,
		    "memory: described as memory");
		contract(s, "memory", 1);
		store_close(s);
	}

	rm_tree(root);
	return done_testing();
}
