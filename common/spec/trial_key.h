// Trial keys: the name of a trial's result in every database.
//
// TrialKey covers what decides the numbers: the canonical TrialSpec (every default
// filled in; for a dataset read from files, the digest of their content is part of
// it) and the engine version. Equal keys mean the same result; a new engine version or
// changed data files give new keys, so results are never reused across them.
// SpecKey covers the spec alone, without engine version or dataset digest: it finds the
// results earlier engines measured for the same trial (and equals the key that
// databases written before engine versions gave their trials).
#ifndef ACTGRID_COMMON_SPEC_TRIAL_KEY_H_
#define ACTGRID_COMMON_SPEC_TRIAL_KEY_H_

#include <cstddef>
#include <string>

#include <google/protobuf/message_lite.h>

#include "actgrid/v1/spec.pb.h"

namespace actgrid::spec {

// Hex SHA-256 of the engine version and the spec's deterministic serialization.
std::string TrialKey(const v1::TrialSpec& spec, int engine_version);
std::string TrialKey(const v1::TrialSpec& spec);  // this build's engine version

// Hex SHA-256 of the spec's deterministic serialization with dataset.digest cleared.
std::string SpecKey(const v1::TrialSpec& spec);

// Lowercase hex of SHA-256 over `bytes`.
std::string Sha256Hex(const std::string& bytes);

// Lowercase hex of `size` bytes.
std::string Hex(const unsigned char* bytes, size_t size);

// A message's bytes with map and field order fixed: equal messages, equal bytes.
std::string DeterministicBytes(const google::protobuf::MessageLite& message);

}  // namespace actgrid::spec

#endif  // ACTGRID_COMMON_SPEC_TRIAL_KEY_H_
