// SPDX-License-Identifier: Apache-2.0
// Which maps get an element walk in a collection, and what the others report meanwhile.
// A walk costs O(max_entries), so each collection has a budget (entries and time): the maps
// waiting longest go first (since their last walk, or since first seen), at least one map is
// walked per collection (so a map larger than the whole budget is still counted, alone), and
// the rest keep the count of their last walk, flagged stale, or are flagged skipped until
// their turn comes. Pure C++.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "elem_walker.h"
#include "sys_error.h"

struct map_stats_record;

namespace emp {

struct WalkOptions {
  bool enabled = true;
  uint64_t max_entries = 1000000;  // sum of the walked maps' max_entries per collection
  double budget_ms = 200;          // no walk starts after this much walking in a collection
};

class WalkSchedule {
 public:
  WalkSchedule(const WalkOptions& options, std::string btf_path)
      : options_(options), btf_path_(std::move(btf_path)) {}

  // Loads the walk programs now (when walks are enabled) rather than at the first map that
  // needs one: the reader's fds stay the same from its start, and what the kernel refuses is
  // known before the first collection.
  void Load();

  // Why a walk program is not loaded: empty when it is, or when walks are disabled.
  SysError LoadError(WalkProgram program) const;

  // Counts the records flagged MAP_STATS_F_NEEDS_WALK, in place: entries, count_method
  // (MAP_COUNT_WALK) and the STALE / SKIPPED flags; MAP_STATS_F_WALK_UNSUPPORTED where the
  // kernel does not run the type's walk program (not an error: a feature it lacks). age_ms[i]
  // is how old records[i]'s walk count is (0: walked now), -1 where no walk count applies.
  // Returns the error that stopped walks (EPERM without CAP_SYS_ADMIN, a refused link), if any.
  SysError Fill(map_stats_record* records, size_t n, std::vector<double>* age_ms,
                uint32_t* walks);

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    uint32_t type;
    uint32_t max_entries;
    uint64_t count;             // of the last walk, when counted
    bool counted;               // walked at least once
    Clock::time_point since;    // last walk, or first seen when never walked
    uint64_t generation;        // last collection that saw this id
  };

  WalkOptions options_;
  std::string btf_path_;
  std::unique_ptr<ElemWalker> walker_;  // loaded by Load()
  std::unordered_map<uint32_t, Entry> cache_;
  uint64_t generation_ = 0;
};

}  // namespace emp
