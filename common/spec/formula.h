// Activation functions written as formulas: the language, its parser, canonical text,
// exact symbolic derivatives and the compiled programs the engine runs.
//
// The language: numbers, x (the pre-activation), named parameters, + - * / ^, unary
// minus, comparisons (< <= > >= == !=, which give 1 or 0), where(c, a, b) (a where c is
// not 0, else b), min, max, abs, exp, log, log1p, sqrt, tanh, sigmoid, softplus, erf,
// sin, cos, and the constants pi and e. ^ binds tighter than unary minus (-x^2 is
// -(x^2)) and groups to the right; comparisons do not chain.
//
// Derivatives follow the built-in functions' subgradient conventions: at a tie, max(a, b)
// and min(a, b) take the derivative of b (so max(x, 0), like ReLU, has derivative 0 at
// 0), abs has derivative 0 at 0, where() differentiates the branch it takes, and
// comparisons have derivative 0.
//
// The CLI, the coordinator and the workers share this one implementation; the engine
// only runs the compiled Program (worker/engine/formula_eval.h).
#ifndef ACTGRID_COMMON_SPEC_FORMULA_H_
#define ACTGRID_COMMON_SPEC_FORMULA_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "actgrid/v1/spec.pb.h"

namespace actgrid::spec {

// Bounds that keep a formula, its derivatives and its programs small whatever the input.
inline constexpr size_t kMaxFormulaBytes = 1000;
inline constexpr int kMaxFormulaNodes = 200;        // operations, names and numbers parsed
inline constexpr int kMaxFormulaNesting = 50;       // parentheses and calls inside each other
inline constexpr int kMaxFormulaParams = 16;
inline constexpr int kMaxProgramInstructions = 4000;  // per compiled program
inline constexpr size_t kMaxFormulaNameBytes = 64;

// One instruction of a compiled program: dst = op(a, b, c). Registers hold one value per
// element of a block; kConst fills dst with `value`, kX with the pre-activations, kParam
// with learnable parameter `param` of each element's unit.
struct Instruction {
  enum Op : uint8_t {
    kConst, kX, kParam,
    kNeg, kAdd, kSub, kMul, kDiv, kPow,
    kLt, kLe, kGt, kGe, kEq, kNe,
    kWhere, kMin, kMax, kAbs,
    kExp, kLog, kLog1p, kSqrt, kTanh, kSigmoid, kSoftplus, kErf, kSin, kCos,
  };
  Op op = kConst;
  int dst = 0, a = 0, b = 0, c = 0;
  int param = 0;
  double value = 0;
};

// A straight-line program: `code` run in order computes `outputs` (register numbers).
// Its kConst and kParam instructions come first and own their registers for the whole
// program, so an evaluator may run them once per call and the rest once per block.
struct Program {
  std::vector<Instruction> code;
  int registers = 0;
  std::vector<int> outputs;
};

// What the engine runs for one formula activation with its parameter values: the
// forward program (outputs f and df/dx) and, when some parameters are learnable, the
// gradient program (outputs df/dp for each learnable parameter, in `learnable` order).
// Parameters that are not learnable are constants of the programs.
struct CompiledActivation {
  Program forward;
  Program gradient;
  std::vector<int> learnable;  // indices into the formula's parameters
};

// A parsed formula over x and named parameters. Cheap to copy.
class Formula {
 public:
  // Parses `text`. Errors are InvalidArgument "LINE:COLUMN: problem" (`1:14: unknown
  // function "sigmod"; did you mean "sigmoid"?`), or "problem" for the whole text.
  static absl::StatusOr<Formula> Parse(absl::string_view text, const std::vector<std::string>& params);

  // The normalized text: one space around binary operators, parentheses only where
  // needed, numbers as FormatNumber writes them. Parse(Canonical()) gives the same formula.
  std::string Canonical() const;

  const std::vector<std::string>& params() const { return params_; }
  // Whether the formula reads parameter i.
  bool Uses(int param) const;

  // The programs for these parameter values (one per parameter) with the parameters of
  // `learnable` (indices) trained per unit. Errors when a program would exceed
  // kMaxProgramInstructions.
  absl::StatusOr<CompiledActivation> Compile(const std::vector<double>& values,
                                             const std::vector<int>& learnable) const;

  struct Node {
    Instruction::Op op;
    int a = -1, b = -1, c = -1;
    int param = -1;
    double value = 0;
  };

 private:
  std::vector<Node> nodes_;  // a DAG in topological order; the last node is the result
  std::vector<std::string> params_;
  int root_ = -1;
};

// The names formulas may not use for parameters or activations.
bool IsFormulaReservedName(absl::string_view name);

// Checks a formula activation on the wire: its name, parameters, learnable list and
// values, that the text parses and is already canonical, and that it compiles. The
// message has one "model.activation: problem" line per problem (empty when OK).
std::vector<std::string> FormulaProblems(const v1::ActivationSpec& spec);

// The activation spec of a formula definition with its default parameter values:
// kind FORMULA, formula{name, canonical text, parameter names, defaults, learnable},
// params = defaults. `where` prefixes errors ("activations.bent").
absl::StatusOr<v1::ActivationSpec> FormulaActivation(absl::string_view name, absl::string_view text,
                                                     const std::vector<std::string>& param_names,
                                                     const std::vector<double>& defaults,
                                                     const std::vector<std::string>& learnable);

}  // namespace actgrid::spec

#endif  // ACTGRID_COMMON_SPEC_FORMULA_H_
