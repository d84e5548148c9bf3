// OpenBLAS bindings for the large products of gemm.h, and its always-on check.
#include "worker/engine/gemm.h"

#include <cblas.h>

#include <cstdio>
#include <cstdlib>

namespace actgrid::engine {

void BlasGemm(bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda,
              const float* b, int ldb, bool accumulate, float* c) {
  cblas_sgemm(CblasColMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb,
              accumulate ? 1.0f : 0.0f, c, m);
}

void GemmCheckFailed(const char* message) {
  std::fprintf(stderr, "actgrid gemm: %s\n", message);
  std::fflush(stderr);
  std::abort();
}

void PinBlasToOneThread() {
  static const bool pinned = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)pinned;
}

}  // namespace actgrid::engine
