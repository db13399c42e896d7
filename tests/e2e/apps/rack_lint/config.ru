# frozen_string_literal: true

# Every request passes through Rack::Lint (Rack 2.2's SPEC checker) on the way
# in and out: a LintError becomes a 500, so a 200 means the server's env and
# its handling of the body satisfied the SPEC.
require 'rack/lint'
require 'rack/head'

class LintStreamBody
  def each
    3.times { |i| yield "part#{i}-" }
  end

  def close; end
end

lint_app = lambda do |env|
  req_method = env['REQUEST_METHOD']
  case env['PATH_INFO']
  when '/query'
    body = "method=#{req_method} query=#{env['QUERY_STRING']}"
    [200, { 'Content-Type' => 'text/plain', 'Content-Length' => body.bytesize.to_s }, [body]]
  when '/echo'
    input = env['rack.input']
    data = input.read
    input.rewind
    again = input.read
    body = "len=#{data.bytesize} same=#{data == again} enc=#{data.encoding} body=#{data}"
    [200, { 'Content-Type' => 'text/plain' }, [body]]
  when '/gets'
    input = env['rack.input']
    lines = []
    while (line = input.gets)
      lines << line
    end
    [200, { 'Content-Type' => 'text/plain' }, [lines.map(&:inspect).join(',')]]
  when '/stream'
    [200, { 'Content-Type' => 'text/plain' }, LintStreamBody.new]
  when '/violation'
    # A non-String header value: Lint must reject it (proves Lint is active).
    [200, { 'Content-Type' => 'text/plain', 'X-Number' => 1 }, ['x']]
  else
    [404, { 'Content-Type' => 'text/plain' }, ['not found']]
  end
end

use Rack::Lint
use Rack::Head
run lint_app
