#include "api/routes.h"

#include <array>

namespace pyexec::api {
namespace {

constexpr std::array kExecuteStatuses = {200, 400, 408, 413, 415, 422, 429, 500, 503};
constexpr std::array kHealthStatuses = {200, 503};
constexpr std::array kAnyRequest = {400, 404, 405, 408, 431, 503};

constexpr std::array kRoutes = {
    Route{"POST", kExecutePath, kExecuteStatuses},
    Route{"GET", kHealthPath, kHealthStatuses},
};

}  // namespace

std::span<const Route> Routes() { return kRoutes; }

std::span<const int> AnyRequestStatuses() { return kAnyRequest; }

std::string AllowedMethods(std::string_view path) {
  std::string allowed;
  for (const Route& route : kRoutes) {
    if (route.path == path) {
      if (!allowed.empty()) {
        allowed += ", ";
      }
      allowed += route.method;
    }
  }
  return allowed;
}

}  // namespace pyexec::api
