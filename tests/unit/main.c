/*
 * Check runner for every unit suite.  One Suite per module, each in
 * tests/unit/check_<module>.c.  Select with CK_RUN_SUITE / CK_RUN_CASE;
 * debug a crash with CK_FORK=no.
 */
#include "config.h"

#include <stdlib.h>
#include <check.h>

#include "check_suites.h"

int
main(void)
{
    SRunner *sr = srunner_create(util_suite());
    int failed;

    srunner_add_suite(sr, grpc_suite());
    srunner_add_suite(sr, pb_suite());
    srunner_add_suite(sr, sc_suite());
    srunner_add_suite(sr, route_suite());
    srunner_add_suite(sr, ident_suite());
    srunner_add_suite(sr, jpos_suite());
    srunner_add_suite(sr, cfg_suite());
    srunner_add_suite(sr, cfg_auth_suite());
    srunner_add_suite(sr, auth_suite());
    srunner_add_suite(sr, auth_jwks_suite());
    srunner_add_suite(sr, auth_jwt_suite());
    srunner_add_suite(sr, plan_suite());
    srunner_add_suite(sr, sqlclass_suite());
    srunner_add_suite(sr, policy_suite());
    srunner_add_suite(sr, stream_suite());
    srunner_add_suite(sr, fe_suite());
    srunner_add_suite(sr, be_suite());
    srunner_add_suite(sr, call_suite());
    srunner_add_suite(sr, h2scan_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
