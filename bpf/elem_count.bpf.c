// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * iter/bpf_map_elem: counts the elements of one map, in the kernel. User space attaches it
 * to a map (one link per walk), reads the iterator fd and gets one __u64, the count. The
 * fallback for hash maps on kernels without bpf_map_sum_elem_count (< 6.6) that keep no
 * counter of their own (preallocated and LRU maps, or maps using a per-CPU counter).
 */
#include "kernel_types.h"
#include <bpf/bpf_helpers.h>

/* The count of the walk in progress. Globals outlive an iterator, so a new session (a new
 * iterator fd) starts from zero; the meta's seq_num cannot serve, it is 0 for both an
 * empty map and a map of one element. One walk at a time: the reader serializes them. */
__u64 walk_session = 0;
__u64 walk_count = 0;

SEC("iter/bpf_map_elem")
int count_elems(struct bpf_iter__bpf_map_elem *ctx)
{
	struct bpf_iter_meta *meta = ctx->meta;

	if (meta->session_id != walk_session) {
		walk_session = meta->session_id;
		walk_count = 0;
	}
	if (ctx->key) {
		walk_count++;
		return 0;
	}
	/* The last call, with no element: report. */
	bpf_seq_write(meta->seq, &walk_count, sizeof(walk_count));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
