// Trial keys: the content hash that lets identical trials be recognized across grids,
// and never across engine versions or changed data files.
#include "common/spec/trial_key.h"

#include <gtest/gtest.h>

#include "common/spec/engine_version.h"

namespace actgrid::spec {
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

TEST(TrialKey, CoversTheEngineVersion) {
  v1::TrialSpec a;
  a.set_depth(3);
  EXPECT_EQ(TrialKey(a), TrialKey(a, kEngineVersion));
  EXPECT_NE(TrialKey(a, kEngineVersion), TrialKey(a, kEngineVersion + 1));
  EXPECT_NE(TrialKey(a, kUnversionedEngine), SpecKey(a));  // older databases' keys never match
  EXPECT_EQ(SpecKey(a), SpecKey(a));
}

TEST(TrialKey, CoversTheDatasetDigestButSpecKeyDoesNot) {
  v1::TrialSpec a;
  a.mutable_dataset()->set_kind(v1::DATASET_KIND_CSV);
  a.mutable_dataset()->set_path("/data/x.csv");
  v1::TrialSpec b = a;
  a.mutable_dataset()->set_digest(std::string(64, 'a'));
  b.mutable_dataset()->set_digest(std::string(64, 'b'));
  EXPECT_NE(TrialKey(a), TrialKey(b));
  EXPECT_EQ(SpecKey(a), SpecKey(b));
  v1::TrialSpec none = a;
  none.mutable_dataset()->clear_digest();
  EXPECT_EQ(SpecKey(a), SpecKey(none));
}

TEST(BuildDescription, NamesTheEngineRevisionAndTarget) {
  const std::string build = BuildDescription();
  EXPECT_EQ(build.rfind("engine " + std::to_string(kEngineVersion) + ", rev ", 0), 0u) << build;
  EXPECT_TRUE(build.find(", native") != std::string::npos || build.find(", portable") != std::string::npos) << build;
}

}  // namespace
}  // namespace actgrid::spec
