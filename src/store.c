/*
 * store.c: the storage interface (include/store.h). It dispatches every
 * call to the driver that made the store, runs asynchronous calls where
 * the driver wants them, and holds what the drivers share: the second
 * check of names, tags, digests and uuids, string lists and the catalog
 * order. The drivers are store_fs.c (registry:2's tree), store_s3.c (the
 * same layout as object keys) and store_mem.c.
 */

#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "digest.h"
#include "log.h"
#include "pool.h"
#include "router.h"
#include "store.h"
#include "store_driver.h"

static void store_call_work(struct pool_job *);
static void store_call_done(struct pool_job *);
static int store_strcmp_cb(const void *, const void *);
static int store_repo_cmp_cb(const void *, const void *);

void
store_close(struct store *s)
{
	if (s != NULL)
		s->s_ops->so_close(s);
}

const char *
store_describe(const struct store *s)
{
	return s->s_describe;
}

/* ---- asynchronous calls ---- */

/*
 * store_call: cheap kinds run here and now, the others on the worker
 * pool, whose completion comes back through the loop: walks in their own
 * class, so that a long walk never holds up a commit, everything else
 * with the store's workers (never refused: see pool.c). Listings go with
 * the latter: a tags/list must not wait behind an hour-long purge, and a
 * listing, however big, reads one directory, not the tree. A driver that
 * one day talks to its backend without blocking (libcurl multi on the
 * loop) would start the request here instead.
 */
void
store_call(struct store *s, struct store_call *c)
{
	if (s->s_ops->so_cheap(c->sc_kind)) {
		c->sc_work(c);
		c->sc_done(c);
		return;
	}
	c->sc_job.pj_work = store_call_work;
	c->sc_job.pj_done = store_call_done;
	c->sc_job.pj_class =
	    c->sc_kind == STORE_CALL_WALK ? POOL_WALK : POOL_STORE;
	if (pool_submit(&c->sc_job) == -1)
		fatal("%s: store and walk jobs have no limit", __func__);
}

static void
store_call_work(struct pool_job *pj)
{
	struct store_call *c = (struct store_call *)pj;

	c->sc_work(c);
}

static void
store_call_done(struct pool_job *pj)
{
	struct store_call *c = (struct store_call *)pj;

	c->sc_done(c);
}

/* ---- blobs ---- */

int
store_blob_stat(struct store *s, const char *digest, uint64_t *size)
{
	return s->s_ops->so_blob_stat(s, digest, size);
}

struct store_reader *
store_blob_open(struct store *s, const char *digest, uint64_t *size)
{
	return s->s_ops->so_blob_open(s, digest, size);
}

ssize_t
store_reader_read(struct store_reader *r, void *buf, size_t len, uint64_t off)
{
	return r->sr_store->s_ops->so_reader_read(r, buf, len, off);
}

void
store_reader_set_wake(struct store_reader *r, void (*fn)(void *), void *arg)
{
	if (r->sr_store->s_ops->so_reader_set_wake != NULL)
		r->sr_store->s_ops->so_reader_set_wake(r, fn, arg);
}

void
store_reader_close(struct store_reader *r)
{
	if (r != NULL)
		r->sr_store->s_ops->so_reader_close(r);
}

/*
 * store_blob_read: open, read everything, close: the same for every
 * driver, so it lives here.
 */
int
store_blob_read(struct store *s, const char *digest, size_t max, char **buf,
    size_t *len)
{
	struct store_reader *r;
	uint64_t size;
	size_t got = 0;
	ssize_t n;
	char *p = NULL;
	int saved;

	*buf = NULL;
	*len = 0;
	if ((r = store_blob_open(s, digest, &size)) == NULL)
		return -1;
	if (size > max || size >= SIZE_MAX) {
		errno = EFBIG;
		goto fail;
	}
	if ((p = malloc((size_t)size + 1)) == NULL)
		goto fail;
	while (got < size) {
		n = store_reader_read(r, p + got, (size_t)size - got, got);
		if (n == -1)
			goto fail;
		if (n == 0) {
			/* Blobs never shrink; this one was tampered with. */
			errno = EIO;
			goto fail;
		}
		got += (size_t)n;
	}
	p[got] = '\0';
	store_reader_close(r);
	*buf = p;
	*len = got;
	return 0;
fail:
	saved = errno;
	free(p);
	store_reader_close(r);
	errno = saved;
	return -1;
}

char *
store_blob_url(struct store *s, const char *digest, int expires)
{
	if (s->s_ops->so_blob_url == NULL) {
		errno = ENOTSUP;
		return NULL;
	}
	return s->s_ops->so_blob_url(s, digest, expires);
}

int
store_blob_write(struct store *s, const char *digest, const void *buf,
    size_t len)
{
	return s->s_ops->so_blob_write(s, digest, buf, len);
}

int
store_blob_delete(struct store *s, const char *digest)
{
	return s->s_ops->so_blob_delete(s, digest);
}

/* ---- links, tags, repositories ---- */

int
store_link_exists(struct store *s, const char *name, enum store_link kind,
    const char *digest)
{
	return s->s_ops->so_link_exists(s, name, kind, digest);
}

int
store_link_write(struct store *s, const char *name, enum store_link kind,
    const char *digest)
{
	return s->s_ops->so_link_write(s, name, kind, digest);
}

int
store_link_delete(struct store *s, const char *name, enum store_link kind,
    const char *digest)
{
	return s->s_ops->so_link_delete(s, name, kind, digest);
}

int
store_link_list(struct store *s, const char *name, enum store_link kind,
    char ***digests, size_t *n)
{
	return s->s_ops->so_link_list(s, name, kind, digests, n);
}

int
store_tag_get(struct store *s, const char *name, const char *tag,
    char digest[DIGEST_BUFSZ])
{
	return s->s_ops->so_tag_get(s, name, tag, digest);
}

int
store_tag_set(struct store *s, const char *name, const char *tag,
    const char *digest)
{
	return s->s_ops->so_tag_set(s, name, tag, digest);
}

int
store_tag_delete(struct store *s, const char *name, const char *tag)
{
	return s->s_ops->so_tag_delete(s, name, tag);
}

int
store_tag_list(struct store *s, const char *name, char ***tags, size_t *n)
{
	return s->s_ops->so_tag_list(s, name, tags, n);
}

int
store_tag_list_max(struct store *s, const char *name, size_t max, char ***tags,
    size_t *n)
{
	if (s->s_ops->so_tag_list_max == NULL)
		return s->s_ops->so_tag_list(s, name, tags, n);
	return s->s_ops->so_tag_list_max(s, name, max, tags, n);
}

int
store_repo_exists(struct store *s, const char *name)
{
	return s->s_ops->so_repo_exists(s, name);
}

int
store_repo_list(struct store *s, char ***names, size_t *n)
{
	return s->s_ops->so_repo_list(s, names, n);
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

/* ---- uploads ---- */

struct store_writer *
store_upload_create(struct store *s, const char *name, const char *uuid)
{
	return s->s_ops->so_upload_create(s, name, uuid);
}

struct store_writer *
store_upload_resume(struct store *s, const char *name, const char *uuid,
    uint64_t *size)
{
	return s->s_ops->so_upload_resume(s, name, uuid, size);
}

uint64_t
store_writer_size(const struct store_writer *w)
{
	return w->sw_size;
}

int
store_writer_rebased(struct store_writer *w)
{
	int r = w->sw_rebased;

	w->sw_rebased = 0;
	return r;
}

int
store_writer_stat(struct store_writer *w, uint64_t *size)
{
	return w->sw_store->s_ops->so_writer_stat(w, size);
}

int
store_writer_append(struct store_writer *w, const void *buf, size_t len)
{
	if (len > UINT64_MAX - w->sw_size) {
		errno = EFBIG;
		return -1;
	}
	if (w->sw_store->s_ops->so_writer_append(w, buf, len) == -1)
		return -1;
	w->sw_size += len;
	return 0;
}

int
store_writer_truncate(struct store_writer *w, uint64_t size)
{
	if (size > w->sw_size) {
		errno = EINVAL;
		return -1;
	}
	if (w->sw_store->s_ops->so_writer_truncate(w, size) == -1)
		return -1;
	w->sw_size = size;
	return 0;
}

int
store_writer_busy(struct store_writer *w)
{
	if (w->sw_store->s_ops->so_writer_busy == NULL)
		return 0;
	return w->sw_store->s_ops->so_writer_busy(w);
}

void
store_writer_set_wake(struct store_writer *w, void (*fn)(void *), void *arg)
{
	if (w->sw_store->s_ops->so_writer_set_wake != NULL)
		w->sw_store->s_ops->so_writer_set_wake(w, fn, arg);
}

int
store_writer_wants_flush(const struct store_writer *w)
{
	return w->sw_store->s_ops->so_writer_flush != NULL;
}

int
store_writer_flush(struct store_writer *w)
{
	if (w->sw_store->s_ops->so_writer_flush == NULL)
		return 0;
	return w->sw_store->s_ops->so_writer_flush(w);
}

int
store_writer_refresh(struct store_writer *w)
{
	if (w->sw_store->s_ops->so_writer_refresh == NULL)
		return 0;
	return w->sw_store->s_ops->so_writer_refresh(w);
}

int
store_workers(const struct store *s)
{
	return s->s_ops->so_workers;
}

void
store_writer_idle(struct store_writer *w)
{
	w->sw_store->s_ops->so_writer_idle(w);
}

int
store_writer_hash(struct store_writer *w, char digest[DIGEST_BUFSZ])
{
	return w->sw_store->s_ops->so_writer_hash(w, digest);
}

int
store_writer_commit(struct store_writer *w, const char *digest)
{
	return w->sw_store->s_ops->so_writer_commit(w, digest);
}

int
store_writer_abort(struct store_writer *w)
{
	return w->sw_store->s_ops->so_writer_abort(w);
}

void
store_writer_free(struct store_writer *w)
{
	if (w != NULL)
		w->sw_store->s_ops->so_writer_free(w);
}

int
store_upload_purge(struct store *s, time_t max_age, int dryrun)
{
	return s->s_ops->so_upload_purge(s, max_age, dryrun);
}

/* ---- the referrers index ---- */

int
store_referrer_put(struct store *s, const char *name, const char *digest,
    const char *subject, const void *desc, size_t len, int flags)
{
	return s->s_ops->so_referrer_put(s, name, digest, subject, desc, len,
	    flags);
}

int
store_referrer_get(struct store *s, const char *name, const char *subject,
    const char *digest, size_t max, char **desc, size_t *len)
{
	return s->s_ops->so_referrer_get(s, name, subject, digest, max, desc,
	    len);
}

int
store_referrer_list(struct store *s, const char *name, const char *subject,
    char ***digests, size_t *n)
{
	return s->s_ops->so_referrer_list(s, name, subject, digests, n);
}

int
store_referrer_delete(struct store *s, const char *name, const char *subject,
    const char *digest)
{
	return s->s_ops->so_referrer_delete(s, name, subject, digest);
}

int
store_referrer_stale(struct store *s, const char *name, char ***add,
    size_t *nadd, char ***drop, size_t *ndrop)
{
	return s->s_ops->so_referrer_stale(s, name, add, nadd, drop, ndrop);
}

/* ---- the walk ---- */

int
store_probe(struct store *s, enum store_probe_kind kind)
{
	return s->s_ops->so_probe(s, kind);
}

int
store_walk(struct store *s, int (*cb)(const struct store_item *, void *),
    void *arg)
{
	return s->s_ops->so_walk(s, cb, arg);
}

/* ---- when things were last used ---- */

int
store_blob_used(struct store *s, const char *digest, struct timespec *ts)
{
	return s->s_ops->so_blob_used(s, digest, ts);
}

int
store_link_used(struct store *s, const char *name, enum store_link kind,
    const char *digest, struct timespec *ts)
{
	return s->s_ops->so_link_used(s, name, kind, digest, ts);
}

int
store_link_touch(struct store *s, const char *name, enum store_link kind,
    const char *digest)
{
	return s->s_ops->so_link_touch(s, name, kind, digest);
}

int
store_link_use(struct store *s, const char *name, enum store_link kind,
    const char *digest)
{
	int rc;

	if (s->s_ops->so_link_use != NULL)
		return s->s_ops->so_link_use(s, name, kind, digest);
	if ((rc = s->s_ops->so_link_exists(s, name, kind, digest)) == 1)
		(void)s->s_ops->so_link_touch(s, name, kind, digest);
	return rc;
}

int
store_blob_doom(struct store *s, const char *digest, const char *id, int on)
{
	if (s->s_ops->so_blob_doom == NULL)
		return 0;
	return s->s_ops->so_blob_doom(s, digest, id, on);
}

int
store_blob_doomed(struct store *s, const char *digest)
{
	if (s->s_ops->so_blob_doomed == NULL)
		return 0;
	return s->s_ops->so_blob_doomed(s, digest);
}

/* ---- what drivers share ---- */

/*
 * The router validates names, tags, digests and uuids against the OCI
 * grammar. The checks below are a second line that only guarantees a
 * value cannot step outside its place in a tree or key space ("..", "/",
 * "_layers").
 */
int
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

int
store_tag_ok(const char *tag)
{
	size_t len;

	len = strnlen(tag, TAG_MAX_LEN + 1);
	if (len == 0 || len > TAG_MAX_LEN || tag[0] == '.' ||
	    memchr(tag, '/', len) != NULL)
		return 0;
	return 1;
}

/*
 * Say that a listing leaves out name, a kind ("repository", "tag"):
 * once as a warning, afterwards at debug level (a catalog refresh meets
 * the same directory every time). The bytes outside the grammar show as
 * '?', so that the log line stays one line.
 */
static void
store_list_skip(const char *kind, const char *name)
{
	static atomic_int warned;
	char safe[NAME_MAX_LEN + 1];
	size_t i;

	for (i = 0; name[i] != '\0' && i < sizeof(safe) - 1; i++)
		safe[i] = name[i] > 0x20 && name[i] < 0x7f && name[i] != '"'
		    ? name[i]
		    : '?';
	safe[i] = '\0';
	if (atomic_exchange(&warned, 1) == 0)
		log_warnx("storage: %s \"%s\" is not listed: its name is not "
		          "one a client could use (bytes shown as '?' are not "
		          "allowed); rename or remove it (further ones are "
		          "logged at debug level)",
		    kind, safe);
	else
		log_debug("storage: %s \"%s\" is not listed: not a valid name",
		    kind, safe);
}

/* store_list_showable: see store.h. */
size_t
store_list_showable(char **v, size_t n, int tags)
{
	size_t i, kept = 0;
	int ok;

	for (i = 0; i < n; i++) {
		ok = tags
		    ? route_tag_is_valid(v[i], strnlen(v[i], TAG_MAX_LEN + 1))
		    : route_name_is_valid(v[i],
		          strnlen(v[i], NAME_MAX_LEN + 1));
		if (ok)
			v[kept++] = v[i];
		else {
			store_list_skip(tags ? "tag" : "repository", v[i]);
			free(v[i]);
		}
	}
	return kept;
}

int
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

/* store_touch_fresh: see store_driver.h. */
int
store_touch_fresh(const struct timespec *ts, const struct timespec *now)
{
	int64_t age_ms;

	age_ms = ((int64_t)now->tv_sec - (int64_t)ts->tv_sec) * 1000 +
	    ((int64_t)now->tv_nsec - (int64_t)ts->tv_nsec) / 1000000;
	return age_ms < STORE_TOUCH_FRESH_MS;
}

int
store_digest_ok(const char *digest)
{
	return digest_is_valid(digest, strnlen(digest, DIGEST_BUFSZ));
}

int
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

int
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

void
store_list_sort(struct store_list *l, int repo_order)
{
	if (l->sl_n > 1)
		qsort(l->sl_v, l->sl_n, sizeof(*l->sl_v),
		    repo_order ? store_repo_cmp_cb : store_strcmp_cb);
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
