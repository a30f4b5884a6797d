/*
 * tls.c: OpenSSL contexts for the listener (server) and the backends
 * (client).  The listener accepts TLS 1.2+ with ECDHE + AEAD suites only and
 * selects ALPN "h2" or fails the handshake with no_application_protocol:
 * gRPC needs HTTP/2, and an alert is the one answer an HTTP/1.1-only client
 * can report clearly (a silent close or a hang is not).
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "cfg.h"
#include "tls.h"

/* TLS <= 1.2: forward secrecy and AEAD only (Mozilla "intermediate" minus CBC) */
#define TLS_DEFAULT_CIPHERS                                      \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

#define TLS13_DEFAULT_SUITES \
    "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384"

static const unsigned char alpn_h2[] = {2, 'h', '2'};

void
tls_init(void)
{
    OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL);
}

const char *
tls_last_error(char *buf, size_t len, const char *fallback)
{
    unsigned long e = ERR_peek_last_error();

    if (e == 0) {
        snprintf(buf, len, "%s", fallback);
    } else {
        const char *r = ERR_reason_error_string(e);

        snprintf(buf, len, "%s", r != NULL ? r : fallback);
    }
    ERR_clear_error();
    return buf;
}

/*
 * ALPN: select "h2" or refuse.  Returning ALERT_FATAL sends
 * no_application_protocol (RFC 7301 section 3.2).
 */
static int
on_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
               unsigned int inlen, void *arg)
{
    unsigned int i = 0;

    (void)ssl;
    (void)arg;
    while (i < inlen) {
        unsigned int l = in[i];

        if (l > inlen - i - 1)
            break;
        if (l == 2 && in[i + 1] == 'h' && in[i + 2] == '2') {
            *out = in + i + 1;
            *outlen = 2;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + l;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/*
 * A ClientHello without an ALPN extension never reaches on_alpn_select, and
 * would complete a handshake we then have to drop.  Refuse it here with the
 * same alert so every non-h2 client sees the same clear failure.
 */
static int
on_client_hello(SSL *ssl, int *al, void *arg)
{
    const unsigned char *ext;
    size_t extlen;

    (void)arg;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &ext,
                                  &extlen) == 0) {
        *al = SSL_AD_NO_APPLICATION_PROTOCOL;
        return SSL_CLIENT_HELLO_ERROR;
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

static void
set_err(char *err, size_t errlen, const char *what, const char *file)
{
    char reason[200];

    tls_last_error(reason, sizeof(reason), "unknown OpenSSL error");
    if (file != NULL)
        snprintf(err, errlen, "%s \"%s\": %s", what, file, reason);
    else
        snprintf(err, errlen, "%s: %s", what, reason);
}

SSL_CTX *
tls_server_ctx_new(const struct cfg_listener *l, char *err, size_t errlen)
{
    SSL_CTX *ctx = NULL;

    ERR_clear_error();
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        set_err(err, errlen, "cannot create TLS context", NULL);
        goto fail;
    }
    if (!SSL_CTX_set_min_proto_version(ctx, l->min_version > 0 ? l->min_version : TLS1_2_VERSION)) {
        set_err(err, errlen, "cannot set minimum TLS version", NULL);
        goto fail;
    }
    /* no renegotiation (slowloris/CPU), no compression (CRIME), server picks suites */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
    /* idle connections give their 16 KiB+ record buffers back (1,000 idle clients) */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* read whole socket buffers, not one record header at a time */
    SSL_CTX_set_read_ahead(ctx, 1);
    if (!SSL_CTX_set_cipher_list(ctx, l->ciphers != NULL ? l->ciphers : TLS_DEFAULT_CIPHERS)) {
        set_err(err, errlen, "invalid \"ciphers\"", NULL);
        goto fail;
    }
    /* with server preference, AES-128-GCM first: clients offer it first and it is
     * ~9% cheaper than AES-256-GCM here (openssl speed), at no practical loss */
    if (!SSL_CTX_set_ciphersuites(ctx, l->ciphersuites != NULL ? l->ciphersuites
                                                               : TLS13_DEFAULT_SUITES)) {
        set_err(err, errlen, "invalid \"ciphersuites\"", NULL);
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, l->cert_file) != 1) {
        set_err(err, errlen, "cannot load certificate", l->cert_file);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, l->key_file, SSL_FILETYPE_PEM) != 1) {
        set_err(err, errlen, "cannot load private key", l->key_file);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        set_err(err, errlen, "private key does not match certificate", l->key_file);
        goto fail;
    }
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn_select, NULL);
    SSL_CTX_set_client_hello_cb(ctx, on_client_hello, NULL);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int
tls_server_ctx_client_ca(SSL_CTX *ctx, const char *ca_file, char *err, size_t errlen)
{
    STACK_OF(X509_NAME) * names;

    ERR_clear_error();
    if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
        set_err(err, errlen, "cannot load client CA file", ca_file);
        return -1;
    }
    names = SSL_load_client_CA_file(ca_file);
    if (names == NULL) {
        set_err(err, errlen, "cannot read client CA names", ca_file);
        return -1;
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_verify_depth(ctx, 4);
    return 0;
}

SSL_CTX *
tls_client_ctx_new(const struct cfg_backend *b, char *err, size_t errlen)
{
    SSL_CTX *ctx = NULL;

    ERR_clear_error();
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        set_err(err, errlen, "cannot create TLS context", NULL);
        goto fail;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(ctx, 1);
    if (!SSL_CTX_set_cipher_list(ctx, TLS_DEFAULT_CIPHERS)) {
        set_err(err, errlen, "cannot set ciphers", NULL);
        goto fail;
    }
    if (b->ca_file != NULL) {
        if (SSL_CTX_load_verify_locations(ctx, b->ca_file, NULL) != 1) {
            set_err(err, errlen, "cannot load CA file", b->ca_file);
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        set_err(err, errlen, "cannot load the system trust store", NULL);
        goto fail;
    }
    SSL_CTX_set_verify(ctx, b->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    if (b->cert_file != NULL) {
        if (SSL_CTX_use_certificate_chain_file(ctx, b->cert_file) != 1) {
            set_err(err, errlen, "cannot load client certificate", b->cert_file);
            goto fail;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, b->key_file, SSL_FILETYPE_PEM) != 1) {
            set_err(err, errlen, "cannot load client private key", b->key_file);
            goto fail;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            set_err(err, errlen, "client key does not match certificate", b->key_file);
            goto fail;
        }
    }
    if (SSL_CTX_set_alpn_protos(ctx, alpn_h2, sizeof(alpn_h2)) != 0) {
        set_err(err, errlen, "cannot set ALPN", NULL);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

SSL *
tls_client_ssl_new(const struct cfg_backend *b)
{
    const char *name = b->server_name != NULL ? b->server_name : b->host;
    bool is_ip = strspn(name, "0123456789.") == strlen(name) || strchr(name, ':') != NULL;
    X509_VERIFY_PARAM *param;
    SSL *ssl = NULL;
    int ok;

    ssl = SSL_new(b->ssl_ctx);
    if (ssl == NULL)
        goto fail;
    /* SNI only for names: RFC 6066 section 3 forbids literal IP addresses */
    /* SSL_set_tlsext_host_name() casts away const, which -Wcast-qual rejects */
    if (!is_ip && SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                           (void *)(uintptr_t)name) != 1)
        goto fail;
    if (b->verify) {
        param = SSL_get0_param(ssl);
        ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name)
                   : X509_VERIFY_PARAM_set1_host(param, name, 0);
        if (ok != 1)
            goto fail;
    }
    return ssl;
fail:
    SSL_free(ssl);
    return NULL;
}
