// ConnectionRegistry: the server's open connections. It owns them (an Exchange only holds a
// weak reference), counts them for max_connections and lets shutdown wait for them to close.
// Thread-safe; used by the listener, the connections and the server.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace pyexec::http {

class Connection;

class ConnectionRegistry {
 public:
  void Add(std::shared_ptr<Connection> connection);
  // Called by the connection itself when it closes.
  void Remove(const Connection* connection);
  size_t size() const;
  std::vector<std::shared_ptr<Connection>> Snapshot() const;
  // True once at most `count` connections are open; false when `deadline` passes first.
  bool WaitUntilAtMost(size_t count, std::chrono::steady_clock::time_point deadline) const;
  // Drops every reference (the server, after its io threads have stopped).
  void Clear();

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::unordered_map<const Connection*, std::shared_ptr<Connection>> connections_;
};

}  // namespace pyexec::http
