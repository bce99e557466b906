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

class ElemWalker {
 public:
  // Loads the program (not attached: a walk attaches it to one map). On failure *error is
  // set and every Count() fails with it.
  ElemWalker(const std::string& btf_path, SysError* error);
  ~ElemWalker();
  ElemWalker(const ElemWalker&) = delete;
  ElemWalker& operator=(const ElemWalker&) = delete;

  // Whether an iterator can walk maps of this type (the kernel's own lists).
  static bool CanWalk(uint32_t map_type);

  // 0 and *count, or -errno: -ENOENT when the map was freed meanwhile, -EPERM without
  // CAP_SYS_ADMIN (BPF_MAP_GET_FD_BY_ID). Not thread-safe: one walk at a time.
  int Count(uint32_t map_id, uint32_t map_type, uint64_t* count);

 private:
  elem_count* skel_ = nullptr;
};

}  // namespace emp
