# frozen_string_literal: true

# Used by static_files_test.rb with --preload-static: anything the static
# layer does not answer reaches this app, which says so in its body.
Hyperion::Server.handle_static(:GET, '/prebuilt', "prebuilt\n", content_type: 'text/plain')

run lambda { |env|
  if env['PATH_INFO'] == '/slow'
    sleep 2
    next [200, { 'content-type' => 'text/plain' }, ['slow done']]
  end
  [200, { 'content-type' => 'text/plain' }, ["APP-MARKER #{env['REQUEST_METHOD']} #{env['PATH_INFO']}"]]
}
