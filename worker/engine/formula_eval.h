// Runs the compiled programs of a formula activation (common/spec/formula.h) over a
// layer's pre-activations: each instruction is one tight loop over a block of values
// (no per-element interpretation, no call per value), blocks of whole columns so that a
// learnable parameter's register is the same for every block.
#ifndef ACTGRID_WORKER_ENGINE_FORMULA_EVAL_H_
#define ACTGRID_WORKER_ENGINE_FORMULA_EVAL_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

#include "common/spec/formula.h"

namespace actgrid::engine {

template <class T>
class FormulaRunner {
 public:
  explicit FormulaRunner(spec::CompiledActivation compiled) : c_(std::move(compiled)) {}

  // Learnable parameters per unit.
  int learnable() const { return int(c_.learnable.size()); }
  // Which formula parameter learnable slot q is.
  int learnable_param(int q) const { return c_.learnable[size_t(q)]; }

  // a = f(z) and d = f'(z) for the rows x n values of z (column-major, one row per unit);
  // `learn` holds the learnable parameters parameter-major (slot q of unit i at
  // q * rows + i). A NaN pre-activation gives a NaN value and derivative, as the
  // built-in functions do.
  void Forward(const T* z, int rows, int n, const T* learn, T* a, T* d) {
    Blocks(rows, n, learn, c_.forward, forward_regs_, [&](size_t begin, size_t len) {
      Run(c_.forward, z + begin, len, forward_regs_);
      const T* f = Reg(forward_regs_, c_.forward.outputs[0]);
      const T* df = Reg(forward_regs_, c_.forward.outputs[1]);
      for (size_t e = 0; e < len; ++e) {
        const T x = z[begin + e];
        const bool nan = x != x;
        a[begin + e] = nan ? x : f[e];
        d[begin + e] = nan ? x : df[e];
      }
    });
  }

  // grad[q * rows + i] += sum over columns j of g(i, j) * df/dp_q at z(i, j), in column order.
  void ParamGrads(const T* z, const T* g, int rows, int n, const T* learn, T* grad) {
    if (c_.learnable.empty()) return;
    Blocks(rows, n, learn, c_.gradient, gradient_regs_, [&](size_t begin, size_t len) {
      Run(c_.gradient, z + begin, len, gradient_regs_);
      for (size_t q = 0; q < c_.learnable.size(); ++q) {
        const T* dp = Reg(gradient_regs_, c_.gradient.outputs[q]);
        T* out = grad + q * size_t(rows);
        for (size_t col = 0; col < len / size_t(rows); ++col)
          for (int i = 0; i < rows; ++i) {
            const size_t e = col * size_t(rows) + size_t(i);
            out[i] += g[begin + e] * dp[e];
          }
      }
    });
  }

 private:
  static constexpr size_t kBlockValues = 256;

  struct Registers {
    std::vector<T> values;
    size_t stride = 0;  // values per register: whole columns
    int rows = -1;
  };

  T* Reg(Registers& r, int k) { return r.values.data() + size_t(k) * r.stride; }

  // Calls run(begin, len) for each block of whole columns, after filling the constant
  // registers (when the block shape changed) and the learnable parameters' registers.
  template <class Fn>
  void Blocks(int rows, int n, const T* learn, const spec::Program& p, Registers& r, Fn&& run) {
    const size_t cols = std::max<size_t>(1, kBlockValues / size_t(rows));
    if (r.rows != rows) {
      r.rows = rows;
      r.stride = cols * size_t(rows);
      r.values.assign(size_t(p.registers) * r.stride, T(0));
      for (const spec::Instruction& in : p.code)
        if (in.op == spec::Instruction::kConst) std::fill_n(Reg(r, in.dst), r.stride, T(in.value));
    }
    for (const spec::Instruction& in : p.code) {
      if (in.op != spec::Instruction::kParam) continue;
      T* dst = Reg(r, in.dst);
      const T* values = learn + size_t(in.param) * size_t(rows);
      for (size_t col = 0; col < cols; ++col) std::copy(values, values + rows, dst + col * size_t(rows));
    }
    const size_t total = size_t(rows) * size_t(n);
    for (size_t begin = 0; begin < total; begin += r.stride) run(begin, std::min(r.stride, total - begin));
  }

  void Run(const spec::Program& p, const T* x, size_t len, Registers& r) {
    using I = spec::Instruction;
    for (const I& in : p.code) {
      if (in.op == I::kConst || in.op == I::kParam) continue;
      T* d = Reg(r, in.dst);
      const T* a = in.op == I::kX ? x : in.a >= 0 ? Reg(r, in.a) : nullptr;
      const T* b = in.b >= 0 ? Reg(r, in.b) : nullptr;
      const T* c = in.c >= 0 ? Reg(r, in.c) : nullptr;
      switch (in.op) {
        case I::kX: std::copy(a, a + len, d); break;
        case I::kNeg: for (size_t e = 0; e < len; ++e) d[e] = -a[e]; break;
        case I::kAdd: for (size_t e = 0; e < len; ++e) d[e] = a[e] + b[e]; break;
        case I::kSub: for (size_t e = 0; e < len; ++e) d[e] = a[e] - b[e]; break;
        case I::kMul: for (size_t e = 0; e < len; ++e) d[e] = a[e] * b[e]; break;
        case I::kDiv: for (size_t e = 0; e < len; ++e) d[e] = a[e] / b[e]; break;
        case I::kPow: for (size_t e = 0; e < len; ++e) d[e] = std::pow(a[e], b[e]); break;
        case I::kLt: for (size_t e = 0; e < len; ++e) d[e] = a[e] < b[e] ? T(1) : T(0); break;
        case I::kLe: for (size_t e = 0; e < len; ++e) d[e] = a[e] <= b[e] ? T(1) : T(0); break;
        case I::kGt: for (size_t e = 0; e < len; ++e) d[e] = a[e] > b[e] ? T(1) : T(0); break;
        case I::kGe: for (size_t e = 0; e < len; ++e) d[e] = a[e] >= b[e] ? T(1) : T(0); break;
        case I::kEq: for (size_t e = 0; e < len; ++e) d[e] = a[e] == b[e] ? T(1) : T(0); break;
        case I::kNe: for (size_t e = 0; e < len; ++e) d[e] = a[e] != b[e] ? T(1) : T(0); break;
        case I::kWhere: for (size_t e = 0; e < len; ++e) d[e] = a[e] != T(0) ? b[e] : c[e]; break;
        case I::kMin: for (size_t e = 0; e < len; ++e) d[e] = a[e] < b[e] ? a[e] : b[e]; break;
        case I::kMax: for (size_t e = 0; e < len; ++e) d[e] = a[e] > b[e] ? a[e] : b[e]; break;
        case I::kAbs: for (size_t e = 0; e < len; ++e) d[e] = std::abs(a[e]); break;
        case I::kExp: for (size_t e = 0; e < len; ++e) d[e] = std::exp(a[e]); break;
        case I::kLog: for (size_t e = 0; e < len; ++e) d[e] = std::log(a[e]); break;
        case I::kLog1p: for (size_t e = 0; e < len; ++e) d[e] = std::log1p(a[e]); break;
        case I::kSqrt: for (size_t e = 0; e < len; ++e) d[e] = std::sqrt(a[e]); break;
        case I::kTanh: for (size_t e = 0; e < len; ++e) d[e] = std::tanh(a[e]); break;
        case I::kSigmoid: for (size_t e = 0; e < len; ++e) d[e] = T(1) / (T(1) + std::exp(-a[e])); break;
        case I::kSoftplus:
          for (size_t e = 0; e < len; ++e)
            d[e] = (a[e] > T(0) ? a[e] : T(0)) + std::log1p(std::exp(-std::abs(a[e])));
          break;
        case I::kErf: for (size_t e = 0; e < len; ++e) d[e] = std::erf(a[e]); break;
        case I::kSin: for (size_t e = 0; e < len; ++e) d[e] = std::sin(a[e]); break;
        case I::kCos: for (size_t e = 0; e < len; ++e) d[e] = std::cos(a[e]); break;
        default: break;
      }
    }
  }

  spec::CompiledActivation c_;
  Registers forward_regs_, gradient_regs_;
};

}  // namespace actgrid::engine

#endif  // ACTGRID_WORKER_ENGINE_FORMULA_EVAL_H_
