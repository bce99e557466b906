/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The record the iter/bpf_map program writes for every map, one after another, with
 * bpf_seq_write(). Shared by bpf/ (writer), native/ (reader) and, through the offsets
 * asserted below, src/records.ts. Plain fixed-width fields only.
 */
#ifndef MAP_STATS_H
#define MAP_STATS_H

#ifndef __VMLINUX_TYPES
#include <linux/types.h>
#endif

#define MAP_STATS_VERSION 1
#define MAP_STATS_NAME_LEN 16

/* How `entries` was obtained. Keep in step with src/records.ts. */
enum map_count_method {
	MAP_COUNT_NONE = 0,	      /* not counted: `entries` is meaningless */
	MAP_COUNT_KFUNC = 1,	      /* bpf_map_sum_elem_count() (kernel >= 6.6) */
	MAP_COUNT_KERNEL_COUNTER = 2, /* the type's own counter or positions, read with CO-RE */
	MAP_COUNT_WALK = 3,	      /* filled in by user space after an in-kernel element walk
				       * (bpf/elem_count.bpf.c) */
};

/* Flags in map_stats_record.flags. The first is set by the iterator, the others by user
 * space after its element walks (native/walk_schedule.cc). */
#define MAP_STATS_F_NEEDS_WALK (1U << 0)  /* countable only by walking its elements */
#define MAP_STATS_F_COUNT_STALE (1U << 1) /* `entries` is from a walk in an earlier collection */
#define MAP_STATS_F_WALK_SKIPPED (1U << 2) /* walk deferred by the budget, no earlier count */
#define MAP_STATS_F_WALK_UNSUPPORTED (1U << 3) /* needs a walk this kernel will not run: it
					       * refuses (or lacks) the walk program */

struct map_stats_record {
	__u16 size;    /* sizeof(struct map_stats_record) as the writer knew it */
	__u16 version; /* MAP_STATS_VERSION */
	__u32 id;
	__u32 type; /* enum bpf_map_type */
	__u32 key_size;
	__u32 value_size;
	__u32 max_entries;
	__u32 map_flags;
	__u16 count_method; /* enum map_count_method */
	__u16 flags;	    /* MAP_STATS_F_* */
	__s64 entries;	    /* valid only when count_method != MAP_COUNT_NONE */
	/* Type-specific: ring buffers put producer_pos, consumer_pos, data size here. */
	__u64 aux[4];
	char name[MAP_STATS_NAME_LEN]; /* not NUL-terminated when 16 bytes long; not UTF-8 */
};

#ifdef __cplusplus
static_assert(sizeof(struct map_stats_record) == 88, "map_stats_record layout changed");
#else
_Static_assert(sizeof(struct map_stats_record) == 88, "map_stats_record layout changed");
#endif

#endif /* MAP_STATS_H */
