/* Unit tests for src/ident.c: the user_context rewrite. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "ident.h"
#include "pb.h"
#include "sg_err.h"
#include "check_suites.h"

/* A message under construction (fixed room: these are small). */
struct msg {
    uint8_t p[512];
    size_t n;
};

static void
add(struct msg *m, uint32_t num, const void *p, size_t len)
{
    ck_assert_uint_le(m->n + pb_len_field_size(num, len), sizeof(m->p));
    m->n += pb_put_len_field(m->p + m->n, num, p, len);
}

/* UserContext{user_id, user_name} */
static void
add_uc(struct msg *m, const char *id, const char *name)
{
    struct msg uc = {.n = 0};

    if (id != NULL)
        add(&uc, 1, id, strlen(id));
    if (name != NULL)
        add(&uc, 2, name, strlen(name));
    add(m, 2, uc.p, uc.n);
}

/* The message after the rewrite: new head, then the untouched tail. */
static struct msg
apply(const struct msg *in, const struct ident_head *h)
{
    struct msg out = {.n = 0};

    memcpy(out.p, h->p, h->len);
    memcpy(out.p + h->len, in->p + h->replaced, in->n - h->replaced);
    out.n = h->len + in->n - h->replaced;
    return out;
}

/* The one UserContext of |m| must be {user_id = user_name = who}, first. */
static void
assert_bound(const struct msg *m, const char *who)
{
    struct pb_cur cur, sub;
    struct pb_field f, g;
    int i = 0, ucs = 0;

    pb_cur_init(&cur, m->p, m->n);
    while (pb_next(&cur, &f) == 1) {
        if (f.num != 2) {
            i++;
            continue;
        }
        ck_assert_int_eq(i, 0); /* first */
        ucs++;
        pb_sub(&f, &sub);
        ck_assert_int_eq(pb_next(&sub, &g), 1);
        ck_assert_uint_eq(g.num, 1);
        ck_assert_uint_eq(g.len, strlen(who));
        ck_assert_int_eq(memcmp(g.data, who, g.len), 0);
        ck_assert_int_eq(pb_next(&sub, &g), 1);
        ck_assert_uint_eq(g.num, 2);
        ck_assert_uint_eq(g.len, strlen(who));
        ck_assert_int_eq(memcmp(g.data, who, g.len), 0);
        ck_assert_int_eq(pb_next(&sub, &g), 0);
        i++;
    }
    ck_assert_int_eq(ucs, 1);
}

START_TEST(tc_replaces_every_user_context)
{
    struct msg m = {.n = 0}, out;
    struct ident_head h;
    char err[256];

    add(&m, 1, "sess", 4);
    add_uc(&m, "mallory", "m");
    add(&m, 5, "tag", 3);
    add_uc(&m, "eve", NULL);
    add(&m, 3, "plan-bytes", 10);
    ck_assert_int_eq(ident_bind(m.p, m.n, "alice", false, &h, err, sizeof(err)), SG_OK);
    /* only the head up to the last user_context is replaced: the plan stays */
    ck_assert_uint_eq(h.replaced, m.n - pb_len_field_size(3, 10));
    out = apply(&m, &h);
    assert_bound(&out, "alice");
    /* the other head fields follow, in order */
    ck_assert_ptr_nonnull(memmem(out.p, out.n, "sess", 4));
    ck_assert_ptr_nonnull(memmem(out.p, out.n, "tag", 3));
    ck_assert_ptr_null(memmem(out.p, out.n, "mallory", 7));
    ck_assert_ptr_null(memmem(out.p, out.n, "eve", 3));
    free(h.p);
}
END_TEST

START_TEST(tc_adds_when_absent)
{
    struct msg m = {.n = 0}, out;
    struct ident_head h;
    char err[256];

    add(&m, 1, "sess", 4);
    ck_assert_int_eq(ident_bind(m.p, m.n, "bob", true, &h, err, sizeof(err)), SG_OK);
    ck_assert_uint_eq(h.replaced, 0);
    out = apply(&m, &h);
    assert_bound(&out, "bob");
    free(h.p);
    /* an empty message is valid protobuf */
    ck_assert_int_eq(ident_bind(m.p, 0, "bob", true, &h, err, sizeof(err)), SG_OK);
    ck_assert_uint_eq(h.len, pb_len_field_size(2, 2 * pb_len_field_size(1, 3)));
    free(h.p);
}
END_TEST

START_TEST(tc_require_match)
{
    struct msg m = {.n = 0};
    struct ident_head h;
    char err[256];

    add_uc(&m, "alice", NULL);
    ck_assert_int_eq(ident_bind(m.p, m.n, "alice", true, &h, err, sizeof(err)), SG_OK);
    free(h.p);
    /* the last user_id is the claim (protobuf-java merges) */
    add_uc(&m, "bob\x01", NULL);
    ck_assert_int_eq(ident_bind(m.p, m.n, "alice", true, &h, err, sizeof(err)), SG_ERR_DENIED);
    ck_assert_ptr_null(h.p);
    ck_assert_str_eq(err, "sparkgate: user_id \"bob?\" does not match the authenticated "
                          "principal \"alice\"");
    /* without require_match the claim is simply replaced */
    ck_assert_int_eq(ident_bind(m.p, m.n, "alice", false, &h, err, sizeof(err)), SG_OK);
    free(h.p);
}
END_TEST

START_TEST(tc_refuses_malformed)
{
    static const uint8_t truncated[] = {0x0a, 0x05, 'a'};
    static const uint8_t uc_varint[] = {0x10, 0x01};                /* user_context as a varint */
    static const uint8_t uc_bad_inner[] = {0x12, 0x02, 0x0a, 0x05}; /* inner length overruns */
    struct ident_head h;
    char err[256];

    ck_assert_int_eq(ident_bind(truncated, sizeof(truncated), "a", false, &h, err, sizeof(err)),
                     SG_ERR_PROTO);
    ck_assert_int_eq(ident_bind(uc_varint, sizeof(uc_varint), "a", false, &h, err, sizeof(err)),
                     SG_ERR_PROTO);
    ck_assert_int_eq(ident_bind(uc_bad_inner, sizeof(uc_bad_inner), "a", false, &h, err,
                                sizeof(err)),
                     SG_ERR_PROTO);
    ck_assert_ptr_null(h.p);
}
END_TEST

/* xorshift32: deterministic, so a failure reproduces */
static uint32_t
rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Random messages (user_contexts, other fields, garbage): whatever ident_bind
 * accepts comes out valid, bound to the principal, other fields kept in order. */
START_TEST(tc_property_random_messages)
{
    static const char *const ids[] = {"alice", "bob", NULL};
    uint32_t seed = 0x9a9a9a9au;
    int iter;

    for (iter = 0; iter < 20000; iter++) {
        struct msg m = {.n = 0}, out;
        struct ident_head h;
        struct pb_cur a, b;
        struct pb_field fa, fb;
        char err[256];
        int i, nf = (int)(rnd(&seed) % 6), rv;
        bool strict = rnd(&seed) & 1;

        for (i = 0; i < nf; i++) {
            uint8_t junk[3];
            size_t k;

            switch (rnd(&seed) % 5) {
            case 0:
                add_uc(&m, ids[rnd(&seed) % 3], rnd(&seed) & 1 ? "n" : NULL);
                break;
            case 1:
                add(&m, 1, "session", rnd(&seed) % 8);
                break;
            case 2:
                add(&m, 3, "plan-plan-plan", rnd(&seed) % 15);
                break;
            case 3:
                m.p[m.n++] = 4 << 3 | PB_WT_VARINT;
                m.n += pb_put_varint(m.p + m.n, rnd(&seed));
                break;
            default:
                for (k = 0; k < 1 + rnd(&seed) % 3; k++)
                    junk[k] = (uint8_t)rnd(&seed);
                memcpy(m.p + m.n, junk, k);
                m.n += k;
                break;
            }
        }
        memset(&h, 0xa5, sizeof(h));
        rv = ident_bind(m.p, m.n, "alice", strict, &h, err, sizeof(err));
        if (rv != SG_OK) {
            ck_assert_msg(rv == SG_ERR_PROTO || (rv == SG_ERR_DENIED && strict), "rv %d", rv);
            ck_assert_ptr_null(h.p);
            continue;
        }
        ck_assert_int_eq(pb_validate(m.p, m.n), 0);
        ck_assert_uint_le(h.replaced, m.n);
        out = apply(&m, &h);
        ck_assert_int_eq(pb_validate(out.p, out.n), 0);
        assert_bound(&out, "alice");
        /* every other field, in order, byte for byte */
        pb_cur_init(&a, m.p, m.n);
        pb_cur_init(&b, out.p, out.n);
        for (;;) {
            int ra, rb;

            while ((ra = pb_next(&a, &fa)) == 1 && fa.num == 2)
                ;
            while ((rb = pb_next(&b, &fb)) == 1 && fb.num == 2)
                ;
            ck_assert_int_eq(ra, rb);
            if (ra != 1)
                break;
            ck_assert_uint_eq((size_t)(fa.end - fa.start), (size_t)(fb.end - fb.start));
            ck_assert_int_eq(memcmp(fa.start, fb.start, (size_t)(fa.end - fa.start)), 0);
        }
        free(h.p);
    }
}
END_TEST

Suite *
ident_suite(void)
{
    Suite *s = suite_create("ident");
    TCase *tc = tcase_create("ident");

    tcase_add_test(tc, tc_replaces_every_user_context);
    tcase_add_test(tc, tc_adds_when_absent);
    tcase_add_test(tc, tc_require_match);
    tcase_add_test(tc, tc_refuses_malformed);
    tcase_add_test(tc, tc_property_random_messages);
    suite_add_tcase(s, tc);
    return s;
}
