// CUDA Lloyd k-means and batched PQ codebook training (see gpu_kmeans.hpp for the algorithm).
// Every CUDA and cuBLAS call is checked and turned into a device_status; nothing here aborts.
#include "kernels/cuda/gpu_kmeans.hpp"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cuda/kmeans_host_steps.hpp"

namespace ivfstream::kernels {
namespace {

constexpr int k_block = 256;                       // threads per block of every kernel here
constexpr int k_warp = 32;
constexpr unsigned k_full_mask = 0xffffffffu;
constexpr std::size_t k_reserve_bytes = 256ull << 20;     // left free: cuBLAS workspace, context growth
constexpr std::size_t k_max_distance_elems = 1ull << 28;  // one distance tile (M × k × b floats) ≤ 1 GiB
constexpr std::size_t k_max_grid_blocks = 1u << 16;       // grid-stride loops cover the rest
constexpr std::size_t k_min_resident_batch = 4096;        // below this, streaming with bigger tiles is as fast

// ---- error plumbing ------------------------------------------------------------------------------

device_status cuda_failure(const char* call, cudaError_t e) {
  device_errc code = device_errc::cuda_error;
  switch (e) {
    case cudaErrorMemoryAllocation: code = device_errc::out_of_memory; break;
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorStubLibrary:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorDevicesUnavailable:
    case cudaErrorInvalidDevice: code = device_errc::unavailable; break;
    default: break;
  }
  (void)cudaGetLastError();  // clear a non-sticky error so later calls on this thread start clean
  return device_status(code, std::string(call) + " failed: " + cudaGetErrorName(e) + " (" +
                                 cudaGetErrorString(e) + ")");
}

device_status cublas_failure(const char* call, cublasStatus_t s) {
  const device_errc code = s == CUBLAS_STATUS_ALLOC_FAILED ? device_errc::out_of_memory
                           : s == CUBLAS_STATUS_NOT_INITIALIZED ? device_errc::unavailable
                                                                : device_errc::cublas_error;
  return device_status(code, std::string(call) + " failed: " + cublasGetStatusName(s) + " (" +
                                 cublasGetStatusString(s) + ")");
}

#define IVF_CUDA_CHECK(call)                                 \
  do {                                                       \
    const cudaError_t ivf_e_ = (call);                       \
    if (ivf_e_ != cudaSuccess) return cuda_failure(#call, ivf_e_); \
  } while (false)

#define IVF_CUBLAS_CHECK(call)                                   \
  do {                                                           \
    const cublasStatus_t ivf_s_ = (call);                        \
    if (ivf_s_ != CUBLAS_STATUS_SUCCESS) return cublas_failure(#call, ivf_s_); \
  } while (false)

#define IVF_DEVICE_TRY(expr)          \
  do {                                \
    device_status ivf_ds_ = (expr);   \
    if (!ivf_ds_) return ivf_ds_;     \
  } while (false)

// ---- RAII owners ---------------------------------------------------------------------------------

template <class T>
class device_array {
public:
  device_array() = default;
  device_array(const device_array&) = delete;
  device_array& operator=(const device_array&) = delete;
  ~device_array() {
    if (ptr_ != nullptr) (void)cudaFree(ptr_);
  }
  device_status allocate(std::size_t count, const char* what) {
    const std::size_t bytes = std::max<std::size_t>(count, 1) * sizeof(T);
    const cudaError_t e = cudaMalloc(reinterpret_cast<void**>(&ptr_), bytes);
    if (e != cudaSuccess) {
      ptr_ = nullptr;
      device_status s = cuda_failure("cudaMalloc", e);
      return device_status(s.code(), std::string(what) + ": " + std::to_string(bytes) + " bytes: " +
                                         s.message());
    }
    return {};
  }
  T* get() const noexcept { return ptr_; }

private:
  T* ptr_ = nullptr;
};

struct stream_owner {
  cudaStream_t stream = nullptr;
  ~stream_owner() {
    if (stream != nullptr) (void)cudaStreamDestroy(stream);
  }
};

struct cublas_owner {
  cublasHandle_t handle = nullptr;
  ~cublas_owner() {
    if (handle != nullptr) (void)cublasDestroy(handle);
  }
};

unsigned grid_for(std::size_t threads) {
  const std::size_t blocks = (threads + k_block - 1) / k_block;
  return static_cast<unsigned>(std::clamp<std::size_t>(blocks, 1, k_max_grid_blocks));
}

// ---- kernels -------------------------------------------------------------------------------------

// out[i] = ‖rows_i‖² for count rows of len floats (contiguous).
__global__ void row_sq_norms_kernel(const float* rows, std::size_t count, std::size_t len, float* out) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < count;
       i += std::size_t(gridDim.x) * blockDim.x) {
    const float* r = rows + i * len;
    float s = 0.0f;
    for (std::size_t t = 0; t < len; ++t) s += r[t] * r[t];
    out[i] = s;
  }
}

// One warp per (row j, sub-space m) of the batch: argmin over c of ‖c‖² + dots, with the lowest index
// winning ties (as a sequential scan with `<` would), and dist = max(0, ‖x_m‖² + that minimum).
// dots: M × b × k floats (dots[(m·b + j)·k + c] = −2⟨x_jm, c_mc⟩); cnorms: M × k; xb: b × d;
// assign, dist: b × M.
__global__ void assign_kernel(const float* dots, const float* cnorms, const float* xb, std::size_t b,
                              std::size_t d, std::size_t M, std::size_t dsub, std::size_t k,
                              std::uint32_t* assign, float* dist) {
  const int lane = threadIdx.x % k_warp;
  const std::size_t warps_per_grid = std::size_t(gridDim.x) * blockDim.x / k_warp;
  for (std::size_t w = (blockIdx.x * std::size_t(blockDim.x) + threadIdx.x) / k_warp; w < b * M;
       w += warps_per_grid) {
    const std::size_t j = w / M;
    const std::size_t m = w % M;
    const float* col = dots + (m * b + j) * k;
    const float* cn = cnorms + m * k;
    float best = INFINITY;
    std::uint32_t best_c = 0xffffffffu;
    for (std::size_t c = lane; c < k; c += k_warp) {
      const float v = cn[c] + col[c];
      if (v < best) {
        best = v;
        best_c = static_cast<std::uint32_t>(c);
      }
    }
    const float* xr = xb + j * d + m * dsub;
    float xn = 0.0f;
    for (std::size_t t = lane; t < dsub; t += k_warp) xn += xr[t] * xr[t];
    for (int off = k_warp / 2; off > 0; off /= 2) {
      const float ov = __shfl_xor_sync(k_full_mask, best, off);
      const std::uint32_t oc = __shfl_xor_sync(k_full_mask, best_c, off);
      if (ov < best || (ov == best && oc < best_c)) {
        best = ov;
        best_c = oc;
      }
      xn += __shfl_xor_sync(k_full_mask, xn, off);
    }
    if (lane == 0) {
      // best_c stays unset only when every distance is NaN (NaN input): keep the index in range.
      assign[j * M + m] = best_c < k ? best_c : 0u;
      dist[j * M + m] = fmaxf(0.0f, xn + best);
    }
  }
}

// sums[m][a][t] += x[j][m·dsub + t] and counts[m][a] += 1 for a = assign[j][m]. Double atomics keep the
// sums exact enough for clusters of millions of points. sums: M × k × dsub; counts: M × k.
__global__ void accumulate_kernel(const float* xb, std::size_t b, std::size_t d, std::size_t M,
                                  std::size_t dsub, std::size_t k, const std::uint32_t* assign,
                                  double* sums, unsigned int* counts) {
  for (std::size_t e = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; e < b * d;
       e += std::size_t(gridDim.x) * blockDim.x) {
    const std::size_t j = e / d;
    const std::size_t col = e % d;
    const std::size_t m = col / dsub;
    const std::size_t t = col % dsub;
    const std::size_t row = m * k + assign[j * M + m];
    atomicAdd(&sums[row * dsub + t], static_cast<double>(xb[e]));
    if (t == 0) atomicAdd(&counts[row], 1u);
  }
}

// *acc += Σ v[i] (double), one atomic per block.
__global__ void sum_kernel(const float* v, std::size_t count, double* acc) {
  __shared__ double partial[k_block / k_warp];
  double s = 0.0;
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < count;
       i += std::size_t(gridDim.x) * blockDim.x)
    s += v[i];
  for (int off = k_warp / 2; off > 0; off /= 2) s += __shfl_down_sync(k_full_mask, s, off);
  if (threadIdx.x % k_warp == 0) partial[threadIdx.x / k_warp] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0.0;
    for (int w = 0; w < k_block / k_warp; ++w) total += partial[w];
    atomicAdd(acc, total);
  }
}

// centroids = sums / counts where counts > 0 (empty clusters keep their value until the host repairs them).
__global__ void finalize_kernel(const double* sums, const unsigned int* counts, std::size_t rows,
                                std::size_t dsub, float* centroids) {
  for (std::size_t e = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; e < rows * dsub;
       e += std::size_t(gridDim.x) * blockDim.x) {
    const unsigned int c = counts[e / dsub];
    if (c > 0) centroids[e] = static_cast<float>(sums[e] / c);
  }
}

// Scales each of `rows` rows of dsub floats to unit length (rows of zeros are left as they are).
__global__ void normalise_rows_kernel(float* rows_data, std::size_t rows, std::size_t dsub) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < rows;
       i += std::size_t(gridDim.x) * blockDim.x) {
    float* r = rows_data + i * dsub;
    float s = 0.0f;
    for (std::size_t t = 0; t < dsub; ++t) s += r[t] * r[t];
    if (s > 0.0f) {
      const float inv = rsqrtf(s);
      for (std::size_t t = 0; t < dsub; ++t) r[t] *= inv;
    }
  }
}

// k-means++ pass (gpu_kmeanspp_passes): one block of k_block threads per 256-row block of the seeding
// rows, thread j on row 256·blockIdx.x + j. xt: d × n (xt[t·n + i]); the seed's coordinates are read
// into shared memory (seed_row: d floats of dynamic shared memory). min_d[i] = min(min_d[i], Σ_t diff²)
// with __fsub_rn/__fmul_rn/__fadd_rn (never contracted into FMAs, so equal to the CPU's definition);
// block_sums[blockIdx.x] = Σ min_d over the block (tree order).
__global__ void kmeanspp_pass_kernel(const float* xt, std::size_t n, std::size_t d, std::size_t seed,
                                     float* min_d, float* block_sums) {
  extern __shared__ float seed_row[];
  __shared__ float partial[k_block / k_warp];
  for (std::size_t t = threadIdx.x; t < d; t += blockDim.x) seed_row[t] = xt[t * n + seed];
  __syncthreads();
  const std::size_t i = blockIdx.x * std::size_t(k_block) + threadIdx.x;
  float v = 0.0f;
  if (i < n) {
    float acc = 0.0f;
    for (std::size_t t = 0; t < d; ++t) {
      const float diff = __fsub_rn(xt[t * n + i], seed_row[t]);
      acc = __fadd_rn(acc, __fmul_rn(diff, diff));
    }
    const float m = min_d[i];
    v = acc < m ? acc : m;
    min_d[i] = v;
  }
  for (int off = k_warp / 2; off > 0; off /= 2) v += __shfl_down_sync(k_full_mask, v, off);
  if (threadIdx.x % k_warp == 0) partial[threadIdx.x / k_warp] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    float total = 0.0f;
    for (int w = 0; w < k_block / k_warp; ++w) total += partial[w];
    block_sums[blockIdx.x] = total;
  }
}

__global__ void fill_kernel(float* out, std::size_t count, float value) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < count;
       i += std::size_t(gridDim.x) * blockDim.x)
    out[i] = value;
}

// ---- driver --------------------------------------------------------------------------------------

struct lloyd_problem {
  const float* x;     // n × d, host
  std::size_t n, d, M, k;
  const float* init;  // M × k × dsub, host
  float* out;         // M × k × dsub, host
  const char* what;   // "k" or "ksub", for messages
};

device_status validate(const lloyd_problem& p, const gpu_kmeans_options& o) {
  const auto num = [](std::size_t v) { return std::to_string(v); };
  if (p.x == nullptr || p.init == nullptr || p.out == nullptr)
    return {device_errc::invalid_argument, "x, initial centroids and output must be non-null"};
  if (p.d == 0 || p.d > std::size_t(std::numeric_limits<int>::max()))
    return {device_errc::invalid_argument, "d=" + num(p.d) + ": must be in [1, 2^31)"};
  if (p.M == 0 || p.d % p.M != 0)
    return {device_errc::invalid_argument,
            "M=" + num(p.M) + ": must be ≥ 1 and divide d=" + num(p.d)};
  if (p.k == 0 || p.k > p.n)
    return {device_errc::invalid_argument, std::string(p.what) + "=" + num(p.k) +
                                               ": must be in [1, n=" + num(p.n) + "]"};
  if (p.n > std::numeric_limits<std::uint32_t>::max() ||
      p.M * p.k > k_max_distance_elems)
    return {device_errc::invalid_argument,
            "n=" + num(p.n) + ", M·" + p.what + "=" + num(p.M * p.k) +
                ": must be < 2^32 rows and ≤ 2^28 centroids in all"};
  if (o.max_iterations == 0)
    return {device_errc::invalid_argument, "max_iterations=0: must be ≥ 1"};
  if (!(o.tolerance >= 0.0))
    return {device_errc::invalid_argument,
            "tolerance=" + std::to_string(o.tolerance) + ": must be ≥ 0"};
  return {};
}

struct batch_plan {
  bool resident = false;
  std::size_t rows = 0;  // rows per batch
};

// Chooses resident vs streamed and the batch size from the memory budget (bytes this call may use).
device_status plan_batches(const lloyd_problem& p, std::size_t budget, batch_plan* plan) {
  const std::size_t cents = p.k * p.d;  // M × k × dsub
  const std::size_t fixed = cents * (sizeof(float) + sizeof(double)) +
                            p.M * p.k * (sizeof(float) + sizeof(unsigned int)) + sizeof(double);
  const std::size_t per_row = p.M * p.k * sizeof(float) + p.M * (sizeof(std::uint32_t) + sizeof(float));
  const std::size_t row_bytes = p.d * sizeof(float);
  const std::size_t tile_rows = std::max<std::size_t>(1, k_max_distance_elems / (p.M * p.k));
  const std::size_t cap = std::min(p.n, tile_rows);
  if (fixed < budget) {
    const std::size_t avail = budget - fixed;
    const std::size_t data = p.n * row_bytes;
    if (data < avail) {
      const std::size_t rows = std::min(cap, (avail - data) / per_row);
      if (rows >= std::min(cap, k_min_resident_batch)) {
        *plan = {true, rows};
        return {};
      }
    }
    const std::size_t rows = std::min(cap, avail / (per_row + row_bytes));
    if (rows >= 1) {
      *plan = {false, rows};
      return {};
    }
  }
  return {device_errc::out_of_memory,
          "device memory budget " + std::to_string(budget) + " bytes cannot hold centroids and one row (" +
              std::to_string(fixed + per_row + row_bytes) + " bytes) for n=" + std::to_string(p.n) +
              ", d=" + std::to_string(p.d) + ", " + p.what + "=" + std::to_string(p.k)};
}

device_status run_lloyd(const lloyd_problem& p, const gpu_kmeans_options& o, gpu_kmeans_stats* stats) {
  IVF_DEVICE_TRY(validate(p, o));
  int devices = 0;
  IVF_DEVICE_TRY(gpu_device_count(&devices));
  if (o.device < 0 || o.device >= devices)
    return {device_errc::invalid_argument, "device=" + std::to_string(o.device) + ": must be in [0, " +
                                               std::to_string(devices) + ")"};
  IVF_CUDA_CHECK(cudaSetDevice(o.device));
  std::size_t free_bytes = 0, total_bytes = 0;
  IVF_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  std::size_t budget = free_bytes > k_reserve_bytes ? free_bytes - k_reserve_bytes : 0;
  if (o.device_memory_limit != 0) budget = std::min(budget, o.device_memory_limit);
  batch_plan plan;
  IVF_DEVICE_TRY(plan_batches(p, budget, &plan));

  const std::size_t n = p.n, d = p.d, M = p.M, k = p.k, dsub = d / M, b = plan.rows;
  const std::size_t cents = k * d;
  device_array<float> x_dev, dots, dist, centroids, cnorms;
  device_array<std::uint32_t> assign;
  device_array<double> sums, objective;
  device_array<unsigned int> counts;
  IVF_DEVICE_TRY(x_dev.allocate((plan.resident ? n : b) * d, "training rows"));
  IVF_DEVICE_TRY(dots.allocate(M * k * b, "distance tile"));
  IVF_DEVICE_TRY(assign.allocate(b * M, "assignments"));
  IVF_DEVICE_TRY(dist.allocate(b * M, "distances"));
  IVF_DEVICE_TRY(centroids.allocate(cents, "centroids"));
  IVF_DEVICE_TRY(cnorms.allocate(M * k, "centroid norms"));
  IVF_DEVICE_TRY(sums.allocate(cents, "centroid sums"));
  IVF_DEVICE_TRY(counts.allocate(M * k, "cluster sizes"));
  IVF_DEVICE_TRY(objective.allocate(1, "objective"));

  stream_owner stream;
  IVF_CUDA_CHECK(cudaStreamCreateWithFlags(&stream.stream, cudaStreamNonBlocking));
  cublas_owner blas;
  IVF_CUBLAS_CHECK(cublasCreate(&blas.handle));
  IVF_CUBLAS_CHECK(cublasSetStream(blas.handle, stream.stream));
  // Plain FP32 products (no TF32): distances then match a CPU float reference to rounding.
  IVF_CUBLAS_CHECK(cublasSetMathMode(blas.handle, CUBLAS_DEFAULT_MATH));
  const cudaStream_t s = stream.stream;

  IVF_CUDA_CHECK(cudaMemcpyAsync(centroids.get(), p.init, cents * sizeof(float),
                                 cudaMemcpyHostToDevice, s));
  if (plan.resident)
    IVF_CUDA_CHECK(cudaMemcpyAsync(x_dev.get(), p.x, n * d * sizeof(float), cudaMemcpyHostToDevice, s));

  gpu_kmeans_stats st;
  st.batch_rows = b;
  st.streamed = !plan.resident;
  std::vector<unsigned int> host_counts(M * k);
  std::vector<float> host_centroids;
  const float alpha = -2.0f, beta = 0.0f;
  double previous = std::numeric_limits<double>::infinity();

  // One pass over the training set with the current centroids: assignment and objective, plus the
  // centroid sums and counts when `update` is set. Leaves the objective in `objective` (device).
  const auto pass = [&](bool update) -> device_status {
    if (update) {
      IVF_CUDA_CHECK(cudaMemsetAsync(sums.get(), 0, cents * sizeof(double), s));
      IVF_CUDA_CHECK(cudaMemsetAsync(counts.get(), 0, M * k * sizeof(unsigned int), s));
    }
    IVF_CUDA_CHECK(cudaMemsetAsync(objective.get(), 0, sizeof(double), s));
    row_sq_norms_kernel<<<grid_for(M * k), k_block, 0, s>>>(centroids.get(), M * k, dsub, cnorms.get());
    IVF_CUDA_CHECK(cudaGetLastError());
    for (std::size_t start = 0; start < n; start += b) {
      const std::size_t rows = std::min(b, n - start);
      const float* xb = x_dev.get() + (plan.resident ? start * d : 0);
      if (!plan.resident)
        IVF_CUDA_CHECK(cudaMemcpyAsync(x_dev.get(), p.x + start * d, rows * d * sizeof(float),
                                       cudaMemcpyHostToDevice, s));
      // Column-major view: C_m is dsub × k (ld dsub), X_m is dsub × rows (ld d, offset m·dsub),
      // D_m = −2 C_mᵀ X_m is k × rows (ld k): column j holds row j's products with all k centroids.
      IVF_CUBLAS_CHECK(cublasSgemmStridedBatched(
          blas.handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(k), static_cast<int>(rows),
          static_cast<int>(dsub), &alpha, centroids.get(), static_cast<int>(dsub),
          static_cast<long long>(k * dsub), xb, static_cast<int>(d), static_cast<long long>(dsub),
          &beta, dots.get(), static_cast<int>(k), static_cast<long long>(k * rows),
          static_cast<int>(M)));
      assign_kernel<<<grid_for(rows * M * k_warp), k_block, 0, s>>>(
          dots.get(), cnorms.get(), xb, rows, d, M, dsub, k, assign.get(), dist.get());
      IVF_CUDA_CHECK(cudaGetLastError());
      if (update) {
        accumulate_kernel<<<grid_for(rows * d), k_block, 0, s>>>(xb, rows, d, M, dsub, k, assign.get(),
                                                                 sums.get(), counts.get());
        IVF_CUDA_CHECK(cudaGetLastError());
      }
      sum_kernel<<<std::min<unsigned>(grid_for(rows * M), 1024), k_block, 0, s>>>(dist.get(), rows * M,
                                                                                 objective.get());
      IVF_CUDA_CHECK(cudaGetLastError());
    }
    return {};
  };

  for (std::size_t it = 0; it < o.max_iterations; ++it) {
    IVF_DEVICE_TRY(pass(true));
    finalize_kernel<<<grid_for(cents), k_block, 0, s>>>(sums.get(), counts.get(), M * k, dsub,
                                                        centroids.get());
    IVF_CUDA_CHECK(cudaGetLastError());
    double obj = 0.0;
    IVF_CUDA_CHECK(cudaMemcpyAsync(host_counts.data(), counts.get(), M * k * sizeof(unsigned int),
                                   cudaMemcpyDeviceToHost, s));
    IVF_CUDA_CHECK(cudaMemcpyAsync(&obj, objective.get(), sizeof(double), cudaMemcpyDeviceToHost, s));
    IVF_CUDA_CHECK(cudaStreamSynchronize(s));

    if (std::find(host_counts.begin(), host_counts.end(), 0u) != host_counts.end()) {
      host_centroids.resize(cents);
      IVF_CUDA_CHECK(cudaMemcpyAsync(host_centroids.data(), centroids.get(), cents * sizeof(float),
                                     cudaMemcpyDeviceToHost, s));
      IVF_CUDA_CHECK(cudaStreamSynchronize(s));
      for (std::size_t m = 0; m < M; ++m)
        st.empty_cluster_repairs += repair_empty_clusters(host_centroids.data() + m * k * dsub,
                                                          host_counts.data() + m * k, k, dsub,
                                                          repair_seed(o.seed, it, m));
      IVF_CUDA_CHECK(cudaMemcpyAsync(centroids.get(), host_centroids.data(), cents * sizeof(float),
                                     cudaMemcpyHostToDevice, s));
    }
    if (o.spherical) {
      normalise_rows_kernel<<<grid_for(M * k), k_block, 0, s>>>(centroids.get(), M * k, dsub);
      IVF_CUDA_CHECK(cudaGetLastError());
    }
    st.iterations = it + 1;
    if (o.tolerance > 0.0 && std::isfinite(previous) && previous - obj < o.tolerance * previous) break;
    previous = obj;
  }
  // The reported objective is that of the returned centroids: one more assignment pass, no update.
  IVF_DEVICE_TRY(pass(false));
  IVF_CUDA_CHECK(cudaMemcpyAsync(&st.objective, objective.get(), sizeof(double), cudaMemcpyDeviceToHost, s));
  IVF_CUDA_CHECK(cudaMemcpyAsync(p.out, centroids.get(), cents * sizeof(float), cudaMemcpyDeviceToHost, s));
  IVF_CUDA_CHECK(cudaStreamSynchronize(s));
  if (stats != nullptr) *stats = st;
  return {};
}

}  // namespace

device_status gpu_device_count(int* count) {
  *count = 0;
  int c = 0;
  const cudaError_t e = cudaGetDeviceCount(&c);
  if (e != cudaSuccess) {
    const std::string why = cuda_failure("cudaGetDeviceCount", e).message();
    int driver = 0;
    if (cudaDriverGetVersion(&driver) == cudaSuccess && driver == 0)
      return {device_errc::unavailable, "no NVIDIA driver is loaded (" + why + ")"};
    return {device_errc::unavailable, why};
  }
  if (c <= 0) return {device_errc::unavailable, "cudaGetDeviceCount: no CUDA device"};
  *count = c;
  return {};
}


// ---- k-means++ passes ----------------------------------------------------------------------------

struct gpu_kmeanspp_passes::state {
  int device = 0;
  std::size_t n = 0, d = 0, blocks = 0;
  device_array<float> xt;      // d × n
  device_array<float> min_d;   // n
  device_array<float> sums;    // blocks
  stream_owner stream;
};

gpu_kmeanspp_passes::gpu_kmeanspp_passes(int device) : state_(new state) { state_->device = device; }
gpu_kmeanspp_passes::~gpu_kmeanspp_passes() = default;

device_status gpu_kmeanspp_passes::load(const float* rows, std::size_t n, std::size_t d) {
  if (rows == nullptr || n == 0 || d == 0 || n > std::numeric_limits<std::uint32_t>::max())
    return {device_errc::invalid_argument, "k-means++ rows: n=" + std::to_string(n) + ", d=" +
                                               std::to_string(d) + ": must be non-empty, n < 2^32"};
  int devices = 0;
  IVF_DEVICE_TRY(gpu_device_count(&devices));
  if (state_->device < 0 || state_->device >= devices)
    return {device_errc::invalid_argument, "device=" + std::to_string(state_->device) + ": must be in [0, " +
                                               std::to_string(devices) + ")"};
  IVF_CUDA_CHECK(cudaSetDevice(state_->device));
  const std::size_t blocks = (n + k_block - 1) / k_block;
  const std::size_t need = (n * d + n + blocks) * sizeof(float);
  std::size_t free_bytes = 0, total_bytes = 0;
  IVF_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  if (need + k_reserve_bytes > free_bytes)
    return {device_errc::out_of_memory, "k-means++ rows need " + std::to_string(need) + " bytes, " +
                                            std::to_string(free_bytes) + " free"};
  std::vector<float> transposed(n * d);  // d × n
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t t = 0; t < d; ++t) transposed[t * n + i] = rows[i * d + t];
  IVF_DEVICE_TRY(state_->xt.allocate(n * d, "k-means++ rows"));
  IVF_DEVICE_TRY(state_->min_d.allocate(n, "k-means++ weights"));
  IVF_DEVICE_TRY(state_->sums.allocate(blocks, "k-means++ block sums"));
  IVF_CUDA_CHECK(cudaStreamCreateWithFlags(&state_->stream.stream, cudaStreamNonBlocking));
  const cudaStream_t s = state_->stream.stream;
  IVF_CUDA_CHECK(cudaMemcpyAsync(state_->xt.get(), transposed.data(), n * d * sizeof(float),
                                 cudaMemcpyHostToDevice, s));
  fill_kernel<<<grid_for(n), k_block, 0, s>>>(state_->min_d.get(), n, INFINITY);
  IVF_CUDA_CHECK(cudaGetLastError());
  IVF_CUDA_CHECK(cudaStreamSynchronize(s));  // `transposed` is freed on return
  state_->n = n;
  state_->d = d;
  state_->blocks = blocks;
  return {};
}

device_status gpu_kmeanspp_passes::update(std::size_t seed, float* min_d, float* block_sums) {
  state& st = *state_;
  if (st.n == 0) return {device_errc::invalid_argument, "k-means++ pass before load()"};
  if (seed >= st.n)
    return {device_errc::invalid_argument,
            "seed=" + std::to_string(seed) + ": must be < n=" + std::to_string(st.n)};
  const cudaStream_t s = st.stream.stream;
  IVF_CUDA_CHECK(cudaSetDevice(st.device));
  kmeanspp_pass_kernel<<<static_cast<unsigned>(st.blocks), k_block, st.d * sizeof(float), s>>>(
      st.xt.get(), st.n, st.d, seed, st.min_d.get(), st.sums.get());
  IVF_CUDA_CHECK(cudaGetLastError());
  IVF_CUDA_CHECK(cudaMemcpyAsync(min_d, st.min_d.get(), st.n * sizeof(float), cudaMemcpyDeviceToHost, s));
  IVF_CUDA_CHECK(cudaMemcpyAsync(block_sums, st.sums.get(), st.blocks * sizeof(float), cudaMemcpyDeviceToHost, s));
  IVF_CUDA_CHECK(cudaStreamSynchronize(s));
  return {};
}

device_status gpu_kmeans(const float* x, std::size_t n, std::size_t d, std::size_t k,
                         const float* initial_centroids, const gpu_kmeans_options& options,
                         float* centroids, gpu_kmeans_stats* stats) {
  return run_lloyd({x, n, d, 1, k, initial_centroids, centroids, "k"}, options, stats);
}

device_status gpu_train_pq(const float* x, std::size_t n, std::size_t d, std::size_t M,
                           std::size_t ksub, const float* initial_codebooks,
                           const gpu_kmeans_options& options, float* codebooks,
                           gpu_kmeans_stats* stats) {
  return run_lloyd({x, n, d, M, ksub, initial_codebooks, codebooks, "ksub"}, options, stats);
}

}  // namespace ivfstream::kernels
