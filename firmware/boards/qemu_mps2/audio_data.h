// Audio compiled into the image (empty unless the build sets KWS_EMBED_WAV).
#pragma once

#include <cstddef>
#include <cstdint>

namespace kws::audio {
extern const int16_t kData[];
extern const size_t kSamples;
}  // namespace kws::audio
