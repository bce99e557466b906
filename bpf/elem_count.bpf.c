// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Element walks: count the elements of one map, in the kernel. User space attaches one of
 * these programs to a map (one link per walk), reads the iterator fd and gets one __u64, the
 * count. The fallback for maps the kernel keeps no count of that user space can read:
 *   - hash maps on kernels without bpf_map_sum_elem_count (< 6.6), unless they keep a
 *     counter (iter/bpf_map_elem);
 *   - sockmap, an array of socket slots, on every kernel (iter/sockmap).
 */
#include "kernel_types.h"
#include <bpf/bpf_helpers.h>

/* The count of the walk in progress. Globals outlive an iterator, so a new session (a new
 * iterator fd) starts from zero; the meta's seq_num cannot serve, it is 0 for both an
 * empty map and a map of one element. One walk at a time: the reader serializes them. */
__u64 walk_session = 0;
__u64 walk_count = 0;

static __always_inline void start(struct bpf_iter_meta *meta)
{
	if (meta->session_id == walk_session)
		return;
	walk_session = meta->session_id;
	walk_count = 0;
}

/* The last call of a walk comes with no element: report the count. */
static __always_inline void report(struct bpf_iter_meta *meta)
{
	bpf_seq_write(meta->seq, &walk_count, sizeof(walk_count));
}

SEC("iter/bpf_map_elem")
int count_elems(struct bpf_iter__bpf_map_elem *ctx)
{
	start(ctx->meta);
	if (!ctx->key) {
		report(ctx->meta);
		return 0;
	}
	walk_count++;
	return 0;
}

SEC("iter/sockmap")
int count_socks(struct bpf_iter__sockmap *ctx)
{
	start(ctx->meta);
	if (!ctx->key) {
		report(ctx->meta);
		return 0;
	}
	/* Every slot is visited; only those holding a socket count. */
	if (ctx->sk)
		walk_count++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
