# frozen_string_literal: true

# Used by http_protocol_test.rb. Each path shows one piece of HTTP framing.
class EachBody
  def initialize(parts) = @parts = parts

  def each(&block) = @parts.each(&block)
end

run lambda { |env|
  case env['PATH_INFO']
  when '/echo'
    body = env['rack.input'].read
    [200, { 'content-type' => 'text/plain' }, ["size=#{body.bytesize}\n", body]]
  when '/framing'
    body = env['rack.input'].read
    [200, { 'content-type' => 'text/plain' },
     ["content_length=#{env['CONTENT_LENGTH'].inspect} transfer_encoding=#{env['HTTP_TRANSFER_ENCODING'].inspect} " \
      "size=#{body.bytesize} body=#{body}"]]
  when '/head'
    [200, { 'content-type' => 'text/plain', 'x-route' => 'head' }, ['hello world']]
  when '/no-content'
    [204, { 'x-route' => 'no-content' }, []]
  when '/not-modified'
    # A 304 must carry no body even when the app hands one over.
    [304, { 'etag' => '"v1"' }, ['should not be sent']]
  when '/slow'
    sleep 0.3
    [200, { 'content-type' => 'text/plain' }, ['slow done']]
  when '/stream'
    [200, { 'content-type' => 'text/plain' }, EachBody.new(%w[alpha beta gamma])]
  else
    [200, { 'content-type' => 'text/plain' }, ["path=#{env['PATH_INFO']} query=#{env['QUERY_STRING']}"]]
  end
}
