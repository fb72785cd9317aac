// Feature provider: TFLM's micro_speech frontend run incrementally (only the new 20 ms slices are
// computed at each step), mapped to int8 exactly as the host pipeline does, into a sliding window of
// the model's input shape. Fed the same samples from a reset, it produces the host's features byte for byte.
#pragma once

#include <cstddef>
#include <cstdint>

#include "frontend_tables.h"
#include "kws_model.h"
#include "tensorflow/lite/experimental/microfrontend/lib/frontend.h"

namespace kws {

class FeatureProvider {
 public:
  static constexpr int kFrames = model::kFrames;
  static constexpr int kChannels = model::kChannels;

  // Allocates the frontend's tables (the only heap use, at start-up). Returns false on failure.
  bool Init();
  // Clears the frontend state (noise estimates, PCAN) and the window, as at start-up.
  void Reset();

  // Consumes up to `n` samples, stopping right after a new frame is complete so the caller can run an
  // inference on that exact window. Returns the number of samples consumed; `*new_frame` tells whether
  // a frame was completed.
  size_t Process(const int16_t* samples, size_t n, bool* new_frame);

  // int8 features, oldest frame first: the model's input.
  const int8_t* window() const { return window_; }
  // The newest frame (kChannels values).
  const int8_t* latest() const { return window_ + (kFrames - 1) * kChannels; }
  // Frames produced since the last reset.
  uint64_t frame_count() const { return frames_; }

  // micro_speech's mapping of one uint16 frontend value to the model's int8 input.
  static int8_t ToInt8(uint16_t value);

 private:
  FrontendState state_ = {};
  FrontendTables tables_;
  bool ready_ = false;
  int8_t window_[kFrames * kChannels] = {};
  uint64_t frames_ = 0;
};

}  // namespace kws
