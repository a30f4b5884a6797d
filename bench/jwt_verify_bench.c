/*
 * bench/jwt_verify_bench.c: what one JWT verification costs, without the
 * network (bench/bench.py section 4 runs it; bench/run.sh builds it with the
 * project's compiler flags against src/libsgparse.a).
 *
 *   jwt-verify-bench SECS NAME PEM KID ISS AUD TOKENFILE [NAME PEM ... TOKENFILE]...
 *
 * For each token: loads the public key with auth_jwk_set_from_pem() (as
 * "public_keys" does), checks that auth_jwt_verify() accepts the token, then
 * times, each for about SECS seconds of thread CPU (bounded: at most
 * MAX_ITERS calls):
 *   miss     auth_jwt_peek() + auth_jwt_verify() + json_decref(): the work
 *            of a token-cache miss in auth.c check_jwt()
 *   verify   auth_jwt_verify() alone
 *   sig      the signature check alone, as auth_jwt.c verify_pkey() does it
 *            (EVP_MD_CTX_new, EVP_DigestVerifyInit, EVP_DigestVerify, free)
 *   sha256   EVP_Digest(SHA-256) of the token: the cache key, paid by a hit
 * Prints one JSON object per token and operation on standard output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include "auth_jwt.h"

#define MAX_ITERS 2000000L
#define BATCH 16

static double
thread_cpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
wall(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        perror(path);
        exit(2);
    }
    buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        perror(path);
        exit(2);
    }
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    *len = (size_t)n;
    return buf;
}

struct ctx {
    char *tok;
    size_t len;
    struct auth_jwt_issuer iss;
    struct auth_jwk_set *keys;
    const char *aud[1];
    /* signature only */
    const struct auth_jwk *key;
    const EVP_MD *md;
    unsigned char sig[1024];
    size_t sig_len;
    size_t signing_len;
    time_t now;
    int fails;
};

static void
op_miss(struct ctx *c)
{
    struct auth_jwt_result r;

    if (auth_jwt_peek(c->tok, c->len, &r) != AUTH_JWT_OK)
        c->fails++;
    if (auth_jwt_verify(c->tok, c->len, &c->iss, c->keys, c->now, &r) != AUTH_JWT_OK)
        c->fails++;
    json_decref(r.claims);
}

static void
op_verify(struct ctx *c)
{
    struct auth_jwt_result r;

    if (auth_jwt_verify(c->tok, c->len, &c->iss, c->keys, c->now, &r) != AUTH_JWT_OK)
        c->fails++;
    json_decref(r.claims);
}

static void
op_sig(struct ctx *c)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();

    if (m == NULL || EVP_DigestVerifyInit(m, NULL, c->md, NULL, c->key->pkey) != 1 ||
        EVP_DigestVerify(m, c->sig, c->sig_len, (const unsigned char *)c->tok, c->signing_len) != 1)
        c->fails++;
    EVP_MD_CTX_free(m);
}

static void
op_sha256(struct ctx *c)
{
    unsigned char d[32];

    if (EVP_Digest(c->tok, c->len, d, NULL, EVP_sha256(), NULL) != 1)
        c->fails++;
}

static void
timeit(const char *name, const char *op, void (*fn)(struct ctx *), struct ctx *c, double secs)
{
    double c0, w0, c1, w1;
    long n = 0, i;

    for (i = 0; i < 50; i++) /* warm-up */
        fn(c);
    c->fails = 0;
    c0 = thread_cpu();
    w0 = wall();
    do {
        for (i = 0; i < BATCH; i++)
            fn(c);
        n += BATCH;
        c1 = thread_cpu();
    } while (c1 - c0 < secs && n < MAX_ITERS);
    w1 = wall();
    printf("{\"token\": \"%s\", \"op\": \"%s\", \"calls\": %ld, \"cpu_us\": %.3f, "
           "\"wall_us\": %.3f, \"fails\": %d}\n",
           name, op, n, 1e6 * (c1 - c0) / (double)n, 1e6 * (w1 - w0) / (double)n, c->fails);
    fflush(stdout);
    if (c->fails != 0) {
        fprintf(stderr, "jwt-verify-bench: %s %s: %d failures\n", name, op, c->fails);
        exit(1);
    }
}

/* The signing input and the signature as verify_pkey() hands them to OpenSSL. */
static void
prepare_sig(struct ctx *c, const char *name, unsigned alg)
{
    const char *dot2 = strrchr(c->tok, '.');
    unsigned char raw[1024];
    long n;

    c->signing_len = (size_t)(dot2 - c->tok);
    n = jose_b64url_decode(dot2 + 1, c->len - c->signing_len - 1, raw);
    if (n <= 0 || (size_t)n > sizeof(raw)) {
        fprintf(stderr, "jwt-verify-bench: %s: bad signature segment\n", name);
        exit(2);
    }
    if (alg == JOSE_ES256) {
        ECDSA_SIG *s = ECDSA_SIG_new();
        unsigned char *p = c->sig;
        int dl;

        if (s == NULL || n != 64 ||
            ECDSA_SIG_set0(s, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL)) != 1 ||
            (dl = i2d_ECDSA_SIG(s, &p)) <= 0) {
            fprintf(stderr, "jwt-verify-bench: %s: cannot convert the ES256 signature\n", name);
            exit(2);
        }
        c->sig_len = (size_t)dl;
        ECDSA_SIG_free(s);
    } else {
        memcpy(c->sig, raw, (size_t)n);
        c->sig_len = (size_t)n;
    }
}

int
main(int argc, char **argv)
{
    double secs;
    int i;

    if (argc < 8 || (argc - 2) % 6 != 0) {
        fprintf(stderr, "usage: %s SECS NAME PEM KID ISS AUD TOKENFILE [NAME PEM KID ISS AUD "
                        "TOKENFILE]...\n", argv[0]);
        return 2;
    }
    secs = atof(argv[1]);
    if (secs <= 0 || secs > 10)
        secs = 0.3;
    for (i = 2; i + 5 < argc; i += 6) {
        const char *name = argv[i], *kid = argv[i + 2];
        struct ctx c;
        struct auth_jwt_result r;
        char err[256];
        size_t pemlen;
        char *pem = slurp(argv[i + 1], &pemlen);
        unsigned alg;

        memset(&c, 0, sizeof(c));
        c.tok = slurp(argv[i + 5], &c.len);
        c.keys = auth_jwk_set_from_pem(pem, pemlen, kid, err, sizeof(err));
        if (c.keys == NULL) {
            fprintf(stderr, "jwt-verify-bench: %s: %s\n", argv[i + 1], err);
            return 2;
        }
        c.aud[0] = argv[i + 4];
        c.iss.issuer = argv[i + 3];
        c.iss.audiences = c.aud;
        c.iss.naudiences = 1;
        c.iss.skew_s = 60;
        c.iss.principal_claim = "sub";
        c.iss.algs = JOSE_RS256 | JOSE_ES256;
        c.now = time(NULL);
        if (auth_jwt_verify(c.tok, c.len, &c.iss, c.keys, c.now, &r) != AUTH_JWT_OK) {
            fprintf(stderr, "jwt-verify-bench: %s: token refused: %s\n", name, r.reason);
            return 1;
        }
        alg = r.alg;
        json_decref(r.claims);
        c.key = auth_jwk_set_find(c.keys, kid);
        c.md = EVP_sha256();
        if (c.key == NULL || (alg != JOSE_RS256 && alg != JOSE_ES256)) {
            fprintf(stderr, "jwt-verify-bench: %s: RS256 or ES256 with kid %s expected\n", name,
                    kid);
            return 2;
        }
        prepare_sig(&c, name, alg);
        timeit(name, "miss", op_miss, &c, secs);
        timeit(name, "verify", op_verify, &c, secs);
        timeit(name, "sig", op_sig, &c, secs);
        timeit(name, "sha256", op_sha256, &c, secs);
        auth_jwk_set_unref(c.keys);
        free(c.tok);
        free(pem);
    }
    return 0;
}
