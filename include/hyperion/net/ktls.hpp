#pragma once
// Kernel TLS (--tls-ktls auto|on|off): whether this kernel can take over
// record encryption on a socket, so files could go out with sendfile(2)
// under TLS. The probe is what the kernel itself checks: setting the "tls"
// upper-layer protocol on an established loopback TCP socket.
//
// Engaging kTLS on a connection needs the traffic keys handed to the kernel
// after a handshake that here runs through memory BIOs; that step is not
// built yet (no kernel at hand offers the TLS ULP to test it on), so `auto`
// always runs TLS in user space and `on` refuses to start. The boot line
// says which and why.
#include <string>

#include "hyperion/config/settings.hpp"
#include "hyperion/util/result.hpp"

namespace hyperion::net {

// Ok when setsockopt(TCP_ULP, "tls") succeeds; else why not (errno text and
// what it usually means).
Result<bool> probeKernelTls();

// What --tls-ktls decides for a server with TLS listeners: the boot line
// (ok), or the reason the server must not start (error: `on` that cannot
// be honoured).
Result<std::string> decideKernelTls(config::KtlsMode mode);

}  // namespace hyperion::net
