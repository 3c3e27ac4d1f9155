// A RawEvent that owns its strings, so it can wait in a BoundedQueue between
// a source's thread and the evaluation thread (a source's RawEvent points
// into buffers that are reused as soon as its handler returns).
//
//   BoundedQueue<OwnedRawEvent> q(4096);
//   OwnedRawEvent item;                             // one per source thread, reused
//   src->Poll(100, [&](const RawEvent& e) { item.Assign(e); (void)q.TryPush(std::move(item)); });
//   OwnedRawEvent next;                             // the evaluation thread's
//   while (q.TryPop(next)) builder.Build(next.raw(), table, event);
//
// Assign reuses the strings' capacity, and moving hands buffers back and
// forth (see BoundedQueue), so a warm queue of these does not allocate.
//
// Thread-safety: a plain value; one thread at a time.
#pragma once

#include <string>
#include <utility>

#include "sources/source.h"

namespace vigil::sensor {

class OwnedRawEvent {
 public:
  OwnedRawEvent() = default;
  OwnedRawEvent(const OwnedRawEvent& other)
      : raw_(other.raw_), image_(other.image_), command_line_(other.command_line_), cwd_(other.cwd_),
        path_(other.path_), path2_(other.path2_) {
    Rebind();
  }
  OwnedRawEvent(OwnedRawEvent&& other) noexcept
      : raw_(other.raw_), image_(std::move(other.image_)), command_line_(std::move(other.command_line_)),
        cwd_(std::move(other.cwd_)), path_(std::move(other.path_)), path2_(std::move(other.path2_)) {
    Rebind();
    other.Rebind();
  }
  OwnedRawEvent& operator=(const OwnedRawEvent& other) {
    if (this != &other) Assign(other.raw_);
    return *this;
  }
  OwnedRawEvent& operator=(OwnedRawEvent&& other) noexcept {
    if (this == &other) return *this;
    raw_ = other.raw_;
    image_ = std::move(other.image_);
    command_line_ = std::move(other.command_line_);
    cwd_ = std::move(other.cwd_);
    path_ = std::move(other.path_);
    path2_ = std::move(other.path2_);
    Rebind();
    other.Rebind();
    return *this;
  }

  void Assign(const sources::RawEvent& event) {
    raw_ = event;
    image_.assign(event.image);
    command_line_.assign(event.command_line);
    cwd_.assign(event.cwd);
    path_.assign(event.path);
    path2_.assign(event.path2);
    Rebind();
  }

  // The event; its strings point into this object.
  const sources::RawEvent& raw() const { return raw_; }

 private:
  void Rebind() {
    raw_.image = image_;
    raw_.command_line = command_line_;
    raw_.cwd = cwd_;
    raw_.path = path_;
    raw_.path2 = path2_;
  }

  sources::RawEvent raw_;
  std::string image_, command_line_, cwd_, path_, path2_;
};

}  // namespace vigil::sensor
