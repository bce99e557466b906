# ebpf-map-pressure native addon.
#
# Generated files, built as gyp actions before the C++ is compiled, for each BPF program
# (map_stats: the iter/bpf_map reader, also built without the kfunc for kernels that lack
# it; elem_count: the element walks; owners: iter/task_file and iter/bpf_prog, who owns
# each map):
#   1. bpf/<name>.bpf.c -> <name>.bpf.o   (clang -target bpf, CO-RE, no kernel headers
#      from the build host: bpf/kernel_types.h declares the few kernel types we read)
#   2. <name>.bpf.o     -> <name>.skel.h  (bpftool gen skeleton: the object embedded
#      as bytes, so nothing at run time looks for a .o file)
# libbpf is the system's, found with pkg-config.
{
  "variables": {
    "bpf_clang%": "clang",
    "bpftool%": "bpftool",
    "multiarch_include%": "/usr/include/<!(gcc -dumpmachine)",
  },
  "targets": [
    {
      "target_name": "ebpf_map_pressure",
      "sources": [
        "native/addon.cc",
        "native/map_ops.cc",
        "native/map_stats_reader.cc",
        "native/memlock.cc",
        "native/memory_estimate.cc",
        "native/elem_walker.cc",
        "native/libbpf_log.cc",
        "native/walk_schedule.cc",
        "native/owners_reader.cc",
        "native/owners_glue.cc",
        "native/pin_walk.cc",
      ],
      "include_dirs": ["bpf", "<(INTERMEDIATE_DIR)"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-missing-field-initializers", "<!@(pkg-config --cflags libbpf)"],
      "libraries": ["<!@(pkg-config --libs libbpf)"],
      "defines": ["NAPI_VERSION=8"],
      "actions": [
        {
          "action_name": "compile_bpf",
          "inputs": ["bpf/map_stats.bpf.c", "bpf/map_stats.h", "bpf/kernel_types.h"],
          "outputs": ["<(INTERMEDIATE_DIR)/map_stats.bpf.o"],
          "action": [
            "<(bpf_clang)", "-g", "-O2", "-Wall", "-target", "bpf", "-D__TARGET_ARCH_x86",
            "-Ibpf", "-I<(multiarch_include)",
            "-c", "bpf/map_stats.bpf.c", "-o", "<(INTERMEDIATE_DIR)/map_stats.bpf.o",
          ],
          "message": "clang -target bpf map_stats.bpf.c",
        },
        {
          "action_name": "skeleton",
          "inputs": ["<(INTERMEDIATE_DIR)/map_stats.bpf.o"],
          "outputs": ["<(INTERMEDIATE_DIR)/map_stats.skel.h"],
          "action": [
            "sh", "-c",
            "<(bpftool) gen skeleton <(INTERMEDIATE_DIR)/map_stats.bpf.o name map_stats > <(INTERMEDIATE_DIR)/map_stats.skel.h.tmp && mv <(INTERMEDIATE_DIR)/map_stats.skel.h.tmp <(INTERMEDIATE_DIR)/map_stats.skel.h",
          ],
          "message": "bpftool gen skeleton map_stats",
        },
        {
          "action_name": "compile_bpf_nokfunc",
          "inputs": ["bpf/map_stats.bpf.c", "bpf/map_stats.h", "bpf/kernel_types.h"],
          "outputs": ["<(INTERMEDIATE_DIR)/map_stats_nokfunc.bpf.o"],
          "action": [
            "<(bpf_clang)", "-g", "-O2", "-Wall", "-target", "bpf", "-D__TARGET_ARCH_x86",
            "-DMAP_STATS_NO_KFUNC", "-Ibpf", "-I<(multiarch_include)",
            "-c", "bpf/map_stats.bpf.c", "-o", "<(INTERMEDIATE_DIR)/map_stats_nokfunc.bpf.o",
          ],
          "message": "clang -target bpf map_stats.bpf.c (without the kfunc)",
        },
        {
          "action_name": "skeleton_nokfunc",
          "inputs": ["<(INTERMEDIATE_DIR)/map_stats_nokfunc.bpf.o"],
          "outputs": ["<(INTERMEDIATE_DIR)/map_stats_nokfunc.skel.h"],
          "action": [
            "sh", "-c",
            "<(bpftool) gen skeleton <(INTERMEDIATE_DIR)/map_stats_nokfunc.bpf.o name map_stats_nokfunc > <(INTERMEDIATE_DIR)/map_stats_nokfunc.skel.h.tmp && mv <(INTERMEDIATE_DIR)/map_stats_nokfunc.skel.h.tmp <(INTERMEDIATE_DIR)/map_stats_nokfunc.skel.h",
          ],
          "message": "bpftool gen skeleton map_stats_nokfunc",
        },
        {
          "action_name": "compile_bpf_elem_count",
          "inputs": ["bpf/elem_count.bpf.c", "bpf/kernel_types.h"],
          "outputs": ["<(INTERMEDIATE_DIR)/elem_count.bpf.o"],
          "action": [
            "<(bpf_clang)", "-g", "-O2", "-Wall", "-target", "bpf", "-D__TARGET_ARCH_x86",
            "-Ibpf", "-I<(multiarch_include)",
            "-c", "bpf/elem_count.bpf.c", "-o", "<(INTERMEDIATE_DIR)/elem_count.bpf.o",
          ],
          "message": "clang -target bpf elem_count.bpf.c",
        },
        {
          "action_name": "skeleton_elem_count",
          "inputs": ["<(INTERMEDIATE_DIR)/elem_count.bpf.o"],
          "outputs": ["<(INTERMEDIATE_DIR)/elem_count.skel.h"],
          "action": [
            "sh", "-c",
            "<(bpftool) gen skeleton <(INTERMEDIATE_DIR)/elem_count.bpf.o name elem_count > <(INTERMEDIATE_DIR)/elem_count.skel.h.tmp && mv <(INTERMEDIATE_DIR)/elem_count.skel.h.tmp <(INTERMEDIATE_DIR)/elem_count.skel.h",
          ],
          "message": "bpftool gen skeleton elem_count",
        },
        {
          "action_name": "compile_bpf_owners",
          "inputs": ["bpf/owners.bpf.c", "bpf/owners.h", "bpf/kernel_types.h"],
          "outputs": ["<(INTERMEDIATE_DIR)/owners.bpf.o"],
          "action": [
            "<(bpf_clang)", "-g", "-O2", "-Wall", "-target", "bpf", "-D__TARGET_ARCH_x86",
            "-Ibpf", "-I<(multiarch_include)",
            "-c", "bpf/owners.bpf.c", "-o", "<(INTERMEDIATE_DIR)/owners.bpf.o",
          ],
          "message": "clang -target bpf owners.bpf.c",
        },
        {
          "action_name": "skeleton_owners",
          "inputs": ["<(INTERMEDIATE_DIR)/owners.bpf.o"],
          "outputs": ["<(INTERMEDIATE_DIR)/owners.skel.h"],
          "action": [
            "sh", "-c",
            "<(bpftool) gen skeleton <(INTERMEDIATE_DIR)/owners.bpf.o name owners > <(INTERMEDIATE_DIR)/owners.skel.h.tmp && mv <(INTERMEDIATE_DIR)/owners.skel.h.tmp <(INTERMEDIATE_DIR)/owners.skel.h",
          ],
          "message": "bpftool gen skeleton owners",
        },
      ],
    },
  ],
}
