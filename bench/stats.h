// Summary statistics the benchmarks print: nearest-rank percentiles and means of samples.
#pragma once

#include <vector>

namespace pyexec::bench {

// Nearest-rank percentile (0 < percent <= 100) of sorted, non-empty `sorted`.
double Percentile(const std::vector<double>& sorted, double percent);

// 0 for no values.
double Mean(const std::vector<double>& values);

// The middle value (the mean of the two middle ones for an even count); 0 for no values.
double Median(std::vector<double> values);

}  // namespace pyexec::bench
