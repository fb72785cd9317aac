// The frontend's window and filterbank tables, computed with TensorFlow's audio_microfrontend arithmetic.
//
// TF's op (the host pipeline's features) builds these tables in double precision (cos, log1p); TFLM's copy
// of the library builds them in single precision (cosf, log1pf), which moves a few window coefficients and
// filterbank weights by one LSB — enough to change loud frames. Populate() sets a FrontendState up like the
// library's FrontendPopulateState, but builds the window and filterbank TF's way, in static storage of its
// own; the FFT, noise reduction, PCAN and log stages are set up by the library itself.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensorflow/lite/experimental/microfrontend/lib/frontend.h"
#include "tensorflow/lite/experimental/microfrontend/lib/frontend_util.h"

namespace kws {

class FrontendTables {
 public:
  static constexpr size_t kMaxChannels = 64;
  static constexpr size_t kMaxWeights = 512;
  static constexpr size_t kMaxWindow = 512;

  // Returns false if the configuration does not fit the fixed sizes above or an allocation fails.
  bool Populate(const FrontendConfig& config, int sample_rate, FrontendState* state);

 private:
  bool PopulateWindow(const WindowConfig& config, int sample_rate, WindowState* window);
  bool PopulateFilterbank(const FilterbankConfig& config, int sample_rate, int spectrum_size, FilterbankState* fb);

  int16_t coefficients_[kMaxWindow] = {};
  int16_t window_input_[kMaxWindow] = {};
  int16_t window_output_[kMaxWindow] = {};
  uint64_t work_[kMaxChannels + 1] = {};
  int16_t frequency_starts_[kMaxChannels + 1] = {};
  int16_t weight_starts_[kMaxChannels + 1] = {};
  int16_t widths_[kMaxChannels + 1] = {};
  int16_t weights_[kMaxWeights] = {};
  int16_t unweights_[kMaxWeights] = {};
};

}  // namespace kws
