/*
 * explain.c: "sparkgate explain", the operator's view of the plan policy.
 *
 * Reads one captured request (raw protobuf, or gRPC-framed: one or more
 * 5-byte-prefixed messages, as a client sends them) from a file or stdin,
 * prints every node the policy sees (decompressed plans included) and the
 * decision each profile of the configuration would make, with the message
 * the client would get.  It runs the same code as the proxy (policy.c on
 * the profiles cfg_policy.c compiled) and touches no network, no TLS file
 * and no key file.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sg_err.h"
#include "cfg.h"
#include "explain.h"
#include "grpc.h"
#include "policy.h"
#include "util.h"

#define EXPLAIN_INPUT_MAX (1024u * 1024u * 1024u)
#define EXPLAIN_MAX_MSGS 4096

struct msg {
    const uint8_t *p;
    size_t len;
};

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: sparkgate explain [-c FILE] [-p PROFILE] [-m METHOD] [-q] [INPUT | -]\n"
            "\n"
            "Prints the plan tree of one captured Spark Connect request and the decision\n"
            "of every profile in FILE (or only PROFILE).  INPUT is raw protobuf or\n"
            "gRPC-framed messages; default standard input.\n"
            "\n"
            "  -c, --config FILE     configuration with \"profiles\" (no TLS or key files read)\n"
            "  -p, --profile NAME    judge with this profile only\n"
            "  -m, --method NAME     request type (default ExecutePlan)\n"
            "  -q, --quiet           decisions only, no tree\n"
            "\n"
            "Exit status: 0 judged (allowed or refused), 1 malformed request or beyond the\n"
            "limits, 2 usage, configuration or input error.\n");
}

static int
read_all(const char *path, uint8_t **out, size_t *outlen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    uint8_t *buf = NULL, *nb;
    size_t len = 0, cap = 0, n;
    int rv = -1;

    if (f == NULL) {
        perror(path);
        return -1;
    }
    for (;;) {
        if (len == cap) {
            if (cap >= EXPLAIN_INPUT_MAX) {
                fprintf(stderr, "sparkgate explain: %s: larger than %u bytes\n", path,
                        EXPLAIN_INPUT_MAX);
                goto out;
            }
            cap = cap == 0 ? 65536 : cap * 2;
            if ((nb = realloc(buf, cap)) == NULL) {
                fprintf(stderr, "sparkgate explain: out of memory\n");
                goto out;
            }
            buf = nb;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        perror(path);
        goto out;
    }
    *out = buf;
    *outlen = len;
    buf = NULL;
    rv = 0;
out:
    free(buf);
    if (f != stdin)
        fclose(f);
    return rv;
}

/*
 * gRPC framing when the input is exactly a sequence of uncompressed
 * 5-byte-prefixed messages; otherwise one raw protobuf message.  (A raw
 * request starts with a tag, never a 0x00 byte followed by a matching
 * length, except by accident; --method and the tree make that visible.)
 */
static size_t
split(const uint8_t *p, size_t len, struct msg *m, size_t max, bool *framed)
{
    size_t off = 0, n = 0;

    *framed = false;
    while (off + GRPC_HDR_LEN <= len && n < max) {
        uint32_t l = (uint32_t)p[off + 1] << 24 | (uint32_t)p[off + 2] << 16 |
                     (uint32_t)p[off + 3] << 8 | p[off + 4];

        if (p[off] != 0 || l > len - off - GRPC_HDR_LEN)
            break;
        m[n].p = p + off + GRPC_HDR_LEN;
        m[n].len = l;
        n++;
        off += GRPC_HDR_LEN + l;
    }
    if (n > 0 && off == len) {
        *framed = true;
        return n;
    }
    m[0].p = p;
    m[0].len = len;
    return 1;
}

static void
print_text(const uint8_t *s, size_t len)
{
    char shown[81];
    size_t n = util_printable(shown, sizeof(shown), s, len, "\"");

    printf("\"%s%s\"", shown, n < len ? "..." : "");
}

static int
print_node(const struct plan_node *n, void *arg)
{
    unsigned ind = n->depth < 40 ? n->depth : 40;

    (void)arg;
    printf("%*s%s  %s %s", (int)ind, "", n->path, plan_cat_name(n->cat), n->kind);
    if (n->type != NULL && n->cat != PLAN_CAT_UNKNOWN)
        printf(" (%s)", n->type);
    else if (n->cat == PLAN_CAT_UNKNOWN)
        printf(" field %u of %s", n->field, n->type != NULL ? n->type : "?");
    if (n->has_eval_type)
        printf(" eval_type %d", n->eval_type);
    if (n->text != NULL && n->cat != PLAN_CAT_COMPRESSED) {
        putchar(' ');
        print_text(n->text, n->text_len);
    }
    if (n->cat == PLAN_CAT_COMPRESSED)
        printf(" %zu bytes, op_type %lld, codec %lld", n->text_len, (long long)n->op_type,
               (long long)n->codec);
    putchar('\n');
    return 0;
}

static int
judge(const struct policy_profile *p, enum sc_method_id m, const struct msg *msgs, size_t n,
      const struct policy_limits *lim)
{
    struct policy_verdict v;
    struct policy_art_state st;
    int rv = POLICY_ALLOWED;
    size_t i;

    memset(&st, 0, sizeof(st));
    if (n > 1 && sc_method_get(m)->kind != SC_CLIENT_STREAMING) {
        /* what the proxy answers (call.c on_message) */
        printf("profile \"%s\": deny: sparkgate: %s takes exactly one request message, got "
               "%zu\n",
               p != NULL ? p->name : "-", sc_method_get(m)->name, n);
        return 1;
    }
    rv = policy_check_method(p, m, &v);
    for (i = 0; i < n && rv == POLICY_ALLOWED; i++) {
        if (m == SC_M_ADD_ARTIFACTS)
            rv = policy_check_artifacts(p, &st, msgs[i].p, msgs[i].len, &v);
        else
            rv = policy_check_request(p, m, msgs[i].p, msgs[i].len, lim, &v);
    }
    if (rv < 0) {
        fprintf(stderr, "sparkgate explain: %s\n", sg_strerror(rv));
        return 2;
    }
    if (rv == POLICY_ALLOWED) {
        printf("profile \"%s\": allow\n", p != NULL ? p->name : "-");
        return 0;
    }
    printf("profile \"%s\": deny: %s\n", p != NULL ? p->name : "-", v.msg);
    /* malformed or beyond the limits: not a policy decision */
    return v.status == 7 ? 0 : 1;
}

int
explain_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"profile", required_argument, NULL, 'p'},
        {"method", required_argument, NULL, 'm'}, {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *cfgpath = NULL, *profile = NULL, *method = "ExecutePlan", *input = "-";
    struct cfg *c = NULL;
    struct policy_limits lim;
    struct msg *msgs = NULL;
    uint8_t *buf = NULL, *cbuf = NULL;
    size_t len = 0, clen = 0, n, i;
    char err[1024];
    bool framed, quiet = false;
    int ch, m = -1, rv = 2, r;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:p:m:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            cfgpath = optarg;
            break;
        case 'p':
            profile = optarg;
            break;
        case 'm':
            method = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind > 1) {
        usage(stderr);
        return 2;
    }
    if (optind < argc)
        input = argv[optind];
    for (i = 0; i < SC_M_COUNT; i++)
        if (strcmp(sc_method_get((enum sc_method_id)i)->name, method) == 0)
            m = (int)i;
    if (m < 0) {
        fprintf(stderr, "sparkgate explain: unknown method \"%s\"\n", method);
        return 2;
    }
    policy_limits_default(&lim);
    if (cfgpath != NULL) {
        if (read_all(cfgpath, &cbuf, &clen) < 0)
            goto out;
        c = cfg_load_buf(cfgpath, clen > 0 ? (const char *)cbuf : "", clen, false, err,
                         sizeof(err));
        if (c == NULL) {
            fprintf(stderr, "sparkgate explain: %s\n", err);
            goto out;
        }
        lim.max_depth = c->limits.max_plan_depth;
        lim.max_nodes = c->limits.max_plan_nodes;
        lim.max_decompressed = c->limits.max_decompressed_plan_size;
        lim.max_ratio = c->limits.max_decompression_ratio;
        if (profile != NULL && cfg_profile(c, profile) == NULL) {
            fprintf(stderr, "sparkgate explain: %s has no profile \"%s\"\n", cfgpath, profile);
            goto out;
        }
    } else if (profile != NULL) {
        fprintf(stderr, "sparkgate explain: --profile needs --config\n");
        goto out;
    }
    if (read_all(input, &buf, &len) < 0)
        goto out;
    if ((msgs = calloc(EXPLAIN_MAX_MSGS, sizeof(*msgs))) == NULL)
        goto out;
    n = split(buf != NULL ? buf : (const uint8_t *)"", len, msgs, EXPLAIN_MAX_MSGS, &framed);
    printf("request: %s, %zu message%s, %zu bytes (%s)\n", method, n, n == 1 ? "" : "s", len,
           framed ? "gRPC-framed" : "raw protobuf");
    rv = 0;
    if (!quiet) {
        for (i = 0; i < n; i++) {
            r = policy_walk_all((enum sc_method_id)m, msgs[i].p, msgs[i].len, &lim, print_node,
                                NULL);
            if (r < 0 && r != SG_ERR_NOMEM)
                rv = 1; /* the decisions below say why */
        }
    }
    if (c == NULL || c->nprofiles == 0) {
        r = judge(NULL, (enum sc_method_id)m, msgs, n, &lim);
        printf("(no profiles configured: nothing is refused but malformed requests)\n");
        rv = r > rv ? r : rv;
        goto out;
    }
    for (i = 0; i < c->nprofiles; i++) {
        if (profile != NULL && strcmp(profile, c->profiles[i].name) != 0)
            continue;
        r = judge(&c->profiles[i], (enum sc_method_id)m, msgs, n, &lim);
        rv = r > rv ? r : rv;
    }
out:
    free(msgs);
    free(buf);
    free(cbuf);
    cfg_unref(c);
    return rv;
}
