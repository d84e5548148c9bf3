// Activation functions: one small struct per function with its formula, value F,
// derivative D (given the pre-activation z and the cached output a) and, for
// learnable ones, the gradient of f with respect to its per-neuron parameters.
// A layer is dispatched once to a templated loop (VisitActivation), never per element.
// A NaN pre-activation gives a NaN value and derivative everywhere: a unit fed by a NaN
// weight must show up as diverged, not as a dead unit with zero gradients.
#ifndef ACTGRID_WORKER_ENGINE_ACTIVATION_H_
#define ACTGRID_WORKER_ENGINE_ACTIVATION_H_

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "actgrid/v1/spec.pb.h"
#include "common/spec/names.h"

namespace actgrid::engine {

// What an activation sees of its layer: fixed hyperparameters from the spec and the
// learnable parameters, laid out parameter-major (param q of unit i at q*units + i).
template <class T>
struct ActContext {
  const double* hyper = nullptr;
  const T* learn = nullptr;
  int units = 0;
};

// `z > 0 ? pos : nonpos` for the piecewise functions, except that NaN z, which fails
// both comparisons, comes out as itself instead of taking the nonpositive piece.
template <class T>
inline T Piecewise(T z, T pos, T nonpos) {
  return z > T(0) ? pos : (z <= T(0) ? nonpos : z);
}

// f(z) = z;  f'(z) = 1
template <class T>
struct Linear {
  static constexpr int kLearnable = 0;
  T F(T z, int) const { return z; }
  T D(T, T, int) const { return T(1); }
};

// f(z) = 1 / (1 + e^-z);  f'(z) = f(z) (1 - f(z))
template <class T>
struct Sigmoid {
  static constexpr int kLearnable = 0;
  T F(T z, int) const { return T(1) / (T(1) + std::exp(-z)); }
  T D(T, T a, int) const { return a * (T(1) - a); }
};

// f(z) = tanh z;  f'(z) = 1 - f(z)^2
template <class T>
struct Tanh {
  static constexpr int kLearnable = 0;
  T F(T z, int) const { return std::tanh(z); }
  T D(T, T a, int) const { return T(1) - a * a; }
};

// f(z) = max(0, z);  f'(z) = [z > 0]
template <class T>
struct Relu {
  static constexpr int kLearnable = 0;
  T F(T z, int) const { return Piecewise(z, z, T(0)); }
  T D(T z, T, int) const { return Piecewise(z, T(1), T(0)); }
};

// f(z) = z for z > 0, alpha z otherwise;  f'(z) = 1 or alpha
template <class T>
struct LeakyRelu {
  static constexpr int kLearnable = 0;
  T alpha;
  T F(T z, int) const { return z > T(0) ? z : alpha * z; }
  T D(T z, T, int) const { return Piecewise(z, T(1), alpha); }
};

// f(z) = z for z > 0, a_i z otherwise, a_i learnable per unit;
// f'(z) = 1 or a_i;  df/da_i = 0 or z
template <class T>
struct Prelu {
  static constexpr int kLearnable = 1;
  const T* slope;
  T F(T z, int i) const { return z > T(0) ? z : slope[i] * z; }
  T D(T z, T, int i) const { return Piecewise(z, T(1), slope[i]); }
  void Grad(T z, int i, T g, T* grad, int) const { grad[i] += z > T(0) ? T(0) : g * z; }
};

// f(z) = z for z > 0, alpha (e^z - 1) otherwise;  f'(z) = 1 or f(z) + alpha
template <class T>
struct Elu {
  static constexpr int kLearnable = 0;
  T alpha;
  T F(T z, int) const { return z > T(0) ? z : alpha * std::expm1(z); }
  T D(T z, T a, int) const { return z > T(0) ? T(1) : a + alpha; }
};

// f(z) = lambda z for z > 0, lambda alpha (e^z - 1) otherwise (lambda = 1.0507..., alpha = 1.6733...);
// f'(z) = lambda or f(z) + lambda alpha
template <class T>
struct Selu {
  static constexpr int kLearnable = 0;
  static constexpr T kLambda = T(1.0507009873554804934193349852946);
  static constexpr T kAlpha = T(1.6732632423543772848170429916717);
  T F(T z, int) const { return z > T(0) ? kLambda * z : kLambda * kAlpha * std::expm1(z); }
  T D(T z, T a, int) const { return z > T(0) ? kLambda : a + kLambda * kAlpha; }
};

// f(z) = z Phi(z), Phi the standard normal CDF (exact, erf form);
// f'(z) = Phi(z) + z phi(z)
template <class T>
struct Gelu {
  static constexpr int kLearnable = 0;
  static T Phi(T z) { return T(0.5) * (T(1) + std::erf(z * T(0.70710678118654752440))); }
  T F(T z, int) const { return z * Phi(z); }
  T D(T z, T, int) const {
    return Phi(z) + z * T(0.39894228040143267794) * std::exp(T(-0.5) * z * z);
  }
};

// f(z) = z sigma(z);  f'(z) = sigma(z) (1 + z (1 - sigma(z)))
template <class T>
struct Silu {
  static constexpr int kLearnable = 0;
  static T Sigma(T z) { return T(1) / (T(1) + std::exp(-z)); }
  T F(T z, int) const { return z * Sigma(z); }
  T D(T z, T, int) const {
    const T s = Sigma(z);
    return s * (T(1) + z * (T(1) - s));
  }
};

// softplus(z) = log(1 + e^z), computed as max(z, 0) + log1p(e^-|z|);  softplus'(z) = sigma(z)
template <class T>
inline T SoftplusValue(T z) {
  return (z > T(0) ? z : T(0)) + std::log1p(std::exp(-std::abs(z)));
}

// f(z) = z tanh(softplus(z));  f'(z) = tanh(sp) + z (1 - tanh(sp)^2) sigma(z)
template <class T>
struct Mish {
  static constexpr int kLearnable = 0;
  T F(T z, int) const { return z * std::tanh(SoftplusValue(z)); }
  T D(T z, T, int) const {
    const T t = std::tanh(SoftplusValue(z));
    const T s = T(1) / (T(1) + std::exp(-z));
    return t + z * (T(1) - t * t) * s;
  }
};

// f(z) = log(1 + e^z);  f'(z) = sigma(z)
template <class T>
struct Softplus {
  static constexpr int kLearnable = 0;
  T F(T z, int) const { return SoftplusValue(z); }
  T D(T z, T, int) const { return T(1) / (T(1) + std::exp(-z)); }
};

// f(z) = z / (1 + |z|);  f'(z) = 1 / (1 + |z|)^2
template <class T>
struct Softsign {
  static constexpr int kLearnable = 0;
  T F(T z, int) const { return z / (T(1) + std::abs(z)); }
  T D(T z, T, int) const {
    const T d = T(1) + std::abs(z);
    return T(1) / (d * d);
  }
};

// Reflected Linear Unit: two lines meeting at the peak (p_i, h_i), all four learnable per unit:
// f(z) = h + l (z - p) for z < p, h + r (z - p) otherwise;  f'(z) = l or r;
// df/dl = z - p or 0;  df/dr = 0 or z - p;  df/dp = -l or -r;  df/dh = 1
template <class T>
struct Reflu {
  static constexpr int kLearnable = 4;
  const T* p;  // [left | right | position | height], each `units` long
  int units;
  T F(T z, int i) const {
    const T d = z - p[2 * units + i];
    return p[3 * units + i] + (d < T(0) ? p[i] : p[units + i]) * d;
  }
  T D(T z, T, int i) const {
    const T d = z - p[2 * units + i];
    return d < T(0) ? p[i] : (d >= T(0) ? p[units + i] : d);
  }
  void Grad(T z, int i, T g, T* grad, int n) const {
    const T d = z - p[2 * n + i];
    if (d < T(0)) {
      grad[i] += g * d;
      grad[2 * n + i] -= g * p[i];
    } else {
      grad[n + i] += g * d;
      grad[2 * n + i] -= g * p[n + i];
    }
    grad[3 * n + i] += g;
  }
};

// f(z) = e^(-z^2);  f'(z) = -2 z f(z)
template <class T>
struct Gaussian {
  static constexpr int kLearnable = 0;
  T F(T z, int) const { return std::exp(-z * z); }
  T D(T z, T a, int) const { return T(-2) * z * a; }
};

// f(z) = sin(z) / z, f(0) = 1;  f'(z) = (cos z - f(z)) / z, f'(0) = 0
// sin(z) / z is accurate to an ulp or two for every z != 0. The derivative is not:
// cos z and f(z) both round to ~u (the unit roundoff) near 1 while their difference is
// ~z^2 / 3, so the direct form loses a relative ~6u / z^2. Below kSeries it is the
// Taylor series sum_k (-1)^k 2k z^(2k-1) / (2k+1)! instead, through z^13, whose first
// omitted term is below u there: kSeries = 1 for float (direct error <= ~4e-7 above),
// 0.5 for double (<= ~3e-15 above).
template <class T>
struct Sinc {
  static constexpr int kLearnable = 0;
  static constexpr T kSeries = sizeof(T) <= 4 ? T(1) : T(0.5);
  T F(T z, int) const { return z == T(0) ? T(1) : std::sin(z) / z; }
  T D(T z, T a, int) const {
    if (!(std::abs(z) < kSeries)) return (std::cos(z) - a) / z;  // also NaN
    const T z2 = z * z;
    return z * (T(-1.0 / 3) +
                z2 * (T(1.0 / 30) +
                      z2 * (T(-1.0 / 840) +
                            z2 * (T(1.0 / 45360) +
                                  z2 * (T(-1.0 / 3991680) +
                                        z2 * (T(1.0 / 518918400) + z2 * T(-1.0 / 93405312000)))))));
  }
};

// VisitActivation reached with a kind it does not implement: a spec that skipped
// validation (Network::Initialize refuses unknown kinds). No stand-in would be right.
[[noreturn]] inline void UnknownActivation(v1::ActivationKind kind) {
  std::fprintf(stderr, "actgrid engine: unknown activation kind %d\n", int(kind));
  std::abort();
}

// fn(op) for the op of `Kind`, whose learnable parameter count must be the one the
// spec's registry gives (a compile error otherwise).
template <v1::ActivationKind Kind, class Op, class Fn>
decltype(auto) Dispatch(Fn& fn, Op op) {
  static_assert(Op::kLearnable == spec::LearnablePerNeuron(Kind),
                "an activation op's learnable parameters differ from common/spec/names.h");
  return fn(op);
}

// Calls fn(op) with the op of the spec's kind. Maxout is not an elementwise op
// (the network handles it) and reaches fn as Linear, which the caller must not use.
// An unknown kind aborts the process.
template <class T, class Fn>
decltype(auto) VisitActivation(v1::ActivationKind kind, const ActContext<T>& ctx, Fn&& fn) {
  switch (kind) {
    case v1::ACTIVATION_KIND_SIGMOID: return Dispatch<v1::ACTIVATION_KIND_SIGMOID>(fn, Sigmoid<T>{});
    case v1::ACTIVATION_KIND_TANH: return Dispatch<v1::ACTIVATION_KIND_TANH>(fn, Tanh<T>{});
    case v1::ACTIVATION_KIND_RELU: return Dispatch<v1::ACTIVATION_KIND_RELU>(fn, Relu<T>{});
    case v1::ACTIVATION_KIND_LEAKY_RELU: return Dispatch<v1::ACTIVATION_KIND_LEAKY_RELU>(fn, LeakyRelu<T>{T(ctx.hyper[0])});
    case v1::ACTIVATION_KIND_PRELU: return Dispatch<v1::ACTIVATION_KIND_PRELU>(fn, Prelu<T>{ctx.learn});
    case v1::ACTIVATION_KIND_ELU: return Dispatch<v1::ACTIVATION_KIND_ELU>(fn, Elu<T>{T(ctx.hyper[0])});
    case v1::ACTIVATION_KIND_SELU: return Dispatch<v1::ACTIVATION_KIND_SELU>(fn, Selu<T>{});
    case v1::ACTIVATION_KIND_GELU: return Dispatch<v1::ACTIVATION_KIND_GELU>(fn, Gelu<T>{});
    case v1::ACTIVATION_KIND_SILU: return Dispatch<v1::ACTIVATION_KIND_SILU>(fn, Silu<T>{});
    case v1::ACTIVATION_KIND_MISH: return Dispatch<v1::ACTIVATION_KIND_MISH>(fn, Mish<T>{});
    case v1::ACTIVATION_KIND_SOFTPLUS: return Dispatch<v1::ACTIVATION_KIND_SOFTPLUS>(fn, Softplus<T>{});
    case v1::ACTIVATION_KIND_SOFTSIGN: return Dispatch<v1::ACTIVATION_KIND_SOFTSIGN>(fn, Softsign<T>{});
    case v1::ACTIVATION_KIND_REFLU: return Dispatch<v1::ACTIVATION_KIND_REFLU>(fn, Reflu<T>{ctx.learn, ctx.units});
    case v1::ACTIVATION_KIND_GAUSSIAN: return Dispatch<v1::ACTIVATION_KIND_GAUSSIAN>(fn, Gaussian<T>{});
    case v1::ACTIVATION_KIND_SINC: return Dispatch<v1::ACTIVATION_KIND_SINC>(fn, Sinc<T>{});
    case v1::ACTIVATION_KIND_LINEAR:
    case v1::ACTIVATION_KIND_MAXOUT: return fn(Linear<T>{});
    default: UnknownActivation(kind);
  }
}

}  // namespace actgrid::engine

#endif  // ACTGRID_WORKER_ENGINE_ACTIVATION_H_
