#include "protocol.h"

#include <cstdio>
#include <cstring>

namespace kws::protocol {

LineReader::Status LineReader::Push(char c) {
  if (complete_) Clear();
  if (c == '\n' || c == '\r') {  // either ends a line (terminals send CR); the empty line of CRLF is skipped
    if (overflow_) {
      Clear();
      return Status::kOverflow;
    }
    if (length_ == 0) return Status::kPending;
    buffer_[length_] = '\0';
    complete_ = true;
    return Status::kLine;
  }
  if (overflow_) return Status::kPending;
  if (length_ >= kMaxLine) {
    overflow_ = true;
    return Status::kPending;
  }
  buffer_[length_++] = c;
  return Status::kPending;
}

void LineReader::Clear() {
  length_ = 0;
  complete_ = false;
  overflow_ = false;
  buffer_[0] = '\0';
}

namespace {

// Splits off the next space-separated token of [*p, end); returns false if there is none.
bool NextToken(const char** p, const char* end, const char** token, size_t* length) {
  while (*p < end && **p == ' ') ++*p;
  if (*p >= end) return false;
  *token = *p;
  while (*p < end && **p != ' ') ++*p;
  *length = static_cast<size_t>(*p - *token);
  return true;
}

bool Equals(const char* token, size_t length, const char* word) {
  return std::strlen(word) == length && std::memcmp(token, word, length) == 0;
}

// Parses an unsigned decimal (≤ 10 digits, ≤ max) or, with base 16, exactly 8 hex digits.
bool ParseUnsigned(const char* token, size_t length, int base, uint32_t max, uint32_t* out) {
  if (length == 0 || length > (base == 16 ? 8u : 10u) || (base == 16 && length != 8)) return false;
  uint64_t value = 0;
  for (size_t i = 0; i < length; ++i) {
    const char c = token[i];
    uint32_t digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint32_t>(c - '0');
    } else if (base == 16 && c >= 'a' && c <= 'f') {
      digit = static_cast<uint32_t>(c - 'a' + 10);
    } else if (base == 16 && c >= 'A' && c <= 'F') {
      digit = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return false;
    }
    value = value * static_cast<uint64_t>(base) + digit;
  }
  if (value > max) return false;
  *out = static_cast<uint32_t>(value);
  return true;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

long Base64Decode(const char* in, size_t length, uint8_t* out, size_t capacity) {
  if (length % 4 != 0) return -1;
  size_t written = 0;
  for (size_t i = 0; i < length; i += 4) {
    const bool last = i + 4 == length;
    const int pad = (last && in[i + 3] == '=') ? (in[i + 2] == '=' ? 2 : 1) : 0;
    int v[4];
    for (int k = 0; k < 4; ++k) {
      v[k] = (k >= 4 - pad) ? 0 : Base64Value(in[i + static_cast<size_t>(k)]);
      if (v[k] < 0) return -1;
    }
    const uint32_t triple = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                            (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    const size_t bytes = 3 - static_cast<size_t>(pad);
    if (written + bytes > capacity) return -1;
    for (size_t k = 0; k < bytes; ++k) out[written++] = static_cast<uint8_t>(triple >> (16 - 8 * k));
  }
  return static_cast<long>(written);
}

uint32_t Crc32(const uint8_t* data, size_t length) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < length; ++i) {
    crc ^= data[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

bool ParseCommand(const char* line, size_t length, Command* out, const char** error) {
  const char* p = line;
  const char* end = line + length;
  const char* word;
  size_t n;
  if (!NextToken(&p, end, &word, &n)) {
    *error = "empty command";
    return false;
  }
  const char* args[4];
  size_t arg_lengths[4];
  size_t count = 0;
  while (count < 4 && NextToken(&p, end, &args[count], &arg_lengths[count])) ++count;
  const char* extra;
  size_t extra_length;
  if (NextToken(&p, end, &extra, &extra_length)) {
    *error = "too many arguments";
    return false;
  }
  uint32_t value = 0;
  if (Equals(word, n, "info") || Equals(word, n, "reset")) {
    if (count != 0) {
      *error = "this command takes no arguments";
      return false;
    }
    out->type = Equals(word, n, "info") ? CommandType::kInfo : CommandType::kReset;
    return true;
  }
  if (Equals(word, n, "threshold")) {
    if (count != 1 || !ParseUnsigned(args[0], arg_lengths[0], 10, 255, &value)) {
      *error = "usage: threshold <0..255>";
      return false;
    }
    out->type = CommandType::kThreshold;
    out->value = static_cast<int32_t>(value);
    return true;
  }
  if (Equals(word, n, "scores")) {
    const bool on = count == 1 && Equals(args[0], arg_lengths[0], "on");
    if (!on && !(count == 1 && Equals(args[0], arg_lengths[0], "off"))) {
      *error = "usage: scores <on|off>";
      return false;
    }
    out->type = CommandType::kScores;
    out->value = on ? 1 : 0;
    return true;
  }
  if (Equals(word, n, "audio")) {
    uint32_t seq = 0;
    uint32_t samples = 0;
    uint32_t crc = 0;
    if (count != 4 || !ParseUnsigned(args[0], arg_lengths[0], 10, 0xFFFFFFFFu, &seq) ||
        !ParseUnsigned(args[1], arg_lengths[1], 10, kMaxFrameSamples, &samples) || samples == 0 ||
        !ParseUnsigned(args[2], arg_lengths[2], 16, 0xFFFFFFFFu, &crc)) {
      *error = "usage: audio <seq> <1..512 samples> <crc32 hex8> <base64>";
      return false;
    }
    uint8_t* bytes = reinterpret_cast<uint8_t*>(out->audio);
    const long decoded = Base64Decode(args[3], arg_lengths[3], bytes, sizeof(out->audio));
    if (decoded < 0) {
      *error = "audio: malformed base64";
      return false;
    }
    if (static_cast<size_t>(decoded) != samples * 2u) {
      *error = "audio: length does not match the sample count";
      return false;
    }
    if (Crc32(bytes, static_cast<size_t>(decoded)) != crc) {
      *error = "audio: crc mismatch";
      return false;
    }
    for (size_t i = 0; i < samples; ++i) {  // little-endian on the wire, whatever the host byte order
      out->audio[i] = static_cast<int16_t>(static_cast<uint16_t>(bytes[2 * i]) |
                                           static_cast<uint16_t>(bytes[2 * i + 1] << 8));
    }
    out->type = CommandType::kAudio;
    out->seq = seq;
    out->samples = samples;
    return true;
  }
  *error = "unknown command";
  return false;
}

JsonLine::JsonLine(const char* type) {
  Append("{\"type\":\"");
  AppendEscaped(type);
  Append("\"");
}

void JsonLine::Append(const char* text) {
  const size_t n = std::strlen(text);
  if (truncated_ || length_ + n > kCapacity) {
    truncated_ = true;
    return;
  }
  std::memcpy(buffer_ + length_, text, n);
  length_ += n;
  buffer_[length_] = '\0';
}

void JsonLine::AppendEscaped(const char* text) {
  char one[8];
  for (const char* c = text; *c != '\0'; ++c) {
    const unsigned char u = static_cast<unsigned char>(*c);
    if (u == '"' || u == '\\') {
      one[0] = '\\';
      one[1] = *c;
      one[2] = '\0';
    } else if (u < 0x20) {
      std::snprintf(one, sizeof(one), "\\u%04x", u);
    } else {
      one[0] = *c;
      one[1] = '\0';
    }
    Append(one);
  }
}

void JsonLine::AppendKey(const char* key) {
  Append(",\"");
  AppendEscaped(key);
  Append("\":");
}

JsonLine& JsonLine::Str(const char* key, const char* value) {
  AppendKey(key);
  Append("\"");
  AppendEscaped(value);
  Append("\"");
  return *this;
}

JsonLine& JsonLine::Int(const char* key, long long value) {
  // Formatted by hand: newlib-nano's printf has no %lld.
  char text[24];
  char* p = text + sizeof(text) - 1;
  *p = '\0';
  unsigned long long magnitude = value < 0 ? 0ULL - static_cast<unsigned long long>(value) : static_cast<unsigned long long>(value);
  do {
    *--p = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0);
  if (value < 0) *--p = '-';
  AppendKey(key);
  Append(p);
  return *this;
}

JsonLine& JsonLine::Bool(const char* key, bool value) {
  AppendKey(key);
  Append(value ? "true" : "false");
  return *this;
}

JsonLine& JsonLine::IntArray(const char* key, const int8_t* values, size_t count) {
  AppendKey(key);
  Append("[");
  char text[8];
  for (size_t i = 0; i < count; ++i) {
    std::snprintf(text, sizeof(text), i ? ",%d" : "%d", static_cast<int>(values[i]));
    Append(text);
  }
  Append("]");
  return *this;
}

JsonLine& JsonLine::StrArray(const char* key, const char* const* values, size_t count) {
  AppendKey(key);
  Append("[");
  for (size_t i = 0; i < count; ++i) {
    Append(i ? ",\"" : "\"");
    AppendEscaped(values[i]);
    Append("\"");
  }
  Append("]");
  return *this;
}

JsonLine& JsonLine::Raw(const char* key, const char* json) {
  AppendKey(key);
  Append(json);
  return *this;
}

const char* JsonLine::Finish(size_t* length) {
  Append("}\n");
  if (truncated_) {
    static const char kTruncated[] = "{\"type\":\"error\",\"msg\":\"output line too long\"}\n";
    *length = sizeof(kTruncated) - 1;
    return kTruncated;
  }
  *length = length_;
  return buffer_;
}

}  // namespace kws::protocol
