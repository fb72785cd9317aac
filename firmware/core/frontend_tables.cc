#include "frontend_tables.h"

#include <cmath>
#include <cstring>

#include "tensorflow/lite/experimental/microfrontend/lib/bits.h"
#include "tensorflow/lite/experimental/microfrontend/lib/fft_util.h"
#include "tensorflow/lite/experimental/microfrontend/lib/filterbank.h"
#include "tensorflow/lite/experimental/microfrontend/lib/log_scale_util.h"
#include "tensorflow/lite/experimental/microfrontend/lib/noise_reduction_util.h"
#include "tensorflow/lite/experimental/microfrontend/lib/pcan_gain_control_util.h"
#include "tensorflow/lite/experimental/microfrontend/lib/window.h"

namespace kws {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kIndexAlignment = 2;  // 4-byte alignment of int16 indices, as in the library
constexpr int kBlockSize = 4;       // the library multiplies channels in blocks of 4

// The mixed float/double arithmetic below follows TF's window_util.c and filterbank_util.c expression by
// expression: floats are stored as floats, and a double literal promotes the expression it is in.
float FreqToMel(float freq) { return static_cast<float>(1127.0 * std::log1p(static_cast<double>(freq) / 700.0)); }

int16_t Quantize(double value) { return static_cast<int16_t>(std::floor(value)); }

}  // namespace

bool FrontendTables::Populate(const FrontendConfig& config, int sample_rate, FrontendState* state) {
  std::memset(state, 0, sizeof(*state));
  if (!PopulateWindow(config.window, sample_rate, &state->window)) return false;
  if (!FftPopulateState(&state->fft, state->window.size)) return false;
  FftInit(&state->fft);
  const int spectrum_size = static_cast<int>(state->fft.fft_size / 2 + 1);
  if (!PopulateFilterbank(config.filterbank, sample_rate, spectrum_size, &state->filterbank)) return false;
  if (!NoiseReductionPopulateState(&config.noise_reduction, &state->noise_reduction, state->filterbank.num_channels)) {
    return false;
  }
  const int input_correction_bits =
      MostSignificantBit32(static_cast<uint32_t>(state->fft.fft_size)) - 1 - (kFilterbankBits / 2);
  if (!PcanGainControlPopulateState(&config.pcan_gain_control, &state->pcan_gain_control,
                                    state->noise_reduction.estimate, state->filterbank.num_channels,
                                    state->noise_reduction.smoothing_bits, input_correction_bits)) {
    return false;
  }
  if (!LogScalePopulateState(&config.log_scale, &state->log_scale)) return false;
  FrontendReset(state);
  return true;
}

bool FrontendTables::PopulateWindow(const WindowConfig& config, int sample_rate, WindowState* window) {
  // A Hann window in Q12.
  window->size = config.size_ms * static_cast<size_t>(sample_rate) / 1000;
  window->step = config.step_size_ms * static_cast<size_t>(sample_rate) / 1000;
  if (window->size == 0 || window->size > kMaxWindow) return false;
  window->coefficients = coefficients_;
  window->input = window_input_;
  window->output = window_output_;
  window->input_used = 0;
  const float arg = static_cast<float>(kPi * 2.0 / static_cast<double>(static_cast<float>(window->size)));
  for (size_t i = 0; i < window->size; ++i) {
    const float value =
        static_cast<float>(0.5 - 0.5 * std::cos(static_cast<double>(arg) * (static_cast<double>(i) + 0.5)));
    coefficients_[i] = Quantize(static_cast<double>(value * (1 << kFrontendWindowBits)) + 0.5);
  }
  return true;
}

bool FrontendTables::PopulateFilterbank(const FilterbankConfig& config, int sample_rate, int spectrum_size,
                                        FilterbankState* fb) {
  // Mel-spaced triangular channels over the FFT bins.
  const int num_channels = config.num_channels;
  const float lower_band_hz = config.lower_band_limit;
  const float upper_band_hz = config.upper_band_limit;
  const int channels = num_channels + 1;
  if (num_channels <= 0 || static_cast<size_t>(channels) > kMaxChannels + 1) return false;
  float centers[kMaxChannels + 1];
  const float mel_low = FreqToMel(lower_band_hz);
  const float mel_span = FreqToMel(upper_band_hz) - mel_low;
  const float mel_spacing = mel_span / static_cast<float>(channels);
  for (int i = 0; i < channels; ++i) centers[i] = mel_low + mel_spacing * static_cast<float>(i + 1);

  const float hz_per_sbin =
      static_cast<float>(0.5 * sample_rate / static_cast<double>(static_cast<float>(spectrum_size) - 1.0f));
  const int start_index = static_cast<int>(1.5 + static_cast<double>(lower_band_hz / hz_per_sbin));

  int16_t actual_starts[kMaxChannels + 1];
  int16_t actual_widths[kMaxChannels + 1];
  int chan_start = start_index;
  int weight_index = 0;
  bool needs_zeros = false;
  for (int chan = 0; chan < channels; ++chan) {
    int freq = chan_start;
    while (FreqToMel(static_cast<float>(freq) * hz_per_sbin) <= centers[chan]) ++freq;
    const int width = freq - chan_start;
    actual_starts[chan] = static_cast<int16_t>(chan_start);
    actual_widths[chan] = static_cast<int16_t>(width);
    if (width == 0) {  // an empty channel reads a block of zero weights placed at the start
      frequency_starts_[chan] = 0;
      weight_starts_[chan] = 0;
      widths_[chan] = kBlockSize;
      if (!needs_zeros) {
        needs_zeros = true;
        for (int j = 0; j < chan; ++j) weight_starts_[j] = static_cast<int16_t>(weight_starts_[j] + kBlockSize);
        weight_index += kBlockSize;
      }
    } else {
      const int aligned_start = (chan_start / kIndexAlignment) * kIndexAlignment;
      const int aligned_width = chan_start - aligned_start + width;
      const int padded_width = ((aligned_width - 1) / kBlockSize + 1) * kBlockSize;
      frequency_starts_[chan] = static_cast<int16_t>(aligned_start);
      weight_starts_[chan] = static_cast<int16_t>(weight_index);
      widths_[chan] = static_cast<int16_t>(padded_width);
      weight_index += padded_width;
    }
    if (static_cast<size_t>(weight_index) > kMaxWeights) return false;
    chan_start = freq;
  }

  for (int i = 0; i < weight_index; ++i) weights_[i] = unweights_[i] = 0;
  int end_index = 0;
  for (int chan = 0; chan < channels; ++chan) {
    int frequency = actual_starts[chan];
    const int offset = frequency - frequency_starts_[chan];
    const float denom = chan == 0 ? mel_low : centers[chan - 1];
    for (int j = 0; j < actual_widths[chan]; ++j, ++frequency) {
      const float weight =
          (centers[chan] - FreqToMel(static_cast<float>(frequency) * hz_per_sbin)) / (centers[chan] - denom);
      const int index = weight_starts_[chan] + offset + j;
      weights_[index] = Quantize(static_cast<double>(weight * (1 << kFilterbankBits)) + 0.5);
      unweights_[index] = Quantize((1.0 - static_cast<double>(weight)) * (1 << kFilterbankBits) + 0.5);
    }
    if (frequency > end_index) end_index = frequency;
  }

  fb->num_channels = num_channels;
  fb->start_index = start_index;
  fb->end_index = end_index;
  fb->channel_frequency_starts = frequency_starts_;
  fb->channel_weight_starts = weight_starts_;
  fb->channel_widths = widths_;
  fb->weights = weights_;
  fb->unweights = unweights_;
  fb->work = work_;
  return true;
}

}  // namespace kws
