// Formula activations (common/spec/formula.h, worker/engine/formula_eval.h): the parser's
// canonical text and errors, the compiled derivatives against central differences (per
// value and through whole networks), the subgradient conventions at kinks, NaN
// propagation, trained curves against the equivalent built-ins, and divergence.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "common/spec/formula.h"
#include "common/spec/names.h"
#include "common/spec/validate.h"
#include "tests/engine/gradient_check.h"
#include "worker/engine/activation.h"
#include "worker/engine/dataset.h"
#include "worker/engine/formula_eval.h"
#include "worker/engine/network.h"
#include "worker/engine/random.h"
#include "worker/engine/trainer.h"

namespace actgrid::engine {
namespace {


constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

// ---- helpers -----------------------------------------------------------------------

bool StartsWith(const std::string& text, const std::string& prefix) { return absl::StartsWith(text, prefix); }
bool Contains(const std::string& text, const std::string& part) { return absl::StrContains(text, part); }

std::string CanonicalOf(const std::string& text, const std::vector<std::string>& params = {}) {
  absl::StatusOr<spec::Formula> f = spec::Formula::Parse(text, params);
  if (!f.ok()) return "error: " + std::string(f.status().message());
  return f->Canonical();
}

std::string ParseError(const std::string& text, const std::vector<std::string>& params = {}) {
  absl::StatusOr<spec::Formula> f = spec::Formula::Parse(text, params);
  if (f.ok()) return "parsed: " + f->Canonical();
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument) << text;
  return std::string(f.status().message());
}

std::string DefinitionError(const std::string& name, const std::string& text, const std::vector<std::string>& params,
                            const std::vector<double>& defaults, const std::vector<std::string>& learnable) {
  absl::StatusOr<v1::ActivationSpec> a = spec::FormulaActivation(name, text, params, defaults, learnable);
  if (a.ok()) return "ok: " + a->formula().text();
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument) << text;
  return std::string(a.status().message());
}

// The compiled runner of `text` with parameter values `values` and the parameters at
// the indices `learnable` trained per unit; nullopt (and a test failure) on an error.
std::optional<FormulaRunner<double>> Runner(const std::string& text, const std::vector<std::string>& params = {},
                                            const std::vector<double>& values = {},
                                            const std::vector<int>& learnable = {}) {
  absl::StatusOr<spec::Formula> f = spec::Formula::Parse(text, params);
  EXPECT_TRUE(f.ok()) << text << ": " << f.status();
  if (!f.ok()) return std::nullopt;
  absl::StatusOr<spec::CompiledActivation> c = f->Compile(values, learnable);
  EXPECT_TRUE(c.ok()) << text << ": " << c.status();
  if (!c.ok()) return std::nullopt;
  return FormulaRunner<double>(*std::move(c));
}

// f(z) and f'(z) of a formula without learnable parameters at each z (one unit, one
// column per value).
void Evaluate(FormulaRunner<double>& runner, const std::vector<double>& z, std::vector<double>* f,
              std::vector<double>* d) {
  f->assign(z.size(), 0.0);
  d->assign(z.size(), 0.0);
  runner.Forward(z.data(), 1, int(z.size()), nullptr, f->data(), d->data());
}

double ValueAt(const std::string& text, double z) {
  std::optional<FormulaRunner<double>> r = Runner(text);
  if (!r) return kNan;
  std::vector<double> f, d;
  Evaluate(*r, {z}, &f, &d);
  return f[0];
}

double DerivativeAt(const std::string& text, double z) {
  std::optional<FormulaRunner<double>> r = Runner(text);
  if (!r) return kNan;
  std::vector<double> f, d;
  Evaluate(*r, {z}, &f, &d);
  return d[0];
}

// ---- a. the parser ---------------------------------------------------------------

TEST(FormulaParser, CanonicalText) {
  EXPECT_EQ(CanonicalOf("x*sigmoid( b*x )", {"b"}), "x * sigmoid(b * x)");
  EXPECT_EQ(CanonicalOf("  ((x))+((1))  "), "x + 1");
  EXPECT_EQ(CanonicalOf("x  <=  1"), "x <= 1");
  EXPECT_EQ(CanonicalOf("where(x<0,-x,x)"), "where(x < 0, -x, x)");
  EXPECT_EQ(CanonicalOf("(x<1)+1"), "(x < 1) + 1");
  // Minimal parentheses: only where precedence or grouping needs them.
  EXPECT_EQ(CanonicalOf("x-(1-x)"), "x - (1 - x)");
  EXPECT_EQ(CanonicalOf("(x-1)-x"), "x - 1 - x");
  EXPECT_EQ(CanonicalOf("x/(2*x)"), "x / (2 * x)");
  EXPECT_EQ(CanonicalOf("(x*2)/x"), "x * 2 / x");
  EXPECT_EQ(CanonicalOf("x*(2*x)"), "x * (2 * x)");
  EXPECT_EQ(CanonicalOf("(-(x+1))*2"), "-(x + 1) * 2");
  EXPECT_EQ(CanonicalOf("x^(1/2)"), "x^(1 / 2)");
  // ^ binds tighter than unary minus and groups to the right.
  EXPECT_EQ(CanonicalOf("-x^2"), "-x^2");
  EXPECT_EQ(CanonicalOf("-(x^2)"), "-x^2");
  EXPECT_EQ(CanonicalOf("(-x)^2"), "(-x)^2");
  EXPECT_EQ(CanonicalOf("2^-x"), "2^-x");
  EXPECT_EQ(CanonicalOf("2^(-x)"), "2^-x");
  EXPECT_EQ(CanonicalOf("2^3^x"), "2^3^x");
  EXPECT_EQ(CanonicalOf("2^(3^x)"), "2^3^x");
  EXPECT_EQ(CanonicalOf("(2^3)^x"), "(2^3)^x");
  // pi and e stay names; numbers as FormatNumber writes them.
  EXPECT_EQ(CanonicalOf("pi*x+e"), "pi * x + e");
  EXPECT_EQ(CanonicalOf("e^x"), "e^x");
  EXPECT_EQ(CanonicalOf("1.50*x"), "1.5 * x");
  EXPECT_EQ(CanonicalOf("x*1.5e2"), "x * 150");
  // Several lines are one formula.
  EXPECT_EQ(CanonicalOf("x *\n  2"), "x * 2");
}

// The precedence the text shows is the one the engine computes.
TEST(FormulaParser, PrecedenceAsEvaluated) {
  EXPECT_DOUBLE_EQ(ValueAt("-x^2", 3), -9);
  EXPECT_DOUBLE_EQ(ValueAt("(-x)^2", 3), 9);
  EXPECT_DOUBLE_EQ(ValueAt("2^-x", 1), 0.5);
  EXPECT_DOUBLE_EQ(ValueAt("2^3^x", 2), 512);    // 2^(3^2)
  EXPECT_DOUBLE_EQ(ValueAt("(2^3)^x", 2), 64);   // (2^3)^2
  EXPECT_DOUBLE_EQ(ValueAt("x - 1 - x", 5), -1);
  EXPECT_DOUBLE_EQ(ValueAt("x - (1 - x)", 5), 9);
  EXPECT_DOUBLE_EQ(ValueAt("x / 2 * x", 4), 8);  // (x / 2) * x
  EXPECT_DOUBLE_EQ(ValueAt("(x < 1) + 1", 0), 2);
  EXPECT_DOUBLE_EQ(ValueAt("x < 1 + 1", 1.5), 1);  // x < (1 + 1)
  EXPECT_DOUBLE_EQ(ValueAt("pi * x + e", 1), M_PI + M_E);
}

TEST(FormulaParser, CanonicalTextRoundTrips) {
  const std::vector<std::string> params = {"a", "b", "l", "r", "p", "h"};
  const std::vector<std::string> formulas = {
      "x * sigmoid(b*x)",
      "where(x < p, h + l*(x - p), h + r*(x - p))",
      "-x^2",
      "(-x)^2",
      "2^-x",
      "2^3^x",
      "(2^3)^x",
      "x^-2",
      "-2^x",
      "--x",
      "x - (1 - x) - (a - b)",
      "x / (2 * x) * (a / b)",
      "(x < 1) + (x >= 2) * 3",
      "x == (1 < x)",
      "max(x, 0) + min(-x, pi)",
      "e^x - e",
      "log1p(exp(-abs(x))) + max(x, 0)",
      "x * 0.5 * (1 + erf(x / sqrt(2)))",
      "sqrt(x*x + 1e-3)",
      "-(x + 1) * 2 / -(a - 3)",
      "sin(a*x)^2 + cos(x)^2 - tanh(x)",
      "where(x != 0, sin(x) / x, 1)",
      "softplus(x) - log(1 + exp(x)) + 0.000125 * x",
      "x^(1/2) + (x^2)^a",
      "(x <= a) * (x > -b) != 0",
  };
  for (const std::string& text : formulas) {
    absl::StatusOr<spec::Formula> f = spec::Formula::Parse(text, params);
    ASSERT_TRUE(f.ok()) << text << ": " << f.status();
    const std::string canonical = f->Canonical();
    absl::StatusOr<spec::Formula> again = spec::Formula::Parse(canonical, params);
    ASSERT_TRUE(again.ok()) << canonical << ": " << again.status();
    EXPECT_EQ(again->Canonical(), canonical) << "from " << text;
  }
}

TEST(FormulaParser, ErrorsSayWhere) {
  EXPECT_EQ(ParseError("x * sigmod(x)"), "1:5: unknown function \"sigmod\"; did you mean \"sigmoid\"?");
  EXPECT_EQ(ParseError("x +\n  tahn(x)"), "2:3: unknown function \"tahn\"; did you mean \"tanh\"?");
  EXPECT_PRED2(StartsWith, ParseError("frobnicate(x)"),
               ("1:1: unknown function \"frobnicate\"; the functions: where, min, max"));
  EXPECT_EQ(ParseError("x * bta", {"beta"}), "1:5: unknown name \"bta\"; did you mean \"beta\"?");
  EXPECT_EQ(ParseError("x + y"), "1:5: unknown name \"y\"; a formula knows x, pi, e and no parameters");
  EXPECT_EQ(ParseError("x + zz", {"a", "b"}),
            "1:5: unknown name \"zz\"; a formula knows x, pi, e and its parameters a, b");
  EXPECT_EQ(ParseError("x * sigmoid"), "1:5: sigmoid is a function: write sigmoid(...)");
  EXPECT_EQ(ParseError("max(x)"), "1:1: max takes 2 arguments, got 1");
  EXPECT_EQ(ParseError("x + where(x, 1)"), "1:5: where takes 3 arguments, got 2");
  EXPECT_EQ(ParseError("exp(x, 1)"), "1:1: exp takes 1 argument, got 2");
  EXPECT_EQ(ParseError("(x + 1"), "1:7: expected \")\", got end of formula");
  EXPECT_EQ(ParseError("max(x, 0"), "1:9: expected \",\" or \")\", got end of formula");
  EXPECT_EQ(ParseError("x + 1)"), "1:6: unexpected \")\" after the formula");
  EXPECT_EQ(ParseError("x 2"), "1:3: unexpected \"2\" after the formula");
  EXPECT_EQ(ParseError("x +"), "1:4: unexpected end of formula");
  EXPECT_EQ(ParseError("x # 2"), "1:3: unexpected character \"#\"");
  EXPECT_EQ(ParseError("1.2.3 * x"), "1:1: bad number \"1.2.3\"");
  EXPECT_PRED2(StartsWith, ParseError("x < 1 < 2"), ("1:7: comparisons do not chain"));
  EXPECT_PRED2(StartsWith, ParseError("0 <= x <= 1"), ("1:8: comparisons do not chain"));
}

TEST(FormulaParser, BoundsAreEnforced) {
  // Length, in bytes, of the whole text.
  const std::string longest = "x" + std::string(spec::kMaxFormulaBytes - 1, ' ');
  EXPECT_EQ(CanonicalOf(longest), "x");
  EXPECT_EQ(ParseError(longest + " "), "the formula is too long: 1001 bytes; at most 1000 are allowed");
  // Nodes: 100 x's and 99 additions are 199; 101 and 100 are 201, which fail at the
  // 100th "+" (column 3 + 4 * 99).
  std::string sum = "x";
  for (int i = 0; i < 99; ++i) sum += " + x";
  EXPECT_PRED2(StartsWith, CanonicalOf(sum), ("x + x"));
  EXPECT_EQ(ParseError(sum + " + x"),
            "1:399: the formula is too large: more than 200 numbers, names and operations");
  // Nesting: 49 parentheses inside the formula's own level are 50 levels; 50 are too many.
  auto nested = [](int n) { return std::string(size_t(n), '(') + "x" + std::string(size_t(n), ')'); };
  EXPECT_EQ(CanonicalOf(nested(49)), "x");
  EXPECT_EQ(ParseError(nested(50)), "1:51: the formula nests more than 50 levels deep");
  EXPECT_EQ(CanonicalOf(std::string(49, '-') + "x"), std::string(49, '-') + "x");
  EXPECT_EQ(ParseError(std::string(50, '-') + "x"), "1:50: the formula nests more than 50 levels deep");
  std::string calls = "x";
  for (int i = 0; i < 60; ++i) calls = "exp(" + calls + ")";
  EXPECT_PRED2(Contains, ParseError(calls), ("the formula nests more than 50 levels deep"));
}

TEST(FormulaDefinition, ReservedNamesAndParameters) {
  EXPECT_EQ(DefinitionError("bent", "x * b", {"x"}, {1.0}, {}),
            "params: \"x\" is taken by the language (x, pi, e and the functions)");
  EXPECT_EQ(DefinitionError("bent", "x * b", {"exp"}, {1.0}, {}),
            "params: \"exp\" is taken by the language (x, pi, e and the functions)");
  EXPECT_EQ(DefinitionError("bent", "x * pi", {"pi"}, {1.0}, {}),
            "params: \"pi\" is taken by the language (x, pi, e and the functions)");
  EXPECT_EQ(DefinitionError("relu", "max(x, 0)", {}, {}, {}), "name \"relu\" is taken by a built-in; choose another");
  EXPECT_EQ(DefinitionError("tanh", "x", {}, {}, {}), "name \"tanh\" is taken by a built-in; choose another");
  EXPECT_EQ(DefinitionError("Bent", "x", {}, {}, {}),
            "name \"Bent\": expected [a-z_][a-z0-9_]* of at most 64 bytes");
  EXPECT_EQ(DefinitionError("bent", "x * beta", {"beta"}, {1.0}, {"bta"}),
            "learnable: \"bta\" is not a parameter; did you mean \"beta\"?");
  EXPECT_EQ(DefinitionError("bent", "x", {}, {}, {"b"}), "learnable: \"b\" is not a parameter (the formula has none)");
  EXPECT_EQ(DefinitionError("bent", "x", {"b"}, {1.0}, {}), "params: the formula does not use \"b\"");
  EXPECT_EQ(DefinitionError("bent", "x * b", {"b"}, {}, {}), "params: 1 names but 0 values");
  EXPECT_EQ(DefinitionError("bent", "x * sigmod(x)", {}, {}, {}),
            "f: 1:5: unknown function \"sigmod\"; did you mean \"sigmoid\"?");
  // A good definition: canonical text, defaults as params, learnable in parameter order.
  absl::StatusOr<v1::ActivationSpec> ok =
      spec::FormulaActivation("bent", "where(x<p, l*(x-p), r*(x-p))", {"l", "r", "p"}, {0.1, 1, 0}, {"p", "l"});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->kind(), v1::ACTIVATION_KIND_FORMULA);
  EXPECT_EQ(ok->formula().text(), "where(x < p, l * (x - p), r * (x - p))");
  EXPECT_EQ(std::vector<std::string>(ok->formula().learnable().begin(), ok->formula().learnable().end()),
            (std::vector<std::string>{"l", "p"}));
  EXPECT_EQ(std::vector<double>(ok->params().begin(), ok->params().end()), (std::vector<double>{0.1, 1, 0}));
  EXPECT_TRUE(spec::FormulaProblems(*ok).empty());
}

// ---- b. derivatives against central differences -----------------------------------

struct DerivativeCase {
  std::string text;
  std::vector<std::string> params;
  std::vector<double> values;
  std::vector<int> learnable;  // indices into params
  std::vector<double> z;       // points away from kinks
  // The value in plain C++ (catches a formula parsed as something else).
  std::function<double(double z, const std::vector<double>& p)> reference;
};

std::vector<DerivativeCase> DerivativeCases() {
  const std::vector<double> smooth_z = {-2.7, -1.3, -0.41, -0.05, 0.23, 0.9, 1.65, 3.1};
  const std::vector<double> positive_z = {0.13, 0.5, 1.2, 2.2, 3.4};
  auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
  return {
      {"x * sigmoid(b * x)", {"b"}, {1.3}, {0}, smooth_z, [=](double z, auto& p) { return z * sig(p[0] * z); }},
      {"x * sigmoid(b * x)", {"b"}, {0.7}, {}, smooth_z, [=](double z, auto& p) { return z * sig(p[0] * z); }},
      {"tanh(x)", {}, {}, {}, smooth_z, [](double z, auto&) { return std::tanh(z); }},
      {"c * tanh(x / c)", {"c"}, {2.5}, {0}, smooth_z, [](double z, auto& p) { return p[0] * std::tanh(z / p[0]); }},
      {"softplus(x)", {}, {}, {}, smooth_z, [](double z, auto&) { return std::log1p(std::exp(z)); }},
      {"softplus(b * x) / b", {"b"}, {1.7}, {0}, smooth_z,
       [](double z, auto& p) { return std::log1p(std::exp(p[0] * z)) / p[0]; }},
      {"x * 0.5 * (1 + erf(x / sqrt(2)))", {}, {}, {}, smooth_z,
       [](double z, auto&) { return z * 0.5 * (1 + std::erf(z / std::sqrt(2.0))); }},
      {"log1p(exp(x))", {}, {}, {}, smooth_z, [](double z, auto&) { return std::log1p(std::exp(z)); }},
      {"sqrt(x*x + 1)", {}, {}, {}, smooth_z, [](double z, auto&) { return std::sqrt(z * z + 1); }},
      {"sqrt(x*x + c) - sqrt(c)", {"c"}, {0.3}, {0}, smooth_z,
       [](double z, auto& p) { return std::sqrt(z * z + p[0]) - std::sqrt(p[0]); }},
      {"x^3", {}, {}, {}, smooth_z, [](double z, auto&) { return z * z * z; }},
      {"(1 + x*x)^q", {"q"}, {0.35}, {0}, smooth_z, [](double z, auto& p) { return std::pow(1 + z * z, p[0]); }},
      {"x^k", {"k"}, {1.5}, {0}, positive_z, [](double z, auto& p) { return std::pow(z, p[0]); }},
      {"2^-x + e^x", {}, {}, {}, smooth_z, [](double z, auto&) { return std::pow(2.0, -z) + std::exp(z); }},
      {"exp(-x^2)", {}, {}, {}, smooth_z, [](double z, auto&) { return std::exp(-z * z); }},
      {"a * exp(-(x / w)^2)", {"a", "w"}, {1.2, 0.8}, {0, 1}, smooth_z,
       [](double z, auto& p) { return p[0] * std::exp(-(z / p[1]) * (z / p[1])); }},
      {"sin(w * x) + cos(x)", {"w"}, {1.9}, {0}, smooth_z,
       [](double z, auto& p) { return std::sin(p[0] * z) + std::cos(z); }},
      {"x / (1 + abs(x))", {}, {}, {}, smooth_z, [](double z, auto&) { return z / (1 + std::abs(z)); }},
      {"x / (k + abs(x))", {"k"}, {0.6}, {0}, smooth_z, [](double z, auto& p) { return z / (p[0] + std::abs(z)); }},
      {"log(1 + x*x) / (2 + sin(x))", {}, {}, {}, smooth_z,
       [](double z, auto&) { return std::log(1 + z * z) / (2 + std::sin(z)); }},
      // piecewise
      {"max(x, 0)", {}, {}, {}, smooth_z, [](double z, auto&) { return std::max(z, 0.0); }},
      {"min(x, 0)", {}, {}, {}, smooth_z, [](double z, auto&) { return std::min(z, 0.0); }},
      {"abs(x)", {}, {}, {}, smooth_z, [](double z, auto&) { return std::abs(z); }},
      {"max(x, a * x)", {"a"}, {0.2}, {0}, smooth_z, [](double z, auto& p) { return std::max(z, p[0] * z); }},
      {"min(max(x, -1), 1)", {}, {}, {}, smooth_z, [](double z, auto&) { return std::clamp(z, -1.0, 1.0); }},
      {"(x > 0) * x + (x <= 0) * s * x", {"s"}, {0.3}, {0}, smooth_z,
       [](double z, auto& p) { return z > 0 ? z : p[0] * z; }},
      {"where(x < p, h + l * (x - p), h + r * (x - p))", {"l", "r", "p", "h"}, {0.3, 0.8, 0.17, -0.2}, {0, 1, 2, 3},
       smooth_z, [](double z, auto& p) { return p[3] + (z < p[2] ? p[0] : p[1]) * (z - p[2]); }},
      // the same with only the position and height learnable (slots 0, 1 are params 2, 3)
      {"where(x < p, h + l * (x - p), h + r * (x - p))", {"l", "r", "p", "h"}, {-0.4, 1.3, -0.23, 0.5}, {2, 3},
       smooth_z, [](double z, auto& p) { return p[3] + (z < p[2] ? p[0] : p[1]) * (z - p[2]); }},
      {"where(x > 0, x, a * (exp(x) - 1))", {"a"}, {0.7}, {0}, smooth_z,
       [](double z, auto& p) { return z > 0 ? z : p[0] * std::expm1(z); }},
  };
}

// Formula parameter values with learnable slot q of unit i at q * rows + i.
std::vector<double> LearnBuffer(const DerivativeCase& c, int rows) {
  std::vector<double> learn;
  for (int p : c.learnable)
    for (int i = 0; i < rows; ++i) learn.push_back(c.values[size_t(p)]);
  return learn;
}

TEST(FormulaDerivatives, MatchCentralDifferences) {
  const double h = 1e-6;
  auto close = [](double analytic, double numeric) { return std::abs(analytic - numeric) <= 1e-6 * std::abs(numeric) + 1e-8; };
  for (const DerivativeCase& c : DerivativeCases()) {
    SCOPED_TRACE(c.text + " learnable " + std::to_string(c.learnable.size()));
    std::optional<FormulaRunner<double>> runner = Runner(c.text, c.params, c.values, c.learnable);
    ASSERT_TRUE(runner);
    ASSERT_EQ(runner->learnable(), int(c.learnable.size()));
    // One unit per point (rows), one column: each point has its own parameter copies.
    const int rows = int(c.z.size());
    const std::vector<double> learn = LearnBuffer(c, rows);
    auto forward = [&](const std::vector<double>& z, const std::vector<double>& l) {
      std::vector<double> f(z.size()), d(z.size());
      runner->Forward(z.data(), rows, 1, l.data(), f.data(), d.data());
      return std::pair{f, d};
    };
    const auto [f, d] = forward(c.z, learn);
    std::vector<double> up = c.z, down = c.z;
    for (double& v : up) v += h;
    for (double& v : down) v -= h;
    const std::vector<double> fu = forward(up, learn).first, fd = forward(down, learn).first;
    for (int i = 0; i < rows; ++i) {
      EXPECT_NEAR(f[i], c.reference(c.z[i], c.values), 1e-13 * (1 + std::abs(f[i]))) << "f at " << c.z[i];
      const double numeric = (fu[i] - fd[i]) / (2 * h);
      EXPECT_PRED2(close, d[i], numeric) << "df/dx at " << c.z[i];
    }
    if (c.learnable.empty()) continue;
    std::vector<double> grad(learn.size(), 0.0);
    const std::vector<double> ones(size_t(rows), 1.0);
    runner->ParamGrads(c.z.data(), ones.data(), rows, 1, learn.data(), grad.data());
    for (size_t q = 0; q < c.learnable.size(); ++q) {
      std::vector<double> lu = learn, ld = learn;
      for (int i = 0; i < rows; ++i) {
        lu[q * rows + i] += h;
        ld[q * rows + i] -= h;
      }
      const std::vector<double> pu = forward(c.z, lu).first, pd = forward(c.z, ld).first;
      for (int i = 0; i < rows; ++i) {
        const double numeric = (pu[i] - pd[i]) / (2 * h);
        EXPECT_PRED2(close, grad[q * rows + i], numeric)
            << "df/d" << c.params[size_t(c.learnable[q])] << " at " << c.z[i];
      }
    }
  }
}

// ParamGrads sums g * df/dp over the columns (samples) of each unit, and Forward
// handles several units per column and blocks of several columns.
TEST(FormulaDerivatives, ParamGradsSumOverColumnsPerUnit) {
  std::optional<FormulaRunner<double>> runner = Runner("x * sigmoid(b * x)", {"b"}, {1.0}, {0});
  ASSERT_TRUE(runner);
  const int rows = 3, n = 200;  // 600 values: more than one block of 256
  const std::vector<double> b = {0.5, 1.0, 2.0};
  std::vector<double> z(size_t(rows) * n), g(z.size()), a(z.size()), d(z.size());
  Rng rng(11, 2);
  for (double& v : z) v = rng.Normal();
  for (double& v : g) v = rng.Normal();
  runner->Forward(z.data(), rows, n, b.data(), a.data(), d.data());
  std::vector<double> grad(3, 0.25), expected(3, 0.25);  // ParamGrads adds to what is there
  runner->ParamGrads(z.data(), g.data(), rows, n, b.data(), grad.data());
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < rows; ++i) {
      const double x = z[size_t(j) * rows + i], s = 1 / (1 + std::exp(-b[i] * x));
      EXPECT_NEAR(a[size_t(j) * rows + i], x * s, 1e-15) << i << "," << j;
      EXPECT_NEAR(d[size_t(j) * rows + i], s + b[i] * x * s * (1 - s), 1e-14) << i << "," << j;
      expected[i] += g[size_t(j) * rows + i] * x * x * s * (1 - s);
    }
  for (int i = 0; i < rows; ++i) EXPECT_NEAR(grad[i], expected[i], 1e-12) << i;
}

// At a tie, max(a, b) and min(a, b) take b's derivative; abs has derivative 0 at 0;
// where() differentiates the branch it takes. So max(x, 0) is ReLU at 0 too.
TEST(FormulaDerivatives, SubgradientConventionsAtKinks) {
  EXPECT_EQ(DerivativeAt("max(x, 0)", 0.0), 0.0);
  EXPECT_EQ(DerivativeAt("max(x, 0)", 0.0), Relu<double>{}.D(0.0, 0.0, 0));
  EXPECT_EQ(DerivativeAt("max(x, 0)", -0.0), 0.0);
  EXPECT_EQ(DerivativeAt("abs(x)", 0.0), 0.0);
  EXPECT_EQ(DerivativeAt("min(x, 0)", 0.0), 0.0);
  EXPECT_EQ(DerivativeAt("max(0, x)", 0.0), 1.0);  // b's derivative: the order matters at the tie
  EXPECT_EQ(DerivativeAt("min(0, x)", 0.0), 1.0);
  EXPECT_EQ(DerivativeAt("where(x < 0, 0.1 * x, x)", 0.0), 1.0);
  EXPECT_EQ(DerivativeAt("(x > 0) * x", 0.0), 0.0);
  EXPECT_EQ(ValueAt("max(x, 0)", 0.0), 0.0);
  EXPECT_EQ(ValueAt("abs(x)", 0.0), 0.0);
  // Away from the kink, the one-sided slopes.
  EXPECT_EQ(DerivativeAt("max(x, 0)", 1e-300), 1.0);
  EXPECT_EQ(DerivativeAt("max(x, 0)", -1e-300), 0.0);
  EXPECT_EQ(DerivativeAt("abs(x)", -1e-300), -1.0);
  EXPECT_EQ(DerivativeAt("min(x, 0)", -1e-300), 1.0);
  // RefLU at its peak takes the right slope, as the built-in does.
  std::optional<FormulaRunner<double>> reflu =
      Runner("where(x < p, h + l * (x - p), h + r * (x - p))", {"l", "r", "p", "h"}, {0.3, 0.8, 0.17, -0.2}, {0, 1, 2, 3});
  ASSERT_TRUE(reflu);
  const double learn[] = {0.3, 0.8, 0.17, -0.2}, z = 0.17;
  double f = 0, d = 0;
  reflu->Forward(&z, 1, 1, learn, &f, &d);
  const Reflu<double> builtin{learn, 1};
  EXPECT_EQ(f, builtin.F(z, 0));
  EXPECT_EQ(d, builtin.D(z, f, 0));
  EXPECT_EQ(d, 0.8);
}

// ---- e. NaN in, NaN out ---------------------------------------------------------------

TEST(FormulaForward, NanPreActivationGivesNanValueAndDerivative) {
  for (const std::string text : {"max(x, 0)", "min(x, 0)", "abs(x)", "where(x < 0, 1, 2)", "x > 0",
                                 "0 * x + 1", "tanh(x)", "x * sigmoid(x)", "(x > 0) * x"}) {
    std::optional<FormulaRunner<double>> r = Runner(text);
    ASSERT_TRUE(r);
    const std::vector<double> z = {1.5, kNan, -2.0, kNan};
    std::vector<double> f, d;
    Evaluate(*r, z, &f, &d);
    EXPECT_TRUE(std::isnan(f[1]) && std::isnan(f[3])) << text;
    EXPECT_TRUE(std::isnan(d[1]) && std::isnan(d[3])) << text;
    // The finite neighbours are untouched.
    std::vector<double> f0, d0;
    Evaluate(*r, {1.5, -2.0}, &f0, &d0);
    EXPECT_EQ(f[0], f0[0]) << text;
    EXPECT_EQ(f[2], f0[1]) << text;
    EXPECT_EQ(d[0], d0[0]) << text;
    EXPECT_EQ(d[2], d0[1]) << text;
  }
  // Float too, with learnable parameters (several units).
  absl::StatusOr<spec::Formula> f = spec::Formula::Parse("max(x, a * x)", {"a"});
  ASSERT_TRUE(f.ok());
  absl::StatusOr<spec::CompiledActivation> c = f->Compile({0.1}, {0});
  ASSERT_TRUE(c.ok());
  FormulaRunner<float> r(*std::move(c));
  const float z[] = {1.0f, std::numeric_limits<float>::quiet_NaN(), -1.0f, 2.0f};
  const float a[] = {0.1f, 0.2f};
  float out[4], d[4];
  r.Forward(z, 2, 2, a, out, d);
  EXPECT_TRUE(std::isnan(out[1]));
  EXPECT_TRUE(std::isnan(d[1]));
  EXPECT_EQ(out[2], -0.1f);
  EXPECT_EQ(d[2], 0.1f);
}

// ---- c. whole networks ---------------------------------------------------------------

using test_util::ExpectGradientMatchesCentralDifference;
using test_util::RelativeError;

v1::ActivationSpec MustDefine(const std::string& name, const std::string& text, const std::vector<std::string>& params,
                              const std::vector<double>& defaults, const std::vector<std::string>& learnable) {
  absl::StatusOr<v1::ActivationSpec> a = spec::FormulaActivation(name, text, params, defaults, learnable);
  EXPECT_TRUE(a.ok()) << name << ": " << a.status();
  return a.ok() ? *a : v1::ActivationSpec();
}

v1::ActivationSpec Reflu2(const std::vector<double>& defaults) {
  return MustDefine("reflu2", "where(x < p, h + l*(x - p), h + r*(x - p))", {"l", "r", "p", "h"}, defaults,
                    {"l", "r", "p", "h"});
}

std::vector<v1::ActivationSpec> NetworkFormulas() {
  return {
      Reflu2({0.3, 0.8, 0.17, -0.2}),
      Reflu2({-0.4, 1.3, -0.23, 0.5}),
      MustDefine("swishb", "x * sigmoid(b * x)", {"b"}, {1.3}, {"b"}),
      MustDefine("elu_a", "where(x > 0, x, a * (exp(x) - 1))", {"a"}, {0.7}, {"a"}),
      // fixed slopes, learnable position and height (learnable slots are not params 0, 1)
      MustDefine("peak", "where(x < p, h + l*(x - p), h + r*(x - p))", {"l", "r", "p", "h"}, {0.2, 0.9, 0.1, 0.3},
                 {"p", "h"}),
      MustDefine("bump", "a * exp(-(x / w)^2) + x / (k + abs(x))", {"a", "w", "k"}, {1.2, 0.8, 0.6}, {"a", "w", "k"}),
      MustDefine("gelu_erf", "x * 0.5 * (1 + erf(x / sqrt(2)))", {}, {}, {}),
      MustDefine("tanh_c", "c * tanh(x / c)", {"c"}, {2.5}, {}),
  };
}

TEST(FormulaNetwork, GradientMatchesCentralDifference) {
  for (const v1::ActivationSpec& spec : NetworkFormulas())
    for (double l1 : {0.0, 0.01}) {
      SCOPED_TRACE(spec.formula().name() + " = " + spec.formula().text() + ", l1 " + std::to_string(l1));
      ASSERT_TRUE(spec::FormulaProblems(spec).empty());
      NetworkShape shape{3, 4, 3, 5, spec, {}};
      if (l1 > 0) shape.hidden = {6, 2, 5};
      Network<double> net(shape);
      Rng rng(42, 1);
      ASSERT_TRUE(net.Initialize(spec::DefaultInit(v1::INIT_KIND_XAVIER_NORMAL), 0.05, rng).ok());
      const int learnable = int(spec.formula().learnable_size());
      for (int l = 0; l < 3; ++l) ASSERT_EQ(net.layers()[l].learnable, learnable);
      // The learnable parameters start at their values, then move off them per unit.
      for (const auto& layer : net.layers())
        for (int q = 0; q < layer.learnable; ++q)
          for (int i = 0; i < layer.units; ++i) {
            const auto& names = spec.formula().params();
            const int param = int(std::find(names.begin(), names.end(), spec.formula().learnable(q)) - names.begin());
            double& v = net.params()[layer.p + size_t(q) * layer.units + i];
            EXPECT_EQ(v, spec.params(param));
            v += 0.05 * rng.Normal();
          }
      ExpectGradientMatchesCentralDifference(net, l1, rng);
    }
}

// The formula RefLU and the built-in one are the same network: same outputs and the same
// gradients (to rounding) from the same parameters.
TEST(FormulaNetwork, Reflu2MatchesTheBuiltInReflu) {
  const std::vector<double> values = {0.3, 0.8, 0.17, -0.2};
  v1::ActivationSpec builtin = spec::DefaultActivation(v1::ACTIVATION_KIND_REFLU);
  for (int i = 0; i < 4; ++i) builtin.set_params(i, values[size_t(i)]);
  Network<double> nb(NetworkShape{3, 4, 2, 6, builtin, {}});
  Network<double> nf(NetworkShape{3, 4, 2, 6, Reflu2(values), {}});
  Rng rng(9, 4);
  ASSERT_TRUE(nb.Initialize(spec::DefaultInit(v1::INIT_KIND_HE_NORMAL), 0.05, rng).ok());
  Rng rng2(9, 4);
  ASSERT_TRUE(nf.Initialize(spec::DefaultInit(v1::INIT_KIND_HE_NORMAL), 0.05, rng2).ok());
  ASSERT_EQ(nb.params(), nf.params());  // the same layout and initial values
  for (const auto& layer : nb.layers())
    for (int i = 0; i < layer.learnable * layer.units; ++i) nb.params()[layer.p + i] += 0.05 * rng.Normal();
  nf.params() = nb.params();
  const int n = 9;
  std::vector<double> x(size_t(3) * n);
  for (double& v : x) v = rng.Normal();
  std::vector<int32_t> y(n);
  for (int j = 0; j < n; ++j) y[j] = j % 4;
  auto wb = nb.MakeWorkspace(n);
  auto wf = nf.MakeWorkspace(n);
  const auto sb = nb.Forward(x.data(), y.data(), n, wb);
  const auto sf = nf.Forward(x.data(), y.data(), n, wf);
  EXPECT_NEAR(sf.loss_sum, sb.loss_sum, 1e-13 * std::abs(sb.loss_sum));
  nb.Backward(x.data(), n, 0.01, wb);
  nf.Backward(x.data(), n, 0.01, wf);
  EXPECT_LT(RelativeError(nf.grads(), nb.grads()), 1e-13);
}

// ---- d. trained curves against the built-ins ------------------------------------------

v1::TrialSpec CircleSpec(const v1::ActivationSpec& activation, int epochs) {
  v1::TrialSpec spec;
  auto* d = spec.mutable_dataset();
  d->set_kind(v1::DATASET_KIND_CIRCLE);
  d->set_samples(1000);
  d->set_noise(0.1);
  d->set_test_fraction(0.5);
  d->set_seed(7);
  d->set_scaling(v1::SCALING_STANDARDIZE);
  spec.mutable_model()->set_width(8);
  auto* t = spec.mutable_train();
  t->set_optimizer(v1::OPTIMIZER_SGD);
  t->set_lr(0.03);
  t->set_batch(10);
  t->set_epochs(epochs);
  t->set_target_accuracy(0.9);
  t->set_momentum(0.9);
  t->set_beta1(0.9);
  t->set_beta2(0.999);
  t->set_eps(1e-8);
  *spec.mutable_activation() = activation;
  *spec.mutable_init() = spec::DefaultInit(v1::INIT_KIND_HE_NORMAL);
  spec.set_depth(3);
  spec.set_seed(1);
  return spec;
}

v1::TrialResult Train(const v1::TrialSpec& spec, const TrialHooks& hooks = {}) {
  EXPECT_TRUE(spec::ValidateTrialSpec(spec).ok()) << spec::ValidateTrialSpec(spec);
  auto data = LoadDataset(spec.dataset());
  EXPECT_TRUE(data.ok()) << data.status();
  if (!data.ok()) return {};
  auto result = RunTrial(spec, **data, hooks);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : v1::TrialResult();
}

double RelDiff(double a, double b) { return a == b ? 0 : std::abs(a - b) / std::max(std::abs(a), std::abs(b)); }

struct Equivalent {
  v1::ActivationKind builtin;
  v1::ActivationSpec formula;
  // Whether the formula does the built-in's arithmetic operation for operation: then the
  // curves are bit-identical, otherwise they differ by float rounding (see below).
  bool identical;
};

// Whether this build may fuse a multiply and an add into one FMA (-march=native on a
// machine with FMA; the engine builds with -ffp-contract=fast).
#ifdef __FMA__
constexpr bool kFma = true;
#else
constexpr bool kFma = false;
#endif

// The built-ins fuse some multiply-adds where the formula's programs, one loop per
// operation, round each product: RefLU's value h + s (z - p) and tanh's derivative
// 1 - a^2. Without FMA those two are bit-identical to their formulas, as ReLU as
// max(x, 0) always is. SiLU's derivative differs in its algebra, s (1 + z (1 - s)) in the
// built-in against s + z (s (1 - s)) from the formula, so it differs by rounding (1 ulp
// of f', up to 1.2e-7 in float) in every build. Over 20 epochs such differences stay
// within 1e-4 of the losses (about 4e-7 is seen) and one test sample of accuracy.
TEST(FormulaTraining, CurvesMatchTheEquivalentBuiltIns) {
  const int epochs = 20;
  const std::vector<Equivalent> pairs = {
      {v1::ACTIVATION_KIND_RELU, MustDefine("relu_f", "max(x, 0)", {}, {}, {}), true},
      {v1::ACTIVATION_KIND_TANH, MustDefine("tanh_f", "tanh(x)", {}, {}, {}), !kFma},
      {v1::ACTIVATION_KIND_SILU, MustDefine("silu_f", "x * sigmoid(x)", {}, {}, {}), false},
      {v1::ACTIVATION_KIND_REFLU, Reflu2({0.1, 1.0, 0.0, 0.0}), !kFma},
  };
  for (const Equivalent& pair : pairs) {
    const v1::TrialResult b = Train(CircleSpec(spec::DefaultActivation(pair.builtin), epochs));
    const v1::TrialResult f = Train(CircleSpec(pair.formula, epochs));
    const std::string what = spec::ActivationLabel(spec::DefaultActivation(pair.builtin)) + " vs " +
                             pair.formula.formula().name() + " = " + pair.formula.formula().text();
    ASSERT_EQ(b.epochs_size(), epochs + 1) << what;
    ASSERT_EQ(f.epochs_size(), epochs + 1) << what;
    EXPECT_EQ(b.summary().outcome(), v1::TRIAL_OUTCOME_SUCCEEDED) << what;
    EXPECT_EQ(f.summary().outcome(), v1::TRIAL_OUTCOME_SUCCEEDED) << what;
    EXPECT_EQ(b.summary().parameters(), f.summary().parameters()) << what;
    const int test_samples = 500;
    double max_loss = 0, max_test_loss = 0, max_acc = 0, max_dead = 0;
    int first_loss_diff = -1;
    for (int e = 0; e <= epochs; ++e) {
      const v1::EpochMetrics& x = b.epochs(e);
      const v1::EpochMetrics& y = f.epochs(e);
      max_loss = std::max(max_loss, RelDiff(x.train_loss(), y.train_loss()));
      max_test_loss = std::max(max_test_loss, RelDiff(x.test_loss(), y.test_loss()));
      max_acc = std::max(max_acc, std::abs(x.test_acc() - y.test_acc()));
      max_dead = std::max(max_dead, std::abs(x.dead_fraction() - y.dead_fraction()));
      if (first_loss_diff < 0 && x.train_loss() != y.train_loss()) first_loss_diff = e;
      if (pair.identical) {
        EXPECT_EQ(x.train_loss(), y.train_loss()) << what << " epoch " << e;
        EXPECT_EQ(x.test_loss(), y.test_loss()) << what << " epoch " << e;
        EXPECT_EQ(x.test_acc(), y.test_acc()) << what << " epoch " << e;
        EXPECT_EQ(x.dead_fraction(), y.dead_fraction()) << what << " epoch " << e;
        EXPECT_EQ(x.sparsity(), y.sparsity()) << what << " epoch " << e;
      } else {
        EXPECT_LE(RelDiff(x.train_loss(), y.train_loss()), 1e-4) << what << " epoch " << e;
        EXPECT_LE(RelDiff(x.test_loss(), y.test_loss()), 1e-4) << what << " epoch " << e;
        EXPECT_LE(std::abs(x.test_acc() - y.test_acc()), 1.0 / test_samples + 1e-12) << what << " epoch " << e;
        EXPECT_EQ(x.dead_fraction(), y.dead_fraction()) << what << " epoch " << e;
      }
    }
    std::printf("[ formula ] %s: max rel. diff train_loss %.3g, test_loss %.3g; max |diff| test_acc %.4g, "
                "dead_fraction %.4g; first differing train_loss at epoch %d; final acc %.4f / %.4f\n",
                what.c_str(), max_loss, max_test_loss, max_acc, max_dead, first_loss_diff,
                b.summary().final_test_acc(), f.summary().final_test_acc());
  }
}

// ---- f. division by zero during training ------------------------------------------------

TEST(FormulaTraining, NonFiniteActivationsEndTheTrialAsDiverged) {
  // x / (x - x) is Inf or NaN for every pre-activation: the first measurement diverges.
  const v1::TrialResult always = Train(CircleSpec(MustDefine("inf_f", "x / (x - x)", {}, {}, {}), 10));
  EXPECT_TRUE(always.summary().diverged());
  EXPECT_EQ(always.summary().outcome(), v1::TRIAL_OUTCOME_DIVERGED);
  EXPECT_EQ(always.summary().diverged_epoch(), 0);
  ASSERT_EQ(always.epochs_size(), 1);
  EXPECT_FALSE(std::isfinite(always.epochs(0).train_loss()));
  // x / c with c learnable: finite until c of one unit is set to 0 after epoch 2's
  // updates; then that unit is x / 0 (Inf, or NaN at x = 0) for every sample and the
  // loss is not finite, while every parameter still is.
  const v1::ActivationSpec over_c = MustDefine("over_c", "x / c", {"c"}, {1.0}, {"c"});
  const v1::TrialSpec spec = CircleSpec(over_c, 10);
  const size_t c0 = Network<float>(NetworkShape{2, 2, 3, 8, over_c, {}}).layers()[0].p;  // c of unit 0, layer 0
  TrialHooks hooks;
  hooks.on_params = [c0](int epoch, std::vector<float>& params) {
    if (epoch == 2) params[c0] = 0.0f;
  };
  const v1::TrialResult later = Train(spec, hooks);
  EXPECT_TRUE(later.summary().diverged());
  EXPECT_EQ(later.summary().outcome(), v1::TRIAL_OUTCOME_DIVERGED);
  EXPECT_EQ(later.summary().diverged_epoch(), 2);
  ASSERT_EQ(later.epochs_size(), 3);
  EXPECT_TRUE(std::isfinite(later.epochs(1).train_loss()));
  EXPECT_FALSE(std::isfinite(later.epochs(2).train_loss()));
  EXPECT_EQ(later.epochs(2).nonfinite_params(), 0);
  // Without the hook the same trial runs to the end.
  EXPECT_EQ(Train(spec).summary().outcome(), v1::TRIAL_OUTCOME_SUCCEEDED);
}

}  // namespace
}  // namespace actgrid::engine
