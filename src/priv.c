/*
 * priv.c: dropping root for [server] user=. The order is the one every
 * privilege-separated daemon uses: supplementary groups first (only root
 * may set them), then the group, then the user; set all three ids (real,
 * effective, saved) so that none is left to switch back to, and check
 * that afterwards instead of trusting the return values.
 */
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "priv.h"

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
