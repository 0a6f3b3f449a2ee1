// Sum of values into bins (the gradient of a table lookup) on CPU threads, each with a private table.
//
// torch's index_add adds one value at a time on one thread. Here the entries are split into one contiguous
// part per thread; each part is summed into its own float64 table, runs of equal indices first in a register
// (eight at a time when a block of eight continues the run), and the tables are then summed in part order,
// so the result depends on the thread count but not on scheduling.

#include <torch/extension.h>

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>

namespace {

constexpr int64_t kBlock = 8;

template <typename index_t>
void check_bin(index_t bin, int64_t bins) {
  TORCH_CHECK(bin >= 0 && bin < bins, "scatter_sum: index ", bin, " out of range for ", bins, " bins");
}

// Adds values[begin:end] into table at index[begin:end] (begin < end).
template <typename scalar_t, typename index_t>
void add_part(const index_t* index, const scalar_t* values, int64_t begin, int64_t end, double* table,
              int64_t bins) {
  index_t current = index[begin];
  check_bin(current, bins);
  double run = 0.0;
  auto add_one = [&](int64_t i) {
    const index_t bin = index[i];
    if (bin != current) {
      check_bin(bin, bins);
      table[current] += run;
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
  table[current] += run;
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
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), n));
  auto tables = torch::zeros({parts, bins}, values_c.options().dtype(torch::kFloat64));
  if (n == 0) {
    return tables.sum(0).to(values_c.scalar_type());
  }
  const int64_t part_size = (n + parts - 1) / parts;
  double* tables_data = tables.data_ptr<double>();
  AT_DISPATCH_FLOATING_TYPES(values_c.scalar_type(), "scatter_sum", [&] {
    const scalar_t* values_data = values_c.data_ptr<scalar_t>();
    AT_DISPATCH_INDEX_TYPES(index_c.scalar_type(), "scatter_sum", [&] {
      const index_t* index_data = index_c.data_ptr<index_t>();
      at::parallel_for(0, parts, 1, [&](int64_t first, int64_t last) {
        for (int64_t part = first; part < last; ++part) {
          const int64_t begin = part * part_size;
          const int64_t end = std::min(n, begin + part_size);
          if (begin < end) {
            add_part(index_data, values_data, begin, end, tables_data + part * bins, bins);
          }
        }
      });
    });
  });
  return tables.sum(0).to(values_c.scalar_type());
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("scatter_sum", &scatter_sum, "Sum of values [n] into `bins` bins at index [n] (CPU, per-thread tables)");
}
