// The tiny MLP every engine benchmark trains: TF-Playground's circle (1,000 samples,
// noise 0.1), 2-8-8-8-2 ReLU, He uniform, batch 10, plain SGD at lr 0.03, as
// bench/torch_bench.py trains it.
#ifndef ACTGRID_BENCH_TINY_SPEC_H_
#define ACTGRID_BENCH_TINY_SPEC_H_

#include <cstdint>

#include "actgrid/v1/spec.pb.h"
#include "common/spec/names.h"

namespace actgrid::bench {

inline v1::TrialSpec TinySpec(int epochs, uint64_t seed = 0) {
  v1::TrialSpec spec;
  auto* d = spec.mutable_dataset();
  d->set_kind(v1::DATASET_KIND_CIRCLE);
  d->set_samples(1000);
  d->set_noise(0.1);
  d->set_test_fraction(0.5);
  d->set_seed(7);
  d->set_scaling(v1::SCALING_STANDARDIZE);
  spec.mutable_model()->set_width(8);
  auto* t = spec.mutable_train();
  t->set_optimizer(v1::OPTIMIZER_SGD);  // plain SGD, as torch_bench.py: no momentum
  t->set_lr(0.03);
  t->set_batch(10);
  t->set_epochs(epochs);
  t->set_target_accuracy(0.9);
  t->set_beta1(0.9);
  t->set_beta2(0.999);
  t->set_eps(1e-8);
  *spec.mutable_activation() = spec::DefaultActivation(v1::ACTIVATION_KIND_RELU);
  *spec.mutable_init() = spec::DefaultInit(v1::INIT_KIND_HE_UNIFORM);
  spec.set_depth(3);
  spec.set_seed(seed);
  return spec;
}

}  // namespace actgrid::bench

#endif  // ACTGRID_BENCH_TINY_SPEC_H_
