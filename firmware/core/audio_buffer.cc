#include "audio_buffer.h"

namespace kws {

size_t AudioBuffer::Write(const int16_t* samples, size_t n) {
  const uint32_t head = head_.load(std::memory_order_relaxed);
  const uint32_t tail = tail_.load(std::memory_order_acquire);
  const size_t space = kCapacity - static_cast<size_t>(head - tail);
  const size_t count = n < space ? n : space;
  for (size_t i = 0; i < count; ++i) {
    data_[(head + i) & (kCapacity - 1)] = samples[i];
  }
  head_.store(head + static_cast<uint32_t>(count), std::memory_order_release);
  if (count < n) {
    overrun_.fetch_add(static_cast<uint32_t>(n - count), std::memory_order_relaxed);
  }
  return count;
}

size_t AudioBuffer::Read(int16_t* out, size_t max) {
  const uint32_t tail = tail_.load(std::memory_order_relaxed);
  const uint32_t head = head_.load(std::memory_order_acquire);
  const size_t available = static_cast<size_t>(head - tail);
  const size_t count = max < available ? max : available;
  for (size_t i = 0; i < count; ++i) {
    out[i] = data_[(tail + i) & (kCapacity - 1)];
  }
  tail_.store(tail + static_cast<uint32_t>(count), std::memory_order_release);
  return count;
}

size_t AudioBuffer::Available() const {
  return static_cast<size_t>(head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire));
}

void AudioBuffer::Clear() { tail_.store(head_.load(std::memory_order_acquire), std::memory_order_release); }

}  // namespace kws
