#include "kernels/accelerator.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "kernels/parallel_for.hpp"

#if IVFSTREAM_HAVE_CUDA
#include "kernels/cuda/gpu_kmeans.hpp"
#include "kernels/cuda/kmeans_host_steps.hpp"
#endif

namespace ivfstream::kernels {
namespace {

// kmeans() stops when the objective improves by less than this, relatively (kernels/kmeans.hpp).
constexpr double k_relative_tolerance = 1e-4;

device_status check_sizes(std::size_t n, std::size_t d, std::size_t M, std::size_t k, const char* what) {
  if (d == 0) return {device_errc::invalid_argument, "d=0: must be ≥ 1"};
  if (M == 0 || d % M != 0)
    return {device_errc::invalid_argument,
            "M=" + std::to_string(M) + ": must be ≥ 1 and divide d=" + std::to_string(d)};
  if (k == 0 || k > n)
    return {device_errc::invalid_argument, std::string(what) + "=" + std::to_string(k) +
                                               ": must be in [1, n=" + std::to_string(n) + "]"};
  return {};
}

// Sub-space m of x (n × d) as its own n × dsub matrix.
std::vector<float> sub_vectors(const float* x, std::size_t n, std::size_t d, std::size_t dsub, std::size_t m) {
  std::vector<float> sub(n * dsub);
  for (std::size_t i = 0; i < n; ++i)
    std::copy_n(x + i * d + m * dsub, dsub, sub.data() + i * dsub);
  return sub;
}

// The M sub-spaces are independent: up to opt.max_threads of them train side by side, each k-means on
// one thread (its GEMM single-threaded), so the codebooks do not depend on the thread count.
void cpu_pq(const float* x, std::size_t n, std::size_t d, std::size_t M, std::size_t ksub,
            const kmeans_options& opt, std::vector<float>* codebooks) {
  const std::size_t dsub = d / M;
  codebooks->assign(M * ksub * dsub, 0.0f);
  parallel_for(M, opt.max_threads, [&](std::size_t m) {
    const std::vector<float> sub = sub_vectors(x, n, d, dsub, m);
    kmeans_options o = opt;
    o.seed = opt.seed + m;
    o.max_threads = 1;
    const kmeans_result r = kmeans(sub.data(), n, dsub, ksub, o);
    std::copy(r.centroids.begin(), r.centroids.end(), codebooks->begin() + m * ksub * dsub);
  });
}

#if IVFSTREAM_HAVE_CUDA
gpu_kmeans_options gpu_options(const kmeans_options& opt) {
  gpu_kmeans_options g;
  g.max_iterations = opt.max_iterations;
  g.tolerance = k_relative_tolerance;
  g.seed = opt.seed;
  g.spherical = opt.spherical;
  return g;
}

// The rows kmeans() would train on: all n (returns x), or a seeded sample of k × max_points_per_centroid
// rows gathered into *storage (returns its data). *rows is set to the number of rows returned.
const float* training_rows(const float* x, std::size_t n, std::size_t d, std::size_t k,
                           const kmeans_options& opt, std::vector<float>* storage, std::size_t* rows) {
  const std::size_t cap = opt.max_points_per_centroid == 0 ? n : k * opt.max_points_per_centroid;
  if (cap >= n) {
    *rows = n;
    return x;
  }
  const std::vector<std::size_t> picked = sample_distinct_rows(n, cap, opt.seed ^ 0x5851F42D4C957F2DULL);
  storage->resize(cap * d);
  for (std::size_t i = 0; i < cap; ++i) std::copy_n(x + picked[i] * d, d, storage->data() + i * d);
  *rows = cap;
  return storage->data();
}

// k-means++'s passes on the GPU for kmeans_initialise, for seeding sets big enough to gain from it (a
// pass costs ~30 µs of launch and copies; the CPU needs about that for 2^20 floats). A GPU failure hands
// the passes back to the CPU, which gives the same picks, after one log line.
class cuda_seeding final : public kmeanspp_device {
 public:
  cuda_seeding(int device, const log_sink& log) : passes_(device), log_(log) {}
  bool load(const float* rows, std::size_t n, std::size_t d) override {
    return n * d >= k_min_floats && ok(passes_.load(rows, n, d));
  }
  bool update(std::size_t seed, float* min_d, float* block_sums) override {
    return ok(passes_.update(seed, min_d, block_sums));
  }

 private:
  static constexpr std::size_t k_min_floats = std::size_t{1} << 20;
  bool ok(const device_status& s) {
    if (!s && log_) log_("k-means++ seeding on the GPU failed (" + s.to_string() + "); seeding on the CPU");
    return s.ok();
  }
  gpu_kmeanspp_passes passes_;
  const log_sink& log_;
};

// Whether a failed GPU call under accelerator=auto should retry on the CPU.
bool falls_back(const accelerator_choice& on, const device_status& s) {
  return on.requested == accelerator::automatic &&
         (s.code() == device_errc::unavailable || s.code() == device_errc::out_of_memory);
}
#endif

}  // namespace

const char* to_string(accelerator a) noexcept {
  switch (a) {
    case accelerator::cpu: return "cpu";
    case accelerator::cuda: return "cuda";
    case accelerator::automatic: return "auto";
  }
  return "unknown";
}

std::optional<accelerator> parse_accelerator(std::string_view text) noexcept {
  if (text == "cpu") return accelerator::cpu;
  if (text == "cuda") return accelerator::cuda;
  if (text == "auto") return accelerator::automatic;
  return std::nullopt;
}

std::string accelerator_parse_error(std::string_view text) {
  return "accelerator=" + std::string(text) + ": must be one of cpu, cuda, auto";
}

bool cuda_built() noexcept {
#if IVFSTREAM_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

log_sink stderr_log_sink() {
  return [](const std::string& line) { std::fprintf(stderr, "ivfstream: %s\n", line.c_str()); };
}

device_status resolve_accelerator(accelerator requested, const log_sink& log, accelerator_choice* out) {
  *out = accelerator_choice{requested, accelerator::cpu, {}};
  if (requested == accelerator::cpu) return {};
  std::string problem;
#if IVFSTREAM_HAVE_CUDA
  int devices = 0;
  const device_status probe = gpu_device_count(&devices);
  if (probe) {
    out->used = accelerator::cuda;
    return {};
  }
  problem = "no usable CUDA device (" + probe.message() + ")";
#else
  problem = "this build has no CUDA support (configured with IVFSTREAM_CUDA=off or without nvcc)";
#endif
  if (requested == accelerator::cuda)
    return {device_errc::unavailable, "accelerator=cuda: " + problem + "; use accelerator=cpu or auto"};
  out->reason = "accelerator=auto: " + problem + "; training on the CPU";
  if (log) log(out->reason);
  return {};
}

device_status train_kmeans(const accelerator_choice& on, const float* x, std::size_t n, std::size_t d,
                           std::size_t k, const kmeans_options& opt, const log_sink& log,
                           kmeans_result* out) {
  if (device_status s = check_sizes(n, d, 1, k, "k"); !s) return s;
#if IVFSTREAM_HAVE_CUDA
  if (on.used == accelerator::cuda) {
    // kmeans()'s own start (same training rows, same k-means++ or random seeds, k-means++'s passes on
    // the GPU), then the Lloyd iterations on the GPU.
    cuda_seeding seeding(gpu_options(opt).device, log);
    kmeans_start start = kmeans_initialise(x, n, d, k, opt, &seeding);
    std::vector<float> centroids = std::move(start.centroids);
    gpu_kmeans_stats stats;
    const device_status s = gpu_kmeans(start.train(), start.rows, d, k, centroids.data(), gpu_options(opt),
                                       centroids.data(), &stats);
    if (s) {
      out->centroids = std::move(centroids);
      out->objective = stats.objective;
      out->iterations = stats.iterations;
      return {};
    }
    if (!falls_back(on, s)) return s;
    if (log) log("accelerator=auto: GPU k-means failed (" + s.to_string() + "); training on the CPU");
  }
#else
  (void)log;
  if (on.used == accelerator::cuda)
    return {device_errc::unavailable, "accelerator=cuda: this build has no CUDA support"};
#endif
  *out = kmeans(x, n, d, k, opt);
  return {};
}

device_status train_pq_codebooks(const accelerator_choice& on, const float* x, std::size_t n,
                                 std::size_t d, std::size_t M, std::size_t ksub,
                                 const kmeans_options& opt, const log_sink& log,
                                 std::vector<float>* codebooks) {
  if (device_status s = check_sizes(n, d, M, ksub, "ksub"); !s) return s;
#if IVFSTREAM_HAVE_CUDA
  if (on.used == accelerator::cuda) {
    std::vector<float> storage;
    std::size_t rows = 0;
    const float* xs = training_rows(x, n, d, ksub, opt, &storage, &rows);
    // Each sub-space starts as cpu_pq's kmeans() would on these rows (seed opt.seed + m); when no
    // subsampling was needed (the index's case) that is exactly cpu_pq's start.
    const std::size_t dsub = d / M;
    std::vector<float> books(ksub * d);  // M × ksub × dsub
    parallel_for(M, opt.max_threads, [&](std::size_t m) {
      const std::vector<float> sub = sub_vectors(xs, rows, d, dsub, m);
      kmeans_options o = opt;
      o.seed = opt.seed + m;
      o.max_threads = 1;
      o.max_points_per_centroid = 0;
      const kmeans_start start = kmeans_initialise(sub.data(), rows, dsub, ksub, o);
      std::copy(start.centroids.begin(), start.centroids.end(), books.begin() + m * ksub * dsub);
    });
    const device_status s =
        gpu_train_pq(xs, rows, d, M, ksub, books.data(), gpu_options(opt), books.data(), nullptr);
    if (s) {
      *codebooks = std::move(books);
      return {};
    }
    if (!falls_back(on, s)) return s;
    if (log) log("accelerator=auto: GPU PQ training failed (" + s.to_string() + "); training on the CPU");
  }
#else
  (void)log;
  if (on.used == accelerator::cuda)
    return {device_errc::unavailable, "accelerator=cuda: this build has no CUDA support"};
#endif
  cpu_pq(x, n, d, M, ksub, opt, codebooks);
  return {};
}

}  // namespace ivfstream::kernels
