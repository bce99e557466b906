// SPDX-License-Identifier: Apache-2.0
#include "pin_walk.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "owners.h"

namespace emp {
namespace {

// A directory whose mtime is this close to when it was read may change again within the same
// tick of the file system's clock without its mtime moving (the "racy" case): read it again.
constexpr int64_t kRacyNs = 1'000'000'000;

int64_t NowRealtimeNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// What an fd is: its /proc/self/fd link names the anonymous inode ("anon_inode:bpf-map").
uint32_t KindOf(int fd, const std::string& procfs) {
  char link[64];
  std::string path = procfs + "/self/fd/" + std::to_string(fd);
  ssize_t n = readlink(path.c_str(), link, sizeof(link) - 1);
  if (n <= 0) return 0;
  link[n] = 0;
  if (strcmp(link, "anon_inode:bpf-map") == 0) return OWNER_FD_MAP;
  if (strcmp(link, "anon_inode:bpf-prog") == 0) return OWNER_FD_PROG;
  // "bpf-link" from a pin (bpf_link_new_fd), "bpf_link" where it was created (bpf_link_prime).
  if (strcmp(link, "anon_inode:bpf-link") == 0 || strcmp(link, "anon_inode:bpf_link") == 0) return OWNER_FD_LINK;
  return 0;
}

// Opens a pin and says what it is; 0 or -errno. Maps open read-only, so a pin readable but
// not writable is still known; programs and links open only read-write (the kernel refuses a
// flag for them: EINVAL).
int Identify(const std::string& path, const std::string& procfs, PinEntry* entry) {
  LIBBPF_OPTS(bpf_obj_get_opts, ro, .file_flags = BPF_F_RDONLY);
  int fd = bpf_obj_get_opts(path.c_str(), &ro);
  if (fd < 0 && errno == EINVAL) fd = bpf_obj_get(path.c_str());
  if (fd < 0) return -errno;
  entry->kind = KindOf(fd, procfs);
  int err = 0;
  switch (entry->kind) {
    case OWNER_FD_MAP: {
      struct bpf_map_info info = {};
      __u32 len = sizeof(info);
      err = bpf_obj_get_info_by_fd(fd, &info, &len);
      entry->id = info.id;
      break;
    }
    case OWNER_FD_PROG: {
      struct bpf_prog_info info = {};
      __u32 len = sizeof(info);
      err = bpf_obj_get_info_by_fd(fd, &info, &len);
      entry->id = info.id;
      break;
    }
    case OWNER_FD_LINK: {
      struct bpf_link_info info = {};
      __u32 len = sizeof(info);
      err = bpf_obj_get_info_by_fd(fd, &info, &len);
      entry->id = info.id;
      entry->prog_id = info.prog_id;
      break;
    }
  }
  if (err) err = -errno;
  close(fd);
  return err;
}

}  // namespace

PinWalkResult PinWalker::Walk(std::chrono::steady_clock::time_point deadline) {
  PinWalkResult out;
  generation_++;
  struct stat st;
  if (stat(root_.c_str(), &st) != 0) {
    out.error = MakeSysError(ErrorKind::kSystem, errno, "stat",
                             "cannot read the bpffs root " + root_ + " (paths.bpffs)");
    return out;
  }
  WalkDir(root_, 0, &out, deadline);
  // Forget what was not seen: a pin removed, a directory gone.
  for (auto it = pins_.begin(); it != pins_.end();)
    it = it->second.generation == generation_ ? std::next(it) : pins_.erase(it);
  return out;
}

void PinWalker::WalkDir(const std::string& dir, int depth, PinWalkResult* out,
                        std::chrono::steady_clock::time_point deadline) {
  if (out->truncated) return;
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    dirs_.erase(dir);
    return;
  }
  DirState& state = dirs_[dir];
  bool fresh = state.ino == st.st_ino && state.mtime_ns == MtimeNs(st) &&
               state.read_at_ns - state.mtime_ns > kRacyNs;
  if (!fresh) {
    DIR* d = opendir(dir.c_str());
    if (!d) {
      if (dir == root_)
        out->error = MakeSysError(ErrorKind::kSystem, errno, "opendir",
                                  "cannot list the bpffs root " + root_);
      dirs_.erase(dir);
      return;
    }
    state.ino = st.st_ino;
    state.mtime_ns = MtimeNs(st);
    state.read_at_ns = NowRealtimeNs();
    state.children.clear();
    while (struct dirent* e = readdir(d)) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      // bpffs fills d_type; symlinks are not followed (a loop would never end).
      if (e->d_type == DT_DIR) state.children.push_back({e->d_name, true});
      else if (e->d_type == DT_REG) state.children.push_back({e->d_name, false});
    }
    closedir(d);
  }
  // Copied: the recursion may rehash dirs_.
  std::vector<Child> children = state.children;
  for (const Child& c : children) {
    if (out->truncated) return;
    std::string path = dir + "/" + c.name;
    if (c.dir) {
      if (depth + 1 < kMaxDepth) WalkDir(path, depth + 1, out, deadline);
      continue;
    }
    if (out->pins.size() >= max_pins_) {
      out->truncated = true;
      return;
    }
    VisitPin(path, fresh, deadline, out);
  }
}

void PinWalker::VisitPin(const std::string& path, bool dir_unchanged,
                         std::chrono::steady_clock::time_point deadline, PinWalkResult* out) {
  auto it = pins_.find(path);
  // In a directory that has not changed, a known pin is the same pin: no call at all.
  if (dir_unchanged && it != pins_.end()) {
    it->second.generation = generation_;
    if (it->second.entry.kind) out->pins.push_back(it->second.entry);
    return;
  }
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return;  // gone meanwhile
  if (it != pins_.end() && it->second.ino == st.st_ino) {
    it->second.generation = generation_;
    if (it->second.entry.kind) out->pins.push_back(it->second.entry);
    return;
  }
  // The deadline stops only the opening of new pins (the cached ones cost nothing), and one is
  // always opened, so every walk makes progress whatever the budget.
  if (out->opened > 0 && std::chrono::steady_clock::now() > deadline) {
    out->truncated = true;
    return;
  }
  PinEntry entry;
  entry.path = path;
  out->opened++;
  int err = Identify(path, procfs_, &entry);
  if (err == -EACCES || err == -EPERM) {
    // Not cached: the permission may be granted, and it is tried again next walk.
    if (!out->unreadable++)
      out->first_unreadable = MakeSysError(ErrorKind::kSystem, -err, "bpf_obj_get", path);
    return;
  }
  // Any other failure: a file of bpffs that is no BPF object (the kernel's own maps.debug and
  // progs.debug answer ENOENT), cached as such with its inode.
  if (err) entry.kind = 0;
  pins_[path] = PinState{st.st_ino, entry, generation_};
  if (entry.kind) out->pins.push_back(entry);
}

}  // namespace emp
