// The large products go to OpenBLAS from every trial's thread at once. Debian's serial
// OpenBLAS is built without locking: two threads in it at the same time share its
// buffers and now and then get each other's numbers (a study's curves then split at
// random epochs from one run to the next). The build links the pthread OpenBLAS,
// pinned to one thread per call, whose buffers are locked.
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

}  // namespace
}  // namespace actgrid::engine
