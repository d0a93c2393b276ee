// Protobuf's wire format appended to a string: for a response assembled from pieces that are
// already bytes (List's records, each cut to a summary as it is written), where building
// messages only to serialise them would copy every string twice.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/message_lite.h>

namespace berth::agent::wire {

// Protobuf's own varint coding; this file only adds the append-to-a-string step.
inline void PutVarint(uint64_t v, std::string* out) {
  uint8_t buf[10];  // a 64-bit varint is at most ten bytes
  const uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(v, buf);
  out->append(reinterpret_cast<const char*>(buf), end - buf);
}

inline size_t VarintSize(uint64_t v) { return google::protobuf::io::CodedOutputStream::VarintSize64(v); }

enum WireType : uint32_t { kVarint = 0, kLengthDelimited = 2 };

inline void PutTag(uint32_t field, WireType type, std::string* out) { PutVarint((field << 3) | type, out); }

// A length-delimited field: strings, bytes, and a message's body written elsewhere.
inline void PutBytes(uint32_t field, std::string_view bytes, std::string* out) {
  PutTag(field, kLengthDelimited, out);
  PutVarint(bytes.size(), out);
  out->append(bytes);
}

// proto3 scalars: the default value is not written.
inline void PutString(uint32_t field, std::string_view s, std::string* out) {
  if (!s.empty()) PutBytes(field, s, out);
}
inline void PutInt32(uint32_t field, int32_t v, std::string* out) {
  if (v == 0) return;
  PutTag(field, kVarint, out);
  PutVarint(static_cast<uint64_t>(static_cast<int64_t>(v)), out);  // negatives take ten bytes
}
inline void PutBool(uint32_t field, bool v, std::string* out) {
  if (v) {
    PutTag(field, kVarint, out);
    out->push_back(1);
  }
}

// A sub-message, written even when empty (a set message field stays set).
inline void PutMessage(uint32_t field, const google::protobuf::MessageLite& m, std::string* out) {
  const size_t size = m.ByteSizeLong();
  PutTag(field, kLengthDelimited, out);
  PutVarint(size, out);
  const size_t at = out->size();
  out->resize(at + size);
  m.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(out->data() + at));
}

}  // namespace berth::agent::wire
