// SPDX-License-Identifier: Apache-2.0
#include "memlock.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "map_stats.h"

namespace emp {

bool MemlockCache::MayChange(const map_stats_record& rec) {
  switch (rec.type) {
    case BPF_MAP_TYPE_HASH:
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_HASH_OF_MAPS:
      // Since 6.4 a non-preallocated hash map reports what its elements take.
      return (rec.map_flags & BPF_F_NO_PREALLOC) != 0;
    case BPF_MAP_TYPE_LPM_TRIE:  // always allocates per element
    case BPF_MAP_TYPE_SOCKHASH:
    case BPF_MAP_TYPE_DEVMAP_HASH:
      return true;
    case BPF_MAP_TYPE_DEVMAP:  // an array, but dev_map_mem_usage() adds one netdev per slot used
      return true;
    default:
      return false;
  }
}

int MemlockCache::ReadOne(uint32_t id, double* memlock) {
  int map_fd = bpf_map_get_fd_by_id(id);
  if (map_fd < 0) return -errno;

  char path[512];
  snprintf(path, sizeof(path), "%s/self/fdinfo/%d", procfs_.c_str(), map_fd);
  int info_fd = open(path, O_RDONLY | O_CLOEXEC);
  if (info_fd < 0) {
    // Positive: not this map's doing but procfs's (paths.procfs), the same for every map.
    int open_err = errno;
    close(map_fd);
    return open_err;
  }
  char buf[2048];
  ssize_t len = read(info_fd, buf, sizeof(buf) - 1);
  int err = len < 0 ? -errno : 0;
  close(info_fd);
  close(map_fd);
  if (err) return err;

  buf[len] = '\0';
  const char* line = strstr(buf, "memlock:");
  if (!line) return -ENODATA;
  *memlock = strtod(line + strlen("memlock:"), nullptr);
  return 0;
}

SysError MemlockCache::Fill(const map_stats_record* records, size_t n,
                            const std::vector<double>& preset,
                            const std::vector<uint8_t>& wanted, std::vector<double>* memlock,
                            uint32_t* reads) {
  generation_++;
  memlock->assign(n, -1);
  *reads = 0;
  SysError denied;
  for (size_t i = 0; i < n; i++) {
    const map_stats_record& rec = records[i];
    if (i < wanted.size() && !wanted[i]) continue;  // not reported: forgotten below
    if (i < preset.size() && preset[i] >= 0) {
      (*memlock)[i] = preset[i];
      continue;
    }
    auto it = cache_.find(rec.id);
    bool fresh = it != cache_.end() && it->second.type == rec.type &&
                 it->second.max_entries == rec.max_entries;
    if (fresh && MayChange(rec)) {
      // Re-read only when the count moved, or when there is no current count to follow (a
      // walk count from an earlier collection does not follow the map).
      bool current = rec.count_method != MAP_COUNT_NONE &&
                     !(rec.flags & (MAP_STATS_F_COUNT_STALE | MAP_STATS_F_WALK_SKIPPED));
      fresh = current && it->second.method == rec.count_method && it->second.entries == rec.entries;
    }
    if (fresh) {
      it->second.generation = generation_;
      (*memlock)[i] = it->second.memlock;
      continue;
    }
    if (denied) continue;

    double value = -1;
    int err = ReadOne(rec.id, &value);
    (*reads)++;
    if (err == -EPERM || err == -EACCES) {
      denied = MakeSysError(ErrorKind::kSystem, err, "bpf_map_get_fd_by_id",
                            "reading map memory needs CAP_SYS_ADMIN (BPF_MAP_GET_FD_BY_ID)");
      continue;
    }
    if (err > 0) {
      denied = MakeSysError(ErrorKind::kSystem, err, "open",
                            "cannot open " + procfs_ + "/self/fdinfo: set paths.procfs to where "
                            "procfs is mounted (or counting.memory to false)");
      continue;
    }
    if (err) continue;  // freed since the iterator saw it: unknown this time
    cache_[rec.id] = Entry{rec.type, rec.max_entries, rec.entries, rec.count_method, value,
                           generation_};
    (*memlock)[i] = value;
  }
  // Forget maps that are gone, so the cache stays as large as the live set.
  for (auto it = cache_.begin(); it != cache_.end();) {
    if (it->second.generation != generation_)
      it = cache_.erase(it);
    else
      ++it;
  }
  return denied;
}

}  // namespace emp
