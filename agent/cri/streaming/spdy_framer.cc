#include "agent/cri/streaming/spdy_framer.h"

#include <zlib.h>

#include <array>

#include "absl/strings/str_cat.h"

namespace berth::agent::cri::streaming::spdy {
namespace {

constexpr uint16_t kVersion = 3;
constexpr size_t kMaxHeaderBlock = 1 << 20;  // decompressed; far above what these clients send

void PutU32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

uint32_t GetU32(std::string_view in, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(in[at + i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

std::string ControlHeader(ControlType type, uint8_t flags, size_t length) {
  std::string out;
  out.push_back(static_cast<char>(0x80 | (kVersion >> 8)));
  out.push_back(static_cast<char>(kVersion & 0xff));
  out.push_back(static_cast<char>(static_cast<uint16_t>(type) >> 8));
  out.push_back(static_cast<char>(static_cast<uint16_t>(type) & 0xff));
  PutU32(out, static_cast<uint32_t>(length));
  out[4] = static_cast<char>(flags);
  return out;
}

}  // namespace

std::string HeaderValue(const Headers& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "";
}

// The dictionary is the spec's: HTTP words each behind a 4-byte big-endian length, then a
// run of status lines, dates, media types and cache words as one string.
const std::string& HeaderDictionary() {
  static const std::string* dictionary = [] {
    static constexpr std::array<const char*, 65> kWords = {
        "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
        "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
        "content-base", "content-encoding", "content-language", "content-length", "content-location",
        "content-md5", "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host",
        "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified",
        "location", "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
        "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via",
        "warning", "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url",
        "public", "set-cookie", "keep-alive", "origin"};
    auto* d = new std::string;
    for (const char* word : kWords) {
      PutU32(*d, static_cast<uint32_t>(std::string_view(word).size()));
      d->append(word);
    }
    d->append(
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
        "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
        "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
        "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
        "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
        "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
        "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.");
    return d;
  }();
  return *dictionary;
}

struct Framer::Zlib {
  z_stream deflate = {};
  z_stream inflate = {};
  bool deflate_ok = false;
  bool inflate_ok = false;
};

Framer::Framer() : zlib_(std::make_unique<Zlib>()) {
  const auto& dict = HeaderDictionary();
  zlib_->deflate_ok = deflateInit(&zlib_->deflate, Z_DEFAULT_COMPRESSION) == Z_OK &&
                      deflateSetDictionary(&zlib_->deflate, reinterpret_cast<const Bytef*>(dict.data()),
                                           static_cast<uInt>(dict.size())) == Z_OK;
  zlib_->inflate_ok = inflateInit(&zlib_->inflate) == Z_OK;
}

Framer::~Framer() {
  deflateEnd(&zlib_->deflate);
  inflateEnd(&zlib_->inflate);
}

std::string Framer::CompressHeaders(const Headers& headers) {
  std::string plain;
  PutU32(plain, static_cast<uint32_t>(headers.size()));
  for (const auto& [name, value] : headers) {
    PutU32(plain, static_cast<uint32_t>(name.size()));
    plain.append(name);
    PutU32(plain, static_cast<uint32_t>(value.size()));
    plain.append(value);
  }
  std::string out;
  if (!zlib_->deflate_ok) return out;
  z_stream& z = zlib_->deflate;
  z.next_in = reinterpret_cast<Bytef*>(plain.data());
  z.avail_in = static_cast<uInt>(plain.size());
  char buf[4096];
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    deflate(&z, Z_SYNC_FLUSH);
    out.append(buf, sizeof(buf) - z.avail_out);
  } while (z.avail_out == 0);
  return out;
}

absl::StatusOr<Headers> Framer::DecompressHeaders(std::string_view block) {
  if (!zlib_->inflate_ok) return absl::InternalError("spdy: zlib failed to start");
  z_stream& z = zlib_->inflate;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(block.data()));
  z.avail_in = static_cast<uInt>(block.size());
  std::string plain;
  char buf[4096];
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    int rc = inflate(&z, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      const auto& dict = HeaderDictionary();
      if (inflateSetDictionary(&z, reinterpret_cast<const Bytef*>(dict.data()), static_cast<uInt>(dict.size())) !=
          Z_OK) {
        return absl::InvalidArgumentError("spdy: the header block wants a dictionary other than SPDY/3's");
      }
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) return absl::InvalidArgumentError("spdy: a header block does not inflate");
    size_t produced = sizeof(buf) - z.avail_out;
    plain.append(buf, produced);
    if (plain.size() > kMaxHeaderBlock) return absl::InvalidArgumentError("spdy: a header block is over 1 MiB");
    if (z.avail_in == 0 && z.avail_out != 0) break;  // all input taken, all output out
    if (rc == Z_BUF_ERROR && produced == 0) break;   // no progress possible
  }
  Headers headers;
  auto bad = [] { return absl::InvalidArgumentError("spdy: a header block is cut short"); };
  if (plain.size() < 4) return bad();
  uint32_t count = GetU32(plain, 0);
  size_t at = 4;
  auto take = [&](std::string& out) {
    if (plain.size() - at < 4) return false;
    uint32_t len = GetU32(plain, at);
    at += 4;
    if (plain.size() - at < len) return false;
    out.assign(plain, at, len);
    at += len;
    return true;
  };
  for (uint32_t i = 0; i < count; ++i) {
    std::string name, value;
    if (!take(name) || !take(value)) return bad();
    headers.emplace_back(std::move(name), std::move(value));
  }
  return headers;
}

absl::StatusOr<Frame> Framer::Read(ByteStream& in) {
  char head[8];
  if (auto st = in.ReadExact(head, sizeof(head)); !st.ok()) return st;
  std::string_view h(head, sizeof(head));
  Frame frame;
  frame.flags = static_cast<uint8_t>(head[4]);
  uint32_t length = GetU32(h, 4) & 0xffffff;
  std::string payload(length, '\0');
  if (length > 0) {
    if (auto st = in.ReadExact(payload.data(), length); !st.ok()) {
      return absl::DataLossError("spdy: the connection ended inside a frame");
    }
  }
  if ((static_cast<unsigned char>(head[0]) & 0x80) == 0) {
    frame.stream_id = GetU32(h, 0) & 0x7fffffff;
    frame.data = std::move(payload);
    return frame;
  }
  frame.control = true;
  uint16_t version = static_cast<uint16_t>(((static_cast<unsigned char>(head[0]) & 0x7f) << 8) |
                                           static_cast<unsigned char>(head[1]));
  if (version != kVersion) return absl::InvalidArgumentError(absl::StrCat("spdy: version ", version, ", want 3"));
  frame.type = static_cast<ControlType>((static_cast<unsigned char>(head[2]) << 8) | static_cast<unsigned char>(head[3]));
  auto need = [&](size_t n) -> absl::Status {
    if (payload.size() < n) return absl::InvalidArgumentError("spdy: a control frame is too short");
    return absl::OkStatus();
  };
  switch (frame.type) {
    case ControlType::kSynStream: {
      if (auto st = need(10); !st.ok()) return st;
      frame.stream_id = GetU32(payload, 0) & 0x7fffffff;
      auto headers = DecompressHeaders(std::string_view(payload).substr(10));
      if (!headers.ok()) return headers.status();
      frame.headers = std::move(*headers);
      break;
    }
    case ControlType::kSynReply:
    case ControlType::kHeaders: {
      if (auto st = need(4); !st.ok()) return st;
      frame.stream_id = GetU32(payload, 0) & 0x7fffffff;
      auto headers = DecompressHeaders(std::string_view(payload).substr(4));
      if (!headers.ok()) return headers.status();
      frame.headers = std::move(*headers);
      break;
    }
    case ControlType::kRstStream:
    case ControlType::kGoAway:
      if (auto st = need(8); !st.ok()) return st;
      frame.stream_id = GetU32(payload, 0) & 0x7fffffff;
      frame.status = GetU32(payload, 4);
      break;
    case ControlType::kPing:
      if (auto st = need(4); !st.ok()) return st;
      frame.ping_id = GetU32(payload, 0);
      break;
    case ControlType::kWindowUpdate:
      if (auto st = need(8); !st.ok()) return st;
      frame.stream_id = GetU32(payload, 0) & 0x7fffffff;
      break;
    default:  // SETTINGS, and types this side does not use: read past
      break;
  }
  return frame;
}

std::string Framer::Data(uint32_t stream_id, std::string_view data, bool fin) {
  std::string out;
  PutU32(out, stream_id & 0x7fffffff);
  PutU32(out, static_cast<uint32_t>(data.size()));
  out[4] = static_cast<char>(fin ? kFlagFin : 0);
  out.append(data);
  return out;
}

std::string Framer::SynStream(uint32_t stream_id, const Headers& headers, bool fin) {
  std::string block = CompressHeaders(headers);
  std::string out = ControlHeader(ControlType::kSynStream, fin ? kFlagFin : 0, 10 + block.size());
  PutU32(out, stream_id);
  PutU32(out, 0);  // associated stream
  out.push_back(0);  // priority
  out.push_back(0);  // slot
  return out + block;
}

std::string Framer::SynReply(uint32_t stream_id, const Headers& headers, bool fin) {
  std::string block = CompressHeaders(headers);
  std::string out = ControlHeader(ControlType::kSynReply, fin ? kFlagFin : 0, 4 + block.size());
  PutU32(out, stream_id);
  return out + block;
}

std::string Framer::RstStream(uint32_t stream_id, uint32_t status) {
  std::string out = ControlHeader(ControlType::kRstStream, 0, 8);
  PutU32(out, stream_id);
  PutU32(out, status);
  return out;
}

std::string Framer::Ping(uint32_t id) {
  std::string out = ControlHeader(ControlType::kPing, 0, 4);
  PutU32(out, id);
  return out;
}

std::string Framer::GoAway(uint32_t last_good_stream_id, uint32_t status) {
  std::string out = ControlHeader(ControlType::kGoAway, 0, 8);
  PutU32(out, last_good_stream_id);
  PutU32(out, status);
  return out;
}

}  // namespace berth::agent::cri::streaming::spdy
