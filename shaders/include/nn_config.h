// Constants that the transformer kernels in shaders/nn and their C++ recorders
// (engine/runtime/kernels.cpp) both depend on. Included by both, so the host's dispatch
// arithmetic cannot drift from the kernels.
#ifndef MOEVK_NN_CONFIG_H
#define MOEVK_NN_CONFIG_H

// Element-wise kernels (add, store_kv, embed, rope): one thread per element (or pair), flat
// index over a 2D grid so counts past 65535 workgroups (the guaranteed maximum in x) continue
// in y: index = (group.y * NN_GROUPS_X + group.x) * NN_ELEMENTWISE_THREADS + local id.
#define NN_ELEMENTWISE_THREADS 256
#define NN_GROUPS_X 65535u

// rmsnorm: one workgroup per row, tree reduction of the sum of squares; rows past NN_GROUPS_X
// continue in y.
#define NN_RMSNORM_THREADS 256

// attention: one workgroup per (head, token). Keys are visited in blocks of NN_ATTN_BLOCK, one
// score per thread, with a running max and running sum (online softmax), so nothing grows with
// the context. Each thread owns head_dim / NN_ATTN_THREADS output dims.
#define NN_ATTN_THREADS 64
#define NN_ATTN_BLOCK 64  // == NN_ATTN_THREADS: thread j scores key j of the block
#define NN_ATTN_MAX_HEAD_DIM 256
#define NN_ATTN_DIMS_PER_THREAD (NN_ATTN_MAX_HEAD_DIM / NN_ATTN_THREADS)

#endif
