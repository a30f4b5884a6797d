/*
 * pbenc.h: a tiny protobuf encoder for the unit tests (check_plan.c,
 * check_policy.c).  Each builder returns a fresh buffer holding one or more
 * encoded fields; F() wraps a buffer as a message field; C() concatenates.
 * Builders consume their buffer arguments.  Static: each test file gets its
 * own copy, and Check's ck_assert reports allocation failures.
 */
#ifndef SPARKGATE_TESTS_PBENC_H
#define SPARKGATE_TESTS_PBENC_H

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "pb.h"

struct buf {
    uint8_t *p;
    size_t n;
};

static inline struct buf *
B(void)
{
    struct buf *b = calloc(1, sizeof(*b));

    ck_assert_ptr_nonnull(b);
    return b;
}

static inline void
put(struct buf *b, const void *p, size_t n)
{
    b->p = realloc(b->p, b->n + n + 1);
    ck_assert_ptr_nonnull(b->p);
    if (n != 0)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

static inline void
put_varint(struct buf *b, uint64_t v)
{
    uint8_t tmp[10];

    put(b, tmp, pb_put_varint(tmp, v));
}

static inline void
bfree(struct buf *b)
{
    free(b->p);
    free(b);
}

/* Length-delimited field |num| holding |child| (consumed). */
static inline struct buf *
F(uint32_t num, struct buf *child)
{
    struct buf *b = B();

    put_varint(b, (uint64_t)num << 3 | PB_WT_LEN);
    put_varint(b, child->n);
    put(b, child->p, child->n);
    bfree(child);
    return b;
}

static inline struct buf *
S(uint32_t num, const char *s)
{
    struct buf *b = B();

    put_varint(b, (uint64_t)num << 3 | PB_WT_LEN);
    put_varint(b, strlen(s));
    put(b, s, strlen(s));
    return b;
}

static inline struct buf *
V(uint32_t num, uint64_t v)
{
    struct buf *b = B();

    put_varint(b, (uint64_t)num << 3 | PB_WT_VARINT);
    put_varint(b, v);
    return b;
}

/* Concatenates |n| buffers (consumed). */
static inline struct buf *
C(int n, ...)
{
    struct buf *b = B();
    va_list ap;
    int i;

    va_start(ap, n);
    for (i = 0; i < n; i++) {
        struct buf *x = va_arg(ap, struct buf *);

        put(b, x->p, x->n);
        bfree(x);
    }
    va_end(ap);
    return b;
}

#define E() B() /* empty message */

#endif
