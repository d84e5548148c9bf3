// Tests of the grid file's `activations:` section: formulas named like built-in
// activations in model.activation and grid.activation, their specs, labels and keys,
// and the exact path of every kind of error in a definition.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/grid/grid_file.h"
#include "tests/grid/grid_test_util.h"
#include "common/spec/formula.h"
#include "common/spec/names.h"
#include "common/spec/trial_key.h"
#include "common/spec/validate.h"
#include "gtest/gtest.h"

namespace actgrid::grid {
namespace {

// The example of the feature: three formulas beside a built-in.
constexpr char kExample[] = R"yaml(
name: formulas
activations:
  bent:   {f: "max(x, 0) + a * min(x, 0)^2", params: {a: 0.1}}
  swishb: {f: "x * sigmoid(b * x)", params: {b: 1.0}, learnable: [b]}
  reflu2: {f: "where(x < p, h + l*(x - p), h + r*(x - p))",
           params: {l: 0.1, r: 1.0, p: 0.0, h: 0.0}, learnable: [l, r, p, h]}
grid:
  activation: [relu, bent, bent(a=0.5), swishb, reflu2]
)yaml";

using test_util::ErrorLines;
using test_util::MustParse;
using test_util::OneError;

std::string WithName(const std::string& body) { return "name: t\n" + body; }

// A file defining one formula `bent` (entry given as YAML flow text) used by the grid.
std::string Bent(const std::string& entry) {
  return WithName("activations:\n  bent: " + entry + "\ngrid:\n  activation: [relu, bent]\n");
}

std::vector<std::string> Strings(const google::protobuf::RepeatedPtrField<std::string>& field) {
  return {field.begin(), field.end()};
}
std::vector<double> Numbers(const google::protobuf::RepeatedField<double>& field) {
  return {field.begin(), field.end()};
}

TEST(FormulaGrid, TheExampleExpandsToFiveActivations) {
  const Grid grid = MustParse(kExample);
  ASSERT_EQ(grid.factors, std::vector<std::string>{"activation"});
  ASSERT_EQ(grid.cells, 5);
  ASSERT_EQ(grid.trials.size(), 5u);
  std::vector<std::string> labels;
  std::set<std::string> keys;
  for (const GridTrial& t : grid.trials) {
    ASSERT_EQ(t.values.size(), 1u);
    labels.push_back(t.values[0]);
    keys.insert(t.key);
    EXPECT_EQ(t.key, spec::TrialKey(t.spec));
    EXPECT_TRUE(spec::ValidateTrialSpec(t.spec).ok()) << spec::ValidateTrialSpec(t.spec);
    EXPECT_EQ(spec::ActivationLabel(t.spec.activation()), t.values[0]);
  }
  EXPECT_EQ(labels, (std::vector<std::string>{"relu", "bent", "bent(a=0.5)", "swishb", "reflu2"}));
  EXPECT_EQ(keys.size(), 5u);

  EXPECT_EQ(grid.trials[0].spec.activation().kind(), v1::ACTIVATION_KIND_RELU);
  EXPECT_FALSE(grid.trials[0].spec.activation().has_formula());

  const v1::ActivationSpec& bent = grid.trials[1].spec.activation();
  EXPECT_EQ(bent.kind(), v1::ACTIVATION_KIND_FORMULA);
  EXPECT_EQ(bent.formula().name(), "bent");
  EXPECT_EQ(bent.formula().text(), "max(x, 0) + a * min(x, 0)^2");
  EXPECT_EQ(Strings(bent.formula().params()), std::vector<std::string>{"a"});
  EXPECT_EQ(Numbers(bent.formula().defaults()), std::vector<double>{0.1});
  EXPECT_EQ(Numbers(bent.params()), std::vector<double>{0.1});
  EXPECT_TRUE(bent.formula().learnable().empty());

  // bent(a=0.5): the same definition at another value.
  const v1::ActivationSpec& bent05 = grid.trials[2].spec.activation();
  EXPECT_EQ(bent05.kind(), v1::ACTIVATION_KIND_FORMULA);
  EXPECT_EQ(bent05.formula().SerializeAsString(), bent.formula().SerializeAsString());
  EXPECT_EQ(Numbers(bent05.params()), std::vector<double>{0.5});

  const v1::ActivationSpec& swishb = grid.trials[3].spec.activation();
  EXPECT_EQ(swishb.formula().name(), "swishb");
  EXPECT_EQ(swishb.formula().text(), "x * sigmoid(b * x)");
  EXPECT_EQ(Strings(swishb.formula().learnable()), std::vector<std::string>{"b"});
  EXPECT_EQ(Numbers(swishb.params()), std::vector<double>{1.0});

  const v1::ActivationSpec& reflu2 = grid.trials[4].spec.activation();
  EXPECT_EQ(reflu2.formula().name(), "reflu2");
  EXPECT_EQ(Strings(reflu2.formula().params()), (std::vector<std::string>{"l", "r", "p", "h"}));
  EXPECT_EQ(Numbers(reflu2.formula().defaults()), (std::vector<double>{0.1, 1.0, 0.0, 0.0}));
  EXPECT_EQ(Strings(reflu2.formula().learnable()), (std::vector<std::string>{"l", "r", "p", "h"}));
  // The text is stored canonical, so that spellings of one formula give one trial.
  absl::StatusOr<spec::Formula> parsed = spec::Formula::Parse(reflu2.formula().text(), {"l", "r", "p", "h"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->Canonical(), reflu2.formula().text());

  // The request the CLI submits carries the labels and the specs.
  const v1::SubmitGridRequest request = ToSubmitRequest(grid, true);
  ASSERT_EQ(request.trials_size(), 5);
  EXPECT_EQ(request.trials(2).values(0), "bent(a=0.5)");
  EXPECT_EQ(request.trials(2).spec().activation().formula().name(), "bent");
}

TEST(FormulaGrid, ParameterOverridesSetTheValues) {
  const Grid grid = MustParse(WithName(R"yaml(
activations:
  reflu2: {f: "where(x < p, h + l*(x - p), h + r*(x - p))", params: {l: 0.1, r: 1.0, p: 0.0, h: 0.0}}
grid:
  activation: ["reflu2(0.2, 0.9)", "reflu2(h=1)", "reflu2(l=0.1, r=1)", "reflu2(0.3, p=-1)"]
)yaml"));
  ASSERT_EQ(grid.trials.size(), 4u);
  EXPECT_EQ(Numbers(grid.trials[0].spec.activation().params()), (std::vector<double>{0.2, 0.9, 0, 0}));
  EXPECT_EQ(grid.trials[0].values[0], "reflu2(l=0.2,r=0.9)");
  EXPECT_EQ(Numbers(grid.trials[1].spec.activation().params()), (std::vector<double>{0.1, 1, 0, 1}));
  EXPECT_EQ(grid.trials[1].values[0], "reflu2(h=1)");
  EXPECT_EQ(grid.trials[2].values[0], "reflu2");  // the defaults, written out
  EXPECT_EQ(Numbers(grid.trials[3].spec.activation().params()), (std::vector<double>{0.3, 1, -1, 0}));
  EXPECT_EQ(grid.trials[3].values[0], "reflu2(l=0.3,p=-1)");
  // Every trial carries the definition's defaults, whatever its values.
  for (const GridTrial& t : grid.trials)
    EXPECT_EQ(Numbers(t.spec.activation().formula().defaults()), (std::vector<double>{0.1, 1, 0, 0}));
}

TEST(FormulaGrid, LearnableListsAreKeptInParameterOrder) {
  const Grid grid = MustParse(WithName(R"yaml(
activations:
  two: {f: "a * x + b * tanh(c * x)", params: {a: 1, b: 0.5, c: 2}, learnable: [c, a]}
  none: {f: "a * x", params: {a: 1}, learnable: []}
  plain: {f: "x^3"}
grid:
  activation: [two, none, plain]
)yaml"));
  ASSERT_EQ(grid.trials.size(), 3u);
  EXPECT_EQ(Strings(grid.trials[0].spec.activation().formula().learnable()), (std::vector<std::string>{"a", "c"}));
  EXPECT_TRUE(grid.trials[1].spec.activation().formula().learnable().empty());
  EXPECT_TRUE(grid.trials[2].spec.activation().params().empty());
  EXPECT_EQ(grid.trials[2].values[0], "plain");
  // The order in which learnable is written does not change the trial.
  const Grid same = MustParse(WithName(R"yaml(
activations:
  two: {f: "a*x + b*tanh(c*x)", params: {a: 1, b: 0.5, c: 2}, learnable: [a, c]}
model:
  activation: two
)yaml"));
  ASSERT_EQ(same.trials.size(), 1u);
  EXPECT_EQ(same.trials[0].key, grid.trials[0].key);
}

TEST(FormulaGrid, TheSectionIsReadFirstWhereverItStands) {
  const std::string activations =
      "activations:\n  bent: {f: \"max(x, 0) + a * min(x, 0)^2\", params: {a: 0.1}}\n";
  const std::string model = "model:\n  activation: bent(a=0.25)\n";
  const std::string grid = "grid:\n  activation: [bent, relu]\n  depth: [1, 2]\n";
  std::set<std::string> keys;
  for (const std::string& text : {WithName(activations + model + grid), WithName(model + grid + activations),
                                  WithName(model + activations + grid), activations + grid + "name: t\n"}) {
    const Grid g = MustParse(text);
    ASSERT_EQ(g.trials.size(), 4u) << text;
    EXPECT_EQ(g.trials[0].values, (std::vector<std::string>{"bent", "1"}));
    EXPECT_EQ(g.trials[0].spec.activation().formula().name(), "bent");
    for (const GridTrial& t : g.trials) keys.insert(t.key);
  }
  EXPECT_EQ(keys.size(), 4u);  // the same trials, whatever the order
  // model.activation alone.
  const Grid single = MustParse(WithName(model + activations));
  ASSERT_EQ(single.trials.size(), 1u);
  EXPECT_EQ(Numbers(single.trials[0].spec.activation().params()), std::vector<double>{0.25});
  EXPECT_EQ(spec::ActivationLabel(single.trials[0].spec.activation()), "bent(a=0.25)");
}

TEST(FormulaGrid, ErrorsInTheFormulaNameItsPathAndPosition) {
  EXPECT_EQ(OneError(Bent("{f: \"max(x, 0) + a*sigmod(x)\", params: {a: 0.1}}")),
            "activations.bent.f: 1:15: unknown function \"sigmod\"; did you mean \"sigmoid\"?");
  EXPECT_EQ(OneError(Bent("{f: \"max(x, 0) + b * x\", params: {a: 0.1}}")),
            "activations.bent.f: 1:13: unknown name \"b\"; a formula knows x, pi, e and its parameters a");
  EXPECT_EQ(OneError(Bent("{f: \"max(x, 0\"}")), "activations.bent.f: 1:9: expected \",\" or \")\", got end of formula");
  EXPECT_EQ(OneError(Bent("{f: [x]}")),
            "activations.bent.f: expected a formula in x (text such as \"max(x, 0)\"), got a list");
  EXPECT_EQ(OneError(Bent("{params: {a: 1}}")),
            "activations.bent.f: missing (required: the formula in x and the parameters, e.g. \"max(x, 0)\")");
}

TEST(FormulaGrid, ErrorsInParametersAndLearnableNameTheirPath) {
  EXPECT_EQ(OneError(Bent("{f: \"max(x, 0) + a * min(x, 0)^2\", params: {a: 0.1}, learnable: [c]}")),
            "activations.bent.learnable: \"c\" is not a parameter; its parameters: a");
  EXPECT_EQ(OneError(Bent("{f: \"max(x, 0) + alpha * min(x, 0)\", params: {alpha: 0.1}, learnable: [alpah]}")),
            "activations.bent.learnable: \"alpah\" is not a parameter; did you mean \"alpha\"?");
  EXPECT_EQ(OneError(Bent("{f: \"max(x, 0) + a * min(x, 0)\", params: {a: 0.1}, learnable: [a, a]}")),
            "activations.bent.learnable: \"a\" given twice");
  EXPECT_EQ(OneError(Bent("{f: \"max(x, 0) + a * min(x, 0)\", params: {a: 0.1}, learnable: a}")),
            "activations.bent.learnable: expected a list of parameter names ([a, b]), got \"a\"");
  EXPECT_EQ(OneError(Bent("{f: \"max(x, 0) + a * min(x, 0)\", params: {a: .inf}}")),
            "activations.bent.params.a: expected a finite number, got .inf");
  EXPECT_EQ(OneError(Bent("{f: \"max(x, 0) + a * min(x, 0)\", params: {a: big}}")),
            "activations.bent.params.a: expected a number, got \"big\"");
  EXPECT_EQ(OneError(Bent("{f: \"max(x, 0) + a * min(x, 0)\", params: {a: 0.1, b: 2}}")),
            "activations.bent.params: the formula does not use \"b\"");
  EXPECT_EQ(OneError(Bent("{f: \"max(x, 0) + pi * min(x, 0)\", params: {pi: 3}}")),
            "activations.bent.params: \"pi\" is taken by the language (x, pi, e and the functions)");
  EXPECT_EQ(OneError(Bent("{f: \"max(x, 0)\", params: [a]}")),
            "activations.bent.params: expected a map of parameter names to numbers ({a: 0.1}), got a list");
  EXPECT_EQ(OneError(Bent("{f: \"max(x, 0) + a * x\", params: {a: 1, a: 2}}")),
            "activations.bent.params.a: duplicate key (first on line 3)");
}

TEST(FormulaGrid, UnknownKeysOfAnEntrySuggestTheNearest) {
  EXPECT_EQ(OneError(Bent("{f: \"max(x, 0) + a * x\", param: {a: 1}}")),
            "activations.bent.param: unknown key \"param\"; did you mean \"params\"?");
  EXPECT_EQ(OneError(Bent("{f: \"max(x, 0)\", learnabel: []}")),
            "activations.bent.learnabel: unknown key \"learnabel\"; did you mean \"learnable\"?");
  EXPECT_EQ(OneError(Bent("{f: \"max(x, 0)\", zzzzzz: 1}")),
            "activations.bent.zzzzzz: unknown key \"zzzzzz\"; valid: f, params, learnable");
  EXPECT_EQ(OneError(Bent("\"max(x, 0)\"")),
            "activations.bent: expected a map {f: formula, params: {name: value, ...}, learnable: [name, ...]}, "
            "got \"max(x, 0)\"");
  EXPECT_EQ(OneError(WithName("activations: [bent]\n")), "activations: expected a map, got a list");
  EXPECT_EQ(OneError(WithName("activation:\n  bent: {f: x}\n")),
            "activation: unknown key \"activation\"; did you mean \"activations\"?");
}

TEST(FormulaGrid, NamesMayNotClashWithBuiltInsOrEachOther) {
  EXPECT_EQ(OneError(WithName("activations:\n  relu: {f: \"max(x, 0)\"}\ngrid:\n  activation: [relu]\n")),
            "activations.relu: name \"relu\" is taken by a built-in; choose another");
  EXPECT_EQ(OneError(WithName("activations:\n  exp: {f: \"x\"}\n")),
            "activations.exp: name \"exp\" is taken by a built-in; choose another");
  EXPECT_EQ(OneError(WithName("activations:\n  x: {f: \"x\"}\n")),
            "activations.x: name \"x\" is taken by a built-in; choose another");
  EXPECT_EQ(OneError(WithName("activations:\n  Bent: {f: \"x\"}\n")),
            "activations.Bent: name \"Bent\": expected [a-z_][a-z0-9_]* of at most 64 bytes");
  EXPECT_EQ(OneError(WithName("activations:\n  bent: {f: \"x\"}\n  bent: {f: \"2 * x\"}\ngrid:\n  activation: [bent]\n")),
            "activations.bent: duplicate key (first on line 3)");
  EXPECT_EQ(OneError(WithName("activations:\n  bent: {f: \"x\"}\nactivations:\n  bent2: {f: \"x\"}\n")),
            "activations: duplicate key (first on line 2)");
}

TEST(FormulaGrid, FormulaValuesAreCheckedLikeBuiltIns) {
  const std::string defs = "activations:\n  bent: {f: \"max(x, 0) + a * min(x, 0)^2\", params: {a: 0.1}}\n";
  EXPECT_EQ(OneError(WithName(defs + "grid:\n  activation: [bnet]\n")),
            "grid.activation[0]: unknown activation \"bnet\"; did you mean \"bent\"?");
  EXPECT_EQ(OneError(WithName(defs + "grid:\n  activation: [bent(b=1)]\n")),
            "grid.activation[0]: bent has no parameter \"b\"; its parameters: a");
  EXPECT_EQ(OneError(WithName(defs + "grid:\n  activation: [bent(a=big)]\n")),
            "grid.activation[0]: bent parameter a: expected a finite number, got \"big\"");
  EXPECT_EQ(OneError(WithName(defs + "grid:\n  activation: [bent, bent(a=0.1)]\n")),
            "grid.activation[1]: duplicate value bent (same as grid.activation[0])");
  EXPECT_EQ(OneError(WithName(defs + "model:\n  activation: \"bent(1, 2)\"\n")),
            "model.activation: bent takes 1 parameter (a), got 2");
  // Without the section, a formula's name is unknown.
  EXPECT_EQ(OneError(WithName("grid:\n  activation: [bent]\n")).rfind("grid.activation[0]: unknown activation \"bent\"", 0),
            0u);
}

TEST(FormulaGrid, AFailedDefinitionIsReportedOnceNotWhereItIsUsed) {
  const std::vector<std::string> lines = ErrorLines(WithName(R"yaml(
model:
  activation: bent(a=0.2)
grid:
  activation: [relu, bent, "bent(a=0.5)", swishb]
activations:
  bent: {f: "max(x, 0) + a * sigmod(x)", params: {a: 0.1}}
  swishb: {f: "x * sigmoid(b * x)", params: {b: 1.0}, learnable: [c]}
)yaml"));
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "activations.bent.f: 1:17: unknown function \"sigmod\"; did you mean \"sigmoid\"?",
                       "activations.swishb.learnable: \"c\" is not a parameter; its parameters: b",
                   }));
}

TEST(FormulaGrid, TheNumberAndSizeOfFormulasAreBounded) {
  std::string many = "activations:\n";
  for (int i = 0; i <= kMaxFormulas; ++i) absl::StrAppend(&many, "  f", i, ": {f: \"", i, " * x\"}\n");
  EXPECT_EQ(OneError(WithName(many + "grid:\n  activation: [f0, f1]\n")),
            absl::StrCat("activations: ", kMaxFormulas + 1, " formulas; at most ", kMaxFormulas, " are allowed"));
  // kMaxFormulas of them are fine.
  std::string enough = "activations:\n";
  for (int i = 0; i < kMaxFormulas; ++i) absl::StrAppend(&enough, "  f", i, ": {f: \"", i + 1, " * x\"}\n");
  EXPECT_EQ(MustParse(WithName(enough + "grid:\n  activation: [f0, f31]\n")).trials.size(), 2u);

  // A formula past kMaxFormulaBytes.
  std::string big = "x";
  while (big.size() <= spec::kMaxFormulaBytes) big += " + x";
  EXPECT_EQ(OneError(WithName("activations:\n  big: {f: \"" + big + "\"}\ngrid:\n  activation: [big]\n")),
            absl::StrCat("activations.big.f: the formula is too long: ", big.size(), " bytes; at most ",
                         spec::kMaxFormulaBytes, " are allowed"));
  // A formula whose canonical text (numbers written in full) is past the bound, though
  // the text as written is not: refused at its definition, not in every cell.
  std::string ints = "x";
  for (int i = 0; i < 99; ++i) ints += "+1e14";
  ASSERT_LT(ints.size(), spec::kMaxFormulaBytes);
  const std::string line = OneError(WithName("activations:\n  ints: {f: \"" + ints + "\"}\ngrid:\n  activation: [ints]\n"));
  EXPECT_EQ(line, "activations.ints.f: the formula is too long: 1783 bytes in normalized form; at most 1000 are allowed");
  EXPECT_EQ(line.rfind("activations.ints.f: ", 0),
            0u)
      << line;
  // Too many parameters.
  std::string params, sum = "x";
  for (int i = 0; i <= spec::kMaxFormulaParams; ++i) {
    absl::StrAppend(&params, i ? ", " : "", "p", i, ": 1");
    absl::StrAppend(&sum, " + p", i);
  }
  EXPECT_EQ(OneError(WithName("activations:\n  wide: {f: \"" + sum + "\", params: {" + params + "}}\n")),
            absl::StrCat("activations.wide.params: at most ", spec::kMaxFormulaParams, " parameters, got ",
                         spec::kMaxFormulaParams + 1));
}

}  // namespace
}  // namespace actgrid::grid
