#include "http/exchange.h"

#include <utility>

#include "http/connection.h"
#include "http/io_liveness.h"
#include "util/log.h"

namespace pyexec::http {

Exchange::Exchange(Request request, std::string request_id, std::string peer,
                   std::weak_ptr<Connection> connection, uint64_t sequence,
                   std::shared_ptr<IoLiveness> liveness)
    : request_(std::move(request)),
      request_id_(std::move(request_id)),
      peer_(std::move(peer)),
      connection_(std::move(connection)),
      sequence_(sequence),
      liveness_(std::move(liveness)) {}

Exchange::~Exchange() {
  bool responded = false;
  {
    std::lock_guard lock(mutex_);
    responded = responded_;
  }
  if (!responded) {
    LogError("http: request " + request_id_ + " (" + request_.method + " " + request_.path +
             ") was dropped by its handler without a response");
    Respond(ErrorResponse(500, "internal", "the request handler did not respond"));
  }
}

void Exchange::Respond(Response response) {
  std::function<void()> unused_callback;  // destroyed outside the lock: it may own anything
  {
    std::lock_guard lock(mutex_);
    if (responded_) {
      LogWarning("http: request " + request_id_ + " was answered twice; the second is ignored");
      return;
    }
    responded_ = true;
    unused_callback = std::move(on_client_gone_);
  }
  liveness_->RunIfAlive([&] {
    // The connection's strong reference lives in the registry; this one dies here, under the
    // lock, so a connection is never destroyed after its io_context.
    if (std::shared_ptr<Connection> connection = connection_.lock()) {
      connection->PostResponse(sequence_, std::move(response));
    }
  });
}

void Exchange::OnClientGone(std::function<void()> callback) {
  {
    std::lock_guard lock(mutex_);
    if (responded_) {
      return;
    }
    if (!client_gone_) {
      on_client_gone_ = std::move(callback);
      return;
    }
  }
  if (callback) {
    callback();
  }
}

bool Exchange::client_gone() const {
  std::lock_guard lock(mutex_);
  return client_gone_;
}

void Exchange::NotifyClientGone() {
  std::function<void()> callback;
  {
    std::lock_guard lock(mutex_);
    if (responded_ || client_gone_) {
      return;
    }
    client_gone_ = true;
    callback = std::move(on_client_gone_);
  }
  if (callback) {
    callback();
  }
}

}  // namespace pyexec::http
