/*
 * TLS over bufferevent_openssl: the server context (certificate chain,
 * key, optional client CAs, minimum version, cipher preference, ALPN
 * http/1.1, session resumption) and its reload.
 */
#include <stdio.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "log.h"
#include "tls.h"

/* Resumed sessions must come from this server (required with verify). */
static const unsigned char tls_sid_ctx[] = "registryd";

static const struct config *tls_cfg;
static SSL_CTX *tls_ctx; /* current context; SSLs hold refs */

static SSL_CTX *tls_ctx_new(char *, size_t);
static int tls_alpn_cb(SSL *, const unsigned char **, unsigned char *,
    const unsigned char *, unsigned int, void *);
static void tls_err(char *, size_t, const char *, const char *);

/* Put "what file: first OpenSSL error" into err and clear the queue. */
static void
tls_err(char *err, size_t errlen, const char *what, const char *file)
{
	char ebuf[256];
	unsigned long e = ERR_get_error();

	if (e != 0)
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
	else
		snprintf(ebuf, sizeof(ebuf), "unknown error");
	snprintf(err, errlen, "%s %s: %s", what, file ? file : "", ebuf);
	ERR_clear_error();
}

/*
 * Offer only HTTP/1.1: a client that asks for h2 alone gets no ALPN
 * agreement rather than a protocol we do not speak.
 */
static int
tls_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char h11[] = "\x08http/1.1";
	unsigned char *sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, h11, sizeof(h11) - 1, in,
	        inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* Build a context from tls_cfg; NULL with the reason in err. */
static SSL_CTX *
tls_ctx_new(char *err, size_t errlen)
{
	const struct config *cfg = tls_cfg;
	SSL_CTX *ctx;
	STACK_OF(X509_NAME) * cas;
	int mode;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_err(err, errlen, "SSL_CTX_new", NULL);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, cfg->cf_tls_min_version);
	/* Server preference, no renegotiation, no compression. */
	SSL_CTX_set_options(ctx,
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
	        SSL_OP_NO_COMPRESSION);
	/* bufferevent_openssl may retry a write with a moved buffer. */
	SSL_CTX_set_mode(ctx,
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	        SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
	if (cfg->cf_tls_ciphers != NULL && cfg->cf_tls_ciphers[0] != '\0' &&
	    SSL_CTX_set_cipher_list(ctx, cfg->cf_tls_ciphers) != 1) {
		tls_err(err, errlen, "ciphers", cfg->cf_tls_ciphers);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cf_tls_cert) != 1) {
		tls_err(err, errlen, "certificate", cfg->cf_tls_cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->cf_tls_key,
	        SSL_FILETYPE_PEM) != 1) {
		tls_err(err, errlen, "key", cfg->cf_tls_key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_err(err, errlen, "key does not match certificate",
		    cfg->cf_tls_key);
		goto fail;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_session_id_context(ctx, tls_sid_ctx,
	    sizeof(tls_sid_ctx) - 1);
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_cb, NULL);
	if (cfg->cf_tls_client_ca != NULL && cfg->cf_tls_client_ca[0] != '\0') {
		if (SSL_CTX_load_verify_locations(ctx, cfg->cf_tls_client_ca,
		        NULL) != 1 ||
		    (cas = SSL_load_client_CA_file(cfg->cf_tls_client_ca)) ==
		        NULL) {
			tls_err(err, errlen, "client_ca",
			    cfg->cf_tls_client_ca);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, cas);
		mode = SSL_VERIFY_PEER;
		if (cfg->cf_tls_client_auth != CONFIG_CLIENT_VERIFY)
			mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		SSL_CTX_set_verify(ctx, mode, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* tls_init: the context for cfg, when TLS is configured. */
int
tls_init(const struct config *cfg, char *err, size_t errlen)
{
	tls_cfg = cfg;
	if (cfg->cf_tls_cert == NULL || cfg->cf_tls_cert[0] == '\0')
		return 0;
	if ((tls_ctx = tls_ctx_new(err, errlen)) == NULL)
		return -1;
	return 0;
}

/* tls_enabled: 1 when a context is loaded. */
int
tls_enabled(void)
{
	return tls_ctx != NULL;
}

/* tls_reload: swap in a freshly built context, or keep the old one. */
int
tls_reload(void)
{
	SSL_CTX *ctx;
	char err[512];

	if (tls_ctx == NULL)
		return 0;
	if ((ctx = tls_ctx_new(err, sizeof(err))) == NULL) {
		log_warnx("TLS reload failed, keeping the current certificate: "
		          "%s",
		    err);
		return -1;
	}
	/* Connections accepted earlier hold their own reference. */
	SSL_CTX_free(tls_ctx);
	tls_ctx = ctx;
	log_info("TLS certificate and key reloaded");
	return 0;
}

/* tls_shutdown: drop the context (open SSLs keep theirs). */
void
tls_shutdown(void)
{
	SSL_CTX_free(tls_ctx);
	tls_ctx = NULL;
}

/* tls_bufferevent: an accepting bufferevent_openssl on fd. */
struct bufferevent *
tls_bufferevent(struct event_base *base, int fd)
{
	struct bufferevent *bev;
	SSL *ssl;

	if ((ssl = SSL_new(tls_ctx)) == NULL) {
		ERR_clear_error();
		return NULL;
	}
	bev = bufferevent_openssl_socket_new(base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return NULL; /* libevent freed ssl (see tls.h on fd) */
	/*
	 * Close without waiting for the client's close_notify: a client
	 * that vanished must not keep the descriptor.
	 */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* tls_log_errors: why a TLS connection ended, for the log. */
void
tls_log_errors(struct bufferevent *bev, const char *peer)
{
	unsigned long e;
	char buf[256];
	int n = 0;

	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		/* libevent queues errno values too: no library, no text. */
		if (ERR_GET_LIB(e) == 0)
			continue;
		ERR_error_string_n(e, buf, sizeof(buf));
		if (n++ < 3)
			log_info("%s: TLS: %s", peer, buf);
	}
}
