#pragma once
// At most N holders at once of something costly (a broker handshake, with
// librdkafka's threads and sockets): the sidecar's --live-concurrency.
#include <semaphore>
#include <utility>

namespace certswap {

class ConcurrencyGate {
 public:
  explicit ConcurrencyGate(int holders) : free_(holders < 1 ? 1 : holders) {}

  // Held until destroyed; an empty one (no gate) holds nothing.
  class Pass {
   public:
    Pass() = default;
    explicit Pass(ConcurrencyGate* gate) : gate_(gate) {}
    Pass(Pass&& other) noexcept : gate_(std::exchange(other.gate_, nullptr)) {}
    Pass& operator=(Pass&&) = delete;
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;
    ~Pass() {
      if (gate_) gate_->free_.release();
    }

   private:
    ConcurrencyGate* gate_ = nullptr;
  };

  Pass enter() {
    free_.acquire();
    return Pass(this);
  }

 private:
  std::counting_semaphore<> free_;
};

// Passes `gate` when there is one; without one, nothing to wait for.
inline ConcurrencyGate::Pass enter(ConcurrencyGate* gate) {
  return gate ? gate->enter() : ConcurrencyGate::Pass();
}

}  // namespace certswap
