/*
 * main.c: command line.  Everything else lives in the library.
 *
 *   sparkgate -c FILE        run in the foreground (systemd Type=notify)
 *   sparkgate -t -c FILE     validate FILE and exit 0/1
 *   sparkgate explain ...    judge a captured request offline (explain.c)
 */
#include "config.h"

#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_mint.h"
#include "cfg.h"
#include "daemon.h"
#include "explain.h"
#include "tls.h"

#define DEFAULT_CONFIG SYSCONFDIR "/sparkgate/sparkgate.json"

static void
usage(FILE *f)
{
    fprintf(
        f, "usage: sparkgate [-t] [-f] [-c FILE]\n"
           "       sparkgate hash-token          < token   (prints the SHA-256 for static_tokens)\n"
           "       sparkgate mint-token --help             (signs a JWT with a local key)\n"
           "       sparkgate explain --help                (plan tree and policy decisions)\n"
           "       sparkgate --version | --help\n"
           "\n"
           "Authenticating gRPC reverse proxy for Apache Spark Connect.\n"
           "\n"
           "  -c, --config FILE  configuration (default " DEFAULT_CONFIG ")\n"
           "  -t, --test         check the configuration and exit (0 valid, 1 invalid)\n"
           "  -f, --foreground   accepted for compatibility; sparkgate never daemonises\n"
           "  -V, --version      print the version\n"
           "  -h, --help         this text\n"
           "\n"
           "Signals: SIGHUP reloads the configuration, SIGTERM drains and exits.\n"
           "See sparkgate(8) and sparkgate.json(5).\n");
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"test", no_argument, NULL, 't'},
        {"foreground", no_argument, NULL, 'f'},   {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *path = DEFAULT_CONFIG;
    char err[1024];
    int ch, test = 0;

    /* subcommands: operator tools that share the verifier's code */
    if (argc >= 2 && strcmp(argv[1], "hash-token") == 0)
        return auth_hash_token_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "explain") == 0)
        return explain_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "mint-token") == 0) {
        tls_init();
        return auth_mint_main(argc - 1, argv + 1);
    }
    while ((ch = getopt_long(argc, argv, "c:tfVh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            path = optarg;
            break;
        case 't':
            test = 1;
            break;
        case 'f':
            break;
        case 'V':
            printf("sparkgate %s\n", VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    /*
     * Result bytes pass through evbuffer chains that are malloc'ed and freed
     * at GB/s.  glibc trims a worker thread's arena (MADV_DONTNEED) whenever
     * its free top exceeds M_TRIM_THRESHOLD, so every chain would fault fresh
     * zeroed pages in again; page faults were 30% of the CPU profile of a
     * streaming ExecutePlan.  Keep a bounded amount of freed memory instead.
     */
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
    tls_init();
    if (test) {
        struct cfg *c = cfg_load(path, err, sizeof(err));

        if (c == NULL) {
            fprintf(stderr, "sparkgate: %s\n", err);
            return 1;
        }
        printf("configuration %s ok\n", path);
        cfg_unref(c);
        return 0;
    }
    return daemon_run(path);
}
