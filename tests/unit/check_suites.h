/* One constructor per unit suite (tests/unit/check_<module>.c). */
#ifndef SPARKGATE_CHECK_SUITES_H
#define SPARKGATE_CHECK_SUITES_H

#include <check.h>

Suite *util_suite(void);
Suite *grpc_suite(void);
Suite *pb_suite(void);
Suite *sc_suite(void);
Suite *route_suite(void);
Suite *ident_suite(void);
Suite *jpos_suite(void);
Suite *cfg_suite(void);
Suite *cfg_auth_suite(void);
Suite *auth_suite(void);
Suite *auth_jwks_suite(void);
Suite *auth_jwt_suite(void);
Suite *plan_suite(void);
Suite *sqlclass_suite(void);
Suite *policy_suite(void);
Suite *stream_suite(void);
Suite *fe_suite(void);
Suite *be_suite(void);
Suite *call_suite(void);
Suite *h2scan_suite(void);

#endif
