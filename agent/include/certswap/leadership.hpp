#pragma once
// Which of several replicas writes (design.md "one writer"): for a Kubernetes
// Secret, a Lease elects one; the others stand by and take over when the
// leader stops renewing it.
#include <functional>
#include <string>

namespace certswap {

class Leadership {
 public:
  virtual ~Leadership() = default;
  // Starts electing; `changed` is called, from another thread, whenever this
  // process gains or loses the lead.
  virtual void start(std::function<void()> changed) = 0;
  // Stops electing (no more calls of `changed`) and hands the lead back if
  // it has it, so that a standby takes over at once rather than after the
  // lease runs out.
  virtual void stop() = 0;
  virtual bool leading() const = 0;
  // Leading, with a renewal recent enough that no standby can have taken over
  // yet: asked right before a step no other replica may repeat (the
  // acknowledgement). leading() can lag behind a renewal that hangs.
  virtual bool leading_now() const = 0;
  // It led, then could not renew in time: another replica may lead by now,
  // so this one must stop writing (the sidecar exits, and starts again as a
  // standby).
  virtual bool lost() const = 0;
  // For /readyz and the log: who leads, and whether it is this process.
  virtual std::string describe() const = 0;
};

}  // namespace certswap
