#pragma once
// The master: binds (done by the caller), forks workers through Ruby, keeps
// their number up, and turns TERM/INT/QUIT into an orderly stop. It never
// serves a request and never loads the app unless --preload asks it to.
#include <memory>
#include <vector>

#include "hyperion/admin/admin_server.hpp"
#include "hyperion/config/settings.hpp"
#include "hyperion/net/listener.hpp"
#include "hyperion/proc/app_host.hpp"

namespace hyperion::proc {

// Returns the process exit status (0 after a clean stop). `admin`: the
// admin listener (may be null), answered by the master.
int runMaster(const config::Settings& settings, std::vector<net::Listener> listeners, AppHost& host,
              std::unique_ptr<admin::AdminServer> admin);

}  // namespace hyperion::proc
