#pragma once
// Entry points of the Ruby glue for main.cpp. Nothing here exposes ruby.h:
// the rest of the server sees Ruby only through proc::AppHost.
#include <memory>
#include <string>

#include "hyperion/config/cli.hpp"
#include "hyperion/proc/app_host.hpp"
#include "hyperion/util/result.hpp"

namespace hyperion::rb {

// Boots the VM in this process. stack_marker must point into main()'s frame
// so the GC scans every frame below it.
Result<bool> bootRuby(int argc, char** argv, void* stack_marker);
std::string rubyDescription();  // RUBY_DESCRIPTION

// Evaluates the config file (the -C one, or config/hyperion.rb when present)
// and fills every setting the command line did not set.
Result<bool> applyConfigFile(config::CliRequest& request);

// The process's Ruby side: app, hooks, Ruby threads, fork. Settings must
// outlive it. pidfile_owner: this process removes the pidfile at exit.
std::unique_ptr<proc::AppHost> makeRubyHost(const config::Settings& settings);

}  // namespace hyperion::rb
