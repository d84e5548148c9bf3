// Matrix products for the network: C = S + op(A) op(B), op(X) = X or X^T. Small products
// use the register-blocked loops below (no call overhead); large float products go to
// OpenBLAS, whose packed kernels beat both on layers like 784x256 x batch 128.
//
// The contract of every product here (BlasGemm, Gemm, GemmSmall, SmallGemmNN/NT,
// FewRowsGemmNN/NT, Affine): C is written, never read, except when accumulating. The
// start S is exactly one of
//   - zero                                    "overwrite":  C = op(A) op(B)
//   - C's old contents                        "accumulate": C += op(A) op(B)
//   - a bias (m values) over each column of C "bias":       C = bias + A B
// A `bool accumulate` picks between the first two. SmallGemmNN and FewRowsGemmNN, the
// only kernels that take a bias, take a GemmStart instead, which holds exactly one of
// the three: a bias together with accumulating cannot be asked for. Affine is the bias
// product; Gemm never takes a bias. AddRowSums is not a product: it always accumulates
// (out += row sums).
// All matrices are column-major and packed (leading dimension = rows).
//
// A^T B^T is not a product the network needs and is not supported: Gemm and GemmSmall
// abort on it, in every build type (GemmCheck below, not assert, which Release drops).
#ifndef ACTGRID_WORKER_ENGINE_GEMM_H_
#define ACTGRID_WORKER_ENGINE_GEMM_H_

#include <algorithm>
#include <cstddef>
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

// Prints "actgrid gemm: <message>" to stderr and aborts (gemm.cc).
[[noreturn]] void GemmCheckFailed(const char* message);

// A precondition that holds in every build type: unlike assert, it is not compiled out
// under NDEBUG (Release and RelWithDebInfo, which CI builds). One predictable branch.
inline void GemmCheck(bool ok, const char* message) {
  if (__builtin_expect(!ok, 0)) GemmCheckFailed(message);
}

// Where a product's C starts (see the contract at the top): zero, C's old contents, or
// a bias broadcast over the columns. Only the named constructors below make one, so a
// start is always exactly one of the three.
template <class T>
class GemmStart {
 public:
  static GemmStart Overwrite() { return GemmStart(false, nullptr); }
  static GemmStart Accumulate() { return GemmStart(true, nullptr); }
  // bias: m values, one per row of C; not null.
  static GemmStart Bias(const T* bias) { return GemmStart(false, bias); }
  // Overwrite or Accumulate, from the `accumulate` flag of the other products.
  static GemmStart From(bool accumulate) { return GemmStart(accumulate, nullptr); }

  bool accumulate() const { return accumulate_; }
  const T* bias() const { return bias_; }  // null unless a bias start

 private:
  GemmStart(bool accumulate, const T* bias) : accumulate_(accumulate), bias_(bias) {}
  bool accumulate_;
  const T* bias_;
};

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

// C (m x n) = S + A (m x k) * B (k x n), S as `start_at` says.
template <class T>
void SmallGemmNN(int m, int n, int k, const T* __restrict a, const T* __restrict b,
                 T* __restrict c, GemmStart<T> start_at) {
  const bool accumulate = start_at.accumulate();
  const T* __restrict bias = start_at.bias();
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
      T acc = accumulate ? c[size_t(j) * m + i] : (bias ? bias[i] : T(0));
      for (int p = 0; p < k; ++p) acc += a[size_t(p) * m + i] * b[size_t(j) * k + p];
      c[size_t(j) * m + i] = acc;
    }
}

// C (m x q) = A (m x n) * B^T, or C += ... when accumulate; B (q x n).
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

// The thread-local scratch buffers of the kernels below, one per call site. A slot's
// buffer is one per thread and element type, grown once to the largest layer, and its
// contents last only until the next use of the same slot: two call sites on one slot
// would overwrite each other's data whenever one runs inside the other. So every call
// site names its own enumerator (each is listed with its one user); a new call site
// adds a new one, never reuses one. The enum is typed: KernelScratch takes nothing else.
enum class ScratchSlot {
  kTransposedA,       // GemmSmall: A^T of a TN product
  kFewRowsNNPadded,   // FewRowsGemmNN: A and the bias padded with zero rows
  kFewRowsNNProduct,  // FewRowsGemmNN: the padded product
  kFewRowsNTProduct,  // FewRowsGemmNT: C^T
};

template <ScratchSlot kSlot, class T>
T* KernelScratch(size_t size) {
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

// NN for fewer than kRowBlock rows (e.g. a 2-class output layer), same contract as
// SmallGemmNN: A and the bias (zero without one) are padded with zero rows to one row
// block, so the vectorized kernel runs; the padded rows of the product are dropped.
template <class T>
void FewRowsGemmNN(int m, int n, int k, const T* a, const T* b, T* c, GemmStart<T> start_at) {
  const bool accumulate = start_at.accumulate();
  const T* bias = start_at.bias();
  constexpr int R = kRowBlock;
  T* ap = KernelScratch<ScratchSlot::kFewRowsNNPadded, T>(size_t(R) * k + R);
  T* bp = ap + size_t(R) * k;
  T* cp = KernelScratch<ScratchSlot::kFewRowsNNProduct, T>(size_t(R) * n);
  for (int p = 0; p < k; ++p)
    for (int i = 0; i < R; ++i) ap[size_t(p) * R + i] = i < m ? a[size_t(p) * m + i] : T(0);
  for (int i = 0; i < R; ++i) bp[i] = bias && i < m ? bias[i] : T(0);
  SmallGemmNN<T>(R, n, k, ap, b, cp, GemmStart<T>::Bias(bp));
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i)
      c[size_t(j) * m + i] = (accumulate ? c[size_t(j) * m + i] : T(0)) + cp[size_t(j) * R + i];
}

// NT for fewer than kRowBlock rows: C^T (q x m) = B (q x n) * A^T in the vectorized
// NT kernel, then transposed into C.
template <class T>
void FewRowsGemmNT(int m, int q, int n, const T* a, const T* b, T* c, bool accumulate) {
  T* ct = KernelScratch<ScratchSlot::kFewRowsNTProduct, T>(size_t(m) * q);
  SmallGemmNT<T>(q, m, n, b, a, ct, false);
  for (int p = 0; p < q; ++p)
    for (int i = 0; i < m; ++i)
      c[size_t(p) * m + i] = (accumulate ? c[size_t(p) * m + i] : T(0)) + ct[size_t(i) * q + p];
}

template <class T>
void GemmSmall(bool trans_a, bool trans_b, ConstMatMap<T> a, ConstMatMap<T> b, MatMap<T> c,
               bool accumulate);

// C = op(A) * op(B), or C += ... when accumulate; op(X) = X or X^T. Not both
// transposed: aborts on A^T B^T (also for products OpenBLAS could do, so that every size
// answers the same).
template <class T>
void Gemm(bool trans_a, bool trans_b, ConstMatMap<T> a, ConstMatMap<T> b, MatMap<T> c,
          bool accumulate = false) {
  GemmCheck(!(trans_a && trans_b), "A^T B^T is not supported (not a product the network needs)");
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
// Overwrites C (the "bias" start of the contract at the top); bias is not null.
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
  const GemmStart<T> start_at = GemmStart<T>::Bias(bias);
  if (m < kRowBlock)
    FewRowsGemmNN<T>(int(m), int(n), int(k), a.data(), b.data(), c.data(), start_at);
  else
    SmallGemmNN<T>(int(m), int(n), int(k), a.data(), b.data(), c.data(), start_at);
}

// Gemm without OpenBLAS: the same contract, any T.
template <class T>
void GemmSmall(bool trans_a, bool trans_b, ConstMatMap<T> a, ConstMatMap<T> b, MatMap<T> c,
               bool accumulate) {
  GemmCheck(!(trans_a && trans_b), "A^T B^T is not supported (not a product the network needs)");
  const long m = c.rows(), n = c.cols(), k = trans_a ? a.rows() : a.cols();
  if (trans_b) {  // NT (TT is refused above)
    if (m < kRowBlock && n >= kRowBlock)
      FewRowsGemmNT<T>(int(m), int(n), int(k), a.data(), b.data(), c.data(), accumulate);
    else
      SmallGemmNT<T>(int(m), int(n), int(k), a.data(), b.data(), c.data(), accumulate);
    return;
  }
  const T* lhs = a.data();
  if (trans_a) {  // transpose A (k x m) into scratch (m x k)
    T* t = KernelScratch<ScratchSlot::kTransposedA, T>(size_t(m) * k);
    Transpose<T>(int(k), int(m), a.data(), t);
    lhs = t;
  }
  SmallGemmNN<T>(int(m), int(n), int(k), lhs, b.data(), c.data(), GemmStart<T>::From(accumulate));
}

}  // namespace actgrid::engine

#endif  // ACTGRID_WORKER_ENGINE_GEMM_H_
