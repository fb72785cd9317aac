#include "frontend_tables.h"

#include <cmath>
#include <cstdlib>

#include "tensorflow/lite/experimental/microfrontend/lib/filterbank.h"
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

bool FrontendTables::Apply(FrontendState* state, int num_channels, float lower_band_hz, float upper_band_hz,
                           int sample_rate) {
  // Window: a Hann window of the library's size in Q12.
  WindowState& window = state->window;
  const float arg = static_cast<float>(kPi * 2.0 / static_cast<double>(static_cast<float>(window.size)));
  for (size_t i = 0; i < window.size; ++i) {
    const float value =
        static_cast<float>(0.5 - 0.5 * std::cos(static_cast<double>(arg) * (static_cast<double>(i) + 0.5)));
    window.coefficients[i] = Quantize(static_cast<double>(value * (1 << kFrontendWindowBits)) + 0.5);
  }

  // Filterbank: mel-spaced triangular channels over the FFT bins.
  const int channels = num_channels + 1;
  if (num_channels <= 0 || static_cast<size_t>(channels) > kMaxChannels + 1) return false;
  float centers[kMaxChannels + 1];
  const float mel_low = FreqToMel(lower_band_hz);
  const float mel_span = FreqToMel(upper_band_hz) - mel_low;
  const float mel_spacing = mel_span / static_cast<float>(channels);
  for (int i = 0; i < channels; ++i) centers[i] = mel_low + mel_spacing * static_cast<float>(i + 1);

  FilterbankState& fb = state->filterbank;
  const int spectrum_size = static_cast<int>(state->fft.fft_size / 2 + 1);
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

  std::free(fb.channel_frequency_starts);
  std::free(fb.channel_weight_starts);
  std::free(fb.channel_widths);
  std::free(fb.weights);
  std::free(fb.unweights);
  fb.num_channels = num_channels;
  fb.start_index = start_index;
  fb.end_index = end_index;
  fb.channel_frequency_starts = frequency_starts_;
  fb.channel_weight_starts = weight_starts_;
  fb.channel_widths = widths_;
  fb.weights = weights_;
  fb.unweights = unweights_;
  return true;
}

}  // namespace kws
