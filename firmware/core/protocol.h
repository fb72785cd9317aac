// The serial protocol, both directions, with fixed-size buffers and explicit bounds.
//
// Device → host: one JSON object per line ("hello", "detection", "scores", "timing", "ack", "error").
// Host → device: one text command per line:
//   info                      → the hello line again
//   reset                     → clear audio, features and recognizer state (time restarts at 0)
//   threshold <0..255>        → set the detection threshold
//   scores <on|off>           → a "scores" line after every inference
//   audio <seq> <n> <crc32> <base64>
//                             → n int16 little-endian samples (n ≤ kMaxFrameSamples), crc32 (IEEE, 8 hex
//                               digits) of those 2n bytes; answered by {"type":"ack","seq":…} once queued,
//                               or by an error line and dropped. The same seq as the frame before (the
//                               host retransmitting after a lost ack) is acknowledged again with
//                               "repeat":true and not queued twice.
// A malformed, over-long or unknown line gets an error line and is dropped; state is never touched.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kws::protocol {

constexpr int kVersion = 1;
constexpr size_t kMaxFrameSamples = 512;
constexpr size_t kMaxLine = 16 + 3 * 11 + ((kMaxFrameSamples * 2 + 2) / 3) * 4 + 8;  // an audio line fits

// Assembles lines from a byte stream. CR or LF ends a line (empty lines are skipped); a line longer than
// kMaxLine is discarded up to its end and reported once as kOverflow.
class LineReader {
 public:
  enum class Status { kPending, kLine, kOverflow };
  Status Push(char c);
  const char* line() const { return buffer_; }
  size_t length() const { return length_; }
  void Clear();

 private:
  char buffer_[kMaxLine + 1] = {};
  size_t length_ = 0;
  bool complete_ = false;
  bool overflow_ = false;
};

enum class CommandType { kInfo, kReset, kThreshold, kScores, kAudio };

struct Command {
  CommandType type = CommandType::kInfo;
  int32_t value = 0;  // threshold, or scores on (1) / off (0)
  uint32_t seq = 0;
  size_t samples = 0;
  int16_t audio[kMaxFrameSamples] = {};
};

// Parses one line (without its newline). On failure returns false, sets *error to a static message and
// leaves `*out` in an unspecified state that the caller must not act on.
bool ParseCommand(const char* line, size_t length, Command* out, const char** error);

uint32_t Crc32(const uint8_t* data, size_t length);
// Standard base64 (with padding). Returns the decoded length, or -1 if malformed or over `capacity`.
long Base64Decode(const char* in, size_t length, uint8_t* out, size_t capacity);

// Builds one JSON line in a fixed buffer; anything that does not fit marks the line as truncated, and
// Finish() then returns an error line instead of a broken object.
class JsonLine {
 public:
  static constexpr size_t kCapacity = 768;
  explicit JsonLine(const char* type);
  JsonLine& Str(const char* key, const char* value);
  JsonLine& Int(const char* key, long long value);
  JsonLine& Bool(const char* key, bool value);
  JsonLine& IntArray(const char* key, const int8_t* values, size_t count);
  JsonLine& StrArray(const char* key, const char* const* values, size_t count);
  JsonLine& Raw(const char* key, const char* json);  // a nested object or array already in JSON
  // Closes the object and appends '\n'; returns the text (valid until the next call).
  const char* Finish(size_t* length);

 private:
  void Append(const char* text);
  void AppendKey(const char* key);
  void AppendEscaped(const char* text);
  char buffer_[kCapacity + 1] = {};
  size_t length_ = 0;
  bool truncated_ = false;
};

}  // namespace kws::protocol
