/*
 * explain.h: "sparkgate explain" (see explain.c and sparkgate(8)).
 */
#ifndef SPARKGATE_EXPLAIN_H
#define SPARKGATE_EXPLAIN_H

/* argv[0] is "explain".  Returns the process exit status. */
int explain_main(int argc, char **argv);

#endif
