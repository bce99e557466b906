// SPDX-License-Identifier: Apache-2.0
// Pins: every BPF object pinned under the bpffs root (paths.bpffs), with what it is (map,
// program, link) and its id. A walk opens each new pin once (BPF_OBJ_GET, then
// BPF_OBJ_GET_INFO_BY_FD, then close: no fd outlives it) and caches it by path and inode;
// a directory whose mtime has not moved since it was read is not read again (pinning and
// unpinning set the parent's mtime), so a steady bpffs costs one stat per directory.
// Bounded: at most max_pins files and kMaxDepth levels. Pure C++: no Node-API in here.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "sys_error.h"

namespace emp {

struct PinEntry {
  std::string path;
  uint32_t kind = 0;     // enum owner_fd_kind: OWNER_FD_MAP, _PROG or _LINK; 0 unknown
  uint32_t id = 0;
  uint32_t prog_id = 0;  // links: their program
};

struct PinWalkResult {
  std::vector<PinEntry> pins;
  uint32_t unreadable = 0;  // pins that could not be opened (permissions): their objects unknown
  SysError first_unreadable;
  bool truncated = false;   // max_pins or the deadline stopped the walk
  uint32_t opened = 0;      // BPF_OBJ_GET calls this walk (the cache served the rest)
  SysError error;           // the root could not be read at all
};

class PinWalker {
 public:
  static constexpr int kMaxDepth = 16;

  PinWalker(std::string root, std::string procfs, uint32_t max_pins)
      : root_(std::move(root)), procfs_(std::move(procfs)), max_pins_(max_pins) {}

  // One walk; stops opening new pins (truncated) at the deadline, keeping what it found.
  PinWalkResult Walk(std::chrono::steady_clock::time_point deadline);

 private:
  struct Child {
    std::string name;
    bool dir;
  };
  struct DirState {
    ino_t ino = 0;
    int64_t mtime_ns = 0;
    int64_t read_at_ns = 0;  // realtime clock when it was read
    std::vector<Child> children;
  };
  struct PinState {
    ino_t ino = 0;
    PinEntry entry;
    uint64_t generation = 0;
  };

  void WalkDir(const std::string& dir, int depth, PinWalkResult* out,
               std::chrono::steady_clock::time_point deadline);
  void VisitPin(const std::string& path, bool dir_unchanged,
                std::chrono::steady_clock::time_point deadline, PinWalkResult* out);

  std::string root_;
  std::string procfs_;
  uint32_t max_pins_;
  uint64_t generation_ = 0;
  std::unordered_map<std::string, DirState> dirs_;
  std::unordered_map<std::string, PinState> pins_;
};

}  // namespace emp
