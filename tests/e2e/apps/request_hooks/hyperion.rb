# frozen_string_literal: true

# -C for tests/e2e/request_hooks_test.rb: hooks from the config file run in
# every worker, before the app's own.
on_request_start { |env| env['test.config_hook'] = Process.pid }
on_request_end { |env, status| warn "config end hook #{env['PATH_INFO']} #{status} in #{env['test.config_hook']}" }
