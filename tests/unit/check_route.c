/* Unit tests for src/route.c: stable, spread, minimal movement. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <check.h>

#include "route.h"
#include "check_suites.h"

/* The backends a test routes over: route_pick sees them through name_at. */
struct set {
    size_t n;
    const char *const *names;
};

static const char *
name_at(const void *set, size_t i)
{
    return ((const struct set *)set)->names[i];
}

static struct set
make_cfg(size_t n, const char *const *names)
{
    struct set c = {n, names};

    return c;
}

static size_t
pick(struct set c, const uint8_t *key, size_t keylen)
{
    return route_pick(name_at, &c, c.n, key, keylen);
}

START_TEST(tc_hash_is_stable)
{
    /* fixed values: replicas and releases must agree, so the hash never changes */
    ck_assert(route_hash("", 0, 0) == route_hash("", 0, 0));
    ck_assert(route_hash("abc", 3, 0) != route_hash("abd", 3, 0));
    /* value computed independently (Python: FNV-1a 64 then splitmix64 finaliser) */
    ck_assert_uint_eq(route_hash("spark-1", 7, 0), 0x0144372fbeb9eb40ull);
}
END_TEST

START_TEST(tc_pick_spreads_and_is_deterministic)
{
    static const char *const names[] = {"a", "b", "c", "d"};
    struct set c = make_cfg(4, names);
    unsigned counts[4] = {0};
    char key[40];
    int i;

    for (i = 0; i < 4000; i++) {
        size_t p;

        snprintf(key, sizeof(key), "session-%d", i);
        p = pick(c, (const uint8_t *)key, strlen(key));
        ck_assert_uint_lt(p, 4);
        ck_assert_uint_eq(p, pick(c, (const uint8_t *)key, strlen(key)));
        counts[p]++;
    }
    for (i = 0; i < 4; i++)
        ck_assert_msg(counts[i] > 800 && counts[i] < 1200, "backend %d got %u of 4000", i,
                      counts[i]);
}
END_TEST

START_TEST(tc_removal_moves_only_its_keys)
{
    static const char *const four[] = {"a", "b", "c", "d"};
    static const char *const three[] = {"a", "b", "d"}; /* "c" removed, order kept */
    char key[40];
    int i, moved = 0;

    for (i = 0; i < 2000; i++) {
        const char *before, *after;

        snprintf(key, sizeof(key), "k%d", i);
        before = four[pick(make_cfg(4, four), (const uint8_t *)key, strlen(key))];
        after = three[pick(make_cfg(3, three), (const uint8_t *)key, strlen(key))];
        if (strcmp(before, "c") != 0)
            ck_assert_str_eq(before, after);
        else
            moved++;
    }
    ck_assert_int_gt(moved, 0);
}
END_TEST

START_TEST(tc_order_does_not_matter)
{
    static const char *const x[] = {"a", "b", "c"};
    static const char *const y[] = {"c", "a", "b"};
    char key[40];
    int i;

    for (i = 0; i < 500; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        ck_assert_str_eq(x[pick(make_cfg(3, x), (const uint8_t *)key, strlen(key))],
                         y[pick(make_cfg(3, y), (const uint8_t *)key, strlen(key))]);
    }
}
END_TEST

/* principal NUL session_id, the session id cut to what fits, never overflowing */
START_TEST(tc_route_key)
{
    char k[8];
    size_t n;

    n = route_key(k, sizeof(k), "bob", (const uint8_t *)"s1", 2);
    ck_assert_uint_eq(n, 6);
    ck_assert_int_eq(memcmp(k, "bob\0s1", 6), 0);
    n = route_key(k, sizeof(k), "bob", (const uint8_t *)"session", 7);
    ck_assert_uint_eq(n, sizeof(k));
    ck_assert_int_eq(memcmp(k, "bob\0sess", 8), 0);
    n = route_key(k, sizeof(k), "", (const uint8_t *)"s", 1);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(memcmp(k, "\0s", 2), 0);
    n = route_key(k, sizeof(k), "a-long-principal", NULL, 0);
    ck_assert_uint_eq(n, sizeof(k));
    ck_assert_int_eq(k[sizeof(k) - 1], '\0');
}
END_TEST

Suite *
route_suite(void)
{
    Suite *s = suite_create("route");
    TCase *tc = tcase_create("route");

    tcase_add_test(tc, tc_hash_is_stable);
    tcase_add_test(tc, tc_pick_spreads_and_is_deterministic);
    tcase_add_test(tc, tc_removal_moves_only_its_keys);
    tcase_add_test(tc, tc_order_does_not_matter);
    tcase_add_test(tc, tc_route_key);
    suite_add_tcase(s, tc);
    return s;
}
