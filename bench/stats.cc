#include "stats.h"

#include <algorithm>
#include <cstddef>
#include <numeric>

namespace pyexec::bench {

double Percentile(const std::vector<double>& sorted, double percent) {
  if (sorted.empty()) {
    return 0;
  }
  const double rank = percent / 100.0 * static_cast<double>(sorted.size());
  size_t index = static_cast<size_t>(rank);
  if (static_cast<double>(index) < rank) {
    ++index;  // ceil
  }
  index = std::clamp<size_t>(index, 1, sorted.size());
  return sorted[index - 1];
}

double Mean(const std::vector<double>& values) {
  if (values.empty()) {
    return 0;
  }
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

double Median(std::vector<double> values) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

}  // namespace pyexec::bench
