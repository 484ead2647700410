#include "http/connection_registry.h"

#include <utility>

namespace pyexec::http {

void ConnectionRegistry::Add(std::shared_ptr<Connection> connection) {
  std::lock_guard lock(mutex_);
  const Connection* key = connection.get();
  connections_.emplace(key, std::move(connection));
  changed_.notify_all();
}

void ConnectionRegistry::Remove(const Connection* connection) {
  std::shared_ptr<Connection> removed;  // released after the lock: it may be the last reference
  {
    std::lock_guard lock(mutex_);
    const auto it = connections_.find(connection);
    if (it == connections_.end()) {
      return;
    }
    removed = std::move(it->second);
    connections_.erase(it);
    changed_.notify_all();
  }
}

size_t ConnectionRegistry::size() const {
  std::lock_guard lock(mutex_);
  return connections_.size();
}

std::vector<std::shared_ptr<Connection>> ConnectionRegistry::Snapshot() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<Connection>> snapshot;
  snapshot.reserve(connections_.size());
  for (const auto& entry : connections_) {
    snapshot.push_back(entry.second);
  }
  return snapshot;
}

bool ConnectionRegistry::WaitUntilAtMost(size_t count,
                                         std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_until(lock, deadline, [&] { return connections_.size() <= count; });
}

void ConnectionRegistry::Clear() {
  std::unordered_map<const Connection*, std::shared_ptr<Connection>> cleared;
  {
    std::lock_guard lock(mutex_);
    cleared.swap(connections_);
    changed_.notify_all();
  }
}

}  // namespace pyexec::http
