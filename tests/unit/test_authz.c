/* test_authz.c — the role/right matrix, decided in one place. */
#include "auth/authz.h"
#include "test.h"

TEST(authz_matrix_data_owner_has_every_right) {
  ASSERT(authz_role_allows("data_owner", RIGHT_READ));
  ASSERT(authz_role_allows("data_owner", RIGHT_WRITE));
  ASSERT(authz_role_allows("data_owner", RIGHT_DATA_IO));
  ASSERT(authz_role_allows("data_owner", RIGHT_MANAGE));
}

TEST(authz_matrix_data_scientist_cannot_move_data_or_manage) {
  ASSERT(authz_role_allows("data_scientist", RIGHT_READ));
  ASSERT(authz_role_allows("data_scientist", RIGHT_WRITE));
  ASSERT(!authz_role_allows("data_scientist", RIGHT_DATA_IO));
  ASSERT(!authz_role_allows("data_scientist", RIGHT_MANAGE));
}

TEST(authz_matrix_unknown_or_missing_role_has_nothing) {
  for (int r = RIGHT_READ; r <= RIGHT_MANAGE; r++) {
    ASSERT(!authz_role_allows(NULL, (enum right)r));
    ASSERT(!authz_role_allows("", (enum right)r));
    ASSERT(!authz_role_allows("admin", (enum right)r));
    ASSERT(!authz_role_allows("Data_Owner", (enum right)r));
  }
}
