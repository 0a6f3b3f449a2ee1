// Sum of values into bins (the gradient of a table lookup) on all CPU threads.
//
// torch's index_add adds one value at a time on one thread. Here the entries are split into one contiguous
// part per thread, and each thread turns its part into runs of equal indices, each summed in float64 in a
// register (eight entries at a time while a block of eight continues the run). Neighbouring entries mostly
// share a bin, so there are few runs; they are then added into the bins on one thread, in entry order, so the
// result depends on the thread count but not on scheduling, and memory does not grow with threads x bins.

#include <torch/extension.h>

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

namespace {

constexpr int64_t kBlock = 8;

template <typename index_t>
void check_bin(index_t bin, int64_t bins) {
  TORCH_CHECK(bin >= 0 && bin < bins, "scatter_sum: index ", bin, " out of range for ", bins, " bins");
}

// Runs of equal indices in index[begin:end] (begin < end): their bins and sums are written from run_bins and
// run_sums on (at most end - begin of them); returns how many.
template <typename scalar_t, typename index_t>
int64_t sum_runs(const index_t* index, const scalar_t* values, int64_t begin, int64_t end, int64_t bins,
                 index_t* run_bins, double* run_sums) {
  int64_t runs = 0;
  index_t current = index[begin];
  check_bin(current, bins);
  double run = 0.0;
  auto add_one = [&](int64_t i) {
    const index_t bin = index[i];
    if (bin != current) {
      check_bin(bin, bins);
      run_bins[runs] = current;
      run_sums[runs++] = run;
      run = 0.0;
      current = bin;
    }
    run += static_cast<double>(values[i]);
  };
  int64_t i = begin;
  for (; i + kBlock <= end; i += kBlock) {
    bool continues_run = true;
    for (int64_t j = 0; j < kBlock; ++j) continues_run &= index[i + j] == current;
    if (continues_run) {
      double v[kBlock];
      for (int64_t j = 0; j < kBlock; ++j) v[j] = static_cast<double>(values[i + j]);
      run += ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
    } else {
      for (int64_t j = 0; j < kBlock; ++j) add_one(i + j);
    }
  }
  for (; i < end; ++i) add_one(i);
  run_bins[runs] = current;
  run_sums[runs++] = run;
  return runs;
}

torch::Tensor scatter_sum(const torch::Tensor& index, const torch::Tensor& values, int64_t bins) {
  TORCH_CHECK(index.device().is_cpu() && values.device().is_cpu(), "scatter_sum: CPU tensors only");
  TORCH_CHECK(index.dim() == 1 && values.dim() == 1 && index.numel() == values.numel(),
              "scatter_sum: index and values must be 1-D of one length");
  TORCH_CHECK(index.scalar_type() == torch::kInt32 || index.scalar_type() == torch::kInt64,
              "scatter_sum: index must be int32 or int64");
  const auto index_c = index.contiguous();
  const auto values_c = values.contiguous();
  const int64_t n = values_c.numel();
  auto sums = torch::zeros({bins}, values_c.options().dtype(torch::kFloat64));
  if (n == 0) {
    return sums.to(values_c.scalar_type());
  }
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), n));
  const int64_t part_size = (n + parts - 1) / parts;
  std::vector<int64_t> runs(parts, 0);
  auto run_sums = torch::empty({n}, values_c.options().dtype(torch::kFloat64));
  double* run_sums_data = run_sums.data_ptr<double>();
  double* sums_data = sums.data_ptr<double>();
  AT_DISPATCH_FLOATING_TYPES(values_c.scalar_type(), "scatter_sum", [&] {
    const scalar_t* values_data = values_c.data_ptr<scalar_t>();
    AT_DISPATCH_INDEX_TYPES(index_c.scalar_type(), "scatter_sum", [&] {
      const index_t* index_data = index_c.data_ptr<index_t>();
      auto run_bins = torch::empty({n}, index_c.options());
      index_t* run_bins_data = run_bins.data_ptr<index_t>();
      at::parallel_for(0, parts, 1, [&](int64_t first, int64_t last) {
        for (int64_t part = first; part < last; ++part) {
          const int64_t begin = part * part_size;
          const int64_t end = std::min(n, begin + part_size);
          if (begin < end) {
            runs[part] = sum_runs(index_data, values_data, begin, end, bins, run_bins_data + begin,
                                  run_sums_data + begin);
          }
        }
      });
      for (int64_t part = 0; part < parts; ++part) {
        const int64_t begin = part * part_size;
        for (int64_t r = 0; r < runs[part]; ++r) {
          sums_data[run_bins_data[begin + r]] += run_sums_data[begin + r];
        }
      }
    });
  });
  return sums.to(values_c.scalar_type());
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("scatter_sum", &scatter_sum, "Sum of values [n] into `bins` bins at index [n] (CPU, all threads)");
}
