# frozen_string_literal: true

# POST with a 1 KiB body (bench/lua/post_1k.lua): the app reads all of rack.input
# and answers with the number of bytes it read.
run lambda { |env|
  body = env['rack.input'].read
  [200, { 'content-type' => 'text/plain' }, [body.bytesize.to_s]]
}
