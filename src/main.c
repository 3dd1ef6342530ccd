/*
 * registryd: a private Docker/OCI container registry.
 *
 * Subcommands: serve (the default), check-config, fsck, garbage-collect, du,
 * passwd, version. main loads the configuration, binds the listeners, drops
 * root ([server] user=), opens the storage, starts the worker pool and the
 * registry on one event loop, tells the service manager it is ready, and tears
 * all of it down in reverse order after a graceful shutdown (SIGTERM, SIGINT).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/opensslv.h>

#include "auth.h"
#include "bounds.h"
#include "config.h"
#include "config_yaml.h"
#include "fsck.h"
#include "gc.h"
#include "healthcheck.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "pool.h"
#include "priv.h"
#include "registry.h"
#include "server.h"
#include "store.h"
#include "store_fs.h"
#include "store_s3.h"
#include "tls.h"
#include "version.h"

/* Seconds `registryd healthcheck` waits for the answer. */
#define MAIN_HEALTHCHECK_TIMEOUT 5

extern char **environ;

static void usage(void) __attribute__((noreturn));
static int main_serve(struct config *);
static struct store *main_store(const struct config *, const char *, int);
static struct store *main_open_store(const struct config *, struct event_base *,
    int, char *, size_t);
static int main_is_s3(const struct config *);
static int main_gc(const struct config *, int, int);
static int main_du(const struct config *);
static void main_signal_cb(evutil_socket_t, short, void *);
static int main_healthcheck(const char *, int, int);
static int main_own_root(const struct config *);

static void
usage(void)
{
	fprintf(stderr,
	    "usage: registryd [serve] [-c file | file]\n"
	    "       registryd check-config [-c file | file]\n"
	    "       registryd fsck [-c file | file]\n"
	    "       registryd garbage-collect [-dm] [--dry-run] "
	    "[--delete-untagged] [-c file | file]\n"
	    "       registryd du [-c file | file]\n"
	    "       registryd healthcheck [-r] [-c file | file]\n"
	    "       registryd passwd [-C cost] user\n"
	    "       registryd version\n");
	exit(2);
}

/* What READY=1 says in STATUS=, also after a reload. */
static char main_status[256];
/* A graceful shutdown began: a reload must not say READY=1 again. */
static int main_stopping;

static void
main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		log_info("signal %d: graceful shutdown", (int)sig);
		main_stopping = 1;
		notify_stopping();
		reg_drain();
		server_shutdown();
		break;
	case SIGHUP:
		log_info("SIGHUP: reloading TLS certificate and key");
		if (!main_stopping)
			notify_reloading();
		tls_reload();
		auth_reload();
		reg_reloaded();
		if (!main_stopping)
			notify_ready(main_status);
		break;
	case SIGUSR1:
		reg_collect_garbage("SIGUSR1");
		break;
	}
}

/*
 * registryd healthcheck: load the configuration the server reads, quietly
 * (its warnings are the server's to give, and a container keeps what a
 * health check prints), and ask the server. Exit 0 when it answers 200.
 */
static int
main_healthcheck(const char *path, int required, int ready)
{
	struct config cfg;
	int saved, null, rc;

	fflush(stderr);
	saved = dup(2);
	if ((null = open("/dev/null", O_WRONLY | O_CLOEXEC)) != -1) {
		(void)dup2(null, 2);
		close(null);
	}
	rc = config_load(&cfg, path, required, environ);
	if (saved != -1) {
		(void)dup2(saved, 2);
		close(saved);
	}
	if (rc == -1) {
		printf("unhealthy: the configuration has errors (registryd "
		       "check-config%s%s lists them)\n",
		    required ? " -c " : "", required ? path : "");
		config_free(&cfg);
		return 1;
	}
	rc = healthcheck_run(&cfg, ready, MAIN_HEALTHCHECK_TIMEOUT);
	config_free(&cfg);
	return rc;
}

/*
 * [server] chown_root: before dropping root, make [server] user own the
 * storage root (a volume the registry:2 image wrote as root); without
 * root, make sure the root is writable, or refuse naming the chown that
 * would fix it. Returns 0, or -1 after logging why not to start.
 */
static int
main_own_root(const struct config *cfg)
{
	static const char *const dirs[] = {"", "/docker/registry/v2",
	    "/docker/registry/v2/blobs", "/docker/registry/v2/repositories"};
	char err[768], sub[4096];
	struct priv_own own;
	struct timespec t0, t1;
	struct stat st;
	double secs;
	size_t i;
	int rc;

	if (geteuid() == 0 && *cfg->cf_user != '\0') {
		/* The whole tree, every start: it takes a while on a big one.
		 */
		clock_gettime(CLOCK_MONOTONIC, &t0);
		rc = priv_own_tree(cfg->cf_root, cfg->cf_user, &own, err,
		    sizeof(err));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		if (rc == -1) {
			log_errorx("refusing to start: [server] chown_root: "
			           "%s (after %ld entries, %ld given to user "
			           "%s); give the storage root to user %s "
			           "where "
			           "its files live (chown -R), or set "
			           "chown_root = false "
			           "(REGISTRY_SERVER_CHOWN_ROOT)",
			    err, own.po_entries, own.po_changed, cfg->cf_user,
			    cfg->cf_user);
			return -1;
		}
		if (own.po_changed > 0)
			log_info("storage %s: %ld entries given to user %s in "
			         "%.2f s, of %ld looked at ([server] "
			         "chown_root)",
			    cfg->cf_root, own.po_changed, cfg->cf_user, secs,
			    own.po_entries);
		else
			log_info("storage %s: all %ld entries owned by user %s "
			         "already, checked in %.2f s ([server] "
			         "chown_root)",
			    cfg->cf_root, own.po_entries, cfg->cf_user, secs);
		if (own.po_skipped > 0)
			log_warnx("storage %s: %ld entries left as they are "
			          "([server] chown_root): on another file "
			          "system, with several hard links, or nested "
			          "too deep",
			    cfg->cf_root, own.po_skipped);
		return 0;
	}
	/*
	 * Without root: writable is what counts (a Kubernetes volume is
	 * root's, writable through fsGroup); the registry:2 directories
	 * are checked too, since registry:2 may have made them as root.
	 */
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if ((size_t)snprintf(sub, sizeof(sub), "%s%s", cfg->cf_root,
		        dirs[i]) >= sizeof(sub) ||
		    stat(sub, &st) == -1 || access(sub, W_OK | X_OK) == 0 ||
		    errno != EACCES)
			continue;
		log_errorx("refusing to start: storage %s is owned by uid %u "
		           "and not writable by uid %u that registryd runs "
		           "as, and only root can change that: run chown -R "
		           "%u:%u %s (for a volume: start the container once "
		           "as root, the default, and registryd takes the "
		           "root over itself)",
		    sub, (unsigned int)st.st_uid, (unsigned int)geteuid(),
		    (unsigned int)geteuid(), (unsigned int)getegid(),
		    cfg->cf_root);
		return -1;
	}
	return 0;
}

/*
 * Run the server until a graceful shutdown. Returns the exit status. The
 * listeners are bound first, so that [server] user= can drop root right
 * after; everything else (certificate, htpasswd, storage) is opened as
 * that user, as it will be at every reload.
 */
static int
main_serve(struct config *cfg)
{
	struct event_base *base;
	struct event *sigs[4] = {NULL, NULL, NULL, NULL};
	const int signums[4] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
	struct store *store = NULL;
	int threads[POOL_NCLASSES];
	char err[512];
	int i, rc = 1;

	/*
	 * Every reason not to start is one error line (never filtered by
	 * the level) that says what to change; the modules may have logged
	 * details as warnings before.
	 */
	signal(SIGPIPE, SIG_IGN);
	(void)notify_init();
	if ((base = event_base_new()) == NULL) {
		log_errorx("refusing to start: cannot create the event loop; "
		           "out of memory or file descriptors (ulimit -n, "
		           "LimitNOFILE=)?");
		return 1;
	}
	for (i = 0; i < 4; i++) {
		sigs[i] = evsignal_new(base, signums[i], main_signal_cb, NULL);
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) == -1)
			fatalx("cannot install signal handlers");
	}
	/*
	 * Bind first, then drop privileges, then open what the service
	 * user must be able to read at every reload.
	 */
	if (server_start(base, cfg, reg_dispatch) == -1) {
		log_errorx("refusing to start: cannot listen on %s (see the "
		           "warnings above); stop what uses the port, or set "
		           "[http] addr (REGISTRY_HTTP_ADDR); ports below 1024 "
		           "need CAP_NET_BIND_SERVICE",
		    cfg->cf_addr);
		goto done;
	}
	if (*cfg->cf_debug_addr != '\0' &&
	    server_listen_debug(cfg->cf_debug_addr, reg_debug_dispatch) == -1) {
		log_errorx("refusing to start: cannot listen on the debug "
		           "address %s (see the warnings above); stop what "
		           "uses the port, or set [http] debug_addr "
		           "(REGISTRY_HTTP_DEBUG_ADDR)",
		    cfg->cf_debug_addr);
		goto done;
	}
	if (cfg->cf_chown_root && !main_is_s3(cfg) && main_own_root(cfg) == -1)
		goto done;
	if (*cfg->cf_user != '\0') {
		if (priv_drop(cfg->cf_user, err, sizeof(err)) == -1) {
			log_errorx("refusing to start: [server] user: %s; "
			           "name an existing user "
			           "(REGISTRY_SERVER_USER) "
			           "and start as root, or leave it empty",
			    err);
			goto done;
		}
		log_info("running as user %s", cfg->cf_user);
	}
	if (tls_init(cfg, err, sizeof(err)) == -1) {
		log_errorx("refusing to start: TLS: %s; fix [tls] certificate "
		           "and key (REGISTRY_HTTP_TLS_CERTIFICATE, "
		           "REGISTRY_HTTP_TLS_KEY): PEM files readable by uid "
		           "%u, the key unencrypted and matching the "
		           "certificate",
		    err, (unsigned int)geteuid());
		goto done;
	}
	if (auth_init(cfg, err, sizeof(err)) == -1) {
		log_errorx("refusing to start: %s", err);
		goto done;
	}
	/* Read-only: the tree may be on a read-only mount (a replica). */
	if ((store = main_open_store(cfg, base,
	         cfg->cf_read_only ? STORE_FS_READONLY : 0, err,
	         sizeof(err))) == NULL) {
		if (main_is_s3(cfg))
			log_errorx("refusing to start: storage s3: %s; check "
			           "the [s3] settings (REGISTRY_STORAGE_S3_*)",
			    err);
		else
			log_errorx("refusing to start: storage %s: %s; the "
			           "root must exist or be creatable, and be "
			           "writable by uid %u gid %u, or set "
			           "[storage] rootdirectory "
			           "(REGISTRY_STORAGE_FILESYSTEM_"
			           "ROOTDIRECTORY)",
			    cfg->cf_root, err, (unsigned int)geteuid(),
			    (unsigned int)getegid());
		goto done;
	}
	/* Store calls that wait on the network want more workers. */
	for (i = 0; i < POOL_NCLASSES; i++)
		threads[i] = pool_default_threads(i);
	if (store_workers(store) > threads[POOL_STORE])
		threads[POOL_STORE] = store_workers(store);
	/* Password checks need a worker: known to start now, not later. */
	if (pool_start(base, threads, auth_enabled() ? POOL_START_AUTH : 0) ==
	    -1) {
		log_errorx("refusing to start: cannot start the worker "
		           "threads (see above); check the limits on threads "
		           "and file descriptors (ulimit -u, ulimit -n, "
		           "docker --pids-limit, systemd TasksMax)");
		goto done;
	}
	pool_set_limit(POOL_AUTH, cfg->cf_auth_pending_max);
	if (reg_init(base, cfg, store) == -1) {
		log_errorx("refusing to start: cannot set up the registry "
		           "(see above); out of memory?");
		goto done;
	}
	snprintf(main_status, sizeof(main_status), "serving %s over %s",
	    store_describe(store), tls_enabled() ? "HTTPS" : "HTTP");
	log_info("registryd %s %s", REGISTRYD_VERSION, main_status);
	notify_ready(main_status);
	event_base_dispatch(base);
	log_info("stopped");
	rc = 0;
done:
	server_free();
	/*
	 * A store whose calls wait on requests run by the loop (S3) needs
	 * the loop until they are over; then pool_stop has nothing left.
	 */
	if (store != NULL && store_workers(store) > 0)
		while (pool_pending() > 0 &&
		    event_base_loop(base, EVLOOP_ONCE) == 0)
			;
	/* Jobs still running finish; their owners see no request. */
	pool_stop();
	reg_shutdown();
	auth_shutdown();
	/*
	 * Freeing the signal events restores the default actions; a second
	 * SIGTERM (systemd, docker stop, a test) during the last steps must
	 * not turn a clean stop into death by signal.
	 */
	for (i = 0; i < 4; i++) {
		if (sigs[i] != NULL)
			event_free(sigs[i]);
		(void)signal(signums[i], SIG_IGN);
	}
	event_base_free(base);
	store_close(store);
	tls_shutdown();
	notify_shutdown();
	return rc;
}

int
main(int argc, char *argv[])
{
	struct config cfg;
	static const struct option longopts[] = {
	    {"dry-run", no_argument, NULL, 'd'},
	    {"delete-untagged", no_argument, NULL, 'm'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "serve", *path = CONFIG_DEFAULT_PATH, *env;
	int ch, required = 0, ready = 0, rc, dry_run = 0, untagged = 0;

	metrics_process_started();
	if (argc > 1 && strcmp(argv[1], "passwd") == 0)
		return auth_passwd_main(argc - 1, argv + 1);
	/*
	 * registry:2's image takes a config.yml alone as its command
	 * ("registry serve FILE"): a first argument naming a YAML file
	 * means serve it.
	 */
	if (argc > 1 && argv[1][0] != '-' &&
	    !config_yaml_sniff(argv[1], NULL, 0)) {
		cmd = argv[1];
		argc--;
		argv++;
	}
	/* registry:2's garbage-collect flags: -d --dry-run, -m. */
	while ((ch = getopt_long(argc, argv, "c:dhmr", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			required = 1;
			break;
		case 'd':
			dry_run = 1;
			break;
		case 'm':
			untagged = 1;
			break;
		case 'r':
			if (strcmp(cmd, "healthcheck") != 0)
				usage();
			ready = 1;
			break;
		default:
			usage();
		}
	}
	/* registry:2's form: the file as the only operand. */
	if (optind == argc - 1 && !required) {
		path = argv[optind++];
		required = 1;
	}
	if (optind != argc ||
	    ((dry_run || untagged) && strcmp(cmd, "garbage-collect") != 0))
		usage();
	/* registry:2's variable for the file, when none is named. */
	if (!required &&
	    (env = getenv("REGISTRY_CONFIGURATION_PATH")) != NULL &&
	    *env != '\0') {
		path = env;
		required = 1;
	}

	if (strcmp(cmd, "version") == 0) {
		printf("registryd %s (%s)\n", REGISTRYD_VERSION,
		    OPENSSL_VERSION_TEXT);
		return 0;
	}
	if (strcmp(cmd, "fsck") == 0) {
		/*
		 * registryd fsck: a read-only check of the storage tree.
		 * Exit 0 when clean, 1 on problems or when it cannot run.
		 */
		struct fsck_result fres;
		struct store *fstore;
		char ferr[512];

		log_init(LOG_LVL_INFO, 1);
		if (config_load(&cfg, path, required, environ) == -1) {
			config_free(&cfg);
			return 1;
		}
		/* Findings go to stdout; the store's own warnings are noise. */
		log_init(LOG_LVL_ERROR, 0);
		fstore = main_open_store(&cfg, NULL, STORE_FS_READONLY, ferr,
		    sizeof(ferr));
		if (fstore == NULL) {
			fprintf(stderr, "registryd: fsck: storage %s: %s\n",
			    main_is_s3(&cfg) ? "s3" : cfg.cf_root, ferr);
			config_free(&cfg);
			return 1;
		}
		rc = 1;
		if (fsck_run(fstore, stdout, &fres) == -1)
			fprintf(stderr, "registryd: fsck: %s\n",
			    strerror(errno));
		else if (fres.fr_problems == 0)
			rc = 0;
		store_close(fstore);
		config_free(&cfg);
		if (fflush(stdout) == EOF)
			rc = 1;
		return rc;
	}
	if (strcmp(cmd, "garbage-collect") == 0 || strcmp(cmd, "du") == 0) {
		log_init(LOG_LVL_INFO, 1);
		if (config_load(&cfg, path, required, environ) == -1) {
			config_free(&cfg);
			return 1;
		}
		/* Findings to stdout; the store's warnings to stderr. */
		log_init(LOG_LVL_WARN, 0);
		rc = cmd[0] == 'd' ? main_du(&cfg)
		                   : main_gc(&cfg, dry_run, untagged);
		config_free(&cfg);
		return rc;
	}
	if (strcmp(cmd, "healthcheck") == 0)
		return main_healthcheck(path, required, ready);
	if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "check-config") != 0)
		usage();

	log_init(LOG_LVL_INFO, 1);
	if (config_load(&cfg, path, required, environ) == -1) {
		/* check-config's lines are its answer; serve says why. */
		if (strcmp(cmd, "serve") == 0)
			log_errorx("refusing to start: the configuration has "
			           "the errors above; fix them (registryd "
			           "check-config%s%s lists them)",
			    required ? " -c " : "", required ? path : "");
		config_free(&cfg);
		return 1;
	}
	if (strcmp(cmd, "check-config") == 0) {
		config_dump(&cfg);
		config_free(&cfg);
		return 0;
	}
	log_set_format(log_format_parse(cfg.cf_log_format));
	log_init(cfg.cf_log_level, cfg.cf_access_log);
	/*
	 * [server] umask, before anything is created: a container image
	 * has no shell to say umask in, and systemd's UMask= is not there.
	 */
	if (*cfg.cf_umask != '\0')
		(void)umask((mode_t)strtoul(cfg.cf_umask, NULL, 8));
	rc = main_serve(&cfg);
	config_free(&cfg);
	return rc;
}

/*
 * main_store: the configured store for a maintenance subcommand (what is
 * its name in messages), or NULL after saying why.
 */
static struct store *
main_store(const struct config *cfg, const char *what, int flags)
{
	struct store *st;
	char err[512];

	if ((st = main_open_store(cfg, NULL, flags, err, sizeof(err))) == NULL)
		fprintf(stderr, "registryd: %s: storage %s: %s\n", what,
		    main_is_s3(cfg) ? "s3" : cfg->cf_root, err);
	return st;
}

static int
main_is_s3(const struct config *cfg)
{
	return strcmp(cfg->cf_driver, "s3") == 0;
}

/*
 * main_read_secret: the first line of path into secret (NUL-terminated),
 * with read(2) so that no stdio buffer keeps a copy; a line that does
 * not fit is refused rather than cut (a cut key fails every signature).
 * The caller wipes secret. -1 with a message in err.
 */
static int
main_read_secret(const char *path, char *secret, size_t size, char *err,
    size_t errlen)
{
	size_t len = 0, line;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		/* Read as the service user, like TLS keys. */
		snprintf(err, errlen,
		    "secretkeyfile %s: %s; it must be readable by uid %u", path,
		    strerror(errno), (unsigned int)geteuid());
		return -1;
	}
	/* Up to the end of the first line, or a full buffer. */
	while (len < size && memchr(secret, '\n', len) == NULL) {
		n = read(fd, secret + len, size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "secretkeyfile %s: %s", path,
			    strerror(errno));
			(void)close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	(void)close(fd);
	line = 0;
	while (line < len && secret[line] != '\r' && secret[line] != '\n')
		line++;
	if (line >= size) {
		snprintf(err, errlen,
		    "secretkeyfile %s: first line over %zu bytes", path,
		    size - 1);
		return -1;
	}
	secret[line] = '\0';
	if (line == 0) {
		snprintf(err, errlen, "secretkeyfile %s: empty", path);
		return -1;
	}
	return 0;
}

/*
 * main_open_store: the store [storage] driver names, its requests on
 * base (NULL for the subcommands: the S3 driver then runs a loop of its
 * own). flags are the filesystem driver's. NULL with a message in err.
 * The S3 secret may come from a file, so that it is neither on a command
 * line nor in the environment; it is wiped once the client copied it.
 */
static struct store *
main_open_store(const struct config *cfg, struct event_base *base, int flags,
    char *err, size_t errlen)
{
	struct store_s3_config sc;
	struct store *st;
	char secret[512];

	if (!main_is_s3(cfg))
		return store_fs_open(cfg->cf_root, flags, err, errlen);
	memset(&sc, 0, sizeof(sc));
	sc.sc_region = cfg->cf_s3_region;
	sc.sc_endpoint = cfg->cf_s3_endpoint;
	sc.sc_bucket = cfg->cf_s3_bucket;
	sc.sc_access_key = cfg->cf_s3_access_key;
	sc.sc_secret_key = cfg->cf_s3_secret_key;
	sc.sc_root = cfg->cf_s3_root;
	sc.sc_secure = cfg->cf_s3_secure;
	/* Unset: path style with a regionendpoint, as registry:2 2.8. */
	sc.sc_path_style = config_s3_path_style(cfg);
	sc.sc_chunk_size = (uint64_t)cfg->cf_s3_chunk_size;
	if (*cfg->cf_s3_secret_key_file != '\0') {
		if (main_read_secret(cfg->cf_s3_secret_key_file, secret,
		        sizeof(secret), err, errlen) == -1) {
			explicit_bzero(secret, sizeof(secret));
			return NULL;
		}
		sc.sc_secret_key = secret;
	}
	st = store_s3_open(base, &sc, err, errlen);
	explicit_bzero(secret, sizeof(secret));
	return st;
}

/*
 * registryd garbage-collect: remove what no manifest references (gc.h),
 * one line per removal and a summary on stdout. Safe while a server runs
 * on the same tree (gc_grace) and to interrupt. Exit 0, or 1 when it
 * failed or a removal did.
 */
static int
main_gc(const struct config *cfg, int dry_run, int untagged)
{
	struct gc_options opts;
	struct gc_result res;
	struct store *st;
	char sum[256];
	int rc;

	if ((st = main_store(cfg, "garbage-collect",
	         dry_run ? STORE_FS_READONLY : 0)) == NULL)
		return 1;
	memset(&opts, 0, sizeof(opts));
	opts.go_dry_run = dry_run;
	opts.go_delete_untagged = untagged;
	opts.go_grace = cfg->cf_gc_grace;
	/* A dry run removes nothing: nothing to warn about. */
	opts.go_warn_shared = main_is_s3(cfg) && !dry_run;
	opts.go_out = stdout;
	rc = gc_run(st, &opts, &res);
	if (rc == -1)
		fprintf(stderr, "registryd: garbage-collect: %s; stopped\n",
		    strerror(errno));
	gc_summary(&res, dry_run, sum, sizeof(sum));
	printf("garbage-collect: %zu blobs, %zu repositories, %zu manifests "
	       "read; %s; %zu errors, %.1f s\n",
	    res.gr_blobs, res.gr_repos, res.gr_manifests, sum, res.gr_errors,
	    (double)res.gr_ms / 1000);
	store_close(st);
	if (fflush(stdout) == EOF)
		return 1;
	return rc == -1 || res.gr_errors > 0;
}

/* registryd du: bytes per repository (gc_du) on stdout. */
static int
main_du(const struct config *cfg)
{
	struct store *st;
	int rc;

	if ((st = main_store(cfg, "du", STORE_FS_READONLY)) == NULL)
		return 1;
	if ((rc = gc_du(st, stdout)) == -1)
		fprintf(stderr, "registryd: du: %s\n", strerror(errno));
	store_close(st);
	if (fflush(stdout) == EOF)
		return 1;
	return rc == -1;
}
