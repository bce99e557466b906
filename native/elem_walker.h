// SPDX-License-Identifier: Apache-2.0
// Counts one map's elements in the kernel with an iterator program (bpf/elem_count.bpf.c):
// iter/bpf_map_elem for hash maps where neither the kfunc nor a kernel counter can count
// them, iter/sockmap for sockmap, which keeps no count at all.
// Each walk opens the map by id, attaches a link to it, reads the count and closes
// everything again: no fd on another program's map outlives a call (an fd or link held
// between collections would keep a freed map alive). Pure C++: no Node-API in here.
#pragma once

#include <cstdint>
#include <string>

#include "sys_error.h"

struct elem_count;  // the generated skeleton

namespace emp {

// The two walk programs. A kernel may run one and not the other: it may lack one (iter/sockmap
// is 5.10+, iter/bpf_map_elem 5.9+), or refuse it at load with EPERM even to a process that
// loaded iter/bpf_map (hardened kernels and LSM policies refuse program types that way).
enum class WalkProgram { kElems, kSocks };

class ElemWalker {
 public:
  // Loads each program on its own, so that a refused one costs only the maps it walks.
  explicit ElemWalker(const std::string& btf_path);
  ~ElemWalker();
  ElemWalker(const ElemWalker&) = delete;
  ElemWalker& operator=(const ElemWalker&) = delete;

  // The program that walks maps of this type, if any iterator can (the kernel's own lists).
  static bool ProgramFor(uint32_t map_type, WalkProgram* program);
  // Why a program is not loaded (empty: it is).
  const SysError& LoadError(WalkProgram program) const;
  bool Loaded(WalkProgram program) const { return !LoadError(program); }

  // 0 and *count, or -errno: -ENOENT when the map was freed meanwhile, -EPERM without
  // CAP_SYS_ADMIN (BPF_MAP_GET_FD_BY_ID), -EOPNOTSUPP when the type's program is not loaded.
  // Not thread-safe: one walk at a time.
  int Count(uint32_t map_id, uint32_t map_type, uint64_t* count);

 private:
  elem_count* elems_ = nullptr;  // only count_elems loaded
  elem_count* socks_ = nullptr;  // only count_socks loaded
  SysError elems_error_;
  SysError socks_error_;
};

}  // namespace emp
