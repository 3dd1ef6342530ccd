/*
 * priv.c: dropping root for [server] user=. The order is the one every
 * privilege-separated daemon uses: supplementary groups first (only root
 * may set them), then the group, then the user; set all three ids (real,
 * effective, saved) so that none is left to switch back to, and check
 * that afterwards instead of trusting the return values.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "priv.h"

/*
 * Directories below the root deeper than this are not entered: the
 * store goes no deeper (a repository name has at most 128 components),
 * and each level holds a descriptor.
 */
#define PRIV_DEPTH 256

/* State of one priv_own_tree walk. */
struct priv_walk {
	uid_t pw_uid;
	gid_t pw_gid;
	dev_t pw_dev;            /* the root's file system: stay on it */
	struct priv_own *pw_own; /* the caller's counters */
	char *pw_err;            /* the caller's message buffer */
	size_t pw_errlen;
};

static int priv_own_dir(struct priv_walk *, int, char *, size_t, int);
static int
priv_own_entry(struct priv_walk *, int, const char *, char *, size_t, int);
static int priv_own_fail(struct priv_walk *, const char *, const char *);

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

/* An error on path: the message, errno kept; -1. */
static int
priv_own_fail(struct priv_walk *w, const char *what, const char *path)
{
	int saved = errno;

	snprintf(w->pw_err, w->pw_errlen, "%s %s: %s", what, path,
	    strerror(saved));
	errno = saved;
	return -1;
}

/*
 * The entries of the directory open on dfd (taken over: closed on
 * return), path naming it for messages only (a buffer of size bytes,
 * restored on return).
 */
static int
priv_own_dir(struct priv_walk *w, int dfd, char *path, size_t size, int depth)
{
	struct dirent *de;
	size_t len = strlen(path);
	DIR *d;
	int rv = -1;

	if ((d = fdopendir(dfd)) == NULL) {
		(void)priv_own_fail(w, "opendir", path);
		(void)close(dfd);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				(void)priv_own_fail(w, "readdir", path);
				goto done;
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		/* A path too long for the buffer is only cut in messages. */
		(void)snprintf(path + len, size - len, "/%s", de->d_name);
		if (priv_own_entry(w, dirfd(d), de->d_name, path, size,
		        depth) == -1)
			goto done;
		path[len] = '\0';
	}
	rv = 0;
done:
	path[len] = '\0';
	(void)closedir(d);
	return rv;
}

/*
 * One entry, name in the directory open on parent: give it to the user
 * unless it has it already, and walk it when it is a directory. Every
 * call goes through a descriptor opened without following a symlink
 * (O_PATH | O_NOFOLLOW), so that what is checked is what is changed
 * and entered, even when the entry is swapped for a symlink meanwhile:
 * nothing outside the tree is ever touched. Left alone and counted as
 * skipped: entries on another file system, files with more than one
 * link (a hard link made in the volume to a file outside it must not
 * hand that file over), directories nested deeper than PRIV_DEPTH.
 */
static int
priv_own_entry(struct priv_walk *w, int parent, const char *name, char *path,
    size_t size, int depth)
{
	struct stat st;
	int fd, dfd, mine;

	if ((fd = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : priv_own_fail(w, "open", path);
	if (fstat(fd, &st) == -1) {
		(void)priv_own_fail(w, "stat", path);
		(void)close(fd);
		return -1;
	}
	if (st.st_dev != w->pw_dev ||
	    (!S_ISDIR(st.st_mode) && st.st_nlink > 1) ||
	    (S_ISDIR(st.st_mode) && depth >= PRIV_DEPTH)) {
		w->pw_own->po_skipped++;
		(void)close(fd);
		return 0;
	}
	w->pw_own->po_entries++;
	mine = st.st_uid == w->pw_uid && st.st_gid == w->pw_gid;
	if (!S_ISDIR(st.st_mode)) {
		/* A symlink itself, never its target. */
		if (!mine &&
		    fchownat(fd, "", w->pw_uid, w->pw_gid,
		        AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == -1) {
			(void)priv_own_fail(w, "chown", path);
			(void)close(fd);
			return -1;
		}
		if (!mine)
			w->pw_own->po_changed++;
		return close(fd);
	}
	/* The directory just checked, opened through its own descriptor. */
	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	(void)close(fd);
	if (dfd == -1)
		return errno == ENOENT ? 0 : priv_own_fail(w, "open", path);
	if (!mine) {
		if (fchown(dfd, w->pw_uid, w->pw_gid) == -1) {
			(void)priv_own_fail(w, "chown", path);
			(void)close(dfd);
			return -1;
		}
		w->pw_own->po_changed++;
	}
	return priv_own_dir(w, dfd, path, size, depth + 1);
}

/* priv_own_tree: see priv.h. */
int
priv_own_tree(const char *root, const char *user, struct priv_own *own,
    char *err, size_t errlen)
{
	struct priv_walk w;
	struct passwd *pw;
	struct stat st;
	char path[4096];
	int fd;

	memset(own, 0, sizeof(*own));
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "user %s: %s", user,
		    errno != 0 ? strerror(errno) : "no such user");
		return -1;
	}
	memset(&w, 0, sizeof(w));
	w.pw_uid = pw->pw_uid;
	w.pw_gid = pw->pw_gid;
	w.pw_own = own;
	w.pw_err = err;
	w.pw_errlen = errlen;
	if ((size_t)snprintf(path, sizeof(path), "%s", root) >= sizeof(path)) {
		snprintf(err, errlen, "%s: path too long", root);
		return -1;
	}
	/* The root as configured may be a symlink (to a volume): followed. */
	if ((fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : priv_own_fail(&w, "open", root);
	if (fstat(fd, &st) == -1) {
		(void)priv_own_fail(&w, "stat", root);
		(void)close(fd);
		return -1;
	}
	w.pw_dev = st.st_dev;
	own->po_entries++;
	if (st.st_uid != w.pw_uid || st.st_gid != w.pw_gid) {
		if (fchown(fd, w.pw_uid, w.pw_gid) == -1) {
			(void)priv_own_fail(&w, "chown", root);
			(void)close(fd);
			return -1;
		}
		own->po_changed++;
	}
	return priv_own_dir(&w, fd, path, sizeof(path), 0);
}
