// The large products go to OpenBLAS from every trial's thread at once. Debian's serial
// OpenBLAS is built without locking: two threads in it at the same time share its
// buffers and now and then get each other's numbers (a study's curves then split at
// random epochs from one run to the next). The build links the pthread OpenBLAS,
// pinned to one thread per call, whose buffers are locked.
// Also the products' contract (gemm.h) on every path, and its always-on check.
#include <atomic>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "worker/engine/gemm.h"

namespace actgrid::engine {
namespace {

TEST(Blas, ProductsFromSeveralThreadsAtOnceAreExact) {
  PinBlasToOneThread();
  // A first layer of a Fashion-MNIST MLP: 64 units x 784 inputs x a batch of 32.
  const int m = 64, n = 32, k = 784, rounds = 4000;
  std::vector<long> wrong(2, 0);
  std::atomic<int> ready{0};
  auto work = [&](int t) {
    std::mt19937 rng(7 + t);
    std::normal_distribution<float> normal;
    std::vector<float> a(size_t(m) * k), b(size_t(k) * n), expected(size_t(m) * n), c(size_t(m) * n);
    for (float& v : a) v = normal(rng);
    for (float& v : b) v = normal(rng);
    BlasGemm(false, false, m, n, k, a.data(), m, b.data(), k, false, expected.data());
    ready.fetch_add(1);
    while (ready.load() < 2) std::this_thread::yield();  // both threads in the library together
    for (int r = 0; r < rounds; ++r) {
      BlasGemm(false, false, m, n, k, a.data(), m, b.data(), k, false, c.data());
      wrong[t] += std::memcmp(c.data(), expected.data(), c.size() * sizeof(float)) != 0;
    }
  };
  for (int burst = 0; burst < 3; ++burst) {  // a collision in the library's buffers is a matter of timing
    ready = 0;
    std::thread first(work, 0), second(work, 1);
    first.join();
    second.join();
  }
  EXPECT_EQ(wrong[0] + wrong[1], 0) << wrong[0] << " and " << wrong[1] << " of " << 3 * rounds
                                    << " products differ from the same product computed before";
}

// The contract at the top of gemm.h, on every path a product can take: the few-rows,
// register-blocked and (float, large) OpenBLAS kernels. C starts as garbage to overwrite,
// or as values to accumulate onto; Affine starts at the bias.
template <class T>
void CheckContract(int m, int n, int k, T tolerance) {
  std::mt19937 rng(11 + m * 131 + n * 7 + k);
  std::normal_distribution<double> normal;
  auto random = [&](size_t size) {
    std::vector<T> v(size);
    for (T& x : v) x = T(normal(rng));
    return v;
  };
  const std::vector<T> a = random(size_t(m) * k), at = random(size_t(k) * m),
                       b = random(size_t(k) * n), bt = random(size_t(n) * k), bias = random(m),
                       c0 = random(size_t(m) * n);
  for (int op = 0; op < 3; ++op) {  // NN, TN, NT
    const bool ta = op == 1, tb = op == 2;
    const T* ad = ta ? at.data() : a.data();
    const T* bd = tb ? bt.data() : b.data();
    auto product = [&](int i, int j) {  // op(A) op(B) at (i, j), in double
      double sum = 0.0;
      for (int p = 0; p < k; ++p)
        sum += double(ta ? ad[size_t(i) * k + p] : ad[size_t(p) * m + i]) *
               double(tb ? bd[size_t(p) * n + j] : bd[size_t(j) * k + p]);
      return sum;
    };
    for (bool accumulate : {false, true}) {
      std::vector<T> c = c0;
      Gemm<T>(ta, tb, ConstMatMap<T>(ad, ta ? k : m, ta ? m : k),
              ConstMatMap<T>(bd, tb ? n : k, tb ? k : n), MatMap<T>(c.data(), m, n), accumulate);
      for (int j = 0; j < n; ++j)
        for (int i = 0; i < m; ++i) {
          const size_t e = size_t(j) * m + i;
          ASSERT_NEAR(double(c[e]), (accumulate ? double(c0[e]) : 0.0) + product(i, j), tolerance)
              << "op " << op << " accumulate " << accumulate << " at " << i << "," << j << " of "
              << m << "x" << n << "x" << k;
        }
    }
  }
  std::vector<T> c = c0;
  Affine<T>(ConstMatMap<T>(a.data(), m, k), ConstMatMap<T>(b.data(), k, n), bias.data(),
            MatMap<T>(c.data(), m, n));
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      double sum = bias[i];
      for (int p = 0; p < k; ++p) sum += double(a[size_t(p) * m + i]) * double(b[size_t(j) * k + p]);
      ASSERT_NEAR(double(c[size_t(j) * m + i]), sum, tolerance)
          << "Affine at " << i << "," << j << " of " << m << "x" << n << "x" << k;
    }
}

TEST(Gemm, OneContractOnEveryPath) {
  PinBlasToOneThread();
  const int shapes[][3] = {{2, 9, 5},   {3, 2, 4},    {5, 16, 7}, {8, 8, 8},
                           {13, 6, 9},  {17, 11, 3},  {1, 1, 1},  {70, 80, 90},
                           {4, 128, 512}, {256, 32, 64}};
  for (const auto& s : shapes) {
    CheckContract<float>(s[0], s[1], s[2], 1e-3f);
    CheckContract<double>(s[0], s[1], s[2], 1e-10);
  }
}

// A^T B^T is refused with a message in every build type, not by an assert, which CI's
// Release builds (NDEBUG) compile out: the small kernels would then silently return
// A^T B instead (here with B square, so nothing is even read out of bounds).
TEST(GemmDeathTest, BothTransposedAbortsEvenWithNdebug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::vector<float> a(4 * 3, 1.0f), b(4 * 4, 1.0f), c(3 * 4, 0.0f);
  std::vector<double> ad(a.begin(), a.end()), bd(b.begin(), b.end()), cd(c.size(), 0.0);
  // A (4 x 3) -> A^T (3 x 4), B (4 x 4) -> B^T, C (3 x 4): the small kernels.
  EXPECT_DEATH(Gemm<float>(true, true, ConstMatMap<float>(a.data(), 4, 3),
                           ConstMatMap<float>(b.data(), 4, 4), MatMap<float>(c.data(), 3, 4)),
               "A\\^T B\\^T is not supported");
  EXPECT_DEATH(Gemm<double>(true, true, ConstMatMap<double>(ad.data(), 4, 3),
                            ConstMatMap<double>(bd.data(), 4, 4), MatMap<double>(cd.data(), 3, 4)),
               "A\\^T B\\^T is not supported");
  EXPECT_DEATH(GemmSmall<float>(true, true, ConstMatMap<float>(a.data(), 4, 3),
                                ConstMatMap<float>(b.data(), 4, 4), MatMap<float>(c.data(), 3, 4),
                                false),
               "A\\^T B\\^T is not supported");
  // A product large enough for OpenBLAS, which could do it, is refused the same way.
  const int big = 64;
  std::vector<float> la(size_t(big) * big, 1.0f), lb(la), lc(la.size());
  EXPECT_DEATH(Gemm<float>(true, true, ConstMatMap<float>(la.data(), big, big),
                           ConstMatMap<float>(lb.data(), big, big), MatMap<float>(lc.data(), big, big)),
               "A\\^T B\\^T is not supported");
}

}  // namespace
}  // namespace actgrid::engine
