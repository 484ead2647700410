// IoLiveness: whether the server's io_context still takes posted work. Shared by the server and
// every Exchange, so that Exchange::Respond is safe from any thread, even after the server has
// stopped: a response posted then is dropped instead of touching a destroyed io_context.
#pragma once

#include <mutex>

namespace pyexec::http {

class IoLiveness {
 public:
  // Runs `post` under the lock when the io_context is alive; false when it is not.
  template <typename PostFunction>
  bool RunIfAlive(PostFunction&& post) {
    std::lock_guard lock(mutex_);
    if (!alive_) {
      return false;
    }
    post();
    return true;
  }

  // Called by the server once its io threads are joined, before the io_context is destroyed.
  void MarkDead() {
    std::lock_guard lock(mutex_);
    alive_ = false;
  }

 private:
  std::mutex mutex_;
  bool alive_ = true;
};

}  // namespace pyexec::http
