#include "hyperion/http1/h2c_upgrade.hpp"

#include <gtest/gtest.h>

namespace hyperion::http1 {
namespace {

Request upgradeRequest(std::string settings, std::string upgrade = "h2c") {
  Request r;
  r.method = "GET";
  r.target = "/";
  r.upgrade = true;
  r.headers = {{"Host", "x"}, {"Connection", "Upgrade, HTTP2-Settings"}, {"Upgrade", std::move(upgrade)},
               {"HTTP2-Settings", std::move(settings)}};
  return r;
}

TEST(H2cUpgrade, DecodesBase64UrlWithAndWithoutPadding) {
  EXPECT_EQ(decodeBase64Url("AAMAAABkAAQCAAAAAAIAAAAA"), std::string("\0\3\0\0\0d\0\4\2\0\0\0\0\2\0\0\0\0", 18));
  EXPECT_EQ(decodeBase64Url("-_8"), std::string("\xfb\xff", 2));
  EXPECT_EQ(decodeBase64Url("+/8="), std::string("\xfb\xff", 2));
  EXPECT_EQ(decodeBase64Url(""), std::string());
  EXPECT_FALSE(decodeBase64Url("A"));
  EXPECT_FALSE(decodeBase64Url("AB!D"));
}

TEST(H2cUpgrade, TakesOnlyAWellFormedH2cRequest) {
  auto settings = h2cUpgradeSettings(upgradeRequest("AAMAAABkAAQCAAAAAAIAAAAA"));
  ASSERT_TRUE(settings);
  EXPECT_EQ(settings->size(), 18u);
  EXPECT_TRUE(h2cUpgradeSettings(upgradeRequest("", "websocket, h2c")));  // empty SETTINGS is valid
  EXPECT_FALSE(h2cUpgradeSettings(upgradeRequest("AAMAAABkAAQ", "h2c")));  // not whole 6-byte entries
  EXPECT_FALSE(h2cUpgradeSettings(upgradeRequest("AAMAAABk", "websocket")));
  EXPECT_FALSE(h2cUpgradeSettings(upgradeRequest("AAMAAABk", "h2")));  // h2 is TLS only
  Request no_settings = upgradeRequest("AAMAAABk");
  no_settings.headers.pop_back();
  EXPECT_FALSE(h2cUpgradeSettings(no_settings));
  Request old = upgradeRequest("AAMAAABk");
  old.version_minor = 0;
  EXPECT_FALSE(h2cUpgradeSettings(old));
}

TEST(H2cUpgrade, StreamOneSeesNoneOfTheUpgradeFields) {
  Request r = upgradeRequest("AAMAAABk");
  stripUpgradeFields(r);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].name, "Host");
  EXPECT_FALSE(r.upgrade);
}

}  // namespace
}  // namespace hyperion::http1
