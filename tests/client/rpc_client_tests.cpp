// The typed RPC client's blocks and transactions (client/rpc_client.h):
// read from what the node's own method table answers, and refused, naming
// the method and the field, when the answer is altered in any of the ways
// a lying or broken node could alter it.
#define BOOST_TEST_MODULE rpc_client_tests
#include <boost/test/unit_test.hpp>

#include <functional>
#include <optional>
#include <string>

#include <rapidjson/document.h>

#include "client/rpc_client.h"
#include "rpc/jsonrpc.h"
#include "rpc/methods.h"
#include "tests/chain_support.h"
#include "tests/rpc/empty_node.h"

using namespace verity;
using verity::client::read_block;
using verity::client::read_tx;

namespace {

// A node holding one block (height 5, two transfers, its certificate), and
// the first transfer committed with a receipt.
struct OneBlockNode : rpc::EmptyNode {
  testing::TestNet net = testing::make_test_net(3);
  Block block;
  CommitCertificate cert;
  Receipt receipt;

  OneBlockNode() {
    const std::string chain = net.genesis.chain_id;
    Block prev;
    prev.header.chain_id = chain;
    prev.header.height = 4;
    block.header.chain_id = chain;
    block.header.height = 5;
    block.header.view = 1;
    block.header.prev_hash = prev.hash();
    block.header.proposer = net.validators[1].public_key();
    block.header.timestamp_ms = 1767225600000ull;
    block.transactions = {testing::make_transfer(chain, net.users[0], 0, net.users[1].public_key(), 10),
                          testing::make_transfer(chain, net.users[1], 0, net.users[2].public_key(), 20)};
    block.last_commit = testing::certify(prev, net.validators);
    block.header.tx_root = transactions_root(block.transactions);
    block.header.last_commit_hash = block.last_commit.hash();
    cert = testing::certify(block, net.validators);
    receipt.tx_id = block.transactions[0].id();
    receipt.height = 5;
    receipt.index = 0;
    receipt.ok = true;
    receipt.fee_paid = Amount(1);
    receipt.events.push_back(Event{"transfer", {{"from", "a"}, {"to", "b"}}});
  }
  Result<std::optional<Block>> block_at(std::uint64_t h) const override {
    return h == 5 ? std::optional<Block>(block) : std::optional<Block>();
  }
  Result<std::optional<CommitCertificate>> certificate_at(std::uint64_t h) const override {
    return h == 5 ? std::optional<CommitCertificate>(cert) : std::optional<CommitCertificate>();
  }
  Result<std::optional<rpc::TxLookup>> transaction(const Hash256& id) const override {
    for (std::size_t i = 0; i < block.transactions.size(); ++i)
      if (block.transactions[i].id() == id)
        return std::optional<rpc::TxLookup>(
            rpc::TxLookup{block.transactions[i], i == 0 ? std::optional<Receipt>(receipt) : std::nullopt});
    return std::optional<rpc::TxLookup>();
  }
};

// The node's answer to `method` with `params`, through the real method table.
rapidjson::Document answer(const rpc::NodeApi& node, const std::string& method, const std::string& params) {
  rpc::Dispatcher dispatcher(rpc::node_methods(), 10);
  rpc::CallContext ctx{const_cast<rpc::NodeApi&>(node), nullptr, nullptr};
  std::string out;
  dispatcher.handle(R"({"jsonrpc":"2.0","id":1,"method":")" + method + R"(","params":)" + params + "}", ctx,
                    [&](std::string a) { out = std::move(a); });
  rapidjson::Document d;
  d.Parse(out.data(), out.size());
  BOOST_REQUIRE_MESSAGE(d.IsObject() && d.HasMember("result"), "no result: " << out);
  rapidjson::Document result;
  result.CopyFrom(d["result"], result.GetAllocator());
  return result;
}

// The answer, altered by `change`, must be refused with a detail naming `expect`.
void refused(const rapidjson::Document& good, const std::function<void(rapidjson::Document&)>& change,
             const std::function<Status(const rapidjson::Value&)>& read, const std::string& expect) {
  rapidjson::Document bad;
  bad.CopyFrom(good, bad.GetAllocator());
  change(bad);
  auto r = read(bad);
  BOOST_REQUIRE_MESSAGE(!r, "an altered answer was taken; expected: " << expect);
  BOOST_TEST(r.error().reason == "rpc-bad-response");
  BOOST_TEST(r.error().detail.find(expect) != std::string::npos, r.error().detail);
}

Status block_reader(const rapidjson::Value& v) {
  auto b = read_block(v, 5);
  if (!b) return b.error();
  return {};
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_block_is_read_as_the_node_wrote_it) {
  OneBlockNode node;
  auto a = answer(node, "block", R"({"height":5})");
  auto b = read_block(a, 5);
  BOOST_REQUIRE_MESSAGE(b, (b ? std::string() : b.error().to_string()));
  BOOST_TEST(b->height == 5u);
  BOOST_TEST((b->hash == node.block.hash()));
  BOOST_TEST((b->header == node.block.header));
  BOOST_REQUIRE(b->txs.size() == 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    BOOST_TEST((b->txs[i].tx == node.block.transactions[i]));
    BOOST_TEST((b->txs[i].hash == node.block.transactions[i].id()));
  }
  BOOST_TEST((b->last_commit == node.block.last_commit));
  BOOST_REQUIRE(b->certificate.has_value());
  BOOST_TEST((*b->certificate == node.cert));
}

BOOST_AUTO_TEST_CASE(an_altered_block_answer_is_refused_naming_what_is_wrong) {
  OneBlockNode node;
  const auto good = answer(node, "block", R"({"height":5})");
  using D = rapidjson::Document;
  refused(good, [](D& d) { d["header"]["view"].SetUint64(2); }, block_reader, "`hash` is not the hash of `header`");
  refused(good, [](D& d) { d["txs"][0]["nonce"].SetUint64(7); }, block_reader, "`txs[0].hash` is not the id");
  refused(good, [](D& d) { d["txs"].Erase(d["txs"].Begin()); }, block_reader,
          "`txs` are not the transactions the header commits to");
  refused(good, [](D& d) { d["txs"][1]["payload"]["amount"].SetString("x"); }, block_reader, "`txs[1]` is not a transaction");
  refused(good, [](D& d) { d["last_commit"]["view"].SetUint64(9); }, block_reader,
          "`last_commit` is not the certificate the header commits to");
  refused(good, [](D& d) { d["certificate"]["height"].SetUint64(4); }, block_reader, "`certificate` is for another block");
  refused(good, [](D& d) { d.RemoveMember("header"); }, block_reader, "`header` is missing");
  refused(good, [](D& d) { d["header"]["proposer"].SetString("zz"); }, block_reader, "`header.proposer` is not 64 hex digits");
  refused(good, [](D& d) { d["height"].SetUint64(6); }, block_reader, "`height` is not the header's");
  // The right block, but not the one asked for.
  auto other = read_block(good, 4);
  BOOST_REQUIRE(!other);
  BOOST_TEST(other.error().detail.find("not the one asked for") != std::string::npos, other.error().detail);
  // A certificate may be null (the tip's is not known yet).
  rapidjson::Document tip;
  tip.CopyFrom(good, tip.GetAllocator());
  tip["certificate"].SetNull();
  auto t = read_block(tip, 5);
  BOOST_REQUIRE_MESSAGE(t, (t ? std::string() : t.error().to_string()));
  BOOST_TEST(!t->certificate.has_value());
}

BOOST_AUTO_TEST_CASE(a_transaction_is_read_with_its_receipt_and_checked) {
  OneBlockNode node;
  const Hash256 id = node.block.transactions[0].id();
  const auto good = answer(node, "tx", R"({"hash":")" + id.hex() + R"("})");
  auto t = read_tx(good, id);
  BOOST_REQUIRE_MESSAGE(t, (t ? std::string() : t.error().to_string()));
  BOOST_TEST(t->status == "committed");
  BOOST_TEST((t->tx == node.block.transactions[0]));
  BOOST_REQUIRE(t->receipt.has_value());
  BOOST_TEST(t->receipt->height == 5u);
  BOOST_TEST((t->receipt->fee_paid == Amount(1)));
  BOOST_REQUIRE(t->receipt->events.size() == 1u);
  BOOST_TEST((t->receipt->events[0] == node.receipt.events[0]));  // attributes in the node's order

  // Pending: no receipt.
  const Hash256 id2 = node.block.transactions[1].id();
  auto pending = read_tx(answer(node, "tx", R"({"hash":")" + id2.hex() + R"("})"), id2);
  BOOST_REQUIRE_MESSAGE(pending, (pending ? std::string() : pending.error().to_string()));
  BOOST_TEST(pending->status == "pending");
  BOOST_TEST(!pending->receipt.has_value());

  auto reader = [&](const rapidjson::Value& v) -> Status {
    auto r = read_tx(v, id);
    if (!r) return r.error();
    return {};
  };
  using D = rapidjson::Document;
  refused(good, [](D& d) { d["tx"]["fee"].SetString("5"); }, reader, "`tx` has id");
  refused(good, [](D& d) { d["status"].SetString("pending"); }, reader, "a pending transaction has a receipt");
  refused(good, [](D& d) { d.RemoveMember("receipt"); }, reader, "a committed transaction has no receipt");
  refused(good, [](D& d) { d["receipt"]["events"][0]["attributes"]["to"].SetUint64(3); }, reader,
          "`receipt.events[0].attributes.to` is not a string");
  refused(good, [](D& d) { d["tx"].AddMember("extra", 1, d.GetAllocator()); }, reader, "`tx` is not a transaction");
  auto other = read_tx(good, id2);
  BOOST_REQUIRE(!other);
  BOOST_TEST(other.error().detail.find("not the one asked for") != std::string::npos, other.error().detail);
}
