/*
 * store_s3_walk.c: the walk of the S3 driver (store_s3.c) for fsck and
 * garbage collection: one listing of blobs/ and one of repositories/
 * (every object: a walk is slow anyway, and a delimited one would cost a
 * request per directory), each key classified by the layout.
 */

#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "digest.h"
#include "store.h"
#include "store_driver.h"
#include "store_s3_impl.h"
#include "util.h"

/*
 * store_s3_walk: one listing of blobs/ and one of repositories/ (every
 * object: a walk is slow anyway, and a delimited one would cost a
 * request per directory), each key classified by the layout. Link
 * targets are read, one GET per link.
 */
struct store_s3_walk {
	struct store_s3 *w_store;
	int (*w_cb)(const struct store_item *, void *);
	void *w_arg;
	int w_stopped;
	char w_repo[NAME_MAX_LEN + 1];              /* last REPO item sent */
	char w_upload[NAME_MAX_LEN + UUID_LEN + 2]; /* last UPLOAD sent */
};

static int
store_s3_walk_item(struct store_s3_walk *w, struct store_item *it)
{
	if (w->w_cb(it, w->w_arg) == -1) {
		w->w_stopped = 1;
		errno = ECANCELED;
		return -1;
	}
	return 0;
}

static int
store_s3_walk_odd(struct store_s3_walk *w, const char *key,
    enum store_severity sev, const char *what)
{
	struct store_item it;

	memset(&it, 0, sizeof(it));
	it.si_kind = STORE_ITEM_ODD;
	it.si_where = key;
	it.si_what = what;
	it.si_severity = sev;
	return store_s3_walk_item(w, &it);
}

static int
store_s3_is_hex(const char *p, size_t len)
{
	size_t i;

	if (len != 64)
		return 0;
	for (i = 0; i < len; i++)
		if (!isdigit((unsigned char)p[i]) && (p[i] < 'a' || p[i] > 'f'))
			return 0;
	return 1;
}

static int
store_s3_blobs_cb(const struct store_s3_obj *o, void *arg)
{
	struct store_s3_walk *w = arg;
	const char *k = o->so_key + strlen("blobs/");
	struct store_item it;
	char digest[DIGEST_BUFSZ];

	/* sha256/<2>/<64>/data */
	if (strncmp(k, "sha256/", 7) == 0 && strlen(k) >= 7 + 3 + 65 &&
	    k[9] == '/' && store_s3_is_hex(k + 10, 64) &&
	    memcmp(k + 7, k + 10, 2) == 0 && k[74] == '/') {
		if (strcmp(k + 75, "data") == 0) {
			snprintf(digest, sizeof(digest), "sha256:%.64s",
			    k + 10);
			memset(&it, 0, sizeof(it));
			it.si_kind = STORE_ITEM_BLOB;
			it.si_digest = digest;
			it.si_size = o->so_size;
			return store_s3_walk_item(w, &it);
		}
		if (strcmp(k + 75, STORE_S3_USED) == 0 ||
		    strncmp(k + 75, STORE_S3_DOOMED, strlen(STORE_S3_DOOMED)) ==
		        0)
			return 0;
	}
	return store_s3_walk_odd(w, o->so_key, STORE_SEV_WARNING,
	    "not part of the blob layout");
}

static int
store_s3_walk_link(struct store_s3_walk *w, const struct store_s3_obj *o,
    struct store_item *it)
{
	const char *key = o->so_key;
	char full[STORE_S3_KEY_MAX];
	char *buf = NULL;
	size_t len;
	int rv;

	/*
	 * A layer, revision or tag index link names the digest of its own
	 * key, exactly "sha256:<hex>" as distribution writes it: one of that
	 * size is taken from the listing without a GET, which turns a walk
	 * (garbage collection, fsck) into mostly listings. A tag's current
	 * link, and a link of any other size, is read.
	 */
	if (it->si_digest != NULL && o->so_size == strlen(it->si_digest)) {
		it->si_target_state = STORE_TARGET_OK;
		it->si_target = it->si_digest;
		it->si_target_len = strlen(it->si_digest);
		return store_s3_walk_item(w, it);
	}
	if (store_s3_key(w->w_store, full, sizeof(full), "%s", key) == -1)
		return -1;
	if (store_s3_get(w->w_store, full, 0, 0, STORE_S3_LINK_MAX, &buf,
	        &len) == 0) {
		it->si_target_state = STORE_TARGET_OK;
		it->si_target = buf;
		it->si_target_len = len;
	} else if (errno == ENOENT) {
		it->si_target_state = STORE_TARGET_MISSING;
	} else if (errno == EFBIG) {
		it->si_target_state = STORE_TARGET_BAD;
		it->si_where = key;
		it->si_what = "link larger than a digest";
	} else
		return -1;
	rv = store_s3_walk_item(w, it);
	free(buf);
	return rv;
}

static int
store_s3_repos_cb(const struct store_s3_obj *o, void *arg)
{
	struct store_s3_walk *w = arg;
	const char *k = o->so_key + strlen("repositories/"), *rest, *p;
	char name[NAME_MAX_LEN + 1], tag[TAG_MAX_LEN + 1];
	char digest[DIGEST_BUFSZ], subject[DIGEST_BUFSZ];
	char uuid[UUID_LEN + 1], seen[sizeof(w->w_upload)];
	struct store_item it;
	size_t nlen, tlen;

	/* The name: the components before the first one starting with '_'. */
	for (p = k; (p = strstr(p, "/_")) != NULL; p++)
		if (p > k)
			break;
	if (p == NULL || (size_t)(p - k) > NAME_MAX_LEN)
		return store_s3_walk_odd(w, o->so_key, STORE_SEV_WARNING,
		    "not part of the repository layout");
	nlen = (size_t)(p - k);
	memcpy(name, k, nlen);
	name[nlen] = '\0';
	rest = p + 1;
	if (!store_name_ok(name))
		return store_s3_walk_odd(w, o->so_key, STORE_SEV_WARNING,
		    "not a repository name");
	memset(&it, 0, sizeof(it));
	it.si_name = name;
	if (strncmp(rest, "_manifests/", 11) == 0 &&
	    strcmp(w->w_repo, name) != 0) {
		(void)util_strlcpy(w->w_repo, name, sizeof(w->w_repo));
		it.si_kind = STORE_ITEM_REPO;
		if (store_s3_walk_item(w, &it) == -1)
			return -1;
	}
	if (strncmp(rest, "_layers/sha256/", 15) == 0 &&
	    store_s3_is_hex(rest + 15, 64) && strcmp(rest + 79, "/link") == 0) {
		snprintf(digest, sizeof(digest), "sha256:%.64s", rest + 15);
		it.si_kind = STORE_ITEM_LINK;
		it.si_link = STORE_LINK_LAYER;
		it.si_digest = digest;
		return store_s3_walk_link(w, o, &it);
	}
	if (strncmp(rest, "_manifests/revisions/sha256/", 28) == 0 &&
	    store_s3_is_hex(rest + 28, 64) && strcmp(rest + 92, "/link") == 0) {
		snprintf(digest, sizeof(digest), "sha256:%.64s", rest + 28);
		it.si_kind = STORE_ITEM_LINK;
		it.si_link = STORE_LINK_REVISION;
		it.si_digest = digest;
		return store_s3_walk_link(w, o, &it);
	}
	if (strncmp(rest, "_manifests/tags/", 16) == 0 &&
	    (p = strchr(rest + 16, '/')) != NULL &&
	    (tlen = (size_t)(p - rest - 16)) <= TAG_MAX_LEN) {
		memcpy(tag, rest + 16, tlen);
		tag[tlen] = '\0';
		it.si_tag = tag;
		if (store_tag_ok(tag) && strcmp(p, "/current/link") == 0) {
			it.si_kind = STORE_ITEM_TAG;
			return store_s3_walk_link(w, o, &it);
		}
		if (store_tag_ok(tag) &&
		    strncmp(p, "/index/sha256/", 14) == 0 &&
		    store_s3_is_hex(p + 14, 64) &&
		    strcmp(p + 78, "/link") == 0) {
			snprintf(digest, sizeof(digest), "sha256:%.64s",
			    p + 14);
			it.si_kind = STORE_ITEM_TAG_INDEX;
			it.si_digest = digest;
			return store_s3_walk_link(w, o, &it);
		}
	}
	if (strncmp(rest, "_uploads/", 9) == 0 &&
	    (p = strchr(rest + 9, '/')) != NULL &&
	    (size_t)(p - rest - 9) <= UUID_LEN) {
		memcpy(uuid, rest + 9, (size_t)(p - rest - 9));
		uuid[p - rest - 9] = '\0';
		snprintf(seen, sizeof(seen), "%s/%s", name, uuid);
		if (!store_uuid_ok(uuid))
			return store_s3_walk_odd(w, o->so_key,
			    STORE_SEV_WARNING, "not an upload");
		if (strcmp(seen, w->w_upload) == 0)
			return 0;
		(void)util_strlcpy(w->w_upload, seen, sizeof(w->w_upload));
		it.si_kind = STORE_ITEM_UPLOAD;
		it.si_uuid = uuid;
		return store_s3_walk_item(w, &it);
	}
	if (strncmp(rest, "_registryd/referrers/subjects/sha256/", 37) == 0 &&
	    store_s3_is_hex(rest + 37, 64) && rest[101] == '/' &&
	    store_s3_is_hex(rest + 102, 64) && rest[166] == '\0') {
		snprintf(subject, sizeof(subject), "sha256:%.64s", rest + 37);
		snprintf(digest, sizeof(digest), "sha256:%.64s", rest + 102);
		it.si_kind = STORE_ITEM_REFERRER;
		it.si_subject = subject;
		it.si_digest = digest;
		return store_s3_walk_item(w, &it);
	}
	if (strncmp(rest, "_registryd/referrers/indexed/sha256/", 36) == 0)
		return 0;
	return store_s3_walk_odd(w, o->so_key, STORE_SEV_WARNING,
	    "not part of the repository layout");
}

int
store_s3_walk(struct store *st, int (*cb)(const struct store_item *, void *),
    void *arg)
{
	struct store_s3_walk w;

	memset(&w, 0, sizeof(w));
	w.w_store = (struct store_s3 *)st;
	w.w_cb = cb;
	w.w_arg = arg;
	if (store_s3_list_walk(w.w_store, "blobs/", 0, store_s3_blobs_cb, &w) ==
	        -1 ||
	    store_s3_list_walk(w.w_store, "repositories/", 0, store_s3_repos_cb,
	        &w) == -1) {
		if (w.w_stopped)
			errno = ECANCELED;
		return -1;
	}
	return 0;
}
