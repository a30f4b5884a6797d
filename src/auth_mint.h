/*
 * auth_mint.h: the `sparkgate mint-token` and `sparkgate hash-token`
 * commands (operators' smoke checks, the demo, tests).  Not used by the
 * daemon itself.
 */
#ifndef SPARKGATE_AUTH_MINT_H
#define SPARKGATE_AUTH_MINT_H

/*
 * `sparkgate mint-token`: prints a signed JWT built from the options (see
 * --help).  |argv[0]| is the command name, options follow.  Only tokens
 * that sparkgate's own verifier could accept are minted: the key must fit
 * the algorithm (RSA >= 2048 bits, the curve of ES*, Ed25519, HMAC secrets
 * at least as long as the hash).  Returns the process exit status: 0, 1 on
 * an error, 2 on a usage error.
 */
int auth_mint_main(int argc, char **argv);

/*
 * `sparkgate hash-token`: reads one token from standard input (without
 * echo on a terminal; one trailing newline removed) and prints the
 * lower-case hex SHA-256 that static_tokens[].sha256 expects.  The token is
 * never printed.  Returns the process exit status as auth_mint_main().
 */
int auth_hash_token_main(int argc, char **argv);

#endif
