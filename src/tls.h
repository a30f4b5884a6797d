/*
 * tls.h: OpenSSL context builders and TLS helpers.
 *
 * Front end: TLS 1.2+ with AEAD ciphers only, ALPN that selects "h2" and
 * nothing else; a client that offers no ALPN or no "h2" gets a fatal
 * no_application_protocol alert during the handshake (never a hang).
 * Backends: ALPN "h2", peer verification against a CA file or the system
 * store, SNI and host-name check.
 */
#ifndef SPARKGATE_TLS_H
#define SPARKGATE_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

struct cfg_listener;
struct cfg_backend;

/* One-time library setup (idempotent). */
void tls_init(void);

/*
 * Builds the server context for listener |l| (cert_file, key_file,
 * min_version, ciphers, ciphersuites).  Returns a new SSL_CTX owned by the
 * caller, or NULL with the cause (file, OpenSSL reason) in |err|.
 */
SSL_CTX *tls_server_ctx_new(const struct cfg_listener *l, char *err, size_t errlen);

/*
 * Makes server context |ctx| request a client certificate and verify it
 * against |ca_file| (auth.mtls).  A client without one still connects (its
 * token authenticates it); a certificate that does not verify fails the
 * handshake.  Returns 0, or -1 with the cause in |err|.
 */
int tls_server_ctx_client_ca(SSL_CTX *ctx, const char *ca_file, char *err, size_t errlen);

/*
 * Builds the client context for backend |b| (ca_file, verify, cert_file,
 * key_file).  Returns a new SSL_CTX or NULL with the cause in |err|.
 */
SSL_CTX *tls_client_ctx_new(const struct cfg_backend *b, char *err, size_t errlen);

/*
 * Creates the SSL object for a new backend connection: SNI and the expected
 * host name come from |b| (server_name, else host).  Returns NULL on failure.
 */
SSL *tls_client_ssl_new(const struct cfg_backend *b);

/* Writes the first queued OpenSSL error (or |fallback|) into |buf|. */
const char *tls_last_error(char *buf, size_t len, const char *fallback);

#endif
