// SPDX-License-Identifier: Apache-2.0
// Who owns each map, read from the kernel (bpf/owners.bpf.c) and bpffs: the BPF fds of every
// process (iter/task_file), every program with the maps it uses (iter/bpf_prog, or where the
// kernel lacks it the BPF_PROG_GET_NEXT_ID walk bpftool makes, which needs CAP_SYS_ADMIN), and
// the pins under the bpffs root (pin_walk.h). Each iterator program is loaded on its own: a
// kernel that lacks or refuses one costs only what it would have found. RAII: the programs and
// links live as long as the reader. Pure C++: no Node-API in here.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pin_walk.h"
#include "sys_error.h"

struct owners;  // the generated skeleton
struct bpf_link;

namespace emp {

struct OwnersOptions {
  std::string btf_path;             // empty: /sys/kernel/btf/vmlinux
  std::string bpffs = "/sys/fs/bpf";  // root of the pin walk
  std::string procfs = "/proc";
  bool pins = true;
  uint32_t max_pins = 10000;
};

struct OwnersRead {
  std::vector<uint8_t> fds;    // struct owner_fd_record entries back to back
  SysError fds_error;          // why there are none (the program is not loaded, or the read failed)
  std::vector<uint8_t> progs;  // struct owner_prog_record entries back to back
  SysError progs_error;
  bool progs_by_id = false;    // from the BPF_PROG_GET_NEXT_ID walk, not iter/bpf_prog
  PinWalkResult pins;
  bool pins_walked = false;
  double fds_ms = 0, progs_ms = 0, pins_ms = 0;
};

class OwnersReader {
 public:
  explicit OwnersReader(const OwnersOptions& options);
  ~OwnersReader();
  OwnersReader(const OwnersReader&) = delete;
  OwnersReader& operator=(const OwnersReader&) = delete;

  // One pass: both iterators whole (a partial list of processes would be wrong), then the pin
  // walk for pins_budget from its start (it goes on from its cache next time). Thread-safe:
  // one pass at a time.
  void Read(OwnersRead* out, std::chrono::microseconds pins_budget);
  void Close();

  // Why a program is not loaded; empty when it is.
  const SysError& fds_load_error() const { return fds_error_; }
  const SysError& progs_load_error() const { return progs_error_; }

 private:
  SysError ReadProgsById(std::vector<uint8_t>* out);

  std::mutex mu_;
  OwnersOptions options_;
  owners* fds_skel_ = nullptr;
  owners* progs_skel_ = nullptr;
  bpf_link* fds_link_ = nullptr;
  bpf_link* progs_link_ = nullptr;
  SysError fds_error_;
  SysError progs_error_;
  std::unique_ptr<PinWalker> pins_;
  bool closed_ = false;
};

}  // namespace emp
