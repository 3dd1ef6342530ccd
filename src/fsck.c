/*
 * fsck.c: a read-only consistency check of a storage tree.
 *
 * Two walks and a cross-check:
 *
 *   blobs/         every sha256/<xx>/<hex>/data is hashed (1 MiB reads)
 *                  and must hash to <hex>, sitting in the <hex[0:2]> fan-out
 *                  directory;
 *   repositories/  every link file must hold exactly "sha256:<hex>" of its
 *                  directory (no newline); _layers and revision links must
 *                  name blobs that exist; tags are remembered;
 *   afterwards     every tag's current link must name a revision of its
 *                  repository, and the manifests reachable from tags must
 *                  reference blobs that exist and are linked in the
 *                  repository (problems); the same check on manifests no
 *                  tag reaches only warns.
 *
 * What a crash may leave behind and readers ignore is info, not a problem:
 * *.tmp files of interrupted atomic writes, upload directories, a blob or
 * link directory created just before the process died without its file.
 *
 * Everything goes through the store's raw tree access; nothing is written.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "digest.h"
#include "fsck.h"
#include "log.h"
#include "manifest.h"
#include "store.h"
#include "util.h"

#define FSCK_HASH_CHUNK (1024 * 1024) /* bytes per read when hashing */
#define FSCK_LINK_MAX   128           /* longer link files are garbage */
#define FSCK_PATH_MAX   4096          /* longest path the walk reports */
#define FSCK_COMP_MAX   8             /* pattern components */
#define FSCK_INDEX_MAX  4             /* nesting of indexes followed */

/* How bad a finding is. */
enum fsck_sev {
	FSCK_INFO,    /* crash litter, ignored by readers */
	FSCK_WARNING, /* suspicious, harmless to clients */
	FSCK_PROBLEM, /* wrong or missing content: needs repair */
};

/* What to do with an entry of a repository that matches a pattern. */
enum fsck_act {
	FSCK_ACT_ENTER,    /* a directory of the layout: go on */
	FSCK_ACT_REPO,     /* _manifests: count the repository */
	FSCK_ACT_LAYER,    /* _layers/sha256/<hex>: check its link */
	FSCK_ACT_REVISION, /* revisions/sha256/<hex>: check, remember */
	FSCK_ACT_TAG,      /* tags/<tag>: check current/link, remember */
	FSCK_ACT_INDEX,    /* tags/<tag>/index/sha256/<hex>: check link */
	FSCK_ACT_LINK,     /* a link file checked with its directory */
	FSCK_ACT_UPLOAD,   /* _uploads/<uuid>: info, not entered */
};

/*
 * The layout below repositories/<name>/. "*H" is a 64-hex digest part,
 * "*T" a tag, "*" anything; dir says whether the entry is a directory.
 */
struct fsck_pattern {
	const char *fp_path;
	int fp_dir;
	enum fsck_act fp_act;
};

static const struct fsck_pattern fsck_patterns[] = {
    {"_layers", 1, FSCK_ACT_ENTER},
    {"_layers/sha256", 1, FSCK_ACT_ENTER},
    {"_layers/sha256/*H", 1, FSCK_ACT_LAYER},
    {"_layers/sha256/*H/link", 0, FSCK_ACT_LINK},
    {"_manifests", 1, FSCK_ACT_REPO},
    {"_manifests/revisions", 1, FSCK_ACT_ENTER},
    {"_manifests/revisions/sha256", 1, FSCK_ACT_ENTER},
    {"_manifests/revisions/sha256/*H", 1, FSCK_ACT_REVISION},
    {"_manifests/revisions/sha256/*H/link", 0, FSCK_ACT_LINK},
    {"_manifests/tags", 1, FSCK_ACT_ENTER},
    {"_manifests/tags/*T", 1, FSCK_ACT_TAG},
    {"_manifests/tags/*T/current", 1, FSCK_ACT_ENTER},
    {"_manifests/tags/*T/current/link", 0, FSCK_ACT_LINK},
    {"_manifests/tags/*T/index", 1, FSCK_ACT_ENTER},
    {"_manifests/tags/*T/index/sha256", 1, FSCK_ACT_ENTER},
    {"_manifests/tags/*T/index/sha256/*H", 1, FSCK_ACT_INDEX},
    {"_manifests/tags/*T/index/sha256/*H/link", 0, FSCK_ACT_LINK},
    {"_uploads", 1, FSCK_ACT_ENTER},
    {"_uploads/*", 1, FSCK_ACT_UPLOAD},
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
static int fsck_is_hex(const char *, size_t);
static int fsck_hexchars(const char *, size_t);
static int fsck_is_tag(const char *, size_t);
static int fsck_has_suffix(const char *, const char *);
static const char *fsck_base(const char *);
static int fsck_link(struct fsck *, const char *, const char *, const char *,
    char[DIGEST_BUFSZ]);
static void fsck_blob(struct fsck *, const char *, const char *);
static int fsck_blobs_cb(const char *, enum store_entry, uint64_t, void *);
static int fsck_match(const char *, const char *);
static int fsck_repos_cb(const char *, enum store_entry, uint64_t, void *);
static void fsck_repo_entry(struct fsck *, const char *, const char *,
    const struct fsck_pattern *, const char *);
static int fsck_rev_add(struct fsck *, const char *, const char *);
static int
fsck_tag_add(struct fsck *, const char *, const char *, const char *);
static int fsck_rev_cmp(const void *, const void *);
static struct fsck_rev *
fsck_rev_find(struct fsck *, const char *, const char *);
static int fsck_linked(struct fsck *, const char *, const char *, const char *);
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

/* ---- small helpers ---- */

/* 1 when s[0..len) is exactly 64 lowercase hex digits. */
static int
fsck_is_hex(const char *s, size_t len)
{
	return len == 64 && fsck_hexchars(s, len);
}

/* 1 when s[0..len) are lowercase hex digits. */
static int
fsck_hexchars(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		        (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* 1 for a tag of the OCI grammar [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. */
static int
fsck_is_tag(const char *s, size_t len)
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
fsck_has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The last component of path. */
static const char *
fsck_base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/*
 * fsck_link: check dir/link, which must hold exactly "sha256:<hex>". what
 * names the link in findings. Returns 1 and fills digest when it does, 0
 * when the link file is missing (info: an interrupted write, readers see
 * nothing), -1 when it is malformed (a problem, reported here).
 */
static int
fsck_link(struct fsck *f, const char *dir, const char *hex, const char *what,
    char digest[DIGEST_BUFSZ])
{
	char path[FSCK_PATH_MAX], buf[FSCK_LINK_MAX + 2];
	size_t len;

	if (snprintf(path, sizeof(path), "%s/link", dir) >= (int)sizeof(path)) {
		fsck_report(f, FSCK_PROBLEM, "%s: path too long", what);
		return -1;
	}
	if (store_object_read(f->f_store, path, buf, sizeof(buf), &len) == -1) {
		if (errno == ENOENT) {
			fsck_report(f, FSCK_INFO,
			    "%s: no link file (interrupted write)", what);
			return 0;
		}
		if (errno == EINVAL)
			fsck_report(f, FSCK_PROBLEM,
			    "%s: link is not a regular file", what);
		else
			fsck_report(f, FSCK_PROBLEM, "%s: read link: %s", what,
			    strerror(errno));
		return -1;
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
	if (hex != NULL && strcmp(digest_hex(buf), hex) != 0) {
		fsck_report(f, FSCK_PROBLEM, "%s: link names %s", what, buf);
		return -1;
	}
	memcpy(digest, buf, len + 1);
	return 1;
}

/* ---- blobs ---- */

/*
 * fsck_blob: check the blob directory path (blobs/sha256/<xx>/<hex>):
 * hash its data and compare with its name.
 */
static void
fsck_blob(struct fsck *f, const char *path, const char *hex)
{
	struct digest_ctx *ctx;
	char data[FSCK_PATH_MAX], got[DIGEST_BUFSZ];
	uint64_t size, total = 0;
	ssize_t n;
	int fd;

	if (snprintf(data, sizeof(data), "%s/data", path) >= (int)sizeof(data))
		return;
	if ((fd = store_object_open(f->f_store, data, &size)) == -1) {
		if (errno == ENOENT)
			fsck_report(f, FSCK_INFO,
			    "blob sha256:%s: directory without data "
			    "(interrupted write)",
			    hex);
		else if (errno == EINVAL)
			fsck_report(f, FSCK_PROBLEM,
			    "blob sha256:%s: data is not a regular file", hex);
		else
			fsck_report(f, FSCK_PROBLEM, "blob sha256:%s: open: %s",
			    hex, strerror(errno));
		return;
	}
	f->f_res->fr_blobs++;
	if ((ctx = digest_ctx_new()) == NULL) {
		f->f_nomem = 1;
		(void)close(fd);
		return;
	}
	for (;;) {
		n = read(fd, f->f_buf, FSCK_HASH_CHUNK);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fsck_report(f, FSCK_PROBLEM, "blob sha256:%s: read: %s",
			    hex, strerror(errno));
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
	if (strcmp(digest_hex(got), hex) != 0)
		fsck_report(f, FSCK_PROBLEM,
		    "blob sha256:%s: content hashes to %s", hex, got);
	else if (total != size)
		fsck_report(f, FSCK_PROBLEM,
		    "blob sha256:%s: size changed while reading", hex);
done:
	digest_ctx_free(ctx);
	(void)close(fd);
}

/*
 * fsck_blobs_cb: one entry under blobs/. The layout is
 * blobs/sha256/<xx>/<hex>/data; registryd knows no other algorithm.
 */
static int
fsck_blobs_cb(const char *path, enum store_entry kind, uint64_t size, void *arg)
{
	struct fsck *f = arg;
	const char *p, *base = fsck_base(path);
	const char *comp[6];
	size_t len[6], n = 0;

	(void)size;
	if (fsck_has_suffix(base, ".tmp")) {
		fsck_report(f, FSCK_INFO, "%s: stray temporary file", path);
		return 1;
	}
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
		fsck_report(f, FSCK_WARNING,
		    "%s: unexpected entry (not checked)", path);
		return 1;
	case 3:
		if (kind == STORE_ENTRY_DIR && len[2] == 2 &&
		    fsck_hexchars(comp[2], 2))
			return 0;
		fsck_report(f, FSCK_PROBLEM, "%s: unexpected entry", path);
		return 1;
	case 4:
		if (kind != STORE_ENTRY_DIR || !fsck_is_hex(comp[3], len[3])) {
			fsck_report(f, FSCK_PROBLEM, "%s: unexpected entry",
			    path);
			return 1;
		}
		if (memcmp(comp[2], comp[3], 2) != 0) {
			fsck_report(f, FSCK_PROBLEM,
			    "blob sha256:%s: in fan-out directory %.2s, "
			    "not %.2s",
			    comp[3], comp[2], comp[3]);
			return 1;
		}
		fsck_blob(f, path, comp[3]);
		return 0;
	case 5:
		if (strcmp(comp[4], "data") != 0)
			fsck_report(f, FSCK_WARNING, "%s: unexpected entry",
			    path);
		return 1;
	default:
		fsck_report(f, FSCK_WARNING, "%s: unexpected entry", path);
		return 1;
	}
}

/* ---- repositories ---- */

/*
 * fsck_match: 1 when rel (below repositories/<name>/) matches pattern,
 * component by component ("*H" hex digest part, "*T" tag, "*" any).
 */
static int
fsck_match(const char *pattern, const char *rel)
{
	const char *p = pattern, *r = rel, *pe, *re;
	size_t plen, rlen;

	for (;;) {
		pe = strchr(p, '/');
		re = strchr(r, '/');
		plen = pe != NULL ? (size_t)(pe - p) : strlen(p);
		rlen = re != NULL ? (size_t)(re - r) : strlen(r);
		if (plen == 2 && memcmp(p, "*H", 2) == 0) {
			if (!fsck_is_hex(r, rlen))
				return 0;
		} else if (plen == 2 && memcmp(p, "*T", 2) == 0) {
			if (!fsck_is_tag(r, rlen))
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
 * fsck_repos_cb: one entry under repositories/. Components before the
 * first one starting with '_' form the repository name; what follows
 * must match the layout (fsck_patterns).
 */
static int
fsck_repos_cb(const char *path, enum store_entry kind, uint64_t size, void *arg)
{
	struct fsck *f = arg;
	const char *rel, *base = fsck_base(path);
	char name[NAME_MAX_LEN + 1];
	size_t i, nlen;

	(void)size;
	if (f->f_nomem)
		return -1;
	if (fsck_has_suffix(base, ".tmp")) {
		fsck_report(f, FSCK_INFO, "%s: stray temporary file", path);
		return 1;
	}
	rel = path + strlen("repositories/");
	/* Find "/_" starting a component after the name. */
	for (i = 0; rel[i] != '\0'; i++)
		if (rel[i] == '/' && rel[i + 1] == '_')
			break;
	if (rel[i] == '\0') {
		/* Still inside a name: directories only, no hidden ones. */
		if (kind == STORE_ENTRY_DIR && base[0] != '.' && base[0] != '_')
			return 0;
		fsck_report(f, FSCK_WARNING, "%s: unexpected entry", path);
		return 1;
	}
	nlen = i;
	if (nlen > NAME_MAX_LEN) {
		fsck_report(f, FSCK_WARNING, "%s: repository name too long",
		    path);
		return 1;
	}
	memcpy(name, rel, nlen);
	name[nlen] = '\0';
	rel += nlen + 1;
	for (i = 0; i < sizeof(fsck_patterns) / sizeof(fsck_patterns[0]); i++) {
		if (!fsck_match(fsck_patterns[i].fp_path, rel))
			continue;
		if ((kind == STORE_ENTRY_DIR) != fsck_patterns[i].fp_dir) {
			fsck_report(f, FSCK_PROBLEM, "%s: is %s", path,
			    fsck_patterns[i].fp_dir ? "not a directory"
			                            : "not a regular file");
			return 1;
		}
		fsck_repo_entry(f, path, name, &fsck_patterns[i], base);
		return fsck_patterns[i].fp_act == FSCK_ACT_UPLOAD ? 1 : 0;
	}
	fsck_report(f, FSCK_WARNING, "%s: unexpected entry", path);
	return 1;
}

/* fsck_repo_entry: act on an entry of repository name that matched fp. */
static void
fsck_repo_entry(struct fsck *f, const char *path, const char *name,
    const struct fsck_pattern *fp, const char *base)
{
	char digest[DIGEST_BUFSZ], what[FSCK_PATH_MAX], cur[FSCK_PATH_MAX];
	uint64_t size;

	switch (fp->fp_act) {
	case FSCK_ACT_ENTER:
	case FSCK_ACT_LINK:
		return;
	case FSCK_ACT_REPO:
		f->f_res->fr_repos++;
		return;
	case FSCK_ACT_UPLOAD:
		fsck_report(f, FSCK_INFO,
		    "repository %s: upload %s in progress or abandoned", name,
		    base);
		return;
	case FSCK_ACT_LAYER:
	case FSCK_ACT_REVISION:
		(void)snprintf(what, sizeof(what),
		    "repository %s: %s sha256:%s", name,
		    fp->fp_act == FSCK_ACT_LAYER ? "layer link" : "revision",
		    base);
		if (fsck_link(f, path, base, what, digest) != 1)
			return;
		if (store_blob_stat(f->f_store, digest, &size) == -1) {
			fsck_report(f, FSCK_PROBLEM, "%s: blob %s", what,
			    errno == ENOENT ? "missing" : strerror(errno));
			return;
		}
		if (fp->fp_act == FSCK_ACT_REVISION &&
		    fsck_rev_add(f, name, digest) == -1)
			f->f_nomem = 1;
		return;
	case FSCK_ACT_INDEX:
		/* History only: the manifest it names may be long gone. */
		(void)snprintf(what, sizeof(what),
		    "repository %s: tag index entry %s", name, path);
		(void)fsck_link(f, path, base, what, digest);
		return;
	case FSCK_ACT_TAG:
		(void)snprintf(what, sizeof(what), "tag %s:%s", name, base);
		if (snprintf(cur, sizeof(cur), "%s/current", path) >=
		    (int)sizeof(cur))
			return;
		if (fsck_link(f, cur, NULL, what, digest) == 1 &&
		    fsck_tag_add(f, name, base, digest) == -1)
			f->f_nomem = 1;
		return;
	}
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
 * fsck_linked: 1 when repositories/<name>/<dir>/<hex>/link holds digest
 * (dir: "_layers/sha256" or "_manifests/revisions/sha256").
 */
static int
fsck_linked(struct fsck *f, const char *name, const char *dir,
    const char *digest)
{
	char path[FSCK_PATH_MAX], buf[FSCK_LINK_MAX + 2];
	size_t len;

	if (snprintf(path, sizeof(path), "repositories/%s/%s/%s/link", name,
	        dir, digest_hex(digest)) >= (int)sizeof(path))
		return 0;
	if (store_object_read(f->f_store, path, buf, sizeof(buf), &len) == -1)
		return 0;
	return len == strlen(digest) && memcmp(buf, digest, len) == 0;
}

/*
 * fsck_is_rev: 1 when digest is a revision of name whose blob exists:
 * seen by the walk, or written since (fsck may run on a live tree, where
 * a manifest PUT can land between the walk of revisions/ and tags/).
 */
static int
fsck_is_rev(struct fsck *f, const char *name, const char *digest)
{
	uint64_t size;

	if (fsck_rev_find(f, name, digest) != NULL)
		return 1;
	return fsck_linked(f, name, "_manifests/revisions/sha256", digest) &&
	    store_blob_stat(f->f_store, digest, &size) == 0;
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
		if (!fsck_linked(f, name, "_layers/sha256", ref->mr_digest))
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
	if (store_tree_walk(s, "blobs", fsck_blobs_cb, &f) == -1 && !f.f_nomem)
		fsck_report(&f, FSCK_PROBLEM, "blobs: walk: %s",
		    strerror(errno));
	if (!f.f_nomem &&
	    store_tree_walk(s, "repositories", fsck_repos_cb, &f) == -1 &&
	    !f.f_nomem)
		fsck_report(&f, FSCK_PROBLEM, "repositories: walk: %s",
		    strerror(errno));
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
