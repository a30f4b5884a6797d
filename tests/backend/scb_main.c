/*
 * scb_main.c - sc-test-backend: command line, listeners, signals.
 *
 * A Spark Connect server stand-in speaking the real wire protocol (gRPC
 * over HTTP/2, h2c and TLS) for sparkgate's integration tests, benchmarks
 * and demo.  Single-threaded libevent loop.  See tests/backend/README.md.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "scb.h"
#include "scb_conn.h"
#include "scb_exec.h"
#include "scb_record.h"
#include "scb_state.h"
#include "scb_tls.h"

#define MAX_LISTENERS 16

struct scb_cfg scb_cfg = {
	.name = "backend",
	.version = "4.0.0-sc-test-backend",
	.max_streams = 1000,
};

struct listener {
	const char *addr; /* HOST:PORT as given */
	bool tls;
	struct evconnlistener *ev;
	SSL_CTX *ssl_ctx; /* borrowed from main() */
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: sc-test-backend --listen HOST:PORT [--listen ...]\n"
	    "         [--tls-listen HOST:PORT --tls-cert FILE --tls-key FILE\n"
	    "          [--tls-client-ca FILE]]\n"
	    "         [--name NAME] [--record FILE]\n"
	    "         [--max-concurrent-streams N] [--version-string S]\n"
	    "         [--conf KEY=VALUE ...]\n");
}

static void
on_accept(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct listener *l = arg;

	scb_conn_accept(evconnlistener_get_base(ev), l->tls ? l->ssl_ctx : NULL,
	    fd, sa, salen);
}

static void
on_accept_error(struct evconnlistener *ev, void *arg)
{
	(void)ev;
	(void)arg;
	/* EMFILE and friends: keep serving the connections we have */
	fprintf(stderr, "sc-test-backend: accept: %s\n",
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

/* Splits "HOST:PORT" / "[V6]:PORT" (empty host: all interfaces). */
static int
split_addr(const char *addr, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon = strrchr(addr, ':');
	const char *h = addr;
	size_t n;

	if (colon == NULL || colon[1] == '\0')
		return -1;
	n = (size_t)(colon - addr);
	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
		h = addr + 1;
		n -= 2;
	}
	if (n >= hlen || strlen(colon + 1) >= plen)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

static int
listener_open(struct event_base *base, struct listener *l)
{
	struct addrinfo hints, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char host[256], port[16], nhost[NI_MAXHOST], nport[NI_MAXSERV];
	int rv = -1, gai;

	if (split_addr(l->addr, host, sizeof(host), port, sizeof(port)) < 0) {
		fprintf(stderr, "sc-test-backend: bad address %s\n", l->addr);
		goto out;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	gai = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (gai != 0) {
		fprintf(stderr, "sc-test-backend: %s: %s\n", l->addr,
		    gai_strerror(gai));
		goto out;
	}
	l->ev = evconnlistener_new_bind(base, on_accept, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    512, res->ai_addr, (int)res->ai_addrlen);
	if (l->ev == NULL) {
		fprintf(stderr, "sc-test-backend: cannot listen on %s: %s\n",
		    l->addr, strerror(errno));
		goto out;
	}
	evconnlistener_set_error_cb(l->ev, on_accept_error);
	/* port 0: report the port the kernel picked */
	if (getsockname(evconnlistener_get_fd(l->ev), (struct sockaddr *)&ss,
	        &sslen) != 0 ||
	    getnameinfo((struct sockaddr *)&ss, sslen, nhost, sizeof(nhost),
	        nport, sizeof(nport), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		fprintf(stderr, "sc-test-backend: getsockname failed\n");
		goto out;
	}
	if (ss.ss_family == AF_INET6)
		printf("LISTEN %s [%s]:%s\n", l->tls ? "tls" : "h2c", nhost,
		    nport);
	else
		printf("LISTEN %s %s:%s\n", l->tls ? "tls" : "h2c", nhost,
		    nport);
	rv = 0;
out:
	if (res != NULL)
		freeaddrinfo(res);
	return rv;
}

static bool
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

int
main(int argc, char **argv)
{
	struct listener ls[MAX_LISTENERS];
	size_t nls = 0;
	const char *cert = NULL, *key = NULL, *client_ca = NULL;
	const char *record = NULL;
	struct event_base *base = NULL;
	struct event *sigterm = NULL, *sigint = NULL;
	SSL_CTX *ssl_ctx = NULL;
	bool any_tls = false;
	unsigned long v;
	int rc = 1;

	memset(ls, 0, sizeof(ls));
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i];
		const char *arg = i + 1 < argc ? argv[i + 1] : NULL;

		if (arg == NULL) {
			usage();
			return 2;
		}
		i++;
		if (strcmp(opt, "--listen") == 0 ||
		    strcmp(opt, "--tls-listen") == 0) {
			if (nls == MAX_LISTENERS) {
				fprintf(stderr,
				    "sc-test-backend: too many "
				    "listeners\n");
				return 2;
			}
			ls[nls].addr = arg;
			ls[nls].tls = strcmp(opt, "--tls-listen") == 0;
			any_tls = any_tls || ls[nls].tls;
			nls++;
		} else if (strcmp(opt, "--tls-cert") == 0) {
			cert = arg;
		} else if (strcmp(opt, "--tls-key") == 0) {
			key = arg;
		} else if (strcmp(opt, "--tls-client-ca") == 0) {
			client_ca = arg;
		} else if (strcmp(opt, "--name") == 0) {
			scb_cfg.name = arg;
		} else if (strcmp(opt, "--record") == 0) {
			record = arg;
		} else if (strcmp(opt, "--version-string") == 0) {
			scb_cfg.version = arg;
		} else if (strcmp(opt, "--conf") == 0) {
			const char *eq = strchr(arg, '=');

			if (eq == NULL || eq == arg) {
				fprintf(stderr,
				    "sc-test-backend: --conf wants "
				    "KEY=VALUE\n");
				return 2;
			}
			if (scb_cfg.nconfs == SCB_MAX_CONFS) {
				fprintf(stderr,
				    "sc-test-backend: too many "
				    "--conf options\n");
				return 2;
			}
			scb_cfg.confs[scb_cfg.nconfs++] = arg;
		} else if (strcmp(opt, "--max-concurrent-streams") == 0) {
			if (!parse_uint(arg, 0x7fffffffUL, &v) || v == 0) {
				usage();
				return 2;
			}
			scb_cfg.max_streams = (uint32_t)v;
		} else {
			usage();
			return 2;
		}
	}
	if (nls == 0 || (any_tls && (cert == NULL || key == NULL))) {
		usage();
		return 2;
	}

	/* a peer vanishing mid-write must be an EPIPE, not a death */
	signal(SIGPIPE, SIG_IGN);
	if (scb_exec_init() < 0 || scb_state_init() < 0) {
		fprintf(stderr, "sc-test-backend: out of memory\n");
		goto out;
	}
	if (record != NULL && scb_record_open(record) < 0) {
		fprintf(stderr, "sc-test-backend: %s: %s\n", record,
		    strerror(errno));
		goto out;
	}
	if (any_tls) {
		ssl_ctx = scb_tls_ctx_new(cert, key, client_ca);
		if (ssl_ctx == NULL)
			goto out;
	}
	base = event_base_new();
	if (base == NULL)
		goto out;
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	if (sigterm == NULL || sigint == NULL ||
	    event_add(sigterm, NULL) != 0 || event_add(sigint, NULL) != 0)
		goto out;
	for (size_t i = 0; i < nls; i++) {
		ls[i].ssl_ctx = ssl_ctx;
		if (listener_open(base, &ls[i]) < 0)
			goto out;
	}
	printf("READY\n");
	fflush(stdout);

	event_base_dispatch(base);
	rc = 0;
out:
	for (size_t i = 0; i < nls; i++) {
		if (ls[i].ev != NULL)
			evconnlistener_free(ls[i].ev);
	}
	/* connections reference the data pool and the op table: first */
	scb_conn_free_all();
	/* A freed bufferevent stays referenced by its queued deferred
	 * callbacks, and event_base_free() cancels those without dropping the
	 * reference: let the loop run them (and the finalizers they queue). */
	for (int i = 0; base != NULL && i < 4; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	scb_state_free();
	scb_exec_cleanup();
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	if (base != NULL)
		event_base_free(base);
	SSL_CTX_free(ssl_ctx);
	scb_record_close();
	fflush(stdout);
	return rc;
}
