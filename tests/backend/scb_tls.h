/*
 * scb_tls.h - server SSL_CTX of the test backend's TLS listener.
 */
#ifndef SCB_TLS_H
#define SCB_TLS_H

#include <openssl/ssl.h>

/* TLS 1.2+, ALPN "h2" only.  With client_ca (may be NULL) a client
 * certificate signed by it is required.  Prints the OpenSSL errors and
 * returns NULL on failure. */
SSL_CTX *scb_tls_ctx_new(const char *cert, const char *key,
    const char *client_ca);

#endif /* SCB_TLS_H */
