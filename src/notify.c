/*
 * notify.c: the two protocols systemd speaks with a service, without
 * libsystemd (sd_notify(3), sd_listen_fds(3); both are stable interfaces
 * documented as such, a few lines each).
 *
 * Readiness: with Type=notify, `systemctl start` returns once the service
 * sends "READY=1" to the datagram socket named by $NOTIFY_SOCKET, a path
 * or, when it starts with '@', an abstract socket name. The socket is
 * opened at start, before privileges are dropped; each message is one
 * sendto, so a manager that re-executes itself (and re-binds the path)
 * still gets them.
 *
 * Socket activation: systemd passes listening sockets as descriptors 3,
 * 4, ... and says how many in $LISTEN_FDS, for the process $LISTEN_PID.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "util.h"

#define NOTIFY_MSG_MAX 512

static struct {
	int fd; /* -1: no $NOTIFY_SOCKET */
	struct sockaddr_un sun;
	socklen_t sunlen;
	int warned; /* a failed send was logged */
} ntf = {.fd = -1};

/*
 * notify_init: parse $NOTIFY_SOCKET and open an unbound datagram socket
 * for it. 0 (also when the variable is absent), or -1 when it is set but
 * unusable.
 */
int
notify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len;

	if (ntf.fd != -1 || path == NULL || *path == '\0')
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') ||
	    len >= sizeof(ntf.sun.sun_path)) {
		log_warnx("NOTIFY_SOCKET %.64s: not a socket path or @name",
		    path);
		unsetenv("NOTIFY_SOCKET");
		return -1;
	}
	memset(&ntf.sun, 0, sizeof(ntf.sun));
	ntf.sun.sun_family = AF_UNIX;
	memcpy(ntf.sun.sun_path, path, len);
	/* An abstract name starts with a NUL and is not NUL-terminated. */
	if (path[0] == '@')
		ntf.sun.sun_path[0] = '\0';
	ntf.sunlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	unsetenv("NOTIFY_SOCKET");
	ntf.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ntf.fd == -1) {
		log_warn("NOTIFY_SOCKET: socket");
		return -1;
	}
	return 0;
}

/* notify_send: one datagram; a failure is logged once. */
void
notify_send(const char *msg)
{
	ssize_t n;

	if (ntf.fd == -1)
		return;
	do
		n = sendto(ntf.fd, msg, strlen(msg), MSG_NOSIGNAL,
		    (struct sockaddr *)&ntf.sun, ntf.sunlen);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (!ntf.warned)
			log_warn("NOTIFY_SOCKET: cannot tell the service "
			         "manager");
		ntf.warned = 1;
		return;
	}
	log_debug("%s: %.*s", __func__, (int)strcspn(msg, "\n"), msg);
}

/* notify_ready: READY=1 and what is being served, for systemctl status. */
void
notify_ready(const char *status)
{
	char msg[NOTIFY_MSG_MAX];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	notify_send(msg);
}

/*
 * notify_reloading: RELOADING=1. systemd 253's Type=notify-reload also
 * wants the CLOCK_MONOTONIC time of the request; older managers ignore it.
 */
void
notify_reloading(void)
{
	char msg[NOTIFY_MSG_MAX];
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	        (unsigned long long)ts.tv_nsec / 1000ULL);
	notify_send(msg);
}

/* notify_stopping: STOPPING=1. */
void
notify_stopping(void)
{
	notify_send("STOPPING=1\nSTATUS=draining connections");
}

/* notify_shutdown: close the socket; later messages are dropped. */
void
notify_shutdown(void)
{
	if (ntf.fd != -1)
		close(ntf.fd);
	ntf.fd = -1;
}

/*
 * notify_listen_fds: adopt the sockets of socket activation. Only for
 * this very process ($LISTEN_PID), so that a child never takes its
 * parent's descriptors; the variables are removed either way.
 */
int
notify_listen_fds(int *fds, int max)
{
	const char *spid = getenv("LISTEN_PID");
	const char *sfds = getenv("LISTEN_FDS");
	uint64_t pid, n;
	int i, fd, type, acc, fl;
	socklen_t len;

	if (spid == NULL || sfds == NULL)
		return 0;
	if (util_strtou64(spid, strlen(spid), INT32_MAX, &pid) == -1 ||
	    (pid_t)pid != getpid())
		n = 0; /* not for us */
	else if (util_strtou64(sfds, strlen(sfds), 1024, &n) == -1) {
		log_warnx("LISTEN_FDS=%.16s: not a number", sfds);
		n = (uint64_t)max + 1;
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (n == 0)
		return 0;
	if (n > (uint64_t)max) {
		log_warnx("socket activation: at most %d sockets", max);
		return -1;
	}
	for (i = 0; i < (int)n; i++) {
		fd = NOTIFY_LISTEN_FDS_START + i;
		len = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
		    type != SOCK_STREAM) {
			log_warnx("socket activation: descriptor %d is not a "
			          "stream socket",
			    fd);
			return -1;
		}
		len = sizeof(acc);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) ==
		        -1 ||
		    !acc) {
			log_warnx("socket activation: descriptor %d is not "
			          "listening (Accept=yes is not supported)",
			    fd);
			return -1;
		}
		if ((fl = fcntl(fd, F_GETFL)) == -1 ||
		    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
			log_warn("socket activation: descriptor %d", fd);
			return -1;
		}
		fds[i] = fd;
	}
	return (int)n;
}
