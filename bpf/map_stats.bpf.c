// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * iter/bpf_map: one struct map_stats_record per map on the host, written with
 * bpf_seq_write(). Reading the iterator's fd runs this program once per map.
 */
#include "kernel_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "map_stats.h"

/* libbpf 1.1's headers lack it (added in 1.2). */
#ifndef bpf_ksym_exists
#define bpf_ksym_exists(sym)                                                                       \
	({                                                                                         \
		_Static_assert(!__builtin_constant_p(!!sym), #sym " should be marked as __weak"); \
		!!sym;                                                                             \
	})
#endif

#ifndef MAP_STATS_NO_KFUNC
/* Kernel >= 6.6. Weak, so the object still loads where it is missing: libbpf then
 * resolves the symbol to 0 and the verifier drops the guarded call as dead code. */
extern __s64 bpf_map_sum_elem_count(const struct bpf_map *map) __ksym __weak;
#define kfunc_exists() bpf_ksym_exists(bpf_map_sum_elem_count)
#else
/* The build for kernels whose BTF lacks the kfunc: no extern at all. libbpf looks an
 * extern missing from vmlinux up in module BTFs, and walking those (BPF_BTF_GET_NEXT_ID)
 * needs CAP_SYS_ADMIN, so on 5.11-6.5 without it even a weak one fails the load. */
#define kfunc_exists() 0
#define bpf_map_sum_elem_count(map) 0
#endif

/* Set by user space between open and load; the verifier sees constants. */
const volatile _Bool use_kfunc = 1;	    /* off: exercise the pre-6.6 paths on any kernel */
const volatile _Bool use_kernel_state = 1; /* off: report only what the kfunc counts */

/* uapi values newer than libbpf 1.1's headers (enum bpf_map_type is ABI: they never move). */
#define MAP_TYPE_RHASH 35 /* 7.2+ */

static __always_inline _Bool is_hash_family(__u32 type)
{
	return type == BPF_MAP_TYPE_HASH || type == BPF_MAP_TYPE_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_LRU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_HASH_OF_MAPS;
}

/* Whether user space can count the map by walking its elements: the kernel's element
 * iterator (iter/bpf_map_elem) serves these hash types, not hash_of_maps. */
static __always_inline void needs_walk(struct map_stats_record *rec)
{
	if (rec->type == BPF_MAP_TYPE_HASH_OF_MAPS)
		return;
	rec->flags |= MAP_STATS_F_NEEDS_WALK;
}

/* Hash maps without the kfunc: only non-preallocated ones keep a counter (LRU maps are
 * always preallocated), and it is an exact atomic_t only while the map does not use a
 * per-CPU counter instead (6.1+, maps with max_entries / 2 > 32 * CPUs): those get walked. */
static __always_inline void count_hash_without_kfunc(struct bpf_map *map,
						     struct map_stats_record *rec)
{
	struct bpf_htab *htab = (void *)map;

	if (!(rec->map_flags & BPF_F_NO_PREALLOC)) {
		needs_walk(rec);
		return;
	}
	if (bpf_core_field_exists(htab->use_percpu_counter) &&
	    BPF_CORE_READ(htab, use_percpu_counter)) {
		needs_walk(rec);
		return;
	}
	if (!bpf_core_field_exists(htab->count)) {
		needs_walk(rec);
		return;
	}
	rec->entries = BPF_CORE_READ(htab, count.counter);
	rec->count_method = MAP_COUNT_KERNEL_COUNTER;
}

static __always_inline void count_queue_stack(struct bpf_map *map, struct map_stats_record *rec)
{
	struct bpf_queue_stack *qs = (void *)map;
	__u32 head, tail, size;

	if (!bpf_core_field_exists(qs->head) || !bpf_core_field_exists(qs->tail) ||
	    !bpf_core_field_exists(qs->size))
		return;
	head = BPF_CORE_READ(qs, head);
	tail = BPF_CORE_READ(qs, tail);
	size = BPF_CORE_READ(qs, size);
	if (size == 0 || head >= size || tail >= size)
		return;
	rec->entries = head >= tail ? head - tail : size - tail + head;
	rec->count_method = MAP_COUNT_KERNEL_COUNTER;
}

static __always_inline void count_ringbuf(struct bpf_map *map, struct map_stats_record *rec)
{
	struct bpf_ringbuf_map *rb_map = (void *)map;
	struct bpf_ringbuf *rb = NULL;
	__u64 producer, consumer, size;

	if (!bpf_core_field_exists(rb_map->rb) || !bpf_core_field_exists(rb->producer_pos) ||
	    !bpf_core_field_exists(rb->consumer_pos) || !bpf_core_field_exists(rb->mask))
		return;
	rb = BPF_CORE_READ(rb_map, rb);
	if (!rb)
		return;
	producer = BPF_CORE_READ(rb, producer_pos);
	consumer = BPF_CORE_READ(rb, consumer_pos);
	size = BPF_CORE_READ(rb, mask) + 1;
	rec->aux[0] = producer;
	rec->aux[1] = consumer;
	rec->aux[2] = size;
	/* Positions only grow; a consumer ahead of the producer is a torn read. */
	if (consumer > producer)
		return;
	rec->entries = producer - consumer;
	rec->count_method = MAP_COUNT_KERNEL_COUNTER;
}

static __always_inline void count_kernel_state(struct bpf_map *map, struct map_stats_record *rec)
{
	switch (rec->type) {
	case BPF_MAP_TYPE_QUEUE:
	case BPF_MAP_TYPE_STACK:
		count_queue_stack(map, rec);
		return;
	case BPF_MAP_TYPE_RINGBUF:
	case BPF_MAP_TYPE_USER_RINGBUF:
		count_ringbuf(map, rec);
		return;
	case BPF_MAP_TYPE_LPM_TRIE: {
		struct lpm_trie *trie = (void *)map;

		if (!bpf_core_field_exists(trie->n_entries))
			return;
		rec->entries = BPF_CORE_READ(trie, n_entries);
		rec->count_method = MAP_COUNT_KERNEL_COUNTER;
		return;
	}
	case BPF_MAP_TYPE_DEVMAP_HASH: {
		struct bpf_dtab *dtab = (void *)map;

		if (!bpf_core_field_exists(dtab->items))
			return;
		rec->entries = BPF_CORE_READ(dtab, items);
		rec->count_method = MAP_COUNT_KERNEL_COUNTER;
		return;
	}
	case BPF_MAP_TYPE_SOCKMAP:
		/* An array of socket slots with no count: user space walks it (iter/sockmap). */
		rec->flags |= MAP_STATS_F_NEEDS_WALK;
		return;
	case MAP_TYPE_RHASH: {
		struct bpf_rhtab *rhtab = (void *)map;

		if (!bpf_core_field_exists(rhtab->ht.nelems))
			return;
		rec->entries = BPF_CORE_READ(rhtab, ht.nelems.counter);
		rec->count_method = MAP_COUNT_KERNEL_COUNTER;
		return;
	}
	case BPF_MAP_TYPE_SOCKHASH: {
		struct bpf_shtab *shtab = (void *)map;

		if (!bpf_core_field_exists(shtab->count))
			return;
		rec->entries = BPF_CORE_READ(shtab, count.counter);
		rec->count_method = MAP_COUNT_KERNEL_COUNTER;
		return;
	}
	}
}

SEC("iter/bpf_map")
int dump_map_stats(struct bpf_iter__bpf_map *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct bpf_map *map = ctx->map;
	struct map_stats_record rec;

	/* The iterator calls us once more with map == NULL at the end. */
	if (!map)
		return 0;

	__builtin_memset(&rec, 0, sizeof(rec));
	rec.size = sizeof(rec);
	rec.version = MAP_STATS_VERSION;
	rec.id = map->id;
	rec.type = map->map_type;
	rec.key_size = map->key_size;
	rec.value_size = map->value_size;
	rec.max_entries = map->max_entries;
	rec.map_flags = map->map_flags;
	bpf_probe_read_kernel(rec.name, sizeof(rec.name), map->name);

	if (is_hash_family(rec.type)) {
		if (use_kfunc && kfunc_exists()) {
			rec.entries = bpf_map_sum_elem_count(map);
			rec.count_method = MAP_COUNT_KFUNC;
		} else if (use_kernel_state) {
			count_hash_without_kfunc(map, &rec);
		}
	} else if (use_kernel_state) {
		count_kernel_state(map, &rec);
	}

	bpf_seq_write(seq, &rec, sizeof(rec));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
