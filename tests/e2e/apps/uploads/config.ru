# frozen_string_literal: true

require 'digest'

# Used by uploads_test.rb: digests rack.input in chunks, rewinds it, digests
# it again, and reports both along with what kind of object held the body.
CHUNK = 64 * 1024

def digest_input(input)
  digest = Digest::SHA256.new
  size = 0
  buffer = +''
  while input.read(CHUNK, buffer)
    digest << buffer
    size += buffer.bytesize
  end
  [digest.hexdigest, size]
end

run lambda { |env|
  input = env['rack.input']
  first, first_size = digest_input(input)
  input.rewind
  second, second_size = digest_input(input)
  fd = input.respond_to?(:fileno) ? input.fileno : nil # StringIO#fileno is nil
  backing = begin
    fd ? File.readlink("/proc/self/fd/#{fd}") : 'memory'
  rescue StandardError => e
    "unknown (#{e.class})"
  end
  lines = [
    "sha256=#{first}",
    "size=#{first_size}",
    "rewound_sha256=#{second}",
    "rewound_size=#{second_size}",
    "input_class=#{input.class}",
    "backing=#{backing}",
    "content_length=#{env['CONTENT_LENGTH']}",
    "transfer_encoding=#{env['HTTP_TRANSFER_ENCODING']}"
  ]
  [200, { 'content-type' => 'text/plain' }, [lines.join("\n") + "\n"]]
}
