/*
 * Garbage collection (gc.c) on the memory driver: what a collection keeps
 * and removes, with and without --delete-untagged (index children and
 * referrers stay), what was used recently, pushes interleaved with the
 * steps of a run, a run interrupted after every single removal (fsck
 * clean each time), disk usage, and manifest_scan.
 */
#define GC_STEP_ITEMS 1 /* one read or removal per step */
#include "../../src/gc.c"

#include "fsck.h"
#include "store_mem.h"
#include "tap.h"

#define OLD (2 * 3600) /* how much older the fixture is made */

/* The fixture's digests (see fixture). */
struct fix {
	char c1[DIGEST_BUFSZ], l1[DIGEST_BUFSZ], l2[DIGEST_BUFSZ];
	char o[DIGEST_BUFSZ], o2[DIGEST_BUFSZ], lonely[DIGEST_BUFSZ];
	char m1[DIGEST_BUFSZ], m2[DIGEST_BUFSZ], m3[DIGEST_BUFSZ];
	char c2[DIGEST_BUFSZ], l3[DIGEST_BUFSZ], l4[DIGEST_BUFSZ];
	char l5[DIGEST_BUFSZ], x1[DIGEST_BUFSZ], x2[DIGEST_BUFSZ];
	char idx[DIGEST_BUFSZ], e[DIGEST_BUFSZ], a1[DIGEST_BUFSZ];
	char a2[DIGEST_BUFSZ], r[DIGEST_BUFSZ], u[DIGEST_BUFSZ];
	char r2[DIGEST_BUFSZ], l6[DIGEST_BUFSZ], s[DIGEST_BUFSZ];
	char mm[DIGEST_BUFSZ], n[DIGEST_BUFSZ], dd[DIGEST_BUFSZ];
};

static void
blob(struct store *st, const char *repo, const char *text, char *d)
{
	digest_buf(text, strlen(text), d);
	if (store_blob_write(st, d, text, strlen(text)) == -1 ||
	    (repo != NULL &&
	        store_link_write(st, repo, STORE_LINK_LAYER, d) == -1))
		printf("# blob %s: %s\n", text, strerror(errno));
}

static void
manifest(struct store *st, const char *repo, const char *json, const char *tag,
    char *d)
{
	digest_buf(json, strlen(json), d);
	if (store_blob_write(st, d, json, strlen(json)) == -1 ||
	    store_link_write(st, repo, STORE_LINK_REVISION, d) == -1 ||
	    (tag != NULL && store_tag_set(st, repo, tag, d) == -1))
		printf("# manifest in %s: %s\n", repo, strerror(errno));
}

/* An OCI image manifest: config, one layer, a name, maybe a subject. */
static void
image(struct store *st, const char *repo, const char *name, const char *cfg,
    const char *layer, const char *subject, const char *tag, char *d)
{
	char json[1024], sub[256] = "";

	if (subject != NULL)
		(void)snprintf(sub, sizeof(sub),
		    ",\"subject\":{\"mediaType\":\"%s\",\"digest\":\"%s\","
		    "\"size\":1}",
		    MT_OCI_MANIFEST, subject);
	(void)snprintf(json, sizeof(json),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{"
	    "\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	    "\"digest\":\"%s\",\"size\":1},\"layers\":[{\"mediaType\":"
	    "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\","
	    "\"size\":1}],\"annotations\":{\"n\":\"%s\"}%s}",
	    MT_OCI_MANIFEST, cfg, layer, name, sub);
	manifest(st, repo, json, tag, d);
}

static int
has_blob(struct store *st, const char *d)
{
	uint64_t size;

	return store_blob_stat(st, d, &size) == 0;
}

static int
has_link(struct store *st, const char *repo, enum store_link kind,
    const char *d)
{
	struct timespec ts;

	return store_link_used(st, repo, kind, d, &ts) == 0;
}

/*
 * fixture: three healthy repositories, and with broken, three with what
 * fsck calls problems. Everything is then made OLD seconds old.
 *
 *   a    C1 L1 L2 O O2 layers; M1 (C1, L1):v1; M2 (C1, L2) untagged
 *   b    C1 L1 layers; M3 (C1, L1):v1
 *   c    C2 L3 L4 L5 E A1 A2 layers; X1 (C2, L3), X2 (C2, L4) untagged,
 *        the index I (X1, X2):multi; R (E, A1) untagged with subject X1;
 *        U (C2, L5) untagged; R2 (E, A2) untagged with subject U
 *   old  L6 layer; S, a Docker schema 1 manifest (blobSum L6):v1
 *   -    "lonely", a blob no repository links
 * broken:
 *   z    a revision MM whose blob is missing
 *   n    N:v1, bytes that are not JSON
 *   d    a layer link to DD, a blob that is missing
 */
static void
fixture(struct store *st, struct fix *f, int broken)
{
	char json[1024];

	blob(st, "a", "c1", f->c1);
	blob(st, "a", "l1", f->l1);
	blob(st, "a", "l2", f->l2);
	blob(st, "a", "orphan", f->o);
	blob(st, "a", "orphan2", f->o2);
	blob(st, NULL, "lonely", f->lonely);
	image(st, "a", "m1", f->c1, f->l1, NULL, "v1", f->m1);
	image(st, "a", "m2", f->c1, f->l2, NULL, NULL, f->m2);
	blob(st, "b", "c1", f->c1);
	blob(st, "b", "l1", f->l1);
	image(st, "b", "m3", f->c1, f->l1, NULL, "v1", f->m3);
	blob(st, "c", "c2", f->c2);
	blob(st, "c", "l3", f->l3);
	blob(st, "c", "l4", f->l4);
	blob(st, "c", "l5", f->l5);
	blob(st, "c", "{}", f->e);
	blob(st, "c", "artifact", f->a1);
	blob(st, "c", "artifact2", f->a2);
	image(st, "c", "x1", f->c2, f->l3, NULL, NULL, f->x1);
	image(st, "c", "x2", f->c2, f->l4, NULL, NULL, f->x2);
	(void)snprintf(json, sizeof(json),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":["
	    "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":1,"
	    "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
	    "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":1,"
	    "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}}]}",
	    MT_OCI_INDEX, MT_OCI_MANIFEST, f->x1, MT_OCI_MANIFEST, f->x2);
	manifest(st, "c", json, "multi", f->idx);
	image(st, "c", "r", f->e, f->a1, f->x1, NULL, f->r);
	image(st, "c", "u", f->c2, f->l5, NULL, NULL, f->u);
	image(st, "c", "r2", f->e, f->a2, f->u, NULL, f->r2);
	blob(st, "old", "l6", f->l6);
	(void)snprintf(json, sizeof(json),
	    "{\"schemaVersion\":1,\"name\":\"old\",\"tag\":\"v1\","
	    "\"fsLayers\":[{\"blobSum\":\"%s\"}]}",
	    f->l6);
	manifest(st, "old", json, "v1", f->s);
	if (broken) {
		digest_buf("mm", 2, f->mm);
		if (store_link_write(st, "z", STORE_LINK_REVISION, f->mm) == -1)
			printf("# z: %s\n", strerror(errno));
		manifest(st, "n", "garbage", "v1", f->n);
		digest_buf("dd", 2, f->dd);
		if (store_link_write(st, "d", STORE_LINK_LAYER, f->dd) == -1)
			printf("# d: %s\n", strerror(errno));
	}
	store_mem_age(st, OLD);
}

static struct gc_options
options(int dry, int untagged)
{
	struct gc_options o;

	memset(&o, 0, sizeof(o));
	o.go_dry_run = dry;
	o.go_delete_untagged = untagged;
	o.go_grace = 3600;
	return o;
}

/* fsck_problems: problems fsck finds in st now. */
static size_t
fsck_problems(struct store *st)
{
	struct fsck_result fr;

	if (fsck_run(st, NULL, &fr) == -1)
		return 9999;
	return fr.fr_problems;
}

/* Every tagged image of the fixture is whole. */
static void
healthy(struct store *st, const struct fix *f, const char *what)
{
	ok(has_blob(st, f->m1) && has_blob(st, f->c1) && has_blob(st, f->l1) &&
	        has_link(st, "a", STORE_LINK_LAYER, f->l1) &&
	        has_link(st, "a", STORE_LINK_REVISION, f->m1),
	    "%s: a:v1 whole", what);
	ok(has_blob(st, f->m3) && has_link(st, "b", STORE_LINK_LAYER, f->l1) &&
	        has_link(st, "b", STORE_LINK_LAYER, f->c1),
	    "%s: b:v1 whole", what);
	ok(has_blob(st, f->idx) && has_blob(st, f->x1) && has_blob(st, f->x2) &&
	        has_blob(st, f->c2) && has_blob(st, f->l3) &&
	        has_blob(st, f->l4) &&
	        has_link(st, "c", STORE_LINK_REVISION, f->x1) &&
	        has_link(st, "c", STORE_LINK_REVISION, f->x2),
	    "%s: the index c:multi and both its children whole", what);
	ok(has_blob(st, f->r) && has_blob(st, f->a1) && has_blob(st, f->e) &&
	        has_link(st, "c", STORE_LINK_REVISION, f->r),
	    "%s: the referrer of a child stays", what);
	ok(has_blob(st, f->s) && has_blob(st, f->l6),
	    "%s: the schema 1 manifest keeps its layer", what);
}

static void
test_keep_all(void)
{
	struct store *st = store_mem_open();
	struct gc_options o;
	struct gc_result res, dry;
	struct fix f;

	fixture(st, &f, 1);
	o = options(1, 0);
	ok(gc_run(st, &o, &dry) == 0, "dry run");
	ok(has_blob(st, f.o) && has_blob(st, f.lonely) &&
	        has_link(st, "d", STORE_LINK_LAYER, f.dd),
	    "dry run removes nothing");
	o = options(0, 0);
	ok(gc_run(st, &o, &res) == 0, "collect");
	is_int(res.gr_blobs, 25, "25 blobs seen");
	is_int(res.gr_repos, 7, "7 repositories");
	is_int(res.gr_manifests, 12, "12 manifests read");
	is_int(res.gr_blobs_removed, 3, "3 blobs removed: O, O2, lonely");
	is_int(res.gr_links_removed, 3, "3 links: O and O2 in a, DD in d");
	is_int(res.gr_manifests_removed, 0, "no manifest removed");
	is_int(res.gr_bytes_removed, 6 + 7 + 6, "their bytes");
	is_int(res.gr_warnings, 2, "2 warnings: MM missing, N not JSON");
	is_int(res.gr_errors, 0, "no errors");
	ok(dry.gr_blobs_removed == res.gr_blobs_removed &&
	        dry.gr_links_removed == res.gr_links_removed &&
	        dry.gr_bytes_removed == res.gr_bytes_removed,
	    "the dry run counted the same");
	ok(!has_blob(st, f.o) && !has_blob(st, f.o2) && !has_blob(st, f.lonely),
	    "the orphans are gone");
	ok(!has_link(st, "a", STORE_LINK_LAYER, f.o) &&
	        !has_link(st, "d", STORE_LINK_LAYER, f.dd),
	    "so are their links and the dangling one");
	healthy(st, &f, "keep all");
	ok(has_blob(st, f.m2) && has_blob(st, f.l2) && has_blob(st, f.u) &&
	        has_blob(st, f.l5) && has_blob(st, f.r2) && has_blob(st, f.a2),
	    "untagged manifests keep their blobs");
	ok(has_link(st, "z", STORE_LINK_REVISION, f.mm) && has_blob(st, f.n),
	    "a revision without blob and one that is not JSON stay");
	o = options(0, 0);
	ok(gc_run(st, &o, &res) == 0 && res.gr_blobs_removed == 0 &&
	        res.gr_links_removed == 0,
	    "a second run finds nothing");
	store_close(st);
}

static void
test_untagged(void)
{
	struct store *st = store_mem_open();
	struct gc_options o;
	struct gc_result res, dry;
	struct fix f;

	fixture(st, &f, 1);
	o = options(1, 1);
	ok(gc_run(st, &o, &dry) == 0, "dry run --delete-untagged");
	ok(has_link(st, "a", STORE_LINK_REVISION, f.m2),
	    "dry run removes no manifest");
	o = options(0, 1);
	ok(gc_run(st, &o, &res) == 0, "collect --delete-untagged");
	is_int(res.gr_manifests_removed, 4, "4 manifests: M2, U, R2, MM");
	is_int(res.gr_blobs_removed, 9,
	    "9 blobs: O, O2, lonely, M2, L2, U, L5, R2, A2");
	is_int(res.gr_links_removed, 6, "6 links: O, O2, L2, L5, A2, DD");
	ok(dry.gr_manifests_removed == res.gr_manifests_removed &&
	        dry.gr_blobs_removed == res.gr_blobs_removed &&
	        dry.gr_links_removed == res.gr_links_removed,
	    "the dry run counted the same");
	healthy(st, &f, "delete untagged");
	ok(!has_link(st, "a", STORE_LINK_REVISION, f.m2) &&
	        !has_blob(st, f.m2) && !has_blob(st, f.l2) &&
	        !has_link(st, "a", STORE_LINK_LAYER, f.l2),
	    "the untagged M2 and its own layer are gone");
	ok(has_blob(st, f.c1), "its config, shared with kept ones, stays");
	ok(!has_link(st, "c", STORE_LINK_REVISION, f.u) &&
	        !has_link(st, "c", STORE_LINK_REVISION, f.r2) &&
	        !has_blob(st, f.a2) && !has_blob(st, f.l5),
	    "U and its referrer R2 are gone with their blobs");
	ok(!has_link(st, "z", STORE_LINK_REVISION, f.mm),
	    "the untagged revision without blob is gone");
	ok(has_blob(st, f.n), "the tagged one that is not JSON stays");
	store_close(st);
}

/*
 * What was used recently stays: a link touched (a HEAD), and a blob
 * linked in a repository the walk never saw (a mount after it).
 */
static void
test_recent(void)
{
	struct store *st = store_mem_open();
	struct gc_options o = options(0, 0);
	struct gc *g;
	struct fix f;
	char o3[DIGEST_BUFSZ];
	int rc;

	fixture(st, &f, 0);
	blob(st, "a", "orphan3", o3);
	store_mem_age(st, OLD);
	ok(store_link_touch(st, "a", STORE_LINK_LAYER, f.o) == 0,
	    "a HEAD touches O's link");
	g = gc_new(st, &o);
	ok(gc_step(g) == 1 && g->g_phase == GC_MARK, "the walk is done");
	ok(store_link_write(st, "new/repo", STORE_LINK_LAYER, f.o2) == 0,
	    "then O2 is mounted into a repository the walk did not see");
	while ((rc = gc_step(g)) == 1)
		continue;
	ok(rc == 0, "the run completes");
	ok(has_blob(st, f.o), "the touched blob stays");
	ok(has_blob(st, f.o2) && has_link(st, "a", STORE_LINK_LAYER, f.o2),
	    "the mounted blob stays, with its old link");
	ok(!has_blob(st, o3), "the untouched orphan is gone");
	is_int(gc_result(g)->gr_recent, 2, "2 blobs kept as recently used");
	gc_free(g);

	/* With no grace only what was used since the run began counts. */
	store_mem_age(st, 10);
	o.go_grace = 0;
	ok(gc_run(st, &o, &(struct gc_result){0}) == 0 && !has_blob(st, f.o) &&
	        !has_blob(st, f.o2),
	    "grace 0: 10 s old is old");
	store_close(st);
}

/*
 * The hard case: once the mark is done, a push finds an unreferenced
 * blob present and references it from a manifest (as put_work does:
 * touch, then check, under the guard); another reuses a layer whose
 * manifest was deleted. Both images are whole after the run.
 */
static void
test_push_during_sweep(void)
{
	struct store *st = store_mem_open();
	struct gc_options o = options(0, 0);
	struct gc *g;
	struct fix f;
	char m4[DIGEST_BUFSZ], m5[DIGEST_BUFSZ];
	int rc, n = 0, ok1, ok2;

	fixture(st, &f, 0);
	ok(store_link_delete(st, "a", STORE_LINK_REVISION, f.m2) == 0,
	    "M2 deleted by digest: L2 is unreferenced");
	g = gc_new(st, &o);
	while ((rc = gc_step(g)) == 1 && g->g_phase != GC_SWEEP_BLOBS)
		n++;
	ok(rc == 1 && g->g_phase == GC_SWEEP_BLOBS,
	    "mark done after %d steps; the sweep is next", n);
	gc_guard_enter();
	(void)store_link_touch(st, "a", STORE_LINK_LAYER, f.o);
	(void)store_link_touch(st, "a", STORE_LINK_LAYER, f.c1);
	ok1 = store_link_exists(st, "a", STORE_LINK_LAYER, f.o) == 1;
	(void)store_link_touch(st, "a", STORE_LINK_LAYER, f.l2);
	ok2 = store_link_exists(st, "a", STORE_LINK_LAYER, f.l2) == 1;
	gc_guard_leave();
	ok(ok1 && ok2, "the pushes find O and L2 in a");
	image(st, "a", "m4", f.c1, f.o, NULL, "v4", m4);
	image(st, "a", "m5", f.c1, f.l2, NULL, "v5", m5);
	while ((rc = gc_step(g)) == 1)
		continue;
	ok(rc == 0, "the run completes");
	ok(has_blob(st, m4) && has_blob(st, f.o) &&
	        has_link(st, "a", STORE_LINK_LAYER, f.o),
	    "a:v4, pushed on an orphan during the sweep, is whole");
	ok(has_blob(st, m5) && has_blob(st, f.l2) &&
	        has_link(st, "a", STORE_LINK_LAYER, f.l2),
	    "a:v5, reusing the deleted manifest's layer, is whole");
	ok(!has_blob(st, f.o2), "the untouched orphan is gone");
	ok(!has_blob(st, f.m2), "the deleted manifest's own blob is gone");
	is_int(fsck_problems(st), 0, "fsck finds no problem");
	gc_free(g);
	store_close(st);
}

/* A run stopped after any single removal leaves a tree fsck accepts. */
static void
test_interrupt(int untagged)
{
	struct store *st = store_mem_open();
	struct gc_options o = options(0, untagged);
	struct gc *g;
	struct fix f;
	size_t worst = 0, p;
	int rc, steps = 0;

	fixture(st, &f, 0);
	g = gc_new(st, &o);
	do {
		rc = gc_step(g);
		steps++;
		if ((p = fsck_problems(st)) > worst)
			worst = p;
	} while (rc == 1);
	ok(rc == 0, "%s: %d steps of one removal or read",
	    untagged ? "--delete-untagged" : "keep all", steps);
	is_int(worst, 0, "%s: fsck clean after every step",
	    untagged ? "--delete-untagged" : "keep all");
	gc_free(g);
	store_close(st);
}

static void
test_du(void)
{
	struct store *st = store_mem_open();
	struct fix f;
	char *out = NULL, line[256], *p;
	size_t len = 0;
	FILE *fp;
	uint64_t a, s1 = 0, s2 = 0;

	fixture(st, &f, 0);
	fp = open_memstream(&out, &len);
	ok(gc_du(st, fp) == 0, "du runs");
	fclose(fp);
	/* a: c1 l1 l2 orphan orphan2 and the manifests M1 and M2. */
	(void)store_blob_stat(st, f.m1, &s1);
	(void)store_blob_stat(st, f.m2, &s2);
	a = 2 + 2 + 2 + 6 + 7 + s1 + s2;
	(void)snprintf(line, sizeof(line), "%" PRIu64 "\t7\ta\n", a);
	ok(out != NULL && strstr(out, line) == out,
	    "a first, 7 blobs, %" PRIu64 " bytes", a);
	ok(out != NULL && strstr(out, "\t2\t(shared)\n") != NULL,
	    "two blobs shared by a and b (c1, l1)");
	ok(out != NULL && strstr(out, "\n6\t1\t(unlinked)\n") != NULL,
	    "one unlinked blob of 6 bytes");
	printf("# du:\n");
	for (p = out != NULL ? strtok(out, "\n") : NULL; p != NULL;
	     p = strtok(NULL, "\n"))
		printf("#   %s\n", p);
	free(out);
	store_close(st);
}

static void
test_scan(void)
{
	struct manifest m;
	char err[128], d1[DIGEST_BUFSZ], d2[DIGEST_BUFSZ], d3[DIGEST_BUFSZ];
	char json[1024];

	digest_buf("1", 1, d1);
	digest_buf("2", 1, d2);
	digest_buf("3", 1, d3);
	(void)snprintf(json, sizeof(json),
	    "{\"manifests\":[{\"digest\":\"%s\",\"annotations\":{\"digest\":"
	    "\"%s\"}}],\"subject\":{\"digest\":\"%s\"},\"x\":[[{\"digest\":"
	    "\"nope\"}]]}",
	    d1, d2, d3);
	ok(manifest_scan(json, strlen(json), &m, err, sizeof(err)) == 0,
	    "scan an index");
	ok(m.m_nrefs == 2 && m.m_refs[0].mr_kind == MANIFEST_REF_CHILD &&
	        strcmp(m.m_refs[0].mr_digest, d1) == 0 &&
	        m.m_refs[1].mr_kind == MANIFEST_REF_BLOB &&
	        strcmp(m.m_refs[1].mr_digest, d2) == 0,
	    "a child, and a digest at any depth (invalid ones skipped)");
	ok(m.m_has_subject && strcmp(m.m_subject, d3) == 0,
	    "the subject is not a reference");
	manifest_free(&m);
	(void)snprintf(json, sizeof(json),
	    "{\"schemaVersion\":1,\"fsLayers\":[{\"blobSum\":\"%s\"},"
	    "{\"blobSum\":\"%s\"}]}",
	    d1, d2);
	ok(manifest_scan(json, strlen(json), &m, err, sizeof(err)) == 0 &&
	        m.m_nrefs == 2 && !m.m_has_subject,
	    "schema 1: the blobSums");
	manifest_free(&m);
	ok(manifest_scan("[1]", 3, &m, err, sizeof(err)) == -1 &&
	        errno == EINVAL && m.m_nrefs == 0,
	    "not an object: EINVAL");
	ok(manifest_scan("{\"a\":", 5, &m, err, sizeof(err)) == -1,
	    "not JSON: refused");
}

/* gc_cancel: the run stops at its next step, the tree as good as ever. */
static void
test_cancel(void)
{
	struct store *st = store_mem_open();
	struct gc_options o = options(0, 0);
	struct gc *g;
	struct fix f;
	int rc, n;

	fixture(st, &f, 0);
	g = gc_new(st, &o);
	for (n = 0; n < 14 && (rc = gc_step(g)) == 1; n++)
		continue;
	ok(rc == 1 && g->g_phase == GC_SWEEP_BLOBS,
	    "cancel: %d steps in, sweeping", n);
	gc_cancel(g);
	ok(gc_step(g) == -1 && errno == ECANCELED, "cancel: the next step stops");
	ok(gc_step(g) == -1, "cancel: and every one after");
	ok(gc_result(g)->gr_blobs_removed < 3, "cancel: not everything went");
	is_int(fsck_problems(st), 0, "cancel: fsck finds no problem");
	healthy(st, &f, "cancel");
	gc_free(g);
	store_close(st);
}

int
main(void)
{
	log_init(LOG_LVL_ERROR, 0);
	test_scan();
	test_keep_all();
	test_untagged();
	test_recent();
	test_push_during_sweep();
	test_interrupt(0);
	test_interrupt(1);
	test_cancel();
	test_du();
	return done_testing();
}
