// SPDX-License-Identifier: Apache-2.0
// Owns the loaded iter/bpf_map program and its link; each Collect() creates an iterator
// fd from the link, reads it to EOF and closes it. Pure C++: no Node-API in here.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "memlock.h"
#include "memory_estimate.h"
#include "sys_error.h"
#include "walk_schedule.h"

struct bpf_link;
struct bpf_program;

namespace emp {

struct ReaderOptions {
  bool use_kfunc = true;         // false: behave as on a kernel without the kfunc
  bool use_kernel_state = true;  // false: count only what the kfunc counts
  std::string btf_path;          // empty: libbpf's default (/sys/kernel/btf/vmlinux)
  std::string procfs = "/proc";  // where fdinfo is read for memlock
  bool read_memory = true;
  // Memory from the 6.4+ kernel's formulas instead of fdinfo: kAuto where fdinfo is not
  // exact (kernels < 6.4), kAlways for every type with a formula (tests compare it with
  // fdinfo on >= 6.4), kNever: fdinfo only.
  enum class Estimate { kAuto, kAlways, kNever } memory_estimate = Estimate::kAuto;
  WalkOptions walk;
};

struct Collection {
  std::vector<uint8_t> records;  // whole struct map_stats_record entries, back to back
  std::vector<double> memlock;   // one per record; -1 where unknown
  std::vector<uint8_t> memory_estimated;  // one per record: 1 where memlock is an estimate
  uint64_t bytes_read = 0;
  uint32_t memlock_reads = 0;    // fdinfo reads this collection (the cache saves the rest)
  SysError memory_error;         // set when memory could not be read at all (e.g. EPERM)
  std::vector<double> count_age_ms;  // one per record: age of a walk count; -1 where none
  uint32_t walks = 0;                // element walks this collection
  SysError walk_error;               // why maps that need a walk were not walked
};

class MapStatsReader {
 public:
  // Opens, loads and attaches; on failure *error is set and the reader is unusable.
  MapStatsReader(const ReaderOptions& options, SysError* error);
  ~MapStatsReader();
  MapStatsReader(const MapStatsReader&) = delete;
  MapStatsReader& operator=(const MapStatsReader&) = delete;
  MapStatsReader(MapStatsReader&&) = delete;
  MapStatsReader& operator=(MapStatsReader&&) = delete;

  // Thread-safe; one collection at a time (a second caller waits). Collect() is Read()
  // then Complete() of every record.
  SysError Collect(Collection* out);
  // 1. The iterator's records, checked, into out->records.
  SysError Read(Collection* out);
  // 2. Walks and memory for the records the caller reports: wanted[i] != 0, or all when
  //    wanted is empty. The others keep the iterator's figures and get memory -1.
  SysError Complete(Collection* out, const std::vector<uint8_t>& wanted);
  void Close();
  bool closed() const { return prog_ == nullptr; }
  bool kfunc_available() const { return kfunc_available_; }
  // Why a walk program is not loaded (the kernel refuses or lacks it); empty when it is, or
  // when walks are disabled.
  SysError walk_load_error(WalkProgram program) const { return walks_.LoadError(program); }

 private:
  void Open(SysError* error);  // steps 1-3 of the constructor
  SysError ReadIterator(std::vector<uint8_t>* out, uint64_t* bytes);

  std::mutex mu_;
  ReaderOptions options_;
  // One of two builds of the skeleton (with or without the kfunc): its program and how to
  // free it.
  bpf_program* prog_ = nullptr;
  std::function<void()> destroy_;
  bpf_link* link_ = nullptr;
  bool kfunc_available_ = false;
  MemlockCache memlock_;
  std::unique_ptr<MemoryEstimator> estimator_;  // when reading memory
  WalkSchedule walks_;
};

}  // namespace emp
