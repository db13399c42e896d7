#pragma once
// A certificate chosen by the name a client asks for (SNI), as the settings
// hold it (--tls-sni HOST=CERT,KEY) and as the TLS context uses it.
#include <string>

namespace hyperion::net {

struct SniCertificate {
  std::string host;  // a name or `*.domain` (one label), matched without regard to case
  std::string cert, key;
};

}  // namespace hyperion::net
