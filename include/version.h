#ifndef REGISTRYD_VERSION_H
#define REGISTRYD_VERSION_H

/*
 * The version registryd reports (registryd version, the start line, the
 * web interface's status). A packager may set it with
 * CFLAGS=-DREGISTRYD_VERSION='"x.y.z"'.
 */
#ifndef REGISTRYD_VERSION
#define REGISTRYD_VERSION "0.1.0"
#endif

#endif /* REGISTRYD_VERSION_H */
