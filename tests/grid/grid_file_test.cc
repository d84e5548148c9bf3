// Tests of the grid file: parsing, defaults, cartesian expansion order, labels,
// trial keys, and the exact path and suggestion of every kind of error.
#include "client/grid/grid_file.h"
#include "tests/grid/grid_test_util.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/spec/fields.h"
#include "common/spec/trial_key.h"
#include "gtest/gtest.h"

namespace actgrid::grid {
namespace {

using spec::TrialKey;

// The example of DESIGN.md, "The grid file (YAML)".
constexpr char kDesignExample[] = R"yaml(
name: relu-vs-reflu                 # [a-z0-9_-]{1,64}
dataset:
  name: circle                      # circle | xor | gauss | spiral | fashion_mnist | idx | csv
  samples: 1000                     # synthetic sets
  noise: 0.1
  test_fraction: 0.5
  seed: 7                           # data seed: the same data for every trial of the grid
  scaling: standardize              # standardize | minmax | none (fit on the training split)
  # path: /usr/share/datasets/fashion-mnist   # fashion_mnist | idx | csv
  # train_limit: 10000                        # optional subset
model:
  width: 8                          # hidden units per layer
train:
  optimizer: sgd                    # sgd | momentum | adam
  lr: 0.03
  batch: 10
  epochs: 200
  l2: 0.0                           # weight decay on weights
  l1_activity: 0.0                  # L1 penalty on hidden activations
  target_accuracy: 0.95             # for epochs_to_target
seeds: 5                            # N means seeds 0..N-1, or a list [0, 3, 9]
grid:                               # cartesian product of every list here
  activation: [relu, leaky_relu(alpha=0.01), prelu, elu, tanh, sigmoid, reflu]
  init: [xavier_uniform, he_normal]
  bias: [0.0, 0.1, 1.0]
  depth: [1, 2, 4, 8]
  train.lr: [0.01, 0.03]            # any scalar field above, by dotted path
)yaml";

using test_util::ErrorLines;
using test_util::MustParse;
using test_util::OneError;

bool StartsWith(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

std::string WithName(const std::string& body) { return "name: t\n" + body; }

TEST(GridFile, DesignExampleExpandsToAllTrials) {
  const Grid grid = MustParse(kDesignExample);
  EXPECT_EQ(grid.name, "relu-vs-reflu");
  EXPECT_EQ(grid.factors, (std::vector<std::string>{"activation", "init", "bias", "depth", "train.lr"}));
  EXPECT_EQ(grid.cells, 7 * 2 * 3 * 4 * 2);
  EXPECT_EQ(grid.seeds, (std::vector<uint64_t>{0, 1, 2, 3, 4}));
  ASSERT_EQ(grid.trials.size(), 1680u);
}

TEST(GridFile, LastFactorVariesFastestAndTrialsAreSeedMajor) {
  const Grid grid = MustParse(kDesignExample);
  ASSERT_EQ(grid.trials.size(), 1680u);
  EXPECT_EQ(grid.trials[0].values, (std::vector<std::string>{"relu", "xavier_uniform", "0", "1", "0.01"}));
  EXPECT_EQ(grid.trials[1].values, (std::vector<std::string>{"relu", "xavier_uniform", "0", "1", "0.03"}));
  EXPECT_EQ(grid.trials[2].values, (std::vector<std::string>{"relu", "xavier_uniform", "0", "2", "0.01"}));
  EXPECT_EQ(grid.trials[8].values, (std::vector<std::string>{"relu", "xavier_uniform", "0.1", "1", "0.01"}));
  EXPECT_EQ(grid.trials[24].values, (std::vector<std::string>{"relu", "he_normal", "0", "1", "0.01"}));
  EXPECT_EQ(grid.trials[48].values, (std::vector<std::string>{"leaky_relu", "xavier_uniform", "0", "1", "0.01"}));
  EXPECT_EQ(grid.trials[335].values, (std::vector<std::string>{"reflu", "he_normal", "1", "8", "0.03"}));
  for (size_t i = 0; i < grid.trials.size(); ++i) {
    const GridTrial& t = grid.trials[i];
    ASSERT_EQ(t.cell, static_cast<int>(i % 336)) << i;
    ASSERT_EQ(t.spec.seed(), i / 336) << i;
    ASSERT_EQ(t.values, grid.trials[i % 336].values) << i;
  }
  const v1::TrialSpec& last = grid.trials[335].spec;
  EXPECT_EQ(last.activation().kind(), v1::ACTIVATION_KIND_REFLU);
  EXPECT_EQ(last.init().kind(), v1::INIT_KIND_HE_NORMAL);
  EXPECT_EQ(last.bias(), 1.0);
  EXPECT_EQ(last.depth(), 8);
  EXPECT_EQ(last.train().lr(), 0.03);
}

TEST(GridFile, ExampleSpecsAreCanonical) {
  const Grid grid = MustParse(kDesignExample);
  ASSERT_FALSE(grid.trials.empty());
  const v1::TrialSpec& s = grid.trials[0].spec;
  EXPECT_EQ(s.dataset().kind(), v1::DATASET_KIND_CIRCLE);
  EXPECT_EQ(s.dataset().samples(), 1000);
  EXPECT_EQ(s.dataset().noise(), 0.1);
  EXPECT_EQ(s.dataset().test_fraction(), 0.5);
  EXPECT_EQ(s.dataset().seed(), 7u);
  EXPECT_EQ(s.dataset().scaling(), v1::SCALING_STANDARDIZE);
  EXPECT_EQ(s.dataset().path(), "");
  EXPECT_EQ(s.model().width(), 8);
  EXPECT_EQ(s.train().optimizer(), v1::OPTIMIZER_SGD);
  EXPECT_EQ(s.train().batch(), 10);
  EXPECT_EQ(s.train().epochs(), 200);
  EXPECT_EQ(s.train().target_accuracy(), 0.95);
  EXPECT_EQ(s.train().momentum(), 0.9);
  EXPECT_EQ(s.train().beta1(), 0.9);
  EXPECT_EQ(s.train().beta2(), 0.999);
  EXPECT_EQ(s.train().eps(), 1e-8);
  // prelu (cell 96) and reflu carry every registry parameter at its default.
  const v1::ActivationSpec& prelu = grid.trials[96].spec.activation();
  EXPECT_EQ(prelu.kind(), v1::ACTIVATION_KIND_PRELU);
  EXPECT_EQ(std::vector<double>(prelu.params().begin(), prelu.params().end()), std::vector<double>{0.25});
  const v1::ActivationSpec& reflu = grid.trials[335].spec.activation();
  EXPECT_EQ(std::vector<double>(reflu.params().begin(), reflu.params().end()),
            (std::vector<double>{0.1, 1.0, 0.0, 0.0}));
}

TEST(GridFile, DefaultsFillEveryField) {
  const Grid grid = MustParse("name: minimal\n");
  EXPECT_TRUE(grid.factors.empty());
  EXPECT_EQ(grid.cells, 1);
  EXPECT_EQ(grid.seeds, std::vector<uint64_t>{0});
  ASSERT_EQ(grid.trials.size(), 1u);
  EXPECT_TRUE(grid.trials[0].values.empty());
  const v1::TrialSpec& s = grid.trials[0].spec;
  EXPECT_EQ(s.dataset().kind(), v1::DATASET_KIND_CIRCLE);
  EXPECT_EQ(s.dataset().samples(), 1000);
  EXPECT_EQ(s.dataset().noise(), 0.1);
  EXPECT_EQ(s.dataset().test_fraction(), 0.5);
  EXPECT_EQ(s.dataset().seed(), 0u);
  EXPECT_EQ(s.dataset().scaling(), v1::SCALING_STANDARDIZE);
  EXPECT_EQ(s.model().width(), 8);
  EXPECT_EQ(s.depth(), 2);
  EXPECT_EQ(s.activation().kind(), v1::ACTIVATION_KIND_RELU);
  EXPECT_EQ(s.activation().params_size(), 0);
  EXPECT_EQ(s.init().kind(), v1::INIT_KIND_HE_NORMAL);
  EXPECT_EQ(s.bias(), 0.0);
  EXPECT_EQ(s.train().optimizer(), v1::OPTIMIZER_SGD);
  EXPECT_EQ(s.train().lr(), 0.03);
  EXPECT_EQ(s.train().batch(), 10);
  EXPECT_EQ(s.train().epochs(), 100);
  EXPECT_EQ(s.train().l2(), 0.0);
  EXPECT_EQ(s.train().l1_activity(), 0.0);
  EXPECT_EQ(s.train().target_accuracy(), 0.9);
  EXPECT_EQ(s.train().momentum(), 0.9);
  EXPECT_EQ(s.train().beta1(), 0.9);
  EXPECT_EQ(s.train().beta2(), 0.999);
  EXPECT_EQ(s.train().eps(), 1e-8);
  EXPECT_EQ(s.seed(), 0u);
}

TEST(GridFile, ActivationAndInitCallSyntax) {
  const Grid grid = MustParse(WithName(R"yaml(
grid:
  activation: [leaky_relu(alpha=0.01), leaky_relu(0.2), "reflu(0.2, 2)", "reflu(0.3, height=0.5)", elu(), maxout(k=4)]
  init: [constant(value=0.5), normal, orthogonal(2)]
)yaml"));
  ASSERT_EQ(grid.cells, 18);
  auto activation = [&](int i) { return grid.trials[i * 3].spec.activation(); };
  auto params = [](const auto& spec) { return std::vector<double>(spec.params().begin(), spec.params().end()); };
  EXPECT_EQ(activation(0).kind(), v1::ACTIVATION_KIND_LEAKY_RELU);
  EXPECT_EQ(params(activation(0)), std::vector<double>{0.01});
  EXPECT_EQ(grid.trials[0].values[0], "leaky_relu");
  EXPECT_EQ(params(activation(1)), std::vector<double>{0.2});
  EXPECT_EQ(grid.trials[3].values[0], "leaky_relu(alpha=0.2)");
  EXPECT_EQ(params(activation(2)), (std::vector<double>{0.2, 2.0, 0.0, 0.0}));
  EXPECT_EQ(params(activation(3)), (std::vector<double>{0.3, 1.0, 0.0, 0.5}));
  EXPECT_EQ(grid.trials[9].values[0], "reflu(left=0.3,height=0.5)");
  EXPECT_EQ(params(activation(4)), std::vector<double>{1.0});
  EXPECT_EQ(params(activation(5)), std::vector<double>{4});
  EXPECT_EQ(params(grid.trials[0].spec.init()), std::vector<double>{0.5});
  EXPECT_EQ(params(grid.trials[1].spec.init()), std::vector<double>{0.05});
  EXPECT_EQ(params(grid.trials[2].spec.init()), std::vector<double>{2.0});
  EXPECT_EQ(grid.trials[2].values[1], "orthogonal(gain=2)");
}

TEST(GridFile, FashionMnistGetsItsDefaultPath) {
  const Grid grid = MustParse(WithName("dataset:\n  name: fashion_mnist\n"));
  ASSERT_EQ(grid.trials.size(), 1u);
  EXPECT_EQ(grid.trials[0].spec.dataset().kind(), v1::DATASET_KIND_FASHION_MNIST);
  EXPECT_EQ(grid.trials[0].spec.dataset().path(), "/usr/share/datasets/fashion-mnist");

  const Grid own = MustParse(WithName("dataset:\n  name: fashion_mnist\n  path: /data/fm\n"));
  ASSERT_EQ(own.trials.size(), 1u);
  EXPECT_EQ(own.trials[0].spec.dataset().path(), "/data/fm");

  const Grid mixed = MustParse(WithName("grid:\n  dataset.name: [circle, fashion_mnist]\n"));
  ASSERT_EQ(mixed.trials.size(), 2u);
  EXPECT_EQ(mixed.trials[0].spec.dataset().path(), "");
  EXPECT_EQ(mixed.trials[1].spec.dataset().path(), "/usr/share/datasets/fashion-mnist");
  EXPECT_EQ(mixed.trials[1].values[0], "fashion_mnist");
}

TEST(GridFile, SeedsCountOrList) {
  const Grid list = MustParse(WithName("seeds: [0, 3, 9]\ngrid:\n  depth: [1, 2]\n"));
  EXPECT_EQ(list.seeds, (std::vector<uint64_t>{0, 3, 9}));
  ASSERT_EQ(list.trials.size(), 6u);
  const std::vector<uint64_t> expected = {0, 0, 3, 3, 9, 9};
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(list.trials[i].spec.seed(), expected[i]) << i;

  const Grid count = MustParse(WithName("seeds: 3\n"));
  EXPECT_EQ(count.seeds, (std::vector<uint64_t>{0, 1, 2}));
  EXPECT_EQ(count.trials.size(), 3u);
}

TEST(GridFile, KeysAreDistinctAndStable) {
  const Grid a = MustParse(kDesignExample);
  const Grid b = MustParse(kDesignExample);
  ASSERT_EQ(a.trials.size(), 1680u);
  ASSERT_EQ(b.trials.size(), 1680u);
  std::set<std::string> keys;
  for (size_t i = 0; i < a.trials.size(); ++i) {
    const std::string& key = a.trials[i].key;
    ASSERT_EQ(key.size(), 64u);
    ASSERT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos) << key;
    ASSERT_EQ(key, TrialKey(a.trials[i].spec));
    ASSERT_EQ(key, b.trials[i].key) << i;
    keys.insert(key);
  }
  EXPECT_EQ(keys.size(), 1680u);
}

TEST(GridFile, AnyFieldChangeChangesTheKey) {
  const Grid grid = MustParse(kDesignExample);
  ASSERT_FALSE(grid.trials.empty());
  const v1::TrialSpec& base = grid.trials[0].spec;
  const std::string key = TrialKey(base);
  v1::TrialSpec copy = base;
  EXPECT_EQ(TrialKey(copy), key);

  v1::TrialSpec lr = base;
  lr.mutable_train()->set_lr(0.02);
  EXPECT_NE(TrialKey(lr), key);
  v1::TrialSpec seed = base;
  seed.set_seed(99);
  EXPECT_NE(TrialKey(seed), key);
  v1::TrialSpec param = grid.trials[48].spec;  // leaky_relu
  const std::string param_key = TrialKey(param);
  param.mutable_activation()->set_params(0, 0.02);
  EXPECT_NE(TrialKey(param), param_key);
  v1::TrialSpec path = base;
  path.mutable_dataset()->set_path("x");
  EXPECT_NE(TrialKey(path), key);

  // The same lr written in the file gives the same key; another lr another key.
  const std::string changed = [] {
    std::string text = kDesignExample;
    text.replace(text.find("[0.01, 0.03]"), 12, "[0.01, 0.05]");
    return text;
  }();
  const Grid other = MustParse(changed);
  ASSERT_EQ(other.trials.size(), 1680u);
  EXPECT_EQ(other.trials[0].key, grid.trials[0].key);
  EXPECT_NE(other.trials[1].key, grid.trials[1].key);
}

TEST(GridFile, TheKeysOfAFileDatasetFollowItsContent) {
  const std::string dir = ::testing::TempDir() + "/grid_digest_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  const std::string csv = dir + "/points.csv";
  const std::string grid_path = dir + "/grid.yaml";
  std::ofstream(grid_path) << "name: digest\ndataset: {name: csv, path: \"" << csv
                           << "\"}\nseeds: 2\ngrid: {depth: [1, 2]}\n";
  std::ofstream(csv) << "x,label\n1,0\n2,1\n3,0\n4,1\n";
  auto first = ParseGridFile(grid_path);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->trials.size(), 4u);
  for (const GridTrial& t : first->trials) {
    EXPECT_EQ(t.spec.dataset().digest().size(), 64u);
    EXPECT_EQ(t.key, TrialKey(t.spec));
  }
  auto same = ParseGridFile(grid_path);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->trials[0].key, first->trials[0].key);
  std::ofstream(csv) << "x,label\n1,0\n2,1\n3,0\n4,0\n";  // the same path, other data
  auto changed = ParseGridFile(grid_path);
  ASSERT_TRUE(changed.ok());
  for (size_t i = 0; i < changed->trials.size(); ++i) EXPECT_NE(changed->trials[i].key, first->trials[i].key);
  std::filesystem::remove(csv);
  auto missing = ParseGridFile(grid_path);
  ASSERT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_NE(missing.status().message().find("dataset.path: "), std::string::npos) << missing.status();
  std::filesystem::remove_all(dir);
}

TEST(GridFile, SpecKeyIsSha256OfTheSerializedSpec) {
  // The keys databases gave their trials before engine versions: SpecKey must keep
  // them, or earlier results could not be found.
  EXPECT_EQ(spec::SpecKey(v1::TrialSpec()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  v1::TrialSpec depth;
  depth.set_depth(3);  // serializes to 0x38 0x03
  EXPECT_EQ(spec::SpecKey(depth), "d832bbe402ce21844f9c0174b7f1f8c1d2d8de3d792062ab4cde7ef89b5fc1ab");
  EXPECT_NE(TrialKey(depth), spec::SpecKey(depth));
}

TEST(GridFile, GridWinsOverScalarAndEmptyGridIsOneCell) {
  const Grid grid = MustParse(WithName("model:\n  depth: 3\n  width: 16\ngrid:\n  model.depth: [1, 4]\n"));
  EXPECT_EQ(grid.factors, std::vector<std::string>{"depth"});
  ASSERT_EQ(grid.trials.size(), 2u);
  EXPECT_EQ(grid.trials[0].spec.depth(), 1);
  EXPECT_EQ(grid.trials[1].spec.depth(), 4);
  EXPECT_EQ(grid.trials[1].spec.model().width(), 16);

  const Grid empty = MustParse(WithName("grid: {}\n"));
  EXPECT_EQ(empty.cells, 1);
  EXPECT_EQ(empty.trials.size(), 1u);
}

TEST(GridFile, ScalarFieldsByDottedPath) {
  const Grid grid = MustParse(WithName(R"yaml(
dataset:
  name: csv
  path: data.csv
  label_column: 3
grid:
  train.optimizer: [sgd, adam]
  model.width: [4, 16]
  dataset.noise: [0, 0.25]
  dataset.scaling: [none]
)yaml"));
  EXPECT_EQ(grid.factors,
            (std::vector<std::string>{"train.optimizer", "model.width", "dataset.noise", "dataset.scaling"}));
  ASSERT_EQ(grid.trials.size(), 8u);
  EXPECT_EQ(grid.trials[0].spec.dataset().label_column(), "3");
  EXPECT_EQ(grid.trials[7].spec.train().optimizer(), v1::OPTIMIZER_ADAM);
  EXPECT_EQ(grid.trials[7].spec.model().width(), 16);
  EXPECT_EQ(grid.trials[7].spec.dataset().noise(), 0.25);
  EXPECT_EQ(grid.trials[7].spec.dataset().scaling(), v1::SCALING_NONE);
  EXPECT_EQ(grid.trials[7].values, (std::vector<std::string>{"adam", "16", "0.25", "none"}));
}

TEST(GridFile, UnknownActivationSuggestsNearest) {
  EXPECT_EQ(OneError(WithName("grid:\n  activation: [relu, tanh, relux]\n")),
            "grid.activation[2]: unknown activation \"relux\"; did you mean \"relu\"?");
  EXPECT_TRUE(StartsWith(OneError(WithName("model:\n  activation: swishy_thing\n")),
                         "model.activation: unknown activation \"swishy_thing\"; valid: linear, sigmoid, "));
}

TEST(GridFile, UnknownKeysSuggestNearest) {
  EXPECT_EQ(OneError(WithName("train:\n  epocs: 10\n")), "train.epocs: unknown key \"epocs\"; did you mean \"epochs\"?");
  EXPECT_EQ(OneError(WithName("griid:\n  depth: [1]\n")), "griid: unknown key \"griid\"; did you mean \"grid\"?");
  EXPECT_EQ(OneError(WithName("train:\n  width: 4\n")), "train.width: unknown key \"width\"; did you mean \"model.width\"?");
  EXPECT_EQ(OneError(WithName("zzzzzz: 1\n")),
            "zzzzzz: unknown key \"zzzzzz\"; valid: name, dataset, model, train, seeds, grid, activations");
  EXPECT_EQ(OneError(WithName("grid:\n  train.epocs: [1]\n")),
            "grid.train.epocs: unknown factor \"train.epocs\"; did you mean \"train.epochs\"?");
  EXPECT_EQ(OneError(WithName("grid:\n  lr: [0.1]\n")), "grid.lr: unknown factor \"lr\"; did you mean \"train.lr\"?");
  EXPECT_EQ(OneError(WithName("grid:\n  activations: [relu]\n")),
            "grid.activations: unknown factor \"activations\"; did you mean \"activation\"?");
}

TEST(GridFile, UnknownInitSuggestsNearest) {
  EXPECT_EQ(OneError(WithName("grid:\n  init: [xavier_uniform, he_norml]\n")),
            "grid.init[1]: unknown init \"he_norml\"; did you mean \"he_normal\"?");
  EXPECT_EQ(OneError(WithName("model:\n  init: xavier\n")),
            "model.init: unknown init \"xavier\"; did you mean \"xavier_uniform\"?");
  EXPECT_EQ(OneError(WithName("model:\n  activation: ReLU\n")),
            "model.activation: unknown activation \"ReLU\"; did you mean \"relu\"?");
  EXPECT_EQ(OneError(WithName("dataset:\n  name: circel\n")),
            "dataset.name: unknown dataset \"circel\"; did you mean \"circle\"?");
  EXPECT_EQ(OneError(WithName("train:\n  optimizer: adamw\n")),
            "train.optimizer: unknown optimizer \"adamw\"; did you mean \"adam\"?");
}

TEST(GridFile, ParameterErrors) {
  EXPECT_EQ(OneError(WithName("grid:\n  activation: [leaky_relu(alhpa=0.1)]\n")),
            "grid.activation[0]: leaky_relu has no parameter \"alhpa\"; did you mean \"alpha\"?");
  EXPECT_EQ(OneError(WithName("grid:\n  activation: [\"leaky_relu(0.1, 0.2)\"]\n")),
            "grid.activation[0]: leaky_relu takes 1 parameter (alpha), got 2");
  EXPECT_EQ(OneError(WithName("grid:\n  activation: [relu(1)]\n")),
            "grid.activation[0]: relu takes no parameters, got 1");
  EXPECT_EQ(OneError(WithName("grid:\n  activation: [elu(alpha=big)]\n")),
            "grid.activation[0]: elu parameter alpha: expected a finite number, got \"big\"");
  EXPECT_EQ(OneError(WithName("grid:\n  activation: [\"reflu(left=0.1, 0.2)\"]\n")),
            "grid.activation[0]: reflu: positional parameter after named ones");
  EXPECT_EQ(OneError(WithName("grid:\n  activation: [\"reflu(0.1, left=0.2)\"]\n")),
            "grid.activation[0]: reflu: parameter left given twice");
  EXPECT_EQ(OneError(WithName("grid:\n  init: [\"uniform(0.1, a=0.2)\"]\n")),
            "grid.init[0]: uniform takes 1 parameter (a), got 2");
  EXPECT_EQ(OneError(WithName("grid:\n  init: [orthogonal(gan=2)]\n")),
            "grid.init[0]: orthogonal has no parameter \"gan\"; did you mean \"gain\"?");
  // An unquoted comma inside a flow list splits the value; say so.
  const std::vector<std::string> lines = ErrorLines(WithName("grid:\n  activation: [reflu(0.1, 1.0)]\n"));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(StartsWith(lines[0], "grid.activation[0]: unbalanced parentheses in \"reflu(0.1\"")) << lines[0];
  EXPECT_TRUE(StartsWith(lines[1], "grid.activation[1]: unbalanced parentheses in \"1.0)\"")) << lines[1];
}

TEST(GridFile, TypeErrorsNameThePath) {
  EXPECT_EQ(OneError(WithName("model:\n  depth: 1.5\n")), "model.depth: expected an integer, got 1.5");
  EXPECT_EQ(OneError(WithName("grid:\n  depth: [1, 1.5]\n")), "grid.depth[1]: expected an integer, got 1.5");
  EXPECT_EQ(OneError(WithName("train:\n  lr: fast\n")), "train.lr: expected a number, got \"fast\"");
  EXPECT_EQ(OneError(WithName("grid:\n  train.lr: [fast]\n")), "grid.train.lr[0]: expected a number, got \"fast\"");
  EXPECT_EQ(OneError(WithName("train:\n  lr: .inf\n")), "train.lr: expected a finite number, got .inf");
  EXPECT_EQ(OneError(WithName("dataset:\n  samples: [1, 2]\n")), "dataset.samples: expected an integer, got a list");
  EXPECT_EQ(OneError(WithName("dataset:\n  seed: -1\n")), "dataset.seed: expected an integer >= 0, got -1");
  EXPECT_EQ(OneError(WithName("model:\n  width: 1e10\n")), "model.width: expected a 32-bit integer, got 1e10");
  EXPECT_EQ(OneError(WithName("model: 3\n")), "model: expected a map, got 3");
  EXPECT_EQ(OneError(WithName("grid:\n  depth: 2\n")), "grid.depth: expected a non-empty list of values, got 2");
  EXPECT_EQ(OneError(WithName("grid:\n  depth: []\n")), "grid.depth: expected a non-empty list of values, got an empty list");
}

TEST(GridFile, NameIsRequiredAndChecked) {
  EXPECT_EQ(OneError("name: Bad Name\n"), "name: expected 1 to 64 characters of [a-z0-9_-], got \"Bad Name\"");
  EXPECT_EQ(OneError("name: " + std::string(65, 'a') + "\n"),
            "name: expected 1 to 64 characters of [a-z0-9_-], got \"" + std::string(65, 'a') + "\"");
  EXPECT_EQ(OneError("seeds: 2\n"), "name: missing (required: 1 to 64 characters of [a-z0-9_-])");
  EXPECT_EQ(OneError(""), "name: missing (required: 1 to 64 characters of [a-z0-9_-])");
  EXPECT_EQ(OneError("- a\n- b\n"), "file: expected a map of top-level keys, got a list");
  MustParse("name: ok_name-2\n");
}

TEST(GridFile, DuplicatesAreErrors) {
  EXPECT_EQ(OneError(WithName("grid:\n  depth: [1, 2, 1]\n")), "grid.depth[2]: duplicate value 1 (same as grid.depth[0])");
  EXPECT_EQ(OneError(WithName("grid:\n  activation: [leaky_relu, leaky_relu(alpha=0.01)]\n")),
            "grid.activation[1]: duplicate value leaky_relu (same as grid.activation[0])");
  EXPECT_EQ(OneError(WithName("grid:\n  depth: [1]\n  model.depth: [2]\n")),
            "grid.model.depth: factor depth is listed twice (also as grid.depth)");
  EXPECT_EQ(OneError(WithName("train:\n  lr: 0.1\n  lr: 0.2\n")), "train.lr: duplicate key (first on line 3)");
  EXPECT_EQ(OneError(WithName("seeds: [1, 2, 1]\n")), "seeds[2]: duplicate seed 1 (same as seeds[0])");
}

TEST(GridFile, SeedErrors) {
  EXPECT_EQ(OneError(WithName("seeds: [0, -1]\n")), "seeds[1]: expected an integer >= 0, got -1");
  EXPECT_EQ(OneError(WithName("seeds: 0\n")), "seeds: expected a count in 1..200000 or a list of seeds, got 0");
  EXPECT_EQ(OneError(WithName("seeds: []\n")), "seeds: expected a count >= 1 or a non-empty list of seeds");
}

TEST(GridFile, MultipleErrorsAreReportedTogether) {
  const std::vector<std::string> lines = ErrorLines(R"yaml(
name: Bad Name
train:
  epocs: 10
  lr: fast
model:
  depth: 1.5
grid:
  activation: [relu, relux]
  init: [he_norml]
)yaml");
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "name: expected 1 to 64 characters of [a-z0-9_-], got \"Bad Name\"",
                       "train.epocs: unknown key \"epocs\"; did you mean \"epochs\"?",
                       "train.lr: expected a number, got \"fast\"",
                       "model.depth: expected an integer, got 1.5",
                       "grid.activation[1]: unknown activation \"relux\"; did you mean \"relu\"?",
                       "grid.init[0]: unknown init \"he_norml\"; did you mean \"he_normal\"?",
                   }));
}

TEST(GridFile, ExpandedSpecsAreValidated) {
  EXPECT_EQ(OneError(WithName("grid:\n  activation: [relu]\n  depth: [2, 300]\n")),
            "grid cell activation=relu, depth=300: model.depth: must be in 1..256, got 300");
  EXPECT_EQ(OneError(WithName("grid:\n  depth: [2, 300]\n  bias: [0, 1]\n")),
            "grid cell depth=300, bias=0: model.depth: must be in 1..256, got 300 (and 1 more cells)");
  // A bad scalar fails every cell alike: reported once, without a cell.
  EXPECT_EQ(OneError(WithName("train:\n  lr: -1\ngrid:\n  depth: [1, 2]\n")),
            "train.lr: must be a finite number > 0, got -1");
  EXPECT_EQ(OneError(WithName("dataset:\n  name: csv\n")), "dataset.path: must be set for dataset csv");
  EXPECT_EQ(OneError(WithName("grid:\n  activation: [maxout(k=1), maxout]\n")),
            "grid cell activation=maxout(k=1): model.activation: maxout k must be an integer in 2..16, got 1");
}

TEST(GridFile, TooManyTrialsIsAnError) {
  const std::string text = WithName("seeds: 200000\ngrid:\n  depth: [1, 2]\n  bias: [0, 0.5, 1]\n");
  EXPECT_EQ(OneError(text), "grid: 6 cells x 200000 seeds = 1200000 trials; at most 200000 are allowed");
}

TEST(GridFile, InvalidYamlGivesTheLine) {
  const std::string line = OneError("name: t\ngrid:\n  depth: [1, 2\n  bias: [0]\n");
  EXPECT_TRUE(StartsWith(line, "line 4, column ")) << line;
  const std::string indent = OneError("name: t\nmodel:\n  width: 8\n   depth: 2\n");
  EXPECT_TRUE(StartsWith(indent, "line 4, column ")) << indent;
}

TEST(GridFile, MissingFileIsNotFound) {
  const std::string path = "/nonexistent/actgrid/grid.yaml";
  const absl::StatusOr<Grid> grid = ParseGridFile(path);
  ASSERT_FALSE(grid.ok());
  EXPECT_EQ(grid.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(grid.status().message().find(path), absl::string_view::npos) << grid.status();
}

TEST(GridFile, ParsesAFile) {
  char path[] = "/tmp/actgrid_grid_test_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << kDesignExample;
  const absl::StatusOr<Grid> grid = ParseGridFile(path);
  std::remove(path);
  ASSERT_TRUE(grid.ok()) << grid.status();
  EXPECT_EQ(grid->trials.size(), 1680u);
  EXPECT_EQ(grid->trials[7].key, MustParse(kDesignExample).trials[7].key);
}

}  // namespace
}  // namespace actgrid::grid

namespace actgrid::grid {
namespace {

TEST(GridFile, HiddenLayerSizesNameTheDepth) {
  const Grid grid = MustParse(WithName("grid:\n  hidden: [10, 100, 10x10, [100, 10]]\n"));
  ASSERT_EQ(grid.factors, std::vector<std::string>{"hidden"});
  ASSERT_EQ(grid.cells, 4);
  const std::vector<std::string> labels = {"10", "100", "10x10", "100x10"};
  const std::vector<std::vector<int>> sizes = {{10}, {100}, {10, 10}, {100, 10}};
  for (int c = 0; c < 4; ++c) {
    const v1::TrialSpec& spec = grid.trials[c].spec;
    EXPECT_EQ(grid.trials[c].values[0], labels[c]);
    EXPECT_EQ(std::vector<int>(spec.model().hidden().begin(), spec.model().hidden().end()), sizes[c]);
    EXPECT_EQ(spec.depth(), int(sizes[c].size()));
    EXPECT_EQ(spec.model().width(), 0);
  }
  // The same network written either way is the same trial.
  EXPECT_EQ(MustParse(WithName("model:\n  hidden: 100x10\n")).trials[0].key,
            MustParse(WithName("model:\n  hidden: [100, 10]\n")).trials[0].key);
  EXPECT_NE(grid.trials[2].key, MustParse(WithName("model:\n  width: 10\n  depth: 2\n")).trials[0].key);
}

TEST(GridFile, HiddenLayerSizesRefuseAContradictingDepthOrWidth) {
  EXPECT_TRUE(StartsWith(OneError(WithName("model:\n  hidden: 10x0\n")), "model.hidden: expected hidden layer sizes"));
  EXPECT_TRUE(StartsWith(OneError(WithName("model:\n  hidden: abc\n")), "model.hidden: expected hidden layer sizes"));
  const std::string depth = OneError(WithName("model:\n  hidden: 10x10\ngrid:\n  depth: [3]\n"));
  EXPECT_NE(depth.find("model.hidden gives 2 hidden layers"), std::string::npos) << depth;
  const std::string width = OneError(WithName("model:\n  hidden: 10x10\ngrid:\n  model.width: [4]\n"));
  EXPECT_NE(width.find("leave model.width out"), std::string::npos) << width;
}

}  // namespace
}  // namespace actgrid::grid
