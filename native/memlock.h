// SPDX-License-Identifier: Apache-2.0
// Kernel-accounted memory per map: the `memlock` line of the map fd's fdinfo, exactly what
// `bpftool map show` prints. Getting an fd from an id (BPF_MAP_GET_FD_BY_ID) needs
// CAP_SYS_ADMIN and costs a few syscalls, so figures that cannot change are read once per
// map id and served from a cache; no fd is held between collections.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "sys_error.h"

struct map_stats_record;

namespace emp {

class MemlockCache {
 public:
  explicit MemlockCache(std::string procfs = "/proc") : procfs_(std::move(procfs)) {}

  // Fills memlock[i] for records[i] (-1 where unknown); where preset[i] >= 0 (an estimate)
  // that is used and fdinfo not read; where wanted is not empty and wanted[i] is 0, nothing
  // is read (-1). Returns the error that stopped all reads (EPERM), if any; a map freed
  // meanwhile is just unknown.
  SysError Fill(const map_stats_record* records, size_t n, const std::vector<double>& preset,
                const std::vector<uint8_t>& wanted, std::vector<double>* memlock,
                uint32_t* reads);

  // Whether a map of this shape can change its memlock figure while it lives. Measured on
  // 6.18 by filling one map of every type: only these follow their entries (map_mem_usage
  // counts elements); every other type's figure is fixed at creation. Before 6.4 none
  // changes, so re-reading these when their count moves costs little there.
  static bool MayChange(const map_stats_record& rec);

 private:
  struct Entry {
    uint32_t type;
    uint32_t max_entries;
    int64_t entries;       // the count when last read, for maps whose figure follows it
    uint16_t method;
    double memlock;
    uint64_t generation;   // last collection that saw this id
  };

  int ReadOne(uint32_t id, double* memlock);  // 0, -errno, or +errno when fdinfo can't be opened

  std::string procfs_;
  std::unordered_map<uint32_t, Entry> cache_;
  uint64_t generation_ = 0;
};

}  // namespace emp
