/*
 * scb_tls.c - server SSL_CTX (see scb_tls.h).
 */
#include "config.h"

#include <stdio.h>

#include <openssl/err.h>

#include "scb_tls.h"

/* gRPC requires h2 through ALPN; a client offering anything else gets a
 * fatal no_application_protocol alert instead of a silent HTTP/1.1. */
static int
on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char h2[] = "\x02h2";
	unsigned char *sel = NULL;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, h2, sizeof(h2) - 1, in,
	        inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

SSL_CTX *
scb_tls_ctx_new(const char *cert, const char *key, const char *client_ca)
{
	SSL_CTX *ctx;
	STACK_OF(X509_NAME) * names;

	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx,
	    SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	        SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		fprintf(stderr, "sc-test-backend: cannot load %s\n", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		fprintf(stderr, "sc-test-backend: cannot load %s\n", key);
		goto fail;
	}
	if (client_ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1) {
			fprintf(stderr, "sc-test-backend: cannot load %s\n",
			    client_ca);
			goto fail;
		}
		names = SSL_load_client_CA_file(client_ca);
		if (names != NULL)
			SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx,
		    SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
	return ctx;
fail:
	ERR_print_errors_fp(stderr);
	SSL_CTX_free(ctx);
	return NULL;
}
