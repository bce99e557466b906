// SPDX-License-Identifier: Apache-2.0
#include "memory_estimate.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cstring>

#include "map_stats.h"

namespace emp {
namespace {

uint64_t RoundUp(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

uint64_t RoundUpPow2(uint64_t v) {
  uint64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

uint64_t StructSize(const struct btf* btf, const char* name) {
  int id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);
  if (id < 0) return 0;
  long size = btf__resolve_size(btf, id);
  return size > 0 ? static_cast<uint64_t>(size) : 0;
}

// A member of a struct, or nullptr.
const struct btf_member* Member(const struct btf* btf, const char* type, const char* member) {
  int id = btf__find_by_name_kind(btf, type, BTF_KIND_STRUCT);
  if (id < 0) return nullptr;
  const struct btf_type* t = btf__type_by_id(btf, id);
  const struct btf_member* m = btf_members(t);
  for (int i = 0; i < btf_vlen(t); i++, m++) {
    const char* name = btf__name_by_offset(btf, m->name_off);
    if (name && strcmp(name, member) == 0) return m;
  }
  return nullptr;
}

bool HasMember(const struct btf* btf, const char* type, const char* member) {
  return Member(btf, type, member) != nullptr;
}

bool HasFunc(const struct btf* btf, const char* name) {
  return btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) >= 0;
}

}  // namespace

MemoryEstimator::MemoryEstimator(const std::string& btf_path) {
  int cpus = libbpf_num_possible_cpus();
  cpus_ = cpus > 0 ? static_cast<uint64_t>(cpus) : 0;
  long page = sysconf(_SC_PAGESIZE);
  if (page > 0) page_size_ = static_cast<uint64_t>(page);

  struct btf* btf =
      btf_path.empty() ? btf__load_vmlinux_btf() : btf__parse(btf_path.c_str(), nullptr);
  if (!btf) return;
  fdinfo_exact_ = HasMember(btf, "bpf_map_ops", "map_mem_usage");
  htab_ = StructSize(btf, "bpf_htab");
  bucket_ = StructSize(btf, "bucket");
  htab_elem_ = StructSize(btf, "htab_elem");
  llist_node_ = StructSize(btf, "llist_node");
  // int __percpu *map_locked[HASHTAB_MAP_LOCK_COUNT]: per-CPU lock ints, 5.13 to 6.14.
  if (const struct btf_member* m = Member(btf, "bpf_htab", "map_locked")) {
    const struct btf_type* t = btf__type_by_id(btf, m->type);
    if (t && btf_is_array(t)) htab_lock_count_ = btf_array(t)->nelems;
  }
  // hash_of_maps took spare elements for updates until its updates became in-place.
  fd_htab_extra_elems_ = !HasFunc(btf, "htab_map_update_elem_in_place");
  array_ = StructSize(btf, "bpf_array");
  ringbuf_map_ = StructSize(btf, "bpf_ringbuf_map");
  {
    int id = btf__find_by_name_kind(btf, "bpf_ringbuf", BTF_KIND_STRUCT);
    const struct btf_type* t = id >= 0 ? btf__type_by_id(btf, id) : nullptr;
    const struct btf_member* m = t ? btf_members(t) : nullptr;
    for (int i = 0; t && i < btf_vlen(t); i++) {
      const char* name = btf__name_by_offset(btf, m[i].name_off);
      if (name && strcmp(name, "consumer_pos") == 0)
        ringbuf_pgoff_ = btf_member_bit_offset(t, i) / 8 / page_size_;
    }
    if (ringbuf_pgoff_ == 0) ringbuf_map_ = 0;  // layout unknown: no estimate
  }
  lpm_node_ = StructSize(btf, "lpm_trie_node");
  queue_stack_ = StructSize(btf, "bpf_queue_stack");
  btf__free(btf);
}

double MemoryEstimator::Estimate(const map_stats_record& rec) const {
  if (cpus_ == 0) return -1;
  switch (rec.type) {
    case BPF_MAP_TYPE_HASH:
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_LRU_HASH:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
    case BPF_MAP_TYPE_HASH_OF_MAPS:
      return Hash(rec);
    case BPF_MAP_TYPE_ARRAY:
    case BPF_MAP_TYPE_PERCPU_ARRAY:
      return Array(rec);
    case BPF_MAP_TYPE_RINGBUF:
    case BPF_MAP_TYPE_USER_RINGBUF:
      return Ringbuf(rec);
    case BPF_MAP_TYPE_LPM_TRIE:
      return LpmTrie(rec);
    case BPF_MAP_TYPE_QUEUE:
    case BPF_MAP_TYPE_STACK:
      return QueueStack(rec);
    default:
      return -1;
  }
}

// hashtab.c: htab_map_mem_usage()
double MemoryEstimator::Hash(const map_stats_record& rec) const {
  if (!htab_ || !bucket_ || !htab_elem_ || !llist_node_) return -1;
  const bool percpu = rec.type == BPF_MAP_TYPE_PERCPU_HASH || rec.type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
  const bool lru = rec.type == BPF_MAP_TYPE_LRU_HASH || rec.type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
  const bool prealloc = !(rec.map_flags & BPF_F_NO_PREALLOC);
  const uint64_t value_size = RoundUp(rec.value_size, 8);
  const uint64_t elem_size =
      htab_elem_ + RoundUp(rec.key_size, 8) + (percpu ? sizeof(void*) : value_size);

  uint64_t usage = htab_ + bucket_ * RoundUpPow2(rec.max_entries);
  // The per-CPU lock ints, where the kernel has them. (6.15 to 7.1 kernels still count them
  // in their own figure although rqspinlock buckets removed them.)
  usage += sizeof(int) * cpus_ * htab_lock_count_;
  if (prealloc) {
    uint64_t n = rec.max_entries;
    // htab_has_extra_elems(): one spare element per CPU for updates that are not in place
    bool fd_htab = rec.type == BPF_MAP_TYPE_HASH_OF_MAPS;
    if (!percpu && !lru && (!fd_htab || fd_htab_extra_elems_)) n += cpus_;
    usage += elem_size * n;
    if (percpu)
      usage += value_size * cpus_ * n;
    else if (!lru)
      usage += sizeof(void*) * cpus_;  // the extra_elems pointers
    return static_cast<double>(usage);
  }
  // Non-preallocated: what the elements take, so it needs their count.
  if (rec.count_method == MAP_COUNT_NONE || (rec.flags & MAP_STATS_F_WALK_SKIPPED) || rec.entries < 0)
    return -1;
  const uint64_t n = static_cast<uint64_t>(rec.entries);
  usage += (elem_size + llist_node_) * n;
  if (percpu) {
    usage += (llist_node_ + sizeof(void*)) * n;
    usage += value_size * cpus_ * n;
  }
  return static_cast<double>(usage);
}

// arraymap.c: array_map_mem_usage()
double MemoryEstimator::Array(const map_stats_record& rec) const {
  if (!array_) return -1;
  const uint64_t elem_size = RoundUp(rec.value_size, 8);
  const uint64_t entries = rec.max_entries;
  if (rec.type == BPF_MAP_TYPE_PERCPU_ARRAY)
    return static_cast<double>(array_ + entries * sizeof(void*) + entries * elem_size * cpus_);
  if (rec.map_flags & BPF_F_MMAPABLE)
    return static_cast<double>(RoundUp(array_, page_size_) + RoundUp(entries * elem_size, page_size_));
  return static_cast<double>(array_ + entries * elem_size);
}

// ringbuf.c: ringbuf_map_mem_usage(); the data pages are mapped twice, back to back.
double MemoryEstimator::Ringbuf(const map_stats_record& rec) const {
  if (!ringbuf_map_) return -1;
  const uint64_t meta_pages = ringbuf_pgoff_ + 2;  // RINGBUF_PGOFF + RINGBUF_POS_PAGES
  const uint64_t data_pages = rec.max_entries / page_size_;
  uint64_t usage = ringbuf_map_ + (meta_pages + data_pages) * page_size_;
  usage += (meta_pages + 2 * data_pages) * sizeof(void*);  // struct page *pages[]
  return static_cast<double>(usage);
}

// lpm_trie.c: trie_mem_usage(): one node per stored prefix.
double MemoryEstimator::LpmTrie(const map_stats_record& rec) const {
  if (!lpm_node_ || rec.count_method == MAP_COUNT_NONE || rec.entries < 0 || rec.key_size < 4)
    return -1;
  const uint64_t data_size = rec.key_size - 4;  // minus bpf_lpm_trie_key's prefixlen
  return static_cast<double>((lpm_node_ + data_size + rec.value_size) * static_cast<uint64_t>(rec.entries));
}

// queue_stack_maps.c: queue_stack_map_mem_usage(): a ring of max_entries + 1 values.
double MemoryEstimator::QueueStack(const map_stats_record& rec) const {
  if (!queue_stack_) return -1;
  return static_cast<double>(queue_stack_ + (static_cast<uint64_t>(rec.max_entries) + 1) * rec.value_size);
}

}  // namespace emp
