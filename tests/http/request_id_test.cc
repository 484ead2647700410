// Unit tests for http/request_id.h: which client ids are echoed, and generated ids' shape and
// uniqueness.
#include "http/request_id.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace pyexec::http {
namespace {

TEST(RequestId, SaneClientIds_AreKept) {
  const std::vector<std::string> ids = {"a", "abc-123", "A.b_C-9",
                                        std::string(kMaxRequestIdLength, 'x')};
  for (const std::string& id : ids) {
    EXPECT_TRUE(IsSaneRequestId(id)) << id;
    EXPECT_EQ(ChooseRequestId(id), id);
  }
}

TEST(RequestId, InsaneClientIds_AreReplaced) {
  const std::vector<std::string> ids = {std::string(),
                                        std::string(kMaxRequestIdLength + 1, 'x'),
                                        "a b",
                                        "a\r\nb",
                                        std::string("a\0b", 3),
                                        "caf\xc3\xa9",
                                        "{\"json\":1}",
                                        "a/b"};
  for (const std::string& id : ids) {
    EXPECT_FALSE(IsSaneRequestId(id)) << id;
    EXPECT_NE(ChooseRequestId(id), id);
  }
  EXPECT_TRUE(IsSaneRequestId(ChooseRequestId(std::nullopt)));
}

TEST(RequestId, GeneratedIds_AreSixteenHexDigitsAndUnique) {
  constexpr int kIds = 10000;
  std::set<std::string> ids;
  for (int i = 0; i < kIds; ++i) {
    const std::string id = NewRequestId();
    ASSERT_EQ(id.size(), 16U) << id;
    ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kIds));
}

}  // namespace
}  // namespace pyexec::http
