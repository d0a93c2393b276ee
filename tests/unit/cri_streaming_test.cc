// The CRI streaming server's wire pieces without a server: SPDY/3.1 frames and header
// compression (checked against frames client-go's framer wrote), WebSocket keys and the
// channel framing, the resize channel, and the single-use, one-minute URL tokens.
#include <sys/socket.h>
#include <zlib.h>

#include <string>
#include <thread>

#include "absl/strings/escaping.h"
#include "agent/cri/streaming/byte_stream.h"
#include "agent/cri/streaming/remote_command.h"
#include "agent/cri/streaming/resize_decoder.h"
#include "agent/cri/streaming/spdy_framer.h"
#include "agent/cri/streaming/spdy_session.h"
#include "agent/cri/streaming/stream_tokens.h"
#include "agent/cri/streaming/websocket.h"
#include "agent/cri/streaming/websocket_channels.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/base/unique_fd.h"

namespace berth::agent::cri::streaming {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

// Two SYN_STREAMs (ids 1 and 3, streamType error and stdout) as moby/spdystream's framer
// wrote them, sharing one compression context: what crictl sends first on an exec.
constexpr char kGoSynStreams[] =
    "80030001000000290000000100000000000078f9e3c6a7c26260606004a7b392a2d4c45c6851c29a0a0a6800000000ffff"
    "800300010000001900000003000000000000c22ac5565c92925f5a02000000ffff";

struct SocketPair {
  SocketPair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    a.Reset(fds[0]);
    b.Reset(fds[1]);
  }
  UniqueFd a, b;
};

TEST(SpdyFramerTest, DictionaryIsSpdy3s) {
  const std::string& d = spdy::HeaderDictionary();
  EXPECT_EQ(d.size(), 1423u);
  // The checksum a zlib stream names its preset dictionary by.
  EXPECT_EQ(adler32(1, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size())), 0xe3c6a7c2u);
}

TEST(SpdyFramerTest, ReadsFramesTheGoClientWrote) {
  ByteStream in(-1, absl::HexStringToBytes(kGoSynStreams));
  spdy::Framer framer;
  auto first = framer.Read(in);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->control);
  EXPECT_EQ(first->type, spdy::ControlType::kSynStream);
  EXPECT_EQ(first->stream_id, 1u);
  EXPECT_THAT(first->headers, ElementsAre(Pair("streamtype", "error")));
  auto second = framer.Read(in);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->stream_id, 3u);
  EXPECT_THAT(second->headers, ElementsAre(Pair("streamtype", "stdout")));
}

TEST(SpdyFramerTest, RoundTripsEveryFrameItWrites) {
  SocketPair pair;
  ByteStream out(pair.a.get(), ""), in(pair.b.get(), "");
  spdy::Framer writer, reader;
  std::string big(100000, 'x');
  // One statement each: header blocks share a compression context, so order matters.
  std::string wire = writer.SynStream(5, {{"streamtype", "data"}, {"port", "8080"}}, false);
  wire += writer.SynReply(5, {{"a", "b"}}, true);
  wire += writer.Data(5, "hello", true);
  wire += writer.Data(7, big, false);
  wire += writer.RstStream(5, spdy::kRstCancel);
  wire += writer.Ping(9);
  wire += writer.GoAway(5, 0);
  std::thread send([&] { ASSERT_TRUE(out.Write(wire).ok()); });
  auto f = reader.Read(in);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_THAT(f->headers, ElementsAre(Pair("streamtype", "data"), Pair("port", "8080")));
  f = reader.Read(in);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->type, spdy::ControlType::kSynReply);
  EXPECT_TRUE(f->fin());
  EXPECT_THAT(f->headers, ElementsAre(Pair("a", "b")));
  f = reader.Read(in);
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->control);
  EXPECT_EQ(f->data, "hello");
  EXPECT_TRUE(f->fin());
  f = reader.Read(in);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->stream_id, 7u);
  EXPECT_EQ(f->data, big);
  EXPECT_FALSE(f->fin());
  f = reader.Read(in);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->type, spdy::ControlType::kRstStream);
  EXPECT_EQ(f->status, spdy::kRstCancel);
  f = reader.Read(in);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->ping_id, 9u);
  f = reader.Read(in);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->type, spdy::ControlType::kGoAway);
  send.join();
  pair.a.Reset();
  EXPECT_TRUE(absl::IsOutOfRange(reader.Read(in).status()));
}

TEST(SpdyFramerTest, RefusesOtherVersionsAndCutFrames) {
  ByteStream v2(-1, std::string("\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01", 12));
  spdy::Framer framer;
  EXPECT_TRUE(absl::IsInvalidArgument(framer.Read(v2).status()));
  SocketPair pair;
  ByteStream cut(pair.b.get(), std::string("\x00\x00\x00\x01\x00\x00\x00\x09hi", 10));
  pair.a.Reset();
  EXPECT_TRUE(absl::IsDataLoss(framer.Read(cut).status()));
}

TEST(SpdySessionTest, AcceptsStreamsAnswersPingsAndHandsOverData) {
  SocketPair pair;
  ByteStream server_end(pair.a.get(), ""), client_end(pair.b.get(), "");
  std::vector<std::string> seen;
  spdy::Session server(server_end, {[&](uint32_t id, const spdy::Headers& h) {
                                      seen.push_back(spdy::HeaderValue(h, "streamtype"));
                                      return seen.back() != "bogus";
                                    },
                                    [&](uint32_t id, std::string_view data, bool fin) {
                                      seen.push_back(std::string(data) + (fin ? "|fin" : ""));
                                    },
                                    nullptr});
  std::thread serve([&] { EXPECT_TRUE(absl::IsOutOfRange(server.Serve())); });
  spdy::Session client(client_end, {}, /*client=*/true);
  auto id = client.Open({{"streamtype", "stdin"}});
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, 1u);
  auto refused = client.Open({{"streamtype", "bogus"}});
  ASSERT_TRUE(client.Write(*id, "abc", true).ok());
  spdy::Framer reader;
  // The client sees its streams answered (reply, refusal) in order; then a ping comes back.
  auto reply = reader.Read(client_end);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->type, spdy::ControlType::kSynReply);
  EXPECT_EQ(reply->stream_id, 1u);
  auto reset = reader.Read(client_end);
  ASSERT_TRUE(reset.ok());
  EXPECT_EQ(reset->type, spdy::ControlType::kRstStream);
  EXPECT_EQ(reset->stream_id, *refused);
  ASSERT_TRUE(client_end.Write(spdy::Framer().Ping(77)).ok());
  auto pong = reader.Read(client_end);
  ASSERT_TRUE(pong.ok());
  EXPECT_EQ(pong->ping_id, 77u);
  ASSERT_TRUE(client.GoAway().ok());
  serve.join();
  EXPECT_THAT(seen, ElementsAre("stdin", "bogus", "abc|fin"));
}

TEST(WebSocketTest, AcceptKeyIsRfc6455s) {
  EXPECT_EQ(ws::AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketTest, MaskedFragmentsArriveWholeAndPingsAreAnswered) {
  SocketPair pair;
  ByteStream server_end(pair.a.get(), ""), client_end(pair.b.get(), "");
  ws::WebSocket server(server_end, false), client(client_end, true);
  std::string big(70000, 'y');
  ASSERT_TRUE(client.Send(ws::kPing, "p").ok());
  ASSERT_TRUE(client.Send(ws::kBinary, big).ok());
  // A text message in two fragments, written by hand: masked, FIN on the second.
  std::string frag1 = {'\x01', static_cast<char>(0x80 | 2), 0, 0, 0, 0, 'a', 'b'};
  std::string frag2 = {static_cast<char>(0x80), static_cast<char>(0x80 | 1), 1, 1, 1, 1, static_cast<char>('c' ^ 1)};
  ASSERT_TRUE(client_end.Write(frag1 + frag2).ok());
  auto m = server.Read();
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->opcode, ws::kBinary);
  EXPECT_EQ(m->data, big);
  m = server.Read();
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->opcode, ws::kText);
  EXPECT_EQ(m->data, "abc");
  ASSERT_TRUE(server.Close(1000).ok());
  // The client reads the pong first (skipped by Read), then the close.
  auto closing = client.Read();
  ASSERT_TRUE(closing.ok());
  EXPECT_EQ(closing->opcode, ws::kClose);
}

TEST(WebSocketTest, ChannelFramingBinaryAndBase64) {
  std::string bin = ws::EncodeChannelMessage(true, 1, "out");
  EXPECT_EQ(bin, std::string("\x01out", 4));
  auto back = ws::DecodeChannelMessage(true, {ws::kBinary, bin});
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->channel, 1);
  EXPECT_EQ(back->data, "out");
  std::string text = ws::EncodeChannelMessage(false, 2, "hello!?");
  EXPECT_EQ(text, "2aGVsbG8hPw==");
  back = ws::DecodeChannelMessage(false, {ws::kText, text});
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->channel, 2);
  EXPECT_EQ(back->data, "hello!?");
  EXPECT_FALSE(ws::DecodeChannelMessage(false, {ws::kText, "x123"}).has_value());
  EXPECT_FALSE(ws::DecodeChannelMessage(true, {ws::kText, "\x01" "a"}).has_value());
}

TEST(ResizeDecoderTest, SizesSplitAcrossWritesAndJunkSkipped) {
  std::vector<std::pair<int, int>> sizes;
  ResizeDecoder decoder([&](uint16_t w, uint16_t h) { sizes.emplace_back(w, h); });
  decoder.Feed("{\"Width\":80,\"Hei");
  decoder.Feed("ght\":24}\n{\"Width\":0,\"Height\":5}\n{\"x\":1}{\"Width\":132,\"Height\":43}\n");
  EXPECT_THAT(sizes, ElementsAre(Pair(80, 24), Pair(132, 43)));
}

TEST(RemoteCommandStatusTest, ExitCodesAsClientGoReadsThem) {
  auto success = nlohmann::json::parse(ExitCodeStatus(0));
  EXPECT_EQ(success["status"], "Success");
  auto failed = nlohmann::json::parse(ExitCodeStatus(3));
  EXPECT_EQ(failed["status"], "Failure");
  EXPECT_EQ(failed["reason"], "NonZeroExitCode");
  EXPECT_EQ(failed["details"]["causes"][0]["reason"], "ExitCode");
  EXPECT_EQ(failed["details"]["causes"][0]["message"], "3");
  EXPECT_EQ(nlohmann::json::parse(FailureStatus("boom"))["message"], "boom");
}

TEST(TokenCacheTest, SingleUseAndExpiring) {
  absl::Time now = absl::UnixEpoch();
  TokenCache tokens(absl::Minutes(1), 2, [&] { return now; });
  StreamRequest exec;
  exec.command.container_id = "c1";
  auto a = tokens.Insert(exec);
  auto b = tokens.Insert(exec);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_EQ(a->size(), 32u);
  EXPECT_TRUE(absl::IsResourceExhausted(tokens.Insert(exec).status()));
  auto taken = tokens.Take(*a);
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->command.container_id, "c1");
  EXPECT_FALSE(tokens.Take(*a).has_value());  // spent
  now += absl::Seconds(61);
  EXPECT_FALSE(tokens.Take(*b).has_value());  // expired
  EXPECT_TRUE(tokens.Insert(exec).ok());      // room again
  EXPECT_FALSE(tokens.Take("not-a-token").has_value());
}

}  // namespace
}  // namespace berth::agent::cri::streaming
