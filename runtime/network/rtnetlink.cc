#include "runtime/network/rtnetlink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/network/netns.h"

namespace berth::net {

namespace {

// The kernel never builds a dump message batch larger than 32 KiB (it sizes them after the
// largest buffer recvmsg was given, capped there), so one buffer of that size never truncates.
constexpr size_t kReceiveBufferSize = 32768;
// Requests carry a few short attributes (names are at most 15 bytes); this is far more.
constexpr size_t kRequestBufferSize = 1024;

// A reply handler: called for every non-control message answering the request.
using ReplyFn = std::function<void(const nlmsghdr*)>;

// errno from the kernel as a status. ENODEV is how rtnetlink says "no such link"; the
// kernel's extended-ack text, when it sent one, says which attribute it disliked.
absl::Status NetlinkStatus(int err, absl::string_view what, absl::string_view kernel_message) {
  absl::Status status = err == ENODEV ? absl::NotFoundError(absl::StrCat(what, ": ", std::strerror(err)))
                                      : ErrnoStatus(err, what);
  if (kernel_message.empty()) return status;
  return absl::Status(status.code(), absl::StrCat(status.message(), " (kernel: ", kernel_message, ")"));
}

// Calls f(attr) for each attribute in [payload, payload + len).
template <typename F>
void ForEachAttr(const void* payload, size_t len, F f) {
  const char* begin = static_cast<const char*>(payload);
  const char* end = begin + len;
  for (auto* attr = reinterpret_cast<const nlattr*>(begin);
       mnl_attr_ok(attr, static_cast<int>(end - reinterpret_cast<const char*>(attr)));
       attr = mnl_attr_next(attr)) {
    f(attr);
  }
}

// The attributes following a fixed header of `header_size` bytes in a message.
template <typename F>
void ForEachMessageAttr(const nlmsghdr* nlh, size_t header_size, F f) {
  const char* payload = static_cast<const char*>(mnl_nlmsg_get_payload(nlh));
  const char* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
  size_t offset = MNL_ALIGN(header_size);
  if (payload + offset > tail) return;
  ForEachAttr(payload + offset, tail - payload - offset, f);
}

template <typename F>
void ForEachNestedAttr(const nlattr* nest, F f) {
  ForEachAttr(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), f);
}

bool IsU32(const nlattr* attr) { return mnl_attr_validate(attr, MNL_TYPE_U32) >= 0; }
bool IsString(const nlattr* attr) { return mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0; }

std::string FormatMac(const nlattr* attr) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* bytes = static_cast<const unsigned char*>(mnl_attr_get_payload(attr));
  std::string mac;
  for (uint16_t i = 0; i < mnl_attr_get_payload_len(attr); ++i) {
    if (i > 0) mac += ':';
    mac += kHex[bytes[i] >> 4];
    mac += kHex[bytes[i] & 0xf];
  }
  return mac;
}

absl::Status ParseMac(const std::string& text, unsigned char out[6]) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("invalid MAC address \"", text, "\": ", why));
  };
  if (text.size() != 17) return invalid("expected six hex bytes separated by colons, like 02:42:0a:58:00:02");
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (int i = 0; i < 6; ++i) {
    int hi = nibble(text[i * 3]);
    int lo = nibble(text[i * 3 + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':')) {
      return invalid("expected six hex bytes separated by colons, like 02:42:0a:58:00:02");
    }
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  if (out[0] & 1) return invalid("a multicast address cannot name an interface");
  bool all_zero = true;
  for (int i = 0; i < 6; ++i) all_zero = all_zero && out[i] == 0;
  if (all_zero) return invalid("all zeros");
  return absl::OkStatus();
}

// The kernel's dev_valid_name, checked here so the error says what is wrong with the name.
absl::Status ValidateLinkName(const std::string& name) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("invalid interface name \"", name, "\": ", why));
  };
  if (name.empty()) return invalid("empty");
  if (name.size() >= IFNAMSIZ) return invalid(absl::StrCat("longer than ", IFNAMSIZ - 1, " characters"));
  if (name == "." || name == "..") return invalid("reserved");
  for (char c : name) {
    if (c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c))) {
      return invalid("contains '/', ':' or whitespace");
    }
  }
  return absl::OkStatus();
}

// A netlink request under construction, in a buffer of its own.
class Message {
 public:
  Message(uint16_t type, uint16_t flags) {
    nlh_ = mnl_nlmsg_put_header(buffer_);
    nlh_->nlmsg_type = type;
    nlh_->nlmsg_flags = NLM_F_REQUEST | flags;
  }
  template <typename T>
  T* PutHeader() {
    return static_cast<T*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(T)));
  }
  nlmsghdr* nlh() { return nlh_; }

 private:
  alignas(nlmsghdr) char buffer_[kRequestBufferSize];
  nlmsghdr* nlh_;
};

// One link request: an ifinfomsg naming the link by IFLA_IFNAME (index 0), as
// RTM_NEWLINK/RTM_SETLINK/RTM_DELLINK/RTM_GETLINK all accept.
Message LinkMessage(uint16_t type, uint16_t flags, const std::string& name, ifinfomsg** ifi_out = nullptr) {
  Message msg(type, flags);
  auto* ifi = msg.PutHeader<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(msg.nlh(), IFLA_IFNAME, name.c_str());
  if (ifi_out != nullptr) *ifi_out = ifi;
  return msg;
}

// Sends `nlh` (its seq already set) and reads replies until the request is finished: the ack
// (or error) for a plain request, NLMSG_DONE for a dump. Messages from earlier requests that
// were abandoned half-read are recognised by their sequence number and dropped.
absl::Status Transact(int fd, uint32_t port_id, nlmsghdr* nlh, absl::string_view what,
                      const ReplyFn* on_reply, bool* dump_interrupted = nullptr) {
  const uint32_t seq = nlh->nlmsg_seq;
  const bool dump = (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do {
    sent = ::sendto(fd, nlh, nlh->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel));
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return ErrnoToStatus(absl::StrCat(what, ": netlink send"));

  std::unique_ptr<char[]> buffer(new char[kReceiveBufferSize]);
  for (;;) {
    iovec iov{buffer.get(), kReceiveBufferSize};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n;
    do {
      n = ::recvmsg(fd, &msg, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return ErrnoToStatus(absl::StrCat(what, ": netlink receive"));
    if (msg.msg_flags & MSG_TRUNC)
      return absl::InternalError(absl::StrCat(what, ": netlink reply truncated"));

    int len = static_cast<int>(n);
    for (auto* m = reinterpret_cast<const nlmsghdr*>(buffer.get()); mnl_nlmsg_ok(m, len);
         m = mnl_nlmsg_next(m, &len)) {
      if (m->nlmsg_seq != seq || m->nlmsg_pid != port_id) continue;  // a leftover of an earlier request
      if ((m->nlmsg_flags & NLM_F_DUMP_INTR) && dump_interrupted != nullptr) *dump_interrupted = true;
      if (m->nlmsg_type == NLMSG_ERROR) {
        if (m->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) {
          return absl::InternalError(absl::StrCat(what, ": short netlink error message"));
        }
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m));
        if (err->error == 0) return absl::OkStatus();  // the ack
        std::string kernel_message;
        if (m->nlmsg_flags & NLM_F_ACK_TLVS) {
          // The TLVs follow the echoed request, of which only the header is echoed when capped.
          size_t echoed = (m->nlmsg_flags & NLM_F_CAPPED) ? 0 : err->msg.nlmsg_len - sizeof(nlmsghdr);
          ForEachMessageAttr(m, sizeof(nlmsgerr) + echoed, [&](const nlattr* attr) {
            if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG && IsString(attr)) {
              kernel_message = mnl_attr_get_str(attr);
            }
          });
        }
        return NetlinkStatus(-err->error, what, kernel_message);
      }
      if (m->nlmsg_type == NLMSG_DONE) {
        // A dump that failed part-way reports its error as an int after the header.
        if (m->nlmsg_len >= mnl_nlmsg_size(sizeof(int))) {
          int error = *static_cast<const int*>(mnl_nlmsg_get_payload(m));
          if (error < 0) return NetlinkStatus(-error, what, "");
        }
        if (dump) return absl::OkStatus();
        continue;
      }
      if (m->nlmsg_type < NLMSG_MIN_TYPE) continue;  // NOOP, OVERRUN
      if (on_reply != nullptr) (*on_reply)(m);
    }
  }
}

LinkInfo ParseLink(const nlmsghdr* nlh) {
  LinkInfo link;
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ifinfomsg))) return link;
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  link.index = ifi->ifi_index;
  link.up = (ifi->ifi_flags & IFF_UP) != 0;
  ForEachMessageAttr(nlh, sizeof(ifinfomsg), [&](const nlattr* attr) {
    switch (mnl_attr_get_type(attr)) {
      case IFLA_IFNAME:
        if (IsString(attr)) link.name = mnl_attr_get_str(attr);
        break;
      case IFLA_MTU:
        if (IsU32(attr)) link.mtu = static_cast<int>(mnl_attr_get_u32(attr));
        break;
      case IFLA_MASTER:
        if (IsU32(attr)) link.master_index = static_cast<int>(mnl_attr_get_u32(attr));
        break;
      case IFLA_ADDRESS:
        link.mac = FormatMac(attr);
        break;
      case IFLA_STATS64:
        if (mnl_attr_get_payload_len(attr) >= sizeof(rtnl_link_stats64)) {
          rtnl_link_stats64 st;
          std::memcpy(&st, mnl_attr_get_payload(attr), sizeof(st));  // attributes are only 4-aligned
          link.counters = LinkCounters{st.rx_bytes, st.rx_packets, st.rx_errors, st.rx_dropped,
                                       st.tx_bytes, st.tx_packets, st.tx_errors, st.tx_dropped};
        }
        break;
      case IFLA_LINKINFO:
        ForEachNestedAttr(attr, [&](const nlattr* info) {
          if (mnl_attr_get_type(info) == IFLA_INFO_KIND && IsString(info)) link.kind = mnl_attr_get_str(info);
        });
        break;
      default:
        break;
    }
  });
  return link;
}

// Statistics make up most of a link message and nothing here reads them.
void SkipStats(nlmsghdr* nlh) { mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS); }

// A dump may come back marked inconsistent when the table changed while it was read; it
// is then read again (a few times: the tables here change rarely).
constexpr int kDumpAttempts = 4;

}  // namespace

absl::StatusOr<Rtnl> Rtnl::Open() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) return ErrnoToStatus("open rtnetlink socket");
  int one = 1;
  // Best effort: errors then carry the kernel's own explanation, and do not echo the request.
  (void)::setsockopt(fd.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
  (void)::setsockopt(fd.get(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    return ErrnoToStatus("bind rtnetlink socket");
  }
  socklen_t local_len = sizeof(local);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &local_len) != 0) {
    return ErrnoToStatus("getsockname on rtnetlink socket");
  }
  Rtnl rtnl(std::move(fd));
  rtnl.port_id_ = local.nl_pid;
  return rtnl;
}

absl::StatusOr<Rtnl> Rtnl::OpenIn(int netns_fd) {
  absl::StatusOr<Rtnl> rtnl = absl::InternalError("open rtnetlink socket in netns: not run");
  RETURN_IF_ERROR(Annotate(RunInNetns(netns_fd,
                                      [&] {
                                        rtnl = Open();
                                        return rtnl.status();
                                      }),
                           "open rtnetlink socket in another netns"));
  return rtnl;
}

absl::Status Rtnl::Request(void* nlh, const std::string& what) {
  auto* header = static_cast<nlmsghdr*>(nlh);
  header->nlmsg_flags |= NLM_F_ACK;
  header->nlmsg_seq = ++seq_;
  return Transact(fd_.get(), port_id_, header, what, nullptr);
}

absl::StatusOr<LinkInfo> Rtnl::GetLink(const std::string& name) {
  RETURN_IF_ERROR(ValidateLinkName(name));
  Message msg = LinkMessage(RTM_GETLINK, NLM_F_ACK, name);
  SkipStats(msg.nlh());
  msg.nlh()->nlmsg_seq = ++seq_;
  std::optional<LinkInfo> link;
  ReplyFn on_reply = [&](const nlmsghdr* m) {
    if (m->nlmsg_type == RTM_NEWLINK) link = ParseLink(m);
  };
  RETURN_IF_ERROR(Transact(fd_.get(), port_id_, msg.nlh(), absl::StrCat("get link ", name), &on_reply));
  if (!link.has_value()) return absl::InternalError(absl::StrCat("get link ", name, ": kernel sent no link"));
  return *std::move(link);
}

absl::StatusOr<std::vector<LinkInfo>> Rtnl::ListLinks(bool with_counters) {
  for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
    Message msg(RTM_GETLINK, NLM_F_DUMP);
    msg.PutHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
    if (!with_counters) SkipStats(msg.nlh());
    msg.nlh()->nlmsg_seq = ++seq_;
    std::vector<LinkInfo> links;
    ReplyFn on_reply = [&](const nlmsghdr* m) {
      if (m->nlmsg_type == RTM_NEWLINK) links.push_back(ParseLink(m));
    };
    bool interrupted = false;
    RETURN_IF_ERROR(Transact(fd_.get(), port_id_, msg.nlh(), "list links", &on_reply, &interrupted));
    if (!interrupted) return links;
  }
  return absl::UnavailableError("list links: the link table kept changing during the dump");
}

absl::Status Rtnl::CreateBridge(const std::string& name) {
  RETURN_IF_ERROR(ValidateLinkName(name));
  Message msg = LinkMessage(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, name);
  nlattr* linkinfo = mnl_attr_nest_start(msg.nlh(), IFLA_LINKINFO);
  mnl_attr_put_strz(msg.nlh(), IFLA_INFO_KIND, "bridge");
  mnl_attr_nest_end(msg.nlh(), linkinfo);
  return Request(msg.nlh(), absl::StrCat("create bridge ", name));
}

absl::Status Rtnl::CreateVethPair(const std::string& name, const std::string& peer_name, int peer_netns_fd,
                                  int mtu) {
  RETURN_IF_ERROR(ValidateLinkName(name));
  RETURN_IF_ERROR(ValidateLinkName(peer_name));
  if (mtu < 0) return absl::InvalidArgumentError(absl::StrCat("create veth ", name, ": negative mtu ", mtu));
  Message msg = LinkMessage(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, name);
  nlmsghdr* nlh = msg.nlh();
  if (mtu > 0) mnl_attr_put_u32(nlh, IFLA_MTU, static_cast<uint32_t>(mtu));
  nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  // VETH_INFO_PEER holds a whole link description: an ifinfomsg, then its attributes.
  nlattr* peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)))->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name.c_str());
  if (peer_netns_fd >= 0) mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, static_cast<uint32_t>(peer_netns_fd));
  if (mtu > 0) mnl_attr_put_u32(nlh, IFLA_MTU, static_cast<uint32_t>(mtu));
  mnl_attr_nest_end(nlh, peer);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, linkinfo);
  return Request(nlh, absl::StrCat("create veth ", name, " with peer ", peer_name));
}

absl::Status Rtnl::DeleteLink(const std::string& name) {
  RETURN_IF_ERROR(ValidateLinkName(name));
  Message msg = LinkMessage(RTM_DELLINK, 0, name);
  return Request(msg.nlh(), absl::StrCat("delete link ", name));
}

absl::Status Rtnl::SetUp(const std::string& name) {
  RETURN_IF_ERROR(ValidateLinkName(name));
  ifinfomsg* ifi = nullptr;
  Message msg = LinkMessage(RTM_SETLINK, 0, name, &ifi);
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  return Request(msg.nlh(), absl::StrCat("set link ", name, " up"));
}

absl::Status Rtnl::SetMaster(const std::string& name, const std::string& master) {
  RETURN_IF_ERROR(ValidateLinkName(name));
  int master_index = 0;  // an empty master: leave whatever bridge the link is on
  if (!master.empty()) {
    ASSIGN_OR_RETURN(LinkInfo master_link, GetLink(master));
    master_index = master_link.index;
  }
  Message msg = LinkMessage(RTM_SETLINK, 0, name);
  mnl_attr_put_u32(msg.nlh(), IFLA_MASTER, static_cast<uint32_t>(master_index));
  return Request(msg.nlh(), master.empty() ? absl::StrCat("detach link ", name, " from its master")
                                           : absl::StrCat("attach link ", name, " to ", master));
}

absl::Status Rtnl::SetHairpin(const std::string& port, bool on) {
  // Bridge port settings go to the bridge family (br_setlink), which finds the port by index.
  ASSIGN_OR_RETURN(LinkInfo link, GetLink(port));
  Message msg(RTM_SETLINK, 0);
  auto* ifi = msg.PutHeader<ifinfomsg>();
  ifi->ifi_family = AF_BRIDGE;
  ifi->ifi_index = link.index;
  nlattr* protinfo = mnl_attr_nest_start(msg.nlh(), IFLA_PROTINFO);
  mnl_attr_put_u8(msg.nlh(), IFLA_BRPORT_MODE, on ? 1 : 0);
  mnl_attr_nest_end(msg.nlh(), protinfo);
  return Request(msg.nlh(), absl::StrCat("set hairpin mode of ", port));
}

absl::Status Rtnl::Rename(const std::string& name, const std::string& new_name) {
  RETURN_IF_ERROR(ValidateLinkName(new_name));
  // By index: IFLA_IFNAME in this request is the new name.
  ASSIGN_OR_RETURN(LinkInfo link, GetLink(name));
  ifinfomsg* ifi = nullptr;
  Message msg = LinkMessage(RTM_SETLINK, 0, new_name, &ifi);
  ifi->ifi_index = link.index;
  return Request(msg.nlh(), absl::StrCat("rename link ", name, " to ", new_name));
}

absl::Status Rtnl::SetMac(const std::string& name, const std::string& mac) {
  RETURN_IF_ERROR(ValidateLinkName(name));
  unsigned char bytes[6];
  RETURN_IF_ERROR(Annotate(ParseMac(mac, bytes), absl::StrCat("set MAC of ", name)));
  Message msg = LinkMessage(RTM_SETLINK, 0, name);
  mnl_attr_put(msg.nlh(), IFLA_ADDRESS, sizeof(bytes), bytes);
  return Request(msg.nlh(), absl::StrCat("set MAC of ", name, " to ", mac));
}

absl::Status Rtnl::SetMtu(const std::string& name, int mtu) {
  RETURN_IF_ERROR(ValidateLinkName(name));
  if (mtu <= 0) return absl::InvalidArgumentError(absl::StrCat("set mtu of ", name, ": invalid mtu ", mtu));
  Message msg = LinkMessage(RTM_SETLINK, 0, name);
  mnl_attr_put_u32(msg.nlh(), IFLA_MTU, static_cast<uint32_t>(mtu));
  return Request(msg.nlh(), absl::StrCat("set mtu of ", name, " to ", mtu));
}

absl::Status Rtnl::AddAddress(const std::string& name, const Ipv4Prefix& address) {
  std::string what = absl::StrCat("add address ", address.ToString(), " to ", name);
  if (address.length < 0 || address.length > 32) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": prefix length out of range"));
  }
  absl::StatusOr<LinkInfo> link = GetLink(name);
  if (!link.ok()) return Annotate(link.status(), what);
  Message msg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifa = msg.PutHeader<ifaddrmsg>();
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = static_cast<unsigned char>(address.length);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<uint32_t>(link->index);
  mnl_attr_put_u32(msg.nlh(), IFA_LOCAL, address.address.NetworkOrder());
  mnl_attr_put_u32(msg.nlh(), IFA_ADDRESS, address.address.NetworkOrder());
  if (address.length < 31) mnl_attr_put_u32(msg.nlh(), IFA_BROADCAST, address.Broadcast().NetworkOrder());
  return Request(msg.nlh(), what);
}

absl::Status Rtnl::AddAddress6(const std::string& name, const Ipv6Prefix& address) {
  std::string what = absl::StrCat("add address ", address.ToString(), " to ", name);
  if (address.length < 0 || address.length > 128) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": prefix length out of range"));
  }
  absl::StatusOr<LinkInfo> link = GetLink(name);
  if (!link.ok()) return Annotate(link.status(), what);
  Message msg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifa = msg.PutHeader<ifaddrmsg>();
  ifa->ifa_family = AF_INET6;
  ifa->ifa_prefixlen = static_cast<unsigned char>(address.length);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_flags = IFA_F_NODAD;
  ifa->ifa_index = static_cast<uint32_t>(link->index);
  mnl_attr_put(msg.nlh(), IFA_LOCAL, address.address.bytes.size(), address.address.bytes.data());
  mnl_attr_put(msg.nlh(), IFA_ADDRESS, address.address.bytes.size(), address.address.bytes.data());
  mnl_attr_put_u32(msg.nlh(), IFA_FLAGS, IFA_F_NODAD);
  return Request(msg.nlh(), what);
}

absl::StatusOr<std::vector<Ipv4Prefix>> Rtnl::ListAddresses(const std::string& name) {
  ASSIGN_OR_RETURN(LinkInfo link, GetLink(name));
  for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
    Message msg(RTM_GETADDR, NLM_F_DUMP);
    msg.PutHeader<ifaddrmsg>()->ifa_family = AF_INET;
    msg.nlh()->nlmsg_seq = ++seq_;
    std::vector<Ipv4Prefix> addresses;
    // Without strict checking the kernel dumps every link's addresses; filter here.
    ReplyFn on_reply = [&](const nlmsghdr* m) {
      if (m->nlmsg_type != RTM_NEWADDR || m->nlmsg_len < mnl_nlmsg_size(sizeof(ifaddrmsg))) return;
      const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(m));
      if (ifa->ifa_family != AF_INET || static_cast<int>(ifa->ifa_index) != link.index) return;
      std::optional<uint32_t> local, peer;
      ForEachMessageAttr(m, sizeof(ifaddrmsg), [&](const nlattr* attr) {
        if (!IsU32(attr)) return;
        if (mnl_attr_get_type(attr) == IFA_LOCAL) local = mnl_attr_get_u32(attr);
        if (mnl_attr_get_type(attr) == IFA_ADDRESS) peer = mnl_attr_get_u32(attr);
      });
      std::optional<uint32_t> value = local.has_value() ? local : peer;
      if (value.has_value()) addresses.push_back(Ipv4Prefix{Ipv4Address{ntohl(*value)}, ifa->ifa_prefixlen});
    };
    bool interrupted = false;
    RETURN_IF_ERROR(Transact(fd_.get(), port_id_, msg.nlh(), absl::StrCat("list addresses of ", name),
                             &on_reply, &interrupted));
    if (!interrupted) return addresses;
  }
  return absl::UnavailableError(
      absl::StrCat("list addresses of ", name, ": the table kept changing during the dump"));
}

absl::Status Rtnl::AddRoute(const Ipv4Prefix& destination, Ipv4Address gateway, const std::string& dev) {
  std::string what = absl::StrCat("add route ", destination.ToString());
  if (!gateway.IsUnspecified()) absl::StrAppend(&what, " via ", gateway.ToString());
  absl::StrAppend(&what, " dev ", dev);
  if (destination.length < 0 || destination.length > 32) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": prefix length out of range"));
  }
  absl::StatusOr<LinkInfo> link = GetLink(dev);
  if (!link.ok()) return Annotate(link.status(), what);
  Message msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  auto* rtm = msg.PutHeader<rtmsg>();
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = static_cast<unsigned char>(destination.length);
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_BOOT;  // what `ip route add` uses for a route an admin made
  rtm->rtm_scope = gateway.IsUnspecified() ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  if (destination.length > 0)
    mnl_attr_put_u32(msg.nlh(), RTA_DST, destination.Network().address.NetworkOrder());
  if (!gateway.IsUnspecified()) mnl_attr_put_u32(msg.nlh(), RTA_GATEWAY, gateway.NetworkOrder());
  mnl_attr_put_u32(msg.nlh(), RTA_OIF, static_cast<uint32_t>(link->index));
  return Request(msg.nlh(), what);
}

absl::Status Rtnl::AddDefaultRoute6(const Ipv6Address& gateway, const std::string& dev) {
  std::string what = absl::StrCat("add route default via ", gateway.ToString(), " dev ", dev);
  absl::StatusOr<LinkInfo> link = GetLink(dev);
  if (!link.ok()) return Annotate(link.status(), what);
  Message msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  auto* rtm = msg.PutHeader<rtmsg>();
  rtm->rtm_family = AF_INET6;
  rtm->rtm_dst_len = 0;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  mnl_attr_put(msg.nlh(), RTA_GATEWAY, gateway.bytes.size(), gateway.bytes.data());
  mnl_attr_put_u32(msg.nlh(), RTA_OIF, static_cast<uint32_t>(link->index));
  return Request(msg.nlh(), what);
}

absl::StatusOr<std::vector<RouteInfo>> Rtnl::ListRoutes() {
  for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
    Message msg(RTM_GETROUTE, NLM_F_DUMP);
    msg.PutHeader<rtmsg>()->rtm_family = AF_INET;
    msg.nlh()->nlmsg_seq = ++seq_;
    std::vector<RouteInfo> routes;
    // Only the main table's unicast routes: the local table's per-address entries are the
    // kernel's business, not configuration.
    ReplyFn on_reply = [&](const nlmsghdr* m) {
      if (m->nlmsg_type != RTM_NEWROUTE || m->nlmsg_len < mnl_nlmsg_size(sizeof(rtmsg))) return;
      const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(m));
      if (rtm->rtm_family != AF_INET || rtm->rtm_type != RTN_UNICAST) return;
      uint32_t table = rtm->rtm_table;
      RouteInfo route;
      route.destination.length = rtm->rtm_dst_len;
      ForEachMessageAttr(m, sizeof(rtmsg), [&](const nlattr* attr) {
        if (!IsU32(attr)) return;
        switch (mnl_attr_get_type(attr)) {
          case RTA_TABLE:
            table = mnl_attr_get_u32(attr);
            break;
          case RTA_DST:
            route.destination.address.value = ntohl(mnl_attr_get_u32(attr));
            break;
          case RTA_GATEWAY:
            route.gateway.value = ntohl(mnl_attr_get_u32(attr));
            break;
          case RTA_OIF:
            route.oif_index = static_cast<int>(mnl_attr_get_u32(attr));
            break;
          default:
            break;
        }
      });
      if (table == RT_TABLE_MAIN) routes.push_back(route);
    };
    bool interrupted = false;
    RETURN_IF_ERROR(Transact(fd_.get(), port_id_, msg.nlh(), "list routes", &on_reply, &interrupted));
    if (!interrupted) return routes;
  }
  return absl::UnavailableError("list routes: the routing table kept changing during the dump");
}

absl::Status WriteSysctl(const std::string& key, const std::string& value, int netns_fd) {
  if (key.empty() || key.front() == '/' || key.find("..") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("invalid sysctl key \"", key, "\""));
  }
  const std::string path = absl::StrCat("/proc/sys/", key);
  auto write = [&]() -> absl::Status {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return ErrnoToStatus(absl::StrCat("open ", path));
    ssize_t n;
    do {
      n = ::write(fd.get(), value.data(), value.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) return ErrnoToStatus(absl::StrCat("write \"", value, "\" to ", path));
    if (static_cast<size_t>(n) != value.size()) {
      return absl::InternalError(absl::StrCat("write \"", value, "\" to ", path, ": short write"));
    }
    return absl::OkStatus();
  };
  if (netns_fd < 0) return write();
  return RunInNetns(netns_fd, write);
}

}  // namespace berth::net
