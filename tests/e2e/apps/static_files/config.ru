# frozen_string_literal: true

# Used by static_files_test.rb: Rack::Files over $FILES_DIR, whose whole-file
# bodies (to_path) the server sends from its page cache or with sendfile.
require 'rack'

# Rack 2.2's Rack::Files answers If-Modified-Since itself but sets no ETag
# (and Rack::ETag skips to_path bodies), so /etag-files adds a strong ETag
# from size and mtime and lets Rack::ConditionalGet answer If-None-Match.
class FileETag
  def initialize(app, root)
    @app = app
    @root = root
  end

  def call(env)
    status, headers, body = @app.call(env)
    path = File.join(@root, Rack::Utils.unescape_path(env['PATH_INFO']))
    if status == 200 && File.file?(path)
      stat = File.stat(path)
      headers['ETag'] = %("#{stat.size.to_s(16)}-#{stat.mtime.to_i.to_s(16)}")
    end
    [status, headers, body]
  end
end

root = ENV.fetch('FILES_DIR')

map '/files' do
  run Rack::Files.new(root)
end

map '/etag-files' do
  use Rack::ConditionalGet
  use FileETag, root
  run Rack::Files.new(root)
end

# A body that names a file with to_path but sends something else (what a
# middleware that transforms a file body looks like): its headers disagree
# with the file, so the server must iterate it, not send the file.
class TransformedFile
  def initialize(path, text)
    @path = path
    @text = text
  end

  def to_path = @path
  def each = yield(@text)
end

map '/transformed' do
  run lambda { |env|
    text = "not the file\n"
    headers = { 'content-type' => 'text/plain' }
    case env['PATH_INFO']
    when '/length' then headers['content-length'] = text.bytesize.to_s
    when '/encoding' then headers['content-encoding'] = 'identity'
    end
    [200, headers, TransformedFile.new('/etc/passwd', text)]
  }
end

map '/quick' do
  run ->(_env) { [200, { 'content-type' => 'text/plain' }, ['quick']] }
end

map '/slow' do
  run lambda { |_env|
    sleep 2
    [200, { 'content-type' => 'text/plain' }, ['slow done']]
  }
end
