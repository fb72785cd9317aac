// The frontend's window and filterbank tables, computed with TensorFlow's audio_microfrontend arithmetic.
//
// TF's op (the host pipeline's features) builds these tables in double precision (cos, log1p); TFLM's copy
// of the library builds them in single precision (cosf, log1pf), which moves a few window coefficients and
// filterbank weights by one LSB — enough to change loud frames. These functions rebuild the tables of a
// populated FrontendState TF's way, into storage of their own, so device and host features are identical.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensorflow/lite/experimental/microfrontend/lib/frontend.h"

namespace kws {

class FrontendTables {
 public:
  static constexpr size_t kMaxChannels = 64;
  static constexpr size_t kMaxWeights = 1024;

  // Rewrites state->window.coefficients in place and points state->filterbank at this object's tables
  // (freeing TFLM's). Returns false if the configuration does not fit the fixed sizes above.
  bool Apply(FrontendState* state, int num_channels, float lower_band_hz, float upper_band_hz, int sample_rate);

 private:
  int16_t frequency_starts_[kMaxChannels + 1] = {};
  int16_t weight_starts_[kMaxChannels + 1] = {};
  int16_t widths_[kMaxChannels + 1] = {};
  int16_t weights_[kMaxWeights] = {};
  int16_t unweights_[kMaxWeights] = {};
};

}  // namespace kws
