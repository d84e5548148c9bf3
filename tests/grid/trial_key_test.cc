// Trial keys: the content hash that lets identical trials be recognized across grids.
#include <gtest/gtest.h>

#include "client/grid/grid_file.h"

namespace actgrid::grid {
namespace {

TEST(TrialKey, IsHexSha256AndFollowsContent) {
  v1::TrialSpec a;
  a.set_depth(3);
  a.set_seed(1);
  v1::TrialSpec b = a;
  const std::string key = TrialKey(a);
  ASSERT_EQ(key.size(), 64u);
  EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(TrialKey(b), key);
  b.set_seed(2);
  EXPECT_NE(TrialKey(b), key);
  b.set_seed(1);
  b.mutable_train()->set_lr(0.01);
  EXPECT_NE(TrialKey(b), key);
}

}  // namespace
}  // namespace actgrid::grid
