# frozen_string_literal: true

require 'open3'
require 'json'

# node's `ws` (Debian node-ws) as the strict WebSocket client of the e2e
# tests: runs a scenario of support/ws_client.js, returns its JSON result.
module WSHelpers
  CLIENT = File.expand_path('ws_client.js', __dir__)

  def node(scenario, url, **opts)
    opts[:ca] = E2E::TLS.server_certificate[:cert] if url.start_with?('wss:')
    out, err, status = Open3.capture3({ 'NODE_PATH' => '/usr/share/nodejs' }, 'node', CLIENT, scenario, url,
                                      JSON.generate(opts))
    assert status.success?, "ws client failed:\n#{err}"
    result = JSON.parse(out)
    refute result['error'], "ws client: #{result['error']}"
    result
  end

  def ws_url(server, path) = "#{server.tls? ? 'wss' : 'ws'}://127.0.0.1:#{server.port}#{path}"
end
