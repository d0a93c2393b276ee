// The resolver's wire format: questions parsed (case folded), answers built the way
// resolvers read them, and hostile packets refused without reading out of bounds.
#include "agent/dns_message.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace berth::agent::dns {
namespace {

std::vector<uint8_t> Query(uint16_t id, const std::vector<std::string>& labels, uint16_t type) {
  std::vector<uint8_t> q = {static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  for (const std::string& l : labels) {
    q.push_back(static_cast<uint8_t>(l.size()));
    q.insert(q.end(), l.begin(), l.end());
  }
  q.insert(q.end(), {0, static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type), 0, 1});
  return q;
}

TEST(DnsMessageTest, ParsesOneQuestionAndFoldsCase) {
  auto q = ParseQuery(Query(0x1234, {"Web", "Internal"}, kTypeA).data(), Query(0x1234, {"Web", "Internal"}, kTypeA).size());
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->id, 0x1234);
  EXPECT_EQ(q->name, "web.internal");
  EXPECT_EQ(q->type, kTypeA);
  EXPECT_TRUE(q->recursion_desired);
}

TEST(DnsMessageTest, AnswerCarriesTheRecordsAfterTheEchoedQuestion) {
  std::vector<uint8_t> packet = Query(7, {"web"}, kTypeA);
  auto q = ParseQuery(packet.data(), packet.size());
  ASSERT_TRUE(q.ok());
  std::vector<uint8_t> r = BuildResponse(*q, kRcodeNoError, {{10, 96, 0, 2}}, 10);
  ASSERT_EQ(r.size(), packet.size() + 16);
  EXPECT_EQ(r[0], 0);
  EXPECT_EQ(r[1], 7);
  EXPECT_EQ(r[2] & 0x80, 0x80);  // a response
  EXPECT_EQ(r[3] & 0x0f, 0);     // NOERROR
  EXPECT_EQ(r[7], 1);            // one answer
  EXPECT_EQ(std::vector<uint8_t>(r.end() - 4, r.end()), (std::vector<uint8_t>{10, 96, 0, 2}));
  std::vector<uint8_t> nx = BuildResponse(*q, kRcodeNxDomain, {{10, 96, 0, 2}}, 10);
  EXPECT_EQ(nx[3] & 0x0f, kRcodeNxDomain);
  EXPECT_EQ(nx[7], 0);  // no records with an error
}

TEST(DnsMessageTest, HostilePacketsAreRefused) {
  std::vector<uint8_t> good = Query(1, {"web"}, kTypeA);
  // Every truncation of a good query.
  for (size_t n = 0; n < good.size(); ++n) EXPECT_FALSE(ParseQuery(good.data(), n).ok()) << n;
  // A pointer to itself, a pointer forward, a pointer past the end, a reserved label type.
  for (std::vector<uint8_t> name : {std::vector<uint8_t>{0xc0, 12}, {0xc0, 40}, {0xc0}, {0x80, 1, 'a', 0}}) {
    std::vector<uint8_t> p(good.begin(), good.begin() + 12);
    p.insert(p.end(), name.begin(), name.end());
    p.insert(p.end(), {0, 1, 0, 1});
    EXPECT_FALSE(ParseQuery(p.data(), p.size()).ok());
  }
  // A response is not a query; two questions are not one.
  std::vector<uint8_t> response = good;
  response[2] |= 0x80;
  EXPECT_FALSE(ParseQuery(response.data(), response.size()).ok());
  std::vector<uint8_t> two = good;
  two[5] = 2;
  EXPECT_FALSE(ParseQuery(two.data(), two.size()).ok());
  // A name longer than 255 bytes.
  std::vector<std::string> labels(5, std::string(63, 'a'));
  std::vector<uint8_t> longname = Query(1, labels, kTypeA);
  EXPECT_FALSE(ParseQuery(longname.data(), longname.size()).ok());
}

TEST(DnsMessageTest, MessageIdsSwap) {
  std::vector<uint8_t> m = Query(0xabcd, {"x"}, kTypeA);
  EXPECT_EQ(MessageId(m.data(), m.size()), 0xabcd);
  SetMessageId(m, 0x0102);
  EXPECT_EQ(MessageId(m.data(), m.size()), 0x0102);
  EXPECT_FALSE(MessageId(m.data(), 5).has_value());
  EXPECT_FALSE(IsResponse(m.data(), m.size()));
}

}  // namespace
}  // namespace berth::agent::dns
