// Every grid file of examples/ parses, and a shortened version of it trains: one seed of
// every cell, one epoch (none where the study trains none), Fashion-MNIST cut to a few
// hundred images. The studies' own runs take minutes; this keeps the files valid.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>

#include "client/grid/grid_file.h"
#include "worker/engine/dataset.h"
#include "worker/engine/trainer.h"

namespace actgrid {
namespace {

std::vector<std::string> ExampleFiles() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(ACTGRID_SOURCE_DIR) + "/examples"))
    if (entry.path().extension() == ".yaml") files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(Examples, EveryGridFileParsesAndItsShortenedVersionTrains) {
  const std::vector<std::string> files = ExampleFiles();
  ASSERT_GE(files.size(), 11u);
  std::map<std::string, std::shared_ptr<const engine::Dataset>> datasets;
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    auto grid = grid::ParseGridFile(file);
    ASSERT_TRUE(grid.ok()) << grid.status();
    EXPECT_FALSE(grid->name.empty());
    int trained = 0;
    for (const grid::GridTrial& trial : grid->trials) {
      if (trial.spec.seed() != grid->seeds[0]) continue;  // one seed of every cell
      v1::TrialSpec spec = trial.spec;
      spec.mutable_train()->set_epochs(std::min(spec.train().epochs(), 1));
      if (spec.dataset().kind() == v1::DATASET_KIND_FASHION_MNIST) {
        spec.mutable_dataset()->set_train_limit(300);
        spec.mutable_dataset()->set_test_limit(300);
      }
      const std::string data_key = spec.dataset().SerializeAsString();
      if (!datasets.count(data_key)) {
        auto data = engine::LoadDataset(spec.dataset());
        ASSERT_TRUE(data.ok()) << data.status();
        datasets[data_key] = *data;
      }
      auto result = engine::RunTrial(spec, *datasets[data_key]);
      ASSERT_TRUE(result.ok()) << trial.key << ": " << result.status();
      EXPECT_EQ(result->epochs_size(), spec.train().epochs() + 1);
      EXPECT_EQ(result->epochs(0).layers_size(), spec.depth());
      EXPECT_TRUE(std::isfinite(result->epochs(0).test_acc()));
      ++trained;
    }
    EXPECT_EQ(trained, grid->cells);
  }
}

}  // namespace
}  // namespace actgrid
