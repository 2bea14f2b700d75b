#pragma once
// Where training runs: `accelerator = cpu | cuda | auto` (LanceDB create_index(accelerator="cuda")).
//   cpu  : kernels::kmeans (kernels/kmeans.hpp), always available;
//   cuda : kernels/cuda (gpu_kmeans.hpp); an error naming the problem when this build has no CUDA support
//          or the machine has no usable GPU (no driver, no device);
//   auto : cuda when a GPU is present at run time (cudaGetDeviceCount through the statically linked CUDA
//          runtime, which loads the driver only when it exists), else cpu after one log line saying why.
// Resolve once (resolve_accelerator), keep the accelerator_choice, train many times with it.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/cuda/device_status.hpp"
#include "kernels/kmeans.hpp"

namespace ivfstream::kernels {

/// The training device a user asks for.
enum class accelerator : std::uint8_t { cpu = 0, cuda = 1, automatic = 2 };

/// "cpu" | "cuda" | "auto"
const char* to_string(accelerator a) noexcept;
/// Writes to_string(a).
inline std::ostream& operator<<(std::ostream& os, accelerator a) { return os << to_string(a); }
/// Parses "cpu", "cuda", "auto"; nullopt otherwise (callers report
/// accelerator_parse_error(text)). Thread-safe.
std::optional<accelerator> parse_accelerator(std::string_view text) noexcept;
/// "accelerator=<text>: must be one of cpu, cuda, auto"
std::string accelerator_parse_error(std::string_view text);

/// True when this build contains the CUDA kernels (IVFSTREAM_CUDA found nvcc). Thread-safe.
bool cuda_built() noexcept;

/// Receives log lines (one line each, no trailing newline). Must be callable from the training thread.
using log_sink = std::function<void(const std::string&)>;
/// A sink that writes "ivfstream: <line>\n" to stderr.
log_sink stderr_log_sink();

/// A resolved accelerator: what was asked for and what training will use (cpu or cuda, never automatic).
struct accelerator_choice {
  accelerator requested = accelerator::cpu;
  accelerator used = accelerator::cpu;
  std::string reason;  ///< why `used` is cpu when `requested` was automatic; empty otherwise
};

/// Resolves `requested` against this build and machine. cpu → cpu. cuda → cuda, or `unavailable`
/// naming the problem (no CUDA in this build, or cudaGetDeviceCount's reason). automatic → cuda when a
/// device is present, else cpu, after logging one line with the reason to `log`. Thread-safe if `log` is.
device_status resolve_accelerator(accelerator requested, const log_sink& log, accelerator_choice* out);

/// k-means of the rows of x (n × d, row-major) into k clusters on `on.used`, with kmeans()'s semantics:
/// subsample to k × opt.max_points_per_centroid rows (seeded), Lloyd iterations up to opt.max_iterations,
/// stop when the objective improves by < 1e-4 relatively, spherical renormalisation, objective of the
/// returned centroids. CPU: kernels::kmeans. CUDA: kmeans()'s own start (kmeans_initialise: the same
/// training rows and the same k-means++ or random-row seeds, on the host), then the Lloyd iterations on the
/// GPU (gpu_kmeans; empty clusters are repaired by splitting a populated one, where the CPU moves the
/// farthest point of the largest). If the GPU fails with unavailable/out_of_memory and the user asked
/// for automatic, logs one line and trains on the CPU instead.
/// out->centroids: k × d floats, row-major. @pre 1 ≤ k ≤ n, d ≥ 1. Thread-safety: reentrant.
device_status train_kmeans(const accelerator_choice& on, const float* x, std::size_t n, std::size_t d,
                           std::size_t k, const kmeans_options& opt, const log_sink& log,
                           kmeans_result* out);

/// PQ codebooks: for each of the M sub-spaces of x (n × d; dsub = d / M) k-means with ksub centroids,
/// kmeans_options seed opt.seed + m for sub-space m (the index's convention). CPU: M calls of kmeans on
/// the extracted sub-vectors, up to opt.max_threads of them at a time (0 = all hardware threads; each
/// k-means on one thread, so the result does not depend on the thread count). CUDA: all M sub-spaces in
/// one gpu_train_pq call (batched GEMM) on one common set of training rows, each sub-space seeded as
/// the CPU seeds it (kmeans_initialise with seed opt.seed + m): the same start as the CPU whenever
/// n ≤ ksub × opt.max_points_per_centroid (no subsampling), which is how the index calls it.
/// codebooks (output): M × ksub × dsub floats, row-major. Fallback as train_kmeans.
/// @pre M ≥ 1, d % M == 0, 1 ≤ ksub ≤ n. Thread-safety: reentrant.
device_status train_pq_codebooks(const accelerator_choice& on, const float* x, std::size_t n,
                                 std::size_t d, std::size_t M, std::size_t ksub,
                                 const kmeans_options& opt, const log_sink& log,
                                 std::vector<float>* codebooks);

}  // namespace ivfstream::kernels
