# frozen_string_literal: true

# Echoes what TLS changes in the Rack env, and serves bodies big enough to
# cross many TLS records (tests/e2e/tls_test.rb).
require 'digest'
require 'json'

# A to_path body: the server reads the file itself (no sendfile over TLS).
class FileBody
  def initialize(path) = @path = path
  def to_path = @path
  def each = File.open(@path, 'rb') { |f| while (chunk = f.read(65_536)) do yield chunk end }
end

run lambda { |env|
  case env['PATH_INFO']
  when '/env'
    keys = %w[rack.url_scheme HTTPS SERVER_PORT SERVER_NAME SERVER_PROTOCOL rack.hijack? REMOTE_PORT]
    body = JSON.generate(keys.to_h { |k| [k, env[k]] }.merge('hijack' => env.key?('rack.hijack')))
    [200, { 'content-type' => 'application/json' }, [body]]
  when '/upload'
    data = env['rack.input'].read
    [200, { 'content-type' => 'text/plain' }, ["#{data.bytesize} #{Digest::SHA256.hexdigest(data)}"]]
  when '/file'
    path = env['QUERY_STRING'].split('=', 2).last
    [200, { 'content-type' => 'application/octet-stream', 'content-length' => File.size(path).to_s }, FileBody.new(path)]
  when '/pid'
    sleep Float(env['QUERY_STRING'][/sleep=([\d.]+)/, 1] || 0)
    [200, { 'content-type' => 'text/plain' }, [Process.pid.to_s]]
  when '/array'
    [200, { 'content-type' => 'text/plain' }, ['x' * (2 * 1024 * 1024)]]
  when '/stream'
    body = Enumerator.new { |y| 3.times { |i| y << "chunk #{i}\n"; sleep 0.2 } }
    [200, { 'content-type' => 'text/plain' }, body]
  else
    [200, { 'content-type' => 'text/plain' }, ['hello over tls']]
  end
}
