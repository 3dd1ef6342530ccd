/*
 * priv.c: dropping root for [server] user=. The order is the one every
 * privilege-separated daemon uses: supplementary groups first (only root
 * may set them), then the group, then the user; set all three ids (real,
 * effective, saved) so that none is left to switch back to, and check
 * that afterwards instead of trusting the return values.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "priv.h"

#define PRIV_FDS 32 /* descriptors nftw may hold open */

/* What priv_own_tree's nftw callback works with (nftw takes no arg). */
static struct {
	uid_t po_uid;
	gid_t po_gid;
	long po_changed;
	int po_errno;
	char po_failed[512]; /* the entry whose lchown failed */
} priv_own;

static int priv_own_cb(const char *, const struct stat *, int, struct FTW *);

/* priv_drop: see priv.h. */
int
priv_drop(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "user %s: %s", user,
		    errno != 0 ? strerror(errno) : "no such user");
		return -1;
	}
	if (geteuid() != 0) {
		if (getuid() == pw->pw_uid && geteuid() == pw->pw_uid)
			return 0;
		snprintf(err, errlen,
		    "cannot become user %s: not running as root", user);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) == -1) {
		snprintf(err, errlen, "initgroups %s: %s", user,
		    strerror(errno));
		return -1;
	}
	if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1) {
		snprintf(err, errlen, "setresgid %u: %s",
		    (unsigned int)pw->pw_gid, strerror(errno));
		return -1;
	}
	if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		snprintf(err, errlen, "setresuid %u: %s",
		    (unsigned int)pw->pw_uid, strerror(errno));
		return -1;
	}
	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1 || ruid != pw->pw_uid ||
	    euid != pw->pw_uid || suid != pw->pw_uid || rgid != pw->pw_gid ||
	    egid != pw->pw_gid || sgid != pw->pw_gid) {
		snprintf(err, errlen, "user %s: ids did not change", user);
		return -1;
	}
	if (pw->pw_uid != 0 && (setuid(0) != -1 || seteuid(0) != -1)) {
		snprintf(err, errlen, "user %s: could regain root", user);
		return -1;
	}
	return 0;
}

/* One entry of the tree: give it to the user unless it has it already. */
static int
priv_own_cb(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)f;
	if (type == FTW_NS || type == FTW_DNR) {
		priv_own.po_errno = errno != 0 ? errno : EACCES;
		snprintf(priv_own.po_failed, sizeof(priv_own.po_failed), "%s",
		    path);
		return 1;
	}
	if (st->st_uid == priv_own.po_uid && st->st_gid == priv_own.po_gid)
		return 0;
	if (lchown(path, priv_own.po_uid, priv_own.po_gid) == -1) {
		priv_own.po_errno = errno;
		snprintf(priv_own.po_failed, sizeof(priv_own.po_failed), "%s",
		    path);
		return 1;
	}
	priv_own.po_changed++;
	return 0;
}

/* priv_own_tree: see priv.h. */
long
priv_own_tree(const char *path, const char *user, char *err, size_t errlen)
{
	static const char *const dirs[] = {"", "/docker/registry/v2",
	    "/docker/registry/v2/blobs", "/docker/registry/v2/repositories"};
	char sub[4096];
	struct passwd *pw;
	struct stat st;
	size_t i;
	int needed = 0;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "user %s: %s", user,
		    errno != 0 ? strerror(errno) : "no such user");
		return -1;
	}
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if ((size_t)snprintf(sub, sizeof(sub), "%s%s", path, dirs[i]) >=
		    sizeof(sub)) {
			snprintf(err, errlen, "%s: path too long", path);
			return -1;
		}
		if (lstat(sub, &st) == -1) {
			if (errno == ENOENT)
				continue;
			snprintf(err, errlen, "%s: %s", sub, strerror(errno));
			return -1;
		}
		if (st.st_uid != pw->pw_uid || st.st_gid != pw->pw_gid)
			needed = 1;
	}
	if (!needed)
		return 0;
	memset(&priv_own, 0, sizeof(priv_own));
	priv_own.po_uid = pw->pw_uid;
	priv_own.po_gid = pw->pw_gid;
	if (nftw(path, priv_own_cb, PRIV_FDS, FTW_PHYS | FTW_MOUNT) == -1 ||
	    priv_own.po_errno != 0) {
		snprintf(err, errlen, "chown %u:%u %s: %s",
		    (unsigned int)pw->pw_uid, (unsigned int)pw->pw_gid,
		    priv_own.po_failed[0] != '\0' ? priv_own.po_failed : path,
		    strerror(
		        priv_own.po_errno != 0 ? priv_own.po_errno : errno));
		return -1;
	}
	return priv_own.po_changed;
}
