// SPDX-License-Identifier: Apache-2.0
#include "elem_walker.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <unistd.h>

#include "elem_count.skel.h"
#include "core_btf.h"
#include "libbpf_log.h"

namespace emp {

ElemWalker::ElemWalker(const std::string& btf_path, SysError* error) {
  LibbpfLog log;  // a refused program is an error here, not noise on stderr
  LIBBPF_OPTS(bpf_object_open_opts, open_opts);
  open_opts.btf_custom_path = CoreBtfPath(btf_path);
  // Both programs, else without iter/sockmap (Linux < 5.10): hash maps can still be walked
  // (iter/bpf_map_elem, 5.9), sockmap then is not counted.
  for (bool socks : {true, false}) {
    skel_ = elem_count__open_opts(&open_opts);
    if (!skel_) {
      *error = MakeSysError(errno, "bpf_object__open", "cannot open the element-walk programs");
      return;
    }
    if (!socks) bpf_program__set_autoload(skel_->progs.count_socks, false);
    int err = elem_count__load(skel_);
    if (!err) return;
    elem_count__destroy(skel_);
    skel_ = nullptr;
    if (!socks)
      *error = MakeSysError(err, "bpf_prog_load",
                            "the kernel refused the element-walk program (iter/bpf_map_elem needs "
                            "Linux >= 5.9)",
                            log.Tail());
  }
}

ElemWalker::~ElemWalker() {
  if (skel_) elem_count__destroy(skel_);
}

namespace {

enum class Walk { kNone, kElems, kSocks };

Walk WalkFor(uint32_t map_type) {
  switch (map_type) {
    // kernel/bpf/map_iter.c, bpf_iter_attach_map(): the types of iter/bpf_map_elem.
    case BPF_MAP_TYPE_HASH:
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_LRU_HASH:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
    case BPF_MAP_TYPE_ARRAY:
    case BPF_MAP_TYPE_PERCPU_ARRAY:
      return Walk::kElems;
    // net/core/sock_map.c, sock_map_iter_attach_target(): iter/sockmap.
    case BPF_MAP_TYPE_SOCKMAP:
    case BPF_MAP_TYPE_SOCKHASH:
      return Walk::kSocks;
    default:
      return Walk::kNone;
  }
}

}  // namespace

bool ElemWalker::CanWalk(uint32_t map_type) { return WalkFor(map_type) != Walk::kNone; }

int ElemWalker::Count(uint32_t map_id, uint32_t map_type, uint64_t* count) {
  if (!skel_) return -EBADF;
  Walk walk = WalkFor(map_type);
  if (walk == Walk::kNone) return -EOPNOTSUPP;
  struct bpf_program* prog = walk == Walk::kElems ? skel_->progs.count_elems : skel_->progs.count_socks;
  if (bpf_program__fd(prog) < 0) return -EOPNOTSUPP;  // not loaded on this kernel
  int map_fd = bpf_map_get_fd_by_id(map_id);
  if (map_fd < 0) return -errno;

  // bpf_link_create, not bpf_program__attach_iter: libbpf would print a failure to stderr.
  union bpf_iter_link_info link_info = {};
  link_info.map.map_fd = static_cast<__u32>(map_fd);
  LIBBPF_OPTS(bpf_link_create_opts, link_opts, .iter_info = &link_info,
              .iter_info_len = sizeof(link_info));
  int link_fd = bpf_link_create(bpf_program__fd(prog), 0, BPF_TRACE_ITER, &link_opts);
  int err = link_fd < 0 ? -errno : 0;
  close(map_fd);  // the link holds its own reference to the map
  if (err) return err;

  int iter_fd = bpf_iter_create(link_fd);
  if (iter_fd < 0) {
    err = -errno;
    close(link_fd);
    return err;
  }
  // One __u64 at the end. Reads may return nothing for a while: the kernel hands a read
  // back (EAGAIN) after a million elements with no output, and the next read resumes.
  uint8_t buf[64];
  size_t got = 0;
  uint64_t value = 0;
  for (;;) {
    ssize_t n = read(iter_fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      err = -errno;
      break;
    }
    if (n == 0) break;
    for (ssize_t i = 0; i < n; i++, got++)
      if (got < sizeof(value)) reinterpret_cast<uint8_t*>(&value)[got] = buf[i];
  }
  close(iter_fd);
  close(link_fd);
  if (err) return err;
  if (got != sizeof(value)) return -EPROTO;
  *count = value;
  return 0;
}

}  // namespace emp
