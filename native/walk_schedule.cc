// SPDX-License-Identifier: Apache-2.0
#include "walk_schedule.h"

#include <errno.h>

#include <algorithm>

#include "map_stats.h"

namespace emp {

void WalkSchedule::Load() {
  if (!options_.enabled || walker_) return;
  walker_ = std::make_unique<ElemWalker>(btf_path_);
}

SysError WalkSchedule::LoadError(WalkProgram program) const {
  return walker_ ? walker_->LoadError(program) : SysError{};
}

SysError WalkSchedule::Fill(map_stats_record* records, size_t n, std::vector<double>* age_ms,
                            uint32_t* walks) {
  generation_++;
  age_ms->assign(n, -1);
  *walks = 0;

  // 1. The maps due: flagged by the iterator, of a type an element iterator can walk. Those
  //    whose walk program this kernel refuses (or lacks) are marked so, and left uncounted.
  if (options_.enabled) Load();
  std::vector<size_t> due;
  for (size_t i = 0; i < n; i++) {
    WalkProgram program;
    if (!(records[i].flags & MAP_STATS_F_NEEDS_WALK) || !ElemWalker::ProgramFor(records[i].type, &program))
      continue;
    if (walker_ && !walker_->Loaded(program)) {
      records[i].flags |= MAP_STATS_F_WALK_UNSUPPORTED;
      continue;
    }
    due.push_back(i);
  }
  SysError error;

  // 2. Fair turns: the map waiting longest goes first, waiting since its last walk or, if
  //    never walked, since it was first seen (so new maps cannot starve counted ones).
  const Clock::time_point now = Clock::now();
  std::vector<Entry*> entry(n, nullptr);
  for (size_t i : due) {
    const map_stats_record& rec = records[i];
    auto it = cache_.find(rec.id);
    if (it == cache_.end() || it->second.type != rec.type ||
        it->second.max_entries != rec.max_entries)  // a new map, or an id reused
      it = cache_.insert_or_assign(rec.id, Entry{rec.type, rec.max_entries, 0, false, now, 0}).first;
    it->second.generation = generation_;
    entry[i] = &it->second;
  }
  std::sort(due.begin(), due.end(), [&](size_t a, size_t b) {
    if (entry[a]->since != entry[b]->since) return entry[a]->since < entry[b]->since;
    return records[a].id < records[b].id;
  });

  // 3. Walk while the budget lasts; the first walk always happens.
  const auto budget = std::chrono::duration<double, std::milli>(options_.budget_ms);
  uint64_t entries_left = options_.max_entries;
  bool walking = options_.enabled && walker_ != nullptr;
  for (size_t i : due) {
    map_stats_record& rec = records[i];
    Entry& e = *entry[i];
    bool within = *walks == 0 || (rec.max_entries <= entries_left && Clock::now() - now < budget);
    bool failed = false;
    if (walking && within) {
      uint64_t count = 0;
      int err = walker_->Count(rec.id, rec.type, &count);
      if (err == 0) {
        (*walks)++;
        entries_left -= std::min<uint64_t>(entries_left, rec.max_entries);
        e.count = count;
        e.counted = true;
        e.since = Clock::now();
        rec.entries = static_cast<int64_t>(count);
        rec.count_method = MAP_COUNT_WALK;
        (*age_ms)[i] = 0;
        continue;
      }
      if (err == -ENOENT) {  // freed since the iterator saw it: not reported anyway
        e.generation = 0;  // forgotten below
        continue;
      }
      bool denied = err == -EPERM || err == -EACCES;
      if (!error)
        error = denied ? MakeSysError(ErrorKind::kSystem, err, "bpf_map_get_fd_by_id",
                                      "counting a map by an element walk needs CAP_SYS_ADMIN "
                                      "(BPF_MAP_GET_FD_BY_ID)")
                       : MakeSysError(ErrorKind::kLoad, err, "bpf_link_create",
                                      "the kernel refused an element walk");
      if (denied) walking = false;  // no other map will do better
      failed = true;
    }
    // 4. Not walked now: the last walk's count, flagged stale; else skipped until its turn.
    if (e.counted) {
      rec.entries = static_cast<int64_t>(e.count);
      rec.count_method = MAP_COUNT_WALK;
      rec.flags |= MAP_STATS_F_COUNT_STALE;
      (*age_ms)[i] = std::chrono::duration<double, std::milli>(Clock::now() - e.since).count();
    } else if (walking && !failed) {
      rec.count_method = MAP_COUNT_WALK;
      rec.flags |= MAP_STATS_F_WALK_SKIPPED;
      rec.entries = 0;
    }
  }

  // Forget maps that are gone (or no longer need a walk), so the cache stays small.
  for (auto it = cache_.begin(); it != cache_.end();) {
    if (it->second.generation != generation_)
      it = cache_.erase(it);
    else
      ++it;
  }
  return error;
}

}  // namespace emp
