#include "hyperion/http1/response.hpp"

#include <gtest/gtest.h>

using namespace hyperion::http1;

TEST(ResponsePlan, ArrayBodyGetsContentLength) {
  ResponseInput in;
  in.headers = {{"content-type", "text/plain"}};
  in.body_length = 5;
  auto plan = planResponse(in);
  EXPECT_EQ(plan.framing, BodyFraming::ContentLength);
  EXPECT_NE(plan.head.find("Content-Length: 5\r\n"), std::string::npos);
  EXPECT_EQ(plan.head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_TRUE(plan.keep_alive);
}
