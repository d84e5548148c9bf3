// Matrix products for the network: C = op(A) op(B) (+ C). Small products use the
// register-blocked loops below (no call overhead); large float products go to OpenBLAS,
// whose packed kernels beat both on layers like 784x256 x batch 128.
#ifndef ACTGRID_WORKER_ENGINE_GEMM_H_
#define ACTGRID_WORKER_ENGINE_GEMM_H_

#include <algorithm>
#include <cassert>
#include <cstring>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

namespace actgrid::engine {

// Products below this many multiply-adds stay in the small kernels below.
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

// Register-blocked kernels for small products, column-major and packed. Rows go in
// blocks of kRowBlock held in registers; the compiler vectorizes the fixed-size inner
// loops. Deterministic: the summation order depends only on the shapes.
inline constexpr int kRowBlock = 8;

// Columns (NN) or output columns (NT) processed together: independent accumulator
// chains hide the latency of the fused multiply-adds.
inline constexpr int kColBlock = 4;
static_assert(kColBlock == 4, "the kernels below unroll exactly four accumulators");

// kRowBlock consecutive scalars as one SIMD value (GCC/Clang vector extension).
template <class T>
struct RowVec {
  typedef T type __attribute__((vector_size(sizeof(T) * kRowBlock)));
};
template <class T>
using Rows = typename RowVec<T>::type;

template <class T>
inline Rows<T> LoadRows(const T* p) {
  Rows<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T>
inline void StoreRows(T* p, const Rows<T>& v) {
  std::memcpy(p, &v, sizeof v);
}
template <class T>
inline Rows<T> Broadcast(T x) {
  return Rows<T>{} + x;
}

// C (m x n) (+)= A (m x k) * B (k x n); with `bias`, C starts at bias in every column.
template <class T>
void SmallGemmNN(int m, int n, int k, const T* __restrict a, const T* __restrict b,
                 T* __restrict c, bool accumulate, const T* __restrict bias = nullptr) {
  constexpr int R = kRowBlock, J = kColBlock;
  int i0 = 0;
  for (; i0 + R <= m; i0 += R) {
    const Rows<T> start = bias ? LoadRows(bias + i0) : Rows<T>{};
    auto init = [&](int j) { return accumulate ? LoadRows(c + size_t(j) * m + i0) : start; };
    int j0 = 0;
    for (; j0 + J <= n; j0 += J) {
      Rows<T> c0 = init(j0), c1 = init(j0 + 1), c2 = init(j0 + 2), c3 = init(j0 + 3);
      const T* b0 = b + size_t(j0) * k;
      for (int p = 0; p < k; ++p) {
        const Rows<T> ap = LoadRows(a + size_t(p) * m + i0);
        c0 += ap * Broadcast(b0[p]);
        c1 += ap * Broadcast(b0[k + p]);
        c2 += ap * Broadcast(b0[2 * k + p]);
        c3 += ap * Broadcast(b0[3 * k + p]);
      }
      StoreRows(c + size_t(j0) * m + i0, c0);
      StoreRows(c + size_t(j0 + 1) * m + i0, c1);
      StoreRows(c + size_t(j0 + 2) * m + i0, c2);
      StoreRows(c + size_t(j0 + 3) * m + i0, c3);
    }
    for (; j0 < n; ++j0) {
      Rows<T> acc = init(j0);
      for (int p = 0; p < k; ++p)
        acc += LoadRows(a + size_t(p) * m + i0) * Broadcast(b[size_t(j0) * k + p]);
      StoreRows(c + size_t(j0) * m + i0, acc);
    }
  }
  for (int i = i0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      T acc = bias ? bias[i] : (accumulate ? c[size_t(j) * m + i] : T(0));
      for (int p = 0; p < k; ++p) acc += a[size_t(p) * m + i] * b[size_t(j) * k + p];
      c[size_t(j) * m + i] = acc;
    }
}

// C (m x q) (+)= A (m x n) * B^T, B (q x n)
template <class T>
void SmallGemmNT(int m, int q, int n, const T* __restrict a, const T* __restrict b,
                 T* __restrict c, bool accumulate) {
  constexpr int R = kRowBlock, P = kColBlock;
  int i0 = 0;
  for (; i0 + R <= m; i0 += R) {
    auto init = [&](int p) { return accumulate ? LoadRows(c + size_t(p) * m + i0) : Rows<T>{}; };
    int p0 = 0;
    for (; p0 + P <= q; p0 += P) {
      Rows<T> c0 = init(p0), c1 = init(p0 + 1), c2 = init(p0 + 2), c3 = init(p0 + 3);
      for (int j = 0; j < n; ++j) {
        const Rows<T> aj = LoadRows(a + size_t(j) * m + i0);
        const T* bj = b + size_t(j) * q + p0;
        c0 += aj * Broadcast(bj[0]);
        c1 += aj * Broadcast(bj[1]);
        c2 += aj * Broadcast(bj[2]);
        c3 += aj * Broadcast(bj[3]);
      }
      StoreRows(c + size_t(p0) * m + i0, c0);
      StoreRows(c + size_t(p0 + 1) * m + i0, c1);
      StoreRows(c + size_t(p0 + 2) * m + i0, c2);
      StoreRows(c + size_t(p0 + 3) * m + i0, c3);
    }
    for (; p0 < q; ++p0) {
      Rows<T> acc = init(p0);
      for (int j = 0; j < n; ++j)
        acc += LoadRows(a + size_t(j) * m + i0) * Broadcast(b[size_t(j) * q + p0]);
      StoreRows(c + size_t(p0) * m + i0, acc);
    }
  }
  for (int i = i0; i < m; ++i)
    for (int p = 0; p < q; ++p) {
      T acc = accumulate ? c[size_t(p) * m + i] : T(0);
      for (int j = 0; j < n; ++j) acc += a[size_t(j) * m + i] * b[size_t(j) * q + p];
      c[size_t(p) * m + i] = acc;
    }
}

// out (m) += row sums of A (m x n), in registers (two chains per row block).
template <class T>
void AddRowSums(int m, int n, const T* __restrict a, T* __restrict out) {
  int i0 = 0;
  for (; i0 + kRowBlock <= m; i0 += kRowBlock) {
    Rows<T> s0{}, s1{};
    int j = 0;
    for (; j + 2 <= n; j += 2) {
      s0 += LoadRows(a + size_t(j) * m + i0);
      s1 += LoadRows(a + size_t(j + 1) * m + i0);
    }
    if (j < n) s0 += LoadRows(a + size_t(j) * m + i0);
    StoreRows(out + i0, LoadRows(out + i0) + s0 + s1);
  }
  for (int i = i0; i < m; ++i) {
    T acc = T(0);
    for (int j = 0; j < n; ++j) acc += a[size_t(j) * m + i];
    out[i] += acc;
  }
}

// Scratch for transposes, one per thread and purpose, grown once to the largest layer.
template <class T, int kSlot = 0>
T* TransposeScratch(size_t size) {
  thread_local std::vector<T> scratch;
  if (scratch.size() < size) scratch.resize(size);
  return scratch.data();
}

// out (cols x rows) = in^T for in (rows x cols), both column-major.
template <class T>
void Transpose(int rows, int cols, const T* __restrict in, T* __restrict out) {
  for (int j = 0; j < cols; ++j)
    for (int i = 0; i < rows; ++i) out[size_t(i) * cols + j] = in[size_t(j) * rows + i];
}

// NN for fewer than kRowBlock rows (e.g. a 2-class output layer): A and the bias are
// padded with zero rows to one row block, so the vectorized kernel runs; the padded
// rows of the product are dropped.
template <class T>
void FewRowsGemmNN(int m, int n, int k, const T* a, const T* b, T* c, bool accumulate,
                   const T* bias) {
  constexpr int R = kRowBlock;
  T* ap = TransposeScratch<T, 1>(size_t(R) * k + R);
  T* bp = ap + size_t(R) * k;
  T* cp = TransposeScratch<T, 2>(size_t(R) * n);
  for (int p = 0; p < k; ++p)
    for (int i = 0; i < R; ++i) ap[size_t(p) * R + i] = i < m ? a[size_t(p) * m + i] : T(0);
  for (int i = 0; i < R; ++i) bp[i] = bias && i < m ? bias[i] : T(0);
  SmallGemmNN<T>(R, n, k, ap, b, cp, false, bp);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i)
      c[size_t(j) * m + i] = (accumulate && !bias ? c[size_t(j) * m + i] : T(0)) + cp[size_t(j) * R + i];
}

// NT for fewer than kRowBlock rows: C^T (q x m) = B (q x n) * A^T in the vectorized
// NT kernel, then transposed into C.
template <class T>
void FewRowsGemmNT(int m, int q, int n, const T* a, const T* b, T* c, bool accumulate) {
  T* ct = TransposeScratch<T, 1>(size_t(m) * q);
  SmallGemmNT<T>(q, m, n, b, a, ct, false);
  for (int p = 0; p < q; ++p)
    for (int i = 0; i < m; ++i)
      c[size_t(p) * m + i] = (accumulate ? c[size_t(p) * m + i] : T(0)) + ct[size_t(i) * q + p];
}

template <class T>
void GemmSmall(bool trans_a, bool trans_b, ConstMatMap<T> a, ConstMatMap<T> b, MatMap<T> c,
               bool accumulate);

// C = op(A) * op(B) or C += ...; op(X) = X or X^T, not both transposed. A, B, C
// column-major and packed.
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
  GemmSmall<T>(trans_a, trans_b, a, b, c, accumulate);
}

// C (m x n) = bias (broadcast over columns) + A (m x k) * B (k x n): a layer's affine map.
template <class T>
void Affine(ConstMatMap<T> a, ConstMatMap<T> b, const T* bias, MatMap<T> c) {
  const long m = c.rows(), n = c.cols(), k = a.cols();
  if constexpr (std::is_same_v<T, float>) {
    if (m * n * k >= kBlasMinFlops) {
      for (long j = 0; j < n; ++j) std::copy_n(bias, m, c.data() + j * m);
      BlasGemm(false, false, int(m), int(n), int(k), a.data(), int(m), b.data(), int(k), true,
               c.data());
      return;
    }
  }
  if (m < kRowBlock)
    FewRowsGemmNN<T>(int(m), int(n), int(k), a.data(), b.data(), c.data(), false, bias);
  else
    SmallGemmNN<T>(int(m), int(n), int(k), a.data(), b.data(), c.data(), false, bias);
}

template <class T>
void GemmSmall(bool trans_a, bool trans_b, ConstMatMap<T> a, ConstMatMap<T> b, MatMap<T> c,
               bool accumulate) {
  const long m = c.rows(), n = c.cols(), k = trans_a ? a.rows() : a.cols();
  if (trans_b && !trans_a) {
    if (m < kRowBlock && n >= kRowBlock)
      FewRowsGemmNT<T>(int(m), int(n), int(k), a.data(), b.data(), c.data(), accumulate);
    else
      SmallGemmNT<T>(int(m), int(n), int(k), a.data(), b.data(), c.data(), accumulate);
    return;
  }
  const T* lhs = a.data();
  if (trans_a) {  // transpose A (k x m) into scratch (m x k)
    T* t = TransposeScratch<T>(size_t(m) * k);
    Transpose<T>(int(k), int(m), a.data(), t);
    lhs = t;
  }
  assert(!trans_b && "A^T B^T is not a product the network needs");
  SmallGemmNN<T>(int(m), int(n), int(k), lhs, b.data(), c.data(), accumulate);
}

}  // namespace actgrid::engine

#endif  // ACTGRID_WORKER_ENGINE_GEMM_H_
