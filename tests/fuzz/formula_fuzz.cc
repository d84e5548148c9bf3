// Fuzzes the formula language (common/spec/formula.h): any text, with a few parameter
// names, must parse or give an error, never crash, hang or grow without bound. A text
// that parses must print a canonical text that parses to the same canonical text, and
// must compile, for several parameter values and learnable sets, into programs the
// engine can run: every register read written before, every index in range.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/spec/formula.h"

namespace {

using actgrid::spec::CompiledActivation;
using actgrid::spec::Formula;
using actgrid::spec::Instruction;
using actgrid::spec::Program;

const std::vector<std::string>& Params() {
  static const std::vector<std::string> params = {"a", "b", "p", "alpha"};
  return params;
}

[[noreturn]] void Fail(const std::string& what, const std::string& text) {
  std::fprintf(stderr, "formula_fuzz: %s\ntext: %s\n", what.c_str(), text.c_str());
  std::abort();
}

// Operands an instruction reads.
int Arity(Instruction::Op op) {
  switch (op) {
    case Instruction::kConst:
    case Instruction::kX:
    case Instruction::kParam: return 0;
    case Instruction::kNeg:
    case Instruction::kAbs:
    case Instruction::kExp:
    case Instruction::kLog:
    case Instruction::kLog1p:
    case Instruction::kSqrt:
    case Instruction::kTanh:
    case Instruction::kSigmoid:
    case Instruction::kSoftplus:
    case Instruction::kErf:
    case Instruction::kSin:
    case Instruction::kCos: return 1;
    case Instruction::kWhere: return 3;
    default: return 2;
  }
}

// What the engine's evaluator (worker/engine/formula_eval.h) relies on.
void CheckProgram(const Program& p, size_t outputs, size_t learnable, const std::string& text) {
  if (p.outputs.size() != outputs) Fail("a program has the wrong number of outputs", text);
  if (p.registers < 0 || p.code.size() > size_t(actgrid::spec::kMaxProgramInstructions))
    Fail("a program is out of its bounds", text);
  std::vector<bool> written(size_t(p.registers), false);
  bool body = false;  // past the leading kConst and kParam instructions
  for (const Instruction& in : p.code) {
    if (in.dst < 0 || in.dst >= p.registers) Fail("an instruction writes outside the registers", text);
    const bool setup = in.op == Instruction::kConst || in.op == Instruction::kParam;
    if (setup && body) Fail("a constant or parameter instruction after the first computed one", text);
    body = body || !setup;
    if (in.op == Instruction::kParam && (in.param < 0 || size_t(in.param) >= learnable))
      Fail("a parameter instruction reads no learnable slot", text);
    const int operands[] = {in.a, in.b, in.c};
    for (int k = 0; k < Arity(in.op); ++k)
      if (operands[k] < 0 || operands[k] >= p.registers || !written[size_t(operands[k])])
        Fail("an instruction reads a register not written before", text);
    written[size_t(in.dst)] = true;
  }
  for (int o : p.outputs)
    if (o < 0 || o >= p.registers || !written[size_t(o)]) Fail("an output register is never written", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<Formula> formula = Formula::Parse(text, Params());
  if (!formula.ok()) return 0;

  const std::string canonical = formula->Canonical();
  // Numbers written out in full may make the normalized text longer than the bound;
  // definitions refuse that (FormulaActivation), so only shorter texts must parse again.
  if (canonical.size() > actgrid::spec::kMaxFormulaBytes) return 0;
  const absl::StatusOr<Formula> again = Formula::Parse(canonical, Params());
  if (!again.ok()) Fail("the canonical text does not parse: " + std::string(again.status().message()), text);
  if (again->Canonical() != canonical)
    Fail("the canonical text is not canonical: " + canonical + " -> " + again->Canonical(), text);
  for (int i = 0; i < int(Params().size()); ++i)
    if (again->Uses(i) != formula->Uses(i)) Fail("the canonical text uses other parameters", text);

  static const std::vector<std::vector<double>> kValues = {
      {0.1, 1.0, 0.0, -2.5}, {0, 0, 0, 0}, {1, -1, 0.5, 1e300}, {-1e-300, 2, 3, 0.25}};
  static const std::vector<std::vector<int>> kLearnable = {{}, {0}, {1, 3}, {0, 1, 2, 3}};
  for (size_t v = 0; v < kValues.size(); ++v) {
    for (size_t l = 0; l < kLearnable.size(); ++l) {
      if ((v + l) % 2 != 0) continue;  // half of the pairs keep each input cheap
      const absl::StatusOr<CompiledActivation> compiled = formula->Compile(kValues[v], kLearnable[l]);
      if (!compiled.ok()) continue;  // too large: an error, not a crash
      if (compiled->learnable != kLearnable[l]) Fail("the compiled learnable list differs", text);
      CheckProgram(compiled->forward, 2, kLearnable[l].size(), text);
      if (!kLearnable[l].empty()) CheckProgram(compiled->gradient, kLearnable[l].size(), kLearnable[l].size(), text);
    }
  }
  return 0;
}
