// Packed training: up to kPackLanes trials with the same network shape, activation,
// dataset, batch size and optimizer kind train together, one trial per lane. Every
// parameter, activation and metric is stored lane-interleaved (value v of lane k at
// v * kPackLanes + k), so one vector instruction updates the same weight of every
// network of the pack; nothing ever combines two lanes.
//
// Each lane keeps its own weights, biases, learnable activation parameters, optimizer
// state, data order (its own seed's shuffle), learning rate, L2, momentum and Adam
// constants, epoch limit and per-epoch metrics. A lane's arithmetic is a fixed sequence
// of scalar operations on its own values, compiled without floating-point contraction
// (packed_trainer.cc is built with -ffp-contract=off): a trial's curve is the same
// bits whichever lane it trains in, with whatever pack-mates, alone or in a full pack,
// and whatever vector width the build has (portable x86-64, AVX2, AVX-512).
#ifndef ACTGRID_WORKER_ENGINE_PACKED_TRAINER_H_
#define ACTGRID_WORKER_ENGINE_PACKED_TRAINER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "actgrid/v1/metrics.pb.h"
#include "actgrid/v1/spec.pb.h"
#include "common/spec/pack.h"
#include "worker/engine/dataset.h"
#include "worker/engine/trainer.h"

namespace actgrid::engine {

inline constexpr int kPackLanes = 16;

// Which trials train packed, and which together: common/spec/pack.h.
using spec::kMaxPackedUnits;
using spec::Packable;
using spec::PackKey;

// Everything below lives in an inline namespace of the build variant (a test builds a
// baseline x86-64 copy next to the native one, in namespace `portable`).
#ifndef ACTGRID_PACKED_VARIANT
#define ACTGRID_PACKED_VARIANT packed_native
#endif
inline namespace ACTGRID_PACKED_VARIANT {

// A pack that trials join and leave one at a time. A trial added to a free lane is
// measured at epoch 0 in the next round and trains from the round after; a lane whose
// trial ends (its epoch limit, a non-finite epoch, its hooks.cancel) is free for the
// next Add. Whenever a trial joins and whoever its pack-mates are, its curve is the
// same bits. Not thread-safe: one thread drives a pack.
class PackedTrainer {
 public:
  // An empty pack for trials with `shape`'s PackKey on `data`, as wide as `trials`
  // needs (1, 2, 4, 8 or kPackLanes lanes: a lone trial does not pay for 16 lanes).
  // InvalidArgument when `shape` is invalid, cannot train packed, or `data` has no
  // training samples.
  static absl::StatusOr<std::unique_ptr<PackedTrainer>> Create(const v1::TrialSpec& shape, const Dataset& data,
                                                               int trials = kPackLanes);
  ~PackedTrainer();
  PackedTrainer(const PackedTrainer&) = delete;
  PackedTrainer& operator=(const PackedTrainer&) = delete;

  int Width() const;  // lanes
  int FreeLanes() const;
  bool Empty() const;
  // Puts `spec` in a free lane with its network initialized; `id` names it in what
  // Advance returns. InvalidArgument: an invalid spec, or another PackKey than the
  // pack's; FailedPrecondition: no free lane.
  absl::Status Add(int64_t id, const v1::TrialSpec& spec, TrialHooks hooks = {});

  struct Ended {
    int64_t id;
    absl::StatusOr<v1::TrialResult> result;  // as RunTrial's; Cancelled when hooks.cancel fired
  };
  // One round: every lane measured before trains one epoch and is measured again
  // (hooks.on_epoch runs for each measured epoch, on this thread); lanes added since
  // the last round are measured at epoch 0. Returns the trials that ended.
  std::vector<Ended> Advance();

 private:
  class Impl;
  PackedTrainer(std::unique_ptr<Impl> impl, std::string key);
  std::unique_ptr<Impl> impl_;
  std::string key_;
};

// Trains `specs` (1 to kPackLanes, equal PackKeys, each Packable, on `data`) together.
// Result i is trial i's, as RunTrial would report it apart from the order of floating
// point operations: its epochs (epoch 0 before any update), a lane that diverges ends
// at that epoch, a lane whose hooks[i].cancel fires ends Cancelled; the others go on.
// hooks may be empty or one per spec.
std::vector<absl::StatusOr<v1::TrialResult>> RunPackedTrials(const std::vector<v1::TrialSpec>& specs,
                                                            const Dataset& data,
                                                            const std::vector<TrialHooks>& hooks = {});

}  // namespace ACTGRID_PACKED_VARIANT
}  // namespace actgrid::engine

#endif  // ACTGRID_WORKER_ENGINE_PACKED_TRAINER_H_
