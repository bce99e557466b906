// SPDX-License-Identifier: Apache-2.0
// Map memory as kernels >= 6.4 account it (map_mem_usage), computed in user space for
// kernels before 6.4. There fdinfo's `memlock` is a rough figure: a page-rounded
// max_entries * (key + value) from 5.11 (bpf_map_memory_footprint; up to 10x under for hash
// maps, 0 for ring buffers), the creation-time charge on 5.10. The formulas are the 6.4+
// kernel's own (kernel/bpf/hashtab.c htab_map_mem_usage, arraymap.c array_map_mem_usage,
// ringbuf.c ringbuf_map_mem_usage, lpm_trie.c trie_mem_usage, queue_stack_maps.c
// queue_stack_map_mem_usage), with the sizes of the structures read from the running
// kernel's BTF. On kernels >= 6.4 the same code reproduces fdinfo exactly, which is how the
// tests prove it. Pure C++.
#pragma once

#include <cstdint>
#include <string>

struct map_stats_record;

namespace emp {

class MemoryEstimator {
 public:
  // Reads the structure sizes from the kernel's BTF (btf_path empty: libbpf's default).
  explicit MemoryEstimator(const std::string& btf_path);

  // Whether the kernel reports memory with map_mem_usage (>= 6.4): fdinfo is then exact.
  bool fdinfo_exact() const { return fdinfo_exact_; }

  // Bytes, or -1 where no formula applies: another type, a structure missing from BTF, or a
  // non-preallocated map whose entries are not counted (its memory follows them).
  double Estimate(const map_stats_record& rec) const;

 private:
  double Hash(const map_stats_record& rec) const;
  double Array(const map_stats_record& rec) const;
  double Ringbuf(const map_stats_record& rec) const;
  double LpmTrie(const map_stats_record& rec) const;
  double QueueStack(const map_stats_record& rec) const;

  bool fdinfo_exact_ = false;
  uint64_t cpus_ = 0;  // num_possible_cpus()
  uint64_t page_size_ = 4096;
  // sizeof() of kernel structures; 0 where BTF lacks them
  uint64_t htab_ = 0, bucket_ = 0, htab_elem_ = 0, llist_node_ = 0;
  uint64_t htab_lock_count_ = 0;     // HASHTAB_MAP_LOCK_COUNT where bpf_htab has map_locked[]
  bool fd_htab_extra_elems_ = true;  // hash_of_maps preallocates spare elements
  uint64_t array_ = 0;
  uint64_t ringbuf_map_ = 0, ringbuf_pgoff_ = 0;  // offsetof(bpf_ringbuf, consumer_pos) >> PAGE_SHIFT
  uint64_t lpm_node_ = 0;
  uint64_t queue_stack_ = 0;
};

}  // namespace emp
