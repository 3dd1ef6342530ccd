#ifndef REGISTRYD_PRIV_H
#define REGISTRYD_PRIV_H

#include <stddef.h>

/*
 * priv_drop: become user (its uid, its primary group and its
 * supplementary groups from the group database) for good, and check that
 * the way back to root is closed. For `registryd serve` started as root by
 * an init system without systemd's User=: it runs after the listeners are
 * bound and before anything else is opened. Already running as that user
 * is fine; as another user that is not root, it fails. Returns 0, or -1
 * with a message in err.
 */
int priv_drop(const char *user, char *err, size_t errlen);

/* What priv_own_tree did. */
struct priv_own {
	long po_entries; /* entries looked at, the root included */
	long po_changed; /* of which given to the user */
	long po_skipped; /* left alone: see priv_own_tree */
};

/*
 * priv_own_tree: for [server] chown_root, as root before priv_drop: make
 * user and its group own root and every entry under it that they do not
 * own yet. That is what a volume the registry:2 image wrote as root
 * needs before an unprivileged registryd can push into it, also when
 * registry:2 wrote into it again after registryd had taken it over, so
 * the whole tree is looked at, every start. No symlink is followed (a
 * symlink itself changes owner, never its target), even one swapped in
 * during the walk; entries on another file system, files with several
 * hard links and directories nested deeper than the store goes are left
 * as they are (po_skipped). A missing root is left to the store to
 * create. Returns 0 with *own filled in, or -1 with a message in err
 * (*own then says how far it got).
 */
int priv_own_tree(const char *root, const char *user, struct priv_own *own,
    char *err, size_t errlen);

#endif /* REGISTRYD_PRIV_H */
