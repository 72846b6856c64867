//===- Passes.td - autopar conversion passes ---------------*- tablegen -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_CONVERSION_PASSES_TD
#define AUTOPAR_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertAutoParToLinalgPass
    : Pass<"convert-autopar-to-linalg", "func::FuncOp"> {
  let summary = "Lower the autopar dialect to linalg, tensor, arith and math";
  let description = [{
    Lowers every `autopar` op to destination-passing `linalg` ops on tensors
    (`linalg.generic` for elementwise math, contractions and reductions,
    `linalg.transpose`), `scf.for` loops for `scatter_add` (whose repeated
    indices accumulate), `tensor` ops for shape manipulation
    (`collapse_shape`/`expand_shape`, `extract_slice`, `insert_slice`), and
    `arith`/`math` in the bodies. Composite ops are first decomposed into
    primitives with the patterns of `autopar-decompose-composites`. The
    result is ready for one-shot bufferization. Fails, naming the op, if any
    `autopar` op is left.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::autopar::AutoParDialect"
  ];
}

def ContractionsToCallsPass
    : Pass<"autopar-contractions-to-calls", "::mlir::ModuleOp"> {
  let summary = "Run f32 contractions on buffers through the runtime's GEMM";
  let description = [{
    Replaces every `linalg` op on buffers that is a contraction (a
    multiply-add body, as `autopar.dot` lowers to, or `linalg.matmul` and its
    relatives) over `f32` memrefs with a call to the CPU runtime's
    `autopar_gemm_f32(A, B, C, loops)`, which computes `C += A * B` with
    oneDNN's sgemm (runtime/cpu/Contraction.h). The buffers are passed as
    unranked memrefs; `loops` is a constant `memref<?xi64>` holding, for each
    loop of the op, the dimension of A, B and C it indexes or -1. Any layout
    works: the runtime reads transposed operands in place and packs only
    those whose strides no GEMM can take. Contractions of other element
    types, or whose indexing maps are not projected permutations, stay as
    they are and become loops. `function` names the runtime function: the
    CUDA pipeline calls `autopar_cuda_gemm_f32` (cuBLAS, runtime/cuda) with
    device buffers. With `bf16-function` (or `f16-function`), a contraction
    of two bf16 (f16) inputs into an f32 init -- as
    `autopar-narrow-contractions` makes them -- calls that function, whose A
    and B are unranked memrefs of the narrow type (the CUDA pipeline:
    `autopar_cuda_gemm_bf16`, cublasGemmEx on the tensor cores).

    With `dots=false`, a contraction with neither an M loop (one that
    indexes A and C only) nor an N loop (B and C only) -- a dot product per
    batch element, as a layer norm's backward computes per row and its
    weight's gradient per feature -- stays a `linalg` op: the runtime would
    make one 1x1xK GEMM per batch element (gpt2-small's step: 409 600
    cuBLAS calls, 83 % of its GPU time), where the CUDA pipeline's
    reductions (`autopar-row-reductions-to-gpu`) take it in one kernel.

    With `overwrite-zero-init` (the CUDA pipeline), a contraction whose C is
    a `memref.alloc` of static, non-zero sizes that a `linalg.fill` of zero
    wrote last, with no other use of the buffer in between, loses the fill:
    the call's loop description gets a trailing 1 and the runtime writes C
    (cuBLAS's beta = 0) instead of adding to it, a pass over C fewer.

    With `narrow-results` as well (the CUDA pipeline), such a bf16 (f16)
    contraction whose f32 C is read only by `linalg.generic` ops that
    round each element to bf16 (f16) at once (`arith.truncf`: a
    half-precision `autopar.dot` is an f32 contraction and that rounding)
    and deallocated, gets a C of the half-precision type instead: the call
    goes to the function's `_c16` sibling (`autopar_cuda_gemm_bf16_c16`:
    cuBLAS rounds each f32 sum once, as the truncation did) and the readers
    take the half-precision elements as they are. The product writes and
    its readers read half the bytes. Where the one reader then only copies
    the product into a fresh buffer that nothing touched before (the
    rounding of a product a runtime call reads, which fusion could not take
    into a loop), the buffer's readers read the product itself and the
    copy goes.
  }];
  let options = [
    Option<"function", "function", "std::string", "\"autopar_gemm_f32\"",
           "The runtime function to call">,
    Option<"bf16Function", "bf16-function", "std::string", "\"\"",
           "The runtime function for bf16 A and B with an f32 C (empty: "
           "such contractions stay loops)">,
    Option<"f16Function", "f16-function", "std::string", "\"\"",
           "The same for f16 A and B">,
    Option<"overwriteZeroInit", "overwrite-zero-init", "bool", "false",
           "Where C is a fresh buffer that a linalg.fill with zero has just "
           "cleared, erase the fill and ask the runtime for C = A * B (a "
           "trailing 1 in the loop description); the CUDA runtime takes it, "
           "the CPU runtime refuses it">,
    Option<"dots", "dots", "bool", "true",
           "Also call the runtime for contractions without M and N loops "
           "(a dot product per batch element); false leaves them to the "
           "reductions' lowering">,
    Option<"narrowResults", "narrow-results", "bool", "false",
           "With overwrite-zero-init: give a half-precision contraction whose "
           "result is only read rounded to its inputs' type a C of that "
           "type (the `_c16` sibling of its function)">
  ];
  let dependentDialects = [
    "::mlir::func::FuncDialect",
    "::mlir::memref::MemRefDialect"
  ];
}

def FuseElementwisePass
    : Pass<"autopar-fuse-elementwise", "::mlir::func::FuncOp"> {
  let summary = "Fuse chains of elementwise linalg ops into single loops";
  let description = [{
    Upstream elementwise fusion (`linalg::populateElementwiseOpsFusionPatterns`)
    on tensors, with autopar's control: a producer is fused into its consumer
    only when it has no other use (nothing is computed twice), and never into
    a contraction, so that every `autopar.dot` stays a plain multiply-add that
    `autopar-contractions-to-calls` turns into a GEMM call. Elementwise
    producers of reductions are fused (softmax's exp into its sum). A
    `linalg.transpose` whose operand's only use it is, if an elementwise
    op makes that operand, or whose only user is an elementwise op, is
    generalized first so that the two fuse: one loop reading in one layout
    and writing in the other instead of a loop and a copy. An elementwise
    producer whose only other use is the function's return (an optimizer's
    new moments) fuses too, the loop yielding its values as well.

    With `recompute` (the CUDA pipeline's), an elementwise producer of a
    few operations that several elementwise or reduction ops read is
    computed again in each of them instead of written once, where its
    operands indexed by every loop take no more bytes per element than its
    result (broadcast operands count nothing; an operand the body only
    rounds counts at the rounded width, as narrow-results will store it):
    a bias added to a bf16 product (2 bytes read, an f32 written) is added
    again by the GELU and by the GELU's derivative, which read the bf16
    product, and the f32 sum is neither written nor kept for the backward
    pass. Transposing producers stay (their consumers would read across
    the layout). Also with `recompute`: a concatenation
    (`tensor.insert_slice`s into a `tensor.empty`) of pieces that
    elementwise ops make only by widening bf16/f16 values (reshaped at
    most) is built in the narrow type and widened once after, the
    widening then recomputed by the readers (attention's bf16 dq, dk and
    dv concatenated into the f32 gradient of the query-key-value
    product). A producer that loops read through static slices and
    expanding reshapes is read directly, the views folded into their
    indexing maps, and recomputed (the bias added to the query-key-value
    product, cut into query, key and value, split into heads). An
    elementwise op whose result is collapsed and inserted into a larger
    tensor computes the collapsed shape itself (division and remainder in
    its operands' maps), so that `eliminate-empty-tensors` can have it
    write into its slice (the pipelines run it after this pass when
    `recompute` is on).
  }];
  let options = [
    Option<"recompute", "recompute", "bool", /*default=*/"false",
           "Recompute cheap elementwise producers in each consumer instead "
           "of writing their results">
  ];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def OutlineLoopNestsPass
    : Pass<"autopar-outline-loop-nests", "::mlir::ModuleOp"> {
  let summary = "Move each linalg op on buffers into its own function";
  let description = [{
    Outlines every `linalg` op with buffer semantics into a private function
    of its operands and the values its body captures (constants are cloned
    in), marked `no_inline`, and calls it. A training step otherwise becomes
    one function with thousands of loops, and LLVM's loop passes
    (IndVarSimplify above all) take time that grows faster than linearly
    with a function's size: a 4-layer GPT's step took 100 s to JIT-compile
    before, a few seconds after (docs/cpu-performance.md). A call per loop
    nest costs nothing next to the nest.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def ApproximateMathPass
    : Pass<"autopar-approximate-math", "::mlir::func::FuncOp"> {
  let summary = "Replace f32 transcendental functions by polynomial code";
  let description = [{
    Upstream's polynomial approximations (exp, log, tanh, erf, ... on f32)
    in place of calls to libm, which the loop vectorizer cannot widen: the
    loops around softmax, GELU and the loss then run in SIMD. f64 math keeps
    libm. The approximations are within a few ulp of libm; the numerical
    tests against numpy (f32: relative 1e-5) cover every such op.

    With `erf-only`, only `math.erf` (the CUDA pipeline, before kernel
    outlining): libdevice's erf branches on the argument's size, and the
    backend sinks the loads of an unrolled row walk past each branch (the
    walk then waits for each element's load in turn, as the GELU
    derivative's column sum in gpt2-small's step did). An f32 erf becomes
    two branch-free pieces, both computed and one selected: x + x r(x²)
    below 0.921875 (r of degree 5) and 1 − 2^q(|x|) above, |x| clamped to
    3.92 and the sign restored (q of degree 7, `math.exp2` with
    `fastmath<afn>`: one `ex2.approx`); within 1.05 ulp of erf in f32 with
    fused multiply-adds (test/Integration/Numerics/erf-two-pieces.test
    measures 0.98 ulp on the CPU), NaN stays NaN and ±inf gives ±1. Upstream's
    rational approximation, which the CPU keeps, selects 18 coefficients
    by interval and divides: GELU's kernels were arithmetic-bound (PTX for
    4 elements of a bf16 GELU: 204 instructions, 84 of them `selp`; 141
    with the pieces). Other element types take upstream's erf.

    With `fast-exp` (the CUDA pipeline too), each f32 `math.exp` gets
    `fastmath<afn>`, which the NVVM lowering turns into a multiplication by
    log2 e and one `ex2.approx` (CUDA's `__expf`) instead of libdevice's
    range reduction (11 instructions): 2^-22 relative from `ex2.approx`,
    plus |x| 2^-24 from rounding x log2 e, so a few ulp for the arguments
    softmax and the cross-entropy take (x - max <= 0; the terms far below
    the maximum, where the error grows, add little to the sum).
    With `fast-div` (the CUDA pipeline), each f32 `arith.divf` and
    `math.sqrt` gets `fastmath<afn>` too: `div.approx.f32` (a reciprocal
    and a multiplication, within 2 ulp for divisors of magnitude 2^-126 to
    2^126; 0 past that) and `sqrt.approx.f32` (2^-23 relative) instead of
    the correctly rounded `div.rn` / `sqrt.rn`, which ptxas expands into a
    Newton step, a range check and a call to a slow path each (what
    torch.compile's Triton kernels use for `/` is also approximate). Adam's
    update divides each element three times and takes a square root:
    gpt2-small's merged update kernels held 72 such checks and calls.
    `erf-only`, `fast-exp` and `fast-div` each select their ops; without
    any, every upstream approximation applies (the CPU).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::math::MathDialect",
    "::mlir::vector::VectorDialect"
  ];
  let options = [
    Option<"erfOnly", "erf-only", "bool", "false",
           "Approximate math.erf (as two pieces) and nothing else unless "
           "fast-exp">,
    Option<"fastExp", "fast-exp", "bool", "false",
           "f32 math.exp with fastmath<afn> (ex2.approx on the GPU), and "
           "nothing else unless erf-only">,
    Option<"fastDiv", "fast-div", "bool", "false",
           "f32 arith.divf and math.sqrt with fastmath<afn> (div.approx and "
           "sqrt.approx on the GPU), and nothing else unless erf-only">
  ];
}


def CollectivesToCallsPass
    : Pass<"autopar-collectives-to-calls", "::mlir::ModuleOp"> {
  let summary = "Lower grid collectives to calls into the process runtime";
  let description = [{
    Replaces each `autopar.all_reduce` on `f32`/`f64` tensors by a call to
    the runtime's `autopar_all_reduce_f32` / `_f64(axes, in, out)`: `in` is
    the operand's buffer (read only), `out` a fresh buffer that becomes the
    result, `axes` a bit mask of the grid axes whose processes sum together.
    `autopar.all_gather`, `autopar.reduce_scatter` and `autopar.local_slice`
    call `autopar_all_gather_f32(axes, dim, in, out)` and its likes;
    `autopar.grid_index` calls `autopar_grid_index(axis) -> i64`.
    The runtime (autopar-run) keeps one communicator per axis set, made once
    at start-up, and bounds every wait by its collective timeout.
    `autopar.grad_all_reduce` is the identity once differentiated and goes.
    `shard.grid` ops with no users left are erased. Runs before
    `convert-autopar-to-linalg`.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::func::FuncDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def TileLoopsForGPUPass
    : Pass<"autopar-tile-loops-for-gpu", "::mlir::func::FuncOp"> {
  let summary = "Give each parallel loop nest thread blocks before mapping "
                "it to the GPU";
  let description = [{
    Tiles every outermost `scf.parallel` by `threads` along its innermost
    dimension (the contiguous one, so that neighbouring threads touch
    neighbouring elements) and by 1 along the others
    (`scf::tileParallelLoop` with constant inner bounds and a guard for the
    remainder), so that `gpu-map-parallel-loops` maps the tiles to blocks
    and the points of a tile to threads. A dimension shorter than `threads`
    gets a block of its size rounded up to a multiple of 32 (a warp).
    Loop nests with no parallel dimension (a reduction to a scalar) and
    other host code reading or writing buffers are wrapped, with the ops
    after them that use what they compute (a scalar loaded, combined and
    stored back), in a one-point `scf.parallel`, so that they run on the
    device too (as one thread): the buffers live in device memory. An op
    that cannot move there (a call, a return, an allocation) using such a
    value is an error. A `memref.copy` to or from a buffer that is not
    contiguous (a subview: a slice of a concatenation) becomes a parallel
    loop of loads and stores first, tiled like the others: the
    `gpu.memcpy` a copy becomes moves bytes linearly.

    A large two-dimensional nest whose body is straight-line code (no
    regions, no reduction: an elementwise op), whose outer dimension runs
    from 0 by 1 to a multiple of `rows-per-thread`, and that would still
    have at least 2^18 threads, first gives each thread `rows-per-thread`
    consecutive outer iterations at the same inner index: the outer step
    becomes `rows-per-thread` and the body is cloned once per row,
    operation by operation (every row's loads, then every row's
    arithmetic, then every row's stores), so that a thread has several
    independent loads in flight; the iterations of an `scf.parallel` do not
    depend on each other, so the order between rows is free. Neighbouring
    threads still touch neighbouring elements.

    Before that, an elementwise nest of one or two dimensions (straight-line
    body, innermost loop from 0 by 1) gives each thread `width` consecutive
    elements along the innermost dimension, read and written as vectors
    (`vector.load` / `vector.store` with their alignment, one 16-byte
    access instead of four or eight): each load or store whose innermost
    index is the innermost loop's index, and whose other indices do not
    vary with it, on a buffer whose layout is static (innermost stride 1,
    the other strides and the offset multiples of `width`) and that is an
    allocation, a global's device copy or a function argument, seen
    through subviews, casts and reshapes (the runtime allocates those
    256-byte aligned, the host runtime 64-byte; a caller passing arguments
    less aligned than 16 bytes breaks this). `width` is the most elements
    of the widest such access that fit in `vector-bytes` and divide the
    innermost trip count (4 for f32, 8 for bf16 alone); the body is cloned
    per lane, except ops that neither vary along the row nor write memory
    (a bias, a row's statistic), which run once; other accesses stay one
    element per lane. The innermost loop then runs over vectors (step 1:
    upstream tiling's guard for a partial tile assumes unit steps), and
    after the rows' coarsening both dimensions become one, the vectors
    numbered row after row, so that every such nest gets blocks of
    `threads` threads whatever its rows' length (a row of 768 bf16 is 96
    vectors) and whole blocks but the last.
  }];
  let options = [
    Option<"threads", "threads", "int64_t", "256",
           "Threads per block along the innermost dimension">,
    Option<"rowsPerThread", "rows-per-thread", "int64_t", "4",
           "Outer iterations each thread of a large elementwise nest "
           "computes (1: one point per thread)">,
    Option<"vectorBytes", "vector-bytes", "int64_t", "16",
           "Bytes of the widest vector an elementwise nest's thread reads or "
           "writes at once (0: one element at a time)">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def FuseLaunchesPass
    : Pass<"autopar-fuse-launches", "::mlir::func::FuncOp"> {
  let summary = "One kernel for independent elementwise kernels "
                "(horizontal fusion)";
  let description = [{
    Merges `gpu.launch` ops that do not depend on each other into one
    launch whose blocks are theirs one after the other: block b of the
    merged grid runs the body of the launch whose range of blocks holds b
    (a balanced tree of `scf.if` on the block index: every thread of a
    block takes the same branch), with that launch's block and thread
    indices recovered from b and the thread's linear index. gpt2-small's
    optimizer step is 148 such kernels, one per parameter, a third of them
    768 elements (3 blocks), and its forward pass rounds the 49 weights to
    bf16 in kernels of their own between the layers: small kernels whose
    launch gaps and half-empty last waves are a large part of their time.

    A launch takes part when its body is one block of arithmetic, memory
    accesses, structured control flow and cooperation within a block only:
    barriers, shuffles, reductions across the block and workgroup memory
    (every thread of a merged block runs the same launch's body, so all
    reach its barriers; its thread indices come from the linear one as
    CUDA numbers threads, x fastest, so a warp stays a warp); no private
    memory, dynamic shared memory, or op that reads the launch's indices
    other than its region arguments (gpu.thread_id, gpu.block_dim, ...);
    constant grid and block sizes. Each member keeps its workgroup memory
    in the merged launch, at most 24 KB of it together. Launches merge
    when their blocks have
    the same number of threads and the merged kernel's parameters (each
    memref a descriptor of 3 + 2 × rank words, other values a word; the
    constants are sunk into the kernel) fit in `param-bytes`. A launch
    joins the nearest earlier group it is compatible with, moving up past
    the ops in between when none of them writes a buffer it reads or reads
    or writes a buffer it writes (`memref.dealloc` counts as a write; a
    call as reading and writing its operands, except constant globals and
    a product's A and B, which it only reads: the runtime's products are
    `(A, B, C, ..., loop description)`, the last a constant global), and
    it reads or writes nothing any member writes (or writes what one
    reads). Two buffers are known apart when LocalAliasAnalysis says so
    (distinct allocations, an allocation and an argument) or they are two
    arguments of the function at least one of which is a result passed out
    (`bufferize.result`: the compiled steps' callers give each result a
    buffer of its own). The static allocations, views and constants the
    launch uses move up with it. With `hoist=false` only launches with
    nothing but such ops between them merge. A group of one launch stays as
    it was.
  }];
  let options = [
    Option<"paramBytes", "param-bytes", "int64_t", "4096",
           "Most bytes of kernel parameters a merged launch may take "
           "(4096: what every CUDA version accepts)">,
    Option<"hoist", "hoist", "bool", "true",
           "Move a launch up past independent ops (and the allocations it "
           "writes with it) to join an earlier group">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::gpu::GPUDialect"];
}

def LaunchesToLoopsPass
    : Pass<"autopar-launches-to-loops", "::mlir::func::FuncOp"> {
  let summary = "Run gpu.launch bodies as host loops, a block's threads in "
                "turn between the points where they meet (to test kernel "
                "rewrites on a CPU)";
  let description = [{
    Replaces each `gpu.launch` by host loops that compute what it computes,
    so that a module of kernels can run on a CPU (`mlir-runner`, or
    `autopar-run --gpu-kernels` for a whole step) and the kernels' rewrites
    be checked there against numpy, the CPU backend or the unrewritten
    kernels.

    A launch whose threads never meet becomes one `scf.parallel` over its
    blocks and threads. A launch whose threads meet within their block
    (`gpu.barrier`, `gpu.shuffle`, `gpu.all_reduce`, workgroup memory: the
    row kernels and the launches autopar-fuse-launches merges) runs its
    blocks one after the other, each in steps: the ops between two meeting
    points run for every thread in turn (a loop over the block's threads,
    numbered x fastest), and a value that a later step reads waits in an
    array with an element per thread. A shuffle reads its source lane's
    element (warps of 32 lanes; validity as NVVM's lowering clamps
    `shfl.sync`), `gpu.all_reduce` combines the active threads' values in
    their order and gives each the result, and workgroup memory is one
    buffer per launch that each block reuses. An `scf.if` holding a meeting
    point runs both branches, each for the threads its condition picks; an
    `scf.for` holding one runs in rounds until no thread's loop goes on,
    each thread taking part while its own induction variable is below its
    own bound (so a warp-uniform loop around shuffles runs as on the GPU).
    The arrays and workgroup buffers are allocated on the heap before the
    blocks and freed after them.

    With `check-alignment` (default), each vector load or store asserts
    (`cf.assert`) that its first element lies a multiple of the vector's
    bytes into its buffer: the GPU faults on a misaligned 8- or 16-byte
    access, where the CPU reads it anyway.

    Errors: a launch whose threads meet beyond their block or that reads
    where they are other than from its arguments (`gpu.thread_id`, NVVM
    intrinsics), dynamic shared memory, workgroup memory used other than by
    loads and stores, a value that cannot be an array element (a thread's
    own buffer) crossing a meeting point, and other ops holding one
    (`scf.while`).
  }];
  let options = [
    Option<"checkAlignment", "check-alignment", "bool", "true",
           "Assert that each vector load or store is aligned to its size "
           "within its buffer, as the GPU needs">
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::cf::ControlFlowDialect",
                           "::mlir::memref::MemRefDialect"];
}

def DeviceBuffersPass : Pass<"autopar-device-buffers", "::mlir::ModuleOp"> {
  let summary = "Allocate the host functions' buffers in GPU memory";
  let description = [{
    In the host functions of a module whose loops run on the GPU
    (`gpu.launch` / `gpu.launch_func`), `memref.alloc` becomes `gpu.alloc`,
    `memref.dealloc` `gpu.dealloc` and `memref.copy` between buffers
    `gpu.memcpy`: every buffer the kernels touch is device memory, as are
    the functions' arguments (the runtime passes device pointers). Each
    constant `memref.global` a host function reads gets a device copy
    (`gpu.alloc`, filled by `gpu.memset` for a 16- or 32-bit splat, else by
    `gpu.memcpy` from the host global; freed before every return), except
    globals marked `autopar.host`, which a host runtime function reads. Fails,
    naming the op, where host code would still read or write a buffer
    (`memref.load` / `memref.store` outside a kernel), or would copy a
    buffer that is not contiguous (`gpu.memcpy` moves bytes linearly).
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def NarrowContractionsPass
    : Pass<"autopar-narrow-contractions", "::mlir::func::FuncOp"> {
  let summary = "Let f32 contractions of widened bf16/f16 tensors read them";
  let description = [{
    A bf16 or f16 `autopar.dot` lowers to f32 copies of its operands (each a
    `linalg.generic` whose body is one `arith.extf`), an f32 contraction and
    a rounding of the result. When both operands of a contraction on tensors
    are such copies of tensors of the same half-precision type, the
    contraction reads those tensors instead and widens each element in its
    body (`extf(a) * extf(b) + c`: the same values, accumulated in f32); the
    copies are erased when nothing else reads them. On the GPU,
    `autopar-contractions-to-calls` then passes the half-precision buffers
    to cuBLAS (its `bf16-function` / `f16-function`), which multiplies them
    on the tensor cores. Run it before `autopar-fuse-elementwise`, which
    would otherwise merge each copy with the rounding that made its input.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect"];
}

def RowReductionsToGPUPass
    : Pass<"autopar-row-reductions-to-gpu", "::mlir::func::FuncOp"> {
  let summary = "Give each row of an innermost-dimension reduction a block";
  let description = [{
    A `linalg.generic` on buffers whose loops are parallel ones followed by
    reductions (at least `min-size` elements per output), whose output is
    indexed by the parallel loops in order, whose inputs read the innermost
    loop as their last, unit-stride dimension (a softmax's max and sum, a
    layer norm's mean, the cross-entropy's sum over the classes, a sum to a
    scalar), and whose body folds one value into the output with `addf`,
    `mulf`, `maximumf`, `minimumf`, `maxnumf` or `minnumf`, becomes a
    `gpu.launch` of one block (`threads`, or the row's length rounded up to
    a warp) per output element: the threads stride over the row together
    (coalesced reads), each folds its share from the combiner's identity,
    `gpu.all_reduce` combines the partials, and thread 0 folds the result
    into the output's value. Without it each row is one thread's loop:
    gpt2-small's 8192 rows of 50257 logits read a row apart by neighbouring
    threads. A sum whose innermost parallel loop is the inputs' contiguous
    dimension and whose reductions run across it (a bias gradient: the sum
    over batch and positions of `dy[b, s, d]`, after
    `autopar-parallel-dims-first`) becomes blocks of 32 columns (threads
    along x) by 8 row groups, with enough blocks along y that each thread
    sums about 32 rows; the block's 8 partial sums of a column meet in
    workgroup memory after a barrier and its first row group adds their
    total into the output with an atomic add (one a column and block, not
    one a thread: 32 on each of gpt2-small's bias gradients, not 256):
    without it, one thread per column loops over every row (768 threads
    for gpt2-small's 8192 rows). With `siblings`, the
    elementwise ops right after such a sum (nothing in between but
    allocations and ops without memory effects) that read only buffers the
    sum reads, through the same indexing, and write only fresh allocations
    (every element once) are computed in the sum's kernel too, storing as
    they go: a bf16 step's GELU derivative is summed into the bias gradient
    and rounded for the next products by two such ops, which recomputed it
    from the same two buffers in two kernels. A column sum after it over
    loops of the same trip counts (fills of its output in between, which
    move ahead of the kernel) is a sibling too where its buffers are apart
    from the ones the kernel writes and its output from the ones it reads
    (LocalAliasAnalysis, or two function arguments both marked
    `bufferize.result`: distinct results): one walk folds both sums, each
    into its own partial sum and its own atomic add (a layer norm's two
    gradient sums read the same incoming gradient). Float sums are
    reassociated (a tree, or atomics in any order, instead of a left fold).
    Each thread's loop is unrolled by `unroll` (at most the fewest trips any
    thread makes; a remainder loop takes the rest) so that it has that many
    loads in flight instead of waiting for each before it issues the next;
    it still folds its elements in the same order. Rows of at most
    `warp-row-length` elements (1024) whose results are f32 take a warp
    each instead of a block, up to `threads / 32` rows a block: a lane
    folds every 32nd element and five `gpu.shuffle xor`s combine the
    lanes, without shared memory or a barrier (gpt2-small's layer norms,
    rows of 768: a block of 256 threads gave each thread 3 elements and
    waited at a barrier per reduction).
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::vector::VectorDialect"];
  let options = [
    Option<"threads", "threads", "int64_t", "256",
           "Threads per block (a multiple of 32, at most 1024)">,
    Option<"minSize", "min-size", "int64_t", "32",
           "Reductions of fewer elements per output stay one thread's loop">,
    Option<"warpRowLength", "warp-row-length", "int64_t", "1024",
           "Rows of at most this many elements take a warp each (several "
           "rows a block, combined by shuffles without a barrier) instead of "
           "a block; 0: a block per row always">,
    Option<"longRowThreads", "long-row-threads", "int64_t", "1024",
           "Threads of a block whose row has at least 16 elements for each "
           "(fewer rows in flight, so that a row walked again is still in "
           "the L2 cache); 0: `threads` for every row">,
    Option<"unroll", "unroll", "int64_t", "8",
           "Iterations of a thread's loop over a row unrolled together "
           "(loads in flight; at most the fewest trips a thread makes; 1: "
           "none)">,
    Option<"loadsFirstBytes", "loads-first-bytes", "int64_t", "128",
           "Bytes of an unrolled loop's loads a thread issues before the "
           "loop's other operations (the loads in flight; each holds its "
           "registers until its use; 0: the loads stay where they are)">,
    Option<"vectorBytes", "vector-bytes", "int64_t", "0",
           "Bytes of the widest vector a thread's loop over a row reads or "
           "writes at once, its elements consecutive (0: one element at a "
           "time; the CUDA pipeline passes its vector-bytes, 16)">,
    Option<"siblings", "siblings", "bool", "true",
           "Elementwise ops right after a column sum that read only what it "
           "reads (through the same indexing) and write fresh allocations "
           "run in its kernel">,
    Option<"blockSums", "block-sums", "bool", "true",
           "A column sum's block adds its row groups' partial sums in "
           "workgroup memory before one atomic add a column (false: an "
           "atomic add a thread, and no barrier, so the kernel can merge "
           "with others in autopar-fuse-launches)">
  ];
}

def FuseRowsPass : Pass<"autopar-fuse-rows", "::mlir::func::FuncOp"> {
  let summary = "Fuse row reductions with the elementwise ops around them";
  let description = [{
    Finds runs of `linalg.generic` ops on buffers that share one row space:
    elementwise ops over loops `P x L` (the output indexed by the loops in
    order), reductions of `P x L` into `P` (one innermost reduction loop;
    the output indexed by `P`; one float combiner, as
    `autopar-row-reductions-to-gpu` takes) and elementwise ops over `P`
    (per-row scalars: a layer norm's variance and its reciprocal square
    root). Between its members a run may hold `memref.alloc`,
    `memref.dealloc` (moved after the fused op), ops without memory effects,
    and ops whose effects on buffers are known and independent of the
    members before them (no read of a buffer they write, no write of one
    they read or write: a fill, another row space's elementwise op), and
    linalg ops over no more elements than the run has rows that read what
    the members before them write (or must follow such an op): those move
    after the fused op, and later members may not touch what they write nor
    write what they read (a cross-entropy's sum of its rows' losses, which
    would otherwise split the loss from its gradient). The fused op goes
    where the last member was. A run with a reduction and at
    least two members becomes one op that walks each row once per reduction
    (consecutive reductions that need none of each other's values share a
    walk: in gpt2-small's step, the cross-entropy's label log-probability
    and its gradient's one-hot sum, 4 walks over the logits instead of 5)
    and once per stored result; a sum of a one-hot selection
    (`select(j == k, e, 0)`, j the row's index, k the same for the whole
    row; those two sums) is no walk: e at element k, loaded once (the
    identity where k is outside the row); a maximum and the sum of
    exp(x - maximum) after it (a softmax's, the cross-entropy's) share one
    walk, each thread rescaling its sum as its maximum grows (the online
    softmax; only the rounding differs from two walks; with vectors, once
    a vector, after the vector's maximum): a softmax (scale, mask, max, exp, sum,
    divide) reads its input and writes its output once instead of about ten
    passes over the scores. A reduction into a fresh buffer that a
    `linalg.fill` set starts from the fill's value. A member's result is
    stored only if something other than the run, that fill and
    deallocations uses its buffer (or it is not a `memref.alloc`); other
    members recompute it where they read it, and buffers left unused are
    no longer allocated.

    `gpu=true` (the CUDA pipeline): a `gpu.launch` of one block per row
    (`threads`, or the row's length rounded up to a warp), the threads
    striding over the row, `gpu.all_reduce` combining each reduction, the
    first thread storing per-row results after a barrier, each thread's
    loops over the row unrolled by `unroll` as in
    `autopar-row-reductions-to-gpu` (gpt2-small's cross-entropy kernel
    issued one 2-byte load at a time), and rows of at most
    `warp-row-length` elements a warp each as there (several rows a
    block, the reductions combined by shuffles; a per-row result stored
    by the row's first lane after a barrier). `gpu=false`: an
    `scf.parallel` over the rows with sequential loops inside, which the
    CPU pipeline runs (`autopar-lower-to-cpu{fuse-rows fuse-rows-unroll}`):
    how the tests check the fusion, unrolled or not, against numpy without
    a GPU. Runs are not fused when a
    member writes a buffer that the run also reads from outside (or a view
    of one), reads a member's result through another indexing than its
    own, or when the rows are shorter than `min-size`.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
  let options = [
    Option<"gpu", "gpu", "bool", "true",
           "A gpu.launch with a block per row (false: an scf.parallel over "
           "the rows)">,
    Option<"threads", "threads", "int64_t", "256",
           "Threads per block (a multiple of 32, at most 1024)">,
    Option<"minSize", "min-size", "int64_t", "32",
           "Runs whose rows have fewer elements are left alone">,
    Option<"warpRowLength", "warp-row-length", "int64_t", "1024",
           "Rows of at most this many elements take a warp each (several "
           "rows a block, combined by shuffles without a barrier) instead of "
           "a block; 0: a block per row always">,
    Option<"longRowThreads", "long-row-threads", "int64_t", "1024",
           "Threads of a block whose row has at least 16 elements for each "
           "(fewer rows in flight, so that a row walked again is still in "
           "the L2 cache); 0: `threads` for every row">,
    Option<"unroll", "unroll", "int64_t", "8",
           "Iterations of a thread's loop over a row unrolled together "
           "(loads in flight; at most the fewest trips a thread makes; 1: "
           "none)">,
    Option<"loadsFirstBytes", "loads-first-bytes", "int64_t", "128",
           "Bytes of an unrolled loop's loads a thread issues before the "
           "loop's other operations (the loads in flight; each holds its "
           "registers until its use; 0: the loads stay where they are)">,
    Option<"vectorBytes", "vector-bytes", "int64_t", "0",
           "Bytes of the widest vector a thread's loop over a row reads or "
           "writes at once, its elements consecutive (0: one element at a "
           "time; the CUDA pipeline passes its vector-bytes, 16)">
  ];
}

def AttentionToCallsPass
    : Pass<"autopar-attention-to-calls", "::mlir::ModuleOp"> {
  let summary = "Run attention and its gradient as the runtime's fused kernels";
  let description = [{
    Replaces each `autopar.attention` without a mask and each
    `autopar.attention_grad` on bf16 or f16 tensors whose head size (of
    query, key and value alike) is 32, 64 or 128 by a call to the CUDA
    runtime's fused kernels (runtime/cuda/Attention.cu, flash attention):
    `autopar_cuda_attention_forward_<type>(q, k, v, out, scale, causal)` and
    `autopar_cuda_attention_backward_<type>(q, k, v, out, dout, dq, dk, dv,
    scale, causal)`, on the operands' buffers (read only) as
    `[batch, heads, positions, head size]` memrefs with any strides (other
    ranks as `[1, leading dimensions, positions, head size]`). Neither
    stores the probabilities: the backward pass recomputes them.
    An operand that is a `[batch, positions, heads, head size]` tensor
    transposed (`perm = [0, 2, 1, 3]`, rounded to the operand's type on the
    way or not: how a model splits a projection into heads) is passed as
    that tensor (rounded) viewed transposed, so that no transposing copy is
    made; a round trip through a wider float is dropped; where that tensor
    is a slice of a wider `[batch, positions, N]` one (the fused
    query-key-value projection), the wider tensor is rounded once and each
    operand is a view of its slice. A rank-4 result
    is a fresh `[batch, positions, heads, head size]` buffer the kernels
    write through a transposed view: readers that transpose it back
    (widened first or not) read it as it is, others a transpose of it. A
    gradient whose dq, dk and dv are only widened, transposed back,
    flattened to `[batch, positions, heads x head size]` and concatenated
    along the last dimension (the gradient of a fused query-key-value
    projection) writes them into one `[batch, positions, 3, heads, head
    size]` buffer that stands for the concatenation.
    A gradient whose operand `output` is a converted attention's result on
    the same query, key and value, with the same causality and scale (what
    autodiff makes), is paired with it: the attention becomes
    `autopar_cuda_attention_forward_lse_<type>(q, k, v, out, lse, scale,
    causal)`, saving each query row's log-sum-exp in a fresh f32
    `[batch x heads, positions]` buffer, and the gradient
    `autopar_cuda_attention_backward_lse_<type>(q, k, v, out, dout, lse, dq,
    dk, dv, scale, causal)`, which reads it instead of recomputing it (one
    pass over the scores fewer). One gradient per attention is paired;
    others recompute. Other attentions are left to the decomposition. Runs
    before `convert-autopar-to-linalg`.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::func::FuncDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def TransposeProductResultsPass
    : Pass<"autopar-transpose-product-results", "::mlir::func::FuncOp"> {
  let summary = "Store a product's result in the orientation its reader walks";
  let description = [{
    After `autopar-contractions-to-calls`: where a product call's C is a
    fresh static 2-D allocation that only that call, deallocations and one
    `linalg.generic` after it use, and that op reads it once with its
    innermost loop running down C's columns (C[j, i] at loop (i, j): its
    neighbouring threads read addresses a row apart), C becomes the
    transposed allocation, the call's loop description says so (C's
    dimensions 0 and 1 swapped, in a new constant global) and the reader
    reads it along its rows. The runtime writes either orientation
    (runtime/common/ContractionPlan.h swaps the operands: C^T = B^T A^T).
    gpt2-small's tied embedding: its gradient's 768 × 50257 product was
    read transposed into the [50257, 768] f32 gradient, 0.27 ms a step on
    an H200 for 230 MB (run 15).
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
  let options = [
    Option<"prefix", "prefix", "std::string", "\"autopar_cuda_gemm_\"",
           "Names of the product functions (operands A, B, C, loops)">
  ];
}

def PadProductsPass : Pass<"autopar-pad-products", "::mlir::func::FuncOp"> {
  let summary = "Run half-precision products on buffers padded to multiples of 8";
  let description = [{
    After `autopar-contractions-to-calls`: for each call to a product of
    bf16 or f16 operands (`prefix`), every loop that is not a batch loop,
    has at least `min-size` iterations and is not a multiple of `multiple`
    is padded to the next multiple, where each buffer it indexes is a fresh
    static allocation used only by product calls (through casts),
    `linalg.generic` ops and deallocations: the allocation grows in that
    dimension, the product takes the grown buffer (or a view of it with the
    grown extents), and every other use takes a view of the original
    extent. Where the padded loop is summed over (it indexes A and B, not
    C), a `linalg.fill` with zeros of the padding of A and of B goes right
    before the call; the padding of a result receives what the product
    computes there and nothing reads it. cuBLAS runs a half-precision GEMM
    on its fast kernels only when the dimensions are multiples of 8: on an
    H200, gpt2-small's 8192 × 50257 × 768 logits product took 6.7 ms on
    rows of 50257 elements and on rows padded to 50264 with 50257 columns
    computed, 0.91 ms on 50264 columns (bench/gpu/gemm_pitch_torch.py). The
    runtime pads such a product itself by copying the operands into padded
    scratch and the result back (runtime/common/GemmPadding.h): about 0.8
    GB in and out around each of gpt2-small's three vocabulary products;
    with the buffers padded here those copies go.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect"];
  let options = [
    Option<"prefix", "prefix", "std::string", "\"autopar_cuda_gemm_\"",
           "Names of the product functions (operands A, B, C, loops)">,
    Option<"multiple", "multiple", "int64_t", "8",
           "The loop sizes the products want (1: pad nothing)">,
    Option<"minSize", "min-size", "int64_t", "64",
           "Loops of fewer iterations stay as they are (the runtime pads "
           "what needs it)">,
    Option<"halfOnly", "half-only", "bool", "true",
           "Pad only products of bf16 or f16 operands (false: f32 ones too, "
           "which the CPU pipeline's tests use to check the padding "
           "against the unpadded step)">,
    Option<"poison", "poison", "bool", "false",
           "Fill the padding with NaN where it is allocated (for tests: a "
           "product that sums over it unzeroed, or a reader of a result's "
           "padding, then shows)">
  ];
}

def AsyncGemmCallsPass
    : Pass<"autopar-async-gemm-calls", "::mlir::ModuleOp"> {
  let summary = "Queue the runtime's GPU contractions without a host wait";
  let description = [{
    On host code in the LLVM dialect (after `gpu-to-llvm`): where a stream
    is synchronized and destroyed (`mgpuStreamSynchronize`,
    `mgpuStreamDestroy`: what `gpu-async-region` puts before a call it does
    not know) before a call to a function whose name starts with
    `prefix` (the runtime's contractions, `autopar_cuda_gemm_f32` and its
    bf16/f16 siblings, and its fused attention kernels), with only
    operations free of memory effects between them (a ranked memref's
    descriptor unpacked field by field for the call), the
    synchronization goes and the stream is destroyed after the call
    instead. Those functions read only host
    descriptors and queue cuBLAS on the legacy default stream, which runs
    after all earlier work on the blocking streams `mgpuStreamCreate`
    makes (the stream still exists, its work queued, when the product is
    queued) and before any later work on them; without the wait, the
    device does not run dry before each product while the host wakes up
    and queues it (about 150 times in a gpt2-small training step).
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
  let options = [
    Option<"prefix", "prefix", "std::string", "\"autopar_cuda_\"",
           "Names of the functions whose calls need no host wait">
  ];
}

def FlushDenormalsPass
    : Pass<"autopar-flush-denormals", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Take libdevice's flush-to-zero paths in a GPU module";
  let description = [{
    On a `gpu.module` in the LLVM dialect (after `convert-gpu-to-nvvm`):
    the module gets the flag `nvvm-reflect-ftz` = 1, so that libdevice
    (linked at `gpu-module-to-binary`) takes the paths `nvcc -ftz=true`
    gives it, and each f32 `llvm.fdiv` with `afn` (autopar-approximate-math
    fast-div) becomes `llvm.nvvm.div.approx.ftz.f`. f32 values below
    2^-126 in magnitude are then read and written as zero (signs kept) by
    the exponentials (fast-exp's `__nv_fast_expf`, erf's `exp2`), `rsqrt`,
    `sqrt`, `log`, `pow` and those divisions; the kernels' other f32
    arithmetic keeps denormals.

    What it buys, in SASS on sm_90: `ex2.approx.f32` is four instructions
    (a range test, a scaling of the argument, `MUFU.EX2`, a scaling of the
    result) and `ex2.approx.ftz.f32` one; `sqrt.approx` four and one;
    `div.approx` five and two. Softmax, the cross-entropy, GELU's erf and
    Adam's update take one or more of these per element. A training
    step's results do not depend on values that small (a gradient element
    of 1e-38 moves no f32 weight); the checks against the CPU backend,
    which keeps denormals, bound the difference. Marking the functions
    `denormal_fp_math_f32 = "preserve-sign"` instead would flush all their
    f32 arithmetic, but also turn each bf16 widening into an `F2F`
    instruction (`cvt.ftz.f32.bf16`) instead of a shift.

    A module that already sets `nvvm-reflect-ftz` to another value is an
    error.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def ScatterToAtomicsPass
    : Pass<"autopar-scatter-to-atomics", "::mlir::func::FuncOp"> {
  let summary = "Parallelize scatter-add loops with atomic adds";
  let description = [{
    An outermost `scf.parallel` whose body is views and pure index math
    around one `scf.for` that reads, adds to (`arith.addf`) and writes back
    one element of a buffer (the same indices; no other access to that
    buffer in the loop; every other side effect a load) -- `scatter_add`
    (an embedding's gradient) as it reaches the GPU pipeline -- becomes one
    `scf.parallel` over the old dimensions and the loop's, the read-add-write
    a `memref.atomic_rmw addf`. On the GPU: a thread per index and feature
    instead of a thread per feature looping over every index (gpt2-small:
    768 threads adding 8192 rows each in turn). The order of the adds into
    one element changes (float sums differ in the last bits).
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
}

def ParallelDimsFirstPass
    : Pass<"autopar-parallel-dims-first", "::mlir::func::FuncOp"> {
  let summary = "Put the parallel dimensions of linalg.generic ops first";
  let description = [{
    Interchanges the loops of every `linalg.generic` whose reduction
    dimensions come before a parallel one (a bias gradient: the sum over
    batch and positions of `dy[b, s, d]`), so that the parallel dimensions
    are outermost, in their order, and the reductions inside.
    `convert-linalg-to-parallel-loops` then gives one `scf.parallel` over
    them with sequential loops in its body (one GPU kernel, each thread
    summing its own column), instead of sequential host loops around a
    parallel loop (one kernel launch per batch row and position: 8192 for
    gpt2-small at batch 8, and a stack that grows with every launch).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def PackedWrappersPass : Pass<"autopar-packed-wrappers", "::mlir::ModuleOp"> {
  let summary = "Add packed wrappers to the C interfaces of a lowered module";
  let description = [{
    For every `llvm.func @_mlir_ciface_NAME` the module defines (an
    `llvm.emit_c_interface` function lowered to the LLVM dialect), adds
    `llvm.func @_mlir__mlir_ciface_NAME(%args: !llvm.ptr)`, the wrapper
    that `ExecutionEngine::invokePacked` calls: `args[i]` points to argument
    i (for a memref, to the pointer to its descriptor) and, where the
    function returns a value, `args[n]` to where it goes. An ahead-of-time
    compiled library (autopar-compile --target=cuda) then serves drivers
    that call steps of hundreds of arguments without a prototype for each.
    A module that already defines a wrapper's name is an error.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // AUTOPAR_CONVERSION_PASSES_TD
