// Matrix products for the network: C = op(A) op(B) (+ C). Small products use Eigen's
// coefficient-based kernels (no call overhead); large float products go to OpenBLAS,
// whose packed kernels beat Eigen's on layers like 784x256 x batch 128.
#ifndef ACTGRID_WORKER_ENGINE_GEMM_H_
#define ACTGRID_WORKER_ENGINE_GEMM_H_

#include <type_traits>

#include <Eigen/Core>

namespace actgrid::engine {

// Products below this many multiply-adds stay in Eigen's lazy kernels.
inline constexpr long kBlasMinFlops = 64L * 64 * 64;

template <class T>
using MatMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>>;
template <class T>
using ConstMatMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>>;

// C (m x n) = op(A) * op(B), or C += ... when accumulate. Column-major, packed.
void BlasGemm(bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda,
              const float* b, int ldb, bool accumulate, float* c);

// Makes OpenBLAS single-threaded (trials run one per thread). Safe to call often.
void PinBlasToOneThread();

template <class T>
void Gemm(bool trans_a, bool trans_b, ConstMatMap<T> a, ConstMatMap<T> b, MatMap<T> c,
          bool accumulate = false) {
  const long m = c.rows(), n = c.cols(), k = trans_a ? a.rows() : a.cols();
  if constexpr (std::is_same_v<T, float>) {
    if (m * n * k >= kBlasMinFlops) {
      BlasGemm(trans_a, trans_b, int(m), int(n), int(k), a.data(), int(a.rows()), b.data(),
               int(b.rows()), accumulate, c.data());
      return;
    }
  }
  auto run = [&](const auto& lhs, const auto& rhs) {
    if (accumulate)
      c.noalias() += lhs.lazyProduct(rhs);
    else
      c.noalias() = lhs.lazyProduct(rhs);
  };
  if (!trans_a && !trans_b) run(a, b);
  else if (trans_a && !trans_b) run(a.transpose(), b);
  else if (!trans_a && trans_b) run(a, b.transpose());
  else run(a.transpose(), b.transpose());
}

}  // namespace actgrid::engine

#endif  // ACTGRID_WORKER_ENGINE_GEMM_H_
