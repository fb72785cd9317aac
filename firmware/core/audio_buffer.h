// Audio input: a single-producer / single-consumer ring buffer of 16 kHz int16 samples.
// The producer (a microphone interrupt, a serial frame, a file reader) and the consumer (the
// feature provider in the main loop) may run in different contexts: indices are atomics.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace kws {

class AudioBuffer {
 public:
  static constexpr size_t kCapacity = 2048;  // 128 ms at 16 kHz (an inference takes < 70 ms); a power of two
  static_assert((kCapacity & (kCapacity - 1)) == 0, "capacity must be a power of two");

  // Appends up to `n` samples; returns how many fit. Samples that do not fit are counted as overrun.
  size_t Write(const int16_t* samples, size_t n);
  // Copies up to `max` of the oldest samples into `out` and removes them; returns how many.
  size_t Read(int16_t* out, size_t max);
  size_t Available() const;
  size_t Free() const { return kCapacity - Available(); }
  void Clear();
  uint32_t overrun_samples() const { return overrun_.load(std::memory_order_relaxed); }

 private:
  int16_t data_[kCapacity] = {};
  std::atomic<uint32_t> head_{0};  // total samples written (mod 2^32)
  std::atomic<uint32_t> tail_{0};  // total samples read (mod 2^32)
  std::atomic<uint32_t> overrun_{0};
};

}  // namespace kws
