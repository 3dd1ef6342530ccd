/*
 * fsck.c: a read-only consistency check of a store, on any driver.
 *
 * One walk (store_walk) and a cross-check:
 *
 *   blobs          every blob is read through a store reader (1 MiB at a
 *                  time) and must hash to its digest;
 *   repositories   every link must hold exactly "sha256:<hex>" of the
 *                  digest it is filed under (no newline); layer and
 *                  revision links must name blobs that exist; tags are
 *                  remembered; a referrers index entry whose manifest is
 *                  no revision is stale (info: queries prune it);
 *   afterwards     every tag's current link must name a revision of its
 *                  repository, and the manifests reachable from tags must
 *                  reference blobs that exist and are linked in the
 *                  repository (problems); the same check on manifests no
 *                  tag reaches only warns.
 *
 * What the driver finds outside its layout comes as odd items with their
 * severity: crash litter that readers ignore (*.tmp files, a blob or link
 * directory without its file) is info, not a problem. fsck knows no path.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "digest.h"
#include "fsck.h"
#include "log.h"
#include "manifest.h"
#include "store.h"
#include "util.h"

#define FSCK_HASH_CHUNK (1024 * 1024) /* bytes per read when hashing */
#define FSCK_WHAT_MAX   1024          /* "repository <name>: ..." */
#define FSCK_INDEX_MAX  4             /* nesting of indexes followed */

/* How bad a finding is. */
enum fsck_sev {
	FSCK_INFO,    /* crash litter, ignored by readers */
	FSCK_WARNING, /* suspicious, harmless to clients */
	FSCK_PROBLEM, /* wrong or missing content: needs repair */
};

/* A manifest revision of a repository. */
struct fsck_rev {
	char *fv_name; /* repository (owned) */
	char fv_digest[DIGEST_BUFSZ];
	int fv_checked; /* -1 not yet, else the severity it was checked at */
};

/* A tag's current link. */
struct fsck_tag {
	char *ft_name; /* repository (owned) */
	char *ft_tag;  /* owned */
	char ft_digest[DIGEST_BUFSZ];
};

/* State of one fsck_run; everything is owned by it. */
struct fsck {
	struct store *f_store;
	FILE *f_out;
	struct fsck_result *f_res;
	char *f_buf; /* FSCK_HASH_CHUNK bytes for hashing */
	struct fsck_rev *f_revs;
	size_t f_nrevs, f_caprevs;
	struct fsck_tag *f_tags;
	size_t f_ntags, f_captags;
	int f_nomem; /* an allocation failed: the run fails */
};

static void fsck_report(struct fsck *, enum fsck_sev, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static int fsck_link(struct fsck *, const struct store_item *, const char *,
    char[DIGEST_BUFSZ]);
static void fsck_blob(struct fsck *, const char *, uint64_t);
static int fsck_item_cb(const struct store_item *, void *);
static void fsck_link_item(struct fsck *, const struct store_item *);
static int fsck_rev_add(struct fsck *, const char *, const char *);
static int
fsck_tag_add(struct fsck *, const char *, const char *, const char *);
static int fsck_rev_cmp(const void *, const void *);
static struct fsck_rev *
fsck_rev_find(struct fsck *, const char *, const char *);
static int fsck_is_rev(struct fsck *, const char *, const char *);
static void
fsck_manifest(struct fsck *, const char *, const char *, enum fsck_sev, int);
static void fsck_free(struct fsck *);

/* ---- output ---- */

/* fsck_report: one finding, counted by severity, as one line of output. */
static void
fsck_report(struct fsck *f, enum fsck_sev sev, const char *fmt, ...)
{
	static const char *const prefix[] = {"info: ", "warning: ", ""};
	va_list ap;

	switch (sev) {
	case FSCK_INFO:
		f->f_res->fr_info++;
		break;
	case FSCK_WARNING:
		f->f_res->fr_warnings++;
		break;
	case FSCK_PROBLEM:
		f->f_res->fr_problems++;
		break;
	}
	if (f->f_out == NULL)
		return;
	fputs(prefix[sev], f->f_out);
	va_start(ap, fmt);
	vfprintf(f->f_out, fmt, ap);
	va_end(ap);
	fputc('\n', f->f_out);
}

/* ---- links ---- */

/*
 * fsck_link: check the pointer of a link, tag or tag index item, which
 * must hold exactly "sha256:<hex>" (of it->si_digest when that is set).
 * what names it in findings. Returns 1 and fills digest when it does, 0
 * when the pointer is missing (info: an interrupted write, readers see
 * nothing), -1 when it is malformed (a problem, reported here).
 */
static int
fsck_link(struct fsck *f, const struct store_item *it, const char *what,
    char digest[DIGEST_BUFSZ])
{
	const char *buf = it->si_target;
	size_t len = it->si_target_len;

	switch (it->si_target_state) {
	case STORE_TARGET_MISSING:
		fsck_report(f, FSCK_INFO,
		    "%s: no link file (interrupted write)", what);
		return 0;
	case STORE_TARGET_BAD:
		fsck_report(f, FSCK_PROBLEM, "%s: %s", what, it->si_what);
		return -1;
	case STORE_TARGET_OK:
		break;
	}
	if (!digest_is_valid(buf, len)) {
		if (len > 0 && buf[len - 1] == '\n' &&
		    digest_is_valid(buf, len - 1))
			fsck_report(f, FSCK_PROBLEM,
			    "%s: link ends with a newline", what);
		else
			fsck_report(f, FSCK_PROBLEM,
			    "%s: link does not hold a valid digest", what);
		return -1;
	}
	if (it->si_digest != NULL &&
	    (len != strlen(it->si_digest) ||
	        memcmp(buf, it->si_digest, len) != 0)) {
		fsck_report(f, FSCK_PROBLEM, "%s: link names %.*s", what,
		    (int)len, buf);
		return -1;
	}
	memcpy(digest, buf, len);
	digest[len] = '\0';
	return 1;
}

/* ---- blobs ---- */

/* fsck_blob: read blob digest through the store and hash it. */
static void
fsck_blob(struct fsck *f, const char *digest, uint64_t size)
{
	struct store_reader *r;
	struct digest_ctx *ctx;
	char got[DIGEST_BUFSZ];
	uint64_t total = 0;
	ssize_t n;

	(void)size;
	if ((r = store_blob_open(f->f_store, digest, &size)) == NULL) {
		/* Removed since the walk saw it: a live registry. */
		if (errno != ENOENT)
			fsck_report(f, FSCK_PROBLEM, "blob %s: open: %s",
			    digest, strerror(errno));
		return;
	}
	f->f_res->fr_blobs++;
	if ((ctx = digest_ctx_new()) == NULL) {
		f->f_nomem = 1;
		store_reader_close(r);
		return;
	}
	for (;;) {
		n = store_reader_read(r, f->f_buf, FSCK_HASH_CHUNK, total);
		if (n == -1) {
			fsck_report(f, FSCK_PROBLEM, "blob %s: read: %s",
			    digest, strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		digest_ctx_update(ctx, f->f_buf, (size_t)n);
		total += (uint64_t)n;
	}
	if (digest_ctx_peek(ctx, got) == -1) {
		f->f_nomem = 1;
		goto done;
	}
	if (strcmp(got, digest) != 0)
		fsck_report(f, FSCK_PROBLEM, "blob %s: content hashes to %s",
		    digest, got);
	else if (total != size)
		fsck_report(f, FSCK_PROBLEM,
		    "blob %s: size changed while reading", digest);
done:
	digest_ctx_free(ctx);
	store_reader_close(r);
}

/* ---- the walk ---- */

/* fsck_item_cb: one item of the store's walk. */
static int
fsck_item_cb(const struct store_item *it, void *arg)
{
	static const enum fsck_sev sev[] = {
	    [STORE_SEV_INFO] = FSCK_INFO,
	    [STORE_SEV_WARNING] = FSCK_WARNING,
	    [STORE_SEV_PROBLEM] = FSCK_PROBLEM,
	};
	struct fsck *f = arg;
	char what[FSCK_WHAT_MAX], digest[DIGEST_BUFSZ];

	if (f->f_nomem)
		return -1;
	switch (it->si_kind) {
	case STORE_ITEM_BLOB:
		fsck_blob(f, it->si_digest, it->si_size);
		break;
	case STORE_ITEM_REPO:
		f->f_res->fr_repos++;
		break;
	case STORE_ITEM_LINK:
		fsck_link_item(f, it);
		break;
	case STORE_ITEM_TAG:
		(void)snprintf(what, sizeof(what), "tag %s:%s", it->si_name,
		    it->si_tag);
		if (fsck_link(f, it, what, digest) == 1 &&
		    fsck_tag_add(f, it->si_name, it->si_tag, digest) == -1)
			f->f_nomem = 1;
		break;
	case STORE_ITEM_TAG_INDEX:
		/* History only: the manifest it names may be long gone. */
		(void)snprintf(what, sizeof(what),
		    "repository %s: tag %s: index entry %s", it->si_name,
		    it->si_tag, it->si_digest);
		(void)fsck_link(f, it, what, digest);
		break;
	case STORE_ITEM_UPLOAD:
		fsck_report(f, FSCK_INFO,
		    "repository %s: upload %s in progress or abandoned",
		    it->si_name, it->si_uuid);
		break;
	case STORE_ITEM_REFERRER:
		/*
		 * The referrers index is a cache that queries check against
		 * the revisions: an entry whose manifest is gone (deleted by
		 * registry:2, which does not know the index) is pruned by
		 * the next query of its subject.
		 */
		if (store_link_exists(f->f_store, it->si_name,
		        STORE_LINK_REVISION, it->si_digest) != 1)
			fsck_report(f, FSCK_INFO,
			    "repository %s: referrers index: %s (subject %s) "
			    "is not a revision: stale entry",
			    it->si_name, it->si_digest, it->si_subject);
		break;
	case STORE_ITEM_ODD:
		fsck_report(f, sev[it->si_severity], "%s: %s", it->si_where,
		    it->si_what);
		break;
	}
	return f->f_nomem ? -1 : 0;
}

/*
 * fsck_link_item: a layer or revision link must hold its own digest and
 * name a blob that exists; revisions are remembered for the cross-check.
 */
static void
fsck_link_item(struct fsck *f, const struct store_item *it)
{
	char what[FSCK_WHAT_MAX], digest[DIGEST_BUFSZ];
	uint64_t size;

	(void)snprintf(what, sizeof(what), "repository %s: %s %s", it->si_name,
	    it->si_link == STORE_LINK_LAYER ? "layer link" : "revision",
	    it->si_digest);
	if (fsck_link(f, it, what, digest) != 1)
		return;
	if (store_blob_stat(f->f_store, digest, &size) == -1) {
		fsck_report(f, FSCK_PROBLEM, "%s: blob %s", what,
		    errno == ENOENT ? "missing" : strerror(errno));
		return;
	}
	if (it->si_link == STORE_LINK_REVISION &&
	    fsck_rev_add(f, it->si_name, digest) == -1)
		f->f_nomem = 1;
}

static int
fsck_rev_add(struct fsck *f, const char *name, const char *digest)
{
	struct fsck_rev *v;
	size_t cap;

	if (f->f_nrevs == f->f_caprevs) {
		cap = f->f_caprevs ? f->f_caprevs * 2 : 64;
		if ((v = reallocarray(f->f_revs, cap, sizeof(*v))) == NULL)
			return -1;
		f->f_revs = v;
		f->f_caprevs = cap;
	}
	v = &f->f_revs[f->f_nrevs];
	if ((v->fv_name = strdup(name)) == NULL)
		return -1;
	(void)util_strlcpy(v->fv_digest, digest, sizeof(v->fv_digest));
	v->fv_checked = -1;
	f->f_nrevs++;
	return 0;
}

static int
fsck_tag_add(struct fsck *f, const char *name, const char *tag,
    const char *digest)
{
	struct fsck_tag *t;
	size_t cap;

	if (f->f_ntags == f->f_captags) {
		cap = f->f_captags ? f->f_captags * 2 : 64;
		if ((t = reallocarray(f->f_tags, cap, sizeof(*t))) == NULL)
			return -1;
		f->f_tags = t;
		f->f_captags = cap;
	}
	t = &f->f_tags[f->f_ntags];
	t->ft_name = strdup(name);
	t->ft_tag = strdup(tag);
	if (t->ft_name == NULL || t->ft_tag == NULL) {
		free(t->ft_name);
		free(t->ft_tag);
		return -1;
	}
	(void)util_strlcpy(t->ft_digest, digest, sizeof(t->ft_digest));
	f->f_ntags++;
	return 0;
}

static int
fsck_rev_cmp(const void *a, const void *b)
{
	const struct fsck_rev *x = a, *y = b;
	int c;

	if ((c = strcmp(x->fv_name, y->fv_name)) != 0)
		return c;
	return strcmp(x->fv_digest, y->fv_digest);
}

/* The revision digest of name (f_revs sorted), or NULL. */
static struct fsck_rev *
fsck_rev_find(struct fsck *f, const char *name, const char *digest)
{
	struct fsck_rev key;

	key.fv_name = (char *)(uintptr_t)name;
	(void)util_strlcpy(key.fv_digest, digest, sizeof(key.fv_digest));
	if (f->f_nrevs == 0)
		return NULL;
	return bsearch(&key, f->f_revs, f->f_nrevs, sizeof(*f->f_revs),
	    fsck_rev_cmp);
}

/*
 * fsck_is_rev: 1 when digest is a revision of name whose blob exists:
 * seen by the walk, or written since (fsck may run on a live tree, where
 * a manifest PUT can land between the walk of revisions/ and tags/).
 */
static int
fsck_is_rev(struct fsck *f, const char *name, const char *digest)
{
	if (fsck_rev_find(f, name, digest) != NULL)
		return 1;
	return store_link_exists(f->f_store, name, STORE_LINK_REVISION,
	           digest) == 1;
}

/*
 * fsck_manifest: check that the manifest digest of repository name
 * references blobs that exist and are linked in name, and children that
 * are revisions of name (recursively, up to FSCK_INDEX_MAX levels).
 * Findings get severity sev. A revision already checked at sev or worse
 * is not checked again.
 */
static void
fsck_manifest(struct fsck *f, const char *name, const char *digest,
    enum fsck_sev sev, int depth)
{
	static const char *const kinds[] = {"config", "layer", "child", "blob"};
	struct fsck_rev *v;
	struct manifest m;
	char err[256], *buf = NULL;
	size_t len, i;
	uint64_t size;
	const struct manifest_ref *ref;

	if ((v = fsck_rev_find(f, name, digest)) != NULL) {
		if (v->fv_checked >= (int)sev)
			return;
		v->fv_checked = (int)sev;
	}
	if (store_blob_read(f->f_store, digest, MANIFEST_MAX_BYTES, &buf,
	        &len) == -1) {
		/* A missing blob was reported with its revision link. */
		if (errno != ENOENT)
			fsck_report(f, sev, "manifest %s in %s: read: %s",
			    digest, name, strerror(errno));
		return;
	}
	if (manifest_parse(buf, len, NULL, &m, err, sizeof(err)) == -1) {
		/* Maybe a schema 1 manifest of an old registry:2 tree. */
		fsck_report(f, FSCK_WARNING,
		    "manifest %s in %s: not understood: %s", digest, name, err);
		free(buf);
		return;
	}
	free(buf);
	for (i = 0; i < m.m_nrefs; i++) {
		ref = &m.m_refs[i];
		if (!ref->mr_check)
			continue;
		if (ref->mr_kind == MANIFEST_REF_CHILD) {
			if (!fsck_is_rev(f, name, ref->mr_digest)) {
				fsck_report(f, sev,
				    "manifest %s in %s: child %s is not a "
				    "revision of the repository",
				    digest, name, ref->mr_digest);
				continue;
			}
			if (depth < FSCK_INDEX_MAX)
				fsck_manifest(f, name, ref->mr_digest, sev,
				    depth + 1);
			continue;
		}
		if (store_blob_stat(f->f_store, ref->mr_digest, &size) == -1) {
			fsck_report(f, sev, "manifest %s in %s: %s %s: %s",
			    digest, name, kinds[ref->mr_kind], ref->mr_digest,
			    errno == ENOENT ? "blob missing" : strerror(errno));
			continue;
		}
		if (store_link_exists(f->f_store, name, STORE_LINK_LAYER,
		        ref->mr_digest) != 1)
			fsck_report(f, sev,
			    "manifest %s in %s: %s %s: not linked in the "
			    "repository",
			    digest, name, kinds[ref->mr_kind], ref->mr_digest);
	}
	manifest_free(&m);
}

static void
fsck_free(struct fsck *f)
{
	size_t i;

	for (i = 0; i < f->f_nrevs; i++)
		free(f->f_revs[i].fv_name);
	free(f->f_revs);
	for (i = 0; i < f->f_ntags; i++) {
		free(f->f_tags[i].ft_name);
		free(f->f_tags[i].ft_tag);
	}
	free(f->f_tags);
	free(f->f_buf);
}

/* ---- the run ---- */

/*
 * fsck_run: check the tree of s (see fsck.h). Findings and the summary go
 * to out when it is not NULL; the counts to *res. 0 when the check ran,
 * -1 with errno when it could not.
 */
int
fsck_run(struct store *s, FILE *out, struct fsck_result *res)
{
	struct fsck f;
	struct fsck_tag *t;
	struct fsck_rev *v;
	size_t i;
	int rv = -1;

	memset(res, 0, sizeof(*res));
	memset(&f, 0, sizeof(f));
	f.f_store = s;
	f.f_out = out;
	f.f_res = res;
	if ((f.f_buf = malloc(FSCK_HASH_CHUNK)) == NULL)
		return -1;
	if (store_walk(s, fsck_item_cb, &f) == -1 && !f.f_nomem)
		fsck_report(&f, FSCK_PROBLEM, "walk: %s", strerror(errno));
	if (f.f_nomem) {
		errno = ENOMEM;
		goto done;
	}
	if (f.f_nrevs > 1)
		qsort(f.f_revs, f.f_nrevs, sizeof(*f.f_revs), fsck_rev_cmp);
	/* Manifests clients pull by tag: anything missing is a problem. */
	for (i = 0; i < f.f_ntags; i++) {
		t = &f.f_tags[i];
		if (!fsck_is_rev(&f, t->ft_name, t->ft_digest)) {
			fsck_report(&f, FSCK_PROBLEM,
			    "tag %s:%s: points to %s, which is not a revision "
			    "of the repository",
			    t->ft_name, t->ft_tag, t->ft_digest);
			continue;
		}
		fsck_manifest(&f, t->ft_name, t->ft_digest, FSCK_PROBLEM, 0);
	}
	/* Untagged ones are only pulled by digest, if ever: warnings. */
	for (i = 0; i < f.f_nrevs; i++) {
		v = &f.f_revs[i];
		if (v->fv_checked == -1)
			fsck_manifest(&f, v->fv_name, v->fv_digest,
			    FSCK_WARNING, 0);
	}
	if (out != NULL)
		fprintf(out,
		    "fsck: %zu blobs, %zu repositories, %zu problems "
		    "(%zu warnings, %zu info)\n",
		    res->fr_blobs, res->fr_repos, res->fr_problems,
		    res->fr_warnings, res->fr_info);
	rv = 0;
done:
	fsck_free(&f);
	return rv;
}
