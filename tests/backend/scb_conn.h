/*
 * scb_conn.h - one accepted HTTP/2 connection (h2c with prior knowledge,
 * or TLS with ALPN h2) of the test backend.
 */
#ifndef SCB_CONN_H
#define SCB_CONN_H

#include <sys/socket.h>

#include <event2/event.h>
#include <openssl/ssl.h>

/* Takes over fd.  ssl_ctx NULL means plaintext h2c.  Errors only close
 * the socket. */
void scb_conn_accept(struct event_base *base, SSL_CTX *ssl_ctx,
    evutil_socket_t fd, const struct sockaddr *sa, int salen);

/* Closes every connection (records their streams as cancelled). */
void scb_conn_free_all(void);

#endif /* SCB_CONN_H */
