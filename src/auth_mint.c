/*
 * auth_mint.c: `sparkgate mint-token` and `sparkgate hash-token`.
 *
 * mint-token signs with libjwt 1.10.2 where libjwt is sound, which is
 * signing with an explicit key and algorithm: HS/RS/ES 256/384/512.
 * libjwt 1.10.2 knows no PS* or EdDSA and always writes "typ":"JWT", so
 * those algorithms and any other --typ go through a small EVP signer here.
 * Before signing, the key is checked with the verifier's own rules
 * (auth_jwk_set_from_pem / auth_jwk_fits_alg), so a minted token is one
 * sparkgate can accept.  Key material read from files is wiped after use.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "auth_jwt.h"
#include "auth_mint.h"
#include "util.h"

#define MINT_FILE_MAX (64u * 1024u) /* key and secret files (as cfg_auth.c) */
#define MINT_TTL_MAX 31536000L      /* one year, either way */
#define MINT_AUD_MAX 16
#define MINT_CLAIMS_MAX 64
#define HASH_TOKEN_MAX (64u * 1024u) /* a bearer token longer than this is not a token */

struct mint_opts {
    const char *key_file;    /* PEM private key (asymmetric algorithms) */
    const char *secret_file; /* HMAC secret (HS*) */
    const char *kid, *iss, *sub, *typ;
    const char *aud[MINT_AUD_MAX];
    size_t naud;
    const char *claims[MINT_CLAIMS_MAX]; /* "name=string" or "name:=JSON" */
    size_t nclaims;
    long ttl;
    unsigned alg;
};

static void
mint_usage(FILE *f)
{
    fprintf(f,
            "usage: sparkgate mint-token (--key PEM | --secret-file FILE) --alg ALG --iss ISSUER\n"
            "                            --aud AUDIENCE [--aud AUDIENCE]... --sub SUBJECT\n"
            "                            [--kid KID] [--ttl SECONDS] [--typ TYP]\n"
            "                            [--claim NAME=VALUE | --claim NAME:=JSON]...\n"
            "\n"
            "Prints a signed JWT (RFC 7519) on standard output.\n"
            "\n"
            "  --key PEM          private key file (RS*, PS*: RSA >= 2048 bits; ES256/384/512:\n"
            "                     EC P-256/384/521; EdDSA: Ed25519); unencrypted PEM\n"
            "  --secret-file F    HMAC secret (HS*), at least as long as the hash; trailing\n"
            "                     newlines are removed, as sparkgate does for hmac_secrets\n"
            "  --alg ALG          RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA\n"
            "                     HS256 HS384 HS512\n"
            "  --kid KID          key id for the header (the issuer's JWKS names the key)\n"
            "  --iss, --sub       issuer and subject claims\n"
            "  --aud AUDIENCE     audience; repeat for an array\n"
            "  --ttl SECONDS      lifetime from now (default 3600; negative mints an expired\n"
            "                     token, for tests)\n"
            "  --typ TYP          header typ (default JWT; e.g. at+jwt for RFC 9068)\n"
            "  --claim N=V        extra string claim; N:=JSON for any JSON value\n"
            "\n"
            "HS*, RS* and ES* tokens with typ JWT are signed by libjwt; PS*, EdDSA and any\n"
            "other typ by sparkgate's own OpenSSL EVP signer (libjwt 1.10.2 has neither).\n");
}

/*
 * Reads |path| whole into a new NUL-terminated buffer of at most |max|
 * bytes.  Returns 0, or -1 with a message on stderr.  The caller wipes and
 * frees the buffer (it may hold a key).
 */
static int
read_file(const char *what, const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n;

    if (f == NULL) {
        fprintf(stderr, "sparkgate mint-token: %s %s: %s\n", what, path, strerror(errno));
        return -1;
    }
    buf = malloc(MINT_FILE_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        fprintf(stderr, "sparkgate mint-token: out of memory\n");
        return -1;
    }
    n = fread(buf, 1, MINT_FILE_MAX + 1, f);
    if (ferror(f) || n > MINT_FILE_MAX) {
        fprintf(stderr, "sparkgate mint-token: %s %s: %s\n", what, path,
                ferror(f) ? "read error" : "larger than 64 KiB");
        fclose(f);
        util_free_secret(buf, MINT_FILE_MAX + 1);
        return -1;
    }
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static const EVP_MD *
alg_md(unsigned alg)
{
    if (alg & (JOSE_RS384 | JOSE_PS384 | JOSE_ES384 | JOSE_HS384))
        return EVP_sha384();
    if (alg & (JOSE_RS512 | JOSE_PS512 | JOSE_ES512 | JOSE_HS512))
        return EVP_sha512();
    if (alg == JOSE_EDDSA)
        return NULL;
    return EVP_sha256();
}

static bool
alg_is_hmac(unsigned alg)
{
    return (alg & (JOSE_HS256 | JOSE_HS384 | JOSE_HS512)) != 0;
}

/* libjwt 1.10.2's name for |alg|, or JWT_ALG_INVAL where it has none. */
static jwt_alg_t
libjwt_alg(unsigned alg)
{
    switch (alg) {
    case JOSE_HS256:
        return JWT_ALG_HS256;
    case JOSE_HS384:
        return JWT_ALG_HS384;
    case JOSE_HS512:
        return JWT_ALG_HS512;
    case JOSE_RS256:
        return JWT_ALG_RS256;
    case JOSE_RS384:
        return JWT_ALG_RS384;
    case JOSE_RS512:
        return JWT_ALG_RS512;
    case JOSE_ES256:
        return JWT_ALG_ES256;
    case JOSE_ES384:
        return JWT_ALG_ES384;
    case JOSE_ES512:
        return JWT_ALG_ES512;
    default:
        return JWT_ALG_INVAL;
    }
}

/* ------------------------------------------------------------------------ */
/* keys */

/* OpenSSL's default would prompt on the terminal for an encrypted key. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* What |alg| needs, for the message when the key does not fit. */
static const char *
alg_needs(unsigned alg)
{
    switch (alg) {
    case JOSE_ES256:
        return "an EC P-256 key";
    case JOSE_ES384:
        return "an EC P-384 key";
    case JOSE_ES512:
        return "an EC P-521 key";
    case JOSE_EDDSA:
        return "an Ed25519 key";
    case JOSE_HS256:
        return "a secret of at least 32 bytes";
    case JOSE_HS384:
        return "a secret of at least 48 bytes";
    case JOSE_HS512:
        return "a secret of at least 64 bytes";
    default:
        return "an RSA key of at least 2048 bits";
    }
}

/* Runs the verifier's key rules on |set| (one key) for |alg|; consumes |set|. */
static int
check_fits(struct auth_jwk_set *set, unsigned alg, const char *err)
{
    int ok;

    if (set == NULL) {
        fprintf(stderr, "sparkgate mint-token: %s\n", err);
        return -1;
    }
    ok = auth_jwk_fits_alg(&set->keys[0], alg);
    auth_jwk_set_unref(set);
    if (!ok) {
        fprintf(stderr, "sparkgate mint-token: %s needs %s\n", jose_alg_name(alg), alg_needs(alg));
        return -1;
    }
    return 0;
}

/*
 * Loads the private key of |o|: *|pem| is the file (for libjwt), *|pkey|
 * the parsed key (for the EVP signer).  The public half must pass the
 * verifier's checks for the algorithm.
 */
static int
load_private_key(const struct mint_opts *o, char **pem, size_t *pemlen, EVP_PKEY **pkey)
{
    char err[256] = "cannot derive the public key";
    BIO *in = NULL, *pub = NULL;
    const char *pubpem;
    long publen;
    int rc = -1;

    if (read_file("key", o->key_file, pem, pemlen) != 0)
        return -1;
    in = BIO_new_mem_buf(*pem, (int)*pemlen);
    *pkey = in != NULL ? PEM_read_bio_PrivateKey(in, NULL, no_passphrase, NULL) : NULL;
    if (*pkey == NULL) {
        fprintf(stderr, "sparkgate mint-token: key %s: not an unencrypted PEM private key\n",
                o->key_file);
        goto out;
    }
    pub = BIO_new(BIO_s_mem());
    if (pub == NULL || PEM_write_bio_PUBKEY(pub, *pkey) != 1)
        goto out;
    publen = BIO_get_mem_data(pub, &pubpem);
    rc = check_fits(auth_jwk_set_from_pem(pubpem, (size_t)publen, NULL, err, sizeof(err)), o->alg,
                    err);

out:
    BIO_free(in);
    BIO_free(pub);
    if (rc != 0) {
        EVP_PKEY_free(*pkey);
        *pkey = NULL;
        util_free_secret(*pem, MINT_FILE_MAX + 1);
        *pem = NULL;
    }
    return rc;
}

static int
load_secret(const struct mint_opts *o, char **secret, size_t *len)
{
    if (read_file("secret file", o->secret_file, secret, len) != 0)
        return -1;
    /* the same bytes sparkgate's hmac_secrets loader keeps (cfg_auth.c) */
    while (*len > 0 && ((*secret)[*len - 1] == '\n' || (*secret)[*len - 1] == '\r'))
        (*len)--;
    if (*len == 0 || check_fits(auth_jwk_set_from_secret((const uint8_t *)*secret, *len, NULL),
                                o->alg, "empty secret") != 0) {
        if (*len == 0)
            fprintf(stderr, "sparkgate mint-token: secret file %s is empty\n", o->secret_file);
        util_free_secret(*secret, MINT_FILE_MAX + 1);
        *secret = NULL;
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* claims */

static bool
claim_reserved(const char *name)
{
    static const char *const reserved[] = {"iss", "sub", "aud", "exp", "iat"};
    size_t i;

    for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        if (strcmp(name, reserved[i]) == 0)
            return true;
    }
    return false;
}

/* The payload: iss, sub, aud, iat, exp, then each --claim.  NULL on error. */
static json_t *
build_payload(const struct mint_opts *o, time_t now)
{
    json_t *pl = json_object(), *aud = NULL, *v;
    json_error_t jerr;
    char name[256];
    size_t i, n;
    const char *eq;

    if (pl == NULL)
        return NULL;
    if (o->naud == 1) {
        aud = json_string(o->aud[0]);
    } else {
        aud = json_array();
        for (i = 0; aud != NULL && i < o->naud; i++)
            json_array_append_new(aud, json_string(o->aud[i]));
    }
    if (json_object_set_new(pl, "iss", json_string(o->iss)) != 0 ||
        json_object_set_new(pl, "sub", json_string(o->sub)) != 0 ||
        json_object_set_new(pl, "aud", aud) != 0 ||
        json_object_set_new(pl, "iat", json_integer((json_int_t)now)) != 0 ||
        json_object_set_new(pl, "exp", json_integer((json_int_t)now + o->ttl)) != 0) {
        fprintf(stderr, "sparkgate mint-token: --iss, --sub and --aud must be UTF-8\n");
        goto fail;
    }
    for (i = 0; i < o->nclaims; i++) {
        eq = strchr(o->claims[i], '=');
        n = eq != NULL ? (size_t)(eq - o->claims[i]) : 0;
        if (n > 0 && o->claims[i][n - 1] == ':')
            n--;
        if (eq == NULL || n == 0 || n >= sizeof(name)) {
            fprintf(stderr,
                    "sparkgate mint-token: --claim %s: expected NAME=VALUE or "
                    "NAME:=JSON\n",
                    o->claims[i]);
            goto fail;
        }
        memcpy(name, o->claims[i], n);
        name[n] = '\0';
        if (claim_reserved(name)) {
            fprintf(stderr, "sparkgate mint-token: --claim %s: set by --%s\n", name,
                    strcmp(name, "exp") == 0 || strcmp(name, "iat") == 0 ? "ttl" : name);
            goto fail;
        }
        if (eq[-1] == ':')
            v = json_loads(eq + 1, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        else
            v = json_string(eq + 1);
        if (v == NULL) {
            fprintf(stderr, "sparkgate mint-token: --claim %s: not %s\n", name,
                    eq[-1] == ':' ? "valid JSON" : "UTF-8");
            goto fail;
        }
        json_object_set_new(pl, name, v);
    }
    return pl;

fail:
    json_decref(pl);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* signers */

static char *
sign_libjwt(const struct mint_opts *o, const char *key, size_t keylen, const json_t *payload)
{
    char *grants = NULL, *tok = NULL;
    jwt_t *jwt = NULL;

    grants = json_dumps(payload, JSON_COMPACT);
    if (grants == NULL || keylen > INT_MAX || jwt_new(&jwt) != 0)
        goto out;
    if (jwt_set_alg(jwt, libjwt_alg(o->alg), (const unsigned char *)key, (int)keylen) != 0 ||
        (o->kid != NULL && jwt_add_header(jwt, "kid", o->kid) != 0) ||
        jwt_add_grants_json(jwt, grants) != 0)
        goto out;
    tok = jwt_encode_str(jwt);

out:
    if (tok == NULL)
        fprintf(stderr, "sparkgate mint-token: libjwt could not sign the token\n");
    jwt_free(jwt);
    free(grants);
    return tok;
}

/* base64url of |len| bytes appended at |out| (room for it is the caller's). */
static size_t
append_b64(char *out, const void *in, size_t len)
{
    return jose_b64url_encode(in, len, out);
}

/*
 * JWS compact serialisation with EVP (RFC 7515 §7.1): for PS*, EdDSA and
 * headers libjwt 1.10.2 cannot write.  ES signatures are converted from
 * DER to the fixed-size r||s JOSE wants (RFC 7518 §3.4).
 */
static char *
sign_evp(const struct mint_opts *o, EVP_PKEY *pkey, const char *secret, size_t secret_len,
         const json_t *payload)
{
    uint8_t sig[1024], der[1024];
    char *hdr_s = NULL, *pl_s = NULL, *tok = NULL;
    json_t *hdr = NULL;
    EVP_MD_CTX *mctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    ECDSA_SIG *es = NULL;
    size_t hl, pl, siglen = 0, derlen = sizeof(der), off = 0;
    unsigned maclen = 0;
    int half;

    hdr = json_pack("{s:s}", "alg", jose_alg_name(o->alg));
    if (hdr == NULL || (o->kid != NULL && json_object_set_new(hdr, "kid", json_string(o->kid))) ||
        json_object_set_new(hdr, "typ", json_string(o->typ != NULL ? o->typ : "JWT")) != 0)
        goto out;
    hdr_s = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER);
    pl_s = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (hdr_s == NULL || pl_s == NULL)
        goto out;
    hl = strlen(hdr_s);
    pl = strlen(pl_s);
    tok = malloc((hl + pl + sizeof(sig)) * 4 / 3 + 16);
    if (tok == NULL)
        goto out;
    off += append_b64(tok, hdr_s, hl);
    tok[off++] = '.';
    off += append_b64(tok + off, pl_s, pl);

    if (alg_is_hmac(o->alg)) {
        if (HMAC(alg_md(o->alg), secret, (int)secret_len, (const unsigned char *)tok, off, sig,
                 &maclen) == NULL)
            goto fail;
        siglen = maclen;
    } else {
        mctx = EVP_MD_CTX_new();
        if (mctx == NULL || EVP_DigestSignInit(mctx, &pctx, alg_md(o->alg), NULL, pkey) != 1)
            goto fail;
        if ((o->alg & (JOSE_PS256 | JOSE_PS384 | JOSE_PS512)) != 0 &&
            (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, alg_md(o->alg)) != 1 ||
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
            goto fail;
        if (EVP_DigestSign(mctx, der, &derlen, (const unsigned char *)tok, off) != 1)
            goto fail;
        if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC) {
            const unsigned char *p = der;

            es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
            half = (EVP_PKEY_get_bits(pkey) + 7) / 8;
            if (es == NULL || half <= 0 || (size_t)half * 2 > sizeof(sig) ||
                BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, half) != half ||
                BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + half, half) != half)
                goto fail;
            siglen = (size_t)half * 2;
        } else {
            memcpy(sig, der, derlen);
            siglen = derlen;
        }
    }
    tok[off++] = '.';
    append_b64(tok + off, sig, siglen);
    goto out;

fail:
    free(tok);
    tok = NULL;
out:
    if (tok == NULL)
        fprintf(stderr, "sparkgate mint-token: could not sign the token\n");
    OPENSSL_cleanse(sig, sizeof(sig));
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(mctx);
    free(hdr_s);
    free(pl_s);
    json_decref(hdr);
    return tok;
}

/* ------------------------------------------------------------------------ */
/* commands */

static int
parse_mint_args(int argc, char **argv, struct mint_opts *o)
{
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},   {"secret-file", required_argument, NULL, 's'},
        {"alg", required_argument, NULL, 'a'},   {"kid", required_argument, NULL, 'K'},
        {"iss", required_argument, NULL, 'i'},   {"aud", required_argument, NULL, 'A'},
        {"sub", required_argument, NULL, 'S'},   {"ttl", required_argument, NULL, 't'},
        {"claim", required_argument, NULL, 'c'}, {"typ", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *alg = NULL;
    char *end;
    int ch;

    memset(o, 0, sizeof(*o));
    o->ttl = 3600;
    /* glibc: 0 re-initialises getopt, main() may have used it already */
    optind = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'k':
            o->key_file = optarg;
            break;
        case 's':
            o->secret_file = optarg;
            break;
        case 'a':
            alg = optarg;
            break;
        case 'K':
            o->kid = optarg;
            break;
        case 'i':
            o->iss = optarg;
            break;
        case 'S':
            o->sub = optarg;
            break;
        case 'T':
            o->typ = optarg;
            break;
        case 'A':
            if (o->naud == MINT_AUD_MAX) {
                fprintf(stderr, "sparkgate mint-token: at most %d --aud\n", MINT_AUD_MAX);
                return 2;
            }
            o->aud[o->naud++] = optarg;
            break;
        case 'c':
            if (o->nclaims == MINT_CLAIMS_MAX) {
                fprintf(stderr, "sparkgate mint-token: at most %d --claim\n", MINT_CLAIMS_MAX);
                return 2;
            }
            o->claims[o->nclaims++] = optarg;
            break;
        case 't':
            errno = 0;
            o->ttl = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || end == optarg || o->ttl < -MINT_TTL_MAX ||
                o->ttl > MINT_TTL_MAX) {
                fprintf(stderr, "sparkgate mint-token: --ttl must be an integer within +-%ld\n",
                        MINT_TTL_MAX);
                return 2;
            }
            break;
        case 'h':
            mint_usage(stdout);
            return 0;
        default:
            mint_usage(stderr);
            return 2;
        }
    }
    if (optind != argc || alg == NULL || o->iss == NULL || o->sub == NULL || o->naud == 0 ||
        (o->key_file == NULL) == (o->secret_file == NULL)) {
        fprintf(stderr, "sparkgate mint-token: --alg, --iss, --sub, --aud and exactly one of "
                        "--key and --secret-file are required\n");
        mint_usage(stderr);
        return 2;
    }
    o->alg = jose_alg_from_name(alg);
    if (o->alg == 0) {
        fprintf(stderr, "sparkgate mint-token: unknown algorithm \"%s\" (see --help)\n", alg);
        return 2;
    }
    if (alg_is_hmac(o->alg) != (o->secret_file != NULL)) {
        fprintf(stderr, "sparkgate mint-token: %s needs %s\n", alg,
                alg_is_hmac(o->alg) ? "--secret-file" : "--key");
        return 2;
    }
    if (o->kid != NULL && strlen(o->kid) >= AUTH_JWK_KID_MAX) {
        fprintf(stderr, "sparkgate mint-token: --kid longer than %d bytes\n", AUTH_JWK_KID_MAX - 1);
        return 2;
    }
    return -1;
}

int
auth_mint_main(int argc, char **argv)
{
    struct mint_opts o;
    EVP_PKEY *pkey = NULL;
    json_t *payload = NULL;
    char *key = NULL, *tok = NULL;
    size_t keylen = 0;
    bool use_libjwt;
    int rc;

    rc = parse_mint_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    rc = 1;
    if (alg_is_hmac(o.alg) ? load_secret(&o, &key, &keylen) != 0
                           : load_private_key(&o, &key, &keylen, &pkey) != 0)
        goto out;
    payload = build_payload(&o, time(NULL));
    if (payload == NULL)
        goto out;
    /* libjwt 1.10.2 overwrites typ with "JWT" and has no PS* / EdDSA */
    use_libjwt = libjwt_alg(o.alg) != JWT_ALG_INVAL && (o.typ == NULL || strcmp(o.typ, "JWT") == 0);
    tok = use_libjwt ? sign_libjwt(&o, key, keylen, payload)
                     : sign_evp(&o, pkey, key, keylen, payload);
    if (tok == NULL)
        goto out;
    if (printf("%s\n", tok) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "sparkgate mint-token: cannot write the token: %s\n", strerror(errno));
        goto out;
    }
    rc = 0;

out:
    free(tok);
    json_decref(payload);
    EVP_PKEY_free(pkey);
    util_free_secret(key, MINT_FILE_MAX + 1);
    return rc;
}

/*
 * Reads the token: the whole input from a pipe, one line from a terminal
 * (with echo off, so the token is not left on the screen).  Returns the
 * length, or -1 with a message on stderr.
 */
static long
read_token(char *buf, size_t cap)
{
    struct termios saved, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
    size_t n = 0;
    int c;

    if (tty) {
        fprintf(stderr, "token (not echoed): ");
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    while ((c = getchar()) != EOF) {
        if (n == cap) {
            n = cap + 1;
            break;
        }
        buf[n++] = (char)c;
        if (tty && c == '\n')
            break;
    }
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        fputc('\n', stderr);
    }
    if (ferror(stdin)) {
        fprintf(stderr, "sparkgate hash-token: cannot read standard input\n");
        return -1;
    }
    if (n > cap) {
        fprintf(stderr, "sparkgate hash-token: token longer than %u bytes\n", HASH_TOKEN_MAX);
        return -1;
    }
    return (long)n;
}

int
auth_hash_token_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint8_t md[32];
    char hex[65], *buf = NULL;
    long r;
    size_t n;
    int ch, rc = 1;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (ch == 'h') {
            printf("usage: sparkgate hash-token < TOKEN-FILE\n"
                   "\n"
                   "Reads one bearer token on standard input (one trailing newline is\n"
                   "removed) and prints its SHA-256 as 64 hex digits, the form\n"
                   "static_tokens[].sha256 takes.  The token itself is never printed.\n");
            return 0;
        }
        fprintf(stderr, "usage: sparkgate hash-token < TOKEN-FILE\n");
        return 2;
    }
    if (optind != argc) {
        fprintf(stderr, "usage: sparkgate hash-token < TOKEN-FILE (the token is read from "
                        "standard input, never from the command line)\n");
        return 2;
    }
    buf = malloc(HASH_TOKEN_MAX + 1);
    if (buf == NULL)
        return 1;
    r = read_token(buf, HASH_TOKEN_MAX);
    if (r < 0)
        goto out;
    n = (size_t)r;
    /* `echo "$TOKEN" |` adds a newline that is not part of the token */
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    if (n == 0) {
        fprintf(stderr, "sparkgate hash-token: no token on standard input\n");
        goto out;
    }
    /* an HTTP header value holds one line: such a "token" could never be presented */
    if (memchr(buf, '\n', n) != NULL || memchr(buf, '\r', n) != NULL) {
        fprintf(stderr, "sparkgate hash-token: the token must be a single line\n");
        goto out;
    }
    if (EVP_Digest(buf, n, md, NULL, EVP_sha256(), NULL) != 1)
        goto out;
    util_hex(md, sizeof(md), hex);
    printf("%s\n", hex);
    rc = fflush(stdout) == 0 ? 0 : 1;

out:
    util_free_secret(buf, HASH_TOKEN_MAX + 1);
    return rc;
}
