// Constants that both the GLSL kernels and the C++ recorders depend on. Included by both, so
// the host's dispatch arithmetic cannot drift from the kernels' tiling.
#ifndef MOEVK_MOE_CONFIG_H
#define MOEVK_MOE_CONFIG_H

// Grouped GEMM (expert_gemm.comp): a workgroup computes a tile of 32 rows x 64 output columns,
// stepping through the inner dimension 16 at a time; each thread owns 8 rows x C columns, so a
// staged weight feeds 8 multiply-adds from registers and a staged activation C. C is the
// pipeline's specialisation constant (moe::gemm_geometry: 8 on CPU devices, whose cost is the
// number of load instructions, 2 elsewhere, for more threads a tile) and the workgroup holds
// (32 / 8) x (64 / C) threads. 32 rows: a tile decodes its weights once for up to 32 rows, and a
// tile of a few rows wastes little (16 rows made 256-token prompts 15-25% slower on lavapipe, 64
// made 16-token ones 25-45% slower). Shared memory: 32 x 4 + 2 x 64 x 5 vec4s, 12 KiB, under
// Vulkan's 16 KiB minimum.
#define MOE_GEMM_TILE_ROWS 32
#define MOE_GEMM_TILE_COLS 64
#define MOE_GEMM_TILE_K 16
#define MOE_GEMM_ROWS_PER_THREAD 8

// Matrix-vector kernel (expert_matvec.comp): row groups of LANES lanes, each owning
// MOE_MATVEC_ROWS_PER_THREAD rows; LANES is the subgroup size where subgroup arithmetic is
// available, else MOE_MATVEC_LANES. A workgroup is MOE_MATVEC_THREADS threads (or one row group,
// if a subgroup is larger). The grid's x is the pair, y the row block; row blocks past
// MOE_MATVEC_MAX_ROW_GROUPS continue in z.
#define MOE_MATVEC_THREADS 128
#define MOE_MATVEC_LANES 32
#define MOE_MATVEC_ROWS_PER_THREAD 2
#define MOE_MATVEC_MAX_ROW_GROUPS 65535u

// router: one workgroup per (expert, token); topk and the permute scan: one thread per expert.
#define MOE_ROUTER_THREADS 64
#define MOE_MAX_EXPERTS 256
#define MOE_MAX_TOP_K 16
#define MOE_PERMUTE_THREADS 256
#define MOE_COMBINE_THREADS 64

// routing meta buffer (uint words) written by permute_scan
#define MOE_META_GATE_UP_ARGS 0  // 3 words: indirect dispatch of the gate/up GEMM
#define MOE_META_DOWN_ARGS 3     // 3 words: indirect dispatch of the down GEMM
#define MOE_META_ROWS 6          // rows kept in total
#define MOE_META_DROPPED 7       // pairs dropped by the capacity limit
#define MOE_META_WORDS 8

// expert kernels' epilogue flags (expert_epilogue.glsl)
#define MOE_EXPERT_BIASES 1u   // add the expert's gate/up (or down) bias to its outputs
#define MOE_EXPERT_CLAMPED 2u  // the clamped SwiGLU of gpt-oss instead of silu(g) * u

// combine flags
#define MOE_COMBINE_PAIR_ROW 1u      // rows come from pair_row (else row = pair)
#define MOE_COMBINE_SHARED 2u        // add the shared expert's output
#define MOE_COMBINE_SHARED_GATED 4u  // scale it by sigmoid(x . shared_gate)

#endif
